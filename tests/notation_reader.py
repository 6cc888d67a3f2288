"""A reader of the plain-text notation einderive prints, evaluated with NumPy.

Written from the notation's documented meaning (README, "Reading the output"), not from
einderive's printers, so that it is an independent check of what a person reads:

- Vectors are columns; a row is a transposed column; ``𝟏`` is a vector or matrix of ones.
- ``⊙`` and ``⊘`` are elementwise; with ``+`` and ``−`` they broadcast as NumPy does.
  Juxtaposition is the matrix product (or a product by a scalar); ``·`` is a product by a scalar.
- ``rowsum(X) = X 𝟏`` (a column), ``colsum(X) = Xᵀ 𝟏`` (a column), ``sum(X)`` the total.
- A tensor of three or more axes is a batch of matrices, its last two axes (README, "Batched
  forms"): a product of such tensors is NumPy's ``@`` (the matrix product of each element), ``ᵀ``
  swaps the last two axes, rowsum and colsum sum each element's rows or columns.
- ``Σ_b X_bᵀ ∂L/∂Y_b`` in a matrix form (README, "Batched forms"): a name subscripted with
  the Σ's letters alone, of two axes more than it has letters, is the matrix of one batch
  element; the sum adds each element's matrix over the batch (its leading axes).  A name
  with a subscript of its own is bracketed there, ``(x_seq)_b``, and reads as ``x_seq,b``.
  A bracketed expression so subscripted, ``(σ(x W2))_b``, is that element of the whole
  expression's value (on the axis of b's dim); a where-helper whose names carry a batch
  letter, ``σ'(W2ᵀ x_b) = (σ(x W2))_b ⊙ …``, holds for every element b.
- Index form: each dim has its own letter; a primed letter (``j′``) runs over the same dim.
  Einstein's convention: an index repeated on the right-hand side and absent from the left is
  summed; other sums are written with ``Σ``.  ``δ_ik`` is Kronecker's delta.
- ``σ'(z)`` is the derivative of the logistic function at ``z``; ``𝟙[a > b]`` is 1 where
  ``a > b``, else 0; ``x^∘p`` is an elementwise power, a superscript (``x²``) a power.
- An element at computed indices, ``X_{i, j·Dh + k}``, ``G_{i, ⌊l/Dh⌋, l mod Dh}``: the
  indices separated by commas, each a sum of products of letters and dim sizes, a floor
  division ⌊a/b⌋ or a remainder ``a mod b``; ``reshape(X, [T, D])`` is NumPy's (row-major).
- Slicing (README, "Slicing"): an element at a shifted index, ``a_{k − K, i}``, is the element
  there; outside the tensor's axis it is no number at all, so the reader reads a junk value
  that only a range factor ``𝟙[K ≤ k < N]`` (0 there) cancels: a dropped range is caught.  A
  letter of a narrower dim reads the first elements of an axis (``∂L/∂c_ij``, j over a
  piece's dim).  ``slice(x, :, lo:hi)`` is NumPy's ``x[:, lo:hi]``; ``pad(G, lo:hi, axis=k)``
  is G placed at lo … hi − 1 of axis k of zeros, that axis as long as the left-hand side's.

:func:`read` parses one printed line (``lhs = rhs``); :class:`Env` holds what the names mean
(the forward values and the adjoints of every tensor) and evaluates it in index or matrix form.
Anything the reader cannot read is a :class:`ReaderError`: an unreadable printed line is a
failure of the printed text, not of the reader's patience.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np


class ReaderError(Exception):
    pass


class Unsized(ReaderError):
    """A 𝟏 whose size nothing beside it gives (yet): a sum's other terms may (README: ``𝟏``
    is sized by what it meets)."""


# what an element outside its tensor's axis reads as (module docstring): far from any value,
# yet finite under exp (exp(Y_{i, m − T, l}) 𝟙[T ≤ m < T + U] was inf · 0, NaN)
OUTSIDE = 77.7


# ---------------------------------------------------------------------------------------------
# Tokens

SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ", "0123456789-/"))
PRIME = "′"
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<adj>∂(?P<loss>{W}{C}*)/∂(?P<adjname>{W}{C}*(?:,{C}+)?))
  | (?P<sum>Σ_(?P<sumidx>{C}+))
  | (?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][−-]?[0-9]+)?)
  | (?P<str>'[^']*')
  | (?P<sub>(?<=[)‖])_{C}+)
  | (?P<subat>(?<=[)‖])_(?:\{[^{}]*\}|\([^()]*\)))
  | (?P<braced>(?<=_)\{[^{}]*\})
  | (?P<picked>(?<=_)\([^()]*\))
  | (?P<name>{W}{C}*'?(?:,{C}+)?)
  | (?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ]+)
  | (?P<hpow>\^∘)
  | (?P<op>‖_F|[-+−⊙⊘·/()\[\],<>≤≥|ᵀ√𝟏𝟙=\]‖:⋆∗])
""".replace("{W}", r"(?:(?![ᵀ⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ_])[^\W\d])")
     .replace("{C}", r"(?:(?![ᵀ⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ])[\w′\u0300-\u036f])"), re.VERBOSE)


class Tok:
    def __init__(self, kind, text, space_before, **kw):
        self.kind, self.text, self.space = kind, text, space_before
        self.__dict__.update(kw)

    def __repr__(self):
        return f"{self.kind}:{self.text}"


