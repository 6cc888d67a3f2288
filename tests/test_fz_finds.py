"""Finds of the adversarial pass over this session's readings (hand-made specs around
length-1 slices, embedding lookups, merged axes), each held by a test that failed before its
fix: what the user sees printed, and `verify` on the spec."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"


def test_the_last_row_slice_derives_and_prints_its_position_apart():
    """``X[:, T1:T, :]`` is one element of the axis at T1, a position a dim states: the
    reader reads no take at a symbolic position (was an internal error), and the index form
    separates it from the index, δ_{T1, j} (was δ_T1j, read as three indices); its cost
    counts the δ's index only."""
    spec = str(REGRESSIONS / "last_row_slice.yaml")
    r = CliRunner().invoke(main, ["derive", "--expand", spec])
    assert r.exit_code == 0, r.output
    assert "δ_{T1, j}" in r.output and "δ_T1j" not in r.output
    assert "∂L/∂w     = colsum(x0 ⊙ x1)" in r.output
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output
    # the cost of its index form counts the δ's index, not the dim (was KeyError: None)
    r = CliRunner().invoke(main, ["cost", spec])
    assert r.exit_code == 0, r.output


def test_a_batch_of_ones_sum_of_a_total_times_ones_is_the_column():
    """Σ_b (sum(∂L/∂h3_b ⊙ x0_b)·𝟏) of a batch of one (a random spec of
    test_no_internal_error): its code is the one element's column, not the column's entries
    added up with the batch (was M times too large: verify's matrix and closed columns
    failed, with no error)."""
    spec = str(REGRESSIONS / "batch_of_one_total_times_ones.yaml")
    r = CliRunner().invoke(main, ["derive", spec])
    assert "grad(x1) = Σ_b (" in r.output, r.output
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["derive", "-f", "numpy", spec])
    assert "np.ones((M, 1))), axis=1)" in r.output, r.output
