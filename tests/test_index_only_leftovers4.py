"""Issue 12's index-only leftovers (session 31): adjoints that printed their index form alone
now print a matrix form, each proved by verify (finite differences against every printed
form, at the spec's sizes and at distinct others) and pinned here as printed.

- a delta of a summed index shifted past its range, δ(0, k + 1) for k = 0 .. K − 1 (the
  columns of a concatenation after its first, read back from a one-hot at column 0), is
  never 1: dropped in the index form, the rest reads as a slice's product;
- a number at one position of an axis, −(1/B) δ_{0, l} beside softmax(lg)_il, is that
  number times a column of ones placed there: −(1/B) pad(𝟏, 0:1, axis=1);
- a position a dim states (the last step X[:, T1:T, :], T1 = T − 1) is a position as a
  literal is: the slice slice(X, :, T1:T), its adjoint pad(…, T1:T, axis=1);
- a table gathered at a matrix of integers (tbl[bk], bk: [T, T]) scatters its adjoint row
  by row, Σ_t onehot(bk_t)ᵀ ∂L/∂S_t, as an embedding of token rows does; its code one
  scatter_add of the flattened integers and entries (no one-hot array); the same rows read
  an embedding merged into one row per sequence (reshape(E[tok], [B, TD]) @ w):
  Σ_b (1 − tanh(wᵀ X_b)²)·onehot(tok_b)ᵀ reshape(w, [T, D]);
- a named tensor's adjoint stays named in an unnamed piece of it (the first half of a
  rotary embedding's concatenation was given ∂L/∂Kr written out, the second its name): both
  halves read ∂L/∂Kr, and ∂L/∂K is pads of its slices;
- an axis read at a flat index of another index's digit and a plain one (P_{i, ⌊l/R⌋,
  p·R + (l mod R)} in a PixelShuffle's adjoint) is that axis split, permuted and merged
  again: t2 = reshape(permute(reshape(P, [B, C, To, R]), (0, 1, 3, 2)), [B, CR, To]);
- the same named adjoint in a concatenation's unnamed piece of three axes (Z =
  concatenate([X @ W, C], axis=2)): ∂L/∂X = slice(∂L/∂Z, :, :, 0:D) Wᵀ, no function of a
  whole axis read over part of it;
- a sum over the batch under one range of a free index (∂L/∂Pe of H = X + Pe[0:T]) is read
  whole, then padded: pad(Σ_b (…)_b Wᵀ, 0:T, axis=0).
"""

from __future__ import annotations

from conftest import forms
from einderive.api import render
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified


def _no_index_only(d) -> None:
    out = plain(d)
    assert "no matrix form" not in out, out
    assert "written with einsum" not in out, out


def test_a_delta_shifted_past_its_sums_range_is_dropped():
    """Σ_k (a_k − δ(0, k + 1)) over k = 0 .. K − 1 is Σ_k a_k: k + 1 is never 0 there (the
    adjoint of a concatenation's columns after its first, with ∂L/∂lg written out in it)."""
    from sympy import IndexedBase, KroneckerDelta, Symbol, Sum
    from einderive.indexed import collapse
    k, i = Symbol("k"), Symbol("i")
    K = Symbol("K", integer=True, positive=True)
    a, g = IndexedBase("a"), IndexedBase("g")
    e = Sum((a[i, k + 1] - KroneckerDelta(0, k + 1, evaluate=False)) * g[k], (k, 0, K - 1))
    out = collapse(e)
    assert not out.atoms(KroneckerDelta), out
    assert out == Sum(a[i, k + 1] * g[k], (k, 0, K - 1))
    # at the range's edge it stays: δ(K, k + 1) is 1 at k = K − 1
    kept = Sum(KroneckerDelta(K, k + 1, evaluate=False) * g[k], (k, 0, K - 1))
    assert collapse(kept).atoms(KroneckerDelta) or collapse(kept) != 0


