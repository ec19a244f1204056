"""The decoder's column tests judge exactly as the record constructors do, and valid bodies never
need the slow value-by-value walk (snapshot_schema/structure_builder.py)."""

import hashlib
import math
from collections.abc import Callable, Iterator
from typing import Any, cast
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schema_support import as_tuples, body_lists, outcome, walked_outcome

from snapshot_schema import (
    AddressBookEntrySnapshot,
    AppEventIngress,
    BackoffEntry,
    ClockReading,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    FrameworkSnapshot,
    InvokeIngress,
    IpNetwork,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    PendingOutboundEntry,
    SnapshotValueError,
    TimerMaturedIngress,
    TransientSnapshot,
    TypedBusSnapshot,
    structure_builder,
)
from snapshot_schema.body_builder import build_framework, build_snapshot
from snapshot_schema.checks import (
    U32_MAX,
    U64_MAX,
    check_bool,
    check_bytes,
    check_name,
    check_nonempty_bytes,
    check_optional_bytes,
    check_optional_u64,
    check_uint,
)
from snapshot_schema.column_checks import (
    CHUNK,
    NAMED_PAYLOADS,
    SITE_EXECS,
    U32S,
    U64S,
    ColumnTest,
    all_multihashes,
    any_bytes,
    arrays,
    bools,
    names,
    nonempty_bytes,
    optional,
    optional_bytes,
)
from snapshot_schema.encoder import encode_body
from snapshot_schema.execution_records import _check_named_payload
from snapshot_schema.multihash import is_multihash, multihash_problem
from snapshot_schema.strategies import peer_ids, transient_snapshots
from snapshot_schema.transient import _check_site_exec

# Values near every boundary the checks draw, and of every wrong wire type.
EDGE_VALUES: list[object] = [
    -1,
    0,
    1,
    U32_MAX,
    U32_MAX + 1,
    U64_MAX,
    U64_MAX + 1,
    True,
    False,
    None,
    1.5,
    b"",
    b"x",
    bytes.fromhex("1220") + bytes(32),
    "",
    "a",
    "\ud800",
    "é",
    (),
    (0, 0),
    (b"x",),
    # Where spec version 2's metadata floats and integers reach their edges.
    math.nan,
    -0.0,
    -(2**63) - 1,
]
scalars = st.sampled_from(EDGE_VALUES)


def _accepts(check: Callable[[Any, tuple[str, ...]], None], value: object) -> bool:
    try:
        check(value, ())
    except SnapshotValueError:
        return False
    return True


COLUMN_TESTS: list[tuple[ColumnTest, Callable[[Any, tuple[str, ...]], None]]] = [
    (U32S, lambda value, path: check_uint(value, U32_MAX, path)),
    (U64S, lambda value, path: check_uint(value, U64_MAX, path)),
    (any_bytes, check_bytes),
    (nonempty_bytes, check_nonempty_bytes),
    (optional_bytes, check_optional_bytes),
    (bools, check_bool),
    (names, check_name),
]


@settings(max_examples=300)
@given(st.sampled_from(range(len(COLUMN_TESTS))), st.lists(scalars | st.text(max_size=3)))
def test_each_column_test_accepts_exactly_the_values_its_check_accepts(
    which: int, values: list[object]
) -> None:
    column_test, check = COLUMN_TESTS[which]
    assert column_test(tuple(values)) == all(_accepts(check, value) for value in values)


# Column tests composed of others, each with the check a record makes of one value.
COMPOSED_TESTS: list[tuple[ColumnTest, Callable[[Any, tuple[str, ...]], None]]] = [
    (SITE_EXECS, _check_site_exec),  # frontier entries, slot keys
    (NAMED_PAYLOADS, _check_named_payload),  # completion results, invoke inputs
    (optional(U64S), check_optional_u64),  # deadlines
]
# Pairs that are valid, or nearly, for the pair tests above.
near_pairs = st.tuples(
    st.sampled_from(["a", "", "\ud800", 0, U64_MAX, -1, True, None]),
    st.sampled_from([b"x", b"", 0, U64_MAX, U64_MAX + 1, -1, None, "b"]),
)


