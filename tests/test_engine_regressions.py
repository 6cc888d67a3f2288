"""The engine on small specs of every awkward kind: each derives, its index forms match
finite differences, and its printed matrix form verifies wherever one exists.

The specs cover centring, keepdims, literal-1 axes, tensors of rank 3 and 4, inline
compositions and divisions by dim expressions (issue 11, defects 2 and 4)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import derive_text, forms
from einderive.api import verify
from indexeval import IndexModel


def spec(dims: str, inputs: str, forward: list[str], wrt: str, loss: str = "L") -> str:
    lines = "\n".join(f"  - {f}" for f in forward)
    ins = "\n".join(f"  {i.strip()}" for i in inputs.split(";"))
    return (f"name: t\ndims: {{{dims}}}\ninputs:\n{ins}\nforward:\n{lines}\n"
            f"loss: {loss}\nwrt: [{wrt}]\n")


CASES = {
    # a constant with no decidable sign (silu(0)) in front of a term: no internal error
    "undecidable_sign": spec("N: 3", "v: [N]; w: [N]", ["y = w @ silu(v - v) + v", "L = sum(y)"],
                             "v, w"),
    "sum_over_two_axes_keepdims_rank3": spec("B: 2, N: 3, D: 4", "X: [B, N, D]",
                                             ["M = sum(X, axis=(0, 2), keepdims=True)",
                                              "L = sum(M * M)"], "X"),
    "sum_plus_total": spec("N: 2", "c: []; v: [N]", ["L = c * sum(v + sum(v))"], "c, v"),
    # centring, then a reduction (defect 2): the factor Σ_i 1 = B must survive
    "centre_sq": spec("B: 3, D: 4", "X: [B, D]",
                      ["mu = mean(X, axis=0)", "L = sum((X - mu) ** 2)"], "X"),
    "centre_keepdims": spec("B: 3, D: 4", "X: [B, D]",
                            ["mu = mean(X, axis=-1, keepdims=True)", "L = sum((X - mu) ** 2)"],
                            "X"),
    "centre_sum_axis0": spec("B: 3, D: 4", "X: [B, D]",
                             ["mu = sum(X, axis=0)", "L = sum((X - mu) ** 2)"], "X"),
    "centre_unbiased_var": spec("B: 3, D: 4", "X: [B, D]",
                                ["mu = mean(X, axis=0)",
                                 "v = sum((X - mu) ** 2, axis=0) / (B - 1)", "L = sum(v * v)"],
                                "X"),
    "centre_tanh": spec("B: 3, D: 4", "X: [B, D]",
                        ["m = mean(X, axis=0)", "L = sum(tanh(X - m))"], "X"),
    "centre_inline": spec("B: 3, D: 4", "X: [B, D]",
                          ["L = sum((X - mean(X, axis=0)) ** 2)"], "X"),
    "centre_keepdims_cube": spec("B: 3, D: 4", "X: [B, D]",
                                 ["Xc = X - mean(X, axis=-1, keepdims=True)",
                                  "L = sum(Xc * Xc * Xc)"], "X"),
    # sums of ones (defect 4)
    "sum_minus_one": spec("N: 3", "x: [N]; s: []", ["L = s * sum(x - 1)"], "x, s"),
    "mean_plus_one": spec("N: 3", "x: [N]; s: []", ["L = s * mean(x + 1)"], "x, s"),
    "sum_of_scalar_broadcast": spec("N: 3, M: 4", "A: [N, M]; s: []",
                                    ["L = sum(A * s + s)"], "A, s"),
    # literal-1 axes
    "rank3_literal1": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; m: [1, T, D]",
                           ["L = sum(X * m)"], "X, m"),
    "rank3_literal1_sq": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; m: [1, T, D]",
                              ["Y = X * m + m", "L = sum(Y * Y)"], "X, m"),
    "row_literal1": spec("B: 3, D: 4", "X: [B, D]; g: [1, D]",
                         ["Y = tanh(X * g)", "L = sum(Y)"], "X, g"),
    "col_literal1": spec("B: 3, D: 4", "X: [B, D]; g: [B, 1]",
                         ["Y = X - g", "L = sum(Y * Y)"], "X, g"),
    # rank 3 and 4
    "softmax_rank3": spec("B: 2, T: 3, S: 4", "Z: [B, T, S]; G: [B, T, S]",
                          ["P = softmax(Z, axis=-1)", "L = sum(P * G)"], "Z"),
    "softmax_rank4": spec("B: 2, H: 2, T: 3, S: 4", "Z: [B, H, T, S]; G: [B, H, T, S]",
                          ["P = softmax(Z, axis=-1)", "L = sum(P * G)"], "Z"),
    "batched_matmul": spec("B: 2, T: 3, D: 4, E: 5", "X: [B, T, D]; W: [D, E]; G: [B, T, E]",
                           ["Y = X @ W", "L = sum(Y * G)"], "X, W"),
    "batched_attention": spec("B: 2, T: 3, D: 4",
                              "Q: [B, T, D]; K: [B, T, D]; V: [B, T, D]; G: [B, T, D]",
                              ["S = Q @ transpose(K, axes=(0, 2, 1))",
                               "P = softmax(S, axis=-1)", "O = P @ V", "L = sum(O * G)"],
                              "Q, K, V"),
    "rank3_mean_keepdims": spec("B: 2, T: 3, D: 4", "X: [B, T, D]",
                                ["mu = mean(X, axis=-1, keepdims=True)",
                                 "L = sum((X - mu) ** 2)"], "X"),
    "rank3_sum_axis1": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; w: [D]",
                            ["s = sum(X, axis=1)", "L = sum(tanh(s) * w)"], "X, w"),
    # inline compositions
    "swiglu_inline": spec("B: 2, D: 3, F: 4", "X: [B, D]; W1: [F, D]; W3: [F, D]; G: [B, F]",
                          ["H = silu(X @ W1.T) * (X @ W3.T)", "L = sum(H * G)"], "X, W1, W3"),
    "reconstruction": spec("B: 3, D: 4, K: 2", "X: [B, D]; W: [D, K]",
                           ["R = X - X @ W @ W.T", "L = sum(R * R)"], "X, W"),
    "covariance": spec("B: 3, D: 4", "X: [B, D]",
                       ["mu = mean(X, axis=0)", "C = (X - mu).T @ (X - mu)",
                        "L = sum(C * C)"], "X"),
    "covariance_inline": spec("B: 3, D: 4", "X: [B, D]; G: [D, D]",
                              ["L = sum(((X - mean(X, axis=0)).T @ (X - mean(X, axis=0))) * G)"],
                              "X"),
    "quadratic_form": spec("N: 3", "x: [N]; A: [N, N]", ["L = x @ A @ x"], "x, A"),
    "quadratic_form_tanh": spec("N: 3", "x: [N]; A: [N, N]",
                                ["y = tanh(A @ x)", "L = y @ A @ x"], "x, A"),
    "gram": spec("B: 3, D: 4", "X: [B, D]; G: [B, B]", ["L = sum((X @ X.T) * G)"], "X"),
    # divisions by dim expressions
    "divide_by_dims": spec("B: 3, D: 4", "X: [B, D]",
                           ["L = sum(X * X) / (B * D - 1)"], "X"),
    "divide_by_dim_difference": spec("B: 3, D: 4", "X: [B, D]; s: []",
                                     ["Y = X / (D - B) + s", "L = sum(Y * Y)"], "X, s"),
    "layernorm_inline": spec("B: 3, D: 4", "X: [B, D]; G: [B, D]",
                             ["Xc = X - mean(X, axis=-1, keepdims=True)",
                              "Y = Xc / sqrt(mean(Xc * Xc, axis=-1, keepdims=True) + 1e-5)",
                              "L = sum(Y * G)"], "X"),
    # the broad sweep: einsum, axis functions, broadcasting, literal-1 axes, scalars
    "einsum_rank3": spec("B: 2, T: 3, D: 4, E: 5", "X: [B, T, D]; W: [D, E]; G: [B, T, E]",
        ["Y = einsum('btd,de->bte', X, W)", "L = sum(tanh(Y) * G)"], "X, W"),
    "logsumexp_rank3": spec("B: 2, T: 3, S: 4", "Z: [B, T, S]; w: [T]",
        ["m = logsumexp(Z, axis=-1)", "L = sum(m * w)"], "Z, w"),
    "log_softmax_rank3": spec("B: 2, T: 3, S: 4", "Z: [B, T, S]; Y: [B, T, S]",
        ["L = -sum(Y * log_softmax(Z, axis=-1))"], "Z"),
    "softmax_axis0": spec("N: 3, M: 4", "Z: [N, M]; G: [N, M]",
        ["P = softmax(Z, axis=0)", "L = sum(P * G)"], "Z"),
    "softmax_middle_rank3": spec("B: 2, T: 3, S: 4", "Z: [B, T, S]; G: [B, T, S]",
        ["P = softmax(Z, axis=1)", "L = sum(P * G)"], "Z"),
    "normalise_rows": spec("N: 3, M: 4", "X: {shape: [N, M], positive: true}; G: [N, M]",
        ["P = X / sum(X, axis=-1, keepdims=True)", "L = sum(P * G)"], "X"),
    "transpose_rank3": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; G: [B, D, T]",
        ["Y = transpose(X, axes=(0, 2, 1))", "L = sum(Y * G)"], "X"),
    "mean_all_rank3": spec("B: 2, T: 3, D: 4", "X: [B, T, D]",
        ["L = mean(X * X)"], "X"),
    "mean_axes01_rank3": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; w: [D]",
        ["m = mean(X, axis=(0, 1))", "L = sum(exp(m) * w)"], "X, w"),
    "bias_rank3": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; b: [D]; G: [B, T, D]",
        ["Y = relu(X + b)", "L = sum(Y * G)"], "X, b"),
    "xtx": spec("B: 3, D: 4", "X: [B, D]; G: [D, D]", ["L = sum((X.T @ X) * G)"], "X"),
    "dot_self": spec("N: 3", "x: [N]", ["L = x @ x"], "x"),
    "l2": spec("N: 3, M: 4", "A: [N, M]; B2: [N, M]", ["L = l2_loss(tanh(A), B2)"], "A, B2"),
    "powers": spec("N: 3", "x: {shape: [N], positive: true}",
        ["L = sum(x ** 3 + x ** 0.5 + 1 / x)"], "x"),
    "div_tensors": spec("N: 3, M: 4", "X: [N, M]; Y: {shape: [N, M], positive: true}",
        ["L = sum(X / Y)"], "X, Y"),
    "sum_over_B": spec("B: 3, D: 4", "X: [B, D]", ["L = sum(X * X) / B"], "X"),
    "gelu_softplus": spec("N: 3, M: 4", "X: [N, M]; W: [M, M]",
        ["H = gelu(X @ W) + softplus(X)", "L = sum(H * H)"], "X, W"),
    "matT_G": spec("B: 3, D: 4, E: 2", "X: [B, D]; W: [D, E]; G: [E, B]",
        ["L = sum((X @ W).T * G)"], "X, W"),
    "double_centre": spec("B: 3, D: 4", "X: [B, D]",
        ["Y = X - mean(X, axis=0) - mean(X, axis=1, keepdims=True)", "L = sum(Y * Y * Y)"], "X"),
    "mean_of_mean": spec("B: 3, D: 4", "X: [B, D]; s: []",
        ["m = mean(X, axis=0)", "L = s * mean(m + s) + sum(m)"], "X, s"),
    "literal1_both": spec("B: 3, D: 4", "X: [B, D]; a: [1, D]; c: [B, 1]",
        ["Y = X * a + c", "L = sum(tanh(Y))"], "X, a, c"),
    "literal1_rank3_mid": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; m: [B, 1, D]",
        ["L = sum(exp(X - m))"], "X, m"),
    "multihead": spec("B: 2, H: 2, T: 3, D: 2",
      "Q: [B, H, T, D]; K: [B, H, T, D]; V: [B, H, T, D]; G: [B, H, T, D]",
        ["S = Q @ transpose(K, axes=(0, 1, 3, 2)) / 2", "P = softmax(S, axis=-1)",
       "O = P @ V", "L = sum(O * G)"], "Q, K, V"),
    "var_keepdims": spec("B: 3, D: 4", "X: [B, D]",
        ["mu = mean(X, axis=-1, keepdims=True)", "v = mean((X - mu) ** 2, axis=-1, keepdims=True)",
       "L = sum(sqrt(v + 1))"], "X"),
    "scalar_chain": spec("N: 3", "x: [N]; a: []; b: []",
        ["s = sum(x) * a", "L = s * s / (N + 1) + b * a"], "x, a, b"),
    "sum_times_dim": spec("N: 3, M: 4", "X: [N, M]",
        ["L = sum(X) * N / M"], "X"),
    "vec_outer": spec("N: 3, M: 4", "x: [N]; y: [M]; G: [N, M]",
        ["L = sum(einsum('i,j->ij', x, y) * G)"], "x, y"),
    "trace_like": spec("N: 3", "A: [N, N]", ["L = einsum('ii->', A @ A)"], "A"),
    "diag_sq": spec("N: 3", "A: [N, N]", ["d = einsum('ii->i', A)", "L = sum(d * d)"], "A"),
    # second wave
    "normalise_keep1": spec("B: 3, D: 4", "X: {shape: [B, D], positive: true}; G: [B, D]",
        ["Y = X / sum(X, axis=1, keepdims=True)", "L = sum(log(Y) * G)"], "X"),
    "matmul_literal1_mid": spec("B: 2, T: 3, D: 4", "X: [B, 1, D]; W: [D, T]",
        ["Y = X @ W", "L = sum(tanh(Y))"], "X, W"),
    "einsum3": spec("N: 2, M: 3, P: 4, Q: 5", "A: [N, M]; B2: [M, P]; C: [P, Q]; G: [N, Q]",
        ["L = sum(einsum('ij,jk,kl->il', A, B2, C) * G)"], "A, B2, C"),
    "softmax_axis0_inline": spec("N: 3, M: 4, K: 2", "X: [N, M]; W: [M, K]; G: [N, K]",
        ["P = softmax(X @ W, axis=0)", "L = sum(P * G)"], "X, W"),
    "lse_keepdims": spec("N: 3, M: 4", "Z: [N, M]; Y: [N, M]",
        ["Lp = Z - logsumexp(Z, axis=-1, keepdims=True)", "L = -sum(Y * Lp)"], "Z"),
    "literal11": spec("B: 3, D: 4", "X: [B, D]; c: [1, 1]", ["L = sum(exp(X * c))"], "X, c"),
    "meanvec_mat": spec("B: 3, D: 4, E: 2", "X: [B, D]; W: [D, E]",
        ["h = mean(X, axis=0) @ W", "L = sum(h * h)"], "X, W"),
    "sum_axes02": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; w: [T]",
        ["s = sum(X * X, axis=(0, 2))", "L = s @ w"], "X, w"),
    "gram_centre": spec("B: 3, D: 4", "X: [B, D]",
        ["Xc = X - mean(X, axis=0)", "K = Xc @ Xc.T", "L = sum(K * K)"], "X"),
    "mean_rank3_axis0": spec("B: 2, T: 3, D: 4", "X: [B, T, D]",
        ["m = mean(X, axis=0)", "L = sum((X - m) ** 2)"], "X"),
    # third wave: size-1 axes and broadcasting into rank 3
    "col_keep_sum": spec("B: 3, D: 4", "X: [B, 1]; W: [1, D]",
        ["Y = X @ W", "L = sum(tanh(Y))"], "X, W"),
    "sum_keep_rank3": spec("B: 2, T: 3, D: 4", "X: [B, T, D]",
        ["s = sum(X, axis=1, keepdims=True)", "L = sum(X * s)"], "X"),
    "softmax_size1": spec("B: 3", "Z: [B, 1]; G: [B, 1]",
        ["P = softmax(Z, axis=0)", "L = sum(P * G)"], "Z"),
    "lit1_vec": spec("N: 3", "x: [N]; c: [1]", ["L = sum(x * c) + sum(c * c)"], "x, c"),
    "rank3_plus_rank2": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; M: [T, D]",
        ["L = sum((X + M) ** 2)"], "X, M"),
    "rank3_times_col": spec("B: 2, T: 3, D: 4", "X: [B, T, D]; c: [T, 1]",
        ["L = sum(exp(X * c))"], "X, c"),
    "outer_mean": spec("B: 3, D: 4", "X: [B, D]; G: [D, D]",
        ["m = mean(X, axis=0)", "L = sum(einsum('i,j->ij', m, m) * G)"], "X"),
    "constant_sum_node": spec("N: 3", "x: [N]; s: []",
        ["c = sum(x - x + 1)", "L = s * c + sum(x)"], "x, s"),
}


@pytest.fixture(scope="module")
def derived():
    return {}


def _derive(name, derived):
    if name not in derived:
        derived[name] = derive_text(CASES[name])
    return derived[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_index_forms_match_finite_differences(name):
    model = IndexModel(CASES[name])
    adjoints = model.adjoints()
    for w in model.graph.wrt:
        want = model.finite_difference(w)
        assert np.allclose(adjoints[w], want, rtol=1e-5, atol=1e-6), (w, adjoints[w], want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_matrix_forms_verify(name, derived):
    d = _derive(name, derived)
    report = verify(d)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks if not c.ok]


def _summed_deltas(e, bound=frozenset()) -> list:
    """Kronecker deltas left on an index some enclosing sum runs over (collapse removes them)."""
    from sympy import KroneckerDelta, Sum
    if isinstance(e, Sum):
        return _summed_deltas(e.function, bound | {v for v, _, _ in e.limits})
    if isinstance(e, KroneckerDelta):
        return [e] if set(e.args) & bound else []
    return [d for a in e.args for d in _summed_deltas(a, bound)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_index_forms_are_fully_collapsed(name, derived):
    d = _derive(name, derived)
    for a in d.adjoints:
        assert not _summed_deltas(a.form.index), (a.name, a.form.index)
        assert "Σ_i 1" not in forms(d, a.name)[0] and "Sum(1," not in str(a.form.index)


# hand-written NumPy forward passes of the specs code generation cannot compile yet
def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


NUMPY_FORWARD = {
    "softmax_rank3": lambda Z, G: np.sum(_softmax(Z) * G),
    "softmax_rank4": lambda Z, G: np.sum(_softmax(Z) * G),
    "batched_attention": lambda Q, K, V, G: np.sum(_softmax(Q @ K.transpose(0, 2, 1)) @ V * G),
    "rank3_mean_keepdims": lambda X: np.sum((X - X.mean(axis=-1, keepdims=True)) ** 2),
}


@pytest.mark.parametrize("name", sorted(NUMPY_FORWARD))
def test_the_index_forward_is_the_numpy_forward(name):
    model = IndexModel(CASES[name])
    assert np.isclose(model.loss(model.inputs), NUMPY_FORWARD[name](**model.inputs))


def test_softmax_over_the_last_axis_of_rank3_reads_per_batch_element():
    # it stopped code generation (no matrix form), then was written with einsum; it is the
    # 2-d softmax's form now, read per batch element (the leading axis)
    d = _derive("softmax_rank3", {})
    assert forms(d, "Z") == ("P_ijk (∂L/∂P_ijk − Σ_k′ ∂L/∂P_ijk′ P_ijk′)",
                             "P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))")
    assert d.adjoint("Z").form.einsum is False
    assert verify(d).ok


def test_centring_then_reducing_keeps_the_factor_B():
    # issue 11, defect 2: the matrix form dropped Σ_i′ 1 = B and was 34 % off
    d = _derive("centre_sq", {})
    # with mu = colsum(X)/B written out, the mean's contribution is zero (issue 12: a
    # dropped B would leave a term); the index form drops it too, as B mu_j − Σ_i′ X_i′j
    # cancels only with its B (session 30: it printed "+ (2/B) (B mu_j − Σ_i′ X_i′j)")
    assert forms(d, "X") == ("2 (X_ij − mu_j)", "2 (X − muᵀ)")
    assert not d.adjoint("X").form.einsum


def test_a_sum_of_ones_is_the_dim_size():
    d = _derive("sum_minus_one", {})
    assert forms(d, "s")[0] == "Σ_i x_i − N"


def test_the_reconstruction_gradient_is_fully_collapsed():
    # the δ on the second limit of a sum was hidden by wrapping the first one
    d = _derive("reconstruction", {})
    assert forms(d, "W")[1] == "−(Xᵀ ∂L/∂R + (∂L/∂R)ᵀ X) W"


def test_collapse_does_not_depend_on_the_order_of_the_limits():
    from sympy import IndexedBase, KroneckerDelta, Sum, symbols

    from einderive.indexed import collapse
    i, j, k, n = symbols("i j k n")
    A, x, y = IndexedBase("A"), IndexedBase("x"), IndexedBase("y")
    # Σ_i Σ_j A_ij (x_j + δ_jk y_i): wrapping i first used to hide the δ from j
    body = A[i, j] * (x[j] + KroneckerDelta(j, k) * y[i])
    one = collapse(Sum(body, (i, 0, n - 1), (j, 0, n - 1)))
    other = collapse(Sum(body, (j, 0, n - 1), (i, 0, n - 1)))
    assert not _summed_deltas(one) and not _summed_deltas(other)
    want = Sum(Sum(A[i, j] * x[j], (i, 0, n - 1)), (j, 0, n - 1)) + \
        Sum(A[i, k] * y[i], (i, 0, n - 1))
    assert all((e - want).subs(n, 3).doit().expand() == 0 for e in (one, other))


@pytest.mark.parametrize("divisor", ["N - N", "2 * N - N - N", "(N - N) * 3"])
def test_a_division_by_a_dim_expression_that_is_zero_is_a_spec_error(run, tmp_path, divisor):
    path = tmp_path / "z.yaml"
    path.write_text(spec("N: 3", "x: [N]; s: []", [f"y = x / ({divisor}) + s", "L = sum(y)"], "x"))
    result = run("derive", path)
    assert result.exit_code == 2
    assert "z.yaml:7:" in result.output and "division by zero" in result.output


def test_index_letters_are_never_a_tensor_name():
    # issue 11, defect 9: a tensor named i printed as i_i
    d = derive_text(spec("N: 3, M: 4", "i: [N, M]; j: [M]; k: [N]",
                         ["y = tanh(i @ j) * k", "L = sum(y * y)"], "i, j, k"))
    assert forms(d, "k") == ("∂L/∂y_l tanh(Σ_m i_lm j_m)", "∂L/∂y ⊙ tanh(i j)")
    assert forms(d, "i")[0] == "∂L/∂y_l k_l (1 − tanh(Σ_m′ i_lm′ j_m′)²) j_m"
    assert verify(d).ok


def test_sums_that_differ_only_in_their_index_cancel():
    # Σ_i′ X_i′j′ − Σ_i′′ X_i′′j′ (zero) used to be printed as colsum(X) − colsum(X)
    d = _derive("covariance_inline", {})
    assert forms(d, "X")[1] == "(X − (1/B) colsum(X)ᵀ) (G + Gᵀ)"


def test_a_definition_that_sums_ones_reads_as_the_dim_size():
    d = _derive("constant_sum_node", {})
    (t, form), _ = d.forward
    assert t.name == "c" and str(form.index) == "N"
