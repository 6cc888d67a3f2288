"""The new-user models of sessions s25 (nu6), s26 (nu7), s27 (nu8), s28 (nu9), s29 (nu10),
s30 (nu11), s31 (nu12), s32 (nu13), s33 (nu14) and s34 (nu15) against forward passes written by
hand in PyTorch
(tests/newuser6_forwards.py … tests/newuser15_forwards.py;
never einderive's parse): the generated NumPy gradients, and the generated PyTorch autograd.Function's, equal
autograd's at the spec's sizes and at a second set (ALT, else distinct primes as
tests/torch_reference.py draws them), and the generated Hessian-vector product where HVP
lists the spec.

tests/models/*.yaml named here run here and in test_models.py (verify, the reference walk);
the rest, tests/models/more/*.yaml (nu6), tests/models/more7/*.yaml (nu7),
tests/models/more8/*.yaml (nu8), tests/models/more9/*.yaml (nu9), tests/models/more10/*.yaml
(nu10), tests/models/more11/*.yaml (nu11), tests/models/more12/*.yaml (nu12),
tests/models/more13/*.yaml (nu13), tests/models/more14/*.yaml (nu14) and
tests/models/more15/*.yaml (nu15), run here in every run: about 185 CPU-seconds for some 650
models, the one comparison
of their gradients with a reference that shares no code with einderive's parse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
import newuser6_forwards
import newuser7_forwards
import newuser8_forwards
import newuser9_forwards
import newuser10_forwards
import newuser11_forwards
import newuser12_forwards
import newuser13_forwards
import newuser14_forwards
import newuser15_forwards
from test_codegen import load

torch = pytest.importorskip("torch")

HERE = Path(__file__).parent / "models"
# each session's forwards beside the folder of its own models
SESSIONS = ((newuser6_forwards, HERE / "more"), (newuser7_forwards, HERE / "more7"),
            (newuser8_forwards, HERE / "more8"), (newuser9_forwards, HERE / "more9"),
            (newuser10_forwards, HERE / "more10"),
            (newuser11_forwards, HERE / "more11"), (newuser12_forwards, HERE / "more12"),
            (newuser13_forwards, HERE / "more13"), (newuser14_forwards, HERE / "more14"),
            (newuser15_forwards, HERE / "more15"))
FORWARDS = {k: v for m, _ in SESSIONS for k, v in m.FORWARDS.items()}
ALT = {k: v for m, _ in SESSIONS for k, v in m.ALT.items()}
HVP = {k for m, _ in SESSIONS for k in m.HVP}
CASES = [pytest.param(p, id=p.stem) for p in sorted(HERE.glob("*.yaml")) if p.stem in FORWARDS] \
    + [pytest.param(p, id=p.stem) for _, more in SESSIONS for p in sorted(more.glob("*.yaml"))]


@pytest.mark.parametrize("session,more", SESSIONS,
                         ids=["nu6", "nu7", "nu8", "nu9", "nu10", "nu11", "nu12", "nu13", "nu14", "nu15"])
def test_every_forward_has_its_spec(session, more):
    names = {p.stem for p in HERE.glob("*.yaml")} | {p.stem for p in more.glob("*.yaml")}
    assert set(session.FORWARDS) <= names and len(session.FORWARDS) >= 50


def _sizes(g, name: str) -> list[dict]:
    from einderive.spec import sizes_with
    alt = dict(sizes_with(g.spec.dims, ALT[name])) if name in ALT else R.sizes_of(g)
    return [dict(sizes_with(g.spec.dims, {})), alt]


def _tensor(x: np.ndarray):
    return torch.tensor(x, dtype=torch.float64 if x.dtype.kind == "f" else torch.int64)


def _autograd(fn, values: dict, sizes: dict, wrt: list[str]):
    t = {k: _tensor(v) for k, v in values.items()}
    for k in wrt:
        t[k].requires_grad_(True)
    loss = fn(t, sizes)
    loss.backward()
    return float(loss.detach()), {k: np.zeros(values[k].shape) if t[k].grad is None
                                  else t[k].grad.numpy() for k in wrt}  # None: no effect


def _close(got, want, what: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, autograd {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want))))
    assert float(np.max(np.abs(got - want))) <= 1e-7 * scale, what


def _function(mod):
    return next(v for v in vars(mod).values() if isinstance(v, type)
                and issubclass(v, torch.autograd.Function) and v is not torch.autograd.Function)


@pytest.mark.parametrize("path", CASES)
def test_generated_gradients_match_a_hand_written_forward(path, tmp_path):
    from einderive.api import derive_file, render
    d = derive_file(path)
    g, fn = d.graph, FORWARDS[path.stem]
    wrt, order = list(g.wrt), [t.name for t in g.inputs]
    numpy_mod = load(tmp_path, render(d, "numpy"))
    torch_fn = _function(load(tmp_path, render(d, "torch")))
    for n, sizes in enumerate(_sizes(g, path.stem)):
        values = R.random_inputs(g, sizes, n)
        loss, want = _autograd(fn, values, sizes, wrt)
        _close(numpy_mod.forward(**values), loss, f"forward at {sizes}")
        got = numpy_mod.gradients(**values)
        for k in wrt:
            _close(got[k], want[k], f"NumPy grad({k}) at {sizes}")
        args = [_tensor(values[k]).requires_grad_(k in wrt) for k in order]
        torch_fn.apply(*args).backward()
        for k, a in zip(order, args):
            if k in wrt:
                _close(a.grad.numpy(), want[k], f"PyTorch grad({k}) at {sizes}")


@pytest.mark.parametrize("path", [c for c in CASES if c.id in HVP])
def test_generated_hvp_matches_a_hand_written_forward(path, tmp_path):
    from einderive.api import derive_file, render, second_order
    d = derive_file(path)
    g, fn = d.graph, FORWARDS[path.stem]
    wrt = list(g.wrt)
    mod = load(tmp_path, render(second_order(d, hvp=""), "numpy"))
    for n, sizes in enumerate(_sizes(g, path.stem)):
        values = R.random_inputs(g, sizes, n)
        v = {k: np.random.default_rng(7).standard_normal(values[k].shape) for k in wrt}
        t = {k: _tensor(x) for k, x in values.items()}
        _, hv = torch.autograd.functional.hvp(
            lambda *xs: fn(t | dict(zip(wrt, xs)), sizes), tuple(t[k] for k in wrt),
            tuple(torch.tensor(v[k]) for k in wrt))
        got = mod.hvp(**values, **{f"v_{k}": v[k] for k in wrt})
        for k, h in zip(wrt, hv):
            _close(got[k], h.numpy(), f"H v ({k}) at {sizes}")
