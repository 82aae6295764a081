"""PacketSealer / PacketOpener: framing, integrity, length checks before buffering."""

from __future__ import annotations

import hmac
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_transport.ciphers import (
    NONE_CIPHER,
    SUPPORTED_CIPHERS,
    CipherSpec,
    StreamCipher,
    cipher_spec,
)
from ssh_transport.errors import MACError, PacketError
from ssh_transport.macs import NONE_MAC, SUPPORTED_MACS, MacSpec, mac_spec
from ssh_transport.packet import DEFAULT_MAX_PACKET_LENGTH, PacketOpener, PacketSealer
from ssh_wire import DisconnectError, DisconnectReason, LocalProtocolError

AEADS = [n for n in SUPPORTED_CIPHERS if cipher_spec(n).aead]
STREAMS = [n for n in SUPPORTED_CIPHERS if not cipher_spec(n).aead]
COMBOS = [(c, None) for c in AEADS] + [(c, m) for c in STREAMS for m in SUPPORTED_MACS]
COMBO_IDS = [f"{c}+{m}" if m else c for c, m in COMBOS]


class Pair:
    """A sealer and an opener sharing keys, as the two ends of one direction."""

    def __init__(self, cipher: str | CipherSpec, mac: str | MacSpec | None, **kw: int) -> None:
        self.cipher = cipher_spec(cipher) if isinstance(cipher, str) else cipher
        self.mac = mac_spec(mac) if isinstance(mac, str) else mac
        key = os.urandom(self.cipher.key_size)
        iv = os.urandom(self.cipher.iv_size)
        mac_key = os.urandom(self.mac.key_size) if self.mac else b""
        self.sealer = PacketSealer(self.cipher, key, iv, self.mac, mac_key)
        self.opener = PacketOpener(self.cipher, key, iv, self.mac, mac_key, **kw)

    def receive(self, seq: int, stream: bytes) -> tuple[bytes, int]:
        """Run the two-step receive; return the payload and the bytes consumed."""
        total = self.opener.packet_length(seq, stream[: self.opener.header_size])
        return self.opener.open(seq, stream[:total]), total

    @property
    def trailer(self) -> int:
        """MAC or tag bytes after the packet."""
        return self.cipher.tag_size + (self.mac.digest_size if self.mac else 0)

    def aligned_part(self, wire: bytes) -> int:
        """The bytes that must be a multiple of the block size."""
        length_excluded = self.cipher.aead or (self.mac is not None and self.mac.etm)
        return len(wire) - self.trailer - (4 if length_excluded else 0)


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def pair(request: pytest.FixtureRequest) -> Pair:
    cipher, mac = request.param
    return Pair(cipher, mac)


# --- round trips ---------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(payloads=st.lists(st.binary(max_size=600), min_size=1, max_size=5))
def test_round_trip_every_cipher_and_mac(payloads: list[bytes]) -> None:
    for cipher, mac in COMBOS:
        p = Pair(cipher, mac)
        stream = b"".join(p.sealer.seal(seq, data) for seq, data in enumerate(payloads))
        for seq, data in enumerate(payloads):
            got, used = p.receive(seq, stream)
            assert got == data
            stream = stream[used:]
        assert stream == b""


def test_padding_is_aligned_and_at_least_four_bytes(pair: Pair) -> None:
    block = max(pair.cipher.block_size, 8)
    for size in range(70):
        wire = pair.sealer.seal(size, bytes(size))
        assert pair.aligned_part(wire) % block == 0
        padding = len(wire) - 4 - 1 - size - pair.trailer
        assert 4 <= padding < 4 + block
        assert pair.receive(size, wire)[0] == bytes(size)


def test_padding_length_range() -> None:
    """Read back the padding length byte with the none cipher: 4 <= pad < 4 + block."""
    p = Pair(NONE_CIPHER, NONE_MAC)
    for size in range(0, 40):
        wire = p.sealer.seal(0, b"z" * size)
        length, pad = struct.unpack(">IB", wire[:5])
        assert len(wire) == 4 + length
        assert 4 <= pad < 12
        assert (4 + length) % 8 == 0
        assert wire[5 : 5 + size] == b"z" * size


def test_large_payload_round_trip(pair: Pair) -> None:
    payload = os.urandom(32768 + 100)
    wire = pair.sealer.seal(3, payload)
    assert pair.receive(3, wire) == (payload, len(wire))


