"""The address book: ordered, duplicate-free addresses and reference counts per peer."""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import peer_keys

from node_runtime.address_book import DEFAULT_MAX_ADDRESSES_PER_PEER, AddressBook, EntryRow
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentValueError,
    RefCountOverflowError,
    RefCountUnderflowError,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_key import PeerKey
from snapshot_schema.checks import U64_MAX

ALICE = b"\x00\x01a"
BOB = b"\x00\x01b"
CAROL = b"\x00\x01c"

TCP = Multiaddr.from_string("/ip4/127.0.0.1/tcp/4001")
QUIC = Multiaddr.from_string("/ip6/::1/udp/9000/quic-v1")
WSS = Multiaddr.from_string("/dns4/example.com/tcp/443/wss")
UDP = Multiaddr.from_string("/ip4/10.0.0.1/udp/4001/quic-v1")
ADDRESSES = (TCP, QUIC, WSS, UDP)

Entries = list[EntryRow]
# Typed loosely: the refusal tests hand `permanent` values of the wrong type on purpose.
PermanentRow = tuple[PeerKey, tuple[Any, ...], Any]


def state_of(book: AddressBook) -> Entries:
    return list(book.entries())


def permanent(rows: list[PermanentRow]) -> Entries:
    """`(peer, addresses, ref_count)` rows as entries whose addresses never expire."""
    return [(peer, addresses, count, (None,) * len(addresses)) for peer, addresses, count in rows]


def test_a_new_book_knows_no_peer() -> None:
    book = AddressBook()

    assert len(book) == 0
    assert ALICE not in book
    assert book.addresses(ALICE) == ()
    assert book.ref_count(ALICE) == 0
    assert state_of(book) == []


def test_addresses_are_kept_in_the_order_they_were_added() -> None:
    book = AddressBook()

    assert book.add_address(ALICE, WSS)
    assert book.add_address(ALICE, TCP)
    assert book.add_address(ALICE, QUIC)

    assert ALICE in book
    assert book.addresses(ALICE) == (WSS, TCP, QUIC)
    assert book.ref_count(ALICE) == 0


def test_adding_a_known_address_again_returns_false_and_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.add_address(ALICE, QUIC)
    before = state_of(book)

    added = book.add_address(ALICE, Multiaddr.from_string("/ip4/127.0.0.1/tcp/4001"))

    assert added is False
    assert state_of(book) == before


def test_the_same_address_may_belong_to_two_peers() -> None:
    book = AddressBook()

    assert book.add_address(ALICE, TCP)
    assert book.add_address(BOB, TCP)

    assert book.addresses(ALICE) == book.addresses(BOB) == (TCP,)


@pytest.mark.parametrize(
    "text",
    ["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/udp/9000/quic-v1", "/dns4/example.com/tcp/443/wss"],
)
def test_addresses_are_stored_as_binary_multiaddrs_and_read_back_in_text_form(text: str) -> None:
    book = AddressBook()

    book.add_address(ALICE, Multiaddr.from_string(text))

    [(peer, stored, _, expires)] = state_of(book)
    assert peer == ALICE
    assert expires == (None,)
    assert stored == (Multiaddr.from_string(text).to_bytes(),)
    assert [str(address) for address in book.addresses(ALICE)] == [text]


def test_removing_an_address_keeps_the_order_of_the_rest() -> None:
    book = AddressBook()
    for address in (TCP, QUIC, WSS):
        book.add_address(ALICE, address)

    assert book.remove_address(ALICE, QUIC)

    assert book.addresses(ALICE) == (TCP, WSS)


def test_removing_an_unknown_address_returns_false_and_changes_nothing() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    before = state_of(book)

    assert book.remove_address(ALICE, QUIC) is False
    assert book.remove_address(BOB, TCP) is False

    assert state_of(book) == before
    assert BOB not in book


