"""The address book: per peer, an ordered, duplicate-free list of multiaddrs and a reference count.

Protocols, transports and the application each hold references to the peers they use
(`retain`/`release`); a peer with no references and no addresses is forgotten. Addresses are
kept as canonical binary multiaddr bytes in preference order (first added first), so a snapshot
stores them as they are and a restore only has to validate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import NoReturn

from node_runtime._component_checks import (
    check_int,
    check_multiaddr,
    check_peer_key,
    peer_key_of,
)
from node_runtime.change_counter import ChangeCounter
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentValueError,
    RefCountOverflowError,
    RefCountUnderflowError,
)
from node_runtime.errors import InvalidMultiaddrError
from node_runtime.multiaddr import Multiaddr, is_multiaddr
from node_runtime.peer_key import PeerKey, PeerRef
from snapshot_schema.checks import U64_MAX

DEFAULT_MAX_ADDRESSES_PER_PEER = 32
"""A peer advertising addresses without end must not grow the book (and every snapshot) without
bound; 32 is well above what libp2p peers advertise (a handful per transport)."""


class _Entry:
    # `addresses` is a tuple, replaced on change: snapshots share it instead of copying it.
    __slots__ = ("addresses", "ref_count")

    def __init__(self, addresses: tuple[bytes, ...], ref_count: int) -> None:
        self.addresses = addresses
        self.ref_count = ref_count


class AddressBook(ChangeCounter):
    """Addresses and reference counts per peer. Refused operations change nothing."""

    def __init__(self, *, max_addresses_per_peer: int = DEFAULT_MAX_ADDRESSES_PER_PEER) -> None:
        self._max_addresses = check_int(
            max_addresses_per_peer, 1, U64_MAX, "max_addresses_per_peer"
        )
        self._entries: dict[PeerKey, _Entry] = {}

    @classmethod
    def from_state(
        cls,
        entries: Iterable[tuple[PeerKey, Iterable[bytes], int]],
        *,
        max_addresses_per_peer: int = DEFAULT_MAX_ADDRESSES_PER_PEER,
    ) -> AddressBook:
        """A book holding exactly these `(peer, addresses, ref_count)` entries, as `entries()`
        yields them. Each address is checked to be a valid binary multiaddr; a bad value raises
        `ComponentValueError` with its path, e.g. `("entries", 3, "addresses", 1)`."""
        book = cls(max_addresses_per_peer=max_addresses_per_peer)
        limit = book._max_addresses
        kept_entries = book._entries
        # Peers whose entry held nothing (so was not kept): listing one again is still a repeat.
        dropped: set[PeerKey] = set()
        for index, (peer, addresses, ref_count) in enumerate(entries):
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
            if kept or ref_count:
                kept_entries[peer] = _Entry(kept, ref_count)
            else:
                dropped.add(peer)
        return book

    def entries(self) -> Iterator[tuple[PeerKey, tuple[bytes, ...], int]]:
        """`(peer, addresses, ref_count)` sorted by peer, so equal books snapshot identically."""
        # Rows made in insertion order (the entries' memory order), then sorted by peer alone:
        # visiting 100k entries in peer order, or comparing whole rows, misses the CPU caches
        # once per step (docs/performance.md, "Node snapshot and restore").
        rows = [(peer, entry.addresses, entry.ref_count) for peer, entry in self._entries.items()]
        rows.sort(key=itemgetter(0))
        return iter(rows)

    def __contains__(self, peer: object) -> bool:
        return peer in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def peers(self) -> tuple[PeerKey, ...]:
        return tuple(self._entries)

    def addresses(self, peer: PeerRef) -> tuple[Multiaddr, ...]:
        entry = self._entries.get(peer_key_of(peer, "peer"))
        return () if entry is None else tuple(map(Multiaddr.from_bytes, entry.addresses))

    def ref_count(self, peer: PeerRef) -> int:
        entry = self._entries.get(peer_key_of(peer, "peer"))
        return 0 if entry is None else entry.ref_count

    def add_address(self, peer: PeerRef, address: Multiaddr) -> bool:
        """Append `address` to `peer`'s list; False (and no change) if it is already there."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        encoded = check_multiaddr(address, "address")
        if entry is not None and encoded in entry.addresses:
            return False
        if entry is not None and len(entry.addresses) >= self._max_addresses:
            raise AddressLimitError(f"peer already has {self._max_addresses} addresses")
        self._changed()
        if entry is None:
            self._entries[key] = _Entry((encoded,), 0)
        else:
            entry.addresses = (*entry.addresses, encoded)
        return True

    def remove_address(self, peer: PeerRef, address: Multiaddr) -> bool:
        """Drop `address` from `peer`'s list; False if it was not there."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        encoded = check_multiaddr(address, "address")
        if entry is None or encoded not in entry.addresses:
            return False
        self._changed()
        entry.addresses = tuple(kept for kept in entry.addresses if kept != encoded)
        self._forget_if_unused(key, entry)
        return True

    def retain(self, peer: PeerRef) -> int:
        """Take a reference to `peer` (remembering it if new); the new count."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        if entry is not None and entry.ref_count == U64_MAX:
            raise RefCountOverflowError("reference count is at its maximum")
        self._changed()
        if entry is None:
            entry = self._entries[key] = _Entry((), 0)
        entry.ref_count += 1
        return entry.ref_count

    def release(self, peer: PeerRef) -> int:
        """Give back a reference to `peer`; the new count. Below zero is refused."""
        key = check_peer_key(peer, "peer")
        entry = self._entries.get(key)
        if entry is None or entry.ref_count == 0:
            raise RefCountUnderflowError("release without a matching retain")
        self._changed()
        entry.ref_count -= 1
        self._forget_if_unused(key, entry)
        return entry.ref_count

    def forget(self, peer: PeerRef) -> None:
        key = check_peer_key(peer, "peer")
        self._changed()
        self._entries.pop(key, None)

    def _forget_if_unused(self, peer: PeerKey, entry: _Entry) -> None:
        if not entry.addresses and entry.ref_count == 0:
            del self._entries[peer]


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
