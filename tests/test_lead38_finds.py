"""Finds of stop 38: two thorough printed-forms fuzz finds (seeds 45 and 46, each with its spec in
tests/regressions) and the groupings that made six line-split pairs of tests/models differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from einderive import matrix as mx
from einderive.cli import main
from einderive.kinds import RefKind
from einderive.simplify import cost, scalar_into_sum, simplify
from line_split_made import made_pairs
from split_pairs import compare
from test_printed_forms import text_failures

HERE = Path(__file__).parent
REGRESSIONS = HERE / "regressions"


def _derive(spec: str) -> str:
    r = CliRunner().invoke(main, ["derive", spec])
    assert r.exit_code == 0, r.output
    return r.output


def _verified(spec: object) -> None:
    v = CliRunner().invoke(main, ["verify", str(spec)])
    assert v.exit_code == 0, v.output


def _proven(spec: Path, printed: str) -> str:
    """The derivation of ``spec``, which prints ``printed``, verifies, and reads back."""
    out = _derive(str(spec))
    assert printed in out, out
    _verified(spec)
    assert not text_failures(spec.read_text())
    return out


def test_a_left_side_is_never_subscripted_at_an_axis_whose_dim_it_has_twice():
    """h1 = h0[y0] of h0: [N, M, K] is [M, M, K]; the forward printed ``h1_m = onehot(y0)
    h0_m`` with m on axis 1 of h1, which a reader (README: a subscript says its axes) takes
    as h1[m], off by 1.2.  The line is now read at K, the one axis of its dim."""
    out = _derive(str(REGRESSIONS / "lookup_of_permuted_batch.yaml"))
    assert "h1_k    = onehot(y0) h0_k" in out, out
    assert "h1_m" not in out, out
    assert "h0_k is the matrix h0[:, :, k]" in " ".join(out.split()), out


SOFTMAX_OF_ONE = """dims: {{M: 2, N: 3}}
inputs:
  x3: [M, 1]
  y: [M, N, 1]
forward:
  - "h0 = {line}"
  - "L = sum(h0 * h0)"
