"""The layered layout behind the TikZ and SVG pictures: geometry checked from the coordinates,
pictures that compile (pdflatex and lualatex) and parse (XML)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SPEC_FILES, SPECS, derive_text
from einderive import derive
from einderive.render import graph
from einderive.render.layout import Box, Edge, layered

EPS = 0.5  # points: a line may touch a box's border, never enter it

FAN_OUT = """
    name: fan_out
    dims: {N: 3}
    inputs: {x: [N]}
    forward:
""" + "".join(f"      - a{k} = {f}(x)\n" for k, f in enumerate(
    ["tanh", "sigmoid", "exp", "relu", "silu", "gelu", "log", "tanh"])) + """
      - L = sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7)
    loss: L
"""

CHAIN = """
    name: chain
    dims: {N: 3}
    inputs: {x: [N], w: [N]}
    forward:
      - h0 = tanh(x * w)
""" + "".join(f"      - h{k} = tanh(h{k - 1} * w)\n" for k in range(1, 10)) + """
      - L = sum(h9)
    loss: L
"""


def _derivations():
    yield from ((p.stem, derive(p)) for p in SPEC_FILES)
    yield "fan_out", derive_text(FAN_OUT)
    yield "chain", derive_text(CHAIN)


DERIVATIONS = dict(_derivations())


def _enters(segment, rect) -> bool:
    """Whether the segment passes through the rectangle's interior (Liang–Barsky clipping)."""
    (x0, y0), (x1, y1) = segment
    left, top, right, bottom = rect[0] + EPS, rect[1] + EPS, rect[2] - EPS, rect[3] - EPS
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - left), (dx, right - x0), (-dy, y0 - top), (dy, bottom - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
    return lo < hi


def _overlap(a, b) -> bool:
    return a[0] < b[2] - EPS and b[0] < a[2] - EPS and a[1] < b[3] - EPS and b[1] < a[3] - EPS


def _label_rect(label) -> tuple:
    x, y, w, h = label
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def assert_readable(lay) -> None:
    """No line through a box, no label on a box or on another label, layers in edge order."""
    rects = {p.id: p.rect for p in lay.boxes}
    layer = {p.id: p.layer for p in lay.boxes}
    labels = [_label_rect(r.label) for r in lay.routes if r.label]
    for r in lay.routes:
        assert layer[r.src] < layer[r.dst], r
        for line in (r.forward, r.backward):
            for seg in zip(line, line[1:]):
                hit = [b for b, rect in rects.items() if _enters(seg, rect)]
                assert not hit, f"{r.src}→{r.dst}: segment {seg} crosses box {hit}"
    for n, lab in enumerate(labels):
        assert not [b for b, rect in rects.items() if _overlap(lab, rect)], lab
        assert not [o for o in labels[n + 1:] if _overlap(lab, o)], lab


@pytest.mark.parametrize("name", sorted(DERIVATIONS))
@pytest.mark.parametrize("metrics", [graph.TIKZ, graph.SVG], ids=["tikz", "svg"])
def test_pictures_are_readable(name, metrics):
    _, _, lay = graph.laid_out(DERIVATIONS[name], metrics)
    assert_readable(lay)


def test_inputs_sit_just_above_their_first_consumer():
    d = DERIVATIONS["attention"]
    vertices, _, lay = graph.laid_out(d, graph.SVG)
    layer = {v.name: p.layer for v, p in zip(vertices, lay.boxes)}
    # S = s·Q Kᵀ, P = softmax(S), O = P V, L = sum(G ⊙ O)
    assert layer["Q"] == layer["K"] == layer["s"] == layer["S"] - 1
    assert layer["V"] == layer["O"] - 1 and layer["G"] == layer["L"] - 1
    assert layer["S"] < layer["P"] < layer["O"] < layer["L"]


def test_a_long_edge_bends_between_the_boxes():
    # residual: x feeds a (layer 1) and o (layer 3); its edge to o passes layer 2 beside h
    _, arrows, lay = graph.laid_out(DERIVATIONS["residual"], graph.SVG)
    boxes = {p.id: p for p in lay.boxes}
    long = [r for r in lay.routes if boxes[r.dst].layer - boxes[r.src].layer > 1]
    assert long and all(len(r.forward) > 2 for r in long)
    assert_readable(lay)


def test_fan_out_of_eight_needs_no_crossings():
    _, _, lay = graph.laid_out(DERIVATIONS["fan_out"], graph.SVG)
    boxes = {p.id: p for p in lay.boxes}
    middle = sorted((p for p in lay.boxes if p.layer == 1), key=lambda p: p.x)
    assert len(middle) == 8
    # the eight lines out of x leave in the order of their targets, so none cross
    starts = {r.dst: r.forward[0][0] for r in lay.routes if boxes[r.src].layer == 0}
    assert [starts[p.id] for p in middle] == sorted(starts[p.id] for p in middle)


def test_barycentre_sweeps_untangle_crossed_edges():
    # given in an order whose straight edges would cross: a→d, b→c, and c, d both feed e
    boxes = [Box(v, 30.0, 20.0) for v in "abcde"]
    edges = [Edge("a", "d"), Edge("b", "c"), Edge("c", "e"), Edge("d", "e")]
    lay = layered(boxes, edges)
    x = {p.id: p.x for p in lay.boxes}
    assert (x["a"] < x["b"]) == (x["d"] < x["c"])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
    st.lists(st.tuples(st.integers(10, 120), st.integers(12, 40)), min_size=n, max_size=n))))
