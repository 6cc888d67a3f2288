"""Readability of printed forms (issue 12's leftovers), each pinned as printed and checked by
value: the reader evaluates every printed line, ``verify`` every printed form.

- A batch element of a name that has a subscript of its own is bracketed, ``(x_seq)_bᵀ``
  (LaTeX ``(x_{\\mathrm{seq}})_{b}^{\\top}``), never ``x_seq,bᵀ`` (is the ᵀ on b?).
- A forward node ``Y = inv(X)`` meets its matrix in a closed form: ``Yᵀ Xᵀ`` is 𝐈, and a
  product with Y is multiplied out over a sum where a term then shrinks, so ``--expand`` of
  ``f = a @ Y @ b + det(Y)`` prints −(det(Y)·Yᵀ + Yᵀ a bᵀ Yᵀ), the form the same line with
  inv(X) inline prints, not −Yᵀ (det(Y)·X + b aᵀ)ᵀ Yᵀ.
- Canonical orientation: a function of a product keeps its transpose outside where turning
  it would transpose the pre-activation, ``relu(X W1)ᵀ``, never ``relu(W1ᵀ Xᵀ)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import env_for

from einderive import api
from einderive import matrix as mx
from einderive import simplify as S
from einderive.render.styles import Unicode
from einderive.api import derive_file
from einderive.render.latex import fragment, standalone
from einderive.render.terminal import plain

MODELS = Path(__file__).parent / "models"
INVERSE = "name: {name}\ndims: {{N: 3, K: 2}}\ninputs:\n  X: [N, N]\n  a: [N]\n  b: [N]\n" \
    "  A: [K, N]\n  B: [N, K]\nforward:\n{lines}loss: L\nwrt: [X]\n"


def _named():
    return derive_file(str(MODELS / "batch_sum_named.yaml"))


def test_a_batch_element_of_a_name_with_a_subscript_is_bracketed():
    d = _named()
    lines = [line for _, line in entries(plain(d))]
    assert "grad(Wq) = Σ_b (x_seq)_bᵀ (∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])" in lines
    assert "grad(bq) = Σ_b colsum(∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])" in lines
    assert not any("x_seq,b" in line for line in lines)
    # the index form keeps the name's subscript and its indices joined, as everywhere
    assert any("x_seq,ijk" in line for line in lines)


def test_the_note_and_latex_write_the_bracketed_element():
    d = _named()
    note = " ".join(plain(d).split())
    assert "Σ_b (x_seq)_b adds the matrices (x_seq)_b of every element b of the batch " \
        "axis B." in note
    tex = fragment(d)
    assert r"\sum_{b} (x_{\mathrm{seq}})_{b}^{\top} \left(" in tex
    assert r"x_{\mathrm{seq},b}" not in tex
    assert r"$\sum_{b} (x_{\mathrm{seq}})_{b}$ adds the matrices $(x_{\mathrm{seq}})_{b}$" \
        in standalone(d)


def test_the_bracketed_element_reads_back_and_verifies():
    d = _named()
    env = env_for(d, R.reference(d.graph, seed=2))
    found = entries(plain(d))
    assert len(found) > 10
    for _, line in found:
        env.check(line)
    report = api.verify(d)
    assert report.ok, [c for c in report.checks if not c.ok]


@pytest.mark.parametrize("bad", [
    "∂L/∂Wq = Σ_b (x_seq)_b (∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])",  # the ᵀ lost
    "∂L/∂bq = Σ_b rowsum(∂L/∂H_b ⊙ 𝟙[(x_seq)_b Wq + bqᵀ > 0])",  # colsum turned rowsum
])
def test_the_reader_catches_damage_to_a_bracketed_element(bad):
    d = _named()
    env = env_for(d, R.reference(d.graph, seed=2))
    with pytest.raises(ReaderError):
        env.check(bad)


# -- a forward node that is an inverse, in closed forms ------------------------------------------


def _spec(tmp_path, name: str, *lines: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(INVERSE.format(name=name, lines="".join(f"  - {x}\n" for x in lines)))
    return path


def _closed(d, name: str = "X") -> str:
    from einderive.render import text as T
    g = d.gradient(name)
    assert g.closed is not None and g.closed.matrix is not None
    return T.matrix_rhs(d, g.closed)


@pytest.mark.parametrize("lines,want", [
    (["Y = inv(X)", "L = a @ Y @ b + det(Y)"], "−(det(Y)·Yᵀ + Yᵀ a bᵀ Yᵀ)"),
    (["L = a @ inv(X) @ b + det(inv(X))"], "−(X⁻ᵀ a bᵀ X⁻ᵀ + det(X⁻¹)·X⁻ᵀ)"),
    # Yᵀ Xᵀ Yᵀ = Yᵀ, which then cancels the direct Yᵀ of trace(Y X) (a constant: N)
    (["Y = inv(X)", "L = trace(Y @ X) + a @ Y @ b"], "−Yᵀ a bᵀ Yᵀ"),
    (["Y = inv(X)", "L = trace(A @ Y @ B) + logdet(Y)"], "−(Yᵀ + Yᵀ Aᵀ Bᵀ Yᵀ)"),
    (["L = trace(A @ inv(X) @ B) + logdet(inv(X))"], "−(X⁻ᵀ Aᵀ Bᵀ X⁻ᵀ + X⁻ᵀ)"),
])
def test_a_named_inverse_meets_its_matrix_in_the_closed_form(tmp_path, run, lines, want):
    path = _spec(tmp_path, "inverse", *lines)
    d = derive_file(str(path))
    assert _closed(d) == want
    r = run("verify", path)  # every printed form, the closed one included
    assert r.exit_code == 0, r.output
    env = env_for(d, R.reference(d.graph, seed=1))
    for _, line in entries(plain(d)):
        env.check(line)


def _inverse_parts():
    X = mx.Ref("X", "tensor", ("N", "N"))
    Y = mx.Ref("Y", "tensor", ("N", "N"))
    C = mx.Ref("C", "tensor", ("N", "N"))
    inv = mx.AxisFn("inv", X, 0, ("N", "N"), ("N", "N"))
    return X, Y, C, S.ForwardForms([(inv, Y), (mx.transpose(inv), mx.transpose(Y))])


def _value(m: mx.M, v: dict) -> np.ndarray:
    """A product, sum, transpose or scale of the named matrices (𝐈 the identity)."""
    if isinstance(m, mx.Ref):
        return v[m.name]
    if isinstance(m, mx.Eye):
        return np.eye(3)
    if isinstance(m, mx.Transpose):
        return _value(m.x, v).T
    if isinstance(m, mx.MatMul):
        return _value(m.a, v) @ _value(m.b, v)
    if isinstance(m, mx.Add):
        return sum(_value(t, v) for t in m.terms)
    if isinstance(m, mx.Scale):
        return float(m.coeff.value) * _value(m.x, v)
    raise AssertionError(type(m).__name__)


@pytest.mark.parametrize("build,want", [
    (lambda X, Y, C: mx.matmul(mx.matmul(mx.transpose(Y), mx.transpose(X)), C), "C"),
    (lambda X, Y, C: mx.matmul(mx.matmul(C, X), Y), "C"),
    (lambda X, Y, C: mx.matmul(mx.matmul(Y, mx.add(X, C)), Y), "Y + Y C Y"),
    (lambda X, Y, C: mx.add(Y, mx.neg(mx.matmul(mx.matmul(Y, mx.add(X, C)), Y))), "−Y C Y"),
])
def test_the_rules_for_a_named_inverse_hold_by_value(build, want):
    X, Y, C, named = _inverse_parts()
    before = build(X, Y, C)
    after = S.simplify(before, named=named)
    assert Unicode().matrix(after) == want
    rng = np.random.default_rng(3)
    v = {"X": rng.uniform(-1, 1, (3, 3)) + 3 * np.eye(3), "C": rng.uniform(-1, 1, (3, 3))}
    v["Y"] = np.linalg.inv(v["X"])
    np.testing.assert_allclose(_value(after, v), _value(before, v), rtol=1e-10, atol=1e-12)


def test_a_product_without_an_inverse_is_not_multiplied_out():
    """A (B + C) D stays: multiplying out only grows a form where nothing cancels; and the
    node Y is no inverse where the forward forms do not say so."""
    X, Y, C, _ = _inverse_parts()
    m = mx.matmul(mx.matmul(Y, mx.add(X, C)), Y)
    assert Unicode().matrix(S.simplify(m)) == "Y (X + C) Y"


GAUSSIAN = """name: gaussian_inline
dims: {N: 3}
inputs:
  S: {shape: [N, N], spd: true}
  x: [N]
  mu: [N]
