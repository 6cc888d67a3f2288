"""Messages a new user met on tensor models (nu50's D1–D5): each bad spec says
file:line:col, exits 2, and its hint is true and leads to a spec that derives."""

from __future__ import annotations

import textwrap

import pytest


def spec_file(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def refused(tmp_path, run, text: str, at: str) -> str:
    path = spec_file(tmp_path, text)
    result = run("derive", path)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{path}:{at}: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def verifies(tmp_path, run, text: str) -> None:
    result = run("verify", spec_file(tmp_path, text))
    assert result.exit_code == 0, result.output


LSE = """\
dims: {A: 2, B: 3, C: 4}
inputs: {X: [A, B, C]}
forward:
  - L = sum(logsumexp(X, axis=AXIS))
loss: L
"""


@pytest.mark.parametrize("axis,at,nested", [
    ("None", "4:31", "logsumexp(logsumexp(logsumexp(X, axis=2), axis=1), axis=0)"),
    ("(1, 2)", "4:31", "logsumexp(logsumexp(X, axis=2), axis=1)"),
])
def test_logsumexp_over_several_axes_hints_what_it_takes(tmp_path, run, axis, at, nested):
    err = refused(tmp_path, run, LSE.replace("AXIS", axis), at)
    assert f"logsumexp takes a single integer axis, not axis={axis}" in err
    assert "hint: e.g. axis=-1" in err and nested in err
    assert "axis=(0, 1)" not in err  # what it refuses is not offered
    verifies(tmp_path, run, LSE.replace("logsumexp(X, axis=AXIS)", nested))


def test_softmax_axis_none_hints_one_axis(tmp_path, run):
    err = refused(tmp_path, run, LSE.replace("logsumexp(X, axis=AXIS)",
                                             "softmax(X, axis=None) ** 2"), "4:29")
    assert "softmax takes a single integer axis, not axis=None" in err
    assert "hint: e.g. axis=-1 (the last of the 3 axes)" in err and "nest" not in err


BATCH = """\
dims: {B: 2, N: 3}
inputs: {A: [B, N, N], v: [N]}
forward:
  - L = sum(CALL)
loss: L
"""


@pytest.mark.parametrize("call", ["det(A)", "inv(A)", "solve(A, v)"])
def test_a_batch_of_square_matrices_is_not_called_non_square(tmp_path, run, call):
    name = call.split("(")[0]
    err = refused(tmp_path, run, BATCH.replace("CALL", call), f"4:{14 + len(name)}")
    assert (f"{name} of a batch of square matrices (shape (B, N, N)) is not supported: "
            f"{name} takes one matrix") in err
    assert "A: [N, N]" in err and "reshape(A[0:1], [N, N])" in err
    verifies(tmp_path, run, BATCH.replace("CALL", call.replace("A", "reshape(A[0:1], [N, N])")))


@pytest.mark.parametrize("call,sub", [("diagonal(A)", "bii->bi"), ("trace(A)", "bii->b")])
def test_diagonal_and_trace_of_a_batch_hint_the_einsum(tmp_path, run, call, sub):
    err = refused(tmp_path, run, BATCH.replace("CALL", call), f"4:{14 + len(call) - 3}")
    assert f"takes one square matrix, not a batch of them (shape (B, N, N))" in err
    assert f'hint: for every matrix of the batch at once write einsum("{sub}", A)' in err
    verifies(tmp_path, run, BATCH.replace("CALL", f'einsum("{sub}", A) ** 2'))


def test_a_rank_4_batch_slices_one_axis_at_a_time(tmp_path, run):
    text = BATCH.replace("{B: 2,", "{B: 2, C: 2,").replace("[B, N, N]", "[B, C, N, N]")
    err = refused(tmp_path, run, text.replace("CALL", "det(A)"), "4:17")
    assert "reshape(A[0:1][:, 0:1], [N, N])" in err
    verifies(tmp_path, run, text.replace("CALL", "det(reshape(A[0:1][:, 0:1], [N, N]))"))


EINSUM = """\
dims: {B: 2, N: 3}
inputs: {a: [1, N], b: [B, N], c: [B]}
forward:
  - L = sum(CALL ** 2)
loss: L
"""


@pytest.mark.parametrize("call", ['einsum("bi,bi->b", a, b)', 'einsum("bi,bi,b->b", b, a, c)'])
def test_an_einsum_letter_of_size_1_in_one_operand_broadcasts_as_in_numpy(tmp_path, run, call):
    """a: [1, N] against b: [B, N] under one letter 'b': NumPy's and PyTorch's einsum
    broadcast it (it was refused: "letter 'b' stands for both 1 and B")."""
    from test_printed_forms import text_failures
    text = EINSUM.replace("CALL", call)
    verifies(tmp_path, run, text)
    assert text_failures(textwrap.dedent(text), expand=True) == []
    if call.endswith("a, b)"):
        out = run("derive", spec_file(tmp_path, text)).output
        assert "grad(a) = 2 a bᵀ b" in out and "grad(b) = 2 b aᵀ a" in out


POOL = """\
dims: {B: 1, C: 1, O: 2, K: 2, H: 5, Ho: H - K + 1, Hp: 2, P: 2}
inputs: {X: [B, C, H, H], W: [O, C, K, K]}
forward:
  - Y = conv2d(X, W)
  - Z = reshape(Y, [B, O, Hp, P, Hp, P])
  - L = sum(max(max(Z, axis=5), axis=3) ** 2)
loss: L
"""


def test_a_reshape_equal_only_at_the_declared_sizes_hints_the_dim_definition(tmp_path, run):
    err = refused(tmp_path, run, POOL, "5:20")
    assert ("cannot reshape (B, O, Ho, Ho) into (B, O, Hp, P, Hp, P): Ho and Hp·P are equal "
            "(4) at the declared sizes but not for every size (Ho = H - K + 1)") in err
    assert "B·O + B·O·H·H" not in err  # no expanded polynomial
    assert "hint: define dims: {H: K + Hp * P - 1} to make them equal for every size" in err
    verifies(tmp_path, run, POOL.replace("H: 5,", "H: K + Hp * P - 1,"))


STACK = """\
dims: {P: 2, N: 3, M: 4, PN: P * N}
inputs: {A: [N, M], B: [N, M]}
forward:
  - L = sum(reshape(stack([A, B], axis=1), [PN, M]) ** 2)
loss: L
"""


def test_a_stack_count_is_not_a_dim_of_the_same_size(tmp_path, run):
    err = refused(tmp_path, run, STACK, "4:44")
    assert ("N·2 and PN are equal (6) at the declared sizes but not for every size "
            "(PN = N * P)") in err
    assert "hint: a stack of 2 has 2 pieces whatever P is; define dims: {PN: 2 * N}" in err
    verifies(tmp_path, run, STACK.replace("PN: P * N", "PN: 2 * N"))


SLICES = """\
dims: {B: 2, C: 2, O: 2, K: 2, T: 5, To: T - K + 1, H: 2}
inputs: {X: [B, C, T], W: [O, C, K]}
forward:
  - Y = conv1d(X, W)
  - L = sum(maximum(Y[:, :, 0:H], Y[:, :, H:To]))
loss: L
"""


def test_a_slice_prints_its_bounds_as_written_and_the_dim_it_equals_here(tmp_path, run):
    err = refused(tmp_path, run, SLICES, "5:45")
    assert ("the slice H:To has To - H elements (To = T - K + 1): 2 at the declared sizes, "
            "as H is, but not H for every size") in err
    assert "hint: to make it H for every size, define dims: {T: K + 2 * H - 1}" in err
    verifies(tmp_path, run, SLICES.replace("T: 5,", "T: K + 2 * H - 1,"))
