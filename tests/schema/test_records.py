"""Records: construction validates what the types promise, and records are immutable values."""

from collections.abc import Callable

import attrs
import pytest

from snapshot_schema import (
    AddressBookEntrySnapshot,
    AppEventIngress,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    FrozenMap,
    InvokeIngress,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    PendingOutboundEntry,
    RecordTable,
    SnapshotValueError,
    TransientSnapshot,
    TypedBusSnapshot,
)

PEER = bytes.fromhex("0024080112") + bytes(33)  # identity multihash of a protobuf Ed25519 key
OTHER = bytes.fromhex("1220") + bytes(range(32))  # sha2-256 multihash


def framework(**fields: object) -> FrameworkSnapshot:
    return FrameworkSnapshot(peer_id_bytes=PEER, **fields)  # type: ignore[arg-type]


def test_valid_records_compare_by_value_and_hash_equal() -> None:
    first = BackoffEntry(PEER, 2, 10, 20)
    second = BackoffEntry(PEER, 2, 10, 20)
    assert first == second
    assert hash(first) == hash(second)
    snapshot = TransientSnapshot(taken_at=ClockReading(1, 2), framework=framework())
    assert hash(snapshot) == hash(
        TransientSnapshot(taken_at=ClockReading(1, 2), framework=framework())
    )


def test_records_are_immutable() -> None:
    entry = BackoffEntry(PEER, 2, 10, 20)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        entry.attempts = 3  # type: ignore[misc]


def test_lists_dicts_and_sets_are_frozen_on_construction() -> None:
    snapshot = framework(
        counters={"sent": 1},
        fired_phases=["start"],
        address_book=[AddressBookEntrySnapshot(PEER, [b"\x01"], 1)],
    )
    assert type(snapshot.counters) is FrozenMap
    assert snapshot.fired_phases == ("start",)
    assert type(snapshot.address_book) is RecordTable
    assert snapshot.address_book == (AddressBookEntrySnapshot(PEER, (b"\x01",), 1),)
    assert PeerGovernorSnapshot(blocklist={PEER}).blocklist == frozenset({PEER})


def test_a_repeated_subscriber_is_refused_in_the_words_decode_uses() -> None:
    with pytest.raises(SnapshotValueError) as caught:
        TypedBusSnapshot({"k": (1, 2, 1)})
    assert caught.value.reason == "duplicate subscriber id 1"
    assert caught.value.path == ("event_subscriptions", "k", 2)


