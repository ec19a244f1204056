"""Write the seed corpus, `fuzz/corpus/<target>/`: `python -m fuzz.make_corpus`.

Seeds are real encodings (the golden snapshots of the current version and of version 1, which
go through the migration, a busy node's snapshot with every kind of peer state, sealed files of
every flag combination) so that mutations start from structure, plus hand-made edge cases. The
files are committed; rerunning rewrites them and removes seeds no longer made (sealed seeds
differ each time: encryption nonces are random). libFuzzer adds what it finds to the first
corpus directory it is given, so campaigns write to `fuzz/work/`, never here.
"""

from __future__ import annotations

import math
import random
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import msgpack

from fuzz import TARGETS
from fuzz._fixtures import ENCRYPTION_KEY, IDENTITY
from fuzz.fuzz_sealed import EXPECT_SIGNER, FIX_DIGEST, REENCRYPT, RESIGN, WITH_KEY
from node_runtime import (
    Identity,
    IpList,
    ManualClock,
    Multiaddr,
    Node,
    PeerId,
    seal,
    sign_peer_record,
)
from node_runtime.sealed_file import MAGIC
from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    DELTA_FIELDS,
    EnvelopeIngress,
    PendingOutboundEntry,
    TransientSnapshot,
    decode,
    diff,
    encode,
    encode_delta,
)

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
GOLDEN_DIR = FUZZ_DIR.parent / "tests" / "golden"
SMALL_GOLDENS = {
    f"v{CURRENT_SNAPSHOT_SPEC_VERSION}": (
        "empty",
        "every_ingress",
        "typical",
        "unicode_names",
        "peer_state",
        "peer_state_edges",
    ),
    "v1": ("empty", "every_ingress", "typical", "unicode_names"),
}
"""The goldens of each version; `maximal` (141 KiB) is left out: libFuzzer runs are capped at a
few KiB per input."""

S = 1_000_000_000
TCP = "/ip4/10.0.0.1/tcp/4001"
QUIC = "/ip6/2001:db8::1/udp/4001/quic-v1"


PEER_IDENTITY = Identity.from_private_bytes(bytes([1]) * 32)
"""A peer of the busy node, whose signed peer record it holds."""


