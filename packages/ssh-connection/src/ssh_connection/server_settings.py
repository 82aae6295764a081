"""Server settings that may differ between authenticated connections (sshd's Match
blocks), shared by the asyncio and blocking servers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from .restrictions import ForwardRequest

__all__ = ["ConnectionSettings"]


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """What may differ between a server's authenticated connections (sshd's Match blocks):
    the servers' ``serve_stream``'s ``connection_settings`` gets the server's own and
    the authenticated user, and returns this connection's (``dataclasses.replace``)."""

    accept_env: tuple[str, ...]
    allow_streamlocal_forwarding: bool
    gateway_ports: bool
    #: Decides a forwarding (a coroutine function, or a plain one run in a worker thread).
    forwarding_check: Callable[[ForwardRequest], Any] | None
    max_sessions: int
    channel_timeouts: tuple[tuple[str, float], ...]
    unused_connection_timeout: float | None
    #: ConnectionCore keyword limits (keepalive_interval, keepalive_count_max, ...).
    connection_limits: Mapping[str, Any]
