"""What backprop costs, read off the derivation: FLOPs per formula, what is saved, what recomputing saves.

Every count comes from the tree that is printed and compiled (the matrix form, or the index
form where there is none), walked once, so the cost is linear in the graph and symbolic in the
dims: nothing is expanded, and sizes only enter when a number is asked for (:meth:`Cost.at`).

Conventions (as the generated code computes each formula, without common subexpressions: a
forward node from its definition, the FExpr tree; an adjoint from its printed form):

- a product of an m×k and a k×n matrix is 2mkn FLOPs (a multiply and an add per term); a
  matrix-vector product and a dot product are the same rule with n = 1 (and m = 1).  These,
  and einsum contractions (pairwise, left to right, as ``torch.einsum`` does), are *matmul*
  FLOPs, the ones PyTorch's ``FlopCounterMode`` counts;
- an outer product (k = 1) is m·n multiplies; every elementwise operation (⊙, ⊘, +, −, a
  power, a scale) is one FLOP per element of its result; a negation, a transpose, 𝟏 and I
  are free;
- a scalar function (σ, tanh, exp, √ ...) is one FLOP per element; a derivative helper such
  as σ'(z) is counted as the formula its ``where`` line gives (y ⊙ (1 − y): two);
- a reduction (sum, rowsum, colsum) is one FLOP per element it reads;
- softmax is five FLOPs per element (max, subtract, exp, sum, divide), logsumexp four per
  element read (max, subtract, exp, sum) and two per element written (log, add).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sympy  # type: ignore[import-untyped]
from sympy import Expr, Indexed, KroneckerDelta, Mul, Sum, Symbol

from . import matrix as mx
from .indexed import key_of
from .ops import SCALARS, AxisFunction, ElementwiseFunction
from .record import Record

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4, "fp64": 8}
ZERO: Expr = sympy.S.Zero
# FLOPs per element of an axis function: (per element read, per element written)
AXIS_FLOPS = {"softmax": (5, 0), "logsumexp": (4, 2)}


class Flops(Record):
    """FLOPs split the way FLOP counters split them: matrix products, and the rest."""

    matmul: Any = ZERO  # a SymPy expression in the dims' size symbols
    other: Any = ZERO

    @property
    def total(self) -> Expr:
        return sympy.expand(self.matmul + self.other)

    def __add__(self, o: Flops) -> Flops:
        return Flops(self.matmul + o.matmul, self.other + o.other)


class FormulaCost(Record):
    """One formula: a forward node's definition or an adjoint, its FLOPs and what it reads."""

    tensor: str
    phase: str  # 'forward' or 'backward'
    flops: Flops
    reads: tuple[Any, ...]  # names of the forward tensors (inputs and nodes) the formula reads
    form: str  # 'definition' (a forward node's FExpr), 'matrix' or 'index' (no matrix form)


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
    policies: tuple[Any, ...]  # Policy: store all, selective, full

    @property
    def forward_flops(self) -> Flops:
        return _sum(f.flops for f in self.forward)

    @property
    def backward_flops(self) -> Flops:
        return _sum(f.flops for f in self.backward)

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


def as_expr(x: Any) -> Expr:
    """A count as a SymPy expression (a Python int where a sum of nothing was 0)."""
    return sympy.Integer(x) if isinstance(x, int) else x


def _sum(items: Iterable[Flops]) -> Flops:
    out = Flops()
    for f in items:
        out = out + f
    return Flops(sympy.expand(out.matmul), sympy.expand(out.other))


def cost(d: Any, sizes: Mapping[str, int] | None = None) -> Cost:
    """The cost of derivation ``d``; ``sizes`` override the spec's dim sizes."""
    ctx = d.index.ctx
    dims = tuple((name, ctx.sizes[name]) for name in ctx.dim_names)
    given = dict(d.graph.dims)
    given.update(sizes or {})
    known = tuple((name, given.get(name)) for name, _ in dims)
    counter = _Counter(d)
    forward = tuple(counter.forward(t) for t in d.graph.nodes)
    backward = tuple(counter.formula(a.name, "backward", a.form)
                     for a in d.adjoints if a.name != d.loss)
    saved = _saved(d, forward, backward, counter)
    policies = _policies(d, forward, saved)
    return Cost(d.name, d.loss, dims, known, forward, backward, saved, policies)


