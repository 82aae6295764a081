"""Errors and results of the front ends (no I/O here: both front ends share them)."""

from __future__ import annotations

from dataclasses import dataclass

from ssh_wire import SSHError

__all__ = ["ChannelOpenError", "ChannelClosedError", "RequestRefused", "RunResult", "ExitSignal"]


class ChannelOpenError(SSHError):
    """The peer refused to open a channel; ``reason`` is the RFC 4254 5.1 code."""

    def __init__(self, reason: int, description: str = "") -> None:
        super().__init__(f"channel open refused ({reason}): {description}")
        self.reason = reason
        self.description = description


class ChannelClosedError(SSHError, BrokenPipeError):
    """The channel is closed (or has sent EOF): it takes no more data or requests."""


class RequestRefused(SSHError):
    """The peer answered a channel or global request with failure."""

    def __init__(self, request: str) -> None:
        super().__init__(f"the peer refused the {request!r} request")
        self.request = request


@dataclass(frozen=True)
class ExitSignal:
    """How a remote command ended when a signal killed it (``signal`` without "SIG")."""

    signal: str
    core_dumped: bool = False
    message: str = ""


@dataclass(frozen=True)
class RunResult:
    """What :meth:`run` returns. ``exit_status`` is None when the command was killed by a
    signal (see ``exit_signal``) or the server sent no status."""

    stdout: bytes
    stderr: bytes
    exit_status: int | None
    exit_signal: ExitSignal | None = None

    @property
    def ok(self) -> bool:
        return self.exit_status == 0
