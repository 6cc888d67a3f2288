"""Finds of the fz6 pass: gaps of the test reader (tests/notation_reader.py) and of its
reference (tests/torch_reference.py) that left printed forms unchecked, each with a check that
the reader still rejects a damaged line."""

from __future__ import annotations

from pathlib import Path

import pytest

import test_printed_forms as T

HERE = Path(__file__).parent
MODELS = HERE / "models"
_GAPS = HERE / "regressions" / "reader_gaps"  # forms the reader reads in part (see each)


@pytest.mark.parametrize("path", [
    # the reference's primes made X wide (N = 2 < K = 3): Xᵀ A X singular, its logdet junk
    MODELS / "more12" / "cb_logdet_xtax.yaml",
    # the reference's primes made a defined dim not positive (To = T − 2, T − K + 1)
    MODELS / "more12" / "dilated_conv_slices.yaml",
    MODELS / "more8" / "gated_tanh_wavenet.yaml",
    # Wo_(y,j), δ_(l,y) of a label y of one element: read as "y is no dim's letter"
    MODELS / "more12" / "luong_attention_general.yaml",
    # (M ⊙ exp(v)) pad(𝟏, 1:K, axis=0)ᵀ: the 𝟏 sized from the whole left side
    HERE / "regressions" / "padded_ones_row_per_element.yaml",
], ids=lambda p: p.stem)
def test_the_reader_reads_these_printed_forms_back(path, run):
    bad = T.failures(path, run)
    assert not bad, "\n".join(bad)


def test_the_reference_keeps_the_spec_order_of_sizes_where_the_domain_needs_it():
    """Distinct primes still (a misplaced transpose cannot hide), but X stays tall."""
    import torch_reference as R
    from einderive.api import derive_file
    d = derive_file(str(MODELS / "more12" / "cb_logdet_xtax.yaml"))
    ref = R.reference(d.graph, seed=1)
    assert ref.sizes["N"] > ref.sizes["K"] and ref.sizes["N"] in R.PRIMES
    d = derive_file(str(MODELS / "more8" / "gated_tanh_wavenet.yaml"))
    sizes = R.reference(d.graph, seed=1).sizes
    assert sizes["To"] >= 1 and len({sizes[k] for k in ("T", "K")}) == 2


RANDOM_WHERE = """\
dims: {M: 2, N: 3, K: 5}
inputs:
  x1: [M]
forward:
  - "h2 = softplus(log_softmax(softmax(x1, axis=-1), axis=0))"
  - "L = sum(h2 * h2)"
loss: L
"""


def test_random_specs_read_their_where_clauses():
    """The random-spec check read t1/t2/t3 of the where-clauses as unknown names (seed 41 of
    the thorough profile): it reads them as the spec files' check does."""
    assert T.text_failures(RANDOM_WHERE) == []


DAMAGE = [
    ("padded_ones_row_per_element", HERE / "regressions" / "padded_ones_row_per_element.yaml",
     "∂L/∂U = (M ⊙ exp(v)) pad(𝟏, 1:K, axis=0)ᵀ",
     "∂L/∂U = (M ⊙ exp(v)) pad(𝟏, 0:K − 1, axis=0)ᵀ"),
    ("padded_ones_row_per_element", HERE / "regressions" / "padded_ones_row_per_element.yaml",
     "∂L/∂U = (M ⊙ exp(v)) pad(𝟏, 1:K, axis=0)ᵀ",
     "∂L/∂U = (M ⊙ exp(2 v)) pad(𝟏, 1:K, axis=0)ᵀ"),
    ("luong", MODELS / "more12" / "luong_attention_general.yaml",
     "∂L/∂hh_j = Wo_lj softmax(Wo hh)_l − Wo_(y,j)",
     "∂L/∂hh_j = Wo_lj softmax(Wo hh)_l + Wo_(y,j)"),
    ("luong", MODELS / "more12" / "luong_attention_general.yaml",
     "∂L/∂Wo_lj = (softmax(Wo hh)_l − δ_(l,y)) hh_j",
     "∂L/∂Wo_lj = (softmax(Wo hh)_l − δ_(l,l)) hh_j"),
    ("ones_times_padded_row", HERE / "regressions" / "ones_times_padded_row.yaml",
     "∂L/∂x0 = 2 h0·𝟏 pad(𝟏, 0:M, axis=0)ᵀ", "∂L/∂x0 = 2 h0·𝟏 pad(𝟏, 1:N, axis=0)ᵀ"),
    ("softmax_of_batched_logsumexp", _GAPS / "softmax_of_batched_logsumexp.yaml",
     "h3_ij = logsumexp(x1)_ij − logsumexp(logsumexp(x1))_i",
     "h3_ij = logsumexp(x1)_ij − logsumexp(logsumexp(x1, axis=0))_i"),
    ("softmax_of_batched_logsumexp", _GAPS / "softmax_of_batched_logsumexp.yaml",
     "∂L/∂x1_ijk = softmax(x1)_ijk (∂L/∂h3_ij − softmax(logsumexp(x1))_ij Σ_j′ ∂L/∂h3_ij′)",
     "∂L/∂x1_ijk = softmax(x1)_ijk (∂L/∂h3_ij − softmax(logsumexp(x1))_ij Σ_i′ ∂L/∂h3_i′j)"),
    ("cb_logdet_xtax", MODELS / "more12" / "cb_logdet_xtax.yaml",
     "∂L/∂X = 2 A X (Xᵀ A X)⁻¹", "∂L/∂X = 2 Aᵀ X (Xᵀ X)⁻¹"),
]


