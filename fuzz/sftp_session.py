"""A scripted SFTP session between our two cores, for the SFTP fuzz targets.

The client side is a fixed script: INIT (and the limits request the core sends by itself
when the server offers limits@openssh.com), then one pipelined batch of every request kind,
issued as soon as the client is ready. The server side is ``SFTPServerCore`` answering from
``LocalFileSystem`` rooted in a fresh, empty directory. Handles are predictable (the server
numbers them 1, 2, 3, ...), so the batch can name handles it has not been given yet, and a
fresh client replays the recorded server stream exactly: the fuzzer mutates real traffic.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ssh_sftp import OpenFlag, PendingReply, SFTPAttributes, SFTPClientCore, SFTPError
from ssh_sftp.filesystem import LocalFileSystem
from ssh_sftp.server import SFTPServerCore, answer_inline


class Script:
    """The client's requests in phases: each phase is sent once the one before it is
    answered, and may use the handles it returned (a failed open gives a bad handle,
    which the server must refuse cleanly)."""

    def __init__(self, client: SFTPClientCore) -> None:
        self.client = client
        self.replies: list[PendingReply[object]] = []
        self._phases = iter([self._open, self._use, self._paths, self._cleanup])
        self._current: list[PendingReply[object]] = []
        self.finished = False

    def _result(self, reply: PendingReply[object]) -> bytes:
        try:
            value = reply.result()
        except SFTPError:
            return b"bad"
        return value if isinstance(value, bytes) else b"bad"

    def step(self) -> None:
        """Send the next phase if the current one is answered."""
        while not self.finished and all(r.done for r in self._current):
            phase = next(self._phases, None)
            if phase is None or self.client.error is not None:
                self.finished = True
                return
            self._current = phase()
            self.replies += self._current

    def _open(self) -> list[PendingReply[object]]:
        c = self.client
        write = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC
        return [
            c.realpath(b"."),
            c.mkdir(b"d", SFTPAttributes(permissions=0o755)),
            c.open(b"d/f", write, SFTPAttributes(permissions=0o644)),
        ]

    def _use(self) -> list[PendingReply[object]]:
        c, h = self.client, self._result(self._current[2])
        return [
            c.write(h, 0, b"hello, world\n" * 8),
            c.write(h, 4096, b"after a hole"),
            c.fstat(h),
            c.fsetstat(h, SFTPAttributes(mtime=1_000_000, atime=1_000_000)),
            c.fsync(h),
            c.close(h),
            c.close(h),  # closed twice: FAILURE
            c.open(b"d/f", OpenFlag.READ),
            c.open(b"d/copy", OpenFlag.WRITE | OpenFlag.CREAT),
            c.opendir(b"d"),
            c.lstat(b"missing"),  # NO_SUCH_FILE
        ]

    def _paths(self) -> list[PendingReply[object]]:
        c = self.client
        r, w, d = (self._result(x) for x in self._current[7:10])
        return [
            c.read(r, 0, 64),
            c.read(r, 1 << 20, 16),  # past the end: EOF
            c.copy_data(r, 0, 0, w, 0),
            c.close(w),
            c.close(r),
            c.readdir(d),
            c.readdir(d),
            c.close(d),
            c.stat(b"d/f"),
            c.setstat(b"d/f", SFTPAttributes(permissions=0o600)),
            c.lsetstat(b"d/f", SFTPAttributes(permissions=0o640)),
            c.rename(b"d/f", b"d/g"),
            c.posix_rename(b"d/g", b"d/f"),
            c.symlink(b"f", b"d/s"),
            c.readlink(b"d/s"),
            c.hardlink(b"d/f", b"d/h"),
            c.statvfs(b"."),
            c.expand_path(b"~/d"),
            c.home_directory(b""),
            c.users_groups_by_id([os.getuid()], [os.getgid()]),
            c.realpath(b"../../.."),  # served as / whatever the client says
        ]

    def _cleanup(self) -> list[PendingReply[object]]:
        c = self.client
        names = (b"d/h", b"d/s", b"d/copy", b"d/f")
        return [*(c.remove(n) for n in names), c.rmdir(b"d")]


@functools.cache
def _scratch() -> str:
    path = tempfile.mkdtemp(prefix="fuzz-sftp-")
    atexit.register(shutil.rmtree, path, True)
    return path


@contextmanager
def local_filesystem() -> Iterator[LocalFileSystem]:
    """A LocalFileSystem rooted in a fresh, empty directory, closed afterwards."""
    root = os.path.join(_scratch(), "root")
    shutil.rmtree(root, ignore_errors=True)
    os.mkdir(root)
    fs = LocalFileSystem(root)
    try:
        yield fs
    finally:
        fs.close_root()


def frames(data: bytes) -> Iterator[bytes]:
    """Split a byte stream at its SFTP length prefixes (the rest in one piece when a
    length runs past the end)."""
    i = 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        yield data[i : i + 4 + n]
        i += 4 + n


@functools.cache
def record() -> tuple[bytes, bytes]:
    """(what the client sent, what the server sent) in the scripted session."""
    client = SFTPClientCore()
    server = SFTPServerCore()
    sent_by_client = bytearray()
    sent_by_server = bytearray()
    started = client.start()
    script = Script(client)
    with local_filesystem() as fs:
        for _ in range(20):
            out = client.data_to_send()
            sent_by_client += out
            server.receive_data(out)
            answer_inline(server, fs)
            back = server.data_to_send()
            sent_by_server += back
            for piece in frames(back):
                client.receive_data(piece)
                if started.done:
                    script.step()
            if script.finished:
                break
        else:
            raise AssertionError("the scripted SFTP session did not finish")
        server.receive_data(b"")
        answer_inline(server, fs)
    started.result()
    # The recording must be a real session: every request got the answer it expects.
    failed = [i for i, r in enumerate(script.replies) if _failed(r)]
    assert failed == [9, 13], failed  # the second close and the missing file
    assert script.replies[14].result() == (b"hello, world\n" * 8)[:64]
    return bytes(sent_by_client), bytes(sent_by_server)


def _failed(reply: PendingReply[object]) -> bool:
    try:
        reply.result()
    except SFTPError:
        return True
    return False
