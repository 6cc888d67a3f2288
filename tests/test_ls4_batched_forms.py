"""Issue 12, line-split invariance of tests/models (session 36, ls4): forms that a spec
prints the same whether a node is on its own line or written inline.

- Batched attention with the softmax (or the output O = P V) written inline: the row sum
  of ∂L/∂S, rowsum((G Vᵀ) ⊙ softmax(S)), reads the output node, rowsum(G ⊙ O), per batch
  element as it does unbatched, and through two nodes (Z = O Wo: rowsum(G ⊙ Z)).
- A transposed elementwise product whose function of a product is transposed inside
  ((V ⊙ (1 − tanh(X_b A_b)ᵀ^∘2))ᵀ) takes its transpose in: Vᵀ ⊙ (1 − tanh(X_b A_b)^∘2).

Every spec here passes ``einderive verify`` (each printed form against finite differences).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ATTENTION = """
name: attention_softmax_inline
dims: {B: 2, N: 3, D: 4}
inputs: {Q: [B, N, D], K: [B, N, D], V: [B, N, D], G: [B, N, D]}
forward:
  - S = Q @ transpose(K, axes=(0, 2, 1)) / sqrt(D)
  - O = softmax(S, axis=-1) @ V
  - L = sum(G * O)
loss: L
"""

PROJECTED = """
name: attention_output_inline
dims: {B: 2, N: 3, D: 4, E: 5}
inputs: {Q: [B, N, D], K: [B, N, D], V: [B, N, D], Wo: [D, E], G: [B, N, E]}
forward:
  - S = Q @ transpose(K, axes=(0, 2, 1)) / sqrt(D)
  - P = softmax(S, axis=-1)
  - Z = P @ V @ Wo
  - L = sum(G * Z)
loss: L
"""

PROJECTED_SOFTMAX = PROJECTED.replace("  - P = softmax(S, axis=-1)\n", "").replace(
    "Z = P @ V @ Wo", "O = softmax(S, axis=-1) @ V\n  - Z = O @ Wo").replace(
    "attention_output_inline", "attention_projected_softmax_inline")

EINSUM = """
name: einsum_batched_inline
dims: {B: 2, T: 3, D: 2, E: 3}
inputs: {X: [B, T, D], A: [B, D, E], V: [E, T]}
forward:
  - Z = einsum("bte,et->b", tanh(einsum("btd,bde->bte", X, A)), V)
  - L = sum(Z ** 2)
loss: L
"""


def _spec(tmp_path: Path, text: str) -> Path:
    text = textwrap.dedent(text)
    path = tmp_path / (text.split("name: ")[1].split("\n")[0] + ".yaml")
    path.write_text(text)
    return path


def _expanded(run, path: Path) -> str:
    out = run("derive", path, "--expand")
    assert out.exit_code == 0, out.output
    return " ".join(out.stdout.split())


def _verified(run, path: Path) -> None:
    out = run("verify", path)
    assert out.exit_code == 0, out.output
    assert "match finite differences in every printed form" in " ".join(out.stdout.split())


@pytest.mark.parametrize("text, dS", [
    (ATTENTION, "= softmax(S) ⊙ (G Vᵀ − rowsum(G ⊙ O)) ∂L/∂Q"),
    (PROJECTED, "= P ⊙ (G Woᵀ Vᵀ − rowsum(G ⊙ Z)) ∂L/∂Q"),
    (PROJECTED_SOFTMAX, "= softmax(S) ⊙ (G Woᵀ Vᵀ − rowsum(G ⊙ Z)) ∂L/∂Q"),
], ids=["softmax_inline", "output_inline", "softmax_inline_projected"])
def test_batched_attention_reads_its_output_in_the_row_sum(run, tmp_path, text, dS):
    path = _spec(tmp_path, text)
    flat = _expanded(run, path)
    assert dS in flat, flat
    assert "⊙ softmax(S))" not in flat and "colsum(" not in flat, flat
    _verified(run, path)


def test_the_row_sum_is_left_where_the_product_is_no_node(run, tmp_path):
    """With L = sum(G * (P @ V) * (P @ V)) no node is P V: the row sum of ∂L/∂S keeps the
    product, never a node of another product (S, P)."""
    text = ATTENTION.replace("O = softmax(S, axis=-1) @ V", "P = softmax(S, axis=-1)").replace(
        "L = sum(G * O)", "L = sum(G * (P @ V) * (P @ V))").replace(
        "attention_softmax_inline", "attention_no_node")
    path = _spec(tmp_path, text)
    flat = _expanded(run, path)
    assert "= 2 P ⊙ ((G ⊙ (P V)) Vᵀ − rowsum(G ⊙ (P V)^∘2)) ∂L/∂Q" in flat, flat
    _verified(run, path)


def test_a_transposed_product_of_a_function_takes_its_transpose_in(run, tmp_path):
    path = _spec(tmp_path, EINSUM)
    flat = _expanded(run, path)
    assert "= 2 Z_b·(Vᵀ ⊙ (1 − tanh(X_b A_b)^∘2)) A_bᵀ" in flat, flat
    assert "= 2 Z_b·X_bᵀ (Vᵀ ⊙ (1 − tanh(X_b A_b)^∘2))" in flat, flat
    assert "ᵀ^∘2" not in flat, flat
    _verified(run, path)


TRACE_DIAG = """
name: trace_of_diag_product
dims: {N: 3}
inputs: {A: [N, N], v: [N]}
forward:
  - t = trace(A @ diag(v)) + trace(diag(v) @ A.T)
  - L = t * t
