"""The printing primitives of a derivation: each formula, left side, where-clause and note.

:mod:`~einderive.render.sheet` calls these once per notation to build a
sheet, which every layout (terminal, Markdown, LaTeX, JSON, pictures) reads;
the module-level functions are the same primitives for one formula at a time
(tests, ``verify``'s messages).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sympy import Indexed, Symbol

from .. import matrix as mx
from ..kinds import NoteKind, Omission, ReduceKind, RefKind
from ..record import Record
from .notation import Notation
from .styles import Unicode

if TYPE_CHECKING:
    from ..derivation import Derivation, Form
    from ..reverse import Edge

Style = type[Notation]

CONVENTION = ("Einstein convention: an index repeated on the right-hand side and absent "
              "from the left is summed; other sums are written with Σ.")
VECTORS = ("Vectors are columns; ⊙ and ⊘ are elementwise, and broadcast a column across "
           "columns and a row across rows, as NumPy does.")

BATCHED = ("Tensors of three or more axes are batches of matrices (their last two axes), "
           "as in NumPy's matmul: a product of two is the product of each element's "
           "matrices;")


def tangent_text(along: tuple[str, ...]) -> str:
    return (f"Forward mode along the tangents {', '.join(along)} of the inputs (the other "
            "inputs held fixed): each node's definition differentiated once, node by node.")


def hvp_text(along: tuple[str, ...]) -> str:
    return ("Forward over reverse: ℛ{·} is the tangent of an adjoint along "
            f"v = ({', '.join(along)}) (Pearlmutter 1994), from the loss back; each "
            "input's ℛ{∂L/∂x} is its block of the Hessian times v.")


HESSIAN = ("Each block ∂²L/∂x∂y is read off the Hessian-vector product: the chain above "
           "written back to the directions, each ẏ taken to the identity (the linear map "
           "v ↦ Hv as a matrix). A block of two matrices has four indices: its index form, "
           "and its Kronecker form on vec (columns stacked) where it has one.")


def gauss_newton_text(output: str, loss: str) -> str:
    return (f"{loss} = ℓ({output}) with ℓ convex in the output {output}, the argument of the "
            f"final convex loss: GN{{·}} = J_{output}ᵀ H_ℓ J_{output}, positive semidefinite, "
            "is the part from ℓ's curvature (the chain from ℛ{∂L/∂" + output + "} back with "
            "the Jacobians fixed); rest{·} = Σ_k ∂ℓ/∂" + output + "_k ∇²" + output + "_k, "
            "the network's (the terms that carry an adjoint). The two add up to the whole.")


CLOSED_TOO_LARGE = "(its closed form is too large to be worth printing)"


# why an adjoint prints no closed form, by the engine's reason: ``of`` is the upstream
# adjoint that gave it, as printed (∂L/∂H), ``via`` the temporary it is read in
_OMITTED = {
    Omission.TEMPORARY: "(no closed form: it reads {of} inside the temporary {via})",
    Omission.UPSTREAM_NONE: "(no closed form: it reads {of}, which has none)",
    Omission.OTHER_AXIS: ("(no closed form: it reads {of} per element of another axis than "
                          "{of}'s closed form is written by)"),
    Omission.WHOLE_FORM: ("(no closed form: it reads {of} per element, and {of}'s closed "
                          "form is a whole tensor)"),
    Omission.ELEMENT_FORM: ("(no closed form: it reads {of} whole under a sum over axes, and "
                            "{of}'s closed form is written per element)"),
    Omission.EACH_FORM: ("(no closed form: {of}'s closed form, written per element, cannot "
                         "stand where it reads {of})"),
    Omission.EINSUM: "(no closed form: written out, it needs an einsum)",
    Omission.NO_MATRIX: "(no closed form: it has no matrix form)",
}


def closed_omitted(why: Omission, of: str, via: str = "") -> str:
    """Why an adjoint prints no closed form (``--expand``): ``of`` is the upstream adjoint
    that gave the reason, as printed (∂L/∂H), or ""; ``via`` the temporary it is read in."""
    return _OMITTED.get(why, CLOSED_TOO_LARGE).format(of=of, via=via)


class Pen(Record):
    """Prints one derivation's pieces in one notation; a printer is made per formula (the
    recognizer's factor order, ``positions``, is the formula's own)."""

    d: Derivation
    style: Style
    anon: dict[str, tuple[Any, tuple[Any, ...], Any]]
    decimals: bool = False  # numbers as their decimals where exact (a line of decimals: 0.3)

    @classmethod
    def of(cls, d: Derivation, style: Style = Unicode) -> Pen:
        return cls(d, style, anon_definitions(d))

    def printer(self, form: Form | None = None) -> Notation:
        p = self.style(self.d.index.ctx, self.d.loss,
                       form.positions if form is not None else None, self.anon)
        if self.decimals:
            p.decimals = True
        return p

    @cached_property
    def step_names(self) -> dict[str, str]:
        """The short name each anonymous intermediate goes by in its ``--steps``."""
        return step_names(self.d)

    def step_printer(self, node: str) -> Notation:
        """A printer for the chain rule through ``node``: an anonymous intermediate prints
        as its short name there (∂L/∂u_ij ∂u_ij/∂X_kl, not ∂L/∂(X + logpiᵀ − …)_ij ∂(…)),
        which :meth:`step_definition` defines."""
        alias = self.step_names.get(node)
        if alias is None:
            return self.printer()
        p = self.style(self.d.index.ctx, self.d.loss, None,
                       {k: v for k, v in self.anon.items() if k != node})
        p.aliases = {node: alias}
        return p

    def step_definition(self, node: str) -> tuple[str, str] | tuple[()]:
        """(``u``, ``X + logpiᵀ − logsumexp(logpi)``): the short name of an anonymous
        intermediate and what it stands for (its index form where it has no matrix form);
        empty for a named node, which the spec's line defines."""
        if node not in self.step_names:
            return ()
        definition, idx, matrix = self.anon[node]
        p, named = self.printer(), self.step_printer(node)
        if matrix is not None:
            return named.tensor(node, ""), p.matrix(matrix)
        return named.tensor(node, p.index_list(idx)), p.index(definition, idx)

    def index(self, form: Form) -> str:
        return self.printer(form).index(form.index, form.idx)

    def matrix(self, form: Form) -> str | None:
        if form.matrix is None:
            return None
        return self.printer(form).matrix(form.matrix)

    def wheres(self, form: Form) -> list[str]:
        p = self.printer(form)
        return [p.where(form.matrix, w.lhs, w.rhs) for w in form.wheres]

    def adjoint_lhs(self, name: str, idx: tuple[Any, ...]) -> str:
        p = self.printer()
        return p.adjoint(name, p.index_list(idx))

    def tensor_lhs(self, name: str, idx: tuple[Any, ...]) -> str:
        p = self.printer()
        return p.tensor(name, p.index_list(idx))

    def dim(self, x: Any) -> str:
        """A dim of a shape as the formulas print it (a literal 1 as 1)."""
        return "1" if x == 1 else str(self.printer().dim(x))

    def gradient_lhs(self, name: str, idx: tuple[Any, ...]) -> str:
        """``grad(W)``, or with free indices ``grad(W)_jk``."""
        p = self.printer()
        return str(p.gradient(name, p.index_list(idx)))

    def _batch_sum_note(self, form: mx.M | None, leaf: mx.Ref | None,
                        math: Callable[[str], str], vector: bool = False,
                        said: bool = False) -> str:
        """`` Σ_b X_b adds the matrices X_b of every element b of the batch axis B.`` for
        the first sum over a batch (``form``; ``leaf`` the element it names, ``vector``
        whether it is a vector: ``adds the vectors A_n …: A_n is the column A[n, :]``, unless
        the element note after it ``said`` what A_n is), else nothing."""
        if not isinstance(form, mx.BatchSum) or leaf is None:
            return ""
        p = self.printer()
        elem = mx.Ref(leaf.name, leaf.kind, leaf.shape, batch=leaf.batch)
        total = p.matrix(mx.batch_sum(elem, form.dims, form.names))
        idx = p.index_list([Symbol(x) for x in form.names])
        # (an anonymous intermediate's element is its form's, as the sum prints it)
        one = p.tensor(leaf.name, idx, element=True) if leaf.kind == RefKind.TENSOR else \
            p.adjoint(leaf.name, idx, element=True) if leaf.kind == RefKind.ADJOINT else \
            p.matrix(elem)
        letters = ", ".join(p.index_list([Symbol(x)]) for x in form.names)
        element = f"({letters})" if len(form.names) > 1 else letters
        if set(form.dims) == {1}:  # X: [1, T, D] summed over its literal-1 axis
            return (f" {math(total)} is the matrix {math(one)} of the only element "
                    f"{math(element)} of a batch of one.")
        axes, plural = self._batch_axes(form.dims, math)
        if vector and said:
            return (f" {math(total)} adds the vectors {math(one)} of every element "
                    f"{math(element)} of the batch {plural}{axes}.")
        if vector:  # a row of a matrix, read as a column: A_n is A[n, :]
            whole = p.tensor(leaf.name, "") if leaf.kind == RefKind.TENSOR else \
                p.adjoint(leaf.name, "")
            letters_at = iter(p.index_list([Symbol(x)]) for x in form.names)
            at = leaf.at or tuple(range(len(form.names)))
            parts = [next(letters_at) if a in at else ":" for a in range(len(form.names) + 1)]
            return (f" {math(total)} adds the vectors {math(one)} of every element "
                    f"{math(element)} of the batch {plural}{axes}: {math(one)} is the "
                    f"column {math(whole + '[' + ', '.join(parts) + ']')}.")
        return (f" {math(total)} adds the matrices {math(one)} of every element "
                f"{math(element)} of the batch {plural}{axes}.")

    def _batch_axes(self, dims: tuple[Any, ...], math: Callable[[str], str]) -> tuple[str, str]:
        """(`` B``, "axis") or (`` B, H``, "axes") for a note's "the batch axis B"; a stack's
        count dim, which has no name, as (`` of the 2 stacked pieces``, "axis")."""
        counts = self.d.graph.counts
        if len(dims) == 1 and dims[0] in counts:
            return f" of the {math(self.dim(dims[0]))} stacked pieces", "axis"
        return " " + math(", ".join(self.dim(d) for d in dims)), \
            "axes" if len(dims) > 1 else "axis"

    def _contraction(self, n: Any) -> str:
        """What makes an einsum note's contraction one no product of matrices says (the
        note's ``contraction``), else that no matrix rule applies."""
        axes = {3: "three", 4: "four", 5: "five"}.get(n.axes, str(n.axes))
        return {
            "outer": f": it is an outer product of {axes} vectors, a tensor of {axes} axes",
            "double": f": it sums a tensor of {axes} axes against one matrix over two of its "
                      "axes at once, which no single matrix product says",
            "vectors": f": it sums a tensor of {axes} axes against a vector on each of two "
                       "of its axes at once, which no single matrix product says",
        }.get(n.contraction, " where no matrix rule applies")

    def _element_note(self, form: mx.M | None, leaf: mx.Ref | None,
                      math: Callable[[str], str],
                      also: tuple[tuple[mx.M, mx.Ref], ...] = ()) -> str:
        """`` A line subscripted by h holds for every element h of the batch axis H: Q_h is
        the matrix Q[:, h, :].`` for the first form written element by element (``form``,
        a matrix.Each; ``leaf`` the element it names; ``also``: other tensors' elements read
        at axes not leading, said for the forms they are of), else nothing."""
        if not isinstance(form, mx.Each) or leaf is None:
            return ""
        p = self.printer()
        letters = [Symbol(x) for x in form.names]
        idx = p.index_list(letters)
        element = ", ".join(p.index_list([x]) for x in letters)
        element = f"({element})" if len(letters) > 1 else element
        axes, plural = self._batch_axes(form.dims, math)
        said = [self._element_of(r, letters, idx, math, k > 0) for k, r in
                enumerate([leaf] + [r for f, r in also if f is form])]
        return (f" A line subscripted by {math(idx)} holds for every element {math(element)} "
                f"of the batch {plural}{axes}: {', '.join(said)}.")

    def _element_of(self, leaf: mx.Ref, letters: list[Symbol], idx: str,
                    math: Callable[[str], str], more: bool) -> str:
        """``Q_h is the matrix Q[:, h, :]`` (``more``: ``Y_h the matrix Y[:, :, h]``)."""
        p = self.printer()
        one = p.tensor(leaf.name, idx) if leaf.kind == RefKind.TENSOR else \
            p.adjoint(leaf.name, idx)
        whole = p.tensor(leaf.name, "") if leaf.kind == RefKind.TENSOR else \
            p.adjoint(leaf.name, "")
        rank = len(self.d.graph[leaf.name].shape)
        at = leaf.at or tuple(range(len(letters)))
        where = iter(p.index_list([x]) for x in letters)
        parts = [next(where) if a in at else ":" for a in range(rank)]
        what = {2: "matrix", 1: "column"}.get(rank - len(letters), "number")  # (t_b of t: [B])
        return f"{math(one)} {'' if more else 'is '}the {what} " \
            f"{math(whole + '[' + ', '.join(parts) + ']')}"

    def _part_note(self, form: mx.M | None, leaf: mx.Ref | None,
                   math: Callable[[str], str]) -> str:
        """`` V_bg, with no letter r, is the same for every r.`` for a tensor read at only
        some of the batch letters of a form written element by element (grouped-query
        heads' shared keys and values), else nothing."""
        if not isinstance(form, mx.Each) or leaf is None:
            return ""
        p = self.printer()
        letters = [Symbol(x) for k, x in enumerate(form.names) if k not in leaf.missing]
        gone = [p.index_list([Symbol(x)]) for k, x in enumerate(form.names)
                if k in leaf.missing]
        idx = p.index_list(letters)
        one = p.tensor(leaf.name, idx) if leaf.kind == RefKind.TENSOR else \
            p.adjoint(leaf.name, idx)
        which = ", ".join(math(x) for x in gone)
        return f" {math(one)}, with no letter {which}, is the same for every {which}."

    def notes(self, math: Callable[[str], str] = lambda s: s,
              equation: Callable[[str, str, str], str] | None = None) -> list[str]:
        """Every note and warning, as sentences; ``math`` wraps each formula (LaTeX: ``$…$``),
        ``equation(lhs, rhs, punctuation)`` an equation ending a sentence (default: ``math``
        of it, then the punctuation)."""
        if equation is None:
            def equation(lhs: str, rhs: str, end: str) -> str:
                return math(f"{lhs} = {rhs}") + end
        d = self.d
        out = []
        for w in d.graph.warnings:
            out.append(w.message[:1].upper() + w.message[1:] + ".")
        p = self.printer()
        for n in d.notes:
            lhs = math(self.adjoint_lhs(n.tensor, ()))
            if n.kind == NoteKind.BATCHED:
                t = p.tensor(n.tensor, "")
                tt = p.matrix(mx.transpose(mx.Ref(n.tensor, RefKind.TENSOR, (2, 3))))
                # (only the rows of matrices read per element: no batches of matrices)
                wide = f"{BATCHED} {math(tt)} swaps the last two axes of {math(t)}, and " \
                    "rowsum, colsum and softmax act on each element's matrix." if n.wide else ""
                said = (wide +
                        self._batch_sum_note(n.form, n.leaf, math, n.leaf_vector,
                                             n.leaf == n.element_leaf) +
                        self._element_note(n.element, n.element_leaf, math, n.also) +
                        "".join(self._element_note(e, leaf, math, n.also)
                                for e, leaf in n.elements) +
                        self._part_note(n.part, n.part_leaf, math)).strip()
                if said:
                    out.append(said)
            elif n.kind == NoteKind.EINSUM:
                # the recognizer falls back to einsum for several reasons (a rank-3 tensor, a
                # diagonal, a permuted product ...): say what holds for all of them
                out.append(f"{lhs} is written with einsum{self._contraction(n)}.")
            elif n.kind == NoteKind.NO_MATRIX_FORM:
                out.append(f"{lhs} has no matrix form; its index form is exact.")
            elif n.kind == NoteKind.TARGET_SUMS_TO_ONE and n.form is not None:
                t = p.tensor(n.subject, "")
                premise = {ReduceKind.ROWSUM: f"each row of {math(t)} sums to one",
                           ReduceKind.COLSUM: f"each column of {math(t)} sums to one",
                           ReduceKind.SUM: f"{math(p.operator(ReduceKind.SUM, t) + ' = 1')}"
                           }[ReduceKind(n.reduce)]
                targets = "one-hot or probability targets" if n.reduce != ReduceKind.SUM else \
                    "a one-hot or probability target"
                out.append(f"{math(t)} is the target of a softmax cross-entropy: if {premise} "
                           f"({targets}), " +
                           equation(self.adjoint_lhs(n.tensor, ()), p.matrix(n.form), "."))
        return out

    def steps(self, edge: Edge) -> list[tuple[str, str]]:
        """The chain rule for one edge, as (left, right) pairs:

        ``∂z_i/∂W_kl = δ_ik x_l`` and
        ``Σ_i ∂L/∂z_i ∂z_i/∂W_kl = Σ_i ∂L/∂z_i δ_ik x_l = ∂L/∂z_k x_l``.
        """
        edge = edge.shown
        p = self.step_printer(edge.node)
        p.einstein = False
        out_i, in_i = p.index_list(edge.out_idx), p.index_list(edge.in_idx)
        local_lhs = p.partial(p.tensor(edge.node, out_i), p.tensor(edge.operand, in_i))
        both = tuple(edge.out_idx) + tuple(edge.in_idx)
        local = p.index(edge.local, both)
        collapsed_local = p.index(edge.local_collapsed, both)
        rhs = local if collapsed_local == local else f"{local} = {collapsed_local}"
        pairs = [(local_lhs, rhs)]
        if edge.node == self.d.loss:
            return pairs  # ∂L/∂L = 1: the local derivative is the adjoint
        sums = "".join(p.sum_sign(i) for i in edge.out_idx if hasattr(i, "name"))
        upstream = p.adjoint(edge.node, out_i)
        chain_lhs = f"{sums}{upstream}{p.times_token()}{local_lhs}" if sums else \
            f"{upstream}{p.times_token()}{local_lhs}"
        chained = p.index(edge.chained, edge.in_idx)
        collapsed = p.index(edge.collapsed, edge.in_idx)
        rhs = chained if chained == collapsed else f"{chained} = {collapsed}"
        if edge.inlined:
            value = p.index(edge.result, edge.in_idx)
            if value != collapsed:
                rhs += f" = {value}"
        pairs.append((chain_lhs, rhs))
        return pairs


