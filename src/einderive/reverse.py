"""Reverse mode in index form: each node's own definition, differentiated and accumulated.

For a node ``v`` with components ``v_I`` and an operand ``u``, the contribution
to ``∂L/∂u_K`` is ``Σ_I ∂L/∂v_I ∂v_I/∂u_K``: SymPy differentiates the node's
componentwise definition with respect to one element ``u_K``, which yields
Kronecker deltas, and :func:`~einderive.indexed.collapse` lets them eat the
sums.  Nothing here differentiates the loss as a whole or expands a sum.

An upstream adjoint is written by its symbol ``∂L/∂v``, as backprop does,
except where that adds nothing: the loss's own ``∂L/∂L = 1``, a constant
adjoint, and a closed-form adjoint passed through an op that only adds,
negates or sums (so ``e = y_true - y`` gives ``∂L/∂y = -2 e``, not ``-∂L/∂e``).
"""

from __future__ import annotations

from functools import cached_property
from itertools import permutations
from typing import Any

from sympy import Add, Function, Indexed, Mul, Pow, S, Sum, Symbol, default_sort_key, factor_terms, \
    preorder_traversal as preorder

from .errors import SpecError
from .graph import Graph, same_size
from .ops import AXIS_OPS, AxisFunction, Shift
from .indexed import (
    Ctx,
    Namer,
    collapse,
    constant_sums,
    differentiate,
    fresh_bound,
    key_of,
    mentions,
    nodes_of,
    prune_ranges,
    rename,
    split_index_map,
    substitute_all,
    substitute_indexed,
)
from .record import Record, field, replace
from .template import Parts, Templates

Expr = Any  # a SymPy expression (SymPy ships no type information)
Idx = tuple[Any, ...]  # index symbols, or 0 for a size-1 axis

EXPAND_LIMIT = 160  # size (nodes) above which a closed form is neither printed nor built on


class Edge(Record):
    """One step of the chain rule, kept for ``--steps``.

    The expressions carry SymPy's fresh summation indices; :meth:`shown` gives
    them the reader's letters (computed only when steps are printed)."""

    node: str  # the consumer v
    operand: str  # the operand u
    out_idx: Idx  # v's indices I
    in_idx: Idx  # u's indices K
    inlined: bool  # whether ∂L/∂v was replaced by its value
    # the step's forms (below), each built when first read: a step renamed from another
    # layer's (template.py) builds only what --steps or second order reads
    made: Parts = field(compare=False, repr=False)
    ctx: Ctx = field(compare=False, repr=False)

    @cached_property
    def local(self) -> Expr:
        """∂v_I/∂u_K with its deltas."""
        return self.made[0]

    @cached_property
    def local_collapsed(self) -> Expr:
        """The same with the node's own sums collapsed."""
        return self.made[1]

    @cached_property
    def chained(self) -> Expr:
        """Σ_I ∂L/∂v_I ∂v_I/∂u_K before collapsing."""
        return self.made[2]

    @cached_property
    def collapsed(self) -> Expr:
        """After collapsing, in K."""
        return self.made[3]

    @cached_property
    def result(self) -> Expr:
        """The contribution, in K: ``collapsed`` with ∂L/∂v written out if inlined."""
        return self.made[4]

    @cached_property
    def shown(self) -> Edge:
        """The same step with the reader's summation indices."""
        both = self.out_idx + self.in_idx
        forms = ((self.local, both), (self.local_collapsed, both), (self.chained, self.in_idx),
                 (self.collapsed, self.in_idx), (self.result, self.in_idx))
        made = Parts(tuple(rename(e, self.ctx, free, free) for e, free in forms))
        return replace(self, made=made)


class IndexAdjoint(Record):
    """A tensor's adjoint in index form (derivation.Adjoint adds its matrix forms)."""

    name: str
    idx: Idx  # the reader's indices of the tensor's axes (0 for a size-1 axis)
    expr: object  # index form, with upstream adjoints as symbols
    terms: tuple[tuple[str, Expr], ...]  # (consumer, contribution), in the forward graph's order
    closed: object | None  # index form in terms of inputs and forward nodes only


class IndexDerivation(Record):
    graph: Graph
    ctx: Ctx
    definitions: dict[str, tuple[Expr, Idx]]  # node name -> (component expression, indices)
    adjoints: dict[str, IndexAdjoint]  # for every tensor the loss depends on
    order: tuple[str, ...]  # names with an adjoint, from the loss back, inputs last
    edges: tuple[Edge, ...]  # in the order computed
    namer: Namer


