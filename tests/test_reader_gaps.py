"""Printed forms the test reader (tests/notation_reader.py) could not read, now read back to the
reference, each with a damaged copy it must reject: pads inside a convolution and inside a
reshape, transposed pads inside a product, Σ_b of a number times 𝟏 over a batch of one, a
remainder inside an Iverson bracket, each element's column of a rank-3 logsumexp, a row's
logsumexp without a subscript, each element's number in a line written per element.  And
the printed remainder in a sum of indices, bracketed (it read as the remainder of the sum)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import torch_reference as R
from einderive.api import derive_file
from einderive.cli import main
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import env_for

REGRESSIONS = Path(__file__).parent / "regressions"

MAXES = "max(X)·sum(min(X, axis=0)) + sum(min(X, axis=1) + max(−X, axis=1))"
MAX_INDEX = "Σ_j max(X) min(X, axis=0)_j + Σ_i (min(X, axis=1)_i + max(−X, axis=1)_i)"
SIG = ("σ'(conv1d(pad(X, 0:C, axis=1) + pad(tanh(X), C:C2, axis=1), W))")
CASES = [  # (spec stem, a printed line, the line damaged)
    ("conv1d_inline_concat",  # pads sized by each other inside a convolution
     f"∂L/∂W = {SIG} ⋆ (pad(X, 0:C, axis=1) + pad(tanh(X), C:C2, axis=1))",
     f"∂L/∂W = {SIG} ⋆ (pad(tanh(X), 0:C, axis=1) + pad(X, C:C2, axis=1))"),
    ("conv1d_inline_concat",
     f"∂L/∂X = ({SIG} ∗ slice(W, :, C:C2)) ⊙ (1 − tanh(X)^∘2) + {SIG} ∗ slice(W, :, 0:C)",
     f"∂L/∂X = ({SIG} ∗ slice(W, :, 0:C)) ⊙ (1 − tanh(X)^∘2) + {SIG} ∗ slice(W, :, C:C2)"),
    ("w_row_slices_transposed_pads",  # transposed pads in a matrix product
     "∂L/∂W = (pad(X, 0:D, axis=1)ᵀ + pad(h, D:DH, axis=1)ᵀ) ∂L/∂z",
     "∂L/∂W = (pad(X, 0:D, axis=1)ᵀ − pad(h, D:DH, axis=1)ᵀ) ∂L/∂z"),
    ("batch_of_one_total_times_ones",  # Σ_b (s_b·𝟏) over a batch of one
     "∂L/∂x1 = Σ_b (−(2/M²) (sum(x1)·sum(∂L/∂h3_b ⊙ x0_b)/(1 + (1/M²) sum(x1)²)²)·𝟏)",
     "∂L/∂x1 = Σ_b (−(1/M²) (sum(x1)·sum(∂L/∂h3_b ⊙ x0_b)/(1 + (1/M²) sum(x1)²)²)·𝟏)"),
    ("reshape_slice_remainder",  # 𝟙[… l mod D …] (X read at l: ⌊l/D⌋·D + (l mod D) is l)
     "∂L/∂X_il = 2 (1 − tanh(X_il)²) 𝟙[2 ≤ l mod D < 4] tanh(X_il)",
     "∂L/∂X_il = 2 (1 − tanh(X_il)²) 𝟙[1 ≤ l mod D < 4] tanh(X_il)"),
    ("reshape_slice_remainder",  # X read at its own index, not at another's
     "∂L/∂X_il = 2 (1 − tanh(X_il)²) 𝟙[2 ≤ l mod D < 4] tanh(X_il)",
     "∂L/∂X_il = 2 (1 − tanh(X_{i, l mod D})²) 𝟙[2 ≤ l mod D < 4] tanh(X_il)"),
    ("reshape_slice_remainder",  # a pad inside a reshape, sized by the reshape's count
     "∂L/∂X = 2 reshape(pad(tanh(slice(reshape(X, [B, T, D]), :, :, 2:4)) ⊙ (1 − "
     "tanh(slice(reshape(X, [B, T, D]), :, :, 2:4))^∘2), 2:4, axis=2), [B, TD])",
     "∂L/∂X = 2 reshape(pad(tanh(slice(reshape(X, [B, T, D]), :, :, 2:4)) ⊙ (1 − "
     "tanh(slice(reshape(X, [B, T, D]), :, :, 2:4))^∘2), 1:3, axis=2), [B, TD])"),
    ("log_softmax_of_a_row_expression",  # a row's one logsumexp, no subscript
     "h0_j = σ(x0_j) − logsumexp(σ(x0))", "h0_j = σ(x0_j) − logsumexp(x0)"),
    ("per_element_number_times_ones",  # each element's 1×1, squared, times 𝟏 wᵀ
     "∂L/∂X_b = (1/T) (1 − tanh(wᵀ m_b)²)·𝟏 wᵀ", "∂L/∂X_b = (1/T) (1 − tanh(wᵀ m_b))·𝟏 wᵀ"),
    ("logsumexp_rank3_transposed",  # the [M, N] tensor transposed, its axis named
     "h1 = logsumexp(x0, axis=2)ᵀ", "h1 = logsumexp(x0, axis=1)ᵀ"),
    ("logsumexp_rank3_columns",  # each element's column, the tensor of them
     "h4 = logsumexp(x2)", "h4 = logsumexp(x2) + 𝟏"),
    # an expression's max along an axis, and max(X) of every element (nu47 find_62)
    ("reader_max_of_an_expression",
     f"L = {MAXES} + sum(relu(s − y))", f"L = {MAXES.replace('−X, axis=1', '−X, axis=0')}"
     " + sum(relu(s − y))"),
    ("reader_max_of_an_expression",
     f"L = {MAXES} + sum(relu(s − y))", f"L = {MAXES.replace('max(X)', 'min(X)')}"
     " + sum(relu(s − y))"),
    ("reader_max_of_an_expression", f"L = {MAX_INDEX} + Σ_i relu(s_i − y_i)",
     f"L = {MAX_INDEX.replace('max(−X', 'max(X')} + Σ_i relu(s_i − y_i)"),
    # k_b of k: [B, 1, 1] inside Σ_b: b's 1×1 matrix (nu47 find_36)
    ("reader_element_of_two_literal_ones",
     "∂L/∂h = Σ_b (k_b ⊙ rowsum(∂L/∂Y_b) + rowsum(Y_b))",
     "∂L/∂h = Σ_b (k_b ⊙ k_b ⊙ rowsum(∂L/∂Y_b) + rowsum(Y_b))"),
    ("reader_element_of_two_literal_ones",
     "∂L/∂h = Σ_b (k_b ⊙ rowsum(∂L/∂Y_b) + rowsum(Y_b))",
     "∂L/∂h = Σ_b (k_b ⊙ rowsum(∂L/∂Y_b) − rowsum(Y_b))"),
]


@pytest.mark.parametrize("stem,good,bad", CASES, ids=[f"{s}:{b[:40]}" for s, _, b in CASES])
def test_the_reader_reads_the_line_and_rejects_it_damaged(stem, good, bad):
    d = derive_file(str(REGRESSIONS / f"{stem}.yaml"))
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


def test_the_good_lines_are_the_printed_ones():
    """Each line read above is printed as written (so the reader reads what the user sees)."""
    from einderive.render.terminal import plain
    for stem, good, _ in CASES:
        d = derive_file(str(REGRESSIONS / f"{stem}.yaml"))
        lines = [" ".join(line.split()) for _, line in entries(plain(d))]
        assert good in lines, (stem, good, lines)


def test_a_remainder_in_a_sum_of_indices_is_bracketed():
    """X read at a reshaped slice's flat index moved by one: ⌊l/D⌋·D + (l mod D) + 1, never
    ⌊l/D⌋·D + l mod D + 1, which reads as (⌊l/D⌋·D + l) mod D + 1 (the slice's shift
    collapsed onto the remainder, which lost its brackets).  Read at the slice's own index
    the flat index of l's own digits is l: X_il."""
    from sympy import Indexed
    from einderive.ops import Shift
    from einderive.record import replace
    from einderive.render import text as T
    from einderive.render.styles import Latex
    r = CliRunner().invoke(main, ["derive", str(REGRESSIONS / "reshape_slice_remainder.yaml")])
    assert r.exit_code == 0, r.output
    assert "tanh(X_il)" in r.output and "mod D)}" not in r.output, r.output
    d = derive_file(str(REGRESSIONS / "reshape_slice_remainder.yaml"))
    a = d.adjoint("X")
    (x,) = a.form.index.atoms(Indexed)  # the reshape's slice at (⌊l/D⌋, (l mod D) − 2 + 2)
    s = x.indices[2]
    moved = x.base[x.indices[0], x.indices[1], Shift(s.index, s.offset + 1, s.count)]
    f = replace(a.form, index=moved, matrix=None)
    assert T.index_rhs(d, f) == "X_{i, ⌊l/D⌋·D + (l mod D) + 1}"
    assert T.index_rhs(d, f, Latex) == r"X_{i, \lfloor l/D \rfloor D + (l \bmod D) + 1}"
