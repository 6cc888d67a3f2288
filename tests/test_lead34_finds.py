"""Finds of session 34 (helpers' fuzzing, the lead's review): each held by a test that
failed before its fix, on what the user sees (`verify` evaluates every printed form)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_shared_vector_times_each_elements_column_has_code():
    """logsumexp(x3, axis=0)ᵀ colsum(∂L/∂h1_n) under Σ_n: the code multiplies the row the
    form reads (exit 3, IndexError, before: a 1-d operand of a batched @)."""
    spec = str(REGRESSIONS / "shared_vector_times_element_column.yaml")
    r = CliRunner().invoke(main, ["derive", spec])
    assert "Σ_n logsumexp(x3, axis=0)ᵀ colsum(∂L/∂h1_n)" in r.output, r.output
    for args in (["derive", "-f", "numpy", spec], ["verify", spec]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output


def test_an_elementwise_part_too_large_to_multiply_out_is_not_sent_to_sympy():
    """(x ⊘ (1 + x²)) ⊘ (1 + (x ⊘ (1 + x²))²): derive ran > 10 min in SymPy's expand and
    cancel; now seconds, and the printed forms verify."""
    from einderive.cancel import EXPANDED_TERMS_LIMIT, expanded_terms
    import sympy
    x, y = sympy.symbols("x y")
    assert expanded_terms((x + y + 1) ** 3) == 10  # (x + y + 1)³ has 10 terms
    assert expanded_terms(((x + y) ** 4 + x * (y + 1) ** 2 + 1) ** 8) > EXPANDED_TERMS_LIMIT
    spec = str(REGRESSIONS / "nested_quotient_cancel_blowup.yaml")
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output


def test_a_padded_ones_column_read_per_element_pads_one_axis():
    """(M ⊙ exp(v)) pad(𝟏, 1:K, axis=0)ᵀ: the code pads the 𝟏's axis 0 only (np.pad read
    ((1, 0),) for both axes of the (K1, 1) column: verify failed, -f numpy was wrong)."""
    spec = str(REGRESSIONS / "padded_ones_row_per_element.yaml")
    r = CliRunner().invoke(main, ["derive", "-f", "numpy", spec])
    assert "np.pad(np.ones((K1, 1)), ((1, 0), (0, 0)))" in r.output, r.output
    r = CliRunner().invoke(main, ["verify", spec])
    assert r.exit_code == 0, r.output
