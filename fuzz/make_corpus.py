"""Write the seed corpus, `fuzz/corpus/<target>/`: `python -m fuzz.make_corpus`.

Seeds are real encodings (the golden v1 snapshots, a busy node's snapshot, sealed files of every
flag combination) so that mutations start from structure, plus hand-made edge cases. The files
are committed; rerunning rewrites them (sealed seeds differ each time: encryption nonces are
random). libFuzzer adds what it finds to the first corpus directory it is given, so campaigns
write to `fuzz/work/`, never here.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from fuzz import TARGETS
from fuzz._fixtures import ENCRYPTION_KEY, IDENTITY
from fuzz.fuzz_sealed import EXPECT_SIGNER, FIX_DIGEST, REENCRYPT, RESIGN, WITH_KEY
from node_runtime import ManualClock, Multiaddr, Node, PeerId, seal
from node_runtime.sealed_file import MAGIC
from snapshot_schema import TransientSnapshot, decode, encode

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
GOLDEN_DIR = FUZZ_DIR.parent / "tests" / "golden" / "v1"
SMALL_GOLDENS = ("empty", "every_ingress", "typical", "unicode_names")
"""`maximal` (141 KiB) is left out: libFuzzer runs are capped at a few KiB per input."""

S = 1_000_000_000
TCP = "/ip4/10.0.0.1/tcp/4001"
QUIC = "/ip6/2001:db8::1/udp/4001/quic-v1"


def busy_snapshot() -> TransientSnapshot:
    """A snapshot of `IDENTITY`'s node with every framework table filled."""
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock, rng=random.Random(1))  # noqa: S311 - jitter
    peers = [PeerId.from_bytes(bytes.fromhex("1220") + bytes([n]) * 32) for n in range(1, 4)]
    node.add_peer_address(peers[0], Multiaddr.from_string(TCP))
    node.add_peer_address(peers[0], Multiaddr.from_string(QUIC))
    node.address_book.retain(peers[1].to_bytes())
    for _ in range(3):
        node.record_dial_failure(peers[1])
    node.record_dial_failure(peers[2])
    node.governor.block(peers[2].to_bytes())
    node.outbound.enqueue(b"\x0a\x05hello")
    node.counters.increment("envelopes_sent", 5)
    node.lifecycle.fire("started")
    node.bus.subscribe("peer_connected", 1)
    node.command_ids.mint()
    clock.advance(4 * S)
    return node.snapshot()


def goldens() -> dict[str, bytes]:
    return {name: (GOLDEN_DIR / f"{name}.msgpack").read_bytes() for name in SMALL_GOLDENS}


def hostile_snapshots() -> dict[str, bytes]:
    """Envelopes that probe each refusal of the decoder."""
    return {
        "empty": b"",
        "not-an-envelope": b"\x91\x01",
        "version-only": b"\x92\x01",
        "version-nil": b"\x92\xc0\x90",
        "version-2": b"\x92\x02\x90",
        "version-u64": b"\x92\xcf" + b"\xff" * 8 + b"\x90",
        "array32-max-claim": b"\x92\x01\xdd\xff\xff\xff\xff",
        "nested-arrays": b"\x92\x01" + b"\x91" * 2000 + b"\x90",
        "huge-int": b"\x92\x01\xcf" + b"\xff" * 8,
        "negative-int": b"\x92\x01\xd3" + b"\x80" + bytes(7),
        "ext": b"\x92\x01\xd4\x01\x00",
        "map": b"\x92\x01\x81\xa1a\x02",
        "map-duplicate-keys": b"\x92\x01\x82\xa1a\x01\xa1a\x02",
        "invalid-utf8": b"\x92\x01\xa2\xff\xfe",
        "float": b"\x92\x01\xcb" + bytes(8),
        "reserved-byte": b"\x92\x01\xc1",
        "bin32-max-claim": b"\x92\x01\xc6\xff\xff\xff\xff",
        "str32-max-claim": b"\x92\x01\xdb\xff\xff\xff\xff",
        # msgpack's skip wraps 2^32-1 + 1 to 0 and calls this 5-byte ext complete.
        "ext32-max-claim": b"\x92\x01\xc9\xff\xff\xff\xff",
    }


def with_trailing_garbage(data: bytes) -> bytes:
    return data + b"\x00garbage"


def sealed_seeds(snapshot: TransientSnapshot, name: str) -> dict[str, bytes]:
    """Every flag combination; encrypted ones also in the plaintext form `REENCRYPT` expects."""
    seeds: dict[str, bytes] = {}
    for signed in (False, True):
        for encrypted in (False, True):
            for compress in (False, True):
                file = seal(
                    snapshot,
                    generation=7,
                    signer=IDENTITY if signed else None,
                    encryption_key=ENCRYPTION_KEY if encrypted else None,
                    compress=compress,
                )
                label = "-".join(
                    part
                    for part, on in (("signed", signed), ("enc", encrypted), ("zlib", compress))
                    if on
                )
                label = f"{name}-{label or 'plain'}"
                base = FIX_DIGEST | (RESIGN if signed else 0) | (WITH_KEY if encrypted else 0)
                seeds[f"{label}"] = bytes([WITH_KEY | EXPECT_SIGNER * signed]) + file
                seeds[f"{label}-fix"] = bytes([base]) + file
                if encrypted:
                    seeds[f"{label}-reencrypt"] = bytes([base | REENCRYPT]) + plaintext_form(
                        file, signed
                    )
    return seeds


