"""The handshake: both sides learn proven PeerIds; wrong peers, impostors, refusals and silence
fail it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from node_runtime import Identity, PeerId
from node_runtime.host import (
    HandshakeError,
    Hello,
    PeerRefusedError,
    Role,
    accept_handshake,
    dial_handshake,
    encode_auth,
    read_frame,
    transcript,
    write_frame,
)

LISTENER = Identity.from_private_bytes(b"\x01" * 32)
DIALER = Identity.from_private_bytes(b"\x02" * 32)
OTHER = Identity.from_private_bytes(b"\x03" * 32)

Client = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[object]]


async def _pair(
    client: Client, *, admit: Callable[[PeerId], bool] = lambda _: True, timeout: float = 2.0
) -> tuple[PeerId | BaseException, object]:
    """Run `accept_handshake` on one end of a TCP connection and `client` on the other."""
    result: asyncio.Future[PeerId] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            result.set_result(
                await accept_handshake(reader, writer, LISTENER, admit, timeout=timeout)
            )
        except HandshakeError as error:
            result.set_exception(error)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            client_result: object = await client(reader, writer)
        except HandshakeError as error:
            client_result = error
        finally:
            writer.close()
        listener_result: PeerId | BaseException
        try:
            listener_result = await result
        except HandshakeError as error:
            listener_result = error
    return listener_result, client_result


def _dial(identity: Identity, expected: PeerId) -> Client:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await dial_handshake(reader, writer, identity, expected, timeout=2.0)

    return client


def test_both_sides_learn_each_other() -> None:
    listener, dialer = asyncio.run(asyncio.wait_for(_pair(_dial(DIALER, LISTENER.peer_id)), 5))
    assert listener == DIALER.peer_id
    assert dialer is None


def test_dialer_refuses_the_wrong_listener() -> None:
    listener, dialer = asyncio.run(asyncio.wait_for(_pair(_dial(DIALER, OTHER.peer_id)), 5))
    assert isinstance(dialer, HandshakeError)
    assert "reached" in str(dialer)
    assert isinstance(listener, HandshakeError)


def test_refusal_reaches_both_sides() -> None:
    listener, dialer = asyncio.run(
        asyncio.wait_for(_pair(_dial(DIALER, LISTENER.peer_id), admit=lambda _: False), 5)
    )
    assert isinstance(listener, PeerRefusedError)
    assert listener.peer == DIALER.peer_id
    assert isinstance(dialer, PeerRefusedError)


def test_impostor_fails_to_prove_the_claimed_peer_id() -> None:
    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        frame = await read_frame(reader)
        assert frame is not None
        theirs = Hello.decode(frame)
        mine = Hello.fresh(DIALER.peer_id)  # claims DIALER's PeerId, holds OTHER's key
        await write_frame(writer, mine.encode())
        await write_frame(writer, encode_auth(OTHER.sign(transcript(Role.DIALER, mine, theirs))))
        return await reader.read()  # the listener's AUTH, then the close: no verdict

    admitted: list[PeerId] = []

    def admit(peer: PeerId) -> bool:
        admitted.append(peer)
        return True

    listener, rest = asyncio.run(asyncio.wait_for(_pair(impostor, admit=admit), 5))
    assert isinstance(listener, HandshakeError)
    assert "did not prove" in str(listener)
    assert admitted == []  # policy is not even asked
    assert isinstance(rest, bytes)
    assert len(rest) == 4 + 1 + 64  # exactly one AUTH frame


def test_silent_peer_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        return await reader.read()

    listener, rest = asyncio.run(asyncio.wait_for(_pair(silent, timeout=0.05), 5))
    assert isinstance(listener, HandshakeError)
    assert "timed out" in str(listener)
    assert isinstance(rest, bytes)
    assert len(rest) == 4 + 1 + 1 + 32 + 38  # our HELLO only


def test_hello_of_another_version_is_refused() -> None:
    async def future_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = Hello(DIALER.peer_id, bytes(32), version=2)
        await write_frame(writer, hello.encode())
        await reader.read()

    listener, _ = asyncio.run(asyncio.wait_for(_pair(future_peer), 5))
    assert isinstance(listener, HandshakeError)
    assert "version 2" in str(listener)


@pytest.mark.parametrize("claimed", [LISTENER.peer_id, PeerId(bytes([0x12, 0x20]) + bytes(32))])
def test_own_or_hashed_peer_id_is_refused(claimed: PeerId) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await write_frame(writer, Hello.fresh(claimed).encode())
        await reader.read()

    listener, _ = asyncio.run(asyncio.wait_for(_pair(client), 5))
    assert isinstance(listener, HandshakeError)


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        (encode_auth(bytes(63)), "of kind 0x02"),  # a signature one byte short
        (bytes([0x03, 0x00]), "of kind 0x02"),  # a VERDICT where AUTH goes
        (bytes(300), "bad handshake frame"),  # over the handshake's frame limit
        (None, "connection closed"),
    ],
    ids=["short-auth", "wrong-kind", "oversize", "closed"],
)
def test_a_malformed_or_missing_auth_fails_the_handshake(second: bytes | None, reason: str) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await write_frame(writer, Hello.fresh(DIALER.peer_id).encode())
        if second is None:
            writer.write_eof()  # half-closed: the listener can still write, reads an end
        else:
            await write_frame(writer, second)
        await reader.read()

    listener, _ = asyncio.run(asyncio.wait_for(_pair(client), 5))
    assert isinstance(listener, HandshakeError)
    assert reason in str(listener)
