"""What backprop costs (issue 17): counts checked by hand, then against PyTorch's own counters.

The hand counts follow the conventions of :mod:`einderive.cost` (a product of m×k and k×n is
2mkn; elementwise work one FLOP per element).  Where torch is installed, each shipped spec's
generated PyTorch code runs under ``FlopCounterMode`` (matmul FLOPs must agree exactly) and an
independent forward pass under ``saved_tensors_hooks`` (the saved set must agree, up to the
differences the README explains).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SPEC_FILES, SPECS, derive_text
from spec_strategies import valid_specs
from einderive.cost import cost, table
from einderive.flops import einsum_flops
from einderive.derivation import derive
from einderive.errors import SpecError
from einderive.record import replace
from einderive.spec import load

try:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:  # pragma: no cover - torch is a test extra
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def dims(*names: str) -> list:
    return [sympy.Symbol(n, integer=True, positive=True) for n in names]


def derived(name: str, every_input: bool = False):
    """The shipped spec ``name``; with ``every_input`` its derivation with respect to every
    input (what the generated PyTorch Function computes)."""
    d = derive(load(SPECS / f"{name}.yaml"), closed=False)
    if every_input:
        d = derive(replace(d.graph, wrt=d.graph.differentiable), closed=False)  # not indices
    return d


def flops_of(c) -> dict:
    """{(phase, tensor): (matmul, other)}"""
    return {(f.phase, f.tensor): (f.flops.matmul, f.flops.other) for f in c.forward + c.backward}


# -- by hand --------------------------------------------------------------------------------


def test_seed_counts_by_hand():
    """z = W x, y = σ(z), e = y_true − y, L = Σ e ⊙ e; M = 3, N = 4."""
    M, N = dims("M", "N")
    c = cost(derived("mlp"))
    assert flops_of(c) == {
        ("forward", "z"): (2 * M * N, 0),   # W x: M×N by N×1
        ("forward", "y"): (0, M),           # σ per element
        ("forward", "e"): (0, M),           # one subtraction per element
        ("forward", "L"): (0, 2 * M),       # e², then the sum
        ("backward", "e"): (0, M),          # 2 e
        ("backward", "y"): (0, M),          # −2 e
        ("backward", "z"): (0, 3 * M),      # ∂L/∂y ⊙ σ'(z), σ'(z) = y ⊙ (1 − y): three
        ("backward", "W"): (0, M * N),      # ∂L/∂z xᵀ: an outer product, M·N multiplies
        ("backward", "x"): (2 * M * N, 0),  # Wᵀ ∂L/∂z
    }
    assert c.forward_flops.total == 2 * M * N + 4 * M
    assert c.at(c.forward_flops.total) == 2 * 3 * 4 + 4 * 3


def test_seed_saves_y_not_z():
    """σ's adjoint reads y (σ' = y ⊙ (1 − y)), not z; a matmul's adjoint reads its other
    operand: z is never kept."""
    M, N = dims("M", "N")
    c = cost(derived("mlp"))
    saved = {s.name: s for s in c.saved}
    assert list(saved) == ["W", "x", "y", "e"]
    assert [n for n, s in saved.items() if s.kind == "node"] == ["y", "e"]
    assert saved["y"].readers == ("z",) and saved["e"].readers == ("e", "y")
    assert saved["W"].readers == ("x",) and saved["x"].readers == ("W",)
    assert c.activation_elements == 2 * M
    # y from what else is kept: z = W x again, then σ
    assert saved["y"].recompute.total == 2 * M * N + M
    assert saved["e"].recompute.total == M  # from y (kept) and y_true
    assert saved["e"].freed_after == "y"


def test_two_layer_mlp_is_2n_forward_and_4n_backward():
    """With N = D·H + H·C weights, a matmul-dominated block costs 2N FLOPs a row forward and
    4N backward (each weight's gradient and each input's adjoint, one product each)."""
    B, D, H, C = dims("B", "D", "H", "C")
    n = D * H + H * C
    c = cost(derived("two_layer_mlp", every_input=True))
    assert c.forward_flops.matmul == sympy.expand(2 * B * n)
    assert c.backward_flops.matmul == sympy.expand(4 * B * n)
    assert c.matmul_ratio == 2
    # the spec's own wrt leaves out X: ∂L/∂X's product is not computed
    c = cost(derived("two_layer_mlp"))
    assert c.backward_flops.matmul == sympy.expand(4 * B * n - 2 * B * D * H)


def test_llama_mlp_ratio_is_two_within_elementwise_terms():
    B, D, H = dims("B", "D", "H")
    c = cost(derived("llama_mlp"))
    assert c.forward_flops.matmul == 6 * B * D * H
    # 12·B·D·H for the five weight-sized products, and RMSNorm's (∂L/∂Xn ⊙ X) g: 2·B·D
    assert c.backward_flops.matmul == 12 * B * D * H + 2 * B * D
    assert sympy.simplify(c.matmul_ratio - (6 * H + 1) / (3 * H)) == 0
    t = table(c)
    assert t.leading_ratio.sym == 2
    assert {s.name for s in c.saved if s.kind == "node"} == {"ms", "Xn", "A", "C", "U"}


def test_attention_terms_in_t_squared():
    """One head: the literature's B·H·T² terms are the N·M ones here (N queries, M keys)."""
    N, M, D, E = dims("N", "M", "D", "E")
    c = cost(derived("attention"))
    assert c.forward_flops.matmul == 2 * N * M * D + 2 * N * M * E
    assert c.matmul_ratio == 2
    assert [(s.name, s.elements) for s in c.saved if s.kind == "node"] == [("P", N * M)]
    assert {s.name for s in c.saved} == {"Q", "K", "V", "s", "G", "P"}  # S is not read


