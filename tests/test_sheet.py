"""The presentation model: one sheet per notation, which every layout shows as it is."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SPEC_FILES, derive_text
from einderive import api
from einderive.record import Record, fields
from einderive.render import sheet as S
from einderive.render.styles import Latex
from einderive.render.terminal import Options, plain


@pytest.fixture(scope="module", params=SPEC_FILES, ids=lambda p: p.stem)
def derived(request):
    return api.derive_file(request.param)


def test_every_layout_shows_the_sheets_formulas(derived):
    d = derived
    text, tex = S.both(d)
    assert [a.name for a in text.adjoints] == [a.name for a in d.adjoints if a.name != d.loss]
    terminal = plain(d, Options(expand=True), width=10_000)  # no wrapping: whole formulas
    markdown = api.render(d, "markdown")
    doc = json.loads(api.render(d, "json"))
    for row, x in zip(text.adjoints, tex.adjoints):
        assert row.formula.matrix is not None
        shown = f"{row.formula.lhs_matrix} = {row.formula.matrix}"
        aligned = re.escape(row.formula.lhs_matrix) + " *= " + re.escape(row.formula.matrix)
        assert re.search(aligned, terminal) and re.search(aligned, markdown)
        entry = next(a for a in doc["adjoints"] if a["tensor"] == row.name)
        assert entry["matrix"] == shown
        assert entry["latex"]["matrix"] == f"{x.formula.lhs_matrix} = {x.formula.matrix}"
        if row.closed is not None:
            assert f"closed form: {row.closed.rhs}" in markdown
    for g in text.gradients:
        assert f"{g.label} = {g.rhs}" in markdown
        assert g.name in d.graph.wrt  # the input itself, not read back out of 'grad(W)'


def test_a_gradient_row_names_its_input_and_its_indices():
    from einderive.record import replace
    d = derive_text("""
        dims: {N: 3, M: 2}
        inputs: {W: [M, N], x: [N], u: [N]}
        forward:
          - z = W @ x
          - L = sum(z * z)
        loss: L
        wrt: [W, x, u]
    """)
    grads = tuple(replace(g, form=replace(g.form, matrix=None)) if g.name == "W" else g
                  for g in d.gradients)
    sheet = S.build(replace(d, gradients=grads), Latex)
    w, x, u = sheet.gradients
    assert (w.name, w.label) == ("W", "\\left(\\nabla_{W} L\\right)_{ji}")
    assert w.formula is not None and w.formula.matrix is None and w.rhs == w.formula.index
    assert (x.name, x.label, u.name, u.zero, u.rhs) == ("x", "\\nabla_{x} L", "u", True, "0")


def test_a_sheet_is_frozen_and_holds_only_text(derived):
    sheet = S.build(derived, steps=True, terms=True, full=True)
    with pytest.raises(AttributeError):
        sheet.name = "other"  # type: ignore[misc]

    def strings(value) -> bool:
        if isinstance(value, (str, bool, int)) or value is None:
            return True
        if isinstance(value, tuple):
            return all(strings(v) for v in value)
        return isinstance(value, Record) and all(
            strings(getattr(value, name)) for name in fields(value))
    assert strings(sheet)  # printed pieces, not SymPy trees for a layout to print


def test_contributions_only_where_a_layout_asks_for_them(derived):
    plain_sheet, pictured, full = (S.build(derived), S.build(derived, terms=True),
                                   S.build(derived, terms=True, full=True))
    assert all(a.terms == () and a.steps == () for a in plain_sheet.adjoints)
    for a, b in zip(pictured.adjoints, full.adjoints):
        assert [(t.lhs, t.rhs) for t in a.terms] == [(t.lhs, t.rhs) for t in b.terms]
        assert all(t.formula is None for t in a.terms)
        assert all(t.formula is not None and t.formula.rhs == t.rhs for t in b.terms)


def test_the_engine_objects_hold_no_view_and_the_api_shows_them():
    from einderive import derivation
    d = api.derive_file("specs/mlp.yaml")
    g = d.gradient("W")
    assert not any(hasattr(g, a) for a in ("matrix_form", "index_form", "latex", "_d"))
    assert not hasattr(derivation.Derivation, "_repr_latex_")
    shown = api.shown(d).gradient("W")
    assert isinstance(shown, derivation.Gradient) and shown.form is g.form
    assert shown.matrix_form == "∂L/∂z xᵀ" and shown.index_form == "∂L/∂z_i x_j"


def test_the_torch_module_is_derived_by_the_api_not_by_code_generation():
    from einderive.render.pymodule import torch_module
    d = derive_text("""
        dims: {N: 3}
        inputs: {x: [N], t: [N]}
        forward: [L = sum((x - t) * (x - t))]
        loss: L
        wrt: [x]
    """)
    with pytest.raises(ValueError, match="every input"):
        torch_module(d)
    module = api.torch_module(d)  # backward returns t's gradient too: autograd may ask
    assert "(torch.autograd.Function)" in module and "ctx.needs_input_grad[1]" in module
