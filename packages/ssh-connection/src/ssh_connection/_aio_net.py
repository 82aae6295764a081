"""The asyncio side of ssh-connection's I/O seam: TCP streams with half-close, listeners,
and child processes. :mod:`ssh_connection._sync_net` has the same names with threads and
blocking sockets; the generated blocking front ends import it where these import this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from ssh_transport.aio_backend import STREAM_LIMIT, AsyncStream

from . import _aio_spawn, _pty

__all__ = [
    "TcpStream",
    "open_tcp",
    "open_unix",
    "Listener",
    "listen",
    "bind_unix",
    "listen_unix",
    "bind_tcp",
    "listen_tcp",
    "Process",
    "start_process",
    "PtyProcess",
    "start_pty_process",
]

#: Called with each accepted connection and the peer's (host, port).
OnConnection = Callable[["TcpStream", tuple[str, int]], Coroutine[Any, Any, None]]

log = logging.getLogger("ssh_connection")


class TcpStream(AsyncStream):
    """A TCP stream that can also send EOF (forwarded connections are half-closed)."""

    async def write_eof(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()


async def open_tcp(host: str, port: int, timeout: float | None = 30.0) -> TcpStream:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=STREAM_LIMIT), timeout
        )
    except asyncio.TimeoutError:
        raise TimeoutError(f"connecting to {host} port {port} timed out") from None
    return TcpStream(reader, writer)


async def open_unix(path: str, timeout: float | None = 30.0) -> TcpStream:
    """A Unix socket (an agent's): the same stream as a TCP one."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"connecting to {path} timed out") from None
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
        stream = TcpStream(reader, writer)
        try:
            await on_connection(stream, (str(peer[0]), int(peer[1])))
        except Exception:
            # The handler is meant to catch its own; if one escapes, the connection must
            # not stay open without anyone serving it (a client would wait for ever).
            log.exception("serving a connection from %s failed", peer[0] or "a socket")
            await stream.close()

    server = await asyncio.start_server(
        accepted, host or None, port, backlog=128, limit=STREAM_LIMIT
    )
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return Listener(server, int(bound))


def bind_unix(path: str, mode: int = 0o600) -> socket.socket:
    """A listening Unix socket at ``path`` with ``mode``, bound at once (no event loop
    needed), so connections made before :func:`listen_unix` wait in its backlog. Put it
    in a private directory: between bind and chmod the umask decides."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


async def listen_unix(sock: socket.socket, on_connection: OnConnection) -> Listener:
    """Serve a socket from :func:`bind_unix`; peers are reported as ``("", 0)``."""

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await on_connection(TcpStream(reader, writer), ("", 0))

    server = await asyncio.start_unix_server(accepted, sock=sock)
    return Listener(server, 0)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket bound at once (OSError if the port is taken), for
    :func:`listen_tcp`: an X11 display must exist before the session's command starts."""
    return socket.create_server((host, port), backlog=128)


async def listen_tcp(sock: socket.socket, on_connection: OnConnection) -> Listener:
    """Serve a socket from :func:`bind_tcp`."""

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        stream = TcpStream(reader, writer)
        try:
            await on_connection(stream, (str(peer[0]), int(peer[1])))
        except Exception:
            # The handler is meant to catch its own; if one escapes, the connection must
            # not stay open without anyone serving it (a client would wait for ever).
            log.exception("serving a connection from %s failed", peer[0] or "a socket")
            await stream.close()

    server = await asyncio.start_server(accepted, sock=sock)
    return Listener(server, int(sock.getsockname()[1]))


class Process:
    """A child process with pipes for stdin, stdout and stderr, read and written by the
    loop itself (see :mod:`ssh_connection._aio_spawn`)."""

    def __init__(self, child: _aio_spawn.Child, stdin: int, stdout: int, stderr: int) -> None:
        self._child = child
        self._stdin = _aio_spawn.LoopFd(stdin)
        self._stdout = _aio_spawn.LoopFd(stdout)
        self._stderr = _aio_spawn.LoopFd(stderr)

    @property
    def pid(self) -> int:
        return self._child.pid

    async def read_stdout(self, size: int = 65536) -> bytes:
        return await self._stdout.read(size)

    async def read_stderr(self, size: int = 65536) -> bytes:
        return await self._stderr.read(size)

    async def write_stdin(self, data: bytes) -> None:
        await self._stdin.write(data)

    async def close_stdin(self) -> None:
        self._stdin.close()

    def send_signal(self, number: int) -> None:
        if self._child.returncode is not None:
            return  # reaped: its pid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self._child.pid, number)

    def hang_up(self) -> None:
        """The client is gone: SIGHUP to the command's process group (it leads one), so a
        pipeline blocked writing output no one reads ends too."""
        self._signal_group(signal.SIGHUP)

    def kill(self) -> None:
        """The server is closing and the command outlived its grace: SIGKILL, group-wide."""
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, number: int) -> None:
        if self._child.returncode is not None:
            return  # reaped: its pid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._child.pid, number)

    def resize(self, size: _pty.Size) -> None:
        """Pipes have no terminal size."""

    async def wait(self) -> int:
        return await self._child.wait()

    def close(self) -> None:
        for pipe in (self._stdin, self._stdout, self._stderr):
            pipe.close()


async def start_process(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None
) -> Process:
    """Run ``argv`` on pipes (made, widened and handed over in a spawner thread)."""
    child, (stdin, stdout, stderr) = await _aio_spawn.spawn_on_pipes(argv, env, cwd)
    return Process(child, stdin, stdout, stderr)


class PtyProcess:
    """A child process on a pseudo-terminal: one stream for its input and output, the
    master read and written by the loop itself."""

    def __init__(self, child: _aio_spawn.Child, master: int) -> None:
        self._child = child
        self._master = _aio_spawn.LoopFd(master)

    @property
    def pid(self) -> int:
        return self._child.pid

    async def read_stdout(self, size: int = 65536) -> bytes:
        return await self._master.read(size)

    async def read_stderr(self, size: int = 65536) -> bytes:
        return b""  # a terminal has one output stream

    async def write_stdin(self, data: bytes) -> None:
        await self._master.write(data)

    async def close_stdin(self) -> None:
        """The client's EOF: a terminal stays open (sshd does the same)."""

    def send_signal(self, number: int) -> None:
        if self._child.returncode is not None:
            return  # reaped: its pid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._child.pid, number)

    def hang_up(self) -> None:
        """The client is gone: SIGHUP to the terminal's process group."""
        self.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """The server is closing and the command outlived its grace: SIGKILL, group-wide."""
        self.send_signal(signal.SIGKILL)

    def resize(self, size: _pty.Size) -> None:
        fd = self._master.use()
        if fd >= 0:
            _pty.set_size(fd, size)

    async def wait(self) -> int:
        return await self._child.wait()

    def close(self) -> None:
        self._master.close()


async def start_pty_process(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: _pty.Size | None
) -> PtyProcess:
    """Run ``argv`` on a new pseudo-terminal of ``size`` as its session leader (the pty
    opened in a spawner thread too)."""
    child, master = await _aio_spawn.spawn_on_pty(argv, env, cwd, size)
    return PtyProcess(child, master)
