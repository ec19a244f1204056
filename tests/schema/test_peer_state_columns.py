"""The column tests of spec version 2's structures (`peer_record_columns.py`: address expiries,
public keys, protocols, typed metadata, IP networks; extension names) accept exactly what the
record constructors accept, on valid and invalid values alike, and a snapshot refused by them
is refused as the value-by-value walk refuses it, at the same path."""

import hashlib
import math
from collections.abc import Callable
from typing import Any, cast
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schema_support import as_tuples, body_lists, outcome, walked_outcome

from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    IpNetwork,
    PeerGovernorSnapshot,
    PeerRecordSnapshot,
    SnapshotValueError,
    TransientSnapshot,
    column_checks,
    decode,
    encode,
    strategies,
    structure_builder,
)
from snapshot_schema.body_builder import build_framework
from snapshot_schema.checks import (
    U64_MAX,
    check_nonempty_bytes,
    check_optional_u64,
    check_tuple,
)
from snapshot_schema.column_checks import ColumnTest, all_multihashes
from snapshot_schema.ip_network import check_networks
from snapshot_schema.peer_record_checks import (
    I64_MIN,
    check_extension_name,
    check_metadata,
    check_protocols,
    extension_names,
    metadata_value_problem,
    public_key_problem,
)
from snapshot_schema.peer_record_columns import (
    check_metadata_tuple,
    check_protocol_tuple,
    expiry_lists,
    ip_networks,
    keys_match_peers,
    metadata_lists,
    metadata_values,
    optional_nonempty_bytes,
    optional_public_keys,
    optional_u64s,
    protocol_lists,
    public_keys,
)

Check = Callable[[Any, tuple[str, ...]], None]


def _accepts(check: Check, value: object) -> bool:
    try:
        check(value, ())
    except SnapshotValueError:
        return False
    return True


def _problem_check(problem: Callable[[Any], str | None]) -> Check:
    def check(value: object, path: tuple[str, ...]) -> None:
        reason = problem(value)
        if reason is not None:
            raise SnapshotValueError(reason, path)

    return check


def _optional(check: Check) -> Check:
    def optional_check(value: object, path: tuple[str, ...]) -> None:
        if value is not None:
            check(value, path)

    return optional_check


def _expiries_check(value: object, path: tuple[str, ...]) -> None:
    check_tuple(value, check_optional_u64, path)


ED25519_KEY = bytes.fromhex("08011220") + bytes(range(32))
IDENTITY_PEER = bytes.fromhex("0024") + ED25519_KEY
SECP256K1_KEY = bytes.fromhex("08021221") + bytes([3]) + bytes(range(32))
RSA_KEY = bytes.fromhex("080012ac02") + bytes(300)  # a two-byte varint length
PRIVATE_SHAPED_KEY = bytes.fromhex("08011240") + bytes(range(64))  # an Ed25519 private key's size
KEYS: list[object] = [
    ED25519_KEY,
    SECP256K1_KEY,
    RSA_KEY,
    PRIVATE_SHAPED_KEY,
    bytes.fromhex("08011221") + bytes(33),  # Ed25519 of 33 bytes
    bytes.fromhex("08021220") + bytes(32),  # secp256k1 of 32 bytes
    bytes.fromhex("08041220") + bytes(32),  # no such key type
    bytes.fromhex("08011200"),  # Ed25519 with no data
    bytes.fromhex("08001200"),  # RSA with no data
    bytes.fromhex("080012"),  # too short
    bytes.fromhex("0a011220") + bytes(32),  # not field 1
    bytes.fromhex("08011a20") + bytes(32),  # not field 2
    ED25519_KEY + b"\x00",  # a byte more than its length says
    ED25519_KEY[:-1],  # a byte fewer
    bytes.fromhex("0800128000"),  # a padded varint length
    bytes.fromhex("080012ff"),  # an unfinished varint length
    bytes.fromhex("080012fd1f") + bytes(4093),  # 4,098 bytes: over the limit
    b"",
    "key",
    None,
    1,
]
keys = st.sampled_from(KEYS) | strategies.public_keys() | st.binary(max_size=40)
NAMES: list[object] = ["/a", "/b", "/c", "", "\ud800", "é", 1, None, b"/a"]
METADATA_VALUES: list[object] = [
    math.nan,
    -0.0,
    0.0,
    1.0,
    math.inf,
    -math.inf,
    I64_MIN - 1,
    I64_MIN,
    -1,
    0,
    1,
    U64_MAX,
    U64_MAX + 1,
    True,
    False,
    None,
    "",
    "a",
    "\ud800",
    "é",
    b"",
    b"x",
    (),
    bytearray(b"x"),
]
metadata_values_near = st.sampled_from(METADATA_VALUES) | strategies.metadata_values
metadata_pairs = st.tuples(st.sampled_from(NAMES), metadata_values_near) | st.sampled_from(
    [("a",), ("a", 1, 2), ["a", 1], "a", None]
)
OPTIONAL_U64S: list[object] = [None, 0, 1, U64_MAX, U64_MAX + 1, -1, True, 1.0]
EXTENSION_NAMES: list[object] = [
    "a",
    "z" * 128,
    "z" * 129,
    "A",
    "libP2P",
    "",
    "libp2p/pubsub-blacklist",
    "a.b_c-d/0",
    "é",
    "a b",
    "a\n",
    1,
    None,
    b"a",
]


