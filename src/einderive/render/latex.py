"""LaTeX for papers: a fragment to paste, or a document that compiles with amsmath alone.

The fragment is, by default, one ``\\begin{aligned}`` inside ``\\[ \\]`` per node
(``per-node``: the page may break between nodes, and it also renders in Markdown
and KaTeX); or one ``aligned`` for all; or ``align*``/``align`` at top level.  Each
node's rows are its index form, then its matrix form, in two aligned columns.
Every row is broken (``texwidth.fit_rows``) to fit the line of a one-column
article, or with ``columns=2`` of a two-column one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._version import __version__
from .sheet import AdjointRow, Formula, GradientRow, HessianRow, Selection, Sheet, build
from .styles import Latex
from .texwidth import MIN_ALIGN_SEP, fit_rows, left_width, overflows, split_tall, width

if TYPE_CHECKING:
    from ..derivation import Derivation

ENVIRONMENTS = ("per-node", "aligned", "align*", "align")
# \linewidth at 10pt (pdflatex): a fragment in \documentclass{article} (or [twocolumn]),
# and our standalone document (\textwidth 6.5in, [twocolumn] when columns=2).
FRAGMENT_WIDTHS = {1: 345.0, 2: 229.5}
STANDALONE_WIDTHS = {1: 469.75, 2: 229.877}
# The tallest display that a page holds: \textheight of a 10pt article (550pt, one or two
# columns) less the skips above and below a display and a margin for the text about it.
DISPLAY_HEIGHT = 500.0

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                 "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
                 # the default (OT1) text font has no < > | where ASCII has them: it sets
                 # ¡ ¿ — for them
                 "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
                 # dashes and curly quotes, as TeX's ligatures write them (were '?')
                 "—": "---", "–": "--", "“": "``", "”": "''", "‘": "`", "’": "'"}
_TEXT_SYMBOLS = {"ᵀ": "^{\\top}", "‖": "\\|", "²": "^2", "³": "^3", "−": "-", "⊙": "\\odot",
                 "⊘": "\\oslash", "→": "\\to", "·": "\\cdot", "×": "\\times", "≤": "\\le",
                 "≥": "\\ge", "∂": "\\partial", "∈": "\\in", "ℝ": "\\mathbb{R}", "Σ": "\\Sigma",
                 "σ": "\\sigma", "φ": "\\varphi", "Φ": "\\Phi", "√": "\\surd", "δ": "\\delta",
                 "∘": "\\circ", "𝟏": "\\mathbf{1}", "𝐈": "\\mathbf{I}",
                 "′": "'"}


def latex_text(s: str) -> str:
    """User text (a description) made safe for pdflatex with amsmath alone."""
    from .names import _latex_chars

    out = []
    for i, ch in enumerate(s):
        if ch == '"':  # OT1 has no straight quote: TeX's opening or closing one
            out.append("``" if i == 0 or s[i - 1].isspace() or s[i - 1] in "([{" else "''")
        elif ch in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[ch])
        elif ch.isascii():
            out.append(ch)
        elif ch in _TEXT_SYMBOLS:
            out.append(f"${_TEXT_SYMBOLS[ch]}$")
        elif ch.isalpha():
            out.append(f"${_latex_chars(ch)}$")
        else:
            out.append("?")
    return "".join(out)


def _eq(lhs: str, rhs: str) -> str:
    return f"{lhs} &= {rhs}"


def adjoint_rows(sheet: Sheet, expand: bool = False,
                 adjoints: Iterable[AdjointRow] | None = None) -> list[str]:
    """One aligned column: for each node its index form, then its matrix form."""
    return [row for group in adjoint_groups(sheet, expand, adjoints) for row in group]


def adjoint_groups(sheet: Sheet, expand: bool = False,
                   adjoints: Iterable[AdjointRow] | None = None) -> list[list[str]]:
    """The rows of ``adjoint_rows``, one list per node: each edge's chain rule (when the
    sheet holds the steps), then the node's index and matrix forms (one display each, so
    that a page can break between them)."""
    groups = []
    for a in sheet.adjoints if adjoints is None else adjoints:
        # an anonymous intermediate's short name is defined above its chain rule
        groups += [[_eq(lhs, rhs) for lhs, rhs in (*([step.where] if step.where else []),
                                                   *step.lines)] for step in a.steps]
        rows = _formula_rows(a.formula)
        if expand and a.closed is not None:  # with the where-clauses it names (t1 = …)
            first = _eq(a.closed.lhs, a.closed.rhs) if a.closed.lhs else f"&= {a.closed.rhs}"
            rows.append(first + "".join(rf", \quad {w}" for w in a.closed_wheres))
        groups.append(rows)
    return [g for g in groups if g]


def _formula_rows(f: Formula) -> list[str]:
    """A formula's index form, then its matrix form with its where-clauses."""
    rows = []
    if f.indexed:
        rows.append(_eq(f.lhs_index, f.index))
    if f.matrix is not None:
        m = _eq(f.lhs_matrix, f.matrix)
        if f.wheres:
            m += r", \quad " + r", \quad ".join(f.wheres)
        rows.append(m)
    return rows


