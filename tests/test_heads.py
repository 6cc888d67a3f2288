"""Matrix forms of tensors of three or more axes beyond a leading batch (issue 12, item 4):
multi-head attention with the heads on a middle axis prints per head (C_h = (1/√Dh) Q_h K_hᵀ,
∂L/∂Q_h = (1/√Dh) ∂L/∂C_h K_h, Q_h the matrix Q[:, h, :]); a batch of matrices times a
vector per element (s_b = X_b w, ∂L/∂X_b = ∂L/∂s_b wᵀ, ∂L/∂w = Σ_b X_bᵀ ∂L/∂s_b); an axis
permutation ``permute(Q, (0, 2, 1, 3))`` and its adjoint the inverse permutation;
log_softmax of rank 3 as Z − logsumexp(Z).  No einsum.  Each form is read back by the
independent reader, damaged forms are caught, the generated NumPy and PyTorch code matches
torch autograd at two sets of sizes, ``verify`` passes, FLOPs are torch's and the LaTeX
compiles without an overfull box.
"""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pytest

import torch_reference as R
from conftest import needs_pdflatex
from notation_reader import ReaderError
from printed import entries
from test_codegen import _function, load, needs_torch, torch
from test_printed_forms import env_for, with_temporaries

from einderive.api import derive_file
from einderive.kinds import NoteKind
from einderive.api import torch_module
from einderive.render.pymodule import numpy_module
from einderive.render.terminal import plain

REGRESSIONS = Path(__file__).parent / "regressions"
SPECS = ["permute_axes", "permute_heads_linear", "log_softmax_rank3", "heads_middle_axis",
         "heads_torch_layout", "batched_matrix_vector", "heads_einsum_shipped",
         "per_head_weights", "contract_middle_axis", "literal_one_rank3",
         "literal_one_broadcast", "literal_one_row_rank3", "heads_split_no_batch",
         "heads_literal_one_batch"]
# heads_literal_one_batch's ∂L/∂Wq (a literal-1 axis inside a product) keeps an einsum
NO_EINSUM = [s for s in SPECS if s != "heads_literal_one_batch"]


def _derive(name: str):
    if name == "heads_einsum_shipped":  # the shipped spec, heads on the middle axis
        return derive_file(str(Path(__file__).parent.parent / "specs" /
                               "multihead_attention.yaml"))
    if name == "literal_one_broadcast":  # a model spec: m: [1, T, D] beside X: [B, T, D]
        return derive_file(str(Path(__file__).parent / "models" / f"{name}.yaml"))
    return derive_file(str(REGRESSIONS / f"{name}.yaml"))


def _lines(d, section: str) -> list[str]:
    return [line for sec, line in entries(plain(d)) if sec == section]