forward:
  - z = solve(S, x - mu)
  - L = 0.5 * logdet(S) + 0.5 * sum((x - mu) * z)
loss: L
wrt: [S, mu]
"""


def test_a_node_with_its_difference_turned_round_is_the_node_negated(tmp_path, run):
    """z = S⁻¹ (x − mu): S⁻¹ (mu − x) in a closed form is −z; colsum(S⁻¹ ⊙ (x − mu)) is
    S⁻ᵀ (x − mu), S⁻¹ (x − mu) for an spd S, that is z: ∂L/∂mu = −z, as with d split."""
    path = tmp_path / "gaussian_inline.yaml"
    path.write_text(GAUSSIAN)
    d = derive_file(str(path))
    assert _closed(d, "mu") == "−z"
    assert _closed(d, "S") == "(1/2) (S⁻¹ − z zᵀ)"  # (x − mu)ᵀ S⁻¹ is zᵀ, S spd (qf1)
    r = run("verify", path)
    assert r.exit_code == 0, r.output


# -- canonical orientation: a transposed function of a product, never its turned argument --------

INLINE_RELU = """name: inline_relu
dims: {B: 4, D: 3, H: 5, K: 2}
inputs: {X: [B, D], W1: [D, H], W2: [H, K]}
wrt: [W1, W2]
forward:
  - L = sum((relu(X @ W1) @ W2) ** 2)
