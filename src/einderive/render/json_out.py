"""JSON for tools: one document per spec, schema ``einderive/derivation`` version 1.

The schema is documented in the README ("JSON output").  Fields are only ever
added within a version; a change that removes or renames one bumps
:data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._version import __version__
from . import text as T
from .sheet import (AdjointRow, Formula, GradientRow, HessianRow, SecondRow, Selection, Sheet,
                    TensorRow, Term, both)

if TYPE_CHECKING:
    from ..cost import CostTable
    from ..derivation import Derivation

SCHEMA = "einderive/derivation"
SCHEMA_VERSION = 1


def _formula(f: Formula, x: Formula) -> dict[str, Any]:
    """One formula, as text (``f``, from the Unicode sheet) and as LaTeX (``x``).  ``index``
    is None for a closed form built at the matrix level (``einderive.closed``): written out,
    its index form is the one that was too large to build, and the chain form's index form
    (with the upstream adjoints) is another formula."""
    return {
        "index": f"{f.lhs_index} = {f.index}" if f.index else None,
        "matrix": f"{f.lhs_matrix} = {f.matrix}" if f.matrix is not None else None,
        "latex": {
            "index": f"{x.lhs_index} = {x.index}" if x.index else None,
            "matrix": f"{x.lhs_matrix} = {x.matrix}" if x.matrix is not None else None,
        },
        "where": [{"text": t, "latex": w} for t, w in zip(f.wheres, x.wheres)],
        "einsum": f.einsum,
    }


def _steps(a: AdjointRow, x: AdjointRow) -> list[dict[str, Any]]:
    """The chain rule of each use of ``a``'s tensor (``derive --steps``)."""
    out = []
    for step, tex in zip(a.steps, x.steps):
        # an anonymous intermediate by its short name (u), not its internal one (_h_1)
        out.append({"via": step.where[0] if step.where else step.node,
                    "definition": step.definition,
                    "lines": [{"text": f"{lhs} = {rhs}", "latex": f"{xl} = {xr}"}
                              for (lhs, rhs), (xl, xr) in zip(step.lines, tex.lines)]})
    return out


def _shape(shape: tuple[Any, ...]) -> list[Any]:
    return [s if isinstance(s, int) else str(s) for s in shape]  # 1, a stack's count 2


def _tensor(t: TensorRow, x: TensorRow) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": t.name, "kind": t.kind, "shape": _shape(t.shape)}
    if t.formula is None or x.formula is None:
        entry["positive"] = t.positive
        if t.integer is not None:  # indices 0 .. size - 1 of this dim: never differentiated
            entry["integer"] = t.integer
    else:
        entry["definition"] = {"text": t.text, **_formula(t.formula, x.formula)}
    return entry


def _adjoint(a: AdjointRow, x: AdjointRow, steps: bool) -> dict[str, Any]:
    closed = _formula(a.closed_full, x.closed_full) if a.closed_full is not None \
        and x.closed_full is not None else None
    entry = {"tensor": a.name, **_formula(a.formula, x.formula), "closed": closed,
             "terms": [_term(t, tx) for t, tx in zip(a.terms, x.terms)]}
    if steps:
        entry["steps"] = _steps(a, x)
    return entry


def _term(t: Term, x: Term) -> dict[str, Any]:
    if t.formula is None or x.formula is None:
        raise ValueError("JSON needs sheets built with terms=True, full=True")
    return {"from": t.source, **_formula(t.formula, x.formula)}


def _gradient(g: GradientRow, x: GradientRow) -> dict[str, Any]:
    entry = {"tensor": g.name, "shape": _shape(g.shape), "zero": g.zero}
    if g.formula is not None and x.formula is not None:
        entry.update(_formula(g.formula, x.formula))
    return entry


