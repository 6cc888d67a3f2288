"""Finds of the eleventh new-user pass (tests/models/more11), each held by a test that failed
before its fix: what the user sees printed, and `verify` on the spec."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import assert_spec_error, derive_text
from einderive.api import derive_file, render, verify

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
        """, "3:", "the input name 'slice' is a word of the printed notation",
        hint="choose another name")


REL_SHIFT = """
    name: txl_rel_shift
    dims: {T: 3, D: 2, T1: T + 1, TT1: T * T1, TT: T * T}
    inputs: {Q: [T, D], Rk: [T, D], Z: [T, 1]}
    wrt: [Q, Rk]
    forward:
      - BD = Q @ Rk.T
      - Pd = reshape(reshape(concatenate([Z, BD], axis=1), [TT1]), [T1, T])
      - Sh = reshape(reshape(Pd[1:T1, :], [TT]), [T, T])
      - L = sum(softmax(Sh, axis=1) * BD)
    loss: L
    """


def test_an_index_map_divides_and_takes_the_remainder_of_the_whole_sum(run, tmp_path):
    """Transformer-XL's relative shift: a reshape's index map of a sum of indices is written
    ⌊(k·T + i)/T1⌋ and (k·T + i) mod T1, and a remainder shifted ((k·T + i) mod T1) − 1 (was
    ⌊k·T + i/T1⌋, k·T + i mod T1 − 1: a quotient and remainder of i alone, as read)."""
    spec = tmp_path / "txl_rel_shift.yaml"
    spec.write_text(textwrap.dedent(REL_SHIFT), encoding="utf-8")
    text = run("derive", spec).output
    d = derive_text(REL_SHIFT)
    assert "BD_{⌊(k·T + i)/T1⌋, ((k·T + i) mod T1) − 1}" in text
    assert "∂L/∂Pd_{⌊(i·T1 + i′ + 1)/T⌋, (i·T1 + i′ + 1) mod T}" in text
    assert "\\lfloor (i T_{1} + i' + 1)/T \\rfloor" in render(d, "latex")
    report = verify(d)
    assert report.ok, report.error


def test_a_remainder_beside_another_term_of_an_index_map_is_in_parentheses(run):
    """PixelShuffle's index maps: j·R·R + (p mod R)·R + (q mod R) and m·R + (⌊l/R⌋ mod R)
    (was j·R·R + p mod R·R + q mod R, a remainder of the whole sum as read); the reader of
    tests/test_printed_forms.py reads them back to the reference."""
    path = REGRESSIONS / "pixel_shuffle_index_precedence.yaml"
    text = run("derive", path).output
    d = derive_file(path)
    assert "Xs_{i, j·R·R + (p mod R)·R + (q mod R), ⌊p/R⌋, ⌊q/R⌋}" in text
    assert "m·R + (⌊l/R⌋ mod R), n·R + (l mod R)}" in text
    report = verify(d)
    assert report.ok, report.error



def test_a_product_divisor_of_an_index_map_is_in_parentheses(run):
    """A reshape that merges three axes: its index map's first digit is ⌊m/(C·E)⌋ (was
    ⌊m/C·E⌋, which a person reads (m/C)·E); tests/test_printed_forms.py reads every line of
    the regression spec back to the reference, and the reader refuses the unbracketed
    product."""
    import pytest
    import torch_reference as R
    from notation_reader import ReaderError
    from test_printed_forms import env_for
    path = REGRESSIONS / "flatten_three_axes.yaml"
    good = "Y_im = tanh(X_{i, ⌊m/(C·E)⌋, ⌊m/E⌋ mod C, m mod E})"
    assert good.split(" = ")[1] in run("derive", path).output
    d = derive_file(path)
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(good.replace("(C·E)", "C·E"))
    report = verify(d)
    assert report.ok, report.error


def test_a_tensor_named_like_a_printed_function_is_refused():
    """The matrix form prints colsum(X), rowsum(X), onehot(tok), pad(…), take(…), tr(A B): a
    node named colsum printed `colsum = Wᵀ colsum(X)` and `2 colsum(X) colsumᵀ` (found by the
    fz pass), a tensor and a function under one name."""
    assert_spec_error("""
        dims: {N: 3, M: 2}
        inputs: {X: [N, M], W: [M, M]}
        forward:
          - colsum = W.T @ sum(X, axis=0)
          - L = sum(colsum * colsum)
        loss: L
        """, "5:", "the node name 'colsum' is a word of the printed notation",
        hint="choose another name")
    assert_spec_error("""
        dims: {N: 3}
        inputs: {onehot: [N]}
        forward:
          - L = sum(onehot * onehot)
        loss: L
        """, "3:", "the input name 'onehot' is a word of the printed notation",
        hint="choose another name")
