"""The Gauss-Newton split (``--gauss-newton``): which node is the output, the printed parts,
and the generated ``gauss_newton``/``hessian_rest``/``gnvp``/``hvp_rest`` against an
independent reference: torch's Jacobian J of the output and Hessian H_ℓ of the loss in
the output (``torch.autograd.functional``, on a torch walk of the spec), GN = Jᵀ H_ℓ J.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import derive_text
from test_hessian import LEAST_SQUARES, needs_torch
from test_hessian_bce import BCE_ON_P
from torch_reference import _Lib, evaluate, random_inputs, sizes_of, torch

ROOT = Path(__file__).parent.parent
SPECS = ROOT / "specs"
SEED = str(SPECS / "mlp.yaml")

TANH_L2 = """
name: tanh_l2
dims: {B: 3, D: 4, K: 2}
inputs: {X: [B, D], W: [D, K], T: [B, K]}
forward:
  - H = tanh(X @ W)
  - L = 0.5 * l2_loss(H, T)
loss: L
wrt: [W]
"""

WEIGHT_DECAY = """
name: weight_decay
dims: {B: 3, D: 4}
inputs: {X: [B, D], w: [D], t: [B]}
forward:
  - r = X @ w - t
  - L = sum(r * r) + 0.1 * sum(w * w)
loss: L
wrt: [w]
"""

TEXT = {"least_squares": LEAST_SQUARES, "bce_on_p": BCE_ON_P, "tanh_l2": TANH_L2}


def _derived(key: str, hessian: bool = True):
    from einderive.api import derive_file, second_order
    d = derive_file(str(SPECS / f"{key}.yaml")) if key not in TEXT else derive_text(TEXT[key])
    return second_order(d, **{"hessian" if hessian else "hvp": ""}, gauss_newton=True)


cached = functools.cache(_derived)


@pytest.mark.parametrize("key, output, part", [
    ("mlp", "e", ("L",)),  # L = sum(e * e): the residual
    ("logistic_regression", "z", ("L",)),  # the logits
    ("softmax_regression", "Z", ("L",)),
    ("embedding_lm_head", "Z", ("P", "L")),  # -mean(P[…]) is affine in P = log_softmax(Z)
    ("two_layer_mlp", "R", ("L",)),
    ("bce_on_p", "p", ("L",)),  # BCE on probabilities, with y taken in [0, 1]
    ("least_squares", "r", ("L",)),
    ("tanh_l2", "H", ("L",)),
])
def test_the_output_is_the_argument_of_the_final_convex_loss(key, output, part):
    from einderive.convex import split
    d = cached(key)
    assert split(d.graph) == split(d.graph)  # deterministic
    s = split(d.graph)
    assert (s.output, s.loss_part) == (output, part)
    assert d.second.gauss_newton.output == output


@pytest.mark.parametrize("text, why", [
    (WEIGHT_DECAY, "reads 2 tensors that move (r, w)"),
    (str(SPECS / "leaky_mlp.yaml"), "is not a convex function I recognise in 'R'"),
    (str(SPECS / "attention.yaml"), "reads 2 tensors that move (P, V)"),
    # an argument the graph made a node (_L_1) is described, not named
    ("dims: {N: 3}\ninputs: {A: [N, N], B: [N, N]}\nforward:\n"
     "  - L = trace(inv(A) @ B @ A.T) + trace(B.T @ inv(A.T))\nloss: L\n",
     "reads 3 tensors that move (A, B, a part written inside the line)"),
])
def test_a_loss_with_no_convex_output_is_refused_with_a_hint(run, tmp_path, text, why):
    path = text
    if not text.endswith(".yaml"):
        path = tmp_path / "spec.yaml"
        path.write_text(text.strip() + "\n", encoding="utf-8")
    r = run("derive", path, "--gauss-newton", "--hessian=")
    assert r.exit_code == 2, r.output
    assert "error: --gauss-newton: the loss 'L' " + why in r.output
    assert "hint: the split needs a convex loss of one node" in r.output


def test_gauss_newton_needs_a_second_order_option(run):
    r = run("derive", SEED, "--gauss-newton")
    assert r.exit_code == 2 and "give it with --hessian or --hvp" in r.output
    r = run("verify", SEED, "--gauss-newton")
    assert r.exit_code == 2 and "give it with --hessian or --hvp" in r.output


def _blocks(d) -> dict[tuple[str, str, str], str]:
    """Each part's block as printed in matrix (or Kronecker) form, keyed (part, x, y)."""
    from einderive.render.sheet import build
    sheet = build(d)
    out = {}
    for part, rows in (("gn", sheet.gn_hessian), ("rest", sheet.rest_hessian)):
        for h in rows:
            f = h.formula
            out[(part, h.x, h.y)] = "0" if f is None else \
                f.matrix if f.matrix is not None else (h.kron or "")
    return out


