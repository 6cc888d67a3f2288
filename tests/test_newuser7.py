"""A new user's correctness pass (session s26, nu7): each test is a defect found by running
fresh specs of real models through every output and comparing einderive's gradients with
PyTorch autograd of a forward pass written by hand (tests/newuser7_forwards.py), with
finite differences (verify), or an error a user meets and its hint."""

from __future__ import annotations

import textwrap

import pytest

from conftest import assert_spec_error

_SLICE_OF_TWO = """\
    dims: {B: 2, T: 3, D: 4, Two: 2}
    inputs: {X: [B, T, D]}
    forward:
      - L = sum(X[0:2, :, :] ** 2)
    loss: L
    """


@pytest.mark.parametrize("text, at, message", [
    (_SLICE_OF_TWO, "4:17", "the slice 0:2 has 2 elements, which no dim is"),
    (_SLICE_OF_TWO.replace("X: [B, T, D]", "X: [B, 1], Y: [B, 1]").replace(
        "X[0:2, :, :] ** 2", "concatenate([X, Y], axis=1)"), "4:13",
     "the joined axis has 1 + 1 elements, which no dim is")])
def test_a_length_that_is_a_number_is_declared_as_a_quoted_dim(text, at, message):
    """A slice or a join of a literal length: the hint said ``dims: {M: 2}``, and a user who
    declared ``Two: 2`` met the same error (a plain size is a default, never the number).
    The hint now names the dim defined as the number, quoted, and following it builds."""
    from einderive.graph import build
    from einderive.spec import loads
    assert_spec_error(text, at, message, 'e.g. dims: {')
    assert_spec_error(text, at, message, '"2"} (quoted: a plain 2 is only a default size)')
    build(loads(textwrap.dedent(text).replace("Two: 2", 'Two: "2"'), "spec.yaml"))
