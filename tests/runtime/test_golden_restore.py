"""The goldens restore into a node with the documented result.

- A snapshot a version 1 build wrote (`tests/golden/v1/`): every version 1 value as it was, every
  address permanent, no IP filter, no peer records, no extensions (docs/versioning.md); the
  node's next snapshot is a version 2 one.
- The version 2 `peer_state` golden, restored after a downtime longer than one address's TTL:
  that address is gone (and counted), the others rebased, the signed record verified and kept,
  every other peer-record field and the IP filter as saved.
"""

from pathlib import Path

import pytest

from node_runtime import Identity, ManualClock, Node, PeerId
from snapshot_schema import CURRENT_SNAPSHOT_SPEC_VERSION, decode, encode, spec_version_of

GOLDEN_V1 = Path(__file__).resolve().parent.parent / "golden" / "v1"
GOLDEN_V2 = GOLDEN_V1.parent / "v2"
# The libp2p spec's Ed25519 test key (peer-ids.md, "Test vectors"): the PeerId of the v1
# goldens `empty`, `typical` and `every_ingress`.
SPEC_ED25519_SEED = bytes.fromhex(
    "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
)
IDENTITY = Identity.from_private_bytes(SPEC_ED25519_SEED)


def restored_at_its_own_instant(name: str, downtime_ns: int = 0) -> tuple[Node, bytes]:
    """The v1 golden `name`, restored by a node whose monotonic clock reads what the snapshot's
    did, `downtime_ns` of wall time later."""
    data = (GOLDEN_V1 / f"{name}.msgpack").read_bytes()
    return restored(data, downtime_ns), data


def restored(data: bytes, downtime_ns: int = 0) -> Node:
    snapshot = decode(data)
    taken_at = snapshot.taken_at
    clock = ManualClock(monotonic_ns=taken_at.monotonic_ns, wall_ns=taken_at.wall_ns + downtime_ns)
    return Node.restore(snapshot, IDENTITY, clock=clock)


@pytest.mark.parametrize("name", ["empty", "typical", "every_ingress"])
def test_a_version_1_golden_restores_into_this_build(name: str) -> None:
    node, data = restored_at_its_own_instant(name)
    assert spec_version_of(data) == 1
    assert node.peer_id.to_bytes() == decode(data).framework.peer_id_bytes
    resaved = encode(node.snapshot())
    assert spec_version_of(resaved) == CURRENT_SNAPSHOT_SPEC_VERSION == 2


def test_the_typical_version_1_golden_restores_with_the_documented_result() -> None:
    node, data = restored_at_its_own_instant("typical")
    old = decode(data).framework
    framework = node.snapshot().framework
    # Every address comes back, permanent, in its order; references as they were.
    assert [(e.peer_id, e.addresses, e.ref_count) for e in framework.address_book] == sorted(
        (e.peer_id, e.addresses, e.ref_count) for e in old.address_book
    )
    assert all(set(entry.expires_ns) == {None} for entry in framework.address_book)
    for entry in old.address_book:
        peer = PeerId.from_bytes(entry.peer_id)
        assert tuple(a.to_bytes() for a in node.peer_addresses(peer)) == entry.addresses
    # Policy, backoff, ids and counters as version 1 held them.
    assert framework.peer_governor.blocklist == old.peer_governor.blocklist
    assert framework.peer_governor.allowlist is old.peer_governor.allowlist is None
    assert framework.backoff_table == old.backoff_table
    assert (framework.next_command_id, framework.next_exec_id) == (42, 17)
    assert framework.counters == old.counters
    # What version 1 did not have is empty: no IP filter, no peer records, no extensions.
    governor = framework.peer_governor
    assert (governor.ip_allow, governor.ip_deny) == ((), ())
    assert (len(framework.peer_records), len(framework.extensions)) == (0, 0)
    assert node.governor.may_connect_ip("203.0.113.7") is True


SECOND = 1_000_000_000


def test_the_version_2_peer_state_golden_restores_after_a_downtime() -> None:
    data = (GOLDEN_V2 / "peer_state.msgpack").read_bytes()
    saved = decode(data).framework
    node = restored(data, downtime_ns=10 * SECOND)
    now = node.clock.monotonic_ns()
    framework = node.snapshot().framework
    (signing_entry,) = framework.address_book  # the sha2-256 peer's one address expired
    saved_signing, saved_sha256 = saved.address_book
    assert signing_entry.peer_id == saved_signing.peer_id
    assert signing_entry.addresses == saved_signing.addresses
    permanent, expiring = signing_entry.expires_ns
    assert permanent is None
    saved_expiry = saved_signing.expires_ns[1]
    assert saved_expiry is not None
    saved_left = saved_expiry - decode(data).taken_at.monotonic_ns
    assert expiring == now + saved_left - 10 * SECOND  # 120 s TTL, 10 s of it spent down
    assert saved_sha256.peer_id not in node.address_book
    assert node.counters.get("restore:expired_addresses_dropped") == 1
    # The signed record verified: kept, nothing refused; every other field as saved.
    assert "restore:signed_records_refused" not in dict(node.counters.items())
    assert framework.peer_records == saved.peer_records
    assert framework.peer_governor.ip_allow == saved.peer_governor.ip_allow
    assert framework.peer_governor.ip_deny == saved.peer_governor.ip_deny
    assert node.governor.may_connect_ip("10.1.2.3") is True
    assert node.governor.may_connect_ip("10.66.0.1") is False  # denied, though allowed
    assert node.governor.may_connect_ip("203.0.113.7") is False  # not allowed
    assert dict(node.extensions()) == dict(saved.extensions)
