"""One kill-and-restore scenario for a py-libp2p host, run as a subprocess against either of two
persistence layers: py-libp2p's own SQLite persistent peerstore, or nodesnap.

    python kill_restore_scenario.py populate {sqlite,nodesnap} DIR
        runs a host, gives its peerstore one peer per case below (and a failed dial, for the
        dial backoff), makes the state durable, prints `durable` and runs on until killed;
    python kill_restore_scenario.py restore {sqlite,nodesnap} DIR
        runs a fresh host with the same identity on what DIR holds and prints, as one JSON line,
        what its peerstore and swarm say about each case's peer.

Every peer and the host itself get keys from fixed seeds, so both phases know every PeerId.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from libp2p import new_host
from libp2p.abc import IHost, IPeerStore
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.network.config import ConnectionConfig
from libp2p.peer.envelope import seal_record
from libp2p.peer.id import ID
from libp2p.peer.peer_record import PeerRecord
from libp2p.peer.peerstore import PeerStoreError
from libp2p.peer.persistent import create_sync_sqlite_peerstore
from multiaddr import Multiaddr

from node_runtime import DirectoryStore, Identity, Node
from node_runtime.libp2p_adapter import replay_into_host, snapshot_host
from node_runtime.libp2p_adapter.host_access import negative_cache, swarm_of

HOST_SEED = bytes(range(0x40, 0x60))  # distinctive: the tests look for it in files
PERMANENT = 0  # py-libp2p's TTL for "never expires"
ADDRESS_TTL_S = 3_600
METADATA: dict[str, int | float | bool | str] = {
    "int": 5,
    "float": 0.25,
    "bool": True,
    "str": "agent/1.0",
}
PROTOCOLS = ["/ipfs/id/1.0.0", "/nodesnap/envelope/1"]

# One peer per case: what each one's state is meant to show.
CASES = ("control", "ttl", "cleared", "metadata", "signed_record", "no_addresses", "unreachable")
_SEEDS = {case: bytes([index + 1]) * 32 for index, case in enumerate(CASES)}


def key_pair(case: str) -> KeyPair:
    return create_new_key_pair(_SEEDS[case])


def peer_id(case: str) -> ID:
    return ID.from_pubkey(key_pair(case).public_key)


def address(case: str, port: int = 4001) -> Multiaddr:
    return Multiaddr(f"/ip4/10.0.{CASES.index(case)}.1/tcp/{port}")


RECORD_ADDRESSES = (address("signed_record", 4001), address("signed_record", 4002))
RECORD_SEQ = 7


def _refusing_port() -> tuple[socket.socket, int]:
    """A loopback port bound but not listening: a dial to it is refused at once, and no other
    process can take the port while the socket stays open."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


