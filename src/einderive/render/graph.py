"""Pictures of the compute graph: Mermaid, Graphviz DOT, TikZ and SVG.

Solid edges run forward from each operand to the node that reads it; a
dashed edge runs back along each, labelled with what that use contributes to
the operand's adjoint (its matrix form), so the picture is the derivation.
Mermaid and Graphviz lay the graph out themselves; TikZ and SVG draw
:func:`layout.layered`'s coordinates, with box and label sizes estimated here
for each format's fonts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..record import Record
from .layout import Box, Edge, Layout, layered, text_width
from .names import latex_shown
from .sheet import Sheet, TensorRow, build
from .styles import Latex, Unicode

if TYPE_CHECKING:
    from ..derivation import Derivation
    from ..graph import Graph, Tensor

FORMATS = ("mermaid", "dot", "tikz", "svg")


class Vertex(Record):
    id: str
    name: str
    kind: str  # 'input' or 'node'
    label: str  # 'z = W x' / 'W'
    shape: str  # 'M×N'
    latex: str
    dims: tuple[Any, ...] = ()
    label_tex: str = ""  # the label with each name as TikZ shows it, for the width estimate
    shape_latex: str = ""  # '\\in \\mathbb{R}^{M \\times N}', names as the formulas typeset them


class Arrow(Record):
    src: str  # vertex ids
    dst: str
    grad: str  # the contribution's matrix form ('' when the loss does not depend on it)
    grad_latex: str
    grad_tex: str = ""  # ``grad`` with each name as TikZ shows it, for the width estimate


def parts(d: Derivation, text: Sheet | None = None,
          typeset: bool = True) -> tuple[list[Vertex], list[Arrow]]:
    """Vertices and arrows of the graph; anonymous intermediates fold into their line.

    ``text`` is the Unicode sheet with its terms (built here if not given); ``typeset`` adds
    the labels
    as LaTeX and as TikZ shows them, which only the laid-out pictures need."""
    text = text or build(d, terms=True)
    sheets = [text] + ([build(d, Latex, terms=True), build(d, _TexShown, terms=True)]
                       if typeset else [])
    ids = {t.name: f"n{n}" for n, t in enumerate(text.tensors)}
    vertices = []
    for rows in zip(*(s.tensors for s in sheets)):
        t = rows[0]
        labels = [_vertex_label(r) for r in rows] + ["", ""]
        vertices.append(Vertex(ids[t.name], t.name, t.kind, labels[0], t.shape_text,
                               labels[1], t.shape, label_tex=labels[2],
                               shape_latex=_shape_latex(rows[1].dims) if typeset else ""))
    contributions = [_contributions(s, rel) for s, rel in zip(sheets, ("∋", r"\ni", "∋"))]
    arrows = []
    for t in text.forward:
        for u in _reads(d.graph, d.graph[t.name]):
            grads = [c.get((t.name, u), "") for c in contributions] + ["", ""]
            arrows.append(Arrow(ids[u], ids[t.name], grads[0], grads[1], grad_tex=grads[2]))
    return vertices, arrows


class _TexShown(Unicode):
    """The text view with each name as TikZ shows it (``u91cd`` for 重): the width of a
    TikZ box is estimated from this text, not from the narrower Unicode one."""

    def tensor_name(self, name: str, idx: str) -> str:
        return str(super().tensor_name(latex_shown(name), idx))

    def dim_name(self, name: str) -> str:
        return latex_shown(name)


def _vertex_label(t: TensorRow) -> str:
    """``z = W x`` (an input: its name)."""
    if t.formula is None:
        return t.lhs
    lhs = t.formula.lhs if t.formula.matrix is not None else t.lhs  # C_h = Q_h K_hᵀ
    return f"{lhs} = {t.formula.rhs}"


def _contributions(sheet: Sheet, rel: str) -> dict[tuple[str, str], str]:
    """(consumer, operand) -> ``∂L/∂u = …``, or ``∂L/∂u ∋ …`` (``rel``) for one of several."""
    out = {}
    for a in sheet.adjoints:
        for term in a.terms:
            r = rel if len(a.terms) > 1 else "="
            out[(term.consumer, a.name)] = f"{term.lhs} {r} {term.rhs}"
    return out


def _reads(graph: Graph, t: Tensor) -> list[str]:
    """The named tensors a node reads, looking through its anonymous intermediates."""
    out: list[str] = []
    for u in graph.operands(t):
        names = _reads(graph, graph[u]) if graph[u].kind == "anon" else [u]
        out += [n for n in names if n not in out]
    return out


# -- Mermaid ----------------------------------------------------------------------------


def _mermaid_text(s: str) -> str:
    return s.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(d: Derivation, sheet: Sheet | None = None) -> str:
    """The graph in Mermaid; ``sheet`` is ``d``'s Unicode sheet with its terms if one is at
    hand."""
    vertices, arrows = parts(d, sheet, typeset=False)
    lines = ["flowchart LR"]
    for v in vertices:
        text = f"{_mermaid_text(v.label)}<br/>{_mermaid_text(v.shape)}"
        lines.append(f'  {v.id}["{text}"]' if v.kind == "node" else f'  {v.id}(["{text}"])')
    for a in arrows:
        lines.append(f"  {a.src} --> {a.dst}")
    for a in arrows:
        if a.grad:
            lines.append(f'  {a.dst} -. "{_mermaid_text(a.grad)}" .-> {a.src}')
    lines.append("  classDef input fill:#eef,stroke:#557")
    inputs = [v.id for v in vertices if v.kind == "input"]
    if inputs:
        lines.append(f"  class {','.join(inputs)} input")
    return "\n".join(lines) + "\n"


# -- Graphviz ---------------------------------------------------------------------------


def _dot_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def dot(d: Derivation) -> str:
    vertices, arrows = parts(d, typeset=False)
    lines = [f'digraph "{_dot_text(d.name)}" {{', "  rankdir=BT;",
             '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for v in vertices:
        shape = "ellipse" if v.kind == "input" else "box"
        lines.append(f'  {v.id} [label="{_dot_text(v.label)}\\n{_dot_text(v.shape)}", '
                     f"shape={shape}];")
    for a in arrows:
        lines.append(f"  {a.src} -> {a.dst};")
    for a in arrows:
        if a.grad:
            lines.append(f'  {a.dst} -> {a.src} [label="{_dot_text(a.grad)}", style=dashed, '
                         f"color=firebrick, fontcolor=firebrick, constraint=false];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the layered layout, for TikZ and SVG --------------------------------------------------


class Metrics(Record):
    """A format's font sizes and line heights, in points (SVG: pixels)."""
    node_size: float
    label_size: float
    node_line: float
    label_line: float
    pad: float  # between a box's text and its border
    fraction: float = 1.0  # how many lines a LaTeX fraction takes
    tex: bool = False  # widths of the text as TikZ shows it (names LaTeX cannot typeset)


