"""Batched forms that fell back to einsum where a per-element matrix form exists (issue 12
item 4; hunt nu50's find E, session 45), each pinned as printed."""

from __future__ import annotations

from conftest import forms
from einderive.api import verify
from einderive.derivation import derive
from einderive.spec import loads

CONCAT_AXIS0 = """dims: {B: 2, C: 1, S: 3, BC: B + C}
inputs: {X: [B, S, S], Y: [C, S, S], W: [S, S]}
forward:
  - Z = concatenate([X, Y], axis=0) @ W
  - L = sum(Z ** 2)
loss: L
"""


def test_the_first_piece_along_the_batch_axis_is_a_slice_from_0():
    """∂L/∂Z_ikl with i over B of Z's B + C: slice(∂L/∂Z, 0:B), as the second piece's
    slice(∂L/∂Z, B:BC) is (was einsum('ikl,jl->ikj', slice(∂L/∂Z, 0:B), W))."""
    d = derive(loads(CONCAT_AXIS0))
    assert forms(d, "X")[1] == "slice(∂L/∂Z, 0:B) Wᵀ", forms(d, "X")
    assert forms(d, "Y")[1] == "slice(∂L/∂Z, B:BC) Wᵀ", forms(d, "Y")
    assert verify(d).ok
