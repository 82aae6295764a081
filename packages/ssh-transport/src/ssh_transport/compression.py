"""Compression registry (RFC 4253 6.2, OpenSSH's delayed zlib@openssh.com).

One zlib stream per direction for the life of the keys. Each packet's payload is
compressed and flushed with Z_PARTIAL_FLUSH, as OpenSSH does, so the peer can inflate
every packet as it arrives. Inflating is bounded per packet, so a small packet cannot
expand into an arbitrarily large payload (a decompression bomb).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .ciphers import Buffer
from .errors import CompressionError

__all__ = [
    "Compressor",
    "Decompressor",
    "CompressionSpec",
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_COMPRESSION",
    "SUPPORTED_COMPRESSION",
    "LEGACY_COMPRESSION",
    "compression_spec",
    "register_compression",
    "supported_compression",
    "default_compression",
]

# OpenSSH's largest packet; no legitimate payload inflates past it.
DEFAULT_MAX_DECOMPRESSED = 256 * 1024


class Compressor(ABC):
    @abstractmethod
    def compress(self, payload: Buffer) -> bytes:
        """Compress one packet payload; the result is complete for the peer to inflate."""


class Decompressor(ABC):
    @abstractmethod
    def decompress(self, data: Buffer) -> bytes:
        """Inflate one packet payload; CompressionError if corrupt or over the limit."""


@dataclass(frozen=True, slots=True)
class CompressionSpec:
    """One compression method. ``delayed`` ones start only after user authentication
    succeeds (zlib@openssh.com), which keeps zlib off the pre-auth attack surface."""

    name: str
    delayed: bool
    compressor: Callable[[], Compressor]
    decompressor: Callable[[int], Decompressor]  # takes the per-packet output limit
    legacy: bool = False


class _Identity(Compressor, Decompressor):
    __slots__ = ()

    def compress(self, payload: Buffer) -> bytes:
        return bytes(payload)

    def decompress(self, data: Buffer) -> bytes:
        return bytes(data)


class _ZlibCompressor(Compressor):
    __slots__ = ("_stream",)

    def __init__(self) -> None:
        self._stream = zlib.compressobj()

    def compress(self, payload: Buffer) -> bytes:
        stream = self._stream
        return stream.compress(payload) + stream.flush(zlib.Z_PARTIAL_FLUSH)


class _ZlibDecompressor(Decompressor):
    __slots__ = ("_limit", "_stream")

    def __init__(self, limit: int) -> None:
        self._stream = zlib.decompressobj()
        self._limit = limit

    def decompress(self, data: Buffer) -> bytes:
        stream = self._stream
        try:
            # One byte over the limit tells "exactly at the limit" from "past it".
            out = stream.decompress(data, self._limit + 1)
        except zlib.error as exc:
            raise CompressionError(f"corrupt compressed data: {exc}") from None
        if len(out) > self._limit:
            raise CompressionError(f"payload inflates past {self._limit} bytes")
        if stream.eof:
            # SSH never ends its zlib stream; a final block means a broken peer.
            raise CompressionError("compressed stream ended")
        return out


def _identity() -> _Identity:
    return _Identity()


def _identity_limited(limit: int) -> _Identity:
    return _Identity()


def _zlib_decompressor(limit: int) -> Decompressor:
    return _ZlibDecompressor(limit)


_BUILTIN: tuple[CompressionSpec, ...] = (
    CompressionSpec("none", False, _identity, _identity_limited),
    CompressionSpec("zlib@openssh.com", True, _ZlibCompressor, _zlib_decompressor),
    # RFC 4253 "zlib" runs during key exchange and authentication: opt-in only.
    CompressionSpec("zlib", False, _ZlibCompressor, _zlib_decompressor, legacy=True),
)

DEFAULT_COMPRESSION: tuple[str, ...] = tuple(s.name for s in _BUILTIN if not s.legacy)
LEGACY_COMPRESSION: tuple[str, ...] = tuple(s.name for s in _BUILTIN if s.legacy)
SUPPORTED_COMPRESSION: tuple[str, ...] = tuple(s.name for s in _BUILTIN)

_registry: dict[str, CompressionSpec] = {s.name: s for s in _BUILTIN}
_defaults: list[str] = list(DEFAULT_COMPRESSION)


def compression_spec(name: str) -> CompressionSpec:
    """Return the registered compression method ``name``; ValueError if there is none."""
    try:
        return _registry[name]
    except KeyError:
        raise ValueError(f"unknown compression {name!r}") from None


def register_compression(
    spec: CompressionSpec, *, default: bool = False, replace: bool = False
) -> None:
    """Add a compression method (appended to the defaults if ``default``)."""
    if spec.name in _registry and not replace:
        raise ValueError(f"compression {spec.name!r} is already registered")
    _registry[spec.name] = spec
    if default and spec.name not in _defaults:
        _defaults.append(spec.name)


def supported_compression() -> tuple[str, ...]:
    """Every registered method name, in preference order (legacy ones included)."""
    return tuple(_registry)


def default_compression() -> tuple[str, ...]:
    """The names offered when the user asks for nothing else."""
    return tuple(_defaults)