# ---------------------------------------------------------------------------------------------
# Counting one formula


class _Counter:
    """Counts the FLOPs of the trees of one derivation, and the forward tensors they read."""

    def __init__(self, d: Any):
        self.d = d
        self.graph = d.graph
        self.ctx = d.index.ctx
        self.sizes: dict[str, Expr] = dict(self.ctx.sizes)
        self.matmul_inputs: set[str] = set()

    def size(self, s: Any) -> Expr:
        return self.sizes[s] if isinstance(s, str) else sympy.Integer(s)

    def numel(self, shape: tuple[Any, ...]) -> Expr:
        return sympy.Mul(*[self.size(s) for s in shape])

    # -- formulas -----------------------------------------------------------------------

    def forward(self, t: Any) -> FormulaCost:
        """A forward node (or anonymous intermediate) as the generated code computes it: from
        its FExpr tree, not from the matrix form printed beside it."""
        walk = _ForwardWalk(self)
        flops = walk.flops(t.expr)
        self.matmul_inputs |= walk.matmul_inputs
        return FormulaCost(t.name, "forward", _tidy(flops), _ordered(self.graph, walk.reads),
                           "definition")

    def formula(self, name: str, phase: str, form: Any) -> FormulaCost:
        if form.matrix is None:
            return self._index(name, phase, form.index, form.idx)
        return self._matrix(name, phase, form.matrix, form.wheres)

    def _matrix(self, name: str, phase: str, m: mx.M, wheres: tuple[Any, ...]) -> FormulaCost:
        tree = _MatrixWalk(self, {w.lhs: w.rhs for w in wheres})
        flops = tree.flops(m)
        return FormulaCost(name, phase, _tidy(flops), _ordered(self.graph, tree.reads), "matrix")

    def _index(self, name: str, phase: str, expr: Any, idx: tuple[Any, ...]) -> FormulaCost:
        walk = _IndexWalk(self)
        flops = walk.flops(expr, tuple(i for i in idx if i != 0))
        return FormulaCost(name, phase, _tidy(flops), _ordered(self.graph, walk.reads), "index")



def _tidy(f: Flops) -> Flops:
    return Flops(sympy.expand(f.matmul), sympy.expand(f.other))


def _ordered(graph: Any, names: set[str]) -> tuple[Any, ...]:
    order = {t.name: n for n, t in enumerate(graph.tensors)}
    return tuple(sorted(names, key=order.__getitem__))


class _ForwardWalk:
    """FLOPs of a forward node's FExpr tree, op by op, as the generated code computes it."""

    def __init__(self, counter: _Counter):
        self.c = counter
        self.reads: set[str] = set()
        self.matmul_inputs: set[str] = set()

    def flops(self, e: Any) -> Flops:
        args = [a for a in e.args if hasattr(a, "op")]
        inner = _sum(self.flops(a) for a in args)
        if e.op == "ref":
            self.reads.add(e.param("name"))
        if e.op in ("@", "einsum"):
            self.matmul_inputs.update(r for r in map(_ref_name, args) if r)
        return inner + self._here(e, args)

    def _here(self, e: Any, args: list[Any]) -> Flops:
        numel = self.c.numel
        if e.op in ("ref", "num", "dim", "neg", "transpose"):
            return Flops()
        if e.op == "@":  # NumPy's matmul: 2k FLOPs per element of the result
            return Flops(2 * numel(e.shape) * self.c.size(args[0].shape[-1]), ZERO)
        if e.op == "einsum":
            sub = e.param("subscripts")
            lhs, out = sub.split("->") if "->" in sub else (sub, _implicit_output(sub))
            terms = lhs.split(",")
            sizes = {ch: self.c.size(s) for term, a in zip(terms, args)
                     for ch, s in zip(term, a.shape)}
            return einsum_flops(terms, out, sizes)
        if e.op in ("sum", "mean"):
            if not e.param("axes"):
                return Flops()
            divide = numel(e.shape) if e.op == "mean" else ZERO
            return Flops(ZERO, numel(args[0].shape) + divide)
        if e.op == "l2_loss":  # Σ (a − b)²: subtract, square, add
            return Flops(ZERO, 3 * numel(args[0].shape))
        if e.op in ("softmax", "logsumexp", "log_softmax"):
            head = "logsumexp" if e.op == "log_softmax" else e.op
            read, written = AXIS_FLOPS[head]
            kept = numel(args[0].shape) / self.c.size(args[0].shape[e.param("axis")])
            out = numel(e.shape) if head == "logsumexp" and e.op != "log_softmax" else kept
            extra = numel(e.shape) if e.op == "log_softmax" else ZERO  # x − logsumexp(x)
            return Flops(ZERO, read * numel(args[0].shape) + written * out + extra)
        return Flops(ZERO, numel(e.shape))  # arithmetic and scalar functions: one per element


