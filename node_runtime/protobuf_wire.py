"""A minimal, strict protobuf wire-format reader and writer for libp2p's small messages.

Only what signed peer records need (https://protobuf.dev/programming-guides/encoding/): varint
and length-delimited fields are read by number; unknown fields are skipped, as every protobuf
reader does, so a message may gain fields; fixed-width fields are skipped too. Stricter than
protobuf where ambiguity would let two readers see different values in the same bytes:

- a varint must be in shortest form, at most 10 bytes and at most 2**64-1;
- a singular field may appear once (protobuf would keep the last of several);
- a known field must have its declared wire type (protobuf would treat it as unknown);
- groups (wire types 3 and 4, deprecated) and the undefined wire types 6 and 7 are refused.

Nothing is allocated from a declared length before it is checked against the bytes that remain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

VARINT: Final = 0
"""Wire type of `uint64`, `enum`, … fields."""
LEN: Final = 2
"""Wire type of `bytes`, `string` and embedded-message fields."""

_I64: Final = 1
_I32: Final = 5
_FIXED_SIZES: Final = {_I64: 8, _I32: 4}
_MAX_VARINT_BYTES: Final = 10
_U64_MAX: Final = 2**64 - 1
_MAX_FIELD_NUMBER: Final = 2**29 - 1

_Value = TypeVar("_Value", int, bytes)


class WireFormatError(ValueError):
    """Bytes that are not a well-formed message; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Field:
    """A field a message reader knows: its name (for errors), wire type, and repetition."""

    name: str
    wire_type: int
    repeated: bool = False


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """The varint at `offset` and the offset after it."""
    if offset < len(data) and data[offset] < 0x80:  # field keys and short lengths: one byte
        return data[offset], offset + 1
    value = 0
    for index in range(offset, min(len(data), offset + _MAX_VARINT_BYTES)):
        byte = data[index]
        value |= (byte & 0x7F) << (7 * (index - offset))
        if byte < 0x80:
            if byte == 0 and index > offset:
                raise WireFormatError(f"varint at byte {offset} is not in shortest form")
            if value > _U64_MAX:
                raise WireFormatError(f"varint at byte {offset} exceeds 2**64-1")
            return value, index + 1
    if len(data) - offset >= _MAX_VARINT_BYTES:
        raise WireFormatError(f"varint at byte {offset} is longer than 10 bytes")
    raise WireFormatError(f"varint at byte {offset} is truncated")


class Message:
    """The known fields of one message, read from `data` by the `fields` table."""

    __slots__ = ("_bytes", "_varints")

    def __init__(self, data: bytes, fields: Mapping[int, Field]) -> None:
        self._varints: dict[int, list[int]] = {}
        self._bytes: dict[int, list[bytes]] = {}
        offset = 0
        end = len(data)
        while offset < end:
            start = offset
            key, offset = read_varint(data, offset)
            number, wire_type = key >> 3, key & 7
            if not 0 < number <= _MAX_FIELD_NUMBER:
                raise WireFormatError(f"invalid field number {number} at byte {start}")
            field = fields.get(number)
            what = f"field {number}" if field is None else f"field {number} ({field.name})"
            if field is not None and wire_type != field.wire_type:
                raise WireFormatError(
                    f"{what} at byte {start} has wire type {wire_type}, not {field.wire_type}"
                )
            if wire_type == VARINT:
                value, offset = read_varint(data, offset)
                if field is not None:
                    self._add(self._varints, number, field, value, start)
            elif wire_type == LEN:
                length, offset = read_varint(data, offset)
                if length > end - offset:
                    raise WireFormatError(
                        f"{what} at byte {start} is truncated: {length} bytes declared, "
                        f"{end - offset} remain"
                    )
                if field is not None:
                    self._add(self._bytes, number, field, data[offset : offset + length], start)
                offset += length
            elif wire_type in _FIXED_SIZES:
                offset += _FIXED_SIZES[wire_type]
                if offset > end:
                    raise WireFormatError(f"{what} at byte {start} is truncated")
            else:
                raise WireFormatError(
                    f"{what} at byte {start} has unsupported wire type {wire_type}"
                )

    @staticmethod
    def _add(
        table: dict[int, list[_Value]], number: int, field: Field, value: _Value, at: int
    ) -> None:
        values = table.setdefault(number, [])
        if values and not field.repeated:
            raise WireFormatError(f"field {number} ({field.name}) repeated at byte {at}")
        values.append(value)

    def varint(self, number: int) -> int | None:
        """The singular varint field `number`, or `None` when absent."""
        values = self._varints.get(number)
        return None if values is None else values[0]

    def bytes_value(self, number: int) -> bytes | None:
        """The singular length-delimited field `number`, or `None` when absent."""
        values = self._bytes.get(number)
        return None if values is None else values[0]

    def repeated_bytes(self, number: int) -> list[bytes]:
        """Every occurrence of the repeated length-delimited field `number`, in order."""
        return self._bytes.get(number, [])


def encode_varint(value: int) -> bytes:
    """The shortest-form varint of `0 <= value <= 2**64-1`."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_varint_field(number: int, value: int) -> bytes:
    """Field `number` holding varint `value`."""
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


def encode_bytes_field(number: int, value: bytes) -> bytes:
    """Field `number` holding the length-delimited `value`."""
    return encode_varint(number << 3 | LEN) + encode_varint(len(value)) + value
