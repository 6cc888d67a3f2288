"""The finished derivation: every adjoint in index form and in matrix form.

:func:`derive` runs the pipeline - spec, graph, index-form adjoints, matrix
forms - and returns a :class:`Derivation`, the one object every renderer
reads.  It also knows how to show itself in a terminal (Rich) and in a
notebook (``_repr_latex_``, ``_repr_markdown_``).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

from sympy import Add as SAdd

from . import matrix as mx
from .graph import Graph, Tensor
from .graph import build as build_graph
from .recognize import NoMatrixForm, Recognizer, Where, positions
from .record import Record, field
from .reverse import Edge, IndexDerivation, derive_index
from .spec import Spec


class Form(Record):
    """One formula: a tensor's components (SymPy) and its matrix form."""

    index: object  # SymPy expression
    idx: tuple  # the tensor's indices
    matrix: mx.M | None  # None when no matrix form exists
    wheres: tuple = ()  # (Where, ...): helpers such as σ'(z) = y ⊙ (1 − y)
    positions: dict = field(default_factory=dict, compare=False)
    einsum: bool = False  # the matrix form falls back to einsum somewhere


class Adjoint(Record):
    """∂L/∂t for one tensor: as printed (chain form) and, if small, in closed form."""

    tensor: Tensor
    form: Form
    closed: Form | None
    terms: tuple  # ((consumer, Form), ...): one per use of the tensor
    edges: tuple  # Edge, for --steps

    @property
    def name(self) -> str:
        return self.tensor.name


class Gradient(Record):
    """grad(x) for one ``wrt`` input."""

    tensor: Tensor
    form: Form | None  # None: the loss does not depend on x (zero gradient)
    closed: Form | None

    @property
    def name(self) -> str:
        return self.tensor.name

    @property
    def zero(self) -> bool:
        return self.form is None

    @property
    def index_form(self) -> str:
        from .render.text import index_rhs
        return index_rhs(self._d, self.form) if self.form else "0"

    @property
    def matrix_form(self) -> str:
        from .render.text import matrix_text
        return matrix_text(self._d, self.form) if self.form else "0"

    @property
    def latex(self) -> str:
        from .render.latex import gradient_latex
        return gradient_latex(self._d, self)

    _d: object = field(default=None, compare=False, repr=False)


class Derivation(Record):
    spec: Spec
    graph: Graph
    index: IndexDerivation
    forward: tuple  # ((Tensor, Form), ...) for every named node, in order
    adjoints: tuple  # Adjoint, from the loss back, inputs (wrt only) last
    gradients: tuple  # Gradient per wrt input
    notes: tuple  # sentences the renderers print under the derivation
    # anon name -> matrix form: an anonymous intermediate prints as its definition
    anon: dict = field(default_factory=dict, compare=False)

    @property
    def loss(self) -> str:
        return self.graph.loss

    @property
    def name(self) -> str:
        return self.spec.name

    def gradient(self, name: str) -> Gradient:
        return next(g for g in self.gradients if g.name == name)

    def adjoint(self, name: str) -> Adjoint:
        return next(a for a in self.adjoints if a.name == name)

    # -- display ------------------------------------------------------------------------

    def __rich_console__(self, console, options):
        from .render.terminal import rich_derivation
        yield from rich_derivation(self, console, options)

    def _repr_latex_(self) -> str:
        from .render.latex import latex_document_body
        return latex_document_body(self, env="aligned", display=True)

    def _repr_markdown_(self) -> str:
        from .render.markdown import notebook_markdown
        return notebook_markdown(self)


def derive(spec: Spec | Graph, closed: bool = True) -> Derivation:
    """Derive every adjoint of a spec (or of a graph already built).

    ``closed=False`` skips the closed forms (``--expand``, goldens, verify) when
    only the chain forms will be shown."""
    with _collector_paused():
        return _derive(spec, closed)


