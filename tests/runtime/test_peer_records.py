"""The peer record book: public keys that match their PeerIds, sorted unique protocols, metadata
that keeps its types, a latency moving average, the newest verified signed record; bounded,
checked where values enter, all or nothing."""

from __future__ import annotations

import hashlib
import math
from typing import cast

import pytest

from node_runtime.component_errors import (
    ComponentError,
    ComponentTypeError,
    ComponentValueError,
    PeerRecordLimitError,
)
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_key import PeerKey
from node_runtime.peer_records import (
    DEFAULT_MAX_METADATA_PER_PEER,
    DEFAULT_MAX_METADATA_VALUE_SIZE,
    DEFAULT_MAX_NAME_SIZE,
    DEFAULT_MAX_PROTOCOLS_PER_PEER,
    DEFAULT_MAX_SIGNED_RECORD_SIZE,
    PeerRecordBook,
    PeerRecordLimits,
    PeerRecordRow,
)
from node_runtime.signed_record import SignedRecordError, sign_peer_record
from snapshot_schema.checks import U64_MAX
from snapshot_schema.peer_record_checks import MetadataValue

ALICE_ID = Identity.from_private_bytes(b"\x0a" * 32)
BOB_ID = Identity.from_private_bytes(b"\x0b" * 32)
ALICE = ALICE_ID.peer_id.to_bytes()
BOB = BOB_ID.peer_id.to_bytes()
ALICE_KEY = bytes([0x08, 0x01, 0x12, 0x20]) + ALICE_ID.public_key.public_bytes_raw()
# A key too long to inline (an ECDSA-typed protobuf of 64 bytes of data): its PeerId hashes it.
LONG_KEY = bytes([0x08, 0x03, 0x12, 64]) + bytes(range(64))
HASHED_PEER = bytes([0x12, 0x20]) + hashlib.sha256(LONG_KEY).digest()
ADDRESS = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")


def state_of(book: PeerRecordBook) -> list[PeerRecordRow]:
    return list(book.entries())


def refused_without_change(
    book: PeerRecordBook, error: type[ComponentError], call: object, *args: object
) -> ComponentError:
    """Call `call(*args)`, expecting `error`, and check that nothing changed."""
    before, revision = state_of(book), book.revision
    with pytest.raises(error) as raised:
        call(*args)  # type: ignore[operator]
    assert state_of(book) == before
    assert book.revision == revision
    return raised.value


def test_a_new_book_knows_nothing() -> None:
    book = PeerRecordBook()

    assert len(book) == 0
    assert ALICE not in book
    assert book.public_key(ALICE) is None
    assert book.protocols(ALICE) == ()
    assert book.metadata(ALICE) == {}
    assert book.latency_ns(ALICE) is None
    assert book.signed_record(ALICE) is None
    assert book.signed_record_seq(ALICE) is None


# Public keys.


def test_a_public_key_matching_an_inlining_peer_id_is_kept() -> None:
    book = PeerRecordBook()

    assert book.set_public_key(ALICE_ID.peer_id, ALICE_KEY)
    revision = book.revision
    assert not book.set_public_key(ALICE, ALICE_KEY)  # already held: no change

    assert book.public_key(ALICE) == ALICE_KEY
    assert book.revision == revision


def test_a_public_key_hashing_to_its_peer_id_is_kept() -> None:
    book = PeerRecordBook()

    book.set_public_key(HASHED_PEER, LONG_KEY)

    assert book.public_key(HASHED_PEER) == LONG_KEY


@pytest.mark.parametrize(
    ("peer", "key", "reason"),
    [
        (BOB, ALICE_KEY, "does not match the PeerId"),
        (HASHED_PEER, LONG_KEY[:-1] + b"\x00", "does not hash to the PeerId"),
        (ALICE, ALICE_KEY[:-1], "length"),
        (ALICE, b"\x08\x09\x12\x01\x00", "unknown key type"),
    ],
)
def test_a_public_key_that_is_malformed_or_not_the_peers_is_refused(
    peer: PeerKey, key: bytes, reason: str
) -> None:
    book = PeerRecordBook()

    error = refused_without_change(book, ComponentValueError, book.set_public_key, peer, key)

    assert reason in str(error)
    assert error.path == ("key",)  # type: ignore[attr-defined]


