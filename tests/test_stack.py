"""stack([a, b, …], axis=k), NumPy's meaning: the pieces (all of one shape) side by side along
a new axis of as many elements as there are pieces.  S_{i s j} = δ(s, 0) a_ij + δ(s, 1) b_ij;
the adjoint of a piece is the upstream adjoint at its position, ∂L/∂S_{i, 0, j}, in matrix
form take(∂L/∂S, 0, axis=1).  The new axis is a dim the graph defines as the count (n2, n3 …;
a spec's own dim defined as that number is used instead).

Each case is checked by finite differences (every printed form, at two sizes) and its
generated NumPy and PyTorch code against PyTorch autograd of an independent forward pass
(tests/torch_reference.py stacks with the library's own stack)."""

from __future__ import annotations


import pytest

from conftest import assert_spec_error, derive_text, forms
from einderive.api import render, verify

HEAD = """\
name: stacks
# Z, used by no input, keeps its size 2: the reference's primes for the others (B=3, N=5,
# K=7) then differ from the stacked axis' 2 (P, n2), so no misplaced axis can hide
dims: {Z: 2, B: 3, N: 2, K: 4, P: "2"}
inputs:
  x: [B, N]
  u: [N]
  w: [N]
  W1: [N, K]
  W2: [N, K]
  V: [K, K]
  Y: [B, P]
  s: []
  t: []
forward:
"""

STACKS = {
    # P: "2" is the stacked axis: Y shares it
    "two heads, a loss reading S": ["a = x @ u", "b = tanh(x @ w)",
                                    "S = stack([a, b], axis=1)", "L = sum((S - Y) ** 2)"],
    "two heads, a log-softmax over them": ["S = stack([x @ u, x @ w], axis=-1)",
                                           "L = -sum(log_softmax(S, axis=1) * Y)"],
    "the last axis, summed over": ["S = stack([x @ W1, sigmoid(x @ W2)], axis=-1)",
                                   "L = sum(sum(S, axis=-1) ** 2)"],
    # three pieces: the graph's dim n3
    "a vector with itself transformed": ["S = stack([u, exp(u) * w, u * u])",
                                         "L = sum((S @ W1) ** 2)"],
    "rank 3 along axis 0, then a product": ["S = stack([x @ W1, tanh(x @ W2)], axis=0)",
                                            "T = S @ V", "L = sum(T * T)"],
    "scalars": ["S = stack([s, t * t, s * t])", "L = sum(exp(S))"],
    "a middle axis": ["S = stack([x, x * x], axis=1)", "L = sum(S ** 3)"],
    "one piece": ["S = stack([x], axis=1)", "L = sum(S * S)"],
    # S read at the slice's Shift(0, 1, 1): δ(Shift(0, 1, 1), 0) is decided (0), not left
    # for the code (verify --hessian: CodegenError) nor printed (δ_{0, 1})
    "a slice of a stack": ["S = stack([x @ u, x @ w], axis=1)", "L = sum(S[:, 1:2] ** 2)"],
    "two stacks of as many pieces": ["S = stack([x @ u, x @ w], axis=1)",
                                     "R = stack([x @ w, sigmoid(x @ u)], axis=1)",
                                     "L = sum(S * R)"],
}


def spec(lines: list[str], head: str = HEAD) -> str:
    return head + "".join(f"  - {line}\n" for line in lines) + "loss: L\n"


@pytest.mark.parametrize("name", sorted(STACKS))
def test_stack_gradients_match_finite_differences(name):
    d = derive_text(spec(STACKS[name]))
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
    report = verify(d, sizes={"B": 5, "N": 3, "K": 4}, seed=2)
    assert report.ok and report.sizes["P"] == 2, [(c.name, c.max_abs) for c in report.checks]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_stack_generated_gradients_match_torch_autograd(name, tmp_path):
    from test_ops import _generated_code_matches_torch
    _generated_code_matches_torch(derive_text(spec(STACKS[name])), tmp_path)


def test_a_piece_adjoint_is_the_upstream_adjoint_at_its_position():
    d = derive_text(spec(STACKS["rank 3 along axis 0, then a product"]))
    out = render(d, "markdown")
    assert "S     = stack([x W1, tanh(x W2)], axis=0)" in out, out
    assert forms(d, "W1") == ("x_jk ∂L/∂S_{0, j, l}", "xᵀ take(∂L/∂S, 0, axis=0)")
    assert forms(d, "W2")[1] == "xᵀ (take(∂L/∂S, 1, axis=0) ⊙ (1 − tanh(x W2)^∘2))"
    numpy = render(d, "numpy")
    # the pieces are named nodes, as concatenate's
    assert "S = np.stack((_S_1, _S_2), axis=0)" in numpy, numpy
    assert "d_S[0]" in numpy and "d_S[1]" in numpy, numpy
    assert "S = torch.stack((_S_1, _S_2), dim=0)" in render(d, "torch")
    latex = render(d, "latex")
    assert (r"\operatorname{take}\left(\frac{\partial L}{\partial S}, 0, \mathrm{axis}{=}0"
            r"\right)") in latex, latex
    assert r"\frac{\partial L}{\partial S_{0, j, l}}" in latex, latex