loss: L
"""


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("line, printed", [
    ("log_softmax(softmax(x3, axis=-1), axis=0)", "h0   = −log(M) 𝟏"),
    ("logsumexp(softmax(x3, axis=-1), axis=0)", "h0 = 1 + log(M)"),
    ("softmax(softmax(x3, axis=-1), axis=0)", "h0   = (1/M) 𝟏"),
    ("logsumexp(softmax(y, axis=-1), axis=1)", "h0   = (1 + log(N)) 𝟏"),
    ("log_softmax(softmax(y, axis=-1), axis=0) * y", "h0    = −log(M) y"),
])
def test_a_function_along_an_axis_of_a_constant_is_a_number(line, printed, tmp_path):
    """softmax over an axis of one is 1 (lowered so); a function of that along another axis
    printed ``logsumexp(𝟏, axis=0)``, a 𝟏 whose size no reader knows (the test reader stopped:
    "logsumexp(…, axis=0) of rank 0").  It is the number it is, read back against torch."""
    text = SOFTMAX_OF_ONE.format(line=line)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    out = _derive(str(path))
    assert printed in out, out
    assert "𝟏, axis" not in out, out
    assert not text_failures(text)
    _verified(path)


FIXED_PAIRS = ["models/maxpool_minpool:inline:lo", "models/maxpool_minpool:split:g.1",
               "models/piecewise_ops:split:M.0", "models/piecewise_ops:split:M.1",
               "models/piecewise_ops:split:C.0", "models/piecewise_ops:split:C.2"]


@pytest.mark.parametrize("name", FIXED_PAIRS)
def test_a_line_split_or_merged_groups_the_same_terms_alike(name):
    """A difference met both ways round (w − c g and c g − w) is written one way, the way
    whose positive term is the plainer; a long sum two terms share is written once; a
    number in front goes into the cheaper sum whose term cancels it.  Each pair (the spec
    and its line merged or split, as tests/line_split_made makes it) prints one form."""
    spec = name.split(":")[0]
    pair = next(p for p in made_pairs(HERE / f"{spec}.yaml") if p.name == name)
    both, diff = compare(pair)
    assert both and not diff, diff


def _ref(name: str) -> mx.Ref:
    return mx.Ref(name, RefKind.TENSOR, ("N", "D"))


def _value(text: str, vals: dict) -> object:
    """The NumPy value of a printed matrix form, read by the test reader."""
    from notation_reader import Env, MatrixEval, read
    env = Env({n: ("N", "D") for n in vals}, {"N": 3, "D": 2}, vals, {}, "L", {})
    return MatrixEval(env).ev(read(f"Z = {text}")[1]).v


def test_a_number_goes_into_the_cheaper_sum_and_the_value_holds():
    """(1/2) (2 W ⊙ A + S) ⊙ (2 a + b) → (2 W ⊙ A + S) ⊙ (a + (1/2) b): one number less,
    the costlier factor (the upstream form) untouched; beside no costlier factor it stays."""
    import numpy as np
    from sympy import Integer, Rational

    from einderive.render.styles import Unicode
    p = Unicode()
    W, A, S, a, b = (_ref(n) for n in "WASab")
    big = mx.add(mx.scale(mx.Const(Integer(2)), mx.hadamard(W, A)), S)
    small = mx.add(mx.scale(mx.Const(Integer(2)), a), b)
    m = mx.scale(mx.Const(Rational(1, 2)), mx.hadamard(big, small))
    out = scalar_into_sum(m)
    assert out is not None and cost(out) < cost(m)
    assert p.matrix(out) == "(2 W ⊙ A + S) ⊙ (a + (1/2) b)", p.matrix(out)
    rng = np.random.default_rng(0)
    vals = {n: rng.normal(size=(3, 2)) for n in "WASab"}
    assert np.allclose(_value(p.matrix(m), vals), _value(p.matrix(out), vals))
    alone = mx.scale(mx.Const(Rational(1, 2)), mx.hadamard(small, a))
    assert scalar_into_sum(alone) is None  # (no costlier factor beside the sum)
    assert scalar_into_sum(mx.scale(mx.Const(Rational(1, 2)), mx.hadamard(big, a))) is None


def test_a_difference_met_both_ways_is_written_one_way_and_the_value_holds():
    """a ⊙ (w − c) + b ⊙ ((c − w) V), nothing to factor: written with w − c twice (its
    positive term the plainer), a minus out in front of the second term."""
    import numpy as np

    from einderive.render.styles import Unicode
    p = Unicode()
    a, b, w, V = _ref("a"), _ref("b"), _ref("w"), mx.Ref("V", RefKind.TENSOR, ("D", "D"))
    c = mx.hadamard(_ref("c"), _ref("e"))
    m = mx.add(mx.hadamard(a, mx.add(w, mx.neg(c))),
               mx.hadamard(b, mx.matmul(mx.add(c, mx.neg(w)), V)))
    out = simplify(m)
    assert p.matrix(out) == "a ⊙ (w − c ⊙ e) − b ⊙ ((w − c ⊙ e) V)", p.matrix(out)
    rng = np.random.default_rng(1)
    vals = {n: rng.normal(size=(3, 2)) for n in "abwce"}
    vals["V"] = rng.normal(size=(2, 2))
    from notation_reader import Env, MatrixEval, read
    shapes = {n: ("N", "D") for n in "abwce"} | {"V": ("D", "D")}
    env = Env(shapes, {"N": 3, "D": 2}, vals, {}, "L", {})
    before, after = (MatrixEval(env).ev(read(f"Z = {p.matrix(x)}")[1]).v for x in (m, out))
    assert np.allclose(before, after)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_slice_of_a_slice_pads_back_by_the_narrower_range():
    """x0[:, 0:N][:, 0:M], M < N: ∂L/∂x0 is 2 h3 under 𝟙[0 ≤ k < M] 𝟙[0 ≤ k < N]; padded once
    per range it read h3 (N×M) over 0:N, past its end, and printed 2 pad(slice(h3, :, 0:N),
    0:N, axis=1), which verify failed (a shape mismatch).  The range the other implies goes."""
    out = _proven(REGRESSIONS / "slice_of_slice_wider.yaml",
                  "∂L/∂x0     = 2 pad(h3, 0:M, axis=1)")
    assert "slice(h3" not in out, out


def test_unsized_dims_never_read_an_index_past_an_axis(tmp_path):
    """The same spec with dims of no size: whether M ≤ N is unknown, so no slice or pad of h3
    is read over N (the index form stands alone, exact), and verify passes."""
    path = tmp_path / "u.yaml"
    path.write_text((REGRESSIONS / "slice_of_slice_wider.yaml").read_text().replace(
        "dims: {M: 2, N: 3, K: 5}", "dims: [M, N, K]"))
    out = _derive(str(path))
    assert "∂L/∂x0_jk  = 2 h3_jk 𝟙[0 ≤ k < M] 𝟙[0 ≤ k < N]" in out, out
    assert "slice(h3" not in out, out
    _verified(path)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_function_along_the_axis_of_a_column_has_its_matrix_form():
    """log_softmax(log_softmax(x3, axis=0), axis=0) of x3: [M, 1]: logsumexp's index at the
    literal 1 was paired with the reduced axis' dim M and refused, so the anonymous inner
    line printed inline with its own index, logsumexp(x3_i − logsumexp(x3, axis=0), axis=0)
    (the reader: "an indexed name x3_i in a matrix form")."""
    text = (REGRESSIONS / "log_softmax_twice_of_column.yaml").read_text()
    out = _derive(str(REGRESSIONS / "log_softmax_twice_of_column.yaml"))
    assert "logsumexp(x3 − logsumexp(x3, axis=0)," in out, out
    assert "x3_i −" not in out.split("h0   =")[0].split("h0_i =")[1].split("logsumexp", 1)[1]
    assert not text_failures(text)


def test_verify_along_directions_allows_the_differences_rounding(tmp_path):
    """A loss of about 10⁵ (a term the input does not move) with an input past the element-
    by-element size: the directional derivative rounds to ~10⁻⁴ as the element-wise one does,
    and a correct gradient's check allows it (the same allowance, capped at a thousand times
    the tolerance); it failed at 10⁻⁶ of the derivative's size."""
    from einderive import verify as V
    import numpy as np

    def forward(x):
        return 1e5 * 1.2345678 + float(np.sum(np.tanh(x)))
    x = np.random.default_rng(0).normal(size=(9, 9))
    grad = 1 - np.tanh(x) ** 2
    printed = {"x": {"index": grad, "matrix": grad}}
    rows = V._check_along(forward, {"x": x}, ["x"], printed, 1e-6, np.random.default_rng(1))
    assert rows["x"].ok, rows["x"]
    wrong = {"x": {"index": grad * 1.01, "matrix": grad * 1.01}}
    bad = V._check_along(forward, {"x": x}, ["x"], wrong, 1e-6, np.random.default_rng(1))
    assert not bad["x"].ok


