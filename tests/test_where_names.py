"""One meaning for every ``where`` name in one derivation (issue 12, item 1's where-clauses).

Closed forms name their repeated parts (``where t1 = …``) and the temporaries they read; a
name is the derivation's, so it says one thing in every block and every format.  Before,
each block numbered its named parts from t1 while temporaries were numbered derivation-wide:
a one-line batched attention printed ``t1 = t2 ⊙ (…)`` under ∂L/∂X and ``t1_b = softmax(…)``
under ∂L/∂Wq, and a GRU's t1 was ``G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)`` under ∂L/∂X and that times Uh
under ∂L/∂Hp.  Also here: the latent risks of the where-clause machinery, each shown with a
case that fails without its fix (renaming nested clauses, clauses needed through other
clauses, the form cache's key, the batch note's vectors).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from einderive import matrix as mx
from einderive.api import derive_file, render, verify
from einderive.kinds import RefKind
from einderive.recognize import Where, distinct_temporaries, forward_reading
from einderive.render.terminal import Options, plain
from einderive.simplify import used_wheres

ROOT = Path(__file__).resolve().parent.parent
INLINE_ATTENTION = ROOT / "tests" / "regressions" / "inline_batched_attention.yaml"
# specs whose closed forms name parts or temporaries in several blocks
SPECS = [INLINE_ATTENTION, ROOT / "specs" / "gru_cell.yaml",
         ROOT / "specs" / "multihead_attention.yaml",
         ROOT / "tests" / "models" / "more9" / "tcn_channel_norm.yaml"]

_SUBSCRIPT = re.compile(r"_[a-z](?![A-Za-z0-9_])")  # a batch element's subscript: t2_b, X_b


def _printed_definitions(path: Path) -> dict[str, set[str]]:
    """Each where-name's printed definitions over the whole derivation (JSON's clauses, as
    every format prints them), a batch element's subscript dropped: ``t2_b = softmax((1/2)
    X_b Wq Wkᵀ X_bᵀ)`` is element b of ``t2 = softmax((1/2) X Wq Wkᵀ Xᵀ)``."""
    doc = render(derive_file(str(path)), "json", expand=True)
    out: dict[str, set[str]] = {}

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "where":
                    for w in v:
                        lhs, rhs = w["text"].split(" = ", 1)
                        if re.fullmatch(r"t\d+(_[a-z])?", lhs):
                            out.setdefault(_SUBSCRIPT.sub("", lhs), set()).add(
                                _SUBSCRIPT.sub("", rhs))
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(json.loads(doc))
    return out


def test_inline_attention_says_one_thing_by_each_where_name() -> None:
    names = _printed_definitions(INLINE_ATTENTION)
    # each clause after the clause it reads, numbered in that order (t1 before t2)
    assert names == {"t1": {"softmax((1/2) X Wq Wkᵀ Xᵀ)"},
                     "t2": {"t1 ⊙ (Y − rowsum(Y ⊙ t1))"}}, names


def test_inline_attention_prints_the_derivations_names() -> None:
    out = plain(derive_file(str(INLINE_ATTENTION)), Options(expand=True), width=100000)
    assert "where t1 = softmax((1/2) X Wq Wkᵀ Xᵀ)\n" \
        "               where t2 = t1 ⊙ (Y − rowsum(Y ⊙ t1))" in out, out
    assert "(1/2) Σ_b X_bᵀ (t1_b ⊙ (Y_b − rowsum(Y_b ⊙ t1_b))) X_b Wk" in out
    assert "where t1_b = softmax((1/2) X_b Wq Wkᵀ X_bᵀ)" in out
    assert "t2_b" not in out
    assert verify(derive_file(str(INLINE_ATTENTION))).ok


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_where_name_has_one_definition(path: Path) -> None:
    """In the engine's trees (every format prints these): each name, one right side."""
    d = derive_file(str(path))
    defs: dict[str, set[mx.M]] = {}
    forms = [f for a in d.adjoints for f in (a.form, a.closed) if f is not None]
    for f in forms:
        for w in f.wheres:
            if isinstance(w.lhs, mx.Ref):
                defs.setdefault(w.lhs.name, set()).add(w.rhs)
    assert defs, "no where-name: the spec no longer tests this"
    many = {n: d for n, d in defs.items() if len(d) > 1}
    assert not many, many
    assert len(_printed_definitions(path)) == len(
        {n for n in defs if re.fullmatch(r"t\d+", n)})


