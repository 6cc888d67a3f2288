"""JSON for tools: one document per spec, schema ``einderive/derivation`` version 1.

The schema is documented in the README ("JSON output").  Fields are only ever
added within a version; a change that removes or renames one bumps
:data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import json

from .._version import __version__
from . import text as T
from .styles import Latex

SCHEMA = "einderive/derivation"
SCHEMA_VERSION = 1


def _formula(d, lhs_index: str, lhs_matrix: str, form, lhs_index_latex: str,
             lhs_matrix_latex: str) -> dict:
    matrix = T.matrix_rhs(d, form)
    matrix_latex = T.matrix_rhs(d, form, Latex)
    return {
        "index": f"{lhs_index} = {T.index_rhs(d, form)}",
        "matrix": f"{lhs_matrix} = {matrix}" if matrix is not None else None,
        "latex": {
            "index": f"{lhs_index_latex} = {T.index_rhs(d, form, Latex)}",
            "matrix": f"{lhs_matrix_latex} = {matrix_latex}" if matrix_latex is not None
            else None,
        },
        "where": [{"text": t, "latex": x} for t, x in
                  zip(T.where_texts(d, form), T.where_texts(d, form, Latex))],
        "einsum": form.einsum,
    }


def _adjoint_formula(d, name: str, form) -> dict:
    return _formula(d, T.adjoint_lhs(d, name, form.idx), T.adjoint_lhs(d, name, ()), form,
                    T.adjoint_lhs(d, name, form.idx, Latex), T.adjoint_lhs(d, name, (), Latex))


def _steps(d, a) -> list[dict]:
    """The chain rule of each use of ``a``'s tensor (``derive --steps``)."""
    out = []
    for edge in a.edges:
        pairs = zip(T.step_lines(d, edge), T.step_lines(d, edge, Latex))
        out.append({"via": edge.node, "definition": d.graph[edge.node].text,
                    "lines": [{"text": f"{lhs} = {rhs}", "latex": f"{xl} = {xr}"}
                              for (lhs, rhs), (xl, xr) in pairs]})
    return out


def document(d, steps: bool = False, cost=None) -> dict:
    """The JSON document of ``d``; ``steps`` adds each adjoint's chain-rule steps, ``cost``
    (a :class:`~einderive.cost.CostTable`) a ``cost`` object."""
    forward = {t.name: f for t, f in d.forward}
    tensors = []
    for t in d.graph.tensors:
        if t.kind == "anon":
            continue
        entry = {"name": t.name, "kind": t.kind, "shape": [s if s == 1 else str(s)
                                                            for s in t.shape]}
        if t.is_input:
            entry["positive"] = t.positive
        else:
            f = forward[t.name]
            entry["definition"] = {"text": t.text, **_formula(
                d, T.tensor_lhs(d, t.name, f.idx), T.tensor_lhs(d, t.name, ()), f,
                T.tensor_lhs(d, t.name, f.idx, Latex), T.tensor_lhs(d, t.name, (), Latex))}
        tensors.append(entry)
    adjoints = []
    for a in d.adjoints:
        if a.name == d.loss:
            continue
        entry = {"tensor": a.name, **_adjoint_formula(d, a.name, a.form),
                 "closed": _adjoint_formula(d, a.name, a.closed)
                 if T.closed_differs(a) else None,
                 "terms": [{"from": T.named_consumer(d, consumer), **_adjoint_formula(d, a.name, f)}
                           for consumer, f in a.terms]}
        if steps:
            entry["steps"] = _steps(d, a)
        adjoints.append(entry)
    gradients = []
    for g in d.gradients:
        entry = {"tensor": g.name, "shape": [s if s == 1 else str(s) for s in g.tensor.shape],
                 "zero": g.zero}
        if not g.zero:
            entry.update(_adjoint_formula(d, g.name, g.form))
        gradients.append(entry)
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"einderive {__version__}",
        "spec": {"name": d.name, "path": d.spec.path, "description": d.spec.description},
        "loss": d.loss,
        "wrt": list(d.graph.wrt),
        "dims": [{"name": n, "size": s, "index": d.index.ctx.letter[n]} for n, s in d.graph.dims],
        "conventions": {"vectors": "columns", "einstein": T.CONVENTION,
                        "broadcasting": T.VECTORS},
        "tensors": tensors,
        "adjoints": adjoints,
        "gradients": gradients,
        "notes": T.note_texts(d),
    }
    if cost is not None:
        from .cost import json_section
        doc["cost"] = json_section(cost)
    return doc


def dumps(docs: list[dict]) -> str:
    value = docs[0] if len(docs) == 1 else docs
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
