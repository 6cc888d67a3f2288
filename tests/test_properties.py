"""Property tests: random valid specs derive and verify; random damage never crashes.

CI runs a bounded number of examples.  Run more with
``HYPOTHESIS_PROFILE=thorough pytest tests/test_properties.py``.
"""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DIMS = {"A": 2, "B": 3, "C": 5}
SMOOTH = ["sigmoid({})", "tanh({})", "softplus({})", "silu({})", "gelu({})", "exp(tanh({}))",
          "log(1 + {0} * {0})", "sqrt(1 + {0} * {0})", "{} ** 2", "-{}"]


def _broadcast(a: tuple, b: tuple):
    out = []
    for n in range(1, max(len(a), len(b)) + 1):
        x = a[-n] if n <= len(a) else None
        y = b[-n] if n <= len(b) else None
        if x is None or y is None or x == y:
            out.append(x or y)
        else:
            return None
    return tuple(reversed(out))


@st.composite
def spec_texts(draw):
    shapes = [(), ("A",), ("B",), ("A", "B"), ("B", "C"), ("C", "A"), ("B", "B")]
    env = [(f"x{n}", draw(st.sampled_from(shapes))) for n in range(draw(st.integers(1, 4)))]
    inputs = list(env)
    lines = []
    for k in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["unary", "binary", "matmul", "transpose", "reduce",
                                     "softmax", "einsum", "lse"]))
        name, shape = draw(st.sampled_from(env))
        expr = None
        if kind == "unary":
            expr, out = draw(st.sampled_from(SMOOTH)).format(name), shape
        elif kind == "binary":
            other, oshape = draw(st.sampled_from(env))
            out = _broadcast(shape, oshape)
            if out is not None:
                op = draw(st.sampled_from(["+", "-", "*", "/"]))
                rhs = f"(1 + {other} * {other})" if op == "/" else other
                expr = f"{name} {op} {rhs}"
        elif kind == "matmul":
            partners = [(n, s) for n, s in env if shape and s and s[0] == shape[-1]]
            if partners:
                other, oshape = draw(st.sampled_from(partners))
                expr, out = f"{name} @ {other}", shape[:-1] + oshape[1:]
        elif kind == "transpose" and len(shape) == 2:
            expr, out = f"{name}.T", shape[::-1]
        elif kind == "reduce" and shape:
            fn = draw(st.sampled_from(["sum", "mean"]))
            axis = draw(st.sampled_from([None, 0, -1]))
            keep = draw(st.booleans())
            if axis is None:
                expr, out = f"{fn}({name})", ()
            else:
                ax = axis % len(shape)
                out = tuple(1 if i == ax else d for i, d in enumerate(shape)) if keep else \
                    tuple(d for i, d in enumerate(shape) if i != ax)
                expr = f"{fn}({name}, axis={axis}{', keepdims=True' if keep else ''})"
        elif kind == "softmax" and shape:
            fn = draw(st.sampled_from(["softmax", "log_softmax"]))
            axis = draw(st.sampled_from([0, -1]))
            arg = draw(st.sampled_from([name, f"{name} * 2", f"tanh({name})"]))
            expr, out = f"{fn}({arg}, axis={axis})", shape
        elif kind == "lse" and shape:
            expr, out = f"logsumexp({name}, axis=-1)", shape[:-1]
        elif kind == "einsum" and len(shape) == 2:
            partners = [(n, s) for n, s in env if s == (shape[1],)]
            if partners:
                other, _ = draw(st.sampled_from(partners))
                expr, out = f'einsum("ij,j->i", {name}, {other})', shape[:1]
        if expr is None:
            continue
        node = f"n{k}"
        lines.append(f"{node} = {expr}")
        env.append((node, out))
    nodes = [n for n, _ in env[len(inputs):]] or [inputs[0][0]]
    lines.append("L = " + " + ".join(f"sum({n} * {n})" for n in nodes))
    shape_text = {(): "[]"}
    text = "dims: {A: 2, B: 3, C: 5}\ninputs:\n"
    text += "".join(f"  {n}: {shape_text.get(s, '[' + ', '.join(map(str, s)) + ']')}\n"
                    for n, s in inputs)
    text += "forward:\n" + "".join(f"  - {ln}\n" for ln in lines) + "loss: L\n"
    return text


@given(spec_texts())
def test_random_valid_specs_derive_and_match_finite_differences(text):
    from einderive.derivation import derive
    from einderive.spec import loads
    from einderive.api import verify
    d = derive(loads(text, "random.yaml"))
    assert all(a.form.matrix is not None for a in d.adjoints), text
    report = verify(d, seed=0, tol=1e-5)
    assert report.ok, (text, [(c.name, c.max_abs) for c in report.checks if not c.ok],
                       report.error)


BASE = """\
dims: {B: 3, N: 4, H: 5}
inputs:
  X: [B, N]
  W: [H, N]
  b: [H]
  T: [B, H]
forward:
  - Z = X @ W.T + b
  - P = softmax(Z, axis=-1)
  - L = mean(-sum(T * log(P), axis=-1))
loss: L
wrt: [W, b]
"""


@st.composite
def damaged(draw):
    text = draw(st.sampled_from([BASE]))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "swap", "shape", "duplicate"]))
        if kind == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1:]
        elif kind == "insert":
            i = draw(st.integers(0, len(text)))
            ch = draw(st.sampled_from(list(string.printable) + ["é", "\t", "ᵀ", "\x00"]))
            text = text[:i] + ch + text[i:]
        elif kind == "swap":
            a, b = draw(st.sampled_from([("X", "W"), ("b", "T"), ("B", "N"), ("Z", "P"),
                                         ("sum", "mean"), ("@", "*"), ("-1", "0")]))
            text = text.replace(a, "\0").replace(b, a).replace("\0", b)
        elif kind == "shape":
            text = text.replace(draw(st.sampled_from(["[B, N]", "[H, N]", "[H]", "[B, H]"])),
                                draw(st.sampled_from(["[N]", "[N, B]", "[]", "[H, H]", "[Q]"])))
        elif kind == "duplicate":
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    return text


@given(damaged())
def test_damaged_specs_end_in_a_derivation_or_a_located_message(text):
    from click.testing import CliRunner

    from einderive.cli import main
    result = CliRunner().invoke(main, ["derive", "-"], input=text, catch_exceptions=False)
    assert result.exit_code in (0, 2), (text, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error: " in result.stderr, (text, result.stderr)
