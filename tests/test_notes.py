"""Notes say only what is true: the target premise only for a softmax cross-entropy's target,
with the formula that follows from it (checked against torch autograd)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import SPECS

VECTOR = """\
    name: vec
    dims: {C: 4}
    inputs: {x: [C], t: [C]}
    forward:
      - L = -sum(t * log_softmax(x))
    loss: L
    wrt: [x]
"""
COLUMNS = """\
    name: col
    dims: {B: 5, C: 4}
    inputs: {Z: [C, B], T: [C, B]}
    forward:
      - L = -sum(T * log_softmax(Z, axis=0))
    loss: L
    wrt: [Z]
"""
LOG_OF_SOFTMAX = """\
    name: logsm
    dims: {B: 5, C: 4}
    inputs: {Z: [B, C], T: [B, C]}
    forward:
      - P = softmax(Z)
      - Q = T * log(P)
      - L = -mean(sum(Q, axis=1))
    loss: L
    wrt: [Z]
"""
WEIGHT = """\
    name: weight
    dims: {M: 3, N: 4}
    inputs: {W: [M, N], x: [N]}
    forward:
      - y = W @ x
      - L = sum(y * sum(W, axis=1)) + sum(y / sum(W, axis=1))
    loss: L
    wrt: [x]
"""
NOT_OVER_THE_SOFTMAX_AXIS = """\
    name: other_axis
    dims: {B: 5, C: 4}
    inputs: {Z: [B, C], T: [B, C]}
    forward:
      - L = -sum(sum(T * log_softmax(Z), axis=0) * sum(T, axis=0))
    loss: L
    wrt: [Z]
"""


def notes(run, tmp_path, text: str, *args) -> list[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(text))
    result = run("derive", spec, *args)
    assert result.exit_code == 0, result.stderr
    body = result.stdout.split("\nnote: ")[1:]
    return [" ".join(n.split()) for n in body]


def test_the_shipped_cross_entropy_note(run):
    out = run("derive", SPECS / "softmax_regression.yaml").stdout
    assert " ".join(out.split("note: ")[1].split()) == (
        "T is the target of a softmax cross-entropy: if each row of T sums to one "
        "(one-hot or probability targets), ∂L/∂Z = (1/B) (softmax(Z) − T).")


def test_a_1d_target_gets_its_note(run, tmp_path):
    assert notes(run, tmp_path, VECTOR) == [
        "t is the target of a softmax cross-entropy: if sum(t) = 1 "
        "(a one-hot or probability target), ∂L/∂x = softmax(x) − t."]


def test_columns_and_log_of_softmax(run, tmp_path):
    assert notes(run, tmp_path, COLUMNS) == [
        "T is the target of a softmax cross-entropy: if each column of T sums to one "
        "(one-hot or probability targets), ∂L/∂Z = softmax(Z, axis=0) − T."]
    assert notes(run, tmp_path, LOG_OF_SOFTMAX, "--expand") == [
        "T is the target of a softmax cross-entropy: if each row of T sums to one "
        "(one-hot or probability targets), ∂L/∂Z = (1/B) (P − T)."]


def test_a_weight_matrix_rowsum_gets_no_note(run, tmp_path):
    assert notes(run, tmp_path, WEIGHT, "--expand") == []
    out = run("derive", tmp_path / "spec.yaml", "-f", "json").stdout
    assert '"notes": []' in out


def test_a_target_reduced_over_another_axis_gets_no_note(run, tmp_path):
    assert notes(run, tmp_path, NOT_OVER_THE_SOFTMAX_AXIS, "--expand") == []


def _note_gradient(text: str, name: str, target: str, inputs: dict):
    """Run the note's formula as generated NumPy code, at ``inputs``."""
    import importlib.util
    import tempfile
    from pathlib import Path

    from conftest import derive_text
    from einderive.record import replace
    from einderive.render.pymodule import closed_forms_module
    d = derive_text(text)
    (note,) = [n for n in d.notes if n.subject == target]
    assert note.tensor == name
    g = d.gradient(name)
    form = g.closed or g.form
    swapped = replace(g, closed=replace(form, matrix=note.form))
    d = replace(d, gradients=tuple(swapped if x.name == name else x for x in d.gradients))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "note.py"
        path.write_text(closed_forms_module(d))
        spec = importlib.util.spec_from_file_location("note_module", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.closed_forms(**inputs)[name]


@pytest.mark.parametrize("text, name, target, axis, loss", [
    (VECTOR, "x", "t", 0, lambda v: -(v["t"] * v["x"].log_softmax(0)).sum()),
    (COLUMNS, "Z", "T", 0, lambda v: -(v["T"] * v["Z"].log_softmax(0)).sum()),
    (LOG_OF_SOFTMAX, "Z", "T", 1,
     lambda v: -(v["T"] * v["Z"].softmax(1).log()).sum(1).mean()),
])
def test_the_note_formula_is_the_gradient_when_the_premise_holds(text, name, target, axis,
                                                                 loss):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    shapes = {"x": (4,), "t": (4,)} if name == "x" else \
        {"Z": (4, 5), "T": (4, 5)} if axis == 0 else {"Z": (5, 4), "T": (5, 4)}
    values = {k: rng.standard_normal(s) for k, s in shapes.items()}
    p = rng.uniform(0.1, 1.0, shapes[target])
    values[target] = p / p.sum(axis=axis, keepdims=True)  # the premise
    got = _note_gradient(text, name, target, values)
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k == name)
               for k, v in values.items()}
    loss(tensors).backward()
    np.testing.assert_allclose(got, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12)
    # and it is not the gradient when the premise fails (the test can fail)
    values[target] = values[target] * 2
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k == name)
               for k, v in values.items()}
    loss(tensors).backward()
    assert not np.allclose(_note_gradient(text, name, target, values),
                           tensors[name].grad.numpy())


def test_a_sum_in_a_denominator_leaves_no_one_behind(run, tmp_path):
    """Normalised cross-entropies: sum(t) and rowsum(T) divide; with them 1, nothing of
    ⊘ 𝟏 or (1/1) may remain; the note is about the logits."""
    got = notes(run, tmp_path, """\
        name: norm
        dims: {C: 4, B: 3}
        inputs: {x: [C], t: [C], Z: [B, C], T: [B, C]}
        forward:
          - L1 = -sum(t * log_softmax(x)) / sum(t)
          - S = sum(T * log_softmax(Z), axis=1, keepdims=True)
          - L2 = -sum(S / sum(T, axis=1, keepdims=True))
          - L = L1 + L2
        loss: L
        wrt: [x, Z]
    """, "--expand")
    assert [n.split(": if ")[1] for n in got] == [
        "sum(t) = 1 (a one-hot or probability target), ∂L/∂x = softmax(x) − t.",
        "each row of T sums to one (one-hot or probability targets), ∂L/∂Z = softmax(Z) − T."]
    # said at the logits' adjoint, not at ∂L/∂S (= −𝟏 ⊘ rowsum(T)), nearer the loss
