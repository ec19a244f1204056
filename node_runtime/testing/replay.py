"""Bring saved snapshots back as nodes, and check that a node survives snapshot and restore."""

from __future__ import annotations

import os
import random
from pathlib import Path

import attrs

from node_runtime.clock import Clock, ManualClock
from node_runtime.identity import Identity
from node_runtime.node import Node
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import looks_sealed, unseal
from node_runtime.storage_errors import SignatureMissingError
from node_runtime.testing.diff import format_diff, snapshot_diff
from snapshot_schema import ClockReading, TransientSnapshot, decode, encode


def clock_at(snapshot: TransientSnapshot) -> ManualClock:
    """A clock stopped at the instant `snapshot` was taken: restoring onto it rebases nothing."""
    return ManualClock(snapshot.taken_at.monotonic_ns, snapshot.taken_at.wall_ns)


def mark_redelivered(snapshot: TransientSnapshot, count: int | None = None) -> TransientSnapshot:
    """`snapshot` with its first `count` queued envelopes (all when `None`) flagged
    `redelivered`: what a node restored from it reports, since `Node.restore` flags every
    envelope still queued (it may have been sent just before the snapshot)."""
    outbound = snapshot.framework.pending_outbound
    marked = tuple(
        attrs.evolve(entry, redelivered=True) if count is None or index < count else entry
        for index, entry in enumerate(outbound)
    )
    return attrs.evolve(
        snapshot, framework=attrs.evolve(snapshot.framework, pending_outbound=marked)
    )


def replay_file(
    path: str | os.PathLike[str],
    identity: Identity,
    *,
    clock: Clock | None = None,
    encryption_key: bytes | None = None,
    expected_signer: PeerId | None = None,
) -> Node:
    """The node saved in `path`: a sealed `.nsnap` file (verified by `unseal`, with the key and
    signer given) or a raw encoded snapshot (`encode`'s bytes), told apart by the sealed magic.

    Restored onto `clock`, by default one stopped at the snapshot's instant, so the node comes
    back exactly as saved, deterministically. A raw file carries no signature: with
    `expected_signer` it is refused (`SignatureMissingError`).
    """
    data = Path(path).read_bytes()
    if looks_sealed(data):
        snapshot = unseal(
            data, encryption_key=encryption_key, expected_signer=expected_signer
        ).snapshot
    elif expected_signer is not None:
        raise SignatureMissingError(f"{path}: a raw encoded snapshot carries no signature")
    else:
        snapshot = decode(data)
    return Node.restore(
        snapshot, identity, clock=clock if clock is not None else clock_at(snapshot)
    )


def assert_restores_identically(
    node: Node, *, clock: Clock | None = None, rng: random.Random | None = None
) -> Node:
    """Snapshot `node`, encode, decode and restore it, and assert that the restored node's
    snapshot is the original's (queued envelopes flagged `redelivered`, as `Node.restore`
    promises). Raises `AssertionError` listing the differences by path; returns the restored
    node, configured as `node` is, to keep driving alongside it.

    `clock` (by default a new one stopped at the snapshot's instant) must read the snapshot's
    instant: restoring at another time rebases deadlines, so the snapshots would rightly differ.
    Pass `rng` to make the restored node's later jitter follow a known seed.
    """
    snapshot = node.snapshot()
    clock = clock if clock is not None else clock_at(snapshot)
    reading = ClockReading(clock.monotonic_ns(), clock.wall_ns())
    if reading != snapshot.taken_at:
        raise ValueError(f"clock reads {reading}, not the snapshot's instant {snapshot.taken_at}")
    restored = Node.restore(
        decode(encode(snapshot)),
        node.identity,
        clock=clock,
        rng=rng,
        backoff_policy=node.backoff.policy,
        max_outbound=node.outbound.max_len,
    )
    differences = snapshot_diff(mark_redelivered(snapshot), restored.snapshot())
    if differences:
        raise AssertionError(
            "the restored node differs from the original\n"
            + format_diff(differences, labels=("original", "restored"))
        )
    return restored
