"""The engine's internal contracts the printed forms rely on: recognition returns a value,
and substitution in the matrix tree reaches every node that holds a tensor."""

from __future__ import annotations


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
    with pytest.raises(AttributeError):
        first.einsum = True  # type: ignore[misc]
    other = idx.adjoints["W"]
    recognize(idx.ctx, idx.namer, {}, other.expr, other.idx, graph["W"].shape)
    again = recognize(idx.ctx, idx.namer, {}, a.expr, a.idx, graph["z"].shape)
    assert again == first
    d = derive(loads(MLP, "t.yaml"))
    assert [x.form.matrix for x in d.adjoints if x.name == "z"] == [first.matrix]


# -- one broadcasting rule, one matmul shape rule: NumPy is the reference ---------------------

SHAPES = [(), (3,), (1,), (2, 3), (2, 1), (1, 3), (4, 2, 3), (4, 1, 1), (1, 2, 3), (5, 3, 2)]


@pytest.mark.parametrize("a", SHAPES)
@pytest.mark.parametrize("b", SHAPES)
def test_broadcast_and_matmul_shapes_are_numpys(a, b):
    np = pytest.importorskip("numpy")
    from einderive import shapes
    try:
        want = tuple(np.broadcast_shapes(a, b))
    except ValueError:
        want = None
    assert shapes.broadcast(a, b) == want
    if want is not None:
        assert shapes.broadcast_all([a, b]) == want
    if a and b and a[-1] == (b[0] if len(b) == 1 else b[-2]):
        try:
            product = np.matmul(np.zeros(a), np.zeros(b)).shape
        except ValueError:
            product = None
        assert shapes.matmul(a, b) == product


def test_kinds_read_print_and_serialize_as_their_strings():
    import json

    from einderive.kinds import NoteKind, RefKind, Status
    assert json.dumps([RefKind.ADJOINT, Status.PASSED]) == '["adjoint", "passed"]'
    assert f"{NoteKind.EINSUM}|{NoteKind.EINSUM:>8}" == "einsum|  einsum"
    assert RefKind.ANON == "anon" and hash(RefKind.ANON) == hash("anon")


def test_a_record_is_a_frozen_value_object():
    from functools import cached_property

    from einderive.record import Record, field, fields, replace

    class Point(Record):
        x: int
        y: int = 0
        note: str = field(default="", compare=False, repr=False)

    class Tagged(Point):
        tag: str = field(kw_only=True, compare=False)

        def __repr__(self) -> str:
            return f"<{self.tag}>"

    class Sub(Tagged):
        z: int = 5

    class Cached(Record, slots=False):
        x: int

        @cached_property
        def twice(self) -> int:
            return 2 * self.x

    p = Point(1, note="n")
    assert p == Point(1, 0, "other") and hash(p) == hash(Point(1)) and p != Point(2)
    assert repr(p).endswith("Point(x=1, y=0)")  # note: repr=False
    assert fields(p) == ("x", "y", "note")
    assert replace(p, y=3) == Point(1, 3) and replace(p, y=3).note == "n"
    with pytest.raises(AttributeError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]  # x has no default
    with pytest.raises(TypeError):
        Tagged(1, 2, "n", "t")  # type: ignore[misc]  # tag is keyword-only
    t = Tagged(1, tag="t")
    assert t == Tagged(1, tag="u") and repr(Sub(1, tag="s", z=2)) == "<s>"  # inherited repr
    assert Sub(1, tag="s") != t and Sub(1, tag="s").z == 5
    assert Cached(3).twice == 6  # a class that caches keeps its __dict__
