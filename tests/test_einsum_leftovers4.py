"""Issue 12's einsum leftovers, session 31: forms a textbook writes, each pinned as printed.

- a sum over the head axis a shared factor lacks, inside each element: grouped-query
  attention's keys and values are shared by the R query heads of a group, so their
  adjoints add the query heads' (``∂L/∂V_ijkm = A_iklj′j ∂L/∂O_ij′klm``, l summed inside
  the element i, k): ``∂L/∂V_bg = Σ_r A_bgrᵀ ∂L/∂O_bgr`` and ``∂L/∂K_bg = Σ_r (A_bgr ⊙ (…))ᵀ
  Q_bgr`` (were einsum), multi-query attention's ``∂L/∂V_b = Σ_h A_bhᵀ ∂L/∂O_bh``; the
  closed forms of ∂L/∂Wk and ∂L/∂Wv follow (were "no closed form"), and the code sums the
  element's inner axis alone.

Every spec here passes ``einderive verify`` (every printed form, closed ones included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODELS = Path(__file__).parent / "models"


def _expanded(run, name: str) -> str:
    out = run("derive", str(MODELS / f"{name}.yaml"), "--expand")
    assert out.exit_code == 0, out.output
    return out.stdout


def test_shared_values_sum_the_query_heads_inside_each_element(run):
    gqa = _expanded(run, "more8/gqa_grouped")
    for want in [
            "  ∂L/∂V_bg     = Σ_r A_bgrᵀ ∂L/∂O_bgr\n"
            "               = Σ_r A_bgrᵀ t4_bgr\n"
            "                 where t4 = reshape(2 O2 − 2 y, [B, T, G, R, Dh])\n",
            "  ∂L/∂K_bg     = Σ_r (A_bgr ⊙ (∂L/∂A_bgr − rowsum(∂L/∂A_bgr ⊙ A_bgr)))ᵀ Q_bgr\n"
            "               = Σ_r (A_bgr ⊙ (t5_bgr − rowsum(t5_bgr ⊙ A_bgr)))ᵀ Q_bgr\n",
            "  ∂L/∂Wv       = Σ_b X_bᵀ t3_b\n               = Σ_b X_bᵀ t11_b\n",
            "                 where t8_bg = Σ_r A_bgrᵀ t4_bgr\n"]:
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


@pytest.mark.parametrize("name", ["more8/gqa_grouped", "more8/mqa_einsum_heads",
                                  "more9/mqa_head_axis"])
def test_the_specs_verify(run, name):
    r = run("verify", str(MODELS / f"{name}.yaml"))
    assert r.exit_code == 0, r.output
    assert "match finite differences in every printed form" in " ".join(r.output.split())
