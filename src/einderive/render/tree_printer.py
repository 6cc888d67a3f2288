"""The dispatch both printers share: a ``_print_<Class>`` method per node class.

As in SymPy's ``Printer``, the method is looked up along the node's MRO, so a
method for a base class serves its subclasses.  Unlike SymPy's, the lookup
makes no exception for subclasses of ``Function``: every elementwise function
is its own class, made from its op-table row, and must reach
``_print_ElementwiseFunction``.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar


class TreePrinter:
    """Printing by the node's class; a subclass defines ``_print_<Class>`` methods."""

    tree: ClassVar[type] = object  # the base class of the nodes this printer prints
    _methods: ClassVar[dict[tuple[type, type], str | None]] = {}
    # (printer class, node class) -> the printer class's function for it: called with the
    # printer, not looked up and bound per node (a formula's print visits some 20 nodes)
    _functions: ClassVar[dict[tuple[type, type], Callable[[Any, Any], str]]] = {}

    def doprint(self, e: Any) -> str:
        """The text of the tree ``e``."""
        return self._print(e)

    def _print(self, e: Any) -> str:
        f = TreePrinter._functions.get((type(self), type(e)))
        if f is None:
            f = self._function(type(e))
        return f(self, e)

    def _function(self, cls: type) -> Callable[[Any, Any], str]:
        """The printer class's function for ``cls`` (the first ``_print_<Class>`` along its MRO,
        else :meth:`empty`), kept."""
        name = self._name(cls)
        f: Callable[[Any, Any], str] = getattr(type(self), name if name is not None else "empty")
        TreePrinter._functions[(type(self), cls)] = f
        return f

    def _name(self, cls: type) -> str | None:
        key = (type(self), cls)
        if key not in TreePrinter._methods:  # one MRO walk per (printer, node) class pair
            # another tree's class of the same name (SymPy's Add, the matrix form's Add)
            # finds no method here
            mro = cls.__mro__ if issubclass(cls, self.tree) else ()
            TreePrinter._methods[key] = next(
                (f"_print_{c.__name__}" for c in mro if hasattr(self, f"_print_{c.__name__}")),
                None)
        return TreePrinter._methods[key]

    def empty(self, e: Any) -> str:
        """A node of another tree, or of a class with no method: a bug upstream, never to be
        printed as some text that might read as mathematics."""
        raise TypeError(f"{type(self).__name__} cannot print {e!r}")
