"""A named transpose reads back as what it transposes (identities hunt, find 09; issue 12):
with ``Xt = X.T`` a form reading ``Xtᵀ`` reads ``X``, so the usual factoring reaches the
textbook form the one-line writing prints; the node keeps its own row and its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_form_cache import SHIPPED, _compare
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"


def _flat(out: str) -> str:
    return " ".join(out.split())


def _checked(name: str) -> str:
    """The spec's printed derivation; verify passes and every printed form reads true."""
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())
    return out


def _run_text(text: str) -> str:
    from einderive.derivation import derive
    from einderive.render.terminal import plain
    from einderive.spec import loads
    return plain(derive(loads(text, "one_line.yaml")))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_named_transpose_of_an_input_reads_as_the_input():
    """trace(Xt @ A @ X) with Xt = X.T printed A X + Aᵀ Xtᵀ; trace(X.T @ A @ X) prints
    (A + Aᵀ) X (Cookbook 111).  ∂L/∂Xt keeps its row."""
    out = _checked("named_transpose_trace")
    flat = _flat(out)
    assert "grad(X) = (A + Aᵀ) X" in flat, out
    assert "∂L/∂X = (A + Aᵀ) X" in flat and "∂L/∂Xt = Xᵀ Aᵀ" in flat, out
    assert "Xtᵀ" not in out.split("Backward")[1], out
    one_line = (REGRESSIONS / "named_transpose_trace.yaml").read_text() \
        .replace("  - Xt = X.T\n", "").replace("trace(Xt @ A @ X)", "trace(X.T @ A @ X)")
    assert "Xt" not in one_line.split("forward:")[1]
    assert "grad(X) = (A + Aᵀ) X" in _flat(_run_text(one_line))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_named_transpose_in_a_sum_is_written_out_where_it_factors():
    """At = A.T; L = sum(X * ((A + At) @ X)) / 2 printed (1/2) (A + At + (A + At)ᵀ) X."""
    out = _checked("named_transpose_in_a_sum")
    assert "grad(X) = (A + Aᵀ) X" in _flat(out), out
    assert "(A + At)ᵀ" not in out, out


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_named_transpose_of_a_node_reads_as_the_node():
    """Y = A @ X; Z = Y.T; L = trace(Z @ X) printed Aᵀ ∂L/∂Y + Zᵀ; with Y.T inline it
    prints Aᵀ ∂L/∂Y + Y."""
    out = _checked("named_transpose_of_a_node")
    assert "grad(X) = Aᵀ ∂L/∂Y + Y" in _flat(out), out
    assert "Zᵀ" not in out.split("Backward")[1], out  # (the forward line keeps sum(X ⊙ Zᵀ))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_named_transpose_under_an_inverse():
    """Xt = X.T; L = b @ inv(Xt) @ a: ∂L/∂Xt printed −Xt⁻ᵀ b aᵀ Xt⁻ᵀ, whose Xt⁻ᵀ is X⁻¹;
    ∂L/∂X keeps Xt⁻¹ (X⁻ᵀ is no shorter)."""
    out = _checked("named_transpose_inverted")
    flat = _flat(out)
    assert "∂L/∂Xt = −X⁻¹ b aᵀ X⁻¹" in flat, out
    assert "grad(X) = −Xt⁻¹ a bᵀ Xt⁻¹" in flat, out
    assert "Xt⁻ᵀ" not in out, out


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_named_transpose_beside_a_node_read_alike(run: Any, monkeypatch: pytest.MonkeyPatch):
    """Two readings of one shape, A_i′i Xt_ji′ and A_i′i W_ji′: only Xt's transpose is X
    (W = exp(V) keeps Wᵀ), with the form cache as without it."""
    out = _checked("named_transpose_beside_a_node")
    flat = _flat(out)
    assert "grad(X) = (A + Aᵀ) X" in flat, out
    assert "grad(V) = ∂L/∂W ⊙ W + Aᵀ Wᵀ" in flat, out
    spec = REGRESSIONS / "named_transpose_beside_a_node.yaml"
    _compare(run, monkeypatch, spec, SHIPPED)
