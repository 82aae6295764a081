"""Protocol version exchange (RFC 4253 4.2): sending our line, reading the peer's."""

from __future__ import annotations

import re

from ssh_wire import DisconnectError, DisconnectReason

__all__ = ["VersionReader", "ProtocolVersionError", "version_line", "MAX_LINE", "MAX_PRE_LINES"]

#: RFC 4253 4.2: the identification line is at most 255 characters including CR LF.
MAX_LINE = 255
#: How many lines a server may send before its version line (OpenSSH allows 1024).
MAX_PRE_LINES = 1024
_PRE_LINE_LIMIT = 8192
_HTTP = re.compile(rb"^(GET|POST|HEAD|PUT|DELETE|OPTIONS|CONNECT|HTTP/)")


class ProtocolVersionError(DisconnectError):
    """The peer is not an SSH-2 peer: wrong version, garbage, HTTP, over-long lines."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED, description, local=True)


def version_line(software: str, comment: str = "") -> bytes:
    """Our identification line, CR LF included."""
    if not software or any(c in software for c in " -\r\n") or not software.isascii():
        raise ValueError(f"invalid software version {software!r}")
    line = f"SSH-2.0-{software}" + (f" {comment}" if comment else "")
    if len(line) + 2 > MAX_LINE:
        raise ValueError("identification line too long")
    return line.encode("ascii") + b"\r\n"


class VersionReader:
    """Finds the peer's identification line in the first bytes of the stream.

    ``feed(buffer)`` returns ``(version, consumed)`` once the line is complete, or
    None to wait for more. Clients skip lines a server sends before its version;
    servers accept nothing but the version line. ``buf`` is the whole stream so
    far (the same growing buffer each call): lines already read are skipped.
    """

    def __init__(self, *, allow_pre_lines: bool) -> None:
        self.allow_pre_lines = allow_pre_lines
        self.pre_lines: list[str] = []
        self._pos = 0  # start of the first line not yet read, so no line counts twice

    def feed(self, buf: bytes | bytearray) -> tuple[str, int] | None:
        pos = self._pos
        while True:
            end = buf.find(b"\n", pos)
            if end < 0:
                pending = len(buf) - pos
                if buf[pos : pos + 4] == b"SSH-"[:pending] or buf[pos : pos + 4] == b"SSH-":
                    if pending > MAX_LINE:
                        raise ProtocolVersionError("identification line too long")
                elif pending > (_PRE_LINE_LIMIT if self.allow_pre_lines else MAX_LINE):
                    raise ProtocolVersionError(self._not_ssh(bytes(buf[pos : pos + 64])))
                if not self.allow_pre_lines and pos == 0 and pending >= 4 and buf[:4] != b"SSH-":
                    raise ProtocolVersionError(self._not_ssh(bytes(buf[:64])))
                self._pos = pos
                return None
            line = bytes(buf[pos : end + 1])
            pos = end + 1
            if line.startswith(b"SSH-"):
                return self._parse(line), pos
            if not self.allow_pre_lines or (not self.pre_lines and _HTTP.match(line)):
                # A first line like "HTTP/1.1 400" is an HTTP server, not a banner.
                raise ProtocolVersionError(self._not_ssh(line))
            if len(line) > _PRE_LINE_LIMIT:
                raise ProtocolVersionError("over-long line before the identification line")
            if b"\x00" in line:
                raise ProtocolVersionError("NUL byte before the identification line")
            self.pre_lines.append(line.rstrip(b"\r\n").decode("utf-8", "replace"))
            if len(self.pre_lines) > MAX_PRE_LINES:
                raise ProtocolVersionError("too many lines before the identification line")

    def closed_early(self, buf: bytes | bytearray) -> DisconnectError:
        """The error for a peer that closed before sending its identification line:
        a lost connection, unless what it did send shows it is no SSH peer."""
        seen = (self.pre_lines[0].encode()[:64] if self.pre_lines else b"") or bytes(buf[:64])
        if not seen or b"SSH-".startswith(seen[:4]):
            return DisconnectError(
                DisconnectReason.CONNECTION_LOST,
                "connection closed before the SSH identification line",
            )
        return ProtocolVersionError(
            "connection closed before the SSH identification line; " + self._not_ssh(seen)
        )

    @staticmethod
    def _not_ssh(start: bytes) -> str:
        if _HTTP.match(start):
            return "peer speaks HTTP, not SSH"
        if not start:
            return "peer sent an empty line instead of an SSH identification"
        return f"peer is not an SSH server: it sent {start[:40]!r}"

    @staticmethod
    def _parse(line: bytes) -> str:
        if len(line) > MAX_LINE:
            raise ProtocolVersionError("identification line too long")
        text = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        if any(b < 0x20 or b == 0x7F for b in text):
            raise ProtocolVersionError("control characters in the identification line")
        try:
            version = text.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolVersionError("non-ASCII identification line") from None
        proto = version[4:].split("-", 1)[0]
        if proto not in ("2.0", "1.99") or version.count("-") < 2:
            raise ProtocolVersionError(f"unsupported protocol version in {version[:64]!r}")
        return version
