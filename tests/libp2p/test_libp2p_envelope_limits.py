"""What a peer can make an envelope service's host hold is bounded: streams by the resource
manager (refused past its limit, not queued), envelope streams per peer, and the bytes of
message bodies in flight by the resource manager's memory budget."""

from __future__ import annotations

import pytest
import trio
from envelope_hosts import MALLORY, B, bare_host, key_pair, raw_stream, run, serving
from libp2p import new_host
from libp2p.abc import INetStream
from libp2p.host.exceptions import StreamFailure
from libp2p.network.stream.exceptions import StreamError
from libp2p.rcmgr import ResourceManager
from libp2p.utils.varint import encode_uvarint

from node_runtime import Node
from node_runtime.libp2p_adapter import UnsupportedHostError
from node_runtime.libp2p_adapter.envelope_wire import (
    Envelope,
    decode_ack,
    encode_message,
    read_message,
)
from node_runtime.libp2p_adapter.resource_limits import (
    bounded_resource_manager,
    refuse_streams_past_limit,
)


def streams(manager: ResourceManager) -> int:
    count: int = manager.get_stats()["streams"]
    return count


def memory(manager: ResourceManager) -> int:
    reserved: int = manager.get_stats()["memory_bytes"]
    return reserved


async def ended(stream: INetStream) -> bool:
    try:
        return await stream.read(1) == b""
    except StreamError:
        return True


def test_streams_past_the_resource_limit_are_refused_not_queued() -> None:
    async def main() -> None:
        limits = bounded_resource_manager(max_streams=4)
        async with (
            serving(Node(B), resource_manager=limits, max_streams_per_peer=100) as b,
            bare_host(MALLORY) as mallory,
        ):
            held = [await raw_stream(mallory, b) for _ in range(4)]
            assert streams(limits) == 4
            for _ in range(6):  # py-libp2p's default would make each of these wait, unbounded
                with trio.fail_after(5), pytest.raises(StreamFailure):
                    await raw_stream(mallory, b)
            assert streams(limits) == 4
            for stream in held:
                await stream.close()
            with trio.fail_after(5):
                while streams(limits):
                    await trio.sleep(0.01)
            later = await raw_stream(mallory, b)  # room again
            await later.write(encode_message(Envelope(B.peer_id, 1, b"in").encode()))
            assert await b.service.inbox.receive() is not None

    run(main)


def test_a_peer_holds_at_most_max_streams_per_peer_envelope_streams() -> None:
    async def main() -> None:
        async with serving(Node(B)) as b, bare_host(MALLORY) as mallory:
            first, second = await raw_stream(mallory, b), await raw_stream(mallory, b)
            await first.write(encode_message(Envelope(B.peer_id, 1, b"one").encode()))
            await second.write(encode_message(Envelope(B.peer_id, 2, b"two").encode()))
            try:  # refused as soon as the protocol is agreed: the open may see it too
                third = await raw_stream(mallory, b)
            except StreamFailure:
                pass
            else:
                assert await ended(third)
            assert b.count("host:streams_refused") == 1
            for stream, seq in ((first, 1), (second, 2)):  # the first two carry on
                ack = await read_message(stream, 9)
                assert ack is not None
                assert decode_ack(ack) == seq

    run(main)


def test_message_bodies_in_flight_stay_within_the_memory_budget() -> None:
    async def main() -> None:
        limits = bounded_resource_manager(max_memory_bytes=64 << 10)
        async with (
            serving(Node(B), resource_manager=limits) as b,
            bare_host(MALLORY) as mallory,
        ):
            # Each stream announces a 40 KiB body (under the 1 MiB message limit) and stalls.
            first, second = await raw_stream(mallory, b), await raw_stream(mallory, b)
            await first.write(encode_uvarint(40 << 10))
            with trio.fail_after(5):
                while memory(limits) != 40 << 10:
                    await trio.sleep(0.01)
            await second.write(encode_uvarint(40 << 10))
            assert await ended(second)  # 80 KiB would be over the budget
            assert b.count("host:memory_refused") == 1
            assert memory(limits) == 40 << 10
            await first.reset()
            with trio.fail_after(5):
                while memory(limits):
                    await trio.sleep(0.01)
            assert b.count("host:envelopes_delivered") == 0

    run(main)


def test_limits_stay_as_set_after_a_peer_exhausts_them() -> None:
    # py-libp2p's graceful degradation would shrink a limit each time one is exhausted.
    limits = bounded_resource_manager(max_streams=2, max_memory_bytes=1000)
    assert not limits.acquire_memory(1001)
    assert limits.acquire_memory(1000)
    assert not limits.acquire_memory(1)
    assert (limits.limits.max_streams, limits.limits.max_memory_bytes) == (2, 1000)


@pytest.mark.parametrize("name", ["max_streams", "max_memory_bytes", "max_connections"])
def test_bounded_resource_manager_refuses_a_limit_below_one(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        bounded_resource_manager(**{name: 0})


def test_stream_refusal_needs_a_py_libp2p_swarm(monkeypatch: pytest.MonkeyPatch) -> None:
    host = new_host(key_pair=key_pair(B))
    monkeypatch.setattr(host, "get_network", object)
    with pytest.raises(UnsupportedHostError):
        refuse_streams_past_limit(host, bounded_resource_manager())
