"""Hand-written PyTorch forward passes of the new-user models of session s28 (nu9), one per
tests/models/more9 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _pick(Z, lab):
    return Z[torch.arange(Z.shape[0]), lab]


def _rms(X, eps=1e-6):
    return X / torch.sqrt((X ** 2).mean(-1, keepdim=True) + eps)


def _ln(X, eps=1e-5):
    M = X - X.mean(-1, keepdim=True)
    return M / torch.sqrt((M ** 2).mean(-1, keepdim=True) + eps)


def _unit(X):
    return X / torch.linalg.norm(X, dim=1, keepdim=True)


# -- blocks of recent architectures -----------------------------------------------------------

def swiglu_bias_mlp(t, s):
    X = t["X"]
    H = F.silu(X @ t["W1"] + t["b1"]) * (X @ t["W3"] + t["b3"])
    return ((H @ t["W2"] + t["b2"] - t["Y"]) ** 2).mean()


def geglu_tanh_approx(t, s):
    X = t["X"]; A = X @ t["Wg"]
    G = 0.5 * A * (1 + torch.tanh(0.7978845608 * (A + 0.044715 * A ** 3)))
    return (((G * (X @ t["Wu"])) @ t["Wo"]) ** 2).sum() / s["N"]


def rmsnorm_by_norm(t, s):
    X = t["X"]
    Nx = X / torch.linalg.norm(X, dim=-1, keepdim=True) * math.sqrt(s["D"]) * t["g"]
    return ((Nx @ t["W"]) ** 2).sum()


def scalenorm_scalar_gain(t, s):
    U = t["g"] * _unit(t["X"])
    return ((U @ t["W"] - t["y"]) ** 2).mean()


def layernorm_ce_head(t, s):
    Z = _ln(t["X"]) @ t["W"] + t["b"]
    return -_pick(torch.log_softmax(Z, -1), t["lab"]).mean()


def attn_additive_mask_input(t, s):
    X = t["X"]
    S = (X @ t["Wq"]) @ (X @ t["Wk"]).T / math.sqrt(s["D"]) + t["Mask"]
    return ((torch.softmax(S, -1) @ (X @ t["Wv"]) - t["Y"]) ** 2).sum()


def attn_key_padding_where(t, s):
    S = t["Q"] @ t["K"].transpose(1, 2)
    S = torch.where(t["keep"] > 1, S, torch.tensor(-10000.0, dtype=S.dtype))
    return ((torch.softmax(S, -1) @ t["V"]) ** 2).sum()


def mqa_head_axis(t, s):
    X = t["X"]; T, H, Dh = s["T"], s["H"], s["Dh"]
    Q = (X @ t["Wq"]).reshape(T, H, Dh).permute(1, 0, 2)
    K, V = X @ t["Wk"], X @ t["Wv"]
    A = torch.softmax(Q @ K.T / math.sqrt(Dh), -1)
    O = (A @ V).permute(1, 0, 2).reshape(T, H * Dh)
    return ((O @ t["Wo"]) ** 2).sum()


def qk_norm_attention(t, s):
    X = t["X"]
    Qn, Kn = _rms(X @ t["Wq"]), _rms(X @ t["Wk"])
    return ((torch.softmax(Qn @ Kn.T / t["tau"], -1) @ (X @ t["Wv"])) ** 2).sum()


def moe_softmax_gate_einsum(t, s):
    X = t["X"]
    G = torch.softmax(X @ t["Wg"], -1)
    H = torch.einsum("nd,edo->neo", X, t["We"])
    return ((torch.einsum("ne,neo->no", G, H) - t["Y"]) ** 2).mean()


def moe_two_experts_sigmoid(t, s):
    X = t["X"]; g = torch.sigmoid(X @ t["wg"])[:, None]
    P = g * torch.tanh(X @ t["W1"]) + (1 - g) * torch.tanh(X @ t["W2"])
    return ((P - t["Y"]) ** 2).sum()


def moe_load_balance_aux(t, s):
    X = t["X"]; P = torch.softmax(X @ t["Wg"], 1)
    f = (P * (X @ t["We"])).sum(1)
    m = P.mean(0)
    return ((f - t["y"]) ** 2).mean() + 0.01 * s["E"] * (m * m).sum()


def infonce_temperature_labels(t, s):
    S = _unit(t["Zq"]) @ _unit(t["Zk"]).T / 0.1
    return F.cross_entropy(S, t["lab"])


def clip_logit_scale_diag(t, s):
    A, B = _unit(t["I"] @ t["Wi"]), _unit(t["T"] @ t["Wt"])
    S = torch.exp(t["s"]) * A @ B.T
    lab = torch.arange(s["N"])
    return (F.cross_entropy(S, lab) + F.cross_entropy(S.T, lab)) / 2


def triplet_relu_linear(t, s):
    W = t["W"]; a = t["Xa"] @ W
    dp = ((a - t["Xp"] @ W) ** 2).sum(1)
    dn = ((a - t["Xn"] @ W) ** 2).sum(1)
    return torch.relu(dp - dn + 0.5).mean()


def contrastive_margin_pairs(t, s):
    W = t["W"]
    d = torch.linalg.norm(t["X1"] @ W - t["X2"] @ W, dim=1)
    sim = t["y"] - 0.5
    return (sim * d ** 2 + (1 - sim) * torch.relu(2 - d) ** 2).mean()


def focal_log_softmax_pick(t, s):
    lp = _pick(torch.log_softmax(t["X"] @ t["W"], -1), t["lab"])
    return -((1 - lp.exp()) ** 2 * lp).mean()


def soft_target_ce(t, s):
    T = 0.9 * t["Yh"] + 0.1 / s["C"]
    return F.cross_entropy(t["X"] @ t["W"], T, reduction="sum") / s["N"]


def jeffreys_kl_rank3(t, s):
    lp, lq = torch.log_softmax(t["Zp"], -1), torch.log_softmax(t["Zq"], -1)
    return ((lp.exp() - lq.exp()) * (lp - lq)).sum() / (s["B"] * s["T"])


def vae_bernoulli_elbo(t, s):
    X = t["X"]
    mu, lv = X @ t["We"], X @ t["Wl"]
    z = mu + torch.exp(0.5 * lv) * t["eps"]
    R = z @ t["Wd"] + t["bd"]
    rec = F.binary_cross_entropy_with_logits(R, X, reduction="sum")  # softplus(R) − X R
    kl = -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum()
    return (rec + kl) / s["N"]


def gaussian_nll_two_heads(t, s):
    Hd = torch.tanh(t["X"] @ t["W"])
    m, v = Hd @ t["wm"], torch.exp(Hd @ t["wv"])
    return F.gaussian_nll_loss(m, t["y"], v, full=False, eps=0.0)


def smooth_l1_beta(t, s):
    return F.smooth_l1_loss(t["X"] @ t["W"], t["Y"], beta=0.5)


def weight_decay_mlp(t, s):
    p = F.gelu(t["X"] @ t["W1"] + t["b1"]) @ t["w2"]
    return ((p - t["y"]) ** 2).mean() + t["lam"] * ((t["W1"] ** 2).sum() + (t["w2"] ** 2).sum())


def lora_linear(t, s):
    W = t["W"] + 8 / s["R"] * t["A"] @ t["Bm"]
    return ((t["X"] @ W - t["Y"]) ** 2).mean()


def lora_query_attention(t, s):
    X = t["X"]
    Q = X @ t["Wq"] + (X @ t["A"]) @ t["Bm"]
    return ((torch.softmax(Q @ (X @ t["Wk"]).T, -1) @ X) ** 2).sum()


# -- convolution and pooling ------------------------------------------------------------------

def _depthwise(X, ws):
    C, K = ws.shape
    return F.conv1d(X, ws.reshape(C, 1, K), groups=C)


def depthwise_conv1d_slices(t, s):
    Y = _depthwise(t["X"], torch.cat([t["w0"], t["w1"], t["w2"]], 1))
    return (torch.tanh(Y) ** 2).sum()


def pointwise_conv2d(t, s):
    Y = F.conv2d(t["X"], t["Wc"], t["bc"])
    return ((torch.relu(Y).mean((2, 3)) - t["y"]) ** 2).sum()


def depthwise_separable(t, s):
    D = _depthwise(t["X"], torch.cat([t["d0"], t["d1"]], 1))
    return (F.conv1d(torch.relu(D), t["Wp"], t["bp"]) ** 2).mean()


def avg_pool_reshape(t, s):
    X = t["X"]  # [B, T, D] pooled over windows of S tokens: avg_pool1d on [B, D, T]
    Xp = F.avg_pool1d(X.transpose(1, 2), s["S"]).transpose(1, 2)
    return ((Xp @ t["W"] - t["Y"]) ** 2).sum()


def concat_max_avg_pool(t, s):
    Hs = torch.tanh(t["X"])
    Fe = torch.cat([Hs.mean(1), Hs.amax(1)], 1)
    return F.cross_entropy(Fe @ t["W"], t["lab"])


def tcn_channel_norm(t, s):
    Y = F.conv1d(t["X"], t["W"], t["b"])
    Yn = Y / torch.sqrt((Y ** 2).mean(1, keepdim=True) + 1e-5)
    return ((torch.relu(Yn) + t["X"][:, :, 1:]) ** 2).sum()


# -- recurrent cells --------------------------------------------------------------------------

def min_gru_two_steps(t, s):
    h = t["h0"]
    for x in (t["x1"], t["x2"]):
        z = torch.sigmoid(x @ t["Wz"])
        h = (1 - z) * h + z * (x @ t["Wh"])
    return ((h - t["y"]) ** 2).sum()


def lstm_peephole(t, s):
    x, h, c = t["x"], t["h"], t["c"]
    i = torch.sigmoid(x @ t["Wi"] + h @ t["Ui"] + c * t["pi_"])
    f = torch.sigmoid(x @ t["Wf"] + h @ t["Uf"] + c * t["pf"])
    c2 = f * c + i * torch.tanh(x @ t["Wc"] + h @ t["Uc"])
    o = torch.sigmoid(x @ t["Wo"] + h @ t["Uo"] + c2 * t["po"])
    return ((o * torch.tanh(c2)) ** 2).sum()


def lstm_cifg(t, s):
    x1, x2 = t["x1"], t["x2"]
    c1 = torch.sigmoid(x1 @ t["Wi"]) * torch.tanh(x1 @ t["Wc"])
    h1 = torch.sigmoid(x1 @ t["Wo"]) * torch.tanh(c1)
    i2 = torch.sigmoid(x2 @ t["Wi"] + h1 @ t["Ui"])
    c2 = (1 - i2) * c1 + i2 * torch.tanh(x2 @ t["Wc"] + h1 @ t["Uc"])
    return (torch.sigmoid(x2 @ t["Wo"] + h1 @ t["Uo"]) * torch.tanh(c2)).mean()


def gru_reset_after(t, s):
    x, h = t["x"], t["h"]
    z = torch.sigmoid(x @ t["Wz"] + h @ t["Uz"])
    r = torch.sigmoid(x @ t["Wr"] + h @ t["Ur"])
    n = torch.tanh(x @ t["Wn"] + r * (h @ t["Un"] + t["bn"]))
    return (((1 - z) * n + z * h) ** 3).sum()


# -- residual stacks --------------------------------------------------------------------------

def prenorm_residual_stack3(t, s):
    H = t["X"]
    for a, b in (("A1", "B1"), ("A2", "B2"), ("A3", "B3")):
        H = H + torch.relu(_rms(H) * t["g"] @ t[a]) @ t[b]
    return (H ** 2).sum()


def layerscale_residual(t, s):
    X = t["X"]
    return ((X + t["gam"] * (F.gelu(X @ t["W1"]) @ t["W2"])) ** 2).mean()


def rezero_scalar(t, s):
    X = t["X"]
    H = X + t["a1"] * torch.tanh(X @ t["W1"])
    return ((H + t["a2"] * torch.tanh(H @ t["W2"])) ** 2).sum()


def parallel_attn_mlp(t, s):
    X = t["X"]; N = _ln(X)
    A = torch.softmax((N @ t["Wq"]) @ (N @ t["Wk"]).T / math.sqrt(s["D"]), 1) @ (N @ t["Wv"])
    return ((X + A + torch.relu(N @ t["W1"]) @ t["W2"]) ** 2).sum()


def dropout_mask_mlp(t, s):
    Hd = torch.relu(t["X"] @ t["W1"]) * t["M"] / 0.8
    return ((Hd @ t["W2"] - t["y"]) ** 2).mean()


def deepnorm_post(t, s):
    H = t["X"]
    for w in ("W1", "W2"):
        H = _ln(2 * H + torch.tanh(H @ t[w]))
    return H[:, 0].sum()


# -- factorisations, PCA, whitening -----------------------------------------------------------

def mf_masked_ridge(t, s):
    P, Q = t["P"], t["Q"]
    E = t["M"] * (t["R"] - P @ Q.T)
    return (E ** 2).sum() + 0.1 * ((P ** 2).sum() + (Q ** 2).sum())


def mf_biased(t, s):
    S = torch.sigmoid(t["P"] @ t["Q"].T + t["bu"] + t["bi"])
    return ((S - t["R"]) ** 2).mean()


def nmf_kl_divergence(t, s):
    V, WH = t["V"], t["W"] @ t["H"]
    return (V * torch.log(V / WH) - V + WH).sum()


def pca_trace_orth(t, s):
    W = t["W"]
    return -torch.trace(W.T @ t["C"] @ W) + ((W.T @ W - t["I"]) ** 2).sum()


def whitening_objective(t, s):
    W = t["W"]
    return ((W @ t["C"] @ W.T - t["I"]) ** 2).sum()


def pca_recon_centred(t, s):
    X = t["X"]; Xc = X - X.mean(0, keepdim=True)
    return ((Xc - Xc @ t["E"] @ t["Dm"]) ** 2).sum() / s["N"]


# -- Matrix Cookbook identities ---------------------------------------------------------------

def cb_trace_a_xinv_b(t, s):
    return torch.trace(t["A"] @ torch.linalg.inv(t["X"]) @ t["Bm"])


cb_trace_a_xinv_b_split = cb_trace_a_xinv_b


def cb_a_xinv_b_quad(t, s):
    return t["a"] @ torch.linalg.solve(t["X"], t["b"])


def cb_logdet_inv(t, s):
    Y = torch.linalg.inv(t["X"])
    return torch.logdet(Y) + torch.trace(Y)


def cb_trace_gram_squared(t, s):
    G = t["X"].T @ t["X"]
    return torch.trace(G @ G)


def cb_frob_axb_minus_c(t, s):
    return ((t["A"] @ t["X"] @ t["Bm"] - t["C"]) ** 2).sum()


def cb_trace_xaxt(t, s):
    X = t["X"]
    return torch.trace(X @ t["A"] @ X.T) + torch.trace(X @ X.T)


cb_trace_xaxt_split = cb_trace_xaxt


def cb_det_xtax(t, s):
    X, A = t["X"], t["A"]; G = X.T @ A @ X
    return torch.det(G) + torch.logdet(G + A)


def cb_bt_xt_x_c(t, s):
    X = t["X"]
    return t["b"] @ X.T @ X @ t["c"]


def cb_xb_plus_c_quad(t, s):
    r = t["X"] @ t["b"] + t["c"]
    return r @ t["D"] @ r


def cb_inv_sandwich(t, s):
    v = torch.linalg.solve(t["X"] + t["S"], t["a"])
    return v @ v


# -- losses -----------------------------------------------------------------------------------

def hinge_svm_l2(t, s):
    m = t["y"] * (t["X"] @ t["w"] + t["b"])
    return torch.relu(1 - m).mean() + 0.05 * (t["w"] ** 2).sum()


def squared_hinge_multi(t, s):
    S, Yh = t["X"] @ t["W"], t["Yh"]
    sy = (S * Yh).sum(1, keepdim=True)
    return ((1 - Yh) * torch.relu(1 + S - sy) ** 2).sum() / s["N"]


def poisson_glm_log_link(t, s):
    eta = t["X"] @ t["w"] + t["logt"]
    return (torch.exp(eta) - t["y"] * eta).sum()


def quantile_pinball(t, s):
    E = t["y"] - t["X"] @ t["W"]
    q = t["q"]
    return torch.maximum(q * E, (q - 1) * E).mean()


def cosine_embedding_loss(t, s):
    target = torch.where(t["s"] > 1, 1, -1)
    return F.cosine_embedding_loss(t["X1"], t["X2"], target, margin=0.2)


def masked_mse_normalised(t, s):
    M = t["M"]
    return (M * (t["P"] - t["Y"]) ** 2).sum() / M.sum()


def z_loss_ce(t, s):
    Z = t["X"] @ t["W"]
    return F.cross_entropy(Z, t["lab"]) + 1e-4 * (torch.logsumexp(Z, -1) ** 2).mean()


def relu_squared_ffn(t, s):
    X = t["X"]
    return ((X + torch.relu(X @ t["W1"]) ** 2 @ t["W2"]) ** 2).sum()


def mixup_two_labels(t, s):
    lam = t["lam"]
    Z = (lam * t["X1"] + (1 - lam) * t["X2"]) @ t["W"]
    return lam * F.cross_entropy(Z, t["ya"]) + (1 - lam) * F.cross_entropy(Z, t["yb"])


def entropy_bonus_policy(t, s):
    lp = torch.log_softmax(t["X"] @ t["W"], 1)
    H = -(lp.exp() * lp).sum(1)
    return -(t["adv"] * _pick(lp, t["act"])).mean() - 0.01 * H.mean()


def batchnorm_eval_stats(t, s):
    Xn = (t["X"] - t["mu"]) / torch.sqrt(t["var"] + 1e-5) * t["g"] + t["b"]
    return ((Xn @ t["W"]) ** 2).sum()


def weight_norm_linear(t, s):
    V = t["V"]
    W = t["g"] * V / torch.linalg.norm(V, dim=0, keepdim=True)
    return ((t["X"] @ W - t["y"]) ** 2).mean()


# -- whole models (added after the first pass) --------------------------------------------------

def prenorm_transformer_block(t, s):
    X = t["X"]; B, T, H, Dh = s["B"], s["T"], s["H"], s["Dh"]
    N1 = _rms(X) * t["g1"]

    def heads(Z):
        return Z.reshape(B, T, H, Dh).transpose(1, 2)
    Q, K, V = heads(N1 @ t["Wq"]), heads(N1 @ t["Wk"]), heads(N1 @ t["Wv"])
    A = torch.softmax(Q @ K.transpose(-1, -2) / math.sqrt(Dh) + t["M"], -1)
    X2 = X + (A @ V).transpose(1, 2).reshape(B, T, H * Dh) @ t["Wo"]
    N2 = _rms(X2) * t["g2"]
    U = N2 @ t["W1"]
    return ((X2 + (F.silu(U) * U) @ t["W2"]) ** 2).mean()


def gat_attention(t, s):
    H = t["X"] @ t["W"]
    E = F.leaky_relu((H @ t["a1"])[:, None] + H @ t["a2"], 0.2)
    A = torch.softmax(torch.where(t["Adj"] > 0, E, torch.tensor(-10000.0, dtype=E.dtype)), 1)
    return (F.elu(A @ H) ** 2).sum()


def gcn_two_layer(t, s):
    Ah = t["Ahat"]
    H1 = torch.relu(Ah @ t["X"] @ t["W1"])
    return F.cross_entropy(Ah @ H1 @ t["W2"], t["lab"])


def vq_soft_assign(t, s):
    Z, E = t["Z"], t["E"]
    Dist = torch.cdist(Z, E) ** 2
    W = torch.softmax(-Dist, 1)
    return ((W @ E - Z) ** 2).sum() + 0.25 * (Dist * W).sum()


def nerf_posenc(t, s):
    x = t["x"]
    P = torch.cat([torch.sin(3.0 * x), torch.cos(3.0 * x)], 1)
    return ((torch.relu(P @ t["W1"]) @ t["w2"] - t["y"]) ** 2).mean()


def lstm_gates_one_product(t, s):
    G = t["x"] @ t["W"] + t["h"] @ t["U"] + t["b"]
    i, f, g, o = G.chunk(4, dim=1)  # PyTorch's order of the gates
    c2 = torch.sigmoid(f) * t["c"] + torch.sigmoid(i) * torch.tanh(g)
    h2 = torch.sigmoid(o) * torch.tanh(c2)
    return (h2 ** 2).sum() + c2.sum()


FORWARDS = {f.__name__: f for f in (
    swiglu_bias_mlp, geglu_tanh_approx, rmsnorm_by_norm, scalenorm_scalar_gain,
    layernorm_ce_head, attn_additive_mask_input, attn_key_padding_where, mqa_head_axis,
    qk_norm_attention, moe_softmax_gate_einsum, moe_two_experts_sigmoid, moe_load_balance_aux,
    infonce_temperature_labels, clip_logit_scale_diag, triplet_relu_linear,
    contrastive_margin_pairs, focal_log_softmax_pick, soft_target_ce, jeffreys_kl_rank3,
    vae_bernoulli_elbo, gaussian_nll_two_heads, smooth_l1_beta, weight_decay_mlp, lora_linear,
    lora_query_attention, depthwise_conv1d_slices, pointwise_conv2d, depthwise_separable,
    avg_pool_reshape, concat_max_avg_pool, tcn_channel_norm, min_gru_two_steps, lstm_peephole,
    lstm_cifg, gru_reset_after, prenorm_residual_stack3, layerscale_residual, rezero_scalar,
    parallel_attn_mlp, dropout_mask_mlp, deepnorm_post, mf_masked_ridge, mf_biased,
    nmf_kl_divergence, pca_trace_orth, whitening_objective, pca_recon_centred,
    cb_trace_a_xinv_b, cb_a_xinv_b_quad, cb_logdet_inv, cb_trace_gram_squared,
    cb_frob_axb_minus_c, cb_trace_xaxt, cb_det_xtax, cb_bt_xt_x_c, cb_xb_plus_c_quad,
    cb_inv_sandwich, hinge_svm_l2, squared_hinge_multi, poisson_glm_log_link, quantile_pinball,
    cosine_embedding_loss, masked_mse_normalised, z_loss_ce, relu_squared_ffn, mixup_two_labels,
    entropy_bonus_policy, batchnorm_eval_stats, weight_norm_linear, prenorm_transformer_block,
    gat_attention, gcn_two_layer, vq_soft_assign, nerf_posenc, lstm_gates_one_product,
)} | {"cb_trace_a_xinv_b_split": cb_trace_a_xinv_b, "cb_trace_xaxt_split": cb_trace_xaxt}

# second sizes where distinct primes would not fit (defined dims, convolution lengths, a
# slice's bound: a dim no input carries keeps the spec's size, the code cannot know it)
ALT = {'mqa_head_axis': {'T': 5, 'Dh': 3},
       'avg_pool_reshape': {'B': 3, 'P': 3, 'S': 2, 'D': 1, 'O': 2},
       'concat_max_avg_pool': {'B': 2, 'T': 5, 'D': 3, 'K': 2},
       'depthwise_conv1d_slices': {'B': 1, 'C': 2, 'T': 7},
       'depthwise_separable': {'B': 3, 'C': 1, 'T': 4, 'O': 2},
       'pointwise_conv2d': {'B': 1, 'C': 2, 'H': 2, 'W_': 3, 'O': 3},
       'tcn_channel_norm': {'B': 1, 'C': 3, 'T': 4},
       'clip_logit_scale_diag': {'N': 5, 'Di': 2, 'Dt': 3, 'E': 1},
       'lora_linear': {'N': 3, 'D': 2, 'R': 1, 'O': 5},
       'lora_query_attention': {'T': 2, 'D': 5, 'R': 3},
       'prenorm_transformer_block': {'B': 1, 'T': 4, 'F': 3},
       'nerf_posenc': {'N': 5, 'D': 3, 'H': 2},
       'lstm_gates_one_product': {'B': 1, 'D': 3, 'H': 3}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['swiglu_bias_mlp', 'rmsnorm_by_norm', 'qk_norm_attention', 'moe_softmax_gate_einsum',
       'clip_logit_scale_diag', 'vae_bernoulli_elbo', 'gaussian_nll_two_heads', 'lora_linear',
       'lstm_peephole', 'gru_reset_after', 'parallel_attn_mlp', 'nmf_kl_divergence',
       'whitening_objective', 'cb_trace_a_xinv_b', 'cb_logdet_inv', 'cb_det_xtax',
       'cb_inv_sandwich', 'jeffreys_kl_rank3', 'mf_biased', 'weight_norm_linear',
       'lstm_gates_one_product', 'gcn_two_layer']
