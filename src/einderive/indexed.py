"""Index algebra: componentwise definitions, Kronecker-delta collapse, index names.

Every tensor is a SymPy ``IndexedBase`` (a ``Symbol`` when it is a scalar)
and every dim a positive-integer symbol, so no sum is ever expanded and no
cost depends on a dim's size.  Deltas are collapsed here rather than by
``Sum.doit``, which wraps every result in range conditions (``Piecewise``).
Index names are the reader's: each dim has its own letter (i, j, k ... in the
order of ``dims``), a second index over the same dim is primed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sympy import Add, Expr as SympyExpr, Indexed, IndexedBase, Integer, KroneckerDelta, Mul, Poly, \
    Pow, S, Sum, Symbol, Tuple
from sympy.core.basic import Basic
from sympy.core.sorting import default_sort_key

from .kinds import PseudoOp
from .ops import (
    ABS,
    AXIS_OPS,
    IN_RANGE,
    OPS,
    SIGN,
    Digit,
    F,
    Flat,
    in_range,
    AxisFunction,
    ElementwiseFunction,
    FExpr,
    Window,
    has_index_map,
    index_deltas,
    is_map_position,
    reshape_view,
    settle_positions,
    sympy_number,
)
from .shapes import Dim, Shape

if TYPE_CHECKING:
    from .graph import Graph

Expr = Any  # a SymPy expression (SymPy ships no type information)
Pattern = tuple[str, Expr, tuple[Any, ...]]  # a node's name, its value, its indices

# The one pool of index letters, in the reader's order of preference: dims take them in
# turn, and the matrix form's einsums name their axes from it too.  Generated code that
# needs more letters than one alphabet has takes einsum's whole set, EINSUM_LETTERS.
LETTERS = "ijklmnpqrstuvwabcdefghoxyz"
EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PRIME = "′"


class Ctx:
    """The SymPy symbols of one graph, and how to build its components."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.dim_names = [d for d, _ in graph.dims]
        for t in graph.tensors:
            for d in t.shape:
                if d != 1 and d not in self.dim_names:  # pragma: no cover - spec checks dims
                    self.dim_names.append(d)
        self.sizes = {d: Symbol(d, integer=True, positive=True) for d in self.dim_names}
        self.dim_of_size = {v: k for k, v in self.sizes.items()}
        # a stack's count dim the graph made (n2): its number, what the printers write for it
        self.counts = {self.sizes[d.name]: Integer(d.size) for d in graph.spec.dims
                       if d.counted and d.size is not None}
        # an index letter that is also a tensor's or a dim's name would print i_i
        names = {t.name for t in graph.tensors} | set(self.dim_names)
        pool = [c for c in LETTERS if c not in names]
        self.letter = {d: pool[n] if n < len(pool) else _numbered(n, names)
                       for n, d in enumerate(self.dim_names)}
        self.spare = [c for c in pool if c not in self.letter.values()]
        self.position = {t.name: n for n, t in enumerate(graph.tensors)}  # graph order
        self.index_dim: dict[Symbol, str] = {}
        self.counter = 0
        # while a step is being stored (template.py): what it registered, to replay on a hit
        self.log: list[tuple[Any, ...]] | None = None
        self.labels: dict[str, Expr] = {}  # name -> IndexedBase (Symbol for a scalar)
        self.adjoint_bases: dict[str, Expr] = {}
        self.keys: dict[str, Symbol] = {}  # name -> the Symbol that identifies it
        self.adjoint_keys: dict[str, Symbol] = {}
        self.tensor_of: dict[Symbol, str] = {}
        self.adjoint_of: dict[Symbol, str] = {}
        for t in graph.tensors:
            self.labels[t.name] = self._label(t.name, t.shape)
            self.adjoint_bases[t.name] = self._label("∂" + t.name, t.shape)  # "$∂name"
            self.keys[t.name] = key_of(self.labels[t.name])
            self.adjoint_keys[t.name] = key_of(self.adjoint_bases[t.name])
            self.tensor_of[self.keys[t.name]] = t.name
            self.adjoint_of[self.adjoint_keys[t.name]] = t.name
        # second order (second.py), made when first asked for: a tensor's tangent ṫ and
        # the tangent ℛ{∂L/∂t} of its adjoint, keyed like the tensors and adjoints
        self.tangent_bases: dict[str, Expr] = {}
        self.rop_bases: dict[str, Expr] = {}
        self.tangent_of: dict[Symbol, str] = {}
        self.rop_of: dict[Symbol, str] = {}

    # -- symbols ---------------------------------------------------------------

    @staticmethod
    def _label(name: str, shape: Shape) -> Expr:
        # '$' keeps a tensor named i apart from the index i (symbols are equal by name)
        sym = Symbol("$" + name)
        return sym if not shape else IndexedBase(sym)

    def size(self, d: Dim) -> Expr:
        return S.One if d == 1 else self.sizes[d]

    def index(self, dim: str, name: str) -> Symbol:
        sym = Symbol(name)  # no assumptions: SymPy differentiates plain symbols faster
        self.index_dim[sym] = dim
        if self.log is not None:
            self.log.append(("index", dim, name))
        return sym

    def fresh(self, dim: str) -> Symbol:
        self.counter += 1
        sym = Symbol(f"_{self.counter}")
        self.index_dim[sym] = dim
        if self.log is not None:
            self.log.append(("fresh", dim, sym))
        return sym

    @cached_property
    def sums_to_one(self) -> bool:
        """Whether a node's values add up to 1 along an axis (a softmax): only then can an
        index form hold a sum that is 1."""
        return any(t.expr is not None and t.expr.op in AXIS_OPS and
                   AXIS_OPS[str(t.expr.op)].sums_to_one for t in self.graph.nodes)

    def canon(self, shape: Shape, used: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """Reader's indices for an operand of ``shape``: its dims' letters, primed on repeats."""
        out, taken = [], {s.name for s in used if isinstance(s, Symbol)}
        for d in shape:
            if d == 1:
                out.append(0)
                continue
            name = self.letter[d]
            while name in taken:
                name += PRIME
            taken.add(name)
            out.append(self.index(d, name))
        return tuple(out)

    def spare_indices(self, shape: Shape, avoid: tuple[Any, ...]) -> tuple[Any, ...]:
        """Indices for the other side of a local derivative: letters no dim uses (k, l ...)."""
        taken = {s.name for s in avoid if isinstance(s, Symbol)}
        pool = [c for c in self.spare if c not in taken]
        out = []
        for d in shape:
            if d == 1:
                out.append(0)
                continue
            name = pool.pop(0) if pool else self.letter[d]
            while name in taken:
                name += PRIME
            taken.add(name)
            out.append(self.index(d, name))
        return tuple(out)

    def label(self, e: FExpr) -> Symbol:
        """The key Symbol of a referenced tensor (what axis functions carry)."""
        return self.keys[e.param("name")]

    def element(self, name: str, idx: tuple[Any, ...]) -> Expr:
        label = self.labels[name]
        return label[tuple(idx)] if idx else label

    def adjoint(self, name: str, idx: tuple[Any, ...]) -> Expr:
        label = self.adjoint_bases[name]
        return label[tuple(idx)] if idx else label

    def name_of(self, key: Symbol) -> str:
        """The tensor that ``key`` names: itself, its adjoint, its tangent or its ℛ{∂L/∂t}."""
        for table in (self.tensor_of, self.adjoint_of, self.tangent_of, self.rop_of):
            if key in table:
                return table[key]
        raise KeyError(key)

    def tangent(self, name: str, idx: tuple[Any, ...]) -> Expr:
        """An element of the tangent ṫ of tensor ``name`` (forward mode)."""
        return self._second(self.tangent_bases, self.tangent_of, "˙", name, idx)

    def rop(self, name: str, idx: tuple[Any, ...]) -> Expr:
        """An element of ℛ{∂L/∂t}, the tangent of ``name``'s adjoint (forward over reverse)."""
        return self._second(self.rop_bases, self.rop_of, "˙∂", name, idx)

    def _second(self, bases: dict[str, Expr], of: dict[Symbol, str], mark: str, name: str,
                idx: tuple[Any, ...]) -> Expr:
        if name not in bases:
            bases[name] = self._label(mark + name, self.graph[name].shape)
            of[key_of(bases[name])] = name
        label = bases[name]
        return label[tuple(idx)] if idx else label

    # -- components -----------------------------------------------------------------

    def comp(self, e: FExpr, idx: tuple[Any, ...]) -> Expr:
        if e.op == PseudoOp.REF:
            return self.element(e.param("name"), idx)
        if e.op == PseudoOp.NUM:
            return sympy_number(e.param("value"))
        if e.op == PseudoOp.DIM:
            return self.sizes[e.param("name")]
        return OPS[e.op].comp(e, tuple(idx), self)

    def sum(self, body: Expr, syms: tuple[Any, ...]) -> Expr:
        for s in syms:
            body = make_sum(body, ((s, S.Zero, self.sizes[self.index_dim[s]] - 1),))
        return body

    def count(self, s: Expr) -> Expr:
        """The number of terms of a sum over the index ``s`` (its dim's size)."""
        return terms_count(S.Zero, self.sizes[self.index_dim[s]] - 1)

    def limit_dim(self, hi: Expr) -> str:
        """The dim a sum runs over, read from its upper limit ``size - 1``."""
        return self.dim_of_size[hi + 1]

    def is_tensor_atom(self, e: Expr) -> bool:
        key = key_of(e)
        return key in self.tensor_of or key in self.adjoint_of or key in self.tangent_of or \
            key in self.rop_of


def _numbered(n: int, names: set[Any]) -> str:
    """An index name past the alphabet: i26, i27 ... (primed if a tensor has that name)."""
    name = f"i{n}"
    while name in names:
        name += PRIME
    return name


def make_sum(body: Expr, limits: Iterable[Any]) -> Expr:
    """``Sum(body, *limits)`` for limits (index, lower, upper) over plain symbols, without
    ``Sum``'s constructor: the same object, built in a fraction of the time.

    Of what the constructor does, only two steps can change such a sum: a sum of a sum
    is one sum over both limits (the inner limits first), done here too, and a
    ``Piecewise`` in the body is folded out, which cannot apply: no op's component or
    derivative is a Piecewise (only ``Sum.doit`` makes them, and einderive never calls
    it).  The rest, sympifying, checking and orienting limits that are already
    canonical triples, is most of the time of a derivation's thousands of sums."""
    limits = [lim if isinstance(lim, Tuple) else Tuple(*lim) for lim in limits]
    if not isinstance(body, SympyExpr) or body is S.NaN or \
            any(len(lim) != 3 or type(lim[0]) is not Symbol for lim in limits):
        return Sum(body, *limits)  # pragma: no cover - einderive's sums are canonical
    while type(body) is Sum:  # the constructor's denesting
        limits = list(body.limits) + limits
        body = body.function
    obj = Basic.__new__(Sum, body, *limits)
    obj.is_commutative = body.is_commutative
    return obj


def mentions(e: Expr, *leaves: Expr) -> bool:
    """``e.has(*leaves)`` for leaves (symbols, numbers): whether any node of ``e`` is one.

    The same answer from a plain walk: SymPy's ``has`` goes through a generator of
    generators and a matcher per node, and the walks here run on every factor of
    every term while deltas are collapsed."""
    targets = set(leaves)
    stack = [e]
    while stack:
        x = stack.pop()
        args = x.args
        if args:
            stack.extend(args)
        elif x in targets:
            return True
    return False


def nodes_of(e: Expr, kind: Any) -> set[Any]:
    """``e.atoms(kind)``: the distinct nodes of ``e`` that are instances of ``kind``."""
    out, stack = set(), [e]
    while stack:
        x = stack.pop()
        if isinstance(x, kind):
            out.add(x)
        stack.extend(x.args)
    return out


_UNIONS: dict[type, bool] = {}  # class -> whether its free symbols are its arguments


def _unions_args(cls: type) -> bool:
    """Whether ``cls`` keeps Basic's ``free_symbols`` (read from the classes, not through
    ``getattr``: a function's metaclass answers for the class itself)."""
    hit = _UNIONS.get(cls)
    if hit is None:
        owner = next(k for k in cls.__mro__ if "free_symbols" in k.__dict__)
        hit = _UNIONS[cls] = owner is Basic
    return hit


def free_symbols(e: Expr) -> set[Any]:
    """``e.free_symbols``, the same set, from a plain walk.

    SymPy's ``Sum.free_symbols`` substitutes every limit's index into the body first
    (an ``xreplace`` that rebuilds the body, even for the plain symbols einderive sums
    over), which made the printers' and recogniser's checks a good part of a form's
    time.  Sums over plain symbols, elements and symbols are read here; a class with a
    ``free_symbols`` of its own asks it."""
    out: set[Any] = set()
    _free(e, out)
    return out


def _free(e: Expr, out: set[Any]) -> None:
    """:func:`free_symbols` of ``e`` added to ``out`` (one set for a whole product or sum,
    not one per node: only a sum's body needs its own, to drop the sum's indices)."""
    cls = type(e)
    if cls is Sum and all(len(lim) == 3 and type(lim[0]) is Symbol for lim in e.limits):
        inner: set[Any] = set()
        _free(e.function, inner)
        for var, lo, hi in e.limits:  # in order: a later bound may read an earlier index
            inner.discard(var)
            _free(lo, inner)
            _free(hi, inner)
        out |= inner
    elif cls is Indexed:
        base: set[Any] = set()
        _free(e.base, base)
        if base:
            out.add(e)
            out |= base
        for i in e.indices:
            _free(i, out)
    elif isinstance(e, Symbol):
        out.add(e)
    elif not e.args or not _unions_args(cls):
        out |= e.free_symbols
    else:
        for a in e.args:
            _free(a, out)


_ALL_ARGS: dict[type, bool] = {}  # class -> whether it is a number when its arguments are


def is_number(e: Expr) -> bool:
    """``e.is_number``, the same answer, without SymPy's ``Sum.free_symbols`` (a Sum is a
    number when it has no free symbols: :func:`free_symbols` reads them by a plain walk);
    a class with an ``is_number`` of its own other than Expr's asks it."""
    if isinstance(e, Sum):
        return not free_symbols(e)
    cls = type(e)
    hit = _ALL_ARGS.get(cls)
    if hit is None:
        owner = next((k for k in cls.__mro__ if "is_number" in k.__dict__), None)
        hit = _ALL_ARGS[cls] = owner is SympyExpr
    if hit:
        return all(is_number(a) for a in e.args)
    return bool(e.is_number)


def key_of(e: Expr) -> Expr:
    """The Symbol naming a tensor, its element, or its IndexedBase."""
    if isinstance(e, Indexed):
        return e.base.label
    if isinstance(e, IndexedBase):
        return e.label
    return e


# ---------------------------------------------------------------------------
# Differentiating with respect to one element of a tensor


def differentiate(e: Expr, x: Expr) -> Expr:
    """∂e/∂x for ``x`` one element of a tensor (``W[k, l]``, or a scalar's Symbol).

    The sum, product and chain rules walk the expression; each function's own
    derivative is its SymPy ``fdiff`` (declared in the op table), and an element
    against an element is a product of Kronecker deltas.  This is what
    ``e.diff(x)`` computes, without SymPy's ``Derivative`` machinery, which spends
    most of its time asking the assumptions system about every subexpression.
    """
    key = key_of(x)
    if not mentions(e, key):
        return S.Zero
    if isinstance(e, Indexed):
        return index_deltas(e.indices, x.indices, _delta)  # an index map by its inverse
    if isinstance(e, Symbol):
        return S.One if e == x else S.Zero
    if e.is_Add:
        return Add(*[differentiate(a, x) for a in e.args])
    if e.is_Mul:
        args = e.args
        terms = []
        for n, a in enumerate(args):
            da = differentiate(a, x)
            if da != 0:
                terms.append(_abs_over_self(Mul(*args[:n], da, *args[n + 1:])))
        return Add(*terms)
    if isinstance(e, Pow) and not mentions(e.exp, key):
        return e.exp * Pow(e.base, e.exp - 1) * differentiate(e.base, x)
    if isinstance(e, Sum):
        inner = differentiate(e.function, x)
        return S.Zero if inner == 0 else make_sum(inner, e.limits)
    if isinstance(e, ElementwiseFunction):  # the chain rule through every argument
        return Add(*[e.fdiff(n + 1) * da for n, da in
                     enumerate(differentiate(a, x) for a in e.args) if da != 0])
    if isinstance(e, AxisFunction):
        return e._eval_derivative(x)
    return e.diff(x)  # pragma: no cover - every expression einderive builds is handled above


def _abs_over_self(t: Expr) -> Expr:
    """A product's ``|u| u⁻ᵏ`` as ``sign(u) u¹⁻ᵏ`` (|u| = sign(u) u wherever u⁻ᵏ is defined,
    u ≠ 0): the derivative of |a|/a, sign(a)/a − |a|/a², is then 0, as the function is
    constant where it is defined (1 or −1); ``t`` as it is without such a pair."""
    if not isinstance(t, Mul):
        return t
    factors = list(t.args)
    for n, f in enumerate(factors):
        if not (isinstance(f, ElementwiseFunction) and f.spec.name == ABS):
            continue
        u = f.args[0]
        for m, g in enumerate(factors):
            if isinstance(g, Pow) and g.base == u and g.exp.is_Integer and g.exp < 0:
                rest = [h for k, h in enumerate(factors) if k not in (n, m)]
                return Mul(F(SIGN)(u), Pow(u, g.exp + 1), *rest)
    return t


def split_index_map(e: Expr, ctx: Ctx | None = None) -> bool:
    """Whether an element in ``e`` is read at an index map that no reshape reads whole
    (X[⌊l/Dh⌋, j]: a reshape's digit substituted into another tensor's index): such a
    form has no matrix form and no code.  With ``ctx``, so is a reshape's digit read by a
    letter over part of its size (W_{m·NM + l, j}, l over N < NM: the first N of each
    block of a concatenation merged, once a slice's adjoint is written out)."""
    return any(has_index_map(tuple(x.indices)) and (
        reshape_view(tuple(x.indices)) is None or
        ctx is not None and not digits_fill(ctx, tuple(x.indices)))
        for x in nodes_of(e, Indexed))


def digits_fill(ctx: Ctx, idx: tuple[Any, ...]) -> bool:
    """Whether each letter a reshape's flat index reads as a digit runs over that digit's
    whole size: ``W_{m·NM + l, j}`` with l over N < NM (the first N of each block of a
    concatenation merged by a reshape) is no element of reshape(W, [K, N, N])."""
    return all(fills(ctx, d, size) for i in idx if isinstance(i, Flat)
               for d, size in zip(i.digits, i.sizes))


DimOf = Callable[[Any], str | None]  # the dim a plain index letter runs over, if known


def fills(ctx: Ctx, i: Any, size: Expr, dim_of: DimOf | None = None) -> bool:
    """Whether index (or index map) ``i`` takes no more values than ``size``, as far as is
    known (:func:`index_values`)."""
    dim = _dim_of(ctx, dim_of)
    if not isinstance(i, (Flat, Digit)) and dim(i) is None:
        return True
    from .graph import same_size
    n = index_values(ctx, i, dim)
    return n is not None and same_size(ctx.graph.spec.dims, ctx.sizes, n, size)


def index_values(ctx: Ctx, i: Any, dim_of: DimOf | None = None) -> Expr | None:
    """How many values the index (or index map) ``i`` takes, as a size; None where a map's
    value leaves the range its sizes give, because a letter it reads runs over a larger dim
    than the digit it fills (z_{i·D + j} with i over T, z's axis S·D: a slice's range,
    𝟙[0 ≤ i < S], is the 0 of the same term there).  A digit past the first is in range
    whatever it reads (it is taken mod its size); anything else that is no plain letter
    fills its place.  ``dim_of`` says what a letter runs over (the letters ``ctx`` made
    unless given; the code generator knows its free and summed letters too)."""
    dim = _dim_of(ctx, dim_of)
    if isinstance(i, Flat):
        ok = all(fills(ctx, d, s, dim) for d, s in zip(i.digits, i.sizes))
        return Mul(*i.sizes) if ok else None
    if isinstance(i, Digit):
        if i.position == 0 and not fills(ctx, i.k, Mul(*i.sizes), dim):
            return None
        return i.sizes[i.position]
    d = dim(i)
    return ctx.size(d) if d is not None else None


def _dim_of(ctx: Ctx, dim_of: DimOf | None) -> DimOf:
    if dim_of is not None:
        return dim_of
    return lambda i: ctx.index_dim.get(i) if isinstance(i, Symbol) else None


def _delta(a: Expr, b: Expr) -> Expr:
    if a == b:
        return S.One
    if not isinstance(a, Symbol) and not isinstance(b, Symbol):
        return S.Zero  # two different literal indices (0 and 1): never equal
    return KroneckerDelta(a, b, evaluate=False)


# ---------------------------------------------------------------------------
# Collapsing sums against Kronecker deltas


def collapse(e: Expr) -> Expr:
    """Collapse every sum whose body holds a delta of its index; pull constants out of sums.

    A sum over a dim of something free of its index becomes the dim's size times it,
    so no ``Σ_i 1`` survives (SymPy's ``factor_terms`` makes them from ``Σ_i (a_i − c)``)."""
    if isinstance(e, Sum):
        body = _never_equal(collapse(e.function), tuple(e.limits))
        if body is e.function and _settled(e):
            return e  # already collapsed: rebuilding it through Sum() would give it back
        return _sum_over(body, tuple(e.limits))
    if not e.args or isinstance(e, Indexed):
        return e
    args = [collapse(a) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)


def _settled(e: Sum) -> bool:
    """Whether ``_sum_over`` would give the one-index sum ``e`` back unchanged: no delta of
    its index in the body, and every factor of the body reads the index (none to pull out).
    Collapsing a collapsed expression again (the Hessian's blocks are, three times) then
    costs a walk, not a SymPy constructor per sum."""
    if len(e.limits) != 1:
        return False
    var = e.limits[0][0]
    body = e.function
    return not _has_delta(body, {var}) and all(f.has(var) for f in Mul.make_args(body))


def dim_polynomial_terms(e: Expr) -> list[Expr] | None:
    """The terms of a polynomial in dims (``2 N² − 3 N − 1``, ``N − K``, ``1 − K``) in one
    order for every notation: added terms before subtracted ones, each by degree, highest
    first, the number last (then SymPy's order); None for any other expression."""
    if not isinstance(e, Add):
        return None
    # the symbols first: a sum of tensor elements (a fan-out's N contributions) is no
    # polynomial in dims, and SymPy's is_polynomial would walk all of it to say so
    symbols = free_symbols(e)
    if not symbols or not all(isinstance(s, Symbol) and s.is_integer and s.is_positive
                              for s in symbols) or not e.is_polynomial():
        return None
    gens = sorted(symbols, key=str)
    return sorted(e.as_ordered_terms(), key=lambda t: (
        t.could_extract_minus_sign(), -Poly(t, *gens).total_degree()))


def sum_of_constant(c: Expr, limits: Iterable[tuple[Expr, Expr, Expr]]) -> Expr:
    """Σ c over ``limits`` for a ``c`` free of their indices: ``c`` times each sum's number
    of terms (Σ_i c = N c), never expanded.  The index form and the recogniser
    (:meth:`Ctx.count`) state the rule here; code generation writes the dim's size itself."""
    return Mul(c, *[terms_count(lo, hi) for _, lo, hi in limits])


def terms_count(lo: Expr, hi: Expr) -> Expr:
    """How many terms Σ_{i=lo}^{hi} has: a dim's size for a sum over the dim."""
    return hi - lo + 1


def constant_sums(e: Expr) -> Expr:
    """``e`` with each sum of something free of its index made the dim's size times it
    (``Σ_i 1 = N``), and nothing else changed: a definition stays as the user wrote it."""
    if not e.args or isinstance(e, Indexed):
        return e
    args = [constant_sums(a) for a in e.args]
    if isinstance(e, Sum):
        body, limits = args[0], list(e.limits)
        if mentions(body, *[v for v, _, _ in limits]):
            return e if body is e.function else make_sum(body, limits)
        return sum_of_constant(body, limits)
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)


