"""Presentation MathML read back into the plain-text notation, for notation_reader to evaluate.

Written from MathML's meaning (a stacked ∂a over ∂b is an adjoint, any other fraction a
quotient; a subscript an element, or a name's suffix; a superscript a power or a
transpose), not from einderive's MathML style, so that the typeset page is checked by
value: each formula, read back, must equal the reference (tests/test_html.py).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ϵ": "epsilon", "ε": "varepsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ϑ": "vartheta", "ι": "iota", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ϖ": "varpi", "ρ": "rho",
    "ϱ": "varrho", "σ": "sigma", "ς": "varsigma", "τ": "tau", "υ": "upsilon", "ϕ": "phi",
    "φ": "varphi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
    "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Υ": "Upsilon",
    "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}
SUPERSCRIPT = str.maketrans("0123456789-−/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻ᐟ")
APPLY, TIMES = "\u2061", "\u2062"
GLUE = "\0"  # between a function's head and its bracket: written together, σ(z)


class Unreadable(Exception):
    pass


def text(e: ET.Element) -> str:
    return (e.text or "").strip()


def kids(e: ET.Element) -> list[ET.Element]:
    """The items of a row, ``<mrow>`` wrappers opened."""
    out = []
    for k in e:
        out += kids(k) if k.tag == "mrow" else [k]
    return out


def part(e: ET.Element) -> list[ET.Element]:
    """One argument of a fraction, script or root, as the items of a row."""
    return kids(e) if e.tag == "mrow" else [e]


class Reader:
    """Reads the formulas of one derivation; ``names`` are its tensors' and dims' names."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def line(self, math: ET.Element) -> str:
        return self.row(kids(math))

    def row(self, items: list[ET.Element]) -> str:
        parts: list[str] = []
        n = 0
        while n < len(items):
            e = items[n]
            if e.tag == "msub" and [text(k) for k in part(e[0])] == ["∇"]:
                parts.append(f"grad({self.row(part(e[1]))})")  # ∇_W L: the next item is L
                n += 2
                continue
            if e.tag == "msub" and _is_head(part(e[0])) and n + 2 < len(items) and \
                    text(items[n + 1]) == APPLY:
                # softmax_0(S): an axis; einsum_{ij,j→i}(A, x): its subscripts
                end = _closing(items, n + 2)
                head, script = text(part(e[0])[0]), "".join(text(k) for k in part(e[1]))
                inner = self.row(items[n + 3:end])
                subscripts = script.replace("→-", "->").replace("→", "->")  # →-: to a scalar
                parts.append(f"einsum('{subscripts}', {inner})" if head == "einsum"
                             else f"{head}({inner}, axis={script})")
                n = end + 1
                continue
            if e.tag == "mo" and text(e) == APPLY:
                parts.append(GLUE)
            elif e.tag == "mo" and text(e) == TIMES:
                pass
            elif e.tag == "mo" and text(e) == "′":
                parts[-1] += "'"  # σ′: the derivative's head
            else:
                applied = n + 1 < len(items) and text(items[n + 1]) == APPLY
                parts.append(self.item(e, applied))
            n += 1
        out: list[str] = []
        glue = False
        for p in parts:
            if p == GLUE:
                glue = True
                continue
            if glue and out:
                out[-1] += p
            else:
                out.append(p)
            glue = False
        return " ".join(x for x in out if x)

    def name(self, t: str) -> str:
        if t in self.names:
            return t
        return GREEK.get(t, t) if GREEK.get(t) in self.names else t

    def item(self, e: ET.Element, applied: bool) -> str:
        tag, t = e.tag, text(e)
        if tag == "mi":
            return t if applied else self.name(t)
        if tag in ("mn", "mo"):
            return t
        if tag == "mspace":
            return "·"  # the gap after a scalar coefficient: a product by a scalar
        if tag == "mfrac":
            top, bottom = part(e[0]), part(e[1])
            if top and text(top[0]) == "∂" and bottom and text(bottom[0]) == "∂":
                adj = f"∂{self.row(top[1:])}/∂{self.row(bottom[1:])}"
                # no blank in a name, but an index map keeps its own (m mod T)
                return adj if "{" in adj else adj.replace(" ", "")
            return f"(({self.row(top)}) / ({self.row(bottom)}))"
        if tag == "msqrt":
            return f"√({self.row(kids(e))})"
        if tag == "munder" and [text(k) for k in part(e[0])] == ["∑"]:
            return "Σ_" + "".join(text(k) for k in part(e[1]))
        if tag == "msub":
            return self.subscript(part(e[0]), part(e[1]))
        if tag == "msup":
            return self.superscript(part(e[0]), part(e[1]))
        raise Unreadable(ET.tostring(e, encoding="unicode"))

    def subscript(self, base: list[ET.Element], script: list[ET.Element]) -> str:
        picked = self.picked(script)
        if picked is not None:  # E_(tokens_i,k), δ_(j,labels_i): at an integer's element
            head = self.element(text(base[0]), []) if len(base) == 1 and _is_name(base[0]) \
                else self.row(base)
            return f"{head}_{picked}"
        if len(base) == 1 and _is_name(base[0]):
            return self.element(text(base[0]), script)
        if any(s.tag == "mo" and text(s) == "," for s in script):  # δ_{k, 0}: a position
            return f"{self.row(base)}_{{{', '.join(map(_index_text, _groups(script)))}}}"
        idx = "".join(text(s) for s in script)
        return f"{self.row(base)}_{idx}"  # δ_ik, (…)_ij, an axis function's axis

    def picked(self, script: list[ET.Element]) -> str | None:
        """A bracketed list of indices of which one is an element of a tensor, ``(tokens_i,
        k)``: as the text view writes it, ``(tokens_i,k)``; None for any other script."""
        if len(script) < 2 or [text(script[0]), text(script[-1])] != ["(", ")"] or \
                not any(s.tag == "msub" for s in script):
            return None
        return "(" + ",".join(self.row(g) for g in _groups(script[1:-1])) + ")"

    def element(self, head: str, script: list[ET.Element]) -> str:
        """A name with its suffix (W₁, y_true, μ₁ for mu1) and its indices: the suffix is
        the leading parts of the subscript that spell one of the derivation's names with
        the head; the rest are indices: letters (W_ij), or, between commas, letters and
        positions (H_{i, 0, k}) or a computed index (X_{i, j·Dh + k}, Y_{i, k − 1})."""
        groups = _groups(script)
        name = self.name(head)
        while groups and groups[0]:
            spelled = self.suffixed(name, head, groups[0])
            if spelled is None:
                break
            name = spelled
            groups.pop(0)
        tokens = [x for g in groups for s in g for x in s.iter() if x.tag in ("mi", "mn", "mo")]
        if len(groups) > 1 and all(_position(g) for g in groups) or \
                any(x.tag == "mo" and text(x) not in (",", "′") for x in tokens):
            # an element at positions or computed indices: as the text view writes it
            return f"{name}_{{{', '.join(map(_index_text, groups))}}}"
        indices = ""
        if groups and groups[-1] and all(_is_index(s) for s in groups[-1]):
            indices = "".join(text(s) for s in groups.pop())
        for g in filter(None, groups):  # a suffix none of the names has: kept, for the
            name = f"{name}_{''.join(text(s) for s in g)}"  # reader to refuse
        if not indices:
            return name
        return f"{name},{indices}" if "_" in name.strip("_") else f"{name}_{indices}"

    def suffixed(self, name: str, head: str, group: list[ET.Element]) -> str | None:
        """The derivation's name that ``name`` (or its head spelled out, μ as mu) with the
        suffix ``group`` is, or None."""
        suffix = "".join(text(s) for s in group)
        for base in dict.fromkeys((name, GREEK.get(head, head))):
            for c in (base + suffix, f"{base}_{suffix}"):
                if c in self.names:
                    return c
        return None

    def superscript(self, base: list[ET.Element], script: list[ET.Element]) -> str:
        b = self.row(base)
        s = "".join(text(x) for x in script)
        if s == "⊤":
            return f"{b}ᵀ"
        if s.startswith("∘"):  # an elementwise power; the whole superscript is its exponent
            return f"{b}^∘{s[1:]}" if s[1:].isdigit() else f"{b}^∘({s[1:]})"
        if s in ("−1", "−⊤"):
            return b + ("⁻¹" if s == "−1" else "⁻ᵀ")
        return b + s.translate(SUPERSCRIPT)


