"""A stack's count dim prints as its number (issue 12: no internal name on the page).

``stack([...], axis=k)`` makes an axis whose dim the graph defines as the count and names
n2, n3 … (graph.count_dim; tests/test_stack.py).  The user wrote no such name, so every
output writes the number: ``slice(∂L/∂C, :, 2:NM)``, ``∂L/∂C_{i, j + 2}``, ``(1/3) Σ_l``,
shapes ``B×2``, the hint ``dims: {NM1: K + 2}``; in text, LaTeX, MathML, Markdown, JSON, the
generated code, the graph, the cost table and verify's report.  A dim the spec defines for
the count (``P: "2"``) is the user's name and stays.  Each form verifies."""

from __future__ import annotations

import re
import textwrap

import pytest

from conftest import assert_spec_error, derive_text
from einderive.api import cost_table, render, render_cost, verify

CONCAT = """\
    name: stackcat
    dims: {B: 3, K: 4, NM: "K + 2"}
    inputs: {a: [B], b: [B], Y: [B, K], T: [B, NM]}
    forward:
      - S = stack([a, tanh(b)], axis=1)
      - C = concatenate([S, Y], axis=1)
      - L = sum((C - T) ** 2)
    loss: L
    wrt: [a, b, Y]
    """
# two copies of the stack: the second piece starts at 2·n2, which is 4 (never "2 2")
TWICE = CONCAT.replace('NM: "K + 2"', 'NM: "K + 4"').replace("[S, Y]", "[S, S, Y]")
SLICED = """\
    name: stack_slice
    dims: {B: 3, D: 4, M: "2"}
    inputs: {x: [B, D], w: [D]}
    forward:
      - S = stack([x, tanh(x), x * x], axis=0)
      - U = S[1:]
      - L = sum(U * U) + sum(mean(S, axis=0) @ w)
    loss: L
    """
SPECS = {"stack and concatenate": CONCAT, "a stack concatenated twice": TWICE,
         "a stack sliced and averaged": SLICED}


def count_names(d) -> list[str]:
    return [x.name for x in d.graph.spec.dims if x.counted]


def spelled(name: str) -> list[re.Pattern[str]]:
    """How a count dim would show: n2 (text, code), n_{2} (LaTeX), n with a subscript 2
    (MathML)."""
    m = re.fullmatch(r"n(\d+)_*", name)
    assert m, name
    return [re.compile(rf"(?<![\w\\]){re.escape(name)}(?!\w)"),
            re.compile(rf"n_\{{{m.group(1)}\}}"),
            re.compile(rf"<mi>n</mi></mrow><mrow><mn>{m.group(1)}</mn>")]


def named(text: str, names: list[str]) -> list[str]:
    return [ln.strip() for n in names for p in spelled(n) for ln in text.splitlines()
            if p.search(ln)]


def every_output(d) -> dict[str, str]:
    from einderive.render.terminal import Options, plain
    out = {"text --expand": plain(d, Options(expand=True)),
           "text --steps": plain(d, Options(steps=True))}
    for fmt in ("latex", "markdown", "json", "html", "numpy", "torch"):
        out[fmt] = render(d, fmt, expand=True, steps=True)
    # the graph's mermaid block names its vertices n0, n1 … (ids no reader sees): its labels
    # are checked by test_shapes_notes_and_dims_list_write_the_count
    out["markdown"] = re.sub(r"```mermaid.*?```", "", out["markdown"], flags=re.S)
    table = cost_table(d)
    out["cost"] = render_cost(d, table, "text") + render_cost(d, table, "json")
    return out


@pytest.mark.parametrize("text", SPECS.values(), ids=SPECS.keys())
def test_no_output_names_a_stacks_count_dim(text):
    d = derive_text(textwrap.dedent(text))
    names = count_names(d)
    assert names, "the spec makes a count dim"
    bad = [f"{what}: {ln}" for what, out in every_output(d).items() for ln in named(out, names)]
    assert not bad, "\n".join(bad[:10])
    report = verify(d)
    assert report.ok, report.error
    assert not set(report.sizes) & set(names), report.sizes


def test_the_check_finds_a_count_dim():
    assert named("  ∂L/∂Y    = slice(∂L/∂C, :, n2:K + n2)", ["n2"])
    assert named(r"\operatorname{slice}(C, :, 0:n_{2})", ["n2"])
    assert named("<msub><mrow><mi>n</mi></mrow><mrow><mn>2</mn></mrow></msub>", ["n2"])
    assert named("S (B×n3_)", ["n3_"])
    assert not named("  n2    = f2 ⊙ n1 + i2", ["n3"])  # a tensor of the user's named n2


