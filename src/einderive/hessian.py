"""Full Hessians ∂²L/∂x∂y, read off the Hessian-vector product.

ℛ{∂L/∂x} = ((∇²L) v)_x is linear in the direction's blocks ẏ.  Its chain - tangents ṫ
and ℛ{∂L/∂t}, each in index form as :mod:`~einderive.second` wrote it - is substituted
back until only the inputs' tangents ẏ_K are left, and the block ∂²L/∂x_I∂y_J is its
derivative along ẏ_J: each ẏ_K becomes δ_KJ (ẋ → 𝐈, the linear map v ↦ Hv read as a
matrix).  The deltas collapse as any adjoint's do: no sum over a dim is expanded and the
loss is never differentiated as a whole.

The matrix form of a block of two vectors (or scalars) is the recognizer's, with each
broadcast product of a matrix by a column (a row) read as the diagonal matrix it is:
Wᵀ (W ⊙ d) is Wᵀ diag(d) W.  A block of two matrices has four indices, no matrix form;
where each term factors into a part in the rows' indices and one in the columns', it is
the Kronecker product of those parts on the column-major vec: δ_ik (x xᵀ)_jl is
(x xᵀ) ⊗ 𝐈.
"""

from __future__ import annotations

from typing import Any

from sympy import Add, Indexed, KroneckerDelta, Mul, S, Sum, Symbol, expand, expand_mul

from . import matrix as mx
from .caches import register
from .graph import dim_values
from .ops import IN_RANGE, ElementwiseFunction, in_range
from .indexed import collapse, differentiate, key_of, substitute_all
from .reverse import IndexDerivation
from .reverse import _tidy as tidy
from .second import IndexSecond

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]


def derive_hessian(d: IndexDerivation, s: IndexSecond, x: str, y: str) -> tuple[Expr, Idx]:
    """∂²L/∂x_I∂y_J in index form, with the indices I + J (``s`` has the HVP along y)."""
    ctx = d.ctx
    e, idx = _inlined_rop(d, s, x)
    k = ctx.spare_indices(d.graph[y].shape, avoid=tuple(idx))
    full = tuple(idx) + tuple(k)
    h = collapse(_within_sums(d, differentiate(e, ctx.tangent(y, k)), k)) if e != 0 \
        else S.Zero
    return (tidy(h, d.namer, ctx, full) if h != 0 else S.Zero), full


def _within_sums(d: IndexDerivation, e: Expr, free: Idx) -> Expr:
    """``e`` with each term of a sum that pairs its index with a block's index by a delta
    (Σ_{k<K} δ(k, m) C_ik W_jk, the W piece of a concatenate read by ċ over K) kept to the
    sum's range, 𝟙[0 ≤ m < K]: m runs over the whole of y's axis (K + D), and the delta's
    collapse alone would read W_jm past its K columns.  A range the block index's dim
    fills is not written."""
    ctx, spec = d.ctx, d.graph.spec
    sizes = {s: ctx.size(ctx.index_dim[s]) for s in free if isinstance(s, Symbol)}
    table = {ctx.sizes[n]: v for n, v in dim_values(spec.dims).items() if n in ctx.sizes}

    def fits(n: Expr, lo: Expr, hi: Expr) -> bool:
        """Whether 0 … n − 1 lies in lo … hi by the dims' definitions (m over N in a sum
        over NM: N + M): then the range always holds, and is not written."""
        room = expand((hi + 1 - n).xreplace(table).xreplace(table))
        return bool(lo == 0 and room.is_nonnegative)

    def within(t: Expr, var: Any, lo: Expr, hi: Expr) -> Expr:
        ranges = set()
        # an index an inner sum binds must not leave it in a range put outside that sum
        # (a convolution's δ(n, r − l′) under Σ_l′); the conditions the term already keeps,
        # as (index − lo, length): 𝟙[l ≤ r < l + To] is 𝟙[0 ≤ r − l < To]
        inner = {v for x in t.atoms(Sum) for v, _, _ in x.limits}
        kept = {(expand(f.args[0] - f.args[1]), expand(f.args[2] - f.args[1]))
                for f in t.atoms(ElementwiseFunction) if f.spec.name == IN_RANGE}
        for delta in t.atoms(KroneckerDelta):
            if var not in delta.args:
                continue
            other = delta.args[1] if delta.args[0] == var else delta.args[0]
            if other.free_symbols & inner or \
                    (expand(other - lo), expand(hi + 1 - lo)) in kept:
                continue
            # a block index over another length than the sum's, or shifted (K + n); an index
            # map (m·T + n) takes exactly its sum's values
            if isinstance(other, Add) and any(other.has(s) for s in sizes) or \
                    other in sizes and not fits(sizes[other], lo, hi):
                ranges.add(in_range(other, lo, hi + 1))
        return Mul(t, *sorted(ranges, key=str)) if ranges else t

    def ranged(x: Sum) -> Sum:
        body, changed = x.function, False
        for var, lo, hi in x.limits:
            terms = Add.make_args(expand_mul(body))
            kept = [within(t, var, lo, hi) for t in terms]
            if any(a is not b for a, b in zip(kept, terms)):
                body, changed = Add(*kept), True
        return Sum(body, *x.limits) if changed else x  # untouched: no term was expanded
    if not sizes or not e.has(Sum):
        return e
    return e.replace(lambda x: isinstance(x, Sum), ranged)