@pytest.mark.parametrize(
    ("column_test", "check"), COMPOSED_TESTS, ids=["site execs", "named payloads", "optional u64"]
)
@settings(max_examples=300)
@given(st.lists(near_pairs | scalars, max_size=3))
def test_each_composed_column_test_accepts_exactly_the_values_its_check_accepts(
    column_test: ColumnTest, check: Callable[[Any, tuple[str, ...]], None], values: list[object]
) -> None:
    assert column_test(tuple(values)) == all(_accepts(check, value) for value in values)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 3, 4_097, 5_000]),
            st.sampled_from(["none", "insert", "overwrite"]),
            st.integers(0),
        ),
        max_size=4,
    )
)
def test_the_repeat_test_agrees_with_a_set_for_small_and_large_arrays(
    specs: list[tuple[int, str, int]],
) -> None:
    values = []
    for size, repeat, pick in specs:
        array = list(range(size))
        if repeat == "insert" and array:
            array.insert(pick % len(array), array[pick % len(array)])
        elif repeat == "overwrite" and size >= 2:  # the same length: a pair of equal values
            array[pick % size] = array[(pick + 1) % size]
        values.append(tuple(array))
    expected = all(len(set(array)) == len(array) for array in values)
    assert arrays(U64S, unique=True)(tuple(values)) == expected


# PeerIds around every edge of the column-wise multihash test: size 2 and 0x81/0x82, length
# bytes at and past 0x80, unknown and multi-byte codes, all of one size or mixed.
shaped_peers = st.one_of(
    peer_ids(),
    st.builds(
        lambda code, length, size: bytes([code, length]) + bytes(max(size - 2, 0)),
        st.sampled_from([0x00, 0x12, 0x13, 0x7F, 0x80, 0xB2]),
        st.sampled_from([0, 1, 32, 0x7E, 0x7F, 0x80, 0x81]),
        st.sampled_from([2, 3, 34, 0x80, 0x81, 0x82, 0x83]),
    ),
    st.binary(max_size=3),
    scalars,
)


@settings(max_examples=400)
@given(st.lists(shaped_peers, max_size=5), st.booleans())
def test_the_column_wise_multihash_test_agrees_with_is_multihash(
    peers: list[object], one_size: bool
) -> None:
    if one_size and peers and all(isinstance(peer, bytes) for peer in peers):
        peers = [peers[0]] * len(peers)  # the joined, strided path
    expected = all(map(is_multihash, peers))
    assert all_multihashes(tuple(peers)) == expected
    assert all_multihashes(set(peers)) == expected


@settings(max_examples=400)
@given(shaped_peers)
def test_is_multihash_agrees_with_the_check_the_walk_makes(peer: object) -> None:
    """The last link from the column test to the walk: `is_multihash`'s fast path judges as
    `multihash_problem` (`check_multihash`) does."""
    assert is_multihash(peer) == (multihash_problem(cast(bytes, peer)) is None)


# --- whole bodies ------------------------------------------------------------------------------


def _slots(value: object) -> Iterator[tuple[list[Any], int]]:
    """Every (array, index) of a body of nested lists, depth first."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _slots(item)


def _mutated(snapshot: TransientSnapshot, data: st.DataObject) -> object:
    """The snapshot's body with one change that may or may not keep it valid."""
    body = body_lists(snapshot)
    slots = list(_slots(body))
    if slots:
        array, index = data.draw(st.sampled_from(slots))
        action = data.draw(st.sampled_from(["replace", "duplicate", "swap", "delete"]))
        if action == "replace":
            array[index] = data.draw(scalars)
        elif action == "duplicate":
            array.insert(index, array[index])
        elif action == "swap" and index:
            array[index - 1], array[index] = array[index], array[index - 1]
        elif action == "delete":
            del array[index]
    return as_tuples(body)


