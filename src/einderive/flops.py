"""FLOPs of one formula, counted on the tree the generated code is compiled from.

Three walks, one per kind of tree: a forward node's definition (its FExpr), an adjoint's matrix
form, and an index form (where there is no matrix form, compiled into einsums).  Each visits
every node once and multiplies symbolic sizes, so a count is linear in the tree and never
depends on a dim's size.

Conventions (as the generated code computes each formula, without common subexpressions: a
forward node from its definition, the FExpr tree; an adjoint from its printed form):

- a product of an m×k and a k×n matrix is 2mkn FLOPs (a multiply and an add per term); a
  matrix-vector product and a dot product are the same rule with n = 1 (and m = 1).  These,
  and einsum contractions (pairwise, left to right, as PyTorch's einsum does), are *matmul*
  FLOPs, the ones PyTorch's ``FlopCounterMode`` counts (once told that ``mv`` and ``dot``
  are products too); a forward ``a @ b`` is 2k FLOPs per element of its result;
- an outer product in a printed form (k = 1, compiled to ``outer``) is m·n multiplies;
- every elementwise operation (⊙, ⊘, +, −, a power, a scale) is one FLOP per element of its
  result; a negation, a transpose, 𝟏 and I are free;
- a scalar function (σ, tanh, exp, √ ...) is one FLOP per element; a derivative helper such
  as σ'(z) is counted as the formula its ``where`` line gives (y ⊙ (1 − y): two);
- a reduction (sum, rowsum, colsum) is one FLOP per element it reads;
- softmax is five FLOPs per element (max, subtract, exp, sum, divide), logsumexp four per
  element read (max, subtract, exp, sum) and two per element written (log, add).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sympy
from sympy import Expr, Indexed, KroneckerDelta, Mul, Sum, Symbol

from . import matrix as mx
from .indexed import key_of
from .kinds import PseudoOp, ReduceKind
from .ops import (
    CONV_CORR,
    CONV_FULL,
    AXIS_OPS,
    OPS,
    SCALARS,
    AxisFunction,
    ElementwiseFunction,
    IndexMap,
    index_letters,
    solve_flops,
)
from .record import Record

ZERO: Expr = sympy.S.Zero
# the leaves of a forward tree: reading a tensor, a number or a dim's size costs nothing
LEAVES = (PseudoOp.REF, PseudoOp.NUM, PseudoOp.DIM)


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


def as_expr(x: Any) -> Expr:
    """A count as a SymPy expression (a Python int where a sum of nothing was 0)."""
    return sympy.Integer(x) if isinstance(x, int) else x


def total(items: Iterable[Flops]) -> Flops:
    out = Flops()
    for f in items:
        out = out + f
    return Flops(sympy.expand(out.matmul), sympy.expand(out.other))


# ---------------------------------------------------------------------------------------------
# Counting one formula


class Counter:
    """Counts the FLOPs of the trees of one derivation, and the forward tensors they read."""

    def __init__(self, d: Any):
        self.d = d
        self.graph = d.graph
        self.ctx = d.index.ctx
        # a stack's count dim (n2) by its number: a cost names no dim the user did not
        self.sizes: dict[str, Expr] = {d: self.ctx.counts.get(s, s) for d, s in self.ctx.sizes.items()}
        self.matmul_inputs: set[str] = set()

    def size(self, s: Any) -> Expr:
        return self.sizes[s] if isinstance(s, str) else sympy.Integer(s)

    def numel(self, shape: tuple[Any, ...]) -> Expr:
        return sympy.Mul(*[self.size(s) for s in shape])

    # -- what an op's ``flops`` entry counts with (ops.py makes no Flops of its own) ------

    def free(self) -> Flops:
        return Flops()

    def matmul(self, n: Any) -> Flops:
        return Flops(as_expr(n), ZERO)

    def other(self, n: Any) -> Flops:
        return Flops(ZERO, as_expr(n))

    def einsum(self, terms: list[Any], out: str, sizes: Mapping[Any, Expr]) -> Flops:
        return einsum_flops(terms, out, sizes)

    def axis(self, head: str, shape: tuple[Any, ...], axis: int | None,
             written: Expr) -> Flops:
        """An axis function of a tensor of ``shape`` along ``axis`` (None: every axis),
        writing ``written`` elements, by its op-table entry's counts; a function of a
        whole square matrix by its entry's count for the matrix's size."""
        entry = AXIS_OPS[head]
        if entry.per_matrix is not None:
            return self.other(entry.per_matrix(self.size(shape[0])))
        read = self.numel(shape)
        rows = read / self.size(shape[axis]) if axis is not None else sympy.S.One
        return self.other(entry.flops_of(read, rows, written))

    # -- formulas -----------------------------------------------------------------------

    def forward(self, t: Any) -> FormulaCost:
        """A forward node (or anonymous intermediate) as the generated code computes it: from
        its FExpr tree, not from the matrix form printed beside it."""
        walk = _ForwardWalk(self)
        flops = walk.flops(t.expr)
        self.matmul_inputs |= walk.matmul_inputs
        return FormulaCost(t.name, "forward", _tidy(flops), ordered(self.graph, walk.reads),
                           "definition")

    def formula(self, name: str, phase: str, form: Any) -> FormulaCost:
        if form.matrix is None:
            return self._index(name, phase, form.index, form.idx)
        return self._matrix(name, phase, form.matrix, form.wheres)

    def _matrix(self, name: str, phase: str, m: mx.M, wheres: tuple[Any, ...]) -> FormulaCost:
        tree = _MatrixWalk(self, {w.lhs: w.rhs for w in wheres})
        flops = tree.flops(m)
        batch = mx.batch_of(m)
        if batch:  # a batched form is counted for one element (its shapes are an element's)
            n = self.numel(batch)
            flops = Flops(flops.matmul * n, flops.other * n)
        flops = flops + tree.once
        return FormulaCost(name, phase, _tidy(flops), ordered(self.graph, tree.reads), "matrix")

    def _index(self, name: str, phase: str, expr: Any, idx: tuple[Any, ...]) -> FormulaCost:
        walk = _IndexWalk(self)
        flops = walk.flops(expr, tuple(i for i in idx if i != 0))
        return FormulaCost(name, phase, _tidy(flops), ordered(self.graph, walk.reads), "index")



def _tidy(f: Flops) -> Flops:
    return Flops(sympy.expand(f.matmul), sympy.expand(f.other))


def ordered(graph: Any, names: set[str]) -> tuple[Any, ...]:
    order = {t.name: n for n, t in enumerate(graph.tensors)}
    return tuple(sorted(names, key=order.__getitem__))


class _ForwardWalk:
    """FLOPs of a forward node's FExpr tree, op by op, as the generated code computes it."""

    def __init__(self, counter: Counter):
        self.c = counter
        self.reads: set[str] = set()
        self.matmul_inputs: set[str] = set()

    def flops(self, e: Any) -> Flops:
        args = [a for a in e.args if hasattr(a, "op")]
        inner = total(self.flops(a) for a in args)
        if e.op == PseudoOp.REF:
            self.reads.add(e.param("name"))
        if e.op in OPS and OPS[e.op].contracts:
            self.matmul_inputs.update(r for r in map(_ref_name, args) if r)
        return inner + self._here(e, args)

    def _here(self, e: Any, args: list[Any]) -> Flops:
        if e.op in LEAVES:
            return Flops()
        entry = OPS.get(e.op)
        if entry is not None and entry.flops is not None:
            return entry.flops(e, args, self.c)  # type: ignore[no-any-return]
        return Flops(ZERO, self.c.numel(e.shape))  # arithmetic, scalar functions: one each


