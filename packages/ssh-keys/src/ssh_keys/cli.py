"""The ``ssh-keys`` command (also ``python -m ssh_keys``).

Where a subcommand overlaps ``ssh-keygen`` it prints what ssh-keygen prints, byte for byte,
so scripts can switch: ``fingerprint`` is ``-l``, ``public`` is ``-y``, ``cert inspect`` is
``-L``, ``cert sign`` is ``-s``, ``sign``/``verify`` are ``-Y sign``/``-Y verify`` and
``known-hosts find``/``hash`` are ``-F``/``-H``. Exit codes: 0 success, 1 failure (bad
signature, host not found, unreadable key...), 2 usage error. Errors are one line,
``ssh-keys: <message>`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import getpass
import os
import re
import stat
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import BinaryIO

from ssh_wire import SSHError

from .certificate import (
    DEFAULT_USER_EXTENSIONS,
    FOREVER,
    Certificate,
    CertType,
    _format_validity,
    describe,
    sign_certificate,
)
from .errors import KeyFormatError, PassphraseRequired, SignatureInvalid, WrongPassphrase
from .keyfile import (
    UnprotectedPrivateKeyWarning,
    load_private_key,
    load_public_key,
    read_private_key_file,
    serialize_private_key,
    write_secret_file,
)
from .known_hosts import HASH_MAGIC, KnownHosts, KnownHostsEntry, Marker, hash_host
from .openssh_private import OPENSSH_BEGIN, openssh_private_key_public
from .patterns import split_field, split_lines
from .pem import encode_pem_public_key
from .ppk import ppk_public_key
from .private import PrivateKey, generate_private_key
from .public import PublicKey, RSAPublicKey, parse_public_key_blob
from .randomart import randomart
from .rfc4716 import encode_rfc4716_public_key
from .sshsig import AllowedSigners, _parse_time, parse_signature
from .sshsig import sign as sshsig_sign

__all__ = ["main"]

PROG = "ssh-keys"
_PPK_MAGIC = "PuTTY-User-Key-File-"
_KEY_TYPES = ("ed25519", "ecdsa", "rsa", "dsa")
_PRIVATE_FORMATS = ("openssh", "pem", "pkcs8", "ppk")
_CONVERT_FORMATS = (*_PRIVATE_FORMATS, "rfc4716")
_RANDOMART_WIDTH = 17


class CommandError(Exception):
    """A failure to report as ``ssh-keys: message`` with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 2)


def _error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _out(text: str) -> None:
    sys.stdout.write(text)


# -- reading files ------------------------------------------------------------------------


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _read_text(path: str) -> str:
    # ssh-keygen reads bytes; a stray invalid byte should not stop the other lines.
    return _read_bytes(path).decode("utf-8", "replace")


def _display_name(path: str) -> str:
    return "(stdin)" if path == "-" else path


def _looks_private(text: str) -> bool:
    head = text.lstrip()
    return "PRIVATE KEY" in text or head.startswith(_PPK_MAGIC)


# -- passphrases --------------------------------------------------------------------------


def _passphrase_from_file(path: str) -> bytes:
    """The file's first line, without its line ending."""
    data = _read_bytes(path)
    return data.split(b"\n", 1)[0].removesuffix(b"\r")


def _given_passphrase(args: argparse.Namespace) -> bytes | None:
    """The passphrase for reading a key, from -P or --passphrase-file, if given."""
    if getattr(args, "passphrase", None) is not None:
        return str(args.passphrase).encode("utf-8")
    if getattr(args, "passphrase_file", None) is not None:
        return _passphrase_from_file(args.passphrase_file)
    return None


def _can_prompt() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask(prompt: str, what: str) -> bytes:
    if not _can_prompt():
        raise PassphraseRequired(
            f"{what}: a passphrase is needed and there is no terminal to ask on "
            "(use --passphrase-file FILE)"
        )
    return getpass.getpass(prompt).encode("utf-8")


