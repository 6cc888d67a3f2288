"""Hand-written PyTorch forward passes of the new-user models of session s25 (nu6), one per
tests/models spec of the same name: the generated NumPy gradients of each spec must equal
autograd of its forward here, written from the spec by hand and never from einderive's
parse, at the spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import torch

F = torch.nn.functional


def focal_binary(t, s):
    p = torch.sigmoid(t["X"] @ t["w"]); y = t["y"]
    return -(y * (1 - p) ** 2 * torch.log(p) + (1 - y) * p ** 2 * torch.log(1 - p)).sum()


def huber_where(t, s):
    r = t["X"] @ t["W"] - t["Y"]
    return torch.where(r.abs() < 1, 0.5 * r ** 2, r.abs() - 0.5).mean()


def infonce(t, s):
    S = t["Z1"] @ t["Z2"].T / 0.5
    return (torch.logsumexp(S, 1) - torch.diagonal(S)).mean()


def kl_softmaxes(t, s):
    P = torch.softmax(t["A"], -1)
    return (P * (torch.log_softmax(t["A"], -1) - torch.log_softmax(t["Bq"], -1))).sum()


def triplet_max(t, s):
    dp = ((t["a"] - t["p"]) ** 2).sum(1); dn = ((t["a"] - t["n"]) ** 2).sum(1)
    return torch.clamp(dp - dn + 1, min=0).mean()


def contrastive_pair(t, s):
    d = (t["x1"] - t["x2"]).norm(dim=1)
    return (t["y"] * d ** 2 + (1 - t["y"]) * torch.clamp(2 - d, min=0) ** 2).mean()


def group_norm(t, s):
    Xr = t["X"].reshape(s["B"], s["G"], s["Cg"])
    mu = Xr.mean(2, keepdim=True); var = ((Xr - mu) ** 2).mean(2, keepdim=True)
    Y = ((Xr - mu) / torch.sqrt(var + 1e-5)).reshape(s["B"], s["C"]) * t["gamma"] + t["beta"]
    return (Y * t["T"]).sum()


def rmsnorm_middle(t, s):
    r = torch.sqrt((t["X"] ** 2).mean((1, 2), keepdim=True) + 1e-6)
    return (torch.tanh(t["X"] / r) * t["W"]).sum()


def softmax_axis0_rank3(t, s):
    return (torch.softmax(t["X"], 0) * t["Y"]).sum()


def softmax_mid_rank4(t, s):
    return ((torch.softmax(t["X"] * 2, 2) * t["Y"]).sum()
            + (torch.log_softmax(t["X"], 1) * t["Y"]).sum())


def logsumexp_mid_keep(t, s):
    M = torch.logsumexp(t["X"], 1, keepdim=True)
    return ((t["X"] - M) * t["V"]).sum() + (torch.logsumexp(t["X"], 0) ** 2).sum()


def stack_transpose_linear(t, s):
    S = torch.stack([t["A"], t["Bm"] * 2], 0)
    return torch.tanh(S.permute(1, 0, 2) @ t["W"]).sum()


def concat_slice_shift(t, s):
    H = torch.cat([t["X"], torch.tanh(t["X"] @ t["W"])], 1)
    return (H[:, 1:] ** 2).sum() + (H[:, :-1] * H[:, 1:]).sum()


def conv1d_pool_head(t, s):
    Y = torch.relu(F.conv1d(t["X"], t["W"], t["b"]))
    return ((Y.mean(2) @ t["V"] - t["Tg"]) ** 2).sum()


def conv2d_ce(t, s):
    Z = F.conv2d(t["X"], t["Wk"])
    h = Z.amax(3).mean(2)
    return -(t["Y"] * torch.log_softmax(h, 1)).sum()


def einsum_batched(t, s):
    Y = torch.einsum("btd,bde->bte", t["X"], t["A"])
    return (torch.einsum("bte,et->b", torch.tanh(Y), t["V"]) ** 2).sum()


def x_three_times(t, s):
    x = t["x"]; W = t["W"]
    return (x * x * x).sum() + (torch.exp(x) * (W @ x)).sum() + x @ W @ x


def x_at_x(t, s):
    return ((t["X"] @ t["X"] - t["Y"]) ** 2).sum()


def a_at_a_t_at_a(t, s):
    A = t["A"]
    return (A @ A.T @ A * t["B"]).sum()


def broadcast_rank3(t, s_):
    Y = (t["X"] + t["b"]) * t["g"] * t["s"] + t["u"]
    return (torch.sigmoid(Y) * t["X"]).sum()


def geglu_residual(t, s):
    H = F.gelu(t["X"] @ t["W1"]) * (t["X"] @ t["W2"])
    return ((t["X"] + H @ t["W3"]) ** 2).mean()


def weight_tying_lm(t, s):
    X = t["E"][t["tok"]]; H = torch.tanh(X @ t["W"]); Z = H @ t["E"].T
    return F.cross_entropy(Z, t["lab"])


def symmetric_quad(t, s):
    S = t["S"]; x = t["x"]
    return x @ S @ x + torch.trace(S @ S) + (S * S).sum()


def clip_abs_minmax(t, s):
    Z = t["X"] @ t["W"]
    return ((Z.clamp(-1, 1) ** 2).sum() + (Z - t["lo"]).abs().sum()
            + (torch.minimum(Z, t["lo"]) * torch.clamp(Z, min=0.5)).sum())


def odd_names(t, s):
    h = torch.tanh(t["x_seq"] @ t["W2b"] + t["bias_vec_1"])
    return ((h - t["target_out_long"]) ** 2).sum()


def multihead_transpose(t, s):
    B, T, H, Dh = s["B"], s["T"], s["H"], s["Dh"]
    Q = (t["X"] @ t["Wq"]).reshape(B, T, H, Dh).permute(0, 2, 1, 3)
    K = (t["X"] @ t["Wk"]).reshape(B, T, H, Dh).permute(0, 2, 1, 3)
    S = torch.softmax(Q @ K.transpose(2, 3), -1)
    return (S * S).sum()


def ppo_clip(t, s):
    r = torch.exp(t["logp"] - t["logp_old"])
    return -torch.minimum(r * t["A"], r.clamp(0.8, 1.2) * t["A"]).mean()


def label_smoothing(t, s):
    return -(t["Ys"] * torch.log_softmax(t["Z"], 1)).sum(1).mean()


def vae_kl(t, s):
    mu = t["X"] @ t["Wm"]; lv = t["X"] @ t["Wv"]
    z = mu + torch.exp(0.5 * lv) * t["eps"]
    return ((z @ t["Wd"] - t["X"]) ** 2).sum() - 0.5 * (1 + lv - mu ** 2 - torch.exp(lv)).sum()


def causal_attention(t, s):
    S = t["Q"] @ t["K"].T / s["D"] ** 0.5 + t["M"]
    return ((torch.softmax(S, -1) @ t["V"] - t["Y"]) ** 2).sum()


def where_two_tensors(t, s):
    return (torch.where(t["X"] > t["Y"] + t["c"], t["X"] * t["Y"], t["X"] - t["Y"]) * t["c"]).sum()


def mixture_lse_axis0(t, s):
    d2 = ((t["X"][None] - t["Mu"][:, None]) ** 2).sum(2)
    lp = torch.log_softmax(t["logpi"], 0)[:, None] - 0.5 * d2
    return -torch.logsumexp(lp, 0).sum()


def moe_stack_gate(t, s):
    S = torch.stack([t["X"] @ t["W1"], torch.tanh(t["X"] @ t["W2"])], -1)
    g = torch.softmax(t["X"] @ t["Wg"], -1)
    return (((S * g[:, None, :]).sum(-1) - t["T"]) ** 2).sum()


def stack_one_piece(t, s):
    S = torch.stack([t["X"] * t["v"]], 1)
    return (torch.softmax(S, 0) * S).sum()


def concat_axis0_rank3(t, s):
    Z = torch.cat([t["X"], t["Y"] @ t["W"]], 0)
    return (torch.softmax(Z, 0) * Z).sum() + (torch.cat([t["X"], t["Y"]], 0) ** 3).sum()


def concat_middle_rank3(t, s):
    Z = torch.cat([t["X"], torch.exp(t["Y"])], 1)
    z = Z @ t["w"]
    return (torch.log_softmax(z, 1) * z).sum()


def slice_axis0_rank3(t, s):
    T = s["T"]
    H = t["X"] + t["Pe"][:T]
    return (torch.tanh(H @ t["W"]) ** 2).sum() + (t["Pe"][1:T + 1] * t["Pe"][:T]).sum()


def reshape_literal_ones(t, s):
    return ((t["X"] - t["x"][None]) ** 2 / (1 + t["c"][:, None] ** 2)).sum()


def transpose_rank3_all(t, s):
    X = t["X"]
    return ((X.permute(2, 0, 1) * t["V"].permute(0, 2, 1)).sum()
            + (X.permute(2, 1, 0) * t["V"]).sum() + (X.permute(1, 0, 2) @ t["W"].T).sum())


def conv1d_two_layers(t, s):
    H = torch.tanh(F.conv1d(t["X"], t["W1"], t["b1"]))
    return (F.conv1d(H, t["W2"]) ** 2).mean() + (t["W1"] ** 2).sum()


def conv1d_shared_kernel(t, s):
    return (F.conv1d(t["X"], t["W"]) * F.conv1d(t["Y"], t["W"])).sum()


def conv1d_concat_input(t, s):
    return torch.sigmoid(F.conv1d(torch.cat([t["X"], t["X"] ** 2], 1), t["W"])).sum()


def einsum_diag_trace(t, s):
    A = t["A"]
    return ((torch.einsum("ii->i", A @ A) * t["v"]).sum()
            + (torch.einsum("bii->b", t["X"]) ** 2).sum() + torch.einsum("ij,ij->", A, A.T))


def einsum_transpose_out(t, s):
    return ((torch.einsum("mn,nk->km", t["A"], t["B"]) * t["C"]).sum()
            + torch.einsum("mn,nk,km->", t["A"], t["B"], t["C"]) ** 2)


def max_axis0_rank3(t, s):
    Y = t["X"] @ t["W"]
    return (Y.amax(0) ** 2).sum() + (Y - Y.amin(2, keepdim=True)).sum()


def norm_axis_tuple(t, s):
    return (t["X"].norm(dim=(1, 2)).sum()
            + (t["X"] / (t["X"] - t["Y"]).norm(dim=-1, keepdim=True)).sum())


def scalar_polynomial(t, s):
    y = t["a"] * t["x"] ** 2 + t["b"] * t["x"] + t["c"]
    return (y ** 2).sum() / s["N"] + t["a"] ** 2 * t["b"] + torch.exp(t["c"]) / t["b"]


def column_division(t, s):
    e = torch.exp(t["X"]); P = e / e.sum(1, keepdim=True)
    return -(torch.log(P) * t["w"]).sum() + (t["X"] / s["D"] ** 0.5).sum()


def embed_rank3_tokens(t, s):
    h = t["E"][t["tok"]].mean(1)
    return F.cross_entropy(h @ t["W"], t["lab"])


def elu_leaky_alpha(t, s):
    return ((F.elu(t["X"] @ t["W"], 0.5) + F.leaky_relu(t["X"], 0.2)) ** 2).sum()


def clip_tensor_bounds(t, s):
    X = t["X"]
    return (torch.minimum(torch.maximum(X, t["lo"]), t["hi"]) * X).sum()


def negative_powers(t, s):
    x = t["x"]
    return (x ** -2 * t["y"]).sum() + (1 / x).sum() + (x ** 1.5).sum() + torch.sqrt((x * x).sum())


def softplus_log1p_mix(t, s):
    z = t["X"] @ t["w"]
    return ((F.softplus(z) - t["y"] * z).sum() + torch.log1p(torch.exp(-z.abs())).sum()
            + torch.expm1(z * 0.1).sum())


def linear_system_ridge(t, s):
    A = t["X"].T @ t["X"] + t["R"]
    w = torch.linalg.solve(A, t["X"].T @ t["y"])
    return ((t["X"] @ w - t["y"]) ** 2).sum() + torch.logdet(A) + torch.trace(torch.inverse(A))


def diag_products(t, s):
    D = torch.diag(t["v"])
    return ((D @ t["A"] @ D).sum() + (torch.diagonal(t["A"]) * t["v"]).sum()
            + torch.det(t["A"] + torch.diag(t["v"] ** 2)))


def hinge_gan(t, s):
    dr = t["R"] @ t["w"] + t["b"]; df = t["G"] @ t["w"] + t["b"]
    return torch.relu(1 - dr).mean() + torch.relu(1 + df).mean() - df.mean()


def transformer_ffn_rank3(t, s):
    X = t["X"]
    n = X / torch.sqrt((X ** 2).mean(-1, keepdim=True) + 1e-6) * t["g"]
    return ((X + F.silu(n @ t["W1"]) @ t["W2"]) ** 2).mean()


def distill_kl_temp(t, s):
    pt = torch.softmax(t["Tt"] / 2, 1)
    return 4 * (pt * (torch.log(pt) - torch.log_softmax(t["S"] / 2, 1))).sum() / s["B"]


def poly_features_concat(t, s):
    X = t["X"]
    return ((torch.cat([X, X ** 2, X ** 3], 1) @ t["w"] - t["y"]) ** 2).sum()


def fourier_features(t, s):
    Z = t["X"] @ t["W"]
    return torch.tanh(torch.cat([torch.sin(Z), torch.cos(Z)], -1) @ t["v"]).sum()


def instance_norm_rank3(t, s):
    X = t["X"]; mu = X.mean(2, keepdim=True)
    sd = torch.sqrt(((X - mu) ** 2).mean(2, keepdim=True) + 1e-3)
    return (((X - mu) / sd * t["g"] - t["Y"]) ** 2).sum()


def batched_matvec(t, s):
    sc = t["X"] @ t["w"]; a = torch.softmax(sc, 1)
    return ((a @ t["u"]) * sc.sum(1)).sum()


def negative_sampling(t, s):
    return (-torch.log(torch.sigmoid(t["u"] @ t["v"]))
            - torch.log(torch.sigmoid(-(t["Nn"] @ t["v"]))).sum())


def softmax_normaliser_keepdims(t, s):
    m = t["X"].amax(1, keepdim=True); e = torch.exp(t["X"] - m)
    return -(t["Y"] * torch.log(e / e.sum(1, keepdim=True))).sum()


def normalise_rows_cancel(t, s):
    n = torch.sqrt((t["X"] ** 2).sum(1, keepdim=True)); U = t["X"] / n
    return ((U * n) @ t["W"]).sum() + (U @ t["W"] * t["X"] / n).sum()


def colmean_cancel(t, s):
    m = t["X"].mean(0, keepdim=True); R = t["X"] / m
    return (t["v"] @ (R * m)).sum() + (t["v"] @ torch.log(R)).sum()


def rank3_keepdims_cancel(t, s):
    e = torch.exp(t["X"])
    return -(torch.log(e / e.sum(2, keepdim=True)) * t["w"]).sum()


def axis0_keepdims_cancel(t, s):
    e = torch.exp(t["X"])
    return -(t["v"] @ torch.log(e / e.sum(0, keepdim=True))).sum()


def scalar_cancel(t, s):
    y = t["x"] * t["a"]
    return ((y / t["a"]) * t["w"]).sum() + (t["w"] @ (y / t["x"])).sum()


def attention_rank3_bias(t, s):
    Q = t["X"] @ t["Wq"] + t["bq"]; K = t["X"] @ t["Wk"]; V = t["X"] @ t["Wv"]
    A = torch.softmax(Q @ K.transpose(1, 2) / s["D"] ** 0.5, -1)
    return ((A @ V) ** 2).sum()


def layernorm_rank3_affine(t, s):
    H = F.layer_norm(t["X"], (s["D"],), t["g"], t["b"], 1e-5)
    return torch.tanh(H @ t["W"]).sum()


def batchnorm_rank3(t, s):
    mu = t["X"].mean((0, 1), keepdim=True); var = ((t["X"] - mu) ** 2).mean((0, 1), keepdim=True)
    return (((t["X"] - mu) / torch.sqrt(var + 1e-3) * t["g"]) ** 3).sum()


def gru_like_rank3(t, s):
    z = torch.sigmoid(t["x"] @ t["Wz"] + t["h"] @ t["Uz"])
    c = torch.tanh(t["x"] @ t["Wh"] + (z * t["h"]) @ t["Uh"])
    return (((1 - z) * t["h"] + z * c) ** 2).sum()


def highway(t, s):
    Tg = torch.sigmoid(t["X"] @ t["Wt"] + t["bt"])
    return (Tg * torch.relu(t["X"] @ t["Wh"]) + (1 - Tg) * t["X"]).mean()


def squeeze_excite(t, s):
    z = t["X"].mean(2); sc = torch.sigmoid(torch.relu(z @ t["W1"]) @ t["W2"])
    return ((t["X"] * sc[:, :, None]) ** 2).sum()


def pairwise_distances(t, s):
    D2 = (t["X"] ** 2).sum(1)[:, None] + (t["Y"] ** 2).sum(1)[None] - 2 * t["X"] @ t["Y"].T
    return torch.exp(-D2).sum()


def gram_style_loss(t, s):
    G = t["F1"] @ t["F1"].T / s["T"]
    return ((G - t["G0"]) ** 2).sum()


def orthogonality_reg(t, s):
    W = t["W"]
    return ((W.T @ W - 1) ** 2).sum() + (W @ W.T @ W - W).norm()


def mean_abs_median_like(t, s):
    r = t["Y"] - t["X"]
    return torch.maximum(t["q"] * r, (t["q"] - 1) * r).mean()


def swish_beta(t, s):
    return ((t["X"] * torch.sigmoid(t["beta"] * t["X"])) ** 2).sum()


def mish(t, s):
    Z = t["X"] @ t["W"]
    return (Z * torch.tanh(F.softplus(Z))).sum()


def cross_attn_stack_heads(t, s):
    A1 = torch.softmax(t["Q"] @ t["K1"].T, 1); A2 = torch.softmax(t["Q"] @ t["K2"].T, 1)
    return (torch.stack([A1 @ t["K1"], A2 @ t["K2"]], 1) ** 2).sum()


def reshape_transpose_merge(t, s):
    M = t["O"].permute(0, 2, 1, 3).reshape(s["B"], s["T"], s["D"])
    return ((M @ t["Wo"] - t["Y"]) ** 2).sum()


def sum_axis_tuple_neg(t, s):
    S = (t["X"] ** 2).sum((0, 3)); m = t["X"].mean((2, 1))
    return (S.T @ t["w"]).sum() + (m * m).sum()


def where_scalar_threshold(t, s):
    Z = t["X"] @ t["W"]
    return ((torch.where(Z > t["th"], Z, 0.1 * Z) ** 2).sum()
            + torch.where(t["X"] <= 0.5, torch.exp(t["X"]), t["X"]).sum())


def outer_product_loss(t, s):
    P = torch.outer(t["u"], t["v"])
    return ((P - t["A"]) ** 2).sum() + (torch.tanh(t["u"]) @ t["A"] @ t["v"]).sum()


def min_pool_softmin(t, s):
    return (-torch.logsumexp(-t["X"], 1)).sum() + t["X"].amin(1).sum()


def group_stats_first_order(t, s):
    X = t["X"]; mu = X.mean(2, keepdim=True); sq = ((X - mu) ** 2).sum(2, keepdim=True)
    return (((X - mu) @ t["W"]) * sq).sum() + (mu ** 3).sum()


def keepdims_col_matmul(t, s):
    m = t["X"].mean(1, keepdim=True)
    return (m.T @ t["X"] @ t["W"]).sum() + (m @ m.T).sum()


def keepdims_row_matmul(t, s):
    m = t["X"].mean(0, keepdim=True)
    return (t["X"] @ m.T * t["v"]).sum() + (m.T @ m).sum()


def softmax_literal_one(t, s):
    return ((torch.softmax(t["x"], 1) * t["y"]).sum()
            + (torch.softmax(t["x"] * t["y"], 0) * t["x"]).sum() + (t["x"].sum(0) ** 2).sum())


def reshape_row_batch(t, s):
    return torch.tanh(t["X"].reshape(s["B"], 1, s["D"]) @ t["W"]).sum()


def rank3_dot_T(t, s):
    XT = t["X"].permute(2, 1, 0)
    return (XT * t["Y"]).sum() + (XT ** 2 * t["Y"]).sum()


def dims_in_expr(t, s):
    B, D = s["B"], s["D"]
    return ((t["X"] * (D - 1) / D).sum() + (t["X"] ** 2).sum() / (B * D - 1)
            + B ** 0.5 * t["X"].mean())


def scalar_temperature_softmax(t, s):
    return -(t["Y"] * torch.log_softmax(t["Z"] / t["tau"], 1)).sum()


def slice_then_conv(t, s):
    X = t["X"]; D1 = X[:, :, 1:] - X[:, :, :-1]
    return (F.conv1d(D1, t["W"]) ** 2).sum()


def stack_then_conv_channels(t, s):
    X = torch.stack([t["a"], t["b"] * t["a"]], 1)
    return torch.relu(F.conv1d(X, t["W"], t["c"])).sum()


def concat_stack_mix(t, s):
    Cc = torch.cat([t["X"], t["Y"]], 1); S = torch.stack([Cc @ t["W"], t["X"] * t["Y"]], 0)
    return (torch.softmax(S, 0) * S).sum()


def slice_middle_rank3(t, s):
    X = t["X"]; H = X[:, 1:-1] @ t["W"]
    return (H * X[:, 2:]).sum() + (X[:, :-2] ** 2).sum()


def einsum_bilinear_batch(t, s):
    z = torch.einsum("bd,ode,be->bo", t["x"], t["W"], t["y"]) + t["b"]
    return (torch.log_softmax(z, -1) * z).sum()


def einsum_implicit(t, s):
    P = t["A"] @ t["B"]
    return (P ** 2).sum() + torch.trace(P @ P.T)


def maximum_broadcast_rank3(t, s):
    X = t["X"]
    return ((torch.maximum(X, t["g"]) * torch.minimum(X, t["h"])).sum()
            + ((X - t["g"]).abs() * t["h"]).sum())


def where_rank3_broadcast(t, s):
    X = t["X"]
    return (torch.where(t["m"] > 0, X * t["b"], -X).sum()
            + (torch.where(X > t["b"], t["m"], X) ** 2).sum())


def clip_rank3_gradnorm(t, s):
    Y = (t["X"] @ t["W"]).clamp(-0.5, 0.5)
    return (Y * t["X"]).sum() + Y.norm()


def mean_over_all_but_last(t, s):
    m = t["X"].mean((0, 1)); v = ((t["X"] - m) ** 2).mean((0, 1))
    return (t["w"] * m / torch.sqrt(v + 0.01)).sum()


def lse_axis0_then_matmul(t, s):
    l = torch.logsumexp(t["Z"], 0, keepdim=True)
    return ((t["Z"] - l) @ t["W"]).sum() + (l @ t["W"]).sum()


def vector_outer_keep(t, s):
    c = t["x"][:, None]; r = t["y"][None]
    return ((c @ r) ** 2).sum() + (r @ c).sum() + (c * r * c).sum()


def softmax_rows_sum_cancel(t, s):
    P = torch.softmax(t["Z"], 1)
    return (P.sum(1) * (t["Z"] @ t["w"])).sum() + (P @ t["w"]).sum()


def double_softmax_axes(t, s):
    P = torch.softmax(t["Z"], 0) * torch.softmax(t["Z"], 1)
    return (P * t["Z"]).sum()


def row_normaliser_cancel(t, s):
    m = t["X"].sum(0, keepdim=True); R = t["X"] / m
    return (t["u"] @ torch.log(R)).sum() + (torch.log(R) @ t["v"]).sum()


def rank3_normaliser_matmul(t, s):
    e = torch.exp(t["X"]); P = e / e.sum(2, keepdim=True)
    return (torch.log(P) @ t["W"]).sum() + (P @ t["W"]).sum()


def outer_of_keepdims(t, s):
    X = t["X"]; r = X.sum(1, keepdim=True); c = X.sum(0, keepdim=True)
    return (torch.log(X / (r * c / X.sum())) @ t["W"]).sum()


def cancel_to_scalar_matmul(t, s):
    Y = torch.exp(t["X"]) * t["a"]
    return (torch.log(Y / torch.exp(t["X"])) @ t["w"]).sum() + ((Y / t["a"]) @ t["w"]).sum()


def sigmoid_odds_cancel(t, s):
    p = torch.sigmoid(t["X"] @ t["W"])
    return (torch.log(p / (1 - p)) @ t["W"]).sum() + (p * (1 - p)).sum()


def softmax_times_normaliser(t, s):
    e = torch.exp(t["Z"]); n = e.sum(1, keepdim=True); P = e / n
    return ((P * n) @ t["V"]).sum() - torch.log(n).sum()


def attention_normaliser_explicit(t, s):
    E = torch.exp(t["Q"] @ t["K"].T); Z = E.sum(1, keepdim=True)
    return (((E / Z) @ t["V"]) ** 2).sum() + torch.log(Z).sum()


def cosine_logits_ce(t, s):
    xn = t["X"] / t["X"].norm(dim=1, keepdim=True); wn = t["W"] / t["W"].norm(dim=0, keepdim=True)
    return -(t["Y"] * torch.log_softmax(10 * xn @ wn, 1)).sum()


def poisson_glm_offset(t, s):
    eta = (t["X"] @ t["w"])[:, None] + t["off"]
    return (torch.exp(eta) - t["y"] * eta).sum()


def rank4_lse_middle(t, s):
    l = torch.logsumexp(t["X"], 2, keepdim=True)
    return ((t["X"] - l) @ t["W"]).sum() + (l ** 2).sum()


def kl_gaussians_diag(t, s):
    ratio = (torch.exp(t["lv1"]) + (t["mu1"] - t["mu2"]) ** 2) / torch.exp(t["lv2"])
    return 0.5 * (t["lv2"] - t["lv1"] + ratio - 1).sum()


def elementwise_division_chain(t, s):
    Q = t["X"] / t["Y"]
    return ((Q * t["Y"] / t["X"]) @ t["w"]).sum() + ((Q * t["Y"]) @ t["w"]).sum()


FORWARDS = {f.__name__: f for f in (
    focal_binary,
    huber_where,
    infonce,
    kl_softmaxes,
    triplet_max,
    contrastive_pair,
    group_norm,
    rmsnorm_middle,
    softmax_axis0_rank3,
    softmax_mid_rank4,
    logsumexp_mid_keep,
    stack_transpose_linear,
    concat_slice_shift,
    conv1d_pool_head,
    conv2d_ce,
    einsum_batched,
    x_three_times,
    x_at_x,
    a_at_a_t_at_a,
    broadcast_rank3,
    geglu_residual,
    weight_tying_lm,
    symmetric_quad,
    clip_abs_minmax,
    odd_names,
    multihead_transpose,
    ppo_clip,
    label_smoothing,
    vae_kl,
    causal_attention,
    where_two_tensors,
    mixture_lse_axis0,
    moe_stack_gate,
    stack_one_piece,
    concat_axis0_rank3,
    concat_middle_rank3,
    slice_axis0_rank3,
    reshape_literal_ones,
    transpose_rank3_all,
    conv1d_two_layers,
    conv1d_shared_kernel,
    conv1d_concat_input,
    einsum_diag_trace,
    einsum_transpose_out,
    max_axis0_rank3,
    norm_axis_tuple,
    scalar_polynomial,
    column_division,
    embed_rank3_tokens,
    elu_leaky_alpha,
    clip_tensor_bounds,
    negative_powers,
    softplus_log1p_mix,
    linear_system_ridge,
    diag_products,
    hinge_gan,
    transformer_ffn_rank3,
    distill_kl_temp,
    poly_features_concat,
    fourier_features,
    instance_norm_rank3,
    batched_matvec,
    negative_sampling,
    softmax_normaliser_keepdims,
    normalise_rows_cancel,
    colmean_cancel,
    rank3_keepdims_cancel,
    axis0_keepdims_cancel,
    scalar_cancel,
    attention_rank3_bias,
    layernorm_rank3_affine,
    batchnorm_rank3,
    gru_like_rank3,
    highway,
    squeeze_excite,
    pairwise_distances,
    gram_style_loss,
    orthogonality_reg,
    mean_abs_median_like,
    swish_beta,
    mish,
    cross_attn_stack_heads,
    reshape_transpose_merge,
    sum_axis_tuple_neg,
    where_scalar_threshold,
    outer_product_loss,
    min_pool_softmin,
    group_stats_first_order,
    keepdims_col_matmul,
    keepdims_row_matmul,
    softmax_literal_one,
    reshape_row_batch,
    rank3_dot_T,
    dims_in_expr,
    scalar_temperature_softmax,
    slice_then_conv,
    stack_then_conv_channels,
    concat_stack_mix,
    slice_middle_rank3,
    einsum_bilinear_batch,
    einsum_implicit,
    maximum_broadcast_rank3,
    where_rank3_broadcast,
    clip_rank3_gradnorm,
    mean_over_all_but_last,
    lse_axis0_then_matmul,
    vector_outer_keep,
    softmax_rows_sum_cancel,
    double_softmax_axes,
    row_normaliser_cancel,
    rank3_normaliser_matmul,
    outer_of_keepdims,
    cancel_to_scalar_matmul,
    sigmoid_odds_cancel,
    softmax_times_normaliser,
    attention_normaliser_explicit,
    cosine_logits_ce,
    poisson_glm_offset,
    rank4_lse_middle,
    kl_gaussians_diag,
    elementwise_division_chain,
)}

# sizes where distinct primes would not fit (a convolution's output length, a slice's end)
ALT = {'conv1d_concat_input': {'B': 1, 'C': 2, 'K': 3, 'O': 3, 'T': 6},
       'conv1d_pool_head': {'B': 3, 'C': 1, 'K': 2, 'O': 2, 'P': 3, 'T': 7},
       'conv1d_shared_kernel': {'B': 3, 'C': 2, 'K': 3, 'T': 6},
       'conv1d_two_layers': {'B': 1, 'C': 3, 'K': 3, 'O': 2, 'T': 6},
       'conv2d_ce': {'B': 1, 'C': 3, 'H': 5, 'KH': 3, 'KW': 1, 'O': 2, 'W_': 3},
       'slice_axis0_rank3': {'B': 3, 'D': 3, 'T': 4, 'Tmax': 7},
       'slice_then_conv': {'B': 1, 'C': 3, 'K': 3, 'O': 1, 'T': 6},
       'stack_then_conv_channels': {'B': 3, 'K': 3, 'O': 2, 'T': 6}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['a_at_a_t_at_a', 'attention_normaliser_explicit', 'attention_rank3_bias', 'concat_stack_mix',
       'conv1d_shared_kernel', 'cosine_logits_ce', 'distill_kl_temp', 'einsum_batched',
       'einsum_bilinear_batch', 'einsum_diag_trace', 'focal_binary', 'gram_style_loss',
       'group_stats_first_order', 'gru_like_rank3', 'infonce', 'keepdims_col_matmul',
       'keepdims_row_matmul', 'kl_gaussians_diag', 'kl_softmaxes', 'label_smoothing',
       'lse_axis0_then_matmul', 'moe_stack_gate', 'negative_powers', 'negative_sampling',
       'orthogonality_reg', 'outer_product_loss', 'pairwise_distances', 'poisson_glm_offset',
       'poly_features_concat', 'row_normaliser_cancel', 'scalar_polynomial',
       'scalar_temperature_softmax', 'softmax_axis0_rank3', 'softmax_rows_sum_cancel',
       'softmax_times_normaliser', 'swish_beta', 'vector_outer_keep', 'x_at_x', 'x_three_times']
