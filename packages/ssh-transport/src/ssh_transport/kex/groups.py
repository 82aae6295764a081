"""Finite-field Diffie-Hellman over the fixed MODP groups (RFC 4253 8, RFC 8268)."""

from __future__ import annotations

from ssh_wire import encode_mpint

from .agreement import Agreement
from .base import Rng
from .ffdh import FFDHKey, check_public, private_exponent
from .modp import MODP_GENERATOR, modp_prime

__all__ = ["modp_prime", "DHAgreement", "MODP_GENERATOR", "dh_agreement", "check_public"]


class DHAgreement(Agreement):
    public_as_mpint = True
    p: int
    g: int = MODP_GENERATOR

    def __init__(self, rng: Rng) -> None:
        self._key = FFDHKey(self.p, self.g, private_exponent(rng, self.p))

    def _public_bytes(self) -> bytes:
        e = self._key.public
        return e.to_bytes((e.bit_length() + 7) // 8, "big")

    def _shared(self, peer: bytes) -> bytes:
        return encode_mpint(self._key.shared(int.from_bytes(peer, "big")))

    def client_public(self) -> bytes:
        return self._public_bytes()

    def client_shared(self, server_public: bytes) -> bytes:
        return self._shared(server_public)

    def server_respond(self, client_public: bytes) -> tuple[bytes, bytes]:
        shared = self._shared(client_public)
        return self._public_bytes(), shared


def dh_agreement(bits: int) -> type[DHAgreement]:
    """An agreement class for the MODP group of ``bits`` bits."""
    return type(f"MODP{bits}", (DHAgreement,), {"p": modp_prime(bits)})
