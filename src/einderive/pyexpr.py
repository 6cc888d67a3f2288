"""A tiny Python-expression tree and the one unparser that decides its brackets.

Every piece of generated NumPy or PyTorch code is built as a :class:`Py` tree
(from the forward FExpr, the matrix form or the index form) and turned into
text here, and only here.  Brackets come from Python's own precedence and
associativity, in :data:`PREC`: ``@`` binds like ``*`` and ``/``, left to
right; ``**`` binds tighter than a unary minus on its left (``-x ** 2`` is
``-(x ** 2)``) and looser on its right (``x ** -2``); attribute access, calls
and subscripts bind tightest.  A node is bracketed exactly when Python would
otherwise read a different tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from .precedence import Prec
from .record import Record, fields, replace

Number = int | float | Fraction

# Python's precedence (the language reference, "Operator precedence"), on the one scale.
PREC = {
    "compare": Prec.COMPARE,
    "+": Prec.ADD, "-": Prec.ADD,
    "*": Prec.MUL, "/": Prec.MUL, "@": Prec.MUL, "//": Prec.MUL, "%": Prec.MUL,
    "unary": Prec.UNARY,
    "**": Prec.POW,
    "primary": Prec.CALL,  # x.attr, x[i], f(x)
    "atom": Prec.ATOM,  # names, literals, displays
}


class Py(Record):
    """Base of the expression nodes."""


class Name(Py):
    id: str  # an identifier, or a dotted path such as 'np.sum'


class Num(Py):
    """A non-negative number literal (a negative one is ``Unary('-', Num)``)."""

    value: Number


class Str(Py):
    value: str


class Tuple(Py):
    items: tuple[Py, ...]


class BinOp(Py):
    op: str  # + - * / @ **
    left: Py
    right: Py


class Unary(Py):
    op: str  # '-'
    x: Py


class Compare(Py):
    op: str  # '>'
    left: Py
    right: Py


class Call(Py):
    func: Py
    args: tuple[Py, ...] = ()
    kwargs: tuple[tuple[str, Py], ...] = ()


class Attr(Py):
    x: Py
    name: str  # 'T', 'mT', 'shape', 'dtype', 'ravel' ...


class Subscript(Py):
    x: Py
    index: tuple[Py, ...]  # the slice ':' as Slice()


class Slice(Py):
    """A slice ``lo:hi`` inside a subscript; the full slice ``:`` without bounds."""

    lo: Py | None = None
    hi: Py | None = None


NONE = Name("None")


# -- builders -------------------------------------------------------------------------


def name(s: str) -> Name:
    return Name(s)


# every whole number up to this is a float exactly (2⁵³): beyond it a whole number is written
# as a float in code and by its float's digits in text
FLOAT_EXACT_WHOLE = 2 ** 53


def num(v: Number) -> Py:
    """A number, negative ones as a unary minus of a literal; a whole number beyond a
    float's exact ones (x * 1e20, x / 1e-300) as a float: PyTorch takes no larger Python
    int, and the spec's literal was a float."""
    if isinstance(v, Fraction) and v.denominator == 1:
        v = int(v)
    if isinstance(v, int) and abs(v) > FLOAT_EXACT_WHOLE:
        try:
            v = float(v)
        except OverflowError:  # past a float's range (1e300 * 1e300): what the spec's
            # floats make of it, ±inf
            inf = Call(Name("float"), (Str("inf"),), ())
            return Unary("-", inf) if v < 0 else inf
    return Unary("-", Num(-v)) if v < 0 else Num(v)


def call(func: str | Py, *args: Py, **kwargs: Py) -> Call:
    f = Name(func) if isinstance(func, str) else func
    return Call(f, tuple(args), tuple(kwargs.items()))


def method(x: Py, meth: str, *args: Py, **kwargs: Py) -> Call:
    return Call(Attr(x, meth), tuple(args), tuple(kwargs.items()))