def _ref_name(e: Any) -> str | None:
    while e.op in OPS and OPS[e.op].view:
        e = e.args[0]
    return e.param("name") if e.op == PseudoOp.REF else None


class _MatrixWalk:
    """FLOPs of one matrix-form tree, as :class:`~einderive.render.code.Compiler` compiles it."""

    def __init__(self, counter: Counter, wheres: dict[Any, Any]):
        self.c = counter
        self.wheres = wheres
        # a temporary read per element (t1_bd of ``where t1_bd = X_bd − …``) is another Ref
        # than its clause's left side: found by its name too
        self.named = {k.name: v for k, v in wheres.items() if isinstance(k, mx.Ref)}
        self.counted: set[str] = set()  # those of ``named`` already counted
        self.once = Flops()  # those whole temporaries, computed once for every element
        self.reads: set[str] = set()

    def flops(self, m: mx.M) -> Flops:
        return getattr(self, "_" + type(m).__name__)(m)  # type: ignore[no-any-return]

    def _each(self, parts: Iterable[mx.M]) -> Flops:
        return total(self.flops(p) for p in parts)

    def _elementwise(self, per_element: int, shape: tuple[Any, ...]) -> Flops:
        return Flops(ZERO, per_element * self.c.numel(shape))

    def _Ref(self, m: mx.Ref) -> Flops:
        if m in self.wheres:  # a temporary (t1 = reshape(permute(∂L/∂Q, …))): its definition
            return self.flops(self.wheres[m])
        if m.name in self.named and m.kind == "tensor":
            definition = self.named.pop(m.name)  # (counted once, however often read)
            self.counted.add(m.name)
            self.once = self.once + self.flops(definition)
            return Flops()
        if m.name in self.counted and m.kind == "tensor":  # read again: no tensor of the graph
            return Flops()
        if m.kind in ("tensor", "anon"):
            self.reads.add(m.name)
        return Flops()

    def _none(self, m: mx.M) -> Flops:
        return Flops()

    _Const = _Ones = _Eye = _none

    def _OneHot(self, m: mx.OneHot) -> Flops:
        self.reads.add(m.name)  # the indices are read; the one-hot matrix is never formed
        return Flops()

    def _Transpose(self, m: mx.Transpose) -> Flops:
        return self.flops(m.x)

    def _Diag(self, m: mx.Diag) -> Flops:
        return self.flops(m.x)

    def _Diagonal(self, m: mx.Diagonal) -> Flops:
        return self.flops(m.x)  # a view

    def _MatMul(self, m: mx.MatMul) -> Flops:
        rows, inner, cols = (self.c.size(s) for s in (mx.rows(m.a), mx.cols(m.a), mx.cols(m.b)))
        for inv, other, k in ((m.a, m.b, cols), (m.b, m.a, rows)):
            f = inv.x if isinstance(inv, mx.Transpose) else inv
            if isinstance(f, mx.AxisFn) and AXIS_OPS[f.head].inverse:
                # the code multiplies by A⁻¹ with a solve, never forming the inverse
                return self.flops(f.x) + self.flops(other) + \
                    Flops(ZERO, solve_flops(self.c.size(mx.rows(f.x)), k))
        if isinstance(m.a, mx.OneHot):  # onehot(t) X: the code picks rows of X, X[t]
            return self._each((m.a, m.b))
        if isinstance(m.a, mx.Transpose) and isinstance(m.a.x, mx.OneHot):
            # onehot(t)ᵀ G: the code adds each row of G into a row of the result
            return self._each((m.a, m.b)) + self._elementwise(1, m.b.shape)
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
        # every tensor argument is computed and read (maximum(a, b) reads b too)
        return self._each(m.children()) + self._elementwise(1, m.shape)

    def _Norm(self, m: mx.Norm) -> Flops:
        """``‖x‖`` as the code computes it: square and add each element, one square root."""
        return self.flops(m.x) + self._elementwise(2, m.x.shape) + Flops(ZERO, 1)

    def _AxisFn(self, m: Any) -> Flops:  # mx.AxisFn
        """By the op's counts on what it reads; in a batched form (``softmax(X_b)``, counted
        for one element and then times the batch) on one element's matrix, not the whole
        argument ``arg_shape`` holds (a rank-3 softmax was counted B times over)."""
        batch = mx.batch_of(m)
        arg, axis = m.arg_shape, m.axis
        if batch and tuple(arg[:len(batch)]) == tuple(batch) and \
                (axis is None or axis % len(arg) >= len(batch)):
            arg = arg[len(batch):]
            axis = None if axis is None else axis % len(m.arg_shape) - len(batch)
        return self.flops(m.x) + self.c.axis(m.head, arg, axis, self.c.numel(m.shape))

    def _Reduce(self, m: Any) -> Flops:  # mx.Reduce
        axis = {ReduceKind.ROWSUM: mx.cols(m.x), ReduceKind.COLSUM: mx.rows(m.x)}.get(m.kind)
        here = Flops() if axis == 1 else self._elementwise(1, m.x.shape)  # a vector's own sum
        return self.flops(m.x) + here

    def _BatchSum(self, m: mx.BatchSum) -> Flops:
        """Each element's form (counted for one element), once per element, and the sum of
        the elements' matrices."""
        n = self.c.numel(m.dims)
        each = self.flops(m.x)
        return Flops(each.matmul * n, each.other * n) + Flops(ZERO, (n - 1) * self.c.numel(m.shape))

    def _Reshape(self, m: mx.Reshape) -> Flops:
        return self.flops(m.x)  # a view: no FLOP

    def _Slice(self, m: mx.Slice) -> Flops:
        return self.flops(m.x)  # a view: no FLOP

    def _Pad(self, m: mx.Pad) -> Flops:
        return self.flops(m.x)  # zeros and a copy: no FLOP

    def _Take(self, m: mx.Take) -> Flops:
        return self.flops(m.x)  # a view: no FLOP

    def _Each(self, m: mx.Each) -> Flops:
        """Each element's form (counted for one element), once per element."""
        each, n = self.flops(m.x), self.c.numel(m.dims)
        return Flops(each.matmul * n, each.other * n)

    def _SumAxes(self, m: mx.SumAxes) -> Flops:
        return self.flops(m.x) + self._elementwise(1, m.x.shape)  # one add per element read

    def _Permute(self, m: mx.Permute) -> Flops:
        """A view (no FLOP) of its argument, counted once per element where that is batched."""
        each, n = self.flops(m.x), self.c.numel(mx.batch_of(m.x))
        return Flops(each.matmul * n, each.other * n)

    def _Stack(self, m: mx.Stack) -> Flops:
        out = Flops()
        for x in m.xs:  # a copy of each piece: no FLOP
            out = out + self.flops(x)
        return out

    def _Conv(self, m: mx.Conv) -> Flops:
        """2 FLOPs per product of an output element's sum (the bias one more per element),
        2·B·O·To·C·K for each kind; the full convolution's products by its zero padding
        are not counted (PyTorch's conv_transpose does not compute them)."""
        a, b = (self._spec_dims(x) for x in (m.a, m.b))
        if m.kind == CONV_FULL:  # each element of G meets C·K kernel elements
            n = self.c.numel(a) * self.c.size(b[1]) * self.c.numel(b[2:])
        elif m.kind == CONV_CORR:  # each element of ∂L/∂W sums B·To products
            n = self.c.numel(m.dims) * self.c.size(a[0]) * self.c.numel(a[2:])
        else:  # each output element sums C·K products
            n = self.c.numel(m.dims) * self.c.size(b[1]) * self.c.numel(b[2:])
        here = self.c.matmul(2 * n)
        if m.bias is not None:
            here = here + self._elementwise(1, m.dims)
        return sum((self.flops(x) for x in m.children()), here)

    def _spec_dims(self, x: mx.M) -> tuple[Any, ...]:
        """A convolution operand's spec shape: a tensor's, a where-temporary's own (t1 =
        tanh(Y) + …, named in a chain form, is no tensor of the graph)."""
        if isinstance(x, mx.Conv):
            return tuple(x.dims)
        if isinstance(x, mx.Ref) and x.name in self.c.graph:
            return tuple(self.c.graph[x.name].shape)
        return tuple(x.shape)

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
    return isinstance(f, mx.Pow) and bool(f.exp < 0)


