"""Second order through reshapes: every Hessian block, the HVP and the gradient of specs that
read an input (or a product) through ``reshape``, against torch autograd and finite differences.

A read of a reshape substituted into another read leaves a digit of the merged index alone
(g_{⌊k/Dh⌋, j} for the split x): its derivative was paired as if the whole run of digits
stood there, which ate the index after it, and ∂²L/∂x∂W printed Σ_j g_{⌊k/Dh⌋, j} where
g_{⌊k/Dh⌋, m} is right, with no error.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import IndexedBase, KroneckerDelta, Mul, Sum, symbols

from conftest import derive_text
from torch_reference import _Lib, evaluate, random_inputs, sizes_of, torch

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# the spec of the wrong block (issue 16): a vector split into heads, mixed with per-head weights
GROUPED = """
name: grouped
dims: {H: 2, Dh: 2, D: H*Dh}
inputs: {x: [D], W: [H, Dh, Dh]}
forward:
  - g = reshape(x, [H, Dh])
  - z = einsum("hd,hde->he", g, W)
  - L = sum(z*z)
loss: L
"""

HEADS = """
name: heads_split
dims: {T: 3, H: 2, Dh: 2, D: H*Dh}
inputs: {X: [T, D], Wq: [D, D]}
forward:
  - Q = reshape(X @ Wq, [T, H, Dh])
  - K = reshape(X, [T, H, Dh])
  - S = einsum("thd,shd->hts", Q, K)
  - L = sum(tanh(S))
loss: L
"""

RESHAPE_MATMUL = """
name: reshape_matmul
dims: {H: 2, Dh: 3, D: H*Dh}
inputs: {x: [D], W: [Dh, H], u: [Dh]}
forward:
  - G = reshape(x, [H, Dh])
  - y = tanh(W @ G)
  - L = sum(y * y) + u @ (W @ G) @ x[0:Dh]
loss: L
"""

RESHAPE_PRODUCT = """
name: reshape_product
dims: {H: 2, Dh: 2, D: H*Dh, HH: H*H}
inputs: {a: [D], b: [D], V: [Dh, H]}
forward:
  - P = reshape(a * b, [H, Dh])
  - m = reshape(P @ V, [HH])
  - L = sum(sigmoid(m) * m) + sum(a * a * b)
loss: L
"""

MERGE = """
name: reshape_merge
dims: {H: 2, Dh: 3, D: H*Dh}
inputs: {W: [H, Dh], x: [D]}
forward:
  - w = reshape(W, [D])
  - L = (w @ x) * (w @ w) + sum(exp(w * x))
