"""Values derived from one long-lived, immutable object, computed once per object.

The backward pass reads the same forward nodes (``named``, a tuple of frozen records) for
every adjoint it forms: a table built from them on each call made a chain of N layers cost
O(N²).  The cache holds the object itself and checks identity, so a new object (or one
whose id was reused after it died) never reads another's value."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

T = TypeVar("T")


def per_object(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """``build`` remembered for the last object it was called with (by identity)."""
    last: list[Any] = [None, None]  # [the object, its value]; the object kept alive

    @wraps(build)
    def cached(obj: Any) -> T:
        if last[0] is not obj:
            last[0], last[1] = obj, build(obj)
        value: T = last[1]
        return value
    return cached


__all__ = ["per_object"]
