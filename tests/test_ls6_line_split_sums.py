"""Issue 12, line-split invariance of tests/models (session 37, ls6): a sum over the batch
axis and a bias summed with the rows print one form whether a node is on its own line or
written inline.

- A sum over the batch of each element's matrix is Σ_b however the recognizer reaches it
  (literal_one_broadcast: m: [1, T, D] summed over its broadcast axis printed sum(…, axis=0,
  keepdims=True) with Y inline); a batch of one inside it is the same matrix in every
  element (m, never m_b).
- A sum over the batch broadcast back against the batch prints as NumPy's sum(…, axis=0,
  keepdims=True) (softmax(X, axis=0), which no element's form reads, printed Σ_b ∂L/∂S_b ⊙
  S_b with S named).
- colsum(X) + B b is colsum(X + bᵀ) (gelu_mlp: the bias b2 summed out of colsum with Y
  inline, kept inside colsum(Y − T) with Y named).

Every spec here passes ``einderive verify`` (each printed form against finite differences),
and each pinned form is evaluated with NumPy against the gradient's definition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_ls4_batched_forms import _expanded, _spec, _verified

LITERAL_ONE = """
name: literal_one_inline
dims: {B: 2, T: 3, D: 4}
inputs: {X: [B, T, D], m: [1, T, D], G: [B, T, D]}
forward:
  - L = sum(G * tanh(X + m))
loss: L
"""

LITERAL_ONE_SPLIT = LITERAL_ONE.replace(
    "  - L = sum(G * tanh(X + m))", "  - Y = tanh(X + m)\n  - L = sum(G * Y)").replace(
    "literal_one_inline", "literal_one_split")

SOFTMAX0 = """
name: softmax_axis0_inline
dims: {B: 3, T: 2, D: 4}
inputs: {X: [B, T, D], Y: [B, T, D]}
forward:
  - L = sum(softmax(X, axis=0) * Y)
loss: L
"""

SOFTMAX0_SPLIT = SOFTMAX0.replace(
    "  - L = sum(softmax(X, axis=0) * Y)",
    "  - S = softmax(X, axis=0)\n  - L = sum(S * Y)").replace(
    "softmax_axis0_inline", "softmax_axis0_split")

GELU = """
name: gelu_mlp_inline
dims: {B: 2, D: 3, H: 5, C: 2}
inputs: {X: [B, D], W1: [D, H], b1: [H], W2: [H, C], b2: [C], T: [B, C]}
forward:
  - A = gelu(X @ W1 + b1)
  - L = mean((A @ W2 + b2 - T) ** 2)
