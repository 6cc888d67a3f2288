"""Integer inputs (issue 15 item 5): an embedding lookup E[tokens], one element per row
Z[range(B), labels], cross-entropy with integer labels; their printed adjoints, their code,
and the errors for an integer input anywhere it would be differentiated."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import assert_spec_error, derive_text, forms

# V before T: the reference draws T = 3 tokens from V = 2 values, so a token repeats and the
# adjoint of E must add the rows of a repeated token (a scatter that overwrites would fail)
LM = """
dims: {V: 2, T: 3, D: 5}
inputs:
  tokens: {shape: [T], integer: V}
  labels: {shape: [T], integer: V}
  E: [V, D]
  W: [V, D]
forward:
  - X = E[tokens]
  - Z = X @ W.T
  - L = -mean(log_softmax(Z, axis=-1)[range(T), labels])
loss: L
"""


def test_the_adjoint_of_an_embedding_is_the_one_hot_scatter():
    d = derive_text(LM)
    index, matrix = forms(d, "E")
    assert matrix == "onehot(tokens)ᵀ ∂L/∂X"
    assert index == "δ_(i,tokens_j) ∂L/∂X_jk"  # Σ_j: j shows twice (Einstein)


def test_cross_entropy_with_integer_labels_is_softmax_minus_onehot():
    d = derive_text(LM)
    assert forms(d, "Z")[1] == "(1/T) (softmax(Z) − onehot(labels))"


def test_a_sum_of_the_picked_log_probabilities_is_not_scaled():
    d = derive_text(LM.replace("-mean(", "-sum("))
    assert forms(d, "Z")[1] == "softmax(Z) − onehot(labels)"


def test_the_forward_index_form_shows_the_picked_row(run, tmp_path):
    from einderive.api import render
    f = tmp_path / "lm.yaml"
    f.write_text(LM, encoding="utf-8")
    out = run("derive", f).output
    assert "X_jk = E_(tokens_j,k)" in out, out
    assert "X    = onehot(tokens) E" in out
    d = derive_text(LM)
    latex = render(d, "latex")
    assert r"\operatorname{onehot}(\mathrm{tokens})^{\top}" in latex
    assert r"\mathrm{tokens}_{" in latex


def test_generated_code_gathers_and_adds_rows_without_a_one_hot_matrix():
    from einderive.api import render, torch_module
    d = derive_text(LM)
    numpy = render(d, "numpy")
    assert "X = E[tokens]" in numpy
    assert "np.add.at(out, index, g)" in numpy
    assert "d_E = scatter_add(tokens, d_X, V)" in numpy
    torch = torch_module(d)
    assert "index_add_(0, tokens.long(), d_X)" in torch
    assert "dtype = E.dtype" in torch  # not the integer input's int64


def test_generated_gradients_match_torch_autograd_with_repeated_tokens(tmp_path):
    import torch_reference as R
    from test_models import check_generated_gradients
    d = derive_text(LM)
    ref = R.reference(d.graph, 0)
    tokens = ref.inputs["tokens"]
    assert len(set(tokens.tolist())) < len(tokens), "the draw must repeat a token"
    check_generated_gradients(d, tmp_path)


def test_the_torch_module_matches_autograd(tmp_path):
    torch = pytest.importorskip("torch")
    import torch_reference as R
    from test_codegen import _function, load
    from test_models import assert_close
    from einderive.api import torch_module
    d = derive_text(LM)
    ref = R.reference(d.graph, 0)
    fn = _function(load(tmp_path, torch_module(d)))
    args = [torch.tensor(ref.inputs[t.name], dtype=torch.long) if t.integer else
            torch.tensor(ref.inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    loss = fn.apply(*args)
    assert_close(loss.detach().numpy(), ref.values[d.graph.loss], "torch forward")
    loss.backward()
    for t, a in zip(d.graph.inputs, args):
        if t.integer is None:
            assert_close(a.grad.numpy(), ref.adjoints[t.name], f"torch grad({t.name})")


def test_verify_draws_integer_inputs_in_range():
    from einderive.verify import draw_inputs
    d = derive_text(LM)
    for seed in range(5):
        values = draw_inputs(d.graph, {"V": 4, "T": 50, "D": 2}, seed)
        for name in ("tokens", "labels"):
            x = values[name]
            assert x.dtype.kind == "i" and x.shape == (50,)
            assert x.min() >= 0 and x.max() <= 3
        assert set(values["tokens"].tolist()) == {0, 1, 2, 3}  # every value is drawn


def test_verify_proves_every_printed_form():
    from einderive.api import verify
    d = derive_text(LM)
    for sizes in (None, {"V": 2, "T": 7, "D": 3}, {"V": 7, "T": 2, "D": 3}):
        report = verify(d, sizes=sizes, seed=3)
        assert report.ok and {c.name for c in report.checks if not c.adjoint} == {"E", "W"}


def test_integer_inputs_are_not_differentiated_by_default():
    d = derive_text(LM)
    assert d.graph.wrt == ("E", "W")
    assert [g.name for g in d.gradients] == ["E", "W"]


# -- errors ------------------------------------------------------------------------------------

HEAD = """\
dims: {V: 3, T: 4, D: 2}
inputs:
  tokens: {shape: [T], integer: V}
  E: [V, D]
  x: [D]