def _tuples_of(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Tuples of `values` (duplicated and out of order as often as not), and non-tuples."""
    return st.lists(values, max_size=4).map(tuple) | st.sampled_from([[], ["/a"], "/a", None])


# Each column test, the check a record makes of one value of its column, and values to try.
COLUMN_TESTS: dict[str, tuple[ColumnTest, Check, st.SearchStrategy[Any]]] = {
    "public keys": (public_keys, _problem_check(public_key_problem), keys),
    "optional public keys": (
        optional_public_keys,
        _optional(_problem_check(public_key_problem)),
        keys,
    ),
    "protocol lists": (protocol_lists, check_protocols, _tuples_of(st.sampled_from(NAMES))),
    "expiry lists": (expiry_lists, _expiries_check, _tuples_of(st.sampled_from(OPTIONAL_U64S))),
    "metadata lists": (metadata_lists, check_metadata, _tuples_of(metadata_pairs)),
    "metadata values": (
        metadata_values,
        _problem_check(metadata_value_problem),
        metadata_values_near,
    ),
    "optional non-empty bytes": (
        optional_nonempty_bytes,
        _optional(check_nonempty_bytes),
        st.sampled_from([None, b"", b"x", "x", 0, False]),
    ),
    "optional u64s": (optional_u64s, check_optional_u64, st.sampled_from(OPTIONAL_U64S)),
    "extension names": (
        extension_names,
        check_extension_name,
        st.sampled_from(EXTENSION_NAMES) | st.text("abXY/._- é", max_size=130),
    ),
}


@pytest.mark.parametrize("name", COLUMN_TESTS)
@settings(max_examples=300)
@given(st.data())
def test_each_column_test_accepts_exactly_the_values_its_check_accepts(
    name: str, data: st.DataObject
) -> None:
    column_test, check, values = COLUMN_TESTS[name]
    column = tuple(data.draw(st.lists(values, max_size=5)))
    assert column_test(column) == all(_accepts(check, value) for value in column)


@st.composite
def peer_key_pairs(draw: st.DrawFn) -> tuple[object, object]:
    """A PeerId and a key: its own, another peer's, none, or anything."""
    peer, key = draw(strategies.keyed_peer_ids())
    other_peer, other_key = draw(strategies.keyed_peer_ids())
    return draw(
        st.sampled_from(
            [
                (peer, key),
                (peer, other_key),
                (other_peer, key),
                (peer, None),
                (IDENTITY_PEER, ED25519_KEY),
                (IDENTITY_PEER, SECP256K1_KEY),
                (bytes.fromhex("1220") + hashlib.sha256(ED25519_KEY).digest(), ED25519_KEY),
            ]
        )
        | st.tuples(strategies.peer_ids(), st.none() | keys)
    )


def _record_accepts(peer: object, key: object) -> bool:
    try:
        PeerRecordSnapshot(peer, key)  # type: ignore[arg-type]
    except SnapshotValueError:
        return False
    return True


@settings(max_examples=300)
@given(st.lists(peer_key_pairs(), max_size=4))
def test_the_key_column_tests_accept_exactly_the_keys_records_accept(
    pairs: list[tuple[object, object]],
) -> None:
    """A key must match its PeerId: embedded (identity) or hashed (sha2-256)."""
    peers, keys_ = tuple(pair[0] for pair in pairs), tuple(pair[1] for pair in pairs)
    columns_accept = (
        all_multihashes(peers) and optional_public_keys(keys_) and keys_match_peers(peers, keys_)
    )
    assert columns_accept == all(_record_accepts(peer, key) for peer, key in pairs)


ADDRESSES: list[object] = [
    bytes(4),
    bytes([10, 0, 0, 0]),
    bytes([10, 1, 2, 3]),
    bytes([255] * 4),
    bytes(16),
    bytes([0xFD]) + bytes(15),
    bytes(5),
    bytes(3),
    b"",
    "10.0.0.0",
    None,
]
PREFIXES: list[object] = [0, 8, 24, 32, 33, 64, 128, 129, -1, True, 2**32, None]
near_ip_rows = st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(PREFIXES)) | st.sampled_from(
    [(bytes(4),), (bytes(4), 0, 0), bytes(4), None]
)


