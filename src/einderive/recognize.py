"""Index form to matrix form, by einderive's own rules.

A product term is a list of factors, each with the indices it carries, and a
set of summed indices.  Factors over the same indices are multiplied
elementwise; then each summed index is eliminated in turn: held by one
factor it is a row or column sum, held by two it is a matrix product (with
the transposes placed on the operands, never on a product), held by a
vector and two matrices the vector is broadcast into one of them.  Factors
left with disjoint indices form an outer product.  Whatever still has more
than two indices, or no rule, becomes an ``einsum`` - said so, never guessed.
SymPy's own array-to-matrix conversion is not used: it drops transposes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import permutations
from typing import Any

from sympy import Add as SAdd
import sympy
from sympy import Indexed, KroneckerDelta, Mul, S, Sum, Symbol
from sympy import Pow as SPow

from . import matrix as mx
from .graph import at_most, dim_values, outside_axis, same_size
from .indexed import LETTERS, PRIME, Ctx, digits_fill, key_of, nodes_of
from .kinds import RefKind, ReduceKind, TensorKind
from .ops import (
    TRACE_OP,
    AXIS_OPS,
    AxisFunction,
    Digit,
    ElementwiseFunction,
    Flat,
    IN_RANGE,
    IndexMap,
    Shift,
    Window,
    has_index_map,
    shift_parts,
    reshape_view,
)
from .record import Record, replace
from .recognize_batch import (batch_positions, element_at, ones_ahead, part_at,
                              permuted_view, read_indices, read_permuted)
from .recognize_conv import read_conv, read_conv_bias
from .recognize_frame import read_framed
from .shapes import Shape

Expr = Any  # a SymPy expression (SymPy ships no type information)
Idx = tuple[Any, ...]  # index symbols, or 0 for a size-1 axis
Index = Any  # one index symbol (a SymPy Symbol)
Namer = Callable[[Expr], Expr]


class NoMatrixForm(Exception):
    """No rule applies; the caller prints the index form (or an einsum) instead."""


class Blob(Record):
    m: mx.M
    idx: Idx  # the index symbol of each axis of m (a column vector has one)


def math_shape(shape: Shape) -> Shape:
    """The reader's shape of a tensor: vectors are columns."""
    return (shape[0], 1) if len(shape) == 1 else tuple(shape)


class Where(Record):
    """``lhs = rhs``: a derivative helper written out, e.g. σ'(z) = y ⊙ (1 − y)."""

    lhs: mx.M
    rhs: mx.M


class Recognition(Record):
    """What recognition returns: the matrix form (None when no rule applies), the
    derivative helpers it writes out, and whether it fell back to ``einsum``."""

    matrix: mx.M | None
    wheres: tuple[Where, ...] = ()
    einsum: bool = False


def recognize(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
              idx: Idx, shape: Shape, oriented: frozenset[Any] = frozenset()) -> Recognition:
    """The matrix form of ``expr``, a tensor of ``shape`` indexed by ``idx``; ``oriented``
    holds the arguments of functions as the forward pass reads them (:func:`orientations`),
    which the same arguments in ``expr`` are read as, not transposed."""
    if _TEMPORARIES.get(None) is None:  # the outermost reading numbers the temporaries
        token = _TEMPORARIES.set({})
        try:
            return recognize(ctx, namer, anon_forms, expr, idx, shape, oriented)
        finally:
            _TEMPORARIES.reset(token)
    if not _NUMPY_AXES.get():
        return _recognize(ctx, namer, anon_forms, expr, idx, shape, oriented)
    before = _NUMPY_AXES_READ[0]
    found = _recognize(ctx, namer, anon_forms, expr, idx, shape, oriented)
    if _NUMPY_AXES_READ[0] == before:
        return found
    # NumPy's sums over one axis of a tensor of three and its broadcasts into three axes
    # (sum(X1, axis=2) w, reshape(E, [1, N, H]) + reshape(D, [T, 1, H])) stand where
    # einsum stood: a reading without them that says it otherwise (element by element,
    # rowsum(Y_j), X_b w, or summed over two axes at once) keeps its form
    off = _NUMPY_AXES.set(False)
    try:
        without = _recognize(ctx, namer, anon_forms, expr, idx, shape, oriented)
    finally:
        _NUMPY_AXES.reset(off)
    if without.matrix is not None and not without.einsum:
        return without
    return found if found.matrix is not None else without