def anon_definitions(d: Derivation) -> dict[str, tuple[Any, tuple[Any, ...], Any]]:
    """Each anonymous intermediate's definition, indices and matrix form (or None), so that
    it prints as what it is."""
    return d.anon_forms


# the names an anonymous intermediate may go by in --steps, in the order tried
STEP_NAMES = ("u", "v", "w", "a", "b", "c", "g", "h")


def step_names(d: Derivation) -> dict[str, str]:
    """A short name for each anonymous intermediate a step of the chain rule goes through,
    in the graph's order: its definition under ∂L/∂(…) on a --steps left side is wider
    than a line.  A name is no tensor's or dim's and no index letter of those steps."""
    edges: dict[str, list[Edge]] = {}
    for a in d.adjoints:
        for e in a.edges:
            if d.graph[e.node].kind == "anon" and e.node in d.anon_forms:
                edges.setdefault(e.node, []).append(e)
    if not edges:
        return {}
    from .readable import index_names
    taken = {t.name.replace("_", "") for t in d.graph.tensors}
    taken |= {n for n, _ in d.graph.dims} | set(d.index.ctx.letter.values())
    for e in (s.shown for es in edges.values() for s in es):
        for x in (e.local, e.local_collapsed, e.chained, e.collapsed, e.result):
            taken |= {n.rstrip("′'") for n in index_names(x)}
    free = (n for n in (*STEP_NAMES, *(f"u{k}" for k in range(1, 10 ** 6))) if n not in taken)
    return {t.name: next(free) for t in d.graph.tensors if t.name in edges}


