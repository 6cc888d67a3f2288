"""Generated code writes each where-clause once, as an assignment before the statement that
first reads it, and reads its variable after (render/code.py ``Compiler._bound``).

Written where it was read, a clause read twice by a clause read twice ... k deep was 2^k
copies of it: a residual chain's closed forms, each reading the forms below it by name,
made code of 35 kB from 8 layers and did not finish 12 within minutes."""

from __future__ import annotations

import re

import pytest

from conftest import derive_text
from einderive import derivation
from einderive.api import torch_module, verify
from einderive.render.pymodule import closed_forms_module, closed_forms_parts, numpy_module

np = pytest.importorskip("numpy")
try:
    import torch
except ImportError:  # pragma: no cover - torch is a test extra
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

CLAUSE = re.compile(r"^\s*(t\d+_*) = ", re.M)  # a where-clause's assignment
WHERE = re.compile(r"(?:where |; )(t\d+) = ")  # a clause as a comment prints it


def residual(n: int) -> str:
    """h_k = h_{k-1} + tanh(W_k h_{k-1}): ∂L/∂h_{k-1} reads ∂L/∂h_k twice (the skip and
    the branch), so each closed form reads the one below it at two places."""
    inputs = "".join(f"  W{k}: [D, D]\n" for k in range(1, n + 1))
    forward = "".join(f"  - h{k} = h{k - 1} + tanh(W{k} @ h{k - 1})\n" for k in range(1, n + 1))
    return (f"dims: {{D: 3}}\ninputs:\n  h0: [D]\n{inputs}forward:\n{forward}"
            f"  - L = sum(h{n} * h{n})\nloss: L\n")


@pytest.fixture
def every_form_stood(monkeypatch):
    """Closed forms may read any number of upstream closed forms by name (no cap)."""
    monkeypatch.setattr(derivation, "STOOD_LIMIT", 10 ** 6)


def _closed_code(n: int) -> str:
    parts = closed_forms_parts(derive_text(residual(n)), internal=True)
    assert parts is not None
    return parts.text()


def test_each_clause_of_a_residual_chain_is_assigned_once(every_form_stood):
    d = derive_text(residual(8))
    code = closed_forms_module(d)
    assigned = CLAUSE.findall(code)
    assert len(assigned) >= 6  # the forms read each other by name ...
    assert len(assigned) == len(set(assigned))  # ... each clause written once
    # every clause a printed form reads is assigned, once, and read by its variable
    printed = {name for line in code.splitlines() if line.lstrip().startswith("#")
               for name in WHERE.findall(line)}
    assert printed == set(assigned)
    body = [line for line in code.splitlines() if not line.lstrip().startswith("#")]
    for name in assigned:
        first = next(k for k, line in enumerate(body) if re.search(rf"\b{name}\b", line))
        assert CLAUSE.match(body[first]).group(1) == name  # assigned before it is read


def test_a_residual_chains_code_grows_linearly_with_its_depth(every_form_stood):
    """Sizes, not times: 8 → 16 layers about doubles the code (8 layers inlined: 35 kB)."""
    small = _closed_code(8)
    assert len(small) < 4_000
    large = _closed_code(16)
    assert len(large) < 2.6 * len(small)
    assert max(map(len, large.splitlines())) < 1_000


def test_verify_of_a_deep_residual_chain_with_every_form_named(every_form_stood):
    d = derive_text(residual(24))
    assert len(CLAUSE.findall(closed_forms_module(d))) >= 20
    assert verify(d).ok


def test_clauses_read_by_two_statements_are_written_once():
    """rope on a batch: ∂L/∂C and ∂L/∂Sn read the same four slices (t1 … t4), assigned
    before ∂L/∂C and read by name in both."""
    d = derive_text(ROPE)
    code = numpy_module(d)
    gradients = code.split("def gradients", 1)[1]
    assigned = CLAUSE.findall(gradients)
    assert assigned and len(assigned) == len(set(assigned))
    backward = gradients[gradients.index("t1 = "):]
    assert "t1 = Q[:, :, 0:H]" in backward
    assert backward.count("Q[:, :, 0:H]") == 1  # read in two statements, written once
    assert "d_C = np.sum(t1 * t2 + t3 * t4, axis=0)" in backward
    assert "d_Sn = np.sum(t1 * t4 - t3 * t2, axis=0)" in backward


