"""The two notations: Unicode for terminals and goldens, LaTeX for papers.

They differ only in tokens; all structure lives in :class:`Notation`.
"""

from __future__ import annotations

from sympy import Add, Mul, Pow, S, Sum

from .. import matrix as mx
from . import names
from .notation import PREC_ATOM, PREC_MUL, PREC_POW, SUPERSCRIPT, Notation, atomic, is_prefix
from .texwidth import width

# ---------------------------------------------------------------------------
# Unicode


class Unicode(Notation):
    """The terminal's notation: ∂L/∂W_ij = ∂L/∂z_i x_j, ∂L/∂W = ∂L/∂z xᵀ."""

    def number(self, r) -> str:
        if r.is_Integer:
            return str(int(r)).replace("-", "−")
        return _decimal(r) or f"{r.p}/{r.q}".replace("-", "−")

    def dim(self, name: str) -> str:
        return name

    def index_name(self, name: str) -> str:
        return name

    def tensor_name(self, name: str, idx: str) -> str:
        if name in self.lookalikes:
            name = names.text_monospace(name)
        name = names.NOTATION_SYMBOLS.get(name, name)
        return names.text_indexed(name, idx)

    @property
    def lookalikes(self) -> set:
        """Names that would read as another tensor's element (made once per graph)."""
        return _per_graph(self.ctx, "text_lookalikes", set, lambda g: names.text_lookalikes(
            {t.name: sum(d != 1 for d in t.shape) for t in g.tensors}))

    def subscript(self, s: str, idx: str) -> str:
        return f"{s}_{idx}" if idx else s

    def gradient(self, name: str, idx: str) -> str:
        """``grad(W)``, or its element ``grad(W)_jk``."""
        return self.subscript(f"grad({self.tensor(name, '')})", idx)

    def adjoint_of(self, t: str, transposed: bool = False) -> str:
        return f"∂{self.loss}/∂{t}" + ("ᵀ" if transposed else "")

    def partial(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"

    def transposed(self, s: str) -> str:
        return s + "ᵀ"

    def juxtapose(self, parts: list) -> str:
        return " ".join(parts)

    def sum_sign(self, v) -> str:
        return f"Σ_{self.index_name(v.name)} "

    def delta(self, idx: str) -> str:
        return f"δ_{idx}"

    def sqrt(self, s: str, composite: bool) -> str:
        return f"√({s})" if composite else f"√{s}"

    def power(self, base: str, p) -> str:
        return base + self._sup(p)

    def hadamard_power(self, base: str, p) -> str:
        text = self.number(p)
        return f"{base}^∘{text}" if p.is_Integer and p > 0 else f"{base}^∘({text})"

    def _sup(self, p) -> str:
        text = str(p)
        if all(ch in "0123456789-/" for ch in text):
            return text.translate(SUPERSCRIPT)
        return f"^({text})"

    def product(self, coeff, num: list, den: list) -> str:
        parts = []
        if coeff != 1:
            parts.append(self._coeff(coeff, bool(num or den)))
        parts += [self._num_factor(a, n == len(num) - 1 and not den) for n, a in enumerate(num)]
        s = " ".join(parts) if parts else "1"
        if den:
            if len(den) == 1:
                d = den[0]
                s = f"{s} / {self._print(d) if is_prefix(d) else self.wrap(d, PREC_MUL + 1)}"
            else:
                s = f"{s} / ({' '.join(self.wrap(x, PREC_POW) for x in den)})"
        return s

    def _coeff(self, c, followed: bool) -> str:
        """A constant in front of a product: bracketed unless it is one atom or an integer."""
        s = self._const(c)
        if followed and not c.is_Integer and self.prec(c) < PREC_ATOM:
            return self.paren(s)
        return s

    def _const(self, c) -> str:
        """A constant (numbers and dims), ``a/b`` with each side bracketed by precedence."""
        if c.is_Rational:
            return self.number(c)
        n, d = c.as_numer_denom()
        top = self._plain(n)
        if d == 1:
            return top
        if self.prec(n) < PREC_MUL:
            top = self.paren(top)  # (2 N − 3)/(N − 1)
        bottom = self._plain(d)
        if self.prec(d) <= PREC_MUL and not is_prefix(d):
            bottom = self.paren(bottom)  # 1/(N (N − 1))
        return f"{top}/{bottom}"

    def _plain(self, c) -> str:
        if c.is_Mul:
            return " ".join(self._plain(a) if self.prec(a) >= PREC_MUL else
                            self.paren(self._plain(a)) for a in c.args)
        if isinstance(c, Pow):
            if c.exp == S.Half:
                return self.sqrt(self._plain(c.base), self.prec(c.base) < PREC_ATOM)
            base = self._plain(c.base)
            return (base if self.prec(c.base) >= PREC_ATOM else self.paren(base)) + \
                self._sup(c.exp)
        return self._print(c)

    def scalar_product(self, num, den) -> str:
        parts = [self._print(x) if atomic(x) else self.paren(self._print(x)) for x in num]
        s = "·".join(parts) if parts else "1"
        for d in den:
            s = f"{s}/{self._print(d) if atomic(d) else self.paren(self._print(d))}"
        return s

    def coefficient(self, c: mx.M, body: str) -> str:
        if isinstance(c, mx.Const):
            return f"{self._coeff(c.value, True)} {body}"
        s = self._print(c)
        return f"{s if atomic(c) else self.paren(s)}·{body}"

    def template(self, spec, args: list) -> str:
        """A function printed as its op-table form: ``𝟙[x > 0]``, ``|x|``."""
        return spec.text.format(*args)

    def call(self, spec, arg: str) -> str:
        return f"{spec.text}({arg})"

    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str:
        extra = f", axis={axis}" if named else ""
        s = f"{head}({arg}{extra})"
        return f"{s}_{idx}" if idx else s

    def operator(self, name: str, arg: str) -> str:
        return f"{name}({arg})"

    def norm(self, arg: str, frobenius: bool) -> str:
        return f"‖{arg}‖_F" if frobenius else f"‖{arg}‖"

    def matrix_function(self, op, arg: str, transposed: bool, idx: str) -> str:
        """``A⁻¹`` (an axis op with a template), ``(A⁻¹)_ij`` with indices."""
        s = (op.text_t if transposed else op.text).format(arg)
        return f"({s})_{idx}" if idx else s

    def einsum(self, subscripts: str, operands: list) -> str:
        return f"einsum('{subscripts}', {', '.join(operands)})"


def _decimal(r) -> str | None:
    """``1e-05`` rather than 1/100000 for a constant written as a decimal."""
    q = int(r.q)
    while q % 10 == 0:
        q //= 10
    if q != 1 or r.q < 1000:
        return None
    return repr(float(r)).replace("-", "−")


# ---------------------------------------------------------------------------
# LaTeX


class Latex(Notation):
    """Notation for papers: amsmath only, ``\\frac{\\partial L}{\\partial W_{ij}}``."""

    def style_minus(self) -> str:
        return "-"

    def ones_token(self) -> str:
        return r"\mathbf{1}"

    def eye_token(self) -> str:
        return r"\mathbf{I}"

    def odot_token(self) -> str:
        return r" \odot "

    def oslash_token(self) -> str:
        return r" \oslash "

    def times_token(self) -> str:
        return r" "

    def number(self, r) -> str:
        if r.is_Integer:
            return str(int(r))
        dec = _decimal(r)
        if dec:
            return _latex_decimal(dec.replace("−", "-"))
        sign = "-" if r < 0 else ""
        return f"{sign}\\frac{{{abs(r.p)}}}{{{r.q}}}"

    def dim(self, name: str) -> str:
        return names.latex_indexed(name, "", self.latex_names)

    @property
    def latex_names(self) -> dict:
        """Every name of the graph typeset, distinct names distinct (made once per graph)."""
        return _per_graph(self.ctx, "latex_names", dict, lambda g: names.latex_table(
            [t.name for t in g.tensors] + [d for d, _ in g.dims]))

    def index_name(self, name: str) -> str:
        return name.replace("′", "'")

    def tensor_name(self, name: str, idx: str) -> str:
        return names.latex_indexed(name, idx, self.latex_names)

    def subscript(self, s: str, idx: str) -> str:
        return f"{s}_{{{idx}}}" if idx else s

    def gradient(self, name: str, idx: str) -> str:
        """``∇_W L``, or its element ``(∇_W L)_{jk}`` (bracketed: ``L_{jk}`` is no element)."""
        loss = names.latex_indexed(self.loss, "", self.latex_names)
        s = f"\\nabla_{{{self.tensor(name, '')}}} {loss}"
        return f"\\left({s}\\right)_{{{idx}}}" if idx else s

    def adjoint_of(self, t: str, transposed: bool = False) -> str:
        if transposed:
            t = f"{{{t}}}^{{\\top}}"
        loss = names.latex_indexed(self.loss, "", self.latex_names)
        return f"\\frac{{\\partial {loss}}}{{\\partial {t}}}"

    def partial(self, top: str, bottom: str) -> str:
        return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"

    def paren(self, s: str) -> str:
        tall = any(t in s for t in ("\\frac", "\\sum", "\\sqrt", "\\left"))
        return f"\\left({s}\\right)" if tall else f"({s})"

    def transposed(self, s: str) -> str:
        return f"{{{s}}}^{{\\top}}" if "^" in s else f"{s}^{{\\top}}"

    def juxtapose(self, parts: list) -> str:
        return " ".join(parts)

    def sum_sign(self, v) -> str:
        return f"\\sum_{{{self.index_name(v.name)}}} "

    def delta(self, idx: str) -> str:
        return f"\\delta_{{{idx}}}"

    def sqrt(self, s: str, composite: bool) -> str:
        return f"\\sqrt{{{s}}}"

    def power(self, base: str, p) -> str:
        return f"{{{base}}}^{{{self._exp(p)}}}"

    def hadamard_power(self, base: str, p) -> str:
        return f"{{{base}}}^{{\\circ {self._exp(p)}}}"

    def _exp(self, p) -> str:
        return str(int(p)) if p.is_Integer else f"{p.p}/{p.q}"

    def product(self, coeff, num: list, den: list) -> str:
        top = [self._num_factor(a, n == len(num) - 1) for n, a in enumerate(num)]
        c_num, c_den = coeff.as_numer_denom() if coeff != 1 else (S.One, S.One)
        bottom = [self._num_factor(d, n == len(den) - 1) for n, d in enumerate(den)]
        if c_den != 1:
            bottom.insert(0, self._constant_factors(c_den) if bottom or c_den.is_Mul else
                          self._print(c_den))
        if c_num != 1:
            top.insert(0, self._constant_factors(c_num) if top or c_num.is_Mul else
                       self._print(c_num))
        if len(bottom) == 1 and len(den) == 1:
            bottom = [self._print(den[0])]  # a fraction bar is its own bracket
        t = " ".join(top) if top else "1"
        if not bottom:
            return t
        b = " ".join(bottom)
        if num and (len(num) > 1 or isinstance(num[0], (Add, Sum))) and _wide_fraction(t, b):
            # TeX cannot break a fraction: \frac{c}{den} before the numerator's factors
            # lets a line break between them, or inside the numerator's parentheses.
            lead = 1 if c_num != 1 else 0
            c = top[0] if lead else "1"
            return f"\\frac{{{c}}}{{{b}}} " + " ".join(top[lead:])
        return f"\\frac{{{t}}}{{{b}}}"

    def _constant_factors(self, c) -> str:
        """``N (N - 1)``: a product of constants, each bracketed as a factor needs."""
        return " ".join(self.wrap(a, PREC_MUL) for a in Mul.make_args(c))

    def scalar_product(self, num, den) -> str:
        t = " ".join(self._print(x) for x in num) or "1"
        if not den:
            return t
        return f"\\frac{{{t}}}{{{' '.join(self._print(d) for d in den)}}}"

    def coefficient(self, c: mx.M, body: str) -> str:
        s = self.wrap(c, PREC_MUL)
        return f"{s} {body}" if isinstance(c, mx.Const) and c.value.is_Rational else \
            f"{s} \\, {body}"

    def template(self, spec, args: list) -> str:
        return spec.latex.format(*args)

    def call(self, spec, arg: str) -> str:
        return f"{spec.latex}{self.paren(arg)}"

    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str:
        extra = f"_{{{axis}}}" if named else ""
        s = f"\\operatorname{{{head}}}{extra}{self.paren(arg)}"
        return f"{s}_{{{idx}}}" if idx else s

    def operator(self, name: str, arg: str) -> str:
        return f"\\operatorname{{{name}}}{self.paren(arg)}"

    def norm(self, arg: str, frobenius: bool) -> str:
        return f"\\left\\lVert {arg} \\right\\rVert" + ("_F" if frobenius else "")

    def matrix_function(self, op, arg: str, transposed: bool, idx: str) -> str:
        s = (op.latex_t if transposed else op.latex).format(arg)
        return f"{self.paren(s)}_{{{idx}}}" if idx else s

    def einsum(self, subscripts: str, operands: list) -> str:
        lhs, out = subscripts.split("->")
        return (f"\\operatorname{{einsum}}_{{\\mathrm{{{lhs}}} \\to \\mathrm{{{out or '-'}}}}}"
                f"{self.paren(', '.join(operands))}")


def _latex_decimal(text: str) -> str:
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant} \\times 10^{{{int(exp)}}}"
    return text


WIDE_FRACTION = 80.0   # pt: over a third of a two-column article's line (229.5pt)


def _wide_fraction(top: str, bottom: str) -> bool:
    """Whether ``\\frac{top}{bottom}`` is too wide to be left unbreakable in a row: its
    numerator or denominator (set in text style, as in a display) is over WIDE_FRACTION."""
    try:
        return max(width(top, "text"), width(bottom, "text")) > WIDE_FRACTION
    except ValueError:     # LaTeX that texwidth cannot measure: leave the fraction whole
        return False


def _per_graph(ctx, key: str, empty, build):
    """A table of names made once per graph and kept on it: a printer is made per formula,
    and rebuilding the table for each made printing quadratic in the graph."""
    graph = ctx.graph if ctx is not None else None
    if graph is None:
        return empty()
    cache = graph.__dict__.setdefault("_names_cache", {})
    if key not in cache:
        cache[key] = build(graph)
    return cache[key]