def test_gru_names_the_hidden_adjoint_part_apart_from_the_inputs() -> None:
    # ∂L/∂X's t1 = G ⊙ Zg ⊙ (1 − Hc ⊙ Hc); ∂L/∂Hp's part is that times Uh: another name
    names = _printed_definitions(ROOT / "specs" / "gru_cell.yaml")
    assert names == {"t1": {"G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)"},
                     "t2": {"(G ⊙ Zg ⊙ (1 − Hc ⊙ Hc)) Uh"}}, names


# -- the latent risks ----------------------------------------------------------------------

def _ref(name: str) -> mx.Ref:
    return mx.Ref(name, RefKind.TENSOR, ("N", "N"))


def test_renaming_temporaries_reaches_the_clauses_that_read_them() -> None:
    # two forms read apart, each with t2 = t1 ⊙ t1 over its own t1 (A in one, B in the
    # other): the second's t1 is renamed, and its t2 reads the renamed one, so it is not
    # the first's t2 (which squares A)
    a, b = _ref("A"), _ref("B")
    t1, t2 = _ref("t1"), _ref("t2")
    square = mx.hadamard(t1, t1)
    forms = [(mx.matmul(t2, a), (Where(t2, square), Where(t1, mx.transpose(a)))),
             (mx.matmul(t2, b), (Where(t2, square), Where(t1, mx.transpose(b))))]
    (m1, w1), (m2, w2) = distinct_temporaries(forms)
    assert (m1, w1) == forms[0]
    defs = {w.lhs.name: w.rhs for w in w2 if isinstance(w.lhs, mx.Ref)}
    assert defs.keys().isdisjoint({"t1", "t2"}), defs
    (inner,) = [n for n, r in defs.items() if r == mx.transpose(b)]
    (outer,) = [n for n in defs if n != inner]
    assert defs[outer] == mx.hadamard(_ref(inner), _ref(inner))
    assert m2 == mx.matmul(_ref(outer), b)


def test_a_clause_read_by_a_used_clause_is_used() -> None:
    # the form reads t2, t2's clause reads t1: both clauses print
    a, t1, t2 = _ref("A"), _ref("t1"), _ref("t2")
    wheres = [Where(t1, mx.transpose(a)), Where(t2, mx.hadamard(t1, a))]
    assert used_wheres(mx.matmul(t2, a), wheres) == tuple(wheres)
    assert used_wheres(mx.matmul(t1, a), wheres) == (wheres[0],)


def test_the_form_cache_keys_on_a_forward_reading() -> None:
    # a forward reading names no temporary: a backward reading of the same index form must
    # not take its stored form (nor the reverse)
    from einderive.derivation import _named
    from einderive.form_cache import FormCache
    d = derive_file(str(ROOT / "specs" / "multihead_attention.yaml"))
    idx = d.index
    cache = FormCache(idx.ctx, idx.namer, d.anon, enabled=True)
    named, t = _named(d.forward), d.forward[0][0]
    expr, tidx = idx.definitions[t.name]
    args = (expr, tidx, t.shape, named, frozenset(), frozenset())
    backward = cache._signature(*args)
    with forward_reading():
        forward = cache._signature(*args)
    assert backward is not None and forward is not None
    assert backward[0] != forward[0]


def test_a_temporary_defined_per_element_is_computed_whole_where_read_whole() -> None:
    # the engine says what a where-name read stands for (the code generator only compiles it):
    # multi-head attention's ∂L/∂Xv = reshape(t3, [T, D]) with t3_h = A_hᵀ t1_h reads t3 whole
    from einderive.closed import definitions
    d = derive_file(str(ROOT / "specs" / "multihead_attention.yaml"))
    found = 0
    for a in d.adjoints:
        f = a.closed
        if f is None or f.matrix is None:
            continue
        each = {w.lhs.name: w.rhs for w in f.wheres
                if isinstance(w.lhs, mx.Ref) and isinstance(w.rhs, mx.Each)}
        table = definitions(f.matrix, f.wheres)
        for r in mx.leaves(f.matrix):
            if r.name in each:
                assert table[r] == each[r.name]
                found += 1
    assert found


