"""The presentation model: a derivation printed once, in one notation, as a sheet.

A sheet is the document every layout shows - the tensors and their forward
definitions, the backward pass (one row per adjoint, the loss left out),
the gradients and the notes - with every formula already printed: left
sides, index form, matrix form, where-clauses, closed form.  Which form a
formula shows, whether it has an index form at all and whether its closed
form differs are decided here, once; the terminal, Markdown, LaTeX, JSON and
the pictures only lay the rows out, so they cannot disagree about them.

>>> from einderive import derive                               # doctest: +SKIP
>>> build(derive("specs/mlp.yaml")).gradient("W").formula.matrix  # doctest: +SKIP
'∂L/∂z xᵀ'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..recognize import temporaries_read
from ..record import Record, replace
from .matrix_printer import element_names
from .styles import Latex, Unicode
from .text import (Pen, Style, closed_differs, closed_omitted, has_index_form, named_consumer,
                   shape_text)

if TYPE_CHECKING:
    from ..derivation import Adjoint, Derivation, Form, Gradient, Hessian
    from ..graph import Tensor
    from ..reverse import Edge


SECTIONS = ("forward", "backward", "gradients")
ONLY = ("forward", "index", "matrix", "gradients", "steps")  # --only's words


class Selection(Record):
    """What to show of a sheet (``--only``, ``--node``), for every format alike.

    ``only`` names sections (``forward``, ``gradients``, ``steps``: the backward pass with
    its chain rule) and forms (``index``, ``matrix``); no section named means all of them,
    no form named both.  ``nodes`` keeps the rows of those tensors alone (none: all)."""

    only: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()

    @property
    def sections(self) -> tuple[str, ...]:
        named = tuple(s for s, word in (("forward", "forward"), ("backward", "steps"),
                                        ("gradients", "gradients")) if word in self.only)
        return named or SECTIONS

    @property
    def steps(self) -> bool:
        return "steps" in self.only

    @property
    def names_sections(self) -> bool:
        return any(w in self.only for w in ("forward", "gradients", "steps"))

    def check(self, d: Derivation) -> None:
        """An unknown word or node is the user's error (exit 2), with the names to choose."""
        from ..errors import SpecError
        for word in self.only:
            if word not in ONLY:
                raise SpecError(f"--only {word}: no such part", None,
                                "choose from " + ", ".join(ONLY))
        known = [t.name for t in d.graph.tensors if t.kind != "anon"]
        for name in self.nodes:
            if name not in known:
                raise SpecError(f"--node {name}: {d.name} has no tensor {name!r}", None,
                                "its tensors are " + ", ".join(known))


def select(sheet: Sheet, sel: Selection) -> Sheet:
    """``sheet`` with only the sections, forms and nodes ``sel`` keeps."""
    sections = sel.sections
    forms = {f for f in ("index", "matrix") if f in sel.only} or {"index", "matrix"}

    def keep(name: str) -> bool:
        return not sel.nodes or name in sel.nodes

    def form(f: Formula) -> Formula:
        if forms == {"index"} and f.indexed:
            return replace(f, matrix=None, wheres=(), einsum=False)
        if forms == {"matrix"} and f.matrix is not None:
            return replace(f, indexed=False)
        return f

    def maybe(f: Formula | None) -> Formula | None:
        return form(f) if f is not None else None

    tensors = tuple(t if t.is_input else replace(t, formula=maybe(t.formula))
                    for t in sheet.tensors if t.is_input or
                    "forward" in sections and keep(t.name))
    index_only = forms == {"index"}
    adjoints = tuple(replace(a, formula=form(a.formula),
                             closed=None if index_only else a.closed,
                             closed_full=None if index_only else maybe(a.closed_full),
                             closed_wheres=() if index_only else a.closed_wheres,
                             closed_omitted="" if index_only else a.closed_omitted,
                             terms=tuple(replace(t, formula=maybe(t.formula)) for t in a.terms))
                     for a in sheet.adjoints if "backward" in sections and keep(a.name))
    gradients = tuple(replace(g, formula=maybe(g.formula)) for g in sheet.gradients
                      if "gradients" in sections and keep(g.name))
    whole = "backward" in sections and not sel.nodes
    return replace(sheet, tensors=tensors, adjoints=adjoints, gradients=gradients,
                   notes=sheet.notes if whole else (), sections=sections,
                   selected=sel.names_sections, filtered=True)


