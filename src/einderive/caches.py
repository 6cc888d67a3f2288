"""The module-level caches that keep a derivation's trees, emptied when it is let go.

A few memos live beside the modules that use them, not in a derivation: the printers'
index-letter sets (keyed by SymPy trees), the Hessian's rows of the last product, and
SymPy's own cache.  Each keeps trees of the last derivations alive after the caller has
dropped them, and the memory they pin is memory the next step cannot reuse (``verify``
plans each spec's checks, drops its derivation, and then imports NumPy, compiles and runs
the code: a 512-branch fan-out's peak).  A module registers its cache's ``clear`` here at
import; :func:`release` empties them all.  Only speed depends on a cache, never a result.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_CLEARS: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    """Have :func:`release` call ``clear`` (returned unchanged)."""
    _CLEARS.append(clear)
    return clear


def release() -> None:
    """Empty every registered cache and SymPy's: call it once the derivations are dropped."""
    from sympy.core.cache import clear_cache

    for clear in _CLEARS:
        clear()
    clear_cache()


# young objects allocated between two collections while deriving (Python's default is 700)
YOUNG_THRESHOLD = 10_000
# young collections between two of the middle generation (Python's default is 10): what
# survives a young collection is mostly the derivation's own forms and caches, alive to
# the end, and each middle collection rescanned them all to free little (chain256: one of
# 20 ms, a third of the command's collecting; fan-out 512 -f numpy 4.2 s -> 4.0 s of CPU,
# the same peak memory, 93.7 MB)
MIDDLE_THRESHOLD = 100


@contextmanager
def collector_paced() -> Iterator[None]:
    """Collect cycles less often (a whole command, a derivation): SymPy makes many
    short-lived, acyclic objects, which the cycle collector at its default pace rescans over
    and over (half the time of a derivation) to find nothing.  Not paused altogether: a
    recursive closure (a nested ``walk`` that calls itself, SymPy's ``factor_terms``) is a
    cycle, and those piled up to the end (fan-out 512 ``-f numpy``: 15 MiB of peak memory);
    at this pace the time is that of a pause (fanout256 ``-f numpy`` 2.9 s vs 3.0 s)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), max(middle, MIDDLE_THRESHOLD), old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
