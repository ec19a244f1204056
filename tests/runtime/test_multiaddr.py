"""Multiaddr: the binary and text codec, its canonical forms, and strict refusal.

Fuzz contract: `Multiaddr.from_bytes` and `Multiaddr.from_string` return a Multiaddr or raise
`InvalidMultiaddrError`, never anything else; whatever they return round-trips through both
forms unchanged.
"""

from __future__ import annotations

import base64
import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import multibase, multicodec, varint

from node_runtime.errors import InvalidMultiaddrError
from node_runtime.multiaddr import PROTOCOL_NAMES, Multiaddr
from node_runtime.peer_id import PeerId
from snapshot_schema.errors import SnapshotError
from snapshot_schema.multihash import MULTIHASH_CODES

QM_PEER = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"
ED_PEER = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
CERTHASH = "uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"

# Text and binary pairs from go-multiaddr (multiaddr_test.go) and rust-multiaddr (tests/lib.rs).
VECTORS = [
    ("/ip4/1.2.3.4", "0401020304"),
    ("/ip4/127.0.0.1/udp/1234", "047f000001910204d2"),
    ("/ip4/127.0.0.1/tcp/4321", "047f0000010610e1"),
    ("/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"),
    ("/ip6/::1", "2900000000000000000000000000000001"),
    ("/ip6/2601:9:4f81:9700:803e:ca65:66e8:c21", "29260100094f819700803eca6566e80c21"),
    ("/udp/65535", "9102ffff"),
    ("/sctp/1234", "840104d2"),
    ("/udp/1234/udt", "910204d2ad02"),
    ("/udp/1234/utp", "910204d2ae02"),
    ("/tcp/1234/tls/http", "0604d2c003e003"),
    ("/tcp/1234/https", "0604d2bb03"),
    ("/ip4/127.0.0.1/tcp/127/noise", "047f00000106007fc603"),
    ("/ip4/127.0.0.1/tcp/127/tls/ws", "047f00000106007fc003dd03"),
    ("/ip4/127.0.0.1/udp/1234/webrtc-direct", "047f000001910204d29802"),
    ("/ip4/127.0.0.1/udp/1234/quic/webtransport", "047f000001910204d2cc03d103"),
    (
        f"/p2p/{QM_PEER}",
        "a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b",
    ),
    (
        f"/ip4/127.0.0.1/tcp/9090/p2p-circuit/p2p/{QM_PEER}",
        "047f000001062382a202"
        "a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b",
    ),
    (
        f"/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095/tcp/8000/wss/p2p/{QM_PEER}",
        "29200108a07ac542013ac986fffe317095061f40de03"
        "a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b",
    ),
    ("/onion/aaimaq4ygg2iegci:80", "bc030010c0439831b48218480050"),
    (
        "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234",
        "bd03adadec040be047f9658668b11a504f3155001f231a37f54c4476c07fb4cc139ed7e30304d2",
    ),
    (
        "/dnsaddr/sjc-1.bootstrap.libp2p.io",
        "3819736a632d312e626f6f7473747261702e6c69627032702e696f",
    ),
    (
        "/dnsaddr/sjc-1.bootstrap.libp2p.io/tcp/1234/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
        "3819736a632d312e626f6f7473747261702e6c69627032702e696f0604d2"
        "a50322122006b3608aa000274049eb28ad8e793a26ff6fab281a7d3bd77cd18eb745dfaabb",
    ),
    (
        f"/ip4/127.0.0.1/udp/1234/webrtc-direct/certhash/{CERTHASH}",
        "047f000001910204d29802"
        "d203221220c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2",
    ),
    (
        f"/ip4/127.0.0.1/udp/1234/webtransport/certhash/{CERTHASH}",
        "047f000001910204d2d103"
        "d203221220c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2",
    ),
]


@pytest.mark.parametrize(("text", "hex_bytes"), VECTORS, ids=[text for text, _ in VECTORS])
def test_reference_vectors_encode_and_decode(text: str, hex_bytes: str) -> None:
    assert Multiaddr.from_string(text).to_bytes().hex() == hex_bytes
    assert str(Multiaddr.from_bytes(bytes.fromhex(hex_bytes))) == text


