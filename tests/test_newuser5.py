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


PREPEND_COLUMN = """\
name: prepend_column
dims: {B: 2, N: 3, M: N + 1}
inputs: {X: [B, N], w: [M]}
forward:
  - f = X[:, 0:1]
  - C = concatenate([f, X], axis=1)
  - L = sum(tanh(C) @ w)
loss: L
"""


def _prepend_column(t):
    import torch
    c = torch.cat([t["X"][:, :1], t["X"]], 1)
    return (torch.tanh(c) @ t["w"]).sum()


def test_an_element_at_a_fixed_position_is_not_the_whole_axis(tmp_path):
    """∂L/∂f of a width-1 piece of a concatenate reads C and w at position 0 of an axis of
    M: the printers dropped that 0 as a literal 1 axis' (w (1 − tanh(C_i)²), and
    δ_j for δ_{0, j}) and the matrix form read the whole C and w (w·(1 − tanh(C)^∘2),
    a wrong formula; verify exit 3)."""
    from conftest import forms
    d = derive_text(PREPEND_COLUMN)
    assert forms(d, "f") == ("w_{0} (1 − tanh(C_{i, 0})²)",
                             "take(w, 0, axis=0)·(1 − tanh(take(C, 0, axis=1))^∘2)")
    # ∂L/∂X: f's adjoint placed back at column 0 (it had no matrix form; the index form
    # follows the matrix form's order)
    assert forms(d, "X") == ("w_{0} (1 − tanh(C_{i, 0})²) δ_{0, j} + ∂L/∂C_{i, j + 1}",
                             "pad(take(w, 0, axis=0)·(1 − tanh(take(C, 0, axis=1))^∘2), 0:1, "
                             "axis=1) + slice(∂L/∂C, :, 1:N + 1)")
    from einderive.api import verify
    assert verify(d, seed=1).ok
    values = _draw({"X": (2, 3), "w": (4,)})
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    want = _torch_gradients(_prepend_column, values)
    for k in ("X", "w"):
        np.testing.assert_allclose(got[k], want[k], atol=1e-9)


def test_a_range_condition_of_numbers_is_decided():
    """A delta that puts a number into 𝟙[lo ≤ l < hi] decides it: 𝟙[0 ≤ 0 < 1] printed."""
    from conftest import forms
    d = derive_text(PREPEND_COLUMN.replace("M: N + 1", "M: N + 2").replace(
        "[f, X]", "[f, X, X[:, N - 1:N]]"))
    assert "𝟙[0 ≤ 0 < 1]" not in forms(d, "X")[0]
    from einderive.ops import in_range, F, IN_RANGE
    from sympy import Integer, Symbol
    assert F(IN_RANGE)(Integer(0), Integer(0), Integer(1)) == 1
    assert F(IN_RANGE)(Integer(2), Integer(0), Integer(1)) == 0
    n = Symbol("n", positive=True, integer=True)
    assert in_range(Integer(0), Integer(0), n) == 1  # 0 < n for a positive n (s31: signs)
    assert in_range(Integer(0), Integer(0), Symbol("m")) not in (0, 1)  # m may be 0: open


CONCAT_HIDDEN = """\
name: concat_hidden
dims: {B: 2, D: 2, K: 1, KD: K + D}
inputs: {X: [B, D], W: [D, K], g: [KD]}
forward:
  - C = concatenate([X @ W, X], axis=1)
  - L = sum(C * C * g)
loss: L
"""


def _concat_hidden(t):
    import torch
    c = torch.cat([t["X"] @ t["W"], t["X"]], 1)
    return (c * c * t["g"]).sum()


def test_a_hessian_block_keeps_a_sums_range_that_its_delta_collapses(tmp_path, run):
    """∂²L/∂X∂X and ∂²L/∂X∂g of a concatenate of X W and X: the W piece's sum Σ_{k<K}
    δ(k, m) … collapsed to m over all K + D columns (C_im W_jm read W past its K columns;
    g_{n+K} W_{j, n+K} a term that is 0), wrong blocks with no error but verify's FAIL."""
    path = tmp_path / "concat_hidden.yaml"
    path.write_text(CONCAT_HIDDEN)
    r = run("verify", "--hessian=", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_text(CONCAT_HIDDEN), hessian="")
    text = render(d, "markdown")
    assert "C_im W_jm 𝟙[0 ≤ m < K]" in text
    values = _draw({"X": (2, 2), "W": (2, 1), "g": (3,)})
    got = load(tmp_path, render(d, "numpy")).hessian(**values)
    want = _torch_hessian(_concat_hidden, values, ["X", "W", "g"])
    for key, block in want.items():
        np.testing.assert_allclose(got[key], block, atol=1e-9, err_msg=str(key))


