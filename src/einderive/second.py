"""Second order in index form: tangents (forward mode) and Hessian-vector products.

A tangent ``ṫ`` is the directional derivative of a tensor along tangents ``ẋ`` of some
inputs.  Each node's is its own definition differentiated once, along the tangents of
its operands, node by node in the forward order (ż = Ẇ x + W ẋ, ẏ = σ'(z) ⊙ ż):

    ṫ_I = Σ_u Σ_K ∂t_I/∂u_K u̇_K

which is the reverse step's local derivative (:func:`~einderive.indexed.differentiate`,
Kronecker deltas, :func:`~einderive.indexed.collapse`) met from the other side.

A Hessian-vector product is forward over reverse (Pearlmutter 1994): the tangent of
every adjoint along the same ``ẋ``, written ℛ{∂L/∂t}, from the loss back.  Each
adjoint's index form (its upstream adjoints as symbols, as backprop writes it) is
differentiated along the tangents of the forward tensors it reads and the ℛ{·} of the
adjoints it names; for a chosen input ``x``, ℛ{∂L/∂x} is its block of (∇²L) v with
v = (ẋ, …).  Nothing differentiates the loss as a whole or expands a sum.
"""

from __future__ import annotations

from typing import Any

from sympy import Add, Indexed, KroneckerDelta, Mul, Pow, S, Sum, Symbol

from .graph import Graph
from .indexed import (
    Ctx,
    collapse,
    differentiate,
    fresh_bound,
    key_of,
    rename,
    substitute_indexed,
)
from .ops import AxisFunction, Digit, ElementwiseFunction, Flat, Shift, Window
from .record import Record, field
from .reverse import IndexAdjoint, IndexDerivation
from .reverse import _tidy as tidy

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]


GAUSS_NEWTON, REST = "gauss-newton", "rest"  # the two parts of the split (derive_second)


class IndexSecond(Record):
    """Tangents and adjoint tangents in index form, each with the reader's indices."""

    along: tuple[str, ...]  # the inputs with a tangent (the direction's blocks)
    tangents: dict[str, tuple[Expr, Idx]]  # node -> ṫ, for every node that moves
    rops: dict[str, tuple[Expr, Idx]]  # tensor -> ℛ{∂L/∂t}, from the loss back
    # tensor -> (consumer, ℛ of its contribution) for an adjoint with several: its matrix
    # form is the sum of theirs, each read alone (a fan-out is not one big expression)
    rop_terms: dict[str, tuple[tuple[str, Expr], ...]]
    order: tuple[str, ...]  # nodes with a tangent, in the forward order
    rop_order: tuple[str, ...]  # tensors with an ℛ{∂L/∂t}, from the loss back, inputs last
    # the steps a reader follows (``--steps``): ('tangent', node) -> its definition
    # differentiated along the tangents, as the product and chain rules give it (collapsed,
    # not yet factored or named); ('rop', tensor) -> (the adjoint's index form that was
    # differentiated, ℛ of it so)
    steps: dict[tuple[str, str], tuple[Expr, Expr]] = field(default_factory=dict)


