"""The address book: per peer, an ordered, duplicate-free list of multiaddrs, each with an expiry,
and a reference count.

Protocols, transports and the application each hold references to the peers they use
(`retain`/`release`); a peer with no references and no addresses is forgotten. Addresses are
kept as canonical binary multiaddr bytes in preference order (first added first), so a snapshot
stores them as they are and a restore only has to validate them.

Each address expires at a monotonic deadline, or never (`None`: permanent). The TTL rule is
go-libp2p's: an add only ever extends an expiry, a set sets it exactly. An expired address stays
stored until `expire` drops it, but every call given `now_ns` treats it as gone already: lookups
leave it out, and a change to a peer's addresses drops that peer's expired ones first. So what a
peer's addresses answer never depends on when `expire` last ran.

For a node's delta, the book tells which peers' rows may have changed between two instants
(`take_changed_peers`): those its calls touched, and those with an address expiring in between,
found through an `ExpiryWatch` rather than by visiting every entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import NoReturn

from node_runtime._component_checks import (
    check_int,
    check_multiaddr,
    check_ns,
    check_peer_key,
    peer_key_of,
)
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentTypeError,
    ComponentValueError,
    RefCountOverflowError,
    RefCountUnderflowError,
)
from node_runtime.errors import InvalidMultiaddrError
from node_runtime.expiry_watch import ExpiryWatch
from node_runtime.multiaddr import Multiaddr, is_multiaddr
from node_runtime.peer_key import PeerKey, PeerRef
from snapshot_schema.checks import U64_MAX

DEFAULT_MAX_ADDRESSES_PER_PEER = 32
"""A peer advertising addresses without end must not grow the book (and every snapshot) without
bound; 32 is well above what libp2p peers advertise (a handful per transport)."""

Expiry = int | None
"""A monotonic deadline in nanoseconds (a u64), or `None`: the address never expires."""

EntryRow = tuple[PeerKey, tuple[bytes, ...], int, tuple[Expiry, ...]]
"""`(peer, addresses, ref_count, expires_ns)`: one peer as `entries()` yields it."""

_NEVER = U64_MAX + 1  # later than any expiry a u64 can hold
_STALE_SLACK = 64  # stale expiry heap items allowed beyond twice the entries


class _Entry:
    # Tuples, replaced on change: snapshots share them instead of copying them. `expires` is
    # parallel to `addresses`; `earliest` is the soonest of them, so that a pass over the book
    # skips, with one comparison, every entry with nothing expired. `armed` is the time the
    # book's `ExpiryWatch` holds it at, once the book tracks changes for a node's delta.
    __slots__ = ("addresses", "armed", "earliest", "expires", "ref_count")

    def __init__(
        self,
        addresses: tuple[bytes, ...],
        expires: tuple[Expiry, ...],
        earliest: int,
        ref_count: int,
    ) -> None:
        self.addresses = addresses
        self.expires = expires
        self.earliest = earliest
        self.ref_count = ref_count
        self.armed: int | None = None

    def hold(self, addresses: tuple[bytes, ...], expires: tuple[Expiry, ...]) -> None:
        self.addresses = addresses
        self.expires = expires
        self.earliest = _earliest_of(expires)


class AddressBook(ChangeCounter):
    """Addresses (with expiries) and reference counts per peer. Refused operations change
    nothing."""

    def __init__(self, *, max_addresses_per_peer: int = DEFAULT_MAX_ADDRESSES_PER_PEER) -> None:
        self._max_addresses = check_int(
            max_addresses_per_peer, 1, U64_MAX, "max_addresses_per_peer"
        )
        self._entries: dict[PeerKey, _Entry] = {}
        # No stored expiry is earlier (it may be later: removals do not raise it). While `now`
        # is before it, nothing has expired, so `expire` and `entries(now)` skip their pass.
        self._earliest_expiry = _NEVER
        self._changed_peers: ChangedKeys[PeerKey] = ChangedKeys()
        # Each entry with an expiry after the last `take_changed_peers` instant, at the first.
        self._next_expiries: ExpiryWatch[PeerKey, _Entry] = ExpiryWatch()
        self._changes_since = 0

    @classmethod
    def from_state(
        cls,
        entries: Iterable[EntryRow],
        *,
        max_addresses_per_peer: int = DEFAULT_MAX_ADDRESSES_PER_PEER,
    ) -> AddressBook:
        """A book holding exactly these `(peer, addresses, ref_count, expires_ns)` entries, as
        `entries()` yields them. Each address is checked to be a valid binary multiaddr, each
        expiry to be a u64 or `None`, one per address; a bad value raises `ComponentValueError`
        with its path, e.g. `("entries", 3, "addresses", 1)`."""
        book = cls(max_addresses_per_peer=max_addresses_per_peer)
        limit = book._max_addresses
        kept_entries = book._entries
        earliest = _NEVER
        # Peers whose entry held nothing (so was not kept): listing one again is still a repeat.
        dropped: set[PeerKey] = set()
        for index, (peer, addresses, ref_count, expires) in enumerate(entries):
            check_peer_key(peer, "entries", index, "peer")
            if peer in kept_entries or peer in dropped:
                raise ComponentValueError("peer listed twice", ("entries", index, "peer"))
            kept = tuple(addresses)
            # Before any per-address work, so an oversized list costs nothing to refuse.
            if len(kept) > limit:
                raise ComponentValueError(
                    f"more than {limit} addresses", ("entries", index, "addresses")
                )
            # The usual case, all valid and distinct, in one pass; else find the first culprit.
            if not (all(map(is_multiaddr, kept)) and len(set(kept)) == len(kept)):
                _refuse_addresses(kept, index)
            check_int(ref_count, 0, U64_MAX, "entries", index, "ref_count")
            kept_expires = tuple(expires)
            if len(kept_expires) == len(kept) and kept_expires.count(None) == len(kept):
                soonest = _NEVER  # all permanent, the usual case: nothing more to check
            else:
                kept_expires, soonest = _checked_expires(kept_expires, len(kept), index)
            earliest = min(earliest, soonest)
            if kept or ref_count:
                kept_entries[peer] = _Entry(kept, kept_expires, soonest, ref_count)
            else:
                dropped.add(peer)
        book._earliest_expiry = earliest
        return book

    def entries(self, now_ns: int | None = None) -> Iterator[EntryRow]:
        """`(peer, addresses, ref_count, expires_ns)` sorted by peer, so equal books snapshot
        identically. With `now_ns`, addresses expired by then are left out, and so are peers
        left with no address and no reference."""
        # Rows made in insertion order (the entries' memory order), then sorted by peer alone:
        # visiting 100k entries in peer order, or comparing whole rows, misses the CPU caches
        # once per step (docs/performance.md, "Node snapshot and restore").
        if now_ns is None or check_ns(now_ns, "now_ns") < self._earliest_expiry:
            rows = [
                (peer, entry.addresses, entry.ref_count, entry.expires)
                for peer, entry in self._entries.items()
            ]
        else:
            rows = []
            for peer, entry in self._entries.items():
                if entry.earliest > now_ns:
                    rows.append((peer, entry.addresses, entry.ref_count, entry.expires))
                    continue
                addresses, expires = _unexpired(entry.addresses, entry.expires, now_ns)
                if addresses or entry.ref_count:
                    rows.append((peer, addresses, entry.ref_count, expires))
        rows.sort(key=itemgetter(0))
        return iter(rows)

    def entry_row(self, peer: PeerRef, now_ns: int) -> EntryRow | None:
        """`peer`'s row as `entries(now_ns)` yields it, or `None` when it yields none."""
        key = peer_key_of(peer, "peer")
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.earliest > check_ns(now_ns, "now_ns"):
            return (key, entry.addresses, entry.ref_count, entry.expires)
        addresses, expires = _unexpired(entry.addresses, entry.expires, now_ns)
        return (key, addresses, entry.ref_count, expires) if addresses or entry.ref_count else None

    def take_changed_peers(self, now_ns: int) -> set[PeerKey] | None:
        """The peers whose `entry_row` at `now_ns` may differ from theirs at the previous call's
        `now_ns`: those a call changed since, and those with an address expiring in between.
        `None` when that is not known (the first call; `now_ns` before the previous one): every
        row may differ. Costs in proportion to those peers, not to the book."""
        check_ns(now_ns, "now_ns")
        changed = self._changed_peers.take()
        since, self._changes_since = self._changes_since, now_ns
        watch, entries = self._next_expiries, self._entries
        if changed is None or now_ns < since:
            self._arm_all(now_ns)
            return None
        changed.update(watch.due(now_ns, entries))
        for peer in changed:
            entry = entries.get(peer)
            if entry is not None:
                watch.arm(peer, entry, _next_expiry(entry, now_ns))
        if len(watch) > 2 * len(entries) + _STALE_SLACK:
            self._arm_all(now_ns)
        return changed

    def _arm_all(self, now_ns: int) -> None:
        """Arm every entry at its soonest expiry after `now_ns` (if it has one), afresh."""
        items: list[tuple[int, PeerKey]] = []
        append = items.append
        for peer, entry in self._entries.items():
            earliest = entry.earliest
            # The usual entry has nothing expired: its soonest expiry is the one.
            expiry = (
                (earliest if earliest < _NEVER else None)
                if now_ns < earliest
                else _next_expiry(entry, now_ns)
            )
            entry.armed = expiry
            if expiry is not None:
                append((expiry, peer))
        self._next_expiries.replace(items)

    def __contains__(self, peer: object) -> bool:
        return peer in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def peers(self) -> tuple[PeerKey, ...]:
        return tuple(self._entries)

    def addresses(self, peer: PeerRef, now_ns: int | None = None) -> tuple[Multiaddr, ...]:
        """`peer`'s addresses in preference order; with `now_ns`, only those not expired by
        then."""
        entry = self._entries.get(peer_key_of(peer, "peer"))
        if entry is None:
            return ()
        stored = entry.addresses
        if now_ns is not None:
            stored, _ = _unexpired(stored, entry.expires, check_ns(now_ns, "now_ns"))
        return tuple(map(Multiaddr.from_bytes, stored))

    def ref_count(self, peer: PeerRef) -> int:
        entry = self._entries.get(peer_key_of(peer, "peer"))
        return 0 if entry is None else entry.ref_count

    def add_address(
        self,
        peer: PeerRef,
        address: Multiaddr,
        ttl_ns: int | None = None,
        *,
        now_ns: int | None = None,
    ) -> bool:
        """Append `address` to `peer`'s list, permanent (`ttl_ns=None`) or expiring `ttl_ns`
        after `now_ns`; True if it was not there (or had expired by `now_ns`).

        An address already there keeps its place, and its expiry only ever grows: to the later
        of the two, permanent if either is. A TTL of 0 adds nothing. A TTL needs `now_ns`.
        """
        key = check_peer_key(peer, "peer")
        encoded = check_multiaddr(address, "address")
        expiry = _expiry_after(ttl_ns, now_ns)
        if ttl_ns == 0:
            return False  # expired on arrival (go-libp2p ignores such an add too)
        entry = self._entries.get(key)
        addresses, expires = self._live(entry, now_ns)
        if encoded in addresses:
            position = addresses.index(encoded)
            expires = _replaced(expires, position, _later(expires[position], expiry))
            added = False
        else:
            self._check_room(addresses)
            addresses, expires = (*addresses, encoded), (*expires, expiry)
            added = True
        self._store(key, entry, addresses, expires)
        return added

    def set_address_ttl(
        self, peer: PeerRef, address: Multiaddr, ttl_ns: int | None, *, now_ns: int
    ) -> None:
        """Make `address` expire exactly `ttl_ns` after `now_ns` (`None`: never), adding it at
        the end if it is not there; a TTL of 0 removes it."""
        key = check_peer_key(peer, "peer")
        encoded = check_multiaddr(address, "address")
        expiry = _expiry_after(ttl_ns, check_ns(now_ns, "now_ns"))
        entry = self._entries.get(key)
        addresses, expires = self._live(entry, now_ns)
        if ttl_ns == 0:
            addresses, expires = _without(addresses, expires, encoded)
        elif encoded in addresses:
            expires = _replaced(expires, addresses.index(encoded), expiry)
        else:
            self._check_room(addresses)
            addresses, expires = (*addresses, encoded), (*expires, expiry)
        self._store(key, entry, addresses, expires)

    def remove_address(
        self, peer: PeerRef, address: Multiaddr, *, now_ns: int | None = None
    ) -> bool:
        """Drop `address` from `peer`'s list; False if it was not there (or had expired by
        `now_ns`)."""
        key = check_peer_key(peer, "peer")
        encoded = check_multiaddr(address, "address")
        if now_ns is not None:
            check_ns(now_ns, "now_ns")
        entry = self._entries.get(key)
        addresses, expires = self._live(entry, now_ns)
        removed = encoded in addresses
        self._store(key, entry, *_without(addresses, expires, encoded))
        return removed

    def clear_addresses(self, peer: PeerRef) -> None:
        """Drop every address of `peer`, expired or not; its references stay."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        self._store(key, entry, (), ())

    def expire(self, now_ns: int) -> int:
        """Drop every address whose expiry is at or before `now_ns`; how many. A peer left with
        no address and no reference is forgotten. Nothing due: no change, at no cost."""
        check_ns(now_ns, "now_ns")
        if now_ns < self._earliest_expiry:
            return 0
        dropped = self._rewrite_expiring(
            lambda entry: entry.earliest <= now_ns,
            lambda entry: _unexpired(entry.addresses, entry.expires, now_ns),
        )
        if dropped:
            self._changed()
        return dropped

    def rebase_expiries(self, move: Callable[[int], int | None]) -> int:
        """Map every expiry through `move` (restore's clock rule, `Rebase.expiry`), dropping
        the addresses it maps to `None`; how many it dropped. A peer left with no address and
        no reference is forgotten."""
        if self._earliest_expiry == _NEVER:
            return 0  # every address is permanent
        dropped = self._rewrite_expiring(
            lambda entry: entry.earliest != _NEVER,
            lambda entry: _moved(entry.addresses, entry.expires, move),
        )
        self._changed()
        return dropped

    def _rewrite_expiring(
        self,
        due: Callable[[_Entry], bool],
        rewrite: Callable[[_Entry], tuple[tuple[bytes, ...], tuple[Expiry, ...]]],
    ) -> int:
        """Replace the addresses and expiries of every `due` entry by `rewrite(entry)`; how
        many addresses that dropped. Forgets peers left with no address and no reference, and
        finds the soonest expiry again."""
        dropped = 0
        earliest = _NEVER
        unused: list[PeerKey] = []
        for peer, entry in self._entries.items():
            if due(entry):
                before = len(entry.addresses)
                entry.hold(*rewrite(entry))
                dropped += before - len(entry.addresses)
                self._changed_peers.add(peer)
                if not entry.addresses and entry.ref_count == 0:
                    unused.append(peer)
            earliest = min(earliest, entry.earliest)
        for peer in unused:
            del self._entries[peer]
        self._earliest_expiry = earliest
        return dropped

    def retain(self, peer: PeerRef) -> int:
        """Take a reference to `peer` (remembering it if new); the new count."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        if entry is not None and entry.ref_count == U64_MAX:
            raise RefCountOverflowError("reference count is at its maximum")
        self._changed_peer(key)
        if entry is None:
            entry = self._entries[key] = _Entry((), (), _NEVER, 0)
        entry.ref_count += 1
        return entry.ref_count

    def release(self, peer: PeerRef) -> int:
        """Give back a reference to `peer`; the new count. Below zero is refused."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        if entry is None or entry.ref_count == 0:
            raise RefCountUnderflowError("release without a matching retain")
        self._changed_peer(key)
        entry.ref_count -= 1
        self._forget_if_unused(key, entry)
        return entry.ref_count

    def forget(self, peer: PeerRef) -> None:
        key = check_peer_key(peer, "peer")
        self._changed_peer(key)
        self._entries.pop(key, None)

    def _live(
        self, entry: _Entry | None, now_ns: int | None
    ) -> tuple[tuple[bytes, ...], tuple[Expiry, ...]]:
        """`entry`'s addresses and expiries, less those expired by `now_ns` if given."""
        if entry is None:
            return (), ()
        if now_ns is None:
            return entry.addresses, entry.expires
        return _unexpired(entry.addresses, entry.expires, now_ns)

    def _check_room(self, addresses: tuple[bytes, ...]) -> None:
        if len(addresses) >= self._max_addresses:
            raise AddressLimitError(f"peer already has {self._max_addresses} addresses")

    def _store(
        self,
        peer: PeerKey,
        entry: _Entry | None,
        addresses: tuple[bytes, ...],
        expires: tuple[Expiry, ...],
    ) -> None:
        """Make `peer`'s entry hold these addresses (counting a change only if it is one), and
        forget it if it is left unused."""
        if entry is None:
            if not addresses:
                return
            entry = self._entries[peer] = _Entry((), (), _NEVER, 0)
        elif addresses == entry.addresses and expires == entry.expires:
            return
        self._changed_peer(peer)
        entry.hold(addresses, expires)
        self._earliest_expiry = min(self._earliest_expiry, entry.earliest)
        self._forget_if_unused(peer, entry)

    def _changed_peer(self, peer: PeerKey) -> None:
        self._changed()
        self._changed_peers.add(peer)

    def _forget_if_unused(self, peer: PeerKey, entry: _Entry) -> None:
        if not entry.addresses and entry.ref_count == 0:
            del self._entries[peer]


def _expiry_after(ttl_ns: int | None, now_ns: int | None) -> Expiry:
    """The expiry of an address given `ttl_ns` at `now_ns`: `None` for no TTL (permanent),
    else their sum, saturating at the largest u64."""
    if ttl_ns is None:
        if now_ns is not None:
            check_ns(now_ns, "now_ns")
        return None
    check_ns(ttl_ns, "ttl_ns")
    if now_ns is None:
        raise ComponentTypeError("a TTL needs `now_ns`, the time it counts from", ("now_ns",))
    return min(U64_MAX, check_ns(now_ns, "now_ns") + ttl_ns)


def _next_expiry(entry: _Entry, now_ns: int) -> int | None:
    """The soonest of `entry`'s expiries after `now_ns`, if any."""
    if entry.earliest > now_ns:
        return None if entry.earliest == _NEVER else entry.earliest
    return min(
        (expiry for expiry in entry.expires if expiry is not None and expiry > now_ns),
        default=None,
    )


def _later(old: Expiry, new: Expiry) -> Expiry:
    return None if old is None or new is None else max(old, new)


def _earliest_of(expires: tuple[Expiry, ...]) -> int:
    """The soonest of `expires`; `_NEVER` when every address is permanent."""
    if expires.count(None) == len(expires):
        return _NEVER
    return min(expiry for expiry in expires if expiry is not None)


def _replaced(expires: tuple[Expiry, ...], position: int, expiry: Expiry) -> tuple[Expiry, ...]:
    if expires[position] == expiry:
        return expires
    return (*expires[:position], expiry, *expires[position + 1 :])


def _without(
    addresses: tuple[bytes, ...], expires: tuple[Expiry, ...], address: bytes
) -> tuple[tuple[bytes, ...], tuple[Expiry, ...]]:
    if address not in addresses:
        return addresses, expires
    position = addresses.index(address)
    return (
        (*addresses[:position], *addresses[position + 1 :]),
        (*expires[:position], *expires[position + 1 :]),
    )


def _moved(
    addresses: tuple[bytes, ...], expires: tuple[Expiry, ...], move: Callable[[int], int | None]
) -> tuple[tuple[bytes, ...], tuple[Expiry, ...]]:
    """The addresses whose expiry `move` maps to a time (permanent ones kept as they are), with
    their moved expiries."""
    kept_addresses: list[bytes] = []
    kept_expires: list[Expiry] = []
    for address, expiry in zip(addresses, expires, strict=True):
        moved = None if expiry is None else move(expiry)
        if expiry is None or moved is not None:
            kept_addresses.append(address)
            kept_expires.append(moved)
    return tuple(kept_addresses), tuple(kept_expires)


def _unexpired(
    addresses: tuple[bytes, ...], expires: tuple[Expiry, ...], now_ns: int
) -> tuple[tuple[bytes, ...], tuple[Expiry, ...]]:
    """The addresses (and their expiries) not expired by `now_ns`: the same tuples if none is."""
    if expires.count(None) == len(expires):
        return addresses, expires
    kept = [
        position for position, expiry in enumerate(expires) if expiry is None or expiry > now_ns
    ]
    if len(kept) == len(expires):
        return addresses, expires
    return (
        tuple(addresses[position] for position in kept),
        tuple(expires[position] for position in kept),
    )


def _checked_expires(
    kept: tuple[Expiry, ...], count: int, index: int
) -> tuple[tuple[Expiry, ...], int]:
    """Entry `index`'s expiries, checked (one per address, each a u64 or `None`), and the
    soonest of them."""
    if len(kept) != count:
        raise ComponentValueError(
            f"expected {count} expiries, one per address, got {len(kept)}",
            ("entries", index, "expires_ns"),
        )
    for position, expiry in enumerate(kept):
        if expiry is not None:
            check_ns(expiry, "entries", index, "expires_ns", position)
    return kept, _earliest_of(kept)


def _refuse_addresses(addresses: tuple[bytes, ...], index: int) -> NoReturn:
    """Raise for the first address of entry `index` that is invalid or a repeat."""
    seen: set[bytes] = set()
    for position, address in enumerate(addresses):
        where = ("entries", index, "addresses", position)
        try:
            Multiaddr.from_bytes(address)
        except InvalidMultiaddrError as error:
            raise ComponentValueError(str(error), where) from None
        if address in seen:
            raise ComponentValueError("duplicate address", where)
        seen.add(address)
    raise AssertionError("no invalid address to report")  # the caller found one