def _ref_name(e: Any) -> str | None:
    while e.op == "transpose":
        e = e.args[0]
    return e.param("name") if e.op == "ref" else None


def _implicit_output(sub: str) -> str:
    letters = sub.replace(",", "")
    return "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))


class _MatrixWalk:
    """FLOPs of one matrix-form tree, as :class:`~einderive.render.code.Compiler` compiles it."""

    def __init__(self, counter: _Counter, wheres: dict[Any, Any]):
        self.c = counter
        self.wheres = wheres
        self.reads: set[str] = set()

    def flops(self, m: mx.M) -> Flops:
        return getattr(self, "_" + type(m).__name__)(m)  # type: ignore[no-any-return]

    def _each(self, parts: Iterable[mx.M]) -> Flops:
        return _sum(self.flops(p) for p in parts)

    def _elementwise(self, per_element: int, shape: tuple[Any, ...]) -> Flops:
        return Flops(ZERO, per_element * self.c.numel(shape))

    def _Ref(self, m: mx.Ref) -> Flops:
        if m.kind in ("tensor", "anon"):
            self.reads.add(m.name)
        return Flops()

    def _none(self, m: mx.M) -> Flops:
        return Flops()

    _Const = _Ones = _Eye = _none

    def _Transpose(self, m: mx.Transpose) -> Flops:
        return self.flops(m.x)

    def _Diag(self, m: mx.Diag) -> Flops:
        return self.flops(m.x)

    def _MatMul(self, m: mx.MatMul) -> Flops:
        rows, inner, cols = (self.c.size(s) for s in (mx.rows(m.a), mx.cols(m.a), mx.cols(m.b)))
        here = Flops(ZERO, rows * cols) if inner == 1 else Flops(2 * rows * inner * cols, ZERO)
        return self._each((m.a, m.b)) + here

    def _Hadamard(self, m: Any) -> Flops:  # mx.Hadamard
        num = [f for f in m.factors if not _divides(f)]
        den = [mx.power(f.x, -f.exp) for f in m.factors if _divides(f)]
        ops = len(num) + len(den) - (1 if num else 0)  # 1 ⊘ x when nothing is on top
        return self._each(num + den) + self._elementwise(ops, m.shape)

    def _Scale(self, m: Any) -> Flops:  # mx.Scale
        free = isinstance(m.coeff, mx.Const) and m.coeff.value in (1, -1)
        return self._each((m.coeff, m.x)) + self._elementwise(0 if free else 1, m.x.shape)

    def _Add(self, m: mx.Add) -> Flops:
        return self._each(m.terms) + self._elementwise(len(m.terms) - 1, m.shape)

    def _Pow(self, m: mx.Pow) -> Flops:
        return self.flops(m.x) + self._elementwise(1, m.shape)

    def _Fn(self, m: mx.Fn) -> Flops:
        if SCALARS[m.name].expand is not None and m in self.wheres:
            return self.flops(self.wheres[m])  # the code computes the where's right side
        return self.flops(m.x) + self._elementwise(1, m.shape)

    def _AxisFn(self, m: Any) -> Flops:  # mx.AxisFn
        read, written = AXIS_FLOPS[m.head]
        per = read * self.c.numel(m.x.shape) + written * self.c.numel(m.shape)
        return self.flops(m.x) + Flops(ZERO, per)

    def _Reduce(self, m: Any) -> Flops:  # mx.Reduce
        axis = {"rowsum": mx.cols(m.x), "colsum": mx.rows(m.x)}.get(m.kind)
        here = Flops() if axis == 1 else self._elementwise(1, m.x.shape)  # a vector's own sum
        return self.flops(m.x) + here

    def _Einsum(self, m: mx.Einsum) -> Flops:
        lhs, out = m.subscripts.split("->")
        terms = lhs.split(",")
        sizes: dict[str, Expr] = {}
        for term, x in zip(terms, m.operands):
            shape = (mx.rows(x),) if len(term) == 1 else x.shape
            sizes.update({ch: self.c.size(s) for ch, s in zip(term, shape)})
        return self._each(m.operands) + einsum_flops(terms, out, sizes)