# --- the protocols ----------------------------------------------------------------------------


def test_relay_address_repeats_p2p() -> None:
    text = f"/ip4/1.2.3.4/tcp/4001/p2p/{QM_PEER}/p2p-circuit/p2p/{ED_PEER}"

    address = Multiaddr.from_string(text)

    assert str(address) == text
    assert address.components() == (
        ("ip4", "1.2.3.4"),
        ("tcp", "4001"),
        ("p2p", QM_PEER),
        ("p2p-circuit", None),
        ("p2p", ED_PEER),
    )
    assert Multiaddr.from_bytes(address.to_bytes()) == address


@pytest.mark.parametrize(
    "text",
    [
        "/dns/example.com/tcp/443/wss",
        "/dns4/example.com/tcp/443/tls/sni/example.com/ws",
        "/dns6/example.com/udp/443/quic-v1/webtransport",
        "/ip6/fe80::1/ip6zone/eth0/tcp/4001",
        "/ip4/10.0.0.0/ipcidr/8",
        "/ip4/1.2.3.4/udp/4001/webrtc",
        "/ip4/1.2.3.4/tcp/80/http",
        "/ip4/1.2.3.4/dccp/5000",
        "/ip4/1.2.3.4/tcp/1/plaintextv2",
        f"/p2p/{ED_PEER}/p2p-circuit/webrtc",
        "/unix/tmp/node.sock",
        "/ip4/1.2.3.4/tcp/80/unix/a/b//c.sock",
        "/unix/",
    ],
)
def test_canonical_text_round_trips(text: str) -> None:
    address = Multiaddr.from_string(text)

    assert str(address) == text
    assert Multiaddr.from_bytes(address.to_bytes()) == address


def test_unix_path_is_the_rest_of_the_address_with_its_leading_slash() -> None:
    address = Multiaddr.from_string("/unix/tmp/ip4/1.2.3.4")

    assert address.components() == (("unix", "/tmp/ip4/1.2.3.4"),)
    assert address.to_bytes() == varint.encode(0x190) + bytes([16]) + b"/tmp/ip4/1.2.3.4"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (f"/ipfs/{QM_PEER}", f"/p2p/{QM_PEER}"),
        (f"/p2p/{PeerId.from_string(ED_PEER).to_cid_string()}", f"/p2p/{ED_PEER}"),
        ("/ip6/2001:0db8:0000:0000:0000:0000:0000:0001", "/ip6/2001:db8::1"),
        ("/tcp/00080", "/tcp/80"),
        ("/onion/AAIMAQ4YGG2IEGCI:80", "/onion/aaimaq4ygg2iegci:80"),
        (
            "/certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41",
            f"/certhash/{CERTHASH}",
        ),
    ],
    ids=["ipfs-alias", "p2p-cid", "ip6-expanded", "port-zeros", "onion-upper", "certhash-base58"],
)
def test_alternative_text_forms_print_canonically(text: str, canonical: str) -> None:
    address = Multiaddr.from_string(text)

    assert str(address) == canonical
    assert address == Multiaddr.from_string(canonical)


def test_protocol_codes_agree_with_the_multicodec_table() -> None:
    for name in PROTOCOL_NAMES:
        assert multicodec.get(name).tag == "multiaddr"
    assert Multiaddr.from_string("/quic-v1").to_bytes() == varint.encode(0x01CD)


