"""Issue 12's index-only leftovers (session 30): adjoints that printed their index form alone
now print a matrix form, each proved by verify (finite differences against every printed
form, at the spec's sizes and at distinct others), by the generated code against torch
autograd, and by the notation reader.

- an embedding lookup of tokens of two axes (X = E[tok], tok: [B, T]) is read per batch
  element: X = onehot(tok) E, its adjoint a scatter-add Σ_b onehot(tok_b)ᵀ ∂L/∂X_b;
- a product summed over the digits of a flat index it reads (Σ_i Σ_j δ(k, lab_{i·T + j})
  X_ijl of labels lab: [BT]) is summed over the flat index: reshape(X, [BT, D])ᵀ onehot(lab);
- a row index read at its digits by the tensors of three axes (∂L/∂R_km of R =
  reshape(X, [BT, D]) @ W, ∂L/∂Y_{⌊k/T⌋, k mod T, m}) is the reshape of the form read at
  the digits: reshape(Y ⊙ (… − sum(∂L/∂Y ⊙ Y, axis=1, keepdims=True)), [BT, E]);
- in NumPy's frame of whole tensors, a function of a whole axis read at a shifted index is
  an element of its slice (softmax(Z, axis=1)_{i, j, k + D}: slice(softmax(Z, axis=1), :, :,
  D:D2)), a reduced one's too;
- a slice of length 1 whose axis a reshape drops (reshape(X[:, 0:1, :], [B, D]), an LSTM's
  step of a sequence) reads as that reshape, in the forward and in the weight's adjoint.
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


def test_an_embedding_lookup_of_token_rows_is_a_scatter_add_per_element():
    d = _derive("models/more/embed_rank3_tokens.yaml")
    assert forms(d, "E")[1] == "Σ_b onehot(tok_b)ᵀ ∂L/∂X_b"
    assert "  X     = onehot(tok) E\n" in plain(d), plain(d)
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "V": 7, "D": 2}, seed=2)
    code = render(d, "numpy")
    # the rows of ∂L/∂X added into the rows the tokens name: no one-hot array formed
    assert "d_E = scatter_add(np.reshape(tok, (-1,)), np.reshape(d_X, (-1, D)), V)" in code, \
        code
    assert "np.eye(V)[tok]" not in code, code


def test_a_tied_embedding_adds_the_scatter_to_the_heads_product():
    d = _derive("models/more7/tied_embed_head.yaml")
    assert forms(d, "E")[1] == "Σ_b onehot(tok_b)ᵀ ∂L/∂X_b + (∂L/∂Z)ᵀ h"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 2, "V": 7, "D": 5}, seed=3)


def test_labels_of_a_flattened_axis_read_at_the_flat_index():
    d = _derive("models/more8/ce_rank3_flatten.yaml")
    # was the index form alone: (1/BT) (softmax(Z)_{i·T + j, k} − δ_(k,lab_{i·T + j})) X_ijl
    assert forms(d, "W")[1] == "(1/BT) reshape(X, [BT, D])ᵀ (softmax(Z) − onehot(lab))"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "C": 7, "D": 2}, seed=2)


def test_a_row_index_read_at_its_digits_is_the_reshape_of_the_form_at_the_digits():
    d = _derive("models/reshape_token_mixer.yaml")
    assert forms(d, "R")[1] == (
        "reshape(Y ⊙ (1 − reshape(tanh(R), [B, T, E])^∘2) ⊙ (∂L/∂Y − sum(∂L/∂Y ⊙ Y, "
        "axis=1, keepdims=True)), [BT, E])")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "D": 2, "E": 7}, seed=2)


def test_a_function_of_a_whole_axis_read_shifted_is_an_element_of_its_slice():
    d = _derive("regressions/reduced_function_of_joined_axis.yaml")
    # was the index form alone: 2 logsumexp(Z, axis=1)_{i, k + D} softmax(Z, axis=1)_{i, j, k + D}
    assert forms(d, "C")[1] == ("2 reshape(slice(logsumexp(Z, axis=1), :, D:D2), [B, 1, D]) ⊙ "
                                "slice(softmax(Z, axis=1), :, :, D:D2)")
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "D": 2}, seed=2)


FIRST_STEP = """\
name: first_step
dims: {B: 2, T: 3, D: 2, H: 4}
inputs: {X: [B, T, D], W: [D, H]}
forward:
  - G1 = reshape(X[:, 0:1, :], [B, D]) @ W
  - L = sum(tanh(G1))
