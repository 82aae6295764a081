"""Audit: a certificate's verify-required option applies to signatures made with it."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssh_keys import SignatureInvalid, generate_private_key
from ssh_keys.certificate import CertType, sign_certificate
from ssh_keys.public import SKEd25519PublicKey
from ssh_keys.sshsig import AllowedSigners, SSHSignature, _signed_data
from ssh_wire import Writer

APP = "ssh:"


def _sk_signature(token: ed25519.Ed25519PrivateKey, data: bytes, flags: int) -> bytes:
    signed = (
        hashlib.sha256(APP.encode()).digest()
        + bytes([flags])
        + (1).to_bytes(4, "big")
        + hashlib.sha256(data).digest()
    )
    w = Writer().string(b"sk-ssh-ed25519@openssh.com").string(token.sign(signed))
    return w.byte(flags).uint32(1).getvalue()


@pytest.fixture(scope="module")
def setup():
    token = ed25519.Ed25519PrivateKey.generate()
    raw = token.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ca = generate_private_key("ed25519")
    cert = sign_certificate(
        ca,
        SKEd25519PublicKey(raw, APP),
        cert_type=CertType.USER,
        principals=["alice"],
        critical_options={"verify-required": ""},
    )
    assert cert.verify_required
    return token, ca, cert


def test_certificate_verify_honours_verify_required(setup):
    token, _, cert = setup
    with pytest.raises(SignatureInvalid, match="verification"):
        cert.verify(b"data", _sk_signature(token, b"data", 0x01))  # presence only
    cert.verify(b"data", _sk_signature(token, b"data", 0x05))  # presence and verification


def test_sshsig_with_verify_required_certificate(setup):
    token, ca, cert = setup
    signers = AllowedSigners.from_text(f"alice cert-authority {ca.public_key.to_line()}\n")
    digest = hashlib.sha512(b"msg").digest()
    message = _signed_data("file", b"", "sha512", digest)
    for flags, ok in ((0x01, False), (0x05, True)):
        armored = SSHSignature(cert, "file", b"", "sha512", _sk_signature(token, message, flags))
        if ok:
            assert signers.verify(b"msg", armored.armor(), "file", "alice") == cert
        else:
            with pytest.raises(SignatureInvalid):
                signers.verify(b"msg", armored.armor(), "file", "alice")
