"""Fixture files for the CLI tests, and running `nodesnap` as a user would (a subprocess)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import attrs
import msgpack
import pytest

from node_runtime import (
    DirectoryStore,
    Identity,
    IpList,
    ManualClock,
    Multiaddr,
    Node,
    PeerId,
    seal,
    sealed_file,
)
from node_runtime.cli.main import main
from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    TransientSnapshot,
    decode,
    encode,
    spec_version_of,
)

S = 1_000_000_000
GOLDEN_V1 = Path(__file__).resolve().parents[1] / "golden" / "v1"
IDENTITY = Identity.from_private_bytes(bytes([7]) * 32)
OTHER = Identity.from_private_bytes(bytes([8]) * 32)
KEY = bytes(range(32))
PEERS = [Identity.from_private_bytes(bytes([index]) * 32).peer_id for index in range(1, 5)]


@attrs.frozen
class Files:
    """Paths of the fixture files (all absolute)."""

    root: Path
    identity: Path  # IDENTITY's key file
    other_identity: Path  # OTHER's key file
    key: Path  # KEY as 64 hex digits
    a: Path  # snapshot A: signed, compressed, generation 1
    b: Path  # snapshot B, 5 s later: signed, encrypted, generation 2
    raw: Path  # snapshot A, encoded, no container
    plain: Path  # snapshot A sealed with no options, generation 1
    store: Path  # a DirectoryStore holding A (generation 1) and B (generation 2), signed

    def path(self, name: str) -> Path:
        return self.root / name


def snapshots() -> tuple[TransientSnapshot, TransientSnapshot]:
    """A: two peers with addresses (one expiring in 10 minutes), what identify said of one,
    a denied network, two envelopes queued. B, 5 s later: dials failed (one peer backing off,
    one down), a peer blocked, an envelope sent and another queued, an address added for 2
    minutes, the agent version changed and a latency measured, an allowed network, an
    extension, a command id minted."""
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    node.add_peer_address(PEERS[1], Multiaddr.from_string("/ip4/10.0.0.2/tcp/4001"), 600 * S)
    node.set_peer_protocols(PEERS[0], ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    node.put_peer_metadata(PEERS[0], "AgentVersion", "go-libp2p/0.36.2")
    node.governor.add_ip_network(IpList.DENY, "10.66.0.0/16")
    node.outbound.enqueue(b"hello")
    node.outbound.enqueue(b"world")
    a = node.snapshot()
    clock.advance(5 * S)
    node.record_dial_failure(PEERS[1])
    for _ in range(3):
        node.record_dial_failure(PEERS[2])
    node.governor.block(PEERS[3].to_bytes())
    node.outbound.pop()
    node.outbound.enqueue(b"again")
    quic = Multiaddr.from_string("/ip4/10.0.0.9/udp/4001/quic-v1")
    node.add_peer_address(PEERS[0], quic, 120 * S)
    node.put_peer_metadata(PEERS[0], "AgentVersion", "go-libp2p/0.37.0")
    node.record_latency(PEERS[0], 20_000_000)
    node.governor.add_ip_network(IpList.ALLOW, "10.0.0.0/8")
    node.set_extension("libp2p/pubsub-blacklist", bytes.fromhex("91c40201"))
    node.command_ids.mint()
    return a, node.snapshot()


def build_files(root: Path) -> Files:
    a, b = snapshots()
    files = Files(
        root=root,
        identity=root / "node.pem",
        other_identity=root / "other.pem",
        key=root / "key.hex",
        a=root / "a.nsnap",
        b=root / "b.nsnap",
        raw=root / "a.snapshot",
        plain=root / "plain.nsnap",
        store=root / "store",
    )
    IDENTITY.save(files.identity)
    OTHER.save(files.other_identity)
    files.key.write_text(KEY.hex() + "\n")
    files.key.chmod(0o600)  # a secret, kept as one: `--identity` refuses wider key files
    files.a.write_bytes(seal(a, generation=1, signer=IDENTITY, compress=True))
    files.b.write_bytes(seal(b, generation=2, signer=IDENTITY, encryption_key=KEY))
    files.raw.write_bytes(encode(a))
    files.plain.write_bytes(seal(a, generation=1))
    with DirectoryStore(files.store, signer=IDENTITY, fsync=False) as store:
        store.save(a)
        store.save(b)
    return files


def with_digest(data: bytes | bytearray) -> bytes:
    """`data` with its trailing SHA-256 recomputed: an edit the integrity check cannot see."""
    out = bytearray(data)
    out[-32:] = hashlib.sha256(out[:-32]).digest()
    return bytes(out)


def newer_container(files: Files) -> bytes:
    """An intact sealed file from a build with container version 2."""
    data = bytearray(files.plain.read_bytes())
    data[8:10] = (2).to_bytes(2, "big")
    return with_digest(data)


def newer_spec(files: Files) -> bytes:
    """A raw snapshot stamped with the spec version after this build's."""
    _version, body = msgpack.unpackb(files.raw.read_bytes())
    packed: bytes = msgpack.packb([CURRENT_SNAPSHOT_SPEC_VERSION + 1, body], use_bin_type=True)
    return packed


def version_1_golden(name: str, node: PeerId | None = None) -> bytes:
    """The bytes of `tests/golden/v1/NAME.msgpack`, a file a version 1 build wrote; with `node`,
    re-encoded with that PeerId as the node's own (to seal it signed by that node)."""
    golden = (GOLDEN_V1 / f"{name}.msgpack").read_bytes()
    if node is None:
        return golden
    version, body = msgpack.unpackb(golden, use_list=False, strict_map_key=False)
    framework = list(body[5])
    framework[6] = node.to_bytes()  # version 1's framework: peer_id_bytes is its 7th field
    body = (*body[:5], tuple(framework), *body[6:])
    packed: bytes = msgpack.packb((version, body), use_bin_type=True)
    return packed


def seal_version_1(
    encoded: bytes,
    *,
    generation: int,
    signer: Identity | None = None,
    encryption_key: bytes | None = None,
    compress: bool = False,
) -> bytes:
    """A sealed file as a version 1 build wrote it around the version 1 snapshot `encoded`.

    The container did not change with the spec version, so this is `seal` itself, handed the
    version 1 bytes as the encoded snapshot: what `seal` reads of the snapshot (its PeerId, time
    and spec version, for the header) comes from `encoded`.
    """
    migrated = decode(encoded)
    stand_in = SimpleNamespace(
        framework=SimpleNamespace(
            peer_id_bytes=migrated.framework.peer_id_bytes,
            spec_version=spec_version_of(encoded),
        ),
        taken_at=migrated.taken_at,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sealed_file, "encode", lambda _snapshot: encoded)
        return seal(
            cast(TransientSnapshot, stand_in),
            generation=generation,
            signer=signer,
            encryption_key=encryption_key,
            compress=compress,
        )


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    """`main(args)` in this process: the exit code and stdout's lines; stderr must stay empty."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out.splitlines()


def nodesnap(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m node_runtime ARGS` and check it never shows a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "node_runtime", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def assert_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    """Exit `code`, nothing on stdout, and one line on stderr: what is wrong — what to do."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nodesnap: error: ")
    assert " — " in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
