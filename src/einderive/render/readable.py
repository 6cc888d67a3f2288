"""Index forms made to read one way before they are printed.

Two rewrites, both of presentation only (the value is unchanged):

* an anonymous intermediate (``_h_1``, made for the argument of an axis
  function) is replaced by its definition, so ``h_i = x_i + y_i − logsumexp(x + y)``
  and never an internal name;
* a summation index whose letter is also free in its term, bound around it,
  or bound by a sum written flat beside it, takes a fresh primed letter, so
  ``silu(Σ_j′ X_ij′ W1_kj′) X_ij W3_kj`` never reads as one ``j`` bound twice
  (Einstein's convention drops the outer Σ_j).

Each rebuilt node remembers the node it came from (``origin``), so the order the
recognizer chose for factors and terms (keyed by the original nodes) still applies.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from sympy import Add, Basic, Indexed, Mul, Pow, S, Sum, Symbol

from ..caches import register
from ..indexed import LETTERS, PRIME, free_symbols, make_sum, nodes_of
from ..ops import (  # loaded with indexed: no cycle, not per call
    CLASSES, POW_HALF, AxisFunction, has_exp, logistic, logistic_parts)

# how an index is written: one of the engine's index letters, primed as often as it must be
INDEX_LETTER = re.compile(f"[{LETTERS}]{PRIME}*")


@lru_cache(maxsize=4096)
def index_names(e: Any) -> frozenset[str]:
    """Letters of every index written in ``e``, bound or free (tensor keys start with $)."""
    return frozenset(s.name for s in nodes_of(e, Symbol) if _is_index(s))


@lru_cache(maxsize=4096)
def exposed_names(e: Any) -> frozenset[str]:
    """Letters a neighbour in a product can see: free indices, and the indices of sums
    written flat in the product (Einstein's convention drops those Σ)."""
    names = {s.name for s in free_symbols(e) if isinstance(s, Symbol) and _is_index(s)}
    if isinstance(e, Sum):
        return frozenset(names | {v.name for v, _, _ in e.limits} | exposed_names(e.function))
    if isinstance(e, Mul):
        for a in e.args:
            names |= exposed_names(a)
    return frozenset(names)


@lru_cache(maxsize=1024)
def is_dim(s: object) -> bool:
    """Whether ``s`` is a dim's size: a positive integer symbol (``N``), never an index."""
    return isinstance(s, Symbol) and bool(s.is_integer and s.is_positive)


for _memo in (index_names, exposed_names, is_dim):  # they hold SymPy trees: let go with them
    register(_memo.cache_clear)


def _is_index(s: Symbol) -> bool:
    # tensor keys start with $; a dim's size is never an index
    return not s.name.startswith("$") and not is_dim(s)


class Rewriter:
    """One rewrite pass; ``origin`` maps each rebuilt node to the node it replaces."""

    def __init__(self, anon: dict[str, tuple[Any, tuple[Any, ...]]],
                 anon_key: Callable[[Any], str | None]) -> None:
        self.anon = anon  # tensor name -> (definition, its indices)
        self.anon_key = anon_key  # key Symbol -> tensor name, or None
        self.origin: dict[Any, Any] = {}

    def _rebuilt(self, old: Any, new: Any) -> Any:
        if new is not old and new != old:
            self.origin[new] = self.origin.get(old, old)
        return new

    # -- anonymous intermediates ---------------------------------------------------------

    def inline(self, e: Any) -> Any:
        """``e`` with each element of an anonymous intermediate replaced by its definition."""
        if not self.anon:
            return e
        if isinstance(e, Indexed):
            name = self.anon_key(e.base.label)
            if name in self.anon:
                return self._rebuilt(e, self.inline(instantiate(*self.anon[name], e.indices)))
            return e
        if isinstance(e, Symbol):
            name = self.anon_key(e)
            if name in self.anon:
                return self._rebuilt(e, self.inline(self.anon[name][0]))
            return e
        if not e.args or _is_axis_function(e):
            return e  # an axis function prints its anonymous argument in matrix form
        return self._rebuild(e, [self.inline(a) for a in e.args])

    # -- a stack's count dim as its number ------------------------------------------------

    def counted(self, e: Any, counts: dict[Any, Any]) -> Any:
        """``e`` with each count dim the graph made for a stack (n2) replaced by its number,
        rebuilt evaluated (2·n2 is 4, never 2·2): the user wrote no name for it."""
        if not counts or not isinstance(e, Basic) or not e.free_symbols & counts.keys():
            return e
        if e in counts:
            return counts[e]
        args = [self.counted(a, counts) for a in e.args]
        if isinstance(e, Mul):  # the numbers multiplied, never spread over a sum: (2/3) (m − y)
            number = Mul(*[a for a in args if a.is_Number])
            rest = [a for a in args if not a.is_Number]
            new = Mul(number, *rest, evaluate=False) if rest and number != 1 else \
                Mul(*rest, evaluate=False) if len(rest) > 1 else rest[0] if rest else number
        else:
            new = e.func(*args)
        # a number (n2 − 1 is 1) stands for no node: a position kept for it would place
        # every 1 of the form
        return new if new.is_Number else self._rebuilt(e, new)

    # -- a square root squared ----------------------------------------------------------

    def unrooted(self, e: Any) -> Any:
        """``e`` with each even power of a square root written as the power of its argument:
        ``v_ij / (√(Σ_j′′ v_ij′′²))²`` is ``v_ij / Σ_j′′ v_ij′′²`` (a norm's derivative
        divides by the norm squared), the same value wherever the root is defined."""
        # (no square root was ever made, a class made on first use: no tree holds one, and
        # none is walked; the renderers ask this of every index form)
        if POW_HALF not in CLASSES or not isinstance(e, Basic) or not e.args or \
                _is_axis_function(e) or isinstance(e, Indexed) or \
                not any(_is_root(n) for n in nodes_of(e, Pow)):
            return e
        if isinstance(e, Pow) and _is_root(e):
            inner, k = self.unrooted(e.base.args[0]), e.exp / 2
            # a product's factors each raised: (a b)⁻¹ is a denominator a b, not 1/(a b)
            # written as one factor among the others
            factors = inner.args if isinstance(inner, Mul) else (inner,)
            raised = [f if k == 1 else Pow(f, k) for f in factors]
            return self._rebuilt(e, Mul(*raised, evaluate=False) if len(raised) > 1
                                 else raised[0])
        args = [self.unrooted(a) for a in e.args]
        if isinstance(e, Mul):  # (a product of powers made above is one of its factors)
            args = [f for a, old in zip(args, e.args)
                    for f in (a.args if a is not old and isinstance(a, Mul) else (a,))]
            return self._rebuilt(e, Mul(*args, evaluate=False)) if args != list(e.args) else e
        return self._rebuild(e, args)

    # -- the logistic function by its name ----------------------------------------------

    def logistic(self, e: Any) -> Any:
        """``e`` with each ``exp(u)/(1 + exp(u))`` written σ(u), as the matrix form writes it
        (sigmoid_of_exp): the derivative of log1p(exp(−z)) is −σ(−z_i), not
        −exp(−z_i)/(1 + exp(−z_i))."""
        if not isinstance(e, Basic) or not e.args or _is_axis_function(e) or \
                isinstance(e, Indexed) or not has_exp(e):
            return e
        args = [self.logistic(a) for a in e.args]
        if isinstance(e, Mul):
            over = {u: n for n, f in enumerate(args) if (u := logistic_parts(f)) is not None}
            paired = [(n, over[f]) for n, f in enumerate(args) if f in over]
            if paired:
                out: list[Any] = list(args)
                for n, k in paired:
                    out[n], out[k] = logistic(args[n].args[0]), S.One
                kept = [f for f in out if f != 1]
                return self._rebuilt(e, Mul(*kept, evaluate=False) if len(kept) > 1
                                     else kept[0])
        return self._rebuild(e, args)

    # -- one reading for every index -----------------------------------------------------

    def disambiguate(self, e: Any, outside: frozenset[str] = frozenset()) -> Any:
        """Give each sum a letter that occurs nowhere else in its term (``outside``, the
        left side's letters).

        Most index forms need nothing (each summation letter bound once and free nowhere):
        told by one walk, before the pass that reads each product's neighbours."""
        if _unambiguous(e, outside):
            return e
        return self._disambiguate(e, outside)

    def _disambiguate(self, e: Any, outside: frozenset[str] = frozenset(),
                      avoid: frozenset[str] = frozenset()) -> Any:
        """Give each sum a letter that occurs nowhere else in its term (``outside``).

        A sum written flat in a product also avoids ``avoid``, every letter bound
        beside it: Einstein's convention may drop its Σ."""
        if isinstance(e, Sum):
            (var, lo, hi), rest = e.limits[-1], e.limits[:-1]  # the outermost sum first
            body = make_sum(e.function, rest) if rest else e.function
            renamed = var.name in outside
            if renamed:
                new = Symbol(_fresh(var.name, outside | avoid | index_names(body)))
                body, var = self._replace(body, {var: new}), new
            read = self._disambiguate(body, outside | {var.name}, avoid)
            if read is body and not renamed:
                return e  # as it was: rebuilt it would be e again (make_sum denests)
            return self._rebuilt(e, make_sum(read, ((var, lo, hi),)))
        if isinstance(e, Add):
            return self._rebuild(e, [self._disambiguate(a, outside, avoid) for a in e.args])
        if not e.args or _is_axis_function(e) or isinstance(e, Indexed):
            return e
        args = list(e.args)
        # a sum nested in a function or a denominator takes the prime, so that the
        # product's own sums (which Einstein's convention drops) keep their letters
        for n in sorted(range(len(args)), key=lambda n: isinstance(args[n], Sum)):
            others: set[str] = set()
            beside: set[str] = set()
            for b in args[:n] + args[n + 1:]:
                others |= exposed_names(b)
                beside |= index_names(b)
            flat = isinstance(args[n], Sum)  # may lose its Σ: must differ from all beside it
            args[n] = self._disambiguate(args[n], outside | others,
                                        avoid | beside if flat else avoid)
        return self._rebuild(e, args)

    def with_args(self, e: Any, args: list[Any]) -> Any:
        """``e`` with the arguments ``args``, its origin kept."""
        return self._rebuild(e, args)

    def renamed(self, e: Any, mapping: dict[Any, Any]) -> Any:
        """``e`` with each symbol of ``mapping`` replaced, each rebuilt node's origin kept."""
        return self._replace(e, mapping)

    def _replace(self, e: Any, mapping: dict[Any, Any]) -> Any:
        """``e.xreplace(mapping)``, remembering where each rebuilt node came from."""
        if e in mapping:
            return mapping[e]
        if not e.args:
            return e
        return self._rebuild(e, [self._replace(a, mapping) for a in e.args])

    def _rebuild(self, e: Any, args: list[Any]) -> Any:
        if all(a is b for a, b in zip(args, e.args)):
            return e
        if isinstance(e, (Add, Mul, Pow)):
            return self._rebuilt(e, e.func(*args, evaluate=False))
        return self._rebuilt(e, e.func(*args))


def _is_root(e: Any) -> bool:
    """Whether ``e`` is an even integer power of a square root, (√x)² or (√x)⁻²."""
    return isinstance(e, Pow) and e.exp.is_Integer and e.exp % 2 == 0 and \
        type(e.base).__name__ == POW_HALF and len(e.base.args) == 1


def _unambiguous(e: Any, outside: frozenset[str]) -> bool:
    """Whether :meth:`Rewriter.disambiguate` would rename no sum of ``e``: every summation
    letter is bound by one limit in the whole tree (counted at each place, a repeated
    subtree twice), none is free in ``e`` nor in ``outside``.  Then no letter a sum meets
    (an enclosing sum's, a neighbour's in a product, the left side's) is its own: a
    neighbour's letters are bound by other sums or free in ``e``.

    One walk, keeping the letters the sums around the node being read bind: a symbol
    outside the sums binding its name is free.  A node that binds names of its own (not a
    sum) has every symbol it holds counted as free: a superset of its free symbols, which
    can only send ``e`` to the full pass, never keep a letter that pass would rename."""
    bound: list[str] = []
    free: set[str] = set()
    scope: set[str] = set()  # the letters the sums around the node being read bind
    stack: list[Any] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Symbol):
            if x.name not in scope:
                free.add(x.name)
        elif isinstance(x, Sum):
            names: list[str] = []
            for lim in x.limits:
                if len(lim) != 3 or type(lim[0]) is not Symbol:
                    return False  # a limit this check does not read: the full pass
                names.append(lim[0].name)
                # a limit's bounds read no letter of the sum (einderive's run 0 … size − 1):
                # read after the sum's body, outside its letters, any symbol is free there
                stack.append(lim[1])
                stack.append(lim[2])
            bound += names
            # the body is read before what was stacked under it: its letters leave the
            # scope when the marker comes off the stack
            stack.append(_Leave(names))
            scope.update(names)
            stack.append(x.function)
        elif type(x) is _Leave:
            scope.difference_update(x.names)
        else:
            stack.extend(x.args)
    if not bound:
        return True
    unique = set(bound)
    if len(unique) < len(bound) or not unique.isdisjoint(outside):
        return False
    return unique.isdisjoint(free)


