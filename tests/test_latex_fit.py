"""LaTeX fits the page: pdflatex reports no Overfull box for any shipped spec (issue 13).

The reference is pdflatex itself: every shipped spec, plain, with --steps, --expand and
both, as a --standalone document (one and two columns) and as a fragment inside a plain
article and (with --columns 2) a two-column one, compiles with no error and with zero
``Overfull \\hbox`` and ``Overfull \\vbox`` in its log.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from conftest import ROOT, SPEC_FILES, SPECS, derive_text, needs_pdflatex
from einderive.render.sheet import build
from einderive.render.styles import Latex

FLAGS = {"plain": {}, "steps": {"steps": True}, "expand": {"expand": True},
         "steps+expand": {"steps": True, "expand": True}}
ARTICLES = {1: "\\documentclass{article}", 2: "\\documentclass[twocolumn]{article}"}
# Known defect (issue 15 item 4): in two columns, with --steps or --expand, the multi-head
# (spec, flag, columns) of documents with a row no break can split; multihead_attention's
# two-column --steps/--expand rows fit since rows break after a coefficient and between a
# call's arguments.  test_the_known_wide_rows_are_still_wide fails once an entry fits.
KNOWN_WIDE: set[tuple[str, str, int]] = set()  # none left: every row breaks to fit


def known_wide(d, flag: str, columns: int) -> bool:
    return (Path(d.spec.path).stem, flag, columns) in KNOWN_WIDE


@lru_cache(maxsize=None)
def derivations() -> tuple:
    from einderive import api
    return tuple(api.derive_file(str(p), closed=True) for p in SPEC_FILES)


def latex(d, **options) -> str:
    from einderive import api
    return api.render(d, "latex", **options)


def overfull(tmp: Path, name: str, source: str) -> list[str]:
    """pdflatex's complaints about ``source``: its Overfull boxes, or its error."""
    (tmp / f"{name}.tex").write_text(source)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           f"{name}.tex"], cwd=tmp, capture_output=True, text=True)
    log = (tmp / f"{name}.log").read_text(errors="replace")
    found = [f"{name}: {m}" for m in re.findall(r"Overfull \\[hv]box \([\d.]+pt too \w+\)"
                                               r"[^\n]*", log)]
    if proc.returncode != 0:
        found.append(f"{name}: pdflatex failed: {proc.stdout[-1500:]}")
    return found


def compile_all(tmp: Path, documents: dict) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        reports = pool.map(lambda item: overfull(tmp, *item), documents.items())
    return [line for report in reports for line in report]


@needs_pdflatex
def test_standalone_documents_have_no_overfull_box(tmp_path):
    documents = {f"{Path(d.spec.path).stem}-{flag.replace('+', '-')}-{columns}col":
                 latex(d, standalone=True, columns=columns, **options)
                 for d in derivations() for flag, options in FLAGS.items()
                 for columns in (1, 2) if not known_wide(d, flag, columns)}
    assert compile_all(tmp_path, documents) == []


@needs_pdflatex
def test_the_known_wide_rows_are_still_wide(tmp_path):
    """Each KNOWN_WIDE document still overflows: a fix shows up here, and the entry goes."""
    documents = {f"{Path(d.spec.path).stem}-{flag.replace('+', '-')}-{columns}col":
                 latex(d, standalone=True, columns=columns, **FLAGS[flag])
                 for d in derivations() for flag in FLAGS for columns in (1, 2)
                 if known_wide(d, flag, columns)}
    assert len(documents) == len(KNOWN_WIDE)
    for name, source in documents.items():
        assert overfull(tmp_path, name, source), f"{name} fits now: drop it from KNOWN_WIDE"


def manuscript(columns: int, fragments: list[str]) -> str:
    """A plain article (two-column with ``columns=2``) with the fragments \\input."""
    return "\n".join([ARTICLES[columns], "\\usepackage{amsmath,amssymb}",
                      "\\begin{document}", *(f"\\input{{{f}}}" for f in fragments),
                      "\\end{document}"]) + "\n"


@needs_pdflatex
def test_fragments_in_an_article_have_no_overfull_box(tmp_path):
    documents = {}
    for flag, options in FLAGS.items():
        for columns in (1, 2):
            names = []
            for d in derivations():
                if known_wide(d, flag, columns):
                    continue
                name = f"{Path(d.spec.path).stem}-{flag.replace('+', '-')}-{columns}col"
                (tmp_path / f"{name}.tex").write_text(latex(d, columns=columns, **options))
                names.append(name)
            documents[f"article-{flag.replace('+', '-')}-{columns}col"] = \
                manuscript(columns, names)
    assert compile_all(tmp_path, documents) == []