def document(d: Derivation, steps: bool = False, cost: CostTable | None = None,
             selection: Selection | None = None) -> dict[str, Any]:
    """The JSON document of ``d``; ``steps`` adds each adjoint's chain-rule steps, ``cost``
    (a :class:`~einderive.cost.CostTable`) a ``cost`` object."""
    steps = steps or selection is not None and selection.steps
    doc = layout(*both(d, steps=steps, terms=True, full=True, selection=selection), steps=steps)
    if cost is not None:
        from .cost import anon_definitions, anon_labels, json_section
        doc["cost"] = json_section(cost, anon_labels(d), anon_definitions(d))
    return doc


def _second_row(r: SecondRow, x: SecondRow) -> dict[str, Any]:
    entry: dict[str, Any] = {"tensor": r.name, "zero": r.formula is None}
    if r.formula is not None and x.formula is not None:
        entry.update(_formula(r.formula, x.formula))
    return entry


def _second(sheet: Sheet, tex: Sheet) -> dict[str, Any]:
    """Second order, when derived: ``tangents`` (forward mode along ``along``) and, for a
    Hessian-vector product, ``hvp`` (ℛ{∂L/∂t} from the loss back, and the blocks)."""
    if not sheet.along:
        return {}
    out: dict[str, Any] = {"along": list(sheet.along_names), "tangents": [
        _second_row(r, x) for r, x in zip(sheet.tangents, tex.tangents)]}
    if sheet.hvp:
        out["hvp"] = {"adjoints": [_second_row(r, x) for r, x in zip(sheet.rops, tex.rops)],
                      "blocks": [_second_row(r, x) for r, x in zip(sheet.hvp, tex.hvp)]}
    if sheet.hessian:
        out["hessian"] = [_hessian_row(h, x) for h, x in zip(sheet.hessian, tex.hessian)]
    if sheet.gn_output:
        out["gauss_newton"] = {"output": sheet.gn_output_name, **{
            f"{part}_{what}": [row(r, x) for r, x in zip(getattr(sheet, f"{part}_{what}"),
                                                        getattr(tex, f"{part}_{what}"))]
            for part in ("gn", "rest")
            for what, row in (("hvp", _second_row), ("hessian", _hessian_row))}}
    return {"second_order": out}


def _hessian_row(h: HessianRow, x: HessianRow) -> dict[str, Any]:
    """One block ∂²L/∂x∂y: its formula, and its Kronecker form (two matrices) or null."""
    entry: dict[str, Any] = {"x": h.x, "y": h.y, "zero": h.formula is None}
    if h.formula is not None and x.formula is not None:
        entry.update(_formula(h.formula, x.formula))
    entry["kronecker"] = None if h.kron is None else {
        "text": f"{h.lhs} = {h.kron}", "latex": f"{x.lhs} = {x.kron}",
        "where": [{"text": t, "latex": w} for t, w in zip(h.kron_wheres, x.kron_wheres)]}
    return entry


def layout(sheet: Sheet, tex: Sheet, steps: bool = False) -> dict[str, Any]:
    """The JSON document of a Unicode and a LaTeX sheet of one derivation."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"einderive {__version__}",
        "spec": {"name": sheet.name, "path": sheet.path, "description": sheet.description},
        "loss": sheet.loss,
        "wrt": list(sheet.wrt),
        "dims": [{"name": n, "size": s, "index": letter} for n, s, letter in sheet.dims],
        "conventions": {"vectors": "columns", "einstein": T.CONVENTION,
                        "broadcasting": T.VECTORS},
        "tensors": [_tensor(t, x) for t, x in zip(sheet.tensors, tex.tensors)],
        "adjoints": [_adjoint(a, x, steps) for a, x in zip(sheet.adjoints, tex.adjoints)],
        "gradients": [_gradient(g, x) for g, x in zip(sheet.gradients, tex.gradients)],
        **_second(sheet, tex),
        "notes": list(sheet.notes),
    }


def dumps(docs: list[dict[str, Any]]) -> str:
    value = docs[0] if len(docs) == 1 else docs
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
