"""What backprop costs: FLOPs per formula, what is saved, what recomputing would save.

Every count comes from the tree that is printed and compiled (:mod:`einderive.flops` counts
one formula, with the conventions stated there), so the cost is linear in the graph and
symbolic in the dims: nothing is expanded, and sizes only enter when a number is asked for
(:meth:`Cost.at`).  :func:`table` gives every quantity symbolically and at the sizes, for the
renderers (:mod:`einderive.render.cost`), which only lay it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy
from sympy import Expr

from .flops import ZERO, Counter, Flops, FormulaCost, as_expr, ordered, total
from .record import Record
from .spec import sizes_with

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4, "fp64": 8}


class Saved(Record):
    """A forward tensor some adjoint formula reads, kept from the forward to the backward pass."""

    name: str
    kind: str  # 'input' (the caller holds it anyway) or 'node' (an activation)
    shape: tuple[Any, ...]
    elements: Any  # SymPy expression
    readers: tuple[Any, ...]  # the adjoints whose formulas read it, in backward order
    freed_after: str  # the last of them: the tensor can be freed once it is computed
    recompute: Flops | None  # FLOPs to recompute it from the rest of what is saved (nodes)
    matmul_input: bool  # an operand of a matrix product in the forward pass


class Policy(Record):
    """A choice of what to keep: the activations kept, and the FLOPs recomputing the rest adds."""

    name: str
    kept: tuple[Any, ...]  # names of the activations (nodes) kept
    recomputed: tuple[Any, ...]  # names recomputed in the backward pass
    elements: Any  # elements of the activations kept
    added: Flops


class Cost(Record):
    """The cost of one derivation's forward and backward pass."""

    name: str
    loss: str
    dims: tuple[Any, ...]  # ((dim name, size symbol), ...)
    sizes: tuple[Any, ...]  # ((dim name, int | None), ...): the spec's sizes, or those asked for
    forward: tuple[Any, ...]  # FormulaCost, in the graph's order
    backward: tuple[Any, ...]  # FormulaCost, in backward order (the loss's own adjoint left out)
    saved: tuple[Any, ...]  # Saved, in the graph's order
    policies: tuple[Any, ...]  # Policy: store all, selective, no matmul recomputed, full

    @property
    def forward_flops(self) -> Flops:
        return total(f.flops for f in self.forward)

    @property
    def backward_flops(self) -> Flops:
        return total(f.flops for f in self.backward)

    @property
    def matmul_ratio(self) -> Expr | None:
        """Backward over forward matmul FLOPs (2 for a block of matrix products)."""
        fwd = self.forward_flops.matmul
        return None if fwd == 0 else sympy.cancel(self.backward_flops.matmul / fwd)

    @property
    def activation_elements(self) -> Expr:
        return sympy.expand(sum((s.elements for s in self.saved if s.kind == "node"), ZERO))

    @property
    def input_elements(self) -> Expr:
        return sympy.expand(sum((s.elements for s in self.saved if s.kind == "input"), ZERO))

    def known(self) -> bool:
        """Whether every dim has a size, so that numbers can be given."""
        return all(size is not None for _, size in self.sizes)

    def at(self, x: Any) -> Any:
        """``x`` (an expression in the dims) at the sizes; an int, or a Rational for a ratio."""
        subs = {sym: sympy.Integer(size) for (_, sym), (_, size) in zip(self.dims, self.sizes)}
        value = as_expr(x).xreplace(subs)
        return int(value) if value.is_Integer else value


def cost(d: Any, sizes: Mapping[str, int] | None = None) -> Cost:
    """The cost of derivation ``d``; ``sizes`` override the spec's dim sizes."""
    ctx = d.index.ctx
    # a stack's count dim (n2) is its number in every count (flops.Counter), never a size
    dims = tuple((name, ctx.sizes[name]) for name in ctx.dim_names
                 if ctx.sizes[name] not in ctx.counts)
    given = sizes_with(d.graph.spec.dims, sizes or {})  # defined dims follow the others
    if sizes:  # a slice must fit at the sizes --dims gives, as at the spec's
        from .graph import check_slices
        check_slices(d.graph, {k: v for k, v in given.items() if v is not None})
    known = tuple((name, given.get(name)) for name, _ in dims)
    counter = Counter(d)
    forward = tuple(counter.forward(t) for t in d.graph.nodes)
    backward = tuple(counter.formula(a.name, "backward", a.form)
                     for a in d.adjoints if a.name != d.loss)
    saved = _saved(d, forward, backward, counter)
    policies = _policies(d, forward, saved)
    return Cost(d.name, d.loss, dims, known, forward, backward, saved, policies)


