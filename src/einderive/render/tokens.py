"""What a printer asks of its notation: a style's tokens, and the names of tensors.

:class:`Style` is the tokens only (symbols, brackets, how a name is written);
:class:`NotationBase` adds what the notation knows beyond them (how a tensor of
the graph is named, and the other printer).  The printers depend on this
module alone, so the notation can build them without an import cycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sympy import Add, Symbol

from .. import matrix as mx
from ..ops import ONEHOT, Digit, Flat, ScalarFn, Shift, Window, has_index_map


class Style(ABC):
    """The tokens of a notation: symbols, brackets and how names are written, no structure.

    ``ctx`` (the graph's index context, or None) and ``loss`` let a style spell
    names consistently over a whole graph."""

    ctx: Any = None
    loss: str
    stacked_fractions = False  # a fraction bar, which brackets its numerator and denominator
    # a number as its decimal wherever that is exact (3/10 as 0.3): a named constant's line
    # that writes decimals (c = 0.1 + 0.2), not a formula's coefficient, which reads (3/10) x
    decimals = False
    radical_is_atom = False  # a radical sign bounds its argument: (√x)³ needs no brackets

    def paren(self, s: str) -> str:
        return f"({s})"

    def has_subscript(self, shown: str) -> bool:
        """Whether a printed name carries a subscript of its own (``y_true``, not ``W1``)."""
        return "_" in shown.strip("_")

    def batch_element(self, shown: str, idx: str) -> str:
        """A batch element's matrix: ``X_b``; a name with a subscript of its own bracketed,
        ``(x_seq)_b``, so that the batch's subscript, and a ᵀ after it, are not read as
        part of the name's (``x_seq,bᵀ``)."""
        return self.subscript(self.paren(shown) if self.has_subscript(shown) else shown, idx)

    def kron(self, a: str, b: str) -> str:
        """The Kronecker product a ⊗ b of two printed matrices."""
        return f"{a} ⊗ {b}"

    def style_minus(self) -> str:
        return "−"

    def times_token(self) -> str:
        return " "

    def ones_token(self) -> str:
        return "𝟏"

    def one_hot_token(self) -> str:
        return ONEHOT

    def compound_index(self, parts: list[str]) -> str:
        """Indices of which one is an element (tokens_i): separated, and bracketed."""
        return "(" + ",".join(parts) + ")"

    def eye_token(self) -> str:
        """Bold, like 𝟏: a plain ``I`` is a name a tensor may have."""
        return "𝐈"

    def odot_token(self) -> str:
        return " ⊙ "

    def conv_token(self, full: bool) -> str:
        """Between the operands of a convolution: ⋆ a correlation, ∗ a full convolution."""
        return " ∗ " if full else " ⋆ "

    def oslash_token(self) -> str:
        return " ⊘ "

    def juxtapose(self, parts: list[str]) -> str:
        return " ".join(parts)

    def has_fraction(self, s: str) -> bool:
        """Whether printed ``s`` holds a stacked fraction (none may be set inside another)."""
        return False

    def fraction_too_wide(self, top: str, bottom: str) -> bool:
        """Whether a stacked fraction is too wide to be left unbreakable in a row."""
        return False

    @abstractmethod
    def scalar_times(self) -> str:
        """Between the factors of a product of scalars."""

    @abstractmethod
    def coefficient_gap(self) -> str:
        """Between a scalar coefficient that is no number and the tensor it scales."""

    @abstractmethod
    def fraction(self, top: str, bottom: str) -> str:
        """A stacked fraction (asked only of a style with ``stacked_fractions``)."""

    @abstractmethod
    def number(self, r: Any) -> str: ...

    def dim(self, name: str) -> str:
        """A dim's size as a formula writes it: its name, but a stack's count dim the graph
        made (n2, no name of the user's) its number, 2."""
        ctx = self.ctx
        if ctx is not None and ctx.counts and name in ctx.sizes:
            count = ctx.counts.get(ctx.sizes[name])
            if count is not None:
                return self.number(count)
        return self.dim_name(name)

    @abstractmethod
    def dim_name(self, name: str) -> str: ...

    @abstractmethod
    def index_name(self, name: str) -> str: ...

    @abstractmethod
    def tensor_name(self, name: str, idx: str) -> str: ...

    @abstractmethod
    def subscript(self, s: str, idx: str) -> str: ...

    @abstractmethod
    def gradient_of(self, t: str, idx: str) -> str:
        """The gradient of the loss with respect to the tensor written ``t``."""

    @abstractmethod
    def adjoint_of(self, t: str, transposed: bool = False) -> str: ...

    @abstractmethod
    def tangent_name(self, name: str, idx: str) -> str:
        """The tangent ṫ of the tensor ``name`` (second order), or its element."""

    @abstractmethod
    def rop_of(self, t: str, transposed: bool = False) -> str:
        """ℛ{∂L/∂t}, the tangent of the adjoint of the tensor written ``t``."""

    @abstractmethod
    def hessian_of(self, a: str, b: str, square: bool) -> str:
        """∂²L/∂a∂b (``square``: ∂²L/∂a², a and b the same input), a Hessian block."""

    @abstractmethod
    def split_part(self, gauss_newton: bool, s: str) -> str:
        """One part of the Gauss-Newton split of ``s`` (a Hessian block or its product):
        GN{s}, its Gauss-Newton part, or rest{s}, the rest."""

    @abstractmethod
    def partial(self, top: str, bottom: str) -> str: ...

    @abstractmethod
    def transposed(self, s: str) -> str: ...

    @abstractmethod
    def sum_sign(self, v: Any) -> str: ...

    @abstractmethod
    def delta(self, idx: str) -> str: ...

    @abstractmethod
    def sqrt(self, s: str, composite: bool) -> str: ...

    @abstractmethod
    def norm(self, s: str, frobenius: bool) -> str: ...

    @abstractmethod
    def matrix_function(self, op: Any, arg: str, transposed: bool, idx: str) -> str: ...

    @abstractmethod
    def power(self, base: str, p: Any) -> str: ...

    @abstractmethod
    def hadamard_power(self, base: str, p: Any) -> str: ...

    @abstractmethod
    def template(self, spec: ScalarFn, args: list[str]) -> str: ...

    @abstractmethod
    def call(self, spec: ScalarFn, arg: str) -> str: ...

    @abstractmethod
    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str: ...

    @abstractmethod
    def operator(self, name: str, arg: str) -> str: ...

    @abstractmethod
    def keyword(self, name: str, value: str) -> str:
        """A keyword argument of an operator, ``axis=1``: a word, never a product of
        italic letters."""

    @abstractmethod
    def einsum(self, subscripts: str, operands: list[str]) -> str: ...

    @abstractmethod
    def floor_div(self, a: str, b: str) -> str:
        """⌊a/b⌋: the digit of a reshape's merged index (an index map's inverse)."""

    @abstractmethod
    def modulo(self, a: str, b: str) -> str: ...

    def index_list(self, idx: Any) -> str:
        """``ij``; with an index map (a reshape's), separated: ``i,h·Dh + d``."""
        if not has_index_map(tuple(idx)):
            return "".join(self.index_name(i.name) for i in idx if isinstance(i, Symbol))
        return self.index_group(", ".join(self.index_term(i) for i in idx if i != 0))

    @abstractmethod
    def index_group(self, s: str) -> str:
        """Indices that are not all letters, as one subscript: ``{i, j·Dh + k}``."""

    def index_term(self, i: Any) -> str:
        """One index: a letter, or an index map (ops.Flat, ops.Digit) written out."""
        if isinstance(i, Flat):
            sizes = [self.dim(str(s)) for s in i.sizes]
            # a remainder beside another term or a factor is in parentheses: m·R + (l mod R),
            # never m·R + l mod R, which reads as (m·R + l) mod R
            many = len(i.digits) > 1
            # a digit that is a number (a stack's piece, read at its position): 0 adds no
            # term, 1 its stride alone (i·P + 1, N + i·M + j; never 0·N + i or 1·N + i)
            # a digit that is a sum, multiplied, is in parentheses too: (j − 1)·D + k, never
            # j − 1·D + k (read j − D + k)
            terms = [self.scalar_times().join(
                ([] if d == 1 and sizes[p + 1:] else
                 [self.paren(self.index_term(d)) if (many or sizes[p + 1:]) and _remainder(d)
                  or sizes[p + 1:] and _summed(d) else self.index_term(d)]) + sizes[p + 1:])
                for p, d in enumerate(i.digits) if d != 0]
            return " + ".join(terms) or "0"
        if isinstance(i, Digit):
            sizes = [self.dim(str(s)) for s in i.sizes]
            # a sum of indices divided is in parentheses: ⌊(i·T1 + j + 1)/T⌋, (i·T1 + j) mod T
            p, k = i.position, self.index_term(i.k)
            k = k if isinstance(i.k, Symbol) else self.paren(k)
            below = sizes[p + 1:]
            # a product divisor is in parentheses: ⌊l/(R·R)⌋, never ⌊l/R·R⌋ (read (l/R)·R)
            div = self.scalar_times().join(below)
            div = self.paren(div) if len(below) > 1 else div
            out = self.floor_div(k, div) if below else k
            return self.modulo(out, sizes[p]) if p else out
        if isinstance(i, (Shift, Window)):  # j + lo, j − off (j alone for 0: the range is j's)
            offset = i.offset if isinstance(i, Shift) else -i.offset
            while isinstance(i.index, (Shift, Window)):  # a slice of a piece read in the
                # piece's window: (k − H) + H is k, as written k − H + H
                i, offset = i.index, offset + (i.index.offset if isinstance(i.index, Shift)
                                               else -i.index.offset)
            if offset == 0:
                return self.index_term(i.index)
            if isinstance(i.index, Add):  # a collapsed shift read shifted: (l − K) + K is l
                return self.index_term(i.index + offset)
            return self.linear_index(i.index, offset)
        if isinstance(i, Add):  # a collapsed shift, s − lo
            ind = Add(*[t for t in Add.make_args(i) if not t.is_Number and not t.is_positive
                        and not (-t).is_positive])
            return self.linear_index(ind, i - ind)
        if isinstance(i, Symbol) and i.is_positive:  # a dim's size as a position, W_{D, m}
            return self.dim(i.name)
        return self.index_name(i.name) if isinstance(i, Symbol) else str(i)

    def linear_index(self, index: Any, offset: Any) -> str:
        """``s − lo``, ``t + k``: the index terms first, then the dims, then the number."""
        # added indices before subtracted ones: k − m, never −m + k
        terms = sorted(Add.make_args(index), key=lambda t: (bool(t.as_coeff_Mul()[0] < 0),
                                                            str(t))) + sorted(
            Add.make_args(offset), key=lambda t: (t.is_Number, str(t)))
        out = ""
        for n, t in enumerate(t for t in terms if t != 0):
            coeff, rest = t.as_coeff_Mul()
            body = str(abs(coeff)) if rest == 1 else self._linear_atom(rest)
            if rest != 1 and abs(coeff) != 1:
                body = str(abs(coeff)) + self.scalar_times() + body
            sign = self.style_minus() if coeff < 0 else "+"
            out += (sign if coeff < 0 else "") + body if n == 0 else f" {sign} {body}"
        return out or "0"

    def _linear_atom(self, t: Any) -> str:
        if isinstance(t, Symbol) and t.is_positive:  # a dim's size
            return self.dim(t.name)
        # a remainder beside a shift is in parentheses: ((k·T + i) mod T1) − 1
        return self.paren(self.index_term(t)) if _remainder(t) else self.index_term(t)

    def function(self, spec: ScalarFn, args: list[str], composite: bool) -> str:
        """``σ(x)``, ``√x``, ``𝟙[x > 0]``: a scalar function applied, in this style's tokens
        (its print style is in its op-table row)."""
        if spec.style == "template":
            return self.template(spec, args)
        if spec.style == "prefix":
            return self.sqrt(args[0], composite)
        return self.call(spec, ", ".join(args))


class NotationBase(Style):
    """A style over one derivation's names, as the two printers see it."""

    positions: dict[Any, int]  # node -> where the matrix form puts it
    anon: dict[str, tuple[Any, Any, mx.M | None]]  # name -> (definition, indices, matrix)
    aliases: dict[str, str]  # an anonymous intermediate's short name where one stands for it
    einstein: bool  # drop a Σ whose index shows exactly twice in its term

    @abstractmethod
    def tensor(self, name: str, idx: str, bare: bool = True, element: bool = False) -> str:
        """A tensor's element (an anonymous intermediate as its definition); ``element``:
        ``idx`` is a batch element's subscript, the matrix of one element."""

    @abstractmethod
    def adjoint(self, name: str, idx: str, transposed: bool = False,
                element: bool = False) -> str: ...

    @abstractmethod
    def tangent(self, name: str, idx: str, transposed: bool = False,
                element: bool = False) -> str: ...

    @abstractmethod
    def rop(self, name: str, idx: str, transposed: bool = False,
            element: bool = False) -> str: ...

    @abstractmethod
    def matrix(self, m: mx.M) -> str:
        """A matrix form (the matrix-form printer's)."""

    @abstractmethod
    def scalar(self, e: Any) -> str:
        """A SymPy constant inside a matrix form (the index-form printer's)."""

    @abstractmethod
    def scalar_coefficient(self, c: Any) -> str:
        """A SymPy constant in front of a tensor, bracketed as a coefficient needs."""


def _summed(d: Any) -> bool:
    """Whether an index map's digit prints as a sum or difference (j − 1, a slice's shift
    of its letter; s + lo): a shift by 0 prints its index alone."""
    offset: Any = 0
    while isinstance(d, (Shift, Window)):  # (nested as Style.index_term reads them)
        offset += d.offset if isinstance(d, Shift) else -d.offset
        d = d.index
    return offset != 0 or isinstance(d, Add)


def _remainder(d: Any) -> bool:
    """Whether an index map's digit prints with a remainder, ``⌊l/R⌋ mod R``: also a shift
    that prints as its collapsed digit (Style.index_term), a slice's ``l mod D`` read back at
    its offset (was ``⌊l/D⌋·D + l mod D``, read (⌊l/D⌋·D + l) mod D)."""
    if isinstance(d, (Shift, Window)):
        offset = d.offset if isinstance(d, Shift) else -d.offset
        if offset == 0:
            return _remainder(d.index)
        return isinstance(d.index, Add) and _remainder(d.index + offset)
    return isinstance(d, Digit) and d.position > 0
