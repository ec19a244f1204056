"""`byte_view`: any bytes-like input as one flat, contiguous run of unsigned bytes."""

from __future__ import annotations


def byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """`data`'s bytes, in order, as a contiguous view of format `B`.

    A strided view such as `memoryview(b"...")[::2]` can be neither cast nor parsed in place:
    its bytes are copied once. Check a size limit against `memoryview(data).nbytes` before
    calling this, so an oversized input is never copied. Raises `ValueError` for a released
    view.
    """
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")
