"""Finite-field Diffie-Hellman arithmetic, shared by the fixed groups and group exchange.

Two things make it fast. The private exponent is sized from the group's strength
instead of a fixed 1024 bits: the best attack on a short exponent costs about
2**(bits/2), so twice the group's strength makes the exponent no weaker than the
group itself (RFC 3526 section 8, RFC 7919 section 5.2). And for the RFC 3526 groups
the exponentiation runs in OpenSSL through ``cryptography``'s dh module when it is
there: at 4096 and 8192 bits that is 6 to 10 times faster than Python's ``pow``.
Other groups (a moduli file's, for group exchange) stay with ``pow``: OpenSSL would
validate them at every use. ``cryptography`` deprecates the dh module, so ``pow``
stays as the fallback, giving the same numbers.

The private exponent always comes from the injected ``rng``; OpenSSL only computes.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any

from .base import KexFailed, Rng
from .modp import modp_prime

__all__ = ["strength_bits", "exponent_bits", "private_exponent", "check_public", "FFDHKey"]

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dh as _dh  # noqa: F401
    from cryptography.utils import CryptographyDeprecationWarning

    _OPENSSL = True
except ImportError:  # pragma: no cover - a cryptography without FFDH
    _OPENSSL = False

_THIS_MODULE = re.escape(__name__) + r"\Z"


def _silence_deprecation() -> None:
    """The FFDH deprecation is ours to handle (pow is the way out), not our users': ignore
    it for calls from this module only. Checked before each use, since test runners reset
    the warning filters around every test."""
    for action, _, category, module, _ in warnings.filters:
        if not issubclass(CryptographyDeprecationWarning, category):
            continue
        if module is None or module.match(__name__):  # the filter that decides
            if action == "ignore" and module is not None and module.pattern == _THIS_MODULE:
                return
            break
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=_THIS_MODULE)


#: Security strength in bits of a finite field of at most this many bits
#: (NIST SP 800-57 Part 1 table 2; SP 800-56B rev 2 appendix D for the sizes between).
_STRENGTH = ((1024, 80), (2048, 112), (3072, 128), (4096, 152), (6144, 176), (7680, 192),
             (8192, 200), (15360, 256))  # fmt: skip


def strength_bits(p_bits: int) -> int:
    """The strength of a group of ``p_bits`` bits, rounded up to the next tabulated size
    (a moduli file's 5000-bit group counts as 6144: the longer exponent is the safe side)."""
    for size, strength in _STRENGTH:
        if p_bits <= size:
            return strength
    return _STRENGTH[-1][1]


def exponent_bits(p_bits: int) -> int:
    """Private exponent length: twice the group's strength, below the modulus."""
    return min(2 * strength_bits(p_bits), p_bits - 1)


def private_exponent(rng: Rng, p: int) -> int:
    """A random exponent of exactly ``exponent_bits`` bits (top bit set) from ``rng``."""
    bits = exponent_bits(p.bit_length())
    nbytes = (bits + 7) // 8
    x = int.from_bytes(rng(nbytes), "big") >> (8 * nbytes - bits)
    return x | (1 << (bits - 1))


def check_public(value: int, p: int) -> None:
    """RFC 4253 8: values outside [2, p-2] are refused (small-subgroup defence)."""
    if not 1 < value < p - 1:
        raise KexFailed("DH public value out of range")


class FFDHKey:
    """One side's ephemeral key in the group (p, g): ``public`` is g**x mod p."""

    def __init__(self, p: int, g: int, x: int) -> None:
        self.p, self.g = p, g
        self._x = x
        self._openssl: Any = None
        if _OPENSSL and _named_group(p, g):
            _silence_deprecation()
            self._openssl = _openssl_private(p, g, x)
        if self._openssl is not None:
            self.public: int = self._openssl.public_key().public_numbers().y
        else:
            self.public = pow(g, x, p)

    def shared(self, peer: int) -> int:
        """K = peer**x mod p, once ``peer`` passed the range check."""
        check_public(peer, self.p)
        if self._openssl is None:
            return pow(peer, self._x, self.p)
        try:
            public = serialization.load_der_public_key(_spki(_parameters_der(self.p, self.g), peer))
            secret = self._openssl.exchange(public)
        except ValueError:
            # OpenSSL also checks that the value lies in the prime-order subgroup, which
            # g**y always does: only a hostile or broken peer gets here.
            raise KexFailed("DH public value rejected") from None
        return int.from_bytes(secret, "big")


def _named_group(p: int, g: int) -> bool:
    """Whether OpenSSL knows (p, g) by name: the RFC 3526 MODP groups of 2048 bits and up.

    Any other group (a moduli file's, RFC 2409's 1024-bit one) it validates on every key
    load, primality tests included: seconds per exchange at 3072 bits, far slower than pow.
    """
    bits = p.bit_length()
    return g == 2 and bits in (2048, 3072, 4096, 6144, 8192) and p == modp_prime(bits)


def _openssl_private(p: int, g: int, x: int) -> Any:
    # Loading a private-only PKCS#8 key makes OpenSSL derive the public value: the
    # documented way to have it compute g**x for an exponent we chose.
    try:
        return serialization.load_der_private_key(_pkcs8(_parameters_der(p, g), x), None)
    except (ValueError, UnsupportedAlgorithm):
        return None  # a group OpenSSL refuses: pow still works


# -- just enough DER for PKCS#3 parameters inside PKCS#8 and SubjectPublicKeyInfo --------

_DH_OID = bytes.fromhex("06092a864886f70d010301")  # 1.2.840.113549.1.3.1 dhKeyAgreement


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


@functools.lru_cache(maxsize=16)
def _parameters_der(p: int, g: int) -> bytes:
    return _der(0x30, _DH_OID + _der(0x30, _der_int(p) + _der_int(g)))


def _pkcs8(algorithm: bytes, x: int) -> bytes:
    return _der(0x30, _der_int(0) + algorithm + _der(0x04, _der_int(x)))


def _spki(algorithm: bytes, y: int) -> bytes:
    return _der(0x30, algorithm + _der(0x03, b"\x00" + _der_int(y)))