def derive_index(graph: Graph, closed: bool = True,
                 templated: bool | None = None) -> IndexDerivation:
    """Every adjoint of ``graph`` in index form; with ``closed``, also in closed form.

    ``templated`` (default :data:`einderive.template.ENABLED`) derives each kind of edge
    once and renames it for the others; tests turn it off to compare."""
    ctx = Ctx(graph)
    definitions = {}
    for t in graph.nodes:
        assert t.expr is not None  # a node has a definition
        idx = ctx.canon(t.shape)
        definitions[t.name] = (rename(constant_sums(ctx.comp(t.expr, idx)), ctx, idx, idx), idx)
        if definitions[t.name][0].has(S.ComplexInfinity, S.NaN, S.Infinity, S.NegativeInfinity):
            raise SpecError(f"'{t.name}' is not finite: it divides by zero or takes an undefined "
                            f"value", t.loc, "check the divisions and powers in its definition")
    namer = Namer(ctx, definitions)
    templates = Templates(ctx, namer, templated)
    canon = {t.name: ctx.canon(t.shape) for t in graph.tensors}

    contributions: dict[str, list[tuple[str, Expr]]] = {t.name: [] for t in graph.tensors}
    adjoints: dict[str, IndexAdjoint] = {}
    edges: list[Edge] = []

    def accumulate(name: str) -> IndexAdjoint:
        terms = tuple(sorted(contributions[name], key=lambda c: ctx.position[c[0]]))
        expr = terms[0][1] if len(terms) == 1 else \
            _tidy(Add(*[c for _, c in terms]), namer, ctx, canon[name])
        return IndexAdjoint(name, canon[name], expr, terms, None)

    live = _live(graph)
    # the adjoints written with another adjoint named in them before terms cancelled: a
    # mean's ∂L/∂mu whose ∂L/∂sd term is a centred sum (0) stays named where it is read
    named: set[str] = set()
    for v in reversed(graph.nodes):
        if v.name == graph.loss:
            adjoints[v.name] = IndexAdjoint(v.name, (), S.One, (), None)
        elif contributions[v.name]:
            adjoints[v.name] = accumulate(v.name)
        else:
            continue  # the loss does not depend on v
        expr = adjoints[v.name].expr
        definition, out_idx = definitions[v.name]
        for u in graph.operands(v):
            if u not in live:  # an index, or a tensor no gradient asked for depends on
                continue
            edge, contribution = _step(templates, v.name, u, definition, out_idx, expr,
                                       canon[u], v.name in named)
            edges.append(edge)
            if not edge.inlined:
                named.add(u)
            if contribution != 0:  # e.g. z = x - x: read, but its derivative is zero
                contributions[u].append((v.name, contribution))
    for t in graph.inputs:
        if contributions[t.name]:
            adjoints[t.name] = accumulate(t.name)
    if closed:
        adjoints = _with_closed_forms(graph, ctx, adjoints, namer)
    order = tuple(t.name for t in reversed(graph.nodes) if t.name in adjoints) + \
        tuple(t.name for t in graph.inputs if t.name in adjoints)
    return IndexDerivation(graph, ctx, definitions, adjoints, order, tuple(edges), namer)


def _live(graph: Graph) -> set[str]:
    """The tensors a derivative flows through on its way from the loss to an input of
    ``wrt``: those inputs and every node that reads one, directly or through other nodes.
    The adjoint of any other tensor (a target T = 0.9 Y + 0.1/C built from inputs no
    gradient is taken of, an input outside ``wrt``) reaches no gradient: it is neither
    derived, nor printed, nor computed by the generated code, nor counted by ``cost``.
    An integer input is an index, never in ``wrt``."""
    live = set(graph.wrt)
    for t in graph.nodes:
        if any(u in live for u in graph.operands(t)):
            live.add(t.name)
    return live


