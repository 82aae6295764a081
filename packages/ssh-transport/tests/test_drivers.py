"""The blocking and asyncio drivers over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from transport_pair import host_key

from ssh_transport import KexFailed, ProtocolVersionError, Role, TransportConfig
from ssh_transport.aio import AsyncStream, AsyncTransport
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError, DisconnectReason, Writer

PAYLOAD = Writer().byte(94).uint32(0).string(b"x" * 100_000).getvalue()


def trust_all(key: object, algorithm: str) -> bool:
    return True


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    # shutdown() first: it wakes a helper still blocked in accept(), which would otherwise
    # keep the socket alive and accept a later test's connections on a reused fd number.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def serve_echo(listener: socket.socket, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        conn, _ = listener.accept()
        config = TransportConfig(host_keys=[host_key("ed25519")])
        try:
            with SyncTransport(SocketStream(conn), Role.SERVER, config) as server:
                server.wait_for_service(10)
                for _ in range(2):
                    server.send_message(server.receive_message(10))
                server.receive_message(10)  # until the client goes away
        except DisconnectError as exc:
            if exc.reason != DisconnectReason.BY_APPLICATION:
                errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_sync_client_and_server_exchange_messages_across_a_rekey(listener: socket.socket) -> None:
    errors: list[BaseException] = []
    thread = serve_echo(listener, errors)
    port = listener.getsockname()[1]
    client = SyncTransport.connect("127.0.0.1", port, host_key_check=trust_all, timeout=10)
    client.request_service()
    client.send_message(PAYLOAD)
    assert client.receive_message(10) == PAYLOAD
    client.rekey()
    client.send_message(PAYLOAD)
    assert client.receive_message(10) == PAYLOAD
    client.close()
    thread.join(10)
    assert not errors


def test_sync_client_refuses_an_untrusted_host_key(listener: socket.socket) -> None:
    errors: list[BaseException] = []
    serve_echo(listener, errors)
    port = listener.getsockname()[1]
    with pytest.raises(DisconnectError) as info:
        SyncTransport.connect("127.0.0.1", port, host_key_check=lambda k, a: False, timeout=10)
    assert info.value.reason == DisconnectReason.HOST_KEY_NOT_VERIFIABLE


def test_sync_client_times_out_on_a_silent_server(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    config = TransportConfig(handshake_timeout=0.3)
    with pytest.raises(KexFailed, match="timed out"):
        SyncTransport.connect("127.0.0.1", port, config, host_key_check=trust_all, timeout=10)


def test_sync_client_reports_a_dropped_connection(listener: socket.socket) -> None:
    def accept_and_drop() -> None:
        conn, _ = listener.accept()
        conn.recv(100)
        conn.close()

    threading.Thread(target=accept_and_drop, daemon=True).start()
    port = listener.getsockname()[1]
    with pytest.raises(DisconnectError) as info:
        SyncTransport.connect("127.0.0.1", port, host_key_check=trust_all, timeout=10)
    assert info.value.reason == DisconnectReason.CONNECTION_LOST


def test_sync_client_names_an_http_server(listener: socket.socket) -> None:
    def http() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.recv(1000)
        conn.close()

    threading.Thread(target=http, daemon=True).start()
    port = listener.getsockname()[1]
    config = TransportConfig(handshake_timeout=5)
    with pytest.raises(ProtocolVersionError) as info:
        SyncTransport.connect("127.0.0.1", port, config, host_key_check=trust_all, timeout=10)
    assert info.value.reason == DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED


def test_asyncio_client_and_server_exchange_messages_across_a_rekey() -> None:
    async def main() -> None:
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            config = TransportConfig(host_keys=[host_key("ecdsa256")])
            server = AsyncTransport(AsyncStream(reader, writer), Role.SERVER, config)
            await server.wait_for_service(10)
            for _ in range(2):
                await server.send_message(await server.receive_message(10))
            await server.rekey()
            await server.send_message(await server.receive_message(10))
            await server.close()
            done.set()

        listener = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]

        async def check(key: object, algorithm: str) -> bool:
            return algorithm.startswith("ecdsa")

        client = await AsyncTransport.connect("127.0.0.1", port, host_key_check=check)
        await client.request_service()
        for _ in range(2):
            await client.send_message(PAYLOAD)
            assert await client.receive_message(10) == PAYLOAD
        await client.rekey()
        await client.send_message(PAYLOAD)
        assert await client.receive_message(10) == PAYLOAD
        await asyncio.wait_for(done.wait(), 10)
        with pytest.raises(DisconnectError):
            await client.receive_message(10)
        await client.close()
        listener.close()
        await listener.wait_closed()

    asyncio.run(main())


def test_asyncio_client_times_out_on_a_silent_server(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def main() -> None:
        config = TransportConfig(handshake_timeout=0.3)
        with pytest.raises(KexFailed, match="timed out"):
            await AsyncTransport.connect("127.0.0.1", port, config, host_key_check=trust_all)

    asyncio.run(main())
