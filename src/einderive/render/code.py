"""Compiling forward expressions and matrix forms into NumPy (or PyTorch) expressions.

Every adjoint statement is compiled from the very matrix form einderive
prints, with that form as its comment, so ``einderive verify`` proves the
printed formulas and not a twin of them.  Vectors are 1-d arrays; where the
printed form broadcasts a column across columns the code says ``[:, None]``.
"""

from __future__ import annotations

import keyword
import re

from sympy import Add, Mul, Pow, Rational, S, Symbol

from .. import matrix as mx
from ..ops import HELPERS, OPS, SCALARS, ElementwiseFunction, FExpr
from ..record import Record

RESERVED = {"np", "math", "torch", "forward", "gradients", "float", "dict", "shape",
            "tensors", "ctx", "grad_output", "Function", "F"} | set(HELPERS) | \
    {"sigmoid", "Phi", "_erf"}


class CodegenError(Exception):
    pass


class Value(Record):
    """Generated code with its precedence and the shape of the array it makes."""

    code: str
    prec: int  # Python precedence: 11 + -, 12 * / @, 13 unary -, 14 **, 16 atom
    shape: tuple  # NumPy shape: dims and 1s
    op: str = ""  # the operator at the top, for * and @ (same precedence, not associative)


class Backend:
    """NumPy spelling; :class:`Torch` overrides what differs."""

    lib = "np"

    def sum(self, x: str, axis=None) -> str:
        return f"np.sum({x})" if axis is None else f"np.sum({x}, axis={axis})"

    def outer(self, a: str, b: str) -> str:
        return f"np.outer({a}, {b})"

    def ones(self, shape: str) -> str:
        return f"np.ones({shape})"

    def eye(self, n: str) -> str:
        return f"np.eye({n})"

    def diag(self, x: str) -> str:
        return f"np.diag({x})"

    def einsum(self, sub: str, ops: list) -> str:
        return f"np.einsum({sub!r}, {', '.join(ops)})"

    def sqrt(self, x: str) -> str:
        return f"np.sqrt({x})"

    def reshape(self, x: str, like: str) -> str:
        return f"np.reshape({x}, np.shape({like}))"

    def fn(self, name: str, x: str) -> str:
        return SCALARS[name].numpy.format(x=x)

    def axis_fn(self, head: str, x: str, axis: int, ndim: int, keep: bool = False) -> str:
        parts = [x] + ([] if axis == ndim - 1 else [f"axis={axis}"])
        return f"{head}({', '.join(parts)})"

    def scalar(self, x: str) -> str:
        return f"float({x})"

    def transpose(self, x: str) -> str:
        return f"{x}.T"


class Torch(Backend):
    lib = "torch"

    def sum(self, x: str, axis=None) -> str:
        return f"torch.sum({x})" if axis is None else f"torch.sum({x}, dim={axis})"

    def outer(self, a: str, b: str) -> str:
        return f"torch.outer({a}, {b})"

    def ones(self, shape: str) -> str:
        return f"torch.ones({shape}, dtype=dtype)"

    def eye(self, n: str) -> str:
        return f"torch.eye({n}, dtype=dtype)"

    def diag(self, x: str) -> str:
        return f"torch.diag({x})"

    def einsum(self, sub: str, ops: list) -> str:
        return f"torch.einsum({sub!r}, {', '.join(ops)})"

    def sqrt(self, x: str) -> str:
        return f"torch.sqrt({x})"

    def reshape(self, x: str, like: str) -> str:
        return f"torch.reshape({x}, {like}.shape)"

    def fn(self, name: str, x: str) -> str:
        return SCALARS[name].torch.format(x=x)

    def axis_fn(self, head: str, x: str, axis: int, ndim: int, keep: bool = False) -> str:
        if head == "softmax":
            return f"torch.softmax({x}, dim={axis})"
        if head == "log_softmax":
            return f"torch.log_softmax({x}, dim={axis})"
        return f"torch.logsumexp({x}, dim={axis}{', keepdim=True' if keep else ''})"

    def scalar(self, x: str) -> str:
        return x

    def transpose(self, x: str) -> str:
        return f"{x}.mT"


_CALL = re.compile(r"[\w.]+\(\{x\}(, [^{}()]*)?\)")


def _atom(code: str, shape: tuple) -> Value:
    return Value(code, 16, shape)