def derive_second(d: IndexDerivation, along: tuple[str, ...], hvp: bool,
                  part: tuple[str, frozenset[str]] | None = None) -> IndexSecond:
    """The tangents of every node along tangents of the inputs ``along`` and, with
    ``hvp``, the tangent ℛ{∂L/∂t} of every adjoint (the chosen inputs' are (∇²L) v).

    ``part`` = (which, the loss's side: the output f and the nodes after it) keeps one
    part of the Gauss-Newton split of the product.  An adjoint before f, Σ_c ∂L/∂c ∂c/∂t,
    moves by its upstream adjoints' ℛ{·} (the Jacobians, fixed) and by the tangents of
    the forward tensors it reads (the curvature of the network).  'gauss-newton' keeps the
    first alone, from ℛ{∂L/∂f} = H_ℓ ḟ: J_fᵀ H_ℓ J_f v.  'rest' keeps both from
    ℛ{∂L/∂f} = 0: Σ_k ∂ℓ/∂f_k ∇²f_k v.  The product is linear in those sources, so the two
    add up to (∇²L) v."""
    graph, ctx = d.graph, d.ctx
    # key -> (element, tangent): what moves along the direction (an element of it at
    # indices K, and its tangent there)
    movers: dict[Any, tuple[Any, Any]] = {}

    def moves(name: str) -> None:
        movers[ctx.keys[name]] = (lambda k: ctx.element(name, k),
                                  lambda k: ctx.tangent(name, k))
    for x in along:
        moves(x)
    tangents: dict[str, tuple[Expr, Idx]] = {}
    steps: dict[tuple[str, str], tuple[Expr, Expr]] = {}
    for t in graph.nodes:
        definition, idx = d.definitions[t.name]
        e = _along(ctx, definition, idx, movers)
        e = _inline_anon(ctx, graph, e, tangents, ctx.tangent_of)
        steps[("tangent", t.name)] = (definition, rename(e, ctx, idx, idx))
        e = tidy(e, d.namer, ctx, idx) if e != 0 else S.Zero
        if e != 0:
            tangents[t.name] = (e, idx)
            moves(t.name)
    order = tuple(t.name for t in graph.nodes if t.name in tangents)
    rops: dict[str, tuple[Expr, Idx]] = {}
    rop_terms: dict[str, tuple[tuple[str, Expr], ...]] = {}
    named = _named_upstream(d, part[1]) if part is not None else {}
    if hvp:
        for name in d.order:
            adj = named.get(name) or d.adjoints[name]
            loss_side = part is not None and name in part[1]
            if part is not None and part[0] == REST and loss_side:
                continue  # ℛ{∂L/∂f} = 0 and the loss's side after it: the rest's source
            by = movers if part is None or loss_side or part[0] == REST else \
                {k: m for k, m in movers.items() if k in ctx.adjoint_of}  # Jacobians fixed

            raw: list[Expr] = []

            def moved(expr: Expr, by: dict[Any, tuple[Any, Any]] = by,
                      raw: list[Expr] = raw) -> Expr:
                e = _along(ctx, expr, adj.idx, by)
                e = _inline_anon(ctx, graph, e, tangents, ctx.tangent_of)
                raw.append(e)
                return tidy(e, d.namer, ctx, adj.idx) if e != 0 else S.Zero
            if len(adj.terms) > 1:
                parts = tuple((c, r) for c, r in ((c, moved(x)) for c, x in adj.terms) if r != 0)
                if len(parts) > 1:
                    rop_terms[name] = parts
                    e = tidy(Add(*[r for _, r in parts]), d.namer, ctx, adj.idx)
                else:
                    e = parts[0][1] if parts else S.Zero
            else:
                e = moved(adj.expr)
            if e != 0:
                steps[("rop", name)] = (adj.expr, rename(Add(*raw), ctx, adj.idx, adj.idx))
                rops[name] = (e, adj.idx)
                # an adjoint read downstream moves by its ℛ{·}
                movers[ctx.adjoint_keys[name]] = (lambda k, n=name: ctx.adjoint(n, k),
                                                  lambda k, n=name: ctx.rop(n, k))
    rop_order = tuple(n for n in d.order if n in rops)
    return IndexSecond(tuple(along), tangents, rops, rop_terms, order, rop_order, steps)


def _named_upstream(d: IndexDerivation, side: frozenset[str]) -> dict[str, IndexAdjoint]:
    """The adjoints before the loss's side with each upstream adjoint named where backprop
    wrote it out (∂L/∂y = −2 e for ∂L/∂y = −∂L/∂e): the split must see which reads of a
    forward tensor are ∂L/∂f's (they move by ℛ{∂L/∂f}) and which the Jacobians' (they
    move by the tangents).  An anonymous intermediate's adjoint stays written out, as
    before, but in its own named form."""
    ctx, graph = d.ctx, d.graph
    into: dict[str, list[Any]] = {}
    for edge in d.edges:
        into.setdefault(edge.operand, []).append(edge)
    out: dict[str, IndexAdjoint] = {}
    for name in d.order:
        edges = [e for e in into.get(name, ()) if e.node in d.adjoints]
        if name in side or not any(e.inlined for e in edges):
            continue
        adj, terms = d.adjoints[name], []
        for e in sorted(edges, key=lambda e: ctx.position[e.node]):
            c = e.result
            if e.inlined:
                c = e.collapsed
                if graph[e.node].kind == "anon":
                    # written out as backprop wrote it: in its named form, or as it was where
                    # nothing upstream of it was inlined (∂L/∂(Q Kᵀ) from a softmax's named
                    # ∂L/∂P), which has no name to print and no variable in the code
                    up = out.get(e.node) or d.adjoints[e.node]
                    c = collapse(substitute_indexed(c, ctx.adjoint_keys[e.node],
                                                    up.expr, e.out_idx, ctx))
            c = tidy(rename(c, ctx, e.in_idx, adj.idx), d.namer, ctx, adj.idx)
            if c != 0:
                terms.append((e.node, c))
        expr = terms[0][1] if len(terms) == 1 else \
            tidy(Add(*[c for _, c in terms]), d.namer, ctx, adj.idx) if terms else S.Zero
        out[name] = IndexAdjoint(name, adj.idx, expr, tuple(terms), None)
    return out


