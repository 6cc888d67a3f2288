"""Issue 12's simplifier leftovers (session 32): forms a careful person writes differently.

Each case pins the printed form of a shipped spec and proves it with ``verify`` (finite
differences against every printed form), and the rule on its own with numbers:

- ``(1/exp(2 ls))·r`` is ``exp(−2 ls)·r`` (``reciprocal_exp``);
- ``(1/B) (1/tau)·X`` is ``(1/(B tau))·X`` (``one_reciprocal``, kept at equal cost);
- ``(1/B) σ(s) − (1/B) y`` is ``(1/B) (σ(s) − y)`` (``common_signed_scalar``, equal cost);
- ``pad((2/B) t1, …)`` is ``(2/B) pad(t1, …)`` (``pad_pulls_constant``, equal cost), and the
  pads of a sum then share it;
- the inverse of a product of square matrices beside symmetric inputs or a node's factors:
  ``A (A X Bm)⁻ᵀ Bm`` is ``X⁻ᵀ`` for symmetric A, Bm (Cookbook 2.1.4), ``P⁻ᵀ Y`` of
  ``P = X Y`` is ``X⁻ᵀ`` (``inverse_times_matrix`` with the symmetric inputs and the forms).
"""

from __future__ import annotations

import numpy as np
import sympy

from conftest import forms
from einderive import matrix as mx
from einderive import simplify as S
from einderive.api import second_order
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified
from test_simplify import ev, ref, text, values_for
from test_simplify_leftovers2 import _closed


def _same(rule, before: mx.M, want: str, strict: bool) -> None:
    """``rule`` rewrites ``before`` into ``want`` with the same values, the whole simplifier
    agrees, and the cost drops (``strict``) or stays (a rule kept at equal cost)."""
    after = rule(before)
    assert after is not None, f"{rule.__name__} left {text(before)} alone"
    whole = S.simplify(before)
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    np.testing.assert_allclose(ev(whole, vals), ev(before, vals), rtol=1e-10)
    assert text(whole) == want
    assert S.cost(whole) < S.cost(before) if strict else S.cost(whole) == S.cost(before)


def test_the_reciprocal_of_an_exponential_in_front_is_an_exponential():
    ls, r = ref("ls"), ref("r", "N", 1)
    two = mx.Const(sympy.Integer(2))
    before = mx.scale(mx.power(mx.fn("exp", mx.scale(two, ls)), -1), r)
    assert text(before) == "(1/exp(2 ls))·r"
    _same(S.reciprocal_exp, before, "exp(−2 ls)·r", strict=True)
    d = _derive("models/more12/student_t_regression.yaml")
    assert forms(d, "y")[1] == "(4/3) exp(−2 ls)·r ⊘ (1 + (1/3) exp(−2 ls)·r ⊙ r)"
    _verified(d)


def test_two_reciprocals_in_front_are_one():
    tau, X = ref("tau"), ref("X", "N", "K")
    before = mx.scale(mx.Const(1 / sympy.Symbol("B")), mx.scale(mx.power(tau, -1), X))
    assert text(before) == "(1/B) (1/tau)·X"
    _same(S.one_reciprocal, before, "(1/(B tau))·X", strict=False)
    # a numerator other than one stays in front
    assert S.one_reciprocal(mx.scale(mx.Const(sympy.Rational(3, 10)),
                                     mx.scale(mx.power(tau, -1), X))) is None
    d = _derive("models/more12/gumbel_softmax_noise.yaml")
    assert _closed(d, "W") == "(1/(B tau))·Xᵀ (Y ⊙ (Cost − rowsum(Cost ⊙ Y)))"
    _verified(d)


def test_a_constant_up_to_its_sign_is_written_once():
    s, y = ref("s", "N", 1), ref("y", "N", 1)
    inv_b = sympy.Integer(1) / sympy.Symbol("B")
    before = mx.add(mx.scale(mx.Const(inv_b), mx.fn("sigmoid", s)), mx.scale(mx.Const(-inv_b), y))
    assert text(before) == "(1/B) σ(s) − (1/B) y"
    _same(S.common_signed_scalar, before, "(1/B) (σ(s) − y)", strict=False)
    two = mx.Const(sympy.Integer(2))
    assert text(S.simplify(mx.add(mx.scale(two, s), mx.neg(mx.scale(two, y))))) == "2 (s − y)"
    # different constants: left alone
    assert S.common_signed_scalar(mx.add(mx.scale(two, s), mx.neg(y))) is None
    d = _derive("models/more12/distmult_bce.yaml")
    closed = _closed(d, "E")  # was … t1 ⊙ … where t1 = (1/B) σ(s) − (1/B) y
    assert "(1/B) σ(s) − (1/B) y" not in closed and "⊙ (σ(s) − y)" in closed, closed
    _verified(d)


def test_a_constant_comes_out_of_a_pad():
    t = ref("t", "M", "N")
    c = mx.Const(2 / sympy.Symbol("B"))
    zero, n = sympy.Integer(0), sympy.Symbol("N")
    before = mx.Pad(mx.scale(c, t), 1, zero, n, ("M", "K"), ("M", "K"))
    after = S.pad_pulls_constant(before)
    assert after is not None and text(after) == "(2/B) pad(t, 0:N, axis=1)"
    assert S.cost(after) == S.cost(before)
    assert text(S.simplify(before)) == "(2/B) pad(t, 0:N, axis=1)"  # kept at equal cost
    assert S.pad_pulls_constant(mx.Pad(t, 1, zero, n, ("M", "K"), ("M", "K"))) is None
    d = _derive("models/more12/adaln_zero_gate.yaml")
    closed = _closed(d, "M")  # was pad((2/B) t1, 0:D, axis=1) + pad((2/B) N ⊙ t1, …) + …
    assert closed.startswith("(2/B) (pad(t1, 0:D, axis=1) + pad(N ⊙ t1, D:D2, axis=1)"), closed
    _verified(d)