@st.composite
def ip_row_lists(draw: st.DrawFn) -> tuple[object, ...]:
    """Sorted valid networks, with one row perhaps replaced, repeated or moved."""
    networks = sorted(draw(st.lists(strategies.ip_networks(), max_size=4, unique=True)))
    rows: list[object] = [(network.address, network.prefix_length) for network in networks]
    change = draw(st.sampled_from(["none", "replace", "repeat", "swap", "append"]))
    index = draw(st.integers(0, max(len(rows) - 1, 0)))
    if change == "append" or not rows:
        rows.append(draw(near_ip_rows))
    elif change == "replace":
        rows[index] = draw(near_ip_rows)
    elif change == "repeat":
        rows.insert(index, rows[index])
    elif change == "swap" and index:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    return tuple(rows)


def _networks_accepted(rows: tuple[object, ...]) -> bool:
    """What `PeerGovernorSnapshot` accepts: each row a valid network, in strictly ascending
    order."""
    try:
        networks = []
        for row in rows:
            if type(row) is not tuple or len(row) != 2:
                return False
            networks.append(IpNetwork(*row))
        check_networks(tuple(networks), ())
    except SnapshotValueError:
        return False
    return True


@settings(max_examples=500)
@given(ip_row_lists())
def test_the_ip_network_column_test_accepts_exactly_the_networks_records_accept(
    rows: tuple[object, ...],
) -> None:
    assert ip_networks(rows) == _networks_accepted(rows)


@st.composite
def long_tuples(draw: st.DrawFn, kind: str) -> tuple[object, ...]:
    """Protocols or metadata pairs, sorted, with one item perhaps replaced, repeated or moved."""
    keys = [f"/{index:03}" for index in range(draw(st.integers(0, 40)))]
    items: list[object] = list(keys)
    if kind == "metadata":
        items = [(key, draw(st.sampled_from([0, "x", None, 1.5]))) for key in keys]
    change = draw(st.sampled_from(["none", "replace", "value", "repeat", "swap"]))
    index = draw(st.integers(0, max(len(items) - 1, 0)))
    if not items or change == "none":
        return tuple(items)
    if change == "replace":
        items[index] = draw(st.sampled_from(NAMES) if kind == "protocols" else metadata_pairs)
    elif change == "value" and kind == "metadata":
        items[index] = (keys[index], draw(metadata_values_near))
    elif change == "repeat":
        items.insert(index, items[index])
    elif change == "swap" and index:
        items[index - 1], items[index] = items[index], items[index - 1]
    return tuple(items)


def _refusal(check: Check, value: object) -> tuple[object, ...] | None:
    try:
        check(value, ("field",))
    except SnapshotValueError as error:
        return error.path, error.reason
    return None


WINDOWED: dict[str, tuple[Check, Check]] = {
    "protocols": (check_protocol_tuple, check_protocols),
    "metadata": (check_metadata_tuple, check_metadata),
}


@pytest.mark.parametrize("kind", WINDOWED)
@settings(max_examples=300)
@given(st.data())
def test_a_long_tuple_checked_a_window_at_a_time_is_refused_as_item_by_item(
    kind: str, data: st.DataObject
) -> None:
    """The records check long protocol and metadata tuples with the column tests, walking only
    the window that fails (windows of 4 here): the same verdict and path as the item-by-item
    check, wherever the fault sits."""
    windowed, item_by_item = WINDOWED[kind]
    value = data.draw(long_tuples(kind))
    with mock.patch.object(column_checks, "CHUNK", 4):
        assert _refusal(windowed, value) == _refusal(item_by_item, value)


