"""Finds of stop 39: a new user's spec whose verify failed with an internal error (a sum of a
zero), and a thorough printed-forms fuzz find of the test reader (seed 48, structured)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from einderive import matrix as mx
from einderive.api import derive_file
from einderive.cli import main
from einderive.kinds import RefKind
from notation_reader import ReaderError
from test_lead38_finds import _value
from test_printed_forms import _reads_good_rejects_bad, text_failures

HERE = Path(__file__).parent
REGRESSIONS = HERE / "regressions"


def _run(*args: str) -> str:
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_sum_of_zero_is_zero():
    """The entropy of p = softmax(logits ⊙ w) over a rank-3 logits: log_softmax's derivative
    is softmax(logits ⊙ wᵀ) − p, zero once p is read by name, and ∂L/∂w printed
    ``… + sum(0, axis=(0, 1))``, whose generated NumPy (np.sum(0, axis=(0, 1))) failed:
    verify exit 3.  A sum of zeros over any axes is zero."""
    spec = str(REGRESSIONS / "entropy_sum_of_zero.yaml")
    out = _run("derive", spec)
    assert "sum(0" not in out, out
    assert "∂ent/∂w          = Σ_b colsum(logits_b ⊙ p_b ⊙ (∂ent/∂p_b − rowsum(∂ent/∂p_b ⊙" \
        in out, out
    code = _run("derive", "--format", "numpy", spec)
    assert "np.sum(0" not in code, code
    _run("verify", spec)
    assert not text_failures(Path(spec).read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_reader_sizes_a_pad_inside_a_reshape_by_its_count():
    """``∂L/∂x0 = reshape(pad(∂L/∂h0, 0:M, axis=1), [R])`` (x0: [R], h0 = reshape(x0, [M, N])
    [:, 0:M]) is right; the test reader sized the pad by the left side's shape, (6, 1)
    ("pad 0:2 of axis 1 of (2, 2) to (6, 1)").  A reshape's argument is read by its count."""
    spec = REGRESSIONS / "reshape_of_pad.yaml"
    out = _run("derive", str(spec))
    assert "reshape(pad(∂L/∂h0, 0:M, axis=1), [R])" in " ".join(out.split()), out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_reader_reads_a_softmax_of_a_slice_at_a_wider_letter():
    """``∂L/∂x0_j = (∂L/∂h0_j − (Σ_i ∂L/∂h0_i) softmax(slice(x0, 0:M))_j) 𝟙[0 ≤ j < M]``, j
    over N: past the slice's end the element is junk the range cancels (README, "Slicing"),
    as the reader reads a shifted element; it refused the line ("softmax(…) of shape (2, 1)
    written with indices ('j',)").  Without the range the line fails."""
    spec = REGRESSIONS / "softmax_of_a_slice_at_a_wider_letter.yaml"
    out = _run("derive", str(spec))
    line = "softmax(slice(x0, 0:M))_j) 𝟙[0 ≤ j < M]"
    assert line in " ".join(out.split()), out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())
    good = ("∂L/∂x0_j = (∂L/∂h0_j − (Σ_i ∂L/∂h0_i) softmax(slice(x0, 0:M))_j) "
            "𝟙[0 ≤ j < M]")
    _reads_good_rejects_bad(derive_file(str(spec)), good, good.replace(" 𝟙[0 ≤ j < M]", ""))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("stem, printed", [
    ("slice_of_a_product", "∂L/∂x0    = ∂L/∂h0 slice(x1, :, 0:M)ᵀ"),
    ("slice_of_a_product_at_an_offset", "∂L/∂x0    = ∂L/∂h0 slice(x1, :, J:N)ᵀ"),
    ("pad_inside_permute", "∂L/∂x0      = ∂L/∂h0 slice(x1, :, :, 0:M)ᵀ"),
    ("pad_inside_permute", "∂L/∂x1      = x0ᵀ pad(∂L/∂h0, 0:M, axis=2)"),
])
def test_a_sum_under_a_range_of_its_index_is_the_sum_over_the_range(stem, printed):
    """The adjoint of a slice of a product, Σ_j′ ∂L/∂h0_jj′ x1_kj′ 𝟙[0 ≤ j′ < M] with j′
    over N, had no matrix form (a pad of the product of both factors is a tensor of three
    indices); summed over the range alone it is ∂L/∂h0 slice(x1, :, 0:M)ᵀ.  Batched, a product read in the other order is
    each element's transpose, not permute(…, (0, 2, 1))."""
    spec = REGRESSIONS / f"{stem}.yaml"
    out = _run("derive", str(spec))
    assert printed in out, out
    assert "permute(" not in out and "no matrix form" not in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("stem, printed, never", [
    ("batch_of_one_beside_dim_b", "= Σ_a 4 (Σ_b (wᵀ Kx_b)·(w ⊙ Kx_b) Xe_b − Ce_a ⊙ w ⊙ (Kxᵀ Kx w))",
     "Σ_b 4 (Σ_b"),
    ("time_major_step", "x0 = reshape(slice(X, 0:1), [B, D])", "Σ_"),
])
def test_a_batch_of_one_never_reads_as_a_dim(stem, printed, never):
    """New-user finds: a batch of one was summed with the letter a sum over dim B writes (a
    Σ_b nested in a Σ_b, read as two sums over B); a slice of one step of a leading axis
    printed as a batch of one, Σ_b slice(X, 0:1), its note speaking of ∂L/∂ of a forward
    slice.  The letter is one no dim's sum writes; the step is the reshape that drops it."""
    spec = REGRESSIONS / f"{stem}.yaml"
    out = _run("derive", "--expand", str(spec))
    assert printed in " ".join(out.split()), out
    assert never not in out and "∂L/∂(" not in out, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_vector_function_beside_a_batch_is_along_the_vector_in_code():
    """New-user finds: softmax(a) (and log_softmax, logsumexp) of a vector beside a batch of
    matrices prints right, but the generated NumPy made the vector a column and took the
    function along NumPy's last axis, the column's own of one element (softmax(a[:, None])
    is all ones): `derive -f numpy` printed wrong code with exit 0, verify failed (FAIL, or
    exit 3 where the shapes then clashed).  The code names the column's axis."""
    spec = str(REGRESSIONS / "softmax_of_a_vector_beside_a_batch.yaml")
    code = _run("derive", "--format", "numpy", spec)
    assert "softmax(a[:, None])" not in code and "softmax(a[:, None], axis=0)" in code, code
    _run("verify", spec)
    assert not text_failures(Path(spec).read_text())


