"""The ``where t1 = …`` temporaries of closed forms (``--expand``): one name for one
definition across the derivation, every temporary a closed form reads defined under it, and
a temporary of a form written per element defined per element (t2_h = A_hᵀ t1_h, t1_b =
A_b V_b V_bᵀ), as the form reads it.  Each printed closed form is evaluated by verify."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import derive_text
from einderive import matrix as mx
from einderive.api import derive_file, verify
from einderive.recognize import is_temporary
from einderive.render import text as T
from notation_reader import ReaderError

ROOT = Path(__file__).parent.parent
MODELS = Path(__file__).parent / "models"

# ∂L/∂g's closed form is built from the index form (small enough), read apart: its three
# conv1d temporaries numbered t1, t2, t3 there, while the derivation's t1 is f's conv1d
# (derived first, nearer the loss).  ∂L/∂q's closed form (the index form's is too large:
# softmax reads ∂L/∂g twice) is built at the matrix level on ∂L/∂g's.
NUMBERING = """\
name: closed_temporaries_numbering
dims: {K: 3, B: 2, C: 2, O: 3, T: 6, To: T - K + 1}
inputs: {X: [B, C, T], Z: [B, C, T], Z2: [B, C, T], Z3: [B, C, T], W: [O, C, K],
         U: [O, C, K], h: [O], q: [O]}
forward:
  - g = softmax(q)
  - YB = relu(conv1d(Z, W, g))
  - YC = relu(conv1d(Z2, W, g))
  - YD = relu(conv1d(Z3, W, g))
  - f = exp(h)
  - YE = relu(conv1d(X, U, f))
  - L = sum(YB * YB) + sum(YC * YC) + sum(YD * YD) + sum(YE * YE)
loss: L
wrt: [h, q]
"""


def closed(d, name: str) -> tuple[str, list[str]]:
    """(closed form, its where-clauses) of ∂L/∂name, as --expand prints them."""
    f = d.adjoint(name).closed
    assert f is not None, d.adjoint(name).omitted
    return T.matrix_rhs(d, f), T.where_texts(d, f)


def assert_defined(d) -> None:
    """Every temporary a printed form (or one of its where-clauses) reads is defined under
    it, once."""
    for a in d.adjoints:
        for form in (a.form, a.closed):
            if form is None or form.matrix is None:
                continue
            lhs = [w.lhs.name for w in form.wheres if is_temporary(w)]
            assert len(lhs) == len(set(lhs)), (a.name, lhs)
            read = {r.name for m in (form.matrix, *(w.rhs for w in form.wheres))
                    for r in mx.leaves(m) if r.name[:1] == "t" and r.name[1:].isdigit()}
            assert read <= set(lhs), (a.name, read, lhs)


def test_an_index_closed_form_takes_the_derivations_temporary_names():
    """∂L/∂q's closed form reads ∂L/∂g's, whose own t1 was conv1d(Z, W, g): it was defined
    there by the derivation's t1, conv1d(X, U, f) (a wrong closed form, verify's closed
    column failing), or, read inside a named part, defined nowhere (verify's generated code
    ended in a KeyError).  Now ∂L/∂g's closed form says t4 as its chain form does."""
    d = derive_text(NUMBERING)
    report = verify(d, seed=1)
    assert report.ok and not report.bug, (report.error, [(c.name, c.max_abs)
                                                         for c in report.checks])
    # the derivation's t1 is f's conv1d; g's chain form names its own from t2
    assert T.matrix_rhs(d, d.adjoint("f").form) == "Σ_b rowsum(∂L/∂YE_b ⊙ 𝟙[t1_b > 0])"
    assert T.matrix_rhs(d, d.adjoint("g").form) == \
        "Σ_b rowsum(∂L/∂YB_b ⊙ 𝟙[t4_b > 0] + ∂L/∂YC_b ⊙ 𝟙[t2_b > 0] + ∂L/∂YD_b ⊙ 𝟙[t3_b > 0])"
    assert closed(d, "g") == (
        "2 Σ_b rowsum(YB_b ⊙ 𝟙[t4_b > 0] + YC_b ⊙ 𝟙[t2_b > 0] + YD_b ⊙ 𝟙[t3_b > 0])",
        ["t2 = conv1d(Z2, W, g)", "t3 = conv1d(Z3, W, g)", "t4 = conv1d(Z, W, g)"])
    assert closed(d, "q") == (
        "2 g ⊙ (Σ_b t5_b − (Σ_b t5_bᵀ) g)",
        ["t2 = conv1d(Z2, W, g)", "t3 = conv1d(Z3, W, g)", "t4 = conv1d(Z, W, g)",
         "t5_b = rowsum(YB_b ⊙ 𝟙[t4_b > 0] + YC_b ⊙ 𝟙[t2_b > 0] + YD_b ⊙ 𝟙[t3_b > 0])"])
    assert closed(d, "h")[1] == ["t1 = conv1d(X, U, f)"]
    assert_defined(d)