# --- whole snapshots -----------------------------------------------------------------------------

PEER = bytes.fromhex("1220") + bytes(32)
TCP, QUIC = bytes.fromhex("047f000001060fa1"), bytes.fromhex("04c0a8000191022328cc03")
BASE = TransientSnapshot(
    taken_at=ClockReading(1, 2),
    framework=FrameworkSnapshot(
        address_book=(AddressBookEntrySnapshot(PEER, (TCP, QUIC), 1, (None, 5)),),
        peer_governor=PeerGovernorSnapshot(
            ip_allow=["10.0.0.0/8"], ip_deny=["10.66.0.0/16", "192.0.2.1/32"]
        ),
        peer_id_bytes=PEER,
        peer_records=(
            PeerRecordSnapshot(IDENTITY_PEER, ED25519_KEY, ["/a", "/b"], {"a": 1, "b": "x"}, 1),
            PeerRecordSnapshot(PEER, signed_record=b"s"),
        ),
        extensions={"a": b"x", "b": b""},
    ),
)
"""A valid snapshot holding each of version 2's structures, two or more entries in most."""

FRAMEWORK = ("framework",)
RECORD = (*FRAMEWORK, "peer_records", 0)
METADATA_VALUE = (*RECORD, "metadata", 0, "value")
GOVERNOR = (*FRAMEWORK, "peer_governor")
EXPIRIES = (*FRAMEWORK, "address_book", 0, "expires_ns")
EXTENSIONS = (*FRAMEWORK, "extensions")


def _set(where: tuple[int, ...], value: object) -> Callable[[list[Any]], None]:
    """A change to a framework layout: the element at `where` set to `value`."""

    def change(framework: list[Any]) -> None:
        target = framework
        for step in where[:-1]:
            target = target[step]
        target[where[-1]] = value

    return change


