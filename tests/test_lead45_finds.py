"""Finds of stop 45."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, verify

REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.parametrize("name, line", [
    # reshape(X[:, 0:S, :], [B, SD]) @ W: had no matrix form
    ("slice_then_merge_matmul", "grad(X) = pad(reshape(∂L/∂Z Wᵀ, [B, S, D]), 0:S, axis=1)"),
    # reshape(X[:, :, 0:E], [B, TE]) @ W: the slice on the last digit
    ("slice_last_axis_then_merge", "grad(X) = pad(reshape(∂L/∂Z Wᵀ, [B, T, E]), 0:E, axis=2)"),
    # Y = reshape(X, [B, T, D]); Z = reshape(Y[:, 0:S, :], [B, SD]) @ W: was
    # reshape(∂L/∂Z reshape(pad(reshape(W, [S, D, D]), 0:S, axis=0), [TD, D])ᵀ, [B, T, D])
    ("split_slice_merge", "∂L/∂Y     = pad(reshape(∂L/∂Z Wᵀ, [B, S, D]), 0:S, axis=1)"),
])
def test_a_result_read_at_a_flat_index_of_its_digits_is_that_reading_reshaped(name, line):
    """∂L/∂X_ijk = 𝟙[0 ≤ j < S] Σ_k′ W_{j·D + k, k′} ∂L/∂Z_ik′ reads X's indices j, k only as
    the flat index j·D + k: the form read at that index, m over SD, is ∂L/∂Z Wᵀ; reshaped to
    [B, S, D] and zero-padded over the rows the slice left out, it is ∂L/∂X."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    assert line in out, out
    assert "no matrix form" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []
