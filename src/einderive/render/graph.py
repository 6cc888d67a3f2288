"""Pictures of the compute graph: Mermaid, Graphviz DOT and TikZ.

Solid edges run forward from each operand to the node that reads it; a
dashed edge runs back along each, labelled with what that use contributes to
the operand's adjoint (its matrix form), so the picture is the derivation.
"""

from __future__ import annotations

from ..record import Record
from . import text as T
from .latex import latex_text
from .names import latex_indexed
from .styles import Latex

FORMATS = ("mermaid", "dot", "tikz")


class Vertex(Record):
    id: str
    name: str
    kind: str  # 'input' or 'node'
    label: str  # 'z = W x' / 'W'
    shape: str  # 'M×N'
    latex: str
    dims: tuple = ()


class Arrow(Record):
    src: str  # vertex ids
    dst: str
    grad: str  # the contribution's matrix form ('' when the loss does not depend on it)
    grad_latex: str


def layout(d):
    """Vertices and arrows of the graph; anonymous intermediates fold into their line."""
    graph = d.graph
    ids = {}
    vertices = []
    for n, t in enumerate(t for t in graph.tensors if t.kind != "anon"):
        ids[t.name] = f"n{n}"
        if t.is_input:
            label, lx = t.name, Latex(d.index.ctx, d.loss).tensor(t.name, "")
        else:
            f = dict((x.name, f) for x, f in d.forward)[t.name]
            label = f"{t.name} = {T.matrix_rhs(d, f) or T.index_rhs(d, f)}"
            lx = (f"{T.tensor_lhs(d, t.name, (), Latex)} = "
                  f"{T.matrix_rhs(d, f, Latex) or T.index_rhs(d, f, Latex)}")
        vertices.append(Vertex(ids[t.name], t.name, "input" if t.is_input else "node", label,
                               T.shape_text(t.shape), lx, t.shape))
    contributions = {}
    for a in d.adjoints:
        for consumer, f in a.terms:
            contributions[(consumer, a.name)] = f
    arrows = []
    for t in graph.tensors:
        if t.kind != "node":
            continue
        for u in _reads(graph, t):
            f = contributions.get((t.name, u))
            if f is None:
                grad = grad_latex = ""
            else:
                grad = (f"{T.adjoint_lhs(d, u, ())} ∋ "
                        f"{T.matrix_rhs(d, f) or T.index_rhs(d, f)}") if len(
                    d.adjoint(u).terms) > 1 else \
                    f"{T.adjoint_lhs(d, u, ())} = {T.matrix_rhs(d, f) or T.index_rhs(d, f)}"
                rel = r"\ni" if len(d.adjoint(u).terms) > 1 else "="
                grad_latex = (f"{T.adjoint_lhs(d, u, (), Latex)} {rel} "
                              f"{T.matrix_rhs(d, f, Latex) or T.index_rhs(d, f, Latex)}")
            arrows.append(Arrow(ids[u], ids[t.name], grad, grad_latex))
    return vertices, arrows


def _reads(graph, t) -> list[str]:
    """The named tensors a node reads, looking through its anonymous intermediates."""
    out: list[str] = []
    for u in graph.operands(t):
        names = _reads(graph, graph[u]) if graph[u].kind == "anon" else [u]
        out += [n for n in names if n not in out]
    return out


# -- Mermaid ----------------------------------------------------------------------------


def _mermaid_text(s: str) -> str:
    return s.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(d) -> str:
    vertices, arrows = layout(d)
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


def dot(d) -> str:
    vertices, arrows = layout(d)
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


# -- TikZ -------------------------------------------------------------------------------


def _levels(d, vertices, arrows) -> dict:
    level = {v.id: 0 for v in vertices}
    for v in vertices:  # vertices are in definition order, so one pass suffices
        for a in arrows:
            if a.dst == v.id:
                level[v.id] = max(level[v.id], level[a.src] + 1)
    return level


def tikz(d) -> str:
    """A standalone document (pdflatex; packages tikz, amsmath, amssymb)."""
    vertices, arrows = layout(d)
    level = _levels(d, vertices, arrows)
    rows: dict[int, list] = {}
    for v in vertices:
        rows.setdefault(level[v.id], []).append(v)
    lines = ["\\documentclass{article}", "\\usepackage{amsmath,amssymb}", "\\usepackage{tikz}",
             "\\usetikzlibrary{arrows.meta,shapes.geometric}", "\\pagestyle{empty}",
             "\\newsavebox{\\einderivepicture}",
             "\\begin{document}",
             "\\savebox{\\einderivepicture}{%",
             "\\begin{tikzpicture}[>={Stealth},",
             "  tensor/.style={draw, rounded corners, fill=blue!5, inner sep=4pt, align=center},",
             "  input/.style={draw, ellipse, fill=gray!10, inner sep=2pt, align=center},",
             "  grad/.style={->, dashed, red!70!black, bend left=30},",
             "  glabel/.style={font=\\footnotesize, text=red!70!black, fill=white, inner sep=1pt}]"]
    for lv in sorted(rows):
        row = rows[lv]
        for n, v in enumerate(row):
            x = lv * 5.0
            y = ((len(row) - 1) / 2 - n) * 2.4
            style = "input" if v.kind == "input" else "tensor"
            lines.append(f"  \\node[{style}] ({v.id}) at ({x:.2f},{y:.2f}) "
                         f"{{${v.latex}$ \\\\ ${_shape_latex(v.dims)}$}};")
    for a in arrows:
        lines.append(f"  \\draw[->, thick] ({a.src}) -- ({a.dst});")
    for a in arrows:
        if a.grad_latex:
            lines.append(f"  \\draw[grad] ({a.dst}) to node[glabel, midway, above] "
                         f"{{${a.grad_latex}$}} ({a.src});")
    top = (max(len(r) for r in rows.values()) - 1) / 2 * 2.4 + 1.5 if rows else 0
    lines.append(f"  \\node[anchor=west, font=\\bfseries] at (-1,{top:.2f}) "
                 f"{{{latex_text(d.name)}}};")
    lines += ["\\end{tikzpicture}}",
              "% the page is the size of the picture, with a 5 mm margin",
              "\\pdfpagewidth=\\dimexpr\\wd\\einderivepicture+1cm\\relax",
              "\\pdfpageheight=\\dimexpr\\ht\\einderivepicture+\\dp\\einderivepicture+1cm\\relax",
              "\\hoffset=-1in \\voffset=-1in \\oddsidemargin=5mm \\topmargin=5mm",
              "\\headheight=0pt \\headsep=0pt \\parindent=0pt",
              "\\textwidth=\\wd\\einderivepicture",
              "\\noindent\\usebox{\\einderivepicture}",
              "\\end{document}"]
    return "\n".join(lines) + "\n"


def _shape_latex(dims: tuple) -> str:
    if not dims:
        return "\\in \\mathbb{R}"
    return "\\in \\mathbb{R}^{" + " \\times ".join(
        "1" if x == 1 else latex_indexed(x) for x in dims) + "}"


def render(d, fmt: str) -> str:
    return {"mermaid": mermaid, "dot": dot, "tikz": tikz}[fmt](d)


__all__ = ["FORMATS", "render", "mermaid", "dot", "tikz"]
