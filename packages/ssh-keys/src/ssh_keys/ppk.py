"""PuTTY private key files (PPK), versions 2 and 3, after the PuTTY manual's appendix
"PPK file format".

The outer layer is text::

    PuTTY-User-Key-File-<version>: <key type>
    Encryption: none | aes256-cbc
    Comment: <any bytes but CR and LF>
    Public-Lines: <n>            followed by n lines of base64 public key blob
    Key-Derivation: Argon2id     (v3 and encrypted only; also Argon2i, Argon2d)
    Argon2-Memory: <KiB>
    Argon2-Passes: <n>
    Argon2-Parallelism: <n>
    Argon2-Salt: <hex>
    Private-Lines: <n>           followed by n lines of base64 private blob
    Private-MAC: <hex>

The private blob holds only the private half, in PuTTY's layout (not OpenSSH's):

    ssh-ed25519   string seed(32)
    ecdsa-sha2-*  mpint private value
    ssh-rsa       mpint d, mpint p, mpint q, mpint iqmp (q^-1 mod p)
    ssh-dss       mpint x

The MAC covers string(type) string(encryption) string(comment) string(public blob)
string(private plaintext, padding included). v3: HMAC-SHA-256, and Argon2 over the
passphrase yields 80 bytes = AES-256 key, CBC IV, MAC key (the MAC key is empty
when unencrypted). v2: HMAC-SHA-1 keyed with SHA-1("putty-private-key-file-mac-key"
|| passphrase); the AES key is the first 32 bytes of SHA-1(uint32 0 || passphrase)
|| SHA-1(uint32 1 || passphrase) and the IV is zero.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf import argon2 as _argon2

from ssh_wire import DecodeError, Reader, Writer

from .errors import KeyFormatError, PassphraseRequired, UnsupportedAlgorithm, WrongPassphrase
from .private import (
    DSAPrivateKey,
    ECDSAPrivateKey,
    Ed25519PrivateKey,
    PrivateKey,
    RSAPrivateKey,
)
from .private_wire import read_dsa_private, read_ecdsa_private, rsa_private_from_numbers
from .public import (
    RSA_MAX_BITS,
    DSAPublicKey,
    ECDSAPublicKey,
    Ed25519PublicKey,
    PublicKey,
    PublicKeyLine,
    RSAPublicKey,
    parse_public_key_blob,
)

__all__ = [
    "load_ppk",
    "ppk_public_key",
    "dump_ppk",
    "is_ppk",
    "PPK_ARGON2_DEFAULT_PASSES",
    "PPK_ARGON2_MAX_MEMORY_KIB",
    "PPK_ARGON2_MAX_PASSES",
    "PPK_ARGON2_MAX_PARALLELISM",
    "PPK_ARGON2_MAX_COST",
]

_MAGIC = b"PuTTY-User-Key-File-"

#: PuTTYgen calibrates passes to about 100 ms; 21 passes over 8 MiB is about that
#: on a current x86 core (it chose 21 on the machine these tests were written on).
PPK_ARGON2_DEFAULT_PASSES = 21
#: Bounds on the Argon2 parameters a file may ask for, so a hostile file cannot
#: make us allocate gigabytes or spin for minutes before the MAC check.
PPK_ARGON2_MAX_MEMORY_KIB = 256 * 1024
PPK_ARGON2_MAX_PASSES = 1024
PPK_ARGON2_MAX_PARALLELISM = 64
#: Memory x passes (KiB-passes): about 50 times PuTTYgen's default work.
PPK_ARGON2_MAX_COST = 1 << 23

_MAX_FILE = 1 << 20  # an RSA-16384 PPK is about 10 KiB
_MAX_LINES = 4096
_SALT_MIN, _SALT_MAX = 8, 1024  # Argon2 needs at least 8 bytes of salt
_MAX_NUMBER_DIGITS = 10
_BLOCK = 16
_ENCRYPTIONS = ("none", "aes256-cbc")
_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "ssh-dss",
)
_V2_MAC_KEY_PREFIX = b"putty-private-key-file-mac-key"
_DSA_MAX_BITS = 8192

# cryptography gained Argon2id in 44 and Argon2i/Argon2d later; look them up so an
# older version gives a clear UnsupportedAlgorithm rather than an ImportError.
_ARGON2: dict[str, Any] = {
    name: getattr(_argon2, name, None) for name in ("Argon2id", "Argon2i", "Argon2d")
}


@dataclass(frozen=True)
class _Argon2Params:
    flavour: str
    memory: int
    passes: int
    parallelism: int
    salt: bytes


@dataclass(frozen=True)
class _PPKFile:
    version: int
    algorithm: str
    encryption: str
    comment: bytes
    public_blob: bytes
    argon2: _Argon2Params | None
    private: bytes
    mac: bytes


# -- outer layer --------------------------------------------------------------


class _Lines:
    """The file's lines, read one header at a time."""

    def __init__(self, data: bytes) -> None:
        # PuTTY writes LF but accepts CR LF and bare CR too.
        self._lines = re.split(rb"\r\n|\r|\n", data)
        while self._lines and self._lines[-1] == b"":
            self._lines.pop()
        self._pos = 0

    def next(self, what: str) -> bytes:
        if self._pos >= len(self._lines):
            raise KeyFormatError(f"PPK file ends before {what}")
        line = self._lines[self._pos]
        self._pos += 1
        return line

    def header(self, name: str) -> bytes:
        line = self.next(f"the {name} header")
        key, sep, value = line.partition(b": ")
        if not sep or key != name.encode():
            shown = key[:40].decode("ascii", "replace")
            raise KeyFormatError(f"PPK file has {shown!r} where {name!r} was expected")
        return value

    def ascii_header(self, name: str) -> str:
        value = self.header(name)
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFormatError(f"PPK {name} header is not ASCII") from None

    def number(self, name: str, low: int, high: int) -> int:
        text = self.ascii_header(name)
        if not text.isdigit() or len(text) > _MAX_NUMBER_DIGITS:
            raise KeyFormatError(f"PPK {name} must be a decimal number")
        value = int(text)
        if not low <= value <= high:
            raise KeyFormatError(f"PPK {name} {value} is outside {low}..{high}")
        return value

    def base64_block(self, name: str) -> bytes:
        count = self.number(name, 0, _MAX_LINES)
        if count > len(self._lines) - self._pos:
            raise KeyFormatError(f"PPK {name} says {count} lines but the file is shorter")
        chunk = b"".join(self._lines[self._pos : self._pos + count])
        self._pos += count
        try:
            return base64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFormatError(f"PPK {name} section has invalid base64") from None

    def expect_end(self) -> None:
        if any(line.strip() for line in self._lines[self._pos :]):
            raise KeyFormatError("PPK file has data after Private-MAC")


