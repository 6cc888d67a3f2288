"""LaTeX fits the line where a radical is wider than a row (session 43, lx1).

A pre-norm transformer block normalises its input as a paper writes it,
g ⊙ (x − μ)/√(σ² + ε): in --steps the left column is wide, and a radical
√(ε + 1/D Σ (x − μ)²) (cubed, in 1/(D √(…)³)) was wider than the rest of a two-column
line; TeX cannot break inside a radical, so continuation rows that carried it (after a
``\\left.\\vphantom{…}`` of the whole denominator) ran 14 to 37 pt past the line.  Such a
radical is written (…)^{1/2} (its cube (…)^{3/2}), which breaks inside.
"""

from __future__ import annotations

import re

from conftest import derive_text, needs_pdflatex
from test_latex_fit import _rejoined, latex, overfull

# x → layer norm (one line, as a paper writes it) → residual; the normalised input is the
# part of every pre-norm block (attention or MLP after it) whose --steps rows overflowed
PRENORM = """\
name: prenorm_small
dims: {T: 3, D: 4}
inputs: {X: [T, D], g: [D], G: [T, D]}
forward:
  - mu = mean(X, axis=-1, keepdims=True)
  - N = g * (X - mu) / sqrt(mean((X - mu) ** 2, axis=-1, keepdims=True) + 1e-5)
  - L = sum((X + N) * G)
loss: L
"""

RADICAND = r"10^{-5} + \frac{1}{D} \sum_{j'} (X_{ij'} - \mu_{i})^{2} + \frac{1}{D} \sum_{j''} (Y_{ij''} - \nu_{i})^{2}"
LEFT = r"\sum_{i} \sum_{j} \frac{\partial L}{\partial N_{ij}} \frac{\partial N_{ij}}{\partial \mu_{k}}"


def test_a_radical_wider_than_a_row_is_a_power_that_breaks():
    from einderive.render.texwidth import break_lines, width
    for rhs, power in ((rf"-1 / \left(2 D {{\sqrt{{{RADICAND}}}}}^{{3}}\right) \delta_{{ik}} g_{{j}}",
                        "3/2"),
                       (rf"1 / \left(\sqrt{{{RADICAND}}}\right) \delta_{{ik}} g_{{j}}", "1/2")):
        rows = break_lines(LEFT, rhs, 229.5, width(LEFT))
        assert len(rows) > 1 and "\\sqrt" not in "".join(rows), rows
        assert all(width(LEFT) + width("{}" + r.split("&", 1)[1]) <= 229.5 for r in rows), rows
        assert rf"\right)^{{{power}}}" in rows[-1] or any(rf"\right)^{{{power}}}" in r
                                                           for r in rows)
        opened = rhs.replace(f"{{\\sqrt{{{RADICAND}}}}}^{{3}}", f"\\left({RADICAND}\\right)^{{3/2}}") \
            .replace(f"\\left(\\sqrt{{{RADICAND}}}\\right)", f"\\left({RADICAND}\\right)^{{1/2}}")
        assert _rejoined(rows) == " ".join(opened.split())
    # a radical that fits the row is left as it is
    short = r"1 / \left(\sqrt{10^{-5} + v_{i}}\right) \delta_{ik} g_{j}"
    assert "\\sqrt" in "".join(break_lines(LEFT, short, 229.5, width(LEFT)))


@needs_pdflatex
def test_a_prenorm_block_in_two_columns_with_steps_fits(tmp_path):
    d = derive_text(PRENORM, "prenorm_small.yaml")
    tex = latex(d, standalone=True, columns=2, steps=True)
    assert re.search(r"\\right\)\^\{3/2\}", tex)
    assert overfull(tmp_path, "prenorm", tex) == []


@needs_pdflatex
def test_a_continuation_row_drops_its_indent_where_only_that_fits(tmp_path):
    """attention_multihead's --steps on a two-column line: beside a 133 pt left column,
    ``\\quad \\times softmax(S)_{mnpk}`` (no break can split it) ran 6 pt past the line;
    without the \\quad it fits, and it is set so (the \\times still says it continues)."""
    from einderive.render.texwidth import break_lines, width
    lhs = (r"\sum_{m} \sum_{n} \sum_{p} \sum_{q} \frac{\partial L}{\partial P_{mnpq}} "
           r"\frac{\partial P_{mnpq}}{\partial S_{ijkl}}")
    rhs = (r"\frac{\partial L}{\partial P_{mnpq}} \operatorname{softmax}(S)_{mnpq} - "
           r"\left(\sum_{k} \frac{\partial L}{\partial P_{mnpk}} "
           r"\operatorname{softmax}(S)_{mnpk}\right) \operatorname{softmax}(S)_{mnpq}")
    left = width(lhs)
    assert 125 < left < 140
    rows = break_lines(r"\frac{\partial P}{\partial S}", rhs, 229.5, left)
    assert any(r.startswith(r"&\times \left.\vphantom") for r in rows), rows
    assert all(left + width("{}" + r.split("&", 1)[1]) <= 229.5 for r in rows), rows
    doc = ("\\documentclass[twocolumn]{article}\n\\usepackage{amsmath,amssymb}\n"
           "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}\n"
           "\\begin{document}\n\\begin{align*}\n" + lhs + " &= x \\\\\n"
           + " \\\\\n".join(rows) + "\n\\end{align*}\n\\end{document}\n")
    assert overfull(tmp_path, "unindented", doc) == []
    indented = doc.replace("&\\times \\left.", "&\\quad \\times \\left.")
    assert overfull(tmp_path, "indented", indented)  # with the indent it is too wide


def test_a_fraction_wider_than_a_row_is_a_slash_that_breaks():
    """layernorm_rank4's --steps on a two-column line: −1/(2 √(ε + var)³) beside a 134 pt
    left column is wider than the rest of the line (a fraction cannot break, 23 pt over):
    it is written −1 / (2 (ε + var)^{3/2}), broken inside; read back, the same formula."""
    from einderive.render.texwidth import break_lines, width
    left = 133.6
    rhs = (r"\sum_{i} \sum_{j} \sum_{k} \sum_{l} \left(-\frac{1}{2 {\sqrt{10^{-5} + "
           r"\mathrm{var}_{ijk}}}^{3}} \delta_{im} \delta_{jn} \delta_{kp} \frac{\partial L}"
           r"{\partial \hat{X}_{ijkl}} \mathrm{Xc}_{ijkl}\right)")
    rows = break_lines(r"\frac{\partial L}{\partial v}", rhs, 229.5, left)
    assert all(left + width("{}" + r.split("&", 1)[1]) <= 229.5 for r in rows), rows
    assert "\\sqrt" not in "".join(rows) and r"-1 / \left(2" in "".join(rows), rows
    slash = rhs.replace(r"-\frac{1}{2 {\sqrt{10^{-5} + \mathrm{var}_{ijk}}}^{3}}",
                        r"-1 / \left(2 \left(10^{-5} + \mathrm{var}_{ijk}\right)^{3/2}\right)")
    assert _rejoined(rows) == " ".join(slash.split())
    # the numerator of a sum keeps its parentheses: (a + b) / (…)
    from einderive.render.texwidth import open_radical
    assert open_radical(r"x \frac{a + b}{c} y") == r"x \left(a + b\right) / \left(c\right) y"
