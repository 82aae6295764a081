"""Both front ends behave alike: one source, the same errors, the same socket tuning,
whatever the platform offers (TCP_QUICKACK is Linux-only)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from transport_pair import host_key

from ssh_transport import KexComplete, Role, TransportConfig
from ssh_transport.aio import AsyncTransport
from ssh_transport.errors import TransportTimeout
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError, DisconnectReason


def trust(key: object, algorithm: str) -> bool:
    return True


@pytest.fixture
def server_port() -> Iterator[tuple[int, list[SyncTransport]]]:
    """A blocking server accepting connections; each accepted one is kept open."""
    listener = socket.create_server(("127.0.0.1", 0))
    servers: list[SyncTransport] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            config = TransportConfig(host_keys=[host_key("ed25519")])
            servers.append(SyncTransport(SocketStream(conn), Role.SERVER, config))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], servers
    # shutdown() wakes the blocked accept(); close() alone would leave the thread holding the
    # socket, and a signal could restart its accept4 on a later listener given the same fd.
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(10)
    for server in servers:
        server.close()


def first(servers: list[SyncTransport]) -> SyncTransport:
    """The first accepted server: the accept thread adds it once its key exchange is done,
    which may be just after the client's connect() returned."""
    deadline = time.monotonic() + 10
    while not servers:
        assert time.monotonic() < deadline, "the server never accepted the connection"
        time.sleep(0.01)
    return servers[0]


def nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


@pytest.mark.parametrize("quickack", [True, False], ids=["with-quickack", "without-quickack"])
def test_sync_client_sets_nodelay_with_or_without_quickack(
    server_port: tuple[int, list[SyncTransport]], monkeypatch: pytest.MonkeyPatch, quickack: bool
) -> None:
    if not quickack:
        monkeypatch.delattr(socket, "TCP_QUICKACK", raising=False)
    port, _ = server_port
    with SyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10) as t:
        assert isinstance(t.stream, SocketStream)
        assert nodelay(t.stream.sock)
        t.request_service("ssh-userauth", 10)


@pytest.mark.parametrize("quickack", [True, False], ids=["with-quickack", "without-quickack"])
def test_asyncio_client_sets_nodelay_with_or_without_quickack(
    server_port: tuple[int, list[SyncTransport]], monkeypatch: pytest.MonkeyPatch, quickack: bool
) -> None:
    if not quickack:
        monkeypatch.delattr(socket, "TCP_QUICKACK", raising=False)
    port, _ = server_port

    async def run() -> None:
        t = await AsyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10)
        sock = t.stream.writer.get_extra_info("socket")
        assert nodelay(sock)
        await t.request_service("ssh-userauth", 10)
        await t.close()

    asyncio.run(run())


def test_sync_timeout_is_transport_timeout_and_the_connection_stays_open(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    port, _ = server_port
    with SyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10) as t:
        with pytest.raises(TransportTimeout) as info:
            t.receive_message(0.2)
        assert isinstance(info.value, TimeoutError)
        assert not t.closed
        t.request_service("ssh-userauth", 10)  # still usable


def test_asyncio_timeout_is_the_same_transport_timeout(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    port, _ = server_port

    async def run() -> None:
        t = await AsyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10)
        with pytest.raises(TransportTimeout) as info:
            await t.receive_message(0.2)
        assert isinstance(info.value, TimeoutError)
        assert not t.closed
        await t.request_service("ssh-userauth", 10)
        await t.close()

    asyncio.run(run())


def test_sync_request_service_raises_the_real_cause(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    port, servers = server_port
    with SyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10) as t:
        server = first(servers)
        server.call(lambda: server.transport.close(DisconnectReason.PROTOCOL_ERROR, "go away"))
        with pytest.raises(DisconnectError) as info:
            t.request_service("ssh-userauth", 10)
        assert info.value.reason == DisconnectReason.PROTOCOL_ERROR
        assert "go away" in info.value.description


def test_asyncio_request_service_raises_the_real_cause(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    port, servers = server_port

    async def run() -> None:
        t = await AsyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10)
        server = first(servers)
        server.call(lambda: server.transport.close(DisconnectReason.PROTOCOL_ERROR, "go away"))
        with pytest.raises(DisconnectError) as info:
            await t.request_service("ssh-userauth", 10)
        assert info.value.reason == DisconnectReason.PROTOCOL_ERROR
        await t.close()

    asyncio.run(run())


def test_a_host_key_check_that_raises_ends_the_connection_with_its_error(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    port, _ = server_port

    def broken(key: object, algorithm: str) -> bool:
        raise RuntimeError("known_hosts unreadable")

    with pytest.raises(RuntimeError, match="known_hosts unreadable"):
        SyncTransport.connect("127.0.0.1", port, host_key_check=broken, timeout=10)


def test_a_blocking_thread_waiting_does_not_stop_another_from_being_served(
    server_port: tuple[int, list[SyncTransport]],
) -> None:
    # One thread waits for an event that never comes; another thread's exchange goes on,
    # because the pump's reader thread, not a waiter, reads the socket.
    port, servers = server_port
    payload = bytes([94]) + b"ping"
    waited: list[BaseException] = []

    def wait_in_vain(t: SyncTransport) -> None:
        try:
            t.wait_for(KexComplete, 2.0)  # the first one was taken by connect()
        except TransportTimeout as exc:
            waited.append(exc)

    with SyncTransport.connect("127.0.0.1", port, host_key_check=trust, timeout=10) as t:
        t.request_service("ssh-userauth", 10)
        blocked = threading.Thread(target=wait_in_vain, args=(t,))
        blocked.start()
        first(servers).send_message(payload)
        assert t.receive_message(1.5) == payload  # answered while the other thread waits
        assert blocked.is_alive()
        blocked.join(5)
    assert len(waited) == 1