def _divides(f: Any) -> bool:
    """A factor ``x^(-k)`` of an elementwise product, which the code divides by."""
    exp: Any = getattr(f, "exp", 0)
    return isinstance(f, mx.Pow) and bool(exp < 0)


def einsum_flops(terms: list[Any], out: str, sizes: Mapping[Any, Expr]) -> Flops:
    """An einsum contracted pairwise from the left, as ``torch.einsum`` does without
    opt_einsum: a step that sums an index both operands hold is a batched matrix product
    (2 FLOPs per point of its index space); an index only one operand holds and nothing later
    needs is summed out first (a reduction); a step that sums nothing is elementwise."""
    def points(idx: Iterable[Any]) -> Expr:
        return sympy.Mul(*[sizes[i] for i in dict.fromkeys(idx)])

    flops = Flops()
    cur = tuple(terms[0])
    rest = [tuple(t) for t in terms[1:]]
    if not rest:
        return Flops(ZERO, points(cur)) if set(cur) - set(out) else flops
    for k, nxt in enumerate(rest):
        later = set(out).union(*[set(t) for t in rest[k + 1:]])
        for side in (0, 1):
            mine, theirs = (cur, nxt) if side == 0 else (nxt, cur)
            alone = set(mine) - set(theirs) - later
            if alone:
                flops = flops + Flops(ZERO, points(mine))
                kept = tuple(i for i in mine if i not in alone)
                cur, nxt = (kept, nxt) if side == 0 else (cur, kept)
        union = cur + nxt
        contracted = (set(cur) & set(nxt)) - later
        flops = flops + (Flops(2 * points(union), ZERO) if contracted
                         else Flops(ZERO, points(union)))
        cur = tuple(i for i in dict.fromkeys(union) if i in later)
    return flops


