"""Matrix form: a small expression tree that printers render and code generators compile.

Shapes are the reader's: vectors are columns ``(N, 1)``, a row is a
transposed column, a scalar is ``()``.  Elementwise products, quotients and
sums broadcast a column across columns and a row across rows, as NumPy does.

The smart constructors keep forms canonical: transposes are pushed down to
the leaves (``(A B)ᵀ`` becomes ``Bᵀ Aᵀ``), products are flattened, factors of
an elementwise product are put in a fixed order, and ones and zeros vanish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sympy

from .ops import AXIS_OPS, POW_HALF, POWER, Call
from .record import Record, field, replace
from .indexed import LETTERS
from .kinds import ReduceKind, RefKind
from .shapes import Shape, broadcast_all


class M(Record):
    """Base of every matrix-form node."""

    if TYPE_CHECKING:  # every node has these fields (declared per class, after its own)
        @property
        def shape(self) -> Shape: ...

        @property
        def src(self) -> Any: ...  # the SymPy expression the node was read from

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    def children(self) -> tuple[M, ...]:
        return ()


def _src() -> Any:
    return field(default=None, compare=False, repr=False)


class Ref(M):
    """A tensor, an anonymous intermediate or an adjoint (``kind``).

    An anonymous intermediate prints as its own matrix form, ``display``.  A tensor of
    three or more axes read per batch element has the matrix ``shape`` of one element
    (its last two axes) and its leading axes in ``batch``: a form with such leaves is a
    batched form (see :func:`batch_of`)."""

    name: str
    kind: RefKind
    shape: Shape
    src: Any = _src()
    display: M | None = field(default=None, compare=False, repr=False)
    batch: Shape = ()
    at: tuple[int, ...] = ()  # where the batch axes stand in the spec shape; () leading
    # the positions of ``batch`` the tensor has no axis for, the same along them (V_bg of V:
    # [B, T, G, Dh] in the element b, g, r of grouped-query heads; ``at`` then holds where
    # the others stand)
    missing: tuple[int, ...] = ()


class Const(M):
    """A scalar constant: a SymPy number or expression in the dims' sizes."""

    value: Any  # a SymPy number or expression
    shape: Shape = ()
    src: Any = _src()


class Ones(M):
    shape: Shape
    src: Any = _src()


class Eye(M):
    dim: str
    shape: Shape
    src: Any = _src()


class OneHot(M):
    """onehot(tokens): row t is the unit vector of tokens_t, a (T, V) matrix read from an
    integer input (``name``) whose values index the dim ``dim``; the index form's
    δ(tokens_t, v)."""

    name: str
    dim: str
    shape: Shape
    src: Any = _src()
    # read per batch element: onehot(tok_b) of tok: [B, T], the (T, V) matrix of row b; the
    # leading axes of ``name`` are this batch (as Ref.batch), its last the rows
    batch: Shape = ()


class Transpose(M):
    x: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class MatMul(M):
    a: M
    b: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.a, self.b)


class Hadamard(M):
    """An elementwise product; a factor ``Pow(x, -1)`` prints as ``⊘ x``."""

    factors: tuple[M, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return self.factors


class Scale(M):
    coeff: M  # a scalar
    x: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.coeff, self.x)


