"""Issue 12's index-only leftovers (session 33): adjoints that printed their index form alone
now print a matrix form, each proved by verify (finite differences against every printed
form, at the spec's sizes and at distinct others), by the generated NumPy and PyTorch code
against torch autograd, and pinned here as printed.

- a piece of one column concatenated at a dim's offset (flow matching's [x_t, t], t: [B, 1])
  is read under its range 𝟙[D ≤ k < D + 1] as that column padded along its literal-1 axis,
  pad(t, D:D + 1, axis=1), as any piece is (no dim has the range's length 1);
- a row at a position the dims' sizes give (W_{D, m}, the weight row that column meets) is
  the slice D:D + 1 of its axis, its literal-1 axis kept (no take states a dim's position,
  and an einsum would sum D as a letter);
- a label of one example, y: [1], picks δ(l, y_0): the one row of onehot(y), read as the
  column onehot(y)ᵀ;
- an unnamed product read only per element (Z @ w of Z: [B, TU, D], each element's column
  Z_b w), which has no whole form and no name to subscript, is a temporary defined per
  element, t1_b = Z_b w; the index form's sums that are its definition read as its elements;
- the flat index of an index's own digits, one of them a slice's read of it (⌊l/D⌋·D +
  (l mod D), the slice's shift undone), is the index itself: X_il.
"""

from __future__ import annotations

import pytest

from conftest import forms
from einderive.api import render
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified


def _no_index_only(d) -> None:
    out = plain(d)
    assert "no matrix form" not in out, out


def test_a_column_concatenated_at_a_dims_offset_is_padded_and_its_row_sliced():
    d = _derive("regressions/concat_column_at_dim_offset.yaml")
    out = plain(d)
    # was the index form alone for the forward line and every adjoint
    assert "  V    = silu((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1)\n" in out, out
    assert forms(d, "t")[1] == (
        "rowsum(∂L/∂V ⊙ σ((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1) ⊙ "
        "slice(W1, D:D + 1) ⊙ (1 + ((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1) ⊙ "
        "(1 − σ((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1))))")
    assert forms(d, "Xt")[1].endswith(" slice(W1, 0:D)ᵀ"), forms(d, "Xt")
    assert forms(d, "W1")[1].startswith("(pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1))ᵀ ")
    _no_index_only(d)
    code = render(d, "numpy")
    assert "W1[D:D + 1]" in code, code
    _verified(d)
    _verified(d, {"B": 4, "D": 3, "D1": 4, "H": 5}, seed=2)


def test_a_dims_row_of_a_rank3_piece_is_a_slice():
    d = _derive("regressions/concat_column_at_dim_offset_rank3.yaml")
    assert "  C     = pad(X, 0:D, axis=2) + pad(t, D:D + 1, axis=2)\n" in plain(d)
    # was 2 Σ_m (1 − tanh(Σ_l W_lm C_ijl)²) W_{D, m} tanh(Σ_l W_lm C_ijl) alone
    assert forms(d, "t")[1] == "2 rowsum(tanh(C W) ⊙ slice(W, D:D + 1) ⊙ (1 − tanh(C W)^∘2))"
    assert forms(d, "X")[1] == "2 (tanh(C W) ⊙ (1 − tanh(C W)^∘2)) slice(W, 0:D)ᵀ"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 2, "D": 4, "D1": 5, "H": 3}, seed=2)


def test_flow_matchings_weights_read_through_the_concatenation():
    d = _derive("models/more12/flow_matching_linear.yaml")
    # the pieces in the concatenation's order (the graph's put t, an input, first)
    assert "  V     = silu((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1) W2\n" in \
        plain(d), plain(d)
    assert forms(d, "W2")[1] == \
        "silu((pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1)) W1)ᵀ ∂L/∂V"
    assert forms(d, "W1")[1].startswith("(pad(Xt, 0:D, axis=1) + pad(t, D:D + 1, axis=1))ᵀ ")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 4, "D": 3, "D1": 4, "H": 5}, seed=2)