def _along(ctx: Ctx, e: Expr, idx: Idx, movers: dict[Any, tuple[Any, Any]]) -> Expr:
    """Σ_u Σ_K ∂e/∂u_K u̇_K over the tensors (and adjoints) u in ``movers`` that ``e``
    reads, its sums collapsed: forward mode through ``e``'s own tree, each read of a
    moving tensor u_K becoming u̇_K at the same indices (an index map too), so no delta is
    made but by a function of a whole tensor (softmax, inv) - the walk is linear in ``e``."""
    return collapse(_jvp(ctx, fresh_bound(e, ctx), idx, movers))


def _jvp(ctx: Ctx, e: Expr, idx: Idx, movers: dict[Any, tuple[Any, Any]]) -> Expr:
    if isinstance(e, Indexed):
        m = movers.get(e.base.label)
        return m[1](tuple(e.indices)) if m is not None else S.Zero
    if isinstance(e, Symbol):
        m = movers.get(e)
        return m[1](()) if m is not None else S.Zero
    if e.is_Number or isinstance(e, (KroneckerDelta, Flat, Digit, Shift, Window)):
        # an index map as a value (a slice's range 𝟙[0 ≤ j·Dh + k < K] through a reshape)
        # is an index, as constant as a delta
        return S.Zero
    if e.is_Add:
        return Add(*[_jvp(ctx, a, idx, movers) for a in e.args])
    if e.is_Mul:
        args, terms = e.args, []
        for n, a in enumerate(args):
            da = _jvp(ctx, a, idx, movers)
            if da != 0:
                terms.append(Mul(*args[:n], da, *args[n + 1:]))
        return Add(*terms)
    if isinstance(e, Pow):
        db = _jvp(ctx, e.base, idx, movers)
        return S.Zero if db == 0 else e.exp * Pow(e.base, e.exp - 1) * db
    if isinstance(e, Sum):
        inner = _jvp(ctx, e.function, idx, movers)  # a sum of each term: each reads alone
        return Add(*[Sum(t, *e.limits) for t in Add.make_args(inner) if t != 0])
    if isinstance(e, ElementwiseFunction):  # the chain rule through every argument
        return Add(*[e.fdiff(n + 1) * da for n, da in
                     enumerate(_jvp(ctx, a, idx, movers) for a in e.args) if da != 0])
    if isinstance(e, AxisFunction):  # of a whole tensor: Σ_K ∂f/∂u_K u̇_K, by its deltas
        m = movers.get(e.label)
        if m is None:
            return S.Zero
        name = ctx.tensor_of.get(e.label) or ctx.adjoint_of[e.label]
        k = ctx.spare_indices(ctx.graph[name].shape, avoid=tuple(idx) + tuple(e.indices))
        local = collapse(differentiate(e, m[0](k)))
        free = tuple(i for i in k if isinstance(i, Symbol))
        return S.Zero if local == 0 else collapse(ctx.sum(local * m[1](k), free))
    raise ValueError(f"no tangent rule for {type(e).__name__}")  # pragma: no cover


def _inline_anon(ctx: Ctx, graph: Graph, e: Expr, tangents: dict[str, tuple[Expr, Idx]],
                 of: dict[Any, str]) -> Expr:
    """An anonymous intermediate's tangent written out where it is read, as its value
    and its adjoint are: it has no name of its own to print."""
    for key in sorted({key_of(a) for a in e.atoms(Indexed, Symbol)} & set(of), key=str):
        name = of[key]
        if graph[name].kind == "anon" and name in tangents:
            value, idx = tangents[name]
            e = collapse(substitute_indexed(e, key, value, idx, ctx))
    return e
