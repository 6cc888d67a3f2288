"""Markdown: the golden document ``einderive check`` holds fixed, and a notebook's view.

A golden reads well on a code host - formulas in code blocks and in ``$$``
blocks, the graph as a Mermaid picture - and is byte-stable: no version of
einderive, no date, no absolute path, no terminal width; ``\\n`` endings and a
final newline.  Bump :data:`GOLDEN_FORMAT` only when the layout itself changes.
"""

from __future__ import annotations

from . import text as T
from .graph import mermaid
from .latex import adjoint_rows, environment

GOLDEN_FORMAT = 1
MARKER = "<!-- einderive golden"


def golden(d, spec_ref: str, steps: bool = False, cost=None) -> str:
    """The golden document of ``d``; ``spec_ref`` is the spec's path as the golden names it.

    ``steps`` adds the chain rule of each edge above its adjoint (``derive
    --steps``); goldens are written without them.  ``cost`` (a cost table, ``derive
    --cost``) adds a Cost section before the graph."""
    out = [f"{MARKER} (format {GOLDEN_FORMAT}); "
           f"regenerate with `einderive check --update`, do not edit -->",
           f"# {d.name}", "",
           f"- spec: `{spec_ref}`",
           f"- golden format: {GOLDEN_FORMAT}",
           ""]
    if d.spec.description:
        out += [d.spec.description, ""]
    out += _body(d, steps)
    if cost is not None:
        from .cost import anon_labels, markdown as cost_section
        out += cost_section(cost, anon_labels(d))
    out += ["## Graph", "", "```mermaid", mermaid(d).rstrip("\n"), "```"]
    return "\n".join(out).rstrip("\n") + "\n"


def _body(d, steps: bool) -> list[str]:
    out = ["Inputs: " + ", ".join(f"{t.name} ({T.shape_text(t.shape)})"
                                  for t in d.graph.inputs) + ".", T.VECTORS, ""]
    out += ["## Forward", "", "```text"]
    for t, f in d.forward:
        out += _pair(f, T.tensor_lhs(d, t.name, f.idx), T.index_rhs(d, f),
                     T.tensor_lhs(d, t.name, ()), T.matrix_rhs(d, f))
    out += ["```", "", "## Backward", "", T.CONVENTION, ""]
    for a in d.adjoints:
        if a.name == d.loss:
            continue
        out += [f"### {T.adjoint_lhs(d, a.name, ())}", "", "```text"]
        if steps:
            out += _steps(d, a)
        out += _pair(a.form, T.adjoint_lhs(d, a.name, a.form.idx), T.index_rhs(d, a.form),
                     T.adjoint_lhs(d, a.name, ()), T.matrix_rhs(d, a.form))
        wheres = T.where_texts(d, a.form)
        if T.closed_differs(a):
            closed = T.matrix_rhs(d, a.closed) or T.index_rhs(d, a.closed)
            out.append(f"closed form: {closed}")
            wheres += [w for w in T.where_texts(d, a.closed) if w not in wheres]
        elif a.closed is None:
            out.append(f"closed form: {T.CLOSED_TOO_LARGE}")
        out += [f"where {w}" for w in wheres]
        out += ["```", "", "$$"]
        out += _display(adjoint_rows(d, expand=True, adjoints=(a,)))
        out += ["$$", ""]
    out += ["## Gradients", "", "```text"]
    out += [f"{label} = {rhs}" for label, rhs in T.gradient_lines(d)]
    out += ["```", ""]
    notes = T.note_texts(d)
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return out


def _steps(d, a) -> list[str]:
    """Each use of the tensor: the node that reads it, its local derivative, the chain rule."""
    out = []
    for edge in a.edges:
        node = d.graph[edge.node]
        out.append(f"via {node.text or edge.node}")
        out += [f"  {lhs} = {rhs}" for lhs, rhs in T.step_lines(d, edge)]
    return out + [""] if out else out


def _display(rows: list[str]) -> list[str]:
    """An ``aligned`` block without its ``\\[ \\]``, for ``$$`` in Markdown."""
    return environment(rows, "aligned").splitlines()[1:-1]


def _pair(form, lhs_i: str, rhs_i: str, lhs_m: str, rhs_m: str | None) -> list[str]:
    if not T.has_index_form(form):  # no index at all: one form
        return [f"{lhs_m} = {rhs_m}"]
    width = max(len(lhs_i), len(lhs_m))
    lines = [f"{lhs_i.ljust(width)} = {rhs_i}"]
    if rhs_m is not None:
        lines.append(f"{lhs_m.ljust(width)} = {rhs_m}")
    return lines


def notebook_markdown(d) -> str:
    """A notebook cell's view: the derivation typeset, and the graph."""
    out = [f"**{d.name}**", "", T.VECTORS, "", "$$", *_display(adjoint_rows(d)), "$$", "",
           "```mermaid", mermaid(d).rstrip("\n"), "```"]
    return "\n".join(out) + "\n"
