"""TeX's math typesetting (the TeXbook's Appendix G), reduced to box sizes.

``hlist(parse(latex), style)`` turns the noads ``texparse`` builds into boxes and glue,
as TeX's mlist_to_hlist does: character boxes from the TFM metrics in ``cm_metrics``
(italic corrections and the font's kerns and ligatures included), TeX's inter-atom
spacing table (thin, medium and thick spaces by atom class, some dropped in script
styles), scripts at script sizes, fractions, big operators with limits, ``\\left…\\right``
delimiters chosen by the height of what they enclose, radicals and accents.  Sizes
are pdflatex's at 10pt with amsmath and amssymb (10/7/5 pt).  Only sizes are kept:
a box is (width, height, depth).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Literal, NamedTuple, Union

from .cm_metrics import FONTS, Kern, Ligature
from .texparse import (BIN, CLOSE, FRAC, LEFT, OP, OPEN, ORD, PHANTOM, PUNCT, RAD,
                       RADICAL, REL, RIGHT, Char, Delimiter, EmBox, Field, MList, Noad,
                       NoadKind, Space, Style, Text, parse_tokens)

SIZES = (10.0, 7.0, 5.0)   # text, script, scriptscript at \documentclass[10pt]
FAMILIES = {"rm": ("cmr10", "cmr7", "cmr5"), "mi": ("cmmi10", "cmmi7", "cmmi5"),
            "sy": ("cmsy10", "cmsy7", "cmsy5"), "ex": ("cmex10", "cmex7", "cmex7"),
            "it": ("cmti10", "cmti7", "cmti7"), "bf": ("cmbx10", "cmbx7", "cmbx5"),
            "bb": ("msbm10", "msbm7", "msbm5")}
SCRIPT_SPACE = 0.5           # \scriptspace
NULL_DELIMITER_SPACE = 1.2   # \nulldelimiterspace
DELIMITER_FACTOR = 901       # \delimiterfactor
DELIMITER_SHORTFALL = 5.0    # \delimitershortfall
# TeX's math_spacing (tex.web section 764): row = left atom, column = right atom;
# 0 none, 1 thin unless script, 2 thin, 3 medium unless script, 4 thick unless script.
_SPACING = ["02340001", "22*40001", "33**3**3", "44*04004",
            "00*00000", "02340001", "11*11111", "12341011"]


class Box(NamedTuple):
    w: float
    h: float
    d: float


HItem = Union[Box, float]  # what hlist gives: boxes, and glue as a plain width
# hlist's first pass: per atom (spacing class, box, style); a delimiter (sized in the
# second pass, by the whole formula); a style change; glue.
Entry = Union[tuple[int, Box, int], tuple[Literal["left", "right"], Noad, int],
              tuple[Literal["style"], int], tuple[Literal["glue"], float]]


class Font:
    """One font at one size: its metrics scaled from the design size."""

    def __init__(self, name: str, at: float):
        self.m = FONTS[name]
        self.scale = at / self.m["size"]

    def has(self, c: int) -> bool:
        return c in self.m["chars"]

    def char(self, c: int) -> tuple[float, float, float, float]:
        """(width, height, depth, italic correction) in points at this size."""
        if c not in self.m["chars"]:
            raise ValueError(f"no character {c} in the font")
        w, h, d, i = self.m["chars"][c]
        return w * self.scale, h * self.scale, d * self.scale, i * self.scale

    def param(self, n: int) -> float:
        return self.m["params"][n - 1] * self.scale

    def ligkern(self, left: int, right: int | None) -> Kern | Ligature | None:
        for entry in self.m["lk"].get(left, ()):
            if entry[0] == right:
                return entry
        return None


@lru_cache(maxsize=None)
def font(fam: str, size: int) -> Font:
    return Font(FAMILIES[fam][size], SIZES[size])


def size_of(style: int) -> int:
    return 0 if style < 4 else 1 if style < 6 else 2


def sup_style(s: int) -> int:
    return 2 * (s // 4) + 4 + (s % 2)


def sub_style(s: int) -> int:
    return 2 * (s // 4) + 5


def num_style(s: int) -> int:
    return s + 2 - 2 * (s // 6)


def denom_style(s: int) -> int:
    return 2 * (s // 2) + 1 + 2 - 2 * (s // 6)


def cramped(s: int) -> int:
    return 2 * (s // 2) + 1


def sy(n: int, size: int) -> float:
    return font("sy", size).param(n)


def ex(n: int, size: int) -> float:
    return font("ex", size).param(n)


def mu(style: int) -> float:
    return sy(6, size_of(style)) / 18


def hpack(items: list[HItem]) -> Box:
    """Boxes and glue (plain floats) side by side."""
    boxes = [b for b in items if isinstance(b, Box)]
    return Box(sum(b.w if isinstance(b, Box) else b for b in items),
               max([0.0] + [b.h for b in boxes]), max([0.0] + [b.d for b in boxes]))


# ---------------------------------------------------------------- mlist to hlist

def hlist(mlist: MList, style: int) -> list[HItem]:
    """TeX's mlist_to_hlist: a list of Boxes and glue widths."""
    items = list(mlist)
    out: list[Entry] = []
    r_type: NoadKind
    r_type, max_h, max_d = OP, 0.0, 0.0
    cur = style
    i = 0
    while i < len(items):
        q = items[i]
        if isinstance(q, Style):
            cur = q.style
            out.append(("style", cur))
        elif isinstance(q, Space):
            dropped = q.nonscript and cur >= 4
            out.append(("glue", 0.0 if dropped else q.amount * mu(cur) if q.mu else q.amount))
        elif isinstance(q, (Text, EmBox)):
            b = text_box(q.text, size_of(cur)) if isinstance(q, Text) else \
                Box(q.em * font("rm", size_of(cur)).param(6), 0.0, 0.0)
            out.append((ORD, b, cur))
            max_h, max_d, r_type = max(max_h, b.h), max(max_d, b.d), ORD
        else:
            kind = q.kind
            if kind == BIN and r_type in (BIN, OP, REL, OPEN, PUNCT, LEFT):
                kind = ORD
            if kind in (REL, CLOSE, PUNCT, RIGHT) and r_type == BIN:
                _demote_last_bin(out)
            if kind == ORD and q.kind != FRAC:
                q = make_ord(items, i, cur)
            if kind in (LEFT, RIGHT):
                out.append((kind, q, cur))
            else:
                b = noad_box(q, kind, cur)
                out.append((_spacing_type(kind), b, cur))
                max_h, max_d = max(max_h, b.h), max(max_d, b.d)
            r_type = kind
        i += 1
    if r_type == BIN:
        _demote_last_bin(out)
    return _second_pass(out, style, max_h, max_d)


