"""Convolutions read from an index form: the three products of two tensors that a read at
an index shifted by another index (X_{b,c,t+k}) gives, each as a matrix.Conv.

valid   Σ_{c,k} W_{o,c,k} X_{b,c,t+k}                          conv1d(X, W)   (the forward)
corr    Σ_{b,t} G_{b,o,t} X_{b,c,t+k}                          G ⋆ X          (∂L/∂W)
full    Σ_{o,k} G_{b,o,s−k} W_{o,c,k} 𝟙[0 ≤ s − k < To]        G ∗ W          (∂L/∂X)

Each reading checks every index against the axis it must run over (the whole kernel, the
whole of G's length) and the lengths against each other (T = To + K − 1), so a product that
only looks like one is left to the other rules.  None when the term is no such product.
"""

from __future__ import annotations

from typing import Any, Protocol

import sympy
from sympy import Indexed, Symbol

from . import matrix as mx
from .ops import (
    CONV_CORR,
    CONV_FULL,
    CONV_OPS,
    CONV_VALID,
    IN_RANGE,
    ElementwiseFunction,
    Shift,
    shift_parts,
)

Expr = Any
Read = tuple[mx.M, tuple[Any, ...]]  # a matrix form and the index of each of its axes


class _Reader(Protocol):
    """What a reading asks of the recognizer's reader (recognize._Reader)."""

    ctx: Any
    graph: Any
    lone_convs: set[mx.M]

    def tensor_ref(self, e: Expr) -> mx.Ref: ...

    def blob(self, e: Expr) -> Any: ...  # a Blob: .m, .idx

    def _same_size(self, a: Expr, b: Expr) -> bool: ...

    def window_end(self, lo: Expr, hi: Expr, dim: Any) -> Expr: ...

    def framed(self, e: Expr, idx: tuple[Any, ...], shape: tuple[Any, ...]) -> mx.M | None: ...


def read_conv(reader: _Reader, factors: list[Expr], summed: list[Any]) -> Read | None:
    """The convolution the product of ``factors`` summed over ``summed`` is, if it is one;
    factors that hold no summed index multiply it elementwise (∂L/∂X of conv1d(tanh(X), W)
    is (∂L/∂Y ∗ W) ⊙ (1 − tanh(X)^∘2): the derivative of tanh stands outside the sums)."""
    outside = [f for f in factors if not any(f.has(s) for s in summed)]
    if outside and summed and len(outside) < len(factors):
        hit = _times_outside(reader, factors, summed, outside)
        if hit is not None:
            return hit
    tensors = [f for f in factors if isinstance(f, Indexed) and reader.ctx.is_tensor_atom(f)]
    ranges = [f for f in factors if _is_range(f)]
    if ranges and len(tensors) + len(ranges) != len(factors) or len(tensors) > 2:
        return _full_of_product(reader, factors, summed, ranges)
    if not ranges and len(tensors) != len(factors):
        return _corr_of_product(reader, factors, summed)
    if len(tensors) != 2 or len(tensors) + len(ranges) != len(factors):
        return None
    n = len(tensors[0].indices) - 2
    head = next((name for name, row in CONV_OPS.items() if row.nsp == n), None)
    if head is None or len(tensors[1].indices) != n + 2:
        return None
    reading = _Reading(reader, head, n, set(summed))
    for p, q in (tensors, tensors[::-1]):
        hit = reading.valid(p, q, ranges) or reading.corr(p, q, ranges) or \
            reading.full(p, q, ranges)
        if hit is not None:
            return hit
    return None


def _times_outside(reader: _Reader, factors: list[Expr], summed: list[Any],
                   outside: list[Expr]) -> Read | None:
    """The convolution of the factors under the sums, times ``outside`` elementwise where
    that reads at the convolution's own indices; else None (and the factors are read whole:
    a factor of G's, s_o in Σ_{b,t} G_{b,o,t} s_o X_{b,c,t+k}, is read with G)."""
    conv = read_conv(reader, [f for f in factors if f not in outside], summed)
    if conv is None:
        return None
    m = conv[0]
    if isinstance(m, mx.Conv) and 1 in m.dims:
        # an axis of one, read at 0 (X: [B, 1, T]): the factors read whole, as NumPy
        # broadcasts them against the convolution, m ⊙ (∂L/∂Y ∗ W)
        at = iter(conv[1])
        full = tuple(0 if d == 1 else next(at) for d in m.dims)
        whole = reader.framed(sympy.Mul(*outside), full, tuple(m.dims))
        if whole is None or tuple(whole.shape) != tuple(m.dims) or mx.batch_of(whole):
            return None
        return _blob(mx.hadamard(m, whole), conv[1])
    try:
        rest = reader.blob(sympy.Mul(*outside))
    except Exception as exc:  # recognize.NoMatrixForm (imported, it would be a cycle)
        if type(exc).__name__ != "NoMatrixForm":
            raise
        return None
    if tuple(rest.idx) != tuple(conv[1]) or tuple(rest.m.shape) != tuple(conv[0].shape):
        return None  # read at other indices, or per batch element: no elementwise product
    return _blob(mx.hadamard(conv[0], rest.m), conv[1])


