"""What `inspect` and `diff` show of the peer state spec version 2 added: address expiries
(relative to the snapshot's instant), IP filters, peer records and extensions; in text bounded
by `--limit` whatever the snapshot's size, in JSON complete and typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from cli_support import IDENTITY, PEERS, S, run

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from node_runtime.cli.peer_state import duration
from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerRecordSnapshot,
    TransientSnapshot,
    encode,
)

NOW = 3_600 * S  # the snapshot's monotonic instant
TCP = bytes.fromhex("040a000001060fa1")  # /ip4/10.0.0.1/tcp/4001
QUIC = bytes.fromhex("040a00000291020fa1cd03")  # /ip4/10.0.0.2/udp/4001/quic-v1
KEY_0 = PEERS[0].to_bytes()[2:]  # an identity-multihash PeerId embeds its public key
P0, P1, P2 = (str(peer) for peer in PEERS[:3])


def snapshot() -> TransientSnapshot:
    """One peer with a permanent and an expiring address, another's address expired before the
    snapshot; IP filters; two peer records (one with everything); an extension."""
    return TransientSnapshot(
        taken_at=ClockReading(NOW, 1_764_000_000 * S),
        framework=FrameworkSnapshot(
            address_book=(
                AddressBookEntrySnapshot(
                    PEERS[0].to_bytes(), (TCP, QUIC), 1, (None, NOW + 120 * S)
                ),
                AddressBookEntrySnapshot(PEERS[1].to_bytes(), (TCP,), 0, (NOW - 5 * S,)),
            ),
            peer_governor=PeerGovernorSnapshot(
                ip_allow=["10.0.0.0/8", "fd00::/8"], ip_deny=["10.66.0.0/16"]
            ),
            peer_id_bytes=IDENTITY.peer_id.to_bytes(),
            peer_records=(
                PeerRecordSnapshot(
                    PEERS[0].to_bytes(),
                    public_key=KEY_0,
                    protocols=["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"],
                    metadata={
                        "agent": "nodesnap/0.1",
                        "dials": 1,
                        "score": 0.25,
                        "cookie": b"\1\2",
                    },
                    latency_ns=1_500_000,
                    signed_record=bytes(180),
                ),
                PeerRecordSnapshot(PEERS[1].to_bytes(), metadata={"relay": False, "note": None}),
            ),
            extensions={"libp2p/pubsub-blacklist": b"\x91\x00"},
        ),
    )


def write(path: Path, value: TransientSnapshot) -> Path:
    path.write_bytes(encode(value))
    return path


def edited(value: TransientSnapshot, **changes: Any) -> TransientSnapshot:
    return attrs.evolve(value, framework=attrs.evolve(value.framework, **changes))


def test_inspect_summarises_the_peer_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "inspect", write(tmp_path / "s.snapshot", snapshot()))
    assert code == ExitCode.OK
    assert "  address book  2 peers, 3 addresses (2 expiring)" in lines
    assert "  ip filter     allow 2 networks, deny 1 networks" in lines
    assert "  peer records  2 peers, 1 with a public key, 1 with a signed record" in lines
    assert "  extensions    1 namespaces (2 bytes)" in lines


def test_inspect_lists_expiries_ip_filters_peer_records_and_extensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "inspect", write(tmp_path / "s.snapshot", snapshot()))
    assert code == ExitCode.OK
    assert lines[lines.index("address book (2 peers)") :] == [
        "address book (2 peers)",
        f"  {P0} refs 1",
        "    /ip4/10.0.0.1/tcp/4001  permanent",
        "    /ip4/10.0.0.2/udp/4001/quic-v1  expires in 2m00s",
        f"  {P1} refs 0",
        "    /ip4/10.0.0.1/tcp/4001  expired 5.000s before the snapshot",
        "ip allow (2 networks)",
        "  10.0.0.0/8",
        "  fd00::/8",
        "ip deny (1 networks)",
        "  10.66.0.0/16",
        "peer records (2 peers)",
        f"  {P0}",
        "    public key     Ed25519 (36 bytes)",
        "    protocols      /ipfs/id/1.0.0",
        "                   /ipfs/ping/1.0.0",
        "    metadata       agent = 'nodesnap/0.1' (str)",
        "                   cookie = <2 bytes 0102> (bytes)",
        "                   dials = 1 (int)",
        "                   score = 0.25 (float)",
        "    latency        1.500 ms",
        "    signed record  180 bytes",
        f"  {P1}",
        "    public key     none",
        "    protocols      none",
        "    metadata       note = nil",
        "                   relay = False (bool)",
        "    latency        unknown",
        "    signed record  none",
        "extensions (1 namespaces)",
        "  libp2p/pubsub-blacklist  2 bytes",
    ]


def test_a_snapshot_without_peer_state_lists_none_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = TransientSnapshot(
        taken_at=ClockReading(NOW, 1),
        framework=FrameworkSnapshot(peer_id_bytes=PEERS[0].to_bytes()),
    )
    code, lines = run(capsys, "inspect", write(tmp_path / "s.snapshot", empty))
    assert code == ExitCode.OK
    assert lines[-1].startswith("  execution     ")  # the summary is the last thing shown
    assert "  address book  0 peers, 0 addresses (all permanent)" in lines


def test_inspect_lists_at_most_limit_items_of_every_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peers = [bytes([0x12, 0x20]) + index.to_bytes(32, "big") for index in range(1, 10_001)]
    addresses = tuple(bytes([4, 10, 0, index, 1, 6, 15, 161]) for index in range(20))
    many = TransientSnapshot(
        taken_at=ClockReading(NOW, 1),
        framework=FrameworkSnapshot(
            address_book=[AddressBookEntrySnapshot(peer, addresses, 0) for peer in peers],
            peer_governor=PeerGovernorSnapshot(
                ip_allow=[f"10.{index}.0.0/16" for index in range(30)],
                ip_deny=[f"192.168.{index}.0/24" for index in range(12)],
            ),
            peer_id_bytes=IDENTITY.peer_id.to_bytes(),
            peer_records=[
                PeerRecordSnapshot(
                    peer,
                    protocols=[f"/p/{index}" for index in range(20)],
                    metadata={f"k{index:02d}": index for index in range(20)},
                )
                for peer in peers
            ],
            extensions={f"ns{index:02d}": b"x" for index in range(20)},
        ),
    )
    path = write(tmp_path / "many.snapshot", many)
    code, lines = run(capsys, "inspect", path, "--limit", "2")
    assert code == ExitCode.OK
    details = lines[lines.index("address book (10000 peers)") :]
    more = [line.strip() for line in details if line.strip().startswith("…")]
    assert more == [
        "… and 18 more addresses (--limit 0 lists all)",
        "… and 18 more addresses (--limit 0 lists all)",
        "… and 9998 more peers (--limit 0 lists all)",
        "… and 28 more networks (--limit 0 lists all)",
        "… and 10 more networks (--limit 0 lists all)",
        "… and 18 more protocols (--limit 0 lists all)",
        "… and 18 more entries (--limit 0 lists all)",
        "… and 18 more protocols (--limit 0 lists all)",
        "… and 18 more entries (--limit 0 lists all)",
        "… and 9998 more peers (--limit 0 lists all)",
        "… and 18 more namespaces (--limit 0 lists all)",
    ]
    # Title and `… more` line of each list; per peer 2 addresses, or 2 protocols, 2 metadata
    # entries and 4 other lines; 2 of everything else.
    assert len(details) == (2 + 2 * 4) + (2 + 2) * 2 + (2 + 2 * 10) + (2 + 2)
    code, lines = run(capsys, "inspect", path)  # the default: 10 of each
    shown = lines[lines.index("address book (10000 peers)") :]
    assert len(shown) == (2 + 10 * 12) + (2 + 10) * 2 + (2 + 10 * 26) + (2 + 10)
    code, lines = run(capsys, "inspect", path, "--limit", "0")
    everything = lines[lines.index("address book (10000 peers)") :]
    assert len(everything) == 1 + 21 * 10_000 + 2 + 30 + 12 + 1 + 10_000 * (1 + 20 + 20 + 3) + 21
    assert not [line for line in everything if line.strip().startswith("…")]


def test_inspect_json_holds_every_new_field_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--json", str(write(tmp_path / "s.snapshot", snapshot()))]) == 0
    framework = json.loads(capsys.readouterr().out)["snapshot"]["framework"]
    assert framework["address_book"][0] == {
        "peer_id": P0,
        "addresses": ["/ip4/10.0.0.1/tcp/4001", "/ip4/10.0.0.2/udp/4001/quic-v1"],
        "ref_count": "1",
        "expires_ns": [None, str(NOW + 120 * S)],
    }
    governor = framework["peer_governor"]
    assert (governor["ip_allow"], governor["ip_deny"]) == (
        ["10.0.0.0/8", "fd00::/8"],
        ["10.66.0.0/16"],
    )
    assert framework["peer_records"] == [
        {
            "peer_id": P0,
            "public_key": KEY_0.hex(),
            "protocols": ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"],
            "metadata": {
                "agent": {"str": "nodesnap/0.1"},
                "cookie": {"bin": "0102"},
                "dials": {"int": "1"},
                "score": {"float": "0.25"},
            },
            "latency_ns": "1500000",
            "signed_record": bytes(180).hex(),
        },
        {
            "peer_id": P1,
            "public_key": None,
            "protocols": [],
            "metadata": {"note": {"nil": None}, "relay": {"bool": False}},
            "latency_ns": None,
            "signed_record": None,
        },
    ]
    assert framework["extensions"] == {"libp2p/pubsub-blacklist": "9100"}


def test_json_metadata_floats_read_back_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {"inf": float("inf"), "-inf": float("-inf"), "tiny": 5e-324, "third": 1 / 3}
    value = edited(
        snapshot(), peer_records=[PeerRecordSnapshot(PEERS[2].to_bytes(), metadata=values)]
    )
    assert main(["inspect", "--json", str(write(tmp_path / "s.snapshot", value))]) == 0
    shown = json.loads(capsys.readouterr().out)["snapshot"]["framework"]["peer_records"][0]
    assert {key: float(typed["float"]) for key, typed in shown["metadata"].items()} == values


def test_diff_reports_each_change_to_the_peer_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = snapshot()
    later = attrs.evolve(a, taken_at=ClockReading(NOW + 60 * S, a.taken_at.wall_ns + 60 * S))
    b = edited(
        later,
        address_book=(
            # TCP now expiring, QUIC's expiry unchanged (1m00s from b's instant), a new address.
            AddressBookEntrySnapshot(
                PEERS[0].to_bytes(),
                (TCP, QUIC, bytes.fromhex("040a000003060fa1")),
                1,
                (NOW + 600 * S, NOW + 120 * S, None),
            ),
            AddressBookEntrySnapshot(PEERS[2].to_bytes(), (QUIC,), 0, (NOW + 3_660 * S,)),
        ),
        peer_governor=PeerGovernorSnapshot(
            ip_allow=["10.0.0.0/8"], ip_deny=["10.66.0.0/16", "::1/128"]
        ),
        peer_records=(
            PeerRecordSnapshot(
                PEERS[0].to_bytes(),
                protocols=["/ipfs/id/1.0.0", "/meshsub/1.1.0"],
                metadata={"agent": "nodesnap/0.2", "dials": True, "score": 0.25, "new": 1.0},
                latency_ns=2_000_000,
                signed_record=bytes([1]) * 180,
            ),
            PeerRecordSnapshot(
                PEERS[2].to_bytes(), public_key=PEERS[2].to_bytes()[2:], latency_ns=0
            ),
        ),
        extensions={"libp2p/pubsub-blacklist": b"\x91\x01", "libp2p/connmgr-tags": bytes(7)},
    )
    code, lines = run(
        capsys, "diff", write(tmp_path / "a.snapshot", a), write(tmp_path / "b.snapshot", b)
    )
    assert code == ExitCode.OK
    assert lines[2:] == [
        "time:",
        "  b taken 60.000 s after a",
        "address book:",
        f"  + peer {P2} /ip4/10.0.0.2/udp/4001/quic-v1 (expires in 1h00m00s)",
        f"  ~ peer {P0} +/ip4/10.0.0.3/tcp/4001",
        f"  ~ peer {P0} /ip4/10.0.0.1/tcp/4001 permanent -> expires in 9m00s",
        f"  - peer {P1}",
        "policy:",
        "  - ip allow fd00::/8",
        "  + ip deny ::1/128",
        "peer records:",
        f"  ~ {P0} public key Ed25519 (36 bytes) -> none",
        f"  ~ {P0} +protocol /meshsub/1.1.0",
        f"  ~ {P0} -protocol /ipfs/ping/1.0.0",
        f"  ~ {P0} metadata agent 'nodesnap/0.1' (str) -> 'nodesnap/0.2' (str)",
        f"  ~ {P0} -metadata cookie",
        f"  ~ {P0} metadata dials 1 (int) -> True (bool)",
        f"  ~ {P0} +metadata new = 1.0 (float)",
        f"  ~ {P0} latency 1.500 ms -> 2.000 ms",
        f"  ~ {P0} signed record changed (180 bytes)",
        f"  + {P2} public key Ed25519 (36 bytes), latency 0.000 ms",
        f"  - {P1}",
        "extensions:",
        "  + libp2p/connmgr-tags (7 bytes)",
        "  ~ libp2p/pubsub-blacklist changed (2 bytes)",
    ]


def test_a_metadata_value_of_another_type_is_a_change_even_when_python_calls_it_equal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = snapshot()
    record = a.framework.peer_records[1]
    cases: list[tuple[object, object, str, str]] = [
        (1, True, "1 (int)", "True (bool)"),
        (1, 1.0, "1 (int)", "1.0 (float)"),
    ]
    cases += [
        (0, False, "0 (int)", "False (bool)"),
        (b"x", "x", "<1 bytes 78> (bytes)", "'x' (str)"),
    ]
    for old, new, shown_old, shown_new in cases:
        before = edited(a, peer_records=[attrs.evolve(record, metadata={"v": old})])
        after = edited(a, peer_records=[attrs.evolve(record, metadata={"v": new})])
        code, lines = run(
            capsys,
            "diff",
            write(tmp_path / "a.snapshot", before),
            write(tmp_path / "b.snapshot", after),
        )
        assert code == ExitCode.OK
        assert lines[2:] == ["peer records:", f"  ~ {P1} metadata v {shown_old} -> {shown_new}"]


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0.000s"),
        (4_250_000_000, "4.250s"),
        (59_999_999_999, "59.999s"),  # below a minute: whole milliseconds
        (60 * S, "1m00s"),
        (595 * S, "9m55s"),
        (3_600 * S, "1h00m00s"),
        (93_784 * S + 999_999_999, "1d02h03m04s"),  # whole seconds from a minute up
    ],
)
def test_durations_read_from_their_largest_unit(ns: int, text: str) -> None:
    assert duration(ns) == text


def test_long_metadata_strings_are_cut_and_say_their_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = PeerRecordSnapshot(PEERS[2].to_bytes(), metadata={"long": "é" * 65, "blob": bytes(99)})
    path = write(tmp_path / "s.snapshot", edited(snapshot(), peer_records=[record]))
    code, lines = run(capsys, "inspect", path)
    assert code == ExitCode.OK
    assert f"    metadata       blob = <99 bytes {'00' * 16}…> (bytes)" in lines
    assert f"                   long = {'é' * 64!r}… (str of 65 characters)" in lines


def test_replay_says_what_the_restore_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Addresses that expired while the node was down, and a signed record that does not
    verify (kept out of the restored node, which logs a warning naming the peer)."""
    base = snapshot()
    records = [attrs.evolve(base.framework.peer_records[0], signed_record=b"not an envelope")]
    path = write(tmp_path / "s.snapshot", edited(base, peer_records=records))
    identity = tmp_path / "node.pem"
    IDENTITY.save(identity)
    code = main(["replay", str(path), "--identity", str(identity), "--downtime", "300"])
    captured = capsys.readouterr()
    assert code == ExitCode.OK
    lines = captured.out.splitlines()
    # The expiring address (2 minutes left) and the one already expired at the snapshot.
    assert lines[1] == "restore: expired_addresses_dropped +2, signed_records_refused +1"
    assert lines[2:4] == ["ready to dial: 1 peers", f"  {P0} (1 addresses)"]
    assert captured.err.startswith("nodesnap: warning: ")
    assert P0 in captured.err
