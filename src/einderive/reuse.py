"""Forward nodes reused in the backward forms: a subexpression equal to a named node prints
as the node's name.

A node written inline (the Rayleigh quotient's ``f = x @ A @ x / (x @ x)``) comes back in
its own gradient as its definition, ``((xᵀ A x)/(xᵀ x))``; the textbook writes ``f``.  The
backward pass reads every forward node, so any named node may stand for its matrix form
there.  Matching is structural on the simplified (canonical) forms, so it is exact: a
subexpression is replaced only when it *is* the node's form, never when it merely equals it
numerically.  The search runs from the root down, so the largest match wins; of two nodes
with one form the one defined first wins; the result is the same on every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from sympy import S

from . import matrix as mx
from .kinds import ReduceKind, RefKind
from .record import replace
from .simplify import ForwardForms, cost
from .simplify import rebuild as _rebuild  # one rebuilder for the simplifier and this pass

Part = tuple[int, tuple[mx.M, ...], mx.M]  # (rank: largest first, the operands, the node)
Parts = dict[type, dict[mx.M, list[Part]]]  # by the form's type, then by its first operand


class Named(ForwardForms):
    """(a node's matrix form, the node), in graph order, with the lookups of this pass built
    once for the whole derivation (:func:`reuse` runs on every adjoint's form)."""

    @cached_property
    def whole(self) -> dict[mx.M, mx.M]:
        """form -> node"""
        return dict(self)

    @cached_property
    def scaled(self) -> dict[mx.M, tuple[object, mx.M]]:
        """body -> (k, node) of each node whose form is ``k·body``, k a constant: the mean
        ``m = (1/N) sum(x)`` is met as ``−(1/N) sum(x)`` in ``x − (1/N) sum(x)``."""
        out: dict[mx.M, tuple[object, mx.M]] = {}
        for form, ref in self:
            if isinstance(form, mx.Scale) and isinstance(form.coeff, mx.Const) and \
                    not _leaf(form.x) and form.x.shape == form.shape:
                out.setdefault(form.x, (form.coeff.value, ref))
        return out

    @cached_property
    def parts(self) -> Parts:
        return _parts(self)

    @cached_property
    def quotients(self) -> tuple[tuple[mx.M, mx.M, mx.M], ...]:
        """(numerator, divisor, node) of each node whose form is a quotient, in graph order:
        split once here, not once per adjoint (a wide graph's n adjoints each looking at its
        n nodes made :func:`through_quotients` n²)."""
        return tuple((split[0], split[1], ref) for form, ref in self
                     if (split := _quotient(form)) is not None)


def reusable(forms: Sequence[tuple[mx.Ref, mx.M | None]],
             read: Callable[[mx.M], mx.M | None] | None = None) -> Named:
    """The nodes worth naming where their form appears: a form that is more than a name
    (``h = x`` or ``g = Wᵀ`` would only rename a leaf) and has the node's own shape; then
    each form's transpose, which prints as the node's (``yᵀ X A⁻ᵀ`` is ``wᵀ`` with
    ``w = A⁻¹ Xᵀ y``), where it is no node's own form."""
    out: dict[mx.M, mx.M] = {}
    transposed: dict[mx.M, mx.M] = {}  # Xt -> X of Xt = X.T (ForwardForms.transposed)
    for ref, m in forms:
        m = m if m is None or m.shape == ref.shape else _whole_mean(m, ref.shape)
        if m is None or m.shape != ref.shape or _leaf(m):
            if m is not None and _transpose_of_name(m, ref):
                assert isinstance(m, mx.Transpose)
                transposed.setdefault(ref, m.x)
            continue
        out.setdefault(m, ref)  # two nodes with one form: the first defined
    turned = {mx.transpose(m): mx.transpose(ref) for m, ref in out.items() if m.shape != ()}
    # and its transpose pushed down to the leaves, as a form reading the node's element (j, i)
    # writes it: the node itself where that is its form in another order (sammon_stress's
    # Dy = √(1 + sq + sqᵀ − 2 Y Yᵀ) read as √(1 + sqᵀ + sq − 2 Y Yᵀ) is Dy), else its ᵀ
    for m, node in out.items():
        pushed = mx.pushed_transpose(m)
        if pushed != m and pushed not in turned and pushed not in out:
            turned[pushed] = node if unordered(pushed) == unordered(m) else mx.transpose(node)
    if read is not None:
        for t, r in list(turned.items()):
            s = read(t)
            if s is not None and s != t and s not in turned and s not in out:
                turned[s] = r
    extra = list(out.items()) + [(t, r) for t, r in turned.items() if t not in out]
    flipped = [(f, mx.neg(r)) for m, r in extra if (f := _flipped(m)) is not None]
    seen = {m for m, _ in extra}
    named = Named(extra + [(f, r) for f, r in flipped if f not in seen])
    if transposed:
        named.transposed = MappingProxyType(transposed)
    return named


def _transpose_of_name(m: mx.M, ref: mx.M) -> bool:
    """``m`` (node ``ref``'s form) is a whole tensor's transpose, both matrices read whole:
    ``Xᵀ`` of ``Xt = X.T``, ``Yᵀ`` of ``Z = Y.T`` (Y a forward node)."""
    return isinstance(m, mx.Transpose) and isinstance(m.x, mx.Ref) and \
        m.x.kind == RefKind.TENSOR and not m.x.batch and not m.x.at and \
        isinstance(ref, mx.Ref) and not ref.batch and not ref.at and len(ref.shape) == 2 and \
        tuple(m.x.shape) == tuple(reversed(ref.shape))


def _whole_mean(m: mx.M, shape: tuple[object, ...]) -> mx.M | None:
    """A node's batched form of the node's own shape: ``c Σ_b colsum(X_b)ᵀ`` (1×D) for a
    node of X: [B, T, D]'s sums over its first two axes, kept (1×1×D), is ``c sum(X, axis=(0,
    1), keepdims=True)``, as the adjoints that read the node write those sums; else None."""
    c, body = (m.coeff, m.x) if isinstance(m, mx.Scale) else (None, m)
    if not (isinstance(body, mx.BatchSum) and isinstance(body.x, mx.Transpose) and
            isinstance(body.x.x, mx.Reduce) and body.x.x.kind == ReduceKind.COLSUM):
        return None
    x = body.x.x.x
    if not (isinstance(x, mx.Ref) and not x.at and len(x.batch) == 1 and
            tuple(x.batch) == tuple(body.dims) and shape == (1, 1, x.shape[-1])):
        return None
    whole = mx.SumAxes(replace(x, shape=tuple(x.batch) + tuple(x.shape), batch=()), (0, 1),
                       True, shape)
    return whole if c is None else mx.Scale(c, whole, shape)


def _flipped(m: mx.M) -> mx.M | None:
    """A form with its one difference turned round, ``S⁻¹ (mu − x)`` for ``z = S⁻¹ (x − mu)``:
    it prints as ``−z`` (the simplifier turns a difference to take a minus in front)."""
    chain = _chain(m)
    at = [k for k, f in enumerate(chain) if _difference(f)]
    if len(at) != 1:
        return None
    d = chain[at[0]]
    assert isinstance(d, mx.Add)
    turned = mx.add(*sorted((mx.neg(t) for t in d.terms), key=lambda t: mx.split_sign(t)[0]))
    return _product([*chain[:at[0]], turned, *chain[at[0] + 1:]])


def _difference(m: mx.M) -> bool:
    """``a − b``: a sum of two terms, one of them negative."""
    return isinstance(m, mx.Add) and len(m.terms) == 2 and \
        sum(mx.split_sign(t)[0] for t in m.terms) == 1


def unordered(m: mx.M, memo: dict[mx.M, mx.M] | None = None) -> mx.M:
    """``m`` with the terms of every sum in one fixed order (by their text): two forms equal
    up to the order of their terms compare equal (``memo`` keeps the subtrees done)."""
    memo = {} if memo is None else memo
    hit = memo.get(m)
    if hit is None:
        kids = [unordered(c, memo) for c in m.children()]
        hit = memo[m] = mx.Add(tuple(sorted(kids, key=repr)), m.shape, m.src) \
            if isinstance(m, mx.Add) else _rebuild(m, kids)
    return hit


def _leaf(m: mx.M) -> bool:
    if isinstance(m, mx.Transpose):
        return _leaf(m.x)
    return isinstance(m, (mx.Ref, mx.Const, mx.Ones, mx.Eye, mx.OneHot))


def expand(m: mx.M, named: Named, simplify: Callable[[mx.M], mx.M]) -> mx.M:
    """``m`` with named nodes written out where the simplifier then makes it smaller: with
    ``u = B x; L = xᵀ u``, ∂L/∂x = Bᵀ x + u is (B + Bᵀ) x, what ``L = x @ B @ x`` on one line
    prints.  Splitting a line into named nodes should not change a gradient's form.

    Smaller is the simplifier's cost, then fewer distinct names (a tie: Bᵀ x + u and
    (B + Bᵀ) x cost the same, and the second reads in the inputs alone).  Writing a node out
    costs more than its name, so only a form the simplifier factors or cancels is kept.
    A node that is a tensor's transpose is written out too (``At = A.T``: with
    ``L = sum(X * ((A + At) @ X)) / 2``, ∂L/∂X is (A + Aᵀ) X)."""
    forms: Mapping[mx.M, mx.M] = named.forms
    if named.transposed:
        forms = {**forms, **{n: mx.transpose(x) for n, x in named.transposed.items()}}
    best = m
    for ref in dict.fromkeys(n for n in mx.walk(m) if isinstance(n, mx.Ref) and n in forms):
        if ref not in set(mx.walk(best)):
            continue  # gone with a node written out before it
        out = simplify(mx.substitute(best, ref, forms[ref]))
        if _size(out) < _size(best):
            best = out
    return best


def through_quotients(m: mx.M, named: Named, simplify: Callable[[mx.M], mx.M]) -> mx.M:
    """``m`` with the numerator ``a`` of a named quotient ``N = a ⊘ b`` written as ``N ⊙ b``
    where the simplifier then makes it smaller: batch norm's ``Xc ⊙ colsum(G ⊙ Xc) ⊘ (var + ε)``
    is ``X̂ ⊙ colsum(G ⊙ X̂)`` with ``X̂ = Xc ⊘ √(var + ε)``, as the literature writes it."""
    best = m
    seen: set[mx.M] | None = None  # best's subexpressions, walked again only when it changes
    for a, b, ref in named.quotients:
        if seen is None:
            seen = set(mx.walk(best))
        if a not in seen:
            continue
        # as it reads, else with the divisor held apart (the smaller of the two, if smaller)
        rewritten = mx.substitute(best, a, mx.hadamard(ref, b))
        plain = simplify(rewritten)
        size = _written_size(plain, named, ref)
        out = plain if size <= _written_size(best, named, ref) else best
        held = _numerator_read(best, a, b, ref)
        if held != rewritten:
            other = simplify(held)
            # (only where every ref ⊙ b cancelled: not (An ⊙ rowsum(A)) X Xᵀ left over)
            if _written_size(other, named, ref) < min(size, _written_size(best, named, ref)) \
                    and not _left_over(other, ref, b):
                out = other
        if out is not best and _written_size(out, named, ref) < _written_size(best, named, ref):
            best, seen = out, None
    return best


def _left_over(m: mx.M, ref: mx.M, b: mx.M) -> bool:
    """Whether ``m`` still multiplies the quotient ``ref`` by its divisor ``b`` somewhere
    (the numerator written back the long way, where the divisor found nothing to cancel)."""
    return any(isinstance(n, mx.Hadamard) and ref in n.factors and b in n.factors
               for n in mx.walk(m))


def _numerator_read(m: mx.M, a: mx.M, b: mx.M, ref: mx.M) -> mx.M:
    """``m`` with ``a`` written ``ref ⊙ b``, except inside ``b`` itself, and ``b`` taken out
    of the row or column sums it then multiplies (:func:`_held_out`): softmax₁'s A = exp(S)
    ⊘ (1 + rowsum(exp(S))) reads rowsum(G ⊙ exp(S)) ⊘ (1 + rowsum(exp(S))) as rowsum(G ⊙
    A), its divisor's exp(S) left as it is (written A ⊙ (1 + rowsum(…)) there too, the
    divisor no longer cancels); linear attention's O = (A X Wv) ⊘ rowsum(A) reads
    rowsum(G ⊙ (A X Wv)) ⊘ rowsum(A) as rowsum(G ⊙ O)."""
    held = mx.Ref("·divisor", RefKind.ANON, b.shape)  # (b, held apart while a is rewritten)
    # and the divisor's radicand, where the form reads it whole (batch norm with var inline:
    # Xc ⊙ (colsum(G ⊙ Xc) ⊘ s)ᵀ, X̂ = Xc ⊘ √sᵀ, s = (1/B) colsum(Xc ⊙ Xc) + ε: written
    # X̂ ⊙ √sᵀ there too, s would no longer cancel the root)
    table = {p: mx.Ref(f"·radicand{k}", RefKind.ANON, p.shape)
             for k, p in enumerate(_radicands(b), 1) if a in set(mx.walk(p))}
    out = mx.substitute_all(mx.substitute(m, b, held), table) if table else \
        mx.substitute(m, b, held)
    out = _held_out(mx.substitute(out, a, mx.hadamard(ref, held)), held)
    if table:
        out = mx.substitute_all(out, {r: p for p, r in table.items()})
    return mx.substitute(out, held, b)


def _radicands(b: mx.M) -> list[mx.M]:
    """The bases of ``b``'s factors under their powers, transposes and functions of one
    argument (s of √sᵀ), each also transposed."""
    out: list[mx.M] = []
    for f in b.factors if isinstance(b, mx.Hadamard) else (b,):
        x = f
        while isinstance(x, (mx.Transpose, mx.Pow)) or isinstance(x, mx.Fn) and not x.rest:
            x = x.x
        if x != f:
            out += [p for p in (x, mx.transpose(x)) if p not in out]
    return out


def _held_out(m: mx.M, held: mx.M) -> mx.M:
    """``m`` with ``held``, a column the same along each row (a row the same along each
    column), taken out of the row sums (column sums) whose product it is a factor of:
    rowsum(G ⊙ A ⊙ b) is rowsum(G ⊙ A) ⊙ b, the b a divisor ⊘ b then cancels."""
    return _taken_out(m, held) if held in set(mx.walk(m)) else m


def _taken_out(m: mx.M, held: mx.M) -> mx.M:
    """:func:`_held_out` below the one walk that found ``held``: each node visited once."""
    m = _rebuild(m, [_taken_out(c, held) for c in m.children()])
    if not (isinstance(m, mx.Reduce) and isinstance(m.x, mx.Hadamard) and
            held in m.x.factors and len(m.x.shape) == 2) or mx.batch_of(m):
        return m
    along = {ReduceKind.ROWSUM: (m.x.shape[0], 1), ReduceKind.COLSUM: (1, m.x.shape[1])}
    if along.get(ReduceKind(m.kind)) != held.shape:
        return m
    rest = list(m.x.factors)
    rest.remove(held)
    # (a column sum is a column: the row held is taken out as that column)
    out = held if ReduceKind(m.kind) == ReduceKind.ROWSUM else mx.transpose(held)
    return mx.hadamard(mx.reduce(m.kind, mx.hadamard(*rest)), out)


def _written_size(m: mx.M, named: Named, keep: mx.M) -> tuple[int, int]:
    """``m``'s size with the forward nodes other than ``keep`` written out (one level): the
    choice to read a quotient node in a form must not depend on whether the line split its
    other parts into names.  The cosine similarity's ``(xᵀ y)/nx²`` and ``L·ny/nx`` (L, its
    loss, is ``(xᵀ y)/(nx·ny)``) cost 17 and 16 with nx and ny named, 23 and 24 with
    ``nx = ‖x‖`` written out, as the line ``L = x @ y / sqrt(x @ x) / sqrt(y @ y)`` has it."""
    forms = named.forms
    table: dict[mx.M, mx.M] = {r: forms[r] for r in mx.walk(m)
                               if r != keep and isinstance(r, mx.Ref) and r in forms}
    return _size(mx.substitute_all(m, table) if table else m)


def _quotient(form: mx.M) -> tuple[mx.M, mx.M] | None:
    """``(a, b)`` for a form ``a ⊘ b`` (one factor over one or more divisors), else None."""
    if not isinstance(form, mx.Hadamard):
        return None
    den = [f for f in form.factors if isinstance(f, mx.Pow) and _negative(f)]
    num = [f for f in form.factors if f not in den]
    if not den or len(num) != 1 or num[0].shape != form.shape:
        return None
    assert all(isinstance(f, mx.Pow) for f in den)
    return num[0], mx.hadamard(*[mx.power(f.x, -f.exp) for f in den if isinstance(f, mx.Pow)])


def _negative(f: mx.Pow) -> bool:
    return bool(f.exp < 0)  # a SymPy number


def _size(m: mx.M) -> tuple[int, int]:
    return cost(m), len({n.name for n in mx.walk(m) if isinstance(n, mx.Ref)})


def reuse(m: mx.M, named: Named) -> mx.M:
    """``m`` with each subexpression that is a named node's form replaced by the node."""
    if not named:
        return m
    return _reuse(m, _Tables(named.whole, named.parts, named.scaled))


def _parts(named: Sequence[tuple[mx.M, mx.M]]) -> Parts:
    """The nodes whose form is a product or a sum, by its operands, ranked largest first:
    such a form also matches a run of a longer chain (``B A x`` holds ``A x``) or some of
    the factors or terms of a longer elementwise product or sum.  Filed under the form's
    first operand: a form can only match where that operand is, so a node looks at the few
    forms that start with one of its operands, not at every form of the graph."""
    rows = [(type(m), _operands(m), ref) for m, ref in named
            if isinstance(m, (mx.MatMul, mx.Hadamard, mx.Add))]
    rows.sort(key=lambda r: -len(r[1]))  # stable: graph order among equal lengths
    parts: Parts = {}
    for rank, (kind, run, ref) in enumerate(rows):
        parts.setdefault(kind, {}).setdefault(run[0], []).append((rank, run, ref))
    return parts


def _candidates(parts: Parts, kind: type, operands: Iterable[mx.M]) -> list[Part]:
    """The forms of type ``kind`` that start with one of ``operands``, best ranked first."""
    filed = parts.get(kind, {})
    found = {part[0]: part for x in dict.fromkeys(operands) for part in filed.get(x, ())}
    return [found[rank] for rank in sorted(found)]


def _chain(m: mx.M) -> tuple[mx.M, ...]:
    """The operands of a product ``a b c`` left to right, however it is bracketed."""
    if isinstance(m, mx.MatMul):
        return _chain(m.a) + _chain(m.b)
    return (m,)


def _operands(m: mx.M) -> tuple[mx.M, ...]:
    if isinstance(m, mx.MatMul):
        return _chain(m)
    if isinstance(m, mx.Hadamard):
        return m.factors
    if isinstance(m, mx.Add):
        return m.terms
    return (m,)


class _Tables(NamedTuple):
    whole: dict[mx.M, mx.M]
    parts: Parts
    scaled: dict[mx.M, tuple[object, mx.M]]


def _reuse(m: mx.M, t: _Tables) -> mx.M:
    """``m`` reused, keeping the SymPy source it was read from: the index form is printed
    in the order the matrix form shows its parts."""
    return mx.with_src(_reuse_here(m, t), m.src)


def _reuse_here(m: mx.M, t: _Tables) -> mx.M:
    hit = t.whole.get(m)
    if hit is not None:
        return hit
    if isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const) and m.x in t.scaled:
        k, ref = t.scaled[m.x]  # c·body with k·body a node: (c/k)·node
        return mx.scale(mx.Const(m.coeff.value / k), ref)
    if isinstance(m, mx.MatMul):
        return _reuse_chain(m, t)
    if isinstance(m, (mx.Hadamard, mx.Add)):
        found = _reuse_some(m, t.parts)
        if found is not None:
            return _reuse(found, t)
    out = _rebuild(m, [_reuse(c, t) for c in m.children()])
    return _alike_collected(out) if isinstance(out, mx.Add) and out is not m else out


def _alike_collected(m: mx.Add) -> mx.M:
    """``4 X4ᵀ + X4ᵀ`` → ``5 X4ᵀ``: terms a node's name made alike (4 X2ᵀ X2ᵀ with X4 = X2
    X2) are one term, their numbers added."""
    parts = [(t.coeff.value, t.x) if isinstance(t, mx.Scale) and isinstance(t.coeff, mx.Const)
             else (S.One, t) for t in m.terms]  # a SymPy number: 2 h0 of h0 + h0 (fz6)
    bodies = [b for _, b in parts]
    if len(set(bodies)) == len(bodies):
        return m
    total: dict[mx.M, Any] = {}
    for c, b in parts:
        total[b] = total.get(b, S.Zero) + c
    return mx.add(*[mx.scale(mx.Const(c), b) for b, c in total.items()])


def _reuse_chain(m: mx.MatMul, t: _Tables) -> mx.M:
    """A product ``a b c d``: the longest run that is a node's form, then the rest."""
    chain = _chain(m)
    best: tuple[int, int, int, mx.M] | None = None  # (rank, where, length, node)
    for i, x in enumerate(chain):
        for rank, run, ref in t.parts.get(mx.MatMul, {}).get(x, ()):
            if (best is None or rank < best[0]) and chain[i:i + len(run)] == run:
                best = (rank, i, len(run), ref)  # the best ranked, then the leftmost
    if best is not None:
        _, i, n, ref = best
        left = [_reuse(_product(chain[:i]), t)] if i else []
        right = [_reuse(_product(chain[i + n:]), t)] if i + n < len(chain) else []
        out = _product([*left, ref, *right])
        # the names may make another node's form: Xᵀ Xᵀ Xᵀ Xᵀ is X2ᵀ X2ᵀ, which is X4ᵀ
        again = _reuse_chain(out, t) if isinstance(out, mx.MatMul) else out
        return again if _chain(again) != _chain(out) else out
    return _product([_reuse(f, t) for f in chain])


def _reuse_some(m: mx.Hadamard | mx.Add, parts: Parts) -> mx.M | None:
    """``a ⊙ b ⊙ c`` with ``h = a ⊙ c`` as ``h ⊙ b``; ``a + b + c`` with ``s = a + b`` as
    ``s + c``: the operands of a node's form, all present, give way to the node."""
    own = _operands(m)
    have = Counter(own)
    for _, run, ref in _candidates(parts, type(m), have):
        if len(run) < len(own) and all(have[x] >= k for x, k in Counter(run).items()):
            return _join(m, _replaced(own, run, ref))
    return None


def _replaced(own: tuple[mx.M, ...], run: tuple[mx.M, ...], ref: mx.M) -> list[mx.M]:
    """``own`` without the operands of ``run`` (each once), ``ref`` where the first was."""
    left, out = list(run), list[mx.M]()
    for x in own:
        if x in left:
            if len(left) == len(run):
                out.append(ref)
            left.remove(x)
        else:
            out.append(x)
    return out


def _join(m: mx.Hadamard | mx.Add, xs: list[mx.M]) -> mx.M:
    if isinstance(m, mx.Add):
        return mx.add(*xs)
    return mx.scalar_product(xs) if m.is_scalar else mx.hadamard(*xs)


def _product(xs: Sequence[mx.M]) -> mx.M:
    out = xs[0]
    for x in xs[1:]:
        out = mx.matmul(out, x)
    return out


__all__ = ["Named", "expand", "reusable", "reuse", "through_quotients"]
