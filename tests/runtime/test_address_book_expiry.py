"""Address expiry in the address book: go-libp2p's TTL rule (an add extends, a set sets), lookups
that leave expired addresses out, an explicit expire step, and answers that never depend on when
that step last ran."""

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import peer_keys

from node_runtime.address_book import AddressBook, EntryRow, Expiry
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentTypeError,
    ComponentValueError,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_key import PeerKey
from snapshot_schema.checks import U64_MAX

ALICE = b"\x00\x01a"
BOB = b"\x00\x01b"

TCP = Multiaddr.from_string("/ip4/127.0.0.1/tcp/4001")
QUIC = Multiaddr.from_string("/ip6/::1/udp/9000/quic-v1")
WSS = Multiaddr.from_string("/dns4/example.com/tcp/443/wss")
ADDRESSES = (TCP, QUIC, WSS)

S = 1_000_000_000
NOW = 1_000 * S


def expiries(book: AddressBook, peer: PeerKey) -> dict[Multiaddr, Expiry]:
    """`peer`'s stored addresses and their expiries, expired or not."""
    for key, addresses, _, expires in book.entries():
        if key == peer:
            return dict(zip(map(Multiaddr.from_bytes, addresses), expires, strict=True))
    return {}


def state_of(book: AddressBook) -> tuple[list[EntryRow], int]:
    return list(book.entries()), book.revision


# --- add: permanent, or a TTL that only ever extends --------------------------------------------


def test_an_address_added_without_a_ttl_is_permanent() -> None:
    book = AddressBook()

    assert book.add_address(ALICE, TCP)

    assert expiries(book, ALICE) == {TCP: None}
    assert book.addresses(ALICE, now_ns=U64_MAX) == (TCP,)


def test_an_address_added_with_a_ttl_expires_that_long_after_now() -> None:
    book = AddressBook()

    assert book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)

    assert expiries(book, ALICE) == {TCP: NOW + 10 * S}
    assert book.addresses(ALICE, now_ns=NOW + 10 * S - 1) == (TCP,)
    assert book.addresses(ALICE, now_ns=NOW + 10 * S) == ()  # expired at its expiry


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (10 * S, 20 * S, NOW + 20 * S),  # a longer TTL extends
        (20 * S, 10 * S, NOW + 20 * S),  # a shorter one does not shorten
        (None, 10 * S, None),  # a permanent address stays permanent
        (10 * S, None, None),  # an add without a TTL makes it permanent
    ],
)
def test_adding_a_known_address_again_only_ever_extends_its_expiry(
    first: int | None, second: int | None, expected: Expiry
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, first, now_ns=NOW)
    book.add_address(ALICE, QUIC)

    added = book.add_address(ALICE, TCP, second, now_ns=NOW)

    assert added is False
    assert expiries(book, ALICE) == {TCP: expected, QUIC: None}
    assert book.addresses(ALICE) == (TCP, QUIC)  # it keeps its place


def test_an_add_that_extends_nothing_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 20 * S, now_ns=NOW)
    before = state_of(book)

    assert book.add_address(ALICE, TCP, 10 * S, now_ns=NOW) is False

    assert state_of(book) == before


def test_an_add_with_a_ttl_of_zero_adds_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, QUIC)
    before = state_of(book)

    assert book.add_address(ALICE, TCP, 0, now_ns=NOW) is False
    assert book.add_address(BOB, TCP, 0, now_ns=NOW) is False

    assert state_of(book) == before
    assert BOB not in book


def test_an_expiry_past_the_largest_u64_saturates() -> None:
    book = AddressBook()

    book.add_address(ALICE, TCP, U64_MAX, now_ns=NOW)
    book.set_address_ttl(ALICE, QUIC, U64_MAX - 1, now_ns=2)

    assert expiries(book, ALICE) == {TCP: U64_MAX, QUIC: U64_MAX}


def test_a_ttl_without_now_is_refused_as_a_type_error_and_changes_nothing() -> None:
    book = AddressBook()
    before = state_of(book)

    with pytest.raises(ComponentTypeError) as raised:
        book.add_address(ALICE, TCP, 10 * S)

    assert raised.value.path == ("now_ns",)
    assert isinstance(raised.value, TypeError)
    assert state_of(book) == before