def test_a_public_key_of_another_type_is_a_type_error() -> None:
    book = PeerRecordBook()

    refused_without_change(
        book, ComponentTypeError, book.set_public_key, ALICE, bytearray(ALICE_KEY)
    )


# Protocols.


def test_protocols_are_kept_sorted_and_each_once() -> None:
    book = PeerRecordBook()

    assert book.add_protocols(ALICE, ["/ipfs/kad/1.0.0", "/ipfs/id/1.0.0", "/ipfs/kad/1.0.0"])
    assert book.add_protocols(ALICE, ["/meshsub/1.1.0", "/ipfs/id/1.0.0"])
    revision = book.revision
    assert not book.add_protocols(ALICE, ["/ipfs/id/1.0.0"])

    assert book.protocols(ALICE) == ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0", "/meshsub/1.1.0")
    assert book.supports(ALICE, "/ipfs/kad/1.0.0")
    assert not book.supports(ALICE, "/ipfs/kad/2.0.0")
    assert not book.supports(BOB, "/ipfs/kad/1.0.0")
    assert book.revision == revision


def test_removing_and_setting_protocols() -> None:
    book = PeerRecordBook()
    book.add_protocols(ALICE, ["/a", "/b", "/c"])

    assert book.remove_protocols(ALICE, ["/b", "/z"])
    assert not book.remove_protocols(ALICE, ["/z"])
    assert book.protocols(ALICE) == ("/a", "/c")

    assert book.set_protocols(ALICE, {"/y", "/x"})
    assert not book.set_protocols(ALICE, ["/x", "/y", "/x"])
    assert book.protocols(ALICE) == ("/x", "/y")


def test_a_record_left_with_nothing_is_dropped() -> None:
    book = PeerRecordBook()
    book.add_protocols(ALICE, ["/a"])
    book.put_metadata(BOB, "agent", "go-libp2p")

    book.remove_protocols(ALICE, ["/a"])
    book.delete_metadata(BOB, "agent")

    assert len(book) == 0
    assert not book.set_protocols(ALICE, [])  # an empty set for an unknown peer: no change
    assert ALICE not in book


@pytest.mark.parametrize("protocols", ["/ipfs/id/1.0.0", b"/ipfs/id/1.0.0", 7])
def test_a_single_protocol_where_a_list_goes_is_a_type_error(protocols: object) -> None:
    book = PeerRecordBook()

    error = refused_without_change(book, ComponentTypeError, book.add_protocols, ALICE, protocols)

    assert error.path == ("protocols",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("protocol", "error_type"),
    [("", ComponentValueError), ("\ud800", ComponentValueError), (3, ComponentTypeError)],
)
def test_a_protocol_that_is_no_name_is_refused_with_its_position(
    protocol: object, error_type: type[ComponentError]
) -> None:
    book = PeerRecordBook()
    book.add_protocols(ALICE, ["/a"])

    error = refused_without_change(book, error_type, book.add_protocols, ALICE, ["/b", protocol])

    assert error.path == ("protocols", 1)  # type: ignore[attr-defined]


def test_protocols_past_the_limit_are_refused() -> None:
    book = PeerRecordBook(PeerRecordLimits(max_protocols=2))
    book.add_protocols(ALICE, ["/a", "/b"])

    refused_without_change(book, PeerRecordLimitError, book.add_protocols, ALICE, ["/c"])
    refused_without_change(book, PeerRecordLimitError, book.set_protocols, BOB, ["/a", "/b", "/c"])
    assert book.add_protocols(ALICE, ["/a"]) is False  # held ones do not count twice


def test_a_protocol_id_longer_than_the_name_limit_is_refused() -> None:
    book = PeerRecordBook(PeerRecordLimits(max_name_size=4))

    book.add_protocols(ALICE, ["/abc"])
    error = refused_without_change(book, ComponentValueError, book.add_protocols, ALICE, ["/é12"])

    assert "5 bytes" in str(error)  # UTF-8 bytes, not characters


# Metadata.


def test_metadata_keeps_each_value_of_its_own_type() -> None:
    book = PeerRecordBook()
    values: dict[str, MetadataValue] = {
        "int": 1,
        "bool": True,
        "float": 1.0,
        "str": "1",
        "bytes": b"\x01",
        "none": None,
        "big": U64_MAX,
        "small": -(2**63),
        "inf": math.inf,
    }
    for key, value in values.items():
        book.put_metadata(ALICE, key, value)

    for key, value in values.items():
        stored = book.get_metadata(ALICE, key)
        assert (type(stored), stored) == (type(value), value)
    assert book.metadata(ALICE) == values
    assert [key for key, _ in next(book.entries())[3]] == sorted(values)


