"""asyncio driver: runs a :class:`~ssh_transport.transport.Transport` over asyncio streams.

The mirror of :mod:`ssh_transport.sync`: it owns the stream and the read loop,
turns the core's pause events into awaitable callbacks, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
from collections import deque
from collections.abc import Awaitable, Callable

from ssh_keys import PublicKey
from ssh_wire import DisconnectError, DisconnectReason, LocalProtocolError

from .config import TransportConfig
from .events import (
    INFO_EVENTS,
    MAX_INFO_EVENTS,
    ConnectionTerminated,
    Event,
    HostKeyReceived,
    KexComplete,
    MessageReceived,
    ServiceAccepted,
    ServiceRequested,
)
from .transport import Role, Transport

__all__ = ["AsyncTransport", "AsyncHostKeyCallback"]

#: Client: decide whether to trust the server's host key; may be a coroutine function.
AsyncHostKeyCallback = Callable[[PublicKey, str], "bool | Awaitable[bool]"]

_READ_SIZE = 256 * 1024
#: Message bytes the reader queues for the application before it stops reading.
_MAX_QUEUED = 4 * _READ_SIZE


class AsyncTransport:
    """An SSH transport over an asyncio (reader, writer) pair."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        role: Role,
        config: TransportConfig | None = None,
        *,
        host_key_check: AsyncHostKeyCallback | None = None,
    ) -> None:
        if role is Role.CLIENT and host_key_check is None:
            raise ValueError("a client needs host_key_check (pass lambda k, a: True to trust all)")
        self._loop = asyncio.get_running_loop()
        self.reader, self.writer = reader, writer
        self.core = Transport(role, config, now=self._loop.time())
        self.host_key_check = host_key_check
        self._messages: deque[bytes] = deque()
        self._events: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        # Backpressure: the reader pauses while this many message bytes wait, unless
        # someone waits for an event (a rekey must not stall behind unread messages).
        self._queued = 0
        self._waiters = 0
        self._room = asyncio.Event()
        self.error: DisconnectError | None = None
        sock = writer.get_extra_info("socket")
        self._quickack = sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6)
        if self._quickack:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._flush()
        self._task = self._loop.create_task(self._run())

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int = 22,
        config: TransportConfig | None = None,
        *,
        host_key_check: AsyncHostKeyCallback,
        timeout: float | None = 30.0,
    ) -> AsyncTransport:
        """Open a TCP connection and complete the first key exchange."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        transport = cls(reader, writer, Role.CLIENT, config, host_key_check=host_key_check)
        try:
            await transport.wait_for(KexComplete, timeout)
        except BaseException:
            await transport.close()
            raise
        return transport

    # -- the loop ----------------------------------------------------------

    def _flush(self) -> None:
        data = self.core.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _run(self) -> None:
        core = self.core
        try:
            while not core.closed:
                if self._queued >= _MAX_QUEUED and not self._waiters:
                    self._room.clear()
                    await self._room.wait()
                    continue
                timer = core.get_timer()
                timeout = None if timer is None else max(0.0, timer - self._loop.time())
                if self._quickack:
                    sock = self.writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                try:
                    data = await asyncio.wait_for(self.reader.read(_READ_SIZE), timeout)
                except asyncio.TimeoutError:
                    core.handle_timer(self._loop.time())
                else:
                    core.receive_data(data, self._loop.time())
                await self._drain_events()
                await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            if not core.closed:
                core.receive_data(b"")
            self.error = self.error or DisconnectError(DisconnectReason.CONNECTION_LOST, str(exc))
        finally:
            self._wakeup.set()

    async def _drain_events(self) -> None:
        core = self.core
        while (event := core.next_event()) is not None:
            if isinstance(event, HostKeyReceived):
                assert self.host_key_check is not None
                verdict = self.host_key_check(event.key, event.algorithm)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if verdict:
                    core.accept_host_key()
                else:
                    core.reject_host_key()
            elif isinstance(event, MessageReceived):
                self._messages.append(event.payload)
                self._queued += len(event.payload)
            elif isinstance(event, INFO_EVENTS) and len(self._events) >= MAX_INFO_EVENTS:
                continue
            else:
                if isinstance(event, ConnectionTerminated) and event.error is not None:
                    self.error = self.error or event.error
                self._events.append(event)
        self._flush()
        self._wakeup.set()

    async def _wait(self) -> None:
        if self.core.closed and self._task.done():
            raise self.error or LocalProtocolError("the connection is closed")
        self._wakeup.clear()
        await self._wakeup.wait()

    async def wait_for(self, kind: type[Event], timeout: float | None = None) -> Event:
        """Wait for an event of ``kind``; other events stay queued."""

        async def find() -> Event:
            while True:
                for event in self._events:
                    if isinstance(event, kind):
                        self._events.remove(event)
                        return event
                if self.core.closed and self._task.done():
                    raise self.error or LocalProtocolError("the connection is closed")
                await self._wait()

        self._waiters += 1
        self._room.set()
        try:
            return await asyncio.wait_for(find(), timeout)
        finally:
            self._waiters -= 1

    # -- public API --------------------------------------------------------

    async def flush(self) -> None:
        """Write what the core has queued; for layers that drive ``core`` directly."""
        data = self.core.data_to_send()
        if data:
            try:
                self.writer.write(data)
                await self.writer.drain()
            except OSError as exc:
                self.error = self.error or DisconnectError(
                    DisconnectReason.CONNECTION_LOST, f"write failed: {exc}"
                )
                raise self.error from exc

    async def request_service(
        self, service: str = "ssh-userauth", timeout: float | None = 30.0
    ) -> None:
        self.core.request_service(service)
        self._flush()
        await self.wait_for(ServiceAccepted, timeout)

    async def wait_for_service(self, timeout: float | None = None) -> str:
        event = await self.wait_for(ServiceRequested, timeout)
        assert isinstance(event, ServiceRequested)
        return event.service

    async def send_message(self, payload: bytes) -> None:
        self.core.send_message(payload)
        self._flush()
        await self.writer.drain()

    async def receive_message(self, timeout: float | None = None) -> bytes:
        async def get() -> bytes:
            while not self._messages:
                if self.core.closed and self._task.done():
                    raise self.error or LocalProtocolError("the connection is closed")
                await self._wait()
            payload = self._messages.popleft()
            self._queued -= len(payload)
            if self._queued < _MAX_QUEUED:
                self._room.set()
            return payload

        return await asyncio.wait_for(get(), timeout)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    async def send_ignore(self, data: bytes = b"") -> None:
        self.core.send_ignore(data)
        self._flush()
        await self.writer.drain()

    async def rekey(self, timeout: float | None = 30.0) -> None:
        # Forget completed exchanges so we wait for this one, not an earlier one.
        self._events = deque(e for e in self._events if not isinstance(e, KexComplete))
        self.core.start_rekey()
        self._flush()
        await self.wait_for(KexComplete, timeout)

    async def close(self, description: str = "") -> None:
        if not self.core.closed:
            self.core.close(DisconnectReason.BY_APPLICATION, description)
            self._flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
