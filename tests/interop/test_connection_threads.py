"""The blocking client from several threads over one connection to OpenSSH's sshd.

The contract (packages/ssh-connection/README.md, "Threads"): an ``SSHConnection`` and its
channels may be used from any number of threads at once; a thread blocked on one channel
never stalls another, and the background reader answers keepalives while the application
is busy or asleep. sshd here asks every second (ClientAliveInterval 1) and hangs up after
two unanswered keepalives (ClientAliveCountMax 2), so a reader that stopped for two seconds
would end the connection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import Sshd, SshdFactory

from ssh_connection import sync
from ssh_connection.errors import ChannelClosedError
from ssh_keys import PrivateKey
from ssh_keys.keyfile import read_private_key_file
from ssh_wire import SSHError

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]


@pytest.fixture(scope="module")
def user_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("threadkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return d / "id"


@pytest.fixture(scope="module")
def user_key(user_key_path: Path) -> PrivateKey:
    return read_private_key_file(user_key_path)


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, user_key_path: Path) -> Sshd:
    auth = user_key_path.parent / "authorized_keys"
    auth.write_text(Path(f"{user_key_path}.pub").read_text())
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(auth),
        MaxSessions="30",
        ClientAliveInterval="1",
        ClientAliveCountMax="2",
    )


@pytest.fixture
def conn(sshd: Sshd, user_key: PrivateKey) -> Iterator[sync.SSHConnection]:
    with sync.connect(
        "127.0.0.1", sshd.port, "root", signers=[user_key],
        host_key_check=sync.insecure_accept_any_host_key,
    ) as c:  # fmt: skip
        yield c


def in_threads(count: int, work: object) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait(30)
            work(i)  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a thread never finished"
    return errors


def test_concurrent_runs_from_many_threads_on_one_connection(conn: sync.SSHConnection) -> None:
    def work(i: int) -> None:
        for j in range(4):
            result = conn.run(f"echo out{i}.{j}; echo err{i}.{j} >&2; exit {i + j}", timeout=60)
            assert (result.stdout, result.exit_status) == (f"out{i}.{j}\n".encode(), i + j)
            # (root's shell profile may print its own complaints on stderr first)
            assert result.stderr.endswith(f"err{i}.{j}\n".encode())

    assert in_threads(8, work) == []


def test_bulk_transfers_in_threads_arrive_intact(conn: sync.SSHConnection) -> None:
    blobs = [os.urandom(2 * 1024 * 1024) for _ in range(3)]

    def work(i: int) -> None:
        result = conn.run("cat", input=blobs[i], timeout=120)
        assert result.stdout == blobs[i] and result.exit_status == 0

    assert in_threads(3, work) == []


def test_a_thread_blocked_on_a_silent_channel_stalls_no_one(conn: sync.SSHConnection) -> None:
    silent = conn.open_session()
    silent.exec("exec cat")  # sends nothing until it is sent something
    outcome: list[object] = []
    reading = threading.Event()

    def blocked_reader() -> None:
        reading.set()
        try:
            outcome.append(silent.read(1))  # waits: cat has nothing to say
        except (SSHError, ChannelClosedError) as exc:
            outcome.append(exc)

    reader = threading.Thread(target=blocked_reader)
    reader.start()
    assert reading.wait(30)
    # Meanwhile everything else goes on, from this thread and from others.
    assert conn.run("echo one").stdout == b"one\n"
    assert in_threads(4, lambda i: conn.run(f"exit {i}", timeout=60).exit_status == i) == []
    other = conn.open_session()
    other.exec("exec cat")
    other.write(b"ping")
    assert other.readexactly(4, timeout=60) == b"ping"
    other.close()
    assert reader.is_alive() and outcome == []  # still blocked, and nothing else was
    silent.write(b"!")  # from this thread: the blocked reader gets it
    reader.join(60)
    assert outcome == [b"!"]
    silent.close()


def test_keepalives_are_answered_while_the_application_sleeps(
    sshd: Sshd, user_key: PrivateKey
) -> None:
    with sync.connect(
        "127.0.0.1", sshd.port, "root", signers=[user_key],
        host_key_check=sync.insecure_accept_any_host_key,
    ) as c:  # fmt: skip
        before = sshd.log_text().count(" for keepalive")
        time.sleep(4.5)  # four of sshd's keepalives; two unanswered would end it
        assert c.run("echo alive").stdout == b"alive\n"
    # sshd did ask, and got answers: it logs each reply ("Got 82/4 for keepalive").
    assert sshd.log_text().count(" for keepalive") > before
