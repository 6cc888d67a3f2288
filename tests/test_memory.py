"""What keeps a derivation's memory low, checked by what it must not change: SymPy's
answers, the records' values, the collector's settings.  Nothing here measures memory
(bench/run.py's memory section does); each test fails if its mechanism is undone."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from sympy import FiniteSet, Indexed, IndexedBase, Symbol
from sympy.core.assumptions import _assume_defined

from einderive import matrix as mx
from einderive import ops, shared_facts
from einderive.derivation import derive
from einderive.kinds import RefKind
from einderive.spec import load

SPECS = Path(__file__).resolve().parent.parent / "specs"
FACTS = sorted(_assume_defined)


def _facts(x: Any) -> dict[str, Any]:
    return {f: getattr(x, f"is_{f}") for f in FACTS}


def _unshared(make: Any) -> Any:
    """What SymPy itself builds: its own fact base per object."""
    IndexedBase._set_assumptions = staticmethod(shared_facts._own_facts)
    try:
        return make()
    finally:
        shared_facts.install()


LABELS = [
    lambda: (IndexedBase(Symbol("$W")), (Symbol("i"), Symbol("j"))),
    lambda: (IndexedBase(Symbol("$p", positive=True)), (Symbol("k"),)),
    lambda: (IndexedBase("n", integer=True, nonnegative=True), (0,)),
    lambda: (IndexedBase(Symbol("z", real=True)), (1, 2)),
    lambda: (IndexedBase(2), (3,)),  # a number as label: SymPy calls W[3] a number
]


@pytest.mark.parametrize("label", LABELS)
def test_shared_fact_bases_answer_as_sympys_own(label):
    """Every fact SymPy knows, asked of an indexed object and its base, reads the same with
    the fact base shared as with SymPy's own, asked in either order of objects."""
    base, idx = label()
    ours = [base, Indexed(base, *idx), Indexed(base, *reversed(idx))]
    theirs = _unshared(lambda: (lambda b: [b, Indexed(b, *idx), Indexed(b, *reversed(idx))])(
        label()[0]))
    for a, b in zip(reversed(ours), reversed(theirs)):  # elements first: they fill the base
        assert a == b
        assert _facts(a) == _unshared(lambda b=b: _facts(b))


def test_indexed_objects_of_one_base_share_one_fact_base():
    W = IndexedBase(Symbol("$W"))
    a, b = W[Symbol("i")], W[Symbol("j"), 0]
    assert a._assumptions is b._assumptions
    number = IndexedBase(2)
    assert number[3]._assumptions is not number[4]._assumptions  # not a symbol: its own


def test_elementwise_functions_share_their_nargs():
    sigmoid = ops.F("sigmoid")
    a, b = sigmoid(Symbol("x")), sigmoid(Symbol("y"))
    assert a.nargs == FiniteSet(1)
    assert a.nargs is b.nargs


def test_batch_of_is_kept_on_the_node_and_dies_with_it():
    """A matrix node's batch axes, once asked, are remembered by the node, not by a memo
    that keeps every node ever asked alive."""
    x = mx.Ref("X", RefKind.TENSOR, ("N", "D"), batch=("B",))
    node = mx.Transpose(x, ("D", "N"))
    assert mx.batch_of(node) == ("B",)
    assert mx.batch_of(node) == ("B",)
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


def test_record_hash_is_cached_and_not_a_field():
    x = mx.Ref("X", RefKind.TENSOR, ("N", "D"))
    y = mx.Ref("X", RefKind.TENSOR, ("N", "D"))
    assert hash(x) == hash(y) and x == y
    assert "_hash_" not in repr(x)
    with pytest.raises(AttributeError):
        x.name = "Y"  # type: ignore[misc]


def test_derive_collects_cycles_and_restores_the_collector():
    """The cycle collector runs while deriving (recursive closures are cycles: paused,
    they piled up to the end) and is left as it was found."""
    before, enabled = gc.get_threshold(), gc.isenabled()
    runs: list[int] = []

    def count(phase: str, _info: dict[str, int]) -> None:
        if phase == "stop":
            runs.append(1)
    gc.callbacks.append(count)
    try:
        derive(load(SPECS / "mlp.yaml"))
    finally:
        gc.callbacks.remove(count)
    assert runs
    assert gc.get_threshold() == before and gc.isenabled() == enabled