def _spacing_type(kind: NoadKind) -> int:
    # LaTeX's \frac is {#1\over#2}: braced, so an ord atom, not TeX's inner fraction.
    return ORD if not isinstance(kind, int) else kind


def _demote_last_bin(out: list[Entry]) -> None:
    for n in range(len(out) - 1, -1, -1):
        entry = out[n]
        if isinstance(entry[0], int) or entry[0] in (LEFT, RIGHT):
            if entry[0] == BIN:
                out[n] = (ORD, entry[1], entry[2])
            return


def _second_pass(out: list[Entry], style: int, max_h: float, max_d: float) -> list[HItem]:
    result: list[HItem] = []
    r_type: int | None = None
    cur = style
    for entry in out:
        if entry[0] == "style":
            cur = entry[1]
            continue
        if entry[0] == "glue":
            result.append(entry[1])
            continue
        if isinstance(entry[0], int):
            kind, box = entry[0], entry[1]
        else:  # a \left or \right
            spec = entry[1].extra
            assert spec is None or isinstance(spec, tuple)  # its delimiter
            box = left_right(spec, style, max_h, max_d)
            kind = OPEN if entry[0] == LEFT else CLOSE
        if r_type is not None:
            result.append(_space(r_type, kind, cur))
        result.append(box)
        r_type = kind
    return result


