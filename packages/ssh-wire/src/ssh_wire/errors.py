"""The one exception hierarchy every package of the stack builds on."""

from __future__ import annotations

__all__ = [
    "SSHError",
    "DecodeError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "DisconnectError",
]


class SSHError(Exception):
    """Root of every error raised by the ssh-* packages."""


class DecodeError(SSHError, ValueError):
    """Bytes that do not decode as the expected wire structure.

    ``field`` names what was being read, ``offset`` where in the buffer, and
    ``message`` the schema (if any) being decoded.
    """

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        offset: int | None = None,
        message: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.offset = offset
        self.message = message
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.message:
            where.append(self.message)
        if self.field:
            where.append(f"field {self.field!r}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason

    def within(self, message: str) -> DecodeError:
        """Return a copy that also names the enclosing message."""
        return DecodeError(self.reason, field=self.field, offset=self.offset, message=message)


class LocalProtocolError(SSHError):
    """The caller used the API in a way the protocol does not allow."""


class RemoteProtocolError(SSHError):
    """The peer broke the protocol."""


class DisconnectError(RemoteProtocolError):
    """The connection ended with an SSH disconnect reason code (RFC 4253 11.1)."""

    def __init__(self, reason: int, description: str = "", *, local: bool = False) -> None:
        self.reason = reason
        self.description = description
        # True when we sent the DISCONNECT, False when the peer did.
        self.local = local
        side = "sent" if local else "received"
        super().__init__(f"disconnect {side}: reason {reason}: {description}")
