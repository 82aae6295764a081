"""SSH signatures of files and data (PROTOCOL.sshsig), as ``ssh-keygen -Y sign/verify``
makes and checks them, and ``allowed_signers`` files (ssh-keygen(1) "ALLOWED SIGNERS")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO

from ssh_wire import DecodeError, Reader, Writer

from .certificate import Certificate, CertType, as_certificate
from .errors import CertificateInvalid, KeyFormatError, SignatureInvalid, UnsupportedAlgorithm
from .patterns import PatternMatch, match_pattern_list
from .public import (
    PublicKey,
    PublicKeyLine,
    as_public_key,
    parse_public_key_blob,
    parse_public_key_line,
    split_signature,
)
from .signer import Signer

__all__ = [
    "SSHSignature",
    "sign",
    "verify",
    "parse_signature",
    "AllowedSigner",
    "AllowedSigners",
    "SSHSIG_HASHES",
]

_MAGIC = b"SSHSIG"
_VERSION = 1
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_LINE = 70  # ssh-keygen's armour line width
_MAX_ARMOUR = 1 << 20

#: Hash algorithms the format allows.
SSHSIG_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}

Data = bytes | bytearray | memoryview | BinaryIO


def _digest(data: Data, hash_name: str) -> bytes:
    h = SSHSIG_HASHES[hash_name]()
    if isinstance(data, bytes | bytearray | memoryview):
        h.update(data)
    else:
        while chunk := data.read(1 << 16):
            h.update(chunk)
    return h.digest()


def _signed_data(namespace: str, reserved: bytes, hash_name: str, digest: bytes) -> bytes:
    return (
        Writer()
        .raw(_MAGIC)
        .text(namespace)
        .string(reserved)
        .string(hash_name.encode())
        .string(digest)
        .getvalue()
    )


@dataclass(frozen=True)
class SSHSignature:
    """A decoded SSHSIG blob."""

    public_key: PublicKey
    namespace: str
    reserved: bytes
    hash_algorithm: str
    signature: bytes

    @property
    def signature_algorithm(self) -> str:
        return split_signature(self.signature)[0]

    def encode(self) -> bytes:
        return (
            Writer()
            .raw(_MAGIC)
            .uint32(_VERSION)
            .string(self.public_key.blob)
            .text(self.namespace)
            .string(self.reserved)
            .string(self.hash_algorithm.encode())
            .string(self.signature)
            .getvalue()
        )

    def armor(self) -> str:
        b64 = base64.b64encode(self.encode()).decode("ascii")
        lines = [b64[i : i + _LINE] for i in range(0, len(b64), _LINE)]
        return "\n".join([_BEGIN, *lines, _END]) + "\n"

    @classmethod
    def decode(cls, blob: bytes) -> SSHSignature:
        r = Reader(blob)
        try:
            if r.raw(6, "magic") != _MAGIC:
                raise SignatureInvalid("not an SSH signature (bad magic)")
            version = r.uint32("version")
            if version != _VERSION:
                raise SignatureInvalid(f"unsupported SSH signature version {version}")
            key_blob = r.string("public key")
            namespace = r.text("namespace", max_length=1024)
            reserved = r.string("reserved")
            hash_name = r.ascii("hash algorithm", max_length=64)
            signature = r.string("signature")
            r.expect_end("SSH signature")
        except DecodeError as exc:
            raise SignatureInvalid(f"malformed SSH signature: {exc}") from None
        try:
            key = parse_public_key_blob(key_blob)
        except KeyFormatError as exc:
            raise SignatureInvalid(f"SSH signature carries a bad public key: {exc}") from None
        return cls(key, namespace, reserved, hash_name, signature)


def parse_signature(armored: str | bytes) -> SSHSignature:
    """Decode an armoured ``-----BEGIN SSH SIGNATURE-----`` block."""
    if isinstance(armored, bytes | bytearray):
        if len(armored) > _MAX_ARMOUR:
            raise SignatureInvalid("SSH signature too large")
        try:
            armored = bytes(armored).decode("ascii")
        except UnicodeDecodeError:
            raise SignatureInvalid("SSH signature armour is not ASCII") from None
    if len(armored) > _MAX_ARMOUR:
        raise SignatureInvalid("SSH signature too large")
    text = armored.strip()
    if not text.startswith(_BEGIN) or not text.endswith(_END):
        raise SignatureInvalid("missing SSH SIGNATURE header or footer")
    body = text[len(_BEGIN) : len(text) - len(_END)]
    if not body.startswith(("\n", "\r\n")) or not body.endswith("\n"):
        raise SignatureInvalid("SSH signature header and footer must be on lines of their own")
    b64 = "".join(body.split())
    try:
        blob = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SignatureInvalid("SSH signature has invalid base64") from None
    return SSHSignature.decode(blob)


def sign(
    data: Data,
    signer: Signer,
    namespace: str,
    hash: str = "sha512",
    *,
    certificate: Certificate | PublicKeyLine | None = None,
    signature_algorithm: str | None = None,
) -> str:
    """Sign ``data`` (bytes or a binary file) like ``ssh-keygen -Y sign``; return the armour.

    With ``certificate`` (a certificate for the signer's key) the signature carries the
    certificate, for verifiers that trust its CA (``cert-authority`` allowed signers).
    """
    if not namespace:
        raise ValueError("the namespace must not be empty")
    if hash not in SSHSIG_HASHES:
        raise ValueError(f"hash must be sha256 or sha512, not {hash!r}")
    public = signer.public_key
    if certificate is not None:
        certificate = as_certificate(certificate)
        if certificate.key != public:
            raise ValueError("the certificate is not for the signer's key")
        public = certificate
    if signature_algorithm is None:
        # RSA must use SHA-2 here (ssh-keygen picks rsa-sha2-512).
        rsa = "rsa-sha2-512" in signer.algorithms
        signature_algorithm = "rsa-sha2-512" if rsa else None
    elif signature_algorithm in ("ssh-rsa", "ssh-dss"):
        raise UnsupportedAlgorithm(f"{signature_algorithm} is not allowed in SSH signatures")
    message = _signed_data(namespace, b"", hash, _digest(data, hash))
    signature = signer.sign(message, signature_algorithm)
    return SSHSignature(public, namespace, b"", hash, signature).armor()


def verify(data: Data, armored: str | bytes | SSHSignature, namespace: str) -> PublicKey:
    """Check an armoured signature over ``data`` in ``namespace``; return the signing key.

    This proves only that the key in the signature signed the data (``ssh-keygen -Y
    check-novalidate``): the caller must decide whether it trusts that key, or use
    :meth:`AllowedSigners.verify`. Raises :class:`SignatureInvalid`.
    """
    sig = armored if isinstance(armored, SSHSignature) else parse_signature(armored)
    if not namespace:
        raise ValueError("the namespace must not be empty")
    if sig.namespace != namespace:
        raise SignatureInvalid(
            f"signature namespace {sig.namespace!r} does not match {namespace!r}"
        )
    if sig.hash_algorithm not in SSHSIG_HASHES:
        raise SignatureInvalid(f"unsupported SSH signature hash {sig.hash_algorithm!r}")
    algorithm = sig.signature_algorithm
    if algorithm in ("ssh-rsa", "ssh-dss"):
        raise SignatureInvalid(f"{algorithm} signatures are not allowed in SSH signatures")
    message = _signed_data(
        sig.namespace, sig.reserved, sig.hash_algorithm, _digest(data, sig.hash_algorithm)
    )
    sig.public_key.verify(message, sig.signature)
    return sig.public_key


# -- allowed signers ---------------------------------------------------------------------


_TIME_RE = re.compile(r"(\d{8})(\d{4}(\d{2})?)?(Z?)", re.ASCII)


def _parse_time(value: str) -> int:
    """``YYYYMMDD[Z]`` or ``YYYYMMDDHHMM[SS][Z]``: local time unless ``Z``."""
    m = _TIME_RE.fullmatch(value)
    if m is None:
        raise KeyFormatError(f"invalid timestamp {value!r}")
    digits = m.group(1) + (m.group(2) or "0000")
    if m.group(3) is None:
        digits += "00"
    try:
        when = datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise KeyFormatError(f"invalid timestamp {value!r}") from None
    if m.group(4):
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())  # naive: the local time zone, as ssh-keygen


def _token(line: str, pos: int) -> tuple[str, int]:
    """A whitespace-delimited token in which double-quoted parts may hold spaces."""
    start, quoted = pos, False
    while pos < len(line):
        c = line[pos]
        if c == '"':
            quoted = not quoted
        elif c in " \t" and not quoted:
            break
        pos += 1
    if quoted:
        raise KeyFormatError("unterminated quote")
    return line[start:pos], pos


def _skip_space(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _split_options(text: str) -> Iterator[tuple[str, str | None]]:
    """``name`` and ``name="value"`` items, comma-separated; commas may sit inside quotes."""
    items: list[str] = []
    start, quoted = 0, False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    for item in items:
        name, eq, value = item.partition("=")
        if not name or '"' in name:
            raise KeyFormatError(f"bad option {item!r}")
        if eq and value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise KeyFormatError(f"badly quoted option {item!r}")
            value = value[1:-1]
        if '"' in value:
            raise KeyFormatError(f"badly quoted option {item!r}")
        yield name.lower(), (value if eq else None)


@dataclass(frozen=True)
class AllowedSigner:
    """One ``allowed_signers`` line."""

    principals: str
    key: PublicKey
    cert_authority: bool = False
    namespaces: str | None = None
    valid_after: int | None = None
    valid_before: int | None = None
    line_number: int = 0

    @classmethod
    def parse(cls, line: str, line_number: int = 0) -> AllowedSigner | None:
        """Parse a line; None for blank and comment lines."""
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        try:
            return cls._parse(text, line_number)
        except KeyFormatError as exc:
            where = f"line {line_number}: " if line_number else ""
            raise KeyFormatError(f"allowed signers {where}{exc}") from None

    @classmethod
    def _parse(cls, text: str, line_number: int) -> AllowedSigner:
        if text.startswith('"'):
            end = text.find('"', 1)
            if end < 0:
                raise KeyFormatError("unterminated quoted principals")
            principals, pos = text[1:end], end + 1
        else:
            principals, pos = _token(text, 0)
        if not principals:
            raise KeyFormatError("empty principals")
        pos = _skip_space(text, pos)
        rest = text[pos:]
        try:
            key = parse_public_key_line(rest).key
            options = ""
        except KeyFormatError:
            # Not a key: the options field comes first.
            options, pos = _token(text, pos)
            key = parse_public_key_line(text[_skip_space(text, pos) :]).key
        ca = False
        namespaces: str | None = None
        after: int | None = None
        before: int | None = None
        for name, value in _split_options(options) if options else ():
            if name == "cert-authority" and value is None:
                ca = True
            elif name == "namespaces" and value is not None and namespaces is None:
                namespaces = value
            elif name == "valid-after" and value is not None and after is None:
                after = _parse_time(value)
            elif name == "valid-before" and value is not None and before is None:
                before = _parse_time(value)
            else:
                raise KeyFormatError(f"unsupported or repeated option {name!r}")
        return cls(principals, key, ca, namespaces, after, before, line_number)

    def matches_principal(self, principal: str) -> bool:
        return match_pattern_list(principal, self.principals, ignore_case=False) is (
            PatternMatch.POSITIVE
        )

    def _check_time(self, now: float) -> bool:
        if self.valid_after is not None and now < self.valid_after:
            return False
        return not (self.valid_before is not None and now > self.valid_before)

    def accepts(
        self, key: PublicKey | PublicKeyLine, principal: str, namespace: str | None, now: float
    ) -> bool:
        """Whether this line lets ``key`` sign as ``principal`` in ``namespace``."""
        key = as_public_key(key)
        if not self.matches_principal(principal) or not self._check_time(now):
            return False
        if (
            namespace is not None
            and self.namespaces is not None
            and match_pattern_list(namespace, self.namespaces, ignore_case=False)
            is not PatternMatch.POSITIVE
        ):
            return False
        if self.cert_authority:
            if not isinstance(key, Certificate) or key.signature_key != self.key:
                return False
            try:
                # As ssh-keygen: a user certificate that lists the principal, valid now. Unlike
                # ssh-keygen 9.2 (which ignores critical options here) unknown ones refuse.
                key.check(
                    now,
                    principal,
                    CertType.USER,
                    require_principal=True,
                    check_source_address=False,
                )
            except CertificateInvalid:
                return False
            return True
        plain = key.key if isinstance(key, Certificate) else key
        return plain == self.key


def _now(now: float | datetime | None) -> float:
    if now is None:
        return datetime.now(timezone.utc).timestamp()
    return now.timestamp() if isinstance(now, datetime) else float(now)


class AllowedSigners:
    """An ``allowed_signers`` file: who may sign, with which keys, in which namespaces."""

    def __init__(self, entries: list[AllowedSigner]) -> None:
        self.entries = entries

    @classmethod
    def from_text(cls, text: str) -> AllowedSigners:
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            entry = AllowedSigner.parse(line, number)
            if entry is not None:
                entries.append(entry)
        return cls(entries)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AllowedSigners:
        with open(path, encoding="utf-8") as f:
            return cls.from_text(f.read())

    def find_principals(
        self, key: PublicKey | PublicKeyLine, *, now: float | datetime | None = None
    ) -> list[str]:
        """Principals ``key`` may sign as (``ssh-keygen -Y find-principals``).

        A plain key gives the principals field of each line holding it; a certificate gives,
        for each cert-authority line of its CA, its own principals that the line allows.
        """
        key = as_public_key(key)
        when = _now(now)
        found: list[str] = []
        for entry in self.entries:
            if not entry._check_time(when):
                continue
            if entry.cert_authority:
                if not isinstance(key, Certificate) or key.signature_key != entry.key:
                    continue
                for principal in key.valid_principals:
                    if entry.accepts(key, principal, None, when) and principal not in found:
                        found.append(principal)
            else:
                plain = key.key if isinstance(key, Certificate) else key
                if plain == entry.key and entry.principals not in found:
                    found.append(entry.principals)
        return found

    def verify(
        self,
        data: Data,
        signature: str | bytes | SSHSignature,
        namespace: str,
        principal: str,
        *,
        now: float | datetime | None = None,
    ) -> PublicKey:
        """``ssh-keygen -Y verify``: the signature is good and an allowed signer made it.

        ``now`` defaults to the current time (for validity options and certificates).
        Returns the signing key; raises :class:`SignatureInvalid`.
        """
        sig = signature if isinstance(signature, SSHSignature) else parse_signature(signature)
        key = verify(data, sig, namespace)
        when = _now(now)
        if not any(e.accepts(key, principal, namespace, when) for e in self.entries):
            raise SignatureInvalid(
                f"{key.key_type_label} key {key.fingerprint()} is not an allowed signer "
                f"for {principal!r} in namespace {namespace!r}"
            )
        return key