# --- integrity -----------------------------------------------------------------------------


def corrupted_receive(p: Pair, seq: int, wire: bytes) -> None:
    """Receive a damaged packet as a transport would: whatever length it now claims, the
    bytes that arrive are the rest of the packet (or what follows, here zeros)."""
    total = p.opener.packet_length(seq, wire[: p.opener.header_size])
    stream = wire + bytes(max(0, total - len(wire)))
    p.opener.open(seq, stream[:total])


@pytest.mark.parametrize(("cipher", "mac"), COMBOS, ids=COMBO_IDS)
def test_every_flipped_bit_is_detected(cipher: str, mac: str | None) -> None:
    payload = b"\x5e" + b"channel data" * 2
    for bit in range(len(Pair(cipher, mac).sealer.seal(0, payload)) * 8):
        p = Pair(cipher, mac)
        wire = bytearray(p.sealer.seal(0, payload))
        wire[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DisconnectError) as info:
            corrupted_receive(p, 0, bytes(wire))
        # A damaged length may be rejected as a bad length; anything else is a MAC error.
        in_length = bit < 32 or (p.opener.header_size != 4 and bit < 8 * p.cipher.block_size)
        if not in_length:
            assert isinstance(info.value, MACError)
        assert isinstance(info.value, MACError | PacketError)


def test_mac_error_carries_reason_code(pair: Pair) -> None:
    wire = bytearray(pair.sealer.seal(0, b"hello"))
    wire[-1] ^= 0x80
    with pytest.raises(MACError) as info:
        pair.receive(0, bytes(wire))
    assert info.value.reason == DisconnectReason.MAC_ERROR


def test_wrong_sequence_number_fails_authentication(pair: Pair) -> None:
    wire = pair.sealer.seal(10, b"hello")
    if "gcm" in pair.cipher.name:
        # RFC 5647: the nonce counts packets itself; the sequence number is no input.
        assert pair.receive(11, wire)[0] == b"hello"
        return
    with pytest.raises((MACError, PacketError)):
        pair.receive(11, wire)


