"""Elliptic-curve agreements: curve25519-sha256 (RFC 8731) and ecdh-sha2-nistp* (RFC 5656)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssh_wire import encode_mpint

from .agreement import Agreement
from .base import KexFailed, Rng

__all__ = ["X25519Agreement", "NistAgreement", "x25519_shared"]


def x25519_shared(private: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    """The raw X25519 output; all-zero output (a low-order peer point) is refused."""
    if len(peer) != 32:
        raise KexFailed("X25519 public value must be 32 bytes")
    try:
        shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError:
        raise KexFailed("X25519 exchange failed (low-order point)") from None
    if shared == bytes(32):
        raise KexFailed("X25519 shared secret is zero")
    return shared


def _x25519_public(private: x25519.X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class X25519Agreement(Agreement):
    def __init__(self, rng: Rng) -> None:
        # Keys from the injected rng so recorded transcripts replay exactly.
        self._private = x25519.X25519PrivateKey.from_private_bytes(rng(32))

    def client_public(self) -> bytes:
        return _x25519_public(self._private)

    def client_shared(self, server_public: bytes) -> bytes:
        # RFC 8731 3.1: K is the X25519 output read as an unsigned big-endian number.
        return encode_mpint(int.from_bytes(x25519_shared(self._private, server_public), "big"))

    def server_respond(self, client_public: bytes) -> tuple[bytes, bytes]:
        shared = x25519_shared(self._private, client_public)
        return _x25519_public(self._private), encode_mpint(int.from_bytes(shared, "big"))


class NistAgreement(Agreement):
    curve: ec.EllipticCurve

    def __init__(self, rng: Rng) -> None:
        bits = self.curve.key_size
        while True:
            # Scalars from the injected rng; a value outside [1, order) is simply redrawn
            # (for these curves the order is within 2**-32 of 2**bits, so almost never).
            scalar = int.from_bytes(rng((bits + 7) // 8), "big") & ((1 << bits) - 1)
            try:
                self._private = ec.derive_private_key(scalar, self.curve)
                return
            except ValueError:
                continue

    def _public(self) -> bytes:
        return self._private.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )

    def _shared(self, peer: bytes) -> bytes:
        if not peer or peer[0] != 4:
            raise KexFailed("ECDH public value must be an uncompressed point")
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(self.curve, peer)
            secret = self._private.exchange(ec.ECDH(), point)
        except ValueError:
            raise KexFailed("invalid ECDH public value") from None
        return encode_mpint(int.from_bytes(secret, "big"))

    def client_public(self) -> bytes:
        return self._public()

    def client_shared(self, server_public: bytes) -> bytes:
        return self._shared(server_public)

    def server_respond(self, client_public: bytes) -> tuple[bytes, bytes]:
        return self._public(), self._shared(client_public)


class P256(NistAgreement):
    curve = ec.SECP256R1()


class P384(NistAgreement):
    curve = ec.SECP384R1()


class P521(NistAgreement):
    curve = ec.SECP521R1()