def test_recomputation_policies_of_the_seed():
    M, N = dims("M", "N")
    c = cost(derived("mlp"))
    policies = {p.name: p for p in c.policies}
    assert list(policies) == ["store all", "selective", "no matmul recomputed", "full"]
    assert policies["store all"].added.total == 0
    assert policies["no matmul recomputed"].kept == ("y",)  # y would need W x again
    assert policies["no matmul recomputed"].added.total == M
    assert policies["full"].recomputed == ("y", "e")
    assert policies["full"].added.total == 2 * M * N + 2 * M  # z, y and e: the forward pass
    assert policies["full"].elements == 0


def test_counts_are_symbolic_and_sizes_only_substituted():
    """Nothing is expanded over a dim: a size of 10¹² is a substitution, not a loop."""
    c = cost(derived("llama_mlp"), {"B": 10**12, "D": 4096, "H": 11008})
    assert c.at(c.forward_flops.matmul) == 6 * 10**12 * 4096 * 11008
    t = table(c, "bf16")
    assert t.activation_bytes.num == 2 * (10**12 * 4096 + 3 * 10**12 * 11008 + 10**12)


def test_einsum_is_contracted_pairwise_from_the_left():
    K, M, N = dims("K", "M", "N")
    sizes = {"i": K, "j": M, "k": N}
    f = einsum_flops(["ijk", "j", "k"], "i", sizes)
    assert (f.matmul, f.other) == (2 * K * M * N + 2 * K * N, 0)
    f = einsum_flops(["i", "j", "k"], "ijk", sizes)  # outer products: multiplies only
    assert (f.matmul, f.other) == (0, K * M + K * M * N)


def without_matrix_forms(d):
    """``d`` as if no adjoint had a matrix form: the code compiles each from its index form."""
    return replace(d, adjoints=tuple(replace(a, form=replace(a.form, matrix=None))
                                     for a in d.adjoints))


def test_index_form_is_counted_as_its_einsums():
    """A formula with no matrix form is counted from its index form, as the code computes it:
    rowsum(∂L/∂P ⊙ P) is then the einsum ij,ij->i, a batched product (2·N·M)."""
    N, M = dims("N", "M")
    d = derived("attention")
    plain = cost(d)
    c = cost(without_matrix_forms(d))
    assert all(f.form == "index" for f in c.backward)
    assert c.backward_flops.matmul == plain.backward_flops.matmul + 2 * N * M
    assert [s.name for s in c.saved] == [s.name for s in plain.saved]


