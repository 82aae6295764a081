"""Key revocation: OpenSSH's binary KRLs (PROTOCOL.krl) and plain revoked-key files.

``sshd``'s ``RevokedKeys`` accepts either; :func:`load_revoked_keys` tells them apart by the
KRL magic as sshd does. A certificate is revoked when its serial or key ID is revoked for the
CA that signed it (or for any CA, by a section with an empty CA key), or when the certified
key itself is revoked explicitly or by SHA-1/SHA-256 fingerprint.

Parsing is bounded by the input: every list is read from bytes that are present, serial
bitmaps are kept as one integer rather than expanded, and every error is a
:class:`KRLFormatError` naming the byte offset (or, for plain files, the line).
"""

from __future__ import annotations

import enum
import hashlib
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ssh_wire import DecodeError, Reader, SSHError

from .certificate import Certificate
from .errors import KeyFormatError
from .public import PublicKey, parse_public_key_blob, parse_public_key_line

__all__ = [
    "KRL_MAGIC",
    "MAX_REVOCATION_FILE_SIZE",
    "KRLFormatError",
    "KRLSection",
    "KRLSignature",
    "CertificateRevocations",
    "RevocationList",
    "is_krl",
    "parse_krl",
    "parse_revoked_keys_text",
    "load_revoked_keys",
]

KRL_MAGIC = b"SSHKRL\n\0"
_FORMAT_VERSION = 1
#: Files larger than this are refused before being read whole (OpenSSH's own KRLs for
#: millions of serials stay far below it).
MAX_REVOCATION_FILE_SIZE = 64 << 20

_P = ParamSpec("_P")
_T = TypeVar("_T")

_SHA1_LEN = 20
_SHA256_LEN = 32


class KRLFormatError(KeyFormatError):
    """A malformed KRL or revoked-keys file; ``offset`` (bytes) or ``line`` says where."""

    def __init__(self, reason: str, *, offset: int | None = None, line: int | None = None):
        self.reason = reason
        self.offset = offset
        self.line = line
        where = f" at offset {offset}" if offset is not None else ""
        where += f" on line {line}" if line is not None else ""
        super().__init__(
            f"KRL{where}: {reason}" if line is None else f"revoked keys{where}: {reason}"
        )


class KRLSection(enum.IntEnum):
    CERTIFICATES = 1
    EXPLICIT_KEY = 2
    FINGERPRINT_SHA1 = 3
    SIGNATURE = 4
    FINGERPRINT_SHA256 = 5
    EXTENSION = 255


class _CertSection(enum.IntEnum):
    SERIAL_LIST = 0x20
    SERIAL_RANGE = 0x21
    SERIAL_BITMAP = 0x22
    KEY_ID = 0x23
    EXTENSION = 0x39


@dataclass
class CertificateRevocations:
    """What one certificates section revokes for one CA (``ca_key`` None: for every CA)."""

    ca_key: PublicKey | None
    serials: set[int] = field(default_factory=set)
    #: Serial list sections in ascending order (as ssh-keygen writes them), kept as their
    #: packed big-endian bytes and binary-searched: no per-serial objects for huge lists.
    sorted_serials: list[bytes] = field(default_factory=list)
    #: Inclusive (lowest, highest) serial ranges.
    ranges: list[tuple[int, int]] = field(default_factory=list)
    #: (offset, bitmap): bit N set revokes serial offset + N. Kept packed, never expanded.
    bitmaps: list[tuple[int, int]] = field(default_factory=list)
    key_ids: set[str] = field(default_factory=set)

    def revokes(self, certificate: Certificate) -> bool:
        if certificate.key_id in self.key_ids:
            return True
        serial = certificate.serial
        # Serial 0 is what a CA writes when it assigns none: OpenSSH never revokes it by serial.
        if serial == 0:
            return False
        if serial in self.serials or any(_in_packed(p, serial) for p in self.sorted_serials):
            return True
        if any(lo <= serial <= hi for lo, hi in self.ranges):
            return True
        return any(
            serial >= offset and (bitmap >> (serial - offset)) & 1
            for offset, bitmap in self.bitmaps
        )


