"""Property test of the code generator: random expression trees, written into a spec with
every bracket explicit, compiled to NumPy (and PyTorch) modules imported from files, and
compared with an evaluation of the same tree written here, independently, in NumPy.

The trees mix + - * / @ ** unary minus, .T, transpose(), sum/mean with an axis and
elementwise functions, so the generated code is right only if its brackets follow
Python's precedence and associativity.  CI runs a bounded number of examples; run more
with ``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import derive_text
from einderive.api import torch_module
from einderive.render.pymodule import numpy_module
from test_codegen import _function, central_differences, load

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

# CI runs a fixed, bounded set of examples (derandomized: the same every run); the
# 'thorough' profile draws a thousand fresh ones.
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SETTINGS = settings(max_examples=1000 if THOROUGH else 25, derandomize=not THOROUGH,
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])

SIZES = {"N": 2, "M": 3}
SHAPES = [(), ("N",), ("M",), ("N", "M"), ("M", "N"), ("N", "N"), ("M", "M")]
DIMS = ["N", "M"]
FUNCTIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


def input_name(shape: tuple, k: int) -> str:
    return "s" + "".join(shape).lower() + str(k) if shape else f"c{k}"


@st.composite
def trees(draw, shape: tuple, depth: int):
    """A tree of the given shape: ('in', name) | ('num', v) | ('bin', op, a, b) | ('neg', a)
    | ('pow', a, k) | ('T', a) | ('transpose', a) | ('fn', name, a) | (reduce, a, axis)
    | ('@', a, b)."""
    kinds = ["in"] if depth == 0 else ["in", "bin", "bin", "neg", "pow", "fn", "@", "@"]
    if depth and len(shape) == 2:
        kinds += ["T", "transpose", "T"]
    if depth and len(shape) < 2:
        kinds += ["sum", "mean"]
    kind = draw(st.sampled_from(kinds))
    sub = trees(shape, depth - 1)
    if kind == "in":
        if not shape and draw(st.booleans()):
            return ("num", draw(st.sampled_from([2, 0.5, 3])))
        return ("in", input_name(shape, draw(st.integers(0, 1))))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        a = draw(sub)
        b = draw(trees(draw(st.sampled_from([shape, ()])), depth - 1))
        if draw(st.booleans()):
            a, b = b, a
        if op == "/":  # a denominator in (1, 3)
            b = ("bin", "+", ("num", 2), ("fn", "tanh", b))
        return ("bin", op, a, b)
    if kind == "neg":
        return ("neg", draw(sub))
    if kind == "pow":
        return ("pow", draw(sub), draw(st.sampled_from([2, 3])))
    if kind == "fn":
        return ("fn", draw(st.sampled_from(sorted(FUNCTIONS))), draw(sub))
    if kind in ("T", "transpose"):
        return (kind, draw(trees(tuple(reversed(shape)), depth - 1)))
    if kind in ("sum", "mean"):
        if not shape:
            inner = draw(st.sampled_from(SHAPES[1:]))
            return (kind, draw(trees(inner, depth - 1)), None)
        other = draw(st.sampled_from(DIMS))
        axis = draw(st.integers(0, 1))
        inner = (other, shape[0]) if axis == 0 else (shape[0], other)
        return (kind, draw(trees(inner, depth - 1)), axis)
    # '@': a contraction over a drawn dim
    k = draw(st.sampled_from(DIMS))
    if not shape:
        return ("@", draw(trees((k,), depth - 1)), draw(trees((k,), depth - 1)))
    if len(shape) == 1:
        if draw(st.booleans()):
            return ("@", draw(trees((shape[0], k), depth - 1)), draw(trees((k,), depth - 1)))
        return ("@", draw(trees((k,), depth - 1)), draw(trees((k, shape[0]), depth - 1)))
    return ("@", draw(trees((shape[0], k), depth - 1)), draw(trees((k, shape[1]), depth - 1)))


def text(t) -> str:
    """The tree as spec text, every subexpression in brackets."""
    kind = t[0]
    if kind == "in":
        return t[1]
    if kind == "num":
        return repr(t[1])
    if kind == "bin":
        return f"({text(t[2])} {t[1]} {text(t[3])})"
    if kind == "neg":
        return f"(-{text(t[1])})"
    if kind == "pow":
        return f"({text(t[1])} ** {t[2]})"
    if kind == "T":
        return f"({text(t[1])}).T"
    if kind == "transpose":
        return f"transpose({text(t[1])})"
    if kind == "fn":
        return f"{t[1]}({text(t[2])})"
    if kind in ("sum", "mean"):
        return f"{kind}({text(t[1])}{'' if t[2] is None else f', axis={t[2]}'})"
    return f"({text(t[1])} @ {text(t[2])})"


def evaluate(t, env: dict):
    """The tree's value, in NumPy, written independently of einderive."""
    kind = t[0]
    if kind == "in":
        return env[t[1]]
    if kind == "num":
        return float(t[1])
    if kind == "bin":
        a, b = evaluate(t[2], env), evaluate(t[3], env)
        return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[t[1]](a, b)
    if kind == "neg":
        return np.negative(evaluate(t[1], env))
    if kind == "pow":
        return np.power(evaluate(t[1], env), t[2])
    if kind in ("T", "transpose"):
        return np.transpose(evaluate(t[1], env))
    if kind == "fn":
        return FUNCTIONS[t[1]](evaluate(t[2], env))
    if kind in ("sum", "mean"):
        return getattr(np, kind)(evaluate(t[1], env), axis=t[2])
    return np.matmul(evaluate(t[1], env), evaluate(t[2], env))


