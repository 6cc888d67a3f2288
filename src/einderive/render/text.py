"""Plain Unicode text of a derivation: the words and formulas every text renderer shares.

The terminal (Rich), the golden Markdown and the public API all take their
strings from here, so a formula reads the same wherever it appears.
"""

from __future__ import annotations

from .notation import Notation
from .styles import Unicode

CONVENTION = ("Einstein convention: an index repeated on the right-hand side and absent "
              "from the left is summed; other sums are written with Σ.")
VECTORS = ("Vectors are columns; ⊙ and ⊘ are elementwise, and broadcast a column across "
           "columns and a row across rows, as NumPy does.")


CLOSED_TOO_LARGE = "(its closed form is too large to be worth printing)"


def printer(d, form=None, style=Unicode) -> Notation:
    return style(d.index.ctx, d.loss, form.positions if form is not None else None,
                 anon_definitions(d))


def anon_definitions(d) -> dict:
    """Each anonymous intermediate's definition, so that it prints as what it is (made once
    per derivation: a printer is made per formula, and the walk is over every tensor)."""
    cached = d.__dict__.get("_anon_definitions")
    if cached is None:
        cached = {t.name: (*d.index.definitions[t.name], d.anon.get(t.name))
                  for t in d.graph.tensors if t.kind == "anon"}
        d.__dict__["_anon_definitions"] = cached
    return cached


def named_consumer(d, name: str) -> str:
    """The named node whose line holds ``name`` (itself unless it is anonymous)."""
    while d.graph[name].kind == "anon":
        name = next(t.name for t in d.graph.nodes if name in d.graph.operands(t))
    return name


def shape_text(shape: tuple) -> str:
    """``M×N``, ``N``, or ``scalar``."""
    if not shape:
        return "scalar"
    return "×".join(str(s) for s in shape)


def index_rhs(d, form, style=Unicode) -> str:
    return printer(d, form, style).index(form.index, form.idx)


def matrix_rhs(d, form, style=Unicode) -> str | None:
    if form.matrix is None:
        return None
    return printer(d, form, style).matrix(form.matrix)


def matrix_text(d, form) -> str:
    return matrix_rhs(d, form) or "(no matrix form)"


def has_index_form(form) -> bool:
    """A formula with no index at all reads the same in both forms: print it once."""
    from sympy import Indexed
    return form.matrix is None or any(hasattr(i, "name") for i in form.idx) or \
        form.index.has(Indexed)


def adjoint_lhs(d, name: str, idx: tuple, style=Unicode) -> str:
    p = printer(d, None, style)
    return p.adjoint(name, p.index_list(idx))


def tensor_lhs(d, name: str, idx: tuple, style=Unicode) -> str:
    p = printer(d, None, style)
    return p.tensor(name, p.index_list(idx))


def where_texts(d, form, style=Unicode) -> list[str]:
    p = printer(d, form, style)
    return [f"{p.matrix(w.lhs)} = {p.matrix(w.rhs)}" for w in form.wheres]


def note_texts(d, style=Unicode, math=lambda s: s) -> list[str]:
    """Every note and warning, as sentences; ``math`` wraps each formula (LaTeX: ``$…$``)."""
    out = []
    for w in d.graph.warnings:
        out.append(w.message[:1].upper() + w.message[1:] + ".")
    p = printer(d, None, style)
    for n in d.notes:
        lhs = math(adjoint_lhs(d, n.tensor, (), style))
        if n.kind == "einsum":
            # the recognizer falls back to einsum for several reasons (a rank-3 tensor, a
            # diagonal, a permuted product ...): say what holds for all of them
            out.append(f"{lhs} is written with einsum where no matrix rule applies.")
        elif n.kind == "no-matrix-form":
            out.append(f"{lhs} has no matrix form; its index form is exact.")
        elif n.kind == "target-sums-to-one":
            t = p.tensor(n.subject, "")
            premise = {"rowsum": f"each row of {math(t)} sums to one",
                       "colsum": f"each column of {math(t)} sums to one",
                       "sum": f"{math(p.operator('sum', t) + ' = 1')}"}[n.reduce]
            targets = "one-hot or probability targets" if n.reduce != "sum" else \
                "a one-hot or probability target"
            out.append(f"{math(t)} is the target of a softmax cross-entropy: if {premise} "
                       f"({targets}), "
                       f"{math(adjoint_lhs(d, n.tensor, (), style) + ' = ' + p.matrix(n.form))}.")
    return out


def gradient_lines(d, style=Unicode) -> list[tuple[str, str]]:
    """(``grad(W)``, right-hand side) for each ``wrt`` input."""
    out = []
    p = printer(d, None, style)
    for g in d.gradients:
        if g.zero:
            out.append((p.gradient(g.name, ""), "0"))
            continue
        matrix = matrix_rhs(d, g.form, style)
        if matrix is not None:
            out.append((p.gradient(g.name, ""), matrix))
        else:  # the index form has free indices: the left names them (grad(W)_jk)
            out.append((p.gradient(g.name, p.index_list(g.form.idx)),
                        index_rhs(d, g.form, style)))
    return out


def closed_differs(a) -> bool:
    if a.closed is None:
        return False
    if a.closed.matrix is not None and a.form.matrix is not None:
        return a.closed.matrix != a.form.matrix
    return a.closed.index != a.form.index


def step_lines(d, edge, style=Unicode) -> list[tuple[str, str]]:
    """The chain rule for one edge, as (left, right) pairs:

    ``∂z_i/∂W_kl = δ_ik x_l`` and ``Σ_i ∂L/∂z_i ∂z_i/∂W_kl = Σ_i ∂L/∂z_i δ_ik x_l = ∂L/∂z_k x_l``.
    """
    edge = edge.shown
    p = printer(d, None, style)
    p.einstein = False
    out_i, in_i = p.index_list(edge.out_idx), p.index_list(edge.in_idx)
    local_lhs = p.partial(p.tensor(edge.node, out_i), p.tensor(edge.operand, in_i))
    both = tuple(edge.out_idx) + tuple(edge.in_idx)
    local = p.index(edge.local, both)
    collapsed_local = p.index(edge.local_collapsed, both)
    rhs = local if collapsed_local == local else f"{local} = {collapsed_local}"
    pairs = [(local_lhs, rhs)]
    if edge.node == d.loss:
        return pairs  # ∂L/∂L = 1: the local derivative is the adjoint
    sums = "".join(p.sum_sign(i) for i in edge.out_idx if hasattr(i, "name"))
    upstream = p.adjoint(edge.node, out_i)
    chain_lhs = f"{sums}{upstream}{p.times_token()}{local_lhs}" if sums else \
        f"{upstream}{p.times_token()}{local_lhs}"
    chained, collapsed = p.index(edge.chained, edge.in_idx), p.index(edge.collapsed, edge.in_idx)
    rhs = chained if chained == collapsed else f"{chained} = {collapsed}"
    if edge.inlined:
        value = p.index(edge.result, edge.in_idx)
        if value != collapsed:
            rhs += f" = {value}"
    pairs.append((chain_lhs, rhs))
    return pairs