def tangent_groups(sheet: Sheet) -> list[list[str]]:
    """The tangents of the forward nodes, one group per node (none unless derived)."""
    return [_formula_rows(t.formula) for t in sheet.tangents if t.formula is not None]


def hvp_groups(sheet: Sheet) -> list[list[str]]:
    """ℛ{∂L/∂t} from the loss back, one group per node, then the blocks of (∇²L) v."""
    groups = [_formula_rows(r.formula) for r in sheet.rops if r.formula is not None]
    blocks = [_eq(h.lhs_shown, h.rhs) for h in sheet.hvp]
    return groups + ([blocks] if blocks else [])


def gauss_newton_groups(sheet: Sheet) -> list[list[str]]:
    """The Gauss-Newton split: each part of each block of (∇²L) v, then of each block of
    the Hessian (none unless derived)."""
    groups = [_formula_rows(r.formula) if r.formula is not None else [_eq(r.lhs, "0")]
              for r in sheet.gn_hvp + sheet.rest_hvp]
    return groups + hessian_groups(sheet, sheet.gn_hessian + sheet.rest_hessian)


def hessian_groups(sheet: Sheet,
                   blocks: tuple[HessianRow, ...] | None = None) -> list[list[str]]:
    """Each Hessian block ∂²L/∂x∂y, one group per block: its index form, its matrix form
    or its Kronecker form (none unless derived); ``blocks``: these blocks instead."""
    groups = []
    for h in sheet.hessian if blocks is None else blocks:
        rows = _formula_rows(h.formula) if h.formula is not None else [_eq(h.lhs, "0")]
        if h.kron is not None:
            rows.append(_eq(h.lhs, h.kron) + "".join(r", \quad " + w for w in h.kron_wheres))
        groups.append(rows)
    return groups


def second_labels(sheet: Sheet) -> list[str]:
    """The labels of :func:`tangent_groups`, :func:`hvp_groups`, :func:`hessian_groups`."""
    out = [label(sheet.name, t.name, "tangent") for t in sheet.tangents if t.formula is not None]
    out += [label(sheet.name, r.name, "rop") for r in sheet.rops if r.formula is not None]
    out += [label(sheet.name, "hvp")] if sheet.hvp else []
    out += [label(sheet.name, h.x, h.y, "hessian") for h in sheet.hessian]
    # in the order of gauss_newton_groups: each part's product, then each part's blocks
    out += [label(sheet.name, r.name, "gn", "hvp") for r in sheet.gn_hvp]
    out += [label(sheet.name, r.name, "rest", "hvp") for r in sheet.rest_hvp]
    out += [label(sheet.name, h.x, h.y, "gn", "hessian") for h in sheet.gn_hessian]
    return out + [label(sheet.name, h.x, h.y, "rest", "hessian") for h in sheet.rest_hessian]


def forward_rows(sheet: Sheet, names: tuple[str, ...] | None = None) -> list[str]:
    rows = []
    for t in sheet.forward:
        if names is not None and t.name not in names:
            continue
        f = t.formula
        assert f is not None  # a node has a definition
        if f.indexed:
            rows.append(_eq(f.lhs_index, f.index))
        if f.matrix is not None:
            rows.append(_eq(f.lhs_matrix, f.matrix))
    return rows


def gradient_rows(sheet: Sheet) -> list[str]:
    return [_gradient_eq(g) for g in sheet.gradients]


def _gradient_eq(g: GradientRow) -> str:
    """grad(x) = …, with the where-clauses of the names it reads (as under its adjoint)."""
    return _eq(g.label, g.rhs) + "".join(rf", \quad {w}" for w in g.wheres)