def _delta_of(f: Expr, vars: set[Any]) -> Expr | None:
    """The summed index ``f`` is a delta of (None if ``f`` is no such delta).

    Σ_s δ(s, e) t_s is t_e only where s ↦ e is a plain substitution: ``e`` free of s.
    δ(k, Flat(⌊k/Dh⌋, j)) (k mod Dh = j) is no such delta of k, and a delta of an index
    map's inside (δ(k, Flat(l, m)) for a summed m) is none of m: both are kept."""
    if isinstance(f, KroneckerDelta):
        a, b = f.args
        return next((v for v, other in ((a, b), (b, a))
                     if v in vars and not other.has(v)), None)
    return None


def _has_delta(e: Expr, vars: set[Any]) -> bool:
    return any(a in vars for d in nodes_of(e, KroneckerDelta) for a in d.args)


def _terms(e: Expr, vars: set[Any]) -> list[Any]:
    """``e`` as a list of product terms, distributing only over the sums (``Add``, or the body
    of an inner ``Sum``) that hold a delta of one of ``vars``: Σ_i (a_i − b_i) stays whole."""
    if not _has_delta(e, vars):
        return [e]
    if e.is_Add:
        return [t for a in e.args for t in _terms(a, vars)]
    if isinstance(e, Sum):
        return _sum_terms(e, vars)
    if e.is_Mul:
        parts: list[list[Expr]] = [[]]
        for f in e.args:
            options = _terms(f, vars) if (f.is_Add or isinstance(f, Sum)) else [f]
            parts = [p + [o] for p in parts for o in options]
        if len(parts) == 1 and len(parts[0]) == len(e.args) and \
                all(a is b for a, b in zip(parts[0], e.args)):
            return [e]
        return [Mul(*p) for p in parts]
    return [e]


