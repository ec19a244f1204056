"""Helpers for a host's tests: replay saved snapshots, check that a node survives snapshot and
restore, diff snapshots by path, and drive nodes with operations given as data.

Hypothesis strategies live in `node_runtime.testing.strategies` (it needs the `testing`
extra); the pytest plugin, `node_runtime.testing.pytest_plugin`, loads by itself once nodesnap
is installed. See `docs/testing.md`.

    >>> from node_runtime import Identity, ManualClock, Node
    >>> from node_runtime.testing import Operation, assert_restores_identically, run_operations
    >>> identity = Identity.from_private_bytes(bytes(32))
    >>> node = Node(identity, clock=ManualClock(monotonic_ns=10**12, wall_ns=10**18))
    >>> run_operations(node, [Operation("enqueue", (b"hello",)), Operation("mint_exec_id")])
    [Outcome(value=None, refused=None), Outcome(value=0, refused=None)]
    >>> restored = assert_restores_identically(node)
    >>> restored.outbound.pop()
    PendingEnvelope(envelope=b'hello', redelivered=True)
"""

from node_runtime.testing.diff import MISSING, Difference, format_diff, snapshot_diff
from node_runtime.testing.memory_store import MemoryStore
from node_runtime.testing.operations import (
    OPERATION_NAMES,
    Operation,
    Outcome,
    apply_operation,
    run_operations,
)
from node_runtime.testing.replay import (
    assert_restores_identically,
    clock_at,
    mark_redelivered,
    replay_file,
)
from node_runtime.testing.signed_records import seal_peer_record

__all__ = [
    "MISSING",
    "OPERATION_NAMES",
    "Difference",
    "MemoryStore",
    "Operation",
    "Outcome",
    "apply_operation",
    "assert_restores_identically",
    "clock_at",
    "format_diff",
    "mark_redelivered",
    "replay_file",
    "run_operations",
    "seal_peer_record",
    "snapshot_diff",
]
