"""Pipe tuning for the process handler's commands. Shared by both I/O seam modules."""

from __future__ import annotations

import contextlib
import fcntl

__all__ = ["PIPE_SIZE", "widen"]

#: Linux's default pipe is 64 KiB: a bulk upload into a command then wakes its writer for
#: every 64 KiB. 1 MiB is the largest an unprivileged process may ask for by default.
PIPE_SIZE = 1024 * 1024


def widen(fd: int) -> None:
    """Ask for a PIPE_SIZE buffer on pipe ``fd``, where the platform can (Linux)."""
    option: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
    if option is not None:
        with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size: keep it
            fcntl.fcntl(fd, option, PIPE_SIZE)
