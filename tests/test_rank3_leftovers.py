"""Issue 12's rank-3/4 leftovers: forms a textbook writes per element, not einsum.

- a function along the batch axis (log_softmax(Z, axis=0) of Z: [N, T, D]) is read in
  NumPy's reading whole (softmax(Z, axis=0) ⊙ (Σ_n Y_n) − Y), a sum over another element
  of the batch inside an element as a whole matrix (Σ_n Y_n), and a reduced function of no
  batch index as the same matrix for every element (logsumexp(Z, axis=0) − Z);
- a 1×1 of each element (r_b of r: [B, 1, 1]) is an elementwise factor that broadcasts
  (∂L/∂r ⊙ X ⊘ r), never a scalar's product ``(∂L/∂r/r)·X``, which reads as one number
  times all of X;
- whole tensors of three or more axes with kept-dims axes read as NumPy reads them: the
  literal 1s broadcast (X − mu of mu: [1, C, 1]) and sums over axes print as
  sum(·, axis=(0, 2), keepdims=True), not einsum;
- the generated code never swaps the last two axes twice.

Each spec's generated NumPy and PyTorch gradients are compared with torch autograd of an
independent forward (tests/torch_reference.py) at two sets of sizes, and verify checks every
printed form by finite differences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
from printed import entries
from test_codegen import _function, load, needs_torch, torch

from einderive.api import derive_file
from einderive.render.pymodule import numpy_module, torch_module
from einderive.render.terminal import plain
from einderive.spec import sizes_with

MODELS = Path(__file__).parent / "models"
SPECS = ["more7/log_softmax_axis0_rank3", "more/rmsnorm_middle", "more7/group_norm_rank4",
         "more7/slice_last_softmax_mid", "more7/batchnorm_rank3_channels",
         "more7/rmsnorm_mid_rank4", "more7/lse_axis1_rank4_keep"]


def _derive(name: str):
    return derive_file(str(MODELS / f"{name}.yaml"))


def _lines(d, section: str = "Backward") -> dict[str, str]:
    """The printed matrix form of each left side in ``section`` (the second of each pair)."""
    out: dict[str, str] = {}
    for sec, line in entries(plain(d)):
        if sec == section and " = " in line:
            lhs, rhs = line.split(" = ", 1)
            out[lhs] = rhs
    return out


def test_a_function_along_the_batch_axis_reads_per_element():
    d = _derive("more7/log_softmax_axis0_rank3")
    lines = _lines(d)
    assert lines["∂L/∂Z"] == "softmax(Z, axis=0) ⊙ (Σ_n Y_n) − Y"
    assert lines["∂L/∂Y"] == "logsumexp(Z, axis=0) − Z"
    text = plain(d)
    assert "∂L/∂Z is written with einsum" not in text
    assert "∂L/∂Y is written with einsum" not in text


@pytest.mark.parametrize("spec, name, want", [
    ("more/rmsnorm_middle", "∂L/∂X",
     "(1/(D T)) ∂L/∂r ⊙ X ⊘ r + W ⊙ (1 − tanh(X ⊘ r)^∘2) ⊘ r"),
    ("more/rmsnorm_middle", "∂L/∂W", "Σ_b tanh(X_b ⊘ r_b)"),
])
def test_a_factor_of_each_element_is_a_broadcast_product_not_a_scalars(spec, name, want):
    d = _derive(spec)
    assert _lines(d)[name] == want


@pytest.mark.parametrize("spec", ["more/rmsnorm_middle", "more7/group_norm_rank4"])
def test_no_scalar_product_of_a_tensor_of_each_element(spec):
    """A per-element [B, 1, 1] (or [B, G, 1, 1]) factor never prints as ``c·X``: every
    ``·`` left stands after a number or a total (sum, norm), never after a batched name."""
    d = _derive(spec)
    for adj in d.adjoints:
        m = adj.form.matrix
        if m is None:
            continue
        from einderive import matrix as mx
        for n in mx.walk(m):
            if isinstance(n, mx.Scale):
                assert not mx.batch_of(n.coeff), (adj.tensor.name, n.coeff)
                assert n.coeff.is_scalar, (adj.tensor.name, n.coeff)


def test_a_column_sum_turned_back_is_not_swapped_twice_in_code():
    d = _derive("more7/slice_last_softmax_mid")
    assert _lines(d)["∂L/∂A"] == "P ⊙ (∂L/∂P − colsum(∂L/∂P ⊙ P)ᵀ)"
    # a vector along the last axis broadcasts as NumPy's row (was einsum('ijm,m->ijm', …))
    assert _lines(d)["∂L/∂P"] == "rowsum(V)ᵀ ⊙ 𝟏"
    assert "∂L/∂P is written with einsum" not in plain(d)
    numpy_code, torch_code = numpy_module(d), torch_module(d)
    assert ".swapaxes(-1, -2).swapaxes(-1, -2)" not in numpy_code
    assert ".transpose(-1, -2).transpose(-1, -2)" not in torch_code
    assert "np.sum(d_P * P, axis=-2, keepdims=True))" in numpy_code


def _other_sizes(d) -> dict:
    """A second set of sizes: each dim of its own the next prime up from sizes_of's (a dim
    no input carries keeps its size: the code reads sizes from the inputs)."""
    first = R.sizes_of(d.graph)
    carried = {x for t in d.graph.inputs for x in t.shape}
    bump = {3: 5, 2: 3, 5: 7, 7: 11, 11: 13, 13: 17, 17: 19, 19: 23}
    base = {dim.name: (bump[first[dim.name]] if dim.name in carried else first[dim.name])
            for dim in d.graph.spec.dims if dim.definition is None}
    return dict(sizes_with(d.graph.spec.dims, base))


@needs_torch
@pytest.mark.parametrize("spec", SPECS)
def test_generated_code_matches_torch_autograd_at_two_sizes(tmp_path, spec):
    d = _derive(spec)
    numpy_mod = load(tmp_path, numpy_module(d))
    torch_mod = load(tmp_path, torch_module(d))
    for sizes in (R.sizes_of(d.graph), _other_sizes(d)):
        inputs = R.random_inputs(d.graph, sizes, 7)
        ref = R.torch_reference(d.graph, sizes, inputs)
        got = numpy_mod.gradients(**inputs)
        args = [torch.tensor(inputs[t.name], dtype=torch.float64, requires_grad=True)
                for t in d.graph.inputs]
        _function(torch_mod).apply(*args).backward()
        for t, a in zip(d.graph.inputs, args):
            want = ref.adjoints[t.name]
            assert np.allclose(got[t.name], want, rtol=1e-9, atol=1e-10), (t.name, sizes)
            assert np.allclose(a.grad.numpy(), want, rtol=1e-9, atol=1e-10), (t.name, sizes)


@pytest.mark.parametrize("spec", SPECS)
def test_the_printed_forms_pass_verify(spec):
    from einderive.api import verify
    assert verify(_derive(spec)).ok


FRAMED = {  # NumPy's reading: kept-dims axes broadcast, sums over axes
    "more7/lse_axis1_rank4_keep": {
        "∂L/∂m": "2 m − sum(X ⊙ exp(X − m), axis=1, keepdims=True) − 2 Y",
        "∂L/∂X": "∂L/∂m ⊙ softmax(X, axis=1) + exp(X − m) ⊙ (1 + X)",
        "∂L/∂Y": "2 (Y − m)",
    },
    "more7/rmsnorm_mid_rank4": {
        "∂L/∂X": "(1/(B C)) ∂L/∂r ⊙ X ⊘ r + ∂L/∂O ⊙ g ⊘ r",
        "∂L/∂g": "sum(∂L/∂O ⊙ X ⊘ r, axis=(0, 1))",  # (the reshape dropped only the 1s)
    },
    "more7/batchnorm_rank3_channels": {
        "∂L/∂v": "−(1/2) g ⊙ sum(∂L/∂N ⊙ (X − mu), axis=(0, 2), keepdims=True) ⊘ "
                 "(√(v + 1e-05))^∘3",
    },
}


@pytest.mark.parametrize("spec", sorted(FRAMED))
def test_kept_dims_reductions_over_middle_axes_read_as_numpy_sums(spec):
    d = _derive(spec)
    lines = _lines(d)
    for name, want in FRAMED[spec].items():
        assert lines[name] == want, name
    assert "einsum" not in plain(d)


def test_batch_norm_over_two_axes_of_three_has_no_einsum_left():
    d = _derive("more7/batchnorm_rank3_channels")
    text = plain(d)
    assert "einsum" not in text
    # the sum broadcasts the mean's adjoint: no 𝟏 says the shape the other terms say
    assert "∂L/∂X = (1/(B T)) ∂L/∂mu + (2/(B T)) ∂L/∂v ⊙ (X − mu) + ∂L/∂N ⊙ g ⊘ √(v + 1e-05)" \
        in " ".join(text.split())


@pytest.mark.parametrize("spec", SPECS)
def test_no_einsum_in_the_backward_code(spec):
    for code in (numpy_module(_derive(spec)),):
        backward = [line for line in code.splitlines() if line.strip().startswith("d_")]
        assert backward and not any("einsum" in line for line in backward), spec


@pytest.mark.parametrize("spec", [s for s in SPECS if s != "more/rmsnorm_middle"])
def test_every_printed_line_reads_back_to_the_reference(spec, run):
    """The independent reader (tests/notation_reader.py) evaluates every printed line,
    sum(·, axis=…, keepdims=True) included, against torch's values."""
    from test_printed_forms import failures
    bad = failures(MODELS / f"{spec}.yaml", run)
    assert not bad, "\n".join(bad)


