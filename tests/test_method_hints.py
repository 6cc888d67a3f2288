"""A library's spelling (``x.sum(1)``, ``np.exp(x)``, ``x.transpose(0, 2, 1)``) is refused with
a hint that writes the spec's spelling; every such hint must parse, and call only the spec's
functions, and where NumPy says what the call means, mean the same (its result's shape)."""

from __future__ import annotations

import itertools
import textwrap

import numpy as np
import pytest

from einderive import expr as X
from einderive.errors import Loc, SpecError
from einderive.ops import ALIASES, FUNCTIONS, OPERATOR_METHODS, OPS, TORCH_KEYWORDS
from einderive.spec import Assignment


def parse(text: str) -> X.Statement:
    return X.parse_assignment(Assignment(text, Loc("spec.yaml", 1, 1)))


def hint_of(call: str) -> str:
    with pytest.raises(SpecError) as info:
        parse(f"z = {call}")
    assert info.value.hint
    return info.value.hint


def written(hint: str, call: str) -> str | None:
    """The spelling a hint says to write, or None for a hint that writes none (usage)."""
    if not hint.startswith("write "):
        return None
    assert f", not {call}" in hint, hint
    return hint[len("write "):hint.index(f", not {call}")]


def calls(e: object) -> list[str]:
    """Every function a parsed expression calls."""
    out = [e.func] if isinstance(e, X.Call) else []
    if isinstance(e, X.Keyword):
        return calls(e.value)
    for v in getattr(e, "__dict__", {}).values():
        for item in v if isinstance(v, tuple) else (v,):
            if isinstance(item, (X.Expr, X.Keyword)):
                out += calls(item)
    return out


ARGS = ("1", "(0, 1)", "True", "y", "B")
NAMES = sorted({*FUNCTIONS, *ALIASES, *OPERATOR_METHODS})


def library_calls() -> list[str]:
    """Each name as a method of a tensor and as NumPy's function, with zero to three
    positional arguments and each keyword the function takes (or PyTorch's name for it)."""
    out = []
    for name in NAMES:
        op = OPS.get(ALIASES.get(name, name))
        keys = [*(op.kwargs if op else ()), *TORCH_KEYWORDS]
        for n in range(4):
            for args in itertools.islice(itertools.permutations(ARGS, n), 3):
                for kw in [None, *keys]:
                    rest = [*args, *([f"{kw}=1"] if kw else [])]
                    out.append(f"x.{name}({', '.join(rest)})")
                    out.append(f"np.{name}({', '.join(['x', *rest])})")
    return out


def test_every_hint_for_a_library_call_parses_and_calls_only_the_specs_functions():
    wrote = 0
    for call in library_calls():
        hint = hint_of(call)
        spelling = written(hint, call)
        if spelling is None:  # usage, or the nearest function: no spelling to parse
            assert not hint.startswith("write "), hint
            continue
        wrote += 1
        try:
            stmt = parse(f"z = {spelling}")
        except SpecError as exc:  # pragma: no cover - the failure the test is for
            pytest.fail(f"{call}: the hint {hint!r} does not parse: {exc}")
        assert set(calls(stmt.value)) <= set(FUNCTIONS), (call, spelling)
    # most of them have a spelling (not x.reshape((0, 1)) and x.view((0, 1)): no spec takes a
    # size 0, and the hint says what a size may be)
    assert wrote > 790


def test_a_hint_that_does_not_parse_fails_the_check():
    with pytest.raises(SpecError):
        parse("z = transpose(x, 0, 2, 1).T()")
    assert written("write transpose(x, 0, 2, 1), not x.transpose(0, 2, 1)",
                   "x.transpose(0, 2, 1)") == "transpose(x, 0, 2, 1)"


SPEC = """\
dims: {{B: 2, T: 3, D: 4, F: B * T, G: T * D}}
inputs:
  X: [B, T, D]
  W: [D, D]
  y: [D]
forward:
  - z = {spelling}
  - L = sum(z)
loss: L
"""

