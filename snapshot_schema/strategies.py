"""Hypothesis strategies for every record, and for valid snapshots (needs `hypothesis`).

Every new record type extends this module, so property tests, fuzz seeds and users' own tests
can generate any state the schema allows:

    >>> from hypothesis import given
    >>> from snapshot_schema.strategies import transient_snapshots
    >>> @given(transient_snapshots())
    ... def test_round_trip(snapshot): ...
"""

from __future__ import annotations

import hashlib
import math

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from multiformats import varint

from snapshot_schema.checks import U32_MAX, U64_MAX
from snapshot_schema.execution_records import (
    AppEventIngress,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    IngressEvent,
    InvokeIngress,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TimerMaturedIngress,
    TypedBusSnapshot,
)
from snapshot_schema.framework_records import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
)
from snapshot_schema.ip_network import IpNetwork
from snapshot_schema.peer_record_checks import I64_MIN, MAX_EXTENSION_NAME, MetadataValue
from snapshot_schema.transient import TransientSnapshot

u32s = st.integers(0, U32_MAX)
u64s = st.integers(0, U64_MAX)
names = st.text(min_size=1, max_size=12)
payloads = st.binary(max_size=24)
nonempty_payloads = st.binary(min_size=1, max_size=24)
optional_u64s = st.none() | st.sampled_from((0, U64_MAX)) | u64s
"""Expiries and latencies: `None`, the u64 edges, any u64."""


@st.composite
def peer_ids(draw: st.DrawFn) -> bytes:
    """Multihash bytes as PeerIds use them: identity (Ed25519 keys), sha2-256, blake2b-256."""
    code, size = draw(st.sampled_from([(0x00, 36), (0x12, 32), (0xB220, 32), (0x00, 0)]))
    digest = draw(st.binary(min_size=size, max_size=size))
    return bytes(varint.encode(code)) + bytes([size]) + digest


def clock_readings() -> st.SearchStrategy[ClockReading]:
    return st.builds(ClockReading, u64s, u64s)


@st.composite
def address_book_entries(
    draw: st.DrawFn, peer: st.SearchStrategy[bytes] | None = None
) -> AddressBookEntrySnapshot:
    """An entry whose addresses each expire at any u64 deadline or never (`None`)."""
    addresses = draw(st.lists(nonempty_payloads, max_size=4, unique=True))
    expiries = draw(st.lists(optional_u64s, min_size=len(addresses), max_size=len(addresses)))
    return AddressBookEntrySnapshot(
        draw(peer if peer is not None else peer_ids()), addresses, draw(u64s), expiries
    )


def peer_health(
    peer: st.SearchStrategy[bytes] | None = None,
) -> st.SearchStrategy[PeerHealthSnapshot]:
    return st.builds(
        PeerHealthSnapshot, peer if peer is not None else peer_ids(), u32s, u64s, st.booleans()
    )


@st.composite
def backoff_entries(draw: st.DrawFn, peer: st.SearchStrategy[bytes] | None = None) -> BackoffEntry:
    last, following = sorted(draw(st.tuples(u64s, u64s)))
    return BackoffEntry(draw(peer if peer is not None else peer_ids()), draw(u32s), last, following)


def pending_outbound_entries() -> st.SearchStrategy[PendingOutboundEntry]:
    return st.builds(PendingOutboundEntry, nonempty_payloads, st.booleans())


def _unique_by_peer(rows: st.SearchStrategy[list[object]]) -> st.SearchStrategy[tuple[object, ...]]:
    return rows.map(lambda items: tuple({item.peer_id: item for item in items}.values()))  # type: ignore[attr-defined]


@st.composite
def ip_networks(draw: st.DrawFn) -> IpNetwork:
    """IPv4 and IPv6 networks of every prefix length, `/0` to a single address, in canonical
    form (no bit set past the prefix)."""
    size = draw(st.sampled_from((4, 16)))
    bits = size * 8
    prefix = draw(st.integers(0, bits))
    address = int.from_bytes(draw(st.binary(min_size=size, max_size=size)), "big")
    network = address >> (bits - prefix) << (bits - prefix)
    return IpNetwork(network.to_bytes(size, "big"), prefix)


_network_lists = st.lists(ip_networks(), max_size=4, unique=True)  # the record sorts a list


def peer_governors() -> st.SearchStrategy[PeerGovernorSnapshot]:
    return st.builds(
        PeerGovernorSnapshot,
        st.frozensets(peer_ids(), max_size=4),
        st.none() | st.frozensets(peer_ids(), max_size=4),
        _unique_by_peer(st.lists(peer_health(), max_size=4)),
        st.integers(1, U32_MAX),
        _network_lists,
        _network_lists,
    )


def _public_key(key_type: int, data: bytes) -> bytes:
    """A libp2p `PublicKey` protobuf: `08 <type> 12 <varint length> <data>`."""
    return bytes([0x08, key_type, 0x12]) + bytes(varint.encode(len(data))) + data


@st.composite
def ed25519_public_keys(draw: st.DrawFn) -> bytes:
    """The `PublicKey` protobuf of a real Ed25519 key pair's public half."""
    private = Ed25519PrivateKey.from_private_bytes(draw(st.binary(min_size=32, max_size=32)))
    return _public_key(1, private.public_key().public_bytes_raw())


