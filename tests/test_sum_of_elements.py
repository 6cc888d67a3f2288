"""A tensor used twice whose contributions are read element by element: their sum is one
line per element (the left side subscripted too), never a whole line with free subscripts."""

from __future__ import annotations

from pathlib import Path

from conftest import forms
from einderive.api import derive_file, verify

MORE = Path(__file__).parent / "models" / "more"


def test_contributions_of_one_batch_add_inside_one_line_per_element(run):
    # squeeze-and-excite: X feeds a mean over T and a gate; both read per element b
    d = derive_file(MORE / "squeeze_excite.yaml")
    text = run("derive", str(MORE / "squeeze_excite.yaml")).output
    assert "∂L/∂X_b   = (1/T) ∂L/∂z_b 𝟏ᵀ + ∂L/∂Y_b ⊙ s_b" in text, text
    assert "grad(X)_b = (1/T) ∂L/∂z_b 𝟏ᵀ + ∂L/∂Y_b ⊙ s_b" in text, text
    assert verify(d).ok


def test_an_element_beside_a_whole_tensor_form_is_read_whole(run):
    # s = sum(X ** 2, axis=(0, -1)) read per element X_ad beside a whole einsum: a line
    # `2 ∂L/∂s ⊙ X_ad + einsum(…)` would leave a and d free; the sum is read whole instead,
    # as NumPy reads it (∂L/∂s [B, C] and m [A, D] placed by reshapes).
    # norm_axis_tuple's ∂L/∂X is read whole too (n [B] placed by a reshape), with no
    # element letter left free either
    for spec, free, whole in (
            ("sum_axis_tuple_neg", "X_ad",
             "2 (X ⊙ reshape(∂L/∂s, [B, C, 1]) + (1/(B C)) reshape(m, [A, 1, 1, D]))"),
            ("norm_axis_tuple", "X_t",
             "X ⊘ reshape(n, [B, 1, 1]) + ∂L/∂m ⊙ (X − Y) ⊘ m + (1 ⊘ m) 𝟏ᵀ")):
        d = derive_file(MORE / f"{spec}.yaml")
        assert forms(d, "X")[1] == whole, forms(d, "X")
        assert free not in run("derive", str(MORE / f"{spec}.yaml")).output
        assert verify(d).ok
