"""Forms a spec prints the same whether a node is named or written inline (issue 12's
line-split target), pinned as the user reads them: multi-head attention with the heads'
output O inline keeps ∂L/∂Om's closed form reshaped per head (never Wo split per head),
an inline einsum re-read from its index form keeps its operands in the order their letters
are read, and batch norm with its variance inline reads X̂ in ∂L/∂X.  Each spec verifies
(every printed form against finite differences)."""

from __future__ import annotations

from conftest import derive_text

from einderive import api, matrix as mx
from einderive.kinds import ReduceKind, RefKind
from einderive.reuse import _held_out

HEADS = """
name: multihead_attention_o_inline
dims: {T: 4, H: 2, Dh: 3, D: H * Dh, HT: H * T}
inputs: {X: [T, D], Wq: [D, D], Wk: [D, D], Wv: [D, D], Wo: [D, D], G: [T, D]}
forward:
  - Xq = X @ Wq
  - Q = reshape(Xq, [T, H, Dh])
  - Xk = X @ Wk
  - K = reshape(Xk, [T, H, Dh])
  - Xv = X @ Wv
  - V = reshape(Xv, [T, H, Dh])
  - C = einsum("thd,shd->hts", Q, K) / sqrt(Dh)
  - S = reshape(C, [HT, T])
  - P = softmax(S, axis=-1)
  - A = reshape(P, [H, T, T])
  - Om = reshape(einsum("hts,shd->thd", A, V), [T, D])
  - Y = Om @ Wo
  - L = sum(Y * G)
loss: L
wrt: [X, Wq, Wk, Wv, Wo]
"""

BILINEAR = """
name: bilinear_inline
dims: {K: 2, M: 3, N: 4}
inputs: {W: [K, M, N], x: [M], z: [N], t: [K]}
forward:
  - L = l2_loss(einsum("kij,i,j->k", W, x, z), t)
loss: L
"""

BATCHNORM = """
name: batchnorm_var_inline
dims: {B: 4, D: 3}
inputs: {X: [B, D], gamma: [D], beta: [D], G: [B, D]}
forward:
  - mu = mean(X, axis=0)
  - Xc = X - mu
  - Xhat = Xc / sqrt(mean(Xc ** 2, axis=0) + 1e-5)
  - Y = gamma * Xhat + beta
  - L = sum(G * Y)
loss: L
wrt: [X, gamma, beta]
"""


def _printed(text: str) -> str:
    d = derive_text(text)
    report = api.verify(d)
    assert report.ok, (report.error, [c for c in report.checks if not c.ok])
    return api.render(d, "markdown")  # (the closed forms, as --expand prints them)


def _block(out: str, name: str) -> str:
    """The text of ``out``'s section of the adjoint ∂L/∂``name``."""
    start = out.index(f"### ∂L/∂{name}\n")
    end = out.find("\n### ", start + 1)
    return out[start:end if end >= 0 else None]


def test_heads_output_inline_keeps_the_upstream_closed_form_per_head() -> None:
    out = _printed(HEADS)
    for name in ("A_h", "V_h"):  # (the named spec's t1 = reshape(G Woᵀ, [T, H, Dh]))
        block = _block(out, name)
        assert "reshape(G Woᵀ, [T, H, Dh])" in block, block
    assert "reshape(Wo, [H, Dh, D])" not in out, out


def test_inline_einsum_keeps_its_operands_in_the_order_their_letters_are_read() -> None:
    out = _printed(BILINEAR)
    assert "einsum('ijk,j,k->i', W, x, z)" in out, out
    assert "einsum('ijk,k,j->i'" not in out, out


def test_batchnorm_with_its_variance_inline_reads_xhat() -> None:
    out = _printed(BATCHNORM)
    x = _block(out, "X")
    assert "X̂ ⊙ colsum(G ⊙ X̂)ᵀ" in x, x
    assert "colsum(G ⊙ Xc)" not in x, x


def test_a_row_taken_out_of_a_column_sum_is_taken_out_as_a_column() -> None:
    g = mx.Ref("G", RefKind.TENSOR, ("B", "D"))
    row = mx.Ref("r", RefKind.ANON, (1, "D"))
    out = _held_out(mx.reduce(ReduceKind.COLSUM, mx.hadamard(g, row)), row)
    assert out == mx.hadamard(mx.reduce(ReduceKind.COLSUM, g), mx.transpose(row))
    assert out.shape == ("D", 1)
