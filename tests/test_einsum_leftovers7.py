"""Issue 12's einsum leftovers, session 34: sums over a batch that a matrix rule says.

- An element's total: logsumexp(t1)_b and Σ_m t1_bm of t1: [B, TU] (each element's column
  t1_b = Z_b w) are numbers of each element, ``logsumexp(t1_b)`` and ``sum(t1_b)``, said
  only by a subscript: concat_middle_rank3's ∂L/∂Z_b = (…) wᵀ and ∂L/∂w = Σ_b Z_bᵀ (…)
  (were ``einsum('im,l->iml', …)`` and ``einsum('iml,im->l', Z, …)``).
- A batch whose tensors' elements are a matrix and a column (X: [B, H, N, D] and
  s = X @ w: [B, H, N]): ∂L/∂w = Σ_b Σ_h X_bhᵀ ∂L/∂s_bh (was ``einsum('ijkl,ijk->l', …)``).
- Numbers of each element times a product of its matrices (SimPO, ORPO): Σ_b
  (∂L/∂sw_b/nw_b)·Hw_bᵀ (…) (was ``einsum('ijl,ijk,i,i->lk', …)``); a number times an outer
  product of vectors stays einsum (specs/bilinear_layer.yaml, a true contraction).

Every form here passes ``einderive verify``; its NumPy and PyTorch code computes the
gradients; the test reader (tests/notation_reader.py) reads each printed line back and
rejects it damaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import derive_text
from notation_reader import ReaderError
from printed import entries

from einderive.api import derive_file

TESTS = Path(__file__).resolve().parent
MODELS = TESTS / "models"

RANK4 = """
name: rank4_per_element_sum
dims: {B: 2, H: 3, N: 4, D: 2}
inputs: {X: [B, H, N, D], w: [D]}
forward:
  - s = X @ w
  - p = softmax(s, axis=-1)
  - L = sum(p * s)
loss: L
"""


def _expanded(run, path: Path) -> str:
    out = run("derive", str(path), "--expand")
    assert out.exit_code == 0, out.output
    return out.stdout


def _verified(run, path: Path) -> None:
    out = run("verify", str(path))
    assert out.exit_code == 0, out.output
    assert "match finite differences in every printed form" in " ".join(out.stdout.split())


def _env(d, run, path: Path):
    """The test reader's environment of ``d``, knowing its where-temporaries (t1_b)."""
    import torch_reference as R
    from test_printed_forms import env_for, with_temporaries
    out = run("derive", str(path))
    assert out.exit_code == 0, out.output
    return with_temporaries(d, env_for(d, R.reference(d.graph, seed=1)), entries(out.output))


def _reads_good_rejects_bad(env, good: str, bad: str) -> None:
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


# -- an element's total ----------------------------------------------------------------------

CONCAT = MODELS / "more" / "concat_middle_rank3.yaml"
DZ = "(2 t1_b − sum(t1_b)·softmax(t1_b) − logsumexp(t1_b)) wᵀ"


def test_an_elements_logsumexp_and_total_are_its_numbers(run):
    text = _expanded(run, CONCAT)
    flat = " ".join(text.split())
    assert "∂L/∂Z_b = (2 t1_b − sum(t1_b)·softmax(t1_b) − logsumexp(t1_b)) wᵀ" in flat, text
    assert "∂L/∂w = Σ_b Z_bᵀ (2 t1_b − sum(t1_b)·softmax(t1_b) − logsumexp(t1_b))" in flat, text
    assert "grad(w) = Σ_b Z_bᵀ (2 t1_b − sum(t1_b)·softmax(t1_b) − logsumexp(t1_b))" in flat
    assert "einsum('im,l->iml'" not in text and "einsum('iml,im->l'" not in text, text
    assert "no single matrix product says" not in flat, text
    _verified(run, CONCAT)


@pytest.mark.parametrize("good,bad", [
    (f"∂L/∂Z_b = {DZ}", f"∂L/∂Z_b = {DZ.replace('sum(t1_b)', 'sum(t1)')}"),
    (f"∂L/∂Z_b = {DZ}", f"∂L/∂Z_b = {DZ.replace('− logsumexp', '+ logsumexp')}"),
    ("∂L/∂w = Σ_b Z_bᵀ (2 t1_b − sum(t1_b)·softmax(t1_b) − logsumexp(t1_b))",
     "∂L/∂w = Σ_b Z_bᵀ (2 t1_b − sum(t1_b)·softmax(t1_b) − 2 logsumexp(t1_b))"),
], ids=["whole-total", "sign", "twice"])
def test_the_reader_reads_an_elements_numbers_and_catches_damage(run, good, bad):
    d = derive_file(str(CONCAT))
    _reads_good_rejects_bad(_env(d, run, CONCAT), good, bad)


def test_the_numpy_code_of_an_elements_numbers(tmp_path):
    from einderive.render.pymodule import numpy_module
    d = derive_file(str(CONCAT))
    code = numpy_module(d)
    # each element's total and logsumexp, its axes kept (never the whole batch's)
    assert "axis=(1, 2), keepdims=True)" in code, code
    assert "axis=1, keepdims=True)" in code, code


CONV = MODELS / "more" / "conv2d_ce.yaml"
DG = "(1/Ho) (sum(Y_b)·softmax(h_b) − Y_b) 𝟏ᵀ"


