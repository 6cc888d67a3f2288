"""Shipped specs and Cookbook identities, each beside a variant with one intermediate written
inline or one line split into named nodes (tests/test_line_split.py compares them)."""

from __future__ import annotations

from pathlib import Path

from split_pairs import Pair

SPECS = Path(__file__).resolve().parent.parent / "specs"
MODELS = Path(__file__).resolve().parent / "models"


def shipped(name: str) -> str:
    """A shipped spec's dims and inputs, as written there."""
    text = (SPECS / f"{name}.yaml").read_text()
    return text[text.index("dims:"):text.index("forward:")]


def model(name: str) -> str:
    """A tests/models spec's dims and inputs, as written there."""
    text = (MODELS / f"{name}.yaml").read_text()
    return text[text.index("dims:"):text.index("forward:")]


INVERSE = "dims: {N: 3, K: 2}\ninputs:\n  X: [N, N]\n  a: [N]\n  b: [N]\n  A: [K, N]\n" \
    "  B: [N, K]\n"
VECTORS = "dims: {M: 3, N: 4}\ninputs:\n  x: [N]\n  y: [N]\n  A: [M, N]\n  b: [M]\n" \
    "  S: [N, N]\n"
MATRICES = "dims: {M: 3, N: 4}\ninputs:\n  X: [M, N]\n  A: [M, M]\n  B: [N, N]\n  C: [M, M]\n"

CLIPPED = "dims: {B: 4, D: 3, H: 5}\ninputs:\n  X: [B, D]\n  W: [H, D]\n  b: [H]\n" \
    "  G: [B, H]\n  Y: [B, H]\n"


def inlined(name: str, header: str, split: tuple[str, ...], one: tuple[str, ...]) -> Pair:
    """A shipped spec's lines (``split``) beside the same with an intermediate inline."""
    return Pair(name, header, one, split)


