"""The standard layers print the forms the literature prints (issue 12, items 3 and 6).

Each shipped layer spec (GRU and LSTM cells, batch norm in training mode, layer norm, RMSNorm,
the tied linear autoencoder) has its final printed gradients pinned here; every equation the
terminal output prints (with ``--expand``: the closed forms and their ``where t1 = …`` lines)
is read back by the independent reader and compared with PyTorch autograd, and ``verify``
proves every printed form (the closed column compiles a named part as its definition).  The
new simplifier rules each have a small case evaluated numerically, as in test_simplify.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy
import torch_reference as R
from notation_reader import ReaderError
from printed import entries
from test_printed_forms import _unknown_without_torch, env_for
from test_simplify import X as X_MN
from test_simplify import check, ref, text

from einderive import matrix as mx
from einderive import simplify as S
from einderive.api import derive_file, verify
from einderive.render.text import CLOSED_TOO_LARGE, Pen

SPECS = Path(__file__).resolve().parent.parent / "specs"

# (spec, gradient) -> (closed form, its where-lines that name parts) as printed
LITERATURE = {
    # Ioffe & Szegedy: (γ/σ) ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) per feature, in the node X̂
    ("batchnorm", "X"): (
        "(gamma ⊘ √(var + 1e-05))ᵀ ⊙ (G − (1/B) colsum(G)ᵀ − (1/B) X̂ ⊙ colsum(G ⊙ X̂)ᵀ)", ()),
    ("batchnorm", "gamma"): ("colsum(G ⊙ X̂)", ()),
    # layer norm: (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)) / σ per row, ĝ = G ⊙ γᵀ
    ("layernorm", "X"): ("(G ⊙ gammaᵀ − (1/D) G gamma − (1/D) X̂ ⊙ ((G ⊙ X̂) gamma)) ⊘ std", ()),
    # RMS norm: (ĝ − x̂ ⊙ mean(ĝ ⊙ x̂)) / r, ĝ = G ⊙ wᵀ: x̂ ⊙ mean(G ⊙ w ⊙ x̂) in the node Y
    ("rmsnorm", "X"): ("(G ⊙ wᵀ − (1/D) X ⊙ rowsum(G ⊙ Y) ⊘ r) ⊘ r", ()),
    ("rmsnorm", "w"): ("colsum(G ⊙ X ⊘ r)", ()),
    # a gate's derivative in the gate's name: σ'(X Wzᵀ + Hp Uzᵀ + bzᵀ) is Zg ⊙ (1 − Zg)
    ("gru_cell", "Wz"): ("(G ⊙ Zg ⊙ (1 − Zg) ⊙ (Hc − Hp))ᵀ X", ()),
    ("gru_cell", "X"): (
        "(G ⊙ Zg ⊙ (1 − Zg) ⊙ (Hc − Hp)) Wz + (Hp ⊙ Rg ⊙ (t1 Uh) ⊙ (1 − Rg)) Wr + t1 Wh",
        ("t1 = G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)",)),
    # (t2: the derivation's t1 is ∂L/∂X's G ⊙ Zg ⊙ (1 − Hc ⊙ Hc), one name for one thing)
    ("gru_cell", "Hp"): (
        "(G ⊙ Zg ⊙ (1 − Zg) ⊙ (Hc − Hp)) Uz + (Hp ⊙ Rg ⊙ t2 ⊙ (1 − Rg)) Ur + Rg ⊙ t2 + "
        "G ⊙ (1 − Zg)", ("t2 = (G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)) Uh",)),
    ("lstm_cell", "x"): (
        "Wiᵀ (u ⊙ i ⊙ t1 ⊙ (1 − i)) + Wfᵀ (c ⊙ f ⊙ t1 ⊙ (1 − f)) + Woᵀ (g ⊙ hn ⊙ (1 − o)) + "
        "Wgᵀ (i ⊙ t1 ⊙ (1 − u ⊙ u))", ("t1 = g ⊙ o ⊙ (1 − tanh(cn)^∘2) + 2 cn",)),
    ("lstm_cell", "Wi"): ("(u ⊙ i ⊙ (1 − i) ⊙ (g ⊙ o ⊙ (1 − tanh(cn)^∘2) + 2 cn)) xᵀ", ()),
    ("tied_autoencoder", "W"): ("−2 (Rᵀ X + Xᵀ R) W", ()),
    ("tied_autoencoder", "X"): ("2 (R − R W Wᵀ)", ()),
}


def _derived(name: str):
    return derive_file(str(SPECS / f"{name}.yaml"))


def _closed(d, name: str) -> tuple[str, tuple[str, ...]]:
    pen = Pen.of(d)
    form = d.gradient(name).closed
    assert form is not None and form.matrix is not None, f"grad({name}) has no closed form"
    named = tuple(w for w in pen.wheres(form) if w.startswith("t"))
    return pen.matrix(form), named


@pytest.mark.parametrize("spec,grad", sorted(LITERATURE), ids=lambda x: x)
def test_layer_gradient_reads_as_the_literature(spec: str, grad: str) -> None:
    assert _closed(_derived(spec), grad) == LITERATURE[spec, grad]


@pytest.mark.parametrize("spec", sorted({s for s, _ in LITERATURE}))
def test_every_printed_line_of_a_layer_is_true(spec: str) -> None:
    """Every printed equation with ``--expand`` (the named parts included) against autograd."""
    from einderive.render.terminal import Options, plain
    d = _derived(spec)
    env = env_for(d, R.reference(d.graph, seed=1))
    bad = []
    out = plain(d, Options(expand=True), width=100000)  # a closed form on one line
    assert CLOSED_TOO_LARGE not in out and "(no closed form" not in out
    for section, line in entries(_closed_as_equations(out)):
        try:
            env.check(line)
        except ReaderError as exc:
            if not _unknown_without_torch(exc):
                bad.append(f"[{section}] {exc}")
    assert not bad, "\n".join(bad)
    assert verify(d).ok


def _closed_as_equations(out: str) -> str:
    """The terminal text with each closed-form line (``= …`` under its adjoint) an equation
    of its own, and each named part (``where t1 = …``) written out where it is used: the
    reader then checks the closed form as it checks the chain form.  A name has one meaning
    throughout a derivation (the chain forms and the Gradients section read the closed forms'
    t1 = softmax(…) by that name), so each is written out in every line that reads it."""
    lines: list[str] = []
    parts: dict[str, str] = {}
    lhs = ""  # the adjoint being printed
    for raw in out.splitlines():
        body = raw.strip()
        m = re.match(r"where (t\d+) = (.*)", body)
        if m:
            parts[m.group(1)] = m.group(2)
            continue
        if raw.startswith("  ") and not raw.startswith("   ") and " = " in body:
            lhs = body.split(" = ")[0].strip()
        elif body.startswith("= ") and lhs:
            raw = f"  {lhs} {body}"
        lines.append(raw)

    def written_out(line: str) -> str:
        for _ in range(len(parts) + 1):  # (t2 may be in t1)
            new = re.sub(r"\b(t\d+)\b(?!_)", lambda m: f"({parts[m.group(1)]})"
                         if m.group(1) in parts else m.group(1), line)
            if new == line:
                return line
            line = new
        return line
    return "\n".join(written_out(line) for line in lines)


def test_named_parts_are_deterministic() -> None:
    a, b = _derived("gru_cell"), _derived("gru_cell")
    assert [_closed(a, g.name) for g in a.gradients] == [_closed(b, g.name) for g in b.gradients]


def test_a_named_part_never_takes_a_tensor_name(tmp_path) -> None:
    # a tensor called t1: the part is t2
    text_ = (SPECS / "gru_cell.yaml").read_text().replace("G", "t1").replace(
        "name: gru_cell", "name: gru_t1")
    spec = tmp_path / "gru_t1.yaml"
    spec.write_text(text_)
    d = derive_file(str(spec))
    m, named = _closed(d, "X")
    assert named == ("t2 = Zg ⊙ t1 ⊙ (1 − Hc ⊙ Hc)",), named
    assert verify(d).ok


def test_named_parts_past_tensor_names_take_distinct_names() -> None:
    # inputs t1, t2, t3: the first part is t4 and the next t5, not t4 again (two parts of one
    # shape named alike were one name: where t4 = t4 ⊙ (1 − h2 ⊙ h2), a recursion in verify)
    d = derive_file(str(Path(__file__).parent / "models" / "more8" / "rnn_seq_ce.yaml"))
    m, named = _closed(d, "E")
    lhs = [w.split(" = ")[0] for w in named]
    assert lhs == ["t4", "t5", "t6"], named
    assert all(w.split(" = ")[0] not in w.split(" = ")[1].split() for w in named), named
    assert verify(d).ok


RELU_MLP = """\
name: relu_mlp
dims: {B: 4, D: 3, H: 5, K: 2}
inputs:
  X: [B, D]
  W1: [D, H]
  b1: [H]
  W2: [H, K]
  b2: [K]
  Y: [B, K]
