"""Hand-written PyTorch forward passes of the new-user models of session s27 (nu8), one per
tests/models/more8 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _pick(Z, lab):
    return Z[torch.arange(Z.shape[0]), lab]


# -- Matrix Cookbook identities ---------------------------------------------------------------

def cb_trace_axb(t, s):
    X = t["X"]
    return torch.trace(t["A"] @ X @ t["Bm"]) ** 2 + torch.trace(X.T @ X)


def cb_xtax_nonsym(t, s):
    X = t["X"]
    return torch.trace(X.T @ t["A"] @ X)


def cb_xtax_sym(t, s):
    X = t["X"]; Q = X.T @ t["A"] @ X
    return torch.trace(Q) + (Q * t["C"]).sum()


def cb_logdet_gram(t, s):
    X = t["X"]; G = X.T @ X + t["S"]
    return torch.logdet(G) + 0.1 * torch.trace(G)


def cb_inv_trace(t, s):
    Y = torch.linalg.inv(t["X"])
    return torch.trace(Y @ t["A"]) + (Y ** 2).sum()


def cb_det_product(t, s):
    X = t["X"]
    return torch.det(X) ** 2 + torch.det(X @ t["A"]) + torch.det(X.T)


def cb_frobenius_products(t, s):
    X = t["X"]
    return (t["A"] * (X @ t["Bm"])).sum() + ((X @ X.T) * t["C"]).sum()


def cb_kron_einsum(t, s):
    K = torch.kron(t["A"], t["Bk"])  # (A ⊗ B)[i·P + k, j·Q + l] = A_ij B_kl
    return ((K @ t["v"] - t["y"]) ** 2).sum()


def cb_norm_sq_ridge(t, s):
    r = t["A"] @ t["x"] - t["y"]
    return torch.linalg.norm(r) ** 2 + t["lam"] * torch.linalg.norm(t["x"]) ** 2


def cb_quad_repeat(t, s):
    x, A = t["x"], t["A"]
    return (x @ A @ x) * (x @ x) + x @ A.T @ A @ x


def cb_solve_matrix_rhs(t, s):
    Y, S = t["Y"], t["S"]
    return 0.5 * torch.trace(Y.T @ torch.linalg.solve(S, Y)) + 0.5 * s["K"] * torch.logdet(S)


def cb_xaxb_trace(t, s):
    X = t["X"]
    return torch.trace(X @ t["A"] @ X @ t["Bm"])


def cb_diag_mix(t, s):
    v, A = t["v"], t["A"]
    return torch.trace(torch.diag(v) @ A) * v.sum() + torch.diagonal(A @ A) @ v


def cb_einsum_cyclic(t, s):
    X = t["X"]; tr = torch.trace(t["A"] @ X @ t["Bm"])
    return tr * tr + (X * X).sum()


def cb_inv_of_gram(t, s):
    A = t["A"]; G = A @ A.T + t["S"]
    return torch.trace(torch.linalg.inv(G)) + torch.logdet(G)


# -- sequence models unrolled ------------------------------------------------------------------

def rnn_unroll4(t, s):
    h = torch.tanh(t["x1"] @ t["Wx"] + t["b"])
    for k in ("x2", "x3", "x4"):
        h = torch.tanh(t[k] @ t["Wx"] + h @ t["Wh"] + t["b"])
    return ((h @ t["Wo"] - t["y"]) ** 2).mean()


def rnn_slices_rank3(t, s):
    X, Wx, Wh = t["X"], t["Wx"], t["Wh"]
    h1 = torch.tanh(X[:, 0] @ Wx)
    h2 = torch.tanh(X[:, 1] @ Wx + h1 @ Wh)
    h3 = torch.tanh(X[:, 2] @ Wx + h2 @ Wh)
    return torch.sigmoid(h3 @ t["v"]).sum() + 0.5 * (h2 * h1).sum()


def gru_unroll3(t, s):
    h = t["h0"]
    for k in ("x1", "x2", "x3"):
        x = t[k]
        z = torch.sigmoid(x @ t["Wz"] + h @ t["Uz"])
        r = torch.sigmoid(x @ t["Wr"] + h @ t["Ur"])
        n = torch.tanh(x @ t["Wn"] + (r * h) @ t["Un"])
        h = (1 - z) * n + z * h
    return ((h - t["y"]) ** 2).sum()


def lstm_unroll3(t, s):
    H = s["H"]; c, h = t["c0"], t["h0"]
    for k in ("x1", "x2", "x3"):
        i, f, g, o = (t[k] @ t["W"] + h @ t["U"] + t["b"]).split(H, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    return ((h @ t["Wo"] - t["x3"]) ** 2).sum() + (c * c).sum()


def rnn_seq_ce(t, s):
    E, Wx, Wh, Wo = t["E"], t["Wx"], t["Wh"], t["Wo"]
    h1 = torch.tanh(E[t["t1"]] @ Wx)
    h2 = torch.tanh(E[t["t2"]] @ Wx + h1 @ Wh)
    h3 = torch.tanh(E[t["t3"]] @ Wx + h2 @ Wh)
    c = sum(_pick(F.log_softmax(h @ Wo, -1), t[lab]) for h, lab in
            ((h1, "l1"), (h2, "l2"), (h3, "l3")))
    return -c.mean()


def birnn_concat(t, s):
    x1, x2 = t["x1"], t["x2"]
    f1 = torch.tanh(x1 @ t["Wf"]); f2 = torch.tanh(x2 @ t["Wf"] + f1 @ t["Uf"])
    g2 = torch.tanh(x2 @ t["Wb"]); g1 = torch.tanh(x1 @ t["Wb"] + g2 @ t["Ub"])
    o1 = torch.cat([f1, g1], 1) @ t["V"]; o2 = torch.cat([f2, g2], 1) @ t["V"]
    return ((o1 - x2) ** 2).sum() + ((o2 - x1) ** 2).sum()


# -- mixtures ----------------------------------------------------------------------------------

def gmm_diag_loglik(t, s):
    Z = (t["X"][:, None, :] - t["mu"]) / torch.exp(t["logs"])
    lp = -0.5 * (Z ** 2).sum(2) - t["logs"].sum(1) + F.log_softmax(t["a"], 0)
    return -torch.logsumexp(lp, 1).mean()


def moe_rank3_weight(t, s):
    X = t["X"]; g = torch.softmax(X @ t["Wg"], -1)
    H = torch.stack([torch.tanh(X @ t["We"][e]) for e in range(t["We"].shape[0])], 1)
    out = (g[:, :, None] * H).sum(1)
    return ((out - t["Y"]) ** 2).mean()


def mixture_bernoulli(t, s):
    X = t["X"]; p = torch.sigmoid(t["Z"])
    lp = X @ torch.log(p).T + (1 - X) @ torch.log(1 - p).T + F.log_softmax(t["a"], -1)
    return -torch.logsumexp(lp, 1).sum()


def mixture_lse_axis0_rank3(t, s):
    w = t["w"]; lp = -(t["X"] - t["M"]) ** 2 + w
    return -torch.logsumexp(lp, 0).sum() + (w ** 2).sum()


# -- attention variants ------------------------------------------------------------------------

def mqa_einsum_heads(t, s):
    X = t["X"]; B, T, H, Dh = s["B"], s["T"], s["H"], s["Dh"]
    Q = (X @ t["Wq"]).reshape(B, T, H, Dh); K = X @ t["Wk"]; V = X @ t["Wv"]
    A = torch.softmax(Q.permute(0, 2, 1, 3) @ K[:, None].transpose(-1, -2) / math.sqrt(Dh), -1)
    O = (A @ V[:, None]).permute(0, 2, 1, 3).reshape(B, T, H * Dh)
    return ((O @ t["Wo"]) ** 2).mean()


def gqa_grouped(t, s):
    X = t["X"]; B, T, G, R, Dh = s["B"], s["T"], s["G"], s["R"], s["Dh"]
    Q = (X @ t["Wq"]).reshape(B, T, G, R, Dh).permute(0, 2, 3, 1, 4)  # b g r t d
    K = (X @ t["Wk"]).reshape(B, T, G, Dh).permute(0, 2, 1, 3)[:, :, None]  # b g 1 s d
    V = (X @ t["Wv"]).reshape(B, T, G, Dh).permute(0, 2, 1, 3)[:, :, None]
    O = torch.softmax(Q @ K.transpose(-1, -2), -1) @ V  # b g r t d
    O2 = O.permute(0, 3, 1, 2, 4).reshape(B, T, G * R * Dh)
    return ((O2 - t["y"]) ** 2).sum()


def attn_multiplicative_mask(t, s):
    X = t["X"]
    A = torch.softmax(X @ t["Wq"] @ (X @ t["Wk"]).T, -1) * t["Mk"]
    An = A / A.sum(-1, keepdim=True)
    return ((An @ X) ** 2).sum()


def rel_pos_bias_heads(t, s):
    P = t["P"]
    O = torch.softmax(t["Q"] @ t["K"].transpose(-1, -2) + P, -1) @ t["V"]
    return (O * O).sum() + 0.1 * (P ** 2).sum()


def alibi_slope(t, s):
    X = t["X"]; Dist = t["Dist"]
    S = (X @ t["Wq"]) @ (X @ t["Wk"]).T / math.sqrt(s["D"]) - t["m"] * Dist
    return -(F.log_softmax(S, -1) * torch.softmax(Dist, -1)).sum()


def slot_attention_axis1(t, s):
    Sl, X = t["Sl"], t["X"]
    A = torch.softmax(Sl @ X.transpose(1, 2), 1)
    W = A / A.sum(2, keepdim=True)
    return ((W @ (X @ t["Wv"]) - Sl) ** 2).sum()


def cross_attn_kv_tied(t, s):
    X = t["X"]; KV = t["Y"] @ t["Wkv"]
    O = torch.softmax((X @ t["Wq"]) @ KV.T, -1) @ KV
    return ((O + X) ** 2).sum()


def linear_attention_elu(t, s):
    pq, pk = F.elu(t["Q"]) + 1, F.elu(t["K"]) + 1
    O = (pq @ (pk.T @ t["V"])) / (pq @ pk.sum(0))[:, None]
    return (O ** 2).sum()


def attn_learned_temp(t, s):
    H, tau = t["H"], t["tau"]
    a = torch.softmax(H @ t["q"] / tau, 1)
    return ((a[:, :, None] * H).sum(1) ** 2).sum() + tau ** 2


# -- losses over integer labels ----------------------------------------------------------------

def next_token_tied(t, s):
    E = t["E"]; H = torch.tanh(E[t["tok"]] @ t["W"])
    Z = H[: s["T"] - 1] @ E.T
    return -_pick(F.log_softmax(Z, -1), t["lab"]).mean()


def masked_token_ce(t, s):
    m = t["m"]
    return -(m * _pick(F.log_softmax(t["X"] @ t["W"], -1), t["lab"])).sum() / m.sum()


def ce_rank3_flatten(t, s):
    Z = (t["X"] @ t["W"]).reshape(-1, s["C"])
    return F.cross_entropy(Z, t["lab"])


def cosface_margin(t, s):
    X, W = t["X"], t["W"]
    Z = 8 * ((X / X.norm(dim=1, keepdim=True)) @ (W / W.norm(dim=0, keepdim=True)))
    return -(_pick(Z, t["lab"]) - 2 - torch.logsumexp(Z, 1)).mean()


def ordinal_thresholds(t, s):
    P = torch.sigmoid((t["X"] @ t["w"])[:, None] - t["t"]); Y = t["Y"]
    return -(Y * torch.log(P) + (1 - Y) * torch.log(1 - P)).mean()


def reinforce_baseline(t, s):
    X = t["X"]; lp = _pick(F.log_softmax(X @ t["W"], -1), t["act"])
    adv = t["R"] - X @ t["v"]
    return -(adv * lp).mean() + (adv ** 2).mean()


# -- normalisations, gates, residual blocks ----------------------------------------------------

def rmsnorm_two_axes(t, s):
    X = t["X"]; r = torch.sqrt((X ** 2).mean((1, 2), keepdim=True) + 1e-5)
    return (X / r * t["g"] * t["Y"]).sum()


def norm_over_batch_axis0(t, s):
    X = t["X"]; mu = X.mean(0, keepdim=True)
    sd = torch.sqrt(((X - mu) ** 2).mean(0, keepdim=True) + 1e-3)
    return (((X - mu) / sd @ t["w"] - t["y"]) ** 2).mean()


def conv1d_glu_channels(t, s):
    return (F.glu(F.conv1d(t["X"], t["W"], t["b"]), 1) ** 2).mean()


def postnorm_residual_rank3(t, s):
    X = t["X"]; R = X + F.relu(X @ t["W1"]) @ t["W2"]
    N = F.layer_norm(R, (s["D"],), eps=1e-5) * t["g"]
    return (N * t["Y"]).sum()


def sample_gate_residual(t, s):
    X = t["X"]; g = torch.sigmoid(X @ t["wg"] + t["bg"])
    return ((X + g * torch.tanh(X @ t["W"])) ** 2).sum() / s["B"]


def mlp_mixer_block(t, s):
    X = t["X"]; U = X + F.gelu(X.transpose(1, 2) @ t["Wt"]).transpose(1, 2)
    return ((U + F.gelu(U @ t["Wc"])) ** 2).mean()


def tied_autoenc_rank3(t, s):
    X, W = t["X"], t["W"]
    return ((F.relu(X @ W + t["c"]) @ W.T - X) ** 2).mean()


def swiglu_rmsnorm_rank3(t, s):
    X = t["X"]; N = X / torch.sqrt((X ** 2).mean(-1, keepdim=True) + 1e-6) * t["g"]
    return ((X + (F.silu(N @ t["W1"]) * (N @ t["W3"])) @ t["W2"]) ** 2).sum()


# -- broadcasting, repeated inputs -------------------------------------------------------------

def bcast_mixed_rank3(t, s):
    H = torch.tanh(t["X"] * t["g"] + t["b"] - t["c"] * t["s"])
    return ((H.sum(1) @ t["W"]) ** 2).sum() + t["s"] * t["c"].sum()


def bcast_rank4_bias(t, s):
    a = t["a"]
    return (torch.softmax(t["S"] * a + t["P"], -1) * t["Y"]).sum() + (a ** 2).sum()


def self_attn_no_weights(t, s):
    X = t["X"]
    return ((torch.softmax(X @ X.transpose(1, 2), -1) @ X) ** 2).sum()


def x_twice_einsum(t, s):
    x = t["x"]
    return x @ t["A"] @ x + (x @ x) ** 2


# -- losses -------------------------------------------------------------------------------------

def focal_alpha_where(t, s):
    p = torch.sigmoid(t["X"] @ t["w"]); pos = t["y"] > 1
    pt = torch.where(pos, p, 1 - p); at = torch.where(pos, 0.25, 0.75)
    return -(at * (1 - pt) ** 2 * torch.log(pt)).mean()


def huber_rank3_delta(t, s):
    r = (t["X"] @ t["W"] - t["Y"]).abs(); d = t["delta"]
    return torch.where(r < d, 0.5 * r ** 2, d * (r - 0.5 * d)).mean()


def infonce_both_axes(t, s):
    S = t["A"] @ t["Bz"].T / 0.5; d = torch.diagonal(S)
    return (torch.logsumexp(S, 1) - d).mean() + (torch.logsumexp(S, 0) - d).mean()


def kl_softmax_axis0(t, s):
    A = t["A"]
    return (torch.softmax(A, 0) * (F.log_softmax(A, 0) - F.log_softmax(t["Bq"], 0))).sum()


def triplet_norm_axis(t, s):
    W = t["W"]; ea = t["Xa"] @ W
    dp = (ea - t["Xp"] @ W).norm(dim=1); dn = (ea - t["Xn"] @ W).norm(dim=1)
    return torch.clamp(dp - dn + 1, min=0).mean()


def _standardise(Z):
    c = Z - Z.mean(0)
    return c / torch.sqrt((c ** 2).mean(0) + 1e-4)


def barlow_twins(t, s):
    C = _standardise(t["Za"]).T @ _standardise(t["Zb"]) / s["N"]; c = torch.diagonal(C)
    return ((c - 1) ** 2).sum() + 0.01 * ((C ** 2).sum() - (c ** 2).sum())


def vicreg_var_cov(t, s):
    Z = t["Z"]; n = s["N"]; Zc = Z - Z.mean(0)
    sd = torch.sqrt((Zc ** 2).sum(0) / (n - 1) + 1e-4)
    C = Zc.T @ Zc / (n - 1)
    return F.relu(1 - sd).mean() + ((C ** 2).sum() - (torch.diagonal(C) ** 2).sum()) / s["D"]


def odd_names_seq(t, s):
    x = t["x_seq"]
    h2 = torch.tanh(x @ t["W2b"] + t["hidden_state_1"]) @ t["W_out_proj_2"]
    return ((h2 - x) ** 2).sum() + t["lambda_"] * (t["W2b"] ** 2).sum()


# -- convolutions ------------------------------------------------------------------------------

def conv2d_flatten_head(t, s):
    Fl = F.relu(F.conv2d(t["X"], t["Wc"])).reshape(s["B"], -1)
    return F.cross_entropy(Fl @ t["V"], t["lab"])


def textcnn_maxpool(t, s):
    m = torch.tanh(F.conv1d(t["X"], t["W"], t["b"])).amax(2)
    return ((m @ t["V"] - t["y"]) ** 2).sum()


def spatial_softmax_coords(t, s):
    Y = F.conv2d(t["X"], t["Wc"])
    A = torch.softmax(Y.reshape(s["B"], s["O"], -1), -1)
    return ((A @ t["xy"]) ** 2).sum()


def gated_tanh_wavenet(t, s):
    X = t["X"]
    Z = torch.tanh(F.conv1d(X, t["Wf"])) * torch.sigmoid(F.conv1d(X, t["Wg"]))
    return ((F.conv1d(Z, t["R"]) + X[:, :, s["K"] - 1:]) ** 2).sum()


FORWARDS = {f.__name__: f for f in (
    cb_trace_axb, cb_xtax_nonsym, cb_xtax_sym, cb_logdet_gram, cb_inv_trace, cb_det_product,
    cb_frobenius_products, cb_kron_einsum, cb_norm_sq_ridge, cb_quad_repeat,
    cb_solve_matrix_rhs, cb_xaxb_trace, cb_diag_mix, cb_einsum_cyclic, cb_inv_of_gram,
    rnn_unroll4, rnn_slices_rank3, gru_unroll3, lstm_unroll3, rnn_seq_ce, birnn_concat,
    gmm_diag_loglik, moe_rank3_weight, mixture_bernoulli, mixture_lse_axis0_rank3,
    mqa_einsum_heads, gqa_grouped, attn_multiplicative_mask, rel_pos_bias_heads, alibi_slope,
    slot_attention_axis1, cross_attn_kv_tied, linear_attention_elu, attn_learned_temp,
    next_token_tied, masked_token_ce, ce_rank3_flatten, cosface_margin, ordinal_thresholds,
    reinforce_baseline, rmsnorm_two_axes, norm_over_batch_axis0, conv1d_glu_channels,
    postnorm_residual_rank3, sample_gate_residual, mlp_mixer_block, tied_autoenc_rank3,
    swiglu_rmsnorm_rank3, bcast_mixed_rank3, bcast_rank4_bias, self_attn_no_weights,
    x_twice_einsum, focal_alpha_where, huber_rank3_delta, infonce_both_axes, kl_softmax_axis0,
    triplet_norm_axis, barlow_twins, vicreg_var_cov, odd_names_seq, conv2d_flatten_head,
    textcnn_maxpool, spatial_softmax_coords, gated_tanh_wavenet,
)}

# second sizes where distinct primes would not fit (defined dims, convolution lengths, a
# slice's bound: a dim no input carries keeps the spec's size, the code cannot know it);
# several put a dim at 1, as `--dims B=1` does
ALT = {'cb_kron_einsum': {'N': 3, 'P': 2, 'M': 1, 'Q': 3},
       'lstm_unroll3': {'B': 1, 'D': 5, 'H': 3},
       'birnn_concat': {'B': 3, 'D': 2, 'H': 1},
       'mqa_einsum_heads': {'B': 1, 'T': 5, 'Dh': 3},
       'gqa_grouped': {'B': 3, 'T': 1},
       'next_token_tied': {'T': 7, 'V': 5, 'D': 2},
       'ce_rank3_flatten': {'B': 3, 'T': 1, 'C': 5, 'D': 2},
       'conv1d_glu_channels': {'B': 1, 'C': 3, 'T': 7, 'K': 2},
       'conv2d_flatten_head': {'B': 3, 'C': 2, 'H': 5, 'W_': 3, 'KH': 3, 'KW': 1, 'O': 1, 'K': 2},
       'textcnn_maxpool': {'B': 3, 'C': 1, 'T': 7, 'K': 3, 'O': 2, 'N': 5},
       'spatial_softmax_coords': {'B': 1, 'C': 2, 'H': 4, 'W_': 3, 'KH': 1, 'KW': 2, 'O': 3},
       'gated_tanh_wavenet': {'B': 3, 'C': 1, 'T': 6, 'K': 3},
       'rnn_unroll4': {'B': 1, 'D': 2, 'H': 3, 'O': 1},
       'moe_rank3_weight': {'B': 5, 'D': 2, 'E': 3, 'O': 1},
       'mixture_lse_axis0_rank3': {'K': 1, 'N': 3, 'D': 2},
       'rel_pos_bias_heads': {'B': 1, 'H': 3, 'T': 2, 'Dh': 1},
       'bcast_rank4_bias': {'B': 3, 'H': 1, 'T': 2},
       'slot_attention_axis1': {'B': 1, 'K': 2, 'N': 3, 'D': 5},
       'sample_gate_residual': {'B': 1, 'D': 3}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['cb_trace_axb', 'cb_xtax_nonsym', 'cb_logdet_gram', 'cb_inv_trace', 'cb_quad_repeat',
       'cb_xaxb_trace', 'cb_solve_matrix_rhs', 'rnn_unroll4', 'gru_unroll3', 'lstm_unroll3',
       'gmm_diag_loglik', 'moe_rank3_weight', 'mixture_bernoulli', 'mqa_einsum_heads',
       'attn_learned_temp', 'cosface_margin', 'rmsnorm_two_axes', 'postnorm_residual_rank3',
       'mlp_mixer_block', 'swiglu_rmsnorm_rank3', 'bcast_mixed_rank3', 'self_attn_no_weights',
       'infonce_both_axes', 'kl_softmax_axis0', 'barlow_twins', 'linear_attention_elu',
       'slot_attention_axis1', 'rel_pos_bias_heads', 'conv1d_glu_channels', 'x_twice_einsum']