def test_default_fragment_is_one_display_per_node_so_pages_can_break():
    from einderive.render import latex as L
    d = derive_text((SPECS / "attention.yaml").read_text())
    text = latex(d)
    nodes = [a for a in d.adjoints if a.name != d.loss]
    assert text.count("\\begin{aligned}") == len(nodes) == text.count("\\[")
    one = latex(d, latex_env="aligned")
    assert one.count("\\begin{aligned}") == 1 and "cannot break across pages" in one
    assert "\\allowdisplaybreaks" in latex(d, latex_env="align*")
    sheet = build(d, Latex)
    assert L.adjoint_rows(sheet) == [r for g in L.adjoint_groups(sheet) for r in g]


def test_columns_2_breaks_rows_to_a_two_column_line():
    from einderive.render.texwidth import width
    d = derive_text((SPECS / "attention.yaml").read_text())
    wide, narrow = latex(d, steps=True), latex(d, steps=True, columns=2)
    assert narrow.count("\\\\") > wide.count("\\\\")
    blocks = re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", narrow, re.S)
    assert blocks and max(width(b) for b in blocks) <= 229.5
    doc = latex(d, standalone=True, columns=2)
    assert doc.startswith("\\documentclass[twocolumn]{article}")


def test_a_wide_fraction_is_its_reciprocal_times_the_numerator():
    d = derivations()[[p.stem for p in SPEC_FILES].index("softmax_regression")]
    text = latex(d)
    assert r"&= \frac{1}{B} \sum_{i} \left(\operatorname{softmax}(Z)_{ik}" in text
    assert r"\frac{\sum_{i}" not in text
    # a narrow fraction is left whole
    assert r"\frac{\partial L}{\partial z_{i}} = \frac{" in latex(
        derive_text("""
            dims: {B: 3}
            inputs: {z: [B], t: [B]}
            forward:
              - L = sum((z - t) * (z - t)) / B
            loss: L
        """)).replace("&", "")


def test_columns_is_refused_outside_latex(run):
    result = run("derive", SPECS / "mlp.yaml", "--columns", "2")
    assert result.exit_code == 2 and "--columns applies only to LaTeX" in result.stderr
    ok = run("derive", SPECS / "mlp.yaml", "--latex", "--columns", "2", "--standalone")
    assert ok.exit_code == 0 and "[twocolumn]" in ok.stdout


@needs_pdflatex
def test_every_environment_fits_the_line(tmp_path):
    """align* and align break across pages after \\allowdisplaybreaks; one aligned block
    cannot (its Overfull \\vbox is what per-node avoids), but its rows fit the line."""
    documents = {}
    for env in ("aligned", "align*", "align"):
        for columns in (1, 2):
            names = []
            for d in derivations():
                if known_wide(d, "steps+expand", columns):
                    continue
                name = f"{Path(d.spec.path).stem}-{env.replace('*', 'star')}-{columns}col"
                (tmp_path / f"{name}.tex").write_text(
                    latex(d, latex_env=env, columns=columns, steps=True, expand=True))
                names.append(name)
            doc = manuscript(columns, names).replace("\\begin{document}",
                                                     "\\allowdisplaybreaks\n\\begin{document}")
            documents[f"article-{env.replace('*', 'star')}-{columns}col"] = doc
    found = compile_all(tmp_path, documents)
    assert [f for f in found
            if not (f.startswith("article-aligned-") and "Overfull \\vbox" in f)] == []


def test_a_row_breaks_between_terms_before_it_breaks_inside_one():
    from einderive.render.texwidth import break_lines, width
    rhs = (r"(a \odot \exp(w) \odot \sigma(z) + t \odot w \odot \exp(z)"
           r" - t \odot \exp(w) \odot \sigma(w))")
    # the first row could hold "- t" too: the break goes before "-", not after "t"
    line = width(r"x = (a \odot \exp(w) \odot \sigma(z) + t \odot w \odot \exp(z) - t") + 1
    rows = break_lines("x", rhs, line)
    assert len(rows) == 2 and rows[1].startswith(r"&\quad - t \odot")


