"""Replays every fuzz seed and every input that once broke a harness's contract through that
harness's `check` (no atheris needed), and checks the harnesses themselves: that they reach the
deep paths they are meant to, and that a foreign exception escapes them as a violation."""

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import attrs
import pytest

from fuzz import TARGETS, fuzz_restore
from fuzz._fixtures import ENCRYPTION_KEY, IDENTITY
from fuzz.fuzz_sealed import repair
from node_runtime import (
    ComponentValueError,
    Identity,
    InvalidMultiaddrError,
    ManualClock,
    Multiaddr,
    Node,
    RestoreValueError,
    SignedRecordError,
    sign_peer_record,
    unseal,
)
from node_runtime.sealed_file import Flags, read_header
from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    AddressBookEntrySnapshot,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerRecordSnapshot,
    SnapshotError,
    decode,
)

FUZZ_DIR = Path(__file__).resolve().parent.parent / "fuzz"


def harness(target: str) -> ModuleType:
    return importlib.import_module(f"fuzz.fuzz_{target}")


def inputs(kind: str) -> list[tuple[str, Path]]:
    return [
        (target, path)
        for target in TARGETS
        if (FUZZ_DIR / kind / target).is_dir()
        for path in sorted((FUZZ_DIR / kind / target).iterdir())
        if path.is_file()
    ]


def ids(cases: list[tuple[str, Path]]) -> list[str]:
    return [f"{target}/{path.name}" for target, path in cases]


SEEDS = inputs("corpus")
REGRESSIONS = inputs("regressions")


@pytest.mark.parametrize(("target", "path"), SEEDS, ids=ids(SEEDS))
def test_seed_inputs_keep_the_contract(target: str, path: Path) -> None:
    harness(target).check(path.read_bytes())


@pytest.mark.parametrize(("target", "path"), REGRESSIONS, ids=ids(REGRESSIONS))
def test_inputs_that_once_broke_a_harness_keep_the_contract(target: str, path: Path) -> None:
    harness(target).check(path.read_bytes())


@pytest.mark.parametrize("target", TARGETS)
def test_every_harness_has_seeds_and_a_check(target: str) -> None:
    assert len([t for t, _ in SEEDS if t == target]) >= 5
    check: Callable[[bytes], None] = harness(target).check
    check(b"")  # the empty input is the first thing libFuzzer tries


def test_the_regressions_found_so_far_are_committed() -> None:
    found = {path.name for _, path in REGRESSIONS}
    assert {"invalid-multiaddr-in-address-book.bin", "onion3-non-ascii-host.bin"} <= found


def test_decode_and_restore_seeds_reach_a_restored_node() -> None:
    data = (FUZZ_DIR / "corpus" / "restore" / "busy-node.bin").read_bytes()
    node = Node.restore(decode(data), IDENTITY)
    assert node.address_book.peers()
    assert node.counters.get("envelopes_sent") == 5


def test_the_busy_node_seed_restores_every_kind_of_version_2_state() -> None:
    data = (FUZZ_DIR / "corpus" / "restore" / "busy-node.bin").read_bytes()
    framework = Node.restore(decode(data), IDENTITY, clock=clock_of(data)).snapshot().framework
    expiries = [expiry for row in framework.address_book.rows for expiry in row[3]]
    assert None in expiries
    assert any(expiry is not None for expiry in expiries)
    (signed,) = [record for record in framework.peer_records if record.signed_record]
    assert signed.public_key is not None
    assert signed.latency_ns is not None
    assert {type(value) for _key, value in signed.metadata} == {
        str,
        int,
        float,
        bool,
        bytes,
        type(None),
    }
    assert framework.peer_governor.ip_allow
    assert framework.peer_governor.ip_deny
    assert framework.extensions
    assert framework.counters.get("restore:signed_records_refused", 0) == 0


def clock_of(data: bytes) -> ManualClock:
    """A clock at the instant the snapshot in `data` was taken: nothing has expired."""
    taken_at = decode(data).taken_at
    return ManualClock(monotonic_ns=taken_at.monotonic_ns, wall_ns=taken_at.wall_ns)


@pytest.mark.parametrize("target", ["decode", "restore"])
def test_version_1_goldens_are_seeds_that_go_through_the_migration(target: str) -> None:
    seeds = sorted((FUZZ_DIR / "corpus" / target).glob("golden-v1-*.bin"))
    assert len(seeds) >= 4
    for path in seeds:
        data = path.read_bytes()
        assert data[:2] == b"\x92\x01"
        assert decode(data).framework.spec_version == CURRENT_SNAPSHOT_SPEC_VERSION


