"""What the components record for a node's delta: the keys their calls change (`ChangedKeys`),
the peers whose addresses expire in between (`ExpiryWatch`), the outbound queue's front and
back."""

import random

from node_runtime import (
    AddressBook,
    BackoffPolicy,
    BackoffTable,
    Counters,
    ExtensionTable,
    IpList,
    Multiaddr,
    OutboundQueue,
    PeerGovernor,
    PeerRecordBook,
)
from node_runtime.changed_keys import ChangedKeys
from node_runtime.expiry_watch import ExpiryWatch

PEER_A = bytes([0x00, 0x01, 1])
PEER_B = bytes([0x00, 0x01, 2])
PEER_C = bytes([0x00, 0x01, 3])
ADDRESS = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")
OTHER_ADDRESS = Multiaddr.from_string("/ip4/10.0.0.2/tcp/4001")


def test_changed_keys_are_unknown_until_first_taken_and_recorded_from_then_on() -> None:
    keys: ChangedKeys[str] = ChangedKeys()
    keys.add("before")

    first = keys.take()
    keys.add("a")
    keys.add("b")
    keys.add("a")

    assert first is None
    assert keys.take() == {"a", "b"}
    assert keys.take() == set()


def test_changed_keys_of_a_collection_replaced_whole_are_unknown_once() -> None:
    keys: ChangedKeys[str] = ChangedKeys()
    keys.take()
    keys.add("a")
    keys.replaced()
    keys.add("b")

    assert keys.take() is None
    keys.add("c")
    assert keys.take() == {"c"}


class Entry:
    def __init__(self) -> None:
        self.armed: int | None = None


def test_an_expiry_watch_gives_each_entry_due_once_at_its_latest_armed_time() -> None:
    entries = {key: Entry() for key in "abcd"}
    watch: ExpiryWatch[str, Entry] = ExpiryWatch()
    entries["a"].armed, entries["b"].armed = 10, 30
    watch.replace([(10, "a"), (30, "b")])
    watch.arm("a", entries["a"], 20)  # rearmed later: not due at 10
    watch.arm("c", entries["c"], 15)
    watch.arm("b", entries["b"], None)  # disarmed
    watch.arm("d", entries["d"], 18)
    del entries["d"]  # gone from the owner's map

    assert watch.due(12, entries) == []
    assert watch.due(25, entries) == ["c", "a"]
    assert watch.due(100, entries) == []
    assert len(watch) == 0


def test_an_address_book_refreshed_without_end_keeps_its_expiry_heap_near_its_size() -> None:
    book = AddressBook()
    book.add_address(PEER_A, ADDRESS, 10**12, now_ns=0)
    book.take_changed_peers(0)
    for now in range(1, 1_000):
        book.set_address_ttl(PEER_A, ADDRESS, 10**12, now_ns=now)
        assert book.take_changed_peers(now) == {PEER_A}

    assert len(book._next_expiries) <= 2 + 64  # stale items are dropped once they pile up
    assert book.take_changed_peers(10**12 + 998) == set()
    assert book.take_changed_peers(10**12 + 999) == {PEER_A}


def test_the_address_book_names_peers_it_changed_and_peers_whose_addresses_expired() -> None:
    book = AddressBook()
    book.add_address(PEER_A, ADDRESS, 100, now_ns=0)
    book.add_address(PEER_B, ADDRESS, 50, now_ns=0)
    book.add_address(PEER_B, OTHER_ADDRESS, 500, now_ns=0)
    book.add_address(PEER_C, ADDRESS)

    first = book.take_changed_peers(10)
    book.retain(PEER_C)
    at_60 = book.take_changed_peers(60)  # B's first address expired at 50
    at_80 = book.take_changed_peers(80)
    at_600 = book.take_changed_peers(600)  # A's at 100, B's second at 500

    assert first is None
    assert at_60 == {PEER_B, PEER_C}
    assert at_80 == set()
    assert at_600 == {PEER_A, PEER_B}


