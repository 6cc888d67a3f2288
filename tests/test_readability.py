"""Readability of printed forms (issue 12's leftovers), each pinned as printed and checked by
value: the reader evaluates every printed line, ``verify`` every printed form.

- A batch element of a name that has a subscript of its own is bracketed, ``(x_seq)_bᵀ``
  (LaTeX ``(x_{\\mathrm{seq}})_{b}^{\\top}``), never ``x_seq,bᵀ`` (is the ᵀ on b?).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import torch_reference as R
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import env_for

from einderive import api
from einderive.api import derive_file
from einderive.render.latex import fragment, standalone
from einderive.render.terminal import plain

MODELS = Path(__file__).parent / "models"


def _named():
    return derive_file(str(MODELS / "batch_sum_named.yaml"))


def test_a_batch_element_of_a_name_with_a_subscript_is_bracketed():
    d = _named()
    lines = [line for _, line in entries(plain(d))]
    assert "grad(Wq) = Σ_b (x_seq)_bᵀ (∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])" in lines
    assert "grad(bq) = Σ_b colsum(∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])" in lines
    assert not any("x_seq,b" in line for line in lines)
    # the index form keeps the name's subscript and its indices joined, as everywhere
    assert any("x_seq,ijk" in line for line in lines)


def test_the_note_and_latex_write_the_bracketed_element():
    d = _named()
    note = " ".join(plain(d).split())
    assert "Σ_b (x_seq)_b adds the matrices (x_seq)_b of every element b of the batch " \
        "axis B." in note
    tex = fragment(d)
    assert r"\sum_{b} (x_{\mathrm{seq}})_{b}^{\top} \left(" in tex
    assert r"x_{\mathrm{seq},b}" not in tex
    assert r"$\sum_{b} (x_{\mathrm{seq}})_{b}$ adds the matrices $(x_{\mathrm{seq}})_{b}$" \
        in standalone(d)


def test_the_bracketed_element_reads_back_and_verifies():
    d = _named()
    env = env_for(d, R.reference(d.graph, seed=2))
    found = entries(plain(d))
    assert len(found) > 10
    for _, line in found:
        env.check(line)
    report = api.verify(d)
    assert report.ok, [c for c in report.checks if not c.ok]


@pytest.mark.parametrize("bad", [
    "∂L/∂Wq = Σ_b (x_seq)_b (∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])",  # the ᵀ lost
    "∂L/∂bq = Σ_b rowsum(∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])",  # colsum turned rowsum
])
def test_the_reader_catches_damage_to_a_bracketed_element(bad):
    d = _named()
    env = env_for(d, R.reference(d.graph, seed=2))
    with pytest.raises(ReaderError):
        env.check(bad)
