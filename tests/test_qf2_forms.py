"""Stop 43, qf2: textbook forms left by stop 42's hunts."""

from __future__ import annotations

from pathlib import Path

from test_lead39_finds import _run  # (the CLI run, exit 0 asserted, its output)

MORE = Path(__file__).parent / "models" / "more"
REGRESSIONS = Path(__file__).parent / "regressions"


def _forward_section(out: str) -> str:
    return out.split("Forward")[1].split("Backward")[0]


def test_a_forward_line_keeps_the_terms_it_writes_apart():
    """sum(exp(x) * (W @ x)) + x @ W @ x printed (xᵀ + exp(x)ᵀ) W x: factor_operand joined
    two terms the line writes apart."""
    spec = MORE / "x_three_times.yaml"
    out = _run("derive", "--only", "forward", str(spec))
    assert "  L = sum(x^∘3) + xᵀ W x + exp(x)ᵀ W x\n" in out, out
    _run("verify", str(spec))


def test_a_forward_line_keeps_its_two_sums_of_v_apart():
    """sum(v @ (R * m)) + sum(v @ log(R)) printed vᵀ (rowsum(log(R)) + R mᵀ); its terms
    apart, the product of one number reads from v as the line writes it (m is a row)."""
    spec = MORE / "colmean_cancel.yaml"
    out = _run("derive", "--only", "forward", str(spec))
    assert "  L    = vᵀ rowsum(log(R)) + vᵀ R mᵀ\n" in out, out
    _run("verify", str(spec))


def test_a_sum_the_line_writes_inside_a_product_stays_inside(tmp_path):
    """x @ (A + B) @ x keeps its sum; x @ A @ x + x @ B @ x keeps its two terms."""
    spec = tmp_path / "f.yaml"
    spec.write_text("dims: {N: 4, M: 3}\ninputs: {x: [N], A: [N, N], B: [N, N], X: [M, N],"
                    " b: [N], c: [N]}\nforward:\n  - L1 = x @ (A + B) @ x\n"
                    "  - L2 = x @ A @ x + x @ B @ x\n  - y = X @ (b + c)\n"
                    "  - z = X @ b + X @ c\n  - L = L1 + L2 + sum(y) + sum(z)\nloss: L\n")
    out = _forward_section(_run("derive", "--only", "forward", str(spec)))
    for line in ("L1  = xᵀ (A + B) x", "L2  = xᵀ A x + xᵀ B x", "y   = X (b + c)",
                 "z   = X b + X c"):
        assert f"  {line}\n" in out, out
    _run("verify", str(spec))


def test_a_hessian_block_of_an_input_with_itself_prints_as_a_symmetric_sum():
    """Cosine similarity's ∂²L/∂a² printed ((aᵀ b)·((2/‖a‖²)·a aᵀ − 𝐈) − a bᵀ − (b − ((aᵀ
    b)/‖a‖²)·a) aᵀ)/(‖a‖³ ‖b‖): symmetric in value, but a bᵀ without its b aᵀ."""
    spec = Path(__file__).parent / "models" / "cosine_similarity.yaml"
    out = _run("derive", "--hessian=a,b", str(spec))
    assert "∂²L/∂a²      = (1/‖a‖⁵/‖b‖)·(3 (aᵀ b)·a aᵀ − ‖a‖²·(a bᵀ + b aᵀ + (aᵀ b)·𝐈))\n" \
        in out, out
    assert "∂²L/∂b²      = (1/‖a‖/‖b‖⁵)·(3 (aᵀ b)·b bᵀ − ‖b‖²·(a bᵀ + b aᵀ + (aᵀ b)·𝐈))\n" \
        in out, out
    _run("verify", "--hessian=a,b", str(spec))


def test_shows_symmetric_reads_pairs_and_diagonals():
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.simplify import shows_symmetric
    a, b = (mx.Ref(n, RefKind.TENSOR, (3, 1)) for n in "ab")
    ab, ba = mx.matmul(a, mx.transpose(b)), mx.matmul(b, mx.transpose(a))
    assert shows_symmetric(mx.add(ab, ba))
    assert shows_symmetric(mx.add(mx.matmul(a, mx.transpose(a)), mx.Eye("N", (3, 3))))
    assert not shows_symmetric(mx.add(ab, mx.matmul(mx.add(b, a), mx.transpose(a))))
    w = mx.Ref("W", RefKind.TENSOR, (4, 3))
    assert shows_symmetric(mx.matmul(mx.matmul(mx.transpose(w), mx.Diag(a, (3, 3))), w))


def test_ones_product_passes_over_a_product_with_a_number():
    """A product with an operand of no axes (the multiplied-out Hessian block of
    reuse_alike_terms_unscaled reached one) raised IndexError in ones_product: exit 3."""
    from einderive import matrix as mx
    from einderive.kinds import RefKind
    from einderive.simplify import ones_product
    x, c = mx.Ref("x", RefKind.TENSOR, (3, 1)), mx.Ref("c", RefKind.TENSOR, ())
    assert ones_product(mx.MatMul(x, c, (3, 1))) is None
    assert ones_product(mx.MatMul(c, mx.transpose(x), (1, 3))) is None
