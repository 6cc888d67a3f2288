"""Generated code computes what the spec says: forward values against NumPy written here,
gradients against central differences of that NumPy, the PyTorch Function against the
same and against ``torch.autograd.gradcheck``.

Each spec below is an example of issue 11 whose brackets the code generator once dropped
(``a * (A @ x)`` became ``a * A @ x``, which Python reads as ``(a * A) @ x``).
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from conftest import SPEC_FILES, derive_text
from einderive import derive
from einderive.api import torch_module
from einderive.render.pymodule import numpy_module

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test extra
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

_COUNTER = itertools.count()


def _function(module):
    """The generated torch.autograd.Function class."""
    return next(v for k, v in vars(module).items() if k.endswith("Function") and k != "Function")


def load(tmp_path, code: str):
    """Import generated code from a file, as a user would (no exec of strings)."""
    path = tmp_path / f"generated_{next(_COUNTER)}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def central_differences(f, inputs: dict, name: str, h: float = 1e-6):
    x = np.array(inputs[name], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        values = []
        for sign in (1, -1):
            y = x.copy()
            y[idx] += sign * h
            values.append(f(**{**inputs, name: y if y.shape else float(y)}))
        out[idx] = (values[0] - values[1]) / (2 * h)
    return out


# name -> (spec, the loss in NumPy written independently, inputs drawn positive)
N = 3
CASES = {
    "a_times_matvec": ("""
        dims: {N: 3}
        inputs: {a: [N], A: [N, N], x: [N]}
        forward:
          - y = a * (A @ x)
          - L = sum(y * y)
        loss: L
        """, lambda a, A, x: np.sum((a * (A @ x)) ** 2), ()),
    "sum_transposed": ("""
        dims: {N: 3}
        inputs: {A: [N, N], B: [N, N], x: [N]}
        forward:
          - u = (A + B).T @ x
          - L = sum(u * u)
        loss: L
        """, lambda A, B, x: np.sum(((A + B).T @ x) ** 2), ()),
    "product_transposed": ("""
        dims: {N: 3}
        inputs: {A: [N, N], B: [N, N], x: [N]}
        forward:
          - u = (A @ B).T @ x
          - L = sum(u * u)
        loss: L
        """, lambda A, B, x: np.sum(((A @ B).T @ x) ** 2), ()),
    "transpose_call": ("""
        dims: {N: 3}
        inputs: {A: [N, N], B: [N, N], x: [N]}
        forward:
          - u = transpose(A @ B) @ x
          - L = sum(u * u)
        loss: L
        """, lambda A, B, x: np.sum(((A @ B).T @ x) ** 2), ()),
    "root_times_matvec": ("""
        dims: {N: 3}
        inputs: {b: [N], A: [N, N], x: [N]}
        forward:
          - v = b ** (1/2) * (A @ x)
          - L = sum(v * v)
        loss: L
        """, lambda b, A, x: np.sum((np.sqrt(b) * (A @ x)) ** 2), ("b",)),
    "scaled_transposed": ("""
        dims: {N: 3}
        inputs: {A: [N, N], a: [N], x: [N]}
        forward:
          - s = (A * a).T @ x
          - L = sum(s * s)
        loss: L
        """, lambda A, a, x: np.sum(((A * a).T @ x) ** 2), ()),
    "quotient_times_matvec": ("""
        dims: {N: 3}
        inputs: {a: [N], b: [N], c: [N], A: [N, N], x: [N]}
        forward:
          - q = a / (b * c) * (A @ x)
          - L = sum(q * q)
        loss: L
        """, lambda a, b, c, A, x: np.sum((a / (b * c) * (A @ x)) ** 2), ("b", "c")),
    "one_minus_margin": ("""
        dims: {N: 3}
        inputs: {y: [N], X: [N, N], w: [N]}
        forward:
          - r = 1 - y * (X @ w)
          - L = sum(r * r)
        loss: L
        """, lambda y, X, w: np.sum((1 - y * (X @ w)) ** 2), ()),
    "gru_candidate": ("""
        dims: {B: 2, H: 3, D: 4}
        inputs: {X: [B, D], Hp: [B, H], Wr: [H, D], Ur: [H, H], Wn: [H, D], Un: [H, H]}
        forward:
          - r = sigmoid(X @ Wr.T + Hp @ Ur.T)
          - n = tanh(X @ Wn.T + r * (Hp @ Un.T))
          - L = sum(n * n)
        loss: L
        """, lambda X, Hp, Wr, Ur, Wn, Un: np.sum(np.tanh(
            X @ Wn.T + 1 / (1 + np.exp(-(X @ Wr.T + Hp @ Ur.T))) * (Hp @ Un.T)) ** 2), ()),
}


def draw(d, positive, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    sizes = dict(d.graph.dims)
    out = {}
    for t in d.graph.inputs:
        shape = tuple(sizes[s] for s in t.shape)
        out[t.name] = rng.uniform(0.5, 1.5, shape) if t.name in positive else \
            rng.standard_normal(shape)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_bracketed_examples_numpy(tmp_path, case):
    text, reference, positive = CASES[case]
    d = derive_text(text)
    module = load(tmp_path, numpy_module(d))
    inputs = draw(d, positive)
    assert module.forward(**inputs) == pytest.approx(reference(**inputs), rel=1e-12)
    grads = module.gradients(**inputs)
    for name in inputs:
        want = central_differences(reference, inputs, name)
        assert np.allclose(grads[name], want, rtol=1e-6, atol=1e-7), name


@needs_torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_bracketed_examples_torch(tmp_path, case):
    text, reference, positive = CASES[case]
    d = derive_text(text)
    module = load(tmp_path, torch_module(d))
    fn = _function(module)
    inputs = draw(d, positive)
    args = [torch.tensor(inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    loss = fn.apply(*args)
    assert loss.item() == pytest.approx(reference(**inputs), rel=1e-12)
    loss.backward()
    for t, a in zip(d.graph.inputs, args):
        want = central_differences(reference, inputs, t.name)
        assert np.allclose(a.grad.numpy(), want, rtol=1e-6, atol=1e-7), t.name


def _torch_inputs(d, seed: int = 0):
    from einderive.verify import draw_inputs, sizes_for
    values = draw_inputs(d.graph, sizes_for(d.graph), seed)
    # indices are torch.long, as a user passes them: gradcheck leaves them alone
    return [torch.tensor(values[t.name], dtype=torch.long) if t.integer is not None else
            torch.tensor(values[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]


@needs_torch
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_gradcheck_on_every_input_of_every_shipped_spec(tmp_path, path):
    """backward returns the derived gradient of every input, ``wrt`` or not (issue 11, 10)."""
    d = derive(path)
    module = load(tmp_path, torch_module(d))
    fn = _function(module)
    assert torch.autograd.gradcheck(fn.apply, tuple(_torch_inputs(d)))


@needs_torch
def test_torch_backward_returns_none_only_where_no_gradient_is_asked(tmp_path):
    d = derive(SPEC_FILES[0])
    module = load(tmp_path, torch_module(d))
    fn = _function(module)
    args = _torch_inputs(d)
    args[0].requires_grad_(False)
    fn.apply(*args).backward()
    assert args[0].grad is None and all(a.grad is not None for a in args[1:])


BATCHED_ATTENTION = """
    dims: {B: 2, N: 3, D: 4}
    inputs: {Q: [B, N, D], K: [B, N, D], V: [B, N, D], G: [B, N, D], s: []}
    forward:
      - S = Q @ transpose(K, axes=(0, 2, 1)) * s
      - P = softmax(S, axis=-1)
      - O = P @ V
      - L = sum(O * G)
    loss: L
    wrt: [Q, V]
    """


def _batched_reference(Q, K, V, G, s):
    S = Q @ np.transpose(K, (0, 2, 1)) * s
    E = np.exp(S - S.max(axis=-1, keepdims=True))
    return np.sum(E / E.sum(axis=-1, keepdims=True) @ V * G)


def _without_matrix_form(d, name):
    """``d`` as if ∂L/∂name had no matrix form (the engine now finds one for most specs)."""
    from einderive.record import replace
    adjoints = tuple(replace(a, form=replace(a.form, matrix=None)) if a.name == name else a
                     for a in d.adjoints)
    return replace(d, adjoints=adjoints)


def test_no_matrix_form_compiles_from_the_index_form(tmp_path):
    """An adjoint with no matrix form (softmax over the last axis of a rank-3 tensor, before
    the recognizer read it through einsum) is compiled from its index form, and code
    generation goes on."""
    d = _without_matrix_form(derive_text(BATCHED_ATTENTION), "S")
    assert d.adjoint("S").form.matrix is None
    code = numpy_module(d)
    assert "# ∂L/∂S_" in code and "np.einsum(" in code
    module = load(tmp_path, code)
    inputs = draw(d, ())
    inputs["s"] = 0.7
    grads = module.gradients(**inputs)
    for name in ("Q", "V"):
        want = central_differences(_batched_reference, inputs, name)
        assert np.allclose(grads[name], want, rtol=1e-6, atol=1e-7), name


@needs_torch
def test_no_matrix_form_torch_gradcheck_on_every_input(tmp_path):
    d = derive_text(BATCHED_ATTENTION)
    module = load(tmp_path, torch_module(d))
    args = _torch_inputs(d)
    assert torch.autograd.gradcheck(_function(module).apply, tuple(args))


# -- the unparser -------------------------------------------------------------------------

def test_unparser_brackets_follow_pythons_precedence():
    from einderive import pyexpr as P
    a, b, c = P.Name("a"), P.Name("b"), P.Name("c")
    cases = [
        (P.binop("*", a, P.binop("@", b, c)), "a * (b @ c)"),
        (P.binop("@", P.binop("*", a, b), c), "a * b @ c"),
        (P.binop("-", a, P.binop("-", b, c)), "a - (b - c)"),
        (P.binop("-", P.binop("-", a, b), c), "a - b - c"),
        (P.binop("/", a, P.binop("*", b, c)), "a / (b * c)"),
        (P.Attr(P.binop("+", a, b), "T"), "(a + b).T"),
        (P.Attr(P.Num(2), "T"), "(2).T"),
        (P.neg(P.binop("**", a, P.Num(2))), "-a ** 2"),
        (P.binop("**", P.neg(a), P.Num(2)), "(-a) ** 2"),
        (P.binop("**", a, P.neg(P.Num(2))), "a ** -2"),
        (P.binop("**", P.binop("**", a, b), c), "(a ** b) ** c"),
        (P.binop("**", a, P.binop("**", b, c)), "a ** b ** c"),
        (P.binop("**", a, P.binop("/", P.Num(1), P.Num(2))), "a ** (1 / 2)"),
        (P.neg(P.neg(a)), "-(-a)"),
        (P.Subscript(P.neg(a), (P.Slice(), P.NONE)), "(-a)[:, None]"),
        (P.method(P.Compare(">", a, P.Num(0)), "to", P.Attr(a, "dtype")), "(a > 0).to(a.dtype)"),
        (P.call("np.sum", P.binop("+", a, b), axis=P.ints((0, 1))), "np.sum(a + b, axis=(0, 1))"),
    ]
    for tree, text in cases:
        assert P.unparse(tree) == text


def test_unparser_reads_back_as_the_tree_for_long_spines_and_mixed_operators():
    """A sum of 3000 terms (an input feeding that many branches) unparses without recursing
    once per term, and random trees of mixed operators read back (ast) as the same tree."""
    import ast
    import random

    from einderive import pyexpr as P

    def tree_of(node: ast.AST) -> object:
        if isinstance(node, ast.BinOp):
            return (type(node.op).__name__, tree_of(node.left), tree_of(node.right))
        if isinstance(node, ast.UnaryOp):
            return ("neg", tree_of(node.operand))
        return ast.unparse(node)

    ops = {"+": "Add", "-": "Sub", "*": "Mult", "/": "Div", "@": "MatMult", "**": "Pow"}

    def mine(e: object) -> object:
        if isinstance(e, P.BinOp):
            return (ops[e.op], mine(e.left), mine(e.right))
        if isinstance(e, P.Unary):
            return ("neg", mine(e.x))
        return P.unparse(e)

    terms = [P.Name(f"a{i}") for i in range(3000)]
    spine = P.binop("+", terms[0], terms[1])
    for i, t in enumerate(terms[2:]):
        spine = P.binop("-" if i % 2 else "+", spine, P.binop("*", t, P.Name("b")))
    text = P.unparse(spine)
    assert text.startswith("a0 + a1 + a2 * b - a3 * b") and "(" not in text
    rng = random.Random(0)

    def grow(depth: int) -> object:
        if depth == 0 or rng.random() < 0.2:
            return P.Name(rng.choice("xyz")) if rng.random() < 0.8 else P.Num(rng.randint(1, 3))
        if rng.random() < 0.15:
            return P.neg(grow(depth - 1))
        return P.binop(rng.choice(list(ops)), grow(depth - 1), grow(depth - 1))
    for _ in range(400):
        e = grow(6)
        assert tree_of(ast.parse(P.unparse(e), mode="eval").body) == mine(e), P.unparse(e)


# -- the index-form compiler --------------------------------------------------------------

def test_index_compiler_handles_deltas_and_sums_of_free_bodies(tmp_path):
    """Deltas and Σ_j c (which the engine may leave uncollapsed) compile to eye and size·c."""
    from sympy import KroneckerDelta, Sum

    from einderive import pyexpr as P
    from einderive.render.backends import Backend
    from einderive.render.code import Compiler, Names
    from einderive.render.einsum import IndexCompiler

    d = derive_text("""
        dims: {N: 3, M: 2}
        inputs: {A: [N, M], x: [N]}
        forward:
          - L = sum(A.T @ x)
        loss: L
        """)
    ctx = d.index.ctx
    i, j = ctx.index("N", "i"), ctx.index("N", "j")
    k = ctx.index("M", "k")
    N, M = ctx.sizes["N"], ctx.sizes["M"]
    A, x = ctx.labels["A"], ctx.labels["x"]
    exprs = {
        "delta": (Sum(KroneckerDelta(i, j) * x[j], (j, 0, N - 1)), (i,)),
        "outer_delta": (KroneckerDelta(i, j) * Sum(A[j, k], (k, 0, M - 1)), (i, j)),
        "free_sum": (Sum(1, (j, 0, N - 1)) * x[i], (i,)),
        "free_sum_product": (Sum(x[i] * 2, (k, 0, M - 1)), (i,)),
        "spread": (Sum(x[j], (j, 0, N - 1)), (i, k)),
        "transposed": (A[j, k] * x[j], (k, j)),
    }
    comp = Compiler(d, Backend(), Names(d.graph))
    ix = IndexCompiler(comp)
    body = {name: P.unparse(ix.compile(e, free)) for name, (e, free) in exprs.items()}
    assert not any("Sum" in b for b in body.values())
    lines = ["import numpy as np", "", "", "def run(A, x):", "    N, M = A.shape"]
    lines += [f"    {name} = {code}" for name, code in body.items()]
    lines += ["    return {" + ", ".join(f"{n!r}: {n}" for n in body) + "}"]
    module = load(tmp_path, "\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    An, xn = rng.standard_normal((3, 2)), rng.standard_normal(3)
    got = module.run(An, xn)
    assert np.allclose(got["delta"], xn)
    assert np.allclose(got["outer_delta"], np.diag(An.sum(axis=1)))
    assert np.allclose(got["free_sum"], 3 * xn)
    assert np.allclose(got["free_sum_product"], 2 * 2 * xn)
    assert np.allclose(got["spread"], np.full((3, 2), xn.sum()))
    assert np.allclose(got["transposed"], (An * xn[:, None]).T)


# -- verify: every printed form its own column --------------------------------------------

def _mutated(d, name: str, **changes):
    """``d`` with one adjoint's printed form changed (a test-only mutation)."""
    from einderive.record import replace
    a = d.adjoint(name)
    form = replace(a.form, **changes)
    adjoints = tuple(replace(x, form=form) if x.name == name else x for x in d.adjoints)
    gradients = tuple(replace(g, form=form) if g.name == name else g for g in d.gradients)
    return replace(d, adjoints=adjoints, gradients=gradients)


