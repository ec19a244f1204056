"""Build records without re-running their checks, for producers whose values are already valid.

The decoder validates a table row inline, in one pass, and then needs the record: going through
the frozen attrs `__init__` would cost about as much again (it sets each slot through
`object.__setattr__`). Instead a plain slotted twin with the same layout is built with fast
attribute stores, and its `__class__` is switched to the record class. CPython allows that
switch only between classes with identical slots; `unchecked_builder` verifies it up front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

T = TypeVar("T")


def _twin(cls: type[Any]) -> Callable[..., Any]:
    names = [field.name for field in attrs.fields(cls)]
    twin = attrs.make_class(
        f"_Unchecked{cls.__name__}", names, slots=True, weakref_slot=False, eq=False, repr=False
    )
    if getattr(twin, "__slots__", None) != getattr(cls, "__slots__", ()):
        raise TypeError(f"{cls.__name__} has a slot layout its unchecked twin cannot share")
    probe = twin(*([None] * len(names)))
    probe.__class__ = cls  # raises TypeError now, at import, if the layouts are incompatible
    return twin


def unchecked_builder(cls: type[T]) -> Callable[..., T]:
    """A function from `cls`'s fields, in declared order, to a `cls` record, checking nothing.

    Only for values already checked to satisfy `cls`'s rules; the result is indistinguishable
    from `cls(*fields)`.
    """
    twin = _twin(cls)

    def build(*fields: object) -> T:
        record = twin(*fields)
        record.__class__ = cls
        return record  # type: ignore[no-any-return]

    return build