def read_conv_bias(reader: _Reader, e: Expr) -> Read | None:
    """``b_o + conv(X, W)_{b,o,t}``: the forward with its bias, conv1d(X, W, b)."""
    if len(e.args) != 2:
        return None
    for bias, term in (e.args, e.args[::-1]):
        if not (isinstance(bias, Indexed) and reader.ctx.is_tensor_atom(bias)
                and len(bias.indices) == 1 and (isinstance(bias.indices[0], Symbol) or
                                                bias.indices[0] == 0)):
            continue
        if not isinstance(term, sympy.Sum):
            continue
        inner = reader.blob(term)
        m = inner.m
        if not (isinstance(m, mx.Conv) and m.kind == CONV_VALID and m.bias is None):
            continue
        at = 0 if m.dims[0] == 1 else 1  # the channels' index (a batch of one has none)
        # b_0 of b: [1] beside a convolution to one output channel (W: [1, C, K]), whose
        # reading names no index for that axis
        one = bias.indices[0] == 0 and m.dims[1] == 1 and m in reader.lone_convs
        if one or len(inner.idx) > at and inner.idx[at] == bias.indices[0]:
            ref = reader.tensor_ref(bias)
            out = mx.Conv(m.kind, m.head, m.a, m.b, ref, m.dims, m.shape)
            if m in reader.lone_convs:
                reader.lone_convs.add(out)
            return _blob(out, inner.idx)
    return None


def _full_of_product(reader: _Reader, factors: list[Expr], summed: list[Any],
                     ranges: list[Expr]) -> Read | None:
    """``G ∗ W`` where G is a product read at the shifted indices (∂L/∂H ⊙ σ'(U) of an
    inlined node): G is read at fresh indices in their place, then as a tensor."""
    for w in factors:
        if not (isinstance(w, Indexed) and reader.ctx.is_tensor_atom(w)):
            continue
        n = len(w.indices) - 2
        head = next((name for name, row in CONV_OPS.items() if row.nsp == n), None)
        rest = [f for f in factors if f is not w and f not in ranges]
        if head is None or not rest or len(ranges) != n:
            continue
        hit = _Reading(reader, head, n, set(summed)).full_product(sympy.Mul(*rest), w, ranges)
        if hit is not None:
            return hit
    return None


def _corr_of_product(reader: _Reader, factors: list[Expr], summed: list[Any]) -> Read | None:
    """``G ⋆ X`` where G is a product read at (b, o, t) (∂L/∂H ⊙ σ'(U) of an inlined node)."""
    shifted = [f for f in factors if isinstance(f, Indexed) and reader.ctx.is_tensor_atom(f)
               and any(isinstance(i, Shift) for i in f.indices)]
    if len(shifted) != 1:
        return None
    x = shifted[0]
    n = len(x.indices) - 2
    head = next((name for name, row in CONV_OPS.items() if row.nsp == n), None)
    rest = [f for f in factors if f is not x]
    if head is None or not rest:
        return None
    return _Reading(reader, head, n, set(summed)).corr_product(sympy.Mul(*rest), x)


def _is_range(f: Expr) -> bool:
    return isinstance(f, ElementwiseFunction) and f.spec.name == IN_RANGE


def _named(*idx: Any) -> tuple[Any, ...]:
    """The indices of ``idx`` other than 0 (a literal-1 axis, checked by runs_over)."""
    return tuple(i for i in idx if i != 0)


def _blob(m: mx.M, idx: tuple[Any, ...]) -> Read:
    return m, tuple(idx)


class _Reading:
    """One term's reading: its reader (dims, sizes, refs), the op and the summed indices."""

    def __init__(self, reader: _Reader, head: str, n: int, summed: set[Any]) -> None:
        self.r = reader
        self.ctx = reader.ctx
        self.head = head
        self.n = n
        self.summed = summed

    def shape(self, e: Indexed) -> tuple[Any, ...]:
        return tuple(self.r.graph[self.r.tensor_ref(e).name].shape)

    def size(self, d: Any) -> Any:
        return self.ctx.size(d)

    def same(self, a: Any, b: Any) -> bool:
        return self.r._same_size(a, b)

    def runs_over(self, i: Any, d: Any) -> bool:
        """``i`` is an index symbol over the whole axis ``d``, or 0 on a literal-1 axis (a
        batch or a channel of one, X: [1, C, T]: its only position is all of it)."""
        if i == 0:
            return bool(d == 1)
        return isinstance(i, Symbol) and i in self.ctx.index_dim and d != 1 and \
            self.same(self.size(self.ctx.index_dim[i]), self.size(d))

    def distinct(self, *idx: Any) -> bool:
        return all(isinstance(i, Symbol) for i in idx) and len(set(idx)) == len(idx)

    def _one_channel(self, g: Expr, b: Any, ts: list[Any]) -> bool:
        """Whether every tensor ``g`` reads is read at (b, 0, t…) on an axis of one: the
        output channel of a convolution to one channel."""
        reads = [x for x in g.atoms(Indexed) if self.ctx.is_tensor_atom(x)]
        return bool(reads) and all(
            len(x.indices) == self.n + 2 and x.indices[0] == b and x.indices[1] == 0 and
            tuple(x.indices[2:]) == tuple(ts) and self.shape(x)[1] == 1 for x in reads)

    def conv_of(self, kind: str, a: mx.M, b: mx.M, out: tuple[Any, ...]) -> Read:
        return self.conv(kind, a, b, out)

    def make(self, kind: str, a: Indexed, b: Indexed, out: tuple[Any, ...]) -> Read:
        return self.conv(kind, self.r.tensor_ref(a), self.r.tensor_ref(b), out)

    def conv(self, kind: str, a: mx.M, b: mx.M, out: tuple[Any, ...]) -> Read:
        """The convolution of ``a`` and ``b`` read at ``out``; its axes of one (read at 0, by
        :meth:`runs_over` only) are in its shape, not among the indices it is read at."""
        dims = tuple(1 if i == 0 else self.ctx.index_dim[i] for i in out)
        m = mx.Conv(kind, self.head, a, b, None, dims, dims)
        if 0 in out:
            self.r.lone_convs.add(m)
        return _blob(m, tuple(i for i in out if i != 0))

    def valid(self, w: Indexed, x: Indexed, ranges: list[Expr]) -> Read | None:
        """W_{o,c,k} X_{b,c,t+k} summed over c and k: conv(X, W)."""
        n, sw, sx = self.n, self.shape(w), self.shape(x)
        o, c, *ks = w.indices
        b, c2, *at = x.indices
        if ranges or c != c2 or not all(isinstance(i, Shift) for i in at):
            return None
        ts = [i.index for i in at]
        if [i.offset for i in at] != ks or self.summed != {*_named(c), *ks} or \
                not self.distinct(*_named(o, c, b), *ks, *ts):
            return None
        if not (self.runs_over(o, sw[0]) and self.runs_over(c, sw[1]) and
                self.runs_over(c, sx[1]) and self.runs_over(b, sx[0])):
            return None
        for q in range(n):
            kern, length = self.size(sw[2 + q]), self.size(self.ctx.index_dim[ts[q]])
            if not (self.runs_over(ks[q], sw[2 + q]) and self.same(at[q].count, length) and
                    self.same(self.size(sx[2 + q]), length + kern - 1)):
                return None
        return self.make(CONV_VALID, x, w, (b, o, *ts))

    def corr(self, g: Indexed, x: Indexed, ranges: list[Expr]) -> Read | None:
        """G_{b,o,t} X_{b,c,t+k} summed over b and t: G ⋆ X."""
        n, sg, sx = self.n, self.shape(g), self.shape(x)
        b, o, *ts = g.indices
        b2, c, *at = x.indices
        if ranges or b != b2 or not all(isinstance(i, Shift) for i in at):
            return None
        ks = [i.offset for i in at]
        if [i.index for i in at] != ts or self.summed != {*_named(b), *ts} or \
                not self.distinct(*_named(b, o, c), *ts, *ks):
            return None
        if not (self.runs_over(b, sg[0]) and self.runs_over(b, sx[0]) and
                self.runs_over(o, sg[1]) and self.runs_over(c, sx[1])):
            return None
        for q in range(n):
            length = self.size(sg[2 + q])
            kern = self.size(self.ctx.index_dim[ks[q]])
            if not (self.runs_over(ts[q], sg[2 + q]) and self.same(at[q].count, length) and
                    self.same(self.size(sx[2 + q]), length + kern - 1)):
                return None
        return self.make(CONV_CORR, g, x, (o, c, *ks))

    def full(self, g: Indexed, w: Indexed, ranges: list[Expr]) -> Read | None:
        """G_{b,o,s−k} W_{o,c,k} 𝟙[0 ≤ s − k < To] summed over o and k: G ∗ W."""
        n, sg, sw = self.n, self.shape(g), self.shape(w)
        b, o, *at = g.indices
        o2, c, *ks = w.indices
        if o != o2 or len(ranges) != n or self.summed != {*_named(o), *ks} or \
                not self.distinct(*_named(b, o, c), *ks):
            return None
        ss = [sympy.expand(i + k) for i, k in zip(at, ks)]
        if not self.distinct(*_named(b, o, c), *ks, *ss):
            return None
        if not (self.runs_over(b, sg[0]) and self.runs_over(o, sg[1]) and
                self.runs_over(o, sw[0]) and self.runs_over(c, sw[1])):
            return None
        left = list(ranges)
        for q in range(n):
            length, kern = self.size(sg[2 + q]), self.size(sw[2 + q])
            if not (self.runs_over(ks[q], sw[2 + q]) and self.same(
                    self.size(self.ctx.index_dim[ss[q]]), length + kern - 1)):
                return None
            hit = next((f for f in left if self._bounds(f, ss[q] - ks[q], length)), None)
            if hit is None:
                return None
            left.remove(hit)
        return self.make(CONV_FULL, g, w, (b, c, *ss))

    def corr_product(self, g: Expr, x: Indexed) -> Read | None:
        """``g`` (a product) at (b, o, t) times X_{b,c,t+k}: ``g`` read as a tensor, then as
        :meth:`corr` reads it."""
        n, sx = self.n, self.shape(x)
        b, c, *at = x.indices
        if not all(isinstance(i, Shift) for i in at):
            return None
        ts, ks = [i.index for i in at], [i.offset for i in at]
        if self.summed != {b, *ts} or not self.distinct(b, c, *ts, *ks) or \
                not self.runs_over(b, sx[0]) or not self.runs_over(c, sx[1]):
            return None
        if any(g.has(i) for i in (c, *ks)):
            return None
        if self._one_channel(g, b, ts):  # G: [B, 1, To] read whole, the kernel [1, C, K]
            whole = self._whole(g, (b, 0, *ts))
            if whole is None or not all(
                    self.same(at[q].count, self.size(self.ctx.index_dim[ts[q]])) and
                    self.same(self.size(sx[2 + q]), self.size(self.ctx.index_dim[ts[q]]) +
                              self.size(self.ctx.index_dim[ks[q]]) - 1) for q in range(n)):
                return None
            return self.conv_of(CONV_CORR, whole, self.r.tensor_ref(x), (0, c, *ks))
        try:
            blob = self.r.blob(g)
        except Exception as exc:  # recognize.NoMatrixForm (imported, it would be a cycle)
            if type(exc).__name__ != "NoMatrixForm":
                raise
            return None  # no reading of G: no correlation either
        if len(blob.idx) != n + 2 or blob.idx[0] != b or tuple(blob.idx[2:]) != tuple(ts) \
                or len(blob.m.shape) != n + 2:
            return None
        o = blob.idx[1]
        for q in range(n):
            length = self.size(self.ctx.index_dim[ts[q]])
            kern = self.size(self.ctx.index_dim[ks[q]])
            if not (self.same(at[q].count, length) and
                    self.same(self.size(sx[2 + q]), length + kern - 1)):
                return None
        dims = tuple(self.ctx.index_dim[i] for i in (o, c, *ks))
        m = mx.Conv(CONV_CORR, self.head, blob.m, self.r.tensor_ref(x), None, dims, dims)
        return _blob(m, (o, c, *ks))

    def full_product(self, g: Expr, w: Indexed, ranges: list[Expr]) -> Read | None:
        """``g`` (a product) at (b, o, s − k) times W_{o,c,k}: ``g`` read at fresh u = s − k
        over the range's length, a tensor [B, O, To], then as :meth:`full` reads it."""
        n, sw = self.n, self.shape(w)
        o, c, *ks = w.indices
        kernel = self._kernel(w)
        if kernel is None:
            return None
        wm, c = kernel
        reads = [x for x in g.atoms(Indexed) if self.ctx.is_tensor_atom(x)]
        if not reads or any(len(x.indices) != n + 2 for x in reads):
            return None
        at = reads[0].indices[2:]
        if any(tuple(x.indices[2:]) != tuple(at) or x.indices[1] != o for x in reads):
            return None
        ss = [sympy.expand(i + k) for i, k in zip(at, ks)]
        b = reads[0].indices[0]
        if self.summed != {*_named(o), *ks} or not self.distinct(*_named(b, o, c), *ks, *ss) \
                or not self.runs_over(o, sw[0]):
            return None
        us, left = [], list(ranges)
        for q in range(n):
            hit = next((f for f in left if sympy.expand(f.args[0] - f.args[1] - at[q]) == 0),
                       None)
            if hit is None or not self.runs_over(ks[q], sw[2 + q]):
                return None
            left.remove(hit)
            length = hit.args[2] - hit.args[1]
            dim = next((d for d in self.ctx.sizes if self.same(self.size(d), length)), None)
            if dim is None or not self.same(self.size(self.ctx.index_dim[ss[q]]),
                                            length + self.size(sw[2 + q]) - 1):
                return None
            us.append(self.ctx.fresh(dim))
        inner = g.xreplace(dict(zip(at, us)))
        if any(inner.has(i) for i in (c, *ks, *ss)):
            return None
        dims = tuple(self.ctx.index_dim[i] for i in (b, c, *ss))
        if o == 0:  # one output channel (W: [1, C, K]): G read whole, [B, 1, To]
            whole = self._whole(inner, (b, 0, *us))
            if whole is None:
                return None
            m = mx.Conv(CONV_FULL, self.head, whole, wm, None, dims, dims)
            return _blob(m, (b, c, *ss))
        try:
            blob = self.r.blob(inner)
        except Exception as exc:  # recognize.NoMatrixForm (imported, it would be a cycle)
            if type(exc).__name__ != "NoMatrixForm":
                raise
            return None  # no reading of G: no convolution either
        if tuple(blob.idx) != (b, o, *us) or len(blob.m.shape) != n + 2:
            return None
        m = mx.Conv(CONV_FULL, self.head, blob.m, wm, None, dims, dims)
        return _blob(m, (b, c, *ss))

    def _kernel(self, w: Indexed) -> tuple[mx.M, Any] | None:
        """The kernel W_{o, c, k…} is read at, and its input channels' index: W itself, or
        the slice of its input channels a concatenated piece's adjoint reads (W_{o, c + C, k}
        of an input concatenate([X, tanh(X)], axis=1): slice(W, :, C:C2), read at c)."""
        ref, sw, c = self.r.tensor_ref(w), self.shape(w), w.indices[1]
        if self.runs_over(c, sw[1]):
            return ref, c
        s, lo = shift_parts(c, lambda a: a in self.ctx.index_dim)
        if not isinstance(s, Symbol) or s not in self.ctx.index_dim or \
                any(a in self.ctx.index_dim for a in sympy.Add(lo).free_symbols):
            return None
        dims = (sw[0], self.ctx.index_dim[s], *sw[2:])
        return mx.Slice(ref, 1, lo, self.r.window_end(lo, lo + self.size(dims[1]), sw[1]), dims,
                        dims), s

    def _whole(self, g: Expr, at: tuple[Any, ...]) -> mx.M | None:
        """``g`` read at ``at`` (0 on the output channels' axis of one) as NumPy reads whole
        tensors (tanh(conv1d(X, W)) ⊙ …, [B, 1, To]): no index names that axis, so a
        reading by the indices would drop it (a [B, To] matrix, the wrong shape to
        convolve).  None where it has no such reading, or a batched one."""
        if not isinstance(at[0], Symbol):
            return None
        dims = tuple(1 if i == 0 else self.ctx.index_dim[i] for i in at)
        whole = self.r.framed(g, at, dims)
        if whole is None or tuple(whole.shape) != dims or mx.batch_of(whole):
            return None
        return whole

    def _bounds(self, f: Expr, at: Expr, length: Expr) -> bool:
        """``f`` is 𝟙[0 ≤ at < length] (written of any of its terms: 𝟙[k ≤ s < k + To])."""
        x, lo, hi = f.args
        return bool(sympy.expand(x - lo - at) == 0) and self.same(hi - lo, length)