PEERS = [bytes.fromhex("1220") + bytes([n]) * 32 for n in range(3)]
ED25519_KEY = bytes.fromhex("08011220") + bytes(range(32))
IDENTITY_PEER = bytes.fromhex("0024") + ED25519_KEY  # embeds its key
SECP256K1_KEY = bytes.fromhex("08021221") + bytes([2]) + bytes(range(32))
HASHED_PEER = bytes.fromhex("1220") + hashlib.sha256(SECP256K1_KEY).digest()  # hashes it
RICH = TransientSnapshot(
    taken_at=ClockReading(5, 6),
    frontier=((1, 2), (1, 2), (0, 3)),
    slot_table={(1, 2): b"v", (1, 3): None, (2, 0): b""},
    pending_async={
        1: PendingAsyncSnapshot(1, 2, (3, 4), 9),
        2: PendingAsyncSnapshot(0, 0, (), None),
    },
    execution_state={1: ExecutionStateSnapshot(2), 3: ExecutionStateSnapshot(0)},
    framework=FrameworkSnapshot(
        counters={"a": 1, "b": 2},
        fired_phases=("x", "y", "x"),
        address_book=(
            AddressBookEntrySnapshot(PEERS[0], (b"\x01", b"\x02"), 1, (None, 5)),
            AddressBookEntrySnapshot(
                PEERS[1], (b"\x03", b"\x04", b"\x05"), 2, (0, None, 2**64 - 1)
            ),
        ),
        peer_governor=PeerGovernorSnapshot(
            blocklist={PEERS[0], PEERS[1]},
            allowlist={PEERS[1], PEERS[2]},
            health=(PeerHealthSnapshot(PEERS[0], 1, 2, False), PeerHealthSnapshot(PEERS[2])),
            failure_threshold=2,
            ip_allow=["10.0.0.0/8", "10.0.0.0/16", "fd00::/8"],
            ip_deny=["0.0.0.0/0", "192.0.2.1/32"],
        ),
        backoff_table=(BackoffEntry(PEERS[0], 1, 2, 3), BackoffEntry(PEERS[1], 0, 5, 5)),
        pending_outbound=(PendingOutboundEntry(b"e", False), PendingOutboundEntry(b"f", True)),
        peer_id_bytes=PEERS[2],
        next_command_id=7,
        next_exec_id=8,
        peer_records=(
            PeerRecordSnapshot(
                IDENTITY_PEER,
                ED25519_KEY,
                ["/a", "/b"],
                {"i": -1, "f": 0.5, "t": True, "s": "v", "b": b"", "n": None},
                7,
                b"\x0a\x01",
            ),
            PeerRecordSnapshot(HASHED_PEER, SECP256K1_KEY, ["/a"], {"u": 2**64 - 1}, 0),
            PeerRecordSnapshot(PEERS[0], latency_ns=None, signed_record=b"s"),
        ),
        extensions={"a": b"x", "b/c": b""},
    ),
    bus=TypedBusSnapshot({"k": (1, 2), "l": ()}),
    ingress=(
        EnvelopeIngress(b"\x01"),
        AppEventIngress("m", "i", b"v"),
        InvokeIngress("r", (("to", b"p"), ("body", b""))),
        TimerMaturedIngress(9),
        CompletionIngress(4, (b"ok", b"")),
        TimerMaturedIngress(10),
    ),
    wire_states={1: b"w", 2: b""},
    pending_completions=(
        PendingCompletionSnapshot(4, (("a", b"x"), ("b", b""))),
        PendingCompletionSnapshot(5, ()),
    ),
)
"""A snapshot with two or more entries in every repeated structure, all ingress kinds, every
metadata type, both ways a PeerId derives from a key."""


def _single_changes() -> Iterator[tuple[str, object]]:
    """`RICH`'s body with one value replaced by each edge value, or one array element
    duplicated, moved or deleted: every change at every position."""
    positions = len(list(_slots(body_lists(RICH))))
    for position in range(positions):
        for change in [*range(len(EDGE_VALUES)), "duplicate", "swap", "delete"]:
            body = body_lists(RICH)
            array, index = list(_slots(body))[position]
            if change == "duplicate":
                array.insert(index, array[index])
            elif change == "swap":
                array[index - 1], array[index] = array[index], array[index - 1]
            elif change == "delete":
                del array[index]
            else:
                array[index] = EDGE_VALUES[change]
            yield f"{position}:{change}", as_tuples(body)


