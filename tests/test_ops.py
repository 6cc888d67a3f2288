"""Every op: derived, printed, and proven against finite differences."""

from __future__ import annotations

import pytest

from conftest import derive_text, forms
from einderive.api import verify

HEAD = """
dims: {B: 3, N: 4, M: 5, K: 2}
inputs:
  X: [B, N]
  Y: [B, N]
  A: [N, M]
  C: [M, N]
  v: [N]
  u: [M]
  w: [B]
  s: []
  T3: [K, B, N]
  P: {shape: [B, N], positive: true}
forward:
"""

CASES = {
    "add broadcast": ["Z = X + v", "L = sum(Z * Z)"],
    "sub broadcast": ["Z = v - X", "L = sum(Z * Z)"],
    "mul broadcast": ["Z = X * v * s", "L = sum(Z * Y)"],
    "div": ["Z = X / P + 1 / (P + 2)", "L = sum(Z * Y)"],
    "neg": ["Z = -X", "L = sum(Z * Y)"],
    "pow": ["Z = X ** 2 + P ** 0.5 + P ** -1 + X ** 3", "L = sum(Z * Y)"],
    "transpose .T": ["Z = X.T @ X", "L = sum(Z * Z)"],
    "transpose axes": ["Z = transpose(T3, axes=(1, 0, 2))", "L = sum(Z * Z)"],
    "matmul mat-mat": ["Z = X @ A", "L = sum(Z * Z)"],
    "matmul mat-vec": ["z = A @ u", "L = sum(z * v)"],
    "matmul vec-mat": ["z = v @ A", "L = sum(z * u)"],
    "matmul vec-vec": ["L = v @ v"],
    "matmul batched": ["Z = T3 @ A", "L = sum(Z * Z)"],
    "sigmoid": ["Z = sigmoid(X)", "L = sum(Z * Y)"],
    "tanh": ["Z = tanh(X)", "L = sum(Z * Y)"],
    "relu": ["Z = relu(X)", "L = sum(Z * Y)"],
    "exp": ["Z = exp(X)", "L = sum(Z * Y)"],
    "log": ["Z = log(P)", "L = sum(Z * Y)"],
    "sqrt": ["Z = sqrt(P)", "L = sum(Z * Y)"],
    "softplus": ["Z = softplus(X)", "L = sum(Z * Y)"],
    "gelu": ["Z = gelu(X)", "L = sum(Z * Y)"],
    "silu": ["Z = silu(X)", "L = sum(Z * Y)"],
    "nested functions": ["Z = tanh(sigmoid(X) * 2)", "L = sum(Z * Y)"],
    "sum all": ["L = sum(X * Y)"],
    "sum axis 0": ["z = sum(X, axis=0)", "L = sum(z * v)"],
    "sum axis -1 keepdims": ["z = sum(X, axis=-1, keepdims=True)", "L = sum(z * X)"],
    "sum tuple axes": ["z = sum(T3, axis=(0, 2))", "L = sum(z * w)"],
    "mean": ["z = mean(X, axis=1)", "L = mean(z * w)"],
    "mean keepdims": ["m = mean(X, axis=-1, keepdims=True)", "Z = X - m", "L = sum(Z * Z)"],
    "l2_loss": ["L = l2_loss(X @ A, Y @ A)"],
    "einsum matvec": ['z = einsum("ij,j->i", A, u)', "L = sum(z * v)"],
    "einsum implicit": ['Z = einsum("ij,jk", X, A)', "L = sum(Z * Z)"],
    "einsum three operands": ['z = einsum("bn,nm,m->b", X, A, u)', "L = sum(z * w)"],
    "einsum diagonal": ['z = einsum("ii->i", A @ C)', "L = sum(z * v)"],
    "einsum rank 3": ['Z = einsum("kbn,nm->kbm", T3, A)', "L = sum(Z * Z)"],
    "softmax": ["Z = softmax(X, axis=-1)", "L = sum(Z * Y)"],
    "softmax axis 0": ["Z = softmax(X, axis=0)", "L = sum(Z * Y)"],
    "softmax of an expression": ["Z = softmax(X * s + v, axis=-1)", "L = sum(Z * Y)"],
    "log_softmax": ["Z = log_softmax(X, axis=-1)", "L = sum(Z * Y)"],
    "logsumexp": ["z = logsumexp(X, axis=-1)", "L = sum(z * w)"],
    "logsumexp keepdims": ["z = logsumexp(X, axis=1, keepdims=True)", "L = sum(z * X)"],
    "dims as constants": ["Z = X / sqrt(N) * B", "L = sum(Z * Y)"],
    "scalar input": ["Z = s * X + s ** 2", "L = sum(Z * Y)"],
    "vector softmax": ["p = softmax(v)", "L = sum(p * v)"],
}

