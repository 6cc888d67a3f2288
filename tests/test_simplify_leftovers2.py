"""Issue 12's simplifier leftovers (session 31): forms a careful person writes differently.

Each case pins the printed form of a shipped spec and proves it with ``verify`` (finite
differences against every printed form); where a rule of the matrix-form simplifier does it,
the rule on its own with a number (tests/test_simplify.py's ``check``):

- a divisor that is a sum keeps the spec's fractions (``10 (−3 fp − 7 fn)/(10 + 10 tp + …)²``
  was Tversky's ∂L/∂tp; NALU's ``1000 sign(X) ⊙ … ⊘ (1 + 1000 |X|)``), and the closed form
  built on it keeps its node names;
- ``colsum(Φ ⊙ r)`` of a broadcast column r is ``Φᵀ r`` (``reduce_as_product`` at equal cost);
- a row sum of a function of a transposed pre-activation is the column sum of the
  pre-activation the line wrote (``reduce_of_turned``);
- a constant comes out of a reshape (``reshape_pulls_constant``), a sum of a pad is the sum
  of what it pads (``reduce_of_pad``);
- the inverse of a product of square matrices beside one end of it is the inverse of the
  rest (``inverse_times_matrix``: ``(X X)⁻ᵀ Xᵀ`` is ``X⁻ᵀ``);
- an adjoint whose named term cancelled is still read by name (the index lines of a mean's
  consumers);
- an HVP block collects over its scalar factors, and a tangent's ``X_i′i (X⁻¹)_ii′′′`` across
  nested sums is a delta.
"""

from __future__ import annotations

import numpy as np
import sympy

from conftest import derive_text, forms
from einderive import matrix as mx
from einderive import simplify as S
from einderive.api import second_order
from einderive.render.styles import Unicode
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified
from test_simplify import SIZES, check, ev, ref, text, values_for


def _closed(d, name: str) -> str:
    a = d.adjoint(name)
    assert a.closed is not None and a.closed.matrix is not None, name
    return Unicode().matrix(a.closed.matrix)


def test_a_sum_divisor_keeps_the_specs_fractions():
    d = _derive("models/more10/tversky_loss.yaml")
    # was 10 (−3 fp − 7 fn)/…, then (−(3/10) fp − (7/10) fn)/(…)² (two minus signs: the one
    # in front is L's numerator, simp3's sign_out)
    assert forms(d, "tp")[1] == "−L/(1 + tp + (3/10) fp + (7/10) fn)"
    # the closed form reads tp and fp, not pᵀ ((7/10) t + 3/10), where the divisor is
    assert _closed(d, "w") == ("(1/10) (1/(1 + tp + (3/10) fp + (7/10) fn)²)·Xᵀ (p ⊙ (1 − p) "
                               "⊙ (3 + 3 tp − 10 (1 + tp + (3/10) fp + (7/10) fn)·t))")
    _verified(d)
    d = _derive("models/more11/nalu_cell.yaml")
    index, matrix = forms(d, "X")
    assert "⊘ (|X| + 0.001)" in matrix and "1000" not in matrix, matrix  # was 1000 sign(X) ⊙ …
    assert "/ (0.001 + |X_ij|)" in index and "1000" not in index, index
    _verified(d)


def test_a_scale_of_a_scale_lifts_out_of_a_product():
    # (1/10)·((1/d)·v): scale keeps the constant in front of the scalar; both come out of ⊙
    d, v, s = ref("d"), ref("v", "N", 1), ref("s", "N", 1)
    c = mx.scalar_product([mx.Const(sympy.Rational(1, 10)), mx.power(d, -1)])
    nested = mx.scale(c, v)
    assert isinstance(nested, mx.Scale) and isinstance(nested.x, mx.Scale), nested
    out = mx.hadamard(s, nested)
    assert not any(isinstance(f, mx.Scale) for h in mx.walk(out) if isinstance(h, mx.Hadamard)
                   for f in h.factors), out  # was s ⊙ ((1/d)·v), which 1/d elsewhere never met
    assert text(out) == "(1/10) (1/d)·s ⊙ v"


def test_colsum_of_a_broadcast_column_is_a_product():
    Phi, r = ref("P", "N", "K"), ref("r", "N", 1)
    before = mx.reduce("colsum", mx.hadamard(mx.fn("exp", Phi), r))
    after = S.reduce_as_product(before)
    assert after is not None and text(after) == "exp(P)ᵀ r"
    assert text(S.simplify(before)) == "exp(P)ᵀ r"  # kept at equal cost
    d = _derive("models/more11/rbf_network.yaml")
    assert forms(d, "w")[1] == "(2/N) exp(−gam·D2)ᵀ (exp(−gam·D2) w − y)"  # was colsum(… ⊙ …)
    _verified(d)


