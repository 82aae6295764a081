"""The process handler's pipe tuning: a wider pipe where Linux allows, never an error."""

from __future__ import annotations

import fcntl
import os

from ssh_connection import _pipes


def test_widen_gives_a_pipe_the_larger_buffer() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb") as writer:
        _pipes.widen(writer)
        get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
        if get_size is not None:  # Linux: the size is the pipe's, either end sees it
            assert fcntl.fcntl(reader.fileno(), get_size) >= _pipes.PIPE_SIZE


def test_widen_ignores_a_pipe_a_quick_command_already_closed() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    writer = os.fdopen(write_end, "wb")
    writer.close()
    _pipes.widen(writer)  # fileno() of a closed file raises ValueError: swallowed
    _pipes.widen(None)