def fit(rows: list[str], linewidth: float | None, env: str = "aligned",
        left: float | None = None) -> list[str]:
    """``rows`` broken so that their display fits ``linewidth`` (None: as they are); a row
    left alone is fitted again with the slack of :func:`_one_row_slack`."""
    if linewidth is None or not rows:
        return rows
    try:
        out = fit_rows(rows, linewidth, left=left)
        if _one_row_slack(out, env):
            out = fit_rows(rows, linewidth, slack=_one_row_slack(out, env))
    except ValueError:   # LaTeX that texwidth cannot measure: correct rows, maybe too wide
        return rows
    return out


def _page_runs(rows: list[str], linewidth: float | None) -> list[list[str]]:
    """A node's fitted rows as displays that each fit on a page (one, mostly): a display
    cannot break across pages, and a --steps group of a recurrent cell's rows, broken
    to a two-column line, is taller than the page."""
    if linewidth is None:
        return [rows]
    try:
        return split_tall(rows, DISPLAY_HEIGHT)
    except ValueError:   # LaTeX that texlayout cannot measure: one display, as it was
        return [rows]


def environment(rows: list[str], env: str = "aligned") -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}")
    body = " \\\\\n".join(rows)
    if env in ("aligned", "per-node"):
        return f"\\[\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n\\]"
    return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"


def _overflows(rows: list[str], linewidth: float, env: str) -> bool:
    """Whether ``rows`` fitted together (``fit``) leave a row wider than the line."""
    try:
        fitted = fit(rows, linewidth, env)
        return overflows(fitted, linewidth, _one_row_slack(fitted, env))
    except ValueError:  # LaTeX that texwidth cannot measure: rows as they are
        return False


def _one_row_slack(rows: list[str], env: str) -> float:
    """What a display of ``rows`` takes beyond its cells: an ``aligned`` of one row is
    ``MIN_ALIGN_SEP`` wider (amsmath keeps the \\minalignsep it takes back after every
    other row); nothing otherwise."""
    return MIN_ALIGN_SEP if env in ("aligned", "per-node") and len(rows) == 1 else 0.0


def _aligned_runs(groups: list[list[str]], env: str,
                  linewidth: float | None) -> list[list[int]]:
    """The groups (by number) of one display aligned together: all of them, unless one
    left column for all leaves a row wider than the line (a part that fits nowhere
    beside --steps' widest left side, ∑_i ∑_i′ ∂L/∂D_ii′ ∂D_ii′/∂Y_kl), then runs of
    consecutive groups, each as long as it fits, each its own display."""
    every = list(range(len(groups)))
    if linewidth is None or not _overflows([r for g in groups for r in g], linewidth, env):
        return [every]
    runs: list[list[int]] = []
    for n in every:
        if runs and not _overflows([r for k in runs[-1] + [n] for r in groups[k]],
                                   linewidth, env):
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def displays(groups: list[list[str]], env: str, linewidth: float | None,
             labels: list[str] | None = None) -> str:
    """The groups of rows as ``env``: one display per group (``per-node``), else one
    display for all (or for each run of groups that fits aligned together:
    ``_aligned_runs``), each fitted to ``linewidth``.  In ``align`` each group is one
    numbered equation (its last line's number) labelled ``labels[n]``."""
    if env == "per-node":
        return "\n".join(environment(run, env) for g in groups
                         for run in _page_runs(fit(g, linewidth, env), linewidth))
    out = []
    for run in _aligned_runs(groups, env, linewidth):
        if env == "align" and labels is not None:
            try:
                left: float | None = left_width([r for n in run for r in groups[n]])
            except ValueError:  # LaTeX that texwidth cannot measure: rows as they are
                left = None
            lines = []
            for n in run:
                fitted = fit(groups[n], linewidth, env, left)
                lines += ([f"{r} \\notag" for r in fitted[:-1]]
                          + [f"{fitted[-1]} \\label{{{labels[n]}}}"])
            out.append(environment(lines, env))
        else:
            out.append(environment(fit([r for n in run for r in groups[n]], linewidth, env),
                                   env))
    return "\n".join(out)


def label(spec: str, *parts: str) -> str:
    """``eq:<spec>-<node>``: stable (names only), and safe in ``\\label`` (no TeX specials)."""
    return "eq:" + "-".join(_label_text(p) for p in (spec, *parts))