# (library call, the spelling the hint writes, NumPy's own result of the call)
MEANING = [
    ("(X @ W).transpose(0, 2, 1)", "transpose(X @ W, axes=(0, 2, 1))",
     lambda X, W, y: (X @ W).transpose(0, 2, 1)),
    ("X.transpose((1, 0, 2))", "transpose(X, axes=(1, 0, 2))",
     lambda X, W, y: X.transpose((1, 0, 2))),
    ("X.transpose()", "transpose(X)", lambda X, W, y: X.transpose()),
    ("X.permute(2, 0, 1)", "transpose(X, axes=(2, 0, 1))", lambda X, W, y: X.transpose(2, 0, 1)),
    ("X.mean(1)", "mean(X, axis=1)", lambda X, W, y: X.mean(1)),
    ("X.sum(axis=0)", "sum(X, axis=0)", lambda X, W, y: X.sum(axis=0)),
    ("X.sum(dim=2, keepdim=True)", "sum(X, axis=2, keepdims=True)",
     lambda X, W, y: X.sum(axis=2, keepdims=True)),
    ("X.max(1, True)", "max(X, axis=1, keepdims=True)", lambda X, W, y: X.max(1, keepdims=True)),
    ("X.reshape(F, D)", "reshape(X, [F, D])", lambda X, W, y: X.reshape(6, 4)),
    ("X.reshape((B, G))", "reshape(X, [B, G])", lambda X, W, y: X.reshape((2, 12))),
    ("X.view(B, G)", "reshape(X, [B, G])", lambda X, W, y: X.reshape(2, 12)),
    ("np.transpose(X, (0, 2, 1))", "transpose(X, axes=(0, 2, 1))",
     lambda X, W, y: np.transpose(X, (0, 2, 1))),
    ("torch.softmax(X, dim=1)", "softmax(X, axis=1)", lambda X, W, y: X),
    ("X.exp().sum(1)", "sum(exp(X), axis=1)", lambda X, W, y: np.exp(X).sum(1)),
    ("X.matmul(W)", "X @ W", lambda X, W, y: X @ W),
    ("np.dot(W, y)", "W @ y", lambda X, W, y: np.dot(W, y)),
    ("W.t()", "W.T", lambda X, W, y: W.T),
    ("X.clip(0, 1)", "clip(X, 0, 1)", lambda X, W, y: X.clip(0, 1)),
    ("X.pow(2)", "X ** 2", lambda X, W, y: X ** 2),
    ("np.linalg.norm(X, axis=-1)", "norm(X, axis=-1)",
     lambda X, W, y: np.linalg.norm(X, axis=-1)),
]


@pytest.mark.parametrize("call, spelling, numpy", MEANING, ids=[m[0] for m in MEANING])
def test_the_hint_writes_what_the_call_means(call, spelling, numpy):
    from einderive.graph import build
    from einderive.spec import loads
    hint = hint_of(call)
    assert written(hint, call) == spelling, hint
    graph = build(loads(textwrap.dedent(SPEC.format(spelling=spelling)), "spec.yaml"))
    sizes = {"B": 2, "T": 3, "D": 4, "F": 6, "G": 12, "1": 1}
    got = tuple(sizes[str(d)] for d in graph["z"].shape)
    rng = np.random.default_rng(0)
    want = numpy(rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)).shape
    assert got == want


def test_pytorchs_swap_of_two_axes_is_named_in_the_hint():
    hint = hint_of("X.transpose(1, 2)")
    assert written(hint, "X.transpose(1, 2)") == "transpose(X, axes=(1, 2))"
    assert "PyTorch's transpose(1, 2) swaps two: list them all, e.g. axes=(0, 2, 1)" in hint


@pytest.mark.parametrize("call, hint", [
    ("x.clip(0)", "usage: clip(x, lo, hi)"),
    ("x.sum(1, True, 3)", "usage: sum(x, axis=None, keepdims=False)"),
    ("x.reshape()", "usage: reshape(x, [B, T, H, Dh])"),
    ("x.unsqueeze(1).sum()", "x.unsqueeze(1): a reshape names its shape: write reshape(x, [...])"),
    ("x.matmul(y, z)", "use the operator @ (2 operands)"),
    # a library's next argument that is no axis: norm's order (the 1-norm, not axis=1)
    ("np.linalg.norm(x, 1)", "usage: norm(x, axis=None, keepdims=False)"),
    ("torch.norm(x, 2)", "usage: norm(x, axis=None, keepdims=False)"),
    ("x.norm(1)", "usage: norm(x, axis=None, keepdims=False)"),
    # np.inner contracts the last axes of both (x @ y.T for matrices): no operator for it
    ("np.inner(x, y)", "known functions: abs"),
])
def test_a_call_no_function_takes_so_gets_its_usage(call, hint):
    assert hint_of(call).startswith(hint)


