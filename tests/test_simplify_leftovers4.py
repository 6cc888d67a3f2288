"""Issue 12's simplifier leftovers (session 33): forms a careful person writes differently.

Each case pins the printed form of a shipped spec and proves it with ``verify`` (finite
differences against every printed form), and the rule on its own with numbers:

- ``u ⊙ sign(u)`` is ``|u|`` (``abs_times_sign``): log|det(W)|'s derivative
  ``(det(W)·sign(det(W))/|det(W)|)·W⁻ᵀ`` is ``W⁻ᵀ``;
- a whole number before a reciprocal coefficient prints as one fraction: ``(2/L)·X Xᵀ X``,
  not ``2 (1/L)·X Xᵀ X``; a scalar ``c·(1/x)`` as ``c/x``: ``(D − 1)/(1 + be·h)``, not
  ``(D − 1) 1/(1 + be·h)`` (the matrix printer: the tree is the same);
- a scalar ``1/exp(u)`` in a product is ``exp(−u)`` (``reciprocal_exp``): student_t's ∂L/∂ls
  no longer writes ``/exp(2 ls)`` beside ``exp(−2 ls)``; a tensor's ``⊘ exp(2 s)`` stays;
- quotients of one name each over one divisor are one quotient (``common_factor``):
  ``y ⊘ (r + mu) + r ⊘ (r + mu)`` is ``(y + r) ⊘ (r + mu)``;
- a product of node names that is a node's form is the node, and terms made alike collect
  (``reuse``): ``Xᵀ Xᵀ Xᵀ Xᵀ`` is ``X2ᵀ X2ᵀ`` is ``X4ᵀ``, so ``4 X4ᵀ + X4ᵀ`` is ``5 X4ᵀ``.
"""

from __future__ import annotations

import numpy as np
import sympy

from conftest import forms
from einderive import matrix as mx
from einderive import simplify as S
from test_index_only_leftovers import _derive, _verified
from test_simplify import ev, ref, text, values_for
from test_simplify_leftovers2 import _closed


def _det(x: mx.M) -> mx.M:
    return mx.AxisFn("det", x, 0, x.shape, ())


def test_a_value_times_its_sign_is_its_absolute_value():
    u = ref("u", "N", 1)
    before = mx.hadamard(u, mx.fn("sign", u))
    after = S.abs_times_sign(before)
    assert after is not None and text(after) == "|u|"
    vals = {"u": np.array([[-0.7], [0.3], [-0.2], [0.9]])}  # both signs
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    assert S.cost(after) < S.cost(before)
    # det(W)·sign(det(W))/|det(W)| in front of W⁻ᵀ is one: the whole simplifier says W⁻ᵀ
    W = ref("W", "N", "N")
    d = _det(W)
    inv_t = mx.transpose(mx.AxisFn("inv", W, 0, ("N", "N"), ("N", "N")))
    coeff = mx.scalar_product([d, mx.fn("sign", d), mx.power(mx.fn("abs", d), -1)])
    whole = mx.scale(coeff, inv_t)
    assert text(whole) == "(det(W)·sign(det(W))/|det(W)|)·W⁻ᵀ"
    assert text(S.simplify(whole)) == "W⁻ᵀ"
    w = np.array([[0.1, 0.9, 0.3, 0.2], [0.8, 0.2, 0.1, 0.4], [0.3, 0.5, 0.7, 0.1],
                  [0.2, 0.1, 0.6, 0.5]])
    assert np.linalg.det(w) < 0  # where the sign matters
    np.testing.assert_allclose(ev(S.simplify(whole), {"W": w}), ev(whole, {"W": w}), rtol=1e-10)
    # a sign of something else stays
    v = ref("v", "N", 1)
    assert S.abs_times_sign(mx.hadamard(v, mx.fn("sign", u))) is None
    dd = _derive("models/more13/ica_infomax_logistic.yaml")
    assert forms(dd, "W")[1] == "(∂L/∂Sg ⊙ σ'(W X)) Xᵀ − W⁻ᵀ"
    assert _closed(dd, "W") == "−W⁻ᵀ − (1/B) (1 − 2 Sg) Xᵀ"
    _verified(dd)


