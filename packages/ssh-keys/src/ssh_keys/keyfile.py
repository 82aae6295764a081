"""Key files: detect the format, load, and write private keys safely.

Private keys: openssh-key-v1, PEM (PKCS#1, SEC1, DSA, PKCS#8, legacy
encrypted), PuTTY PPK. Public keys: OpenSSH lines, RFC 4716, PEM
SubjectPublicKeyInfo / PKCS#1.

Writing creates the file with mode 0600 in the ``os.open`` call itself (so
no umask can widen it), in a temporary file beside the target that then
replaces it atomically; a symlink at the target is replaced, never written
through.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
import warnings
from collections.abc import Callable
from typing import cast

from .errors import KeyFormatError, UnsupportedAlgorithm
from .openssh_private import (
    DEFAULT_CIPHER,
    DEFAULT_ROUNDS,
    MAX_BCRYPT_ROUNDS,
    MAX_KEY_FILE_SIZE,
    OPENSSH_BEGIN,
    decode_openssh_private_key,
    encode_openssh_private_key,
)
from .pem import (
    PRIVATE_LABELS,
    PUBLIC_LABELS,
    decode_pem_private_key,
    decode_pem_public_key,
    encode_pem_private_key,
)
from .private import PrivateKey
from .public import PublicKeyLine, parse_public_key_line
from .rfc4716 import RFC4716_BEGIN, decode_rfc4716_public_key

__all__ = [
    "PRIVATE_KEY_FORMATS",
    "UnprotectedPrivateKeyWarning",
    "load_private_key",
    "load_public_key",
    "read_private_key_file",
    "read_public_key_file",
    "serialize_private_key",
    "write_private_key_file",
    "write_secret_file",
]

PRIVATE_KEY_FORMATS = ("openssh", "pem", "pkcs8")
_PPK_MAGIC = "PuTTY-User-Key-File-"
_SSHCOM_PRIVATE = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----"

Passphrase = bytes | str


class UnprotectedPrivateKeyWarning(UserWarning):
    """A private key file others can read (ssh refuses such files outright)."""


def _text(data: bytes | str) -> str:
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFormatError("key file is larger than 1 MiB")
    if isinstance(data, str):
        return data
    # Key files are ASCII except PPK comments and public key comments (UTF-8).
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFormatError("key file is not text (DER keys are not supported)") from None


def _has_pem_label(text: str, labels: tuple[str, ...]) -> bool:
    return any(f"-----BEGIN {label}-----" in text for label in labels)


def load_private_key(
    data: bytes | str,
    passphrase: Passphrase | None = None,
    *,
    max_rounds: int = MAX_BCRYPT_ROUNDS,
) -> PrivateKey:
    """Load a private key in any supported format, detected from its contents.

    Raises :class:`~ssh_keys.PassphraseRequired`,
    :class:`~ssh_keys.WrongPassphrase`, :class:`~ssh_keys.KeyFormatError` or
    :class:`~ssh_keys.UnsupportedAlgorithm`.
    """
    text = _text(data)
    head = text.lstrip()
    if head.startswith(_PPK_MAGIC):
        ppk = importlib.import_module(f"{__package__}.ppk")
        load_ppk = cast("Callable[[bytes | str, Passphrase | None], PrivateKey]", ppk.load_ppk)
        return load_ppk(data, passphrase)
    if OPENSSH_BEGIN in text:
        return decode_openssh_private_key(text, passphrase, max_rounds=max_rounds)
    if _has_pem_label(text, PRIVATE_LABELS):
        return decode_pem_private_key(text, passphrase)
    if _SSHCOM_PRIVATE in text:
        raise UnsupportedAlgorithm("ssh.com (SSH2 ENCRYPTED PRIVATE KEY) files are not supported")
    if _has_pem_label(text, PUBLIC_LABELS) or RFC4716_BEGIN in text:
        raise KeyFormatError("this is a public key, not a private key")
    raise KeyFormatError("unrecognised private key format")


def load_public_key(data: bytes | str) -> PublicKeyLine:
    """Load a public key: an OpenSSH line (``.pub``), RFC 4716, or PEM.

    For an OpenSSH file the first key line is used (blank lines and ``#``
    comments are skipped). PEM keys carry no comment.
    """
    text = _text(data)
    if RFC4716_BEGIN in text:
        decoded = decode_rfc4716_public_key(text)
        return PublicKeyLine(decoded.key, decoded.comment)
    if _has_pem_label(text, PUBLIC_LABELS):
        return PublicKeyLine(decode_pem_public_key(text), "")
    if OPENSSH_BEGIN in text or _has_pem_label(text, PRIVATE_LABELS):
        raise KeyFormatError("this is a private key; load it and take its public_key")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return parse_public_key_line(stripped)
    raise KeyFormatError("no public key found")


# -- files ------------------------------------------------------------------------


def _read_bounded(fd: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_KEY_FILE_SIZE:
            raise KeyFormatError("key file is larger than 1 MiB")
        chunks.append(chunk)


def read_private_key_file(
    path: str | os.PathLike[str],
    passphrase: Passphrase | None = None,
    *,
    max_rounds: int = MAX_BCRYPT_ROUNDS,
) -> PrivateKey:
    """Load a private key file; warn, as ssh does, if group or others can read it.

    A leading ``~`` in ``path`` is expanded, as ssh does for IdentityFile."""
    path = os.path.expanduser(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFormatError(f"{os.fspath(path)} is not a regular file")
        if os.name == "posix" and st.st_mode & 0o077:
            warnings.warn(
                f"UNPROTECTED PRIVATE KEY FILE: permissions {stat.S_IMODE(st.st_mode):04o} "
                f"for {os.fspath(path)!r} are too open (others can read it; use 0600)",
                UnprotectedPrivateKeyWarning,
                stacklevel=2,
            )
        data = _read_bounded(fd)
    finally:
        os.close(fd)
    return load_private_key(data, passphrase, max_rounds=max_rounds)


def read_public_key_file(path: str | os.PathLike[str]) -> PublicKeyLine:
    """Load a public key file (``.pub``, RFC 4716 or PEM); ``~`` is expanded."""
    path = os.path.expanduser(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = _read_bounded(fd)
    finally:
        os.close(fd)
    return load_public_key(data)


def serialize_private_key(
    key: PrivateKey,
    format: str = "openssh",
    passphrase: Passphrase | None = None,
    *,
    cipher: str = DEFAULT_CIPHER,
    rounds: int = DEFAULT_ROUNDS,
) -> bytes:
    """The bytes of a private key file: ``openssh`` (default), ``pem`` or ``pkcs8``.

    ``cipher`` and ``rounds`` apply to the openssh format (``ssh-keygen -Z``/``-a``).
    """
    if format == "openssh":
        return encode_openssh_private_key(key, passphrase, cipher=cipher, rounds=rounds)
    if format in ("pem", "pkcs8"):
        return encode_pem_private_key(key, passphrase, format=format)
    raise ValueError(f"unknown key format {format!r}; choose from {PRIVATE_KEY_FORMATS}")


def _fsync_dir(directory: str) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync directories; the rename still happened
    finally:
        os.close(fd)


def write_secret_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` as a 0600 file, atomically, never through a symlink."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            # The mode is set here, at creation: no window where others could open it.
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file in {directory}")
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename() replaces a symlink at the target itself; its destination is untouched.
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def write_private_key_file(
    path: str | os.PathLike[str],
    key: PrivateKey,
    format: str = "openssh",
    passphrase: Passphrase | None = None,
    *,
    cipher: str = DEFAULT_CIPHER,
    rounds: int = DEFAULT_ROUNDS,
) -> None:
    """Write ``key`` to ``path`` (mode 0600, atomic replace, symlinks not followed)."""
    data = serialize_private_key(key, format, passphrase, cipher=cipher, rounds=rounds)
    write_secret_file(path, data)