# --- refused bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_bytes", "reason"),
    [
        ("", "empty multiaddr"),
        ("00", "unknown protocol code 0x0 at byte 0"),
        ("0401020304ff01", "unknown protocol code 0xff at byte 5"),
        ("04010203", "/ip4 value at byte 1 is truncated: needs 4 bytes, 3 remain"),
        ("0604", "/tcp value at byte 1 is truncated"),
        ("91", "protocol code at byte 0 is truncated"),
        ("8400" + "01020304", "protocol code at byte 0 is .* not a shortest-form varint"),
        ("36", "/dns4 value length at byte 1 is truncated"),
        ("360a" + b"exa".hex(), "/dns4 value at byte 2 is truncated: needs 10 bytes, 3 remain"),
        ("368100" + b"a".hex(), "/dns4 value length at byte 1 is .* not a shortest-form varint"),
        ("36ffffffffffffffff7f", "/dns4 value at byte 10 is truncated"),
        ("3600", "invalid /dns4 value at byte 2: empty value"),
        ("3602c328", "invalid /dns4 value at byte 2: 'utf-8' codec can't decode"),
        ("3603612f62", "invalid /dns4 value at byte 2: contains '/'"),
        ("2a00", "invalid /ip6zone value at byte 2: empty value"),
        ("a503027f00", "invalid /p2p value at byte 3: unknown multihash code 0x7f"),
        ("a503021220", "invalid /p2p value at byte 3: .*declares a 32-byte digest"),
        ("d2030112", "invalid /certhash value at byte 3"),
        ("900304" + b"/tmp".hex() + "0604d2", "/unix at byte 0 is not last"),
        ("900303" + b"tmp".hex(), "invalid /unix value at byte 3: path does not start"),
        ("bc03" + "00" * 12, "invalid /onion value at byte 2: port 0"),
    ],
    ids=[
        "empty",
        "unknown-code",
        "unknown-code-later",
        "truncated-ip4",
        "truncated-port",
        "truncated-code-varint",
        "padded-code-varint",
        "missing-length",
        "length-beyond-end",
        "padded-length-varint",
        "huge-length",
        "empty-dns",
        "invalid-utf8-dns",
        "slash-in-dns",
        "empty-ip6zone",
        "p2p-unknown-hash",
        "p2p-short-digest",
        "certhash-not-multihash",
        "unix-not-last",
        "unix-relative",
        "onion-port-0",
    ],
)
def test_malformed_bytes_are_refused_saying_where(hex_bytes: str, reason: str) -> None:
    with pytest.raises(InvalidMultiaddrError, match=reason):
        Multiaddr.from_bytes(bytes.fromhex(hex_bytes))


def test_bytes_like_objects_other_than_bytes_are_refused() -> None:
    with pytest.raises(InvalidMultiaddrError, match="got `bytearray`"):
        Multiaddr.from_bytes(bytearray(bytes.fromhex("0401020304")))  # type: ignore[arg-type]


def test_invalid_multiaddr_error_is_a_snapshot_error_and_a_value_error() -> None:
    assert issubclass(InvalidMultiaddrError, SnapshotError)
    assert issubclass(InvalidMultiaddrError, ValueError)


# --- refused text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "does not start with '/'"),
        ("ip4/1.2.3.4", "does not start with '/'"),
        ("/", "empty component"),
        ("/ip4/1.2.3.4/", "empty component"),
        ("/tcp/1//udp/2", "empty component"),
        ("/ip4//tcp/1", "invalid /ip4 value ''"),
        ("/ip5/1.2.3.4", "unknown protocol 'ip5'"),
        ("/IP4/1.2.3.4", "unknown protocol 'IP4'"),
        ("/ip4", "/ip4 without a value"),
        ("/ip4/127.0.0.1/tcp", "/tcp without a value"),
        ("/ip4/::1", "invalid /ip4 value '::1'"),
        ("/ip4/01.2.3.4", "invalid /ip4 value"),
        ("/ip4/1.2.3", "invalid /ip4 value"),
        ("/ip6/fe80::1%eth0", "its own /ip6zone"),
        ("/ip6/1.2.3.4", "invalid /ip6 value"),
        ("/tcp/65536", "from 0 to 65535"),
        ("/udp/-1", "from 0 to 65535"),
        ("/tcp/+1", "from 0 to 65535"),
        ("/tcp/ 1", "from 0 to 65535"),
        ("/tcp/1_0", "from 0 to 65535"),
        ("/tcp/\u0663", "from 0 to 65535"),  # ARABIC-INDIC DIGIT THREE: int() would take it
        ("/tcp/000080", "from 0 to 65535"),
        ("/ipcidr/256", "from 0 to 255"),
        ("/p2p", "/p2p without a value"),
        ("/p2p/tcp", "invalid /p2p value 'tcp'"),
        ("/p2p/QmIl", "not valid base58btc"),
        ("/p2p-circuit/50", "unknown protocol '50'"),
        ("/dns4/\ud800", "invalid /dns4 value"),
        ("/certhash", "/certhash without a value"),
        ("/certhash/b2uaraocy6yrdblb4sfptaddgimjmmp", "invalid /certhash value"),
        ("/certhash/notmultibase", "not multibase"),
        ("/unix", "/unix without a value"),
        ("/onion/9imaq4ygg2iegci7:80", "not base32"),
        ("/onion/aaimaq4ygg2iegci7:80", "expected 16 base32 characters"),
        ("/onion/timaq4ygg2iegci7:0", "port 0"),
        ("/onion/timaq4ygg2iegci7:-1", "from 0 to 65535"),
        ("/onion/timaq4ygg2iegci7", "':' and a port"),
        ("/onion/timaq4ygg2iegci@:666", "not base32"),
        ("/onion/aaaaaaaaaaaa====:80", "unpadded base32"),
        ("/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:0", "port 0"),
        ("/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd7:80", "expected 56"),
    ],
)
def test_malformed_text_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidMultiaddrError, match=reason):
        Multiaddr.from_string(text)


