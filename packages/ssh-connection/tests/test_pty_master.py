"""A pty master closed while a relay thread uses it keeps its number (pointing at
/dev/null) until that thread is done, so the number cannot be reused under it by another
connection's socket: before, a relay's late read or write hit whatever got the number next."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from ssh_connection._pty import MasterFd


def test_close_while_in_use_keeps_the_number_until_the_user_is_done() -> None:
    master, slave = os.openpty()
    guarded = MasterFd(master)
    inside, leave = threading.Event(), threading.Event()
    seen: list[int] = []

    def user() -> None:
        with guarded.use() as fd:
            seen.append(fd)
            inside.set()
            assert leave.wait(10)
            # The number still works, but no longer reaches the terminal.
            assert os.write(fd, b"late") == 4

    thread = threading.Thread(target=user)
    thread.start()
    assert inside.wait(10)
    guarded.close()
    null = os.stat(os.devnull)
    now = os.fstat(master)
    assert (now.st_rdev, now.st_ino) == (null.st_rdev, null.st_ino)  # /dev/null, not freed
    leave.set()
    thread.join(10)
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        os.fstat(master)
    assert info.value.errno == errno.EBADF  # closed by the last user
    os.close(slave)


def test_use_after_close_fails_without_touching_the_number() -> None:
    master, slave = os.openpty()
    guarded = MasterFd(master)
    guarded.close()
    guarded.close()  # twice is fine: the second must not close a reused number
    with pytest.raises(OSError, match="terminal is closed") as info, guarded.use():
        pass
    assert info.value.errno == errno.EBADF
    os.close(slave)
