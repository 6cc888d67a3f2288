"""A new user's correctness pass (session s26, nu7): each test is a defect found by running
fresh specs of real models through every output and comparing einderive's gradients with
PyTorch autograd of a forward pass written by hand (tests/newuser7_forwards.py), with
finite differences (verify), or an error a user meets and its hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import assert_spec_error

torch = pytest.importorskip("torch")
REGRESSIONS = Path(__file__).parent / "regressions"

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


def _lookup_reshaped(t, s):
    X = t["E"][t["tok"]].reshape(s["B"], s["T"] * s["D"])
    return torch.tanh(X @ t["w"]).sum()


def test_a_lookup_merged_by_reshape_has_second_order_code_and_no_internal_name(tmp_path):
    """``X = reshape(E[tok], [B, TD])``: the lookup E[tok] of rank-2 tokens is an anonymous
    intermediate with no matrix form, and X printed ``reshape(_X_1, [B, TD])`` (a name defined
    nowhere, and the batch note explained ``_X_1ᵀ``); its tangent reads E at a token read at
    a reshape's digit, ``Ė_(tok_{i, ⌊k/D⌋}, k mod D)``, which the code generator could not
    compile (``derive --hvp -f numpy`` and ``verify --hvp``: exit 3)."""
    import numpy as np
    import torch_reference as R
    from einderive.api import derive_file, render, second_order, verify_files
    from test_codegen import load
    path = REGRESSIONS / "lookup_reshaped.yaml"
    d = derive_file(path)
    for fmt in ("markdown", "json", "latex"):
        shown = render(second_order(d, hvp=""), fmt)
        assert "_X" not in shown and "reshape(_" not in shown, shown
    reports, errors = verify_files([path], {}, 0, 1e-6, hvp="")
    assert not errors and reports[0].ok, reports
    mod = load(tmp_path, render(second_order(d, hvp=""), "numpy"))
    g = d.graph
    for n, sizes in enumerate([{"B": 2, "T": 3, "D": 2, "V": 4, "TD": 6},
                               {"B": 3, "T": 5, "D": 3, "V": 2, "TD": 15}]):
        values = R.random_inputs(g, sizes, n)
        v = {k: np.random.default_rng(n).standard_normal(values[k].shape) for k in ("E", "w")}
        t = {k: torch.tensor(x) for k, x in values.items()}
        _, want = torch.autograd.functional.hvp(
            lambda E, w: _lookup_reshaped(t | {"E": E, "w": w}, sizes), (t["E"], t["w"]),
            (torch.tensor(v["E"]), torch.tensor(v["w"])))
        got = mod.hvp(**values, v_E=v["E"], v_w=v["w"])
        for k, h in zip(("E", "w"), want):
            np.testing.assert_allclose(got[k], h.numpy(), atol=1e-10)


def test_a_function_of_a_form_of_each_element_prints_no_internal_name():
    """``a = softmax(X @ q)`` with X of rank 3 (attention pooling's scores): the argument is
    anonymous and read element by element (X_b q), a form with no left side to say it, so it
    has no matrix form; a printed ``a = softmax(_a_1)``, a name defined nowhere."""
    from einderive.api import derive_file, render, verify
    d = derive_file(REGRESSIONS / "softmax_of_batched_matvec.yaml")
    for fmt in ("markdown", "latex"):
        shown = render(d, fmt)
        assert "_a_1" not in shown and "_a\\_1" not in shown, shown
    assert verify(d).ok


def test_cost_counts_an_index_form_that_reads_at_a_label(run):
    """An ensemble's mean of stacked softmaxes picked at the labels, ``log(Pm[range(B),
    lab])``: the gradients have index forms only, ``softmax(X W1)_(i,lab_i)``, and ``cost``
    took the label's element ``lab_i`` for an index letter and looked up its dim (KeyError,
    exit 3).  An integer input's element reads its own indices' letters."""
    r = run("cost", str(REGRESSIONS / "cost_of_a_picked_index_form.yaml"))
    assert r.exit_code == 0, r.output
    assert "∂L/∂W1" in r.output and "internal error" not in r.output