RESHAPING = """\
dims: {{B: 2, T: 3, D: 4, G: T * D}}
inputs:
  X: [B, T, D]
  Z: [B, 1, D]
  W: [D, D]
  y: [D]
forward:
  - h = W @ y
  - z = {call}
  - L = sum(z)
loss: L
"""

# (library call, the spelling the hint writes with its shape, PyTorch's own result of the call)
RESHAPINGS = [
    ("y.unsqueeze(1)", "reshape(y, [D, 1])", lambda t: t["y"].unsqueeze(1)),
    ("y.unsqueeze(0)", "reshape(y, [1, D])", lambda t: t["y"].unsqueeze(0)),
    ("h.unsqueeze(-1)", "reshape(h, [D, 1])", lambda t: (t["W"] @ t["y"]).unsqueeze(-1)),
    ("(W @ y).unsqueeze(-1)", "reshape(W @ y, [D, 1])", lambda t: (t["W"] @ t["y"]).unsqueeze(-1)),
    ("X.unsqueeze(2)", "reshape(X, [B, T, 1, D])", lambda t: t["X"].unsqueeze(2)),
    ("np.expand_dims(y, -1)", "reshape(y, [D, 1])", lambda t: t["y"].unsqueeze(-1)),
    ("Z.squeeze()", "reshape(Z, [B, D])", lambda t: t["Z"].squeeze()),
    ("Z.squeeze(1)", "reshape(Z, [B, D])", lambda t: t["Z"].squeeze(1)),
    ("X.flatten(1)", "reshape(X, [B, G])", lambda t: t["X"].flatten(1)),
    ("torch.flatten(X, 1)", "reshape(X, [B, G])", lambda t: t["X"].flatten(1)),
    ("self.W.unsqueeze(0)", "reshape(W, [1, D, D])", lambda t: t["W"].unsqueeze(0)),
    # a size -1 NumPy infers: the dim it stands for
    ("X.view(B, -1)", "reshape(X, [B, G])", lambda t: t["X"].view(2, -1)),
    ("y.view(-1, 1)", "reshape(y, [D, 1])", lambda t: t["y"].view(-1, 1)),
    ("X.reshape((B, T, -1))", "reshape(X, [B, T, D])", lambda t: t["X"].reshape((2, 3, -1))),
]


def reshaping_hint(call: str) -> str:
    from einderive.graph import build
    from einderive.spec import loads
    with pytest.raises(SpecError) as info:
        build(loads(RESHAPING.format(call=call), "spec.yaml"))
    assert info.value.hint
    return info.value.hint


@pytest.mark.parametrize("call, spelling, torch_call", RESHAPINGS, ids=[r[0] for r in RESHAPINGS])
def test_a_reshaping_call_gets_reshape_with_the_shape_it_makes(call, spelling, torch_call):
    """x.unsqueeze(1), x.flatten(1), x.squeeze(), x.view(B, -1) name no shape; the hint writes
    it, read off the tensor's shape where the lines before it are built (was: a list of known
    functions, 'did you mean square', or reshape(x, [B, -1]), which the spec refuses), and the
    spelling it writes makes PyTorch's shape."""
    torch = pytest.importorskip("torch")
    from einderive.graph import build
    from einderive.spec import loads
    hint = reshaping_hint(call)
    assert written(hint, call) == spelling, hint
    graph = build(loads(RESHAPING.format(call=spelling), "spec.yaml"))
    sizes = {"B": 2, "T": 3, "D": 4, "G": 12, "1": 1}
    got = tuple(sizes[str(d)] for d in graph["z"].shape)
    t = {"X": torch.zeros(2, 3, 4), "Z": torch.zeros(2, 1, 4), "W": torch.zeros(4, 4),
         "y": torch.zeros(4)}
    assert got == tuple(torch_call(t).shape)


@pytest.mark.parametrize("call, hint", [
    # no dim is the product B·T·D: the hint says which to declare, and the reshape with it
    ("X.flatten()", "declare the merged axis as a dim, dims: {BTD: B * T * D}, and write "
                    "reshape(X, [BTD]), not X.flatten()"),
    ("X.reshape(-1, D)", "declare the size -1 stands for as a dim, dims: {BT: B * T}, and "
                         "write reshape(X, [BT, D]), not X.reshape(-1, D)"),
    # no shape to read: squeeze of an axis that is not 1, an axis out of range
    ("X.squeeze(0)", "a reshape names its shape: write reshape(X, [...]) with X's dims and its "
                     "axes of size 1 left out"),
    ("y.unsqueeze(3)", "a reshape names its shape: write reshape(y, [...]) with y's dims and a 1 "
                       "inserted at that axis"),
])
def test_a_reshaping_call_with_no_shape_to_write_names_reshape(call, hint):
    assert reshaping_hint(call) == hint