def test_multihead_attention_prints_its_per_head_closed_forms(run):
    """The shipped multi-head attention (heads on the middle axis of Q, K, V, leading in
    C and A): every adjoint's closed form prints.  ∂L/∂V_h = A_hᵀ t1_h, read whole by
    reshape(∂L/∂V, [T, D]), is a temporary defined per head (it was refused as "per element
    of another axis"); ∂L/∂A_h's, read whole by reshape(∂L/∂A, [HT, T]), likewise (refused
    as written per element), and so the softmax's and the scores' closed forms follow."""
    spec = ROOT / "specs" / "multihead_attention.yaml"
    d = derive_file(spec)
    t1 = "t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))"
    t4 = "t4 = reshape(P ⊙ (reshape(t2, [HT, T]) − rowsum(P ⊙ reshape(t2, [HT, T]))), " \
         "[H, T, T])"
    assert closed(d, "A") == ("t1_h V_hᵀ", [t1])
    assert closed(d, "P") == ("reshape(t2, [HT, T])", [t1, "t2_h = t1_h V_hᵀ"])
    assert closed(d, "S") == ("P ⊙ (reshape(t2, [HT, T]) − rowsum(P ⊙ reshape(t2, [HT, T])))",
                              [t1, "t2_h = t1_h V_hᵀ"])
    assert closed(d, "V") == ("A_hᵀ t1_h", [t1])
    assert closed(d, "Xv") == ("reshape(t3, [T, D])", [t1, "t3_h = A_hᵀ t1_h"])
    assert closed(d, "Wv") == ("Xᵀ reshape(t3, [T, D])", [t1, "t3_h = A_hᵀ t1_h"])
    # a whole temporary read per head prints whole in its clause (reshape(t2, …), not t2_h)
    assert closed(d, "K") == ("(1/√Dh) t4_hᵀ Q_h", [t1, "t2_h = t1_h V_hᵀ", t4])
    assert closed(d, "Q") == ("(1/√Dh) t4_h K_h", [t1, "t2_h = t1_h V_hᵀ", t4])
    assert closed(d, "Wq") == ("Xᵀ reshape(t6, [T, D])",
                               [t1, "t2_h = t1_h V_hᵀ", t4, "t6_h = (1/√Dh) t4_h K_h"])
    assert closed(d, "X") == (
        "reshape(t6, [T, D]) Wqᵀ + reshape(t5, [T, D]) Wkᵀ + reshape(t3, [T, D]) Wvᵀ",
        [t1, "t2_h = t1_h V_hᵀ", "t3_h = A_hᵀ t1_h", t4, "t5_h = (1/√Dh) t4_hᵀ Q_h",
         "t6_h = (1/√Dh) t4_h K_h"])
    assert all(a.omitted is None for a in d.adjoints), \
        [(a.name, a.omitted) for a in d.adjoints if a.omitted]
    assert_defined(d)
    out = run("derive", spec, "--expand").stdout
    assert "no closed form" not in out and "einsum" not in out, out
    assert "  ∂L/∂Xv     = reshape(∂L/∂V, [T, D])\n             = reshape(t3, [T, D])\n" \
        "               where t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))\n" \
        "               where t3_h = A_hᵀ t1_h\n" in out, out
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    assert "12 other adjoints' closed forms match the backward pass" in \
        " ".join(r.output.split()), r.output


def test_a_named_part_of_a_batched_form_is_an_element():
    """Inside Σ_b a repeated part A_b V_b V_bᵀ is each element's: named t1_b, defined
    t1_b = A_b V_b V_bᵀ (it printed a bare t1, one matrix for every b)."""
    d = derive_file(MODELS / "more" / "attention_rank3_bias.yaml")
    assert closed(d, "Wq") == ("(2/√D) Σ_b X_bᵀ (A_b ⊙ (t1_b − rowsum(A_b ⊙ t1_b))) K_b",
                               ["t1_b = A_b V_b V_bᵀ"])
    # read whole (NumPy's reading of the batch), the same part is the whole tensor
    assert closed(d, "Q") == ("(2/√D) (A ⊙ (t1 − rowsum(A ⊙ t1))) K", ["t1 = A V Vᵀ"])
    assert_defined(d)
    assert verify(d, seed=1).ok