def _new_passphrase(args: argparse.Namespace, path: str) -> bytes | None:
    """The passphrase to protect a new key with (None: unencrypted)."""
    if args.new_passphrase is not None:
        value: bytes = str(args.new_passphrase).encode("utf-8")
    elif args.new_passphrase_file is not None:
        value = _passphrase_from_file(args.new_passphrase_file)
    else:
        if not _can_prompt():
            raise PassphraseRequired(
                f"{path}: no passphrase given and no terminal to ask on "
                "(use --passphrase-file FILE, or -N '' for an unencrypted key)"
            )
        value = getpass.getpass("Enter passphrase (empty for no passphrase): ").encode("utf-8")
        again = getpass.getpass("Enter same passphrase again: ").encode("utf-8")
        if value != again:
            raise CommandError("passphrases do not match")
    return value or None


def _read_private_file(path: str, passphrase: bytes | None) -> PrivateKey:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnprotectedPrivateKeyWarning)
        key = read_private_key_file(path, passphrase)
    for warning in caught:
        _error(f"warning: {warning.message}")
    return key


def _load_private(path: str, args: argparse.Namespace) -> tuple[PrivateKey, bytes | None]:
    """Load a private key, asking for its passphrase if it needs one and none was given."""
    passphrase = _given_passphrase(args)
    try:
        if path == "-":
            # Standard input can be read only once: no second try with a typed passphrase.
            return load_private_key(_read_bytes(path), passphrase), passphrase
        try:
            return _read_private_file(path, passphrase), passphrase
        except PassphraseRequired:
            if passphrase is not None:
                raise
        passphrase = _ask(f"Enter passphrase for {path}: ", path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnprotectedPrivateKeyWarning)
            return read_private_key_file(path, passphrase), passphrase
    except WrongPassphrase:
        raise CommandError(
            f"{path}: incorrect passphrase supplied to decrypt private key"
        ) from None
    except (KeyFormatError, PassphraseRequired) as exc:
        message = str(exc)
        raise CommandError(message if message.startswith(path) else f"{path}: {message}") from None


# -- keys in text -------------------------------------------------------------------------


def _read_key(text: str) -> tuple[PublicKey, str] | None:
    """A key at the start of ``text`` (``type base64``) and what follows it, as sshkey_read."""
    match = re.match(r"([^ \t]+)[ \t]+([^ \t]+)", text)
    if match is None:
        return None
    try:
        blob = base64.b64decode(match.group(2).encode("ascii"), validate=True)
        key = parse_public_key_blob(blob)
    except (SSHError, ValueError, binascii.Error, UnicodeEncodeError):
        return None
    if key.algorithm != match.group(1):
        return None
    return key, text[match.end() :]


def _skip_first_field(line: str) -> tuple[str, str] | None:
    """Split off a host name or options field (quotes may hold blanks), as ssh-keygen -l."""
    quoted = False
    i = 0
    while i < len(line) and (quoted or line[i] not in " \t"):
        if line[i] == "\\" and line[i + 1 : i + 2] == '"':
            i += 1
        elif line[i] == '"':
            quoted = not quoted
        i += 1
    if i >= len(line):
        return None
    return line[:i], line[i + 1 :]


def _key_lines(text: str) -> Iterator[tuple[int, PublicKey, str | None]]:
    """Keys of a public key, authorized_keys or known_hosts file: (line, key, comment)."""
    for number, raw in enumerate(split_lines(text), 1):
        line = raw.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        comment: str | None = None
        found = _read_key(line)
        if found is None:
            split = _skip_first_field(line)
            if split is None:
                continue
            comment, rest = split
            found = _read_key(rest)
            if found is None:
                continue
        key, rest = found
        rest = rest.lstrip(" \t")
        if rest and not rest.startswith("#"):
            comment = rest
        yield number, key, comment