def test_replacing_a_value_with_an_equal_one_of_another_type_is_a_change() -> None:
    book = PeerRecordBook()
    book.put_metadata(ALICE, "flag", 1)
    revision = book.revision

    book.put_metadata(ALICE, "flag", 1)
    assert book.revision == revision
    book.put_metadata(ALICE, "flag", True)

    assert book.get_metadata(ALICE, "flag") is True
    assert book.revision > revision


def test_a_missing_key_is_a_key_error_and_none_is_a_value() -> None:
    book = PeerRecordBook()
    book.put_metadata(ALICE, "nothing", None)

    assert book.get_metadata(ALICE, "nothing") is None
    with pytest.raises(KeyError):
        book.get_metadata(ALICE, "missing")
    with pytest.raises(KeyError):
        book.get_metadata(BOB, "nothing")


def test_deleting_metadata_says_whether_the_key_was_there() -> None:
    book = PeerRecordBook()
    book.put_metadata(ALICE, "a", 1)
    book.put_metadata(ALICE, "b", 2)

    assert book.delete_metadata(ALICE, "a")
    assert not book.delete_metadata(ALICE, "a")
    assert not book.delete_metadata(BOB, "a")

    assert book.metadata(ALICE) == {"b": 2}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "NaN"),
        (-0.0, "-0.0"),
        (U64_MAX + 1, "outside"),
        (-(2**63) - 1, "outside"),
        ("\ud800", "surrogate"),
    ],
)
def test_a_metadata_value_out_of_its_domain_is_refused(value: object, reason: str) -> None:
    book = PeerRecordBook()
    book.put_metadata(ALICE, "kept", 0.0)

    error = refused_without_change(
        book, ComponentValueError, book.put_metadata, ALICE, "kept", value
    )

    assert reason in str(error)
    assert error.path == ("value",)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [bytearray(b"x"), [1], {"a": 1}, 1j])
def test_a_metadata_value_of_another_type_is_a_type_error(value: object) -> None:
    book = PeerRecordBook()

    error = refused_without_change(book, ComponentTypeError, book.put_metadata, ALICE, "k", value)

    assert error.path == ("value",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "error_type"), [("", ComponentValueError), (1, ComponentTypeError)]
)
def test_a_metadata_key_that_is_no_name_is_refused(
    key: object, error_type: type[ComponentError]
) -> None:
    book = PeerRecordBook()

    error = refused_without_change(book, error_type, book.put_metadata, ALICE, key, 1)

    assert error.path == ("key",)  # type: ignore[attr-defined]


def test_metadata_entries_past_the_limit_are_refused_but_replacing_one_is_not() -> None:
    book = PeerRecordBook(PeerRecordLimits(max_metadata=2))
    book.put_metadata(ALICE, "a", 1)
    book.put_metadata(ALICE, "b", 2)

    refused_without_change(book, PeerRecordLimitError, book.put_metadata, ALICE, "c", 3)
    book.put_metadata(ALICE, "b", 20)

    assert book.metadata(ALICE) == {"a": 1, "b": 20}


@pytest.mark.parametrize("value", ["é" * 3, b"\x00" * 6])
def test_a_metadata_value_larger_than_the_limit_is_refused(value: str | bytes) -> None:
    book = PeerRecordBook(PeerRecordLimits(max_metadata_value_size=5))
    book.put_metadata(ALICE, "fits", "12345")

    refused_without_change(book, PeerRecordLimitError, book.put_metadata, ALICE, "big", value)


# Latency.


def test_the_first_latency_sample_sets_the_average() -> None:
    book = PeerRecordBook()

    assert book.record_latency(ALICE, 250_000) == 250_000
    assert book.latency_ns(ALICE) == 250_000


