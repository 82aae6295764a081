"""The Signer protocol: anything that can sign for a public key.

Key files, agent keys and hardware keys all implement it, and the upper layers
sign only through it (ssh-auth never needs to know where a key lives).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .public import PublicKey

__all__ = ["Signer", "AsyncSigner"]


@runtime_checkable
class Signer(Protocol):
    """Signs data with the private half of ``public_key``."""

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Signature algorithms this signer uses by default, preferred first.

        Legacy SHA-1 algorithms (``ssh-rsa``) are never listed here; a signer that can make
        them when ``sign`` names them may say so in an optional ``legacy_algorithms``
        attribute (see :func:`ssh_keys.signer_algorithms`).
        """
        ...

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        """Return an SSH signature blob (string algorithm, string signature)."""
        ...


@runtime_checkable
class AsyncSigner(Protocol):
    """The asyncio twin of :class:`Signer` (agent keys over an async socket)."""

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def algorithms(self) -> tuple[str, ...]: ...

    async def sign(self, data: bytes, algorithm: str | None = None) -> bytes: ...
