"""The matrix-form printer: the ``matrix`` module's tree (``W x``, ``a ⊙ b``, ``Aᵀ``) as text.

It owns the structure (brackets, signs, ``⊘`` and scalar fractions); every
symbol and bracket comes from the notation's style.  Scalar constants inside
the tree (``Const``) are SymPy numbers and dims, printed by the index-form printer.
"""

from __future__ import annotations

from typing import Any

from sympy import S, Symbol

from .. import matrix as mx
from ..indexed import PRIME
from ..kinds import ReduceKind
from ..ops import (AXIS_OPS, CONV_FULL, CONV_VALID, DIAG, DIAGONAL, PAD, RESHAPE, SCALARS, SLICE,
                   PERMUTE, STACK, TAKE, TRACE)
from ..precedence import Prec
from .index_printer import index_precedence, names_axis
from .tokens import NotationBase
from .tree_printer import TreePrinter



class MatrixPrinter(TreePrinter):
    """Prints matrix forms; ``n`` supplies the tokens and the tensor names."""

    tree = mx.M

    def __init__(self, n: NotationBase) -> None:
        self.n = n
        self._path: list[mx.M] = []  # the nodes being printed, the root first
        # inside Σ_b …: the batch's subscript, which each element's matrix is printed with
        self.element = ""
        self.letters: list[Symbol] = []  # the element's letters (Σ_b, or each b, g, r)

    def _print(self, e: Any) -> str:
        self._path.append(e)
        try:
            return super()._print(e)
        finally:
            self._path.pop()

    def doprint(self, e: Any) -> str:
        outer, self._path = self._path, []  # (a form printed inside another's: its own root)
        try:
            return super().doprint(e)
        finally:
            self._path = outer

    def prec(self, m: mx.M) -> Prec:
        return matrix_precedence(m)

    def bracketed(self, m: mx.M) -> str:
        """``m`` as an operand of a product: bracketed unless it binds at least as a power."""
        s = self._print(m)
        return s if atomic(m) else self.n.paren(s)

    # -- leaves ----------------------------------------------------------------------------------

    def _print_Ref(self, m: mx.Ref) -> str:
        idx = self._element_of(m)
        if m.kind == "adjoint":
            return self.n.adjoint(m.name, idx, element=True)
        if m.kind == "tangent":
            return self.n.tangent(m.name, idx, element=True)
        if m.kind == "rop":
            return self.n.rop(m.name, idx, element=True)
        if isinstance(m.display, mx.M) and m.name not in self.n.aliases:
            return self._print(m.display)
        return self.n.tensor(m.name, idx, element=True)

    def _element_of(self, m: mx.Ref) -> str:
        """The subscript of a batch element's matrix inside Σ_b (X_b), else none."""
        if m.missing:  # V_bg in the element b, g, r: only the letters of its own axes
            return self.n.index_list([x for k, x in enumerate(self.letters)
                                      if k not in m.missing])
        if not m.batch:
            return ""
        # a batch of one (m: [1, T, D]) inside a sum over a true batch is the same matrix in
        # every element b: m, never m_b (m has no element b ≥ 1)
        return "" if set(m.batch) == {1} and self._over_batch() else self.element

    def _over_batch(self) -> bool:
        """Whether the innermost Σ_b (or each element) being printed ranges over a batch
        of more than one element (not a sum over literal-1 axes, Σ_b X_b of X: [1, T, D])."""
        for n in reversed(self._path):
            if isinstance(n, (mx.BatchSum, mx.Each)):
                return set(n.dims) != {1}
        return False

    def _print_Const(self, m: mx.Const) -> str:
        return self.n.scalar(_value(m))

    def _print_Ones(self, m: mx.Ones) -> str:
        ones = self.n.ones_token()
        row = m.shape[:1] == (1,) and len(m.shape) == 2 and m.shape[1] != 1
        return self.n.transposed(ones) if row else ones

    def _print_Eye(self, m: mx.Eye) -> str:
        return self.n.eye_token()

    def _print_OneHot(self, m: mx.OneHot) -> str:
        at = self.element if m.batch else ""  # onehot(tok_b): element b's rows
        return self.n.one_hot_token() + self.n.paren(self.n.tensor(m.name, at))

    # -- products --------------------------------------------------------------------------------

    def _print_Transpose(self, m: mx.Transpose) -> str:
        if isinstance(m.x, mx.Ref) and m.x.kind == "adjoint":
            return self.n.adjoint(m.x.name, self._element_of(m.x), transposed=True, element=True)
        if isinstance(m.x, mx.Ref) and m.x.kind == "rop":
            return self.n.rop(m.x.name, self._element_of(m.x), transposed=True, element=True)
        shown = m.x.display if isinstance(m.x, mx.Ref) and isinstance(m.x.display, mx.M) else m.x
        if isinstance(shown, mx.AxisFn) and AXIS_OPS[shown.head].text_t:
            return self._matrix_function(shown, transposed=True)  # A⁻ᵀ, not A⁻¹ᵀ
        kept = self._kept(m.x, transposed=True) if isinstance(m.x, mx.AxisFn) else None
        if kept is not None:  # max(s, axis=2, keepdims=True)ᵀ: each element's row
            return self.n.transposed(kept)
        if isinstance(m.x, mx.AxisFn) and AXIS_OPS[m.x.head].reduces and \
                not AXIS_OPS[m.x.head].text and len(m.x.arg_shape) > 2:
            # logsumexp(x0, axis=2)ᵀ, the tensor [M, N] transposed: logsumexp(x0)ᵀ reads as
            # each element's column (README) transposed, a row each
            return self.n.transposed(self.n.axis_function(
                m.x.head, self._print(m.x.x),
                mx.element_axis(m.x)[0] if self.element else m.x.axis, True, ""))
        inner = self._print(m.x)
        return self.n.transposed(inner if self.prec(m.x) >= Prec.ATOM else self.n.paren(inner))

    def _print_MatMul(self, m: mx.MatMul) -> str:
        return self.n.juxtapose([self.bracketed(x) for x in _chain(m)])

    def _print_Hadamard(self, m: mx.Hadamard) -> str:
        num = [f for f in m.factors if not (isinstance(f, mx.Pow) and _exp(f) < 0)]
        den = [mx.power(f.x, -_exp(f)) for f in m.factors if isinstance(f, mx.Pow) and _exp(f) < 0]
        if m.is_scalar:
            return self.scalar_product(num, den)
        parts = [self._print(f) if _square(f) else self.bracketed(f) for f in num]
        s = self.n.odot_token().join(parts) if parts else self.n.number(S.One)
        for d in den:
            s += self.n.oslash_token() + self.bracketed(d)
        return s

    def scalar_product(self, num: list[mx.M], den: list[mx.M]) -> str:
        """A product of scalars: ``a·b/c``, or a fraction bar where the style stacks fractions."""
        if self.n.stacked_fractions:
            times = self.n.scalar_times()
            t = times.join(self._factor(x, len(num)) for x in num) or "1"
            if not den:
                return t
            b = times.join(self._factor(d, len(den)) for d in den)
            if self.n.has_fraction(b):  # no fraction under a bar: the quotient inline
                return f"{t}{times}/{times}{self.n.paren(b)}"
            if num and self.n.has_fraction(t):  # none over one: 1/den in front
                return f"{self.n.fraction('1', b)}{times}{t}"
            if num and self.n.fraction_too_wide(t, b):  # TeX cannot break a bar: 1/den in
                # front, the numerator after it (a sum bracketed) broken where it may
                return self.n.fraction("1", b) + times + times.join(self._factor(x, 2)
                                                                   for x in num)
            return self.n.fraction(t, b)
        s = self.n.scalar_times().join(self.bracketed(x) for x in num) or "1"
        for d in den:
            s = f"{s}/{self.bracketed(d)}"
        return s

    def _factor(self, m: mx.M, count: int) -> str:
        """One of ``count`` factors over or under a fraction bar: a sum among others is
        bracketed (LaTeX and MathML printed (h − r·h²)·be as h − r h² be), one alone not."""
        s = self._print(m)
        return self.n.paren(s) if count > 1 and self.prec(m) <= Prec.ADD else s

    def _print_Scale(self, m: mx.Scale) -> str:
        shown = m.x.display if isinstance(m.x, mx.Ref) and m.x.name not in self.n.aliases \
            else None
        if isinstance(m.coeff, mx.Const) and isinstance(shown, mx.Scale) and \
                isinstance(shown.coeff, mx.Const):  # 2 times a part −a printed inline: −2 a
            return self._print(mx.scale(m.coeff, shown))
        if _negative_coeff(m.coeff):
            return self.n.style_minus() + self._scaled(mx.scale(_negate(m.coeff), m.x))
        return self._scaled(m)

    def _scaled(self, m: mx.M) -> str:
        if not isinstance(m, mx.Scale):
            return self._print(m) if self.prec(m) > Prec.ADD else self.n.paren(self._print(m))
        c, x = m.coeff, m.x
        if _reciprocal(x) or m.is_scalar and _scalar_reciprocal(x):
            # ``c ⊘ x``, ``(D − 1)/(1 + h)``: the coefficient is the numerator, not ``c 1 ⊘ x``
            factors = x.factors if isinstance(x, mx.Hadamard) else (x,)
            return self._print(mx.Hadamard((c, *factors), m.shape))
        if _whole(c) and isinstance(x, mx.Scale) and _scalar_reciprocal(x.coeff) and \
                not _reciprocal(x.x):  # ``(2/L)·X``, not ``2 (1/L)·X``: one fraction in front
            factors = x.coeff.factors if isinstance(x.coeff, mx.Hadamard) else (x.coeff,)
            return self._scaled(mx.Scale(mx.Hadamard((c, *factors), ()), x.x, m.shape))
        body = self._print(x)
        if self.prec(x) <= Prec.ADD:
            body = self.n.paren(body)
        return self.coefficient(c, body)

    def coefficient(self, c: mx.M, body: str) -> str:
        """A scalar coefficient before a tensor: ``2 x``, ``(1/N) x``, ``a·x``, ``a \\, x``."""
        if self.n.stacked_fractions:
            s = self._print(c)
            s = s if self.prec(c) >= Prec.MUL else self.n.paren(s)
            plain = isinstance(c, mx.Const) and _value(c).is_Rational
            return f"{s} {body}" if plain else f"{s}{self.n.coefficient_gap()}{body}"
        if isinstance(c, mx.Const):
            return f"{self.n.scalar_coefficient(_value(c))} {body}"
        if isinstance(c, mx.Hadamard) and c.is_scalar and \
                not any(isinstance(f, mx.Pow) and _exp(f) < 0 for f in c.factors):
            # (1 + 2 det(X))·det(X)·X⁻ᵀ: a product of scalars needs no brackets (a quotient does)
            return f"{self._print(c)}{self.n.coefficient_gap()}{body}"
        return f"{self.bracketed(c)}{self.n.coefficient_gap()}{body}"

    # -- sums and powers -------------------------------------------------------------------------

    def _print_Add(self, m: mx.Add) -> str:
        minus = self.n.style_minus()
        out = ""
        for n, t in enumerate(m.terms):
            neg, body_m = _split_sign(t)
            body = self._print(body_m)
            if self.prec(body_m) <= Prec.ADD and (neg or n > 0 and _starts_negative(body_m)):
                body = self.n.paren(body)  # − (a + b) and a + (−b + c) keep brackets, a + b + c not
            if n == 0:
                out = (minus + body) if neg else body
            else:
                out += (f" {minus} " if neg else " + ") + body
        return out

    def _print_Pow(self, m: mx.Pow) -> str:
        p = _exp(m)
        if p == S.Half:
            return self.n.sqrt(self._print(m.x), self.prec(m.x) < Prec.ATOM)
        if p < 0:
            return self._print(mx.Hadamard((mx.ONE, m), m.shape)) if not m.is_scalar else \
                self.scalar_product([], [mx.power(m.x, -p)])
        if _square(m):
            s = self._print(m.x)
            return s + self.n.odot_token() + s
        base = self._print(m.x)
        radical = isinstance(m.x, mx.Fn) and SCALARS[m.x.name].style == "prefix" or \
            isinstance(m.x, mx.Pow) and _exp(m.x) == S.Half
        if radical and not self.n.radical_is_atom or not atomic(m.x) and not radical or \
                isinstance(m.x, mx.Pow) and not radical:  # (x^∘4)^∘(1/4), never x^∘4^∘(1/4)
            base = self.n.paren(base)
        return self.n.hadamard_power(base, p) if not m.is_scalar else self.n.power(base, p)

    # -- functions -------------------------------------------------------------------------------

    def _print_Fn(self, m: mx.Fn) -> str:
        return self.n.function(SCALARS[m.name], [self._print(a) for a in m.args],
                               self.prec(m.x) < Prec.ATOM)

    def _print_AxisFn(self, m: mx.AxisFn) -> str:
        if AXIS_OPS[m.head].text:
            return self._matrix_function(m, transposed=False)
        # inside Σ_b or a line of each element, max(X_b, axis=1): the element's own axis
        axis, shape = mx.element_axis(m) if self.element else (m.axis, m.arg_shape)
        named = names_axis(axis, shape, m.head)
        kept = self._kept(m) if named else None
        return kept if kept is not None else \
            self.n.axis_function(m.head, self._print(m.x), axis, named, "")

    def _kept(self, m: mx.AxisFn, transposed: bool = False) -> str | None:
        """``max(s, axis=2, keepdims=True)``: a whole batched tensor's reduction (each
        element's column or row, :func:`matrix.kept_axis`) broadcast back against a wider
        tensor, or transposed, or multiplied, as NumPy says it: ``max(s, axis=2)`` of s: [B,
        H, N] is B×H, which NumPy aligns with s's LAST axes.  None where the reduction stands
        alone or in elementwise company of its own shape (``M = max(Z, axis=2)``, NumPy's
        B×T as it is), or is no such reduction."""
        if not mx.kept_axis(m, bool(self.element)) or \
                not (transposed or self._broadcast_back()):
            return None
        return self.n.operator(m.head, ", ".join((
            self._print(m.x), self.n.keyword("axis", str(m.axis)),
            self.n.keyword("keepdims", "True"))))

    def _broadcast_back(self) -> bool:
        """Whether the node being printed (the path's last) meets a wider tensor on the way
        up to the form's root: a parent of another shape (𝟙[s = …] of s's, an operand of a
        product, ᵀ), not an elementwise node of its own shape."""
        path = self._path
        for parent, child in zip(path, path[1:]):
            if isinstance(parent, mx.Ref):
                continue  # (its display: the node itself)
            if not (isinstance(parent, (mx.Fn, mx.Hadamard, mx.Scale, mx.Add, mx.Pow)) and
                    tuple(parent.shape) == tuple(child.shape)):
                return True
        return False

    def _matrix_function(self, m: mx.AxisFn, transposed: bool) -> str:
        """``A⁻¹``, ``A⁻ᵀ``: the op's template, around a bracketed argument unless atomic."""
        arg = self._print(m.x)
        shown = m.x.display if isinstance(m.x, mx.Ref) else m.x
        bare = shown is None or (atomic(shown) and not superscripted(shown))
        return self.n.matrix_function(AXIS_OPS[m.head], arg if bare else self.n.paren(arg),
                                      transposed, "")

    def _print_Reduce(self, m: mx.Reduce) -> str:
        if m.kind == ReduceKind.SUM and isinstance(m.x, mx.Diagonal):
            return self.n.operator(TRACE, self._print(m.x.x))  # the sum of the diagonal
        return self.n.operator(m.kind, self._print(m.x))

    def _print_Diagonal(self, m: mx.Diagonal) -> str:
        return self.n.operator(DIAGONAL, self._print(m.x))

    def _print_Diag(self, m: mx.Diag) -> str:
        return self.n.operator(DIAG, self._print(m.x))

    def _print_Norm(self, m: mx.Norm) -> str:
        return self.n.norm(self._print(m.x), m.frobenius)

    def _print_Reshape(self, m: mx.Reshape) -> str:
        """``reshape(X, [B, T, H, Dh])``, as the spec writes it."""
        dims = ", ".join(self.n.dim(d) if d != 1 else "1" for d in m.dims)
        return self.n.operator(RESHAPE, f"{self._print(m.x)}, [{dims}]")

    def _print_Slice(self, m: mx.Slice) -> str:
        """``x[:, lo:hi]``, as NumPy slices (and the spec writes it)."""
        axes = [":"] * m.axis + [f"{self.n.scalar(m.lo)}:{self.n.scalar(m.hi)}"]
        return self.n.operator(SLICE, f"{self._print(m.x)}, {', '.join(axes)}")

    def _print_Pad(self, m: mx.Pad) -> str:
        """``pad(G, lo:hi, axis=1)``: G at lo .. hi − 1 of the axis, zeros elsewhere (the
        axis' size is the result's)."""
        # each element's matrix padded along its axis (``dims`` an element's, not the whole
        # tensor's as for a pad of whole windows), printed whole: the tensor's axis past the
        # batch's, as NumPy reads pad's axis
        element = len(m.dims) <= 2  # (a batched form's element is a matrix or a vector)
        axis = m.axis + len(mx.batch_of(m.x)) if element and not self.element else m.axis
        return self.n.operator(PAD, f"{self._print(m.x)}, {self.n.scalar(m.lo)}:"
                                    f"{self.n.scalar(m.hi)}, {self.n.keyword('axis', str(axis))}")

    def _print_BatchSum(self, m: mx.BatchSum) -> str:
        """``Σ_b X_bᵀ ∂L/∂Y_b``: the sum over the batch, each element's matrix subscripted
        (inside each element b, g, by the outer letters too: Σ_r A_bgrᵀ ∂L/∂O_bgr)."""
        letters = [Symbol(x) for x in m.names]
        if not mx.outer_batch(m):
            # (inside each element i a sum over the batch takes other letters: C_i ⊙ (Σ_i′
            # U_i′), never Σ_i in a line that holds for every i)
            taken = {str(x) for x in self.letters}
            letters = []
            for x in m.names:
                while x in taken:
                    x += PRIME
                taken.add(x)
                letters.append(Symbol(x))
        every = (self.letters if mx.outer_batch(m) else []) + letters
        outer, self.element = self.element, self.n.index_list(every)
        outer_letters, self.letters = self.letters, every
        try:
            body = self._print(m.x)
        finally:
            self.element, self.letters = outer, outer_letters
        if self.prec(m.x) <= Prec.ADD:
            body = self.n.paren(body)
        return "".join(self.n.sum_sign(v) for v in letters) + body

    def _print_Each(self, m: mx.Each) -> str:
        """``(1/√Dh) ∂L/∂C_h K_h``: each element's form, every element subscripted (the left
        side is subscripted by the sheet, :func:`element_names`)."""
        letters = [Symbol(x) for x in m.names]
        outer, self.element = self.element, self.n.index_list(letters)
        outer_letters, self.letters = self.letters, letters
        try:
            return self._print(m.x)
        finally:
            self.element, self.letters = outer, outer_letters

    def _print_Take(self, m: mx.Take) -> str:
        """``take(∂L/∂S, 0, axis=1)``: position 0 of axis 1, as NumPy's take (S[:, 0])."""
        return self.n.operator(TAKE, f"{self._print(m.x)}, {m.at}, "
                                     f"{self.n.keyword('axis', str(m.axis))}")

    def _print_Permute(self, m: mx.Permute) -> str:
        """``permute(Q, (0, 2, 1, 3))``: axis p of the result is axis axes[p] of Q, as
        NumPy's transpose(Q, axes) and PyTorch's Q.permute(axes)."""
        return self.n.operator(PERMUTE, f"{self._print(m.x)}, ({', '.join(map(str, m.axes))})")

    def _print_SumAxes(self, m: mx.SumAxes) -> str:
        """``sum(X, axis=(0, 2), keepdims=True)``, as NumPy and the spec write it."""
        axes = str(m.axes[0]) if len(m.axes) == 1 else f"({', '.join(map(str, m.axes))})"
        args = [self._print(m.x), self.n.keyword("axis", axes)]
        if m.keep:
            args.append(self.n.keyword("keepdims", "True"))
        return self.n.operator(ReduceKind.SUM, ", ".join(args))

    def _print_Stack(self, m: mx.Stack) -> str:
        """``stack([a, b], axis=1)``, as the spec writes it."""
        pieces = ", ".join(self._print(x) for x in m.xs)
        return self.n.operator(STACK, f"[{pieces}], {self.n.keyword('axis', str(m.axis))}")

    def _print_Conv(self, m: mx.Conv) -> str:
        """The forward as its call, ``conv1d(X, W, b)``; an adjoint as ``G ⋆ X`` (a
        correlation) or ``G ∗ W`` (a full convolution), an infix product of signals."""
        if m.kind == CONV_VALID:
            args = [self._print(x) for x in m.children()]
            return self.n.operator(m.head, ", ".join(args))
        return self.bracketed(m.a) + self.n.conv_token(m.kind == CONV_FULL) + \
            self.bracketed(m.b)

    def _print_Einsum(self, m: mx.Einsum) -> str:
        return self.n.einsum(m.subscripts, [self._print(x) for x in m.operands])


