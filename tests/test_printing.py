"""Printed forms that mean what they say: signs, brackets, one reading per index, names.

Each test prints what a user sees (terminal text, LaTeX, JSON) for a spec from
issue 11 and checks the printed formula, not the SymPy value behind it.
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SPEC_FILES, derive_text, forms, needs_pdflatex
from einderive import derive
from einderive.render import latex, names
from einderive.render import text as T
from einderive.render.json_out import document
from einderive.render.styles import Latex
from test_render import pdflatex

LOG_SOFTMAX_SUM = """
name: log_softmax_sum
dims: {N: 4}
inputs: {x: [N], y: [N], t: [N]}
forward:
  - L = sum(log_softmax(x + y) * t) + sum(x ** 3)
loss: L
"""

NAMED_LOG_SOFTMAX = """
name: named_log_softmax
dims: {N: 4}
inputs: {x: [N], y: [N], t: [N]}
forward:
  - h = log_softmax(x + y)
  - L = sum(h * t)
loss: L
"""

CENTRED_TANH = """
name: centred_tanh
dims: {N: 4}
inputs: {x: [N], t: [N]}
forward:
  - y = tanh(x - sum(x) / N)
  - L = sum(y * t)
loss: L
"""

ROW_SOFTMAX = """
name: row_softmax
dims: {B: 2, N: 3, K: 4}
inputs: {X: [B, N], W: [N, K], T: [B, K]}
forward:
  - L = sum(T * log_softmax(X @ W + 1, axis=-1))
loss: L
"""


def latex_index(d, name: str) -> str:
    return T.index_rhs(d, d.adjoint(name).form, Latex)


def every_output(d) -> list[str]:
    """Text (with steps), LaTeX (with steps), the Markdown golden and JSON of a derivation."""
    from einderive.api import render
    from einderive.render.terminal import Options, plain
    return [plain(d, Options(steps=True, expand=True, tree=True)), render(d, "latex", steps=True),
            render(d, "markdown"),
            latex.standalone(d, steps=True, expand=True), json.dumps(document(d),
                                                                     ensure_ascii=False)]


# -- defect 3: the sign of every term -----------------------------------------------------------

def test_a_nested_sum_keeps_the_signs_of_its_terms():
    # ∂/∂x of Σ t ⊙ log_softmax(x + y) + Σ x³: t_i − softmax_i Σ t + 3 x_i², not "− t_i"
    d = derive_text(LOG_SOFTMAX_SUM)
    assert forms(d, "x")[0] == "t_i − softmax(x + y)_i Σ_i′ t_i′ + 3 x_i²"
    assert latex_index(d, "x") == (r"t_{i} - \operatorname{softmax}(x + y)_{i} \sum_{i'} t_{i'}"
                                   r" + 3 {x_{i}}^{2}")
    entry = next(a for a in document(d)["adjoints"] if a["tensor"] == "x")
    assert entry["index"] == "∂L/∂x_i = t_i − softmax(x + y)_i Σ_i′ t_i′ + 3 x_i²"


def test_a_negated_sum_keeps_its_brackets():
    from sympy import Add, Mul, Symbol

    from einderive.render.styles import Unicode
    a, b, c = Symbol("a"), Symbol("b"), Symbol("c")
    p = Unicode()
    minus_sum = Mul(-1, Add(b, c, evaluate=False), evaluate=False)
    assert p.index(Add(a, minus_sum, evaluate=False)) == "a − (b + c)"
    assert p.index(Add(c, Add(a, -b, evaluate=False), evaluate=False)) == "c + a − b"


def test_centred_tanh_signs_in_every_form():
    d = derive_text(CENTRED_TANH)
    assert forms(d, "x") == ("∂L/∂y_i (1 − y_i²) − (1/N) Σ_i′ ∂L/∂y_i′ (1 − y_i′²)",
                             "∂L/∂y ⊙ (1 − y ⊙ y) − (1/N) (∂L/∂y)ᵀ (1 − y ⊙ y)")


# -- defect 7: anonymous intermediates print as their definitions --------------------------------

INTERNAL = re.compile(r"(?<![A-Za-z0-9])(\\_|_)[A-Za-z]\w*?(_\{?\d|_\d)")


@pytest.mark.parametrize("spec", [LOG_SOFTMAX_SUM, NAMED_LOG_SOFTMAX, ROW_SOFTMAX])
def test_no_internal_name_is_printed(spec):
    for out in every_output(derive_text(spec)):
        assert not INTERNAL.search(out), INTERNAL.search(out).group(0)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_no_internal_name_in_shipped_specs(path):
    for out in every_output(derive(path)):
        assert not INTERNAL.search(out), INTERNAL.search(out).group(0)


def test_an_anonymous_argument_prints_as_its_definition():
    d = derive_text(NAMED_LOG_SOFTMAX)
    (_, h), = [(t, f) for t, f in d.forward if t.name == "h"]
    assert T.index_rhs(d, h) == "x_i + y_i − logsumexp(x + y)"
    assert T.matrix_rhs(d, h) == "log_softmax(x + y)"  # (as the line writes it, since stop 43)
    assert T.index_rhs(d, h, Latex) == r"x_{i} + y_{i} - \operatorname{logsumexp}(x + y)"
    assert forms(d, "x")[0] == "∂L/∂h_i − softmax(x + y)_i Σ_i′ ∂L/∂h_i′"
    # in --steps it goes by a short name, defined where the steps go through it
    steps = [r for e in d.adjoint("x").edges for _, r in T.step_lines(d, e)]
    assert any("∂L/∂u_j" in s for s in steps) and not any("(x + y)" in s for s in steps), steps
    from einderive.render.sheet import build
    (step,) = build(d, steps=True).adjoint("x").steps
    assert step.definition == "u = x + y" and step.node_lhs == "u"
    (tex,) = build(d, Latex, steps=True).adjoint("x").steps
    assert tex.where == ("u", "x + y")
    from einderive.api import render
    steps = json.loads(render(d, "json", steps=True))["adjoints"]
    assert {(s["via"], s["definition"]) for a in steps for s in a.get("steps", [])} == {
        ("L", "L = sum(h * t)"), ("u", "u = x + y")}  # no internal name (_h_1)
    assert "via u = x + y" in render(d, "markdown", steps=True)


def test_an_anonymous_matrix_argument_prints_whole():
    d = derive_text(ROW_SOFTMAX)
    index = forms(d, "W")[0]
    assert "softmax(1 + X W)_ik" in index, index




# -- defect 5: one reading for every index -----------------------------------------------------

SWIGLU = """
name: swiglu
dims: {B: 2, D: 3, H: 4}
inputs: {X: [B, D], W1: [H, D], W3: [H, D]}
forward:
  - A = silu(X @ W1.T) * (X @ W3.T)
  - L = sum(A)
