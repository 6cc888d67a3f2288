"""The finished derivation: every adjoint in index form and in matrix form.

:func:`derive` runs the pipeline - spec, graph, index-form adjoints, matrix
forms - and returns a :class:`Derivation`, the one object every renderer
reads.  It holds values only: how it shows itself (a terminal, a notebook)
is the renderers' business (:mod:`einderive.api` composes them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set as AbstractSet
from itertools import islice
from typing import Any, TypeVar

from sympy import Add as SAdd

from . import matrix as mx
from .caches import collector_paced
from .graph import Graph, Tensor
from .indexed import name_sums
from .graph import build as build_graph
from .kinds import NoteKind, Omission, ReduceKind, RefKind
from .ops import AS_WRITTEN, SUM, TRACE_OP
from .recognize import (
    Recognition,
    Where,
    distinct_temporaries,
    forward_reading,
    is_temporary,
    math_shape,
    nameable_each,
    no_parts,
    node_ref,
    orientations,
    positions,
    reading_key,
    recognize,
    written_reading,
)
from .record import Record, field, replace
from .reverse import Edge, IndexDerivation, derive_index
from .form_cache import FormCache
from .closed import (STOOD_LIMIT, Refused, defined_temporaries, held_sums, in_node_names,
                     in_order, inline_parts, named_parts, named_temporary, names_reused,
                     substituted, throughout, upstream_as_printed, views_merged)
from .elements import element_of
from .convex import Split
from .reuse import Named, expand, reusable, reuse, through_quotients
from .simplify import is_symmetric, simplify, simplify_form, used_wheres
from .spec import Spec, symmetric_inputs


class Form(Record):
    """One formula: a tensor's components (SymPy) and its matrix form."""

    index: Any  # SymPy expression; None for a closed form built at the matrix level only
    idx: tuple[Any, ...]  # the tensor's indices
    matrix: mx.M | None  # None when no matrix form exists
    wheres: tuple[Where, ...] = ()  # helpers such as σ'(z) = y ⊙ (1 − y)
    positions: dict[Any, Any] = field(default_factory=dict, compare=False)
    einsum: bool = False  # the matrix form falls back to einsum somewhere


class Adjoint(Record):
    """∂L/∂t for one tensor: as printed (chain form) and, if small, in closed form."""

    tensor: Tensor
    form: Form
    closed: Form | None
    terms: tuple[tuple[str, Form], ...]  # (consumer, its contribution): one per use
    edges: tuple[Edge, ...]  # for --steps
    omitted: Refused | None = None  # why there is no closed form, when derived and none

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


class Derivation(Record, slots=False):  # renderers cache into __dict__
    spec: Spec
    graph: Graph
    index: IndexDerivation
    forward: tuple[tuple[Tensor, Form], ...]  # every named node, in order
    adjoints: tuple[Adjoint, ...]  # from the loss back, inputs (wrt only) last
    gradients: tuple[Gradient, ...]  # per wrt input
    notes: tuple[Note, ...]  # what the renderers word under the derivation
    # anon name -> matrix form: an anonymous intermediate prints as its definition
    anon: dict[str, mx.M | None] = field(default_factory=dict, compare=False)
    # anon name -> (its index-form definition, its indices, its matrix form or None), made
    # once: every printed formula needs them, and the walk is over every tensor
    anon_forms: dict[str, tuple[Any, tuple[Any, ...], mx.M | None]] = field(
        default_factory=dict, compare=False)
    # tangents and Hessian-vector products, when asked for (:func:`with_second`)
    second: Second | None = field(default=None, compare=False)

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


class Second(Record):
    """Second order: the tangents of the forward nodes along tangents of the inputs
    ``along`` and, for a Hessian-vector product, the tangents ℛ{∂L/∂t} of the adjoints."""

    along: tuple[str, ...]  # the inputs with a tangent: ẋ, the direction v's blocks
    tangents: tuple[tuple[Tensor, Form], ...]  # ṫ of every named node that moves, in order
    rops: tuple[tuple[Tensor, Form], ...]  # ℛ{∂L/∂t}: named nodes from the loss back
    hvp: tuple[tuple[Tensor, Form | None], ...]  # ℛ{∂L/∂x} = ((∇²L) v)_x per input in along
    hessian: tuple[Hessian, ...] = ()  # ∂²L/∂x∂y for each pair of the inputs asked for
    gauss_newton: GaussNewton | None = None  # the split of the above, when asked for
    # what ``--steps`` shows above each tangent and ℛ{·} (IndexSecond.steps), index form
    steps: dict[tuple[str, str], tuple[Any, Any]] = field(default_factory=dict, compare=False)


class GaussNewton(Record):
    """The Gauss-Newton split of the Hessian (and of its product) of L = ℓ(f(θ)): the part
    J_fᵀ H_ℓ J_f and the rest Σ_k ∂ℓ/∂f_k ∇²f_k, block by block (:mod:`einderive.convex`
    says which node is f)."""

    output: str  # f, the argument of the final convex loss
    loss_part: tuple[str, ...]  # the nodes after f, the loss last
    hvp: tuple[tuple[Tensor, Form | None], ...]  # (G v)_x per input, as Second.hvp
    rest_hvp: tuple[tuple[Tensor, Form | None], ...]  # ((∇²L − G) v)_x
    hessian: tuple[Hessian, ...] = ()  # G's blocks, as Second.hessian
    rest_hessian: tuple[Hessian, ...] = ()


class Hessian(Record):
    """One block ∂²L/∂x∂y of the Hessian: its index form (indices x's, then y's) and,
    for two vectors or scalars, its matrix form; for two matrices, where it exists, its
    Kronecker form on the column-major vec, Σ A ⊗ B as (A, B) pairs."""

    x: Tensor
    y: Tensor
    form: Form | None  # None: zero
    kron: tuple[tuple[Form, Form], ...] = ()


