"""Issue 12's simplifier leftovers (session 30): forms a careful person writes differently.

Each case pins the printed form of a shipped spec, proves it with ``verify`` (finite
differences against every printed form), and where a rule of the matrix-form simplifier does
it, the rule on its own with a number (tests/test_simplify.py's ``check``):

- ``Zᵀ 𝟏`` is ``colsum(Z)`` (``sum_as_product``);
- an anonymous intermediate squared prints ``tanh(X)^∘2``, not ``tanh(X) ⊙ tanh(X)``;
- terms that differ in a scalar factor collect (``collect_scalar_factors``), and a factor the
  terms of a sum share is written once (``common_factor``): ``(det(X) + 2 det(X)²)·X⁻ᵀ``,
  ``((S − onehot) W1ᵀ) ⊙ r``, a tangent's ``(2 det(X)² − det(X⁻¹))·tr(X⁻¹ Ẋ)``;
- ``det(Xᵀ)`` is ``det(X)`` in the index form too;
- index forms drop what the matrix forms dropped: a softmax summed along its axis is 1, a
  centred sum Σ_i Σ_j (X_ijk − mu_k) of a mean node is 0;
- cancelling keeps a divisor that is a sum whole (no new divisor with its fractions cleared).
"""

from __future__ import annotations

import sympy

from conftest import derive_text, forms
from einderive import matrix as mx
from einderive import simplify as S
from einderive.api import second_order
from einderive.kinds import RefKind
from einderive.render.styles import Unicode
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified
from test_simplify import A, B, X, check, ev, ref, text, values_for


def test_a_matrix_times_ones_is_its_sum():
    ones = mx.Ones(("M", 1))
    check(S.sum_as_product, mx.matmul(mx.transpose(B), ones), "colsum(B)")
    check(S.sum_as_product, mx.matmul(B, mx.Ones(("N", 1))), "rowsum(B)")
    # a row of ones on the left is no column sum: left to ones_product
    assert S.sum_as_product(mx.matmul(mx.Ones((1, "M")), B)) is None


def test_zt_ones_prints_as_colsum():
    d = _derive("models/more/softmax_rows_sum_cancel.yaml")
    assert forms(d, "w")[1] == "colsum(Z + P)"  # was Zᵀ 𝟏 + colsum(P)
    _verified(d)


def test_an_anonymous_square_prints_as_a_power():
    shown = mx.fn("tanh", X)
    anon = mx.Ref("_L_1", RefKind.ANON, ("M", "N"), display=shown)
    two = sympy.Integer(2)
    assert Unicode().matrix(mx.add(mx.ONE, mx.neg(mx.power(anon, two)))) == "1 − tanh(X)^∘2"
    # a name squared is still written as a product
    assert Unicode().matrix(mx.power(X, two)) == "X ⊙ X"
    d = _derive("regressions/conv1d_inline_concat.yaml")
    out = plain(d)
    assert "(1 − tanh(X)^∘2)" in out and "tanh(X) ⊙ tanh(X)" not in out, out


def test_terms_differing_in_a_scalar_factor_collect():
    s = mx.reduce("sum", B)
    two = mx.Const(sympy.Integer(2))
    before = mx.add(mx.scale(s, A), mx.scale(two, mx.scale(mx.power(s, 2), A)))
    check(S.collect_scalar_factors, before, "(sum(B) + 2 sum(B)²)·A")
    # constant factors alone are collect_terms'
    assert S.collect_scalar_factors(mx.add(A, mx.scale(two, A))) is None


def test_det_product_collects_and_reads_det_x():
    d = _derive("models/more8/cb_det_product.yaml")
    index, matrix = forms(d, "X")
    # (X A)⁻ᵀ Aᵀ is X⁻ᵀ for square X and A (session 31): one term
    assert matrix == "(det(X A) + (1 + 2 det(X))·det(X))·X⁻ᵀ"
    assert "det(Xᵀ)" not in plain(d) and "(1 + 2 det(X)) det(X) (X⁻¹)_i′i" in index, index
    _verified(d)


def test_det_of_a_transpose_is_det_in_every_form():
    d = derive_text("""\
        name: det_of_transpose
        dims: {N: 3}
        inputs: {X: [N, N]}
        forward:
          - L = det(X.T)
        loss: L
        """)
    # the gradient reads the loss by its name, and no transpose is left (was det(Xᵀ) (X⁻ᵀ)_ii′)
    assert forms(d, "X") == ("L (X⁻¹)_i′i", "L·X⁻ᵀ")
    assert "  L = det(X)\n" in plain(d), plain(d)
    _verified(d)


