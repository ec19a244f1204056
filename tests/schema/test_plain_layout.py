"""A `FrameworkSnapshot` from `build_framework` (so from `decode`) holds the rows it was given,
and `encode` packs them as they are: the bytes must be exactly those of the equal record built
by the constructors, and equality, hashing, repr, pickles, copies and `evolve`d records must
not tell the two apart."""

import copy
import pickle
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from schema_support import as_tuples

from snapshot_schema import (
    ClockReading,
    FrameworkSnapshot,
    TransientSnapshot,
    build_framework,
    build_framework_trusted,
    decode,
    encode,
)
from snapshot_schema.encoder import encode_body
from snapshot_schema.strategies import framework_snapshots, transient_snapshots


def rebuilt(framework: FrameworkSnapshot) -> FrameworkSnapshot:
    """`framework` built again by `build_framework` from the same values."""
    body = encode_body(TransientSnapshot(taken_at=ClockReading(0, 0), framework=framework))
    return build_framework(as_tuples(body[5]))


def via_build_framework(snapshot: TransientSnapshot) -> TransientSnapshot:
    return attrs.evolve(snapshot, framework=rebuilt(snapshot.framework))


@settings(max_examples=200)
@given(transient_snapshots())
def test_a_build_framework_record_encodes_like_the_constructor_built_one(
    value: TransientSnapshot,
) -> None:
    fast = via_build_framework(value)
    assert fast == value
    assert hash(fast) == hash(value)
    # The same values through the constructor (FrozenMap reprs keep insertion order).
    assert repr(fast.framework) == repr(attrs.evolve(fast.framework))
    assert encode(fast) == encode(value)


@settings(max_examples=100)
@given(transient_snapshots())
def test_a_decoded_snapshot_re_encodes_the_same_bytes(value: TransientSnapshot) -> None:
    data = encode(value)
    decoded = decode(data)
    assert encode(decoded) == data


@settings(max_examples=100)
@given(transient_snapshots())
def test_build_framework_trusted_builds_what_build_framework_builds(
    value: TransientSnapshot,
) -> None:
    layout = as_tuples(encode_body(value)[5])
    assert isinstance(layout, tuple)
    trusted = attrs.evolve(value, framework=build_framework_trusted(layout))
    assert trusted.framework == build_framework(layout)
    assert trusted == value
    assert encode(trusted) == encode(value)


def _copies(framework: FrameworkSnapshot) -> list[Any]:
    return [
        pickle.loads(pickle.dumps(framework)),
        copy.copy(framework),
        copy.deepcopy(framework),
    ]


@settings(max_examples=50)
@given(framework_snapshots())
def test_pickles_and_copies_match_the_constructor_built_record(
    framework: FrameworkSnapshot,
) -> None:
    built = rebuilt(framework)
    by_constructor = attrs.evolve(built)  # the same values (FrozenMaps in the same order)
    assert pickle.dumps(built) == pickle.dumps(by_constructor)
    for duplicate in _copies(built):
        assert duplicate == framework


@settings(max_examples=50)
@given(transient_snapshots(), st.integers(0, 2**64 - 1))
def test_an_evolved_record_encodes_its_new_values(value: TransientSnapshot, exec_id: int) -> None:
    fast = via_build_framework(value)
    changed = attrs.evolve(fast, framework=attrs.evolve(fast.framework, next_exec_id=exec_id))
    expected = attrs.evolve(value, framework=attrs.evolve(value.framework, next_exec_id=exec_id))
    assert encode(changed) == encode(expected)


def test_integers_written_in_a_longer_form_re_encode_canonically() -> None:
    value = TransientSnapshot(
        taken_at=ClockReading(1, 2),
        framework=rebuilt(FrameworkSnapshot(peer_id_bytes=bytes(2), next_exec_id=0x12345678)),
    )
    canonical = encode(value)
    short = bytes.fromhex("ce12345678")  # uint 32
    assert canonical.count(short) == 1
    padded = canonical.replace(short, bytes.fromhex("cf0000000012345678"))  # uint 64
    decoded = decode(padded)
    assert decoded == value
    assert encode(decoded) == canonical
