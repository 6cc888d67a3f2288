"""Issue 12's einsum leftovers, session 31: forms a textbook writes, each pinned as printed.

- a sum over the head axis a shared factor lacks, inside each element: grouped-query
  attention's keys and values are shared by the R query heads of a group, so their
  adjoints add the query heads' (``∂L/∂V_ijkm = A_iklj′j ∂L/∂O_ij′klm``, l summed inside
  the element i, k): ``∂L/∂V_bg = Σ_r A_bgrᵀ ∂L/∂O_bgr`` and ``∂L/∂K_bg = Σ_r (A_bgr ⊙ (…))ᵀ
  Q_bgr`` (were einsum), multi-query attention's ``∂L/∂V_b = Σ_h A_bhᵀ ∂L/∂O_bh``; the
  closed forms of ∂L/∂Wk and ∂L/∂Wv follow (were "no closed form"), and the code sums the
  element's inner axis alone.

- a window along the batch axis itself is a slice of the whole tensor, each element the
  shifted element (∂L/∂Z_{j + A, k, l} in the element j): concat_axis0_rank3's
  ``∂L/∂Y = 3 Y ⊙ Y + slice(∂L/∂Z, A:AB) Wᵀ`` and ``∂L/∂W = Σ_b Y_bᵀ t1_b, where t1 =
  slice(∂L/∂Z, A:AB)`` (were einsum);
- element by element, a reshape read at a batch of other axes is a temporary (ein2's
  reverted 506d6b8, with what it lacked): gain_before_heads' ``∂L/∂A_bh = 2 t1_bh V_bhᵀ,
  where t1 = reshape(O, [B, T, H, Dh])``, mqa_head_axis' ``∂L/∂A = 2 O Wo t1ᵀ Vᵀ, where t1 =
  reshape(Wo, [H, Dh, D])``, swin_partition_reshape's ∂L/∂Xw (were einsum); multi-head
  attention's closed forms keep the chain form's line, ``t1_h V_hᵀ, where t1 = reshape(G
  Woᵀ, [T, H, Dh])``, over a weight split anew (``G t1_hᵀ V_hᵀ, where t1 = reshape(Wo, …)``);
  and the code of a reshape of a batched form keeps each row sum a column
  (prenorm_transformer_block's closed forms failed verify with a broadcast error);
- factors summed over an axis only whole tensors of three or more axes read, all alike,
  are NumPy's sum over that axis: concat_stack_mix's ``sum(S ⊙ softmax(S, axis=0),
  axis=0)`` (was einsum('lij,lij->ij', S, softmax(S, axis=0))).

Every spec here passes ``einderive verify`` (every printed form, closed ones included).
"""

from __future__ import annotations

import pytest
from test_einsum_leftovers3 import MODELS, _expanded


def test_shared_values_sum_the_query_heads_inside_each_element(run):
    gqa = _expanded(run, "more8/gqa_grouped")
    for want in [
            "  ∂L/∂V_bg     = Σ_r A_bgrᵀ ∂L/∂O_bgr\n"
            "               = Σ_r A_bgrᵀ t6_bgr\n"
            "                 where t6 = permute(2 reshape(O2 − y, [B, T, G, R, Dh]), (0, 2,\n"
            "                 3, 1, 4))\n",  # (fx4: t6_bgr is t6[b, g, r, :, :])
            "  ∂L/∂K_bg     = Σ_r (A_bgr ⊙ (∂L/∂A_bgr − rowsum(∂L/∂A_bgr ⊙ A_bgr)))ᵀ Q_bgr\n"
            "               = Σ_r (A_bgr ⊙ (t7_bgr − rowsum(t7_bgr ⊙ A_bgr)))ᵀ Q_bgr\n",
            "  ∂L/∂Wv       = Σ_b X_bᵀ t3_b\n               = Σ_b X_bᵀ t13_b\n",
            "                 where t10_bg = Σ_r A_bgrᵀ t6_bgr\n"]:
        assert want in gqa, gqa
    backward = gqa.split("Backward")[1]  # (the forward's inline scores stay einsum)
    assert "einsum(" not in backward and "no closed form" not in backward, gqa
    assert "note: ∂L/∂" not in gqa  # no adjoint is written with einsum
    # the sum inside each element is no sum over the batch: no note calls A_r an element
    assert "Σ_r A_r" not in gqa and "Σ_b X_b adds the matrices X_b" in " ".join(gqa.split())
    mqa = _expanded(run, "more8/mqa_einsum_heads")
    for want in ["  ∂L/∂V_b     = Σ_h A_bhᵀ ∂L/∂O_bh\n",
                 "  ∂L/∂K_b     = (1/√Dh) Σ_h (∂L/∂S_bh)ᵀ Q_bh\n",
                 "  ∂L/∂Wv      = Σ_b X_bᵀ ∂L/∂V_b\n              = Σ_b X_bᵀ t7_b\n"
                 "                where t3 = permute((2/(B D T)) reshape(Y Woᵀ, [B, T, H, Dh]),\n"
                 "                (0, 2, 1, 3))\n"  # (fx4: t3_bh is t3[b, h, :, :])
                 "                where t7_b = Σ_h A_bhᵀ t3_bh\n"]:
        assert want in mqa, mqa
    assert "einsum(" not in mqa and "with einsum" not in mqa and "no closed form" not in mqa, mqa


