"""Finds of stop 44: forms a new user met (last stop's hunt nu48 and this stop's)."""

from __future__ import annotations

from pathlib import Path

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, verify

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