def test_a_shared_elementwise_factor_is_written_once():
    r = mx.reduce("rowsum", B)
    before = mx.add(mx.hadamard(mx.matmul(B, A), r), mx.neg(mx.hadamard(mx.matmul(X, A), r)))
    check(S.common_factor, before, "rowsum(B) ⊙ ((B − X) A)")
    # a name, or a sum, shared by the terms stays where it is
    assert S.common_factor(mx.add(mx.hadamard(B, X), mx.hadamard(B, mx.matmul(X, A)))) is None


def test_ensemble_mean_factors_each_member():
    d = _derive("models/more7/ensemble_stack_mean.yaml")
    matrix = forms(d, "X")[1]
    # the divisor met three times is named (a chain form that reads no adjoint is its own
    # closed form, its repeated parts named: qf1, nu43 find 06)
    assert matrix == ("(1/(3 B)) (rowsum(softmax(X W1) ⊙ onehot(lab)) ⊙ ((softmax(X W1) − "
                      "onehot(lab)) W1ᵀ) ⊘ t1 + rowsum(softmax(X W2) ⊙ "
                      "onehot(lab)) ⊙ ((softmax(X W2) − onehot(lab)) W2ᵀ) ⊘ t1 "
                      "+ rowsum(softmax(X W3) ⊙ onehot(lab)) ⊙ ((softmax(X W3) − "
                      "onehot(lab)) W3ᵀ) ⊘ t1)"), matrix
    assert "where t1 = rowsum(Pm ⊙ onehot(lab))" in plain(d), plain(d)
    _verified(d)


def test_a_tangent_collects_after_its_traces_are_written_alike():
    s, t = mx.reduce("sum", B), mx.reduce("sum", X)
    two = mx.Const(sympy.Integer(2))
    before = mx.add(mx.scale(two, mx.scalar_product([mx.power(s, 2), t])),
                    mx.neg(mx.scalar_product([mx.fn("exp", s), t])))
    check(S.common_factor, before, "(2 sum(B)² − exp(sum(B)))·sum(X)")
    d = second_order(_derive("models/more10/cb_det_inverse.yaml"), hvp="")
    out = plain(d)
    assert "L̇ = (2 det(X)² − det(X⁻¹))·tr(X⁻¹ Ẋ)" in out, out
    assert "grad(X) = (2 det(X)² − det(X⁻¹))·X⁻ᵀ" in out, out
    _verified(d)


def test_index_form_drops_a_softmax_summed_along_its_axis():
    d = _derive("models/more8/kl_softmax_axis0.yaml")
    assert forms(d, "Bq") == ("softmax(Bq, axis=0)_ij − P_ij", "softmax(Bq, axis=0) − P")
    # was P_ij (∂L/∂P_ij − Σ_i′ ∂L/∂P_i′j P_i′j) + P_ij (1 − Σ_i′ P_i′j)
    assert forms(d, "A")[0] == "P_ij (∂L/∂P_ij − Σ_i′ ∂L/∂P_i′j P_i′j)"
    _verified(d)


def test_index_form_drops_a_centred_sum_of_a_mean():
    d = _derive("models/more/batchnorm_rank3.yaml")
    # was … − (2/(B T)) ∂L/∂var_k Σ_i Σ_j (X_ijk − mu_k)
    assert forms(d, "mu")[0] == "−g_k (Σ_i Σ_j ∂L/∂Y_ijk) / √(var_k + 0.001)"
    assert "where t1" not in plain(d)  # its ∂L/∂X closed form needs no temporary now
    _verified(d)


def test_cancelling_keeps_a_sum_divisor_whole():
    d = _derive("regressions/transpose_of_quotient.yaml")
    # was (∂L/∂h)ᵀ ⊙ (1 − 2 x ⊙ x ⊘ (1 + x ⊙ x)) ⊘ (1 + x ⊙ x)
    assert forms(d, "x")[1] == "(∂L/∂h)ᵀ ⊙ (1 − x ⊙ x) ⊘ (1 + x ⊙ x)^∘2"
    _verified(d)
    d = _derive("models/more10/tversky_loss.yaml")
    assert "  L   = ((3/10) fp + (7/10) fn)/(1 + tp + (3/10) fp + (7/10) fn)\n" in plain(d)
    _verified(d)


def test_the_values_of_a_pulled_factor_and_its_sum_agree():
    # the rule on a sum where only some terms share the factor: the others stay in place
    r = mx.reduce("rowsum", B)
    before = mx.add(X, mx.hadamard(B, r), mx.hadamard(mx.matmul(X, A), r))
    after = S.common_factor(before)
    assert after is not None and text(after) == "X + rowsum(B) ⊙ (B + X A)"
    vals = values_for(before)
    assert abs(ev(after, vals) - ev(before, vals)).max() < 1e-12
    assert ref("X", "M", "N") == X
