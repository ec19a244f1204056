"""Replays every fuzz seed and every input that once broke a harness's contract through that
harness's `check` (no atheris needed), and checks the harnesses themselves: that they reach the
deep paths they are meant to, and that a foreign exception escapes them as a violation."""

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import attrs
import pytest

from fuzz import TARGETS
from fuzz._fixtures import ENCRYPTION_KEY, IDENTITY
from fuzz.fuzz_sealed import repair
from node_runtime import (
    ComponentValueError,
    InvalidMultiaddrError,
    Multiaddr,
    Node,
    RestoreValueError,
    unseal,
)
from node_runtime.sealed_file import Flags, read_header
from snapshot_schema import SnapshotError, decode

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
