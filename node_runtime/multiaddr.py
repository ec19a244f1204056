"""Multiaddr: a strict codec for self-describing network addresses (`/ip4/1.2.3.4/tcp/4001`).

Binary form (https://github.com/multiformats/multiaddr): a sequence of components, each
`varint(protocol code) ‖ value`, where the value has a fixed size per protocol (4 bytes for ip4,
2 for tcp, none for quic-v1, …) or is `varint(length) ‖ bytes`. Text form: `/name/value` per
component, values in each protocol's text syntax.

`multiformats.multiaddr` is not used: it lacks dns, p2p, quic-v1, certhash and more, refuses a
protocol appearing twice (every relay address), and does not length-check values on decode.

Strictness, so that every accepted value has one binary and one text form and both round-trip:
varints must be shortest-form; values must be complete and valid (ports in range, names non-empty
UTF-8 without `/`, p2p and certhash values well-formed multihashes); a path protocol (`unix`),
whose text value runs to the end of the address, may only be the last component. Everything
refused raises `InvalidMultiaddrError`.

Not supported: garlic64/garlic32 (I2P's base64 variant and length rules), the deprecated
p2p-webrtc-star/p2p-webrtc-direct/p2p-websocket-star/p2p-stardust, and the rarely used thread,
shs, silverpine, scion and http-path.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from multiformats import multibase, varint

from node_runtime.errors import InvalidMultiaddrError, InvalidPeerIdError
from node_runtime.peer_id import CanonicalBytes, PeerId
from snapshot_schema.multihash import is_multihash, multihash_problem, read_varint


class _Refused(Exception):
    """A value codec's reason to refuse; turned into `InvalidMultiaddrError` with context."""


# Value codecs: `parse` turns text into value bytes (raising `_Refused`), `render` turns valid
# value bytes into text, `check` says what is wrong with decoded value bytes (or `None`).


def _parse_ip4(text: str) -> bytes:
    try:
        return ipaddress.IPv4Address(text).packed
    except ValueError as error:
        raise _Refused(str(error)) from None


def _render_ip4(value: bytes) -> str:
    return f"{value[0]}.{value[1]}.{value[2]}.{value[3]}"  # much faster than ipaddress


def _parse_ip6(text: str) -> bytes:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as error:
        raise _Refused(str(error)) from None
    if address.scope_id is not None:
        raise _Refused("a zone goes in its own /ip6zone component")
    return address.packed


def _render_ip6(value: bytes) -> str:
    return ipaddress.IPv6Address(value).compressed


def _parse_decimal(text: str, maximum: int, width: int) -> bytes:
    # int() alone would also take "+1", " 1", "1_0" and non-ASCII digits.
    if not (0 < len(text) <= len(str(maximum)) and text.isascii() and text.isdigit()):
        raise _Refused(f"expected a decimal number from 0 to {maximum}")
    number = int(text)
    if number > maximum:
        raise _Refused(f"expected a decimal number from 0 to {maximum}")
    return number.to_bytes(width, "big")


def _parse_port(text: str) -> bytes:
    return _parse_decimal(text, 0xFFFF, 2)


def _parse_prefix_length(text: str) -> bytes:
    return _parse_decimal(text, 0xFF, 1)


def _render_number(value: bytes) -> str:
    return str(int.from_bytes(value, "big"))


def _parse_utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as error:
        raise _Refused(str(error)) from None


def _check_name(value: bytes) -> str | None:
    if not value:
        return "empty value"
    try:
        value.decode()
    except UnicodeDecodeError as error:
        return str(error)
    return "contains '/'" if b"/" in value else None


def _render_text(value: bytes) -> str:
    return value.decode()


def _check_path(value: bytes) -> str | None:
    if not value.startswith(b"/"):
        return "path does not start with '/'"
    try:
        value.decode()
    except UnicodeDecodeError as error:
        return str(error)
    return None


def _parse_peer_id(text: str) -> bytes:
    try:
        return PeerId.from_string(text).to_bytes()
    except InvalidPeerIdError as error:
        raise _Refused(str(error)) from None


def _render_peer_id(value: bytes) -> str:
    return str(PeerId(value))


def _check_multihash(value: bytes) -> str | None:
    return None if is_multihash(value) else multihash_problem(value)


def _parse_certhash(text: str) -> bytes:
    try:
        value: bytes = multibase.decode(text)
    # multiformats raises ValueError and KeyError subclasses (and IndexError) on bad input.
    except (ValueError, LookupError) as error:
        raise _Refused(f"not multibase: {error}") from None
    problem = _check_multihash(value)
    if problem is not None:
        raise _Refused(problem)
    return value


def _render_certhash(value: bytes) -> str:
    text: str = multibase.encode(value, "base64url")  # what go-libp2p and rust-libp2p print
    return text