loss: L
"""

NORMALISED = """
name: normalised
dims: {M: 3, N: 4}
inputs: {W: [M, N], q: [N], r: [N]}
forward:
  - y = (W @ q) / (1 + (W * W) @ r)
  - L = sum(y)
loss: L
"""


def forward_index(d, name: str, style=None) -> str:
    (f,) = [f for t, f in d.forward if t.name == name]
    return T.index_rhs(d, f) if style is None else T.index_rhs(d, f, style)


def test_a_bound_index_never_shares_its_letter_with_a_summed_one():
    d = derive_text(SWIGLU)
    assert forward_index(d, "A") == "silu(Σ_j′ X_ij′ W1_kj′) X_ij W3_kj"
    assert forward_index(d, "A", Latex) == (r"\operatorname{silu}\left(\sum_{j'} X_{ij'} "
                                            r"W_{1,kj'}\right) X_{ij} W_{3,kj}")
    d = derive_text(NORMALISED)
    assert forward_index(d, "y") == "W_ij q_j / (1 + Σ_j′ W_ij′² r_j′)"
    assert forward_index(d, "y", Latex) == (r"\frac{W_{ij} q_{j}}{1 + \sum_{j'} "
                                            r"{W_{ij'}}^{2} r_{j'}}")


# -- defect 6: brackets -------------------------------------------------------------------------

BRACKETS = """
name: brackets
dims: {N: 4}
inputs: {x: [N], y: [N]}
forward:
  - s = sum(x) / (N * (N - 1))
  - z = y ** 1.5
  - L = s + sum(z) + sum(x / (N - 1)) + sum(-(x + y) * 2)
