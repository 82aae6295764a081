"""MAC registry (RFC 4253 6.4, RFC 6668, OpenSSH PROTOCOL 1.5 for the -etm variants).

A MAC is computed over ``uint32 sequence_number || data``: the plaintext packet for the
classic MACs, the length field and ciphertext for encrypt-then-MAC (``etm``).
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .ciphers import Buffer

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

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes, hash_name: str) -> None:
        # A string digestmod selects OpenSSL's HMAC (fast C copy()).
        self._keyed = hmac.new(key, digestmod=hash_name)

    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        mac = self._keyed.copy()
        mac.update((seq & _MASK32).to_bytes(4, "big"))
        mac.update(head)
        mac.update(body)
        return mac.digest()


class _NullMac(MacAlgorithm):
    __slots__ = ()

    def digest(self, seq: int, head: Buffer, body: Buffer) -> bytes:
        return b""


def _hmac_factory(hash_name: str) -> MacFactory:
    def create(key: bytes) -> MacAlgorithm:
        return _HMAC(key, hash_name)

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
