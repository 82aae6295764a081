"""OpenSSH's ssh against the server features of ours beyond exec and port forwarding:
agent forwarding (``ssh -A``), host-key announcement (``UpdateHostKeys``), ProxyJump,
ControlMaster, ``-W``, Unix-socket forwarding and keepalives.

One blocking server per module (and an asyncio one where a test says so), commands run
as local subprocesses by ``ProcessHandler``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openssh_tools import SSH, UpperEcho

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH ssh not installed"),
    pytest.mark.wedge_retry,  # issue 11: the blocking server's whole-suite wedge (conftest.py)
]


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("features")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    line = (d / "id.pub").read_text().strip()
    (d / "plain.keys").write_text(line + "\n")
    (d / "noagent.keys").write_text(f"no-agent-forwarding {line}\n")
    (d / "restrict.keys").write_text(f"restrict {line}\n")
    return d


def make_server(
    keydir: Path, keys: str = "plain", host_keys: list[Any] | None = None, **kw: Any
) -> SSHServer:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(f"{keydir}/{keys}.keys"))
    options: dict[str, Any] = {
        "allow_tcp_forwarding": True,
        "allow_agent_forwarding": True,
        "allow_streamlocal_forwarding": True,
    }
    options.update(kw)
    return SSHServer(
        host_keys or [generate_private_key("ed25519")], policy,
        session_handler=ProcessHandler(), **options,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(keydir: Path) -> Iterator[SSHServer]:
    srv = make_server(keydir)
    srv.listen("127.0.0.1", 0)
    yield srv
    srv.close()


def ssh_argv(port: int, keydir: Path, *extra: str, log_level: str = "ERROR") -> list[str]:
    return [
        SSH, "-F", "/dev/null", "-p", str(port), "-i", str(keydir / "id"),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10", "-o", f"LogLevel={log_level}", *extra,
    ]  # fmt: skip


def ssh(
    port: int, keydir: Path, *args: str, input: bytes | None = None,
    env: dict[str, str] | None = None, timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    return subprocess.run(
        [*ssh_argv(port, keydir), *args], input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip


# -- agent forwarding ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openssh_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """OpenSSH's ssh-agent holding one key; yields the environment that points at it."""
    d = tmp_path_factory.mktemp("agent")
    sock = d / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert agent.poll() is None and time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.02)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "forwarded-key",
             "-f", str(d / "k")], check=True,
        )  # fmt: skip
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(d / "k")], env=env, check=True, capture_output=True)
        yield env
    finally:
        agent.terminate()
        agent.wait(10)