@contextmanager
def _collector_paused():
    """SymPy makes many short-lived, acyclic objects: Python's cycle collector would
    rescan them over and over (half the time of a derivation) and find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _derive(spec: Spec | Graph, closed: bool) -> Derivation:
    graph = spec if isinstance(spec, Graph) else build_graph(spec)
    idx = derive_index(graph, closed)
    ctx = idx.ctx
    anon: dict[str, mx.M] = {}
    for t in graph.nodes:
        if t.kind == "anon":
            expr, tidx = idx.definitions[t.name]
            anon[t.name] = _form(Recognizer(ctx, idx.namer, anon), expr, tidx, t.shape).matrix

    def form(expr, tidx, shape) -> Form:
        return _form(Recognizer(ctx, idx.namer, anon), expr, tidx, shape)

    forward = tuple((t, form(*idx.definitions[t.name], t.shape))
                    for t in graph.nodes if t.kind == "node")
    shown = [n for n in idx.order
             if graph[n].kind == "node" or (graph[n].is_input and n in graph.wrt)]
    edges_of: dict[str, list[Edge]] = {}
    for e in idx.edges:
        edges_of.setdefault(e.operand, []).append(e)
    adjoints = []
    for name in shown:
        a = idx.adjoints[name]
        t = graph[name]
        closed = form(a.closed, a.idx, t.shape) if a.closed is not None else None
        terms = tuple((consumer, form(c, a.idx, t.shape)) for consumer, c in a.terms)
        shown_form = _sum_form(a, terms) if len(terms) > 1 else form(a.expr, a.idx, t.shape)
        adjoints.append(Adjoint(t, shown_form, closed, terms, tuple(edges_of.get(name, ()))))
    by_name = {a.name: a for a in adjoints}
    gradients = []
    for name in graph.wrt:
        a = by_name.get(name)
        gradients.append(Gradient(graph[name], a.form if a else None, a.closed if a else None))
    notes = tuple(_notes(graph, adjoints))
    d = Derivation(graph.spec, graph, idx, forward, tuple(adjoints), tuple(gradients), notes,
                   anon)
    for g in d.gradients:
        object.__setattr__(g, "_d", d)
    return d


def _form(rec: Recognizer, expr, idx: tuple, shape: tuple) -> Form:
    try:
        m = rec.form(expr, idx, shape)
    except NoMatrixForm:
        m = None
    return Form(expr, idx, m, tuple(rec.wheres), positions(m) if m is not None else {},
                rec.einsum_used)


def _sum_form(a, terms: tuple) -> Form:
    """A tensor used several times: the sum of its contributions, in the graph's order."""
    forms = [f for _, f in terms]
    index = SAdd(*[f.index for f in forms], evaluate=False)
    if any(f.matrix is None for f in forms):
        matrix = None
    else:
        ms = tuple(f.matrix for f in forms)
        matrix = mx.Add(ms, mx.broadcast_shape([m.shape for m in ms]))
    wheres = tuple(dict.fromkeys(w for f in forms for w in f.wheres))
    return Form(index, a.idx, matrix, wheres, positions(matrix) if matrix is not None else {},
                any(f.einsum for f in forms))


class Note(Record):
    """Something the reader should know about one adjoint; renderers word it.

    ``kind`` is 'rows-sum-to-one' (``form`` is the adjoint when each row of the
    input ``subject`` sums to one), 'einsum' (no matrix form for part of it) or
    'no-matrix-form' (none at all: only the index form is printed)."""

    kind: str
    tensor: str
    subject: str = ""
    form: mx.M | None = None


def _notes(graph: Graph, adjoints: list) -> list:
    notes: list[Note] = []
    for a in adjoints:
        f = a.closed if a.closed is not None and a.closed.matrix is not None else a.form
        if a.form.matrix is None:
            notes.append(Note("no-matrix-form", a.name))
            continue
        if a.form.einsum:
            notes.append(Note("einsum", a.name))
        for node in mx.walk(f.matrix):
            if isinstance(node, mx.Reduce) and node.kind == "rowsum" and \
                    isinstance(node.x, mx.Ref) and node.x.kind == "tensor" and \
                    graph[node.x.name].is_input:
                if any(n.kind == "rows-sum-to-one" and n.subject == node.x.name for n in notes):
                    continue  # said once, at the adjoint nearest the loss
                reduced = mx.substitute(f.matrix, node, mx.Ones(node.shape))
                notes.append(Note("rows-sum-to-one", a.name, node.x.name, reduced))
    return notes


__all__ = ["Adjoint", "Derivation", "Form", "Gradient", "Note", "Where", "derive"]