class UnknownName(KeyError):
    """A name a derivation has no gradient or adjoint of; says which it has."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


_Item = TypeVar("_Item", Adjoint, Gradient)
_MaybeForm = TypeVar("_MaybeForm", Form, Form | None)


def _find(items: tuple[_Item, ...], name: str, what: str) -> _Item:
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(i.name for i in items) or "none"
    raise UnknownName(f"no {what} {name!r}; the {what}s are: {known}")


def derive(spec: Spec | Graph, closed: bool = True) -> Derivation:
    """Derive every adjoint of a spec (or of a graph already built).

    ``closed=False`` skips the closed forms (``--expand``, goldens, verify) when
    only the chain forms will be shown."""
    with collector_paced():
        return _derive(spec, closed)


def _derive(spec: Spec | Graph, closed: bool) -> Derivation:
    graph = spec if isinstance(spec, Graph) else build_graph(spec)
    idx = derive_index(graph, closed)
    ctx = idx.ctx
    anon: dict[str, mx.M | None] = {}
    # what the readers read: an anonymous intermediate of a form per element only (Z_b w of
    # Z @ w, Z: [B, T, D]) as that form, which they name as a temporary defined per element
    # (t1_b = Z_b w); ``anon`` (what prints it inline) has no form of it
    read_anon: dict[str, mx.M | None] = {}
    for t in graph.nodes:
        if t.kind == "anon":
            expr, tidx = idx.definitions[t.name]
            with forward_reading():
                m = recognize(ctx, idx.namer, read_anon, expr, tidx, t.shape).matrix
            each = None
            if isinstance(m, mx.Each):  # a form of each element needs a left side to say it
                with forward_reading(), no_parts():  # (read whole, as an einsum if need be)
                    m = recognize(ctx, idx.namer, read_anon, expr, tidx, t.shape).matrix
                each = m if nameable_each(m) else None
                m = None if isinstance(m, mx.Each) else m
            if m is not None:  # as simple as a named node's (as its line writes it: inv(S.T)
                m = simplify(m)  # of a symmetric S stays S⁻ᵀ, as the forward forms keep Sᵀ)
            if m is not None and m.is_scalar and t.shape:
                # a constant argument (x - x is 0) keeps its shape, or softmax(0) would read as
                # the softmax of one number: 0 𝟏, built as is (scale() folds 0 𝟏 to 0)
                shape = math_shape(t.shape)
                m = mx.Scale(m, mx.Ones(shape), shape)
            anon[t.name] = m
            read_anon[t.name] = m if each is None else each

    # the sums that are such an intermediate's definition, read as its element (t1_im)
    each_defs = {n: idx.definitions[n] for n, m in read_anon.items() if isinstance(m, mx.Each)}

    def readable(expr: Any) -> Any:
        return name_sums(expr, each_defs, ctx) if each_defs else expr

    named = Named()  # the forward nodes, once their forms are known (never in their own)
    oriented: frozenset[Any] = frozenset()  # their functions' arguments, as the lines read

    inputs = symmetric_inputs(graph.spec)
    # the forward forms as their lines write them, no symmetric input's transpose dropped:
    # a gradient is the one in the entries taken one by one of what the line writes, so
    # trace(S @ A) prints sum(A ⊙ Sᵀ) beside grad(S) = Aᵀ, not sum(A ⊙ S), whose entrywise
    # gradient is A; then the inputs and the forward nodes equal to their transpose
    symmetric: frozenset[str] = frozenset()

    # an adjoint read from one consumer is its only term, and was read twice (as the term and
    # as the adjoint): forms are remembered, for the forward nodes' readings they were made with
    formed: dict[Any, Form] = {}
    forms = FormCache(ctx, idx.namer, read_anon)  # and read once per kind, renamed for the others
    formed_with: list[Any] = [named, oriented, symmetric]

    def form(expr: Any, tidx: tuple[Any, ...], shape: tuple[Any, ...]) -> Form:
        if any(a is not b for a, b in zip(formed_with, (named, oriented, symmetric))):
            formed.clear()
            formed_with[:] = [named, oriented, symmetric]
        key = (expr, tidx, shape, reading_key())  # (a forward form names no temporary)
        hit = formed.get(key)
        if hit is None:
            hit = formed[key] = forms.form(
                lambda: _form(recognize(ctx, idx.namer, read_anon, readable(expr), tidx, shape,
                                        oriented),
                              expr, tidx, named, symmetric),
                expr, tidx, shape, named, oriented, symmetric)
        return hit

    def defined(t: Tensor) -> Form:
        expr, tidx = idx.definitions[t.name]
        return form(expr, tidx, t.shape)

    def defined_forward(t: Tensor) -> Form:
        with forward_reading(graph.written(t, AS_WRITTEN), graph.function_shapes(t)):
            # (no temporary in a forward form; its functions of products as the line wrote them)
            return defined(t)
    forward = tuple((t, defined_forward(t)) for t in graph.nodes if t.kind == "node")
    oriented, nodes = _readings(forward, anon, inputs)
    symmetric = inputs | nodes
    named = _named(forward, symmetric)
    shown = [n for n in idx.order
             if graph[n].kind == "node" or (graph[n].is_input and n in graph.wrt)]
    edges_of: dict[str, list[Edge]] = {}
    for e in idx.edges:
        edges_of.setdefault(e.operand, []).append(e)
    adjoints: list[Adjoint] = []
    matrix_closed: dict[str, mx.M] = {}  # each adjoint's closed matrix form, all written out
    printed: dict[str, mx.M] = {}  # and as it printed, its parts named by where-clauses
    stood: set[str] = set()  # the temporaries that stand for a printed closed form
    # and every closed form as it printed, those reading such a temporary too (the second
    # try of a form too large to print, closed._apart, stands them)
    printed_all: dict[str, mx.M] = {}
    # t1 = reshape(permute(∂L/∂Q, …)): one name throughout, never a tensor's or a dim's
    temporaries: dict[str, mx.M] = {n: mx.Ref(n, RefKind.TENSOR, ()) for n in _taken(graph)}
    # the names a temporary must not take: the tensors', the dims' (held above, never
    # removed) and the temporaries' so far, a live view (not a set of them all per node)
    taken = temporaries.keys()
    made = []
    for name in shown:
        a = idx.adjoints[name]
        t = graph[name]
        # what a line that writes a trace contributes reads its traces as traces (∂L/∂X of
        # trace(A @ X) ** 2 is 2 tr(A X)·Aᵀ, not 2 sum(A ⊙ Xᵀ)·Aᵀ), one that writes a
        # log-softmax its log-softmax: as the forward forms read them
        with written_reading(_written_by(graph, [c for c, _ in a.terms])):
            closed_form = form(a.closed, a.idx, t.shape) if a.closed is not None else None
            terms = tuple((consumer, form(c, a.idx, t.shape)) for consumer, c in a.terms)
            shown_form = _sum_form(a, terms, named, symmetric) if len(terms) > 1 \
                else form(a.expr, a.idx, t.shape)
            if shown_form.matrix is None and len(terms) > 1 and \
                    all(f.matrix is not None for _, f in terms):
                # contributions read each its own way (one per element of (b, t), one whole:
                # softmax(X, axis=0) ⊙ ∂L/∂l0) that add in no one form: the sum read as one
                whole = form(a.expr, a.idx, t.shape)
                if whole.matrix is not None:
                    shown_form = whole
        shown_form = _temporaries_named(shown_form, temporaries)
        made.append((name, t, shown_form, closed_form, terms,
                     _inline_named(shown_form, taken, temporaries)))
    # the closed forms after every chain form: the temporaries they name (t3_h = A_hᵀ t1_h)
    # take the names after the chain forms' own, which read as without --expand
    for name, t, shown_form, closed_form, terms, read in made:
        omitted = None
        if closed:  # (built on the chain form as read, its inline parts written out)
            built = _matrix_closed(name, shown_form, closed_form, matrix_closed,
                                   lambda m, w: _closed_simplified(m, w, graph, named,
                                                                   symmetric),
                                   taken, temporaries, (printed, stood, printed_all))
            closed_form, omitted = (None, built) if isinstance(built, Refused) else (built, None)
            if closed_form is not None and closed_form.matrix is not None and \
                    all(is_temporary(w) for w in closed_form.wheres):
                printed_all[name] = closed_form.matrix
                if not any(isinstance(w.lhs, mx.Ref) and w.lhs.name in stood
                           for w in closed_form.wheres):
                    # as it printed, its parts named (not one reading a form named so
                    # itself)
                    printed[name] = closed_form.matrix
        # every block's where-clauses as a reader reads them (each after those it reads)
        adjoints.append(Adjoint(t, _in_order(_reused(read, {}, False)),
                                _in_order(_reused(closed_form, temporaries)),
                                tuple((c, _in_order(f)) for c, f in terms),
                                tuple(edges_of.get(name, ())), omitted))
    by_name = {x.name: x for x in adjoints}
    gradients: list[Gradient] = []
    for name in graph.wrt:
        x = by_name.get(name)
        gradients.append(Gradient(graph[name], x.form if x else None, x.closed if x else None))
    notes = tuple(_batch_note(forward, adjoints, graph) + _notes(graph, adjoints))
    anon_forms = {name: (*idx.definitions[name], m) for name, m in anon.items()}
    return Derivation(graph.spec, graph, idx, forward, tuple(adjoints), tuple(gradients), notes,
                      anon, anon_forms)


def _matrix_closed(name: str, shown: Form, closed: Form | None, done: dict[str, mx.M],
                   simplified: Any, taken: AbstractSet[str], temporaries: dict[str, mx.M],
                   printed: tuple[Mapping[str, mx.M], set[str], Mapping[str, mx.M]]
                   ) -> Form | Refused | None:
    """The closed form of ∂L/∂``name``: the index form's where it was built (its derivative
    helpers written in the forward nodes, as the literature writes a gate's σ'); else, when the
    index form's was too large, the matrix level's (:mod:`einderive.closed`), its repeated
    parts named.  An index form's closed form that only an einsum reads (a multi-head
    attention's ∂L/∂A_h, its heads' products broadcast in one einsum) gives way to the matrix
    level's when that one has a matrix form (t1_h V_hᵀ, where t1 = reshape(G Woᵀ, [T, H,
    Dh])).  ``done`` collects every closed matrix form written out, for the adjoints
    further from the loss; refused, with why, when there is none to print (None: the chain
    form is closed already).

    The index form's closed form is read apart, its temporaries numbered from t1 (t1 =
    conv1d(Z, W, g)); they take the derivation's names first (``temporaries``), or that t1,
    substituted into a form further from the loss, would be defined there by the
    derivation's t1 (another conv1d's)."""
    if closed is not None:
        # named apart first: a name it takes is the derivation's only once it is printed
        trial, start = dict(temporaries), len(temporaries)  # (its new names: after start)
        closed = _temporaries_named(closed, trial)
        if closed.matrix is not None and closed.wheres:  # σ'(u) as y ⊙ (1 − y), as below
            m = simplified(in_node_names(closed.matrix, closed.wheres), closed.wheres)
            closed = replace(closed, matrix=m, wheres=used_wheres(m, closed.wheres),
                             positions=positions(m))
        if closed.matrix is None:
            return _keeping(closed, trial, start, temporaries)
        if closed.einsum or any(isinstance(n, mx.Einsum) for n in mx.walk(closed.matrix)) \
                or _other_element(closed.matrix, shown.matrix) or \
                _split_anew(closed, shown):
            level = _matrix_level(name, shown, done, simplified, taken, temporaries,
                                  printed)
            if isinstance(level, Form):  # the index form's closed form is this one's
                return replace(level, index=closed.index, idx=closed.idx)
            if closed.einsum or any(isinstance(n, mx.Einsum) for n in mx.walk(closed.matrix)):
                done[name] = closed.matrix
                return _keeping(closed, trial, start, temporaries)
        done[name] = closed.matrix
        closed = _keeping(closed, trial, start, temporaries)
        # an upstream adjoint's closed form in it transposed whole: printed as its own line
        # prints it (the forms after it substitute this one as read: done[name])
        wheres = closed.wheres
        m = upstream_as_printed(done[name], {k: v for k, v in done.items() if k != name},
                                lambda x: simplified(x, wheres))
        if m is not done[name]:
            closed = replace(closed, matrix=m, positions=positions(m))
        # no named part takes one of the temporaries' names
        parts = named_parts(m, taken)  # attention's t1
        if parts is None or not parts[1]:
            return closed
        m, named = throughout(*parts, temporaries)  # one name, one meaning, every block
        # and the clauses of the earlier names an earlier definition taken reads
        named += defined_temporaries((m, *(w.rhs for w in named)), temporaries,
                                     closed.wheres + named)
        return replace(closed, matrix=m, wheres=_defined_once(closed.wheres + named),
                       positions=positions(m))
    return _matrix_level(name, shown, done, simplified, taken, temporaries, printed)


def _written_by(graph: Graph, consumers: Sequence[str]) -> frozenset[str]:
    """Which of :data:`~einderive.ops.AS_WRITTEN` the lines of ``consumers`` write, as their
    contributions to an adjoint read them: a trace only of a line that writes no sum besides
    (its sum(B ⊙ X) would read tr(B Xᵀ) too, which the line does not write)."""
    out: set[str] = set()
    for c in consumers:
        written = graph.written(graph[c], AS_WRITTEN)
        if TRACE_OP in written and graph.writes(graph[c], SUM):
            written -= {TRACE_OP}
        out |= written
    return frozenset(out)


def _inline_named(shown: Form, taken: AbstractSet[str], temporaries: dict[str, mx.M]) -> Form:
    """``shown`` (a chain form) with the forward intermediates it writes out more than once
    named (:func:`einderive.closed.inline_parts`), by the derivation's names: its closed
    form names them alike (set_transformer_pma's ∂L/∂X, t1 = softmax((1/√D) Sd Wkᵀ Xᵀ))."""
    if shown.matrix is None or shown.einsum:
        return shown
    parts = inline_parts(shown.matrix, taken)
    if parts is None:
        return shown
    m, named = throughout(*parts, temporaries)  # one name, one meaning, every block
    # (its index form's factors in the order the form written out gives them)
    return replace(shown, matrix=m, wheres=_defined_once(shown.wheres + named))


def _split_anew(closed: Form, shown: Form) -> bool:
    """Whether the index form's closed form reads a tensor of the forward pass split anew
    by a temporary, per element, where the chain form it continues reads an adjoint
    (multi-head attention's ∂L/∂A_h = ∂L/∂O_h V_hᵀ, its index form's closed form G t1_hᵀ
    V_hᵀ, where t1 = reshape(Wo, [H, Dh, D])): the matrix level's, through the upstream
    adjoint's own closed form (t1_h V_hᵀ, where t1 = reshape(G Woᵀ, [T, H, Dh])), says the
    chain form's line; tried first."""
    if not isinstance(closed.matrix, mx.Each) or not isinstance(shown.matrix, mx.Each):
        return False
    split = [w for w in closed.wheres if is_temporary(w) and isinstance(w.rhs, mx.Reshape)
             and isinstance(w.rhs.x, mx.Ref) and w.rhs.x.kind == RefKind.TENSOR]
    if not split:
        return False
    if any(r.kind == RefKind.ADJOINT and r.batch for r in mx.leaves(shown.matrix)):
        return True
    # or an adjoint read per element through the chain form's own temporary (with O inline,
    # ∂L/∂A_h = t1_h V_hᵀ, where t1 = reshape(∂L/∂Om, [T, H, Dh]))
    read = {r.name for r in mx.leaves(shown.matrix) if r.batch}
    return any(isinstance(w.lhs, mx.Ref) and w.lhs.name in read and isinstance(w.rhs, mx.Reshape)
               and any(r.kind == RefKind.ADJOINT for r in mx.leaves(w.rhs))
               for w in shown.wheres)


def _other_element(closed: mx.M, shown: mx.M | None) -> bool:
    """Whether the index form's closed form is written per element of another batch than
    the chain form it continues (∂L/∂a_b = X_b ∂L/∂p_b, its closed form read for each t,
    rowsum(X_t ⊙ …)): printed under the chain form's left side ∂L/∂a_b, its subscript t
    would say nothing; the matrix level's (X_b t1_b) is read per element of the same batch."""
    return isinstance(closed, mx.Each) and isinstance(shown, mx.Each) and \
        (closed.dims, closed.names, closed.at) != (shown.dims, shown.names, shown.at)


def _keeping(f: Form, trial: dict[str, mx.M], start: int,
             temporaries: dict[str, mx.M]) -> Form:
    """``f``, named against ``trial`` (a copy of ``temporaries`` when it held ``start``
    names; a name is never removed, so the names it added come after them), its printed
    temporaries now the derivation's: a temporary its simplification dropped, or of a closed
    form given up, leaves its name free (no t2 printed where no t1 is)."""
    read = {n.name for m in (f.matrix, *(x for w in f.wheres for x in (w.lhs, w.rhs)))
            if m is not None for n in mx.walk(m) if isinstance(n, mx.Ref)}
    temporaries.update({k: v for k, v in islice(trial.items(), start, None)
                        if k not in temporaries and k in read})
    return f


def _matrix_level(name: str, shown: Form, done: dict[str, mx.M], simplified: Any,
                  taken: AbstractSet[str], temporaries: dict[str, mx.M],
                  printed: tuple[Mapping[str, mx.M], set[str], Mapping[str, mx.M]]
                  ) -> Form | Refused | None:
    """The closed form of ∂L/∂``name`` at the matrix level: the upstream adjoints' closed
    forms put in its chain form (:func:`einderive.closed.substituted`), simplified, its
    repeated parts named."""
    if shown.matrix is None:
        return Refused(Omission.NO_MATRIX)
    if shown.einsum:  # an einsum's closed form is no easier to read
        return Refused(Omission.EINSUM)
    through = _through_temporaries(shown.matrix, shown.wheres, done, temporaries)
    if isinstance(through, Refused):
        # t1 = reshape(permute(∂L/∂Q, …)): an upstream adjoint read through a temporary, which
        # substitution does not see; taken for closed, ∂L/∂N1 = t1 Wqᵀ + … carried its t1 into
        # the forms after it (∂L/∂g1's), defined nowhere there: never recorded as done
        return through
    full = substituted(through, done, temporaries, printed[0], printed[1])
    if not isinstance(full, Refused) and full == shown.matrix:
        # no upstream adjoint in it: its chain form is closed already
        done[name] = full
        return None
    if isinstance(full, Refused):
        if full.why != Omission.TOO_LARGE:
            return full
        parts = None
    else:
        full = simplified(in_node_names(full, shown.wheres), shown.wheres)
        done[name] = full
        if any(isinstance(n, mx.Einsum) for n in mx.walk(full)):
            return Refused(Omission.EINSUM)
        parts = named_parts(full, taken)
    if parts is None:
        # too large written out, or named: each upstream closed form it reads stands as a
        # temporary defined as that form printed, when that fits the page (recorded as
        # done so, its temporaries standing, when written out it was past the limit)
        parts = _apart(shown, through, done, simplified, temporaries, printed)
        if parts is None:
            return Refused(Omission.TOO_LARGE)
        done.setdefault(name, parts[0])
    m, wheres = throughout(*parts, temporaries)  # one name, one meaning, every block
    # no index form: written out it is the one too large to build (reverse.EXPAND_LIMIT),
    # and the chain form's index form is not this formula's; its temporaries (t1 =
    # conv1d(X, W, b), read t1_i) stay defined, and so do those the upstream closed forms
    # were named by (t1 = reshape(G Woᵀ, [T, H, Dh]), read t1_h)
    kept = tuple(w for w in used_wheres(m, shown.wheres) if is_temporary(w))
    # read in the form or in a named part (t5 = rowsum(YB_b ⊙ 𝟙[t1_b > 0]))
    kept += defined_temporaries((m, *(w.rhs for w in wheres)), temporaries, kept + wheres)
    return Form(None, shown.idx, m, _defined_once(kept + wheres), positions(m), shown.einsum)


def _apart(shown: Form, through: mx.M, done: dict[str, mx.M], simplified: Any,
           temporaries: dict[str, mx.M],
           printed: tuple[Mapping[str, mx.M], set[str], Mapping[str, mx.M]]
           ) -> tuple[mx.M, tuple[Where, ...]] | None:
    """The closed form of a chain form ``through`` whose upstream closed forms, written
    out, make it too large to print: each of them read whole stands as a temporary
    defined as it printed (:func:`einderive.closed.substituted` with ``apart``), its
    repeated parts named; None when even that is too large.
    The temporaries and their names are the derivation's only once it fits."""
    trial, stood = dict(temporaries), set(printed[1])
    m = substituted(through, done, trial, printed[2], stood, apart=True)
    if isinstance(m, Refused):
        return None
    m = simplified(in_node_names(m, shown.wheres), shown.wheres)
    if any(isinstance(n, mx.Einsum) for n in mx.walk(m)):
        return None
    parts = named_parts(m, trial.keys())  # (⊇ taken: the trial adds to the temporaries)
    if parts is None or _stood_read(parts, trial, stood) > STOOD_LIMIT:
        return None  # (a deep chain's forms would read every form above them: n² clauses)
    temporaries.update(trial)
    printed[1].update(stood)
    return parts


def _stood_read(parts: tuple[mx.M, tuple[Where, ...]], trial: Mapping[str, mx.M],
                stood: set[str]) -> int:
    """How many temporaries standing for upstream closed forms ``parts`` reads, with those
    their definitions read in turn (each is printed under the form)."""
    m, wheres = parts
    seen: set[str] = set()
    todo = [m, *(w.rhs for w in wheres)]
    while todo:
        for r in mx.leaves(todo.pop()):
            if r.kind == RefKind.TENSOR and r.name in stood and r.name not in seen:
                seen.add(r.name)
                if r.name in trial:
                    todo.append(trial[r.name])
    return len(seen)


def _in_order(f: _MaybeForm) -> _MaybeForm:
    """``f`` with its where-clauses in the order :func:`einderive.closed.in_order` gives."""
    if f is None or len(f.wheres) < 2:
        return f
    wheres = in_order(f.wheres)
    return f if wheres == f.wheres else replace(f, wheres=wheres)


def _reused(f: _MaybeForm, others: Mapping[str, mx.M], form: bool = True) -> _MaybeForm:
    """``f`` with each where-clause's definition met whole in another clause, or (``form``)
    in the form, read by its name (:func:`einderive.closed.names_reused`)."""
    if f is None or f.matrix is None or not f.wheres:
        return f
    m, wheres = names_reused(f.matrix, f.wheres, others)
    m = m if form else f.matrix
    if m == f.matrix and wheres == f.wheres:
        return f
    if m == f.matrix:  # only the clauses changed: the form's terms keep their places (the
        # index form prints them in that order; positions of the form alone lost the order
        # its SymPy terms came in: find_B's ∂L/∂b_i printed its terms in another order)
        return replace(f, wheres=wheres)
    return replace(f, matrix=m, wheres=wheres, positions=positions(m))


def _defined_once(wheres: tuple[Where, ...]) -> tuple[Where, ...]:
    """``wheres`` with one clause per temporary's name, the first (a named part that took a
    temporary's name, t1 = reshape(G Woᵀ, [T, H, Dh]), beside that temporary's clause)."""
    seen: set[str] = set()
    out = []
    for w in wheres:
        if isinstance(w.lhs, mx.Ref):
            if w.lhs.name in seen:
                continue
            seen.add(w.lhs.name)
        out.append(w)
    return tuple(out)


def _through_temporaries(m: mx.M, wheres: tuple[Where, ...], done: dict[str, mx.M],
                         temporaries: dict[str, mx.M]) -> mx.M | Refused:
    """``m`` with each temporary that reads an upstream adjoint (t1 = reshape(permute(∂L/∂Q,
    …))) read as a new one, that adjoint's closed form in its place (t5 = reshape(permute(
    (1/√Dh) (P ⊙ …) K, …))); refused as :func:`_inside_temporary` says when one of them has
    none."""
    table: dict[mx.M, mx.M] = {}
    used = set(mx.walk(m))
    for w in wheres:
        if not (is_temporary(w) and w.lhs in used) or _inside_temporary(w.lhs, (w,)) is None:
            continue
        rhs = substituted(w.rhs, done, temporaries)
        if isinstance(rhs, Refused) or any(isinstance(n, mx.Einsum) for n in mx.walk(rhs)):
            inside = _inside_temporary(m, (w,))
            assert inside is not None
            return inside
        assert isinstance(w.lhs, mx.Ref)
        name = named_temporary(rhs, temporaries)
        table.update({r: replace(r, name=name) for r in mx.leaves(m) if r.name == w.lhs.name})
    return mx.substitute_all(m, table) if table else m


def _inside_temporary(m: mx.M, wheres: tuple[Where, ...]) -> Refused | None:
    """Refused when ``m`` reads an upstream adjoint inside a temporary it names (∂L/∂X =
    t1 Wqᵀ, where t1 = reshape(permute(∂L/∂Q, …))): its chain form is no closed form, and
    none is written through the temporary."""
    used = set(mx.walk(m))
    for w in wheres:
        if is_temporary(w) and w.lhs in used:
            for r in mx.walk(w.rhs):
                if isinstance(r, mx.Ref) and r.kind == RefKind.ADJOINT:
                    assert isinstance(w.lhs, mx.Ref)
                    return Refused(Omission.TEMPORARY, r.name, w.lhs.name)
    return None


def _closed_simplified(m: mx.M, wheres: tuple[Where, ...], graph: Graph, named: Named,
                       symmetric: frozenset[str]) -> mx.M:
    """A closed form written out, simplified and read in the forward nodes as every form."""
    sym = symmetric_inputs(graph.spec) | symmetric

    def simplified(x: mx.M) -> mx.M:
        return simplify(x, wheres, sym, named)
    return reuse(through_quotients(simplified(m), named, simplified), named)


def _taken(graph: Graph) -> set[str]:
    """The names a ``where`` temporary must not take: the graph's tensors and dims."""
    return {t.name for t in graph.tensors} | {d.name for d in graph.spec.dims}


def _named(forward: tuple[tuple[Tensor, Form], ...],
           symmetric: frozenset[str] = frozenset()) -> Named:
    """The backward pass reads every forward node: each may stand for its form in an
    adjoint (or a tangent), the form as the adjoints are simplified (Sᵀ is S of the
    ``symmetric`` inputs and nodes)."""
    def read(m: mx.M | None) -> mx.M | None:
        return simplify(m, (), symmetric) if m is not None and symmetric and \
            any(r.name in symmetric for r in mx.leaves(m)) else m
    return reusable([(node_ref(t.name, t.shape, f.matrix), read(f.matrix))
                     for t, f in forward], read if symmetric else None)


def with_second(d: Derivation, along: tuple[str, ...], hvp: bool,
                hessian: bool = False, gauss_newton: bool = False) -> Derivation:
    """``d`` with its tangents along tangents of the inputs ``along`` (forward mode) and,
    with ``hvp``, the Hessian-vector product's blocks for those inputs (forward over
    reverse), each in index and matrix form; with ``hessian`` too, every block ∂²L/∂x∂y
    of the Hessian in those inputs, read off the product (:mod:`einderive.hessian`); with
    ``gauss_newton``, the split of the product (and of the Hessian) into its Gauss-Newton
    part and the rest (a :class:`SpecError` where the loss is no convex ℓ(f(θ)))."""
    from .second import derive_second
    split = None
    if gauss_newton:
        from .convex import split as find_split
        split = find_split(d.graph)
    with collector_paced():
        s = derive_second(d.index, along, hvp)
        ctx, graph = d.index.ctx, d.graph
        inputs = symmetric_inputs(graph.spec)
        oriented, nodes = _readings(d.forward, d.anon, inputs)
        symmetric = inputs | nodes
        named = _named(d.forward, symmetric)

        def form(expr: Any, idx: tuple[Any, ...], t: Tensor, tangent: bool = False) -> Form:
            with written_reading(frozenset({TRACE_OP}) if tangent and not t.shape and
                                 graph.writes(t, TRACE_OP) else frozenset()):
                r = recognize(ctx, d.index.namer, d.anon, expr, idx, t.shape, oriented)
                return _form(r, expr, idx, named, symmetric)

        def rop(n: str) -> Form:
            expr, idx = s.rops[n]
            if n not in s.rop_terms:
                return form(expr, idx, graph[n])
            return _sum_form(d.index.adjoints[n], tuple(
                (c, form(x, idx, graph[n])) for c, x in s.rop_terms[n]), named, symmetric)
        tangents = tuple((graph[n], form(*s.tangents[n], graph[n], True)) for n in s.order
                         if graph[n].kind == "node")
        rops = tuple((graph[n], rop(n)) for n in s.rop_order if graph[n].kind == "node")
        made = {n: rop(n) for n in s.rop_order if n in along}
        blocks = tuple((graph[x], made.get(x)) for x in along) if hvp else ()
        hessians = tuple(_hessian(d, s, x, y) for x in along for y in along) \
            if hessian else ()
        gn = _gauss_newton(d, along, hessian, split, form) if split is not None else None
    return replace(d, second=Second(tuple(along), tangents, rops, blocks, hessians, gn,
                                    s.steps))


def _gauss_newton(d: Derivation, along: tuple[str, ...], hessian: bool, split: Split,
                  form: Callable[[Any, tuple[Any, ...], Tensor], Form]) -> GaussNewton:
    """Both parts of the split, each derived as the product is (its own ℛ{·} chain,
    :func:`~einderive.second.derive_second`), block by block."""
    from .hessian import written_back
    from .second import GAUSS_NEWTON, REST, derive_second
    side = frozenset((split.output,) + split.loss_part)
    parts = []
    for which in (GAUSS_NEWTON, REST):
        s = derive_second(d.index, along, True, (which, side))
        blocks = tuple((d.graph[x], form(written_back(d.index, s, x), s.rops[x][1], d.graph[x])
                        if x in s.rops else None) for x in along)
        blocks_h = tuple(_hessian(d, s, x, y) for x in along for y in along) \
            if hessian else ()
        parts.append((blocks, blocks_h))
    (g, gh), (r, rh) = parts
    return GaussNewton(split.output, split.loss_part, g, r, gh, rh)


# the largest form (by cost) of a Hessian block of an input with itself whose index form is
# multiplied out to show its symmetry (_hessian)
SYMMETRIC_TRY = 80


def _hessian(d: Derivation, s: Any, x: str, y: str) -> Hessian:
    """The block ∂²L/∂x∂y: its index form, and the matrix form of a block of at most two
    indices (its broadcast products read as diagonal matrices) or the Kronecker form of
    a block of two matrices."""
    from .hessian import adjoints_written_out, derive_hessian, diagonal, kronecker_terms
    from .reverse import _tidy as tidy
    from sympy import expand as sympy_expand, fraction, together
    from .simplify import cost, shows_symmetric
    graph, ctx = d.graph, d.index.ctx
    expr, idx = derive_hessian(d.index, s, x, y)
    tx, ty = graph[x], graph[y]
    if expr == 0:
        return Hessian(tx, ty, None)
    if len(idx) > 2:
        kron = kronecker_terms(expr, idx) if len(tx.shape) == len(ty.shape) == 2 else None
        pairs: tuple[tuple[Form, Form], ...] = ()
        if kron is not None:
            i, j, k, l = idx
            made = [(_block(d, a, (j, l), (tx.shape[1], ty.shape[1])),
                     _block(d, b, (i, k), (tx.shape[0], ty.shape[0]))) for b, a in kron]
            if all(f.matrix is not None and len(f.matrix.shape) == 2 and 1 not in f.matrix.shape
                   for pair in made for f in pair):
                pairs = tuple(made)
        return Hessian(tx, ty, Form(expr, idx, None), pairs)
    shape = tuple(tx.shape) + tuple(ty.shape)
    inputs = symmetric_inputs(graph.spec)
    oriented, nodes = _readings(d.forward, d.anon, inputs)
    symmetric = inputs | nodes

    def block(e: Any) -> Form:
        r = recognize(ctx, d.index.namer, d.anon, e, idx, shape, oriented)
        if r.matrix is not None:
            r = Recognition(diagonal(r.matrix), r.wheres, r.einsum)
        return _diagonal(_form(r, e, idx, _named(d.forward, symmetric), symmetric))
    f = block(expr)
    # the block with its adjoints written out, where the simplifier makes that cheaper
    # (BCE on p: ∂L/∂p ⊙ σ'(X w) cancels to (1/B) (p − y), as in the gradient's closed form)
    out = adjoints_written_out(d.index, expr)
    if out is not None and f.matrix is not None:
        g = block(tidy(out, d.index.namer, ctx, idx))
        if g.matrix is not None and cost(g.matrix) < cost(f.matrix):
            f = g
    # a block of an input with itself is symmetric: where its form does not show it (cosine
    # similarity's −a bᵀ − (b − c a) aᵀ, the gradient's difference kept whole), the index
    # form's numerator multiplied out reads as a symmetric sum (−(a bᵀ + b aᵀ)), taken where
    # it is no larger (multiplied out, 2 D (W2ᵀ W2 D − diag(g ⊙ h)) of a tanh layer's D grows);
    # tried on a small form only (a deep chain's block multiplied out is read for minutes)
    if x == y and f.matrix is not None and cost(f.matrix) <= SYMMETRIC_TRY and \
            not shows_symmetric(f.matrix, symmetric):
        num, den = fraction(together(expr))
        g = block(tidy(sympy_expand(num) / den, d.index.namer, ctx, idx))
        if g.matrix is not None and cost(g.matrix) <= cost(f.matrix) and \
                shows_symmetric(g.matrix, symmetric):
            f = g
    return Hessian(tx, ty, f)


def _diagonal(f: Form) -> Form:
    """``f`` with its broadcast products read as diagonal matrices once simplified (the
    simplifier moves transposes, which can make new ones)."""
    from .hessian import diagonal, numbers_spread
    if f.matrix is None:
        return f
    m = numbers_spread(diagonal(f.matrix))
    return replace(f, matrix=m, positions=positions(m))


def _block(d: Derivation, expr: Any, idx: tuple[Any, ...], shape: tuple[Any, ...]) -> Form:
    """One factor of a Kronecker term, a matrix in two of the block's indices."""
    from .hessian import diagonal
    ctx = d.index.ctx
    r = recognize(ctx, d.index.namer, d.anon, expr, idx, shape)
    if r.matrix is not None:
        r = Recognition(diagonal(r.matrix), r.wheres, r.einsum)
    symmetric = symmetric_inputs(d.graph.spec)
    return _diagonal(_form(r, expr, idx, _named(d.forward, symmetric), symmetric))


def _readings(forward: tuple[tuple[Tensor, Form], ...], anon: dict[str, mx.M | None],
              inputs: frozenset[str]) -> tuple[frozenset[Any], frozenset[str]]:
    """How the backward pass reads the forward nodes: a function's argument in an adjoint
    as its line wrote it (σ'(X Wᵀ + bᵀ), not its transpose), whether the line named it or
    composed it; and the nodes equal to their transpose (G = Xᵀ X named on its own line is
    as symmetric as when its line is written out: Gᵀ is G; P = S⁻¹ of a symmetric input S,
    or of a symmetric node before it, is too)."""
    oriented = orientations([f.matrix for _, f in forward if f.matrix is not None] +
                            [m for m in anon.values() if m is not None])
    symmetric: set[str] = set()
    for t, f in forward:
        if f.matrix is not None and (_symmetric(f.matrix) or
                                     is_symmetric(f.matrix, inputs | frozenset(symmetric))):
            symmetric.add(t.name)
    return oriented, frozenset(symmetric)


def _symmetric(m: mx.M) -> bool:
    """Whether the matrix form ``m`` is its own transpose, as written (Xᵀ X, A + Aᵀ)."""
    if len(m.shape) != 2 or m.shape[0] != m.shape[1] or 1 in m.shape:
        return False
    t = mx.transpose(m)
    if isinstance(m, mx.Add) and isinstance(t, mx.Add):
        return set(m.terms) == set(t.terms)
    return t == m


def _form(r: Recognition, expr: Any, idx: tuple[Any, ...], named: Named,
          symmetric: frozenset[str]) -> Form:
    """``r`` simplified (the inputs and forward nodes ``symmetric`` equal their transpose),
    and for an adjoint (``named`` not empty) written in the forward nodes where shorter."""
    held: dict[mx.M, mx.M] = {}
    m = r.matrix
    if m is not None and not named and not idx and m.shape == (1, 1):
        # a forward scalar read as a 1×1 matrix: a product of [1, 1] tensors (whose axes
        # the index form drops) is the sum the line writes, ‖m‖² beside ‖Yh − Y‖², as of
        # [N, N] tensors, not m ⊙ m (a matrix where L is a number); each term summed apart,
        # in the place its SymPy term has (the index form prints the matrix form's order)
        m = mx.add(*[mx.with_src(mx.reduce(ReduceKind.SUM, t), t.src) if _one_by_one(t)
                     else t for t in (m.terms if isinstance(m, mx.Add) else (m,))])
    if m is not None and named:  # (a residual the line writes, read twice, stays whole)
        m, held = held_sums(m, [f for f, _ in named])
    m, wheres = simplify_form(m, r.wheres, symmetric, named)
    if m is not None and held:
        m = mx.substitute_all(m, held)
    if m is not None and named:  # an adjoint: written in the forward nodes where shorter
        def simplified(x: mx.M) -> mx.M:
            return simplify(x, r.wheres, symmetric, named)
        m = reuse(through_quotients(expand(m, named, simplified), named, simplified), named)
        m, wheres = views_merged(m, used_wheres(m, r.wheres))  # (2 t1, not 2 (t2 − t1))
    return Form(expr, idx, m, wheres, positions(m) if m is not None else {}, r.einsum)


def _one_by_one(t: mx.M) -> bool:
    """Whether ``t`` (a number times) is an elementwise product or power of declared [1, 1]
    tensors alone (m ⊙ m, A ⊙ Z), which a sum reads as the line writes it."""
    x = t.x if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const) else t
    return isinstance(x, (mx.Hadamard, mx.Pow)) and all(
        isinstance(n, mx.Ref) and n.shape == (1, 1) and not n.batch
        for n in mx.walk(x) if not isinstance(n, (mx.Hadamard, mx.Pow)))


