"""docs/FORMAT.md leaves nothing to guess: its integer rule, its multihash code table, its list of
error paths and the choices it states for what a writer may put in a snapshot are exactly what
the decoder does."""

import math
import re
from typing import Any

import msgpack
import pytest
from multiformats import multicodec
from schema_support import as_tuples, body_lists, format_section

from node_runtime import Identity, Node, RestoreValueError
from snapshot_schema import (
    AddressBookEntrySnapshot,
    AppEventIngress,
    BackoffEntry,
    ClockReading,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    FrameworkSnapshot,
    IncompatibleSnapshotVersion,
    InvokeIngress,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    PendingOutboundEntry,
    SnapshotDecodeError,
    TimerMaturedIngress,
    TransientSnapshot,
    TypedBusSnapshot,
    decode,
    encode,
    render_path,
    spec_version_of,
)
from snapshot_schema.decoder import MAX_NESTING
from snapshot_schema.encoder import encode_body
from snapshot_schema.multihash import MULTIHASH_CODE_TABLE, MULTIHASH_CODES

PEER = bytes.fromhex("1220") + bytes(32)
OTHER_PEER = bytes.fromhex("1220") + bytes([1]) * 32
ED25519_KEY = bytes.fromhex("08011220") + bytes([7]) * 32
KEYED_PEER = bytes.fromhex("0024") + ED25519_KEY  # the identity PeerId of that key

FULL = TransientSnapshot(
    taken_at=ClockReading(1, 2),
    frontier=((1, 2),),
    slot_table={(1, 2): b"v"},
    pending_async={3: PendingAsyncSnapshot(4, 5, (6,), 7)},
    execution_state={5: ExecutionStateSnapshot(1)},
    framework=FrameworkSnapshot(
        counters={"sent": 1},
        fired_phases=("started",),
        address_book=(AddressBookEntrySnapshot(PEER, (b"\x01",), 1, (5,)),),
        peer_governor=PeerGovernorSnapshot(
            blocklist={OTHER_PEER},
            allowlist={PEER},
            health=(PeerHealthSnapshot(PEER, 1, 2, False),),
            failure_threshold=3,
            ip_allow=["10.0.0.0/8"],
            ip_deny=["fd00::/8"],
        ),
        backoff_table=(BackoffEntry(PEER, 1, 2, 3),),
        pending_outbound=(PendingOutboundEntry(b"e", False),),
        peer_id_bytes=PEER,
        next_command_id=8,
        next_exec_id=0x1234,
        peer_records=(PeerRecordSnapshot(KEYED_PEER, ED25519_KEY, ["/p"], {"k": "v"}, 9, b"s"),),
        extensions={"x": b"y"},
    ),
    bus=TypedBusSnapshot({"kind": (1,)}),
    ingress=(
        EnvelopeIngress(b"e"),
        AppEventIngress("m", "i", b"v"),
        InvokeIngress("m", (("n", b"p"),)),
        TimerMaturedIngress(1),
        CompletionIngress(2, (b"r",)),
    ),
    wire_states={1: b"w"},
    pending_completions=(PendingCompletionSnapshot(3, (("n", b"p"),)),),
)
"""A snapshot with every field, every container non-empty and every ingress event kind."""


def stamped(version: bytes, body: bytes) -> bytes:
    return b"\x92" + version + body


def assert_read_as_full(data: bytes) -> None:
    """`data` decodes to `FULL`, which encodes back to the canonical bytes."""
    decoded = decode(data)
    assert decoded == FULL
    assert encode(decoded) == encode(FULL)


# The integer rule (§1): any msgpack integer form whose value is in range, everywhere.

TWO_IN_EVERY_FORM = {
    "positive fixint": "02",
    "uint 8": "cc02",
    "uint 16": "cd0002",
    "uint 32": "ce00000002",
    "uint 64": "cf0000000000000002",
    "int 8": "d002",
    "int 16": "d10002",
    "int 32": "d200000002",
    "int 64": "d30000000000000002",
}
MINUS_ONE_IN_EVERY_FORM = {
    "negative fixint": "ff",
    "int 8": "d0ff",
    "int 16": "d1ffff",
    "int 32": "d2ffffffff",
    "int 64": "d3ffffffffffffffff",
}


@pytest.mark.parametrize("form", TWO_IN_EVERY_FORM.values(), ids=TWO_IN_EVERY_FORM.keys())
def test_the_version_is_accepted_in_every_integer_form(form: str) -> None:
    data = stamped(bytes.fromhex(form), encode(FULL)[2:])
    assert spec_version_of(data) == 2
    assert_read_as_full(data)