def _randomart(key: PublicKey, hash_name: str) -> str:
    """ssh-keygen's picture: a certificate draws its key's walk under its own type name."""
    plain = key.key if isinstance(key, Certificate) else key
    lines = randomart(plain, hash_name).split("\n")
    title = f"[{key.key_type_label} {key.bits}]"
    if len(title) > _RANDOMART_WIDTH:
        title = f"[{key.key_type_label}]"
    title = title[: _RANDOMART_WIDTH - 1]  # ssh-keygen's buffer holds 16 characters
    left = (_RANDOMART_WIDTH - len(title)) // 2
    lines[0] = "+" + "-" * left + title + "-" * (_RANDOMART_WIDTH - left - len(title)) + "+"
    return "\n".join(lines)


def _fingerprint_line(key: PublicKey, comment: str | None, args: argparse.Namespace) -> str:
    line = f"{key.bits} {key.fingerprint(args.hash)} "
    line += f"{comment if comment is not None else 'no comment'} ({key.key_type_label})\n"
    if args.verbose:
        line += _randomart(key, args.hash) + "\n"
    return line


# -- fingerprint --------------------------------------------------------------------------


def _pub_file_key(path: str) -> tuple[PublicKey, str] | None:
    """The first key of ``path`` if it exists, with its comment (or else the file name)."""
    try:
        text = _read_text(path)
    except OSError:
        return None
    for raw in split_lines(text):
        if raw[:1] in ("", "#"):
            continue
        if raw.startswith("-----BEGIN"):
            return None  # a private key, not a .pub file
        found = _read_key(raw.lstrip(" \t"))
        if found is not None:
            key, rest = found
            comment = rest.lstrip(" \t").split("\r", 1)[0]
            return key, comment or path
    return None


def _fingerprint_private(path: str, text: str, args: argparse.Namespace) -> str:
    """ssh-keygen's order: PATH.pub, else the private file (its comment if it opens)."""
    key: PublicKey | None = None
    comment: str | None = None
    found = _pub_file_key(path + ".pub")
    if found is not None:
        key, comment = found
    elif OPENSSH_BEGIN in text:
        with contextlib.suppress(SSHError, ValueError):
            key = openssh_private_key_public(text)
    elif text.lstrip().startswith(_PPK_MAGIC):
        # PuTTY keeps the public key and comment in clear, encrypted file or not.
        with contextlib.suppress(SSHError, ValueError):
            found_line = ppk_public_key(text)
            key, comment = found_line.key, found_line.comment or None
    if key is None or not comment:
        try:
            private = load_private_key(text)
        except PassphraseRequired:
            if key is None:
                # ssh-keygen gives up here; we can ask, since the public half is sealed.
                private, _ = _load_private(path, args)
                key = private.public_key
                comment = private.comment if OPENSSH_BEGIN in text else None
        except (SSHError, ValueError) as exc:
            if key is None:
                raise CommandError(f"{path} is not a key file ({exc})") from None
        else:
            if key is None:
                key = private.public_key
            if OPENSSH_BEGIN in text:
                comment = private.comment
            elif text.lstrip().startswith(_PPK_MAGIC):
                comment = private.comment or None
    return _fingerprint_line(key, comment, args)


def cmd_fingerprint(args: argparse.Namespace) -> int:
    path = args.path
    text = _read_text(path)
    if path != "-":
        for raw in split_lines(text):
            first = raw.lstrip(" \t")
            if first and not first.startswith("#"):
                if _looks_private(first):
                    _out(_fingerprint_private(path, text, args))
                    return 0
                break
    out = [_fingerprint_line(key, comment, args) for _, key, comment in _key_lines(text)]
    if not out and ("---- BEGIN SSH2 PUBLIC KEY ----" in text or "-----BEGIN" in text):
        # RFC 4716 and PEM public keys: ssh-keygen -l does not read them, we do.
        loaded = load_public_key(text)
        out = [_fingerprint_line(loaded.key, loaded.comment or None, args)]
    if not out:
        raise CommandError(f"{_display_name(path)} is not a public key file.")
    _out("".join(out))
    return 0


# -- public / convert ---------------------------------------------------------------------


def cmd_public(args: argparse.Namespace) -> int:
    path = args.path
    text = _read_text(path)
    if not _looks_private(text):
        # Already public: print it as an OpenSSH line (ssh-keygen -y wants a private key).
        loaded = load_public_key(text)
        _out(loaded.key.to_line(loaded.comment) + "\n")
        return 0
    key, _ = _load_private(path, args)
    _out(key.public_key.to_line(key.comment) + "\n")
    return 0


