"""Each edge's local derivative derived once per op and signature, then instantiated by renaming.

Every ``h_k = tanh(W_k @ h_{k-1})`` layer of a chain differentiates the same componentwise
definition up to the names of its tensors: an edge's whole step (the local derivative, its
collapse, the chained sum, the contribution with the reader's letters) is computed for the
first layer of a kind and renamed for the others.  A renamed result is byte-identical to a
fresh derivation only if the fresh one would have made the same choices, so the key holds
everything a choice can depend on:

- the inputs' trees with each tensor symbol replaced by its rank among the symbols involved:
  SymPy orders the arguments of a sum or product by comparing names, and a renaming that
  keeps the names' relative order keeps every such comparison (``$W9`` sorts after ``$W10``,
  so the layers on either side of 10 are two keys, not one);
- the literal indices with the dims they are registered to, each tensor's kind (a tensor or
  an adjoint), the consumer's kind and the operand's shape;
- the forward nodes the :class:`~einderive.indexed.Namer` could name in the result (those
  reading only tensors the inputs read), with their definitions;
- the order of the fresh summation indices (``_99`` sorts after ``_100``), checked against
  the names the counter would give now, before anything is replayed.

A hit replays the step's side effects on :class:`~einderive.indexed.Ctx` (the letters it
registered, the fresh indices it drew, in order) and rebuilds the stored result with the new
names, each node with its arguments in the stored order (the order a fresh derivation gives,
since every comparison comes out the same).  A result holding anything the rebuild cannot
reproduce exactly is not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import is_
from typing import TYPE_CHECKING, Any

from sympy import Add, Indexed, IndexedBase, Mul, Pow, Sum, Symbol, Tuple
from sympy.core.basic import Basic
from sympy.core.function import Application

if TYPE_CHECKING:
    from .indexed import Ctx, Namer

Expr = Any  # a SymPy expression (SymPy ships no type information)

ENABLED = True  # tests switch it off to show the cache is invisible
MAX_TENSORS = 12  # tensors read by one step above which it is derived afresh (the Namer's
# patterns were looked up for every subset, 2^n; they are found through an index now, and the
# limit is kept: raising it changes which steps are renamed, not yet measured)
_REBUILT = (Add, Mul, Pow, Sum, Tuple, Indexed, IndexedBase, Application)


class _Entry:
    """A stored step: its result, the tensor symbols it was keyed by (in name order), and
    its side effects on the context (``("index", dim, name)`` or ``("fresh", dim, symbol)``)."""

    __slots__ = ("result", "names", "log")

    def __init__(self, result: tuple[Any, ...], names: list[Symbol],
                 log: list[tuple[Any, ...]]) -> None:
        self.result, self.names, self.log = result, names, log


class Templates:
    """The steps of one derivation (one :class:`Ctx`), by signature."""

    def __init__(self, ctx: Ctx, namer: Namer, enabled: bool | None = None) -> None:
        self.ctx, self.namer = ctx, namer
        self.enabled = ENABLED if enabled is None else enabled
        self.entries: dict[Hashable, list[_Entry]] = {}
        self.hits = 0
        # the Namer's read sets, by the tensors they read (a step's tensors hold a few of
        # them: looked up, not enumerated over every subset of the step's tensors)
        self.reads = Within([(read, read) for read in namer.by_set if read])
        self.symbols: dict[int, tuple[Expr, frozenset[Symbol], frozenset[Symbol]]] = {}
        self.skeletons: dict[int, tuple[Expr, tuple[Symbol, ...], Hashable]] = {}

    def run(self, compute: Callable[[], tuple[Any, ...]], exprs: tuple[Expr, ...],
            roles: tuple[Symbol, ...], literals: Hashable) -> Parts:
        """``compute()``, or a stored result of a step of the same signature, renamed.

        ``exprs`` are the step's SymPy inputs, ``roles`` the tensor symbols it builds
        elements of (its own, its adjoint's, the operand's), ``literals`` the rest of what
        it reads (shapes, kinds), hashable and free of tensor names.  A renamed part of
        the result is built only when it is read (a step's intermediate forms only for
        ``--steps``)."""
        if not self.enabled:
            return Parts(compute())
        signed = self._signature(exprs, roles, literals)
        if signed is None:
            return Parts(compute())
        key, names = signed
        for entry in self.entries.get(key, ()):
            mapping = self._replay(entry, names)
            if mapping is not None:
                self.hits += 1
                return Parts(entry.result, mapping)
        log: list[tuple[Any, ...]] = []
        self.ctx.log = log
        try:
            result = compute()
        finally:
            self.ctx.log = None
        if _storable(result, set(names), log):
            self.entries.setdefault(key, []).append(_Entry(result, names, log))
        return Parts(result)

    # -- the key -----------------------------------------------------------------------

    def _signature(self, exprs: tuple[Expr, ...], roles: tuple[Symbol, ...],
                   literals: Hashable) -> tuple[Hashable, list[Symbol]] | None:
        tensors: set[Symbol] = set(roles)
        others: set[Symbol] = set()
        for e in exprs:
            tensors_of, others_of = self._symbols_of(e)
            tensors |= tensors_of
            others |= others_of
        if len(tensors) > MAX_TENSORS or any(s.name.startswith("_") for s in others):
            return None  # a fresh index among the inputs: its order is not in the key
        patterns = self._patterns(tensors)
        names = sorted(tensors, key=lambda s: s.name)
        kinds = []
        for s in names:
            if s in self.ctx.tensor_of:
                kinds.append("t")
            elif s in self.ctx.adjoint_of:
                kinds.append("a")
            else:
                return None  # a tangent (second order): not a step this cache knows
        rank = {s: n for n, s in enumerate(names)}
        skel = _Skeleton(rank)
        dims = tuple(sorted((s.name, self.ctx.index_dim.get(s)) for s in others))
        ranked = tuple(names)
        key = (tuple(self._skeleton(e, ranked, skel) for e in exprs),
               tuple(rank[r] for r in roles), tuple(kinds),
               tuple((rank[label], self._skeleton(e, ranked, skel), idx)
                     for label, e, idx in patterns), dims, literals)
        return key, names

    def _symbols_of(self, e: Expr) -> tuple[frozenset[Symbol], frozenset[Symbol]]:
        """:func:`_symbols` of ``e``, made once per expression: a node's definition and its
        adjoint are read by the step into each of its operands."""
        hit = self.symbols.get(id(e))
        if hit is None or hit[0] is not e:
            tensors: set[Symbol] = set()
            others: set[Symbol] = set()
            _symbols(e, tensors, others)
            hit = self.symbols[id(e)] = (e, frozenset(tensors), frozenset(others))
        return hit[1], hit[2]

    def _skeleton(self, e: Expr, ranked: tuple[Symbol, ...], skel: _Skeleton) -> Hashable:
        """``skel(e)``, or the one the last step made of the same expression over the same
        ranked tensors (the steps into a node's operands all read its definition and its
        adjoint, and most read the same tensors)."""
        if not isinstance(e, Basic) or not e.args:
            return skel(e)
        last = self.skeletons.get(id(e))
        if last is not None and last[0] is e and last[1] == ranked:
            return last[2]
        out = skel(e)
        self.skeletons[id(e)] = (e, ranked, out)
        return out

    def _patterns(self, tensors: set[Symbol]) -> list[tuple[Symbol, Expr, tuple[Any, ...]]]:
        """The Namer's patterns over tensors among ``tensors`` (every one it could match in a
        result built from them), in a renaming-invariant order; their nodes join ``tensors``."""
        place = {s: n for n, s in enumerate(sorted(tensors, key=lambda s: s.name))}
        reads = [read for read, _ in self.reads.within(tensors)]
        # by size, then as combinations() of the names in order would list them
        reads.sort(key=lambda r: (len(r), sorted(place[s] for s in r)))
        out = []
        for read in reads:
            for _, bucket in self.namer.buckets_reading(read):
                for name, e, idx in bucket:
                    out.append((self.ctx.keys[name], e, idx))
        tensors.update(label for label, _, _ in out)
        return out

    # -- a hit -----------------------------------------------------------------------------

    def _replay(self, entry: _Entry, names: list[Symbol]) -> dict[Any, Any] | None:
        """The renaming of ``entry`` to the tensors ``names``, its side effects replayed; None
        if its fresh indices would not come out in the same order as the stored ones."""
        stored = [x[2] for x in entry.log if x[0] == "fresh"]
        counter = self.ctx.counter
        coming = [f"_{counter + n + 1}" for n in range(len(stored))]
        if _order(coming) != _order([s.name for s in stored]):
            return None
        mapping: dict[Any, Any] = {}
        for old, new in zip(entry.names, names):
            if old != new:
                mapping[old] = new
                old_base, new_base = self._base(old), self._base(new)
                if old_base is not old:
                    mapping[old_base] = new_base
        for item in entry.log:
            if item[0] == "index":
                self.ctx.index(item[1], item[2])
            else:
                new = self.ctx.fresh(item[1])
                if new != item[2]:
                    mapping[item[2]] = new
        return mapping

    def _base(self, key: Symbol) -> Expr:
        ctx = self.ctx
        if key in ctx.tensor_of:
            return ctx.labels[ctx.tensor_of[key]]
        return ctx.adjoint_bases[ctx.adjoint_of[key]]


class Within:
    """Items by the names they read: those all of whose names are among a given set, found
    through each item's rarest name (a tensor every branch of a fan-out reads is no branch's
    rarest name: looking a reading's names up does not list every branch, and the key of
    each reading costs what its neighbourhood holds, not the graph)."""

    def __init__(self, items: list[tuple[Any, frozenset[Any]]]) -> None:
        count: dict[Any, int] = {}
        for _, names in items:
            for name in names:
                count[name] = count.get(name, 0) + 1
        self.none: list[tuple[int, Any, frozenset[Any]]] = []
        self.by: dict[Any, list[tuple[int, Any, frozenset[Any]]]] = {}
        for k, (item, names) in enumerate(items):
            if not names:
                self.none.append((k, item, names))
                continue
            rarest = min(names, key=lambda name: (count[name], _text(name)))
            self.by.setdefault(rarest, []).append((k, item, names))

    def within(self, names: Any) -> list[tuple[Any, frozenset[Any]]]:
        """The items all of whose names are in ``names``, in the order they were given."""
        out = list(self.none)
        by = self.by
        for name in names:
            bucket = by.get(name)
            if bucket:
                out += [x for x in bucket if x[2] <= names]
        out.sort(key=lambda x: x[0])
        return [(item, names_of) for _, item, names_of in out]


def _text(name: Any) -> str:
    """``str(name)``: a symbol's name read as it is, not through SymPy's printer (a printer
    made per call, some 3 µs; a chain's read sets asked it 1024 times)."""
    if type(name) is str:
        return name
    return name.name if type(name) is Symbol else str(name)


def _order(names: list[str]) -> list[int]:
    return sorted(range(len(names)), key=lambda n: names[n])


def _symbols(e: Expr, tensors: set[Symbol], others: set[Symbol]) -> None:
    """The tensor symbols (``$name``) and the other symbols of ``e``, into the two sets."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Symbol):
            (tensors if x.name.startswith("$") else others).add(x)
        elif isinstance(x, Basic):
            stack.extend(x.args)
        elif isinstance(x, tuple):
            stack.extend(x)


class _Skeleton:
    """A hashable copy of a tree with each tensor symbol replaced by its rank."""

    def __init__(self, rank: dict[Symbol, int]) -> None:
        self.rank = rank
        self.memo: dict[int, Hashable] = {}

    def __call__(self, e: Any) -> Hashable:
        hit = self.memo.get(id(e))  # a SymPy node met before, a leaf too (an index, a tensor
        if hit is not None:         # symbol: its rank not looked up through SymPy's __hash__)
            return hit
        if isinstance(e, tuple):
            return ("tuple", tuple(self(x) for x in e))
        if not isinstance(e, Basic):
            return e  # type: ignore[no-any-return]  # an int index (0) or a shape's dim
        args = e.args
        if not args:
            r = self.rank.get(e) if isinstance(e, Symbol) else None
            hit = e if r is None else ("$", r)
        else:
            hit = (type(e), tuple([self(a) for a in args]))
        self.memo[id(e)] = hit
        return hit


def _storable(result: tuple[Any, ...], names: set[Symbol], log: list[tuple[Any, ...]]) -> bool:
    """Whether renaming ``result`` reproduces it exactly: every node one that :func:`_rebuild`
    rebuilds as built, every tensor among the keyed ones, every fresh index one the step drew
    (and every other index a literal letter, the same in every instance)."""
    fresh = {x[2] for x in log if x[0] == "fresh"}
    if any(x[0] == "index" and x[2].startswith("_") for x in log):
        return False
    stack: list[Any] = list(result)
    while stack:
        x = stack.pop()
        if isinstance(x, tuple):
            stack.extend(x)
        elif not isinstance(x, Basic):
            continue
        elif isinstance(x, Symbol):
            if x.name.startswith("$") and x not in names:
                return False
            if x.name.startswith("_") and x not in fresh:
                return False
        elif x.args:
            if not isinstance(x, _REBUILT):
                return False
            stack.extend(x.args)
    return True


class Parts:
    """A step's result: its parts as computed, or a stored step's parts renamed, each when
    it is read.  One small object per step, holding the stored tuple and the renaming (not
    a closure per part: a fan-out of 512 branches made 10k of them, 3.7 MiB)."""

    __slots__ = ("values", "mapping")

    def __init__(self, values: tuple[Any, ...], mapping: dict[Any, Any] | None = None) -> None:
        self.values, self.mapping = values, mapping

    def __getitem__(self, k: int) -> Any:
        x = self.values[k]
        return x if self.mapping is None else _instantiate(x, self.mapping)

    def part(self, k: int) -> Parts:
        """The ``k``-th part, itself a tuple of parts, unbuilt."""
        return Parts(self.values[k], self.mapping)


def _instantiate(result: Any, mapping: dict[Any, Any]) -> Any:
    memo: dict[int, Any] = {}

    def walk(x: Any) -> Any:
        done = memo.get(id(x))  # a node met before, a leaf too: not hashed again (SymPy's
        if done is not None:    # __hash__, a Python call) to look it up in ``mapping``
            return done
        if isinstance(x, tuple):
            return tuple(walk(a) for a in x)
        if not isinstance(x, Basic):
            return x
        hit = mapping.get(x)
        if hit is not None:
            done = hit
        elif not x.args:
            done = x
        else:
            old = x.args
            args = [walk(a) for a in old]
            done = x if all(map(is_, args, old)) else _rebuild(x, args)
        memo[id(x)] = done
        return done
    return walk(result)


def _rebuild(x: Any, args: list[Any]) -> Any:
    """``x`` with ``args``, in their order: renaming kept every comparison SymPy's
    constructors make, so the canonical order of the stored node is the new one's."""
    cls = type(x)
    if cls is Add or cls is Mul:
        return cls._from_args(args, x.is_commutative)
    if cls is Sum:
        obj = Basic.__new__(Sum, *args)
        obj.is_commutative = args[0].is_commutative
        return obj
    if cls is Indexed:  # its constructor's checks and sympifying, for a base and indices
        obj = Basic.__new__(Indexed, *args)
        IndexedBase._set_assumptions(obj, args[0].assumptions0)
        return obj
    if isinstance(x, Application):  # unevaluated, with the stored node's argument count
        obj = Basic.__new__(cls, *args)
        obj.nargs = x.nargs
        return obj
    if cls is Pow:
        return Pow(*args, evaluate=False)
    return x.func(*args)
