"""Finds of the eleventh new-user pass (tests/models/more11), each held by a test that failed
before its fix: what the user sees printed, and `verify` on the spec."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_spec_error
from einderive.api import derive_file, verify

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_node_may_be_named_neg():
    """MoCo's negatives in a node named ``neg``: ``neg`` is an internal op (printed −x), no
    function the spec calls, so the name is the user's (was: "the node name 'neg' shadows the
    function neg()", for a function no spec can call)."""
    d = derive_file(REGRESSIONS / "node_named_neg.yaml")
    assert "neg" in [t.name for t in d.graph.nodes]
    report = verify(d)
    assert report.ok, report.error


def test_a_tensor_named_slice_is_still_refused():
    """``slice`` prints as a function in the matrix form (slice(X, :, 0:K)): a tensor of that
    name would read as one."""
    assert_spec_error("""
        dims: {N: 3}
        inputs: {slice: [N]}
        forward:
          - L = sum(slice)
        loss: L
        """, "3:", "the input name 'slice' shadows the function slice()", hint="choose another name")