class _IndexWalk:
    """FLOPs of an index form, as :class:`~einderive.render.einsum.IndexCompiler` compiles it
    (the fallback for a formula with no matrix form)."""

    def __init__(self, counter: _Counter):
        self.c = counter
        self.ctx = counter.ctx
        self.reads: set[str] = set()
        self.limits: dict[Symbol, str] = {}

    def dim(self, i: Any) -> Expr:
        name: Any = self.ctx.index_dim.get(i) or self.limits.get(i)
        return self.c.sizes[name]

    def points(self, idx: Iterable[Any]) -> Expr:
        return sympy.Mul(*[self.dim(i) for i in idx])

    def flops(self, expr: Any, out: tuple[Any, ...]) -> Flops:
        f, idx = self.walk(expr)
        missing = [i for i in out if i not in idx]
        return f + (Flops(ZERO, self.points(out)) if missing else Flops())  # spread by ones

    def walk(self, e: Any) -> tuple[Flops, tuple[Any, ...]]:
        if e.is_Number:
            return Flops(), ()
        if isinstance(e, Symbol):
            self._read(e)
            return Flops(), ()
        if isinstance(e, Indexed):
            self._read(key_of(e))  # type: ignore[no-untyped-call]
            idx = tuple(dict.fromkeys(i for i in e.indices if i != 0))
            return Flops(), idx
        if isinstance(e, sympy.Add):
            parts = [self.walk(t) for t in sympy.Add.make_args(e)]
            idx = tuple(dict.fromkeys(i for _, ix in parts for i in ix))
            here = Flops(ZERO, (len(parts) - 1) * self.points(idx))
            return _sum([f for f, _ in parts] + [here]), idx
        if isinstance(e, Mul):
            return self._product(Mul.make_args(e), ())
        if isinstance(e, Sum):
            for var, _lo, hi in e.limits:
                self.limits[var] = self.ctx.limit_dim(hi)
            body = e.function
            return self._product(Mul.make_args(body) if isinstance(body, Mul) else (body,),
                                 tuple(v for v, _, _ in e.limits))
        if isinstance(e, KroneckerDelta):
            return Flops(), tuple(i for i in dict.fromkeys(e.args) if isinstance(i, Symbol))
        if isinstance(e, (sympy.Pow, ElementwiseFunction)):
            f, idx = self.walk(e.args[0])
            return f + Flops(ZERO, self.points(idx)), idx
        if isinstance(e, AxisFunction):
            name = self.ctx.tensor_of[key_of(e.label)]  # type: ignore[no-untyped-call]
            self.reads.add(name)
            shape = self.c.graph[name].shape
            read, written = AXIS_FLOPS[e.head]
            idx = tuple(i for i in e.indices if isinstance(i, Symbol))
            return Flops(ZERO, read * self.c.numel(shape) + written * self.points(idx)), idx
        raise ValueError(f"no FLOP count for {type(e).__name__}")  # pragma: no cover

    def _read(self, key: Any) -> None:
        if key in self.ctx.tensor_of:
            self.reads.add(self.ctx.tensor_of[key])

    def _product(self, factors: tuple[Any, ...], summed: tuple[Any, ...]) -> tuple[Flops, tuple[Any, ...]]:
        parts = [self.walk(f) for f in factors]
        flops = _sum(f for f, _ in parts)
        tensors = [ix for _, ix in parts if ix]
        n_scalars = len(parts) - len(tensors)
        out = tuple(i for i in dict.fromkeys(i for ix in tensors for i in ix) if i not in summed)
        if tensors and all(ix == out for ix in tensors):
            flops = flops + Flops(ZERO, (len(tensors) - 1) * self.points(out))
        elif tensors:
            flops = flops + _einsum_to(tensors, out, self.dim)
        return flops + Flops(ZERO, n_scalars * self.points(out)), out


def _einsum_to(tensors: list[Any], out: tuple[Any, ...], dim: Any) -> Flops:
    """:func:`einsum_flops` over index symbols rather than letters."""
    letter = {i: chr(0x4E00 + n) for n, i in enumerate(dict.fromkeys(i for t in tensors for i in t))}
    sizes = {letter[i]: dim(i) for i in letter}
    return einsum_flops(["".join(letter[i] for i in t) for t in tensors],
                        "".join(letter[i] for i in out), sizes)


# ---------------------------------------------------------------------------------------------
# Saved for backward, and recomputation


def _saved(d: Any, forward: tuple[Any, ...], backward: tuple[Any, ...], counter: _Counter) -> tuple[Any, ...]:
    readers: dict[str, list[str]] = {}
    for f in backward:
        for name in f.reads:
            readers.setdefault(name, []).append(f.tensor)
    defs = {f.tensor: f for f in forward}
    names = _ordered(d.graph, set(readers))
    out = []
    for name in names:
        t = d.graph[name]
        kind = "input" if t.is_input else "node"
        shape = tuple(t.shape)
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
    return _sum(defs[n].flops for n in sorted(need))


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
    poly = sympy.Poly(e, *syms)
    top = poly.total_degree()
    return sympy.Add(*[coeff * sympy.Mul(*[s ** k for s, k in zip(syms, monom)])
                       for monom, coeff in poly.terms() if sum(monom) == top])
