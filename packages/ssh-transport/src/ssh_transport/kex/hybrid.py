"""Post-quantum hybrids: a KEM combined with X25519.

mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex) and
sntrup761x25519-sha512 (draft-josefsson-ntruprime-ssh). The client sends its
KEM public key then its X25519 key; the server answers with the KEM ciphertext
then its X25519 key; K = HASH(kem secret || x25519 secret), encoded as a
``string`` (not an mpint) in the exchange hash and key derivation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssh_wire import encode_string

from .agreement import Agreement
from .base import KexFailed, Rng
from .curves import x25519_shared

__all__ = ["MLKEM768X25519", "SNTRUP761X25519"]


class _Hybrid(Agreement):
    hash_name: str
    kem_public_size: int
    kem_ciphertext_size: int

    def __init__(self, rng: Rng) -> None:
        self._rng = rng
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(rng(32))

    def _x25519_public(self) -> bytes:
        return self._x25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def _combine(self, kem_secret: bytes, ecdh_secret: bytes) -> bytes:
        return encode_string(hashlib.new(self.hash_name, kem_secret + ecdh_secret).digest())

    # The KEM itself.
    def _kem_keypair(self) -> bytes:
        raise NotImplementedError

    def _kem_decapsulate(self, ciphertext: bytes) -> bytes:
        raise NotImplementedError

    def _kem_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, secret)"""
        raise NotImplementedError

    def client_public(self) -> bytes:
        return self._kem_keypair() + self._x25519_public()

    def client_shared(self, server_public: bytes) -> bytes:
        if len(server_public) != self.kem_ciphertext_size + 32:
            raise KexFailed("hybrid reply has the wrong length")
        kem_secret = self._kem_decapsulate(server_public[: self.kem_ciphertext_size])
        ecdh = x25519_shared(self._x25519, server_public[self.kem_ciphertext_size :])
        return self._combine(kem_secret, ecdh)

    def server_respond(self, client_public: bytes) -> tuple[bytes, bytes]:
        if len(client_public) != self.kem_public_size + 32:
            raise KexFailed("hybrid init has the wrong length")
        ciphertext, kem_secret = self._kem_encapsulate(client_public[: self.kem_public_size])
        ecdh = x25519_shared(self._x25519, client_public[self.kem_public_size :])
        return ciphertext + self._x25519_public(), self._combine(kem_secret, ecdh)


class MLKEM768X25519(_Hybrid):
    hash_name = "sha256"
    kem_public_size = 1184
    kem_ciphertext_size = 1088

    def _kem_keypair(self) -> bytes:
        # cryptography draws ML-KEM randomness from OpenSSL; it takes no seed from us.
        self._kem = mlkem.MLKEM768PrivateKey.generate()
        return self._kem.public_key().public_bytes_raw()

    def _kem_decapsulate(self, ciphertext: bytes) -> bytes:
        try:
            return self._kem.decapsulate(ciphertext)
        except ValueError:
            raise KexFailed("ML-KEM decapsulation failed") from None

    def _kem_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        try:
            secret, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(public).encapsulate()
        except ValueError:
            raise KexFailed("invalid ML-KEM public key") from None
        return ciphertext, secret


def _sntrup() -> tuple[Callable[..., tuple[bytes, bytes]], Callable[..., tuple[bytes, bytes]],
                       Callable[[bytes, bytes], bytes]]:  # fmt: skip
    # Imported on first use: the pure-Python KEM is only needed when negotiated.
    from ssh_transport.sntrup761 import decapsulate, encapsulate, generate_keypair

    return generate_keypair, encapsulate, decapsulate


class SNTRUP761X25519(_Hybrid):
    hash_name = "sha512"
    kem_public_size = 1158
    kem_ciphertext_size = 1039

    def _kem_keypair(self) -> bytes:
        keypair, _, _ = _sntrup()
        public, self._kem_secret = keypair(self._rng)
        return public

    def _kem_decapsulate(self, ciphertext: bytes) -> bytes:
        _, _, decapsulate = _sntrup()
        return decapsulate(ciphertext, self._kem_secret)

    def _kem_encapsulate(self, public: bytes) -> tuple[bytes, bytes]:
        _, encapsulate, _ = _sntrup()
        try:
            return encapsulate(public, self._rng)
        except ValueError:
            raise KexFailed("invalid sntrup761 public key") from None
