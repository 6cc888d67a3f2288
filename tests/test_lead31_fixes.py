"""A transposed elementwise product whose transpose cancels against its factors' is written
untransposed (simplify.transpose_of_elementwise): an inline tanh layer's weight gradient reads
as sigmoid's, relu's and gelu's do; a function of a product keeps its orientation."""

from __future__ import annotations

from pathlib import Path

from einderive import matrix as mx
from einderive.kinds import RefKind
from einderive.api import derive_file, verify
from einderive.simplify import simplify, transpose_of_elementwise

SPEC = Path(__file__).parent / "regressions" / "tanh_inline_orientation.yaml"


def test_an_inline_tanh_layer_reads_untransposed(run):
    out = run("derive", str(SPEC)).stdout
    assert "∂L/∂W1    = Xᵀ ((∂L/∂S W2ᵀ) ⊙ (1 − tanh(X W1)^∘2))\n" in out, out
    assert "ᵀ)ᵀ" not in out, out
    report = verify(derive_file(str(SPEC)), seed=3)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def _m(name: str, *shape: str) -> mx.M:
    return mx.Ref(name, RefKind.TENSOR, tuple(shape))


def test_the_rule_keeps_a_function_of_a_product_as_it_stands():
    x, w = _m("X", "B", "D"), _m("W", "D", "H")
    g = _m("G", "H", "B")
    f = mx.Fn("tanh", mx.matmul(x, w), ("B", "H"))
    # (G ⊙ tanh(X W)ᵀ)ᵀ → Gᵀ ⊙ tanh(X W): the function's transpose cancels
    m = mx.Transpose(mx.Hadamard((g, mx.Transpose(f, ("H", "B"))), ("H", "B")), ("B", "H"))
    new = transpose_of_elementwise(m)
    assert new is not None and not isinstance(new, mx.Transpose) and f in set(mx.walk(new))
    assert simplify(m) == new
    # (G ⊙ tanh(Wᵀ Xᵀ))ᵀ: pushing in would turn the function round (tanh(X W)): not taken
    turned = mx.Fn("tanh", mx.matmul(mx.transpose(w), mx.transpose(x)), ("H", "B"))
    kept = mx.Transpose(mx.Hadamard((g, turned), ("H", "B")), ("B", "H"))
    assert transpose_of_elementwise(kept) is None


def test_a_whole_total_inside_a_batch_sum_is_the_total():
    """∂L/∂W = Σ_b X_bᵀ ((sum(W)·X_b + 4 sum(Y ⊙ Y)·Y_b) ⊙ …) + …: the generated code reads
    sum(Y ⊙ Y) as the whole batch's total (an element's, sum(Y_b ⊙ Y_b), is the element's)."""
    d = derive_file(str(SPEC.parent / "whole_total_inside_batch_sum.yaml"))
    report = verify(d, seed=5)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
