"""The one precedence table: how tightly each kind of printed node binds, loosest first.

Every printer brackets by these levels: the index-form and matrix-form printers
(``render/index_printer.py``, ``render/matrix_printer.py``) and the Python
unparser (``pyexpr``).  An operand whose level is below the one its place
needs is bracketed.  The module imports nothing, so the engine's code trees
and the renderers can share it without a layer pointing the wrong way.
"""

from __future__ import annotations

from enum import IntEnum


class Prec(IntEnum):
    """Binding strength, loosest first; only the order of the levels means anything."""

    COMPARE = 1  # a > b
    ADD = 2      # a + b, a − b; in math also −a and Σ_i … (a term of a sum)
    MUL = 3      # a b, a ⊙ b, a / b, a @ b
    UNARY = 4    # Python's -x, which binds tighter than * (math's −a is a term: ADD)
    POW = 5      # x², x^∘p, x ** p
    CALL = 6     # Python's x.attr, x[i], f(x)
    ATOM = 7     # names, numbers, f(x) and bracketed forms in math
