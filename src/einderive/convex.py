"""Which node is the network's output, for the Gauss-Newton split of the Hessian.

The split needs the loss written L = ℓ(f(θ)) with ℓ convex: then ∇²L = J_fᵀ H_ℓ J_f
(the Gauss-Newton part, positive semidefinite) + Σ_k ∂ℓ/∂f_k ∇²f_k (the rest).  The rule
that picks f, deterministically:

1. ℓ starts as the loss node's definition.  The tensors it reads that *move* (a ``wrt``
   input, or a node that depends on one) must be exactly one, g.
2. While ℓ is affine in g and g is a node, g's definition is written into ℓ (a mean of
   per-example losses, a residual's sign) and step 1 is taken again.
3. Then ℓ must be convex in g, by the rules of disciplined convex programming (Grant and
   Boyd): an affine map, a nonnegative sum, a convex increasing function of a convex
   argument, …, each op's shape read from its op-table entry (``Op.curvature``).  The
   output f is g: the argument of the final convex loss.

A constant's sign matters where it scales a convex or concave part (t ⊙ log p).  The
inputs the loss reads that do not move are taken to be targets in [0, 1] (labels,
probabilities, one-hot rows: BCE's 1 − y is nonnegative); numbers and dims are exact.
Anything else is refused with a hint, exit 2.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .errors import SpecError
from .graph import Graph
from .kinds import PseudoOp, TensorKind
from .ops import OPS, FExpr
from .record import Record

CONST, AFFINE, CONVEX, CONCAVE, NONE = "constant", "affine", "convex", "concave", "none"
INF = float("inf")
Interval = tuple[float, float]  # the values a constant can take, lo ≤ hi
TARGET: Interval = (0.0, 1.0)  # a fixed input the loss reads: a label or a probability
ANY: Interval = (-INF, INF)


class Split(Record):
    """The output f of L = ℓ(f(θ)), and the nodes between it and the loss."""

    output: str  # f: a node or a wrt input
    loss_part: tuple[str, ...]  # the nodes after f that ℓ is made of, the loss last


class Shape(Record):
    """What an expression is as a function of g: its curvature, and for a constant the
    interval of its values."""

    kind: str
    values: Interval = ANY


def split(graph: Graph) -> Split:
    """The output of ``graph``'s loss (the rule in the module's docstring), or a
    :class:`SpecError` saying why there is none."""
    try:
        return _split(graph)
    except SpecError as exc:
        raise exc.with_source(list(graph.spec.source_lines)) from None


def _called(graph: Graph, name: str) -> str:
    """A node as an error names it: 'name', or what an anonymous one is (a function's
    argument the graph made a node, _L_1, has no name the user wrote)."""
    if graph[name].kind == TensorKind.ANON:
        return "a part written inside the line"
    return name


def _split(graph: Graph) -> Split:
    moving = _moving(graph)
    loss = graph[graph.loss]
    assert loss.expr is not None  # the loss is a node: graph checks it
    ell, part = loss.expr, [loss.name]
    while True:
        reads = [n for n in _refs(ell) if n in moving]
        if len(reads) != 1:
            raise _refusal(graph, "reads " + ("no tensor that moves" if not reads else
                                              f"{len(reads)} tensors that move "
                                              f"({', '.join(_called(graph, n) for n in reads)})"))
        g = reads[0]
        shape = curvature(ell, g, graph, moving)
        node = graph[g]
        if shape.kind == AFFINE and node.expr is not None:
            ell = _written_in(ell, g, node.expr)
            part.insert(0, g)
            continue
        if shape.kind not in (CONVEX, AFFINE):
            what = "concave" if shape.kind == CONCAVE else "not a convex function I recognise"
            called = _called(graph, g)
            raise _refusal(graph, f"is {what} in " + (called if called != g else f"'{g}'"))
        return Split(g, tuple(part))


def targets(graph: Graph, s: Split) -> tuple[str, ...]:
    """The fixed inputs the loss's side reads: taken to be targets in [0, 1] (the rule
    in the module's docstring), so ``verify`` draws them there."""
    moving = _moving(graph)
    out: list[str] = []
    for name in s.loss_part:
        for n in graph.operands(graph[name]):
            t = graph[n]
            if t.is_input and n not in moving and t.integer is None and n not in out:
                out.append(n)
    return tuple(out)


def _refusal(graph: Graph, why: str) -> SpecError:
    return SpecError(
        f"--gauss-newton: the loss '{graph.loss}' {why}, so it is not ℓ(f(θ)) with ℓ convex "
        "in one output f", graph[graph.loss].loc,
        "the split needs a convex loss of one node (the network's output): a squared "
        "error sum(e * e) or l2_loss(y, t), a cross-entropy on logits mean(softplus(z) - "
        "t * z) or logsumexp(z) - t @ z, -sum(t * log_softmax(z)), or BCE on "
        "probabilities, of the network's output named on a line of its own (y = A @ x, then "
        "L = l2_loss(y, t): written inside the loss line, A @ x reads two tensors that "
        "move); a regulariser on the weights makes the loss read two")


def _moving(graph: Graph) -> set[str]:
    """The tensors that depend on a wrt input (the wrt inputs too)."""
    out = set(graph.wrt)
    for t in graph.nodes:
        if set(graph.operands(t)) & out:
            out.add(t.name)
    return out


def _refs(e: FExpr) -> list[str]:
    seen: list[str] = []

    def walk(x: FExpr) -> None:
        if x.op == PseudoOp.REF and x.param("name") not in seen:
            seen.append(x.param("name"))
        for a in x.args:
            if isinstance(a, FExpr):
                walk(a)
    walk(e)
    return seen


