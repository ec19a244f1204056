"""Mutual authentication: each side proves it holds the Ed25519 key its PeerId inlines.

Three kinds of frames (see `framing.py`), each at most `HANDSHAKE_MAX_FRAME_SIZE` bytes, so an
unauthenticated peer cannot make the host buffer more than that:

    HELLO   = 0x01 ‖ u8 version (1) ‖ nonce[32] ‖ PeerId bytes (38 for Ed25519)
    AUTH    = 0x02 ‖ Ed25519 signature[64]
    VERDICT = 0x03 ‖ u8 (0x00 accepted, 0x01 refused by policy)

1. Both sides send HELLO at once, each with a fresh random nonce.
2. Each checks the other's HELLO: version 1, a PeerId that inlines an Ed25519 key and is not its
   own. The dialer also checks that the PeerId is the one it meant to dial, before signing
   anything.
3. Each sends AUTH: its signature over

       b"nodesnap/handshake/v1\\n" ‖ role ‖ u8 len(dialer id) ‖ dialer id
           ‖ u8 len(listener id) ‖ listener id ‖ dialer nonce ‖ listener nonce

   where `role` is `b"D"` when the dialer signs and `b"L"` when the listener does. The other
   side's nonce makes the signature fresh (it cannot be replayed on another connection); both
   PeerIds bind it to this pair; the role stops one side's signature being reflected back as
   the other's; the context keeps it from meaning anything outside this handshake.
4. Each verifies the other's AUTH with `node_runtime.verify` against the PeerId from its HELLO.
5. The listener, now knowing who the dialer is, asks its policy (`admit`) and sends VERDICT. A
   refused dialer learns it was refused (and backs off) instead of seeing a bare close.

Nothing but these frames is read before step 4 succeeds, so no envelope from an unproven peer
is ever looked at. Any failure, a broken connection included, raises `HandshakeError`
(`PeerRefusedError` for a policy refusal); the whole exchange is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Callable
from typing import Final

import attrs

from node_runtime.errors import InvalidPeerIdError
from node_runtime.host.framing import FrameError, read_frame, write_frame
from node_runtime.identity import Identity, verify
from node_runtime.peer_id import PeerId

PROTOCOL_VERSION: Final = 1
CONTEXT: Final = b"nodesnap/handshake/v1\n"
NONCE_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
HANDSHAKE_MAX_FRAME_SIZE: Final = 256
DEFAULT_HANDSHAKE_TIMEOUT: Final = 5.0

HELLO_KIND: Final = 0x01
AUTH_KIND: Final = 0x02
VERDICT_KIND: Final = 0x03
_ACCEPTED: Final = 0x00
_REFUSED: Final = 0x01


class HandshakeError(Exception):
    """The handshake failed: malformed or unexpected frames, a bad signature, the wrong peer,
    a closed connection or a timeout."""


class PeerRefusedError(HandshakeError):
    """The listener's policy refused the (authenticated) dialer; `peer` is the dialer."""

    def __init__(self, peer: PeerId) -> None:
        super().__init__(f"{peer} refused by policy")
        self.peer = peer


class Role(enum.Enum):
    """Which side signs: the byte that goes after `CONTEXT` in the signed transcript."""

    DIALER = b"D"
    LISTENER = b"L"


@attrs.frozen
class Hello:
    """The first frame each side sends."""

    peer_id: PeerId
    nonce: bytes
    version: int = PROTOCOL_VERSION

    @classmethod
    def fresh(cls, peer_id: PeerId) -> Hello:
        return cls(peer_id, secrets.token_bytes(NONCE_SIZE))

    def encode(self) -> bytes:
        return bytes((HELLO_KIND, self.version)) + self.nonce + self.peer_id.to_bytes()

    @classmethod
    def decode(cls, data: bytes) -> Hello:
        """A HELLO of any version; `HandshakeError` when malformed."""
        peer_at = 2 + NONCE_SIZE
        if len(data) <= peer_at or data[0] != HELLO_KIND:
            raise HandshakeError("expected a HELLO frame")
        try:
            peer_id = PeerId.from_bytes(data[peer_at:])
        except InvalidPeerIdError as error:
            raise HandshakeError(f"HELLO carries a bad PeerId: {error}") from None
        return cls(peer_id, data[2:peer_at], data[1])


def transcript(role: Role, dialer: Hello, listener: Hello) -> bytes:
    """What the side playing `role` signs."""
    dialer_id = dialer.peer_id.to_bytes()
    listener_id = listener.peer_id.to_bytes()
    return b"".join(
        (
            CONTEXT,
            role.value,
            bytes((len(dialer_id),)),
            dialer_id,
            bytes((len(listener_id),)),
            listener_id,
            dialer.nonce,
            listener.nonce,
        )
    )


