"""einderive: derive backpropagation with Einstein notation.

>>> import einderive
>>> d = einderive.derive("specs/mlp.yaml")            # doctest: +SKIP
>>> d.gradient("W").matrix_form                        # doctest: +SKIP
'∂L/∂z xᵀ'
>>> d                                                  # doctest: +SKIP
<Derivation mlp: 5 adjoints, grads W, x>

The package imports SymPy only when a derivation is asked for, so that
``einderive --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:  # imported for the signatures only: the package loads them on first use
    from .derivation import Derivation
    from .errors import SpecError
    from .graph import Graph
    from .spec import Spec

__all__ = ["__version__", "load", "loads", "derive", "Derivation", "SpecError"]


def load(path: str | os.PathLike[str]) -> Spec:
    """Read and check a spec file; see :mod:`einderive.spec`."""
    from .spec import load as _load
    return _load(path)


def loads(text: str, path: str = "<string>") -> Spec:
    """Read and check a spec from a string."""
    from .spec import loads as _loads
    return _loads(text, path)


def derive(spec: str | os.PathLike[str] | Spec | Graph) -> Derivation:
    r"""Derive every adjoint of a spec: a path, a :class:`~einderive.spec.Spec`, or YAML text.

    A ``str`` is YAML text when it holds a newline or starts like YAML: with
    ``{`` (a flow mapping) or ``key:`` and a blank; any other ``str``, and
    every ``os.PathLike``, is a path (``-`` is standard input).

    >>> d = derive("name: sq\ndims: {N: 3}\ninputs: {x: [N]}\n"
    ...            "forward: [L = sum(x * x)]\nloss: L\n")
    >>> d
    <Derivation sq: 1 adjoint, grads x>
    >>> d.gradient("x")
    <Gradient x: ∂L/∂x = 2 x>
    """
    from .derivation import derive as _derive
    from .graph import Graph
    from .spec import Spec
    if isinstance(spec, str) and is_yaml_text(spec):
        spec = loads(spec)
    elif isinstance(spec, (str, os.PathLike)):
        spec = load(spec)
    elif not isinstance(spec, (Spec, Graph)):
        raise TypeError(f"derive() takes a path, a Spec or YAML text, not "
                        f"{type(spec).__name__}")
    return _derive(spec)


def is_yaml_text(s: str) -> bool:
    r"""The rule :func:`derive` uses to tell YAML text from a path (see there).

    >>> [is_yaml_text(s) for s in ("specs/mlp.yaml", "C:\\specs\\mlp.yaml", "loss: L",
    ...                            "{loss: L}", "name: x\nloss: L\n")]
    [False, False, True, True, True]
    """
    import re
    return "\n" in s or re.match(r"\s*(\{|[A-Za-z_][\w-]*:(\s|$))", s) is not None


def __getattr__(name: str) -> type[Derivation] | type[SpecError]:
    if name == "Derivation":
        from .derivation import Derivation
        return Derivation
    if name == "SpecError":
        from .errors import SpecError
        return SpecError
    raise AttributeError(f"module 'einderive' has no attribute {name!r}")