def tokenize(text: str) -> list[Tok]:
    out, pos, space = [], 0, False
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ReaderError(f"cannot read {text[pos:pos + 12]!r} in {text!r}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup not in ("loss", "adjname", "sumidx") else None
        for k in ("ws", "adj", "sum", "num", "str", "name", "sub", "subat", "braced", "picked",
                  "sup", "hpow", "op"):
            if m.group(k) is not None:
                kind = k
                break
        if kind == "ws":
            space = True
            continue
        if kind in ("sub", "subat") and (not out or out[-1].text not in (")", "‖") or space):
            raise ReaderError(f"a subscript {m.group(0)!r} that follows no bracket in {text!r}")
        tok = Tok(kind, m.group(0), space)
        if kind == "adj":
            tok.loss, tok.name = m.group("loss"), m.group("adjname")
        if kind == "sum":
            tok.name = m.group("sumidx")
        out.append(tok)
        space = False
    return out


# ---------------------------------------------------------------------------------------------
# Syntax tree: tuples (kind, ...)

FUNCTIONS = {"σ", "σ'", "tanh", "exp", "log", "relu", "softplus", "gelu", "silu", "Φ", "φ",
             "softmax", "logsumexp", "log_softmax", "rowsum", "colsum", "sum", "diag", "einsum",
             "grad", "sign", "sin", "cos", "log1p", "expm1", "erf", "erf'", "square", "maximum",
             "minimum", "clip", "leaky_relu", "elu", "where", "max", "min", "det", "logdet",
             "reshape", "tr", "diagonal", "slice", "pad", "take", "stack", "permute",
             "conv1d", "conv2d", "onehot"}
COMPARISONS = (">", "<", "≥", "≤", "=")
# the functions whose value has another shape than their argument (read with no left side)
REDUCING = ("rowsum", "colsum", "sum", "det", "logdet", "tr", "diag", "diagonal", "logsumexp",
            "max", "min")


class Parser:
    def __init__(self, toks: list[Tok], text: str):
        self.toks, self.pos, self.text = toks, 0, text
        self.bars = 0  # depth inside |…|, where a '|' closes
        self.in_norm = 0  # inside ‖…‖ a ‖ closes (norms do not nest in the notation)
        self.in_iverson = 0  # inside 𝟙[…] 'mod' is the remainder: 𝟙[2 ≤ l mod D < 4]

    def peek(self, k=0):
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def at(self, *texts):
        t = self.peek()
        return t is not None and t.kind == "op" and t.text in texts

    def take(self, text=None):
        t = self.peek()
        if t is None or (text is not None and t.text != text):
            raise ReaderError(f"expected {text!r} at {self._where()} in {self.text!r}")
        self.pos += 1
        return t

    def at_next(self, text):
        t = self.peek(1)
        return t is not None and t.text == text

    def _where(self):
        t = self.peek()
        return repr(t.text) if t else "the end"

    # expr := ['−'] product (('+'|'−') product)*
    def expr(self):
        terms = [self.signed()]
        while self.at("+", "−", "-"):
            op = self.take().text
            t = self.signed()
            terms.append(("neg", t) if op != "+" else t)
        return terms[0] if len(terms) == 1 else ("add", terms)

    def signed(self):
        if self.at("−", "-"):
            self.take()
            return ("neg", self.signed())
        return self.product()

    STOP = {"+", "−", "-", ")", "]", ",", ">", "<", "≥", "≤", "=", ":"}

    def product(self):
        items = [("", self.power())]  # (operator, operand); '' is juxtaposition
        while True:
            t = self.peek()
            if t is None or (t.kind == "op" and t.text in self.STOP) or \
                    (t.kind == "op" and t.text == "|" and self.bars):
                break
            if self.in_norm and t.kind == "op" and t.text in ("‖", "‖_F"):
                break
            if t.kind == "op" and t.text in ("⊙", "⊘", "·", "/", "⋆", "∗") or \
                    (self.in_iverson and t.kind == "name" and t.text == "mod"):
                self.take()
                items.append((t.text, self.power()))
            else:
                items.append(("", self.power()))
        # Σ binds the rest of its product (the innermost Σ first)
        for n in reversed(range(len(items))):
            op, f = items[n]
            if f[0] == "sigma" and f[2] is None:
                rest = items[n + 1:]
                if not rest:
                    raise ReaderError(f"a Σ with nothing to sum in {self.text!r}")
                items = items[:n] + [(op, ("sigma", f[1], self._chain(rest)))]
        return self._chain(items)

    @staticmethod
    def _chain(items):
        if len(items) == 1 and items[0][0] == "":
            return items[0][1]
        return ("prod", items)

    def power(self):
        x = self.postfix(self.atom())
        return x

    def postfix(self, x):
        while True:
            t = self.peek()
            if t is None:
                return x
            if t.kind == "op" and t.text == "ᵀ":
                self.take()
                x = ("T", x)
            elif t.kind == "sup" and t.text == "⁻" and self.at_next("ᵀ"):
                self.take()
                self.take("ᵀ")
                x = ("T", ("pow", x, Fraction(-1), False))  # A⁻ᵀ: README, (A⁻¹)ᵀ
            elif t.kind == "sup":
                self.take()
                x = ("pow", x, _superscript(t.text), False)
            elif t.kind == "hpow":
                self.take()
                if self.at("("):
                    self.take()
                    p = self.expr()
                    self.take(")")
                    x = ("hpow", x, p)
                else:
                    neg = self.at("−", "-") and bool(self.take())
                    n = self.take()
                    if n.kind != "num":
                        raise ReaderError(f"^∘ without a number in {self.text!r}")
                    v = ("num", _number(n.text))
                    x = ("hpow", x, ("neg", v) if neg else v)
            elif t.kind == "sub" and x[0] == "paren" and x[1][0] == "name" and \
                    "_" in x[1][1].strip("_"):  # (x_seq)_b: the element b of x_seq
                self.take()
                x = ("name", f"{x[1][1]},{t.text[1:]}")
            elif t.kind == "sub":
                self.take()
                x = ("sub", x, _indices(t.text[1:], self.text))
            elif t.kind == "subat":  # softmax(S, axis=0)_{0, i, j}: at a stacked position
                self.take()
                x = ("subat", x, _index_exprs(t.text[2:-1], self.text))
            elif t.kind in ("braced", "picked") and not t.space and x[0] in ("name", "adj") \
                    and x[-1].endswith("_"):  # X_{i, j·Dh + k}: an element at computed
                # indices; E_(tokens_i,k): at an integer input's element (README, Indexing)
                self.take()
                x = ("mapel", x[:-1] + (x[-1][:-1],), _index_exprs(t.text[1:-1], self.text))
            else:
                return x

    def atom(self):
        t = self.peek()
        if t is None:
            raise ReaderError(f"unexpected end of {self.text!r}")
        if t.kind == "num":
            self.take()
            return ("num", _number(t.text))
        if t.kind == "adj":
            self.take()
            return ("adj", t.loss, t.name)
        if t.kind == "sum":
            self.take()
            return ("sigma", _indices(t.name, self.text), None)
        if t.kind == "str":
            raise ReaderError(f"a string outside einsum in {self.text!r}")
        if t.kind == "name":
            self.take()
            nxt = self.peek()
            if t.text in FUNCTIONS and nxt is not None and nxt.text == "(" and not nxt.space:
                return self.call(t.text)
            return ("name", t.text)
        if t.kind == "op":
            if t.text == "(":
                self.take()
                e = self.expr()
                self.take(")")
                return ("paren", e)
            if t.text == "√":
                self.take()
                return ("fn", "√", self.atom())
            if t.text == "‖":  # ‖x‖ (a vector) or ‖X‖_F (a matrix): √ of the sum of squares
                self.take()
                self.in_norm += 1
                x = ("paren", self.expr())
                self.in_norm -= 1
                if not (self.at("‖") or self.at("‖_F")):
                    raise ReaderError(f"an unclosed ‖ in {self.text!r}")
                self.take()
                squares = ("prod", [("", x), ("⊙", x)])
                return ("fn", "√", ("call", "sum", [squares], {}))
            if t.text == "𝟏":
                self.take()
                return ("ones",)
            if t.text == "|":  # |x|, the absolute value
                self.take()
                self.bars += 1
                e = self.expr()
                self.take("|")
                self.bars -= 1
                return ("fn", "abs", e)
            if t.text == "𝟙":  # 𝟙[a > b], 𝟙[a ≤ b ≤ c]: 1 where the comparisons hold
                self.take()
                self.take("[")
                self.in_iverson += 1
                args, ops = self.comparison()
                self.in_iverson -= 1
                self.take("]")
                if ops == [">"]:
                    return ("step", *args)
                return ("fnn", "𝟙" + "".join(ops), args)
        raise ReaderError(f"unexpected {t.text!r} in {self.text!r}")

    def comparison(self):
        """``a > b`` or a chain ``a ≤ b ≤ c``: (operands, operators)."""
        args, ops = [self.expr()], []
        while self.at(*COMPARISONS):
            ops.append(self.take().text)
            args.append(self.expr())
        if not ops:
            raise ReaderError(f"expected a comparison at {self._where()} in {self.text!r}")
        return args, ops

    def keyword_value(self):
        """A keyword argument's value: an integer, a tuple of them (axis=(0, 2)), True."""
        if self.at("("):
            self.take()
            items = [self.keyword_value()]
            while self.at(","):
                self.take()
                items.append(self.keyword_value())
            self.take(")")
            return tuple(items)
        neg = self.at("−", "-") and bool(self.take())
        n = self.take()
        if n.text in ("True", "False"):
            return n.text == "True"
        return -int(n.text) if neg else int(n.text)

    def call(self, fn):
        if fn == "where":  # where(c > d, a, b)
            self.take("(")
            (c, d), ops = self.comparison()
            self.take(",")
            a = self.expr()
            self.take(",")
            b = self.expr()
            self.take(")")
            return ("fnn", "where" + ops[0], [c, d, a, b])
        self.take("(")
        args, kwargs = [], {}
        while True:
            t = self.peek()
            if t is not None and t.kind == "str":
                self.take()
                args.append(("str", t.text[1:-1]))
            elif self.at("(") and fn == "permute" and args:  # permute(Q, (0, 2, 1, 3)): the
                # axes, its second argument (the first may open with one: permute((1/√2) …))
                self.take()
                axes = [int(self.take().text)]
                while self.at(","):
                    self.take()
                    axes.append(int(self.take().text))
                self.take(")")
                args.append(("axes", tuple(axes)))
            elif self.at("[") and fn == "stack":  # stack([a, b], axis=1): a list of pieces
                self.take()
                items = [self.expr()]
                while self.at(","):
                    self.take()
                    items.append(self.expr())
                self.take("]")
                args.append(("list", items))
            elif self.at("["):  # reshape(x, [T, D]): a list of dims
                self.take()
                names = [self.take().text]
                while self.at(","):
                    self.take()
                    names.append(self.take().text)
                self.take("]")
                args.append(("dims", tuple(names)))
            elif self.at(":"):  # slice(x, :, K:N): an axis taken whole
                self.take()
                args.append(("all",))
            elif t is not None and t.kind == "name" and self.peek(1) is not None and \
                    self.peek(1).text == "=":
                self.take()
                self.take("=")
                kwargs[t.text] = self.keyword_value()
            else:
                args.append(self.expr())
                if self.at(":"):  # lo:hi, a range of one axis
                    self.take()
                    args[-1] = ("range", args[-1], self.expr())
            if self.at(","):
                self.take()
                continue
            self.take(")")
            break
        if fn in ("σ", "σ'", "tanh", "exp", "log", "relu", "softplus", "gelu", "silu", "Φ",
                  "φ"):
            if len(args) != 1 or kwargs:
                raise ReaderError(f"{fn} takes one argument in {self.text!r}")
            return ("fn", fn, args[0])
        if fn in SCALAR_FUNCTIONS and len(args) == 1 and not kwargs:
            return ("fn", fn, args[0])
        if fn in ELEMENTWISE:
            return ("fnn", fn, args)
        return ("call", fn, args, kwargs)


def _index_exprs(s: str, text: str) -> tuple:
    """``i, j·Dh + k`` -> one tree per index: ('idx', label), ('dim', name), ('add', [...]),
    ('mul', [...]), ('floordiv', a, [sizes]), ('mod', a, size), ('pick', name, letters),
    ('pickat', name, trees): an integer input's element at computed indices,
    ``tok_{i, ⌊k/D⌋}``.  Commas inside braces separate the braces' own indices."""
    parts, depth, start = [], 0, 0
    for n, ch in enumerate(s):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(s[start:n])
            start = n + 1
    parts.append(s[start:])
    return tuple(_index_expr(part.strip(), text) for part in parts)


def _top(s: str, seps: tuple[str, ...]) -> list[str]:
    """``s`` split at each of ``seps`` outside brackets (( ), { }, ⌊ ⌋), each separator kept
    between the parts it splits: ``p·R + (l mod R)`` at " + " is ['p·R', ' + ', '(l mod R)']."""
    out, depth, start, n = [], 0, 0, 0
    while n < len(s):
        depth += {"(": 1, "{": 1, "⌊": 1, ")": -1, "}": -1, "⌋": -1}.get(s[n], 0)
        sep = next((x for x in seps if depth == 0 and s.startswith(x, n)), None)
        if sep is None:
            n += 1
            continue
        out += [s[start:n], sep]
        n += len(sep)
        start = n
    return out + [s[start:]]


def _index_expr(s: str, text: str):
    if s.startswith("{") and s.endswith("}") and "{" not in s[1:-1]:  # {k mod D}: one index
        return _index_expr(s[1:-1].strip(), text)
    if s.startswith("(") and s.endswith(")") and len(_top(s[:-1], (")",))) == 1:
        return _index_expr(s[1:-1].strip(), text)  # (l mod R), (i·T1 + j): one index
    picked = re.fullmatch(r"(\w+?)_\{(.*)\}", s)
    if picked and not s.startswith("_"):  # tok_{i, ⌊k/D⌋}: at computed indices
        return ("pickat", picked.group(1), _index_exprs(picked.group(2), text))
    parts = _top(s, (" mod ",))
    if len(parts) > 1:  # the remainder binds loosest: a sum beside it is in parentheses
        return ("mod", _index_expr("".join(parts[:-2]), text), parts[-1].strip())
    parts = _top(s, (" + ", " − "))
    if len(parts) > 1:  # k + K, k − K: a shifted index
        terms = [_index_expr(parts[0].strip(), text)]
        for op, part in zip(parts[1::2], parts[2::2]):
            x = _index_expr(part.strip(), text)
            terms.append(("neg", x) if op == " − " else x)
        return ("add", terms)
    if s.startswith("⌊") and s.endswith("⌋") and len(_top(s[:-1], ("⌋",))) == 1:
        a, _, b = _top(s[1:-1], ("/",))
        b = b.strip()
        if b.startswith("(") and b.endswith(")"):  # ⌊l/(R·Dh)⌋: a product divisor
            b = b[1:-1]
        elif "·" in b:  # ⌊l/R·Dh⌋ reads (l/R)·Dh to a person: never printed
            raise ReaderError(f"a product divisor without parentheses in {text!r}")
        return ("floordiv", _index_expr(a.strip(), text), b.split("·"))
    parts = _top(s, ("·",))
    if len(parts) > 1:
        return ("mul", [_index_expr(p, text) for p in parts[::2]])
    if s.isdigit():  # a position of an axis: S_{i, 0} (a stacked piece's)
        return ("const", int(s))
    picked = re.fullmatch(r"(\w+?)(?:_|,)([a-z′]+)", s)
    if picked and not s.startswith("_"):  # tokens_i (y_true,i): an integer input's element
        return ("pick", picked.group(1), _indices(picked.group(2), text))
    if s and s[0].islower() and all(c == PRIME for c in s[1:]):
        return ("idx", s)
    if s.isidentifier():
        return ("dim", s)
    raise ReaderError(f"cannot read the index {s!r} in {text!r}")


def _index_labels(tree, out):
    """The letters an index tree reads, each once per time it is written."""
    if tree[0] == "idx":
        out.append(tree[1])
    elif tree[0] == "pick":
        out.extend(tree[2])
    elif tree[0] == "pickat":
        for x in tree[2]:
            _index_labels(x, out)
    elif tree[0] in ("add", "mul"):
        for x in tree[1]:
            _index_labels(x, out)
    elif tree[0] in ("floordiv", "mod", "neg"):
        _index_labels(tree[1], out)
    return out


def _superscript(s: str) -> Fraction:
    return Fraction("".join(SUPERSCRIPTS[c] for c in s))


def _number(s: str) -> Fraction:
    return Fraction(s.replace("−", "-"))


def _indices(s: str, text: str) -> tuple:
    """``ijj′`` -> ('i', 'j', 'j′'): each letter with its primes."""
    out = []
    for ch in s:
        if ch == PRIME:
            if not out:
                raise ReaderError(f"a prime with no index in {text!r}")
            out[-1] += ch
        elif ch.isalpha() and ch.islower():
            out.append(ch)
        else:
            raise ReaderError(f"{s!r} is not a list of indices in {text!r}")
    return tuple(out)


def read(line: str):
    """``(lhs tree, rhs tree)`` of one printed equation ``lhs = rhs``."""
    lhs, sep, rhs = line.partition(" = ")
    if not sep:
        raise ReaderError(f"no ' = ' in {line!r}")
    return _parse(lhs), _parse(rhs)


def _parse(text: str):
    p = Parser(tokenize(text), text)
    e = p.expr()
    if p.peek() is not None:
        raise ReaderError(f"unexpected {p.peek().text!r} in {text!r}")
    return e


# ---------------------------------------------------------------------------------------------
# Scalar functions, from their definitions

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[float])
SCALAR_FUNCTIONS = {
    "σ": _sigmoid,
    "σ'": lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
    "tanh": np.tanh, "exp": np.exp, "log": np.log, "√": np.sqrt,
    "relu": lambda x: np.maximum(x, 0.0),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "Φ": lambda x: 0.5 * (1.0 + _erf(np.asarray(x, dtype=float) / math.sqrt(2.0))),
    "φ": lambda x: np.exp(-0.5 * np.asarray(x) ** 2) / math.sqrt(2.0 * math.pi),
}
SCALAR_FUNCTIONS["gelu"] = lambda x: x * SCALAR_FUNCTIONS["Φ"](x)
SCALAR_FUNCTIONS["silu"] = lambda x: x * _sigmoid(x)
SCALAR_FUNCTIONS.update({
    "abs": np.abs, "sign": np.sign, "sin": np.sin, "cos": np.cos, "log1p": np.log1p,
    "expm1": np.expm1, "erf": _erf, "square": np.square,
    "erf'": lambda x: 2.0 / math.sqrt(math.pi) * np.exp(-np.asarray(x) ** 2),
})

_COMPARE = {">": np.greater, "<": np.less, "≥": np.greater_equal, "≤": np.less_equal,
            "=": np.equal}


def _iverson(ops):
    def f(*xs):
        out = np.ones(np.broadcast_shapes(*[np.shape(x) for x in xs]))
        for op, a, b in zip(ops, xs, xs[1:]):
            out = out * _COMPARE[op](a, b)
        return out
    return f


# elementwise functions of several arguments (numbers among them), broadcast together
ELEMENTWISE = {
    "maximum": np.maximum, "minimum": np.minimum, "clip": np.clip,
    "leaky_relu": lambda x, a: np.where(x > 0, x, a * x),
    "elu": lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0))),
    **{"where" + op: (lambda f: lambda c, d, a, b: np.where(f(c, d), a, b))(f)
       for op, f in _COMPARE.items()},
    **{"𝟙" + op: _iverson([op]) for op in _COMPARE},
    **{"𝟙" + a + b: _iverson([a, b]) for a in _COMPARE for b in _COMPARE},
}


def _softmax(x, axis):
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def _logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)), axis=axis)


# ---------------------------------------------------------------------------------------------
# The environment: names, dims, values


class _Sizes(dict):
    """The dims' sizes by name; a number written where a dim stands (reshape(G, [N, 2, M]),
    ⌊m/2⌋, m mod 2: a stack's count) is its own size."""

    def __missing__(self, key):
        if isinstance(key, str) and key.isdigit():
            return int(key)
        raise KeyError(key)


