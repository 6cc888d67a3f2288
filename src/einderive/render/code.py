"""Generated code: the backward pass as NumPy (or PyTorch), from the printed matrix forms.

Every adjoint statement is compiled from the very matrix form einderive
prints, with that form as its comment, so ``einderive verify`` proves the
printed formulas and not a twin of them.  Vectors are 1-d arrays; where the
printed form broadcasts a column across columns the code says ``[:, None]``.
"""

from __future__ import annotations

import keyword
import re

from sympy import Add, Mul, Pow, Rational, S, Symbol

from ..record import Record
from .. import matrix as mx
from ..ops import HELPER_NEEDS, HELPERS, OPS, SCALARS, ElementwiseFunction, FExpr
from .notation import Unicode

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
        right = paren(args[1], p + 1 if e.op in ("-", "/", "@") else p)
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


# ---------------------------------------------------------------------------
# Modules


def numpy_module(d, *, source: str | None = None) -> str:
    """A self-contained module (NumPy only) with ``forward`` and ``gradients``."""
    return _module(d, Backend(), source)


def _forward_lines(comp: Compiler, d) -> list[str]:
    lines = []
    for t in d.graph.nodes:
        v = comp.forward(t.expr)
        text = t.text.split("=", 1)[1].strip() if "=" in t.text else ""
        note = f"  # {t.text}" if t.kind == "node" and text and text != v.code else ""
        lines.append(f"{comp.names.var[t.name]} = {v.code}{note}")
    return lines


def _backward_lines(comp: Compiler, d) -> list[str]:
    printer = Unicode(d.index.ctx, d.loss)
    lines = []
    for a in d.adjoints:
        if a.name == d.loss:
            continue
        f = a.form
        if f.matrix is None:
            raise CodegenError(f"∂{d.loss}/∂{a.name} has no matrix form to compile")
        text = printer.matrix(f.matrix)
        wheres = "; ".join(f"{printer.matrix(w.lhs)} = {printer.matrix(w.rhs)}"
                           for w in f.wheres)
        lines.append("# " + f"∂{d.loss}/∂{a.name} = {text}" + (f", {wheres}" if wheres else ""))
        v = comp.matrix(f.matrix, f.wheres)
        code = v.code
        declared = a.tensor.shape
        if tuple(v.shape) != tuple(declared):
            code = comp.b.reshape(code, comp.names.var[a.name])
        lines.append(f"{comp.names.adj[a.name]} = {code}")
    return lines


def _dim_lines(comp: Compiler, d) -> list[str]:
    lines = []
    for dim in sorted(comp.dims_used, key=lambda x: [n for n, _ in d.graph.dims].index(x)):
        for t in d.graph.inputs:
            if dim in t.shape:
                lines.append(f"{comp.names.dim[dim]} = {comp.names.var[t.name]}.shape"
                             f"[{t.shape.index(dim)}]")
                break
    return lines


def _signature(names: Names, d) -> tuple[str, list[str]]:
    inputs = d.graph.inputs
    if not names.renamed:
        return ", ".join(names.var[t.name] for t in inputs), []
    unpack = [f"{names.var[t.name]} = tensors[{t.name!r}]" for t in inputs]
    return "**tensors", unpack


def _module(d, backend: Backend, source: str | None) -> str:
    from .. import __version__

    names = Names(d.graph)
    comp = Compiler(d, backend, names)
    fwd = _forward_lines(comp, d)
    bwd = _backward_lines(comp, d)
    dims = _dim_lines(comp, d)
    sig, unpack = _signature(names, d)
    wrt = [t for t in d.graph.inputs if t.name in d.graph.wrt]
    loss = names.var[d.loss]
    ind = "    "
    out = [f'"""Backward pass of {d.name}, generated by einderive {__version__}'
           f"{' from ' + source if source else ''}.",
           "",
           "Vectors are 1-d arrays; each adjoint is computed from the matrix form in its comment.",
           '"""', "", "import math" if _needs_math(comp) else None, "import numpy as np", "", ""]
    out = [x for x in out if x is not None]
    for h in _helper_code(comp):
        out += [h, "", ""]
    out.append(f"def forward({sig}):")
    out.append(ind + f'"""The loss {d.loss}, a float."""')
    out += [ind + x for x in unpack + dims + fwd]
    out.append(ind + f"return float({loss})")
    out += ["", ""]
    out.append(f"def gradients({sig}):")
    out.append(ind + f'"""The gradient of {d.loss} with respect to '
                     f'{", ".join(t.name for t in wrt)}, shaped like each input."""')
    out += [ind + x for x in unpack + dims + fwd]
    out += [ind + x for x in bwd]
    items = []
    for t in wrt:
        if t.name in {a.name for a in d.adjoints}:
            items.append(f"{t.name!r}: {names.adj[t.name]}")
        else:
            items.append(f"{t.name!r}: np.zeros(np.shape({names.var[t.name]}))")
    out.append(ind + "return {" + ", ".join(items) + "}")
    return "\n".join(out) + "\n"