def encode_auth(signature: bytes) -> bytes:
    return bytes((AUTH_KIND,)) + signature


async def _read(reader: asyncio.StreamReader, kind: int, size: int | None = None) -> bytes:
    """The next handshake frame, checked to be of `kind` and, if given, `size` bytes long."""
    try:
        frame = await read_frame(reader, max_size=HANDSHAKE_MAX_FRAME_SIZE)
    except FrameError as error:
        raise HandshakeError(f"bad handshake frame: {error}") from None
    if frame is None:
        raise HandshakeError("connection closed during the handshake")
    if not frame or frame[0] != kind or (size is not None and len(frame) != size):
        raise HandshakeError(f"expected a handshake frame of kind {kind:#04x}")
    return frame


async def _exchange_hellos(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, identity: Identity
) -> tuple[Hello, Hello]:
    mine = Hello.fresh(identity.peer_id)
    await write_frame(writer, mine.encode(), max_size=HANDSHAKE_MAX_FRAME_SIZE)
    theirs = Hello.decode(await _read(reader, HELLO_KIND))
    if theirs.version != PROTOCOL_VERSION:
        raise HandshakeError(f"unsupported handshake version {theirs.version}")
    if len(theirs.nonce) != NONCE_SIZE or theirs.peer_id.public_key() is None:
        raise HandshakeError("the peer's PeerId does not inline an Ed25519 key")
    if theirs.peer_id == identity.peer_id:
        raise HandshakeError("the peer claims this node's own PeerId")
    return mine, theirs


async def _authenticate(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    identity: Identity,
    *,
    role: Role,
    dialer: Hello,
    listener: Hello,
) -> None:
    """Send our AUTH, then check theirs."""
    signature = identity.sign(transcript(role, dialer, listener))
    await write_frame(writer, encode_auth(signature), max_size=HANDSHAKE_MAX_FRAME_SIZE)
    theirs = (await _read(reader, AUTH_KIND, 1 + SIGNATURE_SIZE))[1:]
    other_role, other = (Role.LISTENER, listener) if role is Role.DIALER else (Role.DIALER, dialer)
    if not verify(other.peer_id, transcript(other_role, dialer, listener), theirs):
        raise HandshakeError(f"{other.peer_id} did not prove its PeerId")


async def dial_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    identity: Identity,
    expected: PeerId,
    *,
    timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
) -> None:
    """Authenticate a connection we opened to `expected` and wait for its verdict."""
    try:
        async with asyncio.timeout(timeout):
            mine, theirs = await _exchange_hellos(reader, writer, identity)
            if theirs.peer_id != expected:
                raise HandshakeError(f"dialed {expected}, reached {theirs.peer_id}")
            await _authenticate(
                reader, writer, identity, role=Role.DIALER, dialer=mine, listener=theirs
            )
            verdict = (await _read(reader, VERDICT_KIND, 2))[1]
            if verdict == _REFUSED:
                raise PeerRefusedError(identity.peer_id)
            if verdict != _ACCEPTED:
                raise HandshakeError(f"unknown verdict {verdict:#04x}")
    except TimeoutError:
        raise HandshakeError(f"handshake timed out after {timeout} s") from None
    except OSError as error:
        raise HandshakeError(f"connection failed during the handshake: {error}") from None


async def accept_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    identity: Identity,
    admit: Callable[[PeerId], bool],
    *,
    timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
) -> PeerId:
    """Authenticate a connection we accepted; the dialer's proven PeerId if `admit` allows it.

    A refused dialer is told so (VERDICT 0x01) and `PeerRefusedError` is raised.
    """
    try:
        async with asyncio.timeout(timeout):
            mine, theirs = await _exchange_hellos(reader, writer, identity)
            await _authenticate(
                reader, writer, identity, role=Role.LISTENER, dialer=theirs, listener=mine
            )
            peer = theirs.peer_id
            admitted = admit(peer)
            verdict = bytes((VERDICT_KIND, _ACCEPTED if admitted else _REFUSED))
            await write_frame(writer, verdict, max_size=HANDSHAKE_MAX_FRAME_SIZE)
    except TimeoutError:
        raise HandshakeError(f"handshake timed out after {timeout} s") from None
    except OSError as error:
        raise HandshakeError(f"connection failed during the handshake: {error}") from None
    if not admitted:
        raise PeerRefusedError(peer)
    return peer
