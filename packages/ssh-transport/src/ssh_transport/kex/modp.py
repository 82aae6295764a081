"""The MODP primes of RFC 2409 and RFC 3526, computed rather than pasted.

They are defined by a formula over the binary expansion of pi; we compute them from it
(once per size, on first use) instead of pasting kilobytes of hex. Tests check the
results against the RFCs' published first and last words and for safe primality.
"""

from __future__ import annotations

import functools

__all__ = ["modp_prime", "MODP_GENERATOR"]

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
