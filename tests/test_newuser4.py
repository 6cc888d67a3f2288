"""A new user's correctness pass (issue s23, newuser4): each test is a defect found by
running fresh specs of real models and textbook identities through every output and
comparing with PyTorch autograd.  Each checks what the user sees (the printed equation read
back by the independent reader, or verify and the generated code against autograd)."""

from __future__ import annotations

import pytest

import torch_reference as R
from conftest import derive_text, forms
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import _unknown_without_torch, env_for

from einderive.api import verify
from einderive.render.terminal import plain


def text_failures(text: str) -> list[str]:
    """Every printed equation of the spec ``text`` that does not read back to autograd."""
    d = derive_text(text)
    env = env_for(d, R.reference(d.graph, seed=1))
    bad = []
    for section, line in entries(plain(d)):
        try:
            env.check(line)
        except ReaderError as exc:
            if not _unknown_without_torch(exc):
                bad.append(f"[{section}] {exc}")
    return bad

DET_INV = """\
name: det_inv
dims: {N: 3}
inputs: {A: [N, N]}
forward:
  - L = det(inv(A)) + trace(inv(A) @ inv(A))
loss: L
"""


def test_a_negated_einstein_sum_of_two_terms_keeps_its_brackets():
    """−Σ_jk (a_jk + b_jk) with its Σ dropped by Einstein's convention printed −a + b: the
    second term of ∂L/∂A for tr(A⁻¹A⁻¹) came out with the wrong sign (no error; verify,
    which compiles the tree, passed)."""
    assert not text_failures(DET_INV)
    index, _ = forms(derive_text(DET_INV), "A")
    assert " − ((A⁻¹)_" in index, index


CONCAT_ROWS = """\
name: concat_rows
dims: {N: 2, M: 3, NM: N + M, D: 4}
inputs: {A: [N, D], B: [M, D], W: [D, D]}
forward:
  - C = concatenate([A, B @ W], axis=0)
  - L = sum(softmax(C, axis=0) * C)
loss: L
"""


def test_a_function_of_a_whole_axis_read_over_a_concatenated_piece(tmp_path):
    """softmax(C, axis=0)_il with i over a piece's rows N (C's over N + M): its matrix form
    printed softmax(C, axis=0) whole (5×4 ⊙ 2×4, a wrong form) and its index form compiled
    to an einsum of a 5×4 array over a 2-row index (verify: exit 3)."""
    from test_ops import _generated_code_matches_torch
    d = derive_text(CONCAT_ROWS)
    _, matrix = forms(d, "A")
    # (the piece of C at 0:N is A: slice(C, 0:N) reads as A, stop 39)
    assert matrix.startswith("slice(softmax(C, axis=0), 0:N) ⊙ (1 + A"), matrix
    report = verify(d, seed=1)
    assert report.ok and not report.error, report.error
    _generated_code_matches_torch(d, tmp_path)


MERGE_THEN_SLICE = """\
name: merge_then_slice
dims: {T: 2, H: 2, Dh: 3, D: H * Dh, K: 2}
inputs: {X: [T, H, Dh], W: [K, T]}
forward:
  - Y = reshape(X, [T, D])
  - a = Y[:, 0:K]
  - L = sum((W @ a) ** 2)
loss: L
"""


def test_a_slice_of_a_reshape_prints_compiles_and_moves(tmp_path, run):
    """∂L/∂X reads the slice's range through the reshape, 𝟙[0 ≤ j·Dh + k < K], and a
    (T×K) at j·Dh + k (over D): printing the index map as a range's argument was an
    internal error (every text format, exit 3), its code reshaped a's 4 values into
    (T, H, Dh) (verify exit 3), and its tangent (verify --hvp) had no rule (exit 3)."""
    from test_ops import _generated_code_matches_torch
    path = tmp_path / "merge_then_slice.yaml"
    path.write_text(MERGE_THEN_SLICE)
    r = run("derive", path)
    assert r.exit_code == 0, r.output
    assert "∂L/∂X_ijk = 2 W_mi W_mi′ a_{i′, j·Dh + k} 𝟙[0 ≤ j·Dh + k < K]" in r.output
    for extra in (["--latex"], ["-f", "json"], ["--expand"]):
        assert run("derive", path, *extra).exit_code == 0
    d = derive_text(MERGE_THEN_SLICE)
    assert verify(d, seed=1).ok
    r = run("verify", "--hvp", path)
    assert r.exit_code == 0, r.output
    _generated_code_matches_torch(d, tmp_path)


HEADS_SUM = """\
name: heads_sum
dims: {T: 3, H: 2, Dh: 2, D: H * Dh}
inputs: {X: [T, D], W: [D, D], a: [H]}
forward:
  - Y = X @ W
  - Yh = reshape(Y, [T, H, Dh])
  - s = sum(Yh * Yh, axis=2)
  - L = sum(s @ a)
loss: L
"""


def test_a_hessian_through_a_digit_read_alone(tmp_path, run):
    """∂L/∂Y reads ∂L/∂s_{i, ⌊l/Dh⌋} (a split's first digit alone): its derivative paired
    the one digit with two indices, a Flat of one digit over two sizes (--hessian: internal
    error, IndexError); it is δ(⌊l/Dh⌋, m)."""
    path = tmp_path / "heads_sum.yaml"
    path.write_text(HEADS_SUM)
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    assert "20 second-order checks" in r.output, r.output


SLICE_CONCAT = """\
name: slice_concat
dims: {B: 2, N: 5, K: 2, M: N - K}
inputs: {X: [B, N], W: [N, N]}
forward:
  - a = X[:, 0:K]
  - b = X[:, K:N]
  - c = concatenate([tanh(b), a * a], axis=1)
  - L = sum((c @ W) * X)
loss: L
"""


