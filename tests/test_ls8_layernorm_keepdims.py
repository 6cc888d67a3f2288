"""Issue 12, line-split invariance of tests/models (session 39, ls8): the layer norm with
keepdims statistics and a learned scale only (tests/models/layernorm_keepdims.yaml,
``Y = g * (X - mu) / sqrt(var + 1e-5)``) prints one ∂L/∂X whether var, Y or Y's numerator is
on a line of its own or not, the textbook's (∂L/∂X̂ − mean(∂L/∂X̂) − X̂ ⊙ mean(∂L/∂X̂ ⊙ X̂))
⊘ σ with ∂L/∂X̂ = ∂L/∂Y ⊙ gᵀ and ∂L/∂X̂ ⊙ X̂ = ∂L/∂Y ⊙ Y:

    (2/(B D)) (gᵀ ⊙ (Y − T) − (1/D) rowsum(Y ⊙ (Y − T)) ⊙ (X − mu) ⊘ √(var + 1e-05)
               − (1/D) (Y − T) g) ⊘ √(var + 1e-05)

- a column written broadcast, ``c (v ⊘ s) 𝟏ᵀ``, joins a sum over its divisor s as the column
  (with var or Y inline ∂L/∂X read ``… ⊘ √(…) − (2/(B D²)) (((Y − T) g) ⊘ √(…)) 𝟏ᵀ``), and
  the joined sum's number is written once in front where the others are then ±1 over dims
  (divisor_joins_sum, _number_out);
- a product with a named node's row factor over a factor of its numerator reads the node,
  the node's divisor lent from the divisor beside it (make_product_reads_node): with Y on
  one line ∂L/∂X read ``(((X − mu) ⊙ (Y − T)) g) ⊙ (X − mu) ⊘ (var + 1e-05)``, with
  ``g * (X - mu)`` named ``rowsum(Y ⊙ (Y − T)) ⊙ (X − mu) ⊘ √(var + 1e-05)``;
- a row sum of a product of several matrices and a row read by name is their product times
  the column (reduce_as_product_of_many): Y written out of rowsum(Y ⊙ (Y − T)) is what Y
  inline prints;
- a repeated reciprocal 1 ⊘ x of a part x worth a name names x (closed._divided): with var
  inline ∂L/∂X read ``t1 ⊙ (… − (1/D) t1 ⊙ rowsum(Y ⊙ (Y − T)) ⊙ (X − mu) − …)``,
  ``where t1 = 1 ⊘ √(…)``.

The pinned ∂L/∂X is read back numerically (NumPy, against torch's autograd) and every spec
here passes ``einderive verify``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

from line_split_made import made_pairs
from test_ls7_layernorm_batched import _closed  # (the closed form after ∂L/∂name's chain)

SPEC = Path(__file__).resolve().parent / "models" / "layernorm_keepdims.yaml"
ROOT = "√(var + 1e-05)"
DX = (f"(2/(B D)) (gᵀ ⊙ (Y − T) − (1/D) rowsum(Y ⊙ (Y − T)) ⊙ (X − mu) ⊘ {ROOT} − (1/D) "
      f"(Y − T) g) ⊘ {ROOT}")


def _made(name: str, side: str) -> str:
    pair = next(p for p in made_pairs(SPEC) if p.name == f"models/layernorm_keepdims:{name}")
    return pair.spec(side)


def _cases():
    yield pytest.param(SPEC.read_text(), DX, id="shipped")
    for name in ("split:Y.0", "split:var.0", "split:L.0"):  # g * (X - mu), (X - mu) ** 2, Y - T
        yield pytest.param(_made(name, "split"), DX, id=name)
    # sqrt(var + 1e-05) named Y_s1
    yield pytest.param(_made("split:Y.1", "split"), DX.replace(ROOT, "Y_s1"), id="split:Y.1")
    # var inline: its root, read twice, is named (t1 = √(…), not 1 ⊘ √(…): ls8)
    yield pytest.param(_made("inline:var", "one"), DX.replace(ROOT, "t1") +
                       " where t1 = √((1/D) rowsum((X − mu)^∘2) + 1e-05)", id="inline:var")
    # Y inline: no Y to read; the (1/D) (…) g of mu's adjoint joins the sum over √(…)
    yield pytest.param(_made("inline:Y", "one"),
                       "(2/(B D)) (gᵀ ⊙ t1 − (1/D) ((t1 ⊙ (X − mu)) g) ⊙ (X − mu) ⊘ (var + "
                       f"1e-05) − (1/D) t1 g) ⊘ {ROOT} where t1 = gᵀ ⊙ (X − mu) ⊘ {ROOT} − T",
                       id="inline:Y")


@pytest.mark.parametrize("text, dx", list(_cases()))
def test_the_keepdims_layer_norm_prints_one_form_named_or_inline(run, tmp_path, text, dx):
    path = tmp_path / "layernorm_keepdims.yaml"
    path.write_text(text)
    out = run("derive", path, "--expand")
    assert out.exit_code == 0, out.output
    flat = " ".join(out.stdout.split())
    assert _closed(flat, "X") == dx, flat
    verified = run("verify", path)
    assert verified.exit_code == 0, verified.output
    assert "match finite differences in every printed form" in " ".join(verified.stdout.split())


def test_the_pinned_form_reads_back_as_the_gradient():
    """The pinned ∂L/∂X (a row sum and a product by g each a column broadcast across the
    columns, gᵀ down the rows) is torch's gradient of mean((Y − T)²)."""
    import torch
    rng = np.random.default_rng(8)
    B, D = 3, 5
    X, T = rng.normal(size=(B, D)), rng.normal(size=(B, D))
    g = rng.normal(size=D)
    Xt = torch.tensor(X, requires_grad=True)
    mu_t = Xt.mean(dim=-1, keepdim=True)
    var_t = ((Xt - mu_t) ** 2).mean(dim=-1, keepdim=True)
    Yt = torch.tensor(g) * (Xt - mu_t) / torch.sqrt(var_t + 1e-5)
    ((Yt - torch.tensor(T)) ** 2).mean().backward()
    want = Xt.grad.numpy()

    mu = X.mean(axis=-1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=-1, keepdims=True)
    root = np.sqrt(var + 1e-05)
    Y = g * (X - mu) / root
    rows = (Y * (Y - T)).sum(axis=-1, keepdims=True)  # rowsum(Y ⊙ (Y − T))
    Rg = ((Y - T) @ g)[:, None]  # (Y − T) g
    dX = (2 / (B * D)) * (g * (Y - T) - (1 / D) * rows * (X - mu) / root - (1 / D) * Rg) / root
    assert np.allclose(dX, want, atol=1e-9)
    # the row sum is the term the node Y stands in (the check can fail without it)
    assert not np.allclose(dX + (2 / (B * D ** 2)) * rows * (X - mu) / root ** 2, want, atol=1e-3)