def _hex(text: str, name: str) -> bytes:
    if not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        raise KeyFormatError(f"PPK {name} is not hexadecimal")
    return bytes.fromhex(text)


def _parse(data: bytes) -> _PPKFile:
    if len(data) > _MAX_FILE:
        raise KeyFormatError(f"PPK file larger than {_MAX_FILE} bytes")
    lines = _Lines(data)
    first = lines.next("the first line")
    if not first.startswith(_MAGIC):
        raise KeyFormatError("not a PuTTY key file (no PuTTY-User-Key-File header)")
    version_text, sep, algorithm_bytes = first[len(_MAGIC) :].partition(b": ")
    if not sep or not version_text.isdigit() or len(version_text) > 3:
        raise KeyFormatError("malformed PuTTY-User-Key-File header")
    version = int(version_text)
    if version not in (2, 3):
        raise UnsupportedAlgorithm(f"PPK version {version} is not supported (2 and 3 are)")
    algorithm = algorithm_bytes.decode("ascii", "replace")
    if algorithm not in _KEY_TYPES:
        raise UnsupportedAlgorithm(f"PPK key type {algorithm[:64]!r} is not supported")
    encryption = lines.ascii_header("Encryption")
    if encryption not in _ENCRYPTIONS:
        raise UnsupportedAlgorithm(f"PPK encryption {encryption[:64]!r} is not supported")
    comment = lines.header("Comment")
    public_blob = lines.base64_block("Public-Lines")
    argon2 = None
    if version == 3 and encryption != "none":
        argon2 = _parse_argon2(lines)
    private = lines.base64_block("Private-Lines")
    mac = _hex(lines.ascii_header("Private-MAC"), "Private-MAC")
    lines.expect_end()
    if len(mac) != (32 if version == 3 else 20):
        raise KeyFormatError(f"PPK v{version} Private-MAC has the wrong length")
    if encryption != "none" and len(private) % _BLOCK:
        raise KeyFormatError("encrypted PPK private blob is not a whole number of AES blocks")
    return _PPKFile(version, algorithm, encryption, comment, public_blob, argon2, private, mac)


