"""Markdown: the golden document ``einderive check`` holds fixed, and a notebook's view.

A golden reads well on a code host - formulas in code blocks and in ``$$``
blocks, the graph as a Mermaid picture - and is byte-stable: no version of
einderive, no date, no absolute path, no terminal width; ``\\n`` endings and a
final newline.  Bump :data:`GOLDEN_FORMAT` only when the layout itself changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kinds import GAUSS_NEWTON_MARKER, SECOND_MARKER
from . import text as T
from .graph import mermaid
from .latex import (
    adjoint_rows,
    environment,
    gauss_newton_groups,
    hessian_groups,
    hvp_groups,
    tangent_groups,
)
from .names import cells, pad
from .sheet import AdjointRow, Formula, HessianRow, SecondRow, Selection, Sheet, build
from .styles import Latex

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..cost import CostTable
    from ..derivation import Derivation

GOLDEN_FORMAT = 1
MARKER = "<!-- einderive golden"


def golden(d: Derivation, spec_ref: str, steps: bool = False,
           cost: CostTable | None = None, selection: Selection | None = None) -> str:
    """The golden document of ``d``; ``spec_ref`` is the spec's path as the golden names it.

    ``steps`` adds the chain rule of each edge above its adjoint (``derive
    --steps``); goldens are written without them.  ``cost`` (a cost table, ``derive
    --cost``) adds a Cost section before the graph."""
    sheet = build(d, steps=steps, terms=True, selection=selection)
    section: list[str] = []
    if cost is not None:
        from .cost import anon_definitions, anon_labels, markdown as cost_section
        section = cost_section(cost, anon_labels(d), defined=anon_definitions(d))
    return layout(sheet, build(d, Latex, selection=selection), spec_ref,
                  mermaid(d, None if sheet.filtered else sheet), section)


def layout(sheet: Sheet, tex: Sheet, spec_ref: str, graph: str,
           cost: Sequence[str] = ()) -> str:
    """The golden document of a Unicode and a LaTeX sheet, with the Mermaid ``graph`` and
    the lines of a ``cost`` section."""
    out = [f"{MARKER} (format {GOLDEN_FORMAT}); "
           f"regenerate with `einderive check --update`, do not edit -->",
           f"# {sheet.name}", "",
           f"- spec: `{spec_ref}`",
           f"- golden format: {GOLDEN_FORMAT}",
           ""]
    if sheet.description:
        out += [sheet.description, ""]
    out += _body(sheet, tex)
    out += cost
    out += ["## Graph", "", "```mermaid", graph.rstrip("\n"), "```"]
    return "\n".join(out).rstrip("\n") + "\n"


def _body(sheet: Sheet, tex: Sheet) -> list[str]:
    out = ["Inputs: " + ", ".join(f"{t.name} ({t.shape_text})" for t in sheet.inputs) + ".",
           T.VECTORS, ""]
    if "forward" in sheet.sections:
        out += ["## Forward", "", "```text"]
        for t in sheet.forward:
            assert t.formula is not None  # a node has a definition
            out += _pair(t.formula)
        out += ["```", ""]
    if "backward" in sheet.sections:
        out += _backward(sheet, tex)
    if "gradients" in sheet.sections:
        out += ["## Gradients", "", "```text"]
        out += [line for g in sheet.gradients
                for line in [f"{g.label} = {g.rhs}", *(f"where {w}" for w in g.wheres)]]
        out += ["```", ""]
    out += _second(sheet, tex)
    if sheet.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in sheet.notes] + [""]
    return out


def _backward(sheet: Sheet, tex: Sheet) -> list[str]:
    out = ["## Backward", "", T.CONVENTION, ""]
    for a, x in zip(sheet.adjoints, tex.adjoints):
        out += [f"### {a.formula.lhs_matrix}", "", "```text"]
        out += _steps(a)
        out += _pair(a.formula)
        wheres = list(a.formula.wheres)
        if a.closed is not None:
            out.append(f"closed form: {a.closed.lhs} = {a.closed.rhs}" if a.closed.lhs
                       else f"closed form: {a.closed.rhs}")
            wheres += a.closed_wheres
        elif a.closed_omitted:
            out.append(f"closed form: {a.closed_omitted}")
        out += [f"where {w}" for w in wheres]
        out += ["```", "", "$$"]
        out += _display(adjoint_rows(tex, expand=True, adjoints=(x,)))
        out += ["$$", ""]
    return out


def _second(sheet: Sheet, tex: Sheet) -> list[str]:
    """The tangents and, if derived, the Hessian-vector product (with the marker that
    tells ``check`` to derive them again)."""
    if not sheet.along:
        return []
    names = ", ".join(sheet.along_names) if sheet.hvp else None
    out = ["## Tangents", ""]
    if names is None:
        out += [SECOND_MARKER.format("tangent", ", ".join(sheet.along_names)), ""]
    out += [T.tangent_text(sheet.along), "", "```text"]
    for t in sheet.tangents:
        assert t.formula is not None  # only a tangent that moves is listed
        out += _second_steps(t) + _pair(t.formula) + [f"where {w}" for w in t.formula.wheres]
    out += ["```", "", "$$"]
    out += _display([r for g in tangent_groups(tex) for r in g]) + ["$$", ""]
    if names is None:
        return out
    kind = "hessian" if sheet.hessian else "hvp"  # the Hessian derives its product too
    out += ["## Hessian-vector product", "", SECOND_MARKER.format(kind, names), "",
            T.hvp_text(sheet.along), "", "```text"]
    for r in sheet.rops + tuple(h for h in sheet.hvp if h.via):
        assert r.formula is not None  # only a moving adjoint is listed
        out += _second_steps(r) + _pair(r.formula) + [f"where {w}" for w in r.formula.wheres]
    out += ["", "(∇²L) v, by blocks:"] + [f"{h.lhs_shown} = {h.rhs}" for h in sheet.hvp]
    out += ["```", "", "$$"]
    out += _display([r for g in hvp_groups(tex) for r in g]) + ["$$", ""]
    return out + _hessian(sheet, tex) + _gauss_newton(sheet, tex)


def _second_steps(r: SecondRow) -> list[str]:
    """``--steps`` above a tangent or an ℛ{·}: what it differentiates, and the product
    and chain rules' result before it is simplified."""
    return ([f"{r.via}"] + [f"  {lhs} = {rhs}" for lhs, rhs in r.steps]) if r.via else []