def plaintext_form(file: bytes, signed: bool) -> bytes:
    """`file` with its ciphertext replaced by the plaintext and a zeroed tag (see `REENCRYPT`)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header_length = struct.unpack_from(">H", file, 10)[0]
    body_length = struct.unpack_from(">Q", file, 42)[0]
    header = file[:header_length]
    body = file[header_length : header_length + body_length]
    plain = AESGCM(ENCRYPTION_KEY).decrypt(header[-12:], body, header)
    rest = file[header_length + body_length :]
    return header + plain + bytes(16) + rest


def hostile_sealed() -> dict[str, bytes]:
    return {
        "empty-file": b"\x01",
        "magic-only": b"\x01" + MAGIC,
        "magic-prefix": b"\x01" + MAGIC[:4],
        "wrong-magic": b"\x01" + b"\x89PNG\r\n\x1a\n" + bytes(60),
        "header-zeroes": b"\x01" + MAGIC + bytes(43 + 32),
    }


MULTIADDRS = (
    TCP,
    QUIC,
    "/dns4/example.com/tcp/443/wss",
    "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
    "/ip4/1.2.3.4/udp/443/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g",
    "/ip4/1.2.3.4/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
    "/ip6zone/eth0/ip6/fe80::1/tcp/80/http",
    "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234",
    "/unix/tmp/node.sock",
    "/ip4/0.0.0.0/ipcidr/8",
    "/sni/example.com/tls/noise/ws",
)


def multiaddr_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for index, text in enumerate(MULTIADDRS):
        address = Multiaddr.from_string(text)
        seeds[f"bin-{index:02}"] = b"\x00" + address.to_bytes()
        seeds[f"text-{index:02}"] = b"\x01" + text.encode()
    seeds.update(
        {
            "bin-empty": b"\x00",
            "bin-unknown-code": b"\x00\xff\xff\x03",
            "bin-overlong-varint": b"\x00\x84\x00\x7f\x00\x00\x01",
            "bin-truncated-ip4": b"\x00\x04\x7f\x00",
            "bin-length-claim": b"\x00\x35\xff\xff\xff\xff\x0f",
            "text-no-slash": b"\x01ip4/1.2.3.4",
            "text-invalid-utf8": b"\x01/dns/\xff\xfe",
            "text-port-range": b"\x01/ip4/1.2.3.4/tcp/65536",
            "text-ipfs-alias": b"\x01/ipfs/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
        }
    )
    return seeds


def peer_id_seeds() -> dict[str, bytes]:
    ed25519 = IDENTITY.peer_id
    sha256 = PeerId.from_bytes(bytes.fromhex("1220") + bytes(range(32)))
    seeds: dict[str, bytes] = {}
    for name, peer in (("ed25519", ed25519), ("sha256", sha256)):
        seeds[f"bin-{name}"] = b"\x00" + peer.to_bytes()
        seeds[f"base58-{name}"] = b"\x01" + str(peer).encode()
        seeds[f"cid-{name}"] = b"\x01" + peer.to_cid_string().encode()
    seeds.update(
        {
            "bin-empty": b"\x00",
            "bin-identity-huge-length": b"\x00\x00\xff\xff\xff\xff\x0f",
            "bin-blake2b": b"\x00\xa0\xe4\x02\x20" + bytes(32),
            "text-empty": b"\x01",
            "text-not-base58": b"\x0112D3KooW0OIl",
            "text-cidv0-prefix": b"\x01Qm",
            "text-base64-cid": b"\x01mAXIAJAgBEiA",
            "text-invalid-utf8": b"\x01\xff\xfe",
        }
    )
    return seeds


def seeds_for(target: str) -> dict[str, bytes]:
    snapshots = goldens()
    if target == "decode":
        seeds = {f"golden-{name}": data for name, data in snapshots.items()}
        seeds["busy-node"] = encode(busy_snapshot())
        seeds["trailing-garbage"] = with_trailing_garbage(snapshots["typical"])
        seeds.update({f"hostile-{name}": data for name, data in hostile_snapshots().items()})
        return seeds
    if target == "restore":
        seeds = {f"golden-{name}": data for name, data in snapshots.items()}
        seeds["busy-node"] = encode(busy_snapshot())
        return seeds
    if target == "sealed":
        typical = decode(snapshots["typical"])
        rebound = TransientSnapshot(
            taken_at=typical.taken_at,
            framework=busy_snapshot().framework,
            bus=typical.bus,
        )
        seeds = sealed_seeds(rebound, "busy")
        seeds.update(hostile_sealed())
        return seeds
    if target == "multiaddr":
        return multiaddr_seeds()
    return peer_id_seeds()


def main() -> None:
    for target in TARGETS:
        directory = CORPUS_DIR / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(seeds_for(target).items()):
            (directory / f"{name}.bin").write_bytes(data)
        print(f"{target}: {len(list(directory.iterdir()))} seeds in {directory}")


if __name__ == "__main__":
    main()
