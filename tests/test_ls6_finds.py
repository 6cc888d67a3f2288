"""Leftovers of stop 44 fixed at stop 45 (ls6): one-line layers and orientation."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"

LAYER = """dims: {B: 4, D: 3, H: 5}
inputs:
  X: [B, D]
  W: [H, D]
  b: [H]
  G: [B, H]
  Y: [B, H]
forward:
  - "L = sum(LINE * G)"
loss: L
"""


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("line, w", [
    ("maximum(Y, X @ W.T + b)", "grad(W) = (G ⊙ 𝟙[Y ≤ X Wᵀ + bᵀ])ᵀ X"),
    ("minimum(Y, X @ W.T + b)", "grad(W) = (G ⊙ 𝟙[Y ≥ X Wᵀ + bᵀ])ᵀ X"),
    ("where(Y > X @ W.T + b, Y, 0.5 * (X @ W.T + b))",
     "grad(W) = (1/2) (G ⊙ 𝟙[Y ≤ X Wᵀ + bᵀ])ᵀ X")], ids=["maximum", "minimum", "where"])
def test_a_function_of_several_arguments_reads_each_product_as_its_line_wrote_it(
        tmp_path, line, w):
    """maximum(Y, X @ W.T + b) printed grad(W) = (G ⊙ 𝟙[Y ≤ (W Xᵀ + b)ᵀ])ᵀ X: the reading
    turned a function's argument to the line's orientation by its first argument only (Y,
    no product), and the product, read W Xᵀ + b, was transposed whole to fit Y."""
    text = LAYER.replace("LINE", line)
    spec = tmp_path / "layer.yaml"
    spec.write_text(text)
    out = _run("derive", "--expand", str(spec))
    assert "W Xᵀ" not in out, out
    assert w in out, out
    _run("verify", str(spec))
    assert not text_failures(text, expand=True)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_one_line_mlp_reads_its_residual_one_way_round_in_every_gradient():
    """nu48 find 07: grad(W1) and grad(b1) read the residual t1 W2ᵀ + b2ᵀ − Y and grad(W2)
    read it turned, (W2 t1ᵀ + b2 − Yᵀ) t1: the simplifier pushed the transpose of the sum
    into it though that transposed the function of a product tanh(X W1ᵀ + b1ᵀ), and naming
    that function t1 left the transposed sum nothing to keep it whole, so the substitution
    that named it pushed the transpose in again."""
    spec = REGRESSIONS / "two_layer_mlp_one_line_residual.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "W2 t1ᵀ" not in out and "b2 − Yᵀ" not in out, out
    for line in ("∂L/∂W2    = (2/(B C)) (t1 W2ᵀ + b2ᵀ − Y)ᵀ t1",
                 "grad(W2) = (2/(B C)) (t1 W2ᵀ + b2ᵀ − Y)ᵀ t1",
                 "grad(W1) = (2/(B C)) (((t1 W2ᵀ + b2ᵀ − Y) W2) ⊙ (1 − t1 ⊙ t1))ᵀ X"):
        assert line in out, (line, out)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)


def test_an_index_form_keeps_its_terms_order_when_only_its_clauses_change():
    """fx1 (stop 44) gave nested sigmoids' ∂L/∂b the clause its t3 reads; the block's form
    was the same, yet derivation._reused took the positions of its terms anew from the
    matrix form alone, and ∂L/∂b_i printed its terms in SymPy's order, (Σ_i′ (Σ_i′′ A_i′′i
    A_i′i′′ σ'(c_i′′ + …))) σ'(…) + σ'(b_i + …), not as before fx1 (and as the line writes
    the sums, Σ … + b_i)."""
    spec = REGRESSIONS / "nested_sigmoid_earlier_clause.yaml"
    out = _run("derive", "--expand", str(spec))
    for line in ("∂L/∂b_i   = σ'(Σ_i′ A_ii′ σ(Σ_i′′ A_i′i′′ σ(Σ_i′′′ A_i′′i′′′ x_i′′′ + b_i′′) +",
                 "∂L/∂A_ii′ = σ'(Σ_i′′ A_ii′′ σ(Σ_i′′′ A_i′′i′′′ σ(Σ_i′′′′ A_i′′′i′′′′ x_i′′′′ +"):
        assert line in out, (line, out)
    assert "σ'(c_i′′ +" not in out, out


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_scalar_sum_of_one_by_one_tensors_reads_as_a_sum():
    """qf3's leftover: sum(m * m) of a node m: [1, 1] printed L = … + m ⊙ m, a 1×1 matrix
    where L is a number (the index form drops both literal-1 axes, and the reading kept the
    product's 1×1 shape); now the sum the line writes, ‖m‖², as ‖Yh − Y‖² beside it."""
    spec = REGRESSIONS / "mlp_on_a_column_input.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "L    = (1/B) ‖Yh − Y‖² + ‖m‖²" in out, out
    assert "m ⊙ m" not in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)
