"""The codec: exact round trips, canonical bytes, and precise errors on invalid input."""

import contextlib
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    SnapshotDecodeError,
    SnapshotError,
    TransientSnapshot,
    decode,
    encode,
    spec_version_of,
)
from snapshot_schema.encoder import encode_body
from snapshot_schema.strategies import transient_snapshots

PEER_A = bytes.fromhex("1220") + bytes(32)
PEER_B = bytes.fromhex("1220") + bytes([1]) * 32


def snapshot(**framework_fields: object) -> TransientSnapshot:
    return TransientSnapshot(
        taken_at=ClockReading(7, 8),
        framework=FrameworkSnapshot(peer_id_bytes=PEER_A, **framework_fields),  # type: ignore[arg-type]
    )


def envelope(body: object, version: object = 1) -> bytes:
    return msgpack.packb([version, body], use_bin_type=True)


def body_of(value: TransientSnapshot) -> list[Any]:
    return encode_body(value)


@settings(max_examples=200)
@given(transient_snapshots())
def test_decode_inverts_encode_and_encode_is_deterministic(value: TransientSnapshot) -> None:
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data


@given(st.data())
def test_equal_snapshots_built_in_different_orders_encode_identically(data: st.DataObject) -> None:
    counters = data.draw(st.dictionaries(st.text(min_size=1), st.integers(0, 9), max_size=6))
    reordered = dict(reversed(list(counters.items())))
    peers = data.draw(st.permutations([PEER_A, PEER_B]))
    first = snapshot(counters=counters, peer_governor=PeerGovernorSnapshot(blocklist=peers))
    second = snapshot(counters=reordered, peer_governor=PeerGovernorSnapshot(blocklist=peers[::-1]))
    assert first == second
    assert encode(first) == encode(second)


def test_bytes_start_with_the_envelope_and_spec_version() -> None:
    assert encode(snapshot())[:2] == bytes([0x92, 0x02])


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = encode(snapshot())
    assert decode(bytearray(data)) == decode(memoryview(data)) == snapshot()


def strided(data: bytes) -> memoryview:
    """A non-contiguous view of exactly `data`'s bytes: every other byte of a doubled buffer."""
    return memoryview(bytes(byte for value in data for byte in (value, 0)))[::2]


def test_a_strided_memoryview_decodes_like_its_bytes() -> None:
    data = encode(snapshot(counters={"sent": 3}))
    view = strided(data)
    assert not view.c_contiguous
    assert decode(view) == decode(data)
    assert spec_version_of(view) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x92\x01\x90", "expected array of 10 elements"),
        (b"\x91\x01", "not a snapshot"),
        (b"", "empty input"),
        (b"\x92\x01" + bytes(20), "exceeds the 20-byte limit"),
    ],
)
def test_a_strided_memoryview_that_is_no_snapshot_is_a_decode_error(
    data: bytes, reason: str
) -> None:
    with pytest.raises(SnapshotDecodeError, match=reason):
        decode(strided(data), max_size=20)


def test_a_released_memoryview_is_a_decode_error() -> None:
    view = memoryview(encode(snapshot()))
    view.release()
    with pytest.raises(SnapshotDecodeError, match="released memoryview"):
        decode(view)
    with pytest.raises(SnapshotDecodeError, match="released memoryview"):
        spec_version_of(view)


def _peer(n: int) -> bytes:
    return bytes.fromhex("1220") + bytes([n]) * 32


def _with_backoff_row(row: object) -> bytes:
    """A snapshot whose backoff table is three valid rows (peers 1-3) followed by `row`."""
    body = body_of(snapshot())
    body[5][4] = [[_peer(n), 1, 2, 3] for n in (1, 2, 3)] + [row]
    return envelope(body)


