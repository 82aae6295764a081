"""openssh-key-v1 private key files."""

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
    PassphraseRequired,
    PrivateKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
    generate_private_key,
    parse_public_key_line,
)
from ssh_keys.openssh_private import (
    CIPHERS,
    MAX_BCRYPT_ROUNDS,
    decode_openssh_private_key,
    encode_openssh_private_key,
    openssh_private_key_encrypted,
    openssh_private_key_public,
)
from ssh_wire import Reader, Writer

# Written by ssh-keygen 9.2: `-t ed25519 -N '' -C fixture@example` and
# `-t ed25519 -N 'correct horse' -a 2 -C 'enc fixture'` (aes256-ctr, bcrypt).
PLAIN = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACA7GkQpRUPqi7+tgbf27qrcC+0eM8jOLhebJJbi9je7cwAAAJhgN7B3YDew
dwAAAAtzc2gtZWQyNTUxOQAAACA7GkQpRUPqi7+tgbf27qrcC+0eM8jOLhebJJbi9je7cw
AAAED69gRc3fV0bpBEcqpvz4bjtYnjdyVSnJnuWeKC9mcpZjsaRClFQ+qLv62Bt/buqtwL
7R4zyM4uF5skluL2N7tzAAAAD2ZpeHR1cmVAZXhhbXBsZQECAwQFBg==
-----END OPENSSH PRIVATE KEY-----
"""
PLAIN_PUB = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDsaRClFQ+qLv62Bt/buqtwL7R4zyM4uF5skluL2N7tz "
    "fixture@example"
)
ENC = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABDu2723/M
YBlgG9XrAFycLEAAAAAgAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIBPPPjo2PDq/ICeK
Vv4Pvno961npTijiAOUe4gxDLkRwAAAAkJzPfI2xeDgn/L9xsj6GYgbUUIlqJUctHUM3kQ
ca1vIxhEVo7lMFALrWC6CheLS0QXHL9r5WZ3DFIk0piwyT6IfostDpSSKRxLIWvpiZ04sU
wXXizR4wSb8FH3iJTX7uOmkmqZCXo26aDjFJYwTvQLFceAiHauRFq8EABwA5niHvGd1iBt
fnQNc7aNweQP4oTw==
-----END OPENSSH PRIVATE KEY-----
"""
ENC_PUB = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBPPPjo2PDq/ICeKVv4Pvno961npTijiAOUe4gxDLkRw enc fixture"
)
ENC_PASS = "correct horse"

ERRORS = (KeyFormatError, UnsupportedAlgorithm, WrongPassphrase, PassphraseRequired)


@cache
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519", comment="ed"),
        "ecdsa256": generate_private_key("ecdsa", 256, comment="e256"),
        "ecdsa384": generate_private_key("ecdsa", 384),
        "ecdsa521": generate_private_key("ecdsa", 521),
        "rsa": generate_private_key("rsa", 2048, comment="rsa key"),
        "dsa": DSAPrivateKey(dsa.generate_private_key(1024), "dsa"),
    }


def _blob(text: bytes | str) -> bytes:
    if isinstance(text, bytes):
        text = text.decode()
    return base64.b64decode("".join(text.strip().splitlines()[1:-1]))


def _armor(blob: bytes) -> str:
    b64 = base64.b64encode(blob).decode()
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"


def test_reads_ssh_keygen_plain() -> None:
    key = decode_openssh_private_key(PLAIN)
    expected = parse_public_key_line(PLAIN_PUB)
    assert key.public_key == expected.key
    assert key.comment == "fixture@example"
    assert not openssh_private_key_encrypted(PLAIN)
    assert openssh_private_key_public(PLAIN) == expected.key


def test_writes_ssh_keygen_bytes() -> None:
    # Same key, same (fixed) check-int: identical output to ssh-keygen.
    key = decode_openssh_private_key(PLAIN)
    check = _blob(PLAIN)
    r = Reader(check)
    r.raw(15), r.string(), r.string(), r.string(), r.uint32(), r.string()
    check_int = r.string()[:4]
    ours = encode_openssh_private_key(key, rng=lambda n: check_int)
    assert ours.decode() == PLAIN


def test_reads_ssh_keygen_encrypted() -> None:
    key = decode_openssh_private_key(ENC, ENC_PASS)
    assert key.public_key == parse_public_key_line(ENC_PUB).key
    assert key.comment == "enc fixture"
    assert openssh_private_key_encrypted(ENC)
    assert openssh_private_key_public(ENC) == key.public_key
    assert decode_openssh_private_key(ENC.encode(), ENC_PASS.encode()).public_key == key.public_key


def test_missing_and_wrong_passphrase() -> None:
    with pytest.raises(PassphraseRequired):
        decode_openssh_private_key(ENC)
    for wrong in ("correct horsf", "", b"\xff"):
        with pytest.raises(WrongPassphrase):
            decode_openssh_private_key(ENC, wrong)