def test_a_hessian_with_a_delta_of_two_shifted_indices(tmp_path, run):
    """∂²L/∂X∂X holds δ_{j − K, n − K} (a slice's read met by a concatenate's): its code
    gathered an identity at j − K, an index over no dim (verify --hessian: exit 3); it is
    𝟙[0 ≤ j − n < 1], the indices' values compared."""
    path = tmp_path / "slice_concat.yaml"
    path.write_text(SLICE_CONCAT)
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    assert "second-order checks of 1 spec match" in r.output, r.output


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("derive", "--help"),
                                  ("verify", "--help")])
def test_help_into_a_closed_stdout_ends_as_a_command_does(args):
    """``einderive --help | head -0`` exited 1 (click's own handler of a closed pipe), where
    ``einderive derive spec | head -0`` exits 141: the help and version, printed by click
    before any command runs, end quietly with 141 too."""
    from test_review_fixes import _into_closed_pipe
    result = _into_closed_pipe(*args)
    assert result.stderr == ""
    assert result.returncode == 141


TWO_READS_OF_P = """\
name: two_reads_of_p
dims: {N: 3}
inputs: {A: [N, N], P: [N, N], x: [N], g: [N]}
forward:
  - y = A @ P @ x + inv(P) @ x
  - L = sum(y * g)
loss: L
"""


def test_two_reads_of_one_input_in_one_node_read_term_by_term():
    """∂L/∂P of y = A P x + P⁻¹ x is Σ_m (A_mi x_j − (P⁻¹)_mi (P⁻¹ x)_j) g_m: read as one
    factor of three indices it printed einsum('jki,k->ij', einsum(…) + einsum(…), ∂L/∂y);
    term by term it is the Cookbook's Aᵀ g xᵀ − P⁻ᵀ g xᵀ P⁻ᵀ.  And tr(A⁻¹A⁻¹)'s −2 (A⁻ᵀ)³."""
    d = derive_text(TWO_READS_OF_P)
    assert forms(d, "P")[1] == "Aᵀ ∂L/∂y xᵀ − P⁻ᵀ ∂L/∂y xᵀ P⁻ᵀ"
    assert not text_failures(TWO_READS_OF_P)
    assert verify(d, seed=1).ok
    d = derive_text(DET_INV)
    assert forms(d, "A")[1] == "−det(A⁻¹)·A⁻ᵀ − 2 A⁻ᵀ A⁻ᵀ A⁻ᵀ"
    assert verify(d, seed=1).ok


LITERAL_ONES = """\
name: literal_ones
dims: {B: 3, N: 4}
inputs: {x: [B, 1], W: [1, N], c: [N]}
forward:
  - Y = x * W + c
  - L = sum(tanh(Y) * Y)
loss: L
"""


def test_a_hessian_block_keeps_the_literal_one_axes(tmp_path, run):
    """hessian() said each block is shaped x's shape + y's, but dropped literal 1 axes
    (∂²L/∂x∂W of x: [B, 1], W: [1, N] came out B×N, not B×1×1×N): verify --hessian failed
    on the mirror's transpose (exit 3)."""
    import importlib.util

    import numpy as np
    path = tmp_path / "literal_ones.yaml"
    path.write_text(LITERAL_ONES)
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    code = tmp_path / "h.py"
    assert run("derive", path, "--hessian", "-f", "numpy", "-o", code).exit_code == 0
    spec = importlib.util.spec_from_file_location("literal_ones_h", code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    h = module.hessian(x=rng.standard_normal((3, 1)), W=rng.standard_normal((1, 4)),
                       c=rng.standard_normal(4))
    assert h["x", "W"].shape == (3, 1, 1, 4) and h["W", "W"].shape == (1, 4, 1, 4)


THREE_PIECES = """\
name: three_pieces
dims: {B: 2, N: 2, M: 3, K: 1, S: N + M + K}
inputs: {a: [B, N], b: [B, M], c: [B, K], W: [S, S]}
forward:
  - h = concatenate([a, sigmoid(b), c * c], axis=1)
  - L = sum((h @ W) * h)
loss: L
"""


def test_a_hessian_delta_between_indices_of_two_dims(tmp_path, run):
    """∂²L/∂a_ij∂W_np = δ_jp h_in + δ_jn h_ip with j over a piece's N and p over the joined
    S: its code read an N×N identity over S (verify --hessian: exit 3, shapes (2,6,2,2) and
    (2,2,2,6)); a delta of two dims' indices compares their values."""
    path = tmp_path / "three_pieces.yaml"
    path.write_text(THREE_PIECES)
    r = run("verify", "--hessian", path)
    assert r.exit_code == 0, r.output
    assert "32 second-order checks of 1 spec match" in r.output, r.output


PICKED_SOFTMAX = """\
name: picked_softmax
dims: {B: 3, C: 4}
inputs: {Z: [B, C], labels: {shape: [B], integer: C}, T: {shape: [], positive: true}}
forward:
  - L = -sum(log(softmax(Z / T, axis=-1)[range(B), labels]))
loss: L
"""


def test_a_function_of_a_whole_axis_at_a_picked_index(tmp_path, run):
    """softmax(Z/T) picked at (i, labels_i) inline: recognizing it was an internal error
    (KeyError: labels[i], every command exit 3), and its index form printed the element
    as softmax((1/T)·Z)_i, the picked index dropped."""
    path = tmp_path / "picked_softmax.yaml"
    path.write_text(PICKED_SOFTMAX)
    r = run("derive", path)
    assert r.exit_code == 0, r.output
    assert "L = −log(softmax((1/T)·Z)_(i,labels_i))" in r.output, r.output
    assert verify(derive_text(PICKED_SOFTMAX), seed=1).ok
