"""The asyncio side of ssh-connection's I/O seam: TCP streams with half-close, listeners,
and child processes. :mod:`ssh_connection._sync_net` has the same names with threads and
blocking sockets; the generated blocking front ends import it where these import this.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from ssh_transport._aio_backend import AsyncStream

__all__ = ["TcpStream", "open_tcp", "Listener", "listen", "Process", "start_process"]

#: Called with each accepted connection and the peer's (host, port).
OnConnection = Callable[["TcpStream", tuple[str, int]], Coroutine[Any, Any, None]]


class TcpStream(AsyncStream):
    """A TCP stream that can also send EOF (forwarded connections are half-closed)."""

    async def write_eof(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()


async def open_tcp(host: str, port: int, timeout: float | None = 30.0) -> TcpStream:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"connecting to {host} port {port} timed out") from None
    return TcpStream(reader, writer)


class Listener:
    """A listening TCP socket; each connection is served by ``on_connection`` in a task."""

    def __init__(self, server: asyncio.base_events.Server, port: int) -> None:
        self._server = server
        self.port = port

    async def close(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)


async def listen(host: str, port: int, on_connection: OnConnection) -> Listener:
    """Listen on host:port (port 0 picks a free one; ``""`` means every address)."""

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        await on_connection(TcpStream(reader, writer), (str(peer[0]), int(peer[1])))

    server = await asyncio.start_server(accepted, host or None, port, backlog=128)
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return Listener(server, int(bound))


class Process:
    """A child process with pipes for stdin, stdout and stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    async def read_stdout(self, size: int = 65536) -> bytes:
        assert self._process.stdout is not None
        return await self._process.stdout.read(size)

    async def read_stderr(self, size: int = 65536) -> bytes:
        assert self._process.stderr is not None
        return await self._process.stderr.read(size)

    async def write_stdin(self, data: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(data)
            await stdin.drain()

    async def close_stdin(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError):
            stdin.close()

    def send_signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(number)

    async def wait(self) -> int:
        return await self._process.wait()

    def close(self) -> None:
        """Release the pipes (asyncio closes them with the transport)."""
        transport = getattr(self._process, "_transport", None)
        if transport is not None:
            transport.close()


async def start_process(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None
) -> Process:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd if cwd and os.path.isdir(cwd) else None,
        start_new_session=True,  # signals from the client reach it, not us
    )
    return Process(process)
