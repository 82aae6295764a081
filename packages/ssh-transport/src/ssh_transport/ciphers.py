"""Cipher registry and implementations (RFC 4253 6.3, RFC 4344, RFC 5647, OpenSSH PROTOCOL.*).

A cipher is either a *stream* (CTR, CBC, none: one keyed context for the connection's life,
fed whole blocks, paired with a MAC) or an *AEAD* (AES-GCM, chacha20-poly1305) that frames
the packet itself, because each treats the 4-byte length field its own way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

from .errors import MACError

__all__ = [
    "Buffer",
    "StreamCipher",
    "AEADCipher",
    "CipherContext",
    "CipherSpec",
    "NONE_CIPHER",
    "DEFAULT_CIPHERS",
    "SUPPORTED_CIPHERS",
    "LEGACY_CIPHERS",
    "cipher_spec",
    "register_cipher",
    "supported_ciphers",
    "default_ciphers",
]

Buffer = bytes | bytearray | memoryview


class StreamCipher(ABC):
    """A keyed cipher kept for the connection's life; ``update`` takes whole blocks."""

    @abstractmethod
    def update(self, data: Buffer) -> bytes:
        """Encrypt or decrypt (fixed at creation) ``data``, continuing the stream."""


class AEADCipher(ABC):
    """An authenticated cipher that encodes the whole packet, length field included."""

    @abstractmethod
    def seal(self, seq: int, length: bytes, body: bytes) -> bytes:
        """Return the wire packet for ``length`` (4 bytes) and ``body`` (padding length,
        payload, padding), with its tag appended. ``seq`` is the packet's sequence number."""

    @abstractmethod
    def packet_length(self, seq: int, header: Buffer) -> int:
        """Return the packet_length field from the first 4 wire bytes (decrypting if needed)."""

    @abstractmethod
    def open(self, seq: int, packet: memoryview) -> bytes:
        """Verify the tag of a whole wire packet and return its decrypted body.

        Raises MACError when the tag does not verify."""


CipherContext = StreamCipher | AEADCipher
# (key, iv, encrypt) -> a context for one direction of one connection.
CipherFactory = Callable[[bytes, bytes, bool], CipherContext]


