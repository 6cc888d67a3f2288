"""Regressions of the printed forms (issue 11): each test reads what the user sees."""

from __future__ import annotations

from conftest import derive_text, forms

POWERS = """
    dims: {N: 4}
    inputs:
      x: {shape: [N], positive: true}
      w: [N]
    forward:
      - y = x ** 3 - 2 / x
      - L = sum(w * y)
    loss: L
"""


def test_a_coefficient_over_a_tensor_is_the_numerator_not_a_factor_of_one():
    from einderive.render import latex as X
    d = derive_text(POWERS)
    _, matrix = forms(d, "x")
    assert matrix == "∂L/∂y ⊙ (2 ⊘ (x ⊙ x) + 3 x ⊙ x)"
    assert "2 1" not in X.fragment(d) and "2 \\oslash (x \\odot x)" in X.fragment(d)
