"""Child processes for the asyncio seam without stalling the event loop.

asyncio's subprocess machinery forks in the loop's thread and, for a pty, needs a
``preexec_fn`` (the slow fork path, unsafe beside threads): 200 sessions starting at once
stalled every connection for about half a second on pipes, well over a second on ptys
(``bench/bench_spawn.py``). Here ``subprocess.Popen`` runs in a small
pool of spawner threads, the exit is watched with a pidfd in the loop (a thread per child
where the platform has no pidfd), and the loop reads and writes the child's pipes and pty
master as non-blocking descriptors (no executor thread held by an idle shell).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from . import _pipes, _pty

__all__ = ["Child", "LoopFd", "spawn_on_pipes", "spawn_on_pty", "SPAWNERS"]

#: Spawner threads: forks run beside the loop, a few at a time (the machine's cores, not
#: the number of sessions, bound how many help).
SPAWNERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
#: util-linux's setsid(1) with --ctty: a new session whose controlling terminal is its
#: stdin, then exec, all without Python code in the child. False: looked, not there.
_setsid: str | bool | None = None


def _spawners() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SPAWNERS, thread_name_prefix="ssh-spawn")
        return _pool


def _setsid_ctty() -> str | None:
    global _setsid
    if _setsid is None:
        found = shutil.which("setsid")
        _setsid = found if found is not None and _has_ctty_option(found) else False
    return _setsid if isinstance(_setsid, str) else None


def _has_ctty_option(path: str) -> bool:
    try:
        help_text = subprocess.run(  # noqa: S603 - our own probe of a system tool
            [path, "--help"], capture_output=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return b"--ctty" in help_text


class Child:
    """A started child: its pid, and its exit status once the loop has reaped it."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._popen = popen
        self._loop = loop
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = -1
        pidfd_open: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            with contextlib.suppress(OSError):  # ENOSYS (old kernel), EMFILE: a thread waits
                self._pidfd = pidfd_open(popen.pid)
        if self._pidfd >= 0:
            loop.add_reader(self._pidfd, self._reap)
        else:
            threading.Thread(target=self._wait_in_thread, daemon=True).start()

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """None until reaped: until then the pid (and its process group) is still ours."""
        return self._exited.result() if self._exited.done() else None

    def _reap(self) -> None:
        # The pidfd is readable once the child has exited: waitpid returns at once.
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self._exited.set_result(self._popen.wait())

    def _wait_in_thread(self) -> None:
        status = self._popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: no one waits
            self._loop.call_soon_threadsafe(self._set_exited, status)

    def _set_exited(self, status: int) -> None:
        if not self._exited.done():
            self._exited.set_result(status)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


class LoopFd:
    """A non-blocking descriptor (a pipe end, a pty master) the loop reads and writes
    itself: a read or write that would block waits for epoll, holding no thread.

    Only the loop's thread uses it, so :meth:`close` cannot free the number under a read
    in progress; it wakes any waiter first, which then sees the end."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        return self._fd < 0

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; b"" at the end (EOF, EIO from a pty whose child side is
        gone, or closed)."""
        waited = False
        while self._fd >= 0:
            try:
                data = os.read(self._fd, size)
            except BlockingIOError:
                await self._ready(reading=True)
                waited = True
                continue
            except OSError:
                return b""
            if not waited:
                # Data was there at once: let the loop run before the caller goes on, else
                # a command that writes as fast as we relay (a pty gives 4 KiB a read)
                # keeps the loop from everyone else for a whole window's worth.
                await asyncio.sleep(0)
            return data
        return b""

    async def write(self, data: bytes) -> None:
        """All of ``data``, as the reader makes room; dropped if the reader is gone."""
        view = memoryview(data)
        waited = False
        while view and self._fd >= 0:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await self._ready(reading=False)
                waited = True
            except OSError:  # EPIPE, EIO: the command will not read it
                return
        if not waited:
            await asyncio.sleep(0)  # as in read: never a tight loop that skips the loop

    def use(self) -> int:
        """The descriptor for a quick call in the loop (an ioctl); -1 once closed."""
        return self._fd

    async def _ready(self, reading: bool) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        fd = self._fd
        if reading:
            self._readable = waiter
            self._loop.add_reader(fd, wake)
        else:
            self._writable = waiter
            self._loop.add_writer(fd, wake)
        try:
            await waiter
        finally:
            if reading:
                self._readable = None
                if self._fd == fd:
                    self._loop.remove_reader(fd)
            else:
                self._writable = None
                if self._fd == fd:
                    self._loop.remove_writer(fd)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        for waiter, remove in (
            (self._readable, self._loop.remove_reader),
            (self._writable, self._loop.remove_writer),
        ):
            if waiter is not None:
                remove(fd)
                if not waiter.done():
                    waiter.set_result(None)
        os.close(fd)