def _rejoined(rows: list[str]) -> str:
    """Broken rows read back as one formula: the breaks' phantoms, null delimiters, the
    row's lead (``&=``, ``&\\quad``, ``\\times``) taken out, spaces normalised."""
    text = " ".join(r.split("&", 1)[1] for r in rows)
    text = re.sub(r"\\vphantom\{", "\\\\vphantom{", text)
    out, at = [], 0
    while (start := text.find("\\vphantom{", at)) >= 0:   # drop each balanced phantom
        out.append(text[at:start])
        depth, k = 0, start + len("\\vphantom")
        for k in range(k, len(text)):
            depth += (text[k] == "{") - (text[k] == "}")
            if depth == 0:
                break
        at = k + 1
    out.append(text[at:])
    text = "".join(out).replace("\\left.", "").replace("\\right.", "")
    text = re.sub(r"^=|\\quad \\times|\\quad", " ", text.strip())
    return " ".join(text.split())


def test_a_squared_function_breaks_inside_its_argument():
    """1 − tanh(u)² with u too wide for a row (a GRU's candidate state in --steps): the
    power's braces are taken off (TeX cannot break inside braces) and the row breaks at
    the + of u, the \\left( … \\right) closed and reopened with phantoms; read back, the
    rows are the formula."""
    from einderive.render.texwidth import break_lines, unwrap_parenthesized, width
    arg = r" + ".join(rf"\sum_{{j}} \mathrm{{W{n}}}_{{kj}} X_{{ij}}" for n in range(5))
    rhs = rf"1 - {{\tanh\left(\mathrm{{bh}}_{{k}} + {arg}\right)}}^{{2}}"
    assert unwrap_parenthesized(rhs) == rhs.replace("{\\tanh", "\\tanh").replace(
        "\\right)}^", "\\right)^")
    rows = break_lines(r"\frac{\partial \mathrm{Hc}_{ik}}{\partial u}", rhs, 229.5)
    assert len(rows) > 1 and all(width(r) <= 229.5 for r in rows)
    assert _rejoined(rows) == " ".join(unwrap_parenthesized(rhs).split())
    # a product is not a function's application: α (a + b) squared keeps its braces
    product = r"{\alpha (a + b)}^{2}"
    assert unwrap_parenthesized(product) == product
    assert unwrap_parenthesized(r"{\sigma'\left(a + b\right)}^{2} x") == \
        r"\sigma'\left(a + b\right)^{2} x"


@needs_pdflatex
def test_a_transposed_parenthesis_before_a_clause_breaks_inside(tmp_path):
    """``-2 {\\left(…\\right)}^{\\top}, \\quad σ'(…) = …`` (a GRU --hessian block, mirrored):
    the braces come off though the \\left…\\right now has a thin space on both sides (after
    the 2 and before the comma), so the row breaks inside the parenthesis; pdflatex, the
    reference, finds no overfull box in the rows aligned with a wider left column."""
    from einderive.render.texwidth import break_lines, unwrap_parenthesized, width
    arg = r" + ".join(rf"\mathrm{{W{n}}} \odot \left(X_{{{n}}}^{{\top}} Y\right)" for n in range(9))
    rhs = rf"-2 {{\left({arg}\right)}}^{{\top}}, \quad \sigma'(u) = a \odot (1 - a)"
    assert unwrap_parenthesized(rhs) == rhs.replace("{\\left(", "\\left(").replace(
        "\\right)}^", "\\right)^")
    left = r"\frac{\partial^2 L}{\partial \mathrm{bh}_{k} \partial \mathrm{Ur}_{lm}}"
    rows = break_lines(r"\frac{\partial^2 L}{\partial b \partial c}", rhs, 469.75, width(left))
    assert len(rows) > 1 and "\\right." in rows[0]  # broken inside the parenthesis
    unquad = " ".join(unwrap_parenthesized(rhs).replace("\\quad", "").split())
    assert _rejoined(rows).replace(" , ", ", ") == unquad
    doc = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
           "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}\n"
           "\\begin{document}\n\\begin{align*}\n" + left + " &= x \\\\\n"
           + " \\\\\n".join(rows) + "\n\\end{align*}\n\\end{document}\n")
    assert overfull(tmp_path, "broken", doc) == []
    lhs = r"\frac{\partial^2 L}{\partial b \partial c}"
    whole = doc.replace(" \\\\\n".join(rows), f"{lhs} &= {rhs}")
    assert overfull(tmp_path, "whole", whole)  # unbroken, it is too wide: the check can fail


