"""rd2 (session 45): readability leftovers of the paper-loss hunt (nu49), each an exact rule of
the simplifier's table (simplify.LEFTOVERS) with its own test and a numeric check:

- ``𝟙[(3/10) d > −(7/10) d]`` → ``𝟙[d > 0]`` (scaled_comparison: two multiples of one u
  compare as u with 0, turned round where the left multiple is the smaller; ties kept);
- ``d ⊙ 𝟙[c] + d ⊙ 𝟙[¬c]`` → ``d`` (complementary_terms: ¬c the exact complement, ties
  included);
- ``sum(1 ⊘ rᵀ)`` → ``sum(1 ⊘ r)`` (sum_of_transposed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from einderive import matrix as mx
from einderive import simplify as sp
from einderive.kinds import ReduceKind

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
from test_simplify_written_out import (  # noqa: E402
    FUNCTIONS, _ref, _values, backward_lines, check, ev, text)

REG = TESTS / "regressions"


def _c(v) -> mx.Const:
    return mx.Const(sympy.Rational(v))


def _where_values(name):
    cmp = FUNCTIONS[name]
    return lambda a, b, x, y: np.where(cmp(a, b) > 0, x, y)


FUNCTIONS.update({f"where_{n}": _where_values(n) for n in ("gt", "ge", "lt", "le")})


# -- scaled_comparison ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,p,q,want", [
    ("gt", "3/10", "-7/10", "𝟙[d > 0]"),     # the pinball loss's maximum(τ d, (τ − 1) d)
    ("le", "3/10", "-7/10", "𝟙[d ≤ 0]"),     # its other side: ties as maximum's rule sends them
    ("gt", "-7/10", "3/10", "𝟙[d < 0]"),     # the smaller multiple on the left: turned round
    ("ge", "1/2", "2", "𝟙[d ≤ 0]"),
    ("lt", "2", "3", "𝟙[d > 0]"),            # 2 d < 3 d is 0 < d
    ("ge", "2", "0", "𝟙[d ≥ 0]"),            # a multiple against 0
])
def test_scaled_comparison(name, p, q, want):
    d = _ref("d", "N", 1)
    zero = mx.Const(sympy.S.Zero)
    side = lambda k: zero if sympy.Rational(k) == 0 else mx.scale(_c(k), d)  # noqa: E731
    before = mx.fn(name, side(p), side(q))
    vals = _values(d)
    vals["d"][0, 0] = 0.0  # a tie: both sides 0, decided as the comparison decides it
    check(sp.scaled_comparison, before, want, vals)


def test_scaled_comparison_in_where():
    d, x, y = _ref("d", "N", 1), _ref("x", "N", 1), _ref("y", "N", 1)
    before = mx.fn("where_ge", mx.scale(_c("1/4"), d), mx.scale(_c(-3), d), x, y)
    vals = _values(d, x, y)
    vals["d"][1, 0] = 0.0
    check(sp.scaled_comparison, before, "where(d ≥ 0, x, y)", vals)


def test_scaled_comparison_left_alone():
    d, e = _ref("d", "N", 1), _ref("e", "N", 1)
    # two different things, or one side not a number's multiple: not decided by a sign
    assert sp.scaled_comparison(mx.fn("gt", mx.scale(_c(2), d), mx.scale(_c(3), e))) is None
    assert sp.scaled_comparison(mx.fn("gt", mx.scale(_c(2), d), mx.hadamard(d, e))) is None
    # already u against 0
    assert sp.scaled_comparison(mx.fn("gt", d, mx.Const(sympy.S.Zero))) is None


# -- complementary_terms -------------------------------------------------------------------------

def test_complementary_terms():
    d, tau, w = _ref("d", "N", "M"), _ref("tau", 1, "M"), _ref("w", "N", "M")
    c = (mx.hadamard(d, tau), mx.hadamard(d, mx.add(tau, mx.Const(sympy.S.NegativeOne))))
    for hold, fail in (("gt", "le"), ("ge", "lt")):
        pair = mx.add(mx.hadamard(d, mx.fn(hold, *c)), mx.hadamard(mx.fn(fail, *c), d))
        for tie in (None, ("d", "w")):  # (with d = w, no tie; ties: below)
            check(sp.complementary_terms, pair, "d", _values(d, tau, w, tie=tie))
    # a tie in every place: d = 0 makes both sides 0, and exactly one of > and ≤ holds
    vals = _values(d, tau, w)
    vals["d"][0, :] = 0.0
    pair = mx.add(mx.hadamard(d, mx.fn("gt", *c)), mx.hadamard(d, mx.fn("le", *c)), w)
    check(sp.complementary_terms, pair, "d + w", vals)
    # scaled alike: 2 w ⊙ 𝟙[a > b] + 2 w ⊙ 𝟙[b ≥ a] is 2 w
    a, b = _ref("a", "N", "M"), _ref("b", "N", "M")
    pair = mx.add(mx.scale(_c(2), mx.hadamard(w, mx.fn("gt", a, b))),
                  mx.scale(_c(2), mx.hadamard(w, mx.fn("ge", b, a))))
    check(sp.complementary_terms, pair, "2 w", _values(w, a, b, tie=("a", "b")))


def test_complementary_terms_left_alone():
    a, b, w, v = (_ref(n, "N", "M") for n in "abwv")
    # > and < both fail at a tie: not complementary
    assert sp.complementary_terms(mx.add(mx.hadamard(w, mx.fn("gt", a, b)),
                                         mx.hadamard(w, mx.fn("lt", a, b)))) is None
    # different factors beside the indicators
    assert sp.complementary_terms(mx.add(mx.hadamard(w, mx.fn("gt", a, b)),
                                         mx.hadamard(v, mx.fn("le", a, b)))) is None
    # different coefficients
    assert sp.complementary_terms(mx.add(mx.scale(_c(2), mx.hadamard(w, mx.fn("gt", a, b))),
                                         mx.hadamard(w, mx.fn("le", a, b)))) is None


# -- sum_of_transposed ---------------------------------------------------------------------------

def _check_sum(before: mx.M, want: str, vals: dict, whole: str | None = None) -> None:
    """check() for a total (its evaluator reads no reduction): the sum's argument evaluated."""
    after = sp.sum_of_transposed(before)
    assert after is not None and text(after) == want, text(before)
    assert text(sp.simplify(before)) == (whole or want)  # (an inner product may come next)
    assert isinstance(after, mx.Reduce) and isinstance(before, mx.Reduce)
    np.testing.assert_allclose(ev(after.x, vals).sum(), ev(before.x, vals).sum())

