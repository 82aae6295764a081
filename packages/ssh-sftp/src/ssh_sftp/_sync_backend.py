"""The blocking side of the SFTP front ends' backend seam: the names of
:mod:`ssh_sftp._aio_backend` over threads, blocking pipes and sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Protocol, TypeVar

from ssh_connection import GuardedFd

__all__ = [
    "Lock",
    "StateLock",
    "to_thread",
    "wall_clock",
    "SFTPStream",
    "PipeStream",
    "ProcessStream",
    "SocketStream",
]

T = TypeVar("T")

#: Most bytes one read of a stream asks for.
READ_SIZE = 512 * 1024

Lock = threading.Lock
#: Guards the core: a reader thread and callers touch it.
StateLock = threading.Lock


def to_thread(fn: Callable[..., T], *args: object) -> T:
    """Blocking calls simply run here (the asyncio twin moves them off the loop)."""
    return fn(*args)


def wall_clock() -> float:
    return time.time()


class SFTPStream(Protocol):
    """What an SFTP session runs over: ``read`` returns some bytes, ``b""`` at EOF."""

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _pipe(end: IO[bytes] | int) -> GuardedFd:
    """One end of a pipe that a reading or writing thread may still be using when another
    thread closes the stream (see GuardedFd: its number is never reused under it)."""
    if isinstance(end, int):
        return GuardedFd(end, "pipe")
    return GuardedFd(end.fileno(), "pipe", closer=end.close)


def _read(pipe: GuardedFd) -> bytes:
    with pipe.use() as fd:
        return os.read(fd, READ_SIZE)


def _write_all(pipe: GuardedFd, data: bytes) -> None:
    view = memoryview(data)
    with pipe.use() as fd:
        while view:
            view = view[os.write(fd, view) :]


class PipeStream:
    """Two binary file objects (or file descriptors): read from one, write to the other."""

    def __init__(self, reader: IO[bytes] | int, writer: IO[bytes] | int) -> None:
        self._reader = _pipe(reader)
        self._writer = _pipe(writer)

    def read(self) -> bytes:
        return _read(self._reader)

    def write(self, data: bytes) -> None:
        _write_all(self._writer, data)

    def close(self) -> None:
        self._writer.close()
        self._reader.close()


class SocketStream:
    """A connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self) -> bytes:
        return self.sock.recv(READ_SIZE)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class ProcessStream:
    """A command's stdin and stdout as a byte stream (``sftp-server`` on pipes, or
    ``ssh host -s sftp``). :meth:`close` ends its stdin and waits for it to exit."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        if process.stdin is None or process.stdout is None:
            raise ValueError("the process needs piped stdin and stdout")
        self._stdin = _pipe(process.stdin)
        self._stdout = _pipe(process.stdout)

    @classmethod
    def spawn(
        cls, argv: Sequence[str | os.PathLike[str]], *, stderr: int | None = None
    ) -> ProcessStream:
        process = subprocess.Popen(  # noqa: S603 - the caller's command, no shell
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, bufsize=0
        )
        return cls(process)

    def read(self) -> bytes:
        return _read(self._stdout)

    def write(self, data: bytes) -> None:
        _write_all(self._stdin, data)

    def close(self) -> None:
        self._stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stdout.close()
