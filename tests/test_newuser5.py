"""A new user's correctness pass (session s24, nu5): each test is a defect found by running
fresh specs of real models through every output and comparing the generated code with
PyTorch autograd of a forward pass written here by hand (never einderive's parse)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import derive_text
from test_codegen import load

from einderive.api import render, second_order


def _draw(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def _torch_hessian(fn, values: dict[str, np.ndarray], wrt: list[str]):
    """Every block ∂²L/∂x∂y of ``fn`` (a torch forward pass) by autograd."""
    torch = pytest.importorskip("torch")
    args = tuple(torch.tensor(values[w], dtype=torch.float64) for w in wrt)

    def f(*xs):
        return fn(dict(zip(wrt, xs)) | {k: torch.tensor(v) for k, v in values.items()
                                        if k not in wrt})
    h = torch.autograd.functional.hessian(f, args)
    return {(x, y): h[i][j].numpy() for i, x in enumerate(wrt) for j, y in enumerate(wrt)}


def _hvp(blocks, v: dict[str, np.ndarray], wrt: list[str]) -> dict[str, np.ndarray]:
    return {x: sum(np.tensordot(blocks[(x, y)], v[y], axes=v[y].ndim) for y in wrt)
            for x in wrt}


ROTATE_HEADS = """\
name: rotate_heads
dims: {H: 2, K: 2, Dh: 2 * K, D: H * Dh}
inputs: {x: [D], W: [D, D]}
forward:
  - Q = reshape(W @ x, [H, Dh])
  - L = sum(Q[:, K:Dh] * Q[:, 0:K] ** 2)
loss: L
"""


def _rotate_heads(t):
    q = (t["W"] @ t["x"]).reshape(2, 4)
    return (q[:, 2:] * q[:, :2] ** 2).sum()


def test_a_hessian_reads_a_slice_of_a_head_through_a_merge(tmp_path, run):
    """∂²L/∂x² reads W at ⌊l/Dh⌋·Dh + (l mod Dh − K), a shifted digit inside a merged index:
    outside the slice's range it leaves W's axis (index 8 of 8), where the range is 0.  The
    code gathered it unclipped (verify --hessian: exit 3, IndexError)."""
    path = tmp_path / "rotate_heads.yaml"
    path.write_text(ROTATE_HEADS)
    r = run("verify", "--hessian=x", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_text(ROTATE_HEADS), hessian="x")
    values = _draw({"x": (8,), "W": (8, 8)})
    got = load(tmp_path, render(d, "numpy")).hessian(**values)
    want = _torch_hessian(_rotate_heads, values, ["x"])
    np.testing.assert_allclose(got[("x", "x")], want[("x", "x")], atol=1e-9)


SOFTMAX_OF_PRODUCT = """\
name: softmax_of_product
dims: {T: 3, D: 2}
inputs: {Q: [T, D], K: [T, D]}
forward:
  - P = softmax(Q @ K.T, axis=-1)
  - L = sum(P * P)
loss: L
"""


def _softmax_of_product(t):
    import torch
    return (torch.softmax(t["Q"] @ t["K"].T, -1) ** 2).sum()


def test_the_rest_of_a_gauss_newton_split_writes_out_an_unnamed_adjoint(tmp_path, run):
    """The rest part of --gauss-newton for softmax(Q Kᵀ) read ∂L/∂(Q Kᵀ), the adjoint of an
    intermediate with no name: printed, but defined nowhere, and its code read a variable
    never assigned (verify --hvp --gauss-newton: exit 3, NameError d__P_1)."""
    path = tmp_path / "softmax_of_product.yaml"
    path.write_text(SOFTMAX_OF_PRODUCT)
    r = run("verify", "--hvp", "--gauss-newton", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_text(SOFTMAX_OF_PRODUCT), hvp="", gauss_newton=True)
    assert "∂L/∂(Q" not in render(d, "markdown")
    values = _draw({"Q": (3, 2), "K": (3, 2)})
    v = {f"v_{k}": x for k, x in _draw({"Q": (3, 2), "K": (3, 2)}, 1).items()}
    mod = load(tmp_path, render(d, "numpy"))
    gn, rest = mod.gnvp(**values, **v), mod.hvp_rest(**values, **v)
    want = _hvp(_torch_hessian(_softmax_of_product, values, ["Q", "K"]),
                {k[2:]: x for k, x in v.items()}, ["Q", "K"])
    for x in ("Q", "K"):
        np.testing.assert_allclose(gn[x] + rest[x], want[x], atol=1e-9)


GLU = """\
name: glu
dims: {B: 3, D: 4, K: 2, N: 2 * K}
inputs: {X: [B, D], W: [D, N], T: [B, K]}
forward:
  - H = X @ W
  - Y = H[:, 0:K] * sigmoid(H[:, K:N])
  - L = sum((Y - T) ** 2)
loss: L
"""


def _glu(t):
    import torch
    h = t["X"] @ t["W"]
    return ((h[:, :2] * torch.sigmoid(h[:, 2:]) - t["T"]) ** 2).sum()


def _torch_gradients(fn, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    fn(t).backward()
    return {k: x.grad.numpy() for k, x in t.items()}


def test_a_gated_linear_unit_of_two_slices_has_a_matrix_form(tmp_path):
    """∂L/∂H of a GLU (two slices of one H, one through σ): a factor σ(H_{i, l + K}) read at
    the range's own index (a Shift of it) was not seen as one, so ∂L/∂H had no matrix form,
    and σ'(H_{i, l}) printed its index as −K + l + K."""
    from test_newuser4 import text_failures
    from conftest import forms
    d = derive_text(GLU)
    index, matrix = forms(d, "H")
    assert "σ'(H_{i, l})" in index, index
    assert matrix.startswith("pad(∂L/∂Y ⊙ σ(slice(H, :, K:N)), 0:K, axis=1) + pad("), matrix
    assert not text_failures(GLU)
    values = _draw({"X": (3, 4), "W": (4, 4), "T": (3, 2)})
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    want = _torch_gradients(_glu, values)
    for k in ("X", "W", "T"):
        np.testing.assert_allclose(got[k], want[k], atol=1e-9)
