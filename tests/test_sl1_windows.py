"""Windows of a 1-D vector read back in matrix form (issue 12): a window of length 1 (a PINN's
boundary term u[0:1], the last element u[N − 1:N]) printed ``grad(u)_i = 2 δ_{0, i} u_{0}``
and "∂L/∂u has no matrix form", though the same window of a matrix's column had one; every
gradient upstream of it lost its closed form under --expand."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"

HEAD = "dims: {N: 5, M: 3, P: N - 1}\ninputs:\n  u: [N]\n  X: [N, M]\nforward:\n"

# (the forward line, what grad(u) or grad(X) prints, flattened)
CASES = [
    ("L = sum(u[0:1] ** 2)", "grad(u) = 2 pad(slice(u, 0:1), 0:1, axis=0)"),
    ("L = u[0:1] @ u[0:1]", "grad(u) = 2 pad(slice(u, 0:1), 0:1, axis=0)"),
    ("L = sum(u[0:1]) ** 2", "grad(u) = 2 pad(slice(u, 0:1), 0:1, axis=0)"),
    ("L = sum(u[1:2] ** 2)", "grad(u) = 2 pad(slice(u, 1:2), 1:2, axis=0)"),
    ("L = u[N - 1:N] @ u[N - 1:N]", "grad(u) = 2 pad(slice(u, N − 1:N), N − 1:N, axis=0)"),
    ("L = 3 * sum(u[N - 1:N]) + sum(u[0:1])",
     "grad(u) = 3 pad(𝟏, N − 1:N, axis=0) + pad(𝟏, 0:1, axis=0)"),
    ("L = sum(exp(u[N - 1:N]))", "grad(u) = L·pad(𝟏, N − 1:N, axis=0)"),
    ("L = sum((u[1:N] - u[0:N - 1]) ** 2)",
     # (the difference the form repeats is named, as a closed form's parts are: stop 42)
     "grad(u) = 2 (pad(t1, 1:N, axis=0) − pad(t1, 0:N − 1, axis=0)) "
     "where t1 = slice(u, 1:N) − slice(u, 0:N − 1)"),
    ("L = sum(X[:, M - 1:M] ** 2)", "grad(X) = 2 pad(slice(X, :, M − 1:M), M − 1:M, axis=1)"),
    ("L = sum(X[N - 1:N, :] ** 2)", "grad(X) = 2 pad(slice(X, N − 1:N), N − 1:N, axis=0)"),
]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("line,form", CASES, ids=[c[0] for c in CASES])
def test_a_window_of_one_element_reads_as_a_pad(tmp_path, line, form):
    name = "u" if "u[" in line else "X"
    text = HEAD + f"  - {line}\nloss: L\nwrt: [{name}]\n"
    spec = tmp_path / "window.yaml"
    spec.write_text(text)
    out = _run("derive", str(spec))
    flat = " ".join(out.split())
    assert form in flat, out
    assert "no matrix form" not in out and "δ" not in flat.split("Gradients")[1], out
    _run("verify", str(spec))  # (exit 0: every printed form matches finite differences)
    assert not text_failures(text)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_pinn_loss_has_closed_forms_through_its_boundary_terms():
    """A network u(x) on a grid, its residual by central differences and boundary terms
    10 (u[0:1] @ u[0:1] + u[N − 1:N] @ u[N − 1:N]): ∂L/∂u had no matrix form, so ∂L/∂W1,
    ∂L/∂b1, ∂L/∂w2 said "no closed form: it reads ∂L/∂u, which has none" under --expand."""
    spec = REGRESSIONS / "sl1_pinn_fd_residual.yaml"
    out = _run("derive", "--expand", str(spec))
    flat = " ".join(out.split())
    assert "no closed form" not in out and "no matrix form" not in out, out
    assert "20 (pad(slice(u, 0:1), 0:1, axis=0) + pad(slice(u, N − 1:N), N − 1:N, " \
           "axis=0))" in flat, out
    assert "grad(w2) = tanh(x W1 + b1ᵀ)ᵀ ∂L/∂u" in flat, out  # (as the line writes it)
    verified = _run("verify", str(spec))
    assert "closed form matches" in verified and "FAIL" not in verified, verified
    assert not text_failures(spec.read_text())