@pytest.mark.parametrize("stem,path,good,bad", DAMAGE, ids=[b for _, _, _, b in DAMAGE])
def test_the_reader_catches_damage_in_these_forms(stem, path, good, bad):
    from einderive.api import derive_file
    T._reads_good_rejects_bad(derive_file(str(path)), good, bad)


def test_a_sum_among_scalar_factors_is_bracketed_in_latex_and_mathml(run):
    """The styles with stacked fractions joined a product of scalars' factors unbracketed:
    LaTeX and the HTML page printed 1 + (h − r·h²)·be as 1 + h − r h² be and (a + b)(b + c)
    as a + b b + c, wrong formulas no check read (verify reads the text view)."""
    import test_html_readback as H
    path = HERE / "regressions" / "stacked_fraction_sum_factor.yaml"
    latex = run("derive", "-f", "latex", path).output
    assert r"\frac{(a + b) (b + c)}{(1 + {c}^{2}) (a + c)}" in latex, latex
    assert r"\frac{1}{1 + c (h - b {h}^{2})} c \frac{\partial L}{\partial q} (1 - 2 b h)" \
        in latex, latex
    assert H.failures(path) == []
    assert H.failures(MODELS / "more13" / "radial_flow_logdet.yaml") == []


def test_terms_made_alike_by_a_node_name_collect_as_a_sympy_number(run):
    """h0 + h0 made alike by reuse summed to the int 2 (a Python 1 per unscaled term):
    derive --expand and verify exited 3 (thorough seed 43)."""
    path = HERE / "regressions" / "reuse_alike_terms_unscaled.yaml"
    r = run("derive", "--expand", path)
    assert r.exit_code == 0 and "= 4 h4·(M h2 − sum(x0))" in r.output, r.output
    r = run("verify", path)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("call", ["outer(a, b)", "np.outer(a, b)", "torch.outer(a, b)",
                                  "a.outer(b)"])
def test_outer_gets_the_spec_einsum_as_its_hint(run, tmp_path, call):
    """outer(a, b) said only "unknown function" and listed functions: the hint is the
    spec's spelling, written from the call's tree, and that spelling derives a bᵀ."""
    spec = "dims: {M: 3, N: 4}\ninputs: {a: [M], b: [N]}\nforward:\n  - P = %s\n" \
           "  - L = sum(P * P)\nloss: L\n"
    path = tmp_path / "outer.yaml"
    path.write_text(spec % call, encoding="utf-8")
    r = run("derive", path)
    assert r.exit_code == 2, r.output
    assert f"hint: write einsum('i,j->ij', a, b), not {call}" in r.output, r.output
    path.write_text(spec % "einsum('i,j->ij', a, b)", encoding="utf-8")
    r = run("derive", path)
    assert r.exit_code == 0 and "P    = a bᵀ" in r.output, r.output


def test_a_row_adjoint_of_a_matrix_is_broadcast_in_code(run):
    """∂L/∂Xc = wᵀ for Xc: [B, D]: the code reshaped D numbers to B×D (verify exit 3).  The
    form keeps its B×D shape now, 𝟏 wᵀ (test_printed_forms reads it back), and so does its
    code, an outer product with ones."""
    path = HERE / "regressions" / "centred_row_adjoint_broadcast.yaml"
    r = run("derive", path)
    assert "∂L/∂Xc    = 𝟏 wᵀ" in r.output, r.output
    r = run("derive", "-f", "numpy", path)
    assert "d_Xc = np.outer(np.ones((B,)), w)" in r.output, r.output
    r = run("verify", path)
    assert r.exit_code == 0, r.output
