"""Forms a textbook prints where einderive printed others (session 44, qf3): the trace of
an elementwise function on one line reads as the line split reads it (tr(exp(X)), ∂L/∂X =
exp(X) ⊙ 𝐈, not sum(exp(diagonal(X))) and diag(exp(diagonal(X)))); summation letters are
primed in the order they are written (Y_i′′i ∂L/∂Y_i′′i′′′, not Y_i′′′i ∂L/∂Y_i′′′i′′).
Every form asserted is verified."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import derive_text, forms, fresh_python
from einderive.api import derive_file, render, verify

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "tests" / "regressions"


def _trace_spec(body: str, split: bool) -> str:
    lines = [f"E = {body}", "L = trace(E)"] if split else [f"L = trace({body})"]
    forward = "\n".join(f'  - "{line}"' for line in lines)
    return f"name: t\ndims: {{N: 3}}\ninputs:\n  X: [N, N]\nforward:\n{forward}\nloss: L\nwrt: [X]\n"


def _line(out: str, start: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith(start))


@pytest.mark.parametrize("body, forward, grad, split_grad", [
    ("exp(X)", "L = tr(exp(X))", "grad(X) = exp(X) ⊙ 𝐈", "grad(X) = E ⊙ 𝐈"),
    ("log(X)", "L = tr(log(X))", "grad(X) = 𝐈 ⊘ X", "grad(X) = 𝐈 ⊘ X"),
    ("sigmoid(X)", "L = tr(σ(X))", "grad(X) = σ'(X) ⊙ 𝐈", "grad(X) = σ'(X) ⊙ 𝐈"),
    ("X * X", "L = tr(X ⊙ X)", "grad(X) = 2 X ⊙ 𝐈", "grad(X) = 2 X ⊙ 𝐈"),
])
def test_a_trace_of_a_function_reads_as_the_line_split(body, forward, grad, split_grad):
    # was L = sum(exp(diagonal(X))), grad(X) = diag(exp(diagonal(X))) (2 diag(diagonal(X))
    # and ‖diagonal(X)‖² of X * X)
    one = derive_text(_trace_spec(body, split=False))
    out = render(one, "markdown")
    assert _line(out, "L =").startswith("L") and forward in out, out
    assert _line(out, "grad(X)") == grad, out
    split = derive_text(_trace_spec(body, split=True))
    assert _line(render(split, "markdown"), "grad(X)") == split_grad
    for d in (one, split):
        assert verify(d, seed=1).ok and verify(d, sizes={"N": 4}, seed=2).ok


def test_the_regression_spec_reads_its_trace_in_every_notation():
    d = derive_file(REGRESSIONS / "trace_of_an_elementwise_function.yaml")
    assert forms(d, "X")[1] == "exp(X) ⊙ 𝐈", forms(d, "X")
    latex = render(d, "latex")
    assert "diagonal" not in latex and r"\exp(X) \odot \mathbf{I}" in latex, latex
    assert verify(d).ok


def test_summation_letters_are_primed_in_the_order_they_are_written():
    d = derive_file(ROOT / "tests/models/more11/cb_trace_a_xinv_sq.yaml")
    # was −Y_i′′′i ∂L/∂Y_i′′′i′′ Y_i′i′′ (i′′′ written before i′′)
    assert forms(d, "X")[0] == "−Y_i′′i ∂L/∂Y_i′′i′′′ Y_i′i′′′", forms(d, "X")
    d = derive_file(ROOT / "tests/models/more12/cb_trace_a_diag_v.yaml")
    out = render(d, "markdown")
    # was L = A_i′i′′′ Dv_i′′′i′′ Bm_i′′i Dv_ii′
    assert "= A_ii′ Dv_i′i′′ Bm_i′′i′′′ Dv_i′′′i\n" in out, out
    assert verify(d).ok


def test_a_sum_einsteins_convention_drops_keeps_the_plain_letter():
    # the Σ written inside a function keeps its prime, the product's own sum its letter
    d = derive_text(textwrap.dedent("""\
        name: swiglu
        dims: {B: 2, D: 3, H: 4}
        inputs: {X: [B, D], W1: [H, D], W3: [H, D]}
        forward:
          - A = silu(X @ W1.T) * (X @ W3.T)
          - L = sum(A * A)
        loss: L
        """))
    out = render(d, "markdown")
    assert "A_ik = silu(Σ_j′ X_ij′ W1_kj′) X_ij W3_kj" in out, out


def test_letters_in_order_under_any_hash_seed():
    code = ("from einderive.api import derive_file, render; "
            "print(render(derive_file('tests/models/more10/gp_nll_rbf_solve.yaml'), 'markdown'))")
    outs = {fresh_python("-c", code, env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1
    out = outs.pop()
    # was (Σ_i′′′ y_i′′′ (K⁻¹)_i′i′′′) Σ_i′′ y_i′′ …
    assert "(Σ_i′′ y_i′′ (K⁻¹)_i′i′′) Σ_i′′′ y_i′′′" in out, out


def test_a_declared_size_one_axis_is_a_matrix_axis():
    # was W2ᵀ ⊙ colsum(∂L/∂Yh ⊙ X ⊙ 𝟙[X W1ᵀ > 0]) and ∂L/∂Yh ⊙ rowsum(W1ᵀ ⊙ W2 ⊙ 𝟙[X W1ᵀ > 0])
    d = derive_file(REGRESSIONS / "mlp_on_a_column_input.yaml")
    assert forms(d, "W1")[1] == "(𝟙[X W1ᵀ > 0] ⊙ (∂L/∂Yh W2))ᵀ X", forms(d, "W1")
    assert forms(d, "X")[1] == "(𝟙[X W1ᵀ > 0] ⊙ (∂L/∂Yh W2)) W1", forms(d, "X")
    assert forms(d, "W2")[1] == "(∂L/∂Yh)ᵀ relu(X W1ᵀ)", forms(d, "W2")
    out = render(d, "markdown")
    assert "(2/B) (𝟙[X W1ᵀ > 0] ⊙ ((Yh + m − Y) W2))ᵀ X" in out, out
    # every axis of size 1 writes no index, in every notation
    assert "∂L/∂W1_j = " in out and "{0}" not in out and ", 0}" not in out, out
    for sizes, seed in ((None, 0), ({"B": 5, "H": 2}, 3)):
        report = verify(d, sizes=sizes, seed=seed)
        assert report.ok, [(c.name, c.max_abs) for c in report.checks]