def test_a_tensor_named_as_a_notation_symbol_is_bold_in_mathml():
    """New-user find: ``L = sum(sigma * sigmoid(x * delta))`` set ∂L/∂x in MathML with σ
    and δ, the logistic function's and the Kronecker delta's glyphs: which σ is the
    tensor?  The tensors are bold (𝛔, 𝛅), as the terminal prints a tensor σ; the function
    stays σ.  (LaTeX keeps \\sigma: its width table has no bold math italic.)"""
    spec = str(REGRESSIONS / "tensors_named_sigma_and_delta.yaml")
    html = _run("derive", "--format", "html", spec)
    assert "<mi>𝛔</mi>" in html and "<mi>𝛅</mi>" in html and "<mi>σ</mi>" in html, html

@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("stem, printed, never", [
    ("inverse_beside_logdet_of_one_product", "= vᵀ ⊙ (Pmᵀ − Pmᵀ Sᵀ Pmᵀ)", "⁻ᵀ"),
    ("piece_of_a_concatenation_node", "∂L/∂x1 = x1", "slice(Y, :, 0:K)"),
    ("piece_of_a_concatenation_node", "= tanh(x2) ⊙ (1 − tanh(x2)^∘2)", "= slice(Y"),
])
def test_a_forward_node_is_met_by_name(stem, printed, never):
    """New-user finds: two lines each made their own anonymous A ⊙ vᵀ (inv(A * v) and
    logdet(A * v)), so ∂L/∂A wrote (A ⊙ vᵀ)⁻ᵀ where Pm = inv(A * v) is a node: a later
    line reads the part of a line that is one function of it alone.  A slice of a
    concatenation node at one piece's place is that piece (∂L/∂x1 = x1, not
    slice(Y, :, 0:K))."""
    spec = REGRESSIONS / f"{stem}.yaml"
    out = _run("derive", "--expand", str(spec))
    flat = " ".join(out.split())
    assert printed in flat and never not in flat, out
    _run("verify", str(spec))
    assert not text_failures(spec.read_text())


def test_a_logistic_among_other_factors_is_named():
    """New-user point: ∂L/∂W of M = log1p(exp(X W)) printed Xᵀ (∂L/∂M ⊙ exp(X W) ⊘ (1 +
    exp(X W))): exp(u) ⊘ (1 + exp(u)) is σ(u) among other factors too."""
    import numpy as np

    from einderive.render.styles import Unicode
    from einderive.simplify import sigmoid_of_exp
    p = Unicode()
    G, U = (mx.Ref(n, RefKind.TENSOR, ("N", "D")) for n in "GU")
    e = mx.fn("exp", U)
    m = mx.hadamard(G, e, mx.power(mx.add(mx.ONE, e), -1))
    out = sigmoid_of_exp(m)
    assert out is not None and p.matrix(out) == "G ⊙ σ(U)", p.matrix(out)
    rng = np.random.default_rng(0)
    vals = {n: rng.normal(size=(3, 2)) for n in "GU"}
    assert np.allclose(_value(p.matrix(m), vals), _value(p.matrix(out), vals))