class Env:
    """What the names mean.

    ``shapes``: tensor name -> shape (dim names, or the literal 1); ``dims``: dim names in the
    spec's order with their sizes; ``values``: tensor name -> forward value; ``adjoints``:
    tensor name -> reference adjoint (same shape as the tensor); ``loss``: the loss's name;
    ``integers``: an integer input's name -> the dim its values count (the spec's
    ``integer: V``: tokens 0 … V − 1), which sizes ``onehot(tokens)``.
    """

    LETTERS = "ijklmnpqrstuvwabcdefghoxyz"  # the engine's order (indexed.LETTERS): o late

    def __init__(self, shapes: dict, dims: dict, values: dict, adjoints: dict, loss: str,
                 integers: dict | None = None):
        self.shapes, self.dims, self.values, self.adjoints, self.loss = \
            shapes, _Sizes(dims), values, adjoints, loss
        self.integers = dict(integers or {})
        # README: each dim has its own letter, in the order of dims, skipping any letter that
        # is also a tensor's or a dim's name
        free = [c for c in self.LETTERS if c not in shapes and c not in self.dims]
        self.letter_dim = dict(zip(free, self.dims))

    # -- names ------------------------------------------------------------------------------

    def split(self, token: str):
        """A printed name token -> (tensor, indices): ``W1_kj``, ``y_true,i``, ``x``, ``X̂_ij``
        (an accented name, README: ``Xhat`` is printed X̂)."""
        from einderive.render.names import text_accented
        for name in self.shapes:
            shown = text_accented(name)
            if shown != name and (token == shown or token.startswith((shown + "_", shown + ","))):
                rest = token[len(shown):]
                if rest:  # its indices, joined as the identifier would join them
                    rest = ("," if "_" in name else "_") + rest[1:]
                token = name + rest
                break
        if "," in token:
            name, _, idx = token.partition(",")
            if name not in self.shapes:
                raise ReaderError(f"unknown tensor {name!r}")
            return name, _indices(idx, token)
        if token in self.shapes or token in self.dims or token == "δ":
            return token, ()
        for n, ch in enumerate(token):
            if ch == "_" and token[:n] in self.shapes | {"δ": 0}:
                return token[:n], _indices(token[n + 1:], token)
        raise ReaderError(f"unknown name {token!r}")

    def size(self, label: str) -> int:
        letter = label.rstrip(PRIME)
        if letter not in self.letter_dim:
            raise ReaderError(f"index {label!r} is no dim's letter")
        return self.dims[self.letter_dim[letter]]

    def tensor(self, name: str, adjoint: bool) -> np.ndarray:
        if adjoint:
            v = self.adjoints.get(name)
            if v is None:
                raise ReaderError(f"no reference adjoint of {name!r}")
            return np.asarray(v, dtype=float)
        if name not in self.values:
            raise ReaderError(f"unknown tensor {name!r}")
        return np.asarray(self.values[name], dtype=float)

    def picks(self, name: str) -> np.ndarray:
        """The values of an integer input (token ids, labels), as indices."""
        if name not in self.integers:
            raise ReaderError(f"{name!r} is no integer input: it picks no element")
        shp = tuple(d if isinstance(d, int) else self.dims[d] for d in self.shapes[name])
        return np.asarray(self.values[name]).astype(int).reshape(shp)

    def onehot(self, name: str) -> np.ndarray:
        """README: ``onehot(tokens)``, row t the unit vector of tokens_t (a batch of such
        matrices for tokens of two axes)."""
        return np.eye(self.dims[self.integers[name]])[self.picks(name)] \
            if name in self.integers else self.picks(name)

    def matrix_shape(self, name: str) -> tuple:
        """A tensor's shape as a matrix: a vector is a column."""
        shp = tuple(d if isinstance(d, int) else self.dims[d] for d in self.shapes[name])
        return (shp[0], 1) if len(shp) == 1 else shp

    def index_dims(self, name: str) -> list:
        """The dims a tensor's indices run over: its shape without the literal-1 axes."""
        return [d for d in self.shapes[name] if d != 1]

    # -- a whole line ------------------------------------------------------------------------

    def check(self, line: str, want_name: str | None = None, rtol: float = 1e-7) -> str:
        """Read ``line``, evaluate both sides, raise ReaderError unless they agree.  Returns the
        mode used ('index' or 'matrix')."""
        lhs, rhs = read(line)
        helper = _helper_letters(self, lhs)
        if helper:
            return self.check_helper_elements(lhs, rhs, helper, line, rtol)
        each = _element_line(self, lhs)
        if each is not None and not _has_indices(self, rhs, each[1]):
            return self.check_elements(lhs, rhs, each, want_name, line, rtol)
        if lhs[0] == "sub" and lhs[1][0] == "paren":  # (grad(gamma))_l, as MathML groups it
            lhs = ("sub", lhs[1][1], *lhs[2:])
        mode = "index" if _has_indices(self, lhs) or _has_indices(self, rhs) else "matrix"
        target, labels, name = self.lhs(lhs, mode)
        if want_name is not None and name != want_name:
            raise ReaderError(f"{line!r} is not about {want_name!r}")
        if mode == "index":
            got = IndexEval(self, labels).top(rhs)
        else:
            ev = MatrixEval(self, np.shape(target))
            got = ev.final(ev.ev(rhs), np.shape(target))
        close(got, target, line, rtol)
        return mode

    def check_elements(self, lhs, rhs, each, want_name, line, rtol) -> str:
        """README: a line subscripted by h holds for every element h: both sides read on
        every element at once (the batch axes first), NumPy's batched @ and ᵀ."""
        name, letters = each
        if lhs[0] == "sub" and lhs[1][0] == "paren":
            lhs = ("sub", lhs[1][1], *lhs[2:])
        if want_name is not None and name != want_name:
            raise ReaderError(f"{line!r} is not about {want_name!r}")
        adjoint = lhs[0] != "name"
        if lhs[0] == "adj" and lhs[1] != self.loss:
            raise ReaderError(f"an adjoint of {lhs[1]!r}, not of the loss {self.loss!r}")
        target = _element_array(self, name, letters, self.tensor(name, adjoint))
        ev = MatrixEval(self)
        ev.batch = letters
        x = ev.ev(rhs)
        got = x.v
        if x.is_eye and target.ndim >= 2 and target.shape[-1] == target.shape[-2]:
            got = got * np.eye(target.shape[-1])  # (2 t_b·𝐈: 𝐈 of the element's size)
        if got.shape != target.shape and (x.ones or x.is_ones or _is_constant(got)):
            got = np.broadcast_to(got, target.shape)
        close(got, target, line, rtol)
        return "matrix"

    def check_helper_elements(self, lhs, rhs, letters, line, rtol) -> str:
        """README: a where-helper of a form written per element (or inside Σ_b), σ'(W2ᵀ x_b)
        = (σ(x W2))_b ⊙ …, holds for every element b: both sides read on every element at
        once, as the form's own line."""
        ev = MatrixEval(self)
        ev.batch = letters
        target = SCALAR_FUNCTIONS["σ'"](ev.ev(lhs[2]).v)
        got = ev.ev(rhs).v
        if got.shape != target.shape:
            raise ReaderError(f"{line!r}: the sides' shapes {got.shape} and {target.shape} "
                              f"differ")
        close(got, target, line, rtol)
        return "matrix"

    def lhs(self, tree, mode):
        """The value the left-hand side names, its index labels, and its tensor name."""
        kind = tree[0]
        if kind == "adj":
            if tree[1] != self.loss:
                raise ReaderError(f"an adjoint of {tree[1]!r}, not of the loss {self.loss!r}")
            name, idx = self.split(tree[2])
            value = self.tensor(name, True)
        elif kind == "name":
            name, idx = self.split(tree[1])
            value = self.tensor(name, False)
        elif kind == "call" and tree[1] == "grad" and len(tree[2]) == 1 and \
                tree[2][0][0] == "name":
            name, idx = self.split(tree[2][0][1])
            value = self.tensor(name, True)
        elif kind == "sub" and tree[1][0] == "call" and tree[1][1] == "grad" and \
                len(tree[1][2]) == 1 and tree[1][2][0][0] == "name":
            # grad(W)_ljk = …: a gradient in index form (one with no matrix form)
            name, idx = self.split(tree[1][2][0][1])[0], tuple(tree[2])
            value = self.tensor(name, True)
        elif kind == "fn" and tree[1] == "σ'":  # a where-helper: σ'(expr) = ...
            if mode == "index":
                raise ReaderError("a σ' helper in index form")
            ev = MatrixEval(self)
            x = ev.ev(tree[2])
            return SCALAR_FUNCTIONS["σ'"](x.v), (), None
        else:
            raise ReaderError(f"cannot read the left-hand side {tree!r}")
        if mode == "index":
            dims = self.index_dims(name)
            if idx and len(idx) != len(dims):
                raise ReaderError(f"{name} has {len(dims)} indices, not {len(idx)}")
            if not idx and dims:
                raise ReaderError(f"the left-hand side names {name} without its indices "
                                  f"but the right-hand side is in index form")
            for lab, d in zip(idx, dims):
                if self.letter_dim.get(lab.rstrip(PRIME)) != d:
                    raise ReaderError(f"index {lab!r} of {name} does not run over {d}")
            return value.reshape([self.dims[d] for d in dims]), idx, name
        if idx:
            raise ReaderError(f"indices on the left of a matrix form: {tree!r}")
        return value.reshape(self.matrix_shape(name)), (), name


def _has_indices(env: Env, tree, batch: tuple = ()) -> bool:
    """Whether ``tree`` is in index form (``batch``: the letters of the batch sums around it,
    whose elements' matrices X_b are no index form)."""
    if not isinstance(tree, tuple):
        return False
    kind = tree[0]
    if kind == "sigma":  # (inside each element b, g: Σ_r A_bgrᵀ ∂L/∂O_bgr, its letters b, g, r)
        found = _batch_sum(env, tree, batch)
        return True if found is None else _has_indices(env, found[1], batch + found[0])
    if kind in ("sub", "subat", "mapel"):
        return True
    if kind == "name":
        if tree[1] == "𝐈":
            return False
        if tree[1] == "δ":
            return True
        name, idx = env.split(tree[1])
        return bool(idx) and not _element(env, name, idx, batch)
    if kind == "adj":
        name, idx = env.split(tree[2])
        return bool(idx) and not _element(env, name, idx, batch)
    return any(_has_indices(env, x, batch) for x in _children(tree))


def _element(env: Env, name: str, idx: tuple, batch: tuple) -> bool:
    """``X_b``: a tensor at the batch letters alone, two axes more than them (a matrix) or
    one (a column); or at some of them, in order (K_b in a line of the element b, h: the
    same K_b for every h)."""
    if not batch or not idx or tuple(x for x in batch if x in idx) != tuple(idx):
        return False
    return _element_axes(env, name, idx) is not None


def _letter_dim(env: Env, letter: str):
    """README: a batch subscript's letter is its dim's name in lower case, else the dim's
    index letter; primed (i′) inside an element of the same dim (C_i ⊙ (Σ_i′ U_i′))."""
    letter = letter.rstrip(PRIME) or letter
    return letter.upper() if letter.upper() in env.dims else env.letter_dim.get(letter)


def _element_axes(env: Env, name: str, letters: tuple):
    """The axes of ``name`` the batch letters stand for (its one axis of each letter's dim,
    in order; the leading ones where a dim is there twice), or None."""
    shape = env.shapes[name]
    if len(shape) - len(letters) not in (0, 1, 2):
        return None
    # README: a letter of no dim stands for a literal-1 axis (Σ_b X_bᵀ t1_b of X: [1, T, D])
    dims = [_letter_dim(env, x) or 1 for x in letters]
    rest = [d for d in shape if d not in dims]
    if len(shape) == len(letters):  # t_b of t: [B], a number each: only at the dims' names
        if not all(x.upper() in env.dims for x in letters) or dims != list(shape):
            return None
    elif all(d == 1 for d in rest) and len(rest) < 2:
        return None  # mu_i of mu: [N, 1] is an index form without its literal-1 axis (but
        # mu_b of mu: [B, 1, D] is b's 1×D matrix, a row, and k_b of k: [B, 1, 1] b's 1×1
        # matrix, a number each: Σ_b (k_b ⊙ rowsum(Y_b)))
    axes = []
    for d in dims:
        hits = [a for a, s in enumerate(shape) if s == d]
        axes.append(hits[0] if len(hits) == 1 else None)
    if None in axes:
        lead = list(shape[:len(dims)]) == dims
        return tuple(range(len(dims))) if lead else None
    return tuple(axes) if axes == sorted(axes) else None


def _element_array(env: Env, name: str, letters: tuple, v, batch: tuple = ()):
    """README: X_h is X's matrix (or column) at h on the axis of h's dim: every element at
    once, the batch axes first; at some of the ``batch`` letters only (K_b in the element
    b, h), an axis of 1 where each other letter stands, broadcast."""
    axes = _element_axes(env, name, letters)
    shp = tuple(d if isinstance(d, int) else env.dims[d] for d in env.shapes[name])
    v = np.moveaxis(np.asarray(v, dtype=float).reshape(shp), axes, tuple(range(len(axes))))
    v = v[..., None] if v.ndim == len(axes) + 1 else v
    v = v[..., None, None] if v.ndim == len(axes) else v  # (t_b of t: [B], a 1×1 matrix each)
    if batch and tuple(batch) != tuple(letters):
        v = v[tuple(slice(None) if x in letters else None for x in batch) + (Ellipsis,)]
    return v


def _helper_letters(env: Env, lhs) -> tuple:
    """The batch letters of a where-helper written per element, σ'(W2ᵀ x_b) (its names
    subscripted by batch letters alone, as in the form it serves), else ()."""
    if lhs[0] != "fn" or lhs[1] != "σ'":
        return ()
    found: list = []

    def walk(t):
        if not isinstance(t, tuple):
            return
        if t[0] == "name" and t[1] not in ("𝐈", "δ") or t[0] == "adj":
            name, idx = env.split(t[1] if t[0] == "name" else t[2])
            if idx and name in env.shapes and \
                    all(_letter_dim(env, x) is not None for x in idx) and \
                    _element_axes(env, name, tuple(idx)) is not None:
                found.append(tuple(idx))
        for x in t[1:]:
            if isinstance(x, (tuple, list)):
                for y in (x if isinstance(x, list) else [x]):
                    walk(y)
    walk(lhs)
    return found[0] if found and all(f == found[0] for f in found) else ()


def _element_line(env: Env, lhs):
    """The batch letters of a line written element by element, ``C_h = …``,
    ``∂L/∂Q_h = …``, ``grad(X)_b = …`` (a name at fewer letters than its axes, one or two
    fewer), else None."""
    if lhs[0] == "sub" and lhs[1][0] == "paren":  # (grad(W))_h, as MathML groups it
        lhs = ("sub", lhs[1][1], *lhs[2:])
    if lhs[0] == "sub" and lhs[1][0] == "call" and lhs[1][1] == "grad":
        inner = lhs[1][2][0]
        name, letters = env.split(inner[1])[0], tuple(lhs[2])
    elif lhs[0] in ("name", "adj"):
        name, letters = env.split(lhs[1] if lhs[0] == "name" else lhs[2])
    else:
        return None
    if not letters or name not in env.shapes or \
            any(_letter_dim(env, x) is None for x in letters):
        return None
    if _element_axes(env, name, tuple(letters)) is None:
        return None
    return name, tuple(letters)


