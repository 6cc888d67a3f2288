"""Issue 12's index-only leftovers (session 31): adjoints that printed their index form alone
now print a matrix form, each proved by verify (finite differences against every printed
form, at the spec's sizes and at distinct others) and pinned here as printed.

- a delta of a summed index shifted past its range, δ(0, k + 1) for k = 0 .. K − 1 (the
  columns of a concatenation after its first, read back from a one-hot at column 0), is
  never 1: dropped in the index form, the rest reads as a slice's product;
- a number at one position of an axis, −(1/B) δ_{0, l} beside softmax(lg)_il, is that
  number times a column of ones placed there: −(1/B) pad(𝟏, 0:1, axis=1).
"""

from __future__ import annotations

from conftest import forms
from einderive.api import render
from einderive.render.terminal import plain
from test_index_only_leftovers import _derive, _verified


def _no_index_only(d) -> None:
    out = plain(d)
    assert "no matrix form" not in out, out
    assert "written with einsum" not in out, out


def test_a_delta_shifted_past_its_sums_range_is_dropped():
    d = _derive("models/more11/moco_queue_infonce.yaml")
    # was Σ_k (softmax(lg)_{i, k + 1} − δ_{0, k + 1}) Qn_kj and no matrix form
    assert forms(d, "q") == (
        "(100/(7 B)) kp_ij (softmax(lg)_{i, 0} − 1) + (100/(7 B)) Σ_k softmax(lg)_{i, k + 1} "
        "Qn_kj",
        "(100/(7 B)) (kp ⊙ (take(softmax(lg), 0, axis=1) − 1) + slice(softmax(lg), :, 1:K + "
        "1) Qn)")
    assert forms(d, "lg") == ("(1/B) (softmax(lg)_il − δ_{0, l})",
                              "(1/B) (softmax(lg) − pad(𝟏, 0:1, axis=1))")
    _no_index_only(d)
    _verified(d)
    _verified(d, {"B": 2, "D": 3, "K": 7}, seed=2)
    code = render(d, "numpy")
    assert "softmax(lg)[:, 1:K + 1] @ Qn" in code, code
