"""Issue 12's index-only leftovers: adjoints that printed their index form alone now print a
NumPy/textbook matrix form, each proved by verify (finite differences against every printed
form, at the spec's sizes and at others) and by the generated code against torch autograd.

- a sum over the batch axis to a tensor of three axes (a relative-position bias P: [H, T, T]
  under S: [B, H, T, T]) is NumPy's sum(∂L/∂S, axis=0), not a colsum per (h, t) element
  that cannot add to the rest of the adjoint;
- a slice of length 1 whose axis a reshape dropped (x1 = reshape(X[:, 0:1, :], [B, D])) puts
  its adjoint back at its position: pad(reshape(∂L/∂x1, [B, 1, D]), 0:1, axis=1);
- slices of the channel axis (a gated convolution's value and gate) pad back the products
  they are read in, whole tensors of three axes;
- a factor beside a convolution with an axis of one (X, m: [B, 1, T]) is read whole, as NumPy
  broadcasts it: m ⊙ (∂L/∂Y ∗ (V ⊙ W)).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import derive_text, forms
from einderive.api import derive_file, render, verify
from einderive.render.terminal import plain

TESTS = Path(__file__).parent


def _derive(path: str):
    return derive_file(str(TESTS / path))


def _verified(d, sizes: dict[str, int] | None = None, seed: int = 1) -> None:
    report = verify(d, sizes=sizes, seed=seed)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def test_a_bias_summed_over_the_batch_axis_is_numpys_sum_over_axis_0():
    d = _derive("models/more8/rel_pos_bias_heads.yaml")
    # the forward too: P [H, T, T] broadcasts over the batch as NumPy aligns it (was
    # einsum('ijlm,ijkm->ijkl', K, Q) + einsum('ijkl,jkl->ijkl', 𝟏, P))
    assert "  S       = Q Kᵀ + P\n" in plain(d), plain(d)
    assert forms(d, "P") == ("(1/5) P_jkk′ + Σ_i ∂L/∂S_ijkk′",
                             "sum(∂L/∂S, axis=0) + (1/5) P")
    assert "d_P = np.sum(d_S, axis=0) + 1 / 5 * P" in render(d, "numpy")
    assert "∂L/∂P has no matrix form" not in plain(d)
    _verified(d)
    _verified(d, {"B": 3, "H": 3, "T": 4, "Dh": 3}, seed=2)


def test_length_one_slices_dropped_by_a_reshape_pad_their_adjoints_back():
    d = _derive("models/more8/rnn_slices_rank3.yaml")
    assert forms(d, "X")[0] == "δ_{0, j} ∂L/∂x1_ik + δ_{1, j} ∂L/∂x2_ik + δ_{2, j} ∂L/∂x3_ik"
    assert forms(d, "X")[1] == ("pad(reshape(∂L/∂x1, [B, 1, D]), 0:1, axis=1) + "
                                "pad(reshape(∂L/∂x2, [B, 1, D]), 1:2, axis=1) + "
                                "pad(reshape(∂L/∂x3, [B, 1, D]), 2:3, axis=1)")
    code = render(d, "numpy")
    assert "np.pad(np.reshape(d_x1, (B, 1, D)), ((0, 0), (0, T - 1), (0, 0)))" in code, code
    _verified(d)
    # T = 5: the three slices no longer cover the axis, the rest of ∂L/∂X is 0 (a stack of
    # the three would have the wrong shape there)
    _verified(d, {"B": 3, "T": 5, "D": 2, "H": 3}, seed=2)


POSITIONS_OF_A_MATRIX = """\
name: positions_of_a_matrix
dims: {B: 2, T: 4, H: 3}
inputs: {X: [B, T], W: [H, B]}
forward:
  - x1 = reshape(X[:, 0:1], [B])
  - x2 = reshape(X[:, 2:3], [B])
  - L = sum(tanh(W @ x1) * (W @ x2))
