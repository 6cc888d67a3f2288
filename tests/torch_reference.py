"""An independent reference for a spec: its forward pass in PyTorch (or NumPy), and every adjoint.

The forward pass is evaluated by walking the FExpr trees of the graph einderive parsed
(``einderive.graph.build``) and applying torch ops, never einderive's code generation, so a bug
in the printers, the matrix forms or the generated code cannot hide here.  The reference adjoint
of every input and every forward node is ``torch.autograd`` with retained gradients.  Where torch
is absent, :func:`fd_reference` gives the inputs' gradients by central finite differences of the
same walk done in NumPy.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional test dependency
    torch = None

PRIMES = (2, 3, 5, 7, 11, 13, 17, 19)


def sizes_of(graph, ranked: bool = False) -> dict:
    """Distinct primes for the dims, in order, so that a misplaced transpose cannot hide;
    ``ranked``: the primes in the order of the spec's own sizes (a tall X of N: 4, K: 2 stays
    tall, T - K + 1 stays positive), for a spec whose domain the plain order leaves."""
    from einderive.spec import sizes_with

    # a dim no input has (H in D: H * Dh) keeps the spec's size: the generated code has no
    # other way to know it; the other dims take distinct primes not already used
    carried = {d for t in graph.inputs for d in t.shape}
    kept = {d.name: d.size for d in graph.spec.dims
            if d.definition is None and d.name not in carried and d.size}
    pool = iter(p for p in PRIMES if p not in kept.values())
    free = [d for d in graph.spec.dims if d.definition is None and d.name not in kept]
    if ranked:
        free = sorted(free, key=lambda d: d.size or 0)  # stable: equal sizes keep their order
    drawn = {d.name: next(pool) for d in free}
    base = {d.name: kept.get(d.name) or drawn[d.name] for d in graph.spec.dims
            if d.definition is None}
    # a dim defined from others (D: H * Dh) takes the size its definition gives
    return dict(sizes_with(graph.spec.dims, base))


def shape_of(shape, sizes) -> tuple:
    return tuple(d if isinstance(d, int) else sizes[d] for d in shape)


def random_inputs(graph, sizes, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    # where each input must be drawn (its domain) is the op table's, as verify reads it;
    # the values and everything computed from them are this module's own
    from einderive.verify import positive_inputs, square_inputs
    pos = positive_inputs(graph)
    inverted = square_inputs(graph) | {t.name for t in graph.inputs if t.spd}
    out = {}
    for t in graph.inputs:
        shp = shape_of(t.shape, sizes)
        if t.integer is not None:  # indices 0 .. size - 1 (repeats likely: T > V in tests)
            out[t.name] = rng.integers(0, sizes[t.integer], shp)
            continue
        if t.name in inverted:  # G Gᵀ/n + n I/2: symmetric, eigenvalues ≥ n/2
            g = rng.standard_normal(shp)
            out[t.name] = g @ g.T / shp[0] + np.eye(shp[0]) * (shp[0] / 2)
            continue
        v = rng.uniform(0.5, 1.5, shp) if t.name in pos else rng.standard_normal(shp)
        if any(i.name == t.name and i.symmetric for i in graph.spec.inputs):
            v = (v + v.T) / 2
        out[t.name] = np.asarray(v, dtype=np.float64)
    return out


# ---------------------------------------------------------------------------------------------
# One walk, two array libraries.


class _Lib:
    """The few array functions the walk needs, for torch or NumPy."""

    def __init__(self, mod):
        self.mod = mod
        self.t = mod is not np

    def own(self, x):
        if self.t:
            return x.clone() if torch.is_tensor(x) else self.const(x)
        return np.array(x, dtype=np.float64, copy=True)

    def const(self, v):
        return self.mod.tensor(float(v), dtype=self.mod.float64) if self.t else np.float64(v)

    def fn(self, name, x, *rest):
        """An elementwise function, written here independently of einderive's op table."""
        if self.t:
            F = torch.nn.functional
            table = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "exp": torch.exp,
                     "log": torch.log, "sqrt": torch.sqrt, "relu": torch.relu,
                     "softplus": F.softplus, "gelu": F.gelu, "silu": F.silu,
                     "abs": torch.abs, "sin": torch.sin, "cos": torch.cos,
                     "log1p": torch.log1p, "expm1": torch.expm1, "erf": torch.erf,
                     "square": torch.square, "maximum": torch.maximum,
                     "minimum": torch.minimum, "clip": torch.clamp, "sign": torch.sign,
                     "leaky_relu": lambda v, a: F.leaky_relu(v, float(a)),
                     "elu": lambda v, a: F.elu(v, float(a))}
            return table[name](x, *rest)
        erf = np.vectorize(math.erf, otypes=[float])
        sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
        table = {"sigmoid": sig, "tanh": np.tanh, "exp": np.exp, "log": np.log,
                 "sqrt": np.sqrt, "relu": lambda v: np.maximum(v, 0.0),
                 "softplus": lambda v: np.logaddexp(0.0, v),
                 "gelu": lambda v: v * 0.5 * (1.0 + erf(v / math.sqrt(2.0))),
                 "silu": lambda v: v * sig(v),
                 "abs": np.abs, "sin": np.sin, "cos": np.cos, "log1p": np.log1p,
                 "expm1": np.expm1, "erf": erf, "square": np.square, "maximum": np.maximum,
                 "minimum": np.minimum, "clip": np.clip, "sign": np.sign,
                 "leaky_relu": lambda v, a: np.where(v > 0, v, float(a) * v),
                 "elu": lambda v, a: np.where(v > 0, v, float(a) * np.expm1(np.minimum(v, 0)))}
        return table[name](x, *rest)

    def where(self, cmp, x, y, a, b):
        cond = {">": x > y, "<": x < y, ">=": x >= y, "<=": x <= y}[cmp]
        if self.t:
            return torch.where(cond, a, b)
        return np.where(cond, a, b)

    def reduce(self, kind, x, axes, keep):
        if not axes:
            return x
        if self.t:
            f = torch.sum if kind == "sum" else torch.mean
            return f(x, dim=tuple(axes), keepdim=keep)
        f = np.sum if kind == "sum" else np.mean
        return f(x, axis=tuple(axes), keepdims=keep)

    def lse(self, x, axis, keep):
        if self.t:
            return torch.logsumexp(x, dim=axis, keepdim=keep)
        m = np.max(x, axis=axis, keepdims=True)
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return out if keep else np.squeeze(out, axis=axis)

    def matrix_fn(self, kind, x):
        if kind in ("logdet", "inv") and np.any(np.linalg.cond(
                x.detach().numpy() if self.t else x) > 1e12):
            x = x * float("nan")  # singular (Xᵀ A X of a wide X): outside the spec's domain
        if kind == "logdet":
            return torch.logdet(x) if self.t else np.linalg.slogdet(x)[1]
        if kind in ("inv", "det"):
            return getattr(self.mod.linalg, kind)(x)
        return getattr(self.mod, kind)(x)

    def extremum(self, kind, x, axis, keep):
        if axis is None and self.t:  # every axis
            return (torch.amax if kind == "max" else torch.amin)(x, dim=tuple(range(x.dim())),
                                                                 keepdim=keep)
        if self.t:
            return (torch.amax if kind == "max" else torch.amin)(x, dim=axis, keepdim=keep)
        return (np.max if kind == "max" else np.min)(x, axis=axis, keepdims=keep)

    def permute(self, x, axes):
        return x.permute(*axes) if self.t else np.transpose(x, axes)

    def einsum(self, sub, xs):
        return torch.einsum(sub, *xs) if self.t else np.einsum(sub, *xs)