def _temporaries_named(f: Form, names: dict[str, mx.M]) -> Form:
    """``f`` with its temporaries named as the derivation's earlier forms name them."""
    if not f.wheres:
        return f
    ((m, wheres),) = distinct_temporaries([(f.matrix, f.wheres)], names)
    if m is f.matrix and wheres == f.wheres:
        return f
    return replace(f, matrix=m, wheres=wheres, positions=positions(m) if m is not None else {})


def _sum_form(a: Any, terms: tuple[tuple[str, Form], ...], named: Named,
              symmetric: frozenset[str]) -> Form:
    """A tensor used several times: the sum of its contributions, in the graph's order, its
    matrix form simplified as one (``(1/(B T)) ∂L/∂mu ⊙ 𝟏 + ∂L/∂Xc`` has no use for its 𝟏:
    the other term says the shape; like terms of two consumers collect)."""
    forms = [replace(f, matrix=m, wheres=w) for f, (m, w) in
             zip((f for _, f in terms),
                 distinct_temporaries([(f.matrix, f.wheres) for _, f in terms]))]
    # the contributions in the graph's order, unless terms of two of them cancel or collect
    # (∂L/∂x_ij = 2 g_ij − 2 g_ij is 0): then their sum as SymPy adds it
    parts = [f.index for f in forms]
    index = SAdd(*parts)
    if len(SAdd.make_args(index)) == sum(len(SAdd.make_args(p)) for p in parts):
        index = SAdd(*parts, evaluate=False)
    matrix: mx.M | None = None
    ms = tuple(f.matrix for f in forms if f.matrix is not None)
    if len(ms) == len(forms):
        # a contribution can be zero (the mean's, in a sum of squares centred by it)
        kept = tuple(m for m in ms if not mx.is_zero(m)) or ms[:1]
        matrix = _add_forms(kept)
        if matrix is not None and not _one_reading(kept):
            matrix = None  # no one form holds them: the index form is the sum's
    wheres = tuple(dict.fromkeys(w for f in forms for w in f.wheres))
    if matrix is not None:
        matrix, wheres = simplify_form(matrix, wheres, symmetric, named)
    return Form(index, a.idx, matrix, wheres, positions(matrix) if matrix is not None else {},
                any(f.einsum for f in forms))