BAD_TIMES: list[object] = [-1, U64_MAX + 1, True, 1.0, "1", None]


@pytest.mark.parametrize("ttl", [t for t in BAD_TIMES if t is not None])
@pytest.mark.parametrize(
    "mutate",
    [
        lambda book, ttl: book.add_address(ALICE, TCP, ttl, now_ns=NOW),
        lambda book, ttl: book.set_address_ttl(ALICE, TCP, ttl, now_ns=NOW),
    ],
)
def test_a_ttl_that_is_not_a_u64_is_refused_naming_it_and_changes_nothing(
    mutate: Callable[[AddressBook, object], object], ttl: object
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 5 * S, now_ns=NOW)
    before = state_of(book)

    with pytest.raises(ComponentValueError) as raised:
        mutate(book, ttl)

    assert raised.value.path == ("ttl_ns",)
    assert state_of(book) == before


@pytest.mark.parametrize("now", [t for t in BAD_TIMES if t is not None])
@pytest.mark.parametrize(
    "call",
    [
        lambda book, now: book.add_address(ALICE, TCP, 10 * S, now_ns=now),
        lambda book, now: book.add_address(ALICE, TCP, now_ns=now),
        lambda book, now: book.set_address_ttl(ALICE, TCP, None, now_ns=now),
        lambda book, now: book.remove_address(ALICE, TCP, now_ns=now),
        lambda book, now: book.expire(now),
        lambda book, now: book.addresses(ALICE, now),
        lambda book, now: list(book.entries(now)),
    ],
)
def test_a_now_that_is_not_a_u64_is_refused_naming_it_and_changes_nothing(
    call: Callable[[AddressBook, object], object], now: object
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 5 * S, now_ns=NOW)
    before = state_of(book)

    with pytest.raises(ComponentValueError) as raised:
        call(book, now)

    assert raised.value.path == ("now_ns",)
    assert state_of(book) == before


# --- set: exactly -------------------------------------------------------------------------------


def test_set_shortens_an_expiry_as_well_as_extending_it() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 20 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC, 20 * S, now_ns=NOW)

    book.set_address_ttl(ALICE, TCP, 5 * S, now_ns=NOW)
    book.set_address_ttl(ALICE, QUIC, 30 * S, now_ns=NOW)

    assert expiries(book, ALICE) == {TCP: NOW + 5 * S, QUIC: NOW + 30 * S}


def test_set_with_no_ttl_makes_an_address_permanent() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 20 * S, now_ns=NOW)

    book.set_address_ttl(ALICE, TCP, None, now_ns=NOW)

    assert expiries(book, ALICE) == {TCP: None}


def test_set_adds_an_unknown_address_at_the_end() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)

    book.set_address_ttl(ALICE, QUIC, 5 * S, now_ns=NOW)
    book.set_address_ttl(BOB, WSS, None, now_ns=NOW)

    assert book.addresses(ALICE) == (TCP, QUIC)
    assert expiries(book, ALICE) == {TCP: None, QUIC: NOW + 5 * S}
    assert expiries(book, BOB) == {WSS: None}


def test_set_with_a_ttl_of_zero_removes_the_address_and_forgets_an_unused_peer() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.add_address(ALICE, QUIC)
    book.add_address(BOB, TCP)

    book.set_address_ttl(ALICE, TCP, 0, now_ns=NOW)
    book.set_address_ttl(BOB, TCP, 0, now_ns=NOW)

    assert book.addresses(ALICE) == (QUIC,)
    assert BOB not in book


def test_set_with_a_ttl_of_zero_on_an_unknown_address_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    before = state_of(book)

    book.set_address_ttl(ALICE, QUIC, 0, now_ns=NOW)
    book.set_address_ttl(BOB, QUIC, 0, now_ns=NOW)

    assert state_of(book) == before
    assert BOB not in book


