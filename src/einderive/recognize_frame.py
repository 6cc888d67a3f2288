"""Whole tensors of three or more axes read as NumPy reads them: elementwise, broadcast, summed
over axes.

Batch norm over the axes (0, 2) of X: [B, C, T] keeps mu: [1, C, 1], and ∂L/∂X_ijk =
∂L/∂mu_j/(B T) + … reads mu at (0, j, 0): no batch element has it (its batch axis is a
literal 1), and no product or row sum says a sum over two axes of three.  NumPy says it
whole: X − mu broadcasts the literal 1s, and sum(·, axis=(0, 2), keepdims=True)
(``matrix.SumAxes``) sums over the two axes, keeping them as 1s to broadcast back.

A term is read in the *frame* of its tensors of the most axes (or of the result, when it
has more): every index stands at one axis of the frame, wherever it is read (X_ijk, mu_0j0,
Σ_i Σ_k), and a tensor of fewer axes is aligned with the frame's last axes, as NumPy aligns
shapes (g: [C, 1] beside X: [B, C, T]).  The forms' vectors are columns and NumPy's align
with the last axis, so a vector along the last axis is read as a row (gᵀ), and a tensor
whose indices stand elsewhere (m_ip beside Y_ipn, max-pooled m: [B, O]) as a reshape that
puts each at its axis (reshape(m, [B, O, 1])).  A part of at most two indices that no sum
over the frame's axes says (Σ_q V_pq y_iq, tensors of fewer axes sharing q: a matrix
product) is read by the matrix rules, then placed the same way.  The result is the frame's
tensor, reshaped to drop leading literal 1s (a gradient of g: [C, 1] summed over the
frame's first and last axes); a result whose axes are the frame's others, not its last
(a conv2d's bias, Σ_i Σ_q Σ_r ∂L/∂Y_imqr), is NumPy's sum without keepdims,
sum(∂L/∂Y, axis=(0, 2, 3)).  None when any part of the term reads otherwise (an index at
two axes, a function that writes a derivative helper, a range): the other rules, or
einsum, say it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sympy import Add, Indexed, Mul, Pow, Sum, Symbol

from . import matrix as mx
from .kinds import ReduceKind
from .ops import (
    IN_RANGE,
    AxisFunction,
    ElementwiseFunction,
    Shift,
    has_index_map,
    index_letters,
    reshape_view,
)
from .shapes import Shape

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]
WholeRef = Callable[[Expr], tuple[mx.Ref, Shape]]  # the tensor an element is of, its shape
# (and the tensor a function of a whole axis, softmax(X, axis=1)_ijkl, is of)
SubRead = Callable[[Expr, Idx, Shape], "mx.M | None"]  # a part's form by the matrix rules
# a tensor read at a shifted index as its slice or padding, the plain indices and its shape
Windowed = Callable[[Expr], "tuple[mx.M, Idx, Shape] | None"]
# a product's factors with its range conditions taken out (each says one factor's padding)
Ranges = Callable[[list[Expr]], "list[Expr] | None"]


class _NotFramed(Exception):
    """The term does not read in one frame."""


def read_framed(expr: Expr, idx: Idx, shape: Shape, whole_ref: WholeRef, arg_ref: WholeRef,
                is_tensor: Callable[[Expr], bool], index_dim: dict[Any, Any],
                term_key: Callable[[mx.M], Any], sub_read: SubRead,
                window: Windowed | None = None, ranges: Ranges | None = None
                ) -> mx.M | None:
    """The form of ``expr`` (a tensor of spec ``shape`` read at ``idx``) in the frame of its
    widest tensors (or of the result, when it is wider), or None (see the module's
    docstring).  ``term_key`` orders the terms of a sum, as the other readings order them;
    ``sub_read`` reads a part of at most two indices by the matrix rules; ``window`` a
    tensor read at a shifted index (w0 ⊙ pad(∂L/∂Y, 1:T1, axis=2), slice(X, :, :, 1:T1)),
    whose range conditions ``ranges`` takes out of a product."""
    reads = _reads(expr, is_tensor)
    rank = max([len(i) for i in reads] + [len(shape)])
    if rank < 3 or len(idx) != len(shape):
        return None
    frame = (rank, whole_ref, arg_ref, is_tensor, index_dim, term_key, sub_read, window,
             ranges)
    pos: dict[Any, int] = {}
    try:
        for inds in [i for i in reads if len(i) == rank] + [tuple(idx)]:
            _place(inds, rank, pos)
        wide = frozenset(pos)
        for inds in reads:
            _place(inds, rank, pos, loose=True)
        m, vary = _read_twice(pos, wide, frame, expr)
    except _NotFramed:
        return _summed_to(expr, idx, shape, reads, frame)
    if not shape:
        return m if m.is_scalar else None  # a total: sum(…) of everything
    off = rank - len(shape)
    want = {off + q for q, i in enumerate(idx) if isinstance(i, Symbol)}
    if not vary <= want:
        return None
    if vary != want:  # a term the same along some of the result's axes: broadcast, as ⊙ 𝟏
        m = mx.hadamard(m, mx.Ones(tuple(1 if a < off else d for a, d in
                                         enumerate((1,) * off + tuple(shape)))))
    if len(m.shape) != rank or any(m.shape[a] != 1 for a in range(off)):
        return None
    return m if off == 0 else mx.Reshape(m, tuple(shape), _math_shape(shape))


def _summed_to(expr: Expr, idx: Idx, shape: Shape, reads: list[Idx],
               frame: tuple[Any, ...]) -> mx.M | None:
    """A result of fewer axes whose indices stand where the frame's tensors have them, not at
    its last axes: a conv2d's bias gradient Σ_i Σ_q Σ_r ∂L/∂Y_imqr is the frame's sum over
    the axes (0, 2, 3), ``sum(∂L/∂Y, axis=(0, 2, 3))``, NumPy's sum without keepdims (the
    result's axes are the frame's others, in their order); a pooled mean over the last two
    axes, ``sum(silu(Y), axis=(2, 3))``; where the other axes are all of length one, the
    reshape that drops them (∂L/∂X = reshape(∂L/∂Xr, [N, D]) of Xr = reshape(X, [N, 1, D])).
    None unless the whole term is such a sum (or a sum of such, a function or power of one,
    or one times numbers or scalars): a broadcast of a lower-rank result would need NumPy's
    alignment, which these axes are not."""
    rank = frame[0]
    if not shape or len(shape) >= rank or not all(isinstance(i, Symbol) for i in idx):
        return None
    pos: dict[Any, int] = {}
    try:
        for inds in [i for i in reads if len(i) == rank]:
            _place(inds, rank, pos)
        wide = frozenset(pos)
        for inds in reads:
            _place(inds, rank, pos, loose=True)
        at = tuple(pos.get(i, -1) for i in idx)
        if -1 in at or list(at) != sorted(set(at)):
            return None
        m, vary = _read_twice(pos, wide, frame, expr)
    except _NotFramed:
        return None
    if vary != set(at) or len(m.shape) != rank:
        return None
    summed = frozenset(range(rank)) - set(at)
    out = _drop_summed(m, summed, shape)
    if out is None and all(m.shape[a] == 1 for a in summed):
        # ∂L/∂X_ik = ∂L/∂Xr_ik of Xr = reshape(X, [N, 1, D]): a reshape dropping the 1s
        return mx.Reshape(m, tuple(shape), _math_shape(shape))
    return out


def _drop_summed(m: mx.M, summed: frozenset[int], shape: Shape) -> mx.M | None:
    """``m`` (summed with keepdims over the axes ``summed``) without those axes, as NumPy's
    sum without keepdims: the tensor of spec ``shape``; None for any other term."""
    if isinstance(m, mx.SumAxes) and m.keep and set(m.axes) == summed:
        return mx.with_src(mx.SumAxes(m.x, m.axes, False, _math_shape(shape)), m.src)
    if isinstance(m, mx.Add):
        terms = [_drop_summed(t, summed, shape) for t in m.children()]
        return None if any(t is None for t in terms) else \
            mx.with_src(mx.add(*[t for t in terms if t is not None]), m.src)
    if isinstance(m, mx.Fn) and not m.rest:  # √sum(X ⊙ X, axis=(1, 2))
        one = _drop_summed(m.x, summed, shape)
        return None if one is None else mx.with_src(mx.fn(m.name, one), m.src)
    if isinstance(m, mx.Pow):
        one = _drop_summed(m.x, summed, shape)
        return None if one is None else mx.with_src(mx.power(one, m.exp), m.src)
    if isinstance(m, mx.Scale):
        one = _drop_summed(m.x, summed, shape)
        return None if one is None else mx.with_src(mx.scale(m.coeff, one), m.src)
    if isinstance(m, mx.Hadamard):
        wide = [x for x in m.children() if not x.is_scalar]
        if len(wide) != 1:
            return None
        one = _drop_summed(wide[0], summed, shape)
        return None if one is None else mx.with_src(
            mx.hadamard(*[one if x is wide[0] else x for x in m.children()]), m.src)
    return None


def _math_shape(shape: Shape) -> Shape:
    return (shape[0], 1) if len(shape) == 1 else tuple(shape)


def _reads(expr: Expr, is_tensor: Callable[[Expr], bool]) -> list[Idx]:
    """The indices each tensor element and each function of a whole axis is read at (a
    reduced function's with the reduced axis, where it stood, as the frame has it)."""
    out: list[Idx] = []
    for e in sorted(expr.atoms(Indexed, AxisFunction), key=str):
        if isinstance(e, AxisFunction):
            inds = tuple(_unshifted(i) for i in e.indices)  # (of its slice: _axis_function)
            out.append(inds[:e.axis] + (None,) + inds[e.axis:] if e.reduces else inds)
        elif is_tensor(e):
            inds = tuple(_unshifted(i) for i in e.indices)
            if has_index_map(inds):
                view = reshape_view(inds)
                if view is None:
                    return []
                inds = tuple(view)
            out.append(inds)
    return out


def _unshifted(i: Any) -> Any:
    """A shifted index as the plain index it moves (l of l + 1, k of k − 1): the axis of
    the slice or padding it is read at (``_Frame._tensor``)."""
    if isinstance(i, Shift) and isinstance(i.index, Symbol):
        return i.index
    if isinstance(i, Add):
        letters = index_letters(i)
        if len(letters) == 1 and isinstance(letters[0], Symbol):
            return letters[0]
    return i


def _place(inds: Idx, rank: int, pos: dict[Any, int], loose: bool = False) -> None:
    """Each index symbol of ``inds`` (aligned with the frame's last axes) at its axis;
    ``loose`` (a tensor of fewer axes) places nothing when one of its symbols stands
    elsewhere already: that read is a reshape of the tensor (``_Frame._placed``)."""
    off = rank - len(inds)
    for q, i in enumerate(inds):
        if isinstance(i, Symbol):
            if pos.get(i, off + q) != off + q:
                if loose:
                    return
                raise _NotFramed(f"{i} at two axes")
        elif i is not None and i != 0:
            if loose:  # Pm_(i, lab_i): read whole by the matrix rules, if at all
                return
            raise _NotFramed("an index map or a position")
    for q, i in enumerate(inds):
        if isinstance(i, Symbol):
            pos[i] = off + q


def _read_twice(pos: dict[Any, int], wide: frozenset[Any], frame: tuple[Any, ...],
                expr: Expr) -> tuple[mx.M, frozenset[int]]:
    """``expr`` read in the frame part by part; failing that, with each part of at most two
    indices and no wider tensor read whole by the matrix rules (a row sum, a product) and
    placed at its axes: NumPy's reading of softmax(h) ⊙ rowsum(Y) − Y beside a third axis.
    Only a sum over an index of the frame's own (``wide``: of its widest tensors or the
    result) is a sum over an axis: Σ_q V_pq y_iq, tensors of fewer axes sharing q, is a
    matrix product, never a sum over an axis some other index of the frame holds.
    Without a tensor of the frame's axes (the frame is the result's) the term is one part
    broadcast (reshape(M, [B, 1, D]) ⊙ 𝟏), never vectors multiplied out into a tensor
    (∂L/∂y_i x_j z_k: an outer product, which einsum says)."""
    whole = _Frame(pos, wide, *frame)
    if not any(len(i) == frame[0] for i in _reads(expr, frame[3])):
        whole.delegate = True
        got = whole._delegated(expr)
        if got is None:
            raise _NotFramed("no tensor of the frame's axes")
        return mx.with_src(got[0], expr), got[1]
    try:
        return whole.read(expr)
    except _NotFramed:
        whole.delegate = True
        return whole.read(expr)


class _Frame:
    def __init__(self, pos: dict[Any, int], wide: frozenset[Any], rank: int,
                 whole_ref: WholeRef, arg_ref: WholeRef,
                 is_tensor: Callable[[Expr], bool], index_dim: dict[Any, Any],
                 term_key: Callable[[mx.M], Any], sub_read: SubRead,
                 window: Windowed | None = None, ranges: Ranges | None = None):
        self.sub_read = sub_read
        self.window = window
        self.ranges = ranges
        self.wide = wide
        self.delegate = False
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
        got = self._delegated(e) if self.delegate else None
        m, vary = self._read(e) if got is None else got
        return mx.with_src(m, e), vary

    def _delegated(self, e: Expr) -> tuple[mx.M, frozenset[int]] | None:
        """``e``'s form by the matrix rules, placed at its axes, when it reads no tensor of
        more than two axes and varies along one or two placed axes (a bare element is read
        here, as it is); else None."""
        if isinstance(e, (Indexed, Symbol)) or not self._has_tensor(e) or \
                any(len(i) > 2 for i in _reads(e, self.is_tensor)):
            return None
        free = [i for i in e.free_symbols if i in self.index_dim]
        if not 1 <= len(free) <= 2 or any(i not in self.pos for i in free):
            return None
        order = tuple(sorted(free, key=lambda i: self.pos[i]))
        if len({self.pos[i] for i in order}) != len(order):
            return None
        dims = tuple(self.index_dim[i] for i in order)
        m = self.sub_read(e, order, dims)
        if m is None:
            return None
        try:
            return self._placed(m, order, dims)
        except _NotFramed:
            return None

    def _read(self, e: Expr) -> tuple[mx.M, frozenset[int]]:
        if not e.free_symbols & set(self.index_dim) and not self._has_tensor(e):
            return mx.Const(e), frozenset()
        if isinstance(e, Add):
            parts = [self.read(a) for a in e.args]
            terms = sorted([m for m, _ in parts], key=self.term_key)
            return mx.add(*terms), frozenset().union(*[v for _, v in parts])
        if isinstance(e, Mul):
            factors = list(e.args)
            if any(isinstance(a, ElementwiseFunction) and a.spec.name == IN_RANGE
                   for a in e.args):
                taken = self.ranges(factors) if self.ranges is not None else None
                if taken is None:
                    raise _NotFramed("a range")
                factors = taken
            parts = [self.read(a) for a in factors]
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

    def _placed(self, m: mx.M, inds: Idx, shape: Shape) -> tuple[mx.M, frozenset[int]]:
        """``m``, a tensor of spec ``shape`` read at ``inds``, in the frame, and the frame axes
        it varies along (a literal-1 axis read at 0 varies along none).  NumPy aligns a
        tensor of fewer axes with the frame's last: a matrix there is itself, a vector at
        the last axis a row (gᵀ), and one whose indices stand elsewhere (m_ip beside Y_ipn)
        is reshaped to put each at its axis, 1s between and after (reshape(m, [B, O, 1]))."""
        off = self.rank - len(inds)
        axes: list[int] = []
        dims: list[Any] = []
        for q, (i, d) in enumerate(zip(inds, shape)):
            if i == 0 and d == 1:
                continue
            if not isinstance(i, Symbol) or i not in self.pos:
                raise _NotFramed(f"{i} at no axis")
            if self.index_dim.get(i, d) != d:  # Z_ikl with i over A of Z's A + B: a slice
                raise _NotFramed(f"{i} over part of its axis")
            axes.append(self.pos[i])
            dims.append(d)
        vary = frozenset(axes)
        if len(inds) >= 2 and all(self.pos.get(i) == off + q for q, (i, d) in
                                  enumerate(zip(inds, shape)) if not (i == 0 and d == 1)):
            return m, vary
        if not axes or axes != sorted(vary):
            raise _NotFramed("a tensor read with its axes in another order")
        if axes == [self.rank - 1] and len(shape) == 1:
            return mx.transpose(m), vary  # a vector along the last axis: a row
        at = dict(zip(axes, dims))
        new = tuple(at.get(a, 1) for a in range(axes[0], self.rank))
        new = (1,) + new if len(new) == 1 else new
        return mx.Reshape(m, new, new), vary

    def _tensor(self, e: Indexed) -> tuple[mx.M, frozenset[int]]:
        ref, shape = self.whole_ref(e)
        inds = tuple(e.indices)
        m: mx.M = ref
        windowed = self.window(e) if self.window is not None else None
        if windowed is not None:  # X_{i, j, l + 1}: an element of slice(X, :, :, 1:T1)
            m, inds, shape = windowed
            return self._placed(m, inds, shape)
        if has_index_map(inds):  # X_{i, j·Cg + k, m}: an element of reshape(X, [B, G, Cg, T])
            view = reshape_view(inds)
            if view is None:
                raise _NotFramed("an index map that is no reshape")
            inds = tuple(view)
            shape = tuple(1 if i == 0 else self.index_dim[i] for i in inds)
            m = mx.Reshape(ref, shape, _math_shape(shape))
        if len(shape) != len(inds):
            raise _NotFramed("a read of another rank")
        return self._placed(m, inds, shape)

    def _axis_function(self, e: AxisFunction) -> tuple[mx.M, frozenset[int]]:
        windowed = self.window(e) if self.window is not None else None
        if windowed is not None:  # softmax(Z, axis=1)_{i, j, k + D}: of its slice
            m, inds, shape = windowed
            return self._placed(m, inds, shape)
        ref, shape = self.arg_ref(e)
        inds = tuple(e.indices)
        if any(not isinstance(i, Symbol) and i != 0 for i in inds):
            raise _NotFramed("a function read at a position")
        if not e.reduces:
            return self._placed(mx.AxisFn(e.head, ref, e.axis, shape, _math_shape(shape)),
                                inds, shape)
        out = tuple(d for a, d in enumerate(shape) if a != e.axis)
        if e.axis != 0:
            # a reduced middle axis (max(Hs, axis=1)_ik beside Hs_ijk): its result is placed
            # at its axes as any tensor of fewer axes is, reshape(max(Hs, axis=1), [B, 1, D])
            if len(out) != len(inds) or not all(isinstance(i, Symbol) for i in inds):
                raise _NotFramed("a function reducing a middle axis")
        return self._placed(mx.AxisFn(e.head, ref, e.axis, shape, _math_shape(out)), inds, out)

    def _narrow_along(self, e: Expr, var: Any) -> bool:
        """Whether a tensor of fewer axes than the frame's that is no matrix at its last two
        axes (a vector, one reshaped to its axes, one picked at a position) is read in ``e``
        along ``var``.  A matrix summed over the frame's first axis, the batch, is not: the
        sum over the batch of a product broadcast along the other axes (a conv2d's bias,
        Σ_i Σ_p Σ_q F_irpq M_ir, is sum(F ⊙ reshape(M, [B, O, 1, 1]), axis=(0, 2, 3)))."""
        batch = self.pos.get(var) == 0
        reads = e.atoms(Indexed, AxisFunction)
        picks = {p for a in reads for i in a.indices for p in i.atoms(Indexed)}  # lab_i
        for a in reads:
            if isinstance(a, Indexed) and (not self.is_tensor(a) or a in picks):
                continue
            inds = tuple(a.indices)
            if isinstance(a, AxisFunction) and a.reduces:
                inds = inds[:a.axis] + (None,) + inds[a.axis:]
            elif has_index_map(inds):  # ∂L/∂Y_{i, j·Cg + k}: an element of a reshape
                inds = tuple(reshape_view(inds) or inds)
            if len(inds) >= self.rank or var not in a.free_symbols:
                continue
            off = self.rank - len(inds)
            trailing = len(inds) >= 2 and all(
                i == 0 or (isinstance(i, Symbol) and self.pos.get(i) == off + q)
                for q, i in enumerate(inds) if i is not None)
            if not trailing and not (batch and len(inds) >= 2):
                return True
        return False

    def _sum(self, e: Sum) -> tuple[mx.M, frozenset[int]]:
        m, vary = self.read(e.function)
        axes = []
        inside = e.function.free_symbols
        for var, _, _ in e.limits:
            a = self.pos.get(var)
            if var not in self.wide:
                raise _NotFramed(f"{var} of tensors of fewer axes: a product")
            if self._narrow_along(e.function, var):
                # Σ_j W_ijk x_j: a tensor of fewer axes (placed by a reshape or as a row)
                # summed against a wider one is a contraction, which einsum says
                raise _NotFramed(f"a tensor of fewer axes summed along {var}")
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
