"""A softmax written by hand reads as softmax (identities hunt of stop 41, finds 03, 07, 08):
exp(u) over its own sum, and exp(u − logsumexp(u)), print softmax(u) as the textbook and the
softmax / logsumexp writings of the same function do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures
from test_simplify import check, ev, text, values_for

from einderive import matrix as mx
from einderive import simplify as S
from einderive.kinds import ReduceKind

REGRESSIONS = Path(__file__).parent / "regressions"


def ref(name: str, *shape) -> mx.Ref:
    return mx.Ref(name, "tensor", tuple(shape))


X, W, T, G = ref("X", "M", "N"), ref("W", "N", "K"), ref("T", "M", "K"), ref("G", "M", "K")
U, V, B = ref("U", "M", "K"), ref("V", "M", "K"), ref("B", "M", "N")
x, a, c = ref("x", "N", 1), ref("a", "M", 1), ref("c", "K", 1)


def _over(kind: ReduceKind, e: mx.M) -> mx.M:
    return mx.power(mx.reduce(kind, e), -1)


# -- the rule on its own: the form it prints and its value --------------------------------------


def test_exp_over_the_sum_of_a_vector_is_its_softmax():
    e = mx.fn("exp", mx.matmul(B, x))
    check(S.softmax_by_hand, mx.scale(_over(ReduceKind.SUM, e), e), "softmax(B x)")


def test_a_number_in_front_stays_in_front():
    e = mx.fn("exp", mx.matmul(B, x))
    s = mx.reduce(ReduceKind.SUM, X)
    before = mx.scale(mx.scalar_product([mx.Const(sympy.Integer(2)), s,
                                         _over(ReduceKind.SUM, e)]), mx.hadamard(a, e))
    check(S.softmax_by_hand, before, "2 sum(X)·a ⊙ softmax(B x)")


def test_exp_over_its_row_sum_among_other_factors_is_a_row_softmax():
    e = mx.fn("exp", mx.matmul(X, W))
    check(S.softmax_by_hand, mx.hadamard(G, e, _over(ReduceKind.ROWSUM, e)),
          "G ⊙ softmax(X W)")
    check(S.softmax_by_hand, mx.hadamard(a, mx.fn("exp", U), _over(ReduceKind.ROWSUM,
                                                                 mx.fn("exp", U))),
          "a ⊙ softmax(U)")


def test_exp_over_its_turned_column_sum_is_a_column_softmax():
    e = mx.fn("exp", U)
    before = mx.hadamard(e, mx.transpose(mx.hadamard(c, _over(ReduceKind.COLSUM, e))))
    check(S.softmax_by_hand, before, "cᵀ ⊙ softmax(U, axis=0)")


def test_the_row_normaliser_crosses_a_product_over_the_rows():
    # (X ⊙ a ⊘ rowsum(exp(X W)))ᵀ exp(X W) = Xᵀ (a ⊙ softmax(X W)), and its mirror
    e = mx.fn("exp", mx.matmul(X, W))
    before = mx.matmul(mx.transpose(mx.hadamard(X, a, _over(ReduceKind.ROWSUM, e))), e)
    check(S.softmax_across_product, before, "Xᵀ (a ⊙ softmax(X W))")
    mirror = mx.matmul(mx.transpose(e), mx.hadamard(X, _over(ReduceKind.ROWSUM, e)))
    check(S.softmax_across_product, mirror, "softmax(X W)ᵀ X")
    # (exp(X W) Wᵀ) ⊙ a ⊘ rowsum(exp(X W)) = (a ⊙ softmax(X W)) Wᵀ
    into = mx.hadamard(mx.matmul(e, mx.transpose(W)), a, _over(ReduceKind.ROWSUM, e))
    check(S.softmax_across_product, into, "(a ⊙ softmax(X W)) Wᵀ")


def test_a_sum_over_the_normaliser_sums_the_softmax():
    # rowsum(G ⊙ exp(U)) ⊘ rowsum(exp(U)) = rowsum(G ⊙ softmax(U)), a vector's likewise
    e = mx.fn("exp", U)
    before = mx.hadamard(a, mx.reduce(ReduceKind.ROWSUM, mx.hadamard(G, e)),
                         _over(ReduceKind.ROWSUM, e))
    check(S.softmax_across_product, before, "a ⊙ rowsum(G ⊙ softmax(U))")
    v = mx.fn("exp", mx.matmul(B, x))
    g = ref("g", "M", 1)
    total = mx.scalar_product([mx.reduce(ReduceKind.SUM, mx.hadamard(g, v)),
                               _over(ReduceKind.SUM, v)])
    check(S.softmax_across_product, total, "gᵀ softmax(B x)")
    turned = mx.scalar_product([mx.matmul(mx.transpose(v), g), _over(ReduceKind.SUM, v)])
    assert text(S.softmax_across_product(turned)) == "softmax(B x)ᵀ g"


def test_exp_over_another_sum_is_left_alone():
    e, f = mx.fn("exp", U), mx.fn("exp", mx.neg(U))
    assert S.softmax_by_hand(mx.hadamard(e, _over(ReduceKind.ROWSUM, f))) is None
    # a row sum is no column softmax: colsum's normaliser must be turned to broadcast
    assert S.softmax_by_hand(mx.hadamard(e, mx.transpose(_over(ReduceKind.ROWSUM, e)))) \
        is None
    # the total of a matrix has no softmax along one axis
    assert S.softmax_by_hand(mx.scale(_over(ReduceKind.SUM, e), e)) is None
    # exp(u) of a batched form: left as written
    xb = mx.Ref("Xb", "tensor", ("M", "K"), batch=("H",))
    eb = mx.fn("exp", xb)
    assert S.softmax_by_hand(mx.hadamard(eb, _over(ReduceKind.ROWSUM, eb))) is None


def _logsumexp(v: np.ndarray, axis: int) -> np.ndarray:
    m = v.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(v - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1])
def test_exp_minus_logsumexp_is_softmax(axis):
    lse = mx.AxisFn("logsumexp", U, axis, ("M", "K"), ("M", 1) if axis else ("K", 1))
    minus = mx.neg(lse if axis else mx.Transpose(lse, (1, "K")))
    before = mx.fn("exp", mx.add(U, minus))
    after = S.softmax_by_hand(before)
    assert after is not None and text(after) == ("softmax(U)" if axis else
                                                 "softmax(U, axis=0)"), before
    assert text(S.simplify(before)) == text(after)
    vals = values_for(U)
    np.testing.assert_allclose(ev(after, vals), np.exp(vals["U"] - _logsumexp(vals["U"], axis)),
                               rtol=1e-12)
    # the logsumexp of another tensor, or added, is no softmax
    assert S.softmax_by_hand(mx.fn("exp", mx.add(V, minus))) is None
    assert S.softmax_by_hand(mx.fn("exp", mx.add(U, mx.neg(minus)))) is None


def test_exp_minus_logsumexp_of_a_vector_is_its_softmax():
    lse = mx.AxisFn("logsumexp", x, 0, ("N",), ())
    after = S.softmax_by_hand(mx.fn("exp", mx.add(x, mx.neg(lse))))
    assert after is not None and text(after) == "softmax(x)"
    vals = values_for(x)
    np.testing.assert_allclose(ev(after, vals), np.exp(vals["x"] - _logsumexp(vals["x"], 0)),
                               rtol=1e-12)


# -- the writings of one function print one form ------------------------------------------------


def _grads(spec_text: str, tmp_path: Path) -> str:
    p = tmp_path / "spec.yaml"
    p.write_text(spec_text)
    out = _run("derive", "--expand", str(p))
    _run("verify", str(p))
    return " ".join(out.split())


VECTOR = """dims: {{N: 4}}
inputs:
  z: [N]
  a: [N]