def element_names(m: mx.M | None) -> tuple[Symbol, ...]:
    """The subscript of the left side of a form written element by element (``∂L/∂Q_h``),
    else none."""
    return tuple(Symbol(x) for x in m.names) if isinstance(m, mx.Each) else ()


def where_element(m: mx.M | None, lhs: mx.M, rhs: mx.M) -> tuple[Symbol, ...]:
    """The batch letters a where-clause ``lhs = rhs`` of the form ``m`` is read under: those
    of the innermost Σ_b or per-element form around the helper where ``m`` uses it, when the
    clause's sides hold batch elements (σ'(W2ᵀ x_b) = (σ(x W2))_b ⊙ …, as the form reads
    it; unsubscripted, W2ᵀ x would not type); else none (the clause names whole tensors:
    t1 = conv1d(X, W, b), a temporary the form reads at its elements, t1_j)."""
    sides = (rhs,) if isinstance(lhs, mx.Ref) else (lhs, rhs)
    if m is None or not any(_element_leaf(side) for side in sides):
        return ()

    def find(x: mx.M, names: tuple[str, ...]) -> tuple[str, ...] | None:
        if x == lhs:
            return names
        if isinstance(x, (mx.Each, mx.BatchSum)):
            names = x.names
        for c in x.children():
            found = find(c, names)
            if found is not None:
                return found
        return None
    return tuple(Symbol(x) for x in find(m, ()) or ())


