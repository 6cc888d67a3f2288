"""The derivation in a terminal: aligned, wrapped, coloured with Rich.

The layout is built here as lines of (text, style) segments: equations
aligned at their ``=``, a long right-hand side wrapped under itself, so the
output reads well at 80 columns and has no trailing blanks.  On a terminal
the segments become Rich ``Text`` (never markup, so ``𝟙[z > 0]`` prints as
written, and colour goes away by itself with NO_COLOR); piped or written to a
file they are joined as plain text without importing Rich at all.
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..record import Record
from . import text as T
from .names import cells, pad
from .sheet import Formula, HessianRow, SecondRow, Selection, Sheet, build

if TYPE_CHECKING:
    from ..derivation import Derivation

HEAD = "bold"
NAME = "bold cyan"
DIM = "dim"
NOTE = "yellow"
MATRIX = "green"
LHS_MAX = 30

Line = list[tuple[str, str]]  # [(text, style), ...]
_Eq = tuple[str, str, str, str, bool]  # lhs, rhs, their styles, whether '=' is written


class Options(Record):
    steps: bool = False
    expand: bool = False
    tree: bool = False
    only: tuple[str, ...] = ()  # --only: sections and forms (sheet.Selection)
    nodes: tuple[str, ...] = ()  # --node

    @property
    def selection(self) -> Selection:
        return Selection(self.only, self.nodes)


class _Block:
    """Equations aligned at '=' with right-hand sides wrapped at the width."""

    def __init__(self, width: int):
        self.width = width
        self.rows: list[_Eq | Line] = []  # an equation, or a finished line

    def eq(self, lhs: str, rhs: str, lhs_style: str = "", rhs_style: str = "",
           sign: bool = True) -> None:
        """``lhs = rhs``; an empty ``lhs`` continues the equation above (or, without
        ``sign``, annotates it)."""
        self.rows.append((lhs, rhs, lhs_style, rhs_style, sign))

    def line(self, line: Line) -> None:
        self.rows.append(line)

    def render(self) -> list[Line]:
        widths = [cells(r[0]) for r in self.rows if isinstance(r, tuple) and
                  cells(r[0]) <= LHS_MAX]
        col = max(widths, default=0)
        out: list[Line] = []
        for r in self.rows:
            if not isinstance(r, tuple):
                out.append(r)
                continue
            lhs, rhs, ls, rs, sign = r
            width = max(col, cells(lhs))
            indent = 2 + width + 3
            chunks = _wrap(rhs, max(self.width - indent, 20))
            out.append([("  ", ""), (pad(lhs, width), ls), (" = " if sign else "   ", ""),
                        (chunks[0], rs)])
            out += [[(" " * indent, ""), (c, rs)] for c in chunks[1:]]
        return out


def _wrap(text: str, room: int) -> list[str]:
    lines: list[str] = []
    line, width = "", 0  # the line's columns, kept as it grows (not counted again per word)
    for w in text.split(" "):
        size = cells(w)
        if line and width + 1 + size > room:
            lines.append(line)
            line, width = w, size
        elif line:
            line, width = f"{line} {w}", width + 1 + size
        else:
            line, width = w, size
    return lines + [line]


def _para(text: str, width: int, style: str = DIM) -> list[Line]:
    return [[(ln, style)] for ln in textwrap.wrap(text, width - 1)]


def lines(d: Derivation, opts: Options | None = None, width: int = 80) -> list[Line]:
    """The whole view of ``d`` (without the tree) as lines of styled segments."""
    opts = opts or Options()
    return layout(build(d, steps=opts.steps, selection=opts.selection), opts, width)


def layout(sheet: Sheet, opts: Options, width: int = 80) -> list[Line]:
    """A Unicode sheet as lines of styled segments."""
    shown = sheet.sections
    return (_header(sheet, width)
            + (_forward(sheet, width) if "forward" in shown else [])
            + (_backward(sheet, opts, width) if "backward" in shown else [])
            + (_gradients(sheet, width) if "gradients" in shown else [])
            + _tangents(sheet, width) + _hvp(sheet, width) + _hessian(sheet, width)
            + _gauss_newton(sheet, width) + _notes(sheet, width))


def plain(d: Derivation, opts: Options | None = None, width: int = 80) -> str:
    """The view as plain text, for pipes and files."""
    opts = opts or Options()
    sheet = build(d, steps=opts.steps, selection=opts.selection)
    out = "\n".join("".join(t for t, _ in ln) for ln in layout(sheet, opts, width)) + "\n"
    if opts.tree:
        import io

        from rich.console import Console
        buf = io.StringIO()
        tree = graph_tree(d, None if sheet.filtered else sheet)
        Console(file=buf, width=width, color_system=None).print(tree)
        # rich wraps a long label at a blank and keeps the blank at the line's end
        out += "\nGraph\n" + "".join(ln.rstrip() + "\n" for ln in buf.getvalue().splitlines())
    return out


def rich_derivation(d: Derivation, console: Any = None, options: Any = None,
                    opts: Options | None = None) -> Iterator[Any]:
    """Yield Rich renderables of ``d`` (a derivation's ``__rich_console__``)."""
    from rich.text import Text
    opts = opts or Options()
    width = getattr(options, "max_width", None) or 80
    sheet = build(d, steps=opts.steps, selection=opts.selection)
    for ln in layout(sheet, opts, width):
        t = Text()
        for text, style in ln:
            t.append(text, style=style or None)
        yield t
    if opts.tree:
        yield Text("")
        yield Text("Graph", style=HEAD)
        yield graph_tree(d, None if sheet.filtered else sheet)


def _header(sheet: Sheet, width: int) -> list[Line]:
    title = [(sheet.name, HEAD)]
    if sheet.path and sheet.path != "<string>":
        title.append((f"  {sheet.path}", DIM))
    out = [title]
    if sheet.description:
        out += _para(sheet.description, width)
    head = "Inputs: "
    rows: list[Line] = [[(head, "")]]
    used = len(head)
    inputs = sheet.inputs  # (a property that filters every tensor: read once)
    for n, t in enumerate(inputs):
        text = f"{t.name} ({t.shape_text})"
        last = n + 1 == len(inputs)
        if n and used + 2 + len(text) + (not last) > width - 1:  # wrap, as a paragraph does
            rows[-1].append((",", ""))
            rows.append([(" " * len(head), "")])
            used = len(head)
        elif n:
            rows[-1].append((", ", ""))
            used += 2
        rows[-1] += [(t.name, NAME), (f" ({t.shape_text})", "")]
        used += len(text)
    return out + rows + _para(T.VECTORS, width)


def _formula(block: _Block, f: Formula) -> None:
    """The index form (where there is one), then the matrix form (where there is one)."""
    if f.indexed:
        block.eq(f.lhs_index, f.index)
    if f.matrix is not None:
        block.eq(f.lhs_matrix, f.matrix, NAME, MATRIX)


def _forward(sheet: Sheet, width: int) -> list[Line]:
    block = _Block(width)
    for t in sheet.forward:
        assert t.formula is not None  # a node has a definition
        _formula(block, t.formula)
    return [[], [("Forward", HEAD)]] + block.render()


def _backward(sheet: Sheet, opts: Options, width: int) -> list[Line]:
    block = _Block(width)
    for n, a in enumerate(sheet.adjoints):
        if n:
            block.line([])
        for step in a.steps:
            block.line([(f"  via {step.definition or step.node_lhs}", DIM)])
            for lhs, rhs in step.lines:
                block.eq("  " + lhs, rhs, DIM, DIM)
        _formula(block, a.formula)
        wheres = list(a.formula.wheres)
        if opts.expand and a.closed is not None:
            block.eq(a.closed.lhs, a.closed.rhs, NAME, "magenta")
            wheres += a.closed_wheres
        elif opts.expand and a.closed_omitted:
            block.eq("", a.closed_omitted, "", DIM, sign=False)
        for w in wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    return [[], [("Backward", HEAD)]] + _para(T.CONVENTION, width) + block.render()


def _gradients(sheet: Sheet, width: int) -> list[Line]:
    block = _Block(width)
    for g in sheet.gradients:
        block.eq(g.label, g.rhs, NAME, "bold " + MATRIX)
        # the names it reads, defined here as under its adjoint (t1 = conv1d(X, W, b))
        for w in g.wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    return [[], [("Gradients", HEAD)]] + block.render()


def _tangents(sheet: Sheet, width: int) -> list[Line]:
    if not sheet.along:
        return []
    block = _Block(width)
    for n, t in enumerate(sheet.tangents):
        assert t.formula is not None  # only a tangent that moves is listed
        _second_steps(block, t, n)
        _formula(block, t.formula)
        for w in t.formula.wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    return [[], [("Tangents", HEAD)]] + _para(T.tangent_text(sheet.along), width) + \
        block.render()


def _hvp(sheet: Sheet, width: int) -> list[Line]:
    if not sheet.hvp:
        return []
    block = _Block(width)
    for n, r in enumerate(sheet.rops):
        if n:
            block.line([])
        assert r.formula is not None  # only a moving adjoint is listed
        _second_steps(block, r, 0)
        _formula(block, r.formula)
        for w in r.formula.wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    rows = _Block(width)
    for n, h in enumerate(sheet.hvp):
        if h.via and h.formula is not None:  # --steps: each block as the chain above
            _second_steps(rows, h, n)
            _formula(rows, h.formula)
            continue
        rows.eq(h.lhs_shown, h.rhs, NAME, "bold " + MATRIX)
    return [[], [("Hessian-vector product", HEAD)]] + _para(T.hvp_text(sheet.along), width) + \
        block.render() + [[], [("(∇²L) v, by blocks", HEAD)]] + rows.render()


def _second_steps(block: _Block, r: SecondRow, n: int) -> None:
    """``--steps`` above a tangent or an ℛ{·}: what it differentiates, then the product
    and chain rules' result before it is simplified."""
    if not r.via:
        return
    if n:
        block.line([])
    block.line([(f"  {r.via}", DIM)])
    for lhs, rhs in r.steps:
        block.eq("  " + lhs, rhs, DIM, DIM)


def _hessian(sheet: Sheet, width: int) -> list[Line]:
    if not sheet.hessian:
        return []
    return [[], [("Hessian", HEAD)]] + _para(T.HESSIAN, width) + \
        _hessian_rows(sheet.hessian, width)


def _gauss_newton(sheet: Sheet, width: int) -> list[Line]:
    """The Gauss-Newton split: each part of (∇²L) v and, if derived, of each block."""
    if not sheet.gn_output:
        return []
    rows = _Block(width)
    for n, r in enumerate(sheet.gn_hvp + sheet.rest_hvp):
        _second_row(rows, n, r.lhs, r.formula)
    out = [[], [("Gauss-Newton split", HEAD)]] + \
        _para(T.gauss_newton_text(sheet.gn_output, sheet.loss), width) + rows.render()
    if sheet.gn_hessian:
        out += [[]] + _hessian_rows(sheet.gn_hessian + sheet.rest_hessian, width)
    return out


def _second_row(block: _Block, n: int, lhs: str, formula: Formula | None) -> bool:
    """One second-order row (the n-th of its block, a blank line before all but the first):
    ``lhs = 0`` where it has no formula (False), else its formula and its where-lines."""
    if n:
        block.line([])
    if formula is None:
        block.eq(lhs, "0", NAME, "bold " + MATRIX)
        return False
    _formula(block, formula)
    for w in formula.wheres:
        block.eq("", f"where {w}", "", DIM, sign=False)
    return True


def _hessian_rows(rows: tuple[HessianRow, ...], width: int) -> list[Line]:
    block = _Block(width)
    for n, h in enumerate(rows):
        if not _second_row(block, n, h.lhs, h.formula):
            continue
        if h.kron is not None:
            block.eq(h.lhs, h.kron, NAME, "bold " + MATRIX)
            for w in h.kron_wheres:
                block.eq("", f"where {w}", "", DIM, sign=False)
    return block.render()


def _notes(sheet: Sheet, width: int) -> list[Line]:
    if not sheet.notes:
        return []
    out: list[Line] = [[]]
    for n in sheet.notes:
        out += _para(f"note: {n}", width, NOTE)
    return out


def graph_tree(d: Derivation, sheet: Sheet | None = None) -> Any:
    """The forward graph from the loss down, each node with its adjoint's matrix form."""
    from rich.text import Text
    from rich.tree import Tree
    sheet = sheet or build(d)
    seen: set[str] = set()

    def label(name: str) -> Text:
        t = sheet.tensor(name)
        out = Text()
        out.append(name, style=NAME)
        out.append(f" ({t.shape_text})", style=DIM)
        if t.text:
            out.append(f"  {t.text}")
        a = sheet.adjoint(name)
        if a is not None:
            out.append(f"  ∂{sheet.loss}/∂{name} = {a.formula.rhs}", style=MATRIX)
        return out

    def grow(tree: Any, name: str) -> None:
        if d.graph[name].kind == "anon":  # an intermediate of its line: show what it reads
            for u in d.graph.operands(d.graph[name]):
                grow(tree, u)
            return
        if name in seen:
            tree.add(Text(f"{name} (above)", style=DIM))
            return
        seen.add(name)
        node = tree.add(label(name))
        for u in d.graph.operands(d.graph[name]):
            grow(node, u)

    root = Tree(label(sheet.loss))
    seen.add(sheet.loss)
    for u in d.graph.operands(d.graph[sheet.loss]):
        grow(root, u)
    return root