@pytest.mark.parametrize("cipher", ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"])
def test_gcm_detects_a_dropped_packet(cipher: str) -> None:
    p = Pair(cipher, None)
    p.sealer.seal(0, b"dropped on the way")
    with pytest.raises(MACError):
        p.receive(1, p.sealer.seal(1, b"next"))


@pytest.mark.parametrize("mac", [m for m in SUPPORTED_MACS])
def test_wrong_mac_key_fails(mac: str) -> None:
    spec = mac_spec(mac)
    cipher = cipher_spec("aes128-ctr")
    key, iv = os.urandom(16), os.urandom(16)
    sealer = PacketSealer(cipher, key, iv, spec, os.urandom(spec.key_size))
    opener = PacketOpener(cipher, key, iv, spec, os.urandom(spec.key_size))
    wire = sealer.seal(0, b"payload")
    opener.packet_length(0, wire)
    with pytest.raises(MACError):
        opener.open(0, wire)


@pytest.mark.parametrize("cipher", AEADS)
def test_wrong_aead_key_fails(cipher: str) -> None:
    spec = cipher_spec(cipher)
    iv = os.urandom(spec.iv_size)
    key = os.urandom(spec.key_size)
    # Keep chacha's header key (second half) so the length still decrypts correctly.
    other = os.urandom(32) + key[32:] if spec.key_size == 64 else os.urandom(spec.key_size)
    wire = PacketSealer(spec, key, iv).seal(0, b"payload")
    opener = PacketOpener(spec, other, iv)
    assert opener.packet_length(0, wire) == len(wire)
    with pytest.raises(MACError):
        opener.open(0, wire)


# --- length checks happen on the first bytes, before buffering -----------------------------


BAD_LENGTHS = [0, 1, 4, DEFAULT_MAX_PACKET_LENGTH + 8, 1 << 31, 0xFFFFFFF8, 0xFFFFFFFF]


@pytest.mark.parametrize("length", BAD_LENGTHS)
@pytest.mark.parametrize(
    ("cipher", "mac"),
    [
        ("aes128-gcm@openssh.com", None),
        ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
        ("none", None),
    ],
)
def test_bad_cleartext_length_is_refused_from_header_alone(
    cipher: str, mac: str | None, length: int
) -> None:
    spec = NONE_CIPHER if cipher == "none" else cipher_spec(cipher)
    p = Pair(spec, mac)
    header = struct.pack(">I", length) + bytes(p.opener.header_size - 4)
    with pytest.raises(PacketError) as info:
        p.opener.packet_length(0, header)
    assert info.value.reason == DisconnectReason.PROTOCOL_ERROR


@pytest.mark.parametrize("length", [*BAD_LENGTHS, 17, 30])
def test_bad_encrypted_length_is_refused_from_first_block(length: int) -> None:
    """Classic framing: the length is in the first encrypted block."""
    key, iv = os.urandom(16), os.urandom(16)
    spec = cipher_spec("aes128-ctr")
    attacker = spec.create(key, iv, encrypt=True)
    assert isinstance(attacker, StreamCipher)
    first = attacker.update(struct.pack(">I", length) + bytes(12))
    opener = PacketOpener(spec, key, iv, mac_spec("hmac-sha2-256"), bytes(32))
    with pytest.raises(PacketError):
        opener.packet_length(0, first)


@pytest.mark.parametrize("length", [*BAD_LENGTHS, 9, 30])
def test_bad_chacha_length_is_refused_from_four_bytes(length: int) -> None:
    spec = cipher_spec("chacha20-poly1305@openssh.com")
    key = os.urandom(64)
    # Encrypt a chosen length under K_1: seal an empty payload (packet_length 8: padding
    # length byte + 7 bytes of padding) and swap the known length for ours in the keystream.
    wire = PacketSealer(spec, key, b"").seal(0, b"")
    known, chosen = struct.pack(">I", 8), struct.pack(">I", length)
    header = bytes(a ^ b ^ c for a, b, c in zip(wire[:4], known, chosen, strict=True))
    with pytest.raises(PacketError):
        PacketOpener(spec, key, b"").packet_length(0, header)


def test_max_packet_length_is_configurable() -> None:
    p = Pair("aes128-gcm@openssh.com", None, max_packet_length=1024)
    assert p.receive(0, p.sealer.seal(0, bytes(1000)))[0] == bytes(1000)
    with pytest.raises(PacketError, match="bad packet length"):
        p.receive(1, p.sealer.seal(1, bytes(1100)))


# --- padding checks (after a valid MAC) -----------------------------------------------------


def etm_packet(mac_key: bytes, seq: int, body: bytes) -> bytes:
    """A none-cipher hmac-sha2-256-etm packet with a correct MAC over an arbitrary body."""
    length = struct.pack(">I", len(body))
    return length + body + hmac.digest(mac_key, struct.pack(">I", seq) + length + body, "sha256")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (bytes([3]) + b"abcd" + bytes(3), "at least 4"),
        (bytes([8]) + bytes(7), "exceeds"),
        (bytes([255]) + bytes(15), "exceeds"),
    ],
)
def test_bad_padding_length_is_a_protocol_error(body: bytes, match: str) -> None:
    mac_key = os.urandom(32)
    opener = PacketOpener(NONE_CIPHER, b"", b"", mac_spec("hmac-sha2-256-etm@openssh.com"), mac_key)
    wire = etm_packet(mac_key, 4, body)
    assert opener.packet_length(4, wire) == len(wire)
    with pytest.raises(PacketError, match=match):
        opener.open(4, wire)


def test_empty_payload_is_returned_empty() -> None:
    mac_key = os.urandom(32)
    opener = PacketOpener(NONE_CIPHER, b"", b"", mac_spec("hmac-sha2-256-etm@openssh.com"), mac_key)
    wire = etm_packet(mac_key, 0, bytes([7]) + bytes(7))
    opener.packet_length(0, wire)
    assert opener.open(0, wire) == b""


# --- sequence numbers ------------------------------------------------------------------------


def test_sequence_numbers_wrap_at_2_to_the_32(pair: Pair) -> None:
    seqs = [0xFFFFFFFE, 0xFFFFFFFF, 0, 1]
    stream = b"".join(pair.sealer.seal(s, bytes([s & 0xFF])) for s in seqs)
    for s in seqs:
        got, used = pair.receive(s + (1 << 32) if s < 2 else s, stream)
        assert got == bytes([s & 0xFF])
        stream = stream[used:]