def test_a_whole_number_before_a_reciprocal_prints_as_one_fraction():
    L, X = ref("L"), ref("X", "N", "K")
    two = mx.Const(sympy.Integer(2))
    m = mx.scale(two, mx.scale(mx.power(L, -1), X))
    assert text(m) == "(2/L)·X"  # the tree still has the number in front
    assert isinstance(m, mx.Scale) and m.coeff == two
    assert text(mx.neg(m)) == "−(2/L)·X"
    # a fraction in front stays apart: (3/10)/L would read as a quotient of a quotient
    tenth = mx.Const(sympy.Rational(3, 10))
    assert text(mx.scale(tenth, mx.scale(mx.power(L, -1), X))) == "(3/10) (1/L)·X"
    # a scalar times a reciprocal is a quotient
    h, be = ref("h"), ref("be")
    dm1 = mx.Const(sympy.Symbol("D") - 1)
    q = mx.scale(dm1, mx.power(mx.add(mx.ONE, mx.scalar_product([be, h])), -1))
    assert text(q) == "(D − 1)/(1 + be·h)"
    d = _derive("models/more13/cb_frob_norm_xtx.yaml")
    assert forms(d, "X")[1] == "(2/L)·X Xᵀ X"  # was 2 (1/L)·X Xᵀ X
    _verified(d)
    d = _derive("models/more11/supcon_loss.yaml")
    # was −10 (1/sum(Pm))·…; (t1 + t1ᵀ), t1 = Pm − softmax(S) ⊙ rowsum(Pm) named once (ls5)
    assert _closed(d, "Zn") == "−(10/sum(Pm))·(t1 + t1ᵀ) Zn"
    _verified(d)
    d = _derive("models/more13/radial_flow_logdet.yaml")
    assert forms(d, "h")[1].startswith("((∂L/∂zp)ᵀ (z − z0) − ((D − 1)/(1 + be·h) + ")  # was
    # (D − 1) 1/(1 + be·h)
    _verified(d)


def test_the_reciprocal_of_a_scalar_exponential_in_a_product_is_an_exponential():
    ls, s = ref("ls"), ref("s")
    two = mx.Const(sympy.Integer(2))
    before = mx.scalar_product([s, mx.power(mx.fn("exp", mx.scale(two, ls)), -1)])
    assert text(before) == "s/exp(2 ls)"
    after = S.simplify(before)
    assert text(after) == "s·exp(−2 ls)"
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    assert S.cost(after) < S.cost(before)
    # a tensor's stays a divisor, as the forward line divides by the variance exp(2 s)
    sv, X = ref("sv", "N", 1), ref("X", "N", 1)
    tensor = mx.hadamard(X, mx.power(mx.fn("exp", mx.scale(two, sv)), -1))
    assert S.reciprocal_exp(tensor.factors[1]) is None
    assert text(S.simplify(tensor)) == "X ⊘ exp(2 sv)"
    d = _derive("models/more12/student_t_regression.yaml")
    assert forms(d, "ls")[1] == \
        "B − (4/3) exp(−2 ls)·sum(r ⊙ r ⊘ (1 + (1/3) exp(−2 ls)·r ⊙ r))"  # was …/exp(2 ls)
    _verified(d)


def test_quotients_of_names_over_one_divisor_are_one_quotient():
    y, mu, r = ref("y", "N", 1), ref("mu", "N", 1), ref("r")
    den = mx.power(mx.add(r, mu), -1)
    before = mx.add(mx.hadamard(y, den), mx.hadamard(r, den), mx.neg(mx.hadamard(y, mx.power(mu, -1))))
    assert text(before) == "y ⊘ (r + mu) + r ⊘ (r + mu) − y ⊘ mu"
    after = S.common_factor(before)
    assert after is not None and text(after) == "(y + r) ⊘ (r + mu) − y ⊘ mu"
    whole = S.simplify(before)
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    np.testing.assert_allclose(ev(whole, vals), ev(before, vals), rtol=1e-12)
    assert S.cost(whole) < S.cost(before)
    # a divisor of longer products stays where it is (see _worth_pulling)
    A = ref("A", "N", "N")
    longer = mx.add(mx.hadamard(y, mu, den), mx.hadamard(mx.matmul(A, y), den))
    assert S.common_factor(longer) is None
    d = _derive("models/more12/negbin_glm.yaml")
    assert forms(d, "mu") == ("y_i / (r + mu_i) + r / (r + mu_i) − y_i / mu_i",  # order kept
                              "(y + r) ⊘ (r + mu) − y ⊘ mu")
    _verified(d)


def test_a_product_of_node_names_that_is_a_nodes_form_is_the_node():
    from einderive.reuse import reusable, reuse
    X = ref("X", "N", "N")
    X2, X4 = ref("X2", "N", "N"), ref("X4", "N", "N")
    named = reusable([(X2, mx.matmul(X, X)), (X4, mx.matmul(X2, X2))])
    xt = mx.transpose(X)
    four = mx.matmul(mx.matmul(mx.matmul(xt, xt), xt), xt)
    before = mx.add(mx.scale(mx.Const(sympy.Integer(4)), four), mx.transpose(X4))
    assert text(before) == "4 Xᵀ Xᵀ Xᵀ Xᵀ + X4ᵀ"
    after = reuse(before, named)
    assert text(after) == "5 X4ᵀ"  # was 4 X2ᵀ X2ᵀ + X4ᵀ: the names read once, not collected
    vals = values_for(X)
    vals["X2"] = vals["X"] @ vals["X"]
    vals["X4"] = vals["X2"] @ vals["X2"]
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    # terms alike only in part stay apart
    assert text(reuse(mx.add(mx.scale(mx.Const(sympy.Integer(2)), mx.matmul(xt, xt)), X4),
                      named)) == "2 X2ᵀ + X4"
    d = _derive("models/more13/cb_trace_x_power5_split.yaml")
    assert _closed(d, "X") == "5 X4ᵀ"  # Cookbook (2.5, eq. 109) tr(X⁵) = 5 (X⁴)ᵀ
    _verified(d)