FUNCTION_ACROSS = """
dims: {N: 3, T: 4, D: 2}
inputs: {Z: [N, T, D], Y: [N, T, D], V: [D, D]}
forward:
  - P = softmax(Z, axis=0) * sum(Y, axis=0)
  - Q = P @ V
  - L = sum(tanh(Q) * P)
loss: L
"""


def test_a_forward_line_with_a_function_across_the_batch_derives_and_verifies():
    """A forward form is reused in the backward ones: it never holds a temporary (a
    where-named t1 there ended in KeyError: 't1', exit 3)."""
    from einderive.api import verify
    from einderive.derivation import derive
    from einderive.spec import loads
    d = derive(loads(FUNCTION_ACROSS, "t.yaml"))
    text = plain(d)
    assert "t1" not in text
    assert "P     = softmax(Z, axis=0) ⊙ sum(Y, axis=0, keepdims=True)" in text
    assert verify(d).ok


def test_an_index_over_part_of_an_axis_is_never_read_as_the_whole_axis():
    """∂L/∂X_ikl of Z = concatenate([X, …], axis=0) reads Z_ikl with i over A of Z's A + B:
    NumPy's whole-tensor reading must not take it as all of Z (its contribution had Z's
    shape, A + B rows, before the fix; the sum then had no form); it is a slice."""
    d = _derive("more/concat_axis0_rank3")
    (x,) = [a for a in d.adjoints if a.tensor.name == "X"]
    for consumer, f in x.terms:
        if f.matrix is not None and not f.matrix.children() == ():
            assert tuple(f.matrix.shape) in (("A", "T", "D"), ("T", "D")), consumer
    assert _lines(d)["∂L/∂X"].startswith("slice(softmax(Z, axis=0), 0:A) ⊙ (1 + slice(Z, 0:A)")
    from einderive.api import verify
    assert verify(d).ok