def test_the_address_book_cannot_tell_what_changed_when_time_goes_back() -> None:
    book = AddressBook()
    book.add_address(PEER_A, ADDRESS, 100, now_ns=0)
    book.take_changed_peers(200)

    assert book.take_changed_peers(50) is None  # the address is live again at 50


def test_an_address_book_row_leaves_out_expired_addresses_as_entries_does() -> None:
    book = AddressBook()
    book.add_address(PEER_A, ADDRESS, 100, now_ns=0)
    book.add_address(PEER_A, OTHER_ADDRESS)
    book.add_address(PEER_B, ADDRESS, 100, now_ns=0)

    assert book.entry_row(PEER_A, 50) == next(book.entries(50))
    assert book.entry_row(PEER_A, 150) == next(book.entries(150))
    assert book.entry_row(PEER_B, 150) is None
    assert book.entry_row(PEER_C, 0) is None


def test_addresses_dropped_by_expire_count_as_changes_of_their_peers() -> None:
    book = AddressBook()
    book.add_address(PEER_A, ADDRESS, 100, now_ns=0)
    book.add_address(PEER_B, ADDRESS)
    book.take_changed_peers(0)

    book.expire(1_000)  # expired at a time past the next take's: only the call can tell
    assert book.take_changed_peers(10) == {PEER_A}


def test_keyed_components_name_the_keys_their_calls_changed() -> None:
    counters, extensions = Counters(), ExtensionTable()
    records, backoff = PeerRecordBook(), BackoffTable(BackoffPolicy(), random.Random(0))
    for component in (counters, extensions, records, backoff):
        assert take(component) is None
    counters.increment("sent")
    extensions.set("app", b"x")
    extensions.remove("app")
    records.record_latency(PEER_A, 10)
    records.forget(PEER_B)  # held nothing: no change
    backoff.record_failure(PEER_A, 0)
    backoff.record_success(PEER_B)

    assert take(counters) == {"sent"}
    assert take(extensions) == {"app"}
    assert take(records) == {PEER_A}
    assert take(backoff) == {PEER_A, PEER_B}


def test_the_governor_names_what_changed_in_each_of_its_lists() -> None:
    governor = PeerGovernor()
    first = governor.take_changes()
    governor.block(PEER_A)
    governor.record_failure(PEER_B, 0)
    governor.add_ip_network(IpList.DENY, "10.0.0.0/8")
    governor.set_allowlist([PEER_C])

    changes = governor.take_changes()

    assert (first.blocklist, first.allowlist, first.health, first.ip_lists) == (None,) * 4
    assert changes.blocklist == {PEER_A}
    assert changes.allowlist is None  # replaced whole
    assert changes.health == {PEER_B}
    assert changes.ip_lists == {IpList.DENY}
    governor.allow(PEER_A)
    assert governor.take_changes().allowlist == {PEER_A}
    assert governor.is_listed(PEER_A)
    assert not governor.is_listed(PEER_B)


def test_the_outbound_queue_counts_what_it_gave_out_and_gives_its_newest_entries() -> None:
    queue = OutboundQueue()
    for envelope in (b"a", b"b", b"c", b"d"):
        queue.enqueue(envelope)
    queue.pop()
    queue.drain(2)
    queue.drain(5)  # only one left
    queue.enqueue(b"e")
    queue.enqueue(b"f")

    assert queue.taken == 4
    assert [entry.envelope for entry in queue.newest(1)] == [b"f"]
    assert [entry.envelope for entry in queue.newest(9)] == [b"e", b"f"]


def take(component: Counters | ExtensionTable | PeerRecordBook | BackoffTable) -> object:
    if isinstance(component, Counters):
        return component.take_changed_names()
    if isinstance(component, ExtensionTable):
        return component.take_changed_namespaces()
    return component.take_changed_peers()
