"""Batched matrix forms (issue 12, item 4): a tensor of three or more axes whose every factor
carries the leading axes as its leading indices is read per batch element, as NumPy's ``@``
reads it.  Multi-head attention prints ∂L/∂Q = ∂L/∂S K, not an einsum; the generated code
keeps the batch axes (``@``, ``.swapaxes(-1, -2)``, sums with keepdims) and is checked
against torch autograd; the printed forms are read back by the independent reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
from notation_reader import ReaderError
from printed import entries
from test_codegen import _function, load, needs_torch, torch
from test_printed_forms import env_for

from einderive.api import derive_file
from einderive.kinds import NoteKind
from einderive.render.pymodule import numpy_module, torch_module
from einderive.render.terminal import plain

MODELS = Path(__file__).parent / "models"
SUMMED = ["batch_sum_left", "batch_sum_rank4", "maximum_rank3", "layernorm_rank4",
          "attention_masked", "batch_sum_shared"]  # sums over a batch (Σ_b …): tests at the end of this file
BATCHED = ["attention_batched", "attention_multihead", "linear_rank3", "layernorm_rank3"] + \
    SUMMED


def _derive(name: str):
    return derive_file(str(MODELS / f"{name}.yaml"))


def _matrix(d, name: str) -> str:
    """The printed matrix form of ∂L/∂name (the second line of its pair)."""
    lines = [line for sec, line in entries(plain(d)) if sec == "Backward"
             and line.startswith(f"∂L/∂{name} = ")]
    assert lines, name
    return lines[0].split(" = ", 1)[1]


ATTENTION = {  # per batch element, as the single-head spec prints them
    "P": "∂L/∂O Vᵀ",
    "S": "P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))",
    "Q": "∂L/∂S K",
    "K": "(∂L/∂S)ᵀ Q",
    "V": "Pᵀ ∂L/∂O",
}


@pytest.mark.parametrize("spec", ["attention_batched", "attention_multihead"])
def test_attention_with_batch_and_head_axes_prints_the_per_element_matrix_forms(spec):
    d = _derive(spec)
    scale = "(1/√D) " if spec == "attention_batched" else ""
    for name, form in ATTENTION.items():
        want = scale + form if name in ("Q", "K") else form
        assert _matrix(d, name) == want, name
    text = plain(d)
    assert "einsum" not in text
    assert [n.kind for n in d.notes] == [NoteKind.BATCHED]
    forward = [line for sec, line in entries(text) if sec == "Forward"]
    assert {"S = " + scale + "Q Kᵀ", "O = P V", "L = sum(G ⊙ O)"} <= set(forward)


def test_the_batch_convention_is_stated_in_text_and_latex():
    d = _derive("attention_multihead")
    assert "note: Tensors of three or more axes are batches of matrices" in plain(d)
    from einderive.render.latex import fragment, standalone
    tex = standalone(d)
    assert "$Q^{\\top}$ swaps the last two axes of $Q$" in tex
    assert "\\frac{\\partial L}{\\partial K} &= \\left(\\frac{\\partial L}{\\partial S}\\right)^{\\top} Q" \
        in fragment(d)


def test_a_matrix_shared_by_every_element_is_broadcast_over_the_batch():
    d = _derive("linear_rank3")
    assert _matrix(d, "X") == "(∂L/∂Y ⊙ (1 − Y ⊙ Y)) Wᵀ"
    assert _matrix(d, "Y") == "H ⊙ (∂L/∂H − rowsum(∂L/∂H ⊙ H))"
    # a sum over the batch: each element's product, added over the batch (no einsum)
    assert _matrix(d, "W") == "Σ_i X_iᵀ (∂L/∂Y_i ⊙ (1 − Y_i ⊙ Y_i))"
    assert _matrix(d, "b") == "Σ_i colsum(∂L/∂Y_i ⊙ (1 − Y_i ⊙ Y_i))"
    assert [n.kind for n in d.notes] == [NoteKind.BATCHED]


def _inputs(d, seed: int = 3):
    sizes = R.sizes_of(d.graph)
    return R.random_inputs(d.graph, sizes, seed), sizes


@pytest.mark.parametrize("spec", BATCHED)
def test_generated_numpy_code_matches_torch_autograd(tmp_path, spec):
    d = _derive(spec)
    code = numpy_module(d)
    if spec.startswith("attention"):
        backward = code.split("# ∂L/∂O =")[1]
        assert ".swapaxes(-1, -2) @ " in backward and "einsum" not in backward
    module = load(tmp_path, code)
    inputs, sizes = _inputs(d)
    ref = R.torch_reference(d.graph, sizes, inputs) if R.torch is not None else None
    want = ref.adjoints if ref is not None else R.fd_gradients(d.graph, sizes, inputs)
    got = module.gradients(**inputs)
    for t in d.graph.inputs:
        assert np.allclose(got[t.name], want[t.name], rtol=1e-9, atol=1e-10), t.name


@needs_torch
@pytest.mark.parametrize("spec", BATCHED)
def test_generated_torch_code_matches_torch_autograd(tmp_path, spec):
    d = _derive(spec)
    code = torch_module(d)
    assert ".transpose(-1, -2)" in code or not spec.startswith("attention")
    module = load(tmp_path, code)
    inputs, sizes = _inputs(d)
    ref = R.torch_reference(d.graph, sizes, inputs)
    args = [torch.tensor(inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    _function(module).apply(*args).backward()
    for t, a in zip(d.graph.inputs, args):
        assert np.allclose(a.grad.numpy(), ref.adjoints[t.name], rtol=1e-9, atol=1e-10), t.name


BATCHED_DAMAGE = [
    ("∂L/∂K = (1/√D) (∂L/∂S)ᵀ Q", "∂L/∂K = (1/√D) ∂L/∂S Q"),  # a dropped transpose
    ("∂L/∂V = Pᵀ ∂L/∂O", "∂L/∂V = P ∂L/∂O"),
    ("∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))", "∂L/∂S = P ⊙ (∂L/∂P − colsum(∂L/∂P ⊙ P))"),
    ("∂L/∂P = ∂L/∂O Vᵀ", "∂L/∂P = Vᵀ ∂L/∂O"),  # the order of a product
]


@pytest.mark.parametrize("good,bad", BATCHED_DAMAGE, ids=[b for _, b in BATCHED_DAMAGE])
def test_the_reader_catches_damage_in_batched_forms(good, bad):
    d = _derive("attention_batched")
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


PERMUTED = """
dims: {B: 2, N: 3, M: 4}
inputs: {X: [B, N, M], Y: [N, B, M]}
forward:
  - Z = einsum('bnm,nbk->bmk', X, Y)
  - L = sum(Z * Z)
