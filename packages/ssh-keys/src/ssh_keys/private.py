"""Private keys: signing, generation and access to the key material for the file formats."""

from __future__ import annotations

from abc import ABC, abstractmethod

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssh_wire import Writer

from .algorithms import key_type_spec
from .errors import UnsupportedAlgorithm
from .public import (
    CURVES,
    DSAPublicKey,
    ECDSAPublicKey,
    Ed25519PublicKey,
    PublicKey,
    RSAPublicKey,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
)

__all__ = [
    "PrivateKey",
    "Ed25519PrivateKey",
    "ECDSAPrivateKey",
    "RSAPrivateKey",
    "DSAPrivateKey",
    "SKPrivateKey",
    "generate_private_key",
    "private_key_from_crypto",
    "RSA_DEFAULT_BITS",
    "RSA_MIN_GENERATE_BITS",
]

RSA_DEFAULT_BITS = 3072
RSA_MIN_GENERATE_BITS = 2048

_RSA_SIGN_HASHES: dict[str, hashes.HashAlgorithm] = {
    "rsa-sha2-512": hashes.SHA512(),
    "rsa-sha2-256": hashes.SHA256(),
    "ssh-rsa": hashes.SHA1(),  # noqa: S303 - legacy, only when asked for by name
}


def _signature(algorithm: str, body: bytes) -> bytes:
    return Writer().string(algorithm.encode()).string(body).getvalue()


class PrivateKey(ABC):
    """A private key that can sign; it is also a :class:`~ssh_keys.Signer`."""

    __slots__ = ("_public", "comment")

    def __init__(self, public: PublicKey, comment: str = "") -> None:
        self._public = public
        self.comment = comment

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def algorithm(self) -> str:
        return self._public.algorithm

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Signature algorithms this key signs with by default, preferred first."""
        return self.signature_algorithms

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return self._public.signature_algorithms

    @property
    def legacy_algorithms(self) -> tuple[str, ...]:
        """SHA-1 algorithms this key also makes, but only when :meth:`sign` names them
        (never by default, never in :attr:`algorithms`)."""
        return ()

    def _choose(self, algorithm: str | None) -> str:
        if algorithm is None:
            if not self.signature_algorithms:
                raise UnsupportedAlgorithm(f"a {self.algorithm} key has no default signature")
            return self.signature_algorithms[0]
        if algorithm not in self.signature_algorithms and algorithm not in self.legacy_algorithms:
            raise UnsupportedAlgorithm(f"a {self.algorithm} key cannot sign with {algorithm}")
        return algorithm

    @abstractmethod
    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        """Return an SSH signature blob over ``data``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._public.fingerprint()} {self.comment!r}>"


class Ed25519PrivateKey(PrivateKey):
    __slots__ = ("crypto_key",)

    def __init__(self, crypto_key: ed25519.Ed25519PrivateKey, comment: str = "") -> None:
        self.crypto_key = crypto_key
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = crypto_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        super().__init__(Ed25519PublicKey(raw), comment)

    @classmethod
    def from_seed(cls, seed: bytes, comment: str = "") -> Ed25519PrivateKey:
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed), comment)

    @property
    def seed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        return self.crypto_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return _signature(self._choose(algorithm), self.crypto_key.sign(data))


class ECDSAPrivateKey(PrivateKey):
    __slots__ = ("crypto_key",)

    def __init__(self, crypto_key: ec.EllipticCurvePrivateKey, comment: str = "") -> None:
        self.crypto_key = crypto_key
        super().__init__(ECDSAPublicKey.from_crypto(crypto_key.public_key()), comment)

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        name = self._choose(algorithm)
        public = self._public
        assert isinstance(public, ECDSAPublicKey)
        der = self.crypto_key.sign(data, ec.ECDSA(public.hash_algorithm))
        r, s = decode_dss_signature(der)
        return _signature(name, Writer().mpint(r).mpint(s).getvalue())


class RSAPrivateKey(PrivateKey):
    """RSA signs with rsa-sha2-512 (default) or rsa-sha2-256; SHA-1 ``ssh-rsa`` only when
    asked for by name, for legacy peers (a server configured with ``+ssh-rsa``, an agent
    request without flags)."""

    __slots__ = ("crypto_key",)

    def __init__(self, crypto_key: rsa.RSAPrivateKey, comment: str = "") -> None:
        self.crypto_key = crypto_key
        super().__init__(RSAPublicKey.from_crypto(crypto_key.public_key()), comment)

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return key_type_spec("ssh-rsa").default_signature_algorithms

    @property
    def legacy_algorithms(self) -> tuple[str, ...]:
        return key_type_spec("ssh-rsa").legacy_signature_algorithms

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        name = self._choose(algorithm)
        sig = self.crypto_key.sign(data, padding.PKCS1v15(), _RSA_SIGN_HASHES[name])
        return _signature(name, sig)


