"""The Python API a notebook user meets: derive, lookups, short formula-first reprs."""

from __future__ import annotations

import doctest

import pytest

from conftest import SPECS

MLP = SPECS / "mlp.yaml"


@pytest.fixture(scope="module")
def mlp():
    import einderive
    return einderive.derive(MLP)


def test_an_unknown_gradient_is_a_key_error_naming_the_known_ones(mlp):
    with pytest.raises(KeyError) as info:
        mlp.gradient("nope")
    assert str(info.value) == "no gradient 'nope'; the gradients are: W, x"
    with pytest.raises(KeyError, match="no adjoint .nope.; the adjoints are: .*W, x"):
        mlp.adjoint("nope")
    assert mlp.gradient("W").name == "W"


def test_derive_takes_a_path_a_spec_or_yaml_text(mlp):
    import einderive
    text = MLP.read_text()
    by_text = einderive.derive(text)
    by_str = einderive.derive(str(MLP))
    by_spec = einderive.derive(einderive.load(MLP))
    for d in (by_text, by_str, by_spec):
        assert d.gradient("W").matrix_form == mlp.gradient("W").matrix_form == "∂L/∂z xᵀ"
    flow = einderive.derive("{name: sq, dims: {N: 3}, inputs: {x: [N]}, "
                            "forward: [L = sum(x * x)], loss: L}")
    assert repr(flow.gradient("x")) == "<Gradient x: ∂L/∂x = 2 x>"


def test_a_path_that_is_not_there_is_a_spec_error():
    import einderive
    with pytest.raises(einderive.SpecError, match="no such file"):
        einderive.derive("specs/nope.yaml")


def test_the_text_or_path_rule():
    from einderive import is_yaml_text
    assert is_yaml_text("loss: L\n") and is_yaml_text(" {loss: L}") and is_yaml_text("loss: L")
    assert not is_yaml_text("specs/mlp.yaml") and not is_yaml_text("-")
    assert not is_yaml_text("C:\\specs\\mlp.yaml") and not is_yaml_text("notes:today.yaml")


def test_a_derivation_has_a_short_repr(mlp):
    assert repr(mlp) == "<Derivation mlp: 5 adjoints, grads W, x>"


def test_a_gradient_shows_its_formula(mlp):
    g = mlp.gradient("W")
    assert repr(g) == "<Gradient W: ∂L/∂W = ∂L/∂z xᵀ = −2 (e ⊙ y ⊙ (1 − y)) xᵀ>"
    assert g._repr_latex_() == ("$\\displaystyle \\frac{\\partial L}{\\partial W} = "
                                "\\frac{\\partial L}{\\partial z} x^{\\top} = "
                                "-2 (e \\odot y \\odot (1 - y)) x^{\\top}$")
    # the closed form reads σ'(z) in the node y: no where-line is left to typeset
    assert g._repr_markdown_().startswith("$$\n\\frac{\\partial L}{\\partial W} = ")
    import einderive
    md = einderive.derive(str(SPECS / "gru_cell.yaml")).gradient("X")._repr_markdown_()
    assert md.startswith("$$\n\\begin{gathered}\n\\frac{\\partial L}{\\partial X} = ")
    assert "\\text{where } \\sigma'(X" in md and md.endswith("$$\n")
    assert "\\text{where } t_{1} = G \\odot \\mathrm{Zg}" in md


def test_a_zero_gradient_says_zero():
    import einderive
    d = einderive.derive("dims: {N: 3}\ninputs: {x: [N], u: [N]}\n"
                         "forward: [L = sum(x * x)]\nloss: L\nwrt: [x, u]\n")
    assert repr(d.gradient("u")) == "<Gradient u: ∂L/∂u = 0>"


def test_the_package_docstrings_run():
    import einderive
    result = doctest.testmod(einderive)
    assert result.attempted >= 3 and result.failed == 0


def test_derive_of_something_else_is_a_type_error():
    import einderive
    with pytest.raises(TypeError, match="a path, a Spec or YAML text, not int"):
        einderive.derive(3)


def test_an_adjoint_shows_its_formula_too(mlp):
    assert repr(mlp.adjoint("z")) == "<Adjoint z: ∂L/∂z = ∂L/∂y ⊙ σ'(z) = −2 e ⊙ y ⊙ (1 − y)>"
    assert mlp.adjoint("z")._repr_latex_().startswith("$\\displaystyle \\frac{\\partial L}")
