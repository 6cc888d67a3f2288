"""Slicing and concatenate.  Slicing: x[:, lo:hi] reads its argument at a shifted index;
its adjoint is the upstream adjoint zero-padded, with the range kept as an Iverson factor
𝟙[lo ≤ s < hi] in index form.  A concatenated piece's adjoint is a slice of the upstream's.
Each case is checked by finite differences (every printed form, at two sizes) and its
generated NumPy and PyTorch code against PyTorch autograd of an independent forward pass
(tests/torch_reference.py slices with the library's own slicing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import assert_spec_error, derive_text, forms
from einderive.api import verify

HEAD = """\
name: slices
# in this order, the reference's primes (B=2, K=3, N=5) leave M = N − K positive
dims: {B: 3, K: 2, N: 7, M: N - K}
inputs:
  x: [B, N]
  xt: [N, B]
  v: [N]
  W: [K, K]
  U: [M, B]
  Y3: [B, K, N]
forward:
"""

SLICES = {
    "columns 0:K": ["y = x[:, 0:K]", "z = tanh(y @ W)", "L = sum(z ** 2)"],
    "a slice read inline": ["y = x[:, 0:K]", "L = sum(tanh(y @ W) ** 2)"],
    "rows K:N": ["a = xt[K:N]", "L = sum(sigmoid(a) * U)"],
    "open ends": ["a = x[:, :K]", "b = x[:, K:]", "L = sum(a @ W) + sum(b * b)"],
    "a vector shifted by a literal": ["u = v[1:K + 1]", "L = sum(exp(u))"],
    "a slice of an expression": ["y = (x * x)[:, 0:K]", "L = sum(y @ W)"],
    "one tensor sliced twice": ["a = xt[0:M]", "b = xt[K:N]", "L = sum(a * b)"],
    "a slice of length 1": ["c = x[:, 2:3]", "L = sum(c * x)"],
    "rank 3, the last axis": ["Z = Y3[:, :, 1:M + 1]", "L = sum(Z * Z)"],
    "a slice then a product": ["y = x[:, K:N] @ U", "L = sum(y * y)"],
    # a range over a factor that is no upstream adjoint (exp(u) inlined, x itself)
    "a function of a slice": ["u = v[0:K]", "L = sum(exp(u))"],
    "a product of two slices of one vector": ["w = v[0:K] * v[M:N]", "L = sum(w)"],
    # a term that is only a range (∂L/∂v of sum(v[0:K])): padded ones
    "a slice read by a sum": ["y = xt[K:N] * U", "z = v[0:K]", "L = sum(y * y) + sum(z)"],
}


def spec(lines: list[str]) -> str:
    return HEAD + "".join(f"  - {line}\n" for line in lines) + "loss: L\n"


@pytest.mark.parametrize("name", sorted(SLICES))
def test_slice_gradients_match_finite_differences(name):
    d = derive_text(spec(SLICES[name]))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    report = verify(d, sizes={"B": 2, "N": 6, "K": 3}, seed=2)  # M follows N and K
    assert report.ok and report.sizes["M"] == 3, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(SLICES))
def test_slice_generated_gradients_match_torch_autograd(name, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(spec(SLICES[name])), tmp_path)


def test_a_slice_prints_its_shift_and_its_adjoint_the_padding():
    from einderive.api import render
    d = derive_text(spec(SLICES["rows K:N"]))
    out = render(d, "markdown")
    assert "a_li = xt_{l + K, i}" in out and "a    = slice(xt, K:N)" in out, out
    assert forms(d, "xt") == ("∂L/∂a_{k − K, i} 𝟙[K ≤ k < N]", "pad(∂L/∂a, K:N, axis=0)")
    d = derive_text(spec(SLICES["columns 0:K"]))
    # from 0 the index is not shifted, but the range is still all there is to say
    assert forms(d, "x") == ("∂L/∂y_ik 𝟙[0 ≤ k < K]", "pad(∂L/∂y, 0:K, axis=1)")


def test_a_range_over_a_factor_read_in_its_own_dim_pads_the_product():
    """𝟙[lo ≤ j < hi] times factors that read v at j (exp(u_j) with j over N, v_{j + M}) had
    no matrix form: the product, read at j = s + lo with s over the slice's dim, is padded."""
    d = derive_text(spec(SLICES["a function of a slice"]))
    assert forms(d, "v") == ("exp(u_k) 𝟙[0 ≤ k < K]", "pad(exp(u), 0:K, axis=0)")
    d = derive_text(spec(SLICES["a product of two slices of one vector"]))
    assert forms(d, "v")[1] == "pad(slice(v, M:N), 0:K, axis=0) + pad(slice(v, 0:K), M:N, " \
                               "axis=0)", forms(d, "v")


