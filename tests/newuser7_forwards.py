"""Hand-written PyTorch forward passes of the new-user models of session s26 (nu7), one per
tests/models or tests/models/more7 spec of the same name: einderive's generated gradients
must equal autograd of its forward here, written from the spec by hand and never from
einderive's parse, at the spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _ce(Z, lab):
    return -F.log_softmax(Z, -1)[torch.arange(Z.shape[0]), lab]


def stack_last_rank3(t, s):
    H = torch.stack([t["X"], torch.tanh(t["Y"])], 2) @ t["W"]
    return (H * H).sum()


def concat_last_rank3_linear(t, s):
    Z = torch.cat([t["X"], torch.sigmoid(t["Y"])], -1) @ t["W"]
    return (F.log_softmax(Z, 1) * Z).mean()


def slice_last_softmax_mid(t, s):
    P = torch.softmax(t["X"][:, :, s["K"]:], 1)
    return (P @ t["V"]).sum()


def group_norm_rank4(t, s):
    Xr = t["X"].reshape(s["B"], s["G"], s["Cg"], s["T"])
    mu = Xr.mean((2, 3), keepdim=True); var = ((Xr - mu) ** 2).mean((2, 3), keepdim=True)
    N = ((Xr - mu) / torch.sqrt(var + 1e-5)).reshape(s["B"], s["C"], s["T"])
    return ((N * t["gamma"] + t["beta"]) * t["Y"]).sum()


def transpose_201_matmul(t, s):
    return (torch.tanh(t["X"].permute(1, 2, 0) @ t["W"]) ** 2).sum()


def conv1d_residual_slice(t, s):
    Y = F.conv1d(t["X"], t["W"], t["b"])
    return ((F.relu(Y) + t["X"][:, :, 1:s["To"] + 1]) ** 2).mean()


def conv2d_gap_ce(t, s):
    g = F.silu(F.conv2d(t["X"], t["Wc"], t["bc"])).mean((2, 3))
    return _ce(g @ t["V"], t["lab"]).mean()


def einsum_bmm_softmax_mid(t, s):
    return (torch.softmax(torch.einsum("bij,bjk->bik", t["X"], t["Y"]), 1) * t["T_"]).sum()


def log_softmax_axis0_rank3(t, s):
    return -(F.log_softmax(t["X"] @ t["W"], 0) * t["Y"]).sum()


def lse_axis1_rank4_keep(t, s):
    m = torch.logsumexp(t["X"], 1, keepdim=True)
    return ((m - t["Y"]) ** 2).sum() + (torch.exp(t["X"] - m) * t["X"]).sum()


def broadcast_rank3_mix(t, s):
    H = t["X"] * t["g"] + t["b"] - t["s"] * t["c"]
    return (torch.tanh(H) * t["X"]).sum() + t["s"] * t["g"].sum()


def x_three_ways(t, s):
    x = t["x"]
    return (x * torch.tanh(x) * torch.sigmoid(x)).sum() + x @ t["W"] @ x + x.sum() ** 2


def matrix_cube_trace(t, s):
    X = t["X"]
    return torch.trace(X @ X @ X @ t["A"]) + (X @ X.T @ X).sum()


def focal_multiclass(t, s):
    p = torch.softmax(t["X"] @ t["W"], -1)[torch.arange(s["B"]), t["lab"]]
    return -((1 - p) ** 2 * torch.log(p)).mean()


def huber_delta_param(t, s):
    r = t["X"] @ t["w"] - t["y"]; a = r.abs(); d = t["delta"]
    return torch.where(a <= d, 0.5 * r ** 2, d * (a - 0.5 * d)).mean()


def clip_symmetric_infonce(t, s):
    S = t["U"] @ t["V"].T / t["tau"]
    li = torch.logsumexp(S, 1) - torch.diagonal(S)
    lt = torch.logsumexp(S, 0) - torch.diagonal(S)
    return 0.5 * li.mean() + 0.5 * lt.mean()


def js_divergence(t, s):
    P = torch.softmax(t["A"], -1); Q = torch.softmax(t["C"], -1); M = 0.5 * (P + Q)
    return 0.5 * (P * (P.log() - M.log())).sum() + 0.5 * (Q * (Q.log() - M.log())).sum()


def ntxent_masked(t, s):
    Zn = t["Z"] / t["Z"].norm(dim=1, keepdim=True)
    S = Zn @ Zn.T * 2.0
    Sm = torch.where(t["mask"] > 0, S, torch.full_like(S, -1000.0))
    return -(t["pos"] * F.log_softmax(Sm, 1)).sum() / s["B"]


def triplet_norms(t, s):
    fa = t["a"] @ t["W"]
    dp = (fa - t["p"] @ t["W"]).norm(dim=1); dn = (fa - t["n"] @ t["W"]).norm(dim=1)
    return torch.clamp(dp - dn + 0.2, min=0.0).sum()


def rmsnorm_mid_rank4(t, s):
    r = torch.sqrt((t["X"] * t["X"]).mean((1, 2), keepdim=True) + 1e-6)
    return ((t["X"] / r * t["g"] - t["Y"]) ** 2).sum()


def glu_split_slice(t, s):
    Z = t["X"] @ t["W"]; h = s["H"]
    O = (Z[:, :h] * torch.sigmoid(Z[:, h:])) @ t["V"] + t["X"]
    return (O ** 2).sum()


def prenorm_residual_rank3(t, s):
    X = t["X"]; mu = X.mean(-1, keepdim=True); var = ((X - mu) ** 2).mean(-1, keepdim=True)
    N = (X - mu) / torch.sqrt(var + 1e-5) * t["g"]
    return ((X + F.gelu(N @ t["W1"]) @ t["W2"]) ** 2).mean()


def tied_embed_head(t, s):
    h = torch.tanh(t["E"][t["tok"]].sum(1) @ t["W"])
    return _ce(h @ t["E"].T, t["lab"]).mean()


def symmetric_sandwich(t, s):
    S = t["S"]
    return torch.trace(S @ t["A"] @ S @ t["B_"]) + t["x"] @ S @ S @ t["x"]


def embed_reshape_tokens(t, s):
    X = t["E"][t["tok"]].reshape(s["B"], s["T"], s["D"])
    return _ce(torch.logsumexp(X, 1) @ t["W"], t["lab"]).sum()


def embed_slice_labels(t, s):
    H = torch.tanh(t["E"][t["tok"]][s["K"]:, :] @ t["W"])
    return _ce(H, t["lab"]).mean()


def diamond_hidden(t, s):
    h = torch.tanh(t["X"] @ t["W"]); g = torch.sigmoid(h @ t["U"])
    return 0.3 * (h ** 2).sum() + (g * h).sum() + 0.1 * h.mean()


def weighted_multitask(t, s):
    ce = _ce(t["X"] @ t["W"], t["lab"]).mean()
    mse = ((t["X"] @ t["v"] - t["y"]) ** 2).mean()
    return ce + 0.5 * mse + t["lam"] * ((t["W"] ** 2).sum() + (t["v"] ** 2).sum())


def wrt_subset_bias(t, s):
    return ((F.softplus(t["X"] @ t["W"] + t["b"]) - t["y"]) ** 2).sum()


def deep_residual_30(t, s):
    W = [t[f"W{i}"] for i in range(1, 6)]; b = [t[f"b{i}"] for i in range(1, 6)]
    h1 = torch.tanh(t["X"] @ W[0] + b[0]); r1 = t["X"] + h1
    h2 = F.relu(r1 @ W[1] + b[1]); r2 = r1 + h2
    h3 = F.gelu(r2 @ W[2] + b[2]); r3 = r2 + h3
    h4 = F.silu(r3 @ W[3] + b[3]); r4 = r3 + h4
    r5 = r4 + F.softplus(r4 @ W[4] + b[4])
    c1 = r5 - r5.mean(-1, keepdim=True)
    n1 = c1 / torch.sqrt((c1 * c1).mean(-1, keepdim=True) + 0.1)
    o4 = torch.sigmoid(n1 @ W[0]) * r1 + r2 * 0.5
    o6 = torch.exp(-(o4 - r3 / 3) ** 2)
    o8 = o6 @ W[1].T + h1 * h2
    return torch.sqrt(((o8 - t["y"]) ** 2).sum(1) + 1).mean() + 0.01 * (W[2] ** 2).sum()


def ops_matrix_zoo(t, s):
    A, S, b, v = t["A"], t["S"], t["b"], t["v"]
    D = torch.diag(v)
    return (torch.logdet(S) + torch.det(A) * 0.1 + (torch.inverse(A) @ D).sum()
            + torch.linalg.solve(S, b) @ b + torch.diagonal(A @ S).sum() + torch.trace(D @ A))


def ops_elementwise_zoo(t, s):
    X, Y, w = t["X"], t["Y"], t["w"]
    a = torch.sin(X) * torch.cos(Y) + torch.erf(X * 0.5)
    b = torch.expm1(0.3 * Y) + torch.log1p(torch.exp(X))
    c = F.elu(a, alpha=0.7) + F.leaky_relu(b, 0.2) + (a - b) ** 2
    d = torch.clamp(c, max=2.0) + torch.clamp(b, -1.0, 1.0) + a.abs() + X
    return ((d @ w).sum() + 0.1 * d.max() - 0.1 * c.min() + (a.amax(0) * w).sum()
            + b.amin(1).sum())


def masked_attention_input(t, s):
    X = t["X"]; Q = X @ t["Wq"]; K = X @ t["Wk"]; V = X @ t["Wv"]
    S = Q @ K.transpose(1, 2) / math.sqrt(s["D"]) + t["M"]
    return ((torch.softmax(S, -1) @ V) ** 2).mean()


def mdn_lse(t, s):
    X = t["X"]; mu = X @ t["Wm"]; ls = X @ t["Ws"]; lp = F.log_softmax(X @ t["Wp"], -1)
    lg = -0.5 * ((t["y"] - mu) / torch.exp(ls)) ** 2 - ls - 0.9189385
    return -torch.logsumexp(lp + lg, 1).mean()


def planar_flow(t, s):
    a = t["Z"] @ t["w"] + t["b"]
    Fz = t["Z"] + torch.tanh(a).reshape(-1, 1) * t["u"]
    psi = (1 - torch.tanh(a) ** 2) * (t["u"] @ t["w"])
    return ((Fz ** 2).sum(1) * 0.5 - torch.log((1 + psi).abs())).mean()


def batched_quadform(t, s):
    q = torch.einsum("bi,ij,bj->b", t["X"], t["A"], t["X"])
    return ((q - t["y"]) ** 2).mean()


def outer_features_merge(t, s):
    O = torch.einsum("bi,bj->bij", t["X"], t["X"]).reshape(s["B"], -1)
    return torch.sigmoid(O @ t["W"]).sum()


def ensemble_stack_mean(t, s):
    X = t["X"]
    P = torch.stack([torch.softmax(X @ t[k], -1) for k in ("W1", "W2", "W3")], 0).mean(0)
    return -torch.log(P[torch.arange(s["B"]), t["lab"]]).mean()


def clipped_double_q(t, s):
    q1 = t["X"] @ t["w1"]; q2 = t["X"] @ t["w2"]
    tt = t["r"] + 0.9 * torch.minimum(q1, q2)
    return ((q1 - tt) ** 2).mean() + ((q2 - tt) ** 2).mean()


def dpo_loss(t, s):
    w = t["w"]
    m = t["beta"] * ((t["Xw"] @ w - t["rw"]) - (t["Xl"] @ w - t["rl"]))
    return F.softplus(-m).mean()


def dice_loss(t, s):
    P = torch.sigmoid(t["Z"]); Y = t["Y"]
    return (1 - 2 * (P * Y).sum(1) / (P.sum(1) + Y.sum(1) + 1)).mean()


def charbonnier_logcosh(t, s):
    R = t["X"] @ t["W"] - t["Y"]
    return torch.sqrt(R ** 2 + 0.001).mean() + torch.log(torch.cosh(R)).mean()


def temperature_input_softmax(t, s):
    P = torch.softmax(t["X"] / t["tau"], -1)
    return -(t["T_"] * torch.log(P)).sum() + t["tau"] ** 2


def maxout_reshape(t, s):
    M = (t["X"] @ t["W"]).reshape(s["B"], s["H"], s["P"]).amax(2)
    return torch.tanh(M @ t["v"]).sum()


def softmax_heads_axis1_rank4(t, s):
    return (torch.softmax(t["X"], 1) * t["Y"]).sum() + (torch.logsumexp(t["X"], 0) ** 2).sum()


def transpose_120_linear(t, s):
    return torch.sin(t["X"].permute(1, 2, 0) @ t["W"]).sum()


def capsule_squash(t, s):
    n = t["S"].norm(dim=1, keepdim=True)
    return ((n ** 2 / (1 + n ** 2)) * t["S"] / n * t["Y"]).sum()


def additive_attention(t, s):
    X, h = t["X"], t["h"]
    e = torch.tanh(X @ t["W"] + (h @ t["U"]).reshape(s["B"], 1, -1)) @ t["v"]
    c = torch.einsum("bt,btd->bd", torch.softmax(e, 1), X)
    return (c * h).sum()


def conv1d_to_tokens(t, s):
    H = F.conv1d(t["X"], t["W"]).transpose(1, 2) @ t["V"]
    return torch.logsumexp(H, 1).mean()


def gp_marginal_likelihood(t, s):
    K = t["X"] @ t["X"].T + t["S"]
    return 0.5 * t["y"] @ torch.linalg.solve(K, t["y"]) + 0.5 * torch.logdet(K)


def center_loss(t, s):
    return 0.5 * ((t["F"] - t["Cn"][t["lab"]]) ** 2).sum(1).mean()


def attention_pool_query(t, s):
    a = torch.softmax(t["X"] @ t["q"] / math.sqrt(s["D"]), 1)
    p = torch.einsum("bt,btd->bd", a, t["X"])
    return _ce(p @ t["W"], t["lab"]).mean()


def se_block_conv2d(t, s):
    Y = F.conv2d(t["X"], t["Wc"])
    g = torch.sigmoid(F.relu(Y.mean((2, 3)) @ t["W1"]) @ t["W2"])
    return ((Y * g.reshape(s["B"], s["C"], 1, 1)) ** 2).mean()


def label_smooth_axis0(t, s):
    lp = F.log_softmax(t["Z"], 0)
    return -((0.9 * t["Y"] + 0.1 / s["K"]) * lp).sum(0).mean()


def lse_mid_rank3_keep_matmul(t, s):
    Z = t["X"] - torch.logsumexp(t["X"], 1, keepdim=True)
    return (torch.exp(Z) @ t["W"]).sum()


def abs_maximum_rank3(t, s):
    X, Y = t["X"], t["Y"]
    C = torch.clamp(torch.maximum(X.abs(), Y + t["b"]), 0.2, 1.5)
    return (C * X).sum() + torch.where(X > Y, X ** 2, Y).sum()


def x_at_x_at_x_vec(t, s):
    X, v = t["X"], t["v"]
    u = X @ X.T @ X @ v
    return u @ u + v @ X @ v


def long_names_model(t, s):
    h = torch.tanh(t["input_features_x_seq"] @ t["W2b_projection_weight"]
                   + t["bias_vector_for_output"])
    return ((h - t["target_values_y_true"]) ** 2).mean()


def vae_reparam_gauss(t, s):
    X = t["X"]; mu = X @ t["We"]; lv = X @ t["Wv"]
    R = torch.sigmoid((mu + torch.exp(0.5 * lv) * t["eps"]) @ t["Wd"])
    rec = -(X * torch.log(R) + (1 - X) * torch.log(1 - R)).sum()
    kl = -0.5 * (1 + lv - mu ** 2 - torch.exp(lv)).sum()
    return (rec + kl) / s["B"]


def hinge_multiclass(t, s):
    Z = t["X"] @ t["W"]; zy = Z[torch.arange(s["B"]), t["lab"]]
    return torch.clamp(Z - zy.reshape(-1, 1) + 1, min=0.0).sum() / s["B"] - 1.0


def stack_axis1_linear_pieces(t, s):
    S = torch.stack([t["a"], t["b"] * t["b"], t["c"]], 1)
    return ((((S @ t["W"]).mean(1)) - t["y"]) ** 2).sum()


def concat_axis1_rank3_attn(t, s):
    C = torch.cat([t["Pm"], t["X"]], 1)
    a = torch.softmax(C @ t["q"], -1)
    return (torch.einsum("bt,btd->bd", a, C) ** 2).sum()


def ppo_value_entropy(t, s):
    X = t["X"]; lp = F.log_softmax(X @ t["W"], -1)
    ratio = torch.exp(lp[torch.arange(s["B"]), t["act"]] - t["oldlp"]); adv = t["adv"]
    pg = -torch.minimum(ratio * adv, torch.clamp(ratio, 0.8, 1.2) * adv).mean()
    vf = ((X @ t["v"] - t["ret"]) ** 2).mean()
    ent = -(lp.exp() * lp).sum(1).mean()
    return pg + 0.5 * vf - 0.01 * ent


def batchnorm_rank3_channels(t, s):
    X = t["X"]; mu = X.mean((0, 2), keepdim=True); v = ((X - mu) ** 2).mean((0, 2), keepdim=True)
    return ((X - mu) / torch.sqrt(v + 1e-5) * t["g"] * t["Y"]).sum()


def poly_kernel_gram(t, s):
    K = (t["X"] @ t["X"].T + 1) ** 2; al = t["al"]
    return ((K @ al - t["y"]) ** 2).mean() + 0.1 * al @ K @ al


FORWARDS = {f.__name__: f for f in (
    stack_last_rank3, concat_last_rank3_linear, slice_last_softmax_mid, group_norm_rank4,
    transpose_201_matmul, conv1d_residual_slice, conv2d_gap_ce, einsum_bmm_softmax_mid,
    log_softmax_axis0_rank3, lse_axis1_rank4_keep, broadcast_rank3_mix, x_three_ways,
    matrix_cube_trace, focal_multiclass, huber_delta_param, clip_symmetric_infonce,
    js_divergence, ntxent_masked, triplet_norms, rmsnorm_mid_rank4, glu_split_slice,
    prenorm_residual_rank3, tied_embed_head, symmetric_sandwich, embed_reshape_tokens,
    embed_slice_labels, diamond_hidden, weighted_multitask, wrt_subset_bias, deep_residual_30,
    ops_matrix_zoo, ops_elementwise_zoo, masked_attention_input, mdn_lse, planar_flow,
    batched_quadform, outer_features_merge, ensemble_stack_mean, clipped_double_q, dpo_loss,
    dice_loss, charbonnier_logcosh, temperature_input_softmax, maxout_reshape,
    softmax_heads_axis1_rank4, transpose_120_linear, capsule_squash, additive_attention,
    conv1d_to_tokens, gp_marginal_likelihood, center_loss, attention_pool_query,
    se_block_conv2d, label_smooth_axis0, lse_mid_rank3_keep_matmul, abs_maximum_rank3,
    x_at_x_at_x_vec, long_names_model, vae_reparam_gauss, hinge_multiclass,
    stack_axis1_linear_pieces, concat_axis1_rank3_attn, ppo_value_entropy,
    batchnorm_rank3_channels, poly_kernel_gram,
)}

# sizes where distinct primes would not fit (a convolution's output length, a slice's end;
# a dim no input carries, as a slice's bound K, keeps the spec's size: the code cannot know it)
ALT = {'conv1d_residual_slice': {'B': 3, 'C': 2, 'T': 8, 'K': 2},
       'conv2d_gap_ce': {'B': 3, 'C': 1, 'H': 6, 'W_': 5, 'KH': 3, 'KW': 2, 'O': 2, 'K': 5},
       'conv1d_to_tokens': {'B': 3, 'C': 2, 'T': 7, 'K': 3, 'O': 5, 'E': 3},
       'se_block_conv2d': {'B': 3, 'C': 2, 'H': 5, 'W_': 6, 'KH': 2, 'KW': 3, 'R': 3},
       'slice_last_softmax_mid': {'B': 3, 'T': 2, 'D': 7},
       'embed_slice_labels': {'T': 7, 'V': 3, 'D': 2, 'S': 5}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['additive_attention', 'attention_pool_query', 'broadcast_rank3_mix', 'capsule_squash',
       'clip_symmetric_infonce', 'concat_axis1_rank3_attn', 'concat_last_rank3_linear',
       'conv1d_to_tokens', 'deep_residual_30', 'dice_loss', 'einsum_bmm_softmax_mid',
       'embed_reshape_tokens', 'ensemble_stack_mean', 'gp_marginal_likelihood',
       'group_norm_rank4', 'js_divergence', 'log_softmax_axis0_rank3', 'lse_axis1_rank4_keep',
       'matrix_cube_trace', 'mdn_lse', 'ops_matrix_zoo', 'outer_features_merge', 'planar_flow',
       'poly_kernel_gram', 'prenorm_residual_rank3', 'rmsnorm_mid_rank4', 'se_block_conv2d',
       'slice_last_softmax_mid', 'softmax_heads_axis1_rank4', 'stack_axis1_linear_pieces',
       'stack_last_rank3', 'symmetric_sandwich', 'tied_embed_head', 'transpose_201_matmul',
       'vae_reparam_gauss', 'weighted_multitask', 'x_at_x_at_x_vec', 'x_three_ways']
