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
  Q: [N, N]
  S: {shape: [N, N], spd: true}
  tok: {shape: [K], integer: B}
  lab: {shape: [B], integer: N}
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
# reductions of issue 15 item 2 (also against PyTorch: amax/amin, whose ties never occur in
# continuous draws)
REDUCTIONS = {
    "max axis 1": ["z = max(X, axis=1)", "L = sum(z * w)"],
    "max axis 0 keepdims": ["z = max(X, axis=0, keepdims=True)", "L = sum(z * X)"],
    "max of a vector": ["L = max(v * v + v)"],
    "max of an expression rank 3": ["Z = max(T3 @ A, axis=-2)", "L = sum(Z * Z)"],
    "max pooled twice": ["z = max(max(T3, axis=0), axis=1)", "L = sum(z * w)"],
    "min axis 0": ["z = min(X, axis=0)", "L = sum(z * v)"],
    "max of every axis": ["m = max(X * Y)", "L = m * m + sum(X)"],
    "min of every axis keepdims": ["Z = X - min(X, keepdims=True)", "L = sum(Z * Y)"],
    "max of every axis rank 3": ["L = max(T3) * s"],
    "min keepdims": ["Z = X - min(X, axis=-1, keepdims=True)", "L = sum(Z * Y)"],
    "norm of a vector": ["L = norm(v) * s"],
    "norm Frobenius": ["L = norm(X @ A) + norm(T3)"],
    "norm axis": ["z = norm(X, axis=1)", "L = sum(z * w)"],
    "norm keepdims": ["Z = X / norm(X, axis=-1, keepdims=True)", "L = sum(Z * Y)"],
    "norm tuple axes": ["z = norm(T3, axis=(0, 2))", "L = sum(z * w)"],
}
NEW_OPS.update(REDUCTIONS)
# matrix functions of issue 15 item 3 (Q: [N, N] is drawn well conditioned by verify)
MATRIX_FUNCTIONS = {
    "trace": ["L = trace(Q) * s"],
    "trace of a product": ["L = trace(A @ C) + trace(Q @ Q)"],
    "diag": ["D = diag(v)", "L = sum(D * (Q @ Q))"],
    "diag of an expression": ["Z = X @ diag(v * v)", "L = sum(Z * Y)"],
    "diagonal": ["d = diagonal(Q)", "L = sum(d * v)"],
    "diagonal of a product": ["d = diagonal(A @ C)", "L = sum(d * d)"],
    "inv": ["R = inv(Q)", "L = sum(R * (Q @ Q))"],
    "inv in a product": ["z = inv(Q) @ v", "L = sum(z * z)"],
    "det": ["L = det(Q)"],
    "det scaled": ["z = det(Q) * v", "L = sum(z * v)"],
    "logdet": ["L = logdet(Q) * s"],
    "logdet spd": ["L = logdet(S) + trace(S @ Q)"],
    "solve vector": ["z = solve(Q, v)", "L = sum(z * z)"],
    "solve matrix": ["Z = solve(S, A)", "L = sum(Z * (Q @ A))"],
    "solve and logdet": ["e = v - A @ u", "L = logdet(S) + sum(e * solve(S, e))"],
    "trace of an inverse": ["L = trace(inv(Q)) + sum(inv(inv(Q)) * Q)"],
    "trace of a softmax": ["L = trace(softmax(Q, axis=0)) * s"],
}
NEW_OPS.update(MATRIX_FUNCTIONS)
# picking by integer inputs (issue 15 item 5): an embedding lookup E[tokens], one element per
# row Z[range(B), labels], and cross-entropy with integer labels
GATHERS = {
    "gather rows": ["G = X[tok] @ A", "L = sum(G * G)"],
    "gather rows of an expression": ["G = (X * Y + v)[tok]", "L = sum(G * G)"],
    "gather of a vector": ["g = w[tok]", "L = sum(g * g * w[tok])"],
    "gather rows of rank 3": ["G = transpose(T3, axes=(1, 0, 2))[tok]", "L = sum(G * G)"],
    "pick one per row": ["z = X[range(B), lab]", "L = sum(z * w)"],
    "pick of an expression": ["z = (X @ Q)[range(B), lab]", "L = sum(z * z)"],
    "cross-entropy integer labels": ["L = -mean(log_softmax(X @ Q, axis=-1)[range(B), lab])"],
    "cross-entropy summed": ["Z = X @ A @ C", "L = -sum(log_softmax(Z, axis=1)[range(B), lab])"],
}
NEW_OPS.update(GATHERS)
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