def adjoints_written_out(d: IndexDerivation, e: Expr) -> Expr | None:
    """``e`` with every adjoint ∂L/∂t it reads written out as its own index form, down to
    the loss (each round one node back); None where it reads none, or where the result
    would be too large to be worth simplifying.  A Hessian block need not name the
    upstream adjoints as a backward step does: written out, the simplifier's rules meet
    them as they meet a closed form's (BCE on p: ∂L/∂p ⊙ σ'(u) is (1/B) (p − y))."""
    from .reverse import EXPAND_LIMIT
    from .reverse import _size as size
    ctx = d.ctx
    table = {ctx.adjoint_keys[n]: (a.expr, a.idx) for n, a in d.adjoints.items()}
    if not {key_of(a) for a in e.atoms(Indexed, Symbol)} & set(table):
        return None
    for _ in range(len(d.graph.tensors) + 1):
        if not {key_of(a) for a in e.atoms(Indexed, Symbol)} & set(table):
            return _one_sum(e)
        e = collapse(substitute_all(e, table, ctx))
        if size(e) > EXPAND_LIMIT:
            return None
    return None  # pragma: no cover - the chain ends at the loss


def _one_sum(e: Expr) -> Expr:
    """``e`` with the sums of a sum that run over the same indices made one sum: Σ_i a_i −
    Σ_i b_i is Σ_i (a_i − b_i), whose summand the simplifier then reads as one elementwise
    expression (and cancels within it)."""
    if not e.args:
        return e
    e = e.func(*[_one_sum(a) for a in e.args]) if not isinstance(e, Sum) else \
        Sum(_one_sum(e.function), *e.limits)
    if not e.is_Add:
        return e
    groups: dict[Any, list[Expr]] = {}
    rest = []
    for term in Add.make_args(e):
        coeff, sums = term.as_independent(Sum, as_Add=False)
        if isinstance(sums, Sum) and not coeff.free_symbols & set(sums.variables):
            groups.setdefault(sums.limits, []).append(coeff * sums.function)
        else:
            rest.append(term)
    merged = [Sum(Add(*parts), *limits) if len(parts) > 1 else Sum(parts[0], *limits)
              for limits, parts in groups.items()]
    return Add(*merged, *rest)


def written_back(d: IndexDerivation, s: IndexSecond, x: str) -> Expr:
    """ℛ{∂L/∂x} with every ℛ{·} it reads written out, down to the tangents (which every
    part of the Gauss-Newton split shares): a part's block, which reads no ℛ{·} of its
    own chain (those are not the product's, printed above)."""
    e, idx = s.rops[x]
    e = _inlined(d, s, e, tangents=False, x=x)
    return tidy(e, d.namer, d.ctx, idx) if e != 0 else S.Zero


# ℛ{∂L/∂x} written out is the same for every block ∂²L/∂x∂y of the row x: it is written
# once per x (it was once per block, n times the work for n inputs: most of lstm_cell's
# --hessian).  Only the last product's rows are kept, so the memory is one Hessian's.
_ROWS: dict[str, Any] = {"of": None, "rows": {}}


@register
def _forget_rows() -> None:
    _ROWS["of"], _ROWS["rows"] = None, {}


