"""Issue 12's einsum leftovers, session 35: a sum over one axis of a tensor of three axes.

- Σ_k X1_ilk of a whole tensor X1: [B, H, D] read in its own order is NumPy's
  ``sum(X1, axis=2)``, a [B, H] matrix the matrix rules read on: cin_xdeepfm's
  z = sum(X1, axis=2) w and ∂L/∂w = sum(X1, axis=2)ᵀ ∂L/∂z (were ``einsum('ilk,l->i', X1, w)``
  and ``einsum('ilk,i->l', X1, ∂L/∂z)``).  Where a reading element by element says such a
  sum (conv1d_pool_head's p_j = (1/To) rowsum(Y_j), batched_matrix_vector's s_b = X_b w),
  that reading stays.
- A sum of matrices that broadcast against each other into three axes, no term of every axis
  (E_il + D_jl), is NumPy's sum of the terms reshaped with a literal 1 where each lacks an
  axis, in a frame that keeps each matrix its own way round: mixture_lse_axis0's
  d2 = sum((reshape(X, [1, N, D]) − reshape(Mu, [K, 1, D]))^∘2, axis=2), as the spec writes it
  (was ``einsum('ikj->ij', (einsum('ikj,jk->ikj', 𝟏, X) + einsum('ikj,ik->ikj', 𝟏, −Mu))^∘2)``);
  pointer_net_ce's and gatv2's broadcasts (were ``einsum('ilj,il->ilj', 𝟏, E W1)``).
- Σ_k T_ijk a_k of such a tensor and a vector is sum(aᵀ ⊙ T, axis=2), what T @ a computes:
  pointer_net_ce's U and gatv2's E (were ``einsum('ilj,l->ji', …, v)``).
- A permutation of a tensor with a literal-1 axis read at 0 keeps that axis in place:
  heads_literal_one_batch's Q = permute(reshape(X Wq, [1, T, H, Dh]), (0, 2, 1, 3)) (was
  ``einsum('ijk->jik', einsum('aijk->ijk', reshape(X Wq, [1, T, H, Dh])))``).
- A contraction of a tensor of three axes with another stays einsum (xDeepFM's ∂L/∂X0, ∂L/∂Wc:
  true higher-order contractions, their note kept).

Every form here passes ``einderive verify``; its NumPy and PyTorch code computes the
gradients; the test reader (tests/notation_reader.py) reads each printed line back and
rejects it damaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
# the CLI and read-back checks of the einsum leftovers, written once
from test_einsum_leftovers7 import _env, _expanded, _reads_good_rejects_bad, _verified

from einderive.api import derive_file

TESTS = Path(__file__).resolve().parent
MODELS = TESTS / "models"
CIN = MODELS / "more15" / "cin_xdeepfm.yaml"


# -- a sum over one axis of a tensor of three axes -------------------------------------------

def test_a_sum_over_one_axis_of_a_rank3_tensor_is_numpys_sum(run):
    text = _expanded(run, CIN)
    assert "  z      = sum(X1, axis=2) w\n" in text, text
    assert "  ∂L/∂w       = sum(X1, axis=2)ᵀ ∂L/∂z\n" in text, text
    assert "  grad(w)  = sum(X1, axis=2)ᵀ ∂L/∂z\n" in text, text
    assert "einsum('ilk,l->i'" not in text and "einsum('ilk,i->l'" not in text, text
    assert "note: ∂L/∂w is written with einsum" not in text, text
    # a contraction of the rank-3 X0 with X0 and Wc is a true higher-order one: einsum stays
    assert "note: ∂L/∂X0 is written with einsum where no matrix rule applies." in text, text
    _verified(run, CIN)


@pytest.mark.parametrize("good,bad", [
    ("z = sum(X1, axis=2) w", "z = sum(X1, axis=1) w"),
    ("∂L/∂w = sum(X1, axis=2)ᵀ ∂L/∂z", "∂L/∂w = sum(X1, axis=2)ᵀ 𝟏 𝟏ᵀ ∂L/∂z"),
], ids=["other-axis", "summed-batch"])
def test_the_reader_reads_an_axis_sum_and_catches_damage(run, good, bad):
    d = derive_file(str(CIN))
    _reads_good_rejects_bad(_env(d, run, CIN), good, bad)


@pytest.mark.parametrize("path", [CIN])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    from test_ops import _generated_code_matches_torch
    d = derive_file(str(path))
    if set(d.graph.wrt) != {t.name for t in d.graph.inputs if t.integer is None}:
        from test_models import check_generated_gradients
        check_generated_gradients(d, tmp_path)  # (wrt some inputs: the NumPy module's)
        return
    _generated_code_matches_torch(d, tmp_path)


# -- a broadcast sum of matrices into three axes ---------------------------------------------

MIXTURE = MODELS / "more" / "mixture_lse_axis0.yaml"
POINTER = MODELS / "more15" / "pointer_net_ce.yaml"
GATV2 = MODELS / "more11" / "gatv2_attention.yaml"
D2 = "sum((reshape(X, [1, N, D]) − reshape(Mu, [K, 1, D]))^∘2, axis=2)"
U = "sum(vᵀ ⊙ tanh(reshape(E W1, [1, N, H]) + reshape(Dq W2, [T, 1, H])), axis=2)"
E = "sum(aᵀ ⊙ leaky_relu(reshape(X Wl, [N, 1, F]) + reshape(X Wr, [1, N, F]), 1/5), axis=2)"


@pytest.mark.parametrize("path,line", [(MIXTURE, f"d2 = {D2}"), (POINTER, f"U = {U}"),
                                       (GATV2, f"E = {E}")], ids=["mixture", "pointer", "gatv2"])
def test_a_broadcast_sum_of_matrices_is_numpys_reshapes(run, path, line):
    text = _expanded(run, path)
    flat = " ".join(text.split())
    assert line in flat, text
    assert ", 𝟏," not in text and "einsum('ikj->ij'" not in text, text
    _verified(run, path)


@pytest.mark.parametrize("path,good,bad", [
    (MIXTURE, f"d2 = {D2}", f"d2 = {D2.replace('[K, 1, D]', '[1, K, D]').replace('[1, N', '[N, 1')}"),
    (MIXTURE, f"d2 = {D2}", f"d2 = {D2.replace('axis=2', 'axis=1')}"),
    (POINTER, f"U = {U}", f"U = {U.replace('vᵀ ⊙ ', '')}"),
    (POINTER, f"U = {U}", f"U = {U.replace('E W1', 'E W2')}"),
    (GATV2, f"E = {E}",
     f"E = {E.replace('X Wl', 'X W_').replace('X Wr', 'X Wl').replace('X W_', 'X Wr')}"),
], ids=["mixture-swapped", "mixture-axis", "pointer-unweighted", "pointer-weight", "gatv2-swapped"])
def test_the_reader_reads_broadcast_reshapes_and_catches_damage(run, path, good, bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)


@pytest.mark.parametrize("path", [MIXTURE, POINTER, GATV2])
def test_the_broadcast_forms_generate_code_that_matches_torch(path, tmp_path):
    test_the_new_forms_generate_code_that_matches_torch(path, tmp_path)


# -- a permutation with a literal-1 axis ------------------------------------------------------

HEADS_ONE = TESTS / "regressions" / "heads_literal_one_batch.yaml"
Q = "permute(reshape(X Wq, [1, T, H, Dh]), (0, 2, 1, 3))"


def test_a_permutation_keeps_a_literal_one_axis_in_place(run):
    text = _expanded(run, HEADS_ONE)
    assert f"  Q     = {Q}\n" in text, text
    assert "einsum" not in text and "((X Wq)" not in text, text
    _verified(run, HEADS_ONE)


@pytest.mark.parametrize("good,bad", [
    (f"Q = {Q}", f"Q = {Q.replace('(0, 2, 1, 3)', '(0, 1, 2, 3)')}"),
    (f"Q = {Q}", f"Q = {Q.replace('X Wq', 'X Wqᵀ')}"),
], ids=["unpermuted", "transposed-weight"])
def test_the_reader_reads_a_permutation_with_a_literal_one_and_catches_damage(run, good, bad):
    d = derive_file(str(HEADS_ONE))
    _reads_good_rejects_bad(_env(d, run, HEADS_ONE), good, bad)


def test_the_permutation_generates_code_that_matches_torch(tmp_path):
    test_the_new_forms_generate_code_that_matches_torch(HEADS_ONE, tmp_path)