def _show():
    from einderive.render.styles import Unicode
    return Unicode().matrix


def test_a_node_is_read_only_where_its_divisor_cancels():
    """((A ⊙ a) v) ⊙ F ⊘ u is rowsum(A ⊙ N) ⊙ F ⊘ √u for N = vᵀ ⊙ a ⊘ √u; with no divisor
    beside it (a √u would be left over) or another row factor, it stays."""
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.simplify import make_product_reads_node
    show = _show()
    A, a, F = (mx.Ref(n, RefKind.TENSOR, ("B", "D")) for n in ("A", "a", "F"))
    v, w = (mx.Ref(n, RefKind.TENSOR, ("D", 1)) for n in ("v", "w"))
    u = mx.Ref("u", RefKind.TENSOR, ("B", 1))
    root = mx.fn("sqrt", u)
    N = mx.Ref("N", RefKind.TENSOR, ("B", "D"))
    rule = make_product_reads_node([(mx.hadamard(mx.transpose(v), a, mx.power(root, -1)), N)])
    m = mx.hadamard(mx.matmul(mx.hadamard(A, a), v), F, mx.power(u, -1))
    out = rule(m)
    assert out is not None and show(out) == "F ⊙ rowsum(A ⊙ N) ⊘ √u", show(out)
    assert rule(mx.hadamard(mx.matmul(mx.hadamard(A, a), v), F)) is None
    assert rule(mx.hadamard(mx.matmul(mx.hadamard(A, a), w), F, mx.power(u, -1))) is None
    assert rule(mx.hadamard(mx.matmul(A, v), F, mx.power(u, -1))) is None


