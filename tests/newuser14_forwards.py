"""Hand-written PyTorch forward passes of the new-user models of session s33 (nu14), one per
tests/models/more14 spec of the same name: einderive's generated gradients must equal autograd
of its forward here, written from the spec by hand and never from einderive's parse, at the
spec's sizes and at a second set (ALT, else distinct primes)."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def _sqdist(X, Y):
    return (X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * X @ Y.T


def _bce_logits(z, y):
    return (F.softplus(z) - y * z).mean()


def _rownorm(X):
    return X / torch.linalg.norm(X, dim=1, keepdim=True)


# -- estimation, control and scientific ML -----------------------------------------------------

def kalman_update_nll(t, s):
    Fm, H = t["Fm"], t["H"]
    xp = Fm @ t["x"]
    Pp = Fm @ t["P"] @ Fm.T + t["Q"]
    v = t["y"] - H @ xp
    S = H @ Pp @ H.T + t["R"]
    K = Pp @ H.T @ torch.linalg.inv(S)
    xn = xp + K @ v
    return 0.5 * (v @ torch.linalg.solve(S, v) + torch.logdet(S)) + 0.1 * (xn ** 2).sum()


def lqr_cost_three_steps(t, s):
    A, B, K, Q, R = t["A"], t["Bm"], t["Kf"], t["Q"], t["R"]
    x, cost = t["x0"], 0
    for _ in range(3):
        u = -(K @ x)
        x = A @ x + B @ u
        cost = cost + x @ Q @ x + u @ R @ u
    return cost


def pinn_poisson_fd(t, s):
    u = torch.tanh(t["x"][:, None] * t["w1"] + t["b1"]) @ t["w2"]
    r = t["D2"] @ u - t["f"]
    return (r ** 2).mean() + 10 * ((u @ t["e0"]) ** 2 + (u @ t["e1"] - 1) ** 2)


def procrustes_cayley(t, s):
    Z, I = t["Z"], t["I"]
    S = Z - Z.T
    W = torch.linalg.solve(I + S, I - S)
    return ((t["X"] @ W - t["Y"]) ** 2).sum()


def gp_predictive_mean_mse(t, s):
    g = torch.exp(-2 * t["ll"])
    K = torch.exp(-0.5 * g * _sqdist(t["X"], t["X"])) + torch.exp(t["ln"]) * t["I"]
    Ks = torch.exp(-0.5 * g * _sqdist(t["Xs"], t["X"]))
    mu = Ks @ torch.linalg.solve(K, t["y"])
    return ((mu - t["ys"]) ** 2).mean()


def koopman_lstsq_latent(t, s):
    P1, P2 = torch.tanh(t["X1"] @ t["W"]), torch.tanh(t["X2"] @ t["W"])
    K = torch.linalg.solve(P1.T @ P1 + 0.1 * t["I"], P1.T @ P2)
    return ((P1 @ K - P2) ** 2).sum()


def sgpr_trace_term(t, s):
    X, Z = t["X"], t["Z"]
    Kmm = torch.exp(-0.5 * _sqdist(Z, Z)) + 0.01 * t["I"]
    Knm = torch.exp(-0.5 * _sqdist(X, Z))
    return s["N"] - torch.trace(Knm @ torch.linalg.solve(Kmm, Knm.T))


def hyvarinen_sm_gaussian(t, s):
    A = t["W"] @ t["W"].T + t["I"]
    return 0.5 * ((t["X"] @ A) ** 2).sum(1).mean() - torch.trace(A)


# -- recommender systems ------------------------------------------------------------------------

def deepfm_dense_fields(t, s):
    X, B = t["X"], s["B"]
    E = X[:, :, None] * t["V"]
    fm = 0.5 * (E.sum(1) ** 2 - (E ** 2).sum(1)).sum(1)
    deep = torch.relu(E.reshape(B, -1) @ t["W1"]) @ t["w2"]
    return _bce_logits(t["w0"] + X @ t["w"] + fm + deep, t["y"])


def neumf_gmf_mlp(t, s):
    u, i = t["u"], t["i"]
    g = t["P"][u] * t["Q"][i]
    m = torch.relu(torch.cat([t["Pm"][u], t["Qm"][i]], 1) @ t["W1"])
    return _bce_logits(torch.cat([g, m], 1) @ t["h"], t["y"])


def dcn_v2_low_rank(t, s):
    X0 = t["X0"]
    X1 = X0 * ((X0 @ t["V1"]) @ t["U1"].T + t["b1"]) + X0
    X2 = X0 * ((X1 @ t["V2"]) @ t["U2"].T + t["b2"]) + X1
    return _bce_logits(X2 @ t["w"], t["y"])


def two_tower_logq_softmax(t, s):
    U, V = torch.tanh(t["Xu"] @ t["Wu"]), torch.tanh(t["Xi"] @ t["Wi"])
    S = U @ V.T / 0.1 - t["logq"]
    return -(t["I"] * torch.log_softmax(S, 1)).sum(1).mean()


def bpr_gathered(t, s):
    pu, qp, qn = t["P"][t["u"]], t["Q"][t["ip"]], t["Q"][t["ineg"]]
    d = (pu * (qp - qn)).sum(1)
    return F.softplus(-d).mean() + 0.01 * ((pu ** 2).sum() + (qp ** 2).sum() + (qn ** 2).sum())


# -- attention and layers -----------------------------------------------------------------------

def differential_attention(t, s):
    X, sd = t["X"], math.sqrt(s["Dh"])
    A1 = torch.softmax((X @ t["Wq1"]) @ (X @ t["Wk1"]).T / sd, 1)
    A2 = torch.softmax((X @ t["Wq2"]) @ (X @ t["Wk2"]).T / sd, 1)
    lam = torch.exp(t["lq1"] @ t["lk1"]) - torch.exp(t["lq2"] @ t["lk2"]) + 0.8
    return torch.tanh((A1 - lam * A2) @ (X @ t["Wv"])).sum()


def mla_latent_kv_attention(t, s):
    X = t["X"]
    C = X @ t["Wdkv"]
    P = torch.softmax((X @ t["Wq"]) @ (C @ t["Wuk"]).T / math.sqrt(s["Dh"]), 1)
    return ((P @ (C @ t["Wuv"]) @ t["Wo"] - t["Y"]) ** 2).mean()


def siglip_pairwise_sigmoid(t, s):
    U, V = _rownorm(t["Xi"] @ t["Wi"]), _rownorm(t["Xt"] @ t["Wt"])
    S = torch.exp(t["lt"]) * U @ V.T + t["bb"]
    return -F.logsigmoid(t["Zl"] * S).sum() / s["B"]


def cosine_attention_swinv2(t, s):
    X = t["X"]
    Q, K = _rownorm(X @ t["Wq"]), _rownorm(X @ t["Wk"])
    A = torch.softmax(Q @ K.T / torch.exp(t["lt"]) + t["Bias"], 1)
    return ((A @ (X @ t["Wv"]) - t["Y"]) ** 2).sum()


def dyt_mlp_block(t, s):
    X = t["X"]
    N = t["gamma"] * torch.tanh(t["alpha"] * X) + t["beta"]
    O = X + F.gelu(N @ t["W1"]) @ t["W2"]
    return ((O - t["Y"]) ** 2).mean()


def siren_two_layers(t, s):
    H1 = torch.sin(30 * (t["X"] @ t["W1"] + t["b1"]))
    H2 = torch.sin(H1 @ t["W2"] + t["b2"])
    return ((H2 @ t["w3"] - t["y"]) ** 2).mean()


def snake_activation_mlp(t, s):
    Z, a = t["X"] @ t["W1"], t["a"]
    H = Z + torch.sin(a * Z) ** 2 / a
    return ((H @ t["W2"] - t["Y"]) ** 2).mean()


def kan_rbf_layer(t, s):
    Phi = torch.exp(-((t["X"][:, :, None] - t["c"]) / 0.5) ** 2)
    Yh = torch.einsum("bdg,odg->bo", Phi, t["C"])
    return ((Yh - t["Y"]) ** 2).mean()




# -- graphs and tensors -------------------------------------------------------------------------

def chebnet_order3(t, s):
    X, Lt = t["X"], t["Lt"]
    T1 = Lt @ X
    T2 = 2 * Lt @ T1 - X
    Z = X @ t["W0"] + T1 @ t["W1"] + T2 @ t["W2"]
    return -(t["T"] * torch.log_softmax(Z, 1)).sum(1).mean()


def gae_inner_product(t, s):
    Ah = t["Ah"]
    Z = Ah @ torch.relu(Ah @ t["X"] @ t["W1"]) @ t["W2"]
    S, A = Z @ Z.T, t["Adj"]
    return (3 * A * F.softplus(-S) + (1 - A) * F.softplus(S)).mean()


def cp_decomposition_3way(t, s):
    A, B, C = t["A"], t["Bf"], t["Cf"]
    Th = torch.einsum("ir,jr,kr->ijk", A, B, C)
    return ((t["T"] - Th) ** 2).sum() + 0.1 * ((A ** 2).sum() + (B ** 2).sum() + (C ** 2).sum())


def tucker_decomposition(t, s):
    Th = torch.einsum("pqr,ip,jq,kr->ijk", t["G"], t["A"], t["Bf"], t["Cf"])
    return ((t["T"] - Th) ** 2).sum()


def robust_pca_smooth_l1(t, s):
    U, V, S = t["U"], t["V"], t["S"]
    R = t["Mx"] - U @ V.T - S
    return 0.5 * (R ** 2).sum() + 0.3 * torch.sqrt(S ** 2 + 0.01).sum() \
        + 0.05 * ((U ** 2).sum() + (V ** 2).sum())


def tv_denoise_smooth(t, s):
    X = t["X"]
    Gv, Gh = t["Dv"] @ X, X @ t["Dh"].T
    return 2 * ((X - t["Y"]) ** 2).sum() + torch.sqrt(Gv ** 2 + 0.01).sum() \
        + torch.sqrt(Gh ** 2 + 0.01).sum()


# -- preference optimisation and reinforcement learning -----------------------------------------

def ipo_preference(t, s):
    lp = torch.log_softmax(t["X"] @ t["W"], 1)
    h = (lp * t["Yw"]).sum(1) - t["rw"] - ((lp * t["Yl"]).sum(1) - t["rl"])
    return ((h - 1 / (2 * 0.1)) ** 2).mean()


def _seq_logp(H, W, O):
    return (torch.log_softmax(H @ W, 2) * O).sum(2)


def simpo_length_norm(t, s):
    sw = _seq_logp(t["Hw"], t["W"], t["Ow"]).sum(1) / t["nw"]
    sl = _seq_logp(t["Hl"], t["W"], t["Ol"]).sum(1) / t["nl"]
    return -F.logsigmoid(2 * sw - 2 * sl - 0.5).mean()


def orpo_odds_ratio(t, s):
    lw = _seq_logp(t["Hw"], t["W"], t["Ow"]).mean(1)
    ll = _seq_logp(t["Hl"], t["W"], t["Ol"]).mean(1)
    ow = lw - torch.log1p(-torch.exp(lw))
    ol = ll - torch.log1p(-torch.exp(ll))
    return -lw.mean() - 0.1 * F.logsigmoid(ow - ol).mean()


def grpo_group_advantage(t, s):
    lp = (torch.log_softmax(t["X"] @ t["W"], 1) * t["Oh"]).sum(1)
    r = t["r"]
    A = (r - r.mean()) / torch.sqrt(r.var(unbiased=False) + 1e-8)
    rho = torch.exp(lp - t["lpo"])
    surr = torch.minimum(rho * A, torch.clamp(rho, 0.8, 1.2) * A)
    d = t["lpr"] - lp
    return -surr.mean() + 0.04 * (torch.exp(d) - d - 1).mean()


def cql_q_penalty(t, s):
    Q = torch.tanh(t["S"] @ t["W1"]) @ t["W2"]
    qa = (Q * t["Ao"]).sum(1)
    return 0.5 * ((qa - t["y"]) ** 2).mean() + 2 * (torch.logsumexp(Q, 1) - qa).mean()


def sac_actor_tanh_gaussian(t, s):
    S, E = t["S"], t["Eps"]
    Mu, Ls = S @ t["Wm"], torch.tanh(S @ t["Ws"])
    a = torch.tanh(Mu + torch.exp(Ls) * E)
    logp = (-0.5 * E ** 2 - Ls - 0.5 * math.log(2 * math.pi) - torch.log(1 - a ** 2 + 1e-6)).sum(1)
    q = ((S @ t["Qw"]) * a).sum(1) + a @ t["qa"]
    return (0.2 * logp - q).mean()


def awr_weighted_gaussian_bc(t, s):
    S = t["S"]
    Mu, Ls = S @ t["Wm"], S @ t["Ws"]
    nll = (0.5 * ((t["Act"] - Mu) / torch.exp(Ls)) ** 2 + Ls).sum(1)
    return (torch.exp(t["adv"] / 0.5) * nll).mean()


def bradley_terry_reward(t, s):
    rw = torch.tanh(t["Xw"] @ t["W"]) @ t["w"]
    rl = torch.tanh(t["Xl"] @ t["W"]) @ t["w"]
    return -F.logsigmoid(rw - rl).mean() + 0.01 * ((rw + rl) ** 2).mean()


# -- density models, ranking and robust losses --------------------------------------------------

def sylvester_flow_logdet(t, s):
    z, A, B = t["z"], t["A"], t["Bm"]
    h = torch.tanh(B.T @ z + t["b"])
    zn = z + A @ h
    J = t["I"] + 0.3 * torch.diag(1 - h ** 2) @ B.T @ A
    return 0.5 * (zn ** 2).sum() - torch.log(torch.abs(torch.det(J)))


def made_masked_gaussian(t, s):
    X = t["X"]
    H = torch.relu(X @ (t["W1"] * t["M1"]))
    Mu = H @ (t["Wm"] * t["M2"])
    Ls = torch.tanh(H @ (t["Ws"] * t["M2"]))
    return (0.5 * ((X - Mu) * torch.exp(-Ls)) ** 2 + Ls).sum(1).mean()


def listnet_top_one(t, s):
    sc = t["X"] @ t["w"]
    return -(torch.softmax(t["Y"], 1) * torch.log_softmax(sc, 1)).sum() / s["Q"]


def barron_general_loss(t, s):
    r = (t["X"] @ t["w"] - t["y"]) / torch.exp(t["lc"])
    alpha = 0.5
    b = abs(alpha - 2)
    return (b / alpha * ((r ** 2 / b + 1) ** (alpha / 2) - 1)).mean() + t["lc"]


def generalized_dice(t, s):
    P, Y = torch.softmax(t["X"] @ t["W"], 1), t["Y"]
    w = 1 / Y.sum(0) ** 2
    return 1 - 2 * (w * (Y * P).sum(0)).sum() / (w * (Y + P).sum(0)).sum()


def giou_box_loss(t, s):
    X = t["X"]
    px1, py1 = X @ t["Wx"], X @ t["Wy"]
    px2, py2 = px1 + torch.exp(X @ t["Ww"]), py1 + torch.exp(X @ t["Wh"])
    gx1, gy1, gx2, gy2 = t["gx1"], t["gy1"], t["gx2"], t["gy2"]
    iw = torch.relu(torch.minimum(px2, gx2) - torch.maximum(px1, gx1))
    ih = torch.relu(torch.minimum(py2, gy2) - torch.maximum(py1, gy1))
    inter = iw * ih
    uni = (px2 - px1) * (py2 - py1) + (gx2 - gx1) * (gy2 - gy1) - inter
    enc = (torch.maximum(px2, gx2) - torch.minimum(px1, gx1)) \
        * (torch.maximum(py2, gy2) - torch.minimum(py1, gy1))
    return (1 - inter / uni + (enc - uni) / enc).mean()


def lifted_structure_loss(t, s):
    E = t["X"] @ t["W"]
    D = torch.sqrt(_sqdist(E, E) + 1e-3)
    ln = torch.log((t["Mneg"] * torch.exp(1 - D)).sum(1))
    Pa, Pb = t["Pa"], t["Pb"]
    J = Pa @ ln + Pb @ ln + ((Pa @ D) * Pb).sum(1)
    return (torch.relu(J) ** 2).mean() / 2


def multi_similarity_loss(t, s):
    E = _rownorm(t["X"] @ t["W"])
    S = E @ E.T
    lp = torch.log1p((t["Mp"] * torch.exp(-2 * (S - 0.5))).sum(1)) / 2
    lq = torch.log1p((t["Mn"] * torch.exp(40 * (S - 0.5))).sum(1)) / 40
    return (lp + lq).mean()


def attention_transfer_kd(t, s):
    A = torch.tanh(torch.einsum("cd,bdh->bch", t["Wc"], t["X"]))
    a = (A ** 2).sum(1)
    d = _rownorm(a) - _rownorm(t["At"])
    return torch.linalg.norm(d, dim=1).mean() + ((A.sum(1) - t["y"]) ** 2).mean()


def swav_swapped_prediction(t, s):
    N1, N2 = _rownorm(t["Z1"] @ t["W"]), _rownorm(t["Z2"] @ t["W"])
    C = _rownorm(t["C"])
    p1, p2 = torch.log_softmax(N1 @ C.T / 0.1, 1), torch.log_softmax(N2 @ C.T / 0.1, 1)
    return -(t["Q2"] * p1 + t["Q1"] * p2).sum(1).mean()


def vit_patch_embed(t, s):
    Hp, Wp, P = s["Hp"], s["Wp"], s["P"]
    Pt = t["Img"].reshape(Hp, P, Wp, P).permute(0, 2, 1, 3).reshape(Hp * Wp, P * P)
    Z = Pt @ t["We"] + t["pos"]
    return (F.gelu(Z).mean(0) @ t["wo"] - t["y"]) ** 2


def adain_style_transfer(t, s):
    Xc, Ys = t["Xc"], t["Ys"]
    mx, my = Xc.mean(1, keepdim=True), Ys.mean(1, keepdim=True)
    sx = torch.sqrt(((Xc - mx) ** 2).mean(1, keepdim=True) + 1e-5)
    sy = torch.sqrt(((Ys - my) ** 2).mean(1, keepdim=True) + 1e-5)
    Ad = sy * (Xc - mx) / sx + my
    return ((t["Wd"] @ Ad - t["T"]) ** 2).mean()


# -- Matrix Cookbook ----------------------------------------------------------------------------

def cb_det_a_plus_uvt(t, s):
    return torch.det(t["A"] + torch.outer(t["u"], t["v"]))


def cb_woodbury_quad_split(t, s):
    G = t["A"] + t["U"] @ t["U"].T
    return t["b"] @ torch.linalg.solve(G, t["b"])


def cb_frob_skew_part(t, s):
    X = t["X"]
    Sy = X + X.T
    return ((X - X.T) ** 2).sum() + 0.5 * torch.trace(Sy @ Sy)


def cb_trace_a_xinv_t(t, s):
    Xi = torch.linalg.inv(t["X"])
    return torch.trace(t["A"] @ Xi.T) + torch.trace(Xi @ t["B"] @ Xi.T)


FORWARDS = {f.__name__: f for f in (
    kalman_update_nll, lqr_cost_three_steps, pinn_poisson_fd, procrustes_cayley,
    gp_predictive_mean_mse, koopman_lstsq_latent, sgpr_trace_term, hyvarinen_sm_gaussian,
    deepfm_dense_fields, neumf_gmf_mlp, dcn_v2_low_rank, two_tower_logq_softmax, bpr_gathered,
    differential_attention, mla_latent_kv_attention, siglip_pairwise_sigmoid,
    cosine_attention_swinv2, dyt_mlp_block, siren_two_layers, snake_activation_mlp,
    kan_rbf_layer, chebnet_order3, gae_inner_product, cp_decomposition_3way,
    tucker_decomposition, robust_pca_smooth_l1, tv_denoise_smooth, ipo_preference,
    simpo_length_norm, orpo_odds_ratio, grpo_group_advantage, cql_q_penalty,
    sac_actor_tanh_gaussian, awr_weighted_gaussian_bc, bradley_terry_reward,
    sylvester_flow_logdet, made_masked_gaussian, listnet_top_one, barron_general_loss,
    generalized_dice, giou_box_loss, lifted_structure_loss, multi_similarity_loss,
    attention_transfer_kd, swav_swapped_prediction, vit_patch_embed, adain_style_transfer,
    cb_det_a_plus_uvt, cb_woodbury_quad_split, cb_frob_skew_part, cb_trace_a_xinv_t)}

# second sizes: distinct primes everywhere (a dim no input has keeps its size)
ALT: dict[str, dict[str, int]] = {}

# second order checked against torch.autograd.functional.hvp too
HVP = ['kalman_update_nll', 'lqr_cost_three_steps', 'procrustes_cayley', 'sgpr_trace_term',
       'dcn_v2_low_rank', 'differential_attention', 'grpo_group_advantage', 'tv_denoise_smooth']