def _step(templates: Templates, v: str, u: str, definition: Expr, out_idx: Idx,
          upstream_expr: Expr, canon_u: Idx, named: bool = False) -> tuple[Edge, Expr]:
    """The edge from ``v`` into its operand ``u`` and its contribution to ∂L/∂u in ``u``'s
    reader's indices, derived once per signature (:mod:`einderive.template`); ``named``:
    ∂L/∂v was written with another adjoint in it (it is never written out here)."""
    ctx, namer, graph = templates.ctx, templates.namer, templates.ctx.graph

    def compute() -> tuple[Any, ...]:
        e = _edge(ctx, v, u, definition, out_idx, upstream_expr, graph, named)
        contribution = _tidy(rename(e.result, ctx, e.in_idx, canon_u), namer, ctx, canon_u)
        return (e.in_idx, e.inlined, contribution, e.made.values)
    roles = (ctx.keys[v], ctx.adjoint_keys[v], ctx.keys[u])
    parts = templates.run(compute, (definition, upstream_expr, out_idx, canon_u), roles,
                          (graph[u].shape, graph[v].kind, named))
    return Edge(v, u, out_idx, parts[0], parts[1], parts.part(3), ctx), parts[2]


def _edge(ctx: Ctx, v: str, u: str, definition: Expr, out_idx: Idx, upstream_expr: Expr,
          graph: Graph, named: bool = False) -> Edge:
    in_idx = ctx.spare_indices(graph[u].shape, avoid=out_idx)
    local = differentiate(fresh_bound(definition, ctx), ctx.element(u, in_idx))
    upstream = ctx.adjoint(v, out_idx)
    free = tuple(i for i in out_idx if isinstance(i, Symbol))
    local_collapsed = collapse(local)
    chained = ctx.sum(upstream * local_collapsed, free)
    collapsed = prune_ranges(collapse(chained), ctx)
    inlined = graph[v].kind == "anon" or (not named and _passes_through(ctx, collapsed, v, upstream_expr)
                                          and not _piece_of(ctx, v, u, collapsed, upstream_expr))
    result = collapsed
    if inlined:
        result = collapse(substitute_indexed(collapsed, ctx.adjoint_keys[v], upstream_expr,
                                             out_idx, ctx))
        if graph[v].kind != "anon" and split_index_map(result) and \
                _mentions_tensor(ctx, upstream_expr):  # a constant (∂L/∂L = 1) inlines
            result, inlined = collapsed, False  # ∂L/∂v named: no reshape reads it whole
    return Edge(v, u, out_idx, in_idx, inlined,
                Parts((local, local_collapsed, chained, collapsed, result)), ctx)


def _piece_of(ctx: Ctx, v: str, u: str, contribution: Expr, upstream_expr: Expr) -> bool:
    """Whether the unnamed ``u`` is a piece of the named ``v`` along one of its axes (the
    first half of a rotary embedding's concatenation, Kr = concatenate([K[:, 0:H] ⊙ C − …,
    …])): ``contribution`` reads ∂L/∂v over part of that axis, at a shifted index or one over
    a shorter dim.  ∂L/∂v stays named there, as it is in the other pieces, not written out
    in part of its axis."""
    graph = ctx.graph
    if graph[u].kind != "anon" or not _mentions_tensor(ctx, upstream_expr):
        return False
    label, shape = ctx.adjoint_keys[v], graph[v].shape
    # (a piece of one position of the axis, lg[:, 0:1] of a concatenation, keeps the rank:
    # a stacked piece, P[0] of stack([…], axis=0), is the position of an axis it lacks)
    same_rank = len(graph[u].shape) == len(shape)
    for a in nodes_of(contribution, Indexed):
        if key_of(a) != label or len(a.indices) != len(shape):
            continue
        for i, d in zip(a.indices, shape):
            if d == 1 or i.is_Number and not same_rank:
                continue
            if i.is_Number or isinstance(i, (Shift, Add)) or isinstance(i, Symbol) and i in ctx.index_dim and \
                    not same_size(graph.spec.dims, ctx.sizes, ctx.size(ctx.index_dim[i]),
                                  ctx.size(d)):
                return True
    return False


def _passes_through(ctx: Ctx, contribution: Expr, v: str, upstream_expr: Expr) -> bool:
    """Whether ``∂L/∂v`` is better written out than named in this contribution."""
    if _mentions_adjoint(ctx, upstream_expr):
        return False
    if not _mentions_tensor(ctx, upstream_expr):
        return True  # a constant such as 1 or 1/B
    label = ctx.adjoint_keys[v]
    others = [a for a in _tensor_atoms(ctx, contribution) if key_of(a) != label]
    return not others


def _tensor_atoms(ctx: Ctx, e: Expr) -> list[Any]:
    return [a for a in nodes_of(e, (Indexed, Symbol)) if ctx.is_tensor_atom(a)]