def _add_forms(ms: tuple[mx.M, ...]) -> mx.M | None:
    """The sum of contributions' forms.  Forms read element by element (``mx.Each``) add
    inside one ``Each`` when they are elements of the same batch (``∂L/∂X_b = (1/T) ∂L/∂z_b
    𝟏ᵀ + ∂L/∂Y_b ⊙ s_b``), and so does a whole contribution that is such an element written
    whole (``∂L/∂h_b = U colsum(∂L/∂E1_b) + c_b``: :func:`elements.element_of`); else their
    subscripts would stand free in a whole line (``2 ∂L/∂s ⊙ X_ad + einsum(…)``): no form."""
    if len(ms) == 1:
        return ms[0]
    each = [m for m in ms if isinstance(m, mx.Each)]
    if not each:
        return mx.Add(ms, mx.broadcast_shape([m.shape for m in ms]))
    first = each[0]
    body = [element_of(m, first) for m in ms]
    if any(x is None for x in body):
        return None
    terms = tuple(x for x in body if x is not None)
    return mx.Each(mx.Add(terms, mx.broadcast_shape([x.shape for x in terms])), first.dims,
                   first.names, first.at, first.spec, first.shape, first.src)


def _one_reading(ms: tuple[mx.M, ...]) -> bool:
    """Whether forms add as their code's arrays broadcast: each form's axes are its batch's,
    then its own, and aligned from the right two axes must agree or one be 1.  A contribution
    read per batch element (``(2/Cg) ∂L/∂var_b ⊙ rowsum(Ẋr_b)``: B, then G×1) beside one
    read whole without the literal 1 (an einsum, B×G) is no sum: its code made B×G×G."""
    full = [mx.batch_of(m) + tuple(m.shape) for m in ms]
    if len(set(full)) == 1:
        return True
    width = max(len(f) for f in full)
    broadcast: list[object] = []
    for axis in range(1, width + 1):
        sizes = {f[-axis] for f in full if len(f) >= axis} - {1}
        if len(sizes) > 1:
            return False
        broadcast.extend(sizes)
    # and broadcasting makes no axis of its own: a column K×1 beside a batch of 1×1
    # elements (K, then 1×1: w of [K, 1, 1] read per element) made K×K×1
    return len(broadcast) == max(sum(1 for d in f if d != 1) for f in full)