def named_consumer(d: Derivation, name: str) -> str:
    """The named node whose line holds ``name`` (itself unless it is anonymous)."""
    while d.graph[name].kind == "anon":
        name = next(t.name for t in d.graph.nodes if name in d.graph.operands(t))
    return name


def shape_text(shape: tuple[Any, ...]) -> str:
    """``M×N``, ``N``, or ``scalar``."""
    if not shape:
        return "scalar"
    return "×".join(str(s) for s in shape)


def has_index_form(form: Form) -> bool:
    """A formula with no index at all reads the same in both forms: print it once."""
    if form.index is None:  # a closed form built at the matrix level: that form only
        return False
    return form.matrix is None or any(hasattr(i, "name") for i in form.idx) or \
        bool(form.index.has(Indexed))


def closed_differs(a: Any) -> bool:
    """Whether an adjoint's (or gradient's) closed form is another formula than its chain form."""
    if a.closed is None:
        return False
    if a.closed.matrix is not None and a.form.matrix is not None:
        return bool(a.closed.matrix != a.form.matrix)
    return bool(a.closed.index != a.form.index)


# -- one formula at a time ------------------------------------------------------------------


def printer(d: Derivation, form: Form | None = None, style: Style = Unicode) -> Notation:
    return Pen.of(d, style).printer(form)


def index_rhs(d: Derivation, form: Form, style: Style = Unicode) -> str:
    return Pen.of(d, style).index(form)


def matrix_rhs(d: Derivation, form: Form, style: Style = Unicode) -> str | None:
    return Pen.of(d, style).matrix(form)


def adjoint_lhs(d: Derivation, name: str, idx: tuple[Any, ...], style: Style = Unicode) -> str:
    return Pen.of(d, style).adjoint_lhs(name, idx)


def tensor_lhs(d: Derivation, name: str, idx: tuple[Any, ...], style: Style = Unicode) -> str:
    return Pen.of(d, style).tensor_lhs(name, idx)


def where_texts(d: Derivation, form: Form, style: Style = Unicode) -> list[str]:
    return Pen.of(d, style).wheres(form)


def note_texts(d: Derivation, style: Style = Unicode,
               math: Callable[[str], str] = lambda s: s) -> list[str]:
    return Pen.of(d, style).notes(math)


def step_lines(d: Derivation, edge: Edge, style: Style = Unicode) -> list[tuple[str, str]]:
    return Pen.of(d, style).steps(edge)
