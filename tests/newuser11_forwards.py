"""Hand-written PyTorch forward passes of the new-user models of session s30 (nu11), one per
tests/models/more11 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _sqdist(X, Y):
    return (X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * X @ Y.T


def _bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def _ce_soft(Z, T):
    return -(T * torch.log_softmax(Z, 1)).sum(1).mean()


# -- blocks ------------------------------------------------------------------------------------

def txl_rel_pos_attn(t, s):
    X, Q = t["X"], t["X"] @ t["Wq"]
    S = (Q + t["u"]) @ (X @ t["Wk"]).T + (Q + t["v"]) @ (t["R"] @ t["Wr"]).T
    return ((torch.softmax(S / math.sqrt(s["D"]), -1) @ (X @ t["Wv"])) ** 2).sum()


def t5_bucket_bias(t, s):
    X = t["X"]
    S = (X @ t["Wq"]) @ (X @ t["Wk"]).T + t["tbl"][t["bk"]]
    return ((torch.softmax(S, -1) @ X) ** 2).sum()


def swin_window_attn(t, s):
    X = t["X"]
    A = torch.softmax((X @ t["Wq"]) @ (X @ t["Wk"]).transpose(1, 2) / math.sqrt(s["D"])
                      + t["Bp"], -1)
    return ((A @ (X @ t["Wv"]) + X) ** 2).mean()


def swin_partition_reshape(t, s):
    Xw = (t["X"] @ t["W"]).reshape(s["NW"], s["S"], s["D"])
    O = torch.softmax(Xw @ Xw.transpose(1, 2), -1) @ Xw
    return torch.tanh(O.reshape(s["T"], s["D"])).sum()


def convnext_block1d(t, s):
    X, To = t["X"], s["To"]
    Dw = t["w0"] * X[0:To] + t["w1"] * X[1:To + 1] + t["w2"] * X[2:To + 2]
    M = Dw - Dw.mean(1, keepdim=True)
    N = M / torch.sqrt((M ** 2).mean(1, keepdim=True) + 1e-6)
    Y = X[1:To + 1] + t["g"] * (F.gelu(N @ t["W1"]) @ t["W2"])
    return (Y ** 2).sum()


def nalu_cell(t, s):
    X = t["X"]
    W = torch.tanh(t["Wh"]) * torch.sigmoid(t["Mh"])
    g = torch.sigmoid(X @ t["G"])
    Y = g * (X @ W) + (1 - g) * torch.exp(torch.log(X.abs() + 0.001) @ W)
    return (Y ** 2).sum()


def pixel_shuffle_1d(t, s):
    H = F.conv1d(t["X"], t["W"])
    B, C, R, To = s["B"], s["C"], s["R"], s["To"]
    P = H.reshape(B, C, R, To).permute(0, 1, 3, 2).reshape(B, C, To * R)
    return ((P - t["Y"]) ** 2).sum()


def unet_skip_concat(t, s):
    h1 = torch.relu(t["X"] @ t["W1"])
    u = torch.relu(torch.relu(h1 @ t["W2"]) @ t["W3"])
    return ((torch.cat([u, h1], 1) @ t["W4"] - t["Y"]) ** 2).mean()


def set_transformer_pma(t, s):
    X = t["X"]
    O = torch.softmax(t["Sd"] @ (X @ t["Wk"]).T / math.sqrt(s["D"]), 1) @ (X @ t["Wv"])
    H = O + torch.relu(O @ t["Wo"])
    return ((H.sum(1) - t["y"]) ** 2).sum()


def deepsets_rank3_mean(t, s):
    P = torch.relu(t["X"] @ t["W1"] + t["b1"]).mean(1)
    return ((torch.tanh(P) @ t["w2"] - t["y"]) ** 2).mean()


def gcn_renorm_inline(t, s):
    d = t["dinv"]
    Z = (d[:, None] * t["Adj"] * d[None, :]) @ t["X"] @ t["W"]
    return (F.softplus(Z) - t["Y"] * Z).sum()


def gatv2_attention(t, s):
    X = t["X"]
    Hl, Hr = X @ t["Wl"], X @ t["Wr"]
    E = F.leaky_relu(Hl[:, None, :] + Hr[None, :, :], 0.2) @ t["a"]
    A = torch.softmax(E + t["M"], 1)
    return torch.tanh(A @ Hl).sum()


def gin_layer(t, s):
    X = t["X"]
    H = ((1 + t["eps"]) * X + t["Adj"] @ X)
    Ho = torch.relu(H @ t["W1"]) @ t["W2"]
    return ((Ho.sum(0) - t["y"]) ** 2).sum()


def mpnn_incidence(t, s):
    X = t["X"]
    M = torch.relu(t["Bs"] @ X @ t["Wm"] + t["Bd"] @ X @ t["Wn"])
    return (torch.tanh(X @ t["Wu"] + t["Bd"].T @ M @ t["Wa"]) ** 2).sum()


def neural_ode_heun2(t, s):
    h = t["h0"]
    for _ in range(2):
        k1 = torch.tanh(h @ t["W"] + t["b"])
        k2 = torch.tanh((h + 0.2 * k1) @ t["W"] + t["b"])
        h = h + 0.1 * (k1 + k2)
    return ((h - t["Y"]) ** 2).sum()


def realnvp_coupling_nll(t, s):
    X, H = t["X"], s["H"]
    x1 = X[:, :H]
    sc = torch.tanh(x1 @ t["Ws"] + t["bs"])
    Z = torch.cat([x1, X[:, H:] * torch.exp(sc) + x1 @ t["Wt"]], 1)
    return (0.5 * (Z ** 2).sum(1) - sc.sum(1)).mean()


def beta_vae_capacity(t, s):
    X, B = t["X"], s["B"]
    mu, lv = X @ t["We"], X @ t["Wl"]
    z = mu + torch.exp(0.5 * lv) * t["eps"]
    rec = ((z @ t["Wd"] - X) ** 2).sum() / B
    kl = -0.5 * (1 + lv - mu ** 2 - torch.exp(lv)).sum() / B
    return rec + t["beta"] * (kl - t["C"]).abs()


def moco_queue_infonce(t, s):
    q = t["X"] @ t["W"]
    lg = torch.cat([(q * t["kp"]).sum(1, keepdim=True), q @ t["Qn"].T], 1) / 0.07
    return F.cross_entropy(lg, torch.zeros(q.shape[0], dtype=torch.int64))


def _cos(a, b):
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def simsiam_stopgrad(t, s):
    def head(X):
        return torch.relu(X @ t["W"] @ t["Wp1"]) @ t["Wp2"]
    return -0.5 * (_cos(head(t["X1"]), t["Z2s"]).mean() + _cos(head(t["X2"]), t["Z1s"]).mean())


def proxy_nca(t, s):
    return F.cross_entropy(-_sqdist(t["X"] @ t["W"], t["Pr"]), t["lab"])


def supcon_loss(t, s):
    Zn = F.normalize(t["X"] @ t["W"], dim=1, eps=0)
    S = Zn @ Zn.T / 0.1 + t["Md"]
    return -(t["Pm"] * torch.log_softmax(S, 1)).sum() / t["Pm"].sum()


def poly1_ce(t, s):
    lp = torch.log_softmax(t["X"] @ t["W"], 1).gather(1, t["lab"][:, None])[:, 0]
    return (-lp + 2.0 * (1 - torch.exp(lp))).mean()


def confidence_penalty(t, s):
    Z = t["X"] @ t["W"]
    P = torch.softmax(Z, 1)
    entropy = -(P * torch.log_softmax(Z, 1)).sum(1).mean()
    return _ce_soft(Z, t["T"]) - 0.1 * entropy


def fitnets_hint(t, s):
    Hs = torch.relu(t["X"] @ t["W1"])
    return 0.5 * ((Hs @ t["Wr"] - t["Ht"]) ** 2).sum() / s["B"] + _ce_soft(Hs @ t["W2"], t["T"])


def n_pair_loss(t, s):
    Fa, Fp = t["A"] @ t["W"], t["Pp"] @ t["W"]
    pos = (Fa * Fp).sum(1, keepdim=True)
    return torch.logsumexp(Fa @ Fp.T - pos, 1).mean()


def highway_untied_carry(t, s):
    X = t["X"]
    Y = torch.sigmoid(X @ t["Wt"] + t["bt"]) * torch.relu(X @ t["Wh"]) \
        + torch.sigmoid(X @ t["Wc"]) * X
    return (Y ** 2).sum()


def indrnn_unroll3(t, s):
    h = torch.relu(t["x1"] @ t["W"] + t["b"])
    for x in (t["x2"], t["x3"]):
        h = torch.relu(x @ t["W"] + t["u"] * h + t["b"])
    return ((h.sum(1) - t["y"]) ** 2).mean()


def ntm_content_addressing(t, s):
    Mem, k = t["Mem"], t["k"]
    cs = (Mem @ k) / (Mem.norm(dim=1) * k.norm())
    r = torch.softmax(t["beta"] * cs, 0) @ Mem
    return ((r - t["t"]) ** 2).sum()


def capsule_routing2(t, s):
    U = t["U"]
    s1 = U.sum(0) / s["J"]
    n2 = (s1 ** 2).sum(1)
    v1 = s1 * (n2 / (1 + n2) / torch.sqrt(n2 + 1e-6))[:, None]
    c = torch.softmax((U * v1).sum(2), 1)
    return ((U * c[:, :, None]).sum(0) ** 2).sum()


def wide_and_deep(t, s):
    z = t["Xw"] @ t["w"] + torch.relu(t["X"] @ t["W1"]) @ t["w2"] + t["b"]
    return _bce(torch.sigmoid(z), t["y"])


def factorization_machine(t, s):
    X, V = t["X"], t["V"]
    yh = t["w0"] + X @ t["w"] + 0.5 * ((X @ V) ** 2 - (X ** 2) @ (V ** 2)).sum(1)
    return ((yh - t["y"]) ** 2).mean()


def dcn_cross_layers(t, s):
    X0 = t["X0"]
    X1 = X0 * (X0 @ t["w1"])[:, None] + t["b1"] + X0
    X2 = X0 * (X1 @ t["w2"])[:, None] + t["b2"] + X1
    return ((X2 @ t["v"] - t["y"]) ** 2).mean()


def sinkhorn_two_iters(t, s):
    C, a, b = t["C"], t["a"], t["b"]
    K = torch.exp(-C / 0.5)
    u = a / K.sum(1)
    v = b / (u @ K)
    u = a / (K @ v)
    v = b / (u @ K)
    return (u[:, None] * K * v[None, :] * C).sum()


# -- classic ML --------------------------------------------------------------------------------

def ridge_intercept(t, s):
    w = t["w"]
    return 0.5 * ((t["X"] @ w + t["b"] - t["y"]) ** 2).mean() + 0.5 * t["lam"] * (w @ w)


ridge_intercept_inline = ridge_intercept


def probit_tanh(t, s):
    return _bce(0.5 * (1 + torch.tanh(0.8 * (t["X"] @ t["w"]))), t["y"])


def huber_ridge_regression(t, s):
    w = t["w"]
    h = F.huber_loss(t["X"] @ w, t["y"], reduction="none", delta=float(t["delta"]))
    return h.mean() + 0.01 * (w ** 2).sum()


def quantile_smooth_multi(t, s):
    R = t["y"][:, None] - t["X"] @ t["W"]
    return (t["tau"] * R + 0.1 * F.softplus(-R / 0.1)).mean()


def factor_analysis_nll(t, s):
    W = t["W"]
    C = W @ W.T + torch.diag(torch.exp(t["lpsi"]))
    return torch.logdet(C) + torch.trace(torch.linalg.solve(C, t["S"]))


def ica_logcosh(t, s):
    U = t["X"] @ t["W"].T
    return torch.log(2 * torch.cosh(U)).sum(1).mean() - torch.logdet(t["W"])


def tsne_kl(t, s):
    Y, P = t["Y"], t["P"]
    Qu = t["Mo"] / (1 + _sqdist(Y, Y))
    return (P * torch.log(P / (Qu / Qu.sum()))).sum()


def skipgram_neg_gather(t, s):
    vc = t["Win"][t["c"]]
    pos = F.logsigmoid((vc * t["Wout"][t["o"]]).sum(1)).mean()
    neg = F.logsigmoid(-(vc @ t["Wout"][t["ng"]].T)).sum(1).mean()
    return -pos - neg


def sammon_stress(t, s):
    Y, Dt = t["Y"], t["Dt"]
    Dy = torch.sqrt(_sqdist(Y, Y) + 1.0)
    return ((Dy - Dt) ** 2 / Dt).sum()


def ranksvm_pairs(t, s):
    sc = t["X"] @ t["w"]
    hinge = torch.relu(1 - (sc[:, None] - sc[None, :])) ** 2
    return (t["Pm"] * hinge).sum() + 0.1 * (t["w"] @ t["w"])


def hmm_forward3(t, s):
    A = torch.softmax(t["LA"], 1)
    a = torch.softmax(t["lpi"], 0) * t["e1"]
    a = (a @ A) * t["e2"]
    a = (a @ A) * t["e3"]
    return -torch.log(a.sum())


def rbf_network(t, s):
    Phi = torch.exp(-t["gam"] * _sqdist(t["X"], t["Cn"]))
    return ((Phi @ t["w"] - t["y"]) ** 2).mean()


# -- Matrix Cookbook ---------------------------------------------------------------------------

def cb_bt_xt_d_x_c_split(t, s):
    X = t["X"]
    return (X @ t["b"]) @ t["Dm"] @ (X @ t["c"])


def cb_trace_inv_xtax(t, s):
    X = t["X"]
    return torch.trace(torch.linalg.inv(X.T @ t["A"] @ X))


def cb_trace_a_xinv_sq(t, s):
    Y = torch.linalg.inv(t["X"])
    return torch.trace(t["A"] @ Y @ Y)


def cb_trace_inv_x(t, s):
    return torch.trace(torch.linalg.inv(t["X"]))


def cb_det_xxt(t, s):
    return torch.det(t["X"] @ t["X"].T)


def cb_det_x_squared(t, s):
    return torch.det(t["X"] @ t["X"])


def cb_logdet_xxt_plus_s(t, s):
    return torch.logdet(t["X"] @ t["X"].T + t["S"])


def cb_logdet_xxt_plus_lam_split(t, s):
    return torch.logdet(t["X"] @ t["X"].T + t["lam"] * t["S"])


def cb_trace_a_x_b_xt_c(t, s):
    X = t["X"]
    return torch.trace(t["A"] @ X @ t["Bm"] @ X.T @ t["Cm"])


def cb_frob_xinv_a(t, s):
    return ((torch.linalg.inv(t["X"]) @ t["A"]) ** 2).sum()


def cb_lstsq_residual(t, s):
    X, y = t["X"], t["y"]
    w = torch.linalg.solve(X.T @ X, X.T @ y)
    return ((X @ w - y) ** 2).sum()


def cb_quad_inv_gram(t, s):
    X, a = t["X"], t["a"]
    return a @ torch.linalg.inv(X @ X.T) @ a


def cb_trace_xx(t, s):
    return torch.trace(t["X"] @ t["X"])


def cb_trace_solve_gram_split(t, s):
    X = t["X"]
    return torch.trace(torch.linalg.solve(X.T @ X, t["A"]))


FORWARDS = {f.__name__: f for f in (
    txl_rel_pos_attn, t5_bucket_bias, swin_window_attn, swin_partition_reshape, convnext_block1d,
    nalu_cell, pixel_shuffle_1d, unet_skip_concat, set_transformer_pma, deepsets_rank3_mean,
    gcn_renorm_inline, gatv2_attention, gin_layer, mpnn_incidence, neural_ode_heun2,
    realnvp_coupling_nll, beta_vae_capacity, moco_queue_infonce, simsiam_stopgrad, proxy_nca,
    supcon_loss, poly1_ce, confidence_penalty, fitnets_hint, n_pair_loss, highway_untied_carry,
    indrnn_unroll3, ntm_content_addressing, capsule_routing2, wide_and_deep,
    factorization_machine, dcn_cross_layers, sinkhorn_two_iters,
    ridge_intercept, probit_tanh, huber_ridge_regression, quantile_smooth_multi,
    factor_analysis_nll, ica_logcosh, tsne_kl, skipgram_neg_gather, sammon_stress,
    ranksvm_pairs, hmm_forward3, rbf_network,
    cb_bt_xt_d_x_c_split, cb_trace_inv_xtax, cb_trace_a_xinv_sq, cb_trace_inv_x, cb_det_xxt,
    cb_det_x_squared, cb_logdet_xxt_plus_s, cb_logdet_xxt_plus_lam_split, cb_trace_a_x_b_xt_c,
    cb_frob_xinv_a, cb_lstsq_residual, cb_quad_inv_gram, cb_trace_xx, cb_trace_solve_gram_split,
)} | {"ridge_intercept_inline": ridge_intercept}

# second sizes where distinct primes would not fit (defined dims, a slice's bound, wide X)
ALT = {'convnext_block1d': {'T': 7, 'C': 3, 'E': 5},
       'pixel_shuffle_1d': {'B': 3, 'C': 3, 'R': 3, 'T': 5, 'K': 1}}

# second order checked against torch.autograd.functional.hvp too
HVP = ['neural_ode_heun2', 'nalu_cell', 'realnvp_coupling_nll', 'factorization_machine',
       'dcn_cross_layers', 'ica_logcosh', 'factor_analysis_nll', 'hmm_forward3', 'rbf_network',
       'ntm_content_addressing', 'tsne_kl', 'sinkhorn_two_iters', 'gin_layer',
       'cb_trace_inv_xtax', 'cb_logdet_xxt_plus_s', 'cb_det_x_squared', 'cb_lstsq_residual']
