"""LaTeX for papers: a fragment to paste, or a document that compiles with amsmath alone.

The fragment is ``\\begin{aligned}`` inside ``\\[ \\]`` (which also renders in
Markdown and KaTeX), or any of ``align*``/``align`` at top level.  Each node
is one row: its index form, then its matrix form, in two aligned columns.
"""

from __future__ import annotations

from .._version import __version__
from . import text as T
from .styles import Latex

ENVIRONMENTS = ("aligned", "align*", "align")

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                 "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}"}
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
    for ch in s:
        if ch in _TEXT_ESCAPES:
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


def _p(d, form=None) -> Latex:
    return T.printer(d, form, Latex)


def _eq(lhs: str, rhs: str) -> str:
    return f"{lhs} &= {rhs}"


def adjoint_rows(d, steps: bool = False, expand: bool = False, adjoints=None) -> list[str]:
    """One aligned column: for each node its index form, then its matrix form."""
    rows = []
    for a in d.adjoints if adjoints is None else adjoints:
        if a.name == d.loss:
            continue
        if steps:
            for edge in a.edges:
                rows += [_eq(lhs, rhs) for lhs, rhs in T.step_lines(d, edge, Latex)]
        if T.has_index_form(a.form):
            rows.append(_eq(T.adjoint_lhs(d, a.name, a.form.idx, Latex),
                            T.index_rhs(d, a.form, Latex)))
        matrix = T.matrix_rhs(d, a.form, Latex)
        if matrix is not None:
            m = _eq(T.adjoint_lhs(d, a.name, (), Latex), matrix)
            wheres = T.where_texts(d, a.form, Latex)
            if wheres:
                m += r", \quad " + r", \quad ".join(wheres)
            rows.append(m)
        if expand and T.closed_differs(a):
            closed = T.matrix_rhs(d, a.closed, Latex) or T.index_rhs(d, a.closed, Latex)
            rows.append(f"&= {closed}")
    return rows


def forward_rows(d) -> list[str]:
    rows = []
    for t, f in d.forward:
        if T.has_index_form(f):
            rows.append(_eq(T.tensor_lhs(d, t.name, f.idx, Latex), T.index_rhs(d, f, Latex)))
        matrix = T.matrix_rhs(d, f, Latex)
        if matrix is not None:
            rows.append(_eq(T.tensor_lhs(d, t.name, (), Latex), matrix))
    return rows


def gradient_rows(d) -> list[str]:
    return [_eq(label, rhs) for label, rhs in T.gradient_lines(d, Latex)]


def environment(rows: list[str], env: str = "aligned") -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}")
    body = " \\\\\n".join(rows)
    if env == "aligned":
        return f"\\[\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n\\]"
    return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"


def fragment(d, env: str = "aligned", steps: bool = False, expand: bool = False) -> str:
    """The backward pass, ready to paste into a manuscript (needs amsmath, amssymb)."""
    head = [f"% einderive {__version__}: {d.name}" + (f" ({d.spec.path})" if d.spec.path else ""),
            "% Vectors are columns; \\odot and \\oslash are elementwise with broadcasting;",
            "% an index repeated on the right and absent on the left is summed.",
            "% Needs \\usepackage{amsmath,amssymb}."]
    return "\n".join(head) + "\n" + environment(adjoint_rows(d, steps, expand), env) + "\n"


def latex_document_body(d, env: str = "aligned", display: bool = True, steps: bool = False,
                        expand: bool = False) -> str:
    """Forward and backward as one display (a notebook's ``_repr_latex_``)."""
    return environment(forward_rows(d) + adjoint_rows(d, steps, expand), env)


def standalone(d, env: str = "align*", steps: bool = False, expand: bool = False) -> str:
    """A document that compiles with pdflatex and no package beyond amsmath and amssymb."""
    desc = latex_text(d.spec.description) if d.spec.description else ""
    notes = "\n\n".join(T.note_texts(d, Latex, lambda s: f"${s}$"))
    parts = [
        "\\documentclass{article}",
        "\\usepackage{amsmath,amssymb}",
        "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}",
        "\\allowdisplaybreaks",
        "\\begin{document}",
        f"\\section*{{{latex_text(d.name)}}}",
        desc,
        "Vectors are columns; $\\odot$ and $\\oslash$ are elementwise and broadcast a column "
        "across columns and a row across rows. An index repeated on the right-hand side and "
        "absent from the left is summed; other sums are written with $\\sum$.",
        "\\subsection*{Forward}",
        environment(forward_rows(d), env),
        "\\subsection*{Backward}",
        environment(adjoint_rows(d, steps, expand), env),
        "\\subsection*{Gradients}",
        environment(gradient_rows(d), env),
        notes,
        "\\end{document}",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def gradient_latex(d, g) -> str:
    """``\\frac{\\partial L}{\\partial W} = ...`` for one gradient (the API's ``latex``)."""
    if g.zero:
        return f"{T.adjoint_lhs(d, g.name, (), Latex)} = 0"
    rhs = T.matrix_rhs(d, g.form, Latex) or T.index_rhs(d, g.form, Latex)
    lhs = T.adjoint_lhs(d, g.name, () if g.form.matrix is not None else g.form.idx, Latex)
    return f"{lhs} = {rhs}"