forward:
  - A1 = relu(X @ W1 + b1)
  - Z2 = A1 @ W2 + b2
  - L = mean(sum((Z2 - Y) ** 2, axis=1)) / 2
loss: L
wrt: [W1, b1, W2, b2]
"""


def test_first_layer_bias_of_a_relu_mlp(tmp_path) -> None:
    spec = tmp_path / "relu_mlp.yaml"
    spec.write_text(RELU_MLP)
    d = derive_file(str(spec))
    assert _closed(d, "b1") == ("(1/B) colsum(𝟙[X W1 + b1ᵀ > 0] ⊙ ((Z2 − Y) W2ᵀ))", ())
    assert verify(d).ok


# -- the rules the layers need, each on its own (numeric check as in test_simplify) -------------

G = ref("G", "M", "N")
s = ref("s", "N", 1)  # a per-column statistic (batch norm's σ)
c = ref("c", "M", 1)  # a per-row statistic (layer norm's σ)
w = ref("w", "N", 1)


def test_colsum_pulls_out_a_row_factor() -> None:
    before = mx.reduce("colsum", mx.hadamard(G, X_MN, mx.transpose(mx.fn("sqrt", s))))
    check(S.reduce_pulls_constant, before, "√s ⊙ colsum(G ⊙ X)")


def test_rowsum_pulls_out_a_column_factor() -> None:
    before = mx.reduce("rowsum", mx.hadamard(G, mx.fn("sqrt", c)))
    after = S.reduce_pulls_constant(before)
    assert after is not None and text(after) == "√c ⊙ rowsum(G)"


def test_product_pulls_out_a_column_factor_to_meet_its_reciprocal() -> None:
    before = mx.hadamard(mx.matmul(mx.hadamard(G, X_MN, c), w), mx.power(c, -1))
    check(S.product_pulls_constant, before, "(G ⊙ X) w")


def test_transposed_factors_cancel() -> None:
    r = mx.fn("sqrt", s)
    before = mx.hadamard(X_MN, mx.transpose(r),
                         mx.transpose(mx.hadamard(mx.reduce("colsum", G), mx.power(r, -1))))
    check(S.transposed_factors, before, "X ⊙ colsum(G)ᵀ")


def test_a_root_meets_its_radicand() -> None:
    u = mx.add(s, mx.Const(sympy.Integer(1)))
    before = mx.hadamard(w, mx.fn("sqrt", u), mx.power(u, -1))
    check(S.merge_roots, before, "w ⊘ √(s + 1)")


def test_a_power_of_a_product_spreads() -> None:
    before = mx.hadamard(X_MN, c, c, mx.power(mx.hadamard(c, c), -1))
    check(S.spread_power, before, "X")


ONE_LINE_ATTENTION = """\
name: one_line_attention
dims: {T: 3, D: 4}
inputs:
  Q: [T, D]
  K: [T, D]
  V: [T, D]
  G: [T, D]
