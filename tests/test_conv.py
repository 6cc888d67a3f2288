"""Convolution: conv1d(X, W[, b]) and conv2d(X, W[, b]), PyTorch's valid cross-correlation
with stride 1.  The forward reads X at the output index shifted by the kernel's (X_{b,c,t+k});
differentiated, the delta collapses with the range 𝟙[k ≤ s < k + To] kept, and the adjoints
read back as a correlation ∂L/∂W = ∂L/∂Y ⋆ X and a full convolution ∂L/∂X = ∂L/∂Y ∗ W.
Each spec is checked by finite differences (every printed form, at two sizes), its generated
NumPy and PyTorch code against PyTorch autograd of an independent forward pass
(tests/torch_reference.py calls torch's own conv1d/conv2d), and by verify --hvp."""

from __future__ import annotations


import pytest

from conftest import assert_spec_error, derive_text, forms
from einderive.api import render, verify

# dims in this order: the reference's primes (2, 3, 5, …) keep every output length positive
HEAD1 = """\
name: conv
dims: {B: 2, J: 2, C: 2, K: 3, O: 3, P: 2, T: 9, To: T - K + 1, T2: To - J + 1}
inputs:
  X: [B, C, T]
  W: [O, C, K]
  W2: [P, O, J]
  b: [O]
  y: [B, O, To]
  y2: [B, P, T2]
forward:
"""

HEAD2 = """\
name: conv2
dims: {B: 2, KW: 2, C: 2, KH: 3, O: 3, P: 2, W_: 5, H: 6, Ho: H - KH + 1, Wo: W_ - KW + 1,
       Ho2: Ho - KH + 1, Wo2: Wo - KW + 1}
inputs:
  X: [B, C, H, W_]
  W: [O, C, KH, KW]
  W2: [P, O, KH, KW]
  b: [O]
  y: [B, O, Ho, Wo]
forward:
"""

SPECS = {
    "conv1d + bias + relu + mse": (HEAD1, ["Y = conv1d(X, W, b)", "Z = relu(Y)",
                                           "L = mean((Z - y) ** 2)"]),
    "conv1d stacked, inline leaky_relu": (HEAD1, ["H = leaky_relu(conv1d(X, W, b))",
                                                  "Y = conv1d(H, W2)",
                                                  "L = mean((Y - y2) ** 2)"]),
    "conv1d without bias, tanh": (HEAD1, ["Y = tanh(conv1d(X, W))", "L = sum(Y * y)"]),
    "conv2d + bias + relu + mse": (HEAD2, ["Y = conv2d(X, W, b)", "Z = relu(Y)",
                                           "L = mean((Z - y) ** 2)"]),
    "conv2d stacked": (HEAD2, ["A = tanh(conv2d(X, W, b))", "Y = conv2d(A, W2)",
                               "L = sum(Y ** 2)"]),
}


# an expression as the convolved signal: its derivative multiplies the full convolution
EXPRESSIONS = {
    "conv1d of tanh(X)": (HEAD1, ["Y = conv1d(tanh(X), W)", "L = sum(Y * y)"]),
    "conv2d of sigmoid(X), bias": (HEAD2, ["Y = conv2d(sigmoid(X), W, b)",
                                           "L = sum(Y * y)"]),
}
ALL = {**SPECS, **EXPRESSIONS}


def spec(name: str) -> str:
    head, lines = ALL[name]
    return head + "".join(f"  - {line}\n" for line in lines) + "loss: L\n"


@pytest.mark.parametrize("name", sorted(ALL))
def test_conv_gradients_match_finite_differences_at_two_sizes(name):
    d = derive_text(spec(name))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    other = {"B": 3, "C": 1, "O": 2, "T": 11} if "conv1d" in name else \
        {"B": 1, "C": 3, "H": 7, "W_": 6, "KW": 3}
    report = verify(d, sizes=other, seed=2)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(ALL))