def _sum_terms(e: Sum, vars: set[Any]) -> list[Any]:
    """An inner sum split into terms, each with the factors free of its own indices
    (an outer delta among them) pulled in front, where the outer sum can see them."""
    own = {v for v, _, _ in e.limits}
    out = []
    for t in _terms(e.function, vars - own):
        factors = Mul.make_args(t)
        indep = [f for f in factors if not mentions(f, *own)]
        dep = [f for f in factors if mentions(f, *own)]
        out.append(Mul(*indep) * _wrap(Mul(*dep), tuple(e.limits)))
    return out


def _sum_over(body: Expr, limits: tuple[Any, ...]) -> Expr:
    """Σ of ``body`` over all ``limits`` at once: each delta of a summed index eats its sum,
    whichever limit it belongs to and in whatever order the limits come."""
    vars = {v for v, _, _ in limits}
    body = _never_equal(body, limits)
    out = []
    for term in _terms(body, vars):
        factors = Mul.make_args(term)
        hit = next(((f, v) for f in factors if (v := _delta_of(f, vars)) is not None), None)
        if hit is None:
            inner = _shifted_inner(factors, vars)
            if inner is not None:  # Σ_n Σ_m … δ(n, k − m): one sum over n and m
                rest = Mul(*[f for f in factors if f is not inner])
                out.append(_sum_over(rest * inner.function, limits + tuple(inner.limits)))
                continue
            out.append(_wrap(term, limits))
            continue
        delta, var = hit
        other = delta.args[1] if delta.args[0] == var else delta.args[0]
        rest = Mul(*[f for f in factors if f is not delta]).xreplace({var: other})
        if is_map_position(other):  # δ(m, 0) at m = Shift(0, 1, 1): decided here
            rest = settle_positions(rest)
        left = tuple(lim for lim in limits if lim[0] != var)
        out.append(_sum_over(collapse(rest), left) if left else collapse(rest))
    return Add(*out)