TIKZ = Metrics(10.0, 8.0, 12.0, 10.0, 6.0, fraction=1.9, tex=True)  # LaTeX's 10pt and \footnotesize
SVG = Metrics(13.0, 11.0, 16.0, 14.0, 8.0)


def laid_out(d: Derivation, m: Metrics) -> tuple[list[Vertex], list[Arrow], Layout]:
    """The graph's vertices, arrows and their :class:`layout.Layout` for metrics ``m``."""
    vertices, arrows = parts(d)
    boxes = [Box(v.id, max(text_width(v.label_tex if m.tex else v.label, m.node_size),
                           text_width(v.shape, m.node_size)) + 2 * m.pad,
                 m.node_line * (_lines(v.latex, m) + 1) + 2 * m.pad) for v in vertices]
    edges = [Edge(a.src, a.dst, (text_width(a.grad_tex if m.tex else a.grad, m.label_size) + 4.0,
                                 m.label_line * _lines(a.grad_latex, m) + 2.0) if a.grad else ())
             for a in arrows]
    return vertices, arrows, layered(boxes, edges)


def _lines(latex: str, m: Metrics) -> float:
    """How many lines a formula is tall: a fraction (TikZ only) is taller than a line."""
    return m.fraction if "\\frac" in latex else 1.0


# -- TikZ ---------------------------------------------------------------------------------


