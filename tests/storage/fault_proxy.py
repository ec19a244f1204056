"""`FaultProxy`: an HTTP/1.1 proxy on 127.0.0.1 in front of an S3 server, with faults a test
switches on and off (an error status, a slow or silent server, a connection cut mid-upload), and
counts of the requests it received and passed on.

It parses request and response boundaries (Content-Length and chunked bodies), so it can fault
the N-th request on a kept-alive connection, as obstore (reqwest) reuses its connections. Each
client connection gets its own connection to the server, and bytes pass through unchanged (the
S3 signature covers the Host header the client sent).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import http
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

MAX_HEAD_BYTES = 64 * 1024
_RECV = 64 * 1024


@dataclass(frozen=True)
class _FailWith:
    status: int


@dataclass(frozen=True)
class _Delay:
    seconds: float


@dataclass(frozen=True)
class _Hang:
    pass


@dataclass(frozen=True)
class _DropAfter:
    nbytes: int


_Fault = _FailWith | _Delay | _Hang | _DropAfter


@dataclass
class _Armed:
    fault: _Fault
    method: str | None
    remaining: int | None


class FaultProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to `upstream` (host, port) until a fault
    is switched on. One fault at a time: switching one on replaces the previous one. Each takes
    `method` (fault only requests with that method, e.g. "PUT"; others pass) and `times` (fault
    only the next N matching requests; default: until `clear()`)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._lock = threading.Lock()
        self._armed: _Armed | None = None
        self._released = threading.Event()
        self._closed = threading.Event()
        self._received: collections.Counter[str] = collections.Counter()
        self._forwarded: collections.Counter[str] = collections.Counter()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._spawn(self._accept_loop)  # the port is known: threads can be named after it

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`: give it to a store instead of the server's endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def received(self) -> dict[str, int]:
        """Requests that reached the proxy, by method (faulted ones included)."""
        with self._lock:
            return dict(self._received)

    @property
    def forwarded(self) -> dict[str, int]:
        """Requests passed to the server in full, by method."""
        with self._lock:
            return dict(self._forwarded)

    def fail_with(
        self, status: int, *, method: str | None = None, times: int | None = None
    ) -> None:
        """Answer `status` (an S3-style XML error) instead of forwarding."""
        http.HTTPStatus(status)  # ValueError now, for a status no response could carry
        self._arm(_FailWith(status), method, times)

    def delay(self, seconds: float, *, method: str | None = None, times: int | None = None) -> None:
        """A slow server: forward the request, hold the server's response `seconds` before
        passing it on (the server has acted on the request by then)."""
        self._arm(_Delay(seconds), method, times)

    def hang(self, *, method: str | None = None, times: int | None = None) -> None:
        """A silent server: read the request, forward nothing, never answer; the connection is
        closed only by `clear()` or `close()`."""
        self._arm(_Hang(), method, times)

    def drop_after(
        self, nbytes: int, *, method: str | None = None, times: int | None = None
    ) -> None:
        """A server dying mid-upload: forward the request head and at most `nbytes` of its body,
        then close both connections without an answer. (If the whole body fits in `nbytes`, the
        server may or may not act on the request before it sees the connection close.)"""
        self._arm(_DropAfter(nbytes), method, times)

    def clear(self) -> None:
        """Switch the fault off and close the connections `hang()` holds."""
        with self._lock:
            self._armed = None
            released, self._released = self._released, threading.Event()
        released.set()

    def close(self) -> None:
        """Stop listening, close every connection and wait for the proxy's threads."""
        self._closed.set()
        self.clear()
        with self._lock:
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() or recv()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _arm(self, fault: _Fault, method: str | None, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        with self._lock:
            self._armed = _Armed(fault, method, times)

    def _take_fault(self, method: str) -> tuple[_Fault | None, threading.Event]:
        """Count a request; say which fault, if any, it gets, and the event that releases it
        from a hang."""
        with self._lock:
            self._received[method] += 1
            armed = self._armed
            if armed is None or armed.method not in (None, method):
                return None, self._released
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed = None
            return armed.fault, self._released

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"fault-proxy-{self.port}", daemon=True)
        with self._lock:
            self._threads = [alive for alive in self._threads if alive.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._track(client):
                return
            self._spawn(functools.partial(self._serve, client))

    def _track(self, sock: socket.socket) -> bool:
        """Register a socket for `close()` to shut down; False (and closed) once closing."""
        with self._lock:
            if not self._closed.is_set():
                self._sockets.add(sock)
                return True
        sock.close()
        return False

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        from_server: _Reader | None = None
        try:
            from_client = _Reader(client)
            while (head := from_client.read_head()) is not None:
                method, framing = _request_framing(head)
                fault, released = self._take_fault(method)
                if isinstance(fault, _FailWith):
                    _copy_body(from_client, framing, _discard)
                    client.sendall(_error_response(fault.status))
                    continue
                if isinstance(fault, _Hang):
                    _copy_body(from_client, framing, _discard)
                    released.wait()
                    return
                if upstream is None or from_server is None:
                    upstream = socket.create_connection(self._upstream)
                    if not self._track(upstream):
                        return
                    from_server = _Reader(upstream)
                upstream.sendall(head)
                if isinstance(fault, _DropAfter):
                    with contextlib.suppress(_BudgetSpent):
                        _copy_body(from_client, framing, _Budget(upstream.sendall, fault.nbytes))
                        self._count_forwarded(method)  # the whole body fitted in the budget
                    return
                _copy_body(from_client, framing, upstream.sendall)
                self._count_forwarded(method)
                delay = fault.seconds if isinstance(fault, _Delay) else 0.0
                if not self._relay_response(from_server, client, method, delay):
                    return
        except (OSError, ValueError):
            return  # a peer went away or spoke something else than HTTP/1.1: drop the connection
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._untrack(sock)

    def _relay_response(
        self, from_server: _Reader, client: socket.socket, method: str, delay: float
    ) -> bool:
        """Pass the server's response on; False if the connection must close afterwards."""
        while True:
            head = from_server.read_head()
            if head is None:
                return False
            if delay and self._closed.wait(delay):
                return False
            status, framing, keep_alive = _response_framing(head, method)
            client.sendall(head)
            if not 100 <= status < 200:  # an interim response: the final one follows
                _copy_body(from_server, framing, client.sendall)
                return keep_alive

    def _count_forwarded(self, method: str) -> None:
        with self._lock:
            self._forwarded[method] += 1

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        sock.close()


class _Reader:
    """Buffered reads from a socket: a message head, a line, or up to N bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def read_head(self) -> bytes | None:
        """Up to and including the blank line; None at a clean end of the stream."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise ValueError("message head too large")
            if not self._fill():
                if self._buffer:
                    raise ValueError("stream ended inside a message head")
                return None
        return self._take(end + 4)

    def read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if not self._fill():
                raise ValueError("stream ended inside a line")
        return self._take(end + 2)

    def read_some(self, limit: int) -> bytes:
        """Between 1 and `limit` bytes; b"" at the end of the stream."""
        if not self._buffer and not self._fill():
            return b""
        return self._take(min(limit, len(self._buffer)))

    def _fill(self) -> bool:
        data = self._sock.recv(_RECV)
        self._buffer += data
        return bool(data)

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken


# How a message body is delimited: a byte count, chunked, or the end of the stream.
_Framing = int | str
_CHUNKED = "chunked"
_UNTIL_EOF = "until-eof"


def _headers(head: bytes) -> tuple[list[str], dict[str, str]]:
    """The start line's words (method or version first), and the headers by lowercase name."""
    first, *lines = head.decode("latin-1").split("\r\n")
    words = first.split(" ")
    if len(words) < 2:  # a status line may omit its reason phrase
        raise ValueError(f"not an HTTP/1.1 start line: {first!r}")
    headers: dict[str, str] = {}
    for line in filter(None, lines):
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in headers and headers[name] != value.strip():
            raise ValueError(f"conflicting {name} headers")
        headers[name] = value.strip()
    return words, headers


def _body_framing(headers: dict[str, str], otherwise: _Framing) -> _Framing:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _CHUNKED
    if "content-length" in headers:
        return int(headers["content-length"])
    return otherwise


def _request_framing(head: bytes) -> tuple[str, _Framing]:
    words, headers = _headers(head)
    return words[0], _body_framing(headers, otherwise=0)


def _response_framing(head: bytes, method: str) -> tuple[int, _Framing, bool]:
    """The status, how the body is delimited, and whether the connection stays open after."""
    words, headers = _headers(head)
    status = int(words[1])
    keep_alive = "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status < 200 or status in (204, 304):
        return status, 0, keep_alive
    framing = _body_framing(headers, otherwise=_UNTIL_EOF)
    return status, framing, keep_alive and framing != _UNTIL_EOF


def _copy_body(source: _Reader, framing: _Framing, send: Callable[[bytes], object]) -> None:
    """Copy one body, its framing (chunk sizes, trailers) included."""
    if isinstance(framing, int):
        _copy_exactly(source, framing, send)
    elif framing == _UNTIL_EOF:
        while data := source.read_some(_RECV):
            send(data)
    else:  # chunked: a size line, the data, CRLF; after a zero size, trailers and a blank line
        while True:
            size_line = source.read_line()
            send(size_line)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            _copy_exactly(source, size + 2, send)
        while (line := source.read_line()) != b"\r\n":
            send(line)
        send(line)


def _copy_exactly(source: _Reader, count: int, send: Callable[[bytes], object]) -> None:
    while count:
        data = source.read_some(min(count, _RECV))
        if not data:
            raise ValueError("stream ended inside a body")
        send(data)
        count -= len(data)


class _BudgetSpent(Exception):
    pass


class _Budget:
    """Sends at most `nbytes` in all, then raises `_BudgetSpent` at the first byte past them."""

    def __init__(self, send: Callable[[bytes], object], nbytes: int) -> None:
        self._send = send
        self._left = nbytes

    def __call__(self, data: bytes) -> None:
        self._send(data[: self._left])
        if len(data) > self._left:
            raise _BudgetSpent
        self._left -= len(data)


def _discard(data: bytes) -> None:
    del data


def _error_response(status: int) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{phrase.replace(" ", "")}</Code>'
        f"<Message>injected by FaultProxy</Message></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body
