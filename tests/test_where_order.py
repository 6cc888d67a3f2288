"""Where-clauses as a reader reads them, and one name for one meaning (session 31, nm2).

- A block's clauses come each after the clauses it reads, numbered in that order: a reused
  name put ``t2 = relu(t1) ⊙ …`` before ``t1 = 1 + S − sy`` (squared_hinge_multi), and a
  block numbered from its form printed ``t1 = (… t2 …) A3ᵀ``, ``t2 = 1 ⊘ t3``, ``t3 = √(…)``
  (prenorm_residual_stack3).
- Equal meanings built as different trees take one name: prenorm_residual_stack3's ∂L/∂A3
  named ``t4 = 1 ⊘ √(…)`` beside ∂L/∂H2's ``t2 = 1 ⊘ t3``, ``t3 = √(…)``.
- A forward node read transposed, with the transpose pushed to its leaves, prints as the
  node: sammon_stress's ``√(1 + sqᵀ + sq − 2 Y Yᵀ)`` is Dy (Dy_i′i = Dy_ii′).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import forms
from einderive import matrix as mx
from einderive.api import derive_file, verify
from einderive.closed import in_order, throughout
from einderive.kinds import RefKind
from einderive.recognize import Where
from einderive.render.terminal import Options, plain

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
HINGE = Path(__file__).parent / "regressions" / "softplus_hinge_multi.yaml"
PRENORM = MODELS / "more9" / "prenorm_residual_stack3.yaml"
SAMMON = MODELS / "more11" / "sammon_stress.yaml"
# specs whose blocks printed clauses out of order (the derive-all outputs of session 30)
ORDERED = [HINGE, PRENORM, ROOT / "specs" / "multihead_attention.yaml",
           MODELS / "maxpool_minpool.yaml", MODELS / "more11" / "capsule_routing2.yaml",
           MODELS / "more" / "linear_system_ridge.yaml",
           MODELS / "more10" / "rope_batched_rank3.yaml",
           ROOT / "tests" / "regressions" / "heads_torch_layout.yaml"]
_NAME = re.compile(r"\bt(\d+)(?:_[a-z]+)?\b")


def _blocks(path: Path) -> list[list[tuple[int, str]]]:
    """Each block's where-clauses, as (the name's number, the right side), in print order."""
    out = plain(derive_file(str(path)), Options(expand=True), width=100000)
    blocks: list[list[tuple[int, str]]] = []
    previous = False
    for line in out.split("\n"):
        m = re.match(r"\s*where t(\d+)(?:_[a-z]+)? = (.*)$", line)
        if m:
            if not previous:
                blocks.append([])
            blocks[-1].append((int(m.group(1)), m.group(2)))
        previous = bool(m)
    return blocks


@pytest.mark.parametrize("path", ORDERED, ids=[p.stem for p in ORDERED])
def test_each_clause_comes_after_those_it_reads_and_numbers_ascend(path):
    blocks = _blocks(path)
    assert blocks
    for block in blocks:
        names = [n for n, _ in block]
        assert names == sorted(names), block
        for k, (_, rhs) in enumerate(block):
            later = {int(x) for x in _NAME.findall(rhs)} & set(names[k + 1:])
            assert not later, (block, k)


def test_a_reused_name_is_defined_before_the_clause_that_reads_it():
    out = plain(derive_file(str(HINGE)), Options(expand=True), width=100000)
    # was "where t2 = relu(t1) ⊙ …" then "where t1 = 1 + S − sy" (of the squared relu hinge,
    # whose relu(u) ⊙ 𝟙[u > 0] is relu(u) since stop 42: the softplus hinge reads t1 twice)
    assert "  ∂L/∂S    = ∂L/∂sy ⊙ Yh + (2/N) σ(1 + S − sy) ⊙ softplus(1 + S − sy) ⊙ (1 − Yh)\n" \
           "           = (2/N) (t2 − Yh ⊙ rowsum(t2))\n" \
           "             where t1 = 1 + S − sy\n" \
           "             where t2 = σ(t1) ⊙ softplus(t1) ⊙ (1 − Yh)\n" in out, out


def test_one_meaning_built_as_two_trees_takes_one_name():
    d = derive_file(str(PRENORM))
    out = plain(d, Options(expand=True), width=100000)
    # ∂L/∂H2 names its parts after the parts they read: t1 = the radicand, t2 = √t1 (the
    # root it divides by, not 1 ⊘ √t1: ls8), t3 = (…) A3ᵀ; its common root is divided by
    # once (ls2: it read t2 and t1^∘3)
    assert "= (2 gᵀ ⊙ t3 − (2/D) H2 ⊙ ((H2 ⊙ t3) g) ⊘ t1) ⊘ t2 + 2 H3\n" \
           "              where t1 = (1/D) rowsum(H2 ⊙ H2) + 1e-06\n" \
           "              where t2 = √t1\n" \
           "              where t3 = (𝟙[(H2 (A3 ⊙ g)) ⊘ t2 > 0] ⊙ (H3 B3ᵀ)) A3ᵀ\n" in out, out
    # ∂L/∂A3's √(…) is that t2, defined as everywhere (was t4 = 1 ⊘ √(…))
    assert "= 2 g ⊙ (H2ᵀ (𝟙[(H2 (A3 ⊙ g)) ⊘ t2 > 0] ⊙ (H3 B3ᵀ) ⊘ t2))\n" \
           "              where t1 = (1/D) rowsum(H2 ⊙ H2) + 1e-06\n" \
           "              where t2 = √t1\n\n" in out, out
    assert "= 1 ⊘ √(" not in out and "= √(" not in out
    definitions: dict[str, set[str]] = {}
    for line in out.split("\n"):
        m = re.match(r"\s*where (t\d+) = (.*)$", line)
        if m:
            definitions.setdefault(m.group(2), set()).add(m.group(1))
    assert all(len(names) == 1 for names in definitions.values()), definitions
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def _ref(name: str) -> mx.Ref:
    return mx.Ref(name, RefKind.TENSOR, ("N", "N"))


def test_clauses_are_put_in_reading_order():
    a, t1, t2, t3 = _ref("A"), _ref("t1"), _ref("t2"), _ref("t3")
    w1 = Where(t1, mx.add(a, t3))  # t1 reads t3: t3 first
    w2 = Where(t2, mx.hadamard(t1, a))
    w3 = Where(t3, mx.matmul(a, a))
    assert in_order((w2, w1, w3)) == (w3, w1, w2)
    assert in_order((w3, w2)) == (w2, w3)  # no reads between them (t1 is not here): by number
    assert in_order((w2,)) == (w2,)
    # t10 after t9 (by number, not by text)
    t9, t10 = _ref("t9"), _ref("t10")
    assert in_order((Where(t10, a), Where(t9, a))) == (Where(t9, a), Where(t10, a))


def test_a_part_equal_to_an_earlier_name_written_out_takes_it():
    a = _ref("A")
    root = mx.Fn("sqrt", mx.matmul(a, a), ("N", "N"))
    # the derivation has t2 = 1 ⊘ t1, t1 = √(A A); a new form's part 1 ⊘ √(A A), read twice
    temporaries: dict[str, mx.M] = {"t1": root, "t2": mx.power(_ref("t1"), -1)}
    part = _ref("t3")
    m = mx.add(part, mx.matmul(part, a))
    m2, wheres = throughout(m, (Where(part, mx.power(root, -1)),), temporaries)
    assert m2 == mx.add(_ref("t2"), mx.matmul(_ref("t2"), a))
    # and the clause its definition reads comes with it (fx1: a block never reads a
    # temporary it does not define)
    assert wheres == (Where(_ref("t1"), root), Where(_ref("t2"), mx.power(_ref("t1"), -1)))
    assert set(temporaries) == {"t1", "t2"}  # no new name


def test_a_node_read_transposed_prints_as_the_node():
    d = derive_file(str(SAMMON))
    # was (1/2) (rowsum(∂L/∂Dy ⊘ Dy) + colsum(∂L/∂Dy ⊘ √(1 + sqᵀ + sq − 2 Y Yᵀ)))
    assert forms(d, "sq")[1] == "(1/2) (rowsum(∂L/∂Dy ⊘ Dy) + colsum(∂L/∂Dy ⊘ Dy))"
    assert forms(d, "Y")[1] == "2 ∂L/∂sq ⊙ Y − (∂L/∂Dy ⊘ Dy + (∂L/∂Dy ⊘ Dy)ᵀ) Y"
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


TSNE = MODELS / "more11" / "tsne_kl.yaml"
CONVNEXT = MODELS / "more11" / "convnext_block1d.yaml"


def test_a_part_met_with_its_terms_in_another_order_is_named_once():
    from test_closed_temporaries import closed
    d = derive_file(str(TSNE))
    # the distance matrix read at (i, j) and at (j, i) prints its sum's terms in two orders:
    # one part (was rowsum(Mo ⊙ t1 ⊘ (1 + sq + sqᵀ − 2 Y Yᵀ)^∘2) + colsum(Mo ⊙ t1 ⊘ (1 + sqᵀ
    # + sq − 2 Y Yᵀ)^∘2)), where t1 = sum(P)/sum(Qu) − P ⊘ Qu)
    assert closed(d, "sq") == (
        "−(rowsum(t1) + colsum(t1))",
        ["t1 = Qu ⊙ (sum(P)/sum(Qu) − P ⊘ Qu) ⊘ (1 + sq + sqᵀ − 2 Y Yᵀ)"])  # (Mo ⊘ D^∘2 = Qu ⊘ D)
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]


def test_an_upstream_closed_form_read_twice_stands_as_the_temporary_it_printed_as():
    from test_closed_temporaries import assert_defined, closed
    d = derive_file(str(CONVNEXT))
    parts = ["t1 = (((Y ⊙ gᵀ) W2ᵀ) ⊙ (Φ(Nn W1) + φ(Nn W1) ⊙ (Nn W1))) W1ᵀ"]
    # (the normalised node Nn read back: was (2 t1 − (2/C) M ⊙ rowsum(M ⊙ t1) ⊘ t2) ⊘ √t2,
    # where t2 = (1/C) rowsum(M ⊙ M) + 1e-06)
    root = "√((1/C) rowsum(M ⊙ M) + 1e-06)"
    assert closed(d, "M") == (f"(2 t1 − (2/C) Nn ⊙ rowsum(Nn ⊙ t1)) ⊘ {root}", parts)
    # ∂L/∂Dw = ∂L/∂M − (1/C) rowsum(∂L/∂M) was "too large", and ∂L/∂X, ∂L/∂w0..w2 after it
    # had none
    t2 = f"t2 = (2 t1 − (2/C) Nn ⊙ rowsum(Nn ⊙ t1)) ⊘ {root}"
    assert closed(d, "Dw") == ("t2 − (1/C) rowsum(t2)", [*parts, t2])
    # ∂L/∂Dw's closed form, which ∂L/∂X's block names t3, is read by that name where the
    # taps' blocks meet it (they wrote it out: colsum(slice(X, 0:To) ⊙ (t2 − (1/C) …)))
    t3 = "t3 = t2 − (1/C) rowsum(t2)"
    assert closed(d, "w0") == ("colsum(t3 ⊙ slice(X, 0:To))", [*parts, t2, t3])
    assert closed(d, "w1") == ("colsum(t3 ⊙ slice(X, 1:To + 1))", [*parts, t2, t3])
    assert closed(d, "X")[1] == [*parts, t2, t3]
    assert all(a.omitted is None for a in d.adjoints), \
        [(a.name, a.omitted) for a in d.adjoints if a.omitted]
    assert_defined(d)
    report = verify(d, seed=1)
    assert report.ok, [(c.name, c.max_abs) for c in report.checks]