def test_set_past_the_address_limit_is_refused_and_changes_nothing() -> None:
    book = AddressBook(max_addresses_per_peer=1)
    book.add_address(ALICE, TCP, 5 * S, now_ns=NOW)
    before = state_of(book)

    with pytest.raises(AddressLimitError):
        book.set_address_ttl(ALICE, QUIC, 5 * S, now_ns=NOW)

    assert state_of(book) == before
    book.set_address_ttl(ALICE, TCP, 9 * S, now_ns=NOW)  # a known address is no new one
    assert expiries(book, ALICE) == {TCP: NOW + 9 * S}


# --- clear --------------------------------------------------------------------------------------


def test_clear_drops_every_address_and_keeps_a_retained_peer() -> None:
    book = AddressBook()
    for address in ADDRESSES:
        book.add_address(ALICE, address, 5 * S, now_ns=NOW)
    book.add_address(BOB, TCP)
    book.retain(ALICE)

    book.clear_addresses(ALICE)
    book.clear_addresses(BOB)

    assert list(book.entries()) == [(ALICE, (), 1, ())]


def test_clearing_a_peer_without_addresses_changes_nothing() -> None:
    book = AddressBook()
    book.retain(ALICE)
    before = state_of(book)

    book.clear_addresses(ALICE)
    book.clear_addresses(BOB)

    assert state_of(book) == before


# --- expire -------------------------------------------------------------------------------------


def test_expire_drops_addresses_at_or_before_now_and_counts_them() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC, 20 * S, now_ns=NOW)
    book.add_address(ALICE, WSS)
    book.add_address(BOB, TCP, 10 * S, now_ns=NOW)

    assert book.expire(NOW + 10 * S - 1) == 0
    assert book.expire(NOW + 10 * S) == 2

    assert expiries(book, ALICE) == {QUIC: NOW + 20 * S, WSS: None}
    assert BOB not in book  # no address and no reference left: forgotten
    assert book.expire(NOW + 20 * S) == 1
    assert expiries(book, ALICE) == {WSS: None}


def test_expire_keeps_a_retained_peer_whose_addresses_all_expired() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.retain(ALICE)

    assert book.expire(NOW + 10 * S) == 1

    assert list(book.entries()) == [(ALICE, (), 1, ())]


def test_an_expire_with_nothing_due_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(BOB, TCP)
    before = state_of(book)

    assert book.expire(NOW) == 0
    assert book.expire(U64_MAX) == 1
    after = state_of(book)
    assert book.expire(U64_MAX) == 0

    assert before[1] < after[1] == book.revision


def test_expire_still_finds_later_expiries_once_the_earliest_address_is_gone() -> None:
    # Removing the earliest address leaves the book's earliest-expiry bound low: still correct.
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC, 20 * S, now_ns=NOW)
    book.remove_address(ALICE, TCP)

    assert book.expire(NOW + 15 * S) == 0
    assert book.expire(NOW + 20 * S) == 1
    assert ALICE not in book


# --- an expired address is gone to every call given now ----------------------------------------


def test_lookups_given_now_leave_expired_addresses_out_and_without_now_list_all_stored() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC)

    assert book.addresses(ALICE, now_ns=NOW + 10 * S) == (QUIC,)
    assert book.addresses(ALICE) == (TCP, QUIC)  # still stored until expire runs


def test_an_expired_address_added_again_is_new_and_goes_last() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC)

    assert book.add_address(ALICE, TCP, 10 * S, now_ns=NOW + 10 * S)

    assert book.addresses(ALICE) == (QUIC, TCP)
    assert expiries(book, ALICE) == {QUIC: None, TCP: NOW + 20 * S}


def test_expired_addresses_do_not_count_against_the_limit() -> None:
    book = AddressBook(max_addresses_per_peer=1)
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)

    assert book.add_address(ALICE, QUIC, now_ns=NOW + 10 * S)

    assert expiries(book, ALICE) == {QUIC: None}


def test_removing_an_expired_address_given_now_finds_nothing_and_drops_it() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC, 10 * S, now_ns=NOW)

    assert book.remove_address(ALICE, TCP, now_ns=NOW + 10 * S) is False

    assert ALICE not in book  # its expired addresses went with the call