@pytest.mark.parametrize("key, x, gn, rest", [
    ("mlp", "x", "2 Wᵀ diag(σ'(z)^∘2) W", "Wᵀ diag(∂L/∂y ⊙ σ'(z) ⊙ (1 − 2 y)) W"),
    ("logistic_regression", "w", "(1/B) Xᵀ diag(σ'(z)) X", "0"),  # GN is the Hessian
    ("least_squares", "x", "2 Aᵀ A", "0"),
])
def test_textbook_gauss_newton_parts(key, x, gn, rest):
    rows = _blocks(cached(key))
    assert rows[("gn", x, x)] == gn
    assert rows[("rest", x, x)] == rest


def test_the_seed_gauss_newton_prints_in_the_terminal(run):
    r = run("derive", SEED, "--gauss-newton", "--hessian=x")
    assert r.exit_code == 0, r.output
    assert "Gauss-Newton split\nL = ℓ(e) with ℓ convex in the output e" in r.output
    assert "GN{∂²L/∂x²}" in r.output and "rest{∂²L/∂x²}" in r.output
    assert "GN{ℛ{∂L/∂x}}" in r.output and "rest{ℛ{∂L/∂x}}" in r.output


# -- against torch -----------------------------------------------------------------------------

CASES = ["mlp", "logistic_regression", "softmax_regression", "embedding_lm_head",
         "two_layer_mlp", "residual", "tied_autoencoder", "bce_on_p", "least_squares", "tanh_l2"]


def _as_torch(a):
    a = np.asarray(a)
    return torch.tensor(a, dtype=torch.long if a.dtype.kind in "iu" else torch.float64)


def _reference(d, inputs):
    """(GN, H) by torch: GN = Jᵀ H_ℓ J with J the Jacobian of the output f in the chosen
    inputs and H_ℓ the Hessian of the loss in f (the nodes before f not recomputed), each
    block shaped x's shape + y's; H the full Hessian."""
    from einderive.kinds import TensorKind
    from einderive.record import replace

    graph, sizes = d.graph, sizes_of(d.graph)
    chosen = list(d.second.along)
    f = d.second.gauss_newton.output
    fixed = {k: _as_torch(a) for k, a in inputs.items()}

    def output(*xs):
        return evaluate(graph, sizes, {**fixed, **dict(zip(chosen, xs))}, _Lib(torch))[f]

    def loss(*xs):
        return evaluate(graph, sizes, {**fixed, **dict(zip(chosen, xs))}, _Lib(torch))[graph.loss]
    # the loss as a function of f alone: f made an input of the same graph
    cut = replace(graph, tensors=tuple(replace(t, kind=TensorKind.INPUT, expr=None)
                                       if t.name == f else t for t in graph.tensors))

    def ell(fv):
        return evaluate(cut, sizes, {**fixed, f: fv}, _Lib(torch))[graph.loss]
    xs = tuple(fixed[x] for x in chosen)
    fv = output(*xs).detach()
    jac = torch.autograd.functional.jacobian(output, xs)
    h_ell = torch.autograd.functional.hessian(ell, fv)
    h = torch.autograd.functional.hessian(loss, xs)
    nf = fv.numel()
    gn, full = {}, {}
    for a, x in enumerate(chosen):
        for b, y in enumerate(chosen):
            ja, jb = jac[a].reshape(nf, -1), jac[b].reshape(nf, -1)
            block = ja.T @ h_ell.reshape(nf, nf) @ jb
            shape = tuple(fixed[x].shape) + tuple(fixed[y].shape)
            gn[(x, y)] = block.reshape(shape).numpy()
            full[(x, y)] = h[a][b].reshape(shape).numpy()
    return gn, full


