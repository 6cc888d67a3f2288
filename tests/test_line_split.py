"""Splitting or merging lines of a spec never changes a gradient's printed final form (issue
12's target), on the shipped specs, tests/models specs and Cookbook identities.

Each pair in ``line_split_pairs.py`` is a spec and the same computation with one intermediate
written inline or one line split into named nodes.  For every input both print in closed
form (``--expand``), the split spec's extra nodes are written out in its form and the two
printed forms compared up to the order of terms and factors (``split_pairs.compare``); every
printed form of both specs, the closed ones included, is checked by ``verify``.
"""

from __future__ import annotations

import pytest

from einderive import api
from line_split_pairs import LINE_PAIRS
from split_pairs import assert_same_gradients, Pair, compare, derivations

# Pairs that still print two forms, strict so that a fix shows up: the reason, and the forms.
KNOWN: dict[str, str] = {}


def _pairs():
    return [pytest.param(p, id=p.name, marks=pytest.mark.xfail(strict=True, reason=KNOWN[p.name]))
            if p.name in KNOWN else pytest.param(p, id=p.name) for p in LINE_PAIRS]


@pytest.mark.parametrize("pair", _pairs())
def test_a_line_split_or_merged_prints_the_same_gradients(pair: Pair) -> None:
    assert_same_gradients(pair)


def test_the_pairs_cover_the_shipped_specs_and_compare_most_gradients() -> None:
    from line_split_pairs import SPECS, shipped
    headers = {p.header for p in LINE_PAIRS}
    covered = [f.stem for f in SPECS.glob("*.yaml") if shipped(f.stem) in headers]
    assert len(covered) >= 15 and len(LINE_PAIRS) >= 40
    compared = sum(len(compare(p)[0]) for p in LINE_PAIRS if p.name not in KNOWN)
    assert compared >= 80


def test_the_comparison_sees_a_split_that_computes_something_else() -> None:
    """The check can fail: a split spec that reads another matrix prints differently."""
    pair = next(p for p in LINE_PAIRS if p.name == "trace_quadratic")
    wrong = pair._replace(split=("Y = C @ X", "L = trace(X.T @ Y)"))
    assert compare(wrong)[1]


@pytest.mark.parametrize("pair", [pytest.param(p, id=p.name) for p in LINE_PAIRS])
def test_every_printed_form_of_both_specs_verifies(pair: Pair) -> None:
    for d in derivations(pair):
        report = api.verify(d)
        assert report.ok, (report.error, [c for c in report.checks if not c.ok])
