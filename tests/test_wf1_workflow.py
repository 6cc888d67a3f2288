"""Workflow finds of the new user's hunt nu51: what a command does to the user's files and
names (an -o naming the spec, an input named ``self``, a user's file where a golden would
be), a long flat sum, and LaTeX's reading of < > " in a description."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import SPECS

SPEC = SPECS / "mlp.yaml"


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "mlp.yaml"
    shutil.copy(SPEC, path)
    return path


@pytest.mark.parametrize("args", [
    ("derive",), ("derive", "-f", "latex"), ("derive", "-f", "markdown"),
    ("derive", "-f", "json"), ("derive", "-f", "html"), ("derive", "-f", "numpy"),
    ("derive", "-f", "torch"), ("graph",), ("graph", "-f", "svg"), ("graph", "-f", "dot"),
    ("cost",), ("cost", "-f", "json")], ids=" ".join)
@pytest.mark.parametrize("name", ["same", "dot-slash", "symlink", "hard link"])
def test_o_never_overwrites_the_spec_being_read(run, spec, monkeypatch, args, name):
    """`derive SPEC -o SPEC` replaced the user's spec by its derivation, exit 0 (nu51 1)."""
    monkeypatch.chdir(spec.parent)
    out = {"same": "mlp.yaml", "dot-slash": "./mlp.yaml", "symlink": "link.yaml",
           "hard link": "hard.yaml"}[name]
    if name == "symlink":
        os.symlink("mlp.yaml", "link.yaml")
    if name == "hard link":
        os.link("mlp.yaml", "hard.yaml")
    before = spec.read_bytes()
    result = run(args[0], "mlp.yaml", *args[1:], "-o", out)
    assert result.exit_code == 2, result.output
    assert f"{out}: error: -o would overwrite the spec being read" in result.stderr
    assert "hint: write the output to another file; mlp.yaml is the spec" in result.stderr
    assert spec.read_bytes() == before and result.stdout == ""


def test_o_through_a_symlinked_spec_and_to_another_file_still_writes(run, spec, monkeypatch):
    monkeypatch.chdir(spec.parent)
    os.symlink("mlp.yaml", "link.yaml")
    before = spec.read_bytes()
    assert run("derive", "link.yaml", "-o", "mlp.yaml").exit_code == 2
    assert run("cost", "link.yaml", "-o", "link.yaml").exit_code == 2
    assert spec.read_bytes() == before
    assert run("derive", "link.yaml", "-o", "out.txt").exit_code == 0
    assert "∂L/∂W" in (spec.parent / "out.txt").read_text()
    assert run("derive", "mlp.yaml", "-o", "-").exit_code == 0


NAMES = ("self", "cls", "args", "kwargs", "fn", "inputs", "forward", "name", "scope")


def _names_spec(tmp_path):
    terms = " + ".join(f"{n} * x" for n in NAMES)
    path = tmp_path / "names.yaml"
    path.write_text("dims: {N: 3}\n"
                    f"inputs: {{x: [N], {', '.join(f'{n}: [N]' for n in NAMES)}}}\n"
                    f"forward:\n  - z = tanh({terms})\n  - L = sum(z * z)\nloss: L\n")
    return path


@pytest.mark.parametrize("extra", [(), ("--hvp",)], ids=" ".join)
def test_inputs_named_like_python_parameters_verify(run, tmp_path, extra):
    """An input named self: verify's call of the generated code raised TypeError 'got
    multiple values for argument self', exit 3 (nu51 4)."""
    result = run("verify", _names_spec(tmp_path), *extra)
    assert result.exit_code == 0, result.output
    assert "match finite differences" in result.stdout


def test_inputs_named_like_python_parameters_in_generated_code(tmp_path):
    import numpy as np
    from test_codegen import _function, _torch_inputs, load, torch

    from einderive import derive
    from einderive.api import render, torch_module
    d = derive(_names_spec(tmp_path))
    module = load(tmp_path, render(d, "numpy"))
    rng = np.random.default_rng(0)
    values = {n: rng.standard_normal(3) for n in ("x", *NAMES)}
    loss, grads = module.forward(**values), module.gradients(**values)
    assert np.isfinite(loss) and set(grads) == {"x", *NAMES}
    if torch is not None:
        fn = _function(load(tmp_path, torch_module(d)))
        assert torch.autograd.gradcheck(fn.apply, tuple(_torch_inputs(d)))


