"""Hostile forwarding requests: a client (our own client API, which sends whatever it is
given) asks the asyncio and the blocking server to connect to or listen on host names with
NUL, over-long names, ports past 65535 and impossible Unix socket paths. Each is refused
(CONNECT_FAILED, or REQUEST_FAILURE for a global request); the same connection then gets a
normal forward through, and another client can still log in. These values made
getaddrinfo, bind and connect raise in the server's worker, and the open or request was
never answered: the client hung.

The other way round: a hostile server (the library's server core, no server front end)
opens forwarded-tcpip, forwarded-streamlocal and x11 channels with such values to our
client, which refuses each without an exception and keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import ssh_transport.sync_backend as sync_backend
from ssh_auth import StandardPolicy
from ssh_auth.sync import authenticate, serve
from ssh_connection import forwarding as fw
from ssh_connection import sync
from ssh_connection._sync_channels import ChannelMux
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.connection import ConnectionCore
from ssh_connection.errors import ChannelOpenError, RequestRefused
from ssh_connection.restrictions import ForwardRequest
from ssh_connection.sync_server import ServerSession, SSHServer
from ssh_keys import generate_private_key
from ssh_transport import HostKey, Role, TransportConfig
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import ChannelOpenFailure

HOST_KEY = generate_private_key("ed25519")
POLICY = StandardPolicy(password=lambda user, password: password == "pw")
#: Seconds to wait for an answer: the bug was no answer at all.
ANSWER_TIMEOUT = 10.0

#: Host names and ports no lookup may see, by what is wrong with them.
HOSTILE_DESTINATIONS = {
    "NUL in the host name": ("127.0.0.1\0.example", 22),
    "host name over 255 bytes": ("a" * 256, 22),
    "newline in the host name": ("host\nname", 22),
    "port past 65535": ("127.0.0.1", 70000),
    "port 2**32-1": ("127.0.0.1", 0xFFFFFFFF),
    # Passes the checker; IDNA refuses a label over 63 bytes with UnicodeError, not OSError.
    "label over 63 bytes": ("a" * 100 + ".example", 22),
}
#: What a client never looks up in a server's forwarded-tcpip (the label is fine there).
CLIENT_HOSTILE = {k: v for k, v in HOSTILE_DESTINATIONS.items() if k != "label over 63 bytes"}
HOSTILE_PATHS = {
    "NUL in the path": "/tmp/a\0b.sock",
    "path over sun_path": "/tmp/" + "s" * 200,
    "empty path": "",
}


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


class EchoListener:
    """A TCP or Unix echo server on a thread: the destination of the normal forwards."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


@dataclass
class World:
    kind: str
    port: int  # the SSH server's
    echo_port: int
    echo_path: str
    tmp: str

    def connect(self) -> sync.SSHConnection:
        return sync.connect(
            "127.0.0.1", self.port, "mallory", password="pw",
            host_key_check=sync.insecure_accept_any_host_key,
        )  # fmt: skip


def echo_session(session: ServerSession) -> int:
    while data := session.channel.read(1 << 16):
        session.channel.write(data)
    return 0


#: The port the servers' forwarding_check refuses (a destination refused by policy).
POLICY_REFUSED_PORT = 1


def forwarding_check(request: ForwardRequest) -> bool:
    return request.port != POLICY_REFUSED_PORT


SERVER_OPTIONS: dict[str, Any] = {
    "forwarding_check": forwarding_check,
    "allow_tcp_forwarding": True,
    "allow_streamlocal_forwarding": True,
    "gateway_ports": True,  # the client's listen address reaches bind, not just 127.0.0.1
}


@contextlib.contextmanager
def blocking_server() -> Iterator[int]:
    server = SSHServer([HOST_KEY], POLICY, session_handler=echo_session, **SERVER_OPTIONS)
    runner = threading.Thread(target=server.serve_forever, args=("127.0.0.1", 0), daemon=True)
    runner.start()
    for _ in range(500):
        if server.port:
            break
        time.sleep(0.01)
    try:
        yield server.port
    finally:
        server.close()
        runner.join(10)