# the ops on a tensor's numbered axes, which read their argument whole (reshape(t2, [HT, T]))
_WHOLE_READERS = (mx.Reshape, mx.Permute, mx.SumAxes, mx.Slice, mx.Pad, mx.Take, mx.Stack)


def _element_leaf(m: mx.M) -> bool:
    """Whether ``m`` holds a batch element's matrix (X_b), not only tensors read whole (a
    batched form as the argument of reshape(t2, [HT, T]) is NumPy's reading of the whole
    tensor)."""
    if isinstance(m, mx.Ref):
        return bool(m.batch)
    return not isinstance(m, _WHOLE_READERS) and any(_element_leaf(c) for c in m.children())


def matrix_precedence(m: mx.M) -> Prec:
    """How tightly a matrix-form node binds when printed, on the one scale."""
    if isinstance(m, mx.Each):
        return matrix_precedence(m.x)
    if isinstance(m, mx.Add):
        return Prec.ADD
    if isinstance(m, mx.Scale):
        return Prec.ADD if _negative_coeff(m.coeff) else Prec.MUL
    if isinstance(m, (mx.MatMul, mx.Hadamard, mx.BatchSum)) or \
            (isinstance(m, mx.Conv) and m.kind != CONV_VALID):
        return Prec.MUL  # Σ_b binds the product after it, as the index form's Σ does
    if isinstance(m, mx.Const):
        return index_precedence(_value(m))
    if isinstance(m, mx.Pow):
        return Prec.MUL if _exp(m) < 0 or _square(m) else Prec.POW
    if isinstance(m, mx.Ref) and isinstance(m.display, mx.M):
        return matrix_precedence(m.display)
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.Ref) and m.x.kind in ("adjoint", "rop"):
        return Prec.POW
    return Prec.ATOM


