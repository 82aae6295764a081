"""The asyncio side of the front ends' backend seam.

The asyncio front ends (``aio.py`` of each package) are the source; ``tools/unasync.py``
turns them into the blocking ones by dropping ``async``/``await`` and swapping this module
for :mod:`ssh_transport.sync_backend`, which has the same names with threads and sockets
behind them. Everything that differs between the two runtimes lives in these two modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import subprocess
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from ._tcp import rearm_quickack, tune

__all__ = [
    "Background",
    "Lock",
    "Condition",
    "Task",
    "wait_condition",
    "try_acquire",
    "spawn",
    "join",
    "call_handler",
    "resolve",
    "monotonic",
    "Alarm",
    "AsyncStream",
    "AsyncByteStream",
    "STREAM_LIMIT",
    "open_tcp_stream",
    "open_process_stream",
]

T = TypeVar("T")

_READ_SIZE = 256 * 1024
#: The StreamReader's limit: asyncio's 64 KiB default pauses the socket whenever more than
#: 128 KiB wait, which one 256 KiB recv() does; pause and resume cost two epoll_ctl calls
#: per read in a bulk transfer.
STREAM_LIMIT = 1024 * 1024
#: asyncio.timeout (3.11+) where there is one: wait_for costs a new task on every read.
_timeout: Any = getattr(asyncio, "timeout", None)

#: A function :func:`spawn` runs in the background.
Background = Callable[[], Coroutine[Any, Any, None]]

Lock = asyncio.Lock
Condition = asyncio.Condition
Task = asyncio.Task


async def wait_condition(condition: asyncio.Condition, timeout: float | None) -> bool:
    """Wait (holding ``condition``) until notified or ``timeout`` passes; False on timeout."""
    if timeout is None:
        await condition.wait()
        return True
    try:
        await asyncio.wait_for(condition.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def try_acquire(lock: asyncio.Lock) -> bool:
    """Take ``lock`` if it is free, without waiting (asyncio's acquire of a free lock
    returns at once, so nothing runs between the check and the taking)."""
    if lock.locked():
        return False
    await lock.acquire()
    return True


def spawn(function: Background) -> asyncio.Task[None]:
    """Run ``function`` in the background: a task here, a daemon thread when blocking."""
    return asyncio.get_running_loop().create_task(function())


async def join(task: asyncio.Task[None], cancel: bool = False) -> None:
    if cancel:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def resolve(value: T | Awaitable[T]) -> T:
    """A callback's result, awaited if the callback was a coroutine function."""
    if inspect.isawaitable(value):
        return await value
    return value


async def call_handler(handler: Callable[[Any], Any], event: Any, blocking: bool) -> Any:
    """Answer a pause event with ``handler``. A ``blocking`` handler (a synchronous policy:
    scrypt, file reads) runs in a worker thread so the event loop never waits on it."""
    if blocking:
        return await asyncio.get_running_loop().run_in_executor(None, handler, event)
    return await resolve(handler(event))


def monotonic() -> float:
    return asyncio.get_running_loop().time()


class Alarm:
    """Runs ``function`` in the background at a :func:`monotonic` time: one timer handle
    in the event loop (``call_at``), nothing that wakes before it is due."""

    def __init__(self, function: Background) -> None:
        self._function = function
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None  # referenced while it runs

    def set(self, when: float) -> None:
        """Ring at ``when`` instead of any earlier setting."""
        self.cancel()
        self._handle = self._loop.call_at(when, self._ring)

    def _ring(self) -> None:
        self._handle = None
        self._task = self._loop.create_task(self._function())

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class AsyncByteStream(Protocol):
    """What the pump needs of a stream: a socket's, a pipe's, an SSH channel's."""

    async def read(self, timeout: float | None) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class AsyncStream:
    """A byte stream over an asyncio (reader, writer) pair: TCP, Unix, pipes, anything."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        sock = writer.get_extra_info("socket")
        self._sock: socket.socket | None = sock if isinstance(sock, socket.socket) else None
        self._quickack = self._sock is not None and tune(self._sock)

    async def read(self, timeout: float | None) -> bytes:
        """Up to 256 KiB; b"" at end of stream; TimeoutError once ``timeout`` passes."""
        if self._quickack and self._sock is not None:
            rearm_quickack(self._sock)
        try:
            if timeout is None:
                return await self.reader.read(_READ_SIZE)
            if _timeout is not None:
                async with _timeout(timeout):
                    return await self.reader.read(_READ_SIZE)
            return await asyncio.wait_for(self.reader.read(_READ_SIZE), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError from None
        except ConnectionResetError:
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def open_tcp_stream(host: str, port: int, timeout: float | None) -> AsyncStream:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=STREAM_LIMIT), timeout
        )
    except asyncio.TimeoutError:
        raise TimeoutError(f"connecting to {host} port {port} timed out") from None
    return AsyncStream(reader, writer)


class _ProcessStream(AsyncStream):
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stdin is not None
        super().__init__(process.stdout, process.stdin)
        self.process = process

    async def close(self) -> None:
        await super().close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


async def open_process_stream(argv: Sequence[str]) -> AsyncStream:
    """A child process's stdin/stdout as a stream (ProxyCommand, ``sshd -i``)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    return _ProcessStream(process)
