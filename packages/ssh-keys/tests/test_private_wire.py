"""Per-type private key fields (PROTOCOL.key / agent ADD_IDENTITY encoding)."""

from __future__ import annotations

import base64
import contextlib
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_keys import (
    DSAPrivateKey,
    KeyFormatError,
    PrivateKey,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
    SKPrivateKey,
    UnsupportedAlgorithm,
    generate_private_key,
)
from ssh_keys.private_wire import (
    certificate_type,
    read_private_entry,
    read_private_fields,
    write_private_fields,
)
from ssh_wire import Reader, Writer

# The private section of a key ssh-keygen wrote (ed25519, comment "fixture@example"):
# check-ints, then these fields.
_FIXTURE = base64.b64decode(
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    "QyNTUxOQAAACA7GkQpRUPqi7+tgbf27qrcC+0eM8jOLhebJJbi9je7cwAAAJhgN7B3YDew"
    "dwAAAAtzc2gtZWQyNTUxOQAAACA7GkQpRUPqi7+tgbf27qrcC+0eM8jOLhebJJbi9je7cw"
    "AAAED69gRc3fV0bpBEcqpvz4bjtYnjdyVSnJnuWeKC9mcpZjsaRClFQ+qLv62Bt/buqtwL"
    "7R4zyM4uF5skluL2N7tzAAAAD2ZpeHR1cmVAZXhhbXBsZQECAwQFBg=="
)
_FIXTURE_PUB = "AAAAC3NzaC1lZDI1NTE5AAAAIDsaRClFQ+qLv62Bt/buqtwL7R4zyM4uF5skluL2N7tz"

ERRORS = (KeyFormatError, UnsupportedAlgorithm)


@cache
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519"),
        "ecdsa256": generate_private_key("ecdsa", 256),
        "ecdsa384": generate_private_key("ecdsa", 384),
        "ecdsa521": generate_private_key("ecdsa", 521),
        "rsa": generate_private_key("rsa", 2048),
        "dsa": DSAPrivateKey(dsa.generate_private_key(1024)),
        "sk-ed25519": SKPrivateKey(
            SKEd25519PublicKey(bytes(range(32)), "ssh:"), 0x01, b"handle" * 10, b""
        ),
        "sk-ecdsa": SKPrivateKey(
            SKECDSAPublicKey(
                generate_private_key("ecdsa", 256).public_key.point,  # type: ignore[attr-defined]
                "ssh:test",
            ),
            0x05,
            b"\x00\xffkh",
            b"r",
        ),
    }


def _fields(name: str) -> bytes:
    return write_private_fields(keys()[name])


@pytest.mark.parametrize("name", sorted(keys()))
def test_round_trip(name: str) -> None:
    key = keys()[name]
    data = write_private_fields(key)
    r = Reader(data)
    back = read_private_fields(r)
    assert r.at_end()
    assert type(back) is type(key)
    assert back.public_key == key.public_key
    assert write_private_fields(back) == data
    assert Reader(data).ascii() == key.algorithm


def test_sk_fields_survive() -> None:
    key = keys()["sk-ecdsa"]
    back = read_private_fields(Reader(write_private_fields(key)))
    assert isinstance(back, SKPrivateKey)
    assert (back.flags, back.key_handle, back.reserved, back.application) == (
        0x05,
        b"\x00\xffkh",
        b"r",
        "ssh:test",
    )


def test_reads_ssh_keygen_fields() -> None:
    # Skip magic and the outer fields to the private section, then the check-ints.
    r = Reader(_FIXTURE)
    r.raw(15)
    r.string(), r.string(), r.string(), r.uint32(), r.string()
    section = Reader(r.string())
    section.uint32(), section.uint32()
    key = read_private_fields(section)
    assert section.text() == "fixture@example"
    assert key.public_key.to_line() == "ssh-ed25519 " + _FIXTURE_PUB
    # Writing it again gives ssh-keygen's bytes exactly.
    start = _FIXTURE.index(b"\x00\x00\x00\x0bssh-ed25519", 60)
    assert _FIXTURE[start : start + len(write_private_fields(key))] == write_private_fields(key)


def test_rsa_private_order_is_n_then_e() -> None:
    key = keys()["rsa"]
    r = Reader(write_private_fields(key))
    r.ascii()
    n = r.mpint()
    e = r.mpint()
    assert (n, e) == (key.public_key.n, key.public_key.e)  # type: ignore[attr-defined]


def test_ed25519_private_holds_seed_and_public() -> None:
    data = bytearray(_fields("ed25519"))
    data[-1] ^= 1  # last byte of the embedded public key copy
    with pytest.raises(KeyFormatError, match="does not hold"):
        read_private_fields(Reader(bytes(data)))