def test_passphrase_ignored_for_plain_key() -> None:
    assert decode_openssh_private_key(PLAIN, "anything").comment == "fixture@example"


@pytest.mark.parametrize("name", sorted(keys()))
def test_round_trip_plain(name: str) -> None:
    key = keys()[name]
    text = encode_openssh_private_key(key)
    assert text.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert max(len(line) for line in text.splitlines()) <= 70
    back = decode_openssh_private_key(text)
    assert back.public_key == key.public_key
    assert back.comment == key.comment
    assert type(back) is type(key)


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_round_trip_each_cipher(cipher: str) -> None:
    key = keys()["ecdsa256"]
    text = encode_openssh_private_key(key, "pw", cipher=cipher, rounds=1, comment="c")
    blob = _blob(text)
    r = Reader(blob)
    r.raw(15)
    assert r.ascii() == cipher
    assert r.ascii() == "bcrypt"
    back = decode_openssh_private_key(text, "pw")
    assert back.public_key == key.public_key
    assert back.comment == "c"
    with pytest.raises(WrongPassphrase):
        decode_openssh_private_key(text, "pW")


@pytest.mark.parametrize("cipher", ["aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"])
def test_aead_tag_damage_is_wrong_passphrase(cipher: str) -> None:
    text = encode_openssh_private_key(keys()["ed25519"], "pw", cipher=cipher, rounds=1)
    blob = bytearray(_blob(text))
    blob[-1] ^= 0x80  # inside the tag
    with pytest.raises(WrongPassphrase):
        decode_openssh_private_key(_armor(bytes(blob)), "pw")


def _plain_parts(key: PrivateKey, padding: bytes | None = None, check: bytes = b"abcdabcd") -> str:
    """An unencrypted file built field by field (to break one thing at a time)."""
    from ssh_keys.private_wire import write_private_fields

    section = check + write_private_fields(key) + Writer().text("c").getvalue()
    if padding is None:
        padding = bytes(range(1, (-len(section)) % 8 + 1))
    section += padding
    w = Writer().raw(b"openssh-key-v1\x00").string(b"none").string(b"none").string(b"")
    w.uint32(1).string(key.public_key.blob).string(section)
    return _armor(w.getvalue())


def test_built_file_loads() -> None:
    assert decode_openssh_private_key(_plain_parts(keys()["ed25519"])).comment == "c"


def test_bad_padding_refused() -> None:
    key = keys()["ed25519"]
    blob = _blob(_plain_parts(key))
    pad_len = blob[-1]
    bad = blob[:-pad_len] + bytes([9] * pad_len)
    with pytest.raises(KeyFormatError, match="padding"):
        decode_openssh_private_key(_armor(bad))


def test_check_int_mismatch_in_plain_key_is_format_error() -> None:
    with pytest.raises(KeyFormatError, match="check-ints"):
        decode_openssh_private_key(_plain_parts(keys()["ed25519"], check=b"abcdabce"))


def test_public_key_must_match_private() -> None:
    a, b = keys()["ed25519"], generate_private_key("ed25519")
    blob = _blob(_plain_parts(a))
    blob = blob.replace(a.public_key.blob, b.public_key.blob, 1)
    with pytest.raises(KeyFormatError, match="does not match"):
        decode_openssh_private_key(_armor(blob))


def test_section_not_whole_blocks() -> None:
    blob = _blob(_plain_parts(keys()["ed25519"], padding=b"\x01"))
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(_armor(blob))


def _with_outer(cipher: bytes, kdf: bytes, options: bytes, count: int = 1) -> str:
    key = keys()["ed25519"]
    w = Writer().raw(b"openssh-key-v1\x00").string(cipher).string(kdf).string(options)
    w.uint32(count).string(key.public_key.blob).string(bytes(16))
    return _armor(w.getvalue())


def test_outer_checks() -> None:
    opts = Writer().string(b"s" * 16).uint32(4).getvalue()
    with pytest.raises(UnsupportedAlgorithm):
        decode_openssh_private_key(_with_outer(b"rot13", b"bcrypt", opts), "pw")
    with pytest.raises(UnsupportedAlgorithm):
        decode_openssh_private_key(_with_outer(b"aes256-ctr", b"scrypt", opts), "pw")
    with pytest.raises(KeyFormatError, match="exactly one"):
        decode_openssh_private_key(_with_outer(b"none", b"none", b"", count=2))
    with pytest.raises(KeyFormatError, match="needs a kdf"):
        decode_openssh_private_key(_with_outer(b"aes256-ctr", b"none", b""))
    empty_salt = Writer().string(b"").uint32(4).getvalue()
    with pytest.raises(KeyFormatError, match="salt"):
        decode_openssh_private_key(_with_outer(b"aes256-ctr", b"bcrypt", empty_salt), "pw")


