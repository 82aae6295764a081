"""Closing a server with sessions still running, in both front ends: every client sees
the connection end at once, the commands end (SIGHUP, or SIGKILL for one that ignores it
once ``close_grace`` has passed), and ``close`` returns soon after that grace.

OpenSSH's ssh is the client: an exec channel, a shell on a pty and a command that
ignores SIGHUP, all live when the server closes.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ssh_auth import StandardPolicy
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import AuthorizedKeys, generate_private_key

SSH = shutil.which("ssh")
pytestmark = pytest.mark.skipif(SSH is None, reason="OpenSSH ssh not installed")

GRACE = 2.0
#: What close may take beyond the grace: killing, reaping, the pumps ending (generous:
#: the machine is shared; this says close returns, not how fast).
MARGIN = 15.0


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("close") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` exists (an exited child not yet reaped still does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Client:
    """One ``ssh`` running a command (or a shell on a pty) on the server under test."""

    def __init__(self, port: int, key: Path, command: str | None) -> None:
        assert SSH is not None
        argv = [
            SSH, "-F", "/dev/null", "-p", str(port), "-i", str(key),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        argv += ["-tt", "user@127.0.0.1"] if command is None else ["-T", "user@127.0.0.1", command]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is None:  # the shell says who it is
            self.process.stdin.write(b"echo pid:$$\n")
            self.process.stdin.flush()
        self.pid = self._read_pid()

    def _read_pid(self) -> int:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                data = os.read(fd, 4096)
                assert data, f"ssh ended before the command started: {seen!r}"
                seen += data
                found = re.search(rb"pid:(\d+)\r?\n", seen)  # not the echoed "pid:$$"
                if found:
                    return int(found.group(1))
        raise AssertionError(f"no pid from the command: {seen!r}")

    def wait(self) -> int:
        code = self.process.wait(timeout=60)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        return code


COMMANDS: list[str | None] = [
    "echo pid:$$; exec sleep 600",  # exec on pipes: ends with the SIGHUP of the hang-up
    None,  # a login shell on a pty
    "trap '' HUP; echo pid:$$; exec sleep 600",  # ignores SIGHUP: killed after the grace
]


def check_close(port: int, key: Path, close: Callable[[], None]) -> None:
    clients = [Client(port, key, command) for command in COMMANDS]
    pids = [client.pid for client in clients]
    assert all(alive(pid) for pid in pids)
    start = time.monotonic()
    close()
    took = time.monotonic() - start
    print(f"close took {took:.2f} s (grace {GRACE} s)")
    assert took < GRACE + MARGIN
    assert [client.wait() for client in clients] == [255, 255, 255]  # ssh: connection lost
    assert [pid for pid in pids if alive(pid)] == []


def test_blocking_server_closes_live_sessions(key: Path) -> None:
    keys = AuthorizedKeys.from_text(Path(f"{key}.pub").read_text())
    server = SSHServer(
        [generate_private_key("ed25519")],
        StandardPolicy(authorized_keys=lambda user: keys),
        session_handler=ProcessHandler(),
        close_grace=GRACE,
    )
    port = server.listen("127.0.0.1", 0)
    try:
        check_close(port, key, server.close)
    finally:
        server.close(0)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own: the test itself blocks on ssh."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


def test_asyncio_server_closes_live_sessions(key: Path, loop: asyncio.AbstractEventLoop) -> None:
    keys = AuthorizedKeys.from_text(Path(f"{key}.pub").read_text())

    def call(coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(120)  # type: ignore[arg-type]

    async def make() -> AsyncSSHServer:
        return AsyncSSHServer(
            [generate_private_key("ed25519")],
            StandardPolicy(authorized_keys=lambda user: keys),
            session_handler=AsyncProcessHandler(),
            close_grace=GRACE,
        )

    server = call(make())
    assert isinstance(server, AsyncSSHServer)
    port = call(server.listen("127.0.0.1", 0))
    assert isinstance(port, int)
    try:
        check_close(port, key, lambda: call(server.close()))
    finally:
        call(server.close(0))


def test_close_without_sessions_returns_at_once_and_the_grace_defaults_to_5_s(
    key: Path,
) -> None:
    keys = AuthorizedKeys.from_text(Path(f"{key}.pub").read_text())
    server = SSHServer(
        [generate_private_key("ed25519")],
        StandardPolicy(authorized_keys=lambda user: keys),
        session_handler=ProcessHandler(),
    )
    assert server.close_grace == 5.0
    server.listen("127.0.0.1", 0)
    start = time.monotonic()
    server.close()
    print(f"close of an idle server took {time.monotonic() - start:.3f} s")
