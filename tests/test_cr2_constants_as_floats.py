"""cr2 (stop 44): an arithmetic of numbers means what the user's floats compute.

A spec's numbers are exact decimals in the derivation, but the user's NumPy computes
``(0.1 + 0.2 - 0.3) * 1e17`` in floats: 5.551115123125783, not 0, so the gradient of
``sum((0.1 + 0.2 - 0.3) * 1e17 * x)`` is 5.551115123125783 everywhere.  Exact arithmetic
printed 0 and verify exited 1.  One rule, where the graph builds each operation of numbers
(ops.as_computed): its exact value where the floats compute it to 9 significant digits
(0.1 + 0.2 stays 3/10, (1 - 0.9) * 10 stays 1, 1 - 0.9999 stays 1/10000), else the number
they compute."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_codegen import load
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file
from einderive.cli import main
from einderive.kinds import PseudoOp
from einderive.ops import FExpr, as_computed
from einderive.render.pymodule import numpy_module

REGRESSIONS = Path(__file__).parent / "regressions"


def _spec(tmp_path: Path, *lines: str, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n" +
                    "".join(f"  - {line}\n" for line in lines) + "loss: L\n")
    return path


def _grad(tmp_path: Path, spec: Path, x: np.ndarray) -> np.ndarray:
    out: np.ndarray = load(tmp_path, numpy_module(derive_file(str(spec)))).gradients(x=x)["x"]
    return out


X = np.array([0.5, -1.25, 2.0])


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("line, printed, constant", [
    # the floats and the exact value differ: the floats' number
    ("L = sum((0.1 + 0.2 - 0.3) * 1e17 * x)", "(5.551115123125783) 𝟏", (0.1 + 0.2 - 0.3) * 1e17),
    ("L = sum(x * (0.1 + 0.2 - 0.3) * 1e17)", "(5.551115123125783) 𝟏", (0.1 + 0.2 - 0.3) * 1e17),
    ("L = sum(x * (1e16 + 1 - 1e16))", "0", 1e16 + 1 - 1e16),
    # they agree to 9 digits: the exact value, as a reader writes it (1 - 0.9999 is
    # 9.999999999998899e-05 in floats, one rounding from 1/10000)
    ("L = sum(x * (1 - 0.9999))", "(0.0001) 𝟏", 1e-4),
    ("L = sum((1 - 0.9) * 10 * x)", "𝟏", 1.0),
    ("L = sum(0.1 * 3 * x)", "(3/10) 𝟏", 0.3),
    ("L = sum(x * 2 ** -1)", "(1/2) 𝟏", 0.5),
    ("L = sum(x / 10)", "(1/10) 𝟏", 0.1),
], ids=["cancelled", "cancelled-right", "absorbed", "agrees-rounded", "agrees-one",
        "agrees-three-tenths", "power", "division"])
def test_an_arithmetic_of_numbers_means_what_the_floats_compute(tmp_path, line, printed,
                                                               constant):
    spec = _spec(tmp_path, line)
    out = _run("derive", str(spec))
    assert f"  grad(x) = {printed}\n" in out, out
    _run("verify", str(spec))
    assert np.allclose(_grad(tmp_path, spec, X), constant * np.ones(3), rtol=1e-12, atol=0)
    assert not text_failures(spec.read_text(), expand=True)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_regression_specs(tmp_path):
    spec = REGRESSIONS / "constant_arithmetic_as_floats.yaml"
    out = _run("derive", str(spec))
    for line in ("y   = (5.551115123125783) x", "z   = y", "grad(w) = 0",
                 "grad(x) = (1.6653345369377348) 𝟏"):
        assert f"  {line}\n" in out, (line, out)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)
    named = REGRESSIONS / "named_constant_as_floats.yaml"
    out = _run("derive", str(named))
    for line in ("c = 5.551115123125783e-17", "d = 0.3", "e = 1/3",
                 "grad(x) = (1e17 c + d + e)·𝟏"):
        assert f"  {line}\n" in out, (line, out)
    code = _run("derive", "-f", "numpy", str(named))
    assert "    c = 5.551115123125783e-17  # c = 0.1 + 0.2 - 0.3\n" in code, code
    _run("verify", str(named))
    assert not text_failures(named.read_text(), expand=True)


def test_a_named_constant_prints_as_its_line_writes_it(tmp_path):
    """c = 0.3 printed c = 3/10 in every notation: a line of numbers that writes decimals
    prints its value as its decimal where that is exact; 1/4 stays as written, and a
    formula's coefficient stays a fraction ((3/10) x)."""
    spec = _spec(tmp_path, "c = 0.3", "h = 1 / 4", "g = 0.5 / 3", "L = sum(c * x + h * x + g * x)")
    out = _run("derive", str(spec))
    for line in ("c = 0.3", "h = 1/4", "g = 1/6"):
        assert f"  {line}\n" in out, (line, out)
    html = _run("derive", "-f", "html", str(spec))
    assert '<td class="rhs"><math displaystyle="true"><mrow><mn>0.3</mn></mrow></math>' in html
    assert "c = 0.3<br/>scalar" in _run("derive", "-f", "markdown", str(spec))
    latex = _run("derive", "--latex", "--only", "forward", str(spec))
    assert "c &= 0.3\n" in latex and r"h &= \frac{1}{4}" in latex, latex
    coefficient = _run("derive", str(_spec(tmp_path, "L = sum(0.3 * x)", name="k")))
    assert "  grad(x) = (3/10) 𝟏\n" in coefficient, coefficient


def test_a_divisor_the_floats_round_to_zero_is_a_division_by_zero(tmp_path):
    r = CliRunner().invoke(main, ["derive", str(_spec(tmp_path, "L = sum(x / (1e16 + 1 - 1e16))"))])
    assert r.exit_code == 2, r.output
    assert "division by zero" in r.output and "as Python's floats compute it" in r.output
    ok = _spec(tmp_path, "L = sum(x / (0.1 + 0.2 - 0.3))", name="ok")  # 2⁻⁵⁴ in floats, not 0
    _run("verify", str(ok))


def _num(v: str) -> FExpr:
    return FExpr(PseudoOp.NUM, (), (("value", Fraction(v)), ("text", v)), ())


def test_as_computed_keeps_what_agrees_and_the_floats_elsewhere():
    third = FExpr("/", (_num("1"), _num("3")), (), ())
    assert as_computed(third) is third
    sum_ = FExpr("+", (_num("0.1"), _num("0.2")), (), ())
    assert as_computed(sum_) is sum_  # 0.30000000000000004: one rounding away
    cancelled = as_computed(FExpr("-", (_num("0.3"), sum_), (), ()))  # −2⁻⁵⁴ in floats
    assert cancelled.op == "neg" and cancelled.args[0].param("text") == "5.551115123125783e-17"
    dim = FExpr("-", (FExpr(PseudoOp.DIM, (), (("name", "N"),), ()), _num("0.3")), (), ())
    assert as_computed(dim) is dim
