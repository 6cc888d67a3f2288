"""A factor read at a shifted index beside a factor the range condition pads
(tests/regressions/rotate_half_shifted_piece.yaml, a RoPE rotate-half): the two are padded as
one product, pad(S ⊙ slice(∂L/∂Y, :, H:D), 0:H), never pad(S) ⊙ slice(∂L/∂Y, :, H:D + H),
a slice past its axis whose code fails to broadcast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import forms
from einderive.api import derive_file, render, verify
from test_codegen import load

SPEC = Path(__file__).parent / "regressions" / "rotate_half_shifted_piece.yaml"


def test_the_shifted_read_is_padded_with_its_table():
    d = derive_file(str(SPEC))
    _, matrix = forms(d, "Z")
    assert "pad(S ⊙ slice(∂L/∂Y, :, H:D), 0:H, axis=1)" in matrix, matrix
    assert "D + H" not in matrix, matrix
    assert verify(d).ok


def test_the_generated_gradient_matches_autograd(tmp_path):
    torch = pytest.importorskip("torch")
    d = derive_file(str(SPEC))
    rng = np.random.default_rng(5)
    values = {"X": rng.normal(size=(3, 4)), "W": rng.normal(size=(4, 4)),
              "S": rng.normal(size=(3, 2))}
    t = {k: torch.tensor(v) for k, v in values.items()}
    t["W"].requires_grad_(True)
    Z = t["X"] @ t["W"]
    torch.tanh(torch.cat([Z[:, 2:], Z[:, :2] * t["S"]], 1)).sum().backward()
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    np.testing.assert_allclose(got["W"], t["W"].grad.numpy(), atol=1e-10)