loss: L
"""


def test_a_length_one_slice_whose_axis_a_reshape_drops_reads_as_that_reshape():
    d = derive_text(FIRST_STEP)
    assert "  G1    = reshape(slice(X, :, 0:1), [B, D]) W\n" in plain(d), plain(d)
    # was the index form alone (∂L/∂G1_il X_{i, 0, k}); not Σ_b t1_bᵀ (∂L/∂G1_b)ᵀ either
    assert forms(d, "W")[1] == "reshape(slice(X, :, 0:1), [B, D])ᵀ ∂L/∂G1"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "D": 7, "H": 2}, seed=2)


def test_lstm_gate_slices_weight_gradient_reads_each_step():
    d = _derive("regressions/lstm_gate_slices.yaml")
    assert forms(d, "W")[1] == ("reshape(slice(X, :, 0:1), [B, D])ᵀ ∂L/∂G1 + "
                                "reshape(slice(X, :, 1:2), [B, D])ᵀ ∂L/∂G2")
    _no_index_only(d)
    _verified(d)


@pytest.mark.parametrize("path", ["models/more/embed_rank3_tokens.yaml",
                                  "models/more7/tied_embed_head.yaml",
                                  "models/more8/ce_rank3_flatten.yaml",
                                  "regressions/lstm_gate_slices.yaml"])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(_derive(path), tmp_path)


def test_the_token_mixers_code_matches_the_reference(tmp_path):
    # (its wrt leaves G out: the torch module wants every input, the NumPy one does not)
    from test_models import check_generated_gradients
    check_generated_gradients(_derive("models/reshape_token_mixer.yaml"), tmp_path)


def test_the_first_step_generates_code_that_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(FIRST_STEP), tmp_path)


@pytest.mark.parametrize("path", ["models/more/embed_rank3_tokens.yaml",
                                  "models/more7/tied_embed_head.yaml",
                                  "models/more8/ce_rank3_flatten.yaml",
                                  "regressions/lstm_gate_slices.yaml",
                                  "models/reshape_token_mixer.yaml",
                                  "regressions/reduced_function_of_joined_axis.yaml"])
def test_the_new_forms_read_back_to_the_reference(path, run):
    """Every printed line, read back by tests/notation_reader.py and evaluated."""
    from test_printed_forms import failures
    bad = failures(TESTS / path, run)
    assert not bad, "\n".join(bad)


def test_side_effects_on_other_specs_are_pinned_and_verified():
    """What the new readings changed elsewhere (derive-all against main): a forward line
    where there was none, an einsum gone; each proved by verify."""
    d = _derive("models/more9/deepnorm_post.yaml")  # L = sum(H2[:, 0:1])
    assert "  L     = sum(take(H2, 0, axis=1))\n" in plain(d), plain(d)
    _verified(d)
    d = _derive("models/more8/rnn_slices_rank3.yaml")  # x1 = reshape(X[:, 0:1, :], [B, D])
    assert "  x1    = reshape(slice(X, :, 0:1), [B, D])\n" in plain(d), plain(d)
    _verified(d)
    d = _derive("models/more/concat_axis0_rank3.yaml")  # was einsum('mkl,mkl->kl', …)
    assert "sum(Z ⊙ softmax(Z, axis=0), axis=0, keepdims=True)" in forms(d, "X")[1]
    _verified(d)
