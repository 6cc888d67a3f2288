"""Finds of stop 41: forms a new user met that a textbook writes otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_forward_line_that_writes_a_trace_reads_as_one():
    """trace(A @ X @ B) of a K×N A printed sum(A ⊙ (Bᵀ Xᵀ)), of square ones tr(X B A);
    a @ solve(X, b) printed bᵀ X⁻ᵀ a.  A line that writes a trace reads as a trace from
    its first name, one that writes sum(C * X.T) as it is; a product that is one number
    reads the way round with fewer transposes."""
    spec = REGRESSIONS / "forward_trace_as_written.yaml"
    out = _run("derive", str(spec))
    for line in ("t = tr(A X B)", "q = tr(C X D Xᵀ)", "s = aᵀ X⁻¹ b", "f = sum(C ⊙ Xᵀ)"):
        assert f"  {line}\n" in out, (line, out)
    assert "grad(X) = Aᵀ Bᵀ + Cᵀ X Dᵀ + C X D − X⁻ᵀ a bᵀ X⁻ᵀ + Cᵀ" in out, out
    latex = _run("derive", str(spec), "--latex", "--only", "forward")
    assert r"t &= \operatorname{tr}(A X B)" in latex, latex
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_lookup_in_a_concatenate_piece_prints_its_index_bare():
    """U_(tok_l,{k}): the letter index beside a lookup's element was braced as an index map
    alone is; inside the lookup's brackets the comma separates."""
    spec = REGRESSIONS / "lookup_piece_index_bare.yaml"
    out = _run("derive", str(spec))
    assert "U_(tok_l,k)" in out and "E_(tok_l,k − K)" in out, out
    assert "{k" not in out, out
    assert r"U_{\mathrm{tok}_{l},k}" in _run("derive", str(spec), "--latex")
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_index_form_names_the_logistic_function():
    """The derivative of log1p(exp(−z)) is −σ(−z): the matrix form said so, the index form
    printed −exp(−z_i) / (1 + exp(−z_i)).  A line that writes 1 / (1 + exp(−s)) keeps it."""
    spec = REGRESSIONS / "log1p_exp_index_sigmoid.yaml"
    out = _run("derive", str(spec))
    assert "∂L/∂z_i = −σ(−z_i)" in out and "∂L/∂z   = −σ(−z)" in out, out
    assert "exp(−z_i) /" not in out, out
    assert r"\sigma(-z_{i})" in _run("derive", str(spec), "--latex")
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_exponentials_of_opposite_arguments_cancel():
    """tanh written by hand: the derivative printed exp(−z) ⊙ exp(z), which is 1."""
    spec = REGRESSIONS / "tanh_by_hand_exp_cancel.yaml"
    out = _run("derive", str(spec))
    assert "grad(z) = 4 g ⊘ (exp(−z) + exp(z))^∘2" in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_frobenius_norm_reads_its_matrix_with_fewer_transposes():
    """sum((X - X @ U @ U.T) ** 2) printed ‖Xᵀ − U Uᵀ Xᵀ‖_F²; the norm of a matrix is its
    transpose's, read the way the line writes it."""
    spec = REGRESSIONS / "pca_one_line_norm_as_written.yaml"
    out = _run("derive", str(spec))
    assert "  L = ‖X − X U Uᵀ‖_F²\n" in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("spec,closed", [
    ("softmax_entropy_weights_one", "p ⊙ (pᵀ log(p) − log(p))"),
    ("softmax_kl_weights_one", "p ⊙ (log(p ⊘ q) − L)"),
])
def test_a_softmax_weighting_a_number_gives_the_number(spec, closed):
    """(1 + log(p))ᵀ p is 1 + pᵀ log(p) for p = softmax(z): the entropy printed
    p ⊙ (−1 + pᵀ (1 + log(p)) − log(p)), KL p ⊙ (1 + log(p ⊘ q) − pᵀ (1 + log(p ⊘ q)))."""
    path = REGRESSIONS / f"{spec}.yaml"
    out = _run("derive", "--expand", str(path))
    assert f"          = {closed}\n" in out, out
    _run("verify", str(path))
    assert not text_failures(path.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_every_trace_a_line_writes_reads_as_one():
    """A line that writes trace(…) of any product prints a trace, the way round with fewer
    transposes (review of this stop's change: trace((X + Y) @ Z) printed sum(Zᵀ ⊙ (X + Y)))."""
    spec = REGRESSIONS / "forward_trace_as_written2.yaml"
    out = _run("derive", str(spec))
    for line in ("a = tr(C X Aᵀ)", "d = tr(X Y X⁻¹)", "e = 2 tr(A Y Aᵀ)", "f = tr(Z (X + Y))",
                 "h = 2 tr(A W Cw)"):
        assert f"  {line}\n" in out, (line, out)
    assert "sum(" not in out.split("Backward")[0], out  # (index forms write Σ)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_verify_reads_a_position_against_an_index_map():
    """reshape(F, [V, H, K])[:, 1:2, :]: ∂L/∂F_il = δ_{1, ⌊l/K⌋} (…); verify compiles each
    index form and exited 3 (CodegenError: the index 1 runs over no known dim)."""
    spec = REGRESSIONS / "slice_of_reshape_delta_at_map.yaml"
    out = _run("verify", str(spec))
    assert "pass" in out and "FAIL" not in out, out
    assert "δ_{1, ⌊l/K⌋}" in _run("derive", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_fractional_power_of_an_even_power_is_not_merged():
    """(x ** 2) ** 0.5 printed y = x and ∂L/∂x = 𝟏, (x * x) ** 0.5 likewise, and the closed form
    of e = (y * y) ** 0.5 read e as y: (x²)^(1/2) is |x|.  verify failed on main (exit 1)."""
    spec = REGRESSIONS / "power_of_even_power.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "  a   = √(x ⊙ x)\n" in out and "c   = (x^∘4)^∘(1/4)" in out, out
    assert "grad(x) = x ⊘ √(x ⊙ x) + x^∘3 ⊘ (x^∘4)^∘(3/4)" in out, out
    verified = _run("verify", str(spec))
    assert "FAIL" not in verified, verified
    assert not text_failures(spec.read_text())


def test_an_irrational_exponent_is_refused_with_its_decimal(tmp_path):
    """x ** (2 ** 0.5): its derivative's exponent √2 − 1 reached the printer (exit 3)."""
    from click.testing import CliRunner
    from einderive.cli import main
    spec = tmp_path / "s.yaml"
    spec.write_text("dims: {N: 3}\ninputs: {x: {shape: [N], positive: true}}\n"
                    "forward:\n  - L = sum(x ** (2 ** 0.5))\nloss: L\n")
    result = CliRunner().invoke(main, ["derive", str(spec)])
    assert result.exit_code == 2, result.output
    assert "s.yaml:4:19: error: the exponent of '**' is sqrt(2), not a rational number" \
        in result.output
    assert "x ** 1.4142135623730951" in result.output


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_row_softmax_weighting_a_number_keeps_its_product_defined():
    """P = softmax(q @ K.T, axis=1) of one query is a row: (c + v)ᵀ p → c + pᵀ v built the
    product from p's shape alone and printed (V Gᵀ + (1/10) log(Pᵀ)) Pᵀ, M×1 times M×1, in
    ∂L/∂q's closed form (verify exit 3: review of this stop's change)."""
    spec = REGRESSIONS / "softmax_row_weighting_one.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "P (V Gᵀ + (1/10) log(Pᵀ))" in " ".join(out.split()), out
    assert "log(Pᵀ)) Pᵀ" not in out, out
    verified = _run("verify", str(spec))
    assert "FAIL" not in verified, verified


@pytest.mark.parametrize("exponent", ["(-8) ** (1 / 3)", "(-1) ** 0.5"])
def test_an_exponent_that_is_no_real_number_is_refused(tmp_path, exponent):
    """x ** ((-1) ** 0.5): the irrational exponent's hint took float() of a complex (exit 3)."""
    from click.testing import CliRunner
    from einderive.cli import main
    spec = tmp_path / "s.yaml"
    spec.write_text("dims: {N: 3}\ninputs: {x: {shape: [N], positive: true}}\n"
                    f"forward:\n  - L = sum(x ** ({exponent}))\nloss: L\n")
    result = CliRunner().invoke(main, ["derive", str(spec)])
    assert result.exit_code == 2, result.output
    assert "error: the exponent of '**' is not a real number" in result.output