def test_the_batch_note_says_a_row_of_a_matrix_is_a_vector() -> None:
    # Σ_t onehot(bk_t)ᵀ ∂L/∂S_t … with S: [T, T]: S_t is a row of S, read as a column, not a
    # matrix (cb_kron_einsum's Σ_n t1_n v A_nᵀ was one, now reshape(K v, [N, P]))
    out = plain(derive_file(str(ROOT / "tests" / "models" / "more11" / "t5_bucket_bias.yaml")),
                Options(expand=True))
    flat = " ".join(out.split())
    assert "Σ_t S_t adds the vectors S_t of every element t of the batch axis T: S_t is " \
        "the column S[t, :]." in flat, flat[-600:]
    assert "the matrices S_t" not in flat


def test_the_batch_note_of_a_sum_of_no_batched_leaf_names_none() -> None:
    # a sum over the batch whose body reads no tensor per element (only a form beside it
    # does): the note names no element, where min() of nothing raised ValueError
    from einderive.derivation import Form, _batch_note
    d = derive_file(str(INLINE_ATTENTION))
    x = mx.Ref("X", RefKind.TENSOR, ("T", "D"), batch=("B",))
    w = mx.Ref("Wq", RefKind.TENSOR, ("D", "D"))
    total = mx.BatchSum(w, ("B",), ("b",), ("D", "D"))
    forward = [(d.graph["X"], Form(None, (), x)), (d.graph["Wq"], Form(None, (), total))]
    (note,) = _batch_note(forward, [], d.graph)
    assert note.form == total and note.leaf is None


def test_the_batch_note_speaks_of_batches_of_matrices_only_where_the_spec_has_them() -> None:
    # t5_bucket_bias reads the rows S_t of S: [T, T] per element and has no tensor of three
    # axes: the note said "Tensors of three or more axes are batches of matrices … Sᵀ swaps
    # the last two axes of S", which S, a matrix, has not
    out = plain(derive_file(str(ROOT / "tests" / "models" / "more11" / "t5_bucket_bias.yaml")),
                Options(expand=True))
    flat = " ".join(out.split())
    assert "three or more axes" not in flat
    assert "swaps the last two axes" not in flat
    assert "note: Σ_t S_t adds the vectors S_t of every element t of the batch axis T: S_t " \
        "is the column S[t, :]." in flat, flat[-600:]


def test_the_batch_note_says_every_subscript_letter_a_line_uses() -> None:
    # moe_soft_router_rank3 (H: [E, B, F]) prints O = Σ_e H_e ⊙ P_e and
    # ∂L/∂P_b = H_b ∂L/∂O_b: the note said only what H_e is; H_b, H[:, b, :], relied on
    # a letter convention no note stated
    out = plain(derive_file(str(ROOT / "tests" / "models" / "more12" /
                                "moe_soft_router_rank3.yaml")), Options(expand=True))
    flat = " ".join(out.split())
    assert "∂L/∂P_b = H_b ∂L/∂O_b" in flat
    assert "Σ_e H_e adds the matrices H_e of every element e of the batch axis E." in flat
    assert "A line subscripted by b holds for every element b of the batch axis B: H_b is " \
        "the matrix H[:, b, :]." in flat, flat[-600:]