def test_entries_given_now_leave_out_expired_addresses_and_peers_left_empty() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC, 20 * S, now_ns=NOW)
    book.add_address(BOB, TCP, 10 * S, now_ns=NOW)
    stored = list(book.entries())

    assert list(book.entries(NOW + 10 * S)) == [
        (ALICE, (QUIC.to_bytes(),), 0, (NOW + 20 * S,)),
    ]
    assert list(book.entries(NOW + 10 * S - 1)) == stored
    assert list(book.entries()) == stored  # a question: nothing was dropped


def test_entries_share_the_stored_tuples_instead_of_copying_them() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    book.add_address(ALICE, QUIC)

    [(_, addresses, _, expires)] = book.entries(NOW)
    [(_, again, _, expires_again)] = book.entries()

    assert addresses is again
    assert expires is expires_again


# --- revision -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda book: book.add_address(ALICE, TCP, 30 * S, now_ns=NOW),  # extends
        lambda book: book.add_address(ALICE, QUIC, now_ns=NOW + 10 * S),  # drops TCP first
        lambda book: book.set_address_ttl(ALICE, TCP, 1, now_ns=NOW),
        lambda book: book.set_address_ttl(ALICE, TCP, 0, now_ns=NOW),
        lambda book: book.clear_addresses(ALICE),
        lambda book: book.expire(NOW + 10 * S),
        lambda book: book.rebase_expiries(lambda expiry: expiry + 1),
    ],
)
def test_every_change_to_expiries_grows_the_revision(
    mutate: Callable[[AddressBook], object],
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP, 10 * S, now_ns=NOW)
    before = book.revision

    mutate(book)

    assert book.revision > before


# --- from_state and rebase ----------------------------------------------------------------------


def test_from_state_keeps_each_expiry_with_its_address() -> None:
    rows: list[EntryRow] = [
        (ALICE, (TCP.to_bytes(), QUIC.to_bytes()), 1, (None, 7)),
        (BOB, (WSS.to_bytes(),), 0, (U64_MAX,)),
    ]

    book = AddressBook.from_state(rows)

    assert list(book.entries()) == rows
    assert book.expire(7) == 1
    assert expiries(book, ALICE) == {TCP: None}


GOOD = TCP.to_bytes()


