"""The engine's fast paths build and search exactly what SymPy's own calls would.

``make_sum`` skips ``Sum``'s constructor; ``mentions``, ``nodes_of`` and ``free_symbols``
replace ``has``, ``atoms`` and ``free_symbols`` in the hot loops.  Each is compared here
with the SymPy call it stands for, on the expressions of real derivations (every shipped spec's
definitions, local derivatives and adjoints), where a difference in one node
would change what is printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sympy import Indexed, IndexedBase, KroneckerDelta, Sum, Symbol, Tuple, srepr, symbols

from einderive.derivation import build_graph
from einderive.indexed import free_symbols, make_sum, mentions, nodes_of
from einderive.reverse import derive_index
from einderive.spec import load

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))


def _expressions(path: Path) -> list[Any]:
    idx = derive_index(build_graph(load(path)))
    out = [e for e, _ in idx.definitions.values()]
    for edge in idx.edges:
        out += [edge.local, edge.chained, edge.result]
    out += [a.expr for a in idx.adjoints.values()]
    return out


def _subexpressions(e: Any) -> list[Any]:
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(x.args)
    return out


def test_make_sum_is_sums_constructor_on_small_cases() -> None:
    i, j, n, m, x = symbols("i j N M x")
    cases = [(x * i, ((i, 0, n - 1),)),
             (Sum(x * i * j, (j, 0, m - 1)), ((i, 0, n - 1),)),  # denested, inner first
             (Sum(Sum(i * j, (j, 0, m - 1)), (i, 0, n - 1)), ((x, 0, n - 1),)),
             (2 * i + x, ((i, 0, n - 1), (j, 0, m - 1))),
             (x, (Tuple(i, 0, n - 1),))]
    for body, limits in cases:
        built, made = Sum(body, *limits), make_sum(body, limits)
        assert srepr(made) == srepr(built)
        assert made == built and hash(made) == hash(built)
        assert made.is_commutative == built.is_commutative


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_fast_paths_agree_with_sympy_on_shipped_specs(path: Path) -> None:
    for e in _expressions(path):
        for s in _subexpressions(e):
            if isinstance(s, Sum):  # rebuilt without the constructor: the same sum
                made = make_sum(s.function, s.limits)
                assert srepr(made) == srepr(Sum(s.function, *s.limits))
        syms = sorted(e.atoms(Symbol), key=str)
        for sym in syms[:8] + [Symbol("absent")]:
            assert mentions(e, sym) == e.has(sym)
        for s in _subexpressions(e):  # Sum's own walks its body once per call
            assert free_symbols(s) == s.free_symbols
        assert nodes_of(e, KroneckerDelta) == e.atoms(KroneckerDelta)
        assert nodes_of(e, (Indexed, Symbol)) == e.atoms(Indexed, Symbol)


def test_free_symbols_is_sympys_on_small_cases() -> None:
    i, j, n, x = symbols("i j N x")
    a = IndexedBase("A")  # its elements are free symbols of their own
    cases = [Sum(a[i, j] * x, (i, 0, n - 1)), Sum(a[i, j], (i, 0, n - 1), (j, 0, i)),
             Sum(x, (i, 0, j)) * a[j, j], KroneckerDelta(i, j) + a[0, 1], a[i, i] ** 2]
    for e in cases:
        assert free_symbols(e) == e.free_symbols