loss: L
"""

SPECS = {"grouped": GROUPED, "heads": HEADS, "reshape_matmul": RESHAPE_MATMUL,
         "reshape_product": RESHAPE_PRODUCT, "merge": MERGE}


def _second(text: str, **kw):
    from einderive.api import second_order
    return second_order(derive_text(text), **kw)


def _module(d, form: str) -> dict:
    from einderive.api import torch_module
    from einderive.render.pymodule import numpy_module
    ns: dict = {}
    exec(torch_module(d) if form == "torch" else numpy_module(d, form=form), ns)  # noqa: S102
    return ns


def _loss(graph, sizes, fixed, chosen):
    def loss(*xs):
        return evaluate(graph, sizes, {**fixed, **dict(zip(chosen, xs))}, _Lib(torch))[graph.loss]
    return loss


def _close(got, want, what) -> None:
    want = np.asarray(want, dtype=float)
    got = np.asarray(got, dtype=float).reshape(want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert np.allclose(got, want, atol=1e-9 * scale, rtol=1e-8), what


def _torch_args(inputs: dict) -> dict:
    return {k: torch.tensor(np.asarray(a), dtype=torch.float64) for k, a in inputs.items()}


def _check_against_autograd(text: str, seed: int = 5) -> None:
    """Gradient, HVP and every Hessian block of every printed form, against torch."""
    d = _second(text, hessian="")
    graph, chosen = d.graph, list(d.second.along)
    sizes = sizes_of(graph)
    inputs = random_inputs(graph, sizes, seed)
    fixed = _torch_args(inputs)
    loss = _loss(graph, sizes, fixed, chosen)
    at = tuple(fixed[x] for x in chosen)
    moving = [a.clone().requires_grad_() for a in at]
    grads = torch.autograd.grad(loss(*moving), moving)
    hess = torch.autograd.functional.hessian(loss, at)
    rng = np.random.default_rng(seed)
    v = {x: rng.standard_normal(tuple(fixed[x].shape)) for x in chosen}
    _, hv = torch.autograd.functional.hvp(loss, at, tuple(torch.tensor(v[x]) for x in chosen))
    for form in ("matrix", "index", "torch"):
        ns = _module(d, form)
        args = fixed if form == "torch" else inputs
        vs = {f"v_{x}": (torch.tensor(v[x]) if form == "torch" else v[x]) for x in chosen}
        # the torch module's first order is its autograd.Function, tested with the specs
        got_g = ns["gradients"](**args) if form != "torch" else \
            dict(zip(chosen, (g.detach().numpy() for g in grads)))
        got_hv = ns["hvp"](**args, **vs)
        got_h = ns["hessian"](**args)
        for a, x in enumerate(chosen):
            _close(got_g[x], grads[a].detach().numpy(), (form, "grad", x))
            _close(got_hv[x], hv[a].numpy(), (form, "hvp", x))
            for b, y in enumerate(chosen):
                _close(got_h[(x, y)], hess[a][b].numpy(), (form, "hessian", x, y))


@needs_torch
@pytest.mark.parametrize("name", list(SPECS))
def test_every_block_through_a_reshape_matches_autograd(name):
    _check_against_autograd(SPECS[name])


@pytest.mark.parametrize("name", list(SPECS))
def test_verify_hessian_passes_through_a_reshape(run, tmp_path, name):
    """Finite differences of the generated gradient, every block, its symmetry (exit 0)."""
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPECS[name])
    r = run("verify", str(spec), "--hessian=")
    assert r.exit_code == 0, r.output
    assert "match finite differences" in r.output


def test_the_mixed_block_of_a_split_input_reads_the_right_element():
    """∂²L/∂x_k∂W_lmn = 2 δ_{⌊k/Dh⌋, l} g_{l, m} W_{l, k mod Dh, n} + δ_{k, l·Dh + m} ∂L/∂z_ln:
    the first term printed Σ_j g_{⌊k/Dh⌋, j} (no delta of l) before."""
    from einderive.render.sheet import build
    blocks = {(h.x, h.y): f"{h.formula.lhs_index} = {h.formula.index}"
              for h in build(_second(GROUPED, hessian="")).hessian}
    assert blocks[("x", "W")] == ("∂²L/∂x_k∂W_lmn = δ_{k, l·Dh + m} ∂L/∂z_{⌊k/Dh⌋, n} + "
                                  "2 δ_{⌊k/Dh⌋, l} g_{⌊k/Dh⌋, m} W_{⌊k/Dh⌋, k mod Dh, n}")
    assert "Σ" not in blocks[("x", "W")]


def test_a_lone_digit_is_paired_with_its_own_index():
    """∂W[⌊k/Dh⌋, j, e]/∂W[l, m, n] is δ(⌊k/Dh⌋, l) δ(j, m) δ(e, n); a whole run of digits
    still pairs with the flat index (δ(k, l·Dh + m))."""
    from einderive.ops import Digit, Flat, index_deltas
    k, j, e, l, m, n, H, Dh = symbols("k j e l m n H Dh")
    lone = index_deltas((Digit(k, 0, H, Dh), j, e), (l, m, n), KroneckerDelta)
    assert lone == Mul(KroneckerDelta(Digit(k, 0, H, Dh), l, evaluate=False),
                       KroneckerDelta(j, m), KroneckerDelta(e, n))
    whole = index_deltas((Digit(k, 0, H, Dh), Digit(k, 1, H, Dh), e), (l, m, n), KroneckerDelta)
    assert whole == Mul(KroneckerDelta(k, Flat(l, m, H, Dh), evaluate=False),
                        KroneckerDelta(e, n))


def test_a_delta_whose_other_side_reads_the_summed_index_is_kept():
    """Σ_k δ(k, Flat(⌊k/Dh⌋, j)) t_k (k mod Dh = j) is no substitution of k: kept whole."""
    from einderive.indexed import collapse
    from einderive.ops import Digit, Flat
    k, j, H, Dh = symbols("k j H Dh")
    t = IndexedBase("t")
    e = Sum(KroneckerDelta(k, Flat(Digit(k, 0, H, Dh), j, H, Dh), evaluate=False) * t[k],
            (k, 0, H * Dh - 1))
    out = collapse(e)
    assert isinstance(out, Sum) and out.has(k)


# -- random small reshape specs ---------------------------------------------------------

_ACT = st.sampled_from(["tanh", "sigmoid", "exp", ""])


@st.composite
def reshape_specs(draw) -> str:
    """x split into heads (or a matrix merged), mixed with a weight per head, through an
    elementwise function, and a loss that is not quadratic."""
    h, dh = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    act = draw(_ACT)
    merge = draw(st.booleans())
    first = "x * y" if draw(st.booleans()) else "x"
    mix = draw(st.sampled_from(['einsum("hd,hde->he", g, W)', 'einsum("hd,hed->he", g, W)']))
    f = (lambda s: f"{act}({s})" if act else s)
    lines = ([f"  - g = reshape({first}, [H, Dh])"] if not merge else
             ["  - m = reshape(G, [D])", f"  - g = reshape({first.replace('x', 'm * x')}, [H, Dh])"])
    inputs = "{x: [D], W: [H, Dh, Dh]" + (", y: [D]" if "y" in first else "") + \
        (", G: [H, Dh]}" if merge else "}")
    return (f"name: random_reshape\ndims: {{H: {h}, Dh: {dh}, D: H*Dh}}\n"
            f"inputs: {inputs}\nforward:\n" + "\n".join(lines) + "\n"
            f"  - z = {f(mix)}\n"
            f"  - L = sum(z * z * z) + sum(g * g) * sum(z)\nloss: L\n")


@needs_torch
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(reshape_specs())
def test_random_reshape_specs_match_autograd(text):
    _check_against_autograd(text)
