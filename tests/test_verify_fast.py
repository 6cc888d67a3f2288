"""verify in O(graph): random directions for large inputs, a capped number of forward
evaluations, and a usage error (not a MemoryError) for sizes too large to allocate."""

from __future__ import annotations

import pytest

from einderive import derive, loads
from einderive import verify as verify_module
from einderive.api import verify
from einderive.verify import DIRECTIONS, ELEMENTWISE_MAX, FD_BUDGET

np = pytest.importorskip("numpy")

LARGE = "dims: {N: 20}\ninputs: {W: [N, N], x: [N]}\nforward:\n  - L = sum(sigmoid(W @ x))\nloss: L\n"


def chain(n: int) -> str:
    inputs = "".join(f"  W{k}: [D, D]\n" for k in range(1, n + 1))
    forward = "".join(f"  - h{k} = sigmoid(W{k} @ h{k - 1})\n" for k in range(1, n + 1))
    return (f"dims: {{D: 4}}\ninputs:\n  h0: [D]\n{inputs}forward:\n{forward}"
            f"  - L = sum(h{n} * h{n})\nloss: L\n")


def _patched_load(monkeypatch, break_=None, calls=None):
    """verify with its generated module wrapped: a gradient of the matrix form altered
    (``break_``: (name, function)), and/or the forward evaluations counted."""
    original = verify_module._load

    def load(plan):
        module = original(plan)
        forward, matrix = module.forward, module.gradients["matrix"]

        def counted(**inputs):
            if calls is not None:
                calls.append(1)
            return forward(**inputs)

        def gradients(**inputs):
            out = dict(matrix(**inputs))
            if break_:
                out[break_[0]] = break_[1](out[break_[0]])
            return out
        return verify_module._Module(counted, {**module.gradients, "matrix": gradients},
                                     module.closed)
    monkeypatch.setattr(verify_module, "_load", load)


def _gradient_rows(report) -> list:
    """The gradients' rows (the other adjoints' closed forms have rows of their own)."""
    return [c for c in report.checks if not c.adjoint]


def _failing(report) -> list:
    return [(c.name, c.index, c.matrix) for c in report.checks if not c.ok]


def test_a_large_input_is_checked_along_directions_and_passes():
    d = derive(loads(LARGE))
    assert 20 * 20 > ELEMENTWISE_MAX
    report = verify(d)
    assert report.ok and [c.shape for c in _gradient_rows(report)] == [(20, 20), (20,)]


@pytest.mark.parametrize("wrong", [np.transpose, lambda g: 1.01 * g, lambda g: g[::-1]],
                         ids=["transposed", "scaled", "rows swapped"])
def test_a_wrong_gradient_of_a_large_input_fails(monkeypatch, wrong):
    _patched_load(monkeypatch, break_=("W", wrong))
    report = verify(derive(loads(LARGE)))
    assert _failing(report) == [("W", "pass", "fail")]


def test_a_wrong_gradient_among_many_inputs_is_found_by_halving(monkeypatch):
    """Past the budget the inputs are checked jointly; the failing one is still named."""
    _patched_load(monkeypatch, break_=("W30", np.transpose))
    report = verify(derive(loads(chain(40))))
    assert _failing(report) == [("W30", "pass", "fail")]
    assert len(_gradient_rows(report)) == 41


def test_a_correct_deep_chain_passes():
    report = verify(derive(loads(chain(40))))
    assert report.ok and len(_gradient_rows(report)) == 41


def test_forward_evaluations_do_not_grow_with_the_number_of_inputs(monkeypatch):
    counts = {}
    for n in (8, 32):
        calls = []
        _patched_load(monkeypatch, calls=calls)
        assert verify(derive(loads(chain(n)))).ok
        counts[n] = len(calls)
    # 8 layers fit the budget: every element of h0 (4) and of each W (16), both signs
    assert counts[8] == 1 + 2 * (4 + 8 * 16)
    assert counts[32] <= 1 + FD_BUDGET + 2 * DIRECTIONS


def test_a_large_input_costs_two_evaluations_per_direction(monkeypatch):
    calls = []
    _patched_load(monkeypatch, calls=calls)
    verify(derive(loads(LARGE)))
    assert len(calls) == 1 + 2 * 20 + 2 * DIRECTIONS  # the loss, x per element, W along directions


def test_sizes_too_large_to_allocate_are_a_usage_error(run, tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text("dims: {N: 1000000, M: 3}\ninputs: {W: [N, N], v: [M]}\nforward:\n"
                    "  - L = sum(W @ W) + sum(v)\nloss: L\n")
    result = run("verify", spec)
    assert result.exit_code == 2
    assert "'N'" in result.stderr and "1,000,000" in result.stderr
    assert "--dims N=8" in result.stderr
    assert run("verify", spec, "--dims", "N=4").exit_code == 0
