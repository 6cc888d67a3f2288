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
from .kinds import NoteKind
from .recognize import Recognition, Where, math_shape, positions, recognize
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


class _Shown:
    """How an adjoint or a gradient shows itself: its formula, in a REPL and a notebook.

    Needs ``name``, ``form`` (None: zero), ``closed`` and ``_d`` (the derivation)."""

    def formula(self, style=None) -> str:
        """``∂L/∂W = ∂L/∂z xᵀ``, then ``= closed form`` when ``--expand`` would show one."""
        from .render.styles import Unicode
        from .render.text import adjoint_lhs, index_rhs, matrix_rhs
        style = style or Unicode

        def rhs_of(form) -> str:
            return matrix_rhs(self._d, form, style) or index_rhs(self._d, form, style)
        if self.form is None:
            return f"{adjoint_lhs(self._d, self.name, (), style)} = 0"
        lhs_idx = () if self.form.matrix is not None else self.form.idx
        rhs = [rhs_of(f) for f in (self.form, self.closed) if f]
        rhs = list(dict.fromkeys(rhs))  # the closed form only where it differs
        return " = ".join([adjoint_lhs(self._d, self.name, lhs_idx, style)] + rhs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.formula()}>"

    def _repr_latex_(self) -> str:
        from .render.styles import Latex
        return f"$\\displaystyle {self.formula(Latex)}$"

    def _repr_markdown_(self) -> str:
        from .render.styles import Latex
        from .render.text import where_texts
        wheres = [w for f in (self.form, self.closed) if f for w in where_texts(self._d, f, Latex)]
        lines = [self.formula(Latex)] + [f"\\text{{where }} {w}" for w in dict.fromkeys(wheres)]
        body = " \\\\\n".join(lines)
        if len(lines) > 1:
            body = f"\\begin{{gathered}}\n{body}\n\\end{{gathered}}"
        return f"$$\n{body}\n$$\n"


class Adjoint(_Shown, Record):
    """∂L/∂t for one tensor: as printed (chain form) and, if small, in closed form."""

    tensor: Tensor
    form: Form
    closed: Form | None
    terms: tuple  # ((consumer, Form), ...): one per use of the tensor
    edges: tuple  # Edge, for --steps
    _d: object = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.tensor.name


class Gradient(_Shown, Record):
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


class Derivation(Record, slots=False):  # renderers cache into __dict__
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
        """grad(``name``); a :class:`KeyError` naming the gradients there are if none."""
        return _find(self.gradients, name, "gradient")

    def adjoint(self, name: str) -> Adjoint:
        """∂L/∂``name``; a :class:`KeyError` naming the adjoints there are if none."""
        return _find(self.adjoints, name, "adjoint")

    def __repr__(self) -> str:
        n = sum(a.name != self.loss for a in self.adjoints)
        grads = ", ".join(g.name for g in self.gradients)
        return f"<Derivation {self.name}: {n} adjoint{'s' if n != 1 else ''}, grads {grads}>"

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


class UnknownName(KeyError):
    """A name a derivation has no gradient or adjoint of; says which it has."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _find(items: tuple, name: str, what: str):
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(i.name for i in items) or "none"
    raise UnknownName(f"no {what} {name!r}; the {what}s are: {known}")


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
            m = recognize(ctx, idx.namer, anon, expr, tidx, t.shape).matrix
            if m is not None and m.is_scalar and t.shape:
                # a constant argument (x - x is 0) keeps its shape, or softmax(0) would read as
                # the softmax of one number: 0 𝟏, built as is (scale() folds 0 𝟏 to 0)
                shape = math_shape(t.shape)
                m = mx.Scale(m, mx.Ones(shape), shape)
            anon[t.name] = m

    def form(expr, tidx, shape) -> Form:
        return _form(recognize(ctx, idx.namer, anon, expr, tidx, shape), expr, tidx)

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
    for x in d.gradients + d.adjoints:
        object.__setattr__(x, "_d", d)
    return d


def _form(r: Recognition, expr, idx: tuple) -> Form:
    m = r.matrix
    return Form(expr, idx, m, r.wheres, positions(m) if m is not None else {}, r.einsum)


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

    ``kind`` is 'target-sums-to-one' (``subject`` is the target of a softmax
    cross-entropy, ``reduce`` the sum over its softmax axis: 'rowsum', 'colsum'
    or 'sum'; ``form`` is the adjoint when that sum is one), 'einsum' (no matrix
    form for part of it) or 'no-matrix-form' (none at all: only the index form
    is printed)."""

    kind: NoteKind
    tensor: str
    subject: str = ""
    form: mx.M | None = None
    reduce: str = ""


def _notes(graph: Graph, adjoints: list) -> list:
    notes: list[Note] = []
    for a in adjoints:
        if a.form.matrix is None:
            notes.append(Note(NoteKind.NO_MATRIX_FORM, a.name))
        elif a.form.einsum:
            notes.append(Note(NoteKind.EINSUM, a.name))
    from .roles import softmax_targets
    targets = softmax_targets(graph)
    for t in graph.inputs:  # in the spec's order
        note = _target_note(graph, adjoints, t.name, targets[t.name]) \
            if t.name in targets else None
        if note is not None:
            notes.append(note)
    return notes


def _target_note(graph: Graph, adjoints: list, target: str, pairs) -> Note | None:
    """The adjoint of the logits when the target's sum over the softmax axis is one.

    Said once: at the logits' adjoint, or (when the logits are an intermediate
    not shown) at the adjoint nearest the loss whose form holds that sum."""
    ndim = len(graph[target].shape)
    kinds = {{(1, 0): "sum", (2, 1): "rowsum", (2, 0): "colsum"}.get((ndim, ax))
             for ax, _ in pairs} - {None}
    logits = {name for _, name in pairs}
    for a in sorted(adjoints, key=lambda a: a.name not in logits):  # stable: logits first
        if a.form.matrix is None:
            continue
        f = a.closed if a.closed is not None and a.closed.matrix is not None else a.form
        for node in mx.walk(f.matrix):
            if _sums(node, target, kinds):
                one = mx.ONE if node.shape == () else mx.Ones(node.shape)
                reduced = _distribute_ones(mx.substitute(f.matrix, node, one))
                return Note(NoteKind.TARGET_SUMS_TO_ONE, a.name, target, reduced, node.kind)
    return None


def _sums(node: mx.M, target: str, kinds: set) -> bool:
    """Whether ``node`` is the target's sum over its softmax axis."""
    return isinstance(node, mx.Reduce) and node.kind in kinds and \
        isinstance(node.x, mx.Ref) and node.x.kind == "tensor" and node.x.name == target


def _distribute_ones(m: mx.M) -> mx.M:
    """``P ⊙ (𝟏 − T ⊘ P)`` as ``P − T``: a sum that a 𝟏 just entered is multiplied out, so
    that the 𝟏 meets its factor and the smart constructors drop it (and cancel what cancels)."""
    for node in mx.walk(m):
        if not isinstance(node, mx.Hadamard):
            continue
        for k, f in enumerate(node.factors):
            if isinstance(f, mx.Add) and any(isinstance(t, mx.Ones) for t in f.terms):
                others = node.factors[:k] + node.factors[k + 1:]
                spread = mx.add(*[mx.hadamard(*others, t) for t in f.terms])
                return _distribute_ones(mx.substitute(m, node, spread))
    return m


__all__ = ["Adjoint", "Derivation", "Form", "Gradient", "Note", "UnknownName", "Where",
           "derive"]