def _number(e, sizes) -> float:
    """A constant subexpression (numbers, dims and arithmetic on them) as a float."""
    if e.op == "num":
        return float(e.param("value"))
    if e.op == "dim":
        return float(sizes[e.param("name")])
    raise ValueError(e.op)


_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "**": operator.pow, "neg": operator.neg}


def _whole_literal(e) -> bool:
    """Whether the number ``e`` is a whole literal, written with no . e E (Python's int)."""
    text = str(e.param("text") or "")
    return Fraction(e.param("value")).denominator == 1 and bool(text) and \
        not any(ch in text for ch in ".eE")


def _bound(e, sizes) -> int:
    """A slice bound (numbers, dims, +, − and * of them) as an int."""
    if e.op in ("num", "dim"):
        return int(_number(e, sizes))
    a, b = (_bound(x, sizes) for x in e.args)
    return {"+": a + b, "-": a - b, "*": a * b}[e.op]


def _np_conv(x, w, b=None):
    """Valid cross-correlation, stride 1: Σ over the kernel's offsets of W against X's windows."""
    n = w.ndim - 2
    out_len = [x.shape[2 + q] - w.shape[2 + q] + 1 for q in range(n)]
    y = np.zeros((x.shape[0], w.shape[0], *out_len))
    for off in np.ndindex(*w.shape[2:]):
        window = x[(slice(None), slice(None)) + tuple(slice(o, o + m) for o, m in zip(off, out_len))]
        y += np.einsum("bc...,oc->bo...", window, w[(slice(None), slice(None)) + off])
    return y if b is None else y + b.reshape((-1,) + (1,) * n)


