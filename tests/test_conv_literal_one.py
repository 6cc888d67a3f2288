"""Convolutions with a literal-1 axis: a batch of one (X: [1, C, T], as a single sequence is
often written), one input channel (W: [O, 1, K]) or one output channel (W: [1, C, K]).  The
index form reads such an axis at 0 (Y_jm = W_jik X_{i, m + k}), and the convolution's readings
took only index symbols there, so every adjoint printed its index form alone.  Read at 0 on a
literal 1, each prints as it does for a batch B: Y = conv1d(X, W), ∂L/∂X = ∂L/∂Y ∗ W,
∂L/∂W = ∂L/∂Y ⋆ X.  Each spec: verify evaluates every printed form (two sizes), the generated
NumPy and PyTorch code against PyTorch autograd of tests/torch_reference.py's forward."""

from __future__ import annotations

import pytest

from conftest import derive_text, forms
from einderive.api import render, verify

SPECS = {
    "a batch of one": """\
name: conv_batch_one
dims: {C: 3, O: 4, K: 3, T: 8, To: T - K + 1}
inputs: {X: [1, C, T], W: [O, C, K], b: [O], y: [1, O, To]}
forward:
  - Y = conv1d(X, W, b)
  - H = tanh(Y)
  - L = mean((H - y) ** 2)
loss: L
""",
    "one input channel": """\
name: conv_channel_one
dims: {B: 2, O: 4, K: 3, T: 8, To: T - K + 1}
inputs: {X: [B, 1, T], W: [O, 1, K], b: [O], y: [B, O, To]}
forward:
  - Y = conv1d(X, W, b)
  - H = relu(Y)
  - L = mean((H - y) ** 2)
loss: L
""",
    "one output channel, no bias": """\
name: conv_out_one
dims: {B: 2, C: 3, K: 3, T: 8, To: T - K + 1}
inputs: {X: [B, C, T], W: [1, C, K], y: [B, 1, To]}
forward:
  - Y = conv1d(X, W)
  - L = sum((Y - y) ** 2)
loss: L
""",
    "a single signal": """\
name: conv_single
dims: {K: 3, T: 8, To: T - K + 1}
inputs: {X: [1, 1, T], W: [1, 1, K], y: [1, 1, To]}
forward:
  - Y = conv1d(X, W)
  - L = sum(sin(Y) * y)
loss: L
""",
    "conv2d of a batch of one": """\
name: conv2d_batch_one
dims: {C: 2, O: 3, KH: 3, KW: 2, H: 6, W_: 5, Ho: H - KH + 1, Wo: W_ - KW + 1}
inputs: {X: [1, C, H, W_], W: [O, C, KH, KW], b: [O], y: [1, O, Ho, Wo]}
forward:
  - Y = conv2d(X, W, b)
  - Z = relu(Y)
  - L = mean((Z - y) ** 2)
loss: L
""",
}

OTHER_SIZES = {"T": 11, "K": 4, "C": 2, "O": 3, "B": 3, "H": 7, "W_": 6, "KW": 3}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_convolution_of_a_literal_one_axis_prints_as_for_a_batch(name):
    d = derive_text(SPECS[name])
    assert forms(d, "X")[1] == "∂L/∂Y ∗ W", forms(d, "X")
    assert forms(d, "W")[1] == "∂L/∂Y ⋆ X", forms(d, "W")
    head = "conv2d" if "conv2d" in name else "conv1d"
    bias = ", b" if "b" in {t.name for t in d.graph.inputs} else ""
    assert f"= {head}(X, W{bias})" in render(d, "markdown"), render(d, "markdown")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_literal_one_convolutions_match_finite_differences_at_two_sizes(name):
    d = derive_text(SPECS[name])
    for sizes, seed in ((None, 1), (OTHER_SIZES, 2)):
        report = verify(d, sizes={k: v for k, v in (sizes or {}).items()
                                  if k in d.graph.spec.dims} or None, seed=seed)
        assert report.ok, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_literal_one_convolutions_generate_code_that_matches_torch(name, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(SPECS[name]), tmp_path)


def test_a_convolution_with_an_axis_of_one_is_only_ever_a_whole_form():
    """Read without an index for its axis of one, the convolution's shape keeps the 1: beside
    a tensor read at its other axes NumPy would broadcast O×1×K against O×K to O×O×K.  A
    contribution that adds to it keeps its index form (and verify passes)."""
    text = SPECS["one input channel"].replace(
        "  - L = mean((H - y) ** 2)", "  - L = mean((H - y) ** 2) + sum(conv1d(X, W) * y)")
    d = derive_text(text)
    report = verify(d, seed=3)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


INLINE = """\
name: conv_inline
dims: {B: 2, C: 3, O: 4, K: 3, T: 8, To: T - K + 1}
inputs: {X: [B, C, T], W: [O, C, K], b: [O], y: [B, O, To]}
forward:
  - H = leaky_relu(conv1d(X, W, b), alpha=0.1)
  - L = mean((H - y) ** 2)
loss: L
"""


def test_an_inline_convolutions_batch_element_is_a_named_temporarys():
    """∂L/∂b of leaky_relu(conv1d(X, W, b)) on one line sums over the batch an element of
    the anonymous convolution: it has no name to subscript, so the form was an einsum
    (einsum('ikn,ikn->k', ∂L/∂H, where(conv1d(X, W, b) > 0, 1, 1/10))); the split spec
    prints Σ_i rowsum(∂L/∂H_i ⊙ where(Y_i > 0, 1, 1/10)).  The convolution is now a
    where-named temporary, t1_i its element; the forward and the other adjoints still read
    it whole, inline."""
    d = derive_text(INLINE)
    out = render(d, "markdown")
    assert forms(d, "b")[1] == "Σ_i rowsum(∂L/∂H_i ⊙ where(t1_i > 0, 1, 1/10))", forms(d, "b")
    assert "where t1 = conv1d(X, W, b)" in out, out
    assert forms(d, "X")[1] == "(∂L/∂H ⊙ where(conv1d(X, W, b) > 0, 1, 1/10)) ∗ W"
    assert "H = leaky_relu(conv1d(X, W, b), 1/10)" in out, out
    assert "einsum" not in out, out
    for sizes, seed in ((None, 1), ({"B": 3, "C": 2, "O": 3, "T": 11, "K": 4}, 2)):
        report = verify(d, sizes=sizes, seed=seed)
        assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def test_an_inline_convolutions_temporary_generates_code_that_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(INLINE), tmp_path)
