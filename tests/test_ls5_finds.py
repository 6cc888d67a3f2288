"""Finds of the split/merge hunt nu48 (session 43) fixed at stop 44 (ls5): a one-line
composition prints what its split spec prints (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_one_line_swiglu_residual_keeps_the_orientation_its_line_wrote():
    """silu(X @ W1.T) * (X @ W3.T) beside a residual read silu(W1 Xᵀ) ⊙ (W3 Xᵀ), turned (the
    reader took the order of the names, W1 before X): the Forward and every gradient read
    the [B, H] the line writes, as the spec without the residual did."""
    spec = REGRESSIONS / "swiglu_residual_one_orientation.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "W1 Xᵀ" not in out and "W3 Xᵀ" not in out and "W2ᵀ Gᵀ" not in out, out
    for line in ("L = sum(G ⊙ (X + (silu(X W1ᵀ) ⊙ (X W3ᵀ)) W2ᵀ))",
                 "grad(W2) = Gᵀ (silu(X W1ᵀ) ⊙ (X W3ᵀ))",
                 "grad(W3) = (silu(X W1ᵀ) ⊙ (G W2))ᵀ X"):
        assert line in out, (line, out)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("act, b1, w2", [
    ("leaky_relu(X @ W1 + b1, alpha=0.1)",
     "grad(b1) = colsum(where(X W1 + b1ᵀ > 0, 1, 1/10) ⊙ (T W2ᵀ))",
     "grad(W2) = leaky_relu(X W1 + b1ᵀ, 1/10)ᵀ T"),
    ("elu(X @ W1 + b1)",
     "grad(b1) = colsum(where(t1 > 0, 1, 1 + elu(t1, 1)) ⊙ (T W2ᵀ))",
     "grad(W2) = elu(X W1 + b1ᵀ, 1)ᵀ T"),
    ("where(X @ W1 + b1 > 0, X @ W1 + b1, 0.1 * (X @ W1 + b1))",
     "grad(b1) = colsum((T W2ᵀ) ⊙ ((1/10) 𝟙[t1 ≤ 0] + 𝟙[t1 > 0]))",
     "grad(W2) = where(t1 > 0, t1, (1/10) t1)ᵀ T")], ids=["leaky_relu", "elu", "where"])
def test_a_function_of_several_arguments_keeps_the_orientation_its_line_wrote(
        tmp_path, act, b1, w2):
    """A one-line leaky layer's grad(b1) and grad(W2) read where(W1ᵀ Xᵀ + b1 > 0, …) and
    leaky_relu(W1ᵀ Xᵀ + b1, 1/10) beside X W1 + b1ᵀ in its other gradients: a function of
    several arguments (an alpha, where's branches) was never turned back to the line's
    orientation, as one of one argument is."""
    text = (REGRESSIONS / "leaky_layer_one_orientation.yaml").read_text().replace(
        "leaky_relu(X @ W1 + b1, alpha=0.1)", act)
    spec = tmp_path / "layer.yaml"
    spec.write_text(text)
    out = _run("derive", "--expand", str(spec))
    assert "W1ᵀ Xᵀ" not in out and "W2 Tᵀ" not in out, out
    assert b1 in out and w2 in out, out
    _run("verify", str(spec))
    assert not text_failures(text, expand=True)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_one_line_autoencoder_names_its_residual_in_every_gradient():
    """L = sum((X - X @ W @ W.T) ** 2): grad(X) printed 2 (X + (−2 X + X W Wᵀ) W Wᵀ) beside
    grad(W) = −2 (Xᵀ t1 + t1ᵀ X) W; the residual is kept whole and named in both, as the
    two-line spec's 2 (R − R W Wᵀ)."""
    spec = REGRESSIONS / "tied_autoencoder_one_line.yaml"  # (lead43's spec: grad(W) there)
    out = _run("derive", "--expand", str(spec))
    gradients = out[out.index("Gradients"):]
    for line in ("grad(X) = 2 (t1 − t1 W Wᵀ)\n            where t1 = X − X W Wᵀ",
                 "grad(W) = −2 (Xᵀ t1 + t1ᵀ X) W\n            where t1 = X − X W Wᵀ"):
        assert line in gradients, (line, out)
    assert "−2 X" not in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)