def test_a_rank_three_contraction_over_a_middle_axis_reads_per_batch_element():
    from einderive.render.text import note_texts
    # the output's axes permuted: K is Z's middle axis.  ∂L/∂T3 reads element by element
    # (∂L/∂Z_k is the matrix ∂L/∂Z[:, k, :]); ∂L/∂A sums over B (Z's leading axis, T3's
    # middle one) each element's product, T3_b the matrix T3[:, b, :] (was an einsum)
    d = derive_text(spec(['Z = einsum("kbn,nm->bkm", T3, A)', "L = sum(Z * Z)"]))
    assert forms(d, "T3")[1] == "∂L/∂Z_k Aᵀ"
    assert forms(d, "A")[1] == "Σ_b T3_bᵀ ∂L/∂Z_b"
    assert not any("einsum" in n for n in note_texts(d))
    assert "T3_b is the matrix T3[:, b, :]" in " ".join(note_texts(d))
    assert verify(d, seed=1).ok


def test_a_rank_three_contraction_with_a_shared_matrix_reads_per_batch_element():
    # K leads T3 and Z: each element of T3 times A, as NumPy's T3 @ A
    d = derive_text(spec(['Z = einsum("kbn,nm->kbm", T3, A)', "L = sum(Z * Z)"]))
    assert forms(d, "T3")[1] == "∂L/∂Z Aᵀ"
    assert verify(d, seed=1).ok


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
    _generated_code_matches_torch(derive_text(spec(NEW_OPS[name])), tmp_path)


def _generated_code_matches_torch(d, tmp_path) -> None:
    """The NumPy module's gradients against the reference, then the PyTorch module's loss
    and gradients against PyTorch autograd of tests/torch_reference.py's forward pass."""
    from test_models import assert_close, check_generated_gradients
    import torch_reference as R
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


def test_verify_draws_a_symmetric_input_of_a_kink_away_from_it():
    # averaging A with Aᵀ after moving it off the kink brought entries back next to 0
    from einderive.verify import draw_inputs, sizes_for
    text = ("name: s\ndims: {N: 7}\ninputs:\n  A: {shape: [N, N], symmetric: true}\n"
            "forward:\n  - L = sum(abs(A))\nloss: L\n")
    d = derive_text(text)
    for seed in range(5):
        values = draw_inputs(d.graph, sizes_for(d.graph), seed)
        assert (values["A"] == values["A"].T).all()
        assert abs(values["A"]).min() >= 0.25, seed


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
    text = info.value.format()  # (a one-argument call is respelled whole, s31)
    assert f"did you mean '{meant}'?" in text or f"write {meant}(X), not {written}(X)" in text, \
        text


# Files that must not know any op by name: printers, recognizer, matrix forms, code generators.
NO_OP_NAMES = ("render/notation.py", "render/styles.py", "render/readable.py", "recognize.py",
               "recognize_batch.py", "recognize_conv.py", "recognize_frame.py", "elements.py",
               "render/index_printer.py", "render/matrix_printer.py", "render/tokens.py",
               "render/tree_printer.py", "matrix.py", "render/code.py", "render/backends.py", "render/pymodule.py",
               "render/einsum.py", "flops.py", "cost.py", "render/cost.py", "render/sheet.py",
               "render/text.py", "render/terminal.py", "render/latex.py", "render/markdown.py",
               "render/json_out.py", "render/mathml.py", "render/html.py")
# Words that are an op's name by coincidence: the JSON schema's field names (version 1, fixed)
NOT_OP_NAMES = {("render/json_out.py", "where"), ("render/json_out.py", "einsum"),
                # and the Greek letters' names MathML typesets (as LaTeX's \phi, \Phi)
                ("render/mathml.py", "phi"), ("render/mathml.py", "Phi")}


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
                if (rel, n) not in NOT_OP_NAMES:
                    line = text.count("\n", 0, m.start()) + 1
                    found.append(f"{rel}:{line}: {m.group(0)}")
    assert not found, found


# Modules whose quoted words are another language's names, not ops': TeX's control words
# (\exp, \sum, \le) and Computer Modern's metrics, Greek letters' names, and the pictures'
# layout (which draws what the sheet printed)
TEX_AND_PICTURES = {"render/texparse.py", "render/texlayout.py", "render/texwidth.py",
                    "render/cm_metrics.py", "render/names.py", "render/graph.py",
                    "render/layout.py", "render/svg.py", "render/reports.py"}