def test_verify_checks_the_index_form_and_the_matrix_form_separately():
    from einderive.api import verify
    d = derive(SPEC_FILES[[p.stem for p in SPEC_FILES].index("mlp")])
    assert all((c.index, c.matrix) == ("pass", "pass") for c in verify(d).checks
               if not c.adjoint)  # an adjoint's row: its closed form only
    a = d.adjoint("x")
    wrong_index = verify(_mutated(d, "x", index=-a.form.index))
    assert {c.name: (c.index, c.matrix) for c in wrong_index.checks}["x"] == ("fail", "pass")
    assert not wrong_index.ok
    from einderive import matrix as mx
    wrong_matrix = verify(_mutated(d, "x", matrix=mx.neg(a.form.matrix)))
    assert {c.name: (c.index, c.matrix) for c in wrong_matrix.checks}["x"] == ("pass", "fail")


def test_verify_marks_a_form_that_is_not_printed():
    from einderive.api import verify
    report = verify(derive_text(BATCHED_ATTENTION))
    assert report.ok
    d = derive_text(BATCHED_ATTENTION)
    no_matrix = verify(_mutated(d, "Q", matrix=None))
    assert {c.name: c.matrix for c in no_matrix.checks}["Q"] == "none"
    assert no_matrix.ok


def test_verify_goes_on_after_a_spec_whose_code_fails(run, tmp_path, monkeypatch):
    """A spec whose generated code cannot run is that spec's failure, and a bug in einderive
    (exit 3, not the 1 of a wrong formula); the others are still checked."""
    from einderive.render import einsum
    bad = tmp_path / "bad.yaml"
    bad.write_text(BATCHED_ATTENTION.replace("\n    ", "\n").strip() + "\n")

    compile_ = einsum.IndexCompiler.compile

    def broken(self, expr, free):
        if "B" in dict(self.comp.graph.dims):  # only bad.yaml has a dim B
            raise einsum.CodegenError("a test-only failure")
        return compile_(self, expr, free)
    monkeypatch.setattr(einsum.IndexCompiler, "compile", broken)
    spec = SPEC_FILES[[p.stem for p in SPEC_FILES].index("mlp")]
    result = run("verify", bad, spec)
    assert result.exit_code == 3
    assert "a test-only failure" in result.stdout and "1 of 2 specs failed: bad" in result.stdout