def test_a_number_at_one_position_is_a_padded_column_of_ones():
    d = _derive("models/more11/moco_queue_infonce.yaml")
    # was the index forms alone: (1/B) (softmax(lg)_il − δ_{0, l}) and, for q,
    # Σ_k (softmax(lg)_{i, k + 1} − δ_{0, k + 1}) Qn_kj
    assert forms(d, "lg") == ("(1/B) (softmax(lg)_il − δ_{0, l})",
                              "(1/B) (softmax(lg) − pad(𝟏, 0:1, axis=1))")
    assert forms(d, "q") == (
        "(100/7) kp_ij ∂L/∂lg_{i, 0} + (100/7) Σ_k ∂L/∂lg_{i, k + 1} Qn_kj",
        "(100/7) (kp ⊙ take(∂L/∂lg, 0, axis=1) + slice(∂L/∂lg, :, 1:K + 1) Qn)")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "D": 3, "K": 7}, seed=2)
    code = render(d, "numpy")
    assert "d_lg = 1 / B * (softmax(lg) - np.pad(" in code, code
    assert "d_lg[:, 1:K + 1] @ Qn" in code, code


def test_the_last_step_at_a_position_a_dim_states_is_a_slice_and_its_pad():
    d = _derive("regressions/last_row_slice.yaml")
    out = plain(d)
    # was x0_ik = X_{i, T1, k} alone, and ∂L/∂X index-only (δ_{T1, j})
    assert "  x0    = reshape(slice(X, :, T1:T), [B, D])\n" in out, out
    assert forms(d, "X")[1] == ("pad(reshape(x1 ⊙ wᵀ, [B, 1, D]), T1:T, axis=1) + "
                                "pad(reshape(x0 ⊙ wᵀ, [B, 1, D]), 0:1, axis=1)")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 5, "D": 2}, seed=2)
    code = render(d, "numpy")
    assert "np.pad(np.reshape(x1 * w, (B, 1, D)), ((0, 0), (T1, 0), (0, 0)))" in code, code


def test_the_last_step_of_a_matrix_reads_as_a_slice_and_a_pad():
    d = _derive("regressions/last_step_slices_2d.yaml")
    assert forms(d, "u")[1] == "∂L/∂a ⊙ slice(H, :, T1:T)"
    assert forms(d, "H")[1] == "pad(∂L/∂a ⊙ u, T1:T, axis=1) + pad(a, 0:1, axis=1)"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 4}, seed=3)


def test_a_table_gathered_at_a_matrix_of_integers_scatters_row_by_row():
    d = _derive("models/more11/t5_bucket_bias.yaml")
    # was δ_(k,bk_ii′) ∂L/∂S_ii′ alone
    assert forms(d, "tbl")[1] == "Σ_t onehot(bk_t)ᵀ ∂L/∂S_t"
    # (its closed form's element; the note's lines wrap where its words fall)
    assert "S_t is the column S[t, :]." in " ".join(plain(d).split())
    _no_index_only(d)
    _verified(d)
    _verified(d, {"T": 3, "D": 2, "NB": 7}, seed=3)
    code = render(d, "numpy")
    assert "d_tbl = scatter_add(np.reshape(bk, (-1,)), np.reshape(d_S, (-1,)), NB)" in code, \
        code
    assert "np.eye(NB)" not in code, code
    torch_code = render(d, "torch")
    assert "index_add_(0, torch.reshape(bk, (-1,)).long(), torch.reshape(d_S, (-1,)))" in \
        torch_code, torch_code


def test_token_rows_merged_into_one_row_scatter_the_reshaped_weight():
    d = _derive("regressions/lookup_reshaped.yaml")
    # was Σ_j w_{j·D + m} Σ_i δ_(l,tok_ij) (1 − tanh(Σ_k w_k X_ik)²) alone
    assert forms(d, "E")[1] == "Σ_b (1 − tanh(wᵀ X_b)²)·onehot(tok_b)ᵀ reshape(w, [T, D])"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 2, "V": 5, "D": 3}, seed=4)


def test_a_rotary_halfs_adjoint_reads_the_named_rotation_in_both_halves():
    d = _derive("models/more10/rope_rotate_half.yaml")
    # was C_ik (Σ_i′ (…) Qr_i′k softmax(…)_i′i) 𝟙[0 ≤ k < H] − … + ∂L/∂Kr_ik C_{i, k − H} …
    assert forms(d, "K") == (
        "∂L/∂Kr_ik C_ik 𝟙[0 ≤ k < H] − ∂L/∂Kr_{i, k − H} Sn_{i, k − H} 𝟙[H ≤ k < D] + "
        "∂L/∂Kr_ik C_{i, k − H} 𝟙[H ≤ k < D] + ∂L/∂Kr_{i, k + H} Sn_ik 𝟙[0 ≤ k < H]",
        "pad(C ⊙ slice(∂L/∂Kr, :, 0:H), 0:H, axis=1) − pad(Sn ⊙ slice(∂L/∂Kr, :, 0:H), H:D, "
        "axis=1) + ∂L/∂Kr ⊙ pad(C, H:D, axis=1) + pad(Sn ⊙ slice(∂L/∂Kr, :, H:D), 0:H, "
        "axis=1)")
    assert forms(d, "Wq")[1] == "Xᵀ ∂L/∂Q"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"T": 3, "H": 3}, seed=5)


