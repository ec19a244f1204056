"""The spec-version gate: current restores, newer and unstamped are refused, older migrate."""

from typing import Any

import msgpack
import pytest

from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    MIGRATIONS,
    ClockReading,
    FrameworkSnapshot,
    IncompatibleSnapshotVersion,
    MigrationRegistry,
    SnapshotDecodeError,
    SnapshotError,
    TransientSnapshot,
    decode,
    encode,
)
from snapshot_schema.encoder import encode_body
from snapshot_schema.v1_to_v2 import upgrade_v1_to_v2

PEER = bytes.fromhex("1220") + bytes(32)
CURRENT = TransientSnapshot(
    taken_at=ClockReading(5, 6),
    framework=FrameworkSnapshot(peer_id_bytes=PEER, counters={"sent": 3}, next_command_id=9),
)


def stamped(version: object, body: object) -> bytes:
    return msgpack.packb([version, body], use_bin_type=True)


def v1_body() -> list[Any]:
    """`CURRENT` laid out as version 1 wrote it: without what version 2 added."""
    body = encode_body(CURRENT)
    framework = body[5]
    del framework[9:]  # peer_records, extensions
    del framework[3][4:]  # ip_allow, ip_deny
    framework[2] = [entry[:3] for entry in framework[2]]  # expires_ns
    return body


def v0_body() -> list[Any]:
    """A test-only version 0, before 1: the framework had no `next_exec_id` and counters were a
    list of `[value, name]` pairs. Version 1 added the exec id (0 for old snapshots) and
    swapped the pairs."""
    body = v1_body()
    framework = body[5]
    framework[0] = [[value, name] for name, value in framework[0]]
    del framework[8]
    return body


def registry_with_v0_migration() -> MigrationRegistry:
    """This build's chain (1 → 2) with a test-only 0 → 1 step before it."""
    registry = MigrationRegistry()

    @registry.register(0)
    def add_exec_id_and_swap_counters(body: tuple[Any, ...]) -> list[Any]:
        upgraded = list(body)
        framework = list(upgraded[5])
        framework[0] = [[name, value] for value, name in framework[0]]
        framework.append(0)
        upgraded[5] = framework
        return upgraded

    registry.register(1)(upgrade_v1_to_v2)
    return registry


def test_current_version_restores() -> None:
    assert decode(encode(CURRENT)) == CURRENT


def test_registered_migration_upgrades_an_older_snapshot() -> None:
    assert decode(stamped(1, v1_body())) == CURRENT


def test_migrations_chain_from_the_oldest_version() -> None:
    restored = decode(stamped(0, v0_body()), migrations=registry_with_v0_migration())
    assert restored == CURRENT


def test_the_v1_migration_passes_a_body_of_another_shape_to_validation() -> None:
    """What is not shaped like version 1 is not guessed at: the version 2 checks refuse it
    with the path of the value at fault."""
    body = v1_body()
    body[5][3] = "not a governor"
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(stamped(1, body))
    assert caught.value.path == ("framework", "peer_governor")
    short = v1_body()
    del short[5][8]
    with pytest.raises(SnapshotDecodeError, match="array of 11 elements") as caught:
        decode(stamped(1, short))
    assert caught.value.path == ("framework",)


def test_older_version_without_migration_is_refused_naming_both_versions() -> None:
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode(stamped(0, v0_body()))
    assert (caught.value.found, caught.value.supported) == (0, CURRENT_SNAPSHOT_SPEC_VERSION)
    assert "version 0" in str(caught.value)
    assert "supports 2" in str(caught.value)


def test_newer_version_is_refused_even_with_migrations() -> None:
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode(stamped(3, encode_body(CURRENT)), migrations=registry_with_v0_migration())
    assert (caught.value.found, caught.value.supported) == (3, 2)
    assert "newer" in str(caught.value)


def test_unstamped_snapshot_is_refused_never_defaulted() -> None:
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode(stamped(None, encode_body(CURRENT)))
    assert caught.value.found is None
    assert "no spec version" in str(caught.value)


def test_gate_runs_before_the_body_is_parsed() -> None:
    garbage_body = b"\xc1\xc1\xc1"  # not msgpack at all
    with pytest.raises(IncompatibleSnapshotVersion):
        decode(bytes([0x92, 0x03]) + garbage_body)
    with pytest.raises(IncompatibleSnapshotVersion):
        decode(bytes([0x92, 0xC0]) + garbage_body)


def test_the_largest_version_is_refused_as_newer() -> None:
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode(bytes([0x92, 0xCE]) + b"\xff" * 4 + b"\x90")
    assert caught.value.found == 2**32 - 1


def test_migrated_output_is_validated_like_fresh_input() -> None:
    registry = MigrationRegistry()
    registry.register(1)(lambda body: [None])
    with pytest.raises(SnapshotDecodeError, match="array of 10 elements"):
        decode(stamped(1, v1_body()), migrations=registry)


def test_a_failing_migration_raises_a_decode_error() -> None:
    registry = MigrationRegistry()
    registry.register(1)(lambda body: body[99])
    with pytest.raises(SnapshotDecodeError, match="migration from spec version 1 failed"):
        decode(stamped(1, v1_body()), migrations=registry)


def test_a_migration_producing_unencodable_values_raises_a_decode_error() -> None:
    registry = MigrationRegistry()
    registry.register(1)(lambda body: [object()])
    with pytest.raises(SnapshotDecodeError, match="migration produced unencodable values"):
        decode(stamped(1, v1_body()), migrations=registry)


def test_registry_refuses_bad_registrations() -> None:
    registry = MigrationRegistry()
    for version in (-1, 2, 3, "0"):
        with pytest.raises(ValueError, match="a migration upgrades from"):
            registry.register(version)  # type: ignore[arg-type]
    registry.register(0)(lambda body: body)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(0)


def test_registry_reports_restorable_versions() -> None:
    assert MigrationRegistry().restorable_versions() == (2,)
    assert registry_with_v0_migration().restorable_versions() == (0, 1, 2)
    assert MIGRATIONS.restorable_versions() == (1, 2)


def test_version_errors_are_snapshot_errors_and_pickle() -> None:
    import pickle

    error = IncompatibleSnapshotVersion(3, 1)
    assert isinstance(error, SnapshotError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.found, copy.supported, str(copy)) == (3, 1, str(error))