@pytest.mark.parametrize(
    ("build", "path", "reason"),
    [
        (lambda: BackoffEntry(PEER, 2**32, 0, 0), ("attempts",), "expected u32"),
        (lambda: BackoffEntry(PEER, -1, 0, 0), ("attempts",), "expected u32"),
        (lambda: BackoffEntry(PEER, True, 0, 0), ("attempts",), "expected `int`, got `bool`"),
        (lambda: BackoffEntry(PEER, 1, 0, 2**64), ("next_retry_ns",), "expected u64"),
        (lambda: BackoffEntry(PEER, 1, 5, 4), ("next_retry_ns",), "precedes the last attempt"),
        (lambda: BackoffEntry(b"\x12\x20abc", 1, 0, 0), ("peer_id",), "32-byte digest"),
        (lambda: BackoffEntry("peer", 1, 0, 0), ("peer_id",), "expected multihash `bytes`"),  # type: ignore[arg-type]
        (lambda: BackoffEntry(b"\x99\x01\x00", 1, 0, 0), ("peer_id",), "unknown multihash code"),
        (lambda: AddressBookEntrySnapshot(PEER, (b"a", b"a")), ("addresses", 1), "duplicate"),
        (lambda: AddressBookEntrySnapshot(PEER, (b"",)), ("addresses", 0), "non-empty"),
        (lambda: AddressBookEntrySnapshot(PEER, "ab"), ("addresses",), "expected `tuple`"),
        (lambda: PeerHealthSnapshot(PEER, 0, 0, 1), ("down",), "expected `bool`"),  # type: ignore[arg-type]
        (lambda: PeerGovernorSnapshot(failure_threshold=0), ("failure_threshold",), "at least 1"),
        (lambda: PeerGovernorSnapshot(blocklist={b"x"}), ("blocklist",), "multihash"),
        (lambda: PendingOutboundEntry(b""), ("envelope_bytes",), "non-empty"),
        (lambda: PendingAsyncSnapshot(1, 2, (), -5), ("deadline_ns",), "expected u64"),
        (lambda: AppEventIngress("", "in", b""), ("module_name",), "non-empty name"),
        (lambda: AppEventIngress("m", "in\udc80", b""), ("input_name",), "surrogate '\\udc80'"),
        (lambda: ClockReading(0, -1), ("wall_ns",), "expected u64"),
        (lambda: TypedBusSnapshot({"k": (1, 1)}), ("event_subscriptions", "k", 1), "duplicate"),
        (
            lambda: TransientSnapshot(
                taken_at=ClockReading(0, 0), framework=framework(), frontier=((1, -1),)
            ),
            ("frontier", 0, "exec_id"),
            "expected u64",
        ),
        (lambda: PendingCompletionSnapshot(1, (("", b""),)), ("results", 0, "name"), "non-empty"),
        (lambda: InvokeIngress("m", (("n", "text"),)), ("inputs", 0, "payload"), "`bytes`"),
        (lambda: framework(counters={"": 1}), ("counters", ""), "non-empty name"),
        (lambda: framework(fired_phases=("\ud800",)), ("fired_phases", 0), "UTF-8"),
        (lambda: framework(counters={"n": 2**64}), ("counters", "n"), "expected u64"),
        (lambda: framework(next_exec_id=-1), ("next_exec_id",), "expected u64"),
        (lambda: framework(spec_version=0), ("spec_version",), "expected spec version 2"),
        (
            lambda: framework(
                backoff_table=(BackoffEntry(PEER, 1, 0, 0), BackoffEntry(PEER, 2, 0, 0))
            ),
            ("backoff_table", 1),
            "duplicate peer",
        ),
        (lambda: framework(address_book=(1,)), ("address_book", 0), "AddressBookEntrySnapshot"),
        (
            lambda: TransientSnapshot(
                taken_at=ClockReading(0, 0), framework=framework(), wire_states={2**32: b""}
            ),
            ("wire_states", 2**32),
            "expected u32",
        ),
        (
            lambda: TransientSnapshot(
                taken_at=ClockReading(0, 0), framework=framework(), ingress=(b"x",)
            ),
            ("ingress", 0),
            "ingress event record",
        ),
    ],
)
def test_invalid_field_raises_typed_error_naming_the_field(
    build: Callable[[], object], path: tuple[object, ...], reason: str
) -> None:
    with pytest.raises(SnapshotValueError) as caught:
        build()
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_value_error_is_a_builtin_value_error_with_rendered_path() -> None:
    with pytest.raises(ValueError, match=r"at `\$\.attempts`"):
        BackoffEntry(PEER, -1, 0, 0)


def test_peer_ids_of_every_multihash_code_are_accepted() -> None:
    blake2b_256 = bytes.fromhex("a0e402") + b"\x20" + bytes(32)  # code 0xb220 is a 3-byte varint
    for peer in (PEER, OTHER, blake2b_256, b"\x00\x00"):
        assert BackoffEntry(peer, 0, 0, 0).peer_id == peer


def test_non_minimal_varint_in_a_peer_id_is_refused() -> None:
    with pytest.raises(SnapshotValueError, match="shortest-form"):
        BackoffEntry(b"\x92\x00\x20" + bytes(32), 0, 0, 0)


def test_repr_of_large_bytes_and_tables_stays_short() -> None:
    entries = tuple(PendingOutboundEntry(bytes(10_000)) for _ in range(1_000))
    text = repr(framework(pending_outbound=entries))
    assert len(text) < 1_000
    assert "1000 items in all" in text
    assert "<10000 bytes 00000000" in text


def test_frozen_map_is_read_only_hashable_and_equal_to_a_dict() -> None:
    mapping = FrozenMap({"a": 1})
    assert mapping == {"a": 1}
    assert hash(mapping) == hash(FrozenMap([("a", 1)]))
    with pytest.raises(TypeError):
        mapping["b"] = 2  # type: ignore[index]