def _never_equal(body: Expr, limits: tuple[Any, ...]) -> Expr:
    """``body`` with each delta of a summed index shifted, δ(p, k + c), that no k of its sum's
    range makes 1 set to 0: Σ_k (… − δ(0, k + 1)) Qn_kj over k = 0 .. K − 1 (the part of a
    concatenation after its first column, read back from δ(0, l)) never has k + 1 = 0."""
    never = {}
    for d in nodes_of(body, KroneckerDelta):
        for var, lo, hi in limits:
            for p, q in (d.args, d.args[::-1]):
                c = q - var
                if isinstance(q, Add) and c.is_Integer and not mentions(p, var) and \
                        ((p - c - lo).is_negative or (hi - p + c).is_negative):
                    never[d] = S.Zero
    return body.xreplace(never) if never else body


def _shifted_inner(factors: tuple[Any, ...], vars: set[Any]) -> Sum | None:
    """The inner sum among ``factors`` whose body holds a delta of a summed index against its
    own index (Σ_m W_m δ(n, k − m), a read at n + m differentiated): the delta eats the outer
    sum only once both are one sum, which a product's factor may be merged into."""
    for f in factors:
        if not isinstance(f, Sum):
            continue
        own = {v for v, _, _ in f.limits}
        if any(mentions(g, *own) for g in factors if g is not f):
            continue  # its index bound again beside it: merged, a substitution would capture it
        for d in Mul.make_args(f.function):
            v = _delta_of(d, vars)
            if v is not None:
                other = d.args[1] if d.args[0] == v else d.args[0]
                if mentions(other, *own):
                    return f
    return None