class Formula(Record):
    """One tensor's formula in both forms, each with its left side.

    ``indexed`` is False for a formula with no index at all (a scalar of scalars),
    which reads the same in both forms and is shown once, in matrix form."""

    lhs_index: str  # ∂L/∂z_i
    index: str  # ∂L/∂y_i σ'(z_i); "" where there is none (a closed form built at the matrix
    # level, whose index form would be the one too large to build)
    lhs_matrix: str  # ∂L/∂z
    matrix: str | None  # ∂L/∂y ⊙ σ'(z); None: no matrix form
    wheres: tuple[str, ...]  # σ'(z) = y ⊙ (1 − y)
    einsum: bool  # the matrix form falls back to einsum somewhere
    indexed: bool

    @property
    def rhs(self) -> str:
        """The form shown where one is: the matrix form, else the index form."""
        return self.matrix if self.matrix is not None else self.index

    @property
    def lhs(self) -> str:
        """The left side of :attr:`rhs` (an index form names its free indices)."""
        return self.lhs_matrix if self.matrix is not None else self.lhs_index


class Shown(Record):
    """The one form a layout shows of a formula: the matrix form, else the index form."""

    lhs: str  # ∂L/∂z, or ∂L/∂z_i for an index form
    rhs: str
    wheres: tuple[str, ...]


class TensorRow(Record):
    """A named tensor: an input (no formula) or a node with its forward definition."""

    name: str
    kind: str  # 'input' or 'node'
    shape: tuple[Any, ...]
    shape_text: str  # M×N
    dims: tuple[str, ...]  # each dim of the shape as the formulas print it
    lhs: str  # z, as the formulas print it
    text: str  # the definition as the spec writes it ('' for an input)
    positive: bool
    formula: Formula | None  # None for an input
    integer: str | None = None  # an input of indices 0 .. size(dim) - 1: the dim

    @property
    def is_input(self) -> bool:
        return self.formula is None


class Step(Record):
    """The chain rule through one use of a tensor (``--steps``)."""

    node: str  # the node that reads the tensor
    # that node's definition as the spec writes it; an anonymous intermediate's short name
    # and what it stands for, as text (u = X + logpiᵀ − logsumexp(logpi))
    definition: str
    node_lhs: str  # the node as the formulas print it
    lines: tuple[tuple[str, str], ...]  # (left, right): local derivative, then chain rule
    # an anonymous intermediate's short name and definition in the sheet's notation
    # (left, right), for the layouts that print no ``via`` line (LaTeX); else empty
    where: tuple[str, str] | tuple[()] = ()


class Term(Record):
    """What one use of a tensor contributes to its adjoint."""

    consumer: str  # the node that reads the tensor (perhaps anonymous)
    source: str  # the named node whose line holds that use
    lhs: str  # ∂L/∂x
    rhs: str  # the contribution's matrix form, else its index form
    formula: Formula | None  # both forms, in a sheet built ``full``


class AdjointRow(Record):
    """∂L/∂t: its formula, its closed form and the pieces ``--steps`` and pictures show."""

    name: str
    formula: Formula
    # the closed form, where it is another formula than the chain form; its left side "" where
    # the chain form's stands for it, else its own (∂L/∂X_n = … of ∂L/∂X = reshape(…), a
    # form written per element under a whole chain form)
    closed: Shown | None
    closed_full: Formula | None  # that closed form in both forms, in a sheet built ``full``
    closed_omitted: str  # why there is no closed form, when derived and none ("": there is)
    closed_wheres: tuple[str, ...]  # the closed form's where-clauses not already said
    terms: tuple[Term, ...]  # empty unless asked for
    steps: tuple[Step, ...]  # empty unless asked for


class GradientRow(Record):
    """grad(x) for one ``wrt`` input."""

    name: str  # the input
    shape: tuple[Any, ...]
    label: str  # grad(W), or grad(W)_jk when only the index form exists
    formula: Formula | None  # None: zero (the loss does not depend on the input)
    # the clauses of the temporaries it reads, as under its adjoint: a section defines each
    # name it reads (grad(b) = Σ_j rowsum(∂L/∂Y_j ⊙ 𝟙[t1_j > 0]), where t1 = conv1d(X, W,
    # b)); a derivative helper's (σ'(u) = y ⊙ (1 − y)) names nothing and is not repeated
    wheres: tuple[str, ...] = ()

    @property
    def zero(self) -> bool:
        return self.formula is None

    @property
    def rhs(self) -> str:
        return self.formula.rhs if self.formula is not None else "0"


