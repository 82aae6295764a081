"""The blocking side of the agent client's backend seam: the names of
:mod:`ssh_agent._aio_backend` over a blocking Unix socket."""

from __future__ import annotations

import socket
import threading

from .errors import AgentConnectionClosed

__all__ = ["Lock", "AgentStream", "open_agent_stream"]

_READ = 65536

Lock = threading.Lock


class AgentStream:
    """The agent connection: a connected Unix socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self) -> bytes:
        return self.sock.recv(_READ)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def open_agent_stream(path: str, timeout: float | None) -> AgentStream:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise AgentConnectionClosed(f"cannot connect to the agent: {exc}") from exc
    return AgentStream(sock)