@dataclass(frozen=True)
class KRLSignature:
    """A signature section: checked against the KRL bytes it covers when parsed."""

    key: PublicKey
    signature: bytes
    #: Offset of the section in the KRL (the signature covers everything before its end
    #: of ``signature_key``).
    offset: int


@dataclass
class RevocationList:
    """Revoked keys and certificates, from a KRL or a plain revoked-keys file."""

    version: int = 0
    generated_date: int = 0
    flags: int = 0
    comment: str = ""
    certificates: list[CertificateRevocations] = field(default_factory=list)
    #: Plain key blobs revoked explicitly.
    keys: set[bytes] = field(default_factory=set)
    sha1: set[bytes] = field(default_factory=set)
    sha256: set[bytes] = field(default_factory=set)
    #: Signature sections, each already verified (an invalid one fails the parse).
    signatures: list[KRLSignature] = field(default_factory=list)
    #: True for plain revoked-keys files: as sshd, a listed CA key also revokes every
    #: certificate it signed.
    plain: bool = False

    def is_revoked(self, key: PublicKey, *, check_ca: bool | None = None) -> bool:
        """True if ``key`` (plain key or certificate) is revoked.

        ``check_ca`` also treats a certificate as revoked when its CA key is revoked as a
        key; it defaults to True for plain files (sshd's rule for them) and False for KRLs
        (``ssh-keygen -Q``'s rule; sshd checks the CA key separately in that case).
        """
        if check_ca is None:
            check_ca = self.plain
        plain = key.key if isinstance(key, Certificate) else key
        if self._key_revoked(plain.blob):
            return True
        if not isinstance(key, Certificate):
            return False
        if check_ca and self._key_revoked(key.signature_key.blob):
            return True
        ca_blob = key.signature_key.blob
        return any(
            (section.ca_key is None or section.ca_key.blob == ca_blob) and section.revokes(key)
            for section in self.certificates
        )

    def _key_revoked(self, blob: bytes) -> bool:
        return (
            blob in self.keys
            or (bool(self.sha1) and hashlib.sha1(blob, usedforsecurity=False).digest() in self.sha1)
            or (bool(self.sha256) and hashlib.sha256(blob).digest() in self.sha256)
        )


def _in_packed(packed: bytes, serial: int) -> bool:
    lo, hi = 0, len(packed) // 8
    while lo < hi:
        mid = (lo + hi) // 2
        value = int.from_bytes(packed[mid * 8 : mid * 8 + 8], "big")
        if value == serial:
            return True
        if value < serial:
            lo = mid + 1
        else:
            hi = mid
    return False


def is_krl(data: bytes) -> bool:
    """True if ``data`` starts with the KRL magic (what sshd checks to pick the format)."""
    return data[: len(KRL_MAGIC)] == KRL_MAGIC