def test_a_row_sum_of_several_matrices_and_a_row_is_a_product():
    from einderive import matrix as mx
    from einderive.kinds import ReduceKind, RefKind
    from einderive.simplify import reduce_as_product_of_many, simplify
    show = _show()
    A, Bm = (mx.Ref(n, RefKind.TENSOR, ("N", "D")) for n in ("A", "B"))
    v, w = (mx.Ref(n, RefKind.TENSOR, ("D", 1)) for n in ("v", "w"))
    c = mx.Ref("c", RefKind.TENSOR, ("N", 1))
    rows = mx.reduce(ReduceKind.ROWSUM, mx.hadamard(A, Bm, mx.transpose(v)))
    assert show(reduce_as_product_of_many(rows)) == "(A ⊙ B) v"
    two = mx.reduce(ReduceKind.ROWSUM, mx.hadamard(A, mx.transpose(v), mx.transpose(w)))
    assert reduce_as_product_of_many(two) is None  # two rows: no one product
    # a column sum keeps its sum (not (A ⊙ B)ᵀ c), as does a computed row (of Aᵀ c)
    cols = mx.reduce(ReduceKind.COLSUM, mx.hadamard(A, Bm, c))
    assert show(simplify(cols)) == "colsum(A ⊙ B ⊙ c)", show(simplify(cols))
    row = mx.transpose(mx.matmul(mx.transpose(A), c))
    assert reduce_as_product_of_many(mx.reduce(ReduceKind.ROWSUM, mx.hadamard(A, Bm, row))) \
        is None


def test_a_joined_sum_writes_its_number_once():
    """((2/(B D)) A − (2/(B D)) G) ⊘ s − (2/(B D²)) (v ⊘ s) 𝟏ᵀ is (2/(B D)) (A − G − (1/D) v)
    ⊘ s."""
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.simplify import divisor_joins_sum
    show = _show()
    B, D = sympy.Symbol("B", positive=True), sympy.Symbol("D", positive=True)
    A, G = (mx.Ref(n, RefKind.TENSOR, ("B", "D")) for n in ("A", "G"))
    v, s = (mx.Ref(n, RefKind.TENSOR, ("B", 1)) for n in ("v", "s"))
    over = mx.power(s, -1)
    col = mx.matmul(mx.hadamard(v, over), mx.Ones((1, "D")))
    c = mx.Const(2 / (B * D))
    m = mx.add(mx.hadamard(mx.add(mx.scale(c, A), mx.neg(mx.scale(c, G))), over),
               mx.scale(mx.Const(-2 / (B * D ** 2)), col))
    out = divisor_joins_sum(m)
    assert out is not None and show(out) == "(2/(B D)) (A − G − (1/D) v) ⊘ s", show(out)


def test_only_a_number_over_dims_is_written_once():
    """2 A ⊘ s + 3 v ⊘ s joins as (2 A + 3 v) ⊘ s: 2 (A + (3/2) v) would write a number
    the form has nowhere."""
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.simplify import divisor_joins_sum
    show = _show()
    A, G = (mx.Ref(n, RefKind.TENSOR, ("B", "D")) for n in ("A", "G"))
    v, s = (mx.Ref(n, RefKind.TENSOR, ("B", 1)) for n in ("v", "s"))
    over = mx.power(s, -1)
    m = mx.add(mx.hadamard(mx.add(mx.scale(mx.Const(sympy.Integer(2)), A), G), over),
               mx.scale(mx.Const(sympy.Integer(3)), mx.hadamard(v, over)))
    out = divisor_joins_sum(m)
    assert out is not None and show(out) == "(2 A + G + 3 v) ⊘ s", show(out)
