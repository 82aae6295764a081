"""Pipe tuning for the process handler's commands. Shared by both I/O seam modules."""

from __future__ import annotations

import contextlib
import fcntl
from typing import IO, Any

__all__ = ["PIPE_SIZE", "widen"]

#: Linux's default pipe is 64 KiB: a bulk upload into a command then wakes its writer for
#: every 64 KiB. 1 MiB is the largest an unprivileged process may ask for by default.
PIPE_SIZE = 1024 * 1024


def widen(pipe: IO[Any] | int | None) -> None:
    """Ask for a PIPE_SIZE buffer on ``pipe`` (a file object or a descriptor), where the
    platform can (Linux). Never fails: a pipe a quick command already closed, or a size
    over the system's limit (/proc/sys/fs/pipe-max-size), leaves the pipe as it is."""
    option: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
    if option is None or pipe is None:
        return
    with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
        fcntl.fcntl(pipe if isinstance(pipe, int) else pipe.fileno(), option, PIPE_SIZE)
