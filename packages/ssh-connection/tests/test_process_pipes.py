"""The blocking process seam (``_sync_net.Process``): what the client sends reaches the
command's stdin whole, even when signals interrupt the blocking pipe writes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
import threading
from pathlib import Path

import pytest

from ssh_connection._sync_net import start_process


def test_write_stdin_survives_partial_writes(tmp_path: Path) -> None:
    # A signal arriving while a blocking pipe write waits for the reader makes write()
    # return early with part of the data taken; the rest must still go.
    out = tmp_path / "out"
    process = start_process(["/bin/sh", "-c", f"exec cat > {out}"], dict(os.environ))
    stop = threading.Event()
    interrupted = [0]

    def handler(signum: int, frame: object) -> None:
        interrupted[0] += 1

    def interrupter() -> None:
        while not stop.is_set():
            os.kill(os.getpid(), signal.SIGUSR1)  # handled in the main thread, the writer
            stop.wait(0.0005)

    previous = signal.signal(signal.SIGUSR1, handler)
    thread = threading.Thread(target=interrupter, daemon=True)
    thread.start()
    chunk = bytes(range(256)) * 1024  # 256 KiB per write: more than a pipe holds
    try:
        for _ in range(16):
            process.write_stdin(chunk)
    finally:
        stop.set()
        thread.join()
        signal.signal(signal.SIGUSR1, previous)
    process.close_stdin()
    assert process.wait() == 0
    process.close()
    assert interrupted[0] > 0
    assert out.stat().st_size == 16 * len(chunk)
    assert out.read_bytes() == chunk * 16


def _our_end_of(pid: int, child_fd: int) -> int:
    """Our descriptor for the other end of the pipe the child has as ``child_fd``."""
    target = os.readlink(f"/proc/{pid}/fd/{child_fd}")  # pipe:[inode]
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}") == target:
                return int(name)
    raise AssertionError(f"no descriptor of ours is {target}")


def test_closing_while_a_stdin_write_waits_keeps_its_number_until_it_is_done() -> None:
    # The handler closes the process while the stdin feeder thread may still be in a
    # blocking write. Closing the pipe then freed its number under that write: the next
    # connection accepted got the number, and the feeder's next bytes went to it.
    process = start_process(["/bin/sh", "-c", "exec sleep 60"], dict(os.environ))
    number = _our_end_of(process.pid, 0)
    # A second read end (not the child's) shows how full the pipe is.
    peek = os.open(f"/proc/{process.pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    size = fcntl.fcntl(peek, fcntl.F_GETPIPE_SZ)
    writer = threading.Thread(target=process.write_stdin, args=(b"x" * (4 * size),))
    writer.start()
    try:
        for _ in range(10_000):  # until the pipe is full: the writer waits in write()
            queued = struct.unpack("i", fcntl.ioctl(peek, termios.FIONREAD, b"\0" * 4))[0]
            if queued >= size:
                break
            threading.Event().wait(0.001)
        assert queued >= size
        process.close()
        null, now = os.stat(os.devnull), os.fstat(number)
        assert (now.st_rdev, now.st_ino) == (null.st_rdev, null.st_ino)  # held, not freed
    finally:
        os.close(peek)
        process.send_signal(signal.SIGKILL)  # the write fails (EPIPE) and the writer leaves
        process.wait()
        writer.join(10)
    assert not writer.is_alive()
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        os.fstat(number)
    assert info.value.errno == errno.EBADF  # closed by the writer on its way out
    process.close()  # twice is harmless
