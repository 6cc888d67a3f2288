"""The printers' shortcuts change no output: the one-walk test that an index form needs no
primed letter (readable._unambiguous) says so only where the full pass renames nothing,
on every index form of the shipped specs and the model suite, and on the cases that do need
a prime (a letter bound twice, bound and free, bound beside a repeated sum)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sympy import Function, Indexed, IndexedBase, Mul, Sum, Symbol, exp

from einderive.api import derive_file
from einderive.render.readable import Rewriter, _unambiguous

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests" / "models").glob("*.yaml"))

i, j, k, n = (Symbol(c) for c in "ijkn")
x, y = IndexedBase("$x"), IndexedBase("$y")
f = Function("f")


def _renames(e: Any, outside: frozenset[str]) -> bool:
    return Rewriter({}, lambda key: None)._disambiguate(e, outside) is not e


def _forms(path: Path) -> list[tuple[Any, frozenset[str]]]:
    d = derive_file(str(path))
    out = []
    for a in d.index.adjoints.values():
        lhs = frozenset(s.name for s in a.idx if isinstance(s, Symbol))
        out += [(e, lhs) for e in (a.expr, a.closed) if e is not None]
        out += [(c, lhs) for _, c in a.terms]
    for e, idx in d.index.definitions.values():
        out.append((e, frozenset(s.name for s in idx if isinstance(s, Symbol))))
    return out


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_no_prime_needed_only_where_the_full_pass_renames_nothing(path: Path) -> None:
    for e, lhs in _forms(path):
        if _unambiguous(e, lhs):
            assert not _renames(e, lhs), f"{path.stem}: {e}"


NEEDS_A_PRIME = [
    # the outer sum's letter bound again inside
    (Sum(x[j] * Sum(y[j, k], (j, 0, n - 1)), (j, 0, n - 1)), frozenset()),
    # a summation letter that is the left side's
    (Sum(x[j], (j, 0, n - 1)), frozenset({"j"})),
    # bound in one factor, free in its neighbour
    (Mul(x[j], f(Sum(y[j, k], (j, 0, n - 1)))), frozenset()),
    # one sum at two places of a product: the flat one's letter is the nested one's
    (Mul(Sum(x[j], (j, 0, n - 1)), exp(Sum(x[j], (j, 0, n - 1)))), frozenset()),
    # bound in a sum, free in a neighbour read after it (the sum's letters leave the scope)
    (Mul(Sum(x[j], (j, 0, n - 1)), f(y[j])), frozenset()),
    # bound in a nested sum, free outside both
    (Mul(y[k], Sum(x[j] * Sum(y[k], (k, 0, n - 1)), (j, 0, n - 1))), frozenset()),
]


@pytest.mark.parametrize("e, lhs", NEEDS_A_PRIME, ids=range(len(NEEDS_A_PRIME)))
def test_a_form_that_needs_a_prime_takes_the_full_pass(e: Any, lhs: frozenset[str]) -> None:
    assert not _unambiguous(e, lhs)
    assert _renames(e, lhs)  # not vacuous: the full pass does rename it


def test_most_forms_need_no_prime() -> None:
    """The shortcut is taken (else it would save nothing): a chain's forms all bind each
    letter once."""
    forms = [pair for p in SPECS[:8] for pair in _forms(p)]
    fast = sum(_unambiguous(e, lhs) for e, lhs in forms)
    assert fast > len(forms) // 2
    assert any(isinstance(a, Indexed) for e, _ in forms for a in e.atoms(Indexed))


def test_letters_bound_inside_nested_sums_leave_a_free_neighbour_unprimed() -> None:
    e = Mul(y[i], Sum(x[j] * Sum(y[k], (k, 0, n - 1)), (j, 0, n - 1)))
    assert _unambiguous(e, frozenset())
    assert not _renames(e, frozenset())
