"""What ``einderive derive --expand`` prints is proven too: each closed form (an adjoint with
its upstream adjoints substituted, ``  ∂L/∂W = ∂L/∂z xᵀ`` then ``= −2 (e ⊙ y ⊙ (1 − y)) xᵀ``
under it) is read back by the independent reader (tests/notation_reader.py) and compared with
the reference, as tests/test_printed_forms.py reads the other lines (which it checks already:
here the closed forms alone).  Until stop 42 no test read them: a wrong closed form (a row
softmax's ``(V Gᵀ + (1/10) log(Pᵀ)) Pᵀ``, an undefined product) passed every reading test and
only ``einderive verify`` caught it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch_reference as R
from conftest import SPEC_FILES
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import MODELS, REGRESSIONS, env_for, failures, with_temporaries
from test_printed_forms import _cases as cases_of

TESTS = Path(__file__).resolve().parent

# Reader limits (a closed form the reader cannot read that verify passes), one line each;
# strict so that a reader taught to read it shows up.
XFAIL: dict[str, str] = {  # (tests/models/more*, read with EINDERIVE_MORE_MODELS=1)
    "diag_products": "the reader sizes no 𝐈 in a sum's first term: v ⊙ (vᵀ + 𝐈) + det(…)·(…)⁻ᵀ "
                     "(I with no size; the chain form, its terms the other way, reads)",
    "rope_batched_rank3": "the reader sizes no pad of a matrix in a product with a rank-3 "
                          "tensor: X ⊙ t5 ⊙ pad(C, H:D, axis=1) (pad 5:10 with no size)",
    "realnvp_coupling_nll": "the reader reads no pad of a value with a 𝟏 in it: "
                            "pad((… − (1/B) 𝟏) ⊙ (1 − s ⊙ s)) Wsᵀ + …, 0:H, axis=1)",
    "t5_bucket_bias": "the reader reads no onehot of a batch element in a batch sum: "
                      "2 Σ_t colsum(softmax(S_t) ⊙ (…) ⊙ onehot(bk_t))",
}


def _cases(paths):
    return cases_of(paths, XFAIL)


@pytest.mark.parametrize("path", _cases(SPEC_FILES + MODELS + REGRESSIONS))
def test_closed_forms_read_back_to_the_reference(path, run):
    bad = failures(path, run, expand=True, only=("closed",))
    assert not bad, "\n".join(bad)


ALL_MORE = sorted((TESTS / "models").glob("more*/*.yaml"))


@pytest.mark.parametrize("path", _cases(
    [p for p in ALL_MORE if os.environ.get("EINDERIVE_MORE_MODELS")]))
def test_more_closed_forms_read_back_to_the_reference(path, run):
    """Every spec of tests/models/more*/ with EINDERIVE_MORE_MODELS=1 (as
    test_printed_forms.test_more_printed_forms_read_back_to_the_reference)."""
    bad = failures(path, run, expand=True, only=("closed",))
    assert not bad, "\n".join(bad)


# -- the text is split as printed: each closed form found, with its left side -----------------

def _expanded(run, path: Path) -> str:
    r = run("derive", path, "--expand")
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("rel", [
    "specs/mlp.yaml",  # '= …' under the matrix form
    "tests/models/einsum_batched.yaml",  # ∂L/∂X_b = … under ∂L/∂X = …, and '= …' under ∂L/∂Y_t
    "tests/models/more10/rope_batched_rank3.yaml",  # (no closed form: …), wrapped
    "tests/regressions/pixel_shuffle_index_precedence.yaml",  # its where t2 = 2 t1
])
def test_every_closed_form_is_an_entry(rel, run):
    """The entries of section 'closed' are the closed forms the derivation prints, one each,
    and the words saying why one is left out are no part of an equation."""
    from einderive.api import derive_file
    from einderive.render.sheet import build
    path = TESTS.parent / rel
    found = entries(_expanded(run, path), expand=True)
    sheet = build(derive_file(str(path)))
    assert sum(s == "closed" for s, _ in found) == \
        sum(a.closed is not None for a in sheet.adjoints)
    assert sum(s == "omitted" for s, _ in found) == \
        sum(a.closed is None and bool(a.closed_omitted) for a in sheet.adjoints)
    assert not any("(no closed form" in line or "(its closed form" in line
                   for s, line in found if s != "omitted")
    # the other equations are those `derive` prints without --expand, each whole
    chain = run("derive", path).output
    assert [e for e in found if e[0] not in ("closed", "omitted", "where")] == \
        [e for e in entries(chain, expand=True) if e[0] != "where"]


def test_closed_entries_of_mlp(run):
    found = entries(_expanded(run, TESTS.parent / "specs" / "mlp.yaml"), expand=True)
    assert [line for s, line in found if s == "closed"] == [
        "∂L/∂z = −2 e ⊙ y ⊙ (1 − y)",
        "∂L/∂W = −2 (e ⊙ y ⊙ (1 − y)) xᵀ",
        "∂L/∂x = −2 Wᵀ (e ⊙ y ⊙ (1 − y))"]
    closed = [line for s, line in entries(_expanded(run, TESTS / "models" / "einsum_batched.yaml"),
                                          expand=True) if s == "closed"]
    assert "∂L/∂X_b = 2 Z_b·(Vᵀ ⊙ (1 − tanh(Y_b)^∘2)) A_bᵀ" in closed
    assert "∂L/∂Y_t = 2 Z ⊙ V_tᵀ ⊙ (1 − tanh(Y_t)^∘2)" in closed


# -- the reader can fail: damaged closed forms are rejected --------------------------------

def _env(rel: str, run):
    """The reference of ``rel`` knowing the where-temporaries its ``--expand`` text defines."""
    from einderive.api import derive_file
    path = TESTS.parent / rel
    d = derive_file(str(path))
    found = entries(_expanded(run, path), expand=True)
    return with_temporaries(d, env_for(d, R.reference(d.graph, seed=1)), found), found


_Q = "∂L/∂q = (P ⊙ (G Vᵀ + (1/10) log(P) − P (V Gᵀ + (1/10) log(Pᵀ)))) K"
# (its repeated V Gᵀ + (1/10) log(Pᵀ) named once, t1, ls5)
_K = "∂L/∂K = (Pᵀ ⊙ (t1 − P t1)) q"
_W1 = ("∂L/∂W1 = (w2 ⊙ colsum(x ⊙ (36 ((2/M) pad(r, 0:M, axis=0) + (2/M) pad(r, 2:N, axis=0) "
       "− (4/M) pad(r, 1:N − 1, axis=0)) + 20 (pad(slice(u, 0:1), 0:1, axis=0) + "
       "pad(slice(u, N − 1:N), N − 1:N, axis=0))) ⊙ (1 − tanh(x W1 + b1ᵀ)^∘2)))ᵀ")
_C = ("∂L/∂C = Σ_a 4 (Σ_b (wᵀ Kx_b)·(w ⊙ Kx_b) Xe_b − Ce_a ⊙ w ⊙ (Kxᵀ Kx w))")
_SH = ("∂L/∂W = Xᵀ (slice(pad(slice(H, :, 1:M), 0:M1, axis=1) + pad(slice(H, :, 0:M1), 1:M, "
       "axis=1) + 2 pad(slice(H, :, 1:M), 1:M, axis=1), :, D:M) ⊙ (1 − tanh(X W)^∘2))")
CLOSED_DAMAGE = [
    # stop 41's wrong closed form of a row softmax (verify exit 3): an undefined product
    ("tests/regressions/softmax_row_weighting_one.yaml", _Q,
     "∂L/∂q = (P ⊙ (G Vᵀ + (1/10) log(P) − (V Gᵀ + (1/10) log(Pᵀ)) Pᵀ)) K"),
    ("tests/regressions/softmax_row_weighting_one.yaml", _Q, _Q.replace("(1/10) log(Pᵀ)", "log(Pᵀ)")),
    ("tests/regressions/softmax_row_weighting_one.yaml", _K, _K.replace("− P t1", "+ P t1")),
    ("specs/mlp.yaml", "∂L/∂W = −2 (e ⊙ y ⊙ (1 − y)) xᵀ", "∂L/∂W = 2 (e ⊙ y ⊙ (1 − y)) xᵀ"),
    ("specs/mlp.yaml", "∂L/∂x = −2 Wᵀ (e ⊙ y ⊙ (1 − y))", "∂L/∂x = −2 Wᵀ (e ⊙ y ⊙ (1 − e))"),
    # a pad's place in a reduced function's argument (read with no left side to size it)
    ("tests/regressions/sl1_pinn_fd_residual.yaml", _W1,
     _W1.replace("(2/M) pad(r, 2:N, axis=0)", "(2/M) pad(r, 1:N − 1, axis=0)")),
    ("tests/regressions/sl1_pinn_fd_residual.yaml", _W1,
     _W1.replace("pad(slice(u, 0:1), 0:1, axis=0)", "pad(slice(u, 1:2), 1:2, axis=0)")),
    # a batch sum inside another (a batch of one beside B)
    ("tests/regressions/batch_of_one_beside_dim_b.yaml", _C, _C.replace("Xe_b −", "Xe_b +")),
    ("tests/regressions/batch_of_one_beside_dim_b.yaml", _C,
     _C.replace("(wᵀ Kx_b)·(w ⊙ Kx_b)", "(wᵀ Kx_b)·Kx_b")),
    # a where-temporary of the closed form read per element (t2 = 2 t1, t2_bh)
    ("tests/regressions/pixel_shuffle_index_precedence.yaml", "∂L/∂X_bh = t2_bh ⊙ s",
     "∂L/∂X_bh = t2_bh ⊙ t2_bh ⊙ s"),
    # a sum of pads (one times a number) inside a slice; a where-temporary with a 𝟏
    ("tests/models/more/concat_slice_shift.yaml", _SH,
     _SH.replace("2 pad(slice(H, :, 1:M), 1:M", "2 pad(slice(H, :, 0:M1), 1:M")),
    ("tests/models/more10/perceiver_latent_attn.yaml",
     "∂L/∂Z = (2/M) ((A ⊙ (t2 − rowsum(A ⊙ t2))) X Wk + t1)",
     "∂L/∂Z = (2/M) ((A ⊙ (t2 − rowsum(A ⊙ t1))) X Wk + t1)"),
    ("tests/models/conv1d_pool_head.yaml", "∂L/∂X = (t2 ⊙ 𝟙[conv1d(X, W, b) > 0]) ∗ W",
     "∂L/∂X = (t2 ⊙ 𝟙[conv1d(X, W, b) < 0]) ∗ W"),
]


@pytest.mark.parametrize("rel,good,bad", CLOSED_DAMAGE,
                         ids=[f"{Path(r).stem}:{n}" for n, (r, _, _) in enumerate(CLOSED_DAMAGE)])
def test_the_reader_rejects_a_damaged_closed_form(rel, good, bad, run):
    """The printed closed form ``good`` is read back to the reference; ``bad`` is not."""
    env, found = _env(rel, run)
    assert ("closed", good) in found, [line for s, line in found if s == "closed"]
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


def test_the_softmax_weighting_closed_forms_read_back(run):
    """tests/regressions/softmax_row_weighting_one.yaml (stop 41): its closed forms read back,
    P (V Gᵀ + (1/10) log(Pᵀ)) where (V Gᵀ + (1/10) log(Pᵀ)) Pᵀ was printed."""
    path = TESTS / "regressions" / "softmax_row_weighting_one.yaml"
    assert failures(path, run, expand=True) == []
    closed = [line for s, line in entries(_expanded(run, path), expand=True) if s == "closed"]
    assert _Q in closed and _K in closed


def test_a_where_temporary_of_a_closed_form_is_read_whole(run):
    """t2_j = (2/To) V (Vᵀ p_j − Tg_j) 𝟏ᵀ: the 𝟏 is as long as the element's axis (To)."""
    env, found = _env("tests/models/conv1d_pool_head.yaml", run)
    t2 = np.asarray(env.values["t2"])
    assert t2.shape == tuple(env.dims[d] for d in ("B", "O", "To"))
    assert np.allclose(t2, t2[..., :1])  # the same number along To (𝟏ᵀ)