forward:
  - Y = softmax(Q @ K.T / sqrt(D)) @ V
  - L = sum(G * Y)
loss: L
wrt: [Q, K, V]
"""


def test_one_line_attention_names_its_softmax(tmp_path) -> None:
    """With no P named, the closed form reads as with P on its own line: its row sum is
    rowsum(G ⊙ Y), Y = softmax(…) V read by name (FlashAttention's D = rowsum(dO ⊙ O)), so
    the softmax is written once and needs no name (until stop 34 it was rowsum(t1 ⊙ (G
    Vᵀ)), t1 naming the softmax it repeated); ∂L/∂V is Pᵀ ∂L/∂Y with P written out."""
    from einderive.render.terminal import Options, plain
    spec = tmp_path / "one_line_attention.yaml"
    spec.write_text(ONE_LINE_ATTENTION)
    d = derive_file(str(spec))
    assert _closed(d, "Q") == ("(1/√D) (softmax((1/√D) Q Kᵀ) ⊙ (G Vᵀ − rowsum(G ⊙ Y))) K", ())
    assert _closed(d, "V") == ("softmax((1/√D) Q Kᵀ)ᵀ G", ())
    env = env_for(d, R.reference(d.graph, seed=1))
    out = plain(d, Options(expand=True), width=100000)
    for _, line in entries(_closed_as_equations(out)):
        env.check(line)
    assert verify(d).ok