def test_a_removed_address_can_be_added_again_at_the_end() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.add_address(ALICE, QUIC)

    book.remove_address(ALICE, TCP)
    book.add_address(ALICE, TCP)

    assert book.addresses(ALICE) == (QUIC, TCP)


def test_retain_and_release_count_references_and_return_the_new_count() -> None:
    book = AddressBook()

    assert book.retain(ALICE) == 1
    assert book.retain(ALICE) == 2
    assert ALICE in book
    assert book.addresses(ALICE) == ()

    assert book.release(ALICE) == 1
    assert book.ref_count(ALICE) == 1


def test_a_peer_without_addresses_is_forgotten_at_its_last_release() -> None:
    book = AddressBook()
    book.retain(ALICE)
    book.retain(BOB)

    assert book.release(ALICE) == 0

    assert ALICE not in book
    assert book.peers() == (BOB,)
    assert state_of(book) == permanent([(BOB, (), 1)])


def test_a_peer_with_addresses_outlives_its_last_release() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.retain(ALICE)

    book.release(ALICE)

    assert state_of(book) == permanent([(ALICE, (TCP.to_bytes(),), 0)])


def test_a_peer_without_references_is_forgotten_with_its_last_address() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.add_address(ALICE, QUIC)

    book.remove_address(ALICE, TCP)

    assert ALICE in book

    book.remove_address(ALICE, QUIC)

    assert ALICE not in book
    assert len(book) == 0


def test_a_retained_peer_outlives_its_last_address() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.retain(ALICE)

    book.remove_address(ALICE, TCP)

    assert state_of(book) == permanent([(ALICE, (), 1)])


@pytest.mark.parametrize("peer", [ALICE, BOB])
def test_releasing_below_zero_is_refused_and_changes_nothing(peer: PeerKey) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)  # ALICE is known with no references; BOB is unknown
    book.retain(CAROL)
    before = state_of(book)

    with pytest.raises(RefCountUnderflowError):
        book.release(peer)
    with pytest.raises(ValueError, match="without a matching retain"):
        book.release(peer)

    assert state_of(book) == before


def test_retaining_at_u64_max_is_refused_as_an_overflow_and_changes_nothing() -> None:
    book = AddressBook.from_state(permanent([(ALICE, (TCP.to_bytes(),), U64_MAX - 1)]))

    assert book.retain(ALICE) == U64_MAX

    before = state_of(book)
    with pytest.raises(RefCountOverflowError):
        book.retain(ALICE)
    with pytest.raises(OverflowError):
        book.retain(ALICE)

    assert state_of(book) == before
    assert book.release(ALICE) == U64_MAX - 1


def test_a_peer_holds_at_most_max_addresses_and_further_ones_are_refused() -> None:
    book = AddressBook(max_addresses_per_peer=2)
    book.add_address(ALICE, TCP)
    book.add_address(ALICE, QUIC)
    before = state_of(book)

    with pytest.raises(AddressLimitError):
        book.add_address(ALICE, WSS)
    with pytest.raises(OverflowError):
        book.add_address(ALICE, WSS)

    assert state_of(book) == before
    assert book.add_address(BOB, WSS)  # the limit is per peer


def test_a_full_peer_still_answers_false_for_a_known_address() -> None:
    book = AddressBook(max_addresses_per_peer=1)
    book.add_address(ALICE, TCP)

    assert book.add_address(ALICE, TCP) is False


def test_a_full_peer_takes_an_address_again_once_one_is_removed() -> None:
    book = AddressBook(max_addresses_per_peer=1)
    book.add_address(ALICE, TCP)

    book.remove_address(ALICE, TCP)

    assert book.add_address(ALICE, QUIC)
    assert book.addresses(ALICE) == (QUIC,)


