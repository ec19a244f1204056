"""A py-libp2p host under `persist_host`, adding one peer to its peerstore at a time until it is
killed; run as a subprocess by test_libp2p_persistence.py.

    python libp2p_persist_child.py DIR INTERVAL

prints `ready` once the host runs (its state durable), then `added N T` after giving peer N its
address, T being `time.monotonic()` (one clock for every process of the machine).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from multiaddr import Multiaddr

from node_runtime import DirectoryStore
from node_runtime.libp2p_adapter import persist_host

HOST_SEED = b"\x31" * 32
STEP_S = 0.05
MAX_PEERS = 900  # below the peerstore's default limit of 1,000


def peer(n: int) -> ID:
    """Peer `n`: an Ed25519-shaped identity multihash, no key needed."""
    return ID(bytes.fromhex("002408011220") + n.to_bytes(32, "big"))


def address(n: int) -> Multiaddr:
    return Multiaddr(f"/ip4/10.{n >> 8 & 255}.{n & 255}.1/tcp/4001")


async def run(directory: Path, interval: float) -> None:
    host = new_host(key_pair=create_new_key_pair(HOST_SEED))
    with DirectoryStore(directory) as store:
        async with (
            persist_host(host, store, interval=interval),
            host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]),
        ):
            print("ready", flush=True)
            for n in range(MAX_PEERS):
                host.get_peerstore().add_addrs(peer(n), [address(n)], 0)
                print(f"added {n} {time.monotonic()}", flush=True)
                await trio.sleep(STEP_S)


if __name__ == "__main__":
    trio.run(run, Path(sys.argv[1]), float(sys.argv[2]))
