"""Extensions: opaque bytes by namespace, kept exactly through snapshot and restore, refused where
they enter if a snapshot could not hold them, and bounded in total."""

import random
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.checkpointer import Checkpointer
from node_runtime.clock import ManualClock
from node_runtime.component_errors import (
    ComponentTypeError,
    ComponentValueError,
    ExtensionLimitError,
    RestoreValueError,
)
from node_runtime.directory_store import DirectoryStore
from node_runtime.extensions import DEFAULT_MAX_EXTENSION_BYTES, ExtensionTable
from node_runtime.identity import Identity
from node_runtime.node import Node
from node_runtime.testing import assert_restores_identically
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE, decode, encode

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(bytes([1]) * 32)
PUBSUB = "libp2p/pubsub-blacklist"
TAGS = "libp2p/connmgr.tags"


def new_node() -> Node:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    return Node(IDENTITY, clock=clock, rng=random.Random(1))


def state_of(table: ExtensionTable) -> tuple[object, ...]:
    return (table.items(), table.total_bytes, table.revision)


# --- the table ----------------------------------------------------------------------------------


def test_data_is_kept_by_namespace_and_replaced_by_a_later_set() -> None:
    table = ExtensionTable()

    table.set(PUBSUB, b"v1")
    table.set(TAGS, b"")
    table.set(PUBSUB, b"v2")

    assert table.get(PUBSUB) == b"v2"
    assert table.get(TAGS) == b""  # empty data is data
    assert table.get("libp2p/other") is None
    assert table.items() == ((TAGS, b""), (PUBSUB, b"v2"))  # sorted by namespace
    assert len(table) == 2
    assert table.total_bytes == 2


def test_remove_drops_a_namespace_and_says_whether_there_was_one() -> None:
    table = ExtensionTable()
    table.set(PUBSUB, b"abc")

    assert table.remove(PUBSUB) is True
    assert table.remove(PUBSUB) is False

    assert table.items() == ()
    assert table.total_bytes == 0


@pytest.mark.parametrize("namespace", ["a", "libp2p/pubsub-blacklist", "x.y_z/0-9", "a" * 128])
def test_namespaces_of_1_to_128_lowercase_digits_and_dot_underscore_slash_dash_are_accepted(
    namespace: str,
) -> None:
    table = ExtensionTable()

    table.set(namespace, b"x")

    assert table.get(namespace) == b"x"


BAD_NAMESPACES = ["", "A", "libp2p pubsub", "a" * 129, "é", "ns\n", "ns:1"]


@pytest.mark.parametrize("namespace", BAD_NAMESPACES)
@pytest.mark.parametrize(
    "mutate",
    [lambda table, ns: table.set(ns, b"x"), lambda table, ns: table.remove(ns)],
)
def test_a_namespace_outside_the_rule_is_refused_naming_it_and_changes_nothing(
    mutate: Callable[[ExtensionTable, str], object], namespace: str
) -> None:
    table = ExtensionTable()
    table.set(PUBSUB, b"x")
    before = state_of(table)

    with pytest.raises(ComponentValueError) as raised:
        mutate(table, namespace)

    assert raised.value.path == ("namespace",)
    assert state_of(table) == before


@pytest.mark.parametrize("namespace", [b"ns", None, 1])
@pytest.mark.parametrize(
    "call",
    [
        lambda table, ns: table.set(ns, b"x"),
        lambda table, ns: table.remove(ns),
        lambda table, ns: table.get(ns),
    ],
)
def test_a_namespace_that_is_not_a_str_is_a_type_error(
    call: Callable[[ExtensionTable, object], object], namespace: object
) -> None:
    table = ExtensionTable()
    before = state_of(table)

    with pytest.raises(ComponentTypeError) as raised:
        call(table, namespace)

    assert raised.value.path == ("namespace",)
    assert state_of(table) == before


@pytest.mark.parametrize("data", [bytearray(b"x"), memoryview(b"x"), "x", None])
def test_data_that_is_not_exactly_bytes_is_a_type_error_and_changes_nothing(data: object) -> None:
    table = ExtensionTable()
    table.set(PUBSUB, b"old")
    before = state_of(table)

    with pytest.raises(ComponentTypeError) as raised:
        table.set(PUBSUB, data)  # type: ignore[arg-type]

    assert raised.value.path == ("data",)
    assert state_of(table) == before


def test_values_past_the_total_are_refused_and_change_nothing() -> None:
    table = ExtensionTable(max_total_bytes=10)
    table.set(PUBSUB, b"12345")
    table.set(TAGS, b"123")
    before = state_of(table)

    with pytest.raises(ExtensionLimitError):
        table.set("other", b"123")
    with pytest.raises(OverflowError):
        table.set(TAGS, b"123456")

    assert state_of(table) == before
    table.set(TAGS, b"12345")  # a replaced value no longer counts: 5 + 5
    assert table.total_bytes == 10


def test_the_default_total_leaves_room_in_the_largest_snapshot_decode_accepts() -> None:
    assert DEFAULT_MAX_EXTENSION_BYTES == 64 * 1024 * 1024
    assert DEFAULT_MAX_EXTENSION_BYTES <= DEFAULT_MAX_SNAPSHOT_SIZE // 4