def _wrap(term: Expr, limits: tuple[Any, ...]) -> Expr:
    """Σ of a term with no delta of its summed indices: each sum wraps only the factors
    that carry its index; a sum of something free of its index is the dim's size times it."""
    for var, lo, hi in limits:
        factors = Mul.make_args(term)
        dep = [f for f in factors if mentions(f, var)]
        indep = [f for f in factors if not mentions(f, var)]
        if not dep:
            term = sum_of_constant(Mul(*indep), ((var, lo, hi),))
        else:
            term = Mul(*indep) * make_sum(Mul(*dep), ((var, lo, hi),))
    return term


def prune_ranges(e: Expr, ctx: Ctx) -> Expr:
    """``e`` with each range condition 𝟙[lo ≤ s + c < hi] written of the plain index
    (𝟙[lo − c ≤ s < hi − c]) and dropped where it holds for the whole of the index's dim
    (𝟙[0 ≤ s < M] for s over M: a concatenated piece's own range), or 0 where it starts
    past that dim (𝟙[M ≤ s < M + K]: the next piece's range).  Only ``ctx`` knows
    the dims the indices run over; a condition that may fail is kept."""
    if e.has(Window):
        e = e.replace(lambda x: isinstance(x, Window), lambda x: _window(ctx, x))
    if not e.has(F(IN_RANGE)):
        return e
    return e.replace(lambda x: isinstance(x, F(IN_RANGE)),
                     lambda x: _pruned(ctx, *x.args))


def _window(ctx: Ctx, w: Window) -> Expr:
    """A concatenated piece read at ``Window(j, off, n)`` where ``j − off`` is a plain index
    over a dim of ``n`` values: the piece's own index (∂L/∂X_ik = 3 X_ik² of
    ``concatenate([X, Y])``, not 3 X_{Window(i, 0, A), k}², which no matrix form reads).
    The window is kept whole while it may be differentiated (its inverse is written); an
    adjoint, once collapsed, is not."""
    s = w.value
    dim = ctx.index_dim.get(s)
    if dim is not None and (ctx.size(dim) - w.count).is_zero:
        return s
    return w


def _pruned(ctx: Ctx, x: Expr, lo: Expr, hi: Expr) -> Expr:
    out = in_range(x, lo, hi)  # the constant of x moved into the bounds
    if not isinstance(out, F(IN_RANGE)):
        return out
    s, lo, hi = out.args
    dim = ctx.index_dim.get(s)
    if dim is None:
        return out
    size = ctx.size(dim)
    if (lo - size).is_nonnegative:  # past the index's dim: another piece of a concatenate
        return S.Zero               # (Y's 𝟙[A ≤ i < A + B] in ∂L/∂X_i, i over A)
    if lo == 0 and (hi - size).is_nonnegative:
        return S.One
    return out


