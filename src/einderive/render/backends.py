"""How NumPy and PyTorch spell each construct the code generators use.

A backend is asked for a construct (a reduction, a transpose, an einsum, a
scalar function ...) and answers with a :mod:`pyexpr` tree.  The compilers
never ask which backend they hold: what differs between the libraries lives
in the two classes below and nowhere else.
"""

from __future__ import annotations

from ..ops import (
    AXIS_OPS,
    CONCATENATE,
    ConvOp,
    DIAG,
    EINSUM,
    POW_HALF,
    RESHAPE,
    SCALARS,
    SCATTER_ADD,
    SOLVE,
    STACK,
    TRANSPOSE,
    WHERE,
)
from .. import pyexpr as P


class Backend:
    """NumPy.  Vectors are 1-d arrays, scalars Python floats."""

    lib = "np"
    imports = "import numpy as np"
    axis_kw = "axis"
    keep_kw = "keepdims"

    def f(self, fn: str) -> P.Name:
        return P.Name(f"{self.lib}.{fn}")

    def reduce(self, fn: str, x: P.Py, axes: tuple[int, ...] | None = None, keep: bool = False,
               ndim: int = 0) -> P.Py:
        """``sum``/``mean`` over ``axes`` (all when None or every axis) of an ``ndim``-d ``x``."""
        kw: dict[str, P.Py] = {}
        if axes is not None and (tuple(axes) != tuple(range(ndim)) or keep):
            kw[self.axis_kw] = P.ints(axes)
        if keep:
            kw[self.keep_kw] = P.Name("True")
        return P.call(self.f(fn), x, **kw)

    def permute(self, x: P.Py, axes: tuple[int, ...]) -> P.Py:
        """Axes of ``x`` permuted; ``.T`` when they are reversed."""
        if tuple(axes) == tuple(range(len(axes))):
            return x
        if tuple(axes) == tuple(reversed(range(len(axes)))):
            return P.Attr(x, "T")
        return P.call(self.f(TRANSPOSE), x, P.ints(axes))

    def matrix_transpose(self, x: P.Py) -> P.Py:
        """``x.T``; a transposed transpose is the matrix itself (no ``.T.T`` in the code)."""
        if isinstance(x, P.Attr) and x.name == "T":
            return x.x
        return P.Attr(x, "T")

    def batch_transpose(self, x: P.Py) -> P.Py:
        """The matrix of each batch element transposed: the last two axes swapped; a swapped
        swap is the tensor itself (no ``.swapaxes(-1, -2).swapaxes(-1, -2)`` in the code)."""
        return _unswapped(x, "swapaxes") or P.method(x, "swapaxes", P.num(-1), P.num(-2))

    def outer(self, a: P.Py, b: P.Py) -> P.Py:
        return P.call(self.f("outer"), a, b)

    def ones(self, shape: tuple[P.Py, ...]) -> P.Py:
        return P.call(self.f("ones"), P.Tuple(tuple(shape)))

    def zeros_like(self, x: P.Py) -> P.Py:
        return P.call(self.f("zeros"), P.call(self.f("shape"), x))

    def eye(self, n: P.Py, m: P.Py | None = None) -> P.Py:
        """The n×n identity, or the n×m one (ones where row = column) given ``m``."""
        return P.call(self.f("eye"), n) if m is None else P.call(self.f("eye"), n, m)

    def diag(self, x: P.Py) -> P.Py:
        return P.call(self.f(DIAG), x)

    def einsum(self, subscripts: str, operands: list[P.Py]) -> P.Py:
        return P.call(self.f(EINSUM), P.Str(subscripts), *operands)

    def solve(self, a: P.Py, b: P.Py) -> P.Py:
        """``a⁻¹ b`` without forming the inverse."""
        return P.call(self.f(SOLVE), a, b)

    def sqrt(self, x: P.Py) -> P.Py:
        """``x ** (1/2)``, as the scalar function the op table says computes it."""
        return self.fn(POW_HALF, x)

    def reshape(self, x: P.Py, like: P.Py) -> P.Py:
        return P.call(self.f(RESHAPE), x, P.call(self.f("shape"), like))

    def concatenate(self, xs: list[P.Py], axis: int) -> P.Py:
        return P.call(self.f(CONCATENATE), P.Tuple(tuple(xs)), axis=P.num(axis))

    def stack(self, xs: list[P.Py], axis: int) -> P.Py:
        return P.call(self.f(STACK), P.Tuple(tuple(xs)), axis=P.num(axis))

    def move_axes(self, x: P.Py, src: tuple[int, ...], dst: tuple[int, ...]) -> P.Py:
        """``x`` with its axes ``src`` moved to ``dst``, the others in order (np.moveaxis);
        the head axis of Q: [T, H, Dh] brought ahead, ``Q.transpose(1, 0, 2)``."""
        return P.call(self.f("moveaxis"), x, P.ints(src), P.ints(dst))

    def take(self, x: P.Py, axis: int, at: int) -> P.Py:
        """``x[:, at]``: the position ``at`` of axis ``axis``, the axis dropped."""
        return P.Subscript(x, tuple(P.Slice() for _ in range(axis)) + (P.num(at),))

    def pad(self, x: P.Py, axis: int, ndim: int, before: P.Py, after: P.Py) -> P.Py:
        """``x`` with ``before`` zeros ahead of and ``after`` zeros past axis ``axis``."""
        widths = [P.Tuple((P.num(0), P.num(0)))] * ndim
        widths[axis] = P.Tuple((before, after))
        return P.call("np.pad", x, P.Tuple(tuple(widths)))

    def kron(self, a: P.Py, b: P.Py) -> P.Py:
        """The Kronecker product of two matrices."""
        return P.call(self.f("kron"), a, b)

    def reshape_to(self, x: P.Py, sizes: list[P.Py]) -> P.Py:
        """``x`` in the shape ``sizes`` (row-major, both libraries)."""
        return P.call(self.f(RESHAPE), x, P.Tuple(tuple(sizes)))

    def broadcast_like(self, x: P.Py, like: P.Py) -> P.Py:
        """A scalar ``x`` (a constant adjoint, 0 where terms cancel) spread over ``like``."""
        return P.binop("*", x, P.call(self.f("ones"), P.call(self.f("shape"), like)))

    def ravel(self, x: P.Py) -> P.Py:
        return P.method(x, "ravel")

    def fn(self, name: str, *args: P.Py) -> P.Py:
        out: P.Py = SCALARS[name].numpy(*args)
        return out

    def strong_zero(self, indicator: P.Py, x: P.Py) -> P.Py:
        """``𝟙[c] x`` as an Iverson bracket means it: 0 where c fails, even where ``x`` is
        not finite there (𝟙[x > 0] ⊘ √relu(x) at x < 0), as autograd's relu, clamp and where
        give."""
        return P.call(self.f(WHERE), P.Compare("!=", indicator, P.num(0.0)), x, P.num(0.0))

    def axis_fn(self, head: str, x: P.Py, axis: int, ndim: int, keep: bool = False) -> P.Py:
        """A function of a whole axis (:data:`ops.AXIS_OPS`): the generated module's helper;
        ``keep`` only for one that reduces the axis."""
        fn = AXIS_OPS[head].numpy
        kw = {} if axis == ndim - 1 and not fn or not AXIS_OPS[head].has_axis \
            else {"axis": P.num(axis)}
        if keep:
            kw["keepdims"] = P.Name("True")
        return P.call(fn or head, x, **kw)

    def conv(self, row: ConvOp, kind: str, a: P.Py, b: P.Py) -> P.Py:
        """A convolution (matrix.Conv's ``kind``) as ``row`` writes it in NumPy."""
        return row.numpy(kind, a, b)

    def constant(self, x: P.Py) -> P.Py:
        """A number computed from numbers, as the argument of a library call."""
        return x

    def as_index(self, x: P.Py) -> P.Py:
        """An integer input used as an index (NumPy indexes with any integer array)."""
        return x

    def one_hot(self, idx: P.Py, n: P.Py) -> P.Py:
        """The rows of the n×n identity picked by ``idx``: onehot(idx)."""
        return P.Subscript(self.eye(n), (self.as_index(idx),))

    def scatter_add(self, idx: P.Py, g: P.Py, shape: tuple[P.Py, ...]) -> P.Py:
        """onehot(idx)ᵀ g of the given shape, by adding rows (the module's helper)."""
        return P.call(SCATTER_ADD, idx, g, shape[0])