def _space(left: int, right: int, style: int) -> float:
    code = _SPACING[left][right]
    if code in "0*" or (code in "134" and style >= 4):
        return 0.0
    return {"1": 3, "2": 3, "3": 4, "4": 5}[code] * mu(style)


def make_ord(items: MList, i: int, style: int) -> Noad:
    """Kerns and ligatures between adjacent characters of one font (TeX's make_ord)."""
    q = items[i]
    assert isinstance(q, Noad)  # hlist calls it for an ord noad
    while True:
        if q.sub is not None or q.sup is not None or not isinstance(q.nucleus, Char):
            return q
        c = q.nucleus
        p = items[i + 1] if i + 1 < len(items) else None
        if not (isinstance(p, Noad) and isinstance(p.kind, int) and p.kind <= PUNCT
                and isinstance(p.nucleus, Char) and p.nucleus.fam == c.fam):
            return q
        q = dataclasses.replace(q, text_char=True)
        items[i] = q
        entry = font(c.fam, size_of(style)).ligkern(c.code, p.nucleus.code)
        if entry is None:
            return q
        if entry[1] == "k":
            items.insert(i + 1, Space(entry[2], False))
            return q
        op, lig = entry[2], Char(c.fam, entry[3])
        if op in (0, 5, 6, 7, 11) or op % 4 == 0:
            q = dataclasses.replace(q, nucleus=lig, sub=p.sub, sup=p.sup, text_char=False)
            items[i] = q
            del items[i + 1]
        elif op % 4 == 1:      # =:|  keep the right character
            q = dataclasses.replace(q, nucleus=lig, text_char=False)
            items[i] = q
        else:                  # |=: and |=:|  keep the left character, ligature after it
            items[i + 1] = dataclasses.replace(p, nucleus=lig) if op % 4 == 2 else p
            if op % 4 == 3:
                items.insert(i + 1, Noad(ORD, lig))
            return q


# ---------------------------------------------------------------- one noad

def noad_box(q: Noad, kind: NoadKind, style: int) -> Box:
    if q.kind == FRAC:
        return fraction(q, style)
    if q.kind == OP:
        return operator(q, style)
    if q.kind == RAD:
        return scripts(radical(q, style), False, 0.0, q, style)
    if q.kind == PHANTOM:
        b = clean_box(q.nucleus, style) if q.source is None else _source_box(q.source, style)
        return Box(0.0 if q.extra == "vphantom" else b.w, 0.0 if q.extra == "hphantom" else b.h,
                   0.0 if q.extra == "hphantom" else b.d)
    if q.kind == "acc":
        if isinstance(q.nucleus, Char) and (q.sub is not None or q.sup is not None):
            # TeX moves the scripts onto the accented character (tex.web section 742).
            inner = Noad(ORD, q.nucleus, q.sub, q.sup)
            return accent(dataclasses.replace(q, nucleus=[inner], sub=None, sup=None), style)
        return scripts(accent(q, style), False, 0.0, q, style)
    box, is_char, delta = nucleus(q, style)
    return scripts(box, is_char, delta, q, style)


@lru_cache(maxsize=1024)
def _source_box(source: tuple[str | None, tuple[str, ...]], style: int) -> Box:
    """The box of a phantom's group (``Noad.source``), set once per style."""
    return clean_box(parse_tokens(source[1], source[0]), style)


def nucleus(q: Noad, style: int) -> tuple[Box, bool, float]:
    """(box, is a character, italic correction left for the scripts)."""
    n = q.nucleus
    if isinstance(n, Char):
        f = font(n.fam, size_of(style))
        w, h, d, delta = f.char(n.code)
        if q.text_char and f.param(2) != 0:
            delta = 0.0     # no italic correction inside a word of a text font
        if q.sub is None and delta:
            w, delta = w + delta, 0.0
        return Box(w, h, d), True, delta
    if n is None:
        return Box(0.0, 0.0, 0.0), False, 0.0
    return hpack(hlist(n, style)), False, 0.0


