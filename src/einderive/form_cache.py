"""Each matrix form read once per kind, then instantiated by renaming (template.py's idea
carried to :func:`~einderive.recognize.recognize` and the simplifier's passes).

The adjoint of every ``h_k = σ(W_k h_{k-1})`` layer of a chain is the same index form up to
the names of its tensors, and its matrix form (the recognition, the simplifier, the forward
nodes reused in it) comes out the same up to those names: it is read for the first layer of
a kind and the stored tree renamed for the others.  The rename is of trees (the matrix form
and the SymPy expressions its nodes were read from), never of text.

A renamed form is byte-identical to a fresh reading only if the fresh one would make the
same choices, so the key holds everything a choice can read, over the set ``G`` of tensors
the reading can reach:

- the index form with each tensor replaced by its rank in ``G``; the names' order and the
  graph's order of ``G`` (SymPy orders terms by name, recognition by graph position), each
  tensor's kind, shape and role;
- the Namer's patterns over the tensors read (a value it names as a forward node), the
  anonymous intermediates' forms, the forward nodes whose forms meet ``G`` (the nodes the
  reuse and expansion passes may write in, and their forms), the arguments oriented as the
  forward pass wrote them, and which of ``G`` equal their transpose.

``G`` is the tensors the index form reads, the nodes the Namer may name from them, the
leaves of the anonymous and forward forms of those, and every forward node whose form meets
that set.  A reading that draws fresh indices or registers letters (a side effect the next
reading would see) is not stored, nor one whose result holds a tensor outside ``G``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from sympy import IndexedBase, Symbol
from sympy.core.basic import Basic

from . import matrix as mx
from .record import Record, _set
from .recognize import positions, reading_key
from .reuse import _quotient
from .simplify import _difference
from .template import _REBUILT, Within, _rebuild

if TYPE_CHECKING:
    from .indexed import Ctx, Namer

Form = Any  # a derivation.Form (derivation imports this module: not imported back)

ENABLED = True  # tests switch it off to show the cache is invisible
CENTRED_DEPTH = 10  # simplify._centred follows forward forms through at most 8 nodes
# the nodes _Skeletons remembers walking (a node met again is not walked again): past this
# many it forgets them all; kept, a 512-branch fan-out's walks held 10 MiB to the end
WALKS_KEPT = 4000
_UNSTORABLE = object()  # a key whose reading had side effects: always read afresh
_MISSING = object()


class FormCache:
    """The matrix forms of one derivation, by signature."""

    def __init__(self, ctx: Ctx, namer: Namer, anon: dict[str, mx.M | None],
                 enabled: bool | None = None) -> None:
        self.ctx, self.namer, self.anon = ctx, namer, anon
        self.enabled = ENABLED if enabled is None else enabled
        self.entries: dict[Hashable, Any] = {}
        self.hits = 0
        graph = ctx.graph
        self.info = {t.name: (t.kind, tuple(t.shape), t.positive, t.spd, t.integer,
                              t.name in graph.wrt) for t in graph.tensors}
        # the Namer's read sets (a pattern can only name a value reading exactly its set)
        self.reads = Within([(read, read) for read in namer.by_set])
        self._named_id: int | None = None
        self.skeletons: dict[int, tuple[Any, int, tuple[str, ...]]] = {}
        # each distinct skeleton of a long-lived form, by a number: a key holds the number,
        # not the tree (a chain's reading meets ten forward forms; hashing their trees at
        # every lookup was a fifth of the derivation)
        self.interned: dict[Hashable, int] = {}
        self._oriented_id: int | None = None
        self._stage: tuple[Any, ...] | None = None  # the stage _around's memo was made in
        self._arounds: dict[frozenset[str], Any] = {}
        # equal values held once: the neighbourhoods of a fan-out's branches are equal up to
        # renaming (1 026 of them held 6.7 MiB apart), and most leaf sets are a few names
        self.rests: dict[Hashable, Hashable] = {}
        self.sets: dict[frozenset[str], frozenset[str]] = {}
        self._symbol_tables: _Symbols | None = None
        self.leaves: dict[int, tuple[Any, frozenset[str]]] = {}  # id -> (the record, kept; its)
        self.used: dict[int, tuple[Form, list[tuple[Any, tuple[int, ...]]]]] = {}  # _renamed's
        self._kinds: list[tuple[int, tuple[str, ...]] | None] = []
        self.walk = _Skeletons(ctx, _tensor_symbols(ctx))  # each node's skeleton, made once

    def form(self, compute: Callable[[], Form], expr: Any, tidx: tuple[Any, ...],
             shape: tuple[Any, ...], named: Any, oriented: frozenset[Any],
             symmetric: frozenset[str]) -> Form:
        """``compute()``, or a stored form of the same signature renamed to ``expr``'s tensors."""
        if not self.enabled:
            return compute()
        signed = self._signature(expr, tidx, shape, named, oriented, symmetric)
        if signed is None:
            return compute()
        key, names = signed
        stored = self.entries.get(key)
        if stored is _UNSTORABLE:
            return compute()
        if stored is not None:
            old_names, form = stored
            self.hits += 1
            return _renamed(form, self._mapping(old_names, names), self._symbols(), expr, tidx,
                            self.used)
        counter, letters = self.ctx.counter, len(self.ctx.index_dim)
        form = compute()
        if (self.ctx.counter, len(self.ctx.index_dim)) != (counter, letters) or \
                not _storable(form, set(names), self.ctx):
            self.entries[key] = _UNSTORABLE
        else:
            self.entries[key] = (names, form)
        return form

    # -- the key -----------------------------------------------------------------------

    def _signature(self, expr: Any, tidx: tuple[Any, ...], shape: tuple[Any, ...], named: Any,
                   oriented: frozenset[Any], symmetric: frozenset[str]
                   ) -> tuple[Hashable, list[str]] | None:
        ctx = self.ctx
        try:
            skel, local_names, others = self.walk.key((expr, tidx))
        except KeyError:
            return None  # a tangent (second order): not a reading this cache knows
        around = self._around(frozenset(local_names), named, oriented, symmetric)
        if around is None:
            return None
        ordered, rank, rest = around
        letters = tuple(sorted((s.name, ctx.index_dim.get(s)) for s in others))
        # a forward reading names no temporary (recognize.forward_reading): its form is
        # another than a backward reading's of the same index form
        key = (skel, tuple(rank[n] for n in local_names), shape, letters, rest,
               reading_key())
        return key, ordered

    def _around(self, read: frozenset[str], named: Any, oriented: frozenset[Any],
                symmetric: frozenset[str]
                ) -> tuple[list[str], dict[str, int], Hashable] | None:
        """The part of the key that depends on the tensors a reading reads, not on how it
        reads them: the set ``G`` in name order, each name's rank, and what the key holds
        of ``G``'s neighbourhood (None: a reading this cache does not store).  It is the
        same for every reading of the same tensors in one stage of the derivation (a
        chain's ∂L/∂h_{k-1} and ∂L/∂W_k both read W_k, h_{k-1} and ∂L/∂h_k), so it is made
        once per set and stage; the stage is the forward forms ``named``, ``oriented`` and
        ``symmetric``, which a derivation builds once each and never changes."""
        stage = (named, oriented, symmetric)
        if self._stage is None or any(a is not b for a, b in zip(self._stage, stage)):
            self._stage, self._arounds = stage, {}
        hit = self._arounds.get(read, _MISSING)
        if hit is _MISSING:
            hit = self._arounds[read] = self._neighbourhood(read, named, oriented, symmetric)
        return hit  # type: ignore[no-any-return]

    def _neighbourhood(self, read: frozenset[str], named: Any, oriented: frozenset[Any],
                       symmetric: frozenset[str]
                       ) -> tuple[list[str], dict[str, int], Hashable] | None:
        ctx = self.ctx
        names = set(read)
        keys = {ctx.keys[n] for n in names} | {ctx.adjoint_keys[n] for n in names}
        patterns = self._patterns(keys)
        names.update(ctx.tensor_of[label] for label, _ in patterns)
        for name in list(names):
            if self.anon.get(name) is not None:
                names.update(self._skeleton(self.anon[name])[1])
        # a node that is a tensor's transpose reads as that tensor, transposed back
        # (simplify.make_transposed_node): the tensor is read too, and the pairs, by their
        # ranks, are in the key
        transposed = {r.name: x.name for r, x in getattr(named, "transposed", {}).items()}
        names.update(transposed[n] for n in list(names) if n in transposed)
        per_entry, by_node, within = self._named_forms(named)
        expanded = {n for name in names for n in by_node.get(name, ())}
        for n in expanded:  # reuse.expand writes a node read here as its form
            names.update(per_entry[n])
        # the simplifier's centred sums read forms through the nodes they name, 8 deep
        reach, frontier = set(names), set(names)
        for _ in range(CENTRED_DEPTH):
            frontier = {leaf for name in frontier for n in by_node.get(name, ())
                        for leaf in per_entry[n]} - reach
            if not frontier:
                break
            reach |= frontier
        met = sorted(expanded | {n for n, _ in within.within(reach)})
        for n in met:
            names.update(per_entry[n])
        grown = True
        while grown:  # an anonymous form reads another anonymous intermediate
            grown = False
            for name in list(names):
                more = set(self._skeleton(self.anon[name])[1]) - names \
                    if self.anon.get(name) is not None else set()
                if more:
                    names.update(more)
                    grown = True
        if any(n in transposed and transposed[n] not in names for n in names):
            return None  # a transposed node met late, its tensor's forms not in the key
        ordered = sorted(names)
        rank = {n: r for r, n in enumerate(ordered)}
        inverses = []  # Y = A⁻¹ among them: the Namer cancels Y against A
        for name in ordered:
            a = self.namer.inverse_of.get(ctx.keys[name])
            if a is not None:
                if ctx.tensor_of.get(a) not in rank:
                    return None
                inverses.append((rank[name], rank[ctx.tensor_of[a]]))

        def ranked(x: Any, part: slice | None = None) -> Hashable:
            shape_of, local_names = self._skeleton(x, part)
            return shape_of, tuple(map(rank.__getitem__, local_names))
        symbols = sorted([(ctx.keys[n].name, ("t", rank[n])) for n in ordered] +
                         [(ctx.adjoint_keys[n].name, ("a", rank[n])) for n in ordered])
        graph_order = tuple(rank[n] for n in sorted(ordered, key=ctx.position.__getitem__))
        info = tuple(self.info.get(n) for n in ordered)
        # the forward forms met: each one's kind, then all their names' ranks in a row (a
        # kind's number of names is the kind's: the row splits back one way)
        kinds = self._kinds
        met_kinds: list[tuple[int, tuple[str, ...]]] = []
        for n in met:
            kind = kinds[n]
            if kind is None:
                kind = kinds[n] = self._skeleton(named[n])
            met_kinds.append(kind)
        try:
            rest = (tuple(r for _, r in symbols), graph_order, info,
                    tuple(ranked(p, slice(1, None)) for _, p in patterns),
                    tuple((rank[n], ranked(self.anon[n])) for n in ordered if n in self.anon),
                    tuple([number for number, _ in met_kinds]),
                    tuple([rank[n] for _, local_names in met_kinds for n in local_names]),
                    frozenset([ranked(o) for o in self._oriented(oriented, rank)]),
                    tuple(rank[n] for n in ordered if n in symmetric), tuple(inverses),
                    tuple((rank[n], rank[transposed[n]]) for n in ordered if n in transposed))
        except KeyError:  # a form reading a tensor outside the set: read afresh
            return None
        return ordered, rank, self.rests.setdefault(rest, rest)

    def _skeleton(self, x: Any, part: slice | None = None) -> tuple[int, tuple[str, ...]]:
        """``x``'s skeleton (of ``x[part]``: a Namer's pattern less its node's name) as the
        number of its kind (equal skeletons, one number) and the names it reads, in order,
        for a form that lives as long as the derivation (a forward node's, a pattern of the
        Namer): made once."""
        hit = self.skeletons.get(id(x))
        if hit is None or hit[0] is not x:
            skel, names, _ = self.walk.key(x if part is None else x[part])
            number = self.interned.setdefault(skel, len(self.interned))
            hit = self.skeletons[id(x)] = (x, number, tuple(names))
        return hit[1], hit[2]

    def _patterns(self, keys: set[Symbol]) -> list[tuple[Symbol, Any]]:
        """The Namer's patterns over tensors among ``keys``, in a renaming-invariant order
        (the read sets by their names: renaming keeps the names' order)."""
        out: list[tuple[Symbol, Any]] = []
        reads = [read for _, read in self.reads.within(keys)]
        for read in sorted(reads, key=lambda r: sorted(s.name for s in r)):
            for _, bucket in self.namer.buckets_reading(read):
                out.extend((self.ctx.keys[p[0]], p) for p in bucket)
        return out

    def _named_forms(self, named: Any) -> tuple[list[set[str]], dict[str, list[int]],
                                                Within]:
        """For the forward forms ``named`` (built once per derivation stage): each entry's
        names (its form's leaves and its node), the entries by their node's name, and the
        entries by what a reading must read for the entry to matter to it: its whole form
        (reuse matches whole forms), a difference in it (the simplifier turns a difference
        the way a forward form writes it), a quotient's numerator (reuse.through_quotients)."""
        if self._named_id != id(named):
            self._named_id, self._named_ref = id(named), named
            per_entry: list[set[str]] = []
            by_node: dict[str, list[int]] = {}
            items: list[tuple[int, frozenset[str]]] = []
            leaf_names = self._leaves
            for n, (m, ref) in enumerate(named):
                leaves = leaf_names(m)
                refs = leaf_names(ref)
                per_entry.append(set(leaves | refs))
                for name in refs:
                    by_node.setdefault(name, []).append(n)
                items.append((n, leaves))
                items.extend((n, leaf_names(d)) for d in mx.walk(m) if _difference(d))
                split = _quotient(m)
                if split is not None:
                    items.append((n, leaf_names(split[0])))
            self._forms = (per_entry, by_node, Within(items))
            # each entry's skeleton number and names, made when a key first meets it
            self._kinds = [None] * len(per_entry)
        return self._forms

    def _leaves(self, x: Any) -> frozenset[str]:
        """The tensor names a matrix form (or a key of ``oriented``) reads, its displays too,
        each node's made once (a forward node's form is met again in the forms below it)."""
        if not isinstance(x, Record):
            out: set[str] = set()
            _leaves_into(self._leaves, x, out)
            return frozenset(out)
        hit = self.leaves.get(id(x))
        if hit is None:
            out = set()
            if isinstance(x, (mx.Ref, mx.OneHot)):
                out.add(x.name)
            for f in _field_names(type(x)):
                _leaves_into(self._leaves, getattr(x, f), out)
            leaves = frozenset(out)
            hit = self.leaves[id(x)] = (x, self.sets.setdefault(leaves, leaves))
        return hit[1]

    def _oriented(self, oriented: frozenset[Any], rank: dict[str, int]) -> Iterable[Any]:
        """The keys of ``oriented`` that read only tensors of ``rank`` (only those can be an
        argument read there)."""
        if self._oriented_id != id(oriented):
            self._oriented_id, self._oriented_ref = id(oriented), oriented
            self._oriented_within = Within([(o, self._leaves(o)) for o in oriented])
        return [o for o, _ in self._oriented_within.within(frozenset(rank))]

    # -- a hit -----------------------------------------------------------------------------

    def _mapping(self, old: list[str], new: list[str]) -> dict[str, str]:
        """Old name -> new name (a tensor's SymPy symbols and bases follow its name:
        :meth:`_symbols`)."""
        return {a: b for a, b in zip(old, new) if a != b}

    def _symbols(self) -> _Symbols:
        """Each tensor's SymPy symbols and bases (its key, its adjoint's key, and their bases
        where they are IndexedBases) -> the tensor's name and the table that holds the
        symbol of each name: made once, read by each renaming through a name's mapping (a
        dict of a hit's symbols, made afresh at every hit, was a twentieth of a chain's
        forms)."""
        if self._symbol_tables is None:
            ctx = self.ctx
            by: dict[Any, tuple[str, dict[str, Any]]] = {}
            for name in ctx.keys:
                for keys, bases in ((ctx.keys, ctx.labels),
                                    (ctx.adjoint_keys, ctx.adjoint_bases)):
                    by[keys[name]] = (name, keys)
                    if isinstance(bases[name], IndexedBase):
                        by[bases[name]] = (name, bases)
            self._symbol_tables = by
        return self._symbol_tables