def test_every_recognizer_and_renderer_is_searched_for_op_names():
    # a new module (recognize_frame.py) would otherwise be outside the test by default
    from pathlib import Path

    import einderive
    root = Path(einderive.__file__).parent
    modules = {f"render/{p.name}" for p in (root / "render").glob("*.py")
               if p.name != "__init__.py"} | {p.name for p in root.glob("recognize*.py")}
    assert modules - set(NO_OP_NAMES) - TEX_AND_PICTURES == set()


def test_the_op_name_test_can_fail(tmp_path):
    import re
    text = 'if e.head == "softmax":\n    return torch.logsumexp(x)\n'
    hits = [n for n in ("softmax", "logsumexp")
            if re.search(rf"""(["']){n}\1|\b(?:np|torch|functional|math)\.{n}\b""", text)]
    assert hits == ["softmax", "logsumexp"]


def test_reductions_print_as_the_readme_says():
    from einderive.api import render
    d = derive_text(spec(["z = max(X, axis=1)", "L = sum(z * w)"]))
    assert forms(d, "X") == ("∂L/∂z_i 𝟙[X_ij = z_i]", "∂L/∂z ⊙ 𝟙[X = z]")
    assert "z   = max(X, axis=1)\n" in render(d, "markdown")
    d = derive_text(spec(["z = min(v)", "L = z * s"]))
    assert forms(d, "v")[1] == "∂L/∂z·𝟙[v = z]"
    assert "z = min(v)\n" in render(d, "markdown")
    d = derive_text(spec(["a = norm(v)", "f = norm(X)", "L = a * f"]))
    assert forms(d, "v")[1] == "(∂L/∂a/a)·v"
    out = render(d, "markdown")
    assert "a = ‖v‖\n" in out and "f = ‖X‖_F\n" in out


def test_norm_prints_bars_in_latex():
    from einderive.render.styles import Latex
    from einderive.render.text import printer
    import einderive.matrix as mx
    d = derive_text(spec(["f = norm(X)", "L = f * s"]))
    p = printer(d, style=Latex)
    x = mx.Ref("X", "tensor", ("B", "N"))
    assert p.matrix(mx.Norm(x)) == r"\Vert X \Vert_{F}"  # \Vert: the width measurer knows it


@pytest.mark.parametrize("line, message", [
    ("z = max(T3, axis=(0, 1))", "max takes a single axis or every axis"),
    ("z = min(X, axis=(0, 1))", "min takes a single axis"),
    ("z = max(X, axis=2)", "axis 2 is out of range"),
    ("z = max(s)", "max needs a tensor with at least one axis"),
    ("z = norm(X, axis=3)", "axis 3 is out of range"),
    ("z = norm(X, keepdims=1)", "'keepdims' must be True or False"),
])
def test_bad_uses_of_the_reductions_are_spec_errors(line, message):
    from einderive.errors import SpecError
    with pytest.raises(SpecError) as info:
        derive_text(spec([line, "L = sum(z)"]))
    assert message in info.value.format()


def test_code_multiplies_by_an_inverse_with_a_solve(tmp_path):
    """solve(A, B) and every product by A⁻¹ or A⁻ᵀ in the gradients: linalg.solve, never inv."""
    from einderive.api import render
    d = derive_text(spec(["z = solve(Q, v)", "Z = solve(S, A)", "L = sum(z * z) + sum(Z * Z)"]))
    for fmt in ("numpy", "torch"):
        code = render(d, fmt)
        assert "linalg.solve(Q.T" in code or "linalg.solve(Q.mT" in code, fmt
        assert "linalg.inv" not in code, fmt
    from test_models import check_generated_gradients
    check_generated_gradients(d, tmp_path)


def test_max_routes_the_whole_upstream_to_each_tied_entry(tmp_path):
    """The stated tie convention (README): 𝟙[x = max], so at a tie each tied entry gets the
    whole upstream (torch.amax would split it); verify's continuous draws never tie."""
    import numpy as np
    from test_models import load_generated
    from einderive.verify import draw_inputs, sizes_for
    d = derive_text(spec(["z = max(X, axis=1)", "L = sum(z * w)"]))
    mod = load_generated(d, tmp_path)
    X = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    w = np.array([1.0, 2.0, 3.0])
    inputs = {t.name: np.zeros([3 if s == "B" else 4 if s == "N" else 5 if s == "M" else 2
                                for s in t.shape]) for t in d.graph.inputs}
    inputs.update(X=X, w=w)
    got = mod.gradients(**inputs)["X"]
    assert np.array_equal(got, np.array([[0, 1, 1, 0], [2, 0, 0, 0], [3, 3, 3, 3]], float))
    drawn = draw_inputs(d.graph, sizes_for(d.graph), 0)["X"]
    assert all(len(set(row)) == len(row) for row in drawn.tolist())


