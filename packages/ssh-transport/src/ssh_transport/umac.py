"""UMAC (RFC 4418) with AES-128, for ``umac-64@openssh.com`` and ``umac-128@openssh.com``.

Tag = UHASH(K, M) xor PDF(K, Nonce). UHASH runs ``taglen / 4`` independent iterations of
three layers: NH over 1024-byte chunks (L1), a polynomial hash over the L1 output (L2,
only for messages longer than one chunk) and an inner product modulo 2^36 - 5 (L3).

Everything derived from the key (the AES subkeys, the NH words, the L2 and L3 constants)
is computed once per key; per message the work is NH, done with map() over lists of
Python ints so the loops run in C. Pure Python: a legacy MAC kept for old peers, not a
fast one (see the ssh-transport README for the measured rate).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from operator import add, mul

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["UMAC"]

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_CHUNK = 1024  # L1 chunk (bytes), the NH key length
_P36 = (1 << 36) - 5
_P64 = (1 << 64) - 59
_P128 = (1 << 128) - 159
_L2_SWITCH = 1 << 17  # bytes of L1 output hashed with POLY64 before POLY128 takes over
# NH reads the message as little-endian 32-bit words (RFC 4418's endian swap in L1-HASH)
# and its key as big-endian ones (str2uint, as everywhere else in the RFC).
_WORDS = struct.Struct(f"<{_CHUNK // 4}I")
_KEY_WORDS = struct.Struct(f">{_CHUNK // 4}I")


def _aes_ecb(key: bytes) -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - RFC 4418's block PRF


def _kdf(key: bytes, index: int, size: int) -> bytes:
    """RFC 4418 3.2.1: AES in counter mode, block i being AES(K, uint64(index) || uint64(i))."""
    blocks = b"".join(
        index.to_bytes(8, "big") + i.to_bytes(8, "big") for i in range(1, -(-size // 16) + 1)
    )
    enc = _aes_ecb(key).encryptor()
    return (enc.update(blocks) + enc.finalize())[:size]


def _poly(bits: int, max_word: int, k: int, words: Sequence[int], y: int) -> int:
    """RFC 4418 5.3.1 POLY, continuing from ``y``: words at or above ``max_word`` are
    split into a marker and an offset word, keeping every input inside the field."""
    p = _P64 if bits == 64 else _P128
    offset = (1 << bits) - p
    marker = p - 1
    for m in words:
        if m >= max_word:
            y = (k * y + marker) % p
            y = (k * y + (m - offset)) % p
        else:
            y = (k * y + m) % p
    return y


class _Iteration:
    """The keys of one UHASH iteration (RFC 4418 5.1)."""

    __slots__ = ("k64", "k128", "l1", "l3", "l3_xor")

    def __init__(self, l1: bytes, l2: bytes, l3: bytes, l3_xor: bytes) -> None:
        self.l1 = list(_KEY_WORDS.unpack(l1))
        self.k64 = int.from_bytes(l2[:8], "big") & 0x01FFFFFF01FFFFFF
        self.k128 = int.from_bytes(l2[8:], "big") & 0x01FFFFFF01FFFFFF01FFFFFF01FFFFFF
        self.l3 = [int.from_bytes(l3[i : i + 8], "big") % _P36 for i in range(0, 64, 8)]
        self.l3_xor = int.from_bytes(l3_xor, "big")

    def nh(self, words: Sequence[int]) -> int:
        """NH over a whole number of 32-byte blocks, as a Python int (mod 2^64 later).

        Word j of each block pairs with word j + 4; sums of message and key words
        wrap at 32 bits, products and their sum at 64 (the caller masks)."""
        s: list[int] = [x & _M32 for x in map(add, words, self.l1)]
        total: int = sum(map(mul, s[0::8], s[4::8]))
        total += sum(map(mul, s[1::8], s[5::8]))
        total += sum(map(mul, s[2::8], s[6::8]))
        total += sum(map(mul, s[3::8], s[7::8]))
        return total

    def l3_hash(self, value: int) -> int:
        """RFC 4418 5.4: eight 16-bit words times the L3 key, mod 2^36 - 5, then 32 bits."""
        total = 0
        for i, k in enumerate(self.l3):
            total += ((value >> (112 - 16 * i)) & 0xFFFF) * k
        return ((total % _P36) & _M32) ^ self.l3_xor


class UMAC:
    """UMAC with a 16-byte AES key and a 4, 8, 12 or 16-byte tag; keyed once, reused.

    :meth:`tag` takes the message in parts (hashed as their concatenation) and an
    8-byte nonce (OpenSSH: the packet sequence number, big-endian)."""

    __slots__ = ("_iterations", "_last_pad", "_pdf", "tag_size")

    def __init__(self, key: bytes, tag_size: int) -> None:
        if len(key) != 16:
            raise ValueError("UMAC needs a 16-byte AES key")
        if tag_size not in (4, 8, 12, 16):
            raise ValueError("UMAC tags are 4, 8, 12 or 16 bytes")
        self.tag_size = tag_size
        n = tag_size // 4
        l1 = _kdf(key, 1, _CHUNK + (n - 1) * 16)
        l2 = _kdf(key, 2, n * 24)
        l3 = _kdf(key, 3, n * 64)
        l3_xor = _kdf(key, 4, n * 4)
        self._iterations = [
            _Iteration(
                l1[i * 16 : i * 16 + _CHUNK],
                l2[i * 24 : (i + 1) * 24],
                l3[i * 64 : (i + 1) * 64],
                l3_xor[i * 4 : (i + 1) * 4],
            )
            for i in range(n)
        ]
        self._pdf = _aes_ecb(_kdf(key, 0, 16)).encryptor()
        # Short tags take a slice of one AES block, so consecutive nonces share it.
        self._last_pad: tuple[bytes, bytes] = (b"", b"")

    def _pad(self, nonce: bytes) -> bytes:
        """RFC 4418 3.2.2 PDF."""
        if len(nonce) != 8:
            raise ValueError("UMAC nonces here are 8 bytes")
        size = self.tag_size
        index = 0
        if size in (4, 8):
            per_block = 16 // size
            index = nonce[-1] % per_block
            nonce = nonce[:-1] + bytes([nonce[-1] - index])
        if self._last_pad[0] == nonce:
            block = self._last_pad[1]
        else:
            block = self._pdf.update(nonce + bytes(8))
            self._last_pad = (nonce, block)
        return block[index * size : (index + 1) * size]

    def tag(self, nonce: bytes, *parts: bytes | bytearray | memoryview) -> bytes:
        """UHASH(message) xor PDF(nonce), ``tag_size`` bytes."""
        message = b"".join(parts)
        length = len(message)
        iterations = self._iterations
        # L1: NH of each 1024-byte chunk plus its bit length, one 64-bit word per chunk and
        # iteration. The last chunk (short, or empty for an empty message) is zero-padded to
        # a multiple of 32 bytes, at least 32. Chunks are unpacked one at a time: a 16 MiB
        # message must not become millions of ints at once.
        full = max(length - (length % _CHUNK or _CHUNK), 0)
        l1: list[list[int]] = [[] for _ in iterations]
        for off in range(0, full, _CHUNK):
            words = _WORDS.unpack_from(message, off)
            for out, it in zip(l1, iterations, strict=True):
                out.append((it.nh(words) + _CHUNK * 8) & _M64)
        tail = message[full:]
        padded = tail + bytes(-len(tail) % 32 if tail else 32)
        words = struct.unpack(f"<{len(padded) // 4}I", padded)
        result = 0
        for out, it in zip(l1, iterations, strict=True):
            out.append((it.nh(words) + len(tail) * 8) & _M64)
            # L2 only past one chunk; a lone L1 word is taken as 8 zero bytes || the word.
            value = out[0] if length <= _CHUNK else self._l2(it, out)
            result = (result << 32) | it.l3_hash(value)
        pad = int.from_bytes(self._pad(nonce), "big")
        return (result ^ pad).to_bytes(self.tag_size, "big")

    @staticmethod
    def _l2(it: _Iteration, l1: list[int]) -> int:
        """RFC 4418 5.3: POLY64 over the first 2^17 bytes of L1 output; past that (messages
        over 16 MiB, never an SSH packet) POLY128 goes on from the POLY64 value."""
        head = l1[: _L2_SWITCH // 8]
        y = _poly(64, (1 << 64) - (1 << 32), it.k64, head, 1)
        rest = l1[_L2_SWITCH // 8 :]
        if not rest:
            return y
        # Pairs of 64-bit words form 128-bit words; 0x80 then zeros pads to 16 bytes.
        data = b"".join(w.to_bytes(8, "big") for w in rest) + b"\x80"
        data += bytes(-len(data) % 16)
        words = [y] + [int.from_bytes(data[i : i + 16], "big") for i in range(0, len(data), 16)]
        return _poly(128, (1 << 128) - (1 << 96), it.k128, words, 1)
