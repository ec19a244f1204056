"""A demo node whose restore is broken on purpose: `python demo_broken_node.py BREAKAGE DIR ...`.

It runs `node_runtime.demo.node_process` with one piece of restore taken out, so a test can see
the demo fail the check that piece is for. Each breakage edits the snapshot the node restores
from, or the host right after the replay, the way a faulty persistence layer would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import attrs
from libp2p.abc import IHost

from node_runtime.backoff import BackoffPolicy
from node_runtime.demo import node_process
from node_runtime.identity import Identity
from node_runtime.libp2p_adapter.replay import replay_into_host
from node_runtime.node import Node
from snapshot_schema import FrameworkSnapshot, TransientSnapshot


def _forget_marks(framework: FrameworkSnapshot) -> FrameworkSnapshot:
    counters = {k: v for k, v in framework.counters.items() if not k.startswith("host:delivered:")}
    return attrs.evolve(framework, counters=counters)


def _permanent_addresses(framework: FrameworkSnapshot) -> FrameworkSnapshot:
    book = [
        attrs.evolve(entry, expires_ns=(None,) * len(entry.addresses))
        for entry in framework.address_book
    ]
    return attrs.evolve(framework, address_book=book)


SNAPSHOT_BREAKAGES: dict[str, Callable[[FrameworkSnapshot], FrameworkSnapshot]] = {
    "blocklist": lambda f: attrs.evolve(
        f, peer_governor=attrs.evolve(f.peer_governor, blocklist=())
    ),
    "delivered-marks": _forget_marks,
    "address-ttls": _permanent_addresses,
    "signed-records": lambda f: attrs.evolve(
        f, peer_records=[attrs.evolve(r, signed_record=None) for r in f.peer_records]
    ),
    "backoff": lambda f: attrs.evolve(f, backoff_table=()),
    "outbound-queue": lambda f: attrs.evolve(f, pending_outbound=()),
    "id-allocators": lambda f: attrs.evolve(f, next_command_id=0, next_exec_id=0),
}


def _forget_addresses(node: Node, host: IHost) -> None:
    """Replay, then lose every address (and with them py-libp2p drops the signed records)."""
    replay_into_host(node, host)
    store = host.get_peerstore()
    for peer_id in store.peer_ids():
        if peer_id != host.get_id():
            store.clear_addrs(peer_id)


BREAKAGES = sorted([*SNAPSHOT_BREAKAGES, "addresses"])


def break_restore(breakage: str) -> None:
    if breakage == "addresses":
        node_process.replay = _forget_addresses
        return
    edit = SNAPSHOT_BREAKAGES[breakage]
    restore = node_process.restore_node

    def broken(snapshot: TransientSnapshot, identity: Identity, policy: BackoffPolicy) -> Node:
        return restore(attrs.evolve(snapshot, framework=edit(snapshot.framework)), identity, policy)

    node_process.restore_node = broken


if __name__ == "__main__":
    break_restore(sys.argv.pop(1))
    node_process.main()