def test_a_pixel_shuffles_adjoint_is_the_inverse_reshape_permute_reshape():
    d = _derive("models/more11/pixel_shuffle_1d.yaml")
    # was 2 (P_{i, ⌊l/R⌋, p·R + (l mod R)} − Y_{…}) alone, and ∂L/∂X, ∂L/∂W without closed forms
    out = plain(d)
    # (one view of P − Y, a view being linear: was 2 (t2 − t1), the views of P and of Y)
    assert "  ∂L/∂H     = 2 t1\n" in out, out
    assert "where t1 = reshape(permute(reshape(P − Y, [B, C, To, R]), (0, 1,\n" \
        "              3, 2)), [B, CR, To])" in out, out
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "C": 3, "R": 2, "T": 5}, seed=2)
    code = render(d, "numpy")
    assert "np.reshape(np.transpose(np.reshape(P - Y, (B, C, To, R)), (0, 1, 3, 2)), " \
        "(B, CR, To))" in code, code


def test_a_two_dimensional_pixel_shuffles_adjoint_reads_back_its_six_axes():
    d = _derive("regressions/pixel_shuffle_index_precedence.yaml")
    # (one view of Y ⊙ (P − Y): it printed 2 t1 ⊙ (t2 − t1), t1 and t2 that view of Y, P)
    assert forms(d, "Xs")[1] == "2 t1"
    assert "where t1 = reshape(permute(reshape(Y ⊙ (P − Y), [B, C, H, R, W_, R]), (0, 1, 3, " \
        "5, 2, 4)), [B, CRR, H, W_])" in " ".join(plain(d).split())
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "C": 3, "R": 2, "H": 3, "W_": 2}, seed=3)


def test_a_joined_axis_piece_reads_the_named_adjoints_slice():
    d = _derive("regressions/reduced_function_of_joined_axis.yaml")
    # was 2 Σ_k′ W_kk′ logsumexp(Z, axis=1)_ik′ softmax(Z, axis=1)_ijk′ alone
    assert forms(d, "X") == ("∂L/∂Z_ijk′ W_kk′", "slice(∂L/∂Z, :, :, 0:D) Wᵀ")
    assert forms(d, "W")[1] == "Σ_b X_bᵀ t1_b"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "T": 2, "D": 3}, seed=2)


def test_a_batch_sum_under_a_range_is_padded_whole():
    d = _derive("models/more/slice_axis0_rank3.yaml")
    assert forms(d, "Pe")[1] == (
        "2 pad(Σ_b (tanh(H_b W) ⊙ (1 − tanh(H_b W)^∘2)) Wᵀ, 0:T, axis=0) + "
        "pad(slice(Pe, 1:T + 1), 0:T, axis=0) + pad(slice(Pe, 0:T), 1:T + 1, axis=0)")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"T": 2, "B": 3, "D": 3, "Tmax": 4}, seed=2)
    code = render(d, "numpy")
    assert "2 * np.pad(np.sum(np.tanh(H @ W) * (1 - np.tanh(H @ W) ** 2) @ " \
        "W.swapaxes(-1, -2), axis=0), ((0, Tmax - T), (0, 0)))" in code, code


def test_a_pixel_shuffle_read_back_whole_and_inside_products():
    d = _derive("regressions/pixel_shuffle_whole_read.yaml")
    # on main all three were index-only
    assert forms(d, "G")[1] == \
        "reshape(permute(reshape(Y, [B, C, T, R]), (0, 1, 3, 2)), [B, CR, T])"
    assert forms(d, "H")[1] == "(t1 ⊙ (1 − tanh(H W)^∘2)) Wᵀ"
    assert forms(d, "W")[1] == "Σ_b H_bᵀ (t1_b ⊙ (1 − tanh(H_b W)^∘2))"
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 3, "C": 3, "R": 2, "T": 3}, seed=6)
