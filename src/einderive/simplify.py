"""The matrix form simplified: a table of rewrite rules applied to a fixed point under one cost.

The recognizer reads each index-form term back on its own, so a gradient comes out as the
sum of what the chain rule produced (``A x + Aᵀ x``, ``sum(x ⊙ (A x))``, σ'(u) against the
derivative of a cross-entropy).  Each rule below looks at one node and proposes a rewrite
(in the manner of tinygrad's pattern matcher); a rewrite is kept only when it lowers
:func:`cost`, one weighted node count, so rules cannot undo each other and the result is the
same on every run.  The few canonical rules (``CANONICAL``: det(Xᵀ) = det(X)) are kept at
equal cost, and so is a sign that saves a minus (``absorb_sign``); after the loop, forms
along a tangent write each trace one way (``tr(X⁻¹ Ẋ)``, :func:`_canonical`).  Every rewrite is an identity of the matrix algebra (``verify`` and the
printed-form tests evaluate the result), never a guess about the user's data.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from types import MappingProxyType
from weakref import WeakSet
from typing import Any, cast

import sympy

from . import matrix as mx
from .kinds import ReduceKind, RefKind
from .ops import (ABS, AXIS_OPS, COMPARISONS, EXP, LOG, LOG_SOFTMAX, LOGSUMEXP, NEGATION,
                  POW_HALF, SCALARS, SIGMOID, SIGN, SOFTMAX, SOFTPLUS, WHERE_PREFIX)
from .cancel import cancelled, denominators, reflected, worth_cancelling
from .recognize import (Where, as_written, orientations, reading_forward, reading_traces,
                        reading_writes, transpose_deep)
from .record import replace
from .shapes import Shape

Rule = Callable[[mx.M], "mx.M | None"]

# -- cost ---------------------------------------------------------------------------------------

_WEIGHT: dict[type, int] = {mx.Reduce: 3, mx.Einsum: 3, mx.Norm: 2}


def cost(m: mx.M) -> int:
    """A weighted node count: a product or sum costs one per operand joined, a constant
    factor only its number, an elementwise
    product and a reduction a little more than the matrix product that says the same, and a
    transpose of anything but a name more than the transposes on its leaves."""
    own = _WEIGHT.get(type(m), 1)
    if isinstance(m, (mx.Hadamard, mx.Add)):
        own = len(m.children()) - 1
    elif isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const):
        own = 0  # a number in front is written, not computed: 2 a is less than a + a
    elif isinstance(m, mx.Transpose) and not _one_symbol(m.x):
        own = 3
    elif isinstance(m, mx.MatMul) and _hidden_sum(m):
        own = 2 + _WEIGHT[mx.Reduce]  # a sum written as a product: the product and the sum
    elif _inverse_of_transposed(m) is not None:
        own = 3  # (Xᵀ)⁻¹ is written with parentheses where X⁻ᵀ is one symbol
    return own + sum(cost(c) for c in m.children())


def _hidden_sum(m: mx.MatMul) -> bool:
    """Whether ``m`` contracts a real axis against ones (``𝟏 w``, ``(s ⊙ 𝟏) w``, ``vᵀ 𝟏``):
    a sum of the other operand written as a product (an outer product ``𝟏 muᵀ`` is none)."""
    return _shape(m.a)[-1] != 1 and (_ones_in(m.a) or _ones_in(m.b))


def _ones_in(m: mx.M) -> bool:
    if isinstance(m, mx.Transpose):
        return _ones_in(m.x)
    return isinstance(m, mx.Ones) or isinstance(m, mx.Hadamard) and \
        any(isinstance(f, mx.Ones) and f.shape == m.shape for f in m.factors)


def _one_symbol(m: mx.M) -> bool:
    """Whether ``mᵀ`` is written as one symbol: a name's ``Xᵀ``, an inverse's ``A⁻ᵀ``."""
    return isinstance(m, mx.Ref) or isinstance(m, mx.AxisFn) and bool(AXIS_OPS[m.head].text_t)


# -- helpers ------------------------------------------------------------------------------------


def _exp(m: mx.M) -> Any:
    """A power's exponent (a SymPy rational; the node's field is declared ``object``)."""
    return cast(Any, m).exp


def _shape(m: mx.M) -> tuple[Any, ...]:
    return cast(Any, m).shape  # type: ignore[no-any-return]


def _negative_power(m: mx.M) -> bool:
    return isinstance(m, mx.Pow) and bool(_exp(m) < 0)


def _chain(m: mx.M) -> list[mx.M]:
    """The operands of a product ``a b c`` left to right."""
    if isinstance(m, mx.MatMul):
        return _chain(m.a) + _chain(m.b)
    return [m]


def _product(factors: Sequence[mx.M]) -> mx.M:
    out = factors[0]
    for f in factors[1:]:
        out = mx.matmul(out, f)
    return out


def _coeff_chain(t: mx.M) -> tuple[mx.M, list[mx.M]]:
    """A term ``c a b`` as its scalar coefficient and its product's operands."""
    if isinstance(t, mx.Scale):
        return t.coeff, _chain(t.x)
    return mx.ONE, _chain(t)


def _is_vector(shape: tuple[Any, ...]) -> bool:
    return len(shape) == 2 and (shape[0] == 1) != (shape[1] == 1)


# -- rules: sums of products ----------------------------------------------------------------------


def factor_operand(m: mx.M) -> mx.M | None:
    """``A x + Aᵀ x`` → ``(A + Aᵀ) x``, ``X b + X c`` → ``X (b + c)``: the first pair of terms
    that share their leftmost or rightmost operand is written as one product.  Not in a
    forward line: its index form keeps the sums the line writes (x @ (A + B) @ x reads
    xᵀ (A + B) x on its own), so two products it holds apart are two terms the line writes
    (sum(exp(x) * (W @ x)) + x @ W @ x is exp(x)ᵀ W x + xᵀ W x, not (xᵀ + exp(x)ᵀ) W x)."""
    if not isinstance(m, mx.Add) or reading_forward():
        return None
    parts = [_coeff_chain(t) for t in m.terms]
    found = _first_shared_pair(parts)
    if found is None:
        return None
    i, j, side = found
    (ci, fi), (cj, fj) = parts[i], parts[j]
    shared = fi[0] if side == "left" else fi[-1]
    rest_i = mx.scale(ci, _product(fi[1:] if side == "left" else fi[:-1]))
    rest_j = mx.scale(cj, _product(fj[1:] if side == "left" else fj[:-1]))
    inner = _sum_sorted([rest_i, rest_j])
    joined = mx.matmul(shared, inner) if side == "left" else mx.matmul(inner, shared)
    others = [t for k, t in enumerate(m.terms) if k not in (i, j)]
    return mx.add(*others[:i], joined, *others[i:])


def _first_shared_pair(parts: list[tuple[mx.M, list[mx.M]]]) -> tuple[int, int, str] | None:
    """The first pair of products ``i < j`` (by ``i``, then ``j``; the left side before the
    right) that share their leftmost or rightmost operand, found through a table of each
    end's operands: a sum of N terms that share nothing (N consumers of one tensor) costs
    N look-ups, not the N² comparisons of every pair."""
    ends: dict[str, dict[mx.M, list[int]]] = {"left": {}, "right": {}}
    for k, (_, f) in enumerate(parts):
        if len(f) >= 2:
            ends["left"].setdefault(f[0], []).append(k)
            ends["right"].setdefault(f[-1], []).append(k)
    for i, (_, fi) in enumerate(parts):
        if len(fi) < 2:
            continue
        best: tuple[int, str] | None = None
        for side, end in (("left", fi[0]), ("right", fi[-1])):
            at = ends[side][end]  # ascending, and holds i itself
            later = at[bisect.bisect_right(at, i):]
            if later and (best is None or later[0] < best[0]):
                best = (later[0], side)
        if best is not None:
            return i, best[0], best[1]
    return None


# Rules whose result may cost one more, a minus taken out of a difference, because a form
# then reads one difference where it read two (w − c g and c g − w): the cost counts a tree,
# not what it shares. (Each is the one rule of its kind, so rewriting still ends.)
SHARING: WeakSet[Rule] = WeakSet()
# Rules made per simplification (of its symmetric inputs) kept at an equal cost, as
# CANONICAL's: each removes what no rule puts back
CANONICAL_MADE: WeakSet[Rule] = WeakSet()
# Rules made per simplification that read a forward node by the name the spec gives it, kept
# at any cost: a spec that names the node (Y = g * C / sqrt(v + ε), C named) prints the form
# the same computation on one line prints, where writing the node's parts out cost more
# (issue 12).  The node is a name no rule writes out again, so rewriting still ends.
READS_NODE: WeakSet[Rule] = WeakSet()


def opposite_differences(m: mx.M) -> mx.M | None:
    """``Pᵀ (m − x) − P (x − m)`` → ``(P + Pᵀ) (m − x)``: a difference met both ways round in
    the terms of a sum (SymPy takes a term's minus into a difference: −(x − m) is m − x) is
    written the way it is met first, the other as its negation, when the terms then factor
    or collect.  :func:`make_opposite` prefers the way a forward line wrote it."""
    return _opposite(m, lambda: frozenset())


def make_opposite(named: Named) -> Rule:
    """:func:`opposite_differences`, turned the way the forward nodes ``named`` write the
    difference where they do: −½ (x − m)ᵀ P (x − m) gives −½ (P + Pᵀ) (x − m), as the same
    line split at d = x − m does."""
    def forward() -> frozenset[mx.M]:  # walked once, when a sum first needs it
        return _forward_forms(named).differences

    def opposite(m: mx.M) -> mx.M | None:
        return _opposite(m, forward)
    opposite.__doc__ = make_opposite.__doc__
    return opposite


def make_one_way(named: Named) -> Rule:
    """A difference met both ways round in the terms of a sum where nothing then factors or
    collects, still written one way: the way a forward line writes it, else the way whose
    positive term is the plainer (w − c g, not c g − w), whichever term met it first, so that
    the sum reads as a line that met it once (maxpool_minpool's pair).  In :data:`SHARING`."""
    def forward() -> frozenset[mx.M]:
        return _forward_forms(named).differences

    def one_way(m: mx.M) -> mx.M | None:
        if not isinstance(m, mx.Add):
            return None
        met = [n for t in m.terms for n in mx.walk(t) if _difference(n)]
        seen = Counter(met)
        # (the one turned only where each of its places is a factor of a term, through
        # products alone: its minus then comes out as the term's own sign, never into a
        # function's argument or a sum: exp(20 (2 S − 1)) beside exp(1 − 2 S) stays)
        shallow = Counter(n for t in m.terms for n in _factors_through_products(t))
        for d in dict.fromkeys(met):
            flipped = _flipped(d)
            if flipped in seen and flipped != d and shallow[flipped] == seen[flipped] and \
                    _plainer_first(d, flipped, forward):
                turned = mx.substitute(m, flipped, mx.neg(d))
                if isinstance(turned, mx.Add) and cost(turned) <= cost(m) + 1:
                    return turned  # (a minus taken out costs one: see SHARING)
        return None
    one_way.__doc__ = make_one_way.__doc__
    SHARING.add(one_way)
    return one_way


def _opposite(m: mx.M, forward: Callable[[], frozenset[mx.M]]) -> mx.M | None:
    if not isinstance(m, mx.Add):
        return None
    met = [n for t in m.terms for n in mx.walk(t) if _difference(n)]
    seen = set(met)
    for d in dict.fromkeys(met):
        flipped = _flipped(d)
        if flipped in seen and flipped != d:
            if flipped in forward() and d not in forward():
                d, flipped = flipped, d
            turned = mx.substitute(m, flipped, mx.neg(d))
            if isinstance(turned, mx.Add):
                return factor_operand(turned) or collect_terms(turned)
    return None


def _factors_through_products(t: mx.M) -> list[mx.M]:
    """``t`` and the factors of its products, scalings and transposes, and theirs."""
    out = [t]
    if isinstance(t, (mx.Hadamard, mx.MatMul, mx.Scale, mx.Transpose)):
        for c in t.children():
            out += _factors_through_products(c)
    return out


def _plainer_first(d: mx.M, flipped: mx.M, forward: Callable[[], frozenset[mx.M]]) -> bool:
    """Whether ``d`` (a − b) is the way to write a difference met both ways: the way a
    forward line writes it, else the way whose positive term costs less (a tie: neither)."""
    if (d in forward()) != (flipped in forward()):
        return d in forward()
    assert isinstance(d, mx.Add) and isinstance(flipped, mx.Add)
    plus = [cost(t) for t in d.terms if not _negative(t)]
    other = [cost(t) for t in flipped.terms if not _negative(t)]
    return plus < other


def _difference(m: mx.M) -> bool:
    """``a − b``: a sum of two terms, one of them negative."""
    return isinstance(m, mx.Add) and len(m.terms) == 2 and \
        sum(_negative(t) for t in m.terms) == 1


def _flipped(d: mx.M) -> mx.M:
    """``b − a`` for ``a − b``, built as the recognizer builds a difference (positive first)."""
    assert isinstance(d, mx.Add)
    return mx.add(*sorted((mx.neg(t) for t in d.terms), key=_negative))


def _sum_sorted(terms: list[mx.M]) -> mx.M:
    """A sum made by factoring, its plain terms first: ``A + Aᵀ``, not ``Aᵀ + A``."""
    return mx.add(*sorted(terms, key=lambda t: (_negative(t), mx.transposes(t))))


def _negative(t: mx.M) -> bool:
    return mx.split_sign(t)[0]


def common_scalar(m: mx.M) -> mx.M | None:
    """``−a − b`` → ``−(a + b)``, ``2 a + 2 b`` → ``2 (a + b)``: a constant every term of a sum
    has in front is written once."""
    if not isinstance(m, mx.Add):
        return None
    coeffs = [t.coeff.value if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const)
              else (t.value if isinstance(t, mx.Const) else sympy.S.One) for t in m.terms]
    c: Any = coeffs[0]
    if c == 1 or any(k != c for k in coeffs):
        return None
    inv = mx.Const(1 / c)
    return mx.scale(mx.Const(c), mx.add(*[mx.scale(inv, t) for t in m.terms]))


def common_signed_scalar(m: mx.M) -> mx.M | None:
    """``(1/B) σ(s) − (1/B) y`` → ``(1/B) (σ(s) − y)``: a constant every term of a sum has in
    front up to its sign is written once, positive terms first (kept at equal cost: the sum's
    own ``−`` is free, so the two are alike by count, and the collected one is the
    textbook's).  Not in a forward line, which keeps the user's ``mean(a) − mean(b)``."""
    if not isinstance(m, mx.Add) or reading_forward():
        return None
    coeffs = [t.coeff.value if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const)
              else None for t in m.terms]
    if any(k is None for k in coeffs) or any(_scaled_sum(t) for t in m.terms):
        return None  # a term that is a sum would spill into this one and split a named part
    c: Any = coeffs[0]
    if c.could_extract_minus_sign():
        c = -c
    if c == 1 or all(k == coeffs[0] for k in coeffs) or any(k != c and k != -c for k in coeffs):
        return None  # all alike: common_scalar's
    if any(isinstance(n, mx.Ref) and n.kind == RefKind.ADJOINT for n in mx.walk(m)):
        return None  # a chain form: its closed form, the adjoints written out, collects (or
        # not) on its own; a 2 in front of the chain stays in front of what they hold
    inv = mx.Const(1 / c)
    return mx.scale(mx.Const(c), _sum_sorted([mx.scale(inv, t) for t in m.terms]))


def _scaled_sum(t: mx.M) -> bool:
    """Whether ``t`` is a sum with scalar factors in front (``(1/N) exp(s)·(a − An)``)."""
    while isinstance(t, mx.Scale):
        t = t.x
    return isinstance(t, mx.Add)


def absorb_sign(m: mx.M, written: frozenset[mx.M] = frozenset()) -> mx.M | None:
    """``−Xᵀ (y − p)`` → ``Xᵀ (p − y)``: a minus in front of a whole form goes into a
    difference in its product (positive terms first), when that saves writing it.  Only at
    the top: inside a sum the minus is the sum's own ``−`` and costs nothing.  A difference
    a forward line writes (``written``), and not the other way round, keeps its sides and
    the minus stays in front: −2 (T − U Vᵀ) V of ‖T − U Vᵀ‖², as the Cookbook writes the
    gradient of (x − A s)ᵀ W (x − A s), −2 Aᵀ W (x − A s)."""
    if not (isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const)):
        return None
    c: Any = m.coeff.value
    if not c.could_extract_minus_sign():
        return None
    factors, body = [], m.x
    while isinstance(body, mx.Scale):  # −(1/s)·(t − s p): the scalar factors stay in front
        factors.append(body.coeff)
        body = body.x
    chain = _chain(body)
    if reading_forward() and _quadratic(chain):
        return None  # −(1/2) (x − m)ᵀ P (x − m): a forward line's form keeps its two sides
    for k, f in enumerate(chain):
        if isinstance(f, mx.Add):
            flipped = sorted((mx.neg(t) for t in f.terms), key=_negative)
            if f in written and mx.add(*flipped) not in written:
                return None
            out = _product([*chain[:k], mx.add(*flipped), *chain[k + 1:]])
            for s in reversed(factors):
                out = mx.scale(s, out)
            return mx.scale(mx.Const(-c), out)
    return None


def _quadratic(chain: list[mx.M]) -> bool:
    """Whether a difference is two operands of the product (``(x − m)ᵀ P (x − m)``)."""
    plain = [f.x if isinstance(f, mx.Transpose) else f for f in chain]
    return any(isinstance(f, mx.Add) and plain.count(f) > 1 for f in plain)


def reduce_of_sum(m: mx.M) -> mx.M | None:
    """``rowsum(A + B)`` → ``rowsum(A) + rowsum(B)``, kept when the parts then simplify."""
    # each part on its own: simplified whole, merge_reductions would put it back
    parts = _parts_at_shape(m)
    return None if parts is None else \
        mx.add(*[simplify(_reduce(cast(mx.Reduce, m).kind, t)) for t in parts])


def _parts_at_shape(m: mx.M) -> list[mx.M] | None:
    """The terms of a reduced sum, each at the sum's shape: a part that broadcasts (a scalar
    beside a vector) is summed at that shape (M x0, not x0); None where one cannot be."""
    if not isinstance(m, mx.Reduce) or not isinstance(m.x, mx.Add):
        return None
    shape = _shape(m.x)
    parts = [t if _shape(t) == shape else mx.broadcast_to(t, shape) for t in m.x.terms]
    return None if any(_shape(t) != shape for t in parts) else parts


def merge_reductions(m: mx.M) -> mx.M | None:
    """``colsum(𝟏) + colsum(X)`` → ``colsum(1 + X)``, ``Σ_b P_b + Σ_b Q_b`` → ``Σ_b (P_b + Q_b)``,
    ``sum(P, axis=(0, 1), keepdims=True) − sum(Q, axis=(0, 1), keepdims=True)`` →
    ``sum(P − Q, axis=(0, 1), keepdims=True)``:
    terms that are one sum (a reduction, a sum over a batch or over axes) of operands of one
    shape are that sum of their sum.  Operands of one shape only: ``colsum(v)`` of a broadcast row and
    ``colsum(X)`` are no ``colsum(v + X)``, which would count the row once per row of X."""
    if not isinstance(m, mx.Add):
        return None
    groups: dict[tuple[Any, ...], list[mx.M]] = {}
    for t in m.terms:
        key = _linear_sum(_constant_and_body(t)[1])
        if key is not None:
            groups.setdefault(key, []).append(t)
    merged = next((ts for ts in groups.values() if len(ts) > 1), None)
    if merged is None:
        return None
    inner = mx.add(*sorted((_inside_sum(t) for t in merged), key=_negative))  # B − 2 X
    # standing where its first term stood (the index form prints its terms in that order)
    whole = mx.with_src(_resum(_constant_and_body(merged[0])[1], inner),
                        cast(Any, merged[0]).src)
    rest = [t for t in m.terms if t not in merged]
    return mx.add(*rest[:m.terms.index(merged[0])], whole, *rest[m.terms.index(merged[0]):])


def _linear_sum(t: mx.M) -> tuple[Any, ...] | None:
    """What makes two sums one: the kind of sum, its operand's shape and batch (a row or a
    column sum, or a sum over a batch; a total of everything reads as the loss wrote it)."""
    if isinstance(t, mx.Reduce) and t.kind != ReduceKind.SUM:  # a total stays as written:
        return ("reduce", t.kind, t.x.shape, mx.batch_of(t.x))  # sum(Y ⊙ Y) + sum(M ⊙ Y)
    if isinstance(t, mx.BatchSum):
        return ("batch", t.dims, t.names, t.x.shape, mx.batch_of(t.x))
    if isinstance(t, mx.SumAxes):  # sum(A, axis=(0, 1), keepdims=True) − sum(B, axis=…)
        return ("axes", t.axes, t.keep, t.x.shape, mx.batch_of(t.x))
    return None


def _inside_sum(t: mx.M) -> mx.M:
    """A term ``c·colsum(A)`` as the ``c A`` it sums."""
    c, body = _constant_and_body(t)
    assert isinstance(body, (mx.Reduce, mx.BatchSum, mx.SumAxes))
    return mx.scale(mx.Const(c), body.x)


def _resum(like: mx.M, x: mx.M) -> mx.M:
    if isinstance(like, mx.Reduce):
        return mx.reduce(like.kind, x)
    if isinstance(like, mx.SumAxes):
        return mx.SumAxes(x, like.axes, like.keep, like.shape)
    assert isinstance(like, mx.BatchSum)
    return mx.batch_sum(x, like.dims, like.names)


def ones_product(m: mx.M) -> mx.M | None:
    """``𝟏 w`` → ``sum(w)·𝟏``, ``(s ⊙ 𝟏) w`` → ``sum(w)·s``, ``vᵀ (𝟏 ⊙ r)`` → ``sum(v)·r``: a
    vector contracted with ones that broadcast a column ``s`` across columns (or a row ``r``
    down rows) is its sum times that column (row); ``s`` and ``r`` keep their shape, so a
    product that follows reads the same shape (``P ⊙ (𝟏 w)`` is then ``sum(w)·P``)."""
    if not isinstance(m, mx.MatMul):
        return None
    a, b = m.a, m.b
    # in a batched form sum(v) of a batched v would add every element's: only a shared one
    # (an operand of fewer than two axes, a number a rule left in a product, is neither)
    if len(_shape(b)) == 2 and _shape(b)[1] == 1 and _shape(b)[0] != 1 and \
            not mx.batch_of(b):  # a column: a is C 𝟏ᵀ
        kept = _broadcast_ones(a, axis=1)
        return None if kept is None else mx.scale(mx.reduce(ReduceKind.SUM, _plain(b)), kept)
    if len(_shape(a)) == 2 and _shape(a)[0] == 1 and _shape(a)[1] != 1 and \
            not mx.batch_of(a):  # a row: b is 𝟏 R
        kept = _broadcast_ones(b, axis=0)
        return None if kept is None else mx.scale(mx.reduce(ReduceKind.SUM, _plain(a)), kept)
    return None


def sum_as_product(m: mx.M) -> mx.M | None:
    """``Zᵀ 𝟏`` → ``colsum(Z)``, ``Z 𝟏`` → ``rowsum(Z)``: a matrix times a column of ones is
    the sum the printers have a name for (a batched form's sums are its elements' too)."""
    if not (isinstance(m, mx.MatMul) and isinstance(m.b, mx.Ones) and
            len(_shape(m.b)) == 2 and _shape(m.b)[1] == 1 and _shape(m.b)[0] != 1 and
            len(_shape(m.a)) == 2 and _shape(m.a)[0] != 1):
        return None
    if isinstance(m.a, mx.Transpose):
        return mx.reduce(ReduceKind.COLSUM, m.a.x)
    return mx.reduce(ReduceKind.ROWSUM, m.a)


def _broadcast_ones(m: mx.M, axis: int) -> mx.M | None:
    """``C`` (of one column) when ``m`` is ones broadcast along ``axis`` (1: ``C 𝟏ᵀ``, every
    column ``C``; 0: ``𝟏 R``, every row R) times factors constant along it, else None."""
    if isinstance(m, mx.Ones):
        keep = list(_shape(m))
        keep[axis] = 1
        return mx.Ones(tuple(keep))
    if not (isinstance(m, mx.Hadamard) and any(isinstance(f, mx.Ones) and f.shape == m.shape
                                               for f in m.factors)):
        return None
    rest = [f for f in m.factors if not isinstance(f, mx.Ones)]
    if not rest or any(f.shape[axis] != 1 for f in rest):
        return None
    return mx.hadamard(*rest)


def _plain(v: mx.M) -> mx.M:
    """A vector whose sum is taken, without a transpose (``sum(vᵀ)`` is ``sum(v)``)."""
    return v.x if isinstance(v, mx.Transpose) else v


def _reduce(kind: ReduceKind, t: mx.M) -> mx.M:
    """A reduction with the term's scalar coefficient in front: ``−(1/D) rowsum(…)``."""
    if isinstance(t, mx.Scale):
        return mx.scale(t.coeff, mx.reduce(kind, t.x))
    return mx.reduce(kind, t)


def add_broadcasts(m: mx.M) -> mx.M | None:
    """``x ⊙ 𝟏 + Y`` → ``x + Y`` where Y has the sum's shape and x broadcasts to it (of a
    tensor of three or more axes: (1/(B T)) ∂L/∂mu ⊙ 𝟏 + ∂L/∂N ⊙ g of mu: [1, C, 1]; of a
    matrix: sum(w)·P − wᵀ ⊙ 𝟏 is sum(w)·P − wᵀ): a sum broadcasts as NumPy's does, as ⊙
    does; the 𝟏 said the shape only alone."""
    if not isinstance(m, mx.Add):
        return None
    terms, changed = list(m.terms), False
    for n, t in enumerate(terms):
        body = t.x if isinstance(t, mx.Scale) else t
        # (a batched term, read per element, is its batch's elements: the whole tensor; of
        # group norm's [B, G, 1, 1] mean, (1/(Cg T)) ∂L/∂mu ⊙ 𝟏 is B×G elements' Cg×T 𝟏)
        batch = tuple(mx.batch_of(body))
        ones = [f for f in body.factors if isinstance(f, mx.Ones) and
                len(batch) + len(f.shape) >= 2] if isinstance(body, mx.Hadamard) else []
        if len(ones) != 1:
            continue
        rest = [u for k, u in enumerate(terms) if k != n]
        if mx.broadcast_shape([tuple(mx.batch_of(u)) + tuple(u.shape) for u in rest]) != \
                batch + tuple(ones[0].shape):
            continue
        assert isinstance(body, mx.Hadamard)
        kept = mx.hadamard(*[f for f in body.factors if not isinstance(f, mx.Ones)])
        # the term still stands for its index form's term (the index form prints its terms
        # in the matrix form's order)
        terms[n] = mx.with_src(mx.scale(t.coeff, kept) if isinstance(t, mx.Scale) else kept,
                               cast(Any, t).src)
        changed = True
    return mx.add(*terms) if changed else None