def test_the_inner_sum_is_over_the_elements_own_axis_in_code(run):
    """Σ_h inside the element b: the heads' axis summed, the batch's kept (d_V: [B, T, Dh])."""
    code = run("derive", str(MODELS / "more8/mqa_einsum_heads.yaml"), "-f", "numpy").stdout
    assert "d_V = np.sum(A.swapaxes(-1, -2) @ np.moveaxis(d_O, (0, 2), (0, 1)), axis=1)" \
        in code, code
    torch = run("derive", str(MODELS / "more8/gqa_grouped.yaml"), "-f", "torch").stdout
    for text in (code, torch):  # (the forward computes as the spec wrote it)
        adjoints = [ln for ln in text.splitlines() if ln.strip().startswith("d_")]
        assert adjoints and not any("einsum(" in ln for ln in adjoints), adjoints


def test_a_window_along_the_batch_axis_is_a_slice_of_the_whole_tensor(run):
    text = _expanded(run, "more/concat_axis0_rank3")
    for want in ["  ∂L/∂Y     = 3 Y ⊙ Y + slice(∂L/∂Z, A:AB) Wᵀ\n",
                 "  ∂L/∂W     = Σ_b Y_bᵀ t1_b\n            = Σ_b Y_bᵀ t2_b\n"
                 "              where t1 = slice(∂L/∂Z, A:AB)\n"]:
        assert want in text, text
    assert "einsum" not in text, text
    code = run("derive", str(MODELS / "more/concat_axis0_rank3.yaml"), "-f", "numpy").stdout
    # (the where-clause assigned once before the line that reads it, since stop 34)
    (line,) = [ln for ln in code.splitlines() if ln.strip().startswith("d_W = ")]
    (clause,) = [ln for ln in code.splitlines() if ln.strip().startswith("t1 = ")]
    assert "einsum" not in line and "@ t1" in line and clause.strip() == "t1 = d_Z[A:AB]", code


def test_a_reshape_at_a_batch_of_other_axes_is_a_temporary(run):
    heads = _expanded(run, "../regressions/gain_before_heads")
    # (fx4: permuted to lead with the batch, so that no subscript reads t1[b, :, h, :])
    assert "  ∂L/∂A       = 2 t1 Vᵀ\n" \
        "                where t1 = permute(reshape(O, [B, T, H, Dh]), (0, 2, 1, 3))\n" in heads, heads
    mqa = _expanded(run, "more9/mqa_head_axis")
    assert "  ∂L/∂A      = 2 O Wo t1ᵀ Vᵀ\n               where t1 = reshape(Wo, [H, Dh, D])\n" \
        in mqa, mqa
    swin = _expanded(run, "more11/swin_partition_reshape")
    assert "where t1 = reshape(O, [NW, S, D])" in swin, swin
    for text in (heads, mqa, swin):
        assert "einsum" not in text.split("Backward")[1], text
    # the element note says what a tensor's element is, never a temporary's
    assert "t1_bh is the matrix" not in " ".join(heads.split())


def test_multihead_attention_keeps_the_chain_forms_line(run):
    text = run("derive", str(MODELS.parent.parent / "specs/multihead_attention.yaml"),
               "--expand").stdout
    assert "  ∂L/∂A_h    = ∂L/∂O_h V_hᵀ\n             = t1_h V_hᵀ\n" \
        "               where t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))\n" in text, text
    assert "reshape(Wo, [H, Dh, D])" not in text


def test_a_sum_over_an_axis_of_whole_tensors_read_alike(run):
    text = _expanded(run, "more/concat_stack_mix")
    assert "  ∂L/∂C     = (take(softmax(S, axis=0), 0, axis=0) ⊙ (1 + take(S, 0, axis=0) −\n" \
        "              sum(S ⊙ softmax(S, axis=0), axis=0))) Wᵀ\n" in text, text
    assert "einsum" not in text, text


@pytest.mark.parametrize("name", ["more8/gqa_grouped", "more8/mqa_einsum_heads",
                                  "more9/mqa_head_axis", "more/concat_axis0_rank3",
                                  "../regressions/concatenated_piece_ranges",
                                  "../regressions/gain_before_heads",
                                  "more9/prenorm_transformer_block",
                                  "more11/swin_partition_reshape", "more/concat_stack_mix"])
def test_the_specs_verify(run, name):
    r = run("verify", str(MODELS / f"{name}.yaml"))
    assert r.exit_code == 0, r.output
    assert "match finite differences in every printed form" in " ".join(r.output.split())


@pytest.mark.parametrize("name", ["more8/gqa_grouped", "more8/mqa_einsum_heads",
                                  "more/concat_axis0_rank3", "more/concat_stack_mix",
                                  "more9/mqa_head_axis", "../regressions/gain_before_heads"])
def test_the_printed_forms_read_back_to_the_reference(run, name):
    """The notation reader (tests/notation_reader.py) evaluates each printed line as NumPy
    reads it (Σ_r inside each element b, g: the axis of r summed alone)."""
    from test_printed_forms import failures
    bad = failures(MODELS / f"{name}.yaml", run)
    assert not bad, "\n".join(bad)