@pytest.mark.parametrize("form", MINUS_ONE_IN_EVERY_FORM.values(), ids=MINUS_ONE_IN_EVERY_FORM)
def test_a_negative_version_is_refused_in_every_integer_form(form: str) -> None:
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(stamped(bytes.fromhex(form), encode(FULL)[2:]))
    assert caught.value.reason == "expected the spec version as a u32, got -1"
    assert caught.value.path == ()


@pytest.mark.parametrize("form", ["cf0000000100000000", "d30000000100000000"])
def test_a_version_above_u32_is_refused_as_not_a_version(form: str) -> None:
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(stamped(bytes.fromhex(form), b"\x90"))
    assert caught.value.reason == "expected the spec version as a u32, got 4294967296"


def test_the_largest_u32_version_is_a_version_too_new() -> None:
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode(stamped(bytes.fromhex("ceffffffff"), b"\x90"))
    assert caught.value.found == 2**32 - 1


BODY_0x1234_FORMS = {
    "uint 32": "ce00001234",
    "uint 64": "cf0000000000001234",
    "int 16": "d11234",
    "int 32": "d200001234",
    "int 64": "d30000000000001234",
}


@pytest.mark.parametrize("form", BODY_0x1234_FORMS.values(), ids=BODY_0x1234_FORMS.keys())
def test_body_integers_are_accepted_in_every_integer_form(form: str) -> None:
    canonical = encode(FULL)
    assert canonical.count(bytes.fromhex("cd1234")) == 1  # `next_exec_id`, as uint 16
    assert_read_as_full(canonical.replace(bytes.fromhex("cd1234"), bytes.fromhex(form)))


def test_an_ingress_tag_follows_the_same_rule() -> None:
    canonical = encode(FULL)
    envelope_event = bytes.fromhex("9200c40165")  # [0, b"e"]
    assert canonical.count(envelope_event) == 1
    signed = canonical.replace(envelope_event, bytes.fromhex("92d000c40165"))
    assert encode(decode(signed)) == canonical
    negative = canonical.replace(envelope_event, bytes.fromhex("92ffc40165"))
    with pytest.raises(SnapshotDecodeError, match="unknown ingress event tag -1") as caught:
        decode(negative)
    assert caught.value.path == ("ingress", 0, "tag")


@pytest.mark.parametrize("form", MINUS_ONE_IN_EVERY_FORM.values(), ids=MINUS_ONE_IN_EVERY_FORM)
def test_a_negative_body_integer_is_refused_in_every_integer_form(form: str) -> None:
    data = encode(FULL).replace(bytes.fromhex("cd1234"), bytes.fromhex(form))
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(data)
    assert caught.value.path == ("framework", "next_exec_id")
    assert caught.value.reason == "expected u64 (0..18446744073709551615), got -1"


def test_length_headers_longer_than_needed_are_accepted_and_re_encode_canonically() -> None:
    canonical = encode(FULL)
    longer = {
        b"\xa7started": b"\xd9\x07started",  # fixstr as str 8
        b"\xc4\x01e\xc2": b"\xc5\x00\x01e\xc2",  # the outbound envelope: bin 8 as bin 16
        b"\x91\xa7started": b"\xdc\x00\x01\xa7started",  # fired_phases: fixarray as array 16
    }
    for short, long in longer.items():
        assert canonical.count(short) == 1
        assert_read_as_full(canonical.replace(short, long))


def test_a_version_2_snapshot_starts_with_92_02_as_encoders_write_it() -> None:
    assert encode(FULL)[:2] == bytes.fromhex("9202")


# The error paths (§7): every path a decode error can carry, and nothing else.


def documented_paths() -> list[str]:
    block = re.search(r"```text\n(\$.*?)```", format_section(7), re.S)
    assert block is not None
    return [line.split()[0] for line in block.group(1).splitlines()]