def _mentions_tensor(ctx: Ctx, e: Expr) -> bool:
    return bool(_tensor_atoms(ctx, e))


def _mentions_adjoint(ctx: Ctx, e: Expr) -> bool:
    return any(key_of(a) in ctx.adjoint_of for a in _tensor_atoms(ctx, e))


def _tidy(e: Expr, namer: Namer, ctx: Ctx, idx: Idx) -> Expr:
    """Collapsed, named and factored, with the reader's summation letters.

    Collapse again after ``factor_terms``, which splits Σ_i (a_i − c) into
    Σ_i a_i − c Σ_i 1; rename last, so that two sums that differ only in the
    name of their index (Σ_i′ X_i′j − Σ_i′′ X_i′′j) are seen equal and cancel."""
    e = collapse(_factor_terms(namer(collapse(e))))
    if ctx.sums_to_one:
        e = _sums_to_one(e, ctx)
    named = rename(e, ctx, idx, idx)
    if namer.sums:  # after renaming: the sums read the letters the definitions read
        named = _centred(named, namer.sums, namer.differences)
    if named == e:
        return _collect_alike_sums(e)
    # (collapse again: a sum whose body cancelled is 0)
    return _collect_alike_sums(collapse(_factor_terms(collapse(named))))


def _collect_alike_sums(e: Expr) -> Expr:
    """``2 d Σ_ii′ A_i′i Ẋ_ii′ − e Σ_ii′ A_ii′ Ẋ_i′i`` → ``(2 d − e) Σ_ii′ A_i′i Ẋ_ii′``:
    terms whose sums differ only in which of their indices of one range is called which
    (the two letters of a trace swapped) are one sum, written with the letters the first
    term has; kept only where terms then collect (elsewhere each sum keeps its letters).
    Swapping two bound letters of one range is renaming only while no limit's bounds read
    another bound letter (a triangular sum); no op writes such a sum today."""
    if not e.is_Add:
        return e
    sums = [f for t in e.args for f in Mul.make_args(t) if isinstance(f, Sum) and
            len(f.limits) > 1]
    if len(sums) < 2:
        return e
    seen: dict[Expr, Expr] = {}  # each letter-swapped sum -> the first one met
    swap: dict[Expr, Expr] = {}
    for f in sums:
        for v in _relettered(f):
            if v in seen:
                if seen[v] != f:
                    swap[f] = seen[v]
                break
        else:
            for v in _relettered(f):
                seen[v] = f
    if not swap:
        return e
    out = collapse(_factor_terms(e.xreplace(swap)))
    return out if len(Add.make_args(out)) < len(e.args) else e


def _relettered(f: Sum) -> list[Expr]:
    """``f`` with the letters of its indices of one range permuted every way (at most 24)."""
    groups: dict[tuple[Expr, Expr], list[Symbol]] = {}
    for v, lo, hi in f.limits:
        groups.setdefault((lo, hi), []).append(v)
    out: list[Expr] = [f]
    for letters in groups.values():
        if len(letters) < 2 or len(letters) > 4:
            continue
        out = [g.function.xreplace(dict(zip(letters, p))) for g in out
               for p in permutations(letters)]
        out = [Sum(x, *f.limits) for x in out]
    return out


def _factor_terms(e: Expr) -> Expr:
    """SymPy's ``factor_terms`` with every divisor that is a sum held whole.

    Left to itself, ``factor_terms`` clears the fractions inside a divisor and multiplies
    the number out over the quotient: Tversky's ∂L/∂tp printed ``10 (−3 fp − 7 fn)/(10 + 10
    tp + 3 fp + 7 fn)²`` for the spec's ``tp + 0.3 fp + 0.7 fn + 1``, NALU's ``1000 sign(X)
    … / (1 + 1000 |X|)`` for ``|X| + 0.001``.  Each such divisor stands for a function of the
    symbols it reads while it runs (a sum's index among them: nothing that reads it leaves
    its sum), named so that the order is the same on every run, and is put back after."""
    held: dict[Expr, Expr] = {}
    back: dict[Expr, Expr] = {}

    def walk(x: Expr) -> None:
        if not x.args or isinstance(x, Indexed):
            return
        if isinstance(x, Pow) and isinstance(x.base, Add) and x.exp.is_negative:
            if x.base not in held:
                reads = sorted(x.base.free_symbols, key=default_sort_key)
                # a number every term has comes out: log((exp(R) + exp(−R))/2)'s divisor is
                # (1/2) (exp(R) + exp(−R)), held as exp(R) + exp(−R)
                content, whole = x.base.primitive()
                if content == 1 or any(abs(t.as_coeff_Mul()[0]) != 1 for t in whole.args):
                    content, whole = S.One, x.base
                fn = Function(f"held{len(held)}")(*reads)
                held[x.base] = content * fn
                back[fn] = whole
            return
        for a in x.args:
            walk(a)
    walk(e)
    if not held:
        return factor_terms(e)
    return factor_terms(e.xreplace(held)).xreplace(back)


