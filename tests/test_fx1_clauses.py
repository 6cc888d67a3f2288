"""fx1 (stop 44): a block defines every temporary it reads.

Three nested sigmoids on one line: ∂L/∂A's closed form named t2 = σ(t1) and t3 = σ'(A t2 +
b); ∂L/∂b's chain form, its repeated part σ'(…) of the same meaning, took the name t3 and
t3's definition, which reads t2, and printed no ``where t2 = …`` (closed.throughout brought
the clause of the name it took, not those of the names that clause reads).  The generated
NumPy and verify failed (KeyError: 't2', exit 3).  A part that takes an earlier name now
brings the clauses that name's definition reads, through every level."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from einderive.cli import main

SPEC = Path(__file__).parent / "regressions" / "nested_sigmoid_earlier_clause.yaml"
_READ = re.compile(r"(?<![\w′'])t(\d+)(?!\d)")  # a temporary's name: t3, t3ᵀ, t3_b


def _blocks(text: str) -> list[tuple[list[str], list[str]]]:
    """Each printed block, (its equations, its where-clauses), wrapped lines joined: an
    adjoint's lines up to a blank line, or a gradient's line with its clauses."""
    out: list[tuple[list[str], list[str]]] = []
    section, cur, after_where = "", None, False
    for raw in text.splitlines():
        if raw in ("Forward", "Backward", "Gradients"):
            section, cur = raw, None
            continue
        if not raw.strip() or not raw.startswith("  "):
            cur = None
            continue
        body, indent = raw.strip(), len(raw) - len(raw.lstrip())
        if indent == 2 and (cur is None or after_where or section != "Backward"):
            cur = ([], [])
            out.append(cur)
        if cur is None:
            continue
        if body.startswith("where "):
            cur[1].append(body[len("where "):])
            after_where = True
        elif after_where and indent > 2:
            cur[1][-1] += " " + body
        else:
            cur[0].append(body)
            after_where = False
    return out


def _undefined(text: str) -> list[str]:
    """The blocks of ``text`` that read a temporary their own clauses do not define."""
    bad = []
    for eqs, wheres in _blocks(text):
        defined = {m.group(1) for w in wheres for m in [re.match(r"t(\d+)(?:_\S+)?\s*=", w)]
                   if m}
        read = {n for x in eqs + wheres for n in _READ.findall(x)}
        if read - defined:
            bad.append(f"{eqs[0]}: t{', t'.join(sorted(read - defined))} undefined")
    return bad


def _invoke(*args: str):
    return CliRunner().invoke(main, [*args, str(SPEC)])


@pytest.mark.parametrize("args", [("derive",), ("derive", "--expand")], ids=["chain", "expand"])
def test_every_block_defines_the_temporaries_it_reads(args):
    r = _invoke(*args)
    assert r.exit_code == 0, r.output
    assert not _undefined(r.output), "\n".join(_undefined(r.output)) + "\n" + r.output
    # the name it took, and the clause that name's definition reads, under ∂L/∂b
    grad_b = next(b for b in _blocks(r.output) if b[0][0].startswith("grad(b)"))
    assert grad_b[0] == ["grad(b) = t3 + σ'(A x + b) ⊙ (Aᵀ (σ'(t1) ⊙ (Aᵀ t3)))"], grad_b
    assert grad_b[1] == ["t1 = A σ(A x + b) + c", "t3 = σ'(A σ(t1) + b)"], grad_b


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_the_generated_code_runs(fmt):
    r = _invoke("derive", "-f", fmt)
    assert r.exit_code == 0, r.output


def test_verify_passes():
    r = _invoke("verify")
    assert r.exit_code == 0, r.output


def test_the_block_check_sees_a_missing_clause():
    """The check itself: the block main printed (t3's clause read t2, defined nowhere in it)."""
    printed = ("Gradients\n  grad(b) = t3 + σ'(A x + b) ⊙ (Aᵀ (σ'(t1) ⊙ (Aᵀ t3)))\n"
               "            where t1 = A σ(A x + b) + c\n            where t3 = σ'(A t2 + b)\n"
               "  grad(c) = σ'(t1) ⊙ (Aᵀ σ'(A σ(t1) + b))\n"
               "            where t1 = A σ(A x + b) + c\n")
    assert _undefined(printed) == ["grad(b) = t3 + σ'(A x + b) ⊙ (Aᵀ (σ'(t1) ⊙ (Aᵀ t3))): "
                                   "t2 undefined"]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_printed_forms_read_back():
    from test_printed_forms import text_failures
    assert text_failures(SPEC.read_text(), expand=True) == []


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_the_reader_reads_each_block_with_its_own_clauses():
    """The test reader read every block with the clauses of all blocks, and so read main's
    t3 = σ'(A t2 + b) under ∂L/∂b with ∂L/∂A's t2: each block now reads only its own."""
    import torch_reference as R
    from printed import entries
    from test_printed_forms import _read_back, env_for, with_temporaries

    from einderive.api import derive_file
    from einderive.render.terminal import Options, plain
    d = derive_file(str(SPEC))
    text = plain(d, Options(expand=True))
    good = "where t3 = σ'(A σ(t1) + b)"
    assert text.count(good) == 2, text  # (∂L/∂b's block and grad(b)'s)
    for printed, bad in ((text, []), (text.replace(good, "where t3 = σ'(A t2 + b)"),
                                      ["[where] unknown tensor 't2'"] * 2)):
        blocks: list[int] = []
        found = entries(printed, True, blocks)
        env = with_temporaries(d, env_for(d, R.reference(d.graph, seed=1)), found)
        assert _read_back(env, found, blocks=blocks) == bad
        assert _read_back(env, found) == []  # (all blocks' clauses at once: read)
