"""Keys held in memory by an agent, with their constraints, and the lock.

The store knows no clock: every call that depends on time takes ``now`` (seconds,
any monotonic origin the driver chooses).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from ssh_keys import KeyFormatError, PrivateKey, PublicKey, parse_public_key_blob

from .protocol import DestinationConstraint

__all__ = ["StoredKey", "KeyStore"]

# Lock passphrases are kept only as a salted PBKDF2 hash.
_LOCK_HASH = "sha256"
_LOCK_ITERATIONS = 100_000


@dataclass
class StoredKey:
    """One identity: a private key, the blob it is listed under, and its constraints."""

    key: PrivateKey
    #: What IDENTITIES_ANSWER lists and SIGN_REQUEST names: the certificate blob for a
    #: certificate identity, the public key blob otherwise.
    blob: bytes
    comment: str = ""
    expires_at: float | None = None
    confirm: bool = False
    destinations: tuple[DestinationConstraint, ...] = ()
    certificate: bytes | None = None

    @property
    def public_key(self) -> PublicKey:
        """The identity's public key (the certificate, when it parses as one)."""
        if self.certificate is not None:
            try:
                return parse_public_key_blob(self.certificate)
            except KeyFormatError:
                pass
        return self.key.public_key


class KeyStore:
    """The agent's keys, shared by all its connections.

    ``default_lifetime`` (seconds, like ``ssh-agent -t``) applies to keys added
    without a lifetime of their own.
    """

    def __init__(
        self,
        *,
        default_lifetime: int | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.default_lifetime = default_lifetime
        self._rng = rng
        self._keys: dict[bytes, StoredKey] = {}
        self._lock: tuple[bytes, bytes] | None = None  # (salt, hash)

    # -- keys -----------------------------------------------------------------

    def add(
        self,
        key: PrivateKey,
        comment: str = "",
        *,
        now: float,
        lifetime: int | None = None,
        confirm: bool = False,
        destinations: tuple[DestinationConstraint, ...] = (),
        certificate: bytes | None = None,
    ) -> StoredKey:
        """Add or replace an identity (adding a key again updates its comment and constraints)."""
        if lifetime is None:
            lifetime = self.default_lifetime
        blob = certificate if certificate is not None else key.public_key.blob
        entry = StoredKey(
            key,
            blob,
            comment,
            None if lifetime is None else now + lifetime,
            confirm,
            destinations,
            certificate,
        )
        self._keys.pop(blob, None)  # re-adding moves the key to the end, as OpenSSH lists it
        self._keys[blob] = entry
        return entry

    def get(self, blob: bytes) -> StoredKey | None:
        return self._keys.get(blob)

    def remove(self, blob: bytes) -> bool:
        return self._keys.pop(blob, None) is not None

    def remove_all(self) -> int:
        n = len(self._keys)
        self._keys.clear()
        return n

    def identities(self) -> list[StoredKey]:
        return list(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    # -- lifetimes --------------------------------------------------------------

    def expire(self, now: float) -> list[StoredKey]:
        """Drop keys whose lifetime has passed; return them."""
        gone = [k for k in self._keys.values() if k.expires_at is not None and k.expires_at <= now]
        for k in gone:
            del self._keys[k.blob]
        return gone

    def next_expiry(self) -> float | None:
        times = [k.expires_at for k in self._keys.values() if k.expires_at is not None]
        return min(times) if times else None

    # -- lock -------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock is not None

    @staticmethod
    def _hash(passphrase: bytes, salt: bytes) -> bytes:
        return hashlib.pbkdf2_hmac(_LOCK_HASH, passphrase, salt, _LOCK_ITERATIONS)

    def lock(self, passphrase: bytes) -> bool:
        """Lock with ``passphrase``; False if already locked."""
        if self._lock is not None:
            return False
        salt = self._rng(16)
        self._lock = (salt, self._hash(passphrase, salt))
        return True

    def unlock(self, passphrase: bytes) -> bool:
        """Unlock if ``passphrase`` is the one the store was locked with."""
        if self._lock is None:
            return False
        salt, expected = self._lock
        if not hmac.compare_digest(self._hash(passphrase, salt), expected):
            return False
        self._lock = None
        return True
