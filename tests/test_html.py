"""`derive -f html`: one self-contained page, the derivation in MathML and the graph in SVG.

What a reader sees is checked twice: the page as data (well-formed, MathML of the right
shape, nothing fetched from anywhere, the same bytes every run) and the page as a browser
draws it (headless Chromium, offline: every formula has a size, fractions are stacked,
nothing was requested but the page).  The browser tests skip where Chromium is missing
(.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, SPEC_FILES, derive_text

import browser

# presentation MathML's elements, and how many children the fixed-arity ones take
ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "munder": 2, "mover": 2, "mroot": 2,
         "msubsup": 3, "munderover": 3}
TOKENS = {"mi", "mn", "mo", "mtext", "ms"}
ROWS = {"math", "mrow", "msqrt", "mstyle", "mpadded", "mphantom", "mtable", "mtr", "mtd"}
MATHML = set(ARITY) | TOKENS | ROWS | {"mspace"}


def mathml_errors(math: ET.Element) -> list[str]:
    """What is wrong with the shape of one ``<math>`` element (empty: nothing)."""
    errors = []
    for e in math.iter():
        kids = list(e)
        if e.tag not in MATHML:
            errors.append(f"<{e.tag}> is no presentation MathML element")
        elif e.tag in ARITY and len(kids) != ARITY[e.tag]:
            errors.append(f"<{e.tag}> has {len(kids)} children, not {ARITY[e.tag]}")
        elif e.tag in TOKENS and (kids or not (e.text or "").strip()):
            errors.append(f"<{e.tag}> is a token: text and no element inside")
        elif e.tag == "mspace" and (kids or (e.text or "").strip()):
            errors.append("<mspace> is empty")
        if e.tag not in TOKENS:
            for t in [e.text] + [k.tail for k in kids]:
                if t and t.strip():
                    errors.append(f"text {t.strip()!r} outside a token in <{e.tag}>")
    return errors


def external_urls(page: str) -> list[str]:
    """Anything a browser could fetch: a URL with a scheme, a src or href, a CSS url()
    that is not a fragment of the page itself."""
    found = re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", page, re.I)
    found += re.findall(r"\b(?:src|href|xlink:href|action)\s*=\s*\"([^\"#][^\"]*)\"", page)
    found += [u for u in re.findall(r"url\(\s*([^)]*)\)", page) if not u.startswith("#")]
    found += re.findall(r"@import[^;]*", page)
    return found


def page_of(path: Path, steps: bool = True) -> str:
    from einderive.api import derive_file, render
    return render(derive_file(str(path)), "html", steps=steps)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every shipped spec's page, with the chain rule steps, written once for the module."""
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for path in SPEC_FILES:
        out[path.stem] = folder / f"{path.stem}.html"
        out[path.stem].write_text(page_of(path), encoding="utf-8")
    return out


# -- the page as data -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.stem for p in SPEC_FILES])
def test_every_page_is_well_formed_with_mathml_of_the_right_shape(pages, name):
    page = pages[name].read_text(encoding="utf-8")
    root = ET.fromstring(page)
    maths = list(root.iter("math"))
    assert len(maths) > 10
    errors = [err for m in maths for err in mathml_errors(m)]
    assert not errors, errors[:5]
    assert len(list(root.iter("svg"))) == 1
    assert external_urls(page) == []
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "<mtext" not in page  # every printed piece became a token of its own kind
    # every tensor's name is typeset: each adjoint has its ∂L/∂… fraction
    assert page.count("<mfrac>") >= len(list(root.iter("table")))


def test_the_shape_check_and_the_url_check_can_fail():
    bad = ET.fromstring("<math><mfrac><mi>a</mi></mfrac><mrow>x<mi>y</mi></mrow>"
                        "<mi><mi>z</mi></mi><blink>!</blink></math>")
    errors = mathml_errors(bad)
    assert len(errors) == 5, errors
    assert external_urls('<img src="x.png"/><a href="https://e.org">e</a>'
                         '<style>p{background:url(a.png)}</style>') == \
        ["https://e.org", "x.png", "https://e.org", "a.png"]
    assert external_urls('<use href="#m"/><path marker-end="url(#grad)"/>') == []