# ---------------------------------------------------------------------------------------------
# Saved for backward, and recomputation


def _saved(d: Any, forward: tuple[Any, ...], backward: tuple[Any, ...],
           counter: Counter) -> tuple[Any, ...]:
    readers: dict[str, list[str]] = {}
    for f in backward:
        for name in f.reads:
            readers.setdefault(name, []).append(f.tensor)
    defs = {f.tensor: f for f in forward}
    names = ordered(d.graph, set(readers))
    out = []
    for name in names:
        t = d.graph[name]
        kind = "input" if t.is_input else "node"
        # a stack's count dim (n2) by its number, as the forms print the shape (3×B×D)
        shape = tuple(d.graph.counts.get(x, x) if isinstance(x, str) else x for x in t.shape)
        recompute = None if t.is_input else _recompute({name}, set(names) - {name}, defs)
        out.append(Saved(name, kind, shape, counter.numel(shape), tuple(readers[name]),
                         readers[name][-1], recompute, name in counter.matmul_inputs))
    return tuple(out)


def _recompute(targets: set[str], kept: set[str], defs: Mapping[str, FormulaCost]) -> Flops:
    """FLOPs to make ``targets`` again from the inputs and the ``kept`` tensors: their forward
    formulas, and those of every node they need that is not kept, each once."""
    need: set[str] = set()
    todo = list(targets)
    while todo:
        name = todo.pop()
        if name in need or name not in defs:  # an input: always at hand
            continue
        need.add(name)
        todo += [r for r in defs[name].reads if r not in kept]
    return total(defs[n].flops for n in sorted(need))


def _policies(d: Any, forward: tuple[Any, ...], saved: tuple[Any, ...]) -> tuple[Any, ...]:
    """What to keep, in the terms of Korthikanti et al. 2022 ("Reducing Activation Recomputation
    in Large Transformer Models"): store every activation; selective recomputation, keeping only
    the inputs of matrix products and recomputing the rest; keeping besides them what only a
    matrix product would make again (so that recomputing adds no matmul FLOPs); full activation
    recomputation, keeping only the block's inputs and running its forward pass again."""
    defs = {f.tensor: f for f in forward}
    nodes = [s for s in saved if s.kind == "node"]
    costly = {s.name for s in nodes if s.recompute is not None and s.recompute.matmul != 0}
    choices: tuple[tuple[str, list[str]], ...] = (("store all", [s.name for s in nodes]),
               ("selective", [s.name for s in nodes if s.matmul_input]),
               ("no matmul recomputed", [s.name for s in nodes
                                         if s.matmul_input or s.name in costly]),
               ("full", []))
    out = []
    for name, kept in choices:
        redo = tuple(s.name for s in nodes if s.name not in kept)
        elements = sympy.expand(sum((s.elements for s in nodes if s.name in kept), ZERO))
        added = _recompute(set(redo), set(kept), defs) if redo else Flops()
        out.append(Policy(name, tuple(kept), redo, elements, added))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The table the renderers print: every quantity symbolic and, at the sizes, a number


class Q(Record):
    """A quantity: symbolic in the dims, and its value at the sizes (None: a dim has no size)."""

    sym: Any
    num: Any  # an int, a SymPy Rational for a ratio, or None


class Row(Record):
    """One formula's line: FLOPs, what it reads; for an adjoint, what may be freed after it."""

    tensor: str
    phase: str
    form: str
    reads: tuple[Any, ...]
    matmul: Q
    other: Q
    total: Q
    freed: tuple[Any, ...] = ()  # activations and inputs read for the last time here
    live: Q | None = None  # activation elements still held after this formula
    live_bytes: Q | None = None


class SavedRow(Record):
    name: str
    kind: str
    shape: tuple[Any, ...]
    elements: Q
    bytes: Q
    readers: tuple[Any, ...]
    freed_after: str
    matmul_input: bool
    recompute: Q | None  # FLOPs to recompute it from the rest of what is saved
    recompute_matmul: Q | None