def _parse_argon2(lines: _Lines) -> _Argon2Params:
    flavour = lines.ascii_header("Key-Derivation")
    if flavour not in _ARGON2:
        raise UnsupportedAlgorithm(f"PPK key derivation {flavour[:64]!r} is not supported")
    memory = lines.number("Argon2-Memory", 8, PPK_ARGON2_MAX_MEMORY_KIB)
    passes = lines.number("Argon2-Passes", 1, PPK_ARGON2_MAX_PASSES)
    parallelism = lines.number("Argon2-Parallelism", 1, PPK_ARGON2_MAX_PARALLELISM)
    salt = _hex(lines.ascii_header("Argon2-Salt"), "Argon2-Salt")
    params = _Argon2Params(flavour, memory, passes, parallelism, salt)
    _check_argon2(params, KeyFormatError)
    return params


def _check_argon2(params: _Argon2Params, error: type[Exception]) -> None:
    if not 1 <= params.parallelism <= PPK_ARGON2_MAX_PARALLELISM:
        raise error(f"Argon2 parallelism must be 1..{PPK_ARGON2_MAX_PARALLELISM}")
    if not 8 * params.parallelism <= params.memory <= PPK_ARGON2_MAX_MEMORY_KIB:
        raise error(
            f"Argon2 memory must be {8 * params.parallelism}..{PPK_ARGON2_MAX_MEMORY_KIB} KiB"
        )
    if not 1 <= params.passes <= PPK_ARGON2_MAX_PASSES:
        raise error(f"Argon2 passes must be 1..{PPK_ARGON2_MAX_PASSES}")
    if params.memory * params.passes > PPK_ARGON2_MAX_COST:
        raise error(f"Argon2 memory x passes over the limit {PPK_ARGON2_MAX_COST} KiB-passes")
    if not _SALT_MIN <= len(params.salt) <= _SALT_MAX:
        raise error(f"Argon2 salt must be {_SALT_MIN}..{_SALT_MAX} bytes")


# -- key material ---------------------------------------------------------------


def _argon2_derive(params: _Argon2Params, passphrase: bytes, length: int) -> bytes:
    kdf_class = _ARGON2[params.flavour]
    if kdf_class is None:
        raise UnsupportedAlgorithm(
            f"this version of the cryptography package has no {params.flavour}; "
            "re-save the key with Argon2id or upgrade cryptography"
        )
    kdf = kdf_class(
        salt=params.salt,
        length=length,
        iterations=params.passes,
        lanes=params.parallelism,
        memory_cost=params.memory,
    )
    try:
        return bytes(kdf.derive(passphrase))
    except ValueError:  # pragma: no cover - parameters are checked beforehand
        raise KeyFormatError("Argon2 parameters rejected") from None


def _v3_keys(params: _Argon2Params, passphrase: bytes) -> tuple[bytes, bytes, bytes]:
    out = _argon2_derive(params, passphrase, 32 + 16 + 32)
    return out[:32], out[32:48], out[48:]


def _v2_keys(passphrase: bytes) -> tuple[bytes, bytes]:
    """(AES key, MAC key) of PPK v2; the IV is all zeroes."""
    h0 = hashlib.sha1(b"\x00\x00\x00\x00" + passphrase, usedforsecurity=False).digest()
    h1 = hashlib.sha1(b"\x00\x00\x00\x01" + passphrase, usedforsecurity=False).digest()
    mac_key = hashlib.sha1(_V2_MAC_KEY_PREFIX + passphrase, usedforsecurity=False).digest()
    return (h0 + h1)[:32], mac_key


def _mac_input(
    algorithm: str, encryption: str, comment: bytes, public: bytes, private: bytes
) -> bytes:
    return (
        Writer()
        .string(algorithm.encode())
        .string(encryption.encode())
        .string(comment)
        .string(public)
        .string(private)
        .getvalue()
    )


