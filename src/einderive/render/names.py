"""How a tensor's name is written: as typed in the terminal, typeset safely in LaTeX.

``W1`` is W₁ (``W_{1}``), ``y_true`` is y with the subscript "true" (so an
index joins it, ``y_{\\mathrm{true},i}``, never a double subscript), ``gamma``
is γ, a multi-letter name is upright ``\\mathrm{std}``, a name with an accent's suffix
(``Xhat``, ``x_hat``, ``mu_bar``) is accented (``\\hat{X}``, and X̂ in the terminal), and
any other character is made safe for pdflatex with no package beyond amsmath.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .readable import INDEX_LETTER

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho",
    "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
_GREEK_CHARS = {chr(0x3B1 + n): name for n, name in enumerate(
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
     "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "varsigma", "sigma", "tau", "upsilon",
     "phi", "chi", "psi", "omega"])}
_GREEK_CHARS.update({"Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi",
                     "Π": "Pi", "Σ": "Sigma", "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi",
                     "Ω": "Omega"})
_ACCENTS = {"\u0301": "acute", "\u0300": "grave", "\u0302": "hat", "\u0303": "tilde",
            "\u0308": "ddot", "\u0304": "bar", "\u0306": "breve", "\u030c": "check",
            "\u0307": "dot"}


# a name's suffix typeset as an accent: (the combining character, the LaTeX accent)
ACCENT_SUFFIXES = {"hat": ("\u0302", "hat"), "bar": ("\u0304", "bar"),
                   "tilde": ("\u0303", "tilde"), "dot": ("\u0307", "dot")}
_ACCENTED_NAME = re.compile(r"(?P<base>[A-Za-z][A-Za-z0-9]*?)(?P<sep>_?)(?P<acc>hat|bar|tilde|dot)")


_WORDS = {"what", "that", "chat", "phat", "shat"}  # one letter and a suffix, but words


def accent_parts(name: str) -> tuple[str, str] | None:
    """(base, accent) of a name written with an accent's suffix, else None.

    ``x_hat``, ``mu_bar``, ``std_tilde``: any base before ``_``; ``Xhat``, ``muhat``: only
    one letter or a Greek letter's name before the suffix (``what`` and ``that`` are words,
    not w and t with a hat)."""
    m = _ACCENTED_NAME.fullmatch(name)
    if m is None:
        return None
    base = m.group("base")
    if not m.group("sep") and (name in _WORDS or not (len(base) == 1 or base in GREEK)):
        return None
    return base, m.group("acc")


def tangent_lookalikes(all_names: Iterable[str]) -> set[str]:
    """Names whose accent would make them read as another tensor's tangent: ``xdot`` beside
    a tensor ``x`` (ẋ, \\dot{x} is the tangent of x in second order). Such a name keeps its
    letters, in every document of the graph, with or without tangents printed."""
    present = set(all_names)
    out = set()
    for name in present:
        parts = accent_parts(name)
        if parts is not None and parts[1] == "dot" and parts[0] in present:
            out.add(name)
    return out


def text_accented(name: str) -> str:
    """``Xhat`` as X̂, ``mu_bar`` as mū (the accent combines with the base's last letter)."""
    parts = accent_parts(name)
    if parts is None:
        return name
    base, acc = parts
    return base + ACCENT_SUFFIXES[acc][0]


def cells(s: str) -> int:
    """The terminal columns ``s`` takes: a combining accent none, a wide character two."""
    if s.isascii():
        return len(s)
    try:  # every character seen before: a lookup per character, no Python call
        return sum(map(_CELLS.__getitem__, s))
    except KeyError:
        for c in s:
            if c not in _CELLS:
                _cells(c)
        return sum(map(_CELLS.__getitem__, s))


_CELLS: dict[str, int] = {}  # a character's columns, looked up once (a sheet asks per word)


def _cells(c: str) -> int:
    n = _CELLS[c] = 0 if unicodedata.combining(c) else \
        2 if unicodedata.east_asian_width(c) in "WF" else 1
    return n


def pad(s: str, width: int) -> str:
    """``s`` padded with blanks to ``width`` terminal columns (``str.ljust`` counts an
    accent's combining character as a column: X̂ is one)."""
    return s + " " * max(0, width - cells(s))


def text_indexed(name: str, index: str) -> str:
    """``W_ij``; ``y_true,i`` when the name already has a subscript."""
    if not index:
        return name
    return f"{name},{index}" if "_" in name.strip("_") else f"{name}_{index}"


_MONO = {**{chr(ord("A") + n): chr(0x1D670 + n) for n in range(26)},
         **{chr(ord("a") + n): chr(0x1D68A + n) for n in range(26)},
         **{chr(ord("0") + n): chr(0x1D7F6 + n) for n in range(10)}}


def text_lookalikes(axes: dict[str, int]) -> set[str]:
    """Names that read as another tensor's element: ``x_i`` beside a vector ``x``.

    ``axes`` maps each tensor's name to its number of indices. The terminal
    spells a look-alike in monospace letters (𝚡_𝚒), as LaTeX spells one in
    typewriter letters, so that ``x_i`` means one thing (``y_true`` beside a
    vector ``y`` is no element of it: one index, not four)."""
    out = set()
    for name in axes:
        base, sep, sub = name.rpartition("_")
        letters = INDEX_LETTER.findall(sub)
        if sep and base in axes and "_" not in base.strip("_") and \
                "".join(letters) == sub and len(letters) == axes[base]:
            out.add(name)
    return out


# a tensor whose whole name is one of the notation's own symbols is printed in bold, so that a
# tensor Σ never reads as a sum, δ as a Kronecker delta or σ as the logistic function
NOTATION_SYMBOLS = {"Σ": "𝚺", "δ": "𝛅", "σ": "𝛔", "φ": "𝛗", "Φ": "𝚽", "∂": "𝛛", "∘": "𝛐"}


def text_monospace(name: str) -> str:
    return "".join(_MONO.get(ch, ch) for ch in name)


def _latex_chars(text: str) -> str:
    out = []
    for ch in text:
        if ch.isascii():
            out.append("\\_" if ch == "_" else ch)
        elif ch in _GREEK_CHARS:
            name = _GREEK_CHARS[ch]
            # LaTeX has no \omicron; an upright o keeps it apart from the letter o
            out.append("\\mathrm{o}" if name == "omicron" else f"\\{name} ")
        else:
            decomposed = unicodedata.normalize("NFD", ch)
            base, marks = decomposed[0], decomposed[1:]
            if _accented(ch):
                s = base
                for m in marks:
                    s = f"\\{_ACCENTS[m]}{{{s}}}"
                out.append(s)
            else:
                out.append(f"\\mathrm{{{_code(ch)}}}")
    return "".join(out).rstrip()


def _accented(ch: str) -> bool:
    """An ASCII letter with accents LaTeX has (é is \\'{e})."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    return base.isascii() and bool(marks) and all(m in _ACCENTS for m in marks)


def _code(ch: str) -> str:
    return f"u{ord(ch):04x}"


def latex_shown(name: str) -> str:
    """``name`` as its LaTeX shows it, in plain text: a character that LaTeX cannot typeset
    appears as its code (``重み`` shows as ``u91cdu307f``); the others as themselves."""
    return "".join(ch if ch.isascii() or ch in _GREEK_CHARS or _accented(ch) else _code(ch)
                   for ch in name)


def _latex_base(base: str) -> str:
    if base in GREEK:
        return f"\\{base}"
    if len(base) == 1:
        return _latex_chars(base)
    if all(not c.isascii() and c in _GREEK_CHARS for c in base):
        return _latex_chars(base)
    return f"\\mathrm{{{_latex_chars(base)}}}"  # a word, upright: std is not s·t·d


def split_name(name: str) -> tuple[int, str, str, str]:
    """(leading underscores, base, trailing digits, subscript) of a name, as every notation
    reads it: ``W1`` -> (0, W, 1, ''), ``y_true`` -> (0, y, '', true), ``__x`` -> (2, x, '', '')."""
    lead = len(name) - len(name.lstrip("_"))
    core = name[lead:]
    base, _, sub = core.partition("_")
    if not base:
        base, sub = core, ""
    m = re.fullmatch(r"(.*?[^\d])(\d+)", base)
    digits = ""
    if m and not sub:
        base, digits = m.group(1), m.group(2)
    return lead, base, digits, sub.strip("_")


def latex_parts(name: str, accent: bool = True) -> tuple[str, str]:
    """(head, subscript) of a name: ``W1`` -> (W, 1); ``y_true`` -> (y, \\mathrm{true});
    ``Xhat`` -> \\hat{X} unless ``accent`` is false."""
    accented = accent_parts(name) if accent else None
    if accented is not None:
        base, acc = accented
        return f"\\{ACCENT_SUFFIXES[acc][1]}{{{_latex_base(base)}}}", ""
    lead, base, digits, sub = split_name(name)
    head = _latex_base(base)
    if lead:
        head = "\\_" * lead + head
    subs = []
    if digits:
        subs.append(digits)
    if sub:
        subs.append(sub if sub.isdigit() else f"\\mathrm{{{_latex_chars(sub)}}}")
    return head, ",".join(subs)


def latex_table(all_names: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(head, subscript) for each of a derivation's names, distinct for distinct names.

    Each name gets its typeset form (``b_3`` is b₃) unless a name before it (shorter,
    then alphabetical) already looks the same (``b__3``, ``b3``); that one is
    spelled out in typewriter letters, ``\\mathtt{b\\_\\_3}``, which no typeset
    form uses."""
    table, seen = {}, set()
    present = set(all_names)
    plain = tangent_lookalikes(present)
    for name in sorted(present, key=lambda n: (len(n), n)):
        parts = latex_parts(name, accent=name not in plain)
        if _joined(parts) in seen:
            parts = (f"\\mathtt{{{_latex_chars(name)}}}", "")
        seen.add(_joined(parts))
        table[name] = parts
    return table


def _joined(parts: tuple[str, str]) -> str:
    head, sub = parts
    return f"{head}_{{{sub}}}" if sub else head


def latex_indexed(name: str, index: str = "",
                  table: dict[str, tuple[str, str]] | None = None) -> str:
    head, sub = table[name] if table and name in table else latex_parts(name)
    parts = [p for p in (sub, index) if p]
    if not parts:
        return head
    return f"{head}_{{{','.join(parts)}}}"