LINE_PAIRS: tuple[Pair, ...] = (
    # shipped specs: with an intermediate written inline (the spec's lines first), or a line
    # split into named nodes
    inlined("attention_inline_scores", shipped("attention"),
         ("S = Q @ K.T * s", "P = softmax(S, axis=-1)", "O = P @ V", "L = sum(O * G)"),
         ("P = softmax(Q @ K.T * s, axis=-1)", "O = P @ V", "L = sum(O * G)")),
    inlined("attention_inline_output", shipped("attention"),
         ("S = Q @ K.T * s", "P = softmax(S, axis=-1)", "O = P @ V", "L = sum(O * G)"),
         ("S = Q @ K.T * s", "P = softmax(S, axis=-1)", "L = sum((P @ V) * G)")),
    inlined("batchnorm_inline_normalised", shipped("batchnorm"),
         ("mu = mean(X, axis=0)", "Xc = X - mu", "var = mean(Xc ** 2, axis=0)",
          "Xhat = Xc / sqrt(var + 1e-5)", "Y = gamma * Xhat + beta", "L = sum(G * Y)"),
         ("mu = mean(X, axis=0)", "Xc = X - mu", "var = mean(Xc ** 2, axis=0)",
          "Xhat = Xc / sqrt(var + 1e-5)", "L = sum(G * (gamma * Xhat + beta))")),
    inlined("gaussian_loglik_inline_difference", shipped("gaussian_loglik"),
         ("d = x - mu", "z = solve(S, d)", "L = 0.5 * logdet(S) + 0.5 * sum(d * z)"),
         ("z = solve(S, x - mu)", "L = 0.5 * logdet(S) + 0.5 * sum((x - mu) * z)")),
    inlined("conv1d_inline_conv", shipped("conv1d"),
         ("Y = conv1d(X, W, b)", "H = leaky_relu(Y, alpha=0.1)", "L = mean((H - y) ** 2)"),
         ("H = leaky_relu(conv1d(X, W, b), alpha=0.1)", "L = mean((H - y) ** 2)")),
    inlined("gru_inline_state", shipped("gru_cell"),
         ("Zg = sigmoid(X @ Wz.T + Hp @ Uz.T + bz)", "Rg = sigmoid(X @ Wr.T + Hp @ Ur.T + br)",
          "Hc = tanh(X @ Wh.T + (Rg * Hp) @ Uh.T + bh)", "Hn = (1 - Zg) * Hp + Zg * Hc",
          "L = sum(G * Hn)"),
         ("Zg = sigmoid(X @ Wz.T + Hp @ Uz.T + bz)", "Rg = sigmoid(X @ Wr.T + Hp @ Ur.T + br)",
          "Hc = tanh(X @ Wh.T + (Rg * Hp) @ Uh.T + bh)",
          "L = sum(G * ((1 - Zg) * Hp + Zg * Hc))")),
    inlined("layernorm_inline_std", shipped("layernorm"),
         ("mu = mean(X, axis=-1, keepdims=True)", "Xc = X - mu",
          "var = mean(Xc * Xc, axis=-1, keepdims=True)", "std = sqrt(var + 1e-5)",
          "Xhat = Xc / std", "Y = Xhat * gamma + beta", "L = sum(Y * G)"),
         ("mu = mean(X, axis=-1, keepdims=True)", "Xc = X - mu",
          "var = mean(Xc * Xc, axis=-1, keepdims=True)", "Xhat = Xc / sqrt(var + 1e-5)",
          "Y = Xhat * gamma + beta", "L = sum(Y * G)")),
    inlined("leaky_mlp_inline_preactivation", shipped("leaky_mlp"),
         ("Z = X @ W1 + b1", "A = leaky_relu(Z, alpha=0.1)", "Y = A @ W2", "R = Y - T",
          "E = where(abs(R) < 1, 0.5 * R * R, abs(R) - 0.5)", "L = mean(E)"),
         ("A = leaky_relu(X @ W1 + b1, alpha=0.1)", "R = A @ W2 - T",
          "E = where(abs(R) < 1, 0.5 * R * R, abs(R) - 0.5)", "L = mean(E)")),
    inlined("llama_mlp_inline_gate", shipped("llama_mlp"),
         ("ms = mean(X * X, axis=-1, keepdims=True)", "Xn = X / sqrt(ms + 1e-6) * g",
          "A = Xn @ W1.T", "C = Xn @ W3.T", "U = silu(A) * C", "O = X + U @ W2.T",
          "L = sum(O * G)"),
         ("ms = mean(X * X, axis=-1, keepdims=True)", "Xn = X / sqrt(ms + 1e-6) * g",
          "U = silu(Xn @ W1.T) * (Xn @ W3.T)", "O = X + U @ W2.T", "L = sum(O * G)")),
    inlined("logistic_regression_inline_logit", shipped("logistic_regression"),
         ("z = X @ w + b", "L = mean(softplus(z) - t * z)"),
         ("L = mean(softplus(X @ w + b) - t * (X @ w + b))",)),
    Pair("lstm_split_cell_tanh", shipped("lstm_cell"),
         ("i = sigmoid(Wi @ x + Ui @ h)", "f = sigmoid(Wf @ x + Uf @ h)",
          "o = sigmoid(Wo @ x + Uo @ h)", "u = tanh(Wg @ x + Ug @ h)", "cn = f * c + i * u",
          "hn = o * tanh(cn)", "L = sum(g * hn) + sum(cn * cn)"),
         ("i = sigmoid(Wi @ x + Ui @ h)", "f = sigmoid(Wf @ x + Uf @ h)",
          "o = sigmoid(Wo @ x + Uo @ h)", "u = tanh(Wg @ x + Ug @ h)", "cn = f * c + i * u",
          "tc = tanh(cn)", "hn = o * tc", "L = sum(g * hn) + sum(cn * cn)")),
    inlined("maxpool_norm_inline_unit", shipped("maxpool_norm"),
         ("H = tanh(X @ W)", "p = max(H, axis=0)", "n = norm(p)", "u = p / n",
          "r = u @ w - y", "f = norm(W)", "L = r * r + 0.1 * f"),
         ("H = tanh(X @ W)", "p = max(H, axis=0)", "n = norm(p)", "r = (p / n) @ w - y",
          "L = r * r + 0.1 * norm(W)")),
    inlined("mlp_inline_logit", shipped("mlp"),
         ("z = W @ x", "y = sigmoid(z)", "e = y_true - y", "L = sum(e * e)"),
         ("y = sigmoid(W @ x)", "e = y_true - y", "L = sum(e * e)")),
    inlined("residual_inline_hidden", shipped("residual"),
         ("a = W1 @ x + b1", "h = tanh(a)", "o = x + W2 @ h", "L = l2_loss(o, t)"),
         ("o = x + W2 @ tanh(W1 @ x + b1)", "L = l2_loss(o, t)")),
    Pair("rmsnorm_split_mean_square", shipped("rmsnorm"),
         ("r = sqrt(mean(X * X, axis=1, keepdims=True) + 1e-6)", "Y = X / r * w",
          "L = sum(G * Y)"),
         ("ms = mean(X * X, axis=1, keepdims=True)", "r = sqrt(ms + 1e-6)", "Y = X / r * w",
          "L = sum(G * Y)")),
    Pair("softmax_regression_split_log_probabilities", shipped("softmax_regression"),
         ("Z = X @ W.T + b", "L = mean(-sum(T * log_softmax(Z, axis=-1), axis=-1))"),
         ("Z = X @ W.T + b", "S = log_softmax(Z, axis=-1)", "L = mean(-sum(T * S, axis=-1))")),
    Pair("tied_autoencoder_split_reconstruction", shipped("tied_autoencoder"),
         ("R = X - X @ W @ W.T", "L = sum(R * R)"),
         ("P = X @ W @ W.T", "R = X - P", "L = sum(R * R)")),
    inlined("two_layer_mlp_inline_hidden", shipped("two_layer_mlp"),
         ("Z1 = X @ W1.T + b1", "H1 = tanh(Z1)", "Z2 = H1 @ W2.T + b2", "R = Z2 - Y",
          "L = mean(R * R)"),
         ("Z2 = tanh(X @ W1.T + b1) @ W2.T + b2", "R = Z2 - Y", "L = mean(R * R)")),
    inlined("embedding_inline_logits", shipped("embedding_lm_head"),
         ("X = E[tokens]", "Z = X @ W.T + b", "P = log_softmax(Z, axis=-1)",
          "L = -mean(P[range(T), labels])"),
         ("X = E[tokens]", "P = log_softmax(X @ W.T + b, axis=-1)",
          "L = -mean(P[range(T), labels])")),
    # tests/models specs: gated units, norms, attention pieces, losses
    Pair("swiglu_split_gate", model("swiglu_inline"),
         ("U = silu(X @ W1.T) * (X @ W3.T)", "L = sum(G * (U @ W2.T))"),
         ("A = X @ W1.T", "C = X @ W3.T", "U = silu(A) * C", "Y = U @ W2.T", "L = sum(G * Y)")),
    inlined("group_norm_inline_centred", model("group_norm"),
         ("Xr = reshape(X, [B, G, Cg])", "mu = mean(Xr, axis=2, keepdims=True)",
          "Xc = Xr - mu", "var = mean(Xc ** 2, axis=2, keepdims=True)",
          "Y = reshape(Xc / sqrt(var + 0.00001), [B, C]) * gamma + beta", "L = sum(Y * T)"),
         ("Xr = reshape(X, [B, G, Cg])", "mu = mean(Xr, axis=2, keepdims=True)",
          "var = mean((Xr - mu) ** 2, axis=2, keepdims=True)",
          "Y = reshape((Xr - mu) / sqrt(var + 0.00001), [B, C]) * gamma + beta",
          "L = sum(Y * T)")),
    Pair("focal_split_logit", model("focal_binary"),
         ("p = sigmoid(X @ w)",
          "L = -sum(y * (1 - p) ** 2 * log(p) + (1 - y) * p ** 2 * log(1 - p))"),
         ("z = X @ w", "p = sigmoid(z)",
          "L = -sum(y * (1 - p) ** 2 * log(p) + (1 - y) * p ** 2 * log(1 - p))")),
    Pair("infonce_split_logsumexp", model("infonce"),
         ("S = Z1 @ Z2.T / 0.5", "L = mean(logsumexp(S, axis=1) - diagonal(S))"),
         ("S = Z1 @ Z2.T / 0.5", "l = logsumexp(S, axis=1)", "d = diagonal(S)",
          "L = mean(l - d)")),
    inlined("attention_masked_inline_mask", model("attention_masked"),
         ("S = Q @ transpose(K, axes=(0, 2, 1)) / sqrt(D)", "Sm = where(Mask > 0, S, -1e9)",
          "P = softmax(Sm, axis=-1)", "O = P @ V", "Z = O @ Wo", "L = sum(G * Z)"),
         ("S = Q @ transpose(K, axes=(0, 2, 1)) / sqrt(D)",
          "P = softmax(where(Mask > 0, S, -1e9), axis=-1)", "O = P @ V", "L = sum(G * (O @ Wo))")),
    Pair("gelu_mlp_split_preactivation", model("gelu_mlp"),
         ("A = gelu(X @ W1 + b1)", "Y = A @ W2 + b2", "L = mean((Y - T) ** 2)"),
         ("Z = X @ W1 + b1", "A = gelu(Z)", "Y = A @ W2 + b2", "R = Y - T", "L = mean(R ** 2)")),
    inlined("mahalanobis_inline_difference", model("mahalanobis"),
         ("d = x - m", "L = d @ (P @ d)"),
         ("L = (x - m) @ (P @ (x - m))",)),
    inlined("layernorm_rank3_inline_normalised", model("layernorm_rank3"),
         ("mu = mean(X, axis=-1, keepdims=True)", "Xc = X - mu",
          "var = mean(Xc * Xc, axis=-1, keepdims=True)", "Xhat = Xc / sqrt(var + 1e-5)",
          "Y = Xhat * g + b", "L = sum(G * Y)"),
         ("mu = mean(X, axis=-1, keepdims=True)", "Xc = X - mu",
          "var = mean(Xc * Xc, axis=-1, keepdims=True)",
          "L = sum(G * (Xc / sqrt(var + 1e-5) * g + b))")),
    Pair("logreg_bce_split_logit", model("logreg_bce"),
         ("p = sigmoid(X @ w + b)", "L = -mean(t * log(p) + (1 - t) * log(1 - p))"),
         ("z = X @ w + b", "p = sigmoid(z)", "L = -mean(t * log(p) + (1 - t) * log(1 - p))")),
    inlined("gaussian_nll_batch_inline_difference", model("gaussian_nll_batch"),
         ("D = X - mu", "Z = solve(S, D.T)", "L = 0.5 * B * logdet(S) + 0.5 * sum(D.T * Z)"),
         ("Z = solve(S, (X - mu).T)",
          "L = 0.5 * B * logdet(S) + 0.5 * sum((X - mu).T * Z)")),
    inlined("centred_variance_inline_difference", model("centred_variance"),
         ("m = mean(x)", "d = x - m", "L = mean(d * d)"),
         ("m = mean(x)", "L = mean((x - m) * (x - m))")),
    # Cookbook identities (tests/test_cookbook.py) written on one line, then split
    Pair("inverse_and_determinant", INVERSE,
         ("L = a @ inv(X) @ b + det(inv(X))",),
         ("Y = inv(X)", "L = a @ Y @ b + det(Y)")),
    Pair("trace_of_inverse_product", INVERSE,
         ("L = trace(A @ inv(X) @ B) + logdet(inv(X))",),
         ("Y = inv(X)", "L = trace(A @ Y @ B) + logdet(Y)")),
    Pair("inverse_against_its_matrix", INVERSE,
         ("L = trace(inv(X) @ X) + a @ inv(X) @ b",),
         ("Y = inv(X)", "L = trace(Y @ X) + a @ Y @ b")),
    Pair("det_of_product", INVERSE,
         ("L = det(A @ X @ B)",),
         ("M = A @ X @ B", "L = det(M)")),
    Pair("residual_norm", VECTORS,
         ("L = norm(A @ x - b)",),
         ("r = A @ x - b", "L = norm(r)")),
    Pair("rayleigh_quotient", VECTORS,
         ("L = x @ S @ x / (x @ x)",),
         ("q = x @ S @ x", "n = x @ x", "L = q / n")),
    Pair("cosine_similarity", VECTORS,
         ("L = x @ y / sqrt(x @ x) / sqrt(y @ y)",),
         ("nx = sqrt(x @ x)", "ny = sqrt(y @ y)", "L = x @ y / (nx * ny)")),
    Pair("trace_quadratic", MATRICES,
         ("L = trace(X.T @ A @ X)",),
         ("Y = A @ X", "L = trace(X.T @ Y)")),
    Pair("trace_sandwich", MATRICES,
         ("L = sum(X * (A @ X @ B))",),
         ("Y = A @ X @ B", "L = sum(X * Y)")),
    Pair("logdet_gram_weighted",  # M > N: Xᵀ A X (N×N) is invertible
         MATRICES.replace("A: [M, M]", "A: {shape: [M, M], spd: true}")
         .replace("{M: 3, N: 4}", "{M: 5, N: 3}"),
         ("L = logdet(X.T @ A @ X)",),
         ("G = X.T @ A @ X", "L = logdet(G)")),
    # one-line layers keep the orientation their line writes (nu48 find 02: silu(W1 Xnᵀ) and
    # Gᵀ (silu(W1 Xnᵀ) ⊙ (W3 Xnᵀ))ᵀ merged; leaky_relu(W1ᵀ Xᵀ + b1, 1/10) T in grad(W2))
    inlined("llama_mlp_inline_gate_and_residual", shipped("llama_mlp"),
            ("ms = mean(X * X, axis=-1, keepdims=True)", "Xn = X / sqrt(ms + 1e-6) * g",
             "A = Xn @ W1.T", "C = Xn @ W3.T", "U = silu(A) * C", "O = X + U @ W2.T",
             "L = sum(O * G)"),
            ("ms = mean(X * X, axis=-1, keepdims=True)", "Xn = X / sqrt(ms + 1e-6) * g",
             "L = sum((X + (silu(Xn @ W1.T) * (Xn @ W3.T)) @ W2.T) * G)")),
    inlined("leaky_mlp_inline_layer", shipped("leaky_mlp"),
            ("Z = X @ W1 + b1", "A = leaky_relu(Z, alpha=0.1)", "Y = A @ W2", "R = Y - T",
             "E = where(abs(R) < 1, 0.5 * R * R, abs(R) - 0.5)", "L = mean(E)"),
            ("R = leaky_relu(X @ W1 + b1, alpha=0.1) @ W2 - T",
             "E = where(abs(R) < 1, 0.5 * R * R, abs(R) - 0.5)", "L = mean(E)")),
    # a function of several arguments reads every argument that holds a product the way its
    # line wrote it, not the first alone (ls6: maximum(Y, X @ W.T + b) read 𝟙[Y ≤ (W Xᵀ + b)ᵀ])
    Pair("maximum_layer_second_argument", CLIPPED,
         ("L = sum(maximum(Y, X @ W.T + b) * G)",),
         ("Z = X @ W.T + b", "L = sum(maximum(Y, Z) * G)")),
    Pair("where_layer_product_in_condition", CLIPPED,
         ("L = sum(where(Y > X @ W.T + b, Y, 0.5 * (X @ W.T + b)) * G)",),
         ("Z = X @ W.T + b", "L = sum(where(Y > Z, Y, 0.5 * Z) * G)")),
)