def test_sum_of_transposed():
    r, s = _ref("r", 1, "M"), _ref("s", 1, "M")
    rt, st = mx.Transpose(r, ("M", 1)), mx.Transpose(s, ("M", 1))
    before = mx.reduce(ReduceKind.SUM, mx.power(rt, -1))
    vals = _values(r, s)
    vals["r"] = vals["r"] + 2.0  # (no zero to divide by)
    _check_sum(before, "sum(1 ⊘ r)", vals)
    both = mx.reduce(ReduceKind.SUM, mx.hadamard(mx.fn("exp", rt), mx.add(st, _c(2))))
    _check_sum(both, "sum(exp(r) ⊙ (s + 2))", vals, whole="exp(r) (sᵀ + 2)")
    # a leaf not transposed: the expression is no transpose of one
    assert sp.sum_of_transposed(mx.reduce(ReduceKind.SUM, mx.hadamard(rt, _ref("c", "M", 1)))) \
        is None


# -- the specs they came from ---------------------------------------------------------------------

PINNED = [
    (REG / "pinball_quantile.yaml", "∂L/∂d", "(1/(10 B)) (3 𝟙[d > 0] − 7 𝟙[d ≤ 0])", "(3/10) d"),
    (REG / "pinball_multi_quantile.yaml", "∂L/∂tau", "colsum(d)ᵀ", "𝟙["),
    (REG / "sum_of_transposed_row.yaml", "∂L/∂c",
     "rowsum(G ⊙ (1 − tanh(Mx)^∘2)) + sum(1 ⊘ r) + sum(r) + G rᵀ = sum(1 ⊘ r) + sum(r) + G rᵀ "
     "+ rowsum(G ⊙ (1 − tanh(Mx)^∘2))", "sum(1 ⊘ rᵀ)"),
]
SPECS = sorted({p for p, _, _, _ in PINNED})


@pytest.mark.parametrize("spec,lhs,printed,gone", PINNED,
                         ids=[f"{p.stem}:{lhs}" for p, lhs, _, _ in PINNED])
def test_folded_form_is_printed(run, spec, lhs, printed, gone):
    lines = backward_lines(run, spec)
    assert lines[lhs] == printed  # (the matrix line, then its closed form after " = ")
    assert gone not in lines[lhs]


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_folded_forms_verify_and_read_back(run, spec):
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    import test_printed_forms as T
    assert T.failures(spec, run) == []


# -- two dims at one place of a mismatch (nu49 p2_16, p3_09) -------------------------------------

SLICES = """\
dims: {B: 2, N: 4, K: 2, M: N - K}
inputs: {X: [B, N]}
forward: ['L = sum(X[:, 0:K] * X[:, K:N])']
loss: L
"""


def test_two_dims_of_one_size_are_two_axes_and_the_hint_says_how_to_make_one():
    """K and M = N − K are both 2 at these sizes but two dims: the hint says so, and how to
    declare one dim (N: 2 * K makes the slice K:N be of length K); that spec then derives."""
    from conftest import assert_spec_error
    assert_spec_error(SLICES, "3:", "shapes (B, K) and (B, M) do not match",
                      "here 'K' and 'M' are two different dims, so two axes, even though both "
                      "have size 2: a dim names an axis, not a size; for one axis, declare one dim "
                      "and use it for both (write 'K' where 'M' is), or define 'N' so that 'M' is "
                      "'K': dims: {N: 2 * K}")
    from einderive.graph import build
    from einderive.spec import loads
    build(loads(SLICES.replace("N: 4, K: 2, M: N - K", "K: 2, N: 2 * K"), "spec.yaml"))


def test_two_dims_of_sizes_of_their_own_are_named_in_the_hint():
    from conftest import assert_spec_error
    text = "dims: {B: 2, K: 3, M: 3}\ninputs: {X: [B, K], Y: [B, M]}\n" \
        "forward: ['L = sum(X * Y)']\nloss: L\n"
    assert_spec_error(text, "3:", "shapes (B, K) and (B, M) do not match",
                      "NumPy broadcasting")
    assert_spec_error(text, "3:", "", "here 'K' and 'M' are two different dims, so two axes, "
                      "even though both have size 3")
    assert_spec_error(text.replace("M: 3", "M: 4"), "3:", "",
                      "here 'K' (3) and 'M' (4) are two different dims")


def test_complementary_terms_of_numbers():
    """Numbers (hard DTW's r12, r13, r22): the kept product is a product of numbers."""
    a, b, u, v = (_ref(n) for n in "abuv")
    pair = mx.add(mx.scalar_product([u, v, mx.fn("ge", a, b)]),
                  mx.scalar_product([u, v, mx.fn("lt", a, b)]))
    after = sp.complementary_terms(pair)
    assert after is not None and text(after) == text(mx.scalar_product([u, v]))
    vals = _values(a, b, u, v, tie=("a", "b"))
    np.testing.assert_allclose(ev(after, vals), ev(pair, vals))