def test_column_tests_and_the_walk_agree_on_every_single_change_to_a_rich_body() -> None:
    changes = list(_single_changes())
    assert len(changes) > 3_000
    built = 0
    for name, body in changes:
        result = outcome(body)
        assert result == walked_outcome(body), name
        built += result[0] == "built"
    assert 0 < built < len(changes) // 2  # both verdicts are exercised


class _Bytes(bytes):
    """Equal to the `bytes` it copies, and no `bytes`: no field accepts it."""


class _Str(str):
    """Equal to the `str` it copies, and no `str`: no field accepts it."""


class _Int(int):
    """Equal to the `int` it copies, and no `int`: no field accepts it."""


LOOK_ALIKES: dict[type, Callable[[Any], object]] = {bytes: _Bytes, str: _Str, int: _Int}


def test_a_producers_look_alike_value_is_refused_by_the_column_tests_as_by_the_walk() -> None:
    """`build_framework` takes values from any producer, not only msgpack: a value equal to a
    valid one but of a subclass is refused wherever it sits, even in a peer column equal to one
    that already passed (the health and backoff tables list the address book's peers)."""
    positions = len(list(_slots(body_lists(RICH)[5])))
    changed = 0
    for position in range(positions):
        layout = body_lists(RICH)[5]
        array, index = list(_slots(layout))[position]
        look_alike = LOOK_ALIKES.get(type(array[index]))
        if look_alike is None:
            continue
        array[index] = look_alike(array[index])
        result = outcome(as_tuples(layout), build_framework)
        assert result == walked_outcome(as_tuples(layout), build_framework), position
        assert result[0] == "refused", position
        changed += 1
    assert changed > 30


@settings(max_examples=300)
@given(transient_snapshots(), st.data())
def test_column_tests_and_the_walk_agree_on_any_body(
    snapshot: TransientSnapshot, data: st.DataObject
) -> None:
    body = _mutated(snapshot, data)
    assert outcome(body) == walked_outcome(body)