class DSAPrivateKey(PrivateKey):
    """ssh-dss (RFC 4253 6.6: DSA over SHA-1, r and s as 20 bytes each). Retired, so it has
    no default signature: it signs only when ``sign(data, "ssh-dss")`` names the algorithm
    (a server or client configured with ``+ssh-dss``, an agent sign request)."""

    __slots__ = ("crypto_key",)

    def __init__(self, crypto_key: dsa.DSAPrivateKey, comment: str = "") -> None:
        self.crypto_key = crypto_key
        nums = crypto_key.public_key().public_numbers()
        p, q, g = nums.parameter_numbers.p, nums.parameter_numbers.q, nums.parameter_numbers.g
        super().__init__(DSAPublicKey(p, q, g, nums.y), comment)

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return key_type_spec("ssh-dss").default_signature_algorithms

    @property
    def legacy_algorithms(self) -> tuple[str, ...]:
        return key_type_spec("ssh-dss").legacy_signature_algorithms

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        name = self._choose(algorithm)
        public = self._public
        assert isinstance(public, DSAPublicKey)
        if public.q.bit_length() != 160:
            # The blob has room for 160-bit r and s only (FIPS 186-2 keys, as OpenSSH makes).
            raise UnsupportedAlgorithm(
                f"ssh-dss needs a 160-bit q, this key has {public.q.bit_length()}"
            )
        r, s = decode_dss_signature(self.crypto_key.sign(data, hashes.SHA1()))  # noqa: S303
        return _signature(name, r.to_bytes(20, "big") + s.to_bytes(20, "big"))


class SKPrivateKey(PrivateKey):
    """A FIDO security key's private key file: a key handle, not key material.

    Signing needs the hardware token (through a middleware such as OpenSSH's
    ssh-sk-helper); this object carries what the file holds.
    """

    __slots__ = ("flags", "key_handle", "reserved")

    def __init__(
        self,
        public: SKEd25519PublicKey | SKECDSAPublicKey,
        flags: int,
        key_handle: bytes,
        reserved: bytes = b"",
        comment: str = "",
    ) -> None:
        super().__init__(public, comment)
        self.flags = flags
        self.key_handle = key_handle
        self.reserved = reserved

    @property
    def application(self) -> str:
        public = self._public
        assert isinstance(public, (SKEd25519PublicKey, SKECDSAPublicKey))
        return public.application

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        raise UnsupportedAlgorithm("signing with a security key needs the hardware token")


def private_key_from_crypto(key: object, comment: str = "") -> PrivateKey:
    """Wrap a ``cryptography`` private key object."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519PrivateKey(key, comment)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECDSAPrivateKey(key, comment)
    if isinstance(key, rsa.RSAPrivateKey):
        return RSAPrivateKey(key, comment)
    if isinstance(key, dsa.DSAPrivateKey):
        return DSAPrivateKey(key, comment)
    raise UnsupportedAlgorithm(f"unsupported private key type {type(key).__name__}")


_ECDSA_SIZES = {256: "nistp256", 384: "nistp384", 521: "nistp521"}


def generate_private_key(
    kind: str = "ed25519", bits: int | None = None, comment: str = ""
) -> PrivateKey:
    """Generate a key: ``ed25519``, ``ecdsa`` (256/384/521), ``rsa`` (default 3072, min 2048)
    or, for legacy peers only, ``dsa`` (1024 bits, the one size ssh-dss allows)."""
    kind = kind.lower()
    if kind == "ed25519":
        if bits not in (None, 256):
            raise ValueError("ed25519 keys are always 256 bits")
        return Ed25519PrivateKey(ed25519.Ed25519PrivateKey.generate(), comment)
    if kind == "ecdsa":
        size = 256 if bits is None else bits
        if size not in _ECDSA_SIZES:
            raise ValueError("ECDSA key size must be 256, 384 or 521")
        curve = CURVES[_ECDSA_SIZES[size]][0]
        return ECDSAPrivateKey(ec.generate_private_key(curve), comment)
    if kind == "rsa":
        size = RSA_DEFAULT_BITS if bits is None else bits
        if size < RSA_MIN_GENERATE_BITS or size > 16384:
            raise ValueError(f"RSA key size must be {RSA_MIN_GENERATE_BITS}..16384 bits")
        return RSAPrivateKey(rsa.generate_private_key(65537, size), comment)
    if kind == "dsa":
        if bits not in (None, 1024):
            raise ValueError("DSA keys are always 1024 bits (as ssh-keygen makes them)")
        # ssh-dss fixes 160-bit q, so 1024 is all it allows: a legacy opt-in, weak by design.
        return DSAPrivateKey(dsa.generate_private_key(1024), comment)  # noqa: S505
    raise ValueError(f"unknown key kind {kind!r} (ed25519, ecdsa, rsa, dsa)")
