"""The shipped specs: each derives, verifies, and prints the forms of the literature."""

from __future__ import annotations

import pytest

from conftest import SPEC_FILES, SPECS, forms
from einderive import derive
from einderive.api import verify
from einderive.render import text as T


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_every_shipped_spec_matches_finite_differences(path):
    report = verify(derive(path))
    assert report.ok, [(c.name, c.max_abs) for c in report.checks if not c.ok]


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_every_shipped_spec_has_a_matrix_form_for_every_adjoint(path):
    d = derive(path)
    missing = [a.name for a in d.adjoints if a.form.matrix is None]
    assert not missing


def test_attention_backward_is_the_flashattention_form():
    d = derive(SPECS / "attention.yaml")
    # dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = s·dS K, dK = s·dSᵀ Q
    assert forms(d, "O")[1] == "G"
    assert forms(d, "V")[1] == "Pᵀ ∂L/∂O"
    assert forms(d, "P")[1] == "∂L/∂O Vᵀ"
    assert forms(d, "S") == ("P_ij (∂L/∂P_ij − Σ_j′ ∂L/∂P_ij′ P_ij′)",
                             "P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))")
    assert forms(d, "Q")[1] == "s·∂L/∂S K"
    assert forms(d, "K")[1] == "s·(∂L/∂S)ᵀ Q"


def test_cross_entropy_comes_out_as_softmax_minus_targets():
    d = derive(SPECS / "softmax_regression.yaml")
    assert forms(d, "Z")[1] == "(1/B) (softmax(Z) ⊙ rowsum(T) − T)"
    assert forms(d, "W")[1] == "(∂L/∂Z)ᵀ X"
    assert forms(d, "b")[1] == "(1/B) colsum(softmax(Z) ⊙ rowsum(T) − T)"
    note = [n for n in T.note_texts(d) if "sums to one" in n]
    assert note == ["T is the target of a softmax cross-entropy: if each row of T sums to one "
                    "(one-hot or probability targets), ∂L/∂Z = (1/B) (softmax(Z) − T)."]


def test_layer_norm_backward_in_the_literature_forms():
    d = derive(SPECS / "layernorm.yaml")
    # dγ = Σ_b dY ⊙ X̂, dβ = Σ_b dY, dX̂ = dY ⊙ γ, the mean's adjoint broadcast back
    assert forms(d, "gamma")[1] == "colsum(∂L/∂Y ⊙ X̂)"
    assert forms(d, "beta")[1] == "colsum(G)"
    assert forms(d, "Xhat")[1] == "∂L/∂Y ⊙ gammaᵀ"
    # (X̂ = Xc ⊘ std read by name: its divisor held apart, one std cancels)
    assert forms(d, "std")[1] == "−rowsum(∂L/∂X̂ ⊙ X̂) ⊘ std"
    assert forms(d, "var")[1] == "(1/2) ∂L/∂std ⊘ std"
    assert forms(d, "mu")[1] == "−rowsum(∂L/∂Xc)"
    assert forms(d, "X")[1] == "(1/D) ∂L/∂mu 𝟏ᵀ + ∂L/∂Xc"


def test_a_residual_sums_the_skip_path_and_the_block():
    d = derive(SPECS / "residual.yaml")
    a = d.adjoint("x")
    assert [consumer for consumer, _ in a.terms] == ["a", "o"]
    assert forms(d, "x") == ("W1_ji ∂L/∂a_j + 2 (o_i − t_i)", "W1ᵀ ∂L/∂a + 2 (o − t)")


def test_two_layer_mlp_bias_gradient_is_a_sum_over_the_batch():
    d = derive(SPECS / "two_layer_mlp.yaml")
    assert forms(d, "b1") == ("Σ_i ∂L/∂Z1_ik", "colsum(∂L/∂Z1)")
    assert forms(d, "W1")[1] == "(∂L/∂Z1)ᵀ X"
    assert forms(d, "Z1")[1] == "∂L/∂H1 ⊙ (1 − H1 ⊙ H1)"
    assert forms(d, "R")[1] == "(2/(B C)) R"


def test_llama_block_swiglu_and_rmsnorm():
    d = derive(SPECS / "llama_mlp.yaml")
    assert forms(d, "C")[1] == "∂L/∂U ⊙ silu(A)"
    assert forms(d, "A")[1] == "∂L/∂U ⊙ C ⊙ σ(A) ⊙ (1 + A ⊙ (1 − σ(A)))"
    assert forms(d, "Xn")[1] == "∂L/∂A W1 + ∂L/∂C W3"
    assert forms(d, "W2")[1] == "(∂L/∂O)ᵀ U"
    # the residual: the skip path's G joins the paths through RMSNorm
    assert forms(d, "X")[1].endswith("+ G")


def test_logistic_regression_gradient_is_sigmoid_minus_target():
    d = derive(SPECS / "logistic_regression.yaml")
    assert forms(d, "z")[1] == "(1/B) (σ(z) − t)"
    assert forms(d, "w")[1] == "Xᵀ ∂L/∂z"
    assert forms(d, "b")[1] == "(1/B) sum(σ(z) − t)"


def test_bilinear_form():
    d = derive(SPECS / "bilinear.yaml")
    assert forms(d, "A")[1] == "x yᵀ"
    assert forms(d, "x")[1] == "A y"
    assert forms(d, "y")[1] == "Aᵀ x"