def _batch_sum(env: Env, tree, outer: tuple = ()):
    """``(letters, body)`` of a sum over a batch, Σ_b Σ_h X_bhᵀ …: every subscripted name in
    the body is a batch element at exactly the sums' letters (after the ``outer`` letters of
    the element the sum is in: Σ_r A_bgrᵀ ∂L/∂O_bgr in the element b, g); None for an index
    form's Σ."""
    letters, body = (), tree
    while body[0] == "sigma" and body[2] is not None:
        letters, body = letters + tuple(body[1]), body[2]
    if not letters:
        return None
    subscripted = []

    def walk(t):
        if not isinstance(t, tuple):
            return
        if t[0] == "sigma" and t[2] is not None and \
                _batch_sum(env, t, outer + letters) is not None:
            return  # a sum over another batch inside each element (Σ_a 4 (Σ_b … Xe_b − Ce_a
            # …): a batch of one beside B, --expand), its names checked there
        if t[0] in ("sigma", "sub", "subat", "mapel"):
            subscripted.append(None)
        elif t[0] == "name" and t[1].rstrip(PRIME) in env.letter_dim and \
                t[1] not in env.shapes:  # an index as a value (𝟙[0 ≤ m < A]): index form
            subscripted.append(None)
        elif t[0] == "name" and t[1] not in ("𝐈", "δ") or t[0] == "adj":
            name, idx = env.split(t[1] if t[0] == "name" else t[2])
            if idx:
                subscripted.append((name, idx))
        elif t[0] == "name" and t[1] == "δ":
            subscripted.append(None)
        for x in _children(t):
            walk(x)
    walk(body)
    if not subscripted or not all(x is not None and _element(env, x[0], x[1], outer + letters)
                                  for x in subscripted):
        return None
    return letters, body


_OPS = ("", "⊙", "⊘", "·", "/")


def _children(tree):
    for x in tree[1:]:
        if isinstance(x, tuple) and x and isinstance(x[0], str) and x[0] not in _OPS:
            yield x
        elif isinstance(x, list):
            for y in x:
                if isinstance(y, tuple) and y and y[0] in _OPS:
                    yield y[1]
                elif isinstance(y, tuple):
                    yield y


def close(got, want, what, rtol=1e-7):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise ReaderError(f"{what}: the printed form has shape {got.shape}, the tensor "
                          f"{want.shape}")
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    if not err <= rtol * scale:
        raise ReaderError(f"{what}: differs from the reference by {err:.3g} (scale {scale:.3g})")


# ---------------------------------------------------------------------------------------------
# Matrix form


class MV:
    """A matrix-form value; ``ones`` marks a value that stands for a broadcast by 𝟏, whose
    width comes from the left-hand side."""

    def __init__(self, v, ones=False, is_ones=False, transposed=False, is_eye=False):
        self.v, self.ones, self.is_ones, self.transposed = np.asarray(v, dtype=float), ones, \
            is_ones, transposed
        self.is_eye = is_eye  # I, the identity, sized by its neighbour (v is its factor)

    @property
    def scalar(self):
        return self.v.ndim == 0

    @property
    def one(self):
        """A 1-vector or 1×1 matrix, which a person reads as a scalar."""
        return self.v.size == 1 and not self.is_ones


def _iverson_node(t) -> bool:
    """Whether the parsed ``t`` is an indicator, 𝟙[…]."""
    return isinstance(t, tuple) and len(t) > 1 and \
        (t[0] == "step" or t[0] == "fnn" and str(t[1]).startswith("𝟙"))


def _strong_zero(a, bracket):
    """``a`` where the indicator ``bracket`` holds, 0 where it does not (even where ``a`` is
    not finite there)."""
    return np.where(bracket != 0, a, 0.0)


def _broadcast_to_count(x: MV, count: int) -> MV:
    """``x ⊙ 𝟏`` read by a reshape to ``count`` elements: the 𝟏 fills x's one axis of size 1
    (reshape(reshape(G, [B, P, 1, D]) ⊙ 𝟏, [B, T, D]) repeats G's rows S = T / P times);
    ``x`` as it is when that is not one size."""
    ones = [a for a, n in enumerate(x.v.shape) if n == 1]
    if len(ones) != 1 or x.v.size == 0 or count % x.v.size:
        return x
    shape = list(x.v.shape)
    shape[ones[0]] = count // x.v.size
    return MV(np.broadcast_to(x.v, shape).copy())