@dataclass(frozen=True, slots=True)
class CipherSpec:
    """One cipher: its sizes in bytes and how to key it."""

    name: str
    key_size: int
    iv_size: int
    block_size: int
    tag_size: int
    aead: bool
    factory: CipherFactory
    legacy: bool = False

    def create(self, key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
        """Key one direction, checking the key and IV sizes first."""
        if len(key) != self.key_size:
            raise ValueError(f"{self.name}: key must be {self.key_size} bytes, got {len(key)}")
        if len(iv) != self.iv_size:
            raise ValueError(f"{self.name}: IV must be {self.iv_size} bytes, got {len(iv)}")
        context = self.factory(key, iv, encrypt)
        expected = AEADCipher if self.aead else StreamCipher
        if not isinstance(context, expected):
            raise TypeError(f"{self.name}: factory must return a {expected.__name__}")
        return context


# --- stream ciphers -----------------------------------------------------------------------


class _ContextStream(StreamCipher):
    """A `cryptography` cipher context in streaming use (CTR keeps its counter, CBC its
    chaining block across packets, as RFC 4253 and RFC 4344 require)."""

    __slots__ = ("_update",)

    def __init__(self, update: Callable[[Buffer], bytes]) -> None:
        self._update = update

    def update(self, data: Buffer) -> bytes:
        return self._update(data)


class _NullStream(StreamCipher):
    """The "none" cipher of the initial state: bytes pass through unchanged."""

    __slots__ = ()

    def update(self, data: Buffer) -> bytes:
        return bytes(data)


def _aes_ctr(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    # CTR is symmetric: both directions use an encryptor.
    return _ContextStream(Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update)


def _cbc(algorithm: CipherAlgorithm, iv: bytes, encrypt: bool) -> CipherContext:
    cipher = Cipher(algorithm, modes.CBC(iv))
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    return _ContextStream(context.update)


def _aes_cbc(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    return _cbc(algorithms.AES(key), iv, encrypt)


def _3des_cbc(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    return _cbc(TripleDES(key), iv, encrypt)


def _none(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    return _NullStream()


# --- AEAD ciphers ---------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_MASK32 = 0xFFFFFFFF


class _AESGCM(AEADCipher):
    """aes*-gcm@openssh.com (RFC 5647 with OpenSSH's negotiation): the length field is
    cleartext AAD; the 12-byte nonce is a 4-byte fixed field and a 64-bit invocation
    counter that increments once per packet (independent of the sequence number)."""

    __slots__ = ("_aead", "_counter", "_fixed")

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._aead = AESGCM(key)
        self._fixed = iv[:4]
        self._counter = int.from_bytes(iv[4:], "big")

    def _next_nonce(self) -> bytes:
        counter = self._counter
        self._counter = (counter + 1) & _MASK64
        return self._fixed + counter.to_bytes(8, "big")

    def seal(self, seq: int, length: bytes, body: bytes) -> bytes:
        return length + self._aead.encrypt(self._next_nonce(), body, length)

    def packet_length(self, seq: int, header: Buffer) -> int:
        return int.from_bytes(header[:4], "big")

    def open(self, seq: int, packet: memoryview) -> bytes:
        try:
            return self._aead.decrypt(self._next_nonce(), packet[4:], packet[:4])
        except InvalidTag:
            raise MACError("AES-GCM tag mismatch") from None


def _aes_gcm(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    return _AESGCM(key, iv)


_ZERO_BLOCK = bytes(64)
_COUNTER0 = bytes(8)


class _ChaChaPoly(AEADCipher):
    """chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305).

    The 64-byte key is K_2 (first half: payload and Poly1305 key) then K_1 (second half:
    length field only). The nonce of both is the sequence number as a big-endian uint64.
    `cryptography`'s 16-byte ChaCha20 nonce is the raw last row of the state (counter, then
    nonce), so DJB's 64-bit counter/64-bit nonce layout is ``counter(8, LE) || seq(8, BE)``.
    Both contexts are created once and re-nonced per packet, which avoids object churn.
    """

    __slots__ = ("_header", "_main")

    def __init__(self, key: bytes) -> None:
        self._main = Cipher(algorithms.ChaCha20(key[:32], bytes(16)), None).encryptor()
        self._header = Cipher(algorithms.ChaCha20(key[32:], bytes(16)), None).encryptor()

    def _poly_key(self, nonce: bytes) -> bytes:
        # Block 0 of the K_2 stream keys Poly1305; the payload then starts at block 1.
        main = self._main
        main.reset_nonce(nonce)
        return main.update(_ZERO_BLOCK)[:32]

    def seal(self, seq: int, length: bytes, body: bytes) -> bytes:
        nonce = _COUNTER0 + (seq & _MASK32).to_bytes(8, "big")
        self._header.reset_nonce(nonce)
        enc_length = self._header.update(length)
        poly = Poly1305(self._poly_key(nonce))
        enc_body = self._main.update(body)
        poly.update(enc_length)
        poly.update(enc_body)
        return b"".join((enc_length, enc_body, poly.finalize()))

    def packet_length(self, seq: int, header: Buffer) -> int:
        self._header.reset_nonce(_COUNTER0 + (seq & _MASK32).to_bytes(8, "big"))
        return int.from_bytes(self._header.update(header[:4]), "big")

    def open(self, seq: int, packet: memoryview) -> bytes:
        nonce = _COUNTER0 + (seq & _MASK32).to_bytes(8, "big")
        try:
            Poly1305.verify_tag(self._poly_key(nonce), packet[:-16], bytes(packet[-16:]))
        except InvalidSignature:
            raise MACError("chacha20-poly1305 tag mismatch") from None
        return self._main.update(packet[4:-16])


def _chacha_poly(key: bytes, iv: bytes, encrypt: bool) -> CipherContext:
    return _ChaChaPoly(key)


# --- registry ---------------------------------------------------------------------------------

# Not registered: "none" is never negotiated; the transport uses it before the first NEWKEYS,
# and tests may register it explicitly to get past key exchange.
NONE_CIPHER = CipherSpec("none", 0, 0, 8, 0, False, _none)

_BUILTIN: tuple[CipherSpec, ...] = (
    CipherSpec("chacha20-poly1305@openssh.com", 64, 0, 8, 16, True, _chacha_poly),
    CipherSpec("aes128-gcm@openssh.com", 16, 12, 16, 16, True, _aes_gcm),
    CipherSpec("aes256-gcm@openssh.com", 32, 12, 16, 16, True, _aes_gcm),
    CipherSpec("aes128-ctr", 16, 16, 16, 0, False, _aes_ctr),
    CipherSpec("aes192-ctr", 24, 16, 16, 0, False, _aes_ctr),
    CipherSpec("aes256-ctr", 32, 16, 16, 0, False, _aes_ctr),
    CipherSpec("aes128-cbc", 16, 16, 16, 0, False, _aes_cbc, legacy=True),
    CipherSpec("aes192-cbc", 24, 16, 16, 0, False, _aes_cbc, legacy=True),
    CipherSpec("aes256-cbc", 32, 16, 16, 0, False, _aes_cbc, legacy=True),
    CipherSpec("3des-cbc", 24, 8, 8, 0, False, _3des_cbc, legacy=True),
)

DEFAULT_CIPHERS: tuple[str, ...] = tuple(s.name for s in _BUILTIN if not s.legacy)
LEGACY_CIPHERS: tuple[str, ...] = tuple(s.name for s in _BUILTIN if s.legacy)
SUPPORTED_CIPHERS: tuple[str, ...] = tuple(s.name for s in _BUILTIN)

_registry: dict[str, CipherSpec] = {s.name: s for s in _BUILTIN}
_defaults: list[str] = list(DEFAULT_CIPHERS)


def cipher_spec(name: str) -> CipherSpec:
    """Return the registered cipher called ``name``; ValueError if there is none."""
    try:
        return _registry[name]
    except KeyError:
        raise ValueError(f"unknown cipher {name!r}") from None


def register_cipher(spec: CipherSpec, *, default: bool = False, replace: bool = False) -> None:
    """Add a cipher to the registry (appended to the defaults if ``default``)."""
    if spec.name in _registry and not replace:
        raise ValueError(f"cipher {spec.name!r} is already registered")
    _registry[spec.name] = spec
    if default and spec.name not in _defaults:
        _defaults.append(spec.name)


def supported_ciphers() -> tuple[str, ...]:
    """Every registered cipher name, in preference order (legacy ones included)."""
    return tuple(_registry)


def default_ciphers() -> tuple[str, ...]:
    """The names offered when the user asks for nothing else."""
    return tuple(_defaults)