def tikz(d: Derivation, standalone: bool = False) -> str:
    """A ``tikzpicture`` to ``\\input`` (``standalone``: a document), for pdflatex or lualatex."""
    picture = _tikzpicture(d)
    if not standalone:
        return picture
    return "\n".join([
        "\\documentclass{article}", "\\usepackage{amsmath,amssymb}", "\\usepackage{tikz}",
        "\\pagestyle{empty}", "\\newsavebox{\\einderivepicture}", "\\begin{document}",
        "\\savebox{\\einderivepicture}{%", picture.rstrip("\n") + "%", "}",
        "% the page is the size of the picture, with a 5 mm margin;",
        "% LuaTeX calls pdfTeX's \\pdfpagewidth \\pagewidth",
        "\\ifdefined\\pdfpagewidth\\else\\let\\pdfpagewidth\\pagewidth"
        "\\let\\pdfpageheight\\pageheight\\fi",
        "\\pdfpagewidth=\\dimexpr\\wd\\einderivepicture+1cm\\relax",
        "\\pdfpageheight=\\dimexpr\\ht\\einderivepicture+\\dp\\einderivepicture+1cm\\relax",
        "\\hoffset=-1in \\voffset=-1in \\oddsidemargin=5mm \\topmargin=5mm",
        "\\headheight=0pt \\headsep=0pt \\parindent=0pt",
        "\\textwidth=\\wd\\einderivepicture",
        "\\textheight=\\dimexpr\\ht\\einderivepicture+\\dp\\einderivepicture+1cm\\relax",
        # \\begin{document} copied the old \\textheight into these
        "\\makeatletter\\vsize=\\textheight \\@colht=\\textheight \\@colroom=\\textheight"
        "\\makeatother",
        "\\noindent\\usebox{\\einderivepicture}", "\\end{document}"]) + "\n"


def _tikzpicture(d: Derivation) -> str:
    vertices, arrows, lay = laid_out(d, TIKZ)
    name = " ".join(d.name.split())  # a name may hold a line break; a comment may not
    lines = [f"% einderive: the compute graph of {name}, each dashed edge labelled with its",
             "% gradient.  \\input it where \\usepackage{tikz,amsmath,amssymb} is loaded;",
             "% \\resizebox{\\linewidth}{!}{...} or \\resizebox{!}{.9\\textheight}{...} scales it.",
             "\\begin{tikzpicture}[x=1pt, y=-1pt, >=stealth,",
             "  tensor/.style={draw, fill=blue!5, inner sep=0pt, align=center},",
             "  input/.style={tensor, rounded corners=6pt, fill=gray!12},",
             "  forward/.style={->, thick, rounded corners=3pt},",
             "  grad/.style={->, dashed, red!70!black, rounded corners=3pt},",
             "  glabel/.style={font=\\footnotesize, text=red!70!black, fill=white,"
             " inner sep=1pt}]"]
    for v, p in zip(vertices, lay.boxes):
        style = "input" if v.kind == "input" else "tensor"
        lines.append(f"  \\node[{style}, minimum width={_pt(p.width)}pt, "
                     f"minimum height={_pt(p.height)}pt] ({v.id}) at ({_pt(p.x)},{_pt(p.y)}) "
                     f"{{{node_tex(v)}}};")
    for r in lay.routes:
        lines.append(f"  \\draw[forward] {_path(r.forward)};")
    for a, r in zip(arrows, lay.routes):
        if a.grad_latex:
            lines.append(f"  \\draw[grad] {_path(r.backward)};")
    for a, r in zip(arrows, lay.routes):
        if a.grad_latex and len(r.label) == 4:  # a labelled arrow's route has its box
            lines.append(f"  \\node[glabel] at ({_pt(r.label[0])},{_pt(r.label[1])}) "
                         f"{{${a.grad_latex}$}};")
    lines.append("\\end{tikzpicture}")
    return "\n".join(lines) + "\n"


def _path(points: tuple[tuple[float, float], ...]) -> str:
    return " -- ".join(f"({_pt(x)},{_pt(y)})" for x, y in points)


def _pt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def node_tex(v: Vertex) -> str:
    """A box's two lines: the definition, then the shape."""
    return f"${v.latex}$ \\\\ $\\scriptstyle {v.shape_latex}$"


def _shape_latex(dims: tuple[str, ...]) -> str:
    """The shape with each dim as the formulas typeset it (look-alike names spelled out)."""
    if not dims:
        return "\\in \\mathbb{R}"
    return "\\in \\mathbb{R}^{" + " \\times ".join(dims) + "}"


def svg(d: Derivation) -> str:
    from .svg import svg as draw
    vertices, arrows, lay = laid_out(d, SVG)
    return draw(d.name, vertices, arrows, lay, SVG)


def render(d: Derivation, fmt: str, standalone: bool = False) -> str:
    if fmt == "tikz":
        return tikz(d, standalone)
    draw: dict[str, Callable[[Derivation], str]] = {"mermaid": mermaid, "dot": dot, "svg": svg}
    return draw[fmt](d)


__all__ = ["FORMATS", "render", "mermaid", "dot", "tikz", "svg", "laid_out", "parts"]