PRINTED = {  # spec -> lines its derivation prints (matrix forms, no einsum)
    "permute_axes": ["Qh = permute(Q, (0, 2, 1, 3))", "∂L/∂Q = permute(G, (0, 2, 1, 3))"],
    "permute_heads_linear": ["Qh = permute(Q, (0, 2, 1, 3))", "Y = tanh(Qh W)",
                             "∂L/∂Q = permute(∂L/∂Qh, (0, 2, 1, 3))",
                             "∂L/∂W = Σ_b Σ_h Qh_bhᵀ (∂L/∂Y_bh ⊙ (1 − Y_bh ⊙ Y_bh))"],
    # as the rank-2 case prints it: logsumexp(Z) each element's column of row values
    "log_softmax_rank3": ["P = Z − logsumexp(Z)",
                          "∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ "
                          "logsumexp(Z)"],
    "heads_einsum_shipped": ["C_h = (1/√Dh) Q_h K_hᵀ", "O_h = A_h V_h",
                             "∂L/∂A_h = ∂L/∂O_h V_hᵀ", "∂L/∂V_h = A_hᵀ ∂L/∂O_h",
                             "∂L/∂K_h = (1/√Dh) (∂L/∂C_h)ᵀ Q_h",
                             "∂L/∂Q_h = (1/√Dh) ∂L/∂C_h K_h"],
    "heads_middle_axis": ["C_bh = (1/√Dh) Q_bh K_bhᵀ", "O_bh = P_bh V_bh",
                          "∂L/∂Q_bh = (1/√Dh) ∂L/∂C_bh K_bh", "∂L/∂V_bh = P_bhᵀ ∂L/∂O_bh",
                          "grad(K)_bh = (1/√Dh) (∂L/∂C_bh)ᵀ Q_bh"],
    "batched_matrix_vector": ["s_b = X_b w", "∂L/∂X_b = ∂L/∂s_b wᵀ",
                              "∂L/∂w = Σ_b X_bᵀ ∂L/∂s_b", "grad(X)_b = ∂L/∂s_b wᵀ"],
    "per_head_weights": ["Q_h = X Wq_h", "∂L/∂Wq_h = Xᵀ ∂L/∂Q_h",
                         "∂L/∂X = Σ_h ∂L/∂Q_h Wq_hᵀ"],
    # the batch on T3's middle axis and Z's first: a sum over it of each element's product
    "contract_middle_axis": ["Z_b = T3_b A", "∂L/∂A = Σ_b T3_bᵀ ∂L/∂Z_b"],
    # a literal-1 axis ahead of a matrix: a batch of one, as NumPy broadcasts it
    "literal_one_rank3": ["∂L/∂x = 2 x"],
    "literal_one_broadcast": ["Y = tanh(X + m)", "∂L/∂m = Σ_b ∂L/∂Y_b ⊙ (1 − Y_b ⊙ Y_b)"],
    "heads_split_no_batch": ["∂L/∂X = t1 Wqᵀ", "∂L/∂Wq = Xᵀ t1",
                             "t1 = reshape(permute(∂L/∂Q, (1, 0, 2)), [T, D])"],
    "heads_literal_one_batch": ["∂L/∂X = t1 Wqᵀ",
                                "t1 = reshape(permute(∂L/∂Q, (0, 2, 1, 3)), [1, T, D])"],
    "literal_one_row_rank3": ["∂L/∂X = h ⊙ sign(X − g) + 𝟙[X > g] ⊙ minimum(X, h) + 𝟙[X < "
                              "h] ⊙ maximum(X, g)",
                              # NumPy's sums over axes, the literal 1s kept (was einsum),
                              # the two sums over the same axes one
                              "∂L/∂h = reshape(sum(|X − g| + 𝟙[X ≥ h] ⊙ maximum(X, g), "
                              "axis=(0, 2), keepdims=True), [T, 1])"],
    # PyTorch's layout: the heads moved ahead by a permutation, then NumPy's batched forms
    "heads_torch_layout": ["Q = permute(reshape(X Wq, [B, T, H, Dh]), (0, 2, 1, 3))",
                           "O = P V", "Y = reshape(permute(O, (0, 2, 1, 3)), [B, T, D])",
                           "∂L/∂O = permute(reshape(G, [B, T, H, Dh]), (0, 2, 1, 3))",
                           "∂L/∂V = Pᵀ ∂L/∂O",
                           "∂L/∂Q = (1/√Dh) (P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))) K",
                           # the projections through the merged heads' gradient, the
                           # forward's split and permutation undone (issue 12 item 1)
                           "∂L/∂X = t1 Wqᵀ + t2 Wkᵀ + t3 Wvᵀ",
                           "t1 = reshape(permute(∂L/∂Q, (0, 2, 1, 3)), [B, T, D])",
                           "t2 = reshape(permute(∂L/∂K, (0, 2, 1, 3)), [B, T, D])",
                           "∂L/∂Wq = Σ_b X_bᵀ t1_b", "∂L/∂Wk = Σ_b X_bᵀ t2_b",
                           "∂L/∂Wv = Σ_b X_bᵀ t3_b", "grad(Wv) = Σ_b X_bᵀ t3_b"],
}


@pytest.mark.parametrize("spec", SPECS)
def test_each_form_prints_without_einsum(spec):
    d = _derive(spec)
    shown = [line for _, line in entries(plain(d))]
    for want in PRINTED[spec]:
        assert want in shown, want
    if spec in NO_EINSUM:
        assert "einsum" not in plain(d).replace('einsum("', "")  # (the spec's own lines)
        assert not any(n.kind == NoteKind.EINSUM for n in d.notes)


