"""A reference asyncio host: moves a `Node`'s envelopes between nodes over TCP.

- `framing`: length-prefixed frames (u32 big-endian length ‖ payload), size-limited;
- `handshake`: mutual Ed25519 authentication of both PeerIds, then the listener's verdict;
- `envelope`: the application message format (destination, seq, payload) and acknowledgements;
- `host`: `Host`, which dials, accepts, sends, acknowledges, de-duplicates and autosaves.

docs/host.md has the wire formats byte by byte and how to run your own nodes.
"""

from node_runtime.host.envelope import Envelope, EnvelopeError, decode_ack, encode_ack
from node_runtime.host.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameError,
    FrameTooLargeError,
    TruncatedFrameError,
    decode_frame,
    encode_frame,
    read_frame,
    write_frame,
)
from node_runtime.host.handshake import (
    CONTEXT,
    DEFAULT_HANDSHAKE_TIMEOUT,
    PROTOCOL_VERSION,
    HandshakeError,
    Hello,
    PeerRefusedError,
    Role,
    accept_handshake,
    dial_handshake,
    encode_auth,
    transcript,
)
from node_runtime.host.host import DEFAULT_DIAL_TIMEOUT, Host, Message

__all__ = [
    "CONTEXT",
    "DEFAULT_DIAL_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_MAX_FRAME_SIZE",
    "PROTOCOL_VERSION",
    "Envelope",
    "EnvelopeError",
    "FrameError",
    "FrameTooLargeError",
    "HandshakeError",
    "Hello",
    "Host",
    "Message",
    "PeerRefusedError",
    "Role",
    "TruncatedFrameError",
    "accept_handshake",
    "decode_ack",
    "decode_frame",
    "dial_handshake",
    "encode_ack",
    "encode_auth",
    "encode_frame",
    "read_frame",
    "transcript",
    "write_frame",
]