loss: L
"""

TOTAL_PER_ELEMENT = """
dims: {B: 2, N: 3, M: 4}
inputs: {X: [B, N, M], A: [B, M, N]}
forward:
  - Y = X * sum(X, axis=(1, 2), keepdims=True)
  - L = sum((Y @ A) ** 2)
loss: L
"""


@pytest.mark.parametrize("text", [TOTAL_PER_ELEMENT], ids=["total"])
def test_what_does_not_read_per_element_is_not_batched(text):
    """A total of each element (which ``sum(…)`` would misstate as the total of everything)
    is no batched form: it prints as NumPy's sum over the element's axes, kept
    (``sum(X, axis=(1, 2), keepdims=True)``, recognize_frame.py), never as ``sum(X_b)`` or
    ``sum(X)`` (a batch axis that is not leading everywhere reads element by element:
    tests/test_heads.py)."""
    from einderive.api import verify
    from einderive.derivation import derive
    from einderive.spec import loads
    d = derive(loads(text, "t.yaml"))
    shown = plain(d)
    assert "Y     = X ⊙ sum(X, axis=(1, 2), keepdims=True)" in shown
    assert "sum(∂L/∂Y ⊙ X, axis=(1, 2), keepdims=True)" in " ".join(shown.split())
    assert "sum(X)" not in shown and "sum(X_b" not in shown
    assert verify(d).ok
    env = env_for(d, R.reference(d.graph, seed=1))
    for _, line in entries(shown):
        env.check(line)


@needs_torch
@pytest.mark.parametrize("spec", BATCHED)
def test_batched_forms_count_every_element(tmp_path, spec):
    """A batched form's FLOPs are those of one element times the batch: the generated torch
    code run under FlopCounterMode makes exactly the counted matmul FLOPs."""
    from test_cost import _check_against_flop_counter
    d = derive_file(str(MODELS / f"{spec}.yaml"))
    _check_against_flop_counter(tmp_path, d, f"batched_cost_{spec}")


def test_layer_norm_of_a_batch_of_sequences_reaches_the_compact_form():
    """Statistics per position (mu: [B, N, 1], a column of each element): the closed form of
    ∂L/∂X is layer norm's known one, (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / σ with g = G ⊙ gᵀ,
    written in X̂ as the matrix layer norm's is (the root pulled out of each element's G ⊙ X̂
    ⊙ √(…) meets its divisor): the centred sums rowsum(Xc ⊙ …) are zero."""
    from einderive.render.text import Pen
    d = _derive("layernorm_rank3")
    pen = Pen.of(d)
    closed = pen.matrix(d.adjoint("X").closed)
    assert closed == "(G ⊙ gᵀ − (1/D) G g − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ √(var + 1e-05)"
    assert pen.matrix(d.adjoint("mu").closed) == "−(G g) ⊘ √(var + 1e-05)"
    assert _matrix(d, "var") == "−(1/2) rowsum(∂L/∂X̂ ⊙ X̂) ⊘ (var + 1e-05)"


# -- sums over a batch --------------------------------------------------------------------

SUMS = {  # spec -> {input: its printed gradient}: a paper's Σ_b, never an einsum
    "batch_sum_left": {"A": "Σ_b ∂L/∂Y_b X_bᵀ", "X": "Aᵀ ∂L/∂Y"},
    "batch_sum_rank4": {"W": "Σ_b Σ_h X_bhᵀ (∂L/∂Y_bh ⊙ (1 − Y_bh ⊙ Y_bh))",
                        "c": "Σ_b Σ_h colsum(∂L/∂Y_bh ⊙ (1 − Y_bh ⊙ Y_bh))"},
    "maximum_rank3": {"v": "Σ_b colsum(∂L/∂Y_b ⊙ 𝟙[X_b ≤ vᵀ])", "W": "Σ_b Y_bᵀ ∂L/∂Z_b"},
    # b names a tensor: the batch letters are the index form's, i and j, for B and H
    "layernorm_rank4": {"g": "Σ_i Σ_j colsum(∂L/∂Y_ij ⊙ X̂_ij)", "b": "Σ_i Σ_j colsum(G_ij)"},
    "attention_masked": {"Wo": "Σ_b O_bᵀ ∂L/∂Z_b", "Q": "(1/√D) ∂L/∂S K",
                         "K": "(1/√D) (∂L/∂S)ᵀ Q"},
    "batch_sum_shared": {"P": "Σ_b ∂L/∂Y_b", "u": "Σ_b rowsum(∂L/∂Y_b)",
                         "A": "Σ_b ∂L/∂Z_b Wᵀ (G_b ⊙ Y_b ⊙ Y_b)ᵀ",
                         "W": "Σ_b (G_b ⊙ Y_b ⊙ Y_b)ᵀ Aᵀ ∂L/∂Z_b"},
}


@pytest.mark.parametrize("spec", SUMMED)
def test_a_sum_over_the_batch_prints_each_elements_form_summed(spec):
    d = _derive(spec)
    for name, form in SUMS[spec].items():
        assert _matrix(d, name) == form, name
        assert f"grad({name}) = {form}" in [line for _, line in entries(plain(d))]
    backward = [line for sec, line in entries(plain(d)) if sec == "Backward"]
    assert not any("einsum" in line for line in backward)
    assert not any(n.kind == NoteKind.EINSUM for n in d.notes)


def test_the_note_says_what_the_subscript_of_a_sum_over_a_batch_means():
    text = plain(_derive("batch_sum_rank4"))
    assert "Σ_b Σ_h X_bh adds the matrices X_bh of every element (b, h) of the batch axes " \
        "B, H." in " ".join(text.split())
    one = " ".join(plain(_derive("batch_sum_left")).split())
    assert "Σ_b X_b adds the matrices X_b of every element b of the batch axis B." in one
    # no sum over a batch: the note says nothing of subscripts
    assert "adds the matrices" not in plain(_derive("attention_multihead"))


def test_latex_writes_a_sum_over_the_batch_with_subscripted_elements():
    from einderive.render.latex import fragment, standalone
    d = _derive("batch_sum_rank4")
    assert r"\frac{\partial L}{\partial W} &= \sum_{b} \sum_{h} X_{bh}^{\top} " \
        r"\left(\frac{\partial L}{\partial Y_{bh}} \odot (1 - Y_{bh} \odot Y_{bh})\right)" \
        in fragment(d)
    assert r"$\sum_{b} \sum_{h} X_{bh}$ adds the matrices $X_{bh}$" in standalone(d)


def test_a_total_of_a_kept_dims_tensor_and_a_full_one_is_their_broadcast_product():
    """M: [B, T, 1] (max over the last axis, kept) against Y: [B, T, N] in a total is
    sum(M ⊙ Y), as NumPy broadcasts it, not einsum('ijk,ij->', Y, einsum('ija->ij', M))."""
    from einderive.derivation import derive
    from einderive.spec import loads
    d = _derive("maximum_rank3")
    forward = [line for sec, line in entries(plain(d)) if sec == "Forward"]
    assert "L = sum(Y ⊙ Y) + sum(M ⊙ Y)" in forward
    assert "M = max(Z, axis=2)" in forward
    square = derive(loads(PERMUTED.replace("Y: [N, B, M]", "Y: [B, N, 1]").replace(
        "Z = einsum('bnm,nbk->bmk', X, Y)", "Z = max(X, axis=-1, keepdims=True)"), "t.yaml"))
    assert "L = sum(Z ⊙ Z)" in [line for _, line in entries(plain(square))]


@pytest.mark.parametrize("spec", SUMMED)
def test_every_printed_line_of_a_sum_over_a_batch_reads_back(spec):
    """The independent reader evaluates Σ_b X_bᵀ … from the README's words: each element's
    matrix, the products NumPy's batched ones, the elements added."""
    d = _derive(spec)
    env = env_for(d, R.reference(d.graph, seed=2))
    for _, line in entries(plain(d)):
        if not line.startswith("M_ij = max(") and not line.startswith("M = max("):
            env.check(line)  # (max of an axis as a forward line: the reader has no rule)