def test_ecdsa_mismatch_refused() -> None:
    a, b = keys()["ecdsa256"], generate_private_key("ecdsa", 256)
    w = Writer().string(a.algorithm.encode())
    w.string(b"nistp256").string(a.public_key.point)  # type: ignore[attr-defined]
    w.mpint(b.crypto_key.private_numbers().private_value)  # type: ignore[attr-defined]
    with pytest.raises(KeyFormatError, match="does not match"):
        read_private_fields(Reader(w.getvalue()))


def test_ecdsa_curve_mismatch_refused() -> None:
    # Only the curve field changes (the type name says "ecdsa-sha2-nistp256").
    data = _fields("ecdsa256")
    r = Reader(data)
    name = r.string()
    rest = data[r.offset :].replace(b"nistp256", b"nistp384", 1)
    with pytest.raises(KeyFormatError):
        read_private_fields(Reader(Writer().string(name).getvalue() + rest))


def test_rsa_bad_iqmp_refused() -> None:
    key = keys()["rsa"]
    nums = key.crypto_key.private_numbers()  # type: ignore[attr-defined]
    w = Writer().string(b"ssh-rsa").mpint(nums.public_numbers.n).mpint(nums.public_numbers.e)
    w.mpint(nums.d).mpint(nums.iqmp + 1).mpint(nums.p).mpint(nums.q)
    with pytest.raises(KeyFormatError, match="inconsistent"):
        read_private_fields(Reader(w.getvalue()))


def test_dsa_wrong_x_refused() -> None:
    key = keys()["dsa"]
    pub = key.public_key
    x = key.crypto_key.private_numbers().x  # type: ignore[attr-defined]
    w = Writer().string(b"ssh-dss")
    w.mpint(pub.p).mpint(pub.q).mpint(pub.g).mpint(pub.y).mpint(x + 1)  # type: ignore[attr-defined]
    with pytest.raises(KeyFormatError):
        read_private_fields(Reader(w.getvalue()))


def test_unknown_type() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        read_private_fields(Reader(Writer().string(b"ssh-foo").string(b"x").getvalue()))


def test_huge_length_refused_before_allocation() -> None:
    data = Writer().string(b"ssh-ed25519").getvalue() + b"\xff\xff\xff\xff"
    with pytest.raises(KeyFormatError):
        read_private_fields(Reader(data))


# -- certificates: the cert blob replaces the public fields ------------------------


def _fake_cert(key: PrivateKey) -> bytes:
    """A structurally valid certificate prefix: type, nonce, the key's public fields."""
    blob = Reader(key.public_key.blob)
    blob.ascii()
    cert_type = certificate_type(key.algorithm)
    return Writer().string(cert_type.encode()).string(b"n" * 32).raw(blob.rest()).getvalue()


@pytest.mark.parametrize("name", ["ed25519", "ecdsa384", "rsa", "dsa", "sk-ed25519", "sk-ecdsa"])
def test_certificate_entries(name: str) -> None:
    key = keys()[name]
    cert = _fake_cert(key) + b"rest of the certificate"
    data = write_private_fields(key, certificate=cert)
    r = Reader(data)
    assert r.ascii() == certificate_type(key.algorithm)
    assert r.string() == cert
    entry = read_private_entry(Reader(data))
    assert entry.certificate == cert
    assert entry.key.public_key == key.public_key
    assert read_private_fields(Reader(data)).public_key == key.public_key


def test_certificate_type_names() -> None:
    assert certificate_type("ssh-rsa") == "ssh-rsa-cert-v01@openssh.com"
    assert certificate_type("sk-ssh-ed25519@openssh.com") == "sk-ssh-ed25519-cert-v01@openssh.com"
    assert (
        certificate_type("sk-ecdsa-sha2-nistp256@openssh.com")
        == "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com"
    )


def test_certificate_for_another_key_refused() -> None:
    cert = _fake_cert(generate_private_key("ed25519"))
    with pytest.raises(KeyFormatError):
        write_private_fields(keys()["ed25519"], certificate=cert)


# -- mutation fuzz -------------------------------------------------------------------

_NAMES = sorted(keys())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_NAMES), st.data())
def test_mutations_raise_only_package_errors(name: str, data: st.DataObject) -> None:
    encoded = bytearray(_fields(name))
    kind = data.draw(st.sampled_from(["truncate", "flip", "byte"]))
    if kind == "truncate":
        encoded = encoded[: data.draw(st.integers(0, len(encoded) - 1))]
    else:
        i = data.draw(st.integers(0, len(encoded) - 1))
        if kind == "flip":
            encoded[i] ^= 1 << data.draw(st.integers(0, 7))
        else:
            encoded[i] = data.draw(st.integers(0, 255))
    try:
        r = Reader(bytes(encoded))
        read_private_fields(r)
    except ERRORS:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(blob: bytes) -> None:
    with contextlib.suppress(*ERRORS):
        read_private_fields(Reader(blob))