def test_a_max_pools_adjoint_is_each_elements_column_times_ones(run):
    """conv2d_ce's ∂L/∂g (g: [B, O, Ho]) was reshape(softmax(h) ⊙ rowsum(Y) − Y, [B, O,
    1]) ⊙ 𝟏: each element's column of ∂L/∂h spread along Ho."""
    text = _expanded(run, CONV)
    assert f"  ∂L/∂g_b     = {DG}\n" in text, text
    _verified(run, CONV)


@pytest.mark.parametrize("good,bad", [
    (f"∂L/∂g_b = {DG}", f"∂L/∂g_b = {DG.replace('sum(Y_b)', 'sum(Y)')}"),
    (f"∂L/∂g_b = {DG}", f"∂L/∂g_b = {DG.replace('softmax(h_b)', 'softmax(Y_b)')}"),
], ids=["whole-total", "other-softmax"])
def test_the_reader_reads_a_softmax_of_an_elements_column_and_catches_damage(run, good, bad):
    d = derive_file(str(CONV))
    _reads_good_rejects_bad(_env(d, run, CONV), good, bad)


def test_a_sum_of_element_totals_is_no_batch_sum(run):
    """Σ_b D sum(n_b) would be the whole total: max_axis0_rank3 keeps its whole form."""
    text = _expanded(run, MODELS / "more" / "max_axis0_rank3.yaml")
    assert "  L     = sum(Y) + ‖m‖_F² − D sum(reshape(n, [B, T]))\n" in text, text
    assert "Σ_b D sum(n_b)" not in text, text


def test_a_total_of_each_elements_matrix_stays_numpys_sum(run):
    """group_norm_rank4's mean over each group's matrix stays sum(Xr, axis=(2, 3), keepdims=
    True): an element total is read per element only of a column (sum(t1_b))."""
    text = _expanded(run, MODELS / "more7" / "group_norm_rank4.yaml")
    assert "  mu      = (1/(Cg T)) sum(Xr, axis=(2, 3), keepdims=True)\n" in text, text
    assert "sum(Xr_bg)" not in text and "sum(t1_bg)" not in text, text


# -- a matrix and a column of each element ---------------------------------------------------

def test_a_rank4_tensor_against_a_column_of_each_element_is_a_batch_sum(run, tmp_path):
    spec = tmp_path / "rank4_per_element_sum.yaml"
    spec.write_text(RANK4, encoding="utf-8")
    text = _expanded(run, spec)
    assert "  ∂L/∂w      = Σ_b Σ_h X_bhᵀ ∂L/∂s_bh\n" in text, text
    assert "  grad(w)    = Σ_b Σ_h X_bhᵀ ∂L/∂s_bh\n" in text, text
    assert "einsum" not in text, text
    _verified(run, spec)
    d = derive_text(RANK4)
    _reads_good_rejects_bad(_env(d, run, spec), "∂L/∂w = Σ_b Σ_h X_bhᵀ ∂L/∂s_bh",
                            "∂L/∂w = Σ_b Σ_h X_bhᵀ 𝟏 𝟏ᵀ ∂L/∂s_bh")


# -- numbers of each element times a product of its matrices ---------------------------------

SIMPO = MODELS / "more14" / "simpo_length_norm.yaml"
SIMPO_W = ("Σ_b ((∂L/∂sw_b/nw_b)·Hw_bᵀ (Ow_b − softmax(Hw_b W) ⊙ rowsum(Ow_b)) + "
           "(∂L/∂sl_b/nl_b)·Hl_bᵀ (Ol_b − softmax(Hl_b W) ⊙ rowsum(Ol_b)))")


@pytest.mark.parametrize("stem", ["simpo_length_norm", "orpo_odds_ratio"])
def test_numbers_of_each_element_times_its_matrix_product_is_a_batch_sum(run, stem):
    path = MODELS / "more14" / f"{stem}.yaml"
    text = _expanded(run, path)
    assert "einsum" not in text, text
    assert "Σ_b Hw_b adds the matrices Hw_b of every element b" in " ".join(text.split()), text
    _verified(run, path)


def test_simpos_gradient_reads_back_and_catches_damage(run):
    text = " ".join(_expanded(run, SIMPO).split())
    assert f"∂L/∂W = {SIMPO_W}" in text, text
    d = derive_file(str(SIMPO))
    _reads_good_rejects_bad(_env(d, run, SIMPO), f"∂L/∂W = {SIMPO_W}",
                            f"∂L/∂W = {SIMPO_W.replace('∂L/∂sl_b/nl_b', '∂L/∂sl_b/nw_b')}")


def test_a_number_times_an_outer_product_stays_einsum(run):
    """specs/bilinear_layer.yaml: Σ_k ∂L/∂y_k·x zᵀ is a true contraction, its note kept."""
    text = _expanded(run, TESTS.parent / "specs" / "bilinear_layer.yaml")
    assert "einsum(" in text, text


@pytest.mark.parametrize("path", [CONCAT, CONV, MODELS / "more" / "batched_matvec.yaml", SIMPO,
                                  MODELS / "more14" / "orpo_odds_ratio.yaml"])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    from test_ops import _generated_code_matches_torch
    d = derive_file(str(path))
    if set(d.graph.wrt) != {t.name for t in d.graph.inputs if t.integer is None}:
        from test_models import check_generated_gradients
        check_generated_gradients(d, tmp_path)  # (wrt some inputs: the NumPy module's)
        return
    _generated_code_matches_torch(d, tmp_path)


def test_the_rank4_form_generates_code_that_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(RANK4), tmp_path)