def test_ssh_A_lists_the_agent_key_remotely(
    server: SSHServer, keydir: Path, openssh_agent: dict[str, str]
) -> None:
    script = 'stat -c "%a %U" "$SSH_AUTH_SOCK" "$(dirname "$SSH_AUTH_SOCK")"; ssh-add -l'
    done = ssh(server.port, keydir, "-A", "user@127.0.0.1", script, env=openssh_agent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    user = lines[0].split()[1]
    assert lines[:2] == [f"600 {user}", f"700 {user}"]  # socket 0600 in a 0700 directory
    assert "forwarded-key" in lines[2] and "ED25519" in lines[2]


def test_agent_socket_removed_when_the_session_ends(
    server: SSHServer, keydir: Path, openssh_agent: dict[str, str]
) -> None:
    done = ssh(server.port, keydir, "-A", "user@127.0.0.1", 'echo "$SSH_AUTH_SOCK"',
               env=openssh_agent)  # fmt: skip
    path = Path(done.stdout.decode().strip())
    assert path.name.startswith("agent."), done
    deadline = time.monotonic() + 10
    while path.parent.exists():  # the server removes it after the exit status went out
        assert time.monotonic() < deadline, f"{path.parent} is still there"
        time.sleep(0.02)


def test_without_A_there_is_no_agent(
    server: SSHServer, keydir: Path, openssh_agent: dict[str, str]
) -> None:
    done = ssh(server.port, keydir, "user@127.0.0.1", 'echo "[$SSH_AUTH_SOCK]"',
               env=openssh_agent)  # fmt: skip
    assert done.stdout == b"[]\n", done


@pytest.mark.parametrize("keys", ["noagent", "restrict"])
def test_agent_forwarding_refused_by_authorized_keys(
    keydir: Path, openssh_agent: dict[str, str], keys: str
) -> None:
    srv = make_server(keydir, keys)
    srv.listen("127.0.0.1", 0)
    try:
        done = ssh(srv.port, keydir, "-A", "-o", "LogLevel=INFO", "user@127.0.0.1",
                   'echo "[$SSH_AUTH_SOCK]"', env=openssh_agent)  # fmt: skip
        assert done.stdout == b"[]\n", done
    finally:
        srv.close()


def test_agent_forwarding_off_by_default(keydir: Path, openssh_agent: dict[str, str]) -> None:
    srv = make_server(keydir, allow_agent_forwarding=False)
    srv.listen("127.0.0.1", 0)
    try:
        done = ssh(srv.port, keydir, "-A", "user@127.0.0.1", 'echo "[$SSH_AUTH_SOCK]"; ssh-add -l',
                   env=openssh_agent)  # fmt: skip
        assert done.stdout.startswith(b"[]\n"), done
        assert done.returncode != 0  # ssh-add finds no agent
    finally:
        srv.close()


def test_asyncio_server_forwards_the_agent(keydir: Path, openssh_agent: dict[str, str]) -> None:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(f"{keydir}/plain.keys"))

    async def main() -> None:
        async with AsyncSSHServer(
            [generate_private_key("ed25519")], policy,
            session_handler=AsyncProcessHandler(), allow_agent_forwarding=True,
        ) as srv:  # fmt: skip
            port = await srv.listen("127.0.0.1", 0)
            loop = asyncio.get_running_loop()
            done = await loop.run_in_executor(
                None,
                lambda: ssh(
                    port,
                    keydir,
                    "-A",
                    "user@127.0.0.1",
                    "ssh-add -l; ssh-add -l",
                    env=openssh_agent,
                ),
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.count(b"forwarded-key") == 2, done.stdout

    asyncio.run(main())


# -- host-key rotation ------------------------------------------------------------------------


def test_update_host_keys_learns_the_other_host_keys(keydir: Path, tmp_path: Path) -> None:
    """ssh -o UpdateHostKeys=yes knows one of our three host keys; after the login the
    others (proven with signatures over the session id, RSA with rsa-sha2) are recorded."""
    from ssh_keys.keyfile import read_private_key_file

    names = {"ed25519": [], "ecdsa": ["-b", "256"], "rsa": ["-b", "2048"]}
    for name, extra in names.items():
        subprocess.run(["ssh-keygen", "-q", "-t", name, *extra, "-N", "", "-f",
                        str(tmp_path / name)], check=True)  # fmt: skip
    keys = [read_private_key_file(tmp_path / name) for name in names]
    srv = make_server(keydir, host_keys=keys)
    port = srv.listen("127.0.0.1", 0)
    known = tmp_path / "known_hosts"

    def entry(name: str) -> str:
        kind, blob = (tmp_path / f"{name}.pub").read_text().split()[:2]
        return f"{kind} {blob}"

    known.write_text(f"[127.0.0.1]:{port} {entry('ed25519')}\n")
    argv = [
        SSH, "-F", "/dev/null", "-p", str(port), "-i", str(keydir / "id"), "-N",
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
        "-o", "UpdateHostKeys=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "LogLevel=ERROR", "user@127.0.0.1",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not all(entry(name) in known.read_text() for name in names):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, known.read_text()
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)
        srv.close()
    assert entry("ed25519") in known.read_text()  # the known one stays


def test_no_announcement_when_switched_off(keydir: Path, tmp_path: Path) -> None:
    first, second = generate_private_key("ed25519"), generate_private_key("ecdsa")
    srv = make_server(keydir, host_keys=[first, second], announce_host_keys=False)
    port = srv.listen("127.0.0.1", 0)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {first.public_key.to_line()}\n")
    try:
        done = subprocess.run(
            [SSH, "-F", "/dev/null", "-p", str(port), "-i", str(keydir / "id"),
             "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}",
             "-o", "UpdateHostKeys=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "LogLevel=DEBUG", "user@127.0.0.1", "true"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert b"hostkeys-00" not in done.stderr
        assert known.read_text().count("\n") == 1
    finally:
        srv.close()


# -- jumps, multiplexing, -W, Unix sockets, keepalives ------------------------------------------


@pytest.fixture
def echo() -> Iterator[UpperEcho]:
    e = UpperEcho()
    yield e
    e.close()


def talk(address: str | tuple[str, int], payload: bytes, proc: subprocess.Popen[bytes]) -> bytes:
    """Send ``payload`` and read to EOF, once something listens at ``address``."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    deadline = time.monotonic() + 20
    while True:
        s = socket.socket(family)
        try:
            s.connect(address)
            break
        except OSError:
            s.close()
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"nothing listens at {address}"
            time.sleep(0.02)
    with s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


@pytest.fixture(scope="module")
def ssh_config(keydir: Path) -> Path:
    """For the ssh that ProxyJump starts: command-line -i and -o do not reach it."""
    path = keydir / "ssh_config"
    path.write_text(
        f"Host *\n  IdentityFile {keydir / 'id'}\n  IdentitiesOnly yes\n  BatchMode yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    return path


def test_proxy_jump_through_our_server(server: SSHServer, ssh_config: Path) -> None:
    target = make_server(ssh_config.parent)
    target_port = target.listen("127.0.0.1", 0)
    try:
        done = subprocess.run(
            [SSH, "-F", str(ssh_config), "-J", f"jumper@127.0.0.1:{server.port}",
             "-p", str(target_port), "user@127.0.0.1", "echo over the jump"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"over the jump\n"
    finally:
        target.close()


def test_ssh_W_stdio_forwarding(server: SSHServer, keydir: Path, echo: UpperEcho) -> None:
    done = ssh(server.port, keydir, "-W", f"127.0.0.1:{echo.port}", "user@127.0.0.1",
               input=b"stdio through -W")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"STDIO THROUGH -W"


def test_control_master_multiplexing(server: SSHServer, ssh_config: Path, tmp_path: Path) -> None:
    control = tmp_path / "mux"
    base = [SSH, "-F", str(ssh_config), "-S", str(control)]
    master = subprocess.Popen(
        [*base, "-M", "-N", "-p", str(server.port), "user@127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not control.exists():
            assert master.poll() is None, master.communicate()
            assert time.monotonic() < deadline, "no control socket"
            time.sleep(0.02)
        # Port 1 has no server: these sessions can only go through the master's connection.
        for i in range(3):
            done = subprocess.run(
                [*base, "-o", "ControlMaster=no", "-p", "1", "user@127.0.0.1", f"echo mux {i}"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            assert (done.returncode, done.stdout) == (0, f"mux {i}\n".encode()), done.stderr
        done = subprocess.run([*base, "-O", "exit", "user@127.0.0.1"],
                              capture_output=True, timeout=30, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        master.wait(20)
    finally:
        if master.poll() is None:
            master.terminate()
            master.wait(10)


@pytest.mark.slow
def test_server_alive_keepalives_answered(server: SSHServer, keydir: Path) -> None:
    """ssh gives up after two unanswered keepalives a second apart (the server's silence
    for about 3 s); the command stays silent for 4.5 s, so only answers keep it alive."""
    done = ssh(server.port, keydir, "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2",
               "user@127.0.0.1", "sleep 4.5; echo still here")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"still here\n"


def test_local_forward_to_a_unix_socket(server: SSHServer, keydir: Path, tmp_path: Path) -> None:
    remote = UpperEcho(tmp_path / "remote.sock")
    local = str(tmp_path / "local.sock")
    proc = subprocess.Popen(
        [*ssh_argv(server.port, keydir), "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"{local}:{tmp_path / 'remote.sock'}", "user@127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert talk(local, b"to a socket", proc) == b"TO A SOCKET"
        big = os.urandom(1 << 20)
        assert talk(local, big, proc) == big.upper()
    finally:
        proc.terminate()
        proc.wait(10)
        remote.close()


def test_remote_forward_from_a_unix_socket(
    server: SSHServer, keydir: Path, tmp_path: Path, echo: UpperEcho
) -> None:
    remote = str(tmp_path / "listen.sock")
    proc = subprocess.Popen(
        [*ssh_argv(server.port, keydir), "-N", "-o", "ExitOnForwardFailure=yes",
         "-R", f"{remote}:127.0.0.1:{echo.port}", "user@127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert talk(remote, b"from a socket", proc) == b"FROM A SOCKET"
        assert os.stat(remote).st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        proc.wait(10)
    deadline = time.monotonic() + 10
    while os.path.exists(remote):  # removed when the connection ends
        assert time.monotonic() < deadline, "the forwarded socket is still there"
        time.sleep(0.02)


def test_unix_socket_forwarding_refused_when_off(keydir: Path, tmp_path: Path) -> None:
    srv = make_server(keydir, allow_streamlocal_forwarding=False)
    srv.listen("127.0.0.1", 0)
    try:
        done = ssh(srv.port, keydir, "-N", "-o", "ExitOnForwardFailure=yes",
                   "-R", f"{tmp_path / 'no.sock'}:127.0.0.1:1", "user@127.0.0.1")  # fmt: skip
        assert done.returncode == 255 and not (tmp_path / "no.sock").exists(), done
        remote = UpperEcho(tmp_path / "remote.sock")
        local = str(tmp_path / "local.sock")
        proc = subprocess.Popen(
            [*ssh_argv(srv.port, keydir), "-N",
             "-L", f"{local}:{tmp_path / 'remote.sock'}", "user@127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            with contextlib.suppress(ConnectionResetError):  # the channel open is refused
                assert talk(local, b"nope", proc) == b""
        finally:
            proc.terminate()
            proc.wait(10)
            remote.close()
    finally:
        srv.close()


@pytest.mark.parametrize("how", ["restrict", "forwarding_check"])
def test_unix_socket_forwarding_refused_by_restrictions(
    keydir: Path, tmp_path: Path, how: str
) -> None:
    seen: list[tuple[str, str]] = []

    def check(request: Any) -> bool:
        seen.append((request.kind, request.host))
        return False

    if how == "restrict":
        srv = make_server(keydir, "restrict")
    else:
        srv = make_server(keydir, forwarding_check=check)
    srv.listen("127.0.0.1", 0)
    path = tmp_path / "refused.sock"
    try:
        done = ssh(srv.port, keydir, "-N", "-o", "ExitOnForwardFailure=yes",
                   "-R", f"{path}:127.0.0.1:1", "user@127.0.0.1")  # fmt: skip
        assert done.returncode == 255 and not path.exists(), done
    finally:
        srv.close()
    if how == "forwarding_check":
        assert seen == [("streamlocal-forward@openssh.com", str(path))]
