"""A new user's correctness pass (session s25, nu6): each test is a defect found by running
fresh specs of real models through every output and comparing einderive's gradients with
PyTorch autograd of a forward pass written here by hand (never einderive's parse)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from einderive.api import derive_file, render, verify
from test_codegen import load

REGRESSIONS = Path(__file__).parent / "regressions"


def _draw(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def _torch_gradients(fn, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    fn(t).backward()
    return {k: x.grad.numpy() for k, x in t.items()}


def _weighted_log_softmax(t):
    import torch
    e = torch.exp(t["X"])
    return -(torch.log(e / e.sum(1, keepdim=True)) * t["w"]).sum()


def test_a_cancelled_factor_keeps_the_shape_it_broadcast_to(tmp_path):
    """exp(X) ⊘ P with P = exp(X) ⊘ s is s broadcast across X's columns: the elementwise
    product cancelled to the bare column s, and the matrix product of it with w printed
    ``(s w) ⊘ (s ⊙ s)`` for ∂L/∂s (a [B, 1] times a [D]: wrong, and verify's closed-form code
    failed, exit 3).  The product keeps its shape, ``(s ⊙ 𝟏) w``."""
    from einderive.render import text as T
    d = derive_file(REGRESSIONS / "cancelled_broadcast_factor.yaml")
    closed = T.matrix_rhs(d, d.adjoint("s").closed)
    assert "(s w)" not in closed and "(s ⊙ 𝟏) w" in closed, closed
    report = verify(d)
    assert report.ok, report
    for shapes in ({"X": (3, 4), "w": (4,)}, {"X": (5, 2), "w": (2,)}):
        values = _draw(shapes)
        want = _torch_gradients(_weighted_log_softmax, values)
        got = load(tmp_path, render(d, "numpy")).gradients(**values)
        for k in shapes:
            np.testing.assert_allclose(got[k], want[k], atol=1e-9)