def test_a_term_that_is_only_a_range_is_padded_ones():
    """sum(v[0:K]) gives ∂L/∂v_k = 𝟙[0 ≤ k < K], a term with no factor to pad: it had no
    matrix form (einsum for the whole adjoint); its code no longer tests k ≥ 0."""
    from einderive.render.pymodule import numpy_module
    d = derive_text(spec(SLICES["a slice read by a sum"]))
    assert forms(d, "v") == ("𝟙[0 ≤ k < K]", "pad(𝟏, 0:K, axis=0)"), forms(d, "v")
    code = numpy_module(d, form="index")
    assert "np.heaviside(K - np.arange(N), 0.0)" in code and " - 0," not in code, code


def test_the_range_is_never_dropped_from_the_index_form():
    d = derive_text(spec(SLICES["a vector shifted by a literal"]))
    index, matrix = forms(d, "v")
    assert "𝟙[1 ≤ k < K + 1]" in index and "u_{k − 1}" in index, index
    assert matrix == "pad(∂L/∂u, 1:K + 1, axis=0)"


def test_a_slice_prints_in_latex():
    from einderive.api import render
    out = render(derive_text(spec(SLICES["rows K:N"])), "latex")
    assert r"\mathbf{1}\left[K \leq k < N\right]" in out
    assert r"\operatorname{pad}\left(" in out


def test_a_pads_axis_keyword_is_a_word_in_latex_and_mathml():
    """``axis=0`` was set as math italics a·x·i·s (LaTeX) and four operators (MathML)."""
    from einderive.api import render
    d = derive_text(spec(SLICES["rows K:N"]))
    latex = render(d, "latex")
    assert r"K:N, \mathrm{axis}{=}0\right)" in latex and "axis=" not in latex, latex
    html = render(d, "html")
    assert "<mi>axis</mi><mo>=</mo><mn>0</mn>" in html and "<mo>x</mo>" not in html
    assert forms(d, "xt")[1] == "pad(∂L/∂a, K:N, axis=0)"


GATES = Path(__file__).parent / "regressions" / "lstm_gate_slices.yaml"


def test_a_bound_that_is_a_product_prints_as_the_spec_writes_it():
    """G[:, 2 * H:3 * H], an LSTM's third gate: the matrix form slices at 2 H:3 H and pads
    back there, the index form shifts by 2·H, the code slices at 2 * H:3 * H (before, a
    product was no static bound: PyTorch's four gates of one product had to be declared as
    dims one by one)."""
    from einderive.api import derive_file, render
    d = derive_file(GATES)
    index, matrix = forms(d, "G2")
    assert "pad(∂L/∂h2 ⊙ σ'(slice(G2, :, 2 H:3 H)) ⊙ tanh(c2), 2 H:3 H, axis=1)" in matrix, \
        matrix
    assert "∂L/∂h2_{i, m − 2·H} 𝟙[2 H ≤ m < 3 H]" in index, index
    assert "G2[:, 2 * H:3 * H]" in render(d, "numpy")


