"""`list_fleet`: the nodes that keep their snapshots under one fleet prefix, each with its
newest generation, as `nodesnap store fleet` shows them.

A fleet is a prefix holding one prefix per node (`fleet/node-a`, `fleet/node-b`, …), each an
`ObjectStore`'s. One listing finds the node prefixes; each node then costs what
`ObjectStore.list()` reads (a listing, and a header per generation and per journal).
"""

from __future__ import annotations

from pathlib import PurePosixPath

import attrs
from obstore.store import ObjectStore as ObstoreStore

from node_runtime.object_storage.object_io import ObjectIO
from node_runtime.object_storage.object_store import ObjectStore
from node_runtime.snapshot_store import SnapshotRef
from node_runtime.store_files import SNAPSHOT_NAME

__all__ = ["FleetNode", "list_fleet"]


@attrs.frozen
class FleetNode:
    """A node of the fleet: its prefix (as `ObjectStore` takes it), how many generations it
    lists, and the newest of them (`None`: no snapshot whose header reads)."""

    prefix: str
    generations: int
    newest: SnapshotRef | None


def list_fleet(store: ObstoreStore, prefix: str) -> list[FleetNode]:
    """Every node prefix directly under `prefix` (`""`: the store's top level), in name
    order, with its newest listed generation (headers read, not verified). A prefix holding
    snapshots itself is a node's, not a fleet's: `ValueError`. Raises `StoreReadError` when
    the store cannot be read."""
    base = prefix.strip("/")
    where = f"{store!r}/{base}" if base else repr(store)  # messages name the bucket too
    listing = ObjectIO(store, where).listing(f"{base}/" if base else "")
    if any(SNAPSHOT_NAME.match(PurePosixPath(entry.key).name) for entry in listing.objects):
        raise ValueError(f"{base} holds snapshots: it is a node's prefix, not a fleet's")
    nodes = []
    for listed in sorted(listing.prefixes):
        node_prefix = listed.strip("/")
        try:
            node = ObjectStore(store, node_prefix, read_only=True)
        except ValueError:
            continue  # a name no node's prefix can have: not a node of ours
        refs = node.list()
        nodes.append(FleetNode(node_prefix, len(refs), refs[-1] if refs else None))
    return nodes