def test_verify_draws_inverted_inputs_well_conditioned():
    import numpy as np
    from einderive.verify import draw_inputs, sizes_for
    d = derive_text(spec(["L = logdet(Q) + logdet(S) + det(P @ P.T)"]))
    for seed in range(20):
        values = draw_inputs(d.graph, sizes_for(d.graph), seed)
        q, s = values["Q"], values["S"]
        assert np.linalg.det(q) > 0 and np.linalg.cond(q) <= 3 + 1e-9
        assert np.allclose(s, s.T) and np.linalg.eigvalsh(s).min() >= 1 - 1e-9
        assert values["P"].min() >= 0.5  # declared positive; not a square input


def test_a_matrix_function_of_an_expression_that_fails_says_why():
    """logdet(A - B) at random A, B: a negative determinant at some seed, where verify checks
    at the next seed's point; where every point meets one (the negative definite −(Q Qᵀ) − S
    of odd size) it says what to do instead of suggesting a positive input."""
    d = derive_text(spec(["L = logdet(Q - S)"]))
    reports = [verify(d, seed=n) for n in range(8)]
    assert all(r.ok for r in reports)
    assert any(r.asked is not None and r.seed > r.asked for r in reports), \
        "some seed meets a negative determinant"
    never = derive_text(spec(["L = logdet(-(Q @ Q.T) - S)"]))
    r = verify(never, sizes={"N": 3})
    assert not r.ok and "nor at the next 15 seeds' points" in r.error
    assert "spd: true" in r.hint and "logdet" in r.hint


# structure ops of issue 15 item 4: reshape (dims defined from others: D = H·Dh)
STRUCT_HEAD = """
dims: {B: 3, H: 2, Dh: 4, D: H * Dh, N: 5}
inputs:
  X: [B, D]
  T: [B, H, Dh]
  W: [D, N]
  Y3: [N, B, D]
  v: [D]
  M: [H, Dh]
forward:
"""
STRUCTURE = {
    "reshape split": ["Z = reshape(X, [B, H, Dh])", "L = sum(Z * T)"],
    "reshape merge": ["Z = reshape(T, [B, D])", "L = sum(Z * X * X)"],
    "reshape of an expression": ["Z = reshape(X * X + v, [B, H, Dh])", "L = sum(Z * T)"],
    "reshape then a product": ["Z = reshape(T * 2, [B, D]) @ W", "L = sum(Z * Z)"],
    "reshape inside a function": ["Z = tanh(reshape(X, [B, H, Dh])) * T", "L = sum(Z * Z)"],
    "reshape a vector into a matrix": ["Z = reshape(v * v, [H, Dh])", "L = sum(Z * M)"],
    "reshape a matrix into a vector": ["z = reshape(M, [D])", "L = sum(z * v * z)"],
    "reshape with a kept axis": ["Z = reshape(v, [1, D])", "L = sum(Z * X)"],
    "reshape rank 3 split": ["Z = reshape(Y3, [N, B, H, Dh])", "L = sum(Z * Z * T)"],
    "reshape heads and back": ["Z = reshape(exp(reshape(X, [B, H, Dh])) * T, [B, D]) @ W",
                               "L = sum(Z * Z)"],
}


def struct_spec(lines: list[str]) -> str:
    return STRUCT_HEAD + "".join(f"  - {line}\n" for line in lines) + "loss: L\n"


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structure_gradients_match_finite_differences(name):
    d = derive_text(struct_spec(STRUCTURE[name]))
    assert verify(d, seed=1).ok
    # other sizes: D follows H and Dh
    report = verify(d, sizes={"B": 2, "H": 3, "Dh": 2, "N": 4}, seed=2)
    assert report.ok and report.sizes["D"] == 6, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structure_generated_gradients_match_torch_autograd(name, tmp_path):
    """The generated NumPy and PyTorch code against PyTorch autograd of an independent forward
    pass (tests/torch_reference.py reshapes with torch's own reshape)."""
    _generated_code_matches_torch(derive_text(struct_spec(STRUCTURE[name])), tmp_path)


def test_reshape_prints_its_index_map_and_its_inverse():
    d = derive_text(struct_spec(STRUCTURE["reshape split"]))
    assert forms(d, "Z") == ("T_ijk", "T")
    assert forms(d, "X") == ("T_{i, ⌊l/Dh⌋, l mod Dh}", "reshape(T, [B, D])")
    d = derive_text(struct_spec(["Z = reshape(T, [B, D])", "L = sum(Z * X)"]))
    assert forms(d, "T") == ("X_{i, j·Dh + k}", "reshape(X, [B, H, Dh])")


