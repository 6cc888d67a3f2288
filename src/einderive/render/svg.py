"""The compute graph as a self-contained SVG: readable anywhere, no LaTeX, no scripts.

It draws :func:`layout.layered`'s coordinates: boxes, solid forward arrows,
dashed backward arrows, and each gradient on a white label at its computed
place; the math is the terminal's Unicode notation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from xml.sax.saxutils import escape

from .layout import LabelBox, Layout, Placed, Polyline

MARGIN = 10.0
INK = "#222"
GRAD = "#a01c1c"


# What the picture reads of the graph's vertices, arrows and font metrics (render/graph.py's
# Vertex, Arrow and Metrics): read-only properties, so frozen records satisfy them.


class VertexView(Protocol):
    @property
    def kind(self) -> str: ...  # 'input' or 'node'
    @property
    def label(self) -> str: ...
    @property
    def shape(self) -> str: ...


class ArrowView(Protocol):
    @property
    def grad(self) -> str: ...  # '' when the loss does not depend on the operand


class MetricsView(Protocol):
    @property
    def node_size(self) -> float: ...
    @property
    def node_line(self) -> float: ...
    @property
    def label_size(self) -> float: ...


def svg(name: str, vertices: Sequence[VertexView], arrows: Sequence[ArrowView], lay: Layout,
        m: MetricsView) -> str:
    """The picture; ``lay`` is the layout of ``vertices`` and ``arrows`` at metrics ``m``."""
    w, h = lay.width + 2 * MARGIN, lay.height + 2 * MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(w)}" height="{_n(h)}" '
           f'viewBox="0 0 {_n(w)} {_n(h)}" font-family="DejaVu Sans, Verdana, sans-serif">',
           f"<title>{escape(name)}: compute graph and gradients (einderive)</title>",
           "<defs>",
           _marker("forward", INK), _marker("grad", GRAD),
           "</defs>",
           f'<rect width="{_n(w)}" height="{_n(h)}" fill="white"/>',
           f'<g transform="translate({_n(MARGIN)},{_n(MARGIN)})">']
    out.append(f'<g fill="none" stroke="{INK}" stroke-width="1.4">')
    out += [f'<polyline points="{_points(r.forward)}" marker-end="url(#forward)"/>'
            for r in lay.routes]
    out.append("</g>")
    out.append(f'<g fill="none" stroke="{GRAD}" stroke-dasharray="5 3">')
    out += [f'<polyline points="{_points(r.backward)}" marker-end="url(#grad)"/>'
            for a, r in zip(arrows, lay.routes) if a.grad]
    out.append("</g>")
    out.append(f'<g font-size="{_n(m.node_size)}" text-anchor="middle">')
    for v, p in zip(vertices, lay.boxes):
        out += _box(v, p, m)
    out.append("</g>")
    out.append(f'<g font-size="{_n(m.label_size)}" text-anchor="middle">')
    for a, r in zip(arrows, lay.routes):
        if a.grad:
            out += _label(a.grad, r.label, m)
    out.append("</g>")
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def _marker(name: str, colour: str) -> str:
    return (f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')


def _box(v: VertexView, p: Placed, m: MetricsView) -> list[str]:
    x0, y0 = p.x - p.width / 2, p.y - p.height / 2
    fill, radius = ("#eeeef4", 8) if v.kind == "input" else ("#eef2fb", 2)
    first = p.y - m.node_line / 2 + m.node_size * 0.35  # baseline of the first of two lines
    return [f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(p.width)}" height="{_n(p.height)}" '
            f'rx="{radius}" fill="{fill}" stroke="{INK}"/>',
            f'<text x="{_n(p.x)}" y="{_n(first)}">{escape(v.label)}'
            f'<tspan x="{_n(p.x)}" dy="{_n(m.node_line)}" fill="#555" '
            f'font-size="{_n(m.node_size * 0.8)}">{escape(v.shape)}</tspan></text>']


def _label(text: str, label: LabelBox, m: MetricsView) -> list[str]:
    assert label, "layout.layered gives every labelled edge a label box"
    x, y, w, h = label
    return [f'<rect x="{_n(x - w / 2)}" y="{_n(y - h / 2)}" width="{_n(w)}" height="{_n(h)}" '
            f'fill="white" fill-opacity="0.92"/>',
            f'<text x="{_n(x)}" y="{_n(y + m.label_size * 0.35)}" fill="{GRAD}">'
            f"{escape(text)}</text>"]


def _points(points: Polyline) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


__all__ = ["svg"]
