"""Finds of the fz3 pass (random specs of the thorough profile, hand-made adversarial
specs): each held by a test that failed before its fix, on what the user sees printed, and
`verify` on the spec."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"


def _derive(spec: Path, *flags: str) -> str:
    r = CliRunner().invoke(main, ["derive", *flags, str(spec)])
    assert r.exit_code == 0, r.output
    return r.output


def _verifies(spec: Path) -> None:
    r = CliRunner().invoke(main, ["verify", str(spec)])
    assert r.exit_code == 0, r.output


def test_reductions_over_an_axis_of_one_are_their_argument():
    """logsumexp, max, min and mean along an axis of literal size one are the argument,
    softmax there is 1 and log_softmax 0: the lowering says so (was logsumexp(x, axis=1),
    softmax(x, axis=1) printed, and ∂L/∂s ⊙ s ⊙ (1 − s) for a term that is 0)."""
    spec = REGRESSIONS / "axis_of_one_reductions.yaml"
    out = _derive(spec).split("\nForward\n", 1)[1]  # the description names them
    for line in ("a   = x", "s   = 𝟏", "m   = x", "u   = x", "q   = 0", "k   = x"):
        assert f"\n  {line}\n" in out, out
    assert "softmax" not in out and "logsumexp" not in out and "max(" not in out, out
    assert "grad(x) = 2 a + 3 m ⊙ m + " in out, out
    _verifies(spec)


def test_a_logsumexp_over_a_kept_axis_of_one_prints_no_softmax_of_one_entry():
    """The thorough profile's seed-35 spec: logsumexp over the [1] a mean leaves is the
    mean, and ∂L/∂h2 carries no softmax of one entry beside a 𝟏 of N (was
    (1/N) ∂L/∂h3 ⊙ softmax(((1/N) sum(h2))·𝟏, axis=0) ⊙ 𝟏)."""
    spec = REGRESSIONS / "logsumexp_over_an_axis_of_one.yaml"
    out = _derive(spec).split("\nForward\n", 1)[1]
    assert "h3   = (1/N) Σ_j h2_j" in out, out
    assert "softmax" not in out and "logsumexp" not in out, out
    _verifies(spec)
