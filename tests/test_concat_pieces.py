"""A concatenated piece's adjoint reads the piece at its own index, without the other pieces'
range conditions (tests/regressions/concatenated_piece_ranges.yaml), in rank 2 and 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import forms
from einderive.api import derive_file, render, verify
from einderive.spec import loads
from einderive.derivation import derive
from test_codegen import load

SPEC = Path(__file__).parent / "regressions" / "concatenated_piece_ranges.yaml"

RANK2 = """dims: {A: 2, B: 3, D: 3, C: A + B}
inputs: {X: [A, D], Y: [B, D]}
forward:
  - L = sum(concatenate([X, Y], axis=0) ** 3)
loss: L
"""


def test_a_piece_of_a_rank3_concatenation_has_no_other_pieces_range():
    d = derive_file(str(SPEC))
    index, matrix = forms(d, "X")
    assert "𝟙" not in index and "Y" not in index, index
    assert matrix.endswith("+ 3 X ⊙ X"), matrix
    index, matrix = forms(d, "Y")
    assert "𝟙" not in index and "3 Y_jkl²" in index, index
    # (read per element now, its terms in the graph's order: the input Y's first)
    assert matrix == "3 Y ⊙ Y + slice(∂L/∂Z, A:C) Wᵀ" or \
        matrix.endswith("+ 3 Y ⊙ Y"), matrix
    assert verify(d).ok


@pytest.mark.parametrize("text", [RANK2, SPEC.read_text()], ids=["rank2", "rank3"])
def test_the_generated_gradients_match_autograd(tmp_path, text):
    torch = pytest.importorskip("torch")
    d = derive(loads(text))
    rng = np.random.default_rng(3)
    sizes = {"A": 2, "B": 3, "T": 2, "D": 3, "C": 5}
    values = {t.name: rng.normal(size=[sizes[x] for x in t.shape])
              for t in d.graph.tensors if t.kind == "input"}
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    if "W" in ts:
        z = torch.cat([ts["X"], ts["Y"] @ ts["W"]], 0)
        loss = (ts["G"] * torch.tanh(z)).sum() + (torch.cat([ts["X"], ts["Y"]], 0) ** 3).sum()
    else:
        loss = (torch.cat([ts["X"], ts["Y"]], 0) ** 3).sum()
    loss.backward()
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    for k, t in ts.items():
        np.testing.assert_allclose(got[k], t.grad.numpy(), atol=1e-9)


def test_rank2_reads_as_rank3():
    d = derive(loads(RANK2))
    assert forms(d, "X") == ("3 X_ik²", "3 X ⊙ X")
    assert forms(d, "Y") == ("3 Y_jk²", "3 Y ⊙ Y")