class SecondRow(Record):
    """A tangent ṫ, or ℛ{∂L/∂t} (the tangent of an adjoint), of one tensor."""

    name: str
    lhs: str  # ż, ℛ{∂L/∂W}: the left side without indices
    formula: Formula | None  # None: zero (it does not move along the direction)
    # ``--steps``: what was differentiated (via y = sigmoid(z); the tangent of ∂L/∂z_i =
    # ∂L/∂y_i σ'(z_i)), and (left, right): the product and chain rules' result, unsimplified
    via: str = ""
    steps: tuple[tuple[str, str], ...] = ()

    @property
    def rhs(self) -> str:
        return self.formula.rhs if self.formula is not None else "0"

    @property
    def lhs_shown(self) -> str:
        """The left side of :attr:`rhs`: subscripted as it is (ℛ{∂L/∂X}_b = 6 (m_b ⊙ ṁ_b)
        𝟏ᵀ, a form of each element b, as grad(X)_b is)."""
        return self.formula.lhs if self.formula is not None else self.lhs


class HessianRow(Record):
    """One block ∂²L/∂x∂y of the Hessian: its formula (index form, and matrix form for two
    vectors or scalars) and, for two matrices, its Kronecker form on vec (columns stacked)."""

    x: str
    y: str
    lhs: str  # ∂²L/∂x², ∂²L/∂W∂x
    formula: Formula | None  # None: zero
    kron: str | None = None  # (x xᵀ) ⊗ 𝐈
    kron_wheres: tuple[str, ...] = ()

    @property
    def rhs(self) -> str:
        return self.formula.rhs if self.formula is not None else "0"


class Sheet(Record):
    """A derivation printed in one notation; its sections in reading order are
    ``tensors`` (inputs, then the forward pass), ``adjoints``, ``gradients``, ``notes``."""

    style: str  # the notation's class name: 'Unicode', 'Latex', ...
    name: str
    path: str | None
    description: str
    loss: str
    wrt: tuple[str, ...]
    dims: tuple[tuple[str, Any, str], ...]  # (name, size, index letter)
    tensors: tuple[TensorRow, ...]  # every named tensor, in the graph's order
    adjoints: tuple[AdjointRow, ...]  # from the loss back (the loss itself left out)
    gradients: tuple[GradientRow, ...]
    notes: tuple[str, ...]
    # second order, when derived: the inputs with a tangent (as printed: ẋ, Ẇ), the
    # tangents of the forward nodes, ℛ{∂L/∂t} from the loss back, and the blocks of (∇²L) v
    along: tuple[str, ...] = ()
    along_names: tuple[str, ...] = ()  # the same inputs by name
    tangents: tuple[SecondRow, ...] = ()
    rops: tuple[SecondRow, ...] = ()
    hvp: tuple[SecondRow, ...] = ()
    hessian: tuple[HessianRow, ...] = ()
    # the Gauss-Newton split, when asked for: the output f (as printed, and by name), then
    # per input the parts of (∇²L) v and per pair of inputs the parts of the Hessian
    gn_output: str = ""
    gn_output_name: str = ""
    gn_hvp: tuple[SecondRow, ...] = ()
    rest_hvp: tuple[SecondRow, ...] = ()
    gn_hessian: tuple[HessianRow, ...] = ()
    rest_hessian: tuple[HessianRow, ...] = ()
    # the sections a layout shows (a selection may leave some out), whether the user
    # named them (a LaTeX fragment shows the backward pass alone unless asked), and
    # whether a selection left anything out (a picture of the graph needs every tensor)
    sections: tuple[str, ...] = SECTIONS
    selected: bool = False
    filtered: bool = False

    @property
    def inputs(self) -> tuple[TensorRow, ...]:
        return tuple(t for t in self.tensors if t.is_input)

    @property
    def forward(self) -> tuple[TensorRow, ...]:
        return tuple(t for t in self.tensors if not t.is_input)

    def tensor(self, name: str) -> TensorRow:
        return next(t for t in self.tensors if t.name == name)

    def adjoint(self, name: str) -> AdjointRow | None:
        """∂L/∂``name``, or None for the loss and for tensors the loss does not depend on."""
        return next((a for a in self.adjoints if a.name == name), None)

    def gradient(self, name: str) -> GradientRow:
        return next(g for g in self.gradients if g.name == name)


