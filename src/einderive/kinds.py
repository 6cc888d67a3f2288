"""The closed sets of names the engine hands to renderers, one enum each.

Each member is also its string (``TensorKind.ANON == "anon"``), prints as it, and
serializes to JSON as it, so outputs are the same bytes as when these were bare strings;
a misspelt kind is now an AttributeError where it is written, not a silent mismatch.
"""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    """A string enum whose members print and format as their value (as ``StrEnum`` does
    on Python 3.11+; einderive runs on 3.10)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class TensorKind(Kind):
    """What a graph tensor is: given, computed by a line, or computed inside a line."""

    INPUT = "input"
    NODE = "node"
    ANON = "anon"  # an intermediate inside a node's line


class RefKind(Kind):
    """What a matrix-form reference names."""

    TENSOR = "tensor"  # an input or a node
    ANON = "anon"  # an anonymous intermediate: prints as its own matrix form
    ADJOINT = "adjoint"  # ∂L/∂x
    TANGENT = "tangent"  # ẋ, a tangent (second.py)
    ROP = "rop"  # ℛ{∂L/∂x}, the tangent of an adjoint (second.py)


class ReduceKind(Kind):
    ROWSUM = "rowsum"  # X 𝟏, a column
    COLSUM = "colsum"  # Xᵀ 𝟏, a column
    SUM = "sum"  # every element: a scalar


class NoteKind(Kind):
    TARGET_SUMS_TO_ONE = "target-sums-to-one"
    EINSUM = "einsum"  # no matrix form for part of an adjoint
    NO_MATRIX_FORM = "no-matrix-form"  # none at all: only the index form is printed
    BATCHED = "batched"  # some forms are read per batch element (matrix.batch_of)


class Omission(Kind):
    """Why an adjoint has no closed form (``--expand`` says it in its place)."""

    TOO_LARGE = "too-large"  # written out, or its named parts, past closed.NAMED_LIMIT
    UPSTREAM_NONE = "upstream-none"  # an adjoint it reads has no closed form
    # it reads an adjoint otherwise than that adjoint's closed form is written (closed.py):
    OTHER_AXIS = "other-axis"  # per element of another axis (experts vs samples)
    # per element, and the form is a whole tensor (of three or more axes, or reading no
    # element, or with an op on a whole tensor's numbered axes inside)
    WHOLE_FORM = "whole-form"
    ELEMENT_FORM = "element-form"  # whole, under a sum over axes, and the form per element
    EACH_FORM = "each-form"  # per element, and the form per element too, but as one Each node
    EINSUM = "einsum"  # its chain form, or its closed form written out, needs an einsum
    NO_MATRIX = "no-matrix"  # its chain form has no matrix form: only its index form prints
    TEMPORARY = "temporary"  # it reads an adjoint inside a temporary (t1 = reshape(∂L/∂Q))


class Status(Kind):
    """A golden file's state after ``einderive check``."""

    PASSED = "passed"
    CHANGED = "changed"
    MISSING = "missing"
    WRITTEN = "written"
    ERROR = "error"


class Result(Kind):
    """One printed form's numeric check in ``einderive verify``."""

    PASS = "pass"
    FAIL = "fail"
    NONE = "none"  # the form is not printed, so there is nothing to check


class PseudoOp(Kind):
    """Graph-expression heads that are no op of the table: leaves and literals."""

    REF = "ref"  # a tensor by name
    NUM = "num"  # a number literal
    DIM = "dim"  # a dim's size
    STR = "str"
    BOOL = "bool"
    NONE = "none"  # the literal None
    TUPLE = "tuple"
    COMPARE = "compare"  # a comparison (where's condition)


# the line by which a golden's second-order section names what it was derived along, so that
# `check` derives it again (e.g. <!-- einderive hvp: W, x -->); written and read in one form
SECOND_MARKER = "<!-- einderive {}: {} -->"
# and the line by which it also holds the Gauss-Newton split (derive --gauss-newton)
GAUSS_NEWTON_MARKER = "<!-- einderive gauss-newton -->"