def _centred(e: Expr, sums: dict[Any, tuple[Expr, Idx]],
             differences: dict[Any, tuple[Expr, Idx]] | None = None) -> Expr:
    """``e`` with each sum that meets its own mean written 0, as the matrix forms have it:
    batchnorm_rank3's ``−(2/(B T)) ∂L/∂var_k Σ_i Σ_j (X_ijk − mu_k)`` (read
    ``Σ_i Σ_j X_ijk − B T mu_k``) is gone from ∂L/∂mu_k.  A term that names a mean node
    at its own indices is written as the node's definition; kept only where two terms
    cancel.  A node of ``differences`` (Xc = Xr − mu, on its own line) summed alone is
    written out, and the sum is 0 where that cancels so (Σ_k Xc_ijk of group norm's
    ∂L/∂mu, as it is with Xr − mu inline)."""
    differences = differences or {}

    def reads(x: Expr) -> bool:
        return any(isinstance(n, Indexed) and (n.base.label in sums or
                                               n.base.label in differences)
                   for n in preorder(x))

    def zero(y: Expr) -> bool:  # Σ_k Xc_ijk, Xc a difference whose terms cancel summed
        f = y.function
        if not (isinstance(f, Indexed) and f.base.label in differences):
            return False
        expr, idx = differences[f.base.label]
        if len(idx) != len(f.indices):
            return False
        at = {i: j for i, j in zip(idx, f.indices) if isinstance(i, Symbol)}
        spread = collapse(Add(*[Sum(t, *y.limits) for t in Add.make_args(expr.xreplace(at))]))
        return isinstance(spread, Add) and fix(spread) == 0

    def fix(a: Expr) -> Expr | None:
        terms = list(a.args)
        for k, t in enumerate(terms):
            for f in Mul.make_args(t):
                if isinstance(f, Indexed) and f.base.label in sums and \
                        tuple(f.indices) == sums[f.base.label][1]:
                    new = Add(*terms[:k], t.xreplace({f: sums[f.base.label][0]}), *terms[k + 1:])
                    if len(Add.make_args(new)) <= len(terms) - 2 or new == 0:
                        return new
        return None

    def walk(x: Expr) -> Expr:
        if not x.args or isinstance(x, Indexed):
            return x
        args = [walk(a) for a in x.args]
        y = x if all(a is b for a, b in zip(args, x.args)) else x.func(*args)
        if differences and isinstance(y, Sum) and zero(y):
            return S.Zero
        if isinstance(y, Sum) and isinstance(y.function, Add) and reads(y.function):
            # Σ_i Σ_j (X_ijk − mu_k)
            spread = collapse(Add(*[Sum(t, *y.limits) for t in y.function.args]))
            if differences:  # Σ_k (a_k − c Xc_ijk): its sums of a difference alone
                held = {s: S.Zero for s in preorder(spread) if isinstance(s, Sum) and zero(s)}
                if held:
                    return collapse(spread.xreplace(held))
            z = fix(spread) if isinstance(spread, Add) else None
            if z is not None:
                return z
        if isinstance(y, Add):
            z = fix(y)
            if z is not None:
                return z
        return y
    if not reads(e):
        return e
    out = walk(e)
    return e if out is e else collapse(out)


