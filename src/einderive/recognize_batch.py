"""Matrix forms of tensors of three or more axes that reorder their axes.

``Qh = transpose(Q, axes=[0, 2, 1, 3])`` is ``Qh_ikjl = Q_ijkl``: every tensor of the term
is read at one permutation of the result's indices.  No product or ᵀ says that (ᵀ swaps the
last two axes of each batch element); it is ``permute(Q, (0, 2, 1, 3))``, NumPy's
``Q.transpose(axes)``, and the adjoint of a permutation is the inverse permutation,
``permute(∂L/∂Qh, (0, 2, 1, 3))`` here.  The term is read with its tensors' own index order
(each tensor then read whole) and the result is that form permuted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any, Protocol

from sympy import Indexed, Symbol

from . import matrix as mx
from .ops import AxisFunction, Digit, has_index_map, reshape_view
from .shapes import Shape

Expr = Any  # a SymPy expression
Idx = tuple[Any, ...]


class Read(Protocol):
    """What a recognition returns (recognize.Recognition), as far as this module needs."""

    @property
    def matrix(self) -> mx.M | None: ...

    @property
    def wheres(self) -> tuple[Any, ...]: ...

    @property
    def einsum(self) -> bool: ...


def read_permuted(expr: Expr, idx: Idx, shape: Shape,
                  inner: Callable[[Expr, Idx, Shape], Read]) -> tuple[Read, mx.M] | None:
    """``(recognition of the unpermuted term, permute(form, axes))`` when the term reads
    without einsum in the order its tensors read the result's indices (each index where it
    first stands: Q_ikjl = Xq_{i, j, k·Dh + l} reads i, j, k, l), and that order is not
    ``idx``'s; else None.  ``inner(expr, order, shape)`` recognizes the term in that order."""
    units = [p for p, i in enumerate(idx) if i == 0]
    if any(shape[p] != 1 for p in units) or len(idx) != len(shape):
        return None
    syms = tuple(i for i in idx if i != 0)
    for seen in _reading_orders(expr, syms):
        # a literal-1 axis read at 0 stays where it stands (Q: [1, H, T, Dh] of the reshape
        # [1, T, H, Dh]), the indices take the other axes in the order the tensors read them
        rest = iter(seen)
        order = tuple(0 if p in units else next(rest) for p in range(len(idx)))
        # axis p of the result is axis axes[p]
        axes = tuple(p if p in units else order.index(i) for p, i in enumerate(idx))
        inner_shape = tuple(shape[p] if p in units else shape[idx.index(i)]
                            for p, i in enumerate(order))
        found = inner(expr, order, inner_shape)
        if found.matrix is None or found.einsum or isinstance(found.matrix, mx.Each):
            continue  # (a form of each element has no left side inside a permutation)
        return found, mx.Permute(found.matrix, axes, tuple(shape), tuple(shape))
    return None


def _reading_orders(expr: Expr, idx: Idx) -> list[Idx]:
    """The result's indices (three or more distinct symbols) in the orders the tensors of
    ``expr`` read them, one order for each tensor read first (Ẋ_ijm Wq_{m, k·Dh + l} reads
    i, j, k, l from Ẋ, k, l, i, j from Wq), when every one is read and that order is not
    ``idx``; in the order of the tensors' names (the first is the one read before)."""
    if len(idx) < 3 or not all(isinstance(i, Symbol) for i in idx) or len(set(idx)) != len(idx):
        return []
    atoms = sorted(expr.atoms(Indexed, AxisFunction), key=str)
    out: list[Idx] = []
    for first in range(len(atoms)):
        free, seen = set(idx), []
        for e in atoms[first:] + atoms[:first]:
            for i in e.indices:
                for s in _symbols_in_order(i):
                    if s in free and s not in seen:
                        seen.append(s)
        if len(seen) == len(idx) and tuple(seen) != tuple(idx) and tuple(seen) not in out:
            out.append(tuple(seen))
    return out


def _symbols_in_order(i: Any) -> list[Any]:
    """The symbols of an index in the order it reads them: a flat index h·Dh + d its digits
    first to last (``Flat.digits``), else by name."""
    if isinstance(i, Symbol):
        return [i]
    digits = getattr(i, "digits", None)
    if digits is not None:
        return [s for d in digits for s in _symbols_in_order(d)]
    return sorted(getattr(i, "free_symbols", set()), key=str)


def element_at(inds: Idx, batch: Idx) -> tuple[int, ...] | None:
    """The positions of the batch indices in a tensor's indices ``inds``, each there once
    and in the batch's order (Q_thd at h: (1,)), else None."""
    if not batch or any(list(inds).count(b) != 1 for b in batch):
        return None
    at = tuple(list(inds).index(b) for b in batch)
    return at if list(at) == sorted(at) else None


