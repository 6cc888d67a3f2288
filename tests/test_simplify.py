"""Each rewrite rule of the matrix-form simplifier on its own: the form it prints, and a number.

Every case builds a small matrix-form tree, applies one rule (and the whole table), and checks
the printed result and that both trees evaluate to the same values at random inputs with
distinct dim sizes (a transposition mistake cannot hide).  The evaluator here is written from
the notation's meaning, not from einderive's code generator.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from einderive import matrix as mx
from einderive import simplify as S
from einderive.kinds import ReduceKind
from einderive.recognize import Where
from einderive.render.styles import Unicode

SIZES = {"M": 3, "N": 4, "K": 2, "B": 5}


def ref(name: str, *shape) -> mx.Ref:
    return mx.Ref(name, "tensor", tuple(shape))


A, B = ref("A", "N", "N"), ref("B", "M", "N")
C = ref("C", "N", "K")
X = ref("X", "M", "N")
x, a, b = ref("x", "N", 1), ref("a", "N", 1), ref("b", "N", 1)
y = ref("y", "M", 1)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


FUNCTIONS = {"softplus": lambda v: np.log1p(np.exp(v)), "exp": np.exp, "sqrt": np.sqrt, "sigmoid": _sigmoid,
             "sigmoid_prime": lambda v: _sigmoid(v) * (1 - _sigmoid(v)), "log": np.log,
             "maximum": np.maximum, "abs": np.abs, "sign": np.sign,
             "gt": lambda u, v: (u > v).astype(float), "le": lambda u, v: (u <= v).astype(float),
             "where_gt": lambda u, v, p, q: np.where(u > v, p, q)}


def ev(m: mx.M, values: dict) -> np.ndarray:
    """The value of a matrix form: vectors are columns, ⊙ broadcasts as NumPy does."""
    if isinstance(m, mx.Ref):
        return values[m.name] if m.display is None else ev(m.display, values)
    if isinstance(m, mx.Const):  # a count of rows (B 𝟏 for colsum(𝟏)) is a dim's size
        v = m.value
        free = getattr(v, "free_symbols", ())
        return np.array(float(v.subs({s: SIZES[s.name] for s in free}) if free else v))
    if isinstance(m, mx.Ones):
        return np.ones(tuple(SIZES.get(d, d) for d in m.shape))
    if isinstance(m, mx.Eye):
        return np.eye(SIZES[m.dim])
    if isinstance(m, mx.Transpose):  # of each batch element's matrix
        return np.swapaxes(ev(m.x, values), -1, -2)
    if isinstance(m, mx.BatchSum):
        return ev(m.x, values).sum(axis=tuple(range(len(m.dims))))
    if isinstance(m, mx.AxisFn) and m.head == "inv":
        return np.linalg.inv(ev(m.x, values))
    if isinstance(m, mx.AxisFn) and m.head == "softmax":
        v = ev(m.x, values)
        e = np.exp(v - v.max(axis=m.axis, keepdims=True))
        return e / e.sum(axis=m.axis, keepdims=True)
    if isinstance(m, mx.AxisFn) and m.head == "det":
        return np.array(np.linalg.det(ev(m.x, values)))
    if isinstance(m, mx.MatMul):
        out = ev(m.a, values) @ ev(m.b, values)
        return out.reshape(()) if m.shape == () else out
    if isinstance(m, mx.Hadamard):
        return np.prod(np.broadcast_arrays(*[ev(f, values) for f in m.factors]), axis=0)
    if isinstance(m, mx.Scale):
        return ev(m.coeff, values) * ev(m.x, values)
    if isinstance(m, mx.Add):
        return sum(ev(t, values) for t in m.terms)
    if isinstance(m, mx.Pow):
        return ev(m.x, values) ** float(m.exp)
    if isinstance(m, mx.Fn):
        return FUNCTIONS[m.name](*[ev(a, values) if isinstance(a, mx.M) else a for a in m.args])
    if isinstance(m, mx.Norm):
        return np.array(np.sqrt((ev(m.x, values) ** 2).sum()))
    if isinstance(m, mx.SumAxes):
        return ev(m.x, values).sum(axis=m.axes, keepdims=m.keep)
    if isinstance(m, mx.Reshape):
        return ev(m.x, values).reshape(tuple(SIZES.get(d, d) for d in m.dims))
    if isinstance(m, mx.Reduce):
        v = ev(m.x, values)
        return {"sum": lambda: np.array(v.sum()), "rowsum": lambda: v.sum(-1, keepdims=True),
                "colsum": lambda: np.swapaxes(v.sum(-2, keepdims=True), -1, -2)}[m.kind]()
    raise AssertionError(f"no evaluation for {type(m).__name__}")


def values_for(*ms: mx.M) -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for m in ms:
        for r in mx.leaves(m):
            if r.display is not None:  # an anonymous part: the names it prints as
                out = {**values_for(r.display), **out}
                continue
            shape = tuple(SIZES.get(d, d) for d in r.batch + r.shape)
            out.setdefault(r.name, rng.uniform(0.2, 0.8, shape))
    return out


def text(m: mx.M) -> str:
    return Unicode().matrix(m)


def check(rule, before: mx.M, want: str, wheres=()) -> None:
    """``rule`` rewrites ``before`` into what prints as ``want``, with the same values, and
    the whole simplifier agrees (and lowers the cost)."""
    after = rule(before)
    assert after is not None, f"{rule.__name__} left {text(before)} alone"
    whole = S.simplify(before, wheres)
    vals = values_for(before)
    for w in wheres:  # a helper's definition holds at these values
        np.testing.assert_allclose(ev(w.lhs, vals), ev(w.rhs, vals), rtol=1e-12)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    np.testing.assert_allclose(ev(whole, vals), ev(before, vals), rtol=1e-10)
    assert text(whole) == want
    assert S.cost(whole) < S.cost(before)


# -- sums of products -----------------------------------------------------------------------


def test_factor_right_operand():
    # ∂(xᵀ A x)/∂x = A x + Aᵀ x = (A + Aᵀ) x
    check(S.factor_operand, mx.add(mx.matmul(A, x), mx.matmul(mx.transpose(A), x)),
          "(A + Aᵀ) x")


def test_factor_left_operand():
    # tr(X A Xᵀ): X Aᵀ + X A = X (A + Aᵀ)
    check(S.factor_operand, mx.add(mx.matmul(B, mx.transpose(A)), mx.matmul(B, A)),
          "B (A + Aᵀ)")


def test_factor_left_operand_of_outer_products():
    # bᵀ Xᵀ X c: X c bᵀ + X b cᵀ = X (c bᵀ + b cᵀ)
    before = mx.add(mx.matmul(mx.matmul(B, a), mx.transpose(b)),
                    mx.matmul(mx.matmul(B, b), mx.transpose(a)))
    check(S.factor_operand, before, "B (a bᵀ + b aᵀ)")


def test_factor_keeps_the_other_terms():
    before = mx.add(mx.matmul(A, x), a, mx.matmul(mx.transpose(A), x))
    after = S.simplify(before)
    assert text(after) == "(A + Aᵀ) x + a"
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals))


def test_opposite_differences_are_one_difference():
    # ∂(−½ (x − a)ᵀ A (x − a))/∂x as read term by term: ½ (Aᵀ (a − x) − A (x − a))
    d, flipped = mx.add(x, mx.neg(a)), mx.add(a, mx.neg(x))
    before = mx.add(mx.matmul(mx.transpose(A), flipped), mx.neg(mx.matmul(A, d)))
    check(S.opposite_differences, before, "(A + Aᵀ) (a − x)")
    # turned the way a forward line writes it, when one does
    rule = S.make_opposite([(mx.matmul(mx.transpose(d), mx.matmul(A, d)), ref("L"))])
    assert text(rule(before)) == "(−A − Aᵀ) (x − a)"
    assert text(S.simplify(before, named=[(mx.matmul(mx.transpose(d), mx.matmul(A, d)),
                                          ref("L"))])) == "−(A + Aᵀ) (x − a)"
    # a difference one way round only, or terms that do not factor after the turn: alone
    assert S.opposite_differences(mx.add(mx.matmul(A, d), mx.matmul(A, b))) is None
    assert S.opposite_differences(mx.add(mx.matmul(mx.transpose(A), flipped),
                                         mx.hadamard(b, d))) is None


def test_common_negative_scalar():
    # the Mahalanobis form: −P d − Pᵀ d = −(P + Pᵀ) d
    before = mx.add(mx.neg(mx.matmul(A, x)), mx.neg(mx.matmul(mx.transpose(A), x)))
    check(S.common_scalar, mx.add(mx.neg(a), mx.neg(b)), "−(a + b)")
    check(S.factor_operand, before, "−(A + Aᵀ) x")


def test_common_constant_scalar():
    two = mx.Const(sympy.Integer(2))
    check(S.common_scalar, mx.add(mx.scale(two, a), mx.scale(two, b)), "2 (a + b)")


def test_different_scalars_stay():
    two = mx.Const(sympy.Integer(2))
    assert S.common_scalar(mx.add(mx.scale(two, a), b)) is None


def test_absorb_sign():
    # −Xᵀ (y − p) = Xᵀ (p − y)
    before = mx.neg(mx.matmul(mx.transpose(B), mx.add(y, mx.neg(mx.fn("sigmoid", y)))))
    check(S.absorb_sign, before, "Bᵀ (σ(y) − y)")


def test_absorb_sign_past_a_scalar_factor():
    # −(1/sum(X))·(y − p) = (1/sum(X))·(p − y)
    inv = mx.power(mx.reduce("sum", B), -1)
    before = mx.neg(mx.scale(inv, mx.add(y, mx.neg(mx.fn("sigmoid", y)))))
    check(S.absorb_sign, before, "(1/sum(B))·(σ(y) − y)")


def test_absorb_sign_when_that_only_saves_the_minus():
    # −(1/(K N)) (Y − σ(Z)) = (1/(K N)) (σ(Z) − Y): the same cost, one minus fewer
    c = mx.Const(-1 / (sympy.Symbol("K") * sympy.Symbol("N")))
    before = mx.scale(c, mx.add(y, mx.neg(mx.fn("sigmoid", y))))
    after = S.simplify(before)
    assert text(after) == "(1/(K N)) (σ(y) − y)"
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)


def test_sign_of_a_plain_sum_stays():
    assert S.simplify(mx.neg(mx.add(a, b))) == mx.neg(mx.add(a, b))


def test_reduce_as_product():
    # rowsum(B ⊙ xᵀ) = B x, colsum(B ⊙ y) = Bᵀ y
    check(S.reduce_as_product, mx.reduce("rowsum", mx.hadamard(B, mx.transpose(x))), "B x")
    check(S.reduce_as_product, mx.reduce("colsum", mx.hadamard(B, y)), "Bᵀ y")


def test_reductions_of_one_kind_merge():
    # colsum(𝟏) + colsum(X) = colsum(𝟏 + X) (the cancelled quotient's ∂L/∂w)
    ones = mx.Ones(X.shape)
    before = mx.add(mx.reduce("colsum", ones), mx.reduce("colsum", X))
    after, vals = S.merge_reductions(before), values_for(before)
    assert after is not None and text(after) == "colsum(𝟏 + X)"
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    # alone, reduce_of_ones may count the ones first (M 𝟏 + colsum(X)): the same value
    np.testing.assert_allclose(ev(S.simplify(before), vals), ev(before, vals), rtol=1e-10)
    # with a constant in front, and a term of another kind left out
    before = mx.add(mx.scale(mx.Const(-2), mx.reduce("rowsum", X)), mx.reduce("rowsum", B), y)
    check(S.merge_reductions, before, "rowsum(B − 2 X) + y")


def test_reductions_of_operands_of_other_shapes_stay():
    # colsum of a broadcast row is the row, once: colsum(r + X) would count it M times
    row = ref("r", 1, "N")
    assert S.merge_reductions(mx.add(mx.reduce("colsum", row), mx.reduce("colsum", X))) is None
    assert S.merge_reductions(mx.add(mx.reduce("rowsum", X), mx.reduce("colsum", B))) is None


def test_ones_times_a_vector_is_its_sum():
    # P ⊙ (𝟏 w) = sum(w)·P: 𝟏 w is sum(w) in every row (a softmax's kept-dims normaliser)
    P, w = ref("P", "M", "K"), ref("w", "N", 1)
    before = mx.hadamard(P, mx.matmul(mx.Ones(("M", "N")), w))
    check(S.ones_product, mx.matmul(mx.Ones(("M", "N")), w), "sum(w)·𝟏")
    assert text(S.simplify(before)) == "sum(w)·P"


def _sum_axes(x: mx.M, *axes: int) -> mx.M:
    shape = tuple(1 if k in axes else d for k, d in enumerate(x.shape))
    return mx.SumAxes(x, axes, True, shape)


def test_nested_sums_over_axes_are_one_sum_over_all_of_them():
    # sum(g ⊙ sum(Z, axis=1, keepdims=True), axis=2, keepdims=True): g (M×N, aligned to the
    # last two axes) is 1 along axis 1, so it passes into the inner sum (RMSNorm over two
    # middle axes, tests/models/more7/rmsnorm_mid_rank4.yaml's ∂L/∂r)
    Z, g = ref("Z", "K", "B", "M", "N"), ref("g", "M", "N")
    inner = _sum_axes(Z, 1)
    before = _sum_axes(mx.hadamard(g, inner), 2)
    check(S.merge_axis_sums, before, "sum(g ⊙ Z, axis=(1, 2), keepdims=True)")
    check(S.merge_axis_sums, _sum_axes(inner, 3), "sum(Z, axis=(1, 3), keepdims=True)")


def test_sums_over_the_same_axes_are_one_sum():
    # sum(P, axis=(0, 1), keepdims=True) − sum(h ⊙ Q, axis=(0, 1), keepdims=True): one sum of
    # the difference (tests/regressions/literal_one_row_rank3.yaml's ∂L/∂g)
    P, Q, h = ref("P", "K", "B", "M"), ref("Q", "K", "B", "M"), ref("h", "B", 1)
    before = mx.add(_sum_axes(P, 0, 1), mx.neg(_sum_axes(mx.hadamard(h, Q), 0, 1)))
    check(S.merge_reductions, before, "sum(P − h ⊙ Q, axis=(0, 1), keepdims=True)")
    # over other axes, or of operands of other shapes, they stay two
    assert S.merge_reductions(mx.add(_sum_axes(P, 0, 1), _sum_axes(Q, 0, 2))) is None
    assert S.merge_reductions(mx.add(_sum_axes(P, 0, 1),
                                     _sum_axes(ref("R", 1, "B", "M"), 0, 1))) is None


def test_a_factor_varying_along_an_inner_sums_axis_stays_outside_it():
    # h varies along axis 1 (B): sum(h ⊙ sum(Z, axis=1)) is no sum(h ⊙ Z, axis=(1, 2))
    Z, h = ref("Z", "K", "B", "M", "N"), ref("h", "B", "M", "N")
    assert S.merge_axis_sums(_sum_axes(mx.hadamard(h, _sum_axes(Z, 1)), 2)) is None


def test_ones_beside_a_term_of_the_sums_shape_go():
    # (1/(B K)) mu ⊙ 𝟏 + Z: the sum broadcasts mu as ⊙ does (batch norm of a rank-3 tensor:
    # the mean's contribution beside the centred tensor's, tests/models/more/batchnorm_rank3)
    Z, mu = ref("Z", "B", "K", "M"), ref("mu", 1, 1, "M")
    spread = mx.scale(mx.Const(sympy.Rational(1, 3)), mx.hadamard(mu, mx.Ones(Z.shape)))
    check(S.add_broadcasts, mx.add(spread, Z), "(1/3) mu + Z")
    # alone, the 𝟏 says the shape: it stays
    assert S.add_broadcasts(mx.add(spread, mx.hadamard(mu, ref("v", 1, "K", 1)))) is None


def test_a_broadcast_column_times_a_vector_is_the_column_times_its_sum():
    # ((s ⊙ 𝟏) w) ⊘ (s ⊙ s) = sum(w) ⊘ s, and vᵀ (r ⊙ 𝟏) = sum(v)·r for a row r
    s_, w = ref("s", "M", 1), ref("w", "N", 1)
    spread = mx.hadamard(s_, mx.Ones(("M", "N")))
    check(S.ones_product, mx.matmul(spread, w), "sum(w)·s")
    before = mx.hadamard(mx.matmul(spread, w), mx.power(mx.hadamard(s_, s_), -1))
    vals = values_for(before)
    after = S.simplify(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    assert text(after) == "sum(w) ⊘ s"
    r, v = ref("r", 1, "N"), ref("v", "M", 1)
    check(S.ones_product, mx.matmul(mx.transpose(v), mx.hadamard(r, mx.Ones(("M", "N")))),
          "sum(v)·r")


def test_ones_against_a_matrix_or_an_outer_product_stay():
    # 𝟏 A is no sum of a vector; 𝟏 muᵀ contracts an axis of one
    assert S.ones_product(mx.matmul(mx.Ones(("M", "N")), C)) is None
    mu = ref("mu", "N", 1)
    assert S.ones_product(mx.matmul(mx.Ones(("M", 1)), mx.transpose(mu))) is None


def test_a_constant_comes_out_of_a_reduction():
    assert text(mx.reduce("rowsum", mx.scale(mx.Const(sympy.Integer(2)), X))) == "2 rowsum(X)"


def test_a_product_with_a_row_sum_is_the_row_sum_of_a_node():
    # S⁻¹ rowsum(Xᵀ − mu) = rowsum(Z) for the node Z = S⁻¹ (Xᵀ − mu)
    from einderive.reuse import reusable
    Sinv = mx.AxisFn("inv", A, None, A.shape, A.shape)
    M = mx.add(mx.transpose(ref("X", "K", "N")), mx.neg(ref("mu", "N", 1)))
    Z = ref("Z", "N", "K")
    rule = S.make_row_sum_of_node(reusable([(Z, mx.matmul(Sinv, M))]))
    assert text(rule(mx.matmul(Sinv, mx.reduce("rowsum", M)))) == "rowsum(Z)"
    assert rule(mx.matmul(A, mx.reduce("rowsum", M))) is None


def test_reduce_of_transpose():
    check(S.reduce_as_product, mx.reduce("rowsum", mx.Transpose(B, ("N", "M"))), "colsum(B)")


def test_reduce_of_sum():
    # the affine bilinear form's rowsum((Bᵀ C) ⊙ vᵀ + (D ⊙ u)ᵀ) becomes two products
    z = ref("z", "M", 1)
    before = mx.reduce("rowsum", mx.add(mx.hadamard(mx.transpose(B), mx.transpose(y)),
                                        mx.transpose(mx.hadamard(B, z))))
    check(S.reduce_of_sum, before, "Bᵀ (y + z)")


# -- transposes ---------------------------------------------------------------------------------


def test_double_transpose():
    check(S.double_transpose, mx.Transpose(mx.Transpose(B, ("N", "M")), ("M", "N")), "B")


def test_transposed_pre_activation_turned_round():
    # σ'(C ᵀ Bᵀ + ...)ᵀ: the function of the pre-activation the natural way, B C
    pre = mx.matmul(mx.transpose(C), mx.transpose(B))
    before = mx.Transpose(mx.fn("sigmoid", pre), ("M", "K"))
    check(S.transpose_inward, before, "σ(B C)")


def test_a_transposed_function_of_a_plain_product_stays_transposed():
    # σ(B C)ᵀ, never σ(Cᵀ Bᵀ): the turn would transpose the pre-activation (cheaper as it is
    # by the cost, which is why the rule itself declines); the recognizer's turn declines too
    before = mx.Transpose(mx.fn("sigmoid", mx.matmul(B, C)), ("K", "M"))
    assert S.transpose_inward(before) is None
    assert text(S.simplify(before)) == "σ(B C)ᵀ"
    assert text(S.transpose_deep(before.x)) == "σ(B C)ᵀ"


def test_transposed_function_of_two_arguments_turns_both():
    # maximum(Cᵀ Bᵀ, Yᵀ)ᵀ is maximum(B C, Y): the second argument is turned, not dropped
    Y = ref("Y", "M", "K")
    pre = mx.matmul(mx.transpose(C), mx.transpose(B))
    before = mx.Transpose(mx.fn("maximum", pre, mx.transpose(Y)), ("M", "K"))
    check(S.transpose_inward, before, "maximum(B C, Y)")


def test_a_simplified_argument_keeps_the_other_arguments():
    # maximum(B a + B b, y): the first argument factors to B (a + b), y stays
    before = mx.fn("maximum", mx.add(mx.matmul(B, a), mx.matmul(B, b)), y)
    after = S.simplify(before)
    assert text(after) == "maximum(B (a + b), y)"
    vals = values_for(before)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)


def test_transposed_sum_without_a_product_stays():
    before = mx.Transpose(mx.add(mx.ONE, mx.neg(mx.power(B, 2))), ("N", "M"))
    assert S.transpose_inward(before) is None


def test_where_follows_a_turned_helper():
    pre = mx.matmul(mx.transpose(C), mx.transpose(B))
    helper = mx.fn("sigmoid_prime", pre)
    where = Where(helper, mx.hadamard(mx.fn("sigmoid", pre),
                                      mx.add(mx.ONE, mx.neg(mx.fn("sigmoid", pre)))))
    out = S.simplify(mx.Transpose(helper, ("M", "K")), [where])
    (kept,) = S.used_wheres(out, [where])
    assert text(kept.lhs) == "σ'(B C)" and text(kept.rhs) == "σ(B C) ⊙ (1 − σ(B C))"


# -- inner products, powers, quotients ------------------------------------------------------------


def test_inner_product():
    check(S.inner_product, mx.reduce("sum", mx.hadamard(a, b)), "aᵀ b")


def test_quadratic_form():
    check(S.inner_product, mx.reduce("sum", mx.hadamard(x, mx.matmul(A, x))), "xᵀ A x")


def test_squared_norm():
    check(S.inner_product, mx.reduce("sum", mx.power(x, 2)), "xᵀ x")


def test_matrix_inner_product_stays():
    assert S.inner_product(mx.reduce("sum", mx.hadamard(B, B))) is None


def test_square_of_root():
    t = mx.reduce("sum", X)
    check(S.square_of_root, mx.power(mx.fn("sqrt", t), 2), "sum(X)")
    check(S.square_of_root, mx.power(mx.fn("sqrt", t), -2), "1/sum(X)")


def test_merge_powers():
    t = mx.reduce("sum", X)
    before = mx.Hadamard((t, mx.power(t, -2)), ())
    check(S.merge_powers, before, "1/sum(X)")


def test_cancel_scalars_through_a_nested_denominator():
    # b/(a·(a·b)) = 1/a²: the cosine similarity's split gradient with its loss written out
    p, q, r = (mx.reduce("sum", v) for v in (X, B, A))
    inner = mx.Hadamard((p, mx.Hadamard((p, q), ())), ())
    before = mx.Hadamard((r, q, mx.Pow(inner, -1, ())), ())
    check(S.cancel_scalars, before, "sum(A)/sum(X)²")


def test_cancel_scalars_leaves_a_root_of_a_product_whole():
    p, q = (mx.reduce("sum", v) for v in (X, B))
    root = mx.Pow(mx.Hadamard((p, q), ()), sympy.Rational(-1, 2), ())
    assert S.cancel_scalars(mx.Hadamard((q, root), ())) is None


def test_one_denominator():
    # a/b/c = a/(b c)
    p, q, r = (mx.reduce("sum", v) for v in (X, B, A))
    before = mx.Hadamard((p, mx.power(q, -1), mx.power(r, -1)), ())
    check(S.one_denominator, before, "sum(X)/(sum(B)·sum(A))")


# -- derivative helpers ---------------------------------------------------------------------------


def test_sigmoid_of_exp():
    u = mx.matmul(B, x)
    e = mx.fn("exp", u)
    check(S.sigmoid_of_exp, mx.hadamard(e, mx.power(mx.add(mx.ONE, e), -1)), "σ(B x)")


def test_sigmoid_of_a_negation_is_one_minus_sigmoid():
    # σ(−z) = 1 − σ(z): MultiLabelSoftMarginLoss's ∂L/∂Z came out as
    # 1 + Y ⊙ σ(Z) + Y ⊙ σ(−Z) − 2 Y − σ(−Z), which is σ(Z) − Y
    z, t = mx.matmul(B, x), y
    p, q = mx.fn("sigmoid", z), mx.fn("sigmoid", mx.neg(z))
    before = mx.add(mx.ONE, mx.hadamard(t, p), mx.hadamard(t, q),
                    mx.scale(mx.Const(sympy.Integer(-2)), t), mx.neg(q))
    check(S.complement, before, "σ(B x) − y")


def test_one_minus_sigmoid_of_a_negation_is_sigmoid():
    # negative sampling's Nnᵀ (1 − σ(−Nn v)) is Nnᵀ σ(Nn v)
    z = mx.matmul(B, x)
    check(S.complement, mx.add(mx.ONE, mx.neg(mx.fn("sigmoid", mx.neg(z)))), "σ(B x)")


def test_sigmoid_of_a_negation_alone_stays():
    # σ(−z) by itself is no longer as 1 − σ(z)
    q = mx.fn("sigmoid", mx.neg(mx.matmul(B, x)))
    assert S.simplify(mx.add(q, y)) == mx.add(q, y)


def test_softplus():
    u = mx.matmul(B, x)
    check(S.softplus, mx.fn("log", mx.add(mx.ONE, mx.fn("exp", u))), "softplus(B x)")


def _bce_parts():
    u = mx.matmul(B, x)
    p = mx.fn("sigmoid", u)
    helper = mx.fn("sigmoid_prime", u)
    where = Where(helper, mx.hadamard(p, mx.add(mx.ONE, mx.neg(p))))
    dp = mx.add(mx.hadamard(mx.add(mx.ONE, mx.neg(y)), mx.power(mx.add(mx.ONE, mx.neg(p)), -1)),
                mx.neg(mx.hadamard(y, mx.power(p, -1))))
    return helper, where, dp


def test_cancel_through_sigmoid_prime():
    # σ'(u) ⊙ ((1 − y) ⊘ (1 − σ(u)) − y ⊘ σ(u)) = σ(u) − y
    helper, where, dp = _bce_parts()
    check(S.make_cancel([where]), mx.hadamard(helper, dp), "σ(B x) − y", [where])


def test_cancelling_never_makes_a_new_quotient():
    # (1 − y) ⊘ (1 − p) − y ⊘ p on its own stays as the textbook writes it
    _, where, dp = _bce_parts()
    assert S.simplify(dp, [where]) == dp


def test_softmax_cross_entropy_1d():
    # p ⊙ (sum(t) − t ⊘ p) = sum(t) p − t
    p, t = ref("p", "K", 1), ref("t", "K", 1)
    total = mx.reduce("sum", t)
    before = mx.hadamard(p, mx.add(total, mx.neg(mx.hadamard(t, mx.power(p, -1)))))
    check(S.make_cancel([]), before, "sum(t)·p − t")


def test_the_table_is_deterministic():
    helper, where, dp = _bce_parts()
    m = mx.matmul(mx.transpose(B), mx.hadamard(helper, dp))
    assert len({repr(S.simplify(m, [where])) for _ in range(3)}) == 1


@pytest.mark.parametrize("m", [mx.add(a, b), mx.matmul(A, x), mx.reduce("sum", X)])
def test_simple_forms_stay(m):
    assert S.simplify(m) == m


def test_sign_inside_a_sum_stays():
    # a − (1/N) gᵀ (1 − y): the minus is the sum's own, not flipped into (y − 1)
    third = mx.Const(sympy.Rational(-1, 3))
    before = mx.add(a, mx.scale(third, mx.matmul(mx.transpose(b), mx.add(mx.ONE, mx.neg(x)))))
    assert text(S.simplify(before)) == "a − (1/3) bᵀ (1 − x)"


# -- norms ----------------------------------------------------------------------------------------


def test_norm_of_a_vector():
    # √(xᵀ x) = ‖x‖ (and √sum(x ⊙ x), once the inner product is read)
    check(S.norm, mx.fn("sqrt", mx.matmul(mx.transpose(x), x)), "‖x‖")
    # √sum(x ⊙ x) is built as ‖x‖ by mx.fn itself (the reductions' merge), so no rule is left
    assert mx.fn("sqrt", mx.reduce("sum", mx.power(x, 2))) == mx.Norm(x)


def test_frobenius_norm():
    assert mx.fn("sqrt", mx.reduce("sum", mx.power(B, 2))) == mx.Norm(B)  # built by mx.fn
    check(S.norm, mx.reduce("sum", mx.power(B, 2)), "‖B‖_F²")


def test_squared_norm_of_a_difference():
    d = mx.add(x, mx.neg(a))
    check(S.norm, mx.reduce("sum", mx.power(d, 2)), "‖x − a‖²")
    assert mx.fn("sqrt", mx.reduce("sum", mx.power(d, 2))) == mx.Norm(d)  # built by mx.fn


def test_norm_of_a_rank3_tensor_is_not_written():
    h = mx.Ref("h", "tensor", ("N", "M", "K"))
    assert S.norm(mx.fn("sqrt", mx.reduce("sum", mx.power(h, 2)))) is None


def test_norm_prints_in_latex():
    from einderive.render.styles import Latex
    assert Latex().matrix(mx.power(mx.Norm(B), sympy.Integer(2))) == r"{\Vert B \Vert_{F}}^{2}"
    assert Latex().matrix(mx.Norm(mx.add(x, mx.neg(a)))) == r"\Vert x - a \Vert"


# -- collecting terms, symmetric inputs -----------------------------------------------------------


def test_collect_terms():
    check(S.collect_terms, mx.add(a, b, a), "2 a + b")


def test_symmetric_transpose():
    rule = S.make_symmetric(frozenset({"A"}))
    assert text(rule(mx.transpose(A))) == "A"
    assert rule(mx.transpose(B)) is None
    both = mx.add(mx.matmul(A, x), mx.matmul(mx.transpose(A), x))
    assert text(S.simplify(both, symmetric=frozenset({"A"}))) == "2 A x"
    assert text(S.simplify(both)) == "(A + Aᵀ) x"  # not declared symmetric: kept


def test_a_product_read_the_same_both_ways_is_symmetric():
    """Xᵀ X, X A Xᵀ with A symmetric, B + Bᵀ: their own transpose by their form, so the
    inverse's transpose is the inverse ((Xᵀ X)⁻ᵀ → (Xᵀ X)⁻¹, Cookbook (52)'s 2 X (Xᵀ X)⁻¹)."""
    gram = mx.matmul(mx.transpose(X), X)
    rounded = mx.matmul(mx.matmul(B, A), mx.transpose(B))
    both = mx.add(A, mx.transpose(A))
    vals = values_for(gram, rounded)
    vals["A"] = vals["A"] + vals["A"].T  # symmetric, as declared below
    for m, names in ((gram, frozenset()), (rounded, frozenset({"A"})), (both, frozenset())):
        assert S.is_symmetric(m, names), text(m)
        v = ev(m, vals)
        np.testing.assert_allclose(v, v.T, rtol=1e-12)
    # and the check can fail: Xᵀ B, B A Bᵀ with A not declared, A + Aᵀ + A are not symmetric
    assert not S.is_symmetric(mx.matmul(mx.transpose(X), B), frozenset())
    assert not S.is_symmetric(rounded, frozenset())
    assert not S.is_symmetric(mx.Add((A, mx.transpose(A), A), A.shape), frozenset())
    inv = mx.AxisFn("inv", gram, 0, gram.shape, gram.shape)
    rule = S.make_symmetric(frozenset())
    assert rule(mx.transpose(inv)) == inv
    g = vals["X"].T @ vals["X"]
    np.testing.assert_allclose(np.linalg.inv(g).T, np.linalg.inv(g), rtol=1e-10)
    assert rule(mx.transpose(mx.AxisFn("inv", A, 0, A.shape, A.shape))) is None


# -- whole specs ------------------------------------------------------------------------------------


def test_gru_pre_activations_read_the_natural_way(run):
    # issue 12: a GRU cell printed σ'(Wz Xᵀ + Uz Hpᵀ + bz)ᵀ and its code had .T.T
    from pathlib import Path
    spec = Path(__file__).parent / "models" / "gru_cell.yaml"
    text_out = run("derive", spec).output
    assert "σ'(X Wzᵀ + Hp Uzᵀ + bzᵀ)" in text_out
    assert "where σ'(X Wzᵀ + Hp Uzᵀ + bzᵀ) = Zg ⊙ (1 − Zg)" in text_out
    assert "ᵀ)ᵀ" not in text_out
    for fmt in ("numpy", "torch"):
        assert ".T.T" not in run("derive", spec, "-f", fmt).output


# -- reuse of forward nodes (issue 12) ---------------------------------------------------------------

def _reused(m: mx.M, nodes: list[tuple[str, mx.M]]) -> mx.M:
    """``m`` with the nodes reused, checked by value: each node evaluates to its form."""
    from einderive.reuse import reusable, reuse
    named = reusable([(ref(name, *form.shape), form) for name, form in nodes])
    out = reuse(m, named)
    vals = values_for(m, *[form for _, form in nodes])
    for name, form in nodes:
        vals[name] = ev(form, vals)
    np.testing.assert_allclose(ev(out, vals), ev(m, vals), rtol=1e-12)
    return out


def test_reuse_a_whole_subexpression():
    # the Rayleigh quotient f = (xᵀ A x)/(xᵀ x): its gradient holds f's form
    xx = mx.matmul(mx.transpose(x), x)
    f = mx.scalar_product([mx.matmul(mx.matmul(mx.transpose(x), A), x), mx.power(xx, -1)])
    grad = mx.add(mx.matmul(A, x), mx.neg(mx.scale(mx.Const(sympy.Integer(2)), mx.scale(f, x))))
    assert text(_reused(grad, [("f", f)])) == "A x − 2 f·x"


def test_reuse_a_run_of_a_product():
    # h = A x inside B A x, however the product is bracketed
    h = mx.matmul(A, x)
    assert text(_reused(mx.matmul(B, h), [("h", h)])) == "B h"
    assert text(_reused(mx.matmul(mx.matmul(B, A), x), [("h", h)])) == "B h"
    assert text(_reused(mx.matmul(mx.matmul(mx.transpose(x), A), x), [("h", h)])) == "xᵀ h"


def test_reuse_a_transposed_run_of_a_product():
    # ridge: w = A⁻¹-like B x; a gradient's run xᵀ Bᵀ is wᵀ, and a whole Bᵀ… form Zᵀ
    w = mx.matmul(B, x)  # M×1
    g = mx.matmul(mx.matmul(y, mx.matmul(mx.transpose(x), mx.transpose(B))), X)  # y (B x)ᵀ X
    assert text(_reused(g, [("w", w)])) == "y wᵀ X"
    Z = mx.matmul(X, A)  # M×N
    assert text(_reused(mx.transpose(Z), [("Z", Z)])) == "Zᵀ"
    # a node's own form wins over another's transpose, and a scalar has no transpose
    both = _reused(mx.transpose(Z), [("Z", Z), ("V", mx.transpose(Z))])
    assert text(both) == "V"


def test_reuse_some_factors_of_an_elementwise_product():
    p = mx.hadamard(a, b)
    assert text(_reused(mx.hadamard(a, x, b), [("p", p)])) == "p ⊙ x"
    assert text(_reused(mx.add(a, b, x), [("s", mx.add(a, b))])) == "s + x"
    assert text(_reused(mx.hadamard(a, x), [("p", p)])) == "a ⊙ x"  # b is not there


def test_reuse_the_largest_match_and_the_first_defined():
    h = mx.matmul(A, x)
    g = mx.matmul(A, h)
    m = mx.add(mx.matmul(mx.matmul(A, A), x), h)
    assert text(_reused(m, [("h", h), ("g", g)])) == "g + h"
    assert text(_reused(m, [("g", g), ("h", h)])) == "g + h"
    assert text(_reused(h, [("h", h), ("k", h)])) == "h"  # two nodes with one form: the first


def _scanned(m: mx.M, named) -> mx.M:
    """Reference for :func:`reuse.reuse`: every form of the graph tried at every node, largest
    first, then first defined (what the pass did before it filed the forms by operand)."""
    from einderive import reuse as R
    whole = dict(named)
    rows = sorted(((R._operands(f), r, type(f)) for f, r in named
                   if isinstance(f, (mx.MatMul, mx.Hadamard, mx.Add))), key=lambda t: -len(t[0]))

    def go(m: mx.M) -> mx.M:
        if m in whole:
            return whole[m]
        own = R._operands(m)
        for run, r, kind in rows if isinstance(m, (mx.MatMul, mx.Hadamard, mx.Add)) else ():
            if kind is not type(m):
                continue
            if isinstance(m, mx.MatMul):
                for i in range(len(own) - len(run) + 1):
                    if own[i:i + len(run)] == run:
                        left = [go(R._product(own[:i]))] if i else []
                        right = [go(R._product(own[i + len(run):]))] \
                            if i + len(run) < len(own) else []
                        return R._product([*left, r, *right])
            elif len(run) < len(own) and all(own.count(v) >= run.count(v) for v in run):
                return go(R._join(m, R._replaced(own, run, r)))
        if isinstance(m, mx.MatMul):
            return R._product([go(f) for f in own])
        return S.rebuild(m, [go(c) for c in m.children()])
    return go(m)


def test_reuse_finds_what_a_scan_of_every_form_finds():
    """The forms are filed by their first operand; the pass must still pick the form a scan of
    all of them picks (largest, then first defined, then leftmost), in any definition order."""
    import itertools

    from einderive.reuse import reusable, reuse
    forms = {"h": mx.matmul(A, x), "g": mx.matmul(B, A), "k": mx.matmul(mx.matmul(B, A), A),
             "p": mx.hadamard(a, x), "q": mx.hadamard(b, x), "r": mx.hadamard(a, b, x),
             "s": mx.add(a, b), "t": mx.add(b, x)}
    exprs = [mx.matmul(mx.matmul(B, A), x), mx.matmul(mx.matmul(mx.matmul(B, A), A), x),
             mx.hadamard(a, b, x, mx.matmul(A, x)), mx.add(a, b, x, mx.hadamard(b, x)),
             mx.add(mx.matmul(mx.matmul(B, A), mx.hadamard(a, b)), y)]
    for order in itertools.permutations(forms, 4):
        named = reusable([(ref(n, *forms[n].shape), forms[n]) for n in order])
        for m in exprs:
            assert reuse(m, named) == _scanned(m, named), (order, text(m))


def test_no_reuse_of_a_leaf_or_a_form_of_another_shape():
    from einderive.reuse import reusable
    assert reusable([(ref("h", "N", 1), x), (ref("g", "N", "N"), mx.transpose(A))]) == ()
    assert reusable([(ref("h", "N", "M"), mx.matmul(A, x))]) == ()
    assert text(_reused(mx.matmul(B, x), [])) == "B x"


def test_reuse_in_whole_specs(run, tmp_path):
    # the loss of the Rayleigh quotient, read by the generated code and proved by verify
    spec = tmp_path / "rayleigh.yaml"
    spec.write_text("name: rayleigh\ndims: {N: 3}\ninputs:\n  x: [N]\n  A: [N, N]\n"
                    "forward:\n  - f = x @ A @ x / (x @ x)\nloss: f\nwrt: [x, A]\n")
    assert "grad(x) = (1/(xᵀ x))·((A + Aᵀ) x − 2 f·x)" in run("derive", spec).output
    code = run("derive", spec, "-f", "numpy").output
    assert "d_x = 1 / (x @ x) * ((A + A.T) @ x - 2 * (f * x))" in code
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    # attention's closed form reads the output O = P V, not its definition
    from pathlib import Path
    out = run("derive", Path(__file__).parents[1] / "specs" / "attention.yaml", "--expand").output
    assert "rowsum(G ⊙ O)" in out and "(P V)" not in out


def test_a_squared_norm_compiles_to_the_sum_of_squares(run, tmp_path):
    # ‖x‖² was compiled as np.sqrt(np.sum(x ** 2)) ** 2: a root taken only to be squared
    spec = tmp_path / "cosine.yaml"
    spec.write_text("name: cosine\ndims: {N: 3}\ninputs:\n  x: [N]\n  y: [N]\n"
                    "forward:\n  - L = x @ y / sqrt(x @ x) / sqrt(y @ y)\nloss: L\nwrt: [x, y]\n")
    assert "((xᵀ y)/‖x‖²)·x" in run("derive", spec).output
    for fmt, lib in (("numpy", "np"), ("torch", "torch")):
        code = run("derive", spec, "-f", fmt).output
        assert f"x @ y / {lib}.sum(x ** 2) * x" in code, code
        assert f"{lib}.sqrt({lib}.sum(x ** 2))" in code  # ‖x‖ itself is still a root
        assert ")) ** 2" not in code
    r = run("verify", spec)
    assert r.exit_code == 0, r.output


def test_expand_a_node_where_the_simplifier_then_factors():
    # u = B x; L = xᵀ u: ∂L/∂x = Bᵀ x + u is (B + Bᵀ) x, as L = x @ B @ x prints
    from einderive.reuse import expand, reusable
    u = ref("u", "N", 1)
    named = reusable([(u, mx.matmul(A, x))])
    before = mx.add(mx.matmul(mx.transpose(A), x), u)
    after = expand(before, named, S.simplify)
    assert text(after) == "(A + Aᵀ) x"
    vals = values_for(before, A, x)
    vals["u"] = vals["A"] @ vals["x"]
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    # written out, u would only be longer: kept
    assert text(expand(mx.add(mx.matmul(B, u), y), named, S.simplify)) == "B u + y"


def test_an_einsum_of_zero_is_zero():
    # a contribution that cancels once a node is written out: einsum('ijk,jk->ijk', 𝟏, 0)
    e = mx.Einsum("ijk,jk->ijk", (mx.Ones(("B", "M", "N")), mx.Const(sympy.S.Zero)),
                  ("B", "M", "N"))
    assert S.zero_operand(e) == mx.Const(sympy.S.Zero)
    assert S.zero_operand(mx.Einsum("ijk,jk->ijk", (mx.Ones(("B", "M", "N")), B),
                                    ("B", "M", "N"))) is None
    three = ref("T", "B", "M", "N")
    assert text(S.simplify(mx.add(e, three))) == "T"


# -- centred sums (normalisation layers) ----------------------------------------------------

M_SIZE = sympy.Symbol("M", integer=True, positive=True)
N_SIZE = sympy.Symbol("N", integer=True, positive=True)
G = ref("G", "M", "N")
mu_col = ref("mu", "N", 1)  # mu = (1/M) colsum(X): batch norm's mean over the rows
Xc = ref("Xc", "M", "N")  # Xc = X − muᵀ
nu = ref("nu", "M", 1)  # nu = (1/N) rowsum(X): layer norm's mean over the columns
CENTRED = (
    (mx.scale(mx.Const(1 / M_SIZE), mx.reduce("colsum", X)), mu_col),
    (mx.add(X, mx.neg(mx.transpose(mu_col))), Xc),
    (mx.scale(mx.Const(1 / N_SIZE), mx.reduce("rowsum", X)), nu),
)


def centred_values() -> dict:
    vals = values_for(X, G, y, a)
    vals["mu"] = vals["X"].mean(axis=0, keepdims=True).T
    vals["Xc"] = vals["X"] - vals["mu"].T
    vals["nu"] = vals["X"].mean(axis=1, keepdims=True)
    return vals


@pytest.mark.parametrize("before,want", [
    (mx.reduce("colsum", Xc), "0"),  # a named centred node
    (mx.reduce("rowsum", mx.add(X, mx.neg(nu))), "0"),  # written out: rowsum(X − nu)
    # times a row (the same on every row): batch norm's colsum(Xc ⊙ cᵀ)
    (mx.reduce("colsum", mx.hadamard(Xc, mx.transpose(a))), "0"),
    (mx.reduce("colsum", mx.add(G, mx.neg(mx.hadamard(Xc, mx.transpose(a))))), "colsum(G)"),
    (mx.reduce("rowsum", mx.hadamard(mx.add(X, mx.neg(nu)), y)), "0"),
], ids=["named", "inline", "times-a-row", "a-term-of-a-sum", "times-a-column"])
def test_centred_sums_vanish(before, want):
    after = S.simplify(before, named=CENTRED)
    assert text(after) == want
    vals = centred_values()
    np.testing.assert_allclose(ev(after, vals) + 0 * ev(before, vals), ev(before, vals),
                               atol=1e-12)


@pytest.mark.parametrize("before", [
    mx.reduce("rowsum", Xc),  # centred along the other axis
    mx.reduce("colsum", mx.hadamard(Xc, G)),  # times what varies along the sum
    mx.reduce("colsum", mx.add(X, mx.neg(mx.transpose(mx.scale(mx.Const(sympy.Rational(1, 4)),
                                                                  mx.reduce("colsum", X)))))),
], ids=["other-axis", "varying-factor", "not-the-mean"])
def test_sums_that_are_not_centred_stay(before):
    after = S.simplify(before, named=CENTRED)
    assert not mx.is_zero(after)
    vals = centred_values()
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    assert np.abs(ev(before, vals)).max() > 1e-3  # the check can fail: these are not zero


def test_no_norm_or_inner_product_of_a_batched_vector():
    # a batched form reads per element (matrix.batch_of): √(uᵀ u) there is each element's
    # length, which ‖u‖ (the norm of everything, in code) is not; sum(u ⊙ v) is the total
    u = mx.Ref("u", "tensor", ("N", 1), batch=("B",))
    v = mx.Ref("v", "tensor", ("N", 1), batch=("B",))
    root = mx.fn("sqrt", mx.matmul(mx.transpose(u), u))
    assert S.norm(root) is None and text(S.simplify(root)) == "√(uᵀ u)"
    total = mx.reduce("sum", mx.hadamard(u, v))
    assert S.inner_product(total) is None
    plain = mx.fn("sqrt", mx.matmul(mx.transpose(x), x))  # the rule does fire unbatched
    assert text(S.simplify(plain)) == "‖x‖"


# -- sums over axes -------------------------------------------------------------------------

X3, Y3 = ref("X3", "B", "M", "N"), ref("Y3", "B", "M", 1)
P, E = ref("P", "M", "N"), ref("E", "M", "N")


def _kept(x: mx.M, axes: tuple[int, ...]) -> mx.SumAxes:
    return mx.SumAxes(x, axes, True, tuple(1 if a in axes else d for a, d in enumerate(x.shape)))


def test_a_reshape_dropping_a_sums_kept_axes_is_the_sum_without_them():
    # ∂L/∂P of S = Q Kᵀ + P (P: [H, T, T] under S: [B, H, T, T]), and gmm's ⊘ exp(logs)
    check(S.squeezed_sum, mx.Reshape(mx.add(_kept(X3, (0,)), mx.scale(mx.Const(sympy.Rational(1, 5)), P)),
                                     ("M", "N"), ("M", "N")),
          "sum(X3, axis=0) + (1/5) P")
    check(S.squeezed_sum, mx.Reshape(mx.hadamard(mx.scale(mx.Const(-2), _kept(X3, (0,))),
                                                 mx.power(E, -1)), ("M", "N"), ("M", "N")),
          "−2 sum(X3, axis=0) ⊘ E")


def test_a_reshape_that_moves_or_broadcasts_is_no_squeezed_sum():
    assert S.squeezed_sum(mx.Reshape(_kept(X3, (0,)), ("N", "M"), ("N", "M"))) is None
    # sum(Y3, axis=0, keepdims=True) is M×1: beside X3's M×N it broadcasts, it is no M×N
    assert S.squeezed_sum(mx.Reshape(mx.add(_kept(Y3, (0,)), _kept(X3, (0,))),
                                     ("M", "N"), ("M", "N"))) is None


# -- inverses of transposes, signs, masks, batch sums (found by a new user's models) -----------


def _inv(m: mx.M) -> mx.M:
    return mx.AxisFn("inv", m, 0, m.shape, m.shape)


def test_the_inverse_of_a_transpose_is_written_as_one_symbol():
    # inv(X.T): (Aᵀ)⁻¹ is A⁻ᵀ, also with the argument an anonymous part printed inline
    check(S.inverse_of_transpose, _inv(mx.transpose(A)), "A⁻ᵀ")
    anon = mx.Ref("_L_1", "anon", ("N", "N"), display=mx.transpose(A))
    check(S.inverse_of_transpose, _inv(anon), "A⁻ᵀ")
    assert S.inverse_of_transpose(_inv(A)) is None


def test_an_inverse_of_an_anonymous_part_meets_its_matrix():
    # sum(inv(X.T) * X): −(Xᵀ)⁻¹ Xᵀ (Xᵀ)⁻¹ + (Xᵀ)⁻¹ is 0
    anon = mx.Ref("_L_1", "anon", ("N", "N"), display=mx.transpose(A))
    inv = _inv(anon)
    before = mx.add(inv, mx.neg(mx.matmul(mx.matmul(inv, mx.transpose(A)), inv)))
    assert S.inverse_times_matrix(mx.matmul(inv, mx.transpose(A))) is not None
    vals = values_for(A)
    vals["A"] = vals["A"] + 3 * np.eye(SIZES["N"])  # well conditioned
    after = S.simplify(before)
    assert text(after) == "0"
    np.testing.assert_allclose(ev(before, vals), 0 * ev(A, vals), atol=1e-10)


def _det(m: mx.M) -> mx.M:
    return mx.AxisFn("det", m, 0, m.shape, ())


def test_det_of_a_transpose_is_det_of_the_matrix():
    # det(X.T): det(Aᵀ) is det(A), inline (cheaper) or an anonymous part (as cheap: kept as
    # the canonical form), and the terms then meet: det(Xᵀ) + det(X) is 2 det(X)
    check(S.of_transpose, _det(mx.transpose(A)), "det(A)")
    anon = mx.Ref("_L_1", "anon", ("N", "N"), display=mx.transpose(A))
    before = mx.add(_det(anon), _det(A))
    after = S.simplify(before)
    assert text(after) == "2 det(A)"
    vals = values_for(A)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-10)
    assert S.of_transpose(_det(A)) is None


def test_an_inverse_of_a_product_meets_the_product():
    # (A D)⁻¹ A D C is C; Cᵀ Dᵀ Aᵀ (A D)⁻ᵀ is Cᵀ; A⁻¹ (A C) with A C an anonymous part is C
    D = ref("D", "N", "N")
    vals = values_for(A, D, C)
    vals["A"] = vals["A"] + 3 * np.eye(SIZES["N"])  # well conditioned
    vals["D"] = vals["D"] + 3 * np.eye(SIZES["N"])
    ad = mx.matmul(A, D)
    cases = [
        (mx.matmul(mx.matmul(_inv(ad), ad), C), "C"),
        (mx.matmul(mx.transpose(mx.matmul(ad, C)), mx.transpose(_inv(ad))), "Cᵀ"),
        (mx.matmul(_inv(A), mx.Ref("_L_2", "anon", ("N", "K"), display=mx.matmul(A, C))), "C"),
        (mx.matmul(_inv(mx.Ref("_L_1", "anon", ("N", "N"), display=ad)), ad), "𝐈"),
    ]
    for before, want in cases:
        after = S.inverse_times_matrix(before)
        assert after is not None, text(before)
        assert text(S.simplify(before)) == want
        np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-9, atol=1e-12)
    # a product beside the inverse of another stays
    assert S.inverse_times_matrix(mx.matmul(_inv(ad), mx.matmul(D, A))) is None


def _softmax(m: mx.M, axis: int) -> mx.M:
    return mx.AxisFn("softmax", m, axis, m.shape, m.shape)


def test_a_softmax_summed_along_its_axis_is_one():
    # P = softmax(A, axis=0): colsum(P) is 𝟏 (inline, or P a forward node), Pᵀ 𝟏 too, and
    # a vector's p = softmax(z): sum(p) and pᵀ 𝟏 are 1; along the other axis nothing is
    K = ref("K", "M", "N")
    z = ref("z", "N", 1)
    P, p = ref("P", "M", "N"), ref("p", "N", 1)
    named = ((_softmax(K, 0), P), (_softmax(z, 0), p))
    rule = S.make_sums_to_one(named)
    vals = values_for(K, z)
    vals["P"], vals["p"] = ev(_softmax(K, 0), vals), ev(_softmax(z, 0), vals)
    cases = [(mx.reduce(ReduceKind.COLSUM, _softmax(K, 0)), "𝟏"),
             (mx.reduce(ReduceKind.COLSUM, P), "𝟏"),
             (mx.matmul(mx.transpose(P), mx.Ones(("M", 1))), "𝟏"),
             (mx.reduce(ReduceKind.SUM, p), "1"),
             (mx.matmul(mx.transpose(p), mx.Ones(("N", 1))), "1"),
             (mx.reduce(ReduceKind.ROWSUM, _softmax(K, 1)), "𝟏")]
    for before, want in cases:
        after = rule(before)
        assert after is not None and text(after) == want, text(before)
        np.testing.assert_allclose(ev(after, vals) + 0 * ev(before, vals), ev(before, vals),
                                   rtol=1e-12)
        assert text(S.simplify(before, named=named)) == want
    assert rule(mx.reduce(ReduceKind.ROWSUM, P)) is None
    assert rule(mx.reduce(ReduceKind.COLSUM, _softmax(K, 1))) is None
    assert rule(mx.reduce(ReduceKind.COLSUM, K)) is None


def test_a_sum_over_axes_of_a_tensor_centred_there_is_zero():
    # batch norm over (0, 1) of X: [B, T, D]: mu = (1/(B T)) sum(X, axis=(0, 1), keepdims=True)
    X3 = mx.Ref("X3", "tensor", ("B", "M", "N"))
    mu = mx.Ref("mu", "tensor", (1, 1, "N"))
    sums = mx.SumAxes(X3, (0, 1), True, (1, 1, "N"))
    bt = sympy.Symbol("B", integer=True, positive=True) * sympy.Symbol("M", integer=True,
                                                                      positive=True)
    mean = mx.scale(mx.Const(1 / bt), sums)
    rule = S.make_centred(((mean, mu),))
    vals = values_for(X3)
    vals["mu"] = ev(mean, vals)
    centred = mx.SumAxes(mx.add(X3, mx.neg(mu)), (0, 1), True, (1, 1, "N"))
    met = mx.add(sums, mx.neg(mx.scale(mx.Const(bt), mu)))
    for before in (centred, met):
        assert rule(before) is not None and text(rule(before)) == "0", text(before)
        np.testing.assert_allclose(ev(before, vals), 0 * ev(before, vals), atol=1e-12)
    # over one axis only, or by another count, nothing cancels
    assert rule(mx.SumAxes(mx.add(X3, mx.neg(mu)), (0,), True, (1, "M", "N"))) is None
    assert rule(mx.add(sums, mx.neg(mx.scale(mx.Const(2 * bt), mu)))) is None


def test_a_mean_over_two_axes_is_named_by_its_sums_over_axes():
    from einderive.reuse import reusable
    # mu's form read per batch element, (1/(B T)) Σ_b colsum(X_b)ᵀ (1×N), is the node's
    # own 1×1×N sum(X, axis=(0, 1), keepdims=True) scaled
    Xb = mx.Ref("X3", "tensor", ("M", "N"), batch=("B",))
    c = mx.Const(sympy.Rational(1, 6))
    form = mx.scale(c, mx.batch_sum(mx.transpose(mx.reduce(ReduceKind.COLSUM, Xb)), ("B",), ("b",)))
    mu = mx.Ref("mu", "tensor", (1, 1, "N"))
    ((whole, ref), *_) = reusable([(mu, form)])
    assert ref == mu
    assert whole == mx.scale(c, mx.SumAxes(mx.Ref("X3", "tensor", ("B", "M", "N")), (0, 1), True,
                                           (1, 1, "N")))
    vals = {"X3": np.random.default_rng(3).normal(size=(5, 3, 4))}
    per = sum(vals["X3"][b].sum(axis=0) for b in range(5)) / 6
    np.testing.assert_allclose(ev(whole, vals).reshape(-1), per)


def test_a_sum_split_over_its_terms_counts_a_broadcast_scalar():
    # sum(s − y) over y's N entries is N s − sum(y): the scalar is summed N times
    s = ref("s")
    before = mx.reduce(ReduceKind.SUM, mx.add(s, mx.neg(y)))
    after = S.reduce_of_sum(before)
    assert after is not None
    vals = values_for(s, y)
    np.testing.assert_allclose(ev(after, vals), ev(before, vals), rtol=1e-12)
    assert "M s" in text(after), text(after)


def test_abs_times_sign_is_the_argument():
    # ∂‖|X W|‖/∂(X W) carries |X W| ⊙ sign(X W), which is X W
    u = mx.matmul(B, x)
    check(S.abs_times_sign, mx.hadamard(mx.fn("abs", u), mx.fn("sign", u), y), "y ⊙ (B x)")
    assert S.abs_times_sign(mx.hadamard(mx.fn("abs", u), mx.fn("sign", y))) is None


def test_a_norm_does_not_see_signs():
    check(S.norm_of_abs, mx.Norm(mx.fn("abs", mx.matmul(B, x))), "‖B x‖")


def test_an_indicator_beside_its_where_goes():
    zero = mx.Const(sympy.S.Zero)
    w = mx.fn("where_gt", a, b, x, zero)
    check(S.indicator_of_where, mx.hadamard(mx.fn("gt", a, b), w), "where(a > b, x, 0)")
    # where(a > b, 0, x) is zero where a > b: the indicator that goes with it is 𝟙[a ≤ b]
    w0 = mx.fn("where_gt", a, b, zero, x)
    check(S.indicator_of_where, mx.hadamard(mx.fn("le", a, b), w0), "where(a > b, 0, x)")
    assert S.indicator_of_where(mx.hadamard(mx.fn("gt", a, b), w0)) is None
    assert S.indicator_of_where(mx.hadamard(mx.fn("gt", a, x), w)) is None
    vals = values_for(a, b, x)
    assert ev(mx.fn("gt", a, b), vals).min() == 0  # the check can fail: some entries masked


def test_constants_come_out_of_a_batch_sum_and_the_terms_collect():
    # the mean's share of ∂L/∂X for m = (1/(B T)) Σ_b colsum(X_b), written out:
    # c (A + Aᵀ) Σ_b colsum(X_b) + Σ_b (−c (A + Aᵀ) colsum(X_b)) is 0
    Xb = mx.Ref("Xb", "tensor", ("M", "N"), batch=("B",))
    c = mx.Const(sympy.Rational(1, 7))
    AA = mx.add(A, mx.transpose(A))
    col = mx.reduce("colsum", Xb)
    first = mx.scale(c, mx.matmul(AA, mx.batch_sum(col, ("B",), ("b",))))
    second = mx.batch_sum(mx.scale(mx.neg(c), mx.matmul(AA, col)), ("B",), ("b",))
    before = mx.add(first, second, x)
    vals = values_for(A, Xb, x)
    after = S.batch_sums_collect(before)
    assert after is not None and text(after) == "x"
    assert text(S.simplify(before)) == "x"
    np.testing.assert_allclose(ev(before, vals), vals["x"], rtol=1e-10)
    assert np.abs(ev(first, vals)).max() > 1e-3  # the terms themselves are not zero


def test_a_coefficient_of_roots_needs_no_brackets():
    d = sympy.Symbol("D", integer=True, positive=True)
    assert text(mx.scale(mx.Const(sympy.sqrt(d)), mx.add(A, B))) == "√D (A + B)"
    assert text(mx.scale(mx.Const(2 * sympy.sqrt(d)), A)) == "2 √D A"
    assert text(mx.scale(mx.Const(1 / sympy.sqrt(d)), A)) == "(1/√D) A"


@pytest.mark.parametrize("spec,shown,gone", [
    ("inverse_of_transpose_cancels", ["∂L/∂X     = −Yᵀ ∂L/∂Y Yᵀ", "tr(X X⁻¹)",
                                       "L     = X_ii′ (X⁻ᵀ)_ii′"], ["(Xᵀ)⁻¹"]),
    ("norm_of_abs_product", ["(1/‖X W‖_F)·Xᵀ X W"], ["sign(X W)", "‖|X W|‖"]),
    ("where_beside_its_indicator", ["grad(x) = 2 where(a > b, x, 0)"], ["𝟙[a > b] ⊙"]),
    ("mean_two_axes_share", ["grad(X) = (X − mᵀ) (W + Wᵀ)"], ["colsum(X_b)))ᵀ"]),
    ("softmax_sums_to_one", ["grad(Bq) = softmax(Bq, axis=0) − P", "= p ⊙ (w − pᵀ w)"],
     ["colsum(P)ᵀ", "pᵀ 𝟏"]),
    ("models/more/batchnorm_rank3", ["∂L/∂mu    = −gᵀ ⊙ sum(∂L/∂Y, axis=(0, 1), keepdims=True) ⊘ √(var "
                         "+ 0.001)\n            = −3 gᵀ ⊙ sum(Y ⊙ Y, axis=(0, 1), keepdims=True)"],
     ["sum(X − mu, axis=(0, 1)", "− (B T) mu"]),
    ("sum_of_scalar_minus_softmax", ["∂L/∂h0   = 2 ∂L/∂h2·(M h0 − 1)"], ["sum(h0)"]),
    ("cancelling_gradient", ["∂L/∂x_ij = 0", "grad(x) = 0"], ["2 g_ij − 2 g_ij"]),
    ("inverse_of_product_cancels", ["grad(A) = 0", "grad(C) = ∂L/∂Z\n",
                                    "grad(B) = ∂L/∂Y + Xᵀ"], ["Aᵀ Xᵀ (X A)⁻ᵀ"]),
])
def test_new_users_models_print_the_simplified_forms(run, spec, shown, gone):
    from pathlib import Path
    path = Path(__file__).parent / f"{spec if '/' in spec else 'regressions/' + spec}.yaml"
    out = run("derive", path, "--expand").output
    for s in shown:
        assert s in out, out
    for s in gone:
        assert s not in out, out
    r = run("verify", path)
    assert r.exit_code == 0, r.output


# -- broadcast factors that meet: a quotient (X̂ = X ⊘ r) named or written out prints one form ---

r = ref("r", "M", 1)  # a per-row statistic (RMS norm's r, layer norm's σ)
s = ref("s", "N", 1)  # a per-column statistic (batch norm's σ)
A_MN = ref("A", "M", "N")


def test_a_column_divisor_comes_out_of_a_product_where_it_meets_itself():
    """rmsnorm with X̂ = X ⊘ r written out: X ⊙ ((G ⊙ X ⊘ r) w) ⊘ r is the one-line spec's
    X ⊙ ((G ⊙ X) w) ⊘ (r ⊙ r)."""
    before = mx.hadamard(X, mx.matmul(mx.hadamard(B, X, mx.power(r, -1)), x), mx.power(r, -1))
    check(S.pulled_to_meet, before, "X ⊙ ((B ⊙ X) x) ⊘ (r ⊙ r)")


def test_a_row_divisor_comes_out_of_a_column_sum_where_it_meets_itself():
    root = mx.fn("sqrt", s)
    before = mx.hadamard(X, mx.transpose(mx.reduce("colsum", mx.hadamard(
        B, X, mx.power(mx.transpose(root), -1)))), mx.power(mx.transpose(root), -1))
    check(S.pulled_to_meet, before, "X ⊙ (colsum(B ⊙ X) ⊘ s)ᵀ")


def test_a_divisor_that_meets_nothing_stays_in_the_product():
    before = mx.hadamard(X, mx.matmul(mx.hadamard(B, X, mx.power(r, -1)), x))
    assert S.pulled_to_meet(before) is None


def test_a_factor_constant_along_a_row_sum_stays_in_it_alone():
    """rowsum(B ⊙ X ⊘ r) alone keeps r inside: pulled out at an equal cost everywhere it hid
    a named quotient (O = num ⊘ den read in rowsum(O ⊙ O)) and a softmax's cancellation."""
    before = mx.reduce("rowsum", mx.hadamard(B, X, mx.power(r, -1)))
    assert text(S.simplify(before)) == "rowsum(B ⊙ X ⊘ r)"


