"""Compiling an index form (SymPy: indexed tensors, sums, deltas, functions) into einsums.

Where an adjoint has no matrix form, or where ``verify`` checks the printed
index form itself, the code is compiled from the index form: a product of
indexed factors over summed indices is one ``einsum``; an elementwise function
applies to the array of its argument; a sum of terms broadcasts each term to
the union of their indices; ``δ_ij`` is an identity matrix; ``softmax`` and
``logsumexp`` along an axis are calls of the backend's helper.  Every array
carries the tuple of index symbols its axes stand for.  No sum is expanded and
nothing depends on a dim's size: a sum whose body does not mention its index
is the body times the dim's size symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sympy import (
    Add, Indexed, Integer, KroneckerDelta, Mul, Pow, S, Sum, Symbol, preorder_traversal)

from ..graph import same_size
from ..indexed import EINSUM_LETTERS as _LETTERS, index_values, key_of
from ..ops import (
    F,
    IN_RANGE,
    RESHAPE,
    AxisFunction,
    Digit,
    ElementwiseFunction,
    Flat,
    OffsetMap,
    Shift,
    Window,
    call_of,
    has_index_map,
    index_letters,
    is_indicator,
    may_be_infinite,
    position_of,
    reshape_view,
)
from ..record import Record
from .. import pyexpr as P
from .code import CodegenError, number


def _holds_shift(i: Any) -> bool:
    """Whether an index map reads a shifted digit (⌊l/Dh⌋·Dh + (l mod Dh − K), a slice of a
    head read through a merge): its value leaves the axis where the shift's range is 0."""
    if isinstance(i, Flat):
        return any(isinstance(d, (Add, Window, Shift)) or _holds_shift(d) for d in i.digits)
    if isinstance(i, Digit):
        return isinstance(i.k, (Add, Window, Shift)) or _holds_shift(i.k)
    return False

class Arr(Record):
    """Code for an array whose axes stand for the distinct index symbols ``idx``."""

    py: P.Py
    idx: tuple[Any, ...] = ()


