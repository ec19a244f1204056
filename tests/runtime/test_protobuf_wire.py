"""The strict protobuf reader behind signed peer records: known fields by number, unknown ones
skipped, and every ambiguous or malformed encoding refused."""

import contextlib
import re
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.protobuf_wire import (
    LEN,
    VARINT,
    Field,
    Message,
    WireFormatError,
    encode_bytes_field,
    encode_varint,
    encode_varint_field,
    read_varint,
)

FIELDS = {1: Field("name", LEN), 2: Field("count", VARINT), 3: Field("items", LEN, repeated=True)}


def test_known_fields_are_read_by_number_in_any_order() -> None:
    data = encode_bytes_field(3, b"a") + encode_varint_field(2, 300) + encode_bytes_field(1, b"n")
    data += encode_bytes_field(3, b"b")

    message = Message(data, FIELDS)

    assert message.bytes_value(1) == b"n"
    assert message.varint(2) == 300
    assert message.repeated_bytes(3) == [b"a", b"b"]


def test_absent_fields_read_as_none_or_no_items() -> None:
    message = Message(b"", FIELDS)

    assert (message.bytes_value(1), message.varint(2), message.repeated_bytes(3)) == (
        None,
        None,
        [],
    )


@pytest.mark.parametrize(
    "unknown",
    [
        encode_varint_field(9, 2**64 - 1),
        encode_bytes_field(10, b"future"),
        bytes([11 << 3 | 1]) + bytes(8),  # fixed64
        bytes([12 << 3 | 5]) + bytes(4),  # fixed32
        encode_bytes_field(2**29 - 1, b""),  # the largest field number
    ],
)
def test_unknown_fields_of_every_skippable_wire_type_are_skipped(unknown: bytes) -> None:
    data = unknown + encode_bytes_field(1, b"n") + unknown

    assert Message(data, FIELDS).bytes_value(1) == b"n"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (encode_bytes_field(1, b"a") + encode_bytes_field(1, b"b"), "field 1 (name) repeated"),
        (encode_varint_field(1, 5), "field 1 (name) at byte 0 has wire type 0, not 2"),
        (encode_bytes_field(2, b"5"), "field 2 (count) at byte 0 has wire type 2, not 0"),
        (bytes([9 << 3 | 3]), "field 9 at byte 0 has unsupported wire type 3"),
        (bytes([9 << 3 | 4]), "unsupported wire type 4"),
        (bytes([9 << 3 | 6]), "unsupported wire type 6"),
        (bytes([9 << 3 | 7]), "unsupported wire type 7"),
        (bytes([0 << 3 | 2, 0]), "invalid field number 0 at byte 0"),
        (encode_varint(2**29 << 3 | 2) + b"\0", "invalid field number 536870912"),
        (
            bytes([1 << 3 | 2, 5]) + b"abc",
            "field 1 (name) at byte 0 is truncated: 5 bytes declared",
        ),
        (bytes([9 << 3 | 2, 5]) + b"abc", "field 9 at byte 0 is truncated"),
        (bytes([9 << 3 | 1]) + bytes(7), "field 9 at byte 0 is truncated"),
        (bytes([9 << 3 | 5]) + bytes(3), "field 9 at byte 0 is truncated"),
        (bytes([1 << 3 | 2]), "varint at byte 1 is truncated"),
        (bytes([2 << 3 | 0, 0x80]), "varint at byte 1 is truncated"),
        (bytes([2 << 3 | 0, 0x81, 0x00]), "varint at byte 1 is not in shortest form"),
        (bytes([0x8A, 0x00, 0]), "varint at byte 0 is not in shortest form"),  # a padded key
        (bytes([2 << 3 | 0]) + b"\xff" * 10 + b"\x01", "varint at byte 1 is longer than 10 bytes"),
        (bytes([2 << 3 | 0]) + b"\xff" * 9 + b"\x02", "varint at byte 1 exceeds 2**64-1"),
    ],
)
def test_malformed_or_ambiguous_encodings_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(WireFormatError, match=re.escape(problem)):
        Message(data, FIELDS)


def test_a_huge_declared_length_is_refused_without_allocating_it() -> None:
    data = bytes([1 << 3 | 2]) + encode_varint(2**63)

    with pytest.raises(WireFormatError, match=f"{2**63} bytes declared, 0 remain"):
        Message(data, FIELDS)


@given(st.integers(0, 2**64 - 1))
def test_varints_round_trip_in_shortest_form(value: int) -> None:
    encoded = encode_varint(value)

    assert read_varint(encoded, 0) == (value, len(encoded))
    assert len(encoded) == max(1, -(-value.bit_length() // 7))


@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_read_or_refused_with_wire_format_error(data: bytes) -> None:
    with contextlib.suppress(WireFormatError):
        Message(data, FIELDS)


@given(
    st.binary(max_size=300),
    st.integers(0, 2**64 - 1),
    st.lists(st.binary(max_size=200), max_size=5),
    st.randoms(use_true_random=False),
)
def test_encoded_fields_read_back_in_whatever_order_they_come(
    name: bytes, count: int, items: list[bytes], random: Random
) -> None:
    encoded: list[tuple[bytes | None, bytes]] = [
        (None, encode_bytes_field(1, name)),
        (None, encode_varint_field(2, count)),
    ]
    encoded += [(item, encode_bytes_field(3, item)) for item in items]
    random.shuffle(encoded)

    message = Message(b"".join(field for _, field in encoded), FIELDS)

    assert message.bytes_value(1) == name
    assert message.varint(2) == count
    assert message.repeated_bytes(3) == [item for item, _ in encoded if item is not None]