def test_a_where_helper_reads_per_element_as_its_form_uses_it(tmp_path, run):
    """∂L/∂x_b = 2 (… W2 (σ'(W2ᵀ x_b) ⊙ rowsum(S_b))): x is B×N, so the helper's clause
    printed as σ'(W2ᵀ x) = σ(x W2) ⊙ … did not type (its sides were each element's, printed
    unsubscripted); it reads per element, as the form uses it, in every notation, and reads
    back (tests/notation_reader.py) to the reference."""
    from test_printed_forms import failures
    d = derive_text(spec(STACKS["the last axis, summed over"]))
    clause = "σ'(W2ᵀ x_b) = (σ(x W2))_b ⊙ (1 − (σ(x W2))_b)"
    from einderive.render.terminal import plain
    for out in [plain(d)] + [render(d, fmt) for fmt in ("markdown", "json", "numpy", "torch")]:
        assert clause in out and "σ'(W2ᵀ x) =" not in out, out
    latex = render(d, "latex")
    assert (r"\sigma'(W_{2}^{\top} x_{b}) = (\sigma(x W_{2}))_{b} \odot "
            r"(1 - (\sigma(x W_{2}))_{b})") in latex, latex
    path = tmp_path / "stack.yaml"
    path.write_text(spec(STACKS["the last axis, summed over"]))
    assert not failures(path, run)


def test_the_index_form_prints_each_position():
    """A number on an axis of more than one element is a position and prints (δ_{k, 0},
    S_{i, 1}, softmax(S)_{i, 0}); the 0 of a size-1 axis does not (it printed S_i)."""
    d = derive_text(spec(STACKS["two heads, a loss reading S"]))
    out = render(d, "markdown")
    assert "S_jm = a_j δ_{m, 0} + b_j δ_{m, 1}" in out, out
    assert "S    = stack([a, b], axis=1)" in out, out
    # (the stacked piece taken back is the piece itself, b: simplify.take_of_stack)
    assert forms(d, "b") == ("2 (S_{j, 1} − Y_{j, 1})",
                             "2 (b − take(Y, 1, axis=1))")
    d = derive_text(spec(STACKS["two heads, a log-softmax over them"]))
    index, matrix = forms(d, "u")
    assert "softmax(S)_{j, 0} Σ_m Y_jm − Y_{j, 0}" in index, index
    assert "take(softmax(S), 0, axis=1)" in matrix, matrix


def test_the_stacked_axis_is_a_dim_defined_as_the_count():
    # the spec's own P: "2" is used; three pieces make n3; two stacks of two share one dim
    d = derive_text(spec(STACKS["two heads, a loss reading S"]))
    assert d.graph["S"].shape == ("B", "P")
    d = derive_text(spec(STACKS["a vector with itself transformed"]))
    assert d.graph["S"].shape == ("n3", "N")
    n3 = next(x for x in d.graph.spec.dims if x.name == "n3")
    assert (n3.size, n3.definition) == (3, 3)
    import json
    dims = json.loads(render(d, "json"))["dims"]
    # the count dim has no name of the user's: it prints as its number, the shapes too
    assert {"name": "3", "size": 3, "index": "n"} in dims, dims
    head = HEAD.replace(', P: "2"', "").replace("Y: [B, P]", "n2: [B]")
    d = derive_text(spec(["S = stack([x @ u, x @ w], axis=1)",
                          "R = stack([x @ w, n2], axis=1)", "L = sum(S * R)"], head))
    # n2 names an input: the dim is n2_, one for both stacks (S * R has one shape)
    assert d.graph["S"].shape == d.graph["R"].shape == ("B", "n2_")
    assert verify(d, seed=1).ok
    # one piece: a new axis of size 1, as NumPy's
    assert derive_text(spec(STACKS["one piece"])).graph["S"].shape == ("B", 1, "N")


