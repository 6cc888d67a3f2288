"""More of issue 12's index-only leftovers (session 29): adjoints that printed their index form
alone (or an einsum where NumPy needs none) now print a matrix form, each proved by verify
(finite differences against every printed form, at the spec's sizes and at distinct others),
by the generated code against torch autograd, and by the notation reader.

- a position of an axis: δ_{0, j} under no sum is ones at that column, pad(𝟏, 0:1, axis=1)
  (∂L/∂H of sum(H[:, 0:1])), and δ_{0, j′} R_{j′} is R read at the position, placed there;
- a function of a whole axis at a picked index, softmax(S)_(i, lab_i), is read as a tensor's
  pick is: rowsum(softmax(S) ⊙ onehot(lab));
- contributions read each its own way (one per element, one whole) are read as one sum;
- an element read at some digits of an index, ∂L/∂Xp_{i, ⌊l/S⌋, m} (a mean over windows by
  a reshape), is one of ∂L/∂Xp broadcast along the missing digit and merged back;
- an inline convolution to one output channel (W: [1, C, K]) reads its bias b_0 and the
  factor G of its adjoints whole ([B, 1, To]), as NumPy broadcasts them;
- a convolution of a concatenation along the channels reads slices of its kernel
  (G ∗ slice(W, :, C:C2));
- in NumPy's frame of whole tensors, a read at a shifted index is a slice or a padding
  (w0 ⊙ pad(∂L/∂Y, 1:T1, axis=2) of a [C, 1] weight), and a function reducing a middle axis
  is placed at its axes (reshape(max(Hs, axis=1), [B, 1, D])).
"""

from __future__ import annotations


import pytest

from conftest import derive_text, forms
from einderive.api import render
from einderive.render.terminal import plain
from test_index_only_leftovers import TESTS, _derive, _verified


def _no_index_only(d) -> None:
    out = plain(d)
    assert "no matrix form" not in out, out
    assert "written with einsum" not in out, out


FIRST_COLUMN = """\
name: first_column
dims: {N: 3, D: 4}
inputs: {X: [N, D], W: [D, D]}
forward:
  - H = tanh(X @ W)
  - L = sum(H[:, 0:1])
loss: L
"""


def test_a_position_alone_is_a_unit_column_and_a_product_at_it_is_placed_there():
    d = derive_text(FIRST_COLUMN)
    assert forms(d, "H") == ("δ_{0, j}", "pad(𝟏, 0:1, axis=1)")
    # δ_{0, j′} Σ_i X_ij (1 − H_ij′²): the sum read at j′ = 0, put in column 0
    assert forms(d, "W")[1] == "pad(Xᵀ (1 − take(H, 0, axis=1)^∘2), 0:1, axis=1)"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"N": 5, "D": 7}, seed=2)


def test_a_position_inside_a_layer_norms_adjoint():
    d = _derive("models/more9/deepnorm_post.yaml")
    assert forms(d, "H2")[1] == "pad(𝟏, 0:1, axis=1)"
    assert forms(d, "M2")[1].startswith("(pad(𝟏, 0:1, axis=1) − (1/D) M2 ⊙ take(M2, 0, "
                                        "axis=1) ⊘ "), forms(d, "M2")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"N": 5, "D": 4}, seed=2)


def test_a_function_of_a_whole_axis_at_a_picked_index_is_read_as_a_pick():
    d = _derive("models/more7/ensemble_stack_mean.yaml")
    assert forms(d, "W1")[1] == ("(1/(3 B)) Xᵀ (softmax(X W1) ⊙ (rowsum(softmax(X W1) ⊙ "
                                 "onehot(lab)) − onehot(lab)) ⊘ rowsum(Pm ⊙ onehot(lab)))")
    assert "rowsum(softmax(X W1) ⊙ onehot(lab)) ⊙ ((softmax(X W1) − onehot(lab)) W1ᵀ)" in \
        forms(d, "X")[1]
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 5, "D": 3, "K": 7}, seed=2)


def test_contributions_read_each_their_own_way_are_read_as_one_sum():
    d = _derive("models/more7/softmax_heads_axis1_rank4.yaml")
    assert forms(d, "X")[1] == ("∂L/∂l0 ⊙ softmax(X, axis=0) + P ⊙ (∂L/∂P − sum(∂L/∂P ⊙ P, "
                                "axis=1, keepdims=True))")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "H": 3, "T": 5, "S": 7}, seed=2)


def test_a_mean_over_windows_by_a_reshape_broadcasts_its_adjoint_back():
    d = _derive("models/more9/avg_pool_reshape.yaml")
    assert forms(d, "X") == ("(1/S) ∂L/∂Xp_{i, ⌊l/S⌋, m}",
                             "(1/S) reshape(reshape(∂L/∂Xp, [B, P, 1, D]) ⊙ 𝟏, [B, T, D])")
    assert "no matrix form" not in plain(d)
    _verified(d)
    _verified(d, {"B": 2, "P": 3, "S": 5, "D": 7, "O": 4}, seed=2)


def test_a_per_channel_weight_times_a_slice_is_numpys_broadcast():
    d = _derive("models/more9/depthwise_conv1d_slices.yaml")
    assert forms(d, "X")[1] == ("w0 ⊙ pad(∂L/∂Y, 0:To, axis=2) + w1 ⊙ pad(∂L/∂Y, 1:T1, "
                                "axis=2) + w2 ⊙ pad(∂L/∂Y, 2:T, axis=2)")
    # per element of the batch, the slice a temporary read per element (never slice(X_b, …))
    assert forms(d, "w1")[1] == "Σ_b rowsum(∂L/∂Y_b ⊙ t2_b)"
    assert "where t2 = slice(X, :, :, 1:T1)" in plain(d)
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "C": 5, "T": 7}, seed=2)
    e = _derive("models/more9/depthwise_separable.yaml")
    assert "  D     = d0 ⊙ slice(X, :, :, 0:To) + d1 ⊙ slice(X, :, :, 1:T)\n" in plain(e)
    _no_index_only(e)
    _verified(e, {"B": 2, "C": 3, "T": 7, "O": 5}, seed=2)