class Note(Record):
    """Something the reader should know about one adjoint; renderers word it.

    ``kind`` is 'target-sums-to-one' (``subject`` is the target of a softmax
    cross-entropy, ``reduce`` the sum over its softmax axis: 'rowsum', 'colsum'
    or 'sum'; ``form`` is the adjoint when that sum is one), 'einsum' (no matrix
    form for part of it), 'no-matrix-form' (none at all: only the index form
    is printed) or 'batched' (forms read per batch element, ``matrix.batch_of``;
    ``tensor`` is a tensor so read, ``form`` the first sum over a batch, if any, and
    ``leaf`` the element of it the note names, ``leaf_vector`` whether that element is a
    vector; ``element`` the first form written element by element, if any, and
    ``element_leaf`` the element of it the note names; ``part`` a form written element by
    element holding ``part_leaf``, a tensor at only some of the batch letters, V_bg in the
    element b, g, r, which the note says is the same along r)."""

    kind: NoteKind
    tensor: str
    subject: str = ""
    form: mx.M | None = None
    reduce: str = ""
    element: mx.M | None = None
    leaf: mx.Ref | None = None
    element_leaf: mx.Ref | None = None
    leaf_vector: bool = False  # each ``leaf`` is a vector: A_n of A: [N, M] is A[n, :]
    part: mx.M | None = None
    part_leaf: mx.Ref | None = None
    # other tensors of those forms read at axes not leading, each with its form (Y_a of
    # Y: [C, B, A] is Y[:, :, a]), said beside the form's named element
    also: tuple[tuple[mx.M, mx.Ref], ...] = ()
    # an einsum note's true higher-order contraction (:func:`_contraction`): 'outer' (an
    # outer product of vectors into ``axes`` axes), 'double' (a tensor of ``axes`` axes
    # summed over two or more of them against one matrix), 'vectors' (a tensor of ``axes``
    # axes summed against a vector on each of two or more of them), else ''
    contraction: str = ""
    axes: int = 0
    # the other forms written element by element, by other letters than ``element``'s, each
    # with the element of it the note names (∂L/∂P_b = H_b ∂L/∂O_b after O_f = …: H_b is
    # H[:, b, :], which no letter convention says)
    elements: tuple[tuple[mx.M, mx.Ref], ...] = ()
    # whether a tensor of three or more axes is read per batch element (else the rows of a
    # matrix are, S_t of S: [T, T], and the note says nothing of batches of matrices)
    wide: bool = True


