"""`ExtensionTable`: host-specific state a node carries through snapshots without reading it.

Gossipsub scores, connection-manager tags, anything a protocol built on the node must keep
across a restart: each under a namespace (`"libp2p/pubsub-blacklist"`), as opaque bytes its owner
encodes and decodes. The node stores, saves and restores them exactly, and nothing more.

The values count against one total (`DEFAULT_MAX_EXTENSION_BYTES`), because they all travel in
every snapshot and a snapshot `decode` refuses for its size would be a save that cannot be
restored.
"""

from __future__ import annotations

from collections.abc import Iterable

from node_runtime._component_checks import check_extension_name, check_int
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import (
    ComponentTypeError,
    ComponentValueError,
    ExtensionLimitError,
)
from snapshot_schema.checks import U64_MAX

DEFAULT_MAX_EXTENSION_BYTES = 64 * 1024 * 1024
"""The most bytes all extension values may hold together: a quarter of the largest snapshot
`decode` accepts by default (`DEFAULT_MAX_SNAPSHOT_SIZE`), so a large node's own tables still
fit beside them."""


class ExtensionTable(ChangeCounter):
    """Opaque bytes by namespace. Refused operations change nothing."""

    def __init__(self, *, max_total_bytes: int = DEFAULT_MAX_EXTENSION_BYTES) -> None:
        self._max_total = check_int(max_total_bytes, 0, U64_MAX, "max_total_bytes")
        self._values: dict[str, bytes] = {}
        self._total = 0
        self._changed_namespaces: ChangedKeys[str] = ChangedKeys()

    @classmethod
    def from_state(
        cls,
        items: Iterable[tuple[str, bytes]],
        *,
        max_total_bytes: int = DEFAULT_MAX_EXTENSION_BYTES,
    ) -> ExtensionTable:
        """A table holding exactly these `(namespace, data)` pairs, as `items()` yields them.
        A bad namespace or value, a namespace listed twice, or values over the total raise
        `ComponentValueError` with the path of the pair, e.g. `("items", 2, "namespace")`."""
        table = cls(max_total_bytes=max_total_bytes)
        for index, (namespace, data) in enumerate(items):
            check_extension_name(namespace, "items", index, "namespace")
            if namespace in table._values:
                raise ComponentValueError("namespace listed twice", ("items", index, "namespace"))
            _check_data(data, "items", index, "data")
            if table._total + len(data) > table._max_total:
                raise ComponentValueError(
                    f"extension values exceed {table._max_total} bytes in all",
                    ("items", index, "data"),
                )
            table._values[namespace] = data
            table._total += len(data)
        return table

    def items(self) -> tuple[tuple[str, bytes], ...]:
        """Every `(namespace, data)` pair, sorted by namespace, as a snapshot stores them."""
        return tuple(sorted(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    @property
    def total_bytes(self) -> int:
        """How many bytes the values hold together."""
        return self._total

    def take_changed_namespaces(self) -> set[str] | None:
        """The namespaces set or removed since the previous call; `None` on the first call."""
        return self._changed_namespaces.take()

    def get(self, namespace: str) -> bytes | None:
        """The data under `namespace`, or `None` if there is none."""
        if type(namespace) is not str:
            raise ComponentTypeError(
                f"expected `str`, got `{type(namespace).__name__}`", ("namespace",)
            )
        return self._values.get(namespace)

    def set(self, namespace: str, data: bytes) -> None:
        """Keep `data` under `namespace`, replacing what was there.

        Raises `ExtensionLimitError` if the values would then hold more than `max_total_bytes`
        together."""
        check_extension_name(namespace, "namespace")
        _check_data(data, "data")
        old = self._values.get(namespace)
        if old == data:
            return
        total = self._total - (0 if old is None else len(old)) + len(data)
        if total > self._max_total:
            raise ExtensionLimitError(
                f"extension values would hold {total} bytes, over the {self._max_total} allowed"
            )
        self._changed()
        self._changed_namespaces.add(namespace)
        self._values[namespace] = data
        self._total = total

    def remove(self, namespace: str) -> bool:
        """Drop the data under `namespace`; False if there was none."""
        check_extension_name(namespace, "namespace")
        old = self._values.pop(namespace, None)
        if old is None:
            return False
        self._changed()
        self._changed_namespaces.add(namespace)
        self._total -= len(old)
        return True


def _check_data(data: bytes, *path: str | int) -> None:
    # Exactly `bytes`: a `bytearray` or `memoryview` could still be changed by its owner.
    if type(data) is not bytes:
        raise ComponentTypeError(f"expected `bytes`, got `{type(data).__name__}`", path)