def _leaves_into(leaves: Callable[[Any], frozenset[str]], v: Any, out: set[str]) -> None:
    """The tensor names ``v`` reads (a record's through ``leaves``), into ``out``."""
    if isinstance(v, Record):
        out |= leaves(v)
    elif isinstance(v, (tuple, frozenset)):
        for a in v:
            _leaves_into(leaves, a, out)


_ATOMS: set[type] = {str, int, float, bool, type(None)}  # and the enums, as they are met
_FIELDS: dict[type, tuple[str, ...]] = {}
# matrix-form fields of dims, axes, letters and kinds: never a tensor or a SymPy expression
# (checked when a form is stored), kept as they are by the key and the renaming
_STATIC = frozenset({"shape", "kind", "axis", "at", "dims", "subscripts", "head", "batch",
                     "names", "arg_shape"})


def _atomic(v: Any) -> bool:
    if type(v) is tuple:
        return all(_atomic(a) for a in v)
    return type(v) in _ATOMS or not isinstance(v, (Basic, Record, frozenset))


def _field_names(cls: type) -> tuple[str, ...]:
    hit = _FIELDS.get(cls)
    if hit is None:
        hit = _FIELDS[cls] = tuple(f.name for f in cls._fields)  # type: ignore[attr-defined]
    return hit