class PolicyRow(Record):
    name: str
    kept: tuple[Any, ...]
    recomputed: tuple[Any, ...]
    elements: Q
    bytes: Q
    saved_bytes: Q  # memory it saves, compared with storing every activation
    added: Q  # FLOPs recomputation adds
    added_matmul: Q


class CostTable(Record):
    name: str
    loss: str
    dtype: str
    bytes_per_element: int
    sizes: tuple[Any, ...]  # ((dim, int | None), ...)
    forward: tuple[Any, ...]  # Row
    backward: tuple[Any, ...]  # Row
    forward_total: Row
    backward_total: Row
    matmul_ratio: Q | None  # backward over forward matmul FLOPs
    leading_ratio: Q | None  # backward over forward FLOPs, highest-degree terms only
    total_ratio: Q | None  # backward over forward FLOPs, all of them
    saved: tuple[Any, ...]  # SavedRow
    activation_elements: Q
    activation_bytes: Q
    input_elements: Q
    input_bytes: Q
    policies: tuple[Any, ...]  # PolicyRow


def table(c: Cost, dtype: str = "fp32") -> CostTable:
    """Everything the renderers show of ``c``, for tensors of ``dtype``."""
    width = DTYPE_BYTES[dtype]

    def q(x: Any, ratio: bool = False) -> Q:
        x = x if ratio else sympy.expand(x)
        return Q(x, c.at(x) if c.known() else None)

    def row(f: FormulaCost, freed: tuple[Any, ...] = (), live: Any = None) -> Row:
        return Row(f.tensor, f.phase, f.form, f.reads, q(f.flops.matmul), q(f.flops.other),
                   q(f.flops.total), freed, None if live is None else q(live),
                   None if live is None else q(live * width))

    forward = tuple(row(f) for f in c.forward)
    live = c.activation_elements
    backward = []
    elements = {s.name: s.elements for s in c.saved if s.kind == "node"}
    for f in c.backward:
        freed = tuple(s.name for s in c.saved if s.freed_after == f.tensor)
        live = live - sum((elements.get(n, ZERO) for n in freed), ZERO)
        backward.append(row(f, freed, live))
    fwd, bwd = c.forward_flops, c.backward_flops
    store_all = c.policies[0].elements
    ratio = c.matmul_ratio
    lead = _leading_ratio(bwd.total, fwd.total, [s for _, s in c.dims])
    return CostTable(
        c.name, c.loss, dtype, width, c.sizes, forward, tuple(backward),
        row(FormulaCost("forward", "forward", fwd, (), "matrix")),
        row(FormulaCost("backward", "backward", bwd, (), "matrix")),
        None if ratio is None else q(ratio, True), None if lead is None else q(lead, True),
        None if fwd.total == 0 else q(sympy.cancel(bwd.total / fwd.total), True),
        tuple(SavedRow(s.name, s.kind, s.shape, q(s.elements), q(s.elements * width),
                       s.readers, s.freed_after, s.matmul_input,
                       None if s.recompute is None else q(s.recompute.total),
                       None if s.recompute is None else q(s.recompute.matmul))
              for s in c.saved),
        q(c.activation_elements), q(c.activation_elements * width),
        q(c.input_elements), q(c.input_elements * width),
        tuple(PolicyRow(p.name, p.kept, p.recomputed, q(p.elements), q(p.elements * width),
                        q((store_all - p.elements) * width), q(p.added.total),
                        q(p.added.matmul))
              for p in c.policies))


def _leading_ratio(num: Expr, den: Expr, syms: list[Any]) -> Expr | None:
    """The ratio of the highest-degree terms: 2 for a block whose backward pass is twice its
    forward pass up to elementwise (lower-degree) terms."""
    if den == 0 or num == 0:
        return None
    return sympy.cancel(_leading(num, syms) / _leading(den, syms))


def _leading(e: Expr, syms: list[Any]) -> Expr:
    if not syms:  # a spec of scalars only: a constant is its own leading term (Poly needs a symbol)
        return e
    poly = sympy.Poly(e, *syms)
    top = poly.total_degree()
    return sympy.Add(*[coeff * sympy.Mul(*[s ** k for s, k in zip(syms, monom)])
                       for monom, coeff in poly.terms() if sum(monom) == top])
