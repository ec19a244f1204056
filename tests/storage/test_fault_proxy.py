"""`FaultProxy` between obstore and a real S3 server: each fault gives the client the failure it
stands for, `clear()` restores service, and the counts say what reached the server. The HTTP
framing obstore does not use (chunked bodies, a response ended by closing) is checked against a
small local server."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import obstore
import pytest
from obstore.exceptions import GenericError

from storage.fault_proxy import FaultProxy
from storage.s3_fixtures import S3Bucket
from storage.seaweed import HOST

# Loose: a fault must end in an error, not a hang; how fast is not the point.
NOT_A_HANG = 15.0


def test_without_a_fault_requests_pass_and_are_counted(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    store = s3_bucket.store_at(fault_proxy.endpoint)
    obstore.put(store, "a", b"1")
    obstore.put(store, "b", b"2")
    assert bytes(obstore.get(store, "a").bytes()) == b"1"
    assert fault_proxy.received == {"PUT": 2, "GET": 1}
    assert fault_proxy.forwarded == {"PUT": 2, "GET": 1}


def test_a_503_is_retried_then_raised_and_nothing_is_stored(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.fail_with(503)
    with pytest.raises(GenericError, match="503 Service Unavailable"):
        obstore.put(s3_bucket.store_at(fault_proxy.endpoint, max_retries=2), "key", b"value")
    assert fault_proxy.received == {"PUT": 3}
    assert fault_proxy.forwarded == {}
    with pytest.raises(FileNotFoundError):
        obstore.get(s3_bucket.store, "key")


def test_a_fault_for_n_requests_then_lets_them_pass(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.fail_with(503, times=1)
    obstore.put(s3_bucket.store_at(fault_proxy.endpoint, max_retries=2), "key", b"value")
    assert fault_proxy.received == {"PUT": 2}
    assert fault_proxy.forwarded == {"PUT": 1}
    assert bytes(obstore.get(s3_bucket.store, "key").bytes()) == b"value"


def test_a_fault_for_one_method_lets_the_others_pass(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    obstore.put(s3_bucket.store, "key", b"value")
    fault_proxy.fail_with(500, method="PUT")
    store = s3_bucket.store_at(fault_proxy.endpoint, max_retries=0)
    assert bytes(obstore.get(store, "key").bytes()) == b"value"
    with pytest.raises(GenericError, match="500 Internal Server Error"):
        obstore.put(store, "key", b"other")
    assert fault_proxy.forwarded == {"GET": 1}


def test_a_hang_raises_a_timeout_after_the_retries(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.hang()
    store = s3_bucket.store_at(fault_proxy.endpoint, timeout="300ms", max_retries=1)
    started = time.monotonic()
    with pytest.raises(GenericError, match="Timeout"):
        obstore.put(store, "key", b"value")
    assert time.monotonic() - started < NOT_A_HANG
    assert fault_proxy.received == {"PUT": 2}
    assert fault_proxy.forwarded == {}


def test_clear_ends_a_hang_and_restores_service(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    store = s3_bucket.store_at(fault_proxy.endpoint, timeout="300ms", max_retries=0)
    fault_proxy.hang()
    with pytest.raises(GenericError, match="Timeout"):
        obstore.get(store, "key")
    fault_proxy.clear()
    obstore.put(store, "key", b"value")
    assert bytes(obstore.get(store, "key").bytes()) == b"value"
    assert fault_proxy.forwarded == {"PUT": 1, "GET": 1}


def test_a_delay_shorter_than_the_timeout_only_slows_the_answer(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.delay(0.3)
    started = time.monotonic()
    obstore.put(s3_bucket.store_at(fault_proxy.endpoint), "key", b"value")
    assert time.monotonic() - started >= 0.3
    assert fault_proxy.forwarded == {"PUT": 1}


def test_a_delay_past_the_timeout_fails_the_client_after_the_write_landed(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    store = s3_bucket.store_at(fault_proxy.endpoint, timeout="1s", max_retries=0)
    obstore.put(store, "warm-up", b"")  # the bucket's first write also creates its volume
    fault_proxy.delay(5)
    with pytest.raises(GenericError, match="Timeout"):
        obstore.put(store, "key", b"value", mode="create")
    assert fault_proxy.forwarded == {"PUT": 2}
    assert bytes(obstore.get(s3_bucket.store, "key").bytes()) == b"value"


def test_a_drop_mid_upload_fails_every_attempt_and_nothing_is_stored(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.drop_after(1000)
    with pytest.raises(GenericError, match=r"IncompleteMessage|reset|broken pipe"):
        obstore.put(s3_bucket.store_at(fault_proxy.endpoint, max_retries=2), "key", bytes(65536))
    assert fault_proxy.received == {"PUT": 3}
    assert fault_proxy.forwarded == {}
    with pytest.raises(FileNotFoundError):
        obstore.get(s3_bucket.store, "key")


def test_a_drop_after_the_whole_upload_leaves_the_answer_missing(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    fault_proxy.drop_after(1000)
    with pytest.raises(GenericError, match="IncompleteMessage"):
        obstore.put(s3_bucket.store_at(fault_proxy.endpoint, max_retries=0), "key", bytes(1000))
    assert fault_proxy.forwarded == {"PUT": 1}


def test_invalid_faults_are_refused(fault_proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="999"):
        fault_proxy.fail_with(999)
    with pytest.raises(ValueError, match="times must be at least 1, not 0"):
        fault_proxy.delay(1, times=0)


def test_close_ends_every_thread_even_a_hung_one(s3_bucket: S3Bucket) -> None:
    proxy = FaultProxy((HOST, s3_bucket.server.s3_port))
    proxy.hang()
    store = s3_bucket.store_at(proxy.endpoint, timeout="300ms", max_retries=0)
    with pytest.raises(GenericError, match="Timeout"):
        obstore.get(store, "key")
    assert proxy.received == {"GET": 1}
    proxy.close()
    assert [t for t in threading.enumerate() if t.name == f"fault-proxy-{proxy.port}"] == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, proxy.port)).close()


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """PUT answers the length of its chunked body; GET /chunked answers a chunked body; GET
    /until-eof answers a body without a length, ended by closing the connection."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        body = b""
        while size := int(self.rfile.readline(), 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() != b"\r\n":
            pass
        self._answer({"Content-Length": str(len(str(len(body))))}, str(len(body)).encode())

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self._answer(
                {"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
        else:
            self.close_connection = True
            self._answer({"Connection": "close"}, b"until the end")

    def _answer(self, headers: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@pytest.fixture
def echo_proxy() -> Iterator[FaultProxy]:
    """A `FaultProxy` in front of a local `_EchoHandler` server."""
    server = http.server.ThreadingHTTPServer((HOST, 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with FaultProxy((HOST, server.server_address[1])) as proxy:
            yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_chunked_bodies_keep_request_boundaries_on_one_connection(
    echo_proxy: FaultProxy,
) -> None:
    connection = http.client.HTTPConnection(HOST, echo_proxy.port, timeout=5)
    try:
        assert _exchange(connection, "PUT", "/x", [b"abc", b"defg"]) == (200, b"7")
        echo_proxy.fail_with(503, times=1)
        status, _ = _exchange(connection, "PUT", "/x", [b"faulted"])
        assert status == 503
        assert _exchange(connection, "GET", "/chunked") == (200, b"hello world")
        assert _exchange(connection, "PUT", "/x", [b"a" * 100_000]) == (200, b"100000")
    finally:
        connection.close()
    assert echo_proxy.received == {"PUT": 3, "GET": 1}
    assert echo_proxy.forwarded == {"PUT": 2, "GET": 1}


def test_a_response_ended_by_closing_is_passed_whole(echo_proxy: FaultProxy) -> None:
    connection = http.client.HTTPConnection(HOST, echo_proxy.port, timeout=5)
    try:
        assert _exchange(connection, "GET", "/until-eof") == (200, b"until the end")
        assert _exchange(connection, "GET", "/chunked") == (200, b"hello world")
    finally:
        connection.close()


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    chunks: list[bytes] | None = None,
) -> tuple[int, bytes]:
    """One request (a chunked body if `chunks`), on the connection while it stays open."""
    connection.request(method, path, body=iter(chunks) if chunks else None, encode_chunked=True)
    response = connection.getresponse()
    return response.status, response.read()