def test_the_page_holds_what_the_text_view_holds():
    """Every section, both forms of an adjoint, the steps, the where-clauses, the graph."""
    from einderive.api import derive_file, render
    d = derive_file(str(ROOT / "specs" / "mlp.yaml"))
    page = render(d, "html", steps=True)
    for heading in ("Forward", "Backward", "Gradients", "Graph"):
        assert f"<h2>{heading}</h2>" in page
    assert "via y = sigmoid(z)" in page  # the chain rule of each use
    # ∂L/∂W = ∂L/∂z xᵀ: a stacked ∂L over ∂W, then ∂L/∂z juxtaposed with x transposed
    frac = ("<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo><mi>{}</mi></mrow>"
            "</mfrac>")
    assert (f'{frac.format("W")}</math></td><td><math displaystyle="true"><mo>=</mo></math>'
            f'</td><td class="rhs"><math displaystyle="true">{frac.format("z")}'
            f"<mo>&#x2062;</mo><msup><mrow><mi>x</mi></mrow><mrow><mi>⊤</mi></mrow></msup>"
            "</math>") in page
    assert "<title>mlp: compute graph and gradients (einderive)</title>" in page  # the SVG
    without = render(d, "html")
    assert "via " not in without and len(without) < len(page)


def test_names_are_typeset_as_in_latex_and_stay_distinct():
    from einderive.render.html import body
    d = derive_text("""
        dims: {N: 3}
        inputs: {W1: [N], gamma: [N], y_true: [N], b_3: [N], b3: [N]}
        loss: L
        forward:
          - L = sum(W1 * gamma * y_true * b_3 * b3)
        """)
    page = body(d)
    assert "<msub><mrow><mi>W</mi></mrow><mrow><mn>1</mn></mrow></msub>" in page
    assert "<mi>γ</mi>" in page
    assert "<msub><mrow><mi>y</mi></mrow><mrow><mi>true</mi></mrow></msub>" in page
    # b3 and b_3 would both read b₃: the longer name is spelled out
    assert "<msub><mrow><mi>b</mi></mrow><mrow><mn>3</mn></mrow></msub>" in page
    assert '<mi class="mono">b_3</mi>' in page


def test_op_spellings_become_tokens():
    from einderive.ops import AXIS_OPS, SCALARS
    from einderive.render.mathml import tokens
    x = "<mi>x</mi>"
    assert tokens(SCALARS["step"].text, [x]) == \
        ('<mi>𝟙</mi><mo stretchy="false">[</mo><mrow><mi>x</mi></mrow><mo>&gt;</mo><mn>0</mn>'
         '<mo stretchy="false">]</mo>')
    # brackets grow around a fraction
    assert tokens(SCALARS["abs"].text, ["<mfrac><mi>a</mi><mi>b</mi></mfrac>"]).startswith(
        "<mo>|</mo>")
    assert tokens(AXIS_OPS["inv"].text, ["<mi>A</mi>"]) == \
        "<msup><mrow><mrow><mi>A</mi></mrow></mrow><mrow><mo>−</mo><mn>1</mn></mrow></msup>"
    assert tokens(AXIS_OPS["inv"].text_t, ["<mi>A</mi>"]).endswith(
        "<mrow><mo>−</mo><mi>⊤</mi></mrow></msup>")
    assert tokens(SCALARS["sigmoid_prime"].text, []) == "<mi>σ</mi><mo>′</mo>"
    # every op's spelling reads into tokens with no text outside them
    for fn in SCALARS.values():
        m = ET.fromstring(f"<math>{tokens(fn.text, [x] * 4)}</math>")
        assert not mathml_errors(m), fn.name


def test_numbers():
    from sympy import Integer, Rational
    from einderive.render.mathml import MathMLStyle
    n = MathMLStyle().number  # (a style: it reads whether its line writes decimals)
    assert n(Integer(2)) == "<mn>2</mn>"
    assert n(Integer(-2)) == "<mrow><mo>−</mo><mn>2</mn></mrow>"
    assert n(Rational(1, 100000)) == \
        "<mrow><msup><mrow><mn>10</mn></mrow><mrow><mo>−</mo><mn>5</mn></mrow></msup></mrow>"
    assert n(Rational(3, 10000)) == "<mrow><mn>0.0003</mn></mrow>"
    assert n(Rational(-1, 2)) == \
        "<mrow><mo>−</mo><mfrac><mrow><mn>1</mn></mrow><mrow><mn>2</mn></mrow></mfrac></mrow>"


def test_notes_keep_their_prose_escaped_and_their_formulas_typeset():
    from einderive.render.html import _note
    assert _note("if \x02<mi>a</mi> = 1\x03 and b < c") == \
        "if <math><mi>a</mi><mo>=</mo><mn>1</mn></math> and b &lt; c"


def test_a_sign_is_set_as_a_prefix():
    from einderive.render.mathml import math
    assert math("<mo>−</mo><mi>x</mi> <mo>−</mo> <mi>y</mi> = <mo>−</mo><mi>z</mi>") == (
        '<math><mo form="prefix">−</mo><mi>x</mi><mo>−</mo><mi>y</mi><mo>=</mo>'
        '<mo form="prefix">−</mo><mi>z</mi></math>')