def _functions(d, form: str):
    from einderive.render.pymodule import numpy_module
    ns: dict = {}
    exec(numpy_module(d, form=form), ns)  # noqa: S102 - generated by einderive
    return ns


def _close(got, want) -> bool:
    g = np.asarray(got, dtype=float).reshape(np.shape(want))
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    return bool(np.allclose(g, want, atol=1e-9 * scale, rtol=1e-8))


@needs_torch
@pytest.mark.parametrize("form", ["matrix", "index"])
@pytest.mark.parametrize("key", CASES)
def test_generated_gauss_newton_matches_torch(key, form):
    d = cached(key)
    inputs = random_inputs(d.graph, sizes_of(d.graph), 7)
    gn_want, h_want = _reference(d, inputs)
    ns = _functions(d, form)
    gn, rest = ns["gauss_newton"](**inputs), ns["hessian_rest"](**inputs)
    for key2, want in gn_want.items():
        assert _close(gn[key2], want), (key2, gn[key2], want)
        assert _close(rest[key2], h_want[key2] - want), (key2, rest[key2], h_want[key2] - want)


@needs_torch
@pytest.mark.parametrize("key", CASES)
def test_generated_gnvp_matches_torch(key):
    d = cached(key)
    inputs = random_inputs(d.graph, sizes_of(d.graph), 11)
    gn_want, h_want = _reference(d, inputs)
    chosen = list(d.second.along)
    rng = np.random.default_rng(3)
    v = {x: rng.standard_normal(np.shape(inputs[x])) for x in chosen}
    ns = _functions(d, "matrix")
    args = {**inputs, **{f"v_{x}": v[x] for x in chosen}}
    gv, rv = ns["gnvp"](**args), ns["hvp_rest"](**args)
    for x in chosen:
        want = sum(np.tensordot(gn_want[(x, y)], v[y], np.ndim(v[y])) for y in chosen)
        full = sum(np.tensordot(h_want[(x, y)], v[y], np.ndim(v[y])) for y in chosen)
        assert _close(gv[x], want), (x, gv[x], want)
        assert _close(rv[x], full - want), (x, rv[x], full - want)


@needs_torch
def test_generated_torch_gauss_newton_matches_torch():
    from einderive.api import torch_module
    d = cached("mlp")
    inputs = random_inputs(d.graph, sizes_of(d.graph), 2)
    gn_want, _ = _reference(d, inputs)
    ns: dict = {}
    exec(torch_module(d), ns)  # noqa: S102 - generated by einderive
    got = ns["gauss_newton"](**{k: _as_torch(a) for k, a in inputs.items()})
    for key, want in gn_want.items():
        assert _close(got[key].numpy(), want), key


def test_gauss_newton_is_positive_semidefinite_where_the_hessian_is_not():
    """The seed's Hessian in (W, x) is indefinite at a random point; its GN part is not."""
    d = cached("mlp")
    inputs = random_inputs(d.graph, sizes_of(d.graph), 1)
    ns = _functions(d, "matrix")
    along = list(d.second.along)
    sizes = [int(np.size(inputs[x])) for x in along]

    def assembled(blocks):
        return np.block([[np.reshape(blocks[(x, y)], (nx, ny)) for y, ny in zip(along, sizes)]
                         for x, nx in zip(along, sizes)])
    gn = assembled(ns["gauss_newton"](**inputs))
    h = assembled(ns["hessian"](**inputs))
    assert np.linalg.eigvalsh(h).min() < -1e-3
    assert np.linalg.eigvalsh(gn).min() > -1e-12


