"""ex1 (stop 45): three internal errors (exit 3) on valid specs, found by review rv6 (P5, P2,
P3): each spec now derives in every format and verifies, with a right form or its index form
alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_no_internal_error import run_all
from test_printed_forms import text_failures

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"
FORWARD_TEMPORARY = REGRESSIONS / "split_temporary_in_forward_form.yaml"
ONES_BESIDE_KEEPDIMS = REGRESSIONS / "keepdims_sum_plus_ones.yaml"
STACK_SLICED = REGRESSIONS / "stack_merged_then_sliced.yaml"
STACK_SLICED_FROM_1 = REGRESSIONS / "stack_merged_then_sliced_from_1.yaml"


def _invoke(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("spec", [FORWARD_TEMPORARY, ONES_BESIDE_KEEPDIMS, STACK_SLICED,
                                  STACK_SLICED_FROM_1], ids=lambda p: p.stem)
def test_no_internal_error_and_every_form_verifies(spec):
    """Each command exits 0 (rv6 P5: derive exited 3, P2 and P3: verify exited 3)."""
    assert run_all(spec.read_text()) == []
    assert "every printed form" in _invoke("verify", "--seed", "3", str(spec))
    assert text_failures(spec.read_text(), expand=True) == []


def test_a_forward_form_names_no_temporary():
    """Z = reshape(X[:, 0:S, :, :], [B, SD]) @ W of X: [B, T, 1, D] was read forward as
    each_b(Wᵀ t1_bᵀ) with t1 defined nowhere, and the form cache looked t1 up as a tensor
    (KeyError 't1', exit 3).  A forward form has no where-clause: Z keeps its index form;
    the backward forms still name t1, defined."""
    out = _invoke("derive", "--expand", str(FORWARD_TEMPORARY))
    forward = out.split("Backward")[0]
    assert "t1" not in forward
    assert "  Z_il = Σ_n W_nl X_{i, ⌊n/D⌋, n mod D}\n" in forward
    assert "grad(W)     = Σ_b t1_bᵀ (∂L/∂Z_b)ᵀ" in out
    assert "where t1 = reshape(permute(slice(X, :, 0:S), (0, 2, 1, 3))" in out


@pytest.mark.parametrize("fmt,ones", [("numpy", "np.ones((1, H, 1, 1))"),
                                      ("torch", "torch.ones((1, H, 1, 1), dtype=dtype)")])
def test_ones_beside_a_keepdims_sum_take_its_shape(tmp_path, fmt, ones):
    """∂L/∂g = sum(∂L/∂Y ⊙ X, axis=(0, 2, 3), keepdims=True) + 𝟏 of g: [1, H, 1, 1]: the
    code wrote 𝟏 as np.ones((H, 1)), broadcast with the (1, H, 1, 1) sum to (1, H, H, 1)
    (verify exit 3: cannot reshape array of size 9 into shape (1,3,1,1))."""
    spec = tmp_path / "on08_node.yaml"
    spec.write_text(ONES_BESIDE_KEEPDIMS.read_text().replace("3 * sum(g)", "sum(g)"))
    out = _invoke("derive", "--expand", str(spec))
    assert "∂L/∂g      = sum(∂L/∂Y ⊙ X, axis=(0, 2, 3), keepdims=True) + 𝟏" in out
    code = _invoke("derive", "-f", fmt, str(spec))
    assert ones in code
    assert "all 2 gradients" in _invoke("verify", str(spec))
    scaled = _invoke("derive", "-f", "numpy", str(ONES_BESIDE_KEEPDIMS))  # 3 𝟏: reshaped
    assert "np.reshape(3 * np.ones((H, 1)), (1, H, 1, 1))" in scaled


def test_a_fixed_digit_of_a_flat_index_is_a_number_in_the_code():
    """∂L/∂Bm_ij = 2 ∂L/∂Z_{i·2 + 1, j} 𝟙[0 ≤ i·2 + 1 < K] (a slice of a merged stack): the
    code compiled the digit 1 of i·2 + 1 as an index over a dim (CodegenError, exit 3)."""
    code = _invoke("derive", "-f", "numpy", str(STACK_SLICED))
    assert "(np.arange(N).reshape(-1, 1) * 2 + 1) % K" in code
    out = _invoke("derive", "--expand", str(STACK_SLICED))
    assert "∂L/∂Bm_ij = 2 ∂L/∂Z_{i·2 + 1, j} 𝟙[0 ≤ i·2 + 1 < K]" in out


@pytest.mark.parametrize("spec", [STACK_SLICED, STACK_SLICED_FROM_1], ids=lambda p: p.stem)
def test_the_hessian_of_a_sliced_merged_stack_verifies(spec):
    """The Hessian's blocks read the slice's shift inside a digit, δ_{n, ⌊(l)/2⌋} (a Shift of
    0) and δ_{n, ⌊(l + 1)/2⌋} (moved by 1: Flat(i, 0, N, n2) − 1): the code compiled each as a
    letter (CodegenError: the index Shift(l, 0, K) runs over no known dim, exit 3)."""
    out = _invoke("verify", "--hessian", str(spec))
    assert "20 second-order checks" in out and "every printed form" in out


def test_a_temporary_read_twice_is_counted_once_and_read_as_no_tensor():
    """concat_middle_rank3: ∂L/∂Z_b = (2 t1_b − sum(t1_b)·softmax(t1_b) − …) wᵀ where t1_b =
    Z_b w reads t1 three times; the cost walk counted the definition at the first read and
    took the next as a read of a tensor named t1 (KeyError 't1', cost exit 3; found by the
    ex1 sweep)."""
    spec = Path(__file__).parent / "models" / "more" / "concat_middle_rank3.yaml"
    out = _invoke("cost", str(spec))
    row = next(ln for ln in out.splitlines() if ln.startswith("  ∂L/∂Z "))
    assert row.rstrip().endswith("w, Z") and "t1" not in out