class Torch(Backend):
    """PyTorch.  Every array is a tensor of the inputs' dtype (``dtype`` in ``backward``)."""

    lib = "torch"
    imports = "import torch"
    axis_kw = "dim"
    keep_kw = "keepdim"

    def conv(self, row: ConvOp, kind: str, a: P.Py, b: P.Py) -> P.Py:
        return row.torch_code(kind, a, b)

    def permute(self, x: P.Py, axes: tuple[int, ...]) -> P.Py:
        if tuple(axes) == tuple(range(len(axes))):
            return x
        if len(axes) == 2:
            return P.Attr(x, "mT")
        return P.method(x, "permute", *[P.num(a) for a in axes])

    def matrix_transpose(self, x: P.Py) -> P.Py:
        if isinstance(x, P.Attr) and x.name == "mT":
            return x.x
        return P.Attr(x, "mT")

    def batch_transpose(self, x: P.Py) -> P.Py:
        # Tensor.transpose(dim0, dim1) swaps two axes, as the op table's TRANSPOSE does
        return _unswapped(x, TRANSPOSE) or P.method(x, TRANSPOSE, P.num(-1), P.num(-2))

    def as_index(self, x: P.Py) -> P.Py:
        return P.method(x, "long")

    def kron(self, a: P.Py, b: P.Py) -> P.Py:
        """torch.kron views its operands: a column-major one (torch.linalg.solve(X.mT, …)
        returns one) fails ("view size is not compatible"), so each is made contiguous."""
        return P.call(self.f("kron"), *[P.method(x, "contiguous") for x in (a, b)])

    def scatter_add(self, idx: P.Py, g: P.Py, shape: tuple[P.Py, ...]) -> P.Py:
        zeros = P.call(self.f("zeros"), P.Tuple(tuple(shape)), dtype=P.Name("dtype"))
        return P.method(zeros, "index_add_", P.num(0), self.as_index(idx), g)

    def ones(self, shape: tuple[P.Py, ...]) -> P.Py:
        return P.call(self.f("ones"), P.Tuple(tuple(shape)), dtype=P.Name("dtype"))

    def zeros_like(self, x: P.Py) -> P.Py:
        return P.call(self.f("zeros_like"), x)

    def eye(self, n: P.Py, m: P.Py | None = None) -> P.Py:
        args = (n,) if m is None else (n, m)
        return P.call(self.f("eye"), *args, dtype=P.Name("dtype"))

    def reshape(self, x: P.Py, like: P.Py) -> P.Py:
        return P.call(self.f(RESHAPE), x, P.Attr(like, "shape"))

    def broadcast_like(self, x: P.Py, like: P.Py) -> P.Py:
        return P.binop("*", x, P.call(self.f("ones_like"), like))

    def concatenate(self, xs: list[P.Py], axis: int) -> P.Py:
        return P.call(self.f(CONCATENATE), P.Tuple(tuple(xs)), dim=P.num(axis))

    def stack(self, xs: list[P.Py], axis: int) -> P.Py:
        return P.call(self.f(STACK), P.Tuple(tuple(xs)), dim=P.num(axis))

    def move_axes(self, x: P.Py, src: tuple[int, ...], dst: tuple[int, ...]) -> P.Py:
        return P.call(self.f("movedim"), x, P.ints(src), P.ints(dst))

    def pad(self, x: P.Py, axis: int, ndim: int, before: P.Py, after: P.Py) -> P.Py:
        # torch's pad lists (before, after) pairs from the last axis back
        widths: list[P.Py] = [P.num(0)] * (2 * (ndim - 1 - axis)) + [before, after]
        return P.call("torch.nn.functional.pad", x, P.Tuple(tuple(widths)))

    def ravel(self, x: P.Py) -> P.Py:
        return P.method(x, RESHAPE, P.num(-1))

    def fn(self, name: str, *args: P.Py) -> P.Py:
        out: P.Py = SCALARS[name].torch(*args)
        return out

    def axis_fn(self, head: str, x: P.Py, axis: int, ndim: int, keep: bool = False) -> P.Py:
        kw = {"dim": P.num(axis)} if AXIS_OPS[head].has_axis else {}
        if keep:
            kw["keepdim"] = P.Name("True")
        return P.call(AXIS_OPS[head].torch, x, **kw)

    def constant(self, x: P.Py) -> P.Py:
        # torch's functions take tensors only: one called on the number 2 raises TypeError
        return P.call("torch.as_tensor", x, dtype=P.Name("dtype"))


def _unswapped(x: P.Py, meth: str) -> P.Py | None:
    """``y`` when ``x`` is ``y.meth(-1, -2)``, the last two axes of ``y`` swapped: swapping
    them again gives ``y`` back (colsum(∂L/∂P ⊙ P)ᵀ of a batch, a row sum's column turned)."""
    swap = (P.num(-1), P.num(-2))
    if isinstance(x, P.Call) and isinstance(x.func, P.Attr) and x.func.name == meth and \
            x.args == swap and not x.kwargs:
        return x.func.x
    return None