@pytest.mark.parametrize(
    ("row", "path", "reason"),
    [
        ([PEER_A, 2**32, 0, 0], "$.framework.backoff_table[3].attempts", "expected u32"),
        ([PEER_A, -1, 0, 0], "$.framework.backoff_table[3].attempts", "expected u32"),
        ([PEER_A, 1.5, 0, 0], "$.framework.backoff_table[3].attempts", "got `float`"),
        ([PEER_A, 1, 0], "$.framework.backoff_table[3]", "array of 4 elements"),
        ("row", "$.framework.backoff_table[3]", "expected array, got str"),
        ([b"\x12\x20", 1, 0, 0], "$.framework.backoff_table[3].peer_id", "0 bytes"),
        ([PEER_A, 1, 9, 3], "$.framework.backoff_table[3].next_retry_ns", "precedes"),
        ([_peer(2), 1, 2, 3], "$.framework.backoff_table[3].peer_id", "duplicate peer"),
    ],
)
def test_decode_error_names_the_path_and_what_was_expected(
    row: object, path: str, reason: str
) -> None:
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(_with_backoff_row(row))
    assert caught.value.path == tuple(_parse(path))
    assert reason in caught.value.reason
    assert path in str(caught.value)


def _parse(path: str) -> list[str | int]:
    parts = path[2:].replace("[", ".[").split(".")
    return [int(part[1:-1]) if part.startswith("[") else part for part in parts]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda b: b.__setitem__(0, [1]), "$.taken_at", "array of 2"),
        (lambda b: b[5].__setitem__(6, b"\x12"), "$.framework.peer_id_bytes", "varint"),
        (
            lambda b: b[5].__setitem__(0, [["b", 1], ["a", 2]]),
            "$.framework.counters[1].key",
            "ascending",
        ),
        (
            lambda b: b[5].__setitem__(0, [["a", 1], ["a", 2]]),
            "$.framework.counters[1].key",
            "ascending",
        ),
        (lambda b: b[5].__setitem__(1, [""]), "$.framework.fired_phases[0]", "non-empty"),
        (
            lambda b: b[5][3].__setitem__(0, [PEER_B, PEER_A]),
            "$.framework.peer_governor.blocklist[1]",
            "ascending",
        ),
        (
            lambda b: b[5][3].__setitem__(0, [b"\x12"]),
            "$.framework.peer_governor.blocklist[0]",
            "varint",
        ),
        (
            lambda b: b[5][3].__setitem__(1, [PEER_A, PEER_A]),
            "$.framework.peer_governor.allowlist[1]",
            "unique",
        ),
        (
            lambda b: b[5][3].__setitem__(3, 0),
            "$.framework.peer_governor.failure_threshold",
            "at least 1",
        ),
        (
            lambda b: b[5].__setitem__(2, [[PEER_A, [b"x", b"x"], 1, [None, None]]]),
            "$.framework.address_book[0].addresses[1]",
            "duplicate",
        ),
        (
            lambda b: b[5].__setitem__(5, [[b"", False]]),
            "$.framework.pending_outbound[0].envelope_bytes",
            "non-empty",
        ),
        (lambda b: b.__setitem__(7, [[9, b""]]), "$.ingress[0].tag", "unknown ingress event tag"),
        (lambda b: b.__setitem__(7, [[3]]), "$.ingress[0]", "array of 2 elements"),
        (lambda b: b.__setitem__(7, [[1, "m", "", b""]]), "$.ingress[0].input_name", "non-empty"),
        (lambda b: b.__setitem__(1, [[1, -2]]), "$.frontier[0].exec_id", "expected u64"),
        (
            lambda b: b.__setitem__(2, [[[-1, 2], None]]),
            "$.slot_table[0].key.node_site_id",
            "expected u64",
        ),
        (
            lambda b: b.__setitem__(9, [[1, [["out", "text"]]]]),
            "$.pending_completions[0].results[0].payload",
            "expected `bytes`",
        ),
        (lambda b: b.__setitem__(8, [[2**32, b""]]), "$.wire_states[0].key", "expected u32"),
        (lambda b: b.__setitem__(2, [[[1, 2], 5]]), "$.slot_table[0].value", "expected `bytes`"),
        (
            lambda b: b.__setitem__(3, [[1, [1, 2, [3], -1]]]),
            "$.pending_async[0].value.deadline_ns",
            "u64",
        ),
        (
            lambda b: b.__setitem__(6, [[["k", [1, 1]]]]),
            "$.bus.event_subscriptions[0].value[1]",
            "duplicate subscriber id 1",
        ),
        (lambda b: b.append(None), "$", "array of 10 elements"),
    ],
)
def test_every_part_of_the_body_is_validated_with_its_path(
    mutate: Callable[[list[Any]], None], path: str, reason: str
) -> None:
    body = body_of(snapshot())
    mutate(body)
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(envelope(body))
    assert f"at `{path}`" in str(caught.value)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty input"),
        (b"\x91\x01", "not a snapshot"),
        (b"\x92", "ends before the spec version"),
        (b"\x92\xcd\x00", "ends inside the spec version"),
        (b"\x92\xa11", "expected the spec version as an integer"),
        (b"\x92\x01", "ends before the snapshot body"),
        (b"\x92\x01\xdd\xff\xff\xff\xff", "ends before the snapshot body"),
        (b"\x92\x01" + b"\x91" * 5000, "nesting too deep \\(over 1024 levels\\)"),
        (b"\x92\x01\xc1", "malformed msgpack"),
        (b"\x92\x01\x90\x00", "unexpected bytes after"),
        (b"\x92\x01\xd4\x01\x00", "unsupported msgpack value"),
        (b"\x92\x01\xa2\xff\xfe", "invalid UTF-8"),
        (b"\x92\x01\x81\xa1a\x02", "maps are not used"),
        (b"\x92\x01\xcb" + bytes(8), "expected array, got float"),
    ],
)
def test_hostile_envelopes_raise_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(SnapshotDecodeError, match=reason):
        decode(data)


