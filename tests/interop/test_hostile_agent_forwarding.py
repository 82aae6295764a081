"""An agent-forwarding channel abused to change the agent (SECURITY.md, ssh-agent).

OpenSSH's ``ssh-agent`` holds a key on the client machine; our client forwards it (``ssh
-A``) to a server: our blocking server, our asyncio server, or OpenSSH's sshd. A command
on the server runs OpenSSH's ``ssh-add`` against the forwarded ``SSH_AUTH_SOCK``: listing
works, while adding a key, removing one (``-d``), removing all (``-D``) and locking
(``-x``) are refused by our relay, and the agent is unchanged afterwards. With
``forward_agent_filter=False`` the same ``ssh-add`` gets through: the refusals are the
relay's doing, not the agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openssh_tools import SshdFactory

from ssh_auth import StandardPolicy
from ssh_connection import sync
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key
from ssh_keys.keyfile import read_private_key_file

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-agent") is None, reason="OpenSSH ssh-agent missing"),
]

POLICY = StandardPolicy(password=lambda user, password: password == "pw")


def _keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path


@dataclass
class Keys:
    held: Path  # in the agent from the start
    other: Path  # what the server side tries to add
    user: Path  # logs in to sshd
    askpass: Path  # answers ssh-add -x's lock password


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("agentfwd")
    askpass = d / "askpass"
    askpass.write_text("#!/bin/sh\necho lockpw\n")
    askpass.chmod(0o755)
    return Keys(
        _keygen(d / "held", "held-key"),
        _keygen(d / "other", "other-key"),
        _keygen(d / "user", "user-key"),
        askpass,
    )


@pytest.fixture
def agent(tmp_path: Path, keys: Keys) -> Iterator[Path]:
    """A fresh OpenSSH ssh-agent holding ``keys.held`` (added with OpenSSH's ssh-add)."""
    sock = tmp_path / "agent.sock"
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        assert _local_add(sock, str(keys.held)).returncode == 0
        yield sock
    finally:
        process.terminate()
        process.wait(10)


def _local_add(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """OpenSSH's ssh-add on this (the client's) side, straight to the agent's socket."""
    env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
    return subprocess.run(
        ["ssh-add", *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def _agent_comments(sock: Path) -> list[str]:
    out = _local_add(sock, "-l")
    assert out.returncode == 0, out.stderr  # 1 would also mean "locked" or "no keys"
    return sorted(line.split()[2] for line in out.stdout.splitlines())


@contextlib.contextmanager
def blocking_server() -> Iterator[int]:
    server = SSHServer(
        [generate_private_key("ed25519")], POLICY, session_handler=ProcessHandler(),
        allow_agent_forwarding=True,
    )  # fmt: skip
    server.listen("127.0.0.1", 0)
    try:
        yield server.port
    finally:
        server.close()


@contextlib.contextmanager
def asyncio_server() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    server = AsyncSSHServer(
        [generate_private_key("ed25519")], POLICY, session_handler=AsyncProcessHandler(),
        allow_agent_forwarding=True,
    )  # fmt: skip
    try:
        yield asyncio.run_coroutine_threadsafe(server.listen(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()


Connect = Callable[..., sync.SSHConnection]


@pytest.fixture(scope="module", params=["blocking", "asyncio", "sshd"])
def server(
    request: pytest.FixtureRequest, keys: Keys, sshd_factory: SshdFactory
) -> Iterator[Connect]:
    """connect(forward_agent=..., **options) to the server under test."""
    if request.param == "sshd":
        if shutil.which("sshd") is None or os.geteuid() != 0:
            pytest.skip("sshd interop needs OpenSSH sshd and root")
        authorized = keys.user.parent / "authorized_keys"
        authorized.write_text(Path(f"{keys.user}.pub").read_text())
        authorized.chmod(0o644)
        sshd = sshd_factory.start(
            PermitRootLogin="yes", AuthorizedKeysFile=str(authorized), AllowAgentForwarding="yes"
        )
        user_key = read_private_key_file(keys.user)

        def connect_sshd(**options: Any) -> sync.SSHConnection:
            return sync.connect(
                "127.0.0.1", sshd.port, "root", signers=[user_key],
                host_key_check=sync.insecure_accept_any_host_key, **options,
            )  # fmt: skip

        yield connect_sshd
        return
    start = blocking_server if request.param == "blocking" else asyncio_server
    with start() as port:

        def connect_ours(**options: Any) -> sync.SSHConnection:
            return sync.connect(
                "127.0.0.1", port, "root", password="pw",
                host_key_check=sync.insecure_accept_any_host_key, **options,
            )  # fmt: skip

        yield connect_ours


def _remote_add(conn: sync.SSHConnection, args: str, keys: Keys) -> sync.RunResult:
    """ssh-add on the server side, through the forwarded SSH_AUTH_SOCK."""
    askpass = f"SSH_ASKPASS={keys.askpass} SSH_ASKPASS_REQUIRE=force DISPLAY=:0"
    result = conn.run(f"{askpass} ssh-add {args} </dev/null", timeout=30)
    print(f"ssh-add {args}: {result.exit_status} {result.stderr!r}")
    return result


def test_forwarded_agent_lists_keys(server: Connect, agent: Path, keys: Keys) -> None:
    with server(forward_agent=str(agent)) as conn:
        listed = _remote_add(conn, "-l", keys)
        assert listed.exit_status == 0, listed.stderr
        assert b"held-key" in listed.stdout
        listed = _remote_add(conn, "-L", keys)
        held = Path(f"{keys.held}.pub").read_text().split()[1].encode()
        assert held in listed.stdout


@pytest.mark.parametrize(
    "args",
    ["{other}", "-d {held}.pub", "-D", "-x", "-c {other}", "-t 60 {other}"],
    ids=["add", "remove", "remove-all", "lock", "add-confirm", "add-lifetime"],
)
def test_forwarded_agent_refuses_changes(
    server: Connect, agent: Path, keys: Keys, args: str
) -> None:
    with server(forward_agent=str(agent)) as conn:
        refused = _remote_add(conn, args.format(other=keys.other, held=keys.held), keys)
        assert refused.exit_status != 0
        # The same connection still serves the agent: the refusal did not end the channel.
        assert _remote_add(conn, "-l", keys).exit_status == 0
    assert _agent_comments(agent) == ["held-key"]


def test_unfiltered_forwarded_agent_lets_the_agent_decide(
    server: Connect, agent: Path, keys: Keys
) -> None:
    """forward_agent_filter=False: OpenSSH's agent itself takes the add and the removal,
    so the refusals above came from our relay."""
    with server(forward_agent=str(agent), forward_agent_filter=False) as conn:
        assert _remote_add(conn, str(keys.other), keys).exit_status == 0
        assert _agent_comments(agent) == ["held-key", "other-key"]
        assert _remote_add(conn, f"-d {keys.held}.pub", keys).exit_status == 0
    assert _agent_comments(agent) == ["other-key"]
