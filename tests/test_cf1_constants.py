"""cf1 (stop 45): constants computed as the user's floats (and ints) compute them — the
leftovers of cr2 (rv5 F1, F2, F4, F5, F7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_codegen import _function, load
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file
from einderive.cli import main
from einderive.api import torch_module
from einderive.render.pymodule import numpy_module

REGRESSIONS = Path(__file__).parent / "regressions"
SRC = Path(__file__).parent.parent / "src" / "einderive"


def _spec(tmp_path: Path, *lines: str, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n" +
                    "".join(f"  - \"{line}\"\n" for line in lines) + "loss: L\n")
    return path


def refused_past_floats(tmp_path: Path, line: str, col: int) -> None:
    """``derive`` and ``verify`` of the one-line spec ``line`` exit 2 at column ``col`` of its
    line, saying a float cannot hold the number, with the largest float in the hint."""
    spec = _spec(tmp_path, line)
    for command in ("derive", "verify"):
        r = CliRunner().invoke(main, [command, str(spec)])
        assert r.exit_code == 2, r.output
        assert f"s.yaml:4:{col}: error: " in r.output and "float" in r.output, r.output
        assert "hint: " in r.output and "1.7976931348623157e308" in r.output, r.output


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_whole_literals_past_2_53_are_pythons_ints_in_the_code(tmp_path):
    """x * (9007199254740993 - 9007199254740992) printed grad(x) = 𝟏 (Python's ints: 1) but
    the generated code wrote 9007199254740992.0 - 9007199254740992.0 (0): verify exited 1
    (rv5 F1); the test reader read every literal as a float (F2).  The code now computes
    the arithmetic as Python does (an int arithmetic of numbers alone is folded before code
    is written), and the reader reads a whole literal as an int."""
    spec = REGRESSIONS / "whole_literals_past_2_53.yaml"
    out = _run("derive", str(spec))
    for line in ("grad(x) = 2 u + w", "grad(y) = 𝟏", "grad(z) = x", "u   = x", "v   = y"):
        assert f"  {line}\n" in out, (line, out)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)
    x, y, z = (np.array([0.5, -1.25, 2.0]) + k for k in range(3))
    loss = np.sum(x * x) + np.sum(y) + np.sum(z * x)
    mod = load(tmp_path, numpy_module(derive_file(str(spec))))
    assert np.isclose(mod.forward(x=x, y=y, z=z), loss)
    grads = mod.gradients(x=x, y=y, z=z)
    assert np.allclose(grads["x"], 2 * x + z) and np.allclose(grads["y"], 1.0)
    fn = _function(load(tmp_path, torch_module(derive_file(str(spec)))))
    args = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, y, z)]
    out = fn.apply(*args)
    assert out.item() == pytest.approx(loss, rel=1e-12)
    out.backward()
    assert np.allclose(args[0].grad.numpy(), 2 * x + z)
    for line in ("L = sum(x * (9007199254740993 - 9007199254740992))",
                 "L = sum(x * (100000000000000000001 - 100000000000000000000))"):
        one = _spec(tmp_path, line, name="one")
        assert "  grad(x) = 𝟏\n" in _run("derive", str(one))
        _run("verify", str(one))
        code = _run("derive", "-f", "numpy", str(one))
        assert "e+" not in code.split("def forward")[1].split("#")[0], code


def test_a_power_of_a_folded_float_prints_the_floats_result(tmp_path):
    """x * (0.1 + 0.2 - 0.3) ** -1 printed (1e32/5551115123125783) and LaTeX
    \\frac{10^{32}}{5551115123125783}, the exact reciprocal of the folded float (rv5 F4): an
    operation of a number the floats folded is the float the user's Python computes,
    1.8014398509481984e16, printed as a folded float prints (as cr2's 5.551115123125783)."""
    spec = _spec(tmp_path, "L = sum(x * (0.1 + 0.2 - 0.3) ** -1)")
    out = _run("derive", str(spec))
    assert "  grad(x) = 1.8014398509481984e16 𝟏\n" in out, out
    assert "5551115123125783" not in out, out
    latex = _run("derive", "--latex", str(spec))
    assert r"1.8014398509481984 \times 10^{16}" in latex and "5551115123125783" not in latex, latex
    html = _run("derive", "-f", "html", str(spec))
    assert "5551115123125783" not in html and "1.8014398509481984" in html, html
    code = _run("derive", "-f", "numpy", str(spec))
    assert "d_x = 1.8014398509481984e+16 * np.ones((N,))" in code, code
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)
    # an operation on a number the user wrote stays exact: 0.3 ** -1 is 10/3
    kept = _spec(tmp_path, "L = sum(x * 0.3 ** -1)", name="kept")
    assert "  grad(x) = (10/3) 𝟏\n" in _run("derive", str(kept))


@pytest.mark.parametrize("line, col", [
    ("L = sum(x * (1e308 * 10 / 1e308))", 19),
    ("L = sum(x * (1e308 + 1e308 - 1e308))", 19),
    ("L = sum(x * (-1e308 * 10 / 1e308))", 19),
    ("L = sum(x * (10.0 ** 400))", 19),
    ("L = sum(x * 10 ** 400)", 18),
], ids=["product", "sum", "negative", "float-power", "int-meets-a-tensor"])
def test_a_constant_past_a_floats_range_is_an_error_at_its_line(tmp_path, line, col):
    """x * (1e308 * 10 / 1e308) printed 10 (exact) where the user's floats compute inf, and
    verify said 'loss not finite' with a hint about positive inputs (rv5 F5); 10.0 ** 400
    and x * 10 ** 400 exited 3.  A constant the user's Python cannot hold in a float is a
    mistake: exit 2 at the operation that overflows, with a hint."""
    refused_past_floats(tmp_path, line, col)
    # where Python's ints or floats stay in range, no error
    for ok in ("L = sum(x * (1e308 / 10 * 10))", "L = sum(x * (10 ** 400 - 10 ** 400 + 1))"):
        _run("verify", str(_spec(tmp_path, ok, name="ok")))


def test_a_renderer_reads_the_decimals_flag_not_the_spec_tree():
    """render/sheet.py asked ops.writes_decimals of the spec's expression tree (rv5 F7): the
    engine carries the flag on the tensor (Tensor.decimals), the renderer reads it."""
    for path in (SRC / "render").glob("*.py"):
        assert "writes_decimals" not in path.read_text(), path
    d = derive_file(str(REGRESSIONS / "named_constant_as_floats.yaml"))
    flags = {t.name: t.decimals for t in d.graph.tensors if not t.is_input}
    assert flags["c"] and flags["d"] and not flags["e"], flags


def test_a_whole_number_of_17_digits_past_2_53_prints_as_its_float():
    """2⁵⁴ (the float 1/(0.1 + 0.2 − 0.3)) printed all 17 digits, 18014398509481984, and a
    fraction with such a part its parts ((1e16/14142135623730951) for 1 / 1.4142135623730951):
    17 significant digits are as many as a float's shortest digits ever have, so the float's
    digits print (1.8014398509481984e16, 0.7071067811865475); 2⁵³ + 1 (16 digits) keeps its."""
    from einderive.render.styles import scientific
    assert scientific(2 ** 54) == "1.8014398509481984e16"
    assert scientific(9_007_199_254_740_993) is None
    spec = Path(__file__).parent / "models" / "more13" / "tobit_censored_nll.yaml"
    out = _run("derive", str(spec))
    assert "cens_i = −log((1/2) erf(−(0.7071067811865475) mu_i / sig) + 1/2)" in out, out
    assert "14142135623730951" not in out, out
