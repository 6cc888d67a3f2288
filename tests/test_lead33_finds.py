"""Finds of the lead's adversarial specs in session 33: each held by a test that failed
before its fix, on what the user sees (`verify` evaluates every printed form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from einderive.api import derive_file
from einderive.cli import main
from einderive.render.pymodule import closed_forms_module

REGRESSIONS = Path(__file__).parent / "regressions"


def test_the_code_of_a_column_vectors_colsum_is_its_total():
    """colsum(g) of a column g is the 1×1 matrix of its total; the generated code returned
    g unchanged (a row's column sums), so ∂L/∂mu = −(𝟏 colsum(g)) ⊘ s ran as the matrix
    𝟏 gᵀ ⊘ s and verify failed the printed closed forms of ∂L/∂mu and grad(X).  (Since
    stop 34 the sum over the centred Xc cancels in the index form, and ∂L/∂mu prints
    −sum(g) ⊘ s: the code of that form is checked the same way.)"""
    spec = REGRESSIONS / "colsum_of_a_column.yaml"
    r = CliRunner().invoke(main, ["derive", "--expand", str(spec)])
    assert r.exit_code == 0, r.output
    assert "∂L/∂mu    = −rowsum(∂L/∂Xc)\n            = −sum(g) ⊘ s\n" in r.output, r.output
    source = closed_forms_module(derive_file(spec), {"B": 3, "D": 4})
    space: dict[str, object] = {}
    exec(compile(source, "closed_forms", "exec"), space)  # noqa: S102 - our generated code
    rng = np.random.default_rng(1)
    X, g = rng.normal(size=(3, 4)), rng.normal(size=4)
    got = space["closed_forms"](X, g)  # type: ignore[operator]
    Xc = X - X.mean(axis=1, keepdims=True)
    s = (Xc * Xc).sum(axis=1, keepdims=True) + 1
    assert np.shape(got["mu"]) == (3, 1)
    np.testing.assert_allclose(got["mu"], -g.sum() / s)
    v = CliRunner().invoke(main, ["verify", str(spec)])
    assert v.exit_code == 0, v.output


def test_a_range_over_a_digit_of_a_flat_index_is_no_endless_product():
    """Two inline reshapes of one X sliced along the split axis: the reader took the bare
    range 𝟙[…] over a digit of the flat index as a product whose only factor was itself and
    read it again, until Python's recursion limit ('too deeply nested to derive', exit 2)."""
    spec = REGRESSIONS / "reshape_slice_inline_twice.yaml"
    r = CliRunner().invoke(main, ["derive", str(spec)])
    assert r.exit_code == 0, r.output
    assert "grad(X) = reshape(pad(tanh(slice(reshape(X, [B, T, D]), :, :, 1:3)), 1:3," in r.output, \
        r.output
    v = CliRunner().invoke(main, ["verify", str(spec)])
    assert v.exit_code == 0, v.output


def test_the_batch_note_says_every_element_read_at_other_axes():
    """∂L/∂X_a = 2 X_a ⊙ Z_a + Y_aᵀ reads Z_a at Z's middle axis and Y_a at Y's last: the
    note says both (it said Z_a only, and Y_a read as Y[a, :, :], which is no B×C matrix)."""
    spec = REGRESSIONS / "elements_at_other_axes.yaml"
    r = CliRunner().invoke(main, ["derive", str(spec)])
    assert r.exit_code == 0, r.output
    note = " ".join(r.output.split("\nnote: ", 1)[1].split())
    assert "∂L/∂X_a   = 2 X_a ⊙ Z_a + Y_aᵀ" in r.output, r.output
    assert "the batch axis A: Z_a is the matrix Z[:, a, :], Y_a the matrix Y[:, :, a]." in note, \
        note
    assert "the batch axis B: X_b is the matrix X[:, b, :]." in note, note


def test_a_diagonal_sum_is_no_element_of_a_per_element_temporary():
    """Σ_j w_j Z_bjj (a diagonal, einsum('bll,l->b', Z, w)) beside Z @ w read per element
    (t1_b = Z_b w): the sum is no element of t1 (its index would be the sum's own letter);
    read so, ∂L/∂c lost its matrix form (was einsum('ijj->ij', Z) w on main)."""
    spec = REGRESSIONS / "diagonal_beside_per_element_temporary.yaml"
    r = CliRunner().invoke(main, ["derive", "--expand", str(spec)])
    assert r.exit_code == 0, r.output
    assert "no matrix form" not in r.output, r.output
    assert "grad(c)   = sum(Z ⊙ 𝐈, axis=2) w" in r.output, r.output  # (session 36: was einsum)
    v = CliRunner().invoke(main, ["verify", str(spec)])
    assert v.exit_code == 0, v.output


def test_a_divisor_met_twice_in_one_term_is_no_shared_denominator():
    """(1/(r + s)) ⊙ (1/(r + s)) + y ⊙ (1/(r + s)): a term whose factors are both the
    divisor has no name over it; the check asked for the other factor with no default and
    raised StopIteration inside a generator (RuntimeError), found by review."""
    from einderive import matrix as mx
    from einderive.simplify import common_factor
    shape = ("N", "N")
    r, s, y = (mx.Ref(n, "input", shape) for n in "rsy")  # type: ignore[arg-type]
    den = mx.Pow(mx.Add((r, s), shape), -1, shape)
    twice, once = mx.Hadamard((den, den), shape), mx.Hadamard((y, den), shape)
    for m in (mx.Add((twice, once), shape), mx.Add((once, twice), shape)):
        common_factor(m)  # no exception