def _inlined_rop(d: IndexDerivation, s: IndexSecond, x: str) -> tuple[Expr, Idx]:
    """ℛ{∂L/∂x} of ``s`` in index form written back to the inputs' tangents, and its indices."""
    if _ROWS["of"] is not s:
        _ROWS["of"], _ROWS["rows"] = s, {}
    rows: dict[str, tuple[Expr, Idx]] = _ROWS["rows"]
    if x not in rows:
        e, idx = s.rops.get(x, (S.Zero, d.ctx.canon(d.graph[x].shape)))
        rows[x] = (_inlined(d, s, e, x=x), idx)
    return rows[x]


# Nodes past which a block written out down to the inputs' tangents is not printed: it
# grows with the graph's depth, exponentially where a residual path meets its branch
# (ṙ₂ = ṙ₁ + σ'(…) ⊙ (W ṙ₁) reads ṙ₁ twice; a 30-node residual net doubles per round and
# ran for many minutes).  The largest over every shipped and test spec is 3.7k (LSTM cell).
BLOCK_LIMIT = 20_000


class BlockTooLarge(Exception):
    """A Hessian block whose index form would pass :data:`BLOCK_LIMIT` nodes; ``x`` is
    its row's input (the product (∇²L) v, node by node, stays small: ``--hvp``)."""

    def __init__(self, x: str):
        super().__init__(x)
        self.x = x


def _inlined(d: IndexDerivation, s: IndexSecond, e: Expr, tangents: bool = True,
             x: str = "") -> Expr:
    """``e`` with every tangent and ℛ{·} of a tensor written out as its definition, down
    to the inputs' tangents: each substitution goes one node back, so the graph's depth
    bounds the rounds.  Without ``tangents``, the ℛ{·} alone.  Past :data:`BLOCK_LIMIT`
    nodes, :class:`BlockTooLarge` for ``x``'s row (counted after each round, so the
    last round builds at most a few times the limit)."""
    from .reverse import _size as size
    ctx = d.ctx
    table: dict[Any, tuple[Expr, Idx]] = {}
    for n, (t, idx) in s.tangents.items():
        if n not in s.along and tangents:
            table[key_of(ctx.tangent(n, idx))] = (t, idx)
    for n, (r, idx) in s.rops.items():
        table[key_of(ctx.rop(n, idx))] = (r, idx)
    for _ in range(2 * len(d.graph.nodes) + 2):
        if not {key_of(a) for a in e.atoms(Indexed, Symbol)} & set(table):
            return e
        e = collapse(substitute_all(e, table, ctx))
        if size(e, BLOCK_LIMIT) > BLOCK_LIMIT:
            raise BlockTooLarge(x)
    raise ValueError("the Hessian-vector chain does not end")  # pragma: no cover


# -- matrix forms -------------------------------------------------------------------------


def diagonal(m: mx.M) -> mx.M:
    """``m`` with every product of a matrix by broadcast columns and rows written as
    diagonal matrices: A ⊙ c ⊙ r (c a column, r a row) is diag(c) A diag(r)."""
    kids = [diagonal(c) for c in m.children()]
    if kids and any(a is not b for a, b in zip(kids, m.children())):
        m = _rebuilt(m, kids)
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.Diag):
        return m.x  # a diagonal matrix is symmetric
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.MatMul) and \
            any(isinstance(f, mx.Diag) for f in m.x.children()):
        return diagonal(mx.MatMul(mx.transpose(m.x.b), mx.transpose(m.x.a), m.shape))
    if not isinstance(m, mx.Hadamard) or len(m.shape) != 2:
        return m
    full = [f for f in m.factors if len(f.shape) == 2 and 1 not in f.shape]
    if len(full) != 1:
        return m
    a = full[0]
    cols = [f for f in m.factors if f is not a and len(f.shape) == 2 and f.shape[1] == 1]
    rows = [f for f in m.factors if f is not a and len(f.shape) == 2 and f.shape[0] == 1]
    if len(cols) + len(rows) != len(m.factors) - 1 or not cols + rows:
        return m
    out = a
    if cols:
        out = _diag_times(mx.hadamard(*cols), a)
    if rows:
        r = mx.transpose(mx.hadamard(*rows))
        out = mx.MatMul(out, mx.Diag(r, (r.shape[0], r.shape[0])), a.shape)
    return out


