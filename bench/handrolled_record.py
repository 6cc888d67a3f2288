"""einderive's former record.py, kept for bench/record.py: immutable value objects that cost
nothing to define.

The package now makes every Record a ``dataclass(frozen=True, slots=True)``; the bench
copies this file over the package's record.py to time the two side by side.

``dataclasses`` compiles several methods per class with ``exec``: about a
millisecond each, and einderive defines some sixty such classes on the path
of every command.  A :class:`Record` subclass lists its fields as annotations
(defaults as class attributes, :func:`field` to leave one out of equality)
and shares one ``__init__``, ``__eq__``, ``__hash__`` and ``__repr__``.
"""

from __future__ import annotations

_MISSING = object()


class _Field:
    __slots__ = ("default", "factory", "compare")

    def __init__(self, default, factory, compare):
        self.default, self.factory, self.compare = default, factory, compare


def field(default=_MISSING, *, default_factory=None, compare: bool = True, repr: bool = True):
    """A field's default, or one left out of ``==``, ``hash`` and ``repr`` (``compare=False``)."""
    return _Field(default, default_factory, compare)


class Record:
    """Base of einderive's frozen value objects."""

    _fields: tuple = ()  # (name, default, factory, compare)
    _compared: tuple = ()

    def __init_subclass__(cls, slots=True, **kwargs):  # slots: the dataclass version's option
        super().__init_subclass__(**kwargs)
        inherited = {f[0]: f for f in cls._fields}
        order = [f[0] for f in cls._fields]
        for name in cls.__dict__.get("__annotations__", {}):
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Field):
                spec = (name, value.default, value.factory, value.compare)
            else:
                spec = (name, value, None, True)
            if name in cls.__dict__:
                delattr(cls, name)
            if name not in inherited:
                order.append(name)
            inherited[name] = spec
        cls._fields = tuple(inherited[n] for n in order)
        cls._compared = tuple(f[0] for f in cls._fields if f[3])

    def __init__(self, *args, **kwargs):
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields")
        for n, (name, default, factory, _) in enumerate(fields):
            if n < len(args):
                value = args[n]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif factory is not None:
                value = factory()
            elif default is not _MISSING:
                value = default
            else:
                raise TypeError(f"{type(self).__name__} needs '{name}'")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(kwargs))!r}")

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _key(self) -> tuple:
        return tuple(getattr(self, n) for n in self._compared)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash((self.__class__.__name__,) + self._key())

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._compared)
        return f"{type(self).__name__}({inner})"


def replace(obj: Record, **changes) -> Record:
    """A copy of ``obj`` with some fields changed (like ``dataclasses.replace``)."""
    values = {f[0]: getattr(obj, f[0]) for f in obj._fields}
    values.update(changes)
    return type(obj)(**values)


def fields(obj: Record) -> tuple:
    return tuple(f[0] for f in obj._fields)