def test_verify_draws_a_base_with_a_bracketed_fractional_exponent_positive():
    """``b ** (1/2)`` reads b at a fractional power, as ``b ** 0.5`` does."""
    from einderive.api import verify
    text, _, _ = CASES["root_times_matvec"]
    assert verify(derive_text(text)).ok


def test_verify_checks_the_closed_form_only_where_one_is_printed():
    from einderive.render.text import closed_differs
    from einderive.api import verify
    d = derive(SPEC_FILES[[p.stem for p in SPEC_FILES].index("softmax_regression")])
    report = {c.name: c.closed for c in verify(d).checks}
    printed = {g.name: g.closed is not None and closed_differs(g) for g in d.gradients}
    assert report == {n: "pass" if p else "none" for n, p in printed.items()}
    assert set(report.values()) == {"pass", "none"}


def test_a_sum_of_a_constant_is_the_dims_sizes_times_it_in_code():
    """Σ_i Σ_j 2N over M×N is 2·M·N² (indexed.sum_of_constant, the one rule), never a loop."""
    import sympy

    from conftest import SPECS

    from einderive import api, pyexpr as P
    from einderive.render.backends import Backend
    from einderive.render.code import Compiler, Names
    d = api.derive_file(SPECS / "mlp.yaml")
    M, N = d.index.ctx.sizes["M"], d.index.ctx.sizes["N"]
    i, j = sympy.symbols("i j")
    code = P.unparse(Compiler(d, Backend(), Names(d.graph)).const(
        sympy.Sum(2 * N, (i, 0, M - 1), (j, 0, N - 1))))
    assert eval(code, {"M": 3, "N": 4}) == 2 * 3 * 4 * 4


