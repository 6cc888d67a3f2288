"""Normalisation layers reach their known closed forms (issue 12, item 6): the sums of a
centred tensor along its mean's axis are zero (simplify.make_centred), so the mean's share
of the variance's gradient and the colsum of a term ∝ Xc drop out of ∂L/∂X."""

from __future__ import annotations

from pathlib import Path

from einderive.api import derive_file, verify
from einderive.render.text import CLOSED_TOO_LARGE, Pen

ROOT = Path(__file__).resolve().parent


def test_batch_norm_input_gradient_is_the_compact_form():
    # (γ/σ) ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) per column, g = G: the textbook form, in the
    # named node X̂ = Xc ⊘ σᵀ (reuse.through_quotients)
    d = derive_file(str(ROOT / "models" / "batchnorm_train.yaml"))
    pen = Pen.of(d)
    assert pen.matrix(d.adjoint("X").closed) == (
        "(gamma ⊘ √(var + 1e-05))ᵀ ⊙ (G − (1/B) colsum(G)ᵀ − (1/B) X̂ ⊙ colsum(G ⊙ X̂)ᵀ)")
    assert pen.matrix(d.adjoint("mu").closed) == "−gamma ⊙ colsum(G) ⊘ √(var + 1e-05)"
    assert verify(d).ok


def test_batch_norm_expand_prints_every_closed_form(run):
    r = run("derive", str(ROOT / "models" / "batchnorm_train.yaml"), "--expand")
    assert r.exit_code == 0, r.output
    assert CLOSED_TOO_LARGE not in r.output and "(no closed form" not in r.output
    assert "= −gamma ⊙ colsum(G) ⊘ √(var + 1e-05)" in r.output


def test_layer_norm_mean_gradient_drops_the_centred_sum(run):
    # ∂var/∂mu = −(2/D) rowsum(X − mu) = 0 at the mean: the chain form says so
    d = derive_file(str(ROOT / "models" / "layernorm_keepdims.yaml"))
    pen = Pen.of(d)
    assert pen.matrix(d.adjoint("mu").form) == "−(∂L/∂Y g) ⊘ √(var + 1e-05)"
    assert verify(d).ok
