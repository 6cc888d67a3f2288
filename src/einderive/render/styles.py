"""The two styles: Unicode for terminals and goldens, LaTeX for papers.

A style supplies tokens only (symbols, brackets, how a name is written); the
structure is the printers' (``index_printer.py``, ``matrix_printer.py``).
:class:`Unicode` and :class:`Latex` are a style composed with the printers.
"""

from __future__ import annotations

import math
import unicodedata

import weakref
from fractions import Fraction
from typing import Any, Callable, TypeVar

from ..indexed import PRIME
from ..pyexpr import FLOAT_EXACT_WHOLE
from . import names
from .notation import Notation
from .tokens import Style

SUPERSCRIPT = str.maketrans("0123456789-/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ")
T = TypeVar("T")

# ---------------------------------------------------------------------------
# Unicode


class UnicodeStyle(Style):
    """The terminal's tokens: ∂L/∂W_ij = ∂L/∂z_i x_j, ∂L/∂W = ∂L/∂z xᵀ."""

    def number(self, r: Any) -> str:
        dec = _decimal(r, self.decimals)
        if r.is_Integer and not dec:
            return str(int(r)).replace("-", "−")
        if dec:  # ASCII as Python writes it (1e-06), but a leading sign is a minus: −1e-06
            return "−" + dec[1:] if dec.startswith("-") else dec
        # each part as a whole number prints (1/3e20 for 1/300000000000000000000: exact, and
        # read as Python reads it)
        return "/".join(scientific(n) or str(n) for n in (int(r.p), int(r.q))).replace("-", "−")

    def dim_name(self, name: str) -> str:
        return name

    def index_name(self, name: str) -> str:
        return name

    def tensor_name(self, name: str, idx: str) -> str:
        shown = self.shown_names.get(name)
        if shown is None:
            shown = self.shown_names[name] = self._shown(name)
        return names.text_indexed(shown, idx)

    def _shown(self, name: str) -> str:
        if name in self.lookalikes:
            name = names.text_monospace(name)
        elif name not in self.tangent_lookalikes:
            name = names.text_accented(name)
        return names.NOTATION_SYMBOLS.get(name, name)

    @property
    def shown_names(self) -> dict[str, str]:
        """Each tensor name as the text writes it, before its subscript (filled per graph
        as names are printed: a name is printed in every formula that reads it)."""
        return _per_graph(self.ctx, "text_shown_names", dict, lambda g: {})

    @property
    def lookalikes(self) -> set[str]:
        """Names that would read as another tensor's element (made once per graph)."""
        return _per_graph(self.ctx, "text_lookalikes", set, lambda g: names.text_lookalikes(
            {t.name: sum(d != 1 for d in t.shape) for t in g.tensors}))

    @property
    def tangent_lookalikes(self) -> set[str]:
        """Names that would read as another tensor's tangent, kept unaccented (per graph)."""
        return _per_graph(self.ctx, "tangent_lookalikes", set, lambda g: names.tangent_lookalikes(
            t.name for t in g.tensors))

    def subscript(self, s: str, idx: str) -> str:
        return f"{s}_{idx}" if idx else s

    def gradient_of(self, t: str, idx: str) -> str:
        """``grad(W)``, or its element ``grad(W)_jk``."""
        return self.subscript(f"grad({t})", idx)

    def adjoint_of(self, t: str, transposed: bool = False) -> str:
        """``∂L/∂S``; transposed ``(∂L/∂S)ᵀ``, the adjoint's transpose, not ∂L/∂(Sᵀ)."""
        s = f"∂{self.loss}/∂{t}"
        return f"({s})ᵀ" if transposed else s

    def tangent_name(self, name: str, idx: str) -> str:
        """``ẋ``, ``Ẇ1_ij``: a dot over the name's first letter (a combining dot)."""
        shown = names.NOTATION_SYMBOLS.get(name, name)
        # composed where Unicode has the letter with its dot (ẋ, Ẇ), a combining dot else
        dotted = unicodedata.normalize("NFC", shown[:1] + "\u0307") + shown[1:]
        return names.text_indexed(dotted, idx)

    def rop_of(self, t: str, transposed: bool = False) -> str:
        return f"ℛ{{{self.adjoint_of(t)}}}" + ("ᵀ" if transposed else "")

    def hessian_of(self, a: str, b: str, square: bool) -> str:
        """``∂²L/∂x²``, ``∂²L/∂W∂x``, ``∂²L/∂W_ij∂W_kl``."""
        below = f"∂{a}²" if square else f"∂{a}∂{b}"
        return f"∂²{self.loss}/{below}"

    def split_part(self, gauss_newton: bool, s: str) -> str:
        return f"{'GN' if gauss_newton else 'rest'}{{{s}}}"

    def partial(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"

    def transposed(self, s: str) -> str:
        return s + "ᵀ"

    def sum_sign(self, v: Any) -> str:
        return f"Σ_{self.index_name(v.name)} "

    def delta(self, idx: str) -> str:
        return f"δ_{idx}"

    def floor_div(self, a: str, b: str) -> str:
        return f"⌊{a}/{b}⌋"

    def modulo(self, a: str, b: str) -> str:
        return f"{a} mod {b}"

    def index_group(self, s: str) -> str:
        return f"{{{s}}}"

    def sqrt(self, s: str, composite: bool) -> str:
        return f"√({s})" if composite else f"√{s}"

    def norm(self, s: str, frobenius: bool) -> str:
        return f"‖{s}‖_F" if frobenius else f"‖{s}‖"

    def power(self, base: str, p: Any) -> str:
        text = str(p)
        if all(ch in "0123456789-/" for ch in text):
            return base + text.translate(SUPERSCRIPT)
        return f"{base}^({text})"

    def hadamard_power(self, base: str, p: Any) -> str:
        text = self.number(p)
        return f"{base}^∘{text}" if p.is_Integer and p > 0 else f"{base}^∘({text})"

    def scalar_times(self) -> str:
        return "·"

    def coefficient_gap(self) -> str:
        return "·"

    def fraction(self, top: str, bottom: str) -> str:
        return f"{top}/{bottom}"

    def template(self, spec: Any, args: list[str]) -> str:
        """A function printed as its op-table form: ``𝟙[x > 0]``, ``|x|``."""
        return str(spec.text.format(*args))

    def call(self, spec: Any, arg: str) -> str:
        return f"{spec.text}({arg})"

    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str:
        extra = f", axis={axis}" if named else ""
        s = f"{head}({arg}{extra})"
        return f"{s}_{idx}" if idx else s

    def operator(self, name: str, arg: str) -> str:
        return f"{name}({arg})"

    def keyword(self, name: str, value: str) -> str:
        return f"{name}={value}"

    def matrix_function(self, op: Any, arg: str, transposed: bool, idx: str) -> str:
        """``A⁻¹`` (an axis op with a template), ``(A⁻¹)_ij`` with indices."""
        s = str((op.text_t if transposed else op.text).format(arg))
        return f"({s})_{idx}" if idx else s

    def einsum(self, subscripts: str, operands: list[str]) -> str:
        return f"einsum('{subscripts}', {', '.join(operands)})"


class Unicode(UnicodeStyle, Notation):
    """The terminal's notation: the Unicode tokens composed with the two printers."""


def _decimal(r: Any, exact: bool = False) -> str | None:
    """``1e-05`` rather than 1/100000 for a constant written as a decimal; ``1e300`` rather
    than 301 digits for a whole number of more than 7 digits, 6 or more of them trailing
    zeros (x / 1e-300); with ``exact``, any number's decimal where that is exact (0.3 for
    3/10, 0.25 for 1/4, not 1/3)."""
    if r.is_Integer:
        return scientific(int(r))
    if exact and math.isfinite(value := _float(r)) and \
            Fraction(repr(value)) == Fraction(int(r.p), int(r.q)):
        return repr(value).replace("e+", "e")
    if _past_float_digits(int(r.p)) or _past_float_digits(int(r.q)):  # as a float reads it
        value = _float(r)
        return repr(value).replace("e+", "e") if value and abs(value) != math.inf else None
    q = int(r.q)
    while q % 10 == 0:
        q //= 10
    if q == 1 and r.q >= 1000:
        return repr(float(r))
    # a fraction whose parts would print as powers of ten (548489101181483/6.25e14) reads as
    # its decimal where that is exact (0.8775825618903728, as the spec wrote it)
    if scientific(int(r.p)) or scientific(int(r.q)):
        value = _float(r)
        text = repr(value).replace("e+", "e")
        if math.isfinite(value) and Fraction(text) == Fraction(int(r.p), int(r.q)):
            return text
    return None


def _float(r: Any) -> float:
    """The float nearest the rational ``r``; ±inf past a float's range."""
    try:
        return float(Fraction(int(r.p), int(r.q)))
    except OverflowError:
        return math.inf if r > 0 else -math.inf


def scientific(n: int) -> str | None:
    """``1e12`` for 1000000000000, ``2.5e11`` for 250000000000; beyond a float's exact whole
    numbers (2⁵³) and its digits, the float's own shortest digits (10³⁰⁰ + 10¹² is
    ``1e300``, as every computation with it reads it); None for a number that reads well as
    its digits (up to 7 of them, or fewer than 6 trailing zeros)."""
    digits = str(abs(n))
    kept = digits.rstrip("0")
    if _past_float_digits(n):
        shortest = repr(float(abs(n)))  # '1e+300', '1.2345678901234567e+19'
        mantissa, _, power = shortest.partition("e")
        whole = mantissa.replace(".", "").rstrip("0")
        exp = int(power) if power else len(mantissa.split(".")[0]) - 1
    elif len(digits) <= 7 or len(digits) - len(kept) < 6:
        return None
    else:
        whole, exp = kept, len(digits) - 1
    return ("-" if n < 0 else "") + whole[0] + ("." + whole[1:] if len(whole) > 1 else "") + \
        f"e{exp}"


def _past_float_digits(n: int) -> bool:
    """Whether the whole number ``n`` has more digits than a float keeps (past 2⁵³ and 17 or
    more significant digits, the most a float's shortest digits have, below a float's
    largest): it prints as its float's digits (2⁵⁴, the float 1/(0.1 + 0.2 − 0.3),
    1.8014398509481984e16, as Python prints it)."""
    return FLOAT_EXACT_WHOLE < abs(n) < 10 ** 308 and len(str(abs(n)).rstrip("0")) >= 17


# ---------------------------------------------------------------------------
# LaTeX


class LatexStyle(Style):
    """Tokens for papers, amsmath only: ``\\frac{\\partial L}{\\partial W_{ij}}``."""

    stacked_fractions = True
    radical_is_atom = True

    def style_minus(self) -> str:
        return "-"

    def ones_token(self) -> str:
        return r"\mathbf{1}"

    def eye_token(self) -> str:
        return r"\mathbf{I}"

    def one_hot_token(self) -> str:
        return r"\operatorname{onehot}"

    def compound_index(self, parts: list[str]) -> str:
        return ",".join(parts)

    def odot_token(self) -> str:
        return r" \odot "

    def conv_token(self, full: bool) -> str:
        return r" \ast " if full else r" \star "

    def oslash_token(self) -> str:
        return r" \oslash "

    def number(self, r: Any) -> str:
        dec = _decimal(r, self.decimals)
        if r.is_Integer and not dec:
            return str(int(r))
        if dec:
            return _latex_decimal(dec)
        sign = "-" if r < 0 else ""  # each part as a whole number prints: 3 \times 10^{20}
        top, bottom = (_latex_decimal(scientific(n) or str(n)) for n in (abs(int(r.p)), int(r.q)))
        return f"{sign}\\frac{{{top}}}{{{bottom}}}"

    def dim_name(self, name: str) -> str:
        return names.latex_indexed(name, "", self.latex_names)

    @property
    def latex_names(self) -> dict[str, tuple[str, str]]:
        """Every name of the graph typeset, distinct names distinct (made once per graph)."""
        return _per_graph(self.ctx, "latex_names", dict, lambda g: names.latex_table(
            [t.name for t in g.tensors] + [d for d, _ in g.dims]))

    def index_name(self, name: str) -> str:
        return name.replace(PRIME, "'")

    def tensor_name(self, name: str, idx: str) -> str:
        return names.latex_indexed(name, idx, self.latex_names)

    def subscript(self, s: str, idx: str) -> str:
        return f"{s}_{{{idx}}}" if idx else s

    def gradient_of(self, t: str, idx: str) -> str:
        """``∇_W L``, or its element ``(∇_W L)_{jk}`` (bracketed: ``L_{jk}`` is no element)."""
        loss = names.latex_indexed(self.loss, "", self.latex_names)
        s = f"\\nabla_{{{t}}} {loss}"
        return f"\\left({s}\\right)_{{{idx}}}" if idx else s

    def tangent_name(self, name: str, idx: str) -> str:
        """``\\dot{x}``, ``\\dot{W}_{1,ij}``: the dot over the name's head."""
        head, sub = self.latex_names.get(name) or names.latex_parts(name)
        parts = [p for p in (sub, idx) if p]
        dotted = f"\\dot{{{head}}}"
        return f"{dotted}_{{{','.join(parts)}}}" if parts else dotted

    def rop_of(self, t: str, transposed: bool = False) -> str:
        s = f"\\mathcal{{R}}\\left\\{{{self.adjoint_of(t)}\\right\\}}"
        return f"{s}^{{\\top}}" if transposed else s

    def hessian_of(self, a: str, b: str, square: bool) -> str:
        """``\\frac{\\partial^2 L}{\\partial x^2}``, ``…{\\partial W \\partial x}``."""
        loss = names.latex_indexed(self.loss, "", self.latex_names)
        below = f"\\partial {a}^2" if square else f"\\partial {a} \\partial {b}"
        return f"\\frac{{\\partial^2 {loss}}}{{{below}}}"

    def split_part(self, gauss_newton: bool, s: str) -> str:
        head = "\\mathrm{GN}" if gauss_newton else "\\mathrm{rest}"
        return f"{head}\\left\\{{{s}\\right\\}}"

    def adjoint_of(self, t: str, transposed: bool = False) -> str:
        """``\\frac{∂L}{∂S}``; transposed ``\\left(\\frac{∂L}{∂S}\\right)^{\\top}``."""
        loss = names.latex_indexed(self.loss, "", self.latex_names)
        s = f"\\frac{{\\partial {loss}}}{{\\partial {t}}}"
        return f"{self.paren(s)}^{{\\top}}" if transposed else s

    def partial(self, top: str, bottom: str) -> str:
        return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"

    def has_subscript(self, shown: str) -> bool:
        return "_{" in shown

    def paren(self, s: str) -> str:
        tall = any(t in s for t in ("\\frac", "\\sum", "\\sqrt", "\\left"))
        return f"\\left({s}\\right)" if tall else f"({s})"

    def kron(self, a: str, b: str) -> str:
        return f"{a} \\otimes {b}"

    def transposed(self, s: str) -> str:
        return f"{{{s}}}^{{\\top}}" if "^" in s else f"{s}^{{\\top}}"

    def sum_sign(self, v: Any) -> str:
        return f"\\sum_{{{self.index_name(v.name)}}} "

    def delta(self, idx: str) -> str:
        return f"\\delta_{{{idx}}}"

    def floor_div(self, a: str, b: str) -> str:
        return f"\\lfloor {a}/{b} \\rfloor"

    def modulo(self, a: str, b: str) -> str:
        return f"{a} \\bmod {b}"

    def index_group(self, s: str) -> str:
        return s

    def sqrt(self, s: str, composite: bool) -> str:
        return f"\\sqrt{{{s}}}"

    def norm(self, s: str, frobenius: bool) -> str:
        return f"\\Vert {s} \\Vert_{{F}}" if frobenius else f"\\Vert {s} \\Vert"

    def power(self, base: str, p: Any) -> str:
        return f"{{{base}}}^{{{_exp(p)}}}"

    def hadamard_power(self, base: str, p: Any) -> str:
        return f"{{{base}}}^{{\\circ {_exp(p)}}}"

    def scalar_times(self) -> str:
        return " "

    def coefficient_gap(self) -> str:
        return r" \, "

    def fraction(self, top: str, bottom: str) -> str:
        return f"\\frac{{{top}}}{{{bottom}}}"

    def has_fraction(self, s: str) -> bool:
        return "\\frac" in s

    def fraction_too_wide(self, top: str, bottom: str) -> bool:
        """TeX cannot break a fraction: one wider than WIDE_FRACTION is set another way."""
        return _wide_fraction(top, bottom)

    def template(self, spec: Any, args: list[str]) -> str:
        return str(spec.latex.format(*args))

    def call(self, spec: Any, arg: str) -> str:
        return f"{spec.latex}{self.paren(arg)}"

    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str:
        extra = f"_{{{axis}}}" if named else ""
        s = f"\\operatorname{{{head}}}{extra}{self.paren(arg)}"
        return f"{s}_{{{idx}}}" if idx else s

    def operator(self, name: str, arg: str) -> str:
        return f"\\operatorname{{{name}}}{self.paren(arg)}"

    def keyword(self, name: str, value: str) -> str:
        # a word value (keepdims=True) upright, as the name: never a product of italic letters
        shown = f"\\mathrm{{{value}}}" if value.isalpha() else value
        return f"\\mathrm{{{name}}}{{=}}{shown}"

    def matrix_function(self, op: Any, arg: str, transposed: bool, idx: str) -> str:
        s = str((op.latex_t if transposed else op.latex).format(arg))
        return f"{self.paren(s)}_{{{idx}}}" if idx else s

    def einsum(self, subscripts: str, operands: list[str]) -> str:
        lhs, out = subscripts.split("->")
        return (f"\\operatorname{{einsum}}_{{\\mathrm{{{lhs}}} \\to \\mathrm{{{out or '-'}}}}}"
                f"{self.paren(', '.join(operands))}")


class Latex(LatexStyle, Notation):
    """Notation for papers: the LaTeX tokens composed with the two printers."""


def _exp(p: Any) -> str:
    return str(int(p)) if p.is_Integer else f"{p.p}/{p.q}"


def _latex_decimal(text: str) -> str:
    """``10^{-6}`` for 1e-06, ``2.5 \\times 10^{-6}`` for 2.5e-06."""
    if "e" in text:
        mant, exp = text.split("e")
        power = f"10^{{{int(exp)}}}"
        if mant in ("1", "1.0", "-1", "-1.0"):
            return ("-" if mant.startswith("-") else "") + power
        return f"{mant} \\times {power}"
    return text


WIDE_FRACTION = 80.0   # pt: over a third of a two-column article's line (229.5pt)


def _wide_fraction(top: str, bottom: str) -> bool:
    """Whether ``\\frac{top}{bottom}`` is too wide to be left unbreakable in a row: its
    numerator or denominator (set in text style, as in a display) is over WIDE_FRACTION."""
    # imported here: the TeX width machinery (texparse, texlayout, the font metrics) costs
    # ~25 ms to import and only LaTeX output measures fractions; `derive` stays light
    from .texwidth import width
    try:
        return max(width(top, "text"), width(bottom, "text")) > WIDE_FRACTION
    except ValueError:     # LaTeX that texwidth cannot measure: leave the fraction whole
        return False


def _per_graph(ctx: Any, key: str, empty: Callable[[], T], build: Callable[[Any], T]) -> T:
    """A table of names made once per graph: a printer is made per formula, and rebuilding
    the table for each made printing quadratic in the graph.  The tables are kept here,
    not on the graph (the engine's objects hold no view state), and go with the graph."""
    graph = ctx.graph if ctx is not None else None
    if graph is None:
        return empty()
    tables = _TABLES.get(id(graph))
    if tables is None:
        tables = _TABLES[id(graph)] = {}
        weakref.finalize(graph, _TABLES.pop, id(graph), None)
    if key not in tables:
        tables[key] = build(graph)
    table: T = tables[key]
    return table


_TABLES: dict[int, dict[str, Any]] = {}  # id of a live graph -> its name tables