def merge_axis_sums(m: mx.M) -> mx.M | None:
    """``sum(g ⊙ sum(X, axis=1, keepdims=True), axis=2, keepdims=True)`` →
    ``sum(g ⊙ X, axis=(1, 2), keepdims=True)`` where ``g`` is 1 along axis 1 (a factor
    constant along a summed axis passes into its sum): nested sums over axes are one sum
    over all of them, as NumPy's ``axis=(1, 2)`` says."""
    if not (isinstance(m, mx.SumAxes) and m.keep):
        return None
    factors = list(m.x.factors) if isinstance(m.x, mx.Hadamard) else [m.x]
    inner = [f for f in factors if isinstance(f, mx.SumAxes) and f.keep]
    if len(inner) != 1:
        return None
    (s,) = inner
    rank = len(_shape(s.x))
    if len(_shape(m.x)) != rank or set(s.axes) & set(m.axes):
        return None
    rest = [f for f in factors if f is not s]
    for f in rest:
        aligned = (1,) * (rank - len(_shape(f))) + tuple(_shape(f))
        if len(_shape(f)) > rank or any(aligned[a] != 1 for a in s.axes):
            return None
    body = mx.hadamard(*rest, s.x) if rest else s.x
    if len(_shape(body)) != rank:
        return None
    return mx.SumAxes(body, tuple(sorted({*s.axes, *m.axes})), True, m.shape)


def reduce_of_ones(m: mx.M) -> mx.M | None:
    """``colsum(𝟏)`` of a B×D 𝟏 → ``B 𝟏`` (D ones), ``rowsum(𝟏)`` → ``D 𝟏``, ``sum(𝟏)`` → ``B D``:
    a 𝟏 takes its size from what it meets, and under a sum nothing says how long the summed
    axis is (∂L/∂w = colsum(𝟏) + colsum(X): no reader could tell how many rows)."""
    if not (isinstance(m, mx.Reduce) and isinstance(m.x, mx.Ones) and
            len(m.x.shape) == 2) or mx.batch_of(m):
        return None
    rows, cols = (_size(d) for d in m.x.shape)
    n = {ReduceKind.COLSUM: rows, ReduceKind.ROWSUM: cols}.get(m.kind, rows * cols)
    return mx.Const(n) if m.kind == ReduceKind.SUM else mx.scale(mx.Const(n), mx.Ones(m.shape))


def _size(dim: Any) -> Any:
    """A dim's size as SymPy has it: its name a positive integer Symbol (indexed.Ctx.sizes)."""
    return sympy.Symbol(dim, integer=True, positive=True) if isinstance(dim, str) \
        else sympy.Integer(dim)


def reduce_as_product(m: mx.M) -> mx.M | None:
    """``rowsum(A ⊙ vᵀ)`` → ``A v``, ``colsum(A ⊙ v)`` → ``Aᵀ v`` (a vector broadcast along the
    summed axis is a matrix-vector product); ``rowsum(Xᵀ)`` → ``colsum(X)``."""
    if not isinstance(m, mx.Reduce) or m.kind == ReduceKind.SUM:
        return None
    x = m.x
    if isinstance(x, mx.Transpose):
        return mx.reduce(ReduceKind.COLSUM if m.kind == ReduceKind.ROWSUM else ReduceKind.ROWSUM, x.x)
    if not (isinstance(x, mx.Hadamard) and len(x.factors) == 2 and len(x.shape) == 2):
        return None
    for a, v in (x.factors, x.factors[::-1]):
        if a.shape != x.shape or v.shape == x.shape:
            continue
        if m.kind == ReduceKind.ROWSUM and v.shape == (1, x.shape[1]):
            return mx.matmul(a, mx.transpose(v))
        if m.kind == ReduceKind.COLSUM and v.shape == (x.shape[0], 1):
            return mx.matmul(mx.transpose(a), v)
    return None


def reduce_of_sum_as_products(m: mx.M) -> mx.M | None:
    """``colsum(A ⊙ c + B ⊙ d)`` → ``Aᵀ c + Bᵀ d``: a row or column sum of a sum whose every
    term is a matrix times a vector broadcast along the summed axis is the sum of the
    matrix-vector products (the quadratic form (A x)ᵀ (W (A x)) read as Σ_j of one sum:
    colsum(A ⊙ (W A x) + (W A) ⊙ (A x)), which then factors: Aᵀ (W + Wᵀ) A x)."""
    parts = _parts_at_shape(m)
    if parts is None or cast(mx.Reduce, m).kind == ReduceKind.SUM or mx.batch_of(m):
        return None
    out = [_scaled(reduce_as_product, _reduce(cast(mx.Reduce, m).kind, t)) for t in parts]
    return None if any(p is None for p in out) else mx.add(*cast(list[mx.M], out))


def _scaled(rule: Callable[[mx.M], mx.M | None], t: mx.M) -> mx.M | None:
    """A rule applied under a term's scalar coefficient: −colsum(B ⊙ d) is −Bᵀ d."""
    if isinstance(t, mx.Scale):
        inner = _scaled(rule, t.x)
        return None if inner is None else mx.scale(t.coeff, inner)
    return rule(t)


def collect_terms(m: mx.M) -> mx.M | None:
    """``a + a`` → ``2 a``, ``2 a − a`` → ``a``: equal terms of a sum are one term."""
    if not isinstance(m, mx.Add):
        return None
    terms = [u for t in m.terms for u in _spread(t)]
    coeffs: dict[mx.M, Any] = {}
    for t in terms:
        c, body = _constant_and_body(t)
        coeffs[body] = coeffs.get(body, 0) + c
    if len(coeffs) == len(terms):
        return None
    # coefficients in dims added up are put over one factored denominator: 1/(N (N − 1)) +
    # 1/(N − 1) − 2 is −(2 N² − 3 N − 1)/(N (N − 1)), not a sum of fractions multiplied out
    return mx.add(*[mx.scale(mx.Const(_factored(c)), b) for b, c in coeffs.items() if c != 0])


def collect_scalar_factors(m: mx.M) -> mx.M | None:
    """``det(X)·X⁻ᵀ + 2 det(X)²·X⁻ᵀ`` → ``(det(X) + 2 det(X)²)·X⁻ᵀ``: terms of a sum of tensors
    that differ only in a scalar factor in front are one term (constant factors alone are
    :func:`collect_terms`'s)."""
    if not isinstance(m, mx.Add) or m.is_scalar:
        return None
    groups: dict[mx.M, list[mx.M]] = {}
    terms = [u for t in m.terms for u in _spread_scalar(t)]
    for t in terms:
        cs: list[mx.M] = []
        while isinstance(t, mx.Scale):  # 2 det(X)²·X⁻ᵀ is 2 (det(X)²·X⁻ᵀ)
            cs.append(t.coeff)
            t = t.x
        groups.setdefault(t, []).append(mx.scalar_product(cs) if cs else mx.ONE)
    if len(groups) == len(terms) or all(
            all(isinstance(c, mx.Const) for c in cs) for cs in groups.values() if len(cs) > 1):
        return None
    return mx.add(*[mx.scale(_signed_sum(cs), b) if len(cs) > 1 else mx.scale(cs[0], b)
                    for b, cs in groups.items()])


def _spread_scalar(t: mx.M) -> list[mx.M]:
    """A term ``s·(a + c·b)`` of a sum of tensors, ``s`` a scalar, as its terms ``s·a``,
    ``(s c)·b``: an HVP's ``d1·(A + t·B) + d2·(2 t·B − A)`` collects to ``(d1 − d2)·A + …``
    (the whole is kept only where it is smaller)."""
    cs: list[mx.M] = []
    body = t
    while isinstance(body, mx.Scale):  # 2 det(X)²·(…) is 2 (det(X)²·(…))
        cs.append(body.coeff)
        body = body.x
    if not cs or not isinstance(body, mx.Add) or body.is_scalar:
        return [t]
    c = mx.scalar_product(cs)
    return [mx.scale(c, u) for u in body.terms]


def _signed_sum(terms: list[mx.M]) -> mx.M:
    """A sum made by factoring, with its minus in front when every term has one:
    ``−(10 + 10 tp)``, not ``(−10 − 10 tp)``."""
    if all(_negative(t) for t in terms):
        return mx.neg(_sum_sorted([mx.neg(t) for t in terms]))
    return _sum_sorted(terms)


def make_common_factor(named: Named) -> Rule:
    """:func:`common_factor`, which leaves whole a product that is a forward node of
    ``named``: with P = softmax(Z, axis=0) ⊙ softmax(Z), ``2 ∂L/∂P ⊙ P − softmax(Z, axis=0) ⊙
    colsum(…)ᵀ`` keeps its P rather than lend it a factor."""
    def factor(m: mx.M) -> mx.M | None:  # (the products walked once, when a sum first needs them)
        return common_factor(m, _forward_forms(named).products)
    factor.__doc__ = make_common_factor.__doc__
    return factor


def common_factor(m: mx.M, products: Sequence[frozenset[mx.M]] = ()) -> mx.M | None:
    """``(S W1ᵀ) ⊙ r − (Y W1ᵀ) ⊙ r`` → ``(S W1ᵀ − Y W1ᵀ) ⊙ r`` (then ``((S − Y) W1ᵀ) ⊙ r``),
    ``2 det(X)²·tr(X⁻¹ Ẋ) − det(X⁻¹)·tr(X⁻¹ Ẋ)`` → ``(2 det(X)² − det(X⁻¹))·tr(X⁻¹ Ẋ)``: the
    elementwise or scalar factor most terms of a sum share (the costliest of those, the first
    of equals) is written once."""
    if not isinstance(m, mx.Add):
        return None
    lists = [_unlocked([(_shown(f), f) for f in _flat_factors(t)], products) for t in m.terms]
    seen: dict[mx.M, int] = {}
    first: dict[mx.M, mx.M] = {}
    for fs in lists:
        for k, f in dict.fromkeys(fs):
            seen[k] = seen.get(k, 0) + 1
            first.setdefault(k, f)
    shared = [k for k, n in seen.items() if n > 1 and (_worth_pulling(k) or
                                                       _shared_denominator(k, lists))]
    if not shared:
        return None
    best = max(shared, key=lambda k: (seen[k], cost(first[k])))  # max keeps the first of equals
    # a numerator stands for its term: the index form keeps the terms' order (y/(r + mu) +
    # r/(r + mu) − y/mu, not −y/mu + …)
    held = not _worth_pulling(best)
    inside: list[mx.M] = []
    out: list[mx.M | None] = []  # the factored term stands where its first term stood
    for t, fs in zip(m.terms, lists):
        hit = next((f for k, f in fs if k == best), None)
        if hit is None:
            out.append(t)
            continue
        if not inside:
            out.append(None)
        part = _without(t, hit)
        inside.append(replace(part, src=t.src) if held and t.src is not None else part)
    joined = _times(first[best], _signed_sum(inside))
    return mx.add(*[joined if t is None else t for t in out])


def _shown(m: mx.M) -> mx.M:
    """``m`` with each anonymous part replaced by the form it prints: ``softmax(_P_1)`` with
    _P_1 shown as ``X W1`` and ``_P_2`` shown as ``softmax(X W1)`` are one factor."""
    if isinstance(m, mx.Ref):
        return _shown(m.display) if m.kind == RefKind.ANON and isinstance(m.display, mx.M) \
            else m
    kids = m.children()
    new = [_shown(c) for c in kids]
    return m if all(a is b for a, b in zip(new, kids)) else rebuild(m, new)


def _unlocked(fs: list[tuple[mx.M, mx.M]], products: Sequence[frozenset[mx.M]]
              ) -> list[tuple[mx.M, mx.M]]:
    """A term's factors less those of a named product it holds whole."""
    keys = {k for k, _ in fs}
    held = {k for p in products if p <= keys for k in p}
    return [(k, f) for k, f in fs if k not in held]


def _worth_pulling(f: mx.M) -> bool:
    """A scalar, or an elementwise factor that is more than a name, a sum or a divisor: a
    reduction, a function (y ⊙ a − y ⊙ b and (1 − y) ⊙ a + (1 − y) ⊙ b stay as written:
    pulling them out mixes terms that came from different places, for a node or two)."""
    if f.is_scalar:
        return True
    plain = f.x if isinstance(f, mx.Transpose) else f
    # nor a divisor tensor: ⊘ n out of (e rowsum(V)) ⊘ n − 1 ⊘ n hides P rowsum(V) of
    # P = e ⊘ n, and in a deep chain the closed forms built on it outgrow the page
    if isinstance(plain, mx.Add):  # a long sum is more than a node or two: (2 W ⊙ (…) +
        # sign(M − C)) ⊙ a + (1/2) (2 W ⊙ (…) + sign(M − C)) ⊙ b writes it once
        return cost(plain) >= _LONG_SUM
    return not isinstance(plain, (mx.Ref, mx.Ones)) and not _negative_power(f)


_LONG_SUM = 10  # the cost from which a sum shared by terms is written once (1 − y costs 3)


def _shared_denominator(k: mx.M, lists: list[list[tuple[mx.M, mx.M]]]) -> bool:
    """A divisor every term that holds it divides one name by: ``y ⊘ (r + mu) + r ⊘ (r +
    mu)`` is ``(y + r) ⊘ (r + mu)``, one fraction (a divisor of longer products stays, as
    :func:`_worth_pulling` says)."""
    if not (isinstance(k, mx.Pow) and _negative_power(k)):
        return False
    return all(len(fs) == 2 and isinstance(next((f for g, f in fs if g != k), None), mx.Ref)
               for fs in lists if any(g == k for g, _ in fs))  # (k twice: no name over it)


def _times(a: mx.M, b: mx.M) -> mx.M:
    return mx.scalar_product([b, a]) if a.is_scalar and b.is_scalar else mx.hadamard(a, b)


def _flat_factors(t: mx.M) -> list[mx.M]:
    """The factors of an elementwise or scalar product, constants left out."""
    if isinstance(t, mx.Scale):
        return _flat_factors(t.coeff) + _flat_factors(t.x)
    if isinstance(t, mx.Hadamard):
        return [g for f in t.factors for g in _flat_factors(f)]
    return [] if isinstance(t, (mx.Const, mx.Ones)) else [t]


def _without(t: mx.M, f: mx.M) -> mx.M:
    """A product ``t`` with one factor ``f`` (one of :func:`_flat_factors`) taken out."""
    if t == f:
        return mx.ONE
    if isinstance(t, mx.Scale):
        if f in _flat_factors(t.coeff):
            return mx.scale(_without(t.coeff, f), t.x)
        return mx.scale(t.coeff, _without(t.x, f))
    assert isinstance(t, mx.Hadamard)
    k = next(k for k, g in enumerate(t.factors) if f in _flat_factors(g))
    parts = [*t.factors[:k], _without(t.factors[k], f), *t.factors[k + 1:]]
    return mx.scalar_product(parts) if t.is_scalar else mx.hadamard(*parts)


def _factored(c: Any) -> Any:
    """``c`` factored when it is a function of dims (a number stays as it is)."""
    return sympy.factor(c) if getattr(c, "free_symbols", None) else c


def batch_sums_collect(m: mx.M) -> mx.M | None:
    """``c A Σ_b v_b + Σ_b (−c A v_b)`` → ``0``: a constant and the plain (unbatched) left
    factors of a product come out of a sum over the batch, and the terms then collect."""
    if not isinstance(m, mx.Add) or not any(isinstance(n, mx.BatchSum) for n in m.terms
                                            for n in _scaled_body(n)):
        return None
    pulled = [_pull_out_of_batch(t) for t in m.terms]
    if pulled == list(m.terms):
        return None
    return collect_terms(mx.add(*pulled))


def _scaled_body(t: mx.M) -> list[mx.M]:
    return _scaled_body(t.x) if isinstance(t, mx.Scale) else [t]


def _pull_out_of_batch(t: mx.M) -> mx.M:
    """``Σ_b c A v_b`` as ``c A Σ_b v_b`` (``c`` a constant, ``A`` the same for every b)."""
    if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const):
        return mx.scale(t.coeff, _pull_out_of_batch(t.x))
    if not isinstance(t, mx.BatchSum):
        return t
    x, coeff = t.x, sympy.S.One
    while isinstance(x, mx.Scale) and isinstance(x.coeff, mx.Const):
        coeff, x = coeff * x.coeff.value, x.x
    chain = _chain(x)
    k = 0
    while k < len(chain) - 1 and not mx.batch_of(chain[k]):
        k += 1
    rest = _product(chain[k:])
    if mx.batch_of(rest) != t.dims:
        return t
    inner = mx.batch_sum(rest, t.dims, t.names)
    out = _product([*chain[:k], inner]) if k else inner
    return mx.scale(mx.Const(coeff), out) if coeff != 1 else out


def _spread(t: mx.M) -> list[mx.M]:
    """A term ``c (a + b)`` of a sum, ``c`` a constant, as its terms ``c a``, ``c b`` (so
    ``a − (a + b)`` collects to ``−b``); another term as itself."""
    if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const) and isinstance(t.x, mx.Add):
        return [mx.scale(t.coeff, u) for u in t.x.terms]
    return [t]


def _constant_and_body(t: mx.M) -> tuple[Any, mx.M]:
    if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const):
        c, body = _constant_and_body(t.x)
        return t.coeff.value * c, body
    if isinstance(t, mx.Const):  # 1 − 𝟏 is 0: a number and ones are one term
        return t.value, mx.ONE
    if isinstance(t, mx.Ones):
        return sympy.S.One, mx.ONE
    return sympy.S.One, t


def zero_operand(m: mx.M) -> mx.M | None:
    """``einsum('ijk,jk->ijk', 𝟏, 0)`` → ``0``, ``sum(0, axis=(0, 1))`` → ``0``: an einsum is
    linear in each operand and a sum of zeros is zero (a form written out in the forward nodes
    can cancel to zero inside one: softmax(logits ⊙ wᵀ) − p, where p names the softmax)."""
    if isinstance(m, mx.Einsum) and any(mx.is_zero(x) for x in m.operands):
        return mx.Const(sympy.S.Zero)
    if isinstance(m, (mx.SumAxes, mx.Reduce, mx.BatchSum)) and mx.is_zero(m.x):
        return mx.Const(sympy.S.Zero)
    return None


# -- rules: centred tensors ---------------------------------------------------------------------
#
# Normalisation layers subtract a mean: Xc = X − muᵀ with mu = (1/B) colsum(X).  The sums of a
# centred tensor along the mean's axis are zero, and so is every term of an adjoint that
# sums it there (the mean's own share in ∂var/∂X, the colsum of a term ∝ Xc in batch norm's
# ∂L/∂X): without this the known closed forms stay buried under terms that cancel.

Named = Sequence[tuple[mx.M, mx.M]]  # (a forward node's form, the node or its ᵀ): reuse.Named


class ForwardForms(tuple[tuple[mx.M, mx.M], ...]):
    """(a forward node's form, the node) pairs, in graph order, with the node -> form lookup
    built once: every simplification of every adjoint consults it, and built per call it
    would cost a pass over the graph each time (quadratic in the nodes in all)."""

    # the nodes whose form is another tensor's transpose (``Xt = X.T``, ``Z = Y.T``) -> that
    # tensor: no entry above (a name's form would only rename it), yet ``Xtᵀ`` is ``X``
    # (:func:`make_transposed_node`); set by reuse.reusable, empty for any other
    transposed: Mapping[mx.M, mx.M] = MappingProxyType({})

    @cached_property
    def forms(self) -> dict[mx.M, mx.M]:
        return {ref: form for form, ref in self}

    @cached_property
    def written_sums(self) -> frozenset[mx.M]:
        """The sums of products of matrices the forms write (Hp Wnᵀ + bnᵀ), as they stand
        (:func:`make_sum_as_written`)."""
        return frozenset(n for form, _ in self for n in mx.walk(form) if _product_sum(n))

    @cached_property
    def oriented(self) -> frozenset[Any]:
        """The arguments of the functions of products as the forms write them
        (:func:`make_transpose_inward`)."""
        return orientations(form for form, _ in self)

    # what a rule made for these forward nodes reads of all of them, made once too (the
    # rules are made again for every form simplified: a pass over the graph each)

    @cached_property
    def differences(self) -> frozenset[mx.M]:
        """Every difference the forms write (:func:`make_opposite`)."""
        return frozenset(n for form, _ in self for n in mx.walk(form) if _difference(n))

    @cached_property
    def written_differences(self) -> frozenset[mx.M]:
        """Every difference the forms write, not counting the negated forms a node is also
        read by (:func:`reuse.reusable`'s flipped ``x − m`` for ``d = m − x``):
        :func:`absorb_sign`."""
        return frozenset(n for form, ref in self if not mx.split_sign(ref)[0]
                         for n in mx.walk(form) if _difference(n))

    @cached_property
    def products(self) -> list[frozenset[mx.M]]:
        """The factors, as shown, of each form that is an elementwise product
        (:func:`make_common_factor`)."""
        return [p for p in (frozenset(_shown(f) for f in form.factors) for form, _ in self
                            if isinstance(form, mx.Hadamard)) if p]

    @cached_property
    def matmuls(self) -> dict[mx.M, mx.M]:
        """Each form that is a matrix product -> its node (:func:`make_row_sum_of_node`)."""
        return {form: ref for form, ref in self if isinstance(form, mx.MatMul)}

    @cached_property
    def softmaxes(self) -> frozenset[mx.M]:
        """The softmax each node written as one by hand is (``P = e / sum(e, axis=1,
        keepdims=True)`` of ``e = exp(X − m)``), written out to the inputs
        (:func:`make_softmax_by_hand`)."""
        out = set()
        for form, _ in self:
            if isinstance(form, (mx.Hadamard, mx.Scale, mx.Fn)):
                p = softmax_by_hand(self.written_out(form))
                if isinstance(p, mx.AxisFn):
                    out.add(p)
        return frozenset(out)

    def written_out(self, m: mx.M) -> mx.M:
        """``m`` with the nodes in it replaced by their forms, three levels deep."""
        for _ in range(3):
            new = mx.substitute_all(m, self.forms)
            if new == m:
                break
            m = new
        return m

    @cached_property
    def scaled_quotients(self) -> list[tuple[tuple[mx.M, mx.M, mx.Pow | None], mx.M]]:
        """((v, a, d), node) of each form ``vᵀ ⊙ a ⊙ d`` (:func:`make_product_reads_node`),
        the nodes it multiplies written out once: ``Y = Y₁ ⊙ wᵀ`` of ``Y₁ = X ⊘ r`` is
        ``wᵀ ⊙ X ⊘ r``, as ``Y = X / r * w`` on one line (issue 12), and is read as well
        as ``vᵀ ⊙ a`` with ``a = Y₁`` and no divisor (d None): an adjoint reads the node
        Y₁ where the spec names it, ``(G ⊙ Y₁) w`` for the one line's ``((G ⊙ X) w) ⊘ r``."""
        out: list[tuple[tuple[mx.M, mx.M, mx.Pow | None], mx.M]] = []
        for form, ref in self:
            parts = _scaled_quotient(form)
            if parts is None and (parts := _scaled_quotient(
                    _factors_written_out(form, self.forms))) is not None:
                assert isinstance(form, mx.Hadamard)
                rows = [f for f in form.factors if isinstance(f, mx.Transpose) and
                        f.x == parts[0]]
                nodes = [f for f in form.factors if f not in rows]
                if len(rows) == 1 and len(nodes) == 1 and isinstance(nodes[0], mx.Ref):
                    out.append(((parts[0], nodes[0], None), ref))
            if parts is not None:
                out.append((parts, ref))
        return out

    @cached_property
    def matmul_chains(self) -> dict[tuple[mx.M, ...], mx.M]:
        """The operands of each form that is a matrix product, however bracketed -> its node
        (the first of two with one form; :func:`_node_of_chain`)."""
        out: dict[tuple[mx.M, ...], mx.M] = {}
        for form, ref in self:
            if isinstance(form, mx.MatMul):
                out.setdefault(tuple(_chain(form)), ref)
        return out


def make_transposed_node(named: Named) -> Rule:
    """``Xtᵀ`` → ``X`` for a forward node ``Xt = X.T`` of ``named`` (``Zᵀ`` → ``Y`` for
    ``Z = Y.T``): the transpose of a node that is itself a transpose reads as the tensor it
    transposes, so ``trace(Xt @ A @ X)`` with ``Xt = X.T`` prints ``(A + Aᵀ) X``, as
    ``trace(X.T @ A @ X)`` on one line does (issue 12), not ``A X + Aᵀ Xtᵀ``.  The node itself
    keeps its name; a name is never written out again, so rewriting still ends."""
    transposed = _forward_forms(named).transposed

    def transposed_node(m: mx.M) -> mx.M | None:
        if isinstance(m, mx.Transpose):
            return transposed.get(m.x)
        return None
    transposed_node.__doc__ = make_transposed_node.__doc__
    CANONICAL_MADE.add(transposed_node)
    return transposed_node


def _forward_forms(named: Named) -> ForwardForms:
    return named if isinstance(named, ForwardForms) else ForwardForms(named)


def make_centred(named: Named) -> Rule:
    """The rule ``colsum(X − 𝟏 muᵀ)`` → ``0`` where ``mu = (1/B) colsum(X)`` (and ``rowsum``
    likewise), for the forward nodes ``named``: a centred tensor, a named one, or either times
    factors constant along the sum; NumPy's sums over axes too (``sum(X − mu, axis=(0, 1),
    keepdims=True)`` → 0 where mu is that mean, and ``sum(X, axis=(0, 1), keepdims=True) −
    (B T) mu`` in a sum)."""
    forms = (named if isinstance(named, ForwardForms) else ForwardForms(named)).forms

    def centred_sum(m: mx.M) -> mx.M | None:
        if isinstance(m, (mx.SumAxes, mx.Add)):
            return _centred_axes(m, forms)
        if not isinstance(m, mx.Reduce):
            return None
        kind = m.kind if m.kind != ReduceKind.SUM else _vector_sum(m.x)
        if kind is None:
            return None
        if _centred(kind, m.x, forms, 0) or _centred_turned(kind, m.x, forms):
            return mx.Const(sympy.S.Zero)
        if isinstance(m.x, mx.Add):  # the sum of the terms not centred
            kept = [t for t in m.x.terms if not _centred(kind, t, forms, 0)]
            if len(kept) < len(m.x.terms):
                return mx.reduce(m.kind, mx.add(*kept)) if kept else mx.Const(sympy.S.Zero)
        return None
    centred_sum.__doc__ = make_centred.__doc__
    return centred_sum


