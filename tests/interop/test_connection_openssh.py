"""ssh-connection interop: our client (both front ends) against OpenSSH's sshd.

One sshd for the module, logging in as root with an ed25519 key made by ssh-keygen.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import Sshd, SshdFactory, UpperEcho

from ssh_connection import aio, sync
from ssh_connection.errors import RequestRefused
from ssh_keys import PrivateKey
from ssh_keys.keyfile import read_private_key_file

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def user_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("connkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return d / "id"


@pytest.fixture(scope="module")
def user_key(user_key_path: Path) -> PrivateKey:
    return read_private_key_file(user_key_path)


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, user_key_path: Path) -> Sshd:
    auth = user_key_path.parent / "authorized_keys"
    auth.write_text(Path(f"{user_key_path}.pub").read_text())
    auth.chmod(0o644)
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(auth),
        AllowTcpForwarding="yes",
        GatewayPorts="no",
        MaxSessions="20",
    )


@pytest.fixture
def conn(sshd: Sshd, user_key: PrivateKey) -> Iterator[sync.SSHConnection]:
    with sync.connect(
        "127.0.0.1", sshd.port, "root", signers=[user_key],
        host_key_check=sync.insecure_accept_any_host_key,
    ) as c:  # fmt: skip
        yield c


def aconnect(sshd: Sshd, key: PrivateKey):  # type: ignore[no-untyped-def]
    return aio.connect(
        "127.0.0.1", sshd.port, "root", signers=[key],
        host_key_check=aio.insecure_accept_any_host_key,
    )  # fmt: skip


# -- run() ------------------------------------------------------------------------------------


def test_run_exit_status_and_output(conn: sync.SSHConnection) -> None:
    result = conn.run("echo out; echo err >&2; exit 3")
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    assert result.exit_status == 3 and result.exit_signal is None


def test_run_exit_signal(conn: sync.SSHConnection) -> None:
    result = conn.run("kill -TERM $$")
    assert result.exit_status is None
    assert result.exit_signal is not None and result.exit_signal.signal == "TERM"


def test_run_stdin(conn: sync.SSHConnection) -> None:
    result = conn.run("tr a-z A-Z", input=b"hello\n")
    assert result.stdout == b"HELLO\n" and result.exit_status == 0


def test_run_many_sequential_and_concurrent(conn: sync.SSHConnection) -> None:
    for i in range(5):
        assert conn.run(f"echo {i}").stdout == f"{i}\n".encode()
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        results[i] = conn.run(f"sleep 0.2; echo {i}").stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: f"{i}\n".encode() for i in range(8)}


def test_exec_command_paramiko_style(conn: sync.SSHConnection) -> None:
    stdin, stdout, stderr = conn.exec_command("read x; echo got $x; echo e >&2; exit 7")
    stdin.write(b"line\n")
    stdin.close()
    assert stdout.readline() == b"got line\n"
    assert stdout.read() == b""
    assert stderr.read() == b"e\n"
    assert stdout.channel.wait() == 7


def test_session_env_and_refused_subsystem(conn: sync.SSHConnection) -> None:
    with conn.open_session() as channel, pytest.raises(RequestRefused):
        channel.subsystem("no-such-subsystem")


def _read_until(channel: sync.SSHChannel, marker: bytes) -> bytes:
    out = b""
    while marker not in out:
        chunk = channel.read(4096, timeout=10)
        assert chunk, out
        out += chunk
    return out


def test_invoke_shell_with_pty(conn: sync.SSHConnection) -> None:
    channel = conn.invoke_shell(width=100, height=30)
    channel.write(b"stty size\n")
    _read_until(channel, b"30 100")
    channel.resize(120, 40)
    channel.write(b"stty size; exit 5\n")
    _read_until(channel, b"40 120")
    assert channel.wait(10) == 5


def test_signal_request_reaches_sshd(conn: sync.SSHConnection, sshd: Sshd) -> None:
    # sshd takes the request but delivers signals only for privilege-separated sessions,
    # not for root's: that it arrived is what we can check here.
    channel = conn.open_session()
    channel.exec("echo ready; exec sleep 30")
    assert channel.readline(timeout=10) == b"ready\n"
    channel.send_signal("TERM")
    channel.close()
    assert "req signal" in sshd.log_text()


# -- bulk -------------------------------------------------------------------------------------


def _bulk(size: int) -> bytes:
    block = hashlib.sha256(b"bulk").digest() * (MIB // 32)
    return (block * (size // len(block) + 1))[:size]


def test_bulk_cat_round_trip_sync(conn: sync.SSHConnection) -> None:
    data = _bulk(64 * MIB)
    result = conn.run("cat", input=data, timeout=120)
    assert result.exit_status == 0
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(data).digest()


def test_bulk_cat_round_trip_asyncio(sshd: Sshd, user_key: PrivateKey) -> None:
    data = _bulk(64 * MIB)

    async def main() -> bytes:
        async with await aconnect(sshd, user_key) as c:
            result = await c.run("cat", input=data, timeout=120)
            assert result.exit_status == 0
            return result.stdout

    out = asyncio.run(main())
    assert hashlib.sha256(out).digest() == hashlib.sha256(data).digest()


@pytest.mark.slow
def test_bulk_cat_round_trip_sync_512mib(conn: sync.SSHConnection) -> None:
    data = _bulk(512 * MIB)
    result = conn.run("cat", input=data, timeout=600)
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(data).digest()


def test_asyncio_run_and_exec(sshd: Sshd, user_key: PrivateKey) -> None:
    async def main() -> None:
        async with await aconnect(sshd, user_key) as c:
            results = await asyncio.gather(*(c.run(f"echo {i}; exit {i}") for i in range(6)))
            assert [r.exit_status for r in results] == list(range(6))
            stdin, stdout, stderr = await c.exec_command("cat; echo e >&2")
            await stdin.write(b"abc")
            await stdin.close()
            assert await stdout.read() == b"abc"
            assert await stderr.read() == b"e\n"
            assert await stdout.channel.wait() == 0

    asyncio.run(main())


# -- forwarding -------------------------------------------------------------------------------


@pytest.fixture
def echo() -> Iterator[UpperEcho]:
    server = UpperEcho()
    yield server
    server.close()


def _talk(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_local_forward_through_sshd(conn: sync.SSHConnection, echo: UpperEcho) -> None:
    with conn.forward_local("127.0.0.1", echo.port) as forward:
        assert _talk(forward.port, b"hello") == b"HELLO"
        big = os.urandom(3 * MIB)
        assert _talk(forward.port, big) == big.upper()


def test_direct_tcpip_channel(conn: sync.SSHConnection, echo: UpperEcho) -> None:
    with conn.open_direct_tcpip("127.0.0.1", echo.port) as channel:
        channel.write(b"abc")
        channel.write_eof()
        assert channel.read() == b"ABC"


def test_remote_forward_port_zero(conn: sync.SSHConnection, echo: UpperEcho) -> None:
    with conn.forward_remote("127.0.0.1", echo.port, "127.0.0.1", 0) as forward:
        assert forward.port > 0
        assert _talk(forward.port, b"remote") == b"REMOTE"
    # cancelled: sshd no longer listens there
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", forward.port), timeout=2).close()


def test_remote_forward_asyncio(sshd: Sshd, user_key: PrivateKey, echo: UpperEcho) -> None:
    async def main() -> None:
        async with await aconnect(sshd, user_key) as c:
            async with await c.forward_remote("127.0.0.1", echo.port, "127.0.0.1", 0) as fwd:
                out = await asyncio.get_running_loop().run_in_executor(
                    None, _talk, fwd.port, b"x" * 100000
                )
                assert out == b"X" * 100000
            async with await c.forward_local("127.0.0.1", echo.port) as local:
                out = await asyncio.get_running_loop().run_in_executor(
                    None, _talk, local.port, b"y" * 100000
                )
                assert out == b"Y" * 100000

    asyncio.run(main())


def _socks5(port: int, host: bytes, dest_port: int, data: bytes) -> bytes:
    """A SOCKS5 CONNECT by hand (as curl --socks5-hostname does), then one echo."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + dest_port.to_bytes(2, "big"))
        reply = sock.recv(10)
        assert reply[:2] == b"\x05\x00", reply
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def _socks4(port: int, dest_port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x04\x01" + dest_port.to_bytes(2, "big") + b"\x7f\x00\x00\x01me\x00")
        assert sock.recv(8)[:2] == b"\x00\x5a"
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_dynamic_forward_socks_through_sshd(conn: sync.SSHConnection, echo: UpperEcho) -> None:
    with conn.forward_socks() as proxy:
        assert _socks5(proxy.port, b"localhost", echo.port, b"via socks5") == b"VIA SOCKS5"
        assert _socks4(proxy.port, echo.port, b"via socks4") == b"VIA SOCKS4"
        # A port nobody listens on: sshd's open fails, the client gets a SOCKS refusal.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            sock.sendall(b"\x05\x01\x00")
            assert sock.recv(2) == b"\x05\x00"
            sock.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x01")  # 127.0.0.1:1
            assert sock.recv(10)[:2] != b"\x05\x00"


def test_dynamic_forward_asyncio(sshd: Sshd, user_key: PrivateKey, echo: UpperEcho) -> None:
    async def main() -> None:
        async with await aconnect(sshd, user_key) as c:
            proxy = await c.forward_socks()
            try:
                out = await asyncio.get_running_loop().run_in_executor(
                    None, _socks5, proxy.port, b"127.0.0.1", echo.port, b"z" * 100000
                )
                assert out == b"Z" * 100000
            finally:
                await proxy.close()

    asyncio.run(main())


def test_keepalives_to_sshd_are_answered(sshd: Sshd, user_key: PrivateKey) -> None:
    """ServerAliveInterval: a quiet connection asks sshd; sshd's answers keep it open."""
    with sync.connect(
        "127.0.0.1", sshd.port, "root", signers=[user_key],
        host_key_check=sync.insecure_accept_any_host_key,
        keepalive_interval=0.2, keepalive_count_max=2,
    ) as c:  # fmt: skip
        time.sleep(1.5)  # about seven keepalives, two unanswered would end it
        assert c.run("echo alive").stdout == b"alive\n"
    assert "keepalive@openssh.com" in sshd.log_text()  # sshd saw them (LogLevel DEBUG3)


def test_agent_forwarding_into_sshd(sshd: Sshd, user_key: PrivateKey, tmp_path: Path) -> None:
    """ssh -A: sshd's session sees our (OpenSSH) agent through the forwarded channel."""
    from ssh_agent.sync import AgentClient
    from ssh_keys import generate_private_key

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        forwarded = generate_private_key("ed25519", comment="forwarded-key")
        with AgentClient.connect(sock) as client:
            client.add(forwarded)
        with sync.connect(
            "127.0.0.1", sshd.port, "root", signers=[user_key],
            host_key_check=sync.insecure_accept_any_host_key, forward_agent=str(sock),
        ) as c:  # fmt: skip
            listed = c.run("ssh-add -L")
            assert listed.exit_status == 0, listed.stderr
            assert forwarded.public_key.to_line().split()[1].encode() in listed.stdout
            # Over a forwarded connection keys cannot be removed (session-bind, and our
            # relay refuses it itself).
            assert c.run("ssh-add -D").exit_status != 0
        with AgentClient.connect(sock) as client:
            assert [k.comment for k in client.list_identities()] == ["forwarded-key"]
        with sync.connect(
            "127.0.0.1", sshd.port, "root", signers=[user_key],
            host_key_check=sync.insecure_accept_any_host_key,
        ) as c:  # fmt: skip
            assert c.run("ssh-add -L").exit_status != 0  # not forwarded unless asked
    finally:
        agent.terminate()
        agent.wait(10)