def atomic(m: mx.M) -> bool:
    """Whether a matrix-form node needs no brackets as an operand of a product."""
    return matrix_precedence(m) >= Prec.POW


def superscripted(m: mx.M) -> bool:
    """A node printed with a superscript (``Aᵀ``, ``A⁻¹``, ``A^∘3``): a matrix function's
    superscript after it would be a second one (``Aᵀ⁻¹``, LaTeX's "Double superscript"),
    so it is bracketed there: ``(Aᵀ)⁻¹``, ``(A⁻¹)⁻ᵀ``."""
    if isinstance(m, mx.Ref) and isinstance(m.display, mx.M):
        return superscripted(m.display)
    if isinstance(m, mx.AxisFn):
        return bool(AXIS_OPS[m.head].text_t)
    return isinstance(m, (mx.Transpose, mx.Pow))


def _reciprocal(m: mx.M) -> bool:
    """A tensor printed as ``1 ⊘ …`` (every factor a negative power)."""
    if m.is_scalar:
        return False
    factors = m.factors if isinstance(m, mx.Hadamard) else (m,)
    return all(isinstance(f, mx.Pow) and _exp(f) < 0 for f in factors)


def _scalar_reciprocal(m: mx.M) -> bool:
    """A scalar printed as ``1/…`` (every factor a negative power)."""
    if not m.is_scalar:
        return False
    factors = m.factors if isinstance(m, mx.Hadamard) else (m,)
    return all(isinstance(f, mx.Pow) and _exp(f) < 0 for f in factors)


