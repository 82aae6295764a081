"""Descriptors shared by threads, closed without their number being reused under them:
the pty masters and command pipes of ssh-connection's I/O seams, and ssh-sftp's pipe
streams."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterator

__all__ = ["GuardedFd"]


class GuardedFd:
    """A descriptor that threads read, write or resize (a pty master, a command's pipe),
    closed so that its number is never reused under them.

    A bare ``os.close`` frees the number at once: a thread that took it a moment earlier
    (a relay's next read, a write of the client's keystrokes) then reads or writes
    whatever the process opens next with that number, such as another client's socket,
    stealing or corrupting its bytes. Here ``close`` first points the number at /dev/null
    (reads see EOF, writes vanish) while anyone is using it, and the last user closes it;
    uses after ``close`` fail with EBADF without touching it. ``closer`` releases it in
    place of ``os.close`` (the file object that owns the descriptor, say).
    """

    def __init__(
        self, fd: int, what: str = "descriptor", closer: Callable[[], None] | None = None
    ) -> None:
        self._fd = fd
        self._what = what
        self._closer = closer
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    @contextlib.contextmanager
    def use(self) -> Iterator[int]:
        with self._lock:
            if self._closed:
                raise OSError(errno.EBADF, f"the {self._what} is closed")
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
                if self._closer is not None:
                    self._closer()
                else:
                    os.close(self._fd)
            self._fd = -1
