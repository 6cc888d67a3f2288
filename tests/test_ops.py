"""Every op: derived, printed, and proven against finite differences."""

from __future__ import annotations

import pytest

from conftest import derive_text, forms
from einderive.api import verify

HEAD = """
dims: {B: 3, N: 4, M: 5, K: 2}
inputs:
  X: [B, N]
  Y: [B, N]
  A: [N, M]
  C: [M, N]
  v: [N]
  u: [M]
  w: [B]
  s: []
  T3: [K, B, N]
  P: {shape: [B, N], positive: true}
forward:
"""

CASES = {
    "add broadcast": ["Z = X + v", "L = sum(Z * Z)"],
    "sub broadcast": ["Z = v - X", "L = sum(Z * Z)"],
    "mul broadcast": ["Z = X * v * s", "L = sum(Z * Y)"],
    "div": ["Z = X / P + 1 / (P + 2)", "L = sum(Z * Y)"],
    "neg": ["Z = -X", "L = sum(Z * Y)"],
    "pow": ["Z = X ** 2 + P ** 0.5 + P ** -1 + X ** 3", "L = sum(Z * Y)"],
    "transpose .T": ["Z = X.T @ X", "L = sum(Z * Z)"],
    "transpose axes": ["Z = transpose(T3, axes=(1, 0, 2))", "L = sum(Z * Z)"],
    "matmul mat-mat": ["Z = X @ A", "L = sum(Z * Z)"],
    "matmul mat-vec": ["z = A @ u", "L = sum(z * v)"],
    "matmul vec-mat": ["z = v @ A", "L = sum(z * u)"],
    "matmul vec-vec": ["L = v @ v"],
    "matmul batched": ["Z = T3 @ A", "L = sum(Z * Z)"],
    "sigmoid": ["Z = sigmoid(X)", "L = sum(Z * Y)"],
    "tanh": ["Z = tanh(X)", "L = sum(Z * Y)"],
    "relu": ["Z = relu(X)", "L = sum(Z * Y)"],
    "exp": ["Z = exp(X)", "L = sum(Z * Y)"],
    "log": ["Z = log(P)", "L = sum(Z * Y)"],
    "sqrt": ["Z = sqrt(P)", "L = sum(Z * Y)"],
    "softplus": ["Z = softplus(X)", "L = sum(Z * Y)"],
    "gelu": ["Z = gelu(X)", "L = sum(Z * Y)"],
    "silu": ["Z = silu(X)", "L = sum(Z * Y)"],
    "nested functions": ["Z = tanh(sigmoid(X) * 2)", "L = sum(Z * Y)"],
    "sum all": ["L = sum(X * Y)"],
    "sum axis 0": ["z = sum(X, axis=0)", "L = sum(z * v)"],
    "sum axis -1 keepdims": ["z = sum(X, axis=-1, keepdims=True)", "L = sum(z * X)"],
    "sum tuple axes": ["z = sum(T3, axis=(0, 2))", "L = sum(z * w)"],
    "mean": ["z = mean(X, axis=1)", "L = mean(z * w)"],
    "mean keepdims": ["m = mean(X, axis=-1, keepdims=True)", "Z = X - m", "L = sum(Z * Z)"],
    "l2_loss": ["L = l2_loss(X @ A, Y @ A)"],
    "einsum matvec": ['z = einsum("ij,j->i", A, u)', "L = sum(z * v)"],
    "einsum implicit": ['Z = einsum("ij,jk", X, A)', "L = sum(Z * Z)"],
    "einsum three operands": ['z = einsum("bn,nm,m->b", X, A, u)', "L = sum(z * w)"],
    "einsum diagonal": ['z = einsum("ii->i", A @ C)', "L = sum(z * v)"],
    "einsum rank 3": ['Z = einsum("kbn,nm->kbm", T3, A)', "L = sum(Z * Z)"],
    "softmax": ["Z = softmax(X, axis=-1)", "L = sum(Z * Y)"],
    "softmax axis 0": ["Z = softmax(X, axis=0)", "L = sum(Z * Y)"],
    "softmax of an expression": ["Z = softmax(X * s + v, axis=-1)", "L = sum(Z * Y)"],
    "log_softmax": ["Z = log_softmax(X, axis=-1)", "L = sum(Z * Y)"],
    "logsumexp": ["z = logsumexp(X, axis=-1)", "L = sum(z * w)"],
    "logsumexp keepdims": ["z = logsumexp(X, axis=1, keepdims=True)", "L = sum(z * X)"],
    "dims as constants": ["Z = X / sqrt(N) * B", "L = sum(Z * Y)"],
    "scalar input": ["Z = s * X + s ** 2", "L = sum(Z * Y)"],
    "vector softmax": ["p = softmax(v)", "L = sum(p * v)"],
}


def spec(lines: list[str], wrt: str = "") -> str:
    return HEAD + "".join(f"  - {line}\n" for line in lines) + "loss: L\n" + wrt


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradients_match_finite_differences(name):
    d = derive_text(spec(CASES[name]))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    assert report.checks, "every op case differentiates something"


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradients_hold_at_other_sizes(name):
    d = derive_text(spec(CASES[name]))
    assert verify(d, sizes={"B": 7, "N": 2, "M": 3, "K": 5}, seed=2).ok


def test_elementwise_derivatives_are_written_with_the_node():
    # tanh'(z) = 1 − y ⊙ y, exp'(z) = y, sqrt'(z) = 1 ⊘ (2y), log'(z) = 1 ⊘ z, relu' = 𝟙[z > 0]
    d = derive_text(spec(["Z = tanh(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ (1 − Z ⊙ Z)"
    d = derive_text(spec(["Z = exp(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ Z"
    d = derive_text(spec(["Z = sqrt(P)", "L = sum(Z * Y)"]))
    assert forms(d, "P")[1] == "(1/2) ∂L/∂Z ⊘ Z"
    d = derive_text(spec(["Z = log(P)", "L = sum(Z * Y)"]))
    assert forms(d, "P")[1] == "∂L/∂Z ⊘ P"
    d = derive_text(spec(["Z = relu(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ 𝟙[X > 0]"
    d = derive_text(spec(["Z = softplus(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ σ(X)"
    d = derive_text(spec(["Z = gelu(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ (Φ(X) + X ⊙ φ(X))"


def test_a_rank_three_contraction_falls_back_to_einsum_and_says_so():
    from einderive.render.text import note_texts
    d = derive_text(spec(['Z = einsum("kbn,nm->kbm", T3, A)', "L = sum(Z * Z)"]))
    # dims B, N, M, K have the letters i, j, k, l: T3 is indexed l i j
    assert forms(d, "T3")[1] == "einsum('lik,jk->lij', ∂L/∂Z, A)"
    assert "∂L/∂T3 is written with einsum where no matrix rule applies." in note_texts(d)


def test_a_broadcast_operand_sums_over_the_broadcast_axis():
    d = derive_text(spec(["Z = X + v", "L = sum(Z * Y)"]))
    assert forms(d, "v") == ("Σ_i Y_ij", "colsum(Y)")
    d = derive_text(spec(["Z = X * w.T", "L = sum(Z * Y)"], "wrt: [X]\n").replace(
        "w: [B]", "w: [N]"))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ wᵀ"
