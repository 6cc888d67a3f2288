"""The cancelling rule sends each expression to SymPy once (SymPy's cancel, expand and factor
are most of the time of a scalar chain's ``--hessian``: a 3-node chain with a quotient and
log/exp took 11 s, nine tenths of it in them, half of that making the same forms twice).

No timing is asserted: the tests count what reaches SymPy.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sympy

from conftest import derive_text

SCALAR_CHAIN = """
name: scalar_chain
inputs: {a: []}
forward:
  - b = exp(a) * a
  - L = log(1 + b * b)
loss: L
"""


def _counting(monkeypatch: Any) -> Counter[Any]:
    """Each expression whose cancelled forms are made, by the rule (one simplify call) that
    asked: the rule's helpers and the expression with the helpers it was written out with."""
    import einderive.simplify as S

    made: Counter[Any] = Counter()
    real_cancelled, real_make_cancel = S.cancelled, S.make_cancel
    rules = iter(range(10**9))

    def make_cancel(wheres: Any) -> Any:
        rule, number = real_make_cancel(wheres), next(rules)

        def counted(m: Any) -> Any:
            current[0] = number
            return rule(m)
        return counted

    current = [-1]

    def cancelled(m: Any, defs: Any, forms: bool = True) -> Any:
        if forms:
            made[(current[0], m, tuple(defs.items()))] += 1
        return real_cancelled(m, defs, forms) if not forms else real_cancelled(m, defs)
    monkeypatch.setattr(S, "make_cancel", make_cancel)
    monkeypatch.setattr(S, "cancelled", cancelled)
    return made


def test_an_expression_with_no_helpers_is_cancelled_once(monkeypatch):
    import einderive.matrix as mx
    import einderive.simplify as S
    from einderive.kinds import RefKind

    made = _counting(monkeypatch)
    p = mx.Ref("p", RefKind.TENSOR, (3, 1))
    t = mx.Ref("t", RefKind.TENSOR, (3, 1))
    m = mx.hadamard(p, mx.add(t, mx.power(p, sympy.Integer(-1))))  # p ⊙ (t + 1 ⊘ p)
    S._best_cancelled(m, {})
    assert sum(made.values()) == 1
    made.clear()
    h = mx.Ref("h", RefKind.TENSOR, (3, 1))
    S._best_cancelled(m, {h: mx.hadamard(t, t)})  # a helper m does not read
    assert sum(made.values()) == 1


def test_a_scalar_chain_hessian_sends_each_expression_to_sympy_once(monkeypatch):
    from einderive.api import second_order

    made = _counting(monkeypatch)
    second_order(derive_text(SCALAR_CHAIN), hessian="a")
    assert made, "the chain's quotients reach the cancelling rule"
    twice = [e for e, n in made.items() if n > 1]
    assert not twice, f"{len(twice)} expressions cancelled more than once in one simplify"
