"""Shapes: tuples of dim names and the literal 1, combined by NumPy's rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Dim = Any  # a dim name (str), the literal 1, or a size (a SymPy expression in the matrix form)
Shape = tuple[Dim, ...]

# how a message names a dim: the graph builder writes a dim it made itself (a stack's count,
# n2) as its number, the only thing the user wrote (as NumPy's printoptions, a context)
_NAMING: ContextVar[Callable[[Dim], str]] = ContextVar("naming", default=str)


@contextmanager
def naming(name: Callable[[Dim], str]) -> Iterator[None]:
    """Within it, :func:`fmt` and :func:`dim_name` write each dim as ``name`` does."""
    token = _NAMING.set(name)
    try:
        yield
    finally:
        _NAMING.reset(token)


def dim_name(d: Dim) -> str:
    """One dim as a message writes it (``N``, ``1``, a stack's ``2``)."""
    return _NAMING.get()(d)


def fmt(shape: Shape) -> str:
    """``(M, N)``, ``(N,)``, or ``()`` for a scalar."""
    if len(shape) == 1:
        return f"({dim_name(shape[0])},)"
    return "(" + ", ".join(dim_name(d) for d in shape) + ")"


def _axis(sizes: list[Dim]) -> Dim | None:
    """NumPy's rule for one axis: sizes of 1 stretch to the one other size (None: two others)."""
    others = list(dict.fromkeys(d for d in sizes if d != 1))
    if len(others) > 1:
        return None
    return others[0] if others else 1


def _axes(shapes: list[Shape]) -> list[list[Dim]]:
    """The sizes of each axis, the shapes aligned on their last axis (missing axes are 1)."""
    n = max((len(s) for s in shapes), default=0)
    return [[s[k - n] if k - n >= -len(s) else 1 for s in shapes] for k in range(n)]


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """NumPy broadcasting of two shapes, or None if they do not broadcast."""
    out = [_axis(sizes) for sizes in _axes([a, b])]
    return None if None in out else tuple(out)


def broadcast_all(shapes: list[Shape]) -> Shape:
    """The shape that ``shapes``, known to broadcast, broadcast to: at each axis (aligned on
    the last) the first size that is not 1.  The matrix form's shapes broadcast by the same
    rule, a column (N, 1) across columns and a row (1, N) across rows."""
    return tuple(next((d for d in sizes if d != 1), 1) for sizes in _axes(list(shapes)))


def matmul(a: Shape, b: Shape) -> Shape | None:
    """The shape of ``a @ b`` (NumPy's matmul) whose contracted axes agree; None if the
    batch axes do not broadcast."""
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(b) == 1:
        return a[:-1]
    if len(a) == 1:
        return b[:-2] + b[-1:]
    batch = broadcast(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


def align(idx: tuple[Any, ...], shape: Shape) -> tuple[Any, ...]:
    """The indices of an operand of ``shape`` broadcast to an output indexed by ``idx``."""
    tail = idx[len(idx) - len(shape):] if shape else ()
    return tuple(0 if d == 1 else i for i, d in zip(tail, shape))


def normalize_axis(axis: int, ndim: int) -> int | None:
    if -ndim <= axis < ndim:
        return axis % ndim
    return None