loss: L
"""


def test_a_matrix_masked_by_the_identity_and_summed_is_its_diagonal(run, tmp_path):
    """trace(A diag(v)) reads Σ_i Σ_i′ v_i A_i′i δ_ii′ from its index form: vᵀ diagonal(A)
    (was vᵀ colsum(A ⊙ 𝐈)); so does trace(diag(v) Aᵀ), whose mask meets Aᵀ."""
    path = _spec(tmp_path, TRACE_DIAG)
    flat = _expanded(run, path)
    assert "⊙ 𝐈" not in flat, flat
    assert "t = 2 vᵀ diagonal(A)" in flat, flat
    _verified(run, path)


def test_the_trace_of_a_rectangular_product_with_a_transpose_is_a_sum():
    """tr(U Vᵀ) of U, V: B×D (a node S = U Vᵀ read by tr(S), written out) prints as the spec
    with the product inline does, sum(U ⊙ V); of vectors, uᵀ v; a square pair keeps its
    trace (tr(A Bᵀ)), and the two print the same numbers."""
    import numpy as np

    from einderive import matrix as mx
    from einderive.kinds import ReduceKind, RefKind
    from einderive.render.styles import Unicode
    from einderive.simplify import simplify
    show = Unicode().matrix

    def tr(a, b):
        return mx.reduce(ReduceKind.SUM, mx.Diagonal(mx.matmul(a, mx.transpose(b)),
                                                     (a.shape[0], 1)))
    U, V = (mx.Ref(n, RefKind.TENSOR, ("B", "D")) for n in "UV")
    u, v = (mx.Ref(n, RefKind.TENSOR, ("B", 1)) for n in "uv")
    A, B = (mx.Ref(n, RefKind.TENSOR, ("D", "D")) for n in "AB")
    assert show(simplify(tr(U, V))) == "sum(U ⊙ V)"
    assert show(simplify(tr(u, v))) == "uᵀ v"
    assert show(simplify(tr(A, B))) == "tr(A Bᵀ)"
    rng = np.random.default_rng(0)
    Un, Vn = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    assert np.isclose(np.trace(Un @ Vn.T), np.sum(Un * Vn))


def test_a_row_broadcast_by_ones_in_a_sum_of_matrices_is_the_row():
    """−wᵀ ⊙ 𝟏 + P (𝟏: B×D) is P − wᵀ: the sum broadcasts the row as ⊙ does (column_division
    with exp(X) named prints so, as it does inline); alone, the 𝟏 stays (it says the shape)."""
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.render.styles import Unicode
    from einderive.simplify import simplify
    show = Unicode().matrix
    P = mx.Ref("P", RefKind.TENSOR, ("B", "D"))
    w = mx.Ref("w", RefKind.TENSOR, ("D", 1))
    row = mx.hadamard(mx.transpose(w), mx.Ones(("B", "D")))
    assert show(simplify(mx.add(P, mx.neg(row)))) == "P − wᵀ"
    assert show(simplify(mx.neg(row))) == "−wᵀ ⊙ 𝟏"


def test_the_comparison_writes_a_nodes_row_and_element_and_still_sees_a_change():
    """A split spec that reads a node's row ((L_s1)_j of L_s1 = p V, written Vᵀ p_j) or an
    element of a permutation (Y_c of Y = Xᵀ, written X_c) prints as its one-line spec; one
    that computes something else there does not."""
    from line_split_made import made_pairs
    from split_pairs import compare
    models = Path(__file__).resolve().parent / "models"
    for spec, name in (("conv1d_pool_head", "split:L.0"), ("transpose_axes", "inline:Y")):
        pair = next(p for p in made_pairs(models / f"{spec}.yaml")
                    if p.name == f"models/{spec}:{name}")
        assert not compare(pair)[1]
        split = tuple(x.replace("p @ V", "p @ V @ V.T @ V")
                      .replace("transpose(X, axes", "transpose(X * X, axes") for x in pair.split)
        assert split != pair.split
        assert compare(pair._replace(split=split))[1]


GRAM = """
name: gram_centred_half_named
dims: {B: 4, D: 3}
inputs: {X: [B, D], A: [D, D]}
forward:
  - mu = mean(X, axis=0)
  - Xc = X - mu
  - C = (X - mu).T @ Xc
  - L = sum(A * C)
loss: L
"""


def test_a_row_sum_of_a_transposed_centred_difference_is_zero(run, tmp_path):
    """(X − mu)ᵀ written inline beside Xc = X − mu named: the row sum rowsum(Xᵀ − mu) of the
    column mean is zero as colsum(Xc) is, and ∂L/∂X prints as with both named (was
    (Xc − (1/B) rowsum(Xcᵀ)ᵀ) A + Xc Aᵀ, ∂L/∂mu = −Aᵀ rowsum(Xcᵀ))."""
    path = _spec(tmp_path, GRAM)
    flat = _expanded(run, path)
    assert "= Xc (A + Aᵀ) ∂L/∂A" in flat, flat
    assert "= −colsum(∂L/∂Xc) = 0" in flat, flat
    _verified(run, path)