loss: L
"""


def test_a_constant_denominator_keeps_its_brackets():
    d = derive_text(BRACKETS)
    (s,) = [f for t, f in d.forward if t.name == "s"]
    assert T.index_rhs(d, s) == "(1/(N (N − 1))) Σ_i x_i"  # not 1/(N N − 1)
    assert T.matrix_rhs(d, s, Latex) == r"\frac{1}{N (N - 1)} \, \operatorname{sum}(x)"
    # 1/(N (N − 1)) + 1/(N − 1) − 2 collected as one coefficient over one factored
    # denominator (not multiplied out, (N + N (N − 1) − 1 − 2 N (N − 1)²)/(N (N − 1)²)): its
    # numerator and the whole are bracketed
    assert forms(d, "x")[1] == "−((2 N² − 3 N − 1)/(N (N − 1))) 𝟏"  # by degree
    assert T.matrix_rhs(d, d.adjoint("x").form, Latex) == \
        r"-\frac{2 {N}^{2} - 3 N - 1}{N (N - 1)} \, \mathbf{1}"


def test_a_fractional_elementwise_power_is_bracketed():
    d = derive_text(BRACKETS)
    (z,) = [f for t, f in d.forward if t.name == "z"]
    assert T.matrix_rhs(d, z) == "y^∘(3/2)"


# -- defect 9: distinct names print distinctly -----------------------------------------------------

IDENT_CHARS = "abxyzABWN019_αβλοéΩ"
identifiers = st.text(IDENT_CHARS, min_size=1, max_size=7).filter(
    lambda s: s.isidentifier() and unicodedata.normalize("NFKC", s) == s)


@settings(max_examples=500, deadline=None)
@given(st.sets(identifiers, min_size=2, max_size=8))
def test_distinct_names_give_distinct_latex(all_names):
    table = names.latex_table(all_names)
    for idx in ("", "ij"):
        shown = {names.latex_indexed(n, idx, table) for n in all_names}
        assert len(shown) == len(all_names), table


def test_names_that_looked_alike_in_latex():
    table = names.latex_table(["b_3", "b__3", "b3", "lambda", "lambda_", "alpha", "α"])
    # the shorter name keeps the typeset form; the look-alike is spelled out
    assert table["b3"] == ("b", "3") and table["α"] == ("\\alpha", "")
    assert table["alpha"] == ("\\mathtt{alpha}", "")
    assert names.latex_indexed("b__3", "i", table) == r"\mathtt{b\_\_3}_{i}"
    assert len({names.latex_indexed(n, "i", table) for n in table}) == len(table)


def test_a_spec_with_look_alike_names_prints_them_apart():
    d = derive_text("""
        dims: {N: 3}
        inputs: {b_3: [N], b__3: [N]}
        forward:
          - L = sum(b_3 * b__3)
        loss: L
        """)
    assert latex_index(d, "b_3") == r"\mathtt{b\_\_3}_{i}"  # ∂L/∂b_3 = b__3
    assert latex_index(d, "b__3") == "b_{3,i}"


@needs_pdflatex
def test_look_alike_names_compile(tmp_path):
    import random
    rng = random.Random(0)
    pool = set()
    while len(pool) < 150:
        s = "".join(rng.choice(IDENT_CHARS) for _ in range(rng.randint(1, 6)))
        if s.isidentifier() and unicodedata.normalize("NFKC", s) == s:
            pool.add(s)
    table = names.latex_table(pool)
    body = "\n".join(f"${names.latex_indexed(n, 'ij', table)}$ "
                     f"${names.latex_indexed(n, '', table)}$" for n in sorted(pool))
    pdflatex(tmp_path, "\\documentclass{article}\\usepackage{amsmath,amssymb}\n"
             f"\\begin{{document}}\n{body}\n\\end{{document}}\n")


CONSTANT_FACTORS = """
name: constant_factors
dims: {N: 4}
inputs: {x: [N], y: [N], a: []}
forward:
  - L = sum(x * y * (N - 1)) + sum(exp(x) / (N + 1)) + a * sum(x) / sqrt(N)
loss: L
"""


def test_a_constant_sum_in_front_keeps_its_brackets_in_latex():
    d = derive_text(CONSTANT_FACTORS)
    assert latex_index(d, "y") == "(N - 1) x_{i}"  # not N - 1 x_{i}
    assert latex_index(d, "x") == r"\frac{1}{N + 1} \exp(x_{i}) + (N - 1) y_{i} + \frac{1}{\sqrt{N}} a"
    assert forms(d, "a") == ("(1/√N) Σ_i x_i", "(1/√N) sum(x)")


@needs_pdflatex
def test_issue_snippets_compile(tmp_path):
    specs = [LOG_SOFTMAX_SUM, NAMED_LOG_SOFTMAX, CENTRED_TANH, ROW_SOFTMAX, SWIGLU, NORMALISED,
             BRACKETS, CONSTANT_FACTORS]
    for n, spec in enumerate(specs):
        pdflatex(tmp_path, latex.standalone(derive_text(spec), steps=True, expand=True), f"s{n}")


def test_a_negative_constant_term_reads_as_a_subtraction():
    d = derive_text("""
        dims: {N: 4}
        inputs: {a: [N]}
        forward:
          - b = log_softmax(a * 2 - 1)
          - L = sum(b)
        loss: L
        """)
    (b,) = [f for t, f in d.forward if t.name == "b"]
    # not ((−1) + 2 a); the number last in a difference: 2 a − 1
    assert T.matrix_rhs(d, b) == "log_softmax(2 a − 1)"


def test_a_name_that_reads_as_an_element_is_spelled_apart_in_text():
    # a scalar x_i beside a vector x: "x_i x_i" would read as one element squared
    d = derive_text("""
        dims: {N: 3}
        inputs: {x: [N], x_i: []}
        forward:
          - L = sum(x * x) * x_i
        loss: L
        """)
    assert forms(d, "x") == ("2 𝚡_𝚒 x_i", "2 𝚡_𝚒·x")
    assert T.adjoint_lhs(d, "x_i", ()) == "∂L/∂𝚡_𝚒"
    assert latex_index(d, "x") == r"2 x_{\mathrm{i}} x_{i}"
    axes = {"x": 1, "x_i": 0, "y_true": 1, "y": 1, "W1_kj": 0, "W1": 2, "b_ij": 0, "b": 1}
    assert names.text_lookalikes(axes) == {"x_i", "W1_kj"}