SIZES_NO_SPEC_TAKES = "a reshape names its shape: write reshape(X, [...]) with a dim or 1 for " \
    "each size (NumPy's -1 stands for one size at most; declare a product of dims as a dim, " \
    "e.g. dims: {BT: B * T})"


@pytest.mark.parametrize("call", ["X.reshape(-1, -1)", "X.view(-1, -1, D)", "X.reshape((-1, -1))",
                                  "np.reshape(X, (-1, -1))", "X.reshape(B * T, -1)",
                                  "X.reshape(B * T, D)", "X.reshape(-2, D)", "X.view(0, D)"])
def test_a_reshape_with_sizes_no_spec_takes_gets_no_spelling_of_them(call):
    """Two -1s (NumPy refuses them: one size at most is inferred), a product of dims, a size
    below 1: the hint said ``write reshape(X, [-1, -1])`` or ``reshape(X, [B * T, -1])``,
    which the spec refuses in turn; it now says what a size may be."""
    hint = reshaping_hint(call)
    assert hint == SIZES_NO_SPEC_TAKES, hint


def test_a_modules_own_tensor_is_the_specs_tensor():
    """self.W of a module's forward is the spec's W (was usage: sum(…) for self.W.sum())."""
    assert hint_of("self.W.sum()") == "write sum(W), not self.W.sum()"
    assert hint_of("self.W @ x") == "write W, not self.W"
    assert hint_of("x.reshape(2, 3).sum()") == \
        "write sum(reshape(x, [2, 3])), not x.reshape(2, 3).sum()"


LOSSES = [  # (a library's loss as a new user writes it, PyTorch's value of it)
    ("F.mse_loss(Z, Y)", lambda F, t: F.mse_loss(t["Z"], t["Y"])),
    ("mse_loss(Z, Y)", lambda F, t: F.mse_loss(t["Z"], t["Y"])),
    ("F.l1_loss(Z, Y)", lambda F, t: F.l1_loss(t["Z"], t["Y"])),
    ("F.binary_cross_entropy_with_logits(Z, Y)",
     lambda F, t: F.binary_cross_entropy_with_logits(t["Z"], t["Y"])),
    ("binary_cross_entropy(sigmoid(Z), Y)",
     lambda F, t: F.binary_cross_entropy(t["Z"].sigmoid(), t["Y"])),
    ("F.cross_entropy(Z, y)", lambda F, t: F.cross_entropy(t["Z"], t["y"])),
    ("nll_loss(log_softmax(Z, axis=1), y)",
     lambda F, t: F.nll_loss(t["Z"].log_softmax(1), t["y"])),
]


@pytest.mark.parametrize("call,torch_loss", LOSSES, ids=[c for c, _ in LOSSES])
def test_a_library_loss_is_refused_with_the_loss_written_out_as_pytorch_means_it(
        call, torch_loss, tmp_path):
    """mse_loss is a mean: the hint writes it out (the nearest name, l2_loss, is a sum)."""
    torch = pytest.importorskip("torch")
    from einderive.api import render
    from einderive.derivation import derive
    from einderive.graph import build
    from einderive.spec import loads
    from test_codegen import load
    head = ("dims: {N: 3, C: 4}\ninputs: {Z: [N, C], Y: {shape: [N, C], positive: true}, "
            "y: {shape: [N], integer: C}}\nwrt: [Z]\nforward:\n")
    with pytest.raises(SpecError) as info:
        build(loads(head + f"  - L = {call}\nloss: L\n", "spec.yaml"))
    hint = info.value.hint or ""
    assert hint.startswith("write ") and f", not {call} (the loss written out" in hint, hint
    spelling = hint[len("write "):hint.index(f", not {call}")]
    mod = load(tmp_path, render(derive(loads(head + f"  - L = {spelling}\nloss: L\n")), "numpy"))
    rng = np.random.default_rng(2)
    values = {"Z": rng.normal(size=(3, 4)), "Y": rng.uniform(0.1, 0.9, size=(3, 4)),
              "y": np.array([0, 3, 1])}
    want = torch_loss(torch.nn.functional, {k: torch.tensor(v) for k, v in values.items()})
    assert abs(float(mod.forward(**values)) - float(want)) < 1e-12