SUM_DAMAGE = [
    ("∂L/∂A = Σ_b ∂L/∂Y_b X_bᵀ", "∂L/∂A = Σ_b (∂L/∂Y_b)ᵀ X_b"),  # transposes misplaced
    ("∂L/∂A = Σ_b ∂L/∂Y_b X_bᵀ", "∂L/∂A = ∂L/∂Y_b X_bᵀ"),  # the sum dropped
    ("∂L/∂A = Σ_b ∂L/∂Y_b X_bᵀ", "∂L/∂A = (1/2) Σ_b ∂L/∂Y_b X_bᵀ"),  # a mean, not a sum
]


@pytest.mark.parametrize("good,bad", SUM_DAMAGE, ids=[b for _, b in SUM_DAMAGE])
def test_the_reader_catches_damage_in_sums_over_a_batch(good, bad):
    d = _derive("batch_sum_left")
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


def test_the_reader_catches_a_colsum_turned_rowsum_and_a_lost_batch_axis():
    d = _derive("batch_sum_rank4")
    env = env_for(d, R.reference(d.graph, seed=1))
    good = "∂L/∂c = Σ_b Σ_h colsum(∂L/∂Y_bh ⊙ (1 − Y_bh ⊙ Y_bh))"
    env.check(good)
    for bad in (good.replace("colsum", "rowsum"), good.replace("Σ_b Σ_h", "Σ_b")):
        with pytest.raises(ReaderError):
            env.check(bad)


