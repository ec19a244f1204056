"""The peer record book: what the node knows of each peer besides its addresses.

Per peer (any peer, with or without addresses in the address book): its public key, the
protocols it supports, typed metadata, a latency moving average, and its latest signed peer
record (a libp2p envelope). A snapshot holds each as a `PeerRecordSnapshot` row. Values are
checked where they enter, with the snapshot schema's own checks, and bounded by
`PeerRecordLimits`, so a peer cannot grow the book (and every snapshot) without end. A record
left holding nothing is dropped.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import TypeAlias

import attrs

from node_runtime._component_checks import (
    check_int,
    check_name,
    check_nonempty_bytes,
    check_ns,
    check_peer_key,
    peer_key_of,
)
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import (
    ComponentError,
    ComponentTypeError,
    ComponentValueError,
    PeerRecordLimitError,
)
from node_runtime.peer_key import PeerKey, PeerRef
from node_runtime.peer_record_values import (
    are_canonical_names,
    is_canonical_metadata,
    is_inlined_ed25519_key,
    size_of,
)
from node_runtime.signed_record import verify_signed_peer_record
from snapshot_schema.checks import U64_MAX
from snapshot_schema.errors import PathElement
from snapshot_schema.peer_record_checks import (
    MetadataValue,
    key_mismatch,
    metadata_value_problem,
    public_key_problem,
)

DEFAULT_MAX_PROTOCOLS_PER_PEER = 1024
"""go-libp2p's protocol book keeps at most 1024 protocols per peer; real peers list a few dozen."""
DEFAULT_MAX_METADATA_PER_PEER = 64
"""Metadata is what the host notes of a peer (agent and protocol versions, a few scores)."""
DEFAULT_MAX_METADATA_VALUE_SIZE = 4096
"""Bytes of one metadata value: UTF-8 bytes of a `str`, length of `bytes`."""
DEFAULT_MAX_NAME_SIZE = 1024
"""UTF-8 bytes of a protocol ID or a metadata key (`/ipfs/kad/1.0.0` is 15)."""
DEFAULT_MAX_SIGNED_RECORD_SIZE = 8192
"""go-libp2p's identify reads a signed peer record from a message of at most 8 KiB."""

LATENCY_SMOOTHING_TENTHS = 1
"""Each latency sample moves the average a tenth of the way to it: py-libp2p's (and
go-libp2p's) `LATENCY_EWMA_SMOOTHING` of 0.1, as an exact fraction of integer nanoseconds."""

Metadata: TypeAlias = tuple[tuple[str, MetadataValue], ...]
PeerRecordRow: TypeAlias = tuple[
    PeerKey, bytes | None, tuple[str, ...], Metadata, int | None, bytes | None
]
"""`(peer, public_key, protocols, metadata, latency_ns, signed_record)`, as a snapshot's row."""

_METADATA_TYPES = (str, int, float, bool, bytes, type(None))


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_int(value, 1, U64_MAX, attribute.name)


@attrs.frozen
class PeerRecordLimits:
    """How much a `PeerRecordBook` keeps per peer; each at least 1. Past a limit, an operation
    raises `PeerRecordLimitError` and a restore refuses the snapshot (a signed record too large
    is only left out: see `PeerRecordBook.from_state`)."""

    max_protocols: int = attrs.field(default=DEFAULT_MAX_PROTOCOLS_PER_PEER, validator=_positive)
    max_metadata: int = attrs.field(default=DEFAULT_MAX_METADATA_PER_PEER, validator=_positive)
    max_metadata_value_size: int = attrs.field(
        default=DEFAULT_MAX_METADATA_VALUE_SIZE, validator=_positive
    )
    max_name_size: int = attrs.field(default=DEFAULT_MAX_NAME_SIZE, validator=_positive)
    max_signed_record_size: int = attrs.field(
        default=DEFAULT_MAX_SIGNED_RECORD_SIZE, validator=_positive
    )


class _Record:
    # Tuples, replaced on change: snapshots share them instead of copying them.
    __slots__ = ("latency_ns", "metadata", "protocols", "public_key", "signed_record", "signed_seq")

    def __init__(self) -> None:
        self.public_key: bytes | None = None
        self.protocols: tuple[str, ...] = ()
        self.metadata: Metadata = ()  # sorted by key
        self.latency_ns: int | None = None
        self.signed_record: bytes | None = None
        self.signed_seq = 0  # the held signed record's seq (0 when there is none)

    def is_empty(self) -> bool:
        return (
            self.public_key is None
            and not self.protocols
            and not self.metadata
            and self.latency_ns is None
            and self.signed_record is None
        )