def test_dims_cannot_move_the_count(tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(spec(STACKS["a vector with itself transformed"]))
    r = run("verify", "--dims", "n3=4", str(path))
    assert r.exit_code == 2, r.output
    assert "--dims gives dim 'n3' the size 4, but it is the constant 3" in r.output, r.output
    assert "leave it out of --dims" in r.output, r.output
    r = run("verify", "--dims", "B=4,N=6", str(path))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("name", ["two heads, a loss reading S",
                                  "rank 3 along axis 0, then a product",
                                  "a slice of a stack"])
def test_second_order_through_stack(name, tmp_path, run):
    path = tmp_path / "s.yaml"
    path.write_text(spec(STACKS[name]))
    for option in (("--hessian",), ("--hvp", "x")):
        r = run("verify", *option, str(path))
        assert r.exit_code == 0, r.output
        assert "second-order checks of 1 spec match finite differences" in r.output, r.output
    r = run("derive", "--hessian", "x,w", str(path))
    assert r.exit_code == 0 and "δ_{0, 1}" not in r.output and "δ_{1, 1}" not in r.output, \
        r.output


def test_concatenate_of_pieces_with_a_size_one_axis():
    """A piece of shape (B, 1) read at position 1 of the joined axis: ∂L/∂b printed
    2 (S_i − Y_i) (the position dropped as a size-1 axis' 0) and its matrix form was
    2 (S − Y), of S's shape, with no error; verify was an internal error."""
    head = HEAD.replace("u: [N]", "u: [N, 1]").replace("w: [N]", "w: [N, 1]")
    d = derive_text(spec(["a = x @ u", "b = tanh(x @ w)", "S = concatenate([a, b], axis=1)",
                          "L = sum((S - Y) ** 2)"], head))
    assert forms(d, "b") == ("2 (S_{j, 1} − Y_{j, 1})",
                             "2 (take(S, 1, axis=1) − take(Y, 1, axis=1))")
    assert forms(d, "a")[1] == "2 (take(S, 0, axis=1) − take(Y, 0, axis=1))"
    assert verify(d, seed=1).ok


ERRORS = [
    ("shapes that differ", "S = stack([x, x.T])", "16:19",
     "cannot stack: shapes (B, N) and (N, B) do not match", "does not broadcast"),
    ("a piece that would broadcast", "S = stack([x, s])", "16:19",
     "cannot stack: shapes (B, N) and () do not match", "the same shape"),
    ("an axis out of range", "S = stack([x, x], axis=3)", "16:28",
     "axis 3 is out of range for stack", "-3 to 2"),
    ("a negative axis out of range", "S = stack([x, x], axis=-4)", "16:28",
     "axis -4 is out of range for stack", "-3 to 2"),
    ("an axis that is no integer", "S = stack([x, x], axis=K)", "16:28",
     "axis must be an integer", "axis=1"),
    ("no list", "S = stack(x, axis=1)", "16:15", "first argument must be a list",
     "stack([a, b], axis=0)"),
    ("an empty list", "S = stack([])", "16:15", "first argument must be a list",
     "stack([a, b], axis=0)"),
]


@pytest.mark.parametrize("name,line,at,message,hint", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_stacks_point_at_the_place(name, line, at, message, hint):
    assert_spec_error(spec([line, "L = sum(S)"]), at, message, hint, exact=True)


def test_a_bad_stack_exits_2_with_its_place(tmp_path, run):
    path = tmp_path / "bad.yaml"
    path.write_text(spec(["S = stack([x, x.T])", "L = sum(S)"]))
    r = run("derive", str(path))
    assert r.exit_code == 2, r.output
    assert "bad.yaml:16:19: error: cannot stack" in r.output, r.output


STACK_DAMAGE = [  # tests/regressions/stack_pieces.yaml: printed, then damaged
    ("∂L/∂b = take(∂L/∂S, 1, axis=1)", "∂L/∂b = take(∂L/∂S, 0, axis=1)"),  # the position
    ("∂L/∂b_j = ∂L/∂S_{j, 1}", "∂L/∂b_j = ∂L/∂S_{j, 0}"),
    ("S_jm = a_j δ_{m, 0} + b_j δ_{m, 1}", "S_jm = a_j δ_{m, 1} + b_j δ_{m, 0}"),
    ("S = stack([a, b], axis=1)", "S = stack([b, a], axis=1)"),  # the order of the pieces
    ("R = stack([u, w ⊙ exp(u), u ⊙ u], axis=0)", "R = stack([u, w ⊙ exp(u), u], axis=0)"),
]


@pytest.mark.parametrize("good,bad", STACK_DAMAGE, ids=[b for _, b in STACK_DAMAGE])
def test_the_reader_catches_damage_in_stacks_and_takes(good, bad):
    """The notation reader (tests/notation_reader.py, written from the README) evaluates
    take, stack, a position and δ_{k, 0} as a person reads them: the printed forms of
    tests/regressions/stack_pieces.yaml read back (tests/test_printed_forms.py), and a
    wrong position or order changes the number."""
    from pathlib import Path

    import torch_reference as R
    from einderive.api import derive_file
    from notation_reader import ReaderError
    from test_printed_forms import env_for
    d = derive_file(str(Path(__file__).parent / "regressions" / "stack_pieces.yaml"))
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)