def _recognize(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
               idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition:
    batched = _batched(ctx, namer, anon_forms, expr, idx, shape)
    if batched is not None and not (batched.matrix is not None and any(
            mx.whole_batched(n) for n in mx.walk(batched.matrix))):
        return batched
    # a whole tensor's slice, pad or reshape in the batched reading (pad(X, P:P + T, axis=1)):
    # the plain rules' whole tensors say it as well where they read it without einsum
    plain = _read_plain(ctx, namer, anon_forms, expr, idx, shape, oriented)
    if batched is not None and (plain.matrix is None or plain.einsum or any(
            is_temporary(w) for w in plain.wheres)):
        return batched  # (reshape(∂L/∂Q, [B, T, D]) Wqᵀ, not t1 Wqᵀ where t1 = the same)
    if plain.matrix is not None and plain.einsum and _misshapen(plain.matrix, shape) and \
            [d for d in plain.matrix.shape if d != 1] == [d for d in shape if d != 1]:
        # an einsum over the other axes of a tensor with literal-1 axes among them (g: [1,
        # H, 1, 1] read as its H entries): reshaped to the tensor's own axes, which the
        # notation reads (its H column was printed for the [1, H, 1, 1] tensor)
        return Recognition(mx.Reshape(plain.matrix, tuple(shape), math_shape(shape)),
                           plain.wheres, plain.einsum)
    if plain.matrix is None:  # a row index read at its digits: the reshape of that reading
        return _unflattened(ctx, namer, anon_forms, expr, idx, shape, oriented) or \
            _refolded(ctx, namer, anon_forms, expr, idx, shape, oriented) or plain
    if not plain.einsum and expr.has(Flat):
        # a flat index the plain rules read through a reshape of a padded reshape
        # (reshape(∂L/∂Z reshape(pad(reshape(W, [S, D, D]), 0:S, axis=0), [TD, D])ᵀ, [B, T,
        # D])): read at the flat index itself where that says it in fewer nodes
        refolded = _refolded(ctx, namer, anon_forms, expr, idx, shape, oriented)
        if refolded is not None and refolded.matrix is not None and \
                _nodes(refolded.matrix) < _nodes(plain.matrix):
            return refolded
    return plain


def _nodes(m: mx.M) -> int:
    return sum(1 for _ in mx.walk(m))


def _read_plain(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
                idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition:
    """:func:`recognize` by the plain rules, and the readings tried where they fail."""
    lifted = _split_outside(ctx, namer, anon_forms, expr, idx, shape)
    if lifted is not None and not lifted.einsum:
        return lifted
    order = tuple(i for i in idx if isinstance(i, Symbol))
    reader = _Reader(ctx, namer, anon_forms, order, oriented)
    reader.top = expr
    reader.unit_result = any(i == 0 for i in idx)
    if not shape:
        reader.totals = frozenset(SAdd.make_args(expr))
    try:
        try:
            m = reader.orient(reader.blob(expr), idx, shape)
            if reader.used_ones and (reader.einsum_used or reader.dropped_ones):
                raise NoMatrixForm("a batch of one inside an einsum")
            if (reader.wide_pads or reader.spread) and reader.einsum_used:
                # a whole tensor padded back, then contracted by einsum (einsum('ijk,lk->ijl',
                # pad(∂L/∂H, 1:T − 1, axis=1), W)), or broadcast along a missing digit
                # (_spread_view) then contracted: no easier to read than the index form
                return _framed(ctx, namer, anon_forms, expr, idx, shape) or Recognition(None)
        except NoMatrixForm:
            if not reader.used_ones:
                raise
            # a batch of one that does not read (inside an einsum, or a result without the
            # literal-1 axis): the tensor of the other axes, as before
            reader = _Reader(ctx, namer, anon_forms, order, oriented)
            reader.top = expr
            reader.ones = False
            m = reader.orient(reader.blob(expr), idx, shape)
    except NoMatrixForm:
        return _whole_first(_batched(ctx, namer, anon_forms, expr, idx, shape, elsewhere=True),
                            ctx, namer, anon_forms, expr, idx, shape) or \
            _permuted(ctx, namer, anon_forms, expr, idx, shape) or lifted or \
            _framed(ctx, namer, anon_forms, expr, idx, shape) or \
            _batched(ctx, namer, anon_forms, expr, idx, shape, elsewhere=True, numbers=True) or \
            Recognition(None)
    dropped = reader.dropped_ones
    if dropped and not reader.einsum_used:
        restored = _ones_restored(m)
        if restored is not None:  # (every drop undone: g of [1, H, 1, 1] beside X, X ⊙ g)
            m, dropped = restored, False
    out = Recognition(m, tuple(reader.wheres), reader.einsum_used)
    if not out.einsum and _misshapen(m, shape):
        return _framed(ctx, namer, anon_forms, expr, idx, shape) or out
    if out.einsum or dropped:
        return _spread(ctx, namer, anon_forms, expr, idx, shape, oriented) or \
            _whole_first(_batched(ctx, namer, anon_forms, expr, idx, shape, elsewhere=True),
                         ctx, namer, anon_forms, expr, idx, shape) or \
            _axis_sums(ctx, namer, anon_forms, expr, idx, shape, oriented) or \
            _permuted(ctx, namer, anon_forms, expr, idx, shape) or \
            _framed(ctx, namer, anon_forms, expr, idx, shape) or \
            _alike(ctx, namer, anon_forms, expr, idx, shape, oriented) or \
            _totals(ctx, namer, anon_forms, expr, shape, oriented) or \
            _batched(ctx, namer, anon_forms, expr, idx, shape, elsewhere=True, numbers=True) or \
            out
    return out


def _ones_restored(m: mx.M) -> mx.M | None:
    """``m`` with each tensor whose literal-1 axes a reading dropped and a broadcast put back
    (reshape(reshape(g, [H, 1]), [1, H, 1, 1]) of g: [1, H, 1, 1], read beside X: [B, H,
    S, D]) as the tensor itself; None where a drop stays (the reading is then no whole
    tensor's, and the readings per element are tried)."""
    table: dict[mx.M, mx.M] = {}
    for n in mx.walk(m):
        if isinstance(n, mx.Reshape) and isinstance(n.x, mx.Reshape) and \
                isinstance(n.x.x, mx.Ref) and tuple(n.dims) == tuple(n.x.x.shape):
            table[n] = n.x.x
    out = mx.substitute_all(m, table) if table else m
    if any(isinstance(n, mx.Reshape) and isinstance(n.x, mx.Ref) and 1 in tuple(n.x.shape)
           for n in mx.walk(out)):
        return None
    return out


def _full_sum(ctx: Ctx, term: Expr) -> tuple[Any, Expr, Idx] | None:
    """``(coefficient, body, summed)`` of a number times sums over the whole range of each
    of their indices (Σ_i Σ_j f_ij), else None."""
    coeff, body = term.as_coeff_Mul()
    limits: list[Any] = []
    while isinstance(body, Sum):
        limits.extend(body.limits)
        body = body.function
    syms = tuple(v for v, _, _ in limits)
    if not syms or len(set(syms)) != len(syms) or not all(
            v in ctx.index_dim and lo == 0 and hi == ctx.sizes[ctx.index_dim[v]] - 1
            for v, lo, hi in limits):
        return None
    for f in Mul.make_args(body):
        f = f.base if isinstance(f, SPow) else f
        if isinstance(f, (Indexed, AxisFunction)) and not set(syms) <= set(f.indices):
            # a factor without a summed axis is contracted against the others (Σ_j Σ_k W_ijk
            # x_j z_k, the bilinear layer): a true contraction, einsum's, no sum over axes
            return None
    return coeff, body, syms


def _plain_whole(found: Recognition) -> mx.M | None:
    """The form of a reading when it is whole, without einsum or any element's form."""
    m = found.matrix
    if m is None or found.einsum or \
            any(isinstance(n, (mx.Each, mx.Einsum, mx.Permute)) for n in mx.walk(m)):
        return None  # (a permutation summed over axes: the axes of the tensor itself say it)
    return m


def _axis_sums(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
               idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """A sum whose terms sum a tensor of three or more axes over some of its axes (closed
    forms: Σ_i of the softmax adjoint of each head's scores, ∂L/∂P_jkk′ of a bias P: [H, T,
    T] shared by the batch), where the plain rules need einsum: NumPy's ``sum(…, axis=…)`` of
    the tensor's whole form (``keepdims=True`` where the result keeps the summed axes as
    literal 1s, m: [H, 1, 1]); the other terms read alone.  None unless every term reads
    without einsum or a form of each element."""
    terms = SAdd.make_args(expr)
    splits = [_full_sum(ctx, term) for term in terms]
    if not idx or len(terms) > 8 or all(x is None for x in splits):
        return None  # (no sum: the term is the expression itself, read before)
    forms: list[mx.M] = []
    wheres: list[Where] = []
    summed_any = False
    for term, split in zip(terms, splits):
        m: mx.M | None = None
        found: Recognition | None = None
        if split is not None:
            coeff, body, syms = split
            free = {i for i in idx if isinstance(i, Symbol)}
            if body.free_symbols & set(ctx.index_dim) != free | set(syms) or \
                    len(free) + len(syms) < 3:
                return None
            units = [a for a, (i, d) in enumerate(zip(idx, shape)) if i == 0 and d == 1]
            tries: list[tuple[Idx, tuple[int, ...], bool]] = []
            if len(units) == len(syms):  # (m: [H, 1, 1] summed over its literal-1 axes)
                at = iter(syms)
                tries.append((tuple(next(at) if a in units else i for a, i in enumerate(idx)),
                              tuple(units), True))
            if not units and len(syms) <= 3:  # (each order of the summed axes: Y_ikj read
                # as Y, not (W ⊙ Y)ᵀ, in Σ_j Σ_k W_kj Y_ikj)
                tries += [(idx[:p] + order + idx[p:], tuple(range(p, p + len(syms))), False)
                          for p in range(len(idx) + 1) for order in permutations(syms)]
            kept: tuple[mx.M, Recognition] | None = None
            for full, axes, keep in tries:
                dims = tuple(ctx.index_dim[i] if isinstance(i, Symbol) else 1 for i in full)
                got = recognize(ctx, namer, anon_forms, body, full, dims, oriented)
                whole = _plain_whole(got)
                if whole is not None and (kept is None or not isinstance(whole, mx.Transpose)):
                    kept = (mx.scale(mx.Const(coeff), _batch_axis_sum(ctx, whole, axes, dims)
                                     or mx.SumAxes(whole, axes, keep, math_shape(shape))), got)
                    if not isinstance(whole, mx.Transpose):
                        break
            if kept is not None:
                m, found = kept
                summed_any = True
        else:
            found = recognize(ctx, namer, anon_forms, term, idx, shape, oriented)
            m = _plain_whole(found)
        if m is None or found is None:
            return None
        forms.append(m)
        wheres.extend(w for w in found.wheres if w not in wheres)
    if not summed_any:
        return None
    order = _Reader(ctx, namer, anon_forms, ())._term_key  # (as the other readings order)
    return Recognition(mx.add(*sorted(forms, key=order)), tuple(wheres))


# --- ls6: a sum over the batch axis of each element's matrix reads as Σ_b (line-split) ---
def _batch_axis_sum(ctx: Ctx, whole: mx.M, axes: tuple[int, ...], dims: Shape) -> mx.M | None:
    """``Σ_b x_b`` for the sum over axis 0 of a batched form ``x`` whose one batch axis is
    that axis (``sum(G ⊙ (1 − tanh(X + m)^∘2), axis=0, keepdims=True)`` of an offset m: [1,
    T, D]): what the same sum reads as when the form is named (Σ_b ∂L/∂Y_b ⊙ (1 − Y_b ⊙
    Y_b)) or m is [T, D], so a line split or merged prints one form.  None for any other
    sum (over an element's own axes, or of a whole tensor: softmax(X, axis=0))."""
    if axes != (0,) or len(dims) != 3 or mx.batch_of(whole) != (dims[0],):
        return None
    return mx.batch_sum(whole, (dims[0],), _batch_names(ctx, (dims[0],)))


def _totals(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
            shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """A scalar whose terms are each a number times the total of a tensor of three or more
    axes (Σ_i Σ_j Σ_k where(m_ij0 > 0, X_ijk b_k, −X_ijk)), where every other reading needs
    einsum: ``sum(…)`` of each tensor's form, read whole as NumPy reads it (where(m > 0, X ⊙
    bᵀ, −X)); a term of no such total read alone.  None unless every term reads without
    einsum or a form of each element."""
    terms = SAdd.make_args(expr)
    splits = [_full_sum(ctx, term) for term in terms]
    if shape or len(terms) > 8 or all(x is None for x in splits):
        return None
    forms: list[mx.M] = []
    wheres: list[Where] = []
    for term, split in zip(terms, splits):
        if split is not None and len(split[2]) >= 3 and \
                not split[1].free_symbols & set(ctx.index_dim) - set(split[2]):
            coeff, body, syms = split
            found = recognize(ctx, namer, anon_forms, body, syms,
                              tuple(ctx.index_dim[v] for v in syms), oriented)
            whole = _plain_whole(found)
            if whole is None:
                return None
            m = mx.scale(mx.Const(coeff), mx.reduce(ReduceKind.SUM, whole))
        elif len(terms) > 1:
            found = recognize(ctx, namer, anon_forms, term, (), (), oriented)
            alone = _plain_whole(found)
            if alone is None:
                return None
            m = alone
        else:
            return None
        forms.append(m)
        wheres.extend(w for w in found.wheres if w not in wheres)
    order = _Reader(ctx, namer, anon_forms, ())._term_key  # (as the other readings order)
    return Recognition(mx.add(*sorted(forms, key=order)), tuple(wheres))


def _alike(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
           idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """The plain rules with sums over an axis of whole tensors read alike as NumPy's sums
    (:meth:`_Reader._summed_alike`), where every other reading needs einsum; None unless that
    reads without it."""
    reader = _Reader(ctx, namer, anon_forms, tuple(i for i in idx if isinstance(i, Symbol)),
                     oriented)
    reader.top = expr
    reader.alike = True
    try:
        m = reader.orient(reader.blob(expr), idx, shape)
    except NoMatrixForm:
        return None
    return None if reader.einsum_used else Recognition(m, tuple(reader.wheres), False)


def _unflattened(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
                 idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """A result whose row index k is read by the tensors of three axes at its digits
    (∂L/∂R_km of R = reshape(X, [BT, D]) @ W: ∂L/∂Y_{⌊k/T⌋, k mod T, m}, Σ_j ∂L/∂Y_{⌊k/T⌋, j,
    m} …) as the reshape of the form read at the digits themselves, R_km read at the flat
    index: reshape(Y ⊙ (∂L/∂Y − sum(∂L/∂Y ⊙ Y, axis=1, keepdims=True)) ⊙ (1 −
    tanh(reshape(R, [B, T, E]))^∘2), [BT, E]).  None unless that reading has a form."""
    if _UNFLATTENING.get() or len(idx) != 2 or not all(isinstance(i, Symbol) for i in idx):
        return None
    for a, k in enumerate(idx):
        digits = [d for d in expr.atoms(Digit) if d.k == k]
        sizes = {d.sizes for d in digits}
        if len(sizes) != 1:
            continue
        (split,) = sizes
        found_names = [ctx.dim_of_size.get(z) for z in split]
        names = [n for n in found_names if n is not None]
        if len(names) != len(split) or \
                not same_size(ctx.graph.spec.dims, ctx.sizes, ctx.size(shape[a]),
                              sympy.Mul(*split)):
            continue
        new = [ctx.fresh(n) for n in names]
        table: dict[Any, Any] = {d: new[d.position] for d in digits}
        body = expr.xreplace(table)
        flat = Flat(*new, *split)
        if any(f.spec.name == IN_RANGE and f.has(k)
               for f in body.atoms(ElementwiseFunction)):
            continue  # a range over the row index (𝟙[0 ≤ k < Dh]): no digit says it
        body = body.xreplace({k: flat})
        if body.has(k):
            continue
        new_idx = idx[:a] + tuple(new) + idx[a + 1:]
        new_shape = tuple(shape[:a]) + tuple(names) + tuple(shape[a + 1:])
        token = _UNFLATTENING.set(True)
        try:
            found = recognize(ctx, namer, anon_forms, body, new_idx, new_shape, oriented)
        finally:
            _UNFLATTENING.reset(token)
        if found.matrix is None or found.einsum or isinstance(found.matrix, mx.Each) or \
                mx.batch_of(found.matrix) or tuple(found.matrix.shape) != math_shape(new_shape):
            continue
        return Recognition(mx.Reshape(found.matrix, tuple(shape), math_shape(shape)),
                           found.wheres)
    return None


_UNFLATTENING: ContextVar[bool] = ContextVar("unflattening", default=False)


def _refolded(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
              idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """A result whose own consecutive indices are read only as the digits of one flat index
    (∂L/∂X_ijk of Z = reshape(X[:, 0:S, :], [B, SD]) @ W: 𝟙[0 ≤ j < S] Σ_k′ W_{j·D + k, k′}
    ∂L/∂Z_ik′) as the form read at the flat index m itself, reshaped to the digits' axes,
    at a digit that is a position (a stacked piece merged by a reshape, G_{i·2 + 1, j}) the
    take of that position, and under a range 0 ≤ j < S of a digit over a longer axis
    zero-padded there: pad(reshape(∂L/∂Z Wᵀ, [B, S, D]), 0:S, axis=1).  Exact: m is
    one-to-one from the digits' ranges onto its own, and the range is 0 where pad is.  None
    unless that reading has a plain form."""
    flats = expr.atoms(Flat)
    if _UNFLATTENING.get() or len(flats) != 1:
        return None
    (flat,) = flats
    n = len(flat.args) // 2
    digits, sizes = tuple(flat.args[:n]), tuple(flat.args[n:])
    letters = tuple(d for d in digits if not d.is_Number)
    if n < 2 or not letters or not all(isinstance(d, Symbol) for d in letters) or \
            len(set(letters)) != len(letters) or letters[0] not in idx or \
            not all(d.is_Integer and 0 <= d for d in digits if d.is_Number):
        return None
    a = idx.index(letters[0])
    if tuple(idx[a:a + len(letters)]) != letters:
        return None
    factors = Mul.make_args(expr)
    ranges = [f for f in factors if isinstance(f, ElementwiseFunction) and
              f.spec.name == IN_RANGE and any(f.has(d) for d in letters)]
    dims, sizes_of = ctx.graph.spec.dims, ctx.sizes
    # each letter over an axis of its own digit's size, or over a longer one under
    # 𝟙[0 ≤ j < S], S its digit's size (a slice 0:S of that axis before the merge)
    ranged: dict[int, Expr] = {}
    for f in ranges:
        x, lo, hi = f.args
        if x not in letters or lo != 0 or digits.index(x) in ranged or \
                not same_size(dims, sizes_of, hi, sizes[digits.index(x)]):
            return None
        ranged[digits.index(x)] = f
    for q, d in enumerate(letters):
        p, size = digits.index(d), ctx.size(shape[a + q])
        if not same_size(dims, sizes_of, size, sizes[p]) and not (
                p in ranged and at_most(dims, sizes_of, sizes[p], size) is True):
            return None
    names = [next((q for q in sorted(sizes_of) if same_size(dims, sizes_of, ctx.size(q), z)),
                  None) for z in (sympy.Mul(*sizes),) + sizes]
    if any(q is None for q in names):
        return None
    merged, *own = [str(q) for q in names]
    m = ctx.fresh(merged)
    body = Mul(*[f for f in factors if f not in ranges]).xreplace({flat: m})
    if any(body.has(d) for d in letters):
        return None
    flat_shape = tuple(shape[:a]) + (merged,) + tuple(shape[a + len(letters):])
    token = _UNFLATTENING.set(True)
    try:
        found = recognize(ctx, namer, anon_forms, body,
                          idx[:a] + (m,) + idx[a + len(letters):], flat_shape, oriented)
    finally:
        _UNFLATTENING.reset(token)
    if found.matrix is None or found.einsum or isinstance(found.matrix, mx.Each) or \
            mx.batch_of(found.matrix) or tuple(found.matrix.shape) != math_shape(flat_shape):
        return None
    inner = tuple(shape[:a]) + tuple(own) + tuple(shape[a + len(letters):])
    whole: mx.M = found.matrix
    coeff: mx.M | None = None
    if isinstance(whole, mx.Scale):  # 2 take(…), not take(2 reshape(…)): the number outside
        coeff, whole = whole.coeff, whole.x
    out: mx.M = mx.Reshape(whole, inner, math_shape(inner))
    for p in reversed(range(n)):  # each position taken, the last first (axes stay put)
        if digits[p].is_Number:
            inner = inner[:a + p] + inner[a + p + 1:]
            out = mx.Take(out, a + p, int(digits[p]), inner, math_shape(inner))
    for p in sorted(ranged):  # each range padded, one axis at a time
        at = a + letters.index(digits[p])
        inner = inner[:at] + (shape[at],) + inner[at + 1:]
        out = mx.Pad(out, at, S.Zero, ctx.size(own[p]), inner, math_shape(inner))
    return Recognition(out if coeff is None else mx.scale(coeff, out), found.wheres)


def _trailing(b: Blob, order: Idx) -> mx.M | None:
    """``b`` as NumPy aligns it with a tensor of the indices ``order`` (three or more): a
    whole matrix read at the last two, or a vector at the last one, as a row (rowsum(V)ᵀ
    beside ∂L/∂P_ijm); None for another read (a vector along another axis: the forms'
    vectors are columns, NumPy's align with the last axis) or a batched form's element."""
    n = len(b.idx)
    if n not in (1, 2) or tuple(b.idx) != tuple(order[-n:]) or mx.batch_of(b.m) or \
            len(b.m.shape) != 2 or any(_broadcast_inside(x) for x in mx.walk(b.m)):
        return None
    # (a column inside, x ⊘ rowsum(…), broadcasts in a matrix; beside a third axis its code,
    # a 1-d array, would align with the last axis: einsum says it)
    return b.m if n == 2 else mx.transpose(b.m) if b.m.shape[1] == 1 else b.m


def _broadcast_inside(m: mx.M) -> bool:
    """An elementwise node whose operands broadcast against each other (x ⊘ rowsum(…))."""
    return isinstance(m, (mx.Hadamard, mx.Add, mx.Fn)) and \
        len({c.shape for c in m.children() if not c.is_scalar}) > 1


def _misshapen(m: mx.M, shape: Shape) -> bool:
    """A whole form of a tensor of three or more axes without the tensor's shape: mu of
    mu: [1, C, 1] as (1/(B T)) Σ_b rowsum(X_b)ᵀ, a row, where NumPy's sum over axes keeps
    the axes (sum(X, axis=(0, 2), keepdims=True))."""
    return len(shape) >= 3 and not mx.batch_of(m) and not isinstance(m, mx.Each) and \
        _unit_lead(tuple(m.shape)) != _unit_lead(math_shape(shape))


def _unit_lead(shape: Shape) -> Shape:
    """``shape`` without its leading literal 1s: a batch of one (m: [1, T, D]) is its matrix."""
    k = 0
    while k < len(shape) - 1 and shape[k] == 1:
        k += 1
    return tuple(shape[k:])


def _whole_first(each: Recognition | None, ctx: Ctx, namer: Namer,
                 anon_forms: Mapping[str, mx.M | None], expr: Expr, idx: Idx, shape: Shape
                 ) -> Recognition | None:
    """``each``, a reading element by element, unless it is elementwise and summed only, reads
    an element on a tensor's middle axes (:func:`_middle`), and NumPy's reading of the whole
    tensors (:func:`_framed`) says it: Σ_i ∂L/∂S_ijkk′ of P: [H, T, T] is sum(∂L/∂S,
    axis=0), not ∂L/∂P_jk = colsum(∂L/∂S_jk) for each (j, k), the batch on the middle
    axes."""
    if each is not None and not isinstance(each.matrix, mx.Each) and \
            any(is_temporary(w) for w in each.wheres):
        # NumPy's reading through a temporary read per element (t1 ⊘ √(var + 1e-05), where
        # t1 = reshape(∂L/∂N, [B, G, Cg, T])): the whole tensors say it inline, if they can
        return _framed(ctx, namer, anon_forms, expr, idx, shape) or each
    if each is None or not isinstance(each.matrix, mx.Each) or \
            any(isinstance(n, mx.MatMul) for n in mx.walk(each.matrix)) or \
            not any(isinstance(n, mx.Ref) and _middle(n) or
                    isinstance(n, mx.BatchSum) and mx.outer_batch(n)  # (Σ_d colsum(X_bd ⊙ …))
                    for n in mx.walk(each.matrix)):
        # (a product of each element's matrices says more, W_b (1 − tanh(Y_bᵀ)^∘2), and so
        # does an element of the leading or last axes, ∂L/∂g_bo ⊙ 𝟙[Z_bo = g_bo], Z_d)
        return each
    return _framed(ctx, namer, anon_forms, expr, idx, shape) or each


def _middle(r: mx.Ref) -> bool:
    """Whether ``r`` is an element whose batch axes stand inside its tensor, neither its
    first nor its last axes (∂L/∂S_ht = ∂L/∂S[:, h, t, :] of S: [B, H, T, T])."""
    if not r.at:
        return False
    n = len(r.at) + len(r.shape if r.shape[-1] != 1 else r.shape[:1])
    return r.at[0] != 0 and r.at[-1] != n - 1


def _framed(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
            idx: Idx, shape: Shape) -> Recognition | None:
    """Whole tensors of three or more axes as NumPy reads them, broadcast and summed over
    axes (X − mu of mu: [1, C, 1], sum(·, axis=(0, 2), keepdims=True)):
    :func:`recognize_frame.read_framed`."""
    reader = _Reader(ctx, namer, anon_forms, ())
    reader.each_named = False  # (no where-clause of its reader's stands in the result)

    def arg_ref(e: Expr) -> tuple[mx.Ref, Shape]:
        tensor = ctx.graph[ctx.tensor_of[e.label]]
        return reader._whole(tensor.name, _ref_kind(tensor.kind), tensor.shape), tensor.shape
    def sub_read(e: Expr, order: Idx, dims: Shape) -> mx.M | None:
        """A part of at most two indices by the matrix rules: a plain form, or None."""
        r = recognize(ctx, namer, anon_forms, e, order, dims)
        ok = r.matrix is not None and not r.einsum and not r.wheres and \
            not any(mx.batch_of(x) or isinstance(x, mx.Each) for x in mx.walk(r.matrix))
        return r.matrix if ok else None
    def window(e: Indexed) -> tuple[mx.M, Idx, Shape] | None:
        """A tensor read at a shifted index (X_{i, j, l + 1}, ∂L/∂Y_{i, j, k − 1} under its
        range) as its slice or padding, read at plain indices; None for a plain read."""
        if isinstance(e, AxisFunction):  # softmax(Z, axis=1)_{i, j, k + D}: its slice
            tensor = ctx.graph[ctx.tensor_of[e.label]]
            arg = reader._whole(tensor.name, _ref_kind(tensor.kind), tensor.shape)
            shape = tuple(d for a, d in enumerate(tensor.shape) if a != e.axis) \
                if e.reduces else tuple(tensor.shape)
            ref: mx.M = mx.AxisFn(e.head, arg, e.axis, tensor.shape, math_shape(shape))
        else:
            ref, shape = reader._whole_ref(e)
        at = tuple(e.indices)
        if e not in reader.padded and not reader._narrower(at, shape) and \
                not any(isinstance(i, (Shift, SAdd)) for i in at):
            return None
        try:
            return reader.window(ref, e, shape)
        except NoMatrixForm:
            return None

    def ranges(factors: list[Expr]) -> list[Expr] | None:
        """A product's range conditions 𝟙[lo ≤ s < hi], each taken out where it says where
        one factor ∂L/∂y_{…, s − lo, …} is defined (read zero-padded, by ``window``)."""
        out = list(factors)
        for f in factors:
            if not (isinstance(f, ElementwiseFunction) and f.spec.name == IN_RANGE):
                continue
            x, lo, hi = f.args
            readers = [g for g in out if g is not f and _reads_at(g, x - lo)]
            if not isinstance(x, Symbol) or len(readers) != 1 or \
                    any(a in ctx.index_dim for a in sympy.Add(lo, hi).free_symbols):
                return None
            reader.padded.pop(readers[0], None)  # (read twice: see recognize_frame)
            hit = reader._padded_axis(readers[0], x, lo, hi)
            if hit is None:
                return None
            reader.padded[readers[0]] = (hit, lo, hi)
            out.remove(f)
        return out
    try:
        m = read_framed(expr, idx, shape, reader._whole_ref, arg_ref, ctx.is_tensor_atom,
                        ctx.index_dim, reader._term_key, sub_read, window, ranges)
    except NoMatrixForm:
        return None  # an anonymous intermediate with no form of its own
    return None if m is None else Recognition(m)


def _permuted(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
              idx: Idx, shape: Shape) -> Recognition | None:
    """An einsum that only reorders axes (Qh_ikjl = Q_ijkl) as permute(Q, (0, 2, 1, 3)):
    :func:`recognize_batch.read_permuted`."""
    if _PERMUTING.get():
        return None  # one permutation at the top of a form, never one inside another's reading
    token = _PERMUTING.set(True)
    try:
        found = read_permuted(expr, idx, shape,
                              lambda e, order, sh: recognize(ctx, namer, anon_forms, e, order,
                                                             sh))
    finally:
        _PERMUTING.reset(token)
    if found is None:
        return None
    inner, moved = found
    n = len(idx)
    if isinstance(moved, mx.Permute) and moved.axes == tuple(range(n - 2)) + (n - 1, n - 2) \
            and inner.matrix is not None and len(mx.batch_of(inner.matrix)) == n - 2:
        # each element's matrix transposed is the batched form's ᵀ: ∂L/∂h0 slice(x1, :, :,
        # 0:M)ᵀ, not permute(slice(x1, :, :, 0:M) (∂L/∂h0)ᵀ, (0, 2, 1))
        return Recognition(mx.transpose(inner.matrix), inner.wheres)
    return Recognition(moved, inner.wheres)


_PERMUTING: ContextVar[bool] = ContextVar("permuting", default=False)
# reading the forward pass's forms: no temporary (t1 = …) stands in them, for their forms are
# named nodes' (the where-clauses belong to a backward line, and no tensor is named t1)
# (and which of the op table's AS_WRITTEN the lines read write: a trace's sums of A ⊙ Bᵀ
# read as tr(A B), a log-softmax's u − logsumexp(u) as log_softmax(u))
# (and the shapes its functions of products are written in: graph.Graph.function_shapes)
_FORWARD: ContextVar[tuple[bool, frozenset[str], frozenset[tuple[Any, ...]]]] = ContextVar(
    "forward", default=(False, frozenset(), frozenset()))


@contextmanager
def forward_reading(written: frozenset[str] = frozenset(),
                    shapes: frozenset[tuple[Any, ...]] = frozenset()) -> Iterator[None]:
    """Within it, :func:`recognize` reads forward forms: no sum over the batch names a
    temporary (reshape(X, [B, T, D]) read per element stays an einsum there), of a line
    that writes the ops ``written`` (:func:`reading_writes`) and its functions of products
    in the ``shapes`` (σ(X Wᵀ), not σ(W Xᵀ)ᵀ, of ``sigmoid(X @ W.T)``)."""
    token = _FORWARD.set((True, written, shapes))
    try:
        yield
    finally:
        _FORWARD.reset(token)


@contextmanager
def written_reading(written: frozenset[str]) -> Iterator[None]:
    """Within it, the form read is of lines that write the ops ``written`` (of
    :data:`einderive.ops.AS_WRITTEN`, :func:`reading_writes`), read as the backward pass
    reads."""
    forward, _, shapes = _FORWARD.get()
    token = _FORWARD.set((forward, written, shapes))
    try:
        yield
    finally:
        _FORWARD.reset(token)


def reading_forward() -> bool:
    """Whether :func:`recognize` reads forward forms now (:func:`forward_reading`)."""
    return _FORWARD.get()[0]


def reading_writes(op: str) -> bool:
    """Whether the lines read now write ``op`` (:func:`written_reading`)."""
    return op in _FORWARD.get()[1]


def reading_traces() -> bool:
    """Whether the line read now writes a trace."""
    return reading_writes(TRACE_OP)


def reading_key() -> tuple[bool, frozenset[str], frozenset[tuple[Any, ...]]]:
    """What a reading's result depends on of how it is read (:func:`forward_reading`): a
    cache of readings keys on it."""
    return _FORWARD.get()


# whether a tensor may be read at only some of the batch indices (recognize_batch.part_at)
_PARTS: ContextVar[bool] = ContextVar("parts", default=True)


@contextmanager
def no_parts() -> Iterator[None]:
    """Within it, no tensor is read at only some of the batch indices: an anonymous
    intermediate's form, which has no left side to subscript (S_bgr = Q_bgr K_bgᵀ), is read
    as before, whole."""
    token = _PARTS.set(False)
    try:
        yield
    finally:
        _PARTS.reset(token)


# the temporaries of one recognition (reshape(permute(…)) -> t1, t2 …), shared by its readers
_TEMPORARIES: ContextVar[dict[mx.M, mx.Ref]] = ContextVar("temporaries")
# whether NumPy's axis sums and broadcasts of tensors of three axes are read (_Reader._axis_sum,
# _broadcast_sum), and how many were read so far (recognize compares before and after)
_NUMPY_AXES: ContextVar[bool] = ContextVar("numpy_axes", default=True)
_NUMPY_AXES_READ = [0]


SPREAD_TERMS = 8  # past this many terms a distributed form is no easier to read


def _spread(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
            idx: Idx, shape: Shape, oriented: frozenset[Any]) -> Recognition | None:
    """A contraction with a sum of terms, ``Σ_m (x_j A_mi − (P⁻¹)_mi z_j) g_m`` (two reads of
    one input in one node, y = A P x + P⁻¹ x), read term by term: each term may have a
    matrix form (Aᵀ g xᵀ − P⁻ᵀ g zᵀ) where the sum as one factor of three indices has only
    an einsum.  None unless every term reads without einsum."""
    spread = _distributed(expr)
    if spread == expr or len(SAdd.make_args(spread)) > SPREAD_TERMS:
        return None
    reader = _Reader(ctx, namer, anon_forms, tuple(i for i in idx if isinstance(i, Symbol)),
                     oriented)
    try:
        m = reader.orient(reader.blob(spread), idx, shape)
    except NoMatrixForm:
        return None
    return None if reader.einsum_used else Recognition(m, tuple(reader.wheres), False)


def _distributed(e: Expr) -> Expr:
    """``e`` with products and sums spread over the sums they hold (only those: a function's
    argument is left whole), so that each term is a product of tensors."""
    if isinstance(e, Sum):
        return SAdd(*[Sum(t, *e.limits) for t in SAdd.make_args(_distributed(e.function))])
    if isinstance(e, SAdd):
        return SAdd(*[_distributed(a) for a in e.args])
    if isinstance(e, Mul):
        terms: list[Expr] = [S.One]
        for a in e.args:
            terms = [t * u for t in terms for u in SAdd.make_args(_distributed(a))]
            if len(terms) > SPREAD_TERMS:
                return e
        return SAdd(*terms)
    return e


# -- batched forms ---------------------------------------------------------------------------
#
# A tensor of three or more axes whose every term carries the leading axes as the leading
# indices of its tensors (multi-head attention: S_bhnm = Q_bhnd K_bhmd) is read per batch
# element, as NumPy's ``@`` reads it: the trailing two axes are a matrix, the leading ones
# a batch (``matrix.batch_of``).  The form is then the matrix form of one element - S = Q Kᵀ -
# and never an einsum; whatever does not read that way is left to the plain rules.


def _batched(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
             idx: Idx, shape: Shape, elsewhere: bool = False,
             numbers: bool = False) -> Recognition | None:
    """The batched matrix form of ``expr``, or None when it does not read per batch element:
    with the batch leading and matrices as elements, NumPy's reading (no subscripts); with
    ``elsewhere`` (tried where the plain rules give no form or an einsum), the batch on other
    axes or vectors as elements, element by element (:class:`matrix.Each`, every element
    subscripted)."""
    lead = tuple(range(len(idx) - 2))
    if elsewhere and any(f.spec.name == IN_RANGE for f in expr.atoms(ElementwiseFunction)):
        return None  # a range (a slice's padding) is read by the plain rules alone
    for at in batch_positions(expr, idx, ctx.is_tensor_atom):
        if at != lead and not elsewhere:
            continue
        batch = tuple(idx[a] for a in at)
        if not _per_element(ctx, expr, batch, relaxed=elsewhere, across=elsewhere,
                            numbers=numbers):
            continue
        rest = tuple(a for a in range(len(idx)) if a not in at)
        found = _read_element(ctx, namer, anon_forms, expr, idx, shape, at, rest, elsewhere)
        if numbers and found is not None and found.matrix is not None and \
                not _numbers_read(found.matrix):
            continue
        if found is not None and (elsewhere or not isinstance(found.matrix, mx.Each)):
            return found  # (element by element only where the plain rules need einsum)
    return None


def _numbers_read(m: mx.M) -> bool:
    """Whether a reading element by element with a number in each element (t_b of t: [B])
    says more than einsum: a multiple of each element's matrix (∂L/∂Y_a = ∂L/∂Z_a·W, ∂L/∂X_b
    = 2 t_b·𝐈).  Not a sum over the batch of numbers times elements (Σ_k ∂L/∂y_k·W_k z, the
    bilinear layer's contraction of a tensor of three axes with vectors), nor a number times
    an outer product of vectors (∂L/∂y_k·x zᵀ, an outer product of three vectors): those
    are true higher-order contractions, and einsum says them (specs/bilinear_layer.yaml)."""
    nodes = list(mx.walk(m))
    if not any(isinstance(n, mx.Ref) and n.batch and not n.shape for n in nodes):
        return False
    return not any(isinstance(n, mx.BatchSum) or isinstance(n, mx.MatMul) and
                   mx.cols(n.a) == 1 and mx.rows(n.b) == 1 for n in nodes)


def _elements_multiplied(m: mx.M) -> bool:
    """Whether a form of each element holds a product of two of its matrices (Hw_bᵀ G_b,
    neither a vector): numbers of the element scaling it still leave a matrix product per
    element, never an outer product of vectors or a tensor against vectors."""
    return any(isinstance(n, mx.MatMul) and mx.batch_of(n.a) and mx.batch_of(n.b) and
               mx.rows(n.a) != 1 and mx.cols(n.a) != 1 and mx.rows(n.b) != 1 and
               mx.cols(n.b) != 1 for n in mx.walk(m))


def _element_scaled(m: mx.M) -> bool:
    """Whether a form of each element is a number of the element times one of its matrices
    (∂L/∂s_b A_bᵀ of the trace einsum("bii->b", A @ W)): Σ_b ∂L/∂s_b A_bᵀ, a weighted sum
    of the elements' matrices, neither an outer product nor a tensor against vectors."""
    x = m.x if isinstance(m, mx.Transpose) else m
    if not isinstance(x, mx.Scale):
        return False
    c, a = x.coeff, x.x.x if isinstance(x.x, mx.Transpose) else x.x
    return isinstance(c, mx.Ref) and bool(c.batch) and c.shape == () and \
        isinstance(a, mx.Ref) and bool(a.batch) and c.batch == a.batch and \
        len(a.shape) == 2 and mx.rows(a) != 1 and mx.cols(a) != 1


def _read_element(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
                  idx: Idx, shape: Shape, at: tuple[int, ...],
                  rest: tuple[int, ...], across: bool = False) -> Recognition | None:
    """``expr`` read per element of the batch at the positions ``at`` of ``idx`` (with
    ``across``, a function along the batch axis read whole: :meth:`_Reader._across_batch`,
    only where the plain rules need einsum)."""
    batch = tuple(idx[a] for a in at)
    inner_idx, inner_shape = tuple(idx[a] for a in rest), tuple(shape[a] for a in rest)
    reader = _Reader(ctx, namer, anon_forms, inner_idx, batch=batch)
    reader.across = across
    reader.views = across and not reading_forward()  # (each element: t1_bh of a reshape)
    try:
        m = reader.orient(reader.blob(expr), inner_idx, inner_shape)
    except NoMatrixForm:
        return None
    totals = [n for n in mx.walk(m) if _each_total(n)]
    if reader.einsum_used or not mx.batch_of(m) or \
            any(_whole(n) and n not in totals for n in mx.walk(m)):
        return None
    if totals:
        reader.explicit = True  # sum(t1_b), logsumexp(t1_b): only a subscript says each's
    if any(w.lhs == m for w in reader.wheres):
        return None  # one temporary whole (S = t1): the plain rules print its definition
    if reader.across_used and _reduces_across(m, reader.across_fns):
        return None  # a whole function summed or multiplied: a total over every element
    if reader.explicit or len(rest) != 2 or at != tuple(range(len(at))):
        if reader.across_used:
            return None  # a whole function beside subscripted elements would read as one
        if isinstance(m, mx.Ref) or isinstance(m, mx.Transpose) and isinstance(m.x, mx.Ref):
            return None  # only axes moved (Qh_bh = Q_bh): a permutation says it whole
        if any(mx.whole_batched(n) for n in mx.walk(m)):
            return None  # a whole tensor's window or reshape beside subscripted elements
        if any(isinstance(n, mx.Ref) and n.batch and (n.kind == RefKind.ANON or
                                                       set(n.batch) == {1})
               for n in mx.walk(m)):
            return None  # an anonymous tensor's element, a batch of one: no subscript says it
        try:  # the left side's subscript says its axes too (h1_m of h1: [M, M, K] at 1 not)
            _one_axis_each(tuple(shape), at, at == tuple(range(len(at))))
        except NoMatrixForm:
            return None
        dims = tuple(shape[a] for a in at)
        m = mx.Each(m, dims, _batch_names(ctx, dims), at, tuple(shape), math_shape(shape))
    return Recognition(m, tuple(reader.wheres))


# Nodes that act on each entry alone: a function read whole across the batch may stand under
# them and still mean each element's entries (NumPy's reading of the whole form)
_ENTRYWISE = (mx.Hadamard, mx.Scale, mx.Add, mx.Pow, mx.Fn, mx.Transpose)


def _reduces_across(m: mx.M, across: list[mx.M]) -> bool:
    """Whether a function read whole across the batch (``across``) stands under a node that
    is not entrywise (a sum, a product of matrices): Σ_j Σ_k softmax(Z, axis=0)_ijk read
    whole is sum(softmax(Z, axis=0)), the total over every element, not each element's
    (a wrong closed form, found by verify)."""
    return any(not isinstance(n, _ENTRYWISE) and n not in across and
               any(a in across for a in mx.walk(n)) for n in mx.walk(m))


def node_ref(name: str, shape: Shape, form: mx.M | None) -> mx.Ref:
    """A forward node as it stands in the backward forms: an element's matrix (with its
    batch) when its own form is batched, else the whole tensor."""
    batch = mx.batch_of(form) if form is not None else ()
    if batch and tuple(shape[:len(batch)]) == batch:
        return mx.Ref(name, RefKind.TENSOR, math_shape(shape[len(batch):]), batch=batch)
    return mx.Ref(name, RefKind.TENSOR, math_shape(shape))


def _prints_per_element(r: mx.Ref) -> bool:
    """An anonymous tensor's element that prints as its own form of the element, a product
    of each element's matrices batched alike (softmax((1/2) X_b Wq Wkᵀ X_bᵀ) of an inline
    X @ Wq @ transpose(X @ Wk, …)), so that it needs no name to stand inside Σ_b.  (An
    entrywise one, tanh(Y)_i, is left to NumPy's reading of the whole tensors, a sum over
    axes.)"""
    return isinstance(r.display, mx.M) and not r.at and mx.batch_of(r.display) == r.batch \
        and any(isinstance(n, mx.MatMul) for n in mx.walk(r.display))


def _per_element(ctx: Ctx, expr: Expr, batch: Idx, relaxed: bool = True,
                 across: bool = False, numbers: bool = False) -> bool:
    """Whether the indices ``batch`` lead every tensor of ``expr`` that has them, are never
    summed, and stand nowhere else (a tensor without them is the same for every element)."""
    nb, seen = len(batch), set(batch)
    for s in expr.atoms(Sum):
        if seen & {v for v, _, _ in s.limits}:
            return False
    if any(seen & set(k.args) for k in expr.atoms(KroneckerDelta)):
        return False
    found = False
    summed = _summed_over_lead(expr, batch)
    seen_summed = {v for s in expr.atoms(Sum) for v, _, _ in s.limits}
    for e in expr.atoms(Indexed, AxisFunction):
        if e in summed:
            continue  # Σ_n′ Y_n′ of each element: one matrix, the same for every element
        if isinstance(e, AxisFunction):
            if _element_rows(e, batch):  # logsumexp of each element's rows: a column each
                found = True
                continue
            if _element_total(e, batch):  # logsumexp of each element's vector: a number
                found = True
                continue
            inds, ok = e.indices, not e.reduces and _has_axis(e.head) and \
                (e.axis >= nb or across and len(e.indices) == nb + 2)  # (_across_batch)
            if _same_for_each(e, batch):
                continue
        else:
            inds, ok = read_indices(e), ctx.is_tensor_atom(e)
        if not ok:
            return False
        if isinstance(e, Indexed) and _shifted_batch(inds, batch):
            found = True  # ∂L/∂Z_{j + A, k, l} in the element j: slice(∂L/∂Z, A:A + B)'s
            continue
        if not seen & set(inds):
            if len(inds) > 2 and not (isinstance(e, Indexed) and (ones_ahead(
                    inds, ctx.graph[ctx.name_of(key_of(e))].shape, nb) or _ones_dropped(
                    inds, ctx.graph[ctx.name_of(key_of(e))].shape))):
                # (a batch of one, m: [1, T, D], is the same for every element, and so is a
                # matrix of literal-1 axes more, R_jj′0 of R: [C, C, 1])
                return False
            continue
        if isinstance(e, AxisFunction):
            if relaxed and _element_of_rows(e, batch):
                found = True
                continue
            if len(inds) != nb + 2 or tuple(inds[:nb]) != tuple(batch) or \
                    seen & set(inds[nb:]):
                return False
        elif not relaxed and _trailing_batch(inds, batch):
            continue  # P_jkk′ beside S_ijkk′ (batch i, j): NumPy broadcasts it over i
        elif relaxed and element_at(inds, batch) is None and part_at(inds, batch) is not None \
                and isinstance(e, Indexed) and read_indices(e) == tuple(e.indices) and \
                _PARTS.get() and seen_summed & set(inds):
            # V_ij′km beside A_iklj′j (batch i, k, l): V_ik the same along l, a factor of a
            # product (j′ summed); one only broadcast (𝟙[Z_bopq = g_bop]) is NumPy's to read
            continue
        elif relaxed and _PARTS.get() and isinstance(e, Indexed) and \
                _summed_inner_batch(inds, batch, seen_summed):
            pass  # A_bgrtt′ in the element b, g with r summed: Σ_r (_Reader._nested_batch_sum)
        elif element_at(inds, batch) is None or \
                len(inds) - nb not in ((0, 1, 2) if numbers else (1, 2)) or \
                not relaxed and (len(inds) != nb + 2 or tuple(inds[:nb]) != tuple(batch)):
            return False  # (not relaxed: NumPy's reading, matrices at the leading batch)
        found = True
    return found


def _shifted_batch(idx: Idx, batch: Idx) -> bool:
    """Whether ``idx`` reads the batch at its leading positions, one of them shifted
    (∂L/∂Z_{j + A, k, l} in the element j: a window along the batch axis itself, a
    concatenated piece's adjoint), the others at their batch indices."""
    nb = len(batch)
    if len(idx) != nb + 2 or any(isinstance(i, Symbol) and i in batch for i in idx[nb:]):
        return False
    shifted = [a for a in range(nb) if idx[a] != batch[a]]
    return len(shifted) == 1 and \
        _unshifted(idx[shifted[0]], lambda x: x == batch[shifted[0]]) == batch[shifted[0]]


def _unshifted(i: Any, is_index: Callable[[Any], bool]) -> Any:
    """The index a shifted read shifts (j of j + A, a slice's Shift or a sum of the index
    and sizes), else None."""
    if isinstance(i, Shift):
        return i.index if isinstance(i.index, Symbol) and is_index(i.index) else None
    if isinstance(i, SAdd):
        terms = [a for a in i.free_symbols if is_index(a)]
        return terms[0] if len(terms) == 1 and terms[0] in i.args else None
    return None


def _summed_inner_batch(inds: Idx, batch: Idx, summed: set[Any]) -> bool:
    """Whether a tensor read at the batch ``batch`` and three indices of its own is read at
    one of them (summed) as one more batch index after the batch's, leaving a matrix or
    column: A_iklj′j of A: [B, G, R, T, T] in the element i, k of grouped-query heads with
    l summed is the element i, k, l's matrix inside Σ_l."""
    if len(inds) - len(batch) != 3 or element_at(inds, batch) is None:
        return False
    return any(isinstance(s, Symbol) and element_at(inds, batch + (s,)) is not None
               for s in summed if s in inds)


def _element_of_rows(e: AxisFunction, batch: Idx) -> bool:
    """A row of a function along the rows of a tensor of one axis more than the batch,
    read at the batch and one index of its own (softmax(lp)_nk of lp: [N, K], the batch n):
    the element's vector is the function of the element's vector, softmax(lp_n), a column
    of each element, as the row n of softmax(lp) is softmax of the row n of lp."""
    nb = len(batch)
    inds = tuple(e.indices)
    return bool(not e.reduces and _has_axis(e.head) and e.axis == nb and
                len(inds) == nb + 1 and inds[:nb] == tuple(batch) and
                isinstance(inds[nb], Symbol) and inds[nb] not in batch)


def _one_axis_each(shape: Shape, at: tuple[int, ...], leading: bool) -> None:
    """Refuses an element whose subscript would not say its axes: A_bt of A: [B, H, T, T]
    at (0, 2) (which of the two T axes is t's?).  The leading axes are read first, as the
    README says (A_bh of the same A is A[b, h])."""
    if not leading and any(list(shape).count(shape[a]) > 1 for a in at):
        raise NoMatrixForm("an element at an axis whose dim the tensor has twice")


def _trailing_batch(inds: Idx, batch: Idx) -> bool:
    """A tensor of fewer axes read at the last of the batch indices and then a matrix's
    (P_jkk′ of P: [H, T, T] beside S_ijkk′ of S: [B, H, T, T], the batch i, j): NumPy aligns
    its axes with the last ones, each element's matrix the same for every i."""
    r = len(inds) - 2
    return 1 <= r < len(batch) and tuple(inds[:r]) == tuple(batch[-r:]) and \
        all(isinstance(i, Symbol) and i not in batch for i in inds[r:])


def _summed_over_lead(expr: Expr, batch: Idx) -> set[Expr]:
    """The tensors of three or more axes in ``expr`` read inside a sum over their leading
    axes, at none of the indices ``batch`` (Σ_i′ Y_i′jk beside Z_ijk, i the batch): the sum
    is a matrix the same for every element (Σ_n Y_n, :meth:`_Reader._batch_sum`)."""
    out: set[Expr] = set()
    for s in expr.atoms(Sum):
        bound = {v for v, _, _ in s.limits}
        for e in s.function.atoms(Indexed):
            inds = tuple(e.indices)
            if len(inds) > 2 and all(i in bound for i in inds[:-2]) and \
                    not set(batch) & e.free_symbols:
                out.add(e)
    return out


def _same_for_each(e: Expr, batch: Idx) -> bool:
    """A function of a whole axis read at none of the batch indices, a matrix (or column):
    the same for every element, as a tensor of two axes is (logsumexp(Z, axis=0)_jk of Z:
    [N, T, D], the batch's own axis reduced, beside Z_n), and so is a function of a whole
    matrix that keeps its shape ((A⁻¹)_jk beside X_ijl: X_b A⁻¹, as X_b W is)."""
    inds = tuple(e.indices)
    return bool(_has_axis(e.head) or not e.reduces and len(inds) == 2) and len(inds) <= 2 and \
        all(isinstance(i, Symbol) and i not in batch for i in inds)


def _element_rows(e: Expr, batch: Idx) -> bool:
    """A function reducing the last axis of a tensor of the batch (logsumexp(Z)_bi of Z:
    [B, T, V], axis −1), read at the batch and the row: each element's column of row values,
    as logsumexp(Z) of a matrix is a column."""
    nb = len(batch)
    inds = tuple(e.indices)
    return bool(e.reduces and _has_axis(e.head) and e.axis == nb + 1 and len(inds) == nb + 1
                and inds[:nb] == tuple(batch) and isinstance(inds[nb], Symbol)
                and inds[nb] not in batch)


def _element_total(e: Expr, batch: Idx) -> bool:
    """A function reducing the one axis past the batch of a tensor (logsumexp(t1)_b of t1:
    [B, T], axis 1), read at the batch alone: each element's number, logsumexp(t1_b) of
    the element's column, as logsumexp of a column is a number."""
    nb = len(batch)
    inds = tuple(e.indices)
    return bool(e.reduces and _has_axis(e.head) and e.axis == nb and len(inds) == nb
                and inds == tuple(batch))


def _each_total(m: mx.M) -> bool:
    """One element's total, sum(t1_b) or logsumexp(t1_b) of a batched element's column: a
    number per element, which only a subscript says (in matrix.Each or under
    Σ_b; NumPy's reading of sum(t1) is the total of every element)."""
    return isinstance(m, (mx.Reduce, mx.AxisFn)) and m.shape == () and \
        (not isinstance(m, mx.Reduce) or m.kind == ReduceKind.SUM) and \
        isinstance(m.x, mx.Ref) and bool(m.x.batch) and not m.x.at and \
        m.x.kind != RefKind.ANON and mx.cols(m.x) == 1  # (a matrix's: NumPy's sum(…, axis))


def _summed_batch(ctx: Ctx, factors: list[Expr], summed: list[Index]) -> list[Idx]:
    """The batch indices a product may be summed over, best first: the leading indices (all
    but the last two) that every tensor of three or more axes in it is read at, when each of
    them is summed; else :func:`_summed_elsewhere`'s."""
    leads, wide, lead_of_adjoint = set(), [], set()
    reads = [(e, read_indices(e) if isinstance(e, Indexed) else tuple(e.indices))
             for f in factors for e in f.atoms(Indexed, AxisFunction)
             if not isinstance(e, Indexed) or ctx.is_tensor_atom(e)]
    for e, inds in reads:
        if _one_matrix_operand(ctx, e, inds, reads):
            continue  # a batch of one (W_0kj of W: [1, M, N]): the same for every element
        if len(inds) > 2:
            # (a window along the batch axis, ∂L/∂Z_{j + A, k, l}, is read at j)
            leads.add(tuple(_unshifted(i, lambda x: x in summed) or i
                            for i in inds[:-2]))
            wide.append(inds)
            if isinstance(e, Indexed) and key_of(e) in ctx.adjoint_of:
                lead_of_adjoint.add(inds[0])
    if not leads:
        return _scattered_rows(ctx, factors, summed)
    if len(leads) != 1:
        # each element a matrix of one and a column of another (Σ_b Σ_h X_bhᵀ ∂L/∂s_bh of
        # X: [B, H, N, D], s: [B, H, N]): the longest lead every wide tensor starts with
        longest = max(leads, key=lambda b: (len(b), str(b)))
        if all(tuple(w[:len(longest)]) == longest and len(w) - len(longest) in (1, 2)
               for w in wide) and all(isinstance(i, Symbol) and i in summed
                                      for i in longest) and len(set(longest)) == len(longest):
            return [longest] + _summed_elsewhere(wide, summed, lead_of_adjoint)
        return _summed_elsewhere(wide, summed, lead_of_adjoint)
    (batch,) = leads
    ok = all(isinstance(i, Symbol) and i in summed for i in batch) and \
        len(set(batch)) == len(batch)
    return [tuple(batch)] if ok else []


def _one_matrix_operand(ctx: Ctx, e: Expr, inds: Idx, reads: list[tuple[Expr, Idx]]) -> bool:
    """A batch of one matrix (W_0kj of W: [1, M, N]) read only as a product's operand: no
    index of its matrix stands at the same axis of another tensor of three or more axes
    (which would broadcast it entrywise, Xe_b0d − Ce_0md): the same matrix for every
    element, leading no batch sum (Σ_b A_bᵀ (…), as for W: [M, N])."""
    if len(inds) <= 2 or not isinstance(e, Indexed) or \
            ones_ahead(inds, ctx.graph[ctx.name_of(key_of(e))].shape, len(inds) - 2) == 0 or \
            not all(isinstance(i, Symbol) for i in inds[-2:]):
        return False
    return not any(o is not e and len(w) > 2 and (w[-1] == inds[-1] or w[-2] == inds[-2])
                   for o, w in reads)


def _scattered_rows(ctx: Ctx, factors: list[Expr], summed: list[Index]) -> list[Idx]:
    """The rows of a scatter through an integer matrix: Σ_i Σ_j δ(k, bk_ij) ∂L/∂S_ij (a table
    looked up at a matrix of integers, tbl[bk]) is Σ_i onehot(bk_i)ᵀ ∂L/∂S_i, each row i a
    lookup of a vector of integers, as an embedding of token rows is (Σ_b onehot(tok_b)ᵀ …)."""
    for f in factors:
        if not isinstance(f, KroneckerDelta):
            continue
        picked = [a for a in f.args if isinstance(a, Indexed) and len(a.indices) == 2]
        if len(picked) != 1:
            continue
        i, j = picked[0].indices
        if isinstance(i, Symbol) and isinstance(j, Symbol) and i != j and \
                i in summed and j in summed:
            return [(i,)]
    return []


def _summed_elsewhere(wide: list[Idx], summed: list[Index], preferred: set[Index]) -> list[Idx]:
    """The batches of a product whose tensors of three axes hold it on different axes
    (Σ_h ∂L/∂Q_ihl Wq_hjl, per-head weights Wq: [H, D, E]): each summed index every such
    tensor is read at once, leaving it a matrix.  When two qualify (Σ_i Σ_j T3_jik ∂L/∂Z_ijl,
    a contraction over Z's middle axis), the one leading an adjoint comes first: the node's
    own leading axis is the batch its forward form was read over (Σ_b T3_bᵀ ∂L/∂Z_b)."""
    if not wide or any(len(w) != 3 for w in wide):
        return []
    common = [i for i in wide[0] if isinstance(i, Symbol) and i in summed and
              all(list(w).count(i) == 1 for w in wide)]
    if len(common) > 1:  # a matrix product's own index stands last somewhere: not the batch
        common = [i for i in common if all(w[-1] != i for w in wide)]
    common.sort(key=lambda i: i not in preferred)  # stable: ties keep their reading order
    return [(i,) for i in common]


def _batch_names(ctx: Ctx, dims: Shape) -> tuple[str, ...]:
    """The letters of a sum's batch indices: each one-letter dim's own letter in lower case
    (Σ_b Σ_h over B, H) unless a tensor or dim has one of those names, else the index
    form's letters (never a mix of the two conventions)."""
    taken = {t.name for t in ctx.graph.tensors} | set(ctx.dim_names)
    own = [str(d).lower() for d in dims]
    if not all(len(x) == 1 and x.isalpha() and x not in taken for x in own):
        own = [ctx.letter[d] for d in dims]
    out: list[str] = []
    for name in own:
        while name in out:
            name += PRIME
        out.append(name)
    return tuple(out)


def _read_plainly(factors: list[Expr], x: Symbol, index_dim: Mapping[Any, Any]) -> bool:
    """Whether every element that reads the index ``x`` reads it as one of its own indices,
    shifted at most by a size (h0_jx, a_{x − K}), never inside another element's index (an
    integer lookup, E_(tok_x, k)) or an index map: such a read, narrowed to a range, would
    need its own slice (onehot(tok) past Tm)."""
    for f in factors:
        for n in sympy.preorder_traversal(f):
            if not isinstance(n, Indexed):
                continue
            for i in n.indices:
                if not i.has(x):
                    continue
                at = i.index - i.offset if isinstance(i, Window) else i
                rest = sympy.expand(at - x)
                if isinstance(i, Indexed) or rest.has(x) or \
                        any(a in index_dim for a in rest.free_symbols) or \
                        any(isinstance(a, Indexed) for a in sympy.preorder_traversal(i)):
                    return False
    return True


def _sliced_one(form: mx.M | None) -> bool:
    """Whether an anonymous intermediate's form is a slice of one position of a leading axis
    (slice(X, 0:1) of X: [T, B, D], a batch of one no spec declared)."""
    return isinstance(form, mx.Slice) and form.axis == 0 and len(form.dims) >= 3 and \
        form.dims[0] == 1


def _one_names(ctx: Ctx, n: int) -> tuple[str, ...]:
    """Letters for a sum over ``n`` literal-1 axes (a batch of one has no dim to name it):
    b, a, c … as a batch's, never a tensor's or a dim's name, nor a dim's index letter (a
    reader takes that letter for its dim), nor the letter a sum over a dim writes (Σ_b over
    B: a batch of one beside dim B summed with b read as a sum over B, nested in one)."""
    taken = {t.name for t in ctx.graph.tensors} | set(ctx.dim_names) | \
        {str(x) for x in ctx.letter.values()} | {str(d).lower() for d in ctx.dim_names}
    return tuple([x for x in "bacdefgh" if x not in taken][:n])


def _whole(m: mx.M) -> bool:
    """A node that would not read per batch element: a total, a norm, a diagonal or an
    einsum of a batched matrix (``sum(X)`` always means the total of everything)."""
    return isinstance(m, (mx.Reduce, mx.Norm, mx.Diag, mx.Diagonal, mx.Einsum)) and \
        (not isinstance(m, mx.Reduce) or m.kind == ReduceKind.SUM) and bool(mx.batch_of(m))


def _split_outside(ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None], expr: Expr,
                   idx: Idx, shape: Shape) -> Recognition | None:
    """A form whose free indices a reshape reads whole, read as a reshape of a form in
    plain indices.  ``∂L/∂O_ijk = ∂L/∂Y_il Wo_{j·Dh + k, l}``: consecutive free indices
    that appear only together, as one flat index (over a dim declared their product), give
    reshape(∂L/∂Y Woᵀ, [T, H, Dh]); a free index read only through all its digits
    (``∂L/∂O_{m mod T, ⌊m/T⌋, k}``) gives a reshape merging the digits' dims.  None when
    no such reading has a form (one without einsum first)."""
    found: Recognition | None = None
    for inner_expr, inner_idx, inner_shape in _lifts(ctx, expr, idx, shape):
        inner = recognize(ctx, namer, anon_forms, inner_expr, inner_idx, inner_shape)
        if inner.matrix is None or isinstance(inner.matrix, mx.Each):
            continue  # (a form of each element has no left side inside a reshape)
        m: mx.M = mx.Reshape(inner.matrix, tuple(shape), math_shape(tuple(shape)))
        if isinstance(inner.matrix, mx.Reshape) and not mx.batch_of(inner.matrix.x):
            # a reshape of a reshape is one (Xᵀ G of [D, HP] read as [D, H, P], then back)
            x = inner.matrix.x
            m = x if x.shape == m.shape else mx.Reshape(x, tuple(shape), m.shape)
        out = Recognition(m, inner.wheres, inner.einsum)
        if not inner.einsum:
            return out
        found = found or out
    return found


def _lifts(ctx: Ctx, expr: Expr, idx: Idx, shape: Shape) -> list[tuple[Expr, Idx, Shape]]:
    """The forms :func:`_split_outside` may read ``expr`` as: (expression, indices, shape)."""
    out = []
    maps = [f for x in nodes_of(expr, Indexed) for f in x.indices if isinstance(f, IndexMap)]
    free = [i for i in idx if isinstance(i, Symbol)]
    for f in sorted({f for f in maps if isinstance(f, Flat)}, key=str):
        digits = list(f.digits)
        if not all(d in free for d in digits) or len(set(digits)) != len(digits):
            continue
        start = idx.index(digits[0])
        if tuple(idx[start:start + len(digits)]) != tuple(digits) or \
                any(expr.xreplace({f: Symbol("_flat")}).has(d) for d in digits):
            continue  # not consecutive on the left, or a digit read on its own too
        dim = _dim_of_product(ctx, [shape[start + p] for p in range(len(digits))])
        if dim is not None:
            k = ctx.fresh(dim)
            out.append((expr.xreplace({f: k}), idx[:start] + (k,) + idx[start + len(digits):],
                        shape[:start] + (dim,) + shape[start + len(digits):]))
    for k in free:
        digits = sorted({f for f in maps if isinstance(f, Digit) and f.k == k}, key=str)
        if not digits or len({f.sizes for f in digits}) != 1:
            continue
        sizes = digits[0].sizes
        names = [ctx.dim_of_size.get(s) for s in sizes]
        if len(digits) != len(sizes) or None in names:
            continue
        fresh = {f: ctx.fresh(names[f.position]) for f in digits}
        body = expr.xreplace(fresh)
        if body.has(k):
            continue  # k read on its own too
        at = idx.index(k)
        new = tuple(fresh[f] for f in sorted(digits, key=lambda f: f.position))
        out.append((body, idx[:at] + new + idx[at + 1:],
                    shape[:at] + tuple(names) + shape[at + 1:]))
    return out


def _dim_of_product(ctx: Ctx, dims: list[Any]) -> str | None:
    """The dim declared as the product of ``dims`` (D for H, Dh when D: H * Dh), if any."""
    values = dim_values(ctx.graph.spec.dims)
    want = sympy.expand(sympy.Mul(*[values[d] for d in dims]))
    return next((d for d in ctx.dim_names
                 if d in values and sympy.expand(values[d] - want) == 0), None)


class _Reader:
    """One recognition: the target's index order, and what it has written out so far."""

    def __init__(self, ctx: Ctx, namer: Namer, anon_forms: Mapping[str, mx.M | None],
                 order: Idx, oriented: frozenset[Any] = frozenset(), batch: Idx = ()):
        self.oriented = oriented
        self.batch = batch  # the indices read as the batch (see _batched)
        self.explicit = False  # an element read that only a subscript can say (matrix.Each)
        self.across = False  # a function along the batch axis read whole (_across_batch)
        self.across_used = False
        self.across_fns: list[mx.M] = []  # what _across_batch read whole
        self.ones = True  # whether a literal-1 axis ahead of a matrix reads as a batch of one
        self.used_ones = False  # whether one did
        # whether the result keeps a literal-1 axis (X[:, 0:1, :] itself): a length-1 slice
        # read at its one element is then that slice, never the position taken (_ref)
        self.unit_result = False
        # whether an element at a literal position is read as the slice of length 1 there
        # (slice(u, 0:1), not take(u, 0, axis=0)): inside a vector's pad (_placed), whose
        # argument is the window of one element, never a number
        self.keep_positions = False
        # whether an anonymous tensor's element may be a where-named temporary's (a sum over
        # the batch, whose other reading is an einsum; a per-element form reads it whole)
        self.temporaries = False
        # an anonymous intermediate of a form per element read as a temporary so defined
        self.each_named = True
        # the terms of a scalar read whole (L = sum((A V)^∘2) + …): a total over the batch may
        # stay NumPy's total of the batched form there, and nowhere inside another form
        self.totals: frozenset[Expr] = frozenset()
        # convolutions read with an axis of one in their shape that their indices do not
        # name (recognize_conv): each only as the whole form, see _fits_lone_convs
        self.lone_convs: set[mx.M] = set()
        self.ctx = ctx
        self.graph = ctx.graph
        self.namer = namer
        self.anon_forms = anon_forms
        self.order = order
        self.top: Expr = None  # the expression read whole, at the result's indices (_unit)
        self.wheres: list[Where] = []
        self.einsum_used = False
        # whether a tensor of literal-1 axes was read as the reshape that drops them (R_jj′0
        # of R: [C, C, 1]): a last resort, after every reading tried where einsum is needed
        self.dropped_ones = False
        self.wide_pads = False  # a padded product of three or more axes (_padded_product)
        self.spread = False  # a tensor broadcast along a digit it is not read at (_spread_view)
        self.position = ctx.position
        # elements read zero-padded: element -> (axis, lo, hi) of the range condition absorbed
        self.padded: dict[Expr, tuple[int, Expr, Expr]] = {}
        # products of factors under one range, recognized as a whole and zero-padded
        self.padded_products: dict[Expr, Blob] = {}
        self._tensor_in: dict[Expr, bool] = {}  # _has_tensor's answers, by subtree
        # whether factors summed over an axis of whole tensors read alike are NumPy's sum
        # over it (_summed_alike): tried last, where every other reading needs einsum
        self.alike = False
        # whether an element of a reshape at a batch of other axes is a temporary's (t1_bh of
        # t1 = reshape(O, [B, T, H, Dh])), as inside a sum over the batch (temporaries)
        self.views = False

    def orient(self, b: Blob, idx: Idx, shape: Shape) -> mx.M:
        syms = tuple(i for i in idx if isinstance(i, Symbol))
        target = math_shape(shape)
        if not set(b.idx) <= set(syms):  # pragma: no cover - a free index would be lost
            raise NoMatrixForm(f"indices {b.idx} do not fit {syms}")
        one = mx.batch_of(b.m)
        if not self.batch and set(one) == {1} and (tuple(shape[:len(one)]) != one or
                                                   len(shape) != len(one) + 2):
            # a batch of one (x of x: [1, N, K]) is the result only where it has that axis;
            # a result of its matrix alone is the sum over that one element
            return self._sum_of_one(b, syms, target, shape, one)
        if self.lone_convs and any(n in self.lone_convs for n in mx.walk(b.m)):
            if b.idx != syms or not self._fits_lone_convs(b.m, shape):
                raise NoMatrixForm("a convolution with an axis of one inside a larger form")
            return b.m  # as its whole form, or not at all
        return mx.with_src(self._orient(b, syms, target), b.m.src)

    def _sum_of_one(self, b: Blob, syms: Idx, target: Shape, shape: Shape, one: Shape
                    ) -> mx.M:
        """A form of a batch of one (X_bᵀ t1_b of X: [1, T, D]) whose result has no such axis
        (∂L/∂Wq: [D, D]): the sum over the batch, Σ_b X_bᵀ t1_b, as for a batch B (the one
        element's matrix, as NumPy's sum over axis 0 gives it); a total as it is (the total
        of a batch of one is its element's).  Else no form."""
        if len(shape) > 2 or self.lone_convs:
            raise NoMatrixForm("a literal-1 axis the result does not have")
        out = self._orient(b, syms, target)
        if mx.batch_of(out) != one:
            raise NoMatrixForm("a literal-1 axis the result does not have")
        if out.is_scalar:
            return mx.with_src(out, b.m.src)
        if tuple(out.shape) != tuple(target):
            raise NoMatrixForm("a literal-1 axis the result does not have")
        if isinstance(out, mx.Ref) and out.kind == RefKind.ANON and \
                _sliced_one(self.anon_forms.get(out.name)):
            # a slice of one position of a leading axis (reshape(X[0:1, :, :], [B, D]) of
            # X: [T, B, D]) is no batch of one a spec declared: the reshape that drops its
            # axis, as of the slice of any other axis
            return mx.Reshape(out, tuple(shape), target)
        return mx.batch_sum(out, one, _one_names(self.ctx, len(one)))

    def _fits_lone_convs(self, m: mx.M, shape: Shape) -> bool:
        """Whether a convolution with an axis of one (X: [1, C, T]; W: [O, 1, K]) is the whole
        form ``m`` of ``shape`` (up to a scalar), read at the result's own indices: its
        reading names no index for that axis, so beside a tensor read at the others it
        would broadcast wrongly (O×1×K against O×K is O×O×K in NumPy), and oriented as a
        matrix of the other axes it would be transposed (a row 1×1×T); as the whole form its
        shape is the result's."""
        core = m.x if isinstance(m, mx.Scale) and m.coeff.is_scalar else m
        if isinstance(core, mx.Hadamard):  # times whole tensors of its shape (m ⊙ (∂L/∂Y ∗ W))
            convs = [f for f in core.factors if isinstance(f, mx.Conv)]
            if len(convs) == 1 and all(f is convs[0] or tuple(f.shape) == tuple(shape) and
                                       not mx.batch_of(f) for f in core.factors):
                core = convs[0]
        inside = [n for n in mx.walk(m) if n in self.lone_convs]
        return inside == [core] and isinstance(core, mx.Conv) and \
            tuple(core.dims) == tuple(shape)

    def _orient(self, b: Blob, syms: Idx, target: Shape) -> mx.M:
        dims = {s: self.ctx.index_dim[s] for s in syms}
        if not syms:
            return b.m
        if len(syms) == 1:
            (s,) = syms
            col = b.m if b.idx else mx.scale(b.m, mx.Ones((dims[s], 1)))
            # a tensor of three or more axes is a batch of the matrices of its last two: c of
            # c: [1, M, 1] is a batch of one column, not the row its leading 1 would say
            mat = target[-2:]
            return mx.transpose(col) if mat[0] == 1 and mat != (1, 1) else col
        if len(syms) == 2:
            p, q = syms
            if b.idx == (p, q):
                return b.m
            if b.idx == (q, p):
                return mx.transpose(b.m)
            if b.idx == (p,):
                return mx.matmul(b.m, mx.Ones((1, dims[q])))
            if b.idx == (q,):
                return mx.matmul(mx.Ones((dims[p], 1)), mx.transpose(b.m))
            return mx.scale(b.m, mx.Ones((dims[p], dims[q])))
        if b.idx == syms:
            return b.m
        if set(b.idx) == set(syms):
            return self._einsum([b], syms).m
        ones = mx.Ones(tuple(dims[s] for s in syms))
        if not b.idx:
            return mx.scale(b.m, ones)
        aligned = _trailing(b, syms)  # the same along the leading axes: NumPy broadcasts it
        if aligned is not None:
            return mx.hadamard(aligned, ones)
        # a broadcast into three or more axes: einsum against ones says exactly which
        return self._einsum([b, Blob(ones, syms)], syms).m

    def framed(self, e: Expr, idx: Idx, shape: Shape) -> mx.M | None:
        """``e`` read at ``idx`` (0 on a literal-1 axis) as NumPy reads whole tensors, a
        tensor of spec ``shape`` (:func:`recognize_frame.read_framed`), or None: the factor
        beside a convolution with an axis of one (m_{i, 0, l} of m: [B, 1, T])."""
        found = _framed(self.ctx, self.namer, self.anon_forms, e, idx, shape)
        return None if found is None else found.matrix

    # -- expressions ----------------------------------------------------------------------

    def blob(self, e: Expr) -> Blob:
        out = self._blob(e)
        return Blob(mx.with_src(out.m, e), out.idx)

    def _blob(self, e: Expr) -> Blob:
        if not self._has_tensor(e) and not self._free(e):
            return Blob(mx.Const(e), ())
        if isinstance(e, SAdd):
            return self._add(e)
        if isinstance(e, (Mul, Sum)):
            return self._product(e)
        if isinstance(e, (Indexed, AxisFunction)) and _picked(e):
            return self._product(e)  # E_{tokens_t, d}: Σ_v onehot_tv E_vd
        if isinstance(e, Indexed) or (isinstance(e, Symbol) and self.ctx.is_tensor_atom(e)):
            return self._ref(e)
        if isinstance(e, ElementwiseFunction) and e.spec.name == IN_RANGE:
            return self._product(e)  # a bare range 𝟙[lo ≤ i < hi]: padded ones
        if isinstance(e, ElementwiseFunction):
            return self._function(e)
        if isinstance(e, AxisFunction):
            return self._axis_function(e)
        if isinstance(e, SPow):
            inner = self.blob(e.base)
            if inner.m.is_scalar:
                return Blob(mx.Const(e) if isinstance(inner.m, mx.Const) else
                            mx.power(inner.m, e.exp), ())
            return Blob(mx.power(inner.m, e.exp), inner.idx)
        if isinstance(e, KroneckerDelta):
            a, b = e.args
            if isinstance(a, sympy.Integer) or isinstance(b, sympy.Integer) or \
                    (not isinstance(a, Symbol) and self._position(a)) or \
                    (not isinstance(b, Symbol) and self._position(b)):
                return self._unit(e)  # (δ_{i, N − 1} of sum(u[N − 1:N]))
            if isinstance(a, Symbol) and isinstance(b, Symbol):
                if self._position(a) or self._position(b):
                    # δ(s, T1): the one element of the last row's slice X[:, T1:T, :]
                    return self._unit(e)
                if a not in self.ctx.index_dim or b not in self.ctx.index_dim:
                    raise NoMatrixForm("an element at a position a dim states")
                d = self.ctx.index_dim[a]
                return Blob(mx.Eye(d, (d, d)), (a, b))
            return self._one_hot(a, b) if isinstance(a, Indexed) else self._one_hot(b, a)
        raise NoMatrixForm(f"no rule for {type(e).__name__}")

    def _unit(self, e: KroneckerDelta) -> Blob:
        """δ(s, p) in the whole form, under none of its sums (∂L/∂H_ij = δ_{0, j} of
        sum(H[:, 0:1]); δ_{0, j} − … in a layer norm's adjoint after it): ones at position
        p of s's axis of the result and zeros elsewhere, pad(𝟏, 0:1, axis=1), padded to the
        result's shape as a slice's adjoint is.  Elsewhere (beside other factors, which
        _placed reads) it is no matrix."""
        s, p = sorted(e.args, key=self._position)
        if not self._whole_term(e) or not isinstance(s, Symbol) or \
                not self._position(p) or s not in self.order:
            raise NoMatrixForm("a piece of a stack alone")
        full = self.order
        one = tuple(1 if i == s else self.ctx.index_dim[i] for i in full)
        dims = tuple(self.ctx.index_dim[i] for i in full)
        return Blob(mx.Pad(mx.Ones(math_shape(one)), full.index(s), p, self._after(p), dims,
                           math_shape(dims)), full)

    def _whole_term(self, e: KroneckerDelta) -> bool:
        """Whether the delta ``e`` stands in the expression read whole under none of its sums:
        broadcast along the result's other indices, it is read at all of them (what it
        multiplies or adds to is, too)."""
        return self.top is not None and e in self.top.atoms(KroneckerDelta) and \
            not any(e in x.atoms(KroneckerDelta) for x in self.top.atoms(Sum))

    def _one_hot(self, picked: Expr, v: Expr) -> Blob:
        """δ(tokens_t, v) is the one-hot matrix of an integer input: onehot(tokens)_tv."""
        inds = tuple(picked.indices) if isinstance(picked, Indexed) else ()
        nb = len(self.batch)
        # δ(tok_bt, v) read per element b of the reader's batch: onehot(tok_b), the rows of
        # element b (an embedding lookup's adjoint Σ_b onehot(tok_b)ᵀ ∂L/∂X_b)
        batched = nb > 0 and len(inds) == nb + 1 and inds[:nb] == tuple(self.batch)
        if isinstance(picked, Indexed) and isinstance(v, Symbol) and inds == (0,) and \
                tuple(self.graph[self.ctx.tensor_of[key_of(picked)]].shape) == (1,):
            # δ(y_0, v) of a label y: [1] (one example's class): the one row of onehot(y),
            # a 1×V matrix, read as a column over v
            dim = self.ctx.index_dim[v]
            row = mx.OneHot(self.ctx.tensor_of[key_of(picked)], dim, (1, dim))
            return Blob(mx.transpose(row), (v,))
        if not isinstance(picked, Indexed) or not isinstance(v, Symbol) or \
                not all(isinstance(i, Symbol) for i in inds) or \
                (len(inds) != 1 and not batched):
            raise NoMatrixForm("a one-hot of more than one axis of indices")
        name = self.ctx.tensor_of[key_of(picked)]
        dim = self.ctx.index_dim[v]
        t = inds[-1]
        batch = tuple(self.ctx.index_dim[b] for b in self.batch) if batched else ()
        return Blob(mx.OneHot(name, dim, (self.ctx.index_dim[t], dim), batch=batch), (t, v))

    def _has_tensor(self, e: Expr) -> bool:
        """Whether ``e`` reads a tensor (an element, an adjoint ...) or a function of a whole
        axis.  Remembered per subtree: the reader asks it at every level of the tree, and a
        walk each time cost the tree's size times its depth."""
        hit = self._tensor_in.get(e)
        if hit is None:
            hit = (isinstance(e, (Indexed, Symbol)) and self.ctx.is_tensor_atom(e)) or \
                isinstance(e, AxisFunction) or any(self._has_tensor(a) for a in e.args)
            self._tensor_in[e] = hit
        return hit

    def _free(self, e: Expr) -> Idx:
        """Free index symbols of ``e`` in order of first appearance."""
        out: list[Index] = []

        def walk(x: Expr, bound: frozenset[Index]) -> None:
            if isinstance(x, Symbol):
                if x in self.ctx.index_dim and x not in bound and x not in out and \
                        x not in self.batch:
                    out.append(x)
                return
            if isinstance(x, Sum):
                inner = bound | {v for v, _, _ in x.limits}
                walk(x.function, inner)
                return
            for a in x.args:
                walk(a, bound)
        walk(e, frozenset())
        return tuple(out)

    def _whole_ref(self, e: Expr) -> tuple[mx.Ref, Shape]:
        """The tensor (adjoint, tangent …) ``e`` is an element or the whole of, and its shape."""
        key = key_of(e)
        if key in self.ctx.adjoint_of:
            name, kind = self.ctx.adjoint_of[key], RefKind.ADJOINT
        elif key in self.ctx.tangent_of:
            name, kind = self.ctx.tangent_of[key], RefKind.TANGENT
        elif key in self.ctx.rop_of:
            name, kind = self.ctx.rop_of[key], RefKind.ROP
        else:
            name = self.ctx.tensor_of[key]
            kind = _ref_kind(self.graph[name].kind)
        shape = self.graph[name].shape
        return self._whole(name, kind, shape), shape

    def _whole(self, name: str, kind: RefKind, shape: Shape) -> mx.Ref:
        """``name`` whole.  An anonymous intermediate prints as its own matrix form: where it
        has none (E[tok] of rank-2 tokens), a form that reads it has none either, or it would
        print the internal name (``X = reshape(_X_1, [B, TD])``, defined nowhere)."""
        display = self.anon_forms.get(name)
        if kind == RefKind.ANON and isinstance(display, mx.Each):
            if not self.each_named or reading_forward():  # (a forward line has no where-clause)
                raise NoMatrixForm("an anonymous intermediate of a form per element")
            return self._each_temporary(display, shape)
        if kind == RefKind.ANON and display is None:
            raise NoMatrixForm("an anonymous intermediate with no matrix form")
        return mx.Ref(name, kind, math_shape(shape), display=display)

    def _each_temporary(self, each: mx.Each, shape: Shape) -> mx.Ref:
        """An anonymous intermediate whose form is per element only (Z @ w of Z: [B, T, D],
        each element's column Z_b w), which has no name to subscript and no whole form: a
        temporary defined per element (``where t1_b = Z_b w``), read as any tensor is (t1
        whole, t1_b per element)."""
        ref = self._temporary_named(each, shape)
        lhs = mx.Ref(ref.name, RefKind.TENSOR, each.x.shape, None, None, each.dims,
                     () if each.at == tuple(range(len(each.dims))) else each.at)
        where = Where(lhs, each)
        if where not in self.wheres:
            self.wheres.append(where)
        return ref

    def tensor_ref(self, e: Expr) -> mx.Ref:
        """The whole tensor (or adjoint, tangent) an element ``e`` is of."""
        return self._whole_ref(e)[0]

    def _ref(self, e: Expr) -> Blob:
        ref, shape = self._whole_ref(e)
        if not isinstance(e, Indexed):
            return Blob(ref, ())
        idx = tuple(e.indices)
        if any(_size_position(i, self.ctx) for i in idx):
            # W_Dm, a row at a position the dims' sizes give (a piece of one column joined
            # at offset D): the slice D:D + 1 of that axis, its literal-1 axis kept (a take
            # states literal positions only; an einsum would sum D as a letter)
            return self._position_ref(ref, idx, shape, keep=True)
        # a slice of length 1 read at its one element (X_{i, 0, k} of reshape(X[:, 0:1, :],
        # [B, D])): that position of the axis, as a literal index reads it
        # (a literal position only: the last, X[:, T1:T, :], is at T1, which no take states)
        at_one = tuple(i.value if isinstance(i, Shift) and i.index.is_Number and
                       (isinstance(i.value, int) or getattr(i.value, "is_Integer", False))
                       else i for i in idx)
        if any(isinstance(i, sympy.Integer) and d != 1 for i, d in zip(at_one, shape)) and \
                at_one != idx and e not in self.padded and not self._narrower(at_one, shape) \
                and not any(isinstance(i, (Shift, SAdd, Window)) for i in at_one) and \
                (not self.unit_result or e == self.top):  # (the kept slice whole, alone)
            return self._position_ref(ref, at_one, shape,
                                      keep=self.unit_result or self.keep_positions)
        if any(isinstance(i, sympy.Integer) and d != 1 for i, d in zip(idx, shape)):
            return self._position_ref(ref, idx, shape, keep=self.keep_positions)
        if e in self.padded or any(isinstance(i, (Shift, SAdd, Window)) for i in idx) or \
                self._narrower(idx, shape):
            if self.batch and (element_at(idx, self.batch) is not None or
                               _shifted_batch(idx, self.batch)):
                return self._batched_window(ref, e, shape)
            return self._window_ref(ref, e, shape)
        split = permuted_view(idx)
        temporary = None
        merged = self._merged_digits(ref, idx, shape) if split is None else None
        if merged is not None and e == self.top and not self.batch:
            # the whole form: reshape(permute(reshape(∂L/∂P, [B, C, To, R]), (0, 1, 3, 2)),
            # [B, CR, To]), the primitive steps of the line themselves
            split_ref, split_shape, axes, merged_view = merged
            moved = tuple(split_shape[a] for a in axes)
            dims = self._dims_of(merged_view)
            return Blob(mx.Reshape(mx.Permute(split_ref, axes, moved, math_shape(moved)), dims,
                                   math_shape(dims)), tuple(i for i in merged_view if i != 0))
        if merged is not None:  # P_{i, ⌊l/R⌋, p·R + (l mod R)}: t_ilp, t a named temporary
            ref, idx, temporary = self._temporary(*merged)
            shape = self._dims_of(idx)
        elif split is not None:  # ∂L/∂Q_{i, ⌊m/Dh⌋, j, m mod Dh}: t_ijm, t a named temporary
            ref, idx, temporary = self._temporary(ref, shape, *split)
            shape = self._dims_of(idx)
        elif has_index_map(idx):
            whole = self._batched_reshape(ref, idx, shape) if self.batch else None
            if whole is not None:
                return whole
            view = reshape_view(idx) if self.batch and (self.temporaries or self.views) \
                else None
            if view is None or len(view) != len(self.batch) + 2 or \
                    element_at(tuple(view), self.batch) is None:
                return self._view_ref(ref, idx)
            # an element of a reshape that keeps the batch axes (∂L/∂Q_{i, j, ⌊m/Dh⌋, m mod
            # Dh} of Q: [B, T, H, Dh]): t_ij of t = reshape(∂L/∂Q, [B, T, D]), a temporary
            # read per element as any tensor is (t Wqᵀ, Σ_b X_bᵀ t_b)
            idx = tuple(view)
            shape = self._dims_of(idx)
            temporary = mx.Reshape(ref, shape, math_shape(shape))
            lead = element_at(idx, self.batch)
            if lead is not None and lead != tuple(range(len(lead))) and len(idx) > 3:
                # (not yet three axes: reshape_grouped_linear's σ(z) read at its axis H
                # would print (σ(z_h))_h beside the permuted reshapes of y and t)
                # the batch at other axes (G_{i, j, k·Dh + l} in the batch i, k): the reshape
                # permuted to lead with them, so that t1_bh is t1[b, h, :, :] as the note
                # reads every subscript, t1 = permute(reshape(G, [B, S, H, Dh]), (0, 2, 1, 3))
                axes = lead + tuple(a for a in range(len(idx)) if a not in lead)
                idx = tuple(idx[a] for a in axes)
                shape = tuple(shape[a] for a in axes)
                temporary = mx.Permute(temporary, axes, shape, math_shape(shape))
            ref = self._temporary_named(temporary, shape)
        at = element_at(idx, self.batch) if self.batch else None
        if at is None and self.batch and ref.kind != RefKind.ANON and len(shape) == len(idx) \
                and _trailing_batch(idx, self.batch):  # P_jkk′ of P: [H, T, T], the batch i, j
            r = len(idx) - 2
            return Blob(mx.Ref(ref.name, ref.kind, math_shape(shape[r:]), ref.src,
                               batch=tuple(shape[:r])), tuple(idx[r:]))
        part = part_at(idx, self.batch) if at is None and self.batch and _PARTS.get() and \
            ref.kind != RefKind.ANON and len(shape) == len(idx) else None
        if part is not None:  # V_ij′km of V: [B, T, G, Dh] in the batch i, k, l: V_ik
            ref = self._part_element(ref, shape, *part)
            shape = tuple(d for a, d in enumerate(shape) if a not in part[0])
            idx = tuple(i for a, i in enumerate(idx) if a not in part[0])
        if at is not None and len(at) == 1 and len(shape) == 2 and ref.kind == RefKind.ANON \
                and isinstance(ref.display, mx.Transpose) and isinstance(ref.display.x, mx.Ref) \
                and ref.display.x.kind != RefKind.ANON and not mx.batch_of(ref.display.x):
            # (Pᵀ)_l of an anonymous Pᵀ (reshape(P.T, [E, B, 1])): the column P_l of P itself,
            # which a subscript names (an anonymous element would print its internal name)
            x = ref.display.x
            shape = (shape[1], shape[0])
            ref = mx.Ref(x.name, x.kind, math_shape(shape), x.src, self.anon_forms.get(x.name))
            at = (1 - at[0],)
            idx = (idx[1], idx[0])
        named = self._anonymous_element(ref, shape, at) \
            if at is not None and self.temporaries else None
        if named is not None:  # (conv1d(X, W, b))_i: t1_i where t1 = conv1d(X, W, b)
            ref, temporary = named
        if at is not None:
            ref = self._element(ref, shape, at)
            shape = tuple(d for a, d in enumerate(shape) if a not in at)
            idx = tuple(i for a, i in enumerate(idx) if a not in at)
        syms = tuple(i for i in idx if i != 0)
        one = ones_ahead(idx, shape, len(self.batch) if self.batch else None) \
            if self.ones else 0
        if one and at is None:  # a batch of one, broadcast: X + m of m: [1, T, D]
            self.used_ones = True
            ref = mx.Ref(ref.name, ref.kind, math_shape(shape[one:]), ref.src,
                         batch=shape[:one], display=ref.display)
            shape, idx = shape[one:], idx[one:]
        if temporary is not None:  # defined as the form reads it (whole, or each element)
            where = Where(ref, temporary)
            if where not in self.wheres:
                self.wheres.append(where)
        if _diagonal(idx) and not mx.batch_of(ref):
            return Blob(mx.Diagonal(ref, (mx.rows(ref), 1)), syms[:1])
        if len(shape) > 2 and not self.batch and not mx.batch_of(ref) and _unit_slice(ref) and \
                1 <= len(syms) <= 2 and len(set(syms)) == len(syms) and \
                all(i == 0 for i, d in zip(idx, shape) if d == 1) and \
                all(isinstance(i, Symbol) for i, d in zip(idx, shape) if d != 1):
            # a slice of length 1 whose literal-1 axes are read at 0, a matrix or vector of
            # the others: the reshape that drops them (reshape(slice(X, :, 0:1), [B, D]) W)
            kept = tuple(d for d in shape if d != 1)
            m: mx.M = mx.Reshape(ref, kept, math_shape(kept))
            if len(kept) == 1:
                m = mx.Reshape(ref, (kept[0], 1), math_shape((kept[0], 1)))
            return Blob(m, syms)
        if not mx.batch_of(ref) and _ones_dropped(idx, shape):
            self.dropped_ones = True
            # a tensor of literal-1 axes read at 0 and its other axes whole (R_jj′0 of R:
            # [C, C, 1], a 1×1 convolution's kernel): the reshape that drops them, not einsum
            kept = tuple(d for d in shape if d != 1)
            return Blob(mx.Reshape(ref, kept if len(kept) == 2 else (kept[0], 1),
                                   math_shape(kept)), syms)
        if len(set(syms)) != len(syms) or (len(shape) > 2 and len(syms) != len(shape)):
            return self._einsum_ref(ref, idx, shape)
        if len(shape) == 2 and len(syms) == 1:
            return Blob(mx.transpose(ref) if _is_row(ref) else ref, syms)
        return Blob(ref, syms)

    def _batched_window(self, ref: mx.Ref, e: Indexed, shape: Shape) -> Blob:
        """A window along a matrix axis of a batch element (X_{i, k + 1, l} of X: [B, T, D],
        the batch i): in NumPy's reading the slice (or pad) of the whole tensor, whose every
        element is the window of the element's matrix (slice(X, :, 1:T − 1) W); inside a sum
        over the batch, where a whole tensor's slice would print as one element's
        (slice(X_b, :, 1:T − 1) slicing its columns), the whole window is a temporary read
        per element (Σ_b t1_bᵀ ∂L/∂H_b, where t1 = slice(X, :, 1:T − 1))."""
        nb = len(self.batch)
        lead = tuple(range(nb))
        # (along the batch axis also from 0: ∂L/∂Z_ikl with i over B of Z's B + C, the
        # first concatenated piece's slice(∂L/∂Z, 0:B), as the second's B:B + C is)
        along = _shifted_batch(tuple(e.indices), self.batch) or \
            isinstance(e, Indexed) and len(e.indices) == nb + 2 and \
            tuple(e.indices[:nb]) == tuple(self.batch) and \
            self._narrower(tuple(e.indices[:nb]), tuple(shape[:nb])) and \
            not self._narrower(tuple(e.indices[nb:]), tuple(shape[nb:]))
        # (a column of each element, ∂L/∂Cc_{b, j + C} of Cc: [B, CC], only as a temporary:
        # t1_b of t1 = slice(∂L/∂Cc, :, C:2 C), as a matrix's window is inside a sum; never
        # in a forward form, which names no temporary)
        rank = 2 if len(shape) == nb + 2 or reading_forward() else 1
        if element_at(tuple(e.indices), self.batch) != lead and not along or \
                ref.kind == RefKind.ANON or len(shape) != nb + rank or \
                any(d == 1 for d in shape[nb:]):
            raise NoMatrixForm("a window of a batch element")
        b = self._window_ref(ref, e, shape)
        m = b.m
        # (a window along a batch axis, ∂L/∂Z_{j + A, k, l′} in the element j: the slice
        # slice(∂L/∂Z, A:A + B), whose element j is ∂L/∂Z's element j + A)
        if not isinstance(m, (mx.Slice, mx.Pad)) or (m.axis < nb) != along or \
                tuple(b.idx[:nb]) != tuple(self.batch) or len(b.idx) != nb + rank:
            raise NoMatrixForm("a window of a batch element")
        dims = tuple(m.dims)
        if self.temporaries or rank == 1:
            t = self._element(self._temporary_named(m, dims), dims)
            where = Where(t, m)  # (defined as the form reads it, each element: _ref's)
            if where not in self.wheres:
                self.wheres.append(where)
            return Blob(t, tuple(b.idx[nb:]))
        element = mx.Ref(ref.name, ref.kind, math_shape(tuple(shape[nb:])), ref.src,
                         batch=tuple(shape[:nb]))
        kind = type(m)
        return Blob(kind(element, m.axis, m.lo, m.hi, dims, math_shape(dims[nb:])),
                    tuple(b.idx[nb:]))

    def _batched_reshape(self, ref: mx.Ref, idx: Idx, shape: Shape) -> Blob | None:
        """An element of a reshape that keeps the batch axes (O_{i, j, ⌊m/Dh⌋, m mod Dh} of
        O: [B, T, H, Dh], the batch i), in NumPy's reading: the reshape of the whole tensor,
        each element a matrix (reshape(O, [B, T, D]) Wo); None inside a sum over the batch
        (a temporary says it there) or for any other read."""
        nb = len(self.batch)
        view = reshape_view(idx)
        if self.temporaries or self.views or view is None or ref.kind == RefKind.ANON or \
                len(shape) < nb + 2 or len(view) != nb + 2 or tuple(view[:nb]) != tuple(self.batch) or \
                not all(isinstance(i, Symbol) for i in view) or \
                tuple(idx[:nb]) != tuple(self.batch):
            return None
        dims = self._dims_of(tuple(view))
        if any(d == 1 for d in dims[nb:]):
            return None
        element = mx.Ref(ref.name, ref.kind, tuple(shape[nb:]), ref.src, batch=tuple(shape[:nb]))
        return Blob(mx.Reshape(element, dims, math_shape(dims[nb:])), tuple(view[nb:]))

    def _temporary(self, ref: mx.M, shape: Shape, axes: tuple[int, ...], view: Idx
                   ) -> tuple[mx.Ref, Idx, mx.M]:
        """The tensor a permuted split reads whole, reshape(permute(ref, axes)), as a
        temporary named in a where-clause (``t1 = reshape(permute(∂L/∂Q, (0, 2, 1, 3)),
        [B, T, D])``), and the indices it is read at: the primitive steps of the line, so
        that what reads it (t1 Wqᵀ, Σ_b X_bᵀ t1_b) has the matrix form any tensor has.
        Never in a forward form, which names no temporary (nothing defines it there)."""
        if reading_forward():
            raise NoMatrixForm("a temporary in a forward form")
        moved = tuple(shape[a] for a in axes)
        dims = self._dims_of(view)
        rhs = mx.Reshape(mx.Permute(ref, axes, moved, math_shape(moved)), dims,
                         math_shape(dims))
        return self._temporary_named(rhs, dims), view, rhs

    def _merged_digits(self, ref: mx.Ref, idx: Idx, shape: Shape
                       ) -> tuple[mx.M, Shape, tuple[int, ...], Idx] | None:
        """An axis read at a flat index of a digit of another index and a plain one
        (P_{i, ⌊l/R⌋, p·R + (l mod R)}, the adjoint of a PixelShuffle's reshape, permute,
        reshape): that axis split into its sizes first (reshape(P, [B, C, To, R])), then read
        as :func:`permuted_view` reads a split whose digits stand apart.  Returns the split
        tensor, its shape, the permutation and the view; None for any other read."""
        out: list[Any] = []
        dims: list[Any] = []
        found = False
        for i, d in zip(idx, shape):
            if isinstance(i, Flat) and any(isinstance(x, Digit) for x in i.digits):
                names = [self.ctx.dim_of_size.get(z) for z in i.sizes]
                if any(n is None for n in names) or \
                        not self._same_size(self.ctx.size(d), sympy.Mul(*i.sizes)):
                    return None
                out.extend(i.digits)
                dims.extend(names)
                found = True
            else:
                out.append(i)
                dims.append(d)
        if not found:
            return None
        # each split's digits brought together where its first digit stands: the index
        # keeps its place (∂L/∂H_ilp reads reshape(permute(…, (0, 1, 3, 2)), [B, CR, To]))
        runs: dict[Any, list[int]] = {}
        for a, i in enumerate(out):
            if isinstance(i, Digit):
                runs.setdefault((i.k, i.sizes), []).append(a)
        first = {a[0]: a for a in runs.values()}
        inside = {a for run in runs.values() for a in run}
        axes: list[int] = []
        for a in range(len(out)):
            if a in first:
                axes.extend(sorted(first[a], key=lambda b: out[b].position))
            elif a not in inside:
                axes.append(a)
        view = reshape_view(tuple(out[a] for a in axes))
        if view is None or sorted(axes) != list(range(len(out))):
            return None
        return (mx.Reshape(ref, tuple(dims), math_shape(tuple(dims))), tuple(dims),
                tuple(axes), view)

    def _temporary_named(self, rhs: mx.M, dims: Shape) -> mx.Ref:
        """The where-name of the temporary ``rhs`` (of spec shape ``dims``): the next tN
        that no tensor, dim or other temporary of this reading has."""
        temps = _TEMPORARIES.get()
        if rhs not in temps:
            taken = {t.name for t in self.graph.tensors} | set(self.ctx.dim_names) | \
                {r.name for r in temps.values()}
            k = len(temps) + 1
            while f"t{k}" in taken:
                k += 1
            temps[rhs] = mx.Ref(f"t{k}", RefKind.TENSOR, math_shape(dims))
        return temps[rhs]

    def _across_batch(self, e: Expr, ref: mx.Ref, shape: Shape) -> Blob:
        """softmax(Z, axis=0)_ijk read per element i of the axis it acts along: no element of
        Z says it, but the whole function does in NumPy's reading, where every tensor of the
        form stands whole (``softmax(Z, axis=0) ⊙ (Σ_n Y_n) − Y``); never element by element
        (:func:`_read_element` refuses a subscripted form that read one)."""
        self.across_used = True
        nb = len(self.batch)
        fn = mx.AxisFn(e.head, ref, e.axis, shape, math_shape(shape[nb:]))
        self.across_fns.append(fn)
        return Blob(fn, tuple(e.indices)[nb:])

    def _anonymous_element(self, ref: mx.Ref, shape: Shape, at: tuple[int, ...]
                           ) -> tuple[mx.Ref, mx.M] | None:
        """An element of an anonymous intermediate whose form is of the whole tensor
        (conv1d(X, W, b) inside leaky_relu, read per batch element in Σ_i): the form as a
        temporary named in a where-clause (``t1 = conv1d(X, W, b)``), the element t1_i then
        read as any tensor's (its internal name would print otherwise, and no form is
        given).  None when the anonymous tensor prints per element itself (X_b W)."""
        display = ref.display
        leading = at == tuple(range(len(self.batch)))
        if ref.kind != RefKind.ANON or display is None or \
                (leading and mx.batch_of(display) == tuple(shape[a] for a in at)):
            return None
        if any(isinstance(n, (mx.Each, mx.Einsum)) or isinstance(n, mx.Ref) and n.batch
               for n in mx.walk(display)):
            return None  # a form read element by element, or an einsum's: no definition
        return self._temporary_named(display, shape), display

    def _dims_of(self, idx: Idx) -> Shape:
        """The spec shape of a tensor read at ``idx`` whole (0 on a literal-1 axis)."""
        return tuple(1 if i == 0 else self.ctx.index_dim[i] for i in idx)

    def _element(self, ref: mx.Ref, shape: Shape, at: tuple[int, ...] | None = None) -> mx.Ref:
        """``ref`` as the matrix (or column) of one batch element, its batch axes at ``at``
        (leading by default; its anonymous form's, if it has one)."""
        nb = len(self.batch)
        at = tuple(range(nb)) if at is None else at
        dims = tuple(shape[a] for a in at)
        rest = tuple(d for a, d in enumerate(shape) if a not in at)
        leading = at == tuple(range(nb))
        _one_axis_each(shape, at, leading)
        if not leading or len(rest) < 2:
            if 1 in rest:  # m_t of m: [1, T, D], a literal-1 axis in the element: no subscript
                raise NoMatrixForm("an element of a tensor with a literal-1 axis")
            self.explicit = True  # only a subscript says which axis, or that it is a vector
        display = ref.display
        if isinstance(display, mx.Each) and display.dims == dims and display.at == at and \
                display.spec == tuple(shape):
            display = display.x  # written element by element alike (S_bgr = Q_bgr K_bgᵀ)
        elif display is not None and (mx.batch_of(display) != dims or not leading):
            display = None  # not read per element itself: printed by name
        return mx.Ref(ref.name, ref.kind, math_shape(rest), ref.src, display, dims,
                      () if leading else at)

    def _part_element(self, ref: mx.Ref, shape: Shape, at: tuple[int, ...],
                      missing: tuple[int, ...]) -> mx.Ref:
        """``ref`` as the matrix (or column) of one element of the batch, where it has axes
        for only some of the batch's (:func:`recognize_batch.part_at`): subscripted by
        those, the same for every element along the others (grouped-query heads' V_bg in
        the element b, g, r).  Only a subscript says it (matrix.Each)."""
        rest = tuple(d for a, d in enumerate(shape) if a not in at)
        _one_axis_each(shape, at, at == tuple(range(len(at))))
        if 1 in rest:  # (a literal-1 axis in the element: no subscript says it)
            raise NoMatrixForm("an element of a tensor with a literal-1 axis")
        self.explicit = True
        return mx.Ref(ref.name, ref.kind, math_shape(rest), ref.src, None,
                      self._dims_of(self.batch), at, missing)

    def _window_ref(self, ref: mx.M, e: Indexed | AxisFunction, shape: Shape) -> Blob:
        """An element at a shifted index: x_{i, j + lo} (a Shift) is an element of the slice
        x[:, lo:lo + n]; ∂L/∂y_{i, s − lo} under 𝟙[lo ≤ s < hi] (absorbed by
        :meth:`_absorb_ranges`) one of ∂L/∂y zero-padded to lo .. hi − 1 of s's dim."""
        m, idx, dims = self.window(ref, e, shape)
        syms = tuple(i for i in idx if i != 0)
        if len(set(syms)) != len(syms):
            raise NoMatrixForm("a diagonal of a window")
        if len(dims) > 2 and len(syms) != len(dims):
            if self.unit_result and e == self.top and syms == tuple(self.order):
                return Blob(m, syms)  # the whole slice X[:, T1:T, :] is the result
            return self._einsum_ref(m, tuple(idx), dims)  # type: ignore[arg-type]
        if len(dims) == 2 and len(syms) == 1:
            return Blob(mx.transpose(m) if _is_row(m) else m, syms)
        return Blob(m, syms)

    def window(self, ref: mx.M, e: Indexed | AxisFunction, shape: Shape
               ) -> tuple[mx.M, Idx, Shape]:
        """The slice (or padding) an element at a shifted index is of (:meth:`_window_ref`),
        the plain indices it is read at there, and its spec shape."""
        idx = list(e.indices)
        pad = self.padded.pop(e, None)
        if pad is not None:
            axis, lo, hi = pad
            i = idx[axis]
            s = i.index if isinstance(i, Window) else sympy.expand(i + lo)
        else:
            # a read inside the axis: a slice's Shift, a collapsed window s + off (a
            # concatenated piece's adjoint), or a plain index over a narrower dim (from 0)
            at = [a for a, i in enumerate(idx) if isinstance(i, (Shift, SAdd))
                  or self._narrower((i,), (shape[a],))]
            if len(at) != 1 or any(isinstance(i, Window) for i in idx):
                raise NoMatrixForm("an element at a shifted index outside its range")
            axis = at[0]
            i = idx[axis]
            if isinstance(i, Shift) and i.index.is_Number and self._same_size(i.count, S.One):
                # a slice of length 1 read at its one element (X[:, 0:1, :] itself): the
                # slice, its literal-1 axis kept and read at 0
                if has_index_map(tuple(idx[:axis] + idx[axis + 1:])):
                    raise NoMatrixForm("a window of a tensor at index maps")
                idx[axis] = sympy.Integer(0)
                if shape[axis] == 1:  # (all of a literal-1 axis: the tensor itself)
                    return ref, tuple(idx), shape
                one = tuple(1 if a == axis else d for a, d in enumerate(shape))
                lo = i.offset  # (hi as written: X[:, T1:T, :] at T1 = T − 1 is T1:T)
                hi = lo + 1 if lo.is_Number else lo + i.count
                return mx.Slice(ref, axis, lo, hi, one, math_shape(one)), tuple(idx), one
            if isinstance(i, Shift):  # its count is hi − lo as written (K:N, not K:K + M)
                lo, s, hi = i.offset, i.index, i.offset + i.count
                if not isinstance(s, Symbol) or not self._same_size(
                        self.ctx.size(self.ctx.index_dim.get(s, 1)), i.count):
                    # its index substituted by one over another dim (v_{j} under 𝟙[0 ≤ j < K]):
                    # no slice of the index's length
                    raise NoMatrixForm("a shifted read over another dim than the slice's")
            else:
                s, lo = shift_parts(i, lambda a: a in self.ctx.index_dim)
                hi = lo + self.ctx.size(self.ctx.index_dim.get(s, 1))
                if at_most(self.ctx.graph.spec.dims, self.ctx.sizes, hi,
                           self.ctx.size(shape[axis])) is not True:
                    # (an index over a dim not known to fit the axis: h3_jk of h3: [N, M]
                    # with k over N is no slice 0:N of it)
                    raise NoMatrixForm("a read over a dim not known to fit the axis")
            if not isinstance(s, Symbol) or \
                    any(a in self.ctx.index_dim for a in sympy.Add(lo).free_symbols):
                raise NoMatrixForm("an index shifted by another index (a correlation)")
        if not isinstance(s, Symbol) or has_index_map(tuple(idx[:axis] + idx[axis + 1:])):
            raise NoMatrixForm("a window of a tensor at index maps")
        idx[axis] = s
        dims = tuple(self.ctx.index_dim[s] if a == axis else d for a, d in enumerate(shape))
        # a slice reads lo:hi of the tensor's axis, a pad writes it into the padded one's
        if outside_axis(self.ctx.graph.spec.dims, self.ctx.sizes, lo, hi,
                        self.ctx.size((dims if pad is not None else shape)[axis])):
            raise NoMatrixForm("a window past the end of its axis")
        kind = mx.Pad if pad is not None else mx.Slice
        hi = self.window_end(lo, hi, (dims if pad is not None else shape)[axis])
        return kind(ref, axis, lo, hi, dims, math_shape(dims)), tuple(idx), dims

    def _narrower(self, idx: Idx, shape: Shape) -> bool:
        """Whether a plain index runs over another dim than its axis' (∂L/∂c_ij with j over
        N, c's axis over N + M): a read of part of the axis."""
        return any(isinstance(i, Symbol) and d != 1 and self.ctx.index_dim.get(i, d) != d
                   for i, d in zip(idx, shape))

    def _narrowed_sums(self, factors: list[Expr], summed: list[Index]
                       ) -> tuple[list[Expr], list[Index]]:
        """A sum over an index under a range of it, Σ_j′ f(j′) 𝟙[lo ≤ j′ < hi], as the sum
        over the range alone, Σ_s f(s + lo) with s over the dim of size hi − lo (exact where
        lo … hi − 1 lies inside j′'s own range, as decided by the dims' definitions or the
        sizes the spec gives): ∂L/∂x0 of h0 = (x0 @ x1)[:, 0:M], Σ_j′ ∂L/∂h0_jj′ x1_kj′
        𝟙[0 ≤ j′ < M], is ∂L/∂h0 slice(x1, :, 0:M)ᵀ (each factor then read at its own dim
        or a slice; a pad of the product of both had no matrix form)."""
        dims = self.ctx.graph.spec.dims
        for f in list(factors):
            if not (isinstance(f, ElementwiseFunction) and f.spec.name == IN_RANGE) or \
                    not isinstance(f.args[0], Symbol) or f.args[0] not in summed:
                continue
            x, lo, hi = f.args
            if any(a in self.ctx.index_dim for a in sympy.Add(lo, hi).free_symbols):
                continue
            if not _read_plainly(factors, x, self.ctx.index_dim):
                continue  # (E_(tok_j′, k): the lookup would read tok past the range's end)
            dim = next((d for d in self.ctx.sizes
                        if self._same_size(self.ctx.size(d), hi - lo)), None)
            if dim is None or at_most(dims, self.ctx.sizes, S.Zero, lo) is not True or \
                    at_most(dims, self.ctx.sizes, hi, self.ctx.count(x)) is not True or \
                    any(g is not f and isinstance(g, ElementwiseFunction) and
                        g.spec.name == IN_RANGE and g.args[0] == x for g in factors):
                continue
            s = self.ctx.fresh(dim)
            factors = [g.xreplace({x: s + lo}) for g in factors if g is not f]
            summed = [s if i == x else i for i in summed]
        return factors, summed

    def _absorb_ranges(self, factors: list[Expr]) -> list[Expr]:
        """Each range condition 𝟙[lo ≤ s < hi] of a product that says exactly where a factor
        ∂L/∂y_{…, s − lo, …} (with hi − lo its axis' size) is defined, taken out: that factor
        is then read zero-padded (:meth:`_window_ref`), which is 0 outside the range.  Any
        other range is taken out with every factor that reads s, their product padded as a
        whole (:meth:`_padded_product`)."""
        factors = self._inner_ranges(factors)
        out = list(factors)
        for f in factors:
            if not (isinstance(f, ElementwiseFunction) and f.spec.name == IN_RANGE) or \
                    not isinstance(f.args[0], Symbol):
                continue
            x, lo, hi = f.args
            if any(a in self.ctx.index_dim for a in sympy.Add(lo, hi).free_symbols):
                # 𝟙[m ≤ k < m + To]: bounds that move with another index are no padding
                raise NoMatrixForm("a range whose bounds are indices (a correlation)")
            # the one factor that reads x's shifted index: several (σ'(a_{k − K}) U_{k − K})
            # would each need the padding, which no product of pads says more simply
            readers = [g for g in out if g is not f and _reads_at(g, x - lo)]
            # only where no other factor reads x (Sn_ik ∂L/∂y_{i, k + H} under 𝟙[k < H]: the
            # second read is in range only with the first, so the two are padded as a whole)
            alone = not any(g is not f and g not in readers and _reads_shifted(g, x)
                            for g in out)
            hit = self._padded_axis(readers[0], x, lo, hi) if len(readers) == 1 and alone \
                else None
            if hit is not None:
                self.padded[readers[0]] = (hit, lo, hi)
                out.remove(f)
                continue
            # σ'(a_{k − K}) U_{k − K}, exp(u_k) with k over N: the product of the factors that
            # read x, recognized at x = s + lo with s over the range's own dim, zero-padded
            # (every factor that reads x: x = s + lo is exact wherever the range holds)
            whole = sympy.Mul(*[g for g in out if g is not f and g.has(x)])
            readers = list(sympy.Mul.make_args(whole))
            self.padded_products[whole] = self._padded_product(whole, x, lo, hi)
            out = [g for g in out if g is not f and g not in readers] + [whole]
        return out

    def _inner_ranges(self, factors: list[Expr]) -> list[Expr]:
        """``factors`` less each range condition another one on the same index implies:
        𝟙[0 ≤ k < M] 𝟙[0 ≤ k < N] with M ≤ N is 𝟙[0 ≤ k < M] (the adjoint of x0[:, 0:N][:, 0:M],
        2 h3_jk under both, is pad(h3, 0:M, axis=1); padded once per range it read h3 over
        0:N, past its end)."""
        ranges = [f for f in factors if isinstance(f, ElementwiseFunction) and
                  f.spec.name == IN_RANGE and isinstance(f.args[0], Symbol)]
        dims, sizes = self.ctx.graph.spec.dims, self.ctx.sizes
        kept = list(ranges)
        for g in ranges:  # (one at a time: of two that imply each other one stays)
            if any(f is not g and f.args[0] == g.args[0] and
                   at_most(dims, sizes, g.args[1], f.args[1]) is True and
                   at_most(dims, sizes, f.args[2], g.args[2]) is True for f in kept):
                kept.remove(g)
        return [f for f in factors if f in kept or f not in ranges]

    def _padded_batch_sum(self, factors: list[Expr], summed: list[Index], free: set[Index]
                          ) -> Blob | None:
        """A sum over the batch under one range of a free index (∂L/∂Pe_lk of H = X +
        Pe[0:T]: Σ_j (…)_jlk′ W_kk′ 𝟙[0 ≤ l < T]): the sum read whole at the range's own
        indices, then padded, pad(Σ_b (…)_b Wᵀ, 0:T, axis=0); None for any other product,
        or where that reading fails (the ranges are then absorbed factor by factor)."""
        ranges = [f for f in factors if isinstance(f, ElementwiseFunction) and
                  f.spec.name == IN_RANGE]
        if self.batch or len(ranges) != 1 or not isinstance(ranges[0].args[0], Symbol) or \
                ranges[0].args[0] not in free or not summed:
            return None
        others = [f for f in factors if f is not ranges[0]]
        if not _summed_batch(self.ctx, others, summed):
            return None
        x, lo, hi = ranges[0].args
        if any(a in self.ctx.index_dim for a in sympy.Add(lo, hi).free_symbols):
            return None
        body = Sum(Mul(*others), *[(v, 0, self.ctx.count(v) - 1) for v in summed])
        kept = (list(self.wheres), self.einsum_used, self.wide_pads, dict(self.padded),
                dict(self.padded_products))
        try:
            out = self._padded_product(body, x, lo, hi)
        except NoMatrixForm:
            out = None
        if out is None or self.einsum_used and not kept[1]:
            self.wheres, self.einsum_used, self.wide_pads, self.padded, \
                self.padded_products = kept
            return None
        return out

    def _padded_product(self, e: Expr, x: Symbol, lo: Expr, hi: Expr) -> Blob:
        """``e`` (a product under 𝟙[lo ≤ x < hi]) as pad(E, lo:hi, axis) where E is ``e``
        at x = s + lo, s over a dim of size hi − lo: exact, as the range makes the term 0
        outside lo … hi − 1 and pad is 0 there."""
        dim = next((d for d in self.ctx.sizes if self._same_size(self.ctx.size(d), hi - lo)),
                   None)
        if dim is None:
            raise NoMatrixForm("a range condition over a length no dim has")
        s = self.ctx.fresh(dim)
        # a bare range (∂L/∂x of z = x[0:M] read by sum(z)): ones over the range, padded
        ones = mx.Ones(math_shape((dim,)))
        if e.has(x):
            inner = self.blob(e.xreplace({x: s + lo}))
        elif e == 1:
            inner = Blob(ones, (s,))
        else:
            # a number the range does not read (Σ_i Σ_k Σ_i′ ∂L/∂h1_iki′ of a batch sum under
            # 𝟙[0 ≤ j < M]): that number times the ones, never the ones alone
            whole = self.blob(e)
            if whole.idx:
                raise NoMatrixForm("a range over a product that does not read it")
            inner = Blob(mx.scale(whole.m, ones), (s,))
        if s not in inner.idx or x in inner.idx:
            raise NoMatrixForm("a range condition over a product that does not read it")
        dims = tuple(self.ctx.index_dim[i] for i in inner.idx)
        if tuple(inner.m.shape) != math_shape(dims) or len(dims) > 2 and mx.batch_of(inner.m):
            # (three or more axes: the whole tensor of its indices' dims, as NumPy pads it)
            raise NoMatrixForm("a padded product of another orientation")
        self.wide_pads = self.wide_pads or len(dims) > 2
        axis = inner.idx.index(s)
        out = dims[:axis] + (self.ctx.index_dim[x],) + dims[axis + 1:]
        idx = tuple(x if i == s else i for i in inner.idx)
        if self.batch and any(mx.whole_batched(n) for n in mx.walk(inner.m)):
            # a product of whole windows (slice(X, :, 0:Tm) in NumPy's reading): padded whole,
            # along the tensor's own axis (pad(slice(X, :, 0:Tm), 0:Tm, axis=1))
            if self.temporaries or len(out) != 2:
                raise NoMatrixForm("a padded product of a batch element")
            full = tuple(self.ctx.index_dim[i] for i in self.batch) + out
            nb = len(self.batch)
            return Blob(mx.Pad(inner.m, axis + nb, lo, self.window_end(lo, hi, out[axis]), full,
                               math_shape(out)), idx)
        return Blob(mx.Pad(inner.m, axis, lo, self.window_end(lo, hi, out[axis]), out,
                           math_shape(out)), idx)

    def _padded_axis(self, g: Expr, x: Expr, lo: Expr, hi: Expr) -> int | None:
        if not isinstance(g, Indexed) or not self.ctx.is_tensor_atom(g) or g in self.padded:
            return None
        shape = self.graph[self.ctx.name_of(key_of(g))].shape
        for a, i in enumerate(g.indices):
            at = i.index - i.offset if isinstance(i, Window) else i
            if i != 0 and sympy.expand(at - (x - lo)) == 0 and \
                    self._same_size(self.ctx.size(shape[a]), hi - lo):
                return a
        return None

    def _same_size(self, a: Expr, b: Expr) -> bool:
        """Whether two sizes are equal by the dims' definitions (M: N − K is N − K)."""
        return same_size(self.ctx.graph.spec.dims, self.ctx.sizes, a, b)

    def _view_ref(self, ref: mx.Ref, idx: Idx) -> Blob:
        """An element at index maps, X[b, h·Dh + d]: an element of reshape(X) at plain
        indices, X's elements in the shape of the indices' dims."""
        view = reshape_view(idx)
        if view is not None and not digits_fill(self.ctx, idx):
            raise NoMatrixForm("a reshape's digit read over part of its size")
        if view is None:
            taken = self._taken_view(ref, idx)
            if taken is not None:
                return taken
            spread = self._spread_view(ref, idx)
            if spread is None:
                raise NoMatrixForm("an element at an index map that is no reshape")
            m, view = spread
            self.spread = True
            dims = tuple(1 if i == 0 else self.ctx.index_dim[i] for i in view)
        else:
            dims = tuple(1 if i == 0 else self.ctx.index_dim[i] for i in view)
            m = mx.Reshape(ref, dims, math_shape(dims))
        syms = tuple(i for i in view if i != 0)
        if len(dims) > 2 and len(syms) != len(dims):
            return self._einsum_ref(m, view, dims)  # type: ignore[arg-type]
        if len(dims) == 2 and len(syms) == 1:
            return Blob(mx.transpose(m) if _is_row(m) else m, syms)
        return Blob(m, syms)

    def _taken_view(self, ref: mx.Ref, idx: Idx) -> Blob | None:
        """An element at a flat index with a digit that is a position (G_{i·2 + 1, j}, a
        stacked piece merged by a reshape and read every second row; g_{1·N·M + i·M + j}):
        an element of the reshape to the digits' axes with that position taken,
        take(reshape(G, [N, 2, M]), 1, axis=1)_ij.  None for any other read."""
        if self.batch or mx.batch_of(ref):
            return None  # (a take is of a whole tensor's axis, as _position_ref's)
        out: list[Any] = []
        dims: list[Any] = []
        for i in idx:
            if isinstance(i, Flat):
                for d, z in zip(i.digits, i.sizes):
                    name = next((q for q in sorted(self.ctx.sizes)
                                 if self._same_size(self.ctx.size(q), z)), None)
                    if name is None or not (isinstance(d, Symbol) or d.is_Integer):
                        return None
                    out.append(d)
                    dims.append(name)
            elif isinstance(i, Symbol) and i in self.ctx.index_dim:
                out.append(i)
                dims.append(self.ctx.index_dim[i])
            else:
                return None
        at = [a for a, d in enumerate(out) if d.is_Integer]
        syms = tuple(d for d in out if not d.is_Integer)
        if not at or len(set(syms)) != len(syms) or not 1 <= len(syms) <= 2 or \
                any(self.ctx.index_dim[d] != dims[a] for a, d in enumerate(out)
                    if not d.is_Integer):
            return None
        m: mx.M = mx.Reshape(ref, tuple(dims), math_shape(tuple(dims)))
        for a in reversed(at):
            del dims[a]
            m = mx.Take(m, a, int(out[a]), tuple(dims), math_shape(tuple(dims)))
        return Blob(m, syms)

    def _position_ref(self, ref: mx.M, idx: Idx, shape: Shape, keep: bool = False) -> Blob:
        """An element at literal positions of axes of more than one element: ∂L/∂S_{i, 0}
        (a stacked piece's adjoint, a width-1 concatenated piece's) is an element of
        take(∂L/∂S, 0, axis=1), that axis gone.  Where a take cannot say it (inside a sum
        over a batch, whose elements' matrices have no take; beside an index an integer
        input picks) one position is the slice 0:1 of its axis, a literal 1 axis kept
        (never the whole axis, which a literal 1 axis' index 0 would say)."""
        if has_index_map(idx):
            raise NoMatrixForm("a position of an axis read with other index maps")
        sized = [a for a, (i, d) in enumerate(zip(idx, shape))
                 if _size_position(i, self.ctx) and d != 1]
        # (a take states a literal position only: beside a dims' one, a slice says both)
        take = not self.batch and not any(isinstance(i, Indexed) for i in idx) and not keep \
            and not sized
        at = sorted(sized + [a for a, (i, d) in enumerate(zip(idx, shape))
                             if i.is_Number and d != 1])
        if any(outside_axis(self.ctx.graph.spec.dims, self.ctx.sizes, idx[a], idx[a] + 1,
                            self.ctx.size(shape[a])) for a in sized):
            raise NoMatrixForm("a position past the end of its axis")
        if not take and (len(at) != 1 or self._narrower(idx, shape) or
                         (self.batch and element_at(idx, self.batch) is not None)):
            raise NoMatrixForm("an element at fixed positions of several axes")
        m, rest, dims = ref, list(idx), list(shape)
        for a in reversed(at):  # the last first: the axes before keep their number
            p = idx[a]
            if take:
                del rest[a], dims[a]
                m = mx.Take(m, a, int(p), tuple(dims), math_shape(tuple(dims)))
            else:
                rest[a], dims[a] = 0, 1
                m = mx.Slice(m, a, p, p + 1, tuple(dims), math_shape(tuple(dims)))
        syms = tuple(i for i in rest if i != 0)
        if len(set(syms)) != len(syms) or (len(dims) > 2 and len(syms) != len(dims)):
            if keep and syms == tuple(self.order) and len(set(syms)) == len(syms):
                return Blob(m, syms)  # the whole slice X[:, 0:1, :] is the result
            if not take:
                raise NoMatrixForm("a diagonal, or a rank-3 tensor, at a fixed position")
            return self._einsum_ref(m, tuple(rest), tuple(dims))  # type: ignore[arg-type]
        if len(dims) == 2 and len(syms) == 1:
            return Blob(mx.transpose(m) if _is_row(m) else m, syms)
        return Blob(m, syms)

    def _einsum_ref(self, ref: mx.Ref, idx: Idx, shape: Shape) -> Blob:
        if _NUMPY_AXES.get() and len(idx) == 3 and idx[1] == idx[2] != idx[0] and \
                all(isinstance(i, Symbol) for i in idx) and not mx.batch_of(ref) and \
                len(ref.shape) == 3 and ref.shape[1] == ref.shape[2]:
            # Z_ijj, each element's diagonal: NumPy's sum(Z ⊙ 𝐈, axis=2), the identity
            # broadcast along the batch axis (was einsum('ijj->ij', Z))
            d = self.ctx.index_dim[idx[1]]
            _NUMPY_AXES_READ[0] += 1
            return Blob(mx.SumAxes(mx.hadamard(ref, mx.Eye(d, (d, d))), (2,), False,
                                   self._shape_of(idx[:2])), idx[:2])
        letters = self._letters(idx)
        # a size-1 axis (index 0) is an axis of the operand all the same: it gets its own
        # letter, absent from the output, and summing over its one element drops it
        spare = iter(c for c in sorted(LETTERS) if c not in letters.values())  # from a on
        inner = "".join(letters[i] if i != 0 else next(spare) for i in idx)
        out = []
        for i in idx:
            if i != 0 and i not in out:
                out.append(i)
        sub = f"{inner}->{''.join(letters[i] for i in out)}"
        self.einsum_used = True
        return Blob(mx.Einsum(sub, (ref,), self._shape_of(tuple(out))), tuple(out))

    def _function(self, e: Expr) -> Blob:
        if len(e.args) > 1:  # arguments broadcast together, as the terms of a sum do
            # (each argument that holds a product read as its line wrote it, not the first
            # alone: maximum(Y, X @ W.T + b) is 𝟙[Y ≤ X Wᵀ + bᵀ], never 𝟙[Y ≤ (W Xᵀ + b)ᵀ])
            blobs = [self._written_way(self.blob(a)) for a in e.args]
            union = self._ordered_union([b.idx for b in blobs])
            out = mx.fn(e.spec.name, *[self._orient_like(b, union) for b in blobs])
            if len(union) == 2 and (self.oriented or _FORWARD.get()[2]):
                # the forward line wrote leaky_relu(X W1 + b1ᵀ, α), where(X W + bᵀ > 0, …):
                # its arguments are read that way, as a function of one argument's are
                flip = union[::-1]
                turned = mx.fn(e.spec.name,
                               *[transpose_deep(self._orient_like(b, union), keep_src=True)
                                 if len(b.idx) == 2 else self._orient_like(b, flip)
                                 for b in blobs])
                if self._against_line(union, out, turned) or \
                        _written_args(turned, self.oriented) > _written_args(out, self.oriented):
                    return Blob(turned, flip)
            return Blob(out, union)
        inner = self.blob(e.args[0])
        if len(inner.idx) == 2 and _key(inner.m) not in self.oriented and \
                _key(transpose_deep(inner.m)) in self.oriented:
            # the forward line wrote σ(X Wᵀ + bᵀ): its derivative reads the argument that way
            inner = Blob(transpose_deep(inner.m), inner.idx[::-1])
        elif len(inner.idx) == 2:
            # and the forward form itself (its terms where they came from: the index form
            # prints them in the matrix form's order)
            turned = transpose_deep(inner.m, keep_src=True)
            if self._against_line(inner.idx, inner.m, turned):
                inner = Blob(turned, inner.idx[::-1])
        out = mx.fn(e.spec.name, inner.m)
        if e.spec.expand is None:
            return Blob(out, inner.idx)
        named, self.temporaries = self.temporaries, False
        try:  # (a helper's definition names no temporary: its clause is the helper's own)
            rhs = self.blob(self.namer(e.spec.expand(e.args[0])))
        finally:
            self.temporaries = named
        if len(inner.idx) == 2 and rhs.idx == inner.idx[::-1] and _natural(rhs, self.oriented):
            # σ'(u) = Z ⊙ (1 − Z) names the node Z: u is read Z's way, as its line wrote it
            out, idx = transpose_deep(out), rhs.idx
        else:
            idx = inner.idx
        where = Where(out, self._orient_like(rhs, idx))
        if where not in self.wheres:
            self.wheres.append(where)
        return Blob(out, idx)

    def _written_way(self, b: Blob) -> Blob:
        """``b``, an argument of a function of several arguments, turned where it holds a
        product its forward line wrote the other way round (:meth:`_against_line`) and
        where nothing else decides the orientation (no argument of the forward pass's
        functions reads either way, ``oriented``)."""
        if len(b.idx) != 2 or _key(b.m) in self.oriented:
            return b
        turned = transpose_deep(b.m, keep_src=True)
        if _key(transpose_deep(b.m)) in self.oriented or self._against_line(b.idx, b.m, turned):
            return Blob(turned, b.idx[::-1])
        return b

    def _against_line(self, idx: Idx, m: mx.M, turned: mx.M | None = None) -> bool:
        """Whether ``m``, a function's argument (or the function) read over ``idx``, holds a
        product and stands turned from the shape its forward line wrote it in
        (:func:`forward_reading`'s ``shapes``): ``sigmoid(X @ W.T)`` read as σ(W Xᵀ).  Not
        where the line's way round, ``turned``, transposes more matrices (σ(−v Wᵀ Eᵀ) of
        ``sigmoid(-(v @ W[ng].T))`` stays σ(−E W vᵀ)ᵀ: every form reads a function of a
        product the plainer way round, matrix.transpose)."""
        shapes = _FORWARD.get()[2]
        if not shapes or len(idx) != 2:
            return False
        dims = tuple(self.ctx.index_dim.get(i) if isinstance(i, Symbol) else None for i in idx)
        return dims not in shapes and dims[::-1] in shapes and \
            any(isinstance(k, mx.MatMul) for k in mx.walk(m)) and \
            (turned is None or
             mx.transposes(turned, matrices=True) <= mx.transposes(m, matrices=True))

    def _as_line(self, b: Blob) -> bool:
        """Whether ``b`` is a function of a product (or an elementwise product holding one)
        standing in the shape its forward line wrote it in (:meth:`_against_line`): a
        factor it meets in an elementwise product takes its orientation, as a named one's."""
        if not _FORWARD.get()[2] or len(b.idx) != 2:
            return False
        terms = b.m.terms if isinstance(b.m, mx.Add) else (b.m,)
        return any(isinstance(f, mx.Fn) and self._against_line(b.idx[::-1], f)
                   for t in terms for f in _factors(t))

    def _axis_function(self, e: Expr) -> Blob:
        name = self.ctx.tensor_of[e.label]
        tensor = self.graph[name]
        ref = self._whole(name, _ref_kind(tensor.kind), tensor.shape)
        kind = ref.kind
        nd = len(tensor.shape)
        if any(isinstance(i, Indexed) for i in e.indices):
            # softmax(S)_(i,labels_i): an element an integer input picks, which no matrix
            # vocabulary here says (a tensor's pick is onehot(labels) ⊙ X, a function's not)
            raise NoMatrixForm("a function of a whole axis at an index an integer picks")
        if any(isinstance(i, (Shift, SAdd, Window)) for i in e.indices) or \
                e in self.padded or self._narrower(e.indices, e.dims(tensor.shape)):
            # read over part of an axis (softmax(C, axis=0)_il with i over a concatenated
            # piece's rows): an element of a slice of the whole function, as a tensor's is
            if e.reduces or self.batch:
                raise NoMatrixForm("a function of a whole axis read over part of an axis")
            m = mx.AxisFn(e.head, ref, e.axis, tensor.shape, ref.shape)
            return self._window_ref(m, e, tensor.shape)
        if any((isinstance(i, sympy.Integer) or _size_position(i, self.ctx)) and d != 1
               for i, d in zip(e.indices, e.dims(tensor.shape))):  # (a reduction's indices
            # are its result's: logsumexp(x3, axis=0)_0 of x3: [M, 1] is at the literal 1)
            # log_softmax(S, axis=1)_{i, 0}: a position of the whole function (a stacked axis);
            # softmax(W, axis=1)_{D, l}, at a position of the dims' sizes: its slice D:D + 1
            if e.reduces:
                raise NoMatrixForm("a position of a reduced function")
            m = mx.AxisFn(e.head, ref, e.axis, tensor.shape, ref.shape)
            return self._position_ref(m, tuple(e.indices), tensor.shape)
        if has_index_map(tuple(e.indices)):
            # read at a reshape's map (logsumexp(Z, axis=1)_{i·T + j} with Z's rows BT = B·T):
            # an element of the function reshaped, as a tensor's is
            if self.batch or len(tensor.shape) > 2:
                raise NoMatrixForm("a function of a whole axis of a batch at an index map")
            dims = tuple(d for a, d in enumerate(tensor.shape) if a != e.axis) \
                if e.reduces else tuple(tensor.shape)
            return self._view_ref(mx.AxisFn(e.head, ref, e.axis, tensor.shape,  # type: ignore[arg-type]
                                            math_shape(dims) if dims else ()), tuple(e.indices))
        idx = tuple(i for i in e.indices if i != 0)
        if self.batch and _element_total(e, self.batch):
            return Blob(mx.AxisFn(e.head, self._element(ref, tensor.shape), e.axis,
                                  tensor.shape, ()), ())
        if self.batch and _element_rows(e, self.batch):
            ref = self._element(ref, tensor.shape)
            column = (self.ctx.index_dim[idx[-1]], 1)
            return Blob(mx.AxisFn(e.head, ref, e.axis, tensor.shape, column), idx[-1:])
        if self.across and idx[:len(self.batch)] == self.batch and e.axis < len(self.batch) \
                and not e.reduces and len(idx) == nd:
            return self._across_batch(e, ref, tensor.shape)
        if self.batch and idx[:len(self.batch)] == self.batch:
            # one element's rows or columns (_per_element checked the axis is one of them)
            ref = self._element(ref, tensor.shape)
            return Blob(mx.AxisFn(e.head, ref, e.axis, tensor.shape, ref.shape),
                        idx[len(self.batch):])
        if _diagonal(tuple(e.indices)) and not e.reduces:  # softmax(S)_ii, (A⁻¹)_ii
            return Blob(mx.Diagonal(mx.AxisFn(e.head, ref, e.axis, tensor.shape, ref.shape),
                                    (mx.rows(ref), 1)), idx[:1])
        if len(set(idx)) != len(idx):
            raise NoMatrixForm("a diagonal of a function of a tensor of more than two axes")
        if nd > 2:
            # softmax(S, axis)_ijk read whole: its axes are the tensor's, in order
            if len(idx) != len(e.indices) or len(set(idx)) != len(idx):
                raise NoMatrixForm("an axis function of a tensor of more than two axes")
            shape = tuple(self.ctx.index_dim[i] for i in idx) if e.reduces else ref.shape
            return Blob(mx.AxisFn(e.head, ref, e.axis, tensor.shape, shape), idx)
        if not e.reduces:  # the tensor's shape: a row vector's is read as a column's transpose
            m = mx.AxisFn(e.head, ref, e.axis, tensor.shape, ref.shape)
            return Blob(mx.transpose(m) if _is_row(m) and len(idx) == 1 else m, idx)
        shape = () if not idx else (self.ctx.index_dim[idx[0]], 1)
        return Blob(mx.AxisFn(e.head, ref, e.axis, tensor.shape, shape), idx)

    # -- sums -------------------------------------------------------------------------------

    def _add(self, e: Expr) -> Blob:
        stacked = self._stacked(e)
        if stacked is not None:
            return stacked
        with_bias = read_conv_bias(self, e)
        if with_bias is not None:
            return Blob(*with_bias)
        blobs = [self.blob(t) for t in e.args]
        union = self._ordered_union([b.idx for b in blobs])
        if len(union) > 2 and _NUMPY_AXES.get() and \
                all(len(b.idx) < len(union) for b in blobs) and \
                any(b.idx and _trailing(b, union) is None for b in blobs):
            broadcast = self._broadcast_sum(blobs, union)
            if broadcast is not None:
                return broadcast
        terms = [self._orient_like(b, union) for b in blobs]
        terms = self._pieces_in_order(sorted(terms, key=self._term_key))
        return Blob(mx.add(*terms), union)

    def _broadcast_sum(self, blobs: list[Blob], union: Idx) -> Blob | None:
        """E_il + D_jl, no term of every index: NumPy's sum of the terms each reshaped with a
        literal 1 at the axes it lacks, reshape(E, [1, N, H]) + reshape(D, [T, 1, H]), in
        the frame of the result's indices first (the spec's own broadcast, not an einsum
        against ones per term); None when a term is no whole matrix or vector, or the terms
        together miss an axis (then each is broadcast against ones)."""
        framed = self._broadcast_frame(blobs, union, inside=False)
        if framed is None:
            return None
        terms, order = framed
        out = mx.add(*sorted(terms, key=self._term_key))
        if out.shape != self._shape_of(order):
            return None
        _NUMPY_AXES_READ[0] += 1
        return Blob(out, order)

    def _broadcast_product(self, blobs: list[Blob], free: Idx) -> Blob | None:
        """M_ij w_l, an outer product into three or more axes of matrices and vectors, each
        index free and carried once: NumPy's product of the factors each reshaped with a
        literal 1 at the axes it lacks, reshape(M, [B, T, 1]) ⊙ reshape(w, [1, 1, D]) (was
        einsum('ij,l->ijl', M, w)); beside a whole tensor of every axis, Z_ijpq g_ij, the
        tensor as it stands and the others reshaped into its axes, Z ⊙ reshape(g, [B, C, 1,
        1]) (the spec's own spelling of the broadcast).  None when a factor is no whole
        matrix or vector, two share an index (but the whole tensor's), or together they miss
        an axis, and for vectors only (x_i y_j z_k: einsum('i,j,k->ijk', x, y, z) says an
        outer product of three vectors plainly)."""
        if not _NUMPY_AXES.get() or len(free) < 3 or len(blobs) < 2 or \
                any(not b.idx for b in blobs):
            return None
        whole = next((b.idx for b in blobs if set(b.idx) == set(free)), None)
        if whole is not None:
            if len(whole) != len(free) or sum(b.idx == whole for b in blobs) != 1:
                return None
        elif all(len(b.idx) < 2 for b in blobs) or \
                len([i for b in blobs for i in b.idx]) != len(free) or \
                {i for b in blobs for i in b.idx} != set(free):
            return None
        framed = self._broadcast_frame(blobs, free, inside=True, whole=whole)
        if framed is None:
            return None
        terms, order = framed
        # the factor of the frame's leading axes first, as the axes run (the whole tensor's)
        at = [(len(b.idx) < len(order), sorted(order.index(i) for i in b.idx)) for b in blobs]
        out = mx.hadamard(*(t for _, t in sorted(zip(at, terms), key=lambda p: p[0])))
        if out.shape != self._shape_of(order) or \
                any(isinstance(f, mx.Ones) for f in mx.walk(out)):
            return None
        restored = _ones_restored(out)
        if restored is not None and not any(isinstance(n, mx.Reshape)
                                            for n in mx.walk(restored)):
            # each factor a tensor as the spec declares it (X ⊙ g of g: [1, H, 1, 1]): the
            # spec's own broadcast, no reshape of NumPy's axes
            return Blob(restored, order)
        _NUMPY_AXES_READ[0] += 1
        return Blob(out, order)

    def _broadcast_frame(self, blobs: list[Blob], union: Idx, inside: bool,
                         whole: Idx | None = None) -> tuple[list[mx.M], Idx] | None:
        """The terms (or factors) ``blobs`` each reshaped with a literal 1 at the axes of
        ``union`` it lacks, and the frame's order of the indices: the result's indices first,
        each matrix its own way round where a frame allows (E W1, not (E W1)ᵀ), or ``whole``,
        the axes of the one blob that has them all, which stands as it is; None when one is
        no whole matrix or vector (or, unless ``inside``, broadcasts inside: a column inside
        a product, as a 1-d array beside a third axis, NumPy aligns elsewhere)."""
        first = tuple(i for i in self.order if i in union) + \
            tuple(i for i in union if i not in self.order)
        # each term's matrix in its own orientation where a frame allows (E W1, not (E W1)ᵀ),
        # else the frame of the result's indices first; a product's factors in the result's
        # frame (a matrix transposed inside its reshape, never the product permuted after)
        order = whole if whole is not None else first if inside else min(
            permutations(first), key=lambda o: sum(
                len(b.idx) == 2 and o.index(b.idx[0]) > o.index(b.idx[1])
                for b in blobs if all(i in o for i in b.idx)))
        dims = tuple(self.ctx.index_dim[i] for i in order)
        if len(set(order)) != len(order) or any(not isinstance(i, Symbol) for i in order):
            return None
        terms: list[mx.M] = []
        for b in blobs:
            if not b.idx:
                terms.append(b.m)
                continue
            if b.idx == whole:
                if mx.batch_of(b.m) or b.m.shape != self._shape_of(whole):
                    return None
                terms.append(b.m)
                continue
            if len(b.idx) > 2 or len(set(b.idx)) != len(b.idx) or mx.batch_of(b.m) or \
                    len(b.m.shape) != 2 or \
                    not inside and any(_broadcast_inside(x) for x in mx.walk(b.m)):
                return None
            kept = tuple(sorted(b.idx, key=order.index))
            m = b.m if kept == b.idx else mx.transpose(b.m)
            if len(kept) == 1 and m.shape[1] != 1:
                m = mx.transpose(m)  # (a row: the column it is)
            shape = tuple(d if i in b.idx else 1 for i, d in zip(order, dims))
            terms.append(mx.Reshape(m, shape, math_shape(shape)))
        return terms, order

    def _pieces_in_order(self, terms: list[mx.M]) -> list[mx.M]:
        """The pads of a concatenation's pieces in the order of their places along the axis
        (pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1), as concatenate([Xt, t]) lists
        them), where each starts where the one before ends; ``terms`` as they are otherwise."""
        if len(terms) < 2 or not all(isinstance(t, mx.Pad) for t in terms):
            return terms
        pads = [t for t in terms if isinstance(t, mx.Pad)]
        if len({(p.axis, p.dims) for p in pads}) != 1:
            return terms
        out: list[mx.M] = []
        at: Any = S.Zero
        left = list(pads)
        while left:
            nxt = next((p for p in left if self._same_size(p.lo, at)), None)
            if nxt is None:
                return terms
            out.append(nxt)
            left.remove(nxt)
            at = nxt.hi
        return out

    def _stacked(self, e: Expr) -> Blob | None:
        """Σ_p δ(s, p) X_p with every position p of s's axis once: stack([X_0, X_1 …]) along
        s's axis (ops' stack); None where the terms are no such sum."""
        groups: dict[int, list[Expr]] = {}
        axis_index = None
        for t in SAdd.make_args(e):
            hit = next((f for f in Mul.make_args(t) if isinstance(f, KroneckerDelta)
                        and any(isinstance(a, sympy.Integer) for a in f.args)), None)
            if hit is None:
                return None
            s, p = sorted(hit.args, key=lambda a: isinstance(a, sympy.Integer))
            if not isinstance(s, Symbol) or axis_index not in (None, s):
                return None
            axis_index = s
            rest = Mul(*[f for f in Mul.make_args(t) if f is not hit])
            groups.setdefault(int(p), []).append(rest)
        assert axis_index is not None
        n: Any = dim_values(self.ctx.graph.spec.dims).get(self.ctx.index_dim[axis_index])
        if n is None or not n.is_Integer or sorted(groups) != list(range(int(n))):
            return None  # some of its positions: each term placed at its own (_placed)
        blobs = [self.blob(SAdd(*groups[p])) for p in sorted(groups)]
        others = self._preferred(self._ordered_union([b.idx for b in blobs]))
        if axis_index in others or any(set(b.idx) != set(others) for b in blobs):
            raise NoMatrixForm("a stack of pieces of other shapes")
        full = self._preferred(others + (axis_index,))
        axis = full.index(axis_index)
        dims = tuple(self.ctx.index_dim[i] for i in full)
        pieces = tuple(self._orient_like(b, others) for b in blobs)
        return Blob(mx.Stack(pieces, axis, dims, math_shape(dims)), full)

    def _term_key(self, m: mx.M) -> tuple[bool, bool, int, int]:
        """Terms read positive first, constants last, otherwise in the graph's order."""
        names = [r.name for r in mx.leaves(m)]
        # (a where-named temporary, t1 = softmax(Z, axis=0), has no place: after the nodes)
        where = min((self.position.get(n, len(self.position)) for n in names),
                    default=len(self.position))
        small = isinstance(m, mx.Const) and m.value.is_Integer
        return (_is_negative(m), not names and not small, where if names else -1, len(names))

    def _orient_like(self, b: Blob, order: Idx) -> mx.M:
        """``b`` with its axes in ``order`` (a vector as a row when it runs along columns)."""
        if b.idx == order or not b.idx:
            return b.m
        if len(order) == 2:
            if b.idx == (order[1], order[0]):
                return mx.transpose(b.m)
            if b.idx == (order[1],):
                return mx.transpose(b.m)
            if b.idx == (order[0],):
                return b.m
        if len(order) > 2 and set(b.idx) == set(order):
            return self._einsum([b], order).m
        if len(order) > 2 and set(b.idx) < set(order):
            # broadcast into three or more axes: einsum against ones says exactly which
            ones = mx.Ones(tuple(self.ctx.index_dim[i] for i in order))
            aligned = _trailing(b, order)  # … or NumPy's broadcast of a matrix, or a row
            if aligned is not None:
                return mx.hadamard(aligned, ones)
            framed = self._broadcast_frame([b], order, inside=True, whole=order) \
                if _NUMPY_AXES.get() else None
            if framed is not None:  # … or reshaped with a literal 1 where it lacks an axis
                _NUMPY_AXES_READ[0] += 1  # (reshape(M, [B, C, 1, 1]) + Z: NumPy's broadcast)
                return framed[0][0]
            return self._einsum([b, Blob(ones, order)], order).m
        raise NoMatrixForm("cannot orient a term")  # pragma: no cover

    def _ordered_union(self, idxs: list[Idx]) -> Idx:
        seen: list[Index] = []
        for idx in idxs:
            for i in idx:
                if i not in seen:
                    seen.append(i)
        whole = next((idx for idx in idxs if len(idx) == len(seen) > 2), None)
        if whole is not None:  # a term that carries every index keeps its axes where they are
            return whole
        return self._preferred(tuple(seen))

    def _preferred(self, idx: Idx) -> Idx:
        """Index order for a result: the target's order where it decides."""
        if len(idx) >= 2 and all(i in self.order for i in idx):
            return tuple(sorted(idx, key=self.order.index))
        return idx

    # -- products ---------------------------------------------------------------------------

    def _spread_view(self, ref: mx.Ref, idx: Idx) -> tuple[mx.M, Idx] | None:
        """An element read at some digits of an index, not all: ∂L/∂Xp_{i, ⌊l/S⌋, m} with l
        over T = P·S (the adjoint of a mean over windows of S, Xp = mean(reshape(X, [B, P, S,
        D]), axis=2)) is the element (i, l, m) of reshape(reshape(∂L/∂Xp, [B, P, 1, D]) ⊙ 𝟏,
        [B, T, D]): the tensor given a literal-1 axis for each missing digit, broadcast
        there (the 𝟏 of the digits' sizes), and merged back.  The form and the indices it is
        read at, or None when ``idx`` is no such read."""
        split: list[Any] = []  # the spec shape with every digit's axis, missing ones 1
        full: list[Any] = []  # … with the missing digits' sizes
        view: list[Any] = []
        p, missing = 0, False
        while p < len(idx):
            i = idx[p]
            if not isinstance(i, Digit):
                if has_index_map((i,)) or not (i == 0 or isinstance(i, Symbol)):
                    return None
                d = 1 if i == 0 else self.ctx.index_dim.get(i)
                if d is None:
                    return None
                split.append(d)
                full.append(d)
                view.append(i)
                p += 1
                continue
            run = [i]
            while p + len(run) < len(idx) and isinstance(idx[p + len(run)], Digit) and \
                    idx[p + len(run)].k == i.k and idx[p + len(run)].sizes == i.sizes and \
                    idx[p + len(run)].position > run[-1].position:
                run.append(idx[p + len(run)])
            names = [self.ctx.dim_of_size.get(z) for z in i.sizes]
            if not isinstance(i.k, Symbol) or i.k not in self.ctx.index_dim or None in names:
                return None
            present = {r.position for r in run}
            missing = missing or len(present) < len(names)
            split.extend(n if q in present else 1 for q, n in enumerate(names))
            full.extend(names)
            view.append(i.k)
            p += len(run)
        syms = [v for v in view if v != 0]
        if not missing or len(set(syms)) != len(syms):
            return None
        dims = tuple(1 if v == 0 else self.ctx.index_dim[v] for v in view)
        m = mx.hadamard(mx.Reshape(ref, tuple(split), math_shape(tuple(split))),
                        mx.Ones(math_shape(tuple(full))))
        return mx.Reshape(m, dims, math_shape(dims)), tuple(view)

    def _product(self, e: Expr) -> Blob:
        placed = self._placed(e)
        if placed is not None:
            return placed
        coeff: list[mx.M] = []
        factors: list[Expr] = []
        summed: list[Index] = []
        self._flatten(e, coeff, factors, summed, set(self._free(e)))
        conv = read_conv(self, factors, summed)
        if conv is not None:
            m, idx = conv
            return Blob(mx.scale(mx.scalar_product(coeff), m) if coeff else m, idx)
        factors, summed = self._narrowed_sums(factors, summed)
        padded_sum = self._padded_batch_sum(factors, summed, set(self._free(e)))
        if padded_sum is not None:
            return Blob(mx.scale(mx.scalar_product(coeff), padded_sum.m) if coeff else
                        padded_sum.m, padded_sum.idx)
        factors = self._absorb_ranges(factors)
        total = self._broadcast_total(factors, summed, e)
        if total is not None:
            return Blob(mx.scale(mx.scalar_product(coeff), total) if coeff else total, ())
        summed_batch = self._batch_sum(factors, summed, e in self.totals)
        if summed_batch is not None:
            return Blob(mx.scale(mx.scalar_product(coeff), summed_batch.m) if coeff else
                        summed_batch.m, summed_batch.idx)
        factors, summed = self._merged_flat(factors, summed)
        blobs: list[Blob] = []
        if self.alike and not self.batch and len(factors) >= 2 and len(self.order) <= 2:
            factors, summed, blobs = self._summed_alike(factors, summed)
        if self.batch:
            nested = self._nested_batch_sum(factors, summed)
            if nested is not None:
                return Blob(mx.scale(mx.scalar_product(coeff), nested.m) if coeff else
                            nested.m, nested.idx)
            factors, summed, blobs = self._inner_batch_sums(factors, summed)
        for f in factors:
            if isinstance(f, KroneckerDelta) and any(isinstance(a, sympy.Integer)
                                                     for a in f.args):
                # δ(s, p) apart from a whole stack (_stacked) or a placed product (_placed)
                raise NoMatrixForm("a piece of a stack alone")
            if f == e:  # a factor no rule took apart (a range over a digit of a flat index,
                # 𝟙[1 ≤ ⌊l/D⌋ … < 3]): read again it would be this product again, forever
                raise NoMatrixForm("a range no pad or slice says")
            b = self.padded_products.pop(f) if f in self.padded_products else self.blob(f)
            if not b.idx:
                coeff.append(b.m)
            else:
                blobs.append(b)
        carried = {i for b in blobs for i in b.idx}
        for s in [s for s in summed if s not in carried]:
            # Σ_s of factors free of s: the dim's size times them (never dropped, even by einsum)
            coeff.append(mx.Const(self.ctx.count(s)))
            summed.remove(s)
        free = self._free(e)
        try:
            result = self._combine(blobs, summed, free)
        except NoMatrixForm:
            if any(len(b.idx) > 0 for b in blobs):
                result = self._einsum(blobs, self._preferred(free))
            else:  # pragma: no cover - scalars always combine
                raise
        return Blob(mx.scale(mx.scalar_product(coeff), result.m) if coeff else result.m,
                    result.idx)

    def _summed_alike(self, factors: list[Expr], summed: list[Index]
                      ) -> tuple[list[Expr], list[Index], list[Blob]]:
        """The factors of a product summed over an index that only whole tensors of three or
        more axes read, all at the same indices (Σ_l S_lij softmax(S, axis=0)_lij beside
        matrices read at i, j): NumPy's sum over that axis, ``sum(S ⊙ softmax(S, axis=0),
        axis=0)`` (:func:`_framed`), a matrix of the others, not an einsum of them all.
        Returns the factors and sums left, and the blobs read."""
        for s in summed:
            held = [f for f in factors if s in f.free_symbols]
            if len(held) < 2 or not all(isinstance(f, (Indexed, AxisFunction)) for f in held):
                continue
            reads = {tuple(f.indices) for f in held}
            if len(reads) != 1:
                continue
            (inds,) = reads
            order = tuple(i for i in inds if i != s)
            if len(inds) < 3 or not all(isinstance(i, Symbol) for i in inds) or \
                    len(set(inds)) != len(inds) or len(order) > 2 or \
                    any(i in summed for i in order):
                continue
            body = Sum(Mul(*held), (s, 0, self.ctx.count(s) - 1))
            dims = tuple(self.ctx.index_dim[i] for i in order)
            found = _framed(self.ctx, self.namer, self.anon_forms, body, order, dims)
            m = found.matrix if found is not None else None
            at = inds.index(s)
            if isinstance(m, mx.Reshape) and isinstance(m.x, mx.SumAxes) and m.x.keep and \
                    m.x.axes == (at,):  # (its kept axis dropped: NumPy's sum without keepdims)
                m = mx.SumAxes(m.x.x, m.x.axes, False, math_shape(dims))
            if not isinstance(m, mx.SumAxes) or m.keep or m.axes != (at,) or \
                    any(isinstance(n, mx.Einsum) for n in mx.walk(m)):
                continue
            rest = [f for f in factors if f not in held]
            return rest, [t for t in summed if t != s], [Blob(m, order)]
        return factors, summed, []

    def _merged_flat(self, factors: list[Expr], summed: list[Index]
                     ) -> tuple[list[Expr], list[Index]]:
        """A product summed over the digits of a flat index it reads (Σ_i Σ_j
        δ(k, lab_{i·T + j}) X_ijl, lab: [BT]) as summed over the flat index m itself, the
        tensors read at the digits side by side read at m's digits (X_{⌊m/T⌋, m mod T, l}):
        reshape(X, [BT, D]) beside onehot(lab), where no reading per batch element says it
        (a one-hot of a flat index has no element).  Unchanged where the digits stand
        anywhere else (apart, in another order, alone)."""
        flats = sorted({f for x in factors for f in x.atoms(Flat)}, key=sympy.default_sort_key)
        for flat in flats:
            digits = tuple(flat.digits)
            if len(digits) < 2 or len(set(digits)) != len(digits) or \
                    not all(isinstance(d, Symbol) and d in summed for d in digits):
                continue
            dim = self._flat_dim(factors, flat)
            if dim is None:
                continue
            m = self.ctx.fresh(dim)
            table = {flat: m}
            n = len(digits)
            for x in factors:
                for e in x.atoms(Indexed):
                    inds = list(e.indices)
                    for a in range(len(inds) - n + 1):
                        if tuple(inds[a:a + n]) == digits:
                            inds[a:a + n] = [Digit(m, p, *flat.sizes) for p in range(n)]
                    if inds != list(e.indices):
                        table[e] = e.base[tuple(inds)]
            merged = [x.xreplace(table) for x in factors]
            if any(set(digits) & x.free_symbols for x in merged):
                continue
            return merged, [s for s in summed if s not in digits] + [m]
        return factors, summed

    def _flat_dim(self, factors: list[Expr], flat: Expr) -> str | None:
        """The dim of an axis a tensor of ``factors`` is read at ``flat`` on, when its size is
        the product of the flat index's sizes (BT of lab: [BT] read at i·T + j)."""
        for x in factors:  # (the atoms in a fixed order: two dims of one size name one)
            for e in sorted(x.atoms(Indexed), key=sympy.default_sort_key):
                if not self.ctx.is_tensor_atom(e) or flat not in e.indices:
                    continue
                dim = self._whole_ref(e)[1][list(e.indices).index(flat)]
                if isinstance(dim, str) and \
                        self._same_size(self.ctx.size(dim), sympy.Mul(*flat.sizes)):
                    return dim
        return None

    def _placed(self, e: Expr) -> Blob | None:
        """δ(s, p) R with R free of s: R placed at position p of s's axis, zeros elsewhere,
        pad(reshape(R, [B, 1, D]), p:p + 1, axis=1) - the adjoint of a slice of length 1
        whose literal-1 axis a reshape dropped (x1 = reshape(X[:, 0:1, :], [B, D]) gives
        ∂L/∂X_ijk = δ_{0, j} ∂L/∂x1_ik); a vector R is that column or row as it stands.
        None when ``e`` is no such product (the delta's index summed, or read by R)."""
        deltas = [f for f in Mul.make_args(e) if isinstance(f, KroneckerDelta) and
                  any(self._position(a) for a in f.args)]
        if len(deltas) != 1:
            return None
        s, p = sorted(deltas[0].args, key=self._position)
        free = self._free(e)
        if not isinstance(s, Symbol) or not self._position(p) or s not in free or \
                s not in self.order or not set(free) <= set(self.order):
            return None
        rest = e.xreplace({deltas[0]: S.One})
        if rest.has(s):
            # δ(s, p) R_s is δ(s, p) R_p: R read at the position (∂L/∂W_jk = δ_{0, k} Σ_i
            # X_ij G_ik is Xᵀ take(G, 0, axis=1) placed in column 0); never where R sums s
            if any(s in (v for v, *_ in x.limits) for x in rest.atoms(Sum)):
                return None
            rest = rest.xreplace({s: p})
        full = self._preferred(free)
        number = free == (s,) and len(self.order) == 2 and not self._has_tensor(rest) and \
            self._whole_term(deltas[0])
        if number:  # a number at the position, broadcast along the result's other index
            full = self._preferred(self.order)
        axis = full.index(s)
        others = tuple(i for i in full if i != s)
        kept, self.keep_positions = self.keep_positions, len(full) == 1
        try:
            b = self.blob(rest)
        finally:
            self.keep_positions = kept
        one = tuple(1 if i == s else self.ctx.index_dim[i] for i in full)
        coeff: mx.M = mx.Const(S.One)
        if number:
            # −(1/B) δ_{0, l} beside softmax(lg)_il (a cross-entropy at column 0): the number
            # times a column of ones placed at the position, −(1/B) pad(𝟏, 0:1, axis=1)
            coeff, b = b.m, Blob(mx.Ones(math_shape(tuple(d for d in one if d != 1))), others)
        if len(full) == 1 and b.m.is_scalar and self._whole_term(deltas[0]):
            # 3 δ_{i, N − 1} of 3 sum(u[N − 1:N]), L δ_{i, N − 1} of L = sum(exp(u[N − 1:N])):
            # the number times a one placed there, 3 pad(𝟏, N − 1:N, axis=0)
            coeff, b = b.m, Blob(mx.Ones(math_shape(one)), ())
        if set(b.idx) != set(others):
            raise NoMatrixForm("a position of an axis beside a reading of other indices")
        if mx.batch_of(b.m):
            raise NoMatrixForm("a position beside a batched form")
        m = self._orient_like(b, others) if len(others) > 1 else b.m
        if len(full) == 1:
            # a vector's one position, what a window of length 1 of a vector gives back
            # (∂L/∂u_i = 2 δ_{0, i} u_{0} of sum(u[0:1] ** 2)): that window placed back,
            # 2 pad(slice(u, 0:1), 0:1, axis=0), as a longer window's is
            if m.shape != math_shape(one):
                raise NoMatrixForm("a position of a vector beside a form of another shape")
        elif len(full) == 2:  # a column (B, 1) is its own [B, 1]; a row its [1, N]
            if m.shape[axis] != 1:
                m = mx.transpose(m)
            if m.shape != one:
                raise NoMatrixForm("a position beside a vector of another shape")
        else:
            if tuple(m.shape) != math_shape(tuple(d for d in one if d != 1)):
                raise NoMatrixForm("a position beside a form of another shape")
            # (the reshape is what the delta says: its factor prints first, δ_{0, j} ∂L/∂x1_ik)
            m = mx.Reshape(m, one, math_shape(one), deltas[0])
        dims = tuple(self.ctx.index_dim[i] for i in full)
        return Blob(mx.scale(coeff, mx.Pad(m, axis, p, self._after(p), dims, math_shape(dims))),
                    full)

    def _position(self, a: Expr) -> bool:
        """Whether ``a`` is a position of an axis: a literal, or a dim's size (T1 of the last
        step X[:, T1:T, :]) or a sum of sizes (N − 1 of the last element u[N − 1:N]), never
        an index."""
        return isinstance(a, sympy.Integer) or (
            not (isinstance(a, Symbol) and a in self.ctx.index_dim) and
            _size_position(a, self.ctx))

    def window_end(self, lo: Expr, hi: Expr, dim: Any) -> Expr:
        """The end ``hi`` of a window ``lo:hi`` of an axis over ``dim``, written as that dim
        where the window runs to its end: the second half of a concatenation of two H-wide
        pieces along D = 2 H is H:D, as a line writes it, not H:2 H; one position keeps
        its lo + 1 (D:D + 1, one column, whatever the spec calls D + 1), and an end a slice
        wrote with a number in it stays (X[2:To + 2] of To = T − 2 is 2:To + 2, not 2:T)."""
        size = self.ctx.size(dim)
        if hi == size or (hi - lo).is_Number or not self._same_size(hi, size) or \
                any(t.is_Number for t in sympy.Add.make_args(sympy.expand(hi))):
            return hi  # (an end with a number in it is as a slice wrote it: X[2:To + 2])
        return size

    def _after(self, p: Expr) -> Expr:
        """The end of the one position ``p``: p + 1, or the dim that is (T1:T at T1 = T − 1)."""
        if p.is_Number:
            return p + 1
        return next((self.ctx.size(d) for d in sorted(self.ctx.sizes)
                     if self._same_size(self.ctx.size(d), p + 1)), p + 1)

    def _broadcast_total(self, factors: list[Expr], summed: list[Index], e: Expr
                         ) -> mx.M | None:
        """The total of an elementwise product of whole tensors of one rank (three or more
        axes) that broadcast as NumPy does, a kept-dims axis against a full one:
        Σ_ijk M_ij0 Y_ijk is sum(M ⊙ Y), not einsum('ijk,ij->', Y, einsum('ija->ij', M)).
        None unless every index is summed and each axis is read at one index (or 0)."""
        bases = [f.base if isinstance(f, SPow) and f.exp.is_Integer else f for f in factors]
        if self.batch or self._free(e) or \
                not all(isinstance(f, Indexed) and self.ctx.is_tensor_atom(f) for f in bases):
            return None
        reads = [tuple(f.indices) for f in bases]
        rank = len(reads[0])
        if rank < 3 or any(len(r) != rank for r in reads):
            return None
        for axis in zip(*reads):  # one index per axis (0: a kept-dims axis, broadcast)
            letters = {i for i in axis if i != 0}
            if len(letters) > 1 or not all(isinstance(i, Symbol) for i in letters):
                return None
        used = [i for r in reads for i in r if i != 0]
        per_axis = {i: {a for r in reads for a, j in enumerate(r) if j == i} for i in used}
        if any(len(a) != 1 for a in per_axis.values()) or set(used) != set(summed):
            return None
        refs = [mx.power(self._whole_ref(b)[0], f.exp if f is not b else 1)
                for f, b in zip(factors, bases)]
        return mx.reduce(ReduceKind.SUM, mx.hadamard(*refs))

    def _batch_sum(self, factors: list[Expr], summed: list[Index], total: bool = False
                   ) -> Blob | None:
        """A product summed over the batch indices of its tensors of three or more axes
        (∂L/∂W_kl = Σ_i Σ_j X_ijk ∂L/∂Y_ijl, i over the batch) as the sum over the batch of
        each element's matrix form, Σ_b X_bᵀ ∂L/∂Y_b (see :func:`_batched`); None when the
        product does not read per element, or its element's form needs einsum or a total."""
        if self.batch or self.padded or self.padded_products or self._unit_reads(factors):
            return None
        for batch in _summed_batch(self.ctx, factors, summed):
            found = self._batch_sum_over(batch, factors, summed, total)
            if found is not None:
                return found
        return None

    def _unit_reads(self, factors: list[Expr]) -> bool:
        """Whether every tensor of three or more axes in ``factors`` is a matrix or vector
        of the others, its literal-1 axes (none leading) read at 0: read as the reshape that
        drops them (:meth:`_ref`), never as a batch of rows (Σ_b t1_bᵀ (∂L/∂G1_b)ᵀ)."""
        wide = [e for f in factors for e in f.atoms(Indexed)
                if self.ctx.is_tensor_atom(e) and len(e.indices) > 2]
        if not wide:
            return False
        for e in wide:
            ref, shape = self._whole_ref(e) if key_of(e) in self.ctx.tensor_of or \
                key_of(e) in self.ctx.adjoint_of else (None, None)
            if ref is None or shape is None or shape[0] == 1 or not _unit_slice(ref) or \
                    not any(d == 1 and i == 0 for i, d in zip(e.indices, shape)) or \
                    not all(i == 0 if d == 1 else isinstance(i, Symbol)
                            for i, d in zip(e.indices, shape)) or \
                    len([d for d in shape if d != 1]) > 2:
                return False
        return True

    def _inner_batch_sums(self, factors: list[Expr], summed: list[Index]
                          ) -> tuple[list[Expr], list[Index], list[Blob]]:
        """Inside a reading per element, the factors summed over another batch that read
        none of the element's indices (Σ_i′ Y_i′jk beside softmax(Z, axis=0)_ijk, i the
        batch): a whole matrix, Σ_n Y_n, read by a reader of no batch.  Returns the factors
        and sums left, and the blobs read."""
        batch = set(self.batch)
        inner = [f for f in factors if not batch & f.free_symbols and
                 any(s in f.free_symbols for s in summed)]
        rest = [f for f in factors if f not in inner]
        over = [s for s in summed if not any(s in f.free_symbols for f in rest)]
        if not inner or not over:
            return factors, summed, []
        whole = _Reader(self.ctx, self.namer, self.anon_forms, self.order, self.oriented)
        found = whole._batch_sum(inner, over)
        if found is None:
            return factors, summed, []
        self.wheres += [w for w in whole.wheres if w not in self.wheres]
        return rest, [s for s in summed if s not in over], [found]

    def _nested_batch_sum(self, factors: list[Expr], summed: list[Index]) -> Blob | None:
        """Inside a reading per element (the batch b, g), a product summed over an index
        that its tensors of more axes than an element's read as one more batch index (each
        after the element's): Σ_r of the element (b, g, r)'s form.  Grouped-query heads'
        ∂L/∂V_bg = Σ_r A_bgrᵀ ∂L/∂O_bgr: V is shared by the r query heads of group g, so
        its adjoint adds theirs.  None unless that element's form reads without einsum."""
        if self.padded or self.padded_products or not _PARTS.get():
            return None
        nb = len(self.batch)
        reads = [read_indices(e) for f in factors for e in f.atoms(Indexed)
                 if self.ctx.is_tensor_atom(e)]
        wide = [w for w in reads if len(w) > nb + 2]
        if not wide:
            return None
        for s in summed:
            batch = self.batch + (s,)
            if not isinstance(s, Symbol) or \
                    not all(element_at(w, batch) is not None for w in wide) or \
                    any(s in w and len(w) <= nb + 2 for w in reads):
                continue  # (s an element's own index somewhere: X_ijm's j, no batch of it)
            body = Mul(*factors)
            rest = [t for t in summed if t != s]
            if rest:
                body = Sum(body, *[(t, 0, self.ctx.count(t) - 1) for t in rest])
            if not _per_element(self.ctx, body, batch):
                continue
            reader = _Reader(self.ctx, self.namer, self.anon_forms, self.order, self.oriented,
                             batch=batch)
            reader.temporaries = self.temporaries
            reader.across = self.across
            try:
                b = reader.blob(body)
            except NoMatrixForm:
                continue
            dims = self._dims_of(batch)
            if len(b.idx) != 2 or 1 in b.m.shape or not any(
                    isinstance(n, mx.MatMul) and mx.batch_of(n.a) and mx.batch_of(n.b)
                    for n in mx.walk(b.m)) or any(
                    isinstance(n, mx.Ref) and n.batch and 1 in n.shape for n in mx.walk(b.m)):
                continue  # (a product of each element's matrices: else NumPy's sum says it)
            if reader.einsum_used or reader.across_used or \
                    tuple(mx.batch_of(b.m)) != tuple(dims) or \
                    any(mx.whole_batched(n) or _whole(n) for n in mx.walk(b.m)) or \
                    any(isinstance(n, mx.Ref) and n.batch and (
                        n.kind == RefKind.ANON or tuple(n.batch) != tuple(dims))
                        for n in mx.walk(b.m)):
                continue  # (every element's leaf subscripted by the letters b, g, r)
            self.explicit = True  # only subscripts say it (matrix.Each)
            self.wheres += [w for w in reader.wheres if w not in self.wheres]
            names = _batch_names(self.ctx, dims)[nb:]
            return Blob(mx.batch_sum(b.m, dims[nb:], names), b.idx)
        return None

    def _batch_sum_over(self, batch: Idx, factors: list[Expr], summed: list[Index],
                        total: bool = False) -> Blob | None:
        """The product read as Σ over ``batch`` of each element's form (:meth:`_batch_sum`)."""
        body = Mul(*factors)
        rest = [s for s in summed if s not in batch]
        if rest:
            body = Sum(body, *[(s, 0, self.ctx.count(s) - 1) for s in rest])
        ranged = any(f.spec.name == IN_RANGE for f in body.atoms(ElementwiseFunction))
        numbers = False
        if not _per_element(self.ctx, body, batch, relaxed=not ranged):
            # a number of each element times a product of its matrices (Σ_b (c_b/n_b)·
            # Hw_bᵀ G_b, of c, n: [B]); else a true contraction (_numbers_read)
            if ranged or not _per_element(self.ctx, body, batch, numbers=True):
                return None
            numbers = True
        reader = _Reader(self.ctx, self.namer, self.anon_forms, self.order, self.oriented,
                         batch=batch)
        reader.temporaries = not reading_forward()
        try:
            b = reader.blob(body)
        except NoMatrixForm:
            return None
        if reader.einsum_used or not mx.batch_of(b.m) or \
                any(mx.whole_batched(n) for n in mx.walk(b.m)):
            return None
        if numbers and not _elements_multiplied(b.m) and not _element_scaled(b.m):
            return None
        if total and _whole(b.m) and isinstance(b.m, mx.Reduce) and not b.idx and \
                any(isinstance(n, mx.MatMul) for n in mx.walk(b.m)) and \
                not any(is_temporary(w) for w in reader.wheres) and \
                not any(_whole(n) for n in mx.walk(b.m.x)) and \
                not any(isinstance(n, mx.Ref) and n.batch and (
                    n.at or 1 in n.shape or n.kind == RefKind.ANON and not _prints_per_element(n))
                        for n in mx.walk(b.m)):
            # (each element a matrix: a row or column element, Y_b of Y: [B, 1, E], would
            # read transposed, sum(tanh(Yᵀ)))
            # the total of every element's matrix summed over the batch is the total of the
            # whole batched form, NumPy's reading: sum((A V)^∘2), not an einsum (only for a
            # product of each element's matrices: sum(σ(Y)) is read whole by the plain rules)
            self.wheres += [w for w in reader.wheres if w not in self.wheres]
            return Blob(replace(b.m, src=None), ())  # (the whole sum's source: the caller's)
        if any(_whole(n) and (not _each_total(n) or not b.m.shape) for n in mx.walk(b.m)):
            # (an element's total, sum(t1_b), is each element's under Σ_b, beside a matrix
            # or vector of it; a sum of totals, Σ_b sum(n_b), is the whole one, sum(n))
            return None
        if any(isinstance(n, mx.Ref) and n.batch and n.kind == RefKind.ANON and
               not _prints_per_element(n) for n in mx.walk(b.m)):
            return None  # an anonymous tensor's element has no name to subscript: (conv1d(…))_b
        self.wheres += [w for w in reader.wheres if w not in self.wheres]
        dims = tuple(self.ctx.index_dim[i] for i in batch)
        return Blob(mx.batch_sum(b.m, dims, _batch_names(self.ctx, dims)), b.idx)

    def _flatten(self, e: Expr, coeff: list[mx.M], factors: list[Expr], summed: list[Index],
                 used: set[Index]) -> None:
        if isinstance(e, Mul):
            for a in e.args:
                self._flatten(a, coeff, factors, summed, used)
            return
        if isinstance(e, Sum):
            body = e.function
            for var, lo, hi in e.limits:
                if var in used:
                    new = self.ctx.fresh(self.ctx.limit_dim(hi))
                    body = body.xreplace({var: new})
                    var = new
                used.add(var)
                summed.append(var)
            self._flatten(body, coeff, factors, summed, used)
            return
        if not self._has_tensor(e) and not self._free(e):
            coeff.append(mx.Const(e))
            return
        if isinstance(e, (Indexed, AxisFunction)) and _picked(e):
            # E_{tokens_t, d} = Σ_v δ(tokens_t, v) E_vd: the pick as a product by a one-hot;
            # so softmax(S)_(i, labels_i) = Σ_v δ(labels_i, v) softmax(S)_iv
            idx = list(e.indices)
            if isinstance(e, AxisFunction):
                shape = e.dims(self.graph[self.ctx.tensor_of[e.label]].shape)
            else:
                shape = self.graph[self.ctx.name_of(key_of(e))].shape
            for n, i in enumerate(e.indices):
                if isinstance(i, Indexed):
                    v = self.ctx.fresh(str(shape[n]))  # the dim the indices run over
                    factors.append(KroneckerDelta(i, v, evaluate=False))
                    summed.append(v)
                    idx[n] = v
            factors.append(e.func(*e.args[:2], *idx) if isinstance(e, AxisFunction) else
                           e.base[tuple(idx)])
            return
        factors.append(e)

    def _combine(self, blobs: list[Blob], summed: list[Index], free: Idx) -> Blob:
        """Eliminate the summed indices one at a time, then join what is left."""
        blobs = self._group(blobs)
        remaining = list(summed)
        while remaining:
            s = _next_index(blobs, remaining)
            if len(_holders(blobs, s)) >= 3:
                blobs = self._absorb_vector(blobs, s)
            hs = _holders(blobs, s)
            weighted = self._weighted_axis_sum(hs, s)
            if weighted is None:
                weighted = self._weighted_matrix_sum(hs, s, remaining, blobs)
            if weighted is not None:
                remaining.remove(s)
                blobs = _fold_scalars(self._group(_put(blobs, hs, weighted)))
                continue
            if not _total(blobs, hs, remaining):
                _check_contractible(hs)
            new, done = self._eliminate(blobs, hs, s, remaining)
            remaining = [i for i in remaining if i not in done]
            blobs = _fold_scalars(self._group(_put(blobs, hs, new)))
        return self._finish(blobs, free)

    def _eliminate(self, blobs: list[Blob], hs: list[Blob], s: Index,
                   remaining: list[Index]) -> tuple[Blob, Idx]:
        """The factors ``hs`` with ``s`` summed out, and the indices that sum used up."""
        only = hs[0]
        if _total(blobs, hs, remaining):
            # every index summed: a total (of each element's vector, read per element)
            return Blob(self._element_inner(only.m) or mx.reduce(ReduceKind.SUM, only.m),
                        ()), only.idx
        if len(hs) == 1:
            return self._reduce(only, s), (s,)
        return self._contract(hs[0], hs[1], s), (s,)

    def _group(self, blobs: list[Blob]) -> list[Blob]:
        """Multiply elementwise the factors that carry the same indices, in the orientation
        of a named tensor among them (:func:`_natural`)."""
        out: list[Blob] = []
        for b in blobs:
            hit = next((n for n, o in enumerate(out) if set(o.idx) == set(b.idx)), None)
            if hit is None:
                out.append(b)
                continue
            o = out[hit]
            if len(o.idx) > 2 and o.idx != b.idx:
                raise NoMatrixForm("an elementwise product of permuted tensors")
            natural_o = _natural(o, self.oriented) or self._as_line(o)
            natural_b = _natural(b, self.oriented) or self._as_line(b)
            if len(o.idx) == 2 and o.idx != b.idx and natural_o != natural_b:
                # a composed factor is turned the named one's way, all through: its
                # pre-activation reads X Wᵀ + bᵀ as it was written, not (W Xᵀ + b)ᵀ
                if natural_b:
                    o, b = b, o
                out[hit] = Blob(mx.hadamard(o.m, transpose_deep(b.m)), o.idx)
                continue
            out[hit] = Blob(mx.hadamard(o.m, self._orient_like(b, o.idx)), o.idx)
        return out

    def _absorb_vector(self, blobs: list[Blob], s: Index) -> list[Blob]:
        vec = next((b for b in blobs if b.idx == (s,)), None)
        mat = next((b for b in blobs if s in b.idx and len(b.idx) == 2), None)
        if vec is None or mat is None:
            return blobs
        merged = Blob(mx.hadamard(mat.m, self._orient_like(vec, mat.idx)), mat.idx)
        return [merged if b is mat else b for b in blobs if b is not vec]

    def _element_inner(self, m: mx.M) -> mx.M | None:
        """``xᵀ y`` for the total of ``x ⊙ y`` (``xᵀ x`` of ``x∘²``), x and y each element's
        column (the rows of a [B, T] tensor read per b, Σ_j′ ∂L/∂a_bj′ a_bj′): a number per
        element, where sum(x ⊙ y) of a batched form is the total of every element's (code
        takes it of the whole array, :func:`_whole`); None for any other total."""
        if not self.batch or not mx.batch_of(m) or len(m.shape) != 2 or m.shape[1] != 1:
            return None
        if isinstance(m, mx.Pow) and m.exp == 2:
            return mx.matmul(mx.transpose(m.x), m.x)
        if isinstance(m, mx.Hadamard) and len(m.factors) == 2 and \
                all(f.shape == m.shape for f in m.factors):
            return mx.matmul(mx.transpose(m.factors[0]), m.factors[1])
        return None

    def _reduce(self, b: Blob, s: Index) -> Blob:
        if b.idx == (s,):
            return Blob(self._element_inner(b.m) or mx.reduce(ReduceKind.SUM, b.m), ())
        if len(b.idx) == 2:
            other = b.idx[1] if b.idx[0] == s else b.idx[0]
            kind = ReduceKind.COLSUM if b.idx[0] == s else ReduceKind.ROWSUM
            if kind == ReduceKind.ROWSUM and isinstance(b.m, mx.SumAxes) and \
                    b.m.axes == (2,) and not b.m.keep and len(b.m.x.shape) == 3:
                # Σ_i X_jii of sum(X ⊙ 𝐈, axis=2): each element's trace, one sum of two axes
                return Blob(mx.SumAxes(b.m.x, (1, 2), False, self._shape_of((other,))),
                            (other,))
            return Blob(mx.reduce(kind, b.m), (other,))
        summed_axis = self._axis_sum(b, s)
        if summed_axis is not None:
            return summed_axis
        raise NoMatrixForm("a reduction of a tensor of more than two axes")

    def _weighted_axis_sum(self, hs: list[Blob], s: Index) -> Blob | None:
        """Σ_k T_ijk a_k of a whole tensor of three axes and a vector along its last axis:
        NumPy's sum(T ⊙ aᵀ, axis=2), what ``T @ a`` computes; None for any other pair (a
        vector along another axis, x_i W_kij z_j, is a bilinear form: its einsum says it)."""
        if len(hs) != 2:
            return None
        vec, t = (hs[0], hs[1]) if len(hs[0].idx) == 1 else (hs[1], hs[0])
        if vec.idx != (s,) or len(t.idx) != 3 or mx.batch_of(vec.m) or \
                len(vec.m.shape) != 2 or vec.m.shape[1] != 1:
            return None
        at = t.idx.index(s) if t.idx.count(s) == 1 else None
        if at != 2 or isinstance(t.m, mx.Ref) or self._axis_sum(t, s) is None:
            return None  # (a tensor of the spec: X_b a of each element, or a bilinear form)
        return self._axis_sum(Blob(mx.hadamard(t.m, mx.transpose(vec.m)), t.idx), s)

    def _weighted_matrix_sum(self, hs: list[Blob], s: Index, remaining: list[Index],
                             blobs: list[Blob]) -> Blob | None:
        """Σ_i T_jik M_ji of a whole tensor of three axes and a matrix of two of them, the
        other (j) free or shared with another factor: NumPy's sum(T ⊙ reshape(M, [T, N, 1]),
        axis=1), a matrix the matrix rules read on (was einsum('jik,ji->jk', T, M)); None for
        any other pair (a vector, x_i W_kij z_j, is a bilinear form, a matrix summed with
        the tensor alone over both its axes is NumPy's sum over two axes at once, and a
        tensor of the spec is read per element: X_b t_b, Σ_q X_qᵀ t_q)."""
        if len(hs) != 2:
            return None
        t, m = (hs[0], hs[1]) if len(hs[0].idx) == 3 else (hs[1], hs[0])
        if len(t.idx) != 3 or len(m.idx) != 2 or s not in m.idx or \
                isinstance(t.m, mx.Ref) or not set(m.idx) < set(t.idx) or \
                any(i in remaining and len(_holders(blobs, i)) == 2
                    for i in m.idx if i != s):
            return None
        product = self._broadcast_product([t, m], t.idx)
        return None if product is None else self._axis_sum(product, s)

    def _axis_sum(self, b: Blob, s: Index) -> Blob | None:
        """Σ_k X1_ilk of a whole tensor of three axes read in its own order: NumPy's
        sum(X1, axis=2), a matrix the matrix rules read on (sum(X1, axis=2) w); None for a
        tensor read per element, at a repeated index or in another order."""
        if not _NUMPY_AXES.get() or len(b.idx) != 3 or b.idx.count(s) != 1 or \
                mx.batch_of(b.m) or len(set(b.idx)) != 3 or \
                any(not isinstance(i, Symbol) for i in b.idx):
            return None
        if b.m.shape != self._shape_of(b.idx):
            return None
        rest = tuple(i for i in b.idx if i != s)
        _NUMPY_AXES_READ[0] += 1
        return Blob(mx.SumAxes(b.m, (b.idx.index(s),), False, self._shape_of(rest)), rest)

    def _contract(self, a: Blob, b: Blob, s: Index) -> Blob:
        if len(a.idx) == 1 and len(b.idx) == 1:
            return Blob(mx.matmul(mx.transpose(a.m), b.m), ())
        if len(a.idx) == 1 or len(b.idx) == 1:
            vec, mat = (a, b) if len(a.idx) == 1 else (b, a)
            q = mat.idx[1] if mat.idx[0] == s else mat.idx[0]
            if not (_plain(vec.m) or _plain(mat.m)):
                # Σ_s M_sq v_s with neither a plain tensor: colsum(M ⊙ v) reads better than Mᵀ v
                return self._reduce(Blob(mx.hadamard(mat.m, self._orient_like(vec, mat.idx)),
                                         mat.idx), s)
            return Blob(mx.matmul(self._orient_like(mat, (q, s)), vec.m), (q,))
        p = a.idx[1] if a.idx[0] == s else a.idx[0]
        q = b.idx[1] if b.idx[0] == s else b.idx[0]
        flips_ab = (a.idx != (p, s)) + (b.idx != (s, q))
        flips_ba = (b.idx != (q, s)) + (a.idx != (s, p))
        if p in self.order and q in self.order:
            a_first = self.order.index(p) < self.order.index(q)
        else:
            a_first = flips_ab <= flips_ba
        if a_first:
            return Blob(mx.matmul(self._orient_like(a, (p, s)), self._orient_like(b, (s, q))),
                        (p, q))
        return Blob(mx.matmul(self._orient_like(b, (q, s)), self._orient_like(a, (s, p))),
                    (q, p))

    def _finish(self, blobs: list[Blob], free: Idx) -> Blob:
        # a vector over an index a matrix also carries is broadcast into it
        changed = True
        while changed and len(blobs) > 1:
            changed = False
            for v in blobs:
                if len(v.idx) != 1:
                    continue
                mat = next((b for b in blobs if len(b.idx) == 2 and v.idx[0] in b.idx), None)
                if mat is not None:
                    merged = Blob(mx.hadamard(mat.m, self._orient_like(v, mat.idx)), mat.idx)
                    blobs = [merged if b is mat else b for b in blobs if b is not v]
                    changed = True
                    break
        if len(blobs) == 1:
            return blobs[0]
        if not blobs:
            return Blob(mx.ONE, ())
        if len(blobs) == 2 and all(len(b.idx) == 1 for b in blobs):
            a, b = blobs
            order = self._preferred((a.idx[0], b.idx[0]))
            if order[0] != a.idx[0]:
                a, b = b, a
            return Blob(mx.matmul(a.m, mx.transpose(b.m)), (a.idx[0], b.idx[0]))
        broadcast = self._broadcast_product(blobs, free)
        if broadcast is not None:
            return broadcast
        raise NoMatrixForm("an outer product with more than two axes")

    # -- the fallback -----------------------------------------------------------------------

    def _letters(self, idx: Idx | list[Index]) -> dict[Index, str]:
        letters: dict[Index, str] = {}
        pool = list(LETTERS)
        for i in idx:
            if i == 0 or i in letters:
                continue
            base = i.name[0] if i.name and i.name[0].isalpha() and i.name[0].isascii() else None
            letter = base if base in pool else pool[0]
            pool.remove(letter)
            letters[i] = letter
        return letters

    def _shape_of(self, idx: Idx) -> Shape:
        dims = [self.ctx.index_dim[i] for i in idx]
        return math_shape(tuple(dims)) if dims else ()

    def _grouped(self, b: Blob, rows: Idx, cols: Idx) -> mx.M | None:
        """``b`` as the matrix of its axes ``rows`` by its axes ``cols`` (each group one axis,
        none, or the axes of a dim declared as their product, as reshape groups them): b's
        own axes run rows then cols (a reshape), or cols then rows (its transpose)."""
        if b.idx == cols + rows and rows and cols:
            m = self._grouped(b, cols, rows)
            return None if m is None else mx.transpose(m)
        if b.idx != rows + cols:
            return None
        dims: list[Any] = []
        for group in (rows, cols):
            names = [self.ctx.index_dim[i] for i in group]
            d = names[0] if len(names) == 1 else 1 if not names else \
                _dim_of_product(self.ctx, names)
            if d is None:
                return None
            dims.append(d)
        want = tuple(dims)
        m = b.m
        while isinstance(m, mx.Reshape):  # reshape(reshape(K, [N, P, MQ]), [NP, MQ]) is K
            m = m.x
        if m.shape == math_shape(tuple(d for d in want if d != 1)) and len(m.shape) == 2:
            return m if want[0] != 1 else mx.transpose(m)
        if 1 in want:  # a vector: reshape(Y, [NP]), a column (a row transposed)
            column = mx.Reshape(m, (want[want[0] == 1],), math_shape((want[want[0] == 1],)))
            return column if want[1] == 1 else mx.transpose(column)
        return mx.Reshape(m, want, math_shape(want))

    def _reshaped_product(self, blobs: list[Blob], out: Idx) -> mx.M | None:
        """Σ_n A_ijn v_n as reshape(K v, [N, P]) where A = reshape(K, [N, P, MQ]) and NP is
        declared N * P: two factors (those of the same axes multiplied elementwise first)
        whose free axes and summed axes each run together, every run one axis or a declared
        dim's, are one matrix product of the two reshaped to matrices (NumPy's reading of a
        contraction over a merged axis), the result reshaped back; None for any other."""
        merged: list[Blob] = []
        for b in blobs:
            same = next((k for k, c in enumerate(merged) if c.idx == b.idx), None)
            if same is None:
                merged.append(b)
            else:
                merged[same] = Blob(mx.hadamard(merged[same].m, b.m), b.idx)
        if len(merged) == 2 and not out and len(merged[0].idx) > 2 and \
                len(set(merged[0].idx)) == len(merged[0].idx) and \
                set(merged[0].idx) == set(merged[1].idx) and \
                not any(mx.batch_of(x.m) for x in merged):
            # Σ X_ijk Y_kji: the total of X ⊙ Y with Y's axes in X's order, as NumPy's
            # sum(X * Y.transpose(axes)) says it (sum(A ⊙ Aᵀ) of matrices)
            a, b = merged
            axes = tuple(b.idx.index(i) for i in a.idx)
            n = len(axes)
            if axes == tuple(range(n - 2)) + (n - 1, n - 2):
                return None  # each element's transpose: sum(Vᵀ ⊙ Y) says it (the batch reading)
            dims = tuple(self.ctx.index_dim[i] for i in a.idx)
            moved = mx.Permute(b.m, axes, dims, math_shape(dims))
            return mx.reduce(ReduceKind.SUM, mx.hadamard(a.m, moved))
        if len(merged) != 2 or not out:
            return None
        a, b = merged
        for x in (a, b):
            if len(set(x.idx)) != len(x.idx) or any(not isinstance(i, Symbol) for i in x.idx) \
                    or mx.batch_of(x.m):
                return None
        shared = [i for i in a.idx if i in b.idx]
        if any(i in out for i in shared) or not shared:
            return None
        free_a = tuple(i for i in a.idx if i not in shared)
        free_b = tuple(i for i in b.idx if i not in shared)
        if free_a + free_b != tuple(out):
            if free_b + free_a != tuple(out):
                return None
            a, b, free_a, free_b = b, a, free_b, free_a
        if not free_a:  # K v, not vᵀ Kᵀ: the vector on the right
            a, b, free_a, free_b = b, a, free_b, free_a
        runs = [tuple(i for i in a.idx if i in shared)]
        if tuple(i for i in b.idx if i in shared) != runs[0]:
            return None
        left = self._grouped(a, free_a, runs[0])
        right = self._grouped(b, runs[0], free_b)
        if left is None or right is None:
            return None
        m = mx.matmul(left, right)
        target = self._shape_of(out)
        if m.shape == target:
            return m
        if m.shape == tuple(reversed(target)):  # (a row: the column it is, transposed)
            return mx.transpose(m)
        dims = tuple(self.ctx.index_dim[i] for i in out)
        return mx.Reshape(m, dims, math_shape(dims))

    def _einsum(self, blobs: list[Blob], out: Idx) -> Blob:
        """``einsum`` of the factors as they stand; vectors are passed as 1-d operands."""
        product = self._reshaped_product(blobs, out)
        if product is not None:
            return Blob(product, tuple(out))
        def first(b: Blob) -> int:
            at = [out.index(i) for i in b.idx if i in out]
            return min(at) if at else len(out)
        # ties (operands with no free letter, of one rank) in the order their letters are
        # first read, the output's and the operands' before them: einsum('ijk,j,k->i', W, x,
        # z) whatever order the product's factors came in (a spec's inline einsum, re-read
        # from its index form, prints as its named node's form)
        rest = sorted(blobs, key=lambda b: (first(b), -len(b.idx)))
        seen: dict[Any, int] = {}
        for i in out:
            seen.setdefault(i, len(seen))
        blobs = []
        while rest:
            pick = min(rest, key=lambda b: (first(b), -len(b.idx),
                                            min((seen[i] for i in b.idx if i in seen),
                                                default=len(seen))))
            rest.remove(pick)
            blobs.append(pick)
            for i in pick.idx:
                seen.setdefault(i, len(seen))
        every = list(out) + [i for b in blobs for i in b.idx]
        if any(not isinstance(i, Symbol) for i in every):
            # a number in a blob's indices (a position no rule read): einsum has no letter
            raise NoMatrixForm("an einsum over a literal position")
        letters = self._letters(every)
        terms = ",".join("".join(letters[i] for i in b.idx) for b in blobs)
        sub = f"{terms}->{''.join(letters[i] for i in out)}"
        self.einsum_used = True
        return Blob(mx.Einsum(sub, tuple(b.m for b in blobs), self._shape_of(out)), tuple(out))


def _size_position(i: Any, ctx: Any) -> bool:
    """Whether the index ``i`` is a position made of the dims' sizes (D, D + 1), no letter."""
    if not isinstance(i, (sympy.Symbol, SAdd, sympy.Mul)):  # (an index map is read apart)
        return False
    free = i.free_symbols
    return bool(free) and all(s in ctx.dim_of_size for s in free)


def _reads_at(e: Expr, at: Expr) -> bool:
    """Whether ``e`` reads an element at the index ``at`` (or at a Window onto it, or a
    slice's Shift of it: σ(h_{i, l + K}) under 𝟙[0 ≤ l < K] reads the range's index)."""
    return any(sympy.expand((i.index - i.offset if isinstance(i, Window) else
                             i.index if isinstance(i, Shift) else i) - at) == 0
               for x in e.atoms(Indexed) for i in x.indices if i != 0)


def _reads_shifted(e: Expr, x: Symbol) -> bool:
    """Whether ``e`` reads an element at an index that moves with ``x`` but is not ``x``
    (∂L/∂y_{i, k + H}): in range only where that shift is, not where x is."""
    return any(i != x and isinstance(i, sympy.Basic) and i.has(x)
               for a in e.atoms(Indexed) for i in a.indices)


def _has_axis(head: str) -> bool:
    """An axis function of rows or columns (softmax), not of a whole matrix (inv, det)."""
    return AXIS_OPS[head].has_axis


def _diagonal(idx: Idx) -> bool:
    """``A_ii``: a square matrix read at one index twice, its diagonal."""
    return len(idx) == 2 and idx[0] == idx[1] and idx[0] != 0


def _holders(blobs: list[Blob], s: Index) -> list[Blob]:
    return [b for b in blobs if s in b.idx]


def _next_index(blobs: list[Blob], remaining: list[Index]) -> Index:
    """The index the fewest factors share goes first: reductions, then products; of two
    products, the one of more tensors as they stand (a weight) first, as backprop does:
    Σ_b Σ_c δ_bc W_ch 𝟙[Z > 0]_bh is colsum(𝟙[Z > 0] ⊙ (δ W)), not colsum(W ⊙ (δᵀ 𝟙[Z > 0]))."""
    return min(remaining, key=lambda i: (len(_holders(blobs, i)),
                                         -sum(_plain(b.m) for b in _holders(blobs, i)),
                                         remaining.index(i)))


def _total(blobs: list[Blob], hs: list[Blob], remaining: list[Index]) -> bool:
    """Whether ``hs`` is one factor summed over all its indices, which no other factor holds:
    its total, sum(G ⊙ O), whatever its number of axes."""
    return len(hs) == 1 and all(i in remaining and len(_holders(blobs, i)) == 1
                                for i in hs[0].idx)


def _check_contractible(hs: list[Blob]) -> None:
    if not hs:  # pragma: no cover - _product turns such a sum into the dim's size
        raise NoMatrixForm("a sum over an index no factor carries")
    if len(hs) >= 3 or len(hs) == 2 and any(len(h.idx) > 2 for h in hs):
        raise NoMatrixForm("a contraction of three or more tensors")  # (a sum over one axis
    # of one tensor of three is NumPy's sum(X, axis=k): _reduce reads it or says no)


def _put(blobs: list[Blob], old: list[Blob], new: Blob) -> list[Blob]:
    """``blobs`` with the factors ``old`` replaced by ``new``, where the first of them stood."""
    at = blobs.index(old[0])
    rest = [b for b in blobs if b not in old]
    rest.insert(min(at, len(rest)), new)
    return rest


def _fold_scalars(blobs: list[Blob]) -> list[Blob]:
    """Scalar factors multiply the first tensor factor (when there is one)."""
    scalars = [b for b in blobs if not b.idx]
    if not scalars or len(blobs) == 1:
        return blobs
    tensors = [b for b in blobs if b.idx]
    tensors[0] = Blob(mx.hadamard(tensors[0].m, *[b.m for b in scalars]), tensors[0].idx)
    return tensors


def _ref_kind(kind: TensorKind) -> RefKind:
    return RefKind.ANON if kind == TensorKind.ANON else RefKind.TENSOR


def _is_row(m: mx.M) -> bool:
    """A 1×N tensor (a kept-dims row): blobs hold vectors as columns."""
    return len(m.shape) == 2 and m.shape[0] == 1 and m.shape[1] != 1


def transpose_deep(x: mx.M, keep_src: bool = False) -> mx.M:
    """``xᵀ`` with the transpose carried to the leaves.  With ``keep_src`` each sum, product
    and scaling it passes, and the node where it stops (a function, a power, a leaf), keeps
    the SymPy expression it came from (:func:`positions`); nothing below those does."""
    out = _carried(x, keep_src)
    return mx.with_src(out, x.src) if keep_src and x.src is not None and out.src is None \
        else out


def _carried(x: mx.M, keep_src: bool) -> mx.M:
    """:func:`transpose_deep` of ``x``, before its own ``src`` is kept."""
    shape = tuple(reversed(x.shape))
    if isinstance(x, mx.Transpose):
        return x.x
    if isinstance(x, mx.Fn):  # every argument: maximum(a, b)ᵀ is maximum(aᵀ, bᵀ)
        turned = mx.Fn(x.name, transpose_deep(x.x), shape, x.src,
                       tuple(transpose_deep(r) for r in x.rest))
        # σ(X W)ᵀ stays so: σ(Wᵀ Xᵀ) would be a transposed pre-activation
        return mx.Transpose(x, shape, x.src) if mx.adds_preactivation_transposes(x, turned) \
            else turned
    if isinstance(x, mx.Add):
        return mx.add(*[transpose_deep(t, keep_src) for t in x.terms])
    if isinstance(x, mx.Hadamard):
        return mx.hadamard(*[transpose_deep(f, keep_src) for f in x.factors])
    if isinstance(x, mx.Pow):
        return mx.power(transpose_deep(x.x), x.exp)
    if isinstance(x, mx.Scale):
        return mx.scale(x.coeff, transpose_deep(x.x, keep_src))
    if isinstance(x, mx.MatMul):
        return mx.matmul(transpose_deep(x.b, keep_src), transpose_deep(x.a, keep_src))
    return mx.transpose(x)


def orientations(forms: Iterable[mx.M]) -> frozenset[Any]:
    """The arguments of the functions of products in ``forms`` (the forward pass), as keys
    for :func:`recognize`'s ``oriented``."""
    return frozenset(_key(a) for m in forms for n in mx.walk(m) if isinstance(n, mx.Fn)
                     for a in n.children()
                     if len(a.shape) == 2 and any(isinstance(k, mx.MatMul) for k in mx.walk(a)))


def as_written(arg: mx.M, oriented: frozenset[Any]) -> bool:
    """Whether a function's argument ``arg`` stands as the forward pass wrote it
    (``oriented``: :func:`orientations`) and its transpose does not."""
    return _key(arg) in oriented and _key(transpose_deep(arg)) not in oriented


def _written_args(m: mx.M, oriented: frozenset[Any]) -> int:
    """How many arguments of the functions of products in ``m`` stand as the forward pass
    wrote them (``oriented``, :func:`orientations`) and not turned."""
    return sum(as_written(a, oriented) for a in _function_args(m)) - \
        sum(as_written(transpose_deep(a), oriented) for a in _function_args(m))


def _function_args(m: mx.M) -> list[mx.M]:
    """The arguments of the functions of products in ``m`` (:func:`orientations`' keys
    before keying)."""
    return [a for n in mx.walk(m) if isinstance(n, mx.Fn) for a in n.children()
            if len(a.shape) == 2 and any(isinstance(k, mx.MatMul) for k in mx.walk(a))]


def _key(m: mx.M) -> Any:
    """``m`` up to the order of its terms (X W + bᵀ and bᵀ + X W are one argument)."""
    return frozenset(m.terms) if isinstance(m, mx.Add) else m


def _natural(b: Blob, oriented: frozenset[Any] = frozenset()) -> bool:
    """Whether ``b`` reads a named tensor (or adjoint) as it is stored, or a function of an
    argument the forward pass wrote that way (``oriented``), or an elementwise product of
    such: the way a line's intermediate was oriented when it was written.  A form composed
    on one line (σ'(Wz Xᵀ + bz) from ``sigmoid(X @ Wz.T + bz)``) has lost that orientation;
    the natural factor it meets in the same product gives it back, as the intermediate named
    on its own line would have."""
    terms = b.m.terms if isinstance(b.m, mx.Add) else (b.m,)  # 1 − Z ⊙ Z too
    return any(isinstance(f, mx.Ref) and 1 not in f.shape or
               isinstance(f, mx.Fn) and _key(f.x) in oriented
               for t in terms for f in _factors(t))


def _factors(m: mx.M) -> tuple[mx.M, ...]:
    """The factors of an elementwise product (its constant in front left out)."""
    if isinstance(m, mx.Scale):
        return _factors(m.x)
    if isinstance(m, mx.Hadamard):
        return tuple(f for x in m.factors for f in _factors(x))
    return (m,)


def _plain(m: mx.M) -> bool:
    """A tensor as it stands (or transposed), or a product of such."""
    if isinstance(m, mx.Transpose):
        m = m.x
    return isinstance(m, (mx.Ref, mx.MatMul))


def _is_negative(m: mx.M) -> bool:
    c = m.coeff if isinstance(m, mx.Scale) else None
    if isinstance(c, mx.Hadamard) and c.factors:
        c = c.factors[0]
    # is_negative, not ``< 0``: a constant such as silu(0) has no decidable sign
    return isinstance(c, mx.Const) and c.value.is_negative is True


def positions(m: mx.M) -> dict[Expr, int]:
    """For each SymPy expression a matrix node came from, where it first shows when printed."""
    out: dict[Expr, int] = {}
    for n, node in enumerate(mx.walk(m)):
        if node.src is not None and node.src not in out:
            out[node.src] = n
    return out


def _ones_dropped(idx: Idx, shape: Shape) -> bool:
    """Whether a tensor of three or more axes is read at 0 on its literal-1 axes and at
    one or two distinct symbols on the others (R_jj′0 of R: [C, C, 1]): a matrix or vector,
    the reshape that drops those axes."""
    syms = [i for i in idx if i != 0]
    return len(shape) > 2 and len(idx) == len(shape) and 1 <= len(syms) <= 2 and \
        len(set(syms)) == len(syms) and all(isinstance(i, Symbol) for i in syms) and \
        all(i == 0 for i, d in zip(idx, shape) if d == 1) and \
        all(i != 0 for i, d in zip(idx, shape) if d != 1)


def _unit_slice(ref: mx.Ref) -> bool:
    """An anonymous slice of length 1 (X[:, 0:1, :] inside reshape(…, [B, D])): read at 0
    on its literal-1 axis, the reshape that drops that axis (``_Reader._ref``).  Any other
    tensor keeps its reading (a named one broadcast as NumPy reads it, h ⊙ 𝟏)."""
    return ref.kind == RefKind.ANON and isinstance(ref.display, mx.Slice)


def _picked(e: Indexed | AxisFunction) -> bool:
    """Whether an element is picked by an integer input: ``E[tokens[t], d]``."""
    return any(isinstance(i, Indexed) for i in e.indices)


def nameable_each(m: mx.M | None) -> bool:
    """Whether ``m``, an anonymous intermediate's form, is one per element that a temporary
    defined per element can name (:meth:`_Reader._each_temporary`): no einsum, no element of
    another form per element inside."""
    return isinstance(m, mx.Each) and not any(isinstance(n, (mx.Each, mx.Einsum))
                                              for n in mx.walk(m.x))


def distinct_temporaries(forms: list[tuple[mx.M | None, tuple[Where, ...]]],
                         named: dict[str, mx.M] | None = None
                         ) -> list[tuple[mx.M | None, tuple[Where, ...]]]:
    """Forms read apart (the terms of a sum, each numbering its temporaries from t1) made
    to agree: one name for one definition, another name (the next free tN) for another.
    ``named`` (a temporary's name -> its definition) carries the names already given, so
    that one derivation says t1 for one tensor throughout."""
    named = {} if named is None else named
    if not any(is_temporary(w) for _, wheres in forms for w in wheres):
        return forms
    used = {r.name for m, wheres in forms for x in (m, *(w.rhs for w in wheres))
            if x is not None for r in mx.leaves(x)}
    out = []
    for m, wheres in forms:
        renamed: dict[str, str] = {}
        defs = {w.lhs.name: w for w in wheres if isinstance(w.lhs, mx.Ref)}
        done: set[str] = set()

        def name(old: str) -> None:
            """``old``'s clause named, after the clauses its right side reads (t2 = f(t1):
            t1's new name is in t2's definition before t2's is looked up)."""
            if old in done:
                return
            done.add(old)
            rhs = defs[old].rhs
            for r in dict.fromkeys(mx.leaves(rhs)):
                if r.name in defs:
                    name(r.name)
            rhs = _renamed(rhs, renamed)
            same = next((n for n, r in named.items() if r == rhs), None)
            if same is None and old in named:
                k = 1
                while f"t{k}" in named or f"t{k}" in used:
                    k += 1
                same = f"t{k}"
            named[same or old] = rhs
            if same is not None and same != old:
                renamed[old] = same
        for w in wheres:
            if is_temporary(w):
                assert isinstance(w.lhs, mx.Ref)
                name(w.lhs.name)
        if renamed:
            m = _renamed(m, renamed) if m is not None else None
            # every side of every clause: a clause reads another's temporary (t2 = f(t1))
            wheres = tuple(Where(_renamed(w.lhs, renamed), _renamed(w.rhs, renamed))
                           for w in wheres)
        out.append((m, wheres))
    return out


def is_temporary(w: Where) -> bool:
    """Whether ``w`` defines a temporary of :meth:`_Reader._temporary_named` (t1 =
    reshape(…), t1 = conv1d(X, W, b)); a derivative helper's left side is its function."""
    return _temporary_name(w) is not None


def _temporary_name(w: Where) -> str | None:
    """The name of the temporary ``w`` defines, or None for a derivative helper's line."""
    return w.lhs.name if isinstance(w.lhs, mx.Ref) else None


def temporaries_read(m: mx.M | None, wheres: Sequence[Where]) -> list[bool]:
    """For each of ``wheres``, whether it defines a temporary that ``m`` reads, itself or
    through another temporary it reads: one that only a derivative helper reads (t1 = σ(g W)
    under σ'(g W) = t1 ⊙ (1 − t1)) says nothing where the helper's line is not printed."""
    names = [_temporary_name(w) for w in wheres]
    defs = {n: w.rhs for n, w in zip(names, wheres) if n is not None}
    read: set[str] = set()
    todo = [m] if m is not None else []
    while todo:
        for r in mx.leaves(todo.pop()):
            if r.name in defs and r.name not in read:
                read.add(r.name)
                todo.append(defs[r.name])
    return [n in read for n in names]


def _renamed(m: mx.M, names: Mapping[str, str]) -> mx.M:
    """``m`` with its references to the tensors ``names`` maps renamed."""
    table: dict[mx.M, mx.M] = {r: replace(r, name=names[r.name]) for r in mx.leaves(m)
                               if r.name in names}
    return mx.substitute_all(m, table) if table else m
