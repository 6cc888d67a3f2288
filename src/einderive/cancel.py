"""Cancelling within an elementwise expression, by SymPy's ``cancel`` and ``expand``.

The simplifier's one rule that needs algebra beyond patterns: an elementwise part of a matrix
form (products, quotients, sums and powers of whatever is not elementwise) goes to SymPy with
each operand as a symbol, and comes back as candidates the simplifier weighs by its cost.
``σ'(u) ⊙ ((1 − y) ⊘ (1 − p) − y ⊘ p)`` with σ'(u) = p ⊙ (1 − p) comes back as ``p − y``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, cast

import sympy

from . import matrix as mx


def _negative_power(m: mx.M) -> bool:
    return isinstance(m, mx.Pow) and bool(cast(Any, m).exp < 0)


def worth_cancelling(m: mx.M, defs: dict[mx.M, mx.M]) -> bool:
    """Only what divides by something it also multiplies by can cancel (SymPy is slow; the
    other quotients are left to the cheap rules)."""
    above: set[mx.M] = set()
    below: set[mx.M] = set()
    for leaf, in_den in _leaves(m, defs, False):
        (below if in_den else above).add(leaf)
    return bool(above & below)


def _leaves(m: mx.M, defs: dict[mx.M, mx.M], in_den: bool) -> Iterable[tuple[mx.M, bool]]:
    """The operands of an elementwise expression (helpers written out), each with whether it
    is in a denominator."""
    if m in defs:
        yield from _leaves(defs[m], defs, in_den)
    elif isinstance(m, mx.Pow):
        yield from _leaves(m.x, defs, in_den or _negative_power(m))
    elif isinstance(m, (mx.Hadamard, mx.Add, mx.Scale)):
        for c in m.children():
            yield from _leaves(c, defs, in_den)
    elif not isinstance(m, (mx.Const, mx.Ones)):
        yield m, in_den


def denominators(m: mx.M) -> set[mx.M]:
    """What ``m`` divides by: cancelling may remove a quotient, never make a new one
    (``(1 − y) ⊘ (1 − p) − y ⊘ p`` stays, it is not ``(y − p) ⊘ (p ⊙ p − p)``)."""
    return {n.x for n in mx.walk(m) if isinstance(n, mx.Pow) and _negative_power(n)}


# Past this many terms of the expression multiplied out, SymPy's cancel and expand run for
# minutes ((x ⊘ (1 + x²)) ⊘ (1 + (x ⊘ (1 + x²))²)'s derivative: 2·10⁵ terms, > 10 min);
# such a form is kept as the cheap rules leave it.
EXPANDED_TERMS_LIMIT = 2000


def expanded_terms(e: Any) -> int:
    """An estimate of the number of terms of ``e`` multiplied out (SymPy's expand, which
    expands denominators too): a sum's add, a product's multiply, an integer power n of a
    sum of t terms has C(t + n − 1, n)."""
    if e.is_Add:
        return sum(expanded_terms(a) for a in e.args)
    if e.is_Mul:
        n = 1
        for a in e.args:
            n *= expanded_terms(a)
        return n
    if e.is_Pow and e.exp.is_Integer:
        t = expanded_terms(e.base)
        k = abs(int(e.exp))
        return math.comb(t + k - 1, k) if t > 1 else 1
    return 1


def cancelled(m: mx.M, defs: dict[mx.M, mx.M], forms: bool = True) -> list[mx.M]:
    """``m`` cancelled, expanded, and (``defs``) the helpers it is the definition of;
    without ``forms`` only those helpers (the forms are those of ``m`` with no ``defs``
    when ``m`` reads none of them)."""
    atoms: dict[mx.M, sympy.Symbol] = {}
    e = _to_sympy(m, atoms, defs)
    if expanded_terms(e) > EXPANDED_TERMS_LIMIT:
        return []
    reader = _Reader({s: a for a, s in atoms.items()})  # (the forms share most parts)
    out = []
    whole = sympy.cancel(e) if forms else None
    for c in (whole, sympy.expand(e), *_cancel_held(e), *_cancel_rescaled(e, whole)) \
            if forms else ():
        try:
            out.append(_as_written(reader.read(c), m))
        except _NoShape:
            continue
    # a helper whose definition it is: p − p ⊙ p is σ'(X w) where σ'(X w) = p ⊙ (1 − p)
    for name, definition in defs.items():
        if name != m and sympy.cancel(e - _to_sympy(definition, atoms, defs)) == 0:
            out.append(name)
    return out


def _as_written(c: mx.M, m: mx.M) -> mx.M:
    """``c`` with each divisor that is one of ``m``'s in another order of its terms written as
    ``m`` has it (SymPy's order: 1/4 + r2 is m's r2 + 1/4)."""
    written = {frozenset(d.terms): d for d in denominators(m) if isinstance(d, mx.Add)}
    for d in denominators(c):
        if isinstance(d, mx.Add) and d not in written.values() and \
                (same := written.get(frozenset(d.terms))) is not None:
            c = mx.substitute(c, d, same)
    return c


def _cancel_held(e: Any) -> list[Any]:
    """``cancel`` with each divisor that is a sum held whole, so that its fractions stay:
    ``(−1 + (1 + tp)/d)/d`` with d = 1 + tp + (3/10) fp + (7/10) fn is
    ``(−(3/10) fp − (7/10) fn)/d²``, where ``cancel`` alone clears d's fractions into
    ``10 (−3 fp − 7 fn)/(10 + 10 tp + 3 fp + 7 fn)²``, a divisor the form never had.  The
    numerator also expanded, and then factored (``2 x (1 − x²)/(1 + x²)³``)."""
    held: dict[Any, Any] = {}
    for p in sorted(e.atoms(sympy.Pow), key=sympy.default_sort_key):
        if isinstance(p.base, sympy.Add) and p.exp.is_negative and p.base not in held:
            held[p.base] = sympy.Symbol(f"_h{len(held):04d}")
    if not held:
        return []
    c = sympy.cancel(e.xreplace(held)).xreplace({v: k for k, v in held.items()})
    num, den = sympy.fraction(c)
    if len(sympy.Mul.make_args(den)) > 1:
        return []  # one divisor only: 1 + r ⊘ (1 − p) + r ⊘ p stays, not one quotient of three
    expanded = sympy.expand(num)
    return [c, expanded / den, sympy.factor_terms(expanded) / den]


def _cancel_rescaled(e: Any, whole: Any) -> list[Any]:
    """``cancel`` with each divisor it made that is a number times a divisor of ``e`` written
    as that one: geman_mcclure's ``(1 − r2/(r2 + 1/4))/(r2 + 1/4)`` is ``(1/4)/(r2 + 1/4)²``,
    where ``cancel`` alone gives ``4/(4 r2 + 1)²``, a divisor the form never had."""
    bases = sorted({p.base for p in e.atoms(sympy.Pow)
                    if isinstance(p.base, sympy.Add) and p.exp.is_negative},
                   key=sympy.default_sort_key)
    if not bases:
        return []
    num, den = sympy.fraction(whole)  # whole: sympy.cancel(e)
    den = sympy.factor(den)  # cancel multiplies the divisor out: 16 r2² + 8 r2 + 1
    out, changed = sympy.S.One, False
    for f in sympy.Mul.make_args(den):
        base, exp = f.as_base_exp()
        for b in bases:
            r = sympy.cancel(base / b)
            if base != b and r.is_number and r != 0:
                f, changed = r ** exp * b ** exp, True  # b ** exp stays a power of the sum
                break
        out *= f
    return [num / out] if changed else []


def reflected(m: mx.M, mirror: Callable[[mx.M], mx.M | None]) -> list[mx.M]:
    """``m`` with each ``f(−u)`` that ``mirror`` gives as ``f(u)`` written ``1 − f(u)``,
    expanded (σ(−z) + σ(z) = 1): ``1 + y ⊙ σ(z) + y ⊙ σ(−z) − 2 y − σ(−z)`` is ``σ(z) − y``.
    Empty when ``m`` has no such operand."""
    atoms: dict[mx.M, sympy.Symbol] = {}
    flipped: list[mx.M] = []
    e = _to_sympy(m, atoms, {}, mirror, flipped)
    if not flipped:
        return []
    try:
        return [_from_sympy(sympy.expand(e), {s: a for a, s in atoms.items()})]
    except _NoShape:
        return []


class _NoShape(Exception):
    """A SymPy form with no matrix-form node (an irrational power)."""


def _to_sympy(m: mx.M, atoms: dict[mx.M, Any], defs: dict[mx.M, mx.M],
              mirror: Callable[[mx.M], mx.M | None] | None = None,
              flipped: list[mx.M] | None = None) -> Any:
    def down(x: mx.M) -> Any:
        return _to_sympy(x, atoms, defs, mirror, flipped)
    if m in defs:
        return down(defs[m])
    if isinstance(m, mx.Const):
        return m.value  # already a SymPy number
    if isinstance(m, mx.Ones):
        return sympy.S.One
    if isinstance(m, mx.Add):
        return sympy.Add(*[down(t) for t in m.terms])
    if isinstance(m, mx.Hadamard):
        return sympy.Mul(*[down(f) for f in m.factors])
    if isinstance(m, mx.Scale):
        return down(m.coeff) * down(m.x)
    if isinstance(m, mx.Pow):
        return down(m.x) ** m.exp
    if mirror is not None and flipped is not None and (r := mirror(m)) is not None:
        flipped.append(m)
        return 1 - down(r)
    if m not in atoms:
        atoms[m] = sympy.Symbol(f"_m{len(atoms):04d}")
    return atoms[m]


def _from_sympy(e: Any, back: dict[Any, mx.M]) -> mx.M:
    return _Reader(back).read(e)


class _Reader:
    """A SymPy form read back into matrix form, the operands ``back`` names as their nodes.
    Which operands a subexpression reads is found once per subexpression (SymPy's
    ``free_symbols`` walks the whole subtree at each call: asked of every node of a deep
    form, that was quadratic in its depth)."""

    def __init__(self, back: dict[Any, mx.M]) -> None:
        self.back = back
        self.symbols = frozenset(back)
        self.rank = {s: n for n, s in enumerate(sorted(back, key=lambda s: s.name))}
        self.reads_memo: dict[Any, frozenset[Any]] = {}
        self.read_memo: dict[Any, mx.M] = {}

    def reads(self, e: Any) -> frozenset[Any]:
        """``e.free_symbols & set(back)``."""
        out = self.reads_memo.get(e)
        if out is None:
            if isinstance(e, (sympy.Add, sympy.Mul, sympy.Pow)):
                out = frozenset().union(*(self.reads(a) for a in e.args))
            else:
                out = frozenset(e.free_symbols & self.symbols)
            self.reads_memo[e] = out
        return out

    def read(self, e: Any) -> mx.M:
        out = self.read_memo.get(e)
        if out is None:
            out = self.read_memo[e] = self._read(e)
        return out

    def _read(self, e: Any) -> mx.M:
        if e in self.back:
            return self.back[e]
        if not self.reads(e):
            return mx.Const(e)
        if isinstance(e, sympy.Add):
            terms = [self.read(a) for a in self.ordered(e.args)]
            return mx.add(*terms)
        if isinstance(e, sympy.Mul):
            consts = [a for a in e.args if not self.reads(a)]
            rest = [self.read(a) for a in self.ordered([a for a in e.args if self.reads(a)])]
            body = rest[0] if len(rest) == 1 else \
                (mx.scalar_product(rest) if all(r.is_scalar for r in rest) else mx.hadamard(*rest))
            return mx.scale(mx.Const(sympy.Mul(*consts)), body) if consts else body
        if isinstance(e, sympy.Pow) and e.exp.is_Rational:
            return mx.power(self.read(e.base), e.exp)
        raise _NoShape

    def ordered(self, args: Iterable[Any]) -> list[Any]:
        """Terms and factors in the order their names first show in the form, positive
        first."""
        def key(a: Any) -> tuple[Any, ...]:
            first = min((self.rank[s] for s in self.reads(a)), default=-1)
            return (a.could_extract_minus_sign(), first, sympy.default_sort_key(a))
        return sorted(args, key=key)


__all__ = ["cancelled", "denominators", "reflected", "worth_cancelling"]
