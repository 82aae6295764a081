"""Socket tuning shared by both front ends' streams (a driver module: it touches sockets)."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["tune", "rearm_quickack"]


def _quickack() -> int | None:
    # Not every platform has it (macOS, the BSDs and Windows do not).
    value: int | None = getattr(socket, "TCP_QUICKACK", None)
    return value


def tune(sock: socket.socket) -> bool:
    """Set TCP_NODELAY on a TCP socket (SSH's packets are small and interactive).
    Returns whether :func:`rearm_quickack` should be called before each read."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _quickack() is not None


def rearm_quickack(sock: socket.socket) -> None:
    """Delayed ACKs stall request/response exchanges by ~40 ms; Linux clears QUICKACK
    after a while, so it is set again before each read."""
    option = _quickack()
    if option is not None:
        # The socket may have been closed under us; the read reports that.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)
