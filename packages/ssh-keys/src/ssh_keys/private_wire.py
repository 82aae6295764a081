"""Per-type private key fields, as OpenSSH serialises them.

The same encoding appears inside the openssh-key-v1 private section
(PROTOCOL.key) and in the agent's ADD_IDENTITY message
(draft-miller-ssh-agent, "Key formats"):

    ssh-ed25519        string pub(32)  string seed||pub(64)
    ecdsa-sha2-*       string curve    string Q        mpint d
    ssh-rsa            mpint n  mpint e  mpint d  mpint iqmp  mpint p  mpint q
    ssh-dss            mpint p  mpint q  mpint g  mpint y  mpint x
    sk-ecdsa-*         string curve  string Q  string application
                       byte flags  string key_handle  string reserved
    sk-ssh-ed25519     string pub  string application
                       byte flags  string key_handle  string reserved

Certificate variants (``<type>-cert-v01@openssh.com``) carry the certificate
blob, then what the certificate does not already hold (as OpenSSH 9.2's
ssh-add sends them):

    ed25519:     string pub  string seed||pub        ecdsa: mpint d
    rsa:         mpint d  mpint iqmp  mpint p  mpint q      dss: mpint x
    sk-ed25519:  string pub  string application  byte flags  string handle  string reserved
    sk-ecdsa:    string application  byte flags  string handle  string reserved

Everything read is checked for consistency (the public half must match the
private half), so a corrupted key fails here with :class:`KeyFormatError`
rather than producing bad signatures later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from ssh_wire import DecodeError, Reader, Writer

from . import algorithms as _table
from .errors import KeyFormatError, UnsupportedAlgorithm
from .private import (
    DSAPrivateKey,
    ECDSAPrivateKey,
    Ed25519PrivateKey,
    PrivateKey,
    RSAPrivateKey,
    SKPrivateKey,
)
from .public import (
    CURVES,
    RSA_MAX_BITS,
    DSAPublicKey,
    ECDSAPublicKey,
    Ed25519PublicKey,
    PublicKey,
    RSAPublicKey,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
    read_public_key,
)

__all__ = [
    "CERT_SUFFIX",
    "PrivateEntry",
    "write_private_fields",
    "read_private_fields",
    "read_private_entry",
    "rsa_private_from_numbers",
    "certificate_type",
]

CERT_SUFFIX = _table.CERT_SUFFIX

_DSA_MAX_BITS = 8192
_SK_MAX_HANDLE = 4096  # FIDO credential ids are at most 1023 bytes in practice
_SK_MAX_APPLICATION = 1024


@dataclass(frozen=True)
class PrivateEntry:
    """A private key as stored, with the certificate blob it came with (if any)."""

    key: PrivateKey
    certificate: bytes | None = None


# -- writing ------------------------------------------------------------------


def _write_public_part(w: Writer, key: PrivateKey, in_certificate: bool) -> None:
    """The public fields that precede the private ones.

    After a certificate OpenSSH leaves out what the certificate already holds,
    except the ed25519 public key and a security key's application, which it
    repeats (checked against ssh-add's ADD_IDENTITY messages).
    """
    if isinstance(key, Ed25519PrivateKey):
        pub = key.public_key
        assert isinstance(pub, Ed25519PublicKey)
        w.string(pub.raw)
    elif isinstance(key, ECDSAPrivateKey):
        pub = key.public_key
        assert isinstance(pub, ECDSAPublicKey)
        if not in_certificate:
            w.string(pub.curve_name.encode()).string(pub.point)
    elif isinstance(key, RSAPrivateKey):
        nums = key.crypto_key.private_numbers()
        if not in_certificate:
            w.mpint(nums.public_numbers.n).mpint(nums.public_numbers.e)
    elif isinstance(key, DSAPrivateKey):
        pub = key.public_key
        assert isinstance(pub, DSAPublicKey)
        if not in_certificate:
            w.mpint(pub.p).mpint(pub.q).mpint(pub.g).mpint(pub.y)
    elif isinstance(key, SKPrivateKey):
        pub = key.public_key
        if isinstance(pub, SKEd25519PublicKey):
            w.string(pub.raw)
        elif isinstance(pub, SKECDSAPublicKey):
            if not in_certificate:
                w.string(b"nistp256").string(pub.point)
        else:  # pragma: no cover - SKPrivateKey's constructor types forbid it
            raise UnsupportedAlgorithm(f"unsupported security key type {pub.algorithm}")
        w.text(key.application)
    else:
        raise UnsupportedAlgorithm(f"cannot serialise a {type(key).__name__}")


def _write_private_part(w: Writer, key: PrivateKey) -> None:
    """The private fields; for certificates these follow the certificate blob alone."""
    if isinstance(key, Ed25519PrivateKey):
        pub = key.public_key
        assert isinstance(pub, Ed25519PublicKey)
        w.string(key.seed + pub.raw)
    elif isinstance(key, ECDSAPrivateKey):
        w.mpint(key.crypto_key.private_numbers().private_value)
    elif isinstance(key, RSAPrivateKey):
        nums = key.crypto_key.private_numbers()
        w.mpint(nums.d).mpint(nums.iqmp).mpint(nums.p).mpint(nums.q)
    elif isinstance(key, DSAPrivateKey):
        w.mpint(key.crypto_key.private_numbers().x)
    elif isinstance(key, SKPrivateKey):
        w.byte(key.flags).string(key.key_handle).string(key.reserved)
    else:
        raise UnsupportedAlgorithm(f"cannot serialise a {type(key).__name__}")


def write_private_fields(key: PrivateKey, certificate: bytes | None = None) -> bytes:
    """Encode ``key`` starting with its key type string; the comment is not included.

    With ``certificate`` (a certificate blob for this key), write the
    ``*-cert-v01@openssh.com`` form instead.
    """
    w = Writer()
    if certificate is not None:
        cert_type = _certificate_type(certificate)
        if cert_type != certificate_type(key.algorithm):
            raise KeyFormatError(f"a {cert_type} certificate does not fit a {key.algorithm} key")
        if _certified_key(certificate, key.algorithm) != key.public_key:
            raise KeyFormatError("the certificate is for a different key")
        w.string(cert_type.encode()).string(certificate)
    else:
        w.string(key.algorithm.encode())
    _write_public_part(w, key, certificate is not None)
    _write_private_part(w, key)
    return w.getvalue()


# -- reading ------------------------------------------------------------------


def _ed25519(r: Reader, pub: Ed25519PublicKey) -> Ed25519PrivateKey:
    both = r.string("ed25519 private key", max_length=64)
    if len(both) != 64:
        raise KeyFormatError(f"ed25519 private key must be 64 bytes, got {len(both)}")
    if both[32:] != pub.raw:
        raise KeyFormatError("ed25519 private key does not hold its public key")
    key = Ed25519PrivateKey.from_seed(both[:32])
    if key.public_key != pub:
        raise KeyFormatError("ed25519 private key does not match its public key")
    return key


def read_ecdsa_private(r: Reader, pub: ECDSAPublicKey) -> ECDSAPrivateKey:
    """The private value (one mpint) of an ECDSA key, checked against ``pub``."""
    curve, _, bits = CURVES[pub.curve_name]
    d = r.positive_mpint("ecdsa private value", max_bits=bits + 8)
    try:
        crypto_key = ec.derive_private_key(d, curve)
    except ValueError:
        raise KeyFormatError("ECDSA private value out of range") from None
    key = ECDSAPrivateKey(crypto_key)
    if key.public_key != pub:
        raise KeyFormatError("ECDSA private key does not match its public key")
    return key


def _rsa(r: Reader, pub: RSAPublicKey) -> RSAPrivateKey:
    d = r.positive_mpint("rsa d", max_bits=RSA_MAX_BITS)
    iqmp = r.positive_mpint("rsa iqmp", max_bits=RSA_MAX_BITS)
    p = r.positive_mpint("rsa p", max_bits=RSA_MAX_BITS)
    q = r.positive_mpint("rsa q", max_bits=RSA_MAX_BITS)
    return RSAPrivateKey(rsa_private_from_numbers(pub.n, pub.e, d, p, q, iqmp))


def rsa_private_from_numbers(
    n: int, e: int, d: int, p: int, q: int, iqmp: int | None = None
) -> rsa.RSAPrivateKey:
    """Build an RSA key after checking its parameters agree (cheaply, no primality tests).

    cryptography's own validation costs a quarter second for a 4096-bit key
    and fails with an opaque ValueError; these checks are what make a key
    sign correctly.
    """
    if iqmp is None and p > 2:
        iqmp = pow(q, -1, p) if math.gcd(q, p) == 1 else 0
    if (
        p < 3
        or q < 3
        or p == q
        or p * q != n
        or not 1 < d < n
        or iqmp is None
        or not 0 < iqmp < p
        or (iqmp * q) % p != 1
        or (e * d - 1) % math.lcm(p - 1, q - 1) != 0
    ):
        raise KeyFormatError("RSA private key parameters are inconsistent")
    nums = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), iqmp, rsa.RSAPublicNumbers(e, n)
    )
    try:
        return nums.private_key(unsafe_skip_rsa_key_validation=True)
    except ValueError:
        raise KeyFormatError("invalid RSA private key") from None


def read_dsa_private(r: Reader, pub: DSAPublicKey) -> DSAPrivateKey:
    """The private value x (one mpint) of a DSA key, checked against ``pub``."""
    x = r.positive_mpint("dsa x", max_bits=512)
    if x >= pub.q or pow(pub.g, x, pub.p) != pub.y:
        raise KeyFormatError("DSA private key does not match its public key")
    params = dsa.DSAParameterNumbers(pub.p, pub.q, pub.g)
    try:
        crypto_key = dsa.DSAPrivateNumbers(x, dsa.DSAPublicNumbers(pub.y, params)).private_key()
    except ValueError:
        raise KeyFormatError("invalid DSA private key") from None
    return DSAPrivateKey(crypto_key)


def _sk(r: Reader, pub: SKEd25519PublicKey | SKECDSAPublicKey) -> SKPrivateKey:
    flags = r.byte("sk flags")
    handle = r.string("sk key handle", max_length=_SK_MAX_HANDLE)
    reserved = r.string("sk reserved", max_length=_SK_MAX_HANDLE)
    return SKPrivateKey(pub, flags, handle, reserved)


def _private_for(r: Reader, pub: PublicKey) -> PrivateKey:
    """Read the private fields that complete ``pub`` (SK types checked first: subclasses)."""
    if isinstance(pub, (SKEd25519PublicKey, SKECDSAPublicKey)):
        return _sk(r, pub)
    if isinstance(pub, Ed25519PublicKey):
        return _ed25519(r, pub)
    if isinstance(pub, ECDSAPublicKey):
        return read_ecdsa_private(r, pub)
    if isinstance(pub, RSAPublicKey):
        return _rsa(r, pub)
    if isinstance(pub, DSAPublicKey):
        return read_dsa_private(r, pub)
    raise UnsupportedAlgorithm(f"no private key format for {pub.algorithm}")


def _read_public_fields(r: Reader, algorithm: str) -> PublicKey:
    """The public fields of a plain entry, in OpenSSH's private-key order.

    That is the blob's order, except RSA, whose private form puts n before e.
    """
    if algorithm == "ssh-ed25519":
        return Ed25519PublicKey(r.string("ed25519 public key", max_length=32))
    if algorithm == "sk-ssh-ed25519@openssh.com":
        raw = r.string("ed25519 public key", max_length=32)
        return SKEd25519PublicKey(raw, _application(r))
    if algorithm.startswith("ecdsa-sha2-") or algorithm == "sk-ecdsa-sha2-nistp256@openssh.com":
        curve_name = r.ascii("curve", max_length=32)
        if algorithm.removeprefix("sk-").removesuffix("@openssh.com") != f"ecdsa-sha2-{curve_name}":
            raise KeyFormatError(f"curve {curve_name!r} does not match {algorithm}")
        point = r.string("ecdsa point", max_length=256)
        if algorithm.startswith("sk-"):
            return SKECDSAPublicKey(point, _application(r))
        return ECDSAPublicKey(curve_name, point)
    if algorithm == "ssh-rsa":
        n = r.positive_mpint("rsa n", max_bits=RSA_MAX_BITS)
        e = r.positive_mpint("rsa e", max_bits=RSA_MAX_BITS)
        return RSAPublicKey(e, n)
    if algorithm == "ssh-dss":
        p = r.positive_mpint("dsa p", max_bits=_DSA_MAX_BITS)
        q = r.positive_mpint("dsa q", max_bits=512)
        g = r.positive_mpint("dsa g", max_bits=_DSA_MAX_BITS)
        y = r.positive_mpint("dsa y", max_bits=_DSA_MAX_BITS)
        return DSAPublicKey(p, q, g, y)
    raise UnsupportedAlgorithm(f"unknown private key type {algorithm!r}")


def _application(r: Reader) -> str:
    return r.text("sk application", max_length=_SK_MAX_APPLICATION)


def _certificate_type(certificate: bytes) -> str:
    try:
        return Reader(certificate).ascii("certificate type", max_length=256)
    except DecodeError as exc:
        raise KeyFormatError(f"malformed certificate: {exc}") from None


def _certified_key(certificate: bytes, base_algorithm: str) -> PublicKey:
    """The plain public key inside a certificate blob (PROTOCOL.certkeys).

    A certificate is: string type, string nonce, then the plain key's public
    fields in blob order, then the certificate fields.
    """
    r = Reader(certificate)
    r.ascii("certificate type", max_length=256)
    r.string("nonce", max_length=1024)
    sub = Reader(Writer().string(base_algorithm.encode()).getvalue() + r.rest())
    return read_public_key(sub)


def _read_repeated_public_fields(r: Reader, pub: PublicKey) -> None:
    """After a certificate: the ed25519 key and SK application, which must match it."""
    ed25519 = isinstance(pub, (Ed25519PublicKey, SKEd25519PublicKey))
    if ed25519 and r.string("ed25519 public key", max_length=32) != pub.raw:  # type: ignore[attr-defined]
        raise KeyFormatError("the private key does not match its certificate")
    if isinstance(pub, (SKEd25519PublicKey, SKECDSAPublicKey)) and _application(r) != (
        pub.application
    ):
        raise KeyFormatError("the security key application does not match its certificate")


def certificate_type(algorithm: str) -> str:
    """The certificate type for a key type: ``ssh-ed25519`` -> ``ssh-ed25519-cert-v01@openssh.com``,
    ``sk-ssh-ed25519@openssh.com`` -> ``sk-ssh-ed25519-cert-v01@openssh.com``."""
    return _table.certificate_type_for(algorithm)


def read_private_entry(r: Reader) -> PrivateEntry:
    """Read a key type string and its private fields; certificates are kept as blobs."""
    try:
        algorithm = r.ascii("key type", max_length=256)
        if _table.is_certificate_type(algorithm):
            certificate = r.string("certificate")
            base = _table.certified_key_type(algorithm)
            if _certificate_type(certificate) != algorithm:
                raise KeyFormatError("certificate type does not match the key type")
            pub = _certified_key(certificate, base)
            _read_repeated_public_fields(r, pub)
            return PrivateEntry(_private_for(r, pub), certificate)
        return PrivateEntry(_private_for(r, _read_public_fields(r, algorithm)))
    except DecodeError as exc:
        raise KeyFormatError(f"malformed private key: {exc}") from None


def read_private_fields(r: Reader) -> PrivateKey:
    """Read a key type string and the fields after it; the comment is left for the caller.

    A certificate entry yields its plain private key (use
    :func:`read_private_entry` to keep the certificate).
    """
    return read_private_entry(r).key
