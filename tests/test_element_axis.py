"""Issue 12: a function of one batch element names the element's own axis.

Inside Σ_b, or on a line written per element, ``X_b`` of ``X: [B, C, S]`` is the C×S matrix
``X[b, :, :]`` (the note says so).  A matrix has axes 0 and 1: its max over S is
``max(X_b, axis=1)``, as the README writes ``max(X, axis=1)`` for a matrix, never the whole
tensor's ``axis=2`` (which a reader takes for an axis the matrix does not have).  A column
element's reduction names no axis (``max(s_bh)``).  The index form and a whole tensor's
batched form keep the whole tensor's axis (``max(X, axis=2)_ij``; a batched form's with
NumPy's ``keepdims=True``, each element's column broadcast back), and so does the code,
which reads whole tensors.  Each form is pinned as printed in text, LaTeX and the NumPy
code's comments, read back by the independent reader, and ``verify`` proves the spec.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from printed import entries

TESTS = Path(__file__).parent
CBAM = TESTS / "models" / "more15" / "cbam_channel_attention.yaml"

# b05 of the adversarial set: s: [B, H, N], a column for each element b, h
HEADS = """\
name: element_axis_heads
dims: {B: 2, H: 3, N: 4, D: 1}
inputs:
  X: [B, H, N, D]
  w: [D]
forward:
  - s = X @ w
  - p = softmax(s, axis=-1)
  - m = mean(X, axis=3)
  - L = sum(p * m) + sum(max(s, axis=2))
loss: L
wrt: [X, w]
"""


# softmax over the middle axis of X: [B, C, S]: each element's columns, its axis 0
COLUMNS = """\
name: element_axis_softmax
dims: {B: 2, C: 3, S: 4, O: 2}
inputs: {X: [B, C, S], W: [S, O], v: [S]}
forward:
  - Y = softmax(X, axis=1) @ W
  - L = sum(Y * Y) + sum(max(X, axis=1) @ v)
loss: L
"""


def _out(run, *args) -> str:
    r = run("derive", *[str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def test_cbam_element_max_names_the_elements_axis(run):
    text = "\n".join(line for _, line in entries(_out(run, "--expand", CBAM)))
    assert "g_b = σ(W2ᵀ relu(W1ᵀ max(X_b, axis=1)) + W2ᵀ relu((1/S) W1ᵀ rowsum(X_b)))" in text
    assert "t5_b = max(X_b, axis=1)ᵀ W1" in text
    assert "𝟙[X_b = max(X_b, axis=1)] ⊙ (W1 (𝟙[W1ᵀ max(X_b, axis=1) > 0]" in text
    assert "_b, axis=2" not in text
    # the index form reads the whole tensor: its axis 2
    assert "g_ij = σ(Σ_l W2_lj relu(Σ_j′ W1_j′l max(X, axis=2)_ij′)" in text


def test_cbam_latex_and_code(run):
    latex = _out(run, "--latex", CBAM)
    assert r"\operatorname{max}_{1}(X_{b})" in latex
    assert r"\operatorname{max}_{2}(X)_{ij}" in latex
    assert r"\operatorname{max}_{2}(X_{b})" not in latex
    code = _out(run, "--format", "numpy", CBAM)
    assert "# ∂L/∂W1 = Σ_b" in code and "max(X_b, axis=1)ᵀ W1" in code
    # the code computes every element at once on the whole tensor: its axis 2
    assert "np.max(X, axis=2, keepdims=True)" in code
    assert "np.max(X, axis=1" not in code


def test_column_element_names_no_axis(run, tmp_path):
    spec = tmp_path / "heads.yaml"
    spec.write_text(HEADS)
    text = _out(run, "--expand", spec)
    assert "𝟙[s_bh = max(s_bh)]" in text
    assert "s_bh, axis" not in text
    # a whole tensor's batched form keeps NumPy's whole axis, and its kept 1 (keepdims):
    # max(s, axis=2) alone is B×H, which NumPy aligns with s's last axes
    assert "𝟙[s = max(s, axis=2, keepdims=True)]" in text
    assert "max(s, axis=2)]" not in text


def test_cbam_reads_back_and_verifies(run):
    sys.path.insert(0, str(TESTS))
    import test_printed_forms as T
    assert T.failures(CBAM, run) == []
    r = run("verify", CBAM)
    assert r.exit_code == 0, r.output


def test_reader_refuses_a_whole_tensors_axis_on_an_element():
    """The reader reads the element's axis: axis=2 of a C×S element is no axis of it."""
    from notation_reader import Env, MatrixEval, ReaderError, read
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4, 5))
    env = Env({"X": ("B", "C", "S"), "m": ("B", "C")}, {"B": 3, "C": 4, "S": 5},
              {"X": X, "m": X.max(axis=2)}, {}, "L", {})
    ev = MatrixEval(env)
    ev.batch = ("b",)
    got = ev.ev(read("m_b = max(X_b, axis=1)")[1]).v
    assert np.allclose(np.asarray(got).reshape(3, 4), X.max(axis=2))
    with pytest.raises(ReaderError):
        ev.ev(read("m_b = max(X_b, axis=2)")[1])


def test_element_softmax_names_the_elements_axis(run, tmp_path):
    spec = tmp_path / "columns.yaml"
    spec.write_text(COLUMNS)
    text = "\n".join(line for _, line in entries(_out(run, "--expand", spec)))
    assert "∂L/∂W = Σ_b softmax(X_b, axis=0)ᵀ ∂L/∂Y_b = 2 Σ_b softmax(X_b, axis=0)ᵀ Y_b" in text
    assert "X_b, axis=1" not in text
    assert "Y = softmax(X, axis=1) W" in text  # the whole tensor's, in NumPy's reading
    sys.path.insert(0, str(TESTS))
    import test_printed_forms as T
    assert T.failures(spec, run) == []
