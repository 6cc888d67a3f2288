"""cr1 (stop 43): a comparison of numbers is decided as the user's floats decide it.

A spec's numbers are exact decimals in the derivation, but a comparison of two of them, or
of arithmetic and NumPy's exactly rounded functions of them, is decided in the generated
code, which computes in floats: 0.1 + 0.2 > 0.3 holds there (0.30000000000000004) and
1 + 1e-17 > 1 does not.  Deciding it in exact rationals printed the other branch of the
where, and verify exited 1.  The printed form, the generated code and verify now agree."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.kinds import PseudoOp
from einderive.ops import FExpr, float_value

REGRESSIONS = Path(__file__).parent / "regressions"

CASES = [  # spec, the forward lines it must print
    ("constant_comparison_as_floats", ["y   = x", "z   = 5 y"]),
    ("sign_of_rounded_constant", ["y   = x"]),
    ("comparison_of_constant_calls", ["y   = x", "z   = 3 y"]),
]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("name, lines", CASES, ids=[c[0] for c in CASES])
def test_a_comparison_of_numbers_is_decided_as_floats_decide_it(name, lines):
    spec = REGRESSIONS / f"{name}.yaml"
    out = _run("derive", str(spec))
    for line in lines:
        assert f"  {line}\n" in out, (line, out)
    assert "where(" not in out.split("Backward")[0] and "sign(" not in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


def _num(v: str) -> FExpr:
    return FExpr(PseudoOp.NUM, (), (("value", Fraction(v)), ("text", v)), ())


def _op(op: str, *args: FExpr) -> FExpr:
    return FExpr(op, args, (), ())


def test_float_value_computes_as_python_does():
    assert float_value(_op("+", _num("0.1"), _num("0.2"))) == 0.1 + 0.2 != 0.3
    assert float_value(_op("+", _num("1"), _num("1e-17"))) == 1.0
    whole = float_value(_op("**", _num("2"), _num("60")))  # Python's ints are exact
    assert whole == 2 ** 60 and isinstance(whole, int)
    assert float_value(_op("**", _num("-8"), _num("0.5"))) is None  # complex in Python
    assert float_value(_op("/", _num("1"), _num("3"))) == 1 / 3
    assert float_value(_op("abs", _op("neg", _num("0.3")))) == 0.3
    assert float_value(_op("maximum", _num("0.1"), _num("0.2"))) == 0.2
    assert float_value(_op("exp", _num("0.1"))) is None  # NumPy's exp may differ in its last bit
    assert float_value(FExpr(PseudoOp.DIM, (), (("name", "N"),), ())) is None


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_huge_fraction_prints_as_its_parts_print():
    """x / 3e20 printed (1/300000000000000000000) x; each part of a fraction now prints as a
    whole number does (1/3e20, exact), and one past a float's digits as its float's digits."""
    spec = REGRESSIONS / "huge_fraction.yaml"
    out = _run("derive", str(spec))
    for line in ("y   = (1/3e20) x", "z   = (1.7636684144620812e19) x",
                 "grad(x) = (1/3e20) z + (1.7636684144620812e19) y"):
        assert f"  {line}\n" in out, (line, out)
    assert "00000000" not in out and "123456789" not in out.split("Forward")[1], out
    latex = _run("derive", str(spec), "--latex")
    assert r"\frac{1}{3 \times 10^{20}} z + 1.7636684144620812 \times 10^{19} y" in latex
    html = _run("derive", str(spec), "-f", "html")
    assert "00000000" not in html and "<mn>3</mn><mo>×</mo>" in html, html
    _run("verify", str(spec))
    assert not text_failures(spec.read_text(), expand=True)


def test_a_fraction_of_a_decimal_reads_as_the_decimal():
    """ArcFace's cos m = 0.8775825618903728 printed (548489101181483/625000000000000) c
    (the decimal reduced) and its derivative's (1/5000000000000000): a fraction whose parts
    would print as powers of ten reads as its decimal where that is exact."""
    spec = Path(__file__).parent / "models" / "more13" / "arcface_additive_angle.yaml"
    out = _run("derive", str(spec))
    assert "  ct    = (0.8775825618903728) c − (0.479425538604203) √(1.0001 − c ⊙ c)\n" in out
    assert "(2e-16) ∂L/∂ct ⊙" in out and "00000000" not in out, out
