"""No option is silently ignored: each one does what it says, or is a usage error (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS

MLP = SPECS / "mlp.yaml"


@pytest.mark.parametrize("args, words", [
    (["--standalone"], "--standalone applies only to LaTeX"),
    (["--latex-env", "align*"], "--latex-env applies only to LaTeX"),
    (["-f", "markdown", "--standalone"], "--standalone applies only to LaTeX"),
    (["--latex", "-f", "json"], "--latex and --format json"),
    (["-f", "json", "--tree"], "--tree applies only to the text view"),
    (["-f", "markdown", "--tree"], "--tree applies only to the text view"),
    (["--latex", "--tree"], "--tree applies only to the text view"),
    (["-f", "numpy", "--steps"], "--steps has no place in generated code"),
    (["-f", "torch", "--expand"], "--expand has no place in generated code"),
])
def test_derive_refuses_options_it_would_ignore(run, args, words):
    result = run("derive", MLP, *args)
    assert result.exit_code == 2 and words in result.stderr and result.stdout == ""


def test_options_that_agree_are_accepted(run):
    assert run("derive", MLP, "--latex", "-f", "latex").exit_code == 0
    assert run("derive", MLP, "--latex", "--latex-env", "align*").exit_code == 0
    assert run("derive", MLP, "-f", "latex", "--standalone").exit_code == 0


def test_json_steps_add_each_adjoints_chain_rule(run):
    plain = json.loads(run("derive", MLP, "-f", "json").stdout)
    assert all("steps" not in a for a in plain["adjoints"])
    doc = json.loads(run("derive", MLP, "-f", "json", "--steps").stdout)
    y = next(a for a in doc["adjoints"] if a["tensor"] == "y")
    assert y["steps"] == [{"via": "e", "definition": "e = y_true - y", "lines": [
        {"text": "∂e_i/∂y_k = −δ_ik",
         "latex": "\\frac{\\partial e_{i}}{\\partial y_{k}} = -\\delta_{ik}"},
        {"text": "Σ_i ∂L/∂e_i ∂e_i/∂y_k = Σ_i (−δ_ik ∂L/∂e_i) = −∂L/∂e_k = −2 e_k",
         "latex": y["steps"][0]["lines"][1]["latex"]}]}]
    # the closed form is there with or without --expand
    x = next(a for a in doc["adjoints"] if a["tensor"] == "x")
    assert x["closed"]["matrix"].startswith("∂L/∂x = ")


def test_markdown_steps_under_each_adjoint_and_not_in_goldens(run):
    out = run("derive", MLP, "-f", "markdown", "--steps").stdout
    section = out[out.index("### ∂L/∂y"):out.index("### ∂L/∂z")]
    assert "via e = y_true - y\n  ∂e_i/∂y_k = −δ_ik\n" in section
    assert section.index("via e") < section.index("∂L/∂y_i = −2 e_i")
    golden = (SPECS / "golden" / "mlp.md").read_text()
    assert "\nvia " not in golden
    assert run("derive", MLP, "-f", "markdown").stdout == golden.replace("../mlp.yaml", "mlp.yaml")


def test_check_prune_without_update_is_refused(run, tmp_path):
    result = run("check", "--prune", SPECS)
    assert result.exit_code == 2 and "--prune deletes orphaned goldens only with --update" \
        in result.stderr


@pytest.mark.parametrize("tol", ["-1", "0", "nan", "inf"])
def test_verify_tolerance_must_be_positive(run, tol):
    result = run("verify", MLP, "--tol", tol)
    assert result.exit_code == 2 and "--tol" in result.stderr


def test_verify_seed_must_not_be_negative(run):
    result = run("verify", MLP, "--seed", "-1")
    assert result.exit_code == 2 and "--seed" in result.stderr and "internal" not in \
        result.stderr


def test_verify_dims_apply_to_the_specs_that_have_them(run):
    result = run("verify", SPECS, "--dims", "M=5")
    assert result.exit_code == 0 and "not a dim" not in result.stderr
    assert "mlp  (M=5, N=4" in result.stdout and "match finite differences" in result.stdout
    result = run("verify", SPECS, "--dims", "Q=5")
    assert result.exit_code == 2
    assert result.stderr.count("error:") == 1 and "'Q'" in result.stderr


def test_verify_names_an_unreadable_spec_and_does_not_claim_all_match(run, tmp_path):
    (tmp_path / "mlp.yaml").write_text(MLP.read_text())
    (tmp_path / "bad.yaml").write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n"
                                       "  - L = sum(foo(x))\nloss: L\n")
    result = run("verify", tmp_path)
    assert result.exit_code == 2
    assert "bad.yaml:4:" in result.stderr
    assert "all " not in result.stdout and "1 spec could not be checked" in result.stdout
    assert "bad.yaml" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("command", ["derive", "graph", "verify", "check"])
def test_debug_is_accepted_after_the_command(run, command):
    result = run(command, "--debug", MLP)
    assert result.exit_code in (0, 1), result.stderr
    assert "No such option" not in result.stderr


def test_debug_after_the_command_shows_the_traceback(run, monkeypatch):
    import einderive.api as api

    def crash(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(api, "derive_file", crash)
    quiet = run("derive", MLP)
    assert quiet.exit_code == 3 and "Traceback" not in quiet.stderr
    loud = run("derive", MLP, "--debug")
    assert loud.exit_code == 3 and "Traceback" in loud.stderr and "boom" in loud.stderr


def test_python_dash_m_einderive():
    proc = subprocess.run([sys.executable, "-m", "einderive", "derive", str(MLP)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "∂L/∂W    = ∂L/∂z xᵀ" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "einderive", "--help"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: einderive ")


def test_verify_of_a_folder_without_specs_is_an_error_not_a_pass(run, tmp_path):
    result = run("verify", tmp_path)
    assert result.exit_code == 2 and "no spec files" in result.stderr


def test_check_of_a_folder_without_specs_is_an_error_not_a_pass(run, tmp_path):
    result = run("check", tmp_path)
    assert result.exit_code == 2 and "no spec files" in result.stderr
    assert "passed" not in result.stdout


def test_verify_dims_given_twice_is_an_error(run):
    result = run("verify", MLP, "--dims", "M=5,M=7")
    assert result.exit_code == 2 and "--dims gives 'M' twice" in result.stderr


def test_json_closed_index_is_the_closed_forms_or_none(run, tmp_path):
    """closed.index is the closed form's own index form (no upstream adjoint in it), read back
    to autograd's values; a closed form built at the matrix level (the GRU's ∂L/∂X, whose
    index form is too large to build) has none: it was the chain form's, another formula."""
    import torch_reference as R
    from test_literature import RELU_MLP
    from test_printed_forms import env_for

    from einderive.api import derive_file
    gru = json.loads(run("derive", SPECS / "gru_cell.yaml", "-f", "json").stdout)
    x = next(a for a in gru["adjoints"] if a["tensor"] == "X")
    assert x["closed"]["index"] is None and x["closed"]["latex"]["index"] is None
    assert x["closed"]["matrix"].startswith("∂L/∂X = (G ⊙ Zg ⊙ (1 − Zg)") and x["closed"]["where"]
    spec = tmp_path / "relu_mlp.yaml"
    spec.write_text(RELU_MLP)
    doc = json.loads(run("derive", spec, "-f", "json").stdout)
    d = derive_file(str(spec))
    env = env_for(d, R.reference(d.graph, seed=1))
    b1 = next(a for a in doc["adjoints"] if a["tensor"] == "b1")["closed"]
    assert b1["index"] == "∂L/∂b1_k = (1/B) Σ_i 𝟙[b1_k + Σ_j X_ij W1_jk > 0] Σ_l (Z2_il − Y_il) W2_kl"
    for line in (b1["index"], b1["matrix"]):
        assert "∂L/∂A1" not in line
        env.check(line)
