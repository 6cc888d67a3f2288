"""Issue 12's einsum leftovers, session 36: broadcasts into three or more axes.

- An outer product of a matrix and a vector into three axes (M_ij w_l, each index carried
  once) is NumPy's product of the factors each reshaped with a literal 1 where it lacks an
  axis: concat_middle_rank3's ∂L/∂X = reshape(M, [B, T, 1]) ⊙ reshape(w, [1, 1, D]) (was
  ``einsum('ij,l->ijl', M, w)``), diagonal_beside_per_element_temporary's ∂L/∂Z (was
  ``einsum('ij,k->ijk', softmax(t1), w) + einsum('i,jk,j->ijk', c, 𝐈, w)``).  An outer
  product of vectors only stays einsum (specs/bilinear_layer.yaml's ∂L/∂W, its note kept).
- Beside a whole tensor of every axis, the others are reshaped into its axes, the tensor as it
  stands: se_block_conv2d's ∂L/∂Y ends ``+ Z ⊙ reshape(g, [B, C, 1, 1])``, the spec's own
  spelling (was ``einsum('ijpq,ij->ijpq', Z, g)``), and a term of a sum lacking axes is so
  reshaped (was ``einsum('ijpq,ij->ijpq', 𝟏, …)``); a sum over two axes of such a product is
  NumPy's sum over them: gatv2's ∂L/∂a, pointer_net_ce's ∂L/∂v (were ``einsum('ijk,ij->k'``
  and ``einsum('ijl,ji->l'``); cb_kron_einsum's K4 = reshape(A, [N, 1, M, 1]) ⊙ reshape(Bk,
  [1, P, 1, Q]).
- Σ_i T_jik M_ji of a whole tensor of three axes and a matrix of two of them (the other
  free, or shared with a third factor) is NumPy's sum(T ⊙ reshape(M, [T, N, 1]), axis=1), a
  matrix the rules read on: pointer_net_ce's ∂L/∂Dq = sum(reshape(∂L/∂U, [T, N, 1]) ⊙ (…),
  axis=1) (W2ᵀ ⊙ v) (was ``einsum('jik,ji,lk,k->jl', …)``), gatv2's ∂L/∂Wr = aᵀ ⊙ (Xᵀ
  sum(… ⊙ reshape(∂L/∂E, [N, N, 1]), axis=0)) (was ``einsum('ij,lik,k,li->jk', …)``).  A
  tensor of the spec is read per element instead (attention_pool_query's t2_b = X_b t1_b,
  listnet_top_one's Σ_q X_qᵀ t1_q keep their forms; monarch_two_factors' R2 keeps einsum).
- Each element's diagonal Z_bjj of a tensor of three axes is NumPy's sum(Z ⊙ 𝐈, axis=2)
  (the identity broadcast along the batch, README: each element's matrix), and each
  element's trace sum(X ⊙ 𝐈, axis=(1, 2)): diagonal_beside's ∂L/∂c = sum(Z ⊙ 𝐈, axis=2) w
  (was ``einsum('ijj->ij', Z) w``), einsum_diag_trace's t (was
  ``rowsum(einsum('jii->ji', X))``).

Every form here passes ``einderive verify``; its NumPy and PyTorch code computes the
gradients; the test reader (tests/notation_reader.py) reads each printed line back and
rejects it damaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
# the CLI and read-back checks of the einsum leftovers, written once
from test_einsum_leftovers7 import _env, _expanded, _reads_good_rejects_bad, _verified
from test_einsum_leftovers8 import test_the_new_forms_generate_code_that_matches_torch as _torch

from einderive.api import derive_file

TESTS = Path(__file__).resolve().parent
MODELS = TESTS / "models"


# -- an outer product of a matrix and a vector into three axes -------------------------------

CONCAT = MODELS / "more" / "concat_middle_rank3.yaml"
DIAG = TESTS / "regressions" / "diagonal_beside_per_element_temporary.yaml"
BILINEAR = TESTS.parent / "specs" / "bilinear_layer.yaml"
M = "2 slice(t1, :, 0:T) − logsumexp(t1) − rowsum(t1) ⊙ slice(softmax(t1), :, 0:T)"
DX = f"reshape({M}, [B, T, 1]) ⊙ reshape(w, [1, 1, D])"
DZ = ("reshape(softmax(t1), [B, D, 1]) ⊙ reshape(w, [1, 1, D]) + "
      "reshape(c, [B, 1, 1]) ⊙ reshape(diag(w), [1, D, D])")


@pytest.mark.parametrize("path,line", [(CONCAT, f"∂L/∂X = {DX}"), (CONCAT, f"grad(X) = {DX}"),
                                       (DIAG, f"∂L/∂Z = {DZ}")],
                         ids=["concat", "concat-grad", "diagonal"])
def test_an_outer_product_into_three_axes_is_numpys_reshapes(run, path, line):
    text = _expanded(run, path)
    assert line in " ".join(text.split()), text
    assert "einsum('ij,l->ijl'" not in text and "einsum('ij,k->ijk'" not in text, text
    assert "einsum('i,jk,j->ijk'" not in text, text
    _verified(run, path)


def test_an_outer_product_of_vectors_only_stays_einsum(run):
    text = _expanded(run, BILINEAR)
    assert "  ∂L/∂W     = einsum('i,j,k->ijk', ∂L/∂y, x, z)\n" in text, text
    assert "note: ∂L/∂W is written with einsum: it is an outer product of three vectors" in \
        " ".join(text.split()), text


@pytest.mark.parametrize("path,good,bad", [
    (CONCAT, f"∂L/∂X = {DX}", f"∂L/∂X = {DX.replace('[B, T, 1]', '[1, B, T]')}"),
    (CONCAT, f"∂L/∂X = {DX}", f"∂L/∂X = {DX.replace('0:T), [B', 'T:T + U), [B')}"),
    (DIAG, f"∂L/∂Z = {DZ}", f"∂L/∂Z = {DZ.replace('[B, D, 1]', '[B, 1, D]')}"),
    (DIAG, f"∂L/∂Z = {DZ}", f"∂L/∂Z = {DZ.replace('diag(w)', 'w wᵀ')}"),
], ids=["concat-axes", "concat-slice", "diagonal-axes", "diagonal-eye"])
def test_the_reader_reads_an_outer_product_and_catches_damage(run, path, good, bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)


@pytest.mark.parametrize("path", [CONCAT, DIAG])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    _torch(path, tmp_path)


# -- beside a whole tensor of every axis -----------------------------------------------------

SE = MODELS / "more7" / "se_block_conv2d.yaml"
GATV2 = MODELS / "more11" / "gatv2_attention.yaml"
POINTER = MODELS / "more15" / "pointer_net_ce.yaml"
KRON = MODELS / "more8" / "cb_kron_einsum.yaml"
DY = ("(2/(B C Ho Wo)) ((1/(Ho Wo)) reshape(einsum('ikpq,ikpq,ir,ik,jr,rk->ij', Y, Z, "
      "𝟙[s W1 > 0], g ⊙ (1 − g), W1, W2), [B, C, 1, 1]) + Z ⊙ reshape(g, [B, C, 1, 1]))")
DA = ("sum(leaky_relu(reshape(X Wl, [N, 1, F]) + reshape(X Wr, [1, N, F]), 1/5) ⊙ "
      "reshape(∂L/∂E, [N, N, 1]), axis=(0, 1))")
DV = ("sum(tanh(reshape(E W1, [1, N, H]) + reshape(Dq W2, [T, 1, H])) ⊙ "
      "reshape(∂L/∂U, [T, N, 1]), axis=(0, 1))")
K4 = "reshape(A, [N, 1, M, 1]) ⊙ reshape(Bk, [1, P, 1, Q])"


@pytest.mark.parametrize("path,line,old", [
    (SE, f"∂L/∂Y = {DY}", "einsum('ijpq,ij->ijpq'"),
    (GATV2, f"∂L/∂a = {DA}", "einsum('ijk,ij->k'"),
    (POINTER, f"grad(v) = {DV}", "einsum('ijl,ji->l'"),
    (KRON, f"K4 = {K4}", "einsum('ik,jl->ijkl'"),
], ids=["se-block", "gatv2", "pointer", "kron"])
def test_a_broadcast_beside_a_whole_tensor_is_numpys_reshape(run, path, line, old):
    text = _expanded(run, path)
    assert line in " ".join(text.split()), text
    assert old not in text, text
    _verified(run, path)


@pytest.mark.parametrize("path,good,bad", [
    (SE, f"∂L/∂Y = {DY}", f"∂L/∂Y = {DY.replace('reshape(g, [B, C, 1, 1])', 'g')}"),
    (SE, f"∂L/∂Y = {DY}", f"∂L/∂Y = {DY.replace('(1/(Ho Wo)) reshape', 'reshape')}"),
    (GATV2, f"∂L/∂a = {DA}", f"∂L/∂a = {DA.replace('axis=(0, 1)', 'axis=(0, 2)')}"),
    (POINTER, f"grad(v) = {DV}", f"grad(v) = {DV.replace('[T, N, 1]', '[1, T, N]')}"),
    (KRON, f"K4 = {K4}", f"K4 = {K4.replace('[1, P, 1, Q]', '[1, P, Q, 1]')}"),
], ids=["se-unreshaped", "se-scale", "gatv2-axes", "pointer-axes", "kron-axes"])
def test_the_reader_reads_a_broadcast_beside_a_whole_tensor_and_catches_damage(run, path, good,
                                                                              bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)


# -- each element's diagonal and trace -------------------------------------------------------

TRACE = MODELS / "more" / "einsum_diag_trace.yaml"


@pytest.mark.parametrize("path,line,old", [
    (DIAG, "  ∂L/∂c      = sum(Z ⊙ 𝐈, axis=2) w\n", "einsum('ijj->ij'"),
    (DIAG, "  grad(w)   = Σ_b Z_bᵀ softmax(t1_b) + sum(Z ⊙ 𝐈, axis=2)ᵀ c\n", "einsum('ijj->ji'"),
    (TRACE, "  t   = sum(X ⊙ 𝐈, axis=(1, 2))\n", "einsum('jii->ji'"),
], ids=["diagonal", "diagonal-transposed", "trace"])
def test_each_elements_diagonal_is_a_sum_against_the_identity(run, path, line, old):
    text = _expanded(run, path)
    assert line in text, text
    assert old not in text and "einsum(" not in text, text
    _verified(run, path)


@pytest.mark.parametrize("path,good,bad", [
    (DIAG, "∂L/∂c = sum(Z ⊙ 𝐈, axis=2) w", "∂L/∂c = sum(Z, axis=2) w"),
    (DIAG, "∂L/∂c = sum(Z ⊙ 𝐈, axis=2) w", "∂L/∂c = sum(Z ⊙ 𝐈, axis=2) w + sum(Z ⊙ 𝐈, axis=2) w"),
    (TRACE, "t = sum(X ⊙ 𝐈, axis=(1, 2))", "t = sum(X, axis=(1, 2))"),
], ids=["diagonal-no-eye", "diagonal-twice", "trace-no-eye"])
def test_the_reader_reads_a_diagonal_and_catches_damage(run, path, good, bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)


@pytest.mark.parametrize("path", [SE, GATV2, POINTER, KRON, TRACE])
def test_the_broadcast_and_diagonal_forms_generate_code_that_matches_torch(path, tmp_path):
    _torch(path, tmp_path)


# -- a tensor of three axes summed against a matrix of two of them ---------------------------

DDQ = ("sum(reshape(∂L/∂U, [T, N, 1]) ⊙ (1 − tanh(reshape(E W1, [1, N, H]) + "
       "reshape(Dq W2, [T, 1, H]))^∘2), axis=1) (W2ᵀ ⊙ v)")
DWR = ("aᵀ ⊙ (Xᵀ sum(where(reshape(X Wl, [N, 1, F]) + reshape(X Wr, [1, N, F]) > 0, 1, "
       "1/5) ⊙ reshape(∂L/∂E, [N, N, 1]), axis=0))")


@pytest.mark.parametrize("path,line", [
    (POINTER, f"∂L/∂Dq = {DDQ}"), (GATV2, f"grad(Wr) = {DWR}"),
], ids=["pointer", "gatv2"])
def test_a_rank3_tensor_against_a_matrix_of_two_axes_is_numpys_sum(run, path, line):
    text = _expanded(run, path)
    assert line in " ".join(text.split()), text
    assert "einsum" not in text and "permute(" not in text, text
    _verified(run, path)


@pytest.mark.parametrize("stem,kept", [
    ("more7/attention_pool_query", "where t2_b = X_b t1_b"),
    ("more14/listnet_top_one", "= Σ_q X_qᵀ t1_q"),
    ("more9/moe_softmax_gate_einsum", "where t1_n = (2/(N O)) H_n (P_n − Y_n)"),
], ids=["attention-pool", "listnet", "moe-gate"])
def test_a_tensor_of_the_spec_against_a_matrix_is_read_per_element(run, stem, kept):
    """X_btd t_bd of a tensor of the spec is each element's X_b t_b, never NumPy's
    sum(X ⊙ reshape(t, [B, 1, D]), axis=2)."""
    text = _expanded(run, MODELS / f"{stem}.yaml")
    assert kept in text, text
    assert "sum(X ⊙ reshape(" not in text and "sum(H ⊙ reshape(" not in text, text


@pytest.mark.parametrize("path,good,bad", [
    (POINTER, f"∂L/∂Dq = {DDQ}", f"∂L/∂Dq = {DDQ.replace('axis=1', 'axis=0')}"),
    (POINTER, f"∂L/∂Dq = {DDQ}", f"∂L/∂Dq = {DDQ.replace('(W2ᵀ ⊙ v)', 'W2ᵀ')}"),
    (GATV2, f"grad(Wr) = {DWR}", f"grad(Wr) = {DWR.replace('axis=0', 'axis=1')}"),
], ids=["pointer-axis", "pointer-weight", "gatv2-axis"])
def test_the_reader_reads_a_rank3_sum_against_a_matrix_and_catches_damage(run, path, good, bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)