@pytest.mark.parametrize(
    "mutate",
    [
        lambda table: table.set(PUBSUB, b"new"),
        lambda table: table.set(TAGS, b""),
        lambda table: table.remove(PUBSUB),
    ],
)
def test_every_change_grows_the_revision(mutate: Callable[[ExtensionTable], object]) -> None:
    table = ExtensionTable()
    table.set(PUBSUB, b"old")
    before = table.revision

    mutate(table)

    assert table.revision > before


def test_setting_the_same_data_or_removing_nothing_leaves_the_revision() -> None:
    table = ExtensionTable()
    table.set(PUBSUB, b"same")
    before = state_of(table)

    table.set(PUBSUB, b"same")
    table.remove(TAGS)

    assert state_of(table) == before


def test_from_state_holds_exactly_the_items_it_is_given() -> None:
    items = ((TAGS, b""), (PUBSUB, b"\x00\xff"))

    table = ExtensionTable.from_state(items)

    assert table.items() == items
    assert table.total_bytes == 2


@pytest.mark.parametrize(
    ("items", "path"),
    [
        ([("", b"x")], ("items", 0, "namespace")),
        ([(PUBSUB, b"x"), ("Upper", b"x")], ("items", 1, "namespace")),
        ([(PUBSUB, b"x"), (PUBSUB, b"y")], ("items", 1, "namespace")),
        ([(PUBSUB, bytearray(b"x"))], ("items", 0, "data")),
        ([(PUBSUB, b"123456"), (TAGS, b"12345")], ("items", 1, "data")),
    ],
)
def test_from_state_refuses_a_bad_item_naming_it(
    items: list[tuple[str, bytes]], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        ExtensionTable.from_state(items, max_total_bytes=10)

    assert raised.value.path == path


# --- through the node ---------------------------------------------------------------------------


def test_the_node_keeps_extensions_and_counts_their_changes() -> None:
    node = new_node()
    before = node.revision

    node.set_extension(PUBSUB, b"\x01\x02")
    node.set_extension(TAGS, b"tag")

    assert node.revision > before
    assert node.extension(PUBSUB) == b"\x01\x02"
    assert node.extensions() == {TAGS: b"tag", PUBSUB: b"\x01\x02"}
    assert list(node.extensions()) == [TAGS, PUBSUB]
    revision = node.revision
    assert node.remove_extension(TAGS) is True
    assert node.revision > revision
    assert node.extension(TAGS) is None


def test_the_mapping_the_node_hands_out_is_a_copy() -> None:
    node = new_node()
    node.set_extension(PUBSUB, b"x")

    copy = node.extensions()
    assert isinstance(copy, dict)
    copy[TAGS] = b"y"

    assert node.extensions() == {PUBSUB: b"x"}


def test_extensions_travel_through_snapshot_bytes_and_restore() -> None:
    node = new_node()
    node.set_extension(PUBSUB, b"\x00" * 3)
    node.set_extension(TAGS, b"")

    snapshot = node.snapshot()
    restored = Node.restore(decode(encode(snapshot)), IDENTITY, clock=node.clock)

    assert dict(snapshot.framework.extensions) == {PUBSUB: b"\x00" * 3, TAGS: b""}
    assert restored.extensions() == node.extensions()
    assert_restores_identically(node)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z0-9._/-]{1,16}", fullmatch=True), st.binary(max_size=8), max_size=5
    )
)
def test_any_extensions_restore_exactly(extensions: dict[str, bytes]) -> None:
    node = new_node()
    for namespace, data in extensions.items():
        node.set_extension(namespace, data)

    restored = assert_restores_identically(node)

    assert restored.extensions() == extensions


def test_a_snapshot_with_more_extension_bytes_than_the_total_is_refused_naming_them() -> None:
    node = new_node()
    snapshot = node.snapshot()
    framework = attrs.evolve(
        snapshot.framework,
        extensions={TAGS: b"", PUBSUB: bytes(DEFAULT_MAX_EXTENSION_BYTES + 1)},
    )

    with pytest.raises(RestoreValueError) as raised:
        Node.restore(attrs.evolve(snapshot, framework=framework), IDENTITY, clock=node.clock)

    assert raised.value.path == ("framework", "extensions", 1, "value")


def test_autosave_saves_an_extension_change_with_the_next_periodic_save(tmp_path: Path) -> None:
    node = new_node()
    now = [0.0]
    with DirectoryStore(tmp_path, fsync=False) as store:
        checkpointer = Checkpointer(node, store, interval=30.0, cooldown=1.0, timer=lambda: now[0])
        assert checkpointer.poll()
        checkpointer.flush(timeout=30)

        node.set_extension(PUBSUB, b"scores")
        now[0] += 1.0  # past the cooldown an urgent save would wait for
        assert not checkpointer.poll()
        now[0] += 29.0  # the interval
        assert checkpointer.poll()

        checkpointer.flush(timeout=30)
        latest = store.latest()
        checkpointer.close(timeout=30)
    assert latest is not None
    assert dict(latest.snapshot.framework.extensions) == {PUBSUB: b"scores"}
