"""An adjoint that reaches no gradient is not derived: a node built only from inputs outside
``wrt`` (a distillation target, a weight chosen by ``where`` on a label) has no ∂L/∂ row in the
printout, no variable in the generated code and no row in ``cost`` (the derivative of the loss
by it was printed, computed and counted, and flowed nowhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC = Path(__file__).parent / "regressions" / "dead_adjoint_outside_wrt.yaml"


def _with_wrt(tmp_path, wrt: str) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(SPEC.read_text().replace("wrt: [X, W]", f"wrt: [{wrt}]"))
    return p


def test_a_target_outside_wrt_has_no_adjoint_in_any_output(run):
    text = run("derive", SPEC).output
    assert "∂L/∂T" not in text and "∂L/∂a" not in text
    assert "grad(X) =" in text and "grad(W) =" in text
    # (the PyTorch autograd.Function returns a gradient for every input it is passed, so it
    # derives them all, Zt's through T too)
    code = run("derive", SPEC, "-f", "numpy").output
    assert "d_T" not in code and "d_a " not in code and "d_X" in code
    cost = run("cost", SPEC).output
    assert "∂L/∂T" not in cost and "∂L/∂X" in cost


def test_the_gradients_still_verify(run):
    r = run("verify", SPEC)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("wrt,shown", [("X, W, Zt", "∂L/∂T"), ("X, W, s", "∂L/∂a")])
def test_the_adjoint_is_back_when_wrt_reaches_it(run, tmp_path, wrt, shown):
    """The same node on the way to an input of ``wrt`` keeps its adjoint (even where, as for
    ``s`` read only by where's condition, the gradient it carries is zero)."""
    r = run("derive", _with_wrt(tmp_path, wrt))
    assert r.exit_code == 0, r.output
    assert f"  {shown}" in r.output