def test_an_anonymous_intermediate_is_a_forward_formula():
    d = derive_text("""
        name: anon
        dims: {B: 3, C: 4}
        inputs: {S: [B, C], x: [B, C]}
        forward:
          - P = softmax(S - x, axis=-1)
          - L = sum(P * P)
        loss: L
        """)
    c = cost(d)
    assert [f.tensor for f in c.forward][-2:] == ["P", "L"]
    B, C = dims("B", "C")
    assert sum(f.flops.other for f in c.forward if f.tensor not in ("P", "L")) == B * C
    from einderive.render.cost import anon_definitions, anon_labels, text
    shown = text(table(c), anon_labels(d), anon_definitions(d))
    # by the short name its chain rule gives it (derive --steps: via u = S − x), defined in
    # its own row, not by a parenthesized formula read as a label
    assert "\n  u = S − x       0             B·C " in shown
    assert "5·B·C        60                 u\n" in shown


def test_the_cost_command_names_an_anonymous_intermediate_as_steps_does(run):
    """stack_last_rank3 stacks tanh(Y): its row was labelled '(tanh(Y))', read as 'u'."""
    spec = ROOT / "tests" / "models" / "more7" / "stack_last_rank3.yaml"
    out = run("cost", spec).stdout
    assert "\n  u = tanh(Y)     0 " in out and "(tanh(Y))" not in out
    assert "  S               0             0                            0             " \
        "               X, u\n" in out
    assert "via u = tanh(Y)" in run("derive", spec, "--steps").stdout
    assert "(tanh(Y))" not in run("cost", spec, "-f", "markdown").stdout


def test_every_argument_of_a_function_is_counted_and_read():
    """𝟙[X W > Y V] Wᵀ computes both arguments of the comparison: three products, and it
    reads Y and V as well as X and W."""
    d = derive_text("""
        name: two
        dims: {B: 3, D: 4, K: 2}
        inputs: {X: [B, D], W: [D, K], Y: [B, D], V: [D, K]}
        forward:
          - L = sum(maximum(X @ W, Y @ V))
        loss: L
        """)
    B, D, K = dims("B", "D", "K")
    c = cost(d)
    grads = {f.tensor: f for f in c.backward}
    assert grads["X"].flops.matmul == 6 * B * D * K
    assert set(grads["X"].reads) == {"X", "W", "Y", "V"}


# -- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_cost_command_in_every_format(run, path):
    for fmt in ("text", "markdown", "json"):
        result = run("cost", path, "-f", fmt)
        assert result.exit_code == 0, result.output
    doc = json.loads(run("cost", path, "-f", "json").stdout)
    assert doc["schema"] == "einderive/cost"
    c = cost(derive(load(path), closed=False))
    assert doc["cost"]["totals"]["forward"]["total"]["value"] == c.at(c.forward_flops.total)


def test_cost_text_of_the_llama_block(run):
    out = run("cost", SPECS / "llama_mlp.yaml", "--dims", "B=8,D=4096,H=11008",
              "--dtype", "bf16").stdout
    assert "backward/forward, all FLOPs, highest-degree terms: 2\n" in out
    assert "backward/forward, matmul FLOPs: (6·H + 1)/(3·H) = 2" in out
    assert "  forward total   6·B·D·H " in out
    assert "bytes (bf16)" in out and "Korthikanti" in out
    assert all(len(line) <= 160 for line in out.splitlines())


@pytest.mark.parametrize("args, message", [
    (["--dims", "B=0"], "not NAME=SIZE with a positive size"),
    (["--dims", "B"], "not NAME=SIZE"),
    (["--dims", "Q=3"], "which is not a dim"),
    (["--dims", "B=3,B=4"], "twice"),
    (["--dtype", "fp8"], "'fp8' is not one of"),
])
def test_bad_dims_or_dtype_exit_2(run, args, message):
    result = run("cost", SPECS / "llama_mlp.yaml", *args)
    assert result.exit_code == 2
    assert message in result.output
    if "--dims" in args:
        assert result.output.startswith("error:") and "hint:" in result.output


