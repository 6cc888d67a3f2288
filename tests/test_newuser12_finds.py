"""Finds of the new-user pass s31 (nu12), each pinned by what the user sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import forms
from einderive.api import derive_file, render, verify
from test_codegen import load

REG = Path(__file__).parent / "regressions"


def test_a_column_concatenated_at_a_dim_offset_compiles_and_verifies(tmp_path):
    """∂L/∂t of concatenate([Xt, t], axis=1) with t [B, 1] reads W1's row D, printed
    W1_{D, l} (W1_Dl read as one index Dl): the code indexes it (W1[D, :]) where it stopped
    with an internal error, and the range 𝟙[D ≤ D < D + 1], always 1, is not printed."""
    torch = pytest.importorskip("torch")
    d = derive_file(REG / "concat_column_at_dim_offset.yaml")
    index, _ = forms(d, "t")
    assert "W1_{D, l}" in index and "𝟙[D ≤ D" not in index, index
    assert verify(d).ok
    # (now from its matrix form, the row D the slice D:D + 1: test_index_only_leftovers6)
    assert "W1[D:D + 1]" in render(d, "numpy")
    render(d, "torch")
    rng = np.random.default_rng(5)
    values = {"Xt": rng.normal(size=(3, 2)), "t": rng.normal(size=(3, 1)),
              "W1": rng.normal(size=(3, 4))}
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    loss = (torch.nn.functional.silu(torch.cat([ts["Xt"], ts["t"]], 1) @ ts["W1"]) ** 2).sum()
    loss.backward()
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    for k, t in ts.items():
        np.testing.assert_allclose(got[k], t.grad.numpy(), atol=1e-9)


def test_a_row_at_a_dim_offset_is_never_summed_as_a_letter():
    """∂L/∂t of a [B, T, 1] piece joined at offset D reads W_Dm, W's row D: its matrix form
    was einsum('mij,mij,km->ij', …, W), every row of W summed (verify: matrix FAIL). It
    kept its exact index form; now the row is the slice D:D + 1 of W, its literal-1 axis
    kept, which no einsum reads as a letter."""
    d = derive_file(REG / "concat_column_at_dim_offset_rank3.yaml")
    index, matrix = forms(d, "t")
    assert "W_{D, m}" in index, index
    assert matrix == "2 rowsum(tanh(C W) ⊙ slice(W, D:D + 1) ⊙ (1 − tanh(C W)^∘2))", matrix
    report = verify(d)
    assert report.ok