def test_spec_version_of_reads_only_the_envelope() -> None:
    assert spec_version_of(encode(snapshot())) == 2
    assert spec_version_of(b"\x92\xcd\x01\x00 not a body") == 256
    assert spec_version_of(bytearray(b"\x92\xc0")) is None
    with pytest.raises(SnapshotDecodeError, match="not a snapshot"):
        spec_version_of(b"\x91\x01")
    with pytest.raises(SnapshotDecodeError, match="expected bytes, got `str`"):
        spec_version_of("\x92\x01")  # type: ignore[arg-type]


def test_encode_refuses_anything_but_a_transient_snapshot() -> None:
    with pytest.raises(TypeError, match="takes a TransientSnapshot, not FrameworkSnapshot"):
        encode(snapshot().framework)  # type: ignore[arg-type]


def test_input_over_the_size_limit_is_refused_before_parsing() -> None:
    data = encode(snapshot())
    with pytest.raises(SnapshotDecodeError, match="exceeds the 10-byte limit"):
        decode(data, max_size=10)
    assert decode(data, max_size=len(data)) == snapshot()


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(SnapshotDecodeError, match="expected bytes"):
        decode("not bytes")  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_our_error(data: bytes) -> None:
    with contextlib.suppress(SnapshotError):
        decode(data)


@settings(max_examples=300)
@given(transient_snapshots(), st.data())
def test_damaged_encodings_decode_or_raise_our_error(
    value: TransientSnapshot, data: st.DataObject
) -> None:
    encoded = bytearray(encode(value))
    action = data.draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if action == "flip":
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "truncate":
        del encoded[data.draw(st.integers(0, len(encoded) - 1)) :]
    elif action == "extend":
        encoded += data.draw(st.binary(min_size=1, max_size=8))
    else:
        index = data.draw(st.integers(0, len(encoded)))
        encoded[index:index] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        result = decode(bytes(encoded))
    except SnapshotError:
        return
    assert isinstance(result, TransientSnapshot)
    assert decode(encode(result)) == result


def test_address_book_row_order_is_kept() -> None:
    rows = (AddressBookEntrySnapshot(PEER_B, (b"\x01",), 1), AddressBookEntrySnapshot(PEER_A))
    assert decode(encode(snapshot(address_book=rows))).framework.address_book == rows


def test_an_invalid_outbound_envelope_after_valid_ones_is_refused_where_it_is() -> None:
    # Rows without a peer were once taken for repeats of the peer `None`, at the second row.
    body = body_of(snapshot())
    body[5][5] = [[b"a", False], [b"b", False], [b"", False]]
    with pytest.raises(SnapshotDecodeError) as refused:
        decode(envelope(body))
    assert refused.value.path == ("framework", "pending_outbound", 2, "envelope_bytes")
    assert refused.value.reason == "expected non-empty `bytes`"
