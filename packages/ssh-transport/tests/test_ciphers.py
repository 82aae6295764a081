"""Cipher registry and known-answer tests against independently built references.

The references below never use the code under test: AES-CTR is rebuilt from AES-ECB with an
explicit 128-bit counter, AES-GCM from the streaming GCM mode, and chacha20-poly1305 from a
pure-Python ChaCha20 block function and Poly1305 written from the papers, so the nonce and
key layout of our cipher is checked, not assumed.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ssh_transport import ciphers
from ssh_transport.ciphers import (
    DEFAULT_CIPHERS,
    LEGACY_CIPHERS,
    NONE_CIPHER,
    SUPPORTED_CIPHERS,
    AEADCipher,
    CipherSpec,
    StreamCipher,
    cipher_spec,
    default_ciphers,
    register_cipher,
    supported_ciphers,
)
from ssh_transport.macs import mac_spec
from ssh_transport.packet import PacketOpener, PacketSealer

# --- helpers -------------------------------------------------------------------------------


def counting_rng() -> Callable[[int], bytes]:
    """Deterministic "random" padding: 0xA0, 0xA1, ... so the expected packet is known."""
    state = [0xA0]

    def rng(n: int) -> bytes:
        start = state[0]
        state[0] = (start + n) & 0xFF
        return bytes((start + i) & 0xFF for i in range(n))

    return rng


def pad_len(aligned: int, block: int) -> int:
    """RFC 4253 6: pad to a multiple of the block, with at least 4 bytes."""
    pad = block - aligned % block
    return pad + block if pad < 4 else pad


def plain_packet(payload: bytes, pad: bytes, *, length_aligned: bool) -> bytes:
    """packet_length || padding_length || payload || padding, built by hand."""
    body = bytes((len(pad),)) + payload + pad
    assert (len(body) + (4 if length_aligned else 0)) % 8 == 0
    return struct.pack(">I", len(body)) + body


KEY16 = bytes(range(16))
KEY32 = bytes(range(32))
KEY64 = bytes(range(64))
IV16 = bytes(range(0x40, 0x50))


# --- registry ------------------------------------------------------------------------------


def test_defaults_are_aead_first_then_ctr_and_exclude_legacy() -> None:
    assert DEFAULT_CIPHERS == (
        "chacha20-poly1305@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
    )
    assert LEGACY_CIPHERS == ("aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc")
    assert SUPPORTED_CIPHERS == DEFAULT_CIPHERS + LEGACY_CIPHERS
    assert all(cipher_spec(n).legacy for n in LEGACY_CIPHERS)
    assert not any(cipher_spec(n).legacy for n in DEFAULT_CIPHERS)


@pytest.mark.parametrize(
    ("name", "key", "iv", "block", "tag", "aead"),
    [
        ("chacha20-poly1305@openssh.com", 64, 0, 8, 16, True),
        ("aes128-gcm@openssh.com", 16, 12, 16, 16, True),
        ("aes256-gcm@openssh.com", 32, 12, 16, 16, True),
        ("aes128-ctr", 16, 16, 16, 0, False),
        ("aes192-ctr", 24, 16, 16, 0, False),
        ("aes256-ctr", 32, 16, 16, 0, False),
        ("aes128-cbc", 16, 16, 16, 0, False),
        ("aes192-cbc", 24, 16, 16, 0, False),
        ("aes256-cbc", 32, 16, 16, 0, False),
        ("3des-cbc", 24, 8, 8, 0, False),
    ],
)
def test_spec_sizes(name: str, key: int, iv: int, block: int, tag: int, aead: bool) -> None:
    spec = cipher_spec(name)
    assert (spec.key_size, spec.iv_size, spec.block_size, spec.tag_size, spec.aead) == (
        key,
        iv,
        block,
        tag,
        aead,
    )
    context = spec.create(bytes(key), bytes(iv), encrypt=True)
    assert isinstance(context, AEADCipher if aead else StreamCipher)


def test_unknown_and_none_are_not_negotiable() -> None:
    with pytest.raises(ValueError, match="unknown cipher"):
        cipher_spec("arcfour")
    with pytest.raises(ValueError, match="unknown cipher"):
        cipher_spec("none")
    assert "none" not in supported_ciphers()


def test_wrong_key_or_iv_size_is_refused() -> None:
    spec = cipher_spec("aes128-ctr")
    with pytest.raises(ValueError, match="key must be 16"):
        spec.create(bytes(15), bytes(16), encrypt=True)
    with pytest.raises(ValueError, match="IV must be 16"):
        spec.create(bytes(16), bytes(12), encrypt=True)


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ciphers, "_registry", dict(ciphers._registry))
    monkeypatch.setattr(ciphers, "_defaults", list(ciphers._defaults))


@pytest.mark.usefixtures("isolated_registry")
def test_register_a_user_cipher() -> None:
    class Xor(StreamCipher):
        def update(self, data: ciphers.Buffer) -> bytes:
            return bytes(b ^ 0x5A for b in data)

    spec = CipherSpec("xor@example.com", 0, 0, 8, 0, False, lambda k, i, e: Xor())
    register_cipher(spec, default=True)
    assert cipher_spec("xor@example.com") is spec
    assert supported_ciphers()[-1] == "xor@example.com"
    assert default_ciphers()[-1] == "xor@example.com"
    with pytest.raises(ValueError, match="already registered"):
        register_cipher(spec)
    mac = mac_spec("hmac-sha2-256")
    sealer = PacketSealer(spec, b"", b"", mac, bytes(32))
    opener = PacketOpener(spec, b"", b"", mac, bytes(32))
    wire = sealer.seal(0, b"hello")
    assert opener.packet_length(0, wire) == len(wire)
    assert opener.open(0, wire) == b"hello"


@pytest.mark.usefixtures("isolated_registry")
def test_register_the_none_cipher_explicitly_for_tests() -> None:
    register_cipher(NONE_CIPHER)
    assert cipher_spec("none") is NONE_CIPHER
    assert "none" not in default_ciphers()


def test_factory_returning_the_wrong_kind_is_refused() -> None:
    spec = CipherSpec(
        "bad@example.com", 0, 0, 8, 16, True, lambda k, i, e: NONE_CIPHER.create(b"", b"", e)
    )
    with pytest.raises(TypeError, match="AEADCipher"):
        spec.create(b"", b"", encrypt=True)


# --- AES-CTR: RFC 4344, one counter for the connection's life -----------------------------


def ctr_keystream(key: bytes, iv: bytes, blocks: int) -> bytes:
    """AES-CTR keystream from ECB with a 128-bit big-endian counter that wraps (RFC 4344)."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    start = int.from_bytes(iv, "big")
    counters = b"".join(((start + i) % (1 << 128)).to_bytes(16, "big") for i in range(blocks))
    return ecb.update(counters)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=False))


