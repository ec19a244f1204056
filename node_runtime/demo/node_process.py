"""One demo node as its own OS process: `python -m node_runtime.demo.node_process DIR ...`.

A real py-libp2p host (TCP, Noise, yamux) on 127.0.0.1 with the node running alongside it, as
`persist_host` composes them: the node's identity in `DIR/identity.key`, its signed snapshots in
`DIR/store/`. At start it restores the newest snapshot there, if any, replays it into the fresh
host (peerstore with its TTLs, signed peer records, dial backoff, IP gate), enforces the node's
PeerId block and allow lists on the host's connections, autosaves under trio, and moves
envelopes with an `EnvelopeService`.

Commands arrive as JSON lines on stdin, events leave as JSON lines on stdout (each with its wall
time `at`, ns), so the orchestrator measures from what the node did, not from what it was told:

    {"cmd": "peer", "peer": ID, "addr": MULTIADDR, "ttl": S}  learn an address for S seconds
    {"cmd": "send", "to": ID, "count": N}         -> N x {"event": "sent", "to", "seq"}
    {"cmd": "block", "peer": ID}                  -> {"event": "blocked", "peer"}
    {"cmd": "mint", "count": N}                   -> {"event": "minted", "command", "exec"}
    {"cmd": "state"}                              -> {"event": "state", ...}
    {"cmd": "stop"}                               clean stop (final save) -> "stopped"

Unprompted: {"event": "ready", "addr", "restored", "restored_peerstore", ...state} once
listening, where `restored_peerstore` is what the restored host held before any peer could
connect to it (per peer: its addresses, its signed record's seq and whether it verifies), and
{"event": "delivered", "sender", "seq"} for each message put in the inbox. End of stdin (the
orchestrator died) stops the node too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Final

import trio
from cryptography.hazmat.primitives import serialization
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetwork
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.network.config import RetryConfig
from libp2p.peer.envelope import ENVELOPE_DOMAIN, consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError
from multiaddr import Multiaddr

from node_runtime.backoff import BackoffPolicy
from node_runtime.directory_store import DirectoryStore
from node_runtime.identity import Identity
from node_runtime.libp2p_adapter.autosave import TrioAutosave
from node_runtime.libp2p_adapter.change_tracker import HostChangeTracker
from node_runtime.libp2p_adapter.connection_notifee import ConnectionNotifee
from node_runtime.libp2p_adapter.envelope_service import EnvelopeService
from node_runtime.libp2p_adapter.envelope_wire import Envelope
from node_runtime.libp2p_adapter.host_access import swarm_of
from node_runtime.libp2p_adapter.peer_gate import install_peer_gate
from node_runtime.libp2p_adapter.peer_ids import libp2p_id_of, peer_id_of
from node_runtime.libp2p_adapter.replay import replay_into_host
from node_runtime.node import Node
from node_runtime.peer_id import PeerId
from snapshot_schema import TransientSnapshot

# Demo timings, so a run takes seconds: a restart staggers expired deadlines over 1 s, not 30 s.
# The failure threshold is the default: peers that go down are probed on their backoff schedule.
RESTART_STAGGER_NS: Final = 1_000_000_000
COOLDOWN_S: Final = 0.05
DIAL_TIMEOUT_S: Final = 2.0


def _emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, "at": time.time_ns(), **fields}) + "\n")
    sys.stdout.flush()


def _keys(path: Path) -> tuple[Identity, KeyPair]:
    """The node's identity, made on first start, and the same key as py-libp2p's key pair."""
    if not path.exists():
        Identity.from_private_bytes(os.urandom(32)).save(path)
    identity = Identity.load(path)  # refuses a key file others may read
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    seed = key.private_bytes(  # Identity.load checked it is Ed25519
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return identity, create_new_key_pair(seed)


def restore_node(snapshot: TransientSnapshot, identity: Identity, policy: BackoffPolicy) -> Node:
    """The node a snapshot restores (the demo's breakage tests wrap this, and `replay`)."""
    return Node.restore(
        snapshot, identity, backoff_policy=policy, restart_stagger_ns=RESTART_STAGGER_NS
    )


def replay(node: Node, host: IHost) -> None:
    replay_into_host(node, host)


def _libp2p_id(text: str) -> ID:
    return libp2p_id_of(PeerId.from_string(text))


def _peerstore(host: IHost) -> dict[str, dict[str, object]]:
    """Per peer the host holds: its unexpired addresses and its signed peer record's seq and
    whether it verifies (signature, and the record names that peer)."""
    store = host.get_peerstore()
    found: dict[str, dict[str, object]] = {}
    for peer_id in store.peer_ids():
        if peer_id == host.get_id():
            continue
        try:
            addrs = [str(address) for address in store.addrs(peer_id)]
        except PeerStoreError:
            addrs = []
        record: dict[str, object] | None = None
        envelope = store.get_peer_record(peer_id)
        if envelope is not None:
            try:
                _, peer_record = consume_envelope(envelope.marshal_envelope(), ENVELOPE_DOMAIN)
                record = {"seq": peer_record.seq, "verified": peer_record.peer_id == peer_id}
            except Exception:  # py-libp2p raises many types for a bad record
                record = {"seq": None, "verified": False}
        found[str(peer_id_of(peer_id))] = {"addrs": addrs, "record": record}
    return found


class _Connections(ConnectionNotifee):
    """Every connection this host made or accepted since it started: per peer, when (wall ns)
    and which way ("out": it dialled, "in": the peer did)."""

    def __init__(self) -> None:
        self.log: dict[str, list[tuple[int, str]]] = {}

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = str(peer_id_of(conn.muxed_conn.peer_id))
        way = "out" if conn.muxed_conn.is_initiator else "in"
        self.log.setdefault(peer, []).append((time.time_ns(), way))


class _Demo:
    """The node, its host and envelope service, and what the orchestrator asks of them."""

    def __init__(
        self, host: IHost, node: Node, service: EnvelopeService, connections: _Connections
    ) -> None:
        self.host = host
        self.node = node
        self.service = service
        self.connections = connections

    def state(self) -> dict[str, object]:
        """What the orchestrator checks; backoff deadlines as wall times, comparable across
        processes (a monotonic clock's origin is private to a process)."""
        node = self.node
        mono, wall = node.clock.monotonic_ns(), node.clock.wall_ns()
        connected = sorted(
            str(peer_id_of(peer_id))
            for peer_id, connections in self.host.get_network().get_connections_map().items()
            if any(not connection.is_closed for connection in connections)
        )
        return {
            "peer": str(node.peer_id),
            "host_peer": str(peer_id_of(self.host.get_id())),
            "blocked": sorted(str(PeerId.from_bytes(key)) for key in node.governor.blocklist),
            "backoff": {
                str(PeerId.from_bytes(key)): wall + state.next_retry_ns - mono
                for key, state in node.backoff.items()
            },
            "failed_dials": {
                str(PeerId.from_bytes(key)): state.attempts for key, state in node.backoff.items()
            },
            "counters": dict(node.counters.items()),
            "queued": [
                [str(envelope.destination), envelope.seq]
                for envelope in (Envelope.decode(e.envelope) for e in node.outbound.items())
            ],
            "next_command_id": node.command_ids.next_id,
            "next_exec_id": node.exec_ids.next_id,
            "connected": connected,
            "connections": self.connections.log,
        }

    def obey(self, command: dict[str, object]) -> None:
        node = self.node
        match command:
            case {"cmd": "peer", "peer": str(peer), "addr": str(addr), "ttl": int(ttl)}:
                self.host.get_peerstore().add_addrs(_libp2p_id(peer), [Multiaddr(addr)], ttl)
            case {"cmd": "send", "to": str(to), "count": int(count)}:
                for index in range(count):
                    seq = self.service.send(PeerId.from_string(to), b"demo message %d" % index)
                    _emit("sent", to=to, seq=seq)
            case {"cmd": "block", "peer": str(peer)}:
                node.block(PeerId.from_string(peer))  # autosaved at once; the gate cuts it
                _emit("blocked", peer=peer)
            case {"cmd": "mint", "count": int(count)}:
                commands = [node.command_ids.mint() for _ in range(count)]
                _emit("minted", command=commands, exec=[node.exec_ids.mint() for _ in range(count)])
            case {"cmd": "state"}:
                _emit("state", **self.state())
            case _:
                raise ValueError(f"unknown command {command!r}")

    async def report_deliveries(self) -> None:
        async for message in self.service.inbox:
            _emit("delivered", sender=str(message.sender), seq=message.seq)

    async def follow_commands(self) -> None:
        """Obey stdin's commands until `stop` or the end of stdin."""
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        pending = b""
        async with stdin:
            while chunk := await stdin.receive_some():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    command = json.loads(line)
                    if command == {"cmd": "stop"}:
                        return
                    self.obey(command)


async def run(directory: Path, port: int, backoff_s: float, autosave_s: float) -> None:
    identity, key_pair = _keys(directory / "identity.key")
    delay = round(backoff_s * 1e9)
    # A constant retry delay, no jitter: the demo checks a deadline it can predict.
    policy = BackoffPolicy(base_ns=delay, cap_ns=delay, multiplier=1, jitter=0.0)
    with DirectoryStore(directory / "store", signer=identity) as store:
        latest = store.latest()
        node = (
            Node(identity, backoff_policy=policy)
            if latest is None
            else restore_node(latest.snapshot, identity, policy)
        )
        host = new_host(key_pair=key_pair)
        # One TCP connect per dial (py-libp2p retries 3 times by default): the orchestrator's
        # traps count dials by their connections.
        swarm_of(host).retry_config = RetryConfig(max_retries=0)
        tracker = HostChangeTracker(host)
        gate = install_peer_gate(host, node)
        if latest is not None:
            replay(node, host)
        restored_peerstore = _peerstore(host)  # before any peer can connect and tell it more
        autosave = TrioAutosave(
            host, node, store, tracker=tracker, interval=autosave_s, cooldown=COOLDOWN_S
        )
        service = EnvelopeService(host, node, dial_timeout=DIAL_TIMEOUT_S)
        demo = _Demo(host, node, service, _Connections())
        host.get_network().register_notifee(demo.connections)
        try:
            async with host.run(listen_addrs=[Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")]):
                # py-libp2p's auto-connector dials every peer in the peerstore (on a node with
                # no public address, loopback ones too) on its own schedule, outside the
                # node's backoff: the demo's traps would count its dials.
                await swarm_of(host).auto_connector.stop()
                autosave.checkpointer.poll()  # the first save, at once
                await autosave.flush()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(autosave.run)
                    await nursery.start(service.run)
                    nursery.start_soon(demo.report_deliveries)
                    (address,) = host.get_transport_addrs()
                    _emit(
                        "ready",
                        addr=str(address),
                        restored=None if latest is None else latest.ref.generation,
                        restored_peerstore=restored_peerstore,
                        **demo.state(),
                    )
                    await demo.follow_commands()
                    nursery.cancel_scope.cancel()
                await autosave.aclose()
                with trio.CancelScope(shield=True):
                    await host.close()  # py-libp2p leaves listeners open after `run` ends
        finally:
            gate.uninstall()
            tracker.close()
    _emit("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description="one node of `nodesnap demo`")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backoff", type=float, required=True, metavar="SECONDS")
    parser.add_argument("--autosave", type=float, required=True, metavar="SECONDS")
    args = parser.parse_args()
    # stderr goes to the node's node.log: what the host did (refusals, failed dials).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("libp2p").setLevel(logging.WARNING)  # py-libp2p's INFO is chatty
    trio.run(run, args.directory, args.port, args.backoff, args.autosave)


if __name__ == "__main__":
    main()