MERGED_ROWS_LSE = """\
name: merged_rows_lse
dims: {B: 2, T: 3, BT: B * T, D: 2, K: 3}
inputs: {X: [B, T, D], W: [D, K]}
forward:
  - Z = reshape(X, [BT, D]) @ W
  - L = sum(logsumexp(Z, axis=1) ** 2)
loss: L
"""


def _merged_rows_lse(t):
    import torch
    return (torch.logsumexp(t["X"].reshape(6, 2) @ t["W"], 1) ** 2).sum()


def test_a_reduction_read_at_a_merged_index(tmp_path, run):
    """∂L/∂X's closed form reads logsumexp(Z, axis=1) at i·T + j (Z's rows merge B and T):
    the recognizer took the index map for a letter (KeyError: verify and --expand exit 3),
    and the Hessian's code had no gather for it (CodegenError, exit 3)."""
    path = tmp_path / "merged_rows_lse.yaml"
    path.write_text(MERGED_ROWS_LSE)
    r = run("derive", "--expand", path)
    assert r.exit_code == 0, r.output
    # (the index form's closed form read logsumexp(Z) at the merged index as reshape(
    # logsumexp(Z), [B, T]) inside an einsum; the matrix level's closed form replaces it)
    assert "= 2 reshape((softmax(Z) ⊙ logsumexp(Z)) Wᵀ, [B, T, D])" in r.output
    r = run("verify", "--hessian=", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_text(MERGED_ROWS_LSE), hessian="")
    values = _draw({"X": (2, 3, 2), "W": (2, 3)})
    mod = load(tmp_path, render(d, "numpy"))
    got, grads = mod.hessian(**values), mod.gradients(**values)
    want = _torch_hessian(_merged_rows_lse, values, ["X", "W"])
    for key, block in want.items():
        np.testing.assert_allclose(got[key], block, atol=1e-9, err_msg=str(key))
    for k, g in _torch_gradients(_merged_rows_lse, values).items():
        np.testing.assert_allclose(grads[k], g, atol=1e-9)


def test_a_width_one_piece_read_at_the_joined_index_compiles(tmp_path, run):
    """The tangent of C = concatenate([f, X]) reads ḟ (B×1) at l over M under
    𝟙[0 ≤ l < 1]: the code gathered ḟ[:, l] unclipped (verify --hvp: IndexError, exit 3)."""
    path = tmp_path / "prepend_column.yaml"
    path.write_text(PREPEND_COLUMN)
    r = run("verify", "--hvp", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_text(PREPEND_COLUMN), hvp="")
    values = _draw({"X": (2, 3), "w": (4,)})
    v = _draw({"X": (2, 3), "w": (4,)}, 1)
    got = load(tmp_path, render(d, "numpy")).hvp(**values, **{f"v_{k}": x for k, x in v.items()})
    want = _hvp(_torch_hessian(_prepend_column, values, ["X", "w"]), v, ["X", "w"])
    for k in ("X", "w"):
        np.testing.assert_allclose(got[k], want[k], atol=1e-9)


def test_a_hessian_block_writes_no_range_its_index_always_meets():
    """A block index m over N collapsed into a sum over the joined N + M: its range holds
    everywhere and is not written (it was, and the Kronecker form padded v twice past
    its axis: np.pad with a negative width)."""
    text = ("name: stack_rows\ndims: {N: 2, M: 3, NM: N + M, D: 2}\n"
            "inputs: {A: [N, D], B: [M, D], v: [NM]}\nforward:\n"
            "  - C = concatenate([A, exp(B)], axis=0)\n  - L = v @ C @ C.T @ v\nloss: L\n")
    d = second_order(derive_text(text), hessian="A")
    out = render(d, "markdown")
    assert "2 δ_ln v_i v_m 𝟙[0 ≤ m < N]" in out and "< NM]" not in out
    from einderive.api import verify
    report = verify(d, seed=1)
    assert report.ok and not report.error, report.error
