"""How wide pdflatex typesets a formula, and where to break a row that is too wide.

``width(latex)`` measures math (or rows of an ``aligned``) with ``texlayout``, which
follows TeX's own rules on Computer Modern's metrics, so the result is what pdflatex
gives at 10pt with amsmath and amssymb, not an estimate from character counts.
``break_lines`` uses it to break a long row at a top-level ``=``, ``+``, ``-``,
``\\odot`` or ``\\oslash`` (deeper, or between factors, only when it must) so that
every row fits a given line width.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from .texlayout import hlist, hpack
from .texparse import GREEK_LOWER, GREEK_UPPER, parse, phantom_stand_in, tokens

THIN_SPACE = 10 / 6    # \, (3mu) at 10pt
MIN_ALIGN_SEP = 10.0   # amsmath's \minalignsep: aligned's \tabskip after each column pair
STYLE_NAMES = {"display": 0, "text": 2, "script": 4, "scriptscript": 6}


def _split_top(toks: list[str], sep: str) -> list[list[str]]:
    """Token runs between ``sep`` tokens outside braces."""
    parts: list[list[str]] = [[]]
    cur, depth = 0, 0
    for t in toks:
        depth += (t == "{") - (t == "}")
        if t == sep and depth == 0:
            parts.append([])
            cur += 1
        else:
            parts[cur].append(t)
    return parts


@lru_cache(maxsize=4096)
def _math_width(latex: str, style: int) -> float:
    return hpack(hlist(parse(latex), style)).w


def width(latex_math: str, style: str = "display") -> float:
    """Width in points of math as pdflatex sets it at 10pt (amsmath, amssymb).

    Rows of an alignment (``lhs &= rhs \\\\ ...``) are measured as amsmath's ``aligned``
    sets them: each column as wide as its widest cell, each right-hand cell starting
    with ``{}``, each column pair followed by ``\\minalignsep`` (10pt), except that a
    row ended by ``\\\\`` after a right-hand cell gets an extra cell ``\\kern-\\minalignsep``
    (amsmath's ``\\math@cr@@@aligned``), so only a one-row alignment keeps the last 10pt.
    Raises ValueError on LaTeX outside the supported subset.
    """
    s = STYLE_NAMES[style]
    rows = [_split_top(row, "&") for row in _split_top(tokens(latex_math), "\\\\")]
    if all(len(cells) == 1 for cells in rows):
        return max(_math_width("".join(cells[0]), s) for cells in rows)
    columns: dict[int, float] = {}
    for cells in rows:
        for n, cell in enumerate(cells):
            w = _math_width(("{}" if n % 2 else "") + "".join(cell), s)
            columns[n] = max(columns.get(n, 0.0), w)
    kern = any(len(cells) % 2 == 0 for cells in rows[:-1])
    return sum(columns.values()) + MIN_ALIGN_SEP * ((len(columns) + 1) // 2 - kern)


# amsmath's aligned at 10pt: \baselineskip 12pt, \lineskip 1pt and \lineskiplimit 0pt,
# each opened up by \jot (3pt).
BASELINE, LINESKIP, LINESKIP_LIMIT = 15.0, 4.0, 3.0


@lru_cache(maxsize=4096)
def _row_box(row: str) -> tuple[float, float]:
    """(height, depth) of one row ``lhs &= rhs`` as display math sets it."""
    cells = _split_top(tokens(row), "&")
    box = hpack(hlist(parse("".join(t for c in cells for t in c)), 0))
    return box.h, box.d


def height(rows: list[str]) -> float:
    """The height plus depth of an ``aligned`` of ``rows``: TeX's interline glue between
    rows (the baselines ``BASELINE`` apart unless the boxes come closer than
    ``LINESKIP_LIMIT``, then ``LINESKIP`` between them).  Raises ValueError on LaTeX
    outside the supported subset."""
    boxes = [_row_box(r) for r in rows]
    total = boxes[0][0] + boxes[-1][1] if boxes else 0.0
    for (_, d), (h, _) in zip(boxes, boxes[1:]):
        gap = BASELINE - d - h
        total += d + h + (gap if gap >= LINESKIP_LIMIT else LINESKIP)
    return total


def split_tall(rows: list[str], limit: float) -> list[list[str]]:
    """``rows`` as consecutive runs each at most ``limit`` high (a display taller than the
    page cannot break: it is an Overfull \\vbox).  A run breaks before a row that starts a
    new equation (``lhs &= …``) where it can, else before any row; a row taller than
    ``limit`` is a run of its own."""
    runs: list[list[str]] = [[]]
    for row in rows:
        run = runs[-1]
        if run and height(run + [row]) > limit:
            cut = next((n for n in range(len(run) - 1, 0, -1) if not run[n].startswith("&")
                        and height(run[n:] + [row]) <= limit), len(run))
            runs[-1:] = [run[:cut], run[cut:]]
        runs[-1].append(row)
    return runs


BREAK_BEFORE = {"+", "-", "\\odot", "\\oslash", "="}
_NOT_AFTER = {None, "=", "(", "[", ",", ";", "+", "-", "\\odot", "\\oslash", "\\times",
              "\\cdot", "&", "\\left", "\\quad", "\\qquad", "\\,", "\\to", "\\le", "\\ge",
              "\\in", "<", ">", "{", "^", "_"}
_TOK = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)


Span = tuple[int, int]  # (start, end) offsets in a right-hand side


class Break(NamedTuple):
    pos: int          # offset in the right-hand side: the row breaks before it
    depth: int        # parentheses (plain or \left) around it
    groups: tuple[Span, ...]  # inside of each enclosing \left…\right, outermost first
    product: bool = False   # between two factors: the next row starts with \times
    after_sum: bool = False  # ... the first being a \sum_{…} whose summand is the second
    comma: bool = False     # after a comma between a function's arguments
    relation: bool = False  # before a comparison inside a function's arguments (where(Y > 0 …)


def _left_right_spans(rhs: str) -> dict[int, Span]:
    """Offset of each ``\\left`` token -> (start, end) of what it encloses."""
    spans: dict[int, Span] = {}
    stack: list[int] = []
    for m in _TOK.finditer(rhs):
        t = m.group()
        if t == "\\left":
            stack.append(m.start())
        elif t == "\\right" and stack:
            at = stack.pop()
            delim = _TOK.match(rhs, at + len("\\left"))
            assert delim is not None  # the \right after it is a token at least
            spans[at] = (delim.end(), m.start())
    return spans


def candidates(rhs: str) -> list[Break]:
    """Every place a row may break: before a binary ``+``, ``-``, ``\\odot`` or ``=`` not
    inside braces, before the ``\\quad`` of a ``, \\quad`` clause (no ``=`` after such a
    clause, where it would align with the row's own ``=``), between two factors of a
    product written apart (``product``; ``after_sum`` if the first is a ``\\sum_{…}``), and
    after a comma between a function's arguments (``comma``)."""
    spans = _left_right_spans(rhs)
    out: list[Break] = []
    groups: list[Span] = []
    parens: list[str] = []
    prev: str | None = None
    brace, clause, gap, after_sum, script = 0, False, False, False, False
    for m in _TOK.finditer(rhs):
        t = m.group()
        if t.isspace() or (t == "\\," and brace == 0 and _ends_factor(prev)):
            gap = True  # a thin space after a coefficient (1/(B K) \, colsum…) is a gap too
            continue
        if brace == 0:
            binary = prev not in _NOT_AFTER and not after_sum   # TeX: a bin after an op is ord
            if t in BREAK_BEFORE and binary and not (clause and t == "="):
                out.append(Break(m.start(), len(parens), tuple(groups)))
            elif t == "\\quad" and prev == ",":
                out.append(Break(m.start(), len(parens), tuple(groups)))
                clause = True
            elif gap and _ends_factor(prev) and _starts_factor(t):
                out.append(Break(m.start(), len(parens), tuple(groups), True, after_sum))
            elif prev == "," and parens:  # where(Z > 0, 1, ⅒) too wide for a row alone
                out.append(Break(m.start(), len(parens), tuple(groups), comma=True))
            elif t in _RELATIONS and binary and parens:  # where(Y_i | > 0, …): TeX breaks
                # at a relation too; the very last resort, for a head too wide for the line
                out.append(Break(m.start(), len(parens), tuple(groups), relation=True))
            if t in ("_", "^"):
                script = True
            elif script:
                script = False     # this token (or the group it opens) is the script
            else:
                after_sum = t in _BIG_OPS
        brace += (t == "{") - (t == "}")
        if brace == 0:
            _nest(t, prev, m.start(), spans, groups, parens)
        prev, gap = t, False
    return out


_GREEK = set(GREEK_LOWER) | set(GREEK_UPPER)
_RELATIONS = {">", "<", "\\leq", "\\geq", "\\le", "\\ge"}
_BIG_OPS = {"\\sum", "\\prod", "\\int"}
_FACTOR_STARTS = {"(", "{", "\\frac", "\\left", "\\mathit", "\\mathbf", "\\mathrm",
                  "\\operatorname", "\\sqrt", "\\sum", "\\prod", "\\delta", "\\sigma",
                  "\\partial", "\\nabla"}


def _ends_factor(t: str | None) -> bool:
    return t is not None and (t in ("}", ")", "]", "'", "\\top") or
                              (len(t) == 1 and t.isalnum()))


def _starts_factor(t: str) -> bool:
    return t in _FACTOR_STARTS or (len(t) == 1 and t.isalnum()) or \
        (t.startswith("\\") and t[1:] in _GREEK)


def _nest(t: str, prev: str | None, at: int, spans: dict[int, Span], groups: list[Span],
          parens: list[str]) -> None:
    if t == "\\left" and at in spans:
        groups.append(spans[at])
        parens.append("\\left")
    elif t == "\\right" and groups:
        groups.pop()
        while parens and parens.pop() != "\\left":
            pass
    elif prev not in ("\\left", "\\right") and t in ("(", "["):
        parens.append(t)
    elif prev not in ("\\left", "\\right") and t in (")", "]") and parens and \
            parens[-1] != "\\left":
        parens.pop()


def split_points(latex_rhs: str) -> list[int]:
    """Offsets where a row may break at an operator of the formula's top level: a binary
    ``+``, ``-``, ``\\odot``, ``\\oslash`` or ``=``, or a ``, \\quad`` clause, not inside
    braces or ``\\left…\\right`` (inside plain parentheses, yes: see ``candidates``)."""
    return [b.pos for b in candidates(latex_rhs) if not b.groups and not b.product]


def break_lines(lhs: str, rhs: str, linewidth_pt: float, left_width: float | None = None,
                slack: float = 0.0) -> list[str]:
    """``lhs &= rhs`` as rows ``lhs &= part1``, ``&\\quad + part2`` ... each fitting.

    ``left_width`` is the width of the alignment's left column (the widest lhs of all
    its rows; by default this row's).  A row fits when the left column and its right
    cell are at most ``linewidth_pt - slack``: true of an ``aligned`` of several rows
    (one alone is ``MIN_ALIGN_SEP`` wider: pass that as ``slack``).
    The rows are the fewest that fit, breaking where it reads best: at a top-level
    ``=`` (or ``, \\quad`` clause), else at an operator outside parentheses, one level
    inside, and so on; only when operators cannot do it between the factors of a
    product, the next row starting with ``\\times`` (the TeXbook's rule, chapter 19),
    and last between a ``\\sum_{…}`` and its summand.  A break inside
    ``\\left( … \\right)`` closes the row with ``\\vphantom{…}\\right.`` and reopens the
    next with ``\\left.\\vphantom{…}`` (the phantom is the whole enclosed formula) so
    the delimiters keep their size.  Where no break fits, a radical is opened
    (``open_radical``: √X written (X)^{1/2}, which breaks inside) and the row laid out
    again, the widest radical first, keeping the layout that runs least past the line.
    A part that fits nowhere is left on a row of its own, wider than the line.
    """
    L = width(lhs) if left_width is None else left_width
    room = linewidth_pt - slack
    if L + _math_width("{}=" + rhs, 0) <= room:
        return [f"{lhs} &= {rhs.strip()}".lstrip()]
    def over(rows: list[str]) -> float:
        return max(L + _math_width("{}" + r, 0) - room for r in rows)
    text: str | None = unwrap_parenthesized(rhs)
    rows: list[str] = []
    while text is not None:  # a radical too wide for a row is opened, the widest first
        cands = candidates(text)
        if cands:
            cells = [_unindented(c, L, room) for c in _layout(text, cands, L, room)]
            if not rows or over(cells) < over(rows):
                rows = cells
            if over(rows) <= 0:
                break
        text = open_radical(text)
    if not rows:
        return [f"{lhs} &= {rhs.strip()}".lstrip()]
    return [f"{lhs} &{rows[0]}".lstrip()] + [f"&{r}" for r in rows[1:]]


def _unindented(cell: str, L: float, room: float) -> str:
    """A continuation row's cell without its ``\\quad`` where only that makes it fit: a
    part no break can split (``\\times softmax(S)_{mnpk}``) beside the wide left column
    of --steps on a two-column line ran 6 pt past it, less than the indent."""
    if not cell.startswith("\\quad ") or L + _math_width("{}" + cell, 0) <= room:
        return cell
    bare = cell[len("\\quad "):]
    return bare if L + _math_width("{}" + bare, 0) <= room else cell


def left_width(rows: list[str]) -> float:
    """The width of the left column of rows ``lhs &= rhs`` aligned together."""
    pairs = [_lhs_rhs(r) for r in rows]
    return max((width(p[0]) for p in pairs if p and p[0].strip()), default=0.0)


def overflows(rows: list[str], linewidth_pt: float, slack: float = 0.0) -> bool:
    """Whether a row of ``rows`` (``lhs &= …`` and ``&\\quad …``, as ``fit_rows`` gives
    them) is wider than the line, its right cell set after their common left column."""
    L = left_width(rows)
    room = linewidth_pt - slack
    return any(L + _math_width("{}" + row[_top_ampersand(row) + 1:], 0) > room
               for row in rows if "&" in row)


def fit_rows(rows: list[str], linewidth_pt: float, slack: float = 0.0,
             left: float | None = None) -> list[str]:
    """The rows of one ``aligned`` (``lhs &= rhs``, as ``latex.adjoint_rows`` gives them)
    with each too-wide row broken by ``break_lines`` against the common left column
    (``left``: a column wider than these rows', when they are part of a larger alignment).
    Rows not of that form are kept as they are."""
    pairs = [_lhs_rhs(r) for r in rows]
    if left is None:
        left = left_width(rows)
    out: list[str] = []
    for row, p in zip(rows, pairs):
        broken = [row] if p is None else break_lines(p[0], p[1], linewidth_pt, left, slack)
        out += [row] if len(broken) == 1 else broken
    return out


def _lhs_rhs(row: str) -> tuple[str, str] | None:
    """(lhs, rhs) of ``lhs &= rhs`` split at its one top-level ``&``, or None."""
    cells = _split_top(tokens(row), "&")
    if len(cells) != 2:
        return None
    at = _top_ampersand(row)
    lhs, rhs = row[:at].strip(), row[at + 1:].lstrip()
    return (lhs, rhs[1:].strip()) if rhs.startswith("=") else None


def _top_ampersand(row: str) -> int:
    depth = 0
    for m in _TOK.finditer(row):
        depth += (m.group() == "{") - (m.group() == "}")
        if m.group() == "&" and depth == 0:
            return m.start()
    raise ValueError("no top-level &")


def _rank(rhs: str, b: Break) -> int:
    """Which breaks a row prefers (lower first): a top-level ``=`` or clause, then
    operators by depth (at one depth, ``+``/``-`` before ``\\odot``/``\\oslash``, which
    bind tighter: a break there splits a term), then products by depth, then a sum
    from its summand."""
    if b.product:
        return 400 * (1 + b.after_sum) + 2 * b.depth
    if b.comma:  # nearly the last resort: a function's arguments apart
        return 800 + 2 * b.depth
    if b.relation:  # the last, used only where a row would overflow without it: a
        return 5000 + 2 * b.depth  # comparison's sides apart
    if b.depth == 0 and rhs.startswith(("=", "\\quad"), b.pos):
        return 0
    return 2 * (1 + b.depth) + rhs.startswith(("\\odot", "\\oslash"), b.pos)


def unwrap_parenthesized(rhs: str) -> str:
    """``{(…)}^{x}`` as ``(…)^{x}``, and a function's power ``{\\tanh\\left(…\\right)}^{2}``
    as ``\\tanh\\left(…\\right)^{2}``, wherever that sets the same (up to the thin spaces
    TeX puts between a ``\\left…\\right`` and a letter or a comma, one on each side: a
    transposed block ``-2 {\\left(…\\right)}^{\\top}, \\quad …``), so the parenthesis can
    be broken (TeX cannot break inside braces): the argument of 1 − tanh(…)² is what is
    too wide for a row when anything is."""
    for at, end in _powered_groups(rhs):
        inner = rhs[at + 1:end]
        if not _applied_parenthesis(inner):
            continue
        new = rhs[:at] + inner + rhs[end + 1:]
        if abs(_math_width(new, 0) - _math_width(rhs, 0)) <= 2 * THIN_SPACE + 0.01:
            return unwrap_parenthesized(new)
    return rhs


def open_radical(rhs: str) -> str | None:
    """``rhs`` with its widest ``\\sqrt{X}`` outside braces written ``\\left(X\\right)^{1/2}``,
    which TeX can break inside (a radical it cannot: the normalised part of a layer norm,
    1/(D √(ε + Σ …)³), ran 14 to 25 pt past a two-column line in --steps), or None when it
    has none; ``\\left(\\sqrt{X}\\right)`` is then ``\\left(X\\right)^{1/2}`` and a power
    ``{\\sqrt{X}}^{3}`` is ``\\left(X\\right)^{3/2}``."""
    found: list[tuple[float, int, int, str]] = []
    depth = 0
    for m in _TOK.finditer(rhs):
        t = m.group()
        depth += (t == "{") - (t == "}")
        if t != "\\sqrt" or depth > 1 or not rhs.startswith("{", m.end()):
            continue
        end = _matching_brace(rhs, m.end())
        if end is None:
            return None
        at, stop, power = m.start(), end + 1, "1/2"
        if depth == 1:  # {\sqrt{X}}^{n}: the power's braces around the radical alone
            n = re.match(r"\}\^\{(\d+)\}", rhs[stop:])
            if not (n and rhs[:at].endswith("{")):
                continue
            at, stop, power = at - 1, stop + n.end(), f"{n.group(1)}/2"
        before, after = rhs[:at].rstrip(), rhs[stop:].lstrip()
        if power == "1/2" and before.endswith("\\left(") and after.startswith("\\right)") \
                and not after[len("\\right)"):].lstrip().startswith("^"):
            at, stop = len(before) - len("\\left("), len(rhs) - len(after) + len("\\right)")
        opened = f"\\left({rhs[m.end() + 1:end]}\\right)^{{{power}}}"
        found.append((-_math_width(rhs[m.start():end + 1], 0), at, stop, opened))
    found += _fractions(rhs)
    if not found:
        return None
    _, at, stop, opened = min(found)
    return rhs[:at] + opened + rhs[stop:]


def _fractions(rhs: str) -> list[tuple[float, int, int, str]]:
    """Each ``\\frac{A}{B}`` outside braces as (−its width, start, end, ``A / \\left(B\\right)``),
    the slash form TeX can break inside (``\\left(A\\right)`` where A is a sum): a
    fraction is as wide as its denominator, and layernorm_rank4's −1/(2 √(ε + var)³)
    beside the 134 pt left column of --steps ran 23 pt past a two-column line."""
    out: list[tuple[float, int, int, str]] = []
    depth = 0
    for m in _TOK.finditer(rhs):
        depth += (m.group() == "{") - (m.group() == "}")
        if m.group() != "\\frac" or depth or not rhs.startswith("{", m.end()):
            continue
        mid = _matching_brace(rhs, m.end())
        if mid is None or not rhs.startswith("{", mid + 1):
            continue
        end = _matching_brace(rhs, mid + 1)
        if end is None:
            continue
        top, bottom = rhs[m.end() + 1:mid], rhs[mid + 2:end]
        if split_points(top):
            top = f"\\left({top}\\right)"
        out.append((-_math_width(rhs[m.start():end + 1], 0), m.start(), end + 1,
                    f"{top} / \\left({bottom}\\right)"))
    return out


def _powered_groups(s: str) -> list[Span]:
    """(offset of ``{``, offset of its ``}``) of each brace group ending in ``)`` and
    raised to a power (``{…)}^``), in one pass; not a macro's argument written against it
    (``\\sqrt{f(x)}^{\\top}``, whose braces are the root's, nor a script or ``\\frac``'s
    second argument)."""
    out: list[Span] = []
    opened: list[tuple[int, bool]] = []
    prev = ""
    for m in _TOK.finditer(s):
        if m.group() == "{":
            opened.append((m.start(), bool(re.fullmatch(r"\\[A-Za-z]+|[_^}]", prev))))
        elif m.group() == "}" and opened:
            at, argument = opened.pop()
            if s[m.start() - 1] == ")" and s.startswith("^", m.end()) and not argument:
                out.append((at, m.start()))
        prev = m.group()
    return sorted(out)


# What may stand before the parenthesis of an unwrappable power: nothing, or one
# function's name written against it (\\tanh, \\sigma', \\operatorname{softplus}, maybe
# with a subscript (groups one deep inside it), as einsum's \\operatorname{einsum}_{\\mathrm{ij}
# \\to \\mathrm{i}} of a transposed einsum, maybe then \\left; a product has a space:
# \\sigma (a + b) is not unwrapped, its square is not \\sigma (a + b)^{2}).  A named
# operator is tried first: \\operatorname alone would leave its name to the rest.
_FUNCTION_HEAD = re.compile(r"(\\(operatorname|mathrm)\{[A-Za-z]*\}|\\[A-Za-z]+)'*"
                            r"(_\{([^{}]|\{[^{}]*\})*\})?(\\left)?")


def _applied_parenthesis(s: str) -> bool:
    """``( … )`` or ``f( … )`` (``f`` a function's name) whose parenthesis closes at its
    very end."""
    head = _FUNCTION_HEAD.match(s)
    rest = s[head.end():] if head else s
    return rest.startswith("(") and _one_parenthesis(rest)


def _matching_brace(s: str, at: int) -> int | None:
    depth = 0
    for m in _TOK.finditer(s, at):
        depth += (m.group() == "{") - (m.group() == "}")
        if depth == 0:
            return m.start()
    return None


def _one_parenthesis(s: str) -> bool:
    """``( … )`` whose first parenthesis closes at its very end."""
    depth = 0
    for m in _TOK.finditer(s):
        t = m.group()
        depth += (t == "(") - (t == ")")
        if depth == 0:
            return m.end() == len(s)
    return False


# Tokens that never begin an item of a group: scripts, arguments, a prime, and what
# follows \left/\right (its delimiter)
_CONTINUES = {"_", "^", "{", "'"}


def _items(group: str) -> list[str]:
    """``group`` cut into its items at the top level: a symbol or control word with its
    arguments and scripts, a \\left … \\right group with its scripts, an operator."""
    items: list[list[str]] = []
    depth, nested, prev = 0, 0, ""
    for t in tokens(group):
        starts = depth == 0 and nested == 0 and t not in _CONTINUES and t != " " \
            and prev not in ("\\left", "\\right")
        if starts or not items:
            items.append([])
        items[-1].append(t)
        depth += (t == "{") - (t == "}")
        nested += (t == "\\left") - (t == "\\right")
        if t != " ":
            prev = t
    return ["".join(i).strip() for i in items if "".join(i).strip()]


@lru_cache(maxsize=1024)
def tallest(group: str) -> str:
    """The fewest items of ``group`` as tall and as deep as all of it (display style): a
    broken row's ``\\vphantom`` sizes its delimiters by them, as by the whole group,
    without repeating the formula in every row (a rank-3 attention's Hessian was 2.4 MB of
    LaTeX, 97 % phantoms).  Checked against the whole group's box; the group itself
    where the items cannot be set alone."""
    try:
        whole = hpack(hlist(parse(group), 0))
        boxes = [(hpack(hlist(parse(i), 0)), i) for i in _items(group)]
    except ValueError:
        return group
    if not boxes:
        return group
    high = max(boxes, key=lambda b: b[0].h)
    deep = max(boxes, key=lambda b: b[0].d)
    parts = _shrunk(high[1]) if high is deep else f"{_shrunk(high[1])} {_shrunk(deep[1])}"
    try:
        box = hpack(hlist(parse(parts), 0))
    except ValueError:
        return group
    same = abs(box.h - whole.h) < 1e-9 and abs(box.d - whole.d) < 1e-9
    return parts if same else group


def _shrunk(item: str) -> str:
    """A ``\\left … \\right`` item with its inside cut to its tallest items (its delimiters
    are sized by those alone); any other item as it is."""
    every = tokens(item)
    at = [n for n, t in enumerate(every) if t != " "]  # where each token that is no space is
    toks = [every[n] for n in at]
    if len(toks) < 4 or toks[0] != "\\left" or toks[-2] != "\\right":
        return item
    nested = 0
    for n, t in enumerate(toks[:-2]):
        nested += (t == "\\left") - (t == "\\right")
        if nested == 0 and n:
            return item  # the first \left closes before the end: not one group
    inside = "".join(every[at[1] + 1:at[-2]]).strip()  # between the delimiters
    return f"\\left{toks[1]}{tallest(inside)}\\right{toks[-1]}"


def _cell(rhs: str, start: Break, end: Break, measure: bool = False) -> str:
    """The right cell of the row from ``start`` to ``end``, its \\left groups balanced
    (``measure``: each phantom's group a stand-in that measures as it, texparse's)."""
    part = rhs[start.pos:end.pos].strip()

    def group(span: Span) -> str:
        return phantom_stand_in(rhs[span[0]:span[1]]) if measure else rhs[span[0]:span[1]]
    reopen = "".join(f"\\left.\\vphantom{{{tallest(group(g))}}} " for g in start.groups)
    close = "".join(f" \\vphantom{{{tallest(group(g))}}}\\right." for g in reversed(end.groups))
    if start.pos == 0:
        return f"= {part}{close}"
    lead = "" if part.startswith(("=", "\\quad")) else "\\quad \\times " if start.product \
        else "\\quad "
    return f"{lead}{reopen}{part}{close}"


ROW_COST = 20          # one more row costs more than breaking a level deeper ...
OVERFULL_COST = 10000  # ... and a row wider than the line more than anything


def _layout(rhs: str, points: list[Break], L: float, room: float) -> list[str]:
    """Right cells of the cheapest rows: the fewest rows, then the best kinds of break
    (``_rank``); ties go to the longer first rows.  Widths grow with a row's length,
    so each row's candidates stop at the first that overflows."""
    bounds = [Break(0, 0, ())] + points + [Break(len(rhs), 0, ())]
    last = len(bounds) - 1
    best: dict[int, tuple[int, list[int]]] = {last: (0, [])}
    for i in range(last - 1, -1, -1):
        options: list[tuple[int, int]] = []
        for j in range(i + 1, last + 1):
            fits = L + _math_width("{}" + _cell(rhs, bounds[i], bounds[j], True), 0) <= room
            if not fits and j > i + 1:
                break
            cost = ROW_COST + (0 if j == last else _rank(rhs, bounds[j])) + best[j][0]
            options.append((cost + (0 if fits else OVERFULL_COST), -j))
            if not fits:
                break
        cost, j = min(options)
        best[i] = (cost, [-j] + best[-j][1])
    cells: list[str] = []
    at = 0
    for end in best[0][1]:
        cells.append(_cell(rhs, bounds[at], bounds[end]))
        at = end
    return cells
