"""A matrix form read once per kind and renamed for the others (form_cache.py) is invisible:
every output format prints the same bytes with the cache as without it, on every shipped
spec and on the bench's families (a chain of 12 crosses the names' order change at 9 → 10),
and the comparison is not vacuous (most forms of a chain are renamed ones)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from einderive import form_cache
from einderive.derivation import build_graph, derive
from einderive.spec import load

from conftest import SPEC_FILES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import families  # noqa: E402

# JSON holds every form (index, matrix, closed, steps); text, LaTeX and the code print them
SHIPPED = ((), ("-f", "torch"), ("-f", "json", "--steps"), ("--latex", "--expand"))
FAMILIES = SHIPPED + (("-f", "numpy"), ("--steps",), ("-f", "markdown"))


def _outputs(run: Any, monkeypatch: pytest.MonkeyPatch, path: Path, enabled: bool,
             formats: tuple[tuple[str, ...], ...]) -> list[tuple[int, str]]:
    monkeypatch.setattr(form_cache, "ENABLED", enabled)
    out = []
    for f in formats:
        r = run("derive", path, *f)
        out.append((r.exit_code, r.output))
    return out


def _compare(run: Any, monkeypatch: pytest.MonkeyPatch, path: Path,
             formats: tuple[tuple[str, ...], ...]) -> None:
    with_cache = _outputs(run, monkeypatch, path, True, formats)
    without = _outputs(run, monkeypatch, path, False, formats)
    for f, a, b in zip(formats, with_cache, without):
        assert a == b, f"{path.stem} {' '.join(f)}"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_form_cache_is_invisible_on_shipped_specs(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                  path: Path) -> None:
    _compare(run, monkeypatch, path, SHIPPED + (("--hvp", load(path).inputs[0].name),))


@pytest.mark.parametrize("family", ["chain", "fanout", "wide"])
def test_form_cache_is_invisible_on_bench_families(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, family: str) -> None:
    _compare(run, monkeypatch, families.write(tmp_path, family, 12), FAMILIES)


def _cache(monkeypatch: pytest.MonkeyPatch, path: Path) -> form_cache.FormCache:
    made: list[form_cache.FormCache] = []
    init = form_cache.FormCache.__init__

    def spy(self: form_cache.FormCache, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(form_cache.FormCache, "__init__", spy)
    derive(build_graph(load(path)), closed=False)
    return made[0]


def test_a_chain_reads_a_few_kinds_of_form(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """A chain's layers read their forms once per kind: the comparisons above compare
    renamed forms with fresh ones, and the layers whose names sort differently (h9 before
    W10) are kinds of their own."""
    cache = _cache(monkeypatch, families.write(tmp_path, "chain", 64))
    assert cache.hits > 120 and len(cache.entries) < 60


SYMMETRIC = """name: sym
dims: {D: 3}
inputs:
  A: {shape: [D, D], spd: true}
  B: [D, D]
  x1: [D]
  x2: [D]
forward:
  - y1 = tanh(A @ x1)
  - y2 = tanh(B @ x2)
  - L = sum(y1 * y1) + sum(y2 * y2)
loss: L
"""


def test_the_key_holds_which_inputs_are_symmetric(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """∂L/∂x1 and ∂L/∂x2 are one index form up to names, but A is symmetric and B is not:
    A (…) and Bᵀ (…) are two kinds (a key without the symmetric inputs would print Aᵀ or B)."""
    path = tmp_path / "sym.yaml"
    path.write_text(SYMMETRIC, encoding="utf-8")
    monkeypatch.setattr(form_cache, "ENABLED", True)
    out = run("derive", path, "--only", "gradients").output
    assert "grad(x1) = A (∂L/∂y1" in out and "grad(x2) = Bᵀ (∂L/∂y2" in out
    _compare(run, monkeypatch, path, FAMILIES)