def test_a_factor_comes_out_of_a_row_sum_beside_its_base():
    """P = X ⊘ r named reads (B − rowsum(B ⊙ P)) ⊘ r; written out, (B − rowsum(B ⊙ X ⊘ r)) ⊘ r
    is the one-line spec's (B − rowsum(B ⊙ X) ⊘ r) ⊘ r (keepdims_sum's pair: a canonical
    rule, kept at equal cost, where the difference is divided by the same r)."""
    before = mx.hadamard(mx.add(B, mx.neg(mx.reduce(
        "rowsum", mx.hadamard(B, X, mx.power(r, -1))))), mx.power(r, -1))
    whole = S.simplify(before)
    assert text(whole) == "(B − rowsum(B ⊙ X) ⊘ r) ⊘ r"
    vals = values_for(before)
    np.testing.assert_allclose(ev(whole, vals), ev(before, vals), rtol=1e-10)


def test_transposed_rows_are_one_transposed_column():
    """Batch norm with √(var + ε) named: (G − …) ⊙ gammaᵀ ⊘ sᵀ is (gamma ⊘ s)ᵀ ⊙ (G − …)."""
    root = mx.fn("sqrt", s)
    before = mx.hadamard(mx.add(B, X), mx.transpose(x), mx.power(mx.transpose(root), -1))
    check(S.rows_under_one_transpose, before, "(x ⊘ √s)ᵀ ⊙ (B + X)")