# elementwise ops of issue 15: each one op-table row, each a case here (also against PyTorch)
NEW_OPS = {
    "abs": ["Z = abs(X)", "L = sum(Z * Y)"],
    "sin": ["Z = sin(X)", "L = sum(Z * Y)"],
    "cos": ["Z = cos(X)", "L = sum(Z * Y)"],
    "log1p": ["Z = log1p(P)", "L = sum(Z * Y)"],
    "expm1": ["Z = expm1(X)", "L = sum(Z * Y)"],
    "erf": ["Z = erf(X)", "L = sum(Z * Y)"],
    "square": ["Z = square(X)", "L = sum(Z * Y)"],
    "maximum broadcast": ["Z = maximum(X, v)", "L = sum(Z * Y)"],
    "maximum of a number": ["Z = maximum(X, 0)", "L = sum(Z * Y)"],
    "minimum": ["Z = minimum(X * 2, Y)", "L = sum(Z * Z)"],
    "clip numbers": ["Z = clip(X, -0.5, 0.5)", "L = sum(Z * Y)"],
    "clip tensors": ["Z = clip(X, v, v + 1)", "L = sum(Z * Y)"],
    "where leaky": ["Z = where(X > 0, X, 0.01 * X)", "L = sum(Z * Y)"],
    "where <= broadcast": ["Z = where(X <= v, Y * X, s)", "L = sum(Z * Y)"],
    "where < and >=": ["Z = where(X < s, X, 0) + where(X * s >= 0.1, Y, X)", "L = sum(Z * Z)"],
    "leaky_relu": ["Z = leaky_relu(X)", "L = sum(Z * Y)"],
    "leaky_relu alpha": ["Z = leaky_relu(X @ A, alpha=0.2)", "L = sum(Z * Z)"],
    "elu": ["Z = elu(X)", "L = sum(Z * Y)"],
    "elu alpha": ["Z = elu(X, 0.5)", "L = sum(Z * Y)"],
    "maximum rank 3": ["Z = maximum(T3, v) * s", "L = sum(Z * T3)"],
    "where rank 3": ["Z = where(T3 > v, T3 * 2, elu(T3))", "L = sum(Z * Z)"],
    "clip by a product": ["z = clip(v, -0.5, A @ u)", "L = sum(z * z)"],
    "leaky_relu of a batched product": ["Z = leaky_relu(T3 @ A, alpha=0.3)", "L = sum(Z * Z)"],
}
CASES.update(NEW_OPS)


def spec(lines: list[str], wrt: str = "") -> str:
    return HEAD + "".join(f"  - {line}\n" for line in lines) + "loss: L\n" + wrt


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradients_match_finite_differences(name):
    d = derive_text(spec(CASES[name]))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    assert report.checks, "every op case differentiates something"


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradients_hold_at_other_sizes(name):
    d = derive_text(spec(CASES[name]))
    assert verify(d, sizes={"B": 7, "N": 2, "M": 3, "K": 5}, seed=2).ok


