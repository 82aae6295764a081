"""The openssh-key-v1 private key format that ssh-keygen writes by default (PROTOCOL.key).

    "openssh-key-v1\\0"
    string ciphername       "none" or a cipher from :data:`CIPHERS`
    string kdfname          "none" or "bcrypt"
    string kdfoptions       bcrypt: string salt, uint32 rounds
    uint32 number of keys   always 1 (as OpenSSH requires)
    string public key blob
    string private section  encrypted with the cipher; an AEAD tag follows it, outside
                            the string

The private section, once decrypted, is two equal random uint32 "check-ints"
(how a wrong passphrase is detected), the key's private fields
(:mod:`ssh_keys.private_wire`), a string comment, and padding 1, 2, 3, ... up
to the cipher's block size.

bcrypt rounds are bounded on reading (:data:`MAX_BCRYPT_ROUNDS`, about
7 ms each here) so a hostile file cannot make loading take minutes; pass
``max_rounds`` to accept more.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ssh_wire import DecodeError, Reader, Writer

from .errors import KeyFormatError, PassphraseRequired, UnsupportedAlgorithm, WrongPassphrase
from .private import PrivateKey
from .private_wire import read_private_entry, write_private_fields
from .public import PublicKey, parse_public_key_blob

__all__ = [
    "CIPHERS",
    "DEFAULT_CIPHER",
    "DEFAULT_ROUNDS",
    "MAX_BCRYPT_ROUNDS",
    "MAX_KEY_FILE_SIZE",
    "OPENSSH_BEGIN",
    "OPENSSH_END",
    "decode_openssh_private_key",
    "encode_openssh_private_key",
    "openssh_private_key_public",
    "openssh_private_key_encrypted",
]

OPENSSH_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"
OPENSSH_END = "-----END OPENSSH PRIVATE KEY-----"
_MAGIC = b"openssh-key-v1\x00"

DEFAULT_CIPHER = "aes256-ctr"
#: ssh-keygen's default ``-a``.
DEFAULT_ROUNDS = 16
#: Largest bcrypt round count accepted when reading (ssh-keygen -a 100 is the
#: usual "strong" advice; 1024 rounds take several seconds).
MAX_BCRYPT_ROUNDS = 1024
#: OpenSSH refuses key files larger than this (sshkey.h MAX_KEY_FILE_SIZE).
MAX_KEY_FILE_SIZE = 1024 * 1024
_SALT_LEN = 16
_MAX_SALT = 1024
_LINE = 70  # ssh-keygen wraps the base64 at 70 columns

Passphrase = bytes | str


@dataclass(frozen=True)
class _CipherSpec:
    key_len: int
    iv_len: int
    block_size: int
    tag_len: int
    # (key, iv, data, encrypt) -> output (ciphertext || tag when encrypting);
    # raises InvalidTag when an AEAD tag does not verify.
    run: Callable[[bytes, bytes, bytes, bool], bytes]


def _block_mode(
    algorithm: Callable[[bytes], BlockCipherAlgorithm], mode: str
) -> Callable[[bytes, bytes, bytes, bool], bytes]:
    def run(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
        m = modes.CTR(iv) if mode == "ctr" else modes.CBC(iv)
        cipher = Cipher(algorithm(key), m)
        ctx = cipher.encryptor() if encrypt else cipher.decryptor()
        return ctx.update(data) + ctx.finalize()

    return run


def _aes_gcm(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    # No associated data; the 16-byte tag follows the ciphertext.
    aead = AESGCM(key)
    return aead.encrypt(iv, data, None) if encrypt else aead.decrypt(iv, data, None)


def _chacha_poly(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    # OpenSSH's chacha20-poly1305 with sequence number 0 and no length header:
    # the main key is the first 32 bytes; block 0 of the keystream is the
    # Poly1305 key and the payload is encrypted from block 1. cryptography's
    # 16-byte nonce is a little-endian counter then the 8-byte big-endian seqnr.
    main = key[:32]

    def stream(counter: int, payload: bytes) -> bytes:
        nonce = counter.to_bytes(8, "little") + (0).to_bytes(8, "big")
        return Cipher(algorithms.ChaCha20(main, nonce), None).encryptor().update(payload)

    poly_key = stream(0, bytes(32))
    if encrypt:
        ct = stream(1, data)
        return ct + poly1305.Poly1305.generate_tag(poly_key, ct)
    ct, tag = data[:-16], data[-16:]
    try:
        poly1305.Poly1305.verify_tag(poly_key, ct, tag)
    except InvalidSignature:
        raise InvalidTag from None
    return stream(1, ct)


def _triple_des(key: bytes) -> BlockCipherAlgorithm:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    return TripleDES(key)


#: The ciphers ``ssh-keygen -Z`` accepts for key files (OpenSSH 9.2).
CIPHERS: dict[str, _CipherSpec] = {
    "aes128-ctr": _CipherSpec(16, 16, 16, 0, _block_mode(algorithms.AES, "ctr")),
    "aes192-ctr": _CipherSpec(24, 16, 16, 0, _block_mode(algorithms.AES, "ctr")),
    "aes256-ctr": _CipherSpec(32, 16, 16, 0, _block_mode(algorithms.AES, "ctr")),
    "aes128-cbc": _CipherSpec(16, 16, 16, 0, _block_mode(algorithms.AES, "cbc")),
    "aes192-cbc": _CipherSpec(24, 16, 16, 0, _block_mode(algorithms.AES, "cbc")),
    "aes256-cbc": _CipherSpec(32, 16, 16, 0, _block_mode(algorithms.AES, "cbc")),
    "aes128-gcm@openssh.com": _CipherSpec(16, 12, 16, 16, _aes_gcm),
    "aes256-gcm@openssh.com": _CipherSpec(32, 12, 16, 16, _aes_gcm),
    "chacha20-poly1305@openssh.com": _CipherSpec(64, 0, 8, 16, _chacha_poly),
    "3des-cbc": _CipherSpec(24, 8, 8, 0, _block_mode(_triple_des, "cbc")),
}
_NONE_BLOCK = 8


def _passphrase_bytes(passphrase: Passphrase) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


# -- armour ---------------------------------------------------------------------


def _to_text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFormatError("key file is larger than 1 MiB")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError("an OpenSSH private key file is ASCII text") from None


def _unarmor(data: bytes | str) -> bytes:
    text = _to_text(data)
    if len(text) > MAX_KEY_FILE_SIZE:
        raise KeyFormatError("key file is larger than 1 MiB")
    start = text.find(OPENSSH_BEGIN)
    if start < 0:
        raise KeyFormatError("not an OpenSSH private key (no BEGIN OPENSSH PRIVATE KEY line)")
    body_start = start + len(OPENSSH_BEGIN)
    end = text.find(OPENSSH_END, body_start)
    if end < 0:
        raise KeyFormatError("OpenSSH private key has no END line")
    body = "".join(text[body_start:end].split())
    try:
        return base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFormatError("OpenSSH private key has invalid base64") from None


def _armor(blob: bytes) -> bytes:
    b64 = base64.b64encode(blob).decode("ascii")
    lines = [OPENSSH_BEGIN]
    lines += [b64[i : i + _LINE] for i in range(0, len(b64), _LINE)]
    lines.append(OPENSSH_END)
    return ("\n".join(lines) + "\n").encode("ascii")


# -- the outer structure ----------------------------------------------------------


@dataclass(frozen=True)
class _Outer:
    cipher: str
    kdf: str
    salt: bytes
    rounds: int
    public: PublicKey
    private: bytes  # ciphertext (with the AEAD tag, if any)


def _parse_outer(blob: bytes) -> _Outer:
    try:
        r = Reader(blob)
        if r.raw(len(_MAGIC), "magic") != _MAGIC:
            raise KeyFormatError("not an openssh-key-v1 key (bad magic)")
        cipher = r.ascii("cipher name", max_length=64)
        kdf = r.ascii("kdf name", max_length=64)
        kdf_options = r.string("kdf options", max_length=_MAX_SALT + 16)
        count = r.uint32("number of keys")
        if count != 1:
            raise KeyFormatError(f"OpenSSH key files hold exactly one key, not {count}")
        public = parse_public_key_blob(r.string("public key"))
        private_len = r.uint32("private section length")
        if cipher != "none" and cipher not in CIPHERS:
            raise UnsupportedAlgorithm(f"unknown key file cipher {cipher!r}")
        spec = CIPHERS.get(cipher)
        tag_len = spec.tag_len if spec else 0
        block = spec.block_size if spec else _NONE_BLOCK
        # The length was read before the data: check it against what is there.
        if private_len > r.remaining or r.remaining - private_len != tag_len:
            raise KeyFormatError("private section length does not match the file")
        if private_len == 0 or private_len % block:
            raise KeyFormatError("private section is not a whole number of cipher blocks")
        private = r.raw(private_len + tag_len, "private section")
        salt, rounds = _parse_kdf(kdf, kdf_options, cipher)
    except DecodeError as exc:
        raise KeyFormatError(f"malformed OpenSSH private key: {exc}") from None
    return _Outer(cipher, kdf, salt, rounds, public, private)


def _parse_kdf(kdf: str, options: bytes, cipher: str) -> tuple[bytes, int]:
    if kdf == "none":
        if options:
            raise KeyFormatError("kdf 'none' takes no options")
        if cipher != "none":
            raise KeyFormatError(f"cipher {cipher} needs a kdf")
        return b"", 0
    if kdf != "bcrypt":
        raise UnsupportedAlgorithm(f"unknown key file kdf {kdf!r}")
    r = Reader(options)
    salt = r.string("bcrypt salt", max_length=_MAX_SALT)
    rounds = r.uint32("bcrypt rounds")
    r.expect_end("bcrypt options")
    if not salt:
        raise KeyFormatError("bcrypt salt is empty")
    if rounds == 0:
        raise KeyFormatError("bcrypt rounds must be at least 1")
    return salt, rounds


def openssh_private_key_public(data: bytes | str) -> PublicKey:
    """The public key stored in clear in an openssh-key-v1 file (no passphrase needed)."""
    return _parse_outer(_unarmor(data)).public


def openssh_private_key_encrypted(data: bytes | str) -> bool:
    """Whether loading the file needs a passphrase."""
    return _parse_outer(_unarmor(data)).kdf != "none"


# -- decoding -------------------------------------------------------------------


def _derive(passphrase: bytes, salt: bytes, rounds: int, length: int) -> bytes:
    return bcrypt.kdf(passphrase, salt, length, rounds, ignore_few_rounds=True)


def _decrypt(outer: _Outer, passphrase: bytes, max_rounds: int) -> bytes:
    if outer.rounds > max_rounds:
        raise KeyFormatError(f"bcrypt rounds {outer.rounds} over the limit {max_rounds}")
    if outer.cipher == "none":
        return outer.private  # bcrypt with cipher none: nothing to undo (as OpenSSH)
    if not passphrase:
        raise WrongPassphrase("incorrect passphrase supplied to decrypt private key")
    spec = CIPHERS[outer.cipher]
    material = _derive(passphrase, outer.salt, outer.rounds, spec.key_len + spec.iv_len)
    key, iv = material[: spec.key_len], material[spec.key_len :]
    try:
        return spec.run(key, iv, outer.private, False)
    except InvalidTag:
        raise WrongPassphrase("incorrect passphrase supplied to decrypt private key") from None


def _check_padding(r: Reader) -> None:
    padding = r.rest()
    if padding != bytes(range(1, len(padding) + 1)):
        raise KeyFormatError("bad padding after the private key")


def decode_openssh_private_key(
    data: bytes | str,
    passphrase: Passphrase | None = None,
    *,
    max_rounds: int = MAX_BCRYPT_ROUNDS,
) -> PrivateKey:
    """Load an openssh-key-v1 private key (``-----BEGIN OPENSSH PRIVATE KEY-----``).

    Raises :class:`PassphraseRequired` if the key is encrypted and no
    passphrase is given, :class:`WrongPassphrase` if it does not decrypt it
    (however that shows: a bad AEAD tag or different check-ints), and
    :class:`KeyFormatError` for anything malformed.
    """
    outer = _parse_outer(_unarmor(data))
    if outer.kdf != "none" and passphrase is None:
        raise PassphraseRequired("the private key is encrypted; a passphrase is needed")
    plain = _decrypt(outer, _passphrase_bytes(passphrase or b""), max_rounds)
    r = Reader(plain)
    try:
        check1 = r.uint32("check-int")
        check2 = r.uint32("check-int")
    except DecodeError:
        raise KeyFormatError("private section too short") from None
    if not hmac.compare_digest(check1.to_bytes(4, "big"), check2.to_bytes(4, "big")):
        if outer.kdf != "none":
            raise WrongPassphrase("incorrect passphrase supplied to decrypt private key")
        raise KeyFormatError("check-ints differ in an unencrypted key")
    entry = read_private_entry(r)
    try:
        comment_bytes = r.string("comment", max_length=64 * 1024)
    except DecodeError as exc:
        raise KeyFormatError(f"malformed OpenSSH private key: {exc}") from None
    _check_padding(r)
    if entry.certificate is not None:
        raise KeyFormatError("certificate entries are not valid in a key file")
    key = entry.key
    if key.public_key != outer.public:
        raise KeyFormatError("the private key does not match the file's public key")
    key.comment = comment_bytes.decode("utf-8", errors="replace")
    return key


# -- encoding -------------------------------------------------------------------


def encode_openssh_private_key(
    key: PrivateKey,
    passphrase: Passphrase | None = None,
    *,
    cipher: str = DEFAULT_CIPHER,
    rounds: int = DEFAULT_ROUNDS,
    comment: str | None = None,
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Serialise ``key`` as ssh-keygen does: armoured openssh-key-v1 text, as bytes.

    With a (non-empty) passphrase, the key is encrypted with ``cipher`` under a
    bcrypt-derived key (``rounds`` as ``ssh-keygen -a``).
    """
    encrypted = bool(passphrase)
    if encrypted and cipher not in CIPHERS:
        raise ValueError(f"unknown cipher {cipher!r}; choose from {', '.join(CIPHERS)}")
    if encrypted and not 1 <= rounds <= MAX_BCRYPT_ROUNDS:
        raise ValueError(f"bcrypt rounds must be 1..{MAX_BCRYPT_ROUNDS}")
    spec = CIPHERS[cipher] if encrypted else None
    block = spec.block_size if spec else _NONE_BLOCK

    check = rng(4)
    plain = bytearray(check + check)
    plain += write_private_fields(key)
    plain += Writer().text(key.comment if comment is None else comment).getvalue()
    pad = (-len(plain)) % block
    plain += bytes(range(1, pad + 1))

    w = Writer().raw(_MAGIC)
    if spec is not None and passphrase:
        salt = rng(_SALT_LEN)
        options = Writer().string(salt).uint32(rounds).getvalue()
        material = _derive(_passphrase_bytes(passphrase), salt, rounds, spec.key_len + spec.iv_len)
        out = spec.run(material[: spec.key_len], material[spec.key_len :], bytes(plain), True)
        w.string(cipher.encode()).string(b"bcrypt").string(options)
    else:
        out = bytes(plain)
        w.string(b"none").string(b"none").string(b"")
    w.uint32(1).string(key.public_key.blob)
    # The length covers the ciphertext only; an AEAD tag follows outside it.
    tag_len = spec.tag_len if spec else 0
    w.uint32(len(out) - tag_len).raw(out)
    return _armor(w.getvalue())
