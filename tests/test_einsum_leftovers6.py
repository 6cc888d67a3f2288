"""Issue 12's einsum leftovers, session 33: a contraction over a merged axis is one product.

A contraction of two factors whose free axes and summed axes each run together - every run
one axis or the axes of a dim the spec declares as their product - is NumPy's reading of it:
each factor reshaped to a matrix (rows the one run, columns the other), one matrix product,
the result reshaped back.  cb_kron_einsum's closed forms read ``reshape(K v, [N, P])``
(were ``einsum('ijn,n->ij', reshape(K, [N, P, MQ]), v)`` and ``Σ_n t1_n v A_nᵀ …`` with a
where-clause); rank3_dot_T's total of X ⊙ Y with Y's axes reversed is NumPy's
``sum(X ⊙ permute(Y, (2, 1, 0)))`` (as sum(A ⊙ Aᵀ) of matrices); the einsum of a tensor of four axes against one matrix over two of its axes
(∂L/∂A, ∂L/∂Bk) stays, with its note: a true higher-order contraction.

Every form here passes ``einderive verify``; the code of each (NumPy, PyTorch) computes the
gradients the forward pass's finite differences give.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import derive_text
from test_codegen import _function, _torch_inputs, central_differences, draw, load, needs_torch

from einderive.api import torch_module
from einderive.render.pymodule import numpy_module

MODELS = Path(__file__).resolve().parent / "models"

GROUPED = """
name: grouped_contraction
dims: {N: 2, P: 3, M: 4, NP: N * P}
inputs: {K: [NP, M], v: [M], W: [M, N, P]}
forward:
  - Y = einsum("npm,m->np", reshape(K, [N, P, M]), v)
  - Z = einsum("mnp,np->m", W, Y)
  - L = sum(Z ** 2) + sum(Y ** 2)
loss: L
"""


def _expanded(run, path: Path) -> str:
    out = run("derive", str(path), "--expand")
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_kronecker_matrix_times_a_vector_reshaped_is_one_product(run):
    text = _expanded(run, MODELS / "more8" / "cb_kron_einsum.yaml")
    flat = " ".join(text.split())
    assert "= 2 (reshape(K v, [N, P]) − reshape(y, [N, P])) Bk reshape(v, [M, Q])ᵀ" in flat, text
    assert "= 2 (reshape(K v, [N, P]) − reshape(y, [N, P]))ᵀ A reshape(v, [M, Q])" in flat, text
    assert "  ∂L/∂K4      = 2 reshape((K v − y) vᵀ, [N, P, M, Q])\n" in text, text  # one reshape
    assert "einsum('ijn" not in text and "where t1" not in text, text
    # the true contractions keep their einsum and its note
    assert "  ∂L/∂A       = einsum('ijkl,jl->ik', ∂L/∂K4, Bk)\n" in text, text
    assert "∂L/∂A is written with einsum: it sums a tensor of four axes" in \
        " ".join(run("derive", str(MODELS / "more8" / "cb_kron_einsum.yaml")).stdout.split())


def test_a_contraction_over_a_declared_merged_axis_reads_as_reshapes(run, tmp_path):
    spec = tmp_path / "grouped_contraction.yaml"
    spec.write_text(GROUPED, encoding="utf-8")
    text = _expanded(run, spec)
    for want in ["  Y    = reshape(K v, [N, P])\n",
                 "  Z    = reshape(W, [M, NP]) reshape(Y, [NP])\n",
                 # (a weighted sum of W's slices since stop 45, bt1: it was
                 # reshape(reshape(W, [M, NP])ᵀ ∂L/∂Z, [N, P]) + 2 Y)
                 "  ∂L/∂Y     = Σ_m ∂L/∂Z_m·W_m + 2 Y\n"
                 "            = 2 (Σ_m Z_m·W_m + Y)\n"]:
        assert want in text, text
    assert "einsum" not in text, text
    out = run("verify", str(spec))
    assert out.exit_code == 0 and "match finite differences in every printed form" in \
        " ".join(out.stdout.split()), out.output


def test_a_total_against_a_permuted_tensor_is_numpys_sum(run):
    text = _expanded(run, MODELS / "more" / "rank3_dot_T.yaml")
    assert "  L = sum(X ⊙ X ⊙ permute(Y, (2, 1, 0))) + sum(X ⊙ permute(Y, (2, 1, 0)))\n" \
        in text, text
    assert "einsum" not in text, text
    # each element's transpose stays ᵀ (the batch reading), never a permutation
    text = _expanded(run, MODELS / "more" / "transpose_rank3_all.yaml")
    assert "sum(Vᵀ ⊙ Y) + sum(V ⊙ Z)" in text and "permute(Y" not in text, text


def test_the_reader_reads_a_total_against_a_permutation_and_catches_damage():
    from test_printed_forms import _reads_good_rejects_bad

    from einderive.api import derive_file
    d = derive_file(str(MODELS / "more" / "rank3_dot_T.yaml"))
    _reads_good_rejects_bad(d, "L = sum(X ⊙ X ⊙ permute(Y, (2, 1, 0))) + sum(X ⊙ permute(Y, "
                               "(2, 1, 0)))",
                            "L = sum(X ⊙ X ⊙ permute(Y, (2, 1, 0))) + 2 sum(X ⊙ permute(Y, "
                            "(2, 1, 0)))")


READ_DAMAGE = [  # the printed lines read back to the reference, and damaged
    ("Y = reshape(K v, [N, P])", "Y = reshape(K 2 v, [N, P])"),
    ("∂L/∂Y = reshape(reshape(W, [M, NP])ᵀ ∂L/∂Z, [N, P]) + 2 Y",
     "∂L/∂Y = reshape(reshape(W, [M, NP])ᵀ ∂L/∂Z, [N, P]) + Y"),
]


@pytest.mark.parametrize("good,bad", READ_DAMAGE, ids=[b for _, b in READ_DAMAGE])
def test_the_reader_reads_reshaped_products_and_catches_damage(good, bad):
    from test_printed_forms import _reads_good_rejects_bad
    _reads_good_rejects_bad(derive_text(GROUPED), good, bad)


def test_the_numpy_code_of_a_reshaped_product_computes_the_gradient(tmp_path):
    d = derive_text(GROUPED)
    code = numpy_module(d)
    assert "d_Y = np.sum(d_Z[..., None, None] * W, axis=0) + 2 * Y" in code, code
    module = load(tmp_path, code)
    inputs = draw(d, ())
    grads = module.gradients(**inputs)
    for name in inputs:
        want = central_differences(module.forward, inputs, name)
        assert np.allclose(grads[name], want, rtol=1e-6, atol=1e-7), name


@needs_torch
@pytest.mark.parametrize("name", ["GROUPED", "TALKING_HEADS"])
def test_the_torch_code_of_a_reshaped_product_passes_gradcheck(tmp_path, name):
    import torch
    d = derive_text(globals()[name])
    module = load(tmp_path, torch_module(d))
    assert torch.autograd.gradcheck(_function(module).apply, tuple(_torch_inputs(d)))


TALKING_HEADS = """
name: talking_heads_merged_axis
dims: {H: 2, T: 3, Dh: 2, TT: T * T}
inputs: {Q: [H, T, Dh], K: [H, T, Dh], V: [H, T, Dh], P: [H, H]}
wrt: [Q, K, P]
forward:
  - S = Q @ transpose(K, axes=(0, 2, 1)) / sqrt(Dh)
  - Sm = einsum('gh,hij->gij', P, S)
  - O = softmax(Sm, axis=-1) @ V
  - L = sum(O ** 2)