def test_the_page_is_the_same_bytes_under_any_hash_seed(tmp_path):
    spec = str(ROOT / "specs" / "attention.yaml")
    outs = []
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-m", "einderive", "derive", spec, "-f", "html"],
                           capture_output=True, env=env, check=True)
        outs.append(r.stdout)
    assert outs[0] == outs[1] and outs[0].startswith(b"<!DOCTYPE html>")


def test_cli_writes_the_page(run, tmp_path):
    out = tmp_path / "mlp.html"
    r = run("derive", ROOT / "specs" / "mlp.yaml", "-f", "html", "-o", out)
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    r = run("derive", ROOT / "specs" / "mlp.yaml", "-f", "html", "--standalone")
    assert r.exit_code == 2 and "--standalone applies only to LaTeX" in r.output


def test_a_notebook_shows_the_page_body():
    from einderive import derive
    d = derive(str(ROOT / "specs" / "mlp.yaml"))
    html = d._repr_html_()
    assert html.startswith('<div class="einderive">') and html.endswith("</div>")
    ET.fromstring(html)
    assert "<math" in html and "<svg" in html and external_urls(html) == []


# -- the page as a browser draws it ------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    browser.executable() is None,
    reason="chromium is not installed (.ci/run installs it: apt-get install chromium)")

MEASURE = """JSON.stringify({
  math: Array.from(document.querySelectorAll('math'), m => {
    const r = m.getBoundingClientRect(); return [r.width, r.height]; }),
  fractions: Array.from(document.querySelectorAll('mfrac'), f => [
    f.children[0].getBoundingClientRect().bottom, f.children[1].getBoundingClientRect().top]),
  svg: Array.from(document.querySelectorAll('svg'), s => {
    const r = s.getBoundingClientRect(); return [r.width, r.height]; }),
})"""


@needs_chromium
def test_every_page_renders_offline_in_chromium(pages):
    with browser.chromium() as chrome:
        for name, path in pages.items():
            value, urls = chrome.load(path, MEASURE)
            seen = json.loads(value)
            assert urls == [path.resolve().as_uri()], (name, urls)  # nothing else fetched
            assert seen["math"] and all(w > 0 and h > 0 for w, h in seen["math"]), name
            # MathML is laid out, not shown as inline text: each numerator sits above its
            # denominator
            assert seen["fractions"] and all(num <= den + 0.5 for num, den in seen["fractions"])
            assert len(seen["svg"]) == 1 and min(seen["svg"][0]) > 50, name


@needs_chromium
def test_the_browser_check_sees_a_request_and_an_unlaid_fraction(tmp_path):
    """The checks above can fail: a page that asks for a remote image is seen asking (and
    gets nothing: the host resolves nowhere), and a 'fraction' of plain HTML is not stacked."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.org/a.png"/>'
                    "<p><span class=mfrac><span>a</span><span>b</span></span></p>"
                    "<math><mfrac><mi>a</mi><mi>b</mi></mfrac></math></body></html>")
    js = """JSON.stringify([document.querySelector('img').naturalWidth,
      Array.from(document.querySelectorAll('.mfrac, mfrac'), f => [
        f.children[0].getBoundingClientRect().bottom,
        f.children[1].getBoundingClientRect().top])])"""
    with browser.chromium() as chrome:
        value, urls = chrome.load(page, js)
    width, ((span_num, span_den), (num, den)) = json.loads(value)
    assert "http://example.org/a.png" in urls and width == 0
    assert span_num > span_den  # side by side on one line
    assert num <= den


def test_the_readme_shows_real_output_and_its_pictures_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```html\n(.*?)\n```", readme, re.S)
    assert shown is not None
    assert shown.group(1) in page_of(ROOT / "specs" / "mlp.yaml", steps=False)
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert {"docs/img/layernorm-latex.png", "docs/img/mlp-graph.png",
            "docs/img/layernorm-html.png"} <= set(pictures)
    for p in pictures:
        assert (ROOT / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p


@pytest.mark.parametrize("spec", ["mlp", "attention"])
def test_the_hvp_page_is_well_formed_with_dotted_tangents(spec):
    """--hvp adds the tangents and the Hessian-vector product, in MathML like the rest: a
    dot accent over each tangent, ℛ{…} around each adjoint's tangent."""
    from einderive.api import derive_file, render, second_order
    d = second_order(derive_file(ROOT / "specs" / f"{spec}.yaml"), hvp="")
    page = render(d, "html")
    root = ET.fromstring(page)
    errors = [err for m in root.iter("math") for err in mathml_errors(m)]
    assert not errors, errors[:5]
    assert "<h2>Tangents</h2>" in page and "<h2>Hessian-vector product</h2>" in page
    assert '<mover accent="true">' in page and "<mi>ℛ</mi>" in page
    assert external_urls(page) == []