forward:
"""


def spec(*lines: str, extra: str = "loss: L\n", head: str = HEAD) -> str:
    return head + "".join(f"  - {ln}\n" for ln in lines) + extra


ERRORS = [
    ("an integer input in arithmetic", spec("z = tokens * 2.0", "L = sum(z)"), "7:9",
     "'tokens' is an integer input (indices 0 .. V - 1); it can only index a tensor",
     "E[tokens]"),
    ("an integer input in a function", spec("L = sum(exp(tokens))"), "7:17",
     "'tokens' is an integer input", "Z[range(B), tokens]"),
    ("an integer input in wrt", spec("L = sum(E[tokens])", extra="loss: L\nwrt: [E, tokens]\n"),
     "9:10", "'tokens' is an integer input (indices 0 .. V - 1); it has no gradient",
     "remove 'tokens' from 'wrt'"),
    ("only integer inputs", "dims: {V: 3, T: 4}\ninputs:\n  tokens: {shape: [T], integer: V}\n"
     "forward:\n  - L = sum(tokens)\nloss: L\n", "3:3", "every input is an integer input",
     "real-valued input"),
    ("integer names an unknown dim", HEAD.replace("integer: V", "integer: W") +
     "  - L = sum(x)\nloss: L\n", "3:33", "unknown dim 'W' in 'integer' of input 'tokens'",
     "integer: V"),
    ("integer is not a name", HEAD.replace("integer: V", "integer: 3") +
     "  - L = sum(x)\nloss: L\n", "3:33", "'integer' of input 'tokens' must name a dim", "V - 1"),
    ("integer and positive", HEAD.replace("integer: V}", "integer: V, positive: true}") +
     "  - L = sum(x)\nloss: L\n", "3:46", "an integer input cannot be 'positive'", "drop"),
    ("rows of the wrong dim", spec("L = sum(E.T[tokens])"), "7:17",
     "'tokens' holds indices 0 .. V - 1 but the tensor's first axis is D", "E: [V, D]"),
    ("a real tensor as an index", spec("L = sum(E[x])"), "7:15",
     "a tensor is indexed by an integer input or range(dim)", "integer: V"),
    ("a slice of no dim's length", spec("L = sum(E[0:2])"), "7:17",
     "the slice 0:2 has 2 elements, which no dim is", "dims: {M: \"2\"}"),
    ("range over the wrong dim", spec("L = sum(E[range(D), tokens])"), "7:15",
     "picks one element of each of D rows", "Z: [D, C]"),
    ("labels of the wrong dim", spec("L = sum(E.T[range(D), tokens])"), "7:27",
     "'tokens' must hold one index 0 .. V - 1 per row: shape (D,), integer: V", "shape: [D]"),
    ("a scalar index", HEAD.replace("x: [D]", "x: [D]\n  t: {shape: [], integer: V}") +
     "  - L = sum(E[t])\nloss: L\n", "8:15", "'t' is a single index", "shape: [1]"),
    ("three indices", spec("L = sum(E[tokens, tokens, tokens])"), "7:13",
     "is indexed by rows, E[tokens], or by one element per row", "integer input"),
]


@pytest.mark.parametrize("name,text,at,message,hint", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_uses_of_integer_inputs_point_at_the_place(name, text, at, message, hint):
    assert_spec_error(text, at, message, hint)


def test_an_integer_input_in_a_differentiable_position_exits_2(run, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(ERRORS[0][1], encoding="utf-8")
    r = run("derive", f)
    assert r.exit_code == 2
    assert f"{f}:7:9: error: 'tokens' is an integer input" in r.stderr


def test_the_integer_index_never_gets_an_adjoint():
    d = derive_text(LM)
    assert "tokens" not in {a.name for a in d.adjoints}
    assert np.all([t.integer is None for t in d.graph.inputs if t.name in d.graph.wrt])


def test_the_scatter_costs_an_add_per_row_element_and_the_gather_nothing(run):
    from conftest import SPECS
    out = run("cost", SPECS / "embedding_lm_head.yaml").output
    rows: dict = {}
    for line in out.splitlines():  # the FLOPs table comes first
        if line.startswith("  ") and len(line.split()) > 3:
            rows.setdefault(line.split()[0], line.split()[1:3])
    assert rows["∂L/∂E"] == ["0", "D·T"]  # no V·T·D product by a one-hot matrix
    assert rows["X"] == ["0", "0"]


def test_one_element_per_row_reads_as_a_hadamard_with_the_one_hot():
    d = derive_text("""
        dims: {B: 3, C: 4}
        inputs:
          labels: {shape: [B], integer: C}
          Z: [B, C]
          w: [B]
        forward:
          - y = Z[range(B), labels]
          - L = sum(tanh(y) * w)
        loss: L
        """)
    assert forms(d, "Z") == ("∂L/∂y_i δ_(j,labels_i)", "∂L/∂y ⊙ onehot(labels)")
    assert forms(d, "y")[1] == "w ⊙ (1 − tanh(y)^∘2)"


def test_json_says_which_inputs_hold_indices():
    import json
    from einderive.api import render
    doc = json.loads(render(derive_text(LM), "json"))
    tensors = {t["name"]: t for t in doc["tensors"]}
    assert tensors["tokens"]["integer"] == "V" and tensors["labels"]["integer"] == "V"
    assert "integer" not in tensors["E"]