def _written_in(e: FExpr, name: str, definition: FExpr) -> FExpr:
    """``e`` with each read of the tensor ``name`` replaced by its definition."""
    if e.op == PseudoOp.REF and e.param("name") == name:
        return definition
    if not e.args:
        return e
    args = tuple(_written_in(a, name, definition) if isinstance(a, FExpr) else a
                 for a in e.args)
    return FExpr(e.op, args, e.params, e.shape)


# -- curvature ----------------------------------------------------------------------------


def curvature(e: FExpr, g: str, graph: Graph, moving: set[str]) -> Shape:
    """The shape of ``e`` as a function of the tensor ``g`` (every other tensor fixed)."""
    if e.op == PseudoOp.REF:
        name = e.param("name")
        if name == g:
            return Shape(AFFINE)
        t = graph[name]
        fixed_input = t.kind == TensorKind.INPUT and name not in moving and t.integer is None
        return Shape(CONST, TARGET if fixed_input else ANY)
    if e.op == PseudoOp.NUM:
        v = float(Fraction(e.param("value")))
        return Shape(CONST, (v, v))
    if e.op == PseudoOp.DIM:
        return Shape(CONST, (1.0, INF))
    if e.op not in OPS:
        return Shape(CONST if _fixed(e, g) else NONE)
    args = [a for a in e.args if isinstance(a, FExpr) and a.op != PseudoOp.STR]
    shapes = [curvature(a, g, graph, moving) for a in args]
    if all(s.kind == CONST for s in shapes):
        return Shape(CONST, _values(OPS[e.op].curvature, shapes))
    return _rule(OPS[e.op].curvature, shapes, args)


def _fixed(e: FExpr, g: str) -> bool:
    return g not in _refs(e)


def _values(rule: str, s: list[Shape]) -> Interval:
    """The interval of a constant made by ``rule`` from constants."""
    if rule == "add":
        return (s[0].values[0] + s[1].values[0], s[0].values[1] + s[1].values[1])
    if rule == "sub":
        return (s[0].values[0] - s[1].values[1], s[0].values[1] - s[1].values[0])
    if rule == "neg":
        return (-s[0].values[1], -s[0].values[0])
    if rule == "mul":
        return _times(s[0].values, s[1].values)
    return ANY


def _times(a: Interval, b: Interval) -> Interval:
    ends = [x * y for x in a for y in b if not (x == 0 and abs(y) == INF or
                                                y == 0 and abs(x) == INF)]
    return (min(ends), max(ends)) if ends else ANY


def _flip(kind: str) -> str:
    return {CONVEX: CONCAVE, CONCAVE: CONVEX}.get(kind, kind)


def _sum(a: str, b: str) -> str:
    if a == CONST:
        return b
    if b == CONST:
        return a
    if a == AFFINE:
        return b
    if b == AFFINE:
        return a
    return a if a == b else NONE


def _scaled(c: Interval, kind: str) -> str:
    """A constant of values ``c`` times a part of curvature ``kind``."""
    if kind in (AFFINE, CONST):
        return kind
    if c[0] >= 0:
        return kind
    if c[1] <= 0:
        return _flip(kind)
    return NONE


def _rule(rule: str, s: list[Shape], args: list[FExpr]) -> Shape:
    """The curvature of an op by its rule, some argument moving."""
    kinds = [x.kind for x in s]
    if rule == "linear":
        return Shape(kinds[0] if all(k == CONST for k in kinds[1:]) else NONE)
    if rule == "add":
        return Shape(_sum(kinds[0], kinds[1]))
    if rule == "sub":
        return Shape(_sum(kinds[0], _flip(kinds[1])))
    if rule == "neg":
        return Shape(_flip(kinds[0]))
    if rule == "mul":
        if s[0].kind == CONST or s[1].kind == CONST:
            c, x = (s[0], s[1]) if s[0].kind == CONST else (s[1], s[0])
            return Shape(_scaled(c.values, x.kind))
        # e * e, a square of an affine part
        return Shape(CONVEX if args[0] == args[1] and kinds[0] == AFFINE else NONE)
    if rule == "div":
        if s[1].kind != CONST or s[1].values[0] <= 0 <= s[1].values[1]:
            return Shape(NONE)
        lo, hi = s[1].values
        return Shape(_scaled((1 / hi, 1 / lo), kinds[0]))
    if rule == "pow":
        p = s[1].values[0] if s[1].kind == CONST and s[1].values[0] == s[1].values[1] else None
        if p == 1:
            return Shape(kinds[0])
        even = p is not None and p >= 2 and p == int(p) and int(p) % 2 == 0
        return Shape(CONVEX if even and kinds[0] == AFFINE else NONE)
    if rule == "contract":
        moving = [k for k in kinds if k != CONST]
        return Shape(AFFINE if moving == [AFFINE] else NONE)
    return Shape(_function(rule, kinds))


def _function(rule: str, kinds: list[str]) -> str:
    """A convex or concave function (``rule`` as in ScalarFn.curvature) of its arguments:
    of affine arguments it keeps its shape; a monotone one of one argument composes as
    DCP says (convex increasing of convex is convex, convex decreasing of concave too)."""
    shape, _, monotone = rule.partition(" ")
    if shape not in (CONVEX, CONCAVE):
        return NONE
    if all(k in (AFFINE, CONST) for k in kinds):
        return shape
    if len([k for k in kinds if k != CONST]) != 1 or not monotone:
        return NONE
    (arg,) = [k for k in kinds if k != CONST]
    keeps = {("increasing", shape), ("decreasing", _flip(shape))}
    return shape if (monotone, arg) in keeps else NONE


__all__ = ["Shape", "Split", "curvature", "split", "targets"]
