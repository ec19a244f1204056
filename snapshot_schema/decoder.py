"""`decode`: bytes to a `TransientSnapshot`, treating every input as hostile.

Steps, each bounded in memory and time by the input size:
1. size limit, then the envelope `[spec_version, body]` header read by hand;
2. the version gate, before any of the body is parsed;
3. a structural pass (`Unpacker.skip`, allocation-free, C speed) proving the body is complete,
   well-formed msgpack within the nesting limit and followed by nothing: without it, msgpack
   preallocates every declared array length at every nesting level before finding the input short;
4. unpacking into plain tuples and building records, validating each value with a path to it.
Only `SnapshotError` subclasses escape.
"""

from __future__ import annotations

import operator
from itertools import compress
from typing import Any

import msgpack

from snapshot_schema.body_builder import build_snapshot
from snapshot_schema.byte_view import byte_view
from snapshot_schema.checks import U32_MAX
from snapshot_schema.encoder import pack
from snapshot_schema.errors import SnapshotDecodeError, SnapshotError
from snapshot_schema.gc_pause import gc_paused
from snapshot_schema.migrations import MIGRATIONS, MigrationRegistry, Upgrade
from snapshot_schema.transient import TransientSnapshot

DEFAULT_MAX_SNAPSHOT_SIZE = 256 * 1024 * 1024
"""Inputs longer than this many bytes are refused unless the caller raises the limit."""

MAX_NESTING = 1024
"""The deepest nesting of arrays a body may have, the body itself included: msgpack's own
limit, enforced by the structure pass. A valid body nests 6 deep (docs/FORMAT.md §5)."""

_ENVELOPE_HEADER = 0x92  # fixarray of 2: [spec_version, body]
_NIL = 0xC0
# Every msgpack integer form but the fixints: marker -> (width in bytes, signed).
_INT_FORMS = {
    0xCC: (1, False),
    0xCD: (2, False),
    0xCE: (4, False),
    0xCF: (8, False),
    0xD0: (1, True),
    0xD1: (2, True),
    0xD2: (4, True),
    0xD3: (8, True),
}


def read_version(data: memoryview, subject: str = "snapshot") -> tuple[int | None, int]:
    """The envelope's spec version (`None` for nil) and the offset of the body; `subject`
    names what the envelope holds in the messages (a delta has the same envelope).

    The version follows the rule of every integer in the format (docs/FORMAT.md §1): any
    msgpack integer form is accepted if its value is in range, here a u32.
    """
    if len(data) == 0:
        raise SnapshotDecodeError("empty input")
    if data[0] != _ENVELOPE_HEADER:
        raise SnapshotDecodeError(
            f"not a {subject}: expected a 2-element array (0x92), found byte 0x{data[0]:02x}"
        )
    if len(data) < 2:
        raise SnapshotDecodeError("input ends before the spec version")
    marker = data[1]
    if marker <= 0x7F:
        return marker, 2
    if marker == _NIL:
        return None, 2
    if marker >= 0xE0:  # negative fixint
        raise SnapshotDecodeError(f"expected the spec version as a u32, got {marker - 0x100}")
    form = _INT_FORMS.get(marker)
    if form is None:
        raise SnapshotDecodeError(
            f"expected the spec version as an integer, found msgpack byte 0x{marker:02x}"
        )
    width, signed = form
    if len(data) < 2 + width:
        raise SnapshotDecodeError("input ends inside the spec version")
    version = int.from_bytes(data[2 : 2 + width], "big", signed=signed)
    if not 0 <= version <= U32_MAX:
        raise SnapshotDecodeError(f"expected the spec version as a u32, got {version}")
    return version, 2 + width


def _check_structure(body: memoryview, subject: str) -> None:
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(body), 1))
    unpacker.feed(body)
    try:
        unpacker.skip()
    except msgpack.OutOfData:
        raise SnapshotDecodeError(f"input ends before the {subject} body does") from None
    except msgpack.StackError:
        raise SnapshotDecodeError(f"nesting too deep (over {MAX_NESTING} levels)") from None
    except (msgpack.FormatError, ValueError) as error:
        raise SnapshotDecodeError(f"malformed msgpack: {error}") from None
    if unpacker.tell() != len(body):
        raise SnapshotDecodeError(
            f"{len(body) - unpacker.tell()} unexpected bytes after the {subject} body"
        )


def _reject_map(_pairs: object) -> object:
    raise SnapshotDecodeError("msgpack maps are not used by the snapshot format")


