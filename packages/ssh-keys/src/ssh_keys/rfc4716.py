"""RFC 4716 ("SSH2", SECSH) public key files, as ``ssh-keygen -e`` writes and ``-i`` reads.

    ---- BEGIN SSH2 PUBLIC KEY ----
    Comment: "256-bit ED25519, converted by me@host from OpenSSH"
    AAAAC3NzaC1lZDI1NTE5AAAAI...
    ---- END SSH2 PUBLIC KEY ----

Header lines are ``Tag: value``; a line ending in a backslash continues on
the next. Lines are at most 72 bytes (we write them so; we read longer ones),
tags at most 64, values at most 1024 (RFC 4716 3.3, 3.3.1); unknown tags are
kept but otherwise ignored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from .errors import KeyFormatError
from .public import PublicKey, parse_public_key_blob

__all__ = [
    "RFC4716_BEGIN",
    "RFC4716_END",
    "RFC4716PublicKey",
    "decode_rfc4716_public_key",
    "encode_rfc4716_public_key",
]

RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
RFC4716_END = "---- END SSH2 PUBLIC KEY ----"
_MAX_LINE = 72
# Reading is lenient: ssh-keygen -e does not wrap its Comment header, which
# passes 72 bytes with a long user@host.
_MAX_READ_LINE = 4096
_MAX_TAG = 64
_MAX_VALUE = 1024
_MAX_SIZE = 1024 * 1024
_MAX_HEADERS = 256
_BODY_WIDTH = 70  # as ssh-keygen


@dataclass(frozen=True)
class RFC4716PublicKey:
    """A decoded RFC 4716 file: the key and its headers in file order."""

    key: PublicKey
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def comment(self) -> str:
        """The ``Comment`` header without its surrounding quotes, or ``""``."""
        for tag, value in self.headers:
            if tag.lower() == "comment":
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    return value[1:-1]
                return value
        return ""


def _lines(data: bytes | str) -> list[str]:
    if len(data) > _MAX_SIZE:
        raise KeyFormatError("RFC 4716 data is larger than 1 MiB")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFormatError("RFC 4716 file is not UTF-8 text") from None
    else:
        text = data
    # Any of CR, LF or CRLF ends a line (RFC 4716 3.1).
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def decode_rfc4716_public_key(data: bytes | str) -> RFC4716PublicKey:
    """Parse the first RFC 4716 public key in ``data``."""
    lines = _lines(data)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == RFC4716_BEGIN)
    except StopIteration:
        raise KeyFormatError("no '---- BEGIN SSH2 PUBLIC KEY ----' line") from None
    headers: list[tuple[str, str]] = []
    body: list[str] = []
    i = start + 1
    in_headers = True
    while True:
        if i >= len(lines):
            raise KeyFormatError("RFC 4716 key has no END line")
        line = lines[i].rstrip(" \t")
        i += 1
        if line == RFC4716_END:
            break
        if len(line) > _MAX_READ_LINE:
            raise KeyFormatError(f"RFC 4716 line {i} is longer than {_MAX_READ_LINE} characters")
        if in_headers and ":" in line:
            # A header, possibly continued over lines ending in a backslash.
            full = line
            while full.endswith("\\"):
                if i >= len(lines) or len(full) > _MAX_TAG + _MAX_VALUE + 2:
                    raise KeyFormatError("RFC 4716 header continuation runs away")
                full = full[:-1] + lines[i].rstrip(" \t")
                i += 1
            tag, _, value = full.partition(":")
            value = value.strip()
            if not tag or len(tag) > _MAX_TAG or " " in tag or not tag.isascii():
                raise KeyFormatError(f"invalid RFC 4716 header tag {tag[:70]!r}")
            if len(value.encode("utf-8")) > _MAX_VALUE:
                raise KeyFormatError("RFC 4716 header value is longer than 1024 bytes")
            if len(headers) >= _MAX_HEADERS:
                raise KeyFormatError("too many RFC 4716 headers")
            headers.append((tag, value))
            continue
        in_headers = False
        body.append(line.strip())
    try:
        blob = base64.b64decode("".join(body).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFormatError("RFC 4716 key has invalid base64") from None
    if not blob:
        raise KeyFormatError("RFC 4716 key has no key data")
    return RFC4716PublicKey(parse_public_key_blob(blob), tuple(headers))


def _header_lines(tag: str, value: str) -> list[str]:
    if not tag or len(tag) > _MAX_TAG or not tag.isascii() or any(c in tag for c in ": \r\n"):
        raise ValueError(f"invalid RFC 4716 header tag {tag!r}")
    if "\n" in value or "\r" in value or len(value.encode("utf-8")) > _MAX_VALUE:
        raise ValueError("RFC 4716 header values are one line of at most 1024 bytes")
    full = f"{tag}: {value}"
    out: list[str] = []
    # Split into pieces of at most 71 bytes, each but the last followed by "\".
    while len(full.encode("utf-8")) > _MAX_LINE:
        cut = _MAX_LINE - 1
        while len(full[:cut].encode("utf-8")) > _MAX_LINE - 1:
            cut -= 1
        out.append(full[:cut] + "\\")
        full = full[cut:]
    out.append(full)
    return out


def encode_rfc4716_public_key(
    key: PublicKey,
    comment: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> str:
    """An RFC 4716 file for ``key``; ``comment`` becomes a quoted ``Comment`` header."""
    lines = [RFC4716_BEGIN]
    if comment is not None:
        lines += _header_lines("Comment", f'"{comment}"')
    for tag, value in headers:
        lines += _header_lines(tag, value)
    b64 = base64.b64encode(key.blob).decode("ascii")
    lines += [b64[i : i + _BODY_WIDTH] for i in range(0, len(b64), _BODY_WIDTH)]
    lines.append(RFC4716_END)
    return "\n".join(lines) + "\n"