class PeerRecordBook(ChangeCounter):
    """Public keys, protocols, metadata, latency and signed records per peer. Refused
    operations change nothing; operations that find nothing to change do not count as a
    change."""

    def __init__(self, limits: PeerRecordLimits | None = None) -> None:
        if limits is not None and type(limits) is not PeerRecordLimits:
            raise ComponentTypeError(
                f"expected `PeerRecordLimits`, got `{type(limits).__name__}`", ("limits",)
            )
        self._limits = limits if limits is not None else PeerRecordLimits()
        self._records: dict[PeerKey, _Record] = {}
        self._changed_peers: ChangedKeys[PeerKey] = ChangedKeys()

    @classmethod
    def from_state(
        cls,
        entries: Iterable[PeerRecordRow],
        *,
        limits: PeerRecordLimits | None = None,
        on_refused_signed_record: Callable[[PeerKey, ComponentError], object] | None = None,
    ) -> PeerRecordBook:
        """A book holding exactly these rows, as `entries()` yields them.

        Every value is checked as the operations check it; a bad one raises
        `ComponentValueError` with its path, e.g. `("entries", 3, "metadata", 1, "value")`.
        Each signed record is verified (signature, and that it is the row's peer's). One that
        fails verification or is larger than the limit raises too, unless
        `on_refused_signed_record` is given: it is then told `(peer, error)` and the record is
        kept without it.
        """
        book = cls(limits)
        limits_ = book._limits
        records = book._records
        protocol_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Peers whose row held nothing (so was not kept): listing one again is still a repeat.
        dropped: set[PeerKey] = set()
        for index, row in enumerate(entries):
            peer, public_key, protocols, metadata, latency_ns, signed_record = row
            check_peer_key(peer, "entries", index, "peer")
            if peer in records or peer in dropped:
                raise ComponentValueError("peer listed twice", ("entries", index, "peer"))
            record = _Record()
            if public_key is not None:
                record.public_key = (
                    public_key
                    if is_inlined_ed25519_key(peer, public_key)
                    else _check_public_key(peer, public_key, "entries", index, "public_key")
                )
            # The usual row is canonical already and kept as it is; any other is checked value
            # by value, which names the culprit. Peers running the same software list the same
            # protocols: each such list is held once, however many peers list it.
            if are_canonical_names(protocols, limits_.max_protocols, limits_.max_name_size):
                record.protocols = protocol_sets.setdefault(protocols, protocols)
            else:
                record.protocols = book._protocol_set(
                    protocols, (), "entries", index, "protocols", restoring=True
                )
            record.metadata = (
                metadata
                if is_canonical_metadata(
                    metadata,
                    limits_.max_metadata,
                    limits_.max_name_size,
                    limits_.max_metadata_value_size,
                )
                else book._metadata_of(metadata, index)
            )
            if latency_ns is not None:
                record.latency_ns = check_ns(latency_ns, "entries", index, "latency_ns")
            if signed_record is not None:
                where = ("entries", index, "signed_record")
                check_nonempty_bytes(signed_record, *where)
                try:
                    record.signed_seq = book._verified_seq(signed_record, peer)
                    record.signed_record = signed_record
                except (ComponentValueError, PeerRecordLimitError) as error:
                    if on_refused_signed_record is None:
                        reason = error.reason if isinstance(error, ComponentValueError) else error
                        raise ComponentValueError(str(reason), where) from error
                    on_refused_signed_record(peer, error)
            if record.is_empty():
                dropped.add(peer)
            else:
                records[peer] = record
        return book

    @property
    def limits(self) -> PeerRecordLimits:
        return self._limits

    def entries(self) -> Iterator[PeerRecordRow]:
        """Every record as a snapshot row, sorted by peer, so equal books snapshot identically."""
        rows = [_row(peer, record) for peer, record in self._records.items()]
        rows.sort(key=itemgetter(0))
        return iter(rows)

    def entry_row(self, peer: PeerRef) -> PeerRecordRow | None:
        """`peer`'s row as `entries()` yields it, or `None` when the book holds no record of it."""
        key = peer_key_of(peer, "peer")
        record = self._records.get(key)
        return None if record is None else _row(key, record)

    def take_changed_peers(self) -> set[PeerKey] | None:
        """The peers whose record changed since the previous call; `None` on the first call."""
        return self._changed_peers.take()

    def __contains__(self, peer: object) -> bool:
        return peer in self._records

    def __len__(self) -> int:
        return len(self._records)

    def peers(self) -> tuple[PeerKey, ...]:
        return tuple(self._records)

    def forget(self, peer: PeerRef) -> None:
        """Drop everything known of `peer`."""
        key = check_peer_key(peer, "peer")
        if self._records.pop(key, None) is not None:
            self._changed()
            self._changed_peers.add(key)

    # Public keys.

    def public_key(self, peer: PeerRef) -> bytes | None:
        """`peer`'s public key as a libp2p `PublicKey` protobuf, if known."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return None if record is None else record.public_key

    def set_public_key(self, peer: PeerRef, key: bytes) -> bool:
        """Remember `peer`'s public key (`PublicKey` protobuf bytes); False if already held.

        Refused (`ComponentValueError`): bytes that are no canonical `PublicKey` protobuf, and a
        key that does not match the PeerId where the PeerId embeds it (identity multihash) or
        hashes it (sha2-256).
        """
        peer_key = check_peer_key(peer, "peer")
        checked = _check_public_key(peer_key, key, "key")
        record = self._records.get(peer_key)
        if record is not None and record.public_key == checked:
            return False
        self._edit(peer_key).public_key = checked
        return True

    # Protocols.

    def protocols(self, peer: PeerRef) -> tuple[str, ...]:
        """The protocols `peer` supports, sorted."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return () if record is None else record.protocols

    def supports(self, peer: PeerRef, protocol: str) -> bool:
        if type(protocol) is not str:
            raise ComponentTypeError(
                f"expected `str`, got `{type(protocol).__name__}`", ("protocol",)
            )
        protocols = self.protocols(peer)
        index = bisect.bisect_left(protocols, protocol)
        return index < len(protocols) and protocols[index] == protocol

    def add_protocols(self, peer: PeerRef, protocols: Iterable[str]) -> bool:
        """Add `protocols` to those `peer` supports; False if it supported them all already."""
        peer_key = check_peer_key(peer, "peer")
        held = self.protocols(peer_key)
        return self._set_protocols(peer_key, self._protocol_set(protocols, held, "protocols"))

    def remove_protocols(self, peer: PeerRef, protocols: Iterable[str]) -> bool:
        """Remove `protocols` from those `peer` supports; False if it supported none of them."""
        peer_key = check_peer_key(peer, "peer")
        removed = set(self._protocol_set(protocols, (), "protocols", limited=False))
        kept = tuple(protocol for protocol in self.protocols(peer_key) if protocol not in removed)
        return self._set_protocols(peer_key, kept)

    def set_protocols(self, peer: PeerRef, protocols: Iterable[str]) -> bool:
        """Make `protocols` (repeats count once) exactly those `peer` supports; False if they
        were already."""
        peer_key = check_peer_key(peer, "peer")
        return self._set_protocols(peer_key, self._protocol_set(protocols, (), "protocols"))

    def _set_protocols(self, peer: PeerKey, protocols: tuple[str, ...]) -> bool:
        if protocols == self.protocols(peer):
            return False
        self._edit(peer).protocols = protocols
        self._drop_if_empty(peer)
        return True

    def _protocol_set(
        self,
        protocols: Iterable[str],
        held: tuple[str, ...],
        *path: PathElement,
        restoring: bool = False,
        limited: bool = True,
    ) -> tuple[str, ...]:
        """`held` and `protocols`, checked, sorted and each once; within the limit unless not
        `limited` (protocols to remove). A restored row must not list a protocol twice."""
        if isinstance(protocols, str | bytes) or not isinstance(protocols, Iterable):
            raise ComponentTypeError(
                f"expected an iterable of protocol IDs, got `{type(protocols).__name__}`", path
            )
        merged = set(held)
        for index, protocol in enumerate(protocols):
            where = (*path, index)
            self._check_name(protocol, *where)
            if restoring and protocol in merged:
                raise ComponentValueError("duplicate protocol", where)
            merged.add(protocol)
        limit = self._limits.max_protocols
        if limited and len(merged) > limit:
            raise _limit_error(f"more than {limit} protocols", path, restoring=restoring)
        return tuple(sorted(merged))

    # Metadata.

    def metadata(self, peer: PeerRef) -> dict[str, MetadataValue]:
        """A copy of `peer`'s metadata."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return {} if record is None else dict(record.metadata)

    def get_metadata(self, peer: PeerRef, key: str) -> MetadataValue:
        """The value stored under `key` for `peer`, of the type it was put with; `KeyError`
        when there is none (`None` is a value)."""
        record = self._records.get(peer_key_of(peer, "peer"))
        for stored_key, value in () if record is None else record.metadata:
            if stored_key == key:
                return value
        raise KeyError(key)

    def put_metadata(self, peer: PeerRef, key: str, value: MetadataValue) -> None:
        """Store `value` under `key` for `peer`, its type kept exactly (`True` stays a `bool`,
        `1.0` a `float`).

        Keys are non-empty `str`. Values are `str`, `int` (-2**63..2**64-1), `float` (not NaN,
        not -0.0), `bool`, `bytes` or `None`; anything else is refused (`ComponentTypeError`
        for another type, `ComponentValueError` for a value out of its domain).
        """
        peer_key = check_peer_key(peer, "peer")
        self._check_name(key, "key")
        self._check_metadata_value(value, "value")
        held = self.metadata(peer_key)
        if key in held and _same(held[key], value):
            return
        if key not in held and len(held) >= self._limits.max_metadata:
            raise PeerRecordLimitError(
                f"peer already has {self._limits.max_metadata} metadata entries"
            )
        held[key] = value
        self._edit(peer_key).metadata = tuple(sorted(held.items(), key=itemgetter(0)))

    def delete_metadata(self, peer: PeerRef, key: str) -> bool:
        """Delete `key` from `peer`'s metadata; False if it was not there."""
        peer_key = check_peer_key(peer, "peer")
        record = self._records.get(peer_key)
        if record is None or all(stored_key != key for stored_key, _ in record.metadata):
            return False
        self._edit(peer_key).metadata = tuple(pair for pair in record.metadata if pair[0] != key)
        self._drop_if_empty(peer_key)
        return True

    def _metadata_of(self, pairs: Iterable[tuple[str, MetadataValue]], index: int) -> Metadata:
        """A snapshot row's metadata, checked: pairs, keys each once, within the limits."""
        checked: dict[str, MetadataValue] = {}
        for position, pair in enumerate(pairs):
            where = ("entries", index, "metadata", position)
            if type(pair) is not tuple or len(pair) != 2:
                raise ComponentValueError("expected a (key, value) pair", where)
            key, value = pair
            self._check_name(key, *where, "key")
            if key in checked:
                raise ComponentValueError("duplicate metadata key", (*where, "key"))
            self._check_metadata_value(value, *where, "value", restoring=True)
            checked[key] = value
        limit = self._limits.max_metadata
        if len(checked) > limit:
            raise ComponentValueError(
                f"more than {limit} metadata entries", ("entries", index, "metadata")
            )
        return tuple(sorted(checked.items(), key=itemgetter(0)))

    def _check_metadata_value(
        self, value: MetadataValue, *path: PathElement, restoring: bool = False
    ) -> None:
        if type(value) not in _METADATA_TYPES:
            raise ComponentTypeError(
                "expected a metadata value (str, int, float, bool, bytes or None), "
                f"got `{type(value).__name__}`",
                path,
            )
        problem = metadata_value_problem(value)
        if problem is not None:
            raise ComponentValueError(problem, path)
        size = size_of(value) if isinstance(value, str | bytes) else 0
        limit = self._limits.max_metadata_value_size
        if size > limit:
            raise _limit_error(
                f"a metadata value of {size} bytes exceeds the {limit}-byte limit",
                path,
                restoring=restoring,
            )

    # Latency.

    def latency_ns(self, peer: PeerRef) -> int | None:
        """`peer`'s latency moving average in nanoseconds, if any sample was recorded."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return None if record is None else record.latency_ns

    def record_latency(self, peer: PeerRef, sample_ns: int) -> int:
        """Fold a latency sample into `peer`'s moving average; the new average.

        The first sample sets it; each later one moves it a tenth of the way to the sample
        (`LATENCY_SMOOTHING_TENTHS`), rounded to the nearest nanosecond, halves up.
        """
        peer_key = check_peer_key(peer, "peer")
        check_ns(sample_ns, "sample_ns")
        previous = self.latency_ns(peer_key)
        average = (
            sample_ns
            if previous is None
            else (
                (10 - LATENCY_SMOOTHING_TENTHS) * previous
                + LATENCY_SMOOTHING_TENTHS * sample_ns
                + 5
            )
            // 10
        )
        if average != previous:
            self._edit(peer_key).latency_ns = average
        return average

    def set_latency(self, peer: PeerRef, latency_ns: int | None) -> bool:
        """Make `peer`'s latency average exactly `latency_ns` (`None`: no sample); False if it
        held that already. For a host that keeps its own average (py-libp2p's peerstore) and
        mirrors it here."""
        peer_key = check_peer_key(peer, "peer")
        if latency_ns is not None:
            check_ns(latency_ns, "latency_ns")
        if latency_ns == self.latency_ns(peer_key):
            return False
        self._edit(peer_key).latency_ns = latency_ns
        self._drop_if_empty(peer_key)
        return True

    # Signed peer records.

    def signed_record(self, peer: PeerRef) -> bytes | None:
        """The envelope of `peer`'s latest signed peer record, if one was accepted."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return None if record is None else record.signed_record

    def signed_record_seq(self, peer: PeerRef) -> int | None:
        """The sequence number of `peer`'s held signed peer record, if any."""
        record = self._records.get(peer_key_of(peer, "peer"))
        return None if record is None or record.signed_record is None else record.signed_seq

    def consume_signed_record(self, peer: PeerRef, envelope: bytes) -> bool:
        """Keep `envelope`, a libp2p signed envelope holding `peer`'s peer record, as its
        latest; True if kept. False (and nothing changes) when a record with the same or a
        higher seq is already held: a newer record supersedes an older one (libp2p's rule), and
        a peer re-sending the record held changes nothing.

        Refused: an envelope that does not verify or is another peer's (`SignedRecordError`, a
        `ComponentValueError`); one larger than `limits.max_signed_record_size`
        (`PeerRecordLimitError`).
        """
        peer_key = check_peer_key(peer, "peer")
        check_nonempty_bytes(envelope, "envelope")
        seq = self._verified_seq(envelope, peer_key)
        held = self._records.get(peer_key)
        if held is not None and held.signed_record is not None and seq <= held.signed_seq:
            return False
        record = self._edit(peer_key)
        record.signed_record = envelope
        record.signed_seq = seq
        return True

    def _verified_seq(self, envelope: bytes, peer: PeerKey) -> int:
        """The seq of `peer`'s signed record `envelope`, once found in bounds and verified."""
        limit = self._limits.max_signed_record_size
        if len(envelope) > limit:  # before verifying: an oversized one costs nothing to refuse
            raise PeerRecordLimitError(
                f"a signed record of {len(envelope)} bytes exceeds the {limit}-byte limit"
            )
        return verify_signed_peer_record(envelope, expected_peer=peer).seq

    # Shared steps.

    def _check_name(self, name: str, *path: PathElement) -> None:
        """A protocol ID or metadata key: a non-empty `str`, within `max_name_size` bytes."""
        check_name(name, *path)
        size, limit = size_of(name), self._limits.max_name_size
        if size > limit:
            raise ComponentValueError(f"{size} bytes exceed the {limit}-byte limit", path)

    def _edit(self, peer: PeerKey) -> _Record:
        """`peer`'s record, made if new, for a change that is about to happen."""
        self._changed()
        self._changed_peers.add(peer)
        record = self._records.get(peer)
        if record is None:
            record = self._records[peer] = _Record()
        return record

    def _drop_if_empty(self, peer: PeerKey) -> None:
        record = self._records.get(peer)
        if record is not None and record.is_empty():
            del self._records[peer]


def _row(peer: PeerKey, record: _Record) -> PeerRecordRow:
    return (
        peer,
        record.public_key,
        record.protocols,
        record.metadata,
        record.latency_ns,
        record.signed_record,
    )


def _check_public_key(peer: PeerKey, key: bytes, *path: PathElement) -> bytes:
    """`key` when it is a canonical `PublicKey` protobuf that `peer`'s PeerId can name."""
    if type(key) is not bytes:
        raise ComponentTypeError(f"expected `bytes`, got `{type(key).__name__}`", path)
    problem = public_key_problem(key) or key_mismatch(peer, key)
    if problem is not None:
        raise ComponentValueError(problem, path)
    return key


def _same(held: MetadataValue, value: MetadataValue) -> bool:
    """Equal and of the same type: `1 == True == 1.0`, but they are three different values."""
    return type(held) is type(value) and held == value


def _limit_error(reason: str, path: tuple[PathElement, ...], *, restoring: bool) -> ComponentError:
    """A limit passed: by an operation, `PeerRecordLimitError`; in a restored row, a
    `ComponentValueError` locating it (a restore refuses that snapshot)."""
    if restoring:
        return ComponentValueError(reason, path)
    return PeerRecordLimitError(reason)
