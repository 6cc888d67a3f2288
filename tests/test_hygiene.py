"""The engine's internal contracts the printed forms rely on: recognition returns a value,
and substitution in the matrix tree reaches every node that holds a tensor."""

from __future__ import annotations

import dataclasses

import pytest
import sympy

from einderive import matrix as mx
from einderive.derivation import derive
from einderive.graph import build as build_graph
from einderive.recognize import Recognition, recognize
from einderive.reverse import derive_index
from einderive.spec import loads

X = mx.Ref("X", "tensor", (3, 4))
Y = mx.Ref("Y", "tensor", (3, 4))


@pytest.mark.parametrize("make", [
    lambda x: mx.AxisFn("softmax", x, 1, (3, 4), (3, 4)),
    lambda x: mx.Einsum("ij->ji", (x,), (4, 3)),
    lambda x: mx.Diag(x, (3, 4)),
    lambda x: mx.scale(mx.Const(sympy.Integer(2)), mx.AxisFn("logsumexp", x, 1, (3, 4), (3, 1))),
])
def test_substitute_descends_into_every_node_holding_a_tensor(make):
    # softmax(X) with X := Y is softmax(Y); a node left holding X would print the old tensor
    assert mx.substitute(make(X), X, Y) == make(Y)
    assert X not in mx.leaves(mx.substitute(make(X), X, Y))


MLP = """name: t
dims: {M: 3, N: 4}
inputs:
  W: [M, N]
  x: [N]
forward:
  - z = W @ x
  - y = sigmoid(z)
  - L = sum(y * y)
loss: L
wrt: [W, x]
"""


def test_recognition_is_a_frozen_value_independent_of_earlier_calls():
    graph = build_graph(loads(MLP, "t.yaml"))
    idx = derive_index(graph)
    a = idx.adjoints["z"]
    first = recognize(idx.ctx, idx.namer, {}, a.expr, a.idx, graph["z"].shape)
    assert isinstance(first, Recognition) and first.matrix is not None
    assert first.wheres  # σ'(z) is written out
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.einsum = True  # type: ignore[misc]
    other = idx.adjoints["W"]
    recognize(idx.ctx, idx.namer, {}, other.expr, other.idx, graph["W"].shape)
    again = recognize(idx.ctx, idx.namer, {}, a.expr, a.idx, graph["z"].shape)
    assert again == first
    d = derive(loads(MLP, "t.yaml"))
    assert [x.form.matrix for x in d.adjoints if x.name == "z"] == [first.matrix]
