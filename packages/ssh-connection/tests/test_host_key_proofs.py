"""The server's half of host-key rotation: announcement and hostkeys-prove-00 answers."""

from __future__ import annotations

import pytest

from ssh_connection import forwarding as fw
from ssh_connection.host_key_proofs import (
    HostKeyProofError,
    announced_blobs,
    prove_data,
    prove_host_keys,
)
from ssh_keys import SignatureInvalid, generate_private_key
from ssh_transport import HostKey
from ssh_wire import Reader

SESSION_ID = bytes(range(32))


@pytest.fixture(scope="module")
def keys() -> list[HostKey]:
    return [HostKey(generate_private_key(kind)) for kind in ("ed25519", "ecdsa", "rsa")]


def test_every_key_announced_once(keys: list[HostKey]) -> None:
    blobs = announced_blobs([*keys, keys[0]])
    assert blobs == [k.signer.public_key.blob for k in keys]


def test_proofs_verify_in_the_order_asked(keys: list[HostKey]) -> None:
    asked = [keys[2], keys[0]]
    request = fw.encode_strings(k.signer.public_key.blob for k in asked)
    signatures = fw.decode_strings(prove_host_keys(keys, request, SESSION_ID, "ssh-ed25519"))
    assert len(signatures) == 2
    for key, signature in zip(asked, signatures, strict=True):
        public = key.signer.public_key
        public.verify(prove_data(SESSION_ID, public.blob), signature)
        with pytest.raises(SignatureInvalid):
            public.verify(prove_data(b"other session", public.blob), signature)
    assert Reader(signatures[0]).string("alg") == b"rsa-sha2-512"  # not SHA-1 ssh-rsa


def test_rsa_follows_the_key_exchange_algorithm(keys: list[HostKey]) -> None:
    request = fw.encode_strings([keys[2].signer.public_key.blob])
    (signature,) = fw.decode_strings(prove_host_keys(keys, request, SESSION_ID, "rsa-sha2-256"))
    assert Reader(signature).string("alg") == b"rsa-sha2-256"


def test_unknown_key_refused(keys: list[HostKey]) -> None:
    stranger = generate_private_key("ed25519").public_key.blob
    with pytest.raises(HostKeyProofError):
        prove_host_keys(keys, fw.encode_strings([stranger]), SESSION_ID, "ssh-ed25519")


@pytest.mark.parametrize("request_data", [b"\x00\x00\x00\x09abc", b"\x00\x00", b"\xff" * 8])
def test_malformed_request_refused(keys: list[HostKey], request_data: bytes) -> None:
    with pytest.raises(HostKeyProofError):
        prove_host_keys(keys, request_data, SESSION_ID, "ssh-ed25519")


def test_too_many_keys_refused(keys: list[HostKey]) -> None:
    blob = keys[0].signer.public_key.blob
    with pytest.raises(HostKeyProofError):
        prove_host_keys(keys, fw.encode_strings([blob] * 65), SESSION_ID, "ssh-ed25519")