@pytest.mark.parametrize(
    ("previous", "sample", "expected"),
    [
        (100, 200, 110),  # a tenth of the way
        (200, 100, 190),
        (1, 6, 2),  # 1.5 rounds half up
        (1, 5, 1),  # 1.4 rounds down
        (U64_MAX, U64_MAX, U64_MAX),  # no overflow at the top of the range
        (0, U64_MAX, (U64_MAX + 5) // 10),
    ],
)
def test_each_later_sample_moves_the_average_a_tenth_of_the_way(
    previous: int, sample: int, expected: int
) -> None:
    book = PeerRecordBook()
    book.record_latency(ALICE, previous)

    assert book.record_latency(ALICE, sample) == expected
    assert book.latency_ns(ALICE) == expected


def test_a_sample_equal_to_the_average_changes_nothing() -> None:
    book = PeerRecordBook()
    book.record_latency(ALICE, 1_000)
    revision = book.revision

    book.record_latency(ALICE, 1_000)

    assert book.revision == revision


@pytest.mark.parametrize(
    ("sample", "error_type"),
    [(-1, ComponentValueError), (U64_MAX + 1, ComponentValueError), (1.5, ComponentTypeError)],
)
def test_a_latency_sample_that_is_no_u64_is_refused(
    sample: object, error_type: type[ComponentError]
) -> None:
    book = PeerRecordBook()
    book.record_latency(ALICE, 10)

    error = refused_without_change(book, error_type, book.record_latency, ALICE, sample)

    assert error.path == ("sample_ns",)  # type: ignore[attr-defined]


# Signed records.


def signed(identity: Identity, seq: int) -> bytes:
    return sign_peer_record(identity, seq, [ADDRESS])


def test_a_verified_signed_record_is_kept_with_its_seq() -> None:
    book = PeerRecordBook()
    envelope = signed(ALICE_ID, 5)

    assert book.consume_signed_record(ALICE_ID.peer_id, envelope)

    assert book.signed_record(ALICE) == envelope
    assert book.signed_record_seq(ALICE) == 5


def test_a_record_with_seq_zero_is_kept_and_superseded_by_any_later_one() -> None:
    book = PeerRecordBook()

    assert book.consume_signed_record(ALICE, signed(ALICE_ID, 0))
    assert not book.consume_signed_record(ALICE, signed(ALICE_ID, 0))
    assert book.consume_signed_record(ALICE, signed(ALICE_ID, 1))

    assert book.signed_record_seq(ALICE) == 1


@pytest.mark.parametrize("seq", [4, 5])
def test_a_record_not_newer_than_the_one_held_is_not_kept(seq: int) -> None:
    book = PeerRecordBook()
    held = signed(ALICE_ID, 5)
    book.consume_signed_record(ALICE, held)
    revision = book.revision

    assert not book.consume_signed_record(ALICE, sign_peer_record(ALICE_ID, seq, []))

    assert book.signed_record(ALICE) == held
    assert book.revision == revision


def test_a_newer_record_replaces_the_one_held() -> None:
    book = PeerRecordBook()
    book.consume_signed_record(ALICE, signed(ALICE_ID, 5))
    newer = signed(ALICE_ID, 6)

    assert book.consume_signed_record(ALICE, newer)

    assert book.signed_record(ALICE) == newer


def test_another_peers_record_is_refused() -> None:
    book = PeerRecordBook()

    error = refused_without_change(
        book, SignedRecordError, book.consume_signed_record, BOB, signed(ALICE_ID, 1)
    )

    assert "wrong peer" in str(error)


def test_a_tampered_record_is_refused() -> None:
    book = PeerRecordBook()
    envelope = bytearray(signed(ALICE_ID, 1))
    envelope[-1] ^= 1  # the signature's last byte

    error = refused_without_change(
        book, SignedRecordError, book.consume_signed_record, ALICE, bytes(envelope)
    )

    assert "bad signature" in str(error)


def test_a_signed_record_larger_than_the_limit_is_refused_before_it_is_verified() -> None:
    envelope = signed(ALICE_ID, 1)
    book = PeerRecordBook(PeerRecordLimits(max_signed_record_size=len(envelope) - 1))

    refused_without_change(book, PeerRecordLimitError, book.consume_signed_record, ALICE, envelope)
    # Not verified: garbage of the same size fails on the size, not on its signature.
    refused_without_change(
        book, PeerRecordLimitError, book.consume_signed_record, ALICE, b"\x00" * len(envelope)
    )


@pytest.mark.parametrize(
    ("envelope", "error_type"), [(b"", ComponentValueError), ("x", ComponentTypeError)]
)
def test_an_envelope_that_is_no_bytes_or_empty_is_refused(
    envelope: object, error_type: type[ComponentError]
) -> None:
    book = PeerRecordBook()

    error = refused_without_change(book, error_type, book.consume_signed_record, ALICE, envelope)

    assert error.path == ("envelope",)  # type: ignore[attr-defined]


# The whole book.


def fill(book: PeerRecordBook) -> None:
    book.set_public_key(ALICE, ALICE_KEY)
    book.add_protocols(ALICE, ["/b", "/a"])
    book.put_metadata(ALICE, "z", b"\x00")
    book.put_metadata(ALICE, "a", 1.5)
    book.record_latency(ALICE, 7)
    book.consume_signed_record(ALICE, signed(ALICE_ID, 3))
    book.put_metadata(BOB, "agent", "rust-libp2p")


def test_entries_are_snapshot_rows_sorted_by_peer() -> None:
    book = PeerRecordBook()
    fill(book)

    assert state_of(book) == sorted(
        [
            (ALICE, ALICE_KEY, ("/a", "/b"), (("a", 1.5), ("z", b"\x00")), 7, signed(ALICE_ID, 3)),
            (BOB, None, (), (("agent", "rust-libp2p"),), None, None),
        ]
    )


def test_every_change_moves_the_revision() -> None:
    book = PeerRecordBook()
    revisions = [book.revision]
    for change in (
        lambda: book.set_public_key(ALICE, ALICE_KEY),
        lambda: book.add_protocols(ALICE, ["/a"]),
        lambda: book.remove_protocols(ALICE, ["/a"]),
        lambda: book.set_protocols(ALICE, ["/b"]),
        lambda: book.put_metadata(ALICE, "k", 1),
        lambda: book.delete_metadata(ALICE, "k"),
        lambda: book.record_latency(ALICE, 1),
        lambda: book.consume_signed_record(ALICE, signed(ALICE_ID, 1)),
        lambda: book.forget(ALICE),
    ):
        change()
        revisions.append(book.revision)

    assert revisions == sorted(set(revisions))


def test_forgetting_a_peer_drops_its_whole_record() -> None:
    book = PeerRecordBook()
    fill(book)

    book.forget(ALICE)
    revision = book.revision
    book.forget(ALICE)  # nothing left to forget

    assert ALICE not in book
    assert book.peers() == (BOB,)
    assert book.revision == revision


def test_from_state_rebuilds_the_book_from_its_entries() -> None:
    book = PeerRecordBook()
    fill(book)

    rebuilt = PeerRecordBook.from_state(book.entries())

    assert state_of(rebuilt) == state_of(book)
    assert rebuilt.signed_record_seq(ALICE) == 3
    assert not rebuilt.consume_signed_record(ALICE, signed(ALICE_ID, 3))  # seq restored too


def test_from_state_keeps_no_empty_row() -> None:
    book = PeerRecordBook.from_state([(ALICE, None, (), (), None, None)])

    assert len(book) == 0


def row(**fields: object) -> PeerRecordRow:
    """A snapshot row of `ALICE` holding nothing but `fields` (any value, to test refusals)."""
    values: dict[str, object] = {
        "peer": ALICE,
        "public_key": None,
        "protocols": (),
        "metadata": (),
        "latency_ns": None,
        "signed_record": None,
    }
    values.update(fields)
    return cast(PeerRecordRow, tuple(values.values()))


@pytest.mark.parametrize(
    ("rows", "path"),
    [
        ([row(latency_ns=1), row(latency_ns=2)], ("entries", 1, "peer")),
        ([row(), row(latency_ns=2)], ("entries", 1, "peer")),  # an empty row is still a listing
        ([row(peer=b"junk")], ("entries", 0, "peer")),
        ([row(public_key=ALICE_KEY[:-1])], ("entries", 0, "public_key")),
        ([row(peer=BOB, public_key=ALICE_KEY)], ("entries", 0, "public_key")),
        ([row(protocols=("/a", "/a"))], ("entries", 0, "protocols", 1)),
        ([row(protocols=("/a", ""))], ("entries", 0, "protocols", 1)),
        ([row(protocols=("/a", ["/b"]))], ("entries", 0, "protocols", 1)),  # unhashable
        ([row(metadata=(("k", 1), ("k", 2)))], ("entries", 0, "metadata", 1, "key")),
        ([row(metadata=(("k", math.nan),))], ("entries", 0, "metadata", 0, "value")),
        ([row(metadata=(("k",),))], ("entries", 0, "metadata", 0)),
        ([row(latency_ns=-1)], ("entries", 0, "latency_ns")),
        ([row(signed_record=b"")], ("entries", 0, "signed_record")),
    ],
)
def test_from_state_refuses_a_bad_value_with_its_path(
    rows: list[PeerRecordRow], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerRecordBook.from_state(rows)

    assert raised.value.path == path


@pytest.mark.parametrize(
    ("limits", "bad_row", "path"),
    [
        (
            PeerRecordLimits(max_protocols=1),
            row(protocols=("/a", "/b")),
            ("entries", 0, "protocols"),
        ),
        (
            PeerRecordLimits(max_metadata=1),
            row(metadata=(("a", 1), ("b", 2))),
            ("entries", 0, "metadata"),
        ),
        (
            PeerRecordLimits(max_metadata_value_size=1),
            row(metadata=(("a", "ab"),)),
            ("entries", 0, "metadata", 0, "value"),
        ),
        (PeerRecordLimits(max_name_size=1), row(protocols=("/a",)), ("entries", 0, "protocols", 0)),
    ],
)
def test_from_state_refuses_a_row_past_the_limits(
    limits: PeerRecordLimits, bad_row: PeerRecordRow, path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerRecordBook.from_state([bad_row], limits=limits)

    assert raised.value.path == path
    assert type(raised.value) is ComponentValueError  # a restore refuses the snapshot


def tampered(envelope: bytes) -> bytes:
    changed = bytearray(envelope)
    changed[-1] ^= 1
    return bytes(changed)


def test_from_state_refuses_a_signed_record_that_fails_verification() -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerRecordBook.from_state([row(signed_record=tampered(signed(ALICE_ID, 1)))])

    assert raised.value.path == ("entries", 0, "signed_record")
    assert "bad signature" in raised.value.reason


def test_from_state_reports_refused_signed_records_and_keeps_the_rest() -> None:
    refused: list[tuple[PeerKey, ComponentError]] = []
    rows = [
        row(latency_ns=9, signed_record=tampered(signed(ALICE_ID, 1))),
        row(peer=BOB, signed_record=signed(ALICE_ID, 1)),  # alice's record in bob's row
    ]

    book = PeerRecordBook.from_state(
        sorted(rows), on_refused_signed_record=lambda peer, error: refused.append((peer, error))
    )

    assert [(peer, type(error)) for peer, error in refused] == sorted(
        [(ALICE, SignedRecordError), (BOB, SignedRecordError)]
    )
    assert state_of(book) == [(ALICE, None, (), (), 9, None)]  # bob's row held nothing else


def test_from_state_reports_a_signed_record_larger_than_the_limit() -> None:
    envelope = signed(ALICE_ID, 1)
    refused: list[ComponentError] = []

    book = PeerRecordBook.from_state(
        [row(signed_record=envelope)],
        limits=PeerRecordLimits(max_signed_record_size=len(envelope) - 1),
        on_refused_signed_record=lambda _peer, error: refused.append(error),
    )

    assert [type(error) for error in refused] == [PeerRecordLimitError]
    assert len(book) == 0


def test_the_default_limits() -> None:
    assert PeerRecordLimits() == PeerRecordLimits(
        max_protocols=DEFAULT_MAX_PROTOCOLS_PER_PEER,
        max_metadata=DEFAULT_MAX_METADATA_PER_PEER,
        max_metadata_value_size=DEFAULT_MAX_METADATA_VALUE_SIZE,
        max_name_size=DEFAULT_MAX_NAME_SIZE,
        max_signed_record_size=DEFAULT_MAX_SIGNED_RECORD_SIZE,
    )
    assert (
        DEFAULT_MAX_PROTOCOLS_PER_PEER,
        DEFAULT_MAX_METADATA_PER_PEER,
        DEFAULT_MAX_METADATA_VALUE_SIZE,
        DEFAULT_MAX_NAME_SIZE,
        DEFAULT_MAX_SIGNED_RECORD_SIZE,
    ) == (1024, 64, 4096, 1024, 8192)


@pytest.mark.parametrize(
    ("value", "error_type"), [(0, ComponentValueError), (True, ComponentTypeError)]
)
def test_a_limit_below_one_is_refused(value: object, error_type: type[ComponentError]) -> None:
    with pytest.raises(error_type) as raised:
        PeerRecordLimits(max_protocols=value)  # type: ignore[arg-type]

    assert raised.value.path == ("max_protocols",)  # type: ignore[attr-defined]
