"""The LaTeX math einderive emits, parsed into TeX's noads (for ``texwidth``).

A small subset of plain TeX + amsmath: the symbols, ``\\frac``, ``\\sqrt``,
``\\left…\\right``, ``\\operatorname``, math alphabets, scripts, primes, spaces and
style switches.  Each math character carries its class and family exactly as
pdflatex's mathcodes give them (fontmath.ltx, amsmath), because the class decides
the spacing and the family the font whose metrics give the width.  Anything else
raises ``ValueError`` naming it, so a measurement is never silently wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal, Union

ORD, OP, BIN, REL, OPEN, CLOSE, PUNCT, INNER = range(8)
# The noads that are not atoms of a class: Final, so that their type is the literal.
FRAC: Final = "frac"
RAD: Final = "rad"
ACC: Final = "acc"
LEFT: Final = "left"
RIGHT: Final = "right"
PHANTOM: Final = "phantom"
NoadKind = Union[int, Literal["frac", "rad", "acc", "left", "right", "phantom"]]
Delimiter = tuple[str, int, str, int]  # \delcode: (small family, char, large family, char)


@dataclass(frozen=True)
class Char:
    fam: str      # rm mi sy ex it bf bb: a font family (three sizes each)
    code: int


@dataclass
class Noad:
    kind: NoadKind               # an atom class (ORD..INNER) or FRAC/RAD/ACC/LEFT/RIGHT/PHANTOM
    nucleus: Field = None        # Char, list (a sub-formula), or None (empty)
    sub: Field = None
    sup: Field = None
    limits: str = "display"      # for OP: "display" (\displaylimits), "limits", "nolimits"
    # FRAC: denominator; ACC: accent Char; LEFT/RIGHT: delimiter (None for '.'); PHANTOM: which
    extra: MList | Char | Delimiter | str | None = None
    text_char: bool = field(default=False, compare=False)
    # PHANTOM of a braced group: (family, the group's tokens), laid out once per style by
    # texlayout (a broken row's phantom is the whole enclosed formula, repeated in every
    # row a line breaker tries: parsed and set each time, the rows cost quadratic time)
    source: tuple[str | None, tuple[str, ...]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Space:
    amount: float
    mu: bool       # math units (scale with the style's size) or points
    nonscript: bool = False   # dropped in script styles (after \nonscript)


@dataclass(frozen=True)
class Style:
    style: int     # TeX's numbering: 0 display, 2 text, 4 script, 6 scriptscript


@dataclass(frozen=True)
class Text:
    text: str      # \text{...}: set in the roman text font of the current size


@dataclass(frozen=True)
class EmBox:
    em: float      # an empty box this many ems (of the current size's roman font) wide


Item = Union[Noad, Space, Style, Text, EmBox]  # an element of a math list
MList = list[Item]
Field = Union[Char, MList, None]  # a nucleus or a script: a character, a sub-formula, empty

VAR = "var"   # class 7: the family follows \mathit, \mathrm, \mathbf ...
GREEK_LOWER = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
                "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon",
                "phi", "chi", "psi", "omega", "varepsilon", "vartheta", "varpi", "varrho",
                "varsigma", "varphi"]
GREEK_UPPER = ["Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
                "Psi", "Omega"]

# (class, family, code), and VAR when the family follows the math alphabet
Symbol = Union[tuple[int, str, int], tuple[int, str, int, str]]
SYMBOLS: dict[str, Symbol] = {}
SYMBOLS.update({g: (ORD, "mi", 11 + n) for n, g in enumerate(GREEK_LOWER)})
SYMBOLS.update({g: (ORD, "rm", n, VAR) for n, g in enumerate(GREEK_UPPER)})
SYMBOLS.update({"partial": (ORD, "mi", 64), "ell": (ORD, "mi", 96), "imath": (ORD, "mi", 123),
                "jmath": (ORD, "mi", 124), "wp": (ORD, "mi", 125), "hbar": (ORD, "mi", 126)})
for _name, _code in {"nabla": 114, "top": 62, "bot": 63, "prime": 48, "infty": 49,
                     "forall": 56, "exists": 57, "emptyset": 59, "neg": 58, "lnot": 58,
                     "Re": 60, "Im": 61, "aleph": 64, "surd": 112, "|": 107, "Vert": 107,
                     "vert": 106, "angle": 92, "backslash": 110}.items():
    SYMBOLS[_name] = (ORD, "sy", _code)
for _name, _code in {"odot": 12, "oslash": 11, "otimes": 10, "oplus": 8, "ominus": 9,
                     "times": 2, "cdot": 1, "circ": 14, "bullet": 15, "ast": 3, "pm": 6,
                     "mp": 7, "div": 4, "setminus": 110, "cup": 91, "cap": 92, "wedge": 94,
                     "land": 94, "vee": 95, "lor": 95, "diamond": 5, "bigcirc": 13}.items():
    SYMBOLS[_name] = (BIN, "sy", _code)
for _name, _code in {"to": 33, "rightarrow": 33, "leftarrow": 32, "gets": 32, "le": 20,
                     "leq": 20, "ge": 21, "geq": 21, "in": 50, "ni": 51, "subset": 26,
                     "supset": 27, "subseteq": 18, "supseteq": 19, "approx": 25, "sim": 24,
                     "simeq": 39, "equiv": 17, "propto": 47, "mid": 106, "parallel": 107,
                     "ll": 28, "gg": 29, "Rightarrow": 41, "Leftarrow": 40, "perp": 63,
                     "leftrightarrow": 36, "Leftrightarrow": 44}.items():
    SYMBOLS[_name] = (REL, "sy", _code)
SYMBOLS.update({"star": (BIN, "mi", 63), "lbrace": (OPEN, "sy", 102), "{": (OPEN, "sy", 102),
                "rbrace": (CLOSE, "sy", 103), "}": (CLOSE, "sy", 103),
                "langle": (OPEN, "sy", 104), "rangle": (CLOSE, "sy", 105),
                "lfloor": (OPEN, "sy", 98), "rfloor": (CLOSE, "sy", 99),
                "lceil": (OPEN, "sy", 100), "rceil": (CLOSE, "sy", 101),
                "cdotp": (PUNCT, "sy", 1),
                "ldotp": (PUNCT, "mi", 58), "lbrack": (OPEN, "rm", 91),
                "rbrack": (CLOSE, "rm", 93)})
# Large operators (cmex): the display-size glyph is the text glyph's successor.
for _name, _code in {"sum": 80, "prod": 81, "coprod": 96, "bigcup": 83, "bigcap": 84,
                     "bigoplus": 76, "bigotimes": 78, "bigodot": 74, "bigvee": 87,
                     "bigwedge": 86}.items():
    SYMBOLS[_name] = (OP, "ex", _code)
INTEGRALS = {"int": 82, "oint": 72}
# amsmath's \qopname operators: (text, limits in display?)
OPERATOR_NAMES = {n: False for n in ("log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh",
                                     "cot", "sec", "csc", "ln", "arg", "dim", "ker", "deg",
                                     "hom", "lg", "arcsin", "arccos", "arctan", "coth")}
OPERATOR_NAMES.update({n: True for n in ("max", "min", "sup", "inf", "lim", "det", "Pr", "gcd",
                                         "argmax", "argmin", "limsup", "liminf")})
ALPHABETS = {"mathit": "it", "mathrm": "rm", "mathbf": "bf", "mathbb": "bb",
             "boldsymbol": "bf", "mathnormal": "mi", "mathcal": "sy"}
SPACES_MU = {",": 3, ">": 4, ":": 4, ";": 5, "!": -3, "thinspace": 3, "medspace": 4,
             "thickspace": 5, "negthinspace": -3}
SPACES_PT = {"quad": 10.000029, "qquad": 20.000058, " ": 3.33334, "enspace": 5.0}
STYLES = {"displaystyle": 0, "textstyle": 2, "scriptstyle": 4, "scriptscriptstyle": 6}
LIMITS = {"limits": "limits", "nolimits": "nolimits", "displaylimits": "display"}
CLASS_WRAPPERS = {"mathord": ORD, "mathop": OP, "mathbin": BIN, "mathrel": REL,
                  "mathopen": OPEN, "mathclose": CLOSE, "mathpunct": PUNCT,
                  "mathinner": INNER}
ACCENTS = {"hat": 94, "widehat": 94, "tilde": 126, "widetilde": 126, "bar": 22,
           "overline": 22, "dot": 95, "ddot": 127, "check": 20, "breve": 21, "acute": 19,
           "grave": 18, "vec": 126}
# \delcode / \delimiter: (small family, char, large family, char); None is "."
DELIMITERS: dict[str, Delimiter | None] = {
              "(": ("rm", 0x28, "ex", 0x00), ")": ("rm", 0x29, "ex", 0x01),
              "[": ("rm", 0x5B, "ex", 0x02), "]": ("rm", 0x5D, "ex", 0x03),
              "lbrack": ("rm", 0x5B, "ex", 0x02), "rbrack": ("rm", 0x5D, "ex", 0x03),
              "\\{": ("sy", 0x66, "ex", 0x08), "\\}": ("sy", 0x67, "ex", 0x09),
              "lbrace": ("sy", 0x66, "ex", 0x08), "rbrace": ("sy", 0x67, "ex", 0x09),
              "|": ("sy", 0x6A, "ex", 0x0C), "vert": ("sy", 0x6A, "ex", 0x0C),
              "\\|": ("sy", 0x6B, "ex", 0x0D), "Vert": ("sy", 0x6B, "ex", 0x0D),
              "langle": ("sy", 0x68, "ex", 0x0A), "rangle": ("sy", 0x69, "ex", 0x0B),
              "lfloor": ("sy", 0x62, "ex", 0x04), "rfloor": ("sy", 0x63, "ex", 0x05),
              "lceil": ("sy", 0x64, "ex", 0x06), "rceil": ("sy", 0x65, "ex", 0x07),
              "/": ("mi", 0x3D, "ex", 0x0E), ".": None}
RADICAL: Delimiter = ("sy", 0x70, "ex", 0x70)

_CHARS = {"+": (BIN, "rm", 43), "-": (BIN, "sy", 0), "*": (BIN, "sy", 3), "=": (REL, "rm", 61),
          "<": (REL, "mi", 60), ">": (REL, "mi", 62), ":": (REL, "rm", 58),
          "(": (OPEN, "rm", 40), "[": (OPEN, "rm", 91), ")": (CLOSE, "rm", 41),
          "]": (CLOSE, "rm", 93), "!": (CLOSE, "rm", 33), "?": (CLOSE, "rm", 63),
          ",": (PUNCT, "mi", 59), ";": (PUNCT, "rm", 59), ".": (ORD, "mi", 58),
          "/": (ORD, "mi", 61), "|": (ORD, "sy", 106), "@": (ORD, "rm", 64)}
# Inside \operatorname amsmath's \newmcodes@ makes these text characters.
_OPERATOR_CHARS = {"-": (ORD, "rm", 45), "*": (ORD, "rm", 42), ".": (ORD, "rm", 46),
                   "/": (ORD, "rm", 47), ":": (ORD, "rm", 58), "'": (ORD, "rm", 39)}

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.S)


def tokens(s: str) -> list[str]:
    """Control words (with a trailing ``*``), control symbols, characters; a space run is " "."""
    return [" " if t.isspace() else t for t in _TOKEN.findall(s)]


# A phantom's group as one short control word, for measuring only (``texwidth`` measures
# every candidate row of a broken formula, each carrying the whole enclosed formula as its
# \vphantom: tokenized in every measure, the rows cost time quadratic in the formula).
_STAND_INS: dict[str, tuple[str, ...]] = {}
_STAND_IN_OF: dict[str, str] = {}


def phantom_stand_in(group: str) -> str:
    """A control word that, as the whole argument of ``\\vphantom``, measures as ``group``
    (the same tokens, parsed and set once per style by texlayout); never printed."""
    word = _STAND_IN_OF.get(group)
    if word is None:
        n, letters = len(_STAND_IN_OF), ""
        while True:
            n, r = divmod(n, 26)
            letters += chr(ord("a") + r)
            if not n:
                break
        word = _STAND_IN_OF[group] = f"\\einderivephantom{letters}"
        _STAND_INS[word] = tuple(tokens(group))
    return word


def math_char(tok: str, fam: str | None, operator: bool = False) -> tuple[int, Char] | None:
    """(class, Char) of a character token under the current math alphabet, or None."""
    if operator and tok in _OPERATOR_CHARS:
        kind, f, code = _OPERATOR_CHARS[tok]
        return kind, Char(f, code)
    if len(tok) == 1 and tok.isascii() and tok.isalpha():
        return ORD, Char(fam or "mi", ord(tok))
    if len(tok) == 1 and tok.isdigit():
        return ORD, Char(fam or "rm", ord(tok))
    if tok in _CHARS:
        kind, f, code = _CHARS[tok]
        return kind, Char(f, code)
    if tok.startswith("\\") and tok[1:] in SYMBOLS:
        kind, f, code, *var = SYMBOLS[tok[1:]]
        return kind, Char(fam if var and fam else f, code)
    return None


class Parser:
    """Recursive descent over the token list, producing an mlist (list of items)."""

    def __init__(self, toks: list[str]):
        self.toks, self.pos = toks, 0

    def peek(self) -> str | None:
        while self.pos < len(self.toks) and self.toks[self.pos] == " ":
            self.pos += 1   # spaces mean nothing in math mode
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self, raw: bool = False) -> str:
        t = self.toks[self.pos] if raw and self.pos < len(self.toks) else self.peek()
        if t is None:
            raise ValueError("unexpected end of LaTeX")
        self.pos += 1
        return t

    def mlist(self, fam: str | None = None, stop: tuple[str, ...] = ("}",),
              operator: bool = False) -> MList:
        items: MList = []
        while self.peek() is not None and self.peek() not in stop:
            self.item(items, fam, operator)
        return items

    def group(self, fam: str | None = None, operator: bool = False) -> MList:
        if self.next() != "{":
            raise ValueError("expected {")
        items = self.mlist(fam, operator=operator)
        self.next()
        return items

    def argument(self, fam: str | None = None) -> MList:
        """A macro argument: a braced group or a single token."""
        if self.peek() == "{":
            return self.group(fam)
        items: MList = []
        self.item(items, fam)
        return items

    def field(self, fam: str | None = None) -> Field:
        """A script or nucleus: TeX keeps ``{x}`` (one plain ord) as the bare character."""
        return flatten(self.argument(fam))

    def item(self, items: MList, fam: str | None, operator: bool = False) -> None:
        t = self.next()
        if t in ("^", "_"):
            self.script(items, t, self.field(fam))
        elif t == "'":
            primes: MList = [Noad(ORD, Char("sy", 48))]
            while self.peek() == "'":
                self.next()
                primes.append(Noad(ORD, Char("sy", 48)))
            self.script(items, "^", flatten(primes))
        elif t == "~":        # a tie: an interword space
            items.append(Space(SPACES_PT[" "], False))
        elif t == "{":
            self.pos -= 1
            items.append(as_noad(self.group(fam, operator)))
        elif t.startswith("\\") and len(t) > 1 and t[1:] not in SYMBOLS:
            self.command(t[1:], items, fam)
        else:
            mc = math_char(t, fam, operator)
            if mc is None:
                raise ValueError(f"cannot measure LaTeX token {t!r}")
            items.append(Noad(mc[0], mc[1]))

    def script(self, items: MList, which: str, value: Field) -> None:
        last = items[-1] if items and isinstance(items[-1], Noad) and \
            items[-1].kind not in (LEFT, RIGHT) else None
        if last is None or getattr(last, "sub" if which == "_" else "sup") is not None:
            last = Noad(ORD)
            items.append(last)
        if which == "_":
            last.sub = value
        else:
            last.sup = value

    def command(self, name: str, items: MList, fam: str | None) -> None:
        star = name.endswith("*")
        base = name.rstrip("*")
        if base == "frac" or base in ("dfrac", "tfrac"):
            num, den = self.argument(fam), self.argument(fam)
            f = Noad(FRAC, num, extra=den)
            if base == "frac":
                items.append(f)
            else:
                items.append(Noad(ORD, [Style(0 if base == "dfrac" else 2), f]))
        elif base == "sqrt":
            if self.peek() == "[":
                raise ValueError("cannot measure \\sqrt[n]")
            items.append(Noad(RAD, self.field(fam)))
        elif base in ALPHABETS:
            items.append(as_noad(self.group(ALPHABETS[base])))
        elif base == "operatorname":
            chars = self.group("rm", operator=True)
            items.append(Noad(OP, [Space(0.0, False)] + chars,
                              limits="display" if star else "nolimits"))
        elif base in OPERATOR_NAMES:
            chars = [Noad(ORD, Char("rm", ord(c))) for c in base]
            items.append(Noad(OP, [Space(0.0, False)] + chars,
                              limits="display" if OPERATOR_NAMES[base] else "nolimits"))
        elif base in INTEGRALS:
            items.append(Noad(OP, Char("ex", INTEGRALS[base]), limits="nolimits"))
        elif base in LIMITS:
            if items and isinstance(items[-1], Noad) and items[-1].kind == OP:
                items[-1].limits = LIMITS[base]
        elif base in SPACES_MU:
            items.append(Space(SPACES_MU[base], True))
        elif base in SPACES_PT:
            items.append(Space(SPACES_PT[base], False))
        elif base in STYLES:
            items.append(Style(STYLES[base]))
        elif base in CLASS_WRAPPERS:
            items.append(Noad(CLASS_WRAPPERS[base], self.field(fam)))
        elif base in ("text", "mbox", "textrm"):
            items.append(Text(self.raw_group()))
        elif base in ACCENTS:
            items.append(Noad(ACC, self.field(fam), extra=Char("rm", ACCENTS[base])))
        elif base == "left":
            self.left_right(items, fam)
        elif base in ("vphantom", "phantom", "hphantom") and self.peek() == "{":
            toks = self.raw_tokens()
            toks = _STAND_INS.get(toks[0], toks) if len(toks) == 1 else toks
            items.append(Noad(PHANTOM, None, extra=base, source=(fam, toks)))
        elif base in ("vphantom", "phantom", "hphantom"):
            items.append(Noad(PHANTOM, self.argument(fam), extra=base))
        elif base in ("cdots", "ldots", "dots"):
            dot = Char("sy", 1) if base == "cdots" else Char("mi", 58)
            items.append(Noad(INNER, [Noad(PUNCT, dot) for _ in range(3)]))
        elif base == "_":       # \textunderscore: \kern.06em\vbox{\hrule width.3em}
            items.append(EmBox(0.36))
        elif base == "colon":   # amsmath: \mskip2mu\mathpunct{}\mkern-\thinmuskip{:}\mskip6mu
            items += [Space(2, True), Noad(PUNCT, []), Space(-3, True, True),
                      Noad(ORD, Char("rm", 58)), Space(6, True)]
        elif base == "bmod":    # \nonscript\mskip-\medmuskip\mkern5mu\mathbin{mod}\mkern5mu…
            mod = Noad(BIN, [Noad(ORD, Char("rm", ord(c))) for c in "mod"])
            items += [Space(-4, True, True), Space(5, True), mod, Space(5, True),
                      Space(-4, True, True)]
        elif base in ("ne", "neq"):
            items += [Noad(REL, Char("sy", 54)), Noad(REL, Char("rm", 61))]
        elif base in ("nonscript", "relax", "displaybreak", "allowbreak", "nobreak"):
            pass
        else:
            raise ValueError(f"cannot measure LaTeX command \\{name}")

    def raw_tokens(self) -> tuple[str, ...]:
        """The tokens inside a braced group, unparsed (the group consumed)."""
        if self.next() != "{":
            raise ValueError("expected {")
        start, depth = self.pos, 1
        while depth:
            t = self.next(raw=True)
            depth += (t == "{") - (t == "}")
        return tuple(self.toks[start:self.pos - 1])

    def raw_group(self) -> str:
        if self.next() != "{":
            raise ValueError("expected {")
        depth = 1
        out: list[str] = []
        while True:
            t = self.next(raw=True)
            depth += (t == "{") - (t == "}")
            if depth == 0:
                return "".join(_text_token(x) for x in out if x not in "{}")
            out.append(t)

    def delimiter(self) -> Delimiter | None:
        t = self.next()
        key = t if t in DELIMITERS else t[1:] if t.startswith("\\") else t
        if key not in DELIMITERS:
            raise ValueError(f"cannot measure delimiter {t!r}")
        return DELIMITERS[key]

    def left_right(self, items: MList, fam: str | None) -> None:
        inner: MList = [Noad(LEFT, extra=self.delimiter())]
        inner += self.mlist(fam, stop=("\\right", "}"))
        if self.peek() != "\\right":
            raise ValueError("\\left without \\right")
        self.next()
        inner.append(Noad(RIGHT, extra=self.delimiter()))
        items.append(Noad(INNER, inner))


def _text_token(t: str) -> str:
    if t in ("~", "\\ ") or t.isspace():
        return " "
    return t[1:] if t.startswith("\\") else t


def flatten(items: MList) -> Field:
    """TeX's rule for ``{...}``: a lone ord noad with no scripts is its nucleus."""
    if len(items) == 1 and isinstance(items[0], Noad) and items[0].kind == ORD \
            and items[0].sub is None and items[0].sup is None:
        return items[0].nucleus
    return items


def as_noad(items: MList) -> Noad:
    """A ``{...}`` group in a formula: an ord atom (or the lone ord inside it)."""
    if len(items) == 1 and isinstance(items[0], Noad) and items[0].kind == ORD \
            and items[0].sub is None and items[0].sup is None:
        return items[0]
    return Noad(ORD, items)


def parse(latex: str) -> MList:
    p = Parser(tokens(latex))
    items = p.mlist(stop=())
    return items


def parse_tokens(toks: tuple[str, ...], fam: str | None) -> MList:
    """The mlist of a group's tokens (a phantom's, see ``Noad.source``) in family ``fam``."""
    p = Parser(list(toks))
    items = p.mlist(fam, stop=())
    if p.peek() is not None:
        raise ValueError(f"unbalanced group {''.join(toks)!r}")
    return items