def test_a_display_taller_than_the_page_is_split_before_an_equation():
    """A --steps group of the GRU cell broken to a two-column line is taller than a page
    (an Overfull \\vbox, a display cannot break): it is split into displays each shorter
    than the page, between equations, with every row kept in order."""
    from einderive.render.latex import DISPLAY_HEIGHT
    from einderive.render.texwidth import height, split_tall
    d = derivations()[[p.stem for p in SPEC_FILES].index("gru_cell")]
    text = latex(d, steps=True, columns=2)
    blocks = [b.split(" \\\\\n") for b in
              re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", text, re.S)]
    assert max(height(b) for b in blocks) <= DISPLAY_HEIGHT
    from einderive.render import latex as L
    groups = L.adjoint_groups(build(d, Latex, steps=True))
    assert len(blocks) > len(groups)  # some group (the step Hc → Rg) was split
    rows = [f"x_{{{n}}} &= " + r"\sum_{k} a_{k}" for n in range(60)]
    rows[3::4] = [r"&\quad + b"] * len(rows[3::4])   # continuations stay with their equation
    runs = split_tall(rows, 200.0)
    assert [r for run in runs for r in run] == rows and len(runs) > 1
    assert all(height(run) <= 200.0 for run in runs)
    assert all(run[0].startswith("x_") for run in runs)


def test_a_comparison_breaks_only_when_nothing_else_fits():
    """rowsum(where(Y_i > 0, …)) beside the wide left column of --steps on a two-column
    line: no operator, product or comma left a row that fit (conv1d's bias, overfull by
    12.5 pt); TeX may break at a relation, so the last resort is before the ``>``."""
    from einderive.render.texwidth import break_lines, width
    rhs = (r"\operatorname{rowsum}\left(\operatorname{where}\left(Y_{i} > 0, 1, "
           r"\frac{1}{10}\right) \odot (H_{i} - y_{i})\right)")
    head = (r"\quad \operatorname{rowsum}\left(\operatorname{where}\left(Y_{i} > 0, "
            r"\right.\right.")
    rows = break_lines("x", rhs, width(head) - 1 + 40, left_width=40)  # the comma's row: no
    assert any(r.rstrip().endswith(r"\right.") and "Y_{i} \\vphantom" in r for r in rows), rows
    assert any(r"> 0, 1," in r for r in rows[1:]), rows
    # with room for the comma's row, the comparison stays whole
    wide = break_lines("x", rhs, width(head) + 60, left_width=40)
    assert all(r"Y_{i} > 0" in r for r in wide if "Y_{i}" in r), wide


# -- --steps, --steps --expand and --hessian of every model spec --------------------------------
# Each spec's standalone document, their bodies joined into one document per mode (one pdflatex
# run each, so the sweep stays fast); an Overfull box is traced back to its spec by its line.

MODELS = sorted((ROOT / "tests" / "models").glob("*.yaml"))

# a --steps left side through an anonymous intermediate: the intermediate goes by a short
# name (u = X + logpiᵀ − logsumexp(logpi)); written out under ∂L/∂(…) it was 351 pt wide
ANONYMOUS_STEP = """\
name: mixture_logsumexp
dims: {B: 4, K: 3}
inputs: {X: [B, K], logpi: [K]}
forward:
  - L = -sum(logsumexp(X + log_softmax(logpi), axis=1))
loss: L
"""


@lru_cache(maxsize=None)
def model_derivations() -> tuple:
    from einderive import api
    return tuple(api.derive_file(str(p), closed=True) for p in MODELS) + \
        (derive_text(ANONYMOUS_STEP, "mixture_logsumexp.yaml"),)


def joined(documents: dict[str, str]) -> tuple[str, list[tuple[int, str]]]:
    """One document of the standalone documents' bodies (their preambles are one), and
    where each body starts: (first line, name)."""
    heads = {doc.split("\\begin{document}")[0] for doc in documents.values()}
    assert len(heads) == 1, heads
    lines = [*heads.pop().splitlines(), "\\begin{document}"]
    starts = []
    for name, doc in documents.items():
        starts.append((len(lines) + 1, name))
        body = doc.split("\\begin{document}\n", 1)[1].rsplit("\\end{document}", 1)[0]
        lines += [*body.splitlines(), "\\clearpage"]
    return "\n".join(lines + ["\\end{document}"]) + "\n", starts


def overfull_by_document(tmp: Path, name: str, documents: dict[str, str]) -> list[str]:
    """pdflatex's Overfull boxes of the documents joined, each with the document it is in."""
    source, starts = joined(documents)
    found = []
    for line in overfull(tmp, name, source):
        at = re.search(r"at lines? (\d+)", line)
        n = int(at.group(1)) if at else 0
        owner = [doc for first, doc in starts if first <= n][-1:] or ["?"]
        found.append(f"{owner[0]}: {line}")
    return found


def test_an_anonymous_intermediate_goes_by_a_short_name_in_steps():
    """The --steps left side names the anonymous intermediate u, and defines it above its
    chain rule; in LaTeX its definition is a row of the display."""
    text = latex(derive_text(ANONYMOUS_STEP), standalone=True, steps=True, expand=True)
    assert "u &= X + \\mathrm{logpi}^{\\top} - \\operatorname{logsumexp}(\\mathrm{logpi})" \
        in text
    assert "\\sum_{i} \\sum_{j} \\frac{\\partial L}{\\partial u_{ij}} \\frac{\\partial " \
        "u_{ij}}{\\partial X_{kl}} &= " in text
    assert "\\partial (X" not in text  # no definition under ∂: ∂L/∂(X + logpiᵀ − …)_ij


@needs_pdflatex
def test_model_specs_with_steps_have_no_overfull_box(tmp_path):
    """--steps --expand: the rows of --steps alone and the closed forms' rows below them,
    which have no left side of their own (so --steps alone is covered, and one rendering
    of every model spec keeps the test fast)."""
    documents = {Path(d.spec.path).stem: latex(d, standalone=True, steps=True, expand=True)
                 for d in model_derivations()}
    assert overfull_by_document(tmp_path, "models-steps-expand", documents) == []


@needs_pdflatex
def test_a_wide_left_side_of_steps_does_not_push_another_row_off_the_line(tmp_path):
    """Two columns, --steps (and --expand): one left column for all the Backward rows is as
    wide as the widest --steps left side (Σ_i Σ_i′ ∂L/∂D2_ii′ ∂D2_ii′/∂Yemb_kl); a part
    of another row that fits nowhere overran the line beside it by 3.5 pt (2.5 pt for the
    routing spec).  Such rows go in a display of their own, aligned apart."""
    from einderive import api
    names = ("latex_two_columns_steps_wide_left", "latex_two_columns_expand_wide_left")
    documents = {name: latex(api.derive_file(str(ROOT / "tests" / "regressions" / f"{name}.yaml"),
                                             closed=True),
                             standalone=True, columns=2, steps=True, expand=True)
                 for name in names}
    assert all(doc.count("\\begin{align*}") > 2 for doc in documents.values())
    assert overfull_by_document(tmp_path, "wide-left", documents) == []


# --hessian of a few shipped specs, one of each kind of block (a vector, matrices, a
# convolution, a normalisation): --hessian of every shipped and model spec takes minutes
# each for the recurrent cells; the sweep outside the suite compiled every one it finished
HESSIAN_SPECS = ("attention", "batchnorm", "bilinear_layer", "conv1d", "gaussian_loglik")


@needs_pdflatex
def test_hessians_of_shipped_specs_have_no_overfull_box(tmp_path):
    from einderive import api
    documents = {Path(d.spec.path).stem: latex(api.second_order(d, hessian=""), standalone=True)
                 for d in derivations() if Path(d.spec.path).stem in HESSIAN_SPECS}
    assert len(documents) == len(HESSIAN_SPECS)
    assert overfull_by_document(tmp_path, "hessians", documents) == []


# -- tests/models/more: plain, --steps --expand and --hessian --------------------------------------
# The rank-3 specs that overflowed or did not compile are swept always; every spec there with
# EINDERIVE_MORE_MODELS=1 (as that directory's other suites: a longer pass).

MORE = sorted((ROOT / "tests" / "models" / "more").glob("*.yaml"))
ALL_MORE = bool(os.environ.get("EINDERIVE_MORE_MODELS"))
# batchnorm_rank3: {einsum_{…}(…)}ᵀ kept its braces, no break inside (45 pt, 130 pt with
# --steps --expand); cosine_logits_ce: \sqrt{colsum(W ⊙ W)}^{\top} lost the root's braces
# (pdflatex failed); the others are the group norm, reshape/transpose merges, attention and
# concatenation of rank 3 that overflowed before
MORE_ALWAYS = ("batchnorm_rank3", "cosine_logits_ce", "group_stats_first_order",
               "reshape_transpose_merge", "attention_rank3_bias", "concat_middle_rank3")


@lru_cache(maxsize=None)
def more_derivations() -> tuple:
    from einderive import api
    return tuple(api.derive_file(str(p), closed=True) for p in MORE
                 if ALL_MORE or p.stem in MORE_ALWAYS)


def test_the_always_swept_more_specs_exist():
    assert set(MORE_ALWAYS) <= {p.stem for p in MORE}


@needs_pdflatex
@pytest.mark.parametrize("flag", ["plain", "steps+expand"])
def test_more_model_specs_have_no_overfull_box(tmp_path, flag):
    documents = {Path(d.spec.path).stem: latex(d, standalone=True, **FLAGS[flag])
                 for d in more_derivations()}
    assert overfull_by_document(tmp_path, f"more-{flag.replace('+', '-')}", documents) == []


@needs_pdflatex
def test_more_hessians_have_no_overfull_box(tmp_path):
    """--hessian of the rank-3 attention and concatenation (each took minutes in LaTeX: a
    broken row's phantom re-set for every candidate row) and the batch norm of rank 3."""
    from einderive import api
    stems = ("batchnorm_rank3", "attention_rank3_bias", "concat_middle_rank3")
    documents = {Path(d.spec.path).stem: latex(api.second_order(d, hessian=""), standalone=True)
                 for d in more_derivations() if Path(d.spec.path).stem in stems}
    assert len(documents) == len(stems)
    assert overfull_by_document(tmp_path, "more-hessians", documents) == []


def test_a_transposed_einsum_is_broken_inside_its_arguments():
    """{einsum_{…}(…)}ᵀ: the subscripted head is a function's (the braces come off, so the
    row breaks between the arguments, pdflatex sets no box wider than the line); a root's
    group is its argument, not a power's braces (taken off, the LaTeX did not compile)."""
    from einderive.render.texwidth import break_lines, unwrap_parenthesized, width
    arg = ", ".join(rf"\operatorname{{einsum}}_{{\mathrm{{abk}} \to \mathrm{{k}}}}(X_{{{n}}})"
                    for n in range(8))
    rhs = rf"-\frac{{1}}{{2}} {{\operatorname{{einsum}}_{{\mathrm{{ijk,k}} \to \mathrm{{k}}}}" \
          rf"\left({arg}\right)}}^{{\top}}"
    assert unwrap_parenthesized(rhs) == rhs.replace("} {\\operatorname", "} \\operatorname") \
        .replace("\\right)}^", "\\right)^")
    rows = break_lines(r"\frac{\partial L}{\partial v}", rhs, 229.5)
    assert len(rows) > 1 and all(width(r) <= 229.5 for r in rows)
    assert _rejoined(rows) == " ".join(unwrap_parenthesized(rhs).split())
    root = r"a \oslash \sqrt{\operatorname{colsum}(W \odot W)}^{\top}"
    assert unwrap_parenthesized(root) == root
    assert unwrap_parenthesized(r"\frac{1}{\tanh(x)}^{2}") == r"\frac{1}{\tanh(x)}^{2}"


@needs_pdflatex
@pytest.mark.parametrize("columns", [1, 2])
def test_a_wide_equation_in_a_note_is_a_display(tmp_path, columns):
    """grpo_group_advantage's softmax-target note ends in an equation wider than a line, in
    \\left…\\right that TeX cannot break inline (48 pt over in one column, 259 pt in two):
    it is set as a display broken to the line, the sentence's period inside it; a short
    one stays inline (softmax_regression's)."""
    from einderive import api
    d = api.derive_file(str(ROOT / "tests/models/more14/grpo_group_advantage.yaml"), closed=True)
    tex = latex(d, standalone=True, columns=columns, expand=True)
    note = tex[tex.index("is the target of a softmax cross-entropy"):]
    assert note.split("\n")[1] == "\\[", note
    assert "\\right).\n\\end{aligned}\n\\]" in note, note
    assert overfull(tmp_path, f"grpo-{columns}col", tex) == []
    short = api.derive_file(str(SPECS / "softmax_regression.yaml"), closed=True)
    plain = latex(short, standalone=True, columns=columns)
    assert "\\[" not in plain[plain.index("is the target of"):], plain