# -- verify and the formats ----------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--hessian=", "--hvp="])
def test_verify_checks_the_split(run, option):
    r = run("verify", SEED, option, "--gauss-newton")
    assert r.exit_code == 0, r.output
    assert "G v + rest v (x)" in r.output and "vᵀ G v ≥ 0 (1)" in r.output
    if option == "--hessian=":
        assert "G + rest (x, x)" in r.output and "G ⪰ 0 (index)" in r.output


def test_verify_fails_a_wrong_gauss_newton_part(run, monkeypatch):
    """A GN block's index form off by a factor (printed and generated alike) fails."""
    from einderive import derivation

    made = derivation._gauss_newton

    def doubled(*args, **kw):
        gn = made(*args, **kw)
        from einderive.record import replace
        hvp = tuple((t, replace(f, index=2 * f.index)) for t, f in gn.hvp)
        return replace(gn, hvp=hvp)
    monkeypatch.setattr(derivation, "_gauss_newton", doubled)
    r = run("verify", SEED, "--hvp=x", "--gauss-newton")
    assert r.exit_code == 1, r.output


def test_json_and_markdown_hold_the_split(run, tmp_path):
    r = run("derive", SEED, "--hessian=x", "--gauss-newton", "-f", "json")
    assert r.exit_code == 0, r.output
    gn = json.loads(r.output)["second_order"]["gauss_newton"]
    assert gn["output"] == "e"
    assert [b["x"] for b in gn["gn_hessian"]] == ["x"] and gn["rest_hvp"][0]["tensor"] == "x"
    assert gn["gn_hessian"][0]["matrix"] == "GN{∂²L/∂x²} = 2 Wᵀ diag(σ'(z)^∘2) W"
    r = run("derive", SEED, "--hessian=x", "--gauss-newton", "-f", "markdown")
    assert "## Gauss-Newton split\n\n<!-- einderive gauss-newton -->" in r.output
    assert "GN{∂²L/∂x²}      = 2 Wᵀ diag(σ'(z)^∘2) W" in r.output


def test_check_derives_a_golden_split_again(tmp_path):
    """A golden written with --gauss-newton keeps its section: check derives it again."""
    from einderive.api import derive_file, golden_document, second_order
    from einderive.golden import render_golden, spec_ref
    spec = tmp_path / "mlp.yaml"
    spec.write_text((SPECS / "mlp.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    golden = tmp_path / "golden" / "mlp.md"
    d = second_order(derive_file(spec), hessian="x", gauss_newton=True)
    text = golden_document(d, spec_ref(spec, golden))
    assert "GN{∂²L/∂x²}" in text
    assert render_golden(spec, golden, old=text) == text


def test_latex_has_the_split():
    from einderive.render.latex import fragment
    d = cached("mlp")
    tex = fragment(d, env="align")
    assert r"\mathrm{GN}\left\{\frac{\partial^2 L}{\partial x^2}\right\}" in tex
    assert r"\label{eq:mlp-x-x-gn-hessian}" in tex
    assert r"\label{eq:mlp-x-rest-hvp}" in tex


def test_readme_shows_the_split_as_printed(run):
    """The README's Gauss-Newton examples are what the commands print."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    r = run("derive", SEED, "--hessian=x", "--gauss-newton")
    assert r.output[r.output.index("Gauss-Newton split"):].rstrip("\n") in readme
    r = run("derive", str(SPECS / "logistic_regression.yaml"), "--hessian=w", "--gauss-newton")
    rows = r.output[r.output.index("  GN{ℛ{∂L/∂w_j}}"):].rstrip("\n")
    assert rows in readme
