"""MAC registry (RFC 4253 6.4, RFC 6668, OpenSSH PROTOCOL 1.5 for the -etm variants).

An HMAC is computed over ``uint32 sequence_number || data``: the plaintext packet for the
classic MACs, the length field and ciphertext for encrypt-then-MAC (``etm``). The ``-96``
HMACs send the first 12 bytes of the digest (RFC 2104 truncation; the key is full size).
UMAC (``umac-64/128@openssh.com``, RFC 4418) hashes the data alone and takes the sequence
number as its nonce, as a 64-bit big-endian integer (OpenSSH's mac.c).

Only the SHA-2 HMACs are defaults; MD5, SHA-1 and UMAC are opt-in (``+name``).
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .ciphers import Buffer
from .umac import UMAC

__all__ = [
    "MacAlgorithm",
    "MacSpec",
    "NONE_MAC",
    "DEFAULT_MACS",
    "SUPPORTED_MACS",
    "LEGACY_MACS",
    "mac_spec",
    "register_mac",
    "supported_macs",
    "default_macs",
]

_MASK32 = 0xFFFFFFFF


class MacAlgorithm(ABC):
    """A keyed MAC for one direction of one connection."""

    @abstractmethod
    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        """Return the MAC of ``uint32(seq) || head || body``."""

    def verify(self, seq: int, head: Buffer, body: Buffer, tag: Buffer) -> bool:
        """Compare in constant time against a received ``tag``."""
        return hmac.compare_digest(self.digest(seq, head, body), tag)


MacFactory = Callable[[bytes], MacAlgorithm]


@dataclass(frozen=True, slots=True)
class MacSpec:
    """One MAC: sizes in bytes, encrypt-then-MAC or not, and how to key it."""

    name: str
    key_size: int
    digest_size: int
    etm: bool
    factory: MacFactory
    legacy: bool = False

    def create(self, key: bytes) -> MacAlgorithm:
        """Key one direction, checking the key size first."""
        if len(key) != self.key_size:
            raise ValueError(f"{self.name}: key must be {self.key_size} bytes, got {len(key)}")
        return self.factory(key)


class _HMAC(MacAlgorithm):
    """HMAC keyed once; each packet copies the keyed state instead of re-deriving the pads."""

    __slots__ = ("_keyed", "_size")

    def __init__(self, key: bytes, hash_name: str, size: int | None = None) -> None:
        # A string digestmod selects OpenSSL's HMAC (fast C copy()).
        self._keyed = hmac.new(key, digestmod=hash_name)
        self._size = size

    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        mac = self._keyed.copy()
        mac.update((seq & _MASK32).to_bytes(4, "big"))
        mac.update(head)
        mac.update(body)
        out = mac.digest()
        return out if self._size is None else out[: self._size]


class _UMAC(MacAlgorithm):
    """UMAC over the data, the 64-bit sequence number as nonce (the key tables cached)."""

    __slots__ = ("_umac",)

    def __init__(self, key: bytes, tag_size: int) -> None:
        self._umac = UMAC(key, tag_size)

    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        # The sequence number is 32 bits on the wire (OpenSSH widens its u_int32 to 64).
        return self._umac.tag((seq & _MASK32).to_bytes(8, "big"), head, body)


class _NullMac(MacAlgorithm):
    __slots__ = ()

    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        return b""


def _hmac_factory(hash_name: str, size: int | None = None) -> MacFactory:
    def create(key: bytes) -> MacAlgorithm:
        return _HMAC(key, hash_name, size)

    return create


def _umac_factory(tag_size: int) -> MacFactory:
    def create(key: bytes) -> MacAlgorithm:
        return _UMAC(key, tag_size)

    return create


def _none(key: bytes) -> MacAlgorithm:
    return _NullMac()


# Not registered, like NONE_CIPHER: only the initial state (and tests) use it.
NONE_MAC = MacSpec("none", 0, 0, False, _none)

_BUILTIN: tuple[MacSpec, ...] = (
    MacSpec("hmac-sha2-256-etm@openssh.com", 32, 32, True, _hmac_factory("sha256")),
    MacSpec("hmac-sha2-512-etm@openssh.com", 64, 64, True, _hmac_factory("sha512")),
    MacSpec("hmac-sha2-256", 32, 32, False, _hmac_factory("sha256")),
    MacSpec("hmac-sha2-512", 64, 64, False, _hmac_factory("sha512")),
    MacSpec("hmac-sha1-etm@openssh.com", 20, 20, True, _hmac_factory("sha1"), legacy=True),
    MacSpec("hmac-sha1", 20, 20, False, _hmac_factory("sha1"), legacy=True),
    MacSpec("umac-64-etm@openssh.com", 16, 8, True, _umac_factory(8), legacy=True),
    MacSpec("umac-128-etm@openssh.com", 16, 16, True, _umac_factory(16), legacy=True),
    MacSpec("umac-64@openssh.com", 16, 8, False, _umac_factory(8), legacy=True),
    MacSpec("umac-128@openssh.com", 16, 16, False, _umac_factory(16), legacy=True),
    MacSpec("hmac-sha1-96-etm@openssh.com", 20, 12, True, _hmac_factory("sha1", 12), legacy=True),
    MacSpec("hmac-sha1-96", 20, 12, False, _hmac_factory("sha1", 12), legacy=True),
    MacSpec("hmac-md5-etm@openssh.com", 16, 16, True, _hmac_factory("md5"), legacy=True),
    MacSpec("hmac-md5", 16, 16, False, _hmac_factory("md5"), legacy=True),
    MacSpec("hmac-md5-96-etm@openssh.com", 16, 12, True, _hmac_factory("md5", 12), legacy=True),
    MacSpec("hmac-md5-96", 16, 12, False, _hmac_factory("md5", 12), legacy=True),
)

DEFAULT_MACS: tuple[str, ...] = tuple(s.name for s in _BUILTIN if not s.legacy)
LEGACY_MACS: tuple[str, ...] = tuple(s.name for s in _BUILTIN if s.legacy)
SUPPORTED_MACS: tuple[str, ...] = tuple(s.name for s in _BUILTIN)

_registry: dict[str, MacSpec] = {s.name: s for s in _BUILTIN}
_defaults: list[str] = list(DEFAULT_MACS)


def mac_spec(name: str) -> MacSpec:
    """Return the registered MAC called ``name``; ValueError if there is none."""
    try:
        return _registry[name]
    except KeyError:
        raise ValueError(f"unknown MAC {name!r}") from None


def register_mac(spec: MacSpec, *, default: bool = False, replace: bool = False) -> None:
    """Add a MAC to the registry (appended to the defaults if ``default``)."""
    if spec.name in _registry and not replace:
        raise ValueError(f"MAC {spec.name!r} is already registered")
    _registry[spec.name] = spec
    if default and spec.name not in _defaults:
        _defaults.append(spec.name)


def supported_macs() -> tuple[str, ...]:
    """Every registered MAC name, in preference order (legacy ones included)."""
    return tuple(_registry)


def default_macs() -> tuple[str, ...]:
    """The names offered when the user asks for nothing else."""
    return tuple(_defaults)
