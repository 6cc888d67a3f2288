"""verify beside a very large loss (session 39, vf1): where the standard step's rounding is past
the cap, the differences are taken again at a grown step (a Richardson pair), so a correct
gradient passes and a wrong one by 1 % still fails; an ordinary loss keeps the standard step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from einderive import verify as V
from einderive.cli import main
from einderive.record import replace

HERE = Path(__file__).parent
LARGE = str(HERE / "regressions" / "large_loss_finite_differences.yaml")
DIMS = ["--dims", "M=5,N=8,K=12"]


def _verify(*args: str) -> str:
    r = CliRunner().invoke(main, ["verify", *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_a_correct_gradient_beside_a_loss_of_ten_million_passes():
    """At M=5, N=8, K=12 the loss is about 10⁷; the differences at h = 10⁻⁶ round to ~10⁻²,
    past the cap, and x0's correct gradient (~0.1) failed at 1.3e-3.  At the grown step its
    differences agree with it to 1.7e-7."""
    out = _verify(LARGE, *DIMS)
    rows = {line.split()[0]: line.split("│") for line in out.splitlines() if line[:2] == "x0"
            or line[:2] == "x1"}
    assert rows["x0"][2].strip() == rows["x0"][3].strip() == "pass", out
    assert float(rows["x0"][5]) < 1e-6 and float(rows["x1"][5]) < 1e-6, out  # 1.7e-7, 4.9e-7


@pytest.mark.parametrize("name", ["x0", "x1"])
def test_a_gradient_wrong_by_one_percent_beside_that_loss_fails(monkeypatch, name):
    """The printed gradient of x0 (or x1) times 1.01 in both forms: the check fails (before,
    x1's own differences were 4 % off its size, within the rounding allowance at its cap)."""
    load = V._load

    def wrong(plan: V.Plan) -> V._Module:
        module = load(plan)
        grads = {form: (lambda f: lambda **a: {**f(**a), name: f(**a)[name] * 1.01})(f)
                 for form, f in module.gradients.items()}
        return replace(module, gradients=grads)
    monkeypatch.setattr(V, "_load", wrong)
    r = CliRunner().invoke(main, ["verify", LARGE, *DIMS])
    assert r.exit_code == 1, r.output
    row = next(line for line in r.output.splitlines() if line.startswith(f"{name} "))
    assert "FAIL" in row, r.output
    others = [line for line in r.output.splitlines() if line[:2] in {"x0", "x1", "x2", "x3"}
              and not line.startswith(f"{name} ")]
    assert len(others) == 3 and not any("FAIL" in line for line in others), r.output


@pytest.mark.parametrize("big", [1e7, 1e8])
def test_the_directional_check_beside_a_large_loss(big):
    """An input past the element-wise size beside a loss of 10⁷ or 10⁸: the correct gradient
    passes (at 10⁸ it failed, 5.8e-3 off), 1 % and 0.1 % wrong ones fail (at 10⁷ a 0.1 %
    error passed)."""
    def forward(x):
        return big * 1.2345678 + float(np.sum(np.tanh(x)))
    x = np.random.default_rng(0).normal(size=(9, 9))
    grad = 1 - np.tanh(x) ** 2
    for factor, ok in ((1.0, True), (1.01, False), (1.001, False)):
        printed = {"x": {"index": grad * factor, "matrix": grad * factor}}
        row = V._check_along(forward, {"x": x}, ["x"], printed, 1e-6, np.random.default_rng(1))
        assert row["x"].ok is ok, (factor, row["x"])


def test_an_ordinary_loss_keeps_the_standard_step(monkeypatch):
    """The grown step is taken only past the cap: specs/mlp.yaml never reaches it, and its
    report is the one of the standard step alone."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("grown step taken")
    spec = str(HERE.parent / "specs" / "mlp.yaml")
    plain = _verify(spec)
    monkeypatch.setattr(V, "_grown", refuse)
    again = _verify(spec)
    assert again == plain


def test_each_element_s_difference_at_the_standard_step_without_a_tolerance():
    """Without ``tol`` (or below the cap) the element-wise differences are those at
    h = STEP max(1, |x|): (f(x + h) - f(x - h)) / 2h exactly."""
    x = np.array([0.3, -2.0, 5.0])

    def forward(x):
        return float(np.sum(np.sin(x)))
    got, _ = V._finite_difference(forward, {"x": x}, "x", 1e-6)
    for i in range(3):
        h = V.STEP * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        assert got[i] == (forward(up) - forward(down)) / (2 * h)
