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


def _cancelled_quotient(t):
    q = t["X"] / t["Y"]
    return ((q * t["Y"] / t["X"]) @ t["w"]).sum() + ((q * t["Y"]) @ t["w"]).sum()


def test_a_rewrite_that_cancels_keeps_the_shape_it_stood_for(tmp_path):
    """Q ⊙ Y ⊘ X with Q = X ⊘ Y is ones of X's shape: ∂L/∂w printed colsum(1) (the colsum of
    a scalar: wrong, no error), and wᵀ ⊙ (1 + 1 ⊘ X) − wᵀ ⊘ X cancelled to the row wᵀ where
    ∂L/∂X is B×D (its code reshaped D numbers into B×D: verify exit 3).  A cancelled
    product keeps ones of its shape, a rewrite keeps its node's shape, and 1 − 𝟏 is 0."""
    from conftest import forms
    from einderive.render import text as T
    d = derive_file(REGRESSIONS / "cancelled_quotient_shape.yaml")
    assert forms(d, "w")[1] == "B 𝟏 + colsum(X)", forms(d, "w")  # colsum(𝟏) hid B
    assert T.matrix_rhs(d, d.adjoint("X").closed) in ("𝟏 wᵀ", "wᵀ ⊙ 𝟏")
    report = verify(d)
    assert report.ok, report
    for shapes in ({"X": (3, 4), "Y": (3, 4), "w": (4,)}, {"X": (5, 2), "Y": (5, 2), "w": (2,)}):
        values = {k: np.abs(x) + 0.5 for k, x in _draw(shapes).items()}
        want = _torch_gradients(_cancelled_quotient, values)
        got = load(tmp_path, render(d, "numpy")).gradients(**values)
        for k in shapes:
            np.testing.assert_allclose(got[k], want[k], atol=1e-9)
    from conftest import derive_text
    text = (REGRESSIONS / "cancelled_quotient_shape.yaml").read_text()
    alone = derive_text(text.replace(" + sum((Q * Y) @ w)", ""))  # ∂L/∂X cancels to 0
    assert T.matrix_rhs(alone, alone.adjoint("X").closed) == "0"
    assert verify(alone).ok


def _torch_hessian(fn, values: dict[str, np.ndarray], wrt: list[str]):
    torch = pytest.importorskip("torch")
    args = tuple(torch.tensor(values[w], dtype=torch.float64) for w in wrt)
    h = torch.autograd.functional.hessian(lambda *xs: fn(dict(zip(wrt, xs))), args)
    return {(x, y): h[i][j].numpy() for i, x in enumerate(wrt) for j, y in enumerate(wrt)}


def _neighbours(t):
    import torch
    h = torch.cat([t["X"], t["X"] @ t["W"]], 1)
    return (h[:, :-1] * h[:, 1:]).sum()


def test_a_hessian_block_reads_a_shifted_index_as_a_value(tmp_path, run):
    """∂²L/∂X∂X of neighbouring columns of a concatenate holds 𝟙[0 ≤ j + 1 < D], the piece's
    range read at the slice's shifted index: its code could not compile j + 1 as a value
    (verify --hessian: CodegenError 'cannot compile the index form Shift(j, 1, M - 1)')."""
    from einderive.api import second_order
    path = REGRESSIONS / "hessian_shifted_index_value.yaml"
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_file(path), hessian="")
    mod = load(tmp_path, render(d, "numpy"))
    for b in (2, 4):
        values = _draw({"X": (b, 2), "W": (2, 1)}, seed=b)
        got = mod.hessian(**values)
        want = _torch_hessian(_neighbours, values, ["X", "W"])
        for key, block in want.items():
            np.testing.assert_allclose(got[key], block, atol=1e-9)


def test_the_diagonal_matrix_of_a_column_held_as_two_axes(tmp_path, run):
    """∂²L/∂x∂w = 2 diag(rᵀ) with r = reshape(x, [1, N]): diag of the N×1 array is its
    diagonal, one number, and the block's code failed (verify --hessian exit 3)."""
    from einderive.api import second_order
    path = REGRESSIONS / "hessian_diag_of_row.yaml"
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    mod = load(tmp_path, render(second_order(derive_file(path), hessian=""), "numpy"))
    for n in (3, 5):
        values = _draw({"x": (n,), "w": (n,)}, seed=n)
        want = _torch_hessian(lambda t: ((t["x"][None] ** 2) * t["w"]).sum(), values,
                              ["x", "w"])
        got = mod.hessian(**values)
        for key, block in want.items():
            np.testing.assert_allclose(got[key], block, atol=1e-9)


