"""Keep SymPy's tensor module unimported while a command runs, unless something uses it.

SymPy's ``Add.flatten`` imports :mod:`sympy.tensor.tensor` on the first sum it builds, only to
ask whether a term is a ``TensExpr``.  That module imports :mod:`sympy.combinatorics`, whose
import computes the polyhedra's symmetry groups: about 40 ms of CPU, 9 % of ``import sympy``,
paid by every ``einderive`` command.  einderive builds no object of that module, and none can
exist before the module is imported, so until then the answer to the question is always no.

:func:`deferred` stands a placeholder module in for it during a command.  ``Add.flatten``, and
only it, gets from the placeholder a class nothing is an instance of; any other use of the
module (an attribute, ``from sympy.tensor.tensor import X``) imports the real one, which then
replaces the placeholder for good, so ``Add.flatten`` sees the real classes from then on.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator

NAME = "sympy.tensor.tensor"
ASKED = ("TensExpr", "TensAdd")  # what Add.flatten imports from it


class Absent:
    """A class with no instances: what ``Add.flatten`` tests its terms against meanwhile."""


class Placeholder(types.ModuleType):
    """Stands in for :mod:`sympy.tensor.tensor`; anything but ``Add.flatten``'s question loads it."""

    def __init__(self, asker: types.CodeType) -> None:
        super().__init__(NAME)
        self.asker = asker

    def __getattr__(self, name: str) -> object:
        if name == "__path__":  # `from m import x` asks whether m is a package: it is not
            raise AttributeError(name)
        # frame 1 is the code running `from sympy.tensor.tensor import TensExpr, TensAdd`
        if name in ASKED and sys._getframe(1).f_code is self.asker:
            return Absent
        return getattr(real(), name)


def real() -> types.ModuleType:
    """The real :mod:`sympy.tensor.tensor`, imported now if only the placeholder was there."""
    if isinstance(sys.modules.get(NAME), Placeholder):
        del sys.modules[NAME]
    return importlib.import_module(NAME)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the body with the placeholder in place (if the module is not imported already)."""
    if NAME in sys.modules:
        yield
        return
    import sympy.tensor
    from sympy.core.add import Add

    placeholder = Placeholder(Add.flatten.__func__.__code__)
    sys.modules[NAME] = placeholder
    # `import sympy.tensor.tensor; sympy.tensor.tensor.X` reads the package's attribute
    setattr(sympy.tensor, "tensor", placeholder)
    try:
        yield
    finally:
        if sys.modules.get(NAME) is placeholder:
            del sys.modules[NAME]
            delattr(sympy.tensor, "tensor")