def build(d: Derivation, style: Style = Unicode, *, steps: bool = False, terms: bool = False,
          full: bool = False, math: Callable[[str], str] | None = None,
          equation: Callable[[str, str, str], str] | None = None,
          selection: Selection | None = None) -> Sheet:
    """``d`` printed in ``style``; ``steps`` adds the chain rule of each use of a tensor,
    ``terms`` what each use contributes, ``full`` both forms of the closed forms and the
    contributions (else only the form shown).

    Printing an index form is most of the cost of a sheet, hence the choice: the terminal
    shows no contribution, a picture one form of each, JSON both forms of everything.
    Notes wrap their formulas with ``math``: by default none in Unicode, ``$…$`` in LaTeX;
    a note's equation ``lhs = rhs`` and the punctuation after it go through ``equation``
    (default: ``math`` of the equation; a LaTeX page sets a wide one as a display).
    ``selection`` keeps some sections, forms and nodes (:func:`select`)."""
    if selection is not None and (selection.only or selection.nodes):
        selection.check(d)
        return select(build(d, style, steps=steps or selection.steps, terms=terms, full=full,
                            math=math, equation=equation), selection)
    pen = Pen.of(d, style)
    shown = [a for a in d.adjoints if a.name != d.loss]
    adjoints = tuple(_adjoint(d, pen, a, steps, terms, full) for a in shown)
    # a gradient is its input's adjoint: the same form, printed once
    printed = {id(a.form): row.formula for a, row in zip(shown, adjoints)}
    if math is None:
        math = _inline_math if issubclass(style, Latex) else _no_math
    return Sheet(
        style=style.__name__, name=d.name, path=d.spec.path, description=d.spec.description,
        loss=d.loss, wrt=tuple(d.graph.wrt),
        # a stack's count dim by its number, as the formulas print it (2, index l)
        dims=tuple((str(s) if n in d.graph.counts else n, s, d.index.ctx.letter[n])
                   for n, s in d.graph.dims),
        tensors=_tensors(d, pen),
        adjoints=adjoints,
        gradients=tuple(_gradient(pen, g, printed) for g in d.gradients),
        notes=tuple(pen.notes(math, equation)), **_second(d, pen, steps))


def _second(d: Derivation, pen: Pen, steps: bool = False) -> dict[str, Any]:
    """The second-order sections of the sheet (none unless derived); ``steps``: what each
    tangent and ℛ{·} differentiates, and the product and chain rules' result."""
    s = d.second
    if s is None:
        return {}
    p = pen.printer()

    def shown(key: tuple[str, str], form: Form | None,
              lhs: Callable[[tuple[Any, ...]], str]) -> dict[str, Any]:
        if not steps or form is None or key not in s.steps:
            return {}
        source, raw = s.steps[key]
        q = pen.printer()
        q.einstein = False
        if key[0] == "tangent":
            via = f"via {d.graph[key[1]].text}"
        else:
            via = f"tangent of {q.adjoint(key[1], q.index_list(form.idx))} = " \
                f"{q.index(source, form.idx)}"
        rule = q.index(raw, form.idx)
        final = q.index(form.index, form.idx)
        return {"via": via, "steps": ((lhs(form.idx), rule),) if rule != final else ()}

    def tangent(name: str, form: Form | None) -> SecondRow:
        def lhs(idx: tuple[Any, ...]) -> str:
            return p.tangent(name, p.index_list(idx))
        return SecondRow(name, lhs(()), formula(pen, form, lhs) if form is not None else None,
                         **shown(("tangent", name), form, lhs))

    def rop(name: str, form: Form | None, part: bool | None = None,
            chain: bool = False) -> SecondRow:
        def lhs(idx: tuple[Any, ...]) -> str:
            s = p.rop(name, p.index_list(idx))
            return s if part is None else p.split_part(part, s)
        return SecondRow(name, lhs(()), formula(pen, form, lhs) if form is not None else None,
                         **(shown(("rop", name), form, lhs) if chain else {}))
    out: dict[str, Any] = {
        "along": tuple(p.tangent(x, "") for x in s.along), "along_names": s.along,
        "tangents": tuple(tangent(t.name, f) for t, f in s.tangents),
        "rops": tuple(rop(t.name, f, chain=True) for t, f in s.rops),
        "hvp": tuple(rop(t.name, f, chain=True) for t, f in s.hvp),
        "hessian": tuple(_hessian_row(pen, h) for h in s.hessian)}
    gn = s.gauss_newton
    if gn is not None:
        out.update(gn_output=p.tensor(gn.output, ""), gn_output_name=gn.output,
                   gn_hvp=tuple(rop(t.name, f, True) for t, f in gn.hvp),
                   rest_hvp=tuple(rop(t.name, f, False) for t, f in gn.rest_hvp),
                   gn_hessian=tuple(_hessian_row(pen, h, True) for h in gn.hessian),
                   rest_hessian=tuple(_hessian_row(pen, h, False) for h in gn.rest_hessian))
    return out


