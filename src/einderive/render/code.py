"""Compiling forward expressions and matrix forms into NumPy (or PyTorch) code.

Every adjoint statement is compiled from the very matrix form einderive
prints, with that form as its comment, so ``einderive verify`` proves the
printed formulas and not a twin of them.  Vectors are 1-d arrays; where the
printed form broadcasts a column across columns the code says ``[:, None]``.
Code is built as :mod:`pyexpr` trees; :func:`pyexpr.unparse` alone decides
brackets.
"""

from __future__ import annotations

import keyword

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

from sympy import Add, Mul, Pow, S, Sum, Symbol

from .. import matrix as mx
from ..closed import definitions
from ..indexed import dim_polynomial_terms, sum_of_constant
from ..kinds import PseudoOp, ReduceKind, RefKind
from ..ops import (ARITHMETIC, AXIS_OPS, CONV_OPS, DIAGONAL, HELPER_NAMES, OPS, RESHAPE, SUM,
                   SCALARS, ElementwiseFunction, FExpr, is_indicator, may_be_infinite)
from ..record import Record
from .. import pyexpr as P
from ..shapes import broadcast_all as _broadcast, matmul as _matmul_shape  # one rule each
from .backends import Backend

RESERVED = {"np", "math", "torch", "forward", "gradients", "float", "dict", "shape",
            "tensors", "ctx", "grad_output", "Function", "F", "dtype", "None", "True"} | \
    HELPER_NAMES




def _number(e: FExpr) -> bool:
    """Whether the code of ``e`` may be a Python number rather than an array (Python's own
    operators take numbers; a library call, which PyTorch only makes on tensors, does not:
    see Backend.constant)."""
    return e.op in (PseudoOp.NUM, PseudoOp.DIM) or e.op in ARITHMETIC and all(
        _number(a) for a in e.args if isinstance(a, FExpr))


