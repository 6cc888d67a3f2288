"""The index-form printer: SymPy trees (indexed symbols, sums, Kronecker deltas) as text.

It owns the structure (order of terms and factors, brackets, Einstein's
convention, fractions); every symbol and bracket comes from the notation's
style, so the same printer writes Unicode and LaTeX.  An anonymous
intermediate's matrix form is printed by the matrix-form printer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set as AbstractSet
from typing import Any, TypeVar

from sympy import (Add, Basic, Expr, Indexed, Integer, KroneckerDelta, Mul, Pow, Rational, S,
                   Sum, Symbol)

from ..indexed import PRIME, dim_polynomial_terms, free_symbols, is_number, nodes_of
from ..matrix import Ref, Transpose
from ..ops import (AXIS_OPS, AxisFunction, Digit, ElementwiseFunction, Flat, Shift, Window,
                   has_index_map)
from ..precedence import Prec
from .readable import Rewriter, is_dim
from .tokens import NotationBase
from .tree_printer import TreePrinter

_T = TypeVar("_T")

UNPLACED = float("inf")  # the position of a factor the matrix form does not place: last


class IndexPrinter(TreePrinter):
    """Prints one index form at a time; ``n`` supplies the tokens and the tensor names."""

    tree = Basic

    def __init__(self, n: NotationBase) -> None:
        self.n = n
        self.origin: dict[Any, Any] = {}  # node rewritten for reading -> the node positions know
        self._implicit: set[Any] = set()  # indices whose Σ Einstein's convention drops

    def prec(self, e: Any) -> Prec:
        return index_precedence(e)

    def counted(self, e: Any) -> Any:
        """A constant inside a matrix form (a slice's bounds, a coefficient) with each count
        dim of a stack (n2) its number: ``2:K + 2``, as :meth:`index` prints index forms."""
        ctx = self.n.ctx
        if ctx is None or not ctx.counts or not isinstance(e, Basic):
            return e
        return e.xreplace(ctx.counts)

    def empty(self, e: Any) -> str:
        """A SymPy node with no method of its own (a ``Float``) prints as SymPy writes it."""
        if isinstance(e, Basic):
            return str(e)
        return super().empty(e)

    def wrap(self, e: Any, level: Prec) -> str:
        s = self._print(e)
        return self.n.paren(s) if self.prec(e) < level else s

    # -- a whole index form ------------------------------------------------------------------

    def index(self, e: Any, free: tuple[Any, ...] = ()) -> str:
        """An index form, with Einstein's convention where it is unambiguous.

        ``free`` are the left-hand side's indices: no sum may take their letters."""
        ctx = self.n.ctx
        rw = Rewriter({name: v[:2] for name, v in self.n.anon.items()},
                      lambda key: ctx.tensor_of.get(key) if ctx else None)
        lhs = frozenset(i.name for i in free if isinstance(i, Symbol))
        e = rw.disambiguate(rw.logistic(rw.unrooted(rw.inline(e))), lhs)
        if ctx is not None and ctx.counts:
            e = rw.counted(e, ctx.counts)
        self.origin = rw.origin
        # the letters each term writes first take the fewest primes (i′′ before i′′′); a
        # term's sums are its own, so each term is read alone
        free_names = lhs | {s.name for s in free_symbols(e) if isinstance(s, Symbol)}
        terms = list(e.args) if isinstance(e, Add) else [e]
        if not any(_reordered_letters(t, free_names) for t in terms):
            return self._whole(e)
        kept = dict(rw.origin)
        shape, heard = self._listening(e)
        # a form of one term is its own only term: listened to once, its letters read twice
        ordered = [self._letters_in_order(rw, t, free_names, heard if t is e else None)
                   for t in terms]
        if any(a is not b for a, b in zip(ordered, terms)):
            new = rw.with_args(e, ordered) if isinstance(e, Add) else ordered[0]
            # only where the form is written as it was, letters aside: a renamed factor may
            # be another's old self (the positions the matrix form gives are by node), and
            # SymPy orders the factors it does not place by their letters (a trace's
            # A X Bm Xᵀ C must not turn into A Bm X X C for the sake of its primes)
            if self._listening(new)[0] == shape:
                return self._whole(new)
            rw.origin.clear()
            rw.origin.update(kept)
        return self._whole(e)

    def _letters_in_order(self, rw: Rewriter, e: Any, free: AbstractSet[str],
                          written: list[str] | None = None) -> Any:
        """``e`` (a term) with its summation letters renamed in the order it writes them
        (``written``, where :meth:`_listening` has heard them already)."""
        bound = _reordered_letters(e, free)
        if not bound:
            return e
        if written is None:
            written = self._listening(e)[1]
        renamed = _in_written_order(bound, written, self._implicit_letters(e))
        if not renamed:
            return e
        return rw.renamed(e, {bound[a]: bound[b] for a, b in renamed.items()})

    def _whole(self, e: Any) -> str:
        if isinstance(e, Add):
            return self._join_terms(self._ordered_terms(e), top=True)
        return self._term(e)

    def _listening(self, e: Any) -> tuple[str, list[str]]:
        """``e`` printed with every index letter a blank, and the letters the notation
        writes, in order."""
        n = self.n
        written: list[str] = []

        def heard(name: str) -> str:
            written.append(name)
            return "\x00"

        n.index_name = heard  # type: ignore[method-assign]
        try:
            return self._whole(e), written
        finally:
            del n.index_name

    def _implicit_letters(self, e: Any) -> set[str]:
        """The letters of the sums Einstein's convention drops in a term of ``e``."""
        terms = self._flat_terms(self._ordered_terms(e)) if isinstance(e, Add) else [e]
        out: set[str] = set()
        for t in terms:
            shown = self._implicit_body(-t if t.could_extract_minus_sign() else t)
            if shown is not None:
                out |= {v.name for v in shown[1] if isinstance(v, Symbol)}
        return out

    def _ordered_terms(self, e: Add) -> list[Any]:
        poly = dim_polynomial_terms(e)
        if poly is not None:  # 2 N² − 3 N − 1, in every notation
            return poly
        args = list(e.args)
        if self.n.positions:
            return sorted(args, key=lambda a: (self._pos(a), a.could_extract_minus_sign()))
        return sorted(args, key=lambda a: a.could_extract_minus_sign())

    def _flat_terms(self, terms: list[Any]) -> list[Any]:
        """Terms of nested sums, in order: ``a + (b − c)`` is written ``a + b − c``.

        Negating a whole nested sum to print its sign in front would flip every
        term after its first, so nested sums are opened before signs are read."""
        out: list[Any] = []
        for t in terms:
            out += self._flat_terms(self._ordered_terms(t)) if isinstance(t, Add) else [t]
        return out

    def _join_terms(self, terms: list[Any], top: bool = False) -> str:
        minus = self.n.style_minus()
        out = ""
        for n, t in enumerate(self._flat_terms(terms)):
            neg = t.could_extract_minus_sign()
            u = -t if neg else t
            body = self._term(u) if top else self._print(u)
            # what is printed after the sign: a term whose Σ Einstein's convention drops
            # prints its body bare, and −Σ(a + b) is −(a + b), never −a + b
            shown = self._implicit_body(u) if top else None
            bare = u if shown is None else shown[0]
            if neg and self.prec(bare) <= Prec.ADD and not isinstance(bare, Sum):
                body = self.n.paren(body)
            if n == 0:
                out = minus + body if neg else body
            else:
                out += f" {minus} {body}" if neg else f" + {body}"
        return out

    def _implicit_body(self, e: Any) -> tuple[Any, list[Any]] | None:
        """A top-level term whose sums Einstein's convention drops (every summed index shows
        exactly twice): what is printed in its place, and the indices summed; else None."""
        factors: list[Any] = []
        summed: list[Any] = []
        _flatten_sums(e, factors, summed)
        if not summed or not self.n.einstein:
            return None
        if all(_counted_apart(f) for f in factors) and \
                not all(_count_product(factors, v) == 2 for v in summed):
            return None  # told without building the product (most forms that keep their Σ)
        product = Mul(*factors)  # built once, not once per summed index
        if all(_count(product, v) == 2 for v in summed):
            return (product if len(factors) > 1 else factors[0]), summed
        return None

    def _term(self, e: Any) -> str:
        """A top-level term: drop its sums when every summed index shows exactly twice."""
        shown = self._implicit_body(e)
        if shown is None:
            return self._print(e)
        self._implicit = set(shown[1])
        try:
            return self._print(shown[0])
        finally:
            self._implicit = set()

    # -- sums, products, powers ----------------------------------------------------------------

    def _print_Add(self, e: Add) -> str:
        return self._join_terms(self._ordered_terms(e))

    def _print_Mul(self, e: Mul) -> str:
        folded = _folded(e)
        if folded != e:
            return self._print(folded)
        if e.could_extract_minus_sign():
            rest = -e
            return self.n.style_minus() + (self._print(rest) if isinstance(rest, Sum)
                                     else self.wrap(rest, Prec.MUL))
        consts, num, den = [], [], []
        for a in e.args:
            if self._is_constant(a):
                consts.append(a)
            elif isinstance(a, Pow) and a.exp.is_negative:
                den.append(Pow(a.base, -a.exp))
            else:
                num.append(a)
        pos = [self._pos(a) for a in num]
        if len(set(pos)) == len(pos):  # no tie: the kind (a walk of each factor) is not read
            num = [a for _, a in sorted(zip(pos, num), key=lambda p: p[0])]
        else:
            num.sort(key=lambda a: (self._pos(a), self._kind_rank(a)))
        return self.product(Mul(*consts) if consts else S.One, num, den)

    def _pos(self, a: Any) -> float:
        """Where the matrix form puts ``a`` (read through the rewrites for reading)."""
        return self.n.positions.get(self.origin.get(a, a), UNPLACED)

    def _kind_rank(self, a: Any) -> int:
        """Without a matrix form to follow: deltas, then adjoints, then the rest."""
        if isinstance(a, KroneckerDelta):
            return 0
        if self.n.ctx is not None and _reads_key(a, self.n.ctx.adjoint_of):
            return 1
        return 2

    def _is_constant(self, a: Any) -> bool:
        if _reads_tensor(a):
            return False  # found at the first element, not through every free symbol
        if is_number(a):
            return True
        syms = free_symbols(a)
        return bool(syms) and self.n.ctx is not None and \
            all(s in self.n.ctx.dim_of_size for s in syms) and not nodes_of(a, Indexed)

    def _print_Pow(self, e: Pow) -> str:
        base, p = e.base, e.exp
        if p == S.Half:
            return self.n.sqrt(self._print(base), self.prec(base) < Prec.ATOM)
        if p == 2 and self._implicit and any(v in base.free_symbols for v in self._implicit):
            s = self.wrap(base, Prec.POW)
            return f"{s}{self.n.times_token()}{s}"
        if p.is_negative:
            return self.product(S.One, [], [Pow(base, -p)])
        if is_prefix(base) and self.n.radical_is_atom:
            return self.n.power(self._print(base), p)  # {\sqrt{x}}^{3}: the radical bounds it
        return self.n.power(self.wrap(base, Prec.ATOM), p)

    def _print_Sum(self, e: Sum) -> str:
        body = e.function
        head = "".join(self.n.sum_sign(v) for v, _, _ in e.limits)
        inner = self.wrap(body, Prec.MUL) if not isinstance(body, Sum) else self._print(body)
        return f"{head}{inner}"

    def _num_factor(self, a: Any, last: bool) -> str:
        """A factor of a product; a sum needs no brackets when nothing follows it."""
        if isinstance(a, Sum):
            return self._print(a) if last else self.n.paren(self._print(a))
        return self.wrap(a, Prec.MUL)

    def product(self, coeff: Expr, num: list[Any], den: list[Any]) -> str:
        """``coeff · num / den``: a fraction bar where the style stacks fractions, else ``/``."""
        if self.n.stacked_fractions:
            return self._stacked_product(coeff, num, den)
        return self._inline_product(coeff, num, den)

    def _inline_product(self, coeff: Expr, num: list[Any], den: list[Any]) -> str:
        parts = []
        if coeff != 1:
            parts.append(self.coefficient(coeff, bool(num or den)))
        parts += [self._num_factor(a, n == len(num) - 1 and not den) for n, a in enumerate(num)]
        s = " ".join(parts) if parts else "1"
        if den:
            return f"{s} / {self._divisor(lambda: self._inline_divisor(den))}"
        return s

    def _inline_divisor(self, den: list[Any]) -> str:
        if len(den) == 1:
            d = den[0]
            # a divisor binds tighter than a product: a / (b c), never a / b c
            return self._print(d) if is_prefix(d) else self.wrap(d, Prec.POW)
        return self.n.paren(' '.join(self.wrap(x, Prec.POW) for x in den))

    def _divisor(self, show: Callable[[], _T]) -> _T:
        """A denominator's text: a square there is x_i², not x_i x_i (``_count`` counts a
        negative power's index once, as written; doubled, y_i / x_i x_i read as i three
        times and as (y_i / x_i) x_i)."""
        implicit, self._implicit = self._implicit, set()
        try:
            return show()
        finally:
            self._implicit = implicit

    def coefficient(self, c: Expr, followed: bool) -> str:
        """A constant in front of a product: bracketed unless it is one atom or an integer."""
        s = self._const(c)
        if followed and not c.is_Integer and self.prec(c) < Prec.ATOM and not _radical(c):
            return self.n.paren(s)
        return s

    def _const(self, c: Expr) -> str:
        """A constant (numbers and dims), ``a/b`` with each side bracketed by precedence."""
        if c.is_Rational:
            return self.n.number(c)
        n, d = c.as_numer_denom()
        top = self._plain(n)
        if d == 1:
            return top
        if self.prec(n) < Prec.MUL:
            top = self.n.paren(top)  # (2 N − 3)/(N − 1)
        bottom = self._plain(d)
        if self.prec(d) <= Prec.MUL and not is_prefix(d):
            bottom = self.n.paren(bottom)  # 1/(N (N − 1))
        return f"{top}/{bottom}"

    def _plain(self, c: Any) -> str:
        if c.is_Mul:
            return " ".join(self._plain(a) if self.prec(a) >= Prec.MUL else
                            self.n.paren(self._plain(a)) for a in c.args)
        if isinstance(c, Pow):
            if c.exp == S.Half:
                return self.n.sqrt(self._plain(c.base), self.prec(c.base) < Prec.ATOM)
            base = self._plain(c.base)
            atom = self.prec(c.base) >= Prec.ATOM or is_prefix(c.base) and self.n.radical_is_atom
            return self.n.power(base if atom else self.n.paren(base), c.exp)
        return self._print(c)

    def _stacked_product(self, coeff: Expr, num: list[Any], den: list[Any]) -> str:
        """``coeff · num / den`` with fraction bars, in the structure the inline form has:
        a constant with a denominator in front (``\\frac{1}{D} \\sum_j X_{ij}``, as the
        text's ``(1/D) Σ_j X_ij``), then ``\\frac{num}{den}``.  A fraction is never set
        inside another: a numerator that holds one (an adjoint ``∂L/∂x``) has its
        denominator factored out in front, ``\\frac{1}{2 x} \\frac{∂L}{∂x}``."""
        c_num, c_den = coeff.as_numer_denom() if coeff != 1 else (S.One, S.One)
        # alone, over a bar (a product of constants factor by factor: printing it whole
        # would come back here)
        lead = self._constant_factors(c_num) if c_num.is_Mul else self._print(c_num)
        factor = self._constant_factors(c_num)  # before other factors: (N − 1) x_i
        top = " ".join(self._num_factor(a, n == len(num) - 1) for n, a in enumerate(num))
        factors = self._divisor(lambda: [self._num_factor(d, n == len(den) - 1)
                                         for n, d in enumerate(den)])
        bottom = [self._divisor(lambda: self._print(den[0]))] if len(den) == 1 else factors
        c_bottom = self._constant_factors(c_den) if den or c_den.is_Mul else self._print(c_den)
        # the constant and the factors under one bar: each factor bracketed, 2 (1 + x²)
        whole = " ".join([c_bottom, *factors] if c_den != 1 else bottom)
        if not num:  # 1/(2 √x): one fraction; 2 N: no fraction at all
            return self._fraction(lead, whole) if whole else lead
        nested = self.n.has_fraction(top)
        wide = len(num) > 1 or isinstance(num[0], (Add, Sum))
        b = " ".join(bottom)
        if den and (nested or wide and self.n.fraction_too_wide(top, b)):
            # 1/den in front: no fraction in a fraction, and a line may break between the
            # numerator's factors (a fraction cannot break across lines)
            return f"{self._fraction(lead, whole)} {top}"
        rest = self._fraction(top, b) if den else top
        if c_den != 1:
            return f"{self._fraction(lead, c_bottom)} {rest}"
        return rest if c_num == 1 else f"{factor} {rest}"

    def _fraction(self, top: str, bottom: str) -> str:
        """A fraction bar; with a fraction below it (none may sit in another), ``a / (b)``."""
        if self.n.has_fraction(bottom) or self.n.has_fraction(top):
            return f"{top} / {self.n.paren(bottom)}"
        return self.n.fraction(top, bottom)

    def _constant_factors(self, c: Expr) -> str:
        """``N (N - 1)``: a product of constants, each bracketed as a factor needs."""
        return " ".join(self.wrap(a, Prec.MUL) for a in Mul.make_args(c))

    # -- leaves ----------------------------------------------------------------------------------

    def _print_Indexed(self, e: Indexed) -> str:
        key = e.base.label
        idx = self._indices(e.indices, self._shape(key))
        if key in self.n.ctx.adjoint_of:
            return self.n.adjoint(self.n.ctx.adjoint_of[key], idx)
        if key in self.n.ctx.tangent_of:
            return self.n.tangent(self.n.ctx.tangent_of[key], idx)
        if key in self.n.ctx.rop_of:
            return self.n.rop(self.n.ctx.rop_of[key], idx)
        return self.n.tensor(self.n.ctx.tensor_of[key], idx)

    def _print_Symbol(self, e: Symbol) -> str:
        ctx = self.n.ctx
        if ctx is not None:
            if e in ctx.adjoint_of:
                return self.n.adjoint(ctx.adjoint_of[e], "")
            if e in ctx.tangent_of:
                return self.n.tangent(ctx.tangent_of[e], "")
            if e in ctx.rop_of:
                return self.n.rop(ctx.rop_of[e], "")
            if e in ctx.tensor_of:
                return self.n.tensor(ctx.tensor_of[e], "")
            if e in ctx.dim_of_size:
                return self.n.dim(ctx.dim_of_size[e])
        return self.n.index_name(e.name)

    def _print_Rational(self, e: Rational) -> str:  # Integer and the constants 1, −1, ½ too
        return self.n.number(e)

    def _print_KroneckerDelta(self, e: KroneckerDelta) -> str:
        # a position a dim states (δ(j, T1) of the last row's slice X[:, T1:T, :]) is
        # separated as a number is, δ_{T1, j}, never juxtaposed δ_T1j
        if any(a in self.n.ctx.dim_of_size for a in e.args):
            return self.n.delta(self.n.index_group(", ".join(
                self._print(a) for a in e.args)))
        return self.n.delta(self._indices(e.args, (None,) * len(e.args)))

    def _shape(self, key: Any) -> Any:
        """The shape of the tensor whose element, adjoint, tangent … ``key`` names."""
        ctx = self.n.ctx
        for table in (ctx.adjoint_of, ctx.tangent_of, ctx.rop_of, ctx.tensor_of):
            if key in table:
                return ctx.graph[table[key]].shape
        return None  # pragma: no cover - every element einderive builds is a tensor's

    def _indices(self, idx: Any, shape: Any = None) -> str:
        """A subscript; an index picked by an integer input prints as its element,
        E_(tokens_i,k) (bracketed in text, where indices are otherwise juxtaposed).  A
        number on an axis of more than one element (``shape`` says which) is a position,
        ∂L/∂S_{i, 0} (a stacked piece's adjoint), printed; the 0 of a size-1 axis is not.
        So is a position the dims' sizes give, W_{D, m} (never W_Dm, read as one index)."""
        if shape is not None and any(isinstance(i, Integer) and d != 1 or _size_position(i)
                                     for i, d in zip(idx, shape)):
            return self.n.index_group(", ".join(
                self._print(i) if isinstance(i, Indexed) else self.n.index_term(i)
                for i, d in zip(idx, shape) if not (d == 1 and i == 0)))
        if not any(isinstance(i, Indexed) for i in idx):
            return self.n.index_list(idx)
        # (an index map among them written out bare: the brackets and commas already
        # separate, E_(tok_l,k − K), never E_(tok_l,{k − K}))
        return self.n.compound_index([self._print(i) if isinstance(i, Indexed)
                                      else self.n.index_term(i) if has_index_map((i,))
                                      else self.n.index_list((i,)) for i in idx if i != 0])

    # An index map as a value (a reshape's j·Dh + k in a slice's range condition,
    # 𝟙[0 ≤ j·Dh + k < K]) is written as in a subscript.

    def _print_Flat(self, e: Flat) -> str:
        return self.n.index_term(e)

    def _print_Digit(self, e: Digit) -> str:
        return self.n.index_term(e)

    def _print_Shift(self, e: Shift) -> str:
        return self.n.index_term(e)

    def _print_Window(self, e: Window) -> str:
        return self.n.index_term(e)

    def _print_ElementwiseFunction(self, e: ElementwiseFunction) -> str:
        arg = e.args[0]
        return self.n.function(e.spec, [self._print(a) for a in e.args],
                               self.prec(arg) < Prec.ATOM)

    def _print_AxisFunction(self, e: AxisFunction) -> str:
        name = self.n.ctx.tensor_of[e.label]
        tensor = self.n.ctx.graph[name]
        bracket = transposed = False
        if name in self.n.anon:  # an anonymous argument: its definition, whole
            definition, _, matrix = self.n.anon[name]
            if isinstance(matrix, Transpose) and isinstance(matrix.x, Ref) and \
                    AXIS_OPS[e.head].text_t:  # inv(X.T) is X⁻ᵀ, as the matrix form writes it
                matrix, transposed = matrix.x, True
            arg = self.n.matrix(matrix) if matrix is not None else self._print(definition)
            bracket = not isinstance(matrix, Ref)  # (A B)⁻¹, but S⁻¹ where S.T is S
        else:
            arg = self.n.tensor(name, "")
        # a position of a stacked axis prints, softmax(S)_{i, 0} (the result's shape says
        # which numbers are positions: the argument's, less the axis a reduction drops)
        axes = len(tensor.shape) or 1
        shape = tensor.shape if not e.reduces else \
            tuple(d for a, d in enumerate(tensor.shape) if a != e.axis % axes)
        idx = self._indices(e.indices, shape if len(shape) == len(e.indices) else None)
        if AXIS_OPS[e.head].text:  # A⁻¹: an anonymous argument is bracketed
            return self.n.matrix_function(AXIS_OPS[e.head], self.n.paren(arg) if bracket else arg,
                                          transposed, idx)
        # an index an integer input picks prints as its element, softmax(S)_(i,labels_i)
        # (index_list writes letters only: it printed softmax(S)_i)
        return self.n.axis_function(e.head, arg, e.axis,
                                    names_axis(e.axis, tensor.shape, e.head), idx)

    def _print_Function(self, e: Any) -> str:  # pragma: no cover - einderive makes no other
        raise TypeError(f"cannot print {e!r}")


def index_precedence(e: Any) -> Prec:
    """How tightly an index-form (SymPy) node binds when printed, on the one scale."""
    if isinstance(e, Mul):
        e = _folded(e)
    if isinstance(e, Add):
        return Prec.ADD
    if isinstance(e, Mul):
        if e.could_extract_minus_sign():
            return Prec.ADD
        return Prec.MUL
    if isinstance(e, Sum):
        return Prec.ADD
    if isinstance(e, Rational) and not isinstance(e, Integer):
        return Prec.ADD if e < 0 else Prec.MUL
    if isinstance(e, Integer) and e < 0:
        return Prec.ADD
    if isinstance(e, Pow):
        return Prec.MUL if e.exp < 0 or e.exp == S.Half else Prec.POW
    if is_prefix(e):
        return Prec.MUL  # √x is a prefix: bracket it under a power
    return Prec.ATOM


def _radical(c: Any) -> bool:
    """``√D``, ``2 √D``: an integer times square roots of atoms, which reads as one
    coefficient unbracketed (``√D X``, ``2 √D (a − b)``; a root delimits its radicand)."""
    factors = c.args if c.is_Mul else (c,)
    roots = [f for f in factors if is_prefix(f) and f.args[0].is_Atom]
    return bool(roots) and all(f.is_Integer or f in roots for f in factors)


def is_prefix(e: Any) -> bool:
    """``√x``: a square root prints as a prefix and needs no brackets as a divisor."""
    return isinstance(e, ElementwiseFunction) and e.spec.style == "prefix" or \
        isinstance(e, Pow) and e.exp == S.Half


def names_axis(axis: int, shape: tuple[Any, ...], head: str = "") -> bool:
    """Whether ``softmax(S)`` must say its axis: any but the last, and the last too when it is
    a literal 1 (an M×1 ``S`` reads as the column vector, whose softmax runs over M).  A
    function whose axis defaults to every axis (``max``) says it unless ``S`` has one axis."""
    if head and not AXIS_OPS[head].has_axis:
        return False
    if head and not AXIS_OPS[head].last_by_default:
        return len(shape) > 1
    return axis != len(shape) - 1 or shape[-1] == 1


def _folded(e: Any) -> Any:
    """A product of constants left unevaluated, ``−1·(−1·2)`` or ``−2·(2 N − 2)``, as the
    constant it is (``2``, ``4 − 4 N``): its printing folds it, so its precedence must too.
    A product with a tensor in it keeps its form (``2 (y_i − t_i)``)."""
    if isinstance(e, Mul) and not _reads_tensor(e) and all(is_dim(s) for s in free_symbols(e)):
        # doit: a factor left unevaluated, −(2 + 2)(N − 1), folds too (else its precedence
        # said a product and it printed as the sum 4 N − 4 after a minus, unbracketed)
        return Mul(*e.args).doit()
    return e


def _reads_tensor(e: Any) -> bool:
    """Whether ``e`` holds a tensor's element or a scalar tensor (``$L``): then a free symbol
    of it is no dim.  Found at the first one, where the free symbols of every product
    printed were the whole subtree's (each nested product walked it again)."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Indexed) or (isinstance(x, Symbol) and x.name.startswith("$")):
            return True
        stack.extend(x.args)
    return False


def _reads_key(e: Any, keys: Any) -> bool:
    """Whether a symbol of ``e`` is among ``keys`` (an element's base label is one of its
    symbols), found at the first one: a factor's whole tree was walked twice before."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Symbol) and x in keys:
            return True
        stack.extend(x.args)
    return False


def _reordered_letters(e: Any, free: AbstractSet[str]) -> dict[str, Symbol]:
    """The summation letters of ``e`` (by name) whose order may be chosen: bound by a sum,
    free nowhere, and sharing their letter with another such (i′′ and i′′′); else {}."""
    bound: dict[str, Symbol] = {}
    for s in nodes_of(e, Sum):
        for lim in s.limits:
            v = lim[0]
            if isinstance(v, Symbol) and v.name not in free:
                bound[v.name] = v
    bases = [name.rstrip(PRIME) for name in bound]
    if len(set(bases)) == len(bases):
        return {}
    return bound


def _in_written_order(bound: Mapping[str, Symbol], written: list[str],
                      implicit: AbstractSet[str]) -> dict[str, str]:
    """The renaming (old name -> new name, only those that change) that gives the letters
    of one base their primes in the order they are first written, the sums Einstein's
    convention drops first (their Σ unwritten, they read as the product's own indices: a
    sum written with Σ inside a function keeps its prime)."""
    first: dict[str, int] = {}
    for at, name in enumerate(written):
        first.setdefault(name, at)
    groups: dict[str, list[str]] = {}
    for name in bound:
        groups.setdefault(name.rstrip(PRIME), []).append(name)
    out: dict[str, str] = {}
    for names in groups.values():
        slots = sorted(names, key=len)
        order = sorted(names, key=lambda m: (m not in implicit, first.get(m, len(written)),
                                             len(m)))
        out.update({a: b for a, b in zip(order, slots) if a != b})
    return out


def _flatten_sums(e: Any, factors: list[Any], summed: list[Any]) -> None:
    if isinstance(e, Sum):
        summed.extend(v for v, _, _ in e.limits)
        _flatten_sums(e.function, factors, summed)
    elif isinstance(e, Mul):
        for a in e.args:
            _flatten_sums(a, factors, summed)
    else:
        factors.append(e)


def _counted_apart(f: Any) -> bool:
    """Whether the factor ``f`` counts each index in a product as it counts alone, whatever
    SymPy's product makes of it: a positive integer power (x_i x_i² is x_i³: 1 + 2 = 3), a
    nonzero rational, any other node but a power (a power of another exponent may merge
    with a neighbour, x_i^N x_i, and a zero or an infinity swallows the product)."""
    if isinstance(f, Pow):
        return bool(f.exp.is_Integer and f.exp > 0)
    if f.is_Number:
        return bool(f.is_Rational and f != 0)
    return True


def _count_product(factors: list[Any], v: Any) -> int:
    """:func:`_count` of the product of ``factors``, each of them :func:`_counted_apart`."""
    counts = [_count(a, v) for a in factors]
    return -1 if any(c < 0 for c in counts) else sum(counts)


def _count(e: Any, v: Any) -> int:
    """How many times index ``v`` is written in each term of ``e`` (x_i² counts twice).

    A sum whose terms differ in the count gives -1: Einstein's convention cannot say it."""
    if not e.args:  # a leaf: ``v`` or not (what the cases below come to, told at once)
        return 1 if e == v else 0
    if e == v:
        return 1
    if isinstance(e, Pow) and e.exp.is_Integer and e.exp > 0:
        n = _count(e.base, v)
        return -1 if n < 0 else int(e.exp) * n
    if isinstance(e, Sum) and any(var == v for var, _, _ in e.limits):
        return 0
    if isinstance(e, Add):
        counts = {_count(a, v) for a in e.args}
        return counts.pop() if len(counts) == 1 else -1
    if isinstance(e, ElementwiseFunction) and len(e.args) > 1:
        # arguments broadcast together: maximum(x_i, y_i) is one value at i, written with i
        # once, not a product (it summed with no Σ: L = maximum(x_i, y_i) for Σ_i)
        many = [_count(a, v) for a in e.args]
        return -1 if any(c < 0 for c in many) else max(many)
    counts_ = [_count(a, v) for a in e.args]
    return -1 if any(c < 0 for c in counts_) else sum(counts_)


def _size_position(i: Any) -> bool:
    """Whether the index ``i`` is a position made of the dims' sizes (D, D + 1: the row a
    piece joined at offset D reads); a size's symbol is positive, an index's has no
    assumption."""
    return isinstance(i, (Symbol, Add)) and bool(i.free_symbols) and \
        all(isinstance(x, Symbol) and x.is_positive for x in i.free_symbols)
