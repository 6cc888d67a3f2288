"""Batched forms that fell back to einsum where a per-element matrix form exists (issue 12
item 4; hunt nu50's find E, session 45), each pinned as printed."""

from __future__ import annotations

from conftest import forms
from einderive.api import verify
from einderive.derivation import derive
from einderive.spec import loads

CONCAT_AXIS0 = """dims: {B: 2, C: 1, S: 3, BC: B + C}
inputs: {X: [B, S, S], Y: [C, S, S], W: [S, S]}
forward:
  - Z = concatenate([X, Y], axis=0) @ W
  - L = sum(Z ** 2)
loss: L
"""


def test_the_first_piece_along_the_batch_axis_is_a_slice_from_0():
    """∂L/∂Z_ikl with i over B of Z's B + C: slice(∂L/∂Z, 0:B), as the second piece's
    slice(∂L/∂Z, B:BC) is (was einsum('ikl,jl->ikj', slice(∂L/∂Z, 0:B), W))."""
    d = derive(loads(CONCAT_AXIS0))
    assert forms(d, "X")[1] == "slice(∂L/∂Z, 0:B) Wᵀ", forms(d, "X")
    assert forms(d, "Y")[1] == "slice(∂L/∂Z, B:BC) Wᵀ", forms(d, "Y")
    assert verify(d).ok


INV_RANK3 = """dims: {B: 2, N: 2}
inputs: {A: [N, N], X: [B, N, N]}
forward:
  - L = sum((X @ inv(A)) ** 2)
loss: L
"""


def test_an_inverse_beside_a_batch_is_the_same_matrix_for_every_element():
    """(A⁻¹)_jk beside X_ijl is the same for every element, as a weight W_jk is: X A⁻¹, not
    einsum (was 2 einsum('ijl,km,lm->ijk', X, A⁻¹, A⁻¹)), and the code solves with each
    element's matrix transposed (a rank-3 .T would reverse the batch axis too)."""
    d = derive(loads(INV_RANK3))
    assert forms(d, "X")[1] == "2 X A⁻¹ A⁻ᵀ", forms(d, "X")
    assert forms(d, "A")[1] == "−2 Σ_b A⁻ᵀ X_bᵀ X_b A⁻¹ A⁻ᵀ", forms(d, "A")
    assert verify(d).ok


BATCH_OF_ONE_WEIGHT = """dims: {B: 3, N: 2, M: 2}
inputs: {A: [B, N, M], W: [1, M, N]}
forward:
  - L = sum(tanh(A @ W))
loss: L
"""


def test_a_weight_batch_of_one_sums_over_the_batch_as_a_matrix_weight_does():
    """W_0kj of W: [1, M, N] is the same for every element, so no lead of the batch sum:
    Σ_b A_bᵀ (…), as W: [M, N] gives (was einsum('ilk,ilj->kj', A, 1 − tanh(einsum(…)))."""
    d = derive(loads(BATCH_OF_ONE_WEIGHT))
    assert forms(d, "W")[1] == "Σ_b A_bᵀ (1 − tanh(A_b W)^∘2)", forms(d, "W")
    assert forms(d, "A")[1] == "(1 − tanh(A W)^∘2) Wᵀ", forms(d, "A")
    assert verify(d).ok


TRACE_EACH = """dims: {B: 2, N: 3}
inputs: {A: [B, N, N], W: [N, N]}
forward:
  - s = einsum("bii->b", A @ W)
  - L = sum(s * s)
loss: L
"""


def test_a_number_of_each_element_times_its_matrix_sums_over_the_batch():
    """∂L/∂W_jk = ∂L/∂s_i A_ikj: each element's matrix scaled by its number, Σ_b ∂L/∂s_b·A_bᵀ
    (was einsum('kij,k->ji', A, ∂L/∂s)), beside ∂L/∂A_b = ∂L/∂s_b·Wᵀ."""
    d = derive(loads(TRACE_EACH))
    assert forms(d, "W")[1] == "Σ_b ∂L/∂s_b·A_bᵀ", forms(d, "W")
    assert verify(d).ok


LEFT_BATCH_OF_ONE = """dims: {B: 2, N: 2, M: 3}
inputs: {A: [1, N, M], X: [B, M, N]}
forward:
  - L = sum((A @ X) ** 2)
loss: L
"""


def test_a_left_batch_of_one_sums_over_the_batch_too():
    """A_0jk of A: [1, N, M] beside X_bkl: 2 Σ_b A X_b X_bᵀ (was 2 einsum('ji,lkm,lim->jk',
    reshape(A, [N, M]), X, X))."""
    d = derive(loads(LEFT_BATCH_OF_ONE))
    assert forms(d, "A")[1] == "2 Σ_b A X_b X_bᵀ", forms(d, "A")
    assert verify(d).ok