def _contraction(m: mx.M | None) -> tuple[str, int]:
    """Why every einsum of ``m`` is a true higher-order contraction, when one reason holds
    for all (see :class:`Note`): ``(kind, axes)``, else ``('', 0)``."""
    found = set()
    for n in mx.walk(m) if m is not None else ():
        if not isinstance(n, mx.Einsum):
            continue
        lhs, out = n.subscripts.split("->")
        terms = lhs.split(",")
        if len(terms) >= 3 and len(out) >= 3 and all(len(t) <= 1 for t in terms):
            found.add(("outer", len(out)))
            continue
        kind = ""
        for k, t in enumerate(terms):
            summed = [c for c in t if c not in out]
            others = [u for j, u in enumerate(terms) if j != k]
            if len(t) < 3 or len(summed) < 2 or len(set(t)) != len(t):
                continue
            holders = [[j for j, u in enumerate(others) if c in u] for c in summed]
            if len(others) == 1 and len(others[0]) == 2 and set(others[0]) == set(summed):
                kind = "double"  # ('ijkl,jl->ik': two axes summed against one matrix)
            elif all(len(h) == 1 and len(others[h[0]]) == 1 for h in holders) and \
                    len({h[0] for h in holders}) == len(holders) and \
                    len(others) == len(holders):
                kind = "vectors"  # ('ijk,i,k->j': a vector on each summed axis)
            if kind:
                found.add((kind, len(t)))
                break
        if not kind:
            return "", 0
    return next(iter(found)) if len(found) == 1 else ("", 0)


