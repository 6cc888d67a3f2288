"""Regressions of the printed forms (issue 11): each test reads what the user sees."""

from __future__ import annotations

from conftest import derive_text, forms
from einderive.render.sheet import build
from einderive.render.styles import Latex

POWERS = """
    dims: {N: 4}
    inputs:
      x: {shape: [N], positive: true}
      w: [N]
    forward:
      - y = x ** 3 - 2 / x
      - L = sum(w * y)
    loss: L
"""


def test_a_coefficient_over_a_tensor_is_the_numerator_not_a_factor_of_one():
    from einderive.render import latex as X
    d = derive_text(POWERS)
    _, matrix = forms(d, "x")
    assert matrix == "∂L/∂y ⊙ (2 ⊘ (x ⊙ x) + 3 x ⊙ x)"
    assert "2 1" not in X.fragment(d) and "2 \\oslash (x \\odot x)" in X.fragment(d)


COLUMN_SOFTMAX = """
    dims: {M: 2}
    inputs: {x: [M, 1], y: [M, 1]}
    forward:
      - h = softmax(2 * x, axis=-1) + logsumexp(y, axis=-1, keepdims=True)
      - L = sum(h * h) + sum(x * x)
    loss: L
"""


def test_an_axis_function_over_a_literal_one_axis_is_its_value_there():
    # softmax(2 x) over the literal-1 axis of an M×1 x is 1 and logsumexp(y) there is y
    # (fz3: was printed softmax(2 x, axis=1), whose adjoint the reader could misread as the
    # column's softmax over M); nothing of either function is left to name an axis for
    from einderive.render import latex as X
    d = derive_text(COLUMN_SOFTMAX)
    assert forms(d, "x") == ("2 x_i", "2 x")
    assert forms(d, "y") == ("2 h_i", "2 h")
    forward = "".join(X.forward_rows(build(d, Latex)))
    assert "h_{i} &= 1 + y_{i}" in forward and "softmax" not in forward, forward


def test_the_identity_is_bold_and_distinct_from_a_tensor_named_I():
    from einderive.render import latex as X
    d = derive_text("""
        dims: {N: 3}
        inputs: {I: [N, N]}
        forward:
          - t = einsum('ii->', I)
          - L = t * t
        loss: L
    """)
    assert forms(d, "I")[1] == "2 t·𝐈"
    assert "2 t \\, \\mathbf{I}" in X.fragment(d)
    # h ⊙ 𝐈 (a vector on the diagonal) prints as diag(h)
    d = derive_text("""
        dims: {N: 3}
        inputs: {I: [N, N]}
        forward:
          - h = einsum('ii->i', I)
          - L = sum(h * h)
        loss: L
    """)
    assert forms(d, "I")[1] == "2 diag(h)"


def test_the_einsum_note_does_not_claim_a_rank_three_tensor():
    # a contraction of five matrices over two indices has no matrix rule (a diagonal, which
    # needed einsum here before, reads as diagonal(·) now); no tensor has more than two axes
    from einderive.render.text import note_texts
    d = derive_text("""
        dims: {N: 3}
        inputs: {x0: [N, N]}
        forward:
          - h = einsum('ik,jk,kl,li,lj->ij', x0, x0, x0, x0, x0)
          - L = sum(h * h)
        loss: L
    """)
    assert "einsum('ik,li,jk,jl,kl->ij', x0, x0, ∂L/∂h, x0, x0)" in forms(d, "x0")[1]
    assert note_texts(d) == ["∂L/∂x0 is written with einsum where no matrix rule applies."]


def _gradient_without_matrix_form(d, name):
    """``d`` as if grad(name) had no matrix form (the engine finds one for every shipped spec)."""
    from einderive.record import replace
    grads = tuple(replace(g, form=replace(g.form, matrix=None)) if g.name == name else g
                  for g in d.gradients)
    return replace(d, gradients=grads)


def test_a_gradient_in_index_form_names_its_indices_on_the_left():
    from einderive.render import latex as X
    d = _gradient_without_matrix_form(derive_text("""
        dims: {N: 3, M: 2}
        inputs: {W: [M, N], x: [N]}
        forward:
          - z = W @ x
          - L = sum(z * z)
        loss: L
    """), "W")
    sheet = build(d)
    assert {g.label: g.rhs for g in sheet.gradients} == {"grad(W)_ji": "∂L/∂z_j x_i",
                                                         "grad(x)": "Wᵀ ∂L/∂z"}
    assert sheet.gradient("W").name == "W" and sheet.gradient("W").formula.matrix is None
    rows = X.gradient_rows(build(d, Latex))
    assert rows[0].startswith("\\left(\\nabla_{W} L\\right)_{ji} &= ")
    assert rows[1].startswith("\\nabla_{x} L &= ")


def test_verify_names_a_division_by_zero_at_the_dim_sizes(run, tmp_path):
    spec = tmp_path / "v.yaml"
    spec.write_text("dims: {B: 3, D: 3}\ninputs: {X: [B, D]}\n"
                    "forward:\n  - L = sum(X*X) / (D - B)\nloss: L\n")
    result = run("verify", spec)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "L divides by D − B, which is zero at B=3, D=3" in out
    assert "--dims B=2,D=3" in out and "positive" not in out
    assert run("verify", spec, "--dims", "B=2,D=3").exit_code == 0