def make_sums_to_one(named: Named) -> Rule:
    """``colsum(P)`` → ``𝟏`` where ``P = softmax(A, axis=0)`` (``rowsum`` along axis 1, the
    sum of a vector's entries along its one axis), inline or a forward node of ``named``: a
    function its op table row says sums to one along its axis, summed along that axis."""
    forms = (named if isinstance(named, ForwardForms) else ForwardForms(named)).forms

    def sums_to_one(m: mx.M) -> mx.M | None:
        weighted = _weighting_one(m)
        if weighted is not None:
            return weighted
        summed = _summed(m)
        if summed is None or mx.batch_of(m):
            return None
        kind, v = summed
        x = forms.get(v, v) if isinstance(v, mx.Ref) else v
        if kind is None or not (isinstance(x, mx.AxisFn) and AXIS_OPS[x.head].sums_to_one) \
                or mx.batch_of(x) or len(x.arg_shape) not in (1, 2) or _shape(x) != _shape(v):
            return None
        axis = x.axis % len(x.arg_shape)  # a vector is a column: its one axis is the rows'
        if (axis == 0) != (kind == ReduceKind.COLSUM):
            return None
        return mx.Const(sympy.S.One) if m.is_scalar else mx.Ones(m.shape)
    def _weighting_one(m: mx.M) -> mx.M | None:
        """``a + (c + v)ᵀ p`` → ``(a + c) + pᵀ v`` for numbers a, c and a vector p that sums to
        one (the entropy of p = softmax(z) has p ⊙ (−1 + pᵀ (1 + log(p)) − log(p)), which is
        p ⊙ (pᵀ log(p) − log(p))); the numbers added up."""
        if not isinstance(m, mx.Add) or mx.batch_of(m):
            return None
        for k, term in enumerate(m.terms):
            c, t = (term.coeff, term.x) if isinstance(term, mx.Scale) and \
                isinstance(term.coeff, mx.Const) else (mx.ONE, term)
            if not (isinstance(t, mx.MatMul) and t.is_scalar):
                continue
            for left, (side, other) in enumerate(((t.a, t.b), (t.b, t.a))):
                u = side.x if isinstance(side, mx.Transpose) else side
                p = other.x if isinstance(other, mx.Transpose) else other
                if not (isinstance(u, mx.Add) and _is_vector(_shape(p)) and
                        sums_to_one(mx.reduce(ReduceKind.SUM, p)) is not None):
                    continue
                numbers = [mx.scale(c, n) for x in u.terms if (n := _number_of(x)) is not None]
                if not numbers or len(numbers) == len(u.terms):
                    continue
                rest = mx.add(*[x for x in u.terms if _number_of(x) is None])
                # the sum's place taken by the rest, as it stood (the other operand unmoved):
                # P (1 + log(Pᵀ)) of a row P is P log(Pᵀ), never log(Pᵀ) Pᵀ
                rest = mx.transpose(rest) if isinstance(side, mx.Transpose) else rest
                same = mx.matmul(rest, other) if left == 0 else mx.matmul(other, rest)
                if not same.is_scalar:
                    continue
                # and of it and its transpose (one number) the shorter: pᵀ log(p), not
                # log(p)ᵀ p
                inner = mx.scale(c, min((same, transpose_deep(same)), key=cost))
                terms = [inner if j == k else x for j, x in enumerate(m.terms)] + numbers
                value = sum((x.value for x in terms if isinstance(x, mx.Const)), sympy.S.Zero)
                kept = [x for x in terms if not isinstance(x, mx.Const)]
                return mx.add(*kept, *([mx.Const(value)] if value != 0 else []))
        return None
    sums_to_one.__doc__ = make_sums_to_one.__doc__
    return sums_to_one


def _summed(m: mx.M) -> tuple[ReduceKind | None, mx.M] | None:
    """What ``m`` sums and along which axis (a column sum runs down the rows): a reduction,
    or a product with ones (``Pᵀ 𝟏`` and ``𝟏ᵀ P`` down the rows, ``P 𝟏`` along them)."""
    if isinstance(m, mx.Reduce):
        return (m.kind if m.kind != ReduceKind.SUM else _vector_sum(m.x)), m.x
    if not isinstance(m, mx.MatMul):
        return None
    if isinstance(m.b, mx.Ones):
        a = m.a
        return (ReduceKind.COLSUM, a.x) if isinstance(a, mx.Transpose) else \
            (ReduceKind.ROWSUM, a)
    a = m.a.x if isinstance(m.a, mx.Transpose) else m.a
    return (ReduceKind.COLSUM, m.b) if isinstance(a, mx.Ones) else None


def _centred_axes(m: mx.M, forms: dict[mx.M, mx.M]) -> mx.M | None:
    """``sum(X − mu, axis=(0, 1), keepdims=True)`` → 0 where ``mu = (1/(B T)) sum(X, axis=(0,
    1), keepdims=True)``; and in a sum, ``sum(X, axis=(0, 1), keepdims=True) − (B T) mu`` → 0
    (the node met as many times its own sum)."""
    if isinstance(m, mx.SumAxes):
        if not (m.keep and isinstance(m.x, mx.Add) and len(m.x.terms) == 2):
            return None
        for x, t in (m.x.terms, m.x.terms[::-1]):
            neg, mu = mx.split_sign(t)
            mean = forms.get(mu) if neg and isinstance(mu, mx.Ref) else None
            c, body = _constant_and_body(mean) if mean is not None else (None, None)
            if body == mx.SumAxes(x, m.axes, True, m.shape) and \
                    sympy.simplify(c * _count(x, m.axes) - 1) == 0:
                return mx.Const(sympy.S.Zero)
        return None
    assert isinstance(m, mx.Add)
    for n, t in enumerate(m.terms):
        k, mu = _constant_and_body(t)
        mean = forms.get(mu) if isinstance(mu, mx.Ref) else None
        if mean is None:
            continue
        c, body = _constant_and_body(mean)
        if not isinstance(body, mx.SumAxes):
            continue
        for j, u in enumerate(m.terms):
            k2, b2 = _constant_and_body(u)
            if j != n and b2 == body and sympy.simplify(k2 + k * c) == 0:
                kept = [v for i, v in enumerate(m.terms) if i not in (n, j)]
                return mx.add(*kept) if kept else mx.Const(sympy.S.Zero)
    return None


def _count(x: mx.M, axes: tuple[int, ...]) -> Any:
    """How many elements of ``x`` a sum over its spec ``axes`` adds up: the dims' product."""
    full = tuple(mx.batch_of(x)) + tuple(_shape(x))
    out: Any = sympy.S.One
    for a in axes:
        d = full[a]
        out *= sympy.Symbol(d, integer=True, positive=True) if isinstance(d, str) else d
    return out


def _number_of(t: mx.M) -> mx.M | None:
    """The number ``c`` a term of a vector's sum is (c, or c 𝟏), else None."""
    if t.is_scalar:
        return t
    if isinstance(t, mx.Ones):
        return mx.Const(sympy.S.One)
    if isinstance(t, mx.Scale) and isinstance(t.x, mx.Ones):
        return t.coeff
    return None


def _vector_sum(x: mx.M) -> ReduceKind | None:
    """The sum of a column's entries is its column sum, of a row's its row sum (``sum(d)``
    of ``d = x − m``, m the mean of the vector x, is as centred as ``colsum``)."""
    shape = _shape(x)
    if len(shape) != 2 or mx.batch_of(x) or shape[0] == shape[1] == 1:
        return None
    if shape[1] == 1:
        return ReduceKind.COLSUM
    return ReduceKind.ROWSUM if shape[0] == 1 else None


def _centred(kind: ReduceKind, x: mx.M, forms: dict[mx.M, mx.M], depth: int) -> bool:
    """Whether ``kind(x)`` is zero because ``x`` is centred along the summed axis."""
    if depth > 8:  # forward forms refer to earlier nodes only; this only bounds the work
        return False
    if isinstance(x, mx.Ref):
        return x in forms and _centred(kind, forms[x], forms, depth + 1)
    if isinstance(x, mx.Scale):
        return _centred(kind, x.x, forms, depth)
    if isinstance(x, mx.Hadamard):
        along = 0 if kind == ReduceKind.COLSUM else 1  # the axis the sum runs along
        return any(_centred(kind, f, forms, depth) and
                   all(g is f or g.is_scalar or _shape(g)[along] == 1 for g in x.factors)
                   for f in x.factors)
    if isinstance(x, mx.Add):
        for n, t in enumerate(x.terms):
            neg, body = mx.split_sign(t)
            arg = _mean_of(kind, body, forms) if neg else None
            if arg is not None and mx.add(*(x.terms[:n] + x.terms[n + 1:])) == arg:
                return True
    return False


def _centred_turned(kind: ReduceKind, x: mx.M, forms: dict[mx.M, mx.M]) -> bool:
    """Whether ``kind(x)`` is zero because ``xᵀ`` is centred along the other axis:
    rowsum(Xᵀ − mu) of a column mean mu = (1/B) colsum(X) is colsum(X − muᵀ)ᵀ, zero (a
    centred difference C = X − mu written out in (X − mu)ᵀ reads so)."""
    if kind not in (ReduceKind.ROWSUM, ReduceKind.COLSUM) or len(_shape(x)) != 2 or \
            not any(isinstance(n, mx.Transpose) for n in mx.walk(x)):
        return False
    other = ReduceKind.COLSUM if kind == ReduceKind.ROWSUM else ReduceKind.ROWSUM
    turned = transpose_deep(x)
    return not isinstance(turned, mx.Transpose) and _centred(other, turned, forms, 0)


def _mean_of(kind: ReduceKind, v: mx.M, forms: dict[mx.M, mx.M]) -> mx.M | None:
    """``X`` when ``v`` is the mean of ``X`` by ``kind``, broadcast along that axis (muᵀ or
    𝟏 muᵀ for a column mean, mu or mu 𝟏ᵀ for a row mean), else None."""
    if _shape(v) == ():  # a scalar broadcast: the mean of a vector's entries
        v = forms.get(v, v) if isinstance(v, mx.Ref) else v
        if isinstance(v, mx.Scale) and isinstance(v.coeff, mx.Const) and \
                isinstance(v.x, mx.Reduce) and v.x.kind == ReduceKind.SUM:
            return _mean_of_vector(kind, v.coeff.value, v.x.x)
        return None
    c: Any = sympy.S.One  # the mean inline, its number outside: (1/B) colsum(X)ᵀ of X − mean(X, axis=0)
    if isinstance(v, mx.Scale) and isinstance(v.coeff, mx.Const):
        c, v = v.coeff.value, v.x
    if kind == ReduceKind.COLSUM:
        if isinstance(v, mx.MatMul) and isinstance(v.a, mx.Ones):
            v = v.b
        if not isinstance(v, mx.Transpose):
            return None
        v = v.x
    elif isinstance(v, mx.MatMul) and isinstance(v.b, mx.Ones):
        v = v.a
    if isinstance(v, mx.Ref) and v in forms:
        v = forms[v]
    if isinstance(v, mx.Scale) and isinstance(v.coeff, mx.Const):
        c, v = c * v.coeff.value, v.x
    if isinstance(v, mx.Reduce) and v.kind == kind and c != 1:
        a = v.x
        dim = mx.rows(a) if kind == ReduceKind.COLSUM else mx.cols(a)
        # a dim's size is its name as a positive integer Symbol (indexed.Ctx.sizes)
        n = sympy.Symbol(dim, integer=True, positive=True) if isinstance(dim, str) else dim
        return a if sympy.simplify(c * n - 1) == 0 else None
    return None


def _mean_of_vector(kind: ReduceKind, c: Any, a: mx.M) -> mx.M | None:
    """``a`` when ``c·sum(a)`` is the mean of ``a``, a vector along ``kind``'s axis (a column
    for a column sum): the mean of all its entries is the mean along that axis."""
    shape = _shape(a)
    if len(shape) != 2 or shape[1 if kind == ReduceKind.COLSUM else 0] != 1:
        return None
    dim = shape[0 if kind == ReduceKind.COLSUM else 1]
    n = sympy.Symbol(dim, integer=True, positive=True) if isinstance(dim, str) else dim
    return a if sympy.simplify(c * n - 1) == 0 else None


# -- rules: transposes --------------------------------------------------------------------------


def inverse_of_inverse(m: mx.M) -> mx.M | None:
    """``(A⁻¹)⁻¹`` → ``A``, the inner inverse written inline or on its own line."""
    if not (isinstance(m, mx.AxisFn) and AXIS_OPS[m.head].inverse):
        return None
    x = m.x.display if isinstance(m.x, mx.Ref) and isinstance(m.x.display, mx.M) else m.x
    if isinstance(x, mx.AxisFn) and AXIS_OPS[x.head].inverse:
        return x.x
    return None


def inverse_times_matrix(m: mx.M, forms: Mapping[mx.M, mx.M] | None = None,
                         symmetric: frozenset[str] = frozenset()) -> mx.M | None:
    """``… A⁻¹ A …`` → ``… …`` (and ``A A⁻¹``): a matrix next to its inverse in a product;
    with ``forms`` (forward node -> its form) also a node ``Y = A⁻¹`` next to ``A``, and the
    inverse of a node ``P = X Y`` of square factors beside one of them (``P⁻ᵀ Yᵀ`` is X⁻ᵀ);
    with the ``symmetric`` inputs, ``Aᵀ`` inside the inverse meets ``A`` beside it
    (``A (A X B)⁻ᵀ B`` is X⁻ᵀ for symmetric A, B: Cookbook 2.1.4)."""
    if not isinstance(m, mx.MatMul):
        return None
    factors = _factors(m)
    for n, a in enumerate(factors):
        inner = _inverse_of(a, forms)
        if inner is None:
            continue
        # the inverse of a product meets that product: (X A)⁻¹ X A, Aᵀ Xᵀ (X A)⁻ᵀ, the
        # product written inline or an anonymous part (X⁻¹ (X B) is B)
        k = len(matrix := _factors(inner))
        for lo, hi in ((n, n + 1 + k), (n - k, n + 1)):
            if lo >= 0 and factors[lo:n] + factors[n + 1:hi] == matrix:
                rest = factors[:lo] + factors[hi:]
                return _product(rest) if rest else mx.Eye(mx.rows(a), (mx.rows(a), mx.rows(a)))
        part = _inverse_meets_part(factors, n, a, matrix)
        if part is None and (forms or symmetric):
            seen = _as_read(matrix, forms, symmetric)
            if seen != matrix:
                part = _inverse_meets_part(_as_read(factors, None, symmetric), n, a, seen)
        if part is not None:
            return part
    return None


def _as_read(fs: list[mx.M], forms: Mapping[mx.M, mx.M] | None,
             symmetric: frozenset[str]) -> list[mx.M]:
    """The factors ``fs`` of a product with a lone forward node that is a matrix product
    written as its factors (``Pᵀ`` of ``P = X Y`` as ``Yᵀ Xᵀ``) and the transposes of
    symmetric inputs dropped (``Aᵀ`` is A)."""
    if forms and len(fs) == 1:
        f = fs[0]
        turned = isinstance(f, mx.Transpose)
        node = f.x if isinstance(f, mx.Transpose) else f
        form = forms.get(node) if isinstance(node, mx.Ref) else None
        if isinstance(form, mx.MatMul):
            fs = _factors(mx.transpose(form) if turned else form)
    return [f.x if isinstance(f, mx.Transpose) and is_symmetric(f.x, symmetric) else f
            for f in fs]


def _inverse_meets_part(factors: list[mx.M], n: int, a: mx.M, matrix: list[mx.M]
                        ) -> mx.M | None:
    """``(X X)⁻ᵀ Xᵀ`` → ``(Xᵀ)⁻¹``: the inverse of a product of square matrices of one size
    (each invertible, as their product is) beside the first or last of them:
    (F1 … Fk)⁻¹ F1 … Fj = (Fj+1 … Fk)⁻¹ and Fj … Fk (F1 … Fk)⁻¹ = (F1 … Fj−1)⁻¹."""
    fn = _display(a.x) if isinstance(a, mx.Transpose) else a
    k = len(matrix)
    if not isinstance(fn, mx.AxisFn) or k < 2 or mx.batch_of(a) or \
            any(len(_shape(f)) != 2 or _shape(f) != _shape(matrix[0]) for f in matrix) or \
            _shape(matrix[0])[0] != _shape(matrix[0])[1]:
        return None

    def inverse(fs: list[mx.M]) -> mx.M:
        p = _product(fs)
        return mx.AxisFn(fn.head, p, fn.axis, _shape(p), _shape(p))
    for j in range(k - 1, 0, -1):  # the longest part first
        if factors[n + 1:n + 1 + j] == matrix[:j]:
            return _product(factors[:n] + [inverse(matrix[j:])] + factors[n + 1 + j:])
        if n - j >= 0 and factors[n - j:n] == matrix[k - j:]:
            return _product(factors[:n - j] + [inverse(matrix[:k - j])] + factors[n + 1:])
    return None


def _factors(m: mx.M) -> list[mx.M]:
    """The factors of a matrix product, anonymous parts read as the forms they print, and a
    transposed product as its factors' transposes in reverse order."""
    m = _display(m)
    if isinstance(m, mx.Transpose) and isinstance(_display(m.x), mx.MatMul):
        return [mx.transpose(f) for f in reversed(_factors(m.x))]
    if isinstance(m, mx.MatMul):
        return [g for f in _chain(m) for g in _factors(f)]
    return [m]


def _inverse_of_transposed(m: mx.M) -> mx.M | None:
    """``A`` when ``m`` is ``(Aᵀ)⁻¹`` (the argument inline or an anonymous part)."""
    if isinstance(m, mx.AxisFn) and AXIS_OPS[m.head].inverse and AXIS_OPS[m.head].text_t \
            and len(m.shape) == 2 and not mx.batch_of(m):
        x = _display(m.x)
        if isinstance(x, mx.Transpose):
            return x.x
    return None


def inverse_of_transpose(m: mx.M) -> mx.M | None:
    """``(Aᵀ)⁻¹`` → ``A⁻ᵀ``: the inverse of a transpose is the transposed inverse, written
    as one symbol (the Matrix Cookbook's spelling)."""
    a = _inverse_of_transposed(m)
    if a is None or not isinstance(m, mx.AxisFn):
        return None
    return mx.Transpose(mx.AxisFn(m.head, a, m.axis, m.arg_shape, _shape(a)), _shape(m))


def of_transpose(m: mx.M) -> mx.M | None:
    """``det(Aᵀ)`` → ``det(A)`` (and log det): a function its op table row says is the same
    at a matrix's transpose, of a transpose inline or an anonymous part."""
    if isinstance(m, mx.AxisFn) and AXIS_OPS[m.head].transpose_free and not mx.batch_of(m):
        x = _display(m.x)
        if isinstance(x, mx.Transpose) and AXIS_OPS[m.head].same_at_transpose(x.shape):
            return mx.AxisFn(m.head, x.x, m.axis, _shape(x.x), m.shape)
    return None


def make_inverse_times(named: Named, symmetric: frozenset[str] = frozenset()) -> Rule:
    """:func:`inverse_times_matrix` that also knows the forward nodes ``named`` that are
    inverses: with ``Y = inv(X)`` on its own line, ``Yᵀ Xᵀ`` is 𝐈 as ``X⁻ᵀ Xᵀ`` is inline;
    ``symmetric`` names the spec's symmetric inputs, whose transposes the rule reads as the
    inputs themselves when it meets an inverse of a product (``A (A X B)⁻ᵀ B`` is ``X⁻ᵀ``)."""
    forms = _forms(named)

    def inverse_times(m: mx.M) -> mx.M | None:
        return inverse_times_matrix(m, forms, symmetric)
    inverse_times.__doc__ = make_inverse_times.__doc__
    return inverse_times


def make_row_sum_of_node(named: Named) -> Rule:
    """``A rowsum(M)`` → ``rowsum(Z)`` where ``Z = A M`` is a forward node of ``named``: a
    product with a row sum (``M 𝟏``) is the row sum of the product, and that product may be
    a node (the Gaussian likelihood's ``S⁻¹ rowsum(Xᵀ − mu)`` is ``rowsum(Z)`` for
    ``Z = solve(S, (X - mu).T)``, as it is with the difference on its own line); and
    ``rowsum(A ⊙ (B Cᵀ))`` → ``rowsum(B ⊙ Z)`` where ``Z = A C`` is one."""
    nodes = _forward_forms(named).matmuls
    runs = _forward_forms(named).matmul_chains

    def row_sum_of_node(m: mx.M) -> mx.M | None:
        if not (nodes and isinstance(m, mx.MatMul) and isinstance(m.b, mx.Reduce) and
                m.b.kind == ReduceKind.ROWSUM) or mx.batch_of(m):
            return None
        ref = nodes.get(mx.matmul(m.a, m.b.x))
        return None if ref is None else mx.reduce(ReduceKind.ROWSUM, ref)

    def row_sum_through_node(m: mx.M) -> mx.M | None:
        # rowsum(A ⊙ (B Cᵀ)) = rowsum(B ⊙ (A C)): Σ_j A_ij Σ_l B_il C_jl, summed the other
        # way, when A C is a node (attention's rowsum(softmax(S) ⊙ (G Vᵀ)) is rowsum(G ⊙ O)
        # for O = softmax(S) V, as it is with P = softmax(S) on its own line); per batch
        # element too, and A C may be a node of nodes however bracketed (Z = O Wo of
        # O = P V: rowsum(P ⊙ (G Woᵀ Vᵀ)) is rowsum(G ⊙ Z)); colsum(Aᵀ ⊙ (C Bᵀ)) is
        # rowsum(A ⊙ (B Cᵀ)), as the index form may read it back
        if not (isinstance(m, mx.Reduce) and m.kind in (ReduceKind.ROWSUM, ReduceKind.COLSUM)
                and isinstance(m.x, mx.Hadamard) and len(m.x.factors) == 2):
            return None
        factors = m.x.factors if m.kind == ReduceKind.ROWSUM else \
            tuple(mx.transpose(f) for f in m.x.factors)
        for a, bc in (factors, factors[::-1]):
            if not (isinstance(bc, mx.MatMul) and a.shape == bc.shape):
                continue
            chain = _chain(bc)
            for k in range(1, len(chain)):  # B = chain[:k], Cᵀ = chain[k:]
                c = [mx.transpose(f) for f in reversed(chain[k:])]
                if not any(isinstance(f, mx.Transpose) for f in chain[k:]):
                    continue
                ref = _node_of_chain([*_chain(a), *c], runs)
                b = _product(chain[:k])
                if ref is not None and ref.shape == b.shape:
                    return mx.reduce(ReduceKind.ROWSUM, mx.hadamard(b, ref))
        return None

    def row_sum_of_node_either(m: mx.M) -> mx.M | None:
        if not nodes:
            return None
        return row_sum_of_node(m) if isinstance(m, mx.MatMul) else row_sum_through_node(m)
    row_sum_of_node_either.__doc__ = make_row_sum_of_node.__doc__
    return row_sum_of_node_either


def _node_of_chain(chain: list[mx.M], runs: Mapping[tuple[mx.M, ...], mx.M]) -> mx.M | None:
    """The node that the product ``chain`` is, its runs read as nodes (longest first) until
    one node is left: ``P V Wo`` is ``Z`` for ``O = P V`` and ``Z = O Wo``; None if it is none."""
    chain = list(chain)
    while len(chain) > 1:
        hit = next(((i, n) for n in range(len(chain), 1, -1) for i in range(len(chain) - n + 1)
                    if tuple(chain[i:i + n]) in runs), None)
        if hit is None:
            return None
        i, n = hit
        chain[i:i + n] = [runs[tuple(chain[i:i + n])]]
    only = chain[0]
    return only if only in runs.values() else None


def _inverse_of(m: mx.M, forms: Mapping[mx.M, mx.M] | None = None) -> mx.M | None:
    """``A`` when ``m`` is ``A⁻¹`` (written inline, on its own line as an anonymous part, or
    a forward node of ``forms``), ``Aᵀ`` when it is A⁻ᵀ."""
    if isinstance(m, mx.Transpose):
        inner = _inverse_of(m.x, forms)
        return None if inner is None else mx.transpose(inner)
    x = m.display if isinstance(m, mx.Ref) and isinstance(m.display, mx.M) else m
    if forms and isinstance(x, mx.Ref) and x in forms:
        x = forms[x]
    if isinstance(x, mx.AxisFn) and AXIS_OPS[x.head].inverse:
        # the argument may be an anonymous part too: inv(X.T) inverts Xᵀ, printed inline
        return _display(x.x)
    return None


def _display(m: mx.M) -> mx.M:
    """An anonymous part as the form it prints (``Xᵀ`` for ``X.T``), anything else as is."""
    if isinstance(m, mx.Ref) and m.kind == RefKind.ANON and isinstance(m.display, mx.M):
        return _display(m.display)
    return m


def make_distribute(rules: Sequence[Rule], named: Named) -> Rule:
    """``Yᵀ (c·X + b aᵀ)ᵀ Yᵀ`` → ``c·Yᵀ + Yᵀ a bᵀ Yᵀ`` for ``Y = X⁻¹``: a product with an
    inverse among its factors is multiplied out over a sum among them when the terms then
    shrink under ``rules`` (the inverse meets its matrix); kept, as every rewrite, only if
    the whole costs less.  Only there: multiplying out elsewhere only grows a form."""
    forms = _forms(named)

    def distribute(m: mx.M) -> mx.M | None:
        if not isinstance(m, mx.MatMul) or mx.batch_of(m):
            return None
        chain = _chain(m)
        if not any(_inverse_of(f, forms) is not None for f in chain):
            return None
        for k, f in enumerate(chain):
            terms = _sum_terms(f)
            if terms is None:
                continue
            out = [_pass(_product([*chain[:k], t, *chain[k + 1:]]), rules) for t in terms]
            # a term left 𝐈 met its inverse inside part of a longer product: the whole one
            # multiplied out says it without the 𝐈 (c·Yᵀ, not Yᵀ (c·𝐈 + …))
            if not any(isinstance(n, mx.Eye) for t in out for n in mx.walk(t)):
                return mx.add(*out)
        return None
    distribute.__doc__ = make_distribute.__doc__
    return distribute


def _sum_terms(f: mx.M) -> list[mx.M] | None:
    """The terms of a sum, or of a transposed sum each transposed; None for other factors."""
    if isinstance(f, mx.Add):
        return list(f.terms)
    if isinstance(f, mx.Transpose) and isinstance(f.x, mx.Add):
        return [mx.transpose(t) for t in f.x.terms]
    return None


def _forms(named: Named) -> dict[mx.M, mx.M]:
    """Each forward node (and its transpose) -> its form."""
    return (named if isinstance(named, ForwardForms) else ForwardForms(named)).forms


