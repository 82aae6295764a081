"""PEM key files: PKCS#1, SEC1, DSA, PKCS#8 (plain and encrypted), SubjectPublicKeyInfo.

What ``ssh-keygen -m PEM`` and ``-m PKCS8`` write and read, and what OpenSSL
tools produce, including legacy OpenSSL encryption (``Proc-Type: 4,ENCRYPTED``
with ``DEK-Info``). The DER work is ``cryptography``'s; this module picks the
right PEM block, bounds the work a hostile file can ask for (PBKDF2 iterations,
scrypt cost), and turns every ``cryptography`` failure into this package's
errors.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InternalError
from cryptography.exceptions import UnsupportedAlgorithm as CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from .errors import KeyFormatError, PassphraseRequired, UnsupportedAlgorithm, WrongPassphrase
from .private import (
    DSAPrivateKey,
    ECDSAPrivateKey,
    Ed25519PrivateKey,
    PrivateKey,
    RSAPrivateKey,
    private_key_from_crypto,
)
from .private_wire import rsa_private_from_numbers
from .public import (
    DSAPublicKey,
    ECDSAPublicKey,
    Ed25519PublicKey,
    PublicKey,
    RSAPublicKey,
)

__all__ = [
    "PRIVATE_LABELS",
    "PUBLIC_LABELS",
    "MAX_PBKDF2_ITERATIONS",
    "MAX_SCRYPT_MEMORY",
    "PemBlock",
    "find_pem_blocks",
    "decode_pem_private_key",
    "encode_pem_private_key",
    "decode_pem_public_key",
    "encode_pem_public_key",
]

PRIVATE_LABELS = (
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
)
PUBLIC_LABELS = ("PUBLIC KEY", "RSA PUBLIC KEY")

#: Encrypted PKCS#8 asks for its own work factor; refuse more than this many
#: PBKDF2 iterations (OpenSSL writes 2048; a million take about a second).
MAX_PBKDF2_ITERATIONS = 1_000_000
#: ...and scrypt parameters needing more memory than this (128 * N * r bytes).
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024
_MAX_SCRYPT_P = 16
_MAX_PEM_SIZE = 1024 * 1024

Passphrase = bytes | str

_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class PemBlock:
    """One ``-----BEGIN label-----`` block: its headers and decoded body."""

    label: str
    headers: dict[str, str]
    der: bytes
    text: str  # the block as it appeared, for handing to cryptography

    @property
    def encrypted(self) -> bool:
        return self.label == "ENCRYPTED PRIVATE KEY" or (
            self.headers.get("Proc-Type", "").replace(" ", "") == "4,ENCRYPTED"
        )


def _as_text(data: bytes | str) -> str:
    if len(data) > _MAX_PEM_SIZE:
        raise KeyFormatError("PEM data is larger than 1 MiB")
    if isinstance(data, str):
        return data
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError("PEM data must be ASCII text") from None


def _parse_block(label: str, body: str, text: str) -> PemBlock:
    headers: dict[str, str] = {}
    lines = body.splitlines()
    # RFC 1421 headers ("Name: value") come first and end at an empty line.
    if lines and ":" in lines[0]:
        while lines and lines[0].strip():
            name, sep, value = lines.pop(0).partition(":")
            if not sep:
                raise KeyFormatError(f"malformed PEM header in {label}")
            headers[name.strip()] = value.strip()
    b64 = "".join("".join(lines).split())
    try:
        der = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFormatError(f"invalid base64 in PEM {label}") from None
    if not der:
        raise KeyFormatError(f"empty PEM {label}")
    return PemBlock(label, headers, der, text)


def find_pem_blocks(data: bytes | str) -> Iterator[PemBlock]:
    """Every PEM block in ``data``, in order."""
    text = _as_text(data)
    for m in _BLOCK_RE.finditer(text):
        yield _parse_block(m.group(1), m.group(2), m.group(0) + "\n")


def _first_block(data: bytes | str, labels: tuple[str, ...], what: str) -> PemBlock:
    for block in find_pem_blocks(data):
        if block.label in labels:
            return block
    raise KeyFormatError(f"no PEM {what} found")


# -- a minimal DER walk, only to bound key-derivation work before cryptography runs --

_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"


def _der_item(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, contents, next position) of the DER item at ``pos``."""
    if pos + 2 > len(data):
        raise KeyFormatError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise KeyFormatError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length > len(data) - pos:
        raise KeyFormatError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def _der_children(contents: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(contents) and len(out) < 16:
        tag, body, pos = _der_item(contents, pos)
        out.append((tag, body))
    return out


def _oid(body: bytes) -> str:
    if not body:
        return ""
    parts = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _der_int(tag: int, body: bytes) -> int:
    if tag != 0x02 or not body or len(body) > 16:
        raise KeyFormatError("bad DER integer in key derivation parameters")
    return int.from_bytes(body, "big", signed=True)


def _check_kdf_params(kdf_oid: str, params: bytes) -> None:
    fields = _der_children(params)
    if kdf_oid == _OID_SCRYPT:
        if len(fields) < 4:
            raise KeyFormatError("short scrypt parameters")
        n, r, p = (_der_int(*fields[i]) for i in (1, 2, 3))
        if n < 2 or r < 1 or p < 1 or 128 * n * r > MAX_SCRYPT_MEMORY or p > _MAX_SCRYPT_P:
            raise KeyFormatError("scrypt parameters out of bounds")
        return
    # PBKDF2 and the PKCS#5 v1 / PKCS#12 schemes: SEQUENCE { salt, iterations, ... }.
    if len(fields) < 2:
        raise KeyFormatError("short key derivation parameters")
    iterations = _der_int(*fields[1])
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise KeyFormatError(
            f"{iterations} key derivation iterations (limit {MAX_PBKDF2_ITERATIONS})"
        )


def _check_pkcs8_work(der: bytes) -> None:
    """Refuse an EncryptedPrivateKeyInfo that asks for unbounded key-derivation work."""
    tag, outer, _ = _der_item(der, 0)
    if tag != 0x30:
        raise KeyFormatError("encrypted PKCS#8 is not a DER SEQUENCE")
    children = _der_children(outer)
    if not children or children[0][0] != 0x30:
        raise KeyFormatError("encrypted PKCS#8 lacks its algorithm")
    alg = _der_children(children[0][1])
    if len(alg) < 2 or alg[0][0] != 0x06 or alg[1][0] != 0x30:
        raise KeyFormatError("malformed encrypted PKCS#8 algorithm")
    scheme = _oid(alg[0][1])
    if scheme != _OID_PBES2:
        _check_kdf_params("", alg[1][1])
        return
    pbes2 = _der_children(alg[1][1])
    if not pbes2 or pbes2[0][0] != 0x30:
        raise KeyFormatError("malformed PBES2 parameters")
    kdf = _der_children(pbes2[0][1])
    if len(kdf) < 2 or kdf[0][0] != 0x06 or kdf[1][0] != 0x30:
        raise KeyFormatError("malformed PBES2 key derivation function")
    kdf_oid = _oid(kdf[0][1])
    if kdf_oid not in (_OID_PBKDF2, _OID_SCRYPT):
        raise UnsupportedAlgorithm(f"unsupported PKCS#8 key derivation {kdf_oid}")
    _check_kdf_params(kdf_oid, kdf[1][1])


# -- private keys -------------------------------------------------------------------


def _passphrase_bytes(passphrase: Passphrase) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


def _rewrap(key: object) -> PrivateKey:
    """Wrap a loaded key, re-checking RSA keys we loaded without OpenSSL's slow validation."""
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.private_numbers()
        pub = nums.public_numbers
        RSAPublicKey(pub.e, pub.n)  # size and exponent bounds, as for SSH keys
        key = rsa_private_from_numbers(pub.n, pub.e, nums.d, nums.p, nums.q, nums.iqmp)
    return private_key_from_crypto(key)


def decode_pem_private_key(data: bytes | str, passphrase: Passphrase | None = None) -> PrivateKey:
    """Load the first PEM private key in ``data`` (PKCS#1, SEC1, DSA or PKCS#8).

    Raises :class:`PassphraseRequired` for an encrypted key without a
    passphrase, :class:`WrongPassphrase` whenever an encrypted key fails to
    decrypt or parse with the one given, :class:`KeyFormatError` otherwise.
    """
    block = _first_block(data, PRIVATE_LABELS, "private key")
    if block.encrypted and passphrase is None:
        raise PassphraseRequired("the private key is encrypted; a passphrase is needed")
    if block.label == "ENCRYPTED PRIVATE KEY":
        _check_pkcs8_work(block.der)
    password = _passphrase_bytes(passphrase) if block.encrypted and passphrase is not None else None
    if block.encrypted and not password:
        raise WrongPassphrase("incorrect passphrase supplied to decrypt private key")
    try:
        key = serialization.load_pem_private_key(
            block.text.encode("ascii"), password, unsafe_skip_rsa_key_validation=True
        )
    except CryptoUnsupported as exc:
        raise UnsupportedAlgorithm(f"unsupported PEM private key: {exc}") from None
    except (ValueError, TypeError, InternalError) as exc:
        if block.encrypted:
            # One error however it failed: bad padding, bad DER, wrong key.
            raise WrongPassphrase("incorrect passphrase supplied to decrypt private key") from None
        raise KeyFormatError(f"invalid PEM {block.label}: {exc}") from None
    return _rewrap(key)


_CryptoPrivate = (
    ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | dsa.DSAPrivateKey
)


def _crypto_private(key: PrivateKey) -> _CryptoPrivate:
    if isinstance(key, (Ed25519PrivateKey, ECDSAPrivateKey, RSAPrivateKey, DSAPrivateKey)):
        return key.crypto_key
    raise UnsupportedAlgorithm(f"{key.algorithm} keys have no PEM form")


def encode_pem_private_key(
    key: PrivateKey,
    passphrase: Passphrase | None = None,
    *,
    format: str = "pem",
) -> bytes:
    """PEM text as ``ssh-keygen -m PEM`` (PKCS#1/SEC1/DSA) or ``-m PKCS8`` writes it.

    A passphrase encrypts with the best scheme ``cryptography`` offers:
    legacy OpenSSL AES-256-CBC for ``pem``, PBES2 for ``pkcs8``. Ed25519 keys
    have only the PKCS#8 form (which OpenSSH 9.2 cannot read; use openssh).
    """
    crypto_key = _crypto_private(key)
    if format == "pem":
        if isinstance(crypto_key, ed25519.Ed25519PrivateKey):
            raise UnsupportedAlgorithm("Ed25519 keys have no traditional PEM form; use pkcs8")
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    elif format == "pkcs8":
        fmt = serialization.PrivateFormat.PKCS8
    else:
        raise ValueError(f"unknown PEM format {format!r} (pem or pkcs8)")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(_passphrase_bytes(passphrase))
        if passphrase
        else serialization.NoEncryption()
    )
    return crypto_key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