def _label_text(s: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_.:") else
                   f"u{ord(ch):04x}" for ch in s)


_PAGE_ADVICE = {
    "per-node": "% Each node is its own display: the page may break between them.",
    "aligned": "% One aligned block cannot break across pages (--latex-env per-node can).",
    "align*": "% To let align* break across pages, put \\allowdisplaybreaks in the preamble.",
    "align": "% To let align break across pages, put \\allowdisplaybreaks in the preamble.",
}


def fragment(d: Derivation, env: str = "per-node", steps: bool = False, expand: bool = False,
             columns: int = 1, selection: Selection | None = None) -> str:
    """The backward pass, ready to paste into a manuscript (needs amsmath, amssymb):
    every row fits the line of a one-column article (``columns=2``: a two-column one).
    A ``selection`` chooses the sections (forward, backward, gradients), forms and nodes.
    In ``align`` every node is one numbered equation, ``\\label{eq:<spec>-<node>}``."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}")
    sheet = build(d, Latex, steps=steps, selection=selection)
    head = [f"% einderive {__version__}: {sheet.name}" + (f" ({sheet.path})" if sheet.path else ""),
            "% Vectors are columns; \\odot and \\oslash are elementwise with broadcasting;",
            "% an index repeated on the right and absent on the left is summed.",
            "% Needs \\usepackage{amsmath,amssymb}; rows fit a "
            + ("two-column" if columns == 2 else "one-column") + " article at 10pt.",
            _PAGE_ADVICE[env]]
    if sheet.along:
        head.append(f"% Tangents along {', '.join(sheet.along)}"
                    + ("; \\mathcal{R}\\{\\cdot\\} is the tangent of an adjoint (Pearlmutter"
                       " 1994), the inputs' the blocks of the Hessian times v." if sheet.hvp
                       else "."))
    shown = sheet.sections if sheet.selected else ("backward",)
    groups, labels = labelled_groups(sheet, shown, expand)
    groups, labels = groups + tangent_groups(sheet) + hvp_groups(sheet) + \
        hessian_groups(sheet) + gauss_newton_groups(sheet), labels + second_labels(sheet)
    body = displays(groups, env, FRAGMENT_WIDTHS[columns], labels) if groups else \
        "% (nothing selected)"
    return "\n".join(head) + "\n" + body + "\n"


def labelled_groups(sheet: Sheet, sections: tuple[str, ...],
                    expand: bool = False) -> tuple[list[list[str]], list[str]]:
    """The rows of ``sections``, one group per node, and each group's label: the forward
    definition ``eq:<spec>-<node>-forward``, the adjoint ``eq:<spec>-<node>``, the gradient
    ``eq:<spec>-<input>-gradient``."""
    groups: list[list[str]] = []
    labels: list[str] = []
    if "forward" in sections:
        for t in sheet.forward:
            groups.append(forward_rows(sheet, (t.name,)))
            labels.append(label(sheet.name, t.name, "forward"))
    if "backward" in sections:
        for a in sheet.adjoints:
            for n, g in enumerate(adjoint_groups(sheet, expand, (a,))):
                groups.append(g)
                labels.append(label(sheet.name, a.name, *(["via", str(n + 1)]
                                                          if n < len(a.steps) else [])))
    if "gradients" in sections:
        for grad in sheet.gradients:
            groups.append([_gradient_eq(grad)])
            labels.append(label(sheet.name, grad.name, "gradient"))
    keep = [n for n, g in enumerate(groups) if g]
    return [groups[n] for n in keep], [labels[n] for n in keep]


def _section(sheet: Sheet, title: str, section: str, env: str, linewidth: float,
             expand: bool) -> list[str]:
    """A standalone document's section: its heading and its display (none if empty)."""
    if section not in sheet.sections:
        return []
    groups, labels = labelled_groups(sheet, (section,), expand)
    if not groups:
        return []
    if env != "align" and section != "backward":  # one display, as amsmath aligns it
        groups = [[r for g in groups for r in g]]
    return [f"\\subsection*{{{title}}}", displays(groups, env, linewidth, labels)]


def document_body(sheet: Sheet, env: str = "aligned") -> str:
    """Forward and backward as one display (a notebook's ``_repr_latex_``)."""
    return environment(forward_rows(sheet) + adjoint_rows(sheet), env)


