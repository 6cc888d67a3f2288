"""The MathML style: presentation MathML tokens for the two printers, as browsers typeset it.

Like the Unicode and LaTeX styles (``styles.py``) it supplies tokens only; the
structure (order of factors, brackets, fractions) is the printers'.  Every
method returns a row of whole MathML elements (``<mi>W</mi><mo>⊙</mo>…``), so
the printers' concatenations stay well-formed; a slot that takes one element
(a fraction's numerator, a subscript's base) gets its row wrapped in ``<mrow>``.
What the printers write between the tokens themselves (a space between factors,
`` + ``, `` = `` and a bare ``1``) is turned into tokens by :func:`math`, which
also makes the ``<math>`` element.

Names are typeset as in LaTeX (``W1`` is W₁, ``y_true`` is y with an upright
subscript, ``gamma`` is γ), and distinct names stay distinct (:func:`name_table`).
An op's Unicode spelling in the op table (``𝟙[{0} > 0]``, ``{0}⁻¹``) is read into
tokens here, so a new op prints in MathML with no row of its own.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from sympy import Integer

from ..indexed import PRIME
from ..ops import EINSUM
from . import names
from .notation import Notation
from .styles import _decimal as decimal_text
from .styles import _per_graph
from .tokens import Style

# -- token builders ------------------------------------------------------------------------


def mi(s: str, cls: str = "") -> str:
    return f'<mi class="{cls}">{escape(s)}</mi>' if cls else f"<mi>{escape(s)}</mi>"


def upright(s: str) -> str:
    """An identifier set upright: MathML slants a one-letter ``mi`` unless told not to."""
    return f'<mi mathvariant="normal">{escape(s)}</mi>' if len(s) == 1 else mi(s)


def mo(s: str) -> str:
    return f"<mo>{escape(s)}</mo>"


def mn(s: str) -> str:
    return f"<mn>{escape(s)}</mn>"


def row(s: str) -> str:
    """A row as one element (what ``mfrac``, ``msub``, ``msup`` take as each argument)."""
    return f"<mrow>{s}</mrow>"


def sub(base: str, script: str) -> str:
    return f"<msub>{row(base)}{row(script)}</msub>"


def sup(base: str, script: str) -> str:
    return f"<msup>{row(base)}{row(script)}</msup>"


def frac(top: str, bottom: str) -> str:
    return f"<mfrac>{row(top)}{row(bottom)}</mfrac>"


def fenced(s: str, left: str = "(", right: str = ")") -> str:
    """``s`` in brackets that grow only around something tall, as LaTeX's ``\\left(``."""
    t = tall(s)
    return row(bracket(left, t) + s + bracket(right, t))


def tall(s: str) -> bool:
    """Whether a row is taller than a line: a fraction, a sum's limits or a root in it."""
    return any(t in s for t in ("<mfrac", "<munder", "<msqrt"))


def bracket(ch: str, stretchy: bool) -> str:
    """A bracket; one that need not stretch is told so (Chromium spaces a stretchy one from
    its content even where it keeps its size: ``f( x )``)."""
    return mo(ch) if stretchy else f'<mo stretchy="false">{escape(ch)}</mo>'


APPLY = "<mo>&#x2061;</mo>"  # function application: sin x, not sin·x (invisible)
TIMES = "<mo>&#x2062;</mo>"  # invisible times between the factors of a product
THIN = '<mspace width="0.1667em"/>'  # LaTeX's \,

# -- reading an op's Unicode spelling --------------------------------------------------------

_SUPERSCRIPT = {"⁻": "−", "¹": "1", "²": "2", "³": "3", "ᵀ": "⊤", "ᐟ": "/"}
_SUPERSCRIPT.update({chr(0x2070 + n): str(n) for n in (0, 4, 5, 6, 7, 8, 9)})
_OPERATORS = set(",+−-=<>≤≥⊙⊘·/∘")
_BRACKETS = set("()[]|‖")
_PIECE = re.compile(r"\{([0-9]+)\}|([a-zA-Z][a-zA-Z_0-9]*'*)|([0-9]+)|(\s+)|(.)")