def test_transposed_rows_under_one_transpose_merge():
    root = mx.fn("sqrt", s)
    before = mx.hadamard(X, mx.transpose(mx.hadamard(mx.reduce("colsum", B), mx.power(root, -1))),
                         mx.power(mx.transpose(root), -1))
    check(S.rows_under_one_transpose, before, "X ⊙ (colsum(B) ⊘ s)ᵀ")


def test_two_transposed_names_stay_apart():
    before = mx.hadamard(X, mx.transpose(a), mx.transpose(b))
    assert text(S.simplify(before)) == "X ⊙ aᵀ ⊙ bᵀ"


def test_a_broadcast_column_in_an_elementwise_product_is_the_column():
    """llama_mlp with ms split: X ⊙ ((v ⊘ √r) 𝟏ᵀ) is v ⊙ X ⊘ √r."""
    col = mx.hadamard(mx.matmul(B, x), mx.power(mx.fn("sqrt", r), -1))
    before = mx.hadamard(X, mx.matmul(col, mx.Ones((1, "N"))))
    check(S.broadcast_factor, before, "X ⊙ (B x) ⊘ √r")


def test_a_root_dividing_terms_to_two_powers_is_divided_by_once():
    """RMS norm's gradient: T ⊘ √u + G − (1/D) X ⊙ (X w) ⊘ (√u)^∘3 is
    (T − (1/D) X ⊙ (X w) ⊘ u) ⊘ √u + G."""
    root = mx.fn("sqrt", r)
    before = mx.add(mx.hadamard(B, mx.power(root, -1)), A_MN,
                    mx.neg(mx.hadamard(X, mx.matmul(X, x), mx.power(root, -3))))
    check(S.common_root_divisor, before, "(B − X ⊙ (X x) ⊘ r) ⊘ √r + A")


def test_a_root_dividing_terms_to_one_power_stays_with_them():
    root = mx.fn("sqrt", r)
    before = mx.add(mx.hadamard(B, mx.power(root, -1)), mx.hadamard(X, mx.power(root, -1)))
    assert S.common_root_divisor(before) is None