def binop(op: str, a: Py, b: Py) -> BinOp:
    return BinOp(op, a, b)


def neg(x: Py) -> Unary:
    return Unary("-", x)


def signed_sum(terms: list[tuple[Py, bool]], in_order: bool = False) -> Py:
    """``a + b - c``: each term with whether it is subtracted, the added ones first (so a
    difference of dims prints ``N - K``, never ``N + -1 * K`` nor ``-K + N``), or
    ``in_order`` as given (a polynomial's terms by degree)."""
    ordered = terms if in_order else [t for t in terms if not t[1]] + [t for t in terms if t[1]]
    first, negative = ordered[0]
    out: Py = neg(first) if negative else first
    for x, negative in ordered[1:]:
        out = BinOp("-" if negative else "+", out, x)
    return out


def ints(values: Iterable[int]) -> Py:
    """An int, or a tuple of ints for several."""
    items = tuple(values)
    return num(items[0]) if len(items) == 1 else Tuple(tuple(num(v) for v in items))


def product(xs: list[Py], op: str = "*") -> Py:
    """``xs[0] op xs[1] op ...``, left to right."""
    out = xs[0]
    for x in xs[1:]:
        out = BinOp(op, out, x)
    return out


def split_sums(e: Py, target: str, limit: int,
               temporary: Callable[[], str]) -> list[tuple[str, Py]]:
    """``target = e`` as assignments ``(name, expr)``, none adding up more than ``limit``
    terms (the sum so far counts as one): a longer sum ``a + b - c + ...`` (a left spine of
    ``+`` and ``-``) is added up in runs, ``s = a + b``, ``s = s - c + ...``, into
    ``target`` itself when it is all of ``e``, else into a ``temporary()`` name that stands
    in its place.  The same additions in the same order: the values are the same bit for
    bit.  (CPython's compiler takes memory in proportion to one statement: a 512-term sum
    took 8 MiB.)"""
    out: list[tuple[str, Py]] = []
    whole = _runs(e, target, limit, temporary, out)
    if not (out and out[-1][0] == target and whole == Name(target)):
        out.append((target, whole))
    return out


def _runs(x: Py, into: str | None, limit: int, temporary: Callable[[], str],
          out: list[tuple[str, Py]]) -> Py:
    """``x`` with each sum of more than ``limit`` terms in it added up in runs (appended to
    ``out``) into ``into`` (for all of ``x``) or a temporary, and read from there.  (A
    function, not a closure calling itself: that would be a reference cycle per call.)"""
    terms = _spine(x)
    if len(terms) <= limit:
        return _children(x, lambda c: _runs(c, None, limit, temporary, out))
    acc = into or temporary()
    total: Py | None = None
    count = 0  # the terms in this run so far
    for op, term in terms:
        term = _runs(term, None, limit, temporary, out)
        if count == limit:  # this run is full: add it up, go on from it
            assert total is not None
            out.append((acc, total))
            total, count = Name(acc), 1
        total = term if total is None else BinOp(op, total, term)
        count += 1
    assert total is not None
    out.append((acc, total))
    return Name(acc)


def _spine(e: Py) -> list[tuple[str, Py]]:
    """The terms of a sum ``a + b - c``, each with the operator before it (the first's
    '+'), left to right; a single term for anything else."""
    tail: list[tuple[str, Py]] = []
    while isinstance(e, BinOp) and e.op in ("+", "-"):
        tail.append((e.op, e.right))
        e = e.left
    return [("+", e)] + tail[::-1]


def _children(e: Py, f: Callable[[Py], Py]) -> Py:
    """``e`` with ``f`` applied to each child expression (``e`` itself if none changed)."""
    def one(x: Any) -> Any:  # a child, a keyword argument (name, child), or a plain value
        if isinstance(x, Py):
            return f(x)
        if isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], Py):
            y = f(x[1])
            return x if y is x[1] else (x[0], y)
        return x
    changes: dict[str, Any] = {}
    for name in fields(e):
        v = getattr(e, name)
        new = tuple(one(x) for x in v) if isinstance(v, tuple) else one(v)
        if new is not v and (not isinstance(v, tuple) or
                             any(a is not b for a, b in zip(new, v))):
            changes[name] = new
    return replace(e, **changes) if changes else e