@pytest.mark.parametrize("sizes", [{}, {"B": 3, "T": 2, "D": 1, "H": 3}])
def test_gates_sliced_at_products_verify_and_match_torch(sizes, tmp_path):
    from einderive.api import derive_file
    from test_ops import _generated_code_matches_torch
    d = derive_file(GATES)
    report = verify(d, sizes=sizes, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    if not sizes:
        _generated_code_matches_torch(d, tmp_path)


def test_generated_code_slices_and_pads():
    from einderive.api import render
    d = derive_text(spec(SLICES["rows K:N"]))
    numpy = render(d, "numpy")
    assert "a = xt[K:N]" in numpy and "np.pad(d_a, ((K, 0), (0, 0)))" in numpy, numpy
    torch = render(d, "torch")
    assert "torch.nn.functional.pad(d_a, (0, 0, K, 0))" in torch, torch


def test_generated_code_prints_a_difference_of_dims_as_a_subtraction():
    """The padding after a slice 0:K of N is N − K: it was printed ``N + -1 * K``, and a
    collapsed shift's gather index ``arange(N) + -1 * K``."""
    from einderive.api import render
    d = derive_text(spec(SLICES["columns 0:K"]))
    numpy, torch = render(d, "numpy"), render(d, "torch")
    assert "np.pad(d_y, ((0, 0), (0, N - K)))" in numpy, numpy
    assert "torch.nn.functional.pad(d_y, (0, N - K))" in torch, torch
    d = derive_text(spec(["y = xt[K:N] * U", "z = xt[0:M]", "L = sum(y * y) + sum(z)"]))
    numpy = render(d, "numpy")
    assert "+ -" not in numpy and "-1 *" not in numpy, numpy


ERRORS = [
    ("a step", "y = x[:, 0:K:2]", "12:18", "a slice takes no step", "contiguous"),
    ("past the dim", "y = x[:, 1:N + 1]", "12:16", "ends past the dim", "0 ≤ lo < hi ≤ N"),
    ("past the dim at the spec's sizes", "y = x[:, 6:8]", "12:16", "ends past the dim",
     "0 ≤ lo < hi ≤ N"),
    ("empty", "y = x[:, K:K]", "12:16", "is empty", "0 ≤ lo < hi ≤ N"),
    ("a bound that reads a tensor", "y = x[:, 0:W]", "12:16", "must be static",
     "x[:, 0:K]"),
    ("a negative bound", "y = x[:, -2:N]", "12:14", "a slice bound is negative", "x[:, N - 2:N]"),
    ("two sliced axes", "y = x[0:2, 0:K]", "12:16", "ranges over one axis", "x[:, 0:K]"),
    ("a length no dim has", "y = x[:, 0:3]", "12:16", "has 3 elements, which no dim is",
     'dims: {M1: "3"}'),
    # bounds printed as a spec writes them: N - K, never SymPy's -K + N
    ("a difference past the dim", "y = x[:, M:N + 1]", "12:16",
     "the slice N - K:N + 1 of axis 1", "0 ≤ lo < hi ≤ N"),
    ("a difference no dim is", "y = x[:, 1:N - K]", "12:16",
     "the slice 1:N - K has N - K - 1 elements", "dims: {M1: N - K - 1}"),
    ("too many indices", "y = v[:, 0:K]", "12:9", "2 indices for a tensor of shape (N,)",
     "one per axis"),
]


@pytest.mark.parametrize("name,line,at,message,hint", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_slices_point_at_the_place(name, line, at, message, hint):
    assert_spec_error(spec([line, "L = sum(y)"]), at, message, hint)


def test_a_bad_slice_exits_2_with_its_location(tmp_path, run):
    path = tmp_path / "bad.yaml"
    path.write_text(spec(["y = x[:, 0:K:2]", "L = sum(y)"]))
    r = run("derive", str(path))
    assert r.exit_code == 2, r.output
    assert "bad.yaml:12:" in r.output and "a slice takes no step" in r.output


# -- concatenate ---------------------------------------------------------------------------

CAT_HEAD = """\
name: joins
# in this order, the reference's primes (B=2, N=3, M=5) keep every dim distinct
dims: {B: 3, N: 2, M: 4, NM: N + M, NMN: N + M + N}
inputs:
  a: [B, N]
  b: [B, M]
  W: [NM, N]
  p: [N]
  q: [M]
  A3: [N, B, M]
  C3: [N, B, N]
forward:
"""

CONCATS = {
    "columns": ["c = concatenate([a, b], axis=1)", "h = tanh(c @ W)", "L = sum(h ** 2)"],
    "rows, of expressions": ["c = concatenate([a.T * 2, exp(b.T)], axis=0)",
                             "L = sum(c.T @ W)"],
    "vectors": ["c = concatenate([p, q * q])", "L = sum(c * W[:, 0:1].T)"],
    "three pieces, a negative axis": ["c = concatenate([a, b, a * a], axis=-1)",
                                      "L = sum(sigmoid(c))"],
    "rank 3, the last axis": ["c = concatenate([A3, C3], axis=2)", "L = sum(c * c * c)"],
    "a piece read twice": ["c = concatenate([a, b], axis=1)", "L = sum(c @ W) + sum(a * a)"],
}


def cat_spec(lines: list[str]) -> str:
    return CAT_HEAD + "".join(f"  - {line}\n" for line in lines) + "loss: L\n"


@pytest.mark.parametrize("name", sorted(CONCATS))
def test_concatenate_gradients_match_finite_differences(name):
    d = derive_text(cat_spec(CONCATS[name]))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    report = verify(d, sizes={"B": 2, "N": 3, "M": 2}, seed=2)
    assert report.ok and report.sizes["NM"] == 5, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(CONCATS))
def test_concatenate_generated_gradients_match_torch_autograd(name, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(cat_spec(CONCATS[name])), tmp_path)


def test_a_piece_adjoint_is_a_slice_of_the_upstream_adjoint():
    from einderive.api import render
    d = derive_text(cat_spec(CONCATS["columns"]))
    assert forms(d, "a") == ("∂L/∂c_ij", "slice(∂L/∂c, :, 0:N)")
    assert forms(d, "b") == ("∂L/∂c_{i, k + N}", "slice(∂L/∂c, :, N:NM)")
    out = render(d, "markdown")
    assert "c_il = a_{i, l} 𝟙[0 ≤ l < N] + b_{i, l − N} 𝟙[N ≤ l < M + N]" in out, out
    assert "c    = pad(a, 0:N, axis=1) + pad(b, N:NM, axis=1)" in out, out
    numpy = render(d, "numpy")
    assert "c = np.concatenate((a, b), axis=1)" in numpy and "d_c[:, N:NM]" in numpy, numpy
    assert "torch.concatenate((a, b), dim=1)" in render(d, "torch")


CAT_ERRORS = [
    ("shapes that do not fit", "c = concatenate([a, b.T], axis=1)", "13:25",
     "cannot concatenate along axis 1: shapes (B, N) and (M, B) do not match",
     "agree on every axis but the one joined"),
    ("a joined axis no dim is", "c = concatenate([a, a], axis=1)", "13:9",
     "the joined axis has N + N elements, which no dim is", "dims: {NM1: N + N}"),
    ("an axis out of range", "c = concatenate([a, b], axis=2)", "13:34",
     "axis 2 is out of range for pieces of rank 2", "-2 to 1"),
    ("an axis that is no integer", "c = concatenate([a, b], axis=M)", "13:34",
     "axis must be an integer", "axis=1"),
    ("no list", "c = concatenate(a, axis=1)", "13:21", "first argument must be a list",
     "concatenate([a, b], axis=0)"),
]


@pytest.mark.parametrize("name,line,at,message,hint", CAT_ERRORS,
                         ids=[e[0] for e in CAT_ERRORS])
def test_bad_concatenates_point_at_the_place(name, line, at, message, hint):
    assert_spec_error(cat_spec([line, "L = sum(c)"]), at, message, hint)


@pytest.mark.parametrize("lines,wrt", [
    (SLICES["columns 0:K"], "x,W"),
    (CONCATS["columns"], "a,b"),
], ids=["slice", "concatenate"])
def test_hessian_vector_products_through_slices_and_concatenate(lines, wrt, tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(spec(lines) if "x[" in lines[0] else cat_spec(lines))
    r = run("verify", "--hvp", wrt, str(path))
    assert r.exit_code == 0, r.output
    assert "second-order checks of 1 spec match finite differences" in r.output, r.output


def test_a_slice_of_a_concatenate_checks_its_hessian_vector_product(run, tmp_path):
    """A slice of a concatenate's piece reads x at Shift(Window(i, 0, R), K, N − K): the
    generated ℛ code took the inner Window for a plain letter (internal error) and then
    read past the axis (IndexError) where its range condition is 0."""
    spec = tmp_path / "slice_of_concat.yaml"
    spec.write_text("dims: {N: 6, K: 2, R: N - K, M: 4}\n"
                    "inputs: {v: [N], A: [M, K]}\n"
                    "forward:\n"
                    "  - u = concatenate([v[K:N], v[0:K] * 0.5], axis=0)\n"
                    "  - h = tanh(A @ v[0:K]) + u[0:M]\n"
                    "  - loss_val = sum(h * h) + 0.1 * sum(abs(v))\n"
                    "loss: loss_val\n")
    r = run("verify", str(spec), "--hvp")
    assert r.exit_code == 0, r.output
    assert "second-order checks of 1 spec match finite differences" in r.output