def numbers_spread(m: mx.M) -> mx.M:
    """``m`` with every number among the terms of a sum with 𝐈 written as the matrix of it
    (:func:`_spread`); done last, on the simplified form (the simplifier would fold 𝟏 𝟏ᵀ)."""
    kids = [numbers_spread(c) for c in m.children()]
    if kids and any(a is not b for a, b in zip(kids, m.children())):
        m = _rebuilt(m, kids)
    if isinstance(m, mx.Add) and len(m.shape) == 2 and any(map(_identity, m.terms)):
        return mx.Add(tuple(_spread(t, m.shape) for t in m.terms), m.shape)
    return m


def _identity(t: mx.M) -> bool:
    """Whether ``t`` is 𝐈 or a multiple of it (3 𝐈, c·𝐈)."""
    while isinstance(t, mx.Scale):
        t = t.x
    return isinstance(t, mx.Eye)


def _spread(t: mx.M, shape: tuple[Any, ...]) -> mx.M:
    """A number among the terms of a sum with 𝐈 as the matrix of it, c 𝟏 𝟏ᵀ: 𝐈 − 1/N, which
    NumPy broadcasts, reads in print as (1 − 1/N) 𝐈 (the centring matrix is 𝐈 − (1/N) 𝟏 𝟏ᵀ)."""
    if t.shape != ():
        return t
    if isinstance(t, mx.Scale):
        return mx.Scale(t.coeff, _spread(t.x, shape), shape)
    rows, cols = shape
    ones = mx.MatMul(mx.Ones((rows, 1)), mx.Transpose(mx.Ones((cols, 1)), (1, cols)), shape)
    return mx.scale(t, ones)  # (1 is 𝟏 𝟏ᵀ itself)


def _diag_times(c: mx.M, a: mx.M) -> mx.M:
    """diag(c) a; over a sum holding a broadcast row r, diag(c) (𝐈 − r) is diag(c) − c r
    (the broadcast row is 𝟏 r, and diag(c) 𝟏 is c)."""
    n = c.shape[0]
    if not isinstance(a, mx.Add) or not any(_is_row(t) for t in a.terms):
        return mx.MatMul(mx.Diag(c, (n, n)), a, a.shape)
    return mx.add(*[_diag_term(c, t, a.shape) for t in a.terms])


def _diag_term(c: mx.M, t: mx.M, shape: tuple[Any, ...]) -> mx.M:
    if isinstance(t, mx.Scale):
        return mx.scale(t.coeff, _diag_term(c, t.x, shape))
    if isinstance(t, mx.Eye):
        return mx.Diag(c, shape)
    if _is_row(t):
        return mx.MatMul(c, t, shape)
    return mx.MatMul(mx.Diag(c, (c.shape[0], c.shape[0])), t, shape)


def _is_row(t: mx.M) -> bool:
    while isinstance(t, mx.Scale):
        t = t.x
    return len(t.shape) == 2 and t.shape[0] == 1 and t.shape[1] != 1


def _rebuilt(m: mx.M, kids: list[mx.M]) -> mx.M:
    """``m`` with new children, through the constructors that keep its invariants."""
    if isinstance(m, mx.Hadamard):
        return mx.Hadamard(tuple(kids), m.shape)
    if isinstance(m, mx.MatMul):
        return mx.MatMul(kids[0], kids[1], m.shape)
    if isinstance(m, mx.Transpose):
        return mx.Transpose(kids[0], m.shape)
    if isinstance(m, mx.Add):
        return mx.Add(tuple(kids), m.shape)
    if isinstance(m, mx.Scale):
        return mx.Scale(kids[0], kids[1], m.shape)
    return m


def kronecker_terms(h: Expr, full: Idx) -> list[tuple[Expr, Expr]] | None:
    """A four-index block H_ijkl as Σ (B_ik, A_jl) pairs - each term a product of a factor
    in (i, k) alone and one in (j, l) alone - so that H = Σ A ⊗ B on the column-major vec
    (vec W stacks W's columns: W_ij is entry i + M j, the column index the slower one);
    None where a term does not split so."""
    i, j, k, l = full
    out: list[tuple[Expr, Expr]] = []
    for term in Add.make_args(h):
        left, right = S.One, S.One
        for f in Mul.make_args(term):
            used = f.free_symbols & {i, j, k, l}
            if used <= {i, k}:
                left = left * f
            elif used <= {j, l}:
                right = right * f
            else:
                return None
        # a part that does not read both its indices is a broadcast, not a matrix: a
        # Kronecker factor must be one
        if not ({i, k} <= left.free_symbols and {j, l} <= right.free_symbols):
            return None
        out.append((left, right))
    return out