_Walked = tuple[Hashable, tuple[str, ...], frozenset[Symbol]]


class _Skeletons:
    """Skeletons of SymPy expressions and matrix forms (and tuples of them), each node's made
    once per derivation.

    A node's skeleton is a hashable copy of it with each tensor replaced by its kind alone
    (``$t`` a key, ``$a`` an adjoint key, ``$n`` a matrix form's name), beside the names of
    the tensors it reads at each place, in the order of a walk (``seq``), and the other
    symbols (indices) it holds.  The skeleton and the canonical numbering of ``seq`` (each
    name by its first place) are together the copy with each tensor replaced by its place
    among the names it reads, by first appearance: the one equals the other's (both equal
    or both not), and the two are made from the node's parts' without renumbering them, so
    a node met again (a forward node's form read by every key of its neighbourhood, the
    value of a node in every adjoint that reads it) is not walked again.  A frozenset's
    elements stay in the order walked (its numbering follows that order)."""

    def __init__(self, ctx: Ctx, symbols: dict[Any, tuple[str, str]]) -> None:
        self.ctx = ctx
        # a SymPy symbol -> what it walks to: a tensor's kind and name, an index itself
        self.symbols: dict[Any, _Walked] = {
            s: ((kind,), (name,), _NONE) for s, (kind, name) in symbols.items()}
        self.memo: dict[int, tuple[Any, _Walked]] = {}  # id -> (the node, kept alive; it)
        # each symbol met, by id -> (the symbol, kept alive; its walk): an int's hash, not
        # SymPy's __hash__ (a Python call per lookup, 41k on chain256)
        self.seen: dict[int, tuple[Any, _Walked]] = {}

    def key(self, x: Any) -> tuple[Hashable, list[str], frozenset[Symbol]]:
        """``x``'s key (its skeleton and its names' numbering), the names it reads by first
        appearance, and its indices.  KeyError: a symbol of a tangent."""
        if len(self.memo) > WALKS_KEPT:
            self.memo.clear()
        skel, seq, others = self(x)
        place: dict[str, int] = {}
        numbering = tuple([place.setdefault(n, len(place)) for n in seq])
        return (skel, numbering), list(place), others

    def _met(self, x: Any) -> _Walked:
        """A symbol's walk, kept by its id too."""
        met = self.seen.get(id(x))
        if met is not None and met[0] is x:
            return met[1]
        hit = self.symbols.get(x)
        if hit is None:
            hit = self._symbol(x)
        self.seen[id(x)] = (x, hit)
        return hit

    def _symbol(self, x: Any) -> _Walked:
        if not x.name.startswith("$"):
            hit: _Walked = (x, (), frozenset((x,)))  # an index, kept
        else:
            ctx = self.ctx  # a tensor registered after the table was made
            name = ctx.tensor_of.get(x)
            hit = (("$t",), (name,), _NONE) if name is not None else \
                (("$a",), (ctx.adjoint_of[x],), _NONE)  # KeyError: a tangent
        self.symbols[x] = hit
        return hit

    def __call__(self, x: Any) -> _Walked:
        cls = type(x)
        kind = _KINDS.get(cls)
        if kind is None:
            kind = _kind(cls)
        if kind is _ATOM:
            return x, (), _NONE  # a str, an int, an enum, None
        if kind is _SYMBOL:
            return self._met(x)
        if kind is _SEQUENCE:  # a tuple, a frozenset: walked each time (often made anew)
            return self._parts(cls.__name__, x)
        found = self.memo.get(id(x))
        if found is not None:
            return found[1]
        if kind is _BASIC:
            if not x.args:
                return x, (), _NONE  # a number
            walked = self._parts(cls, x.args)
        else:
            skel: list[Any] = [cls]
            seq: tuple[str, ...] = ()
            others = _NONE
            for f, how in _plan(cls):  # (an atom kept as it is, without a call)
                v = getattr(x, f)
                if how is _WALK and type(v) not in _ATOMS:
                    a, s, o = self(v)
                    skel.append(a)
                    if s:
                        seq = seq + s if seq else s
                    if o and o is not others:
                        others = others | o if others else o
                elif how is _NAME:
                    skel.append(_NAMED)
                    seq = seq + (v,) if seq else (v,)
                else:
                    skel.append(v)
            walked = (tuple(skel), seq, others)
        self.memo[id(x)] = (x, walked)
        return walked

    def _parts(self, head: Any, xs: Iterable[Any]) -> _Walked:
        skel: list[Any] = [head]
        seq: tuple[str, ...] = ()
        others = _NONE
        seen = self.seen
        for v in xs:
            if type(v) is Symbol:  # (most arguments: a symbol's walk without a call)
                met = seen.get(id(v))
                a, s, o = met[1] if met is not None and met[0] is v else self._met(v)
            else:
                a, s, o = self(v)
            skel.append(a)
            if s:
                seq = seq + s if seq else s
            if o and o is not others:
                others = others | o if others else o
        return tuple(skel), seq, others


