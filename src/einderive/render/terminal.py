"""The derivation in a terminal, with Rich.

Formulas are Rich ``Text`` objects, never markup, so ``𝟙[z > 0]`` prints as
written.  Colour goes away by itself when stdout is not a terminal or
NO_COLOR is set.  Equations are aligned at their ``=`` and a long right-hand
side wraps under itself, so the output reads well at 80 columns and has no
trailing blanks when piped.
"""

from __future__ import annotations


from rich.text import Text
from rich.tree import Tree

from ..record import Record
from . import text as T

HEAD = "bold"
NAME = "bold cyan"
DIM = "dim"
NOTE = "yellow"
MATRIX = "green"
LHS_MAX = 30


class Options(Record):
    steps: bool = False
    expand: bool = False
    tree: bool = False


class _Block:
    """Equations aligned at '=' with right-hand sides wrapped at the console width."""

    def __init__(self, width: int):
        self.width = width
        self.rows: list = []  # (lhs, rhs, lhs style, rhs style) or a Text line

    def eq(self, lhs: str, rhs: str, lhs_style: str = "", rhs_style: str = "",
           sign: bool = True) -> None:
        """``lhs = rhs``; an empty ``lhs`` continues the equation above (or, without
        ``sign``, annotates it)."""
        self.rows.append((lhs, rhs, lhs_style, rhs_style, sign))

    def line(self, text: Text) -> None:
        self.rows.append(text)

    def render(self) -> list[Text]:
        widths = [len(r[0]) for r in self.rows if isinstance(r, tuple) and len(r[0]) <= LHS_MAX]
        col = max(widths, default=0)
        out = []
        for r in self.rows:
            if isinstance(r, Text):
                out.append(r)
                continue
            lhs, rhs, ls, rs, sign = r
            pad = max(col, len(lhs))
            indent = 2 + pad + 3
            t = Text("  ")
            t.append(lhs.ljust(pad), style=ls)
            t.append(" = " if sign else "   ")
            _wrap_into(t, rhs, rs, indent, self.width)
            out.append(t)
        return out


def _wrap_into(t: Text, rhs: str, style: str, indent: int, width: int) -> None:
    room = max(width - indent, 20)
    words = rhs.split(" ")
    line = ""
    lines = []
    for w in words:
        if line and len(line) + 1 + len(w) > room:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    for n, chunk in enumerate(lines):
        if n:
            t.append("\n" + " " * indent)
        t.append(chunk, style=style)


def rich_derivation(d, console=None, options=None, opts: Options | None = None):
    """Yield the renderables of ``d`` (used by ``Derivation.__rich_console__``)."""
    opts = opts or Options()
    width = getattr(options, "max_width", None) or 80
    yield from _header(d, width)
    yield from _forward(d, width)
    yield from _backward(d, opts, width)
    yield from _gradients(d, width)
    yield from _notes(d, width)
    if opts.tree:
        yield Text("")
        yield Text("Graph", style=HEAD)
        yield graph_tree(d)


def _para(text: str, width: int, style: str = DIM) -> Text:
    import textwrap
    return Text("\n".join(textwrap.wrap(text, width - 1)), style=style)


def _header(d, width: int):
    title = Text()
    title.append(d.name, style=HEAD)
    if d.spec.path and d.spec.path != "<string>":
        title.append(f"  {d.spec.path}", style=DIM)
    yield title
    if d.spec.description:
        yield _para(d.spec.description, width)
    shapes = Text("Inputs: ")
    for n, t in enumerate(d.graph.inputs):
        if n:
            shapes.append(", ")
        shapes.append(t.name, style=NAME)
        shapes.append(f" ({T.shape_text(t.shape)})")
    yield shapes
    yield _para(T.VECTORS, width)


def _forward(d, width: int):
    yield Text("")
    yield Text("Forward", style=HEAD)
    block = _Block(width)
    for t, f in d.forward:
        if T.has_index_form(f):
            block.eq(T.tensor_lhs(d, t.name, f.idx), T.index_rhs(d, f))
        matrix = T.matrix_rhs(d, f)
        if matrix is not None:
            block.eq(T.tensor_lhs(d, t.name, ()), matrix, NAME, MATRIX)
    yield from block.render()


def _backward(d, opts: Options, width: int):  # noqa: C901 - one section, read top to bottom
    yield Text("")
    yield Text("Backward", style=HEAD)
    yield _para(T.CONVENTION, width)
    block = _Block(width)
    first = True
    for a in d.adjoints:
        if a.name == d.loss:
            continue
        if not first:
            block.line(Text(""))
        first = False
        if opts.steps:
            for edge in a.edges:
                block.line(Text(f"  via {_defining(d, edge.node)}", style=DIM))
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
        for w in wheres:
            block.eq("", f"where {w}", "", DIM, sign=False)
    yield from block.render()


def _defining(d, node: str) -> str:
    t = d.graph[node]
    return t.text if t.text else node


def _gradients(d, width: int):
    yield Text("")
    yield Text("Gradients", style=HEAD)
    block = _Block(width)
    for label, rhs in T.gradient_lines(d):
        block.eq(label, rhs, NAME, "bold " + MATRIX)
    yield from block.render()


def _notes(d, width: int):
    notes = T.note_texts(d)
    if notes:
        yield Text("")
        for n in notes:
            yield _para(f"note: {n}", width, NOTE)


def graph_tree(d) -> Tree:
    """The forward graph from the loss down, each node with its adjoint's matrix form."""
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

    def grow(tree: Tree, name: str) -> None:
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