def _batch_note(forward: Any, adjoints: list[Adjoint], graph: Graph) -> list[Note]:
    """The batched forms' convention, said once, before the other notes (``tensor`` is the
    first of the spec's tensors read per batch element, a matrix of each element where
    there is one; else the spec's first tensor of three or more axes)."""
    forms = [f for _, f in forward] + [f for a in adjoints for f in (a.form, a.closed) if f]
    refs = [r for f in forms if f.matrix is not None for r in mx.leaves(f.matrix) if r.batch]
    users = frozenset(t.name for t in graph.tensors if t.kind != "anon")
    # a tensor the spec names, not an intermediate printed as its form (einsum(…)ᵀ swaps …)
    # nor a where-clause's temporary (t1ᵀ swaps the last two axes of t1)
    wide = next((mx.Ref(t.name, RefKind.TENSOR, ()) for t in graph.tensors
                 if t.name in users and len(t.shape) >= 3), None)
    ref = next((r for r in refs if r.shape and 1 not in r.shape and r.kind == RefKind.TENSOR
                and r.name in users),
               wide if refs and wide is not None else
               next((r for r in refs if 1 not in r.shape), refs[0] if refs else None))
    # a sum over the batch (Σ_b X_bᵀ ∂L/∂Y_b) subscripts each element: the note says how
    # (a sum inside each element, Σ_r A_bgrᵀ ∂L/∂O_bgr, is said by the element's note)
    sums = [n for f in forms if f.matrix is not None for n in mx.walk(f.matrix)
            if isinstance(n, mx.BatchSum) and not mx.outer_batch(n)]
    sums.sort(key=lambda s: set(s.dims) == {1})  # a batch of one's sum only when alone
    named = (s for s in sums if any(r.batch and r.kind == RefKind.TENSOR and r.name in users
                                    for r in mx.leaves(s)))
    adjoint = (s for s in sums if any(r.batch and r.kind == RefKind.ADJOINT
                                      for r in mx.leaves(s)))
    # X_b reads more plainly than ∂L/∂Y_b, and ∂L/∂Y_b than a temporary's t1_b
    shown = next(named, next(adjoint, sums[0] if sums else None))
    # a form written element by element (C_h = Q_h K_hᵀ): the note says what Q_h is
    each = next((f.matrix for f in forms if isinstance(f.matrix, mx.Each) and
                 any(r.at or mx.cols(r) == 1 for r in mx.leaves(f.matrix) if r.batch)),
                next((f.matrix for f in forms if isinstance(f.matrix, mx.Each)), None))
    if ref is None:
        return []
    # the element each sentence names: a tensor the spec names, else an adjoint, before a
    # where-clause's temporary (t1_b); in a form written element by element, what only the
    # subscript says first (an axis not leading, else a vector's element)
    leaf = min((r for r in mx.leaves(shown.x) if r.batch),
               key=lambda r: (not r.shape,  # (a number of each element, nw_b, last)
                              r.kind != RefKind.TENSOR or r.name not in users,
                              r.kind != RefKind.ADJOINT), default=None) \
        if shown is not None else None  # (none: a sum of no batched leaf, Σ_b of a take)
    # (a tensor at only some of the batch letters, V_bg, is said apart: V_bgr is no element)
    tensors = frozenset(t.name for t in graph.tensors)
    element_leaf = _element_leaf(each, tensors, users) if isinstance(each, mx.Each) else None
    # every other form written element by element, by letters of its own, said too
    others: list[tuple[mx.M, mx.Ref]] = []
    seen = {each.names} if isinstance(each, mx.Each) and element_leaf is not None else set()
    for f in forms:
        if isinstance(f.matrix, mx.Each) and f.matrix.names not in seen:
            one = _element_leaf(f.matrix, tensors, users)
            if one is not None:
                seen.add(f.matrix.names)
                others.append((f.matrix, one))
    # in each of those forms, every other tensor read at axes not leading and not the named
    # element's (Y_a of Y: [C, B, A] is Y[:, :, a] beside Z_a, Z[:, a, :]) is said too: read
    # as the note's example, Y_a would be Y[:, a, :] (K_h beside Q_h, both [T, H, Dh], is)
    named_leaves = [(each, element_leaf)] + others if element_leaf is not None else others
    also: list[tuple[mx.M, mx.Ref]] = []
    for form, one in named_leaves:
        assert isinstance(form, mx.Each)
        leading = tuple(range(len(form.dims)))
        said = {(one.at or leading)}
        for r in mx.leaves(form.x):
            if r.batch and not r.missing and r.name in tensors and r.at not in said and \
                    len(r.batch) == len(form.dims) and r.at and r.at != leading:
                said.add(r.at)
                also.append((form, r))
    # an element of a tensor of one axis more than its batch is a vector (a row of a matrix
    # A: [N, M], read as the column A_n), not a matrix
    vector = leaf is not None and any(t.name == leaf.name and len(t.shape) == len(leaf.batch) + 1
                                      for t in graph.tensors)
    part = next(((f.matrix, r) for f in forms if isinstance(f.matrix, mx.Each)
                 for r in mx.leaves(f.matrix.x)
                 if r.missing and len(r.batch) == len(f.matrix.dims)), (None, None))
    shapes = {t.name: len(t.shape) for t in graph.tensors}
    # (a line's own tensor counts: ∂L/∂X_b = 2 t_b·𝐈 of X: [B, N, N] is a matrix per element)
    lines = [(a.name, f) for a in adjoints for f in (a.form, a.closed) if f] + \
        [(t.name, f) for t, f in forward if f]
    wide_read = any(shapes.get(r.name, 3) >= 3 for r in refs) or any(
        shapes.get(name, 0) >= 3 and f.matrix is not None and
        any(r.batch for r in mx.leaves(f.matrix)) for name, f in lines)
    return [Note(NoteKind.BATCHED, ref.name, form=shown, element=each, leaf=leaf,
                 element_leaf=element_leaf, leaf_vector=vector, part=part[0],
                 part_leaf=part[1], elements=tuple(others), also=tuple(also),
                 wide=wide_read)]