def part_at(inds: Idx, batch: Idx) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(at, missing)`` when a tensor's indices ``inds`` hold some of the batch indices but
    not all, each once and in the batch's order, and then one or two indices of their own
    (V_ij′km of V: [B, T, G, Dh] in the batch i, k, l of grouped-query heads: at (0, 2),
    missing (2,)): the tensor is the same along the batch axes it lacks, its element that of
    the batch indices it has; else None."""
    present = [b for b in batch if b in inds]
    if not present or len(present) == len(batch) or \
            any(list(inds).count(b) != 1 for b in present):
        return None
    at = tuple(list(inds).index(b) for b in present)
    rest = [i for i in inds if i not in present]
    if list(at) != sorted(at) or len(rest) not in (1, 2) or \
            not all(isinstance(i, Symbol) for i in rest) or len(set(rest)) != len(rest):
        return None
    return at, tuple(k for k, b in enumerate(batch) if b not in inds)


def batch_positions(expr: Expr, idx: Idx,
                    is_tensor: Callable[[Expr], bool]) -> Iterator[tuple[int, ...]]:
    """The positions of ``idx`` a batched reading may take as the batch, best first: the
    leading ones with a matrix as the element (NumPy's ``@``), then any others with a
    matrix, then any with a vector (a row of s: [B, T] is element b's column).  Each batch
    index stands in every tensor of three or more axes of ``expr``."""
    n = len(idx)
    syms = [i for i in idx if isinstance(i, Symbol)]
    if n < 2 or len(set(syms)) != len(syms):
        return
    if n >= 3 and all(isinstance(i, Symbol) for i in idx[:n - 2]):
        yield tuple(range(n - 2))  # a kept-dims axis (index 0) of an element is fine
    if len(syms) != n:
        return
    wide = [set(read_indices(e)) for e in expr.atoms(Indexed)
            if is_tensor(e) and len(read_indices(e)) > 2]
    if not wide:
        return
    common = set.intersection(*wide)
    for k in (n - 2, n - 1):
        for at in combinations(range(n), k):
            if k and at != tuple(range(n - 2)) and all(idx[a] in common for a in at):
                yield at
    # then batches some wide tensor lacks part of (V_ij′l beside A_ikjj′, the batch i, k:
    # one key/value head shared by every query head), each index in the widest tensors
    widest = max(len(w) for w in wide)
    most = set.intersection(*[w for w in wide if len(w) == widest])
    for at in combinations(range(n), n - 2):
        if at and at != tuple(range(n - 2)) and not all(idx[a] in common for a in at) and \
                all(idx[a] in most for a in at):
            yield at


def ones_ahead(inds: Idx, shape: Shape, nb: int | None = None) -> int:
    """The number of leading literal-1 axes of a tensor read at 0 ahead of its last two
    axes (m_{0jk} of m: [1, T, D]; g_{0,0,k} of g: [1, 1, D], a row), when there are ``nb``
    of them (any number when None) and the last two are read at distinct symbols (or 0 on a
    literal 1); else 0.  Such a tensor is a batch of one matrix, which NumPy broadcasts
    against any batch (X + m of X: [B, T, D]); ``x`` itself when the result has those axes."""
    k = len(shape) - 2
    if len(inds) != len(shape) or k < 1 or (nb is not None and k != nb) or \
            any(shape[a] != 1 or inds[a] != 0 for a in range(k)):
        return 0
    rest = list(zip(inds[k:], shape[k:]))
    syms = [i for i, _ in rest if i != 0]
    if not syms or any(i == 0 and d != 1 for i, d in rest) or \
            not all(isinstance(i, Symbol) for i in syms) or len(set(syms)) != len(syms):
        return 0
    return k


def permuted_view(idx: Idx) -> tuple[tuple[int, ...], Idx] | None:
    """``(axes, view)`` when ``x[idx]`` splits an index whose digits stand apart
    (∂L/∂Q_{i, ⌊m/Dh⌋, j, m mod Dh}: the width split into heads, the heads moved ahead of the
    positions, as PyTorch writes attention): it is reshape(permute(x, axes))[view], each
    split's digits brought together where its last digit stands (the inverse of the forward's
    split and permutation: t_ijm of reshape(permute(∂L/∂Q, (0, 2, 1, 3)), [B, T, D])).
    None when no digits stand apart, or the result is no reshape view."""
    runs: dict[Any, list[int]] = {}
    for a, i in enumerate(idx):
        if isinstance(i, Digit):
            runs.setdefault((i.k, i.sizes), []).append(a)
    if not runs:
        return None
    last = {a[-1]: a for a in runs.values()}
    inside = {a for run in runs.values() for a in run}
    axes: list[int] = []
    for a in range(len(idx)):
        if a in last:
            axes.extend(sorted(last[a], key=lambda b: idx[b].position))
        elif a not in inside:
            axes.append(a)
    if axes == list(range(len(idx))) or sorted(axes) != list(range(len(idx))):
        return None
    view = reshape_view(tuple(idx[a] for a in axes))
    return None if view is None else (tuple(axes), view)


def read_indices(e: Any) -> Idx:
    """The indices a tensor's element is read at, a permuted split read as its view
    (:func:`permuted_view`): those the batched readings compare."""
    inds = tuple(e.indices)
    found = permuted_view(inds) if isinstance(e, Indexed) else None
    if found is None and isinstance(e, Indexed) and has_index_map(inds):
        view = reshape_view(inds)  # ∂L/∂Q_{i, j, ⌊m/Dh⌋, m mod Dh}: t_ijm of a reshape
        return inds if view is None else tuple(view)
    return inds if found is None else found[1]