def test_the_note_says_what_a_subscript_of_a_line_means():
    text = " ".join(plain(_derive("heads_einsum_shipped")).split())
    assert "A line subscripted by h holds for every element h of the batch axis H: Q_h is " \
        "the matrix Q[:, h, :]." in text
    two = " ".join(plain(_derive("heads_middle_axis")).split())
    assert "every element (b, h) of the batch axes B, H: Q_bh is the matrix Q[b, :, h, :]." \
        in two
    vector = " ".join(plain(_derive("batched_matrix_vector")).split())
    assert "∂L/∂s_b is the column ∂L/∂s[b, :]." in vector


def test_a_batch_axis_that_is_not_leading_everywhere_reads_element_by_element():
    """Y: [N, B, M] holds its batch on the middle axis: Z_b = X_bᵀ Y_b for each b."""
    from conftest import derive_text
    from test_batched import PERMUTED
    from einderive.api import verify
    d = derive_text(PERMUTED)
    shown = [line for _, line in entries(plain(d))]
    assert {"Z_b = X_bᵀ Y_b", "∂L/∂X_b = Y_b (∂L/∂Z_b)ᵀ", "∂L/∂Y_b = X_b ∂L/∂Z_b"} <= set(shown)
    assert verify(d).ok
    env = env_for(d, R.reference(d.graph, seed=1))
    for line in shown:
        env.check(line)


def test_an_inverse_permutation_is_the_adjoint():
    """A permutation that is not its own inverse: Qh = transpose(Q, axes=[1, 2, 0]) is
    permute(Q, (1, 2, 0)), and ∂L/∂Q the inverse permutation, (2, 0, 1)."""
    from conftest import derive_text
    d = derive_text("""
        dims: {A: 2, B: 3, C: 5}
        inputs: {Q: [A, B, C], G: [B, C, A]}
        forward:
          - Qh = transpose(Q, axes=[1, 2, 0])
          - L = sum(Qh * G)
        loss: L
    """)
    assert "Qh = permute(Q, (1, 2, 0))" in _lines(d, "Forward")
    assert "∂L/∂Q = permute(G, (2, 0, 1))" in _lines(d, "Backward")
    from einderive.api import verify
    assert verify(d).ok


@pytest.mark.parametrize("spec", SPECS)
def test_every_printed_line_reads_back(spec):
    d = _derive(spec)
    lines = entries(plain(d))
    env = with_temporaries(d, env_for(d, R.reference(d.graph, seed=2)), lines)
    for _, line in lines:
        if spec in NO_EINSUM or "einsum" not in line:  # (the reader cannot size 𝟏 there)
            env.check(line)


DAMAGE = [  # permute_axes, printed then damaged
    ("∂L/∂Q = permute(G, (0, 2, 1, 3))", "∂L/∂Q = permute(G, (0, 1, 3, 2))"),
    ("Qh = permute(Q, (0, 2, 1, 3))", "Qh = permute(Q, (2, 0, 1, 3))"),
]


DAMAGE += [  # log_softmax_rank3: a column of each element's rows, not of its columns
    ("P = Z − logsumexp(Z)", "P = Z − logsumexp(Z, axis=1)"),
    ("∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ logsumexp(Z)",
     "∂L/∂Z = ∂L/∂P − softmax(Z) ⊙ rowsum(∂L/∂P) + 2 softmax(Z) ⊙ rowsum(Z)"),
]


DAMAGE += [  # the shipped multi-head attention: a transpose, the head, a side swapped
    ("∂L/∂K_h = (1/√Dh) (∂L/∂C_h)ᵀ Q_h", "∂L/∂K_h = (1/√Dh) ∂L/∂C_h Q_h"),
    ("∂L/∂V_h = A_hᵀ ∂L/∂O_h", "∂L/∂V_h = A_h ∂L/∂O_h"),
    ("C_h = (1/√Dh) Q_h K_hᵀ", "C_h = (1/√Dh) K_h Q_hᵀ"),
    ("O_h = A_h V_h", "O_h = A_hᵀ V_h"),
]
DAMAGE += [  # per-head weights: the sum over the heads dropped, a transpose lost
    ("∂L/∂X = Σ_h ∂L/∂Q_h Wq_hᵀ", "∂L/∂X = ∂L/∂Q_h Wq_hᵀ"),
    ("∂L/∂Wq_h = Xᵀ ∂L/∂Q_h", "∂L/∂Wq_h = X ∂L/∂Q_h"),
]
DAMAGE += [  # batched matrix × vector
    ("∂L/∂X_b = ∂L/∂s_b wᵀ", "∂L/∂X_b = ∂L/∂s_b wᵀ + ∂L/∂s_b wᵀ"),
    ("∂L/∂w = Σ_b X_bᵀ ∂L/∂s_b", "∂L/∂w = X_bᵀ ∂L/∂s_b"),
    ("s_b = X_b w", "s_b = (1/2) X_b w"),
]
DAMAGE += [  # a contraction over Z's middle axis: the transpose, the batch sum dropped
    ("∂L/∂A = Σ_b T3_bᵀ ∂L/∂Z_b", "∂L/∂A = Σ_b T3_b ∂L/∂Z_b"),
    ("∂L/∂A = Σ_b T3_bᵀ ∂L/∂Z_b", "∂L/∂A = T3_bᵀ ∂L/∂Z_b"),
]


