"""A closed form under --expand that substitutes an upstream adjoint writes it as that
adjoint's own line prints it: ∂L/∂S = −S⁻¹ A ∂L/∂K S⁻¹ read −S⁻¹ A (2 z (K z − x)ᵀ − A)ᵀ S⁻¹
beside ∂L/∂K = 2 (K z − x) zᵀ − Aᵀ (the sum transposed, and transposed back)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("name,lines", [
    ("sl1_adjoint_transposed_whole", [
        "∂L/∂K = 2 (K z − x) zᵀ − Aᵀ",
        # (S⁻¹ A is Kᵀ of K = Aᵀ S⁻¹, S spd: stop 42 reads a node's transpose so)
        "∂L/∂S = −Kᵀ ∂L/∂K S⁻¹ = −Kᵀ (2 (K z − x) zᵀ − Aᵀ) S⁻¹"]),
    ("sl1_kalman_gain_solve", [
        "= 2 (m − xt) (z − Hm mu)ᵀ − P Hmᵀ",
        "∂L/∂S = −Kgᵀ ∂L/∂Kg S⁻¹ = −Kgᵀ (2 (m − xt) (z − Hm mu)ᵀ − P Hmᵀ) S⁻¹",
        "∂L/∂Rn = ∂L/∂S = −Kgᵀ (2 (m − xt) (z − Hm mu)ᵀ − P Hmᵀ) S⁻¹"]),
])
def test_an_upstream_adjoint_substituted_reads_as_its_line(name, lines):
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", "--expand", str(spec))
    flat = " ".join(out.split())
    for line in lines:
        assert line in flat, out
    verified = _run("verify", str(spec))
    assert "FAIL" not in verified and "closed" in verified, verified
    assert not text_failures(spec.read_text())