def test_the_default_limit_is_32_addresses() -> None:
    book = AddressBook()
    for port in range(DEFAULT_MAX_ADDRESSES_PER_PEER):
        book.add_address(ALICE, Multiaddr.from_string(f"/ip4/10.0.0.1/tcp/{port}"))

    with pytest.raises(AddressLimitError):
        book.add_address(ALICE, TCP)

    assert DEFAULT_MAX_ADDRESSES_PER_PEER == 32
    assert len(book.addresses(ALICE)) == 32


@pytest.mark.parametrize("limit", [0, -1, U64_MAX + 1, True, 2.0])
def test_a_limit_outside_1_to_u64_max_is_refused(limit: int) -> None:
    with pytest.raises(ComponentValueError) as raised:
        AddressBook(max_addresses_per_peer=limit)

    assert raised.value.path == ("max_addresses_per_peer",)


def test_forget_drops_a_peer_with_its_addresses_and_references() -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.retain(ALICE)
    book.retain(BOB)

    book.forget(ALICE)
    book.forget(CAROL)  # unknown: nothing to drop

    assert state_of(book) == permanent([(BOB, (), 1)])


NOT_A_PEER_KEYS: list[object] = [b"not a multihash", b"", bytearray(ALICE), "peer", None, []]


@pytest.mark.parametrize("peer", NOT_A_PEER_KEYS)
@pytest.mark.parametrize(
    "mutate",
    [
        lambda book, peer: book.add_address(peer, TCP),
        lambda book, peer: book.remove_address(peer, TCP),
        lambda book, peer: book.retain(peer),
        lambda book, peer: book.release(peer),
        lambda book, peer: book.forget(peer),
    ],
)
def test_a_peer_that_is_not_a_multihash_is_refused_naming_it_and_changes_nothing(
    mutate: Callable[[AddressBook, object], object], peer: object
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    book.retain(ALICE)
    before = (state_of(book), book.revision)

    with pytest.raises(ComponentValueError) as raised:
        mutate(book, peer)

    assert raised.value.path == ("peer",)
    assert (state_of(book), book.revision) == before


@pytest.mark.parametrize("address", [TCP.to_bytes(), "/ip4/127.0.0.1/tcp/4001", None])
@pytest.mark.parametrize(
    "mutate",
    [
        lambda book, address: book.add_address(ALICE, address),
        lambda book, address: book.remove_address(ALICE, address),
    ],
)
def test_an_address_that_is_not_a_multiaddr_is_refused_naming_it_and_changes_nothing(
    mutate: Callable[[AddressBook, object], object], address: object
) -> None:
    book = AddressBook()
    book.add_address(ALICE, TCP)
    before = (state_of(book), book.revision)

    with pytest.raises(ComponentValueError) as raised:
        mutate(book, address)

    assert raised.value.path == ("address",)
    assert (state_of(book), book.revision) == before


@pytest.mark.parametrize(
    "mutate",
    [
        lambda book: book.add_address(ALICE, TCP),
        lambda book: book.remove_address(ALICE, QUIC),
        lambda book: book.retain(ALICE),
        lambda book: book.release(BOB),
        lambda book: book.forget(BOB),
    ],
)
def test_every_change_grows_the_revision(mutate: Callable[[AddressBook], object]) -> None:
    book = AddressBook()
    book.add_address(ALICE, QUIC)
    book.retain(BOB)
    before = book.revision

    mutate(book)

    assert book.revision > before


def test_entries_are_sorted_by_peer_whatever_the_insertion_order() -> None:
    book = AddressBook()
    book.retain(CAROL)
    book.add_address(ALICE, QUIC)
    book.add_address(BOB, TCP)
    book.add_address(ALICE, TCP)

    assert book.peers() == (CAROL, ALICE, BOB)
    assert state_of(book) == permanent(
        [
            (ALICE, (QUIC.to_bytes(), TCP.to_bytes()), 0),
            (BOB, (TCP.to_bytes(),), 0),
            (CAROL, (), 1),
        ]
    )


def test_from_state_keeps_address_order_and_reference_counts() -> None:
    entries = permanent(
        [
            (ALICE, (WSS.to_bytes(), TCP.to_bytes()), 3),
            (BOB, (), 1),
            (CAROL, (QUIC.to_bytes(),), 0),
        ]
    )

    book = AddressBook.from_state(entries)

    assert state_of(book) == entries
    assert book.addresses(ALICE) == (WSS, TCP)
    assert book.ref_count(ALICE) == 3


def test_from_state_sorts_entries_given_in_any_order() -> None:
    book = AddressBook.from_state(permanent([(BOB, (), 1), (ALICE, (TCP.to_bytes(),), 0)]))

    assert [peer for peer, *_ in book.entries()] == [ALICE, BOB]


def test_from_state_drops_an_entry_with_no_addresses_and_no_references() -> None:
    book = AddressBook.from_state(permanent([(ALICE, (), 0), (BOB, (), 1)]))

    assert ALICE not in book
    assert state_of(book) == permanent([(BOB, (), 1)])


def test_a_restored_book_keeps_working() -> None:
    book = AddressBook.from_state(
        permanent([(ALICE, (TCP.to_bytes(),), 1)]), max_addresses_per_peer=2
    )

    assert book.add_address(ALICE, TCP) is False
    assert book.add_address(ALICE, QUIC)
    with pytest.raises(AddressLimitError):
        book.add_address(ALICE, WSS)
    assert book.release(ALICE) == 0
    assert state_of(book) == permanent([(ALICE, (TCP.to_bytes(), QUIC.to_bytes()), 0)])


GOOD = TCP.to_bytes()


@pytest.mark.parametrize(
    ("entries", "path"),
    [
        # Not a multiaddr: an unknown protocol code, a truncated value, empty, not bytes.
        (permanent([(ALICE, (GOOD, b"\x7f\x00"), 0)]), ("entries", 0, "addresses", 1)),
        (permanent([(ALICE, (GOOD,), 0), (BOB, (GOOD[:-1],), 0)]), ("entries", 1, "addresses", 0)),
        (permanent([(ALICE, (b"",), 0)]), ("entries", 0, "addresses", 0)),
        (permanent([(ALICE, (str(TCP),), 0)]), ("entries", 0, "addresses", 0)),
        (permanent([(ALICE, (GOOD, QUIC.to_bytes(), GOOD), 0)]), ("entries", 0, "addresses", 2)),
        (permanent([(ALICE, (GOOD,), 0), (BOB, (), 1), (ALICE, (), 2)]), ("entries", 2, "peer")),
        # The first listing holds nothing and is not kept; the second is still a repeat.
        (permanent([(ALICE, (), 0), (ALICE, (GOOD,), 1)]), ("entries", 1, "peer")),
        (permanent([(ALICE, (GOOD,), -1)]), ("entries", 0, "ref_count")),
        (permanent([(ALICE, (GOOD,), U64_MAX + 1)]), ("entries", 0, "ref_count")),
        (permanent([(BOB, (), 1), (ALICE, (GOOD,), True)]), ("entries", 1, "ref_count")),
        (permanent([(ALICE, (GOOD,), 1.0)]), ("entries", 0, "ref_count")),
        (permanent([(ALICE, (GOOD,), "1")]), ("entries", 0, "ref_count")),
    ],
)
def test_from_state_refuses_an_invalid_entry_naming_it(
    entries: Entries, path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        AddressBook.from_state(entries)

    assert raised.value.path == path


def test_from_state_refuses_more_addresses_than_the_limit() -> None:
    entries = permanent(
        [
            (ALICE, (TCP.to_bytes(),), 0),
            (BOB, tuple(a.to_bytes() for a in ADDRESSES), 0),
        ]
    )

    with pytest.raises(ComponentValueError) as raised:
        AddressBook.from_state(entries, max_addresses_per_peer=3)

    assert raised.value.path == ("entries", 1, "addresses")
    assert "more than 3 addresses" in raised.value.reason
    assert state_of(AddressBook.from_state(entries, max_addresses_per_peer=4)) == sorted(entries)


def test_from_state_accepts_ref_counts_at_both_ends_of_u64() -> None:
    book = AddressBook.from_state(permanent([(ALICE, (GOOD,), 0), (BOB, (), U64_MAX)]))

    assert book.ref_count(ALICE) == 0
    assert book.ref_count(BOB) == U64_MAX


# --- any sequence of operations --------------------------------------------------------------

LIMIT = 3

operations = st.one_of(
    st.tuples(st.just("add"), peer_keys, st.sampled_from(ADDRESSES)),
    st.tuples(st.just("remove"), peer_keys, st.sampled_from(ADDRESSES)),
    st.tuples(st.just("retain"), peer_keys, st.none()),
    st.tuples(st.just("release"), peer_keys, st.none()),
    st.tuples(st.just("forget"), peer_keys, st.none()),
)


def apply(
    book: AddressBook,
    model: dict[PeerKey, tuple[list[bytes], int]],
    op: str,
    peer: PeerKey,
    address: Multiaddr | None,
) -> None:
    """Apply `op` to `book` and to `model` (a plain dict), checking what `book` answers."""
    addresses, count = model.get(peer, ([], 0))
    if op == "add":
        assert address is not None
        if address.to_bytes() in addresses:
            assert book.add_address(peer, address) is False
        elif len(addresses) == LIMIT:
            with pytest.raises(AddressLimitError):
                book.add_address(peer, address)
        else:
            assert book.add_address(peer, address) is True
            model[peer] = ([*addresses, address.to_bytes()], count)
    elif op == "remove":
        assert address is not None
        present = address.to_bytes() in addresses
        assert book.remove_address(peer, address) is present
        if present:
            model[peer] = ([a for a in addresses if a != address.to_bytes()], count)
    elif op == "retain":
        assert book.retain(peer) == count + 1
        model[peer] = (addresses, count + 1)
    elif op == "release":
        if count == 0:
            with pytest.raises(RefCountUnderflowError):
                book.release(peer)
        else:
            assert book.release(peer) == count - 1
            model[peer] = (addresses, count - 1)
    else:
        book.forget(peer)
        model.pop(peer, None)
    if peer in model and model[peer] == ([], 0):
        del model[peer]


@given(ops=st.lists(operations, max_size=60))
def test_any_operations_match_a_model_and_the_entries_restore_the_same_book(
    ops: list[tuple[str, PeerKey, Multiaddr | None]],
) -> None:
    book = AddressBook(max_addresses_per_peer=LIMIT)
    model: dict[PeerKey, tuple[list[bytes], int]] = {}

    for op, peer, address in ops:
        apply(book, model, op, peer, address)

    expected = permanent([(peer, tuple(model[peer][0]), model[peer][1]) for peer in sorted(model)])
    restored = AddressBook.from_state(book.entries(), max_addresses_per_peer=LIMIT)
    assert state_of(book) == expected
    assert set(book.peers()) == set(model)
    assert state_of(restored) == expected
    assert set(restored.peers()) == set(book.peers())


@given(
    entries=st.dictionaries(
        peer_keys,
        st.tuples(
            st.lists(st.sampled_from([a.to_bytes() for a in ADDRESSES]), unique=True),
            st.integers(0, U64_MAX),
        ),
    )
)
def test_state_read_from_entries_rebuilds_the_same_book(
    entries: dict[PeerKey, tuple[list[bytes], int]],
) -> None:
    book = AddressBook.from_state(
        permanent([(peer, tuple(addresses), count) for peer, (addresses, count) in entries.items()])
    )

    rebuilt = AddressBook.from_state(book.entries())

    assert state_of(book) == permanent(
        [
            (peer, tuple(entries[peer][0]), entries[peer][1])
            for peer in sorted(entries)
            if entries[peer] != ([], 0)
        ]
    )
    assert state_of(rebuilt) == state_of(book)