def public_keys() -> st.SearchStrategy[bytes]:
    """`PublicKey` protobufs of every key type: Ed25519 (mostly), secp256k1 (a 33-byte
    compressed point), and RSA and ECDSA of any length (DER, which the schema does not
    parse), up to lengths whose varint takes two bytes."""
    return st.one_of(
        ed25519_public_keys(),
        st.builds(
            lambda parity, x: _public_key(2, parity + x),
            st.sampled_from((b"\x02", b"\x03")),
            st.binary(min_size=32, max_size=32),
        ),
        st.builds(_public_key, st.sampled_from((0, 3)), st.binary(min_size=1, max_size=300)),
    )


@st.composite
def keyed_peer_ids(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """`(peer_id, public_key)` of one peer: the PeerId embeds a key of at most 42 bytes
    (identity multihash), or hashes it (sha2-256), as libp2p derives them."""
    key = draw(public_keys())
    if len(key) <= 42 and draw(st.booleans()):
        return bytes([0x00, len(key)]) + key, key
    return bytes([0x12, 0x20]) + hashlib.sha256(key).digest(), key


PROTOCOLS = ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0")
protocols = st.lists(st.sampled_from(PROTOCOLS) | names, max_size=4, unique=True)
"""Protocol ids, as a list (the record sorts it)."""

_float_edges = (0.0, 5e-324, 1.0, math.inf, -math.inf, 1.7976931348623157e308)
metadata_values: st.SearchStrategy[MetadataValue] = st.one_of(
    st.text(max_size=12),
    st.sampled_from((I64_MIN, -1, 0, 2**63, U64_MAX)) | st.integers(I64_MIN, U64_MAX),
    st.sampled_from(_float_edges)
    | st.floats(allow_nan=False).map(lambda value: value or 0.0),  # -0.0 is refused
    st.booleans(),
    st.binary(max_size=12),
    st.none(),
)
"""Every type a metadata value keeps, with its edges: the int64 and u64 extremes, infinities,
the smallest subnormal and the largest float, empty text and bytes."""


@st.composite
def peer_records(
    draw: st.DrawFn, peer: st.SearchStrategy[bytes] | None = None
) -> PeerRecordSnapshot:
    """A peer record; with no `peer` given, half of them carry the key their PeerId derives
    from. Metadata is drawn as a dict (the record sorts it)."""
    public_key = None
    if peer is not None:
        peer_id = draw(peer)
    elif draw(st.booleans()):
        peer_id, public_key = draw(keyed_peer_ids())
    else:
        peer_id = draw(peer_ids())
    return PeerRecordSnapshot(
        peer_id,
        public_key,
        draw(protocols),
        draw(st.dictionaries(names, metadata_values, max_size=4)),
        draw(optional_u64s),
        draw(st.none() | nonempty_payloads),
    )


_EXTENSION_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789._/-"
extension_names = st.sampled_from(("a", "libp2p/pubsub-blacklist", "z" * MAX_EXTENSION_NAME)) | (
    st.text(_EXTENSION_ALPHABET, min_size=1, max_size=MAX_EXTENSION_NAME)
)
"""Extension namespaces: 1-128 characters of `[a-z0-9._/-]`."""


def framework_snapshots() -> st.SearchStrategy[FrameworkSnapshot]:
    return st.builds(
        FrameworkSnapshot,
        counters=st.dictionaries(names, u64s, max_size=4),
        fired_phases=st.lists(names, max_size=4).map(tuple),
        address_book=_unique_by_peer(st.lists(address_book_entries(), max_size=4)),
        peer_governor=peer_governors(),
        backoff_table=_unique_by_peer(st.lists(backoff_entries(), max_size=4)),
        pending_outbound=st.lists(pending_outbound_entries(), max_size=4).map(tuple),
        peer_id_bytes=peer_ids(),
        next_command_id=u64s,
        next_exec_id=u64s,
        peer_records=_unique_by_peer(st.lists(peer_records(), max_size=3)),
        extensions=st.dictionaries(extension_names, payloads, max_size=3),
    )


_named_payloads = st.lists(st.tuples(names, payloads), max_size=3).map(tuple)


def ingress_events() -> st.SearchStrategy[IngressEvent]:
    """One of each ingress variant."""
    return st.one_of(
        st.builds(EnvelopeIngress, payloads),
        st.builds(AppEventIngress, names, names, payloads),
        st.builds(InvokeIngress, names, _named_payloads),
        st.builds(TimerMaturedIngress, u64s),
        st.builds(CompletionIngress, u64s, st.lists(payloads, max_size=3).map(tuple)),
    )


def transient_snapshots() -> st.SearchStrategy[TransientSnapshot]:
    """Any valid snapshot the schema allows (small tables, every field exercised)."""
    site_exec = st.tuples(u64s, u64s)
    return st.builds(
        TransientSnapshot,
        taken_at=clock_readings(),
        frontier=st.lists(site_exec, max_size=3).map(tuple),
        slot_table=st.dictionaries(site_exec, st.none() | payloads, max_size=3),
        pending_async=st.dictionaries(
            u64s,
            st.builds(
                PendingAsyncSnapshot,
                u64s,
                u64s,
                st.lists(u64s, max_size=3).map(tuple),
                st.none() | u64s,
            ),
            max_size=3,
        ),
        execution_state=st.dictionaries(u64s, st.builds(ExecutionStateSnapshot, u32s), max_size=3),
        framework=framework_snapshots(),
        bus=st.builds(
            TypedBusSnapshot,
            st.dictionaries(names, st.lists(u64s, max_size=3, unique=True).map(tuple), max_size=3),
        ),
        ingress=st.lists(ingress_events(), max_size=4).map(tuple),
        wire_states=st.dictionaries(u32s, payloads, max_size=3),
        pending_completions=st.lists(
            st.builds(PendingCompletionSnapshot, u64s, _named_payloads), max_size=3
        ).map(tuple),
    )