_NONE: frozenset[Symbol] = frozenset()
_NAMED = ("$n",)  # a matrix form's tensor name, in a skeleton


_ATOM, _SYMBOL, _BASIC, _RECORD, _SEQUENCE = (object() for _ in range(5))
_KINDS: dict[type, object] = {}  # a class -> how _Skeletons walks its instances


def _kind(cls: type) -> object:
    """How :class:`_Skeletons` walks an instance of ``cls`` (a class not met before): as it was
    told by the class alone (a SymPy node without arguments is kept, told per node)."""
    if cls in _ATOMS:
        kind = _ATOM
    elif cls is tuple or cls is frozenset:
        kind = _SEQUENCE
    elif issubclass(cls, Symbol):
        kind = _SYMBOL
    elif issubclass(cls, Basic):
        kind = _BASIC
    elif issubclass(cls, Record):
        kind = _RECORD
    else:
        _ATOMS.add(cls)
        kind = _ATOM
    _KINDS[cls] = kind
    return kind


def _tensor_symbols(ctx: Ctx) -> dict[Any, tuple[str, str]]:
    """Each tensor's key (``$t``) and adjoint key (``$a``) -> its kind and name: the symbols
    :class:`_Skeletons` numbers (a key's kind first where a symbol were both)."""
    out: dict[Any, tuple[str, str]] = {}
    for table, kind in ((ctx.adjoint_of, "$a"), (ctx.tensor_of, "$t")):
        for s, name in table.items():
            if isinstance(s, Symbol) and s.name.startswith("$"):
                out[s] = (kind, name)
    return out