# two specs whose generated code assigns where-clauses, with their losses in PyTorch
ROPE = """\
    name: rope_batched_rank3
    dims: {B: 2, T: 3, H: 2, D: 2 * H}
    inputs: {X: [B, T, D], W: [D, D], C: [T, H], Sn: [T, H]}
    forward:
      - Q = X @ W
      - Qr = concatenate([Q[:, :, 0:H] * C - Q[:, :, H:D] * Sn, Q[:, :, H:D] * C + Q[:, :, 0:H] * Sn], axis=2)
      - L = sum(tanh(Qr) * X)
    loss: L
    """

HEADS = """\
    name: gain_before_heads
    dims: {B: 2, T: 3, H: 2, Dh: 2, D: H * Dh}
    inputs: {X: [B, T, D], g: [D], Wq: [D, D], Wk: [D, D], Wv: [D, D]}
    forward:
      - N1 = X / sqrt(mean(X ** 2, axis=-1, keepdims=True) + 1e-6) * g
      - Q = transpose(reshape(N1 @ Wq, [B, T, H, Dh]), axes=(0, 2, 1, 3))
      - K = transpose(reshape(N1 @ Wk, [B, T, H, Dh]), axes=(0, 2, 1, 3))
      - V = transpose(reshape(N1 @ Wv, [B, T, H, Dh]), axes=(0, 2, 1, 3))
      - A = softmax(Q @ transpose(K, axes=(0, 1, 3, 2)) / sqrt(Dh), axis=-1)
      - O = reshape(transpose(A @ V, axes=(0, 2, 1, 3)), [B, T, D])
      - L = sum(O ** 2)
    loss: L
    """


def _rope(X, W, C, Sn):
    Q = X @ W
    H = C.shape[1]
    a, b = Q[:, :, :H], Q[:, :, H:]
    Qr = torch.cat([a * C - b * Sn, b * C + a * Sn], dim=2)
    return torch.sum(torch.tanh(Qr) * X)


def _heads(X, g, Wq, Wk, Wv):
    B, T, D = X.shape
    H, Dh = 2, D // 2
    N1 = X / torch.sqrt(torch.mean(X ** 2, dim=-1, keepdim=True) + 1e-6) * g

    def split(Y):
        return (N1 @ Y).reshape(B, T, H, Dh).permute(0, 2, 1, 3)
    Q, K, V = split(Wq), split(Wk), split(Wv)
    A = torch.softmax(Q @ K.transpose(-1, -2) / Dh ** 0.5, dim=-1)
    O = (A @ V).permute(0, 2, 1, 3).reshape(B, T, D)
    return torch.sum(O ** 2)


def _load(tmp_path, name: str, code: str):
    import importlib.util
    path = tmp_path / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_torch
@pytest.mark.parametrize("text, reference", [(ROPE, _rope), (HEADS, _heads)],
                         ids=["rope_batched_rank3", "gain_before_heads"])