def _groups(script: list[ET.Element]) -> list[list[ET.Element]]:
    """A script's items between its commas."""
    groups: list[list[ET.Element]] = [[]]
    for s in script:
        if s.tag == "mo" and text(s) == ",":
            groups.append([])
        else:
            groups[-1].append(s)
    return groups


def _index_text(group: list[ET.Element]) -> str:
    """One index between a subscript's commas as the text view writes it: j′, 0, k + 1,
    j·Dh + k, m mod T."""
    glue = {"\u2062": "·", "+": " + ", "−": " − ", "mod": " mod "}
    return "".join(glue.get(text(x), text(x)) for s in group for x in s.iter()
                   if x.tag in ("mi", "mn", "mo"))


def _position(group: list[ET.Element]) -> bool:
    """One index letter (perhaps primed) or a number: a part of H_{i, 0, k}."""
    return bool(group) and (group[0].tag == "mn" and len(group) == 1 or
                            _is_index(group[0]) and all(text(s) == "′" for s in group[1:]))


def _is_index(e: ET.Element) -> bool:
    """An index letter: italic, one lower-case letter, perhaps primed (a name's suffix is a
    number or upright)."""
    return (e.tag == "mi" and len(text(e)) == 1 and text(e).islower() and
            e.get("mathvariant") != "normal" and not e.get("class")) or text(e) == "′"


def _is_head(items: list[ET.Element]) -> bool:
    """A function's head: an upright word."""
    return len(items) == 1 and items[0].tag == "mi" and len(text(items[0])) > 1 and \
        not items[0].get("class")


def _closing(items: list[ET.Element], n: int) -> int:
    """Where the bracket opened at ``items[n]`` closes."""
    depth = 0
    for m in range(n, len(items)):
        t = text(items[m]) if items[m].tag == "mo" else ""
        depth += (t == "(") - (t == ")")
        if depth == 0:
            return m
    raise Unreadable("an unclosed bracket")


def _is_name(e: ET.Element) -> bool:
    """A tensor's name: an italic letter, or a multi-letter name (its class says how it is
    set); an upright word is a function's head, δ is Kronecker's."""
    if e.tag != "mi" or text(e) == "δ":
        return False
    return bool(e.get("class")) or len(text(e)) == 1 and e.get("mathvariant") != "normal"
