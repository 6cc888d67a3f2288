"""Roles inputs play in the loss, read from the graph's structure (never from names).

A note about a tensor may only rest on what the tensor *is* in the model.
Today there is one role: the target of a softmax cross-entropy.  An input
``T`` is one when some node reduces ``T ⊙ log_softmax(Z)`` (or
``T ⊙ log(softmax(Z))``), up to constant factors and signs, over the softmax
axis.  Then, and only then, "each row of T sums to one" is a premise worth
stating: it is what one-hot and probability targets satisfy.
"""

from __future__ import annotations

from .graph import Graph
from .kinds import PseudoOp
from .ops import LOG, LOG_SOFTMAX, MEAN, NEG, SOFTMAX, SUM, TIMES, FExpr

Pair = tuple[int, str]  # (the softmax axis, the logits it reads)

REDUCTIONS = (SUM, MEAN)


def softmax_targets(graph: Graph) -> dict[str, frozenset[Pair]]:
    """Each input that is a softmax cross-entropy's target, with (axis, logits) pairs: the
    softmax axis it is normalised along (``T``'s own axis numbers) and the tensor the
    softmax reads."""
    found: dict[str, set[Pair]] = {}

    def visit(e: FExpr) -> None:
        if e.op in REDUCTIONS:
            for name, axis, logits in _target_axes(graph, e.args[0]):
                if axis in e.param("axes"):
                    found.setdefault(name, set()).add((axis, logits))
        for a in e.args:
            if isinstance(a, FExpr):
                visit(a)
    for t in graph.nodes:
        if t.expr is not None:
            visit(t.expr)
    return {k: frozenset(v) for k, v in found.items()}


def _resolve(graph: Graph, e: FExpr) -> FExpr:
    """A reference to a node stands for the node's definition."""
    while e.op == PseudoOp.REF and not graph[e.param("name")].is_input:
        definition = graph[e.param("name")].expr
        assert definition is not None  # a node has a definition
        e = definition
    return e


def _factors(graph: Graph, e: FExpr) -> list[FExpr]:
    """The factors of an elementwise product, through node references and signs."""
    e = _resolve(graph, e)
    if e.op == NEG:
        return _factors(graph, e.args[0])
    if e.op == TIMES:
        return _factors(graph, e.args[0]) + _factors(graph, e.args[1])
    return [e]


def _log_softmax(graph: Graph, e: FExpr) -> FExpr | None:
    """The softmax (or log-softmax) of ``log_softmax(Z)`` or ``log(softmax(Z))``; None for
    anything else.  Its argument is a reference to ``Z`` (graph.py makes it one)."""
    if e.op == LOG_SOFTMAX:
        return e
    if e.op == LOG:
        inner = _resolve(graph, e.args[0])
        if inner.op == SOFTMAX:
            return inner
    return None


def _target_axes(graph: Graph, product: FExpr) -> list[tuple[str, int, str]]:
    """(input, softmax axis, logits) when ``product`` is an input times one log-softmax, of
    the same shape (so the axes line up), times constants."""
    factors = _factors(graph, product)
    softmaxes = [s for s in (_log_softmax(graph, f) for f in factors) if s is not None]
    inputs = [f for f in factors if f.op == PseudoOp.REF]
    rest = [f for f in factors if f.op != PseudoOp.REF and _log_softmax(graph, f) is None]
    if len(softmaxes) != 1 or len(inputs) != 1 or not all(f.is_const for f in rest):
        return []
    (softmax,), (target,) = softmaxes, inputs
    if target.shape != softmax.shape:
        return []
    return [(target.param("name"), softmax.param("axis"), softmax.args[0].param("name"))]