def torch_module(d, *, source: str | None = None) -> str:
    """A ``torch.autograd.Function`` whose backward is the derived one (generated text;
    einderive itself does not need PyTorch)."""
    from .. import __version__

    names = Names(d.graph)
    comp = Compiler(d, Torch(), names)
    fwd = _forward_lines(comp, d)
    bwd = _backward_lines(comp, d)
    dims = _dim_lines(comp, d)
    inputs = d.graph.inputs
    args = ", ".join(names.var[t.name] for t in inputs)
    cls = "".join(p.capitalize() for p in re.split(r"[^0-9A-Za-z]+", d.name) if p) or "Spec"
    cls = (cls if cls[0].isalpha() else "Spec" + cls) + "Function"
    ind, ind2 = "    ", "        "
    shown = {a.name for a in d.adjoints}
    grads = []
    for t in inputs:
        if t.name in d.graph.wrt and t.name in shown:
            grads.append(f"grad_output * {names.adj[t.name]}")
        elif t.name in d.graph.wrt:
            grads.append(f"torch.zeros_like({names.var[t.name]})")
        else:
            grads.append("None")
    out = [f'"""Backward pass of {d.name} as a torch.autograd.Function, generated by einderive '
           f"{__version__}{' from ' + source if source else ''}.",
           "",
           f"Use {cls}.apply({args}); the inputs are tensors (0-d for scalars).",
           "Each adjoint is computed from the matrix form in its comment.",
           '"""', "", "import math" if _needs_math(comp) else None, "import torch", "", ""]
    out = [x for x in out if x is not None]
    out.append(f"class {cls}(torch.autograd.Function):")
    out += [ind + "@staticmethod", ind + f"def forward(ctx, {args}):"]
    out += [ind2 + x for x in dims + fwd]
    out += [ind2 + f"ctx.save_for_backward({args}{',' if len(inputs) == 1 else ''})",
            ind2 + f"return {names.var[d.loss]}", ""]
    out += [ind + "@staticmethod", ind + "def backward(ctx, grad_output):"]
    out += [ind2 + f"{args}{',' if len(inputs) == 1 else ''} = ctx.saved_tensors",
            ind2 + f"dtype = {names.var[inputs[0].name]}.dtype"]
    out += [ind2 + x for x in dims + fwd + bwd]
    out.append(ind2 + f"return {', '.join(grads)}")
    return "\n".join(out) + "\n"


def closed_form_functions(d) -> str:
    """``closed_<x>(**inputs)`` for each gradient with a closed form, for ``verify``."""
    names = Names(d.graph)
    comp = Compiler(d, Backend(), names)
    bodies = []
    for g in d.gradients:
        if g.closed is None or g.closed.matrix is None:
            continue
        v = comp.matrix(g.closed.matrix, g.closed.wheres)
        code = v.code
        if tuple(v.shape) != tuple(g.tensor.shape):
            code = comp.b.reshape(code, names.var[g.name])
        bodies.append((g.name, code))
    if not bodies:
        return ""
    fwd = _forward_lines(comp, d)
    dims = _dim_lines(comp, d)
    sig, unpack = _signature(names, d)
    out = ["import math", "import numpy as np", ""] + [h + "\n" for h in _helper_code(comp)]
    for name, code in bodies:
        out.append(f"def closed_{name}({sig}):")
        out += ["    " + x for x in unpack + dims + fwd]
        out += [f"    return {code}", ""]
    return "\n".join(out) + "\n"


def _needs_math(comp: Compiler) -> bool:
    return any("math." in (SCALARS[h].numpy + SCALARS[h].helper) for h in comp.helpers
               if h in SCALARS)


def _helper_code(comp: Compiler) -> list[str]:
    """Definitions of the helpers the code calls, each once, dependencies first."""
    names = set(comp.helpers)
    for n in list(names):
        names.update(HELPER_NEEDS.get(n, ()))
    texts = [SCALARS[n].helper if n in SCALARS else HELPERS[n]
             for n in sorted(names, key=lambda n: (n not in ("logsumexp",), n))]
    return list(dict.fromkeys(t for t in texts if t))


__all__ = ["numpy_module", "torch_module", "CodegenError"]
