"""The simplifier's memo (a pass's result per node, for the next round of the same rules) is
invisible: every output prints the same bytes with it as without it, on the shipped specs
(closed forms and Hessian-vector products simplify the most) and on the bench's families;
and it is not vacuous (with it, a chain's passes rewrite fewer nodes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from einderive import simplify
from einderive.spec import load

from conftest import SPEC_FILES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import families  # noqa: E402

FORMATS = (("--expand",), ("-f", "numpy"))


def _outputs(run: Any, monkeypatch: pytest.MonkeyPatch, path: Path, memo: bool,
             formats: tuple[tuple[str, ...], ...]) -> list[tuple[int, str]]:
    monkeypatch.setattr(simplify, "MEMO", memo)
    return [(r.exit_code, r.output) for r in (run("derive", path, *f) for f in formats)]


def _compare(run: Any, monkeypatch: pytest.MonkeyPatch, path: Path,
             formats: tuple[tuple[str, ...], ...]) -> None:
    with_memo = _outputs(run, monkeypatch, path, True, formats)
    without = _outputs(run, monkeypatch, path, False, formats)
    for f, a, b in zip(formats, with_memo, without):
        assert a == b, f"{path.stem} {' '.join(f)}"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_simplify_memo_is_invisible_on_shipped_specs(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                     path: Path) -> None:
    _compare(run, monkeypatch, path, FORMATS + (("--hvp", load(path).inputs[0].name),))


@pytest.mark.parametrize("family", ["chain", "fanout", "wide"])
def test_simplify_memo_is_invisible_on_bench_families(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, family: str) -> None:
    _compare(run, monkeypatch, families.write(tmp_path, family, 12), FORMATS)


def test_simplify_memo_skips_the_nodes_a_round_left_alone(
        run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = families.write(tmp_path, "chain", 12)
    counts = []
    for memo in (False, True):
        monkeypatch.setattr(simplify, "MEMO", memo)
        calls = [0]
        here = simplify._pass_here

        def counted(*args: Any, here: Any = here, calls: list[int] = calls) -> Any:
            calls[0] += 1
            return here(*args)
        monkeypatch.setattr(simplify, "_pass_here", counted)
        r = run("derive", path, "--expand")
        assert r.exit_code == 0
        monkeypatch.setattr(simplify, "_pass_here", here)
        counts.append(calls[0])
    without, with_memo = counts
    assert 0 < with_memo < without