def test_any_dag_lays_out_readably(case):
    n, pairs, sizes = case
    edges = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b})
    boxes = [Box(f"v{k}", float(w), float(h)) for k, (w, h) in enumerate(sizes)]
    lay = layered(boxes, [Edge(f"v{a}", f"v{b}", (40.0 + 7 * a, 12.0)) for a, b in edges])
    assert_readable(lay)
    assert lay == layered(boxes, [Edge(f"v{a}", f"v{b}", (40.0 + 7 * a, 12.0))
                                  for a, b in edges])


def test_pictures_are_the_same_bytes_under_any_hash_seed():
    code = ("from einderive import derive; from einderive.render import graph; "
            "d = derive('specs/attention.yaml'); print(graph.tikz(d) + graph.svg(d), end='')")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=SPECS.parent, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "4242"}).stdout
    d = DERIVATIONS["attention"]
    assert other == graph.tikz(d) + graph.svg(d)


# -- TikZ ---------------------------------------------------------------------------------------

ENGINES = [e for e in ("pdflatex", "lualatex") if shutil.which(e)]
needs_tikz = pytest.mark.skipif(
    not ENGINES or shutil.which("kpsewhich") is None or subprocess.run(
        ["kpsewhich", "tikz.sty"], capture_output=True).returncode != 0,
    reason="no LaTeX with TikZ")


def compile_tex(tmp_path, engine: str, source: str, name: str) -> None:
    (tmp_path / f"{name}.tex").write_text(source)
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert "Overfull" not in log or name == "fragments"  # a tall picture may overfill a page


@needs_tikz
def test_typeset_text_fits_the_boxes_and_labels_laid_out(tmp_path):
    """The layout kept estimated sizes apart; LaTeX's real sizes must be no larger."""
    lines = ["\\documentclass{article}", "\\usepackage{tikz,amsmath,amssymb}",
             "\\newsavebox\\measured", "\\begin{document}"]
    room = []
    for d in DERIVATIONS.values():
        vertices, arrows, lay = graph.laid_out(d, graph.TIKZ)
        for v, p in zip(vertices, lay.boxes):
            lines.append(_measure(f"\\begin{{tabular}}{{@{{}}c@{{}}}}{graph.node_tex(v)}"
                                  "\\end{tabular}"))
            room.append((p.width, p.height, v.label))
        for a, r in zip(arrows, lay.routes):
            if a.grad_latex:
                lines.append(_measure(f"\\footnotesize ${a.grad_latex}$"))
                room.append((r.label[2], r.label[3], a.grad))
    lines += ["Measured.", "\\end{document}"]
    compile_tex(tmp_path, ENGINES[0], "\n".join(lines), "measure")
    log = (tmp_path / "measure.log").read_text()
    sizes = [[float(x.removesuffix("pt")) for x in m.split()]
             for m in re.findall(r"^MEASURED (.*)$", log, re.M)]
    assert len(sizes) == len(room)
    for (w, h, dp), (rw, rh, text) in zip(sizes, room):
        assert w <= rw and h + dp <= rh, text


def _measure(tex: str) -> str:
    return (f"\\sbox\\measured{{{tex}}}\\typeout{{MEASURED \\the\\wd\\measured\\space"
            "\\the\\ht\\measured\\space\\the\\dp\\measured}")