def test_cost_has_help_with_an_example(run):
    result = run("cost", "-h")
    assert result.exit_code == 0 and "Example:" in result.stdout


def test_derive_cost_adds_the_table_and_nothing_else(run):
    spec = SPECS / "mlp.yaml"
    golden = run("derive", spec, "-f", "markdown").stdout
    with_cost = run("derive", spec, "-f", "markdown", "--cost").stdout
    start, end = with_cost.index("## Cost\n"), with_cost.index("## Graph\n")
    assert with_cost[:start] + with_cost[end:] == golden  # an opt-in section, goldens unchanged
    assert "| ∂L/∂z | 0 | 3·M | 9 | y |" in with_cost
    doc = json.loads(run("derive", spec, "-f", "json", "--cost").stdout)
    plain = json.loads(run("derive", spec, "-f", "json").stdout)
    assert "cost" not in plain and {k: v for k, v in doc.items() if k != "cost"} == plain
    text = run("derive", spec, "--cost").stdout
    assert text.startswith(run("derive", spec).stdout) and "Cost of mlp at M=3, N=4" in text
    result = run("derive", spec, "-f", "numpy", "--cost")
    assert result.exit_code == 2 and "--cost applies to text, markdown and json" in result.output


# -- against PyTorch -----------------------------------------------------------------------


def _mv_flop(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1]


def _dot_flop(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0]


def _counter():
    """FlopCounterMode, told that a matrix-vector product is 2mk and a dot product 2k (its own
    table counts neither, so a vector spec's products would not be seen at all)."""
    return FlopCounterMode(display=False, custom_mapping={torch.ops.aten.mv: _mv_flop,
                                                          torch.ops.aten.dot: _dot_flop})


def _load(tmp_path, code: str, stem: str):
    path = tmp_path / f"{stem}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_against_flop_counter(tmp_path, d, stem: str) -> None:
    import torch_reference as R
    from einderive.render.pymodule import torch_module
    module = _load(tmp_path, torch_module(d), stem)
    fn = next(v for k, v in vars(module).items() if k.endswith("Function") and k != "Function")
    sizes = R.sizes_of(d.graph)
    values = R.random_inputs(d.graph, sizes)
    args = [torch.tensor(values[t.name], dtype=torch.float64, requires_grad=True)
            for t in d.graph.inputs]
    c = cost(d, sizes)
    with _counter() as forward:
        loss = fn.apply(*args)
    with _counter() as backward:
        loss.backward()
    assert forward.get_total_flops() == c.at(c.forward_flops.matmul)
    assert backward.get_total_flops() == c.at(c.forward_flops.matmul + c.backward_flops.matmul)


@needs_torch
@pytest.mark.parametrize("form", ["matrix", "index"])
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_matmul_flops_match_flop_counter_mode(tmp_path, path, form):
    """The generated Function's forward is the forward pass; its backward runs the forward
    again, then every adjoint: matmul FLOPs must be the counted ones, exactly (also where the
    adjoints are compiled from their index forms, as einsums)."""
    if (path.stem, form) in INDEX_CODE_RECOMPUTES:
        pytest.xfail(INDEX_CODE_RECOMPUTES[path.stem, form])
    d = derived(path.stem, every_input=True)
    if form == "index":
        d = without_matrix_forms(d)
    _check_against_flop_counter(tmp_path, d, f"cost_{path.stem}_{form}")


# Known, not yet fixed: the index form's code writes σ'(z) as σ(z) (1 − σ(z)) with a gate's
# pre-activation z (a sum of products) computed twice, which the cost counts once (GRU: 4800
# measured, 3200 counted; LSTM: 960, 600).
INDEX_CODE_RECOMPUTES = {(name, "index"): "σ'(z)'s pre-activation computed twice"
                         for name in ("gru_cell", "lstm_cell")}


_COUNT = iter(range(10**6))


