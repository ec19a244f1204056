"""`deadline()`: fail a test that blocks (opening a FIFO, say) instead of hanging the suite."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import NoReturn


class StillBlockedError(Exception):
    """Not an `OSError` (as `TimeoutError` is), which the code under test may catch."""


@contextlib.contextmanager
def deadline(seconds: int = 10) -> Iterator[None]:
    """Raise `StillBlockedError` in the block if it is still running after `seconds`."""

    def expire(signum: int, frame: object) -> NoReturn:
        raise StillBlockedError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