def _hessian_row(pen: Pen, h: Hessian, part: bool | None = None) -> HessianRow:
    """A Hessian block's row; with ``part``, its Gauss-Newton part (True) or the rest."""
    p = pen.printer()
    x, y, nx = h.x.name, h.y.name, len(h.x.shape)

    def lhs(idx: tuple[Any, ...]) -> str:
        s = p.hessian(x, p.index_list(idx[:nx]), y, p.index_list(idx[nx:]))
        return s if part is None else p.split_part(part, s)
    formula_ = formula(pen, h.form, lhs) if h.form is not None else None
    kron, wheres = None, []
    if h.kron:
        terms = []
        for a, b in h.kron:
            sides = [pen.matrix(f) or "" for f in (a, b)]
            sides = [p.paren(t) if _compound(f) else t for t, f in zip(sides, (a, b))]
            terms.append(p.kron(*sides))
            wheres += pen.wheres(a) + pen.wheres(b)
        kron = " + ".join(terms)
    return HessianRow(x, y, lhs(()), formula_, kron, tuple(dict.fromkeys(wheres)))


def _compound(f: Form) -> bool:
    """A factor of a Kronecker product printed in brackets: all but a name, 𝐈, diag(·)."""
    from .. import matrix as mx
    m = f.matrix
    while isinstance(m, mx.Transpose):
        m = m.x
    return not isinstance(m, (mx.Ref, mx.Eye, mx.Diag, mx.Ones))


def both(d: Derivation, *, steps: bool = False, terms: bool = False,
         full: bool = False, selection: Selection | None = None) -> tuple[Sheet, Sheet]:
    """The Unicode and the LaTeX sheet of ``d``."""
    return (build(d, Unicode, steps=steps, terms=terms, full=full, selection=selection),
            build(d, Latex, steps=steps, terms=terms, full=full, selection=selection))


def _no_math(s: str) -> str:
    return s


def _inline_math(s: str) -> str:
    return f"${s}$"


def formula(pen: Pen, form: Form, lhs: Callable[[tuple[Any, ...]], str]) -> Formula:
    """``form`` printed, with ``lhs(indices)`` as its left sides."""
    return Formula(lhs(form.idx), pen.index(form) if form.index is not None else "",
                   lhs(element_names(form.matrix)),
                   pen.matrix(form),
                   tuple(pen.wheres(form)), form.einsum, has_index_form(form))


def _tensors(d: Derivation, pen: Pen) -> tuple[TensorRow, ...]:
    forward: dict[str, Form] = {t.name: f for t, f in d.forward}
    rows = []
    for t in d.graph.tensors:
        if t.kind == "anon":
            continue
        f = forward.get(t.name) if not t.is_input else None
        rows.append(_tensor_row(pen, t, f, d.graph.counts))
    return tuple(rows)


def _tensor_row(pen: Pen, t: Tensor, f: Form | None, counts: dict[str, int]) -> TensorRow:
    shape = tuple(counts.get(x, x) if isinstance(x, str) else x for x in t.shape)  # B×2
    if t.decimals:
        pen = replace(pen, decimals=True)  # c = 0.1 + 0.2 prints c = 0.3, as written
    return TensorRow(
        t.name, "input" if t.is_input else "node", shape, shape_text(shape),
        tuple(pen.dim(x) for x in t.shape), pen.tensor_lhs(t.name, ()), t.text, t.positive,
        formula(pen, f, lambda idx: pen.tensor_lhs(t.name, idx)) if f is not None else None,
        t.integer)


