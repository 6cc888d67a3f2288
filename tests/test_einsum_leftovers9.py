"""Issue 12's einsum leftovers, session 36: broadcasts into three or more axes.

- An outer product of a matrix and a vector into three axes (M_ij w_l, each index carried
  once) is NumPy's product of the factors each reshaped with a literal 1 where it lacks an
  axis: concat_middle_rank3's ∂L/∂X = reshape(M, [B, T, 1]) ⊙ reshape(w, [1, 1, D]) (was
  ``einsum('ij,l->ijl', M, w)``), diagonal_beside_per_element_temporary's ∂L/∂Z (was
  ``einsum('ij,k->ijk', softmax(t1), w) + einsum('i,jk,j->ijk', c, 𝐈, w)``).  An outer
  product of vectors only stays einsum (specs/bilinear_layer.yaml's ∂L/∂W, its note kept).

Every form here passes ``einderive verify``; its NumPy and PyTorch code computes the
gradients; the test reader (tests/notation_reader.py) reads each printed line back and
rejects it damaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
# the CLI and read-back checks of the einsum leftovers, written once
from test_einsum_leftovers7 import _env, _expanded, _reads_good_rejects_bad, _verified
from test_einsum_leftovers8 import test_the_new_forms_generate_code_that_matches_torch as _torch

from einderive.api import derive_file

TESTS = Path(__file__).resolve().parent
MODELS = TESTS / "models"


# -- an outer product of a matrix and a vector into three axes -------------------------------

CONCAT = MODELS / "more" / "concat_middle_rank3.yaml"
DIAG = TESTS / "regressions" / "diagonal_beside_per_element_temporary.yaml"
BILINEAR = TESTS.parent / "specs" / "bilinear_layer.yaml"
M = "2 slice(t1, :, 0:T) − logsumexp(t1) − rowsum(t1) ⊙ slice(softmax(t1), :, 0:T)"
DX = f"reshape({M}, [B, T, 1]) ⊙ reshape(w, [1, 1, D])"
DZ = ("reshape(softmax(t1), [B, D, 1]) ⊙ reshape(w, [1, 1, D]) + "
      "reshape(c, [B, 1, 1]) ⊙ reshape(diag(w), [1, D, D])")


@pytest.mark.parametrize("path,line", [(CONCAT, f"∂L/∂X = {DX}"), (CONCAT, f"grad(X) = {DX}"),
                                       (DIAG, f"∂L/∂Z = {DZ}")],
                         ids=["concat", "concat-grad", "diagonal"])
def test_an_outer_product_into_three_axes_is_numpys_reshapes(run, path, line):
    text = _expanded(run, path)
    assert line in " ".join(text.split()), text
    assert "einsum('ij,l->ijl'" not in text and "einsum('ij,k->ijk'" not in text, text
    assert "einsum('i,jk,j->ijk'" not in text, text
    _verified(run, path)


def test_an_outer_product_of_vectors_only_stays_einsum(run):
    text = _expanded(run, BILINEAR)
    assert "  ∂L/∂W     = einsum('i,j,k->ijk', ∂L/∂y, x, z)\n" in text, text
    assert "note: ∂L/∂W is written with einsum: it is an outer product of three vectors" in \
        " ".join(text.split()), text


@pytest.mark.parametrize("path,good,bad", [
    (CONCAT, f"∂L/∂X = {DX}", f"∂L/∂X = {DX.replace('[B, T, 1]', '[1, B, T]')}"),
    (CONCAT, f"∂L/∂X = {DX}", f"∂L/∂X = {DX.replace('0:T), [B', 'T:T + U), [B')}"),
    (DIAG, f"∂L/∂Z = {DZ}", f"∂L/∂Z = {DZ.replace('[B, D, 1]', '[B, 1, D]')}"),
    (DIAG, f"∂L/∂Z = {DZ}", f"∂L/∂Z = {DZ.replace('diag(w)', 'w wᵀ')}"),
], ids=["concat-axes", "concat-slice", "diagonal-axes", "diagonal-eye"])
def test_the_reader_reads_an_outer_product_and_catches_damage(run, path, good, bad):
    d = derive_file(str(path))
    _reads_good_rejects_bad(_env(d, run, path), good, bad)


@pytest.mark.parametrize("path", [CONCAT, DIAG])
def test_the_new_forms_generate_code_that_matches_torch(path, tmp_path):
    _torch(path, tmp_path)
