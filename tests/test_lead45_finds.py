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


@pytest.mark.parametrize("name, lines", [
    ("stack_node_merged_every_second",
     ["grad(A)  = take(reshape(G ⊙ (1 − tanh(Z)^∘2), [N, 2, M]), 0, axis=1)",
      "grad(Bm) = 2 take(reshape(G ⊙ (1 − tanh(Z)^∘2), [N, 2, M]), 1, axis=1)"]),
    ("stack_node_flattened",
     ["grad(A)  = take(reshape(g ⊙ (1 − tanh(z)^∘2), [2, N, M]), 0, axis=0)",
      "grad(Bm) = 2 take(reshape(g ⊙ (1 − tanh(z)^∘2), [2, N, M]), 1, axis=0)"]),
    ("stack_merged_every_pth",
     ["grad(Bm) = 2 take(reshape(G, [N, P, M]), 1, axis=1) ⊙ (1 − tanh(2 Bm)^∘2)"]),
])
def test_a_stacked_piece_at_a_position_digit_is_a_take(name, lines):
    """A stacked piece merged by a reshape and read every P-th row (G_{i·2 + 1, j}), or
    flattened with its rows (g_{1·N·M + i·M + j}), had no matrix form: it is the take of its
    position from the reshape to the digits' axes (fx2's leftover).  The test reader reads a
    number where a dim stands (reshape(…, [N, 2, M]), m mod 2)."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    for line in lines:
        assert line in out, out
    assert "no matrix form" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []


@pytest.mark.parametrize("name, lines", [
    ("head_scale_rank4", ["grad(X) = 2 X ⊙ g", "grad(g) = sum(X ⊙ X, axis=(0, 2, 3), keepdims=True)"]),
    ("head_scale_tanh_rank4", ["grad(X) = 2 g ⊙ tanh(X ⊙ g) ⊙ (1 − tanh(X ⊙ g)^∘2)"]),
])
def test_a_tensor_with_literal_ones_between_axes_broadcasts_as_declared(name, lines):
    """g: [1, H, 1, 1] beside X: [B, H, S, D] (a per-head or per-channel scale): the reading
    dropped g's literal-1 axes (reshape(g, [H, 1])) and put them back for the broadcast,
    then took that for NumPy's axes and printed one matrix per (b, s) element, 2 X_bs ⊙
    reshape(g, [H, 1]) (nu50 find C).  A drop undone is the tensor as declared."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    for line in lines:
        assert line in out, out
    assert "_bs" not in out and "reshape(g" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []


@pytest.mark.parametrize("name, end", [
    ("stack_of_slices_merged_pad_axis", "0:S, axis=0)"),
    ("stack_column_slice_merged_pad_axis", "0:M, axis=1)"),
])
def test_a_pad_around_a_take_pads_the_whole_tensors_axis(name, end):
    """A take is of a whole tensor's axis (the stack's anonymous part read per element was
    batched, and its take counted that batch): pad(… take(…) …, 0:S, axis=1) was printed
    for a two-axis Y, whose code padded axis 0 (review rv6, F4)."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    grad = out[out.index("  grad(Y) = "):out.index("  grad(G) = ")]
    assert grad.rstrip().endswith(end), grad
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []


def test_a_multiplied_digit_that_is_a_difference_is_in_parentheses():
    """reshape(X[:, 1:S + 1, :], [B, SD]) @ W printed W_{j − 1·D + k, k′}: read as j − D + k,
    off by (D − 1)·… (review rv6, P1; main too).  A digit that prints as a sum or difference
    and is multiplied by the sizes after it is in parentheses: W_{(j − 1)·D + k, k′}."""
    spec = REGRESSIONS / "offset_slice_merged_index_parens.yaml"
    out = _run("derive", str(spec))
    assert "W_{(j − 1)·D + k, k′}" in out, out
    assert "j − 1·D" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []


def test_an_einsum_over_a_tensors_other_axes_keeps_its_literal_ones():
    """(g * X) @ W with g: [1, H, 1, 1]: grad(g) printed einsum('…->j', …), an H column for
    the [1, H, 1, 1] tensor (review rv6, F3; verify's shape check exits 1 on it).  The einsum
    is reshaped to the tensor's axes."""
    spec = REGRESSIONS / "head_scale_before_matmul_rank4.yaml"
    out = _run("derive", str(spec))
    assert "W), [1, H, 1, 1])" in out, out
    assert verify(derive_file(str(spec))).ok
    assert text_failures(spec.read_text(), expand=True) == []