def is_symmetric(m: mx.M, names: frozenset[str]) -> bool:
    """Whether ``m`` is its own transpose because the tensors ``names`` are, or by its
    form: one of them, the inverse of a symmetric matrix (an spd S has S⁻ᵀ = S⁻¹), a product
    read the same both ways (Xᵀ X, X S Xᵀ with S symmetric), a sum of terms that are each
    symmetric or come with their transpose (A + Aᵀ): (Xᵀ X)⁻ᵀ is (Xᵀ X)⁻¹."""
    if isinstance(m, mx.Ref) and m.display is not None:  # an anonymous intermediate
        return is_symmetric(m.display, names)
    if isinstance(m, mx.Ref):
        return m.kind == "tensor" and m.name in names
    if isinstance(m, mx.AxisFn) and AXIS_OPS[m.head].inverse:
        return is_symmetric(m.x, names)
    if isinstance(m, mx.MatMul):
        return _mirrored(m, lambda c: is_symmetric(c, names))
    if isinstance(m, mx.Add):
        alone = [t for t in m.terms if not is_symmetric(t, names)]
        return Counter(alone) == Counter(mx.transpose(t) for t in alone)
    if isinstance(m, mx.Scale):
        return is_symmetric(m.x, names)
    return False


def _mirrored(m: mx.MatMul, middle: Callable[[mx.M], bool]) -> bool:
    """Whether the product ``m`` reads the same both ways round (Xᵀ X, Wᵀ D W), its middle
    factor, if any, passing ``middle``."""
    chain = _chain(m)
    n = len(chain)
    return all(chain[k] == mx.transpose(chain[n - 1 - k]) for k in range(n // 2)) and \
        (n % 2 == 0 or middle(chain[n // 2]))


def shows_symmetric(m: mx.M, names: frozenset[str] = frozenset()) -> bool:
    """Whether the square form ``m`` reads as its own transpose (:func:`is_symmetric`), the
    identity, a diagonal matrix, a number times or an elementwise product of such, and a sum
    of such and of pairs ``u vᵀ + v uᵀ`` too: a Hessian block printed so shows its symmetry
    (``a bᵀ + b aᵀ``, not ``a bᵀ + (b − c a) aᵀ``)."""
    if len(m.shape) == 2 and m.shape[0] != m.shape[1]:
        return False
    if m.is_scalar or isinstance(m, (mx.Eye, mx.Diag, mx.Ones)):
        return True
    if isinstance(m, mx.Scale):
        return m.coeff.is_scalar and shows_symmetric(m.x, names)
    if isinstance(m, mx.Hadamard):
        return all(shows_symmetric(f, names) for f in m.factors)
    if isinstance(m, mx.Pow):
        return shows_symmetric(m.x, names)
    if isinstance(m, mx.MatMul):  # Wᵀ diag(d) W
        return _mirrored(m, lambda c: shows_symmetric(c, names))
    if isinstance(m, mx.Add):
        alone = [t for t in m.terms if not shows_symmetric(t, names)]
        return Counter(alone) == Counter(transpose_deep(t) for t in alone)
    return is_symmetric(m, names)


def make_symmetric(names: frozenset[str]) -> Rule:
    """The rule ``Aᵀ`` → ``A`` for the inputs declared symmetric (and ``A⁻ᵀ`` → ``A⁻¹``)."""
    def symmetric(m: mx.M) -> mx.M | None:
        if isinstance(m, mx.Transpose) and is_symmetric(m.x, names):
            return m.x
        return None
    symmetric.__doc__ = make_symmetric.__doc__
    return symmetric



def make_reduce_of_product(names: frozenset[str]) -> Rule:
    """``rowsum(A B)`` → ``A rowsum(B)`` (A B 𝟏 is A (B 𝟏)) and, for a symmetric B (the
    inputs ``names`` declare so, S⁻¹ of an spd S), ``colsum(A B)`` → ``B colsum(A)``: the sum
    taken before the product, as a textbook writes −S⁻¹ Σ_b (x_b − μ) (the Gaussian's
    ∂L/∂μ, −colsum(D S⁻¹) written one line, −rowsum(S⁻¹ Dᵀ) split: both −S⁻¹ colsum(D)).
    A matrix times a vector: fewer FLOPs, never a larger form."""
    def reduce_of_product(m: mx.M) -> mx.M | None:
        if not (isinstance(m, mx.Reduce) and m.kind != ReduceKind.SUM and
                isinstance(m.x, mx.MatMul)) or mx.batch_of(m):
            return None
        a, b = m.x.a, m.x.b
        if len(_shape(a)) != 2 or len(_shape(b)) != 2 or 1 in _shape(a) or 1 in _shape(b):
            return None  # (a vector's sum is its own rule's: inner products, outer ones)
        if m.kind == ReduceKind.ROWSUM:
            return mx.matmul(a, mx.reduce(ReduceKind.ROWSUM, b))
        if is_symmetric(b, names):
            return mx.matmul(b, mx.reduce(ReduceKind.COLSUM, a))
        return None
    reduce_of_product.__doc__ = make_reduce_of_product.__doc__
    CANONICAL_MADE.add(reduce_of_product)
    return reduce_of_product


def double_transpose(m: mx.M) -> mx.M | None:
    """``(xᵀ)ᵀ`` → ``x``."""
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.Transpose):
        return mx.with_src(m.x.x, m.src)
    return None


def transpose_inward(m: mx.M) -> mx.M | None:
    """``σ'(W Xᵀ + b 𝟏ᵀ)ᵀ`` → ``σ'(X Wᵀ + 𝟏 bᵀ)``: a function of a transposed pre-activation
    (a product inside) is the function of the pre-activation turned the natural way, never
    one with more transposed matrices inside: ``relu(X W)ᵀ`` stays, not ``relu(Wᵀ Xᵀ)``."""
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.Fn) and \
            any(isinstance(n, mx.MatMul) for n in mx.walk(m.x)):
        turned = transpose_deep(m.x)  # which keeps σ(X W)ᵀ as it is
        return None if turned == m or mx.adds_preactivation_transposes(m.x, turned) else turned
    return None


def make_transpose_inward(named: Named) -> Rule:
    """:func:`transpose_inward` where the forward pass did not write the function's argument
    the way it stands: ``σ(X Wᵀ)ᵀ`` stays where a line wrote ``sigmoid(X @ W.T)`` (the turn
    keeps the number of transposes, and σ(W Xᵀ) beside σ(X Wᵀ) in one form reads as two
    things)."""
    oriented = _forward_forms(named).oriented

    def inward(m: mx.M) -> mx.M | None:
        if oriented and isinstance(m, mx.Transpose) and isinstance(m.x, mx.Fn) and \
                as_written(m.x.x, oriented):
            return None
        return transpose_inward(m)
    inward.__doc__ = make_transpose_inward.__doc__
    return inward


def make_sum_as_written(named: Named) -> Rule:
    """``(Wn Hpᵀ + bn)ᵀ`` → ``Hp Wnᵀ + bnᵀ`` where a forward form writes the sum that way
    round (a GRU's candidate gate r ⊙ (Hp @ Wn.T + bn)): the closed forms through ∂L/∂r
    printed it turned, beside ∂L/∂r's own Hp Wnᵀ + bnᵀ."""
    written = _forward_forms(named).written_sums

    def sum_as_written(m: mx.M) -> mx.M | None:
        if not (written and isinstance(m, mx.Transpose) and _product_sum(m.x)):
            return None
        turned = transpose_deep(m.x)
        return turned if turned in written else None
    sum_as_written.__doc__ = make_sum_as_written.__doc__
    CANONICAL_MADE.add(sum_as_written)
    return sum_as_written


def _product_sum(n: mx.M) -> bool:
    """Whether ``n`` is a sum of matrices with a product of matrices among its terms."""
    return isinstance(n, mx.Add) and len(n.shape) == 2 and 1 not in n.shape and \
        not mx.batch_of(n) and any(isinstance(t, mx.MatMul) for t in n.terms)


def transpose_of_elementwise(m: mx.M) -> mx.M | None:
    """``((W2 Gᵀ) ⊙ (1 − tanh(X W1)^∘2)ᵀ)ᵀ`` → ``(G W2ᵀ) ⊙ (1 − tanh(X W1)^∘2)``: a
    transposed sum or elementwise product with its transpose carried to its terms or factors,
    where that writes fewer transposes than the whole had inside (as :func:`matrix.transpose`
    decides: ``(h ⊙ r)ᵀ`` stays) and every function of a product inside keeps the orientation
    it had (a transpose that meets a transposed function cancels; one that would turn σ(X W)
    into σ(Wᵀ Xᵀ) is not taken).  Kept only if smaller."""
    if not isinstance(m, mx.Transpose) or not isinstance(m.x, (mx.Hadamard, mx.Add)) or \
            len(m.shape) != 2 or mx.batch_of(m.x):
        return None
    pushed = mx.push_transpose(m.x)
    if mx.transposes(pushed) > mx.transposes(m.x):  # (h ⊙ r)ᵀ stays, never hᵀ ⊙ rᵀ (as transpose)
        return None
    if mx.transposed_functions(pushed) > mx.transposed_functions(m.x):
        # (tanh(X W1ᵀ) W2ᵀ + b2ᵀ − Y)ᵀ stays: pushed in it would transpose the function of a
        # product the line wrote, W2 tanh(X W1ᵀ)ᵀ + b2 − Yᵀ (nu48 find 07)
        return None
    return pushed if _product_functions(pushed) == _product_functions(m.x) else None


def _product_functions(m: mx.M) -> frozenset[mx.M]:
    """The elementwise functions of products in ``m`` (σ(X W), tanh(X W1)), as they stand."""
    return frozenset(n for n in mx.walk(m) if isinstance(n, mx.Fn) and
                     any(isinstance(k, mx.MatMul) for c in n.children() for k in mx.walk(c)))


def reduce_of_pad(m: mx.M) -> mx.M | None:
    """``rowsum(pad(x, 1:3, axis=1))`` → ``rowsum(x)``, ``sum(pad(x, …))`` → ``sum(x)``: the
    zeros a pad adds along the summed axis add nothing."""
    if not (isinstance(m, mx.Reduce) and isinstance(m.x, mx.Pad)) or mx.batch_of(m):
        return None
    pad = m.x
    if m.kind == ReduceKind.SUM or len(pad.dims) == 2 and len(_shape(pad)) == 2 and \
            pad.axis == (1 if m.kind == ReduceKind.ROWSUM else 0):
        return mx.reduce(m.kind, pad.x)
    return None


def reduce_of_turned(m: mx.M) -> mx.M | None:
    """``rowsum(𝟙[W1ᵀ X_bᵀ + b1 > 0])`` → ``colsum(𝟙[X_b W1 + b1ᵀ > 0])``: a row sum of a
    function of a transposed pre-activation is the column sum of the function of the
    pre-activation as its line wrote it (fewer transposed matrices inside the function)."""
    if not (isinstance(m, mx.Reduce) and m.kind != ReduceKind.SUM and
            isinstance(m.x, mx.Fn) and len(_shape(m.x)) == 2):
        return None
    turned = transpose_deep(m.x)
    if isinstance(turned, mx.Transpose) or not mx.adds_preactivation_transposes(turned, m.x):
        return None
    return mx.reduce(ReduceKind.COLSUM if m.kind == ReduceKind.ROWSUM else ReduceKind.ROWSUM,
                     turned)


# -- rules: factors constant along an axis, roots ------------------------------------------------


def reduce_pulls_constant(m: mx.M) -> mx.M | None:
    """``colsum(A ⊙ vᵀ)`` → ``colsum(A) ⊙ v``, ``rowsum(A ⊙ c)`` → ``rowsum(A) ⊙ c``: a factor
    constant along the summed axis (a row broadcast down the columns, a column across the
    rows) comes out of the sum; in a batched form too, whose shapes are one element's and whose
    sums act on each element's matrix (a rank-3 layer norm's X̂ ⊙ √(var + ε) of (B, N, D))."""
    if not (isinstance(m, mx.Reduce) and m.kind != ReduceKind.SUM and
            isinstance(m.x, mx.Hadamard) and len(m.x.shape) == 2):
        return None
    axis = 0 if m.kind == ReduceKind.COLSUM else 1
    out_ = [f for f in m.x.factors if f.shape[axis] == 1 and f.shape != m.x.shape]
    rest = [f for f in m.x.factors if f not in out_]
    if not out_ or not rest or mx.broadcast_shape([f.shape for f in rest]) != m.x.shape:
        return None
    pulled = [mx.transpose(f) for f in out_] if axis == 0 else out_
    return mx.hadamard(mx.reduce(m.kind, mx.hadamard(*rest)), *pulled)


def product_pulls_constant(m: mx.M) -> mx.M | None:
    """``(A ⊙ c) v`` → ``c ⊙ (A v)`` for a column ``c`` broadcast across A's columns (and
    ``wᵀ (A ⊙ rᵀ)`` → ``(wᵀ A) ⊙ rᵀ``): a factor constant along the contracted axis comes
    out of the product, also out of a product that is itself a factor (where it then meets
    its reciprocal: layer norm's ``X̂ ⊙ ((G ⊙ X̂ ⊙ std) gamma) ⊘ std``); per element of a
    batched form as well (its products are each element's)."""
    if isinstance(m, mx.MatMul):
        pulled = _pulled(m)
        return None if pulled is None else mx.hadamard(*pulled)
    if not isinstance(m, mx.Hadamard):
        return None
    for k, f in enumerate(m.factors):
        pulled = _pulled(f) if isinstance(f, mx.MatMul) else None
        if pulled is not None:
            return mx.hadamard(*m.factors[:k], *m.factors[k + 1:], *pulled)
    return None


def _pulled(m: mx.MatMul) -> list[mx.M] | None:
    """The product without its factors constant along the contracted axis, then those."""
    a, b = m.a, m.b
    if isinstance(a, mx.Hadamard) and len(a.shape) == 2:
        col = [f for f in a.factors if f.shape == (a.shape[0], 1) and f.shape != a.shape]
        rest = [f for f in a.factors if f not in col]
        if col and rest and mx.broadcast_shape([f.shape for f in rest]) == a.shape:
            return [mx.matmul(mx.hadamard(*rest), b), *col]
    if isinstance(b, mx.Hadamard) and len(b.shape) == 2:
        row = [f for f in b.factors if f.shape == (1, b.shape[1]) and f.shape != b.shape]
        rest = [f for f in b.factors if f not in row]
        if row and rest and mx.broadcast_shape([f.shape for f in rest]) == b.shape:
            return [mx.matmul(a, mx.hadamard(*rest)), *row]
    return None


def transposed_factors(m: mx.M) -> mx.M | None:
    """``a ⊙ (b ⊙ c)ᵀ`` → ``a ⊙ bᵀ ⊙ cᵀ`` when the transposed factors then cancel or merge
    with the others (``s ⊙ (t ⊘ s)ᵀ`` for a row ``s``): kept only if smaller."""
    if not isinstance(m, mx.Hadamard):
        return None
    for k, f in enumerate(m.factors):
        if isinstance(f, mx.Transpose) and isinstance(f.x, mx.Hadamard):
            inner = [mx.transpose(g) for g in f.x.factors]
            others = m.factors[:k] + m.factors[k + 1:]
            return mx.hadamard(*others, *inner)
    return None


def _sqrt_base(f: mx.M) -> tuple[mx.M, Any]:
    """A factor as (base, exponent), ``u^k`` as ``(√u)^(2k)`` (``√u`` stands for its base
    in :func:`merge_roots`)."""
    if isinstance(f, mx.Pow):
        return f.x, sympy.Integer(f.exp) if isinstance(f.exp, int) else f.exp
    return f, sympy.S.One


def merge_roots(m: mx.M) -> mx.M | None:
    """``√u ⊘ u`` → ``1 ⊘ √u``: a power of ``u`` beside a power of ``√u`` is a power of ``√u``
    (the same for their transposes)."""
    if not isinstance(m, mx.Hadamard):
        return None
    parts = [_sqrt_base(f) for f in m.factors]
    roots = {_radicand(b): b for b, _ in parts if _radicand(b) is not None}
    if not any(b in roots for b, _ in parts):
        return None
    bases: dict[mx.M, Any] = {}
    for b, e in parts:
        if b in roots:
            b, e = roots[b], 2 * e
        bases[b] = bases.get(b, 0) + e
    out = [mx.power(b, e) for b, e in bases.items() if e != 0]
    if not out:
        return None
    return mx.scalar_product(out) if m.is_scalar else mx.hadamard(*out)


def spread_power(m: mx.M) -> mx.M | None:
    """``a ⊙ b ⊘ (a ⊙ b)`` → ``1``: a power of an elementwise product among the factors of
    one is the product of the powers, which then cancel or merge with the others."""
    if not isinstance(m, mx.Hadamard) or m.is_scalar:
        return None
    for k, f in enumerate(m.factors):
        if isinstance(f, mx.Pow) and isinstance(f.x, mx.Hadamard) and \
                (f.exp == int(f.exp) or all(map(_nonnegative, f.x.factors))):
            others = m.factors[:k] + m.factors[k + 1:]
            return mx.hadamard(*others, *[mx.power(g, f.exp) for g in f.x.factors])
    return None


def _nonnegative(m: mx.M) -> bool:
    """Whether ``m`` is ≥ 0 wherever it is defined: a root, an exponential, a fractional or
    even power.  (a ⊙ b)ᵉ is aᵉ ⊙ bᵉ for a fractional e only there: ((−1) (−1))^½ is 1,
    (−1)^½ (−1)^½ undefined."""
    if isinstance(m, mx.Transpose):
        return _nonnegative(m.x)
    if isinstance(m, mx.Pow):
        return bool(m.exp != int(m.exp) or int(m.exp) % 2 == 0)
    return isinstance(m, mx.Fn) and m.name in (POW_HALF, EXP) and not m.rest


def _radicand(b: mx.M) -> mx.M | None:
    if isinstance(b, mx.Fn) and b.name == POW_HALF:
        return b.x
    if isinstance(b, mx.Transpose) and isinstance(b.x, mx.Fn) and b.x.name == POW_HALF:
        return mx.transpose(b.x.x)
    return None


# -- rules: inner products, powers, quotients ----------------------------------------------------


def inner_product(m: mx.M) -> mx.M | None:
    """``sum(a ⊙ b)`` → ``aᵀ b`` for two vectors (a quadratic form ``sum(x ⊙ (A x))`` is then
    ``xᵀ A x``); ``sum(x ⊙ x)`` → ``xᵀ x``.  Not in a batched form, where ``xᵀ x`` is each
    element's and ``sum`` the total."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM) or mx.batch_of(m):
        return None
    x = m.x
    if isinstance(x, mx.Pow) and x.exp == 2 and _is_vector(x.shape):
        a, b = x.x, x.x
    elif isinstance(x, mx.Hadamard) and len(x.factors) == 2 and \
            x.factors[0].shape == x.factors[1].shape and _is_vector(x.shape):
        a, b = x.factors
    else:
        return None
    if _negative_power(a) or _negative_power(b):
        return None
    if x.shape[1] == 1:
        # of aᵀ b and bᵀ a the one that turns no function of a product (w3ᵀ relu(W2ᵀ P), as
        # the derivation's other forms read relu(W2ᵀ P), not relu(Pᵀ W2) w3), then with
        # fewer transposed matrices, then fewer transposes: sum((P d) ⊙ d) is dᵀ P d, not
        # dᵀ Pᵀ d; sum(r ⊙ (G cᵀ)) is rᵀ G cᵀ, not c Gᵀ r (a row vector is no transposed
        # matrix); then the cheaper; equal: as the factors stand
        return min(((mx.matmul(mx.transpose(u), v), isinstance(u, mx.Fn) and
                     any(isinstance(k, mx.MatMul) for k in mx.walk(u.x)))
                    for u, v in ((a, b), (b, a))),
                   key=lambda f: (f[1], mx.transposes(f[0], matrices=True), mx.transposes(f[0]),
                                  cost(f[0])))[0]
    return mx.matmul(a, mx.transpose(b))


def quadratic_form(m: mx.M) -> mx.M | None:
    """``sum((P d) ⊙ d)`` → ``dᵀ P d``: :func:`inner_product` where one vector is a product,
    kept at an equal cost too (:data:`CANONICAL`): a quadratic or bilinear form reads as one
    (``(x − m)ᵀ P (x − m)``, whose transposed difference costs what the sum saves).  Only
    there: of two vectors neither a product (rowsum(A) ⊙ rowsum(B)) the written sum stays."""
    if not (isinstance(m, mx.Reduce) and isinstance(m.x, mx.Hadamard) and
            any(isinstance(f, mx.MatMul) for f in m.x.factors)):
        return None
    return inner_product(m)


def trace_of_product(m: mx.M) -> mx.M | None:
    """``sum(A ⊙ Bᵀ)`` → ``tr(A B)`` for square A, B, where that is shorter; of the two
    rotations tr(A B) = tr(B A) the one with a direction (a tangent, an adjoint) last and
    else the costlier factor first, so that ``sum(Ẋ ⊙ X⁻ᵀ)`` and ``sum(X⁻¹ ⊙ Ẋᵀ)`` both
    read ``tr(X⁻¹ Ẋ)``, as d log det X = tr(X⁻¹ dX) is written."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM) or mx.batch_of(m):
        return None
    x = m.x
    if not (_frobenius_pair(m) and x.shape[0] == x.shape[1]):
        return None
    a, b = cast(mx.Hadamard, x).factors[0], mx.transpose(cast(mx.Hadamard, x).factors[1])
    pair = sorted((a, b), key=lambda f: (_direction(f), -cost(f), _key(f)))
    return _trace(mx.matmul(*pair))


def _trace(prod: mx.M) -> mx.M:
    """tr(prod): the total of a square matrix's diagonal."""
    return mx.reduce(ReduceKind.SUM, mx.Diagonal(prod, (_shape(prod)[0], 1)))


def _frobenius_pair(m: mx.M) -> bool:
    """Whether ``m`` is ``sum(P ⊙ Q)`` of two matrices of one shape (a trace of P Qᵀ)."""
    x = cast(mx.Reduce, m).x
    return isinstance(x, mx.Hadamard) and len(x.factors) == 2 and len(x.shape) == 2 and \
        1 not in x.shape and all(f.shape == x.shape for f in x.factors)


def _direction(m: mx.M) -> bool:
    return any(isinstance(n, mx.Ref) and n.kind in (RefKind.TANGENT, RefKind.ADJOINT, RefKind.ROP)
               for n in mx.walk(m))


def _key(m: mx.M) -> tuple[Any, ...]:
    """A tree's own order (kinds and names from the root down), for a choice between two
    equal forms that does not depend on how they were reached."""
    return tuple((type(n).__name__, getattr(n, "name", ""), getattr(n, "head", ""))
                 for n in mx.walk(m))


def square_of_root(m: mx.M) -> mx.M | None:
    """``(√s)²`` → ``s``, ``(√s)⁻²`` → ``1/s``: an even power of a square root."""
    if isinstance(m, mx.Pow) and isinstance(m.x, mx.Fn) and m.x.name == POW_HALF and \
            _exp(m) % 2 == 0:
        return mx.power(m.x.x, _exp(m) / 2)
    return None


def norm(m: mx.M) -> mx.M | None:
    """``√(xᵀ x)`` → ``‖x‖``, ``√sum(X ⊙ X)`` → ``‖X‖_F``, ``sum((x − a)^∘2)`` → ``‖x − a‖²``
    (a plain ``xᵀ x`` stays: it is as short).  Not in a batched form: code takes a norm of
    everything, a batched form's ``xᵀ x`` is each element's."""
    if mx.batch_of(m):
        return None
    if isinstance(m, mx.Fn) and m.name == POW_HALF:
        x = m.x
        if isinstance(x, mx.Pow) and isinstance(x.x, mx.Norm) and _exp(x) == 2:
            return x.x  # a norm is not negative: √(‖v‖²) is ‖v‖
        v = _squared(x)
        return None if v is None else mx.Norm(_fewer_turned(v))
    if isinstance(m, mx.Reduce):
        v = _squared(m)
        return None if v is None else mx.power(mx.Norm(_fewer_turned(v)), sympy.Integer(2))
    return None


def _fewer_turned(v: mx.M) -> mx.M:
    """``v`` or its transpose, whichever has fewer transposed matrices: ‖X − X U Uᵀ‖_F, not
    ‖Xᵀ − U Uᵀ Xᵀ‖_F (a Frobenius norm is its transpose's)."""
    if 1 in _shape(v):  # (a vector's norm reads it as it stands)
        return v
    turned = transpose_deep(v)
    return turned if not isinstance(turned, mx.Transpose) and \
        mx.transposes(turned, matrices=True) < mx.transposes(v, matrices=True) else v


def _squared(m: mx.M) -> mx.M | None:
    """``v`` (a vector or a matrix) when ``m`` is the sum of the squares of its entries."""
    if isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM and len(_shape(m.x)) == 2:
        x = m.x
        if isinstance(x, mx.Pow) and _exp(x) == 2:
            return x.x
        if isinstance(x, mx.Hadamard) and len(x.factors) == 2 and x.factors[0] == x.factors[1]:
            first: mx.M = x.factors[0]
            return first
    if isinstance(m, mx.MatMul) and isinstance(m.a, mx.Transpose) and m.a.x == m.b and \
            _is_vector(_shape(m.b)):
        return m.b
    return None


def merge_powers(m: mx.M) -> mx.M | None:
    """``s ⊙ s⁻²`` → ``s⁻¹``: factors of an elementwise product with one base are one power."""
    if not isinstance(m, mx.Hadamard):
        return None
    bases: dict[mx.M, object] = {}
    for f in m.factors:
        base, e = (f.x, f.exp) if isinstance(f, mx.Pow) else (f, sympy.S.One)
        bases[base] = bases.get(base, 0) + e
    if len(bases) == len(m.factors):
        return None
    parts = [mx.power(b, e) for b, e in bases.items()]
    return mx.scalar_product(parts) if m.is_scalar else mx.hadamard(*parts)


def exp_of_opposites(m: mx.M) -> mx.M | None:
    """``exp(−z) ⊙ exp(z)`` → ``1``: exponentials of opposite arguments are one (tanh written
    by hand, (exp(z) − exp(−z)) ⊘ (exp(z) + exp(−z)), has 4 exp(−z) ⊙ exp(z) ⊘ (…)² for its
    derivative)."""
    if not isinstance(m, mx.Hadamard):
        return None
    exps = [k for k, f in enumerate(m.factors) if isinstance(f, mx.Fn) and f.name == EXP]
    for a in exps:
        for b in exps:
            x, y = cast(mx.Fn, m.factors[a]).x, cast(mx.Fn, m.factors[b]).x
            if a < b and (x == mx.neg(y) or mx.neg(x) == y):
                rest = [f for k, f in enumerate(m.factors) if k not in (a, b)]
                one = mx.Const(sympy.S.One) if m.is_scalar else mx.Ones(m.shape)
                return one if not rest else mx.broadcast_to(
                    mx.scalar_product(rest) if m.is_scalar else mx.hadamard(*rest), m.shape)
    return None


def cancel_scalars(m: mx.M) -> mx.M | None:
    """``b/(a·(a·b))`` → ``1/a²``: the factors of a scalar product, through its nested products
    and their integer powers, are one power per base, so a factor met above and below the
    line cancels (writing the cosine similarity's loss into its split gradient leaves
    ``(xᵀ y)·ny/(nx·(nx·ny))``, which is ``(xᵀ y)/nx²``)."""
    if not (isinstance(m, mx.Hadamard) and m.is_scalar):
        return None
    bases: dict[mx.M, Any] = {}
    for base, e in _scalar_powers(m, sympy.S.One):
        bases[base] = bases.get(base, 0) + e
    if all(e != 0 for e in bases.values()) and len(bases) == len(m.factors):
        return None  # nothing met twice: merge_powers and one_denominator have the rest
    return mx.scalar_product([mx.power(b, e) for b, e in bases.items() if e != 0])


def _scalar_powers(m: mx.M, e: Any) -> list[tuple[mx.M, Any]]:
    """``m^e`` as (base, exponent) pairs: a scalar product split into its factors, an integer
    power of one into its factors' powers (a root of a product is left whole)."""
    if isinstance(m, mx.Hadamard) and m.is_scalar:
        return [p for f in m.factors for p in _scalar_powers(f, e)]
    if isinstance(m, mx.Pow) and m.is_scalar and sympy.Integer(_exp(m)) == _exp(m) and \
            isinstance(m.x, mx.Hadamard):
        return _scalar_powers(m.x, e * _exp(m))
    if isinstance(m, mx.Pow):
        return [(m.x, e * _exp(m))]
    return [(m, e)]


def one_denominator(m: mx.M) -> mx.M | None:
    """``a/b/c`` → ``a/(b c)``: the reciprocals of a scalar product are one reciprocal."""
    if not (isinstance(m, mx.Hadamard) and m.is_scalar):
        return None
    den = [mx.power(f.x, -_exp(f)) for f in m.factors
           if isinstance(f, mx.Pow) and _negative_power(f)]
    if len(den) < 2:
        return None
    num = [f for f in m.factors if not _negative_power(f)]
    return mx.scalar_product([*num, mx.Pow(mx.Hadamard(tuple(den), ()), -1, ())])


# -- rules: derivative helpers --------------------------------------------------------------------


def one_reciprocal(m: mx.M) -> mx.M | None:
    """``(1/B) (1/tau)·X`` → ``(1/(B tau))·X``: two reciprocals in front of a tensor are one
    (kept at equal cost: one fraction where two were written), for one dim B: a number's
    reciprocal stays in front ((1/10) (1/d)·X: a later 1/d merges into d², not into
    1/(d·(10 d))), and so does a product of dims (1/(K N))."""
    if not (isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const) and
            isinstance(m.x, mx.Scale) and isinstance(m.x.coeff, mx.Pow) and m.x.coeff.exp == -1):
        return None
    num, den = sympy.fraction(sympy.S.One * m.coeff.value)
    if num != 1 or not den.is_Symbol:  # a number stays in front, where merge_powers meets
        return None  # it, and a product of dims would print (1/((K N) (…)))
    return mx.scale(mx.power(mx.scalar_product([mx.Const(den), m.x.coeff.x]), -1), m.x.x)


def reciprocal_exp(m: mx.M) -> mx.M | None:
    """``(1/exp(2 ls))·r`` → ``exp(−2 ls)·r``, ``s/exp(2 ls)`` → ``s·exp(−2 ls)``: the
    reciprocal of a scalar exponential is the exponential of the negated argument (one node
    fewer where the argument has a number in front), in front of a tensor or in a scalar
    product.  A tensor's stays a divisor: ``⊘ exp(2 s)ᵀ`` is the variance a forward line
    divides by, and the adjoints beside it divide by it too."""
    if isinstance(m, mx.Pow):
        if m.exp == -1 and m.is_scalar and isinstance(m.x, mx.Fn) and m.x.name == EXP and \
                not m.x.rest:
            return mx.fn(EXP, mx.neg(m.x.x))
        return None
    if not (isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Pow) and m.coeff.exp == -1 and
            isinstance(m.coeff.x, mx.Fn) and m.coeff.x.name == EXP and not m.coeff.x.rest):
        return None
    return mx.scale(mx.fn(EXP, mx.neg(m.coeff.x.x)), m.x)


def sigmoid_of_exp(m: mx.M) -> mx.M | None:
    """``exp(u) ⊘ (1 + exp(u))`` → ``σ(u)``, among other factors too (∂L/∂M ⊙ exp(X W) ⊘ (1
    + exp(X W)) of M = log1p(exp(X W)) is ∂L/∂M ⊙ σ(X W))."""
    if not isinstance(m, mx.Hadamard):
        return None
    for e in m.factors:
        if not (isinstance(e, mx.Fn) and e.name == EXP and not e.rest):
            continue
        for d in m.factors:
            if isinstance(d, mx.Pow) and d.exp == -1 and isinstance(d.x, mx.Add) and \
                    len(d.x.terms) == 2 and e in d.x.terms and \
                    any(mx.is_one(t) for t in d.x.terms):
                rest = [f for f in m.factors if f is not e and f is not d]
                return mx.hadamard(*rest, mx.fn(SIGMOID, e.x))
    return None


def _mirror(m: mx.M) -> mx.M | None:
    """``f(u)`` for ``f(−u)`` where f(−x) = 1 − f(x) (the op's ``complement``), else None."""
    if isinstance(m, mx.Fn) and not m.rest and m.name in SCALARS and SCALARS[m.name].complement:
        negative, u = mx.split_sign(m.x)
        if negative:
            return mx.fn(m.name, u)
    return None


def complement(m: mx.M) -> mx.M | None:
    """σ(−z) = 1 − σ(z) in a sum, where that cancels: ``1 + y ⊙ σ(z) + y ⊙ σ(−z) − 2 y −
    σ(−z)`` → ``σ(z) − y``; ``1 − σ(−z)`` → ``σ(z)``."""
    if not isinstance(m, mx.Add) or not any(_mirror(n) is not None for n in mx.walk(m)):
        return None
    best = [c for c in reflected(m, _mirror)
            if _shape(c) == _shape(m) and denominators(c) <= denominators(m)]
    return best[0] if best else None


def softplus(m: mx.M) -> mx.M | None:
    """``log(1 + exp(u))`` → ``softplus(u)``."""
    if isinstance(m, mx.Fn) and m.name == LOG and isinstance(m.x, mx.Add) and \
            len(m.x.terms) == 2 and mx.is_one(m.x.terms[0]):
        e = m.x.terms[1]
        if isinstance(e, mx.Fn) and e.name == EXP:
            return mx.fn(SOFTPLUS, e.x)
    return None


def make_softmax_by_hand(named: Named) -> Rule:
    """:func:`softmax_by_hand` and :func:`softmax_across_product`, save where a forward node
    of ``named`` is that softmax written by hand (``P = exp(X) / s``): its adjoints read it as
    the node, ``∂L/∂P ⊙ P``, which a softmax(X) beside P would hide."""
    nodes = _forward_forms(named)

    def softmax_of_exp(m: mx.M) -> mx.M | None:
        out = softmax_by_hand(m) or softmax_across_product(m)
        if out is None or not nodes or not nodes.softmaxes:
            return out
        made = [p for p in mx.walk(out) if isinstance(p, mx.AxisFn) and p.head == SOFTMAX]
        if any(nodes.written_out(p) in nodes.softmaxes for p in made):
            return None
        return out
    softmax_of_exp.__doc__ = make_softmax_by_hand.__doc__
    return softmax_of_exp

def _exp_normaliser(d: mx.M) -> tuple[mx.M, int | None, mx.M | None] | None:
    """``(exp(u), axis, rest)`` when the factor ``d`` divides by the sum of ``exp(u)`` along
    ``axis`` as a broadcast against ``exp(u)`` reads it: ``1/sum(e)`` of a column ``e``
    (axis None: a vector's one axis), ``⊘ rowsum(E)`` (axis 1), ``⊘ colsum(E)ᵀ`` (axis 0),
    the last also inside a transposed product of columns, ``(a ⊘ colsum(E))ᵀ``, whose other factors
    ``rest`` (``aᵀ``) stay; else None."""
    rest: mx.M | None = None
    if isinstance(d, mx.Transpose) and isinstance(d.x, mx.Hadamard) and len(_shape(d.x)) == 2 \
            and _shape(d.x)[1] == 1:
        pows = [f for f in d.x.factors if isinstance(f, mx.Pow) and f.exp == -1 and
                isinstance(f.x, mx.Reduce) and f.x.kind == ReduceKind.COLSUM]
        if not pows:
            return None
        rest = mx.transpose(mx.hadamard(*[f for f in d.x.factors if f is not pows[0]]))
        d = mx.Transpose(pows[0], (1, _shape(pows[0])[0]))
    turned = isinstance(d, mx.Transpose)
    p = cast(mx.Transpose, d).x if turned else d
    if not (isinstance(p, mx.Pow) and p.exp == -1 and isinstance(p.x, mx.Reduce)):
        return None
    e, kind = p.x.x, p.x.kind
    if not (isinstance(e, mx.Fn) and e.name == EXP and not e.rest) or mx.batch_of(e) or \
            len(_shape(e)) != 2:
        return None
    if kind == ReduceKind.SUM and not turned and _vector_sum(e) == ReduceKind.COLSUM:
        return e, None, rest  # (a number: a vector's softmax, along its one axis)
    if kind == ReduceKind.ROWSUM and not turned:
        return e, 1, rest
    if kind == ReduceKind.COLSUM and turned:
        return e, 0, rest
    return None


def _scalar_factors(c: mx.M) -> list[mx.M]:
    """The factors of a product of numbers (a constant in front, a scalar product)."""
    if isinstance(c, mx.Scale):
        return _scalar_factors(c.coeff) + _scalar_factors(c.x)
    if isinstance(c, mx.Hadamard) and c.is_scalar:
        return [g for f in c.factors for g in _scalar_factors(f)]
    return [c]


def softmax_by_hand(m: mx.M) -> mx.M | None:
    """``exp(u) ⊘ rowsum(exp(u))`` → ``softmax(u)`` (``⊘ colsum(exp(u))ᵀ`` → ``softmax(u,
    axis=0)``, ``(1/sum(exp(u)))·exp(u)`` of a column u → ``softmax(u)``), among other
    factors too, and ``exp(u − logsumexp(u))`` → ``softmax(u)`` along logsumexp's axis: a
    softmax written by hand reads as the softmax a textbook (and the logsumexp writing)
    prints.  Of a whole tensor only, never a batched form."""
    if isinstance(m, mx.Fn):
        return _exp_of_log_softmax(m)
    coeffs: list[mx.M] = []
    body = m
    while isinstance(body, mx.Scale):  # (2 s·(a ⊙ e): a constant kept in front of a product)
        coeffs += _scalar_factors(body.coeff)
        body = body.x
    factors = list(body.factors) if isinstance(body, mx.Hadamard) else [body]
    if mx.batch_of(m):
        return None
    for n, d in enumerate(coeffs + factors):
        found = _exp_normaliser(d)
        if found is None:
            continue
        e, axis, rest = found
        column = axis is None  # the sum of a column's entries: a scalar factor in front
        if e not in factors or column != (n < len(coeffs)):
            continue
        u = e.x  # type: ignore[attr-defined]
        p = mx.AxisFn(SOFTMAX, u, 0, (_shape(u)[0],), _shape(e)) if column else \
            mx.AxisFn(SOFTMAX, u, cast(int, axis), _shape(u), _shape(e))
        at = factors.index(e)
        others = [f for k, f in enumerate(factors) if k != at and f is not d]
        kept = [c for c in coeffs if c is not d]
        out = mx.hadamard(*others, *([rest] if rest is not None else []), p)
        return mx.scale(mx.scalar_product(kept), out) if kept else out
    return None


def softmax_across_product(m: mx.M) -> mx.M | None:
    """``(X ⊙ r ⊘ rowsum(exp(U)))ᵀ exp(U)`` → ``Xᵀ (r ⊙ softmax(U))`` (and ``exp(U)ᵀ (X ⊘
    rowsum(exp(U)))`` → ``softmax(U)ᵀ X``): a column broadcast across the rows of one
    factor of a product over those rows scales the other factor's rows as well, (A ⊙ c 𝟏ᵀ)ᵀ
    E = Aᵀ (c 𝟏ᵀ ⊙ E), so the row normaliser of exp(U) meets exp(U) and reads as its
    softmax (a hand-written softmax regression's ∂L/∂W: Xᵀ (softmax(X W) ⊙ rowsum(T) − T));
    and ``(exp(U) Wᵀ) ⊙ r ⊘ rowsum(exp(U))`` → ``(softmax(U) ⊙ r) Wᵀ`` (its ∂L/∂X)."""
    if isinstance(m, mx.Hadamard) and not mx.batch_of(m):
        return _softmax_into_product(m)
    if not isinstance(m, mx.MatMul) or mx.batch_of(m):
        return None
    for turned, beside, flip in ((m.a, m.b, False), (m.b, m.a, True)):
        other: mx.M | None = beside
        h = turned.x if isinstance(turned, mx.Transpose) else None
        if flip:  # exp(U)ᵀ H: the transposed factor is exp(U), H the one divided
            h, other = m.b, (m.a.x if isinstance(m.a, mx.Transpose) else None)
        if not isinstance(h, mx.Hadamard) or other is None or len(_shape(h)) != 2:
            continue
        rows = _shape(h)[0]
        cols = [f for f in h.factors if _shape(f) == (rows, 1)]
        kept = [f for f in h.factors if _shape(f) != (rows, 1)]
        if not kept or mx.hadamard(*kept).shape != _shape(h) or not any(
                isinstance(f, mx.Pow) and f.exp == -1 and isinstance(f.x, mx.Reduce) and
                f.x.kind == ReduceKind.ROWSUM and f.x.x == other for f in cols):
            continue
        p = softmax_by_hand(mx.hadamard(*cols, other))
        if p is None:
            continue
        a = mx.hadamard(*kept)
        return mx.matmul(mx.transpose(p), a) if flip else mx.matmul(mx.transpose(a), p)
    return None


def _softmax_into_product(m: mx.Hadamard) -> mx.M | None:
    """``(E B) ⊙ c ⊘ rowsum(E)`` → ``(c ⊙ softmax(U)) B`` of ``E = exp(U)``: columns scaling a
    product's rows scale its left factor's rows, c 𝟏ᵀ ⊙ (E B) = (c 𝟏ᵀ ⊙ E) B."""
    for g in m.factors:
        summed = _sum_over_normaliser(m, g)
        if summed is not None:
            return summed
        if not (isinstance(g, mx.MatMul) and isinstance(g.a, mx.Fn) and len(_shape(g)) == 2):
            continue
        rows = _shape(g)[0]
        cols = [f for f in m.factors if f is not g and _shape(f) == (rows, 1)]
        if not any(isinstance(f, mx.Pow) and f.exp == -1 and isinstance(f.x, mx.Reduce) and
                   f.x.kind == ReduceKind.ROWSUM and f.x.x == g.a for f in cols):
            continue
        p = softmax_by_hand(mx.hadamard(*cols, g.a))
        if p is None:
            continue
        rest = [f for f in m.factors if f is not g and _shape(f) != (rows, 1)]
        out = mx.hadamard(*rest, mx.matmul(p, g.b))
        return out if _shape(out) == _shape(m) else None
    return None


def _sum_over_normaliser(m: mx.Hadamard, g: mx.M) -> mx.M | None:
    """``rowsum(G ⊙ exp(U)) ⊘ rowsum(exp(U))`` → ``rowsum(G ⊙ softmax(U))`` (and the sum of
    a vector's, ``sum(g ⊙ exp(u))/sum(exp(u))`` → ``sum(g ⊙ softmax(u))``): the normaliser
    is constant along the summed axis, so it divides each summed entry, c ⊙ rowsum(A) =
    rowsum(c 𝟏ᵀ ⊙ A), where it meets exp(U)."""
    if isinstance(g, mx.MatMul) and g.is_scalar and not mx.batch_of(g):
        return _inner_product_over_normaliser(m, g)
    if not (isinstance(g, mx.Reduce) and g.kind in (ReduceKind.ROWSUM, ReduceKind.SUM)) or \
            mx.batch_of(g.x):
        return None
    inner = list(g.x.factors) if isinstance(g.x, mx.Hadamard) else [g.x]
    for d in m.factors:
        if not (isinstance(d, mx.Pow) and d.exp == -1 and isinstance(d.x, mx.Reduce) and
                d.x.kind == g.kind and d.x.x in inner and _shape(d) == _shape(g)):
            continue
        if g.kind == ReduceKind.SUM and _vector_sum(d.x.x) != ReduceKind.COLSUM:
            continue
        p = softmax_by_hand(mx.scale(d, g.x) if g.kind == ReduceKind.SUM else
                            mx.hadamard(g.x, d))
        if p is None:
            continue
        rest = [f for f in m.factors if f is not g and f is not d]
        return mx.hadamard(*rest, mx.reduce(g.kind, p))
    return None


def _inner_product_over_normaliser(m: mx.Hadamard, g: mx.MatMul) -> mx.M | None:
    """``(gᵀ exp(u))/sum(exp(u))`` → ``gᵀ softmax(u)`` of a column u (either operand)."""
    for right in (True, False):
        if not right and not isinstance(g.a, mx.Transpose):
            continue
        e, other = (g.b, g.a) if right else (cast(mx.Transpose, g.a).x, g.b)
        if isinstance(e, mx.Transpose) or _vector_sum(e) != ReduceKind.COLSUM:
            continue
        d = next((f for f in m.factors if isinstance(f, mx.Pow) and f.exp == -1 and
                  isinstance(f.x, mx.Reduce) and f.x.kind == ReduceKind.SUM and f.x.x == e),
                 None)
        p = softmax_by_hand(mx.scale(d, e)) if d is not None else None
        if p is None:
            continue
        rest = [f for f in m.factors if f is not g and f is not d]
        inner = mx.matmul(other, p) if right else mx.matmul(mx.transpose(p), other)
        return mx.scalar_product([*rest, inner])
    return None


def _exp_of_log_softmax(m: mx.Fn) -> mx.M | None:
    """``softmax(u)`` for ``exp(u − logsumexp(u))`` (the logsumexp broadcast along its axis:
    a number of a vector's, a column of a matrix's rows, ``logsumexp(u, axis=0)ᵀ`` of its
    columns) and for ``exp(log_softmax(u))``, else None."""
    if m.name != EXP or m.rest or mx.batch_of(m):
        return None
    x = m.x
    if isinstance(x, mx.AxisFn) and x.head == LOG_SOFTMAX and not mx.batch_of(x):
        return mx.AxisFn(SOFTMAX, x.x, x.axis % len(x.arg_shape), x.arg_shape, x.shape)
    if not isinstance(x, mx.Add):
        return None
    for t in x.terms:
        negative, lse = mx.split_sign(t)
        u = mx.add(*[s for s in x.terms if s is not t])
        placed = _logsumexp_of(lse, u) if negative and _shape(u) == _shape(m) else None
        if placed is not None:
            return mx.AxisFn(SOFTMAX, u, *placed, _shape(u))
    return None


def _logsumexp_of(lse: mx.M, u: mx.M) -> tuple[int, tuple[Any, ...]] | None:
    """The axis and spec shape of ``lse`` where it is logsumexp(u) placed as u − lse
    broadcasts it (a number of a vector's, a column of a matrix's rows, ``logsumexp(u,
    axis=0)ᵀ`` of its columns), else None."""
    turned = isinstance(lse, mx.Transpose)
    f = cast(mx.Transpose, lse).x if turned else lse
    if not isinstance(f, mx.AxisFn) or f.head != LOGSUMEXP or mx.batch_of(f) or \
            len(f.arg_shape) not in (1, 2) or u != f.x or len(_shape(u)) != 2:
        return None
    axis = f.axis % len(f.arg_shape)
    rows, cols = _shape(u)
    placed = (len(f.arg_shape) == 1 and not turned and f.is_scalar) or \
        (len(f.arg_shape) == 2 and axis == 1 and not turned and _shape(f) == (rows, 1)) or \
        (len(f.arg_shape) == 2 and axis == 0 and turned and _shape(lse) == (1, cols))
    return (axis, f.arg_shape) if placed else None


def log_softmax_by_hand(m: mx.M) -> mx.M | None:
    """``u − logsumexp(u)`` → ``log_softmax(u)`` among the terms of a sum (``logsumexp(u) − u``
    its negation), along logsumexp's axis: a softmax entropy written on one line,
    ``−sum(softmax(x) * log_softmax(x))``, differentiates to softmax(x) ⊙ (logsumexp(x) +
    … − x), which reads as the log-softmax it is."""
    if not isinstance(m, mx.Add) or mx.batch_of(m) or not reading_writes(LOG_SOFTMAX):
        return None  # (read so only where the line writes it: logpi − logsumexp(logpi) stays)
    for t in m.terms:
        negative, lse = mx.split_sign(t)
        for v in m.terms:
            if v is t:
                continue
            v_negative, u = mx.split_sign(v)
            placed = _logsumexp_of(lse, u) if v_negative != negative else None
            if placed is None or _shape(u) != _shape(m):
                continue
            q = mx.AxisFn(LOG_SOFTMAX, u, *placed, _shape(u))
            rest = [s for s in m.terms if s is not t and s is not v]
            return _sum_sorted([*rest, mx.neg(q) if v_negative else q])
    return None


def reshape_pulls_constant(m: mx.M) -> mx.M | None:
    """``reshape(2 P − 2 Y, dims)`` → ``2 reshape(P − Y, dims)``: a constant in front of a
    reshape's operand, or one every term of it has, comes out of the reshape."""
    if not isinstance(m, mx.Reshape):
        return None
    x = m.x
    if isinstance(x, mx.Add):
        coeffs = [sympy.S.One * _constant_and_body(t)[0] for t in x.terms]  # (a SymPy number)
        if not all(k.is_Rational for k in coeffs):  # 1/N in front: left as the sum has it
            return None
        c: Any = abs(coeffs[0])
        if c == 1 or c == 0 or any(abs(k) != c for k in coeffs):
            return None
        x = mx.scale(mx.Const(c), mx.add(*[mx.scale(mx.Const(1 / c), t) for t in x.terms]))
    if not (isinstance(x, mx.Scale) and isinstance(x.coeff, mx.Const)):
        return None
    return mx.scale(x.coeff, mx.Reshape(x.x, m.dims, m.shape))


def pad_pulls_constant(m: mx.M) -> mx.M | None:
    """``pad((2/B) t1, 0:D, axis=1)`` → ``(2/B) pad(t1, 0:D, axis=1)``: a constant in front of
    what a pad places comes out of the pad (its zeros times the constant are zeros), where the
    pads of a sum then share it (kept at equal cost, as for a reshape)."""
    if not (isinstance(m, mx.Pad) and isinstance(m.x, mx.Scale) and
            isinstance(m.x.coeff, mx.Const)):
        return None
    x = m.x
    return mx.scale(x.coeff, mx.Pad(x.x, m.axis, m.lo, m.hi, m.dims, m.shape))


def squeezed_sum(m: mx.M) -> mx.M | None:
    """``reshape(sum(X, axis=0, keepdims=True), [H, T, T])`` → ``sum(X, axis=0)``: a reshape
    that only drops the axes a sum kept (as 1s) is the sum without keepdims; through sums,
    constant factors and products by tensors of the reshape's shape already (``+ (1/5) P``,
    ``⊘ exp(logs)``)."""
    if not isinstance(m, mx.Reshape):
        return None
    return _squeezed(m.x, tuple(m.dims), m.shape)


def _squeezed(t: mx.M, dims: tuple[Any, ...], shape: tuple[Any, ...]) -> mx.M | None:
    """``t`` without the axes its sums over axes kept as 1s, when that leaves ``dims`` (the
    rest of ``t`` of that shape already); None when ``t`` holds no such sum, or another
    part."""
    if isinstance(t, mx.SumAxes):
        if t.keep and tuple(d for a, d in enumerate(t.shape) if a not in t.axes) == dims:
            return mx.SumAxes(t.x, t.axes, False, shape, t.src)  # (the index form's order)
        return None
    if isinstance(t, mx.Scale):
        inner = _squeezed(t.x, dims, shape)
        return None if inner is None else mx.with_src(mx.scale(t.coeff, inner), t.src)
    if not isinstance(t, (mx.Add, mx.Hadamard)):
        return None
    parts = [_squeezed(x, dims, shape) for x in t.children()]
    hits = [k for k, x in enumerate(parts) if x is not None]
    if not hits or isinstance(t, mx.Hadamard) and len(hits) != 1:
        return None  # (a product of two such sums would broadcast them against each other)
    if any(not _shaped(x, dims, shape) for k, x in enumerate(t.children()) if k not in hits):
        return None
    kids = [y if y is not None else x for x, y in zip(t.children(), parts)]
    out = mx.add(*kids) if isinstance(t, mx.Add) else mx.hadamard(*kids)
    return mx.with_src(out, t.src)


def _shaped(x: mx.M, dims: tuple[Any, ...], shape: tuple[Any, ...]) -> bool:
    """Whether ``x`` has the spec shape ``dims`` already: a number, a whole tensor of it, or
    a batched form of it (P of each h)."""
    batch = tuple(mx.batch_of(x))
    return x.is_scalar or not batch and tuple(x.shape) == tuple(shape) or \
        len(dims) >= 3 and batch + tuple(x.shape) == dims


def abs_times_sign(m: mx.M) -> mx.M | None:
    """``|u| ⊙ sign(u)`` → ``u`` (the derivative of ``|u|`` meeting ``|u|``), and ``u ⊙
    sign(u)`` → ``|u|`` (the derivative of log|det(W)| reads det(W)·sign(det(W))/|det(W)|,
    whose |det(W)| then cancels: W⁻ᵀ)."""
    if not isinstance(m, mx.Hadamard):
        return None
    signs = [j for j, g in enumerate(m.factors)
             if isinstance(g, mx.Fn) and g.name == SIGN and not g.rest]
    for j in signs:
        u = cast(mx.Fn, m.factors[j]).x
        for i, f in enumerate(m.factors):
            if i == j:
                continue
            if isinstance(f, mx.Fn) and f.name == ABS and not f.rest and f.x == u:
                new = u
            elif f == u:
                new = mx.fn(ABS, u)
            else:
                continue
            rest = [h for k, h in enumerate(m.factors) if k not in (i, j)]
            return mx.scalar_product([new, *rest]) if m.is_scalar else mx.hadamard(new, *rest)
    return None


def hinge_holds(m: mx.M) -> mx.M | None:
    """``maximum(0, u) ⊙ 𝟙[0 ≤ u]`` → ``maximum(0, u)``, ``relu(u) ⊙ 𝟙[u > 0]`` → ``relu(u)``
    (a positive power of the hinge too): where the indicator is 0 the hinge is 0 already (the
    derivative of a squared hinge, −2 relu(1 − d))."""
    if not isinstance(m, mx.Hadamard):
        return None
    hinged = {_hinged(f.x if isinstance(f, mx.Pow) and f.exp > 0 else f) for f in m.factors}
    hinged.discard(None)
    for j, g in enumerate(m.factors):
        if _positive_part(g) in hinged:
            rest = [h for k, h in enumerate(m.factors) if k != j]
            return mx.scalar_product(rest) if m.is_scalar else mx.hadamard(*rest)
    return None


def _hinged(f: mx.M) -> mx.M | None:
    """u where ``f`` is a hinge of the op table, max(0, u): relu(u) or maximum(0, u) (either
    way round)."""
    if not (isinstance(f, mx.Fn) and f.name in SCALARS and SCALARS[f.name].hinge):
        return None
    return next((u for k, u in enumerate(f.args) if _beside_zeros(f.args, k)), None)


def _positive_part(g: mx.M) -> mx.M | None:
    """u where ``g`` is an indicator of the op table that u is positive: 𝟙[u > 0] (relu's
    step), 𝟙[u ≥ 0], 𝟙[0 < u] or 𝟙[0 ≤ u]."""
    if not (isinstance(g, mx.Fn) and g.name in SCALARS):
        return None
    at = SCALARS[g.name].positive_at
    if at is None or at >= len(g.args) or not _beside_zeros(g.args, at):
        return None
    u: mx.M = g.args[at]
    return u


def _beside_zeros(args: tuple[Any, ...], at: int) -> bool:
    """Whether every argument but the one at ``at`` is 0."""
    zero = mx.Const(sympy.S.Zero)
    return all(a == zero for k, a in enumerate(args) if k != at)


def norm_of_abs(m: mx.M) -> mx.M | None:
    """``‖|u|‖`` → ``‖u‖``: a norm does not see signs."""
    if isinstance(m, mx.Norm) and isinstance(m.x, mx.Fn) and m.x.name == ABS:
        return mx.Norm(m.x.x)
    return None


# where(a > b, x, 0) is zero where 𝟙[a > b] is, where(a > b, 0, y) where 𝟙[a ≤ b] is
_KEPT_BY = {f"where_{k.name}": (k.name, COMPARISONS[NEGATION[c]].name)
            for c, k in COMPARISONS.items()}


def indicator_of_where(m: mx.M) -> mx.M | None:
    """``𝟙[a > b] ⊙ where(a > b, x, 0)`` → ``where(a > b, x, 0)`` (and ``𝟙[a ≤ b] ⊙ where(a >
    b, 0, y)``): the indicator is 1 wherever the where is not already 0."""
    if not isinstance(m, mx.Hadamard):
        return None
    for w in m.factors:
        if not (isinstance(w, mx.Fn) and w.name in _KEPT_BY and len(w.args) == 4):
            continue
        held, failed = _KEPT_BY[w.name]
        cond, x, y = w.args[:2], w.args[2], w.args[3]
        name = held if isinstance(y, mx.M) and mx.is_zero(y) else \
            failed if isinstance(x, mx.M) and mx.is_zero(x) else None
        for k, f in enumerate(m.factors):
            if isinstance(f, mx.Fn) and f.name == name and f.args == cond:
                return mx.hadamard(*m.factors[:k], *m.factors[k + 1:])
    return None


def make_cancel(wheres: Sequence[Where]) -> Rule:
    """The rule that cancels within an elementwise expression (derivative helpers written out
    by their ``where`` definitions): σ'(u) ⊙ ((1 − y) ⊘ (1 − p) − y ⊘ p) → p − y for
    p = σ(u); p ⊙ (sum(t) − t ⊘ p) → sum(t) p − t."""
    defs = {w.lhs: w.rhs for w in wheres}
    seen: dict[mx.M, mx.M | None] = {}  # each pass meets the same nodes again

    def cancel(m: mx.M) -> mx.M | None:
        if not isinstance(m, (mx.Hadamard, mx.Add)):
            return None
        if m not in seen:
            seen[m] = _best_cancelled(m, defs)
        return seen[m]
    cancel.__doc__ = make_cancel.__doc__
    return cancel


def _best_cancelled(m: mx.M, defs: dict[mx.M, mx.M]) -> mx.M | None:
    """The cheapest cancelled form of ``m`` that divides by nothing new."""
    best: mx.M | None = None
    dens = denominators(m)
    # with no helper in m, cancelling with the helpers makes the same forms again (none of
    # them cheaper than the best of the first): only the helpers m defines are new
    plain = not defs or not any(n in defs for n in mx.walk(m))
    for use in (False, True):
        if use and not defs or not worth_cancelling(m, defs if use else {}):
            continue
        for c in cancelled(m, defs if use else {}, forms=not (use and plain)):
            if _shape(c) == _shape(m) and denominators(c) <= dens and \
                    (best is None or cost(c) < cost(best)):
                best = c
    return best


# -- leftovers of written-out forms (sm1): each exact, each with its own test --------------------

def take_of_stack(m: mx.M) -> mx.M | None:
    """``take(stack([a, b, c], axis=0), 2, axis=0)`` → ``c``: the position a stack put a piece
    at, taken back along the same axis, is that piece (hard DTW's min of three predecessors:
    the adjoint of each reads its own place in the stack)."""
    if not isinstance(m, mx.Take):
        return None
    st = _display(m.x)
    if not isinstance(st, mx.Stack) or st.axis != m.axis or not 0 <= m.at < len(st.xs):
        return None
    piece = st.xs[m.at]
    return piece if _shape(piece) == _shape(m) else None


def _indicator(m: mx.M) -> tuple[str, mx.M, mx.M] | None:
    """``𝟙[a > b]`` (or ≥, <, ≤) as ``(">", a, b)`` or ``(">=", a, b)``, a ``<`` read as
    the ``>`` of the swapped pair; else None."""
    names = {k.name: c for c, k in COMPARISONS.items()}
    if not (isinstance(m, mx.Fn) and m.name in names and len(m.args) == 2):
        return None
    c, (a, b) = names[m.name], m.args
    return (c, a, b) if c in (">", ">=") else ({"<": ">", "<=": ">="}[c], b, a)


def complementary_indicators(m: mx.M) -> mx.M | None:
    """``𝟙[a ≥ b] + 𝟙[a < b]`` → ``1``: a comparison and its negation hold at complementary
    places, so their indicators add to one everywhere (ties included: exactly one of ≥ and <
    holds).  Hard DTW's ``minimum(minimum(r12, r13), r22)`` routes the adjoint of r12 through
    both branches of the inner minimum."""
    if not isinstance(m, mx.Add):
        return None
    read = [_indicator(t) for t in m.terms]
    for i, one in enumerate(read):
        for j in range(i + 1, len(read)):
            other = read[j]
            if one is None or other is None or \
                    (one[1], one[2]) != (other[2], other[1]) or {one[0], other[0]} != {">", ">="}:
                continue
            rest = [t for k, t in enumerate(m.terms) if k not in (i, j)]
            both = mx.broadcast_shape([_shape(m.terms[i]), _shape(m.terms[j])])
            for unit in (mx.ONE, mx.broadcast_to(mx.ONE, both)):  # 1, else 1 of their shape
                if mx.broadcast_shape([_shape(unit)] + [_shape(t) for t in rest]) == _shape(m):
                    return mx.add(unit, *rest)
    return None


def sign_over_abs(m: mx.M) -> mx.M | None:
    """``sign(u) ⊘ |u|`` → ``1 ⊘ u`` (the derivative of log|u|, Glow's log|det W| = Σ log|s|):
    u = sign(u)·|u|, so 1/u = sign(u)/|u| wherever u ≠ 0, where either is defined."""
    if not isinstance(m, mx.Hadamard):
        return None
    for j, g in enumerate(m.factors):
        if not (isinstance(g, mx.Fn) and g.name == SIGN and not g.rest):
            continue
        for i, f in enumerate(m.factors):
            if isinstance(f, mx.Pow) and f.exp == -1 and isinstance(f.x, mx.Fn) and \
                    f.x.name == ABS and not f.x.rest and f.x.x == g.x:
                new = mx.power(g.x, -1)
                rest = [h for k, h in enumerate(m.factors) if k not in (i, j)]
                return mx.scalar_product([new, *rest]) if m.is_scalar else \
                    mx.hadamard(new, *rest)
    return None


def diagonal_of_inverse_diag(m: mx.M) -> mx.M | None:
    """``diagonal(diag(v)⁻¹)`` → ``1 ⊘ v``, and ``diagonal(diag(exp(s))⁻¹)`` → ``exp(−s)``:
    the inverse of a diagonal matrix is the diagonal of the reciprocals."""
    if not isinstance(m, mx.Diagonal):
        return None
    inv = _display(m.x)
    if not (isinstance(inv, mx.AxisFn) and AXIS_OPS[inv.head].inverse):
        return None
    d = _display(inv.x)
    if not isinstance(d, mx.Diag) or _shape(d.x) != _shape(m) or mx.batch_of(d.x):
        return None
    v = d.x
    if isinstance(v, mx.Fn) and v.name == EXP and not v.rest:
        return mx.fn(EXP, mx.neg(v.x))
    return mx.power(v, -1)


def reshape_of_reshape(m: mx.M) -> mx.M | None:
    """``reshape(reshape(x, [M, M]), [N])`` → ``reshape(x, [N])`` (row-major reshapes
    compose), and that → ``x`` when it is x's own shape (Monarch's blocks read back as the
    vector they were cut from)."""
    if not isinstance(m, mx.Reshape) or not isinstance(m.x, mx.Reshape):
        return None
    x = m.x.x
    if not x.is_scalar and _shaped(x, m.dims, m.shape):  # back to a batched form's own dims
        return x
    if mx.batch_of(x) or mx.batch_of(m):
        return None
    return x if _shape(x) == _shape(m) else mx.Reshape(x, m.dims, m.shape)


def ones_in_comparison(m: mx.M) -> mx.M | None:
    """``𝟙[X > cᵀ ⊙ 𝟏]`` → ``𝟙[X > cᵀ]``: a comparison broadcasts its sides, so a side
    spread over ones only to take the other's shape need not be (the result keeps its
    shape)."""
    if _indicator(m) is None or not isinstance(m, mx.Fn):
        return None
    args = list(m.args)
    for k, a in enumerate(args):
        if not isinstance(a, mx.Hadamard) or not any(isinstance(f, mx.Ones) for f in a.factors):
            continue
        kept = [f for f in a.factors if not isinstance(f, mx.Ones)]
        if not kept:
            continue
        plain = mx.hadamard(*kept)
        new = args[:k] + [plain] + args[k + 1:]
        if mx.broadcast_shape([_shape(x) for x in new]) == _shape(m):
            return mx.fn(m.name, new[0], *new[1:])
    return None


def _constant_broadcast(m: mx.M) -> mx.M | None:
    """The constant ``c`` of ``c 𝟏`` (``𝟏`` itself: 1), or None for anything else."""
    if isinstance(m, mx.Ones):
        return mx.ONE
    if isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const) and \
            isinstance(m.x, mx.Ones) and not m.coeff.shape:
        return m.coeff
    return None


def slice_of_constant(m: mx.M) -> mx.M | None:
    """``slice(0 𝟏, 1:3)`` → ``0``, ``take(c 𝟏, 1, axis=0)`` → ``c 𝟏`` of the piece's shape:
    every element of a constant broadcast is the constant, so any part of it is the same
    constant spread over the part's shape (h = (x − x)[1:3])."""
    if not isinstance(m, (mx.Slice, mx.Take)) or mx.batch_of(m) or mx.batch_of(m.x):
        return None
    c = _constant_broadcast(_display(m.x))
    if c is None:
        return None
    if mx.is_zero(c):
        return c
    return c if all(d == 1 for d in m.shape) else mx.scale(c, mx.Ones(m.shape))


def _multiple(m: Any) -> tuple[Any, mx.M | None] | None:
    """``(p, u)`` where ``m`` is a number ``p`` times ``u`` (``(p, None)`` for the number 0,
    ``(1, m)`` for anything not scaled by a number); None where ``m`` is not a form."""
    if not isinstance(m, mx.M):
        return None
    if isinstance(m, mx.Const) and mx.is_zero(m):
        return sympy.S.Zero, None
    if isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const) and m.coeff.value.is_Number:
        return m.coeff.value, m.x
    return sympy.S.One, m


# a comparison's op name (an indicator's, a where's) by its sign: (">"/">=", the op name
# that compares u with 0 when the difference's sign is positive, when it is negative)
# a comparison of (p − q) u with 0 as u with 0: as written where p > q, swapped where p < q
_SIGNED = {c: (COMPARISONS[c].name, COMPARISONS[swapped].name)
           for c, swapped in ((">", "<"), (">=", "<="))}