GAUSSIAN = """dims: {B: 4, N: 3}
inputs:
  X: [B, N]
  mu: [N]
  S: {shape: [N, N], spd: true}
forward:
  - D = X - mu
  - L = 0.5 * B * logdet(S) + 0.5 * sum(D.T * solve(S, D.T))
loss: L
"""


def test_the_gaussian_mean_gradient_sums_before_the_product(tmp_path):
    """∂L/∂μ of the Gaussian negative log-likelihood is −S⁻¹ Σ_b (x_b − μ): rowsum(A B) is
    A rowsum(B), and colsum(A B) is B colsum(A) for a symmetric B (S⁻¹ of an spd S).  It
    printed −colsum(D S⁻¹) with the solve inline and −rowsum(S⁻¹ Dᵀ) written out from
    tests/models/gaussian_nll_batch.yaml (a line-split pair); verified."""
    path = tmp_path / "g.yaml"
    path.write_text(GAUSSIAN)
    out = _derive(str(path))
    assert "∂L/∂mu    = −S⁻¹ colsum(D)" in out, out
    _verified(path)
    nonsym = GAUSSIAN.replace("S: {shape: [N, N], spd: true}", "S: [N, N]").replace(
        "logdet(S)", "sum(S)")  # (no symmetric S: colsum(D S⁻¹) stays, S⁻ᵀ would be a new form)
    path.write_text(nonsym)
    assert "S⁻¹ colsum(D)" not in _derive(str(path))
    _verified(path)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_batch_sum_under_a_range_keeps_the_sum():
    """h1 = x2[:, :, 0:M] + mean(x1[0:M]) of x2: [M, K, N]: ∂L/∂x1 is (1/M) (Σ ∂L/∂h1) over
    0:M.  A sum under one range that does not read the range's index was padded as the
    ones alone: (1/M) pad(𝟏, 0:M, axis=0), wrong by the whole sum (verify: 0.89 off)."""
    _proven(REGRESSIONS / "batch_sum_under_a_range.yaml",
            "∂L/∂x1      = (1/M) pad(sum(∂L/∂h1)·𝟏, 0:M, axis=0)")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_node_the_same_along_its_axis_is_not_named_in_its_derivative():
    """h0 = sigmoid(x0 − (x0 + x1)) is σ(−x1) for every i: naming forward nodes in the
    derivative unified σ(−x1) with h0_i's pattern and bound no i (KeyError, exit 3 in
    derive and verify).  It prints σ'(−x1), verified and read back."""
    _proven(REGRESSIONS / "node_constant_along_its_axis.yaml",
            "∂L/∂x1   = −σ'(−x1)·sum(∂L/∂h0)")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_reader_reads_a_plain_softmax_of_a_column_over_its_long_axis():
    """README: softmax(x) of an M×1 x is a softmax over M (along the literal 1 it says its
    axis).  softmax(logsumexp(x0, axis=-1), axis=-1) of x0: [M, 1] prints softmax(x0); the
    test reader took axis −1 (all ones) and failed a right form by 0.62."""
    spec = REGRESSIONS / "softmax_of_a_column_read.yaml"
    out = _derive(str(spec))
    assert "h0   = (x1 − x2)² + softmax(x0)" in out, out
    assert not text_failures(spec.read_text())