def evaluate(graph, sizes, values: dict, lib: _Lib) -> dict:
    """Every tensor of ``graph`` (inputs given in ``values``), by walking its FExpr tree."""
    env = dict(values)

    def ev(e):
        out = exact(e)
        return lib.const(out) if isinstance(out, int) else out

    def exact(e):
        """As ev, but a whole literal (no . e E) and Python's int arithmetic of such are a
        Python int, as the user's Python computes them (10**20 + 1 - 10**20 is 1)."""
        op = e.op
        if op == "num" and _whole_literal(e):
            return int(e.param("value"))
        if op in _ARITHMETIC:
            a = [exact(x) for x in e.args]
            if all(isinstance(x, int) for x in a):
                out = _ARITHMETIC[op](*a)
                return out if isinstance(out, int) else lib.const(out)
            return _ARITHMETIC[op](*(lib.const(x) if isinstance(x, int) else x for x in a))
        return _ev(e)

    def _ev(e):
        op = e.op
        if op == "ref":
            return env[e.param("name")]
        if op in ("num", "dim"):
            return lib.const(_number(e, sizes))
        a = [ev(x) for x in e.args]
        if op == "@":
            return a[0] @ a[1]
        if op == "transpose":
            return lib.permute(a[0], tuple(e.param("axes")))
        if op in ("sum", "mean"):
            return lib.reduce(op, a[0], tuple(e.param("axes")), bool(e.param("keepdims")))
        if op == "l2_loss":
            return lib.reduce("sum", (a[0] - a[1]) ** 2,
                              tuple(range(len(e.param("shape")))), False)
        if op == "einsum":
            return lib.einsum(e.param("subscripts"), a)
        if op == "logsumexp":
            return lib.lse(a[0], e.param("axis"), bool(e.param("keepdims")))
        if op == "log_softmax":
            return a[0] - lib.lse(a[0], e.param("axis"), True)
        if op == "softmax":
            return lib.mod.exp(a[0] - lib.lse(a[0], e.param("axis"), True))
        if op == "where":
            return lib.where(e.param("compare"), *a)
        if op in ("inv", "det", "logdet", "trace", "diagonal", "diag"):
            return lib.matrix_fn(op, a[0])
        if op == "solve":
            return lib.mod.linalg.solve(a[0], a[1])
        if op in ("max", "min"):
            return lib.extremum(op, a[0], e.param("axis"), bool(e.param("keepdims")))
        if op == "reshape":  # NumPy's row-major reshape, to the sizes of the new dims
            return a[0].reshape(tuple(1 if d.op == "num" else sizes[d.param("name")]
                                      for d in e.args[1:]))
        if op in ("conv1d", "conv2d"):  # PyTorch's own, or a loop over the kernel's offsets
            if lib.t:
                return getattr(torch.nn.functional, op)(*a)
            return _np_conv(*a)
        if op == "concatenate":
            return (torch.cat(a, dim=e.param("axis")) if lib.t else
                    np.concatenate(a, axis=e.param("axis")))
        if op == "stack":
            return (torch.stack(a, dim=e.param("axis")) if lib.t else
                    np.stack(a, axis=e.param("axis")))
        if op == "slice":  # x[:, lo:hi], by the library's own basic slicing
            lo, hi = (_bound(b, sizes) for b in e.args[1:])
            return a[0][(slice(None),) * e.param("axis") + (slice(lo, hi),)]
        if op == "getitem":  # E[tokens] (rows), Z[range(B), labels] (one element per row)
            index = a[1].long() if lib.t else a[1]
            if e.param("rows"):
                return a[0][index]
            return a[0][lib.mod.arange(len(index)), index]
        if op == "norm":
            return lib.mod.sqrt(lib.reduce("sum", a[0] ** 2, tuple(e.param("axes")),
                                           bool(e.param("keepdims"))))
        return lib.fn(op, *a, *e.param("params", ()))

    for t in graph.tensors:
        if t.expr is not None:
            # a node is its own tensor even when it only renames another (h = x): its adjoint
            # is then its own, not the sum over every use of x
            env[t.name] = lib.own(ev(t.expr))
    return env


