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
from .ops import FExpr

REDUCTIONS = ("sum", "mean")


def softmax_targets(graph: Graph) -> dict[str, frozenset]:
    """Each input that is a softmax cross-entropy's target, with the softmax axes it is
    normalised along (``T``'s own axis numbers)."""
    found: dict[str, set] = {}

    def visit(e: FExpr) -> None:
        if e.op in REDUCTIONS:
            for name, axis in _target_axes(graph, e.args[0]):
                if axis in e.param("axes"):
                    found.setdefault(name, set()).add(axis)
        for a in e.args:
            if isinstance(a, FExpr):
                visit(a)
    for t in graph.nodes:
        visit(t.expr)
    return {k: frozenset(v) for k, v in found.items()}


def _resolve(graph: Graph, e: FExpr) -> FExpr:
    """A reference to a node stands for the node's definition."""
    while e.op == "ref" and not graph[e.param("name")].is_input:
        e = graph[e.param("name")].expr
    return e


def _factors(graph: Graph, e: FExpr) -> list[FExpr]:
    """The factors of an elementwise product, through node references and signs."""
    e = _resolve(graph, e)
    if e.op == "neg":
        return _factors(graph, e.args[0])
    if e.op == "*":
        return _factors(graph, e.args[0]) + _factors(graph, e.args[1])
    return [e]


def _log_softmax_axis(graph: Graph, e: FExpr) -> int | None:
    """The axis of ``log_softmax(Z)`` or ``log(softmax(Z))``; None for anything else."""
    if e.op == "log_softmax":
        return e.param("axis")
    if e.op == "log":
        inner = _resolve(graph, e.args[0])
        if inner.op == "softmax":
            return inner.param("axis")
    return None


def _target_axes(graph: Graph, product: FExpr) -> list[tuple[str, int]]:
    """(input, softmax axis) when ``product`` is an input times one log-softmax, of the
    same shape (so the axes line up), times constants."""
    factors = _factors(graph, product)
    logs = [(f, _log_softmax_axis(graph, f)) for f in factors]
    logs = [(f, ax) for f, ax in logs if ax is not None]
    inputs = [f for f in factors if f.op == "ref"]
    rest = [f for f in factors if f.op != "ref" and _log_softmax_axis(graph, f) is None]
    if len(logs) != 1 or len(inputs) != 1 or not all(f.is_const for f in rest):
        return []
    (log, axis), target = logs[0], inputs[0]
    if target.shape != log.shape:
        return []
    return [(target.param("name"), axis)]