def _import_graph() -> dict:
    """einderive's modules and the einderive modules each imports (relative imports, at any
    depth of the file: a function-level import is a dependency all the same)."""
    import ast

    from conftest import ROOT
    src = ROOT / "src"
    files = {".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (src / "einderive").rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
            if node.module:
                deps.add(f"{base}.{node.module}")
            else:  # from . import x: the submodule x, or a name of the package itself
                deps |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                         for a in node.names}
        graph[mod] = {m for m in deps if m in files and m != mod}
    return graph


def _cycle(graph: dict) -> list | None:
    state: dict = {}
    stack: list = []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = "done"
        stack.pop()
        return None
    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = _import_graph()
    assert "einderive._version" in graph["einderive.render.latex"]
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


# the application's edge: it composes the engine with the renderers
_EDGE = {"einderive.cli", "einderive.api"}


def _engine_imports_of_renderers(graph: dict) -> dict:
    """Each engine module (every module but the renderers and the edge) that imports a
    renderer, with the renderers it imports."""
    engine = [m for m in graph if not m.startswith("einderive.render") and m not in _EDGE]
    up = {m: sorted(n for n in graph[m] if n.startswith("einderive.render")) for m in engine}
    return {m: deps for m, deps in up.items() if deps}


def test_the_engine_never_imports_a_renderer():
    """Layers point one way: only the renderers themselves and the application's edge (the
    CLI, the API) import ``einderive.render``; the engine holds no view."""
    graph = _import_graph()
    assert {"einderive.derivation", "einderive.verify", "einderive.golden"} <= set(graph)
    assert _engine_imports_of_renderers(graph) == {}


def test_the_engine_check_finds_a_renderer_import():
    # verify used to import the code generator; golden, the Markdown renderer
    graph = {"einderive.verify": {"einderive.render.pymodule", "einderive.errors"},
             "einderive.api": {"einderive.render.text"}, "einderive.render.text": set()}
    assert _engine_imports_of_renderers(graph) == {
        "einderive.verify": ["einderive.render.pymodule"]}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_tikz_typesets_dims_with_the_formulas_look_alike_free_names():
    # N_1 and N1 would both be N_{1}: the shapes used to say x and y have the same dim
    from einderive.render.graph import tikz
    d = derive_text("""
        dims: {N_1: 2, N1: 3}
        inputs: {x: [N_1], y: [N1]}
        forward:
          - L = sum(x) * sum(y)
        loss: L
    """)
    picture = tikz(d)
    assert "{$x$ \\\\ $\\scriptstyle \\in \\mathbb{R}^{\\mathtt{N\\_1}}$}" in picture
    assert "{$y$ \\\\ $\\scriptstyle \\in \\mathbb{R}^{N_{1}}$}" in picture


def test_tikz_boxes_are_as_wide_as_the_names_tikz_shows():
    # LaTeX has no glyph for 重: it typesets \mathrm{u91cd}, five letters where the text has one
    import re

    from einderive.render.graph import tikz
    from einderive.render.layout import text_width
    d = derive_text("""
        dims: {N: 3}
        inputs: {重み: [N], x: [N]}
        forward:
          - 出力 = 重み * x
          - L = sum(出力)
        loss: L
    """)
    widths = {m[1]: float(m[0]) for m in re.findall(
        r"minimum width=([0-9.]+)pt, minimum height=[0-9.]+pt\] \((n\d)\)", tikz(d))}
    assert widths["n0"] >= text_width("u91cdu307f", 10.0)
    assert widths["n2"] >= text_width("u51fau529b = x ⊙ u91cdu307f", 10.0)


def test_a_gradient_that_cancels_to_a_constant_compiles_to_the_tensor_shape():
    # g = x − (a + x): ∂L/∂x expands to 0, whose code was np.reshape(0, np.shape(x)) (a crash);
    # the simplified sum of its contributions prints 0 as its matrix form, so the printed
    # closed form is that (none under it) and both the matrix form's code and the closed
    # forms' module compile the constant to x's shape
    import numpy as np

    from einderive.api import verify
    d = derive_text("""
        dims: {M: 2, N: 3}
        inputs: {a: [], x: [M, N]}
        forward:
          - h = a + x
          - g = x - h
          - L = sum(g * g)
        loss: L
    """)
    assert d.gradient("x").closed.matrix is not None
    report = verify(d)
    check = {c.name: c for c in report.checks}["x"]
    assert report.ok and check.matrix == "pass" and check.closed in ("pass", "none")
    from einderive.api import render
    namespace: dict = {}
    exec(render(d, "numpy"), namespace)  # noqa: S102 - our own generated code
    assert np.array_equal(namespace["gradients"](1.0, np.ones((2, 3)))["x"], np.zeros((2, 3)))
    if d.gradient("x").form.matrix != d.gradient("x").closed.matrix:
        from einderive.render.pymodule import closed_forms_module
        namespace = {}
        exec(closed_forms_module(d), namespace)  # noqa: S102 - our own generated code
        closed = namespace["closed_forms"](1.0, np.ones((2, 3)))
        assert np.array_equal(closed["x"], np.zeros((2, 3)))
