"""Issue 12's einsum leftovers, session 32: forms a textbook writes, each pinned as printed.

- a tensor of the batch axes alone is a number in each element (t_b of t: [B]), read that
  way only where nothing else reads the term and it is no true contraction:
  transpose_axes' ``∂L/∂Y_a = ∂L/∂Z_a·W`` and einsum_diag_trace's ``∂L/∂X_b = 2 t_b·𝐈``
  (were einsum); the bilinear layer's outer product of three vectors and its contraction
  of a tensor of three axes with vectors stay einsum (test_no_einsum pins them);
- an element of an anonymous transpose of a named matrix is that matrix's column:
  moe_soft_router_rank3's ``∂L/∂H_e = ∂L/∂O ⊙ P_e`` (of reshape(P.T, [E, B, 1]));
- a tensor read at 0 on its literal-1 axes and whole on the others is the reshape that
  drops them: gated_tanh_wavenet's 1×1 convolution ``Rz = reshape(R, [C, C]) slice(Z, …)``;
- a scalar of totals of rank-3 tensors is ``sum`` of each one's whole form
  (where_rank3_broadcast's forward L), and a closed form summing a tensor of three or more
  axes over some of them NumPy's ``sum(…, axis=…)`` of its whole form (rel_pos_bias_heads'
  ∂L/∂P, alibi_heads_rank3's ∂L/∂m with keepdims).

Every spec here passes ``einderive verify`` (every printed form, closed ones included).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_einsum_leftovers3 import MODELS, _expanded

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _code(run, name: str, fmt: str = "numpy") -> str:
    out = run("derive", str(MODELS / f"{name}.yaml"), "-f", fmt)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_number_in_each_element_times_a_matrix(run):
    text = _expanded(run, "transpose_axes")
    assert "  ∂L/∂Y_a   = ∂L/∂Z_a·W\n            = 2 Z_a·W\n" in text, text
    assert "  ∂L/∂X_a   = 2 Z_a·Wᵀ\n" in text, text
    assert "einsum" not in text, text
    # the note says what the subscript picks: a number, not a column
    assert "∂L/∂Z_a is the number ∂L/∂Z[a]." in " ".join(text.split()), text
    # the code: an array of 1×1 matrices, broadcast against the matrix (NumPy and PyTorch)
    assert "d_Y = d_Z[..., None, None] * W" in _code(run, "transpose_axes")
    assert "d_Y = d_Z[..., None, None] * W" in _code(run, "transpose_axes", "torch")


def test_a_number_in_each_element_times_the_identity(run):
    text = _expanded(run, "more/einsum_diag_trace")
    assert "  ∂L/∂X_b    = 2 t_b·𝐈\n" in text and "  grad(X)_b = 2 t_b·𝐈\n" in text, text
    flat = " ".join(text.split())
    assert "t_b is the number t[b]." in flat, text
    # the batch note's example is the spec's tensor of three axes, not the vector t
    assert "Xᵀ swaps the last two axes of X" in flat and "tᵀ swaps" not in flat, text
    assert "written with einsum" not in text, text
    assert "d_X = 2 * (t[..., None, None] * np.eye(N))" in _code(run, "more/einsum_diag_trace")


def test_the_bilinear_layer_keeps_its_contractions(run):
    """A number per element is read last, and never as a sum over the batch of numbers
    times elements or a number times an outer product of vectors (true contractions)."""
    out = run("derive", str(SPECS / "bilinear_layer.yaml"), "--expand")
    assert out.exit_code == 0, out.output
    assert "∂L/∂W_k" not in out.stdout and "Σ_k ∂L/∂y_k" not in out.stdout, out.stdout
    assert "  ∂L/∂W     = einsum('i,j,k->ijk', ∂L/∂y, x, z)\n" in out.stdout, out.stdout


def test_an_element_of_an_anonymous_transpose_is_the_matrixs_column(run):
    text = _expanded(run, "more12/moe_soft_router_rank3")
    assert "  ∂L/∂H_e    = ∂L/∂O ⊙ P_e\n             = (2/(B F)) P_e ⊙ (O − Y)\n" in text, text
    assert "  ∂L/∂We_e   = (2/(B F)) Xᵀ (P_e ⊙ (O − Y))\n" in text, text
    assert "einsum" not in text and "_O_1" not in text, text
    assert "P_e is the column P[:, e]." in " ".join(text.split()), text
    assert "d_H = d_O * np.moveaxis(P, 1, 0)[..., None]" in _code(
        run, "more12/moe_soft_router_rank3")


def test_a_kernel_of_literal_one_axes_is_its_reshape(run):
    text = _expanded(run, "more8/gated_tanh_wavenet")
    for want in ["  Rz     = reshape(R, [C, C]) slice(Z, :, :, 0:To)\n",
                 "  ∂L/∂Z       = reshape(R, [C, C])ᵀ ∂L/∂Rz\n"]:
        assert want in text, text
    assert "einsum" not in text, text
    assert "d_Z = np.reshape(R, (C, C)).swapaxes(-1, -2) @ d_Rz" in _code(
        run, "more8/gated_tanh_wavenet")


def test_totals_of_rank3_tensors_are_sums_of_their_whole_forms(run):
    text = _expanded(run, "more/where_rank3_broadcast")
    assert "  L = sum(where(X > bᵀ, m, X)^∘2) + sum(where(m > 0, X ⊙ bᵀ, −X))\n" in text, text
    assert "einsum" not in text, text


@pytest.mark.parametrize("name,want", [
    ("more8/rel_pos_bias_heads",
     "              = 2 sum(softmax(S) ⊙ (O Vᵀ − rowsum(O ⊙ O)), axis=0) + (1/5) P\n"),
    ("more12/alibi_heads_rank3",
     "             = −2 sum(Dist ⊙ softmax(S) ⊙ (O Vᵀ − rowsum(O ⊙ O)), axis=(1, 2),\n"
     "               keepdims=True)\n"),
])
def test_a_closed_form_summed_over_axes_is_numpys_sum(run, name, want):
    text = _expanded(run, name)
    assert want in text, text
    assert "einsum" not in text, text


NUMBER_DAMAGE = [  # a number per batch element (t_b of t: [B]) read back, and damaged
    ("∂L/∂X_b = 2 t_b·𝐈", "∂L/∂X_b = 3 t_b·𝐈"),
    ("∂L/∂X_b = 2 t_b·𝐈", "∂L/∂X_b = 2 t_b·𝐈 + 𝐈"),
]


@pytest.mark.parametrize("good,bad", NUMBER_DAMAGE, ids=[b for _, b in NUMBER_DAMAGE])
def test_the_reader_reads_a_number_per_element_and_catches_damage(good, bad):
    from einderive.api import derive_file
    from test_printed_forms import _reads_good_rejects_bad
    d = derive_file(str(MODELS / "more" / "einsum_diag_trace.yaml"))
    _reads_good_rejects_bad(d, good, bad)


def test_a_true_contractions_note_says_why(run):
    """The einsum left is a true higher-order contraction, and its note says which."""
    out = run("derive", str(SPECS / "bilinear_layer.yaml"))
    flat = " ".join(out.stdout.split())
    assert "∂L/∂W is written with einsum: it is an outer product of three vectors, a tensor " \
        "of three axes." in flat, out.stdout
    assert "∂L/∂x is written with einsum: it sums a tensor of three axes against a vector on " \
        "each of two of its axes at once, which no single matrix product says." in flat
    kron = " ".join(run("derive", str(MODELS / "more8/cb_kron_einsum.yaml")).stdout.split())
    for name in ("A", "Bk"):
        assert f"∂L/∂{name} is written with einsum: it sums a tensor of four axes against one " \
            "matrix over two of its axes at once, which no single matrix product says." in kron
    # an einsum of no such contraction keeps the plain note (talking heads' mixing of a
    # tensor of three axes; gatv2's rank-3 broadcast, which had it, reads as NumPy's sums of
    # reshapes since session 36)
    heads = " ".join(run("derive", str(MODELS / "more13/talking_heads_rank3.yaml")).stdout.split())
    assert "∂L/∂S is written with einsum where no matrix rule applies." in heads