class IndexCompiler:
    """Compiles index forms for one :class:`~einderive.render.code.Compiler` (names, backend)."""

    def __init__(self, comp: Any) -> None:
        self.comp = comp
        self.b = comp.b
        self.ctx = comp.d.index.ctx
        self.limits: dict[Symbol, str] = {}  # dims of summed indices, from their limits
        self.free: dict[Any, Any] = {}  # dims of the free indices, where the caller knows them

    def compile(self, expr: Any, free: tuple[Any, ...],
                dims: tuple[Any, ...] | None = None) -> P.Py:
        """Code for the tensor whose components are ``expr`` at indices ``free``, axes in the
        order of ``free`` (a 0 stands for a kept axis of size 1, left to the caller).

        ``dims`` (one per index of ``free``) says what the free indices run over where the
        context cannot: a Hessian block's spare letters are bound again by the next block
        (∂²L/∂w_k∂E_lm has l over V, ∂²L/∂w_k∂w_l over D), so the context's last binding
        is not this block's."""
        out = tuple(i for i in free if i != 0)
        self.free = {i: d for i, d in zip(free, dims or ()) if i != 0}
        try:
            return self._to(self.arr(expr), out).py
        finally:
            self.free = {}

    # -- the walk -------------------------------------------------------------------

    def arr(self, e: Any) -> Arr:
        if e.is_Number:
            return Arr(number(e))
        if isinstance(e, Symbol) and e not in self.ctx.dim_of_size and \
                (e in self.ctx.index_dim or e in self.limits):
            # an index as a value (a range condition's 𝟙[lo ≤ s < hi]): its values, 0 .. n − 1
            return Arr(P.call(self.b.f("arange"), self._dim(e)), (e,))
        if isinstance(e, Symbol):
            return Arr(self._symbol(e))
        if isinstance(e, (Flat, Digit)):
            # an index map as a value (𝟙[0 ≤ j·Dh + k < K], a slice's range read through a
            # reshape): its values over its letters, each an arange along its own axis
            letters = tuple(dict.fromkeys(index_letters(e)))
            return Arr(self._map_index(e, letters), letters)
        if isinstance(e, OffsetMap):  # a slice's j + lo as a value (𝟙[0 ≤ j + 1 < D], a
            return self.arr(e.value)  # Hessian block read through a slice of a concatenate)
        if isinstance(e, Indexed):
            if self._outside(e):
                return self._gather(e)
            if has_index_map(tuple(e.indices)):
                return self._view(e)
            return self._index(self._tensor(key_of(e)), tuple(e.indices))
        if isinstance(e, Add):
            return self._add([self.arr(t) for t in Add.make_args(e)])
        if isinstance(e, Mul):
            return self._product(Mul.make_args(e), ())
        if isinstance(e, Sum):
            return self._sum(e)
        if isinstance(e, Pow):
            return self._pow(e)
        if isinstance(e, KroneckerDelta):
            return self._delta(*e.args)
        if isinstance(e, ElementwiseFunction):  # arguments broadcast as a sum's terms do
            spec = e.spec
            args = [self.arr(a) for a in e.args]
            out = tuple(dict.fromkeys(i for t in args for i in t.idx))
            tensors = [self._broadcastable(t, out) for t in args[:spec.arity]]
            tensors = [self.b.constant(py) if not t.idx else py
                       for t, py in zip(args, tensors)]
            return Arr(self.b.fn(spec.name, *tensors, *[t.py for t in args[spec.arity:]]), out)
        if isinstance(e, AxisFunction):
            return self._axis_function(e)
        raise CodegenError(f"cannot compile the index form {e}")

    def _symbol(self, s: Symbol) -> P.Py:
        if s in self.ctx.dim_of_size:
            out: P.Py = self.comp.dim(self.ctx.dim_of_size[s])
            return out
        return self._tensor(key_of(s))

    def _tensor(self, key: Any) -> P.Py:
        names = self.comp.names
        if key in self.ctx.tensor_of:
            return P.Name(names.var[self.ctx.tensor_of[key]])
        if key in self.ctx.adjoint_of:
            return P.Name(names.adj[self.ctx.adjoint_of[key]])
        if key in self.ctx.tangent_of:
            return P.Name(names.tan[self.ctx.tangent_of[key]])
        if key in self.ctx.rop_of:
            return P.Name(names.rop[self.ctx.rop_of[key]])
        raise CodegenError(f"the index form names {key}, which is no tensor")

    def _dim(self, i: Symbol) -> P.Py:
        d = self.free.get(i) or self.ctx.index_dim.get(i) or self.limits.get(i)
        if d is None:
            raise CodegenError(f"the index {i} runs over no known dim")
        out: P.Py = self.comp.dim(d)
        return out

    def _index(self, py: P.Py, idx: tuple[Any, ...]) -> Arr:
        """``py[idx]``: a literal 0 picks the only element of a size-1 axis; a repeated
        index takes a diagonal."""
        picked = next((n for n, i in enumerate(idx) if isinstance(i, Indexed)), None)
        if picked is not None:  # E[tokens[i], k]: the rows tokens picks, axes (i, k)
            tok = self.arr(idx[picked])
            rest = tuple(P.Slice() for _ in idx[:picked])
            py = P.Subscript(py, rest + (self.b.as_index(tok.py),))
            return self._index(py, idx[:picked] + tok.idx + idx[picked + 1:])
        if any(self._constant(i) for i in idx):
            # a position: S[:, 1] (stack's piece), or one the dims' sizes give, W[D, :] (the
            # row a concatenated piece of one column at offset D reads)
            py = P.Subscript(py, tuple(P.num(int(i)) if isinstance(i, Integer) else
                                       self.arr(i).py if self._constant(i) else P.Slice()
                                       for i in idx))
            idx = tuple(i for i in idx if not self._constant(i))
        if len(set(idx)) == len(idx):
            return Arr(py, idx)
        out = tuple(dict.fromkeys(idx))
        return Arr(self._einsum([Arr(py, idx)], out), out)

    def _product(self, factors: Any, summed: tuple[Any, ...]) -> Arr:
        """The product of ``factors``, summed over ``summed``: one einsum of the array
        factors, times the scalar ones."""
        scattered = self._scatter(factors, summed)
        if scattered is not None:
            return scattered
        arrays = [self.arr(f) for f in factors]
        scalars = [a.py for a in arrays if not a.idx]
        tensors = [a for a in arrays if a.idx]
        present = {i for a in tensors for i in a.idx}
        size = [self._dim(i) for i in summed if i not in present]  # Σ_j c = size·c
        out = tuple(i for i in dict.fromkeys(i for a in tensors for i in a.idx)
                    if i not in summed)
        parts = []
        # an indicator beside what may not be finite where it is 0 (a division, a root, an
        # adjoint): the Iverson bracket's strong zero, 0 there, never 0 · inf
        held = [f for f, a in zip(factors, arrays) if a.idx]
        brackets = [k for k, f in enumerate(held) if _indicator(f)]
        if not (brackets and len(brackets) < len(held) and
                any(self._unbounded(f) for k, f in enumerate(held) if k not in brackets)):
            brackets = []
        if tensors and all(a.idx == out for a in tensors):  # elementwise: no einsum needed
            parts = [a.py for a in tensors]
            if brackets:
                rest = [p for k, p in enumerate(parts) if k not in brackets]
                parts = [self.b.strong_zero(P.product([parts[k] for k in brackets]),
                                            P.product(rest))]
        elif tensors and brackets and any(self._unbounded(f, adjoints=False) for f in held):
            # (summed or broadcast: masked over every index first, where a root or a
            # reciprocal may not be finite; an adjoint's einsum with its indicator stays one
            # einsum, as the cost model counts it)
            every = tuple(dict.fromkeys(i for a in tensors for i in a.idx))
            ind = [tensors[k] for k in brackets]
            others = [a for k, a in enumerate(tensors) if k not in brackets]
            ind_idx = tuple(dict.fromkeys(i for a in ind for i in a.idx))
            rest_idx = tuple(dict.fromkeys(i for a in others for i in a.idx))
            masked = self.b.strong_zero(
                self._broadcastable(Arr(self._einsum(ind, ind_idx), ind_idx), every),
                self._broadcastable(Arr(self._einsum(others, rest_idx), rest_idx), every))
            parts = [self._einsum([self._to(Arr(masked, every), every)], out)]
        elif tensors:
            parts = [self._einsum(tensors, out)]
        # (a number's indicator beside what may not be finite: the product masked by it)
        lone = [a.py for f, a in zip(factors, arrays) if not a.idx and _indicator(f)]
        if lone and len(lone) < len(factors) and \
                any(self._unbounded(f) for f in factors if not _indicator(f)):
            scalars = [p for p in scalars if p not in lone]
        else:
            lone = []
        negative = bool(scalars) and scalars[0] == P.num(-1)
        factors = (scalars[1:] if negative else scalars) + size + parts
        py = P.product(factors) if factors else P.num(1)
        if lone:
            py = self.b.strong_zero(P.product(lone), py)
        return Arr(P.neg(py) if negative else py, out)

    def _unbounded(self, e: Any, adjoints: bool = True) -> bool:
        """Whether ``e`` may not be finite where the forward pass is (the op table's rows, and
        with ``adjoints`` its adjoints: :func:`einderive.ops.may_be_infinite`)."""
        ctx = self.ctx
        return may_be_infinite(preorder_traversal(e), call_of, lambda n: (
            adjoints and isinstance(n, (Indexed, Symbol)) and
            (key_of(n) in ctx.adjoint_of or key_of(n) in ctx.rop_of)))

    def _scatter(self, factors: Any, summed: tuple[Any, ...]) -> Arr | None:
        """Σ_i δ(j, tokens_i) G_i… as the rows of G added into the rows tokens names (the
        matrix form's onehot(tokens)ᵀ G): no one-hot matrix, no product by it."""
        for d in factors:
            if not isinstance(d, KroneckerDelta):
                continue
            tok, j = (d.args[0], d.args[1]) if isinstance(d.args[0], Indexed) else d.args[::-1]
            if not (isinstance(tok, Indexed) and len(tok.indices) == 1 and isinstance(j, Symbol)
                    and tok.indices[0] in summed and j not in summed):
                continue
            i = tok.indices[0]
            rest = [f for f in factors if f is not d]
            inner = self._product(rest, tuple(s for s in summed if s != i))
            if i not in inner.idx or j in inner.idx:
                continue
            order = (i,) + tuple(x for x in inner.idx if x != i)
            g = self._to(inner, order).py
            shape = (self._dim(j),) + tuple(self._dim(x) for x in order[1:])
            return Arr(self.b.scatter_add(self._tensor(key_of(tok)), g, shape), (j,) + order[1:])
        return None

    def _sum(self, e: Sum) -> Arr:
        body, summed = e.function, []
        for var, lo, hi in e.limits:
            self.limits[var] = self.ctx.limit_dim(hi)
            if lo != 0:
                raise CodegenError(f"a sum from {lo} is not a sum over a dim")
            summed.append(var)
        return self._product(Mul.make_args(body) if isinstance(body, Mul) else (body,),
                             tuple(summed))

    def _add(self, terms: list[Arr]) -> Arr:
        out = tuple(dict.fromkeys(i for t in terms for i in t.idx))
        py: P.Py | None = None
        for t in terms:
            x = self._broadcastable(t, out)
            py = x if py is None else P.binop("+", py, x)
        assert py is not None  # a sum has terms
        return Arr(py, out)

    def _broadcastable(self, t: Arr, out: tuple[Any, ...]) -> P.Py:
        """``t`` with its axes in the order of ``out``, a new axis (None) where it is constant."""
        order = tuple(i for i in out if i in t.idx)
        py = t.py if order == t.idx else self._einsum([t], order)
        if order == out or not order:
            return py
        return P.Subscript(py, tuple(P.Slice() if i in t.idx else P.NONE for i in out))

    def _to(self, a: Arr, out: tuple[Any, ...]) -> Arr:
        """``a`` as an array over exactly ``out``: permuted, and spread along indices it does not
        depend on (an einsum with ones)."""
        extra = [i for i in a.idx if i not in out]
        if extra:
            raise CodegenError(f"the index form has free indices {extra} besides {out}")
        if a.idx == out:
            return a
        missing = [i for i in out if i not in a.idx]
        if not a.idx:  # a scalar spread: an einsum (in torch) takes tensors only, never a number
            return Arr(P.product([a.py, self.b.ones(tuple(self._dim(i) for i in out))]), out)
        ones = [Arr(self.b.ones((self._dim(i),)), (i,)) for i in missing]
        return Arr(self._einsum([a] + ones, out), out)

    def _pow(self, e: Pow) -> Arr:
        a = self.arr(e.base)
        if e.exp == S.Half:
            return Arr(self.b.sqrt(a.py), a.idx)
        if e.exp == -1:
            return Arr(P.binop("/", P.num(1), a.py), a.idx)
        if not e.exp.is_Number:
            raise CodegenError(f"cannot compile the power {e}")
        return Arr(P.binop("**", a.py, number(e.exp)), a.idx)

    def _view(self, e: Indexed) -> Arr:
        """An element at index maps (X[b, h·Dh + d]): the tensor reshaped to the dims of
        the indices it reads whole (ops.reshape_view), then indexed by them."""
        view = reshape_view(tuple(e.indices))
        if view is None:
            return self._gather(e)
        sizes = [P.num(1) if i == 0 else self._dim(i) for i in view]
        return self._index(self.b.reshape_to(self._tensor(key_of(e)), sizes), view)

    def _gather(self, e: Indexed | AxisFunction, base: P.Py | None = None,
                shape: tuple[Any, ...] | None = None) -> Arr:
        """X[⌊k/T⌋, j]: an element at index maps no reshape reads whole, gathered by index
        arrays over the letters it reads (each an arange along its own axis).  ``base`` and
        ``shape``: the array read and its spec shape, where it is no tensor (a function of a
        whole axis, softmax(C, axis=0), read over a concatenated piece's rows)."""
        letters = tuple(dict.fromkeys(s for i in e.indices for s in index_letters(i)))
        n = len(letters)

        def grid(s: Any) -> P.Py:
            shape = [P.num(-1) if m == letters.index(s) else P.num(1) for m in range(n)]
            return P.method(P.call(self.b.f("arange"), self._dim(s)), RESHAPE, *shape)

        def size(s: Any) -> P.Py:
            out: P.Py = self.comp.dim(self.ctx.dim_of_size[s])
            return out

        def index(i: Any) -> P.Py:
            if isinstance(i, Flat):
                terms = [P.product([index(d)] + [size(s) for s in i.sizes[p + 1:]])
                         for p, d in enumerate(i.digits)]
                return P.product(terms, "+")
            if isinstance(i, Digit):
                below = [size(s) for s in i.sizes[i.position + 1:]]
                k = index(i.k)
                q = P.binop("//", k, P.product(below)) if below else k
                return P.binop("%", q, size(i.sizes[i.position])) if i.position else q
            if isinstance(i, Shift):  # j + lo, in range by construction (a slice's read)
                return linear(i.index + i.offset)
            if isinstance(i, Window):  # j − off, out of the piece where its range is 0
                return linear(i.index - i.offset)
            if isinstance(i, Add):
                return linear(i)
            if isinstance(i, Indexed):  # an integer input read at index maps, E_(tok_{i,
                # ⌊k/D⌋}, k mod D) (a lookup reshaped, in a tangent): its values over letters
                return P.Subscript(self._tensor(key_of(i)), tuple(index(j) for j in i.indices))
            return number(i) if i.is_Number else grid(i)

        def linear(x: Any) -> P.Py:
            terms = []
            for t in Add.make_args(x):
                coeff, rest = t.as_coeff_Mul()
                # a term may itself be an index map: a slice of a concatenate's piece reads
                # x at Shift(Window(i, 0, R), K, N − K), whose index is no plain letter
                atom = P.num(1) if rest == 1 else size(rest) if rest in self.ctx.dim_of_size \
                    else grid(rest) if rest in letters else index(rest)
                scaled = number(abs(coeff)) if rest == 1 else atom if abs(coeff) == 1 \
                    else P.binop("*", number(abs(coeff)), atom)
                terms.append((scaled, bool(coeff < 0)))
            return P.signed_sum(terms)

        def clipped(i: Any, d: Any) -> P.Py:
            """A collapsed shift s − lo, or an index over a larger dim than the axis (a pad's
            s), is out of the axis where its range condition, a factor of the same term, is
            0: taken modulo the axis' size, so that the read is valid and then multiplied
            by 0 (both libraries' % of a negative index is in 0 .. n − 1)."""
            out = index(i)
            if d == 1:  # a literal 1 axis read at a letter (a width-1 piece's f_{i, l} under
                # 𝟙[0 ≤ l < 1], l over the joined axis): its one element, 0, for every l
                return out if i == 0 or not index_letters(i) else P.binop("%", out, P.num(1))
            # a Shift is in range only where its index runs over its count: a Window's, or
            # a letter of a wider dim put in by a delta (x_{j + N − K} under 𝟙[0 ≤ j < K])
            if not (isinstance(i, (Add, Window, Shift)) or _holds_shift(i)
                              or self._dim_name(i) not in (None, d) or self._map_outside(i, d)):
                return out
            return P.binop("%", out, self.comp.dim(d))
        if shape is None:
            shape = self.comp.graph[self.ctx.name_of(key_of(e))].shape
        at = P.Subscript(self._tensor(key_of(e)) if base is None else base,
                         tuple(clipped(i, d) for i, d in zip(e.indices, shape)))
        return Arr(at, letters)

    def _constant(self, i: Any) -> bool:
        """A number, or an expression of the dims' sizes (a slice's bound K)."""
        return bool(i.is_Number) or (not isinstance(i, Indexed) and bool(i.free_symbols) and
                                     all(s in self.ctx.dim_of_size for s in i.free_symbols))

    def _dim_name(self, i: Any) -> str | None:
        """The dim a plain index runs over (None for anything else)."""
        if not isinstance(i, Symbol):
            return None
        return self.free.get(i) or self.ctx.index_dim.get(i) or self.limits.get(i)

    def _outside(self, e: Indexed, shape: tuple[Any, ...] | None = None) -> bool:
        """Whether an element is read at an index of another dim than its axis' (a pad's)."""
        if shape is None:
            shape = self.comp.graph[self.ctx.name_of(key_of(e))].shape
        return any(d != 1 and (self._dim_name(i) not in (None, d) or self._map_outside(i, d))
                   for i, d in zip(e.indices, shape))

    def _map_outside(self, i: Any, d: Any) -> bool:
        """Whether an index map takes more values than axis ``d`` has (a_{i, j·Dh + k} with
        a's axis K: a pad's read, through a reshape, outside the piece where its range is 0)."""
        if not isinstance(i, (Flat, Digit)):
            return False
        values = Mul(*i.sizes) if isinstance(i, Flat) else i.sizes[i.position]
        return not self._same(values, self.ctx.size(d)) or \
            index_values(self.ctx, i, self._dim_name) is None

    def _same(self, a: Any, b: Any) -> bool:
        return same_size(self.comp.graph.spec.dims, self.ctx.sizes, a, b)

    def _map_index(self, i: Any, letters: tuple[Any, ...]) -> P.Py:
        """The values of the index (or index map) ``i`` as an integer array over ``letters``,
        each letter an arange along its own axis, so that the arrays broadcast together."""
        if isinstance(i, Flat):
            terms = [P.product([self._map_index(d, letters)] + [self._size(s) for s in
                                                                 i.sizes[p + 1:]])
                     for p, d in enumerate(i.digits)]
            return P.product(terms, "+")
        if isinstance(i, Digit):
            below = [self._size(s) for s in i.sizes[i.position + 1:]]
            k = self._map_index(i.k, letters)
            q = P.binop("//", k, P.product(below)) if below else k
            return P.binop("%", q, self._size(i.sizes[i.position])) if i.position else q
        if isinstance(i, (int, Integer)):  # a fixed digit: Z_{i·2 + 1, j} of a stack's piece 1
            return P.num(int(i))
        if isinstance(i, OffsetMap):  # a slice's l + lo inside a map: ⌊(l)/2⌋ of a Hessian block
            inner = self._map_index(i.index, letters)
            if i.offset == 0:
                return inner
            return P.binop("+" if isinstance(i, Shift) else "-", inner, self.comp.const(i.offset))
        if isinstance(i, Add):  # a map moved by a number or a dim: Flat(i, 0, N, n2) − 1
            signed: list[tuple[P.Py, bool]] = []
            for t in Add.make_args(i):
                coeff, rest = t.as_coeff_Mul()
                atom = number(abs(coeff)) if rest == 1 else self._size(rest) \
                    if rest in self.ctx.dim_of_size else self._map_index(rest, letters)
                if rest != 1 and abs(coeff) != 1:
                    atom = P.binop("*", number(abs(coeff)), atom)
                signed.append((atom, bool(coeff < 0)))
            return P.signed_sum(signed)
        shape = [P.num(-1) if s == i else P.num(1) for s in letters]
        return P.method(P.call(self.b.f("arange"), self._dim(i)), RESHAPE, *shape)

    def _size(self, s: Any) -> P.Py:
        """The dim whose size symbol is ``s``."""
        out: P.Py = self.comp.dim(self.ctx.dim_of_size[s])
        return out

    def _range(self, i: Any) -> P.Py:
        """How many values the index (or index map) ``i`` takes."""
        if isinstance(i, Flat):
            return P.product([self._size(s) for s in i.sizes])
        if isinstance(i, Digit):
            return self._size(i.sizes[i.position])
        return self._dim(i)

    def _delta(self, p: Any, q: Any) -> Arr:
        if p == q:
            return Arr(P.num(1))
        a, b = position_of(p), position_of(q)
        if a is not None and b is not None:  # δ(0, Shift(0, 1, 1)): two positions, S[:, 1:2]
            return Arr(P.num(int(a == b)))
        if any(isinstance(i, (Add, Shift, Window)) for i in (p, q)):
            # δ(j − K, n − K), met in a Hessian through a slice: the indices' values are
            # equal, 𝟙[0 ≤ p − q < 1] (an identity gathered at a shifted index would wrap)
            diff = _linear(p) - _linear(q)
            return self.arr(S.One if diff == 0 else F(IN_RANGE)(diff, 0, 1))
        if has_index_map((p, q)) and (self._constant(p) or self._constant(q)):
            # δ(1, ⌊l/K⌋): row 1 of an identity gathered at the map (a slice of a reshape)
            c, j = (p, q) if self._constant(p) else (q, p)
            letters = tuple(dict.fromkeys(index_letters(j)))
            eye = self.b.eye(self._range(j))
            return Arr(P.Subscript(eye, (self.comp.const(c), self._map_index(j, letters))),
                       letters)
        if has_index_map((p, q)):  # δ(⌊l/Dh⌋, ⌊n/Dh⌋): the identity gathered at both maps
            letters = tuple(dict.fromkeys(s for i in (p, q) for s in index_letters(i)))
            at = (self._map_index(p, letters), self._map_index(q, letters))
            # the two may take different ranges (δ(k mod Dh, l) for l over D): a rectangle
            rows, cols = self._range(p), self._range(q)
            eye = self.b.eye(rows) if rows == cols else self.b.eye(rows, cols)
            return Arr(P.Subscript(eye, at), letters)
        if isinstance(p, Indexed) or isinstance(q, Indexed):  # δ(tokens_i, j): onehot(tokens)
            tok, j = (p, q) if isinstance(p, Indexed) else (q, p)
            t = self.arr(tok)
            return Arr(self.b.one_hot(t.py, self._dim(j)), t.idx + (j,))
        if self._constant(p) or self._constant(q):  # δ(c, j): row c of an identity
            c, j = (p, q) if self._constant(p) else (q, p)
            eye = self.b.eye(self._dim(j))
            return Arr(P.Subscript(eye, (self.comp.const(c),)), (j,))
        if self._dim(p) != self._dim(q):
            # indices over two dims (δ_jp, j over a concatenated piece's N, p over the
            # whole S): equal values, not an N×N identity read over S
            return self.arr(F(IN_RANGE)(p - q, 0, 1))
        return Arr(self.b.eye(self._dim(p)), (p, q))

    def _axis_function(self, e: AxisFunction) -> Arr:
        name = self.ctx.tensor_of[key_of(e.label)]
        ndim = len(self.comp.graph[name].shape)
        py = self.b.axis_fn(e.head, P.Name(self.comp.names.var[name]), e.axis, ndim)
        shape = self.comp.graph[name].shape
        dims = e.dims(shape)
        if has_index_map(tuple(e.indices)) or self._outside(e, dims):
            # read over part of an axis or at index maps, as a tensor's element is (a
            # reduction's at its result's axes: logsumexp(Z, axis=1)_{i·T + j}, or _ik′
            # with k′ over a concatenated piece's width)
            return self._gather(e, py, dims)
        return self._index(py, e.indices)

    # -- einsum -----------------------------------------------------------------------

    def _einsum(self, arrays: list[Arr], out: tuple[Any, ...]) -> P.Py:
        letter: dict[Any, str] = {}
        for a in arrays:
            for i in a.idx:
                letter.setdefault(i, _LETTERS[len(letter)])
        terms = ",".join("".join(letter[i] for i in a.idx) for a in arrays)
        sub = f"{terms}->{''.join(letter[i] for i in out)}"
        code: P.Py = self.b.einsum(sub, [a.py for a in arrays])
        return code


def _linear(i: Any) -> Any:
    """A shifted index as the SymPy sum it stands for (j + lo, j − off)."""
    if isinstance(i, Shift):
        return _linear(i.index) + i.offset
    if isinstance(i, Window):
        return _linear(i.index) - i.offset
    return i


def _indicator(e: Any) -> bool:
    """Whether ``e`` is an indicator, 𝟙[…] (the op table's flag)."""
    return is_indicator(call_of(e))
