"""Identity: the Ed25519 keypair, its PeerId, signatures, and the owner-only key file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.errors import IdentityKeyError
from node_runtime.identity import Identity, verify
from node_runtime.peer_id import PeerId
from snapshot_schema.errors import SnapshotError

# libp2p specs, peer-ids/peer-ids.md, "Test vectors": the Ed25519 private key protobuf is
# `08 01 12 40 ‖ seed ‖ public key`; its PeerId is checked in test_peer_id.py.
SPEC_SEED = bytes.fromhex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d")
SPEC_PEER_ID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0, so a file's mode shows what it was created with, not what the umask took away."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_private(path: Path, content: bytes) -> None:
    """A key file as an owner keeps it (mode 0600), whatever it holds."""
    path.write_bytes(content)
    path.chmod(0o600)


# --- keys and PeerId --------------------------------------------------------------------------


def test_spec_seed_gives_the_spec_peer_id() -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)

    assert str(identity.peer_id) == SPEC_PEER_ID
    assert identity.peer_id == PeerId.from_public_key(identity.public_key)


def test_generated_identities_differ() -> None:
    assert Identity.generate().peer_id != Identity.generate().peer_id


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_private_bytes_of_the_wrong_size_are_refused(size: int) -> None:
    with pytest.raises(IdentityKeyError, match="32-byte"):
        Identity.from_private_bytes(bytes(size))


def test_repr_shows_the_peer_id_and_never_the_private_key() -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)

    assert repr(identity) == f"Identity(peer_id=PeerId('{SPEC_PEER_ID}'))"
    assert SPEC_SEED.hex() not in repr(identity).lower()


# --- signatures -------------------------------------------------------------------------------


@given(st.binary(max_size=256))
def test_a_signature_verifies_against_the_signers_peer_id(data: bytes) -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)

    assert verify(identity.peer_id, data, identity.sign(data))


def test_a_signature_does_not_verify_for_other_data() -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)

    assert not verify(identity.peer_id, b"other", identity.sign(b"data"))


def test_a_signature_does_not_verify_for_another_peer() -> None:
    signer = Identity.from_private_bytes(SPEC_SEED)
    other = Identity.from_private_bytes(bytes(32))

    assert not verify(other.peer_id, b"data", signer.sign(b"data"))


@pytest.mark.parametrize("signature", [b"", bytes(63), bytes(64), bytes(65)])
def test_malformed_signatures_do_not_verify(signature: bytes) -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)

    assert not verify(identity.peer_id, b"data", signature)


def test_a_hashed_peer_id_verifies_nothing() -> None:
    identity = Identity.from_private_bytes(SPEC_SEED)
    hashed = PeerId.from_string("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")

    assert not verify(hashed, b"data", identity.sign(b"data"))


# --- key file ---------------------------------------------------------------------------------


def test_saved_key_loads_back_as_the_same_identity(tmp_path: Path) -> None:
    identity = Identity.generate()
    path = tmp_path / "identity.pem"

    identity.save(path)
    loaded = Identity.load(path)

    assert loaded.peer_id == identity.peer_id
    assert verify(identity.peer_id, b"data", loaded.sign(b"data"))


def test_key_file_is_unencrypted_pkcs8_pem(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"

    Identity.from_private_bytes(SPEC_SEED).save(path)

    text = path.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert text.endswith("-----END PRIVATE KEY-----\n")


@pytest.mark.usefixtures("permissive_umask")
def test_key_file_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"

    Identity.generate().save(str(path))

    assert mode(path) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_saving_over_a_world_readable_file_leaves_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    path.write_text("old")
    path.chmod(0o644)
    identity = Identity.generate()

    identity.save(path)

    assert mode(path) == 0o600
    assert Identity.load(path).peer_id == identity.peer_id


def test_failed_save_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.pem"
    old = Identity.generate()
    old.save(path)

    def fail_replace(source: object, target: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk on fire"):
        Identity.generate().save(path)

    assert sorted(tmp_path.iterdir()) == [path]
    assert Identity.load(path).peer_id == old.peer_id


@pytest.mark.parametrize("permissions", [0o640, 0o604, 0o620, 0o602, 0o610, 0o644, 0o666])
def test_a_key_file_group_or_others_may_access_is_refused(tmp_path: Path, permissions: int) -> None:
    path = tmp_path / "identity.pem"
    Identity.generate().save(path)
    path.chmod(permissions)

    with pytest.raises(IdentityKeyError) as refused:
        Identity.load(path)

    assert str(refused.value) == (
        f"{path}: permissions {permissions:04o} are too open: a private key must be accessible "
        "by its owner only; run `chmod 600` on it"
    )


@pytest.mark.parametrize("permissions", [0o600, 0o400])
def test_an_owner_only_key_file_loads(tmp_path: Path, permissions: int) -> None:
    path = tmp_path / "identity.pem"
    identity = Identity.generate()
    identity.save(path)
    path.chmod(permissions)

    assert Identity.load(path).peer_id == identity.peer_id


def test_loading_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Identity.load(tmp_path / "absent.pem")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        bytes(range(256)),
    ],
    ids=["empty", "text", "bad-base64-body", "binary"],
)
def test_malformed_key_file_is_refused_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "identity.pem"
    write_private(path, content)

    with pytest.raises(IdentityKeyError, match=r"identity\.pem: not a usable key file"):
        Identity.load(path)


def test_encrypted_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    write_private(
        path,
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        ),
    )

    with pytest.raises(IdentityKeyError, match=r"identity\.pem: not a usable key file"):
        Identity.load(path)


def test_non_ed25519_key_file_is_refused_saying_what_it_found(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    write_private(
        path,
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )

    with pytest.raises(IdentityKeyError, match=r"expected an Ed25519 private key, found .*EC"):
        Identity.load(path)


def test_identity_key_error_is_a_snapshot_error_and_a_value_error() -> None:
    assert issubclass(IdentityKeyError, SnapshotError)
    assert issubclass(IdentityKeyError, ValueError)