def test_the_generated_functions_take_any_name_as_a_keyword():
    from einderive.compiled import Pieces

    class F:
        name, params, body, result = "f", ("self", "kwargs"), ("y = self + kwargs",), "y"
    assert Pieces(F(), {}, "<test>")(self=1, kwargs=2) == 3


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A spec whose golden folder is the user's docs/, which holds the user's notes."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "docs").mkdir()
    shutil.copy(SPEC, tmp_path / "specs" / "notes.yaml")
    (tmp_path / "docs" / "notes.md").write_text("# my notes\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("extra", [(), ("--update",), ("--update", "--prune")], ids=" ".join)
def test_check_never_touches_a_file_that_is_not_a_golden(run, proj, extra):
    """check --update overwrote the user's docs/notes.md (no golden header) with the
    golden of specs/notes.yaml (nu51 5)."""
    result = run("check", *extra, "--golden-dir", "docs", "specs")
    assert result.exit_code == 2, result.output
    assert ("error: docs/notes.md is not a golden einderive wrote (it does not begin with "
            "'<!-- einderive golden')") in result.stderr
    assert "hint: move or rename that file, or keep the goldens in another folder with " \
        "--golden-dir" in result.stderr
    assert (proj / "docs" / "notes.md").read_text() == "# my notes\n"
    assert "changed" not in result.stdout and "written" not in result.stdout


def test_check_update_still_rewrites_a_stale_golden(run, proj):
    (proj / "docs" / "notes.md").unlink()
    assert run("check", "--update", "--golden-dir", "docs", "specs").exit_code == 0
    golden = proj / "docs" / "notes.md"
    golden.write_text(golden.read_text().replace("# mlp", "# old"))
    result = run("check", "--update", "--golden-dir", "docs", "specs")
    assert result.exit_code == 0 and "written: docs/notes.md" in result.stdout
    assert run("check", "--golden-dir", "docs", "specs").exit_code == 0


def _flat(terms: list[str], multiline: bool = False) -> str:
    if not multiline:
        return ("dims: {N: 3}\ninputs: {x: [N], y: [N]}\nforward:\n"
                f"  - L = sum({' '.join(terms)})\nloss: L\n")
    rows = [" ".join(terms[k:k + 400]) for k in range(0, len(terms), 400)]
    return ("dims: {N: 3}\ninputs: {x: [N], y: [N]}\nforward:\n  - >-\n    L = sum(\n" +
            "\n".join("      " + r for r in rows) + ")\nloss: L\n")


def _grad(text: str, name: str) -> str:
    from conftest import derive_text, forms
    return forms(derive_text(text), name)[1]


def test_a_flat_sum_of_many_terms_is_not_deep_nesting():
    """A sum of 100 terms was refused as 'nested more than 100 levels deep' (nu51 6)."""
    terms = [f"x * {i}" if i == 0 else f"{'+' if i % 3 else '-'} x * {i}" for i in range(150)]
    want = sum(i if i % 3 or i == 0 else -i for i in range(150))
    assert _grad(_flat(terms), "x") == f"{want} 𝟏"
    product = ["x"] + ["* y"] * 120
    assert _grad(_flat(product), "x") == "y^∘120"


def test_a_flat_sum_of_5000_terms_derives():
    """As deep as Python's parser nests it (one level a term), and every pass after it."""
    terms = ["x * 0"] + [f"+ x * {i}" for i in range(1, 5000)]
    assert _grad(_flat(terms, multiline=True), "x") == f"{4999 * 5000 // 2} 𝟏"


def test_deep_nesting_is_refused_with_a_caret_at_its_place(tmp_path, run):
    path = tmp_path / "deep.yaml"
    path.write_text(_flat(["tanh(" * 150 + "x" + ")" * 150 + " + y"]))
    result = run("derive", path)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}:4:503: error: the expression is nested more than 100 " \
        "levels deep"
    shown, caret = lines[1][4:], lines[2][4:]
    assert shown.startswith("…tanh(tanh(") and shown.endswith("…") and len(shown) == 202
    assert caret == " " * 101 + "^" and shown[101:106] == "tanh("


DESCRIPTION = 'a "quote" <b>bold</b> | x & } { \\\\ % $ # _ ^ ~ ("b")'


def test_latex_escapes_what_the_default_text_font_misreads():
    """< > " | in a description were left as they are, which the OT1 text font sets as
    ¡ ¿ ” — (nu51 7)."""
    from einderive.render.latex import latex_text
    assert latex_text(DESCRIPTION) == (
        r"a ``quote'' \textless{}b\textgreater{}bold\textless{}/b\textgreater{} \textbar{} x "
        r"\& \} \{ \textbackslash{}\textbackslash{} \% \$ \# \_ \^{} \~{} (``b'')")
    assert latex_text("a — b – c “d” ‘e’") == "a --- b -- c ``d'' `e'"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_description_compiles_and_reads_as_written(tmp_path):
    import json
    import subprocess

    from conftest import derive_text
    from einderive import api
    d = derive_text(f"""
        dims: {{N: 3}}
        inputs: {{x: [N]}}
        forward: [L = sum(x * x)]
        loss: L
        description: {json.dumps(DESCRIPTION)}
        """)
    (tmp_path / "d.tex").write_text(api.render(d, "latex", standalone=True))
    done = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "d.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    if shutil.which("mutool"):
        text = subprocess.run(["mutool", "draw", "-F", "txt", "d.pdf"], cwd=tmp_path,
                              capture_output=True, text=True).stdout
        assert 'a “quote” <b>bold</b> | x & } { \\\\ % $ #' in text and "(“b”)" in text
