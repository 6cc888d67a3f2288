"""Defects a review of the merged change found, each held by a test that failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import derive_text
from einderive.api import verify

ROOT = Path(__file__).resolve().parent.parent

INJECTION = '''
    name: 'x""" + str(print("INJECTED")) + """'
    dims: {N: 3}
    inputs: {x: [N], w: [N]}
    forward: ["L = sum(w * gelu(x))"]
    loss: L
    wrt: [w]
    '''


def test_a_spec_name_cannot_end_the_generated_docstring(capfd):
    """The spec's name goes into the module's docstring: escaped, never run."""
    report = verify(derive_text(INJECTION))
    assert report.ok, report.error
    assert "INJECTED" not in capfd.readouterr().out


def test_a_helper_that_needs_math_imports_it():
    """gelu's Φ helper calls math.erf even when no emitted line does (a w-only gradient)."""
    from einderive.render.pymodule import numpy_module
    code = numpy_module(derive_text(INJECTION))
    assert "import math" in code and "math.erf" in code


def test_a_quotient_that_is_zero_divides_by_zero(run, tmp_path):
    """``0 / -2`` is 0: dividing by it is a located error, not ``zoo``."""
    spec = tmp_path / "z.yaml"
    spec.write_text(textwrap.dedent('''\
        dims: {N: 3}
        inputs: {x: [N]}
        forward: ["L = sum(x / (0 / -2))"]
        loss: L
        '''))
    result = run("derive", spec)
    assert result.exit_code == 2
    assert "z.yaml:3:" in result.stderr and "division by zero" in result.stderr


def test_a_dim_no_input_has_takes_its_size_from_the_spec():
    text = """
        dims: {N: 3, K: 5}
        inputs: {x: [N]}
        forward: ["L = sum(x * x) / K"]
        loss: L
        """
    from einderive.render.pymodule import numpy_module
    d = derive_text(text)
    assert "K = 5" in numpy_module(d)
    assert verify(d, {"K": 7}).ok


def test_a_tensor_named_like_a_symbol_of_the_notation_is_printed_in_bold():
    """A tensor Σ must not read as a sum (found by a new user: ``Σ_ii′ x_i′``)."""
    from conftest import forms
    d = derive_text("""
        dims: {N: 3}
        inputs: {x: [N], "Σ": [N, N]}
        forward: ["L = x @ Σ @ x"]
        loss: L
        """)
    index, matrix = forms(d, "x")
    assert "𝚺_ii′ x_i′" in index and "Σ" not in index
    assert matrix == "(𝚺 + 𝚺ᵀ) x"


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader is gone (``einderive … | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "einderive.cli", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [("derive", "specs/mlp.yaml"),
                                  ("derive", "specs/mlp.yaml", "--latex"),
                                  ("verify", "specs/mlp.yaml"),
                                  ("check", "specs/mlp.yaml")])
def test_a_closed_stdout_ends_quietly(args):
    """``| head`` closing the pipe is no bug: no traceback, no internal error, no exit 1
    (Rich's own handler said "failed"), but the shell's 128 + SIGPIPE."""
    result = _into_closed_pipe(*args)
    assert result.stderr == ""
    assert result.returncode == 141


def test_a_trace_and_a_diagonal_print_as_tr_and_diagonal(run):
    """``trace(A @ B)`` printed as ``sum(einsum('ii->i', C))`` and ``diagonal(inv(S))`` had no
    matrix form; both are read as the diagonal of a matrix (its total is the trace)."""
    out = run("derive", ROOT / "tests/regressions/trace_and_diagonal.yaml").output
    assert "  t     = tr(C)\n" in out
    assert "  d     = diagonal(S⁻¹) + diagonal(C)\n" in out
    assert "einsum" not in out and "no matrix form" not in out


def test_the_inverse_of_an_spd_matrix_is_symmetric(run):
    """S⁻ᵀ of an spd S is S⁻¹, (S⁻¹)⁻¹ is S, S⁻¹ S is 𝐈 and a node P = S⁻¹ is symmetric
    (Pᵀ is P), in every gradient; the forward lines keep the transpose they write (inv(S.T)
    is S⁻ᵀ there: the gradient in S's entries taken one by one is the one of that line),
    and the gradients read it as P."""
    out = run("derive", ROOT / "tests/regressions/spd_inverse.yaml").output
    matrix_forms = [line for line in out.splitlines() if "_i" not in line]
    assert "  y     = P x + S⁻ᵀ x + S x" in matrix_forms
    assert "  grad(S) = −P (∂L/∂P + x (∂L/∂y)ᵀ) P + ∂L/∂y xᵀ" in matrix_forms
    assert "  grad(x) = (S + 2 P) ∂L/∂y + 2 P x" in matrix_forms
    backward = matrix_forms[matrix_forms.index("Backward"):]
    assert not any("⁻ᵀ" in line or "Pᵀ" in line for line in backward)
    assert not any("(S⁻¹)⁻¹" in line for line in matrix_forms)
    assert "(S)⁻¹" not in out


def test_clip_names_its_bounds_in_the_usage_hint(run, tmp_path):
    """``clip(x, min=0, max=1)`` was answered with "usage: clip(a, b, c)", which names
    nothing; the hint says the bounds are lo and hi, by position."""
    spec = tmp_path / "c.yaml"
    spec.write_text(textwrap.dedent('''\
        dims: {N: 3}
        inputs: {x: [N]}
        forward: ["L = sum(clip(x, min=0, max=1))"]
        loss: L
        '''))
    result = run("derive", spec)
    assert result.exit_code == 2
    assert "hint: usage: clip(x, lo, hi)" in result.stderr


def test_columns_times_the_identity_are_one_diagonal_matrix(run):
    """``u ⊙ 𝐈 ⊙ v`` (two columns and 𝐈) printed as an elementwise product with 𝐈; it is
    diag(u ⊙ v), as ``v ⊙ 𝐈`` alone was already diag(v)."""
    out = run("derive", ROOT / "tests/regressions/diagonal_products.yaml").output
    grad = out[out.index("grad(X)"):]
    assert grad.startswith("grad(X) = diag(∂L/∂h ⊙ (2 diagonal(X) + exp(diagonal(X))")
    assert "𝐈" not in out and "einsum" not in out


@pytest.mark.parametrize("args", [("derive", "--hvp", "specs/mlp.yaml"),
                                  ("derive", "--tangent", "specs/mlp.yaml"),
                                  ("verify", "--hvp", "specs/mlp.yaml")])
def test_a_spec_after_an_optional_names_option_is_the_spec(run, args, monkeypatch):
    """``--hvp spec.yaml`` took the spec as --hvp's names and said "Missing argument 'SPEC'";
    a name ending in .yaml is the spec, and --hvp alone means every wrt input."""
    monkeypatch.chdir(ROOT)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.output == run(args[0], args[2], args[1]).output
