"""ssh-dss signing (RFC 4253 6.6): opt-in only, SHA-1, r and s as 20 bytes each."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ssh_keys import (
    DSAPrivateKey,
    SignatureInvalid,
    UnsupportedAlgorithm,
    algorithms_for,
    generate_private_key,
    load_private_key,
    signer_algorithms,
)
from ssh_keys.openssh_private import decode_openssh_private_key, encode_openssh_private_key
from ssh_keys.pem import encode_pem_private_key
from ssh_wire import Reader

KEY = generate_private_key("dsa", comment="old")


def test_generated_dsa_key_is_1024_bits_and_only_that() -> None:
    assert isinstance(KEY, DSAPrivateKey)
    assert KEY.public_key.algorithm == "ssh-dss"
    assert KEY.public_key.bits == 1024  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="1024"):
        generate_private_key("dsa", 2048)


def test_signature_is_ssh_dss_with_sha1_and_40_bytes() -> None:
    sig = KEY.sign(b"data", "ssh-dss")
    r = Reader(sig)
    assert r.ascii("algorithm") == "ssh-dss"
    body = r.string("blob")
    r.expect_end("signature")
    assert len(body) == 40
    # The blob is r || s over SHA-1 of the data, as cryptography checks it.
    der = encode_dss_signature(int.from_bytes(body[:20], "big"), int.from_bytes(body[20:], "big"))
    KEY.crypto_key.public_key().verify(der, b"data", hashes.SHA1())  # type: ignore[attr-defined]


def test_verifies_only_with_sha1_allowed() -> None:
    sig = KEY.sign(b"data", "ssh-dss")
    KEY.public_key.verify(b"data", sig, allow_sha1=True)
    with pytest.raises(SignatureInvalid, match="SHA-1"):
        KEY.public_key.verify(b"data", sig)
    with pytest.raises(SignatureInvalid):
        KEY.public_key.verify(b"other", sig, allow_sha1=True)


def test_dsa_is_never_a_default() -> None:
    assert KEY.algorithms == ()
    assert KEY.legacy_algorithms == ("ssh-dss",)
    assert signer_algorithms(KEY) == ()
    assert signer_algorithms(KEY, legacy=True) == ("ssh-dss",)
    assert algorithms_for(KEY.public_key) == ()
    assert algorithms_for(KEY.public_key, legacy=True) == ("ssh-dss",)
    with pytest.raises(UnsupportedAlgorithm):
        KEY.sign(b"data")
    with pytest.raises(UnsupportedAlgorithm):
        KEY.sign(b"data", "rsa-sha2-256")


@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8"])
def test_saved_and_loaded_keys_still_sign(fmt: str) -> None:
    if fmt == "openssh":
        data = encode_openssh_private_key(KEY, "pw")
        loaded = decode_openssh_private_key(data, "pw")
    else:
        loaded = load_private_key(encode_pem_private_key(KEY, "pw", format=fmt), "pw")
    assert loaded.public_key == KEY.public_key
    KEY.public_key.verify(b"x", loaded.sign(b"x", "ssh-dss"), allow_sha1=True)
