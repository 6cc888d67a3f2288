"""No internal name reaches a reader: what einderive prints names the user's tensors, the
adjoints, and temporaries it defines in a where-clause (``t1 = reshape(…)``), never a name it
made for itself (issue 12).

The internal names, as the code makes them: the graph's nodes for an inline expression
(``_S_2``: graph.py, ``_{target}_{n}``), the index form's fresh symbols (``_3``: indexed.py,
template.py), the canceller's atoms (``_m0000``: cancel.py) and the closed forms' stand-ins
(``__t0``: closed.py).  Each starts with an underscore that follows no name, bracket or
subscript, which is how they are found in the text; the inline nodes are also looked up by
name (and LaTeX-escaped) in every output, which the generated code does use
(``S = np.stack((_S_1, _S_2), axis=0)``).  So are the dims the graph makes for a stack's
count (``n2``: graph.count_dim), which print as their number (``slice(C, :, 2:K + 2)``;
tests/test_nm1_names.py), in LaTeX too (``n_{2}``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SPEC_FILES, derive_text

HERE = Path(__file__).parent
FILES = SPEC_FILES + sorted((HERE / "models").rglob("*.yaml")) + \
    sorted((HERE / "regressions").glob("*.yaml"))

# an underscore that starts a word: X_ij, ∂L/∂X̂_ij, (σ(x W2))_b, Σ_b, ‖x‖_F, S_{0, i} are
# subscripts (after a letter, a combining hat, a bracket, a prime), _S_2 and __t0 are names
INTERNAL = re.compile(r"(?<![\w)\]}‖′\u0300-\u036f\\])_{1,2}[A-Za-z0-9]")
LATEX_INTERNAL = re.compile(r"(?<![\w}])\\_")


def leaks(text: str, anon: list[str]) -> list[str]:
    bad = [ln.strip() for ln in text.splitlines() if INTERNAL.search(ln)]
    bad += [f"{n}: {ln.strip()}" for n in anon for ln in text.splitlines()
            if re.search(rf"(?<![\w\\]){re.escape(n)}(?!\w)", ln)
            or n.replace("_", r"\_") in ln]
    return bad


def outputs(path: Path) -> tuple[dict[str, str], list[str]]:
    """What ``derive --expand``, ``--steps``, ``--latex --expand`` and ``-f markdown``
    print for ``path`` (one derivation with its closed forms: without them the same forms
    less the closed ones), and the names of its inline nodes and of its stacks' count dims."""
    from einderive.api import derive_file, render
    from einderive.render.terminal import Options, plain
    d = derive_file(str(path), closed=True)
    return ({"text --expand": plain(d, Options(expand=True)),
             "text --steps": plain(d, Options(steps=True)),
             "latex --expand": render(d, "latex", expand=True),
             "markdown": render(d, "markdown")},
            [t.name for t in d.graph.tensors if t.kind == "anon"] +
            [x.name for x in d.graph.spec.dims if x.counted])


def latex_leaks(text: str, names: list[str]) -> list[str]:
    """Lines of LaTeX that spell a count dim n2 as LaTeX does, ``n_{2}``."""
    spelled = [rf"n_{{{m.group(1)}}}" for n in names if (m := re.fullmatch(r"n(\d+)_*", n))]
    return [ln.strip() for ln in text.splitlines() if any(x in ln for x in spelled)]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HERE.parent)) for p in FILES])
def test_no_printed_output_names_an_internal_tensor(path):
    texts, anon = outputs(path)
    bad = []
    for what, text in texts.items():
        # a count dim n2 is looked for outside the graph's mermaid block, whose vertices
        # are n0, n1 … (ids no reader sees)
        counts = [n for n in anon if re.fullmatch(r"n\d+_*", n)]
        found = leaks(text, [n for n in anon if n not in counts]) + \
            leaks(re.sub(r"```mermaid.*?```", "", text, flags=re.S), counts)
        if what.startswith("latex"):
            found += [ln.strip() for ln in text.splitlines() if LATEX_INTERNAL.search(ln)]
            found += latex_leaks(text, anon)
        bad += [f"{what}: {ln}" for ln in found]
    assert not bad, "\n".join(bad[:10])


def test_the_check_finds_internal_names():
    path = HERE.parent / "specs" / "mlp.yaml"
    assert leaks("  where σ'(W2ᵀ x) = _S_2 ⊙ (1 − _S_2)", ["_S_2"])
    assert leaks("  ∂L/∂x = __t0 + 1", [])
    assert leaks(r"\sigma'(x) = \_S\_2", ["_S_2"])
    assert LATEX_INTERNAL.search(r"= \_m0000 + 1")
    assert not leaks("  ∂L/∂X̂_ij = (σ(x W2))_b Σ_b ‖x‖_F S_{0, i} X_ij′ + x_seq", [])
    texts, anon = outputs(path)
    assert not leaks(texts["text --expand"], anon)
    # a stack's count dim, as this release's first printing wrote it
    assert leaks("  ∂L/∂Y    = slice(∂L/∂C, :, n2:K + n2)", ["n2"])
    assert latex_leaks(r"\operatorname{slice}(C, :, 0:n_{2})", ["n2"])
    assert not latex_leaks(r"\operatorname{slice}(C, :, 0:2)", ["n2"])


def test_inline_nodes_have_internal_names():
    # what the test looks for exists: the generated code names a stack's inline pieces
    from einderive.api import render
    text = """\
name: s
dims: {B: 3, N: 2, K: 4}
inputs: {x: [B, N], W1: [N, K], W2: [N, K]}
forward:
  - S = stack([x @ W1, sigmoid(x @ W2)], axis=-1)
  - L = sum(sum(S, axis=-1) ** 2)
loss: L
"""
    d = derive_text(text)
    anon = [t.name for t in d.graph.tensors if t.kind == "anon"]
    assert "_S_2" in anon
    assert leaks(render(d, "numpy"), anon)