def _shown(pen: Pen, form: Form, lhs: Callable[[tuple[Any, ...]], str]) -> Shown:
    matrix = pen.matrix(form)
    wheres = tuple(pen.wheres(form))
    if matrix is not None:
        return Shown(lhs(element_names(form.matrix)), matrix, wheres)
    return Shown(lhs(form.idx), pen.index(form), wheres)


def _adjoint(d: Derivation, pen: Pen, a: Adjoint, steps: bool, terms: bool,
             full: bool) -> AdjointRow:
    def lhs(idx: tuple[Any, ...]) -> str:
        return pen.adjoint_lhs(a.name, idx)
    shown = formula(pen, a.form, lhs)
    differs = a.closed if a.closed is not None and closed_differs(a) else None
    closed = _shown(pen, differs, lhs) if differs is not None else None
    if closed is not None and closed.lhs == shown.lhs_matrix:
        closed = replace(closed, lhs="")  # the chain form's left side stands for it
    extra = tuple(w for w in closed.wheres if w not in shown.wheres) if closed else ()
    return AdjointRow(
        a.name, shown, closed,
        formula(pen, differs, lhs) if differs is not None and full else None,
        _omitted(d, pen, a), extra,
        tuple(_term(d, pen, consumer, f, lhs, full) for consumer, f in a.terms) if terms
        else (),
        tuple(_step(d, pen, e) for e in a.edges) if steps else ())


def _omitted(d: Derivation, pen: Pen, a: Adjoint) -> str:
    """Why ``a`` prints no closed form, in words (the adjoint that gave the reason as the
    text view prints it, an anonymous one by its short name)."""
    if a.omitted is None:
        return ""
    of = Pen(d, Unicode, pen.anon).adjoint_lhs(a.omitted.of, ()) if a.omitted.of else ""
    return closed_omitted(a.omitted.why, of, a.omitted.via)


def _term(d: Derivation, pen: Pen, consumer: str, f: Form,
          lhs: Callable[[tuple[Any, ...]], str], full: bool) -> Term:
    source = named_consumer(d, consumer)
    if full:
        both = formula(pen, f, lhs)
        return Term(consumer, source, both.lhs_matrix, both.rhs, both)
    matrix = pen.matrix(f)  # the form a picture shows, without its where-clauses
    return Term(consumer, source, lhs(element_names(f.matrix) if matrix is not None else ()),
                matrix if matrix is not None else pen.index(f), None)


def _step(d: Derivation, pen: Pen, edge: Edge) -> Step:
    where = pen.step_definition(edge.node)  # an anonymous intermediate's short name
    text = " = ".join(Pen(d, Unicode, pen.anon).step_definition(edge.node))
    return Step(edge.node, text or d.graph[edge.node].text,
                pen.step_printer(edge.node).tensor(edge.node, ""), tuple(pen.steps(edge)),
                where)


def _gradient(pen: Pen, g: Gradient, printed: dict[int, Formula]) -> GradientRow:
    def lhs(idx: tuple[Any, ...]) -> str:
        return pen.adjoint_lhs(g.name, idx)
    if g.form is None:
        return GradientRow(g.name, tuple(g.tensor.shape), pen.gradient_lhs(g.name, ()), None)
    shown = printed.get(id(g.form)) or formula(pen, g.form, lhs)
    label = pen.gradient_lhs(g.name, element_names(g.form.matrix) if shown.matrix is not None
                             else g.form.idx)
    wheres = tuple(text for text, read in zip(shown.wheres,
                                              temporaries_read(g.form.matrix, g.form.wheres))
                   if read)
    return GradientRow(g.name, tuple(g.tensor.shape), label, shown, wheres)


class ItemRow(Record):
    """One adjoint or gradient on its own (the Python API's view of one): its left side
    without indices, its formula (None: zero) and its closed form."""

    name: str
    lhs: str  # ∂L/∂W
    formula: Formula | None
    closed: Formula | None


def item(d: Derivation, it: Adjoint | Gradient, style: Style = Unicode) -> ItemRow:
    """One adjoint or gradient of ``d`` printed in ``style``, without building a sheet."""
    pen = Pen.of(d, style)

    def lhs(idx: tuple[Any, ...]) -> str:
        return pen.adjoint_lhs(it.name, idx)
    return ItemRow(it.name, lhs(()),
                   formula(pen, it.form, lhs) if it.form is not None else None,
                   formula(pen, it.closed, lhs) if it.closed is not None else None)
