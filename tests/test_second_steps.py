"""``--steps`` for second order: each tangent and each ℛ{∂L/∂t} under what it differentiates
(the node's line; the adjoint's index form), with the product and chain rules' result where
it differs from the simplified form; the blocks of (∇²L) v shown the same way."""

from __future__ import annotations

from pathlib import Path

SEED = str(Path(__file__).parent.parent / "specs" / "mlp.yaml")


def _section(text: str, head: str) -> str:
    return text.split("\n" + head + "\n", 1)[1]


def test_hvp_steps_show_each_tangent_of_an_adjoint_in_order(run):
    r = run("derive", SEED, "--hvp", "--steps")
    assert r.exit_code == 0, r.output
    hvp = _section(r.output, "Hessian-vector product")
    lines = [x.strip() for x in hvp.splitlines()]
    z = lines.index("tangent of ∂L/∂z_i = ∂L/∂y_i σ'(z_i)")
    # the product rule, then its simplified form
    assert lines[z + 1] == "ℛ{∂L/∂z_i} = ℛ{∂L/∂y_i} σ'(z_i) + ∂L/∂y_i (1 − 2 σ(z_i)) ż_i σ'(z_i)"
    assert lines[z + 2].startswith("ℛ{∂L/∂z_i}   = σ'(z_i) (∂L/∂y_i ż_i (1 − 2 y_i)")
    # from the loss back: ∂L/∂e, ∂L/∂y, ∂L/∂z, then the blocks ∂L/∂W, ∂L/∂x
    order = [n for n, x in enumerate(lines) if x.startswith("tangent of ")]
    names = [lines[n].split(" = ")[0] for n in order]
    assert names == ["tangent of ∂L/∂e_i", "tangent of ∂L/∂y_i", "tangent of ∂L/∂z_i",
                     "tangent of ∂L/∂W_ij", "tangent of ∂L/∂x_j"]
    w = lines.index("tangent of ∂L/∂W_ij = ∂L/∂z_i x_j")
    assert lines[w + 1].startswith("ℛ{∂L/∂W_ij} = ℛ{∂L/∂z_i} x_j + ∂L/∂z_i ẋ_j")


def test_tangent_steps_name_the_line_they_differentiate(run):
    r = run("derive", SEED, "--tangent", "--steps")
    assert r.exit_code == 0, r.output
    tangents = _section(r.output, "Tangents")
    assert "via z = W @ x" in tangents and "via y = sigmoid(z)" in tangents
    assert tangents.index("via z = W @ x") < tangents.index("ż_i")


def test_without_steps_second_order_prints_no_steps(run):
    r = run("derive", SEED, "--hvp")
    assert r.exit_code == 0, r.output
    assert "  tangent of " not in r.output and "  via " not in r.output


def test_markdown_steps_hold_the_second_order_chain(run):
    r = run("derive", SEED, "--hvp", "-f", "markdown", "--steps")
    assert r.exit_code == 0, r.output
    assert "tangent of ∂L/∂z_i = ∂L/∂y_i σ'(z_i)\n  ℛ{∂L/∂z_i} = ℛ{∂L/∂y_i} σ'(z_i)" in r.output
