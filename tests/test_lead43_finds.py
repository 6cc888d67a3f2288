"""Finds of stop 43: forms a new user met (last stop's hunts nu45, nu46, rv3 and this
stop's)."""

from __future__ import annotations

from pathlib import Path

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, verify

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_window_to_the_end_of_its_axis_ends_at_the_dim():
    """Rotate-half of D = 2 H features (nu45): the line writes Q[:, H:D], and the second
    piece's adjoint printed slice(∂L/∂R, :, H:2 H) beside it, pad(…, H:2 H) in the forward
    form — one bound written two ways in one block.  Every window that runs to the end of
    its axis ends at the axis' dim; the second piece's index form reads Q at k, not at
    k − H + H."""
    spec = REGRESSIONS / "rotate_half_ends_at_its_dim.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "2 H)" not in out and "2 H," not in out, out
    assert "slice(∂L/∂R, :, H:D)" in out and "H:D, axis=1)" in out, out
    assert "k − H + H" not in out and "Q_{i, k} + Q_{i, k − H}" in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)


def test_one_position_keeps_its_width_one_bound():
    """A one-column piece at the end of a joined axis keeps lo + 1 (D:D + 1, one column),
    whatever the spec calls D + 1."""
    out = _run("derive", str(REGRESSIONS / "concat_column_at_dim_offset.yaml"))
    assert "pad(t, D:D + 1, axis=1)" in out, out


def test_a_trace_inside_a_function_reads_as_a_trace_in_its_gradient():
    """trace(A @ X) ** 2 printed ∂L/∂X = 2 sum(A ⊙ Xᵀ)·Aᵀ; log(trace(Yᵀ A Y)) printed
    1/sum(Y ⊙ (A Y)) (nu48 find 03).  What a line that writes a trace contributes to an
    adjoint reads its traces as traces, as the forward form does."""
    spec = REGRESSIONS / "trace_inside_a_function.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "grad(X) = 2 tr(A X)·Aᵀ" in out, out
    assert "(1/tr(A Y Yᵀ))·(A + Aᵀ) Y" in out, out
    assert "sum(" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)


def test_a_transposed_residual_takes_the_minus_as_its_partner_does():
    """‖T − U Vᵀ‖²: ∂L/∂U printed 2 (U Vᵀ − T) V and ∂L/∂V −2 (T − U Vᵀ)ᵀ U (nu48 find 06);
    a minus in front of a form goes into a transposed difference of plain terms too."""
    spec = REGRESSIONS / "factorization_both_factors.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "grad(U) = 2 (U Vᵀ − T) V" in out and "grad(V) = 2 (U Vᵀ − T)ᵀ U" in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)