loss: L
"""


def test_positions_of_a_matrix_pad_a_column_without_a_reshape():
    """A vector put back at one column of a matrix is that column, [B, 1], as it stands."""
    d = derive_text(POSITIONS_OF_A_MATRIX)
    assert forms(d, "X")[1] == ("pad(Wᵀ ((W x2) ⊙ (1 − tanh(W x1)^∘2)), 0:1, axis=1) + "
                                "pad(Wᵀ tanh(W x1), 2:3, axis=1)"), forms(d, "X")
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "H": 2}, seed=2)


def test_slices_of_the_channel_axis_pad_their_products_back():
    d = _derive("models/more8/conv1d_glu_channels.yaml")
    assert forms(d, "Y")[1] == ("pad(∂L/∂G ⊙ σ(slice(Y, :, O:O2)), 0:O, axis=1) + "
                                "pad(∂L/∂G ⊙ σ'(slice(Y, :, O:O2)) ⊙ slice(Y, :, 0:O), O:O2, "
                                "axis=1)")
    out = plain(d)
    assert "no matrix form" not in out, out
    _verified(d)
    _verified(d, {"B": 3, "C": 3, "T": 8, "K": 2, "O": 3}, seed=2)


def test_a_whole_tensors_slice_never_stands_in_one_batch_elements_closed_form():
    """∂L/∂b = Σ_i rowsum(∂L/∂Y_i): ∂L/∂Y's closed form (pads and slices of whole tensors of
    three axes) put in the place of ∂L/∂Y_i printed G_i beside slice(Y, :, O:O2) and padded
    each element's columns (axis=1 of a matrix); no closed form is printed rather than that,
    or one naming the whole form as a temporary read per element (Σ_i rowsum(t1_i), where
    t1 = pad(… slice(Y, :, O:O2) …)): the slice stands only in the whole definition."""
    d = _derive("models/more8/conv1d_glu_channels.yaml")
    b = d.adjoint("b")
    block = render(d, "markdown").split("### ∂L/∂b")[-1].split("```")[1]
    closed = [ln for ln in block.splitlines() if ln.startswith("closed form: ")]
    assert b.closed is None or closed and "slice" not in closed[0], block
    assert all(ln.startswith("where t") and " = " in ln and "_i" not in ln.split(" = ")[0]
               for ln in block.splitlines() if "slice" in ln), block


def test_the_sum_over_an_axis_drops_it_where_the_reshape_did():
    """reshape(2 sum(·, axis=0, keepdims=True), [N, D]) is 2 sum(·, axis=0)."""
    d = _derive("models/more8/mixture_lse_axis0_rank3.yaml")
    md = render(d, "markdown")  # (with the closed forms)
    assert "2 sum(softmax(lp, axis=0) ⊙ (X − M), axis=0)" in md, md
    assert "keepdims=True), [N, D])" not in md, md


@pytest.mark.parametrize("path, name, form", [
    ("regressions/conv1d_literal_one_expressions.yaml", "X", "m ⊙ (∂L/∂Y ∗ (V ⊙ W))"),
    ("regressions/conv1d_literal_one_expressions.yaml", "m", "X ⊙ (∂L/∂Y ∗ (V ⊙ W))"),
    ("regressions/conv1d_literal_one_expressions.yaml", "W", "V ⊙ (∂L/∂Y ⋆ (X ⊙ m))"),
    ("regressions/conv1d_one_output_channel_kernel.yaml", "W", "V ⊙ (∂L/∂Y ⋆ tanh(X))"),
    ("regressions/conv1d_one_output_channel_kernel.yaml", "V", "W ⊙ (∂L/∂Y ⋆ tanh(X))"),
])
def test_a_factor_beside_a_convolution_with_an_axis_of_one_is_read_whole(path, name, form):
    d = _derive(path)
    assert forms(d, name)[1] == form, forms(d, name)
    assert "no matrix form" not in plain(d)


@pytest.mark.parametrize("path", ["regressions/conv1d_literal_one_expressions.yaml",
                                  "regressions/conv1d_one_output_channel_kernel.yaml"])
def test_literal_one_convolutions_of_expressions_hold_at_two_sizes(path):
    d = _derive(path)
    _verified(d)
    _verified(d, {k: v for k, v in {"B": 3, "C": 3, "O": 2, "K": 4, "T": 9}.items()
                  if k in d.graph.spec.dims}, seed=2)


@pytest.mark.parametrize("path", ["models/more8/rel_pos_bias_heads.yaml",
                                  "models/more8/rnn_slices_rank3.yaml",
                                  "regressions/conv1d_literal_one_expressions.yaml",
                                  "regressions/conv1d_one_output_channel_kernel.yaml"])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    # (conv1d_glu_channels: the reference's sizes give it no valid To; verify runs its code)
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(_derive(path), tmp_path)


def test_positions_of_a_matrix_generate_code_that_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(POSITIONS_OF_A_MATRIX), tmp_path)


@pytest.mark.parametrize("path", ["models/more8/rel_pos_bias_heads.yaml",
                                  "models/more8/rnn_slices_rank3.yaml",
                                  "models/more8/mixture_lse_axis0_rank3.yaml",
                                  "regressions/slice_steps_at_dims.yaml"])
def test_the_new_forms_read_back_to_the_reference(path, run):
    """Every printed line, read back by tests/notation_reader.py and evaluated (the more8
    specs are outside test_printed_forms' own list)."""
    from test_printed_forms import failures
    bad = failures(TESTS / path, run)
    assert not bad, "\n".join(bad)
