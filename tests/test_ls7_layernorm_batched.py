"""Issue 12, line-split invariance of tests/models (session 38, ls7): the layer norm of a
batch of sequences (rank 3, B×N×D) or of heads (rank 4, B×H×N×D) prints one ∂L/∂X whether
the mean mu is named or inline and whether X̂'s divisor √(var + ε) is named or inline, the
form the matrix layer norm (specs/layernorm.yaml) prints:

    ∂L/∂Xc = (G ⊙ gᵀ − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ √(var + 1e-05)
    ∂L/∂X  = (G ⊙ gᵀ − (1/D) G g − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ √(var + 1e-05)

- a factor constant along a product's contracted axis or a row sum's summed axis comes out
  of a batched form per element, as out of a matrix one (X̂ ⊙ ((G ⊙ X̂ ⊙ s) g) ⊘ s is
  X̂ ⊙ ((G ⊙ X̂) g)): before, with mu inline ∂L/∂Xc read X̂ ⊙ ((G ⊙ X̂ ⊙ √(…)) g) ⊘ √(…),
  with mu named Xc ⊙ ((G ⊙ Xc) g) ⊘ (var + 1e-05);
- a term over the divisor of a sum over it joins the sum (rank 4 with mu inline, whose
  ∂L/∂X is built from ∂L/∂Xc: … ⊘ √(…) − (1/D) (G g) ⊘ √(…) before); other models print
  fewer quotients so (evidential_dirichlet_mse's ∂L/∂P, adaln_modulation's ∂L/∂X).

The layer norm's pinned ∂L/∂X is read back numerically (NumPy, against torch's autograd) and
every spec here passes ``einderive verify``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from line_split_made import made_pairs

MODELS = Path(__file__).resolve().parent / "models"
ROOT = "√(var + 1e-05)"
DXC = f"(G ⊙ gᵀ − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ {ROOT}"
DX_NAMED = f"(G ⊙ gᵀ − (1/D) G g − (1/D) X̂ ⊙ ((G ⊙ X̂) g)) ⊘ {ROOT}"  # mu named
DX_INLINE = f"(G ⊙ gᵀ − (1/D) X̂ ⊙ ((G ⊙ X̂) g) − (1/D) G g) ⊘ {ROOT}"  # mu inline


def _made(rank: int, name: str, side: str) -> str:
    spec = MODELS / f"layernorm_rank{rank}.yaml"
    pair = next(p for p in made_pairs(spec) if p.name == f"models/layernorm_rank{rank}:{name}")
    return pair.spec(side)


def _cases():
    for rank in (3, 4):
        shipped = (MODELS / f"layernorm_rank{rank}.yaml").read_text()
        yield pytest.param(shipped, DXC, DX_NAMED, id=f"rank{rank}")
        yield pytest.param(_made(rank, "inline:mu", "one"), DXC, DX_INLINE,
                           id=f"rank{rank}_mu_inline")
        root = "Xhat_s1"  # X̂'s divisor named by the split
        yield pytest.param(_made(rank, "split:Xhat.1", "split"), DXC.replace(ROOT, root),
                           DX_NAMED.replace(ROOT, root), id=f"rank{rank}_divisor_named")


def _closed(flat: str, name: str) -> str:
    """The closed form printed for ∂L/∂name (the line after its chain form)."""
    head = f"∂L/∂{name} = "
    at = flat.index(head, flat.index("Backward"))
    rest = flat[at + len(head):]
    chain_end = rest.index(" = ")
    return rest[chain_end + 3:].split(" ∂L/∂")[0].strip()


@pytest.mark.parametrize("text, dxc, dx", list(_cases()))
def test_a_batched_layer_norm_prints_the_matrix_forms_named_or_inline(run, tmp_path, text, dxc,
                                                                       dx):
    path = tmp_path / "layernorm_batched.yaml"
    path.write_text(text)
    out = run("derive", path, "--expand")
    assert out.exit_code == 0, out.output
    flat = " ".join(out.stdout.split())
    assert _closed(flat, "Xc") == dxc, flat
    assert _closed(flat, "X") == dx, flat
    assert "⊙ √(" not in flat and "(G ⊙ Xc)" not in flat, flat
    verified = run("verify", path)
    assert verified.exit_code == 0, verified.output
    assert "match finite differences in every printed form" in " ".join(verified.stdout.split())


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 4)], ids=["rank3", "rank4"])
def test_the_pinned_forms_read_back_as_the_gradient(shape):
    """The pinned ∂L/∂X, in each element's matrices (a product G g, a column broadcast
    across the columns, gᵀ down the rows), is torch's gradient of the layer norm."""
    import torch
    rng = np.random.default_rng(7)
    D = shape[-1]
    X, G = rng.normal(size=shape), rng.normal(size=shape)
    g, b = rng.normal(size=D), rng.normal(size=D)
    Xt = torch.tensor(X, requires_grad=True)
    mu = Xt.mean(dim=-1, keepdim=True)
    var_t = ((Xt - mu) ** 2).mean(dim=-1, keepdim=True)
    Y = (Xt - mu) / torch.sqrt(var_t + 1e-5) * torch.tensor(g) + torch.tensor(b)
    (Y * torch.tensor(G)).sum().backward()
    want = Xt.grad.numpy()

    Xc = X - X.mean(axis=-1, keepdims=True)
    var = (Xc * Xc).mean(axis=-1, keepdims=True)
    root = np.sqrt(var + 1e-05)
    Xh = Xc / root
    Gg = (G @ g)[..., None]  # G g: a column of each element
    GXhg = ((G * Xh) @ g)[..., None]  # (G ⊙ X̂) g
    dXc = (G * g - (1 / D) * Xh * GXhg) / root
    dX = (G * g - (1 / D) * Gg - (1 / D) * Xh * GXhg) / root
    assert np.allclose(dX, want, atol=1e-9)
    # ∂L/∂Xc is not ∂L/∂X: its row sums are −∂L/∂mu = (G g) ⊘ √(…), not 0 (the check can fail)
    assert not np.allclose(dXc, want, atol=1e-3)
    assert np.allclose(dXc.sum(axis=-1, keepdims=True), Gg / root)