class _Parser:
    """Reads one KRL; ``base`` offsets turn sub-reader positions into file offsets."""

    def __init__(self, data: bytes, *, allow_sha1: bool) -> None:
        self.data = data
        self.allow_sha1 = allow_sha1
        self.krl = RevocationList()

    def fail(self, reason: str, offset: int) -> KRLFormatError:
        return KRLFormatError(reason, offset=offset)

    def parse(self) -> RevocationList:
        r = Reader(self.data, max_string=len(self.data))
        self._wrap(0, self._header, r)
        while not r.at_end():
            start = r.offset
            kind = self._wrap(0, r.byte, "section type")
            if kind == KRLSection.SIGNATURE:
                self._signature(r, start)
                continue
            if self.krl.signatures:
                raise self.fail("only signature sections may follow a signature", start)
            body = self._wrap(0, r.string_view, "section data")
            base = r.offset - len(body)
            sub = Reader(body, max_string=len(body))
            if kind == KRLSection.CERTIFICATES:
                self._wrap(base, self._certificates, sub, base)
            elif kind == KRLSection.EXPLICIT_KEY:
                self._wrap(base, self._blobs, sub, base, self.krl.keys, None)
            elif kind == KRLSection.FINGERPRINT_SHA1:
                self._wrap(base, self._blobs, sub, base, self.krl.sha1, _SHA1_LEN)
            elif kind == KRLSection.FINGERPRINT_SHA256:
                self._wrap(base, self._blobs, sub, base, self.krl.sha256, _SHA256_LEN)
            elif kind == KRLSection.EXTENSION:
                self._wrap(base, self._extension, sub, base, "KRL")
            else:
                raise self.fail(f"unknown section type {kind}", start)
        return self.krl

    def _wrap(self, base: int, func: Callable[_P, _T], *args: _P.args, **kw: _P.kwargs) -> _T:
        """Call ``func``; a DecodeError becomes a KRLFormatError at the file offset."""
        try:
            return func(*args, **kw)
        except DecodeError as exc:
            reason = exc.reason if exc.field is None else f"{exc.field}: {exc.reason}"
            raise KRLFormatError(reason, offset=base + (exc.offset or 0)) from None

    def _header(self, r: Reader) -> None:
        if r.raw(len(KRL_MAGIC), "magic") != KRL_MAGIC:
            raise self.fail("bad magic (not a KRL)", 0)
        start = r.offset
        version = r.uint32("format version")
        if version != _FORMAT_VERSION:
            raise self.fail(f"unsupported format version {version}", start)
        self.krl.version = r.uint64("krl version")
        self.krl.generated_date = r.uint64("generated date")
        self.krl.flags = r.uint64("flags")
        r.string("reserved")
        self.krl.comment = bytes(r.string("comment")).decode("utf-8", "replace")

    def _certificates(self, r: Reader, base: int) -> None:
        start = r.offset
        ca_blob = r.string("CA key")
        ca_key: PublicKey | None = None
        if ca_blob:
            try:
                ca_key = parse_public_key_blob(ca_blob)
            except (SSHError, ValueError) as exc:
                raise self.fail(f"bad CA key: {exc}", base + start) from None
            if isinstance(ca_key, Certificate):
                raise self.fail("the CA key is a certificate", base + start)
        r.string("reserved")
        section = CertificateRevocations(ca_key)
        while not r.at_end():
            kind = r.byte("certificate section type")
            body = r.string_view("certificate section data")
            sub_base = base + r.offset - len(body)
            sub = Reader(body, max_string=len(body))
            self._wrap(sub_base, self._cert_subsection, sub, sub_base, kind, section)
        self.krl.certificates.append(section)

    def _cert_subsection(
        self, r: Reader, base: int, kind: int, section: CertificateRevocations
    ) -> None:
        if kind == _CertSection.SERIAL_LIST:
            if r.remaining % 8:
                raise self.fail("serial list length is not a multiple of 8", base)
            packed = r.raw(r.remaining, "serials")
            previous, ascending = 0, True
            for (value,) in struct.iter_unpack(">Q", packed):
                if value < previous:
                    ascending = False
                    break
                previous = value
            if ascending:
                section.sorted_serials.append(packed)
            else:
                section.serials.update(v for (v,) in struct.iter_unpack(">Q", packed))
        elif kind == _CertSection.SERIAL_RANGE:
            lo = r.uint64("lowest serial")
            hi = r.uint64("highest serial")
            if lo > hi:
                raise self.fail(f"serial range {lo}-{hi} is reversed", base)
            r.expect_end("serial range")
            section.ranges.append((lo, hi))
        elif kind == _CertSection.SERIAL_BITMAP:
            offset = r.uint64("serial offset")
            start = r.offset
            bitmap = r.mpint("serial bitmap", max_bits=8 * r.remaining)
            if bitmap < 0:
                raise self.fail("negative serial bitmap", base + start)
            r.expect_end("serial bitmap")
            section.bitmaps.append((offset, bitmap))
        elif kind == _CertSection.KEY_ID:
            if r.at_end():
                raise self.fail("empty key ID section", base)
            while not r.at_end():
                # Key IDs are C strings to OpenSSH: keep undecodable bytes rather than fail.
                section.key_ids.add(r.string("key ID").decode("utf-8", "surrogateescape"))
        elif kind == _CertSection.EXTENSION:
            self._extension(r, base, "certificate")
        else:
            raise self.fail(f"unknown certificate section type {kind:#x}", base)

    def _blobs(self, r: Reader, base: int, into: set[bytes], length: int | None) -> None:
        if r.at_end():
            raise self.fail("empty section", base)
        while not r.at_end():
            start = r.offset
            blob = r.string("key" if length is None else "fingerprint")
            if length is not None and len(blob) != length:
                raise self.fail(f"fingerprint of {len(blob)} bytes, not {length}", base + start)
            into.add(blob)

    def _extension(self, r: Reader, base: int, where: str) -> None:
        name = r.text("extension name")
        critical = r.boolean("extension critical")
        r.string("extension contents")
        r.expect_end("extension")
        # Bloom filters and other optional extensions only speed lookups up: skip them.
        if critical:
            raise self.fail(f"unsupported critical {where} extension {name!r}", base)

    def _signature(self, r: Reader, start: int) -> None:
        key_field = r.offset

        def read() -> tuple[bytes, bytes]:
            return r.string("signature key"), r.string("signature")

        key_blob, signature = self._wrap(0, read)
        signed = self.data[: key_field + 4 + len(key_blob)]
        try:
            key = parse_public_key_blob(key_blob)
        except (SSHError, ValueError) as exc:
            raise self.fail(f"bad signature key: {exc}", key_field) from None
        try:
            key.verify(signed, signature, allow_sha1=self.allow_sha1)
        except (SSHError, ValueError) as exc:
            raise self.fail(f"signature does not verify: {exc}", start) from None
        self.krl.signatures.append(KRLSignature(key, signature, start))