def test_code_with_where_assignments_matches_autograd(tmp_path, text, reference):
    d = derive_text(text)
    rng = np.random.default_rng(3)
    sizes = dict(d.graph.dims)
    values = {t.name: rng.standard_normal(tuple(sizes[s] for s in t.shape))
              for t in d.graph.inputs}
    args = [torch.tensor(values[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    want = torch.autograd.grad(reference(*args), args)

    numpy_code = numpy_module(d)
    assert CLAUSE.search(numpy_code.split("def gradients", 1)[1])  # it reads assignments
    got = _load(tmp_path, "numpy_code", numpy_code).gradients(**values)
    for t, w in zip(d.graph.inputs, want):
        assert np.allclose(got[t.name], w.numpy(), rtol=1e-9, atol=1e-11), t.name

    torch_code = torch_module(d)
    assert CLAUSE.search(torch_code.split("def backward", 1)[1])
    module = _load(tmp_path, "torch_code", torch_code)
    fn = next(v for k, v in vars(module).items() if k.endswith("Function") and k != "Function")
    fresh = [a.detach().clone().requires_grad_(True) for a in args]
    fn.apply(*fresh).backward()
    for t, a, w in zip(d.graph.inputs, fresh, want):
        assert torch.allclose(a.grad, w, rtol=1e-9, atol=1e-11), t.name


def test_second_order_functions_assign_their_own_clauses(tmp_path):
    """hvp and its Gauss-Newton parts each read ``gradients``' clauses (the body they
    share) and assign their own, in their own function: none is read where it is not
    assigned."""
    from einderive.api import second_order
    d = second_order(derive_text(HEADS), hvp="", gauss_newton=True)
    code = numpy_module(d)
    functions = re.split(r"^def ", code, flags=re.M)[1:]
    seen = 0
    for f in functions:
        assigned = CLAUSE.findall(f)
        assert len(assigned) == len(set(assigned)), f.split("(", 1)[0]
        read = set(re.findall(r"\b(t\d+_*)\b", "\n".join(
            line for line in f.splitlines() if not line.lstrip().startswith("#"))))
        assert read <= set(assigned), f.split("(", 1)[0]
        seen += bool(assigned)
    assert seen >= 3
    module = _load(tmp_path, "second", code)
    rng = np.random.default_rng(0)
    sizes = dict(d.graph.dims)
    values = {t.name: rng.standard_normal(tuple(sizes[s] for s in t.shape))
              for t in d.graph.inputs}
    directions = {f"v_{k}": rng.standard_normal(np.shape(v)) for k, v in values.items()}
    full = module.hvp(**values, **directions)
    gn, rest = module.gnvp(**values, **directions), module.hvp_rest(**values, **directions)
    for k in full:
        assert np.allclose(full[k], gn[k] + rest[k], rtol=1e-9, atol=1e-11), k
    if torch is not None:  # (∇²L) v by double backward
        names = [t.name for t in d.graph.inputs]
        args = tuple(torch.tensor(values[k], dtype=torch.float64) for k in names)
        v = tuple(torch.tensor(directions[f"v_{k}"], dtype=torch.float64) for k in names)
        _, want = torch.autograd.functional.hvp(_heads, args, v)
        for k, w in zip(names, want):
            assert np.allclose(full[k], w.numpy(), rtol=1e-8, atol=1e-10), k


def test_gru_unroll3_names_every_closed_form_and_its_code_assigns_each_clause_once():
    """closed.STOOD_LIMIT 12 (was 4, for the code's sake): gru_unroll3 had 14 refusals
    ("too large", then "no closed form" for the adjoints reading those), now none."""
    from pathlib import Path
    from einderive.api import derive_file
    from einderive.render.terminal import Options, plain
    d = derive_file(str(Path(__file__).parent / "models" / "more8" / "gru_unroll3.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert "too large to be worth printing" not in flat and "(no closed form" not in flat
    code = closed_forms_module(d)
    assigned = CLAUSE.findall(code)
    assert len(assigned) >= 7 and len(assigned) == len(set(assigned))
    assert verify(d).ok


def test_a_chains_printed_clauses_do_not_grow_with_its_depth():
    """Without a cap each layer's closed form reads every form above it and prints their
    clauses: quadratic output (160 layers: 23 085 lines).  With STOOD_LIMIT the forms near
    the loss name up to twelve, the rest refuse: the same clauses at any depth."""
    from einderive.render.terminal import Options, plain

    def chain(n: int) -> str:
        inputs = "".join(f"  W{k}: [D, D]\n" for k in range(1, n + 1))
        forward = "".join(f"  - h{k} = sigmoid(W{k} @ h{k - 1})\n" for k in range(1, n + 1))
        return (f"dims: {{D: 3}}\ninputs:\n  h0: [D]\n{inputs}forward:\n{forward}"
                f"  - L = sum(h{n} * h{n})\nloss: L\n")

    def where_lines(n: int) -> int:
        out = plain(derive_text(chain(n)), Options(expand=True))
        return sum(line.lstrip().startswith("where t") for line in out.splitlines())
    assert 0 < where_lines(24) == where_lines(36)
