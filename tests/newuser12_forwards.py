"""Hand-written PyTorch forward passes of the new-user models of session s31 (nu12), one per
tests/models/more12 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _layernorm(X, eps):
    Xc = X - X.mean(1, keepdim=True)
    return Xc / torch.sqrt((Xc ** 2).mean(1, keepdim=True) + eps)


def _ce_labels(Z, lab):
    return F.cross_entropy(Z, lab)


def _sqdist(X, Y):
    return (X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * X @ Y.T


# -- sequence models and attention -------------------------------------------------------------

def s4d_diag_recurrence3(t, s):
    a = torch.exp(-F.softplus(t["nu"]))
    h = t["x1"] @ t["Bm"]
    h = a * h + t["x2"] @ t["Bm"]
    h = a * h + t["x3"] @ t["Bm"]
    return ((h @ t["Cm"] - t["Y"]) ** 2).mean()


def linear_attn_causal_mask(t, s):
    X = t["X"]
    pq, pk = F.elu(X @ t["Wq"]) + 1, F.elu(X @ t["Wk"]) + 1
    A = t["M"] * (pq @ pk.T)
    return torch.tanh((A @ (X @ t["Wv"])) / A.sum(1, keepdim=True)).sum()


def performer_random_features(t, s):
    def phi(x):
        return torch.exp(x @ t["Om"] - (x ** 2).sum(1, keepdim=True) / 2) / math.sqrt(s["R"])
    pq, pk = phi(t["Q"]), phi(t["K"])
    O = (pq @ (pk.T @ t["V"])) / (pq @ pk.sum(0))[:, None]
    return (O ** 2).sum()


def alibi_heads_rank3(t, s):
    S = t["Q"] @ t["K"].transpose(1, 2) / math.sqrt(s["Dh"]) - t["m"] * t["Dist"]
    return ((torch.softmax(S, -1) @ t["V"]) ** 2).sum()


def reglu_ffn(t, s):
    X = t["X"]
    H = torch.relu(X @ t["W"]) * (X @ t["V"])
    return ((X + H @ t["W2"] - t["Y"]) ** 2).mean()


def bilinear_glu_inline(t, s):
    X = t["X"]
    return ((((X @ t["W"]) * (X @ t["V"])) @ t["W2"]) ** 2).sum() / s["B"]


def moe_soft_router_rank3(t, s):
    X = t["X"]
    P = torch.softmax(X @ t["Wg"], -1)
    O = sum(P[:, e:e + 1] * (X @ t["We"][e]) for e in range(s["E"]))
    return ((O - t["Y"]) ** 2).mean()


def hopfield_update2(t, s):
    X, b = t["X"], t["beta"]
    x1 = X.T @ torch.softmax(b * (X @ t["xi"]), 0)
    x2 = X.T @ torch.softmax(b * (X @ x1), 0)
    return ((x2 - t["t"]) ** 2).sum()


def crf_chain3_nll(t, s):
    W, Tr = t["W"], t["Tr"]
    e1, e2, e3 = t["x1"] @ W, t["x2"] @ W, t["x3"] @ W
    a2 = e2 + torch.logsumexp(e1[:, None] + Tr, 0)
    a3 = e3 + torch.logsumexp(a2[:, None] + Tr, 0)
    y1, y2, y3 = t["y1"], t["y2"], t["y3"]
    score = e1 @ y1 + e2 @ y2 + e3 @ y3 + y1 @ Tr @ y2 + y2 @ Tr @ y3
    return torch.logsumexp(a3, 0) - score


def luong_attention_general(t, s):
    Hs, ht = t["Hs"], t["ht"]
    a = torch.softmax(Hs @ (t["W"] @ ht), 0)
    hh = torch.tanh(t["Wc"] @ torch.cat([a @ Hs, ht]))
    return -torch.log_softmax(t["Wo"] @ hh, 0)[t["y"]].sum()


def dilated_conv_slices(t, s):
    X, To, T = t["X"], s["To"], s["T"]
    A = X[0:To] @ t["W0"] + X[2:T] @ t["W1"]
    G = X[0:To] @ t["G0"] + X[2:T] @ t["G1"]
    H = torch.tanh(A) * torch.sigmoid(G)
    return ((X[2:T] + H @ t["Wr"]) ** 2).sum()


def softmax_one_attention(t, s):
    X = t["X"]
    S = (X @ t["Wq"]) @ (X @ t["Wk"]).T / math.sqrt(s["D"])
    A = torch.exp(S) / (1 + torch.exp(S).sum(1, keepdim=True))
    return ((A @ (X @ t["Wv"])) ** 2).sum()


def qrnn_fpool3(t, s):
    h = None
    for k in ("x1", "x2", "x3"):
        f = torch.sigmoid(t[k] @ t["Wf"])
        z = (1 - f) * torch.tanh(t[k] @ t["Wz"])
        h = z if h is None else f * h + z
    return ((h - t["y"]) ** 2).sum()


def slstm_exp_gate2(t, s):
    x1, x2 = t["x1"], t["x2"]
    i1 = torch.exp(x1 @ t["Wi"])
    c1, n1 = i1 * torch.tanh(x1 @ t["Wz"]), i1
    f2, i2 = torch.sigmoid(x2 @ t["Wf"]), torch.exp(x2 @ t["Wi"])
    c2 = f2 * c1 + i2 * torch.tanh(x2 @ t["Wz"])
    n2 = f2 * n1 + i2
    return ((torch.sigmoid(x2 @ t["Wo"]) * c2 / n2) ** 2).sum()


def rwkv_wkv3(t, s):
    w = torch.exp(t["wl"])
    e1, e2, e3 = torch.exp(t["k1"] - w), torch.exp(t["k2"]), torch.exp(t["u"] + t["k3"])
    return torch.tanh((e1 * t["v1"] + e2 * t["v2"] + e3 * t["v3"]) / (e1 + e2 + e3)).sum()


def lora_scaled_two_targets(t, s):
    X = t["X"]
    Q = X @ (t["Wq"] + 4 * t["Bq"] @ t["Aq"])
    V = X @ (t["Wv"] + 4 * t["Bv"] @ t["Av"])
    O = torch.softmax(Q @ (X @ t["Wk"]).T / math.sqrt(s["D"]), -1) @ V
    return (O ** 2).sum()


# -- energy-based, generative, probabilistic ----------------------------------------------------

def rbm_free_energy_cd(t, s):
    def free(V):
        return -(V @ t["b"]) - F.softplus(V @ t["W"] + t["c"]).sum(1)
    return free(t["Vd"]).mean() - free(t["Vm"]).mean()


def ebm_contrastive_reg(t, s):
    Ep = F.silu(t["Xp"] @ t["W1"]) @ t["w2"]
    En = F.silu(t["Xn"] @ t["W1"]) @ t["w2"]
    return Ep.mean() - En.mean() + 0.1 * (Ep ** 2 + En ** 2).mean()


def gumbel_softmax_noise(t, s):
    Y = torch.softmax((t["X"] @ t["W"] + t["G"]) / t["tau"], -1)
    return (Y * t["Cost"]).sum() / s["B"]


def sinkhorn_log_domain2(t, s):
    C, la, lb = t["C"], torch.log(t["a"]), torch.log(t["b"])
    g = torch.zeros_like(t["b"])
    for _ in range(2):
        f = 0.5 * la - 0.5 * torch.logsumexp((g[None, :] - C) / 0.5, 1)
        g = 0.5 * lb - 0.5 * torch.logsumexp((f[:, None] - C) / 0.5, 0)
    P = torch.exp((f[:, None] + g[None, :] - C) / 0.5)
    return (P * C).sum()


def gp_ard_nll(t, s):
    Z = t["X"] * torch.exp(-t["ell"])
    K = torch.exp(-0.5 * _sqdist(Z, Z)) + torch.exp(t["lsn"]) * t["Sn"]
    return 0.5 * torch.logdet(K) + 0.5 * t["y"] @ torch.linalg.solve(K, t["y"])


def kernel_ridge_poly_heldout(t, s):
    X = t["X"]
    al = torch.linalg.solve((X @ X.T + 1) ** 2 + t["lam"] * t["Sn"], t["y"])
    return ((((t["Xt"] @ X.T + 1) ** 2) @ al - t["yt"]) ** 2).sum()


def logistic_normal_topic(t, s):
    mu, ls = t["mu"], t["ls"]
    th = torch.softmax(mu + torch.exp(ls) * t["eps"], 0)
    kl = 0.5 * (torch.exp(2 * ls) + mu ** 2 - 1 - 2 * ls).sum()
    return -(t["n"] @ torch.log(th @ t["Beta"])) + kl


def negbin_glm(t, s):
    mu, r, y = torch.exp(t["X"] @ t["w"]), t["r"], t["y"]
    return -(y * torch.log(mu / (mu + r)) + r * torch.log(r / (mu + r))).sum()


def zero_inflated_poisson(t, s):
    X, y = t["X"], t["y"]
    eta = X @ t["w"]
    lam, pi = torch.exp(eta), torch.sigmoid(X @ t["v"])
    l0 = torch.log(pi + (1 - pi) * torch.exp(-lam))
    l1 = torch.log(1 - pi) + y * eta - lam
    return -torch.where(y > 0.5, l1, l0).sum()


def cox_partial_likelihood(t, s):
    eta = t["X"] @ t["beta"]
    return -(t["dl"] * (eta - torch.log(t["R"] @ torch.exp(eta)))).sum() \
        + 0.01 * t["beta"] @ t["beta"]


def mf_logistic_biases(t, s):
    U, V = t["U"], t["V"]
    Z = U @ V.T + t["bu"][:, None] + t["bi"][None, :] + t["mu"]
    return (F.softplus(Z) - t["Rt"] * Z).sum() + 0.05 * ((U ** 2).sum() + (V ** 2).sum())


def nerf_volume_weights(t, s):
    sd = torch.relu(t["sig"]) * t["delta"]
    w = torch.exp(-(sd @ t["Lt"].T)) * (1 - torch.exp(-sd))
    return (((w * t["Col"]).sum(1) - t["c"]) ** 2).sum()


def iwae_bound_k3(t, s):
    E, ls = t["E"], t["ls"]
    Z = t["mu"] + torch.exp(ls) * E
    lw = -0.5 * ((t["x"] - Z @ t["Wd"]) ** 2).sum(1) - 0.5 * (Z ** 2).sum(1) \
        + 0.5 * (E ** 2).sum(1) + ls.sum()
    return -(torch.logsumexp(lw, 0) - math.log(3))


def denoising_score_matching(t, s):
    Xt = t["X"] + 0.5 * t["Eps"]
    S = torch.tanh(Xt @ t["W1"]) @ t["W2"]
    return 0.5 * ((S + (Xt - t["X"]) / 0.25) ** 2).sum(1).mean()


def ddpm_eps_loss(t, s):
    ab = t["ab"]
    Xt = torch.sqrt(ab) * t["X0"] + torch.sqrt(1 - 0.5 * ab) * t["Eps"]
    Eh = F.gelu(Xt @ t["W1"] + t["Temb"]) @ t["W2"]
    return ((t["Eps"] - Eh) ** 2).mean()


def flow_matching_linear(t, s):
    X0, X1, tt = t["X0"], t["X1"], t["t"]
    Xt = (1 - tt) * X0 + tt * X1
    V = F.silu(torch.cat([Xt, tt], 1) @ t["W1"]) @ t["W2"]
    return ((V - (X1 - X0)) ** 2).mean()


def glow_actnorm_invconv(t, s):
    Z = ((t["X"] + t["b"]) * torch.exp(t["s"])) @ t["W"].T
    return 0.5 * (Z ** 2).sum() - s["B"] * (t["s"].sum() + torch.logdet(t["W"]))


def blr_evidence(t, s):
    X, y, la, lb, S0 = t["X"], t["y"], t["la"], t["lb"], t["S0"]
    A = torch.exp(la) * S0 + torch.exp(lb) * X.T @ X
    m = torch.exp(lb) * torch.linalg.solve(A, X.T @ y)
    return 0.5 * torch.logdet(A) + 0.5 * torch.exp(lb) * ((y - X @ m) ** 2).sum() \
        + 0.5 * torch.exp(la) * m @ S0 @ m - 0.5 * s["N"] * lb - 0.5 * s["D"] * la


def student_t_regression(t, s):
    r = t["y"] - t["X"] @ t["w"]
    return (2 * torch.log(1 + r ** 2 / (3 * torch.exp(2 * t["ls"]))) + t["ls"]).sum()


# -- layers, adapters, normalisation ------------------------------------------------------------

def perceptual_style_content(t, s):
    F1 = torch.relu(t["X"] @ t["W1"])
    F2 = torch.relu(F1 @ t["W2"])
    P = s["P"]
    S1, S2 = F1.T @ F1 / P, F2.T @ F2 / P
    return ((F2 - t["Fc"]) ** 2).mean() + ((S1 - t["G1"]) ** 2).sum() \
        + 0.5 * ((S2 - t["G2"]) ** 2).sum()


def dice_bce_combo(t, s):
    Z, Y = t["Z"], t["Y"]
    p = torch.sigmoid(Z)
    bce = (F.softplus(Z) - Y * Z).mean()
    dice = 1 - (2 * (p * Y).sum(1) + 1) / (p.sum(1) + Y.sum(1) + 1)
    return bce + dice.mean()


def adaln_zero_gate(t, s):
    X, D = t["X"], s["D"]
    M = t["c"] @ t["Wc"]
    shift, scale, gate = M[:, :D], M[:, D:2 * D], M[:, 2 * D:]
    Y = X + gate * ((_layernorm(X, 1e-5) * (1 + scale) + shift) @ t["W"])
    return (Y ** 2).sum() / s["B"]


def spectral_norm_power_step(t, s):
    W = t["W"]
    u = W @ t["v0"]
    u = u / u.norm()
    v = W.T @ u
    v = v / v.norm()
    return ((t["X"] @ W.T / (u @ W @ v) - t["Y"]) ** 2).sum()


def dora_linear(t, s):
    Wd = t["W0"] + t["Bl"] @ t["Al"]
    Wn = t["m"] * Wd / Wd.norm(dim=0, keepdim=True)
    return ((t["X"] @ Wn.T - t["Y"]) ** 2).mean()


def prelu_channels(t, s):
    Z = t["X"] @ t["W1"]
    A = torch.where(Z > 0, Z, t["a"] * Z)
    return _ce_labels(A @ t["W2"], t["lab"])


def contractive_autoencoder(t, s):
    X, W = t["X"], t["W"]
    H = torch.sigmoid(X @ W + t["b"])
    R = H @ t["Wd"] - X
    J = (H * (1 - H)) ** 2 @ (W ** 2).sum(0)
    return (R ** 2).sum(1).mean() + 0.1 * J.mean()


def sparse_ae_kl(t, s):
    X = t["X"]
    H = torch.sigmoid(X @ t["W"])
    rho = H.mean(0)
    kl = (0.05 * torch.log(0.05 / rho) + 0.95 * torch.log(0.95 / (1 - rho))).sum()
    return ((H @ t["Wd"] - X) ** 2).sum() / s["B"] + 3 * kl


def uncertainty_task_weighting(t, s):
    H = torch.relu(t["X"] @ t["W"])
    mse = ((H @ t["wr"] - t["y"]) ** 2).mean()
    ce = _ce_labels(H @ t["Wc"], t["lab"])
    s1, s2 = t["s1"], t["s2"]
    return 0.5 * torch.exp(-s1) * mse + torch.exp(-s2) * ce + 0.5 * s1 + 0.5 * s2


def laplacian_smoothness(t, s):
    Fp = torch.softmax(t["X"] @ t["W"], -1)
    Lap = torch.diag(t["Dg"]) - t["A"]
    return -(t["m"] * (t["Y"] * torch.log(Fp)).sum(1)).sum() + 0.1 * torch.trace(Fp.T @ Lap @ Fp)


# -- embeddings, self-supervision ---------------------------------------------------------------

def transe_margin(t, s):
    E = t["E"]
    Q = E[t["h"]] + t["Rel"][t["r"]]
    dp = (Q - E[t["t"]]).norm(dim=1)
    dn = (Q - E[t["tn"]]).norm(dim=1)
    return torch.relu(1 + dp - dn).sum()


def distmult_bce(t, s):
    E, Eh = t["E"], t["E"][t["h"]]
    sc = (Eh * t["Rel"][t["r"]] * E[t["t"]]).sum(1)
    return (F.softplus(sc) - t["y"] * sc).mean() + 0.01 * (Eh ** 2).sum()


def cbow_mean_context(t, s):
    Hc = t["E"][t["ctx"]].mean(1)
    return _ce_labels(Hc @ t["Wo"], t["w"])


def glove_weighted(t, s):
    V = s["V"]
    E = t["W"] @ t["Wt"].T + t["b"].reshape(V, 1) + t["bt"].reshape(1, V) - torch.log(t["Xc"])
    return (t["Fw"] * E ** 2).sum()


def dino_centering(t, s):
    Pt = torch.softmax((t["Xt"] @ t["Wt"] - t["c"]) / 0.04, -1)
    return -(Pt * torch.log_softmax(t["Xs"] @ t["Ws"] / 0.1, -1)).sum(1).mean()


def byol_predictor(t, s):
    Q = torch.tanh(t["X1"] @ t["Wp"]) @ t["Wq"]
    Z = t["X2"] @ t["Wt"]
    return (2 - 2 * F.cosine_similarity(Q, Z, dim=1, eps=0)).sum()


# -- Matrix Cookbook ---------------------------------------------------------------------------

def cb_logdet_axb(t, s):
    return torch.logdet(t["A"] @ t["X"] @ t["Bm"])


def cb_logdet_xy_split(t, s):
    return torch.logdet(t["X"] @ t["Y"])


def cb_affine_bilinear(t, s):
    x = t["x"]
    return (t["Bm"] @ x + t["b"]) @ t["Cm"] @ (t["Dm"] @ x + t["d"])


def cb_at_xx_b(t, s):
    return t["a"] @ t["X"] @ t["X"] @ t["b"]


def cb_norm_x_minus_a(t, s):
    return (t["x"] - t["a"]).norm()


def cb_frob_axb_unsquared(t, s):
    return (t["A"] @ t["X"] @ t["Bm"]).norm()


def cb_trace_a_diag_v(t, s):
    Dv = torch.diag(t["v"])
    return torch.trace(t["A"] @ Dv @ t["Bm"] @ Dv)


def cb_trace_x_fourth(t, s):
    X = t["X"]
    return torch.trace(X @ X @ X @ X)


def cb_trace_xinv_a_xinv_b(t, s):
    Y = torch.linalg.inv(t["X"])
    return torch.trace(Y @ t["A"] @ Y @ t["Bm"])


def cb_logdet_xtax(t, s):
    X = t["X"]
    return torch.logdet(X.T @ t["A"] @ X)


def cb_svd_diag_structured(t, s):
    return ((t["U"] @ torch.diag(t["s"]) @ t["V"].T - t["Mt"]) ** 2).sum()


def cb_trace_inv_xt_a(t, s):
    return torch.trace(torch.linalg.inv(t["X"].T) @ t["A"])


FORWARDS = {f.__name__: f for f in (
    s4d_diag_recurrence3, linear_attn_causal_mask, performer_random_features, alibi_heads_rank3,
    reglu_ffn, bilinear_glu_inline, moe_soft_router_rank3, hopfield_update2, crf_chain3_nll,
    luong_attention_general, dilated_conv_slices, softmax_one_attention, qrnn_fpool3,
    slstm_exp_gate2, rwkv_wkv3, lora_scaled_two_targets,
    rbm_free_energy_cd, ebm_contrastive_reg, gumbel_softmax_noise, sinkhorn_log_domain2,
    gp_ard_nll, kernel_ridge_poly_heldout, logistic_normal_topic, negbin_glm,
    zero_inflated_poisson, cox_partial_likelihood, mf_logistic_biases, nerf_volume_weights,
    iwae_bound_k3, denoising_score_matching, ddpm_eps_loss, flow_matching_linear,
    glow_actnorm_invconv, blr_evidence, student_t_regression,
    perceptual_style_content, dice_bce_combo, adaln_zero_gate, spectral_norm_power_step,
    dora_linear, prelu_channels, contractive_autoencoder, sparse_ae_kl,
    uncertainty_task_weighting, laplacian_smoothness,
    transe_margin, distmult_bce, cbow_mean_context, glove_weighted, dino_centering,
    byol_predictor,
    cb_logdet_axb, cb_logdet_xy_split, cb_affine_bilinear, cb_at_xx_b, cb_norm_x_minus_a,
    cb_frob_axb_unsquared, cb_trace_a_diag_v, cb_trace_x_fourth, cb_trace_xinv_a_xinv_b,
    cb_logdet_xtax, cb_svd_diag_structured, cb_trace_inv_xt_a,
)}

# second sizes where distinct primes would not fit (defined dims, a slice's bound, a count)
ALT = {'dilated_conv_slices': {'T': 7, 'C': 5}, 'cb_logdet_xtax': {'N': 5, 'K': 3}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['hopfield_update2', 'crf_chain3_nll', 'sinkhorn_log_domain2', 'gp_ard_nll',
       'cox_partial_likelihood', 'glow_actnorm_invconv', 'blr_evidence', 'spectral_norm_power_step',
       'rwkv_wkv3', 'negbin_glm', 'cb_logdet_xtax', 'cb_trace_xinv_a_xinv_b',
       'cb_affine_bilinear', 'logistic_normal_topic']
