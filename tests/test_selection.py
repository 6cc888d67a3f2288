"""Selection for every format (issue 13 item 3): ``--only`` and ``--node`` keep the same
sections, forms and nodes in the terminal, LaTeX, Markdown and JSON, because they filter
the presentation model (render/sheet.py) that every layout reads."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SPECS

MLP = SPECS / "mlp.yaml"
LAYERNORM = SPECS / "layernorm.yaml"


def out(run, *args) -> str:
    r = run("derive", *args)
    assert r.exit_code == 0, r.output
    return r.output


def test_only_gradients_shows_the_gradients_alone_in_every_format(run):
    text = out(run, MLP, "--only", "gradients")
    assert "Gradients" in text and "Forward" not in text and "Backward" not in text
    assert "grad(W) = ∂L/∂z xᵀ" in text
    tex = out(run, MLP, "--latex", "--only", "gradients")
    assert r"\nabla_{W} L &= \frac{\partial L}{\partial z} x^{\top}" in tex
    assert r"\frac{\partial L}{\partial W}" not in tex
    md = out(run, MLP, "-f", "markdown", "--only", "gradients")
    assert "## Gradients" in md and "## Backward" not in md and "## Forward" not in md
    doc = json.loads(out(run, MLP, "-f", "json", "--only", "gradients"))
    assert doc["adjoints"] == [] and [g["tensor"] for g in doc["gradients"]] == ["W", "x"]
    assert [t["name"] for t in doc["tensors"]] == ["W", "x", "y_true"]  # the inputs only


def test_only_forward(run):
    text = out(run, MLP, "--only", "forward")
    assert "Forward" in text and "Backward" not in text and "Gradients" not in text
    tex = out(run, MLP, "--latex", "--only", "forward")
    assert "z &= W x" in tex and r"\partial" not in tex


def test_only_matrix_and_only_index_choose_the_form(run):
    matrix = out(run, MLP, "--only", "matrix")
    assert "∂L/∂W = ∂L/∂z xᵀ" in matrix and "∂L/∂W_ij" not in matrix
    index = out(run, MLP, "--only", "index")
    assert "∂L/∂W_ij = ∂L/∂z_i x_j" in index and "∂L/∂W  " not in index
    assert "xᵀ" not in index
    tex = out(run, MLP, "--latex", "--only", "index")
    assert r"\frac{\partial L}{\partial W_{ij}}" in tex and r"x^{\top}" not in tex


def test_only_steps_and_node(run):
    text = out(run, LAYERNORM, "--only", "steps", "--node", "mu")
    assert "via Xc = X - mu" in text and "∂L/∂mu_i" in text
    assert re.findall(r"^  (\S+) +=", text, re.M) == ["∂L/∂mu_i", "∂L/∂mu"]
    assert "Forward" not in text and "Gradients" not in text


def test_node_keeps_that_tensors_rows_everywhere(run):
    text = out(run, MLP, "--node", "W", "--node", "z")
    assert re.findall(r"^  (\S+) +=", text, re.M) == [
        "z_i", "z", "∂L/∂z_i", "∂L/∂z", "∂L/∂W_ij", "∂L/∂W", "grad(W)"]
    doc = json.loads(out(run, MLP, "-f", "json", "--node", "W"))
    assert [a["tensor"] for a in doc["adjoints"]] == ["W"]
    assert [g["tensor"] for g in doc["gradients"]] == ["W"]


def test_unknown_node_is_a_usage_error_listing_the_nodes(run):
    r = run("derive", MLP, "--node", "Q")
    assert r.exit_code == 2
    assert "no tensor 'Q'" in r.output and "W, x, y_true, z, y, e, L" in r.output


def test_selection_refused_for_generated_code(run):
    r = run("derive", MLP, "-f", "numpy", "--only", "gradients")
    assert r.exit_code == 2 and "not generated code" in r.output


def test_align_numbers_each_node_with_a_stable_label(run):
    tex = out(run, LAYERNORM, "--latex", "--latex-env", "align")
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    assert labels == [f"eq:layernorm-{n}" for n in ("Y", "Xhat", "std", "var", "Xc", "mu",
                                                    "X", "gamma", "beta")]
    # one number per node: every other line of the node is \notag
    body = tex.split("\\begin{align}")[1].split("\\end{align}")[0]
    lines = [ln for ln in body.strip().split("\\\\\n")]
    assert all(("\\label" in ln) != ("\\notag" in ln) for ln in lines)
    again = out(run, LAYERNORM, "--latex", "--latex-env", "align", "--node", "std")
    assert re.findall(r"\\label\{([^}]*)\}", again) == ["eq:layernorm-std"]


def test_align_labels_forward_and_gradients_apart_from_adjoints(run):
    tex = out(run, MLP, "--latex", "--latex-env", "align", "--only", "forward",
              "--only", "gradients", "--node", "z", "--node", "W")
    assert re.findall(r"\\label\{([^}]*)\}", tex) == ["eq:mlp-z-forward", "eq:mlp-W-gradient"]


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown", "json"])
def test_selection_is_deterministic(run, fmt):
    args = (LAYERNORM, "-f", fmt, "--only", "matrix", "--node", "Xc")
    assert out(run, *args) == out(run, *args)
