"""einderive: derive backpropagation with Einstein notation.

>>> import einderive
>>> d = einderive.derive("specs/mlp.yaml")            # doctest: +SKIP
>>> d.gradient("W").matrix_form                        # doctest: +SKIP
'∂L/∂z xᵀ'

The package imports SymPy only when a derivation is asked for, so that
``einderive --help`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load", "loads", "derive", "Derivation", "SpecError"]


def load(path):
    """Read and check a spec file; see :mod:`einderive.spec`."""
    from .spec import load as _load
    return _load(path)


def loads(text: str, path: str = "<string>"):
    """Read and check a spec from a string."""
    from .spec import loads as _loads
    return _loads(text, path)


def derive(spec):
    """Derive every adjoint of a spec (a path, a YAML string is not accepted, or a Spec)."""
    import os

    from .derivation import derive as _derive
    if isinstance(spec, (str, os.PathLike)):
        spec = load(spec)
    return _derive(spec)


def __getattr__(name):
    if name == "Derivation":
        from .derivation import Derivation
        return Derivation
    if name == "SpecError":
        from .errors import SpecError
        return SpecError
    raise AttributeError(f"module 'einderive' has no attribute {name!r}")