def test_code_refuses_an_input_whose_axis_disagrees_with_a_size_no_input_gives(tmp_path):
    """Hp, Wp and P are in no input's shape, so the code uses the spec's sizes; an image of
    another patch grid with as many pixels reshapes without an error, and was read at the
    wrong grid: the code checks the image's axes against H = Hp * P, W = Wp * P and raises."""
    from pathlib import Path
    from einderive.api import derive_file, render
    d = derive_file(Path(__file__).parent / "regressions" / "fixed_dims_define_input_axes.yaml")
    We = np.random.default_rng(0).standard_normal((4, 3))
    img = np.random.default_rng(1).standard_normal((4, 6))
    mod = load(tmp_path, render(d, "numpy"))
    patches = img.reshape(2, 2, 3, 2).transpose(0, 2, 1, 3).reshape(6, 4)
    assert abs(mod.forward(img, We) - np.tanh(patches @ We).sum()) < 1e-12
    with pytest.raises(ValueError, match="H = Hp [*] P along axis 0"):
        mod.forward(img.reshape(6, 4), We)
    with pytest.raises(ValueError, match="H = Hp [*] P along axis 0"):
        mod.gradients(img.reshape(6, 4), We)
    if torch is not None:
        fn = _function(load(tmp_path, render(d, "torch")))
        with pytest.raises(ValueError, match="H = Hp [*] P along axis 0"):
            fn.apply(torch.zeros(6, 4, dtype=torch.float64), torch.tensor(We))