def test_a_divisor_joins_a_sum_over_it_and_no_product_alone():
    """(A − B) ⊘ s − (1/D) v ⊘ s is (A − B − (1/D) v) ⊘ s; (e ⊙ r) ⊘ s − 1 ⊘ s keeps its two
    quotients (no sum over s: P = e ⊘ s stays readable), and a batched sum joins as a
    matrix one."""
    import sympy

    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.render.styles import Unicode
    from einderive.simplify import divisor_joins_sum, simplify
    show = Unicode().matrix
    A, B_, e = (mx.Ref(n, RefKind.TENSOR, ("N", "D")) for n in ("A", "B", "e"))
    v, r, s = (mx.Ref(n, RefKind.TENSOR, ("N", 1)) for n in ("v", "r", "s"))
    over = mx.power(s, -1)
    m = mx.add(mx.hadamard(mx.add(A, mx.neg(B_)), over),
               mx.scale(mx.Const(sympy.Rational(-1, 4)), mx.hadamard(v, over)))
    out = divisor_joins_sum(m)
    assert out is not None
    assert show(simplify(m)) == show(simplify(out))
    assert show(out).count("⊘ s") == 1, show(out)
    alone = mx.add(mx.hadamard(e, r, over), mx.neg(over))
    assert divisor_joins_sum(alone) is None
    batched = mx.Ref("A", RefKind.TENSOR, ("N", "D"), batch=("B",))
    mb = mx.add(mx.hadamard(mx.add(batched, mx.neg(B_)), over), mx.hadamard(v, over))
    joined = divisor_joins_sum(mb)
    assert joined is not None and mx.batch_of(joined) == ("B",)


@pytest.mark.parametrize("spec, name, form", [
    # two quotients over 1 + S were printed apart: (1 − P) ⊘ (1 + S) + 2 P − 2 Y − P ⊘ (1 + S)
    ("more15/evidential_dirichlet_mse", "P", "(1/B) ((1 − 2 P) ⊘ (1 + S) + 2 P − 2 Y)"),
    # the row sum of ∂L/∂M joins ∂L/∂M's one divisor (was t3 ⊙ (…) − (2/D) t3 ⊙ (t1 t2ᵀ),
    # where t3 = 1 ⊘ √(…)); the joined sum's 2 is written once (ls8), then the whole form's
    ("more10/adaln_modulation", "X",
     "2 ((t1 ⊙ t2 − (1/D) Nx ⊙ rowsum(Nx ⊙ t1 ⊙ t2) − (1/D) t1 t2ᵀ) ⊘ √((1/D) rowsum(M ⊙ M) "
     "+ 1e-06) + X + H W)"),
], ids=["evidential_dirichlet_mse", "adaln_modulation"])
def test_terms_over_one_divisor_print_as_one_quotient(run, spec, name, form):
    path = MODELS / f"{spec}.yaml"
    out = run("derive", path, "--expand")
    assert out.exit_code == 0, out.output
    flat = " ".join(out.stdout.split())
    assert f"∂L/∂{name} = " in flat and f"= {form} " in flat, flat
    verified = run("verify", path)
    assert verified.exit_code == 0, verified.output
    assert "match finite differences in every printed form" in " ".join(verified.stdout.split())
