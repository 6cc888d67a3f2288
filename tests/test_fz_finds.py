"""Finds of the adversarial pass over this session's readings (hand-made specs around
length-1 slices, embedding lookups, merged axes), each held by a test that failed before its
fix: what the user sees printed, and `verify` on the spec."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"


def test_the_last_row_slice_derives_and_prints_its_position_apart():
    """``X[:, T1:T, :]`` is one element of the axis at T1, a position a dim states: the
    reader reads no take at a symbolic position (was an internal error), and the index form
    separates it from the index, δ_{T1, j} (was δ_T1j, read as three indices); its cost
    counts the δ's index only."""
    spec = str(REGRESSIONS / "last_row_slice.yaml")
    r = CliRunner().invoke(main, ["derive", "--expand", spec])
    assert r.exit_code == 0, r.output
    assert "δ_{T1, j}" in r.output and "δ_T1j" not in r.output
    assert "∂L/∂w     = colsum(x0 ⊙ x1)" in r.output
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output
    # the cost of its index form counts the δ's index, not the dim (was KeyError: None)
    r = CliRunner().invoke(main, ["cost", spec])
    assert r.exit_code == 0, r.output


def test_a_batch_of_ones_sum_of_a_total_times_ones_is_the_column():
    """Σ_b (sum(∂L/∂h3_b ⊙ x0_b)·𝟏) of a batch of one (a random spec of
    test_no_internal_error): its code is the one element's column, not the column's entries
    added up with the batch (was M times too large: verify's matrix and closed columns
    failed, with no error)."""
    spec = str(REGRESSIONS / "batch_of_one_total_times_ones.yaml")
    r = CliRunner().invoke(main, ["derive", spec])
    assert "grad(x1) = Σ_b (" in r.output, r.output
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["derive", "-f", "numpy", spec])
    assert "np.ones((M, 1))), axis=1)" in r.output, r.output


def _compiled_batch_sum(body_of, expected_of):
    """A Σ_b form over a batch of three, built by hand (no printed form has an element's total
    under Σ_b but a batch of one's: README, a form that needs each element's total is an
    einsum), compiled to NumPy and run beside its meaning element by element."""
    import numpy as np
    import sympy

    from einderive import matrix as mx
    from einderive import pyexpr as P
    from einderive.derivation import derive
    from einderive.spec import loads
    from einderive.kinds import RefKind
    from einderive.matrix import ReduceKind
    from einderive.render.backends import Backend
    from einderive.render.code import Compiler, Names

    d = derive(loads("dims: {B: 3, N: 2, K: 4}\ninputs: {X: [B, N, K], w: [K]}\n"
                     "forward:\n  - L = sum(X * X) + sum(w)\nloss: L\n", "sum_b.yaml"))
    X = mx.Ref("X", RefKind.TENSOR, ("N", "K"), batch=("B",))
    total = mx.Reduce(ReduceKind.SUM, mx.Hadamard((X, X), ("N", "K")), ())
    body = body_of(mx, total, X, sympy)
    m = mx.BatchSum(body, ("B",), ("b",), body.shape)
    code = P.unparse(Compiler(d, Backend(), Names(d.graph)).matrix(m, ()).py)
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 2, 4)), rng.normal(size=4)
    got = eval(code, {"np": np, "X": x, "w": w, "B": 3, "N": 2, "K": 4})  # generated code
    want = sum(expected_of((x[b] * x[b]).sum(), x[b], w) for b in range(3))
    return code, np.shape(got) == np.shape(want) and np.allclose(got, want)


def test_each_elements_total_under_a_batch_sum_is_its_own():
    """Σ_b sum(X_b ⊙ X_b)·X_b and Σ_b sum(X_b ⊙ X_b)²·w over a batch of three: the code took
    the whole batch's total for each element's (np.sum(X * X) * X), and the second, whose
    body then had no batch axis, summed w's own axis away too (a scalar, not a K-vector)."""
    code, ok = _compiled_batch_sum(lambda mx, t, X, S: mx.Scale(t, X, ("N", "K")),
                                   lambda s, x, w: s * x)
    assert ok, code
    code, ok = _compiled_batch_sum(
        lambda mx, t, X, S: mx.Scale(mx.Pow(t, S.Integer(2), ()),
                                     mx.Ref("w", X.kind, ("K", 1)), ("K", 1)),
        lambda s, x, w: s ** 2 * w)
    assert ok, code