# ---------------------------------------------------------------------------
# Renaming indices for the reader


def rename(e: Expr, ctx: Ctx, free_from: tuple[Any, ...], free_to: tuple[Any, ...]) -> Expr:
    """Map the free indices ``free_from`` to ``free_to`` and give every sum a reader's letter.

    One walk does both: a sum's letter is never one of ``free_to`` nor an enclosing sum's,
    so a free index renamed to ``j`` can never be captured by a ``Σ_j``, and inside a sum
    its own index stands for the sum's new letter, never for a free one.  (Fresh names
    first, then the letters, rebuilt every sum twice per edge.)"""
    # identity pairs left out: xreplace rebuilds what they touch, and 2 (y − t) becomes 2 y − 2 t
    mapping = {a: b for a, b in zip(free_from, free_to) if isinstance(a, Symbol) and a != b}
    taken = {s.name for s in free_to if isinstance(s, Symbol)}

    def letter(var: Expr, hi: Expr, inner: set[Any]) -> Expr:
        """The first letter of the sum's dim not taken outside it (siblings may share one)."""
        dim = ctx.limit_dim(hi)
        name = ctx.letter[dim]
        while name in inner:
            name += PRIME
        inner.add(name)
        return ctx.index(dim, name)
    return _rebind_touched(e, mapping, letter, taken)[0]


def _bound_anew(e: Sum, mapping: dict[Any, Any], new_var: Any, scope: set[Any]
                ) -> tuple[dict[Any, Any], set[Any], list[tuple[Any, Any, Any]]]:
    """A sum's indices given ``new_var(var, upper, scope)``, in order (each new name is in
    the scope of the next): the mapping and scope inside the sum, and its new limits."""
    inner_map, inner_scope, limits = dict(mapping), set(scope), []
    for var, lo, hi in e.limits:
        new = new_var(var, hi, inner_scope)
        inner_scope.add(new.name)
        inner_map[var] = new
        limits.append((new, lo, hi))
    return inner_map, inner_scope, limits


def _rebind_touched(e: Expr, mapping: dict[Any, Any], new_var: Any,
                    scope: set[Any]) -> tuple[Expr, bool]:
    """``e`` with each sum's index ``new_var(var, upper, scope)`` and ``mapping`` applied,
    and whether it holds a sum or a mapped symbol.  Every node that does is rebuilt through
    its constructor even where its names come out unchanged, as the renaming in two walks
    (through fresh names) rebuilt it: the constructors' canonical forms (an ordered
    ``δ``, a number spread over a sum) are then the same."""
    if isinstance(e, Sum):
        inner_map, inner_scope, limits = _bound_anew(e, mapping, new_var, scope)
        return make_sum(_rebind_touched(e.function, inner_map, new_var, inner_scope)[0],
                        limits), True
    if not e.args:
        hit = mapping.get(e)
        return (e, False) if hit is None else (hit, True)
    done = [_rebind_touched(a, mapping, new_var, scope) for a in e.args]
    if not any(t for _, t in done):
        return e, False
    return e.func(*[a for a, _ in done]), True


def fresh_bound(e: Expr, ctx: Ctx) -> Expr:
    """``e`` with every summation index replaced by a fresh one (before substituting it)."""
    return _rebind(e, {}, lambda var, hi, scope: ctx.fresh(ctx.limit_dim(hi)), set())


def _rebind(e: Expr, mapping: dict[Any, Any], new_var: Expr, scope: set[Any]) -> Expr:
    """Rebuild ``e`` giving each sum's index ``new_var(var, upper, scope)``; one pass,
    rebuilding only the nodes that change."""
    if isinstance(e, Sum):
        inner_map, inner_scope, limits = _bound_anew(e, mapping, new_var, scope)
        return make_sum(_rebind(e.function, inner_map, new_var, inner_scope), limits)
    if not e.args:
        return mapping.get(e, e) if mapping else e
    args = [_rebind(a, mapping, new_var, scope) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)


def substitute_indexed(e: Expr, key: Expr, replacement: Expr, free: tuple[Any, ...],
                       ctx: Ctx) -> Expr:
    """Replace each ``key[a, b ...]`` in ``e`` by ``replacement`` with ``free`` -> (a, b ...)."""
    return substitute_all(e, {key: (replacement, free)}, ctx)


def substitute_all(e: Expr, table: dict[Any, Any], ctx: Ctx) -> Expr:
    """Replace, in one walk, each element of every tensor keyed in ``table``
    (key -> (replacement, its free indices)) by its replacement at that element.

    One walk for all keys, and only the nodes above a replacement are rebuilt:
    substituting key by key rebuilt the whole expression once per key, which
    made a tensor read by N branches cost O(N²)."""
    def repl(x: Expr) -> Expr:
        if isinstance(x, Indexed):
            hit = table.get(x.base.label)
            if hit is None:
                return x
            value, free = hit
            mapping = {f: a for f, a in zip(free, x.indices) if isinstance(f, Symbol)}
            out = fresh_bound(value, ctx).xreplace(mapping)
            # a stack read at S[:, 1:2]'s Shift(0, 1, 1): δ(Shift(0, 1, 1), 0) decided
            return settle_positions(out) if any(map(is_map_position, mapping.values())) \
                else out
        if isinstance(x, Symbol):
            hit = table.get(x)
            return x if hit is None else fresh_bound(hit[0], ctx)
        if not x.args:
            return x
        args = [repl(a) for a in x.args]
        if all(a is b for a, b in zip(args, x.args)):
            return x
        return x.func(*args)
    return repl(e)


# ---------------------------------------------------------------------------
# Naming forward values: sigma(z[k]) -> y[k] where y = sigmoid(z)


def unify(pattern: Expr, expr: Expr, wild: set[Any], binding: dict[Any, Any]) -> bool:
    """Match ``expr`` against ``pattern`` up to renaming the ``wild`` indices and sum indices."""
    if pattern in wild:
        if pattern in binding:
            return bool(binding[pattern] == expr)
        binding[pattern] = expr
        return True
    if isinstance(pattern, Sum):
        if not isinstance(expr, Sum) or len(pattern.limits) != len(expr.limits):
            return False
        local = set(wild)
        for (pv, plo, phi), (ev, elo, ehi) in zip(pattern.limits, expr.limits):
            if plo != elo or phi != ehi:
                return False
            local.add(pv)
            binding[pv] = ev
        return unify(pattern.function, expr.function, local, binding)
    if not pattern.args:
        return bool(pattern == expr)
    if type(pattern) is not type(expr) or len(pattern.args) != len(expr.args):
        return False
    return all(unify(p, x, wild, binding) for p, x in zip(pattern.args, expr.args))