def used(t, out: set) -> set:
    if t[0] == "in":
        out.add(t[1])
    for x in t[1:]:
        if isinstance(x, tuple):
            used(x, out)
    return out


def spec_for(tree, shape: tuple) -> tuple[str, dict]:
    names = sorted(used(tree, set()))
    shapes = {input_name(s, k): s for s in SHAPES for k in (0, 1)}
    shapes["C"] = shape
    inputs = ", ".join(f"{n}: [{', '.join(shapes[n])}]" for n in names + ["C"])
    spec = (f"dims: {{N: {SIZES['N']}, M: {SIZES['M']}}}\n"
            f"inputs: {{{inputs}}}\n"
            f"forward:\n  - y = {text(tree)}\n  - L = sum(y * C)\nloss: L\n")
    return spec, {n: shapes[n] for n in names + ["C"]}


def loss_of(tree, env: dict) -> float:
    return float(np.sum(evaluate(tree, env) * env["C"]))


@st.composite
def cases(draw):
    shape = draw(st.sampled_from(SHAPES))
    return draw(trees(shape, draw(st.integers(1, 4)))), shape


def close(got, want) -> bool:
    """Within 1e-5 of the numeric gradient's scale (at least 1), as verify judges."""
    want = np.asarray(want, dtype=float)
    err = np.abs(np.asarray(got, dtype=float) - want)
    return bool(err.max() <= 1e-5 * max(1.0, float(np.abs(want).max())))


@SETTINGS
@given(cases(), st.integers(0, 2 ** 16))
def test_generated_code_evaluates_the_tree(tmp_path_factory, case, seed):
    tmp_path = tmp_path_factory.mktemp("generated")
    tree, shape = case
    spec, shapes = spec_for(tree, shape)
    d = derive_text(spec)
    rng = np.random.default_rng(seed)
    env = {n: rng.standard_normal(tuple(SIZES[x] for x in s)) if s else float(rng.normal())
           for n, s in shapes.items()}
    want = loss_of(tree, env)
    module = load(tmp_path, numpy_module(d))
    with np.errstate(all="ignore"):
        assert module.forward(**env) == pytest.approx(want, rel=1e-9, abs=1e-9), spec
        grads = module.gradients(**env)
        for name in shapes:
            numeric = central_differences(lambda **kw: loss_of(tree, kw), env, name)
            assert close(grads[name], numeric), (spec, name)
    if torch is not None:
        fn = _function(load(tmp_path, torch_module(d)))
        args = [torch.tensor(env[t.name], dtype=torch.float64) for t in d.graph.inputs]
        assert fn.apply(*args).item() == pytest.approx(want, rel=1e-9, abs=1e-9), spec