def _whole(c: mx.M) -> bool:
    """A positive whole number (a numerator that reads as one: ``2/L``, not ``(3/10)/L``)."""
    return isinstance(c, mx.Const) and _value(c).is_Integer and _value(c) > 1


def _square(m: mx.M) -> bool:
    """``y ⊙ y``: a square of a plain tensor, written as a product (an anonymous
    intermediate prints as its formula: ``tanh(X)^∘2``, not ``tanh(X) ⊙ tanh(X)``)."""
    return isinstance(m, mx.Pow) and _exp(m) == 2 and not m.is_scalar and _plain(m.x)


def _plain(m: mx.M) -> bool:
    if isinstance(m, mx.Transpose):
        return _plain(m.x)
    return isinstance(m, mx.Ref) and (m.display is None or _plain(m.display))


def _chain(m: mx.M) -> list[mx.M]:
    if isinstance(m, mx.MatMul):
        return _chain(m.a) + _chain(m.b)
    return [m]


def _split_sign(t: mx.M) -> tuple[bool, mx.M]:
    """(True, −t) for a term written with a minus in front, else (False, t)."""
    if isinstance(t, mx.Scale) and _negative_coeff(t.coeff):
        return True, mx.scale(_negate(t.coeff), t.x)
    if isinstance(t, mx.Const) and _value(t).could_extract_minus_sign():
        return True, mx.Const(-_value(t))
    return False, t


def _starts_negative(m: mx.M) -> bool:
    """Whether ``m`` prints with a minus in front (then it cannot follow a plus)."""
    if isinstance(m, mx.Ref) and isinstance(m.display, mx.M):
        return _starts_negative(m.display)
    if isinstance(m, mx.Add):
        return _split_sign(m.terms[0])[0] or _starts_negative(m.terms[0])
    return _split_sign(m)[0]


def _negative_coeff(c: mx.M) -> bool:
    if isinstance(c, mx.Hadamard) and c.factors:
        c = c.factors[0]
    return isinstance(c, mx.Const) and _value(c).could_extract_minus_sign()


def _negate(c: mx.M) -> mx.M:
    if isinstance(c, mx.Hadamard):
        first = _negate(c.factors[0])
        rest = c.factors[1:]
        return mx.scalar_product([first, *rest])
    assert isinstance(c, mx.Const)
    return mx.Const(-_value(c))


def _exp(m: mx.Pow) -> Any:
    """A power's exponent: a SymPy number (the matrix tree leaves its type open)."""
    return m.exp


def _value(m: mx.Const) -> Any:
    """A constant's value: a SymPy number or an expression in dims."""
    return m.value