def test_bcrypt_rounds_bounded() -> None:
    too_many = Writer().string(b"s" * 16).uint32(MAX_BCRYPT_ROUNDS + 1).getvalue()
    text = _with_outer(b"aes256-ctr", b"bcrypt", too_many)
    with pytest.raises(KeyFormatError, match="rounds"):
        decode_openssh_private_key(text, "pw")
    absurd = Writer().string(b"s" * 16).uint32(0xFFFFFFFF).getvalue()
    with pytest.raises(KeyFormatError, match="rounds"):
        decode_openssh_private_key(_with_outer(b"aes256-ctr", b"bcrypt", absurd), "pw")
    with pytest.raises(ValueError, match="rounds"):
        encode_openssh_private_key(keys()["ed25519"], "pw", rounds=MAX_BCRYPT_ROUNDS + 1)


def test_bcrypt_with_cipher_none_needs_a_passphrase() -> None:
    # ssh-keygen -Z none -N pw writes this: OpenSSH asks for, then ignores, the passphrase.
    key = keys()["ed25519"]
    blob = bytearray(_blob(_plain_parts(key)))
    opts = Writer().string(b"s" * 16).uint32(4).getvalue()
    head = Writer().raw(b"openssh-key-v1\x00").string(b"none").string(b"bcrypt").string(opts)
    rest = bytes(blob[len(b"openssh-key-v1\x00") + 4 + 4 + 4 + 4 + 4 :])
    text = _armor(head.getvalue() + rest)
    with pytest.raises(PassphraseRequired):
        decode_openssh_private_key(text)
    assert decode_openssh_private_key(text, "x").public_key == key.public_key


def test_huge_length_fields_refused() -> None:
    head = Writer().raw(b"openssh-key-v1\x00").string(b"none").string(b"none").string(b"")
    blob = head.uint32(1).getvalue() + b"\xff\xff\xff\xff" + b"x" * 10
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(_armor(blob))


def test_armour_errors() -> None:
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key("hello")
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(PLAIN.replace("-----END OPENSSH PRIVATE KEY-----", ""))
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(PLAIN.replace("QyNTUx", "Qy*TUx"))
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(PLAIN.encode() + "é".encode())
    with pytest.raises(KeyFormatError):
        decode_openssh_private_key(b"x" * (1024 * 1024 + 1))
    # Whitespace and CRLF inside the armour are fine.
    assert decode_openssh_private_key(PLAIN.replace("\n", "\r\n")).comment == "fixture@example"


def test_unknown_cipher_on_write() -> None:
    with pytest.raises(ValueError, match="cipher"):
        encode_openssh_private_key(keys()["ed25519"], "pw", cipher="aes512-ctr")


# -- mutation fuzz: each kind of damage gives only this package's errors --------------


@cache
def _samples() -> dict[str, str]:
    key = keys()["ecdsa256"]
    return {
        "plain": PLAIN,
        "ctr": encode_openssh_private_key(key, "pw", rounds=1).decode(),
        "gcm": encode_openssh_private_key(
            key, "pw", rounds=1, cipher="aes128-gcm@openssh.com"
        ).decode(),
        "chacha": encode_openssh_private_key(
            key, "pw", rounds=1, cipher="chacha20-poly1305@openssh.com"
        ).decode(),
        "cbc": encode_openssh_private_key(key, "pw", rounds=1, cipher="aes128-cbc").decode(),
    }


def _load_quietly(text: str | bytes) -> None:
    with contextlib.suppress(*ERRORS):
        decode_openssh_private_key(text, "pw", max_rounds=8)  # a flipped rounds field stays fast


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_samples())), st.data())
def test_binary_mutations(name: str, data: st.DataObject) -> None:
    blob = bytearray(_blob(_samples()[name]))
    kind = data.draw(st.sampled_from(["truncate", "cut-front", "flip", "byte"]))
    if kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif kind == "cut-front":
        blob = blob[data.draw(st.integers(1, len(blob))) :]
    else:
        i = data.draw(st.integers(0, len(blob) - 1))
        if kind == "flip":
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
        else:
            blob[i] = data.draw(st.integers(0, 255))
    _load_quietly(_armor(bytes(blob)))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(_samples())), st.data())
def test_text_mutations(name: str, data: st.DataObject) -> None:
    text = _samples()[name]
    i = data.draw(st.integers(0, len(text) - 1))
    kind = data.draw(st.sampled_from(["replace", "delete", "truncate"]))
    if kind == "replace":
        text = text[:i] + data.draw(st.characters(max_codepoint=0x7F)) + text[i + 1 :]
    elif kind == "delete":
        text = text[:i] + text[i + 1 :]
    else:
        text = text[:i]
    _load_quietly(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_body(blob: bytes) -> None:
    _load_quietly(_armor(b"openssh-key-v1\x00" + blob))
