"""Matrix forms of tensors of three or more axes that reorder their axes.

``Qh = transpose(Q, axes=[0, 2, 1, 3])`` is ``Qh_ikjl = Q_ijkl``: every tensor of the term
is read at one permutation of the result's indices.  No product or ᵀ says that (ᵀ swaps the
last two axes of each batch element); it is ``permute(Q, (0, 2, 1, 3))``, NumPy's
``np.transpose(Q, axes)``, and the adjoint of a permutation is the inverse permutation,
``permute(∂L/∂Qh, (0, 2, 1, 3))`` here.  The term is read with its tensors' own index order
(each tensor then read whole) and the result is that form permuted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sympy import Indexed, KroneckerDelta, Sum, Symbol

from . import matrix as mx
from .ops import AxisFunction
from .shapes import Shape

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]


class Read(Protocol):
    """What a recognition returns (recognize.Recognition), as far as this module needs."""

    matrix: mx.M | None
    wheres: tuple[Any, ...]
    einsum: bool


def read_permuted(expr: Expr, idx: Idx, shape: Shape, is_tensor: Callable[[Expr], bool],
                  inner: Callable[[Expr, Idx, Shape], Read]) -> tuple[Read, mx.M] | None:
    """``(recognition of the unpermuted term, permute(form, axes))`` when every tensor of
    ``expr`` is read at one permutation of ``idx`` other than ``idx`` itself, else None.
    ``inner(expr, order, shape)`` recognizes the term in the tensors' own order."""
    order = _common_order(expr, idx, is_tensor)
    if order is None:
        return None
    axes = tuple(order.index(i) for i in idx)  # axis p of the result is axis axes[p]
    inner_shape = tuple(shape[idx.index(i)] for i in order)
    found = inner(expr, order, inner_shape)
    if found.matrix is None or found.einsum:
        return None
    return found, mx.Permute(found.matrix, axes, tuple(shape), tuple(shape))


def _common_order(expr: Expr, idx: Idx, is_tensor: Callable[[Expr], bool]) -> Idx | None:
    """The one index order every tensor of ``expr`` is read in, when it is a permutation of
    ``idx`` (three or more distinct index symbols) other than ``idx``; else None.  A sum, a
    delta or an axis function (which reads along an axis) leaves the term to other rules."""
    if len(idx) < 3 or not all(isinstance(i, Symbol) for i in idx) or len(set(idx)) != len(idx):
        return None
    if expr.atoms(Sum, KroneckerDelta, AxisFunction):
        return None
    reads = {tuple(e.indices) for e in expr.atoms(Indexed)
             if is_tensor(e) or not e.free_symbols.isdisjoint(idx)}
    if len(reads) != 1:
        return None
    (order,) = reads
    if order == tuple(idx) or len(order) != len(idx) or set(order) != set(idx):
        return None
    return order