def _aes_cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def _as_bytes(value: bytes | str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


# -- private blobs --------------------------------------------------------------


def _read_private(r: Reader, public: PublicKey) -> PrivateKey:
    if isinstance(public, Ed25519PublicKey):
        seed = r.string("ed25519 seed", max_length=64)
        if len(seed) != 32:
            raise KeyFormatError(f"ed25519 private key must be 32 bytes, got {len(seed)}")
        key: PrivateKey = Ed25519PrivateKey.from_seed(seed)
    elif isinstance(public, ECDSAPublicKey):
        key = read_ecdsa_private(r, public)
    elif isinstance(public, RSAPublicKey):
        # PuTTY's order is d, p, q, iqmp (iqmp = q^-1 mod p, as cryptography's).
        d = r.positive_mpint("rsa d", max_bits=RSA_MAX_BITS)
        p = r.positive_mpint("rsa p", max_bits=RSA_MAX_BITS)
        q = r.positive_mpint("rsa q", max_bits=RSA_MAX_BITS)
        iqmp = r.positive_mpint("rsa iqmp", max_bits=RSA_MAX_BITS)
        key = RSAPrivateKey(rsa_private_from_numbers(public.n, public.e, d, p, q, iqmp))
    elif isinstance(public, DSAPublicKey):
        key = read_dsa_private(r, public)
    else:  # pragma: no cover - _parse admits only the types above
        raise UnsupportedAlgorithm(f"no PPK private key format for {public.algorithm}")
    if key.public_key != public:
        raise KeyFormatError(f"{public.algorithm} private key does not match its public key")
    return key


def _write_private(key: PrivateKey) -> bytes:
    w = Writer()
    if isinstance(key, Ed25519PrivateKey):
        w.string(key.seed)
    elif isinstance(key, ECDSAPrivateKey):
        w.mpint(key.crypto_key.private_numbers().private_value)
    elif isinstance(key, RSAPrivateKey):
        nums = key.crypto_key.private_numbers()
        # cryptography's iqmp is q^-1 mod p, as PuTTY's is.
        w.mpint(nums.d).mpint(nums.p).mpint(nums.q).mpint(nums.iqmp)
    elif isinstance(key, DSAPrivateKey):
        w.mpint(key.crypto_key.private_numbers().x)
    else:
        raise UnsupportedAlgorithm(f"PPK files cannot hold a {key.algorithm} key")
    return w.getvalue()


# -- API ------------------------------------------------------------------------


def is_ppk(data: bytes | str) -> bool:
    """Whether ``data`` looks like a PuTTY key file (by its first header)."""
    head = data[: len(_MAGIC)]
    return (head.encode("latin-1", "replace") if isinstance(head, str) else bytes(head)) == _MAGIC


def _ppk_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError:
            raise KeyFormatError("PPK text is not encodable as UTF-8") from None
    return bytes(data)


def _public_of(f: _PPKFile) -> PublicKey:
    public = parse_public_key_blob(f.public_blob)
    if public.algorithm != f.algorithm:
        raise KeyFormatError(
            f"PPK header says {f.algorithm} but the public key is {public.algorithm}"
        )
    return public


def ppk_public_key(data: bytes | str) -> PublicKeyLine:
    """The public key and comment of a PPK file, without its passphrase.

    PuTTY keeps both in clear even in an encrypted file (as OpenSSH keeps the public key),
    so fingerprinting needs no passphrase. They are not authenticated: the Private-MAC
    that covers them needs the passphrase, which :func:`load_ppk` checks.
    """
    f = _parse(_ppk_bytes(data))
    return PublicKeyLine(_public_of(f), f.comment.decode("utf-8", "replace"))


def load_ppk(data: bytes | str, passphrase: bytes | str | None = None) -> PrivateKey:
    """Read a PPK v2 or v3 file; the key's comment comes from the Comment header.

    Raises :class:`PassphraseRequired` for an encrypted file without a passphrase,
    :class:`WrongPassphrase` when the MAC of an encrypted file does not verify,
    :class:`UnsupportedAlgorithm` for key types, ciphers or KDFs not handled, and
    :class:`KeyFormatError` for anything malformed (a MAC failure on an
    unencrypted file means it is corrupt). A passphrase given for an unencrypted
    file is ignored.
    """
    f = _parse(_ppk_bytes(data))
    public = _public_of(f)

    encrypted = f.encryption != "none"
    if encrypted and passphrase is None:
        raise PassphraseRequired("the PuTTY key file is encrypted; a passphrase is needed")
    secret = _as_bytes(passphrase) if encrypted and passphrase is not None else b""

    plain = f.private
    if f.version == 3:
        mac_key = b""
        if f.argon2 is not None:
            cipher_key, iv, mac_key = _v3_keys(f.argon2, secret)
            plain = _aes_cbc(cipher_key, iv, f.private, encrypt=False)
        mac_hash = "sha256"
    else:
        cipher_key, mac_key = _v2_keys(secret)
        if encrypted:
            plain = _aes_cbc(cipher_key, bytes(_BLOCK), f.private, encrypt=False)
        mac_hash = "sha1"
    mac_data = _mac_input(f.algorithm, f.encryption, f.comment, f.public_blob, plain)
    expected = hmac.new(mac_key, mac_data, mac_hash).digest()
    if not hmac.compare_digest(expected, f.mac):
        if encrypted:
            raise WrongPassphrase("wrong passphrase for the PuTTY key file")
        raise KeyFormatError("PPK file is corrupt: Private-MAC does not verify")

    r = Reader(plain)
    try:
        key = _read_private(r, public)
    except DecodeError as exc:
        raise KeyFormatError(f"malformed PPK private key: {exc}") from None
    # Encryption pads to the AES block size; nothing else may follow.
    if r.remaining >= _BLOCK:
        raise KeyFormatError("PPK private blob has trailing data")
    key.comment = f.comment.decode("utf-8", "replace")
    return key


def dump_ppk(
    key: PrivateKey,
    passphrase: bytes | str | None = None,
    *,
    argon2_memory: int = 8192,
    argon2_passes: int = PPK_ARGON2_DEFAULT_PASSES,
    argon2_parallelism: int = 1,
) -> bytes:
    """Write ``key`` as a PPK v3 file; with a (non-empty) passphrase, encrypted with
    AES-256-CBC under Argon2id (memory in KiB). Lines end in LF, as PuTTY writes."""
    comment = key.comment.encode("utf-8")
    if b"\r" in comment or b"\n" in comment:
        raise ValueError("a PPK comment cannot contain CR or LF")
    secret = _as_bytes(passphrase) if passphrase is not None else b""
    private = _write_private(key)
    public = key.public_key.blob
    encryption = "aes256-cbc" if secret else "none"

    kdf_lines: list[bytes] = []
    mac_key = b""
    stored = private
    if secret:
        params = _Argon2Params(
            "Argon2id", argon2_memory, argon2_passes, argon2_parallelism, os.urandom(16)
        )
        _check_argon2(params, ValueError)
        cipher_key, iv, mac_key = _v3_keys(params, secret)
        # Pad with random bytes to whole AES blocks; the MAC covers the padding.
        private += os.urandom(-len(private) % _BLOCK)
        stored = _aes_cbc(cipher_key, iv, private, encrypt=True)
        kdf_lines = [
            b"Key-Derivation: Argon2id",
            b"Argon2-Memory: %d" % params.memory,
            b"Argon2-Passes: %d" % params.passes,
            b"Argon2-Parallelism: %d" % params.parallelism,
            b"Argon2-Salt: " + params.salt.hex().encode(),
        ]
    mac = hmac.new(
        mac_key, _mac_input(key.algorithm, encryption, comment, public, private), "sha256"
    ).digest()

    public_lines = _base64_lines(public)
    private_lines = _base64_lines(stored)
    out = [
        _MAGIC + b"3: " + key.algorithm.encode(),
        b"Encryption: " + encryption.encode(),
        b"Comment: " + comment,
        b"Public-Lines: %d" % len(public_lines),
        *public_lines,
        *kdf_lines,
        b"Private-Lines: %d" % len(private_lines),
        *private_lines,
        b"Private-MAC: " + mac.hex().encode(),
    ]
    return b"\n".join(out) + b"\n"


def _base64_lines(data: bytes) -> list[bytes]:
    text = base64.b64encode(data)
    return [text[i : i + 64] for i in range(0, len(text), 64)]