def positions(node: object, at: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """The position of `node` and of everything inside it, as indices from the root."""
    inner = (
        [p for i, c in enumerate(node) for p in positions(c, (*at, i))]
        if type(node) is tuple
        else []
    )
    return [at, *inner]


def poisoned(node: Any, at: tuple[int, ...]) -> Any:
    """`node` with the value at `at` replaced by NaN, which no field accepts (metadata values
    are the only floats, and never NaN)."""
    if not at:
        return math.nan
    return (*node[: at[0]], poisoned(node[at[0]], at[1:]), *node[at[0] + 1 :])


def pattern(path: str) -> str:
    return re.sub(r"\[\w+\]", "[]", path)


def test_every_error_path_is_listed_and_every_listed_path_occurs() -> None:
    """A bad value anywhere in a snapshot holding every field is reported at a listed path,
    and each listed path is reported for some bad value."""
    body = as_tuples(body_lists(FULL))
    reported = set()
    for at in positions(body):
        with pytest.raises(SnapshotDecodeError) as caught:
            decode(msgpack.packb([2, poisoned(body, at)]))
        reported.add(pattern(render_path(caught.value.path)))
    listed = documented_paths()
    assert len(set(listed)) == len(listed)
    assert reported == {pattern(path) for path in listed}


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda body: body[5].__setitem__(0, [["b", 1], ["a", 2]]), "$.framework.counters[1].key"),
        (
            lambda body: body[5][3].__setitem__(0, [OTHER_PEER, PEER]),
            "$.framework.peer_governor.blocklist[1]",
        ),
        (
            lambda body: body[6][0].__setitem__(0, ["kind", [1, 1]]),
            "$.bus.event_subscriptions[0].value[1]",
        ),
        (
            lambda body: body[5].__setitem__(2, [*body[5][2], body[5][2][0]]),
            "$.framework.address_book[1].peer_id",
        ),
        (lambda body: body[7].append([0]), "$.ingress[5]"),
        (lambda body: body[5].__setitem__(3, body[5][3][:3]), "$.framework.peer_governor"),
    ],
)
def test_a_fault_is_reported_at_the_value_it_is_about(mutate: Any, path: str) -> None:
    """Duplicates at the second occurrence, order at the later key, length at the record."""
    body = encode_body(FULL)
    mutate(body)
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(msgpack.packb([2, body]))
    assert render_path(caught.value.path) == path
    assert pattern(path) in {pattern(listed) for listed in documented_paths()}


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty
        b"\x91\x01",  # not an envelope
        b"\x92",  # no version
        b"\x92\xa11",  # a version that is no integer
        b"\x92\xd0\xff",  # a negative version
        b"\x92\x01\xc1",  # malformed msgpack
        b"\x92\x01\x9a",  # truncated
        b"\x92\x01" + b"\x91" * 2000,  # nesting too deep
        b"\x92\x01\x81\xa1a\x01",  # a map
        b"\x92\x01\xd4\x01\x00",  # an ext value
        b"\x92\x01\xa2\xff\xfe",  # invalid UTF-8
        b"\x92\x01\x90\x00",  # bytes after the body
        encode(FULL) + bytes(2**20),  # too large (below)
    ],
)
def test_a_fault_not_in_one_value_has_the_root_path(data: bytes) -> None:
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(data, max_size=2**20)
    assert caught.value.path == ()


# Nesting (§5): the structure pass refuses bodies nesting arrays more than MAX_NESTING deep.


def test_nesting_up_to_the_limit_reaches_the_shape_check_and_deeper_is_refused_first() -> None:
    at_limit = b"\x92\x01" + b"\x91" * (MAX_NESTING - 1) + b"\x90"
    with pytest.raises(SnapshotDecodeError, match="expected array of 10 elements"):
        decode(at_limit)
    with pytest.raises(SnapshotDecodeError) as caught:
        decode(b"\x92\x01\x91" + at_limit[2:])
    assert caught.value.reason == f"nesting too deep (over {MAX_NESTING} levels)"
    assert f"nests arrays at most {MAX_NESTING} deep" in " ".join(format_section(5).split())


# The multihash code table (§4).


def documented_multihash_rows() -> list[tuple[int, int, str]]:
    row = (
        r"^\| `(0x[0-9a-f]+)`(?: \u2013 `(0x[0-9a-f]+)`)? \| (.+?) \|$"  # a single code or a range
    )
    rows = re.findall(row, format_section(4), re.M)
    return [(int(first, 16), int(last or first, 16), name) for first, last, name in rows]


def test_the_documented_multihash_codes_are_exactly_the_accepted_codes() -> None:
    assert documented_multihash_rows() == list(MULTIHASH_CODE_TABLE)


@pytest.mark.parametrize("code", sorted(MULTIHASH_CODES))
def test_a_peer_id_of_every_listed_code_is_accepted(code: int) -> None:
    peer = _varint(code) + b"\x01\x00"
    assert decode(encode(_with_peer(peer))).framework.peer_id_bytes == peer