class _Leave:
    """On :func:`_unambiguous`'s stack: a sum's letters go out of scope here."""

    __slots__ = ("names",)

    def __init__(self, names: list[str]) -> None:
        self.names = names


def instantiate(definition: Any, idx: tuple[Any, ...], indices: tuple[Any, ...]) -> Any:
    """``definition`` (over ``idx``) at ``indices``, no index captured by a sum inside it."""
    mapping = {a: b for a, b in zip(idx, indices) if isinstance(a, Symbol)}
    # every index a value reads: a shifted one (k − n) would be captured as much as n
    targets = {s.name for b in mapping.values() for s in b.free_symbols}
    definition = _rebind_away(definition, targets)
    return definition.xreplace(mapping)


def _rebind_away(e: Any, avoid: set[str]) -> Any:
    """Rename every summation index of ``e`` that is in ``avoid``."""
    if isinstance(e, Sum):
        (var, lo, hi), rest = e.limits[-1], e.limits[:-1]
        body = Sum(e.function, *rest) if rest else e.function
        if var.name in avoid:
            new = Symbol(_fresh(var.name, avoid | index_names(body)))
            body, var = body.xreplace({var: new}), new
        return Sum(_rebind_away(body, avoid), (var, lo, hi))
    if not e.args:
        return e
    args = [_rebind_away(a, avoid) for a in e.args]
    return e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)


def _fresh(name: str, taken: set[str] | frozenset[str]) -> str:
    while name in taken:
        name += PRIME
    return name


def _is_axis_function(e: Any) -> bool:
    return isinstance(e, AxisFunction)
