"""An edge derived once per signature and renamed for the others (template.py) is invisible:
every output format prints the same bytes with the cache as without it, on every shipped spec
and on the bench's families (a chain of 12 crosses the names' order change at 9 → 10, a chain
of 64 the fresh indices' at _99 → _100), and the output does not depend on the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from einderive import template
from einderive.derivation import build_graph
from einderive.reverse import derive_index
from einderive.spec import load

from conftest import SPEC_FILES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import families  # noqa: E402

FORMATS = ((), ("-f", "numpy"), ("--latex", "--steps"), ("-f", "json", "--steps"),
           ("-f", "markdown"))
# JSON holds every form the others print (index, matrix, closed, steps), from one derivation
SHIPPED = ((), ("-f", "numpy"), ("-f", "json", "--steps"))


def _outputs(run: Any, monkeypatch: pytest.MonkeyPatch, path: Path, enabled: bool,
             formats: tuple[tuple[str, ...], ...]) -> list[tuple[int, str]]:
    monkeypatch.setattr(template, "ENABLED", enabled)
    out = []
    for f in formats:
        r = run("derive", path, *f)
        out.append((r.exit_code, r.output))
    return out


def _second_order(path: Path) -> tuple[str, ...]:
    """--hvp along the spec's first input (second order reads the edges' forms)."""
    return ("--hvp", load(path).inputs[0].name)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_templates_are_invisible_on_shipped_specs(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                  path: Path) -> None:
    formats = SHIPPED + (_second_order(path),)
    with_cache = _outputs(run, monkeypatch, path, True, formats)
    without = _outputs(run, monkeypatch, path, False, formats)
    for f, a, b in zip(formats, with_cache, without):
        assert a == b, f"{path.stem} {' '.join(f)}"


@pytest.mark.parametrize("family,n", [("chain", 12), ("fanout", 12), ("wide", 12),
                                      ("chain", 64)])
def test_templates_are_invisible_on_bench_families(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, family: str, n: int) -> None:
    path = families.write(tmp_path, family, n)
    formats = FORMATS if n < 64 else ((), ("-f", "json", "--steps"))
    with_cache = _outputs(run, monkeypatch, path, True, formats)
    without = _outputs(run, monkeypatch, path, False, formats)
    for f, a, b in zip(formats, with_cache, without):
        assert a == b, f"{family}{n} {' '.join(f)}"


def _hits(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[int, int, int]:
    made: list[template.Templates] = []
    init = template.Templates.__init__

    def spy(self: template.Templates, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(template.Templates, "__init__", spy)
    idx = derive_index(build_graph(load(path)), closed=False)
    return made[0].hits, len(made[0].entries), len(idx.edges)


def test_a_chain_derives_a_few_kinds_of_edge(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """The comparison above is not vacuous: most edges of a chain are renamed ones, and the
    layers whose names sort differently (h9 before W10) are kinds of their own."""
    hits, kinds, edges = _hits(monkeypatch, families.write(tmp_path, "chain", 12))
    assert edges == 25 and hits >= 12 and kinds > 3  # 12 layers of two edges, and L's
    hits, kinds, edges = _hits(monkeypatch, families.write(tmp_path, "chain", 64))
    assert hits >= 100 and kinds < 20


def test_the_key_holds_the_names_order(tmp_path: Path) -> None:
    """Layers 5 and 6 of a chain are one kind of step; layer 9 is another, though its
    trees are the same up to names: its step reads W9 and W10, which sort the other way
    round ($W10 < $W9), and SymPy orders a product's factors by their names."""
    graph = build_graph(load(families.write(tmp_path, "chain", 12)))
    idx = derive_index(graph, closed=False)
    cache = template.Templates(idx.ctx, idx.namer, True)

    def key(v: str, u: str) -> Any:
        ctx = idx.ctx
        signed = cache._signature((idx.definitions[v][0], idx.adjoints[v].expr),
                                  (ctx.keys[v], ctx.adjoint_keys[v], ctx.keys[u]), ())
        assert signed is not None
        return signed[0]
    assert key("h5", "W5") == key("h6", "W6")
    assert key("h9", "W9") != key("h5", "W5")
    assert key("h5", "W5") != key("h5", "h4")  # the operand's role is in the key


@pytest.mark.parametrize("spec", ["chain", "specs/lstm_cell.yaml"])
def test_output_is_the_same_under_every_hash_seed(tmp_path: Path, spec: str) -> None:
    root = Path(__file__).resolve().parent.parent
    path = families.write(tmp_path, "chain", 12) if spec == "chain" else root / spec
    outs = set()
    for seed in ("0", "12345", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(root / "src"))
        r = subprocess.run([sys.executable, "-m", "einderive", "derive", str(path), "-f", "json",
                            "--steps"], capture_output=True, text=True, env=env, check=True)
        outs.add(r.stdout)
    assert len(outs) == 1


def test_a_renamed_step_keeps_its_forms_unbuilt_and_holds_no_closure(tmp_path: Path) -> None:
    """A renamed step holds the stored step's parts and the renaming, one object per edge
    (a closure per part made 10k of them on a fan-out of 512); its forms are built when read,
    and read they are those of the step derived afresh."""
    import gc
    import types

    path = families.write(tmp_path, "chain", 12)
    templated = derive_index(build_graph(load(path)), closed=False, templated=True)
    fresh = derive_index(build_graph(load(path)), closed=False, templated=False)
    renamed = [e for e in templated.edges if e.made.mapping is not None]
    assert len(renamed) >= 12
    for e in templated.edges:
        assert isinstance(e.made, template.Parts)
        held = gc.get_referents(e.made) + list(e.made.values)
        assert not any(isinstance(r, types.FunctionType) for r in held)
    for a, b in zip(templated.edges, fresh.edges):
        assert (a.local, a.chained, a.collapsed, a.result) == \
            (b.local, b.chained, b.collapsed, b.result)