def unpack_body(body: memoryview, subject: str = "snapshot") -> object:
    """`body` as plain msgpack values (arrays as tuples), after the structure pass proved it
    complete, shallow enough and followed by nothing."""
    _check_structure(body, subject)
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            use_list=False,
            max_ext_len=0,
            object_pairs_hook=_reject_map,
        )
    except SnapshotError:
        raise
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise SnapshotDecodeError(f"malformed msgpack: {error}") from None
    except UnicodeDecodeError as error:
        raise SnapshotDecodeError(f"invalid UTF-8 in a string: {error.reason}") from None
    except (ValueError, OverflowError) as error:
        # msgpack raises ValueError for ext types and exceeded limits: not a snapshot either.
        raise SnapshotDecodeError(f"unsupported msgpack value: {error}") from None


def _migrate(decoded: list[object], found: int | None, chain: tuple[Upgrade, ...]) -> object:
    """The body `decoded` holds (taken from it), upgraded by `chain` and made plain again.

    Each field of the body that an upgrade replaced is packed and unpacked, so it holds only
    what msgpack yields and is validated exactly like fresh input; a field the upgrades kept
    (the very object decoded) is plain already and is not copied. A migration thus costs about
    what it changes, and the old body is freed before the new fields are unpacked: the decoder
    never holds two copies of a large structure (docs/FORMAT.md §5)."""
    body: Any = decoded.pop()
    upgraded: Any = body
    for upgrade in chain:
        try:
            upgraded = upgrade(upgraded)
        except SnapshotError:
            raise
        except Exception as error:  # a migration failing on odd input is a decode error
            raise SnapshotDecodeError(
                f"migration from spec version {found} failed: {error!r}"
            ) from None
    by_field = (
        type(body) is tuple and isinstance(upgraded, tuple | list) and len(upgraded) == len(body)
    )
    fields: list[Any] = list(upgraded) if by_field else [upgraded]
    kept = list(map(operator.is_, fields, body)) if by_field else [False]
    del body, upgraded
    repacked: dict[int, bytes] = {}
    for index in compress(range(len(fields)), map(operator.not_, kept)):
        try:
            repacked[index] = pack(fields[index])
        except (TypeError, ValueError, OverflowError) as error:
            raise SnapshotDecodeError(f"migration produced unencodable values: {error}") from None
        fields[index] = None
    for index in list(repacked):
        fields[index] = unpack_body(memoryview(repacked.pop(index)))
    return tuple(fields) if by_field else fields[0]


def input_size(data: object) -> int:
    """The number of bytes in `data`, refusing anything that is not bytes-like (or is a
    released view)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotDecodeError(f"expected bytes, got `{type(data).__name__}`")
    try:
        return memoryview(data).nbytes
    except ValueError as error:  # a released memoryview
        raise SnapshotDecodeError(f"unreadable input: {error}") from None


def decode(
    data: bytes | bytearray | memoryview,
    *,
    max_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
    migrations: MigrationRegistry = MIGRATIONS,
) -> TransientSnapshot:
    """The snapshot encoded in `data`.

    Raises `IncompatibleSnapshotVersion` for a version this build cannot restore (none, newer,
    or older without registered migrations) and `SnapshotDecodeError`, with the path to the
    offending value, for anything else that is not a valid snapshot.
    """
    size = input_size(data)
    if size > max_size:
        raise SnapshotDecodeError(f"input of {size} bytes exceeds the {max_size}-byte limit")
    view = byte_view(data)
    found, body_offset = read_version(view)
    # The gate runs before any of the body is parsed.
    chain = () if found == migrations.current_version else migrations.gate(found)
    with gc_paused():
        decoded = [unpack_body(view[body_offset:])]
        body = _migrate(decoded, found, chain) if chain else decoded.pop()
        # Its fields as a list no one else holds: the builder frees each structure's decoded
        # rows once their records exist (see `body_builder.Fields`).
        fields = list(body) if type(body) is tuple and len(body) == 10 else body
        del body
        return build_snapshot(fields)


def spec_version_of(data: bytes | bytearray | memoryview) -> int | None:
    """The spec version an encoded snapshot is stamped with (`None` for an unstamped one),
    read without parsing the body. Raises `SnapshotDecodeError` if `data` has no envelope or
    its version is no u32."""
    input_size(data)
    return read_version(byte_view(data))[0]
