"""Hypothesis strategies for every record, and for valid snapshots (needs `hypothesis`).

Every new record type extends this module, so property tests, fuzz seeds and users' own tests
can generate any state the schema allows:

    >>> from hypothesis import given
    >>> from snapshot_schema.strategies import transient_snapshots
    >>> @given(transient_snapshots())
    ... def test_round_trip(snapshot): ...
"""

from __future__ import annotations

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
    PendingOutboundEntry,
)
from snapshot_schema.transient import TransientSnapshot

u32s = st.integers(0, U32_MAX)
u64s = st.integers(0, U64_MAX)
names = st.text(min_size=1, max_size=12)
payloads = st.binary(max_size=24)
nonempty_payloads = st.binary(min_size=1, max_size=24)


@st.composite
def peer_ids(draw: st.DrawFn) -> bytes:
    """Multihash bytes as PeerIds use them: identity (Ed25519 keys), sha2-256, blake2b-256."""
    code, size = draw(st.sampled_from([(0x00, 36), (0x12, 32), (0xB220, 32), (0x00, 0)]))
    digest = draw(st.binary(min_size=size, max_size=size))
    return bytes(varint.encode(code)) + bytes([size]) + digest


def clock_readings() -> st.SearchStrategy[ClockReading]:
    return st.builds(ClockReading, u64s, u64s)


def address_book_entries(
    peer: st.SearchStrategy[bytes] | None = None,
) -> st.SearchStrategy[AddressBookEntrySnapshot]:
    return st.builds(
        AddressBookEntrySnapshot,
        peer if peer is not None else peer_ids(),
        st.lists(nonempty_payloads, max_size=4, unique=True).map(tuple),
        u64s,
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


def peer_governors() -> st.SearchStrategy[PeerGovernorSnapshot]:
    return st.builds(
        PeerGovernorSnapshot,
        st.frozensets(peer_ids(), max_size=4),
        st.none() | st.frozensets(peer_ids(), max_size=4),
        _unique_by_peer(st.lists(peer_health(), max_size=4)),
        st.integers(1, U32_MAX),
    )


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