@pytest.mark.parametrize("iv", [IV16, b"\xff" * 15 + b"\xfd"], ids=["iv", "counter-wraps"])
def test_aes128_ctr_hmac_sha2_256_known_answer(iv: bytes) -> None:
    """Two packets: the counter continues across them (and wraps past 2**128 - 1)."""
    mac_key = bytes(range(100, 132))
    sealer = PacketSealer(
        cipher_spec("aes128-ctr"), KEY16, iv, mac_spec("hmac-sha2-256"), mac_key, counting_rng()
    )
    payloads = [b"\x05\x00\x00\x00\x0cssh-userauth", b"x" * 40]
    wires = [sealer.seal(7 + i, p) for i, p in enumerate(payloads)]

    rng = counting_rng()
    plains = []
    for payload in payloads:
        pad = pad_len(len(payload) + 5, 16)
        plains.append(plain_packet(payload, rng(pad), length_aligned=True))
    stream = ctr_keystream(KEY16, iv, sum(len(p) for p in plains) // 16)
    encrypted = xor(b"".join(plains), stream)
    expected = []
    offset = 0
    for i, plain in enumerate(plains):
        mac = hmac.digest(mac_key, struct.pack(">I", 7 + i) + plain, "sha256")
        expected.append(encrypted[offset : offset + len(plain)] + mac)
        offset += len(plain)
    assert wires == expected


def test_aes128_cbc_chains_across_packets() -> None:
    """CBC keeps its last ciphertext block as the next packet's IV (RFC 4253 6.3)."""
    mac_key = bytes(32)
    spec = cipher_spec("aes128-cbc")
    sealer = PacketSealer(spec, KEY16, IV16, mac_spec("hmac-sha2-256"), mac_key, counting_rng())
    first, second = sealer.seal(0, b"one"), sealer.seal(1, b"two" * 9)
    rng = counting_rng()
    p1 = plain_packet(b"one", rng(pad_len(3 + 5, 16)), length_aligned=True)
    p2 = plain_packet(b"two" * 9, rng(pad_len(27 + 5, 16)), length_aligned=True)
    whole = Cipher(algorithms.AES(KEY16), modes.CBC(IV16)).encryptor().update(p1 + p2)
    assert first[:-32] == whole[: len(p1)]
    assert second[:-32] == whole[len(p1) :]


# --- AES-GCM: RFC 5647 invocation counter ----------------------------------------------------


@pytest.mark.parametrize(
    "iv",
    [bytes(range(12)), b"\x01\x02\x03\x04" + b"\xff" * 8],
    ids=["iv", "counter-wraps"],
)
def test_aes128_gcm_known_answer(iv: bytes) -> None:
    """Length is cleartext AAD; the low 64 bits of the nonce count packets and wrap alone."""
    sealer = PacketSealer(cipher_spec("aes128-gcm@openssh.com"), KEY16, iv, rng=counting_rng())
    payloads = [b"\x15", b"data" * 10]
    wires = [sealer.seal(99, p) for p in payloads]

    rng = counting_rng()
    counter = int.from_bytes(iv[4:], "big")
    for i, (payload, wire) in enumerate(zip(payloads, wires, strict=True)):
        pad = pad_len(len(payload) + 1, 16)
        packet = plain_packet(payload, rng(pad), length_aligned=False)
        nonce = iv[:4] + ((counter + i) % (1 << 64)).to_bytes(8, "big")
        gcm = Cipher(algorithms.AES(KEY16), modes.GCM(nonce)).encryptor()
        gcm.authenticate_additional_data(packet[:4])
        body = gcm.update(packet[4:]) + gcm.finalize()
        assert wire == packet[:4] + body + gcm.tag
        assert len(body) % 16 == 0


# --- chacha20-poly1305@openssh.com -----------------------------------------------------------


def _rotl(v: int, n: int) -> int:
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def chacha20_block(key: bytes, counter: int, nonce8: bytes) -> bytes:
    """DJB's original ChaCha20: 64-bit block counter, 64-bit nonce (as OpenSSH uses it)."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key))
    state += [counter & 0xFFFFFFFF, counter >> 32]
    state += list(struct.unpack("<2I", nonce8))
    x = list(state)

    def quarter(a: int, b: int, c: int, d: int) -> None:
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = _rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = _rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF
        x[d] = _rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF
        x[b] = _rotl(x[b] ^ x[c], 7)

    for _ in range(10):
        quarter(0, 4, 8, 12)
        quarter(1, 5, 9, 13)
        quarter(2, 6, 10, 14)
        quarter(3, 7, 11, 15)
        quarter(0, 5, 10, 15)
        quarter(1, 6, 11, 12)
        quarter(2, 7, 8, 13)
        quarter(3, 4, 9, 14)
    return struct.pack("<16I", *((a + b) & 0xFFFFFFFF for a, b in zip(x, state, strict=True)))


def chacha20_xor(key: bytes, counter: int, nonce8: bytes, data: bytes) -> bytes:
    stream = b"".join(chacha20_block(key, counter + i, nonce8) for i in range(len(data) // 64 + 1))
    return xor(data, stream)


def poly1305(key: bytes, message: bytes) -> bytes:
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        acc = (acc + int.from_bytes(message[i : i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")


def test_chacha20_block_matches_the_published_test_vector() -> None:
    # The all-zero key/nonce vector of draft-agl-tls-chacha20poly1305 (first 16 bytes).
    assert chacha20_block(bytes(32), 0, bytes(8))[:16].hex() == "76b8e0ada0f13d90405d6ae55386bd28"


@pytest.mark.parametrize("seq", [0, 1, 0x01020304, 0xFFFFFFFF])
def test_chacha20_poly1305_known_answer(seq: int) -> None:
    sealer = PacketSealer(
        cipher_spec("chacha20-poly1305@openssh.com"), KEY64, b"", rng=counting_rng()
    )
    payload = bytes(range(200))
    wire = sealer.seal(seq, payload)

    k2, k1 = KEY64[:32], KEY64[32:]
    nonce = seq.to_bytes(8, "big")
    pad = pad_len(len(payload) + 1, 8)
    packet = plain_packet(payload, counting_rng()(pad), length_aligned=False)
    enc_len = chacha20_xor(k1, 0, nonce, packet[:4])
    enc_body = chacha20_xor(k2, 1, nonce, packet[4:])
    tag = poly1305(chacha20_block(k2, 0, nonce)[:32], enc_len + enc_body)
    assert wire == enc_len + enc_body + tag


def test_chacha20_poly1305_contexts_are_reused_across_packets() -> None:
    """Re-noncing the long-lived contexts gives the same bytes as fresh keys per packet."""
    spec = cipher_spec("chacha20-poly1305@openssh.com")
    long_lived = PacketSealer(spec, KEY64, b"", rng=lambda n: bytes(n))
    for seq in (5, 6, 5, 1000):
        fresh = PacketSealer(spec, KEY64, b"", rng=lambda n: bytes(n))
        assert long_lived.seal(seq, b"p" * (seq % 300)) == fresh.seal(seq, b"p" * (seq % 300))