# name: (change to the framework layout, the reason's words, the path of the fault)
FAULTS: dict[str, tuple[Callable[[list[Any]], None], str, tuple[object, ...]]] = {
    # typed metadata
    "metadata NaN": (_set((9, 0, 3, 0, 1), math.nan), "NaN", METADATA_VALUE),
    "metadata -0.0": (_set((9, 0, 3, 0, 1), -0.0), "-0.0", METADATA_VALUE),
    "metadata below int64": (_set((9, 0, 3, 0, 1), I64_MIN - 1), "outside", METADATA_VALUE),
    "metadata above u64": (_set((9, 0, 3, 0, 1), U64_MAX + 1), "outside", METADATA_VALUE),
    "metadata an array": (_set((9, 0, 3, 0, 1), [1]), "metadata values are", METADATA_VALUE),
    "metadata keys out of order": (
        lambda f: f[9][0][3].reverse(),
        "metadata keys must be sorted",
        (*RECORD, "metadata", 1, "key"),
    ),
    "a metadata key twice": (
        _set((9, 0, 3, 1, 0), "a"),
        "metadata keys must be sorted",
        (*RECORD, "metadata", 1, "key"),
    ),
    "an empty metadata key": (
        _set((9, 0, 3, 0, 0), ""),
        "non-empty name",
        (*RECORD, "metadata", 0, "key"),
    ),
    "a metadata pair of three": (
        lambda f: f[9][0][3][0].append(2),
        "(key, value) pair",
        (*RECORD, "metadata", 0),
    ),
    # protocols
    "protocols out of order": (
        lambda f: f[9][0][2].reverse(),
        "protocols must be sorted",
        (*RECORD, "protocols", 1),
    ),
    "a protocol twice": (
        _set((9, 0, 2, 1), "/a"),
        "protocols must be sorted",
        (*RECORD, "protocols", 1),
    ),
    "an empty protocol": (_set((9, 0, 2, 0), ""), "non-empty name", (*RECORD, "protocols", 0)),
    # keys
    "a key of another peer": (
        _set((9, 0, 1), SECP256K1_KEY),
        "does not match the PeerId",
        (*RECORD, "public_key"),
    ),
    "a key for a sha2-256 PeerId": (
        _set((9, 1, 1), ED25519_KEY),
        "does not hash to the PeerId",
        (*FRAMEWORK, "peer_records", 1, "public_key"),
    ),
    "a private-key-shaped Ed25519 key": (
        _set((9, 0, 1), PRIVATE_SHAPED_KEY),
        "hold 32 bytes, not 64",
        (*RECORD, "public_key"),
    ),
    # the other peer record fields
    "a bool latency": (_set((9, 0, 4), True), "expected `int`", (*RECORD, "latency_ns")),
    "a latency of 2**64": (_set((9, 0, 4), U64_MAX + 1), "expected u64", (*RECORD, "latency_ns")),
    "an empty signed record": (
        _set((9, 1, 5), b""),
        "non-empty",
        (*FRAMEWORK, "peer_records", 1, "signed_record"),
    ),
    "a peer record twice": (
        lambda f: f[9].append(list(f[9][0])),
        "duplicate peer",
        (*FRAMEWORK, "peer_records", 2, "peer_id"),
    ),
    # IP networks
    "IPv4 host bits set": (
        _set((3, 4, 0, 0), bytes([10, 1, 2, 3])),
        "bits set past",
        (*GOVERNOR, "ip_allow", 0, "address"),
    ),
    "an IPv4 prefix of 33": (
        _set((3, 4, 0, 1), 33),
        "no /33 prefix",
        (*GOVERNOR, "ip_allow", 0, "prefix_length"),
    ),
    "a 5-byte address": (
        _set((3, 4, 0, 0), bytes(5)),
        "4 (IPv4) or 16 (IPv6)",
        (*GOVERNOR, "ip_allow", 0, "address"),
    ),
    "networks out of order": (
        lambda f: f[3][5].reverse(),
        "ascending order",
        (*GOVERNOR, "ip_deny", 1),
    ),
    "a network twice": (
        lambda f: f[3][5].append(f[3][5][1]),
        "ascending order",
        (*GOVERNOR, "ip_deny", 2),
    ),
    # address expiries
    "an expiry fewer than addresses": (
        lambda f: f[2][0][3].pop(),
        "one expiry per address",
        EXPIRIES,
    ),
    "an expiry more than addresses": (
        lambda f: f[2][0][3].append(None),
        "one expiry per address",
        EXPIRIES,
    ),
    "an expiry of -1": (_set((2, 0, 3, 1), -1), "expected u64", (*EXPIRIES, 1)),
    "an expiry of 2**64": (_set((2, 0, 3, 1), U64_MAX + 1), "expected u64", (*EXPIRIES, 1)),
    "a bool expiry": (_set((2, 0, 3, 1), False), "expected `int`", (*EXPIRIES, 1)),
    # extensions
    "an extension name with a capital": (
        _set((10, 0, 0), "A"),
        "extension namespace",
        (*EXTENSIONS, 0, "key"),
    ),
    "an extension name of 129 characters": (
        _set((10, 1, 0), "b" * 129),
        "extension namespace",
        (*EXTENSIONS, 1, "key"),
    ),
    "extension names out of order": (
        lambda f: f[10].reverse(),
        "ascending order",
        (*EXTENSIONS, 1, "key"),
    ),
    "an extension value of text": (
        _set((10, 0, 1), "x"),
        "expected `bytes`",
        (*EXTENSIONS, 0, "value"),
    ),
}


@pytest.mark.parametrize("name", FAULTS)
def test_a_fault_in_version_2_state_is_refused_by_the_column_tests_as_by_the_walk(
    name: str,
) -> None:
    change, reason, path = FAULTS[name]
    body = body_lists(BASE)
    change(body[5])
    result = outcome(as_tuples(body))
    assert result == walked_outcome(as_tuples(body))
    assert result[0] == "refused"
    error_path, error_reason = cast(tuple[tuple[object, ...], str], result[1])
    assert (error_path, reason in error_reason) == (path, True), error_reason