def test_elementwise_derivatives_are_written_with_the_node():
    # tanh'(z) = 1 − y ⊙ y, exp'(z) = y, sqrt'(z) = 1 ⊘ (2y), log'(z) = 1 ⊘ z, relu' = 𝟙[z > 0]
    d = derive_text(spec(["Z = tanh(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ (1 − Z ⊙ Z)"
    d = derive_text(spec(["Z = exp(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ Z"
    d = derive_text(spec(["Z = sqrt(P)", "L = sum(Z * Y)"]))
    assert forms(d, "P")[1] == "(1/2) ∂L/∂Z ⊘ Z"
    d = derive_text(spec(["Z = log(P)", "L = sum(Z * Y)"]))
    assert forms(d, "P")[1] == "∂L/∂Z ⊘ P"
    d = derive_text(spec(["Z = relu(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ 𝟙[X > 0]"
    d = derive_text(spec(["Z = softplus(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ σ(X)"
    d = derive_text(spec(["Z = gelu(X)", "L = sum(Z * Y)"]))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ (Φ(X) + X ⊙ φ(X))"


def test_a_rank_three_contraction_falls_back_to_einsum_and_says_so():
    from einderive.render.text import note_texts
    d = derive_text(spec(['Z = einsum("kbn,nm->kbm", T3, A)', "L = sum(Z * Z)"]))
    # dims B, N, M, K have the letters i, j, k, l: T3 is indexed l i j
    assert forms(d, "T3")[1] == "einsum('lik,jk->lij', ∂L/∂Z, A)"
    assert "∂L/∂T3 is written with einsum where no matrix rule applies." in note_texts(d)


def test_a_broadcast_operand_sums_over_the_broadcast_axis():
    d = derive_text(spec(["Z = X + v", "L = sum(Z * Y)"]))
    assert forms(d, "v") == ("Σ_i Y_ij", "colsum(Y)")
    d = derive_text(spec(["Z = X * w.T", "L = sum(Z * Y)"], "wrt: [X]\n").replace(
        "w: [B]", "w: [N]"))
    assert forms(d, "X")[1] == "∂L/∂Z ⊙ wᵀ"


def test_new_elementwise_derivatives_print_as_the_readme_says():
    cases = {
        "Z = abs(X)": "∂L/∂Z ⊙ sign(X)",
        "Z = sin(X)": "∂L/∂Z ⊙ cos(X)",
        "Z = cos(X)": "−∂L/∂Z ⊙ sin(X)",
        "Z = expm1(X)": "∂L/∂Z ⊙ exp(X)",
        "Z = erf(X)": "∂L/∂Z ⊙ erf'(X)",
        "Z = square(X)": "2 ∂L/∂Z ⊙ X",
        "Z = maximum(X, v)": "∂L/∂Z ⊙ 𝟙[X > vᵀ]",
        "Z = minimum(X, Y)": "∂L/∂Z ⊙ 𝟙[X < Y]",
        "Z = clip(X, -0.5, 0.5)": "∂L/∂Z ⊙ 𝟙[−1/2 ≤ X ≤ 1/2]",
        "Z = where(X > 0, X, Y)": "∂L/∂Z ⊙ 𝟙[X > 0]",
        "Z = leaky_relu(X)": "∂L/∂Z ⊙ where(X > 0, 1, 1/100)",
        "Z = elu(X)": "∂L/∂Z ⊙ where(X > 0, 1, 1 + Z)",
    }
    for line, want in cases.items():
        d = derive_text(spec([line, "L = sum(Z * Y)"]))
        assert forms(d, "X")[1] == want, line
    d = derive_text(spec(["Z = where(X > 0, X, Y)", "L = sum(Z * Z)"]))
    assert forms(d, "Y")[1] == "∂L/∂Z ⊙ 𝟙[X ≤ 0]"
    d = derive_text(spec(["Z = maximum(X, Y)", "L = sum(Z * X)"]))
    assert forms(d, "Y")[1] == "∂L/∂Z ⊙ 𝟙[X ≤ Y]"


def test_new_elementwise_functions_print_in_both_styles():
    from einderive.api import render
    from einderive.render.styles import Latex
    from einderive.render.text import printer
    d = derive_text(spec(["Z = where(X >= v, abs(X), Y)", "L = sum(Z * Y)"]))
    assert "Z    = where(X ≥ vᵀ, |X|, Y)" in render(d, "markdown")
    expr, idx = d.index.definitions["Z"]
    tex = printer(d, style=Latex).index(expr, idx)
    assert tex == r"\operatorname{where}\left(X_{ij} \geq v_{j}, \left|X_{ij}\right|, Y_{ij}\right)"
    out = render(d, "latex")
    assert r"\mathbf{1}\left[X \geq v^{\top}\right] \odot \operatorname{sign}(X)" in out


@pytest.mark.parametrize("name", sorted(NEW_OPS))
def test_new_ops_generated_gradients_match_torch_autograd(name, tmp_path):
    """NumPy code against PyTorch autograd of an independent forward pass (finite differences
    without torch); the generated PyTorch module against the same reference."""
    from test_models import assert_close, check_generated_gradients
    import torch_reference as R
    d = derive_text(spec(NEW_OPS[name]))
    check_generated_gradients(d, tmp_path)
    torch = pytest.importorskip("torch")
    from test_codegen import _function, load
    from einderive.render.pymodule import torch_module
    ref = R.reference(d.graph, 0)
    fn = _function(load(tmp_path, torch_module(d)))
    args = [torch.tensor(ref.inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    loss = fn.apply(*args)
    assert_close(loss.detach().numpy(), ref.values[d.graph.loss], "torch forward")
    loss.backward()
    for t, a in zip(d.graph.inputs, args):
        if t.name in d.graph.wrt:
            assert_close(a.grad.numpy(), ref.adjoints[t.name], f"torch grad({t.name})")


def test_verify_draws_inputs_of_a_kink_away_from_it():
    from einderive.verify import draw_inputs, sizes_for
    d = derive_text(spec(["Z = abs(X) + where(Y > 0, Y, 0) + relu(v)", "L = sum(Z * Z)"]))
    values = draw_inputs(d.graph, sizes_for(d.graph), 0)
    for name in ("X", "Y", "v"):
        assert abs(values[name]).min() >= 0.25, name


@pytest.mark.parametrize("line, message", [
    ("Z = where(X, X, Y)", "where's first argument must be a comparison"),
    ("Z = X > 0", "a comparison is not a tensor"),
    ("Z = where(0 < X < 1, X, Y)", "only one comparison"),
    ("Z = where(X == 0, X, Y)", "'==' is not supported in a comparison"),
    ("Z = leaky_relu(X, alpha=v)", "leaky_relu's 'alpha' must be a number"),
    ("Z = maximum(X, A)", "cannot broadcast the arguments of maximum"),
    ("Z = clip(X, 0)", "clip() takes 3 positional arguments but 2 were given"),
])
def test_bad_uses_of_the_new_ops_are_spec_errors(line, message):
    from einderive.errors import SpecError
    with pytest.raises(SpecError) as info:
        derive_text(spec([line, "L = sum(Z * Y)"]))
    assert message in info.value.format()


@pytest.mark.parametrize("written, meant", [("swish", "silu"), ("clamp", "clip"),
                                             ("absolute", "abs"), ("log_sum_exp", "logsumexp"),
                                             ("logsoftmax", "log_softmax"), ("fmax", "maximum")])
def test_other_libraries_names_hint_at_the_op(written, meant):
    from einderive.errors import SpecError
    with pytest.raises(SpecError) as info:
        derive_text(spec([f"Z = {written}(X)", "L = sum(Z * Y)"]))
    assert f"did you mean '{meant}'?" in info.value.format()


# Files that must not know any op by name: printers, recognizer, matrix forms, code generators.
NO_OP_NAMES = ("render/notation.py", "render/styles.py", "render/readable.py", "recognize.py",
               "render/index_printer.py", "render/matrix_printer.py", "render/tokens.py",
               "render/tree_printer.py", "matrix.py", "render/code.py", "render/backends.py", "render/pymodule.py",
               "render/einsum.py")
# mx.Reduce's kind 'sum' (the matrix form's total, printed sum(X)) is the matrix tree's own
# vocabulary, not the op; it goes when the kinds become an enum (issue 14 item 5)
MATRIX_VOCABULARY = {("matrix.py", "sum"), ("recognize.py", "sum")}


def test_no_op_name_appears_outside_the_op_table():
    import re
    from pathlib import Path

    import einderive
    from einderive.ops import AXIS_OPS, OPS, SCALARS
    root = Path(einderive.__file__).parent
    names = sorted({n for n in [*OPS, *SCALARS, *AXIS_OPS] if n.isidentifier()})
    found = []
    for rel in NO_OP_NAMES:
        text = (root / rel).read_text(encoding="utf-8")
        for n in names:
            # a quoted name ("softmax"), or a library's function by an op's name (np.tanh)
            pattern = rf"""(["']){n}\1|\b(?:np|torch|functional|math)\.{n}\b"""
            for m in re.finditer(pattern, text):
                if (rel, n) not in MATRIX_VOCABULARY:
                    line = text.count("\n", 0, m.start()) + 1
                    found.append(f"{rel}:{line}: {m.group(0)}")
    assert not found, found


def test_the_op_name_test_can_fail(tmp_path):
    import re
    text = 'if e.head == "softmax":\n    return torch.logsumexp(x)\n'
    hits = [n for n in ("softmax", "logsumexp")
            if re.search(rf"""(["']){n}\1|\b(?:np|torch|functional|math)\.{n}\b""", text)]
    assert hits == ["softmax", "logsumexp"]