@settings(max_examples=100)
@given(transient_snapshots())
def test_a_valid_body_is_built_from_its_columns_without_the_walk(
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
        built = build_snapshot(as_tuples(encode_body(snapshot)))
    assert refused == []
    assert built == snapshot


# --- faults deep in long arrays ------------------------------------------------------------------

LONG = CHUNK * 2 + 10  # three windows


def _long_body() -> list[Any]:
    """A valid body whose frontier, slot table, address book (and an address's expiries),
    backoff table, IP filter, peer records (and a record's protocols and metadata), pending async
    outputs and bus subscribers each hold `LONG` entries."""
    peers = [bytes.fromhex("1220") + index.to_bytes(32, "big") for index in range(LONG)]
    names = [f"{index:05}" for index in range(LONG)]
    return body_lists(
        TransientSnapshot(
            taken_at=ClockReading(1, 2),
            frontier=((1, 2),) * LONG,
            slot_table={(index, 0): None for index in range(LONG)},
            pending_async={1: PendingAsyncSnapshot(1, 2, (7,) * LONG)},
            framework=FrameworkSnapshot(
                address_book=[
                    AddressBookEntrySnapshot(peer, (b"\x01",), 1, (index,))
                    for index, peer in enumerate(peers)
                ],
                peer_governor=PeerGovernorSnapshot(
                    ip_deny=[IpNetwork(index.to_bytes(4, "big"), 32) for index in range(LONG)]
                ),
                backoff_table=[BackoffEntry(peer, 1, 2, 3) for peer in peers],
                peer_id_bytes=PEERS[0],
                peer_records=[
                    PeerRecordSnapshot(IDENTITY_PEER, ED25519_KEY, names, dict.fromkeys(names, 1)),
                    *(PeerRecordSnapshot(peer, latency_ns=1) for peer in peers),
                ],
            ),
            bus=TypedBusSnapshot({"k": tuple(range(LONG))}),
        )
    )


LONG_FAULTS: list[tuple[str, Callable[[list[Any]], None], str, tuple[object, ...]]] = [
    (
        "the last frontier entry",
        lambda body: body[1].__setitem__(-1, [1, -1]),
        "expected u64",
        ("frontier", LONG - 1, "exec_id"),
    ),
    (
        "slot keys out of order across windows",
        lambda body: body[2].insert(CHUNK, body[2].pop(CHUNK - 1)),
        "ascending order",
        ("slot_table", CHUNK, "key"),
    ),
    (
        "an address book peer listed twice, windows apart",
        lambda body: body[5][2][-1].__setitem__(0, body[5][2][3][0]),
        "duplicate peer",
        ("framework", "address_book", LONG - 1, "peer_id"),
    ),
    (
        "the last backoff entry",
        lambda body: body[5][4][-1].__setitem__(3, 1),
        "precedes the last attempt",
        ("framework", "backoff_table", LONG - 1, "next_retry_ns"),
    ),
    (
        "the last output site",
        lambda body: body[3][0][1][2].__setitem__(-1, "x"),
        "expected `int`",
        ("pending_async", 0, "value", "output_sites", LONG - 1),
    ),
    (
        "the last expiry",
        lambda body: body[5][2][-1][3].__setitem__(0, -1),
        "expected u64",
        ("framework", "address_book", LONG - 1, "expires_ns", 0),
    ),
    (
        "IP networks out of order across windows",
        lambda body: body[5][3][5].insert(CHUNK, body[5][3][5].pop(CHUNK - 1)),
        "unique and in ascending order",
        ("framework", "peer_governor", "ip_deny", CHUNK),
    ),
    (
        "the last IP network with host bits set",
        lambda body: body[5][3][5][-1].__setitem__(1, 8),
        "bits set past the prefix",
        ("framework", "peer_governor", "ip_deny", LONG - 1, "address"),
    ),
    (
        "the last peer record's key, of another peer",
        lambda body: body[5][9][-1].__setitem__(1, ED25519_KEY),
        "does not hash to the PeerId",
        ("framework", "peer_records", LONG, "public_key"),
    ),
    (
        "the last peer record's latency",
        lambda body: body[5][9][-1].__setitem__(4, 2**64),
        "expected u64",
        ("framework", "peer_records", LONG, "latency_ns"),
    ),
    (
        "the last protocol of a long list out of order",
        lambda body: body[5][9][0][2].__setitem__(-1, "0"),
        "protocols must be sorted",
        ("framework", "peer_records", 0, "protocols", LONG - 1),
    ),
    (
        "the last metadata value NaN",
        lambda body: body[5][9][0][3][-1].__setitem__(1, math.nan),
        "NaN",
        ("framework", "peer_records", 0, "metadata", LONG - 1, "value"),
    ),
    (
        "a subscriber twice, windows apart",
        lambda body: body[6][0][0][1].__setitem__(-1, 3),
        "duplicate subscriber id 3",
        ("bus", "event_subscriptions", 0, "value", LONG - 1),
    ),
]


@pytest.mark.parametrize(
    ("change", "reason", "path"),
    [(change, reason, path) for _name, change, reason, path in LONG_FAULTS],
    ids=[name for name, *_ in LONG_FAULTS],
)
def test_a_fault_deep_in_a_long_array_is_found_where_the_walk_finds_it(
    change: Callable[[list[Any]], None], reason: str, path: tuple[object, ...]
) -> None:
    body = _long_body()
    change(body)
    decoded_body = as_tuples(body)
    result = outcome(decoded_body)
    assert result == walked_outcome(decoded_body)
    assert result[0] == "refused"
    error_path, error_reason = cast(tuple[tuple[object, ...], str], result[1])
    assert error_path == path
    assert reason in error_reason


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: PendingAsyncSnapshot(1, 2, (7,) * LONG + ("x",)), ("output_sites", LONG)),
        (lambda: TypedBusSnapshot({"k": (*range(LONG), 5)}), ("event_subscriptions", "k", LONG)),
        (
            lambda: AddressBookEntrySnapshot(PEERS[0], (*map(bytes, range(1, LONG)), b"\x00" * 3)),
            ("addresses", LONG - 1),  # bytes(3) first appears at index 2
        ),
    ],
    ids=["a bad last output site", "a subscriber twice", "an address twice"],
)
def test_a_record_finds_a_fault_deep_in_a_long_tuple(
    build: Callable[[], object], path: tuple[object, ...]
) -> None:
    with pytest.raises(SnapshotValueError) as refused:
        build()
    assert refused.value.path == path