def _sums_to_one(e: Expr, ctx: Ctx) -> Expr:
    """``e`` with each sum of a softmax along its own axis written 1, as the matrix forms
    have it: kl_softmax_axis0's ``−P_ij + softmax(Bq, axis=0)_ij Σ_i′ P_i′j`` is
    ``softmax(Bq, axis=0)_ij − P_ij`` for P = softmax(A, axis=0)."""
    def one(s: Expr) -> bool:
        if not isinstance(s, Sum) or len(s.limits) != 1:
            return False
        v, lo, hi = s.limits[0]
        f = s.function
        if isinstance(f, Indexed) and f.base.label in ctx.tensor_of:
            t = ctx.graph[ctx.tensor_of[f.base.label]]
            if t.expr is None or t.expr.op not in AXIS_OPS or \
                    not AXIS_OPS[str(t.expr.op)].sums_to_one:
                return False
            axis, idx = t.expr.param("axis"), tuple(f.indices)
        elif isinstance(f, AxisFunction) and f.head in AXIS_OPS and \
                AXIS_OPS[f.head].sums_to_one:
            axis, idx = f.args[1], tuple(f.args[2:])
        else:
            return False
        dim = ctx.index_dim.get(v)
        return lo == 0 and dim is not None and hi == ctx.sizes[dim] - 1 and \
            isinstance(axis, int) and axis < len(idx) and idx[axis] == v and \
            sum(1 for i in idx if mentions(i, v)) == 1
    if not any(one(s) for s in e.atoms(Sum)):
        return e
    return collapse(e.replace(one, lambda s: S.One))


def _with_closed_forms(graph: Graph, ctx: Ctx, adjoints: dict[str, IndexAdjoint],
                       namer: Namer) -> dict[str, IndexAdjoint]:
    """Each adjoint also in closed form, from the loss back: its upstream adjoints
    replaced by their own closed forms (None where one is missing or too big)."""
    closed: dict[str, object] = {}
    out = dict(adjoints)
    for v in reversed(graph.tensors):
        adj = adjoints.get(v.name)
        if adj is None:
            continue
        closed[v.name] = _closed_form(ctx, adj, adjoints, closed, namer)
        out[v.name] = IndexAdjoint(adj.name, adj.idx, adj.expr, adj.terms, closed[v.name])
    return out


def _closed_form(ctx: Ctx, adj: IndexAdjoint, adjoints: dict[str, IndexAdjoint],
                 closed: dict[str, Expr], namer: Namer) -> Expr:
    """``adj`` with every upstream adjoint replaced by its closed form, all in one walk;
    None if one has none, or if the result would pass ``EXPAND_LIMIT``.

    The size is estimated before anything is built (the pieces' sizes, each adjoint
    counted once per mention): a form far past the limit costs a count, not a
    rebuild.  SymPy's constructors can shrink what they build (2 · (2 s) is 4 s,
    nested sums and products flatten), so only an estimate past twice the limit
    gives up unbuilt; nearer the limit the built form is measured, as before."""
    uses = _adjoint_uses(ctx, adj.expr, adjoints)
    if any(closed.get(name) is None for name in uses):
        return None
    if _estimate(adj.expr, uses, closed) > 2 * EXPAND_LIMIT:
        return None
    table = {ctx.adjoint_keys[name]: (closed[name], adjoints[name].idx) for name in uses}
    e = substitute_all(adj.expr, table, ctx) if table else adj.expr
    if _size(e) > EXPAND_LIMIT or split_index_map(e, ctx):
        return None  # too big, or a reshape's index map spread over a formula's indices
    return _tidy(e, namer, ctx, adj.idx)


def _estimate(e: Expr, uses: dict[str, int], closed: dict[str, Expr]) -> int:
    """The size of ``e`` once each mentioned adjoint is replaced by its closed form,
    before SymPy simplifies anything: each mention (one node) becomes a copy of that
    form.  Counting stops a little past twice the limit."""
    cap = 2 * EXPAND_LIMIT
    n = _size(e, cap)
    for name, count in uses.items():
        n += count * (_size(closed[name], cap) - 1)
        if n > cap:
            break
    return n


def _adjoint_uses(ctx: Ctx, e: Expr, adjoints: dict[str, IndexAdjoint]) -> dict[str, int]:
    """How many times each adjoint (with an entry in ``adjoints``) is mentioned in ``e``,
    in a tree walk (the same node twice counts twice, as in :func:`_size`)."""
    uses: dict[str, int] = {}
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, (Indexed, Symbol)):
            name = ctx.adjoint_of.get(key_of(x))
            if name is not None and name in adjoints:
                uses[name] = uses.get(name, 0) + 1
            continue
        stack.extend(x.args)
    return uses


def _size(e: Expr, limit: int = EXPAND_LIMIT) -> int:
    """Nodes in ``e``, counting stopped a little past ``limit``."""
    n, stack = 0, [e]
    while stack and n <= limit:
        x = stack.pop()
        n += 1
        stack.extend(x.args)
    return n
