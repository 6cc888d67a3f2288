"""fx4 (stop 45): two printed forms that said something else than their numbers (nu50 A, B).

A. c: [1, M, 1] against X: [B, M, N] printed grad(c) = Σ_b rowsum(X_b ⊙ σ'(Y_b))ᵀ, a 1×M row
   for a batch of one M×1 column: a vector read into a tensor of three or more axes was
   oriented by the tensor's first axis (a leading 1 said "row"), not by its last two.  verify
   passed, since the code compiled from the form reshapes it to the input's shape, which
   keeps the numbers of a row or a column alike; it now checks the printed form's shape too
   (verify.misread_shape) and fails such a form.
B. Heads split by reshape then transpose printed ∂L/∂P_bh = t1_bh V_bhᵀ where
   t1 = reshape(G, [B, S, H, Dh]): the note reads X_bh as X[b, h, :, :], and the line held
   only as t1[b, :, h, :].  The temporary is now permuted to lead with the batch axes,
   t1 = permute(reshape(G, [B, S, H, Dh]), (0, 2, 1, 3)), and the line is ∂L/∂P = t1 Vᵀ."""

from __future__ import annotations

from pathlib import Path

from conftest import forms
from test_printed_forms import text_failures

from einderive import matrix as mx
from einderive.api import derive_file, verify
from einderive.record import replace

REGRESSIONS = Path(__file__).parent / "regressions"
COLUMN = REGRESSIONS / "literal_one_column_rank3_grad.yaml"
HEADS = REGRESSIONS / "heads_split_reshape_temporary.yaml"


def test_a_batch_of_one_column_prints_a_column():
    d = derive_file(COLUMN)
    assert forms(d, "c")[1] == "Σ_b rowsum(X_b ⊙ σ'(Y_b))", forms(d, "c")
    assert verify(d).ok
    assert text_failures(COLUMN.read_text(), expand=True) == []


def test_verify_fails_a_printed_form_of_another_shape_than_its_tensor():
    """A row 1×M printed for c: [1, M, 1] has c's numbers, reshaped; verify fails its column."""
    d = derive_file(COLUMN)
    g = next(g for g in d.gradients if g.name == "c")
    row = replace(g.form, matrix=mx.transpose(g.form.matrix))
    assert tuple(row.matrix.shape) == (1, "M")
    wrong = replace(d, gradients=tuple(replace(x, form=row) if x.name == "c" else x
                                       for x in d.gradients))
    report = verify(wrong)
    c = next(r for r in report.checks if r.name == "c")
    assert not report.ok and c.matrix.name == "FAIL" and c.index.name == "PASS", c


def test_misread_shape_is_none_of_the_readmes_readings():
    from einderive.verify import misread_shape
    assert misread_shape((1, "M"), (1, "M", 1))
    assert misread_shape(("M", 1), (1, 1, "M"))
    for form, tensor in [(("M", 1), (1, "M", 1)), ((1, "M"), (1, 1, "M")), (("M",), (1, "M", 1)),
                         ((1, "M"), (1, "M")), (("B", "M"), (1, "B", "M")),
                         (("M", 1), ("M",)), (("M", 1), ("M", 1)), ((), (1, 1, 1))]:
        assert not misread_shape(form, tensor), (form, tensor)


def test_a_split_heads_temporary_is_permuted_to_lead_with_the_batch(run):
    d = derive_file(HEADS)
    assert forms(d, "P")[1] == "t1 Vᵀ", forms(d, "P")
    assert forms(d, "V")[1] == "Pᵀ t1", forms(d, "V")
    out = run("derive", HEADS).output
    assert "t1 = permute(reshape(G, [B, S, H, Dh]), (0, 2, 1, 3))" in out, out
    assert "t1_bh" not in out, out
    assert verify(d).ok
    assert text_failures(HEADS.read_text(), expand=True) == []
