"""The blocking pipe streams closed while a thread still reads them keep the descriptor's
number (pointing at /dev/null) until that thread is done: before, close freed it under
the blocked read, and the reader's next read reached whatever got the number next."""

from __future__ import annotations

import errno
import os
import platform
import threading

import pytest

from ssh_sftp._sync_backend import PipeStream

#: read(2)'s number in /proc/<tid>/syscall.
READ = {"x86_64": 0, "aarch64": 63}.get(platform.machine())


def blocked_in_read(tid: int, fd: int) -> bool:
    with open(f"/proc/self/task/{tid}/syscall") as f:
        fields = f.read().split()
    return len(fields) > 1 and fields[0] == str(READ) and int(fields[1], 16) == fd


def test_close_under_a_blocked_reader_keeps_the_number_until_it_leaves() -> None:
    assert READ is not None, f"no read(2) number known for {platform.machine()}"
    down_r, down_w = os.pipe()  # the stream reads here
    up_r, up_w = os.pipe()  # and writes here
    stream = PipeStream(down_r, up_w)
    got: list[bytes] = []
    tid: list[int] = []

    def reader() -> None:
        tid.append(threading.get_native_id())
        got.append(stream.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    for _ in range(100_000):
        if tid and blocked_in_read(tid[0], down_r):
            break
        threading.Event().wait(0.0001)
    assert tid and blocked_in_read(tid[0], down_r)
    stream.close()
    try:
        null, now = os.stat(os.devnull), os.fstat(down_r)
        assert (now.st_rdev, now.st_ino) == (null.st_rdev, null.st_ino)  # held, not freed
    finally:
        os.write(down_w, b"late")  # the read in progress still gets the pipe's bytes
        thread.join(10)
    assert got == [b"late"]
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        os.fstat(down_r)
    assert info.value.errno == errno.EBADF  # the reader closed it on its way out
    with pytest.raises(OSError, match="pipe is closed"):
        stream.read()  # later reads fail without touching the number
    stream.close()  # twice is harmless
    for fd in (down_w, up_r):
        os.close(fd)
