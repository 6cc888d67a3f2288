"""Real-model specs (tests/models/*.yaml): each verifies, and its generated NumPy gradients match
PyTorch autograd of an independent forward pass (tests/torch_reference.py).

Where PyTorch is absent the generated gradients are compared with central finite differences of
the same independent forward pass instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch_reference as R

MODELS = sorted((Path(__file__).parent / "models").glob("*.yaml"))

# Known defects, one line each (a spec for each in tests/regressions); strict so a fix shows up.
VERIFY_XFAIL = {
}
GRAD_XFAIL = dict(VERIFY_XFAIL)


def _cases(xfails):
    return [pytest.param(p, id=p.stem, marks=pytest.mark.xfail(strict=True, reason=xfails[p.stem]))
            if p.stem in xfails else pytest.param(p, id=p.stem) for p in MODELS]


def test_at_least_35_models():
    assert len(MODELS) >= 35


def _derive(path):
    from einderive.api import derive_file
    return derive_file(str(path))


def load_generated(d, tmp_path):
    """einderive's generated NumPy module for ``d``, imported from a temporary file."""
    from einderive.api import render
    src = render(d, "numpy")
    f = tmp_path / f"gen_{d.name}.py"
    f.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"gen_{d.name}_{id(d)}", f)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def assert_close(got, want, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert err <= 1e-6 * scale, f"{what}: max abs error {err:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("path", _cases(VERIFY_XFAIL))
def test_model_verifies(path, run):
    r = run("verify", path)
    assert r.exit_code == 0, r.output


def check_generated_gradients(d, tmp_path, seed=0):
    """The generated ``gradients()`` equals the reference at random inputs (torch autograd, or
    finite differences without torch)."""
    g = d.graph
    ref = R.reference(g, seed)
    mod = load_generated(d, tmp_path)
    grads = mod.gradients(**{k: v.copy() for k, v in ref.inputs.items()})
    assert_close(mod.forward(**{k: v.copy() for k, v in ref.inputs.items()}),
                 ref.values[g.loss], "forward")
    for name in g.wrt:
        assert name in grads, f"gradients() has no entry for {name}"
        assert_close(grads[name], ref.adjoints[name], f"grad({name})")


@pytest.mark.parametrize("path", _cases(GRAD_XFAIL))
def test_model_gradients_match_reference(path, tmp_path):
    check_generated_gradients(_derive(path), tmp_path)
