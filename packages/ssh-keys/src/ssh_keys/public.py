"""Public keys: the blob encodings of RFC 4253 6.6, RFC 5656, RFC 8709 and OpenSSH's
security-key types, signature verification, and OpenSSH public key lines."""

from __future__ import annotations

import base64
import binascii
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ssh_wire import DecodeError, Reader, Writer

from . import algorithms as _table
from .errors import KeyFormatError, SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "PublicKey",
    "Ed25519PublicKey",
    "ECDSAPublicKey",
    "RSAPublicKey",
    "DSAPublicKey",
    "SKEd25519PublicKey",
    "SKECDSAPublicKey",
    "SKSignature",
    "PublicKeyLine",
    "parse_public_key_blob",
    "read_public_key",
    "parse_public_key_line",
    "register_key_type",
    "split_signature",
    "as_public_key",
    "CURVES",
    "RSA_MIN_BITS",
]

#: OpenSSH refuses RSA keys below this size (SSH_RSA_MINIMUM_MODULUS_SIZE).
RSA_MIN_BITS = 1024
RSA_MAX_BITS = 16384

#: Curve identifier -> (cryptography curve, hash, key size in bits).
CURVES: dict[str, tuple[ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
    "nistp256": (ec.SECP256R1(), hashes.SHA256(), 256),
    "nistp384": (ec.SECP384R1(), hashes.SHA384(), 384),
    "nistp521": (ec.SECP521R1(), hashes.SHA512(), 521),
}

_RSA_HASHES: dict[str, hashes.HashAlgorithm] = {
    "rsa-sha2-512": hashes.SHA512(),
    "rsa-sha2-256": hashes.SHA256(),
    "ssh-rsa": hashes.SHA1(),  # noqa: S303 - verify-only, opt-in via allow_sha1
}

# SK flags (PROTOCOL.u2f): user presence and user verification.
SK_USER_PRESENCE = 0x01
SK_USER_VERIFIED = 0x04


def split_signature(signature: bytes) -> tuple[str, Reader]:
    """Split an SSH signature blob into its algorithm name and a reader on the rest."""
    r = Reader(signature)
    try:
        return r.ascii("signature algorithm", max_length=256), r
    except DecodeError as exc:
        raise SignatureInvalid(f"malformed signature: {exc}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class PublicKey(ABC):
    """A public key as SSH sees it: its type name, its blob and what it can verify."""

    #: Key type name as written in the blob and in public key lines.
    algorithm: str
    #: The label ssh-keygen prints, e.g. "ED25519" in "(ED25519)".
    key_type_label: ClassVar[str]

    __slots__ = ("_blob",)

    def __init__(self, blob: bytes) -> None:
        self._blob = blob

    @property
    def blob(self) -> bytes:
        return self._blob

    @property
    @abstractmethod
    def bits(self) -> int:
        """Key size as ``ssh-keygen -l`` prints it."""

    @property
    @abstractmethod
    def signature_algorithms(self) -> tuple[str, ...]:
        """Signature algorithms this key verifies, preferred first."""

    @abstractmethod
    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        """Check the algorithm-specific part of a signature; raise SignatureInvalid."""

    def verify(self, data: bytes, signature: bytes, *, allow_sha1: bool = False) -> None:
        """Verify an SSH signature blob over ``data``; raise :class:`SignatureInvalid`.

        SHA-1 based signatures (``ssh-rsa``, ``ssh-dss``) are refused unless
        ``allow_sha1`` is set.
        """
        algorithm, r = split_signature(signature)
        if algorithm not in self.signature_algorithms:
            raise SignatureInvalid(f"{algorithm} signature does not match a {self.algorithm} key")
        if _table.is_legacy_signature_algorithm(algorithm) and not allow_sha1:
            raise SignatureInvalid(f"{algorithm} (SHA-1) signatures are not allowed")
        try:
            self._verify(algorithm, r, data)
        except DecodeError as exc:
            raise SignatureInvalid(f"malformed {algorithm} signature: {exc}") from None
        except InvalidSignature:
            raise SignatureInvalid(f"{algorithm} signature does not verify") from None

    def fingerprint(self, hash: str = "sha256") -> str:
        """``SHA256:<base64>`` or ``MD5:aa:bb:...`` exactly as ``ssh-keygen -l`` prints it."""
        if hash == "sha256":
            digest = hashlib.sha256(self._blob).digest()
            return "SHA256:" + _b64(digest).rstrip("=")
        if hash == "md5":
            digest = hashlib.md5(self._blob, usedforsecurity=False).digest()
            return "MD5:" + ":".join(f"{b:02x}" for b in digest)
        raise ValueError(f"unknown fingerprint hash {hash!r} (sha256 or md5)")

    def to_line(self, comment: str = "") -> str:
        """An OpenSSH public key line, ``algorithm base64 [comment]``."""
        line = f"{self.algorithm} {_b64(self._blob)}"
        return f"{line} {comment}" if comment else line

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._blob == other._blob

    def __hash__(self) -> int:
        return hash(self._blob)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.algorithm} {self.fingerprint()}>"


class Ed25519PublicKey(PublicKey):
    algorithm = "ssh-ed25519"
    key_type_label = "ED25519"
    __slots__ = ("crypto_key", "raw")

    def __init__(self, raw: bytes, blob: bytes | None = None) -> None:
        if len(raw) != 32:
            raise KeyFormatError(f"ed25519 public key must be 32 bytes, got {len(raw)}")
        self.raw = raw
        self.crypto_key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        super().__init__(blob or Writer().string(b"ssh-ed25519").string(raw).getvalue())

    bits = 256
    signature_algorithms = _table.key_type_spec("ssh-ed25519").signature_algorithms

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> Ed25519PublicKey:
        return cls(r.string("ed25519 key"))

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        sig = r.string("ed25519 signature")
        r.expect_end("signature")
        if len(sig) != 64:
            raise SignatureInvalid("ed25519 signature must be 64 bytes")
        self.crypto_key.verify(sig, data)


def _read_ecdsa_sig(r: Reader) -> bytes:
    inner = Reader(r.string("ecdsa signature"))
    rr = inner.positive_mpint("r", max_bits=528)
    ss = inner.positive_mpint("s", max_bits=528)
    inner.expect_end("ecdsa signature")
    return encode_dss_signature(rr, ss)


def _ec_point(curve_name: str, point: bytes) -> ec.EllipticCurvePublicKey:
    if curve_name not in CURVES:
        raise UnsupportedAlgorithm(f"unknown curve {curve_name!r}")
    curve = CURVES[curve_name][0]
    if not point or point[0] != 4:
        raise KeyFormatError("ECDSA point must be uncompressed")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:
        raise KeyFormatError(f"invalid {curve_name} point") from None


class ECDSAPublicKey(PublicKey):
    key_type_label = "ECDSA"
    __slots__ = ("algorithm", "crypto_key", "curve_name", "point")

    def __init__(self, curve_name: str, point: bytes, blob: bytes | None = None) -> None:
        self.crypto_key = _ec_point(curve_name, point)
        self.curve_name = curve_name
        self.point = point
        self.algorithm = f"ecdsa-sha2-{curve_name}"
        super().__init__(
            blob
            or Writer()
            .string(self.algorithm.encode())
            .string(curve_name.encode())
            .string(point)
            .getvalue()
        )

    @classmethod
    def from_crypto(cls, key: ec.EllipticCurvePublicKey) -> ECDSAPublicKey:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        curve_name = {256: "nistp256", 384: "nistp384", 521: "nistp521"}.get(key.curve.key_size)
        if curve_name is None or key.curve.name != CURVES[curve_name][0].name:
            raise UnsupportedAlgorithm(f"unsupported curve {key.curve.name}")
        return cls(curve_name, key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))

    @property
    def bits(self) -> int:
        return CURVES[self.curve_name][2]

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return _table.key_type_spec(self.algorithm).signature_algorithms

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return CURVES[self.curve_name][1]

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> ECDSAPublicKey:
        curve_name = r.ascii("curve")
        if algorithm != f"ecdsa-sha2-{curve_name}":
            raise KeyFormatError(f"curve {curve_name!r} does not match {algorithm}")
        return cls(curve_name, r.string("ecdsa point", max_length=256))

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        der = _read_ecdsa_sig(r)
        r.expect_end("signature")
        self.crypto_key.verify(der, data, ec.ECDSA(self.hash_algorithm))


