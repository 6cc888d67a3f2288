"""Hand-written PyTorch forward passes of the new-user models of session s29 (nu10), one per
tests/models/more10 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _pick(Z, lab):
    return Z[torch.arange(Z.shape[0]), lab]


def _ln(X, eps):
    M = X - X.mean(-1, keepdim=True)
    return M / torch.sqrt((M ** 2).mean(-1, keepdim=True) + eps)


def _sqdist(X):
    sq = (X ** 2).sum(1)
    return sq[:, None] + sq[None, :] - 2 * X @ X.T


# -- blocks of recent architectures -----------------------------------------------------------

def mamba_gated_scan3(t, s):
    Wa, Wb = t["Wa"], t["Wb"]
    h = torch.zeros(())
    for x in (t["x1"], t["x2"], t["x3"]):
        a = torch.sigmoid(x @ Wa)
        h = a * h + (1 - a) * (x @ Wb)
    return ((h @ t["wo"] - t["y"]) ** 2).mean()


def linear_attn_softplus(t, s):
    X = t["X"]
    Pq, Pk = F.softplus(X @ t["Wq"]), F.softplus(X @ t["Wk"])
    O = (Pq @ (Pk.T @ (X @ t["Wv"]))) / (Pq @ Pk.sum(0))[:, None]
    return (O ** 2).sum()


def cross_attention_residual(t, s):
    Y, X = t["Y"], t["X"]
    A = torch.softmax((Y @ t["Wq"]) @ (X @ t["Wk"]).T / math.sqrt(s["D"]), -1)
    return ((Y + (A @ (X @ t["Wv"])) @ t["Wo"]) ** 2).sum() / s["T"]


def perceiver_latent_attn(t, s):
    Z, X = t["Z"], t["X"]
    H = Z + torch.softmax(Z @ (X @ t["Wk"]).T, -1) @ (X @ t["Wv"])
    return ((H.mean(0) @ t["Wc"] - t["y"]) ** 2).sum()


def mixer_token_gelu_ln(t, s):
    X = t["X"]
    U = X + (F.gelu(_ln(X, 1e-5).T @ t["W1"]) @ t["W2"]).T
    return (U ** 2).sum()


def gmlp_spatial_gate(t, s):
    X, H = t["X"], s["H"]
    Z = F.gelu(X @ t["W"])
    S = Z[:, :H] * (t["Ws"] @ Z[:, H:] + t["bs"])
    return ((S @ t["Wo"] + X) ** 2).sum()


def film_conditioning(t, s):
    c = t["c"]
    H = torch.relu((c @ t["Wg"]) * (t["X"] @ t["W"]) + c @ t["Wb"])
    return ((H @ t["v"] - t["y"]) ** 2).mean()


def hypernet_linear(t, s):
    W = (t["z"] @ t["Hw"]).reshape(s["D"], s["F"])
    return ((t["X"] @ W - t["Y"]) ** 2).sum()


def _rot(Q, C, Sn):
    h = C.shape[1]
    a, b = Q[:, :h], Q[:, h:]
    return torch.cat([a * C - b * Sn, b * C + a * Sn], 1)


def rope_rotate_half(t, s):
    X, C, Sn = t["X"], t["C"], t["Sn"]
    Q, K = _rot(X @ t["Wq"], C, Sn), _rot(X @ t["Wk"], C, Sn)
    return ((torch.softmax(Q @ K.T / math.sqrt(s["D"]), -1) @ X) ** 2).sum()


def rope_batched_rank3(t, s):
    X, C, Sn, h = t["X"], t["C"], t["Sn"], s["H"]
    Q = X @ t["W"]
    a, b = Q[..., :h], Q[..., h:]
    return (torch.tanh(torch.cat([a * C - b * Sn, b * C + a * Sn], -1)) * X).sum()


def adaln_modulation(t, s):
    X, c = t["X"], t["c"]
    H = _ln(X, 1e-6) * (1 + c @ t["Ws"]) + c @ t["Wh"]
    return ((X + H @ t["W"]) ** 2).sum()


def sigmoid_attention(t, s):
    X = t["X"]
    A = torch.sigmoid((X @ t["Wq"]) @ (X @ t["Wk"]).T / math.sqrt(s["D"]) + t["b"])
    return ((A @ (X @ t["Wv"])) ** 2).sum() / s["T"]


def retention_decay_mask(t, s):
    X = t["X"]
    S = ((X @ t["Wq"]) @ (X @ t["Wk"]).T) * t["Dm"]
    return ((S @ (X @ t["Wv"])) ** 2).sum()


def deep_sets_sum_pool(t, s):
    P = torch.tanh(t["X"] @ t["W1"]).sum(0)
    return (torch.relu(P @ t["W2"]) @ t["w3"] - t["y"]) ** 2


def neural_ode_euler3(t, s):
    h = t["h0"]
    for _ in range(3):
        h = h + 0.1 * torch.tanh(h @ t["W"] + t["b"])
    return ((h - t["Y"]) ** 2).sum()


def pointnet_max_pool(t, s):
    g = torch.relu(t["X"] @ t["W1"]).amax(0)
    return -(t["t"] * torch.log_softmax(g @ t["W2"], -1)).sum()


def cosine_classifier_temp(t, s):
    Xn, Wn = F.normalize(t["X"], dim=1, eps=0), F.normalize(t["Wc"], dim=1, eps=0)
    return F.cross_entropy(Xn @ Wn.T / 0.1, t["lab"])


def ntk_relu_kernel_regression(t, s):
    Phi = torch.relu(t["X"] @ t["W"]) / math.sqrt(s["H"])
    K, a = Phi @ Phi.T, t["a"]
    return ((K @ a - t["y"]) ** 2).sum() + 0.1 * (a @ K @ a)


# -- losses -----------------------------------------------------------------------------------

def tversky_loss(t, s):
    p, y = torch.sigmoid(t["X"] @ t["w"]), t["t"]
    tp, fp, fn = (p * y).sum(), (p * (1 - y)).sum(), ((1 - p) * y).sum()
    return 1 - (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)


def squared_hinge_binary(t, s):
    w = t["w"]
    return (torch.relu(1 - t["y"] * (t["X"] @ w + t["b"])) ** 2).mean() + 0.01 * (w @ w)


def poisson_nll_log_input(t, s):
    return F.poisson_nll_loss(t["X"] @ t["w"], t["y"], log_input=True, full=False)


def tukey_biweight(t, s):
    r = t["X"] @ t["w"] - t["y"]
    u = 1 - (r / 1.5) ** 2
    return torch.where(r.abs() < 1.5, 1.5 ** 2 / 6 * (1 - u ** 3), torch.tensor(1.5 ** 2 / 6,
                       dtype=r.dtype)).mean()


def geman_mcclure(t, s):
    r2 = (t["X"] @ t["w"] - t["y"]) ** 2
    return (r2 / (r2 + 0.25)).mean()


def welsch_loss(t, s):
    return (1 - torch.exp(-((t["X"] @ t["W"] - t["Y"]) ** 2) / (2 * 0.8 ** 2))).sum()


def wgan_critic_clip(t, s):
    Wc = t["W1"].clamp(-0.5, 0.5)
    f = lambda X: torch.relu(X @ Wc) @ t["w2"]  # noqa: E731
    return f(t["Xf"]).mean() - f(t["Xr"]).mean()


def energy_nce_lse(t, s):
    W = t["W"]
    Ep, En = ((t["Xp"] @ W) ** 2).sum(1), ((t["Xn"] @ W) ** 2).sum(1)
    return Ep.mean() + torch.logsumexp(-En, 0)


def bce_pos_weight(t, s):
    return F.binary_cross_entropy_with_logits(t["X"] @ t["w"], t["y"],
                                              pos_weight=torch.tensor(3.0, dtype=torch.float64))


def margin_ranking(t, s):
    w = t["w"]
    return F.margin_ranking_loss(t["X1"] @ w, t["X2"] @ w, t["y"], margin=0.5)


def multilabel_soft_margin(t, s):
    return F.multilabel_soft_margin_loss(t["X"] @ t["W"], t["Y"])


def weighted_ce_onehot(t, s):
    Y, cw = t["Y"], t["cw"]
    wy = Y @ cw
    return -(wy * (Y * torch.log_softmax(t["X"] @ t["W"], 1)).sum(1)).sum() / wy.sum()


def cauchy_lorentzian(t, s):
    r = torch.tanh(t["X"] @ t["W1"]) @ t["w2"] - t["y"]
    return torch.log1p(r ** 2 / 4).sum()


def ordinal_cumulative_logit(t, s):
    Z = t["th"][None, :] - (t["X"] @ t["w"])[:, None]
    T = t["T"]
    return -(T * torch.log(torch.sigmoid(Z)) + (1 - T) * torch.log(1 - torch.sigmoid(Z))).sum()


# -- classic machine learning -----------------------------------------------------------------

def lasso_objective(t, s):
    w = t["w"]
    return ((t["X"] @ w - t["y"]) ** 2).sum() / (2 * s["N"]) + 0.1 * w.abs().sum()


def elastic_net(t, s):
    w = t["w"]
    r = t["X"] @ w + t["b"] - t["y"]
    return 0.5 * (r ** 2).mean() + 0.05 * w.abs().sum() + 0.025 * (w @ w)


def kernel_ridge_rbf(t, s):
    K, a = torch.exp(-_sqdist(t["X"]) / 2), t["a"]
    return ((K @ a - t["y"]) ** 2).sum() + 0.1 * (a @ K @ a)


def gp_nll_rbf_solve(t, s):
    K, y = torch.exp(-0.5 * _sqdist(t["X"])) + t["S"], t["y"]
    return 0.5 * (y @ torch.linalg.solve(K, y)) + 0.5 * torch.logdet(K)


def logreg_l1(t, s):
    z = t["X"] @ t["w"]
    return (F.softplus(z) - t["y"] * z).mean() + 0.01 * t["w"].abs().sum()


def fisher_lda_ratio(t, s):
    w = t["w"]
    return -(w @ t["Sb"] @ w) / (w @ t["Sw"] @ w)


def softmax_reg_label_smooth(t, s):
    return F.cross_entropy(t["X"] @ t["W"] + t["b"], t["lab"], label_smoothing=0.1 * s["C"] / (s["C"]))


def matrix_completion_bias(t, s):
    P, Q = t["P"], t["Q"]
    Rh = P @ Q.T + t["bu"][:, None] + t["bi"] + 3.0
    return (t["M"] * (Rh - t["R"]) ** 2).sum() + 0.1 * ((P ** 2).sum() + (Q ** 2).sum())


def nmf_frobenius_softplus(t, s):
    return 0.5 * ((t["V"] - F.softplus(t["A"]) @ F.softplus(t["B"])) ** 2).sum()


def cca_correlation(t, s):
    a, b = t["a"], t["b"]
    return -(a @ t["Cxy"] @ b) / torch.sqrt((a @ t["Cxx"] @ a) * (b @ t["Cyy"] @ b))


def ridge_bilevel_val(t, s):
    X = t["X"]
    w = torch.linalg.solve(X.T @ X + t["R"], X.T @ t["y"])
    return ((t["Xv"] @ w - t["yv"]) ** 2).sum()


def svm_dual_objective(t, s):
    X, u = t["X"], t["a"] * t["y"]
    return 0.5 * (u @ X @ X.T @ u) - t["a"].sum()


def metric_learning_contrastive(t, s):
    d = (((t["X1"] - t["X2"]) @ t["A"].T) ** 2).sum(1)
    return (t["s"] * d + (1 - t["s"]) * torch.relu(1 - d)).mean()


def logistic_experts_mixture(t, s):
    X, y = t["X"], t["y"]
    P = (torch.softmax(X @ t["V"], 1) * torch.sigmoid(X @ t["W"])).sum(1)
    return -(y * torch.log(P) + (1 - y) * torch.log(1 - P)).mean()


# -- Matrix Cookbook identities ---------------------------------------------------------------

def cb_trace_inv_a_plus_x(t, s):
    return torch.trace(torch.linalg.inv(t["A"] + t["X"]) @ t["Bm"])


def cb_frob_inverse(t, s):
    return (torch.linalg.inv(t["X"]) ** 2).sum()


def cb_det_axb(t, s):
    return torch.det(t["A"] @ t["X"] @ t["Bm"])


def cb_trace_xt_a_x_b(t, s):
    X = t["X"]
    return torch.trace(X.T @ t["A"] @ X @ t["Bm"])


def cb_gauss_mle_cov(t, s):
    S = t["S"]
    return torch.logdet(S) + torch.trace(torch.linalg.inv(S) @ t["C"])


def cb_frob_xxt_minus_a(t, s):
    X = t["X"]
    return ((X @ X.T - t["A"]) ** 2).sum()


def cb_trace_inv_xaxt(t, s):
    X = t["X"]
    return torch.trace(torch.linalg.inv(X @ t["A"] @ X.T))


def cb_logdet_xtx_plus_trace(t, s):
    G = t["X"].T @ t["X"]
    return torch.logdet(G) - torch.trace(G)


def cb_norm_ax_minus_b_split(t, s):
    e = t["A"] @ t["x"] - t["b"]
    return e @ e


def cb_bt_xinv_b_matrix(t, s):
    B = t["Bm"]
    return torch.trace(B.T @ torch.linalg.solve(t["X"], B))


def cb_det_inverse(t, s):
    X = t["X"]
    return torch.det(torch.linalg.inv(X)) + torch.det(X) ** 2


def cb_trace_sandwich_power(t, s):
    X = t["X"]
    return torch.trace(t["A"] @ X @ t["Bm"] @ X.T)


FORWARDS = {f.__name__: f for f in (
    mamba_gated_scan3, linear_attn_softplus, cross_attention_residual, perceiver_latent_attn,
    mixer_token_gelu_ln, gmlp_spatial_gate, film_conditioning, hypernet_linear, rope_rotate_half,
    rope_batched_rank3,
    adaln_modulation, sigmoid_attention, retention_decay_mask, deep_sets_sum_pool,
    neural_ode_euler3, pointnet_max_pool, cosine_classifier_temp, ntk_relu_kernel_regression,
    tversky_loss, squared_hinge_binary, poisson_nll_log_input, tukey_biweight, geman_mcclure,
    welsch_loss, wgan_critic_clip, energy_nce_lse, bce_pos_weight, margin_ranking,
    multilabel_soft_margin, weighted_ce_onehot, cauchy_lorentzian, ordinal_cumulative_logit,
    lasso_objective, elastic_net, kernel_ridge_rbf, gp_nll_rbf_solve, logreg_l1,
    fisher_lda_ratio, softmax_reg_label_smooth, matrix_completion_bias, nmf_frobenius_softplus,
    cca_correlation, ridge_bilevel_val, svm_dual_objective, metric_learning_contrastive,
    logistic_experts_mixture, cb_trace_inv_a_plus_x, cb_frob_inverse, cb_det_axb,
    cb_trace_xt_a_x_b, cb_gauss_mle_cov, cb_frob_xxt_minus_a, cb_trace_inv_xaxt,
    cb_logdet_xtx_plus_trace, cb_norm_ax_minus_b_split, cb_bt_xinv_b_matrix, cb_det_inverse,
    cb_trace_sandwich_power,
)}

# second sizes where distinct primes would not fit (defined dims, a slice's bound)
ALT = {'hypernet_linear': {'N': 5, 'D': 2, 'F': 3, 'E': 3},
       'rope_rotate_half': {'T': 3, 'H': 3},
       'rope_batched_rank3': {'B': 3, 'T': 5, 'H': 3},
       'gmlp_spatial_gate': {'T': 3, 'D': 5, 'H': 3}}
# (Cookbook Gram matrices stay full rank at the primes as the dims are ordered: Xᵀ X with K
# before N in cb_logdet_xtx_plus_trace, X A Xᵀ with N before K in cb_trace_inv_xaxt)

# second order checked against torch.autograd.functional.hvp too
HVP = ['mamba_gated_scan3', 'linear_attn_softplus', 'film_conditioning', 'hypernet_linear',
       'neural_ode_euler3', 'tversky_loss', 'geman_mcclure', 'kernel_ridge_rbf',
       'gp_nll_rbf_solve', 'fisher_lda_ratio', 'cca_correlation', 'ridge_bilevel_val',
       'cb_trace_inv_a_plus_x', 'cb_gauss_mle_cov', 'cb_trace_inv_xaxt', 'cb_det_axb']