@needs_torch
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(valid_specs(), st.sampled_from(["matrix", "index"]))
def test_random_specs_match_flop_counter_mode(tmp_path, text, form):
    """Random valid specs (every op, broadcasting, rank 3, fan-out): the same exact agreement."""
    try:
        d = derive_text(text, "random.yaml")
    except SpecError:
        return  # a spec einderive refuses has no cost
    d = derive(replace(d.graph, wrt=tuple(t.name for t in d.graph.inputs)), closed=False)
    if form == "index":
        d = without_matrix_forms(d)
    _check_against_flop_counter(tmp_path, d, f"random_{next(_COUNT)}")


# autograd's saved set differs from einderive's where the two compute a formula differently;
# the README ("Cost") explains each line.  spec -> (only autograd saves, only einderive reads)
SAVED_DIFFERENCES = {
    # the reference writes softmax as exp(S − logsumexp S): logsumexp saves its input S;
    # torch.softmax saves only its output P, as einderive's ∂L/∂S reads P
    "attention": ({"S"}, set()),
    # torch.einsum saves the reshaped copy of W it multiplies (a tensor with no name);
    # l2_loss(y, t) saves y − t, whose adjoint 2 (y − t) einderive writes from y and t
    "bilinear_layer": (set(), {"W", "y", "t"}),
    # autograd saves √(ms + ε), an intermediate; einderive's formulas read ms and rebuild it
    "llama_mlp": (set(), {"ms"}),
    # the same in batch norm: autograd saves √(var + ε), einderive reads var
    "batchnorm": (set(), {"var"}),
    # l2_loss(o, t) saves o − t; einderive reads o and t
    "residual": (set(), {"o", "t"}),
    # a reshape is a view: the saved Q, K, V, A share their storage with Xq, Xk, Xv, P and
    # are found under those names; the reference's softmax saves S, a view of C
    "multihead_attention": ({"Xq", "Xk", "Xv", "C"}, {"Q", "K", "V", "A"}),
    # (H − y) ** 2 saves H − y; einderive's 2 (H − y) reads H and y
    "conv1d": (set(), {"H", "y"}),
}


@needs_torch
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_saved_set_matches_autograd(path):
    import torch_reference as R

    class Keep(R._Lib):
        def own(self, x):  # no copies: a saved tensor is found by its storage
            return x if torch.is_tensor(x) else self.const(x)

    d = derived(path.stem)
    g = d.graph
    sizes = R.sizes_of(g)
    values = R.random_inputs(g, sizes)
    integer = {t.name for t in g.inputs if t.integer is not None}  # indices: torch.long
    leaves = {k: torch.tensor(v, dtype=torch.long) if k in integer else
              torch.tensor(v, dtype=torch.float64, requires_grad=k in g.wrt)
              for k, v in values.items()}
    saved: list[int] = []

    def pack(t):
        saved.append(t.untyped_storage().data_ptr())
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        env = R.evaluate(g, sizes, leaves, Keep(torch))
    name_of: dict[int, str] = {}
    for t in g.tensors:
        name_of.setdefault(env[t.name].untyped_storage().data_ptr(), t.name)
    autograd = {name_of[p] for p in saved if p in name_of}
    ours = {s.name for s in cost(d).saved}
    assert (autograd - ours, ours - autograd) == SAVED_DIFFERENCES.get(path.stem, (set(), set()))


@needs_torch
def test_torch_softmax_saves_only_its_output():
    """The attention line of SAVED_DIFFERENCES: with torch.softmax autograd keeps P alone."""
    S = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    saved: list = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        P = torch.softmax(S, dim=-1)
    assert len(saved) == 1 and saved[0].untyped_storage().data_ptr() == \
        P.untyped_storage().data_ptr()