def _public_output(key: PublicKey, comment: str, fmt: str) -> bytes:
    if fmt == "openssh":
        return (key.to_line(comment) + "\n").encode("utf-8")
    if fmt == "rfc4716":
        return encode_rfc4716_public_key(key, comment or None).encode("utf-8")
    if fmt == "pem":
        # As ssh-keygen -e -m PEM: PKCS#1 for RSA, SubjectPublicKeyInfo otherwise.
        return encode_pem_public_key(
            key, format="pkcs1" if isinstance(key, RSAPublicKey) else "spki"
        )
    if fmt == "pkcs8":
        return encode_pem_public_key(key, format="spki")
    raise UsageError("a PPK file holds a private key; convert the private key instead")


def _private_output(key: PrivateKey, fmt: str, passphrase: bytes | None) -> bytes:
    if fmt == "ppk":
        from .ppk import dump_ppk

        return dump_ppk(key, passphrase)
    return serialize_private_key(key, fmt, passphrase)


def _check_new_file(path: str, force: bool) -> None:
    if not force and os.path.lexists(path):
        raise CommandError(f"{path} already exists (use --force to overwrite)")


def _write_public_file(path: str, data: bytes) -> None:
    # Replace, never write through a symlink left at the target.
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(os.lstat(path).st_mode):
            os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)


def cmd_convert(args: argparse.Namespace) -> int:
    path, fmt = args.path, args.to
    text = _read_text(path)
    if _looks_private(text):
        key, passphrase = _load_private(path, args)
        if fmt == "rfc4716":
            data = _public_output(key.public_key, key.comment, fmt)
            secret = False
        else:
            if args.new_passphrase is not None or args.new_passphrase_file is not None:
                passphrase = _new_passphrase(args, path)
            data = _private_output(key, fmt, passphrase or None)
            secret = True
    else:
        loaded = load_public_key(text)
        data = _public_output(loaded.key, loaded.comment, fmt)
        secret = False
    if args.output is None:
        sys.stdout.write(data.decode("utf-8"))
        return 0
    _check_new_file(args.output, args.force)
    if secret:
        write_secret_file(args.output, data)
    else:
        _write_public_file(args.output, data)
    return 0


# -- generate -----------------------------------------------------------------------------


def _default_comment() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    host = os.uname().nodename if hasattr(os, "uname") else "localhost"
    return f"{user}@{host}"


def cmd_generate(args: argparse.Namespace) -> int:
    path = args.file
    pub_path = path + ".pub"
    for target in (path, pub_path):
        _check_new_file(target, args.force)
    comment = _default_comment() if args.comment is None else args.comment
    try:
        key = generate_private_key(args.type, args.bits, comment)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        print(f"Generating public/private {args.type} key pair.")
    passphrase = _new_passphrase(args, path)
    write_secret_file(path, _private_output(key, args.format, passphrase))
    _write_public_file(pub_path, (key.public_key.to_line(comment) + "\n").encode("utf-8"))
    if not args.quiet:
        public = key.public_key
        _out(
            f"Your identification has been saved in {path}\n"
            f"Your public key has been saved in {pub_path}\n"
            "The key fingerprint is:\n"
            f"{public.fingerprint()} {comment}\n"
            "The key's randomart image is:\n"
            f"{_randomart(public, 'sha256')}\n"
        )
    return 0


# -- certificates -------------------------------------------------------------------------