# -- renaming ---------------------------------------------------------------------------


def _storable(form: Form, names: set[str], ctx: Ctx) -> bool:
    """Whether renaming ``form`` reproduces it: every tensor it names among ``names``, every
    SymPy node one that renaming rebuilds as built."""
    allowed = {ctx.keys[n] for n in names} | {ctx.adjoint_keys[n] for n in names}
    stack: list[Any] = [form.matrix, form.wheres]
    while stack:
        x = stack.pop()
        if isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, Symbol):
            if x.name.startswith("$") and x not in allowed:
                return False
        elif isinstance(x, Basic):
            if x.args and not isinstance(x, _REBUILT):
                return False
            stack.extend(x.args)
        elif isinstance(x, Record):
            if isinstance(x, (mx.Ref, mx.OneHot)) and x.name not in names:
                return False
            for f in _field_names(type(x)):
                v = getattr(x, f)
                if f not in _STATIC:
                    stack.append(v)
                elif not _atomic(v):
                    return False  # a shape holding an expression: renamed it would be missed
    return True


_Symbols = dict[Any, tuple[str, dict[str, Any]]]  # a SymPy symbol -> its name, its table


def _renamed(form: Form, mapping: dict[str, str], symbols: _Symbols, expr: Any,
             tidx: tuple[Any, ...],
             used: dict[int, tuple[Form, list[tuple[Any, tuple[int, ...]]]]]) -> Form:
    """``form`` renamed to ``expr``'s tensors.  The stored index form's parts that its first
    renaming found in it (a matrix node's source) are kept with their places, and each
    later renaming finds those parts at their places in ``expr``: not the whole index form
    paired again (the parts a renaming looks up are the stored form's, whatever the names)."""
    rename = _Renamer(mapping, symbols)
    known = used.get(id(form))
    if known is None or known[0] is not form:
        places = rename.pair(form.index, expr)
        looked: set[Any] = set()
        rename.looked = looked
        m = rename(form.matrix)
        wheres = rename(form.wheres)
        used[id(form)] = (form, [(a, places[a]) for a in looked])
    else:
        parts = rename.parts
        for a, place in known[1]:
            b = expr
            for at in place:
                b = b.args[at]
            parts[a] = b
        m = rename(form.matrix)
        wheres = rename(form.wheres)
    return type(form)(expr, tidx, m, wheres, positions(m) if m is not None else {},
                      form.einsum)