def tokens(text: str, args: list[str]) -> str:
    """An op's Unicode template (``𝟙[{0} > {1}]``, ``max({0})``, ``{0}⁻¹``) as MathML,
    its ``{n}`` filled with the rows ``args``; superscript characters raise what precedes."""
    out: list[str | tuple[str, str]] = []
    stretchy = any(tall(a) for a in args)
    for m in _PIECE.finditer(text):
        arg, word, digits, space, ch = m.groups()
        if arg is not None:
            out.append(row(args[int(arg)]))
        elif word is not None:
            head = word.rstrip("'")
            out.append(upright(head) if len(head) > 1 else mi(head))
            out += [mo("′")] * (len(word) - len(head))
            if text[m.end():m.end() + 1] == "(":
                out.append(APPLY)  # where(…): a function applied
        elif digits is not None:
            out.append(mn(digits))
        elif space is not None:
            continue
        elif ch in _SUPERSCRIPT:
            out.append(("sup", ch))  # raises what precedes it: folded below
        elif ch in "'′":
            out.append(mo("′"))
        elif ch in _BRACKETS:
            out.append(bracket(ch, stretchy))
        else:
            out.append(mo(ch) if ch in _OPERATORS else mi(ch))
    return _raise_superscripts(out)


def _raise_superscripts(parts: list[str | tuple[str, str]]) -> str:
    """``A`` followed by ``⁻``, ``¹`` as one ``msup``: A⁻¹."""
    done: list[str] = []
    script: list[str] = []
    for p in [*parts, None]:
        if isinstance(p, tuple):
            script.append(_SUPERSCRIPT[p[1]])
            continue
        if script:
            base = done.pop() if done else ""
            done.append(sup(base, tokens_plain("".join(script))))
            script = []
        if p is not None:
            done.append(p)
    return "".join(done)


def tokens_plain(s: str) -> str:
    """``−1``, ``⊤``, ``−⊤``: a superscript's characters as tokens."""
    out = []
    for m in re.finditer(r"[0-9]+|.", s):
        t = m.group()
        out.append(mn(t) if t[0] in "0123456789" else mo(t) if t in "−/" else mi(t))
    return "".join(out)


# -- names -----------------------------------------------------------------------------------

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ",
    "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "ϕ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
assert set(GREEK) == names.GREEK, "the Greek names LaTeX typesets are the ones MathML does"

WORD = "word"  # the class of a multi-letter name: italic, as LaTeX's \mathit (page CSS)
MONO = "mono"  # a name spelled out because another name would look the same


def name_parts(name: str) -> tuple[str, str]:
    """(head, subscript) of a name as MathML rows: ``W1`` -> (W, 1), ``y_true`` ->
    (y, true upright), ``gamma`` -> γ; the same reading as LaTeX's ``names.latex_parts``."""
    lead, base, digits, tail = names.split_name(name)
    head = _head("_" * lead + base if lead else base)
    subs = []
    if digits:
        subs.append(mn(digits))
    if tail:
        subs.append(mn(tail) if tail.isdigit() else upright(tail))
    return head, mo(",").join(subs)


def _head(base: str) -> str:
    base = names.NOTATION_SYMBOLS.get(base, base)  # a tensor named σ is no logistic function
    if base in GREEK:  # nor one named sigma
        return mi(names.NOTATION_SYMBOLS.get(GREEK[base], GREEK[base]))
    if len(base) == 1:
        return mi(base)
    return mi(base, WORD)


def name_table(all_names: Any) -> dict[str, tuple[str, str]]:
    """(head, subscript) of each name, distinct names distinct: a name that looks like one
    before it (shorter, then alphabetical: ``b__3`` after ``b_3``) is spelled out in
    monospace, as LaTeX spells it in typewriter letters."""
    table: dict[str, tuple[str, str]] = {}
    seen: set[tuple[str, str]] = set()
    for name in sorted(set(all_names), key=lambda n: (len(n), n)):
        parts = name_parts(name)
        if parts in seen:
            parts = (mi(name, MONO), "")
        seen.add(parts)
        table[name] = parts
    return table


# -- the style -------------------------------------------------------------------------------