def test_readme_cost_examples_are_real_output(run, monkeypatch):
    """Every ``$ einderive cost ...`` block in the README is what the command prints."""
    import re
    import shlex
    readme = (SPECS.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n\$ einderive cost (.*?)\n(.*?)```", readme, re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(SPECS.parent)
    for args, shown in blocks:
        result = run("cost", *shlex.split(args))
        assert result.output == shown, args


def test_check_holds_a_golden_cost_section(run, tmp_path, monkeypatch):
    """A golden that has a Cost section keeps it: check compares it, --update rewrites it."""
    import shutil
    (tmp_path / "specs").mkdir()
    shutil.copy(SPECS / "mlp.yaml", tmp_path / "specs" / "mlp.yaml")
    monkeypatch.chdir(tmp_path)
    golden = tmp_path / "specs" / "golden" / "mlp.md"
    assert "written: specs/golden/mlp.md" in run("check", "--update", "specs").stdout
    assert "## Cost" not in golden.read_text(encoding="utf-8")
    golden.write_text(run("derive", "specs/mlp.yaml", "-f", "markdown", "--cost").stdout,
                      encoding="utf-8")
    run("check", "--update", "specs")  # the spec's path as the golden names it
    assert "\n## Cost\n" in golden.read_text(encoding="utf-8")
    assert run("check", "specs").exit_code == 0
    spec = tmp_path / "specs" / "mlp.yaml"
    spec.write_text(spec.read_text().replace("{M: 3, N: 4}", "{M: 5, N: 4}"), encoding="utf-8")
    result = run("check", "specs")
    assert result.exit_code == 1 and "| z | 2·M·N | 0 | 40 | W, x |" in result.output


MODEL_SPECS = sorted((Path(__file__).parent / "models").glob("*.yaml")) + \
    sorted((Path(__file__).parent / "regressions").glob("*.yaml"))


@pytest.mark.parametrize("path", MODEL_SPECS, ids=lambda p: p.stem)
def test_every_model_is_costed_and_reads_every_argument(path):
    """Every matrix-form node has its count (a norm from the simplifier too), and a function of
    several tensors reads each of them (maximum(a, b) keeps b as well as a)."""
    from einderive.api import cost_table, derive_file
    d = derive_file(path)
    t = cost_table(d)
    assert t is not None
    c = cost(d)
    for f in c.forward:
        tensor = d.graph[f.tensor]
        refs = {a.param("name") for a in _walk(tensor.expr) if a.op == "ref"}
        read = {r for r in refs if r in f.reads or d.graph[r].kind == "anon"}
        assert read == refs, (f.tensor, refs - set(f.reads))
    from einderive import matrix as mx
    forms = {a.name: a.form.matrix for a in d.adjoints}
    for f in c.backward:
        m = forms.get(f.tensor)
        if m is None or f.form != "matrix":
            continue
        # every tensor argument past the first of a function of several (σ' may be read
        # through its where-formula, so the first argument is not checked)
        refs = {r.name for n in mx.walk(m) if isinstance(n, mx.Fn)
                for x in n.rest if isinstance(x, mx.M)
                for r in mx.walk(x) if isinstance(r, mx.Ref) and r.kind in ("tensor", "anon")}
        assert refs <= set(f.reads), (f.tensor, refs - set(f.reads))


def _walk(e):
    yield e
    for a in getattr(e, "args", ()):
        if hasattr(a, "op"):
            yield from _walk(a)


@needs_torch
@pytest.mark.parametrize("text", [
    # a product inside a function's second argument (𝟙[x ≤ W v]) is counted
    "dims: {N: 3, M: 4}\ninputs: {x: [N], W: [N, M], v: [M]}\n"
    "forward:\n  - L = sum(maximum(x, W @ v))\nloss: L\n",
    # ‖a‖ ‖b‖ (the simplifier's norms) is counted, not an internal error
    "dims: {N: 5}\ninputs: {a: [N], b: [N]}\n"
    "forward:\n  - L = (a @ b) / (sqrt(sum(a * a)) * sqrt(sum(b * b)))\nloss: L\n",
], ids=["function_of_a_product", "norm"])
def test_matrix_forms_of_new_ops_match_flop_counter_mode(tmp_path, text):
    d = derive_text(text, "new_ops.yaml")
    d = derive(replace(d.graph, wrt=tuple(t.name for t in d.graph.inputs)), closed=False)
    _check_against_flop_counter(tmp_path, d, f"cost_new_ops_{next(_COUNT)}")


def test_a_spec_of_scalars_only_is_costed_without_naming_sizes(run):
    """No dims: `cost` stopped with an internal error (a polynomial in no symbols); every
    count is a number, so no 'at <sizes>' is printed either."""
    path = Path(__file__).parent / "regressions" / "scalars_only_cost.yaml"
    result = run("cost", str(path))
    assert result.exit_code == 0, result.output
    assert "backward/forward, all FLOPs: 2.55556" in result.output
    assert " at :" not in result.output and "total at" not in result.output


AXIS_FUNCTIONS = """\
dims: {{{dims}T: 3, N: 4}}
inputs: {{X: [{batch}T, N], Y: [{batch}T, N], W: [N, N]}}
forward:
  - P = softmax(X @ W, axis=-1)
  - Q = log_softmax(X, axis=-1)
  - S = logsumexp(X @ W, axis=-1)
  - L = sum(P * Y) + sum(Q * Y) + sum(S)
loss: L
"""


def test_a_batched_softmax_is_counted_once_per_element():
    """softmax, log_softmax and logsumexp of a rank-3 tensor in a batched form
    (P_b ⊙ (…), softmax(X_b W)) are counted on each element's matrix: ∂L/∂X by hand is
    (P ⊙ (1 + ∂L/∂P − rowsum(∂L/∂P ⊙ P))) Wᵀ (5 per element, one product: softmax(X W) of
    logsumexp's line is P, the lines sharing one X W since stop 40), ∂L/∂Q − softmax(X) ⊙
    rowsum(∂L/∂Q) (softmax 5, 2 more) and the two additions: 14·B·N·T, B times the same
    spec's count without the batch axis (it was 10·B²·N·T + 9·B·N·T: each softmax counted
    over the whole tensor, then B times)."""
    B, T, N = dims("B", "T", "N")
    batched = cost(derive_text(AXIS_FUNCTIONS.format(dims="B: 2, ", batch="B, ")))
    single = cost(derive_text(AXIS_FUNCTIONS.format(dims="", batch="")))
    got, one = flops_of(batched), flops_of(single)
    assert got[("backward", "X")] == (2 * B * N**2 * T, 14 * B * N * T)
    assert one[("backward", "X")] == (2 * N**2 * T, 14 * N * T)
    # Σ_b X_bᵀ (P_b ⊙ (1 + …)): B times the unbatched count, and the batch sum adds B − 1
    # matrices (was Σ_b X_bᵀ (P_b ⊙ …) + einsum(X, softmax(X W)), two products)
    assert got[("backward", "W")] == (2 * B * N**2 * T, 5 * B * N * T + B * N**2 - N**2)
    # without the batch axis one product by Xᵀ: Xᵀ (P ⊙ (1 + …))
    assert one[("backward", "W")] == (2 * N**2 * T, 5 * N * T)
    for key in [("forward", t) for t in "PQS"]:  # the forward definitions likewise
        assert sympy.expand(got[key][1] - B * one[key][1]) == 0, key


@pytest.mark.parametrize("name", ["cb_inv_sandwich", "entropy_bonus_policy",
                                  "focal_log_softmax_pick"])
def test_cost_names_inline_nodes_as_the_text_table_does(run, name):
    # an inline expression's node is shown by its short name and defined in its forward row
    # (u = X + S), never by the graph's internal name (_v_1), in every format
    from test_internal_names import leaks
    path = Path(__file__).parent / "models" / "more9" / f"{name}.yaml"
    d = derive(load(path), closed=False)
    anon = [t.name for t in d.graph.tensors if t.kind == "anon"]
    assert anon
    for fmt in ("text", "markdown", "json"):
        out = run("cost", path, "-f", fmt).stdout
        assert not leaks(out, anon), (fmt, leaks(out, anon)[:3])
    doc = json.loads(run("cost", path, "-f", "json").stdout)
    rows = {r["tensor"]: r for r in doc["cost"]["forward"]}
    defined = [r["definition"] for r in rows.values() if "definition" in r]
    assert defined and all(d.split(" = ")[0] in rows for d in defined)
    text = run("cost", path).stdout
    assert all(d in text for d in defined)  # the same definition the text table prints