def test_a_row_sum_of_a_turned_pre_activation_is_a_column_sum():
    W, X, b = ref("W", "N", "K"), ref("X", "M", "N"), ref("b", "K", 1)
    turned = mx.fn("sigmoid", mx.add(mx.matmul(mx.transpose(W), mx.transpose(X)), b))
    check(S.reduce_of_turned, mx.reduce("rowsum", turned), "colsum(σ(X W + bᵀ))")
    # already as the line wrote it: left alone
    assert S.reduce_of_turned(mx.reduce("colsum", mx.fn("sigmoid", mx.matmul(X, W)))) is None
    d = _derive("models/more11/deepsets_rank3_mean.yaml")
    assert forms(d, "b1")[1] == "(1/N) Σ_b ∂L/∂P_b ⊙ colsum(𝟙[X_b W1 + b1ᵀ > 0])"
    _verified(d)


def test_a_constant_comes_out_of_a_reshape():
    P, Y = ref("P", "M", "N"), ref("Y", "M", "N")
    two = mx.Const(sympy.Integer(2))
    before = mx.Reshape(mx.add(mx.scale(two, P), mx.neg(mx.scale(two, Y))), ("M", "N"),
                        ("M", "N"))
    after = S.reshape_pulls_constant(before)
    assert after is not None and text(after) == "2 reshape(P − Y, [M, N])"
    assert text(S.simplify(before)) == "2 reshape(P − Y, [M, N])"  # kept at equal cost
    # a constant that is not a number (1/N) stays inside
    inv_n = mx.Const(1 / sympy.Symbol("N"))
    assert S.reshape_pulls_constant(mx.Reshape(mx.add(mx.scale(inv_n, P), Y), ("M", "N"),
                                               ("M", "N"))) is None
    d = _derive("models/more8/gqa_grouped.yaml")
    assert forms(d, "O")[1] == "2 reshape(O2 − y, [B, T, G, R, Dh])"  # was reshape(2 O2 − 2 y, …)
    d = _derive("models/more10/hypernet_linear.yaml")
    assert _closed(d, "Hw") == "2 z reshape(Xᵀ (X W − Y), [DF])ᵀ"  # was z reshape(2 Xᵀ (…), …)ᵀ


SLICE_SUM = """
    name: slice_sum
    dims: {M: 4, N: 5, T: "2"}
    inputs: {X: [M, N], W: [N, N]}
    forward:
      - H = X @ W
      - L = sum(H[:, 1:3])
    loss: L
"""


def test_a_sum_over_a_pads_axis_is_the_sum_of_what_it_pads():
    W = ref("W", "N", "K")
    padded = mx.Pad(W, 1, 1, 3, ("N", "M"), ("N", "M"))
    assert text(S.reduce_of_pad(mx.reduce("rowsum", padded))) == "rowsum(W)"
    assert text(S.reduce_of_pad(mx.reduce("sum", padded))) == "sum(W)"
    assert S.reduce_of_pad(mx.reduce("colsum", padded)) is None  # the zeros are other rows
    d = derive_text(SLICE_SUM)
    assert forms(d, "X")[1] == "𝟏 rowsum(slice(W, :, 1:T + 1))ᵀ"  # was rowsum(pad(…, 1:3, axis=1))
    _verified(d)


def _inv(m: mx.M) -> mx.M:
    return mx.AxisFn("inv", m, 0, m.shape, m.shape)


def test_an_inverse_of_a_product_of_square_matrices_meets_one_of_them():
    # (A D)⁻¹ A = D⁻¹, D (A D)⁻¹ = A⁻¹, (A A)⁻ᵀ Aᵀ = A⁻ᵀ; with numbers
    A, D, C = ref("A", "N", "N"), ref("D", "N", "N"), ref("C", "N", "K")
    vals = values_for(A, D, C)
    vals["A"] = vals["A"] + 3 * np.eye(SIZES["N"])  # well conditioned
    vals["D"] = vals["D"] + 3 * np.eye(SIZES["N"])
    ad, aa = mx.matmul(A, D), mx.matmul(A, A)
    cases = [
        (mx.matmul(mx.matmul(_inv(ad), A), C), "D⁻¹ C"),
        (mx.matmul(D, _inv(ad)), "A⁻¹"),
        (mx.matmul(mx.transpose(_inv(aa)), mx.transpose(A)), "A⁻ᵀ"),
        (mx.matmul(mx.transpose(A), mx.transpose(_inv(aa))), "A⁻ᵀ"),
    ]
    for before, want in cases:
        after = S.inverse_times_matrix(before)
        assert after is not None, text(before)
        assert text(S.simplify(before)) == want
        np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-9, atol=1e-12)
    # not square: (A C)(A C)ᵀ's inverse beside A is no A⁻¹ of anything
    cc = mx.matmul(C, mx.transpose(C))
    assert S.inverse_times_matrix(mx.matmul(_inv(mx.matmul(cc, A)), C)) is None
    # the other end of the product: (A D)⁻¹ D stays
    assert S.inverse_times_matrix(mx.matmul(_inv(ad), D)) is None
    d = _derive("models/more11/cb_det_x_squared.yaml")
    assert forms(d, "X")[1] == "2 L·X⁻ᵀ"  # was L·((X X)⁻ᵀ Xᵀ + Xᵀ (X X)⁻ᵀ)
    _verified(d)