class MatrixEval:
    def __init__(self, env: Env, target: tuple | None = None):
        self.env, self.target = env, target
        self.batch = ()  # inside Σ_b: the batch letters, X_b a batch element's matrix
        self.count: int | None = None  # inside a reshape with nothing else to size a pad

    def _name(self, token: str, adjoint: bool) -> np.ndarray:
        """A tensor or adjoint in a matrix form: the whole tensor as a matrix, or a batch
        element's X_b as the batch of them (the sum around adds them up)."""
        name, idx = self.env.split(token)
        if idx and not _element(self.env, name, idx, self.batch):
            raise ReaderError(f"an indexed name {token!r} in a matrix form")
        if idx:
            return _element_array(self.env, name, idx, self.env.tensor(name, adjoint),
                                  self.batch)
        spec = getattr(self.env, "spec_shapes", {}).get(name)
        if spec is not None and not adjoint and not self.batch:
            # a per-element temporary read whole (slice(t1, :, 0:T) of t1_b = Z_b w): the
            # tensor of its own axes, B×TU (README: each element t1_b a column of it)
            shp = tuple(d if isinstance(d, int) else self.env.dims[d] for d in spec)
            return self.env.tensor(name, adjoint).reshape((shp[0], 1) if len(shp) == 1 else shp)
        return self.env.tensor(name, adjoint).reshape(self.env.matrix_shape(name))

    def batch_sum(self, letters: tuple, body) -> MV:
        """Σ_b body: the body on every element at once (NumPy's batched @, ᵀ, rowsum ...),
        then the elements' matrices added."""
        outer = self.batch  # README: inside each element b, g, Σ_r sums the axis of r alone
        self.batch = outer + letters
        try:
            x = self.ev(body)
        finally:
            self.batch = outer
        if x.is_ones and not x.is_eye and x.v.size == 1:
            # Σ_b (s_b·𝟏) over a batch of one: the one element's number times 𝟏 (its '·'
            # read the 1×1 number as a scalar), sized by the left side as any 𝟏
            return MV(x.v.reshape(()), is_ones=True, transposed=x.transposed)
        if x.v.ndim != len(outer) + len(letters) + 2 or x.is_ones or x.is_eye:
            raise ReaderError(f"Σ over a batch of a value of shape {x.v.shape}")
        return MV(x.v.sum(axis=tuple(range(len(outer), len(outer) + len(letters)))), x.ones)

    def final(self, x: MV, shape: tuple):
        if x.is_eye:
            if len(shape) != 2 or shape[0] != shape[1]:
                raise ReaderError(f"I for a tensor of shape {shape}")
            return x.v * np.eye(shape[0])
        v = x.v
        if v.shape == shape:
            return v
        squeezed = tuple(n for n in shape if n != 1)
        if len(shape) > 2 and v.shape == squeezed:
            # README: a tensor of three or more axes with literal-1 axes reads, in matrix form,
            # as the tensor of its other axes
            return v.reshape(shape)
        if len(shape) > 2 and set(shape[:-2]) == {1} and v.shape == shape[-2:]:
            return v.reshape(shape)  # mu: [1, 1, D] is one element, the matrix of its last axes
        if v.shape == (1, 1) and shape == ():
            return v.reshape(())
        if len(shape) >= 2 and v.shape == shape + (1,):
            # README: a function that reduces each element's rows (logsumexp(x2) of x2: [M, N,
            # K]) is that element's column: the tensor [M, N] of its M columns
            return v.reshape(shape)
        if x.ones or x.is_ones or _is_constant(v):
            try:
                return np.broadcast_to(v, shape)
            except ValueError:
                pass
        raise ReaderError(f"the printed matrix form has shape {v.shape}, the tensor {shape}")

    def ev(self, t) -> MV:
        kind = t[0]
        if kind == "num":
            return MV(float(t[1]))
        if kind == "paren":
            return self.ev(t[1])
        if kind == "name" and t[1] == "𝐈":  # README: the identity matrix is a bold I
            return MV(1.0, is_eye=True)
        if kind == "name":
            name, idx = self.env.split(t[1])
            if name in self.env.dims and not idx:
                return MV(float(self.env.dims[name]))
            return MV(self._name(t[1], False))
        if kind == "adj":
            if t[1] != self.env.loss:
                raise ReaderError(f"∂{t[1]}/∂… is not an adjoint of the loss")
            return MV(self._name(t[2], True))
        if kind == "ones":
            return MV(1.0, is_ones=True)
        if kind == "neg":
            x = self.ev(t[1])
            return MV(-x.v, x.ones, x.is_ones, x.transposed, x.is_eye)
        if kind == "add":
            xs = self.terms(t[1])
            out = xs[0]
            for x in xs[1:]:
                out = self.elementwise(out, x, np.add)
            return out
        if kind == "T":
            outer = self.target
            if outer is not None and len(outer) >= 2:  # Xᵀ of the left side's shape: X of
                self.target = outer[:-2] + outer[-2:][::-1]  # the other one
            try:
                x = self.ev(t[1])
            finally:
                self.target = outer
            if x.is_ones:
                return MV(1.0, is_ones=True, transposed=not x.transposed)
            if x.v.ndim > 2:  # README: each element's matrix transposed
                return MV(np.swapaxes(x.v, -1, -2), x.ones)
            return MV(x.v.T, x.ones)
        if kind == "pow" and t[2] == -1 and not self.ev(t[1]).scalar:  # A⁻¹: README
            x = self.ev(t[1])
            if x.v.ndim != 2 or x.v.shape[0] != x.v.shape[1]:
                raise ReaderError(f"⁻¹ of a non-square {x.v.shape}")
            return MV(np.linalg.inv(x.v))
        if kind == "norm":
            x = self.ev(t[1])
            return MV(np.sqrt(np.sum(np.asarray(x.v, dtype=float) ** 2)))
        if kind == "pow":
            x = self.ev(t[1])
            # (a 1×1 matrix, or one per batch element: wᵀ X_b under Σ_b, a number each)
            if not x.scalar and not (x.v.ndim >= 2 and x.v.shape[-2:] == (1, 1)) \
                    and not self.per_element(x):
                raise ReaderError("a superscript power of a matrix in a matrix form")
            return MV(x.v ** float(t[2]))
        if kind == "hpow":
            x, p = self.ev(t[1]), self.ev(t[2])
            if not p.scalar:
                raise ReaderError("^∘ with a non-scalar exponent")
            return MV(x.v ** p.v, x.ones)
        if kind == "fn":
            x = self.ev(t[2])
            return MV(SCALAR_FUNCTIONS[t[1]](x.v), x.ones)
        if kind == "fnn":  # broadcast every argument against the others, then apply
            xs = [self.ev(a) for a in t[2]]
            zero = xs[0]
            for x in xs[1:]:
                zero = self.elementwise(zero, x, lambda p, q: 0 * p + 0 * q)
            vals = [self.elementwise(zero, x, lambda p, q: 0 * p + q) for x in xs]
            return MV(ELEMENTWISE[t[1]](*[v.v for v in vals]), any(v.ones for v in vals))
        if kind == "step":
            a, b = self.ev(t[1]), self.ev(t[2])
            return MV((_bcast(a.v, b.v, np.subtract) > 0).astype(float), a.ones or b.ones)
        if kind == "call":
            return self.call(t[1], t[2], t[3])
        if kind == "prod":
            return self.product(t[1])
        if kind == "sigma":
            found = _batch_sum(self.env, t, self.batch)
            if found is None:
                raise ReaderError("an index form's Σ in a matrix form")
            return self.batch_sum(*found)
        if kind == "sub" and self.batch and tuple(t[2]) == tuple(self.batch) and \
                len(self.batch) == 1 and t[1][0] == "paren":
            return self.element_of(t[1][1])
        if kind == "sub":
            raise ReaderError(f"{kind} in a matrix form")
        raise ReaderError(f"cannot evaluate {kind}")

    def element_of(self, tree) -> MV:
        """README: (σ(x W2))_b, the element b of a whole expression (as X_b of a name: its
        matrix or column at b on the axis of b's dim), every element at once."""
        (letter,) = self.batch
        outer, self.batch = self.batch, ()
        try:
            x = self.ev(tree)
        finally:
            self.batch = outer
        size = self.env.dims[_letter_dim(self.env, letter)]
        hits = [a for a, n in enumerate(x.v.shape) if n == size]
        if len(hits) != 1 or x.is_ones or x.is_eye:
            raise ReaderError(f"no one axis of {letter!r}'s dim in a value of shape {x.v.shape}")
        v = np.moveaxis(x.v, hits[0], 0)
        return MV(v[..., None] if v.ndim == 2 else v, x.ones)

    def terms(self, trees) -> list[MV]:
        """A sum's terms; a term with a 𝟏 that nothing in it sizes (einsum('ijk,ik->ijk', 𝟏,
        v), softmax(0 𝟏)) is read with the other terms' shape as its own (they are added
        elementwise, so each is the sum's shape up to broadcasting)."""
        xs, later = [], []
        for tree in trees:
            try:
                xs.append(self.ev(tree))
            except Unsized:
                later.append(tree)
        if later:
            sized = [x for x in xs if not (x.is_ones or x.is_eye or x.scalar)]
            shape = np.broadcast_shapes(*[x.v.shape for x in sized]) if sized else \
                self.padded(later)
            if shape is None:
                raise Unsized("a sum of terms with 𝟏 and nothing to size it")
            outer, self.target = self.target, shape
            try:
                xs += [self.ev(tree) for tree in later]
            finally:
                self.target = outer
        return xs

    def padded(self, trees) -> tuple[int, ...] | None:
        """The shape of a sum of pads with nothing else to size it (``pad(X, 0:A, axis=0) +
        pad(Y, A:A + B, axis=0)`` inside ``sum(…)``): the pieces' shape, along the padded
        axis as long as the last range reaches; None unless every term is such a pad."""
        shapes, ends, flips = set(), set(), set()
        for t in trees:
            if t[0] == "prod" and len(t[1]) == 2 and t[1][0][1][0] == "num" and \
                    t[1][1][0] in ("", "·"):
                t = t[1][1][1]  # a pad times a number (2 pad(slice(H, :, 1:M), 1:M, axis=1))
            flips.add(t[0] == "T")  # pad(X, 0:D, axis=1)ᵀ + pad(h, D:DH, axis=1)ᵀ
            t = t[1] if t[0] == "T" else t
            if not (t[0] == "call" and t[1] == "pad" and len(t[2]) == 2 and
                    t[2][1][0] == "range" and set(t[3]) == {"axis"}):
                return None
            x, axis = self.ev(t[2][0]).v, t[3]["axis"]
            shapes.add((axis, x.shape[:axis] + x.shape[axis + 1:]))
            ends.add(self.bound(t[2][1][2]))
        if len(shapes) != 1 or len(flips) != 1:
            return None
        (axis, rest), = shapes
        shape = rest[:axis] + (max(ends),) + rest[axis:]
        return shape[:-2] + shape[-2:][::-1] if flips == {True} else shape

    def sized(self, x: MV) -> MV:
        """``x`` (a 𝟏, perhaps scaled) as an array of the left side's shape (the value a
        shape-keeping function like softmax is applied to)."""
        if not x.is_ones:
            return x
        if self.target is None or x.transposed:
            raise Unsized("𝟏 inside a function with no size")
        return MV(np.broadcast_to(x.v, self.target).copy())

    def stacking(self, fn, args, kwargs) -> MV:
        """``take(X, p, axis=k)``: NumPy's, X's elements at position p of axis k (that axis
        gone); ``stack([a, b], axis=k)``: NumPy's, the pieces along a new axis k.  Axes are
        the tensors' own (a vector a 1-d array, not the column it is printed as)."""
        if set(kwargs) != {"axis"}:
            raise ReaderError(f"{fn} without its axis")
        axis = kwargs["axis"]
        if fn == "take":
            x = self.ev(args[0])
            if len(args) != 2 or args[1][0] != "num" or x.transposed or x.ones or \
                    x.is_ones or x.scalar:
                raise ReaderError(f"take of {args!r}")
            v = np.take(np.ravel(x.v) if _column(x.v) else x.v, int(args[1][1]), axis=axis)
        else:
            if len(args) != 1 or args[0][0] != "list":
                raise ReaderError("stack without a list of pieces")
            pieces = [self.ev(a) for a in args[0][1]]
            if any(p.transposed or p.ones or p.is_ones for p in pieces):
                raise ReaderError("stack of a transposed or broadcast piece")
            v = np.stack([np.ravel(p.v) if _column(p.v) else np.asarray(p.v, dtype=float)
                          for p in pieces], axis=axis)
        if v.ndim == 0:
            return MV(float(v))
        return MV(v.reshape(-1, 1) if v.ndim == 1 else v)

    def bound(self, t) -> int:
        """A slice's bound: a whole number of dims' sizes (K, 1 + K, N − K)."""
        v = self.ev(t).v
        if v.size != 1 or v.reshape(()) != round(float(v.reshape(()))):
            raise ReaderError(f"a range bound {t!r} that is no whole number")
        return int(round(float(v.reshape(()))))

    def window(self, fn, args, kwargs) -> MV:
        """``slice(x, :, lo:hi)`` (the axis: how many ``:`` come first) and ``pad(G, lo:hi,
        axis=k)`` (the axis as long as the left-hand side's)."""
        ranges = [n for n, a in enumerate(args) if a[0] == "range"]
        if len(ranges) != 1 or ranges[0] != len(args) - 1 or \
                any(a[0] != "all" for a in args[1:-1]):
            raise ReaderError(f"{fn} without one range last")
        # a slice's argument is wider than the slice: no left side sizes the pads in it
        # (slice(pad(slice(H, :, 1:M), 0:M1, axis=1) + …, :, D:D + E), --expand)
        x = self.untargeted(args[0]) if fn == "slice" else self.ev(args[0])
        lo, hi = self.bound(args[-1][1]), self.bound(args[-1][2])
        axis = kwargs.get("axis")
        if fn == "pad" and x.is_ones and not x.transposed and self.target is not None and \
                isinstance(axis, int) and 0 <= axis < len(self.target):
            # pad(𝟏, 0:1, axis=1): ones over the range of that axis, the others the left
            # side's (the adjoint of sum(H[:, 0:1]))
            shape = list(self.target)
            shape[axis] = hi - lo
            x = MV(np.broadcast_to(x.v, shape).copy())
        if x.transposed or x.ones or x.is_ones or x.scalar:
            raise ReaderError(f"{fn} of a transposed, broadcast or scalar value")
        if fn == "slice":
            axis = len(args) - 2
            if kwargs or not 0 <= lo < hi <= x.v.shape[axis]:
                raise ReaderError(f"slice {lo}:{hi} of axis {axis} of {x.v.shape}")
            return MV(np.take(x.v, np.arange(lo, hi), axis=axis))
        axis = kwargs.get("axis")
        target = self.target
        rest = x.v.size // x.v.shape[axis] if isinstance(axis, int) and \
            0 <= axis < x.v.ndim and x.v.size else 0
        if target is None and self.count is not None and rest and self.count % rest == 0:
            # inside a reshape: the axis as long as makes the reshape's count
            target = x.v.shape[:axis] + (self.count // rest,) + x.v.shape[axis + 1:]
        if target is None or len(target) != x.v.ndim:
            # inside sum(…): the pads beside it size it (terms)
            raise Unsized(f"pad {lo}:{hi} of axis {axis} with no size")
        if len(args) != 2 or set(kwargs) != {"axis"} or \
                hi - lo != x.v.shape[axis] or \
                not 0 <= lo < hi <= target[axis]:
            raise ReaderError(f"pad {lo}:{hi} of axis {axis} of {x.v.shape} to {target}")
        width = [(0, 0)] * x.v.ndim
        width[axis] = (lo, target[axis] - hi)
        return MV(np.pad(x.v, width))

    def per_element(self, x: MV) -> bool:
        """Whether ``x`` is each batch element's number (a 1×1 matrix per element, wᵀ m_b) in
        a line written per element."""
        return bool(self.batch) and x.v.ndim == len(self.batch) + 2 and \
            x.v.shape[-2:] == (1, 1) and not (x.is_eye or x.transposed)

    def per_element_of(self, tree, v) -> bool:
        """Whether ``tree`` (valued ``v``) is each batch element's matrix or column, read
        at a subscripted element (t1_b), in a line written per element."""
        if not self.batch or v.ndim != len(self.batch) + 2:
            return False

        def elements(t) -> bool:
            if isinstance(t, tuple) and t and t[0] == "name" and isinstance(t[1], str):
                try:
                    name, idx = self.env.split(t[1])
                except ReaderError:
                    return False
                return bool(idx) and _element(self.env, name, idx, self.batch)
            if isinstance(t, (tuple, list)):
                return any(elements(c) for c in t)
            if isinstance(t, dict):
                return any(elements(c) for c in t.values())
            return False
        return elements(tree)

    def counted(self, tree, count: int) -> MV:
        """``tree``, a reshape's argument, read with its number of entries as the only size:
        a pad in it is as long along its axis as makes that count (reshape(2 pad(tanh(
        slice(reshape(X, [B, T, D]), :, :, 2:4)), 2:4, axis=2), [B, TD]))."""
        outer = self.target, self.count
        self.target, self.count = None, count
        try:
            return self.ev(tree)
        finally:
            self.target, self.count = outer

    def untargeted(self, tree) -> MV:
        """``tree`` read with no left side to size it: an operand of a convolution is not of
        the left side's shape (conv1d(pad(X, 0:C, axis=1) + pad(tanh(X), C:2 C, axis=1), W):
        the pads size each other, as inside sum(…))."""
        outer, self.target = self.target, None
        try:
            return self.ev(tree)
        finally:
            self.target = outer

    def product(self, items) -> MV:
        conv = any(op in ("⋆", "∗") for op, _ in items[1:])
        if conv or self.target is None or not any(op == "" for op, _ in items[1:]):
            return self._product(items, conv)
        try:
            return self._product(items, False)
        except ReaderError as exc:
            # a matrix product's factors are not of the left side's shape: read them with
            # nothing to size them, pads sized by the pads beside them ((pad(X, 0:D,
            # axis=1)ᵀ + pad(h, D:DH, axis=1)ᵀ) ∂L/∂z); a product of a scalar and the left
            # side's shape read as before
            try:
                return self._product(items, True)
            except ReaderError:
                pass
            try:
                return self._product(items, True, last=True)
            except ReaderError:
                raise exc from None

    def _product(self, items, untargeted: bool, last: bool = False) -> MV:
        """``last``: the last factor of a matrix product as long as the factors before it
        are wide, and as the left side along its last axis ((M ⊙ exp(v)) pad(𝟏, 1:K,
        axis=0)ᵀ: the padded 𝟏 a K×1 column, each element's row of the product)."""
        ev = self.untargeted if untargeted else self.ev
        acc = ev(items[0][1])
        # README: 𝟙[…] is a strong zero, a product with it 0 where it is whatever the rest
        # (𝟙[x > 0] ⊘ √relu(x) at x < 0): of a product of elementwise factors alone
        elementwise = all(op in ("⊙", "⊘", "/", "·", "") for op, _ in items[1:])
        brackets: list[MV] | None = \
            ([acc] if _iverson_node(items[0][1]) else []) if elementwise else None
        with np.errstate(divide="ignore", invalid="ignore"):
            acc, brackets = self._factors(items, ev, acc, last, brackets)
        for b in brackets or ():
            acc = self.elementwise(acc, b, _strong_zero)
        return acc

    def _factors(self, items, ev, acc: MV, last: bool, brackets: list[MV] | None
                 ) -> tuple[MV, list[MV] | None]:
        """The product's factors after the first, and the indicators among them while the
        product is elementwise (None once a matrix product is met)."""
        for n, (op, f) in enumerate(items[1:], 2):
            # a 𝟏 before it is a column (2 h0·𝟏 pad(𝟏, 0:M, axis=0)ᵀ: 𝟏 times a row)
            wide = acc.v.shape[-1] if acc.v.ndim >= 2 else \
                1 if acc.is_ones and not acc.transposed else None
            if last and n == len(items) and op == "" and wide is not None and \
                    self.target is not None and len(self.target) >= 2:
                outer, self.target = self.target, (wide, self.target[-1])
                try:
                    x = self.ev(f)
                finally:
                    self.target = outer
            else:
                x = ev(f)
            if brackets is not None and op == "" and not \
                    (acc.scalar or acc.one or x.scalar or x.one):
                brackets = None  # (a matrix product: no elementwise indicator)
            if brackets is not None and _iverson_node(f):
                brackets.append(x)
            if op in ("⋆", "∗"):
                acc = MV(_correlate(acc.v, x.v) if op == "⋆" else _convolve(acc.v, x.v))
            elif op == "⊙":
                acc = self.elementwise(acc, x, np.multiply)
            elif op == "⊘":
                acc = self.elementwise(acc, x, np.divide)
            elif op == "·" and acc.v.ndim > 2 and acc.v.shape[-2:] == (1, 1) and x.is_eye:
                # a number per batch element times 𝐈 (2 t_b·𝐈): each element's multiple of
                # the identity, sized by the left side
                acc = MV(acc.v * x.v, is_eye=True)
            elif op == "·" and self.per_element(acc) and not acc.is_ones:
                # (1 − tanh(wᵀ m_b)²)·𝟏 wᵀ: each element's number (its 1×1 matrix) times
                acc = MV(acc.v * x.v, is_ones=True, transposed=x.transposed) if x.is_ones \
                    else MV(acc.v * x.v, x.ones)
            elif op == "·":
                if acc.v.ndim > 2 and acc.v.shape[-2:] == (1, 1) and x.v.ndim == acc.v.ndim:
                    # a number per batch element (wᵀ X_b under Σ_b) times each element's matrix
                    acc = MV(acc.v * x.v)
                    continue
                if not (acc.scalar or acc.one):
                    raise ReaderError("'·' after a non-scalar")
                acc = self.matmul(MV(acc.v.reshape(())), x)
            elif op == "/" and self.per_element(x) and \
                    (self.per_element(acc) or acc.scalar or acc.one):
                # (∂L/∂sw_b/nw_b)·…: each element's number by each element's number
                acc = MV(acc.v / x.v)
            elif op == "/":
                if not (x.scalar or x.one):
                    raise ReaderError("'/' by a non-scalar in a matrix form")
                acc = MV(acc.v / x.v.reshape(()), acc.ones, acc.is_ones, acc.transposed)
            elif op == "mod":
                raise ReaderError("'mod' in a matrix form")
            else:
                acc = self.matmul(acc, x)
        return acc, brackets

    def elementwise(self, a: MV, b: MV, f) -> MV:
        av, bv = _eye_like(a, b), _eye_like(b, a)
        return MV(_bcast(av, bv, f), a.ones or b.ones or a.is_ones or b.is_ones)

    def matmul(self, a: MV, b: MV) -> MV:
        """Juxtaposition: a product by a scalar, or the matrix product.  ``𝟏`` (a ones-value,
        possibly scaled) takes its size from its neighbour or, failing that, the left side."""
        if a.is_eye or b.is_eye:
            other, eye = (b, a) if a.is_eye else (a, b)
            return MV(other.v * eye.v if other.scalar else other.v * float(eye.v), other.ones,
                      other.is_ones, other.transposed) if not other.scalar else \
                MV(other.v * eye.v, is_eye=True)
        if a.is_ones and b.is_ones:
            raise ReaderError("𝟏 𝟏 with no size")
        if a.is_ones and b.scalar:
            return MV(a.v * b.v, is_ones=True, transposed=a.transposed)
        if b.is_ones and a.scalar:
            return MV(a.v * b.v, is_ones=True, transposed=b.transposed)
        if a.is_ones:
            if a.transposed:  # 𝟏ᵀ B: column sums, a row
                return MV(a.v * b.v.sum(axis=-2, keepdims=True), b.ones)
            if b.v.shape[-2] == 1:  # 𝟏 bᵀ: the row b on every row
                return MV(a.v * b.v, True)
            raise ReaderError(f"𝟏 times a matrix with {b.v.shape[0]} rows")
        if b.is_ones:
            if not b.transposed:  # A 𝟏: row sums, a column
                return MV(b.v * a.v.sum(axis=-1, keepdims=True), a.ones)
            if a.v.shape[-1] == 1:  # a 𝟏ᵀ: the column a in every column
                return MV(b.v * a.v, True)
            raise ReaderError(f"a matrix with {a.v.shape[-1]} columns times 𝟏ᵀ")
        if a.scalar or b.scalar:
            return MV(a.v * b.v, a.ones or b.ones)
        if a.v.ndim < 2 or b.v.ndim < 2:
            raise ReaderError("a matrix product of a tensor of rank < 2")
        if a.v.shape[-1] != b.v.shape[-2]:
            raise ReaderError(f"matrix product of shapes {a.v.shape} and {b.v.shape}")
        try:  # README: of rank > 2, the product of each element's matrices (NumPy's @)
            np.broadcast_shapes(a.v.shape[:-2], b.v.shape[:-2])
        except ValueError:
            raise ReaderError(f"batches of shapes {a.v.shape} and {b.v.shape}") from None
        return MV(a.v @ b.v, a.ones or b.ones)

    def call(self, fn, args, kwargs) -> MV:
        if fn in ("conv1d", "conv2d"):  # README: PyTorch's, valid and stride 1 (+ bias)
            x, w, *b = (self.untargeted(a).v for a in args)
            y = _correlate(np.swapaxes(w, 0, 1), np.swapaxes(x, 0, 1))  # Σ_c W_oc ⋆ X_bc
            y = np.swapaxes(y, 0, 1)
            return MV(y + b[0].reshape((-1,) + (1,) * (w.ndim - 2)) if b else y)
        if fn in ("slice", "pad"):
            return self.window(fn, args, kwargs)
        if fn in ("take", "stack"):
            return self.stacking(fn, args, kwargs)
        if fn == "permute":  # README: NumPy's transpose(x, axes), axis p is x's axis axes[p]
            if len(args) != 2 or args[1][0] != "axes" or kwargs:
                raise ReaderError("permute without its axes")
            axes = list(args[1][1])
            outer = self.target
            if outer is not None and sorted(axes) == list(range(len(outer))):
                # the argument of the left side's shape permuted back (a pad inside it is
                # as long as that says: permute(pad(G, 0:M, axis=2)ᵀ x0, (0, 2, 1)))
                self.target = tuple(outer[axes.index(a)] for a in range(len(axes)))
            try:
                x = self.ev(args[0])
            finally:
                self.target = outer
            if x.transposed or x.ones or x.v.ndim != len(args[1][1]):
                raise ReaderError(f"permute of {args!r}")
            return MV(np.transpose(x.v, args[1][1]))
        if fn == "reshape":  # reshape(x, [T, D]): row-major, as NumPy's
            if len(args) != 2 or args[1][0] != "dims":
                raise ReaderError("reshape without a list of dims")
            sizes = [1 if d == "1" else self.env.dims[d] for d in args[1][1]]
            # (its argument is not of the left side's shape: only its count sizes a pad in it,
            # reshape(pad(∂L/∂h0, 0:M, axis=1), [R]) of an M×N matrix)
            x = self.counted(args[0], int(np.prod(sizes)))
            if x.ones and not x.transposed and not x.is_ones:
                x = _broadcast_to_count(x, int(np.prod(sizes)))
            if x.transposed or x.ones:
                raise ReaderError("reshape of a transposed or broadcast value")
            v = x.v.reshape(sizes)
            return MV(v.reshape(-1, 1) if v.ndim == 1 else v)
        if fn == "einsum":
            if not args or args[0][0] != "str":
                raise ReaderError("einsum without subscripts")
            sub = args[0][1]
            terms, out = sub.split("->") if "->" in sub else (sub, None)
            terms = terms.split(",")
            vals = [self.ev(a) for a in args[1:]]
            if len(vals) != len(terms):
                raise ReaderError(f"einsum {sub!r} with {len(vals)} operands")
            sizes = {}
            for term, x in zip(terms, vals):
                if not x.is_ones:
                    for ch, n in zip(term, _natural(x.v, len(term)).shape):
                        sizes[ch] = n
            if out is not None and self.target is not None:
                tshape = self.target if len(out) != 1 else self.target[:1]
                for ch, n in zip(out, tshape):
                    sizes.setdefault(ch, n)
            ops = []
            for term, x in zip(terms, vals):
                if x.is_ones:
                    if any(ch not in sizes for ch in term):
                        raise Unsized("an einsum operand 𝟏 with no size")
                    ops.append(x.v * np.ones([sizes[ch] for ch in term]))
                else:
                    ops.append(_natural(x.v, len(term)))
            r = np.einsum(sub, *ops)
            return MV(r.reshape(-1, 1) if r.ndim == 1 else r)
        if fn == "onehot":
            if len(args) != 1 or args[0][0] != "name" or kwargs:
                raise ReaderError(f"onehot of {args!r}")
            return MV(self.env.onehot(self.env.split(args[0][1])[0]))
        if len(args) != 1:
            raise ReaderError(f"{fn} with {len(args)} arguments")
        if fn in ("max", "min") and "axis" not in kwargs:  # README: every axis
            x = self.ev(args[0])
            return MV((np.max if fn == "max" else np.min)(np.asarray(x.v, dtype=float)))
        if fn in ("softmax", "logsumexp", "log_softmax", "max", "min") and \
                args[0][0] == "name":
            return self.axis_function(fn, args[0][1], kwargs)
        # a function that keeps its argument's shape reads it as the left side's; one that
        # reduces it, with no shape to go by (a pad in colsum(x ⊙ (pad(r, 2:N, axis=0) + …))ᵀ
        # of a 1×Hd left side is as long as the pads beside it say, never the left side)
        x = self.untargeted(args[0]) if fn in REDUCING else self.ev(args[0])
        if fn in ("softmax", "log_softmax"):  # softmax(0 𝟏): 𝟏 of the left side's shape
            x = self.sized(x)
        elif x.is_ones:
            raise Unsized(f"{fn}(𝟏) with no size")
        v = x.v
        if fn == "det":
            return MV(np.linalg.det(v))
        if fn == "logdet":
            sign, value = np.linalg.slogdet(v)
            if sign <= 0:
                raise ReaderError("logdet of a matrix with a determinant ≤ 0")
            return MV(value)
        if fn == "rowsum":
            return MV(v.sum(axis=-1, keepdims=True))
        if fn == "colsum":
            return MV(v.sum(axis=-2)[..., None])
        if fn == "sum" and "axis" in kwargs:  # NumPy's sum over axes (README)
            axis = kwargs["axis"]
            r = v.sum(axis=axis, keepdims=kwargs.get("keepdims", False))
            return MV(r.reshape(-1, 1) if r.ndim == 1 else r)  # a vector: a column
        if fn == "sum" and self.per_element_of(args[0], v):
            # README: inside Σ_b, or a line written per element, sum(t1_b) is the element's
            # total (each element's 1×1 matrix), never the whole batch's
            return MV(v.sum(axis=(-2, -1), keepdims=True))
        if fn == "sum":
            return MV(v.sum())
        if fn == "diag":
            return MV(np.diag(v.ravel()))
        if fn == "diagonal":
            return MV(np.diagonal(v)[:, None])
        if fn == "tr":
            return MV(np.trace(v))
        if kwargs.get("keepdims") and fn in ("logsumexp", "max", "min") and "axis" in kwargs \
                and v.ndim > 2:  # NumPy's keepdims on a whole tensor's named axis
            r = _axis_apply(fn, v, kwargs["axis"])
            return MV(np.expand_dims(r, kwargs["axis"] % v.ndim))
        if kwargs.get("keepdims"):
            raise ReaderError(f"{fn}(…, keepdims=True) of a value of shape {v.shape}")
        if fn in ("softmax", "logsumexp", "log_softmax"):
            # a column's (each element's column, D×1 per element: t1_b = Z_b w) is along it
            vec = v.ndim >= 2 and v.shape[-1] == 1 and "axis" not in kwargs
            axis = -2 if vec else kwargs.get("axis", -1)
            if fn == "softmax":
                return MV(_softmax(v, axis))
            if fn == "log_softmax":
                return MV(v - np.expand_dims(_logsumexp(v, axis), axis))
            r = _logsumexp(v, axis)
            if v.ndim > 2 and "axis" not in kwargs:
                r = r[..., None]  # README, batched forms: each element's rows to its column
            return MV(r.reshape(-1, 1) if r.ndim == 1 else r)
        if fn in ("max", "min") and "axis" in kwargs and v.ndim >= 2 and v.shape[-1] != 1:
            # README: max(−X, axis=1), an expression's NumPy max along the named axis; a
            # vector left is a column
            return _as_matrix(_axis_apply(fn, v, kwargs["axis"]))
        raise ReaderError(f"unknown function {fn}")


def _correlate(g, x):
    """README: (G ⋆ X)_{o,c,k} = Σ_{b,t} G_{b,o,t} X_{b,c,t+k} (spatial axes last, any number)."""
    n = g.ndim - 2
    out_len = [x.shape[2 + q] - g.shape[2 + q] + 1 for q in range(n)]
    out = np.zeros((g.shape[1], x.shape[1], *out_len))
    for k in np.ndindex(*out_len):
        window = x[(slice(None), slice(None)) +
                   tuple(slice(o, o + m) for o, m in zip(k, g.shape[2:]))]
        summed = [0] + list(range(2, 2 + n))
        out[(slice(None), slice(None)) + k] = np.tensordot(g, window, axes=(summed, summed))
    return out


def _convolve(g, w):
    """README: (G ∗ W)_{b,c,s} = Σ_{o,k} G_{b,o,s−k} W_{o,c,k}, G zero outside its length."""
    n = g.ndim - 2
    out_len = [g.shape[2 + q] + w.shape[2 + q] - 1 for q in range(n)]
    out = np.zeros((g.shape[0], w.shape[1], *out_len))
    for k in np.ndindex(*w.shape[2:]):
        at = (slice(None), slice(None)) + tuple(slice(o, o + m) for o, m in zip(k, g.shape[2:]))
        out[at] += np.einsum("bo...,oc->bc...", g, w[(slice(None), slice(None)) + k])
    return out


def _as_matrix(r):
    return MV(r.reshape(-1, 1) if r.ndim == 1 else r)


def _axis_apply(fn, v, axis):
    """softmax, log_softmax or logsumexp of the array ``v`` along ``axis``."""
    if fn == "softmax":
        return _softmax(v, axis)
    if fn == "log_softmax":
        return v - np.expand_dims(_logsumexp(v, axis), axis)
    if fn in ("max", "min"):
        return (np.max if fn == "max" else np.min)(v, axis=axis)
    return _logsumexp(v, axis)


def _axis_function_of(env, fn, token, kwargs):
    """``fn(name, axis=…)`` on the tensor's own shape (its literal-1 axes included), the axis
    -1 unless printed."""
    name, idx = env.split(token)
    if idx:
        raise ReaderError(f"an indexed argument {token!r} of {fn}")
    # a per-element temporary's own axes (t1: B×D, each element t1_b a D×1 column)
    shape = getattr(env, "spec_shapes", {}).get(name, env.shapes[name])
    shp = tuple(d if isinstance(d, int) else env.dims[d] for d in shape)
    v = env.tensor(name, False).reshape(shp)
    axis = kwargs.get("axis", -1)
    if "axis" not in kwargs and shape and shape[-1] == 1 and any(d != 1 for d in shape):
        # README: an M×1 S reads as the column vector, its softmax over M (a function along
        # the literal 1 says its axis): the last axis that is no literal 1
        axis = max(a for a, d in enumerate(shape) if d != 1)
    if not -len(shp) <= axis < len(shp):
        raise ReaderError(f"{fn}({token}, axis={axis}) of a tensor of rank {len(shp)}")
    return _axis_apply(fn, v, axis), axis % len(shp), shp


def _whole_axis(env, fn, name, idx, kwargs):
    """README: ``max(X_b, axis=1)`` is NumPy's max of the element X_b (the matrix X[b, :, :]),
    along ITS axis 1: the keyword's axis counted in the element's own axes (the tensor's axes
    without the batch letters'), turned into the whole tensor's axis.  An axis the element
    does not have (axis=2 of a matrix) is an error, never a whole tensor's axis."""
    batch_axes = _element_axes(env, name, idx)
    shape = getattr(env, "spec_shapes", {}).get(name, env.shapes[name])
    own = [a for a in range(len(shape)) if a not in batch_axes]
    axis = kwargs.get("axis", -1)
    if not isinstance(axis, int) or not -len(own) <= axis < len(own):
        raise ReaderError(f"{fn}({name}_{''.join(idx)}, axis={axis}): the element has "
                          f"{len(own)} axes")
    return {**kwargs, "axis": own[axis]}


def _element_axis_function(env, fn, name, idx, kwargs):
    """``max(X_b, axis=1)``, ``softmax(X_b, axis=0)``: the function of every element's
    matrix (or column) along the element's axis the keyword names, the batch axes first; a
    reduction leaves each element's vector, a column (README: vectors are columns), or a
    number, its 1×1 matrix."""
    batch_axes = list(_element_axes(env, name, idx))
    whole = _whole_axis(env, fn, name, idx, kwargs)
    r, w, _ = _axis_function_of(env, fn, name, whole)
    if fn in ("logsumexp", "max", "min"):  # the reduced axis gone: the batch axes after it shift
        batch_axes = [a - (a > w) for a in batch_axes]
    nb = len(batch_axes)
    r = np.moveaxis(r, batch_axes, list(range(nb)))
    if r.ndim == nb:
        r = r[..., None, None]
    elif r.ndim == nb + 1:
        r = r[..., None]
    return MV(r)


def _matrix_axis_function(self, fn, token, kwargs):
    """softmax(X) of a matrix form; softmax(X_b) inside Σ_b: of each element, the batch's."""
    name, idx = self.env.split(token)
    element = bool(idx) and _element(self.env, name, idx, self.batch)
    if element:
        token = name
    keep = kwargs.get("keepdims", False)
    if keep and (element or fn not in ("logsumexp", "max", "min") or "axis" not in kwargs):
        # README: keepdims=True is NumPy's, on a whole tensor's named axis; an element's
        # reduction is its column already, and softmax keeps every axis anyway
        raise ReaderError(f"{fn}({token}, keepdims=True) of an element or without its axis")
    if element and "axis" in kwargs:
        return _element_axis_function(self.env, fn, name, idx, kwargs)
    r, w, shp = _axis_function_of(self.env, fn, token, kwargs)
    if keep:  # NumPy's keepdims: the reduced axis stays as a 1 and broadcasts back
        return MV(np.expand_dims(r, w))
    if element and "axis" not in kwargs and len(shp) == len(self.batch) + 1:
        # each element's column (t1_b of t1: B×D, h_b of h: B×O): logsumexp(t1_b) a number
        # per element, its 1×1 matrix (README: logsumexp of a vector is a number);
        # softmax(h_b) the element's column (README: softmax(lp_n), a column of each)
        if fn in ("logsumexp", "max", "min"):
            return MV(r.reshape(r.shape + (1, 1)))
        if name not in getattr(self.env, "spec_shapes", {}) and r.shape == shp:
            return MV(r[..., None])
    if name in getattr(self.env, "spec_shapes", {}) and (element or self.batch) and \
            r.size == self.env.tensor(name, False).size:
        r = r.reshape(self.env.tensor(name, False).shape)  # back to its elements' columns
    if fn == "logsumexp" and "axis" not in kwargs and len(shp) > 2:
        r = r[..., None]  # README, batched forms: each element's rows reduced to its column
    return _as_matrix(r)


MatrixEval.axis_function = _matrix_axis_function


def _eye_like(x: MV, other: MV):
    """The identity ``I`` as an array the size of the matrix it meets elementwise."""
    if not x.is_eye:
        return x.v
    if other.v.ndim > 2:  # README: each element's matrix (Z ⊙ 𝐈 of Z: B×D×D, NumPy's Z * eye(D))
        if other.v.shape[-1] != other.v.shape[-2]:
            raise ReaderError("I beside a batch of matrices that are not square")
        return x.v * np.eye(other.v.shape[-1])
    n = other.v.shape[0] if other.v.ndim else None
    if n is None or (other.v.ndim == 2 and other.v.shape[1] not in (1, n)):
        raise ReaderError("I with no size")
    return x.v * np.eye(n)


def _column(v) -> bool:
    """Whether a matrix-form value is a column: a vector, printed as one (README)."""
    return isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] == 1


