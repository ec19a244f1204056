"""`apply`: a delta turns exactly its base into exactly its target, or is refused."""

import attrs
import pytest
from delta_examples import AFTER, BASE, book, peer, snapshot

from snapshot_schema import (
    BackoffEntry,
    DeltaApplyError,
    DeltaBaseMismatchError,
    FullSnapshotNeeded,
    Patch,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PendingOutboundEntry,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
    TransientSnapshot,
    VersionedSnapshot,
    apply,
    encode,
    make_delta,
    root_ref,
    root_state,
)
from snapshot_schema.delta_records import Change


def applied(base: TransientSnapshot, changes: dict[str, Change]) -> TransientSnapshot:
    return apply(base, make_delta(root_ref(base), AFTER, changes))


def test_a_patched_table_merges_removals_and_upserts_in_peer_order() -> None:
    result = applied(
        BASE,
        {
            "address_book": Patch(
                (peer(4), peer(7)),  # 7 is absent: removing it is no change
                book((1, 1), (6, 9), (9, 1)),
            )
        },
    )
    expected = attrs.evolve(
        BASE,
        taken_at=AFTER,
        framework=attrs.evolve(
            BASE.framework, address_book=book((1, 1), (2, 0), (6, 9), (8, 0), (9, 1))
        ),
    )
    assert result == expected
    assert encode(result) == encode(expected)


def test_each_kind_of_change_gives_exactly_the_target() -> None:
    changes: dict[str, Change] = {
        "frontier": Splice(1, 2, [(4, 4)]),
        "counters": Patch(("gone",), {"changed": 4, "new": 5}),
        "blocklist": Patch((peer(1), peer(9)), {peer(3)}),
        "allowlist": Patch((), {peer(4)}),
        "health": Patch((peer(5),), [PeerHealthSnapshot(peer(6), down=True)]),
        "failure_threshold": Replace(5),
        "backoff_table": Replace([BackoffEntry(peer(2), attempts=1)]),
        "pending_outbound": Splice(1, 1, [PendingOutboundEntry(b"c")]),
        "next_exec_id": Replace(7),
        "ingress": Splice(1, 0, ()),
        "wire_states": Patch((), {3: b"w"}),
    }
    expected = snapshot(
        taken_at=AFTER,
        frontier=[(2, 2), (3, 3), (4, 4)],
        counters={"kept": 1, "changed": 4, "new": 5},
        address_book=BASE.framework.address_book,
        peer_governor=PeerGovernorSnapshot(
            blocklist={peer(2), peer(3)},
            allowlist={peer(3), peer(4)},
            health=[PeerHealthSnapshot(peer(6), down=True)],
            failure_threshold=5,
        ),
        backoff_table=[BackoffEntry(peer(2), attempts=1)],
        pending_outbound=[PendingOutboundEntry(b"b"), PendingOutboundEntry(b"c")],
        next_exec_id=7,
        wire_states={3: b"w"},
    )
    result = applied(BASE, changes)
    assert result == expected
    assert encode(result) == encode(expected)


def test_a_versioned_base_gives_the_target_named_by_the_delta() -> None:
    base = root_state(BASE, generation=3)
    delta = make_delta(base.ref, AFTER, {"next_command_id": Replace(4)})
    result = apply(base, delta)
    assert result == VersionedSnapshot(delta.target, applied(BASE, {"next_command_id": Replace(4)}))
    second = make_delta(result.ref, AFTER, {"next_command_id": Replace(5)})
    assert apply(result, second).snapshot.framework.next_command_id == 5


def test_a_delta_without_changes_gives_the_base_at_the_delta_s_time() -> None:
    assert applied(BASE, {}) == attrs.evolve(BASE, taken_at=AFTER)


def test_a_delta_from_another_state_is_refused_as_needing_a_full_snapshot() -> None:
    base = root_state(BASE)
    other = StateRef(0, 0, bytes(32))
    delta = make_delta(other, AFTER, {"next_exec_id": Replace(1)})
    with pytest.raises(DeltaBaseMismatchError) as raised:
        apply(base, delta)
    assert isinstance(raised.value, FullSnapshotNeeded)
    message = str(raised.value)
    assert "full snapshot is needed" in message
    assert "digest 0000000000000000…" in message
    assert f"digest {base.ref.digest.hex()[:16]}…" in message


def test_a_plain_base_must_hash_to_the_delta_s_base() -> None:
    delta = make_delta(root_ref(BASE), AFTER, {"next_exec_id": Replace(1)})
    with pytest.raises(DeltaBaseMismatchError):
        apply(attrs.evolve(BASE, ingress=()), delta)


def test_a_plain_base_is_a_full_snapshot_so_a_later_delta_is_refused() -> None:
    ref = root_ref(BASE)
    later = make_delta(StateRef(ref.generation, 1, ref.digest), AFTER, {})
    with pytest.raises(DeltaBaseMismatchError):
        apply(BASE, later)


def test_a_plain_base_is_matched_by_content_in_any_generation() -> None:
    delta = make_delta(root_ref(BASE, generation=2), AFTER, {"next_exec_id": Replace(1)})
    assert apply(BASE, delta) == apply(VersionedSnapshot(delta.base, BASE), delta).snapshot


@pytest.mark.parametrize(
    ("base", "changes", "path", "reason"),
    [
        (
            snapshot(address_book=book((4, 0), (2, 0))),
            {"address_book": Patch((), book((3, 0)))},
            ("framework", "address_book"),
            "sorted by peer",
        ),
        (
            BASE,
            {"frontier": Splice(2, 2, ())},
            ("frontier",),
            "past the end of this base's 3",
        ),
        (
            BASE,
            {"pending_outbound": Splice(0, 3, ())},
            ("framework", "pending_outbound"),
            "past the end",
        ),
        (
            snapshot(),
            {"allowlist": Patch((), {peer(1)})},
            ("framework", "peer_governor", "allowlist"),
            "has none",
        ),
    ],
)
def test_a_delta_that_does_not_fit_its_base_is_refused_with_the_field_s_path(
    base: TransientSnapshot, changes: dict[str, Change], path: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(DeltaApplyError) as raised:
        applied(base, changes)
    assert raised.value.path == path
    assert reason in raised.value.reason
    assert isinstance(raised.value, FullSnapshotNeeded)


def test_apply_refuses_what_is_not_a_snapshot_and_a_delta() -> None:
    delta = make_delta(root_ref(BASE), AFTER, {})
    with pytest.raises(TypeError, match="SnapshotDelta"):
        apply(BASE, BASE)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="TransientSnapshot or VersionedSnapshot"):
        apply(delta, delta)  # type: ignore[call-overload]


def test_a_delta_for_an_unsorted_table_replaces_it_instead() -> None:
    base = snapshot(address_book=book((4, 0), (2, 0)))
    result = applied(base, {"address_book": Replace(book((4, 1), (2, 0)))})
    assert result.framework.address_book == book((4, 1), (2, 0))


def test_a_delta_applies_alike_whether_its_changes_were_packed_or_not() -> None:
    made = make_delta(root_ref(BASE), AFTER, {"next_exec_id": Replace(1)})
    built = SnapshotDelta(base=made.base, target=made.target, taken_at=AFTER, changes=made.changes)
    assert apply(BASE, built) == apply(BASE, made)
