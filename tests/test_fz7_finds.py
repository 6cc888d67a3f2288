"""Finds of the fz7 pass: a slice or take of a constant broadcast (``slice(0 𝟏, 0:2)``, seed 42
of the random specs) printed unfolded, which the test reader refuses; folded it is the constant
of the part's shape, and each printed form reads back to the reference."""

from __future__ import annotations

import re

import test_printed_forms as T
from einderive.derivation import derive
from einderive.render.terminal import plain
from einderive.spec import loads

ZERO_SLICE = """\
dims: {M: 4, P: "2"}
inputs:
  x: [M]
  w: [M]
forward:
  - "h = (x - x)[0:2]"
  - "L = sum(h * h) + sum(x * w)"
loss: L
"""

CONSTANT_SLICES = """\
dims: {M: 4, N: 3, P: "2", Q: "1"}
inputs:
  x: [M, N]
  w: [P, N]
forward:
  - "h = (x - x + 3)[0:2]"
  - "k = (x - x + 2)[0:1]"
  - "L = sum(h * w) + sum(k * w[0:1]) + sum(x * x)"
loss: L
"""


def _forward_line(text: str, name: str) -> str:
    out = plain(derive(loads(text, "fz7.yaml")))
    lines = [ln.strip() for ln in out.splitlines()
             if re.match(rf"\s*{name}\s+= ", ln)]
    assert lines, out
    return lines[0]


def test_a_slice_of_zeros_is_zero():
    assert _forward_line(ZERO_SLICE, "h") == "h   = 0"
    assert T.text_failures(ZERO_SLICE) == []


def test_a_slice_or_take_of_a_constant_broadcast_is_the_constant_of_its_shape():
    assert _forward_line(CONSTANT_SLICES, "h") == "h    = 3 𝟏"
    assert _forward_line(CONSTANT_SLICES, "k") == "k    = 2 𝟏ᵀ"
    assert T.text_failures(CONSTANT_SLICES) == []