# -- the unparser -----------------------------------------------------------------------


def prec(e: Py) -> int:
    if isinstance(e, BinOp):
        return PREC[e.op]
    if isinstance(e, Unary):
        return PREC["unary"]
    if isinstance(e, Compare):
        return PREC["compare"]
    if isinstance(e, (Call, Attr, Subscript)):
        return PREC["primary"]
    return PREC["atom"]


def unparse(e: Py) -> str:
    """Python source for ``e``, with the brackets Python needs to read back ``e``."""
    return _UNPARSE[type(e)](e)


def _wrap(e: Py, needed: bool) -> str:
    s = unparse(e)
    return f"({s})" if needed else s


def _binop(e: BinOp) -> str:
    if e.op == "**":  # right-associative; a unary minus may stand on its right
        p = PREC[e.op]
        left = _wrap(e.left, prec(e.left) <= p)
        right = _wrap(e.right, prec(e.right) < PREC["unary"])
        return f"{left} {e.op} {right}"
    # left-associative: a sum of n terms is a left spine n deep (an input feeding n
    # branches), so the spine is walked in a loop, not by recursion (n = 512 overflowed)
    tails: list[str] = []
    cur: Py = e
    while isinstance(cur, BinOp) and cur.op != "**":
        p = PREC[cur.op]
        tails.append(f" {cur.op} {_wrap(cur.right, prec(cur.right) <= p)}")
        if prec(cur.left) < p:
            return f"({unparse(cur.left)})" + "".join(reversed(tails))
        cur = cur.left
    return unparse(cur) + "".join(reversed(tails))


def _unary(e: Unary) -> str:
    # '- -x' is legal Python but reads badly; a nested unary minus gets brackets too
    return f"{e.op}{_wrap(e.x, prec(e.x) <= PREC['unary'])}"


def _compare(e: Compare) -> str:
    p = PREC["compare"]
    return f"{_wrap(e.left, prec(e.left) <= p)} {e.op} {_wrap(e.right, prec(e.right) <= p)}"


def _primary_base(x: Py) -> str:
    # '2.T' does not parse: a number literal before '.' or '[' needs brackets too
    return _wrap(x, prec(x) < PREC["primary"] or isinstance(x, Num))


def _call(e: Call) -> str:
    parts = [unparse(a) for a in e.args] + [f"{k}={unparse(v)}" for k, v in e.kwargs]
    return f"{_primary_base(e.func)}({', '.join(parts)})"


def _attr(e: Attr) -> str:
    return f"{_primary_base(e.x)}.{e.name}"


def _subscript(e: Subscript) -> str:
    return f"{_primary_base(e.x)}[{', '.join(unparse(i) for i in e.index)}]"


def _num(e: Num) -> str:
    v = e.value
    if isinstance(v, Fraction):
        v = int(v) if v.denominator == 1 else float(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return f"{v:.1f}"
    return repr(v)


def _tuple(e: Tuple) -> str:
    items = [unparse(i) for i in e.items]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


# Each function takes an instance of its key's class: a dict's value type cannot depend on
# the key, hence Any for the argument.
_UNPARSE: dict[type[Py], Callable[[Any], str]] = {
    Name: lambda e: e.id,
    Num: _num,
    Str: lambda e: repr(e.value),
    Tuple: _tuple,
    BinOp: _binop,
    Unary: _unary,
    Compare: _compare,
    Call: _call,
    Attr: _attr,
    Subscript: _subscript,
    Slice: lambda e: ":".join("" if b is None else unparse(b) for b in (e.lo, e.hi)),
}
