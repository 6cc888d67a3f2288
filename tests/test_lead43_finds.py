"""Finds of stop 43: forms a new user met (last stop's hunts nu45, nu46, rv3 and this
stop's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_codegen import _function, load, torch
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, torch_module, verify
from einderive.render.pymodule import numpy_module

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_window_to_the_end_of_its_axis_ends_at_the_dim():
    """Rotate-half of D = 2 H features (nu45): the line writes Q[:, H:D], and the second
    piece's adjoint printed slice(∂L/∂R, :, H:2 H) beside it, pad(…, H:2 H) in the forward
    form — one bound written two ways in one block.  Every window that runs to the end of
    its axis ends at the axis' dim; the second piece's index form reads Q at k, not at
    k − H + H."""
    spec = REGRESSIONS / "rotate_half_ends_at_its_dim.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "2 H)" not in out and "2 H," not in out, out
    assert "slice(∂L/∂R, :, H:D)" in out and "H:D, axis=1)" in out, out
    assert "k − H + H" not in out and "Q_{i, k} + Q_{i, k − H}" in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)


def test_one_position_keeps_its_width_one_bound():
    """A one-column piece at the end of a joined axis keeps lo + 1 (D:D + 1, one column),
    whatever the spec calls D + 1."""
    out = _run("derive", str(REGRESSIONS / "concat_column_at_dim_offset.yaml"))
    assert "pad(t, D:D + 1, axis=1)" in out, out


def test_a_trace_inside_a_function_reads_as_a_trace_in_its_gradient():
    """trace(A @ X) ** 2 printed ∂L/∂X = 2 sum(A ⊙ Xᵀ)·Aᵀ; log(trace(Yᵀ A Y)) printed
    1/sum(Y ⊙ (A Y)) (nu48 find 03).  What a line that writes a trace contributes to an
    adjoint reads its traces as traces, as the forward form does."""
    spec = REGRESSIONS / "trace_inside_a_function.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "grad(X) = 2 tr(A X)·Aᵀ" in out, out
    assert "(1/tr(A Y Yᵀ))·(A + Aᵀ) Y" in out, out
    assert "sum(" not in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_indicator_is_a_strong_zero_in_the_generated_code(tmp_path):
    """√relu(x)'s derivative 𝟙[x > 0] ⊘ √relu(x) is 0 ⊘ 0 at x < 0, and ∂L/∂r ⊙ 𝟙[x > 0]
    is inf · 0 there: the generated NumPy and PyTorch code gave nan where autograd gives 0
    (nu47 find F1).  Each writes the indicator as the Iverson bracket means it, 0 where it
    fails whatever the rest is."""
    spec = REGRESSIONS / "root_of_a_clamp.yaml"
    d = derive_file(str(spec))
    rng = np.random.default_rng(3)
    x = np.array([1.3, -0.7, 0.4, -2.0])
    w = rng.normal(size=4)
    X, Y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    X[0] = Y[0] + 0.1  # a distance below 1: the clamp at 0
    inputs = {"x": x, "w": w, "X": X, "Y": Y}
    grads = load(tmp_path, numpy_module(d)).gradients(**inputs)
    for name in ("x", "X"):
        assert np.all(np.isfinite(grads[name])), (name, grads[name])
    assert grads["x"][1] == 0 and grads["x"][3] == 0
    assert np.all(grads["X"][0] == 0)
    if torch is not None:
        t = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
        r = torch.relu(t["x"])
        d2 = ((t["X"] - t["Y"]) ** 2).sum(axis=1)
        L = (r.sqrt() * t["w"]).sum() + torch.clamp(t["x"], min=0).pow(0.5).sum() + \
            t["x"].clip(0, 2).sqrt().sum() + torch.clamp(d2 - 1, min=0).sqrt().sum()
        L.backward()
        for name in ("x", "X", "w"):
            np.testing.assert_allclose(grads[name], t[name].grad.numpy(), rtol=1e-9)
        generated = _function(load(tmp_path, torch_module(d)))
        args = [torch.tensor(inputs[n], requires_grad=True) for n in ("x", "w", "X", "Y")]
        generated.apply(*args).backward()
        np.testing.assert_allclose(args[0].grad.numpy(), t["x"].grad.numpy(), rtol=1e-9)
    assert verify(d).ok


def test_a_slice_of_all_of_a_literal_one_axis_is_the_tensor():
    """X[:, 0:1] of X: [M, 1] read at its one element: ∂L/∂X printed δ_{0, 0} 𝟏 and -f numpy,
    -f torch and verify exited 3 ("cannot compile the constant KroneckerDelta(0, 0)", nu47
    find F3); two positions that are numbers are their δ's value, and the slice of all of a
    literal-1 axis is the tensor (y[0:1] ⊙ y of y: [1] is 2 y, not y + slice(y, 0:1))."""
    spec = REGRESSIONS / "one_slice_of_a_literal_one_axis.yaml"
    out = _run("derive", str(spec))
    assert "δ" not in out and "grad(y) = 2 y" in out, out
    assert "grad(W) = X 𝟏ᵀ" in out, out
    # the slice is the tensor in the index form too: every axis of size 1 prints no index
    # (z_{0} of z: [1, 1] was one index for two axes; X_{i, 0} stood beside ∂L/∂X_i)
    assert "L = Σ_i X_i + Σ_i Σ_j X_i W_ij + y² + z²" in out, out
    assert "{0}" not in out and "{i, 0}" not in out, out
    for flag in ("--latex", "--steps"):
        shown = _run("derive", flag, str(spec))
        assert "{0}" not in shown and "i, 0" not in shown and "Shift" not in shown, shown
    for fmt in ("numpy", "torch"):
        _run("derive", "-f", fmt, str(spec))
    assert verify(derive_file(str(spec))).ok


def test_a_literal_that_is_no_ratio_of_floats_is_written_as_its_float(tmp_path):
    """x * 1e-320 and 1e-200 * 1e-200: -f numpy, -f torch and verify exited 3 (nu47 F2:
    the code wrote 1/10³²⁰ as a ratio, and 10³²⁰ is no float); a product past a float's
    range (1e300 * 1e300) is what the spec's floats make of it, inf."""
    spec = REGRESSIONS / "literals_past_a_floats_ratio.yaml"
    for fmt in ("numpy", "torch"):
        code = _run("derive", "-f", fmt, str(spec))
        assert "1e-320" in code, code
    assert verify(derive_file(str(spec))).ok
    huge = "dims: {N: 2}\ninputs: {x: [N]}\nforward:\n  - L = sum(x * 1e300 * 1e300)\nloss: L\n"
    path = tmp_path / "huge.yaml"
    path.write_text(huge)
    assert "float('inf')" in _run("derive", "-f", "numpy", str(path))