# -- public keys --------------------------------------------------------------------


def decode_pem_public_key(data: bytes | str) -> PublicKey:
    """Load the first ``PUBLIC KEY`` (SubjectPublicKeyInfo) or ``RSA PUBLIC KEY`` block."""
    block = _first_block(data, PUBLIC_LABELS, "public key")
    try:
        key = serialization.load_pem_public_key(block.text.encode("ascii"))
    except CryptoUnsupported as exc:
        raise UnsupportedAlgorithm(f"unsupported PEM public key: {exc}") from None
    except (ValueError, TypeError, InternalError) as exc:
        raise KeyFormatError(f"invalid PEM {block.label}: {exc}") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Ed25519PublicKey(raw)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECDSAPublicKey.from_crypto(key)
    if isinstance(key, rsa.RSAPublicKey):
        return RSAPublicKey.from_crypto(key)
    if isinstance(key, dsa.DSAPublicKey):
        nums = key.public_numbers()
        params = nums.parameter_numbers
        return DSAPublicKey(params.p, params.q, params.g, nums.y)
    raise UnsupportedAlgorithm(f"unsupported public key type {type(key).__name__}")


def encode_pem_public_key(key: PublicKey, *, format: str = "spki") -> bytes:
    """``-----BEGIN PUBLIC KEY-----`` (``spki``, as ``ssh-keygen -e -m PKCS8``) or
    ``-----BEGIN RSA PUBLIC KEY-----`` (``pkcs1``, RSA only, as ``ssh-keygen -e -m PEM``)."""
    if not isinstance(key, (Ed25519PublicKey, ECDSAPublicKey, RSAPublicKey, DSAPublicKey)) or (
        key.algorithm.startswith("sk-")
    ):
        raise UnsupportedAlgorithm(f"{key.algorithm} keys have no PEM form")
    if format == "spki":
        fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    elif format == "pkcs1":
        if not isinstance(key, RSAPublicKey):
            raise UnsupportedAlgorithm("the PKCS#1 public key form is for RSA keys only")
        fmt = serialization.PublicFormat.PKCS1
    else:
        raise ValueError(f"unknown public PEM format {format!r} (spki or pkcs1)")
    return key.crypto_key.public_bytes(serialization.Encoding.PEM, fmt)
