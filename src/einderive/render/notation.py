"""A notation: a style's tokens composed with the two printers.

Two trees are printed, each by its own printer: index forms (SymPy trees) by
:class:`~.index_printer.IndexPrinter` and matrix forms (the ``matrix`` module's
tree) by :class:`~.matrix_printer.MatrixPrinter`.  Both bracket by the one
precedence table (``einderive.precedence``) and take every symbol and bracket
from a style (``tokens.Style``); the styles, Unicode for terminals and goldens
and LaTeX for papers, live in ``styles.py``.  Printers never compute; the order
of factors and terms comes from the recognizer (``positions``), so index and
matrix forms read alike.
"""

from __future__ import annotations

from typing import Any

from .. import matrix as mx
from .index_printer import IndexPrinter
from .matrix_printer import MatrixPrinter, element_names, where_element
from .tokens import NotationBase


class Notation(NotationBase):
    """A style with the two printers over one derivation's names; made per formula.

    ``anon`` maps an anonymous intermediate's name to (definition, its indices,
    matrix form or None), so that it prints as what it is."""

    def __init__(self, ctx: Any = None, loss: str = "L",
                 positions: dict[Any, int] | None = None,
                 anon: dict[str, tuple[Any, Any, mx.M | None]] | None = None) -> None:
        self.ctx = ctx
        self.loss = loss
        self.positions = positions or {}
        self.anon = anon or {}
        # an anonymous intermediate's short name where one stands for it (--steps)
        self.aliases: dict[str, str] = {}
        self.einstein = True  # drop a Σ whose index shows exactly twice in its term
        self.index_printer = IndexPrinter(self)
        self.matrix_printer = MatrixPrinter(self)

    def index(self, e: Any, free: tuple[Any, ...] = ()) -> str:
        """An index form; ``free`` are the left-hand side's indices."""
        return self.index_printer.index(e, free)

    def matrix(self, m: mx.M, element: tuple[Any, ...] = ()) -> str:
        """A matrix form; ``element``: the batch letters it is read under (a where-clause of
        a form written per element, σ'(W2ᵀ x_b) = …), which subscript its elements."""
        if not element:
            return self.matrix_printer.doprint(m)
        outer, self.matrix_printer.element = self.matrix_printer.element, \
            self.index_list(element)
        try:
            return self.matrix_printer.doprint(m)
        finally:
            self.matrix_printer.element = outer

    def where(self, form: mx.M | None, lhs: mx.M, rhs: mx.M) -> str:
        """A where-clause ``lhs = rhs`` of the matrix form ``form``, read as the form uses
        its helper: per element inside a per-element form or Σ_b (σ'(W2ᵀ x_b) = …)."""
        # a temporary defined per element (t2_h = A_hᵀ t1_h, its left side that element),
        # whichever reading of it the form has (reshape(t2, [T, D]) reads it whole)
        at = element_names(rhs) if isinstance(rhs, mx.Each) else \
            where_element(form, lhs, rhs)
        return f"{self.matrix(lhs, at)} = {self.matrix(rhs, at)}"

    def tensor(self, name: str, idx: str, bare: bool = True, element: bool = False) -> str:
        """A tensor's element; an anonymous intermediate is written as its definition, in
        brackets unless it is a call standing alone (``conv1d(X, W)``, not ``(conv1d(X, W))``)
        or ``bare`` is False (under ∂L/∂, ℛ{…}); one with a short name (``aliases``) by it;
        ``element``: a batch element's matrix."""
        if name in self.aliases:
            name = self.aliases[name]
        elif name in self.anon:
            _, _, matrix = self.anon[name]
            if matrix is not None:
                shown = self.matrix(matrix)
                if idx or not bare or not _call(matrix):
                    shown = self.paren(shown)
                return self.subscript(shown, idx)
        if element and idx:
            return self.batch_element(self.tensor_name(name, ""), idx)
        return self.tensor_name(name, idx)

    def adjoint(self, name: str, idx: str, transposed: bool = False,
                element: bool = False) -> str:
        return self.adjoint_of(self.tensor(name, idx, bare=False, element=element), transposed)

    def tangent(self, name: str, idx: str, transposed: bool = False,
                element: bool = False) -> str:
        s = self.batch_element(self.tangent_name(name, ""), idx) if element and idx else \
            self.tangent_name(name, idx)
        return self.transposed(s) if transposed else s

    def rop(self, name: str, idx: str, transposed: bool = False,
            element: bool = False) -> str:
        return self.rop_of(self.tensor(name, idx, bare=False, element=element), transposed)

    def hessian(self, x: str, ix: str, y: str, iy: str) -> str:
        """The left side of a Hessian block ∂²L/∂x∂y, or of its element."""
        return self.hessian_of(self.tensor(x, ix, bare=False), self.tensor(y, iy, bare=False),
                               x == y and not ix)

    def scalar(self, e: Any) -> str:
        return self.index_printer.doprint(self.index_printer.counted(e))

    def scalar_coefficient(self, c: Any) -> str:
        return self.index_printer.coefficient(self.index_printer.counted(c), True)

    def gradient(self, name: str, idx: str) -> str:
        """The gradient of the loss with respect to ``name``, or its element."""
        return self.gradient_of(self.tensor(name, ""), idx)


def _call(m: mx.M) -> bool:
    """A matrix form printed as a call of a named function, f(…): no brackets needed."""
    return isinstance(m, (mx.Fn, mx.AxisFn, mx.Conv, mx.Permute, mx.SumAxes, mx.Einsum,
                          mx.Reshape, mx.Slice, mx.Reduce, mx.Diagonal, mx.Diag)) and \
        not m.is_scalar