def test_a_line_that_writes_log_softmax_reads_it_back():
    """−sum(softmax(x) * log_softmax(x)) printed softmax(x) ⊙ (logsumexp(x) +
    sum(softmax(x) ⊙ (x − logsumexp(x))) − x) (nu48 find 05): where a line writes
    log_softmax, u − logsumexp(u) reads as log_softmax(u), in its forward form and in what
    it contributes to an adjoint; a line that writes x − logsumexp(x) by hand keeps it."""
    spec = REGRESSIONS / "softmax_entropy_one_line.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "grad(x) = softmax(x) ⊙ (sum(softmax(x) ⊙ log_softmax(x)) − log_softmax(x))" \
        in " ".join(out.split()), out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)
    by_hand = "dims: {C: 4}\ninputs: {x: [C], t: [C]}\nforward:\n" \
        "  - L = -sum(t * (x - logsumexp(x)))\nloss: L\n"
    path = REGRESSIONS.parent / "models" / "more" / "label_smoothing.yaml"
    assert "−(1/B) sum(Ys ⊙ log_softmax(Z))" in _run("derive", str(path))
    from conftest import derive_text
    from einderive.render.terminal import plain
    assert "log_softmax" not in plain(derive_text(by_hand))


def test_a_sum_and_its_transpose_written_out_are_one_named_part():
    """sum((X - X @ W @ W.T) ** 2) on one line: ∂L/∂W printed the residual and its
    transpose, carried to the leaves and grouped otherwise (Xᵀ − W Wᵀ Xᵀ), each written out
    (nu48 find 01); they are one part, t1 and t1ᵀ."""
    spec = REGRESSIONS / "tied_autoencoder_one_line.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "grad(W) = −2 (Xᵀ t1 + t1ᵀ X) W" in out and "where t1 = X − X W Wᵀ" in out, out
    assert verify(derive_file(str(spec))).ok
    assert not text_failures(spec.read_text(), expand=True)
