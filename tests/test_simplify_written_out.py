"""Issue 12: leftovers of written-out forms the simplifier now folds (simplify.LEFTOVERS).

Each rule is exact; each is pinned by the form it prints on the spec it came from (the new
user pass of stop 34), checked numerically (``einderive verify`` evaluates every printed
form; the independent reader reads them back to PyTorch), and refused where it would not
be exact:

- ``take(stack([r11, r12, r21]), 2, axis=0)`` → ``r21`` (hard DTW);
- ``𝟙[a ≥ b] + 𝟙[a < b]`` → ``1`` (hard DTW's nested minimum);
- ``sign(s) ⊘ |s|`` → ``1 ⊘ s`` (Glow's log|det W| = Σ log|s|);
- ``diagonal(diag(exp(s))⁻¹)`` → ``exp(−s)``;
- ``reshape(reshape(x, [M, M]), [N])`` → ``x`` (Monarch);
- ``𝟙[X > cᵀ ⊙ 𝟏]`` → ``𝟙[X > cᵀ]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from printed import entries

from einderive import matrix as mx
from einderive import simplify as sp
from einderive.kinds import RefKind

TESTS = Path(__file__).parent
REG = TESTS / "regressions"
MORE15 = TESTS / "models" / "more15"

# (spec, left side, the printed matrix line (chain form, then closed form after " = "),
#  what it printed before)
PINNED = [
    (REG / "hard_dtw_min_of_stack.yaml", "∂L/∂r21",
     "∂L/∂r22·𝟙[r21 = min(stack([r11, r12, r21], axis=0))] = 𝟙[r21 = min(stack([r11, r12, "
     "r21], axis=0))]·𝟙[minimum(r12, r13) ≥ r22]", "take(stack"),
    (REG / "hard_dtw_min_of_stack.yaml", "∂L/∂r12",
     "𝟙[minimum(r12, r13) < r22] + ∂L/∂r22·𝟙[r12 = min(stack([r11, r12, r21], axis=0))] = "
     "𝟙[r12 = min(stack([r11, r12, r21], axis=0))]·𝟙[minimum(r12, r13) ≥ r22] + "
     "𝟙[minimum(r12, r13) < r22]", "𝟙[r12 < r13]"),
    (MORE15 / "glow_lu_invconv.yaml", "∂L/∂s",
     "colsum((Pmᵀ ∂L/∂W) ⊙ (Lr ⊙ Mlow + I)) − 1 ⊘ s = (1/B) colsum((Pmᵀ Zᵀ X) ⊙ (Lr ⊙ Mlow + "
     "I)) − 1 ⊘ s", "sign(s) ⊘"),
    (REG / "logdet_of_diag_exp.yaml", "∂L/∂s",
     "exp(s) ⊙ diagonal(∂L/∂M) + 𝟏 = exp(s) ⊙ (diagonal(M⁻¹) + exp(−s) − "
     "colsum(M⁻¹ ⊙ (A M⁻¹)))", "diagonal(diag"),
    (MORE15 / "monarch_two_factors.yaml", "∂L/∂w",
     "(2/B) reshape(Y2, [B, N])ᵀ (reshape(Y2, [B, N]) w − y)", "reshape(reshape"),
    (REG / "compare_rank3_broadcast_row.yaml", "∂L/∂X",
     "𝟙[X > cᵀ] ⊙ slice(∂L/∂C, :, :, 0:M) + (2/(B M)) sum(X, axis=(0, 2), keepdims=True) = "
     "2 ((1/(B M)) sum(X, axis=(0, 2), keepdims=True) + 𝟙[lo ≤ slice(C, :, :, 0:M) ≤ 3/2] ⊙ "
     "𝟙[X > cᵀ] ⊙ slice(w, 0:M)ᵀ ⊙ reshape(s, [B, N, 1]))", "⊙ 𝟏]"),
]
SPECS = sorted({p for p, _, _, _ in PINNED})


@pytest.mark.parametrize("spec,lhs,printed,gone", PINNED,
                         ids=[f"{p.stem}:{lhs}" for p, lhs, _, _ in PINNED])
def test_folded_form_is_printed(run, spec, lhs, printed, gone):
    lines = backward_lines(run, spec)
    assert lines[lhs] == printed  # (the matrix line: printed after the index line)
    assert gone not in lines[lhs]


def backward_lines(run, spec) -> dict[str, str]:
    """The Backward section of ``derive --expand`` of ``spec``: each left side -> its right
    side (a matrix line is printed after its index line, so it is the one kept)."""
    text = run("derive", "--expand", spec).output
    return dict((line.split(" = ", 1)[0], line.split(" = ", 1)[1])
                for section, line in entries(text) if section == "Backward")


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_folded_forms_verify_and_read_back(run, spec):
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    sys.path.insert(0, str(TESTS))
    import test_printed_forms as T
    assert T.failures(spec, run) == []


# -- each rule on its own: the form, a number, and what it leaves alone ------------------------

SIZES = {"N": 4, "M": 2, "K": 3}
FUNCTIONS = {"exp": np.exp, "abs": np.abs, "sign": np.sign,
             "gt": lambda u, v: (u > v) * 1.0, "ge": lambda u, v: (u >= v) * 1.0,
             "lt": lambda u, v: (u < v) * 1.0, "le": lambda u, v: (u <= v) * 1.0}


def _size(d):
    return SIZES.get(d, d) if isinstance(d, str) else d


def ev(m: mx.M, vals: dict) -> np.ndarray:
    """A matrix form's value from the notation's meaning (vectors are columns, ⊙ broadcasts,
    take and stack as NumPy's along the spec axis), never from einderive's code."""
    if isinstance(m, mx.Ref):
        return vals[m.name]
    if isinstance(m, mx.Const):
        return np.array(float(m.value))
    if isinstance(m, mx.Ones):
        return np.ones(tuple(_size(d) for d in m.shape))
    if isinstance(m, mx.Transpose):
        return np.swapaxes(ev(m.x, vals), -1, -2)
    if isinstance(m, mx.Hadamard):
        out = np.array(1.0)
        for f in m.factors:
            out = out * ev(f, vals)
        return out
    if isinstance(m, mx.Scale):
        return ev(m.coeff, vals) * ev(m.x, vals)
    if isinstance(m, mx.Add):
        return sum((ev(t, vals) for t in m.terms), np.array(0.0))
    if isinstance(m, mx.Pow):
        return ev(m.x, vals) ** float(m.exp)
    if isinstance(m, mx.Fn):
        return FUNCTIONS[m.name](*[ev(a, vals) for a in m.args])
    if isinstance(m, mx.Reshape):  # row-major, a vector's spec shape is 1-d
        out = ev(m.x, vals).reshape(tuple(_size(d) for d in m.dims))
        return out.reshape(-1, 1) if out.ndim == 1 else out
    if isinstance(m, mx.Stack):  # the pieces' spec values (a column is 1-d, a number 0-d)
        pieces = [np.squeeze(ev(x, vals), -1) if ev(x, vals).ndim == 2 and
                  ev(x, vals).shape[-1] == 1 else ev(x, vals) for x in m.xs]
        return np.stack(pieces, axis=m.axis)
    if isinstance(m, mx.Take):
        out = np.take(ev(m.x, vals), m.at, axis=m.axis)
        return out.reshape(-1, 1) if out.ndim == 1 else out
    if isinstance(m, mx.Diag):
        return np.diag(ev(m.x, vals).ravel())
    if isinstance(m, mx.Diagonal):
        return np.diagonal(ev(m.x, vals)).reshape(-1, 1)
    if isinstance(m, mx.AxisFn) and m.head == "inv":
        return np.linalg.inv(ev(m.x, vals))
    raise AssertionError(f"no value for {type(m).__name__}")


def _values(*refs: mx.Ref, tie: tuple[str, str] | None = None) -> dict:
    rng = np.random.default_rng(3)
    out = {r.name: rng.uniform(-1.0, 1.0, tuple(_size(d) for d in r.shape)) for r in refs}
    if tie:  # a tie, where a comparison and its negation must still add to one
        out[tie[1]] = out[tie[0]].copy()
    return out


def check(rule, before: mx.M, want: str, vals: dict) -> None:
    """``rule`` rewrites ``before`` into what prints as ``want`` with the same values, and the
    whole simplifier does too."""
    after = rule(before)
    assert after is not None and text(after) == want, (text(before), after)
    whole = sp.simplify(before)
    assert text(whole) == want
    np.testing.assert_allclose(ev(after, vals), ev(before, vals) * np.ones_like(ev(after, vals)))
    np.testing.assert_allclose(ev(whole, vals), ev(after, vals))


def text(m: mx.M) -> str:
    from einderive.render.styles import Unicode
    return Unicode().matrix(m)


def _ref(name: str, *shape) -> mx.Ref:
    return mx.Ref(name, RefKind.TENSOR, tuple(shape))


def test_take_of_stack():
    a, b, c = _ref("a"), _ref("b"), _ref("c")
    st = mx.Stack((a, b, c), 0, (3,), (3, 1))
    check(sp.take_of_stack, mx.Take(st, 0, 2, (3,), ()), "c", _values(a, b, c))
    u, v = _ref("u", "N", 1), _ref("v", "N", 1)
    cols = mx.Stack((u, v), 1, ("N", 2), ("N", 2))
    check(sp.take_of_stack, mx.Take(cols, 1, 1, ("N", 2), ("N", 1)), "v", _values(u, v))
    # another axis than the stacked one reads across the pieces: left alone
    assert sp.take_of_stack(mx.Take(cols, 0, 1, ("N", 2), (2, 1))) is None


def test_complementary_indicators():
    a, b = _ref("a"), _ref("b")
    for ge, lt in ((mx.fn("ge", a, b), mx.fn("lt", a, b)), (mx.fn("gt", a, b), mx.fn("ge", b, a))):
        for tie in (None, ("a", "b")):
            check(sp.complementary_indicators, mx.add(ge, lt), "1", _values(a, b, tie=tie))
    u, v, w = _ref("u", "N", 1), _ref("v", "N", 1), _ref("w", "N", 1)
    both = mx.add(mx.fn("le", u, v), mx.fn("gt", u, v), w)
    check(sp.complementary_indicators, both, "1 + w", _values(u, v, w))
    # not a comparison and its negation: both hold (>, ≥) or neither (>, < at a tie)
    assert sp.complementary_indicators(mx.add(mx.fn("ge", a, b), mx.fn("gt", a, b))) is None
    assert sp.complementary_indicators(mx.add(mx.fn("gt", a, b), mx.fn("lt", a, b))) is None
    assert sp.complementary_indicators(mx.add(mx.fn("ge", a, b), mx.fn("lt", a, _ref("c")))) \
        is None


def test_sign_over_abs():
    u, v = _ref("u", "N", 1), _ref("v", "N", 1)
    check(sp.sign_over_abs, mx.hadamard(mx.fn("sign", u), mx.power(mx.fn("abs", u), -1)),
          "1 ⊘ u", _values(u))
    assert sp.sign_over_abs(mx.hadamard(mx.fn("sign", u), mx.power(mx.fn("abs", v), -1))) \
        is None
    assert sp.sign_over_abs(mx.hadamard(mx.fn("sign", u), mx.power(mx.fn("abs", u), -2))) \
        is None


def test_diagonal_of_inverse_diag():
    v, s, A = _ref("v", "N", 1), _ref("s", "N", 1), _ref("A", "N", "N")

    def inv(x: mx.M) -> mx.M:
        return mx.AxisFn("inv", x, 0, ("N", "N"), ("N", "N"))
    vals = _values(v, s, A)
    vals["v"] = vals["v"] + 2.0  # (a diagonal with no zero)
    check(sp.diagonal_of_inverse_diag, mx.Diagonal(inv(mx.Diag(v, ("N", "N"))), ("N", 1)),
          "1 ⊘ v", vals)
    check(sp.diagonal_of_inverse_diag,
          mx.Diagonal(inv(mx.Diag(mx.fn("exp", s), ("N", "N"))), ("N", 1)), "exp(−s)", vals)
    assert sp.diagonal_of_inverse_diag(mx.Diagonal(inv(A), ("N", 1))) is None


def test_reshape_of_reshape():
    x = _ref("x", "N", 1)
    inner = mx.Reshape(x, ("M", "M"), ("M", "M"))
    SIZES["N"] = SIZES["M"] ** 2
    try:
        check(sp.reshape_of_reshape, mx.Reshape(inner, ("N",), ("N", 1)), "x", _values(x))
        check(sp.reshape_of_reshape, mx.Reshape(inner, (1, "N"), (1, "N")),
              "reshape(x, [1, N])", _values(x))
    finally:
        SIZES["N"] = 4
    assert sp.reshape_of_reshape(inner) is None


def test_ones_in_comparison():
    X, c = _ref("X", "N", "K"), _ref("c", "K", 1)
    spread = mx.Hadamard((mx.transpose(c), mx.Ones(("N", "K"))), ("N", "K"))
    check(sp.ones_in_comparison, mx.fn("gt", X, spread), "𝟙[X > cᵀ]", _values(X, c))
    # two rows: the ones alone give the result its rows, kept
    assert sp.ones_in_comparison(mx.fn("gt", mx.transpose(c), spread)) is None
