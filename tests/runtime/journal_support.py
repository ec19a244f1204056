"""A node that changes a little at each step, and a store journal written from its states."""

from __future__ import annotations

import random
from pathlib import Path

from node_runtime import Identity, JournalStore, ManualClock, Multiaddr, Node, PeerId
from snapshot_schema import TransientSnapshot, diff, make_delta
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    Change,
    Replace,
    SnapshotDelta,
    VersionedSnapshot,
)

S = 1_000_000_000
WALL0 = 1_764_000_000 * S
IDENTITY = Identity.from_private_bytes(b"\x05" * 32)
OTHER = Identity.from_private_bytes(b"\x06" * 32)
KEY = bytes(range(32))
PEERS = [Identity.from_private_bytes(bytes([0x40 + n]) * 32).peer_id for n in range(4)]
STEP = "step"


class ChangingNode:
    """A node whose every `step()` moves its clock one second and changes a counter, an
    address and a dial failure: consecutive snapshots differ in a few fields."""

    def __init__(self, identity: Identity = IDENTITY) -> None:
        clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=WALL0)
        self.node = Node(identity, clock=clock, rng=random.Random(5))  # the same states each run
        for index, peer in enumerate(PEERS):
            self.node.add_peer_address(peer, Multiaddr.from_string(f"/ip4/10.0.0.{index}/tcp/1"))

    def snapshot(self) -> TransientSnapshot:
        return self.node.snapshot()

    def tick(self) -> TransientSnapshot:
        """A smaller step: the clock and a counter only (deltas of about 100 bytes)."""
        self.node.counters.increment(STEP)
        clock = self.node.clock
        assert isinstance(clock, ManualClock)
        clock.advance(S)
        return self.node.snapshot()

    def step(self) -> TransientSnapshot:
        count = self.node.counters.increment(STEP)
        clock = self.node.clock
        assert isinstance(clock, ManualClock)
        clock.advance(S)
        peer: PeerId = PEERS[count % len(PEERS)]
        self.node.add_peer_address(peer, Multiaddr.from_string(f"/ip4/10.1.0.{count % 250}/tcp/2"))
        self.node.record_dial_failure(peer)
        return self.node.snapshot()


def journal(
    store: JournalStore, node: ChangingNode, deltas: int, *, small: bool = False
) -> list[TransientSnapshot]:
    """Save `node`'s snapshot in `store`, then append `deltas` deltas, one per step (a `tick`
    if `small`). The states, `[i]` being the state after `i` deltas."""
    first = node.snapshot()
    ref = store.save(first)
    assert ref.state is not None
    tip = VersionedSnapshot(ref.state, first)
    states = [first]
    for _ in range(deltas):
        tip = append_step(store, tip, node.tick() if small else node.step())
        states.append(tip.snapshot)
    return states


def delta_to(base: VersionedSnapshot, target: TransientSnapshot) -> SnapshotDelta:
    """The delta from `base` to `target` that replaces each field that differs: simple, and
    right for any pair (the journal does not care how a delta was made)."""
    changes: dict[str, Change] = {}
    for field in DELTA_FIELDS:
        old: object = base.snapshot
        new: object = target
        for name in field.path:
            old, new = getattr(old, name), getattr(new, name)
        if old != new:
            changes[field.name] = Replace(new)
    return make_delta(base.ref, target.taken_at, changes)


def append_step(
    store: JournalStore, tip: VersionedSnapshot, target: TransientSnapshot
) -> VersionedSnapshot:
    """Append the delta `diff` makes from `tip` to `target`; the new tip."""
    delta = diff(tip, target)
    ref = store.append(delta)
    assert ref.state == delta.target
    return VersionedSnapshot(delta.target, target)


def journal_path(directory: Path, generation: int) -> Path:
    return directory / f"{generation:020d}.journal"


def snapshot_path(directory: Path, generation: int) -> Path:
    return directory / f"{generation:020d}.nsnap"