class MathMLStyle(Style):
    """Presentation MathML tokens: ``<mfrac>`` for ∂L/∂W, ``<msub>`` for W_ij."""

    stacked_fractions = True

    def paren(self, s: str) -> str:
        return fenced(s)

    def has_subscript(self, shown: str) -> bool:
        return shown.startswith("<msub")

    def kron(self, a: str, b: str) -> str:
        return a + mo("⊗") + b

    def style_minus(self) -> str:
        return mo("−")

    def times_token(self) -> str:
        return TIMES

    def ones_token(self) -> str:
        return mi("𝟏")  # a vector of ones, not a number

    def eye_token(self) -> str:
        return mi("𝐈")

    def one_hot_token(self) -> str:
        # a function's upright head applied to what follows (the Unicode word, inherited,
        # was set letter by letter as six operators: o n e h o t)
        return upright("onehot") + APPLY

    def odot_token(self) -> str:
        return mo("⊙")

    def conv_token(self, full: bool) -> str:
        return mo("∗" if full else "⋆")

    def oslash_token(self) -> str:
        return mo("⊘")

    def juxtapose(self, parts: list[str]) -> str:
        return TIMES.join(parts)

    def scalar_times(self) -> str:
        return TIMES

    def coefficient_gap(self) -> str:
        return THIN

    def fraction(self, top: str, bottom: str) -> str:
        return frac(top, bottom)

    def number(self, r: Any) -> str:
        sign = mo("−") if r < 0 else ""
        r = abs(r)
        dec = _decimal(r, self.decimals)
        if r.is_Integer and dec is None:
            return row(sign + mn(str(int(r)))) if sign else mn(str(int(r)))
        if dec is not None:  # 1e-05 and 0.0003, as the Unicode style writes them
            return row(sign + dec)
        top, bottom = (_decimal(Integer(n)) or mn(str(n)) for n in (int(r.p), int(r.q)))
        return row(sign + frac(top, bottom))  # each part as a whole number prints: 3×10²⁰

    @property
    def names(self) -> dict[str, tuple[str, str]]:
        """Every name of the graph as (head, subscript) rows (made once per graph)."""
        return _per_graph(self.ctx, "mathml_names", dict, lambda g: name_table(
            [t.name for t in g.tensors] + [d for d, _ in g.dims]))

    def _named(self, name: str, idx: str) -> str:
        head, script = self.names.get(name) or name_parts(name)
        script = mo(",").join(p for p in (script, idx) if p)
        return sub(head, script) if script else head

    def dim_name(self, name: str) -> str:
        return self._named(name, "")

    def index_name(self, name: str) -> str:
        return mi(name.replace(PRIME, "")) + mo("′") * name.count(PRIME)

    def tensor_name(self, name: str, idx: str) -> str:
        return self._named(name, idx)

    def subscript(self, s: str, idx: str) -> str:
        return sub(s, idx) if idx else s

    def _loss(self) -> str:
        return self._named(self.loss, "")

    def gradient_of(self, t: str, idx: str) -> str:
        """``∇_W L``, or its element ``(∇_W L)_jk``, as the LaTeX style writes it."""
        s = sub(mo("∇"), t) + self._loss()
        return sub(fenced(s), idx) if idx else s

    def adjoint_of(self, t: str, transposed: bool = False) -> str:
        s = self.partial(self._loss(), t)
        return sup(fenced(s), mi("⊤")) if transposed else s

    def partial(self, top: str, bottom: str) -> str:
        return frac(mo("∂") + top, mo("∂") + bottom)

    def floor_div(self, a: str, b: str) -> str:
        return row(mo("⌊") + a + mo("/") + b + mo("⌋"))

    def modulo(self, a: str, b: str) -> str:
        return row(a + mo("mod") + b)

    def index_group(self, s: str) -> str:
        return row(s)

    def tangent_name(self, name: str, idx: str) -> str:
        """ẋ, Ẇ₁: a dot accent over the name's head, then its subscript and indices."""
        head, script = self.names.get(name) or name_parts(name)
        dotted = f'<mover accent="true">{head}{mo("˙")}</mover>'
        script = mo(",").join(p for p in (script, idx) if p)
        return sub(dotted, script) if script else dotted

    def rop_of(self, t: str, transposed: bool = False) -> str:
        s = row(mi("ℛ") + fenced(self.adjoint_of(t), "{", "}"))
        return sup(s, mi("⊤")) if transposed else s

    def hessian_of(self, a: str, b: str, square: bool) -> str:
        below = mo("∂") + (sup(a, mn("2")) if square else a + mo("∂") + b)
        return frac(sup(mo("∂"), mn("2")) + self._loss(), below)

    def split_part(self, gauss_newton: bool, s: str) -> str:
        return row(mi("GN" if gauss_newton else "rest") + fenced(s, "{", "}"))

    def transposed(self, s: str) -> str:
        return sup(s, mi("⊤"))

    def sum_sign(self, v: Any) -> str:
        return f"<munder>{mo('∑')}{row(self.index_name(v.name))}</munder>"

    def delta(self, idx: str) -> str:
        return sub(mi("δ"), idx)

    def sqrt(self, s: str, composite: bool) -> str:
        return f"<msqrt>{s}</msqrt>"

    def norm(self, s: str, frobenius: bool) -> str:
        bars = fenced(s, "‖", "‖")
        return sub(bars, upright("F")) if frobenius else bars

    def power(self, base: str, p: Any) -> str:
        return sup(base, number_text(p))

    def hadamard_power(self, base: str, p: Any) -> str:
        return sup(base, mo("∘") + number_text(p))

    def template(self, spec: Any, args: list[str]) -> str:
        return tokens(spec.text, args)

    def call(self, spec: Any, arg: str) -> str:
        return tokens(spec.text, []) + APPLY + fenced(arg)

    def axis_function(self, head: str, arg: str, axis: int, named: bool, idx: str) -> str:
        h = upright(head)
        if named:
            h = sub(h, mn(str(axis)))
        s = h + APPLY + fenced(arg)
        return sub(row(s), idx) if idx else s

    def operator(self, name: str, arg: str) -> str:
        return upright(name) + APPLY + fenced(arg)

    def keyword(self, name: str, value: str) -> str:
        return upright(name) + mo("=") + (upright(value) if value.isalpha() else mn(value))

    def matrix_function(self, op: Any, arg: str, transposed: bool, idx: str) -> str:
        s = tokens(op.text_t if transposed else op.text, [arg])
        return sub(fenced(s), idx) if idx else s

    def einsum(self, subscripts: str, operands: list[str]) -> str:
        lhs, out = subscripts.split("->")
        script = upright(lhs) + mo("→") + upright(out or "-")
        return sub(upright(EINSUM), script) + APPLY + fenced(mo(",").join(operands))


