"""Issue 12: no einsum where there is no true contraction.

A sum over axes, a broadcast or a reshape of tensors of three or more axes prints as NumPy
writes it (recognize_frame.py), never as einsum:

- a result of fewer axes that stand where the tensors have them (a conv2d's bias gradient
  Σ_i Σ_q Σ_r ∂L/∂Y_imqr, a pooled mean over the last two axes) is NumPy's sum without
  keepdims, ``sum(∂L/∂Y, axis=(0, 2, 3))``;
- a tensor of fewer axes beside a wider one is aligned as NumPy aligns it: a vector along
  the last axis is a row (``gᵀ``), one whose indices stand elsewhere is reshaped to put each
  at its axis (``reshape(m, [B, O, 1])`` beside Y: [B, O, To]);
- a part of at most two indices that no sum over the frame's axes says (a row sum, a matrix
  product) is read by the matrix rules and placed the same way (``reshape((m V − y) Vᵀ,
  [B, O, 1])``): Σ_q V_pq (m V − y)_iq is a matrix product, never a sum over an axis;
- a result the same along an axis broadcasts as ``⊙ 𝟏``; a reshape that only drops a
  literal-1 axis prints as reshape (``reshape(∂L/∂Xr, [N, D])``).

Each form is pinned as printed (text, ``--expand``) with no einsum in the text or the
NumPy code of these adjoints, and ``verify`` proves each by finite differences.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from printed import entries

TESTS = Path(__file__).parent

# (spec, left side, the printed right side: the form, then its closed form if printed)
PINNED = [
    ("models/more7/conv2d_gap_ce", "∂L/∂bc",
     "sum(∂L/∂Y, axis=(0, 2, 3)) = (1/(B Ho Wo)) sum(σ(Y) ⊙ reshape((softmax(Z) − "
     "onehot(lab)) Vᵀ, [B, O, 1, 1]) ⊙ (1 + Y ⊙ (1 − σ(Y))), axis=(0, 2, 3))"),
    ("models/more7/conv2d_gap_ce", "g", "(1/(Ho Wo)) sum(silu(Y), axis=(2, 3))"),
    ("regressions/conv2d_relu", "∂L/∂b",
     "sum(∂L/∂Y, axis=(0, 2, 3)) = 2 sum(Z ⊙ 𝟙[Y > 0], axis=(0, 2, 3))"),
    # (each element's total sum(Y_b) read per element since stop 34: a form per element)
    ("models/more/conv2d_ce", "∂L/∂g_b", "(1/Ho) (sum(Y_b)·softmax(h_b) − Y_b) 𝟏ᵀ"),
    # a whole closed form under its own left side, not the chain form's ∂L/∂Z_bo
    ("models/more/conv2d_ce", "∂L/∂Z_bo", "∂L/∂g_bo ⊙ 𝟙[Z_bo = g_bo]"),
    ("models/more/conv2d_ce", "∂L/∂Z",
     "(1/Ho) 𝟙[Z = reshape(g, [B, O, Ho, 1])] ⊙ reshape(softmax(h) ⊙ rowsum(Y) − Y, "
     "[B, O, 1, 1])"),
    ("models/more/batchnorm_rank3", "∂L/∂var",
     "−(1/2) gᵀ ⊙ sum(∂L/∂Y ⊙ (X − mu), axis=(0, 1), keepdims=True) ⊘ (√(var + 0.001))^∘3"
     " = −(3/2) gᵀ ⊙ sum(Y ⊙ Y ⊙ (X − mu), axis=(0, 1), keepdims=True) ⊘ "
     "(√(var + 0.001))^∘3"),
    # the centred sum over (0, 1) is 0 (simplify's centred rule over axes)
    ("models/more/batchnorm_rank3", "∂L/∂mu",
     "−gᵀ ⊙ sum(∂L/∂Y, axis=(0, 1), keepdims=True) ⊘ √(var + 0.001) = −3 gᵀ ⊙ sum(Y ⊙ Y, "
     "axis=(0, 1), keepdims=True) ⊘ √(var + 0.001)"),
    ("models/more7/ensemble_stack_mean", "∂L/∂P",
     "−(1/(3 B)) onehot(lab) ⊙ 𝟏 ⊘ rowsum(Pm ⊙ onehot(lab))"),
    ("models/more8/textcnn_maxpool", "∂L/∂Y",
     "𝟙[tanh(Y) = reshape(m, [B, O, 1])] ⊙ reshape(∂L/∂m, [B, O, 1]) ⊙ (1 − tanh(Y)^∘2) "
     "= 2 𝟙[tanh(Y) = reshape(m, [B, O, 1])] ⊙ reshape((m V − y) Vᵀ, [B, O, 1]) ⊙ "
     "(1 − tanh(Y)^∘2)"),
    ("models/more8/textcnn_maxpool", "∂L/∂b",
     "Σ_i rowsum(∂L/∂Y_i) = 2 sum(𝟙[tanh(Y) = reshape(m, [B, O, 1])] ⊙ reshape((m V − y) "
     "Vᵀ, [B, O, 1]) ⊙ (1 − tanh(Y)^∘2), axis=(0, 2))"),
    # the closed form written per element of the chain form's batch n under its own left
    # side (a row of softmax(lp) is softmax of lp's row, softmax(lp_n))
    ("models/more8/gmm_diag_loglik", "∂L/∂X", "reshape(∂L/∂Xr, [N, D])"),
    ("models/more8/gmm_diag_loglik", "∂L/∂X_n",
     "(1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))"),
    ("models/more8/gmm_diag_loglik", "∂L/∂Xr_n",
     "(1/N) colsum(Z_n ⊙ softmax(lp_n) ⊘ exp(logs))ᵀ"),
    ("models/more8/gmm_diag_loglik", "∂L/∂logs",
     "−Σ_n ∂L/∂Z_n ⊙ Z_n + (1/N) colsum(softmax(lp)) 𝟏ᵀ = (1/N) (colsum(softmax(lp)) − "
     "Σ_n softmax(lp_n) ⊙ Z_n ⊙ Z_n)"),
    ("models/more7/se_block_conv2d", "s", "(1/(Ho Wo)) sum(Y, axis=(2, 3))"),
    ("models/more7/se_block_conv2d", "∂L/∂g",
     "sum(∂L/∂Z ⊙ Y, axis=(2, 3)) = (2/(B C Ho Wo)) sum(Y ⊙ Z, axis=(2, 3))"),
    ("models/more/sum_axis_tuple_neg", "s", "sum(X ⊙ X, axis=(0, 3))"),
    ("models/more/sum_axis_tuple_neg", "m", "(1/(B C)) sum(X, axis=(1, 2))"),
    ("models/more/norm_axis_tuple", "n", "√sum(X ⊙ X, axis=(1, 2))"),
    ("models/more/reshape_row_batch", "∂L/∂X", "reshape(∂L/∂R, [B, D])"),
    ("models/more/reshape_row_batch", "∂L/∂X_b", "W_b (1 − tanh(Y_bᵀ)^∘2)"),
    # a batched product summed whole: the total of the batched form, NumPy's sum
    ("models/more/attention_rank3_bias", "L", "sum((A V)^∘2)"),
    # an inline batched attention's projections: Σ_b of each element's form, the anonymous
    # scores printed per element
    # (t1_b: ∂L/∂X's t1 = softmax((1/2) X Wq Wkᵀ Xᵀ), each element; its t2 is another part)
    ("regressions/inline_batched_attention", "∂L/∂Wq",
     # (its chain form names the inline softmax as its closed form did: one form)
     "(1/2) Σ_b X_bᵀ (t1_b ⊙ (Y_b − rowsum(Y_b ⊙ t1_b))) X_b Wk"),
    # a reshape that keeps the batch axes, read per element inside Σ_b as a temporary; its
    # closed form through the temporary, ∂L/∂Q's closed form now written per element (the
    # shared keys K_bg, tests/test_einsum_leftovers3.py)
    ("models/more8/gqa_grouped", "∂L/∂Wq", "Σ_b X_bᵀ t1_b = Σ_b X_bᵀ t11_b"),
    ("models/more8/mqa_einsum_heads", "∂L/∂Wq", "Σ_b X_bᵀ t1_b = Σ_b X_bᵀ t8_b"),
    # NumPy's reading of a whole tensor's slice, pad or reshape that keeps the batch axes,
    # times a matrix: rank-3 @ matrix broadcasts it (was einsum('ikj,jl->ikl', …))
    ("models/more/slice_middle_rank3", "H", "slice(X, :, 1:T − 1) W"),
    ("models/more/slice_middle_rank3", "∂L/∂X",
     "pad(∂L/∂H, 1:T − 1, axis=1) Wᵀ + 2 pad(slice(X, :, 0:Tm), 0:Tm, axis=1) + pad(H, 2:T, "
     "axis=1) = pad(slice(X, :, 2:T), 1:T − 1, axis=1) Wᵀ + 2 pad(slice(X, :, 0:Tm), 0:Tm, "
     "axis=1) + pad(H, 2:T, axis=1)"),
    # inside Σ_b the whole window is a temporary read per element, never slice(X_b, …)
    ("models/more/slice_middle_rank3", "∂L/∂W", "Σ_b t1_bᵀ ∂L/∂H_b = Σ_b t1_bᵀ t2_b"),
    ("models/more8/mqa_einsum_heads", "Y", "reshape(O, [B, T, D]) Wo"),
    ("regressions/forward_reshape_batch_sum", "∂L/∂Y",
     "reshape(X, [B, T, D]) ∂L/∂M = 2 reshape(X, [B, T, D]) M"),
    ("regressions/inline_batched_attention", "∂L/∂Wk",
     "(1/2) Σ_b X_bᵀ (t1_b ⊙ (Y_b − rowsum(Y_b ⊙ t1_b)))ᵀ X_b Wq"),
]
SPECS = sorted({spec for spec, _, _ in PINNED})


def _printed(run, spec: str, *args: str) -> str:
    r = run("derive", *args, TESTS / f"{spec}.yaml")
    assert r.exit_code == 0, r.output
    return r.output


def _matrix_lines(text: str) -> dict[str, str]:
    """Each left side's printed matrix form (the second line of each pair, with its closed
    form after `` = `` when printed)."""
    out: dict[str, str] = {}
    for section, line in entries(text):
        if section in ("Forward", "Backward") and " = " in line:
            lhs, rhs = line.split(" = ", 1)
            out[lhs] = rhs
    return out


@pytest.mark.parametrize("spec, lhs, want", PINNED, ids=[f"{s}:{n}" for s, n, _ in PINNED])
def test_the_form_is_numpys_not_einsum(run, spec, lhs, want):
    assert _matrix_lines(_printed(run, spec, "--expand"))[lhs] == want


@pytest.mark.parametrize("spec", SPECS)
def test_no_einsum_in_the_pinned_forms_text_or_code(run, spec):
    """No pinned line holds einsum, in the text or with ``--expand``, no note says it is
    written with einsum, and the NumPy code of each pinned tensor calls none (the
    convolutions' own windows aside)."""
    pinned = [lhs for s, lhs, _ in PINNED if s == spec]
    for args in ((), ("--expand",)):
        text = _printed(run, spec, *args)
        lines = _matrix_lines(text)
        for lhs in pinned:
            if lhs not in lines and not args:
                continue  # a closed form under its own left side: printed with --expand
            assert "einsum" not in lines[lhs], (lhs, lines[lhs])
            assert f"{lhs.split('_')[0]} is written with einsum" not in text
    code = _printed(run, spec, "-f", "numpy")
    for lhs in pinned:
        name = lhs.removeprefix("∂L/∂").split("_")[0]
        lines = [ln for ln in code.splitlines()
                 if ln.strip().startswith(f"d_{name} = " if lhs.startswith("∂") else
                                          f"{name} = ")]
        assert lines, (lhs, code)
        assert not any("einsum" in ln and "sliding_window_view" not in ln for ln in lines), \
            (lhs, lines)


def test_a_true_contraction_stays_einsum(run):
    """A tensor of fewer axes summed against a wider one is a contraction, not a sum over
    axes: the bilinear layer's y_i = W_ijk x_j z_k (specs/bilinear_layer.yaml) and its
    outer product ∂L/∂W stay einsum, never broadcasts of reshaped vectors."""
    r = run("derive", TESTS.parent / "specs" / "bilinear_layer.yaml")
    assert r.exit_code == 0, r.output
    lines = _matrix_lines(r.output)
    assert lines["y"] == "einsum('ijk,j,k->i', W, x, z)"
    assert lines["∂L/∂W"] == "einsum('i,j,k->ijk', ∂L/∂y, x, z)"
    assert lines["∂L/∂x"] == "einsum('ijk,i,k->j', W, ∂L/∂y, z)"


def test_a_reshape_keeping_the_batch_axes_times_a_matrix_is_numpys_product(run):
    """Grouped-query attention's ∂L/∂X reads each head-split adjoint through a reshape that
    keeps the batch axes: NumPy's rank-3 @ matrix, not einsum('ijk,nk->ijn', …); in its
    code too.  (Its closed form stays refused: ∂L/∂Q's own is a true 5-axis contraction.)"""
    text = _printed(run, "models/more8/gqa_grouped")
    assert _matrix_lines(text)["∂L/∂X"] == (
        "reshape(∂L/∂Q, [B, T, D]) Wqᵀ + reshape(∂L/∂K, [B, T, GD]) Wkᵀ + reshape(∂L/∂V, [B, "
        "T, GD]) Wvᵀ")
    code = _printed(run, "models/more8/gqa_grouped", "-f", "numpy")
    (line,) = [ln for ln in code.splitlines() if ln.strip().startswith("d_X = ")]
    assert "einsum" not in line and "np.reshape(d_Q, (B, T, D)) @ Wq.swapaxes(-1, -2)" in line


def test_no_temporary_stands_in_a_forward_form(run):
    """A forward sum over the batch of a reshaped tensor keeps its einsum: a temporary (t1 =
    reshape(X, [B, T, D])) has no place in a forward line (reading one there was an internal
    error, KeyError 't1', in the forms' cache)."""
    text = _printed(run, "regressions/forward_reshape_batch_sum", "--expand")
    forward = [line for sec, line in entries(text) if sec == "Forward"]
    assert "M = einsum('ijm,ijn->mn', reshape(X, [B, T, D]), Y)" in forward
    assert "t1" not in text


@pytest.mark.parametrize("spec", SPECS)
def test_verify_proves_every_printed_form(run, spec):
    r = run("verify", TESTS / f"{spec}.yaml")
    assert r.exit_code == 0, r.output
    assert "match finite differences in every printed form" in " ".join(r.output.split())


@pytest.mark.parametrize("spec", ["models/more/conv2d_ce", "regressions/conv2d_relu",
                                  "models/more/batchnorm_rank3",
                                  "models/more8/gmm_diag_loglik",
                                  "models/more/attention_rank3_bias",
                                  "regressions/inline_batched_attention",
                                  "models/more/slice_middle_rank3",
                                  "models/more8/mqa_einsum_heads"])
def test_the_printed_forms_read_back_to_the_reference(run, spec):
    """The notation reader (tests/notation_reader.py) evaluates each printed line, as NumPy
    reads it, against the reference values (the other specs' default sizes do not fit the
    reader's drawn ones)."""
    from test_printed_forms import failures
    bad = failures(TESTS / f"{spec}.yaml", run)
    assert not bad, "\n".join(bad)
