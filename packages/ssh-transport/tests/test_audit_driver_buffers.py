"""Audit: the drivers must not queue without limit what a peer sends.

- DEBUG (and PONG, EXT_INFO) become events that nobody has to read: a peer flooding them
  before authentication must not grow the driver's event queue without bound.
- The asyncio driver reads in a background task: when the application does not take
  messages, it must stop reading (TCP backpressure) instead of buffering everything, and
  lose nothing once the application reads again.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from transport_pair import host_key

from ssh_transport import (
    DebugReceived,
    HostKeyReceived,
    Role,
    Transport,
    TransportConfig,
)
from ssh_transport.aio import AsyncStream, AsyncTransport
from ssh_transport.events import MAX_INFO_EVENTS
from ssh_transport.messages import Debug
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import Writer


def server_config() -> TransportConfig:
    return TransportConfig(host_keys=[host_key("ed25519")])


def test_sync_debug_flood_before_auth_is_not_queued_without_limit() -> None:
    ours, theirs = socket.socketpair()
    client = Transport(Role.CLIENT)
    client.request_service("ssh-userauth")
    # Held back until the first kex ends, so within the core's MAX_QUEUED_MESSAGES, and
    # still far more than MAX_INFO_EVENTS.
    for _ in range(4_000):
        client._send_or_queue(Debug(True, "x" * 200, "").encode())  # no public API sends DEBUG
    client._send_or_queue(Writer().byte(50).getvalue())  # the flood's end

    def drive_client() -> None:  # a raw client core, pumped by hand over the socket
        theirs.settimeout(10)
        while not client.closed:
            try:
                theirs.sendall(client.data_to_send())
                data = theirs.recv(65536)
            except OSError:
                return  # the server side closed at the end of the test
            client.receive_data(data)
            while (event := client.next_event()) is not None:
                if isinstance(event, HostKeyReceived):
                    client.accept_host_key()
            if not data:
                return

    threading.Thread(target=drive_client, daemon=True).start()
    server = SyncTransport(SocketStream(ours), Role.SERVER, server_config())
    assert server.wait_for_service(5) == "ssh-userauth"
    assert server.receive_message(5)[0] == 50
    events = []
    while (event := server.next_event()) is not None:
        events.append(event)
    debug = [e for e in events if isinstance(e, DebugReceived)]
    assert debug  # some are kept for the application
    assert len(events) <= MAX_INFO_EVENTS + 4
    server.close()
    theirs.close()


async def _async_pair() -> tuple[AsyncTransport, AsyncTransport]:
    a, b = socket.socketpair()
    server_streams = await asyncio.open_connection(sock=a)
    client_streams = await asyncio.open_connection(sock=b)
    server = AsyncTransport(AsyncStream(*server_streams), Role.SERVER, server_config())
    client = AsyncTransport(
        AsyncStream(*client_streams), Role.CLIENT, host_key_check=lambda k, a: True
    )
    await client.request_service("ssh-userauth", 10)
    await server.wait_for_service(10)
    return server, client


def test_async_debug_flood_is_not_queued_without_limit() -> None:
    async def run() -> None:
        server, client = await _async_pair()

        def flood() -> None:
            for _ in range(5_000):
                client.transport._send_or_queue(Debug(True, "x" * 200, "").encode())

        await client.call(flood)
        await client.send_message(Writer().byte(50).getvalue())
        assert (await server.receive_message(10))[0] == 50
        events = []
        while (event := server.next_event()) is not None:
            events.append(event)
        assert len(events) <= MAX_INFO_EVENTS + 4
        await client.close()
        await server.close()

    asyncio.run(run())


def test_async_reader_stops_when_messages_are_not_taken() -> None:
    payload = Writer().byte(50).string(b"m" * 60_000).getvalue()
    count = 500  # 30 MB: far more than any socket buffers

    async def run() -> None:
        server, client = await _async_pair()

        async def flood() -> None:
            for _ in range(count):
                await client.send_message(payload)

        sender = asyncio.create_task(flood())
        await asyncio.wait([sender], timeout=1.0)
        queued = sum(len(p) for p in server._messages)
        assert queued <= 2 * 1024 * 1024  # the reader paused; the sender waits on TCP
        assert not sender.done()
        for _ in range(count):  # nothing lost once the application reads again
            assert await server.receive_message(10) == payload
        await sender
        await client.close()
        await server.close()

    asyncio.run(run())
