"""A new user's correctness pass (session s34, nu15): each test is a defect found by running
fresh specs of real models (tests/models/more15, against tests/newuser15_forwards.py) and the
spellings a new user tries first through every output, or an error a user meets and its
hint."""

from __future__ import annotations

import textwrap

import pytest

from conftest import assert_spec_error

_TAIL = """\
    dims: {N: 3, M: 4}
    inputs: {X: [N, M], Y: [N, M]}
    forward:
      - L = sum(X[:, 1:] ** 2)
    loss: L
    """


def _builds(text: str) -> None:
    from einderive.graph import build
    from einderive.spec import loads
    build(loads(textwrap.dedent(text), "spec.yaml"))


def test_a_slice_length_hint_names_a_dim_the_spec_can_add():
    """``X[:, 1:]`` of an axis of dim M: the hint said ``dims: {M: M - 1}``, a dim defined
    from itself, which is itself an error; it now names a dim the spec does not have, and the
    spec with that line added builds."""
    assert_spec_error(_TAIL, "4:18", "the slice 1:M has M - 1 elements, which no dim is",
                      "e.g. dims: {M1: M - 1}")
    _builds(_TAIL.replace("M: 4}", "M: 4, M1: M - 1}"))


def test_a_join_hint_names_a_dim_the_spec_can_add():
    """``concatenate([X, Y], axis=1)`` where the spec already has a dim NM (of another size):
    the hint said ``dims: {NM: M + M}``, a second NM; it names NM1."""
    text = _TAIL.replace("M: 4}", "M: 4, NM: 2}").replace(
        "X[:, 1:] ** 2", "concatenate([X, Y], axis=1)")
    assert_spec_error(text, "4:13", "the joined axis has M + M elements, which no dim is",
                      "e.g. dims: {NM1: M + M}")
    _builds(text.replace("NM: 2}", "NM: 2, NM1: M + M}"))


@pytest.mark.parametrize("index, at, hint", [
    ("X[:, :-1]", "4:19", "-1 is M - 1 on this axis of dim M, e.g. x[:, M - 1:M] or "
                          "x[:, 0:M - 1]"),
    ("X[:-2, :]", "4:16", "-2 is N - 2 on this axis of dim N, e.g. x[N - 2:N] or "
                          "x[0:N - 2]")])
def test_a_negative_slice_bound_hint_names_the_sliced_axis_dim(index, at, hint):
    """``X[:, :-1]`` on an axis of dim M: the hint wrote the axis' dim as N and the slice on
    axis 1 whatever the axis, so a user copying it sliced the wrong dim; it names the sliced
    axis' own dim and position."""
    assert_spec_error(_TAIL.replace("X[:, 1:]", index), at,
                      "a slice bound is negative (NumPy's count from the end)", hint)