def test_a_sum_over_the_batch_inside_each_element_takes_another_letter():
    """New-user find: ∂L/∂U_i = C_i ⊙ (Σ_i U_i) + S, a Σ_i in a line that holds for every
    i; the sum takes i′ (README: a Σ never reuses a letter written elsewhere in its term),
    and the line reads back as printed (a Σ_i there would read the element i's U alone)."""
    import torch_reference as R
    from test_printed_forms import env_for
    spec = REGRESSIONS / "batch_sum_inside_each_element.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "= C_i ⊙ (Σ_i′ U_i′) + S" in out, out
    d = derive_file(str(spec))
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check("∂L/∂U_i = C_i ⊙ (Σ_i′ U_i′) + S")
    with pytest.raises(ReaderError):
        env.check("∂L/∂U_i = C_i ⊙ (U_i) + S")


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_a_hessian_vector_block_is_subscripted_as_its_form(fmt):
    """New-user find: ``ℛ{∂L/∂X} = 6 (m_b ⊙ ṁ_b) 𝟏ᵀ`` under "(∇²L) v, by blocks", a form
    of each element b under a left side of the whole X; the block's left side is its
    form's, as a gradient row's is (grad(X)_b)."""
    spec = str(REGRESSIONS / "hvp_block_of_each_element.yaml")
    out = _run("derive", "--hvp=", "--format", fmt, spec)
    if fmt == "latex":
        assert "{\\partial X_{b}}\\right\\} &= 6 (m_{b} \\odot \\dot{m}_{b})" in out, out
    else:
        assert "ℛ{∂L/∂X_b} = 6 (m_b ⊙ ṁ_b) 𝟏ᵀ" in " ".join(out.split()), out
    _run("verify", "--hvp=", spec)


@pytest.mark.parametrize("text, message, hint", [
    ("  - tr = trace(A)\n  - L = tr * tr\n", "the node name 'tr' is a word of the printed "
     "notation (tr(…) is how the output writes a trace)", "choose another name, e.g. 'tr_'"),
    ("  - L = tr(A)\n", "unknown function 'tr'", "a spec writes trace(A)"),
    ("  - L = sum(rowsum(A))\n", "unknown function 'rowsum'", "a spec writes sum(X, axis=1)"),
])
def test_a_word_of_the_printed_notation_is_refused_as_one(text, message, hint, tmp_path):
    """New-user find (second hunt): a node named tr was refused as "shadows the function
    tr()", and a call tr(A) hinted nothing, though no spec calls tr: the printed notation
    writes a trace so.  The error says what the word is and how a spec writes it (exit 2)."""
    path = tmp_path / "s.yaml"
    path.write_text("dims: {N: 3}\ninputs:\n  A: [N, N]\nforward:\n" + text + "loss: L\n")
    r = CliRunner().invoke(main, ["derive", str(path)])
    assert r.exit_code == 2, r.output
    assert f"s.yaml:5:" in r.output and message in r.output and hint in r.output, r.output


@pytest.mark.parametrize("args", [["cost"], ["derive", "--cost"], ["derive", "--cost", "-f", "json"]])
def test_the_cost_of_a_per_element_temporary_is_its_definitions(args):
    """New-user find (second hunt): ``cost`` exited 3 (KeyError: 't1') where a matrix form
    reads a temporary per element (t1_bd of ``where t1_bd = X_bd − reshape(m, [A, C])``): the
    count looked the element up among the clauses' left sides, which hold the whole t1."""
    spec = str(REGRESSIONS / "cost_of_a_per_element_temporary.yaml")
    out = _run(*args, spec)
    if args == ["cost"]:
        # once, not once per element (A²·B²·C·D), and the unnamed difference read as u
        assert "  ∂L/∂X                   0             2·A·B·C·D " in out, out
        assert "u_ijkl  " not in out.split("u_ijkl = X_ijkl − m_ik")[1], out


@pytest.mark.parametrize("extra", [[], ["--hvp="]])
def test_a_golden_written_as_the_readme_says_passes_check(extra, tmp_path, monkeypatch):
    """New-user find (second hunt): ``derive -f markdown [--hvp=] erc.yaml -o golden/erc.md``
    named the spec ``erc.yaml`` where ``check`` names it from the golden's folder,
    ``../erc.yaml``: the fresh golden failed at once (exit 1).  Written to a file, a
    golden names its spec as check does."""
    (tmp_path / "golden").mkdir()
    (tmp_path / "erc.yaml").write_text((HERE.parent / "specs" / "mlp.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    _run("derive", "-f", "markdown", *extra, "erc.yaml", "-o", "golden/erc.md")
    assert "- spec: `../erc.yaml`" in (tmp_path / "golden" / "erc.md").read_text()
    assert "1 passed" in _run("check", "erc.yaml")


def test_a_sum_under_a_range_is_not_narrowed_through_a_lookup():
    """derive-all of this stop's first narrowed sums: ∂L/∂W of a tied next-token model,
    Σ_i (…) E_(tok_i, k) 𝟙[0 ≤ i < Tm] with i over T, read as Eᵀ onehot(tok)ᵀ (…) with the
    sum narrowed to Tm: onehot(tok) has T rows (verify exit 3, a product of mismatched
    shapes).  A lookup at the index is no plain read: that sum keeps its index form."""
    spec = HERE / "models" / "more8" / "next_token_tied.yaml"
    out = _run("derive", "--expand", str(spec))
    assert "onehot(tok)ᵀ (((softmax(Z)" not in out, out
    _run("verify", str(spec))
