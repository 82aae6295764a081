"""The asyncio side of the SFTP front ends' backend seam (see :mod:`ssh_sftp._sync_backend`).

``aio.py``, ``aio_file.py`` and ``aio_transfer.py`` are the sources of the blocking front
end: ``tools/unasync.py`` generates ``sync*.py`` from them, swapping this module for
``_sync_backend``. What differs between the two worlds lives here and only here: locks,
running blocking local file calls off the event loop, the clock, and byte streams over a
subprocess or a pair of asyncio streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

__all__ = [
    "Lock",
    "StateLock",
    "to_thread",
    "wall_clock",
    "AsyncSFTPStream",
    "AsyncPipeStream",
    "AsyncProcessStream",
]

T = TypeVar("T")

#: Most bytes one read of a stream asks for.
READ_SIZE = 512 * 1024

Lock = asyncio.Lock


class StateLock:
    """Guards the core between awaits. The event loop runs one task at a time and no core
    call awaits, so there is nothing to lock here (the blocking twin is a real lock)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def to_thread(fn: Callable[..., T], *args: object) -> T:
    """Run a blocking local call (a file read or write) off the event loop."""
    return await asyncio.to_thread(fn, *args)


def wall_clock() -> float:
    return time.time()


class AsyncSFTPStream(Protocol):
    """What an SFTP session runs over: ``read`` returns some bytes, ``b""`` at EOF."""

    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class AsyncPipeStream:
    """An (asyncio.StreamReader, asyncio.StreamWriter) pair as a byte stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        return await self.reader.read(READ_SIZE)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class AsyncProcessStream:
    """A command's stdin and stdout as a byte stream (``sftp-server`` on pipes, or
    ``ssh host -s sftp``). :meth:`close` ends its stdin and waits for it to exit."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        if process.stdin is None or process.stdout is None:
            raise ValueError("the process needs piped stdin and stdout")
        self._stdin = process.stdin
        self._stdout = process.stdout

    @classmethod
    async def spawn(
        cls, argv: Sequence[str | os.PathLike[str]], *, stderr: int | None = None
    ) -> AsyncProcessStream:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        return cls(process)

    async def read(self) -> bytes:
        return await self._stdout.read(READ_SIZE)

    async def write(self, data: bytes) -> None:
        self._stdin.write(data)
        await self._stdin.drain()

    async def close(self) -> None:
        if not self._stdin.is_closing():
            self._stdin.close()
            with contextlib.suppress(OSError):
                await self._stdin.wait_closed()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
