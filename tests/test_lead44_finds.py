"""Finds of stop 44: forms a new user met (last stop's hunt nu48 and this stop's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_codegen import load
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, verify
from einderive.render.pymodule import numpy_module

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_residual_keeps_the_sides_its_line_writes():
    """‖T − U Vᵀ‖² printed grad(U) = 2 (U Vᵀ − T) V beside grad(V) = −2 (T − U Vᵀ)ᵀ U, one
    residual two ways; the Cookbook's (86) with a symmetric W printed 2 Aᵀ W (A s − x)
    (nu48 find 06).  A difference a forward line writes keeps its sides, the minus in
    front, as the Cookbook writes −2 Aᵀ W (x − A s)."""
    for name, lines in (("residual_keeps_its_written_sides",
                         ["grad(U) = −2 (T − U Vᵀ) V", "grad(V) = −2 (T − U Vᵀ)ᵀ U"]),
                        ("cookbook86_symmetric_weight",
                         ["grad(x) = 2 W (x − A s)", "grad(A) = −2 W (x − A s) sᵀ",
                          "grad(s) = −2 Aᵀ W (x − A s)"])):
        spec = REGRESSIONS / f"{name}.yaml"
        out = _run("derive", str(spec))
        for line in lines:
            assert line in out, out
        assert "A s − x" not in out and "U Vᵀ − T" not in out, out
        assert verify(derive_file(str(spec))).ok
        assert not text_failures(spec.read_text(), expand=True)


def test_a_power_built_with_a_whole_number_exponent_compiles():
    """verify of tests/models/more7/planar_flow.yaml exited 3 ('int' object has no attribute
    'is_Integer'): a matrix-form power built with a Python int exponent met the generated
    code's test of whether it may be infinite.  Every exponent is a SymPy rational."""
    spec = Path(__file__).parent / "models" / "more7" / "planar_flow.yaml"
    assert verify(derive_file(str(spec))).ok


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_identity_is_a_strong_zero_beside_a_function(tmp_path):
    """trace(exp(X)) prints exp(X) ⊙ 𝐈, and the generated code took np.exp(X) * np.eye(N):
    nan off the diagonal where exp overflows (X_01 = 800), though the trace reads only the
    diagonal (review rv5, F8).  𝐈 beside a function is the Iverson bracket 𝟙[i = j]'s strong
    zero, as 𝟙[…] is."""
    spec = REGRESSIONS / "trace_of_an_elementwise_function.yaml"
    X = np.array([[0.0, 800.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    mod = load(tmp_path, numpy_module(derive_file(str(spec))))
    got = mod.gradients(X=X)["X"]
    assert np.isfinite(got).all(), got
    assert np.allclose(got, np.diag(np.exp(np.diag(X)))), got


def test_a_reshape_digit_read_over_part_of_its_size_is_no_reshape():
    """A concatenation merged by a reshape (nu49 p5_00): the first piece's closed form
    printed (1 − tanh(Z)^∘2) t1_kᵀ where t1 = reshape(W, [K, N, N]) of a W with K·NM·N
    entries (W_{m·NM + l, j} with l over N only); verify exited 3."""
    spec = REGRESSIONS / "concat_merged_by_reshape_closed.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "reshape(W, [K, N, N])" not in out, out
    assert "= slice(reshape((1 − tanh(Z)^∘2) Wᵀ, [B, K, NM]), :, :, 0:N)" in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)


@pytest.mark.parametrize("divisor", ["-(1e16 + 1 - 1e16)", "(1e16 + 1 - 1e16) * 2"])
def test_a_divisor_of_numbers_the_floats_round_to_zero_says_so(tmp_path, divisor):
    """x / -(1e16 + 1 - 1e16) hinted 'the divisor is 0 whatever the sizes of the dims',
    though it reads no dim (review rv5 F3): a divisor of numbers alone is 0.0 as the floats
    compute it."""
    from click.testing import CliRunner
    from einderive.cli import main
    spec = tmp_path / "d.yaml"
    spec.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n"
                    f'  - "L = sum(x / {divisor})"\nloss: L\n')
    r = CliRunner().invoke(main, ["derive", str(spec)])
    assert r.exit_code == 2 and "division by zero" in r.output, r.output
    assert "as Python's floats compute it" in r.output and "sizes of the dims" not in r.output
