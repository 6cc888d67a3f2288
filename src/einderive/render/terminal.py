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

from ..record import Record
from . import text as T

HEAD = "bold"
NAME = "bold cyan"
DIM = "dim"
NOTE = "yellow"
MATRIX = "green"
LHS_MAX = 30

Line = list  # [(text, style), ...]


class Options(Record):
    steps: bool = False
    expand: bool = False
    tree: bool = False


class _Block:
    """Equations aligned at '=' with right-hand sides wrapped at the width."""

    def __init__(self, width: int):
        self.width = width
        self.rows: list = []  # (lhs, rhs, lhs style, rhs style, sign) or a finished Line

    def eq(self, lhs: str, rhs: str, lhs_style: str = "", rhs_style: str = "",
           sign: bool = True) -> None:
        """``lhs = rhs``; an empty ``lhs`` continues the equation above (or, without
        ``sign``, annotates it)."""
        self.rows.append((lhs, rhs, lhs_style, rhs_style, sign))

    def line(self, line: Line) -> None:
        self.rows.append(line)

    def render(self) -> list[Line]:
        widths = [len(r[0]) for r in self.rows if isinstance(r, tuple) and len(r[0]) <= LHS_MAX]
        col = max(widths, default=0)
        out = []
        for r in self.rows:
            if not isinstance(r, tuple):
                out.append(r)
                continue
            lhs, rhs, ls, rs, sign = r
            pad = max(col, len(lhs))
            indent = 2 + pad + 3
            chunks = _wrap(rhs, max(self.width - indent, 20))
            out.append([("  ", ""), (lhs.ljust(pad), ls), (" = " if sign else "   ", ""),
                        (chunks[0], rs)])
            out += [[(" " * indent, ""), (c, rs)] for c in chunks[1:]]
        return out


def _wrap(text: str, room: int) -> list[str]:
    lines, line = [], ""
    for w in text.split(" "):
        if line and len(line) + 1 + len(w) > room:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return lines + [line]


def _para(text: str, width: int, style: str = DIM) -> list[Line]:
    return [[(ln, style)] for ln in textwrap.wrap(text, width - 1)]


def lines(d, opts: Options | None = None, width: int = 80) -> list[Line]:
    """The whole view of ``d`` (without the tree) as lines of styled segments."""
    opts = opts or Options()
    return (_header(d, width) + _forward(d, width) + _backward(d, opts, width)
            + _gradients(d, width) + _notes(d, width))


def plain(d, opts: Options | None = None, width: int = 80) -> str:
    """The view as plain text, for pipes and files."""
    out = "\n".join("".join(t for t, _ in ln) for ln in lines(d, opts, width)) + "\n"
    if opts is not None and opts.tree:
        import io

        from rich.console import Console
        buf = io.StringIO()
        Console(file=buf, width=width, color_system=None).print(graph_tree(d))
        out += "\nGraph\n" + buf.getvalue()
    return out


def rich_derivation(d, console=None, options=None, opts: Options | None = None):
    """Yield Rich renderables of ``d`` (used by ``Derivation.__rich_console__``)."""
    from rich.text import Text
    opts = opts or Options()
    width = getattr(options, "max_width", None) or 80
    for ln in lines(d, opts, width):
        t = Text()
        for text, style in ln:
            t.append(text, style=style or None)
        yield t
    if opts.tree:
        yield Text("")
        yield Text("Graph", style=HEAD)
        yield graph_tree(d)


def _header(d, width: int) -> list[Line]:
    title = [(d.name, HEAD)]
    if d.spec.path and d.spec.path != "<string>":
        title.append((f"  {d.spec.path}", DIM))
    out = [title]
    if d.spec.description:
        out += _para(d.spec.description, width)
    shapes = [("Inputs: ", "")]
    for n, t in enumerate(d.graph.inputs):
        if n:
            shapes.append((", ", ""))
        shapes += [(t.name, NAME), (f" ({T.shape_text(t.shape)})", "")]
    return out + [shapes] + _para(T.VECTORS, width)


def _forward(d, width: int) -> list[Line]:
    block = _Block(width)
    for t, f in d.forward:
        if T.has_index_form(f):
            block.eq(T.tensor_lhs(d, t.name, f.idx), T.index_rhs(d, f))
        matrix = T.matrix_rhs(d, f)
        if matrix is not None:
            block.eq(T.tensor_lhs(d, t.name, ()), matrix, NAME, MATRIX)
    return [[], [("Forward", HEAD)]] + block.render()


def _backward(d, opts: Options, width: int) -> list[Line]:
    block = _Block(width)
    first = True
    for a in d.adjoints:
        if a.name == d.loss:
            continue
        if not first:
            block.line([])
        first = False
        if opts.steps:
            for edge in a.edges:
                block.line([(f"  via {_defining(d, edge.node)}", DIM)])
                for lhs, rhs in T.step_lines(d, edge):
                    block.eq("  " + lhs, rhs, DIM, DIM)
        if T.has_index_form(a.form):
            block.eq(T.adjoint_lhs(d, a.name, a.form.idx), T.index_rhs(d, a.form))
        matrix = T.matrix_rhs(d, a.form)
        if matrix is not None:
            block.eq(T.adjoint_lhs(d, a.name, ()), matrix, NAME, MATRIX)
        wheres = T.where_texts(d, a.form)
        if opts.expand and T.closed_differs(a):
            closed = T.matrix_rhs(d, a.closed) or T.index_rhs(d, a.closed)
            block.eq("", closed, "", "magenta")
            wheres += [w for w in T.where_texts(d, a.closed) if w not in wheres]
        elif opts.expand and a.closed is None:
            block.eq("", T.CLOSED_TOO_LARGE, "", DIM, sign=False)
        for w in wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    return [[], [("Backward", HEAD)]] + _para(T.CONVENTION, width) + block.render()


def _defining(d, node: str) -> str:
    t = d.graph[node]
    return t.text if t.text else T.tensor_lhs(d, node, ())


def _gradients(d, width: int) -> list[Line]:
    block = _Block(width)
    for label, rhs in T.gradient_lines(d):
        block.eq(label, rhs, NAME, "bold " + MATRIX)
    return [[], [("Gradients", HEAD)]] + block.render()


def _notes(d, width: int) -> list[Line]:
    notes = T.note_texts(d)
    if not notes:
        return []
    out: list[Line] = [[]]
    for n in notes:
        out += _para(f"note: {n}", width, NOTE)
    return out


def graph_tree(d):
    """The forward graph from the loss down, each node with its adjoint's matrix form."""
    from rich.text import Text
    from rich.tree import Tree
    by_name = {a.name: a for a in d.adjoints}
    seen: set[str] = set()

    def label(name: str) -> Text:
        t = d.graph[name]
        out = Text()
        out.append(name, style=NAME)
        out.append(f" ({T.shape_text(t.shape)})", style=DIM)
        if t.text:
            out.append(f"  {t.text}")
        a = by_name.get(name)
        if a is not None and name != d.loss:
            m = T.matrix_rhs(d, a.form) or T.index_rhs(d, a.form)
            out.append(f"  ∂{d.loss}/∂{name} = {m}", style=MATRIX)
        return out

    def grow(tree, name: str) -> None:
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

    root = Tree(label(d.loss))
    seen.add(d.loss)
    for u in d.graph.operands(d.graph[d.loss]):
        grow(root, u)
    return root