def test_tikz_is_a_fragment_to_input():
    text = graph.tikz(DERIVATIONS["attention"])
    assert text.startswith("%") and "\\usepackage{tikz" in text.splitlines()[1]
    assert "\\begin{tikzpicture}" in text and "\\documentclass" not in text
    assert text.rstrip().endswith("\\end{tikzpicture}")
    assert "fill=white" in text  # gradient labels hide the lines under them
    # a spec's name is any string; a line break in it must not end the comment
    d = derive_text("""
        name: "two\\nlines \\\\end{tikzpicture}"
        inputs: {x: []}
        forward: [L = x * x]
        loss: L
    """)
    head = graph.tikz(d).split("\\begin{tikzpicture}")[0].splitlines()
    assert head and all(ln.startswith("%") for ln in head)


@needs_tikz
@pytest.mark.parametrize("engine", ENGINES)
def test_tikz_fragments_compile_in_an_article(tmp_path, engine):
    names = ["attention", "llama_mlp", "residual", "fan_out"]
    for name in names:
        (tmp_path / f"{name}.tex").write_text(graph.tikz(DERIVATIONS[name]))
    body = "\n\n".join(f"\\input{{{name}}}" for name in names)
    compile_tex(tmp_path, engine, "\\documentclass{article}\n\\usepackage{tikz,amsmath,amssymb}\n"
                f"\\begin{{document}}\n{body}\n\\end{{document}}\n", "fragments")


@needs_tikz
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo (poppler) is not installed")
@pytest.mark.parametrize("engine", ENGINES)
def test_standalone_compiles_to_one_page_that_fits_the_picture(tmp_path, engine):
    d = DERIVATIONS["llama_mlp"]
    compile_tex(tmp_path, engine, graph.tikz(d, standalone=True), "page")
    _, _, lay = graph.laid_out(d, graph.TIKZ)
    info = subprocess.run(["pdfinfo", "page.pdf"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout
    size = next(ln for ln in info.splitlines() if ln.startswith("Page size:")).split()
    width, height = float(size[2]), float(size[4])
    assert "Pages:           1" in info
    # 1 bp = 1.00375 pt; the page adds 1 cm (28.45 pt) to the picture each way.  The page holds
    # every box (drawn at their computed sizes) and no more than the estimated labels: the real
    # text is no larger than its estimate, which the layout kept off the boxes.
    boxes_w = max(p.rect[2] for p in lay.boxes) - min(p.rect[0] for p in lay.boxes)
    boxes_h = max(p.rect[3] for p in lay.boxes) - min(p.rect[1] for p in lay.boxes)
    assert boxes_w + 27 < width * 1.00375 < lay.width + 30
    assert boxes_h + 27 < height * 1.00375 < lay.height + 30


# -- SVG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DERIVATIONS))
def test_svg_parses_and_names_every_node(name):
    d = DERIVATIONS[name]
    text = graph.svg(d)
    root = ET.fromstring(text)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert not list(root.iter(f"{ns}script")) and "href" not in text
    vertices, arrows = graph.parts(d)
    texts = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
    for v in vertices:
        assert sum(t == v.label + v.shape for t in texts) == 1, v.label
    for a in arrows:
        if a.grad:
            assert a.grad in texts
    dashed = [p for g in root.iter(f"{ns}g") if g.get("stroke-dasharray")
              for p in g.iter(f"{ns}polyline")]
    assert len(dashed) == sum(1 for a in arrows if a.grad)


def test_svg_of_the_seed_reads_in_unicode():
    text = graph.svg(DERIVATIONS["mlp"])
    assert "∂L/∂W = ∂L/∂z xᵀ" in text and "\\frac" not in text


def test_graph_command_formats(run, tmp_path):
    for fmt, start in (("mermaid", "flowchart"), ("dot", "digraph"), ("tikz", "%"),
                       ("svg", "<svg")):
        result = run("graph", SPECS / "mlp.yaml", "--format", fmt)
        assert result.exit_code == 0 and result.stdout.startswith(start), fmt
    result = run("graph", SPECS / "mlp.yaml", "-f", "tikz", "--standalone")
    assert result.exit_code == 0 and result.stdout.startswith("\\documentclass")
    result = run("graph", SPECS / "mlp.yaml", "-f", "svg", "--standalone")
    assert result.exit_code == 2 and "tikz only" in result.output