def _blocks(rows: tuple[HessianRow, ...]) -> list[str]:
    """Hessian blocks as text, each its index form, matrix form or Kronecker form."""
    out: list[str] = []
    for n, h in enumerate(rows):
        out += [""] if n else []
        if h.formula is None:
            out.append(f"{h.lhs} = 0")
            continue
        out += _pair(h.formula) + [f"where {w}" for w in h.formula.wheres]
        if h.kron is not None:
            out += [f"{h.lhs} = {h.kron}"] + [f"where {w}" for w in h.kron_wheres]
    return out


def _gauss_newton(sheet: Sheet, tex: Sheet) -> list[str]:
    """The Gauss-Newton split, when derived (its marker tells ``check`` to split again)."""
    if not sheet.gn_output:
        return []
    out = ["## Gauss-Newton split", "", GAUSS_NEWTON_MARKER, "",
           T.gauss_newton_text(sheet.gn_output, sheet.loss), "", "```text"]
    for n, r in enumerate(sheet.gn_hvp + sheet.rest_hvp):
        out += [""] if n else []
        out += _pair(r.formula) + [f"where {w}" for w in r.formula.wheres] \
            if r.formula is not None else [f"{r.lhs} = 0"]
    if sheet.gn_hessian:
        out += [""] + _blocks(sheet.gn_hessian + sheet.rest_hessian)
    out += ["```", "", "$$"]
    return out + _display([r for g in gauss_newton_groups(tex) for r in g]) + ["$$", ""]


def _hessian(sheet: Sheet, tex: Sheet) -> list[str]:
    """Each block of the Hessian, when derived (the marker above names its inputs)."""
    if not sheet.hessian:
        return []
    out = ["## Hessian", "", T.HESSIAN, "", "```text"] + _blocks(sheet.hessian)
    out += ["```", "", "$$"]
    return out + _display([r for g in hessian_groups(tex) for r in g]) + ["$$", ""]


def _steps(a: AdjointRow) -> list[str]:
    """Each use of the tensor: the node that reads it, its local derivative, the chain rule."""
    out = []
    for step in a.steps:
        out.append(f"via {step.definition or step.node}")
        out += [f"  {lhs} = {rhs}" for lhs, rhs in step.lines]
    return out + [""] if out else out


def _display(rows: list[str]) -> list[str]:
    """An ``aligned`` block without its ``\\[ \\]``, for ``$$`` in Markdown."""
    return environment(rows, "aligned").splitlines()[1:-1]


def _pair(f: Formula) -> list[str]:
    if not f.indexed:  # no index at all: one form
        return [f"{f.lhs_matrix} = {f.matrix}"]
    width = max(cells(f.lhs_index), cells(f.lhs_matrix))
    lines = [f"{pad(f.lhs_index, width)} = {f.index}"]
    if f.matrix is not None:
        lines.append(f"{pad(f.lhs_matrix, width)} = {f.matrix}")
    return lines


def notebook(tex: Sheet, graph: str) -> str:
    """A notebook cell's view of a LaTeX sheet: the derivation typeset, and the graph."""
    out = [f"**{tex.name}**", "", T.VECTORS, "", "$$", *_display(adjoint_rows(tex)), "$$", "",
           "```mermaid", graph.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"
