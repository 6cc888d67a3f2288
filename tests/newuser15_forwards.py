"""Hand-written PyTorch forward passes of the new-user models of session s34 (nu15), one per
tests/models/more15 spec of the same name: einderive's generated gradients must equal autograd
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


def _huber(r):
    return torch.where(r.abs() < 1, 0.5 * r ** 2, r.abs() - 0.5)


# -- attention and sequence layers --------------------------------------------------------------

def nystromformer_landmarks(t, s):
    X, sd = t["X"], math.sqrt(s["D"])
    Q, K = X @ t["Wq"], X @ t["Wk"]
    Ql, Kl = t["Pm"] @ Q, t["Pm"] @ K
    F1 = torch.softmax(Q @ Kl.T / sd, 1)
    A = torch.softmax(Ql @ Kl.T / sd, 1)
    F3 = torch.softmax(Ql @ K.T / sd, 1)
    O = F1 @ torch.linalg.solve(A, F3 @ (X @ t["Wv"]))
    return ((O - t["Y"]) ** 2).mean()


def linformer_proj(t, s):
    X = t["X"]
    Kr, Vr = t["Ep"] @ (X @ t["Wk"]), t["Fp"] @ (X @ t["Wv"])
    A = torch.softmax((X @ t["Wq"]) @ Kr.T / math.sqrt(s["D"]), 1)
    return ((A @ Vr @ t["Wo"] - t["Y"]) ** 2).sum() / s["N"]


def synthesizer_dense(t, s):
    X = t["X"]
    A = torch.softmax(torch.relu(X @ t["W1"]) @ t["W2"], 1)
    return ((A @ (X @ t["Wv"]) - t["Y"]) ** 2).mean()


def gau_relu2_attention(t, s):
    X = t["X"]
    U, V, Z = F.silu(X @ t["Wu"]), F.silu(X @ t["Wv"]), F.silu(X @ t["Wz"])
    Q, K = Z * t["gq"] + t["bq"], Z * t["gk"] + t["bk"]
    A = torch.relu(Q @ K.T / s["N"]) ** 2
    return (((U * (A @ V)) @ t["Wo"] - t["Y"]) ** 2).mean()


def gla_recurrent2(t, s):
    x1, x2 = t["x1"], t["x2"]
    S1 = torch.outer(t["Wk"] @ x1, t["Wv"] @ x1)
    a2 = torch.sigmoid(t["Wa"] @ x2)
    S2 = a2[:, None] * S1 + torch.outer(t["Wk"] @ x2, t["Wv"] @ x2)
    o1, o2 = (t["Wq"] @ x1) @ S1, (t["Wq"] @ x2) @ S2
    return ((o1 - t["y1"]) ** 2).sum() + ((o2 - t["y2"]) ** 2).sum()


def rglru_griffin2(t, s):
    x1, x2 = t["x1"], t["x2"]
    la = -F.softplus(-t["lam"])  # log σ(Λ)
    a1 = torch.exp(8 * torch.sigmoid(x1 @ t["Wa"]) * la)
    a2 = torch.exp(8 * torch.sigmoid(x2 @ t["Wa"]) * la)
    h1 = torch.sqrt(1 - a1 ** 2) * (torch.sigmoid(x1 @ t["Wx"]) * x1)
    h2 = a2 * h1 + torch.sqrt(1 - a2 ** 2) * (torch.sigmoid(x2 @ t["Wx"]) * x2)
    return ((h2 @ t["Wo"] - t["Y"]) ** 2).mean()


def autoint_fields(t, s):
    E = t["E"]
    A = torch.softmax((E @ t["Wq"]) @ (E @ t["Wk"]).transpose(1, 2) / math.sqrt(s["D"]), -1)
    O = torch.relu(A @ (E @ t["Wv"]) + E @ t["Wr"])
    return _bce_logits(O.reshape(s["B"], -1) @ t["w"], t["y"])


def din_local_activation(t, s):
    Hs, tt = t["Hs"], t["t"]
    a = torch.sigmoid((Hs * tt[:, None, :]) @ t["wa"] + Hs @ t["wh"])
    p = (Hs * a[:, :, None]).sum(1)
    return _bce_logits(torch.cat([p, tt], 1) @ t["wo"], t["y"])


def gated_attention_mil(t, s):
    H = torch.relu(t["X"] @ t["Wf"])
    a = torch.softmax((torch.tanh(H @ t["V"]) * torch.sigmoid(H @ t["U"])) @ t["w"], 0)
    z = (a @ H) @ t["c"]
    return F.softplus(z) - t["y"] * z


def pointer_net_ce(t, s):
    E, Dq = torch.tanh(t["X"] @ t["We"]), torch.tanh(t["Zd"] @ t["Wd"])
    U = torch.tanh((E @ t["W1"])[None, :, :] + (Dq @ t["W2"])[:, None, :]) @ t["v"]
    return F.cross_entropy(U, t["tgt"])


def ia3_attention(t, s):
    X = t["X"]
    K, V = (X @ t["Wk"]) * t["lk"], (X @ t["Wv"]) * t["lv"]
    H = torch.softmax((X @ t["Wq"]) @ K.T / math.sqrt(s["D"]), 1) @ V + X
    O = (F.gelu(H @ t["W1"]) * t["lf"]) @ t["W2"] + H
    return ((O - t["Y"]) ** 2).mean()


def vera_adapter(t, s):
    W = t["W0"] + torch.diag(t["b"]) @ t["Bm"] @ torch.diag(t["d"]) @ t["A"]
    return ((t["X"] @ W.T - t["Y"]) ** 2).mean()


def prefix_tuning_attention(t, s):
    X = t["X"]
    K = torch.cat([t["Pk"], X @ t["Wk"]], 0)
    V = torch.cat([t["Pv"], X @ t["Wv"]], 0)
    A = torch.softmax((X @ t["Wq"]) @ K.T / math.sqrt(s["D"]), 1)
    return ((A @ V - t["Y"]) ** 2).sum()


def monarch_two_factors(t, s):
    B, M = s["B"], s["M"]
    X3 = t["x"].reshape(B, M, M)
    Y1 = torch.einsum("bij,ijk->bik", X3, t["L1"])
    Y2 = torch.einsum("bij,ijk->bik", Y1.permute(0, 2, 1), t["R2"])
    return ((Y2.reshape(B, M * M) @ t["w"] - t["y"]) ** 2).mean()


def kron_adapter_reshape(t, s):
    Bt, M, N = s["Bt"], s["M"], s["N"]
    x = t["x"]
    U = (t["A"] @ x.reshape(Bt, M, N) @ t["Bk"].T).reshape(Bt, M * N)
    return ((x @ t["W0"] + U - t["Y"]) ** 2).mean()


def tensor_train_3cores(t, s):
    G1, G2, G3 = t["G1"], t["G2"], t["G3"]
    Th = torch.einsum("ia,ajb,bk->ijk", G1, G2, G3)
    return ((t["T"] - Th) ** 2).sum() + 0.01 * ((G1 ** 2).sum() + (G2 ** 2).sum()
                                                + (G3 ** 2).sum())


def tucker2_channel_layer(t, s):
    Y = torch.relu(t["Uo"] @ t["G"] @ t["Ui"].T @ t["X"])
    return ((Y - t["T"]) ** 2).mean()


def cin_xdeepfm(t, s):
    X0 = t["X0"]
    X1 = torch.einsum("bhd,bmd,khm->bkd", X0, X0, t["Wc"])
    return _bce_logits(X1.sum(2) @ t["w"], t["y"])


# -- self-supervised, metric learning and distillation ------------------------------------------

def dcl_decoupled_contrastive(t, s):
    N1, N2 = _rownorm(t["X1"] @ t["W"]), _rownorm(t["X2"] @ t["W"])
    S = N1 @ N2.T / 0.5
    return (-torch.diagonal(S) + torch.log((t["Mneg"] * torch.exp(S)).sum(1))).mean()


def align_uniform(t, s):
    F1, F2 = _rownorm(torch.tanh(t["X1"] @ t["W"])), _rownorm(torch.tanh(t["X2"] @ t["W"]))
    align = ((F1 - F2) ** 2).sum(1).mean()
    return align + torch.log(torch.exp(-2 * _sqdist(F1, F1)).mean())


def cpc_bilinear_infonce(t, s):
    Z = torch.tanh(t["Xf"] @ t["Wenc"])
    return F.cross_entropy(t["C"] @ t["Wk"] @ Z.T, t["lab"])


def soft_nearest_neighbour(t, s):
    E = t["X"] @ t["W"]
    K = torch.exp(-_sqdist(E, E) / 2)
    return -torch.log((t["Ms"] * K).sum(1) / (t["Mo"] * K).sum(1)).mean()


def rkd_distance(t, s):
    Es, Et = t["Xs"] @ t["Ws"], t["Et"]
    Ds = torch.sqrt(_sqdist(Es, Es) + 1e-3)
    Dt = torch.sqrt(_sqdist(Et, Et) + 1e-3)
    return _huber(Ds / Ds.mean() - Dt / Dt.mean()).mean()


# -- classification and regression losses -------------------------------------------------------

def asymmetric_loss_multilabel(t, s):
    P = torch.sigmoid(t["X"] @ t["W"])
    Pm = torch.clamp(P - 0.05, min=0)
    Y = t["Y"]
    return -(Y * (1 - P) * torch.log(P) + (1 - Y) * Pm ** 4 * torch.log(1 - Pm)).mean()


def taylor_softmax_ce(t, s):
    Z = t["X"] @ t["W"]
    Fz = 1 + Z + 0.5 * Z ** 2
    LP = torch.log(Fz / Fz.sum(1, keepdim=True))
    return -LP[torch.arange(s["B"]), t["lab"]].mean()


def evidential_dirichlet_mse(t, s):
    Al = F.softplus(t["X"] @ t["W"]) + 1
    S = Al.sum(1, keepdim=True)
    P = Al / S
    return ((t["Y"] - P) ** 2 + P * (1 - P) / (S + 1)).sum(1).mean()


def laplace_nll_heteroscedastic(t, s):
    H = torch.tanh(t["X"] @ t["W"])
    mu, lb = H @ t["wm"], H @ t["wb"]
    return ((t["y"] - mu).abs() * torch.exp(-lb) + lb).mean()


def wing_loss_landmarks(t, s):
    R = (t["X"] @ t["W"] - t["T"]).abs()
    C = 10 - 10 * math.log(1 + 10 / 2)
    return torch.where(R < 10, 10 * torch.log(1 + R / 2), R - C).mean()


def chamfer_distance(t, s):
    P = t["P0"] + torch.tanh(t["Z"] @ t["W"])
    D2 = _sqdist(P, t["Q"])
    return D2.min(1).values.mean() + D2.min(0).values.mean()


def smooth_ap_ranking(t, s):
    sc, y = t["X"] @ t["w"], t["y"]
    G = torch.sigmoid((sc[None, :] - sc[:, None]) / 0.05) * t["Moff"]
    rall, rpos = 1 + G.sum(1), 1 + G @ y
    return 1 - (y * rpos / rall).sum() / y.sum()


def approx_ndcg(t, s):
    sc = t["X"] @ t["w"]
    r = 1 + (torch.sigmoid((sc[None, :] - sc[:, None]) / 0.5) * t["Moff"]).sum(1)
    return -(t["g"] / torch.log(1 + r)).sum() / t["idcg"]


def soft_dtw_2x3(t, s):
    W = t["W"]
    x1, x2 = torch.tanh(W @ t["u1"]), torch.tanh(W @ t["u2"])
    y1, y2, y3 = t["y1"], t["y2"], t["y3"]

    def c(a, b):
        return ((a - b) ** 2).sum()

    def softmin(*r):
        return -0.5 * torch.logsumexp(torch.stack(r) / -0.5, 0)

    r11 = c(x1, y1)
    r12 = c(x1, y2) + r11
    r13 = c(x1, y3) + r12
    r21 = c(x2, y1) + r11
    r22 = c(x2, y2) + softmin(r11, r12, r21)
    return c(x2, y3) + softmin(r12, r13, r22)


def ragan_discriminator(t, s):
    Xf = torch.tanh(t["Z"] @ t["Wg"])
    cr = torch.tanh(t["Xr"] @ t["Wd"]) @ t["v"]
    cf = torch.tanh(Xf @ t["Wd"]) @ t["v"]
    return F.softplus(-(cr - cf.mean())).mean() + F.softplus(cf - cr.mean()).mean()


# -- reinforcement learning ---------------------------------------------------------------------

def dueling_dqn_huber(t, s):
    H = torch.relu(t["S"] @ t["W1"])
    Ad = H @ t["Wa"]
    Q = (H @ t["wv"])[:, None] + Ad - Ad.mean(1, keepdim=True)
    return _huber(Q[torch.arange(s["B"]), t["act"]] - t["tgt"]).mean()


def qrdqn_quantile_huber(t, s):
    Th = torch.relu(t["S"] @ t["W1"]) @ t["W2"]
    U = t["Tq"][:, None, :] - Th[:, :, None]
    Wt = (t["tau"][None, :, None] - (U < 0).double()).abs()
    return (Wt * _huber(U)).mean(2).sum() / s["B"]


def td3_actor_q(t, s):
    S = t["S"]
    A = 2 * torch.tanh(S @ t["Wp"])
    Q = torch.relu(S @ t["Ws"] + A @ t["Wa"] + t["bq"]) @ t["wq"]
    return -Q.mean() + 0.01 * (A ** 2).mean()


def gae_value_targets(t, s):
    T = s["T"]
    v = torch.tanh(t["S"] @ t["W"]) @ t["w"]
    delta = t["r"] + 0.99 * v[1:] - v[:T]
    return ((t["Gm"] @ delta) ** 2).sum() / T


# -- probabilistic and scientific models --------------------------------------------------------

def hawkes_exp_loglik(t, s):
    mu, al, be = torch.exp(t["lm"]), torch.exp(t["la"]), torch.exp(t["lb"])
    lam = mu + al * (t["Ml"] * torch.exp(-be * t["Dt"])).sum(1)
    return -torch.log(lam).sum() + mu * 3 + al / be * (1 - torch.exp(-be * t["tau"])).sum()


def kde_parzen_nll(t, s):
    lh, D = t["lh"], s["D"]
    lp = torch.logsumexp(-_sqdist(t["X"], t["Cm"]) / (2 * torch.exp(2 * lh)), 1) \
        - math.log(s["K"]) - D * lh - D / 2 * math.log(2 * math.pi)
    return -lp.mean()


def cnp_gaussian_nll(t, s):
    r = torch.relu(torch.stack([t["xc"], t["yc"]], 1) @ t["We"] + t["be"]).mean(0)
    H = torch.relu(t["xt"][:, None] * t["u"] + r @ t["Wd"])
    mu, ls = H @ t["wm"], H @ t["ws"]
    return (0.5 * ((t["yt"] - mu) / torch.exp(ls)) ** 2 + ls).mean()


def deeponet_dot(t, s):
    Br = torch.tanh(t["U"] @ t["Wb"])
    Tr = torch.tanh(t["yq"][:, None] * t["wt"] + t["bt"])
    return ((Br @ Tr.T + t["b0"] - t["G"]) ** 2).mean()


def fno_spectral_given_dft(t, s):
    X = t["X"]
    Xr, Xi = t["Fr"] @ X, t["Fi"] @ X
    Rr, Ri = t["Rr"], t["Ri"]
    Yr, Yi = Xr * Rr - Xi * Ri, Xr * Ri + Xi * Rr
    O = F.gelu(t["Gr"] @ Yr - t["Gi"] @ Yi + X @ t["W"])
    return ((O - t["Y"]) ** 2).mean()


def mass_spring_energy(t, s):
    X = t["X"]
    ln = torch.linalg.norm(t["Dm"] @ X, dim=1)
    return 0.5 * (t["k"] * (ln - t["l0"]) ** 2).sum() + (X @ t["g"]).sum()


def reprojection_error(t, s):
    P = t["X"] @ t["Rm"].T + t["t"]
    Uv = P[:, :2] / (P[:, 2:3] + 4)
    return ((Uv - t["Obs"]) ** 2).sum()


def emd_ordinal_cdf(t, s):
    P = torch.softmax(t["X"] @ t["W"], 1)
    return ((P @ t["Tri"] - t["Y"] @ t["Tri"]) ** 2).sum(1).mean()


def glow_lu_invconv(t, s):
    W = t["Pm"] @ (t["Lr"] * t["Mlow"] + t["I"]) @ (t["Ur"] * t["Mup"] + torch.diag(t["s"]))
    Z = t["X"] @ W.T
    return (0.5 * (Z ** 2).sum(1)).mean() - torch.log(t["s"].abs()).sum()


# -- graphs, recommenders and layers ------------------------------------------------------------

def lightgcn_bpr(t, s):
    E0, A = t["E0"], t["Ah"]
    E1 = A @ E0
    Em = (E0 + E1 + A @ E1) / 3
    x = (Em[t["u"]] * (Em[t["ip"]] - Em[t["ineg"]])).sum(1)
    return F.softplus(-x).mean() + 0.01 * (E0 ** 2).sum()


def gcnii_layer(t, s):
    H0 = torch.relu(t["X"] @ t["W0"])
    Pp = 0.9 * t["Ah"] @ H0 + 0.1 * H0
    H1 = torch.relu(0.5 * Pp + 0.5 * Pp @ t["W1"])
    return -(t["Y"] * torch.log_softmax(H1 @ t["Wc"], 1)).sum(1).mean()


def weight_standardization(t, s):
    W = t["W"]
    Wc = W - W.mean(1, keepdim=True)
    Ws = Wc / torch.sqrt((Wc ** 2).mean(1, keepdim=True) + 1e-5)
    return ((torch.relu(t["X"] @ Ws.T) @ t["v"] - t["y"]) ** 2).mean()


def cbam_channel_attention(t, s):
    X, W1, W2 = t["X"], t["W1"], t["W2"]
    g = torch.sigmoid(torch.relu(X.mean(2) @ W1) @ W2 + torch.relu(X.amax(2) @ W1) @ W2)
    Yg = X * g[:, :, None]
    return ((Yg.mean(2) @ t["Wh"] - t["T"]) ** 2).mean()


def fasttext_subword(t, s):
    h = t["Em"][t["tok"]].mean(1)
    return F.cross_entropy(h @ t["Wo"], t["lab"])


# -- Matrix Cookbook ----------------------------------------------------------------------------

def cb_sylvester_residual(t, s):
    X = t["X"]
    return ((t["A"] @ X + X @ t["Bm"] - t["Cm"]) ** 2).sum()


def cb_trace_a_xinv_b_x(t, s):
    X = t["X"]
    return torch.trace(t["A"] @ torch.linalg.inv(X) @ t["Bm"] @ X)


def cb_quad_xinv_sq_split(t, s):
    Y, b = torch.linalg.inv(t["X"]), t["b"]
    return b @ Y @ Y @ b


def cb_det_xa_plus_b(t, s):
    return torch.det(t["X"] @ t["A"] + t["Bm"])


def cb_frob_xtax_minus_b(t, s):
    X = t["X"]
    return ((X.T @ t["A"] @ X - t["Bm"]) ** 2).sum()


FORWARDS = {f.__name__: f for f in (
    nystromformer_landmarks, linformer_proj, synthesizer_dense, gau_relu2_attention,
    gla_recurrent2, rglru_griffin2, autoint_fields, din_local_activation, gated_attention_mil,
    pointer_net_ce, ia3_attention, vera_adapter, prefix_tuning_attention, monarch_two_factors,
    kron_adapter_reshape, tensor_train_3cores, tucker2_channel_layer, cin_xdeepfm,
    dcl_decoupled_contrastive, align_uniform, cpc_bilinear_infonce, soft_nearest_neighbour,
    rkd_distance, asymmetric_loss_multilabel, taylor_softmax_ce, evidential_dirichlet_mse,
    laplace_nll_heteroscedastic, wing_loss_landmarks, chamfer_distance, smooth_ap_ranking,
    approx_ndcg, soft_dtw_2x3, ragan_discriminator, dueling_dqn_huber, qrdqn_quantile_huber,
    td3_actor_q, gae_value_targets, hawkes_exp_loglik, kde_parzen_nll, cnp_gaussian_nll,
    deeponet_dot, fno_spectral_given_dft, mass_spring_energy, reprojection_error,
    emd_ordinal_cdf, glow_lu_invconv, lightgcn_bpr, gcnii_layer, weight_standardization,
    cbam_channel_attention, fasttext_subword, cb_sylvester_residual, cb_trace_a_xinv_b_x,
    cb_quad_xinv_sq_split, cb_det_xa_plus_b, cb_frob_xtax_minus_b)}

# second sizes: distinct primes everywhere (a dim no input has keeps its size)
ALT: dict[str, dict[str, int]] = {}

# second order checked against torch.autograd.functional.hvp too
HVP = ["nystromformer_landmarks", "gla_recurrent2", "glow_lu_invconv", "hawkes_exp_loglik",
       "cb_trace_a_xinv_b_x", "kde_parzen_nll", "soft_dtw_2x3", "mass_spring_energy"]