def _second_sections(sheet: Sheet, env: str, width: float | None) -> list[str]:
    if not sheet.along:
        return []
    along = ", ".join(f"${x}$" for x in sheet.along)
    out = ["\\subsection*{Tangents}",
           f"Forward mode along the tangents {along} of the inputs (the others held fixed): "
           "each node's definition differentiated once, node by node.",
           displays(tangent_groups(sheet), env, width)]
    if sheet.hvp:
        out += ["\\subsection*{Hessian-vector product}",
                "Forward over reverse: $\\mathcal{R}\\{\\cdot\\}$ is the tangent of an "
                f"adjoint along $v = ({', '.join(sheet.along)})$ (Pearlmutter 1994), from the "
                "loss back; each input's $\\mathcal{R}\\{\\partial L/\\partial x\\}$ is its "
                "block of the Hessian times $v$.",
                displays(hvp_groups(sheet), env, width)]
    if sheet.hessian:
        out += ["\\subsection*{Hessian}",
                "Each block $\\partial^2 L/\\partial x \\partial y$ is read off the "
                "Hessian-vector product: the chain above written back to the directions, "
                "each $\\dot{y}$ taken to the identity (the linear map $v \\mapsto Hv$ as a "
                "matrix). A block of two matrices has four indices: its index form, and "
                "its Kronecker form on $\\operatorname{vec}$ (columns stacked) where it has one.",
                displays(hessian_groups(sheet), env, width)]
    if sheet.gn_output:
        out += ["\\subsection*{Gauss--Newton split}",
                f"$L = \\ell({sheet.gn_output})$ with $\\ell$ convex in the output "
                f"${sheet.gn_output}$, the argument of the final convex loss: "
                "$\\mathrm{GN}\\{\\cdot\\} = J^\\top H_\\ell J$, positive semidefinite, is the "
                "part from $\\ell$'s curvature; $\\mathrm{rest}\\{\\cdot\\}$, the network's, "
                "carries the adjoints. The two add up to the whole.",
                displays(gauss_newton_groups(sheet), env, width)]
    return out


def note_equation(lhs: str, rhs: str, end: str, linewidth: float) -> str:
    """A note's equation: inline where it fits half the line, else a display broken
    to the line (TeX cannot break inline math inside a ``\\left…\\right``, and a long
    formula in a sentence reads badly), the sentence's ``end`` inside it."""
    inline = f"${lhs} = {rhs}${end}"
    try:
        narrow = width(f"{lhs} = {rhs}", "text") <= linewidth / 2
    except ValueError:  # LaTeX that texwidth cannot measure: inline, as it was
        return inline
    if narrow:
        return inline
    rows = fit([f"{lhs} &= {rhs}"], linewidth)
    rows[-1] += end
    return "\n" + environment(rows) + "\n"


def standalone(d: Derivation, env: str = "align*", steps: bool = False, expand: bool = False,
               columns: int = 1, selection: Selection | None = None) -> str:
    """A document that compiles with pdflatex and no package beyond amsmath and amssymb,
    every row fitted to its text width (``columns=2``: a two-column document)."""
    w = STANDALONE_WIDTHS[columns]
    sheet = build(d, Latex, steps=steps, selection=selection,
                  equation=lambda lhs, rhs, end: note_equation(lhs, rhs, end, w))
    desc = latex_text(sheet.description) if sheet.description else ""
    notes = "\n\n".join(sheet.notes)
    parts = [
        "\\documentclass[twocolumn]{article}" if columns == 2 else "\\documentclass{article}",
        "\\usepackage{amsmath,amssymb}",
        "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}",
        "\\allowdisplaybreaks",
        "\\begin{document}",
        f"\\section*{{{latex_text(sheet.name)}}}",
        desc,
        "Vectors are columns; $\\odot$ and $\\oslash$ are elementwise and broadcast a column "
        "across columns and a row across rows. An index repeated on the right-hand side and "
        "absent from the left is summed; other sums are written with $\\sum$.",
        *(part for title, section in (("Forward", "forward"), ("Backward", "backward"),
                                      ("Gradients", "gradients"))
          for part in _section(sheet, title, section, env, w, expand)),
        *_second_sections(sheet, env, w),
        notes,
        "\\end{document}",
    ]
    return "\n".join(p for p in parts if p) + "\n"