def _onion_codec(
    host_chars: int,
) -> tuple[Callable[[str], bytes], Callable[[bytes], str], Callable[[bytes], str | None]]:
    """Codecs for `base32 host:port` values (onion: 16 characters, onion3: 56), port ≥ 1."""
    host_bytes = host_chars * 5 // 8

    def parse(text: str) -> bytes:
        host, colon, port = text.partition(":")
        if len(host) != host_chars or not colon:
            raise _Refused(f"expected {host_chars} base32 characters, ':' and a port")
        try:
            decoded = base64.b32decode(host, casefold=True)
        except (binascii.Error, ValueError) as error:  # ValueError: non-ASCII text
            raise _Refused(f"host is not base32: {error}") from None
        if len(decoded) != host_bytes:  # b32decode takes '=' padding within the host
            raise _Refused(f"host is not {host_chars} unpadded base32 characters")
        return decoded + _parse_port(port)

    def render(value: bytes) -> str:
        host = base64.b32encode(value[:host_bytes]).decode().lower()
        return f"{host}:{int.from_bytes(value[host_bytes:], 'big')}"

    def check(value: bytes) -> str | None:
        return "port 0" if value[host_bytes:] == b"\0\0" else None

    return parse, render, check


@dataclass(frozen=True, slots=True)
class _Protocol:
    code: int
    name: str
    size: int  # value size in bytes: 0 for none, _VARIABLE for a length-prefixed value
    parse: Callable[[str], bytes] | None = None
    render: Callable[[bytes], str] | None = None
    check: Callable[[bytes], str | None] | None = None
    path: bool = False  # the text value is the rest of the address; the value starts with '/'


_VARIABLE: Final = -1
_onion_parse, _onion_render, _onion_check = _onion_codec(16)
_onion3_parse, _onion3_render, _onion3_check = _onion_codec(56)

_PROTOCOLS: Final = (
    _Protocol(0x04, "ip4", 4, _parse_ip4, _render_ip4),
    _Protocol(0x06, "tcp", 2, _parse_port, _render_number),
    _Protocol(0x21, "dccp", 2, _parse_port, _render_number),
    _Protocol(0x29, "ip6", 16, _parse_ip6, _render_ip6),
    _Protocol(0x2A, "ip6zone", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x2B, "ipcidr", 1, _parse_prefix_length, _render_number),
    _Protocol(0x35, "dns", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x36, "dns4", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x37, "dns6", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x38, "dnsaddr", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x84, "sctp", 2, _parse_port, _render_number),
    _Protocol(0x0111, "udp", 2, _parse_port, _render_number),
    _Protocol(0x0118, "webrtc-direct", 0),
    _Protocol(0x0119, "webrtc", 0),
    _Protocol(0x0122, "p2p-circuit", 0),
    _Protocol(0x012D, "udt", 0),
    _Protocol(0x012E, "utp", 0),
    _Protocol(0x0190, "unix", _VARIABLE, _parse_utf8, _render_text, _check_path, path=True),
    _Protocol(0x01A5, "p2p", _VARIABLE, _parse_peer_id, _render_peer_id, _check_multihash),
    _Protocol(0x01BB, "https", 0),
    _Protocol(0x01BC, "onion", 12, _onion_parse, _onion_render, _onion_check),
    _Protocol(0x01BD, "onion3", 37, _onion3_parse, _onion3_render, _onion3_check),
    _Protocol(0x01C0, "tls", 0),
    _Protocol(0x01C1, "sni", _VARIABLE, _parse_utf8, _render_text, _check_name),
    _Protocol(0x01C6, "noise", 0),
    _Protocol(0x01CC, "quic", 0),
    _Protocol(0x01CD, "quic-v1", 0),
    _Protocol(0x01D1, "webtransport", 0),
    _Protocol(0x01D2, "certhash", _VARIABLE, _parse_certhash, _render_certhash, _check_multihash),
    _Protocol(0x01DD, "ws", 0),
    _Protocol(0x01DE, "wss", 0),
    _Protocol(0x01E0, "http", 0),
    _Protocol(0x706C61, "plaintextv2", 0),
)
_BY_CODE: Final = {protocol.code: protocol for protocol in _PROTOCOLS}
_BY_NAME: Final = {protocol.name: protocol for protocol in _PROTOCOLS} | {"ipfs": _BY_CODE[0x01A5]}
_PREFIX: Final = {protocol.code: varint.encode(protocol.code) for protocol in _PROTOCOLS}

PROTOCOL_NAMES: Final = frozenset(protocol.name for protocol in _PROTOCOLS)
"""The protocols this codec knows (canonical names; `ipfs` is also read as `p2p`)."""

_Component = tuple[_Protocol, bytes]


def _read_varint(data: bytes, offset: int, what: str) -> tuple[int, int]:
    end = len(data)
    if offset < end:
        first = data[offset]
        if first < 0x80:  # most lengths and the ip/tcp/dns codes fit in one byte
            return first, offset + 1
        # udp, quic-v1, p2p, certhash, … take two; a zero last byte would not be shortest-form.
        if offset + 1 < end and 0 < data[offset + 1] < 0x80:
            return (first & 0x7F) | (data[offset + 1] << 7), offset + 2
    varint = read_varint(data, offset)
    if varint is None:
        raise InvalidMultiaddrError(
            f"{what} at byte {offset} is truncated or not a shortest-form varint"
        )
    return varint


