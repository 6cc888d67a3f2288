"""The command line: help everywhere, exit codes, files written atomically, stdin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, SPECS

COMMANDS = ["derive", "graph", "cost", "verify", "check"]


def test_the_command_list_is_every_command():
    # a new command is in COMMANDS (so its help is tested) or this fails
    from einderive.cli import main
    assert sorted(COMMANDS) == sorted(main.commands)


@pytest.mark.parametrize("command", [None] + COMMANDS)
def test_every_command_has_help_with_an_example(run, command):
    args = ([command] if command else []) + ["-h"]
    result = run(*args)
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and "Example:" in result.stdout


def test_version(run):
    from einderive import __version__
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_help_and_version_import_neither_sympy_nor_numpy():
    code = ("import sys\nfrom einderive.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['derive', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sympy', 'numpy', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_derive_prints_the_seed_derivation(run):
    result = run("derive", SPECS / "mlp.yaml")
    assert result.exit_code == 0
    out = result.stdout
    for line in ["∂L/∂y_i  = −2 e_i", "∂L/∂z_i  = ∂L/∂y_i σ'(z_i)", "∂L/∂W_ij = ∂L/∂z_i x_j",
                 "∂L/∂W    = ∂L/∂z xᵀ", "∂L/∂x_j  = W_ij ∂L/∂z_i", "∂L/∂x    = Wᵀ ∂L/∂z",
                 "grad(W) = ∂L/∂z xᵀ", "grad(x) = Wᵀ ∂L/∂z", "where σ'(z) = y ⊙ (1 − y)"]:
        assert line in out, line
    assert "\x1b[" not in out  # no escape codes when not a terminal


def test_derive_output_fits_80_columns_and_has_no_trailing_blanks(run):
    from einderive.render.names import cells
    for spec in SPECS.glob("*.yaml"):
        out = run("derive", spec, "--steps", "--expand", "--tree").stdout
        lines = [ln for ln in out.splitlines() if not ln.startswith(("├", "│", "└", " "))
                 or "──" not in ln]
        # columns on screen: X̂'s combining accent takes none
        assert all(cells(ln) <= 80 for ln in lines if "  " in ln[:4] or not ln.strip()), spec
        assert all(ln == ln.rstrip() for ln in out.splitlines() if "──" not in ln), spec


def test_inputs_line_wraps_at_80_columns_under_the_first_input(run):
    """A model of many inputs had one Inputs line of 114 columns (more14's differential
    attention); it wraps as the description does, each input whole, under the first."""
    from einderive.render.names import cells
    spec = SPECS.parent / "tests" / "models" / "more14" / "differential_attention.yaml"
    out = run("derive", spec).stdout.splitlines()
    at = next(n for n, ln in enumerate(out) if ln.startswith("Inputs: "))
    assert out[at] == "Inputs: X (T×D), Wq1 (D×Dh), Wk1 (D×Dh), Wq2 (D×Dh), Wk2 (D×Dh), Wv (D×D),"
    assert out[at + 1] == "        lq1 (Dh), lk1 (Dh), lq2 (Dh), lk2 (Dh)"
    assert all(cells(ln) <= 80 for ln in out[at:at + 2])


def test_derive_reads_standard_input(run):
    result = run("derive", "-", "--format", "json", input=(SPECS / "mlp.yaml").read_text())
    assert result.exit_code == 0
    import json
    doc = json.loads(result.stdout)
    assert doc["spec"]["path"] == "<stdin>" and doc["spec"]["name"] == "mlp"


def test_output_file_is_written_whole(run, tmp_path):
    out = tmp_path / "mlp.tex"
    result = run("derive", SPECS / "mlp.yaml", "--latex", "--standalone", "-o", out)
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text()
    assert text.startswith("\\documentclass") and text.endswith("\\end{document}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.tex"]


def test_text_to_a_file_is_plain(run, tmp_path):
    out = tmp_path / "mlp.txt"
    assert run("derive", SPECS / "mlp.yaml", "-o", out).exit_code == 0
    text = out.read_text()
    assert "∂L/∂W    = ∂L/∂z xᵀ" in text and "\x1b" not in text


def test_no_color_and_a_terminal(tmp_path):
    import io

    from rich.console import Console

    from einderive import derive
    from einderive.render.terminal import rich_derivation
    d = derive(SPECS / "mlp.yaml")
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system="standard")
    for r in rich_derivation(d, options=console.options):
        console.print(r)
    assert "\x1b[" in buf.getvalue()
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, no_color=True)
    for r in rich_derivation(d, options=console.options):
        console.print(r)
    assert "\x1b[3" not in buf.getvalue()  # no colour codes


def test_verify_passes_on_every_shipped_spec(run):
    result = run("verify", *sorted(SPECS.glob("*.yaml")))
    assert result.exit_code == 0
    assert "FAIL" not in result.stdout and "match finite differences" in result.stdout


def test_verify_options(run):
    result = run("verify", SPECS / "attention.yaml", "--dims", "N=5,M=7", "--seed", "3")
    assert result.exit_code == 0 and "N=5" in result.stdout and "seed 3" in result.stdout
    result = run("verify", SPECS / "attention.yaml", "--dims", "Q=5")
    assert result.exit_code == 2 and "not a dim" in result.stderr
    result = run("verify", SPECS / "attention.yaml", "--dims", "N=x")
    assert result.exit_code == 2 and "NAME=SIZE" in result.stderr


def test_verify_catches_a_wrong_formula(monkeypatch):
    """A deliberately wrong matrix form (a test-only mutation) fails verify."""
    from einderive import derive
    from einderive import matrix as mx
    from einderive.record import replace
    from einderive.api import verify
    d = derive(SPECS / "mlp.yaml")
    a = d.adjoint("x")
    wrong = replace(a.form, matrix=mx.neg(a.form.matrix))  # Wᵀ ∂L/∂z -> −Wᵀ ∂L/∂z
    adjoints = tuple(replace(x, form=wrong, closed=None) if x.name == "x" else x
                     for x in d.adjoints)
    gradients = tuple(replace(g, closed=None) for g in d.gradients)
    broken = replace(d, adjoints=adjoints, gradients=gradients)
    report = verify(broken)
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["x"]


def test_verify_reports_a_domain_problem(run, tmp_path):
    spec = tmp_path / "log.yaml"
    spec.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n  - y = x - 5\n"
                    "  - L = sum(log(y))\nloss: L\n")
    result = run("verify", spec)
    assert result.exit_code == 1
    assert "could not check" in result.stdout and "positive" in result.stdout


def test_graph_formats(run):
    for fmt, start in (("mermaid", "flowchart"), ("dot", "digraph"), ("tikz", "%")):
        result = run("graph", SPECS / "mlp.yaml", "--format", fmt)
        assert result.exit_code == 0 and result.stdout.startswith(start)


def test_exit_code_2_for_bad_usage(run):
    result = run("derive")
    assert result.exit_code == 2
    result = run("derive", SPECS / "mlp.yaml", "--format", "pdf")
    assert result.exit_code == 2


def test_console_script_runs_from_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "einderive.cli", "derive",
                           str(SPECS / "bilinear.yaml")], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0 and "∂L/∂A    = x yᵀ" in proc.stdout