def scaled_comparison(m: mx.M) -> mx.M | None:
    """``𝟙[(3/10) d > −(7/10) d]`` → ``𝟙[d > 0]`` (and ``where(p u > q u, x, y)`` →
    ``where(u > 0, x, y)``): two multiples of one u compare as (p − q) u with 0, so as u
    with 0, the comparison turned round where p < q.  Exact at the ties too: where u = 0 both
    sides are 0, so ≥ holds and > does not, on either form (the pinball loss's maximum(τ d,
    (τ − 1) d))."""
    if not isinstance(m, mx.Fn):
        return None
    where = m.name.startswith(WHERE_PREFIX)
    core = mx.Fn(m.name[len(WHERE_PREFIX):] if where else m.name, m.x, m.shape,
                 rest=tuple(m.rest[:1]))
    read = _indicator(core)
    if read is None or (where and len(m.args) != 4) or (not where and len(m.args) != 2):
        return None
    c, a, b = read
    pa, pb = _multiple(a), _multiple(b)
    if pa is None or pb is None:
        return None
    u = pa[1] if pa[1] is not None else pb[1]
    if u is None or any(x[1] is not None and x[1] != u for x in (pa, pb)):
        return None
    diff = pa[0] - pb[0]
    if diff == 0 or _shape(u) != _shape(core):  # (equal sides: the op's value decides it)
        return None
    name = _SIGNED[c][0 if diff > 0 else 1]
    zero = mx.Const(sympy.S.Zero)
    if where:
        new = mx.fn(WHERE_PREFIX + name, u, zero, *m.args[2:])
    else:
        new = mx.fn(name, u, zero)
    return None if new == m else new


def _split_indicator(t: mx.M) -> tuple[mx.M, Counter[mx.M], tuple[str, mx.M, mx.M], int] | None:
    """A term ``k·x ⊙ 𝟙[c]`` as ``(k, the other factors, c read by _indicator, where 𝟙[c]
    stood)``; None where the term has no indicator factor."""
    coeff: mx.M = mx.ONE
    if isinstance(t, mx.Scale):
        coeff, t = t.coeff, t.x
    factors = t.factors if isinstance(t, mx.Hadamard) else (t,)
    for k, f in enumerate(factors):
        read = _indicator(f)
        if read is not None:
            return coeff, Counter(g for j, g in enumerate(factors) if j != k), read, k
    return None


def complementary_terms(m: mx.M) -> mx.M | None:
    """``x ⊙ 𝟙[a > b] + x ⊙ 𝟙[a ≤ b]`` → ``x``: the two indicators are complementary (ties
    included: exactly one of > and ≤ holds), so the term with each is the same x at
    complementary places (the pinball loss's colsum(d ⊙ 𝟙[c] + d ⊙ 𝟙[¬c]) is colsum(d))."""
    if not isinstance(m, mx.Add):
        return None
    read = [_split_indicator(t) for t in m.terms]
    for i, one in enumerate(read):
        for j in range(i + 1, len(read)):
            other = read[j]
            if one is None or other is None or one[0] != other[0] or one[1] != other[1]:
                continue
            c1, c2 = one[2], other[2]
            if (c1[1], c1[2]) != (c2[2], c2[1]) or {c1[0], c2[0]} != {">", ">="}:
                continue
            if not one[1]:
                continue  # (𝟙[c] + 𝟙[¬c] alone is complementary_indicators')
            t = m.terms[i]
            body = t.x if isinstance(t, mx.Scale) else t
            kept = [f for k, f in enumerate(body.factors if isinstance(body, mx.Hadamard)
                                            else (body,)) if k != one[3]]
            x = kept[0] if len(kept) == 1 else \
                mx.scalar_product(kept) if t.is_scalar else mx.hadamard(*kept)
            x = mx.scale(one[0], x) if one[0] != mx.ONE else x
            before = m.terms[:i]  # (x stands where the first of the two stood)
            rest = [s for k, s in enumerate(m.terms) if k > i and k != j]
            both = mx.broadcast_shape([_shape(m.terms[i]), _shape(m.terms[j])])
            for new in (x, mx.broadcast_to(x, both)):  # x, else x at the terms' shape
                if _shape(mx.add(*before, new, *rest)) == _shape(m):
                    return mx.add(*before, new, *rest)
    return None


def _untransposed(m: mx.M) -> mx.M | None:
    """The elementwise expression ``m`` with the transpose taken off each of its leaves
    (``1 ⊘ rᵀ`` → ``1 ⊘ r``), which is ``mᵀ``; None where a leaf is not transposed (a
    number stays) or ``m`` is not elementwise in matrices."""
    if isinstance(m, mx.Const) and not m.shape:
        return m
    if len(_shape(m)) != 2:
        return None
    if isinstance(m, mx.Transpose):
        return m.x
    if isinstance(m, mx.Pow):
        x = _untransposed(m.x)
        return None if x is None else mx.power(x, m.exp)
    if isinstance(m, mx.Scale) and not m.coeff.shape:
        x = _untransposed(m.x)
        return None if x is None else mx.scale(m.coeff, x)
    if isinstance(m, (mx.Hadamard, mx.Add)) or \
            isinstance(m, mx.Fn) and m.name in SCALARS and \
            all(isinstance(a, mx.M) for a in m.args):
        kids = [_untransposed(c) for c in (m.args if isinstance(m, mx.Fn) else m.children())]
        if any(k is None for k in kids):
            return None
        ks = cast(list[mx.M], kids)
        if isinstance(m, mx.Hadamard):
            return mx.hadamard(*ks)
        if isinstance(m, mx.Add):
            return mx.add(*ks)
        return mx.fn(m.name, ks[0], *ks[1:])
    return None


def sum_of_transposed(m: mx.M) -> mx.M | None:
    """``sum(1 ⊘ rᵀ)`` → ``sum(1 ⊘ r)``: the total of a transpose is the total of the
    matrix, and an elementwise expression of transposes is the transpose of the expression
    of the matrices."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM):
        return None
    if not any(isinstance(n, mx.Transpose) for n in mx.walk(m.x)):
        return None
    x = _untransposed(m.x)
    return None if x is None or x == m.x else mx.reduce(ReduceKind.SUM, x)


LEFTOVERS: tuple[Rule, ...] = (take_of_stack, complementary_indicators, sign_over_abs,
                               diagonal_of_inverse_diag, reshape_of_reshape, ones_in_comparison,
                               slice_of_constant,
                               scaled_comparison, complementary_terms, sum_of_transposed)


# -- rules: broadcast factors that meet (a quotient such as X̂ = Xc ⊘ s written out) -------------


def _merged_bases(m: mx.M) -> mx.M | None:
    """``m`` (an elementwise product) with the factors of one base merged into one power
    (``r⁻¹ ⊙ r⁻¹`` is ``r⁻²``, ``√u⁻¹ ⊙ √u⁻¹`` is ``u⁻¹``), or None when no two meet."""
    merged = merge_powers(m)
    m = merged if merged is not None else m
    rooted = merge_roots(m) if isinstance(m, mx.Hadamard) else None
    return rooted if rooted is not None else merged


def pulled_to_meet(m: mx.M) -> mx.M | None:
    """``X ⊙ ((G ⊙ X ⊘ r) w) ⊘ r`` → ``X ⊙ ((G ⊙ X) w) ⊘ (r ⊙ r)``, ``Xc ⊙ colsum(G ⊙ Xc ⊘
    sᵀ)ᵀ ⊘ sᵀ`` likewise: a factor constant along the contracted or summed axis of a product
    or row or column sum that is itself a factor (a column across a product's rows, a row
    down its columns) comes out where it meets a power of its own base among the other
    factors, which then merge.  Taking it out alone costs as much as leaving it
    (:func:`product_pulls_constant`, :func:`reduce_pulls_constant`); meeting its base it
    costs less, and a spec that names the quotient (X̂ = X ⊘ r) and one that writes it
    inline print one form: of a rank-3 or rank-4 layer norm too (a batched form, read per
    element, ls7)."""
    if not isinstance(m, mx.Hadamard) or m.is_scalar:
        return None
    for k, f in enumerate(m.factors):
        inner = f.x if isinstance(f, mx.Transpose) else f
        if isinstance(inner, mx.MatMul):
            pulled = _pulled(inner)
        elif isinstance(inner, mx.Reduce):
            out = reduce_pulls_constant(inner)
            pulled = list(out.factors) if isinstance(out, mx.Hadamard) else None
        else:
            continue
        if pulled is None:
            continue
        if inner is not f:
            pulled = [mx.transpose(p) for p in pulled]
        merged = _merged_bases(mx.hadamard(*m.factors[:k], *m.factors[k + 1:], *pulled))
        if merged is not None:
            return merged
    return None


def broadcast_factor(m: mx.M) -> mx.M | None:
    """``X ⊙ ((v ⊘ s) 𝟏ᵀ)`` → ``v ⊙ X ⊘ s``: a column written broadcast across the columns
    (``c 𝟏ᵀ``) or a row down the rows (``𝟏 rᵀ``) of an elementwise product whose other factors
    have its whole shape is the column (row) itself, which the product broadcasts."""
    if not isinstance(m, mx.Hadamard) or len(m.shape) != 2 or mx.batch_of(m):
        return None
    for k, f in enumerate(m.factors):
        if not isinstance(f, mx.MatMul):
            continue
        if isinstance(f.b, mx.Ones) and _shape(f.a) == (m.shape[0], 1):
            part = f.a
        elif isinstance(f.a, mx.Ones) and _shape(f.b) == (1, m.shape[1]):
            part = f.b
        else:
            continue
        rest = [*m.factors[:k], *m.factors[k + 1:]]
        if rest and mx.broadcast_shape([_shape(g) for g in rest]) == m.shape:
            return mx.hadamard(*rest, part)
    return None


def common_root_divisor(m: mx.M) -> mx.M | None:
    """``T ⊘ √u + G − (1/D) (…) ⊙ X ⊘ (√u)^∘3`` → ``(T − (1/D) (…) ⊙ X ⊘ u) ⊘ √u + G``: a
    root that divides several terms, once in one and to a higher power in another, is
    divided by once (its even powers left inside are powers of its radicand), as RMS and
    layer norm's gradients are written and as their one-line specs print them.  Only a root
    met to two powers: a divisor in general stays with its terms (:func:`_worth_pulling`)."""
    return _common_root(m, False)


def radicand_joins_root(m: mx.M) -> mx.M | None:
    """``t ⊙ gᵀ ⊘ √u + G − (1/D) X ⊙ rowsum(N ⊙ t) ⊘ u`` → ``(t ⊙ gᵀ − (1/D) X ⊙ rowsum(N ⊙
    t) ⊘ √u) ⊘ √u + G``: :func:`common_root_divisor` where one term divides by the radicand
    ``u`` itself, (√u)^∘2 — an adjoint that read a node by name (∂L/∂ms = −(1/2) rowsum(∂L/∂Xn
    ⊙ Xn) ⊘ u) before it met the other term.  The one-line spec takes ⊘ √u out first and
    prints this form (issue 12, ls9); kept at one more (SHARING): √u is written twice."""
    return _common_root(m, True)


def _common_root(m: mx.M, radicands: bool) -> mx.M | None:
    """:func:`common_root_divisor`; with ``radicands``, only where a power of a radicand is
    read as an even power of its root (else only roots are read)."""
    if not isinstance(m, mx.Add):
        return None
    roots = {_radicand(f.x): f.x for t in m.terms for f in _flat_factors(t)
             if isinstance(f, mx.Pow) and _negative_power(f) and _radicand(f.x) is not None} \
        if radicands else {}
    held: list[dict[mx.M, tuple[mx.M, Any]]] = []
    squared: set[mx.M] = set()  # (the roots a radicand's power was read as)
    for t in m.terms:
        h: dict[mx.M, tuple[mx.M, Any]] = {}
        for f in _flat_factors(t):
            if not (isinstance(f, mx.Pow) and _negative_power(f)):
                continue
            if _radicand(f.x) is not None:
                h[f.x] = (f, _exp(f))
            elif f.x in roots and roots[f.x] not in h:
                h[roots[f.x]] = (f, 2 * _exp(f))
                squared.add(roots[f.x])
        held.append(h)
    for base in dict.fromkeys(b for h in held for b in h):
        exps = [h[base][1] for h in held if base in h]
        top = max(exps)
        if len(exps) < 2 or all(e == top for e in exps) or radicands and base not in squared:
            continue
        inside: list[mx.M] = []
        out: list[mx.M | None] = []
        for t, h in zip(m.terms, held):
            if base not in h:
                out.append(t)
                continue
            if not inside:
                out.append(None)
            f, e = h[base]
            left = mx.power(base, e - top)
            left = square_of_root(left) or left
            inside.append(_times(_without(t, f), left) if e != top else _without(t, f))
        joined = _times(mx.power(base, top), _signed_sum(inside))
        return mx.add(*[joined if t is None else t for t in out])
    return None


def _written_turned(f: mx.M) -> bool:
    """Whether a factor is written with a transpose (``wᵀ``, ``⊘ sᵀ``)."""
    return isinstance(f, mx.Transpose) or isinstance(f, mx.Pow) and isinstance(f.x, mx.Transpose)


def rows_under_one_transpose(m: mx.M) -> mx.M | None:
    """``(G − …) ⊙ gammaᵀ ⊘ sᵀ`` → ``(gamma ⊘ s)ᵀ ⊙ (G − …)``, ``Xc ⊙ (c ⊘ s)ᵀ ⊘ sᵀ`` →
    ``Xc ⊙ (c ⊘ s²)ᵀ``: the transposed rows broadcast down a matrix are one transposed
    column, where they can merge (kept only if smaller: ``X ⊙ aᵀ ⊙ bᵀ`` of two names stays)."""
    if not isinstance(m, mx.Hadamard) or len(m.shape) != 2 or 1 in m.shape or mx.batch_of(m):
        return None
    at = [k for k, f in enumerate(m.factors)
          if f.shape == (1, m.shape[1]) and _written_turned(f)]
    if len(at) < 2:
        return None
    column = mx.hadamard(*[mx.transpose(m.factors[k]) for k in at])
    column = _merged_bases(column) or column
    rest = [f for k, f in enumerate(m.factors) if k not in at]
    return mx.hadamard(*rest, mx.transpose(column))


# -- rules: line-split invariance (session 36, ls4) -------------------------------------------------


def diagonal_of_masked(m: mx.M) -> mx.M | None:
    """``colsum(A ⊙ 𝐈)`` → ``diagonal(A)`` (``rowsum`` likewise): a square matrix masked by
    the identity and summed along either axis is its diagonal, as a column (trace(A diag(v))
    reads vᵀ colsum(A ⊙ 𝐈) from its index form; with diag(v) on its own line, vᵀ diagonal(A)).
    Only a factor of the whole square shape: a column broadcast across it (c ⊙ 𝐈) is no
    matrix's diagonal."""
    if not (isinstance(m, mx.Reduce) and m.kind in (ReduceKind.ROWSUM, ReduceKind.COLSUM) and
            isinstance(m.x, mx.Hadamard)) or mx.batch_of(m):
        return None
    shape = _shape(m.x)
    if len(shape) != 2 or shape[0] != shape[1]:
        return None
    eyes = [k for k, f in enumerate(m.x.factors) if isinstance(f, mx.Eye)]
    rest = [f for k, f in enumerate(m.x.factors) if k not in eyes]
    if len(eyes) != 1 or not rest:
        return None
    inner = mx.hadamard(*rest) if len(rest) > 1 else rest[0]
    if _shape(inner) != shape:
        return None
    if isinstance(inner, mx.Transpose):  # a matrix and its transpose have one diagonal
        inner = inner.x
    return mx.Diagonal(inner, (shape[0], 1))