def test_the_reader_reads_a_lookup_under_a_range_and_catches_the_range_dropped():
    """concatenate([x0[y0], tanh(x0)]): h0_k = x0_(y0_{k}) 𝟙[0 ≤ k < M] + … reads y0 past its
    axis where the range is 0; the reader stopped there ("y0 read outside its axes").  It
    reads some element, which the range cancels, and a dropped range still fails."""
    from einderive.api import derive_file
    from test_printed_forms import _reads_good_rejects_bad
    d = derive_file(str(REGRESSIONS / "lookup_in_a_concatenated_piece.yaml"))
    good = "h0_k = x0_(y0_{k}) 𝟙[0 ≤ k < M] + tanh(x0_{k − M}) 𝟙[M ≤ k < M + N]"
    assert good in _derive(str(REGRESSIONS / "lookup_in_a_concatenated_piece.yaml"))
    _reads_good_rejects_bad(d, good, good.replace(" 𝟙[0 ≤ k < M]", ""))


def test_a_softmax_of_a_concatenation_is_no_internal_error():
    """softmax(concatenate([x0, tanh(x1)], axis=0), axis=0): the check for a constant argument
    (a softmax over an axis of one inside) read the concatenation at a Python 0, which its
    range test could not take (exit 3 in derive, verify, cost, graph).  Verified."""
    spec = REGRESSIONS / "softmax_of_a_concatenation.yaml"
    _derive(str(spec))
    _verified(spec)