def _decode(data: bytes) -> list[_Component]:
    """The components of binary multiaddr `data`, each value checked."""
    if type(data) is not bytes:
        raise InvalidMultiaddrError(f"expected multiaddr `bytes`, got `{type(data).__name__}`")
    if not data:
        raise InvalidMultiaddrError("empty multiaddr")
    components = []
    offset = 0
    end = len(data)
    while offset < end:
        start = offset
        code, offset = _read_varint(data, offset, "protocol code")
        protocol = _BY_CODE.get(code)
        if protocol is None:
            raise InvalidMultiaddrError(f"unknown protocol code 0x{code:x} at byte {start}")
        size = protocol.size
        if size == _VARIABLE:
            size, offset = _read_varint(data, offset, f"/{protocol.name} value length")
        if offset + size > end:
            raise InvalidMultiaddrError(
                f"/{protocol.name} value at byte {offset} is truncated: needs {size} bytes, "
                f"{end - offset} remain"
            )
        value = data[offset : offset + size]
        offset += size
        if protocol.check is not None:
            problem = protocol.check(value)
            if problem is not None:
                raise InvalidMultiaddrError(
                    f"invalid /{protocol.name} value at byte {offset - size}: {problem}"
                )
        if protocol.path and offset != end:
            raise InvalidMultiaddrError(
                f"/{protocol.name} at byte {start} is not last: its text form runs to the end"
            )
        components.append((protocol, value))
    return components


def _encode_text(text: str) -> bytes:
    """The binary form of text multiaddr `text`."""
    if type(text) is not str:
        raise InvalidMultiaddrError(f"expected multiaddr `str`, got `{type(text).__name__}`")
    if not text.startswith("/"):
        raise InvalidMultiaddrError(f"multiaddr {text!r} does not start with '/'")
    segments = text.split("/")
    out = bytearray()
    index = 1
    while index < len(segments):
        name = segments[index]
        index += 1
        if not name:
            raise InvalidMultiaddrError(f"empty component ('//' or a trailing '/') in {text!r}")
        protocol = _BY_NAME.get(name)
        if protocol is None:
            raise InvalidMultiaddrError(f"unknown protocol {name!r} in multiaddr {text!r}")
        out += _PREFIX[protocol.code]
        if protocol.parse is None:
            continue
        if index == len(segments):
            raise InvalidMultiaddrError(f"/{name} without a value in multiaddr {text!r}")
        if protocol.path:
            value_text = "/" + "/".join(segments[index:])
            index = len(segments)
        else:
            value_text = segments[index]
            index += 1
        try:
            value = protocol.parse(value_text)
            # The same checks as decoding, so that text never yields bytes that would be refused.
            problem = None if protocol.check is None else protocol.check(value)
            if problem is not None:
                raise _Refused(problem)  # noqa: TRY301 - reported with the parse errors below
        except _Refused as error:
            raise InvalidMultiaddrError(
                f"invalid /{name} value {value_text!r} in multiaddr {text!r}: {error}"
            ) from None
        if protocol.size == _VARIABLE:
            out += varint.encode(len(value))
        out += value
    return bytes(out)


def is_multiaddr(data: bytes) -> bool:
    """Whether `data` is a valid binary multiaddr (what `Multiaddr.from_bytes` accepts)."""
    try:
        _decode(data)
    except InvalidMultiaddrError:
        return False
    return True


class Multiaddr(CanonicalBytes):
    """A network address: immutable, hashable, equal when the canonical bytes are equal."""

    __slots__ = ()

    def __init__(self, data: bytes) -> None:
        """A Multiaddr from its binary form; `InvalidMultiaddrError` if malformed."""
        _decode(data)
        object.__setattr__(self, "_bytes", data)

    @classmethod
    def from_string(cls, text: str) -> Multiaddr:
        """Parse the text form, e.g. `/ip4/127.0.0.1/tcp/4001`."""
        return cls(_encode_text(text))

    @classmethod
    def from_bytes(cls, data: bytes) -> Multiaddr:
        """Parse the binary form."""
        return cls(data)

    def to_bytes(self) -> bytes:
        """The canonical binary form."""
        return self._bytes

    def components(self) -> tuple[tuple[str, str | None], ...]:
        """Each component's protocol name and text value (`None` for protocols without one)."""
        return tuple(
            (protocol.name, None if protocol.render is None else protocol.render(value))
            for protocol, value in _decode(self._bytes)
        )

    def __str__(self) -> str:
        parts = []
        for protocol, value in _decode(self._bytes):
            parts.append("/" + protocol.name)
            if protocol.render is not None:
                # A path value already starts with '/'.
                parts.append(("" if protocol.path else "/") + protocol.render(value))
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Multiaddr({str(self)!r})"