@contextlib.contextmanager
def asyncio_server() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    server = AsyncSSHServer([HOST_KEY], POLICY, **SERVER_OPTIONS)
    try:
        yield asyncio.run_coroutine_threadsafe(server.listen(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()


@pytest.fixture(scope="module")
def thread_errors() -> Iterator[list[BaseException]]:
    """Exceptions that escaped any thread (a blocking server's worker dying)."""
    seen: list[BaseException] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            seen.append(args.exc_value)
        previous(args)

    threading.excepthook = hook
    yield seen
    threading.excepthook = previous


@pytest.fixture(scope="module", params=["asyncio", "blocking"])
def world(request: pytest.FixtureRequest, thread_errors: list[BaseException]) -> Iterator[World]:
    tcp = EchoListener(socket.create_server(("127.0.0.1", 0)))
    tmp = tempfile.mkdtemp(prefix="hostile-", dir="/tmp")  # short: sun_path is 108 bytes
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    echo_path = os.path.join(tmp, "echo.sock")
    unix.bind(echo_path)
    unix.listen(16)
    uecho = EchoListener(unix)
    start = asyncio_server if request.param == "asyncio" else blocking_server
    try:
        with start() as port:
            yield World(request.param, port, tcp.sock.getsockname()[1], echo_path, tmp)
    finally:
        tcp.close()
        uecho.close()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    assert not thread_errors, thread_errors


def _round_trip(sock: socket.socket, data: bytes = b"still serving") -> bytes:
    with sock:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def _channel_round_trip(channel: sync.SSHChannel, data: bytes = b"still serving") -> bytes:
    channel.write(data)
    got = channel.readexactly(len(data), timeout=ANSWER_TIMEOUT)
    channel.close()
    return got


def _global(conn: sync.SSHConnection, action: Callable[[ConnectionCore], None], name: str) -> None:
    conn.mux.global_request(action, name, timeout=ANSWER_TIMEOUT)


def _another_client_logs_in(world: World) -> None:
    with world.connect() as other:
        channel = other.open_direct_tcpip("127.0.0.1", world.echo_port, timeout=ANSWER_TIMEOUT)
        assert _channel_round_trip(channel) == b"still serving"


# -- the client asks the server -----------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE_DESTINATIONS)
def test_direct_tcpip_to_hostile_destination_is_refused(world: World, case: str) -> None:
    host, port = HOSTILE_DESTINATIONS[case]
    with world.connect() as conn:
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_tcpip(host, port, timeout=ANSWER_TIMEOUT)
        assert refused.value.reason == ChannelOpenFailure.CONNECT_FAILED
        print(f"{world.kind}: {case}: {refused.value.description}")
        channel = conn.open_direct_tcpip("127.0.0.1", world.echo_port, timeout=ANSWER_TIMEOUT)
        assert _channel_round_trip(channel) == b"still serving"
    _another_client_logs_in(world)


def test_direct_tcpip_refusal_says_why(world: World) -> None:
    with world.connect() as conn:
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_tcpip("a\0b", 22, timeout=ANSWER_TIMEOUT)
        assert "NUL" in refused.value.description
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_tcpip("127.0.0.1", 65536, timeout=ANSWER_TIMEOUT)
        assert "65536" in refused.value.description


def test_direct_tcpip_from_hostile_originator_is_refused(world: World) -> None:
    with world.connect() as conn:
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_tcpip(
                "127.0.0.1", world.echo_port, "x\0y", 99999, timeout=ANSWER_TIMEOUT
            )
        assert refused.value.reason == ChannelOpenFailure.CONNECT_FAILED
        channel = conn.open_direct_tcpip("127.0.0.1", world.echo_port, timeout=ANSWER_TIMEOUT)
        assert _channel_round_trip(channel) == b"still serving"


@pytest.mark.parametrize("case", HOSTILE_DESTINATIONS)
def test_tcpip_forward_on_hostile_address_is_refused(world: World, case: str) -> None:
    host, port = HOSTILE_DESTINATIONS[case]
    with world.connect() as conn:
        with pytest.raises(RequestRefused):
            _global(conn, lambda core: core.request_tcpip_forward(host, port), fw.TCPIP_FORWARD)
        forward = conn.forward_remote("127.0.0.1", world.echo_port, "127.0.0.1", 0)
        try:
            assert _round_trip(socket.create_connection(("127.0.0.1", forward.port), 10)) == (
                b"still serving"
            )
        finally:
            forward.close()
    _another_client_logs_in(world)


@pytest.mark.parametrize("case", HOSTILE_PATHS)
def test_direct_streamlocal_to_hostile_path_is_refused(world: World, case: str) -> None:
    with world.connect() as conn:
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_streamlocal(HOSTILE_PATHS[case], timeout=ANSWER_TIMEOUT)
        assert refused.value.reason == ChannelOpenFailure.CONNECT_FAILED
        print(f"{world.kind}: {case}: {refused.value.description}")
        channel = conn.open_direct_streamlocal(world.echo_path, timeout=ANSWER_TIMEOUT)
        assert _channel_round_trip(channel) == b"still serving"
    _another_client_logs_in(world)


@pytest.mark.parametrize("case", HOSTILE_PATHS)
def test_streamlocal_forward_on_hostile_path_is_refused(world: World, case: str) -> None:
    path = HOSTILE_PATHS[case]
    with world.connect() as conn:
        with pytest.raises(RequestRefused):
            _global(
                conn, lambda core: core.request_streamlocal_forward(path), fw.STREAMLOCAL_FORWARD
            )
        listen = os.path.join(world.tmp, f"fwd-{os.getpid()}-{threading.get_ident()}.sock")
        forward = conn.forward_remote_path(listen, dest_host="127.0.0.1", dest_port=world.echo_port)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(ANSWER_TIMEOUT)
            sock.connect(listen)
            assert _round_trip(sock) == b"still serving"
        finally:
            forward.close()
    _another_client_logs_in(world)


def test_direct_tcpip_refused_by_policy_is_administratively_prohibited(world: World) -> None:
    with world.connect() as conn:
        with pytest.raises(ChannelOpenError) as refused:
            conn.open_direct_tcpip("127.0.0.1", POLICY_REFUSED_PORT, timeout=ANSWER_TIMEOUT)
        assert refused.value.reason == ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED


# -- SOCKS (the client's ssh -D) in front of it -----------------------------------------------


def _socks5(port: int, request: bytes) -> tuple[bytes, bytes]:
    """A SOCKS5 CONNECT ``request`` (after the version, command and reserved bytes):
    the proxy's reply and what follows it until the proxy closes (b"" for a refusal)."""
    with socket.create_connection(("127.0.0.1", port), ANSWER_TIMEOUT) as sock:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        sock.sendall(b"\x05\x01\x00" + request)
        reply = b""
        while len(reply) < 10:
            chunk = sock.recv(10 - len(reply))
            if not chunk:
                break
            reply += chunk
        if reply[1:2] == b"\x00":
            sock.sendall(b"through socks")
            return reply, sock.recv(65536)
        return reply, sock.recv(65536)  # b"": the proxy closed after its refusal


def _socks5_to(port: int, host: bytes, dest: int) -> tuple[bytes, bytes]:
    return _socks5(port, b"\x03" + bytes([len(host)]) + host + dest.to_bytes(2, "big"))


SOCKS_HOSTILE = {
    "NUL in the domain name": (b"\x03\x09127.0\x00.0.1\x00\x16", 0x02),
    "zero-length domain name": (b"\x03\x00\x00\x16", 0x08),
    "unknown address type": (b"\x09\x7f\x00\x00\x01\x00\x16", 0x08),
}


def test_socks5_destination_refused_by_policy_is_not_allowed_by_ruleset(world: World) -> None:
    with world.connect() as conn, conn.forward_socks() as proxy:
        reply, after = _socks5_to(proxy.port, b"127.0.0.1", POLICY_REFUSED_PORT)
        assert reply[:2] == b"\x05\x02" and after == b""
        reply, after = _socks5_to(proxy.port, b"127.0.0.1", world.echo_port)
        assert reply[:2] == b"\x05\x00" and after == b"through socks"


@pytest.mark.parametrize("case", SOCKS_HOSTILE)
def test_socks5_hostile_address_gets_a_reply_and_close(world: World, case: str) -> None:
    request, code = SOCKS_HOSTILE[case]
    with world.connect() as conn, conn.forward_socks() as proxy:
        reply, after = _socks5(proxy.port, request)
        assert reply[:2] == bytes([5, code]) and len(reply) == 10 and after == b""
        reply, after = _socks5_to(proxy.port, b"localhost", world.echo_port)
        assert reply[:2] == b"\x05\x00" and after == b"through socks"


# -- the server opens to the client ---------------------------------------------------------


@dataclass
class HostileServer:
    mux: ChannelMux
    client: sync.SSHConnection
    echo_port: int


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """Our client connected to a bare server core that opens whatever a test asks; it
    grants any tcpip-forward (with port 0 it says 4242)."""
    tcp = EchoListener(socket.create_server(("127.0.0.1", 0)))
    ours, theirs = socket.socketpair()
    server_transport = SyncTransport(
        SocketStream(theirs), Role.SERVER, TransportConfig(host_keys=(HostKey(HOST_KEY),))
    )
    mux = ChannelMux(server_transport)

    def on_global(event: Any) -> None:
        if event.name == fw.TCPIP_FORWARD:
            event.answer(fw.forwarded_port_reply(4242))
        elif event.want_reply:
            event.answer(None)

    mux.on_global = on_global
    started = threading.Event()

    def run_server() -> None:
        serve(server_transport, POLICY)
        mux.start(lambda lower: ConnectionCore(lower, Role.SERVER, now=sync_backend.monotonic()))
        started.set()

    runner = threading.Thread(target=run_server, daemon=True)
    runner.start()
    transport = SyncTransport(SocketStream(ours), Role.CLIENT, host_key_check=lambda k, a: True)
    authenticate(transport, "victim", password="pw")
    client = sync.start_connection(transport, "victim")
    assert started.wait(10)
    try:
        yield HostileServer(mux, client, tcp.sock.getsockname()[1])
    finally:
        client.close()
        server_transport.close()
        runner.join(10)
        tcp.close()


def _opens_refused(server: HostileServer, kind: str, payload: Any) -> None:
    with pytest.raises(ChannelOpenError) as refused:
        server.mux.open_channel(kind, payload, timeout=ANSWER_TIMEOUT)
    assert refused.value.reason == ChannelOpenFailure.CONNECT_FAILED
    assert not server.client.closed


def _forwarded_connection_works(server: HostileServer) -> None:
    channel = server.mux.open_channel(
        fw.FORWARDED_TCPIP,
        fw.ForwardedTcpip("127.0.0.1", 4242, "127.0.0.1", 5555),
        timeout=ANSWER_TIMEOUT,
    )
    assert _channel_round_trip(channel) == b"still serving"


@pytest.mark.parametrize("case", CLIENT_HOSTILE)
def test_client_refuses_hostile_forwarded_tcpip(hostile_server: HostileServer, case: str) -> None:
    host, port = CLIENT_HOSTILE[case]
    hostile_server.client.forward_remote("127.0.0.1", hostile_server.echo_port)
    _opens_refused(
        hostile_server, fw.FORWARDED_TCPIP, fw.ForwardedTcpip(host, port, "127.0.0.1", 1)
    )
    _opens_refused(
        hostile_server, fw.FORWARDED_TCPIP, fw.ForwardedTcpip("127.0.0.1", 4242, host, port)
    )
    _forwarded_connection_works(hostile_server)


@pytest.mark.parametrize("case", HOSTILE_PATHS)
def test_client_refuses_hostile_forwarded_streamlocal(
    hostile_server: HostileServer, case: str
) -> None:
    hostile_server.client.forward_remote("127.0.0.1", hostile_server.echo_port)
    _opens_refused(
        hostile_server, fw.FORWARDED_STREAMLOCAL, fw.ForwardedStreamlocal(HOSTILE_PATHS[case], b"")
    )
    _forwarded_connection_works(hostile_server)


def test_client_refuses_hostile_x11_open(hostile_server: HostileServer) -> None:
    hostile_server.client.forward_remote("127.0.0.1", hostile_server.echo_port)
    _opens_refused(hostile_server, fw.X11, fw.X11Open("127.0.0.1\0", 70000))
    _forwarded_connection_works(hostile_server)


# -- the checker itself -------------------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE_DESTINATIONS)
def test_destination_error_names_the_problem(case: str) -> None:
    host, port = HOSTILE_DESTINATIONS[case]
    error = fw.destination_error(host, port)
    if case == "label over 63 bytes":
        assert error is None  # the front ends' second line (UnicodeError) refuses it
    else:
        assert error is not None


@pytest.mark.parametrize(
    ("host", "port"),
    [("localhost", 22), ("", 0), ("::1", 65535), ("a" * 255, 1), ("bücher.example", 80)],
)
def test_destination_error_passes_valid_destinations(host: str, port: int) -> None:
    assert fw.destination_error(host, port) is None


def test_socket_path_error_limits() -> None:
    assert fw.socket_path_error("/" + "p" * (fw.MAX_SOCKET_PATH - 1)) is None
    assert fw.socket_path_error("/" + "p" * fw.MAX_SOCKET_PATH) is not None
    assert fw.socket_path_error("/tmp/a\0b") is not None
    assert fw.socket_path_error("") is not None
