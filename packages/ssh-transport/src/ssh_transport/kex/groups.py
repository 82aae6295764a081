"""Finite-field Diffie-Hellman: the fixed MODP groups (RFC 4253 8, RFC 8268).

The primes of RFC 2409 and RFC 3526 are defined by a formula over the binary
expansion of pi; we compute them from it (once, on first use) instead of
pasting kilobytes of hex. Tests check the results against the RFCs' published
first and last words and for safe primality.
"""

from __future__ import annotations

import functools

from ssh_wire import encode_mpint

from .agreement import Agreement
from .base import Rng
from .ffdh import FFDHKey, check_public, private_exponent

__all__ = ["modp_prime", "DHAgreement", "MODP_GENERATOR", "dh_agreement", "check_public"]

MODP_GENERATOR = 2

# RFC 2409 6.2 (1024) and RFC 3526 2-7: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)
_MODP_OFFSETS = {1024: 129093, 2048: 124476, 3072: 1690314, 4096: 240904, 6144: 929484,
                 8192: 4743158}  # fmt: skip


def _arctan_inverse(x: int, one: int) -> int:
    """arctan(1/x) * one, by its Taylor series in fixed point."""
    total = term = one // x
    x2, n, sign = x * x, 1, -1
    while term:
        term //= x2
        n += 2
        total += sign * (term // n)
        sign = -sign
    return total


def _pi_scaled(bits: int) -> int:
    """floor(pi * 2**bits), via Machin's formula with 64 guard bits."""
    one = 1 << (bits + 64)
    return (4 * (4 * _arctan_inverse(5, one) - _arctan_inverse(239, one))) >> 64


@functools.cache
def modp_prime(bits: int) -> int:
    """The MODP safe prime of ``bits`` bits (1024, 2048, 3072, 4096, 6144, 8192)."""
    k = _MODP_OFFSETS[bits]
    prime: int = 2**bits - 2 ** (bits - 64) - 1 + 2**64 * (_pi_scaled(bits - 130) + k)
    return prime


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