async def populate_peerstore(host: IHost) -> None:
    """Give the host one peer per case, and a dial backoff entry for `unreachable`."""
    store = host.get_peerstore()
    control = peer_id("control")
    store.add_addrs(control, [address("control")], PERMANENT)
    store.add_pubkey(control, key_pair("control").public_key)
    store.add_protocols(control, PROTOCOLS)

    store.add_addrs(peer_id("ttl"), [address("ttl")], ADDRESS_TTL_S)

    cleared = peer_id("cleared")
    store.add_addrs(cleared, [address("cleared")], PERMANENT)
    store.add_pubkey(cleared, key_pair("cleared").public_key)
    store.clear_addrs(cleared)

    metadata = peer_id("metadata")
    store.add_addrs(metadata, [address("metadata")], PERMANENT)
    for key, value in METADATA.items():
        store.put(metadata, key, value)

    record = PeerRecord(peer_id("signed_record"), list(RECORD_ADDRESSES), RECORD_SEQ)
    envelope = seal_record(record, key_pair("signed_record").private_key)
    if not store.consume_peer_record(envelope, PERMANENT):
        raise RuntimeError("the peerstore refused a valid signed peer record")

    no_addresses = peer_id("no_addresses")
    store.add_pubkey(no_addresses, key_pair("no_addresses").public_key)
    store.add_protocols(no_addresses, PROTOCOLS)

    unreachable = peer_id("unreachable")
    refusing, port = _refusing_port()
    with refusing:
        store.add_addrs(unreachable, [Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")], PERMANENT)
        try:
            await host.get_network().dial_peer(unreachable)
        except Exception:  # the failure is the point: it leaves a backoff
            pass
        else:
            raise RuntimeError("a dial to a refusing port succeeded")
    if not _in_backoff(host, unreachable):
        raise RuntimeError("the failed dial left no dial backoff entry")


def _in_backoff(host: IHost, peer: ID) -> bool:
    """Whether the swarm's dial backoff refuses `peer` now."""
    expiry = negative_cache(swarm_of(host)).entries.get(str(peer))
    return expiry is not None and expiry > time.monotonic()


# What a restored host says about each case.


def _addresses(store: IPeerStore, peer: ID) -> list[str] | str:
    try:
        return [str(addr) for addr in store.addrs(peer)]
    except PeerStoreError as error:
        return f"{type(error).__name__}: {error}"


def _ttl(store: IPeerStore, peer: ID) -> int | None:
    data = getattr(store, "peer_data_map", {}).get(peer)
    return None if data is None else int(data.get_ttl())


def _metadata(store: IPeerStore, peer: ID) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for key in METADATA:
        try:
            value = store.get(peer, key)
        except PeerStoreError:
            continue
        found[key] = [type(value).__name__, value]
    return found


def _signed_record(store: IPeerStore, peer: ID) -> dict[str, Any] | None:
    envelope = store.get_peer_record(peer)
    if envelope is None:
        return None
    try:
        record = envelope.record()
    except Exception as error:  # what record() raises is the observation
        return {"error": type(error).__name__}
    return {
        "peer_id": str(record.peer_id),
        "addrs": [str(addr) for addr in record.addrs],
        "seq": record.seq,
        "signer_matches": ID.from_pubkey(envelope.public_key) == record.peer_id,
    }


def _protocols(store: IPeerStore, peer: ID) -> list[str]:
    try:
        return sorted(store.get_protocols(peer))
    except PeerStoreError:
        return []


def _has_pubkey(store: IPeerStore, peer: ID) -> bool:
    try:
        store.pubkey(peer)
    except PeerStoreError:
        return False
    return True


async def _dial_outcome(host: IHost, peer: ID) -> str:
    """How a dial to `peer` fails: refused by the dial backoff, or tried and refused by TCP."""
    try:
        await host.get_network().dial_peer(peer)
    except Exception as error:  # the kind of failure is the observation
        return "backoff" if "negative cache" in str(error) else "dialled"
    return "connected"


async def observe(host: IHost) -> dict[str, Any]:
    store = host.get_peerstore()
    listed = set(store.peer_ids())
    seen: dict[str, Any] = {}
    for case in CASES:
        peer = peer_id(case)
        seen[case] = {
            "listed": peer in listed,
            "addrs": _addresses(store, peer),
            "ttl": _ttl(store, peer),
            "pubkey": _has_pubkey(store, peer),
            "protocols": _protocols(store, peer),
            "metadata": _metadata(store, peer),
            "signed_record": _signed_record(store, peer),
        }
    unreachable = peer_id("unreachable")
    seen["unreachable"]["in_backoff"] = _in_backoff(host, unreachable)
    seen["unreachable"]["dial"] = await _dial_outcome(host, unreachable)
    return seen


# The two persistence layers.


def _sqlite_path(directory: Path) -> Path:
    return directory / "peerstore.db"


def _host(peerstore: IPeerStore | None = None) -> IHost:
    # No auto-connector (it dials peerstore peers at start, when below its watermarks): the
    # only dials are the scenario's own, so the backoff observed is the one it made.
    quiet = ConnectionConfig(min_connections=0, low_watermark=0, high_watermark=0)
    return new_host(
        key_pair=create_new_key_pair(HOST_SEED), peerstore_opt=peerstore, connection_config=quiet
    )


async def _run_host(host: IHost, body: Callable[[IHost], Awaitable[None]]) -> None:
    async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        with trio.fail_after(30):
            await body(host)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _populate_sqlite(directory: Path) -> None:
    host = _host(create_sync_sqlite_peerstore(_sqlite_path(directory)))

    async def body(host: IHost) -> None:
        # Every put commits (py-libp2p's SQLite datastore), so the state is durable once written.
        await populate_peerstore(host)
        _say("durable")
        await trio.sleep_forever()

    await _run_host(host, body)


async def _restore_sqlite(directory: Path) -> None:
    host = _host(create_sync_sqlite_peerstore(_sqlite_path(directory)))

    async def body(host: IHost) -> None:
        _say(json.dumps(await observe(host)))

    await _run_host(host, body)


def _identity() -> Identity:
    return Identity.from_private_bytes(HOST_SEED)


async def _populate_nodesnap(directory: Path) -> None:
    store = DirectoryStore(directory)

    async def body(host: IHost) -> None:
        await populate_peerstore(host)
        store.save(snapshot_host(host, Node(_identity())))  # durable when it returns
        _say("durable")
        await trio.sleep_forever()

    await _run_host(_host(), body)


async def _restore_nodesnap(directory: Path) -> None:
    with DirectoryStore(directory) as store:
        stored = store.latest()
    if stored is None:
        raise RuntimeError(f"no snapshot in {directory}")
    node = Node.restore(stored.snapshot, _identity())

    async def body(host: IHost) -> None:
        replay_into_host(node, host)
        _say(json.dumps(await observe(host)))

    await _run_host(_host(), body)


PHASES: dict[tuple[str, str], Callable[[Path], Awaitable[None]]] = {
    ("populate", "sqlite"): _populate_sqlite,
    ("restore", "sqlite"): _restore_sqlite,
    ("populate", "nodesnap"): _populate_nodesnap,
    ("restore", "nodesnap"): _restore_nodesnap,
}


def main(argv: list[str]) -> None:
    phase, backend, directory = argv
    trio.run(PHASES[phase, backend], Path(directory))


if __name__ == "__main__":
    main(sys.argv[1:])
