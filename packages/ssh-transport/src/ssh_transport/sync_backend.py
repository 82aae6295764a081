"""The blocking side of the front ends' backend seam: the names of
:mod:`ssh_transport.aio_backend`, with threads and blocking sockets behind them.

The generated blocking front ends import this module where their asyncio source imports
``aio_backend``. One background reader thread per connection pumps the core, so a thread
blocked on one channel never starves another and keepalives are answered while the
application is busy.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
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
    "Stream",
    "SocketStream",
    "ProcessStream",
    "open_tcp_stream",
    "open_process_stream",
]

T = TypeVar("T")

_READ_SIZE = 256 * 1024
#: recv() without waiting (not on Windows, which reads after a select() only).
_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)
#: How long :func:`join` waits for a thread it was promised will end soon.
_CANCEL_WAIT = 10.0

#: A function :func:`spawn` runs in the background.
Background = Callable[[], None]

Lock = threading.Lock
Condition = threading.Condition
Task = threading.Thread


def wait_condition(condition: threading.Condition, timeout: float | None) -> bool:
    """Wait (holding ``condition``) until notified or ``timeout`` passes; False on timeout."""
    return condition.wait(timeout)


def try_acquire(lock: threading.Lock) -> bool:
    """Take ``lock`` if it is free, without waiting."""
    return lock.acquire(blocking=False)


def spawn(function: Background) -> threading.Thread:
    """Run ``function`` in a daemon thread (a task in the asyncio front ends)."""
    thread = threading.Thread(target=function, daemon=True)
    thread.start()
    return thread


def join(thread: threading.Thread, cancel: bool = False) -> None:
    """Wait for ``thread`` to end, as the asyncio twin awaits its task. ``cancel`` is the
    caller's promise that it will end soon (its stream was closed): threads cannot be
    cancelled, so that wait is bounded. A thread never waits for itself."""
    # Without cancel the wait must not be bounded: the process handler joins the thread
    # copying a command's stdout into the channel, and returning early let the exit
    # status and EOF overtake output still on its way (a long transfer lost its tail).
    if thread is not threading.current_thread() and thread.ident is not None:
        thread.join(_CANCEL_WAIT if cancel else None)


def resolve(value: T) -> T:
    return value


def call_handler(handler: Callable[[Any], Any], event: Any, blocking: bool) -> Any:
    """Answer a pause event with ``handler`` (already on a thread of its own here)."""
    return handler(event)


monotonic = time.monotonic


class Alarm:
    """Runs ``function`` in a thread of its own at a :func:`monotonic` time (a
    ``threading.Timer``: a thread only while one is set, nothing that wakes before)."""

    def __init__(self, function: Background) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def set(self, when: float) -> None:
        """Ring at ``when`` instead of any earlier setting."""
        timer = threading.Timer(max(0.0, when - time.monotonic()), self._function)
        timer.daemon = True
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = timer
        timer.start()

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


class Stream(Protocol):
    """A bidirectional byte stream. ``read`` returns b"" at EOF and raises
    TimeoutError when ``timeout`` (seconds) passes with nothing to read."""

    def read(self, timeout: float | None) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SocketStream:
    """A connected TCP (or Unix) socket, tuned for SSH's small interactive packets."""

    def __init__(self, sock: socket.socket) -> None:
        # Blocking, no socket timeout: the reader thread and writers share the socket,
        # and a read timeout set with settimeout would apply to sendall too. Reads wait
        # in a selector instead.
        sock.settimeout(None)
        self.sock = sock
        self._quickack = tune(sock)
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._state = threading.Lock()
        self._closed = False
        self._released = False
        self._in_read = False
        self._writers = 0

    @classmethod
    def connect(cls, host: str, port: int = 22, timeout: float | None = 30.0) -> SocketStream:
        return cls(socket.create_connection((host, port), timeout=timeout))

    def read(self, timeout: float | None) -> bytes:
        with self._state:
            if self._closed:
                return b""
            self._in_read = True
        try:
            if self._quickack:
                rearm_quickack(self.sock)
            if timeout is not None:
                # In a bulk transfer there is nearly always something there already: take
                # it without a select() first (one system call per read instead of two).
                if _DONTWAIT is not None:
                    with contextlib.suppress(BlockingIOError):
                        return self.sock.recv(_READ_SIZE, _DONTWAIT)
                if not self._selector.select(timeout):
                    raise TimeoutError("nothing to read")
            return self.sock.recv(_READ_SIZE)
        except ConnectionResetError:
            return b""
        finally:
            with self._state:
                self._in_read = False
                self._release_if_idle()

    def write(self, data: bytes) -> None:
        with self._state:
            if self._closed:
                raise BrokenPipeError("the stream is closed")
            self._writers += 1
        try:
            self.sock.sendall(data)
        finally:
            with self._state:
                self._writers -= 1
                self._release_if_idle()

    def close(self) -> None:
        """Shut the socket down; the descriptor is closed by the last thread still using
        it. A read in progress returns b"" (closing the descriptor under a waiting
        selector would lose the wakeup, and the reader would sleep out its timeout); a
        write in progress fails. Closing it under either would free its number while that
        thread may still pass it to the kernel: a connection accepted meanwhile reuses the
        lowest free number, and would receive this one's bytes."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self._release_if_idle()

    def _release_if_idle(self) -> None:
        """Close the descriptor once closed and no thread reads or writes (state lock held)."""
        if self._closed and not self._in_read and not self._writers and not self._released:
            self._released = True
            self._release()

    def _release(self) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(self.sock)
        self._selector.close()
        self.sock.close()


class ProcessStream:
    """A child process's stdin/stdout as a stream (ProxyCommand, ``sshd -i``)."""

    def __init__(self, argv: Sequence[str]) -> None:
        # socketpair rather than pipes: one fd to poll with a timeout, both directions.
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(  # noqa: S603 - argv comes from the caller
            list(argv), stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.DEVNULL
        )
        theirs.close()
        self._stream = SocketStream(ours)

    def read(self, timeout: float | None) -> bytes:
        return self._stream.read(timeout)

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    def close(self) -> None:
        self._stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_tcp_stream(host: str, port: int, timeout: float | None) -> SocketStream:
    return SocketStream.connect(host, port, timeout)


def open_process_stream(argv: Sequence[str]) -> ProcessStream:
    return ProcessStream(argv)
