"""The connection layer against Paramiko and AsyncSSH, both ways: exec (exit status and
stderr), a shell on a pty, and port forwarding (-L and -R) with each as client against
our server and as server for our client.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
from collections.abc import Iterator
from typing import Any

import asyncssh
import paramiko
import pytest
from openssh_tools import UpperEcho, close_listener

from ssh_auth import StandardPolicy
from ssh_connection import aio, sync
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key

pytestmark = [pytest.mark.interop]

USER, PASSWORD = "peer", "peer-secret"
POLICY = StandardPolicy(password=lambda user, password: (user, password) == (USER, PASSWORD))


@pytest.fixture(scope="module")
def echo() -> Iterator[UpperEcho]:
    e = UpperEcho()
    yield e
    e.close()


def talk(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


async def atalk(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.write_eof()
    out = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return out


# -- Paramiko's client against our blocking server ----------------------------------------------


@pytest.fixture(scope="module")
def our_server() -> Iterator[SSHServer]:
    srv = SSHServer(
        [generate_private_key("ed25519")], POLICY, session_handler=ProcessHandler(),
        allow_tcp_forwarding=True,
    )  # fmt: skip
    srv.listen("127.0.0.1", 0)
    yield srv
    srv.close()


@pytest.fixture
def paramiko_client(our_server: SSHServer) -> Iterator[paramiko.SSHClient]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", our_server.port, USER, PASSWORD, look_for_keys=False,
                   allow_agent=False, timeout=20)  # fmt: skip
    yield client
    client.close()


def test_paramiko_exec(paramiko_client: paramiko.SSHClient) -> None:
    stdin, stdout, stderr = paramiko_client.exec_command("cat; echo err >&2; exit 7")
    stdin.write(b"from paramiko\n")
    stdin.channel.shutdown_write()
    assert stdout.read() == b"from paramiko\n"
    assert stderr.read() == b"err\n"
    assert stdout.channel.recv_exit_status() == 7


def test_paramiko_shell_on_a_pty(paramiko_client: paramiko.SSHClient) -> None:
    channel = paramiko_client.invoke_shell(term="vt100", width=91, height=33)
    channel.sendall(b"stty size; tty; exit 4\n")
    out = b""
    while chunk := channel.recv(65536):
        out += chunk
    assert b"33 91" in out and b"/dev/pts/" in out, out
    assert channel.recv_exit_status() == 4


def test_paramiko_direct_tcpip(paramiko_client: paramiko.SSHClient, echo: UpperEcho) -> None:
    transport = paramiko_client.get_transport()
    assert transport is not None
    channel = transport.open_channel("direct-tcpip", ("127.0.0.1", echo.port), ("127.0.0.1", 1))
    channel.sendall(b"via paramiko -L")
    channel.shutdown_write()
    out = b""
    while chunk := channel.recv(65536):
        out += chunk
    assert out == b"VIA PARAMIKO -L"
    channel.close()


def test_paramiko_remote_forward(paramiko_client: paramiko.SSHClient) -> None:
    transport = paramiko_client.get_transport()
    assert transport is not None
    arrived: queue.Queue[paramiko.Channel] = queue.Queue()
    port = transport.request_port_forward("127.0.0.1", 0, lambda ch, src, dst: arrived.put(ch))
    assert port

    def answer() -> None:
        channel = arrived.get(timeout=20)
        data = b""
        while chunk := channel.recv(65536):
            data += chunk
        channel.sendall(data[::-1])
        channel.close()

    helper = threading.Thread(target=answer, daemon=True)
    helper.start()
    assert talk(port, b"via paramiko -R") == b"R- okimarap aiv"
    helper.join(20)
    transport.cancel_port_forward("127.0.0.1", port)


# -- AsyncSSH's client against our asyncio server -----------------------------------------------


def test_asyncssh_client_against_our_asyncio_server(echo: UpperEcho) -> None:
    async def main() -> None:
        async with AsyncSSHServer(
            [generate_private_key("ed25519")], POLICY, session_handler=AsyncProcessHandler(),
            allow_tcp_forwarding=True,
        ) as srv:  # fmt: skip
            port = await srv.listen("127.0.0.1", 0)
            async with asyncssh.connect(
                "127.0.0.1", port, username=USER, password=PASSWORD, known_hosts=None,
                client_keys=None, agent_path=None, config=None,
            ) as conn:  # fmt: skip
                result = await conn.run("cat; echo err >&2; exit 7", input="from asyncssh\n")
                assert (result.stdout, result.stderr, result.exit_status) == (
                    "from asyncssh\n", "err\n", 7,
                )  # fmt: skip
                shell = await conn.run(
                    "stty size; tty", term_type="xterm", term_size=(92, 34), request_pty="force"
                )
                assert isinstance(shell.stdout, str)
                assert "34 92" in shell.stdout and "/dev/pts/" in shell.stdout, shell.stdout
                local = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
                assert await atalk(local.get_port(), b"asyncssh -L") == b"ASYNCSSH -L"
                local.close()
                remote = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
                assert await atalk(remote.get_port(), b"asyncssh -R") == b"ASYNCSSH -R"
                remote.close()

    asyncio.run(main())


# -- our asyncio client against AsyncSSH's server -------------------------------------------------


class AsyncsshPeer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)

    def connection_requested(self, *args: Any) -> bool:
        return True  # AsyncSSH then connects to the destination itself

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return True


async def asyncssh_session(process: asyncssh.SSHServerProcess[Any]) -> None:
    if process.command is None:  # a shell: report the terminal, echo one line
        width, height, _, _ = process.get_terminal_size()
        process.stdout.write(f"{process.get_terminal_type()} {width}x{height}\n")
        line = await process.stdin.readline()
        process.stdout.write(f"echo: {line}")
        process.exit(3)
        return
    data = await process.stdin.read()
    process.stdout.write(data.upper())
    process.stderr.write("err\n")
    process.exit(7)


def test_our_client_against_asyncssh_server(echo: UpperEcho) -> None:
    async def main() -> None:
        acceptor = await asyncssh.listen(
            "127.0.0.1", 0, server_factory=AsyncsshPeer, config=None,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            process_factory=asyncssh_session,
        )  # fmt: skip
        try:
            async with await aio.connect(
                "127.0.0.1", acceptor.get_port(), USER, password=PASSWORD,
                host_key_check=aio.insecure_accept_any_host_key,
            ) as conn:  # fmt: skip
                result = await conn.run("upper", input=b"ours\n")
                assert (result.stdout, result.stderr, result.exit_status) == (
                    b"OURS\n", b"err\n", 7,
                )  # fmt: skip
                shell = await conn.invoke_shell("vt220", 93, 35)
                assert await shell.readline(timeout=20) == b"vt220 93x35\r\n"
                await shell.write(b"hello\n")
                assert b"echo: hello\r\n" in await shell.read(-1, timeout=20)  # after its echo
                assert await shell.wait(20) == 3
                async with await conn.forward_local("127.0.0.1", echo.port) as local:
                    assert await atalk(local.port, b"ours -L") == b"OURS -L"
                async with await conn.forward_remote("127.0.0.1", echo.port, "127.0.0.1") as remote:
                    assert await atalk(remote.port, b"ours -R") == b"OURS -R"
        finally:
            acceptor.close()
            await acceptor.wait_closed()

    asyncio.run(main())


# -- our blocking client against Paramiko's server ----------------------------------------------


def pump(channel: paramiko.Channel, sock: socket.socket) -> None:
    """Copy both ways between a Paramiko channel and a socket, half-closing, then close."""

    def up() -> None:
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                channel.sendall(data)
        channel.shutdown_write()

    thread = threading.Thread(target=up, daemon=True)
    thread.start()
    with contextlib.suppress(OSError):
        while data := channel.recv(65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    thread.join(20)
    channel.close()
    sock.close()


class ParamikoPeer(paramiko.ServerInterface):
    def __init__(self, transport: paramiko.Transport) -> None:
        self.transport = transport
        self.listeners: list[socket.socket] = []

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = (username, password) == (USER, PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return (
            paramiko.OPEN_SUCCEEDED
            if kind == "session"
            else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def run() -> None:
            data = b""
            while chunk := channel.recv(65536):
                data += chunk
            channel.sendall(command + b": " + data.upper())
            channel.sendall_stderr(b"err\n")
            channel.send_exit_status(7)
            channel.close()

        threading.Thread(target=run, daemon=True).start()
        return True

    def check_channel_pty_request(self, channel: paramiko.Channel, term: bytes, width: int,
                                  height: int, *rest: Any) -> bool:  # fmt: skip
        channel.pty = (term, width, height)  # type: ignore[attr-defined]
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        def run() -> None:
            term, width, height = channel.pty  # type: ignore[attr-defined]
            channel.sendall(b"%s %dx%d\n" % (term, width, height))
            line = b""
            while not line.endswith(b"\n") and (chunk := channel.recv(1)):
                line += chunk
            channel.sendall(b"echo: " + line)
            channel.send_exit_status(3)
            channel.close()

        threading.Thread(target=run, daemon=True).start()
        return True

    def check_channel_direct_tcpip_request(self, chanid: int, origin: Any, destination: Any) -> int:
        def connect() -> None:
            # Paramiko queues every accepted channel, sessions too: find this one.
            while (channel := self.transport.accept(20)) is not None:
                if channel.get_id() == chanid:
                    pump(channel, socket.create_connection(destination, timeout=20))
                    return

        threading.Thread(target=connect, daemon=True).start()
        return paramiko.OPEN_SUCCEEDED

    def check_port_forward_request(self, address: str, port: int) -> int:
        listener = socket.create_server((address, port))
        self.listeners.append(listener)
        bound = listener.getsockname()[1]

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, peer = listener.accept()
                    channel = self.transport.open_forwarded_tcpip_channel(peer, (address, bound))
                    threading.Thread(target=pump, args=(channel, conn), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return bound


@pytest.fixture
def paramiko_server() -> Iterator[int]:
    host_key = paramiko.ECDSAKey.generate()
    listener = socket.create_server(("127.0.0.1", 0))
    peers: list[ParamikoPeer] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                transport = paramiko.Transport(conn)
                transport.add_server_key(host_key)
                peer = ParamikoPeer(transport)
                peers.append(peer)
                transport.start_server(server=peer)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    close_listener(listener)
    for peer in peers:
        for sock in peer.listeners:
            close_listener(sock)
        peer.transport.close()


def test_our_client_against_paramiko_server(paramiko_server: int, echo: UpperEcho) -> None:
    with sync.connect(
        "127.0.0.1", paramiko_server, USER, password=PASSWORD,
        host_key_check=sync.insecure_accept_any_host_key,
    ) as conn:  # fmt: skip
        result = conn.run("upper", input=b"ours\n")
        assert (result.stdout, result.stderr, result.exit_status) == (b"upper: OURS\n", b"err\n", 7)
        shell = conn.invoke_shell("vt220", 94, 36)
        assert shell.readline(timeout=20) == b"vt220 94x36\n"
        shell.write(b"hello\n")
        assert shell.readline(timeout=20) == b"echo: hello\n"
        assert shell.wait(20) == 3
        with conn.forward_local("127.0.0.1", echo.port) as local:
            assert talk(local.port, b"ours -L") == b"OURS -L"
        with conn.forward_remote("127.0.0.1", echo.port, "127.0.0.1") as remote:
            assert talk(remote.port, b"ours -R") == b"OURS -R"