def test_a_peer_id_of_a_code_not_listed_is_refused() -> None:
    unlisted = next(code for code in range(0x80) if code not in MULTIHASH_CODES)
    with pytest.raises(SnapshotDecodeError, match="unknown multihash code") as caught:
        decode(encode(_with_peer(PEER)).replace(PEER, bytes([unlisted]) + PEER[1:]))
    assert caught.value.path == ("framework", "peer_id_bytes")


def test_every_listed_code_is_a_multihash_code_of_the_multicodec_table() -> None:
    """The pinned table is a copy, not an invention: py-multiformats names each code the same."""
    known = {codec.code: codec.name for codec in multicodec.table(tag="multihash")}
    for first, last, name in MULTIHASH_CODE_TABLE:
        assert known[first] == name.split(" … ")[0]
        assert known[last] == name.split(" … ")[-1]
        assert all(code in known for code in range(first, last + 1))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def _with_peer(peer: bytes) -> TransientSnapshot:
    return TransientSnapshot(
        taken_at=ClockReading(0, 0), framework=FrameworkSnapshot(peer_id_bytes=peer)
    )


# What a writer may put in a snapshot (§3, §4): kept exactly, order and repeats included.


def _round_trip(**fields: Any) -> TransientSnapshot:
    snapshot = TransientSnapshot(taken_at=ClockReading(0, 0), framework=FULL.framework, **fields)
    decoded = decode(encode(snapshot))
    assert decoded == snapshot
    return decoded


def test_frontier_keeps_its_order_and_repeats() -> None:
    frontier = ((5, 1), (2, 9), (5, 1))
    assert _round_trip(frontier=frontier).frontier == frontier


def test_output_sites_keep_their_order_and_repeats() -> None:
    pending = PendingAsyncSnapshot(1, 2, (7, 3, 7))
    assert _round_trip(pending_async={1: pending}).pending_async[1].output_sites == (7, 3, 7)


def test_an_ingress_envelope_may_be_empty() -> None:
    assert _round_trip(ingress=(EnvelopeIngress(b""),)).ingress == (EnvelopeIngress(b""),)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda body: body[9][0][1][0].__setitem__(0, ""),
            "$.pending_completions[0].results[0].name",
        ),
        (lambda body: body[7][2][2][0].__setitem__(0, ""), "$.ingress[2].inputs[0].name"),
        (lambda body: body[7][1].__setitem__(1, ""), "$.ingress[1].module_name"),
        (lambda body: body[7][1].__setitem__(2, ""), "$.ingress[1].input_name"),
        (lambda body: body[5][0][0].__setitem__(0, ""), "$.framework.counters[0].key"),
        (lambda body: body[5][1].__setitem__(0, ""), "$.framework.fired_phases[0]"),
        (lambda body: body[6][0][0].__setitem__(0, ""), "$.bus.event_subscriptions[0].key"),
    ],
)
def test_every_name_must_be_non_empty(mutate: Any, path: str) -> None:
    body = body_lists(FULL)
    mutate(body)
    with pytest.raises(SnapshotDecodeError, match="non-empty name") as caught:
        decode(msgpack.packb([2, body]))
    assert render_path(caught.value.path) == path


# Node.restore (§7): a value a component refuses is located as a decode error would locate it.


@pytest.mark.parametrize(
    ("framework_fields", "path"),
    [
        (
            {"pending_outbound": [PendingOutboundEntry(b"a"), PendingOutboundEntry(b"b")]},
            "$.framework.pending_outbound[1]",  # over `max_outbound`
        ),
        (
            {"address_book": [AddressBookEntrySnapshot(PEER, (b"\x04\x0a",))]},
            "$.framework.address_book[0].addresses[0]",  # no multiaddr
        ),
    ],
)
def test_a_refused_restore_names_a_listed_path(framework_fields: dict[str, Any], path: str) -> None:
    identity = Identity.generate()
    framework = FrameworkSnapshot(peer_id_bytes=identity.peer_id.to_bytes(), **framework_fields)
    snapshot = TransientSnapshot(taken_at=ClockReading(0, 0), framework=framework)
    with pytest.raises(RestoreValueError) as caught:
        Node.restore(snapshot, identity, max_outbound=1)
    assert render_path(caught.value.path) == path
    assert pattern(path) in {pattern(listed) for listed in documented_paths()}
