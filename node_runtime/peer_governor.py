"""Who the node may contact: a blocklist, an optional allowlist, per-peer health, and IP filters.

Sans-I/O: the governor is told about failures (with the monotonic time they were observed) and
successes, and answers one question, `may_contact(peer)`, with `decision(peer)` saying why. The
answer is checked in a fixed order: blocked, then not allowed, then down. Remote IPs are judged
apart (`ip_decision`, `address_decision`): denied networks first, then allowed ones.

Policy (block and allow lists, IP filters) is what an operator set; health is what was observed.
`forget` drops observations only: forgetting a peer must never lift a block.

Health is kept only for peers that failed since their last success: a success drops the peer's
row, so peers that only ever answer (every inbound connection under the open policy) cost no
state. A peer is down once its consecutive failures reach `failure_threshold`, until a success
or `forget`. Down is a verdict, not a ban: the governor has no clock, and `Node.may_dial` lets a
down peer be dialled again, as a probe, each time its backoff deadline passes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator

import attrs

from node_runtime._component_checks import (
    check_int,
    check_ns,
    check_peer_key,
    check_peer_list,
    peer_key_of,
)
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import (
    ComponentTypeError,
    ComponentValueError,
    NoAllowlistError,
)
from node_runtime.ip_filter import (
    IpAddressLike,
    IpNetworkLike,
    NetworkSet,
    check_ip_address,
    check_ip_network,
    leading_ip,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_key import PeerKey, PeerRef
from snapshot_schema.checks import U32_MAX
from snapshot_schema.ip_network import AnyNetwork


class Decision(enum.StrEnum):
    """Why a peer may or may not be contacted, most decisive reason first."""

    BLOCKED = "blocked"
    NOT_ALLOWED = "not_allowed"
    DOWN = "down"
    OK = "ok"


@attrs.frozen
class PeerHealth:
    """What the governor has observed about one peer.

    `consecutive_failures` (at least 1) saturates at 2**32-1 (a u32, as snapshots store it)
    instead of wrapping; `last_event_ns` is the monotonic time of the latest failure; `down` is
    whether the failures have reached the governor's threshold.
    """

    consecutive_failures: int
    last_event_ns: int
    down: bool


class IpList(enum.Enum):
    """One of the governor's two IP filter lists."""

    ALLOW = "ip_allow"
    DENY = "ip_deny"


@attrs.frozen
class GovernorChanges:
    """What changed in a governor since its previous `take_changes()`: per collection, the
    keys changed, or `None` when not known (replace it whole)."""

    blocklist: set[PeerKey] | None
    allowlist: set[PeerKey] | None
    health: set[PeerKey] | None
    ip_lists: set[IpList] | None


