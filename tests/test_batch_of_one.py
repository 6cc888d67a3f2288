"""A batch of one (a literal-1 axis ahead of a matrix, X: [1, T, D]) whose form's result has
no such axis is the sum over its only element, as for a batch B (∂L/∂Wq = Σ_b X_bᵀ t1_b,
was einsum('ail->li', X) einsum('ail->il', t1)); and PyTorch-layout attention's tangents
read as its forward does (Q̇ = permute(reshape(Ẋ Wq, …)), was an einsum).  Every printed
form is evaluated by verify (the reader reads Σ_b over a literal-1 axis by its letter,
which no dim has)."""

from __future__ import annotations

from pathlib import Path

from conftest import derive_text, forms
from einderive.api import derive_file, render, verify

REGRESSIONS = Path(__file__).parent / "regressions"

ROWS = """\
name: rows_of_one
dims: {N: 3, K: 5}
inputs: {x: [1, N, K], y: [1, N, K], W: [K, K]}
forward:
  - v = sum(tanh(x @ W), axis=2)
  - L = sum((x - y) ** 2) + sum(v * v)
loss: L
"""


def test_a_batch_of_one_summed_into_a_weight_is_the_sum_over_its_element():
    d = derive_file(REGRESSIONS / "heads_literal_one_batch.yaml")
    assert forms(d, "Wq")[1] == "Σ_b X_bᵀ t1_b", forms(d, "Wq")
    out = render(d, "markdown")
    assert "Σ_b X_b is the matrix X_b of the only element b of a batch of one." in \
        " ".join(out.split()), out
    assert verify(d, seed=1).ok and verify(d, sizes={"T": 4, "H": 3, "Dh": 2}, seed=2).ok


def test_a_batch_of_ones_reductions_and_totals_print_without_einsum():
    d = derive_text(ROWS)
    out = render(d, "markdown")
    assert "einsum" not in out, out
    assert forms(d, "W")[1].startswith("Σ_b x_bᵀ"), forms(d, "W")
    for sizes, seed in ((None, 1), ({"N": 4, "K": 2}, 2)):
        report = verify(d, sizes=sizes, seed=seed)
        assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def test_batch_of_one_code_matches_torch(tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(ROWS), tmp_path)


def test_pytorch_layout_tangents_read_as_the_forward(run):
    text = run("derive", "--tangent", "X", str(REGRESSIONS / "heads_torch_layout.yaml")).output
    assert "Q̇       = permute(reshape(Ẋ Wq, [B, T, H, Dh]), (0, 2, 1, 3))" in text, text
    assert "einsum" not in text, text
    r = run("verify", "--hvp", "X", str(REGRESSIONS / "heads_torch_layout.yaml"))
    assert r.exit_code == 0, r.output