def busy_snapshot() -> TransientSnapshot:
    """A snapshot of `IDENTITY`'s node with every framework table filled: addresses expiring
    and permanent, a peer record of every field (a signed record that verifies), IP filters
    and an extension."""
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock, rng=random.Random(1))  # noqa: S311 - jitter
    peers = [PeerId.from_bytes(bytes.fromhex("1220") + bytes([n]) * 32) for n in range(1, 4)]
    node.add_peer_address(peers[0], Multiaddr.from_string(TCP), ttl_ns=600 * S)
    node.add_peer_address(peers[0], Multiaddr.from_string(QUIC))
    signer = PEER_IDENTITY.peer_id
    node.add_peer_address(signer, Multiaddr.from_string(TCP), ttl_ns=3_600 * S)
    node.set_peer_public_key(signer, signer.to_bytes()[2:])  # the identity PeerId embeds it
    node.set_peer_protocols(signer, ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    for key, value in METADATA.items():
        node.put_peer_metadata(signer, key, value)
    node.record_latency(signer, 1_500_000)
    node.consume_signed_record(
        signer, sign_peer_record(PEER_IDENTITY, 7, [Multiaddr.from_string(TCP)])
    )
    node.add_peer_protocols(peers[1], ["/ipfs/kad/1.0.0"])
    node.governor.add_ip_network(IpList.ALLOW, "10.0.0.0/8")
    node.governor.add_ip_network(IpList.DENY, "10.66.0.0/16")
    node.governor.add_ip_network(IpList.DENY, "fd00::/8")
    node.set_extension("libp2p/pubsub-blacklist", b"\x91\x00")
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


METADATA: dict[str, Any] = {
    "AgentVersion": "nodesnap/0.1",
    "dials": 12,
    "debt": -3,
    "score": 0.25,
    "relay": False,
    "cookie": b"\x01\x02",
    "note": None,
}
"""A metadata value of every type."""


def goldens() -> dict[str, bytes]:
    """The small goldens, `<name>` of the current version and `v1-<name>` of version 1."""
    current = f"v{CURRENT_SNAPSHOT_SPEC_VERSION}"
    return {
        (name if version == current else f"{version}-{name}"): (
            GOLDEN_DIR / version / f"{name}.msgpack"
        ).read_bytes()
        for version, names in SMALL_GOLDENS.items()
        for name in names
    }


ENVELOPE = bytes([0x92, CURRENT_SNAPSHOT_SPEC_VERSION])
V1_ENVELOPE = b"\x92\x01"


def hostile_snapshots() -> dict[str, bytes]:
    """Envelopes that probe each refusal of the decoder, and the migration's."""
    return {
        "empty": b"",
        "not-an-envelope": b"\x91\x01",
        "version-only": ENVELOPE,
        "version-nil": b"\x92\xc0\x90",
        "version-newer": bytes([0x92, CURRENT_SNAPSHOT_SPEC_VERSION + 1, 0x90]),
        "version-u64": b"\x92\xcf" + b"\xff" * 8 + b"\x90",
        "array32-max-claim": ENVELOPE + b"\xdd\xff\xff\xff\xff",
        "nested-arrays": ENVELOPE + b"\x91" * 2000 + b"\x90",
        "huge-int": ENVELOPE + b"\xcf" + b"\xff" * 8,
        "negative-int": ENVELOPE + b"\xd3" + b"\x80" + bytes(7),
        "ext": ENVELOPE + b"\xd4\x01\x00",
        "map": ENVELOPE + b"\x81\xa1a\x02",
        "map-duplicate-keys": ENVELOPE + b"\x82\xa1a\x01\xa1a\x02",
        "invalid-utf8": ENVELOPE + b"\xa2\xff\xfe",
        "float": ENVELOPE + b"\xcb" + bytes(8),
        "reserved-byte": ENVELOPE + b"\xc1",
        "bin32-max-claim": ENVELOPE + b"\xc6\xff\xff\xff\xff",
        "str32-max-claim": ENVELOPE + b"\xdb\xff\xff\xff\xff",
        # msgpack's skip wraps 2^32-1 + 1 to 0 and calls this 5-byte ext complete.
        "ext32-max-claim": ENVELOPE + b"\xc9\xff\xff\xff\xff",
        "v1-version-only": V1_ENVELOPE,
        "v1-nested-arrays": V1_ENVELOPE + b"\x91" * 2000 + b"\x90",
        "v1-empty-body": V1_ENVELOPE + b"\x90",
    }


Body = list[Any]


def _peer_state_body() -> Body:
    """The `peer_state` golden's body as lists, ready to change."""
    data = (GOLDEN_DIR / f"v{CURRENT_SNAPSHOT_SPEC_VERSION}" / "peer_state.msgpack").read_bytes()
    body: Body = msgpack.unpackb(data)[1]
    return body


def _framework_change(change: Callable[[Body], object]) -> bytes:
    body = _peer_state_body()
    change(body[5])
    return msgpack.packb([CURRENT_SNAPSHOT_SPEC_VERSION, body], use_bin_type=True)


def _metadata_value(value: object) -> Callable[[Body], object]:
    return lambda framework: framework[9][0][3][0].__setitem__(1, value)


def peer_state_edges() -> dict[str, bytes]:
    """The `peer_state` golden with one version 2 value at or past an edge each: what the
    column tests and the walk must judge alike."""
    edges = {
        "metadata-nan": _framework_change(_metadata_value(math.nan)),
        "metadata-negative-zero": _framework_change(_metadata_value(-0.0)),
        "metadata-int64-min": _framework_change(_metadata_value(-(2**63))),
        "metadata-u64-max": _framework_change(_metadata_value(2**64 - 1)),
        "metadata-keys-reversed": _framework_change(lambda f: f[9][0][3].reverse()),
        "protocols-reversed": _framework_change(lambda f: f[9][0][2].reverse()),
        "key-of-another-peer": _framework_change(lambda f: f[9][1].__setitem__(1, f[9][0][1])),
        "key-private-sized": _framework_change(
            lambda f: f[9][0].__setitem__(1, bytes.fromhex("08011240") + bytes(64))
        ),
        "ip-host-bits": _framework_change(lambda f: f[3][4][0].__setitem__(0, b"\x0a\x01\x02\x03")),
        "ip-prefix-33": _framework_change(lambda f: f[3][4][0].__setitem__(1, 33)),
        "expiries-one-short": _framework_change(lambda f: f[2][0][3].pop()),
        "extension-capital": _framework_change(lambda f: f[10][0].__setitem__(0, "Libp2p")),
        "extension-129": _framework_change(lambda f: f[10][0].__setitem__(0, "a" * 129)),
    }
    # Floats as float 32, which a decoder accepts and re-encodes as float 64.
    body = _peer_state_body()
    edges["metadata-float32"] = msgpack.packb(
        [CURRENT_SNAPSHOT_SPEC_VERSION, body], use_bin_type=True, use_single_float=True
    )
    return edges


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


DELTA_GOLDEN_DIR = GOLDEN_DIR / "delta-v1"


def delta_goldens() -> dict[str, bytes]:
    """Every delta golden (each at most a few KiB)."""
    return {path.stem: path.read_bytes() for path in sorted(DELTA_GOLDEN_DIR.glob("*.msgpack"))}


def busy_delta() -> bytes:
    """The delta from the busy node's snapshot to a later one: counters and blocklist patched,
    a peer's rows removed from every table, the outbound queue and ingress spliced."""
    before = busy_snapshot()
    framework = before.framework
    gone = framework.address_book[0].peer_id
    governor = attrs.evolve(
        framework.peer_governor,
        blocklist=framework.peer_governor.blocklist | {PEER_IDENTITY.peer_id.to_bytes()},
    )
    outbound = (*framework.pending_outbound[1:], PendingOutboundEntry(b"\x0a\x02hi"))
    later = attrs.evolve(
        before,
        taken_at=attrs.evolve(before.taken_at, monotonic_ns=before.taken_at.monotonic_ns + S),
        framework=attrs.evolve(
            framework,
            counters={**framework.counters, "envelopes_sent": 6, "dials_failed": 1},
            address_book=[row for row in framework.address_book if row.peer_id != gone],
            peer_governor=governor,
            pending_outbound=outbound,
        ),
        ingress=(*before.ingress, EnvelopeIngress(b"\x0a\x01x")),
    )
    return encode_delta(diff(before, later, generation=7))


DELTA_ENVELOPE = b"\x92\x01"
_FIELD = {field.name: field.id for field in DELTA_FIELDS}


def _delta(changes: list[Any], **head: object) -> bytes:
    """A delta written by hand: `head` may replace the body's first four elements."""
    body = [
        head.get("snapshot_spec_version", CURRENT_SNAPSHOT_SPEC_VERSION),
        head.get("base", [7, 3, bytes(32)]),
        head.get("target", [7, 4, bytes(range(32))]),
        head.get("taken_at", [1, 2]),
        changes,
    ]
    return msgpack.packb([1, body], use_bin_type=True)


PEER_A = bytes.fromhex("1220") + bytes(32)
PEER_B = bytes.fromhex("1220") + bytes([1]) * 32


def hostile_deltas() -> dict[str, bytes]:
    """Deltas that probe each refusal of the delta decoder."""
    row = [PEER_A, [b"\x01"], 1, [None]]
    return {
        "empty": b"",
        "not-an-envelope": b"\x91\x01",
        "version-only": DELTA_ENVELOPE,
        "version-nil": b"\x92\xc0\x90",
        "version-newer": b"\x92\x02\x90",
        "version-zero": b"\x92\x00\x90",
        "body-of-four": msgpack.packb([1, [2, [7, 3, bytes(32)], [7, 4, bytes(32)], [1, 2]]]),
        "snapshot-version-newer": _delta([], snapshot_spec_version=3),
        "another-generation": _delta([], target=[8, 4, bytes(32)]),
        "sequence-not-above": _delta([], target=[7, 3, bytes(32)]),
        "digest-31-bytes": _delta([], base=[7, 3, bytes(31)]),
        "unknown-field": _delta([[99, 0, []]]),
        "fields-descending": _delta([[_FIELD["slot_table"], 0, []], [_FIELD["frontier"], 0, []]]),
        "value-patched": _delta([[_FIELD["failure_threshold"], 1, [[], 3]]]),
        "map-spliced": _delta([[_FIELD["counters"], 2, [0, 0, []]]]),
        "unknown-op": _delta([[_FIELD["frontier"], 3, []]]),
        "removed-out-of-order": _delta([[_FIELD["counters"], 1, [["b", "a"], []]]]),
        "removed-also-upserted": _delta([[_FIELD["counters"], 1, [["a"], [["a", 1]]]]]),
        "removed-slot-not-a-pair": _delta([[_FIELD["slot_table"], 1, [[[1]], []]]]),
        "upserted-out-of-peer-order": _delta(
            [[_FIELD["address_book"], 1, [[], [[PEER_B, *row[1:]], row]]]]
        ),
        "allowlist-patched-to-nil": _delta([[_FIELD["allowlist"], 1, [[], None]]]),
        "splice-negative": _delta([[_FIELD["ingress"], 2, [-1, 0, []]]]),
        "nested-arrays": DELTA_ENVELOPE + b"\x91" * 2000 + b"\x90",
        "array32-max-claim": DELTA_ENVELOPE + b"\xdd\xff\xff\xff\xff",
        "map": DELTA_ENVELOPE + b"\x81\xa1a\x02",
    }


def seeds_for(target: str) -> dict[str, bytes]:
    snapshots = goldens()
    if target == "decode":
        seeds = {f"golden-{name}": data for name, data in snapshots.items()}
        seeds["busy-node"] = encode(busy_snapshot())
        seeds["trailing-garbage"] = with_trailing_garbage(snapshots["typical"])
        seeds.update({f"hostile-{name}": data for name, data in hostile_snapshots().items()})
        seeds.update({f"edge-{name}": data for name, data in peer_state_edges().items()})
        return seeds
    if target == "restore":
        seeds = {f"golden-{name}": data for name, data in snapshots.items()}
        seeds["busy-node"] = encode(busy_snapshot())
        seeds["edge-metadata-float32"] = peer_state_edges()["metadata-float32"]
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
    if target == "decode_delta":
        seeds = {f"golden-{name}": data for name, data in delta_goldens().items()}
        seeds["busy-node"] = busy_delta()
        seeds["trailing-garbage"] = with_trailing_garbage(seeds["golden-patches"])
        seeds["snapshot-typical"] = snapshots["typical"]  # a snapshot is no delta
        seeds.update({f"hostile-{name}": data for name, data in hostile_deltas().items()})
        return seeds
    if target == "multiaddr":
        return multiaddr_seeds()
    return peer_id_seeds()


def main(targets: list[str] | None = None) -> None:
    """Write the seeds of `targets` (every target by default: `python -m fuzz.make_corpus
    [target ...]`)."""
    unknown = sorted(set(targets or ()) - set(TARGETS))
    if unknown:
        raise SystemExit(f"unknown targets {unknown}: choose from {', '.join(TARGETS)}")
    for target in targets or TARGETS:
        directory = CORPUS_DIR / target
        directory.mkdir(parents=True, exist_ok=True)
        seeds = {f"{name}.bin": data for name, data in seeds_for(target).items()}
        for stale in {path.name for path in directory.glob("*.bin")} - set(seeds):
            (directory / stale).unlink()
        for name, data in sorted(seeds.items()):
            (directory / name).write_bytes(data)
        print(f"{target}: {len(list(directory.iterdir()))} seeds in {directory}")


if __name__ == "__main__":
    main(sys.argv[1:])