def test_the_forms_write_the_count():
    d = derive_text(textwrap.dedent(CONCAT))
    text = every_output(d)["text --expand"]
    for line in ("C_ik = S_{i, k} 𝟙[0 ≤ k < 2] + Y_{i, k − 2} 𝟙[2 ≤ k < K + 2]",
                 "C    = pad(S, 0:2, axis=1) + pad(Y, 2:NM, axis=1)",
                 "∂L/∂S    = 2 (S − slice(T, :, 0:2))",
                 "∂L/∂Y_ij = ∂L/∂C_{i, j + 2}",
                 "∂L/∂Y    = slice(∂L/∂C, :, 2:NM)"):
        assert line in text, text
    latex = every_output(d)["latex"]
    assert r"\operatorname{slice}\left(\frac{\partial L}{\partial C}, :, 2:\mathrm{NM}\right)" in latex
    d = derive_text(textwrap.dedent(TWICE))
    assert "∂L/∂Y    = slice(∂L/∂C, :, 4:NM)" in every_output(d)["text --expand"]


def test_shapes_notes_and_dims_list_write_the_count(run, tmp_path):
    d = derive_text(textwrap.dedent(SLICED))
    out = every_output(d)
    assert "(1/3) Σ_l colsum(S_l)" in out["text --expand"], out["text --expand"]
    assert "the batch axis of the 3 stacked pieces" in out["text --expand"]
    assert "3 (index <i>l</i>)" in out["html"]
    import json
    doc = json.loads(out["json"])
    assert {"name": "3", "size": 3, "index": "l"} in doc["dims"], doc["dims"]
    assert next(t for t in doc["tensors"] if t["name"] == "S")["shape"] == [3, "B", "D"]
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(CONCAT), encoding="utf-8")
    r = run("graph", str(path))  # the labels: S's shape, the slice's bounds (ids are n0 …)
    labels = " ".join(re.findall(r'"[^"]*"', r.output))
    assert r.exit_code == 0 and "B×2" in labels and "2:NM" in labels, r.output
    assert not named(labels, ["n2"]), r.output
    r = run("verify", str(path))
    assert r.exit_code == 0 and "(B=3, K=4, NM=6; seed" in r.output, r.output


STACKED = """\
    dims: {N: 4}
    inputs: {x: [N], y: [N]}
    forward:
      - S = stack([x, y])
      - L = BODY
    loss: L
    """


@pytest.mark.parametrize("body, message, hint", [
    ("sum(inv(S))", "inv needs a square matrix, not one of shape (2, N)", ""),
    ("sum(diag(S))", "diag takes a vector, not a tensor of shape (2, N)", ""),
    ("sum(S @ S)", "shapes (2, N) and (2, N) do not match", "second-to-last axis of the right (2)"),
    # the sizes as a spec writes them: N·N, never SymPy's N**2 with its stars replaced
    ("sum(reshape(S, [N, N]))", "cannot reshape (2, N) into (N, N): 2·N elements are not N·N",
     ""),
    ("S", "the loss 'L' has shape (2, N)", ""),
])
def test_every_message_that_writes_a_shape_writes_the_count(body, message, hint):
    """Not only a shape mismatch: each message the graph's checks write with a stacked
    shape in it (the shapes are formatted with the count dims named as numbers, never a
    message rewritten after it is made)."""
    assert_spec_error(STACKED.replace("BODY", body), "", message, hint)


def test_the_users_own_count_dim_keeps_its_name():
    d = derive_text(textwrap.dedent(CONCAT.replace('NM: "K + 2"', 'P: "2", NM: "K + P"')))
    assert count_names(d) == []
    text = every_output(d)["text --expand"]
    assert "∂L/∂Y    = slice(∂L/∂C, :, P:NM)" in text, text
    assert verify(d).ok


def test_errors_write_the_count():
    # the joined axis' size, and the hint's definition of it
    assert_spec_error(CONCAT.replace('"K + 2"', "6"), "6:", "the joined axis has K + 2 "
                      "elements, which no dim is", "dims: {NM1: K + 2}")
    # a shape mismatch with the stacked axis: (B, 2), and the matmul's axis (2)
    assert_spec_error(CONCAT.replace("sum((C - T) ** 2)", "sum(S @ T)").replace(
        "concatenate([S, Y], axis=1)", "S"), "", "shapes (B, 2) and (B, NM) do not match",
        "the last axis of the left operand (2)")
