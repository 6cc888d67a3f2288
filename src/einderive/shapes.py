"""Shapes: tuples of dim names and the literal 1, combined by NumPy's rules."""

from __future__ import annotations

Shape = tuple  # entries: dim name (str) or 1


def fmt(shape: Shape) -> str:
    """``(M, N)``, ``(N,)``, or ``()`` for a scalar."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """NumPy broadcasting of two shapes, or None if they do not broadcast."""
    out = []
    for n in range(1, max(len(a), len(b)) + 1):
        x = a[-n] if n <= len(a) else 1
        y = b[-n] if n <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


def align(idx: tuple, shape: Shape) -> tuple:
    """The indices of an operand of ``shape`` broadcast to an output indexed by ``idx``."""
    tail = idx[len(idx) - len(shape):] if shape else ()
    return tuple(0 if d == 1 else i for i, d in zip(tail, shape))


def normalize_axis(axis: int, ndim: int) -> int | None:
    if -ndim <= axis < ndim:
        return axis % ndim
    return None