class _Renamer:
    """A matrix form (or a tuple of Where records) with tensor names and SymPy symbols mapped:
    a symbol of ``symbols`` (a tensor's key or base) to the same symbol of the tensor its
    name maps to."""

    def __init__(self, mapping: dict[str, str], symbols: _Symbols) -> None:
        self.mapping, self.symbols = mapping, symbols
        self.memo: dict[int, Any] = {}
        self.parts: dict[Any, Any] = {}
        self.looked: set[Any] | None = None  # the parts found, noted on a first renaming

    def pair(self, old: Any, new: Any) -> dict[Any, tuple[int, ...]]:
        """Each subexpression of ``old`` is the one at its place in ``new`` (the two have one
        skeleton): a node's source is found there, not rebuilt.  Returns each one's place
        (the arguments' positions down to it)."""
        stack: list[tuple[Any, Any, tuple[int, ...]]] = [(old, new, ())]
        parts = self.parts
        places: dict[Any, tuple[int, ...]] = {}
        while stack:
            a, b, place = stack.pop()
            if a in parts:
                continue
            parts[a] = b
            places[a] = place
            if a.args and not isinstance(a, Symbol):
                stack.extend((x, y, place + (k,))
                             for k, (x, y) in enumerate(zip(a.args, b.args)))
        return places

    def __call__(self, x: Any) -> Any:
        cls = type(x)
        if cls in _ATOMS:
            return x
        if cls is tuple:
            if not x:
                return x
            out = tuple([self(a) for a in x])
            return x if all(a is b for a, b in zip(out, x)) else out
        kind = _KINDS.get(cls)
        if kind is None:
            kind = _kind(cls)
        if kind is _SYMBOL or kind is _BASIC:
            return self._sympy(x)
        if kind is not _RECORD:
            return x  # an atom (a frozenset: kept as before)
        done = self.memo.get(id(x))
        if done is None:
            plan = _PLANS.get(cls)
            if plan is None:
                plan = _plan(cls)
            values = [getattr(x, f) for f, _ in plan]
            renamed = False
            for k, (_, how) in enumerate(plan):
                if how is _STATIC_FIELD:
                    continue
                v = values[k]
                if how is _NAME:
                    w = self.mapping.get(v, v)
                elif type(v) in _ATOMS or (type(v) is tuple and not v):
                    continue
                else:
                    w = self(v)
                if w is not v:
                    values[k] = w
                    renamed = True
            if not renamed:
                done = x  # nothing renamed below it: the stored node itself (immutable)
            else:
                done = object.__new__(cls)
                for (f, _), w in zip(plan, values):
                    _set(done, f, w)
            self.memo[id(x)] = done
        return done

    def _sympy(self, x: Any) -> Any:
        hit = self.parts.get(x)  # a stored part is the new one's; else its symbols renamed
        if hit is not None:
            if self.looked is not None:
                self.looked.add(x)
            return hit
        named = self.symbols.get(x)
        if named is not None:
            name, table = named
            new = self.mapping.get(name)
            return x if new is None else table[new]
        if not x.args:
            return x
        done = self.memo.get(id(x))
        if done is None:
            args = [self._sympy(a) for a in x.args]
            done = x if all(a is b for a, b in zip(args, x.args)) else _rebuild(x, args)
            self.memo[id(x)] = done
        return done


_STATIC_FIELD, _NAME, _WALK = object(), object(), object()  # how a field is keyed and renamed
_PLANS: dict[type, tuple[tuple[str, object], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, object], ...]:
    """Each field of the record class ``cls`` with how :class:`_Skeletons` keys it and
    :class:`_Renamer` renames it: kept (dims, axes, kinds), a tensor's name mapped, or
    walked."""
    hit = _PLANS.get(cls)
    if hit is None:
        named = cls is mx.Ref or cls is mx.OneHot
        hit = _PLANS[cls] = tuple(
            (f, _STATIC_FIELD if f in _STATIC else _NAME if named and f == "name" else _WALK)
            for f in _field_names(cls))
    return hit