def test_non_string_text_is_refused() -> None:
    with pytest.raises(InvalidMultiaddrError, match="got `bytes`"):
        Multiaddr.from_string(b"/ip4/1.2.3.4")  # type: ignore[arg-type]


# --- value semantics --------------------------------------------------------------------------


def test_equality_and_hash_follow_the_canonical_bytes() -> None:
    alias = Multiaddr.from_string(f"/ip4/1.2.3.4/tcp/4001/ipfs/{QM_PEER}")
    canonical = Multiaddr.from_bytes(alias.to_bytes())

    assert alias == canonical
    assert hash(alias) == hash(canonical)
    assert alias != Multiaddr.from_string("/ip4/1.2.3.4/tcp/4002")
    assert alias != str(alias)
    assert alias != alias.to_bytes()


def test_multiaddr_is_immutable() -> None:
    address = Multiaddr.from_string("/ip4/1.2.3.4/tcp/4001")

    with pytest.raises(AttributeError):
        address._bytes = b""
    with pytest.raises(AttributeError):
        del address._bytes
    assert str(address) == "/ip4/1.2.3.4/tcp/4001"


def test_pickle_copy_and_repr() -> None:
    address = Multiaddr.from_string(f"/dns4/example.com/tcp/443/wss/p2p/{ED_PEER}")

    assert pickle.loads(pickle.dumps(address)) == address
    assert copy.deepcopy(address) == address
    assert repr(address) == f"Multiaddr('/dns4/example.com/tcp/443/wss/p2p/{ED_PEER}')"


# --- properties -------------------------------------------------------------------------------

multihashes = st.builds(
    lambda code, digest: varint.encode(code) + varint.encode(len(digest)) + digest,
    st.sampled_from(sorted(MULTIHASH_CODES)),
    st.binary(max_size=48),
)
ports = st.integers(0, 0xFFFF).map(str)
names = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=24)


def onion_values(host_bytes: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda host, port: f"{base64.b32encode(host).decode().lower()}:{port}",
        st.binary(min_size=host_bytes, max_size=host_bytes),
        st.integers(1, 0xFFFF),
    )


# Canonical text values per protocol; `None` for protocols without a value.
VALUES: dict[str, st.SearchStrategy[str | None]] = {
    "ip4": st.ip_addresses(v=4).map(str),
    "ip6": st.ip_addresses(v=6).map(str),
    "tcp": ports,
    "udp": ports,
    "dccp": ports,
    "sctp": ports,
    "ipcidr": st.integers(0, 0xFF).map(str),
    "dns": names,
    "dns4": names,
    "dns6": names,
    "dnsaddr": names,
    "sni": names,
    "ip6zone": names,
    "p2p": multihashes.map(lambda multihash: str(PeerId.from_bytes(multihash))),
    "certhash": multihashes.map(lambda multihash: multibase.encode(multihash, "base64url")),
    "onion": onion_values(10),
    "onion3": onion_values(35),
}
VALUELESS = sorted(PROTOCOL_NAMES - VALUES.keys() - {"unix"})
unix_paths = st.text(st.characters(codec="utf-8"), max_size=24).map(lambda path: "/" + path)