class MathML(MathMLStyle, Notation):
    """The MathML notation: its tokens composed with the two printers."""


def number_text(p: Any) -> str:
    """An exponent: ``2``, ``−1``, ``1/2`` (inline, as a superscript is set)."""
    sign = mo("−") if p < 0 else ""
    p = abs(p)
    if p.is_Integer:
        return sign + mn(str(int(p)))
    return sign + mn(str(p.p)) + mo("/") + mn(str(p.q))


def _decimal(r: Any, exact: bool = False) -> str | None:
    """A positive constant written as a decimal as the Unicode style reads it (1/100000,
    3/10000, 10³⁰⁰) as one: ``10⁻⁵``, ``0.0003``, ``10³⁰⁰``; None for another number."""
    text = decimal_text(r, exact)
    if text is None:
        return None
    if "e" not in text:
        return mn(text)
    mant, exp = text.split("e")
    power = sup(mn("10"), number_text(Integer(int(exp))))
    return power if mant in ("1", "1.0") else mn(mant) + mo("×") + power


# -- the <math> element ------------------------------------------------------------------------

_TOKEN_TAGS = ("mi", "mn", "mo", "mtext", "ms")
_MARKUP = re.compile(r"(<[^>]+>)")
_GLUE = re.compile(r"[0-9]+(?:\.[0-9]+)?|\S")


def math(fragment: str, display: bool = False) -> str:
    """A ``<math>`` element of a printed row.  The printers' own glue between tokens (spaces,
    ``+``, ``=``, a bare ``1``) becomes tokens: outside the token elements, whitespace is
    dropped, digits are ``mn``, anything else an operator ``mo``."""
    out: list[str] = []
    depth = 0  # inside a token element
    for piece in _MARKUP.split(fragment):
        if piece.startswith("<"):
            tag = piece.strip("</>").split()[0] if piece.strip("</>") else ""
            if tag in _TOKEN_TAGS and not piece.endswith("/>"):
                depth += -1 if piece.startswith("</") else 1
            out.append(piece)
        elif depth:
            out.append(piece)
        else:
            out += [mn(t) if t[0] in "0123456789" else mo(_unescaped(t))
                    for t in _GLUE.findall(_unescape(piece))]
    mode = ' display="block"' if display else ""
    return _SIGN.sub(r'\1<mo form="prefix">−</mo>', f"<math{mode}>{''.join(out)}</math>")


# a minus that starts a row or follows an operator (not a closing bracket) is a sign: set
# without the spaces of a binary minus (MathML infers the form only from a row's ends)
_SIGN = re.compile(r"(<math[^>]*>|<mrow>|<mo[^>]*>[^<)\]|‖]*</mo>)<mo>−</mo>")


def _unescape(s: str) -> str:
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unescaped(s: str) -> str:
    return s.replace("-", "−")
