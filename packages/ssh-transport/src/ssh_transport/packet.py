"""Binary packet protection (RFC 4253 section 6): framing, padding, encryption and MAC.

Three framings, chosen once per direction when keys change:

* classic (encrypt-and-MAC): the whole packet, length included, is encrypted; the MAC covers
  ``seq || plaintext packet``. The receiver must decrypt the first block to learn the length.
* encrypt-then-MAC (``*-etm@openssh.com``): the length stays in the clear, the rest is
  encrypted, and the MAC covers ``seq || length || ciphertext`` and is checked first.
* AEAD (GCM, chacha20-poly1305): the cipher frames the packet and carries its own tag.

For EtM and AEAD the 4-byte length field is left out of the block alignment.

Receiving is two-step so a transport core never buffers a bogus packet: once it holds
``opener.header_size`` bytes it calls ``packet_length(seq, data)``, which validates the
declared length and returns the size of the whole packet on the wire (MAC/tag included);
once it holds that many bytes it calls ``open(seq, packet)`` for the payload.
Sequence numbers are passed by the caller and taken modulo 2**32.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ssh_wire import LocalProtocolError

from .ciphers import AEADCipher, Buffer, CipherSpec, StreamCipher
from .errors import MACError, PacketError
from .macs import NONE_MAC, MacAlgorithm, MacSpec

__all__ = ["PacketSealer", "PacketOpener", "DEFAULT_MAX_PACKET_LENGTH", "MIN_PADDING"]

# Largest packet_length field we accept: OpenSSH's 256 KiB plus slack for padding and
# a compressed payload that grew a little.
DEFAULT_MAX_PACKET_LENGTH = 256 * 1024 + 1024
MIN_PADDING = 4
_POOL_SIZE = 4096

_PAD_BYTE = tuple(bytes((i,)) for i in range(256))

Rng = Callable[[int], bytes]


def _mac_for(cipher: CipherSpec, mac: MacSpec | None) -> MacSpec | None:
    """The MAC actually used: none for AEAD (its tag is the MAC), required otherwise."""
    if cipher.aead:
        return None
    if mac is None:
        if cipher.name != "none":
            raise ValueError(f"cipher {cipher.name} needs a MAC")
        return NONE_MAC
    return mac


def _alignment(cipher: CipherSpec) -> int:
    return max(cipher.block_size, 8)


class PacketSealer:
    """Turns payloads into wire packets for one direction, under one set of keys."""

    # Bound at construction to the framing's implementation, avoiding a per-packet branch.
    seal: Callable[[int, Buffer], bytes]

    def __init__(
        self,
        cipher: CipherSpec,
        key: bytes,
        iv: bytes,
        mac: MacSpec | None = None,
        mac_key: bytes = b"",
        rng: Rng = os.urandom,
    ) -> None:
        self.cipher = cipher
        self.mac = _mac_for(cipher, mac)
        self._block = _alignment(cipher)
        self._rng = rng
        # Padding comes from a pool refilled 4 KiB at a time: one os.urandom call per
        # packet cost more than the rest of sealing a small packet.
        self._pool = b""
        self._pool_pos = 0
        context = cipher.create(key, iv, encrypt=True)
        if isinstance(context, AEADCipher):
            self._aead = context
            self.seal = self._seal_aead
            return
        assert isinstance(context, StreamCipher)
        assert self.mac is not None
        self._encrypt = context.update
        self._mac = self.mac.create(mac_key)
        self.seal = self._seal_etm if self.mac.etm else self._seal_classic

    # Each framing pads ``aligned`` bytes up to a multiple of the block with at least
    # MIN_PADDING bytes; the computation is inlined because this is the hot path.

    def _padding_bytes(self, n: int) -> bytes:
        pos = self._pool_pos
        if pos + n > len(self._pool):
            self._pool = self._rng(_POOL_SIZE)
            pos = 0
        self._pool_pos = pos + n
        return self._pool[pos : pos + n]

    def _seal_aead(self, seq: int, payload: Buffer) -> bytes:
        size = len(payload) + 1
        block = self._block
        pad = block - size % block
        if pad < MIN_PADDING:
            pad += block
        body = b"".join((_PAD_BYTE[pad], payload, self._padding_bytes(pad)))
        return self._aead.seal(seq, (size + pad).to_bytes(4, "big"), body)

    def _seal_etm(self, seq: int, payload: Buffer) -> bytes:
        size = len(payload) + 1
        block = self._block
        pad = block - size % block
        if pad < MIN_PADDING:
            pad += block
        length = (size + pad).to_bytes(4, "big")
        encrypted = self._encrypt(b"".join((_PAD_BYTE[pad], payload, self._padding_bytes(pad))))
        return b"".join((length, encrypted, self._mac.digest(seq, length, encrypted)))

    def _seal_classic(self, seq: int, payload: Buffer) -> bytes:
        size = len(payload) + 1
        block = self._block
        pad = block - (size + 4) % block
        if pad < MIN_PADDING:
            pad += block
        plain = b"".join(
            ((size + pad).to_bytes(4, "big"), _PAD_BYTE[pad], payload, self._padding_bytes(pad))
        )
        return b"".join((self._encrypt(plain), self._mac.digest(seq, b"", plain)))


class PacketOpener:
    """Checks and decrypts wire packets for one direction, under one set of keys.

    Call ``packet_length`` exactly once per packet, then ``open`` on exactly that many
    bytes: for classic framing the first block is decrypted (and kept) by the former.
    """

    header_size: int
    """Bytes ``packet_length`` needs: the first cipher block, or the 4 length bytes."""

    packet_length: Callable[[int, Buffer], int]
    open: Callable[[int, Buffer], bytes]

    def __init__(
        self,
        cipher: CipherSpec,
        key: bytes,
        iv: bytes,
        mac: MacSpec | None = None,
        mac_key: bytes = b"",
        *,
        max_packet_length: int = DEFAULT_MAX_PACKET_LENGTH,
    ) -> None:
        self.cipher = cipher
        self.mac = _mac_for(cipher, mac)
        self.max_packet_length = max_packet_length
        self._block = _alignment(cipher)
        self._expected = -1  # wire size announced by packet_length, -1 when none pending
        self._first = b""
        context = cipher.create(key, iv, encrypt=False)
        if isinstance(context, AEADCipher):
            self._aead = context
            self._trailer = cipher.tag_size
            self.header_size = 4
            self.packet_length = self._length_aead
            self.open = self._open_aead
            return
        assert isinstance(context, StreamCipher)
        assert self.mac is not None
        self._decrypt = context.update
        self._mac: MacAlgorithm = self.mac.create(mac_key)
        self._trailer = self.mac.digest_size
        if self.mac.etm:
            self.header_size = 4
            self.packet_length = self._length_etm
            self.open = self._open_etm
        else:
            self.header_size = self._block
            self.packet_length = self._length_classic
            self.open = self._open_classic

    # --- packet_length ---------------------------------------------------------------------

    def _announce(self, length: int, aligned: int) -> int:
        """Validate a declared packet_length; remember and return the packet's wire size."""
        if length < 5 or length > self.max_packet_length:
            raise PacketError(f"bad packet length {length}")
        if aligned % self._block:
            raise PacketError(f"packet length {length} is not a multiple of the block size")
        self._expected = total = 4 + length + self._trailer
        return total

    def _need_header(self, data: Buffer) -> None:
        if len(data) < self.header_size:
            raise LocalProtocolError(f"packet_length needs {self.header_size} bytes")
        if self._expected >= 0:
            raise LocalProtocolError("packet_length called twice for one packet")

    def _length_aead(self, seq: int, data: Buffer) -> int:
        self._need_header(data)
        length = self._aead.packet_length(seq, data[:4])
        return self._announce(length, length)

    def _length_etm(self, seq: int, data: Buffer) -> int:
        self._need_header(data)
        length = int.from_bytes(data[:4], "big")
        return self._announce(length, length)

    def _length_classic(self, seq: int, data: Buffer) -> int:
        self._need_header(data)
        first = self._decrypt(data[: self._block])
        length = int.from_bytes(first[:4], "big")
        total = self._announce(length, length + 4)
        self._first = first
        return total

    # --- open --------------------------------------------------------------------------------

    def _take(self, packet: Buffer) -> memoryview:
        if len(packet) != self._expected:
            raise LocalProtocolError(
                f"open got {len(packet)} bytes, packet_length announced {self._expected}"
            )
        self._expected = -1
        return memoryview(packet)

    def _payload(self, body: bytes, start: int) -> bytes:
        """Strip padding from ``body`` whose padding-length byte is at ``start``."""
        pad = body[start]
        if pad < MIN_PADDING:
            raise PacketError(f"padding of {pad} bytes, at least {MIN_PADDING} required")
        end = len(body) - pad
        if end <= start:
            raise PacketError(f"padding of {pad} bytes exceeds the packet")
        return body[start + 1 : end]

    def _open_aead(self, seq: int, packet: Buffer) -> bytes:
        return self._payload(self._aead.open(seq, self._take(packet)), 0)

    def _open_etm(self, seq: int, packet: Buffer) -> bytes:
        view = self._take(packet)
        end = len(view) - self._trailer
        if not self._mac.verify(seq, view[:4], view[4:end], view[end:]):
            raise MACError("MAC mismatch")
        return self._payload(self._decrypt(view[4:end]), 0)

    def _open_classic(self, seq: int, packet: Buffer) -> bytes:
        view = self._take(packet)
        end = len(view) - self._trailer
        plain = self._first + self._decrypt(view[self._block : end])
        self._first = b""
        if not self._mac.verify(seq, b"", plain, view[end:]):
            raise MACError("MAC mismatch")
        return self._payload(plain, 4)