forward:
{lines}
loss: L
wrt: [z]
"""


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("lines", [
    "  - L = log(sum(exp(z))) - a @ z",
    "  - L = logsumexp(z) - a @ z",
    "  - L = log(sum(exp(z), axis=0)) - a @ z",
])
def test_find_03_every_writing_prints_softmax(lines, tmp_path):
    """find 03: log(sum(exp(z))) printed (1/sum(exp(z)))·exp(z) − a, logsumexp(z) softmax(z) − a."""
    flat = _grads(VECTOR.format(lines=lines), tmp_path)
    assert "grad(z) = softmax(z) − a" in flat, flat
    assert "1/sum" not in flat and "exp(z)" not in flat.split("Gradients")[1], flat


ROWS = """dims: {{B: 3, D: 2}}
inputs:
  X: [B, D]
  G: [B, D]
forward:
  - L = {rhs}
loss: L
wrt: [X]
"""


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("rhs", [
    "sum(G * exp(log_softmax(X, axis=1)))",
    "sum(G * exp(X - logsumexp(X, axis=-1, keepdims=True)))",
    "sum(G * (exp(X) / sum(exp(X), axis=1, keepdims=True)))",
    "sum(G * softmax(X, axis=-1))",
])
def test_find_08_every_writing_prints_the_textbook_form(rhs, tmp_path):
    """find 08: exp(log_softmax(X)) printed G ⊙ exp(X − logsumexp(X)) − softmax(X) ⊙
    rowsum(G ⊙ exp(X − logsumexp(X))), one P two ways; textbook P ⊙ (G − rowsum(G ⊙ P))."""
    flat = _grads(ROWS.format(rhs=rhs), tmp_path)
    assert "grad(X) = softmax(X) ⊙ (G − rowsum(G ⊙ softmax(X)))" in flat, flat
    assert "logsumexp" not in flat.split("Gradients")[1], flat


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("name, printed", [
    ("softmax_by_hand_of_a_vector", ["grad(z) = softmax(z) − a"]),
    ("softmax_by_hand_of_rows_and_columns", ["grad(Z) = a ⊙ softmax(Z)",
                                            "grad(Y) = bᵀ ⊙ softmax(Y, axis=0)"]),
    ("softmax_regression_by_hand", ["grad(W) = Xᵀ (softmax(X W) ⊙ rowsum(T) − T)",
                                    "grad(X) = (softmax(X W) ⊙ rowsum(T) − T) Wᵀ",
                                    "L = −sum(T ⊙ log(softmax(X W)))"]),
    ("exp_of_log_softmax", ["grad(X) = softmax(X) ⊙ (G − rowsum(G ⊙ softmax(X)))"]),
])
def test_regression_specs_print_softmax_and_read_back(name, printed):
    """The finds' specs print the textbook forms, verify, and read back as printed."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", "--expand", str(spec))
    flat = " ".join(out.split())
    for p in printed:
        assert p in flat, (p, out)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())