@st.composite
def canonical_components(draw: st.DrawFn) -> list[tuple[str, str | None]]:
    """A list of components in canonical text form; `unix`, if present, last."""
    components: list[tuple[str, str | None]] = []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from([*VALUES, *VALUELESS]))
        components.append((name, draw(VALUES[name]) if name in VALUES else None))
    if draw(st.booleans()):
        components.append(("unix", draw(unix_paths)))
    return components


def to_text(components: list[tuple[str, str | None]]) -> str:
    return "".join(
        f"/{name}" if value is None else f"/{name}{value}" if name == "unix" else f"/{name}/{value}"
        for name, value in components
    )


@given(canonical_components())
def test_canonical_text_round_trips_through_bytes(components: list[tuple[str, str | None]]) -> None:
    text = to_text(components)

    address = Multiaddr.from_string(text)

    assert str(address) == text
    assert address.components() == tuple(components)
    assert Multiaddr.from_bytes(address.to_bytes()) == address
    assert str(Multiaddr.from_bytes(address.to_bytes())) == text


@given(canonical_components())
def test_each_component_starts_with_its_multicodec_code(
    components: list[tuple[str, str | None]],
) -> None:
    for name, value in components:
        single = Multiaddr.from_string(to_text([(name, value)]))
        assert single.to_bytes().startswith(varint.encode(multicodec.get(name).code))


def assert_decodes_canonically_or_is_refused(data: bytes) -> None:
    try:
        address = Multiaddr.from_bytes(data)
    except InvalidMultiaddrError:
        return
    assert address.to_bytes() == data
    assert Multiaddr.from_string(str(address)) == address
    assert len(address.components()) >= 1


@st.composite
def mutated_valid_bytes(draw: st.DrawFn) -> bytes:
    """Valid multiaddr bytes with one byte changed, removed or inserted, or cut short."""
    data = Multiaddr.from_string(to_text(draw(canonical_components()))).to_bytes()
    position = draw(st.integers(0, len(data)))
    byte = bytes([draw(st.integers(0, 255))])
    edit = draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
    if edit == "replace":
        return data[:position] + byte + data[position + 1 :]
    if edit == "delete":
        return data[:position] + data[position + 1 :]
    if edit == "insert":
        return data[:position] + byte + data[position:]
    return data[:position]


@st.composite
def component_shaped_bytes(draw: st.DrawFn) -> bytes:
    """Multiaddr protocol codes (some unsupported), each followed by arbitrary bytes."""
    codes = [codec.code for codec in multicodec.table(tag="multiaddr")]
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        payload = draw(st.binary(max_size=40))
        prefix = varint.encode(len(payload)) if draw(st.booleans()) else b""
        out += varint.encode(draw(st.sampled_from(codes))) + prefix + payload
    return out


@given(st.binary(max_size=64) | mutated_valid_bytes() | component_shaped_bytes())
def test_arbitrary_bytes_give_a_multiaddr_or_invalid_multiaddr_error(data: bytes) -> None:
    assert_decodes_canonically_or_is_refused(data)


@given(
    st.text(max_size=64)
    | canonical_components().map(to_text).map(lambda text: text.upper())
    | st.lists(
        st.sampled_from(sorted(PROTOCOL_NAMES | {"ipfs", "", "x"})) | st.text(max_size=12),
        min_size=1,
        max_size=8,
    ).map(lambda segments: "/" + "/".join(segments))
)
def test_arbitrary_text_gives_a_multiaddr_or_invalid_multiaddr_error(text: str) -> None:
    try:
        address = Multiaddr.from_string(text)
    except InvalidMultiaddrError:
        return
    assert Multiaddr.from_bytes(address.to_bytes()) == address
    assert Multiaddr.from_string(str(address)) == address