def number(c: Any) -> P.Py:
    """A SymPy number as code: an int, a ratio of ints (1/3 stays exact to the last
    float operation), else a float.  The one rule for every code generator (a whole number
    beyond a float's exact ones, 10³⁰⁰ of x / 1e-300, is a float: :func:`pyexpr.num`)."""
    if c.is_Integer:
        return P.num(int(c))
    if c.is_Rational:
        p, q = int(c.p), int(c.q)
        if q > P.FLOAT_EXACT_WHOLE:  # a float's own digits: 1e-320 is no ratio of two floats
            try:
                return P.num(float(Fraction(p, q)))
            except OverflowError:  # (past a float's range: pyexpr.num writes ±inf)
                return P.num(p // q)
        return P.binop("/", P.num(p), P.num(q))
    return P.num(float(c))


class CodegenError(Exception):
    pass


class Value(Record):
    """Generated code (a pyexpr tree) and the shape of the array it makes."""

    py: P.Py
    shape: tuple[Any, ...]  # NumPy shape: dims and 1s


class Names:
    """Python names for spec names, adjoints and dims, all distinct and safe."""

    def __init__(self, graph: Any) -> None:
        self.taken = set(RESERVED)
        self.var: dict[str, str] = {}
        for t in graph.tensors:
            self.var[t.name] = self._claim(t.name)
        self.dim = {d: self._claim(d) for d, _ in graph.dims}
        self.adj = {t.name: self._claim(f"d_{t.name}") for t in graph.tensors}
        # second order: an input's tangent is the direction v_x the caller passes
        self.tan = {t.name: self._claim(f"v_{t.name}" if t.is_input else f"dot_{t.name}")
                    for t in graph.tensors}
        self.rop = {t.name: self._claim(f"r_{t.name}") for t in graph.tensors}
        self.renamed = any(self.var[t.name] != t.name for t in graph.inputs)

    def hessian(self, x: str, y: str, prefix: str = "h") -> str:
        """The variable of the Hessian block ∂²L/∂x∂y (``prefix`` 'gn' or 'rest': of a part
        of its Gauss-Newton split), claimed when first asked for."""
        return self.block(f"{x}_{y}", prefix)

    def block(self, name: str, prefix: str) -> str:
        """The variable ``<prefix>_<name>`` of a second-order block, claimed once."""
        key = f"\0{prefix}\0{name}"
        if key not in self.var:
            self.var[key] = self._claim(f"{prefix}_{name}")
        return self.var[key]

    def clause(self, name: str) -> str:
        """A fresh variable for a where-clause's value (``t1`` of ``where t1 = …``), named as
        it prints where that is free (``t1_`` where a spec tensor is ``t1``)."""
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
        return self._claim(base if base.isidentifier() else f"t_{base}")

    def temporary(self) -> str:
        """A fresh variable for a part of a long sum (verify's modules, :func:`pyexpr.split_sums`);
        its leading underscore keeps it apart from the names claimed later (``h_x_y`` ...)."""
        return self._claim(f"_s{len(self.taken)}")

    def _claim(self, name: str) -> str:
        out = name
        while out in self.taken or keyword.iskeyword(out) or not out.isidentifier():
            out += "_"
        self.taken.add(out)
        return out


class Compiler:
    """Turns forward expressions and matrix forms into code trees for one backend."""

    def __init__(self, d: Any, backend: Backend, names: Names) -> None:
        self.d = d
        self.graph = d.graph
        self.b = backend
        self.names = names
        self.dims_used: set[str] = set()
        self.wheres: dict[mx.M, mx.M] = {}
        # where-clauses as assignments: each clause's code is written once, into a variable,
        # and read by name wherever it is read (written where it is read, a clause read
        # twice by a clause read twice ... k deep was 2^k copies of it).  ``bound``: the
        # code of each clause assigned so far in the scope (:meth:`scope`) to its variable
        # (a clause is shared only where its code is the same code: the same value); its
        # reads in the form being compiled (per context: whole, per element), ``_read``;
        # the assignments the form needs before it, ``clauses``, for the writer to emit
        self.bound: dict[tuple[P.Py, tuple[Any, ...]], str] = {}
        self._read: dict[tuple[mx.M, bool, bool], Value] = {}
        self.clauses: list[tuple[str, P.Py]] = []
        # compiling a batched form (matrix.batch_of): arrays keep the batch's leading axes,
        # and every vector of the form is a column of one element, its last axis kept
        self.batched = False
        self.summing = False  # inside Σ_b's body: a total is each element's

    def dim(self, name: str | int) -> P.Py:
        if isinstance(name, int):  # a literal axis (u = E[c] of a c: [1] is 1×D)
            return P.num(name)
        count = self.graph.counts.get(name)
        if count is not None:  # a stack's count dim (n2): its number, as the forms print it
            return P.num(count)
        self.dims_used.add(name)
        return P.Name(self.names.dim[name])

    # -- forward ------------------------------------------------------------------------

    def forward(self, e: FExpr) -> Value:
        if e.op == PseudoOp.REF:
            name = e.param("name")
            return Value(P.Name(self.names.var[name]), self.graph[name].shape)
        if e.op == PseudoOp.NUM:
            return Value(P.num(e.param("value")), ())
        if e.op == PseudoOp.DIM:
            return Value(self.dim(e.param("name")), ())
        sizes = OPS[e.op].sizes_last  # reshape's new shape: Python ints, whatever the library
        args = [self.b.constant(self.forward(a).py)
                if _number(a) and e.op not in ARITHMETIC and not (sizes and n)
                else self.forward(a).py for n, a in enumerate(e.args) if isinstance(a, FExpr)]
        return Value(OPS[e.op].code(e, args, self.b), e.shape)

    # -- matrix forms --------------------------------------------------------------------

    def matrix(self, m: mx.M, wheres: tuple[Any, ...]) -> Value:
        """The code of the form ``m``; the assignments of the where-clauses it reads that no
        statement before it in the scope made are left in :attr:`clauses` (:meth:`drain`),
        to be written before it."""
        self.wheres = definitions(m, wheres)  # what each where-name read stands for
        self._read = {}
        self.batched = bool(mx.batch_of(m))
        try:
            return self._m(m)
        finally:
            self.batched = False

    def drain(self) -> list[tuple[str, P.Py]]:
        """The clauses' assignments (variable, code) the forms compiled since the last call
        read, in dependency order (a clause after those it reads)."""
        out, self.clauses = self.clauses, []
        return out

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Clauses assigned inside are forgotten after it (another generated function
        does not see them), their variables' names free again."""
        bound = dict(self.bound)
        try:
            yield
        finally:
            self.names.taken -= set(self.bound.values()) - set(bound.values())
            self.bound = bound

    def _bound(self, v: Value, name: str) -> Value:
        """``v``, a where-clause's value, read from its variable: assigned (in
        :attr:`clauses`) the first time its code is met in the scope."""
        if isinstance(v.py, (P.Name, P.Num)):
            return v
        key = (v.py, tuple(v.shape))
        var = self.bound.get(key)
        if var is None:
            var = self.bound[key] = self.names.clause(name)
            self.clauses.append((var, v.py))
        return Value(P.Name(var), v.shape)

    def _m(self, m: mx.M) -> Value:
        method = getattr(self, "_m_" + type(m).__name__)
        out: Value = method(m)
        return out

    def _m_Ref(self, m: mx.Ref) -> Value:
        if m in self.wheres:  # a closed form's named part (where t1 = …): its variable
            key = (m, self.batched, self.summing)
            if key not in self._read:
                self._read[key] = self._where(m)
            return self._read[key]
        shape = self.graph[m.name].shape
        names = {"adjoint": self.names.adj, "tangent": self.names.tan, "rop": self.names.rop}
        v = Value(P.Name(names.get(m.kind, self.names.var)[m.name]), shape)
        if self.batched and len(shape) == 1 and not m.batch:  # shared by every element: a column
            return _column(v)
        if m.batch:
            return _element_array(self.b, v, m)
        return v

    def _where(self, m: mx.Ref) -> Value:
        """A where-name read in the form: its definition's value, from the clause's
        variable."""
        rhs = self.wheres[m]
        # (defined per element of the batch it is read at, else a whole tensor read per
        # element: t3_bh of t3 = reshape((2/(B D T)) Y Woᵀ, [B, T, H, Dh]))
        if not m.batch or mx.batch_of(rhs) == m.batch and not m.at and \
                not mx.whole_batched(rhs) and len(rhs.shape) <= 2:
            return self._bound(self._m(rhs), m.name)
        outer, self.batched = self.batched, False
        summing, self.summing = self.summing, False
        try:  # a whole tensor (t1 = reshape(permute(…))) read per element: its array
            return _element_array(self.b, self._bound(self._m(rhs), m.name), m)
        finally:
            self.batched, self.summing = outer, summing

    def _m_Const(self, m: mx.Const) -> Value:
        return Value(self.const(m.value), ())

    def const(self, c: Any) -> P.Py:
        """A SymPy scalar (numbers, dims' sizes, functions of them) as code."""
        counts = self.d.index.ctx.counts
        if counts and c.free_symbols & counts.keys():  # 2·n2 is 4, as the forms print it
            c = c.xreplace(counts)
        if c.is_Number:
            return number(c)
        if isinstance(c, Symbol):
            return self.dim(self.d.index.ctx.dim_of_size[c])
        if isinstance(c, Pow):
            if c.exp == S.Half:
                return self.b.sqrt(self.const(c.base))
            if c.exp.is_negative:
                return P.binop("/", P.num(1), self.const(Pow(c.base, -c.exp)))
            return P.binop("**", self.const(c.base), self.const(c.exp))
        if isinstance(c, Mul):
            coeff, rest = c.as_coeff_Mul()
            parts = [self.const(a) for a in Mul.make_args(rest)]
            if coeff != 1:
                parts.insert(0, self.const(coeff))
            return P.product(parts)
        if isinstance(c, ElementwiseFunction):
            return self.b.fn(c.spec.name, *[self.b.constant(self.const(a)) for a in c.args])
        if isinstance(c, Add):  # N − K, a slice's bound: a term of negative coefficient subtracted
            poly = dim_polynomial_terms(c)
            return P.signed_sum([(self.const(-a), True) if a.as_coeff_Mul()[0] < 0
                                 else (self.const(a), False)
                                 for a in poly or Add.make_args(c)], in_order=bool(poly))
        if isinstance(c, Sum) and not c.function.has(*c.variables):
            # Σ_i c over a dim is the dim's size times c (never expanded): indexed's one rule
            return self.const(sum_of_constant(c.function, c.limits))
        raise CodegenError(f"cannot compile the constant {c}")  # pragma: no cover

    def _m_Ones(self, m: mx.Ones) -> Value:
        dims = list(m.shape)
        shape = tuple(d for d in dims if d != 1) if 1 in dims and len(dims) == 2 and \
            not self.batched else tuple(dims)
        return Value(self.b.ones(tuple(P.num(1) if d == 1 else self.dim(d) for d in shape)),
                     shape)

    def _m_Eye(self, m: mx.Eye) -> Value:
        return Value(self.b.eye(self.dim(m.dim)), (m.dim, m.dim))

    def _m_OneHot(self, m: mx.OneHot) -> Value:
        return Value(self.b.one_hot(P.Name(self.names.var[m.name]), self.dim(m.dim)),
                     (*m.batch, m.shape[0], m.dim))  # (of each element: the whole array)

    def _picked(self, m: mx.MatMul) -> Value | None:
        """onehot(t) X as the rows t picks, X[t]; onehot(t)ᵀ G as G's rows added into the
        rows t names: no one-hot matrix formed, no product by one."""
        a, b = m.a, self._m(m.b)
        if not b.shape or len(b.shape) > 2:  # a batch of matrices: picked in each element
            return None
        if isinstance(a, mx.OneHot):
            idx = self.b.as_index(P.Name(self.names.var[a.name]))
            return Value(P.Subscript(b.py, (idx,)), (*a.batch, a.shape[0]) + b.shape[1:])
        if isinstance(a, mx.Transpose) and isinstance(a.x, mx.OneHot) and not a.x.batch and \
                len(b.shape) == len(m.b.shape):  # (a row held as a vector: a product of its own)
            shape = (a.x.dim,) + b.shape[1:]
            return Value(self.b.scatter_add(P.Name(self.names.var[a.x.name]), b.py,
                                            tuple(self.dim(d) for d in shape)), shape)
        return None

    def _m_Transpose(self, m: mx.Transpose) -> Value:
        v = self._m(m.x)
        if len(v.shape) <= 1:
            return v
        if self.batched:  # the matrix of each element: the last two axes swapped
            return Value(self.b.batch_transpose(v.py), (*v.shape[:-2], v.shape[-1], v.shape[-2]))
        return Value(self.b.matrix_transpose(v.py), tuple(reversed(v.shape)))

    def _m_MatMul(self, m: mx.MatMul) -> Value:
        solved = self._solved(m)
        if solved is not None:
            return solved
        picked = self._picked(m)
        if picked is not None:
            return picked
        a, b = self._m(m.a), self._m(m.b)
        if self.batched and mx.cols(m.a) == 1 and mx.rows(m.b) == 1:
            # an outer product of each element: columns and rows keep their axes, so it is a
            # broadcast product (no matmul, as np.outer is none)
            return Value(P.binop("*", a.py, b.py), _broadcast([a.shape, b.shape]))
        if self.batched:
            # a vector shared by every element (logsumexp(x3, axis=0)ᵀ colsum(G_n)) is the
            # column or row the form reads, never NumPy's 1-d operand of @ (which drops an
            # axis of the result)
            a, b = (_as_matrix(v, mx.rows(f) == 1) for v, f in ((a, m.a), (b, m.b)))
            return Value(P.binop("@", a.py, b.py), _batch_matmul_shape(a.shape, b.shape))
        if mx.cols(m.a) == 1 and mx.rows(m.b) == 1:
            flat = [v.py if len(v.shape) <= 1 else self.b.ravel(v.py) for v in (a, b)]
            return Value(self.b.outer(*flat), (mx.rows(m.a), mx.cols(m.b)))
        shape = _matmul_shape(a.shape, b.shape)
        assert shape is not None  # the graph checked every product's shapes
        return Value(P.binop("@", a.py, b.py), shape)

    def _solved(self, m: mx.MatMul) -> Value | None:
        """``A⁻¹ X`` as solve(A, X), ``A⁻ᵀ X`` as solve(Aᵀ, X), ``X A⁻¹`` as solve(Aᵀ, Xᵀ)ᵀ
        and ``X A⁻ᵀ`` as solve(A, Xᵀ)ᵀ: the code never forms an inverse it multiplies by."""
        for side, inv, other in ((0, m.a, m.b), (1, m.b, m.a)):
            t = isinstance(inv, mx.Transpose)
            f: mx.M = inv.x if isinstance(inv, mx.Transpose) else inv
            if not (isinstance(f, mx.AxisFn) and AXIS_OPS[f.head].inverse):
                continue
            a, x = self._m(f.x), self._m(other)
            flip = t != (side == 1)  # solve with Aᵀ
            lhs = self.b.matrix_transpose(a.py) if flip else a.py
            if side == 0:
                shape = _batch_matmul_shape(a.shape, x.shape) if len(x.shape) > 2 \
                    else _matmul_shape(a.shape, x.shape)
                assert shape is not None  # the graph checked solve's shapes
                return Value(self.b.solve(lhs, x.py), shape)
            if len(x.shape) < 2:  # x A⁻¹ for a 1-d x is (A⁻ᵀ x)
                return Value(self.b.solve(lhs, x.py), (a.shape[1],))
            if len(x.shape) > 2:  # X_b A⁻¹ of each element: solve(Aᵀ, X_bᵀ)ᵀ, the last two
                # axes swapped (a matrix's .T would reverse the batch's too)
                out = self.b.solve(lhs, self.b.batch_transpose(x.py))
                return Value(self.b.batch_transpose(out), (*x.shape[:-1], a.shape[1]))
            out = self.b.solve(lhs, self.b.matrix_transpose(x.py))
            return Value(self.b.matrix_transpose(out), (x.shape[0], a.shape[1]))
        return None

    def _elementwise(self, m: Any, parts: list[Any]) -> list[Value]:
        """Operands spelled so that NumPy broadcasts them as the printed form does."""
        values = [self._m(p) for p in parts]
        two_d = len(m.shape) == 2 and m.shape[0] != 1 and m.shape[1] != 1
        column = len(m.shape) == 2 and m.shape[1] == 1 and m.shape[0] != 1
        any_2d = any(len(v.shape) == 2 for v in values)
        wide = len(m.shape) >= 3  # a column beside a tensor of three axes: NumPy's [..., d, 1]
        out = []
        for p, v in zip(parts, values):
            is_col = len(p.shape) == 2 and p.shape[1] == 1 and p.shape[0] != 1
            if len(v.shape) == 1 and is_col and (two_d or (column and any_2d) or wide):
                v = Value(P.Subscript(v.py, (P.Slice(), P.NONE)), (v.shape[0], 1))
            out.append(v)
        return [self._ones_beside(p, v, out) for p, v in zip(parts, out)]

    def _ones_beside(self, p: Any, v: Value, values: list[Value]) -> Value:
        """𝟏 in the array shape of an operand beside it of the same sizes laid out with more
        literal 1s (sum(…, axis=(0, 2, 3), keepdims=True) + 𝟏 of g: [1, H, 1, 1], the
        (1, H, 1, 1) array, not a (H, 1) column that NumPy would broadcast to (1, H, H, 1))."""
        ones = p.x if isinstance(p, mx.Scale) and isinstance(p.coeff, mx.Const) else p
        if not isinstance(ones, mx.Ones):
            return v
        sizes = [d for d in v.shape if d != 1]
        for w in values:
            if len(w.shape) > len(v.shape) and [d for d in w.shape if d != 1] == sizes:
                dims = tuple(P.num(1) if d == 1 else self.dim(d) for d in w.shape)
                py = self.b.ones(dims) if ones is p else self.b.reshape_to(v.py, list(dims))
                return Value(py, tuple(w.shape))
        return v

    def _m_Hadamard(self, m: mx.Hadamard) -> Value:
        factors: list[Any] = list(m.factors)
        num = [f for f in factors if _exponent(f) >= 0]
        den = [mx.power(f.x, -_exponent(f)) for f in factors if _exponent(f) < 0]
        values = self._elementwise(m, num + den)
        if m.is_scalar:
            values = [_element(v) for v in values]
        nv, dv = values[:len(num)], values[len(num):]
        # an indicator beside what may not be finite where it is 0 (a division, a root) is
        # the Iverson bracket's strong zero: 0 there, never 0 · inf
        brackets = [k for k, f in enumerate(num) if _indicator(f) or isinstance(f, mx.Eye)]
        # (so is 𝐈 beside a function: f(X) ⊙ 𝐈 of trace(f(X)) reads f off the diagonal,
        # where it may overflow though the trace is finite: exp(800) · 0)
        eye = any(isinstance(num[k], mx.Eye) for k in brackets)
        if not (dv or any(_unbounded(f) or eye and _calls(f)
                          for k, f in enumerate(num) if k not in brackets)):
            brackets = []
        kept = [v.py for k, v in enumerate(nv) if k not in brackets]
        py = P.product(kept) if kept else P.num(1.0)
        for v in dv:
            py = P.binop("/", py, v.py)
        if brackets:
            py = self.b.strong_zero(P.product([nv[k].py for k in brackets]), py)
        return Value(py, _broadcast([v.shape for v in values]))

    def _m_Scale(self, m: mx.Scale) -> Value:
        c, x = _element(self._m(m.coeff)), self._m(m.x)
        if c.py == P.num(-1):
            return Value(P.neg(x.py), x.shape)
        return Value(P.binop("*", c.py, x.py), _broadcast([c.shape, x.shape]))

    def _m_Add(self, m: mx.Add) -> Value:
        signs, parts = [False], [m.terms[0]]
        for t in m.terms[1:]:
            neg, positive = mx.split_sign(t)
            signs.append(neg)
            parts.append(positive)
        values = self._elementwise(m, parts)
        py = values[0].py
        for neg, v in zip(signs[1:], values[1:]):
            py = P.binop("-" if neg else "+", py, v.py)
        return Value(py, _broadcast([v.shape for v in values]))

    def _m_Pow(self, m: mx.Pow) -> Value:
        e: Any = m.exp
        if isinstance(m.x, mx.Norm) and e.is_Integer and e % 2 == 0:
            # ‖a‖² is the sum of squares: no square root taken only to be squared again
            return self._power(self._squares(m.x), e / 2)
        return self._power(self._m(m.x), e)

    def _power(self, v: Value, e: Any) -> Value:
        if e == 1:
            return v
        if e == S.Half:
            return Value(self.b.sqrt(v.py), v.shape)
        if e == -1:
            return Value(P.binop("/", P.num(1), v.py), v.shape)
        exp = P.num(int(e)) if e.is_Integer else P.binop("/", P.num(int(e.p)), P.num(int(e.q)))
        return Value(P.binop("**", v.py, exp), v.shape)

    def _m_Fn(self, m: mx.Fn) -> Value:
        spec = SCALARS[m.name]
        if spec.expand is not None and m in self.wheres:
            return self._m(self.wheres[m])
        args = m.args
        values = self._elementwise(m, list(args[:spec.arity]))
        # a constant in a tensor's place is a tensor of the inputs' dtype (PyTorch's where
        # and comparisons take tensors); a param (alpha) stays the number the library takes
        tensors = [self.b.constant(v.py) if isinstance(a, mx.Const) else v.py
                   for a, v in zip(args, values)]
        params = [self._m(a).py for a in args[spec.arity:]]
        return Value(self.b.fn(m.name, *tensors, *params), _broadcast([v.shape for v in values]))

    def _m_AxisFn(self, m: mx.AxisFn) -> Value:
        v = self._m(m.x)
        if self.batched and len(v.shape) > 2 and AXIS_OPS[m.head].reduces and \
                m.axis % len(v.shape) == len(v.shape) - 1:
            # logsumexp of each element's rows: a column of each, the axis kept (not a
            # reduction over a batch axis, logsumexp(X, axis=0), which drops its axis)
            return Value(self.b.axis_fn(m.head, v.py, m.axis, m.ndim, keep=True),
                         (*v.shape[:-1], 1))
        if self.batched and len(v.shape) > 2 and AXIS_OPS[m.head].reduces and m.shape == ():
            # logsumexp(t1_b) of each element's column: a number each, its axes kept
            nd = len(v.shape)
            return Value(self.b.axis_fn(m.head, v.py, nd - 2, nd, keep=True),
                         (*v.shape[:-2], 1, 1))
        if self.batched and len(v.shape) > 2:  # softmax of each element's rows or columns
            # (of an element's vector, softmax(lp_n): the array of columns has one axis more
            # than lp, the unit one last, so the axis is named, never NumPy's last)
            return Value(self.b.axis_fn(m.head, v.py, m.axis, max(m.ndim, len(v.shape))),
                         v.shape)
        shape = v.shape
        if AXIS_OPS[m.head].reduces:
            shape = tuple(d for n, d in enumerate(v.shape) if n != m.axis)
        if m.ndim == 1 and len(v.shape) == 2 and v.shape[1] == 1:
            # a vector made a column (a[:, None], beside each element's matrices): along its
            # rows, never NumPy's last axis, of one element (softmax(a[:, None]) is all ones)
            return Value(self.b.axis_fn(m.head, v.py, 0, 2), shape)
        return Value(self.b.axis_fn(m.head, v.py, m.axis, m.ndim), shape)

    def _m_Reduce(self, m: mx.Reduce) -> Value:
        if m.shape == () and isinstance(m.x, mx.Diagonal) and isinstance(m.x.x, mx.MatMul) \
                and not self.batched and not mx.batch_of(m.x):
            # tr(A B) as the total of A ⊙ Bᵀ: never the product A B of which it reads only the
            # diagonal (n² multiplications, not n³ and an n×n matrix)
            a, b = m.x.x.a, m.x.x.b
            pair = self._m(mx.hadamard(a, mx.transpose(b)))
            return Value(self.b.reduce(SUM, pair.py), ())
        v = self._m(m.x)
        if m.shape == () and self.summing and self.batched and len(v.shape) > 2 and \
                any(d != 1 for d in v.shape[:-2]) and mx.batch_of(m.x):
            # inside Σ_b, sum(G_b ⊙ X_b) is each element's total (its 1×1 matrix), never the
            # whole batch's: Σ_b s_b² is not (Σ_b s_b)² (a batch of one's is the total; a
            # batched form's sum(K ⊙ (∂L/∂Sᵀ Q)) outside Σ_b is every element's, README); a
            # whole tensor's total inside it (sum(Y ⊙ Y), no subscript) stays the total
            nd = len(v.shape)
            return Value(self.b.reduce(SUM, v.py, (nd - 2, nd - 1), True, nd),
                         (*v.shape[:-2], 1, 1))
        if m.shape == ():  # the total
            return Value(self.b.reduce(SUM, v.py), ())
        if self.batched:
            return self._batch_reduce(m, v)
        if len(v.shape) < 2:  # a 1-d vector: a column's row sums, a row's column sums, are
            # itself; a column's column sum (a row's row sum) its total, a 1×1 matrix
            summed = mx.rows(m.x) if m.kind == "colsum" else mx.cols(m.x)
            return v if summed == 1 else Value(self.b.reduce(SUM, v.py), ())
        axis = 1 if m.kind == "rowsum" else 0
        return Value(self.b.reduce(SUM, v.py, (axis,), False, 2), (v.shape[1 - axis],))

    def _batch_reduce(self, m: mx.Reduce, v: Value) -> Value:
        """Each element's row sums (a column, its axis kept) or column sums (a column: the
        row of sums, transposed)."""
        nd = len(v.shape)
        if m.kind == "rowsum":
            return Value(self.b.reduce(SUM, v.py, (-1,), True, nd), (*v.shape[:-1], 1))
        row = self.b.reduce(SUM, v.py, (-2,), True, nd)
        return Value(self.b.batch_transpose(row), (*v.shape[:-2], v.shape[-1], 1))

    def _m_BatchSum(self, m: mx.BatchSum) -> Value:
        """Σ_b of each element's matrix: the form compiled with the batch axes kept, then
        summed over them; a vector's unit axis goes with them (a plain form's vector is 1-d,
        as a row or column sum's is)."""
        scattered = self._scattered(m)
        if scattered is not None:
            return scattered
        body = m.x.x if isinstance(m.x, mx.Transpose) else m.x
        summed = body if isinstance(body, mx.Reduce) and body.shape != () else None
        outer, self.batched = self.batched, True
        summing, self.summing = self.summing, True
        try:  # Σ_b colsum(A_b) is the sum of A over the batch and rows at once
            v = self._m(summed.x if summed is not None else m.x)
        finally:
            self.batched, self.summing = outer, summing
        nd, nb, kept = len(v.shape), len(m.dims), len(mx.outer_batch(m))
        if summed is None and m.shape != () and len(v.shape) == len(m.shape) and \
                all(d == 1 for d in m.dims):
            return self._unbatched_sum(m, v)
        axes = list(range(kept, kept + nb))  # (Σ_r inside each element b, g: the axis of r)
        if summed is not None:
            axes.append(nd - 1 if summed.kind == ReduceKind.ROWSUM else nd - 2)
        elif m.shape == ():  # each element's number (g x_b of a row g): every axis
            axes = list(range(kept, nd))
        elif m.shape[0] != 1 and m.shape[1:] == (1,):  # a column
            axes.append(nd - 1)
        elif m.shape[0] == 1 and m.shape[1:] != (1,):  # a row
            axes.append(nd - 2)
        shape = tuple(d for n, d in enumerate(v.shape) if n not in axes)
        return Value(self.b.reduce(SUM, v.py, tuple(axes), False, nd), shape)

    def _unbatched_sum(self, m: mx.BatchSum, v: Value) -> Value:
        """Σ_b over a batch of one of a matrix compiled with no batch axis (Σ_b
        (sum(G_b ⊙ X_b)·𝟏), the element's total summed whole): the one element's matrix, its
        vector's unit axis dropped as above (was summed with the batch: M times too large)."""
        nd = len(v.shape)
        axes = [nd - 1] if m.shape[0] != 1 and m.shape[1:] == (1,) else \
            [nd - 2] if m.shape[0] == 1 and m.shape[1:] != (1,) else []
        py = self.b.reduce(SUM, v.py, tuple(axes), False, nd) if axes else v.py
        return Value(py, tuple(d for n, d in enumerate(v.shape) if n not in axes))

    def _scattered(self, m: mx.BatchSum) -> Value | None:
        """Σ_b onehot(tok_b)ᵀ G_b (an embedding lookup's adjoint, tokens of two axes) as
        the rows of G added into the rows the tokens name, every element's at once
        (scatter_add of the flattened tokens and rows): no one-hot array formed."""
        a = m.x.a if isinstance(m.x, mx.MatMul) else None
        if not isinstance(a, mx.Transpose) or not isinstance(a.x, mx.OneHot) or \
                tuple(a.x.batch) != tuple(m.dims) or len(m.shape) != 2:
            return None
        assert isinstance(m.x, mx.MatMul)
        outer, self.batched = self.batched, True
        try:
            g = self._m(m.x.b)
        finally:
            self.batched = outer
        if m.shape[1] == 1:
            # a column of each element (Σ_t onehot(bk_t)ᵀ ∂L/∂S_t, a table gathered at a
            # matrix of integers): the entries added into the entries the integers name
            if len(g.shape) - len(m.dims) not in (1, 2) or g.shape[len(m.dims) + 1:] not in \
                    ((), (1,)):
                return None
            idx = self.b.reshape_to(P.Name(self.names.var[a.x.name]), [P.num(-1)])
            column = g.py  # (its unit axis, d_S[..., None], dropped again by the reshape)
            if isinstance(column, P.Subscript) and column.index == (P.Name("..."), P.NONE):
                column = column.x
            flat = self.b.reshape_to(column, [P.num(-1)])
            return Value(self.b.scatter_add(idx, flat, (self.dim(a.x.dim),)), (a.x.dim,))
        if len(g.shape) != len(m.dims) + 2 or g.shape[-1] != m.shape[1]:
            return None
        idx = self.b.reshape_to(P.Name(self.names.var[a.x.name]), [P.num(-1)])
        rows = self.b.reshape_to(g.py, [P.num(-1), self.dim(m.shape[1])])
        shape = (a.x.dim, m.shape[1])
        return Value(self.b.scatter_add(idx, rows, tuple(self.dim(d) for d in shape)), shape)

    def _m_Norm(self, m: mx.Norm) -> Value:
        return self._power(self._squares(m), S.Half)

    def _squares(self, m: mx.Norm) -> Value:
        """The sum of the squares of the entries: ‖a‖²."""
        v = self._m(m.x)
        return Value(self.b.reduce(SUM, P.binop("**", v.py, P.num(2))), ())

    def _m_Diag(self, m: mx.Diag) -> Value:
        v = self._m(m.x)
        # a column or row held as two axes (rᵀ of r = reshape(x, [1, N])) is flattened first:
        # diag of a 2-D array is its diagonal, one number, not the diagonal matrix
        flat = P.method(v.py, RESHAPE, P.num(-1)) if len(v.shape) == 2 else v.py
        n = v.shape[0] if v.shape[0] != 1 or len(v.shape) == 1 else v.shape[1]
        return Value(self.b.diag(flat), (n, n))

    def _m_Diagonal(self, m: mx.Diagonal) -> Value:
        v = self._m(m.x)
        return Value(P.call(self.b.f(DIAGONAL), v.py), (v.shape[0],))

    def _m_Reshape(self, m: mx.Reshape) -> Value:
        # a batched argument is compiled with its batch axes kept, as a permutation's is
        # (reshape(… rowsum(X2 ⊙ X2) …, [B, T, H, Dh]) of X2: [B, T, D]: each row sum a
        # column, never the 1-d sums a plain form's rowsum gives)
        outer, self.batched = self.batched, self.batched or bool(mx.batch_of(m.x))
        try:
            v = self._m(m.x)
        finally:
            self.batched = outer
        sizes = [self.dim(d) if d != 1 else P.num(1) for d in m.dims]
        return Value(self.b.reshape_to(v.py, sizes), m.dims)

    def _m_Slice(self, m: mx.Slice) -> Value:
        v = self._m(m.x)
        at = tuple(P.Slice() for _ in range(m.axis)) + (
            P.Slice(self.const(m.lo), self.const(m.hi)),)
        return Value(P.Subscript(v.py, at), m.dims)

    def _m_Pad(self, m: mx.Pad) -> Value:
        v = self._m(m.x)
        if len(v.shape) != len(m.dims) and m.hi - m.lo == 1:
            # a vector placed at one position of a matrix's axis (its column [B, 1]): the
            # 1-d array made that column, or row, first
            v = self._spec_shaped(v, m.x, tuple(1 if a == m.axis else d
                                                for a, d in enumerate(m.dims)))
        d = m.dims[m.axis]
        size = S.One if d == 1 else self.d.index.ctx.sizes[d]
        after = self.const(size - m.hi)  # N − N is 0
        dims, axis = tuple(m.dims), m.axis
        nb = len(mx.batch_of(m.x)) if len(m.dims) <= 2 else 0  # (else the whole tensor's)
        if nb and len(v.shape) == len(dims) + nb:
            # each element's matrix padded along its own axis (pad(1 − tanh(h1)^∘2, 0:M,
            # axis=1) of h1: [M, N, M] read per element): the array keeps the batch's
            # leading axes, so the axis is past them
            dims, axis = (*v.shape[:nb], *dims), axis + nb
        if len(v.shape) == len(dims) + 1 and v.shape[-1] == 1:
            # a vector held as its column (pad(𝟏, 1:K, axis=0) of a batched form's 𝟏): the
            # unit axis is padded by nothing, never by the vector's widths (np.pad reads one
            # pair for every axis)
            dims = (*dims, 1)
        return Value(self.b.pad(v.py, axis, len(dims), self.const(m.lo), after), dims)

    def _m_Take(self, m: mx.Take) -> Value:
        v = self._spec_shaped(self._m(m.x), m.x)
        return Value(self.b.take(v.py, m.axis, m.at), m.dims)

    def _m_Each(self, m: mx.Each) -> Value:
        """Every element's form at once (the batch axes leading, as NumPy's ``@`` takes
        them), then the batch axes moved to where the result has them; an element's column
        is a vector of the result."""
        outer, self.batched = self.batched, True
        summing, self.summing = self.summing, True  # (sum(t1_b) is the element's total)
        try:
            v = self._m(m.x)
        finally:
            self.batched, self.summing = outer, summing
        nb = len(m.dims)
        py, shape = v.py, tuple(v.shape)
        if len(m.spec) == nb + 1:  # a column of each element: its unit axis dropped
            py, shape = P.Subscript(py, (P.Name("..."), P.num(0))), shape[:-1]
        lead = tuple(range(nb))
        if m.at != lead:
            py = self.b.move_axes(py, lead, m.at)
        return Value(py, m.spec)

    def _m_Permute(self, m: mx.Permute) -> Value:
        """The argument's axes reordered; a batched argument is compiled with its batch axes
        kept (as :meth:`_m_BatchSum` does), an element's vector a column."""
        outer, self.batched = self.batched, bool(mx.batch_of(m.x))
        summing, self.summing = self.summing, False  # a whole tensor's axes
        try:
            v = self._spec_shaped(self._m(m.x), m.x, tuple(m.dims[a] for a in _inverse(m.axes)))
        finally:
            self.batched, self.summing = outer, summing
        return Value(self.b.permute(v.py, m.axes), m.dims)

    def _m_SumAxes(self, m: mx.SumAxes) -> Value:
        """The sum over the spec axes of a whole tensor (compiled whole, never as one batch
        element's, as a permutation's argument is; a batched form, NumPy's reading of the
        whole tensors, with its batch axes kept: sum(softmax(S) ⊙ (O Vᵀ − …), axis=0))."""
        outer, self.batched = self.batched, bool(mx.batch_of(m.x))
        summing, self.summing = self.summing, False
        try:
            v = self._m(m.x)
        finally:
            self.batched, self.summing = outer, summing
        shape = tuple(1 if a in m.axes else d for a, d in enumerate(v.shape)
                      if m.keep or a not in m.axes)
        return Value(self.b.reduce(SUM, v.py, m.axes, m.keep, len(v.shape)), shape)

    def _m_Stack(self, m: mx.Stack) -> Value:
        pieces = [self._spec_shaped(self._m(x), x, m.dims[:m.axis] + m.dims[m.axis + 1:])
                  for x in m.xs]
        return Value(self.b.stack([v.py for v in pieces], m.axis), m.dims)

    def _spec_shaped(self, v: Value, x: mx.M, dims: tuple[Any, ...] | None = None) -> Value:
        """``v`` in its spec shape (``dims``, or a take's argument's spec shape), where the
        matrix form's shape differs: a vector read as a column (B, 1) is stacked or taken
        from as the 1-d array (B,) its tensor is."""
        want = dims if dims is not None else _spec_dims(x)
        if want is None or tuple(v.shape) == tuple(want):
            return v
        sizes = [self.dim(d) if d != 1 else P.num(1) for d in want]
        return Value(self.b.reshape_to(v.py, sizes), tuple(want))

    def _m_Conv(self, m: mx.Conv) -> Value:
        a, b = (self._m(x).py for x in (m.a, m.b))
        out = self.b.conv(CONV_OPS[m.head], m.kind, a, b)
        if m.bias is not None:
            bias = P.Subscript(self._m(m.bias).py, (P.Slice(),) + (P.NONE,) * m.nsp)
            out = P.binop("+", out, bias)
        return Value(out, m.dims)

    def _m_Einsum(self, m: mx.Einsum) -> Value:
        lhs, out = m.subscripts.split("->")
        ops, dims = [], {}
        for term, x in zip(lhs.split(","), m.operands):
            v = self._m(x)
            ops.append(self.b.ravel(v.py) if len(term) == 1 and len(v.shape) == 2 else v.py)
            for ch, d in zip(term, v.shape if len(term) > 1 else (mx.rows(x),)):
                dims[ch] = d
        return Value(self.b.einsum(m.subscripts, ops), tuple(dims.get(ch, 1) for ch in out))


def _spec_dims(x: mx.M) -> tuple[Any, ...] | None:
    """The spec shape of a matrix-form node that knows it (a tensor's, a take's, a
    stack's), else None."""
    if isinstance(x, (mx.Take, mx.Stack, mx.Slice, mx.Pad, mx.Reshape)):
        return tuple(x.dims)
    return None


def _element_array(b: Any, v: Value, m: mx.Ref) -> Value:
    """A tensor read per batch element, as the array of every element's matrix: its batch
    axes moved to the front (``Ref.at``), a vector element made a column."""
    nb, shape, py = len(m.batch), tuple(v.shape), v.py
    if m.at and m.at != tuple(range(len(m.at))):
        py = b.move_axes(py, m.at, tuple(range(len(m.at))))
        shape = tuple(shape[a] for a in m.at) + tuple(d for a, d in enumerate(shape)
                                                     if a not in m.at)
    if m.missing:  # V_bg in the element b, g, r: an axis of 1 for each it lacks, broadcast
        items = tuple(P.NONE if k in m.missing else P.Slice() for k in range(nb))
        py = P.Subscript(py, (*items, P.Name("...")))
        given = iter(shape)
        shape = tuple(1 if k in m.missing else next(given) for k in range(nb)) + \
            tuple(given)
    if len(shape) == nb + 1:
        return _column_last(Value(py, shape))
    if len(shape) == nb:  # t_b of t: [B], a scalar each: an array of 1×1 matrices
        return Value(P.Subscript(py, (P.Name("..."), P.NONE, P.NONE)), (*shape, 1, 1))
    return Value(py, shape)


def _column_last(v: Value) -> Value:
    """An array of vectors as the array of their columns (``v[..., None]``)."""
    return Value(P.Subscript(v.py, (P.Name("..."), P.NONE)), (*v.shape, 1))


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``axes``."""
    out = [0] * len(axes)
    for p, a in enumerate(axes):
        out[a] = p
    return tuple(out)


def _column(v: Value) -> Value:
    """A 1-d array as the column it is in the printed form (``v[:, None]``)."""
    return Value(P.Subscript(v.py, (P.Slice(), P.NONE)), (v.shape[0], 1))


def _as_matrix(v: Value, row: bool) -> Value:
    """A 1-d array as the row (``v[None, :]``) or column it is in the printed form."""
    if len(v.shape) != 1:
        return v
    if row:
        return Value(P.Subscript(v.py, (P.NONE, P.Slice())), (1, v.shape[0]))
    return _column(v)


def _batch_matmul_shape(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    """The shape of ``a @ b`` for arrays of two or more axes: the batch axes broadcast."""
    batch = _broadcast([a[:-2], b[:-2]])
    return (*batch, a[-2], b[-1])


def _exponent(f: mx.M) -> Any:
    """The power ``f`` is of its base (1 for anything not a power)."""
    exp: Any = f.exp if isinstance(f, mx.Pow) else 1
    return exp


def _element(v: Value) -> Value:
    """A scalar of the printed form held in an array of ones' shape (a tensor of shape
    [1, 1], as keepdims makes): its one element, so it cannot broadcast a vector into a
    matrix (a (1, 1) array times an (M,) vector is 1×M)."""
    if v.shape and all(d == 1 for d in v.shape):
        return Value(P.Subscript(v.py, tuple(P.num(0) for _ in v.shape)), ())
    return v


def _indicator(m: mx.M) -> bool:
    """Whether ``m`` is an indicator, 𝟙[…] (the op table's flag)."""
    return is_indicator(mx.call_of(m))


def _unbounded(m: mx.M) -> bool:
    """Whether ``m`` may not be finite where the forward pass is (the op table's rows, and
    its adjoints: :func:`einderive.ops.may_be_infinite`)."""
    return may_be_infinite(mx.walk(m), mx.call_of, _adjoint)


def _calls(m: mx.M) -> bool:
    """Whether ``m`` applies an op of the table (a function, a power) anywhere."""
    return any(mx.call_of(n) is not None for n in mx.walk(m))


def _adjoint(m: mx.M) -> bool:
    return isinstance(m, mx.Ref) and m.kind in (RefKind.ADJOINT, RefKind.ROP)