loss: L
"""

GELU_SPLIT = GELU.replace(
    "  - L = mean((A @ W2 + b2 - T) ** 2)",
    "  - Y = A @ W2 + b2\n  - L = mean((Y - T) ** 2)").replace("gelu_mlp_inline", "gelu_mlp_split")


@pytest.mark.parametrize("text, form", [
    (LITERAL_ONE, "grad(m) = Σ_b G_b ⊙ (1 − tanh(X_b + m)^∘2)"),
    (LITERAL_ONE_SPLIT, "grad(m) = Σ_b ∂L/∂Y_b ⊙ (1 − Y_b ⊙ Y_b)"),
], ids=["inline", "split"])
def test_a_literal_one_offset_sums_over_the_batch_as_sigma_b(run, tmp_path, text, form):
    path = _spec(tmp_path, text)
    flat = _expanded(run, path)
    assert form in flat, flat
    assert "keepdims" not in flat and "m_b" not in flat, flat
    _verified(run, path)


def test_the_printed_sigma_b_of_a_literal_one_offset_is_its_gradient():
    """Σ_b G_b ⊙ (1 − tanh(X_b + m)^∘2), m: [1, T, D] the same matrix in every element, is
    ∂/∂m of sum(G ⊙ tanh(X + m)) (central differences)."""
    rng = np.random.default_rng(1)
    X, G = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    m = rng.normal(size=(1, 3, 4))
    printed = sum(G[b] * (1 - np.tanh(X[b] + m[0]) ** 2) for b in range(2))
    h, fd = 1e-6, np.zeros_like(m)
    for k in np.ndindex(m.shape):
        e = np.zeros_like(m)
        e[k] = h
        fd[k] = (np.sum(G * np.tanh(X + m + e)) - np.sum(G * np.tanh(X + m - e))) / (2 * h)
    assert np.allclose(printed, fd[0], atol=1e-6)


@pytest.mark.parametrize("text, form", [
    (SOFTMAX0, "grad(X) = softmax(X, axis=0) ⊙ (Y − sum(Y ⊙ softmax(X, axis=0), axis=0, "
               "keepdims=True))"),
    (SOFTMAX0_SPLIT, "grad(X) = S ⊙ (∂L/∂S − sum(∂L/∂S ⊙ S, axis=0, keepdims=True))"),
], ids=["inline", "split"])
def test_a_sum_over_the_batch_broadcast_back_is_numpys_keepdims_sum(run, tmp_path, text, form):
    path = _spec(tmp_path, text)
    flat = _expanded(run, path)
    assert form in flat, flat
    assert "Σ_b" not in flat, flat
    _verified(run, path)


def test_the_printed_keepdims_sum_is_the_softmax_gradient():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))

    def softmax0(x):
        z = np.exp(x - x.max(axis=0, keepdims=True))
        return z / z.sum(axis=0, keepdims=True)
    S = softmax0(X)
    printed = S * (Y - np.sum(Y * S, axis=0, keepdims=True))
    h, fd = 1e-6, np.zeros_like(X)
    for k in np.ndindex(X.shape):
        e = np.zeros_like(X)
        e[k] = h
        fd[k] = (np.sum(softmax0(X + e) * Y) - np.sum(softmax0(X - e) * Y)) / (2 * h)
    assert np.allclose(printed, fd, atol=1e-6)


@pytest.mark.parametrize("text, form", [
    (GELU, "grad(b2) = (2/(B C)) colsum(A W2 + b2ᵀ − T)"),
    (GELU_SPLIT, "grad(b2) = (2/(B C)) colsum(Y − T)"),
], ids=["inline", "split"])
def test_a_bias_summed_with_the_rows_stays_inside_the_colsum(run, tmp_path, text, form):
    path = _spec(tmp_path, text)
    flat = _expanded(run, path)
    assert form in flat, flat
    _verified(run, path)


def test_the_comparison_writes_the_three_pairs_alike():
    """The made pairs of the shipped models print each gradient alike (line_split_made)."""
    from line_split_made import made_pairs
    from split_pairs import compare
    models = Path(__file__).resolve().parent / "models"
    for spec, name in (("literal_one_broadcast", "inline:Y"), ("softmax_axis0_rank3", "inline:S"),
                       ("gelu_mlp", "inline:Y")):
        pair = next(p for p in made_pairs(models / f"{spec}.yaml")
                    if p.name == f"models/{spec}:{name}")
        both, diff = compare(pair)
        assert both and not diff, diff


def test_the_bias_goes_in_only_when_its_count_is_the_rows():
    """colsum(X) + B b → colsum(X + bᵀ), rowsum(X) + D c → rowsum(X + c); 2 b beside
    colsum(X) of B rows, or a sum of another shape, stays apart; the two print the same
    numbers."""
    from einderive import matrix as mx
    from einderive.kinds import ReduceKind, RefKind
    from einderive.render.styles import Unicode
    from einderive.simplify import _size, simplify
    show = Unicode().matrix
    X = mx.Ref("X", RefKind.TENSOR, ("B", "D"))
    b = mx.Ref("b", RefKind.TENSOR, ("D", 1))
    c = mx.Ref("c", RefKind.TENSOR, ("B", 1))
    col = mx.add(mx.reduce(ReduceKind.COLSUM, X), mx.scale(mx.Const(_size("B")), b))
    row = mx.add(mx.reduce(ReduceKind.ROWSUM, X), mx.scale(mx.Const(_size("D")), c))
    assert show(simplify(col)) == "colsum(X + bᵀ)"
    assert show(simplify(row)) == "rowsum(X + c)"
    other = mx.add(mx.reduce(ReduceKind.COLSUM, X), mx.scale(mx.Const(_size(2)), b))
    assert show(simplify(other)) == "colsum(X) + 2 b"
    rng = np.random.default_rng(3)
    Xn, bn, cn = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    assert np.allclose(Xn.sum(axis=0) + 4 * bn, (Xn + bn).sum(axis=0))
    assert np.allclose(Xn.sum(axis=1) + 3 * cn, (Xn + cn[:, None]).sum(axis=1))
