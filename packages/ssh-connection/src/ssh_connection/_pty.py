"""Pseudo-terminals for the process handler (POSIX): open one with a size, resize it, and
make it the child's controlling terminal. Shared by both I/O seam modules."""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import termios

from .guarded_fd import GuardedFd

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


class MasterFd(GuardedFd):
    """A pty master that relay threads read, write and resize (see :class:`GuardedFd`)."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd, "terminal")
