"""Finds of the tenth new-user pass (tests/models/more10), each held by a test that failed
before its fix: what the user sees printed, and `verify` on the spec."""

from __future__ import annotations

import textwrap

import sympy
from conftest import assert_spec_error, derive_text, forms
from einderive.api import render, verify
from einderive.graph import outside_axis
from einderive.spec import DimDecl

MULTILABEL = """
    name: multilabel_soft_margin
    dims: {N: 4, D: 3, C: 5}
    inputs: {X: [N, D], W: [D, C], Y: [N, C]}
    wrt: [W]
    forward:
      - Z = X @ W
      - L = -mean(mean(Y * log(sigmoid(Z)) + (1 - Y) * log(sigmoid(-Z)), axis=1))
    loss: L
    """


def test_sigmoid_of_minus_z_is_one_minus_sigmoid_in_the_printed_form():
    """MultiLabelSoftMarginLoss: σ(z) + σ(−z) = 1 makes ∂L/∂Z the textbook (σ(Z) − Y)/(C N)
    (was (1/(C N)) (1 + Y ⊙ σ(Z) + Y ⊙ σ(−Z) − 2 Y − σ(−Z)))."""
    d = derive_text(MULTILABEL)
    assert forms(d, "Z")[1] == "(1/(C N)) (σ(Z) − Y)"
    report = verify(d)
    assert report.ok, report.error


def test_a_window_past_the_end_of_its_axis_is_no_slice():
    """H:D + H on an axis of D, or a window starting before 0, leaves the axis: the reader
    declines it (its index form stands) instead of printing an out-of-range slice."""
    h, n = sympy.Symbol("H", integer=True, positive=True), sympy.Symbol("N", integer=True,
                                                                       positive=True)
    plain = (DimDecl("H", 2, None), DimDecl("N", 4, None))  # type: ignore[arg-type]
    sizes = {"H": h, "N": n}
    assert outside_axis(plain, sizes, h, n + h, n)  # H:N + H of N
    assert outside_axis(plain, sizes, -1, n - 1, n)  # −1:N − 1
    assert not outside_axis(plain, sizes, h, n, n)  # H:N
    assert not outside_axis(plain, sizes, 0, h, n)  # 0:H of N: not known to leave it
    assert not outside_axis(plain, sizes, 1, n + 1, n + 1)


ROTATE_HALF = """
    name: rotate_half_window_past_end
    dims: {T: 3, H: 2, D: 2 * H}
    inputs: {X: [T, D], W: [D, D], S: [T, H]}
    wrt: [W]
    forward:
      - Z = X @ W
      - Y = concatenate([Z[:, H:2 * H], Z[:, 0:H] * S], axis=1)
      - L = sum(tanh(Y))
    loss: L
    """


def test_a_window_by_a_defined_dim_past_the_end_is_no_slice():
    """RoPE's rotate-half read ∂L/∂Y at k + H under k < H: main printed
    slice(∂L/∂Y, :, H:D + H), a slice past D = 2 H, and its code failed."""
    d = derive_text(ROTATE_HALF)
    assert "H:D + H" not in (forms(d, "Z")[1] or "")
    assert "H:D + H" not in render(d, "markdown")
    report = verify(d)
    assert report.ok, report.error


def test_a_stack_against_a_dim_of_the_same_size_hints_to_define_it_as_the_number():
    """A stack of 3 pieces has an axis n3; R: 3 is a size of its own, another axis: the
    error says to define R as the number, which the README documents."""
    assert_spec_error(textwrap.dedent("""\
        dims: {N: 6, M: N - 2, R: 3}
        inputs: {x: [N], w: [R]}
        forward:
          - y = stack([x[0:M], x[1:M+1], x[2:N]], axis=1) @ w
          - L = sum(y * y)
        loss: L
        """), "4:9", "shapes (M, 3) and (R,) do not match",
        "the stack's axis has 3 pieces and 'R: 3' is a size of its own, so they are "
        "two axes: define 'R' as the number, dims: {R: \"3\"}, and the stack's axis is 'R'")


def test_a_dim_defined_as_the_number_is_the_stacks_axis():
    report = verify(derive_text("""
        dims: {N: 6, M: N - 2, R: "3"}
        inputs: {x: [N], w: [R]}
        forward:
          - y = stack([x[0:M], x[1:M+1], x[2:N]], axis=1) @ w
          - L = sum(y * y)
        loss: L
        """))
    assert report.ok, report.error


def test_one_trace_along_a_tangent_prints_one_way(run, tmp_path):
    """det(X⁻¹) + det(X)²: the tangent printed the same trace as sum(X⁻¹ ⊙ Ẋᵀ) in one term
    and sum(Ẋ ⊙ X⁻ᵀ) in the next; both are tr(X⁻¹ Ẋ), as d log det X = tr(X⁻¹ dX)."""
    spec = tmp_path / "cb_det_inverse.yaml"
    spec.write_text(textwrap.dedent("""\
        name: cb_det_inverse
        dims: {N: 3}
        inputs: {X: [N, N]}
        forward:
          - L = det(inv(X)) + det(X) ** 2
        loss: L
        """))
    out = run("derive", "--hvp", spec).stdout
    assert "L̇ = (2 det(X)² − det(X⁻¹))·tr(X⁻¹ Ẋ)\n" in out
    assert "ℛ{∂L/∂X} = (det(X⁻¹) + 4 det(X)²)·tr(X⁻¹ Ẋ)·X⁻ᵀ + (det(X⁻¹) − 2 det(X)²)·X⁻ᵀ" in out
    assert "sum(" not in out
    result = run("verify", "--hvp", spec)
    assert result.exit_code == 0, result.stdout
