"""Issue 12's einsum leftovers, session 30: forms a textbook writes, each pinned as printed.

- a closed form continues its chain form's left side, so it is written per element of the
  same batch: attention_pool_query's ∂L/∂a_b = X_b ∂L/∂p_b once printed its index form's
  closed form read for each t, ``(1/B) rowsum(X_t ⊙ …)``, under the left side ∂L/∂a_b (and a
  temporary ``t1_t``, the letter t of the dim T beside the temporaries' t1, t2); it is now
  the matrix level's, per b: ``X_b t1_b, where t1 = (1/B) (softmax(p W) − onehot(lab)) Wᵀ``;
- a row of a function along a matrix's rows is a vector element (softmax(lp)_nk, the batch
  n: the row n of softmax(lp) is softmax(lp_n)), so gmm_diag_loglik's closed forms read per
  n: ``∂L/∂Z_n = (1/N) Z_n ⊙ softmax(lp_n)`` (was per d, ``(1/N) Z_d ⊙ softmax(lp)`` under
  the left side ∂L/∂Z_n), ``∂L/∂X_n = (1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))``
  (was a temporary ``t1_d``);
- a closed form written per element under a whole chain form (or whole under a chain form
  per element) prints its own left side: ``∂L/∂X = reshape(∂L/∂Xr, [N, D])`` then
  ``∂L/∂X_n = …``, never ``= … Z_d …`` with d bound by nothing;
- a tensor at only some of the batch indices is the same along the others: grouped-query
  and multi-query attention share keys and values across query heads (V_ij′km beside
  A_ikljj′, the batch i, k, l), read per element as ``O_bgr = A_bgr V_bg`` and
  ``S_bh = (1/√Dh) Q_bh K_bᵀ`` (were einsum), the note saying ``V_bg, with no letter r, is
  the same for every r``; an element at an axis whose dim the tensor has twice and not
  leading (A_bt of A: [B, H, T, T]) is refused, its subscript would not say which axis;
- a whole upstream closed form in NumPy's reading (reshape((2/(B D T)) Y Woᵀ, [B, T, H,
  Dh]) of Y: [B, T, D]) read per element is named as a temporary, as multi-head
  attention's is: ``∂L/∂A_bh = t3_bh V_bᵀ, where t3 = reshape((2/(B D T)) Y Woᵀ, …)``
  (was einsum).

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


def test_a_closed_form_is_written_per_element_of_its_chain_forms_batch(run):
    text = _expanded(run, "more7/attention_pool_query")
    assert "  ∂L/∂a_b   = X_b ∂L/∂p_b\n            = X_b t1_b\n" \
        "              where t1 = (1/B) (softmax(p W) − onehot(lab)) Wᵀ\n" in text, text
    assert "X_t" not in text and "t1_t" not in text


def test_a_row_of_a_softmax_is_the_softmax_of_the_row(run):
    text = _expanded(run, "more8/gmm_diag_loglik")
    for want in ["  ∂L/∂Z_n     = −∂L/∂lp_n ⊙ Z_n\n              = (1/N) Z_n ⊙ softmax(lp_n)\n",
                 "  ∂L/∂Xr      = colsum(∂L/∂Z ⊘ exp(logs))ᵀ\n"
                 "  ∂L/∂Xr_n    = (1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))ᵀ\n",
                 "  ∂L/∂X       = reshape(∂L/∂Xr, [N, D])\n"
                 "  ∂L/∂X_n     = (1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))\n",
                 "  ∂L/∂mu      = −Σ_n ∂L/∂Z_n ⊘ exp(logs)\n"
                 "              = −(1/N) Σ_n Z_n ⊙ softmax(lp_n) ⊘ exp(logs)\n"]:
        assert want in text, text
    backward = text.split("Backward")[1].split("Gradients")[0]
    assert "Z_d" not in backward and "where" not in backward


def test_a_closed_forms_own_left_side_in_every_layout(run):
    spec = str(MODELS / "more8/gmm_diag_loglik.yaml")
    md = run("derive", spec, "-f", "markdown").stdout
    assert "closed form: ∂L/∂X_n = (1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))\n" in md
    tex = run("derive", spec, "--expand", "--latex").stdout
    assert r"\frac{\partial L}{\partial X_{n}} &= " in tex or \
        r"\bar{X}_{n} &= " in tex, tex
    html = run("derive", spec, "-f", "html").stdout
    assert '<td class="lhs"><math displaystyle="true"><mfrac><mrow><mo>∂</mo><mi>L</mi></mrow>' \
        '<mrow><mo>∂</mo><msub><mrow><mi class="word">Xr</mi></mrow><mrow><mi>n</mi>' in html
    from einderive.api import derive_file
    from einderive.render.sheet import build
    rows = {a.name: a for a in build(derive_file(spec)).adjoints}
    assert rows["X"].closed is not None and rows["X"].closed.lhs != ""
    assert rows["mu"].closed is not None and rows["mu"].closed.lhs == ""


def test_shared_keys_and_values_read_per_element(run):
    gqa = _expanded(run, "more8/gqa_grouped")
    for want in ["  O_bgr    = A_bgr V_bg\n", "  ∂L/∂A_bgr    = ∂L/∂O_bgr V_bgᵀ\n",
                 "  ∂L/∂Q_bgr    = (A_bgr ⊙ (∂L/∂A_bgr − rowsum(∂L/∂A_bgr ⊙ A_bgr))) K_bg\n"]:
        assert want in gqa, gqa
    assert "V_bg, with no letter r, is the same for every r." in " ".join(gqa.split())
    assert "O = einsum" not in gqa and "∂L/∂Q = einsum" not in gqa
    mqa = _expanded(run, "more8/mqa_einsum_heads")
    for want in ["  S_bh    = (1/√Dh) Q_bh K_bᵀ\n", "  O_bh    = A_bh V_b\n",
                 "  ∂L/∂A_bh    = ∂L/∂O_bh V_bᵀ\n", "  ∂L/∂Q_bh    = (1/√Dh) ∂L/∂S_bh K_b\n"]:
        assert want in mqa, mqa
    assert "K_b, with no letter h, is the same for every h." in " ".join(mqa.split())
    assert "A_bt" not in mqa  # A: [B, H, T, T]: which T axis would t be?
    assert "  ∂L/∂A_bh    = ∂L/∂O_bh V_bᵀ\n              = t3_bh V_bᵀ\n" \
        "                where t3 = permute((2/(B D T)) reshape(Y Woᵀ, [B, T, H, Dh]),\n" \
        "                (0, 2, 1, 3))\n" in mqa  # (fx4: t3_bh is t3[b, h, :, :])
    # (fx4: each temporary permuted to lead with the batch, t4_bgr = t4[b, g, r, :, :])
    assert "  ∂L/∂A_bgr    = ∂L/∂O_bgr V_bgᵀ\n               = 2 (t5_bgr − t4_bgr) V_bgᵀ\n" \
        "                 where t4 = permute(reshape(y, [B, T, G, R, Dh]), (0, 2, 3, 1,\n" \
        "                 4))\n" in gqa
    # the shared factor broadcast over the query heads in the generated code
    code = run("derive", str(MODELS / "more8/gqa_grouped.yaml"), "-f", "numpy").stdout
    assert "np.moveaxis(V, (0, 2), (0, 1))[:, :, None, ...]" in code, code


def test_a_broadcast_of_a_partial_element_is_left_to_numpy(run):
    """𝟙[Z_bopq = g_bop] (g pooled over q) is a broadcast, not a product: conv2d_ce's
    ∂L/∂Z stays NumPy's whole form, never per element (p, q) with g_p."""
    text = _expanded(run, "more/conv2d_ce")
    assert "  ∂L/∂Z       = (1/Ho) 𝟙[Z = reshape(g, [B, O, Ho, 1])] ⊙ reshape(softmax(h) ⊙\n" \
        in text, text


@pytest.mark.parametrize("name", ["more7/attention_pool_query", "more8/gmm_diag_loglik",
                                  "more8/gqa_grouped", "more8/mqa_einsum_heads",
                                  "more/conv2d_ce", "more/reshape_row_batch"])
def test_the_specs_verify(run, name):
    r = run("verify", str(MODELS / f"{name}.yaml"))
    assert r.exit_code == 0, r.output
    assert "match finite differences in every printed form" in " ".join(r.output.split())