def test_an_inverse_meets_symmetric_factors_and_a_nodes_factors():
    A, X, Bm = ref("A", "N", "N"), ref("X", "N", "N"), ref("Bm", "N", "N")
    inv = mx.AxisFn("inv", mx.matmul(mx.matmul(A, X), Bm), None, ("N", "N"), ("N", "N"))
    before = mx.matmul(mx.matmul(A, mx.transpose(inv)), Bm)
    assert text(before) == "A (A X Bm)⁻ᵀ Bm"
    assert S.inverse_times_matrix(before) is None  # without symmetry it does not hold
    sym = frozenset({"A", "Bm"})
    after = S.simplify(before, symmetric=sym)
    assert text(after) == "X⁻ᵀ"
    vals = values_for(before)
    for n in ("A", "Bm"):  # symmetric values, as the spec declares them
        vals[n] = vals[n] + vals[n].T + 4 * np.eye(4)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    d = _derive("models/more12/cb_logdet_axb.yaml")
    assert forms(d, "X")[1] == "X⁻ᵀ"  # was A (A X Bm)⁻ᵀ Bm
    _verified(d)
    d = _derive("models/more12/cb_logdet_xy_split.yaml")
    assert _closed(d, "X") == "X⁻¹" and _closed(d, "Y") == "Y⁻¹"  # was P⁻ᵀ Y, X P⁻ᵀ
    _verified(d)


def test_a_sum_of_negative_terms_at_the_top_writes_its_minus_once():
    fp, fn, d = ref("fp"), ref("fn"), ref("d")
    a, b = mx.Const(sympy.Rational(-3, 10)), mx.Const(sympy.Rational(-7, 10))
    before = mx.scalar_product([mx.add(mx.scale(a, fp), mx.scale(b, fn)), mx.power(d, -2)])
    assert text(before) == "(−(3/10) fp − (7/10) fn)/d²"
    after = S.sign_out(before)
    assert after is not None and text(after) == "−((3/10) fp + (7/10) fn)/d²"
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    assert text(S.simplify(before)) == "−((3/10) fp + (7/10) fn)/d²"  # one minus, not two
    # a sum with a positive term keeps its own signs
    assert S.sign_out(mx.scalar_product([mx.add(fp, mx.scale(b, fn)), mx.power(d, -2)])) is None
    d_ = _derive("models/more10/tversky_loss.yaml")  # then written in the loss: L's numerator
    assert forms(d_, "tp")[1] == "−L/(1 + tp + (3/10) fp + (7/10) fn)"


def test_sums_that_differ_in_their_letters_collect():
    from sympy import IndexedBase, Sum, symbols

    from einderive.reverse import _collect_alike_sums
    i, j, n = symbols("i j N", integer=True)
    A, Xd, c, e = IndexedBase("A"), IndexedBase("Xd"), sympy.Symbol("c"), sympy.Symbol("e")
    one = Sum(A[j, i] * Xd[i, j], (i, 0, n - 1), (j, 0, n - 1))
    two = Sum(A[i, j] * Xd[j, i], (i, 0, n - 1), (j, 0, n - 1))
    out = _collect_alike_sums(2 * c * one - e * two)
    assert out in ((2 * c - e) * one, (2 * c - e) * two), out  # (either letters)
    vals = {n: 3, c: 0.7, e: 1.9}
    rng = np.random.default_rng(3)
    a, x = rng.uniform(size=(3, 3)), rng.uniform(size=(3, 3))
    want = (2 * 0.7 - 1.9) * float(np.trace(a @ x))
    got = out.subs(vals).doit().replace(lambda z: isinstance(z, sympy.Indexed),
                                        lambda z: {"A": a, "Xd": x}[str(z.base)][
                                            tuple(int(k) for k in z.indices)])
    assert abs(float(got) - want) < 1e-12
    # sums that differ in more than their letters stay two terms
    three = Sum(A[i, j] * Xd[i, j], (i, 0, n - 1), (j, 0, n - 1))
    assert _collect_alike_sums(2 * c * one - e * three) == 2 * c * one - e * three
    # the tangents print one term (were X_ii′ Ẋ_i′i + X_i′i Ẋ_ii′ and 2 det(X)² (X⁻¹)_i′i Ẋ_ii′
    # − det(X⁻¹) Ẋ_i′i (X⁻¹)_ii′)
    out_ = plain(second_order(_derive("models/more11/cb_trace_xx.yaml"), tangent=""))
    assert "  L̇ = 2 X_ii′ Ẋ_i′i\n" in out_, out_
    d = second_order(_derive("models/more10/cb_det_inverse.yaml"), hvp="")
    assert "  L̇ = (2 det(X)² − det(X⁻¹)) (X⁻¹)_ii′ Ẋ_i′i\n" in plain(d)
    _verified(d)


def test_a_whole_products_negative_sum_writes_its_minus_in_front_on_the_hvp():
    d = second_order(_derive("../specs/gaussian_loglik.yaml"), hvp="")
    # was S⁻¹ (−(1/2) Ṡᵀ − (∂L/∂z (ḋ − Ṡ z)ᵀ + …)) S⁻¹
    assert "ℛ{∂L/∂S}  = −S⁻¹ ((1/2) Ṡᵀ + ∂L/∂z (ḋ − Ṡ z)ᵀ + " in plain(d), plain(d)
    _verified(d)
