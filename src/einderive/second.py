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

from sympy import Add, Indexed, S, Symbol

from .graph import Graph
from .indexed import (
    Ctx,
    collapse,
    differentiate,
    fresh_bound,
    key_of,
    substitute_indexed,
)
from .record import Record
from .reverse import IndexDerivation
from .reverse import _tidy as tidy

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]


class IndexSecond(Record):
    """Tangents and adjoint tangents in index form, each with the reader's indices."""

    along: tuple[str, ...]  # the inputs with a tangent (the direction's blocks)
    tangents: dict[str, tuple[Expr, Idx]]  # node -> ṫ, for every node that moves
    rops: dict[str, tuple[Expr, Idx]]  # tensor -> ℛ{∂L/∂t}, from the loss back
    order: tuple[str, ...]  # nodes with a tangent, in the forward order
    rop_order: tuple[str, ...]  # tensors with an ℛ{∂L/∂t}, from the loss back, inputs last


def derive_second(d: IndexDerivation, along: tuple[str, ...], hvp: bool) -> IndexSecond:
    """The tangents of every node along tangents of the inputs ``along`` and, with
    ``hvp``, the tangent ℛ{∂L/∂t} of every adjoint (the chosen inputs' are (∇²L) v)."""
    graph, ctx = d.graph, d.ctx
    moving: set[str] = set(along)
    tangents: dict[str, tuple[Expr, Idx]] = {}
    for t in graph.nodes:
        definition, idx = d.definitions[t.name]
        operands = [u for u in graph.operands(t) if u in moving]
        if not operands:
            continue
        e = _along(ctx, definition, idx, operands, ctx.element, ctx.tangent)
        e = _inline_anon(ctx, graph, e, tangents, ctx.tangent_of)
        e = tidy(e, d.namer, ctx, idx)
        if e != 0:
            tangents[t.name] = (e, idx)
            moving.add(t.name)
    order = tuple(t.name for t in graph.nodes if t.name in tangents)
    rops: dict[str, tuple[Expr, Idx]] = {}
    if hvp:
        for name in d.order:
            rop = _rop(d, name, moving, tangents, rops)
            if rop != 0:
                rops[name] = (rop, d.adjoints[name].idx)
    rop_order = tuple(n for n in d.order if n in rops)
    return IndexSecond(tuple(along), tangents, rops, order, rop_order)


def _rop(d: IndexDerivation, name: str, moving: set[str],
         tangents: dict[str, tuple[Expr, Idx]], rops: dict[str, tuple[Expr, Idx]]) -> Expr:
    """ℛ{∂L/∂name}: its adjoint's index form along the forward tangents and the ℛ{·} of
    the upstream adjoints it names (each already made: the order runs from the loss)."""
    ctx, graph = d.ctx, d.graph
    adj = d.adjoints[name]
    expr: Expr = adj.expr
    atoms = {key_of(a) for a in expr.atoms(Indexed, Symbol)}
    forward = [n for n in moving if ctx.keys[n] in atoms]
    upstream = [ctx.adjoint_of[k] for k in atoms if k in ctx.adjoint_of
                and ctx.adjoint_of[k] in rops]
    e = _along(ctx, expr, adj.idx, sorted(forward, key=ctx.position.__getitem__),
               ctx.element, ctx.tangent)
    e += _along(ctx, expr, adj.idx, sorted(upstream, key=ctx.position.__getitem__),
                ctx.adjoint, ctx.rop)
    e = _inline_anon(ctx, graph, e, tangents, ctx.tangent_of)
    return tidy(e, d.namer, ctx, adj.idx) if e != 0 else S.Zero


def _along(ctx: Ctx, e: Expr, idx: Idx, names: list[str], element: Any, tangent: Any) -> Expr:
    """Σ_u Σ_K ∂e/∂u_K u̇_K over the tensors ``names`` (``element(u, K)`` an element of u
    as ``e`` reads it, ``tangent(u, K)`` its tangent), its sums collapsed."""
    body = fresh_bound(e, ctx)
    out = []
    for u in names:
        k = ctx.spare_indices(ctx.graph[u].shape, avoid=idx)
        local = collapse(differentiate(body, element(u, k)))
        if local == 0:
            continue
        free = tuple(i for i in k if isinstance(i, Symbol))
        out.append(collapse(ctx.sum(local * tangent(u, k), free)))
    return Add(*out)


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
