"""The HTML page is proven by value: every equation it typesets (forward forms, both forms of
each adjoint, closed forms, where-clauses, gradients) is read back from its MathML
(tests/mathml_reader.py, written from MathML's meaning), evaluated by the independent
notation reader at random inputs, and compared with the reference (PyTorch autograd of an
independent forward pass), as tests/test_printed_forms.py does for the text view.

The reader cannot read every form (a 𝟏 inside an einsum has no size it can infer): a line
of the page may fail to read back only where the text view's same line fails too.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch_reference as R
from conftest import ROOT, SPEC_FILES
from mathml_reader import Reader
from notation_reader import Env, ReaderError

MODELS = sorted((Path(__file__).parent / "models").glob("*.yaml"))


def page_lines(page: str, names: set[str]) -> Iterator[str]:
    """Each equation of the page as a line of the text notation, in the page's order; a
    closed form (a row with no left side) gets the left side of the row above."""
    reader = Reader(names)
    for table in ET.fromstring(page).iter("table"):
        last = ""
        for tr in table.iter("tr"):
            cells = tr.findall("td")
            if tr.get("class") == "note":  # prose, or a where-clause
                maths = list(cells[2].iter("math"))
                if maths and (cells[2].text or "").startswith("where"):
                    yield reader.line(maths[0])
                continue
            left = list(cells[0].iter("math"))
            last = reader.line(left[0]) if left else last
            yield f"{last} = {reader.line(next(cells[2].iter('math')))}"


def text_lines(d) -> Iterator[str]:
    """The text view's same equations, in the same order (the page's rows, in Unicode)."""
    from einderive.render.sheet import build
    sheet = build(d)
    for t in sheet.forward:
        yield from _pair(t.formula)
    for a in sheet.adjoints:
        yield from _pair(a.formula)
        wheres = list(a.formula.wheres)
        if a.closed is not None:
            yield f"{a.formula.lhs} = {a.closed.rhs}"
            wheres += a.closed_wheres
        yield from wheres
    for g in sheet.gradients:
        yield f"{g.label} = {g.rhs}"
        yield from g.wheres  # (the names the line reads, defined under it)


def _pair(f) -> Iterator[str]:
    if f.indexed:
        yield f"{f.lhs_index} = {f.index}"
    if f.matrix is not None:
        yield f"{f.lhs_matrix} = {f.matrix}"


def check(env: Env, line: str) -> str:
    try:
        env.check(line)
    except (ReaderError, ValueError) as exc:
        return str(exc)
    return ""


def failures(path: Path, page_edit=lambda s: s) -> list[str]:
    from einderive.api import derive_file, render
    d = derive_file(str(path))
    g = d.graph
    ref = R.reference(g, seed=1)
    env = Env({t.name: t.shape for t in g.tensors if t.kind != "anon"}, ref.sizes, ref.values,
              ref.adjoints, g.loss, {t.name: t.integer for t in g.inputs if t.integer is not None})
    names = {t.name for t in g.tensors} | {n for n, _ in g.dims}
    typeset = list(page_lines(page_edit(render(d, "html")), names))
    plain = list(text_lines(d))
    assert len(typeset) == len(plain) > 0
    bad = []
    for mathml, text in zip(typeset, plain):
        error = check(env, mathml)
        if error and (R.torch is not None or not error.startswith("no reference adjoint")) \
                and not check(env, text):
            bad.append(f"{mathml}  (as text: {text}): {error}")
    return bad


@pytest.mark.parametrize("path", SPEC_FILES + MODELS,
                         ids=[f"{p.parent.name}/{p.stem}" for p in SPEC_FILES + MODELS])
def test_the_typeset_page_reads_back_to_the_reference(path):
    bad = failures(path)
    assert not bad, "\n".join(bad)


MORE = sorted((Path(__file__).parent / "models" / "more").glob("*.yaml"))
# always: stacked and concatenated positions (δ_{k, 0}, Y_{i, 0, j′}, X_{m, k, l}), a name
# with a number (D1_{j, k, p + i}) or a Greek letter (mu1 as μ₁) and indices; all of
# tests/models/more with EINDERIVE_MORE_MODELS=1
MORE_ALWAYS = ("concat_stack_mix", "stack_transpose_linear", "slice_then_conv",
               "kl_gaussians_diag", "embed_rank3_tokens")
MORE_CASES = [p for p in MORE if os.environ.get("EINDERIVE_MORE_MODELS") or p.stem in MORE_ALWAYS]


@pytest.mark.parametrize("path", MORE_CASES, ids=[f"more/{p.stem}" for p in MORE_CASES])
def test_the_typeset_page_of_more_models_reads_back(path):
    bad = failures(path)
    assert not bad, "\n".join(bad)


def test_the_read_back_can_fail():
    """A page whose ∂L/∂W lost its transpose (∂L/∂z x, not ∂L/∂z xᵀ) is caught."""
    wrong = ("<msup><mrow><mi>x</mi></mrow><mrow><mi>⊤</mi></mrow></msup></math></td></tr>\n"
             "<tr>")
    bad = failures(ROOT / "specs" / "mlp.yaml",
                   lambda s: s.replace(wrong, "<mi>x</mi></math></td></tr>\n<tr>", 1))
    assert len(bad) == 1 and "∂L/∂W = ∂L/∂z x " in bad[0] + " "


def test_a_wrong_position_is_caught():
    """δ_{l, 0} read as δ_{l, 1} (the stacked pieces swapped) is caught, as is onehot of
    the wrong integer input."""
    stack = ROOT / "tests" / "models" / "more" / "stack_transpose_linear.yaml"
    position = "<mi>l</mi><mo>,</mo><mn>{}</mn>"
    bad = failures(stack, lambda s: s.replace(position.format(0), position.format(1), 1))
    assert bad and "δ_{l, 1}" in bad[0]
    lm = ROOT / "specs" / "embedding_lm_head.yaml"
    onehot = '<mi>onehot</mi><mo>&#x2061;</mo><mrow><mo stretchy="false">(</mo>' \
             '<mi class="word">{}</mi>'
    bad = failures(lm, lambda s: s.replace(onehot.format("tokens"), onehot.format("labels"), 1))
    assert bad and "onehot(labels)" in bad[0].replace(" ", "")