def test_a_form_per_element_in_a_whole_form_is_named():
    """∂L/∂Y_j = (2/To) V (Vᵀ p_j − Tg_j) 𝟏ᵀ written into the convolution's whole ∂L/∂X
    left p_j and Tg_j bound by nothing; named, its clause says for each j.  The chain form's
    temporary keeps t1, as without --expand."""
    d = derive_file(MODELS / "conv1d_pool_head.yaml")
    element = "t2_j = (2/To) V (Vᵀ p_j − Tg_j) 𝟏ᵀ"
    assert closed(d, "X") == ("(t2 ⊙ 𝟙[conv1d(X, W, b) > 0]) ∗ W", [element])
    assert closed(d, "W") == ("(t2 ⊙ 𝟙[conv1d(X, W, b) > 0]) ⋆ X", [element])
    assert T.matrix_rhs(d, d.adjoint("b").form) == "Σ_j rowsum(∂L/∂Y_j ⊙ 𝟙[t1_j > 0])"
    assert_defined(d)
    assert verify(d, seed=1).ok


def _reader(d):
    """The notation reader's names for ``d`` (tests/test_printed_forms.py's), and the
    reference values."""
    import torch_reference as R
    from test_printed_forms import env_for
    ref = R.reference(d.graph, seed=1)
    return env_for(d, ref), ref


def test_per_head_temporaries_read_back_as_printed():
    """The printed clauses type as the reader reads a line per element (README: t3_h is
    t3's matrix at h on the axis of H): t3_h = A_hᵀ t1_h holds with t3 = ∂L/∂V (its
    closed form) and t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2)) read from its printed clause; and the
    closed forms ∂L/∂Xv = reshape(t3, [T, D]), ∂L/∂P = reshape(t2, [HT, T]) read back."""
    from notation_reader import MatrixEval, read
    d = derive_file(ROOT / "specs" / "multihead_attention.yaml")
    env, ref = _reader(d)
    env.shapes["t1"] = ("H", "T", "Dh")  # (fx4: permuted to lead with its batch axis H)
    env.values["t1"] = MatrixEval(env).ev(read("t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))")[1]).v
    for name, adjoint in (("t2", "A"), ("t3", "V")):
        env.shapes[name] = env.shapes[adjoint]
        env.values[name] = ref.adjoints[adjoint]
    for line in ("t1 = permute(reshape(G Woᵀ, [T, H, Dh]), (1, 0, 2))", "t2_h = t1_h V_hᵀ", "t3_h = A_hᵀ t1_h",
                 "∂L/∂Xv = reshape(t3, [T, D])", "∂L/∂P = reshape(t2, [HT, T])",
                 "∂L/∂V_h = A_hᵀ t1_h"):
        env.check(line)
    env.values["t3"] = 2 * ref.adjoints["V"]  # another tensor: the reader tells
    with pytest.raises(ReaderError):
        env.check("t3_h = A_hᵀ t1_h")


def test_a_batch_elements_part_reads_back_as_printed():
    """t1_b = A_b V_b V_bᵀ holds for every b, t1 the batch of A_b V_b V_bᵀ."""
    import numpy as np
    d = derive_file(MODELS / "more" / "attention_rank3_bias.yaml")
    env, ref = _reader(d)
    A, V = (np.asarray(ref.values[n], dtype=float) for n in ("A", "V"))
    env.shapes["t1"] = ("B", "T", "T")
    env.values["t1"] = A @ V @ np.swapaxes(V, 1, 2)
    env.check("t1_b = A_b V_b V_bᵀ")
    env.values["t1"] = A @ V @ np.swapaxes(V, 1, 2) + 1.0  # another tensor: the reader tells
    with pytest.raises(ReaderError):
        env.check("t1_b = A_b V_b V_bᵀ")


def test_an_upstream_closed_form_met_again_inside_another_is_named_not_too_large():
    """deep_residual_30's ∂L/∂r4 = ∂L/∂a5 W5ᵀ + ∂L/∂r5 reads ∂L/∂r5 once by name and once
    inside ∂L/∂a5's closed form, σ(a5) ⊙ (∂L/∂r5's): written out twice it was "too large",
    and every adjoint before it had "no closed form" (22 refusals).  Named once, it is
    (t4 ⊙ σ(a5)) W5ᵀ + t4, and the adjoints before it build on it (8 left, then none: see
    the next test)."""
    d = derive_file(str(MODELS / "more7" / "deep_residual_30.yaml"))
    from einderive.render.terminal import Options, plain
    out = plain(d, Options(expand=True))
    flat = " ".join(out.split())
    # (∂L/∂r5's (1/D) ∂L/∂m1 𝟏ᵀ joins its one quotient, ls8: one temporary fewer before it)
    assert "∂L/∂r4 = ∂L/∂a5 W5ᵀ + ∂L/∂r5 = (t2 ⊙ σ(a5)) W5ᵀ + t2 where t1 = " in flat, \
        flat[flat.find("∂L/∂r4 ="):][:300]
    refusals = flat.count("too large to be worth printing") + flat.count("(no closed form")
    assert refusals <= 8, refusals
    assert verify(d).ok