def einsum_flops(terms: list[Any], out: str, sizes: Mapping[Any, Expr]) -> Flops:
    """An einsum contracted pairwise from the left, as PyTorch's einsum does without
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

    def __init__(self, counter: Counter):
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
        if isinstance(e, Symbol) and (e in self.ctx.index_dim or e in self.limits):
            # an index as a value (𝟙[l ≤ m < l + To]): the code makes it an axis of its own
            return Flops(), (e,)
        if isinstance(e, Symbol):
            self._read(e)
            return Flops(), ()
        if isinstance(e, IndexMap):  # 𝟙[0 ≤ i·2 + 1 < K]: an index map as a value, its axes
            return Flops(), tuple(dict.fromkeys(index_letters(e)))
        if isinstance(e, Indexed):
            self._read(key_of(e))
            idx = tuple(dict.fromkeys(s for i in e.indices for s in index_letters(i)))
            return Flops(), idx
        if isinstance(e, sympy.Add):
            parts = [self.walk(t) for t in sympy.Add.make_args(e)]
            idx = tuple(dict.fromkeys(i for _, ix in parts for i in ix))
            here = Flops(ZERO, (len(parts) - 1) * self.points(idx))
            return total([f for f, _ in parts] + [here]), idx
        if isinstance(e, Mul):
            return self._product(Mul.make_args(e), ())
        if isinstance(e, Sum):
            for var, _lo, hi in e.limits:
                self.limits[var] = self.ctx.limit_dim(hi)
            body = e.function
            return self._product(Mul.make_args(body) if isinstance(body, Mul) else (body,),
                                 tuple(v for v, _, _ in e.limits))
        if isinstance(e, KroneckerDelta):
            # its indices only: δ(j, T1) of the last row's slice X[:, T1:T, :] reads a dim
            return Flops(), tuple(i for i in dict.fromkeys(e.args) if isinstance(i, Symbol)
                                  and (i in self.ctx.index_dim or i in self.limits))
        if isinstance(e, sympy.Pow):
            f, idx = self.walk(e.args[0])
            return f + Flops(ZERO, self.points(idx)), idx
        if isinstance(e, ElementwiseFunction):  # every argument: maximum(a, b) reads b too
            walked = [self.walk(a) for a in e.args]
            idx = tuple(dict.fromkeys(i for _, ix in walked for i in ix))
            return total(f for f, _ in walked) + Flops(ZERO, self.points(idx)), idx
        if isinstance(e, AxisFunction):
            name = self.ctx.tensor_of[key_of(e.label)]
            self.reads.add(name)
            shape = self.c.graph[name].shape
            idx = tuple(i for i in e.indices if isinstance(i, Symbol))
            return self.c.axis(e.head, shape, e.axis, self.points(idx)), idx
        raise ValueError(f"no FLOP count for {type(e).__name__}")  # pragma: no cover

    def _read(self, key: Any) -> None:
        if key in self.ctx.tensor_of:
            self.reads.add(self.ctx.tensor_of[key])

    def _product(self, factors: tuple[Any, ...],
                 summed: tuple[Any, ...]) -> tuple[Flops, tuple[Any, ...]]:
        parts = [self.walk(f) for f in factors]
        flops = total(f for f, _ in parts)
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
    order = dict.fromkeys(i for t in tensors for i in t)
    letter = {i: chr(0x4E00 + n) for n, i in enumerate(order)}  # any distinct characters
    sizes = {letter[i]: dim(i) for i in letter}
    return einsum_flops(["".join(letter[i] for i in t) for t in tensors],
                        "".join(letter[i] for i in out), sizes)