def _torch_hvp(fn, values: dict[str, np.ndarray], wrt: list[str],
               v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    t = {k: torch.tensor(x, dtype=torch.float64) for k, x in values.items()}

    def f(*xs):
        return fn(t | dict(zip(wrt, xs)))
    _, hv = torch.autograd.functional.hvp(f, tuple(t[k] for k in wrt),
                                          tuple(torch.tensor(v[k]) for k in wrt))
    return {k: h.numpy() for k, h in zip(wrt, hv)}


def _group_centred(t, groups: int):
    b, c = t["X"].shape
    xr = t["X"].reshape(b, groups, c // groups)
    mu = xr.mean(2, keepdim=True)
    var = ((xr - mu) ** 2).mean(2, keepdim=True)
    return (((xr - mu) * var).reshape(b, c) * t["T"]).sum()


def test_a_sum_of_contributions_read_per_element_and_whole_is_no_matrix_sum(tmp_path, run):
    """ℛ{∂L/∂mu} of group statistics through a reshape adds a contribution read per batch
    element (G×1 for each b) to one read whole (B×G): the sum was formed as matrices and its
    code broadcast them to B×G×G (verify --hvp: exit 3, 'cannot reshape array').  Such a sum
    keeps its index form only."""
    from einderive.api import second_order
    path = REGRESSIONS / "group_centred_hvp.yaml"
    r = run("verify", "--hvp", path)
    assert r.exit_code == 0, r.output
    d = second_order(derive_file(path), hvp="")
    mod = load(tmp_path, render(d, "numpy"))
    for b in (2, 5):  # G and Cg are no input's dims: the module holds the spec's 2 and 3
        values = _draw({"X": (b, 6), "T": (b, 6)}, seed=b)
        v = _draw({"X": (b, 6)}, seed=7)
        want = _torch_hvp(lambda t: _group_centred(t, 2), values, ["X"], v)
        np.testing.assert_allclose(mod.hvp(**values, v_X=v["X"])["X"], want["X"], atol=1e-9)
    r = run("verify", "--hvp", "--dims", "B=3,G=3,Cg=2", path)
    assert r.exit_code == 0, r.output



def test_contributions_that_broadcast_together_still_add_as_matrices():
    """The guard above keeps sums whose arrays broadcast: ∂L/∂Y Wᵀ (read per element) plus a
    column broadcast (2 c 𝟏ᵀ, B×T×1 kept) plus a whole einsum all have B×T×D's axes."""
    from conftest import derive_text, forms
    d = derive_text("""\
        dims: {B: 2, T: 3, D: 4}
        inputs: {X: [B, T, D], W: [D, D], v: [D]}
        forward:
          - Y = X @ W
          - m = mean(X, axis=(0, 1))
          - c = sum(X, axis=2, keepdims=True)
          - L = sum(Y ** 2) + sum(m * v) + sum(c ** 2)
        loss: L
        """)
    assert forms(d, "X")[1].startswith("∂L/∂Y Wᵀ + "), forms(d, "X")
    assert verify(d).ok

FLOAT_AXIS = """\
dims: {{B: 3, D: 4, DD: D + D}}
inputs: {{X: [B, D]}}
forward:
  - L = sum({expr})
loss: L
"""


@pytest.mark.parametrize("expr, col, message", [
    ("mean(X, axis=1.0)", "26", "'axis' must be an integer"),
    ("softmax(X, axis=1.0)", "29", "'axis' must be an integer"),
    ("concatenate([X, X], axis=1.0)", "38", "concatenate's axis must be an integer"),
    ("concatenate([X, X], axis=-1.5)", "38", "concatenate's axis must be an integer"),
    ("stack([X, X], axis=1.0)", "32", "stack's axis must be an integer"),
    ("X[:, 0.0:2]", "18", "a slice bound must be static"),
])
def test_an_axis_written_as_a_float_is_an_error(expr, col, message):
    """NumPy refuses ``axis=1.0`` (TypeError) and a slice bound 0.0: they were read as the
    integer (concatenate's ``axis=-1.5`` as −1), a spec no array library would run."""
    from conftest import assert_spec_error
    assert_spec_error(FLOAT_AXIS.format(expr=expr), f"4:{col}", message, "e.g.", exact=True)


def test_a_transpose_that_is_no_permutation_says_what_to_write():
    from conftest import assert_spec_error
    assert_spec_error(FLOAT_AXIS.format(expr="transpose(X, axes=(0, 0))"), "4:31",
                      "is not a permutation", "e.g. axes=(1, 0)", exact=True)