def parse_krl(
    data: bytes,
    *,
    trusted_signers: Iterable[PublicKey] | None = None,
    allow_sha1: bool = False,
) -> RevocationList:
    """Parse a binary KRL.

    Signature sections are verified over the bytes they cover; one that does not verify
    fails the parse. With ``trusted_signers``, at least one signature must be by one of
    those keys (OpenSSH 9.4+ refuses signed KRLs outright; older ones verified them).
    """
    krl = _Parser(bytes(data), allow_sha1=allow_sha1).parse()
    if trusted_signers is not None:
        trusted = {k.blob for k in trusted_signers}
        if not any(s.key.blob in trusted for s in krl.signatures):
            raise KRLFormatError("no signature by a trusted key", offset=len(data))
    return krl


def parse_revoked_keys_text(text: str) -> RevocationList:
    """A plain revoked-keys file: one public key per line, ``#`` comments and blank lines.

    A certificate line revokes its certified key; a line that does not parse is an error
    (sshd then treats every key as revoked, so we refuse rather than skip it).
    """
    krl = RevocationList(plain=True)
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        try:
            key = parse_public_key_line(stripped).key
        except (SSHError, ValueError) as exc:
            raise KRLFormatError(str(exc), line=number) from None
        if isinstance(key, Certificate):
            key = key.key
        krl.keys.add(key.blob)
    return krl


def _parse_any(data: bytes) -> RevocationList:
    if is_krl(data):
        return parse_krl(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KRLFormatError("neither a KRL nor UTF-8 text", offset=exc.start) from None
    return parse_revoked_keys_text(text)


def load_revoked_keys(path: str | os.PathLike[str]) -> RevocationList:
    """Load a ``RevokedKeys`` file, a KRL or a plain key list, as sshd would."""
    with open(path, "rb") as f:
        data = f.read(MAX_REVOCATION_FILE_SIZE + 1)
    if len(data) > MAX_REVOCATION_FILE_SIZE:
        raise KRLFormatError(
            f"file larger than {MAX_REVOCATION_FILE_SIZE} bytes", offset=MAX_REVOCATION_FILE_SIZE
        )
    return _parse_any(data)
