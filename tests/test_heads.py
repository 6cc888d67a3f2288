"""Matrix forms of tensors of three or more axes beyond a leading batch (issue 12, item 4):
an axis permutation (``transpose(Q, axes=[0, 2, 1, 3])``) prints ``permute(Q, (0, 2, 1, 3))``
and its adjoint the inverse permutation, not an einsum.  Each form is read back by the
independent reader, damaged forms are caught, the generated NumPy and PyTorch code matches
torch autograd at two sets of sizes, ``verify`` passes and the LaTeX compiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
from conftest import needs_pdflatex
from notation_reader import ReaderError
from printed import entries
from test_codegen import _function, load, needs_torch, torch
from test_printed_forms import env_for

from einderive.api import derive_file
from einderive.kinds import NoteKind
from einderive.api import torch_module
from einderive.render.pymodule import numpy_module
from einderive.render.terminal import plain

REGRESSIONS = Path(__file__).parent / "regressions"
SPECS = ["permute_axes", "permute_heads_linear", "log_softmax_rank3"]


def _derive(name: str):
    return derive_file(str(REGRESSIONS / f"{name}.yaml"))


def _lines(d, section: str) -> list[str]:
    return [line for sec, line in entries(plain(d)) if sec == section]


PRINTED = {  # spec -> lines its derivation prints (matrix forms, no einsum)
    "permute_axes": ["Qh = permute(Q, (0, 2, 1, 3))", "∂L/∂Q = permute(G, (0, 2, 1, 3))"],
    "permute_heads_linear": ["Qh = permute(Q, (0, 2, 1, 3))", "Y = tanh(Qh W)",
                             "∂L/∂Q = permute(∂L/∂Qh, (0, 2, 1, 3))",
                             "∂L/∂W = Σ_b Σ_h Qh_bhᵀ (∂L/∂Y_bh ⊙ (1 − Y_bh ⊙ Y_bh))"],
    # as the rank-2 case prints it: logsumexp(Z) each element's column of row values
    "log_softmax_rank3": ["P = Z − logsumexp(Z)",
                          "∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ "
                          "logsumexp(Z)"],
}


@pytest.mark.parametrize("spec", SPECS)
def test_each_form_prints_without_einsum(spec):
    d = _derive(spec)
    shown = [line for _, line in entries(plain(d))]
    for want in PRINTED[spec]:
        assert want in shown, want
    assert "einsum" not in plain(d)
    assert not any(n.kind == NoteKind.EINSUM for n in d.notes)


def test_an_inverse_permutation_is_the_adjoint():
    """A permutation that is not its own inverse: Qh = transpose(Q, axes=[1, 2, 0]) is
    permute(Q, (1, 2, 0)), and ∂L/∂Q the inverse permutation, (2, 0, 1)."""
    from conftest import derive_text
    d = derive_text("""
        dims: {A: 2, B: 3, C: 5}
        inputs: {Q: [A, B, C], G: [B, C, A]}
        forward:
          - Qh = transpose(Q, axes=[1, 2, 0])
          - L = sum(Qh * G)
        loss: L
    """)
    assert "Qh = permute(Q, (1, 2, 0))" in _lines(d, "Forward")
    assert "∂L/∂Q = permute(G, (2, 0, 1))" in _lines(d, "Backward")
    from einderive.api import verify
    assert verify(d).ok


@pytest.mark.parametrize("spec", SPECS)
def test_every_printed_line_reads_back(spec):
    d = _derive(spec)
    env = env_for(d, R.reference(d.graph, seed=2))
    for _, line in entries(plain(d)):
        env.check(line)


DAMAGE = [  # permute_axes, printed then damaged
    ("∂L/∂Q = permute(G, (0, 2, 1, 3))", "∂L/∂Q = permute(G, (0, 1, 3, 2))"),
    ("Qh = permute(Q, (0, 2, 1, 3))", "Qh = permute(Q, (2, 0, 1, 3))"),
]


DAMAGE += [  # log_softmax_rank3: a column of each element's rows, not of its columns
    ("P = Z − logsumexp(Z)", "P = Z − logsumexp(Z, axis=1)"),
    ("∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ logsumexp(Z)",
     "∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ rowsum(Z)"),
]


@pytest.mark.parametrize("good,bad", DAMAGE, ids=[b for _, b in DAMAGE])
def test_the_reader_catches_damage(good, bad):
    d = _derive("log_softmax_rank3" if "Z" in good else "permute_axes")
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


OTHER_SIZES = [5, 3, 7, 2, 11, 13]  # a second set of sizes, distinct from sizes_of's


def _sizes(d, second: bool) -> dict:
    if not second:
        return R.sizes_of(d.graph)
    return dict(zip([dim.name for dim in d.graph.spec.dims], OTHER_SIZES))


@needs_torch
@pytest.mark.parametrize("second", [False, True], ids=["sizes", "other_sizes"])
@pytest.mark.parametrize("spec", SPECS)
def test_generated_code_matches_torch_autograd(tmp_path, spec, second):
    d = _derive(spec)
    sizes = _sizes(d, second)
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
        if t.name in got:
            assert np.allclose(got[t.name], want, rtol=1e-9, atol=1e-10), t.name
        assert np.allclose(a.grad.numpy(), want, rtol=1e-9, atol=1e-10), t.name


@pytest.mark.parametrize("spec", SPECS)
def test_verify_passes(spec):
    from einderive.api import verify
    assert verify(_derive(spec)).ok


@needs_torch
@pytest.mark.parametrize("spec", SPECS)
def test_flops_are_those_torch_counts(tmp_path, spec):
    from test_cost import _check_against_flop_counter
    _check_against_flop_counter(tmp_path, _derive(spec), f"heads_cost_{spec}")


@needs_pdflatex
def test_latex_compiles_without_overfull_boxes(tmp_path):
    from einderive import api
    from test_latex_fit import overfull
    for spec in SPECS:
        tex = api.render(_derive(spec), "latex", standalone=True)
        assert overfull(tmp_path, spec, tex) == [], spec
    tex = api.render(_derive("permute_axes"), "latex")
    assert r"\operatorname{permute}(G, (0, 2, 1, 3))" in tex
