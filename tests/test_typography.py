"""Typography (issue 13 item 1): one set of rules for both notations, checked on what the
user sees — every shipped spec and every test model, in every output that holds LaTeX."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import ROOT, SPEC_FILES, needs_pdflatex

MODEL_FILES = sorted((ROOT / "tests" / "models").glob("*.yaml"))
ALL_SPECS = SPEC_FILES + MODEL_FILES


def _group(s: str, i: int) -> int:
    """The index just after the brace group opening at ``s[i]``."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced braces in {s!r}")


def nested_fractions(s: str) -> list[str]:
    """Every ``\\frac`` whose numerator or denominator holds another ``\\frac``."""
    found = []
    start = s.find("\\frac{")
    while start >= 0:
        top_end = _group(s, start + 5)
        bottom_end = _group(s, top_end)
        if "\\frac" in s[start + 5:bottom_end]:
            found.append(s[start:bottom_end])
        start = s.find("\\frac{", start + 1)
    return found


def test_the_nesting_check_can_fail():
    assert nested_fractions(r"\frac{\frac{\partial L}{\partial x}}{2 x}")
    assert nested_fractions(r"a = \frac{1}{\sqrt{\frac{1}{D}}}")
    assert not nested_fractions(r"\frac{1}{2 x} \frac{\partial L}{\partial x}")


@lru_cache(maxsize=None)
def _derive(path: Path):
    from einderive import api
    return api.derive_file(str(path), closed=True)


def latex_outputs(path: Path) -> dict[str, str]:
    """Every output of ``path`` that holds LaTeX: fragments and documents with and
    without --steps and --expand, and the LaTeX fields of the JSON document."""
    from einderive import api
    d = _derive(path)
    out = {}
    for steps in (False, True):
        for expand in (False, True):
            for standalone in (False, True):
                out[f"latex steps={steps} expand={expand} standalone={standalone}"] = \
                    api.render(d, "latex", steps=steps, expand=expand, standalone=standalone)
    out["json"] = json.dumps(json.loads(api.render(d, "json", steps=True)), ensure_ascii=False)
    return out


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_no_fraction_inside_a_fraction(path):
    bad = {name: nested_fractions(text.replace("\\\\frac", "\\frac").replace("\\\\", "\\"))
           for name, text in latex_outputs(path).items()}
    assert {k: v for k, v in bad.items() if v} == {}


def test_a_transposed_adjoint_is_the_adjoint_transposed():
    from einderive import api
    d = _derive(ROOT / "specs" / "attention.yaml")
    tex = api.render(d, "latex")
    assert r"\left(\frac{\partial L}{\partial S}\right)^{\top} Q" in tex
    assert r"\partial {S}^{\top}" not in tex and r"\partial S^{\top}" not in tex
    from einderive.render.terminal import plain
    assert "∂L/∂K    = s·(∂L/∂S)ᵀ Q" in plain(d)


def test_accent_suffixes_are_accents_and_code_keeps_the_identifier():
    from conftest import derive_text
    from einderive import api
    from einderive.render.terminal import plain
    d = derive_text("""
        dims: {N: 3}
        inputs: {x: [N], mu_bar: [N]}
        forward:
          - Xhat = x - mu_bar
          - x_tilde = Xhat * Xhat
          - ydot = x_tilde + 1
          - L = sum(ydot)
        loss: L
    """)
    text = plain(d)
    assert "X\u0302_i = x_i − mu\u0304_i" in " ".join(text.split())
    assert "x\u0303 = X\u0302 ⊙ X\u0302" in " ".join(text.split())
    assert "y\u0307_i" in text
    tex = api.render(d, "latex")
    assert r"\hat{X}" in tex and r"\bar{\mathrm{mu}}" not in tex and r"\bar{\mu}" in tex
    assert r"\tilde{x}" in tex and r"\dot{y}" in tex and "Xhat" not in tex
    code = api.render(d, "numpy")
    statements = [ln for ln in code.splitlines() if not ln.lstrip().startswith("#")]
    assert "d_Xhat = 2 * Xhat" in code and "x_tilde" in code  # comments show the math
    assert not any("\u0302" in ln or "\u0303" in ln for ln in statements)


def test_words_ending_like_an_accent_stay_words():
    from einderive.render.names import accent_parts, latex_parts
    assert accent_parts("what") is None and accent_parts("that") is None
    assert accent_parts("Xhat") == ("X", "hat") and accent_parts("std_bar") == ("std", "bar")
    assert latex_parts("std") == (r"\mathrm{std}", "")  # a word is upright
    assert latex_parts("std_bar") == (r"\bar{\mathrm{std}}", "")


def test_numbers_are_powers_of_ten_in_latex_and_ascii_in_text():
    from einderive import api
    from einderive.render.terminal import plain
    d = _derive(ROOT / "specs" / "llama_mlp.yaml")
    tex = api.render(d, "latex", steps=True)
    assert "10^{-6}" in tex and r"1 \times 10" not in tex
    assert "1e-06" in plain(d, width=200) and "1e−06" not in plain(d, width=200)