def _popen(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    stdio: tuple[int, int, int],
    terminal: bool,
) -> subprocess.Popen[bytes]:
    """In a spawner thread: start ``argv`` with ``stdio`` as its 0, 1 and 2, leading a new
    session (signals from the client reach its process group, not us); with
    ``terminal``, ``stdio`` is a pty slave that becomes its controlling terminal."""
    args: list[str] = list(argv)
    new_session = True
    preexec: Callable[[], None] | None = None
    if terminal:
        setsid = _setsid_ctty()
        if setsid is not None:
            # setsid(1) makes the session itself (not a group leader there, it does not
            # fork: the pid stays the command's), TIOCSCTTY on stdin, then exec. Its own
            # failure to exec would be an exit status: look for the program here.
            if shutil.which(args[0], path=env.get("PATH")) is None:
                raise FileNotFoundError(2, "No such file or directory", args[0])
            args = [setsid, "--ctty", *args]
            new_session = False
        else:
            preexec = _pty.take_controlling_terminal  # after setsid: the slave is the ctty
    return subprocess.Popen(  # noqa: S603 - the server's handler chose the command
        args,
        stdin=stdio[0],
        stdout=stdio[1],
        stderr=stdio[2],
        env=dict(env),
        cwd=cwd if cwd and os.path.isdir(cwd) else None,
        start_new_session=new_session,
        preexec_fn=preexec,
    )


def _on_pipes(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """In a spawner thread: the pipes (ours non-blocking later, in the loop), then the
    child. Ours: stdin's write end, stdout's and stderr's read ends."""
    ours: list[int] = []
    theirs: list[int] = []  # the child's 0, 1, 2
    try:
        for index in range(3):
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            ours.append(write_end if index == 0 else read_end)
            theirs.append(read_end if index == 0 else write_end)
        # Wide pipes both ways: a bulk transfer then wakes the loop once per 1 MiB, not 64 KiB.
        _pipes.widen(ours[0])
        _pipes.widen(ours[1])
        popen = _popen(argv, env, cwd, (theirs[0], theirs[1], theirs[2]), terminal=False)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return popen, ours


def _on_pty(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: _pty.Size | None
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """In a spawner thread: a pty of ``size``, then the child on it; ours: the master."""
    master, slave = _pty.open_pty(size)
    try:
        popen = _popen(argv, env, cwd, (slave, slave, slave), terminal=True)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return popen, [master]


async def spawn_on_pipes(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None
) -> tuple[Child, list[int]]:
    """Start ``argv`` on three pipes; (the child, [stdin, stdout, stderr] of ours)."""
    return await _in_spawner(lambda: _on_pipes(argv, env, cwd))


async def spawn_on_pty(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: _pty.Size | None
) -> tuple[Child, int]:
    """Start ``argv`` on a new pty of ``size``, its controlling terminal; (the child,
    the master)."""
    child, fds = await _in_spawner(lambda: _on_pty(argv, env, cwd, size))
    return child, fds[0]


Started = tuple[subprocess.Popen[bytes], list[int]]


async def _in_spawner(start: Callable[[], Started]) -> tuple[Child, list[int]]:
    loop = asyncio.get_running_loop()
    started = loop.run_in_executor(_spawners(), start)
    try:
        popen, fds = await asyncio.shield(started)
    except asyncio.CancelledError:
        # The child starts all the same: kill and reap it rather than leave it behind.
        started.add_done_callback(_abandon)
        raise
    return Child(popen, loop), fds


def _abandon(started: asyncio.Future[Started]) -> None:
    if started.cancelled() or started.exception() is not None:
        return
    popen, fds = started.result()
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.killpg(popen.pid, signal.SIGKILL)
    threading.Thread(target=popen.wait, daemon=True).start()