def trace_as_sum(m: mx.M) -> mx.M | None:
    """``tr(U Vᵀ)`` → ``sum(U ⊙ V)`` for U, V not square: the trace of a product of a matrix
    and a transpose of its shape is the sum of their elementwise product, as its index form
    reads Σ_i Σ_d U_id V_id (a node S = U Vᵀ read by tr(S) prints so written out; square
    ones are :func:`trace_of_product`'s to write as a trace)."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM and
            isinstance(m.x, mx.Diagonal) and isinstance(m.x.x, mx.MatMul)) or mx.batch_of(m):
        return None
    a, b = m.x.x.a, mx.transpose(m.x.x.b)
    shape = _shape(a)
    if len(shape) != 2 or shape[0] == shape[1] or _shape(b) != shape:
        return None
    return mx.reduce(ReduceKind.SUM, mx.hadamard(a, b))


def scalar_into_sum(m: mx.M) -> mx.M | None:
    """``(1/2) F ⊙ (2 a + b)`` → ``F ⊙ (a + (1/2) b)``: a number in front of an elementwise
    product goes into a sum among its factors where a term's number cancels it,
    so one number is written, not two (the same product reached through a named node, whose
    terms were never put over 2, reads so)."""
    if not (isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const)) or m.is_scalar:
        return None
    c: Any = m.coeff.value
    if c in (1, -1):
        return None  # (a minus in front is the sum's own: −(a − b) stays)
    x = m.x
    factors = list(x.factors) if isinstance(x, mx.Hadamard) else [x]
    sums = [k for k, f in enumerate(factors) if isinstance(f, mx.Add) and any(
        isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const) and t.coeff.value * c in (1, -1)
        for t in f.terms)]
    if not sums:
        return None
    # the cheapest such sum takes it, and only beside a costlier factor: that is the upstream
    # adjoint's form, kept as it reads alone (½ (2 W ⊙ A + sign(M − C)) ⊙ (2 a + b); in
    # ½ F ⊙ a + F ⊙ b the F stays whole, to be shared)
    at = min(sums, key=lambda k: cost(factors[k]))
    inner = factors[at]
    assert isinstance(inner, mx.Add)
    if not any(cost(f) > cost(inner) for k, f in enumerate(factors) if k != at):
        return None
    spread = mx.add(*[mx.scale(mx.Const(c), t) for t in inner.terms])
    factors[at] = spread
    return mx.hadamard(*factors) if len(factors) > 1 else spread


LINE_SPLIT: tuple[Rule, ...] = (diagonal_of_masked, trace_as_sum, scalar_into_sum)


# -- the table and the fixed point ----------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    double_transpose, transpose_inward, transpose_of_elementwise, reduce_of_turned, reduce_of_pad, inverse_of_inverse,
    inverse_of_transpose,
    inverse_times_matrix, of_transpose,
    collect_terms, collect_scalar_factors, batch_sums_collect, factor_operand, common_scalar, zero_operand,
    reduce_of_sum, reduce_of_ones, merge_reductions, merge_axis_sums, add_broadcasts,
    ones_product, sum_as_product, reduce_as_product, reduce_of_sum_as_products,
    reduce_pulls_constant, product_pulls_constant, transposed_factors, merge_roots, spread_power,
    inner_product, trace_of_product, norm, square_of_root, merge_powers, exp_of_opposites,
    cancel_scalars, one_denominator,
    sigmoid_of_exp, complement, softplus, squeezed_sum, reshape_pulls_constant, abs_times_sign,
    hinge_holds, norm_of_abs, indicator_of_where, common_signed_scalar, pad_pulls_constant, one_reciprocal,
    reciprocal_exp,
    pulled_to_meet, rows_under_one_transpose, broadcast_factor, common_root_divisor,
    *LEFTOVERS, *LINE_SPLIT,
)


# rules whose rewrite is kept at an equal cost too: each removes something (a transpose, a
# transposed pre-activation, a reduction of a broadcast product: colsum(Φ ⊙ r) is Φᵀ r, a
# constant inside a reshape) no rule puts back, so rewriting still ends
CANONICAL: frozenset[Rule] = frozenset({of_transpose, reduce_as_product, reduce_of_turned,
                                        reduce_of_sum_as_products,
                                        reshape_pulls_constant, pad_pulls_constant,
                                        common_signed_scalar, one_reciprocal,
                                        diagonal_of_inverse_diag, quadratic_form})


# -- ls6: line-split pairs of tests/models (issue 12) -----------------------------------------------

def sum_takes_broadcast(m: mx.M) -> mx.M | None:
    """``colsum(X) + B b`` → ``colsum(X + bᵀ)`` where B is X's number of rows (``rowsum(X) +
    D c`` → ``rowsum(X + c)``, D its columns): a bias broadcast over the rows and summed
    with them stays inside the sum.  Written on one line (mean((A W2 + b2 − T)²)) the index
    form sums the bias out, Σ_i b2_l = B b2_l; with Y = A W2 + b2 named it stays in Y, and
    colsum(Y − T) written out is colsum(A W2 + b2ᵀ − T): one form whichever line holds it.
    The bias is a name (a column); the colsum's cost is the same either way (kept at equal
    cost: :data:`CANONICAL`; reduce_of_sum splits a sum only where that is smaller)."""
    if not isinstance(m, mx.Add) or mx.batch_of(m):
        return None
    terms = list(m.terms)
    for i, r in enumerate(terms):
        if not (isinstance(r, mx.Reduce) and r.kind in (ReduceKind.COLSUM, ReduceKind.ROWSUM)
                and len(_shape(r.x)) == 2 and not mx.batch_of(r.x)):
            continue
        rows, cols = _shape(r.x)
        n = _size(rows if r.kind == ReduceKind.COLSUM else cols)
        for j, t in enumerate(terms):
            if j == i or not (isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const) and
                              t.coeff.value == n and isinstance(t.x, mx.Ref) and
                              not t.x.batch and _shape(t.x) == _shape(r)):
                continue
            v = mx.transpose(t.x) if r.kind == ReduceKind.COLSUM else t.x
            rest = [x for k, x in enumerate(terms) if k not in (i, j)]
            return mx.add(*rest, mx.reduce(r.kind, mx.add(r.x, v)))
    return None


_ELEMENTWISE = (mx.Ref, mx.Const, mx.Hadamard, mx.Add, mx.Scale, mx.Pow, mx.Fn)


def batch_sum_broadcast_back(m: mx.M) -> mx.M | None:
    """``P − Σ_b Q_b`` → ``P − sum(Q, axis=0, keepdims=True)`` where P is batched over the
    one batch axis b sums and Q is elementwise (no element's product, transpose or row
    sum): a sum over the batch broadcast back against it reads as NumPy's, as the same sum
    of a whole tensor does (S ⊙ (Y − sum(Y ⊙ S, axis=0, keepdims=True)) of S = softmax(X,
    axis=0), which no element's form reads, inline or named)."""
    if not isinstance(m, mx.Add) or len(mx.batch_of(m)) != 1:
        return None
    batch = tuple(mx.batch_of(m))
    terms, changed = list(m.terms), False
    for n, t in enumerate(terms):
        body = t.x if isinstance(t, mx.Scale) else t
        if not (isinstance(body, mx.BatchSum) and tuple(body.dims) == batch and
                set(batch) != {1} and not mx.outer_batch(body) and
                all(isinstance(x, _ELEMENTWISE) for x in mx.walk(body.x)) and
                len(_shape(body.x)) == 2):
            continue
        if not any(tuple(mx.batch_of(u)) == batch for k, u in enumerate(terms) if k != n):
            continue
        summed = mx.SumAxes(body.x, (0,), True, (1, *body.x.shape))
        terms[n] = mx.scale(t.coeff, summed) if isinstance(t, mx.Scale) else summed
        changed = True
    return mx.add(*terms) if changed else None


LS6: tuple[Rule, ...] = (sum_takes_broadcast, batch_sum_broadcast_back)
RULES = (*RULES, *LS6)
CANONICAL = CANONICAL | {sum_takes_broadcast, batch_sum_broadcast_back}


# -- qf1: a constant out of a difference that is a factor of a forward line's product --------------

def scalar_out_of_product(m: mx.M) -> mx.M | None:
    """``((1/2) x − (1/2) m)ᵀ P (x − m)`` → ``(1/2) (x − m)ᵀ P (x − m)``: a forward line's
    ``0.5 * (x - m) @ P @ (x - m)`` (Python binds ``0.5 * (x - m)`` first) reads the constant
    spread over the difference; out of an operand of a product it goes in front, as the
    textbook writes the Gaussian's exponent.  The difference is turned to match another
    operand of the product where one is its opposite (``−(1/2) (x − m)ᵀ P (x − m)``, not
    ``(1/2) (m − x)ᵀ P (x − m)``), else its positive terms first.  Only a forward line:
    a backward form's sums take the constant out on their own (common_signed_scalar);
    a sum the line writes on its own (mean(a) − mean(b)) is no operand of a product.
    Kept at an equal cost (:data:`CANONICAL`): it removes a spread constant no rule puts back."""
    if not isinstance(m, mx.MatMul) or not reading_forward() or mx.batch_of(m):
        return None
    chain = _chain(m)
    for k, f in enumerate(chain):
        body = f.x if isinstance(f, mx.Transpose) else f
        if not isinstance(body, mx.Add):
            continue
        coeffs = [t.coeff.value if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const)
                  else None for t in body.terms]
        if any(v is None for v in coeffs) or any(_scaled_sum(t) for t in body.terms):
            continue
        c: Any = coeffs[0]
        if c.could_extract_minus_sign():
            c = -c
        if c == 1 or any(v != c and v != -c for v in coeffs):
            continue
        inv = mx.Const(1 / c)
        inside = _sum_sorted([mx.scale(inv, t) for t in body.terms])
        others = {g.x if isinstance(g, mx.Transpose) else g for j, g in enumerate(chain) if j != k}
        if inside not in others and isinstance(inside, mx.Add):
            opposite = _sum_sorted([mx.neg(t) for t in inside.terms])
            if opposite in others:
                inside, c = opposite, -c
        operand = mx.transpose(inside) if isinstance(f, mx.Transpose) else inside
        return mx.scale(mx.Const(c), _product([*chain[:k], operand, *chain[k + 1:]]))
    return None


RULES = (*RULES, quadratic_form, scalar_out_of_product)
CANONICAL = CANONICAL | {scalar_out_of_product}


# -- lead37: a factor pulled out of a row sum where the difference it sits in is divided by it ----

def _power_base(f: mx.M) -> mx.M:
    return f.x if isinstance(f, mx.Pow) else f


def pulled_beside(m: mx.M) -> mx.M | None:
    """``(G − rowsum(G ⊙ X ⊘ s)) ⊘ s`` → ``(G − rowsum(G ⊙ X) ⊘ s) ⊘ s``: a factor constant
    along a row (column) sum that is a term of a sum, itself a factor of a product with a
    power of the factor's base, comes out of the row sum.  Row normalisation P = X ⊘ s
    written on one line has ∂L/∂X = (G − rowsum(G ⊙ X) ⊘ s) ⊘ s; with P named and written
    out it is the same form (keepdims_sum's two specs).  Only there: out of every row sum
    (:func:`reduce_pulls_constant` at an equal cost) it stopped a named quotient being read
    (``rowsum(O ⊙ O)`` of linear attention's O = num ⊘ den became ``rowsum(num ⊙ num) ⊘
    den^∘2``) and cancelling terms (a softmax normaliser's adjoint printed
    ``−rowsum(P ⊙ rowsum(Y) − Y)`` for 0).  Kept at an equal cost (:data:`CANONICAL`)."""
    if not isinstance(m, mx.Hadamard) or m.is_scalar or mx.batch_of(m):
        return None
    for k, f in enumerate(m.factors):
        if not isinstance(f, mx.Add):
            continue
        bases = {_power_base(g) for g in m.factors[:k] + m.factors[k + 1:]}
        terms = list(f.terms)
        for i, t in enumerate(terms):
            coeff, r = (t.coeff, t.x) if isinstance(t, mx.Scale) else (None, t)
            if not isinstance(r, mx.Reduce):
                continue
            out = reduce_pulls_constant(r)
            if not isinstance(out, mx.Hadamard):
                continue
            pulled = [g for g in out.factors if not isinstance(g, mx.Reduce)]
            if not pulled or any(_power_base(g) not in bases for g in pulled):
                continue
            terms[i] = out if coeff is None else mx.scale(coeff, out)
            return mx.hadamard(*m.factors[:k], mx.add(*terms), *m.factors[k + 1:])
    return None


def _pulls_at_equal_cost(m: mx.M) -> mx.M | None:
    """:func:`reduce_pulls_constant`, kept at an equal cost: only inside
    :func:`make_pull_ahead`'s look ahead."""
    return reduce_pulls_constant(m)


def make_pull_ahead(rules: Sequence[Rule]) -> Rule:
    """``rowsum(c1 ⊙ k ⊘ s)`` → ``rowsum(c1) ⊙ k ⊘ s`` → ``0`` for a centred c1: a factor
    constant along a row (column) sum comes out when the form then shrinks under ``rules``
    (each factor pulled out at an equal cost on the way: a centred sum vanishes, a factor
    meets its base, a named node is read), as :func:`make_distribute` multiplies out.  Not
    at an equal cost alone: pulled out of every row sum it hid a named quotient and a
    cancellation (:func:`pulled_beside`)."""
    inner = (*rules, _pulls_at_equal_cost)

    def pull_ahead(m: mx.M) -> mx.M | None:
        out = reduce_pulls_constant(m)
        if out is None:
            return None
        new = _fixed_point(out, inner)
        return new if cost(new) < cost(m) else None
    pull_ahead.__doc__ = make_pull_ahead.__doc__
    return pull_ahead


RULES = (*RULES, pulled_beside)
CANONICAL = CANONICAL | {pulled_beside, _pulls_at_equal_cost}


# -- ls7: layer norm of rank 3/4, its line-split pairs (issue 12) ----------------------------------


def divisor_joins_sum(m: mx.M) -> mx.M | None:
    """``(A − B) ⊘ s − c v ⊘ s`` → ``(A − B − c v) ⊘ s``: a term divided by the divisor of a
    sum that is divided by it joins that sum.  A rank-4 layer norm's ∂L/∂X, too large for
    its index form to be written out whole, is built from ∂L/∂Xc − (1/D) rowsum(∂L/∂Xc)
    and reads ``(G ⊙ gᵀ − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ √(…) − (1/D) (G g) ⊘ √(…)``; the index
    form (rank 3, or mu named) has the one divisor, as this writes it.  Only into a sum
    already over the divisor: a divisor is not pulled out of products alone (common_factor:
    ``(e rowsum(V)) ⊘ n − 1 ⊘ n`` keeps its P = e ⊘ n)."""
    if not isinstance(m, mx.Add) or m.is_scalar:
        return None
    for k, host in enumerate(m.terms):
        if not (isinstance(host, mx.Hadamard) and len(host.factors) == 2):
            continue
        inner = next((f for f in host.factors if isinstance(f, mx.Add)), None)
        d = next((f for f in host.factors if _negative_power(f)), None)
        if inner is None or d is None:
            continue
        # (a term written broadcast, c (v ⊘ s) 𝟏ᵀ, joins as the column it broadcasts: ls8)
        over = {j: u for j, t in enumerate(m.terms) if j != k
                for u in [t if d in _flat_factors(t) else _broadcast_term(t, host.shape)]
                if u is not None and d in _flat_factors(u)}
        joining = sorted(over)
        if not joining:
            continue
        joined = mx.hadamard(_number_out(mx.add(*inner.terms,
                                                *[_without(over[j], d) for j in joining])), d)
        # (the sum stands where the host term stood)
        return mx.add(*[joined if j == k else t for j, t in enumerate(m.terms)
                        if j not in joining])
    return None


RULES = (*RULES, divisor_joins_sum, radicand_joins_root)
SHARING.add(radicand_joins_root)


# -- lead39: forward nodes met by name ----------------------------------------------------------

def make_piece_of_node(named: Named) -> Rule:
    """``slice(Y, :, 0:K)`` → ``x1`` where ``Y = concatenate([x1, tanh(x2)], axis=1)`` is a
    forward node of ``named``: a slice of a concatenation at one piece's place is that piece
    (a flow's NLL ½‖[x1, y2]‖² gives ∂L/∂x1 = x1, not slice(Y, :, 0:K)); kept where no
    larger than the slice (at equal cost, as CANONICAL_MADE: the node's piece read as
    itself, which no rule turns back)."""
    forms = _forms(named)

    def piece_of_node(m: mx.M) -> mx.M | None:
        if not (isinstance(m, mx.Slice) and isinstance(m.x, mx.Ref) and
                m.x.kind == RefKind.TENSOR) or len(m.dims) != 2 or mx.batch_of(m):
            return None
        form = forms.get(m.x)
        if not isinstance(form, mx.Add) or not all(
                isinstance(t, mx.Pad) and t.axis == m.axis for t in form.terms):
            return None  # (a concatenation's form: its pieces padded along one axis)
        for t in form.terms:
            assert isinstance(t, mx.Pad)
            if sympy.expand(t.lo - m.lo) == 0 and tuple(_shape(t.x)) == tuple(_shape(m)):
                return t.x
        return None
    CANONICAL_MADE.add(piece_of_node)
    return piece_of_node


# -- ls8: layer norm with keepdims statistics, its line-split pairs (issue 12) --------------------


def _broadcast_term(t: mx.M, shape: Shape) -> mx.M | None:
    """``c v`` when ``t`` is ``c v 𝟏ᵀ`` (a column broadcast across the columns of ``shape``)
    or ``c 𝟏 v`` (a row down its rows), else None: in a sum of terms of the whole
    ``shape`` the column (row) itself is broadcast, as a keepdims mean's adjoint is added
    where mu is named (``… − (1/D) (Y − T) g) ⊘ √(…)``)."""
    c, body = (t.coeff, t.x) if isinstance(t, mx.Scale) else (mx.ONE, t)
    if not isinstance(body, mx.MatMul) or len(shape) != 2 or mx.batch_of(t):
        return None
    if isinstance(body.b, mx.Ones) and _shape(body.a) == (shape[0], 1):
        part = body.a
    elif isinstance(body.a, mx.Ones) and _shape(body.b) == (1, shape[1]):
        part = body.b
    else:
        return None
    return mx.scale(c, part)


def _number_out(m: mx.M) -> mx.M:
    """``(2/(B D)) a − (2/(B D²)) b`` → ``(2/(B D)) (a − (1/D) b)``: the number of a sum's
    term that leaves every term's number ±1 or ±1 over dims (1/D, not D, nor 3/2: 2 a + 3 b
    stays) is written once in front, as the index form's sum is factored where the sum is
    built whole; else ``m``."""
    if not isinstance(m, mx.Add):
        return m
    coeffs = [t.coeff.value if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const)
              else sympy.S.One for t in m.terms]

    def over_dims(r: Any) -> bool:
        num, den = sympy.fraction(sympy.cancel(r))
        return num in (1, -1) and (den == 1 or bool(den.free_symbols))
    for c in dict.fromkeys(-k if k.could_extract_minus_sign() else k for k in coeffs):
        if c != 1 and all(over_dims(k / c) for k in coeffs):
            inv = mx.Const(1 / c)
            return mx.scale(mx.Const(c), mx.add(*[mx.scale(inv, t) for t in m.terms]))
    return m