PEER_IDENTITY = Identity.from_private_bytes(bytes([1]) * 32)
OTHER_PEER = bytes.fromhex("1220") + bytes(32)
REPAIRED = FrameworkSnapshot(
    address_book=(AddressBookEntrySnapshot(OTHER_PEER, (b"\x01",), 0, (fuzz_restore.NOW + 1,)),),
    peer_id_bytes=fuzz_restore.PEER,
    peer_records=(
        PeerRecordSnapshot(
            PEER_IDENTITY.peer_id.to_bytes(),
            signed_record=sign_peer_record(PEER_IDENTITY, 1, []),
        ),
    ),
)
UNREPAIRED = {
    "an expired address": attrs.evolve(
        REPAIRED,
        address_book=(AddressBookEntrySnapshot(OTHER_PEER, (b"\x01",), 0, (fuzz_restore.NOW,)),),
    ),
    "another peer's signed record": attrs.evolve(
        REPAIRED,
        peer_records=(
            PeerRecordSnapshot(OTHER_PEER, signed_record=REPAIRED.peer_records[0].signed_record),
        ),
    ),
    "a record for the node itself": attrs.evolve(
        REPAIRED, peer_records=(PeerRecordSnapshot(fuzz_restore.PEER, protocols=["/a"]),)
    ),
    "itself blocked": attrs.evolve(
        REPAIRED, peer_governor=PeerGovernorSnapshot(blocklist={fuzz_restore.PEER})
    ),
}


@pytest.mark.parametrize("name", UNREPAIRED)
def test_the_restore_harness_refuses_what_restore_must_have_repaired(name: str) -> None:
    """Its checks can fail: each escapes `check` as a contract violation."""
    fuzz_restore.check_repaired(REPAIRED)
    with pytest.raises((AssertionError, SignedRecordError)):
        fuzz_restore.check_repaired(UNREPAIRED[name])


def test_sealed_seeds_unseal_with_every_flag_combination() -> None:
    unsealed: set[int] = set()
    for path in sorted((FUZZ_DIR / "corpus" / "sealed").glob("busy-*.bin")):
        data = path.read_bytes()
        file = repair(data[0], data[1:])
        sealed = unseal(file, encryption_key=ENCRYPTION_KEY, expected_signer=None)
        unsealed.add(int(sealed.header.flags))
    assert unsealed == set(range(8))


def test_reencrypt_mode_turns_a_plaintext_body_into_a_file_that_unseals() -> None:
    data = (FUZZ_DIR / "corpus" / "sealed" / "busy-signed-enc-zlib-reencrypt.bin").read_bytes()
    with pytest.raises(SnapshotError):  # as stored, the "ciphertext" is plaintext
        unseal(data[1:], encryption_key=ENCRYPTION_KEY)
    sealed = unseal(repair(data[0], data[1:]), encryption_key=ENCRYPTION_KEY)
    assert sealed.header.flags == Flags.SIGNED | Flags.ENCRYPTED | Flags.COMPRESSED
    assert read_header(data[1:]).peer_id == IDENTITY.peer_id


def test_an_exception_outside_the_contract_escapes_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = harness("decode")

    def broken(_data: bytes) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(module, "decode", broken)
    with pytest.raises(KeyError):
        module.check(b"\x92\x01\x90")


def test_a_snapshot_a_component_refuses_is_refused_with_a_snapshot_error() -> None:
    data = (
        FUZZ_DIR / "regressions" / "restore" / "invalid-multiaddr-in-address-book.bin"
    ).read_bytes()
    snapshot = decode(data)
    rebound = attrs.evolve(
        snapshot,
        framework=attrs.evolve(snapshot.framework, peer_id_bytes=IDENTITY.peer_id.to_bytes()),
    )
    with pytest.raises(RestoreValueError, match="unknown protocol code") as caught:
        Node.restore(rebound, IDENTITY)
    assert isinstance(caught.value, SnapshotError)
    assert isinstance(caught.value, ComponentValueError)  # what callers caught before
    # Located from the snapshot root, as decode errors are.
    assert caught.value.path[:3] == ("framework", "address_book", 0)
    assert caught.value.path[3] == "addresses"


def test_non_ascii_onion_hosts_are_refused_as_invalid_multiaddrs() -> None:
    with pytest.raises(InvalidMultiaddrError, match="not base32"):
        Multiaddr.from_string("/onion3/" + "é" * 56 + ":1234")
