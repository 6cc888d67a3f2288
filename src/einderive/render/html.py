"""HTML: one self-contained page, the derivation typeset in MathML and the graph in SVG.

Browsers typeset presentation MathML natively, so the page needs no network,
no font and no script: it is the MathML sheet (``sheet.build`` in the MathML
style, the same printers and rows as every other format) laid out in tables
aligned at ``=``, and the SVG picture of ``render/svg.py`` inline.  The body
alone (:func:`body`) is a notebook's ``_repr_html_``.  Every byte is
deterministic, and the page is well-formed XML as well as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from .._version import __version__
from . import text as T
from .mathml import MathML, math
from .sheet import AdjointRow, Formula, HessianRow, SecondRow, Sheet, TensorRow, build

if TYPE_CHECKING:
    from ..derivation import Derivation

_OPEN, _CLOSE = "\x02", "\x03"  # around each formula of a note (the prose between is escaped)
SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'  # HTML's parser puts <svg> in its namespace

# scoped to the body's <div class="einderive">, so a notebook's other cells keep their looks
CSS = """\
.einderive { font-family: "DejaVu Serif", Georgia, serif; line-height: 1.4; max-width: 60em; }
.einderive h1, .einderive h2, .einderive h3 { font-family: "DejaVu Sans", Verdana, sans-serif; }
.einderive math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", math; font-size: 1.15em; }
.einderive mi.word { font-style: italic; }
.einderive mi.mono { font-family: "DejaVu Sans Mono", monospace; }
.einderive .eqs { border-collapse: collapse; margin: 0.4em 0 1em 0; }
.einderive .eqs td { padding: 0.25em 0.2em; vertical-align: middle; white-space: nowrap; }
.einderive .eqs td.lhs { text-align: right; }
.einderive .eqs td.rhs { text-align: left; }
.einderive .eqs tr.note td { color: #555; font-size: 0.9em; }
.einderive .scroll { overflow-x: auto; }
.einderive .graph svg { max-width: 100%; height: auto; }
"""


def page(d: Derivation, steps: bool = False) -> str:
    """A whole HTML document of ``d`` (``einderive derive -f html``)."""
    sheet = build(d, MathML, steps=steps, math=_note_math)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8"/>',
        f'<meta name="generator" content="einderive {escape(__version__)}"/>',
        f"<title>{escape(sheet.name)}: backpropagation (einderive)</title>",
        "</head>",
        "<body>",
        _body(sheet, _graph(d)),
        "</body>",
        "</html>",
    ]) + "\n"


def body(d: Derivation, steps: bool = False) -> str:
    """The page's body alone: what a notebook shows (``Derivation._repr_html_``)."""
    return _body(build(d, MathML, steps=steps, math=_note_math), _graph(d))


def _graph(d: Derivation) -> str:
    from .graph import svg
    picture = svg(d)
    assert SVG_NS in picture, "render/svg.py declares the SVG namespace"
    return picture.replace(SVG_NS, "", 1).rstrip("\n")


def _body(sheet: Sheet, graph: str) -> str:
    out = ['<div class="einderive">', f"<style>\n{CSS}</style>",
           f"<h1>{escape(sheet.name)}</h1>"]
    if sheet.description:
        out.append(f"<p>{escape(sheet.description)}</p>")
    out.append(f"<p>{_inputs(sheet.inputs)}</p>")
    out.append(f"<p>{escape(T.VECTORS)}</p>")
    if sheet.dims:
        out.append("<p>Dimensions: " + ", ".join(
            # a stack's count has no name: 2 (index l)
            (f"{escape(n)} = " if n != str(size) else "") +
            f"{escape(str(size))} (index <i>{escape(letter)}</i>)"
            for n, size, letter in sheet.dims) + ".</p>")
    out += ["<h2>Forward</h2>", _table(_forward_rows(sheet.forward))]
    out += ["<h2>Backward</h2>", f"<p>{escape(T.CONVENTION)}</p>"]
    out += [_table(_adjoint_rows(a)) for a in sheet.adjoints]
    out += ["<h2>Gradients</h2>", _table(
        row for g in sheet.gradients
        for row in [(g.label, g.rhs), *((None, "where " + math(w)) for w in g.wheres)])]
    out += _second(sheet)
    if sheet.notes:
        out += ["<h2>Notes</h2>", "<ul>"] + [f"<li>{_note(n)}</li>" for n in sheet.notes] + \
            ["</ul>"]
    out += ["<h2>Graph</h2>", '<div class="graph scroll">', graph, "</div>", "</div>"]
    return "\n".join(out)


def _second(sheet: Sheet) -> list[str]:
    """The tangents and the Hessian-vector product, when derived (``--tangent``, ``--hvp``)."""
    if not sheet.along:
        return []

    def rows(items: Iterable[SecondRow]) -> list[Row]:
        out: list[Row] = []
        for r in items:
            assert r.formula is not None  # only what moves is listed
            out += _pair(r.formula) + [(None, "where " + math(w)) for w in r.formula.wheres]
        return out
    along = tuple(math(x) for x in sheet.along)
    out = ["<h2>Tangents</h2>", f"<p>{T.tangent_text(along)}</p>", _table(rows(sheet.tangents))]
    if sheet.hvp:
        out += ["<h2>Hessian-vector product</h2>", f"<p>{T.hvp_text(along)}</p>",
                _table(rows(sheet.rops)), _table((h.lhs_shown, h.rhs) for h in sheet.hvp)]
    if sheet.hessian:
        out += ["<h2>Hessian</h2>", f"<p>{escape(T.HESSIAN)}</p>",
                _table(_hessian_rows(sheet.hessian))]
    if sheet.gn_output:
        text = T.gauss_newton_text(sheet.gn_output_name, sheet.loss)
        parts = [(r.lhs, "<mn>0</mn>") for r in sheet.gn_hvp + sheet.rest_hvp
                 if r.formula is None]
        out += ["<h2>Gauss-Newton split</h2>", f"<p>{escape(text)}</p>",
                _table(rows(r for r in sheet.gn_hvp + sheet.rest_hvp if r.formula is not None)
                       + parts + _hessian_rows(sheet.gn_hessian + sheet.rest_hessian))]
    return out


def _hessian_rows(blocks: tuple[HessianRow, ...]) -> list[Row]:
    """Each block's index form, matrix form or Kronecker form, and where-clauses."""
    out: list[Row] = []
    for h in blocks:
        if h.formula is None:
            out.append((h.lhs, "<mn>0</mn>"))
            continue
        out += _pair(h.formula) + [(None, "where " + math(w)) for w in h.formula.wheres]
        if h.kron is not None:
            out.append((h.lhs, h.kron))
            out += [(None, "where " + math(w)) for w in h.kron_wheres]
    return out


def _inputs(inputs: Iterable[TensorRow]) -> str:
    """``Inputs: W ∈ ℝ^{M×N}, x ∈ ℝ^N.``"""
    def member(t: TensorRow) -> str:
        space = "<mi>ℝ</mi>"
        if t.dims:
            space = f"<msup>{space}<mrow>{'<mo>×</mo>'.join(t.dims)}</mrow></msup>"
        return math(f"{t.lhs}<mo>∈</mo>{space}")
    return "Inputs: " + ", ".join(member(t) for t in inputs) + "."


# a row of an equation table: (left side, right side), or (None, text) for a line of prose
Row = tuple["str | None", str]


def _forward_rows(forward: Iterable[TensorRow]) -> list[Row]:
    rows: list[Row] = []
    for t in forward:
        assert t.formula is not None  # a node has a definition
        rows += _pair(t.formula)
    return rows


def _pair(f: Formula) -> list[Row]:
    """The index form, then the matrix form (one form when there is no index at all)."""
    rows: list[Row] = []
    if f.indexed:
        rows.append((f.lhs_index, f.index))
    if f.matrix is not None:
        rows.append((f.lhs_matrix, f.matrix))
    return rows


def _adjoint_rows(a: AdjointRow) -> list[Row]:
    """The chain rule of each use (``--steps``), both forms, the closed form, where-clauses."""
    rows: list[Row] = []
    for step in a.steps:
        rows.append((None, f"via {escape(step.definition or step.node)}"))
        rows += list(step.lines)
    rows += _pair(a.formula)
    wheres = list(a.formula.wheres)
    if a.closed is not None:
        rows.append((a.closed.lhs, a.closed.rhs))
        wheres += a.closed_wheres
    elif a.closed_omitted:
        rows.append((None, escape(a.closed_omitted)))
    rows += [(None, "where " + math(w)) for w in wheres]
    return rows


def _table(rows: Iterable[Row]) -> str:
    """Equations aligned at ``=``, as LaTeX's ``aligned``; a row of prose spans the right side."""
    out = ['<div class="scroll"><table class="eqs">']
    for lhs, rhs in rows:
        if lhs is None:
            out.append(f'<tr class="note"><td></td><td></td><td class="rhs">{rhs}</td></tr>')
            continue
        left = _display(lhs) if lhs else ""
        out.append(f'<tr><td class="lhs">{left}</td><td>{_display("=")}</td>'
                   f'<td class="rhs">{_display(rhs)}</td></tr>')
    out.append("</table></div>")
    return "\n".join(out)


def _display(fragment: str) -> str:
    """A formula set as in a display (full-size fractions), inline in its cell."""
    return math(fragment).replace("<math>", '<math displaystyle="true">', 1)


def _note_math(s: str) -> str:
    return f"{_OPEN}{s}{_CLOSE}"


def _note(note: str) -> str:
    """A note's prose escaped, its formulas (marked by :func:`_note_math`) as MathML."""
    out = []
    for n, part in enumerate(note.replace(_CLOSE, _OPEN).split(_OPEN)):
        out.append(math(part) if n % 2 else escape(part))
    return "".join(out)


__all__ = ["page", "body", "CSS"]