class Namer:
    """Replaces forward values (function applications) by the nodes that hold them.

    Patterns are filed under (function, the set of tensors read): a value can only
    match a pattern that reads exactly its tensors, and N branches tanh(W_k @ x)
    sharing the input x land in N buckets, not one, so a lookup costs the same
    however many nodes the graph has."""

    def __init__(self, ctx: Ctx, definitions: dict[str, tuple[Expr, tuple[Any, ...]]]) -> None:
        self.ctx = ctx
        self.patterns: dict[tuple[type, frozenset[Any]], list[Pattern]] = {}
        self.inverse_of: dict[Any, Any] = {}  # the key of a node Y = A⁻¹ -> the key of A
        for name, (expr, idx) in definitions.items():
            if isinstance(expr, (ElementwiseFunction, AxisFunction)):
                self._file(name, expr, idx)
            if isinstance(expr, AxisFunction) and _is_inverse(expr) and \
                    expr.args[0] in ctx.tensor_of:
                # the inverse of Y = A⁻¹ (∂ det Y/∂Y reads (Y⁻¹)ᵀ) is A: (A⁻¹)⁻¹ never prints
                again = type(expr)(ctx.keys[name], *expr.args[1:])
                self._file(ctx.tensor_of[expr.args[0]], again, idx)
                self.inverse_of[ctx.keys[name]] = expr.args[0]
        # nodes that are a number times a sum (a mean): their element next to their own sum
        # cancels (Σ_i Σ_j X_ijk − B T mu_k is 0), which reverse._tidy looks for
        self.sums: dict[Any, tuple[Expr, tuple[Any, ...]]] = {
            ctx.keys[name]: (expr, idx) for name, (expr, idx) in definitions.items()
            if idx and any(isinstance(f, Sum) for f in Mul.make_args(expr)) and
            all(isinstance(f, Sum) or not f.free_symbols - set(ctx.sizes.values())
                for f in Mul.make_args(expr))}
        # nodes that subtract a mean node from a tensor elementwise (Xc = Xr − mu): their
        # sum along the mean's axis is zero, which reverse._centred finds by writing them out
        self.differences: dict[Any, tuple[Expr, tuple[Any, ...]]] = {
            ctx.keys[name]: (expr, idx) for name, (expr, idx) in definitions.items()
            if idx and isinstance(expr, Add) and not expr.atoms(Sum) and
            any(isinstance(f, Indexed) and f.base.label in self.sums for t in expr.args
                for f in Mul.make_args(t))} if self.sums else {}
        self.types = {t for t, _ in self.patterns}
        self.by_set: dict[frozenset[Any], list[tuple[type, list[Pattern]]]] = {}
        for (t, read), bucket in self.patterns.items():
            self.by_set.setdefault(read, []).append((t, bucket))

    def buckets_reading(self, read: frozenset[Any]) -> list[tuple[type, list[Pattern]]]:
        """The patterns (by function) of the values that read exactly the tensors ``read``."""
        return self.by_set.get(read, [])

    def _file(self, name: str, expr: Expr, idx: tuple[Any, ...]) -> None:
        key = (type(expr), tensors_read(expr))
        self.patterns.setdefault(key, []).append((name, expr, idx))

    def __call__(self, e: Expr) -> Expr:
        if not self.patterns:
            return e
        e = self._walk(e)
        return cancel_inverses(e, self.inverse_of) if self.inverse_of else e

    def _walk(self, e: Expr) -> Expr:
        if type(e) in self.types:
            for name, pattern, idx in self.patterns.get((type(e), tensors_read(e)), ()):
                binding: dict[Any, Any] = {}
                wild = {i for i in idx if isinstance(i, Symbol)}
                # (every index bound: h0_i = σ(x0_i − (x0_i + x1)) is σ(−x1), read at no i,
                # and σ(−x1) elsewhere is no element of h0 one can name)
                if unify(pattern, e, wild, binding) and wild <= binding.keys():
                    target = tuple(binding[i] if isinstance(i, Symbol) else i for i in idx)
                    return self.ctx.element(name, target)
        if not e.args or isinstance(e, (Indexed, Symbol)):
            return e
        args = [self._walk(a) for a in e.args]
        if all(a is b for a, b in zip(args, e.args)):
            return e
        return e.func(*args)


def name_sums(e: Expr, defs: dict[str, tuple[Expr, tuple[Any, ...]]], ctx: Ctx) -> Expr:
    """``e`` with each sum that is the definition of one of ``defs`` (name -> its index
    definition and indices) at some indices written as that tensor's element there: Σ_l′
    w_l′ Z_ijl′ as the element (i, j) of the unnamed Z @ w, which the index form writes out
    where it multiplies and names only under a function of an axis (logsumexp(Z @ w)).
    Exact: a sum is replaced only where the definition, its bound and free indices renamed,
    is the sum's body over the same ranges."""
    pats = [(name, d, idx) for name, (d, idx) in defs.items() if isinstance(d, Sum)]
    if not pats:
        return e

    def walk(x: Expr) -> Expr:
        if isinstance(x, Sum):
            named = _named_sum(x, pats, ctx)
            if named is not None:
                return walk(named)
        if not x.args or isinstance(x, (Indexed, Symbol)):
            return x
        args = [walk(a) for a in x.args]
        if all(a is b for a, b in zip(args, x.args)):
            return x
        return x.func(*args)
    return walk(e)


def _named_sum(x: Sum, pats: list[tuple[str, Sum, tuple[Any, ...]]], ctx: Ctx
               ) -> Expr | None:
    """``x`` with the sum over some of its limits that is one of ``pats`` at some indices
    written as that tensor's element, the factors that read none of those limits' indices
    and the other limits kept (Σ_m′ Σ_l′ Z_im′l′ w_l′ is Σ_m′ t_im′); None where none is."""
    limits = list(x.limits)
    if len(limits) > 4:
        return None
    factors = Mul.make_args(x.function)
    for name, d, idx in pats:
        k = len(d.limits)
        for inner in itertools.combinations(range(len(limits)), k):
            bound = {limits[n][0] for n in inner}
            reads = [f for f in factors if f.free_symbols & bound]
            at = _sum_match(d, idx, Mul(*reads), [limits[n] for n in inner])
            if at is None:
                continue
            rest = [f for f in factors if not f.free_symbols & bound]
            body = Mul(*rest, ctx.element(name, at))
            outer = [lim for n, lim in enumerate(limits) if n not in inner]
            return Sum(body, *outer) if outer else body
    return None