loss: L
"""


def test_an_inline_activation_keeps_its_pre_activation_the_way_it_was_written(tmp_path, run):
    """grad(W2) of ``sum((relu(X @ W1) @ W2) ** 2)`` is 2 relu(X W1)ᵀ relu(X W1) W2 in text,
    LaTeX and NumPy code, not 2 relu(W1ᵀ Xᵀ) relu(X W1) W2 (issue 12: no transposed
    pre-activation where the untransposed one reads naturally)."""
    path = tmp_path / "inline_relu.yaml"
    path.write_text(INLINE_RELU)
    d = derive_file(str(path))
    lines = [line for _, line in entries(plain(d))]
    assert "grad(W2) = 2 relu(X W1)ᵀ relu(X W1) W2" in lines
    assert not any("W1ᵀ Xᵀ" in line for line in lines)
    tex = fragment(d)
    assert r"2 \operatorname{relu}(X W_{1})^{\top} \operatorname{relu}(X W_{1}) W_{2}" in tex
    assert r"W_{1}^{\top} X^{\top}" not in tex
    code = run("derive", "-f", "numpy", path).output
    assert "d_W2 = 2 * (np.maximum(X @ W1, 0.0).T @ np.maximum(X @ W1, 0.0) @ W2)" in code
    assert "W1.T @ X.T" not in code
    r = run("verify", path)
    assert r.exit_code == 0, r.output
    env = env_for(d, R.reference(d.graph, seed=1))
    for _, line in entries(plain(d)):
        env.check(line)


@pytest.mark.parametrize("spec,want", [
    ("weight_decay_mlp", "grad(w2) = gelu(X W1 + b1ᵀ)ᵀ ∂L/∂p + 2 lam·w2"),
    ("layerscale_residual", "grad(W2)  = Σ_b gamᵀ ⊙ (gelu(X_b W1)ᵀ ∂L/∂Y_b)"),
    ("layerscale_residual", "grad(gam) = Σ_b colsum(W2 ⊙ (gelu(X_b W1)ᵀ ∂L/∂Y_b))"),
    ("parallel_attn_mlp", "grad(W2) = relu(N W1)ᵀ ∂L/∂Y"),
])
def test_a_function_of_a_product_is_transposed_outside(spec, want):
    d = derive_file(str(MODELS / "more9" / f"{spec}.yaml"))
    text = plain(d)
    assert want in [line.strip() for line in text.splitlines()]
    for pre in ("W1ᵀ Xᵀ", "W1ᵀ X_bᵀ", "W1ᵀ Nᵀ"):
        assert pre not in text
