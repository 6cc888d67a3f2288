"""A tensor used twice, one contribution read element by element and another whole: the whole
one joins the per-element line where it is that element written whole (a name of the
result's shape, c in ∂L/∂h = … + c; a batched form of the same batch, ∂L/∂E1 Wᵀ), and a
per-element reading totals each element's vector as an inner product (xᵀ y, never
sum(x ⊙ y), which of a batched form is the total of every element).  Since the per-element
sums (stop 26) such gradients printed their index form only.  Each form is evaluated by
verify at two sizes; the generated NumPy and PyTorch code is checked against PyTorch
autograd of tests/torch_reference.py's forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import derive_text, forms
from einderive.api import derive_file, verify

MORE7 = Path(__file__).parent / "models" / "more7"

POOL_TWICE = """\
name: pool_twice
dims: {B: 3, T: 4, D: 2}
inputs: {H_seq: [B, T, D], q: [D]}
forward:
  - a = softmax(H_seq @ q, axis=-1)
  - m = mean(H_seq, axis=1)
  - L = sum(m * m) + sum(a * a)
loss: L
"""

GATED = """\
name: gated_rows
dims: {B: 3, T: 4, D: 2}
inputs: {X: [B, T, D], w: [D], G: [B, T, D]}
forward:
  - s = sigmoid(X @ w)
  - Y = X * G + exp(X)
  - L = sum(s * s) + sum(Y * Y)
loss: L
"""


def _verified(d, sizes):
    for size, seed in ((None, 1), (sizes, 2)):
        report = verify(d, sizes=size, seed=seed)
        assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def test_a_name_of_the_results_shape_joins_the_elements_line():
    d = derive_file(MORE7 / "additive_attention.yaml")
    assert forms(d, "h")[1] == "U colsum(∂L/∂E1_b) + c_b", forms(d, "h")
    assert forms(d, "X")[1] == "∂L/∂E1_b Wᵀ + a_b (∂L/∂c_b)ᵀ", forms(d, "X")
    _verified(d, {"B": 3, "T": 5, "D": 3, "A": 4})


def test_an_elements_vector_totals_as_an_inner_product():
    """Σ_j′ ∂L/∂a_bj′ a_bj′ read per b is (∂L/∂a_b)ᵀ a_b: grad(H_seq) was the index form
    alone and grad(q) an einsum."""
    d = derive_text(POOL_TWICE)
    assert forms(d, "H_seq")[1] == \
        "(a_b ⊙ (∂L/∂a_b − (∂L/∂a_b)ᵀ a_b)) qᵀ + (2/T) 𝟏 m_bᵀ", forms(d, "H_seq")
    assert forms(d, "q")[1] == "Σ_b (H_seq)_bᵀ (a_b ⊙ (∂L/∂a_b − (∂L/∂a_b)ᵀ a_b))"
    _verified(d, {"B": 2, "T": 5, "D": 3})


def test_an_elementwise_whole_contribution_is_read_at_the_element():
    d = derive_text(GATED)
    index, matrix = forms(d, "X")
    assert matrix == "(∂L/∂s_b ⊙ σ'(X_b w)) wᵀ + ∂L/∂Y_b ⊙ (exp(X_b) + G_b)", (index, matrix)
    _verified(d, {"B": 2, "T": 5, "D": 3})


def test_a_whole_contribution_that_is_no_element_is_read_with_the_rest_as_one_sum(run):
    # s = sum(X ** 2, axis=(0, -1)) per element X_ad beside an einsum: nothing to lift into
    # the elements; the sum of the contributions is read whole instead, as NumPy reads it
    more = Path(__file__).parent / "models" / "more"
    d = derive_file(more / "sum_axis_tuple_neg.yaml")
    assert forms(d, "X")[1] == ("2 (X ⊙ reshape(∂L/∂s, [B, C, 1]) + (1/(B C)) reshape(m, "
                                "[A, 1, 1, D]))"), forms(d, "X")
    assert verify(d).ok


@pytest.mark.parametrize("text", [POOL_TWICE, GATED], ids=["pool_twice", "gated_rows"])
def test_lifted_sums_generate_code_that_matches_torch(text, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(text), tmp_path)


def test_additive_attentions_code_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_file(MORE7 / "additive_attention.yaml"), tmp_path)


def test_each_elements_number_summed_over_the_batch_compiles():
    """Σ_i g colsum(∂L/∂Y_i ⊙ (X_i + bᵀ)) of a row g: [1, D] is a number per element (was
    an einsum); its code summed the batch axis only and failed (IndexError)."""
    more = Path(__file__).parent / "models" / "more"
    d = derive_file(more / "broadcast_rank3.yaml")
    assert forms(d, "s")[1] == "Σ_i g colsum(∂L/∂Y_i ⊙ (X_i + bᵀ))", forms(d, "s")
    _verified(d, {"B": 3, "T": 2, "D": 5})


def test_a_discarded_reading_of_a_temporary_orders_no_terms_by_it():
    """A stack of anonymous pieces read per element in a sum over the batch names a
    temporary the sum's terms were ordered by (KeyError 't1', exit 3); the reading is
    discarded and the forms are as before."""
    more = Path(__file__).parent / "models" / "more"
    d = derive_file(more / "moe_stack_gate.yaml")
    assert forms(d, "W1")[1] == "Xᵀ take(∂L/∂S, 0, axis=2)", forms(d, "W1")
    assert verify(d, seed=1).ok