class PeerGovernor(ChangeCounter):
    """Block and allow lists plus per-peer health, answering `may_contact`; IP filters,
    answering `may_connect_ip` and `may_connect_address`.

    `failure_threshold` (1..2**32-1) is how many consecutive failures make a peer down.
    """

    def __init__(self, failure_threshold: int = 3) -> None:
        self._failure_threshold = check_int(failure_threshold, 1, U32_MAX, "failure_threshold")
        self._blocked: set[PeerKey] = set()
        self._allowed: set[PeerKey] | None = None
        self._health: dict[PeerKey, PeerHealth] = {}
        self._ip_lists = {IpList.ALLOW: NetworkSet(), IpList.DENY: NetworkSet()}
        self._policy_listeners: list[Callable[[], object]] = []
        self._changed_blocklist: ChangedKeys[PeerKey] = ChangedKeys()
        self._changed_allowlist: ChangedKeys[PeerKey] = ChangedKeys()
        self._changed_health: ChangedKeys[PeerKey] = ChangedKeys()
        self._changed_ip_lists: ChangedKeys[IpList] = ChangedKeys()

    @classmethod
    def from_state(
        cls,
        failure_threshold: int,
        blocklist: Iterable[PeerKey],
        allowlist: Iterable[PeerKey] | None,
        health: Iterable[tuple[PeerKey, PeerHealth]],
        *,
        ip_allow: Iterable[AnyNetwork] = (),
        ip_deny: Iterable[AnyNetwork] = (),
    ) -> PeerGovernor:
        """A governor holding this state, as read back from its accessors.

        `down` is re-derived from `failure_threshold`: the threshold in force now decides, so a
        restore under a changed configuration applies the new threshold to the old counts. A
        health row with no failures (older builds kept one per success) is not kept: a peer
        without a row is healthy. Raises `ComponentValueError` (with the offending entry's path)
        for a count or time out of range, a peer listed twice in `health`, or an IP network
        refused as `add_ip_network` refuses it or listed twice.
        """
        governor = cls(failure_threshold)
        governor._blocked = {
            check_peer_key(peer, "blocklist", index) for index, peer in enumerate(blocklist)
        }
        governor._allowed = (
            None
            if allowlist is None
            else {check_peer_key(peer, "allowlist", index) for index, peer in enumerate(allowlist)}
        )
        # Peers whose row held no failures (so was not kept): listing one again is still a repeat.
        healthy: set[PeerKey] = set()
        for index, (peer, record) in enumerate(health):
            check_peer_key(peer, "health", index, "peer")
            if peer in governor._health or peer in healthy:
                raise ComponentValueError("peer listed twice", ("health", index))
            failures = check_int(
                record.consecutive_failures, 0, U32_MAX, "health", index, "consecutive_failures"
            )
            check_ns(record.last_event_ns, "health", index, "last_event_ns")
            if failures == 0:
                healthy.add(peer)
                continue
            down = failures >= governor._failure_threshold
            governor._health[peer] = (
                record if record.down == down else attrs.evolve(record, down=down)
            )
        for which, networks in ((IpList.ALLOW, ip_allow), (IpList.DENY, ip_deny)):
            kept = governor._ip_lists[which]
            for index, network in enumerate(networks):
                if not kept.add(check_ip_network(network, which.value, index)):
                    raise ComponentValueError("network listed twice", (which.value, index))
        return governor

    @property
    def failure_threshold(self) -> int:
        return self._failure_threshold

    @property
    def blocklist(self) -> frozenset[PeerKey]:
        return frozenset(self._blocked)

    @property
    def allowlist(self) -> frozenset[PeerKey] | None:
        """The allowed peers, or `None` for the open policy (every peer not blocked)."""
        return None if self._allowed is None else frozenset(self._allowed)

    @property
    def ip_allow(self) -> tuple[AnyNetwork, ...]:
        """The allowed networks (empty: every IP not denied), in snapshot order."""
        return self._ip_lists[IpList.ALLOW].networks()

    @property
    def ip_deny(self) -> tuple[AnyNetwork, ...]:
        """The denied networks, in snapshot order (by address bytes, then prefix length)."""
        return self._ip_lists[IpList.DENY].networks()

    def health_items(self) -> Iterator[tuple[PeerKey, PeerHealth]]:
        """Every peer that failed since its last success, in the order those runs began."""
        return iter(self._health.items())

    def health(self, peer: PeerRef) -> PeerHealth | None:
        """`peer`'s failures since its last success; `None` when it has none."""
        return self._health.get(peer_key_of(peer, "peer"))

    def take_changes(self) -> GovernorChanges:
        """What changed since the previous call (each collection `None` on the first call)."""
        return GovernorChanges(
            self._changed_blocklist.take(),
            self._changed_allowlist.take(),
            self._changed_health.take(),
            self._changed_ip_lists.take(),
        )

    def block(self, peer: PeerRef) -> None:
        key = check_peer_key(peer, "peer")
        self._blocked.add(key)
        self._changed_blocklist.add(key)
        self._policy_changed()

    def unblock(self, peer: PeerRef) -> None:
        """Lift a block; a peer that is not blocked stays so."""
        key = check_peer_key(peer, "peer")
        self._blocked.discard(key)
        self._changed_blocklist.add(key)
        self._policy_changed()

    def is_blocked(self, peer: PeerRef) -> bool:
        return peer_key_of(peer, "peer") in self._blocked

    def is_listed(self, peer: PeerRef) -> bool:
        """Whether `peer` is on the allowlist (`False` under the open policy)."""
        return self._allowed is not None and peer_key_of(peer, "peer") in self._allowed

    def set_allowlist(self, peers: Iterable[PeerRef] | None) -> None:
        """Allow exactly `peers` (an empty iterable allows nobody), or `None` to open the policy."""
        self._allowed = (
            None
            if peers is None
            else {
                check_peer_key(peer, "peers", index)
                for index, peer in enumerate(check_peer_list(peers, "peers"))
            }
        )
        self._changed_allowlist.replaced()
        self._policy_changed()

    def allow(self, peer: PeerRef) -> None:
        """Add `peer` to the allowlist; refused (`NoAllowlistError`) under the open policy."""
        key = check_peer_key(peer, "peer")
        self._allowlist_to_edit().add(key)
        self._changed_allowlist.add(key)
        self._policy_changed()

    def disallow(self, peer: PeerRef) -> None:
        """Remove `peer` from the allowlist; refused (`NoAllowlistError`) under the open policy.

        Under the open policy there is no list to remove a peer from: use `block` to stop
        contacting one peer, or `set_allowlist` to close the policy.
        """
        key = check_peer_key(peer, "peer")
        self._allowlist_to_edit().discard(key)
        self._changed_allowlist.add(key)
        self._policy_changed()

    def add_ip_network(self, which: IpList, network: IpNetworkLike) -> bool:
        """Add `network` to the `which` IP list; False (and no change) if it is there already.

        Refused (`ComponentValueError`): text that is no network or has host bits set, an IPv6
        zone, an IPv4-mapped IPv6 network (write it as IPv4).
        """
        added = self._ip_list(which).add(check_ip_network(network, "network"))
        if added:
            self._changed_ip_lists.add(which)
            self._policy_changed()
        return added

    def remove_ip_network(self, which: IpList, network: IpNetworkLike) -> bool:
        """Remove `network` from the `which` IP list; False if it was not there."""
        removed = self._ip_list(which).remove(check_ip_network(network, "network"))
        if removed:
            self._changed_ip_lists.add(which)
            self._policy_changed()
        return removed

    def set_ip_networks(self, which: IpList, networks: Iterable[IpNetworkLike]) -> None:
        """Replace the `which` IP list with `networks` (repeats count once); all or nothing."""
        self._ip_list(which)  # its type, checked before anything is built
        # A network is itself an iterable (of its addresses), as text is (of characters).
        if isinstance(networks, str | AnyNetwork) or not isinstance(networks, Iterable):
            raise ComponentTypeError(
                f"expected an iterable of networks, got `{type(networks).__name__}`",
                ("networks",),
            )
        self._ip_lists[which] = NetworkSet(
            check_ip_network(network, "networks", index) for index, network in enumerate(networks)
        )
        self._changed_ip_lists.add(which)
        self._policy_changed()

    def ip_decision(self, ip: IpAddressLike) -> Decision:
        """What the IP filters say of a remote IP (an `ipaddress` address or its text):
        BLOCKED in a denied network, else NOT_ALLOWED when allowed networks exist and none
        holds it, else OK. An IPv4-mapped IPv6 address is judged as its IPv4 address."""
        address = check_ip_address(ip, "ip")
        if self._ip_lists[IpList.DENY].holds(address):
            return Decision.BLOCKED
        allowed = self._ip_lists[IpList.ALLOW]
        if allowed and not allowed.holds(address):
            return Decision.NOT_ALLOWED
        return Decision.OK

    def may_connect_ip(self, ip: IpAddressLike) -> bool:
        return self.ip_decision(ip) is Decision.OK

    def address_decision(self, address: Multiaddr) -> Decision:
        """`ip_decision` of the IP a dial of `address` connects to: its leading `/ip4` or
        `/ip6` component. An address without one (`/dns4/...`, `/unix/...`) cannot be judged
        before it is resolved: it is NOT_ALLOWED when allowed networks exist (as go-libp2p's
        filters default to deny then), else OK; a host judges each resolved address again."""
        if type(address) is not Multiaddr:
            raise ComponentTypeError(
                f"expected `Multiaddr`, got `{type(address).__name__}`", ("address",)
            )
        ip = leading_ip(address)
        if ip is not None:
            return self.ip_decision(ip)
        return Decision.NOT_ALLOWED if self._ip_lists[IpList.ALLOW] else Decision.OK

    def may_connect_address(self, address: Multiaddr) -> bool:
        return self.address_decision(address) is Decision.OK

    def _ip_list(self, which: IpList) -> NetworkSet:
        if type(which) is not IpList:
            raise ComponentTypeError(f"expected `IpList`, got `{type(which).__name__}`", ("which",))
        return self._ip_lists[which]

    def add_policy_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener` after every block, allow or IP filter change: such changes must
        reach disk at once (a checkpointer saves on them), not at the next periodic save."""
        self._policy_listeners.append(listener)

    def _policy_changed(self) -> None:
        self._changed()
        for listener in self._policy_listeners:
            listener()

    def _allowlist_to_edit(self) -> set[PeerKey]:
        if self._allowed is None:
            raise NoAllowlistError(
                "the policy is open (no allowlist): call set_allowlist() before editing it"
            )
        return self._allowed

    def record_failure(self, peer: PeerRef, now_ns: int) -> PeerHealth:
        """Count a failure to reach `peer` at `now_ns`; returns its new health."""
        key = check_peer_key(peer, "peer")
        check_ns(now_ns, "now_ns")
        previous = self._health.get(key)
        failures = 1 if previous is None else min(previous.consecutive_failures + 1, U32_MAX)
        health = PeerHealth(failures, now_ns, failures >= self._failure_threshold)
        self._changed()
        self._changed_health.add(key)
        self._health[key] = health
        return health

    def record_success(self, peer: PeerRef) -> None:
        """`peer` was reached: its failures are over and it is no longer down. Its row goes (a
        healthy peer needs none), so successes with any number of peers keep no state."""
        key = check_peer_key(peer, "peer")
        if key in self._health:
            self._changed()
            self._changed_health.add(key)
            del self._health[key]

    def forget(self, peer: PeerRef) -> None:
        """Drop what was observed about `peer`; its block and allow entries are kept."""
        key = check_peer_key(peer, "peer")
        self._changed()
        self._changed_health.add(key)
        self._health.pop(key, None)

    def decision(self, peer: PeerRef) -> Decision:
        key = peer_key_of(peer, "peer")
        if key in self._blocked:
            return Decision.BLOCKED
        if self._allowed is not None and key not in self._allowed:
            return Decision.NOT_ALLOWED
        health = self._health.get(key)
        if health is not None and health.down:
            return Decision.DOWN
        return Decision.OK

    def may_contact(self, peer: PeerRef) -> bool:
        return self.decision(peer) is Decision.OK