DAMAGE += [  # a batch of one: the broadcast operand, the factor
    ("Y = tanh(X + m)", "Y = tanh(X − m)"),
    ("∂L/∂x = 2 x", "∂L/∂x = x"),
]


DAMAGE += [  # PyTorch's layout: the merged heads' permutation, a transpose, a projection
    ("t1 = reshape(permute(∂L/∂Q, (0, 2, 1, 3)), [B, T, D])",
     "t1 = reshape(permute(∂L/∂Q, (0, 1, 2, 3)), [B, T, D])"),
    ("∂L/∂Wq = Σ_b X_bᵀ t1_b", "∂L/∂Wq = Σ_b X_bᵀ t2_b"),
    ("∂L/∂X = t1 Wqᵀ + t2 Wkᵀ + t3 Wvᵀ", "∂L/∂X = t1 Wq + t2 Wkᵀ + t3 Wvᵀ"),
]


def _damaged_spec(good: str) -> str:
    if "t1" in good:
        return "heads_torch_layout"
    if "m)" in good:
        return "literal_one_broadcast"
    if "∂L/∂x " in good:
        return "literal_one_rank3"
    if "T3" in good:
        return "contract_middle_axis"
    if "Wq_h" in good:
        return "per_head_weights"
    if "_h" in good:
        return "heads_einsum_shipped"
    if "_b" in good:
        return "batched_matrix_vector"
    return "log_softmax_rank3" if "Z" in good else "permute_axes"


@pytest.mark.parametrize("good,bad", DAMAGE, ids=[b for _, b in DAMAGE])
def test_the_reader_catches_damage(good, bad):
    d = _derive(_damaged_spec(good))
    env = with_temporaries(d, env_for(d, R.reference(d.graph, seed=1)), entries(plain(d)))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


OTHER_SIZES = [5, 3, 7, 2, 11, 13]  # a second set of sizes, distinct from sizes_of's


def _sizes(d, second: bool) -> dict:
    """R.sizes_of's sizes, or a second set: a dim no input carries keeps its size (the code
    cannot know another), a defined one (D: H * Dh) follows its definition."""
    if not second:
        return R.sizes_of(d.graph)
    from einderive.spec import sizes_with
    carried = {x for t in d.graph.inputs for x in t.shape}
    pool = iter(OTHER_SIZES)
    base = {dim.name: next(pool) if dim.name in carried else dim.size
            for dim in d.graph.spec.dims if dim.definition is None}
    return dict(sizes_with(d.graph.spec.dims, base))


