"""Immutable value objects: a :class:`Record` subclass lists its fields as annotations and
shares one generic ``__init__``, ``__eq__``, ``__hash__`` and ``__repr__``.

A subclass lists its fields as annotations (defaults as class attributes, :func:`field`
to leave one out of ``==``/``hash`` (``compare=False``), out of ``repr`` (``repr=False``)
or out of the positional arguments (``kw_only=True``)); type checkers see the fields and
the constructor through ``dataclass_transform``.  Instances are frozen (assignment raises
``AttributeError``) and keep a ``__dict__``, so a ``cached_property`` works anywhere
(``slots=False`` in a class statement is accepted for the dataclass version's sake).

Why not ``dataclass(frozen=True, slots=True)``: ``dataclass`` compiles several methods
per class with ``exec``, and einderive defines some ninety such classes on the path of
every command.  Measured 2026-11-26 (bench/record.py's cold start: 30 pairs by turns of
``einderive derive specs/mlp.yaml``, CPU time, loaded 2-core machine): this base 0.782 s
vs the dataclass one 0.826 s, paired ratio 0.922 (IQR 0.869 .. 0.996); with ``import
sympy`` at 0.527 s the cold-start ratio is 1.48 vs 1.63.  bench/record.py keeps the
dataclass version as bench/dataclass_record.py to time the two side by side.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
elif sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # Python 3.10: only type checkers read the declaration
    def dataclass_transform(**_: Any) -> Any:
        return lambda cls: cls

R = TypeVar("R", bound="Record")
_MISSING: Any = object()
_set = object.__setattr__  # past the frozen __setattr__, for __init__ and the hash's cache


class _Field:
    """One field: name, default (or factory), and whether it is compared, shown, positional."""

    __slots__ = ("name", "default", "factory", "compare", "repr", "kw_only")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, compare: bool,
                 repr: bool, kw_only: bool, name: str = "") -> None:
        self.name, self.default, self.factory = name, default, factory
        self.compare, self.repr, self.kw_only = compare, repr, kw_only

    def named(self, name: str) -> _Field:
        return _Field(self.default, self.factory, self.compare, self.repr, self.kw_only, name)


def field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None,
          compare: bool = True, repr: bool = True, kw_only: bool = False) -> Any:
    """A field's default, or one left out of ``==``/``hash`` (``compare=False``), of
    ``repr`` (``repr=False``) or of the positional arguments (``kw_only=True``)."""
    return _Field(default, default_factory, compare, repr, kw_only)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of einderive's frozen value objects."""

    _fields: tuple[_Field, ...] = ()
    _positional: tuple[_Field, ...] = ()
    _compared: tuple[str, ...] = ()
    _shown: tuple[str, ...] = ()
    _names: tuple[str, ...] = ()
    _fill: tuple[tuple[str, Any, Any], ...] = ()
    _get_key: Callable[[Any], tuple[Any, ...]] = staticmethod(lambda r: ())
    _hash_: ClassVar[int | None] = None  # an instance's hash, set on it once computed

    def __init_subclass__(cls, slots: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = {f.name: f for f in cls._fields}  # inherited first, in order
        for name in cls.__dict__.get("__annotations__", {}):
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Field) else _Field(value, None, True, True, False)
            if name in cls.__dict__:
                delattr(cls, name)  # the instance holds the value
            fields[name] = spec.named(name)
        cls._fields = tuple(fields.values())
        positional = tuple(f for f in cls._fields if not f.kw_only)
        # the very tuple of the fields when all are positional (__init__'s fast path asks `is`)
        cls._positional = cls._fields if positional == cls._fields else positional
        cls._compared = tuple(f.name for f in cls._fields if f.compare)
        cls._names = tuple(f.name for f in cls._fields)
        cls._fill = tuple((f.name, f.factory, f.default) for f in cls._fields)
        # the compared fields as one tuple, read by a C getter (not a generator per key)
        cls._get_key = attrgetter(*cls._compared) if len(cls._compared) > 1 else \
            _getter(cls._compared)
        cls._shown = tuple(f.name for f in cls._fields if f.repr)
        if "__eq__" in cls.__dict__ and cls.__dict__.get("__hash__") is None:
            cls.__hash__ = Record.__hash__  # type: ignore[method-assign]  # as dataclass does

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._names
        if not kwargs and len(args) <= len(names) and self._positional is self._fields:
            # the leading fields given in order, the others left to their defaults, the way
            # almost every record is built (a matrix form's node, an edge, a row): the values
            # the general path below sets, in the same order, without building its dict
            for name, value in zip(names, args):
                _set(self, name, value)
            if len(args) < len(names):
                for name, factory, default in self._fill[len(args):]:
                    if factory is not None:
                        _set(self, name, factory())
                    elif default is not _MISSING:
                        _set(self, name, default)
                    else:
                        raise TypeError(f"{type(self).__name__} needs '{name}'")
            return
        fields = self._fields
        if len(args) > len(self._positional):
            raise TypeError(f"{type(self).__name__} takes {len(self._positional)} "
                            f"positional fields, {len(args)} given")
        values = dict(zip((f.name for f in self._positional), args))
        for f in self._fields:
            if f.name in kwargs:
                if f.name in values:
                    raise TypeError(f"{type(self).__name__} got '{f.name}' twice")
                values[f.name] = kwargs.pop(f.name)
            elif f.name in values:
                pass
            elif f.factory is not None:
                values[f.name] = f.factory()
            elif f.default is not _MISSING:
                values[f.name] = f.default
            else:
                raise TypeError(f"{type(self).__name__} needs '{f.name}'")
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(kwargs))!r}")
        # one attribute at a time, not __dict__.update(values): CPython then keeps the values
        # in the class's key-sharing layout (about 140 bytes a record of six fields) rather
        # than in a dict of the instance's own (about 340), and a derivation is mostly records
        for name, value in values.items():
            _set(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot assign {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return type(self)._get_key(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._key() == other._key()

    def __hash__(self) -> int:
        # computed once: a frozen record's hash cannot change, and a tree of records is
        # hashed again from every node above it (reuse and simplify key dicts by subtrees)
        cached = self._hash_
        if cached is None:
            cached = hash(self._key())
            _set(self, "_hash_", cached)
        return cached

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
        return f"{type(self).__qualname__}({inner})"


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The compared fields of a record with at most one, as a tuple (``attrgetter`` of one
    name gives the value itself)."""
    def get(r: Any) -> tuple[Any, ...]:
        return tuple(getattr(r, n) for n in names)
    return get


def replace(obj: R, **changes: Any) -> R:
    """A copy of ``obj`` with some fields changed (like ``dataclasses.replace``)."""
    cls = type(obj)
    if cls._positional is cls._fields and all(k in cls._names for k in changes):
        # every field positional: the values in order, through __init__'s fast path
        return cls(*[changes[n] if n in changes else getattr(obj, n) for n in cls._names])
    values = {f.name: getattr(obj, f.name) for f in obj._fields}
    values.update(changes)
    return type(obj)(**values)


def fields(obj: Record) -> tuple[str, ...]:
    """The names of ``obj``'s fields, in order."""
    return tuple(f.name for f in obj._fields)


__all__ = ["Record", "field", "fields", "replace"]
