"""Whole tensors of three or more axes read as NumPy reads them: elementwise, broadcast, summed
over axes.

Batch norm over the axes (0, 2) of X: [B, C, T] keeps mu: [1, C, 1], and ∂L/∂X_ijk =
∂L/∂mu_j/(B T) + … reads mu at (0, j, 0): no batch element has it (its batch axis is a
literal 1), and no product or row sum says a sum over two axes of three.  NumPy says it
whole: X − mu broadcasts the literal 1s, and sum(·, axis=(0, 2), keepdims=True)
(``matrix.SumAxes``) sums over the two axes, keeping them as 1s to broadcast back.

A term is read in the *frame* of its tensors of the most axes: every index stands at one
axis of the frame, wherever it is read (X_ijk, mu_0j0, Σ_i Σ_k), and a tensor of fewer axes
is aligned with the frame's last axes, as NumPy aligns shapes (g: [C, 1] beside X: [B, C,
T]).  A vector (one axis) is not read: the forms' vectors are columns, NumPy's align with
the last axis.  The result is the frame's tensor, reshaped to drop leading literal 1s (a
gradient of g: [C, 1] summed over the frame's first and last axes).  None when any part of
the term reads otherwise (an index at two axes, a function that writes a derivative helper,
a range): the other rules, or einsum, say it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sympy import Add, Indexed, Mul, Pow, Sum, Symbol

from . import matrix as mx
from .kinds import ReduceKind
from .ops import IN_RANGE, AxisFunction, ElementwiseFunction, has_index_map, reshape_view
from .shapes import Shape

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]
WholeRef = Callable[[Expr], tuple[mx.Ref, Shape]]  # the tensor an element is of, its shape
# (and the tensor a function of a whole axis, softmax(X, axis=1)_ijkl, is of)


class _NotFramed(Exception):
    """The term does not read in one frame."""


def read_framed(expr: Expr, idx: Idx, shape: Shape, whole_ref: WholeRef, arg_ref: WholeRef,
                is_tensor: Callable[[Expr], bool], index_dim: dict[Any, Any],
                term_key: Callable[[mx.M], Any]) -> mx.M | None:
    """The form of ``expr`` (a tensor of spec ``shape`` read at ``idx``) in the frame of its
    widest tensors, or None (see the module's docstring).  ``term_key`` orders the terms of
    a sum, as the other readings order them."""
    reads = _reads(expr, is_tensor)
    rank = max((len(i) for i in reads), default=0)
    if rank < 3 or len(shape) > rank or len(idx) != len(shape):
        return None
    pos: dict[Any, int] = {}
    try:
        for inds in [i for i in reads if len(i) == rank] + [tuple(idx)] + reads:
            _place(inds, rank, pos)
        m, vary = _Frame(rank, pos, whole_ref, arg_ref, is_tensor, index_dim,
                         term_key).read(expr)
    except _NotFramed:
        return None
    if not shape:
        return m if m.is_scalar else None  # a total: sum(…) of everything
    off = rank - len(shape)
    want = {off + q for q, i in enumerate(idx) if isinstance(i, Symbol)}
    if not vary <= want or len(m.shape) != rank:
        return None
    if vary != want:  # a term the same along some of the result's axes: broadcast, as ⊙ 𝟏
        m = mx.hadamard(m, mx.Ones(tuple(1 if a < off else d for a, d in
                                         enumerate((1,) * off + tuple(shape)))))
    if any(m.shape[a] != 1 for a in range(off)):
        return None
    return m if off == 0 else mx.Reshape(m, tuple(shape), _math_shape(shape))


def _math_shape(shape: Shape) -> Shape:
    return (shape[0], 1) if len(shape) == 1 else tuple(shape)


def _reads(expr: Expr, is_tensor: Callable[[Expr], bool]) -> list[Idx]:
    """The indices each tensor element and each function of a whole axis is read at (a
    reduced function's with the reduced axis, where it stood, as the frame has it)."""
    out: list[Idx] = []
    for e in sorted(expr.atoms(Indexed, AxisFunction), key=str):
        if isinstance(e, AxisFunction):
            inds = tuple(e.indices)
            out.append(inds[:e.axis] + (None,) + inds[e.axis:] if e.reduces else inds)
        elif is_tensor(e):
            inds = tuple(e.indices)
            if has_index_map(inds):
                view = reshape_view(inds)
                if view is None:
                    return []
                inds = tuple(view)
            out.append(inds)
    return out


def _place(inds: Idx, rank: int, pos: dict[Any, int]) -> None:
    """Each index symbol of ``inds`` (aligned with the frame's last axes) at its axis."""
    off = rank - len(inds)
    for q, i in enumerate(inds):
        if isinstance(i, Symbol):
            if pos.setdefault(i, off + q) != off + q:
                raise _NotFramed(f"{i} at two axes")
        elif i is not None and i != 0:
            raise _NotFramed("an index map or a position")


class _Frame:
    def __init__(self, rank: int, pos: dict[Any, int], whole_ref: WholeRef, arg_ref: WholeRef,
                 is_tensor: Callable[[Expr], bool], index_dim: dict[Any, Any],
                 term_key: Callable[[mx.M], Any]):
        self.term_key = term_key
        self.rank = rank
        self.pos = pos
        self.whole_ref = whole_ref
        self.arg_ref = arg_ref
        self.is_tensor = is_tensor
        self.index_dim = index_dim

    def read(self, e: Expr) -> tuple[mx.M, frozenset[int]]:
        """``e``'s form (read from ``e``: the index form's printer orders its terms and
        factors as the form's) and the frame axes it varies along."""
        m, vary = self._read(e)
        return mx.with_src(m, e), vary

    def _read(self, e: Expr) -> tuple[mx.M, frozenset[int]]:
        if not e.free_symbols & set(self.index_dim) and not self._has_tensor(e):
            return mx.Const(e), frozenset()
        if isinstance(e, Add):
            parts = [self.read(a) for a in e.args]
            terms = sorted([m for m, _ in parts], key=self.term_key)
            return mx.add(*terms), frozenset().union(*[v for _, v in parts])
        if isinstance(e, Mul):
            parts = [self.read(a) for a in e.args]
            return mx.hadamard(*[m for m, _ in parts]), frozenset().union(*[v for _, v in parts])
        if isinstance(e, Pow) and e.exp.is_Number:
            m, vary = self.read(e.base)
            return mx.power(m, e.exp), vary
        if isinstance(e, Sum):
            return self._sum(e)
        if isinstance(e, Indexed) and self.is_tensor(e):
            return self._tensor(e)
        if isinstance(e, Symbol) and self.is_tensor(e):
            return self.whole_ref(e)[0], frozenset()
        if isinstance(e, AxisFunction):
            return self._axis_function(e)
        if isinstance(e, ElementwiseFunction) and e.spec.expand is None and \
                e.spec.name != IN_RANGE:
            parts = [self.read(a) for a in e.args]
            return mx.fn(e.spec.name, *[m for m, _ in parts]), \
                frozenset().union(*[v for _, v in parts])
        raise _NotFramed(type(e).__name__)

    def _has_tensor(self, e: Expr) -> bool:
        return bool(e.atoms(AxisFunction)) or any(self.is_tensor(a) for a in e.atoms(Indexed)) \
            or any(self.is_tensor(a) for a in e.atoms(Symbol))

    def _aligned(self, inds: Idx, shape: Shape) -> frozenset[int]:
        """The frame axes of a read at ``inds`` of a tensor of ``shape`` (a literal-1 axis
        read at 0 varies along none)."""
        if len(inds) < 2:
            raise _NotFramed("a vector: a column in the forms, a row to NumPy")
        off = self.rank - len(inds)
        vary = set()
        for q, (i, d) in enumerate(zip(inds, shape)):
            if i == 0 and d == 1:
                continue
            if not isinstance(i, Symbol) or self.pos.get(i) != off + q:
                raise _NotFramed(f"{i} off its axis")
            if self.index_dim.get(i, d) != d:  # Z_ikl with i over A of Z's A + B: a slice
                raise _NotFramed(f"{i} over part of its axis")
            vary.add(off + q)
        return frozenset(vary)

    def _tensor(self, e: Indexed) -> tuple[mx.M, frozenset[int]]:
        ref, shape = self.whole_ref(e)
        inds = tuple(e.indices)
        m: mx.M = ref
        if has_index_map(inds):  # X_{i, j·Cg + k, m}: an element of reshape(X, [B, G, Cg, T])
            view = reshape_view(inds)
            if view is None:
                raise _NotFramed("an index map that is no reshape")
            inds = tuple(view)
            shape = tuple(1 if i == 0 else self.index_dim[i] for i in inds)
            m = mx.Reshape(ref, shape, _math_shape(shape))
        if len(shape) != len(inds):
            raise _NotFramed("a read of another rank")
        return m, self._aligned(inds, shape)

    def _axis_function(self, e: AxisFunction) -> tuple[mx.M, frozenset[int]]:
        ref, shape = self.arg_ref(e)
        inds = tuple(e.indices)
        if any(not isinstance(i, Symbol) and i != 0 for i in inds):
            raise _NotFramed("a function read at a position")
        if not e.reduces:
            return mx.AxisFn(e.head, ref, e.axis, shape, _math_shape(shape)), \
                self._aligned(inds, shape)
        if e.axis != 0:  # a reduced middle axis: NumPy aligns the result's axes elsewhere
            raise _NotFramed("a function reducing a middle axis")
        out = tuple(shape[1:])
        return mx.AxisFn(e.head, ref, e.axis, shape, _math_shape(out)), self._aligned(inds, out)

    def _sum(self, e: Sum) -> tuple[mx.M, frozenset[int]]:
        m, vary = self.read(e.function)
        axes = []
        inside = e.function.free_symbols
        for var, _, _ in e.limits:
            a = self.pos.get(var)
            if a is None or a not in vary:
                raise _NotFramed("a sum over an index the term does not vary along")
            if any(s != var and self.pos.get(s) == a for s in inside):
                # Σ_l Σ_m A_jli R_jkm G_lm: k beside the summed l at one axis is a
                # contraction no sum over axes says (G ⊙ R aligned G's l with R's k);
                # X_ijk Σ_j′ X_ij′k′ is one (j′ alone at its axis inside the sum)
                raise _NotFramed(f"{var} summed beside another index at its axis")
            axes.append(a)
        axes.sort()
        if len(set(axes)) != len(axes) or len(m.shape) != self.rank:
            raise _NotFramed("a sum of a narrower term")
        if vary == set(axes):  # every axis it varies along: a total, a scalar
            return mx.reduce(ReduceKind.SUM, m), frozenset()
        shape = tuple(1 if a in axes else d for a, d in enumerate(m.shape))
        return mx.SumAxes(m, tuple(axes), True, shape), vary - set(axes)
