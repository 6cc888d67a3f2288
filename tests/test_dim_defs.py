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


ALIKE = """\
dims: {B: 2, G: 2, R: 3, Dh: 2, D: G * R * Dh, GRD: %s}
inputs:
  x: [B, D]
  y: [B, GRD]
forward:
  - L = sum(x + y)
loss: L
"""


@pytest.mark.parametrize("grd", ["G * R * Dh", "Dh * (R * G)", "D"])
def test_two_dims_defined_alike_are_two_axes_and_the_error_says_so(grd):
    """Dims are axes' names: D and GRD defined alike are always the same size but not one
    axis (as M: 3 and N: 3 are not); the mismatch says why, and how to make them one."""
    from conftest import assert_spec_error
    text = ALIKE % grd
    assert_spec_error(text, "6:13", f"dims 'D' = G * R * Dh and 'GRD' = {grd} are always the "
                      "same size, but two dims name two axes",
                      "write 'D' where 'GRD' is (and drop 'GRD')", exact=True)


def test_dims_that_are_the_same_size_only_at_these_sizes_get_no_such_reason():
    from conftest import assert_spec_error
    text = ALIKE.replace("GRD: %s", "GRD: 12")
    with pytest.raises(AssertionError):  # the plain mismatch, without the reason
        assert_spec_error(text, "6:13", "always the same size", "")
    assert_spec_error(text, "6:13", "shapes (B, D) and (B, GRD) do not match", "NumPy")


def test_a_matmul_of_dims_defined_alike_says_why(run, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("dims: {M: 3, D: 4, E: D}\ninputs: {W: [M, D], x: [E]}\n"
                    "forward:\n  - L = sum(W @ x)\nloss: L\n")
    result = run("derive", path)
    assert result.exit_code == 2
    assert "cannot multiply with '@': shapes (M, D) and (E,) do not match: dims 'D' and " \
        "'E' = D are always the same size" in result.stderr
