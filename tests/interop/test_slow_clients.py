"""Load: 100 connections that never finish the handshake (silent, a version line at one
byte a second, stopped in the middle of the key exchange) against our servers, asyncio and
blocking. OpenSSH's ssh and our client still log in beside them, the server drops them at
its login grace time, and ``max_startups`` bounds how many may wait: past it a new
connection is closed at once, and once the grace time has cleared the flood clients get in
again (sshd's MaxStartups and LoginGraceTime)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openssh_tools import SSH

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection import sync
from ssh_connection.aio_server import AsyncServerSession, AsyncSSHServer
from ssh_connection.startups import StartupLimit
from ssh_connection.sync_server import ServerSession, SSHServer
from ssh_keys import generate_private_key
from ssh_keys.keyfile import read_private_key_file
from ssh_transport import Role, Transport

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH ssh not installed"),
]

HOSTILE = 100
#: Long enough to fill max_startups before the flood times out on a loaded machine.
GRACE = 12.0
#: Room for the flood and the logins; ``EXTRA`` more silent sockets then reach the bound.
START = HOSTILE + 10
EXTRA = 10


@dataclass
class Running:
    port: int
    startups: StartupLimit
    stop: Callable[[], None]


def hello_sync(session: ServerSession) -> int:
    session.channel.write(b"hello\n")
    return 0


async def hello_async(session: AsyncServerSession) -> int:
    await session.channel.write(b"hello\n")
    return 0


def start_async(policy: StandardPolicy) -> Running:
    """The asyncio server on an event loop in a thread of its own."""
    ready: list[tuple[int, AsyncSSHServer]] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()

    async def main() -> None:
        server = AsyncSSHServer(
            [generate_private_key("ed25519")], policy, session_handler=hello_async,
            login_grace_time=GRACE, max_startups=(START, 30, START + EXTRA),
        )  # fmt: skip
        ready.append((await server.listen("127.0.0.1", 0), server))
        started.set()
        await stopping.wait()
        await server.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30)
    port, server = ready[0]
    assert server.startups is not None

    def stop() -> None:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(30)
        loop.close()

    return Running(port, server.startups, stop)


def start_blocking(policy: StandardPolicy) -> Running:
    server = SSHServer(
        [generate_private_key("ed25519")], policy, session_handler=hello_sync,
        login_grace_time=GRACE, max_startups=(START, 30, START + EXTRA),
    )  # fmt: skip
    port = server.listen("127.0.0.1", 0)
    assert server.startups is not None
    return Running(port, server.startups, server.close)


@pytest.fixture(params=["asyncio", "blocking"])
def running(request: pytest.FixtureRequest, keydir: Path) -> Iterator[Running]:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(keydir / "keys"))
    server = (start_async if request.param == "asyncio" else start_blocking)(policy)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("slowclients")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    (d / "keys").write_text((d / "id.pub").read_text())
    return d


# -- the hostile connections ---------------------------------------------------------------


class Flood:
    """Sockets that never finish a handshake: a third silent, a third sending a version
    line one byte a second, a third stopped after their KEXINIT (the key exchange's next
    step never comes)."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets: list[socket.socket] = []
        self._trickling: list[socket.socket] = []
        self._stop = threading.Event()
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.sockets.append(sock)
            if i % 3 == 1:
                self._trickling.append(sock)
            elif i % 3 == 2:
                client = Transport(Role.CLIENT, now=time.monotonic())
                sock.sendall(client.data_to_send())  # version line and KEXINIT, no more
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        line = b"SSH-2.0-one_byte_a_second_for_ever_and_ever_and_ever_and_ever\r\n"
        for byte in line:
            for sock in list(self._trickling):
                try:
                    sock.send(bytes([byte]))
                except OSError:  # the server closed it
                    self._trickling.remove(sock)
            if self._stop.wait(1.0):
                return

    def wait_all_closed_by_server(self, timeout: float = 120) -> list[int]:
        """Read each socket to its end (what the server said first: its version line and
        KEXINIT); the indexes of those still open after ``timeout``."""
        deadline = time.monotonic() + timeout
        still_open = []
        for i, sock in enumerate(self.sockets):
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while sock.recv(65536):
                    pass
            except TimeoutError:
                still_open.append(i)
            except OSError:  # reset: closed as well
                pass
        return still_open

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.sockets:
            sock.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_in_with_ssh(port: int, keydir: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SSH, "-F", "/dev/null", "-p", str(port), "-i", str(keydir / "id"),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
         "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR", "user@127.0.0.1", "hi"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def log_in_with_ours(port: int, keydir: Path) -> bytes:
    with sync.connect(
        "127.0.0.1", port, "user", signers=[read_private_key_file(keydir / "id")],
        host_key_check=sync.insecure_accept_any_host_key, timeout=60,
    ) as conn:  # fmt: skip
        result = conn.run("hi", timeout=60)
    assert result.exit_status == 0
    return result.stdout


def dropped(sock: socket.socket) -> bool:
    """Whether the server closed this new connection before saying a word (no version
    line); reading its first bytes also waits until the server has decided."""
    try:
        return sock.recv(8) == b""
    except ConnectionResetError:
        return True


# -- the test ----------------------------------------------------------------------------------


def test_clients_log_in_beside_a_slow_loris_flood_and_the_flood_is_dropped_at_grace_time(
    running: Running, keydir: Path
) -> None:
    flood = Flood(running.port, HOSTILE)
    try:
        wait_for(lambda: running.startups.pending >= HOSTILE, "the server to take the flood")
        # max_startups (START, 30, START + EXTRA): below START every new connection is
        # served, past it some are dropped, at START + EXTRA all of them.
        with contextlib.ExitStack() as extra:
            served = []
            for _ in range(1000):
                if running.startups.pending >= START + EXTRA:
                    break
                sock = extra.enter_context(socket.create_connection(("127.0.0.1", running.port)))
                served.append(not dropped(sock))
            assert served[: START - HOSTILE] == [True] * (START - HOSTILE)
            assert running.startups.pending == START + EXTRA
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", running.port)) as sock:
                    assert dropped(sock)
        wait_for(lambda: running.startups.pending <= HOSTILE, "the extra ones to be gone")
        # Below max_startups' start: logins beside the flood always get in.
        ssh = log_in_with_ssh(running.port, keydir)
        assert (ssh.returncode, ssh.stdout) == (0, b"hello\n"), ssh.stderr
        assert log_in_with_ours(running.port, keydir) == b"hello\n"
        # The login grace time ends every one of the flood's connections.
        assert flood.wait_all_closed_by_server() == []
        wait_for(lambda: running.startups.pending == 0, "every startup to be released")
    finally:
        flood.close()