# ---------------------------------------------------------------------------------------------


class Reference:
    """Forward values and reference adjoints (``None`` where the loss does not depend on it)."""

    def __init__(self, sizes, inputs, values, adjoints):
        self.sizes, self.inputs, self.values, self.adjoints = sizes, inputs, values, adjoints


def torch_reference(graph, sizes, inputs) -> Reference:
    """Forward in torch, adjoints of every input and node by autograd (retained gradients)."""
    integer = {t.name for t in graph.inputs if t.integer is not None}
    leaves = {k: torch.tensor(v, dtype=torch.long) if k in integer else
              torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in inputs.items()}
    env = evaluate(graph, sizes, leaves, _Lib(torch))
    for t in graph.nodes:
        if env[t.name].requires_grad:
            env[t.name].retain_grad()
    env[graph.loss].backward()
    values = {k: v.detach().numpy().astype(np.float64) for k, v in env.items()}
    adj = {}
    for t in graph.tensors:
        g = env[t.name].grad if env[t.name].requires_grad else None
        adj[t.name] = np.zeros_like(values[t.name]) if g is None else g.numpy().copy()
    return Reference(sizes, inputs, values, adj)


def numpy_forward(graph, sizes, inputs) -> dict:
    return {k: np.asarray(v, dtype=np.float64)
            for k, v in evaluate(graph, sizes, dict(inputs), _Lib(np)).items()}


def fd_gradients(graph, sizes, inputs, h: float = 1e-6) -> dict:
    """Central finite differences of the loss with respect to every input."""
    out = {}
    integer = {t.name for t in graph.inputs if t.integer is not None}
    for name, x in inputs.items():
        if name in integer:  # indices have no gradient
            continue
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            vals = []
            for s in (h, -h):
                xs = dict(inputs)
                y = x.copy()
                y[idx] += s
                xs[name] = y
                vals.append(float(numpy_forward(graph, sizes, xs)[graph.loss]))
            g[idx] = (vals[0] - vals[1]) / (2 * h)
        out[name] = g
    return out


def reference(graph, seed: int = 0) -> Reference:
    """Torch autograd where torch is installed; otherwise forward values only, and the inputs'
    gradients by finite differences (nodes' adjoints are then unknown: None).  Where the
    plain primes leave the spec's domain (a dim defined as T - K + 1 not positive, a logdet of
    the singular Xᵀ A X of a wide X: a value not finite) the primes follow the spec's sizes."""
    from einderive.errors import SpecError
    ranked = _ranked_sizes(graph)
    try:
        plain = sizes_of(graph)
        ref = _reference(graph, plain if _slices_fit(graph, plain) else ranked, seed)
    except SpecError:
        return _reference(graph, ranked, seed)
    if all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in ref.values.values()):
        return ref
    return ref if ranked == ref.sizes else _reference(graph, ranked, seed)


def _ranked_sizes(graph) -> dict:
    """The primes in the order of the spec's sizes where every slice fits its axis at them,
    else the spec's own sizes: X[:, 3:4] at N = 3 is past the axis' end (an empty slice,
    nu47 find_13)."""
    from einderive.errors import SpecError
    try:
        ranked = sizes_of(graph, ranked=True)
    except SpecError:
        return dict(graph.dims)
    return ranked if _slices_fit(graph, ranked) else dict(graph.dims)


def _slices_fit(graph, sizes: dict) -> bool:
    from einderive.errors import SpecError
    from einderive.graph import check_slices
    try:
        check_slices(graph, sizes)
    except SpecError:
        return False
    return True


def _reference(graph, sizes: dict, seed: int) -> Reference:
    inputs = random_inputs(graph, sizes, seed)
    if torch is not None:
        return torch_reference(graph, sizes, inputs)
    values = numpy_forward(graph, sizes, inputs)
    adj = {t.name: None for t in graph.tensors}
    adj.update(fd_gradients(graph, sizes, inputs))
    return Reference(sizes, inputs, values, adj)