loss: L
"""


def test_heads_mixed_by_a_matrix_over_a_declared_merged_axis(run, tmp_path):
    """more13/talking_heads_rank3 with T·T declared (TT: T * T): every einsum is a product
    of reshapes; without the declaration no dim names the merged axis, and einsum stays."""
    spec = tmp_path / "talking_heads_merged_axis.yaml"
    spec.write_text(TALKING_HEADS, encoding="utf-8")
    text = _expanded(run, spec)
    for want in ["  Sm      = reshape(P reshape(S, [H, TT]), [H, T, T])\n",
                 "  ∂L/∂S       = reshape(Pᵀ reshape(∂L/∂Sm, [H, TT]), [H, T, T])\n",
                 "  ∂L/∂P       = reshape(∂L/∂Sm, [H, TT]) reshape(S, [H, TT])ᵀ\n"]:
        assert want in text, text
    assert "einsum" not in text, text
    out = run("verify", str(spec))
    assert out.exit_code == 0, out.output
    d = derive_text(TALKING_HEADS)
    code = numpy_module(d)
    assert "d_S = np.reshape(P.T @ np.reshape(d_Sm, (H, TT)), (H, T, T))" in code, code
    assert "d_P = np.reshape(d_Sm, (H, TT)) @ np.reshape(S, (H, TT)).T" in code, code
    module = load(tmp_path, code)
    inputs = draw(d, ())
    grads = module.gradients(**inputs)
    for name in ("Q", "K", "P"):
        want = central_differences(module.forward, inputs, name)
        assert np.allclose(grads[name], want, rtol=1e-6, atol=1e-7), name
    plain = " ".join(_expanded(run, MODELS / "more13" / "talking_heads_rank3.yaml").split())
    assert "einsum('ikl,jkl->ij', ∂L/∂Sm, S)" in plain


def test_a_reshape_of_a_reshaped_product_is_one_reshape(run):
    """A product read over the split axes (Xᵀ G as [D, H, P]) and reshaped back to the
    merged one is the product itself, never reshape(reshape(Xᵀ G, [D, H, P]), [D, HP])."""
    text = _expanded(run, MODELS / "more7" / "maxout_reshape.yaml")
    assert "  ∂L/∂W     = Xᵀ reshape(∂L/∂Z, [B, HP])\n" in text, text
    assert "reshape(reshape(" not in text, text