def test_a_named_sum_is_named_among_the_terms_of_a_longer_sum() -> None:
    # Sammon's ∂L/∂Y names t2 = 1 ⊘ Dt − 1 ⊘ Dy and read it written out again as two of
    # the three terms of 1 ⊘ Dt − 1 ⊘ Dy + t2ᵀ
    d = derive_file(str(ROOT / "tests" / "models" / "more11" / "sammon_stress.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert "= 2 (Y ⊙ (rowsum(t2) + colsum(t2)) − (t2 + t2ᵀ) Y) where t2 = 1 ⊘ Dt − 1 ⊘ Dy" \
        in flat, flat[flat.find("∂L/∂Y ="):][:300]
    assert verify(d).ok


def test_a_chain_form_names_the_forward_intermediate_it_repeats() -> None:
    # set_transformer_pma writes softmax((1/√D) Sd Wkᵀ Xᵀ) inline: its chain forms wrote it
    # out three times (∂L/∂X), where the closed forms named it t1; now both name it t1, and
    # without --expand the chain form defines it
    d = derive_file(str(ROOT / "tests" / "models" / "more11" / "set_transformer_pma.yaml"))
    plain_text = " ".join(plain(d).split())
    assert "∂L/∂X = (1/√D) (t1 ⊙ (∂L/∂O Wvᵀ Xᵀ − rowsum(∂L/∂O ⊙ O)))ᵀ Sd Wkᵀ + " \
        "t1ᵀ ∂L/∂O Wvᵀ where t1 = softmax((1/√D) Sd Wkᵀ Xᵀ)" in plain_text, plain_text[:2000]
    assert "grad(X) = (1/√D) (t1 ⊙" in plain_text
    expanded = " ".join(plain(d, Options(expand=True)).split())
    block = expanded[expanded.find("∂L/∂X = "):expanded.find("∂L/∂Sd_kj")]
    assert block.count("where t1 = softmax((1/√D) Sd Wkᵀ Xᵀ)") == 1, block
    # (the residual rowsum(H) − y, whole inside the longer sum t3 beside its terms, is
    # named once: stop 44, ls5)
    assert "= (2/√D) (t1 ⊙ (t3 Wvᵀ Xᵀ − rowsum(O ⊙ t3)))ᵀ Sd Wkᵀ + 2 t1ᵀ t3 Wvᵀ" in block
    assert "where t2 = rowsum(H) − y where t3 = t2 + t2 ⊙ (𝟙[O Wo > 0] Woᵀ)" in block
    assert verify(d).ok


@pytest.mark.parametrize("spec, line", [
    # A = exp(S) ⊘ (1 + rowsum(exp(S))): the divisor held apart, it cancels (textbook softmax)
    ("softmax_one_attention", "∂L/∂S = A ⊙ (∂L/∂A − rowsum(∂L/∂A ⊙ A)) = 2 A ⊙ (t1 − "
                              "rowsum(A ⊙ t1)) where t1 = A X Wv Wvᵀ Xᵀ"),
    # O = (A X Wv) ⊘ rowsum(A): rowsum(t1 ⊙ (A X Wv)) ⊘ rowsum(A) is rowsum(O ⊙ t1)
    ("linear_attn_causal_mask", "= (t1 Wvᵀ Xᵀ − rowsum(O ⊙ t1)) ⊘ rowsum(A) where t1 = 1 − "
                                "tanh(O)^∘2"),
])
def test_a_forward_quotient_is_read_by_name_where_its_divisor_cancels(spec: str,
                                                                       line: str) -> None:
    d = derive_file(str(ROOT / "tests" / "models" / "more12" / f"{spec}.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert line in flat, flat[flat.find("Backward"):][:1500]
    assert verify(d).ok


def test_one_view_of_several_tensors_is_one_temporary() -> None:
    # a pixel shuffle's ∂L/∂H printed 2 (t2 − t1) with t1, t2 the same reshape/permute of Y
    # and of P: a view is linear, so it is 2 t1 with t1 that view of P − Y (one clause), and
    # the convolutions after it read 2 t1
    d = derive_file(str(ROOT / "tests" / "models" / "more11" / "pixel_shuffle_1d.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert "∂L/∂H = 2 t1 where t1 = reshape(permute(reshape(P − Y, [B, C, To, R]), (0, 1, " \
        "3, 2)), [B, CR, To])" in flat, flat[flat.find("Backward"):][:1200]
    assert "= (2 t1) ∗ W" in flat and "t2" not in flat
    assert verify(d).ok


def test_a_later_clause_reads_the_earlier_names() -> None:
    # neural_ode_euler3's ∂L/∂W printed t1 = (1 − tanh(h2 W + bᵀ)^∘2) ⊙ (h3 − Y), then
    # t3 = (1/5) ((1 − tanh(h2 W + bᵀ)^∘2) ⊙ (h3 − Y)) Wᵀ + …, t1 written out in it, and
    # numbered t1, t3, t4 (t2, ∂L/∂h0's name for ∂L/∂h1's closed form, was written out in
    # the form as ((1/5) t1 + (1/10) t4) Wᵀ + 2 h3 − 2 Y): each name is read where its
    # definition is met, and the block says t1 … t4
    d = derive_file(str(ROOT / "tests" / "models" / "more10" / "neural_ode_euler3.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    for grad in ("∂L/∂W = (1/10) (h0ᵀ (∂L/∂h1 ⊙ (1 − tanh(h0 W + bᵀ)^∘2)) + h1ᵀ (∂L/∂h2 ⊙ "
                 "(1 − tanh(h1 W + bᵀ)^∘2)) + h2ᵀ (∂L/∂h3 ⊙ (1 − tanh(h2 W + bᵀ)^∘2))) = "
                 "(1/10) (h0ᵀ (t2 ⊙ (1 − tanh(h0 W + bᵀ)^∘2)) + h1ᵀ t4 + 2 h2ᵀ t1)",
                 "= (1/10) colsum(t2 ⊙ (1 − tanh(h0 W + bᵀ)^∘2) + t4 + 2 t1)"):
        at = flat.find(grad)
        assert at >= 0, flat[flat.find("∂L/∂W ="):][:900]
        assert flat[at + len(grad):].startswith(
            " where t1 = (1 − tanh(h2 W + bᵀ)^∘2) ⊙ (h3 − Y) where t3 = (1/5) t1 Wᵀ + 2 h3 − "
            "2 Y where t4 = t3 ⊙ (1 − tanh(h1 W + bᵀ)^∘2) where t2 = ((1/5) t1 + (1/10) t4) "
            "Wᵀ + 2 h3 − 2 Y"), flat[at:][:600]
    assert verify(d).ok


def test_a_clause_reads_an_earlier_blocks_name_it_repeats() -> None:
    # prenorm_transformer_block's t7 = reshape(…, [B, T, H, Dh]) spelt ∂L/∂O's closed form
    # out, ∂L/∂X2's t5 in it twice and t6 three times; it reads them by name now, as
    # ∂L/∂O's block does
    d = derive_file(str(ROOT / "tests" / "models" / "more9" / "prenorm_transformer_block.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    # (named permuted since stop 45, fx4: t7_bh is then t7[b, h, :, :], as the note reads it)
    t7 = "where t7 = permute(reshape((((2/(B D T)) g2ᵀ ⊙ t5 − (2/(B T D²)) X2 ⊙ ((X2 ⊙ t5) " \
        "g2) ⊘ t6) ⊘ √t6 + (2/(B D T)) Y) Woᵀ, [B, T, H, Dh]), (0, 2, 1, 3))"
    assert t7 in flat, flat[flat.find("∂L/∂A_bh ="):][:900]
    assert "where t7 = permute(reshape((((2/(B D T)) g2ᵀ ⊙ (((Y W2ᵀ)" not in flat
    assert verify(d).ok


def test_an_elementwise_expression_of_one_view_is_one_temporary() -> None:
    # pixel_shuffle_index_precedence's ∂L/∂Xs printed 2 t1 ⊙ (t2 − t1), t1 and t2 the same
    # reshape/permute of Y and of P (t1 read twice, which the sum's merge did not take): a
    # view commutes with what acts on each element, so it is 2 t1, t1 that view of
    # Y ⊙ (P − Y)
    d = derive_file(str(ROOT / "tests" / "regressions" / "pixel_shuffle_index_precedence.yaml"))
    flat = " ".join(plain(d, Options(expand=True)).split())
    assert "∂L/∂Xs = 2 t1 where t1 = reshape(permute(reshape(Y ⊙ (P − Y), [B, C, H, R, W_, " \
        "R]), (0, 1, 3, 5, 2, 4)), [B, CRR, H, W_])" in flat, \
        flat[flat.find("Backward"):][:1200]
    assert "(t2 − t1)" not in flat and "= sum(2 t1 ⊙ X, axis=(0, 2, 3))" in flat
    assert verify(d).ok
