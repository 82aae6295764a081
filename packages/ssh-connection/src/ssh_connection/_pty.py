"""Pseudo-terminals for the process handler (POSIX): open one with a size, resize it, and
make it the child's controlling terminal. Shared by both I/O seam modules."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import termios
import threading
from collections.abc import Iterator

__all__ = ["open_pty", "set_size", "take_controlling_terminal", "MasterFd"]

Size = tuple[int, int, int, int]  # columns, rows, width in pixels, height in pixels


def open_pty(size: Size | None) -> tuple[int, int]:
    """(master, slave) descriptors, the terminal set to ``size``."""
    master, slave = os.openpty()
    if size is not None:
        set_size(master, size)
    return master, slave


def set_size(fd: int, size: Size) -> None:
    columns, rows, width, height = (max(0, min(v, 0xFFFF)) for v in size)
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, width, height))


def take_controlling_terminal() -> None:
    """In the child, after setsid: its stdin (the slave) becomes the controlling tty, so
    ^C and job control work and the shell gets SIGHUP when the session ends."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class MasterFd:
    """A pty master that threads read, write and resize, closed so that its number is
    never reused under them.

    A bare ``os.close`` frees the number at once: a thread that took it a moment earlier
    (a relay's next read, a write of the client's keystrokes) then reads or writes
    whatever the process opens next with that number, such as another client's socket,
    stealing or corrupting its bytes. Here ``close`` first points the number at /dev/null
    (reads see EOF, writes vanish) while anyone is using it, and the last user closes it;
    uses after ``close`` fail with EBADF without touching it.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    @contextlib.contextmanager
    def use(self) -> Iterator[int]:
        with self._lock:
            if self._closed:
                raise OSError(errno.EBADF, "the terminal is closed")
            self._users += 1
        try:
            yield self._fd
        finally:
            with self._lock:
                self._users -= 1
                self._release_if_idle()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._users:
                null = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(null, self._fd)
                finally:
                    os.close(null)
            self._release_if_idle()

    def _release_if_idle(self) -> None:
        if self._closed and not self._users and self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
