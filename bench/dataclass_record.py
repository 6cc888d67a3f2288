"""einderive's former record.py (until 2026-11-26), kept for bench/record.py: every
:class:`Record` subclass is a ``dataclass(frozen=True, slots=True)``.

A subclass lists its fields as annotations (defaults as class attributes,
:func:`field` to leave one out of ``==``, ``hash`` or ``repr``); the base makes it a
frozen, slotted dataclass when the class statement runs, so no module repeats the
decorator and type checkers see the fields and the constructor (``dataclass_transform``).
A class whose instances cache something (a ``cached_property``, or ``slots=False`` in
its class statement) keeps a ``__dict__``.

The package's record.py is hand-rolled again (its docstring has the cold-start numbers);
bench/record.py copies this file over it to time the two side by side.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
elif sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # Python 3.10: only type checkers read the declaration
    def dataclass_transform(**_: Any) -> Any:
        return lambda cls: cls


class _Frozen(type):
    """Makes each class it creates (but :class:`Record` itself) a frozen dataclass."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                slots: bool = True, **kwargs: Any) -> _Frozen:
        cls = super().__new__(mcls, name, bases, ns, **kwargs)
        if "__slots__" in ns:  # Record itself, or the copy dataclass(slots=True) makes
            return cls
        caches = any(isinstance(v, cached_property) for v in ns.values())
        # no slots where they buy nothing or break something: instances of a base already
        # have a __dict__ (api.Derivation over a slots=False one), or the body calls a
        # zero-argument super() (its __class__ cell would name the class dataclass replaces)
        slots = slots and "__classcell__" not in ns and \
            all(b.__dictoffset__ == 0 for b in bases)
        # a __repr__ of a plain mixin (derivation._Shown) is kept, as it would be were it
        # written in the class: dataclass() only leaves alone what the class body defines
        # and so is one a Record base wrote by hand (derivation.Derivation's, under
        # api.Derivation): only a generated one is generated again for the subclass
        mixin_repr = any("__repr__" in vars(c) and (not isinstance(c, _Frozen) or
                                                    vars(c).get("_hand_repr", False))
                         for c in cls.__mro__[1:] if c is not object)
        made: Any = dataclasses.dataclass(frozen=True, slots=slots and not caches,
                                          repr=not mixin_repr)(cls)
        if "__repr__" in ns or mixin_repr:
            type.__setattr__(made, "_hand_repr", True)
        return made  # type: ignore[no-any-return]  # dataclass() is typed for plain classes

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                 slots: bool = True, **kwargs: Any) -> None:
        super().__init__(name, bases, ns, **kwargs)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record(metaclass=_Frozen):
    """Base of einderive's frozen value objects."""

    __slots__ = ()


def fields(obj: Record) -> tuple[str, ...]:
    """The names of ``obj``'s fields, in order."""
    return tuple(f.name for f in dataclasses.fields(obj))  # type: ignore[arg-type]


__all__ = ["Record", "field", "fields", "replace"]
