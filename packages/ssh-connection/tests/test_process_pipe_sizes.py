"""Both process seams give a command wide pipes: its stdin and its stdout hold 1 MiB, so a
bulk transfer through it wakes the relay once per MiB rather than per 64 KiB (Linux)."""

from __future__ import annotations

import asyncio
import os
import sys

from ssh_connection import _aio_net, _pipes, _sync_net

#: The command waits for a line on stdin (by then the parent has widened the pipes), then
#: prints the sizes of its stdin and stdout pipes.
REPORT = (
    "import fcntl, sys; sys.stdin.readline(); "
    "print(fcntl.fcntl(0, fcntl.F_GETPIPE_SZ), fcntl.fcntl(1, fcntl.F_GETPIPE_SZ))"
)


def _sizes(output: bytes) -> list[int]:
    return [int(x) for x in output.split()]


def test_blocking_seam_widens_stdin_and_stdout() -> None:
    process = _sync_net.start_process([sys.executable, "-c", REPORT], dict(os.environ))
    process.write_stdin(b"go\n")
    output = b""
    while data := process.read_stdout(4096):
        output += data
    assert process.wait() == 0
    process.close()
    assert _sizes(output) == [_pipes.PIPE_SIZE, _pipes.PIPE_SIZE]


def test_asyncio_seam_widens_stdin_and_stdout() -> None:
    async def run() -> bytes:
        process = await _aio_net.start_process([sys.executable, "-c", REPORT], dict(os.environ))
        await process.write_stdin(b"go\n")
        output = b""
        while data := await process.read_stdout(4096):
            output += data
        assert await process.wait() == 0
        process.close()
        return output

    assert _sizes(asyncio.run(run())) == [_pipes.PIPE_SIZE, _pipes.PIPE_SIZE]
