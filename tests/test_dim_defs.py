"""Dims defined from other dims: ``dims: {H: 2, Dh: 3, D: H * Dh, To: T - K + 1}``."""

from __future__ import annotations

import textwrap

import pytest

from einderive.errors import SpecError

SPEC = """\
dims: {B: 2, H: 2, Dh: 3, D: H * Dh, T: 7, K: 3, To: "T - K + 1", Th: (T - 1) // 2}
inputs:
  X: [B, D]
  Y: [B, To]
  Z: [Th]
forward:
  - L = sum(X * X) + D * sum(Y) + sum(Z)
loss: L
"""


def load(text: str):
    from einderive.spec import loads
    return loads(textwrap.dedent(text), "spec.yaml")


def test_a_defined_dims_size_is_computed_from_its_definition():
    dims = {d.name: d for d in load(SPEC).dims}
    assert (dims["D"].size, dims["To"].size, dims["Th"].size) == (6, 5, 3)
    assert dims["D"].text == "H * Dh" and dims["To"].text == "T - K + 1"
    assert dims["B"].definition is None and dims["D"].definition is not None


def test_a_defined_dim_is_an_ordinary_range_in_the_index_form(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    out = run("derive", path).output
    assert "∂L/∂Y" in out and "D 𝟏" in out  # D is a symbol of its own, not H·Dh


def test_verify_sizes_a_defined_dim_from_the_dims_it_is_defined_from(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run("verify", path, "--dims", "H=5,T=9")
    assert result.exit_code == 0, result.output
    assert "D=15" in result.output and "To=7" in result.output and "Th=4" in result.output
    assert "X        │ 2×15" in result.output


def test_cost_sizes_a_defined_dim_from_the_dims_it_is_defined_from(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run("cost", path, "--dims", "H=5")
    assert result.exit_code == 0, result.output
    assert "D=15" in result.output


def test_a_defined_dim_cannot_be_given_another_size_by_dims(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    for command in ("verify", "cost"):
        result = run(command, path, "--dims", "D=5")
        assert result.exit_code == 2
        assert "the size 5, but it is defined as D = H * Dh = 6" in result.output
        assert "H, Dh" in result.output
        assert run(command, path, "--dims", "H=3,D=9").exit_code == 0  # the size it follows


BAD = [
    # (dims, line:col, words in the message, words in the hint)
    ("{H: 2, D: H * Dx}", "1:21", "unknown dim 'Dx' in the definition of dim 'D'", "'D'"),
    ("{H: 3, D: H // 2}", "1:17", "'D' = H // 2 is not a whole number at H=3: H = 3 is not a "
     "multiple of 2 = 2", "make H a multiple of 2"),
    ("{H: 3, D: 2 * (H / 2)}", "1:22", "'D' = 2 * (H / 2) is not a whole number", "exact"),
    ("{H: 2, E: 2, D: H // (E - 2)}", "1:23", "divides by zero at H=2, E=2", "divisor"),
    ("{H: 2, D: D * 2}", "1:14", "defined from itself: D -> D", "size of its own"),
    ("{H: 2, D: E, E: D + 1}", "1:14", "defined from itself: D -> E -> D", "size"),
    ("{H: 2, D: H - 5}", "1:14", "'D' = H - 5 is -3 at H=2", "positive"),
    ("{H: 2, D: 'H ** 2'}", "1:18", "'H ** 2' is not a dim", "+ - * //"),
    ("{H: 2, D: H // 0}", "1:22", "division by zero", "+ - * //"),
    ("{H: 2, D: 'H * (2'}", "1:22", "invalid definition", "H * Dh"),
    ("{H: 2, D: 'len(H)'}", "1:18", "'len(H)' is not a dim", "+ - * //"),
]


@pytest.mark.parametrize("dims, at, message, hint", BAD, ids=[b[0] for b in BAD])
def test_a_bad_definition_is_an_error_at_its_place(dims, at, message, hint):
    with pytest.raises(SpecError) as info:
        load(f"dims: {dims}\ninputs:\n  x: [H]\nforward:\n  - L = sum(x)\nloss: L\n")
    e = info.value
    assert f"{e.loc.line}:{e.loc.col}" == at, e.format()
    assert message in e.message and hint in (e.hint or ""), e.format()


def test_a_bad_definition_exits_2_with_its_place(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text("dims: {H: 2, D: H * Dx}\ninputs:\n  x: [D]\nforward:\n  - L = sum(x)\n"
                    "loss: L\n")
    result = run("derive", path)
    assert result.exit_code == 2
    assert f"{path}:1:21: error: unknown dim 'Dx'" in result.output


def test_verify_refuses_sizes_that_make_a_defined_dim_empty(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run("verify", path, "--dims", "T=2")
    assert result.exit_code == 2
    assert "'To' = T - K + 1 is 0 at T=2, K=3" in result.output


MULTIHEAD = """\
dims: {B: 2, D: 6, H: 2, Dh: D // H}
inputs: {X: [B, D], W: [D, D]}
forward:
  - Y = reshape(X @ W, [B, H, Dh])
  - L = sum(tanh(Y) * Y)
loss: L
"""


@pytest.mark.parametrize("division", ["//", "/"])
def test_a_head_dim_defined_by_division_reshapes_and_verifies(tmp_path, run, division):
    """Dh: D // H (what a user writes for multi-head attention) is D/H where it divides:
    the reshape into [B, H, Dh] fits, and its gradients match finite differences, also at
    other sizes that divide (--dims)."""
    path = tmp_path / "s.yaml"
    path.write_text(MULTIHEAD.replace("//", division))
    assert load(path.read_text()).dims[-1].size == 3
    out = run("derive", path)
    assert out.exit_code == 0, out.output
    assert "Y     = reshape(X W, [B, H, Dh])" in out.output
    for dims in ([], ["--dims", "D=8,H=4"], ["--dims", "D=12"]):
        result = run("verify", path, *dims)
        assert result.exit_code == 0 and "all 2 gradients" in result.output, result.output


def test_a_division_that_leaves_a_remainder_at_the_sizes_used_is_an_error(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(MULTIHEAD.replace("D: 6", "D: 7"))
    for command in ("derive", "verify", "cost"):
        result = run(command, path)
        assert result.exit_code == 2
        assert f"{path}:1:30: error: dim 'Dh' = D // H is not a whole number at D=7, H=2: " \
            "D = 7 is not a multiple of H = 2" in result.output, result.output
        assert "make D a multiple of H" in result.output
    path.write_text(MULTIHEAD)
    for command in ("verify", "cost"):  # sizes given on the command line are checked too
        result = run(command, path, "--dims", "D=7")
        assert result.exit_code == 2 and "D = 7 is not a multiple of H = 2" in result.output
