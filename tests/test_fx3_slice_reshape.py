"""fx3 (stop 44): a slice (or concatenate, stack) before a reshape over that axis.

∂L/∂X of ``z = reshape(X[0:S, :], [SD])`` is (1 − tanh(z_{i·D + j})²) w_{i·D + j} 𝟙[0 ≤ i < S]
with i over X's axis T: the index map i·D + j fills the digit of size S with a letter of T.
The code compiled from an index form read such a map as a view, reshape(w, (T, D)) of the
S·D elements of w, and raised: verify exited 3 on every such spec, and where the adjoint has
no matrix form (a merge into a matmul) the generated -f numpy / -f torch code itself raised.
A read through a map whose letter runs past its digit is now gathered, taken modulo the
axis' size (valid, and multiplied by the range's 0 there), as a pad's read is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_codegen import _without_matrix_form, load
from test_printed_forms import text_failures

from einderive.api import derive_file
from einderive.cli import main
from einderive.render.pymodule import numpy_module, torch_module

REGRESSIONS = Path(__file__).parent / "regressions"

SPECS = [
    "slice_then_merge_reshape",  # z = reshape(X[0:S, :], [SD])
    "slice_then_merge_matmul",  # reshape(X[:, 0:S, :], [B, SD]) @ W
    "slice_last_axis_then_merge",  # reshape(X[:, :, 0:E], [B, TE]) @ W
    "slice_then_merge_no_matmul",
    "split_slice_merge",  # reshape(reshape(X, [B, T, D])[:, 0:S, :], [B, SD]) @ W
    "embedding_slice_merge",  # reshape(E[tok][0:S, :], [SD])
    "slice_then_split_reshape",  # reshape(X[:, 0:SD], [B, S, D]): a digit map over N
    "merge_slice_split",  # reshape(reshape(X, [B, TD])[:, 0:SD], [B, S, D]): IndexError
]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("name", SPECS)
def test_verify_compiles_an_index_map_over_a_sliced_axis(name):
    spec = REGRESSIONS / f"{name}.yaml"
    r = CliRunner().invoke(main, ["verify", str(spec)])
    assert r.exit_code == 0, r.output
    assert text_failures(spec.read_text(), expand=True) == []


def _autograd(X: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    x = torch.tensor(X, requires_grad=True)
    w = torch.tensor(W, requires_grad=True)
    S = 2
    z = x[:, 0:S, :].reshape(x.shape[0], -1) @ w
    torch.tanh(z).sum().backward()
    return {"X": x.grad.numpy(), "W": w.grad.numpy()}


@pytest.mark.parametrize("matrix", [True, False])
def test_generated_code_of_a_slice_merged_into_a_matmul_runs_and_agrees(tmp_path, matrix):
    """∂L/∂X = ∂L/∂Z_ik′ W_{j·D + k, k′} 𝟙[0 ≤ j < S] had no matrix form: its code was the
    index form's, which reshaped W to (T, D, D) (ValueError in NumPy, RuntimeError in torch).
    It now reads pad(reshape(∂L/∂Z Wᵀ, [B, S, D]), 0:S, axis=1) (stop 45); the index form's
    code is still what a gradient with no matrix form compiles from, checked without it."""
    d = derive_file(REGRESSIONS / "slice_then_merge_matmul.yaml")
    assert d.adjoint("X").form.matrix is not None
    if not matrix:
        d = _without_matrix_form(d, "X")
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((2, 4, 2)), rng.standard_normal((4, 2))
    want = _autograd(X, W)
    got = load(tmp_path, numpy_module(d)).gradients(X=X, W=W)
    for name in want:
        assert np.allclose(got[name], want[name], rtol=1e-12, atol=1e-12), name
    assert np.all(got["X"][:, 2:, :] == 0)  # the rows the slice does not read
    fn = next(v for v in vars(load(tmp_path, torch_module(d))).values()
              if isinstance(v, type) and issubclass(v, torch.autograd.Function)
              and v is not torch.autograd.Function)
    x = torch.tensor(X, requires_grad=True)
    w = torch.tensor(W, requires_grad=True)
    fn.apply(x, w).backward()
    assert np.allclose(x.grad.numpy(), want["X"], rtol=1e-12, atol=1e-12)
    assert np.allclose(w.grad.numpy(), want["W"], rtol=1e-12, atol=1e-12)
