"""Stop 42, qf1: three textbook forms of nu43's split/merge hunt (finds 10, 05, 06)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"

QUADRATIC = "dims: {{N: 3}}\ninputs:\n  x: [N]\n  m: [N]\n  P: {p}\nforward:\n{lines}" \
    "loss: L\nwrt: [m, P]\n"


def _forward(tmp_path: Path, lines: tuple[str, ...], p: str = "[N, N]") -> tuple[Path, str]:
    spec = tmp_path / "q.yaml"
    spec.write_text(QUADRATIC.format(p=p, lines="".join(f"  - {x}\n" for x in lines)))
    return spec, _run("derive", "--only", "forward", str(spec))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_quadratic_form_in_a_difference_prints_as_the_textbook_writes_it():
    """0.5 * (x - m) @ P @ (x - m) printed sum((P (x − m)) ⊙ ((1/2) x − (1/2) m))."""
    spec = REGRESSIONS / "quadratic_form_in_a_difference.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "  L = (1/2) (x − m)ᵀ P (x − m)\n" in out, out
    assert "⊙" not in out.split("Forward")[1].split("Backward")[0], out
    assert "grad(m) = −P (x − m)" in out, out  # (the line writes x − m: nu48 find 06)
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.parametrize("line,form", [
    ("L = 0.5 * (x - m) @ P @ (x - m)", "(1/2) (x − m)ᵀ P (x − m)"),
    ("L = (x - m) @ P @ (x - m) / 2", "(1/2) (x − m)ᵀ P (x − m)"),
    ("L = (x - m) @ P @ (x - m)", "(x − m)ᵀ P (x − m)"),
    ("L = 0.5 * sum((x - m) * (P @ (x - m)))", "(1/2) (x − m)ᵀ P (x − m)"),
    # the minus in front: not pushed into one of the form's two differences
    ("L = -0.5 * (x - m) @ P @ (x - m)", "−(1/2) (x − m)ᵀ P (x − m)"),
    # P where the line writes it: no Pᵀ of xᵀ Pᵀ (x − m)
    ("L = (x - m) @ P @ x", "(x − m)ᵀ P x"),
    ("L = x @ P @ (x - m)", "xᵀ P (x − m)"),
])
@pytest.mark.parametrize("p", ["[N, N]", "{shape: [N, N], spd: true}"])
def test_every_writing_of_a_quadratic_form_prints_one_form(tmp_path, line, form, p):
    spec, out = _forward(tmp_path, (line,), p)
    assert f"  L = {form}\n" in out, out
    _run("verify", str(spec))


def test_a_named_difference_reads_its_quadratic_form_without_a_transpose(tmp_path):
    """d = x - m; L = 0.5 * sum(d * (P @ d)) printed (1/2) dᵀ Pᵀ d: a Pᵀ the line never wrote."""
    spec, out = _forward(tmp_path, ("d = x - m", "L = 0.5 * sum(d * (P @ d))"))
    assert "  L   = (1/2) dᵀ P d\n" in out, out
    _run("verify", str(spec))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_gp_marginal_likelihood_reads_alpha_alpha_transposed():
    """∂L/∂K printed (1/2) (K⁻¹ − a yᵀ K⁻¹): yᵀ K⁻¹ is aᵀ of a = K⁻¹ y, K spd."""
    spec = REGRESSIONS / "gp_marginal_likelihood_alpha.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "= (1/2) (K⁻¹ − a aᵀ)\n" in out, out
    assert "grad(K) = −K⁻¹ ∂L/∂a aᵀ + (1/2) K⁻¹" in out, out
    assert "yᵀ" not in out.split("Backward")[1], out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


def test_without_a_symmetric_k_the_gp_form_keeps_its_transposes(tmp_path):
    """yᵀ K⁻¹ is aᵀ only for a symmetric K: a plain K keeps K⁻ᵀ y aᵀ (aᵀ = yᵀ K⁻ᵀ)."""
    spec = tmp_path / "gp.yaml"
    spec.write_text((REGRESSIONS / "gp_marginal_likelihood_alpha.yaml").read_text()
                    .replace("K: {shape: [N, N], spd: true}", "K: [N, N]"))
    out = _run("derive", "--expand", str(spec))
    assert "= (1/2) (K⁻ᵀ − K⁻ᵀ y aᵀ)\n" in out, out
    assert "− a aᵀ" not in out, out
    _run("verify", str(spec))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_one_line_layer_norm_names_its_repeated_parts():
    """∂L/∂X repeated X − (1/D) rowsum(X) four times with no where-name."""
    spec = REGRESSIONS / "layernorm_one_line_named_parts.yaml"
    out = _run("derive", str(spec))
    grad = out.split("Gradients")[1]
    assert "grad(X) = (G − (1/D) t1 ⊙ rowsum(G ⊙ t1) ⊘ t2 − (1/D) rowsum(G)) ⊘ √t2\n" in grad
    assert "where t1 = X − (1/D) rowsum(X)\n" in grad, out
    assert "where t2 = (1/D) rowsum(t1 ⊙ t1) + 1e-05\n" in grad, out
    assert grad.count("rowsum(X)") == 1, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())