def test_a_form_too_large_written_out_names_the_upstream_closed_forms_it_reads():
    """deep_residual_30 kept 8 refusals: ∂L/∂c1 = (2/D) ∂L/∂v1 ⊙ c1 + ∂L/∂n1 ⊘ √(v1 + 1/10)
    written out and its repeated parts named cost 61 (NAMED_LIMIT 60), ∂L/∂r1 written out
    passed SUBSTITUTED_LIMIT, and 5 adjoints read them.  Each upstream closed form it reads
    now stands as a temporary defined as that form printed (the blocks' own adjoints by
    name, as a textbook writes a long backward pass); one too small for a name (−(2/B) t7)
    is written as it printed.  Every closed form prints and evaluates (verify)."""
    d = derive_file(str(MODELS / "more7" / "deep_residual_30.yaml"))
    from einderive.render.terminal import Options, plain
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert "too large to be worth printing" not in flat and "(no closed form" not in flat
    # (its common root divided by once, ls2: it stood as two temporaries before)
    assert "∂L/∂c1 = (2/D) ∂L/∂v1 ⊙ c1 + ∂L/∂n1 ⊘ √(v1 + 1/10) = ((2/(B D)) c1 ⊙ " \
        "rowsum(o5 ⊙ o6 ⊙ o3 ⊙ (c1 W1) ⊙ (e1 W2) ⊙ (1 − o2)) ⊘ e4 ⊘ (v1 + 1/10) − (2/B) " \
        "((o5 ⊙ o6 ⊙ o3 ⊙ (e1 W2) ⊙ (1 − o2)) W1ᵀ) ⊘ e4) ⊘ √(v1 + 1/10) " in flat, flat[flat.find("∂L/∂c1 ="):][:500]
    # (∂L/∂r3's t3 + (t3 ⊙ σ'(a4)) W4ᵀ + …, its residual stream's adjoint named once, ls5:
    # the names after it one up)
    assert "∂L/∂r1 = ∂L/∂a2 W2ᵀ + ∂L/∂r2 + ∂L/∂o3 ⊙ o2 = t7 W2ᵀ + t8 − (2/B) t6 ⊙ o2 " \
        "where" in flat, flat[flat.find("∂L/∂r1 ="):][:300]
    assert all(a.omitted is None for a in d.adjoints), \
        [(a.name, a.omitted) for a in d.adjoints if a.omitted]
    assert_defined(d)
    report = verify(d)
    assert report.ok and not report.bug, report.error


def _section(text: str, title: str) -> str:
    """The lines of one section of the plain text output (up to the next title or note)."""
    out, inside = [], False
    for line in text.splitlines():
        if line == title:
            inside = True
        elif inside and line and not line.startswith(" "):
            break
        elif inside:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("path, line, clause", [
    (MODELS / "conv1d_pool_head.yaml", "grad(b)  = Σ_j rowsum(∂L/∂Y_j ⊙ 𝟙[t1_j > 0])",
     "where t1 = conv1d(X, W, b)"),
    (MODELS / "more10" / "cb_trace_inv_xaxt.yaml", "grad(X) = −2 t1 t1 X A",
     "where t1 = (X A Xᵀ)⁻¹"),
])
def test_the_gradients_section_defines_the_names_it_reads(path, line, clause):
    """A grad line reads its adjoint's chain form, whose temporaries were defined only under
    that adjoint's block: the Gradients section read t1 it never defined.  Each section now
    defines every temporary it reads (a derivative helper's clause, σ'(u) = y ⊙ (1 − y),
    names nothing and is not repeated there); in every format that prints the section."""
    from einderive.render.terminal import plain
    d = derive_file(path)
    grads = _section(plain(d), "Gradients")
    assert f"  {line}\n             {clause}" in grads or f"  {line}\n            {clause}" \
        in grads, grads
    for name in sorted(set(re.findall(r"(?<![\w_])t\d+(?=[_ )\]]|$)", grads, re.M))):
        if name not in d.graph.spec.inputs:
            assert re.search(rf"where {name}(_\w+)? = ", grads), (name, grads)
    from einderive.api import render
    md = render(d, "markdown")
    assert clause in md.split("## Gradients", 1)[1].split("```", 2)[1], md
    html = render(d, "html").split("<h2>Gradients</h2>", 1)[1].split("</table>", 1)[0]
    assert html.count('<tr class="note">') == 1 and "where " in html, html


def test_a_derivative_helper_is_not_repeated_under_the_gradients():
    """σ'(Wi x + Ui h) = i ⊙ (1 − i) is said once under its adjoint: no clause under grad."""
    from einderive.render.terminal import plain
    grads = _section(plain(derive_file(ROOT / "specs" / "lstm_cell.yaml")), "Gradients")
    assert "σ'(" in grads and "where" not in grads, grads