def _sum_match(d: Sum, idx: tuple[Any, ...], body: Expr, limits: list[Any]
               ) -> tuple[Any, ...] | None:
    """The indices at which the sum of ``body`` over ``limits`` is the definition ``d`` (a
    sum, its free indices ``idx``), or None: the bound indices paired in either order, the
    free ones bound by the one element of each tensor that both read."""
    if len(d.limits) != len(limits) or len(limits) > 2:
        return None
    free = [i for i in idx if isinstance(i, Symbol)]
    theirs: dict[Any, list[Indexed]] = {}
    for a in body.atoms(Indexed):  # (only a tensor read once binds: no order matters)
        theirs.setdefault(a.base, []).append(a)
    for lims in itertools.permutations(limits):
        if any(tuple(p[1:]) != tuple(q[1:]) for p, q in zip(d.limits, lims)):
            continue
        table: dict[Any, Any] = {p[0]: q[0] for p, q in zip(d.limits, lims)}
        for a in sorted(d.function.atoms(Indexed), key=default_sort_key):
            other = theirs.get(a.base, [])
            if len(other) != 1 or len(other[0].indices) != len(a.indices):
                continue
            for i, j in zip(a.indices, other[0].indices):
                if i in free and i not in table:
                    table[i] = j
        if any(i not in table for i in free):
            continue
        if d.function.xreplace(table) == body:
            at = tuple(table[i] if isinstance(i, Symbol) else i for i in idx)
            bound = {q[0] for q in limits}
            if any(getattr(a, "free_symbols", set()) & bound for a in at):
                # Σ_j w_j Z_ijj: the element t_ij at the sum's own letter, which the sum
                # binds (its diagonal): no element of the temporary, and j left unbound
                return None
            return at
    return None


def cancel_inverses(e: Expr, inverse_of: dict[Any, Any]) -> Expr:
    """``e`` with each contraction of a matrix with its inverse, Σ_j A_ij (A⁻¹)_jk or
    Σ_j (A⁻¹)_ij A_jk, written δ_ik (collapsed later): ∂ det(A⁻¹)/∂A reads A⁻¹'s
    inverse, which is A, against A⁻¹.  ``inverse_of`` maps the key of a node Y = A⁻¹ to
    A's; an inverse written in place ((A⁻¹)_jk of a solve) is one too."""
    if not e.args or isinstance(e, Indexed):
        return e
    args = [cancel_inverses(a, inverse_of) for a in e.args]
    if any(a is not b for a, b in zip(args, e.args)):
        e = make_sum(args[0], args[1:]) if isinstance(e, Sum) else e.func(*args)
    if not isinstance(e, Sum):
        return e
    body, limits = _flat_sum(e)
    n = len(limits)
    for lim in list(limits):
        cut = _inverse_pair(body, lim[0], inverse_of)
        if cut is not None:
            body = cut
            limits.remove(lim)
    if len(limits) == n:
        return e
    return make_sum(body, limits) if limits else body


def _flat_sum(e: Sum) -> tuple[Expr, list[Any]]:
    """The body and limits of ``e`` with the sums among its body's factors brought out:
    a tangent's Σ_i Σ_i′ X_i′i Σ_i′′ (X⁻¹)_i′′i′ Σ_i′′′ (X⁻¹)_ii′′′ Ẋ_i′′′i′′ is one sum
    over all four indices, so X_i′i meets (X⁻¹)_ii′′′ (every bound letter is distinct)."""
    body, limits = e.function, list(e.limits)
    while isinstance(body, Mul) and any(isinstance(f, Sum) for f in body.args):
        factors: list[Expr] = []
        for f in body.args:
            bound = {lim[0] for lim in limits}
            if isinstance(f, Sum) and not any(lim[0] in bound or any(
                    mentions(g, lim[0]) for g in body.args if g is not f) for lim in f.limits):
                factors.append(f.function)
                limits.extend(f.limits)
            else:
                factors.append(f)
        new = Mul(*factors)
        if new == body:
            break
        body = new
    return body, limits


def _inverse_pair(body: Expr, j: Any, inverse_of: dict[Any, Any]) -> Expr | None:
    """``body`` with a factor pair A_aj (A⁻¹)_jb (either one first) replaced by δ_ab, when
    no other factor reads the summed ``j``; None if there is none."""
    factors = list(Mul.make_args(body))
    reads = [_matrix_read(f, inverse_of) for f in factors]
    for p, (fp, rp) in enumerate(zip(factors, reads)):
        for q, (fq, rq) in enumerate(zip(factors, reads)):
            if rp is None or rq is None or rp[3] == rq[3] or rp[0] != rq[0]:
                continue
            (_, a, jp, _), (_, jq, b, _) = rp, rq
            if jp != j or jq != j or mentions(Tuple(a, b), j):
                continue
            rest = [f for n, f in enumerate(factors) if n not in (p, q)]
            if any(mentions(f, j) for f in rest):
                continue
            return Mul(*rest, _delta(a, b))
    return None


def _matrix_read(f: Expr, inverse_of: dict[Any, Any]) -> tuple[Any, Any, Any, bool] | None:
    """(the key of A, row, column, whether it is A⁻¹) of an element of a matrix A or of its
    inverse; None for anything else."""
    if isinstance(f, Indexed) and len(f.indices) == 2:
        key = key_of(f)
        if key in inverse_of:
            return inverse_of[key], f.indices[0], f.indices[1], True
        return key, f.indices[0], f.indices[1], False
    if isinstance(f, AxisFunction) and _is_inverse(f):
        return f.args[0], f.args[2], f.args[3], True
    return None


def _is_inverse(e: Expr) -> bool:
    op = AXIS_OPS.get(type(e).head)
    return op is not None and op.inverse


def tensors_read(e: Expr) -> frozenset[Any]:
    """The labels of the tensors (and adjoints) ``e`` reads: every ``$`` symbol in it.

    ``unify`` never renames a tensor, so a pattern can only match an expression
    that reads the same set: a sound key, and a finer one than the first tensor."""
    out, stack = set(), [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Symbol):
            if x.name.startswith("$"):
                out.add(x)
        else:
            stack.extend(x.args)
    return frozenset(out)