class RSAPublicKey(PublicKey):
    algorithm = "ssh-rsa"
    key_type_label = "RSA"
    __slots__ = ("crypto_key", "e", "n")
    signature_algorithms = _table.key_type_spec("ssh-rsa").signature_algorithms

    def __init__(self, e: int, n: int, blob: bytes | None = None) -> None:
        if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS:
            raise KeyFormatError(f"RSA key of {n.bit_length()} bits is outside 1024..16384")
        if e < 3 or e % 2 == 0 or e >= n:
            raise KeyFormatError("invalid RSA public exponent")
        try:
            self.crypto_key = rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            raise KeyFormatError("invalid RSA public key") from None
        self.e, self.n = e, n
        super().__init__(blob or Writer().string(b"ssh-rsa").mpint(e).mpint(n).getvalue())

    @classmethod
    def from_crypto(cls, key: rsa.RSAPublicKey) -> RSAPublicKey:
        nums = key.public_numbers()
        return cls(nums.e, nums.n)

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> RSAPublicKey:
        e = r.positive_mpint("e")
        n = r.positive_mpint("n", max_bits=RSA_MAX_BITS)
        return cls(e, n)

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        sig = r.string("rsa signature", max_length=RSA_MAX_BITS // 8)
        r.expect_end("signature")
        size = (self.n.bit_length() + 7) // 8
        if len(sig) > size:
            raise SignatureInvalid("RSA signature longer than the modulus")
        sig = sig.rjust(size, b"\x00")  # some signers drop leading zero bytes
        self.crypto_key.verify(sig, data, padding.PKCS1v15(), _RSA_HASHES[algorithm])


class DSAPublicKey(PublicKey):
    """ssh-dss: SHA-1 and 1024 bits, retired by OpenSSH; verified only with ``allow_sha1``."""

    algorithm = "ssh-dss"
    key_type_label = "DSA"
    __slots__ = ("crypto_key", "g", "p", "q", "y")
    signature_algorithms = _table.key_type_spec("ssh-dss").signature_algorithms

    def __init__(self, p: int, q: int, g: int, y: int, blob: bytes | None = None) -> None:
        try:
            self.crypto_key = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        except ValueError:
            raise KeyFormatError("invalid DSA public key") from None
        self.p, self.q, self.g, self.y = p, q, g, y
        super().__init__(
            blob or Writer().string(b"ssh-dss").mpint(p).mpint(q).mpint(g).mpint(y).getvalue()
        )

    @property
    def bits(self) -> int:
        return self.p.bit_length()

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> DSAPublicKey:
        p = r.positive_mpint("p", max_bits=8192)
        q = r.positive_mpint("q", max_bits=512)
        g = r.positive_mpint("g", max_bits=8192)
        y = r.positive_mpint("y", max_bits=8192)
        return cls(p, q, g, y)

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        sig = r.string("dss signature")
        r.expect_end("signature")
        if len(sig) != 40:
            raise SignatureInvalid("ssh-dss signature must be 40 bytes")
        der = encode_dss_signature(int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big"))
        self.crypto_key.verify(der, data, hashes.SHA1())  # noqa: S303 - the format's hash


@dataclass(frozen=True)
class SKSignature:
    """What a security-key signature asserts besides the signature itself."""

    flags: int
    counter: int

    @property
    def user_present(self) -> bool:
        return bool(self.flags & SK_USER_PRESENCE)

    @property
    def user_verified(self) -> bool:
        return bool(self.flags & SK_USER_VERIFIED)


class _SKMixin:
    """What both security-key types share: the signed message, flags and counter."""

    __slots__ = ()
    application: str
    algorithm: str

    def _sk_message(self, r: Reader, data: bytes) -> tuple[bytes, SKSignature]:
        flags = r.byte("sk flags")
        counter = r.uint32("sk counter")
        r.expect_end("signature")
        # PROTOCOL.u2f: the authenticator signs H(application) || flags || counter || H(data).
        signed = (
            hashlib.sha256(self.application.encode()).digest()
            + bytes([flags])
            + counter.to_bytes(4, "big")
            + hashlib.sha256(data).digest()
        )
        return signed, SKSignature(flags, counter)

    def _sk_verify(self, r: Reader, data: bytes) -> SKSignature:
        """Read the type-specific signature, then flags and counter, and verify."""
        raise NotImplementedError

    def verify_sk(
        self,
        data: bytes,
        signature: bytes,
        *,
        require_user_presence: bool = True,
        require_verified: bool = False,
    ) -> SKSignature:
        """Verify and return the flags and counter the key signed."""
        algorithm, r = split_signature(signature)
        if algorithm != self.algorithm:
            raise SignatureInvalid(f"{algorithm} signature does not match a {self.algorithm} key")
        try:
            info = self._sk_verify(r, data)
        except DecodeError as exc:
            raise SignatureInvalid(f"malformed {algorithm} signature: {exc}") from None
        except InvalidSignature:
            raise SignatureInvalid(f"{algorithm} signature does not verify") from None
        if require_user_presence and not info.user_present:
            raise SignatureInvalid("security key signature lacks user presence")
        if require_verified and not info.user_verified:
            raise SignatureInvalid("security key signature lacks user verification")
        return info

    def verify(self, data: bytes, signature: bytes, *, allow_sha1: bool = False) -> None:
        self.verify_sk(data, signature)


class SKEd25519PublicKey(_SKMixin, Ed25519PublicKey):
    """sk-ssh-ed25519@openssh.com: a FIDO security key's ed25519 key."""

    algorithm = "sk-ssh-ed25519@openssh.com"
    key_type_label = "ED25519-SK"
    __slots__ = ("application",)
    signature_algorithms = _table.key_type_spec("sk-ssh-ed25519@openssh.com").signature_algorithms

    def __init__(self, raw: bytes, application: str) -> None:
        self.application = application
        blob = Writer().string(self.algorithm.encode()).string(raw).text(application).getvalue()
        super().__init__(raw, blob)

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> SKEd25519PublicKey:
        raw = r.string("ed25519 key")
        return cls(raw, r.text("application", max_length=1024))

    def _sk_verify(self, r: Reader, data: bytes) -> SKSignature:
        sig = r.string("ed25519 signature")
        signed, info = self._sk_message(r, data)
        if len(sig) != 64:
            raise SignatureInvalid("ed25519 signature must be 64 bytes")
        self.crypto_key.verify(sig, signed)
        return info

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:  # pragma: no cover
        raise AssertionError("verify_sk handles security keys")


class SKECDSAPublicKey(_SKMixin, ECDSAPublicKey):
    """sk-ecdsa-sha2-nistp256@openssh.com: a FIDO security key's P-256 key."""

    key_type_label = "ECDSA-SK"
    __slots__ = ("application",)

    def __init__(self, point: bytes, application: str) -> None:
        self.application = application
        name = "sk-ecdsa-sha2-nistp256@openssh.com"
        blob = (
            Writer().string(name.encode()).string(b"nistp256").string(point).text(application)
        ).getvalue()
        super().__init__("nistp256", point, blob)
        self.algorithm = name

    @classmethod
    def _read(cls, r: Reader, algorithm: str) -> SKECDSAPublicKey:
        curve_name = r.ascii("curve")
        if curve_name != "nistp256":
            raise KeyFormatError(f"security keys use nistp256, not {curve_name!r}")
        point = r.string("ecdsa point", max_length=256)
        return cls(point, r.text("application", max_length=1024))

    def _sk_verify(self, r: Reader, data: bytes) -> SKSignature:
        der = _read_ecdsa_sig(r)
        signed, info = self._sk_message(r, data)
        self.crypto_key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        return info

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:  # pragma: no cover
        raise AssertionError("verify_sk handles security keys")


# -- parsing ------------------------------------------------------------------

_KeyReader = Callable[[Reader, str], PublicKey]

_KEY_TYPES: dict[str, _KeyReader] = {
    "ssh-ed25519": Ed25519PublicKey._read,
    "ecdsa-sha2-nistp256": ECDSAPublicKey._read,
    "ecdsa-sha2-nistp384": ECDSAPublicKey._read,
    "ecdsa-sha2-nistp521": ECDSAPublicKey._read,
    "ssh-rsa": RSAPublicKey._read,
    "ssh-dss": DSAPublicKey._read,
    "sk-ssh-ed25519@openssh.com": SKEd25519PublicKey._read,
    "sk-ecdsa-sha2-nistp256@openssh.com": SKECDSAPublicKey._read,
}


def register_key_type(
    name: str,
    reader: _KeyReader,
    *,
    signature_algorithms: tuple[str, ...] | None = None,
    legacy_signature_algorithms: tuple[str, ...] = (),
    certificate_type: str = "",
) -> _table.KeyTypeSpec:
    """Teach ssh-keys a new key type: blob parsing, the algorithm table, certificates.

    ``reader(r, name)`` reads the key's fields after its type name (the same reader parses
    them inside a certificate). The type signs with ``signature_algorithms`` (default: its
    own name); its certificate type defaults to OpenSSH's naming rule
    (``foo@example.com`` -> ``foo-cert-v01@example.com``), so keys of the type can be
    certified with :func:`~ssh_keys.sign_certificate` and certificates for them parse.
    Registering a known type again with no other arguments replaces only its reader.
    Returns the table entry.
    """
    known = {spec.name: spec for spec in _table.key_types()}.get(name)
    if known is not None and signature_algorithms is None and not certificate_type:
        _KEY_TYPES[name] = reader
        return known
    spec = _table.KeyTypeSpec(
        name,
        tuple(signature_algorithms) if signature_algorithms is not None else (name,),
        tuple(legacy_signature_algorithms),
        certificate_type,
    )
    _table._add_key_type(spec)
    _KEY_TYPES[name] = reader
    return spec


# Set by the certificate module when it loads: the reader of every certificate type.
_certificate_reader: _KeyReader | None = None


def _set_certificate_reader(reader: _KeyReader) -> None:
    global _certificate_reader
    _certificate_reader = reader


def _key_reader(name: str) -> _KeyReader | None:
    """The fields reader of a plain key type (certificates reuse it for the certified key)."""
    return _KEY_TYPES.get(name)


def read_public_key(r: Reader) -> PublicKey:
    """Read a key blob's fields (type name first) from ``r``, leaving what follows."""
    algorithm = r.ascii("key type", max_length=256)
    parse = _KEY_TYPES.get(algorithm)
    if parse is None and _certificate_reader is not None and _table.is_certificate_type(algorithm):
        parse = _certificate_reader
    if parse is None:
        raise UnsupportedAlgorithm(f"unknown key type {algorithm!r}")
    return parse(r, algorithm)


def parse_public_key_blob(blob: bytes) -> PublicKey:
    """Decode a public key blob (RFC 4253 6.6) of any supported type."""
    r = Reader(blob)
    try:
        key = read_public_key(r)
        r.expect_end("public key blob")
    except DecodeError as exc:
        raise KeyFormatError(f"malformed public key blob: {exc}") from None
    if key.blob != blob:
        # Keep the exact bytes we were given (fingerprints are over them).
        key._blob = bytes(blob)
    return key


@dataclass(frozen=True)
class PublicKeyLine:
    """A parsed OpenSSH public key line."""

    key: PublicKey
    comment: str


def parse_public_key_line(line: str) -> PublicKeyLine:
    """Parse ``algorithm base64 [comment]`` as in ``id_ed25519.pub``."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise KeyFormatError("a public key line needs a key type and base64 data")
    algorithm, data = parts[0], parts[1]
    try:
        blob = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFormatError("public key line has invalid base64") from None
    key = parse_public_key_blob(blob)
    if key.algorithm != algorithm:
        raise KeyFormatError(f"line says {algorithm!r} but the key is {key.algorithm!r}")
    return PublicKeyLine(key, parts[2] if len(parts) > 2 else "")


def as_public_key(value: PublicKey | PublicKeyLine, what: str = "key") -> PublicKey:
    """The key ``value`` stands for, for functions that take keys.

    A :class:`PublicKeyLine` (what :func:`~ssh_keys.read_public_key_file` and
    :func:`parse_public_key_line` return) gives its key; anything else but a
    :class:`PublicKey` raises a TypeError naming ``what`` and what was passed, instead of an
    AttributeError somewhere deeper.
    """
    if isinstance(value, PublicKey):
        return value
    if isinstance(value, PublicKeyLine):
        return value.key
    raise TypeError(f"{what} must be a PublicKey or PublicKeyLine, not {type(value).__name__}")


def _key_like(value: PublicKey | PublicKeyLine, what: str = "key") -> PublicKey:
    """:func:`as_public_key` for the host-file lookups, which also take certificate look-alikes
    (anything with a ``signature_key``, as they document)."""
    if isinstance(value, PublicKeyLine):
        return value.key
    if isinstance(value, PublicKey) or hasattr(value, "signature_key"):
        return value
    return as_public_key(value, what)