def test_a_max_over_a_middle_axis_is_placed_at_its_axes():
    d = _derive("models/more9/concat_max_avg_pool.yaml")
    # (both pieces of F's concatenation read ∂L/∂F by name, session 31; the first had it
    # written out, (1/(B T)) (softmax(F W) − onehot(lab)) slice(W, 0:D)ᵀ; since stop 40,
    # when a window of each element's column reads per element, the max's term comes first)
    assert forms(d, "Hs")[1] == (
        "𝟙[Hs = reshape(max(Hs, axis=1), [B, 1, D])] ⊙ reshape(slice(∂L/∂F, :, D:DD), "
        "[B, 1, D]) + (1/T) reshape(slice(∂L/∂F, :, 0:D), [B, 1, D])")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "T": 3, "D": 5, "K": 7}, seed=2)


def test_an_inline_convolution_to_one_output_channel_is_read_whole():
    d = _derive("regressions/conv1d_inline_one_output_channel.yaml")
    g = "2 (tanh(conv1d(X, W, b)) ⊙ (1 − tanh(conv1d(X, W, b))^∘2))"
    assert forms(d, "X")[1] == f"{g} ∗ W", forms(d, "X")
    assert forms(d, "W")[1] == f"{g} ⋆ X", forms(d, "W")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "C": 5, "T": 9, "K": 2}, seed=2)


def test_a_convolution_of_a_concatenation_reads_slices_of_its_kernel():
    d = _derive("regressions/conv1d_inline_concat.yaml")
    x = forms(d, "X")[1]
    assert x.endswith(" ∗ slice(W, :, 0:C)"), x
    assert " ∗ slice(W, :, C:C2)) ⊙ (1 − tanh(X)^∘2) + " in x, x
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "C": 2, "O": 5, "T": 9, "K": 3}, seed=2)


def test_a_named_convolution_to_one_output_channel_has_its_forward_form():
    d = derive_text(NAMED_ONE_CHANNEL)
    assert "  Y    = conv1d(X, W, b)\n" in plain(d), plain(d)
    _verified(d, {"B": 3, "C": 5, "T": 9, "K": 4}, seed=2)


NAMED_ONE_CHANNEL = """\
name: named_one_channel
dims: {K: 3, B: 2, C: 3, T: 7, To: T - K + 1}
inputs: {X: [B, C, T], W: [1, C, K], b: [1]}
forward:
  - Y = conv1d(X, W, b)
  - L = sum(tanh(Y) ** 2)
loss: L
"""


SPECS = ["models/more9/deepnorm_post.yaml", "models/more7/ensemble_stack_mean.yaml",
         "models/more7/softmax_heads_axis1_rank4.yaml", "models/more9/avg_pool_reshape.yaml",
         "models/more9/depthwise_conv1d_slices.yaml", "models/more9/depthwise_separable.yaml",
         "models/more9/concat_max_avg_pool.yaml",
         "regressions/conv1d_inline_one_output_channel.yaml",
         "regressions/conv1d_inline_concat.yaml"]


@pytest.mark.parametrize("path", SPECS)
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(_derive(path), tmp_path)


def test_a_position_generates_code_that_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(FIRST_COLUMN), tmp_path)


@pytest.mark.parametrize("path", [p for p in SPECS if "inline_concat" not in p])
def test_the_new_forms_read_back_to_the_reference(path, run):
    """Every printed line, read back by tests/notation_reader.py and evaluated (not the
    inline concatenation: the reader cannot size the pads inside conv1d(pad(X, 0:C, axis=1)
    + pad(tanh(X), C:C2, axis=1), W), which its forward and ∂L/∂W printed before)."""
    from test_printed_forms import failures
    bad = failures(TESTS / path, run)
    assert not bad, "\n".join(bad)


def test_the_numpy_code_says_the_new_forms():
    code = render(_derive("models/more9/depthwise_conv1d_slices.yaml"), "numpy")
    assert "einsum" not in code, code


@pytest.mark.parametrize("path, good, bad", [
    # pad(𝟏, …) sized by the left side: the wrong column, the wrong axis
    ("models/more9/deepnorm_post.yaml", "∂L/∂H2 = pad(𝟏, 0:1, axis=1)",
     "∂L/∂H2 = pad(𝟏, 1:2, axis=1)"),
    ("models/more9/deepnorm_post.yaml", "∂L/∂H2 = pad(𝟏, 0:1, axis=1)",
     "∂L/∂H2 = pad(𝟏, 0:1, axis=0)"),
    # a 𝟏 a reshape sizes: repeated along the wrong axis
    ("models/more9/avg_pool_reshape.yaml",
     "∂L/∂X = (1/S) reshape(reshape(∂L/∂Xp, [B, P, 1, D]) ⊙ 𝟏, [B, T, D])",
     "∂L/∂X = (1/S) reshape(reshape(∂L/∂Xp, [B, 1, P, D]) ⊙ 𝟏, [B, T, D])"),
])
def test_the_reader_sizes_the_new_ones_and_catches_damage(path, good, bad):
    from test_printed_forms import _reads_good_rejects_bad
    _reads_good_rejects_bad(_derive(path), good, bad)
