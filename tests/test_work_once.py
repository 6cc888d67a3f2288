"""Work done once per thing, counted (never timed): each adjoint's form is read once, and a
table built from the forward nodes is built once per derivation, not once per form.  Each
of these made a deep chain's constant (or its growth) worse while printing the same text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import families  # noqa: E402

from einderive import derivation  # noqa: E402
from einderive.api import derive_file  # noqa: E402


def _count_recognitions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = derivation.recognize

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append((args[3], args[4]))  # the index form read, at its indices
        return real(*args, **kwargs)
    monkeypatch.setattr(derivation, "recognize", counting)
    return seen


@pytest.mark.parametrize("family", families.FAMILIES)
def test_each_form_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                family: str) -> None:
    """An adjoint with one consumer is its only term: read as the adjoint and as the term,
    it was recognized, simplified and reused twice."""
    seen = _count_recognitions(monkeypatch)
    d = derive_file(families.write(tmp_path, family, 4), closed=False)
    assert seen, "the counter must see the reader"
    assert len(seen) == len(set(seen))
    # and what is shown is what was read: a term's form is the adjoint's
    for a in d.adjoints:
        if len(a.terms) == 1:
            assert a.terms[0][1] is a.form

