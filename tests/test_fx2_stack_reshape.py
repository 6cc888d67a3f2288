"""A stack merged by a reshape (nu49 find C): reshape(stack([A, 2 Bm], axis=0), [PN, M]).

Piece p of the stack is read at the merged index Flat(p, i) = p·N + i.  ∂L/∂A printed
``einsum('aij->ij', reshape(G, [1, N, M]))`` — the digit 0 taken for a size-1 axis, a
reshape of a G with P·N·M entries to N·M — and ``-f numpy``, ``-f torch`` and ``verify``
raised (exit 3).  A leading piece digit is a slice's read (rows p·N … p·N + N − 1); a piece
read every P-th row, or flattened with its rows, is the take of its position from the reshape
to the digits' axes (stop 45; it kept its index form before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_codegen import load
from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)
from test_printed_forms import text_failures

from einderive.api import derive_file, render, verify

REGRESSIONS = Path(__file__).parent / "regressions"

VECTORS = """dims: {N: 3, P: "2", PN: P * N}
inputs: {a: [N], b: [N], g: [PN]}
forward: ['L = sum(tanh(reshape(stack([a, b * b], axis=0), [PN])) * g)']
loss: L
wrt: [a, b]
"""

RANK3 = """dims: {B: 2, N: 2, M: 3, P: "2", PN: P * N}
inputs: {A: [B, N, M], Bm: [B, N, M], G: [B, PN, M]}
forward: ['L = sum(tanh(reshape(stack([A, Bm * 2], axis=1), [B, PN, M])) * G)']
loss: L
wrt: [A, Bm]
"""

def _spec(tmp_path: Path, name: str) -> Path:
    if name == "vectors":
        (tmp_path / "vectors.yaml").write_text(VECTORS)
        return tmp_path / "vectors.yaml"
    if name == "rank3":
        (tmp_path / "rank3.yaml").write_text(RANK3)
        return tmp_path / "rank3.yaml"
    return REGRESSIONS / f"{name}.yaml"


def _autograd(name: str, ts: dict):
    import torch
    if name == "vectors":
        s = torch.stack([ts["a"], ts["b"] * ts["b"]], 0).reshape(-1)
        return (torch.tanh(s) * ts["g"]).sum()
    if name == "rank3":
        s = torch.stack([ts["A"], ts["Bm"] * 2], 1)
        return (torch.tanh(s.reshape(s.shape[0], -1, s.shape[-1])) * ts["G"]).sum()
    pieces = [ts["A"], ts["Bm"] * 2] + ([ts["C"]] if "C" in ts else [])
    axis = 1 if name == "stack_merged_every_pth" else 0
    s = torch.stack(pieces, axis)
    s = s.reshape(-1) if "g" in ts else s.reshape(-1, s.shape[-1])
    return (torch.tanh(s) * ts["g" if "g" in ts else "G"]).sum()


CASES = ["stack_merged_by_reshape", "stack_merged_every_pth", "stack_flattened_whole",
         "vectors", "rank3"]


@pytest.mark.parametrize("name", CASES)
def test_the_generated_gradients_match_autograd(tmp_path, name):
    """-f numpy and -f torch were exit 3 (tuple.index in the gather of a digit 1), verify too."""
    torch = pytest.importorskip("torch")
    spec = _spec(tmp_path, name)
    d = derive_file(str(spec))
    rng = np.random.default_rng(5)
    sizes = {"N": 3, "PN": 6} if name == "vectors" else {"N": 2, "M": 3, "B": 2, "PN": 4,
                                                          "PNM": 18}
    values = {t.name: rng.normal(size=[sizes[str(x)] for x in t.shape])
              for t in d.graph.tensors if t.kind == "input"}
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    _autograd(name, ts).backward()
    got = load(tmp_path, render(d, "numpy")).gradients(**values)
    assert set(got) == set(d.spec.wrt)
    for k in got:
        np.testing.assert_allclose(got[k], ts[k].grad.numpy(), atol=1e-12)
    _run("derive", "--format", "torch", str(spec))
    assert verify(d).ok
    assert text_failures(spec.read_text(), expand=True) == []


def test_a_leading_piece_is_a_slice_of_the_merged_adjoint():
    out = _run("derive", "--expand", str(REGRESSIONS / "stack_merged_by_reshape.yaml"))
    assert "∂L/∂A_ij  = G_{i, j} (1 − tanh(A_ij)²)" in out, out
    assert "∂L/∂A     = slice(G, 0:N) ⊙ (1 − tanh(A)^∘2)" in out, out
    assert "∂L/∂Bm_ij = 2 G_{i + N, j} (1 − tanh(2 Bm_ij)²)" in out, out
    assert "∂L/∂Bm    = 2 slice(G, N:PN) ⊙ (1 − tanh(2 Bm)^∘2)" in out, out
    assert "reshape(G" not in out and "0·N" not in out, out


def test_a_piece_read_every_pth_or_flattened_is_a_take_of_the_reshape():
    """A piece read every P-th row (G_{i·P + 1, j}) or flattened with its rows
    (g_{N·M + i·M + j}) kept its index form until stop 45: it is the take of its position
    from the reshape to the digits' axes, take(reshape(G, [N, P, M]), 1, axis=1)."""
    out = _run("derive", "--expand", str(REGRESSIONS / "stack_merged_every_pth.yaml"))
    assert "∂L/∂A_ij  = G_{i·P, j} (1 − tanh(A_ij)²)" in out, out
    assert "G_{i·P + 1, j}" in out, out
    assert "grad(A)  = take(reshape(G, [N, P, M]), 0, axis=1) ⊙ (1 − tanh(A)^∘2)" in out, out
    assert "grad(Bm) = 2 take(reshape(G, [N, P, M]), 1, axis=1) ⊙ (1 − tanh(2 Bm)^∘2)" \
        in out, out
    assert "+ 0" not in out and "no matrix form" not in out, out
    out = _run("derive", "--expand", str(REGRESSIONS / "stack_flattened_whole.yaml"))
    assert "g_{i·M + j}" in out and "g_{N·M + i·M + j}" in out, out
    assert "g_{2·N·M + i·M + j}" in out, out
    assert "grad(C)  = take(reshape(g, [P, N, M]), 2, axis=0) ⊙ (1 − tanh(C)^∘2)" in out, out
    assert "0·N" not in out and "1·N" not in out and "no matrix form" not in out, out
