"""Hand-written PyTorch forward passes of the new-user models of session s32 (nu13), one per
tests/models/more13 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _sqdist(X, Y):
    return (X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * X @ Y.T


def _layernorm(X, eps):
    Xc = X - X.mean(1, keepdim=True)
    return Xc / torch.sqrt((Xc ** 2).mean(1, keepdim=True) + eps)


# -- sequence models and attention -------------------------------------------------------------

def mamba_selective_scan3(t, s):
    a, B = t["a"], t["Bm"]
    h = None
    for k in ("x1", "x2", "x3"):
        x = t[k]
        d = F.softplus(x @ t["wd"])
        h = d * (x @ B) if h is None else torch.exp(-d * a) * h + d * (x @ B)
    return ((h @ t["Cm"] - t["y"]) ** 2).sum()


def hyena_toeplitz_gate(t, s):
    X = t["X"]
    G = (t["Tz"] @ (X @ t["Wv"])) * (X @ t["Wg"])
    return ((G @ t["Wo"] - t["Y"]) ** 2).mean()


def mod_router_given_mask(t, s):
    X = t["X"]
    g = (t["m"] * torch.sigmoid(X @ t["wr"]))[:, None]
    O = X + g * (torch.relu(X @ t["W1"]) @ t["W2"])
    return ((O - t["Y"]) ** 2).sum() / s["B"]


def mlstm_matrix_memory2(t, s):
    D = s["D"]
    x1, x2 = t["x1"], t["x2"]
    k1, v1, i1 = x1 @ t["Wk"] / math.sqrt(D), x1 @ t["Wv"], torch.exp(x1 @ t["wi"])
    C, n = i1 * torch.outer(v1, k1), i1 * k1
    k2, v2, i2 = x2 @ t["Wk"] / math.sqrt(D), x2 @ t["Wv"], torch.exp(x2 @ t["wi"])
    f2 = torch.sigmoid(x2 @ t["wf"])
    C, n = f2 * C + i2 * torch.outer(v2, k2), f2 * n + i2 * k2
    q = x2 @ t["Wq"]
    h = (C @ q) / torch.clamp(torch.abs(n @ q), min=1.0)
    return torch.tanh(h).sum()


def retnet_two_scale_heads(t, s):
    X = t["X"]

    def head(i, Dm):
        Q, K, V = X @ t[f"Wq{i}"], X @ t[f"Wk{i}"], X @ t[f"Wv{i}"]
        return ((Q @ K.T) * Dm) @ V
    O = torch.cat([head(1, t["D1"]), head(2, t["D2"])], 1) @ t["Wo"]
    return torch.tanh(O).sum()


def fnet_real_dft(t, s):
    X = t["X"]
    M = t["Ct"] @ X @ t["Cd"] - t["St"] @ X @ t["Sd"]
    N = _layernorm(X + M, 1e-5)
    return ((torch.relu(N @ t["W1"]) @ t["W2"] - t["Y"]) ** 2).mean()


def mixer_two_blocks_tanh(t, s):
    X = t["X"]
    A = X + t["T2"] @ torch.tanh(t["T1"] @ X)
    B = A + torch.tanh(A @ t["C1"]) @ t["C2"]
    A2 = B + t["U2"] @ torch.tanh(t["U1"] @ B)
    return ((A2.mean(0) - t["y"]) ** 2).sum()


def deltanet_delta_rule2(t, s):
    x1, x2 = t["x1"], t["x2"]
    k1 = x1 @ t["Wk"]
    k1 = k1 / k1.norm()
    S = torch.sigmoid(x1 @ t["wb"]) * torch.outer(x1 @ t["Wv"], k1)
    k2 = x2 @ t["Wk"]
    k2 = k2 / k2.norm()
    S = S - torch.sigmoid(x2 @ t["wb"]) * torch.outer(S @ k2 - x2 @ t["Wv"], k2)
    return ((S @ (x2 @ t["Wq"]) - t["y"]) ** 2).sum()


def lru_diag_real3(t, s):
    lam = torch.exp(-torch.exp(t["nu"]))
    g = torch.sqrt(1 - lam ** 2)
    B = t["Bm"]
    h = g * (B @ t["x1"])
    h = lam * h + g * (B @ t["x2"])
    h = lam * h + g * (B @ t["x3"])
    return ((t["Cm"] @ h + t["dd"] * t["x3"] - t["y"]) ** 2).sum()


def talking_heads_rank3(t, s):
    S = t["Q"] @ t["K"].transpose(1, 2) / math.sqrt(s["Dh"])
    Sm = torch.stack([sum(t["P"][g, h] * S[h] for h in range(s["H"])) for g in range(s["H"])])
    return ((torch.softmax(Sm, -1) @ t["V"]) ** 2).sum()


def xca_cross_covariance(t, s):
    X = t["X"]
    Q, K = X @ t["Wq"], X @ t["Wk"]
    Qn, Kn = Q / Q.norm(dim=0, keepdim=True), K / K.norm(dim=0, keepdim=True)
    A = torch.softmax(t["tau"] * (Kn.T @ Qn), 0)
    return torch.tanh((X @ t["Wv"]) @ A).sum()


def ntxent_concat_views(t, s):
    Z = torch.cat([t["X1"] @ t["W"], t["X2"] @ t["W"]], 0)
    Zn = F.normalize(Z, dim=1, eps=0.0)
    S = Zn @ Zn.T / 0.5 + t["Ms"]
    return -(t["Pm"] * F.log_softmax(S, 1)).sum() / (2 * s["B"])


# -- losses -------------------------------------------------------------------------------------

def arcface_additive_angle(t, s):
    Xn = t["X"] / t["X"].norm(dim=1, keepdim=True)
    Wn = t["W"] / t["W"].norm(dim=0, keepdim=True)
    c = Xn @ Wn
    ct = c * math.cos(0.5) - torch.sqrt(1.0001 - c ** 2) * math.sin(0.5)
    T = t["T"]
    Z = 8 * (T * ct + (1 - T) * c)
    return -(T * F.log_softmax(Z, 1)).sum(1).mean()


def label_smooth_int_labels(t, s):
    return F.cross_entropy(t["X"] @ t["W"] + t["b"], t["y"], label_smoothing=0.1)


def kd_hard_soft_mix(t, s):
    Zs, Zt = t["X"] @ t["W"], t["Zt"]
    kl = F.kl_div(F.log_softmax(Zs / 3, 1), F.log_softmax(Zt / 3, 1), reduction="batchmean",
                  log_target=True)
    return 0.7 * 9 * kl + 0.3 * F.cross_entropy(Zs, t["y"])


def expectile_regression(t, s):
    e = t["y"] - t["X"] @ t["w"]
    return (torch.abs(0.8 - (e < 0).double()) * e ** 2).mean()


def tobit_censored_nll(t, s):
    mu, sig = t["X"] @ t["w"], torch.exp(t["s"])
    normal = torch.distributions.Normal(0.0, 1.0)
    cens = -torch.log(normal.cdf(-mu / sig))
    obs = t["s"] + (t["y"] - mu) ** 2 / (2 * sig ** 2)
    return torch.where(t["y"] > 0, obs, cens).sum()


def poisson_mf_softplus(t, s):
    lam = F.softplus(t["U"] @ t["V"].T)
    return F.poisson_nll_loss(lam, t["Y"], log_input=False, eps=0.0, reduction="sum")


def ppca_marginal_nll(t, s):
    C = t["W"] @ t["W"].T + torch.exp(t["ls"]) * t["I"]
    return torch.logdet(C) + torch.trace(torch.linalg.solve(C, t["S"]))


def ica_infomax_logistic(t, s):
    Sg = torch.sigmoid(t["W"] @ t["X"])
    return -torch.linalg.slogdet(t["W"])[1] - torch.log(Sg * (1 - Sg)).sum() / s["B"]


def radial_flow_logdet(t, s):
    al = F.softplus(t["a"])
    be = F.softplus(t["b"]) - al
    d = t["z"] - t["z0"]
    r = d.norm()
    h = 1 / (al + r)
    zp = t["z"] + be * h * d
    ld = (s["D"] - 1) * torch.log(1 + be * h) + torch.log(1 + be * h - be * h ** 2 * r)
    return 0.5 * (zp ** 2).sum() - ld


def affine_coupling_two_masks(t, s):
    X, m = t["X"], t["m"]
    s1 = torch.tanh((m * X) @ t["Ws1"])
    Y1 = m * X + (1 - m) * (X * torch.exp(s1) + (m * X) @ t["Wt1"])
    s2 = torch.tanh(((1 - m) * Y1) @ t["Ws2"])
    Y2 = (1 - m) * Y1 + m * (Y1 * torch.exp(s2) + ((1 - m) * Y1) @ t["Wt2"])
    return (0.5 * (Y2 ** 2).sum() - ((1 - m) * s1).sum() - (m * s2).sum()) / s["B"]


def cvae_concat_label(t, s):
    X, Yo = t["X"], t["Yo"]
    Xc = torch.cat([X, Yo], 1)
    mu, lv = Xc @ t["Wm"], Xc @ t["Wl"]
    z = mu + torch.exp(0.5 * lv) * t["eps"]
    Xh = torch.cat([z, Yo], 1) @ t["Wd"]
    kl = -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum()
    return (((Xh - X) ** 2).sum() + kl) / s["B"]


def wgan_drift_penalty(t, s):
    def critic(x):
        return F.leaky_relu(x @ t["W1"], 0.2) @ t["w2"]
    Dr, Df = critic(t["Xr"]), critic(t["Zn"] @ t["G"])
    return Df.mean() - Dr.mean() + 0.001 * (Dr ** 2).mean()


def mmd_rbf_generator(t, s):
    X, Y = t["Zn"] @ t["G"], t["Y"]

    def k(a, b):
        return torch.exp(-_sqdist(a, b) / 4)
    return k(X, X).mean() + k(Y, Y).mean() - 2 * k(X, Y).mean()


def energy_distance(t, s):
    X, Y = t["Xs"] @ t["A"], t["Y"]

    def d(a, b):
        return torch.sqrt(_sqdist(a, b) + 0.001)
    return 2 * d(X, Y).mean() - d(X, X).mean() - d(Y, Y).mean()


def kernel_pca_rbf_objective(t, s):
    X, A = t["X"], t["A"]
    Kc = t["H"] @ torch.exp(-_sqdist(X, X) / 2) @ t["H"]
    return -torch.trace(A.T @ Kc @ A) + ((A.T @ A - t["I"]) ** 2).sum()


def gmm_em_q_function(t, s):
    Dist = _sqdist(t["X"], t["Mu"])
    ll = F.log_softmax(t["a"], 0) - s["D"] * t["s"] - Dist / (2 * torch.exp(2 * t["s"]))
    return -(t["R"] * ll).sum()


def hmm_forward_softmax_emit(t, s):
    lA, lE = F.log_softmax(t["At"], 1), F.log_softmax(t["E"], 1)
    f = F.log_softmax(t["a0"], 0) + lE @ t["o1"]
    for o in ("o2", "o3", "o4"):
        f = torch.logsumexp(f[:, None] + lA, 0) + lE @ t[o]
    return -torch.logsumexp(f, 0)


def structured_svm_cost(t, s):
    S = t["X"] @ t["W"]
    y = t["y"]
    aug = (S + t["Dc"][y]).max(1).values
    return (aug - S[torch.arange(s["B"]), y]).mean() + 0.01 * (t["W"] ** 2).sum()


# -- graphs -------------------------------------------------------------------------------------

def graphsage_mean_agg(t, s):
    X, A = t["X"], t["A"]
    deg = A.sum(1, keepdim=True) + 1
    Hh = torch.relu(X @ t["Ws"] + (A @ X / deg) @ t["Wn"])
    Hn = Hh / (Hh.norm(dim=1, keepdim=True) + 0.01)
    return -(t["T"] * F.log_softmax(Hn @ t["Wc"], 1)).sum(1).mean()


def appnp_propagate3(t, s):
    Z0 = torch.relu(t["X"] @ t["W1"]) @ t["W2"]
    Z = Z0
    for _ in range(3):
        Z = 0.9 * t["Ah"] @ Z + 0.1 * Z0
    return F.cross_entropy(Z, t["y"])


def gcn_ahat_xw_linear(t, s):
    Ah = t["Ah"]
    return ((Ah @ Ah @ t["X"] @ t["W"] - t["Y"]) ** 2).sum()


# -- Matrix Cookbook ----------------------------------------------------------------------------

def cb_trace_a_x_b_x(t, s):
    X = t["X"]
    return torch.trace(t["A"] @ X @ t["Bm"] @ X)


def cb_trace_sym_cubed(t, s):
    S = t["S"]
    return torch.trace(torch.linalg.matrix_power(S, 3)) + torch.trace(S @ S @ t["A"])


def cb_trace_x_power5_split(t, s):
    return torch.trace(torch.linalg.matrix_power(t["X"], 5))


def cb_quad_sym_matrix_wrt(t, s):
    S = t["S"]
    return t["a"] @ S @ t["b"] + t["x"] @ S @ t["x"]


def cb_logdet_spd_wrt(t, s):
    S = t["S"]
    return torch.logdet(S) + torch.trace(torch.linalg.inv(S) @ t["A"])


def cb_det_spd_inline(t, s):
    S = t["S"]
    return torch.det(S) + torch.det(S.T @ S)


def cb_trace_xt_sym_x(t, s):
    X = t["X"]
    return torch.trace(X.T @ t["S"] @ X)


def cb_frob_xy_both(t, s):
    return torch.linalg.matrix_norm(t["X"] @ t["Y"] - t["C"]) ** 2


def cb_frob_norm_xtx(t, s):
    return torch.linalg.matrix_norm(t["X"].T @ t["X"])


def cb_logdet_xtx_sym_split(t, s):
    X = t["X"]
    return torch.logdet(X.T @ X) + torch.logdet(X.T @ t["S"] @ X)


def cb_inv_quad_sym(t, s):
    return t["a"] @ torch.linalg.solve(t["S"], t["b"])


# -- regression ---------------------------------------------------------------------------------

def gamma_glm_deviance(t, s):
    mu, y = torch.exp(t["X"] @ t["w"]), t["y"]
    return 2 * (-torch.log(y / mu) + (y - mu) / mu).sum()


def weibull_aft_nll(t, s):
    k = torch.exp(t["lk"])
    lam = torch.exp(t["X"] @ t["w"])
    y = t["y"]
    logf = torch.log(k) - torch.log(lam) + (k - 1) * torch.log(y / lam) - (y / lam) ** k
    return -logf.sum()


def tweedie_deviance(t, s):
    eta, p = t["X"] @ t["w"], 1.5
    return (-t["y"] * torch.exp((1 - p) * eta) / (1 - p)
            + torch.exp((2 - p) * eta) / (2 - p)).mean()


def group_lasso_rows(t, s):
    W = t["W"]
    return ((t["X"] @ W - t["Y"]) ** 2).mean() + 0.1 * math.sqrt(s["C"]) * W.norm(dim=1).sum()


def hinge_embedding_pm1(t, s):
    d = ((t["X1"] - t["X2"]) @ t["W"]).norm(dim=1)
    return F.hinge_embedding_loss(d, torch.where(t["y"] > 0, 1.0, -1.0).double(), margin=1.0)


def loocv_ridge_hat(t, s):
    X, y = t["X"], t["y"]
    H = X @ torch.linalg.solve(X.T @ X + torch.exp(t["ll"]) * t["I"], X.T)
    e = y - H @ y
    return ((e / (1 - torch.diagonal(H))) ** 2).sum()


def circle_loss_pairs(t, s):
    Z, qW = t["X"] @ t["W"], t["q"] @ t["W"]
    sim = F.cosine_similarity(Z, qW[None, :], dim=1, eps=0.0)
    ap, an = torch.relu(1.25 - sim), torch.relu(sim + 0.25)
    lp = torch.logsumexp(-4 * ap * (sim - 0.75) - 1000 * (1 - t["Pm"]), 0)
    ln = torch.logsumexp(4 * an * (sim - 0.25) - 1000 * (1 - t["Nm"]), 0)
    return F.softplus(lp + ln)


FORWARDS = {f.__name__: f for f in (
    mamba_selective_scan3, hyena_toeplitz_gate, mod_router_given_mask, mlstm_matrix_memory2,
    retnet_two_scale_heads, fnet_real_dft, mixer_two_blocks_tanh, deltanet_delta_rule2,
    lru_diag_real3, talking_heads_rank3, xca_cross_covariance, ntxent_concat_views,
    arcface_additive_angle, label_smooth_int_labels, kd_hard_soft_mix, expectile_regression,
    tobit_censored_nll, poisson_mf_softplus, ppca_marginal_nll, ica_infomax_logistic,
    radial_flow_logdet, affine_coupling_two_masks, cvae_concat_label, wgan_drift_penalty,
    mmd_rbf_generator, energy_distance, kernel_pca_rbf_objective, gmm_em_q_function,
    hmm_forward_softmax_emit, structured_svm_cost,
    graphsage_mean_agg, appnp_propagate3, gcn_ahat_xw_linear,
    cb_trace_a_x_b_x, cb_trace_sym_cubed, cb_trace_x_power5_split, cb_quad_sym_matrix_wrt,
    cb_logdet_spd_wrt, cb_det_spd_inline, cb_trace_xt_sym_x, cb_frob_xy_both, cb_frob_norm_xtx,
    cb_logdet_xtx_sym_split, cb_inv_quad_sym,
    gamma_glm_deviance, weibull_aft_nll, tweedie_deviance, group_lasso_rows, hinge_embedding_pm1,
    loocv_ridge_hat, circle_loss_pairs,
)}

# second sizes where distinct primes would not fit (defined dims)
ALT = {'retnet_two_scale_heads': {'T': 5, 'Dh': 3}, 'ntxent_concat_views': {'B': 5, 'D': 3},
       'cvae_concat_label': {'B': 5, 'D': 3, 'C': 4, 'Z': 2},
       'cb_logdet_xtx_sym_split': {'N': 7, 'K': 3}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['mamba_selective_scan3', 'ppca_marginal_nll', 'radial_flow_logdet',
       'hmm_forward_softmax_emit', 'tobit_censored_nll', 'cb_logdet_spd_wrt', 'cb_trace_sym_cubed',
       'loocv_ridge_hat',
       'mlstm_matrix_memory2', 'gmm_em_q_function', 'xca_cross_covariance']