def test_conv_generated_gradients_match_torch_autograd(name, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(spec(name)), tmp_path)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_conv_adjoints_are_a_correlation_and_a_full_convolution(name):
    d = derive_text(spec(name))
    assert forms(d, "W")[1].endswith(" ⋆ X"), forms(d, "W")
    assert forms(d, "X")[1].endswith(" ∗ W"), forms(d, "X")
    # no einsum, no index form left alone for the tensors a convolution reads
    for t in ("X", "W"):
        assert "einsum" not in forms(d, t)[1]


def test_a_conv_of_an_expression_reads_both_adjoints_in_matrix_form():
    """conv1d(tanh(X), W): ∂L/∂X is the full convolution times tanh's derivative, which
    stands outside the convolution's sums (it printed the index form alone); ∂L/∂W is the
    correlation with the expression."""
    d = derive_text(spec("conv1d of tanh(X)"))
    assert forms(d, "X")[1] == "(∂L/∂Y ∗ W) ⊙ (1 − tanh(X)^∘2)", forms(d, "X")
    assert forms(d, "W")[1] == "∂L/∂Y ⋆ tanh(X)", forms(d, "W")
    d = derive_text(spec("conv2d of sigmoid(X), bias"))
    assert forms(d, "X")[1] == "σ'(X) ⊙ (∂L/∂Y ∗ W)", forms(d, "X")
    assert forms(d, "W")[1] == "∂L/∂Y ⋆ σ(X)", forms(d, "W")
    assert "no matrix form" not in render(d, "markdown")


def test_conv1d_prints_its_shifted_read_and_its_adjoints():
    d = derive_text(spec("conv1d + bias + relu + mse"))
    out = render(d, "markdown")
    assert "Y_imq = b_m + W_mkl X_{i, k, q + l}" in out, out
    assert "Y     = conv1d(X, W, b)" in out, out
    assert forms(d, "X") == ("Σ_l (Σ_m ∂L/∂Y_{i, m, p − l} W_mkl) 𝟙[l ≤ p < l + To]",
                             "∂L/∂Y ∗ W")
    assert forms(d, "W") == ("∂L/∂Y_imq X_{i, k, q + l}", "∂L/∂Y ⋆ X")


def test_a_stacked_layer_reads_the_product_before_it_as_one_signal():
    """∂L/∂X of leaky_relu(conv1d(X, W, b)) inlined: G = ∂L/∂H ⊙ where(…) is read at the
    shifted index as a whole; its index form names the conv's own sum without capturing the
    shift's index (it printed X_{i, j′, −n′ + k + n′})."""
    d = derive_text(spec("conv1d stacked, inline leaky_relu"))
    index, matrix = forms(d, "X")
    assert matrix == "(∂L/∂H ⊙ where(conv1d(X, W, b) > 0, 1, 1/100)) ∗ W", matrix
    assert "X_{i, k′, l′ + p − l}" in index, index
    assert forms(d, "W2")[1] == "∂L/∂Y ⋆ H"


def test_conv_prints_in_latex():
    d = derive_text(spec("conv1d + bias + relu + mse"))
    out = render(d, "latex")
    assert r"\ast W" in out and r"\star X" in out, out
    assert r"\partial L}{\partial Y} \ast W" in out, out


def test_generated_code_uses_windows_and_the_library_convolutions():
    d = derive_text(spec("conv2d + bias + relu + mse"))
    numpy = render(d, "numpy")
    assert "np.lib.stride_tricks.sliding_window_view" in numpy and "for " not in numpy
    torch = render(d, "torch")
    assert "torch.nn.functional.conv2d(X, W)" in torch, torch
    assert "torch.nn.functional.conv_transpose2d(d_Y, W)" in torch, torch


@pytest.mark.parametrize("name", ["conv1d + bias + relu + mse", "conv2d stacked"])
def test_conv_hessian_vector_products_verify(name, tmp_path, run):
    path = tmp_path / "c.yaml"
    path.write_text(spec(name))
    r = run("verify", "--hvp", "X,W", str(path))
    assert r.exit_code == 0, r.output
    assert "second-order checks of 1 spec match finite differences" in r.output, r.output


