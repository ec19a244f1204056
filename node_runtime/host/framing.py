"""Length-prefixed frames: the only unit the host reads from or writes to a TCP stream.

A frame is `u32 big-endian length ‖ payload`, the length counting the payload only. A reader
checks the announced length against its `max_size` as soon as the 4 header bytes are in, before
buffering the payload, so a peer cannot make it allocate more than `max_size` bytes. An empty
payload is a valid frame (the host's own messages are never empty).

`encode_frame` and `decode_frame` are sans-I/O; `read_frame` and `write_frame` run them on an
asyncio stream.
"""

from __future__ import annotations

import asyncio
from typing import Final

HEADER_SIZE: Final = 4
DEFAULT_MAX_FRAME_SIZE: Final = 1 << 20  # 1 MiB of payload
_U32_MAX: Final = 2**32 - 1


class FrameError(ValueError):
    """A frame that cannot be read or written."""


class FrameTooLargeError(FrameError):
    """A payload longer than the reader's or writer's `max_size`."""


class TruncatedFrameError(FrameError):
    """The data (or the stream) ended inside a frame."""


def _check_max_size(max_size: int) -> None:
    if not 0 <= max_size <= _U32_MAX:
        raise ValueError(f"max_size must be in 0..{_U32_MAX}, got {max_size}")


def _payload_size(header: bytes, max_size: int) -> int:
    size = int.from_bytes(header, "big")
    if size > max_size:
        raise FrameTooLargeError(f"frame of {size} bytes exceeds the limit of {max_size}")
    return size


def encode_frame(payload: bytes, *, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """`payload` as one frame; `FrameTooLargeError` when it is longer than `max_size`."""
    _check_max_size(max_size)
    if len(payload) > max_size:
        raise FrameTooLargeError(f"payload of {len(payload)} bytes exceeds the limit of {max_size}")
    return len(payload).to_bytes(HEADER_SIZE, "big") + payload


def decode_frame(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> tuple[bytes, bytes]:
    """The payload of the frame at the start of `data`, and the bytes after it.

    `FrameTooLargeError` as soon as the header announces more than `max_size`;
    `TruncatedFrameError` when `data` ends before the frame does.
    """
    _check_max_size(max_size)
    if len(data) < HEADER_SIZE:
        raise TruncatedFrameError(f"{len(data)} bytes cannot hold a {HEADER_SIZE}-byte header")
    end = HEADER_SIZE + _payload_size(data[:HEADER_SIZE], max_size)
    if len(data) < end:
        raise TruncatedFrameError(f"frame needs {end} bytes, only {len(data)} present")
    return data[HEADER_SIZE:end], data[end:]


async def read_frame(
    reader: asyncio.StreamReader,
    *,
    max_size: int = DEFAULT_MAX_FRAME_SIZE,
    timeout: float | None = None,
) -> bytes | None:
    """The next frame's payload, or `None` at a clean end of stream (between frames).

    Raises `FrameTooLargeError`, `TruncatedFrameError` (the stream ended inside a frame) and
    `TimeoutError` when the whole frame has not arrived within `timeout` seconds.
    """
    _check_max_size(max_size)
    async with asyncio.timeout(timeout):
        try:
            header = await reader.readexactly(HEADER_SIZE)
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                return None
            raise TruncatedFrameError("stream ended inside a frame header") from None
        size = _payload_size(header, max_size)
        try:
            return await reader.readexactly(size)
        except asyncio.IncompleteReadError as error:
            raise TruncatedFrameError(
                f"stream ended after {len(error.partial)} of {size} payload bytes"
            ) from None


async def write_frame(
    writer: asyncio.StreamWriter, payload: bytes, *, max_size: int = DEFAULT_MAX_FRAME_SIZE
) -> None:
    """Write `payload` as one frame and wait until the transport has taken it."""
    writer.write(encode_frame(payload, max_size=max_size))
    await writer.drain()