OTHER_SIZES = [7, 2, 5, 3, 11, 13]  # a second set of sizes, distinct from sizes_of's


@needs_torch
@pytest.mark.parametrize("spec", SUMMED)
def test_sums_over_a_batch_match_torch_autograd_at_other_sizes(tmp_path, spec):
    d = _derive(spec)
    sizes = dict(zip([dim.name for dim in d.graph.spec.dims], OTHER_SIZES))
    inputs = R.random_inputs(d.graph, sizes, 5)
    ref = R.torch_reference(d.graph, sizes, inputs)
    for code in (numpy_module(d), torch_module(d)):
        backward = [line for line in code.splitlines() if line.strip().startswith("d_")]
        assert backward and not any("einsum" in line for line in backward)
    got = load(tmp_path, numpy_module(d)).gradients(**inputs)
    args = [torch.tensor(inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    _function(load(tmp_path, torch_module(d))).apply(*args).backward()
    for t, a in zip(d.graph.inputs, args):
        want = ref.adjoints[t.name]
        assert np.allclose(got[t.name], want, rtol=1e-9, atol=1e-10), t.name
        assert np.allclose(a.grad.numpy(), want, rtol=1e-9, atol=1e-10), t.name


@pytest.mark.parametrize("spec", SUMMED)
def test_sums_over_a_batch_pass_verify(spec):
    from einderive.api import verify
    assert verify(_derive(spec)).ok


@pytest.mark.parametrize("path,swaps,sums", [
    # the sums' first element read whole was a where-clause's temporary (Σ_j t1_j …)
    # (p: [B, O]: its elements are rows, read as columns, not matrices)
    ("models/conv1d_pool_head.yaml", "Yᵀ swaps the last two axes of Y,",
     "Σ_j p_j adds the vectors p_j of every element j of the batch axis B. A line "
     "subscripted by j holds for every element j of the batch axis B: p_j is the column "
     "p[j, :]."),
    ("regressions/conv1d_stacked.yaml", "Yᵀ swaps the last two axes of Y,",
     "Σ_b Y_b adds the matrices Y_b"),
    # t1ᵀ swaps the last two axes of t1; the spec's X is batched too
    ("regressions/heads_literal_one_batch.yaml", "Xᵀ swaps the last two axes of X,", ""),
    # only a temporary is read per element: the spec's first tensor of three axes says it
    ("models/more/stack_then_conv_channels.yaml", "Wᵀ swaps the last two axes of W,", ""),
    # an inline node printed as its form, (X W)ᵀ swaps the last two axes of (X W)
    ("models/more8/ce_rank3_flatten.yaml", "Xᵀ swaps the last two axes of X,", ""),
])
def test_the_batch_note_names_a_tensor_of_the_spec(path, swaps, sums):
    d = derive_file(str(Path(__file__).parent / path))
    note = " ".join(plain(d).split("note: Tensors", 1)[1].split())
    assert swaps in note and sums in note, note
    assert "t1" not in note.split("and rowsum")[0], note