BAD = """\
name: bad
dims: {B: 2, C: 3, D: 4, T: 9, O: 3, K: 3, To: T - K + 1, Tx: T - K}
inputs:
  X: [B, C, T]
  Xd: [B, D, T]
  X2: [B, T]
  W: [O, C, K]
  W4: [O, C, K, K]
  b: [C]
forward:
"""

ERRORS = [
    ("no dim is the output length", "dims: {B: 2, C: 3, D: 4, T: 9, O: 3, K: 3}",
     "Y = conv1d(X, W)",
     "11:9", "output has T - K + 1 elements along spatial axis 0", "dims: {To: T - K + 1}"),
    ("channels", None, "Y = conv1d(Xd, W)", "11:20",
     "the input's channels (axis 1) are not the kernel's", "the kernel's axis 1 must be D"),
    ("an input of rank 2", None, "Y = conv1d(X2, W)", "11:16",
     "conv1d's input must have 3 axes, not 2", "X [B, C, T]"),
    ("a kernel of rank 4", None, "Y = conv1d(X, W4)", "11:19",
     "conv1d's kernel must have 3 axes, not 4", "W [O, C, K]"),
    ("a bias of the wrong shape", None, "Y = conv1d(X, W, b)", "11:22",
     "conv1d's bias must have shape [O]", "b [O]"),
    ("conv2d of a rank-3 input", None, "Y = conv2d(X, W)", "11:16",
     "conv2d's input must have 4 axes, not 3", "X [B, C, H, W_]"),
]


@pytest.mark.parametrize("name,dims,line,at,message,hint", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_convolutions_point_at_the_place(name, dims, line, at, message, hint):
    text = BAD + f"  - {line}\n  - L = sum(Y)\nloss: L\n"
    if dims is not None:
        text = text.replace(BAD.splitlines()[1], dims)
    assert_spec_error(text, at, message, hint)


def test_a_bad_convolution_exits_2_with_its_location(tmp_path, run):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.replace("To: T - K + 1, ", "") +
                    "  - Y = conv1d(X, W)\n  - L = sum(Y)\nloss: L\n")
    r = run("derive", str(path))
    assert r.exit_code == 2, r.output
    assert "bad.yaml:11:" in r.output and "dims: {To: T - K + 1}" in r.output, r.output


CONV_DAMAGE = [
    ("Y = conv1d(X, W, b)", "Y = conv1d(X, W)"),  # the bias dropped
    ("∂L/∂W = ∂L/∂Y ⋆ X", "∂L/∂W = ∂L/∂Y ⋆ (X ⊙ X)"),
    ("∂L/∂X = ∂L/∂Y ∗ W", "∂L/∂X = (∂L/∂Y ⊙ ∂L/∂Y) ∗ W"),
    ("∂L/∂W_kjl = ∂L/∂Y_ikn X_{i, j, n + l}", "∂L/∂W_kjl = ∂L/∂Y_ikn X_{i, j, n + l + 1}"),
    ("∂L/∂X_ijm = Σ_l (Σ_k ∂L/∂Y_{i, k, m − l} W_kjl) 𝟙[l ≤ m < l + To]",
     "∂L/∂X_ijm = Σ_l (Σ_k ∂L/∂Y_{i, k, m − l} W_kjl)"),  # the range dropped
]


@pytest.mark.parametrize("good,bad", CONV_DAMAGE, ids=[b for _, b in CONV_DAMAGE])
def test_the_reader_catches_damage_in_a_convolution(good, bad):
    """The test reader's ⋆, ∗ and conv1d(·) (tests/notation_reader.py) can fail."""
    from pathlib import Path

    import torch_reference as R
    from notation_reader import ReaderError
    from test_printed_forms import env_for
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).resolve().parent.parent / "specs" / "conv1d.yaml"))
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)