@pytest.mark.parametrize("cipher", ["chacha20-poly1305@openssh.com", "aes128-ctr"])
def test_sequence_number_is_taken_modulo_2_to_the_32(cipher: str) -> None:
    spec = cipher_spec(cipher)
    mac = None if spec.aead else mac_spec("hmac-sha2-256")
    key, iv = bytes(spec.key_size), bytes(spec.iv_size)
    a = PacketSealer(spec, key, iv, mac, bytes(32), rng=bytes)
    b = PacketSealer(spec, key, iv, mac, bytes(32), rng=bytes)
    assert a.seal(5, b"x") == b.seal(5 + (1 << 32), b"x")


# --- API misuse and construction --------------------------------------------------------------


def test_open_without_packet_length_is_a_local_error(pair: Pair) -> None:
    wire = pair.sealer.seal(0, b"x")
    with pytest.raises(LocalProtocolError):
        pair.opener.open(0, wire)


def test_open_with_the_wrong_size_is_a_local_error(pair: Pair) -> None:
    wire = pair.sealer.seal(0, b"x")
    pair.opener.packet_length(0, wire)
    with pytest.raises(LocalProtocolError):
        pair.opener.open(0, wire[:-1])


def test_packet_length_needs_the_header(pair: Pair) -> None:
    wire = pair.sealer.seal(0, b"x")
    with pytest.raises(LocalProtocolError):
        pair.opener.packet_length(0, wire[: pair.opener.header_size - 1])


def test_header_size_per_framing() -> None:
    assert Pair("aes128-gcm@openssh.com", None).opener.header_size == 4
    assert Pair("chacha20-poly1305@openssh.com", None).opener.header_size == 4
    assert Pair("aes128-ctr", "hmac-sha2-256-etm@openssh.com").opener.header_size == 4
    assert Pair("aes128-ctr", "hmac-sha2-256").opener.header_size == 16
    assert Pair("3des-cbc", "hmac-sha1").opener.header_size == 8
    assert Pair(NONE_CIPHER, None).opener.header_size == 8


def test_non_aead_cipher_requires_a_mac() -> None:
    with pytest.raises(ValueError, match="needs a MAC"):
        PacketSealer(cipher_spec("aes128-ctr"), bytes(16), bytes(16))
    with pytest.raises(ValueError, match="needs a MAC"):
        PacketOpener(cipher_spec("aes128-ctr"), bytes(16), bytes(16))


def test_aead_ignores_the_negotiated_mac() -> None:
    spec = cipher_spec("aes256-gcm@openssh.com")
    sealer = PacketSealer(spec, bytes(32), bytes(12), mac_spec("hmac-sha2-256"), b"short")
    assert sealer.mac is None
    assert len(sealer.seal(0, b"")) == 4 + 16 + 16


def test_mac_key_size_is_checked() -> None:
    with pytest.raises(ValueError, match="key must be 32"):
        PacketSealer(
            cipher_spec("aes128-ctr"), bytes(16), bytes(16), mac_spec("hmac-sha2-256"), bytes(20)
        )


def test_none_cipher_sends_the_packet_in_the_clear() -> None:
    """The initial state: no encryption, no MAC, 8-byte alignment (RFC 4253 6)."""
    sealer = PacketSealer(NONE_CIPHER, b"", b"", rng=lambda n: b"\xee" * n)
    wire = sealer.seal(0, b"\x14" + bytes(10))  # 4 + 1 + 11 = 16: a whole block of padding
    assert wire == struct.pack(">IB", 20, 8) + b"\x14" + bytes(10) + b"\xee" * 8
    assert sealer.seal(1, bytes(7)) == struct.pack(">IB", 12, 4) + bytes(7) + b"\xee" * 4


def test_interleaved_directions_keep_independent_state() -> None:
    """Each direction has its own keyed contexts, so both ends run at once."""
    a_to_b = Pair("aes128-ctr", "hmac-sha2-512")
    b_to_a = Pair("chacha20-poly1305@openssh.com", None)
    for seq, payload in enumerate(os.urandom(n) for n in (0, 1, 15, 16, 17, 255, 4096)):
        assert a_to_b.receive(seq, a_to_b.sealer.seal(seq, payload))[0] == payload
        assert b_to_a.receive(seq, b_to_a.sealer.seal(seq, payload))[0] == payload
