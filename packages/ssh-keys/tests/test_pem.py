"""PEM private and public keys (PKCS#1, SEC1, DSA, PKCS#8, SPKI)."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_keys import (
    DSAPrivateKey,
    KeyFormatError,
    PassphraseRequired,
    PrivateKey,
    SKEd25519PublicKey,
    SKPrivateKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
    generate_private_key,
    pem,
)
from ssh_keys.pem import (
    decode_pem_private_key,
    decode_pem_public_key,
    encode_pem_private_key,
    encode_pem_public_key,
    find_pem_blocks,
)

ERRORS = (KeyFormatError, UnsupportedAlgorithm, WrongPassphrase, PassphraseRequired)


@cache
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519"),
        "ecdsa256": generate_private_key("ecdsa", 256),
        "ecdsa384": generate_private_key("ecdsa", 384),
        "ecdsa521": generate_private_key("ecdsa", 521),
        "rsa": generate_private_key("rsa", 2048),
        "dsa": DSAPrivateKey(dsa.generate_private_key(1024)),
    }


_LABELS = {
    ("rsa", "pem"): "RSA PRIVATE KEY",
    ("dsa", "pem"): "DSA PRIVATE KEY",
    ("ecdsa256", "pem"): "EC PRIVATE KEY",
}

_CASES = [
    (name, fmt, pw)
    for name in sorted(keys())
    for fmt in ("pem", "pkcs8")
    for pw in (None, "s3cret pass")
    if not (name == "ed25519" and fmt == "pem")
]


@pytest.mark.parametrize(("name", "fmt", "pw"), _CASES)
def test_round_trip(name: str, fmt: str, pw: str | None) -> None:
    key = keys()[name]
    text = encode_pem_private_key(key, pw, format=fmt)
    (block,) = find_pem_blocks(text)
    if fmt == "pkcs8":
        assert block.label == ("ENCRYPTED PRIVATE KEY" if pw else "PRIVATE KEY")
    else:
        assert block.label == _LABELS.get((name, fmt), "EC PRIVATE KEY")
        assert block.encrypted == bool(pw)
    back = decode_pem_private_key(text, pw)
    assert back.public_key == key.public_key
    assert type(back) is type(key)
    if pw:
        with pytest.raises(PassphraseRequired):
            decode_pem_private_key(text)
        with pytest.raises(WrongPassphrase):
            decode_pem_private_key(text, pw + "x")
        with pytest.raises(WrongPassphrase):
            decode_pem_private_key(text, "")


def test_ed25519_has_no_traditional_pem() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        encode_pem_private_key(keys()["ed25519"], format="pem")


def test_sk_keys_have_no_pem() -> None:
    sk = SKPrivateKey(SKEd25519PublicKey(bytes(32), "ssh:"), 1, b"h")
    with pytest.raises(UnsupportedAlgorithm):
        encode_pem_private_key(sk)
    with pytest.raises(UnsupportedAlgorithm):
        encode_pem_public_key(sk.public_key)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        encode_pem_private_key(keys()["rsa"], format="der")


def test_ec_parameters_block_is_skipped() -> None:
    key = keys()["ecdsa256"]
    params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    text = params + encode_pem_private_key(key).decode()
    assert decode_pem_private_key(text).public_key == key.public_key


def test_unsupported_curve() -> None:
    other = ec.generate_private_key(ec.SECP256K1())
    text = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedAlgorithm):
        decode_pem_private_key(text)


def _prime(start: int) -> int:
    def probable_prime(n: int) -> bool:
        return all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13))

    n = start | 1
    while not probable_prime(n):
        n += 2
    return n


def test_small_rsa_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    p, q = _prime(3 << 380), _prime(5 << 380)
    e, phi = 65537, (p - 1) * (q - 1)
    d = pow(e, -1, phi)
    nums = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    )
    small = nums.private_key(unsafe_skip_rsa_key_validation=True)
    assert small.key_size < 1024
    text = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError):
        decode_pem_private_key(text)


def test_pbkdf2_iterations_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # cryptography writes PBKDF2 with 2048 iterations (as OpenSSL does).
    text = encode_pem_private_key(keys()["ecdsa256"], "pw", format="pkcs8")
    (block,) = find_pem_blocks(text)
    assert b"\x02\x02\x08\x00" in block.der
    assert decode_pem_private_key(text, "pw")
    monkeypatch.setattr(pem, "MAX_PBKDF2_ITERATIONS", 2047)
    with pytest.raises(KeyFormatError, match="iterations"):
        decode_pem_private_key(text, "pw")


@pytest.mark.parametrize("name", sorted(keys()))
def test_public_spki_round_trip(name: str) -> None:
    pub = keys()[name].public_key
    text = encode_pem_public_key(pub)
    assert text.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert decode_pem_public_key(text) == pub


def test_public_pkcs1_rsa() -> None:
    pub = keys()["rsa"].public_key
    text = encode_pem_public_key(pub, format="pkcs1")
    assert text.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    assert decode_pem_public_key(text) == pub
    with pytest.raises(UnsupportedAlgorithm):
        encode_pem_public_key(keys()["ed25519"].public_key, format="pkcs1")


def test_no_block() -> None:
    with pytest.raises(KeyFormatError):
        decode_pem_private_key("nothing here")
    with pytest.raises(KeyFormatError):
        decode_pem_public_key(encode_pem_private_key(keys()["rsa"]))
    with pytest.raises(KeyFormatError):
        decode_pem_private_key(b"\xff\xfe")


def test_headers_parsed() -> None:
    text = encode_pem_private_key(keys()["rsa"], "pw", format="pem")
    (block,) = find_pem_blocks(text)
    assert block.headers["Proc-Type"] == "4,ENCRYPTED"
    assert block.headers["DEK-Info"].startswith("AES-256-CBC,")


# -- mutation fuzz ------------------------------------------------------------------


@cache
def _samples() -> dict[str, tuple[str, str | None]]:
    rsa_key, ec_key = keys()["rsa"], keys()["ecdsa256"]
    return {
        "pkcs1": (encode_pem_private_key(rsa_key).decode(), None),
        "sec1-enc": (encode_pem_private_key(ec_key, "pw").decode(), "pw"),
        "pkcs8": (encode_pem_private_key(keys()["ed25519"], format="pkcs8").decode(), None),
        "pkcs8-enc": (encode_pem_private_key(ec_key, "pw", format="pkcs8").decode(), "pw"),
        "dsa": (encode_pem_private_key(keys()["dsa"]).decode(), None),
        "spki": (encode_pem_public_key(rsa_key.public_key).decode(), None),
    }


def _damage(text: str, data: st.DataObject) -> str:
    lines = text.splitlines(keepends=True)
    # Damage the body, not the BEGIN line, so the decoder gets past the label.
    body_start = len(lines[0]) + (len(lines[1]) + len(lines[2]) + 1 if "Proc-Type" in text else 0)
    i = data.draw(st.integers(body_start, len(text) - 1))
    kind = data.draw(st.sampled_from(["replace", "delete", "truncate"]))
    if kind == "replace":
        return text[:i] + data.draw(st.sampled_from("AZaz09+/=!\n")) + text[i + 1 :]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    return text[:i]


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(sorted(_samples())), st.data())
def test_mutations_raise_only_package_errors(name: str, data: st.DataObject) -> None:
    text, pw = _samples()[name]
    damaged = _damage(text, data)
    try:
        if name == "spki":
            decode_pem_public_key(damaged)
        else:
            decode_pem_private_key(damaged, pw)
    except ERRORS:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(_samples())), st.data())
def test_der_bit_flips(name: str, data: st.DataObject) -> None:
    import base64

    text, pw = _samples()[name]
    (block,) = find_pem_blocks(text)
    der = bytearray(block.der)
    i = data.draw(st.integers(0, len(der) - 1))
    der[i] ^= 1 << data.draw(st.integers(0, 7))
    headers = "".join(f"{k}: {v}\n" for k, v in block.headers.items())
    headers += "\n" if headers else ""
    b64 = base64.encodebytes(bytes(der)).decode()
    damaged = f"-----BEGIN {block.label}-----\n{headers}{b64}-----END {block.label}-----\n"
    try:
        if name == "spki":
            decode_pem_public_key(damaged)
        else:
            decode_pem_private_key(damaged, pw)
    except ERRORS:
        pass
