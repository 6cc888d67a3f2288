"""A small evaluator of index forms, independent of the matrix forms and the code generators.

It computes every forward node from its componentwise definition and every adjoint
from its index form (upstream adjoints as already computed arrays), element by
element, with explicit loops for the sums and deltas.  Tests compare the adjoints
with central finite differences of the same componentwise forward pass, and that
forward pass with a hand-written NumPy one, so an index form that is wrong, or
not fully collapsed in a way that changes its value, cannot pass.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from sympy import Indexed, KroneckerDelta, Sum, Symbol

from einderive.graph import build
from einderive.ops import AxisFunction, ElementwiseFunction
from einderive.reverse import derive_index
from einderive.spec import loads


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _Phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


SCALAR = {
    "sigmoid": _sigmoid, "sigmoid_prime": lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
    "tanh": math.tanh, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
    "relu": lambda x: max(x, 0.0), "step": lambda x: 1.0 if x > 0 else 0.0,
    "softplus": lambda x: math.log1p(math.exp(x)), "gelu": lambda x: x * _Phi(x),
    "Phi": _Phi, "phi": _phi, "silu": lambda x: x * _sigmoid(x),
}


def _softmax(a, axis):
    z = np.exp(a - a.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True)), axis=axis)


class Evaluator:
    """Compiles SymPy index expressions to closures ``f(env) -> float``."""

    def __init__(self, ctx, sizes: dict):
        self.ctx = ctx
        self.size_of = {ctx.sizes[d]: n for d, n in sizes.items()}
        self.values: dict = {}  # label Symbol -> ndarray (0-d for a scalar)

    def compile(self, e):
        if e.is_Number:
            c = float(e)
            return lambda env: c
        if isinstance(e, Symbol):
            if e in self.size_of:
                n = self.size_of[e]
                return lambda env: float(n)
            if e.name.startswith("$"):
                return lambda env: float(self.values[e])
            return lambda env: env[e]
        if isinstance(e, Indexed):
            label = e.base.label
            idx = [self.compile(i) for i in e.indices]
            return lambda env: float(self.values[label][tuple(int(f(env)) for f in idx)])
        if e.is_Add:
            fs = [self.compile(a) for a in e.args]
            return lambda env: sum(f(env) for f in fs)
        if e.is_Mul:
            fs = [self.compile(a) for a in e.args]
            return lambda env: math.prod(f(env) for f in fs)
        if e.is_Pow:
            b, p = self.compile(e.base), self.compile(e.exp)
            return lambda env: b(env) ** p(env)
        if isinstance(e, Sum):
            return self._sum(e)
        if isinstance(e, KroneckerDelta):
            a, b = (self.compile(x) for x in e.args)
            return lambda env: 1.0 if a(env) == b(env) else 0.0
        if isinstance(e, ElementwiseFunction):
            fn, a = SCALAR[e.spec.name], self.compile(e.args[0])
            return lambda env: fn(a(env))
        if isinstance(e, AxisFunction):
            return self._axis(e)
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")

    def _sum(self, e: Sum):
        body = self.compile(e.function)
        limits = [(v, self.compile(lo), self.compile(hi)) for v, lo, hi in e.limits]

        def run(env, k=0):
            if k == len(limits):
                return body(env)
            v, lo, hi = limits[k]
            total, inner = 0.0, dict(env)
            for n in range(int(lo(env)), int(hi(env)) + 1):
                inner[v] = n
                total += run(inner, k + 1)
            return total
        return run

    def _axis(self, e: AxisFunction):
        label, axis = e.label, e.axis
        idx = [self.compile(i) for i in e.indices]
        fn = _softmax if e.head == "softmax" else _logsumexp
        return lambda env: float(fn(self.values[label], axis)[tuple(int(f(env)) for f in idx)])

    def fill(self, expr, idx: tuple, shape: tuple) -> np.ndarray:
        """The array whose element at ``idx`` (0 on a size-1 axis) is ``expr``."""
        f = self.compile(expr)
        out = np.zeros(shape)
        for point in itertools.product(*[range(n) for n in shape]):
            env = {i: v for i, v in zip(idx, point) if isinstance(i, Symbol)}
            out[point] = f(env)
        return out


class IndexModel:
    """A spec's forward pass and adjoints, evaluated from the index forms."""

    def __init__(self, text: str, seed: int = 0):
        self.graph = build(loads(text, "test.yaml"))
        self.ix = derive_index(self.graph, closed=False)
        self.ctx = self.ix.ctx
        self.sizes = {d: n for d, n in self.graph.dims}
        rng = np.random.default_rng(seed)
        self.inputs = {}
        for t in self.graph.inputs:
            shape = self.shape(t.name)
            x = rng.uniform(0.5, 1.5, shape) if t.positive else rng.standard_normal(shape)
            self.inputs[t.name] = np.asarray(x, dtype=float)

    def shape(self, name: str) -> tuple:
        return tuple(1 if d == 1 else self.sizes[d] for d in self.graph[name].shape)

    def _evaluator(self, inputs: dict) -> Evaluator:
        ev = Evaluator(self.ctx, self.sizes)
        for name, x in inputs.items():
            ev.values[self.ctx.keys[name]] = np.asarray(x, dtype=float)
        for t in self.graph.nodes:
            expr, idx = self.ix.definitions[t.name]
            ev.values[self.ctx.keys[t.name]] = ev.fill(expr, idx, self.shape(t.name))
        return ev

    def values(self, inputs: dict | None = None) -> dict:
        """Every forward value by name."""
        ev = self._evaluator(inputs or self.inputs)
        return {t.name: ev.values[self.ctx.keys[t.name]] for t in self.graph.tensors}

    def loss(self, inputs: dict) -> float:
        return float(self.values(inputs)[self.graph.loss])

    def adjoints(self) -> dict:
        """Every adjoint, from its index form, from the loss back."""
        ev = self._evaluator(self.inputs)
        out = {}
        for name in self.ix.order:
            a = self.ix.adjoints[name]
            value = ev.fill(a.expr, a.idx, self.shape(name))
            ev.values[self.ctx.adjoint_keys[name]] = value
            out[name] = value
        return out

    def finite_difference(self, name: str, h: float = 1e-6) -> np.ndarray:
        x = self.inputs[name]
        out = np.zeros_like(x)
        for point in np.ndindex(x.shape):
            vals = []
            for sign in (1, -1):
                y = x.copy()
                y[point] += sign * h
                vals.append(self.loss({**self.inputs, name: y}))
            out[point] = (vals[0] - vals[1]) / (2 * h)
        return out