def _natural(v, rank):
    """A matrix-form value as an einsum operand of ``rank`` axes (columns become vectors)."""
    if v.ndim == rank:
        return v
    if rank == 1 and v.ndim == 2 and 1 in v.shape:
        return v.ravel()
    if rank == 0 and v.size == 1:
        return v.reshape(())
    raise ReaderError(f"an einsum operand of shape {v.shape} for {rank} letters")


def _bcast(a, b, f):
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ReaderError(f"cannot broadcast {np.shape(a)} and {np.shape(b)}") from None
    return f(a, b)


def _is_constant(v):
    return v.size > 0 and bool(np.all(v == v.flat[0])) and v.ndim == 0


# ---------------------------------------------------------------------------------------------
# Index form


class IV:
    """An indexed value: an array whose axes are index labels; ``count`` is how often each free
    label is written (Einstein's convention sums a repeated one)."""

    def __init__(self, v, labels, count):
        self.v, self.labels, self.count = np.asarray(v, dtype=float), tuple(labels), dict(count)
        assert self.v.ndim == len(self.labels), (self.v.shape, self.labels)


def _align(x: IV, labels) -> np.ndarray:
    """``x`` with axes in the order ``labels`` (absent ones of length 1, for broadcasting)."""
    v = x.v
    src = list(x.labels)
    for lab in labels:
        if lab not in src:
            v = v[..., None]
            src.append(lab)
    return np.transpose(v, [src.index(lab) for lab in labels])


