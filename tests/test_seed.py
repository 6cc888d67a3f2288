"""The seed's one-layer perceptron, exactly as the issue writes it."""

from conftest import SPECS, forms
from einderive import derive


def test_seed_adjoints_read_as_the_method_writes_them():
    d = derive(SPECS / "mlp.yaml")
    # ∂L/∂y_i = −2 e_i, ∂L/∂z_i = ∂L/∂y_i σ'(z_i), ∂L/∂W_ij = ∂L/∂z_i x_j, ∂L/∂x_j = W_ij ∂L/∂z_i
    assert forms(d, "e") == ("2 e_i", "2 e")
    assert forms(d, "y") == ("−2 e_i", "−2 e")
    assert forms(d, "z") == ("∂L/∂y_i σ'(z_i)", "∂L/∂y ⊙ σ'(z)")
    assert forms(d, "W") == ("∂L/∂z_i x_j", "∂L/∂z xᵀ")
    assert forms(d, "x") == ("W_ij ∂L/∂z_i", "Wᵀ ∂L/∂z")


def test_seed_names_the_sigmoid_derivative_by_its_node():
    from einderive.render import text as T
    d = derive(SPECS / "mlp.yaml")
    assert T.where_texts(d, d.adjoint("z").form) == ["σ'(z) = y ⊙ (1 − y)"]


def test_seed_gradients_through_the_public_api():
    d = derive(SPECS / "mlp.yaml")
    assert [g.name for g in d.gradients] == ["W", "x"]
    assert d.gradient("W").matrix_form == "∂L/∂z xᵀ"
    assert d.gradient("W").index_form == "∂L/∂z_i x_j"
    assert d.gradient("x").matrix_form == "Wᵀ ∂L/∂z"
    assert d.gradient("W").latex == r"\frac{\partial L}{\partial W} = " \
        r"\frac{\partial L}{\partial z} x^{\top}"


def test_seed_forward_in_index_and_matrix_form():
    from einderive.render import text as T
    d = derive(SPECS / "mlp.yaml")
    shown = {t.name: (T.index_rhs(d, f), T.matrix_rhs(d, f)) for t, f in d.forward}
    assert shown == {"z": ("W_ij x_j", "W x"), "y": ("σ(z_i)", "σ(z)"),
                     "e": ("y_true,i − y_i", "y_true − y"), "L": ("e_i e_i", "eᵀ e")}


def test_steps_show_the_deltas_and_the_sum_they_collapse():
    from einderive.render import text as T
    d = derive(SPECS / "mlp.yaml")
    edge = next(e for e in d.adjoint("W").edges if e.node == "z")
    (local_lhs, local), (chain_lhs, chain) = T.step_lines(d, edge)
    assert local_lhs == "∂z_i/∂W_kl"
    assert local.endswith("= δ_ik x_l")
    assert chain_lhs == "Σ_i ∂L/∂z_i ∂z_i/∂W_kl"
    assert chain == "Σ_i δ_ik ∂L/∂z_i x_l = ∂L/∂z_k x_l"


def test_the_seed_never_expands_a_sum():
    from sympy import Sum
    d = derive(SPECS / "mlp.yaml")
    definition, _ = d.index.definitions["z"]
    assert isinstance(definition, Sum)  # z_i = Σ_j W_ij x_j, with N a symbol
    assert str(definition.limits[0][2]) == "N - 1"
