"""Risks last stop's review found in code that no spec reached yet (session 31), each pinned
where a user can see it.

- ``det(Xᵀ)`` is ``det(X)`` (and log det) for a matrix only: the graph dropped ANY transpose
  inside det, so ``det(transpose(X, axes=(2, 0, 1)))`` of X: [N, N, M] was read as det(X) —
  refused, but with the shape of X, not of the argument written; a batched det would have
  read another batch of matrices.
"""

from __future__ import annotations

import pytest

from einderive.errors import SpecError
from einderive.graph import build
from einderive.ops import AXIS_OPS
from einderive.spec import loads

DET = """\
name: det_of_permuted
dims: {{N: 3, M: 2}}
inputs: {{X: {shape}}}
forward:
  - L = {line}
loss: L
"""


def test_det_is_the_same_at_the_transpose_of_a_matrix_only():
    for head in ("det", "logdet"):
        assert AXIS_OPS[head].same_at_transpose(("N", "N"))
        assert not AXIS_OPS[head].same_at_transpose(("N", "N", "M"))
    assert not AXIS_OPS["softmax"].same_at_transpose(("N", "N"))


def test_det_of_a_permuted_tensor_reads_the_argument_written():
    with pytest.raises(SpecError) as info:
        build(loads(DET.format(shape="[N, N, M]", line="det(transpose(X, axes=(2, 0, 1)))"),
                    "spec.yaml"))
    # the argument's shape, not X's (was "not a tensor of shape (N, N, M)"; since msg2 a
    # batch of square matrices is named as such)
    assert "shape (M, N, N)" in info.value.message and "(N, N, M)" not in \
        info.value.message, info.value.message
    # a matrix's transpose is dropped, as before: the loss reads det(X)
    graph = build(loads(DET.format(shape="[N, N]", line="det(X.T)"), "spec.yaml"))
    assert graph["L"].expr.args[0].op == "ref"