def _union(*xs):
    out = []
    for x in xs:
        for lab in x.labels:
            if lab not in out:
                out.append(lab)
    return tuple(out)


class IndexEval:
    def __init__(self, env: Env, lhs_labels: tuple):
        self.env, self.lhs = env, tuple(lhs_labels)

    def top(self, tree):
        """Each term of the right-hand side, with its repeated indices absent from the left
        summed (Einstein), aligned to the left's indices and added."""
        terms = tree[1] if tree[0] == "add" else [tree]
        total = np.zeros([self.env.size(lab) for lab in self.lhs])
        for term in terms:
            x = self.ev(term)
            for lab in list(x.labels):
                if lab in self.lhs:
                    continue
                if x.count.get(lab, 0) < 2:
                    raise ReaderError(f"index {lab!r} is written once, absent from the left, "
                                      f"and not under a Σ")
                x = IV(x.v.sum(axis=x.labels.index(lab)),
                       [m for m in x.labels if m != lab], x.count)
            total = total + _align(x, self.lhs)
        return total

    def leaf(self, v: np.ndarray, idx: tuple, name: str) -> IV:
        dims = self.env.index_dims(name)
        v = v.reshape([self.env.dims[d] for d in dims])
        if len(idx) != len(dims):
            raise ReaderError(f"{name} written with {len(idx)} indices; it has {len(dims)}")
        return self.over(v, idx, dims, name)

    def over(self, v: np.ndarray, idx: tuple, dims, name: str) -> IV:
        """``v`` (axes over ``dims``) at the letters ``idx``: a letter of another dim reads
        the axis' first elements, junk past its end (module docstring, Slicing)."""
        for n, (lab, d) in enumerate(zip(idx, dims)):
            own = self.env.letter_dim.get(lab.rstrip(PRIME))
            if own is None:
                raise ReaderError(f"index {lab!r} of {name} does not run over {d}")
            if own != d:  # another dim's letter: the axis' first elements, junk past its end
                at = np.arange(self.env.dims[own])
                inside = (at < self.env.dims[d]).reshape([-1] + [1] * (v.ndim - n - 1))
                v = np.where(inside, np.take(v, np.minimum(at, self.env.dims[d] - 1), axis=n),
                             OUTSIDE)
        return self.diag(v, idx)

    def mapped(self, ref, exprs) -> IV:
        """``X_{i, j·Dh + k}``: X read at indices computed from letters, over those letters;
        ``ref`` None: Kronecker's delta of the two indices (δ_{k, 0})."""
        v = dims = None
        if ref is None:
            if len(exprs) != 2:
                raise ReaderError(f"a Kronecker delta of {len(exprs)} indices")
        else:
            adjoint = ref[0] == "adj"
            name = ref[2] if adjoint else ref[1]
            if name not in self.env.shapes:
                raise ReaderError(f"unknown tensor {name!r}")
            dims = self.env.index_dims(name)
            shape = self.env.shapes[name]
            if len(exprs) != len(dims) and len(exprs) == len(shape):
                # t_{i, k − D} of t: [B, 1], a concatenated piece of one column read at the
                # joined index less its offset: its literal-1 axis is read too (0 … 0)
                sizes = [1 if d == 1 else self.env.dims[d] for d in shape]
                v = self.env.tensor(name, adjoint).reshape(sizes)
                return self.at_indices(v, None, exprs, sizes=sizes)
            if len(exprs) != len(dims):
                raise ReaderError(f"{name} written with {len(exprs)} indices; it has "
                                  f"{len(dims)}")
            v = self.env.tensor(name, adjoint).reshape([self.env.dims[d] for d in dims])
        return self.at_indices(v, dims, exprs)

    def at_indices(self, v, dims, exprs, sizes=None) -> IV:
        """The array ``v`` (axes over ``dims``, or of lengths ``sizes``) read at indices
        computed from letters, over those letters; ``v`` None: Kronecker's delta of the two
        indices."""
        if sizes is None:
            sizes = [self.env.dims[d] for d in dims or ()]
        exprs = [self.lone_pick(x) for x in exprs]
        written = [lab for x in exprs for lab in _index_labels(x, [])]
        labels = list(dict.fromkeys(written))
        grid = np.meshgrid(*[np.arange(self.env.size(lab)) for lab in labels], indexing="ij")
        at = dict(zip(labels, grid))

        def value(x):
            kind = x[0]
            if kind == "idx":
                return at[x[1]]
            if kind == "dim":
                return self.env.dims[x[1]]
            if kind == "add":
                return sum(value(y) for y in x[1])
            if kind == "mul":
                return math.prod(value(y) for y in x[1])
            if kind == "neg":
                return -value(x[1])
            if kind == "const":
                return x[1]
            if kind == "pick":  # tokens_i: the integer input at the letters' positions
                return self.env.picks(x[1])[tuple(at[lab] for lab in x[2])]
            if kind == "pickat":  # tok_{i, ⌊k/D⌋}: at positions computed from the letters
                picks = self.env.picks(x[1])
                if len(x[2]) != picks.ndim:
                    raise ReaderError(f"{x[1]} written with {len(x[2])} indices")
                at_picks = tuple(np.broadcast_to(value(y), grid[0].shape if grid else ())
                                 for y in x[2])
                # a read outside its axes is some element, which only a range factor cancels
                # (x0_(y0_{k}) 𝟙[0 ≤ k < M] of k over M + N), as slicing's junk is: without
                # the range the value differs from the reference and the line fails
                return picks[tuple(np.clip(a, 0, n - 1) for a, n in zip(at_picks, picks.shape))]
            if kind == "floordiv":
                return value(x[1]) // math.prod(self.env.dims[d] for d in x[2])
            return value(x[1]) % self.env.dims[x[2]]
        idx = tuple(np.broadcast_to(value(x), grid[0].shape if grid else ()) for x in exprs)
        count = {lab: written.count(lab) for lab in labels}
        if v is None:
            return IV((idx[0] == idx[1]).astype(float), labels, count)
        inside = np.ones(grid[0].shape if grid else (), dtype=bool)
        for i, n in zip(idx, sizes):
            inside &= (i >= 0) & (i < n)
        # outside its axis an element is no number: junk, which only a range's 0 cancels
        clipped = tuple(np.clip(i, 0, n - 1) for i, n in zip(idx, sizes))
        return IV(np.where(inside, v[clipped], OUTSIDE), labels, count)

    def lone_pick(self, x):
        """``Wo_(y,j)``, ``δ_(l,y)``: an integer input of one element (y of shape [1]), written
        bare at an index, is its one value (no dim's letter)."""
        if x[0] == "idx" and x[1] in self.env.integers and x[1] not in self.env.letter_dim:
            picks = self.env.picks(x[1])
            if picks.size != 1:
                raise ReaderError(f"{x[1]} of {picks.size} elements written as one index")
            return ("const", int(picks.reshape(-1)[0]))
        if x[0] in ("add", "mul"):
            return (x[0], [self.lone_pick(y) for y in x[1]])
        if x[0] == "neg":
            return (x[0], self.lone_pick(x[1]))
        return x

    def diag(self, v, idx):
        labels = []
        for lab in idx:
            if lab not in labels:
                labels.append(lab)
        letters = "abcdefghijklmnopqrstuvwxyz"
        code = {lab: letters[n] for n, lab in enumerate(labels)}
        sub = "".join(code[lab] for lab in idx) + "->" + "".join(code[lab] for lab in labels)
        count = {}
        for lab in idx:
            count[lab] = count.get(lab, 0) + 1
        return IV(np.einsum(sub, v), labels, count)

    def ev(self, t) -> IV:
        kind = t[0]
        if kind == "num":
            return IV(float(t[1]), (), {})
        if kind == "paren":
            return self.ev(t[1])
        if kind == "name" and t[1].rstrip(PRIME) in self.env.letter_dim and \
                t[1] not in self.env.shapes:  # an index as a value (𝟙[K ≤ k < N]): 0 … n − 1
            return IV(np.arange(self.env.size(t[1])), (t[1],), {t[1]: 1})
        if kind == "name":
            name, idx = self.env.split(t[1])
            if name == "δ":
                if len(idx) != 2 or self.env.size(idx[0]) != self.env.size(idx[1]):
                    raise ReaderError(f"a Kronecker delta {t[1]!r}")
                return self.diag(np.eye(self.env.size(idx[0])), idx) if idx[0] == idx[1] \
                    else IV(np.eye(self.env.size(idx[0])), idx, {idx[0]: 1, idx[1]: 1})
            if name in self.env.dims:
                return IV(float(self.env.dims[name]), (), {})
            return self.leaf(self.env.tensor(name, False), idx, name)
        if kind == "adj":
            name, idx = self.env.split(t[2])
            return self.leaf(self.env.tensor(name, True), idx, name)
        if kind == "mapel" and t[1] == ("name", "δ"):  # δ_{k, 0}: index k at position 0
            return self.mapped(None, t[2])
        if kind == "mapel":
            return self.mapped(t[1], t[2])
        if kind == "neg":
            x = self.ev(t[1])
            return IV(-x.v, x.labels, x.count)
        if kind == "add":
            xs = [self.ev(a) for a in t[1]]
            labels = _union(*xs)
            v = sum(_align(x, labels) for x in xs)
            count = {lab: max(x.count.get(lab, 0) for x in xs) for lab in labels}
            return IV(np.broadcast_to(v, [self.env.size(lab) for lab in labels]).copy(),
                      labels, count)
        if kind == "prod":
            acc = self.ev(t[1][0][1])
            brackets = [acc] if _iverson_node(t[1][0][1]) else []
            for op, f in t[1][1:]:
                x = self.ev(f)
                if op == "⊙" or op == "⊘":
                    raise ReaderError(f"{op} in an index form")
                if _iverson_node(f) and op == "":
                    brackets.append(x)
                g = np.divide if op == "/" else np.mod if op == "mod" else np.multiply
                with np.errstate(divide="ignore", invalid="ignore"):
                    acc = self.combine(acc, x, g)
            for b in brackets:  # README: 𝟙[…] is a strong zero, 0 whatever else is there
                acc = self.combine(acc, b, _strong_zero)
            return acc
        if kind == "sigma":
            body = self.ev(t[2])
            for lab in t[1]:
                if lab in body.labels:
                    body = IV(body.v.sum(axis=body.labels.index(lab)),
                              [m for m in body.labels if m != lab],
                              {m: c for m, c in body.count.items() if m != lab})
                else:
                    body = IV(body.v * self.env.size(lab), body.labels, body.count)
            return body
        if kind == "pow":
            x = self.ev(t[1])
            return IV(x.v ** float(t[2]), x.labels, x.count)
        if kind == "fn":
            x = self.ev(t[2])
            return IV(SCALAR_FUNCTIONS[t[1]](x.v), x.labels, x.count)
        if kind == "fnn":
            xs = [self.ev(a) for a in t[2]]
            zero = xs[0]
            for x in xs[1:]:
                zero = self.combine(zero, x, lambda p, q: 0 * p + 0 * q, add_counts=False)
            vals = [self.combine(zero, x, lambda p, q: 0 * p + q, add_counts=False) for x in xs]
            return IV(ELEMENTWISE[t[1]](*[v.v for v in vals]), vals[0].labels, vals[0].count)
        if kind == "step":
            x = self.combine(self.ev(t[1]), self.ev(t[2]), np.subtract, add_counts=False)
            return IV((x.v > 0).astype(float), x.labels, x.count)
        if kind == "sub":
            return self.subscripted(t[1], t[2])
        if kind == "subat":
            return self.subscripted(t[1], t[2], computed=True)
        if kind in ("T", "hpow", "ones", "norm"):
            raise ReaderError(f"{kind} in an index form")
        if kind == "call":
            return self.whole(t)
        raise ReaderError(f"cannot evaluate {kind}")

    def combine(self, a: IV, b: IV, f, add_counts=True) -> IV:
        labels = _union(a, b)
        v = f(_align(a, labels), _align(b, labels))
        count = {lab: (a.count.get(lab, 0) + b.count.get(lab, 0)) if add_counts
                 else max(a.count.get(lab, 0), b.count.get(lab, 0)) for lab in labels}
        return IV(np.broadcast_to(v, [self.env.size(lab) for lab in labels]).copy(), labels,
                  count)

    def subscripted_expression(self, call, idx) -> IV:
        """``softmax(2 S)_ij``, ``logsumexp(2 S)_i``: README, an expression passed to softmax
        or logsumexp is printed as itself; it is read as a matrix form, the result's axes
        named by the subscript's letters."""
        dims = [self.env.letter_dim.get(lab.rstrip(PRIME)) for lab in idx]
        if None in dims:
            raise ReaderError(f"unknown index letters in {idx!r}")
        sizes = [self.env.dims[d] for d in dims]
        if call[1] == "logsumexp" and _has_indices(self.env, call[2][0]):
            # logsumexp(Σ_j′ w_j′ Z_ijj′)_i: an argument in index form; its free letter
            # absent from the subscript is the axis it runs over (one only)
            x = self.free(call[2][0], idx)
            over = [m for m in x.labels if m not in idx]
            if len(over) != 1 or any(m not in x.labels for m in idx):
                raise ReaderError(f"logsumexp(…)_{''.join(idx)} over letters {over!r}")
            r = _logsumexp(x.v, x.labels.index(over[0]))
            return self.diag(_align(IV(r, [m for m in x.labels if m != over[0]], {}),
                                    list(dict.fromkeys(idx))), idx)
        if call[1] == "logsumexp":  # logsumexp(2 S)_i: each row's, the subscript's letters
            v = MatrixEval(self.env).ev(call[2][0]).v
            # logsumexp(logsumexp(x1))_i of x1: [M, N, K]: the inner a column of each
            # element (README, batched forms), the outer each column's number
            column = v.ndim > 2 and v.shape[-1] == 1 and "axis" not in call[3]
            if v.ndim < 2 or v.shape[-1] == 1 and "axis" not in call[3] and not column:
                raise ReaderError(f"logsumexp(…) of shape {v.shape} written with {idx!r}")
            r = _logsumexp(v, -2 if column else call[3].get("axis", -1))
            if r.size != int(np.prod(sizes)):
                raise ReaderError(f"logsumexp(…) of shape {v.shape} written with {idx!r}")
            return self.diag(r.reshape(sizes), idx)
        if call[1] in ("max", "min"):  # max(−X, axis=1)_i: NumPy's along the axis named
            if "axis" not in call[3] or _has_indices(self.env, call[2][0]):
                raise ReaderError(f"{call[1]}(…)_{''.join(idx)} without an axis or of an "
                                  "index form")
            v = np.asarray(MatrixEval(self.env).ev(call[2][0]).v, dtype=float)
            if v.ndim < 2 or v.shape[-1] == 1:
                raise ReaderError(f"{call[1]}(…) of shape {v.shape} written with {idx!r}")
            r = _axis_apply(call[1], v, call[3]["axis"])
            if r.size != int(np.prod(sizes)):
                raise ReaderError(f"{call[1]}(…) of shape {v.shape} written with {idx!r}")
            return self.diag(r.reshape(sizes), idx)
        if call[1] == "softmax" and _has_indices(self.env, call[2][0]):
            # softmax(Σ_k q_k X_ijk)_ij: an argument in index form has the subscript's letters
            # free; the softmax is along the axis the keyword names (the last letter's)
            x = self.free(call[2][0], idx)
            if sorted(x.labels) != sorted(dict.fromkeys(idx)):
                raise ReaderError(f"softmax(…)_{''.join(idx)} of free letters {x.labels!r}")
            v = _align(x, list(dict.fromkeys(idx)))
            return self.diag(_axis_apply("softmax", v, call[3].get("axis", -1)), idx)
        # the subscript's letters size a 𝟏 in the argument (softmax(0 𝟏)_i)
        ev = MatrixEval(self.env, tuple(sizes) if len(sizes) != 1 else (sizes[0], 1))
        v = np.asarray(ev.sized(ev.ev(call[2][0])).v, dtype=float)
        if len(sizes) == 1 and v.size < sizes[0] and v.size in v.shape:
            # a vector read at a letter of a wider dim (softmax(slice(x0, 0:M))_j 𝟙[0 ≤ j < M],
            # j over N): past its end an element is junk, which only a range's 0 cancels
            r = _axis_apply("softmax", v.reshape(-1), 0)
            return self.diag(np.concatenate([r, np.full(sizes[0] - r.size, OUTSIDE)]), idx)
        if v.size != int(np.prod(sizes)):
            raise ReaderError(f"softmax(…) of shape {v.shape} written with indices {idx!r}")
        axis = call[3].get("axis", -1)
        if v.ndim > 2 and v.shape[-1] == 1 and "axis" not in call[3]:
            axis = -2  # softmax(logsumexp(x1))_ij: each element's column, along it
        elif not -v.ndim <= axis < v.ndim or v.ndim == 2 and v.shape[1] == 1 and \
                "axis" not in call[3]:
            v = v.reshape(sizes)  # a vector's softmax is along its only axis
        return self.diag(_axis_apply("softmax", v, axis).reshape(sizes), idx)

    def free(self, tree, idx) -> IV:
        """An index-form argument of softmax or logsumexp at the subscript ``idx``: its
        repeated letters summed (Einstein); a free letter absent from the subscript stands
        for the subscript's letter of its dim absent from the argument (softmax(Σ_j′ w_j′
        Z_ijj′)_ij′: the argument's j is the subscript's j′, its own j′ bound inside)."""
        x = self.ev(tree)
        for lab in [m for m in x.labels if m not in idx and x.count.get(m, 0) >= 2]:
            x = IV(x.v.sum(axis=x.labels.index(lab)), [m for m in x.labels if m != lab],
                   x.count)
        spare = [m for m in dict.fromkeys(idx) if m not in x.labels]
        labels = list(x.labels)
        for n, lab in enumerate(labels):
            if lab in idx:
                continue
            same = [m for m in spare if _letter_dim(self.env, m.rstrip(PRIME)) ==
                    _letter_dim(self.env, lab.rstrip(PRIME))]
            if len(same) == 1:
                labels[n] = same[0]
                spare.remove(same[0])
        return IV(x.v, labels, {})

    def picked_expression(self, call, exprs) -> IV:
        """``softmax(X W1)_(i,lab_i)``: a function of an expression (read as a matrix form)
        at computed or picked positions, one per axis of its value that is no literal 1."""
        v = np.asarray(MatrixEval(self.env).ev(call[2][0]).v, dtype=float)
        axis = call[3].get("axis", -1)
        if "axis" not in call[3] and v.ndim >= 2 and v.shape[-1] == 1 and v.size > 1:
            # README: a vector is a column, its softmax along its length (softmax(σ(x0))
            # of x0: [R] is over R), as of an M×1 tensor
            axis = max(a for a, n in enumerate(v.shape) if n != 1)
        if call[1] == "logsumexp":
            r = _logsumexp(v, axis)
        else:
            r = _axis_apply("softmax", v, axis)
        r = np.asarray(r)
        if r.ndim != len(exprs):
            r = r.reshape([n for n in r.shape if n != 1])
        if r.ndim != len(exprs):
            raise ReaderError(f"{call[1]}(…) of shape {v.shape} at {len(exprs)} positions")
        return self.at_indices(r, None, exprs, sizes=list(r.shape))

    def whole(self, call) -> IV:
        """``logsumexp(z)`` of a vector: a scalar, written without a subscript; ``det(A)``,
        ``logdet(A)``, ``max(v)``, ``min(v)``, scalars too."""
        if call[1] in ("det", "logdet", "max", "min") and len(call[2]) == 1:
            v = np.asarray(MatrixEval(self.env).call(call[1], call[2], call[3]).v, dtype=float)
            if v.size != 1:
                raise ReaderError(f"{call[1]}(…) of size {v.size} without a subscript")
            return IV(v.reshape(()), (), {})
        if call[1] != "logsumexp" or len(call[2]) != 1:
            raise ReaderError(f"{call[1]}(…) without a subscript in an index form")
        if call[2][0][0] != "name":  # of an expression, printed as itself: a vector's total
            v = np.asarray(MatrixEval(self.env).ev(call[2][0]).v, dtype=float)
            if "axis" in call[3]:  # over the one axis of a column or row (x0: [M, 1]): one
                axis = call[3]["axis"]  # number, NumPy's reading; any other size is refused
                if not -v.ndim <= axis < v.ndim:
                    raise ReaderError(f"logsumexp(…, axis={axis}) of rank {v.ndim}")
                r = np.asarray(_axis_apply("logsumexp", v, axis))
                if r.size != 1:
                    raise ReaderError("logsumexp(…) of a matrix expression without a subscript")
                return IV(r.reshape(()), (), {})
            # a row (x0: [1, N]) too: its one row's logsumexp, README's of each row
            if not (v.ndim == 1 or v.ndim == 2 and 1 in v.shape):
                raise ReaderError("logsumexp(…) of a matrix expression without a subscript")
            return IV(np.asarray(_axis_apply("logsumexp", v.reshape(-1), 0)).reshape(()), (), {})
        r, axis, shp = _axis_function_of(self.env, "logsumexp", call[2][0][1], call[3])
        if r.size != 1:
            raise ReaderError(f"logsumexp({call[2][0][1]}) without a subscript")
        return IV(r.reshape(()), (), {})

    def subscripted(self, call, idx, computed=False) -> IV:
        """``softmax(S)_ij``, ``logsumexp(Z)_i``: a function of a whole tensor, indexed (its
        literal-1 axes carry no index); ``computed``: at computed indices or positions,
        ``softmax(S, axis=0)_{0, i, j}``."""
        inv = call[1][1] if call[0] == "paren" and call[1][0] == "T" else call[1]
        # (A⁻¹)_ij, (A⁻ᵀ)_ij: an element of the inverse or of its transpose
        inverse = call[0] == "paren" and inv[0] == "pow" and inv[2] == -1
        if computed and not inverse and call[0] == "call" and \
                call[1] in ("softmax", "logsumexp") and len(call[2]) == 1 and \
                call[2][0][0] != "name":
            return self.picked_expression(call, idx)
        if computed and (inverse or call[0] != "call" or call[2][0][0] != "name"):
            raise ReaderError(f"computed indices on {call!r}")
        if inverse:  # (A⁻¹)_ij: README, an element of the inverse (or A⁻ᵀ's)
            v = MatrixEval(self.env).ev(call[1]).v
            return self.diag(v, idx)
        if call[0] != "call" or call[1] not in ("softmax", "logsumexp", "max", "min") or \
                len(call[2]) != 1:
            raise ReaderError(f"a subscript on {call!r}")
        if call[2][0][0] != "name":
            return self.subscripted_expression(call, idx)
        r, axis, shp = _axis_function_of(self.env, call[1], call[2][0][1], call[3])
        dims = list(self.env.shapes[self.env.split(call[2][0][1])[0]])
        if call[1] in ("logsumexp", "max", "min"):  # reductions drop their axis
            dims.pop(axis)
        keep = [n for n, d in enumerate(dims) if d != 1]
        r = r.reshape([r.shape[n] for n in keep])
        rdims = [dims[n] for n in keep]
        if computed:
            if len(idx) != len(rdims):
                raise ReaderError(f"{call[1]}(…) written with {len(idx)} indices")
            return self.at_indices(r, rdims, idx)
        if len(idx) != len(rdims):
            raise ReaderError(f"{call[1]}(…) written with {len(idx)} indices; it has "
                              f"{len(rdims)}")
        # logsumexp(Z, axis=1)_ik′, k′ over a piece's D of Z's D2: the axis' first elements
        return self.over(r, idx, rdims, f"{call[1]}(…)")