class Add(M):
    terms: tuple[M, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return self.terms


class Pow(M):
    """Elementwise power with a rational exponent."""

    x: M
    exp: Any  # a SymPy rational
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Fn(M):
    """An elementwise scalar function of the op table, applied to a tensor (``x``) and, for a
    function of several arguments, to the ``rest`` (tensors, then the op's number params)."""

    name: str
    x: M
    shape: Shape
    src: Any = _src()
    rest: tuple[Any, ...] = ()

    @property
    def args(self) -> tuple[Any, ...]:
        return (self.x,) + tuple(self.rest)

    def children(self) -> tuple[M, ...]:
        return tuple(a for a in self.args if isinstance(a, M))


class AxisFn(M):
    """``softmax(S)`` or ``logsumexp(S)`` along ``axis`` of a tensor of shape ``arg_shape``
    (the spec's shape, literal 1s kept: whether the printing names the axis depends on them)."""

    head: str
    x: M
    axis: int
    arg_shape: Shape
    shape: Shape
    src: Any = _src()

    @property
    def ndim(self) -> int:
        return len(self.arg_shape)

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Reduce(M):
    """A row sum (X 𝟏, a column), a column sum (Xᵀ 𝟏, a column) or the sum of all (a scalar)."""

    kind: ReduceKind
    x: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Diag(M):
    x: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Diagonal(M):
    """The diagonal of a square matrix, as a column (``A_ii``); its total is the trace."""

    x: M
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Einsum(M):
    """The honest fallback: ``einsum(subscripts, *operands)``; vector operands are 1-d."""

    subscripts: str
    operands: tuple[M, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return self.operands


class Reshape(M):
    """``x`` in the spec shape ``dims`` (dims and 1s, row-major as NumPy's reshape); ``shape`` is
    the reader's (a vector a column).  What an element read at an index map is (ops.Flat)."""

    x: M
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Slice(M):
    """``x[:, lo:hi]``: the elements lo .. hi − 1 of spec axis ``axis`` of ``x`` (``lo``,
    ``hi`` SymPy expressions of the dims' sizes); ``dims`` its spec shape.  What an element
    read at a shifted index is (ops.Shift)."""

    x: M
    axis: int
    lo: Any
    hi: Any
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Pad(M):
    """``x`` placed at lo .. hi − 1 of spec axis ``axis`` of zeros of spec shape ``dims``:
    a slice's adjoint, ∂L/∂y_{i, s − lo} 𝟙[lo ≤ s < hi]."""

    x: M
    axis: int
    lo: Any
    hi: Any
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class BatchSum(M):
    """``Σ_b x_b``: the matrices of a batched form ``x`` (``batch_of(x) == dims``) added over
    its batch, a plain matrix of ``x``'s shape.  ∂L/∂W of Y = X W with X of three axes is
    Σ_b X_bᵀ ∂L/∂Y_b: a sum over the batch axis of each element's matrix product, as a
    paper writes it (no einsum).  ``names`` are the batch indices' letters, printed as the
    elements' subscripts inside the sum (and only there)."""

    x: M
    dims: Shape
    names: tuple[str, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Take(M):
    """``x[:, at]``: the position ``at`` of spec axis ``axis`` of ``x``, that axis dropped;
    ``dims`` its spec shape.  What an element read at a literal position is (∂L/∂S_{i, 0}
    of a stacked piece: ops' stack)."""

    x: M
    axis: int
    at: int
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Permute(M):
    """``permute(x, axes)``: the axes of a tensor of three or more axes reordered, as NumPy's
    transpose with ``axes`` reorders them (axis p of the result is axis ``axes[p]`` of ``x``); ``dims``
    its spec shape.  What a transpose with ``axes`` is, and its adjoint (the inverse
    permutation), where ᵀ (the last two axes of each element swapped) cannot say it."""

    x: M
    axes: tuple[int, ...]
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class Each(M):
    """``Q_h``, element by element: for each element of the batch ``dims`` (letters
    ``names``), the result's element is the batched form ``x`` whose leaves are the elements
    of their tensors.  The batch axes may stand anywhere in a tensor (``Ref.at``) and in the
    result (``at``, of the spec shape ``spec``), and an element may be a vector (a row of
    s: [B, T], a column): multi-head attention with the heads on the middle axis prints
    C_h = Q_h K_hᵀ, ∂L/∂Q_h = ∂L/∂C_h K_h.  Printed with each element subscripted, the left
    side too; a whole tensor (no batch of its own)."""

    x: M
    dims: Shape
    names: tuple[str, ...]
    at: tuple[int, ...]
    spec: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


class SumAxes(M):
    """``sum(x, axis=(0, 2))``: the sums over the spec axes ``axes`` of a tensor of three or
    more axes, as NumPy's sum and the spec's ``sum`` say; with ``keep`` each summed
    axis stays as a literal 1 (``keepdims=True``), so the sums broadcast back against the
    tensor (batch norm's colsum-like sums over a batch and a sequence axis)."""

    x: M
    axes: tuple[int, ...]
    keep: bool
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return (self.x,)


def batch_sum(x: M, dims: Shape, names: tuple[str, ...]) -> M:
    return BatchSum(x, tuple(dims), tuple(names), x.shape)


class Stack(M):
    """The pieces ``xs`` (each of spec shape ``dims`` without ``axis``) side by side along a
    new spec axis ``axis``; ``dims`` its spec shape: Σ_p δ(s, p) x_p."""

    xs: tuple[M, ...]
    axis: int
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    def children(self) -> tuple[M, ...]:
        return self.xs


class Conv(M):
    """A convolution of the spatial axes (the last ``nsp``) of two tensors, in three ``kind``s
    (ops.CONV_VALID, CONV_CORR, CONV_FULL), each a matrix product over its first two axes
    whose scalar product is one of signals:
    valid ``head(X, W[, bias])``: Σ_{c,k} W_{o,c,k} X_{b,c,t+k} (+ bias_o), the forward;
    corr ``G ⋆ X``: Σ_{b,t} G_{b,o,t} X_{b,c,t+k}, the kernel's adjoint;
    full ``G ∗ W``: Σ_{o,k} G_{b,o,s−k} W_{o,c,k} (G zero outside), the input's adjoint.
    ``dims`` is the result's spec shape."""

    kind: str
    head: str  # the op's name (conv1d), printed for the forward
    a: M
    b: M
    bias: M | None
    dims: tuple[Any, ...]
    shape: Shape
    src: Any = _src()

    @property
    def nsp(self) -> int:
        return len(self.dims) - 2

    def children(self) -> tuple[M, ...]:
        return (self.a, self.b) + ((self.bias,) if self.bias is not None else ())

    def rebuilt(self, kids: tuple[M, ...]) -> Conv:
        return Conv(self.kind, self.head, kids[0], kids[1], kids[2] if len(kids) > 2 else None,
                    self.dims, self.shape, self.src)


# ---------------------------------------------------------------------------
# Shapes


def rows(x: M) -> Any:
    return x.shape[0] if x.shape else 1


def cols(x: M) -> Any:
    return x.shape[1] if len(x.shape) > 1 else 1


def broadcast_shape(shapes: list[Shape]) -> Shape:
    """NumPy's broadcasting (shapes.broadcast_all): a column across columns, a row across rows."""
    return broadcast_all(shapes)


def with_src(x: M, src: Any) -> M:
    return x if src is None or x.src is not None else replace(x, src=src)


# ---------------------------------------------------------------------------
# Smart constructors

ONE = Const(sympy.S.One)


def is_one(x: M) -> bool:
    return isinstance(x, Const) and x.value == 1


def is_zero(x: M) -> bool:
    return isinstance(x, Const) and x.value == 0


def transpose(x: M) -> M:
    """``xᵀ`` with the transpose pushed down to the leaves."""
    if x.is_scalar:
        return x
    if len(x.shape) != 2:
        n = len(x.shape)
        letters = LETTERS[:n]
        return Einsum(f"{letters}->{letters[::-1]}", (x,), tuple(reversed(x.shape)), x.src)
    src = x.src
    if isinstance(x, Transpose):
        return with_src(x.x, src)
    if isinstance(x, BatchSum):  # (Σ_b A_b)ᵀ = Σ_b A_bᵀ: each element's matrix transposed
        return BatchSum(transpose(x.x), x.dims, x.names, tuple(reversed(x.shape)), src)
    if isinstance(x, Ones):
        return Ones(tuple(reversed(x.shape)), src)
    if isinstance(x, (Eye, Diag)):
        return x
    if isinstance(x, MatMul):
        return with_src(matmul(transpose(x.b), transpose(x.a)), src)
    if isinstance(x, Scale):
        return Scale(x.coeff, transpose(x.x), tuple(reversed(x.shape)), src)
    if isinstance(x, Pow) and x.exp < 0:
        # a divisor's transpose is the transposed divisor: ⊘ √(v + ε)ᵀ, not ⊙ (1 ⊘ √(v + ε))ᵀ
        return Pow(transpose(x.x), x.exp, tuple(reversed(x.shape)), src)
    if isinstance(x, (Hadamard, Add, Pow, Fn)):
        # (A ⊙ B − C)ᵀ stays whole unless pushing the transpose in removes transposes
        pushed = push_transpose(x)
        if transposes(pushed) < transposes(x) + 1 and \
                not _turns_preactivation(x, pushed):
            return with_src(pushed, src)
    if isinstance(x, Einsum) and len(x.subscripts.split("->")[1]) == 2:
        lhs, out = x.subscripts.split("->")
        return Einsum(f"{lhs}->{out[::-1]}", x.operands, tuple(reversed(x.shape)), src)
    # a vector einsum stays a column: its row is written with ᵀ, as any vector's is
    return Transpose(x, tuple(reversed(x.shape)), src)


def _turns_preactivation(x: M, pushed: M) -> bool:
    """Whether pushing a transpose into ``x`` (giving ``pushed``) would only turn a function
    of a product (σ(X Wᵀ + bᵀ) as the line wrote it, σ(X W)) into the transposed
    pre-activation (σ(W Xᵀ + b), σ(Wᵀ Xᵀ)): that transpose is written outside instead,
    (δ ⊙ σ'(X Wᵀ + bᵀ))ᵀ, σ(X W)ᵀ.  A pre-activation the push makes plainer (𝟙[Wᵀ Xᵀ > 0]
    to 𝟙[X W > 0]) is pushed into, and so is one it leaves plain where the push takes a
    transpose off a function of a product ((V ⊙ (1 − tanh(X A)ᵀ^∘2))ᵀ is
    Vᵀ ⊙ (1 − tanh(X A)^∘2)), never where it only moves one onto another."""
    before = _preactivation_transposes(x)
    after = _preactivation_transposes(pushed) or 0
    if before is None or after < before:
        return False
    return after > 0 or transposed_functions(pushed) >= transposed_functions(x)


def transposed_functions(x: M) -> int:
    """The transposes in ``x`` of forms holding a function of a product (tanh(X A)ᵀ)."""
    return sum(isinstance(n, Transpose) and any(
        isinstance(f, Fn) and any(isinstance(k, MatMul) for a in f.children() for k in walk(a))
        for f in walk(n.x)) for n in walk(x))


def adds_preactivation_transposes(x: M, turned: M) -> bool:
    """Whether turning ``x`` round (``turned``, its transpose carried inside) would leave more
    transposed matrices inside its functions of products: σ(X W)ᵀ is never σ(Wᵀ Xᵀ).  A turn
    that keeps their number (σ(W Xᵀ + b)ᵀ to σ(X Wᵀ + bᵀ)) is the reader's to choose."""
    before = _preactivation_transposes(x)
    return before is not None and (_preactivation_transposes(turned) or 0) > before


def _preactivation_transposes(x: M) -> int | None:
    """The transposes of matrices (a bias row bᵀ is how a sum broadcasts, not counted) inside
    the functions of products in ``x``; None if there is no such function."""
    fns = [n for n in walk(x) if isinstance(n, Fn) and
           any(isinstance(k, MatMul) for a in n.children() for k in walk(a))]
    if not fns:
        return None
    return sum(transposes(f, matrices=True) for f in fns)


def push_transpose(x: M, inner: Callable[[M], M] | None = None) -> M:
    """``xᵀ`` of a sum, elementwise product, power or elementwise function with the
    transpose carried one level in, each part transposed by ``inner`` (:func:`transpose`
    unless given)."""
    part = transpose if inner is None else inner
    shape = tuple(reversed(x.shape))
    if isinstance(x, Hadamard):
        return hadamard(*[part(f) for f in x.factors])
    if isinstance(x, Add):
        return Add(tuple(part(t) for t in x.terms), shape, x.src)
    if isinstance(x, Pow):
        return Pow(part(x.x), x.exp, shape, x.src)
    assert isinstance(x, Fn)
    return Fn(x.name, part(x.x), shape, x.src, tuple(part(r) for r in x.rest))


def pushed_transpose(x: M) -> M:
    """``xᵀ`` with the transpose pushed through every sum, elementwise product, power and
    elementwise function, down to the products and leaves (:func:`transpose` pushes it only
    where that removes transposes): (√(1 + s + sᵀ − 2 Y Yᵀ))ᵀ is √(1 + sᵀ + s − 2 Y Yᵀ), as a
    backward form that reads the node's element (j, i) writes it."""
    if len(x.shape) != 2 or batch_of(x) or not isinstance(x, (Add, Hadamard, Pow, Fn)):
        return transpose(x)
    return push_transpose(x, pushed_transpose)


def transposes(x: M, matrices: bool = False) -> int:
    """The transposes in ``x``; with ``matrices`` only those of matrices (a vector's ᵀ, a
    row, a bias row bᵀ, is how a sum broadcasts: not counted)."""
    return sum(isinstance(n, Transpose) and not (matrices and 1 in n.x.shape) for n in walk(x))


def matmul(a: M, b: M) -> M:
    if a.is_scalar or b.is_scalar:
        return scale(a, b) if a.is_scalar else scale(b, a)
    if isinstance(a, Scale):
        return scale(a.coeff, matmul(a.x, b))
    if isinstance(b, Scale):
        return scale(b.coeff, matmul(a, b.x))
    if isinstance(a, Eye):
        return b
    if isinstance(b, Eye):
        return a
    shape: Shape = (rows(a), cols(b))
    if shape == (1, 1):
        shape = ()
    return MatMul(a, b, shape)


# Where a factor goes in an elementwise product, first to last: a name reads before what is
# computed from names, and a division (⊘ x) ends the product.
RANK_ADJOINT = 0  # ∂L/∂y
RANK_TENSOR = 1  # a tensor by its name
RANK_FUNCTION = 2  # σ(z), softmax(S)
RANK_POWER = 3  # x², √x
RANK_REDUCTION = 4  # a sum, a product, a diagonal
RANK_OTHER = 5
RANK_SUM = 6  # (a − b), in brackets
RANK_DIVISOR = 9  # ⊘ x


def _rank(x: M) -> int:
    """Where a factor goes in an elementwise product: names first, sums last."""
    base = x.x if isinstance(x, Transpose) else x
    if isinstance(x, Pow) and x.exp < 0:
        return RANK_DIVISOR
    if isinstance(base, Ref):
        return RANK_ADJOINT if base.kind == RefKind.ADJOINT else RANK_TENSOR
    if isinstance(base, (AxisFn, Fn)):
        return RANK_FUNCTION
    if isinstance(base, Pow):
        return RANK_POWER
    if isinstance(base, (Reduce, MatMul, Diag)):
        return RANK_REDUCTION
    if isinstance(base, Add):
        return RANK_SUM
    return RANK_OTHER


def hadamard(*xs: M) -> M:
    """Elementwise product with broadcasting; scalars become a coefficient."""
    coeff: list[M] = []
    factors: list[M] = []
    for x in xs:
        while isinstance(x, Scale):  # (1/10)·((1/d)·v): scale keeps a constant in front
            coeff.append(x.coeff)
            x = x.x
        if x.is_scalar:
            coeff.append(x)
        elif isinstance(x, Hadamard):
            factors.extend(x.factors)
        elif isinstance(x, Ones):
            factors.append(x)
        else:
            factors.append(x)
    shape = broadcast_shape([f.shape for f in factors])
    real = [f for f in factors if not isinstance(f, Ones)]
    if len(real) < len(factors) and broadcast_shape([f.shape for f in real]) == shape and real:
        factors = real
    factors = _merge_powers(factors)
    if shape != broadcast_shape([f.shape for f in factors]):
        # x ⊙ s ⊘ x with s a column broadcast across x's columns: the product keeps x's
        # shape (s 𝟏ᵀ), which a matrix product of it reads (a cancelled factor is no reshape)
        factors.append(Ones(shape))
    factors.sort(key=_rank)
    if not factors:
        body: M = ONE
    elif len(factors) == 1:
        body = factors[0]
    else:
        body = _diag_of(factors) or Hadamard(tuple(factors), shape)
    return scale(scalar_product(coeff), body) if coeff else body


def _diag_of(factors: list[M]) -> M | None:
    """``v ⊙ 𝐈`` (v a column or a row, broadcast) is the diagonal matrix diag(v); so is
    ``u ⊙ 𝐈 ⊙ v``, diag(u ⊙ v)."""
    eyes = [f for f in factors if isinstance(f, Eye)]
    vs = [f for f in factors if not isinstance(f, Eye)]
    if len(eyes) != 1 or not vs or any(len(v.shape) != 2 or 1 not in v.shape for v in vs):
        return None
    cols = [v if v.shape[1] == 1 else transpose(v) for v in vs]
    if any(c.shape[0] != eyes[0].shape[0] for c in cols):
        return None
    return Diag(cols[0] if len(cols) == 1 else hadamard(*cols), eyes[0].shape)


def _merge_powers(factors: list[M]) -> list[M]:
    """``x ⊙ x`` stays as written; ``x ⊙ x^(-1)`` cancels."""
    out: list[M] = []
    for f in factors:
        base, e = (f.x, f.exp) if isinstance(f, Pow) else (f, 1)
        hit = next((n for n, g in enumerate(out)
                    if (g.x if isinstance(g, Pow) else g) == base), None)
        if hit is not None and e == -_exponent(out[hit]):
            out.pop(hit)
            continue
        out.append(f)
    return out


def _exponent(f: M) -> Any:
    return f.exp if isinstance(f, Pow) else 1


def scalar_product(xs: list[M]) -> M:
    """The product of scalar nodes: constants folded into one coefficient in front."""
    value = sympy.S.One
    others: list[M] = []

    def take(x: M) -> None:
        nonlocal value
        if isinstance(x, Const):
            value *= x.value
        elif isinstance(x, Scale):
            take(x.coeff)
            take(x.x)
        elif isinstance(x, Hadamard) and x.is_scalar:
            for f in x.factors:
                take(f)
        else:
            others.append(x)
    for x in xs:
        take(x)
    if value == 0:
        return Const(sympy.S.Zero)
    if not others:
        return Const(value)
    if any(not x.is_scalar for x in others):  # a 1×1 of each element: see scale()
        return hadamard(*([] if value == 1 else [Const(value)]), *others)
    body = others[0] if len(others) == 1 else Hadamard(tuple(others), ())
    return body if value == 1 else Scale(Const(value), body, ())


def scale(c: M, x: M) -> M:
    """``c x`` for a scalar ``c``: constants in front, folded.  A 1×1 matrix of each batch
    element (r_b of r: [B, 1, 1]) is no scalar: ``r·X`` would read as one number times the
    whole of X, so it is an elementwise product, which broadcasts as NumPy does (X ⊘ r)."""
    if not c.is_scalar:
        return hadamard(c, x)
    if is_one(c):
        return x
    if is_zero(c) or is_zero(x):
        return Const(sympy.S.Zero)
    if x.is_scalar:
        return scalar_product([c, x])
    if isinstance(x, Scale):
        return scale(scalar_product([c, x.coeff]), x.x)
    if isinstance(c, Scale):  # a constant times a scalar expression: keep the constant in front
        return Scale(c.coeff, scale(c.x, x), x.shape)
    return Scale(c, x, x.shape)


def split_sign(m: M) -> tuple[bool, M]:
    """(True, -m) when ``m`` has a negative constant in front, else (False, m)."""
    if isinstance(m, Scale) and isinstance(m.coeff, Const) and \
            m.coeff.value.could_extract_minus_sign():
        return True, scale(Const(-m.coeff.value), m.x)
    if isinstance(m, Const) and m.value.could_extract_minus_sign():
        return True, Const(-m.value)
    return False, m


def neg(x: M) -> M:
    return scale(Const(sympy.S.NegativeOne), x)


def add(*xs: M) -> M:
    terms: list[M] = []
    for x in xs:
        if isinstance(x, Add):
            terms.extend(x.terms)
        elif not is_zero(x):
            terms.append(x)
    if not terms:
        return Const(sympy.S.Zero)
    if len(terms) == 1:
        return terms[0]
    return Add(tuple(terms), broadcast_shape([t.shape for t in terms]))


def broadcast_to(x: M, shape: Shape) -> M:
    """``x`` as a tensor of ``shape`` it broadcasts to: a row as ``𝟏 wᵀ``, a column as
    ``s 𝟏ᵀ``, else an elementwise product with ones.  A rewrite that leaves a smaller shape
    (wᵀ ⊙ (1 + 1 ⊘ X) − wᵀ ⊘ X is wᵀ, of X's shape) must keep the shape it stood for: a
    product or a reshape reads it.  Zero stays zero."""
    if x.shape == shape or is_zero(x) or batch_of(x) or len(shape) != 2:
        return x
    if x.is_scalar:
        return scale(x, Ones(shape))
    if x.shape == (1, shape[1]):
        return matmul(Ones((shape[0], 1)), x)
    if x.shape == (shape[0], 1):
        return matmul(x, Ones((1, shape[1])))
    return x


def power(x: M, e: Any) -> M:
    e = sympy.Integer(e) if isinstance(e, int) else e  # (an exponent is a SymPy rational)
    if e == 1:
        return x
    if e == 0:
        return ONE
    if isinstance(x, Pow) and _powers_merge(x.exp, e):
        return power(x.x, x.exp * e)
    if isinstance(x, Ones):  # 𝟏 ⊘ 𝟏 would print; 𝟏 to any power is 𝟏
        return x
    if isinstance(x, Const) and (x.value ** e).is_Rational:  # (1/1), (1/2)⁻¹: fold
        return Const(x.value ** e)
    return Pow(x, e, x.shape)


def _powers_merge(a: Any, b: Any) -> bool:
    """Whether (xᵃ)ᵇ is x^(a b) for every real x where xᵃ is defined: for an integer b, or
    a power a that is already defined only where x ≥ 0 (a fraction); never (x²)^(1/2),
    which is |x|, nor (x³)^(1/3), which NumPy leaves undefined below 0 where x is not."""
    return bool(b == int(b) or a != int(a))


def fn(name: str, x: M, *rest: M) -> M:
    if name == POW_HALF and not rest:
        base = _squared(x.x) if isinstance(x, Reduce) and x.kind == ReduceKind.SUM else None
        if base is not None:  # √sum(X ⊙ X) is ‖X‖
            return Norm(base)
    return Fn(name, x, broadcast_shape([x.shape] + [r.shape for r in rest]), rest=tuple(rest))


def _squared(x: M) -> M | None:
    """``y`` when ``x`` is ``y ⊙ y`` (or ``y∘²``), else None."""
    if isinstance(x, Pow) and x.exp == 2:
        return x.x
    if isinstance(x, Hadamard) and len(x.factors) == 2 and x.factors[0] == x.factors[1]:
        return x.factors[0]
    return None


def reduce(kind: ReduceKind, x: M) -> M:
    if isinstance(x, Scale):  # rowsum(2 Z) is 2 rowsum(Z); colsum(sum(v)·X) sum(v)·colsum(X)
        return scale(x.coeff, reduce(kind, x.x))
    if kind == ReduceKind.SUM and isinstance(x, Transpose):  # sum(mᵀ) is sum(m)
        return reduce(kind, x.x)
    if kind == ReduceKind.SUM:
        return Reduce(ReduceKind.SUM, x, ())
    if kind == ReduceKind.ROWSUM:
        return Reduce(ReduceKind.ROWSUM, x, (rows(x), 1))
    return Reduce(ReduceKind.COLSUM, x, (cols(x), 1))


def walk(x: M) -> Iterator[M]:
    """Every node, in the order the printers show them (left to right)."""
    yield x
    for c in x.children():
        yield from walk(c)


def call_of(x: M) -> Call:
    """A node as the op of the table it is: an elementwise power, or a scalar function's
    call; None for anything else (SymPy's reading is :func:`einderive.ops.call_of`)."""
    if isinstance(x, Pow):
        return POWER, (x.x, x.exp)
    if isinstance(x, Fn):
        return x.name, x.args
    return None


def leaves(x: M) -> list[Ref]:
    return [n for n in walk(x) if isinstance(n, Ref)]


def element_axis(m: AxisFn) -> tuple[int, Shape]:
    """The axis ``m`` acts along and the spec shape it is of, as its printing names them: of a
    function of one batch element's matrix (``max(X_b, axis=1)`` of X: [B, C, S], the axis
    ``m.axis`` 2 of the whole tensor), counted in the element, its batch axes gone (a reader
    sees a C×S matrix, which has no axis 2); else the whole tensor's.  The code reads whole
    tensors and keeps ``m.axis``."""
    x, nd = m.x, len(m.arg_shape)
    if not (isinstance(x, Ref) and x.batch) or not nd:
        return m.axis, m.arg_shape
    at = x.at or tuple(range(len(x.batch) - len(x.missing)))
    axis = m.axis % nd
    if axis in at or any(a >= nd for a in at):
        return m.axis, m.arg_shape  # (along a batch axis: no element's axis to name)
    return axis - sum(1 for a in at if a < axis), \
        tuple(d for a, d in enumerate(m.arg_shape) if a not in at)


def kept_axis(m: AxisFn, element: bool) -> bool:
    """Whether a reduction ``m`` prints with NumPy's ``keepdims=True``: of a whole batched
    form (printed unsubscripted, ``element`` false), a tensor of three or more axes reduced
    along one of its elements' own axes, each element's column or row (the form's shape
    keeps the axis as a 1), which ``max(s, axis=2)`` of s: [B, H, N], a B×H tensor that
    NumPy aligns with s's LAST axes, would not say; ``max(s, axis=2, keepdims=True)``, B×H×1,
    broadcasts back as each element's column does."""
    nd = len(m.arg_shape)
    if element or nd < 3 or not AXIS_OPS[m.head].reduces or not batch_of(m.x):
        return False
    x = m.x
    at = x.at if isinstance(x, Ref) and x.at else tuple(range(nd - 2))
    return m.axis % nd not in at and len(m.shape) == 2 and 1 in m.shape


def batch_of(x: M) -> Shape:
    """The batch axes of a batched form (``()`` for a plain one).

    A batched form is read per batch element, as NumPy's ``@`` reads a product of arrays
    of three or more axes: every product is the matrix product of each pair of trailing
    matrices, ``ᵀ`` swaps the last two axes, and rowsum, colsum and the axis functions
    act on each matrix.  Its leaves are matrices of one element (``Ref.batch``) or
    tensors of at most two axes, the same for every element (broadcast)."""
    return _batch_of(x)


def _batch_of(x: M) -> Shape:
    """batch_of, remembered on the node: the simplifier's rules ask it at every node of every
    pass, and a walk of the whole subtree each time made a pass quadratic in the form.  Kept
    on the node itself, so it lives and dies with the node (a global memo of 2¹⁶ nodes kept
    every intermediate form of a derivation alive: chain256 2.5 MiB to the end)."""
    known: Shape | None = getattr(x, "_batch_", None)
    if known is None:
        known = _batch_walk(x)
        object.__setattr__(x, "_batch_", known)  # a cache, not a field: the record stays frozen
    return known


def _batch_walk(x: M) -> Shape:
    if isinstance(x, (Ref, OneHot)) and x.batch:
        return x.batch
    if isinstance(x, BatchSum):  # summed over its batch (Σ_r inside each element b, g:
        return outer_batch(x)    # the element's batch is left)
    if isinstance(x, (Permute, Each, Take)):  # a whole tensor (a take's axis is the
        return ()                                 # whole tensor's, never an element's)
    one: Shape = ()
    for c in x.children():
        b = _batch_of(c)
        if b and set(b) != {1}:
            return b
        one = one or b  # a batch of one (m: [1, T, D]) broadcasts against any other
    return one


def outer_batch(m: BatchSum) -> Shape:
    """The batch a sum over a batch leaves, when it is a sum inside each element of an outer
    batch: Σ_r A_bgrᵀ ∂L/∂O_bgr in the element b, g (grouped-query heads' shared values),
    each element's matrices of the batch B, G, R summed over its last axes R (``dims``) —
    the batch B, G; else ``()`` (a sum over the whole batch of its elements)."""
    inner, n = _batch_of(m.x), len(m.dims)
    if len(inner) > n and tuple(inner[-n:]) == tuple(m.dims):
        return tuple(inner[:-n])
    return ()


def whole_batched(m: M) -> bool:
    """A reshape, slice or pad of a whole batched tensor in NumPy's reading (its spec shape
    holds the batch axes, its shape is an element's: reshape(O, [B, T, D]), slice(X, :, 1:T
    − 1)): it prints the whole tensor, never one element's, so no subscripted form (Σ_b,
    each element's) may hold it; its code reads the whole arrays, as NumPy's ``@`` does."""
    return isinstance(m, (Reshape, Slice, Pad)) and bool(batch_of(m)) and \
        len(m.dims) > len(m.shape)


def substitute(m: M, old: M, new: M) -> M:
    """``m`` with every ``old`` replaced by ``new``, rebuilt by the smart constructors."""
    return substitute_all(m, {old: new})


def substitute_all(m: M, table: Mapping[M, M]) -> M:
    """``m`` with every key of ``table`` replaced by its value, in one walk (a walk per key
    made the closed form of an adjoint of n terms cost n² to write out)."""
    hit = table.get(m)
    if hit is not None:
        return hit
    if isinstance(m, Transpose):
        inner = substitute_all(m.x, table)
        if isinstance(m.x, Add) and isinstance(inner, Add):
            # a transposed sum stands whole as it stood (the simplifier decides where its
            # transpose goes, a substitution never does): a name taking the place of the
            # function of a product inside left nothing to keep it whole, (W2 t1ᵀ + b2 −
            # Yᵀ) t1 beside (t1 W2ᵀ + b2ᵀ − Y) W2 where t1 = tanh(X W1ᵀ + b1ᵀ) (nu48 find 07)
            return Transpose(inner, m.shape, m.src)
        return transpose(inner)
    if isinstance(m, MatMul):
        return matmul(substitute_all(m.a, table), substitute_all(m.b, table))
    if isinstance(m, Hadamard):
        parts = [substitute_all(f, table) for f in m.factors]
        return scalar_product(parts) if m.is_scalar else hadamard(*parts)
    if isinstance(m, Scale):
        return scale(substitute_all(m.coeff, table), substitute_all(m.x, table))
    if isinstance(m, Add):
        return add(*[substitute_all(t, table) for t in m.terms])
    if isinstance(m, Pow):
        return power(substitute_all(m.x, table), m.exp)
    if isinstance(m, Fn):
        return fn(m.name, *[substitute_all(a, table) for a in m.args])
    if isinstance(m, Reduce):
        return reduce(m.kind, substitute_all(m.x, table))
    if isinstance(m, AxisFn):
        return AxisFn(m.head, substitute_all(m.x, table), m.axis, m.arg_shape, m.shape, m.src)
    if isinstance(m, Diag):
        return Diag(substitute_all(m.x, table), m.shape, m.src)
    if isinstance(m, Diagonal):
        return Diagonal(substitute_all(m.x, table), m.shape, m.src)
    if isinstance(m, Einsum):
        operands = tuple(substitute_all(x, table) for x in m.operands)
        return Einsum(m.subscripts, operands, m.shape, m.src)
    if isinstance(m, Norm):
        return Norm(substitute_all(m.x, table))
    if isinstance(m, Reshape):
        return Reshape(substitute_all(m.x, table), m.dims, m.shape, m.src)
    if isinstance(m, (Slice, Pad)):
        return type(m)(substitute_all(m.x, table), m.axis, m.lo, m.hi, m.dims, m.shape, m.src)
    if isinstance(m, BatchSum):
        return BatchSum(substitute_all(m.x, table), m.dims, m.names, m.shape, m.src)
    if isinstance(m, Take):
        return Take(substitute_all(m.x, table), m.axis, m.at, m.dims, m.shape, m.src)
    if isinstance(m, Permute):
        return Permute(substitute_all(m.x, table), m.axes, m.dims, m.shape, m.src)
    if isinstance(m, SumAxes):
        return SumAxes(substitute_all(m.x, table), m.axes, m.keep, m.shape, m.src)
    if isinstance(m, Each):
        return Each(substitute_all(m.x, table), m.dims, m.names, m.at, m.spec, m.shape, m.src)
    if isinstance(m, Stack):
        return Stack(tuple(substitute_all(x, table) for x in m.xs), m.axis, m.dims, m.shape,
                     m.src)
    if isinstance(m, Conv):
        return m.rebuilt(tuple(substitute_all(x, table) for x in m.children()))
    return m


class Norm(M):
    """``‖x‖``, the Euclidean norm of a vector, or ``‖X‖_F``, the Frobenius norm of a matrix
    (a scalar): √ of the total of x ⊙ x, built by :func:`fn` from what the recognizer reads
    and by the simplifier."""

    x: M
    shape: Shape = ()
    src: Any = _src()

    @property
    def frobenius(self) -> bool:
        return bool(rows(self.x) != 1 and cols(self.x) != 1)

    def children(self) -> tuple[M, ...]:
        return (self.x,)