@needs_torch
@pytest.mark.parametrize("second", [False, True], ids=["sizes", "other_sizes"])
@pytest.mark.parametrize("spec", SPECS)
def test_generated_code_matches_torch_autograd(tmp_path, spec, second):
    d = _derive(spec)
    sizes = _sizes(d, second)
    inputs = R.random_inputs(d.graph, sizes, 5)
    ref = R.torch_reference(d.graph, sizes, inputs)
    for code in (numpy_module(d), torch_module(d)):
        backward = [line for line in code.splitlines() if line.strip().startswith("d_")]
        assert backward
        assert spec not in NO_EINSUM or not any("einsum" in line for line in backward)
    got = load(tmp_path, numpy_module(d)).gradients(**inputs)
    args = [torch.tensor(inputs[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    _function(load(tmp_path, torch_module(d))).apply(*args).backward()
    for t, a in zip(d.graph.inputs, args):
        want = ref.adjoints[t.name]
        if t.name in got:
            assert np.allclose(got[t.name], want, rtol=1e-9, atol=1e-10), t.name
        assert np.allclose(a.grad.numpy(), want, rtol=1e-9, atol=1e-10), t.name


@pytest.mark.parametrize("spec", SPECS)
def test_verify_passes(spec):
    from einderive.api import verify
    assert verify(_derive(spec)).ok


@needs_torch
@pytest.mark.parametrize("spec", SPECS)
def test_flops_are_those_torch_counts(tmp_path, spec):
    from einderive.derivation import derive
    from einderive.record import replace
    from test_cost import _check_against_flop_counter
    d = _derive(spec)
    every = derive(replace(d.graph, wrt=d.graph.differentiable), closed=False)
    _check_against_flop_counter(tmp_path, every, f"heads_cost_{spec}")


@needs_pdflatex
def test_latex_compiles_without_overfull_boxes(tmp_path):
    from einderive import api
    from test_latex_fit import overfull
    for spec in SPECS:
        tex = api.render(_derive(spec), "latex", standalone=True)
        assert overfull(tmp_path, spec, tex) == [], spec
    tex = api.render(_derive("permute_axes"), "latex")
    assert r"\operatorname{permute}(G, (0, 2, 1, 3))" in tex
    heads = api.render(_derive("heads_einsum_shipped"), "latex")
    assert r"\frac{\partial L}{\partial Q_{h}} &= \frac{1}{\sqrt{\mathrm{Dh}}} \, " \
        r"\frac{\partial L}{\partial C_{h}} K_{h}" in heads


def test_the_generated_code_moves_the_head_axis_instead_of_an_einsum():
    code = numpy_module(_derive("heads_einsum_shipped"))
    backward = code.split("# ∂L/∂Y =")[1]
    assert "np.moveaxis(K, 1, 0)" in backward and "einsum" not in backward


def test_a_reduction_over_the_batch_axis_drops_its_axis_in_code():
    """logsumexp(X, axis=0) of a rank-3 X beside a per-element form: the code keeps an axis
    only for each element's rows (the batched code gave it keepdims: exit 3 in verify)."""
    from einderive.api import verify
    d = derive_file(str(REGRESSIONS / "logsumexp_over_batch_axis.yaml"))
    assert "logsumexp(X, axis=0, keepdims=True)" not in numpy_module(d)
    assert verify(d).ok


def test_a_gain_before_the_heads_verifies_and_prints_no_undefined_temporary(run):
    """∂L/∂N1 = t1 Wqᵀ + t2 Wkᵀ + t3 Wvᵀ (t1 = reshape(permute(∂L/∂Q, …))) reads upstream
    adjoints through its temporaries: it is no closed form to write into the RMSNorm gain's
    ∂L/∂g, which printed Σ_b colsum(X_b ⊙ (t1_b Wqᵀ + …) ⊘ …) with t1, t2, t3 defined
    nowhere under it, and verify ended in an internal error (the generated code's KeyError)."""
    from einderive.api import verify
    d = derive_file(Path(__file__).parent / "regressions" / "gain_before_heads.yaml")
    report = verify(d, seed=1)
    assert report.ok and not report.bug, report.error
    from einderive import matrix as mx
    from einderive.recognize import is_temporary
    for a in d.adjoints:  # every temporary a printed form reads is defined under it
        for form in (a.form, a.closed):
            if form is None or form.matrix is None:
                continue
            defined = {w.lhs.name for w in form.wheres if is_temporary(w)}
            read = {r.name for r in mx.leaves(form.matrix)
                    if isinstance(r, mx.Ref) and r.name[:1] == "t" and r.name[1:].isdigit()}
            assert read <= defined, (a.tensor.name, read, defined)
    path = Path(__file__).parent / "regressions" / "gain_before_heads.yaml"
    shown = run("derive", path, "--expand").output.split("  ∂L/∂g ")[1].split("∂L/∂Wq")[0]
    # (∂L/∂Q, ∂L/∂K, ∂L/∂V now have closed forms, read per element: ∂L/∂g has one, every
    # temporary it reads defined under it)
    for name in re.findall(r"\bt(\d+)(?:_\w+)?\b", shown):
        assert re.search(rf"where t{name}(_\w+)? = ", shown), (name, shown)


def test_per_head_closed_forms_name_the_whole_upstream_form(run):
    """The shipped multi-head attention's ∂L/∂A_h and ∂L/∂V_h read ∂L/∂O per head while
    ∂L/∂O's closed form is the whole reshape(G Woᵀ, [T, H, Dh]): --expand names it as a
    temporary read per head, as a textbook writes it (it printed einsum('kjl,jlm,im->jik',
    V, reshape(Wo, [H, Dh, D]), G)), in every format; verify evaluates the printed forms."""
    spec = Path(__file__).parent.parent / "specs" / "multihead_attention.yaml"
    where = "where t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))"  # (fx4: t1_h = t1[h])
    out = run("derive", spec, "--expand").stdout
    for chain, closed in [("∂L/∂A_h    = ∂L/∂O_h V_hᵀ", "t1_h V_hᵀ"),
                          ("∂L/∂V_h    = A_hᵀ ∂L/∂O_h", "A_hᵀ t1_h")]:
        assert f"  {chain}\n             = {closed}\n               {where}\n" in out, out
    assert "einsum" not in out
    md = run("derive", spec, "--expand", "-f", "markdown").stdout
    assert f"closed form: t1_h V_hᵀ\n{where}\n" in md
    assert f"closed form: A_hᵀ t1_h\n{where}\n" in md
    tex = run("derive", spec, "--expand", "--latex").stdout
    assert r"&= (t_{1})_{h} V_{h}^{\top}, \quad t_{1} = \operatorname{permute}(" \
        r"\operatorname{reshape}(G \mathrm{Wo}^{\top}, [T, H, \mathrm{Dh}]), (1, 0, 2))" in tex
    assert "einsum" not in tex
    import json
    doc = json.loads(run("derive", spec, "--expand", "-f", "json").stdout)
    closed = {a["tensor"]: a["closed"] for a in doc["adjoints"]}
    for name, form in [("A", "∂L/∂A_h = t1_h V_hᵀ"), ("V", "∂L/∂V_h = A_hᵀ t1_h")]:
        assert closed[name]["matrix"] == form
        assert [w["text"] for w in closed[name]["where"]] == [where.removeprefix("where ")]
        assert closed[name]["einsum"] is False
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    assert "closed forms match the backward pass" in " ".join(r.output.split())


@pytest.mark.parametrize("spec, closed", [
    # an index form's einsum closed form gives way to the matrix level's
    # (since stop 34 each element's total sum(s_b) is read per element: no temporary)
    ("more/batched_matvec", "∂L/∂X_b   = ∂L/∂s_b wᵀ\n"
     "            = (uᵀ a_b + sum(s_b)·a_b ⊙ (u − uᵀ a_b)) wᵀ\n"),
    ("more7/outer_features_merge", "             = (t1_b + t1_bᵀ) X_b\n"
     "               where t1 = reshape((σ(F W) ⊙ (1 − σ(F W))) Wᵀ, [B, D, D])\n"),
    ("more7/log_softmax_axis0_rank3",
     "            = Σ_n X_nᵀ (softmax(Z, axis=0) ⊙ (Σ_n′ Y_n′) − Y_n)\n"),
    # ∂L/∂s's closed form is an Each: ∂L/∂s_b takes its element's form (generated whole
    # inside Σ_b, the code multiplied H_bᵀ by the [B, T] array)
    ("more8/attn_learned_temp",
     "            = −Σ_b 2 (qᵀ H_bᵀ (a_b ⊙ (H_b c_b − c_bᵀ H_bᵀ a_b)))/tau² + 2 tau\n"),
])
def test_einsum_closed_forms_give_way_to_matrix_ones(run, spec, closed):
    """Closed forms that printed as einsum broadcasts (einsum('ij,k->ijk', …, w)) print in
    matrix form, per element where the chain form is, and verify evaluates them."""
    path = Path(__file__).parent / "models" / f"{spec}.yaml"
    out = run("derive", path, "--expand").stdout
    assert closed in out, out
    r = run("verify", path)
    assert r.exit_code == 0, r.output