def test_a_radical_needs_no_brackets_under_a_power_in_latex():
    from einderive import api
    tex = api.render(_derive(ROOT / "specs" / "llama_mlp.yaml"), "latex", steps=True,
                     expand=True)
    assert r"\left(\sqrt" not in tex and r"2 {\sqrt{10^{-6} + \mathrm{ms}_{i}}}^{3}" in tex


def test_text_and_latex_put_a_constant_denominator_in_front_alike():
    from einderive.render.sheet import both
    text, tex = both(_derive(ROOT / "specs" / "layernorm.yaml"))
    mu_text, mu_tex = text.tensor("mu").formula, tex.tensor("mu").formula
    assert mu_text.index == "(1/D) Σ_j X_ij" and mu_tex.index == r"\frac{1}{D} \sum_{j} X_{ij}"
    assert text.adjoint("X").formula.index.startswith("(1/D) ∂L/∂mu_i")
    assert tex.adjoint("X").formula.index.startswith(
        r"\frac{1}{D} \frac{\partial L}{\partial \mu_{i}}")


SELECTIONS = {"align": {"latex_env": "align"},
              "index": {"only": ("index",), "steps": True},
              "matrix-gradients": {"only": ("matrix", "gradients", "forward"),
                                   "latex_env": "align"},
              "steps": {"only": ("steps",), "expand": True}}


@needs_pdflatex
def test_typography_and_selections_compile_with_no_overfull_box(tmp_path):
    """Every shipped spec, in the selections above, as fragments inside a one- and a
    two-column article and as standalone documents: pdflatex compiles them with no
    Overfull box (the accents, the factored fractions, (∂L/∂S)ᵀ and the labels).
    (Some test models' --steps rows overflow on main too: line breaking, not typography.)"""
    from einderive import api
    from test_latex_fit import KNOWN_WIDE, compile_all, manuscript
    documents = {}
    for key, options in SELECTIONS.items():
        for columns in (1, 2):
            names = []
            for path in SPEC_FILES:
                steps = bool(options.get("steps") or "steps" in options.get("only", ()))
                if columns == 2 and steps and (path.stem, "steps", 2) in KNOWN_WIDE:
                    continue  # a row no break can split (test_latex_fit's known defect)
                name = f"{path.stem}-{key}-{columns}col"
                (tmp_path / f"{name}.tex").write_text(
                    api.render(_derive(path), "latex", columns=columns, **options))
                names.append(name)
            doc = manuscript(columns, names).replace("\\begin{document}",
                                                     "\\allowdisplaybreaks\n\\begin{document}")
            documents[f"article-{key}-{columns}col"] = doc
    for path in SPEC_FILES:
        documents[f"{path.stem}-standalone"] = api.render(
            _derive(path), "latex", standalone=True, latex_env="align", only=("matrix",))
    assert compile_all(tmp_path, documents) == []


def test_a_negated_unevaluated_constant_keeps_its_value():
    """−(2 + 2)(N − 1) printed as −4 N − 4 (it is 4 − 4 N): a constant factor SymPy left
    unevaluated made the product look like no sum, so the minus took no brackets."""
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    from sympy import Add, Integer, Mul
    import test_roundtrip as T
    from einderive.render.styles import Latex, Unicode
    n = next(iter(T.CTX.dim_of_size))
    e = Mul(-1, Add(Integer(2), Integer(2), evaluate=False), n - 1, evaluate=False)
    assert Unicode(T.CTX).index(e, (T.IX,)) == "4 − 4 N"
    assert Latex(T.CTX).index(e, (T.IX,)) == "4 - 4 N"


def test_a_dot_suffix_beside_its_base_keeps_its_letters():
    """``xdot`` beside a tensor ``x`` would print ẋ, which is x's tangent in second order: it
    keeps its letters in every notation, with or without tangents (a suffix alone still
    accents: ``ydot`` with no ``y`` is ẏ)."""
    from conftest import derive_text
    from einderive import api
    from einderive.render.terminal import plain
    spec = """
        dims: {N: 3}
        inputs: {x: [N], xdot: [N]}
        forward:
          - y = tanh(x) * xdot
          - L = sum(y * y)
        loss: L
    """
    d = derive_text(spec)
    assert "grad(xdot)" in plain(d) and "ẋ" not in plain(d)
    second = api.second_order(d, hvp="x,xdot")
    text = plain(second)
    assert "xdot ⊙ ẋ ⊙" in text and "ẋ ⊙ ẋ" not in text
    tex = api.render(second, "latex")
    assert r"\mathrm{xdot}" in tex and r"\dot{\mathrm{xdot}}" in tex
    # the tangent of x is the only \dot{x}: every \dot{x} is followed by no "dot" letters
    assert tex.count(r"\dot{x}") >= 1
    from einderive.render.names import tangent_lookalikes
    assert tangent_lookalikes(["x", "xdot", "ydot", "W_dot", "W"]) == {"xdot", "W_dot"}
