"""cf3 (stop 45): two leftovers of the constants and message work (review rv6 F1, F2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cf1_constants import refused_past_floats
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures



def _spec(tmp_path: Path, line: str, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"dims: {{N: 3}}\ninputs: {{x: [N]}}\nforward:\n  - \"{line}\"\nloss: L\n")
    return path


@pytest.mark.parametrize("line, col", [
    ("L = sum(x * (10**400 * 2.0 / 10**400))", 19),
    ("L = sum(x * (2.0 ** 1100 / 2 ** 1100))", 19),
    ("L = sum(x * (1.0 * 10**400 / 10**399))", 19),
    ("L = sum(x * (10**400 * 0.0))", 19),
    ("L = sum(x * (0.0 * 10**400 + 1))", 19),
    ("L = sum(x * (1E0 * 10**400 / 10**399))", 19),
], ids=["times-2.0", "2.0-power", "1.0-times", "times-0.0", "0.0-times", "1E0-times"])
def test_a_whole_float_literal_meeting_an_int_past_floats_overflows(tmp_path, line, col):
    """x * (10**400 * 2.0 / 10**400) printed grad(x) = 2 𝟏 with verify 0, where Python raises
    OverflowError (int too large to convert to float) on the line (rv6 F1): float_value read
    the whole float literal 2.0 as the int 2, so the check of the range saw int arithmetic.
    A literal written with . e or E is a float: exit 2 at the operation, as
    10**400 + 0.5 - 10**400 already was."""
    refused_past_floats(tmp_path, line, col)


@pytest.mark.parametrize("line, grad", [
    ("L = sum(x * (1 + 2.0 ** 53 - 2 ** 53))", "0"),
    ("L = sum(x * x * (2.0 ** 60 + 1 - 2 ** 60)) + sum(x)", "𝟏"),
    ("L = sum(x * (2.0 * 3))", "6 𝟏"),
    ("L = sum(x * (3 ** 40 - 3 ** 40 + 1))", "𝟏"),
], ids=["rounded-2**53", "rounded-2**60", "in-range", "ints-exact"])
def test_a_whole_float_literal_rounds_as_a_float(tmp_path, line, grad):
    """1 + 2.0 ** 53 − 2 ** 53 is 0.0 in Python (2.0 ** 53 + 1 rounds to 2.0 ** 53), but the
    whole literal 2.0 was read as an int: grad(x) = 𝟏 printed, verify 0 (the code wrote the
    ints too).  Python's ints alone stay exact (3 ** 40 − 3 ** 40 + 1 is 1)."""
    spec = _spec(tmp_path, line)
    out = _run("derive", str(spec))
    assert f"  grad(x) = {grad}\n" in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)


@pytest.mark.parametrize("dims, definition", [
    ("K: 2, N: 6, M: N - K * K", "dims: {N: K + K * K}"),
    ("K: 2, N: 1, M: 2 * N", "dims: {N: K // 2}"),
    ("K: 3, N: 1, M: 2 * N + 1", "dims: {N: (K - 1) // 2}"),
    ("K: 2, N: 4, M: N - K", "dims: {N: 2 * K}"),
    ("K: 2, N: 34, M: N - K * K * K * K * K", None),
], ids=["square", "half", "odd-half", "linear", "fifth-power"])
def test_a_hint_defines_a_dim_as_a_spec_writes_it(tmp_path, dims, definition):
    """dims {B: 2, K: 2, N: 6, M: N - K * K} with X: [B, K] * Y: [B, M]: the hint ended
    "define 'N' so that 'M' is 'K': dims: {N: K *  * 2 + K}" (rv6 F2, SymPy's K**2 with its
    stars spaced).  The value is written as a definition writes it (K * K, K // 2), and the
    spec so defined builds to the next error (K and M always the same size); a value no
    definition writes (a power past 4) gets no definition."""
    from conftest import assert_spec_error
    text = f"dims: {{B: 2, {dims}}}\ninputs: {{X: [B, K], Y: [B, M]}}\n" \
        "forward: ['L = sum(X * Y)']\nloss: L\n"
    assert_spec_error(text, "3:", "shapes (B, K) and (B, M) do not match",
                      "for one axis, declare one dim and use it for both (write 'K' where 'M' "
                      "is)" + (f", or define 'N' so that 'M' is 'K': {definition}"
                               if definition else ""))
    if definition is None:
        from einderive.errors import SpecError
        from einderive.graph import build
        from einderive.spec import loads
        with pytest.raises(SpecError) as info:
            build(loads(text, "spec.yaml"))
        assert "define" not in (info.value.hint or ""), info.value.hint
        return
    value = definition.split("{N: ")[1].rstrip("}")
    fixed = text.replace(dims, dims.split(", N: ")[0] + f", N: {value}, M: " +
                         dims.split(", M: ")[1])
    assert_spec_error(fixed, "3:", "are always the same size", "use one of them for both axes")