def clean_box(field: Field | Box, style: int) -> Box:
    if field is None:
        return Box(0.0, 0.0, 0.0)
    if isinstance(field, Char):
        return nucleus(Noad(ORD, field), style)[0]
    if isinstance(field, Box):
        return field
    return hpack(hlist(field, style))


def scripts(box: Box, is_char: bool, delta: float, q: Noad, style: int) -> Box:
    """Rule 18: sub- and superscripts attached to a nucleus."""
    if q.sub is None and q.sup is None:
        return box
    size = size_of(style)
    t = 1 if style < 4 else 2
    up, down = (0.0, 0.0) if is_char else (box.h - sy(18, t), box.d + sy(19, t))
    xh = abs(sy(5, size))
    if q.sup is None:
        x = clean_box(q.sub, sub_style(style))
        down = max(down, sy(16, size), x.h - xh * 4 / 5)
        return Box(box.w + x.w + SCRIPT_SPACE, max(box.h, x.h - down), max(box.d, x.d + down))
    x = clean_box(q.sup, sup_style(style))
    clr = sy(15, size) if style % 2 else sy(13, size) if style < 2 else sy(14, size)
    up = max(up, clr, x.d + xh / 4)
    if q.sub is None:
        return Box(box.w + x.w + SCRIPT_SPACE, max(box.h, x.h + up), max(box.d, x.d - up))
    y = clean_box(q.sub, sub_style(style))
    down = max(down, sy(17, size))
    clr = 4 * ex(8, size) - ((up - x.d) - (y.h - down))
    if clr > 0:
        down += clr
        clr = xh * 4 / 5 - (up - x.d)
        if clr > 0:
            up, down = up + clr, down - clr
    w = max(x.w + delta, y.w) + SCRIPT_SPACE
    return Box(box.w + w, max(box.h, x.h + up), max(box.d, y.d + down))


def operator(q: Noad, style: int) -> Box:
    """Rule 13: a large operator, centred on the axis, with limits in display style."""
    size = size_of(style)
    delta = 0.0
    if isinstance(q.nucleus, Char):
        f, c = font(q.nucleus.fam, size), q.nucleus.code
        if style < 2 and c in f.m["next"]:
            c = f.m["next"][c]
        w, h, d, delta = f.char(c)
        w += delta
        if q.sub is not None and q.limits != "limits":
            w -= delta
        shift = (h - d) / 2 - sy(22, size)
        box = Box(w, h - shift, d + shift)
    else:
        box = clean_box(q.nucleus, style)
    if q.limits == "limits" or (q.limits == "display" and style < 2):
        return limits(box, q, style)
    return scripts(box, False, delta, q, style)


def limits(y: Box, q: Noad, style: int) -> Box:
    size = size_of(style)
    x, z = clean_box(q.sup, sup_style(style)), clean_box(q.sub, sub_style(style))
    h, d = y.h, y.d
    if q.sup is not None:
        h += ex(13, size) + x.h + x.d + max(ex(9, size), ex(11, size) - x.d)
    if q.sub is not None:
        d += ex(13, size) + z.h + z.d + max(ex(10, size), ex(12, size) - z.h)
    return Box(max(x.w, y.w, z.w), h, d)


def fraction(q: Noad, style: int) -> Box:
    """Rule 15: numerator over denominator, with null delimiters either side."""
    size = size_of(style)
    theta, axis = ex(8, size), sy(22, size)
    assert isinstance(q.extra, list)  # the denominator
    x, z = clean_box(q.nucleus, num_style(style)), clean_box(q.extra, denom_style(style))
    if style < 2:
        u, v, clr = sy(8, size), sy(11, size), 3 * theta
    else:
        u, v, clr = sy(9, size), sy(12, size), theta
    u += max(0.0, clr - ((u - x.d) - (axis + theta / 2)))
    v += max(0.0, clr - ((axis - theta / 2) - (z.h - v)))
    return Box(max(x.w, z.w) + 2 * NULL_DELIMITER_SPACE, u + x.h, v + z.d)