EDGES = TransientSnapshot(
    taken_at=ClockReading(0, 0),
    framework=FrameworkSnapshot(
        address_book=(AddressBookEntrySnapshot(PEER, (TCP, QUIC, b"\x01"), 0, (0, U64_MAX, None)),),
        peer_governor=PeerGovernorSnapshot(
            ip_allow=["0.0.0.0/0", "::/0", "255.255.255.255/32"],
            ip_deny=["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "10.0.0.0/8", "10.0.0.0/9"],
        ),
        peer_id_bytes=PEER,
        peer_records=(
            PeerRecordSnapshot(PEER, metadata={"negative": -1}),
            PeerRecordSnapshot(IDENTITY_PEER, metadata={"int64-min": I64_MIN, "u64-max": U64_MAX}),
            PeerRecordSnapshot(
                bytes.fromhex("1220") + hashlib.sha256(RSA_KEY).digest(),
                RSA_KEY,
                metadata={"bool": True, "int": 1, "float": 1.0, "inf": -math.inf, "nil": None},
                latency_ns=U64_MAX,
            ),
            PeerRecordSnapshot(
                bytes.fromhex("0025") + SECP256K1_KEY,
                SECP256K1_KEY,
                protocols=["/a"],
                metadata={"empty": "", "bytes": b"", "tiny": 5e-324},
                latency_ns=0,
            ),
        ),
        extensions={"z" * 128: b"", "a": bytes(300)},
    ),
)
"""Every edge a version 2 value may take."""
ONLY_NEGATIVE = TransientSnapshot(
    taken_at=ClockReading(0, 0),
    framework=FrameworkSnapshot(
        peer_id_bytes=PEER, peer_records=(PeerRecordSnapshot(PEER, metadata={"a": -1}),)
    ),
)
"""Metadata whose only integers are negative (once refused by the column test)."""


@pytest.mark.parametrize("snapshot", [EDGES, ONLY_NEGATIVE], ids=["edges", "only negative"])
def test_edge_values_are_built_from_their_columns_without_the_walk(
    snapshot: TransientSnapshot,
) -> None:
    attempt = structure_builder.attempt
    refused: list[object] = []

    def spy(build: Callable[[], object]) -> object:
        built = attempt(build)
        if built is None:
            refused.append(build)
        return built

    with mock.patch.object(structure_builder, "attempt", spy):
        decoded = decode(encode(snapshot))
        built = build_framework(as_tuples(body_lists(snapshot)[5]))
    assert refused == []
    assert decoded == snapshot
    assert built == snapshot.framework


def test_metadata_values_keep_their_types_through_the_codec() -> None:
    decoded = decode(encode(EDGES))
    typed = [
        (key, type(value), value)
        for record in decoded.framework.peer_records
        for key, value in record.metadata
    ]
    assert ("bool", bool, True) in typed
    assert ("int", int, 1) in typed
    assert ("float", float, 1.0) in typed


class _Str(str):
    """Equal to the `str` it copies, and no `str`."""


class _Bytes(bytes):
    """Equal to the `bytes` it copies, and no `bytes`."""


class _Pair(tuple[object, ...]):
    """Equal to the pair it copies, and no `tuple`."""


# (valid, refused) pairs of equal values: a check run once per distinct tuple would see only
# whichever of the two a set kept.
EQUAL_BUT_NOT_ALIKE: list[tuple[object, object]] = [
    (2.0**64, 2**64),
    (0.0, -0.0),
    (0, -0.0),
    (False, -0.0),
    ("x", _Str("x")),
    (b"x", _Bytes(b"x")),
]


@pytest.mark.parametrize(("valid", "refused"), EQUAL_BUT_NOT_ALIKE)
@pytest.mark.parametrize("refused_first", [False, True])
def test_metadata_equal_to_a_valid_tuple_is_still_refused_anywhere_in_the_column(
    valid: object, refused: object, refused_first: bool
) -> None:
    good, bad = (("a", valid),), (("a", refused),)
    lists = (bad, good) if refused_first else (good, bad)
    assert good == bad
    assert metadata_lists(lists * 3) is False
    assert metadata_lists((good,) * 6) is True


@pytest.mark.parametrize("refused_first", [False, True])
def test_a_look_alike_pair_or_protocol_is_refused_anywhere_in_the_column(
    refused_first: bool,
) -> None:
    pairs: tuple[object, ...] = ((("a", "x"),), (_Pair(("a", "x")),))
    protocols: tuple[object, ...] = (("/a", "/b"), ("/a", _Str("/b")))
    if refused_first:
        pairs, protocols = pairs[::-1], protocols[::-1]
    assert metadata_lists(pairs * 3) is False
    assert protocol_lists(protocols * 3) is False
    assert protocol_lists((("/a", "/b"),) * 6) is True
