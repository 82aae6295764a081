"""Public keys: blobs, signatures (security keys included), fingerprints, lines."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssh_keys import (
    KeyFormatError,
    SignatureInvalid,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
    UnsupportedAlgorithm,
    generate_private_key,
    parse_public_key_blob,
    parse_public_key_line,
)
from ssh_wire import Writer

APPLICATION = "ssh:"


def sk_signed_message(data: bytes, flags: int, counter: int) -> bytes:
    """What a FIDO authenticator signs (PROTOCOL.u2f), built independently of the library."""
    return (
        hashlib.sha256(APPLICATION.encode()).digest()
        + bytes([flags])
        + counter.to_bytes(4, "big")
        + hashlib.sha256(data).digest()
    )


def sk_ed25519_pair() -> tuple[ed25519.Ed25519PrivateKey, SKEd25519PublicKey]:
    token = ed25519.Ed25519PrivateKey.generate()
    raw = token.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return token, SKEd25519PublicKey(raw, APPLICATION)


def sk_ed25519_signature(token: ed25519.Ed25519PrivateKey, data: bytes, flags: int,
                         counter: int) -> bytes:  # fmt: skip
    sig = token.sign(sk_signed_message(data, flags, counter))
    return (
        Writer().string(b"sk-ssh-ed25519@openssh.com").string(sig).byte(flags).uint32(counter)
    ).getvalue()


def test_sk_ed25519_signature_verifies_with_flags_and_counter() -> None:
    token, key = sk_ed25519_pair()
    info = key.verify_sk(b"data", sk_ed25519_signature(token, b"data", 0x01, 42))
    assert (info.flags, info.counter, info.user_present, info.user_verified) == (1, 42, True, False)
    key.verify(b"data", sk_ed25519_signature(token, b"data", 0x05, 7))


def test_sk_signature_without_user_presence_is_refused_by_default() -> None:
    token, key = sk_ed25519_pair()
    signature = sk_ed25519_signature(token, b"data", 0x00, 1)
    with pytest.raises(SignatureInvalid, match="user presence"):
        key.verify(b"data", signature)
    assert key.verify_sk(b"data", signature, require_user_presence=False).counter == 1


def test_sk_signature_user_verification_when_required() -> None:
    token, key = sk_ed25519_pair()
    with pytest.raises(SignatureInvalid, match="verification"):
        key.verify_sk(b"d", sk_ed25519_signature(token, b"d", 0x01, 1), require_verified=True)
    key.verify_sk(b"d", sk_ed25519_signature(token, b"d", 0x05, 1), require_verified=True)


def test_sk_signature_over_other_data_or_counter_fails() -> None:
    token, key = sk_ed25519_pair()
    good = sk_ed25519_signature(token, b"data", 0x01, 5)
    with pytest.raises(SignatureInvalid):
        key.verify(b"other", good)
    tampered = good[:-1] + b"\x06"  # counter changed after signing
    with pytest.raises(SignatureInvalid):
        key.verify(b"data", tampered)


def test_sk_ecdsa_signature_verifies() -> None:
    token = ec.generate_private_key(ec.SECP256R1())
    point = token.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    key = SKECDSAPublicKey(point, APPLICATION)
    assert key.algorithm == "sk-ecdsa-sha2-nistp256@openssh.com"
    assert parse_public_key_blob(key.blob) == key
    der = token.sign(sk_signed_message(b"data", 1, 9), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = (
        Writer().string(key.algorithm.encode()).string(Writer().mpint(r).mpint(s).getvalue())
        .byte(1).uint32(9).getvalue()
    )  # fmt: skip
    assert key.verify_sk(b"data", signature).counter == 9
    with pytest.raises(SignatureInvalid):
        key.verify(b"other", signature)


@pytest.mark.parametrize(("kind", "bits"), [("ed25519", None), ("ecdsa", 256), ("ecdsa", 384),
                                            ("ecdsa", 521), ("rsa", 2048)])  # fmt: skip
def test_generated_keys_sign_and_verify(kind: str, bits: int | None) -> None:
    key = generate_private_key(kind, bits)
    for algorithm in key.algorithms:
        signature = key.sign(b"payload", algorithm)
        key.public_key.verify(b"payload", signature)
        with pytest.raises(SignatureInvalid):
            key.public_key.verify(b"payload!", signature)
    assert parse_public_key_blob(key.public_key.blob) == key.public_key


def test_rsa_sha1_signatures_verify_only_when_allowed() -> None:
    key = generate_private_key("rsa", 2048)
    assert isinstance(key.crypto_key, rsa.RSAPrivateKey)  # type: ignore[attr-defined]
    raw = key.crypto_key.sign(b"m", padding.PKCS1v15(), hashes.SHA1())  # type: ignore[attr-defined]
    signature = Writer().string(b"ssh-rsa").string(raw).getvalue()
    with pytest.raises(SignatureInvalid, match="SHA-1"):
        key.public_key.verify(b"m", signature)
    key.public_key.verify(b"m", signature, allow_sha1=True)


def test_rsa_sha1_signatures_only_when_asked_for_by_name() -> None:
    key = generate_private_key("rsa", 2048)
    assert "ssh-rsa" not in key.algorithms  # never a default
    assert key.sign(b"m").startswith(Writer().string(b"rsa-sha2-512").getvalue())
    assert key.legacy_algorithms == ("ssh-rsa",)  # type: ignore[attr-defined]
    signature = key.sign(b"m", "ssh-rsa")
    with pytest.raises(SignatureInvalid, match="SHA-1"):
        key.public_key.verify(b"m", signature)
    key.public_key.verify(b"m", signature, allow_sha1=True)
    ed = generate_private_key("ed25519")
    with pytest.raises(UnsupportedAlgorithm):
        ed.sign(b"m", "ssh-rsa")


def test_signature_for_another_algorithm_is_refused() -> None:
    ed = generate_private_key("ed25519")
    ecdsa = generate_private_key("ecdsa")
    with pytest.raises(SignatureInvalid, match="does not match"):
        ed.public_key.verify(b"m", ecdsa.sign(b"m"))


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        b"\x00\x00\x00",
        b"\x00\x00\x00\x0bssh-ed25519",
        b"\xff\xff\xff\xff",
        b"\x00\x00\x00\x0bssh-ed25519\x00",
    ],
)
def test_malformed_signatures_raise_signature_invalid(signature: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        generate_private_key("ed25519").public_key.verify(b"m", signature)


def test_public_key_line_round_trip_and_mismatch() -> None:
    key = generate_private_key("ecdsa", 384).public_key
    line = parse_public_key_line(key.to_line("me@host") + "\n")
    assert (line.key, line.comment) == (key, "me@host")
    with pytest.raises(KeyFormatError, match="line says"):
        parse_public_key_line("ssh-ed25519 " + key.to_line().split()[1])
    with pytest.raises(KeyFormatError, match="base64"):
        parse_public_key_line("ssh-ed25519 AAAA!!!")


def test_fingerprint_formats() -> None:
    key = generate_private_key("ed25519").public_key
    assert key.fingerprint().startswith("SHA256:")
    assert "=" not in key.fingerprint()
    md5 = key.fingerprint("md5")
    assert md5.startswith("MD5:")
    assert len(md5.split(":")) == 17
    with pytest.raises(ValueError, match="sha256 or md5"):
        key.fingerprint("sha1")


def test_small_rsa_keys_are_refused() -> None:
    blob = Writer().string(b"ssh-rsa").mpint(65537).mpint((1 << 511) + 1).getvalue()
    with pytest.raises(KeyFormatError, match="1024"):
        parse_public_key_blob(blob)


def test_ecdsa_curve_must_match_name() -> None:
    key = generate_private_key("ecdsa", 256).public_key
    blob = key.blob.replace(b"nistp256\x00", b"nistp384\x00", 1)
    with pytest.raises(KeyFormatError):
        parse_public_key_blob(blob)