def test_a_label_of_one_example_picks_a_row_of_its_one_hot():
    d = _derive("models/more12/luong_attention_general.yaml")
    # was Wo_lj softmax(Wo hh)_l − Wo_(y,j) and (softmax(Wo hh)_l − δ_(l,y)) hh_j alone
    assert forms(d, "hh")[1] == "Woᵀ (softmax(Wo hh) − onehot(y)ᵀ)"
    assert forms(d, "Wo")[1] == "(softmax(Wo hh) − onehot(y)ᵀ) hhᵀ"
    assert "  L    = −onehot(y) (Wo hh − logsumexp(Wo hh))\n" in plain(d)  # (one number, fewer ᵀ)
    # the pieces of [c; h_t] in their order along the axis (was pad(ht, D:2 D, …) first)
    assert "  hh   = tanh(Wc (pad(c, 0:D, axis=0) + pad(ht, D:DD, axis=0)))\n" in plain(d)
    _no_index_only(d)
    _verified(d)
    _verified(d, {"S": 3, "D": 2, "DD": 4, "C": 6}, seed=2)


def test_an_unnamed_product_read_per_element_is_a_temporary_so_defined():
    d = _derive("models/more/concat_middle_rank3.yaml")
    a = d.adjoint("w")
    out = plain(d)
    assert "where t1_b = Z_b w" in out, out
    # (session 34: each element's logsumexp(t1_b) a number, Σ_b Z_bᵀ (…), was einsum)
    assert "Σ_b Z_bᵀ (" in forms(d, "w")[1] and "logsumexp(t1_b)" in forms(d, "w")[1], \
        forms(d, "w")
    assert "no matrix form" not in out, out
    assert a.form.matrix is not None
    _verified(d)
    _verified(d, {"B": 3, "T": 4, "U": 2, "D": 5, "TU": 6}, seed=2)


@pytest.mark.parametrize("path", ["regressions/concat_column_at_dim_offset.yaml",
                                  "regressions/concat_column_at_dim_offset_rank3.yaml",
                                  "regressions/concat_column_softmax_row.yaml",
                                  "models/more/concat_middle_rank3.yaml"])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(_derive(path), tmp_path)


@pytest.mark.parametrize("path", ["models/more12/flow_matching_linear.yaml",
                                  "models/more12/luong_attention_general.yaml"])
def test_the_new_forms_of_some_inputs_generate_code_that_matches_the_reference(path,
                                                                               tmp_path):
    # (wrt some inputs only: the PyTorch module needs every input's; its text still compiles)
    from test_models import check_generated_gradients
    d = _derive(path)
    check_generated_gradients(d, tmp_path)
    compile(render(d, "torch"), path, "exec")


def test_the_flat_index_of_its_own_digits_is_the_index():
    d = _derive("regressions/reshape_slice_remainder.yaml")
    # was 2 (1 − tanh(X_{i, ⌊l/D⌋·D + (l mod D)})²) 𝟙[2 ≤ l mod D < 4] tanh(X_{i, ⌊l/D⌋·D +
    # (l mod D)})
    assert forms(d, "X")[0] == "2 (1 − tanh(X_il)²) 𝟙[2 ≤ l mod D < 4] tanh(X_il)"
    _verified(d)
    _verified(d, {"B": 3, "T": 4, "D": 5, "TD": 20}, seed=2)


def test_a_functions_row_at_a_dims_position_is_its_slice():
    d = _derive("regressions/concat_column_softmax_row.yaml")
    # was Σ_l ∂L/∂V_il (1 − V_il²) softmax(W1)_{D, l} alone
    assert forms(d, "t")[1] == "rowsum(∂L/∂V ⊙ slice(softmax(W1), D:D + 1) ⊙ (1 − V ⊙ V))"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 4, "D": 3, "D1": 4, "H": 5}, seed=2)