def _cert_lines(path: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(split_lines(_read_text(path)), 1):
        line = raw.lstrip(" \t")
        if line and not line.startswith("#"):
            yield number, line


def cmd_cert_inspect(args: argparse.Namespace) -> int:
    path = args.path
    name = _display_name(path)
    ok = False
    for number, line in _cert_lines(path):
        found = _read_key(line)
        if found is None:
            _error(f"{name}:{number}: invalid key")
            continue
        cert = found[0]
        if not isinstance(cert, Certificate):
            _error(f"{name}:{number} is not a certificate")
            continue
        label = path if number == 1 and path != "-" else f"{name}:{number}"
        _out(describe(cert, label))
        ok = True
    return 0 if ok else 1


_RELATIVE_RE = re.compile(r"(?:\d+[sSmMhHdDwW])*\d*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> int:
    """ssh's time format: ``1h30m``, ``2w``, ``90`` (seconds)."""
    if not text or _RELATIVE_RE.fullmatch(text) is None:
        raise UsageError(f"invalid time interval {text!r}")
    return sum(int(n) * _UNITS[u.lower()] for n, u in re.findall(r"(\d+)([a-zA-Z]?)", text))


def _time_point(text: str, now: int, special: str, special_value: int) -> int:
    if text[0] in "+-":
        delta = _duration(text[1:])
        return now + delta if text[0] == "+" else now - delta
    if text == special:
        return special_value
    if text.startswith("0x"):
        try:
            return int(text[2:], 16)
        except ValueError:
            raise UsageError(f"invalid time {text!r}") from None
    try:
        return _parse_time(text)
    except KeyFormatError:
        raise UsageError(f"invalid time {text!r}") from None


def parse_validity(spec: str, now: int) -> tuple[int, int]:
    """ssh-keygen -V: ``+52w``, ``-1d:+52w``, ``20240101:20250101``, ``always:forever``."""
    if spec.startswith("+") and ":" not in spec:
        # Backdated to the minute, as ssh-keygen does for clocks slightly behind.
        return max(0, (now - 59) // 60 * 60), now + _duration(spec[1:])
    start, sep, end = spec.partition(":")
    if not sep or not start or not end:
        raise UsageError(f"invalid certificate validity {spec!r}")
    after = _time_point(start, now, "always", 0)
    before = _time_point(end, now, "forever", FOREVER)
    if not 0 <= after < before <= FOREVER:
        raise UsageError("empty certificate validity interval")
    return after, before


_FLAG_NAMES = ("agent-forwarding", "port-forwarding", "pty", "user-rc", "X11-forwarding")


def _cert_options(
    options: Sequence[str], cert_type: CertType
) -> tuple[dict[str, str], dict[str, str]]:
    """ssh-keygen -O certificate options: (critical options, extensions)."""
    default = DEFAULT_USER_EXTENSIONS if cert_type == CertType.USER else ()
    extensions: dict[str, str] = dict.fromkeys(default, "")
    critical: dict[str, str] = {}
    for option in options:
        name, eq, value = option.partition("=")
        lower = name.lower()
        flag = next(
            (f for f in _FLAG_NAMES if lower in (f"no-{f.lower()}", f"permit-{f.lower()}")), None
        )
        if lower == "clear" and not eq:
            # ssh-keygen's "clear" drops every flag it knows, not custom extensions.
            for known in (*DEFAULT_USER_EXTENSIONS, "no-touch-required"):
                extensions.pop(known, None)
            critical.pop("verify-required", None)
        elif flag is not None and not eq:
            if lower.startswith("no-"):
                extensions.pop(f"permit-{flag}", None)
            else:
                extensions[f"permit-{flag}"] = ""
        elif lower in ("force-command", "source-address") and eq and value:
            critical[lower] = value
        elif lower == "verify-required" and not eq:
            critical[lower] = ""
        elif lower == "no-touch-required" and not eq:
            extensions[lower] = ""
        elif lower.startswith(("critical:", "extension:")):
            kind, _, custom = name.partition(":")
            if not custom:
                raise UsageError(f"invalid certificate option {option!r}")
            (critical if kind.lower() == "critical" else extensions)[custom] = value
        else:
            raise UsageError(f"unsupported certificate option {option!r}")
    return critical, extensions


def _cert_path(path: str) -> str:
    return path.removesuffix(".pub") + "-cert.pub"


def _now() -> int:
    return int(datetime.now(timezone.utc).timestamp())


def cmd_cert_sign(args: argparse.Namespace) -> int:
    cert_type = CertType.HOST if args.host else CertType.USER
    after, before = (0, FOREVER) if args.validity is None else parse_validity(args.validity, _now())
    critical, extensions = _cert_options(args.options, cert_type)
    principals = args.principals.split(",") if args.principals else []
    if any(not p for p in principals):
        raise UsageError("empty principal name")
    ca, _ = _load_private(args.ca, args)
    for path in args.paths:
        loaded = load_public_key(_read_text(path))
        if isinstance(loaded.key, Certificate):
            raise CommandError(f"{path} is already a certificate")
        cert = sign_certificate(
            ca,
            loaded.key,
            cert_type=cert_type,
            key_id=args.identity,
            principals=principals,
            valid_after=after,
            valid_before=before,
            critical_options=critical,
            extensions=extensions,
            serial=args.serial,
        )
        out = _cert_path(path)
        _write_public_file(out, (cert.to_line(loaded.comment or path) + "\n").encode("utf-8"))
        kind = "host" if cert_type == CertType.HOST else "user"
        who = f" for {','.join(principals)}" if principals else ""
        print(
            f'Signed {kind} key {out}: id "{args.identity}" serial {args.serial}{who} '
            f"valid {_format_validity(cert)}",
            file=sys.stderr,
        )
    return 0


# -- SSHSIG -------------------------------------------------------------------------------


def _hash_option(options: Sequence[str]) -> str:
    hash_name = "sha512"
    for option in options:
        name, _, value = option.partition("=")
        if name.lower() == "hashalg" and value in ("sha256", "sha512"):
            hash_name = value
        else:
            raise UsageError(f"unsupported signing option {option!r}")
    return hash_name


def cmd_sign(args: argparse.Namespace) -> int:
    hash_name = _hash_option(args.options)
    key, _ = _load_private(args.key, args)
    if not args.files:
        print("Signing data on standard input", file=sys.stderr)
        _out(sshsig_sign(sys.stdin.buffer, key, args.namespace, hash_name))
        return 0
    for path in args.files:
        sig_path = path + ".sig"
        _check_new_file(sig_path, args.force)
        print(f"Signing file {path}", file=sys.stderr)
        with open(path, "rb") as data:
            armored = sshsig_sign(data, key, args.namespace, hash_name)
        _write_public_file(sig_path, armored.encode("ascii"))
        print(f"Write signature to {sig_path}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        signature = parse_signature(_read_bytes(args.signature))
        signers = AllowedSigners.from_text(_read_text(args.allowed_signers))
        data: BinaryIO
        with contextlib.ExitStack() as stack:
            if args.data is None:
                data = sys.stdin.buffer
            else:
                data = stack.enter_context(open(args.data, "rb"))
            key = signers.verify(data, signature, args.namespace, args.identity)
    except (SignatureInvalid, KeyFormatError) as exc:
        print("Could not verify signature.")
        raise CommandError(str(exc)) from None
    print(
        f'Good "{args.namespace}" signature for {args.identity} with '
        f"{key.key_type_label} key {key.fingerprint()}"
    )
    return 0


# -- known_hosts --------------------------------------------------------------------------


def _default_known_hosts() -> str:
    return os.path.join(os.path.expanduser("~"), ".ssh", "known_hosts")


def _hashed_lines(entry: KnownHostsEntry) -> list[str] | None:
    """ssh-keygen -H's rewrite of a line: one hashed line per host name, or None to keep it."""
    wild = any(c in entry.hosts for c in "*?!")
    if entry.hosts.startswith(HASH_MAGIC) or wild or entry.marker is not Marker.NONE:
        return None
    _, rest = split_field(entry.line.lstrip(" \t"))
    lines = []
    for name in entry.hosts.split(","):
        if not name:
            break
        lines.append(f"{hash_host(name.lower())} {rest}")
    return lines


def cmd_known_hosts_find(args: argparse.Namespace) -> int:
    path = args.file or _default_known_hosts()
    known = KnownHosts.load(path, missing_ok=False)
    found = known.find(args.host)
    labels = {Marker.NONE: "", Marker.CERT_AUTHORITY: "CA", Marker.REVOKED: "REVOKED"}
    out = []
    for entry in found:
        out.append(f"# Host {args.host} found: line {entry.line_number} {labels[entry.marker]}")
        hashed = _hashed_lines(entry) if args.hash else None
        out += hashed if hashed is not None else [entry.line]
    _out("".join(f"{line}\n" for line in out))
    return 0 if found else 1


def cmd_known_hosts_hash(args: argparse.Namespace) -> int:
    path = args.file or _default_known_hosts()
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    known = KnownHosts(text)
    if known.warnings:
        for warning in known.warnings:
            _error(f"{path}:{warning.line_number}: {warning.reason}")
        raise CommandError(
            f"{path} is not a valid known_hosts file; not replacing it because of errors"
        )
    by_line = {entry.line_number: entry for entry in known.entries}
    out: list[str] = []
    hashed_any = False
    for number, raw in enumerate(split_lines(text), 1):
        entry = by_line.get(number)
        hashed = _hashed_lines(entry) if entry is not None else None
        if hashed is None:
            if entry is not None and any(c in entry.hosts for c in "*?!"):
                _error(f"{path}:{number}: ignoring host name with wildcard: {entry.hosts[:64]}")
            out.append(raw)
        else:
            out += hashed
            hashed_any = True
    _replace_keeping_old(path, "".join(f"{line}\n" for line in out))
    print(f"{path} updated.", file=sys.stderr)
    print(f"Original contents retained as {path}.old", file=sys.stderr)
    if hashed_any:
        print(f"WARNING: {path}.old contains unhashed entries", file=sys.stderr)
        print("Delete this file to ensure privacy of hostnames", file=sys.stderr)
    return 0


def _replace_keeping_old(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (same mode), keeping the original as PATH.old."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text.encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        old = path + ".old"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old)
        os.link(path, old)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- the parser ---------------------------------------------------------------------------


def _add_passphrase_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-P", dest="passphrase", metavar="PASSPHRASE", help="key passphrase")
    group.add_argument(
        "--passphrase-file", metavar="FILE", help="read the key passphrase from FILE's first line"
    )


def _add_new_passphrase_options(parser: argparse.ArgumentParser, old_too: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-N", dest="new_passphrase", metavar="PASSPHRASE", help="new passphrase ('' for none)"
    )
    group.add_argument(
        "--new-passphrase-file" if old_too else "--passphrase-file",
        dest="new_passphrase_file",
        metavar="FILE",
        help="read the new passphrase from FILE's first line",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SSH keys: generate, fingerprint, convert, certificates, signatures, "
        "known_hosts. Output matches ssh-keygen where the two overlap.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("generate", help="generate a key pair (ssh-keygen -t)")
    p.add_argument("-t", dest="type", choices=_KEY_TYPES, default="ed25519")
    p.add_argument("-b", dest="bits", type=int, help="key size (ecdsa 256/384/521, rsa, dsa 1024)")
    p.add_argument("-C", dest="comment", help="comment (default user@host)")
    p.add_argument("-f", dest="file", required=True, metavar="PATH", help="writes PATH, PATH.pub")
    p.add_argument("--format", choices=_PRIVATE_FORMATS, default="openssh")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("-q", dest="quiet", action="store_true", help="print nothing")
    _add_new_passphrase_options(p, old_too=False)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("fingerprint", help="key fingerprints (ssh-keygen -l)")
    p.add_argument("-E", dest="hash", choices=("sha256", "md5"), default="sha256")
    p.add_argument("-v", dest="verbose", action="store_true", help="draw the randomart too")
    p.add_argument("path", metavar="PATH", help="key, .pub, authorized_keys or known_hosts")
    _add_passphrase_options(p)
    p.set_defaults(func=cmd_fingerprint)

    p = sub.add_parser("public", help="print the public key of a private key (ssh-keygen -y)")
    p.add_argument("path", metavar="PATH")
    _add_passphrase_options(p)
    p.set_defaults(func=cmd_public)

    p = sub.add_parser("convert", help="convert a private or public key between formats")
    p.add_argument("--to", required=True, choices=_CONVERT_FORMATS)
    p.add_argument("-o", dest="output", metavar="FILE", help="write here (default stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE")
    p.add_argument("path", metavar="PATH")
    _add_passphrase_options(p)
    _add_new_passphrase_options(p, old_too=True)
    p.set_defaults(func=cmd_convert)

    cert = sub.add_parser("cert", help="OpenSSH certificates").add_subparsers(
        dest="cert_command", metavar="COMMAND", required=True
    )
    p = cert.add_parser("inspect", help="describe certificates (ssh-keygen -L)")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=cmd_cert_inspect)
    p = cert.add_parser(
        "sign", help="certify public keys (ssh-keygen -s); writes PATH-cert.pub", add_help=False
    )
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("-s", dest="ca", required=True, metavar="CA", help="CA private key")
    p.add_argument("-I", dest="identity", required=True, metavar="KEY_ID")
    p.add_argument("-n", dest="principals", metavar="PRINCIPALS", help="comma-separated")
    p.add_argument("-V", dest="validity", metavar="INTERVAL", help="e.g. +52w, -1d:+4w")
    p.add_argument("-h", dest="host", action="store_true", help="host certificate")
    p.add_argument("-O", dest="options", action="append", default=[], metavar="OPTION")
    p.add_argument("-z", dest="serial", type=int, default=0, metavar="SERIAL")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_passphrase_options(p)
    p.set_defaults(func=cmd_cert_sign)

    p = sub.add_parser("sign", help="SSHSIG signatures (ssh-keygen -Y sign)")
    p.add_argument("-f", dest="key", required=True, metavar="KEY")
    p.add_argument("-n", dest="namespace", required=True, metavar="NAMESPACE")
    p.add_argument("-O", dest="options", action="append", default=[], metavar="hashalg=ALG")
    p.add_argument("--force", action="store_true", help="overwrite FILE.sig")
    p.add_argument("files", nargs="*", metavar="FILE", help="writes FILE.sig (none: stdin)")
    _add_passphrase_options(p)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify", help="check an SSHSIG signature (ssh-keygen -Y verify)")
    p.add_argument("-f", dest="allowed_signers", required=True, metavar="ALLOWED_SIGNERS")
    p.add_argument("-I", dest="identity", required=True, metavar="IDENTITY")
    p.add_argument("-n", dest="namespace", required=True, metavar="NAMESPACE")
    p.add_argument("-s", dest="signature", required=True, metavar="SIGNATURE_FILE")
    p.add_argument("data", nargs="?", metavar="FILE", help="signed data (default stdin)")
    p.set_defaults(func=cmd_verify)

    known = sub.add_parser("known-hosts", help="known_hosts files").add_subparsers(
        dest="known_hosts_command", metavar="COMMAND", required=True
    )
    p = known.add_parser("find", help="lines for a host (ssh-keygen -F)")
    p.add_argument("host", metavar="HOST", help="host or [host]:port")
    p.add_argument("-f", dest="file", metavar="FILE", help="default ~/.ssh/known_hosts")
    p.add_argument("-H", dest="hash", action="store_true", help="print hashed lines")
    p.set_defaults(func=cmd_known_hosts_find)
    p = known.add_parser("hash", help="hash host names in place (ssh-keygen -H)")
    p.add_argument("-f", dest="file", metavar="FILE", help="default ~/.ssh/known_hosts")
    p.set_defaults(func=cmd_known_hosts_hash)
    return parser


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


# Options whose values may start with "-" (ssh-keygen's "-V -1d:+52w", a passphrase "-x").
_DASH_VALUE_OPTIONS = frozenset({"-V", "-N", "-P", "-C", "-I"})


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    """argparse takes "-1d:+52w" for an option; pass such values as "-V=-1d:+52w"."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        if arg in _DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1][:1] == "-":
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 failure, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 0
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CommandError as exc:
        _error(exc.message)
        return exc.code
    except (SSHError, ValueError) as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        _error(_os_message(exc))
        return 1
    except KeyboardInterrupt:
        return 130