def paren(v: Value, level: int, same_op: str = "") -> str:
    """``v`` bracketed unless it binds at least as tightly as ``level``; at exactly
    ``level`` only a chain of the same operator ``same_op`` goes without brackets."""
    if v.prec < level or (v.prec == level and same_op and v.op != same_op):
        return f"({v.code})"
    return v.code


class Names:
    """Python names for spec names, adjoints and dims, all distinct and safe."""

    def __init__(self, graph):
        self.taken = set(RESERVED)
        self.var: dict[str, str] = {}
        for t in graph.tensors:
            self.var[t.name] = self._claim(t.name)
        self.dim = {d: self._claim(d) for d, _ in graph.dims}
        self.adj = {t.name: self._claim(f"d_{t.name}") for t in graph.tensors}
        self.renamed = any(self.var[t.name] != t.name for t in graph.inputs)

    def _claim(self, name: str) -> str:
        out = name
        while out in self.taken or keyword.iskeyword(out) or not out.isidentifier():
            out += "_"
        self.taken.add(out)
        return out


class Compiler:
    """Turns forward expressions and matrix forms into code for one backend."""

    def __init__(self, d, backend: Backend, names: Names):
        self.d = d
        self.graph = d.graph
        self.b = backend
        self.names = names
        self.dims_used: set[str] = set()
        self.helpers: set[str] = set()
        self.wheres: dict = {}

    # -- forward ------------------------------------------------------------------------

    def forward(self, e: FExpr) -> Value:
        if e.op == "ref":
            name = e.param("name")
            return _atom(self.names.var[name], self.graph[name].shape)
        if e.op == "num":
            v = e.param("value")
            text = e.param("text")
            return Value(text, 16 if v >= 0 else 13, ())
        if e.op == "dim":
            self.dims_used.add(e.param("name"))
            return _atom(self.names.dim[e.param("name")], ())
        op = OPS[e.op]
        args = [self.forward(a) for a in e.args if isinstance(a, FExpr)]
        if e.op in ("softmax", "log_softmax", "logsumexp"):
            self.helpers.add(e.op)
            if isinstance(self.b, Torch):
                return _atom(self.b.axis_fn(e.op, args[0].code, e.param("axis"),
                                            len(e.args[0].shape), e.param("keepdims")), e.shape)
        if e.op in SCALARS:
            return self._function(e.op, args[0], e.shape)
        codes = self._operands(op, args, e)
        if isinstance(self.b, Torch):
            code = self._torch_forward(e, codes)
        else:
            code = op.numpy(e, codes)
        return Value(code, op.prec, e.shape)

    def _operands(self, op, args: list, e: FExpr) -> list:
        p = op.prec
        if p == 16:
            return [a.code for a in args]
        if e.op == "**":
            return [paren(args[0], 15), paren(args[1], 16)]
        if len(args) == 1:
            return [paren(args[0], p)]
        left = paren(args[0], p)
        # Python reads a * b @ c as (a * b) @ c: a right operand at the same level is bracketed
        right = paren(args[1], p + 1 if e.op in ("-", "/", "@") else p, same_op=e.op)
        return [left, right]

    def _torch_forward(self, e: FExpr, codes: list) -> str:
        if e.op in ("sum", "mean"):
            axes, keep = e.param("axes"), e.param("keepdims")
            nd = len(e.args[0].shape)
            parts = [codes[0]]
            if tuple(axes) != tuple(range(nd)) or keep:
                parts.append(f"dim={axes[0] if len(axes) == 1 else tuple(axes)}")
            if keep:
                parts.append("keepdim=True")
            return f"torch.{e.op}({', '.join(parts)})"
        if e.op == "transpose":
            axes = e.param("axes")
            if len(axes) <= 2:
                return f"{codes[0]}.mT" if len(axes) == 2 else codes[0]
            return f"{codes[0]}.permute{tuple(axes)}"
        if e.op == "l2_loss":
            return f"torch.sum(({codes[0]} - {codes[1]}) ** 2)"
        if e.op == "einsum":
            return self.b.einsum(e.param("subscripts"), codes)
        return OPS[e.op].numpy(e, codes)

    # -- matrix forms --------------------------------------------------------------------

    def matrix(self, m: mx.M, wheres: tuple) -> Value:
        self.wheres = {w.lhs: w.rhs for w in wheres}
        return self._m(m)

    def _m(self, m: mx.M) -> Value:
        method = getattr(self, "_m_" + type(m).__name__)
        return method(m)

    def _m_Ref(self, m: mx.Ref) -> Value:
        shape = self.graph[m.name].shape
        if m.kind == "adjoint":
            return _atom(self.names.adj[m.name], shape)
        return _atom(self.names.var[m.name], shape)

    def _m_Const(self, m: mx.Const) -> Value:
        return self._const(m.value)

    def _const(self, c) -> Value:
        if c.is_Integer:
            return Value(str(int(c)), 16 if c >= 0 else 13, ())
        if isinstance(c, Rational):
            return Value(f"{int(c.p)} / {int(c.q)}", 12, ())
        if isinstance(c, Symbol):
            name = self.d.index.ctx.dim_of_size[c]
            self.dims_used.add(name)
            return _atom(self.names.dim[name], ())
        if isinstance(c, Pow):
            if c.exp == S.Half:
                return _atom(self.b.sqrt(self._const(c.base).code), ())
            if c.exp.is_negative:
                inner = self._const(Pow(c.base, -c.exp))
                return Value(f"1 / {paren(inner, 13)}", 12, ())
            return Value(f"{paren(self._const(c.base), 15)} ** {self._const(c.exp).code}", 14, ())
        if isinstance(c, Mul):
            coeff, rest = c.as_coeff_Mul()
            parts = [self._const(a) for a in Mul.make_args(rest)]
            code = " * ".join(paren(p, 12) for p in parts)
            if coeff != 1:
                code = f"{paren(self._const(coeff), 12)} * {code}"
            return Value(code, 12, ())
        if isinstance(c, ElementwiseFunction):
            return self._function(c.spec.name, self._const(c.args[0]), ())
        if isinstance(c, Add):
            parts = [self._const(a) for a in Add.make_args(c)]
            return Value(" + ".join(paren(p, 11) for p in parts), 11, ())
        raise CodegenError(f"cannot compile the constant {c}")  # pragma: no cover

    def _m_Ones(self, m: mx.Ones) -> Value:
        dims = [d for d in m.shape]
        for d in dims:
            if d != 1:
                self.dims_used.add(d)
        shape = tuple(d for d in dims if d != 1) if 1 in dims and len(dims) == 2 else tuple(dims)
        text = "(" + ", ".join(self.names.dim[d] if d != 1 else "1" for d in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        return _atom(self.b.ones(text), shape)

    def _m_Eye(self, m: mx.Eye) -> Value:
        self.dims_used.add(m.dim)
        return _atom(self.b.eye(self.names.dim[m.dim]), (m.dim, m.dim))

    def _m_Transpose(self, m: mx.Transpose) -> Value:
        v = self._m(m.x)
        if len(v.shape) <= 1:
            return v
        return _atom(self.b.transpose(paren(v, 16)), tuple(reversed(v.shape)))

    def _m_MatMul(self, m: mx.MatMul) -> Value:
        a, b = self._m(m.a), self._m(m.b)
        if mx.cols(m.a) == 1 and mx.rows(m.b) == 1:
            flat = [v.code if len(v.shape) <= 1 else f"{paren(v, 16)}.ravel()" for v in (a, b)]
            return _atom(self.b.outer(*flat), (mx.rows(m.a), mx.cols(m.b)))
        shape = _matmul_shape(a.shape, b.shape)
        return Value(f"{paren(a, 12, '@')} @ {paren(b, 13)}", 12, shape, "@")

    def _elementwise(self, m: mx.M, parts: list) -> list:
        """Operands spelled so that NumPy broadcasts them as the printed form does."""
        values = [self._m(p) for p in parts]
        two_d = len(m.shape) == 2 and m.shape[0] != 1 and m.shape[1] != 1
        column = len(m.shape) == 2 and m.shape[1] == 1 and m.shape[0] != 1
        any_2d = any(len(v.shape) == 2 for v in values)
        out = []
        for p, v in zip(parts, values):
            is_col = len(p.shape) == 2 and p.shape[1] == 1 and p.shape[0] != 1
            if len(v.shape) == 1 and is_col and (two_d or (column and any_2d)):
                v = Value(f"{paren(v, 16)}[:, None]", 16, (v.shape[0], 1))
            out.append(v)
        return out

    def _m_Hadamard(self, m: mx.Hadamard) -> Value:
        num = [f for f in m.factors if not (isinstance(f, mx.Pow) and f.exp < 0)]
        den = [mx.power(f.x, -f.exp) for f in m.factors if isinstance(f, mx.Pow) and f.exp < 0]
        values = self._elementwise(m, num + den)
        nv, dv = values[:len(num)], values[len(num):]
        code = " * ".join(paren(v, 12, "*") for v in nv) if nv else "1.0"
        for v in dv:
            code += f" / {paren(v, 13)}"
        return Value(code, 12, _broadcast([v.shape for v in values]), "*" if not dv else "/")

    def _m_Scale(self, m: mx.Scale) -> Value:
        c, x = self._m(m.coeff), self._m(m.x)
        if c.code == "-1":
            return Value(f"-{paren(x, 13)}", 13, x.shape)
        return Value(f"{paren(c, 12, '*')} * {paren(x, 13)}", 12, _broadcast([c.shape, x.shape]),
                     "*")

    def _m_Add(self, m: mx.Add) -> Value:
        signs, parts = [False], [m.terms[0]]
        for t in m.terms[1:]:
            neg, positive = mx.split_sign(t)
            signs.append(neg)
            parts.append(positive)
        values = self._elementwise(m, parts)
        code = paren(values[0], 11)
        for neg, v in zip(signs[1:], values[1:]):
            code += f" - {paren(v, 12)}" if neg else f" + {paren(v, 11)}"
        return Value(code, 11, _broadcast([v.shape for v in values]))

    def _m_Pow(self, m: mx.Pow) -> Value:
        v = self._m(m.x)
        if m.exp == S.Half:
            return _atom(self.b.sqrt(v.code), v.shape)
        if m.exp == -1:
            return Value(f"1 / {paren(v, 13)}", 12, v.shape, "/")
        e = m.exp
        exp = str(int(e)) if e.is_Integer else f"({int(e.p)} / {int(e.q)})"
        return Value(f"{paren(v, 15)} ** {exp}", 14, v.shape)

    def _m_Fn(self, m: mx.Fn) -> Value:
        if SCALARS[m.name].expand is not None and m in self.wheres:
            return self._m(self.wheres[m])
        v = self._m(m.x)
        return self._function(m.name, v, v.shape)

    def _function(self, name: str, arg: Value, shape: tuple) -> Value:
        """A scalar function's template; its argument bracketed unless it sits in a call."""
        spec = SCALARS[name]
        if spec.helper:
            self.helpers.add(name)
        template = spec.torch if isinstance(self.b, Torch) else spec.numpy
        inside_call = all(template[m.start() - 1] == "(" and template[m.end()] in ",)"
                          for m in re.finditer(r"\{x\}", template))
        code = template.format(x=arg.code if inside_call else paren(arg, 16))
        return Value(code, 16 if _CALL.fullmatch(template) else 11, shape)

    def _m_AxisFn(self, m: mx.AxisFn) -> Value:
        v = self._m(m.x)
        self.helpers.add(m.head)
        shape = v.shape
        if m.head == "logsumexp":
            shape = tuple(d for n, d in enumerate(v.shape) if n != m.axis)
        return _atom(self.b.axis_fn(m.head, v.code, m.axis, m.ndim), shape)

    def _m_Reduce(self, m: mx.Reduce) -> Value:
        v = self._m(m.x)
        if m.kind == "sum":
            return _atom(self.b.sum(v.code), ())
        if len(v.shape) < 2:
            return v  # a vector's row sum is itself
        axis = 1 if m.kind == "rowsum" else 0
        return _atom(self.b.sum(v.code, axis), (v.shape[1 - axis],))

    def _m_Diag(self, m: mx.Diag) -> Value:
        v = self._m(m.x)
        return _atom(self.b.diag(v.code), (v.shape[0], v.shape[0]))

    def _m_Einsum(self, m: mx.Einsum) -> Value:
        lhs, out = m.subscripts.split("->")
        ops = []
        for term, x in zip(lhs.split(","), m.operands):
            v = self._m(x)
            if len(term) == 1 and len(v.shape) == 2:
                ops.append(f"{paren(v, 16)}.ravel()")
            else:
                ops.append(v.code)
        dims = {}
        for term, x in zip(lhs.split(","), m.operands):
            for ch, d in zip(term, self._m(x).shape if len(term) > 1 else (mx.rows(x),)):
                dims[ch] = d
        return _atom(self.b.einsum(m.subscripts, ops), tuple(dims.get(ch, 1) for ch in out))


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(b) == 1:
        return a[:-1]
    if len(a) == 1:
        return b[:-2] + b[-1:]
    return a[:-1] + b[-1:]


def _broadcast(shapes: list) -> tuple:
    n = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(1, n + 1):
        ds = [s[-k] for s in shapes if len(s) >= k and s[-k] != 1]
        out.append(ds[0] if ds else 1)
    return tuple(reversed(out))