def _element_leaf(each: mx.Each, tensors: frozenset[str], users: frozenset[str]
                  ) -> mx.Ref | None:
    """The element of ``each`` (a form written element by element) the batch note names: a
    tensor the spec names, else an adjoint, before a where-clause's temporary (t1_b); what
    only the subscript says first (an axis not leading, else a vector's element)."""
    # (a tensor at only some of the batch letters is said apart: V_bgr is no element)
    return min((r for r in mx.leaves(each.x) if r.batch and not r.missing and
                r.name in tensors and  # (a graph's tensor: no t1_bh)
                len(r.batch) == len(each.dims)),  # (not A_bgr under Σ_r)
               key=lambda r: (not r.at, mx.cols(r) != 1,
                              r.kind != RefKind.TENSOR or r.name not in users),
               default=None)


def _notes(graph: Graph, adjoints: list[Adjoint]) -> list[Note]:
    notes: list[Note] = []
    for a in adjoints:
        if a.form.matrix is None:
            notes.append(Note(NoteKind.NO_MATRIX_FORM, a.name))
        elif a.form.einsum:
            kind, axes = _contraction(a.form.matrix)
            notes.append(Note(NoteKind.EINSUM, a.name, contraction=kind, axes=axes))
    from .roles import softmax_targets
    targets = softmax_targets(graph)
    for t in graph.inputs:  # in the spec's order
        note = _target_note(graph, adjoints, t.name, targets[t.name]) \
            if t.name in targets else None
        if note is not None:
            notes.append(note)
    return notes


def _target_note(graph: Graph, adjoints: list[Adjoint], target: str,
                 pairs: Any) -> Note | None:
    """The adjoint of the logits when the target's sum over the softmax axis is one.

    Said once: at the logits' adjoint, or (when the logits are an intermediate
    not shown) at the adjoint nearest the loss whose form holds that sum."""
    ndim = len(graph[target].shape)
    kinds = {{(1, 0): ReduceKind.SUM, (2, 1): ReduceKind.ROWSUM,
              (2, 0): ReduceKind.COLSUM}.get((ndim, ax))
             for ax, _ in pairs} - {None}
    logits = {name for _, name in pairs}
    for a in sorted(adjoints, key=lambda a: a.name not in logits):  # stable: logits first
        closed = a.closed.matrix if a.closed is not None else None
        m = closed if closed is not None else a.form.matrix
        if a.form.matrix is None or m is None:
            continue
        for node in mx.walk(m):
            if _sums(node, target, kinds):
                one = mx.ONE if node.shape == () else mx.Ones(node.shape)
                reduced = _distribute_ones(mx.substitute(m, node, one))
                assert isinstance(node, mx.Reduce)  # what _sums matched
                return Note(NoteKind.TARGET_SUMS_TO_ONE, a.name, target, reduced, node.kind)
    return None


def _sums(node: mx.M, target: str, kinds: set[ReduceKind | None]) -> bool:
    """Whether ``node`` is the target's sum over its softmax axis."""
    return isinstance(node, mx.Reduce) and node.kind in kinds and \
        isinstance(node.x, mx.Ref) and node.x.kind == RefKind.TENSOR and node.x.name == target


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


__all__ = ["Adjoint", "Derivation", "Form", "GaussNewton", "Gradient", "Hessian", "Note",
           "Second", "UnknownName", "Where", "derive", "with_second"]