def reduce_as_product_of_many(m: mx.M) -> mx.M | None:
    """``rowsum(A ⊙ B ⊙ gᵀ)`` → ``(A ⊙ B) g`` for a vector g read by name (a layer norm's
    gain): as :func:`reduce_as_product`, with more than one factor beside it.  With the node
    ``Y = gᵀ ⊙ (X − mu) ⊘ √(…)`` written out, the keepdims layer norm's rowsum(Y ⊙ (Y − T))
    ⊘ √(…) is rowsum((Y − T) ⊙ (X − mu) ⊙ gᵀ) ⊘ (…), what it prints with Y inline as
    ((Y − T) ⊙ (X − mu)) g ⊘ (…).  Not a column sum, whose product would transpose the
    whole product ((A ⊙ B)ᵀ c), nor a row that is computed (a slice, a sum: their products
    read no better)."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.ROWSUM and
            isinstance(m.x, mx.Hadamard) and len(m.x.factors) > 2 and len(m.x.shape) == 2) \
            or mx.batch_of(m):
        return None
    x = m.x
    vs = [f for f in x.factors if f.shape == (1, x.shape[1]) and f.shape != x.shape]
    rest = [f for f in x.factors if f not in vs]
    if len(vs) != 1 or not (isinstance(vs[0], mx.Transpose) and isinstance(vs[0].x, mx.Ref)) \
            or mx.broadcast_shape([f.shape for f in rest]) != x.shape:
        return None
    return mx.matmul(mx.hadamard(*rest), vs[0].x)


def make_product_reads_node(named: Named) -> Rule:
    """``((A ⊙ a) v) ⊙ F ⊘ u`` → ``rowsum(A ⊙ N) ⊙ F ⊘ √u`` where ``N = vᵀ ⊙ a ⊘ √u`` is a
    forward node of ``named``: a product with the node's row factor ``v``, taken over a factor
    ``a`` of the node's numerator, is the row sum of the node times the rest, once the node's
    divisor (a column) is lent from the divisor beside it.  The keepdims layer norm with
    ``Y = g * (X - mu) / sqrt(var + ε)`` on one line printed ``(((X − mu) ⊙ (Y − T)) g) ⊙
    (X − mu) ⊘ (var + ε)`` where its line split at ``g * (X - mu)`` prints ``rowsum(Y ⊙
    (Y − T)) ⊙ (X − mu) ⊘ √(var + ε)``, the textbook's X̂ ⊙ mean(∂L/∂X̂ ⊙ X̂).  Only where the
    lent divisor cancels (no power of it is left over the whole)."""
    nodes = _forward_forms(named).scaled_quotients

    def product_reads_node(m: mx.M) -> mx.M | None:
        if not nodes or not isinstance(m, mx.Hadamard) or len(m.shape) != 2 or \
                mx.batch_of(m):
            return None
        for k, f in enumerate(m.factors):
            if not (isinstance(f, mx.MatMul) and _shape(f.b)[1:] == (1,)):
                continue
            for (v, a, d), ref in nodes:
                if f.b != v or a not in _flat_factors(f.a) or ref.shape != _shape(f.a):
                    continue
                rest = mx.hadamard(*m.factors[:k], *m.factors[k + 1:])
                if all(_negative_power(g) for g in _flat_factors(rest)):
                    continue  # (a product alone over its divisor, ∂L/∂var = −(1/2) ((∂L/∂Y ⊙
                    # C) g) ⊘ (√(var + ε))^∘3, stays as the textbook writes it: read as
                    # rowsum(∂L/∂Y ⊙ Y) ⊘ (var + ε) first, the ⊘ √(var + ε) its sum with
                    # ∂L/∂Y ⊙ gᵀ ⊘ √(var + ε) shares is no longer seen, as on one line)
                if d is not None:
                    lent = mx.power(d.x, -d.exp)  # (A v) = rowsum(A ⊙ N) ⊘ d
                    rest = mx.hadamard(rest, lent)
                    rest = merge_roots(rest) or merge_powers(rest) or rest
                    if [g for g in _flat_factors(rest)
                            if _sqrt_base(g)[0] in (d.x, _radicand(d.x))] != [d]:
                        continue  # (the node's own divisor is what is left, no other power
                        # of it: X ⊙ ((X ⊙ t) g) ⊘ (√u)^∘3 beside t ⊘ √u waits until ⊘ √u
                        # is taken out of both, as the one-line spec has it, and reads
                        # X ⊙ rowsum(N ⊙ t) ⊘ √u inside; taken first, ⊘ u is left, and the
                        # √u the two terms share is not seen)
                return mx.hadamard(mx.reduce(ReduceKind.ROWSUM,
                                             mx.hadamard(_without(f.a, a), ref)), rest)
        return None
    product_reads_node.__doc__ = make_product_reads_node.__doc__
    READS_NODE.add(product_reads_node)
    return product_reads_node


def _factors_written_out(form: mx.M, forms: dict[mx.M, mx.M]) -> mx.M:
    """An elementwise product ``form`` with each factor that is a forward node whose own form
    is an elementwise product or a power written as that form (one level), else ``form``."""
    if not isinstance(form, mx.Hadamard):
        return form
    return mx.hadamard(*[forms[f] if isinstance(f, mx.Ref) and
                         isinstance(forms.get(f), (mx.Hadamard, mx.Pow)) else f
                         for f in form.factors])


def _scaled_quotient(form: mx.M) -> tuple[mx.M, mx.M, mx.Pow] | None:
    """``(v, a, d)`` for a form ``vᵀ ⊙ a ⊙ d`` of a row ``vᵀ``, a matrix ``a`` of the form's
    shape and a column divisor ``d`` (a negative power), else None."""
    if not (isinstance(form, mx.Hadamard) and len(form.factors) == 3 and
            len(form.shape) == 2) or mx.batch_of(form):
        return None
    rows = [f for f in form.factors if isinstance(f, mx.Transpose) and
            _shape(f) == (1, form.shape[1]) and _shape(f.x) == (form.shape[1], 1)]
    whole = [f for f in form.factors if _shape(f) == form.shape]
    divs = [f for f in form.factors if isinstance(f, mx.Pow) and _negative_power(f) and
            _shape(f) == (form.shape[0], 1)]
    if not (len(rows) == len(whole) == len(divs) == 1) or 1 in form.shape:
        return None
    row, div = rows[0], divs[0]
    assert isinstance(row, mx.Transpose) and isinstance(div, mx.Pow)
    return row.x, whole[0], div


RULES = (*RULES, reduce_as_product_of_many, log_softmax_by_hand)
CANONICAL = CANONICAL | {reduce_as_product_of_many}


def simplify(m: mx.M, wheres: Sequence[Where] = (),
             symmetric: frozenset[str] = frozenset(), named: Named = ()) -> mx.M:
    """``m`` rewritten by :data:`RULES` (the cancelling rule for ``wheres``, ``Aᵀ = A`` for
    the ``symmetric`` inputs, centred sums of the forward nodes ``named`` are zero, a
    softmax summed along its axis is one) until no rule lowers its cost (the canonical ones
    at equal cost, as the module says)."""
    named = _forward_forms(named)  # (what the rules read of all the nodes, made once)
    turned = (make_transposed_node(named),) if named.transposed else ()
    inward = make_transpose_inward(named)
    table = tuple(inward if r is transpose_inward else r for r in RULES)
    base = (make_symmetric(symmetric), *turned, *table, make_sum_as_written(named),
            make_opposite(named), make_one_way(named),
            make_reduce_of_product(symmetric), make_cancel(wheres),
            make_centred(named), make_inverse_times(named, symmetric), make_row_sum_of_node(named),
            make_sums_to_one(named), make_piece_of_node(named), make_product_reads_node(named),
            make_softmax_by_hand(named))
    rules = (*base, make_distribute(base, named), make_pull_ahead(base))
    # a common factor is pulled out last, once nothing else shortens the form: pulled
    # early, ⊘ n out of (e rowsum(V)) ⊘ n − 1 ⊘ n hides P rowsum(V) of P = e ⊘ n
    common = make_common_factor(named)
    factored = (*rules, common)
    m = _fixed_point(m, rules)
    # (m is the other rules' fixed point and the common factor is tried last at each node:
    # a pass of it alone finds whether a pass of all would change anything)
    # the passes of all the rules and the common factor, by node
    memo: _Memo | None = {} if MEMO else None
    if _pass(m, (common,)) != m:
        m = _fixed_point(m, factored, memo)
    canonical = _canonical(m)
    if canonical != m:  # two traces now written alike may collect: 2 d·tr(X⁻¹ Ẋ) − e·tr(X⁻¹ Ẋ)
        m = _fixed_point(canonical, factored, memo)
    if reading_forward():
        m = _as_written(m)
    elif reading_traces():  # the tangent of a line that writes a trace: d tr(X⁻¹ A)
        m = _traces_as_written(m)
    if _declared_row(m):
        m = _size_one_products(m)
    m = _number_last(m)
    top = absorb_sign(m, named.written_differences)
    if top is not None and (cost(top), _minuses(top)) < (cost(m), _minuses(m)):
        return top
    out = sign_out(m)
    return out if out is not None and _minuses(out) < _minuses(m) else m


def _declared_row(m: mx.M) -> bool:
    """Whether ``m`` reads a tensor whose first axis is a declared 1 (W2: [1, H]): a row
    that is a matrix, not a vector (a vector is a column and its row a transpose)."""
    return any(_row_ref(n) for n in mx.walk(m))


def _row_ref(m: mx.M) -> bool:
    return isinstance(m, mx.Ref) and len(m.shape) == 2 and m.shape[0] == 1 and \
        m.shape[1] != 1 and not mx.batch_of(m)


def _reads_row(m: mx.M) -> bool:
    """Whether ``m`` reads a declared row outside any function's argument (a row inside
    tanh(x W1 + b1ᵀ) is that argument's, not a factor's)."""
    if _row_ref(m):
        return True
    if isinstance(m, (mx.Fn, mx.AxisFn)):
        return False
    return any(_reads_row(c) for c in m.children())


def _column(m: mx.M) -> bool:
    return len(m.shape) == 2 and m.shape[1] == 1 and m.shape[0] != 1 and not mx.batch_of(m)


def _size_one_products(m: mx.M) -> mx.M:
    """``m`` with the products over a declared size-1 axis written as matrix products, as
    a textbook writes a layer on a [B, 1] input: the outer product of a column and a
    declared row is ``∂L/∂Yh W2`` (was ``∂L/∂Yh ⊙ W2``), and a row or column sum of an
    elementwise product with such a factor is a product with it: ``W2ᵀ ⊙ colsum(∂L/∂Yh ⊙
    X ⊙ 𝟙[X W1ᵀ > 0])`` is ``(𝟙[X W1ᵀ > 0] ⊙ (∂L/∂Yh W2))ᵀ X``, ``∂L/∂Yh ⊙ rowsum(W1ᵀ ⊙ W2
    ⊙ 𝟙[X W1ᵀ > 0])`` is ``(𝟙[X W1ᵀ > 0] ⊙ (∂L/∂Yh W2)) W1``."""
    for _ in range(8):
        new = _size_one_pass(m)
        if new == m:
            break
        m = new
    return m


def _size_one_pass(m: mx.M) -> mx.M:
    m = rebuild(m, [_size_one_pass(c) for c in m.children()])
    new = _sum_as_product(m) or _rows_scaled_in(m) or _outer_as_product(m)
    return m if new is None else mx.with_src(new, cast(Any, m).src)


def _rows_scaled_in(m: mx.M) -> mx.M | None:
    """``c ⊙ (A w)`` → ``(c ⊙ A) w`` for columns c, w and an A that reads a declared row
    (each row of a product scaled is that row of its left factor scaled), so that c meets
    the row: ``(𝟙[X W1ᵀ > 0] ⊙ (∂L/∂Yh W2)) W1``."""
    if not isinstance(m, mx.Hadamard):
        return None
    prods = [f for f in m.factors if isinstance(f, mx.MatMul)]
    if len(prods) != 1:
        return None
    p = prods[0]
    outside = [f for f in m.factors if f is not p]
    if not (_column(p) and _column(p.b) and len(p.a.shape) == 2 and 1 not in p.a.shape and
            all(_column(v) and v.shape == p.shape for v in outside) and _reads_row(p.a)):
        return None
    a = _outer_as_product(mx.hadamard(*outside, p.a))
    return None if a is None else mx.matmul(a, p.b)  # (only where c meets a row)


def _outer_as_product(m: mx.M) -> mx.M | None:
    """``c ⊙ r ⊙ A`` of a column c and a declared row r → ``(c r) ⊙ A``."""
    if not isinstance(m, mx.Hadamard) or len(m.shape) != 2 or 1 in m.shape:
        return None
    fs = list(m.factors)
    # a declared row, or a vector's transpose beside one (∂L/∂u w2ᵀ of w2: [Hd])
    row = next((f for f in fs if (_row_ref(f) or isinstance(f, mx.Transpose) and
                                  isinstance(f.x, mx.Ref) and _column(f.x))
                and f.shape[1] == m.shape[1]), None)
    col = next((f for f in fs if _column(f) and f.shape[0] == m.shape[0]), None)
    if row is None or col is None:
        return None
    rest = [f for f in fs if f is not row and f is not col]
    outer = mx.matmul(col, row)
    return mx.hadamard(*rest, outer) if rest else outer


def _sum_as_product(m: mx.M) -> mx.M | None:
    """``v ⊙ colsum(A ⊙ c)`` → ``(A ⊙ vᵀ)ᵀ c`` and ``v ⊙ rowsum(A ⊙ wᵀ)`` → ``(v ⊙ A) w``,
    for a column ``c`` (``w``) that is a tensor, where the form reads a declared row."""
    outside: list[mx.M] = []
    r = m
    if isinstance(m, mx.Hadamard):
        sums = [f for f in m.factors if isinstance(f, mx.Reduce)]
        if len(sums) != 1:
            return None
        r = sums[0]
        outside = [f for f in m.factors if f is not r]
    if not (isinstance(r, mx.Reduce) and r.kind in (ReduceKind.ROWSUM, ReduceKind.COLSUM)
            and isinstance(r.x, mx.Hadamard)) or mx.batch_of(r):
        return None
    inner: list[mx.M] = list(r.x.factors)
    picks: list[mx.M]
    if r.kind == ReduceKind.COLSUM:
        if not all(_column(v) and v.shape == r.shape for v in outside):
            return None
        inner += [mx.transpose(v) for v in outside]
        # the column the sum runs over: an input, not the upstream adjoint
        picks = [f for f in inner if _column(f) and isinstance(f, mx.Ref) and
                 f.kind == RefKind.TENSOR]
    else:
        if not all(_column(v) and v.shape == r.shape for v in outside):
            return None
        inner += outside
        picks = [f for f in inner if isinstance(f, mx.Transpose) and isinstance(f.x, mx.Ref)
                 and _column(f.x) and f.x.kind == RefKind.TENSOR]
    if not picks or not any(_reads_row(f) for f in inner):
        return None
    pick = picks[-1]
    rest = [f for f in inner if f is not pick]
    a = mx.hadamard(*rest) if len(rest) > 1 else rest[0] if rest else None
    if a is None or _shape(a) != r.x.shape:
        return None
    a = _outer_as_product(a) or a
    if r.kind == ReduceKind.COLSUM:
        # the transpose on the whole, unless carried to the leaves it leaves fewer: ((X − mu)
        # ⊘ sd) w, not ((Xᵀ − muᵀ) ⊘ sdᵀ)ᵀ w
        deep = transpose_deep(a)
        turned = deep if isinstance(a, mx.Ref) or mx.transposes(deep) < mx.transposes(a) else \
            mx.Transpose(a, (a.shape[1], a.shape[0]))
        return mx.matmul(turned, pick)
    return mx.matmul(a, cast(mx.Transpose, pick).x)


def sign_out(m: mx.M) -> mx.M | None:
    """``(−(3/10) fp − (7/10) fn)/d²`` → ``−((3/10) fp + (7/10) fn)/d²``: a sum of negative
    terms among the factors of a whole form is the negated sum, its minus written once in
    front (only at the top, and only where that writes fewer minus signs: a number costs one
    more, so the cost would not take it)."""
    if not isinstance(m, (mx.Hadamard, mx.MatMul)):
        return None
    chain = list(m.factors) if isinstance(m, mx.Hadamard) else _chain(m)
    for k, f in enumerate(chain):
        if isinstance(f, mx.Add) and all(_negative(t) for t in f.terms):
            flipped = mx.add(*[mx.neg(t) for t in f.terms])
            rest = [*chain[:k], flipped, *chain[k + 1:]]
            if isinstance(m, mx.MatMul):
                return mx.neg(_product(rest))
            return mx.neg(mx.scalar_product(rest) if m.is_scalar else mx.hadamard(*rest))
    return None


def _fixed_point(m: mx.M, rules: Sequence[Rule], memo: _Memo | None = None) -> mx.M:
    if memo is None and MEMO:
        memo = {}
    for _ in range(50):  # each round lowers the cost, so this ends long before
        out = _pass(m, rules, memo)
        if out == m:
            break
        m = out
    return m


def _number_last(m: mx.M) -> mx.M:
    """``−1 + M h0`` written ``M h0 − 1``: a difference of a term and a number, as SymPy's
    order (numbers first) hands it over from an index form, puts the number last."""
    kids = m.children()
    new = [_number_last(c) for c in kids]
    if any(a is not b for a, b in zip(new, kids)):
        m = mx.with_src(rebuild(m, new), cast(Any, m).src)
    if isinstance(m, mx.Add) and len(m.terms) == 2 and isinstance(m.terms[0], mx.Const) and \
            _negative(m.terms[0]) and not _negative(m.terms[1]):
        return mx.with_src(mx.Add((m.terms[1], m.terms[0]), m.shape), cast(Any, m).src)
    return m


def _canonical(m: mx.M) -> mx.M:
    """``m`` with each ``sum(A ⊙ Bᵀ)`` of square matrices along a tangent that no rule
    shortened written ``tr(A B)`` at the same cost: one form for what reads ``sum(Ẋ ⊙ X⁻ᵀ)``
    in one term and ``sum(X⁻¹ ⊙ Ẋᵀ)`` in the next (forms without a tangent keep theirs)."""
    m = rebuild(m, [_canonical(c) for c in m.children()])
    new = trace_of_product(m)
    return mx.with_src(new, cast(Any, m).src) if new is not None and \
        cost(new) <= cost(m) and _tangent(new) else m


def _as_written(m: mx.M) -> mx.M:
    """A forward line's form with every ``sum(A ⊙ Bᵀ)`` its trace where the line writes a
    trace (``trace(A @ X)`` reads tr(A X), not sum(A ⊙ Xᵀ); ``sum(A * X.T)`` stays), rotated
    by :func:`_trace_from_a_name`, and each product that is one number the way round with
    fewer transposes (:func:`_turned_scalar`).  Done last, with no rule after it: what the
    line writes, not what it simplifies to (tr(X X⁻¹) would cancel)."""
    m = rebuild(m, [_as_written(c) for c in m.children()])
    new = (_trace_as_written(m) or _diagonal_of_function(m) if reading_traces() else None) or m
    new = _trace_from_a_name(new) or _turned_scalar(new) or collect_terms(new) or new
    return m if new is m else mx.with_src(new, cast(Any, m).src)


def _traces_as_written(m: mx.M) -> mx.M:
    """``m`` with every ``sum(P ⊙ Q)`` a trace, from a name (:func:`_as_written`'s traces
    alone): the tangent of ``trace(inv(X) @ A)`` reads −tr(A X⁻¹ Ẋ X⁻¹), as d tr(X⁻¹ A) =
    −tr(X⁻¹ dX X⁻¹ A) is written, not −sum(X⁻ᵀ ⊙ (Ẋ X⁻¹ A))."""
    m = rebuild(m, [_traces_as_written(c) for c in m.children()])
    new = _trace_as_written(m) or _diagonal_of_function(m) or m
    new = _trace_from_a_name(new) or new
    return m if new is m else mx.with_src(new, cast(Any, m).src)


def _diagonal_of_function(m: mx.M) -> mx.M | None:
    """Where a line writes a trace of an elementwise function, the function of the whole
    matrix: ``sum(exp(diagonal(X)))`` is ``tr(exp(X))``, and ``diag(exp(diagonal(X)))``
    (its adjoint) ``exp(X) ⊙ 𝐈``, as the same line split (``E = exp(X)``, ``L = trace(E)``)
    reads ``tr(E)`` and ``E ⊙ 𝐈``: one reading of one line however it is written."""
    if isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM and not mx.batch_of(m):
        whole = _of_whole_matrices(m.x)
        return None if whole is None else _trace(whole)
    if isinstance(m, mx.Pow) and isinstance(m.x, mx.Norm) and _exp(m) == 2:
        # ‖diagonal(X)‖² of trace(X * X): tr(X ⊙ X), the squares the line writes (of a
        # function, tr(tanh(X)^∘2))
        whole = _of_whole_matrices(m.x.x, alone=True)
        return None if whole is None else _trace(
            mx.hadamard(whole, whole) if isinstance(whole, mx.Ref) else
            mx.power(whole, sympy.Integer(2)))
    if isinstance(m, mx.Diag):
        whole = _of_whole_matrices(m.x, alone=True)
        if whole is None:
            return None
        return mx.hadamard(whole, mx.Eye(mx.rows(whole), _shape(whole)))
    return None


def _of_whole_matrices(m: mx.M, alone: bool = False) -> mx.M | None:
    """``m``, an elementwise function of diagonals of square matrices of one shape (a
    diagonal alone only if ``alone``), with each diagonal its matrix (``exp(diagonal(X))`` →
    ``exp(X)``: the diagonal of a function of X is the function of X's diagonal); else None."""
    if isinstance(m, mx.Diagonal) and not alone:
        return None  # (tr(X) reads as it does)
    shapes: set[Shape] = set()

    def whole(x: mx.M) -> mx.M | None:
        if isinstance(x, mx.Diagonal):
            inner = _shape(x.x)
            if len(inner) != 2 or inner[0] != inner[1] or mx.batch_of(x.x):
                return None
            shapes.add(inner)
            return x.x
        if isinstance(x, mx.Const) and not x.shape:
            return x
        if not isinstance(x, (mx.Fn, mx.Pow, mx.Hadamard, mx.Add, mx.Scale)):
            return None
        kids = [whole(c) for c in x.children()]
        if any(k is None for k in kids):
            return None
        ks = cast(list[mx.M], kids)
        if isinstance(x, mx.Scale) and ks[0].shape:
            return None
        out = mx.fn(x.name, *ks) if isinstance(x, mx.Fn) else \
            mx.power(ks[0], x.exp) if isinstance(x, mx.Pow) else \
            mx.hadamard(*ks) if isinstance(x, mx.Hadamard) else \
            mx.scale(*ks) if isinstance(x, mx.Scale) else mx.add(*ks)
        return mx.with_src(out, x.src)  # (where the index form's factor stands)

    out = whole(m)
    return out if out is not None and len(shapes) == 1 and _shape(out) in shapes else None


def _trace_as_written(m: mx.M) -> mx.M | None:
    """``sum(P ⊙ Q)`` as the trace of a product, of tr(P Qᵀ) and tr(Q Pᵀ) (their
    transposes carried to the leaves) the one with fewer transposes: trace((X + Y) @ Z)
    reads tr((X + Y) Z), not tr((X + Y)ᵀ Zᵀ)."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM) or mx.batch_of(m) or \
            not _frobenius_pair(m):
        return None
    p, q = cast(mx.Hadamard, m.x).factors
    traces = [_trace(mx.matmul(u, transpose_deep(v))) for u, v in ((p, q), (q, p))]
    return min(traces, key=lambda t: (mx.transposes(t), cost(t)))


def _turned_scalar(m: mx.M) -> mx.M | None:
    """A forward line's product that is one number written the way round with fewer
    transposed matrices, then fewer transposes: aᵀ X⁻¹ b of a @ solve(X, b), not bᵀ X⁻ᵀ a
    (the one number's transpose is itself); vᵀ R mᵀ of sum(v @ (R * m)) with m a row, not
    m Rᵀ v (a transposed vector is a column or a row, a transposed matrix a turned one)."""
    if not (isinstance(m, mx.MatMul) and m.is_scalar) or mx.batch_of(m) or \
            _product_functions(m):  # (w3ᵀ relu(W2ᵀ P) keeps its column pre-activation)
        return None
    turned = transpose_deep(m)
    return turned if (mx.transposes(turned, matrices=True), mx.transposes(turned)) < \
        (mx.transposes(m, matrices=True), mx.transposes(m)) else None


def _trace_from_a_name(m: mx.M) -> mx.M | None:
    """A forward line's trace of a product rotated to start at the first plain name in the
    alphabet (tr(A X B), not tr(X B A), of trace(A @ X @ B)): the line reads as written, as
    far as an index form still tells (its sum has no first factor)."""
    if not (isinstance(m, mx.Reduce) and m.kind == ReduceKind.SUM and
            isinstance(m.x, mx.Diagonal)):
        return None
    chain = _chain(m.x.x)
    if len(chain) < 2:
        return None
    turns = [chain[k:] + chain[:k] for k in range(len(chain))]
    best = min(turns, key=lambda c: (not isinstance(c[0], mx.Ref), getattr(c[0], "name", ""),
                                     [_key(f) for f in c]))
    prod = _product(best)
    return _trace(prod)


def _tangent(m: mx.M) -> bool:
    return any(isinstance(n, mx.Ref) and n.kind in (RefKind.TANGENT, RefKind.ROP)
               for n in mx.walk(m))


def _minuses(m: mx.M) -> int:
    """The minus signs a form is written with: −c (y − p) has two, c (p − y) one."""
    return sum(1 for n in mx.walk(m) if _negative(n))


# a pass's result for each node it met, by the node's identity (the node kept alive beside
# its result, so that its id is not reused): the rules are functions of the node alone, so a
# subtree the last round left as it was (the same object) comes out of the next as it did
_Memo = dict[int, tuple[mx.M, mx.M]]
MEMO = True  # tests switch it off to show the memo is invisible


def _pass(m: mx.M, rules: Sequence[Rule], memo: _Memo | None = None) -> mx.M:
    """One bottom-up pass: children first, then each rule at this node while one helps
    (``memo``: the results of earlier passes of the same ``rules``, by node)."""
    if memo is not None:
        hit = memo.get(id(m))
        if hit is not None and hit[0] is m:
            return hit[1]
        out = _pass_here(m, rules, memo)
        memo[id(m)] = (m, out)
        return out
    return _pass_here(m, rules, None)


def _pass_here(m: mx.M, rules: Sequence[Rule], memo: _Memo | None) -> mx.M:
    m = rebuild(m, [_pass(c, rules, memo) for c in m.children()])
    improved = True
    shared = False  # (a rewrite that may cost one more, once at a node: no rule can undo it
    # and another redo it forever)
    while improved:
        improved = False
        for rule in rules:
            new = rule(m)
            if new is not None and new != m:  # a rule's result keeps the node's shape
                new = mx.broadcast_to(new, _shape(m))
            if new is None or new == m:
                continue
            sharing = rule in SHARING and not shared and cost(new) <= cost(m) + 1
            if _smaller(new, m) or sharing or rule in READS_NODE or \
                    (rule in CANONICAL or rule in CANONICAL_MADE) and cost(new) <= cost(m):
                m, improved = mx.with_src(new, cast(Any, m).src), True
                shared = shared or sharing
                break
    return m


def _smaller(new: mx.M, old: mx.M) -> bool:
    """Whether a rewrite lowers the cost, or keeps it and reads fewer distinct tensors (an
    inverse that met its matrix: Yᵀ Xᵀ Yᵀ is Yᵀ, and X is gone): one strict order, so
    rewriting still ends."""
    a, b = cost(new), cost(old)
    return a < b or a == b and _names(new) < _names(old)


def _names(m: mx.M) -> int:
    return len({n.name for n in mx.walk(m) if isinstance(n, mx.Ref)})


def rebuild(m: mx.M, kids: list[mx.M]) -> mx.M:
    """``m`` with new children, through the smart constructors when any changed."""
    if list(m.children()) == kids:
        return m
    src = cast(Any, m).src
    if isinstance(m, mx.Transpose):
        out = mx.transpose(kids[0])
    elif isinstance(m, mx.MatMul):
        out = mx.matmul(*kids)
    elif isinstance(m, mx.Hadamard):
        out = mx.scalar_product(kids) if m.is_scalar else mx.hadamard(*kids)
    elif isinstance(m, mx.Scale):
        out = mx.scale(*kids)
    elif isinstance(m, mx.Add):
        # a term that came out 0 (a centred rowsum) leaves the others, which may be smaller
        # (wᵀ of a B×D sum): they keep the shape the sum stood for, 𝟏 wᵀ
        out = mx.broadcast_to(mx.add(*kids), m.shape)
    elif isinstance(m, mx.Pow):
        out = mx.power(kids[0], m.exp)
    elif isinstance(m, mx.Fn):  # all its arguments, not the first alone
        out = mx.fn(m.name, *kids)
    elif isinstance(m, mx.Reduce):
        out = mx.reduce(m.kind, kids[0])
    elif isinstance(m, mx.Diag):
        out = mx.Diag(kids[0], m.shape)
    elif isinstance(m, mx.Diagonal):
        out = mx.Diagonal(kids[0], m.shape)
    elif isinstance(m, mx.AxisFn):
        out = mx.AxisFn(m.head, kids[0], m.axis, m.arg_shape, m.shape)
    elif isinstance(m, mx.Einsum):
        out = mx.Einsum(m.subscripts, tuple(kids), m.shape)
    elif isinstance(m, mx.Norm):
        out = mx.Norm(kids[0])
    elif isinstance(m, mx.Reshape):
        out = mx.Reshape(kids[0], m.dims, m.shape)
    elif isinstance(m, (mx.Slice, mx.Pad)):
        out = type(m)(kids[0], m.axis, m.lo, m.hi, m.dims, m.shape)
    elif isinstance(m, mx.BatchSum):
        out = mx.batch_sum(kids[0], m.dims, m.names)
    elif isinstance(m, mx.Take):
        out = mx.Take(kids[0], m.axis, m.at, m.dims, m.shape)
    elif isinstance(m, mx.Permute):
        out = mx.Permute(kids[0], m.axes, m.dims, m.shape)
    elif isinstance(m, mx.SumAxes):
        out = mx.SumAxes(kids[0], m.axes, m.keep, m.shape)
    elif isinstance(m, mx.Each):
        out = mx.Each(kids[0], m.dims, m.names, m.at, m.spec, m.shape)
    elif isinstance(m, mx.Stack):
        out = mx.Stack(tuple(kids), m.axis, m.dims, m.shape)
    elif isinstance(m, mx.Conv):
        out = m.rebuilt(tuple(kids))
    else:  # pragma: no cover - leaves have no children
        return m
    return mx.with_src(out, src)


def used_wheres(m: mx.M, wheres: Sequence[Where]) -> tuple[Where, ...]:
    """The ``where`` definitions a simplified form still uses: σ' may have cancelled, or
    been turned the other way round (then so is its definition); and those the definitions
    used read (t2 = f(t1) needs t1's clause too), in the order ``wheres`` has them."""
    nodes = set(mx.walk(m))
    used: dict[int, Where] = {}
    grown = True
    while grown:  # the clauses the form reads, then those their right sides read
        grown = False
        for k, w in enumerate(wheres):
            if k in used:
                continue
            if w.lhs in nodes or isinstance(w.rhs, mx.Each) and isinstance(w.lhs, mx.Ref) and \
                    any(isinstance(n, mx.Ref) and n.name == w.lhs.name and
                        n.kind == w.lhs.kind for n in nodes):
                # (a temporary defined per element, t1_b = Z_b w, read whole or per element)
                used[k] = w
            elif _shape(w.lhs) != () and transpose_deep(w.lhs) in nodes:
                used[k] = Where(transpose_deep(w.lhs), transpose_deep(w.rhs))
            else:
                continue
            nodes.update(mx.walk(used[k].rhs))
            grown = True
    return tuple(used[k] for k in sorted(used))


def simplify_form(m: mx.M | None, wheres: Sequence[Where],
                  symmetric: frozenset[str] = frozenset(), named: Named = ()
                  ) -> tuple[mx.M | None, tuple[Where, ...]]:
    """The recognizer's output simplified, with the ``where`` definitions it still needs."""
    if m is None:
        return None, tuple(wheres)
    out = simplify(m, wheres, symmetric, named)
    return out, used_wheres(out, wheres)


__all__ = ["RULES", "ForwardForms", "cost", "make_centred", "rebuild", "shows_symmetric", "simplify",
           "simplify_form", "used_wheres"]

