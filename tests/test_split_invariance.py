"""Writing a composition on one line prints the same gradients as the same computation split
into named nodes (issue 12), and every printed form of both verifies.

The pairs are in ``split_pairs.py``: SwiGLU, PCA reconstruction, ReLU and tanh MLPs, a GRU
and an LSTM cell, quadratic and trace forms, logistic and softmax regression, a residual
block, layers with the bias first, on a vector and transposed, layer normalisation, a
low-rank fit, a tied autoencoder; random specs from ``spec_strategies`` are split against their
lines inlined.  The comparison writes the split spec's own intermediates out in the closed
forms (``G`` of ``G = X @ W1.T`` as ``X W1ᵀ``) and compares the printed text up to the order
of terms and factors.  A transposed pre-activation (σ'(W Xᵀ + b) where the line wrote
σ(X Wᵀ + bᵀ)) and a ``.T.T`` in generated code are looked for in every shipped and test spec.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from ruamel.yaml import YAML

import spec_strategies as S
from einderive import api
from einderive import matrix as mx
from einderive.recognize import transpose_deep
from einderive.record import replace
from einderive.render.styles import Unicode
from split_pairs import assert_same_gradients, PAIRS, Pair, compare, derivations

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_one_line_and_split_print_the_same_gradients(pair: Pair) -> None:
    assert_same_gradients(pair)


def test_the_pairs_compare_most_gradients() -> None:
    """A gradient too large for a closed form on either side is not compared: few are."""
    compared = sum(len(compare(p)[0]) for p in PAIRS)
    assert len(PAIRS) >= 10 and compared >= 50


def test_the_comparison_sees_a_different_gradient() -> None:
    """The check can fail: a split that computes something else prints differently."""
    pair = PAIRS[0]
    wrong = Pair("wrong", pair.header, pair.one,
                 ("G = X @ W3.T", "U = X @ W1.T", "A = silu(G) * U", "L = sum(A * T)"))
    assert compare(wrong)[1]


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_every_printed_form_of_both_verifies(pair: Pair) -> None:
    for d in derivations(pair):
        report = api.verify(d)
        assert report.ok, (report.error, [c for c in report.checks if not c.ok])


# -- random compositions ---------------------------------------------------------------------


def _inlined(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A random spec's forward items, and the same with every node but the last before the
    loss written into the lines that read it."""
    items = YAML(typ="safe").load(text)["forward"]
    keep = {items[-1].split("=")[0].strip(), items[-2].split("=")[0].strip()}
    defs: dict[str, str] = {}
    one = []
    for item in items:
        name, rhs = (x.strip() for x in item.split("=", 1))
        for n, r in defs.items():
            rhs = re.sub(rf"\b{n}\b", f"({r})", rhs)
        if name in keep:
            one.append(f"{name} = {rhs}")
        else:
            defs[name] = rhs
    return tuple(items), tuple(one)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(S.valid_specs(max_nodes=3, max_depth=2, avoid_known=True, new_ops=False))
def test_random_compositions_print_the_same_gradients_when_split(text: str) -> None:
    """Up to where a transpose is written (the pairs above compare that too).  Tensors of
    three axes are left out: their einsum fallbacks letter the same contraction differently
    (the batched forms are another task's)."""
    split, one = _inlined(text)
    if split == one or re.search(r"\[\w+, \w+, \w+\]", text) or "einsum" in text:
        return
    header = text[:text.index("forward:")]
    both, diff = compare(Pair("random", header, one, split), loose=True)
    assert not diff, (text, diff)


# -- orientation in every spec -----------------------------------------------------------------


def _specs() -> list[str]:
    return sorted(glob.glob(str(ROOT / "specs" / "*.yaml")) +
                  glob.glob(str(ROOT / "tests" / "models" / "*.yaml")))


def _function_arguments(m: mx.M) -> list[mx.M]:
    """The arguments of the functions of products in ``m`` (its pre-activations)."""
    return [a for n in mx.walk(m) if isinstance(n, mx.Fn) for a in n.children()
            if any(isinstance(k, mx.MatMul) for k in mx.walk(a))]


def _transposed_preactivations(d: Any) -> set[str]:
    """Pre-activations an adjoint reads transposed from how the forward pass wrote them."""
    forward = {a for _, f in d.forward if f.matrix is not None
               for a in _function_arguments(f.matrix)}
    out = set()
    for adj in d.adjoints:
        for form in (adj.form, adj.closed):
            if form is None or form.matrix is None:
                continue
            for m in (form.matrix, *(w.lhs for w in form.wheres)):
                for a in _function_arguments(m):
                    if a not in forward and transpose_deep(a) in forward:
                        out.add(f"∂L/∂{adj.name}: {Unicode().matrix(a)}")
    return out


@pytest.mark.parametrize("path", _specs(), ids=lambda p: Path(p).stem)
def test_no_transposed_preactivation_and_no_double_transpose_in_code(path: str) -> None:
    d = api.derive_file(path)
    assert not _transposed_preactivations(d)
    for fmt, twice in (("numpy", ".T.T"), ("torch", ".mT.mT")):
        assert twice not in api.render(d, fmt), fmt


def test_the_orientation_check_sees_a_transposed_preactivation() -> None:
    """The check can fail: the GRU's update gate read the other way round is found."""
    d = api.derive_file(ROOT / "tests" / "models" / "gru_cell.yaml")
    (form,) = [f for t, f in d.forward if t.name == "Zg"]
    (arg,) = _function_arguments(form.matrix)
    turned = mx.Fn("sigmoid_prime", transpose_deep(arg), tuple(reversed(arg.shape)))
    adj = d.adjoint("Wz")
    fake = SimpleNamespace(forward=d.forward,
                           adjoints=(replace(adj, form=replace(adj.form, matrix=turned)),))
    assert _transposed_preactivations(fake) == {"∂L/∂Wz: Wz Xᵀ + Uz Hpᵀ + bz"}