@pytest.mark.parametrize(
    ("row", "path"),
    [
        ((ALICE, (GOOD,), 0, ()), ("entries", 0, "expires_ns")),
        ((ALICE, (GOOD,), 0, (None, None)), ("entries", 0, "expires_ns")),
        ((ALICE, (), 1, (None,)), ("entries", 0, "expires_ns")),
        ((ALICE, (GOOD, QUIC.to_bytes()), 0, (None, -1)), ("entries", 0, "expires_ns", 1)),
        ((ALICE, (GOOD,), 0, (U64_MAX + 1,)), ("entries", 0, "expires_ns", 0)),
        ((ALICE, (GOOD,), 0, (True,)), ("entries", 0, "expires_ns", 0)),
        ((ALICE, (GOOD,), 0, (1.0,)), ("entries", 0, "expires_ns", 0)),
        ((ALICE, (GOOD,), 0, ("1",)), ("entries", 0, "expires_ns", 0)),
    ],
)
def test_from_state_refuses_expiries_that_are_not_one_u64_or_none_per_address(
    row: EntryRow, path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        AddressBook.from_state([row])

    assert raised.value.path == path


def test_rebase_maps_each_expiry_and_drops_those_mapped_to_none() -> None:
    book = AddressBook.from_state(
        [
            (ALICE, (TCP.to_bytes(), QUIC.to_bytes(), WSS.to_bytes()), 0, (5, None, 50)),
            (BOB, (TCP.to_bytes(),), 0, (5,)),
        ]
    )

    dropped = book.rebase_expiries(lambda expiry: None if expiry < 10 else expiry * 2)

    assert dropped == 2
    assert list(book.entries()) == [(ALICE, (QUIC.to_bytes(), WSS.to_bytes()), 0, (None, 100))]
    assert book.expire(99) == 0  # the earliest expiry is the rebased one
    assert book.expire(100) == 1


def test_rebasing_a_book_of_permanent_addresses_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    before = state_of(book)

    assert book.rebase_expiries(lambda expiry: None) == 0

    assert state_of(book) == before


# --- any sequence of operations, against a model and against expire at every step -------------

LIMIT = 2
Model = dict[PeerKey, list[tuple[bytes, Expiry]]]

ttls = st.none() | st.integers(0, 30).map(lambda seconds: seconds * S)
operations = st.one_of(
    st.tuples(st.just("add"), peer_keys, st.sampled_from(ADDRESSES), ttls),
    st.tuples(st.just("set"), peer_keys, st.sampled_from(ADDRESSES), ttls),
    st.tuples(st.just("remove"), peer_keys, st.sampled_from(ADDRESSES), st.none()),
    st.tuples(st.just("clear"), peer_keys, st.none(), st.none()),
    st.tuples(st.just("advance"), st.none(), st.none(), st.integers(0, 20).map(lambda s: s * S)),
)
Step = tuple[str, PeerKey | None, Multiaddr | None, int | None]


def live(model: Model, now: int) -> Model:
    return {
        peer: kept
        for peer, listed in model.items()
        if (kept := [(a, e) for a, e in listed if e is None or e > now])
    }


def expected_listing(
    op: str, listed: list[tuple[bytes, Expiry]], address: bytes, ttl: int | None, now: int
) -> list[tuple[bytes, Expiry]] | None:
    """A peer's live addresses after an add or a set; `None` if the limit refuses it."""
    expiry = None if ttl is None else now + ttl
    known = dict(listed)
    if ttl == 0:
        return listed if op == "add" else [(a, e) for a, e in listed if a != address]
    if address in known:
        old = known[address]
        if op == "add":  # only ever extends
            expiry = None if old is None or expiry is None else max(old, expiry)
        return [(a, expiry if a == address else e) for a, e in listed]
    if len(listed) == LIMIT:
        return None
    return [*listed, (address, expiry)]


def apply(book: AddressBook, model: Model, step: Step, now: int) -> int:
    """Apply `step` to `book` and to `model` (the live addresses only); the new time."""
    op, peer, address, value = step
    if op == "advance":
        assert value is not None
        return now + value
    assert peer is not None
    listed = model.get(peer, [])
    if op == "clear":
        book.clear_addresses(peer)
        model[peer] = []
        return now
    assert address is not None
    encoded = address.to_bytes()
    known = encoded in dict(listed)
    if op == "remove":
        assert book.remove_address(peer, address, now_ns=now) is known
        model[peer] = [(a, e) for a, e in listed if a != encoded]
        return now
    expected = expected_listing(op, listed, encoded, value, now)
    change = book.add_address if op == "add" else book.set_address_ttl
    if expected is None:
        with pytest.raises(AddressLimitError):
            change(peer, address, value, now_ns=now)
        return now
    answer = change(peer, address, value, now_ns=now)
    if op == "add":
        assert answer is (not known and value != 0)
    model[peer] = expected
    return now


def rows_of(model: Model) -> list[EntryRow]:
    return [
        (peer, tuple(a for a, _ in model[peer]), 0, tuple(e for _, e in model[peer]))
        for peer in sorted(model)
        if model[peer]
    ]


@given(steps=st.lists(operations, max_size=50))
def test_any_operations_match_a_model_whenever_expire_runs(steps: list[Step]) -> None:
    lazy = AddressBook(max_addresses_per_peer=LIMIT)  # never expired explicitly
    eager = AddressBook(max_addresses_per_peer=LIMIT)  # expired after every step
    lazy_model: Model = {}
    eager_model: Model = {}
    now = NOW

    for step in steps:
        apply(lazy, lazy_model, step, now)
        now = apply(eager, eager_model, step, now)
        lazy_model = live(lazy_model, now)
        eager_model = live(eager_model, now)
        eager.expire(now)

        assert list(lazy.entries(now)) == rows_of(lazy_model)
        assert list(eager.entries()) == rows_of(eager_model)
        for peer in {peer for _, peer, _, _ in steps if peer is not None}:
            assert lazy.addresses(peer, now) == eager.addresses(peer)
    lazy.expire(now)
    assert list(lazy.entries()) == list(eager.entries())
    rebuilt = AddressBook.from_state(lazy.entries(), max_addresses_per_peer=LIMIT)
    assert list(rebuilt.entries()) == list(lazy.entries())