def test_reshape_prints_in_latex():
    from einderive.api import render
    d = derive_text(struct_spec(STRUCTURE["reshape split"]))
    out = render(d, "latex")
    assert r"T_{i, \lfloor l/\mathrm{Dh} \rfloor, l \bmod \mathrm{Dh}}" in out
    assert r"\operatorname{reshape}(T, [B, D])" in out


@pytest.mark.parametrize("line, message, hint", [
    ("Z = reshape(X, [B, H])",
     "cannot reshape (B, D) into (B, H): B·D = B·Dh·H elements are not B·H",
     "multiply to the same number"),
    ("Z = reshape(X, [H, B, Dh])", "cannot reshape (B, D) into (H, B, Dh) by splitting",
     "two steps"),
    ("Z = reshape(X, B)", "reshape's second argument must be a list of dims", "dim names"),
    ("Z = reshape(X, [B, 2 * D])", "must list dims (or 1)", "declare the size as a dim"),
    ("Z = reshape(X, [B, E])", "undefined name 'E'", ""),
])
def test_bad_reshapes_are_spec_errors(line, message, hint):
    from einderive.errors import SpecError
    with pytest.raises(SpecError) as info:
        derive_text(struct_spec([line, "L = sum(Z)"]))
    assert message in info.value.message and hint in (info.value.hint or "")
    assert info.value.loc.line == 11 and info.value.loc.col > 1


def test_a_product_split_into_heads_reads_as_a_reshape_of_the_product():
    # ∂L/∂T_ijk = ∂L/∂Z_im W_{j·Dh + k, m}: j, k only together, as one flat index over D
    d = derive_text(struct_spec(["Z = reshape(T, [B, D]) @ W", "L = sum(Z * Z)"]))
    index, matrix = forms(d, "T")
    assert index == "∂L/∂Z_im W_{j·Dh + k, m}" and matrix == "reshape(∂L/∂Z Wᵀ, [B, H, Dh])"
    assert verify(d, seed=3).ok


def test_the_strong_zero_asks_the_op_table_of_either_tree():
    """Whether a factor is an indicator and whether it may be infinite are one predicate each
    (ops.is_indicator, ops.may_be_infinite), asked of SymPy's trees (the index form's code)
    and the matrix form's alike: each tree reads its nodes as the table's ops (ops.call_of,
    matrix.call_of), and a power's verdict is its row's (x ** p, p negative or not whole)."""
    import sympy

    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.ops import F, call_of, is_indicator, may_be_infinite

    x, y = sympy.Symbol("x"), sympy.Symbol("y")
    r = mx.Ref("r", RefKind.TENSOR, (3, 1))
    g = mx.Ref("g", RefKind.ADJOINT, (3, 1))
    for p, infinite in ((sympy.Integer(2), False), (sympy.Integer(3), False),
                        (sympy.Integer(-1), True), (sympy.Rational(1, 2), True),
                        (sympy.Rational(-3, 2), True)):
        e = 3 * y * x ** p
        assert may_be_infinite(sympy.preorder_traversal(e), call_of, lambda n: False) \
            is infinite, e
        m = mx.power(r, p)
        assert may_be_infinite(mx.walk(m), mx.call_of, lambda n: False) is infinite, m
    # an adjoint may be infinite where the forward pass is finite, as its tree says
    assert may_be_infinite(mx.walk(g), mx.call_of, lambda n: n == g)
    assert not may_be_infinite(mx.walk(r), mx.call_of, lambda n: n == g)
    step = F("gt")(x, 0)
    assert is_indicator(call_of(step)) and not is_indicator(call_of(F("tanh")(x)))
    assert is_indicator(mx.call_of(mx.fn("gt", r, r)))
    assert not is_indicator(mx.call_of(mx.fn("tanh", r))) and not is_indicator(call_of(x))


def test_the_op_names_other_modules_use_are_ops():
    """The constants other modules name ops by (the simplifier's identities, roles.py's
    softmax target, the parser's operators) are the table's names."""
    from einderive import ops
    names = {*ops.OPS, *ops.SCALARS, *ops.AXIS_OPS}
    for const in ("EXP", "LOG", "SIGMOID", "SOFTPLUS", "ABS", "SIGN", "SOFTMAX", "LOGSUMEXP",
                  "MEAN", "NEG", "TIMES", "DIVIDE", "POWER", "TRANSPOSE", "SUM", "POW_HALF",
                  "LOG_SOFTMAX", "TRACE_OP"):
        assert getattr(ops, const) in names, const
