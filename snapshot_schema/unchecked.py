"""Build records without re-running their checks, for producers whose values are already valid.

The decoder validates values first and then needs the records: going through the frozen attrs
`__init__` would cost about as much again (it sets each slot through `object.__setattr__`).
- One record: a plain slotted twin with the same layout is built with fast attribute stores,
  and its `__class__` is switched to the record class. CPython allows that switch only between
  classes with identical slots; `unchecked_builder` verifies it up front.
- Many records (`unchecked_records`): no Python code runs per record at all. `map` allocates
  them with `object.__new__` and stores each field through the class's slot descriptors, one
  column at a time, both in C: under half the twin's cost per record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from types import MemberDescriptorType
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


_SLOT_SETTERS: dict[type[Any], tuple[Callable[[Any, Any], None], ...]] = {}


def _slot_setters(cls: type[Any]) -> tuple[Callable[[Any, Any], None], ...]:
    setters = _SLOT_SETTERS.get(cls)
    if setters is None:
        descriptors = [cls.__dict__.get(field.name) for field in attrs.fields(cls)]
        if not all(isinstance(slot, MemberDescriptorType) for slot in descriptors):
            raise TypeError(f"{cls.__name__} does not keep every field in its own slot")
        setters = _SLOT_SETTERS[cls] = tuple(slot.__set__ for slot in descriptors)  # type: ignore[union-attr]
    return setters


def unchecked_records(
    cls: type[T], columns: Sequence[Iterable[object]], count: int
) -> tuple[T, ...]:
    """`count` records of `cls`: record `j` has the `j`-th value of `columns[i]` as its `i`-th
    declared field (each column yields `count` values). Checks nothing, like
    `unchecked_builder`; the records equal `cls(*fields)`."""
    made: tuple[T, ...] = tuple(map(object.__new__, repeat(cls, count)))
    for setter, values in zip(_slot_setters(cls), columns, strict=True):
        deque(map(setter, made, values), maxlen=0)
    return made