@pytest.mark.parametrize("spec,name,want", [
    # the mean's share, read per (b, g) element beside whole terms: the sum broadcasts it
    ("more7/group_norm_rank4", "∂L/∂Xr",
     "(1/(Cg T)) ∂L/∂mu + (2/(Cg T)) ∂L/∂var ⊙ (Xr − mu) + reshape(∂L/∂N, [B, G, Cg, T]) "
     "⊘ √(var + 1e-05)"),
    ("more/mean_over_all_but_last", "∂L/∂X",
     # (∂L/∂m lost its centred sum Σ_i Σ_j (X_ijk − m_k) = 0, and is still read by name)
     "(1/(B T)) (∂L/∂m)ᵀ + (2/(B T)) (∂L/∂v)ᵀ ⊙ (X − mᵀ)"),
    ("more/rank4_lse_middle", "∂L/∂X", "∂L/∂l ⊙ softmax(X, axis=2) + rowsum(W)ᵀ"),
    # nested sums over axes are one, and so are two sums over the same axes
    ("more7/rmsnorm_mid_rank4", "∂L/∂r",
     "−sum(∂L/∂O ⊙ g ⊙ X, axis=(1, 2), keepdims=True) ⊘ (r ⊙ r)"),
    ("more/maximum_broadcast_rank3", "∂L/∂g",
     "sum(𝟙[X ≤ g] ⊙ minimum(X, h) − h ⊙ sign(X − g), axis=(0, 1), keepdims=True)"),
])
def test_a_sum_of_contributions_is_simplified_as_one_form(spec, name, want):
    from einderive.api import verify
    d = _derive(spec)
    lines = [" ".join(line.split()) for sec, line in entries(plain(d)) if sec == "Backward"]
    assert f"{name} = {want}" in lines, [x for x in lines if x.startswith(name + " =")]
    assert verify(d).ok
