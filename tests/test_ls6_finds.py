"""Leftovers of stop 44 fixed at stop 45 (ls6): one-line layers and orientation."""

from __future__ import annotations

import pytest
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

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