def test_an_adjoint_whose_named_term_cancelled_stays_named_where_it_is_read():
    # ∂L/∂mu lost its ∂L/∂sd term (a centred sum, 0) last session; ∂L/∂X then wrote ∂L/∂mu
    # out as if it were a constant passed through: the index line grew by a whole formula
    d = _derive("models/more/instance_norm_rank3.yaml")
    assert forms(d, "X")[0].startswith("(1/T) ∂L/∂mu_ij + "), forms(d, "X")[0]
    assert forms(d, "mu")[0] == "−2 g_j (Σ_k (g_j (X_ijk − mu_ij) / sd_ij − Y_ijk)) / sd_ij"
    _verified(d)
    d = _derive("models/more/group_stats_first_order.yaml")
    assert forms(d, "X") == ("(1/K) ∂L/∂mu_ij + 2 ∂L/∂s_ij (X_ijk − mu_ij) + s_ij Σ_k′ W_kk′",
                             "(1/K) ∂L/∂mu 𝟏ᵀ + 2 ∂L/∂s ⊙ (X − mu) + s rowsum(W)ᵀ")
    _verified(d)
    d = _derive("models/more/mean_over_all_but_last.yaml")
    assert forms(d, "X")[0] == "(1/(B T)) ∂L/∂m_k + (2/(B T)) ∂L/∂v_k (X_ijk − m_k)"
    _verified(d)


def test_an_hvp_block_collects_over_its_scalar_factors():
    # s·(A + t·B) + 2 u·(2 t·B − A): spread, then each of A = X⁻ᵀ Vᵀ X⁻ᵀ, B = X⁻ᵀ written once
    Xi = mx.transpose(_inv(ref("X", "N", "N")))
    A, B_ = mx.matmul(mx.matmul(Xi, mx.transpose(ref("V", "N", "N"))), Xi), Xi
    s, t, u = mx.reduce("sum", ref("P", "N", "K")), mx.reduce("sum", ref("Q", "M", "N")), \
        mx.fn("exp", mx.reduce("sum", ref("R", "N", "K")))
    two = mx.Const(sympy.Integer(2))
    before = mx.add(mx.scale(s, mx.add(A, mx.scale(t, B_))),
                    mx.scale(two, mx.scale(u, mx.add(mx.scale(two, mx.scale(t, B_)), mx.neg(A)))))
    after = S.collect_scalar_factors(before)
    assert after is not None
    whole = S.simplify(before)
    assert S.cost(whole) < S.cost(before)
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    np.testing.assert_allclose(ev(whole, vals), ev(before, vals), rtol=1e-10)
    assert text(whole) == \
        "(sum(P) − 2 exp(sum(R)))·X⁻ᵀ Vᵀ X⁻ᵀ + (sum(P) + 4 exp(sum(R)))·sum(Q)·X⁻ᵀ"
    d = second_order(_derive("models/more10/cb_det_inverse.yaml"), hvp="")
    out = plain(d)
    # was det(X⁻¹)·(X⁻ᵀ Ẋᵀ X⁻ᵀ + tr(X⁻¹ Ẋ)·X⁻ᵀ) + 2 det(X)²·(2 tr(X⁻¹ Ẋ)·X⁻ᵀ − X⁻ᵀ Ẋᵀ X⁻ᵀ)
    assert "ℛ{∂L/∂X} = (det(X⁻¹) + 4 det(X)²)·tr(X⁻¹ Ẋ)·X⁻ᵀ + (det(X⁻¹) − 2 det(X)²)·X⁻ᵀ\n" \
        "             Ẋᵀ X⁻ᵀ\n" in out, out
    # the tangent's index form: X_i′i (X⁻¹)_ii′′′ met across nested sums is δ_i′i′′′ (was
    # − det(X⁻¹) X_i′i Ẋ_i′′′i′′ (X⁻¹)_ii′′′ (X⁻¹)_i′′i′)
    assert "L̇ = (2 det(X)² − det(X⁻¹)) (X⁻¹)_ii′ Ẋ_i′i\n" in out, out  # (collected: simp3)
    _verified(d)


def test_cancelling_keeps_the_specs_divisor():
    # r2/(r2 + 0.25): cancel's (4 r2 + 1)² is written as the spec's (r2 + 1/4)², in every form
    d = _derive("models/more10/geman_mcclure.yaml")
    assert forms(d, "r2")[1] == "(1/(4 N)) ⊘ (r2 + 1/4)^∘2"  # was (4/N) ⊘ (1 + 4 r2)^∘2
    assert _closed(d, "w") == "(1/(2 N)) Xᵀ ((X w − y) ⊘ (r2 + 1/4)^∘2)"
    _verified(d)


def test_a_divisor_whose_terms_share_a_number_is_held_without_it():
    # log((exp(R) + exp(−R))/2): its divisor (1/2) (exp(R) + exp(−R)) is not printed with the 1/2
    d = _derive("models/more7/charbonnier_logcosh.yaml")
    assert forms(d, "R")[1] == "(1/(B D)) (R ⊘ c + (exp(R) − exp(−R)) ⊘ (exp(−R) + exp(R)))"
    _verified(d)