def radical(q: Noad, style: int) -> Box:
    """Rule 11: the surd sized to the radicand, and the rule over it."""
    size = size_of(style)
    theta = ex(8, size)
    x = clean_box(q.nucleus, cramped(style))
    clr = theta + (abs(sy(5, size)) / 4 if style < 2 else theta / 4)
    y = delimiter(RADICAL, size, x.h + x.d + clr + theta)
    clr += max(0.0, (y.d - (x.h + x.d + clr)) / 2)
    return Box(y.w + x.w, x.h + clr + 2 * y.h, max(x.d, y.d - x.h - clr))


def accent(q: Noad, style: int) -> Box:
    x = clean_box(q.nucleus, cramped(style))
    assert isinstance(q.extra, Char)  # the accent
    f = font(q.extra.fam, size_of(style))
    xh = f.param(5)
    return Box(x.w, max(x.h, xh) + f.char(q.extra.code)[1] - xh, x.d)


def delimiter(spec: Delimiter | None, size: int, need: float) -> Box:
    """TeX's var_delimiter: the first variant at least ``need`` tall (height + depth)."""
    if spec is None:
        return Box(NULL_DELIMITER_SPACE, 0.0, 0.0)
    best: tuple[Font, int] | None = None
    most = 0.0
    for fam, code in ((spec[0], spec[1]), (spec[2], spec[3])):
        for z in range(size, -1, -1):
            f, c = font(fam, z), code
            while f.has(c):
                if c in f.m["ext"]:
                    return _extensible(f, c, need)
                w, h, d, _ = f.char(c)
                if h + d > most:
                    best, most = (f, c), h + d
                    if h + d >= need:
                        return Box(w + f.char(c)[3], h, d)
                if c not in f.m["next"]:
                    break
                c = f.m["next"][c]
    if best is None:
        return Box(NULL_DELIMITER_SPACE, 0.0, 0.0)
    w, h, d, i = best[0].char(best[1])
    return Box(w + i, h, d)


def _extensible(f: Font, c: int, need: float) -> Box:
    w, h, d, i = f.char(c)
    total = max(need, h + d)
    return Box(w + i, total / 2, total / 2)


def left_right(spec: Delimiter | None, style: int, max_h: float, max_d: float) -> Box:
    """Rule 19: a \\left or \\right delimiter covering the formula, centred on the axis."""
    size = size_of(style)
    axis = sy(22, size)
    sp = 65536
    d1 = round(max(max_h - axis, max_d + axis) * sp)
    need = max((d1 // 500) * DELIMITER_FACTOR, 2 * d1 - round(DELIMITER_SHORTFALL * sp)) / sp
    b = delimiter(spec, size, need)
    half = (b.h + b.d) / 2
    return Box(b.w, half + axis, half - axis)


def text_box(text: str, size: int) -> Box:
    """``\\text{...}`` in the roman text font: characters, kerns, ligatures, spaces."""
    f = font("rm", size)
    codes = [ord(c) for c in text]
    parts: list[HItem] = []
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 32:
            parts.append(f.param(2))
            i += 1
            continue
        nxt = codes[i + 1] if i + 1 < len(codes) else None
        entry = f.ligkern(c, nxt) if nxt not in (None, 32) else None
        if entry and entry[1] == "l" and entry[2] == 0:
            codes[i + 1] = entry[3]
            i += 1
            continue
        w, h, d, _ = f.char(c)
        parts.append(Box(w, h, d))
        if entry and entry[1] == "k":
            parts.append(entry[2])
        i += 1
    return hpack(parts)
