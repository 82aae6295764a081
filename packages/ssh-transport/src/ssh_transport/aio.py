"""asyncio front end: one pump runs a stack of cores (a Transport at the bottom) over a stream.

This file is the source of both front ends: ``tools/unasync.py`` generates
:mod:`ssh_transport.sync` from it (``async``/``await`` dropped, ``aio_backend`` swapped
for ``sync_backend``, ``Async`` names for their blocking twins). Edit this file, then run
``python tools/unasync.py``; CI fails when the generated file is stale.

The pump owns the stream, a background reader (a task here, a thread when blocking) and the
top core's timer. Every action runs under one lock, then the pump collects the core's
events and writes what the core has to send, so no caller ever has to flush. Layers stack
on the transport with :meth:`AsyncTransport.stack`; pause events are answered by handlers
registered with :meth:`AsyncTransport.on`, or wait in the event queue for the application.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ssh_keys import PublicKey
from ssh_wire import DisconnectReason, LocalProtocolError

from . import aio_backend as backend
from .aio_backend import AsyncStream
from .config import TransportConfig
from .errors import ConnectionLost, TransportTimeout
from .events import (
    INFO_EVENTS,
    MAX_INFO_EVENTS,
    ConnectionTerminated,
    Event,
    HostKeyReceived,
    KexComplete,
    MessageReceived,
    Pause,
    ServiceAccepted,
    ServiceRequested,
)
from .negotiation import Algorithms
from .stacking import StackedCore, StreamCore
from .transport import Role, Transport

# unasync: sync-only
# from .sync_backend import ProcessStream, SocketStream
# unasync: end

__all__ = [
    "AsyncTransport",
    "AsyncHostKeyCallback",
    "AsyncStream",
    "TransportTimeout",
    # unasync: sync-only
    # "SocketStream",
    # "ProcessStream",
    # unasync: end
]

# unasync: async-only
#: Client: decide whether to trust the server's host key (known_hosts plugs in here);
#: may be a coroutine function.
AsyncHostKeyCallback = Callable[[PublicKey, str], "bool | Awaitable[bool]"]
# unasync: end
# unasync: sync-only
# #: Client: decide whether to trust the server's host key (known_hosts plugs in here).
# HostKeyCallback = Callable[[PublicKey, str], bool]
# unasync: end
#: Answers one pause event; the value goes to ``event.answer``.
Handler = Callable[[Any], Any]

#: Message bytes queued for the application before the reader stops reading.
MAX_QUEUED = 1024 * 1024
#: Bytes waiting to be written past which an application call waits for the socket.
MAX_OUTBOX = 1024 * 1024

C = TypeVar("C", bound=StackedCore)
R = TypeVar("R")
E = TypeVar("E", bound=Event)


class AsyncTransport:
    """An SSH connection's stack of cores over one :class:`AsyncStream`.

    Client use::

        t = await AsyncTransport.connect("example.org", host_key_check=check)
        await t.request_service("ssh-userauth")
        await t.send_message(payload); reply = await t.receive_message()
    """

    def __init__(
        self,
        stream: backend.AsyncByteStream,
        role: Role,
        config: TransportConfig | None = None,
        *,
        host_key_check: AsyncHostKeyCallback | None = None,
    ) -> None:
        if role is Role.CLIENT and host_key_check is None:
            raise ValueError("a client needs host_key_check (pass lambda k, a: True to trust all)")
        self.stream = stream
        #: The bottom of the stack; ``core`` is the top, which the pump drives.
        self.transport = Transport(role, config, now=backend.monotonic())
        self.core: StreamCore = self.transport
        #: The error that ended the connection, once it has ended with one.
        self.error: BaseException | None = None
        self._failure: BaseException | None = None
        self._lock = backend.Lock()
        self._changed = backend.Condition(self._lock)
        self._write_lock = backend.Lock()
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._events: deque[Event] = deque()
        self._messages: deque[bytes] = deque()
        self._queued = 0
        self._waiters = 0
        self._reading = True
        self._handlers: dict[type[Event], tuple[Handler, bool]] = {}
        self._routers: list[Callable[[Event], bool]] = []
        if host_key_check is not None:
            check = host_key_check
            self.on(HostKeyReceived, lambda event: check(event.key, event.algorithm))
        self._queue_output(self.transport.data_to_send())  # our identification line
        self._writer: object = None  # keeps the background writer referenced
        # The top core's timer: an alarm set for its deadline, so an idle connection costs
        # no wakeups. Set again only when the deadline moves earlier; one that rings early
        # (a keepalive pushed back by traffic) just sets the next.
        self._alarm = backend.Alarm(self._timer_rang)
        self._alarm_at: float | None = None
        self._set_alarm()
        self._reader = backend.spawn(self._read_loop)

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
        stream = await backend.open_tcp_stream(host, port, timeout)
        return await cls._handshake(stream, config, host_key_check, timeout)

    @classmethod
    async def connect_command(
        cls,
        argv: Sequence[str],
        config: TransportConfig | None = None,
        *,
        host_key_check: AsyncHostKeyCallback,
        timeout: float | None = 30.0,
    ) -> AsyncTransport:
        """Speak SSH over a command's stdin/stdout (a ProxyCommand, ``sshd -i``)."""
        stream = await backend.open_process_stream(argv)
        return await cls._handshake(stream, config, host_key_check, timeout)

    @classmethod
    async def connect_stream(
        cls,
        stream: backend.AsyncByteStream,
        config: TransportConfig | None = None,
        *,
        host_key_check: AsyncHostKeyCallback,
        timeout: float | None = 30.0,
    ) -> AsyncTransport:
        """Speak SSH as the client over any byte stream (a jump host's channel, a pipe) and
        complete the first key exchange; the stream is closed if that fails."""
        return await cls._handshake(stream, config, host_key_check, timeout)

    @classmethod
    async def _handshake(
        cls,
        stream: backend.AsyncByteStream,
        config: TransportConfig | None,
        host_key_check: AsyncHostKeyCallback,
        timeout: float | None,
    ) -> AsyncTransport:
        try:
            transport = cls(stream, Role.CLIENT, config, host_key_check=host_key_check)
        except BaseException:
            await stream.close()
            raise
        try:
            await transport.wait_for(KexComplete, timeout)
        except BaseException:
            await transport.close()
            raise
        return transport

    # -- what the transport knows --------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.core.closed

    @property
    def session_id(self) -> bytes | None:
        return self.transport.session_id

    @property
    def algorithms(self) -> Algorithms | None:
        return self.transport.algorithms

    @property
    def strict_kex(self) -> bool:
        return self.transport.strict_kex

    @property
    def host_key(self) -> PublicKey | None:
        """The first key exchange's host key (the server's, in both roles)."""
        return self.transport.host_key

    @property
    def host_key_signature(self) -> bytes | None:
        """The host key's signature of the first exchange hash (for session-bind)."""
        return self.transport.host_key_signature

    @property
    def peer_extensions(self) -> dict[str, bytes]:
        return self.transport.peer_extensions

    @property
    def config(self) -> TransportConfig:
        return self.transport.config

    # -- the pump ------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            await self._write_out()
            while True:
                async with self._changed:
                    while self._queued >= MAX_QUEUED and not self._waiters:
                        # Backpressure: unread messages pile up; read again once consumed.
                        await self._changed.wait()
                    if self.core.closed:
                        return
                try:
                    data = await self.stream.read(None)
                except OSError as exc:
                    await self._reader_update(functools.partial(self._lost, f"read failed: {exc}"))
                    return
                await self._reader_update(functools.partial(self._receive, data))
                if not data:
                    return
        except Exception as exc:  # a core raised: a bug, but the caller must hear of it
            await self._update(functools.partial(self._handler_failed, exc))
        finally:
            async with self._changed:
                self._reading = False
                self._changed.notify_all()

    def _receive(self, data: bytes) -> None:
        self.core.receive_data(data, backend.monotonic())

    async def _timer_rang(self) -> None:
        await self._reader_update(self._on_timer)

    def _on_timer(self) -> None:
        self._alarm_at = None  # rung: _collect sets the next one
        now = backend.monotonic()
        timer = self.core.get_timer()
        if timer is not None and now >= timer and not self.core.closed:
            self.core.handle_timer(now)

    def _set_alarm(self) -> None:
        """After every change (lock held): keep the alarm no later than the top core's
        deadline (an action, a message or a new layer may move it)."""
        if self.core.closed:
            if self._alarm_at is not None:
                self._alarm.cancel()
                self._alarm_at = None
            return
        timer = self.core.get_timer()
        if timer is not None and (self._alarm_at is None or timer < self._alarm_at):
            self._alarm_at = timer
            self._alarm.set(timer)

    def _lost(self, why: str) -> None:
        if self.error is None:
            self.error = ConnectionLost(why)
        if not self.core.closed:
            self.core.receive_data(b"")

    async def _apply(self, action: Callable[[], R]) -> R:
        """Run ``action`` on the stack under the lock, then collect what it caused."""
        async with self._changed:
            try:
                return action()
            finally:
                self._collect()
                self._changed.notify_all()

    async def _update(self, action: Callable[[], R]) -> R:
        """:meth:`_apply`, then write what it caused."""
        try:
            return await self._apply(action)
        finally:
            await self._write_out()

    async def _reader_update(self, action: Callable[[], None]) -> None:
        """:meth:`_update` for the reader, which never writes itself: on a full socket it
        would stop reading, and two peers whose readers both wait to write never read
        again. A background writer drains the outbox instead (whoever holds the write lock
        now sees the new output before letting go, see :meth:`_write_out`)."""
        await self._apply(action)
        if self._outbox and not self._write_lock.locked():
            self._writer = backend.spawn(self._write_out)

    def _collect(self) -> None:
        """Take the top core's events (lock held): messages and events queue for the
        application, pause events with a handler go to it, output goes to the outbox."""
        core = self.core
        while (event := core.next_event()) is not None:
            if type(event) is MessageReceived:
                self._messages.append(event.payload)
                self._queued += len(event.payload)
            elif isinstance(event, Pause) and (found := self._handler_for(event)):
                backend.spawn(self._pause_task(event, *found))
            elif any(route(event) for route in self._routers):
                continue  # a layer's front end took it (channel data to its channel)
            elif isinstance(event, INFO_EVENTS) and len(self._events) >= MAX_INFO_EVENTS:
                continue  # a peer may send these without end
            else:
                if isinstance(event, ConnectionTerminated) and event.error is not None:
                    self.error = self.error or event.error
                self._events.append(event)
        self._queue_output(core.data_to_send())
        self._set_alarm()

    def _queue_output(self, data: bytes) -> None:
        if data:
            self._outbox.append(data)
            self._outbox_bytes += len(data)

    async def _take_output(self) -> bytes:
        """Everything queued, as one write (the handshake's small packets coalesce). Under
        the pump's lock, where output is queued: the writer holds only the write lock, and
        a count updated under two locks loses updates (``+=`` is not atomic across threads),
        drifting until the backpressure in :meth:`call` waits for nothing or never."""
        async with self._changed:
            data = b"".join(self._outbox)
            self._outbox.clear()
            self._outbox_bytes = 0
        return data

    async def _discard_output(self) -> None:
        async with self._changed:
            self._outbox.clear()
            self._outbox_bytes = 0

    def _handler_for(self, event: Pause[Any]) -> tuple[Handler, bool] | None:
        for kind in type(event).__mro__:
            if kind in self._handlers:
                return self._handlers[kind]
        return None

    def _pause_task(
        self, event: Pause[Any], handler: Handler, blocking: bool
    ) -> backend.Background:
        async def run() -> None:
            try:
                answer = await backend.call_handler(handler, event, blocking)
            except Exception as exc:  # the application's handler failed: end the connection
                failure = exc
                await self._update(lambda: self._handler_failed(failure))
                return
            await self._update(lambda: self._deliver(event, answer))

        return run

    def _deliver(self, event: Pause[Any], answer: Any) -> None:
        if not self.core.closed:
            event.answer(answer)

    def _handler_failed(self, exc: BaseException) -> None:
        """A handler (or, by a bug, a core) raised: end the connection; waiters get ``exc``."""
        self._failure = self._failure or exc
        if not self.core.closed:
            self.core.close(DisconnectReason.BY_APPLICATION, "internal error")  # no details out

    async def _write_out(self, block: bool = False) -> None:
        """Write the outbox in order. Whoever holds the write lock writes everything queued,
        so the reader never waits behind a writer stuck on a full socket; ``block`` (an
        application call with much output pending) waits its turn instead: backpressure."""
        while self._outbox:
            if block:
                await self._write_lock.acquire()
            elif not await backend.try_acquire(self._write_lock):
                return
            try:
                while self._outbox:
                    try:
                        await self.stream.write(await self._take_output())
                    except OSError as exc:
                        await self._apply(functools.partial(self._lost, f"write failed: {exc}"))
                        await self._discard_output()
                        return
            finally:
                self._write_lock.release()

    def _closed_error(self) -> BaseException:
        return self._failure or self.error or LocalProtocolError("the connection is closed")

    async def _wait(self, deadline: float | None) -> bool:
        """Wait for a change (lock held); False once ``deadline`` has passed."""
        if deadline is None:
            await backend.wait_condition(self._changed, None)
            return True
        remaining = deadline - backend.monotonic()
        if remaining <= 0:
            return False
        await backend.wait_condition(self._changed, remaining)
        return True

    # -- for the layers above ------------------------------------------------------------

    def on(self, kind: type[Pause[Any]], handler: Handler, *, blocking: bool = False) -> None:
        """Answer pause events of ``kind`` with ``handler(event)``, each in a task (a thread
        when blocking) of its own. ``handler`` may be a coroutine function; a ``blocking``
        one (a synchronous policy) runs in a worker thread under asyncio."""
        self._handlers[kind] = (handler, blocking)

    def route(self, router: Callable[[Event], bool]) -> None:
        """Offer every event (but messages and handled pauses) to ``router`` first, under
        the pump's lock: it returns True for those it takes. A layer's front end routes its
        events to its own objects this way (channel data to the channel's buffer) and
        waiters use :meth:`wait_until`. It must not block."""
        self._routers.append(router)

    async def stack(self, make: Callable[[StreamCore], C]) -> C:
        """Put a layer on top: ``make(top)`` builds it on the current top core, and the pump
        drives it from now on. Messages that arrived before it existed are handed to it."""
        async with self._changed:
            top = make(self.core)
            pending = list(self._messages)
            self._messages.clear()
            self._queued = 0
            for payload in pending:
                top.feed_lower_event(MessageReceived(payload))
            self.core = top
            self._collect()
            self._changed.notify_all()
        await self._write_out()
        return top

    async def call(self, action: Callable[[], R]) -> R:
        """Run ``action`` (a call on the stack's cores) under the pump's lock, then deliver
        what it caused: events to waiters, bytes to the peer. When more than MAX_OUTBOX
        bytes wait to be written, the caller waits until they are, and while a key exchange
        holds messages back, until it ends: a fast sender keeps the pace of the peer."""
        try:
            result = await self._update(action)
        except LocalProtocolError:
            if self.core.closed:  # the peer ended it just before: say why, not "closed"
                raise self._closed_error() from None
            raise
        if self._outbox_bytes > MAX_OUTBOX:
            await self._write_out(block=True)
        transport = self.transport
        if transport.queued_messages and not self.core.closed:
            # A key exchange holds our messages back: wait for it, as OpenSSH stops reading
            # its channels during one, rather than pile up more (the core holds a bounded
            # amount and refuses more).
            await self.wait_until(lambda: True if transport.queued_messages == 0 else None)
        return result

    async def wait_until(self, ready: Callable[[], R | None], timeout: float | None = None) -> R:
        """Wait until ``ready()`` (called under the lock after every change) returns a value
        other than None. Raises TransportTimeout, or the error that ended the connection."""
        deadline = None if timeout is None else backend.monotonic() + timeout
        async with self._changed:
            self._waiters += 1
            self._changed.notify_all()  # a reader paused for backpressure may go on
            try:
                while True:
                    value = ready()
                    if value is not None:
                        return value
                    if self.core.closed or not self._reading:
                        raise self._closed_error()
                    if not await self._wait(deadline):
                        raise TransportTimeout()
            finally:
                self._waiters -= 1

    async def wait_for(
        self, kind: type[E] | tuple[type[E], ...], timeout: float | None = None
    ) -> E:
        """Wait for an event of ``kind`` (a class or a tuple); other events stay queued."""

        def find() -> E | None:
            for event in self._events:
                if isinstance(event, kind):
                    self._events.remove(event)
                    return event
            return None

        return await self.wait_until(find, timeout)

    def next_event(self) -> Event | None:
        """The oldest queued event that no one waited for (KexComplete, ExtInfoReceived...)."""
        return self._events.popleft() if self._events else None

    # -- the transport's own API ---------------------------------------------------------

    async def request_service(
        self, service: str = "ssh-userauth", timeout: float | None = 30.0
    ) -> None:
        await self.call(lambda: self.transport.request_service(service))
        await self.wait_for(ServiceAccepted, timeout)

    async def wait_for_service(self, timeout: float | None = None) -> str:
        """Server: wait until the client's service request was accepted."""
        event = await self.wait_for(ServiceRequested, timeout)
        return event.service

    async def send_message(self, payload: bytes) -> None:
        """Send one upper-layer message through the top core."""
        await self.call(lambda: self.core.send_message(payload))

    def _pop_message(self) -> bytes | None:
        if not self._messages:
            return None
        payload = self._messages.popleft()
        self._queued -= len(payload)
        return payload

    async def receive_message(self, timeout: float | None = None) -> bytes:
        """The next upper-layer message no layer consumed; raises the error that ended the
        connection, or TransportTimeout."""
        return await self.wait_until(self._pop_message, timeout)

    async def send_ignore(self, data: bytes = b"") -> None:
        """Send SSH_MSG_IGNORE (padding traffic, keepalives)."""
        await self.call(lambda: self.transport.send_ignore(data))

    async def rekey(self, timeout: float | None = 30.0) -> None:
        """Start a key exchange and wait for it to finish."""

        def start() -> None:
            # Forget completed exchanges so we wait for this one, not an earlier one.
            for event in [e for e in self._events if isinstance(e, KexComplete)]:
                self._events.remove(event)
            self.transport.start_rekey()

        await self.call(start)
        await self.wait_for(KexComplete, timeout)

    async def close(self, description: str = "") -> None:
        """Send DISCONNECT (by application) unless the connection has ended, and release
        the stream and the reader."""

        def disconnect() -> None:
            if not self.core.closed:
                self.core.close(DisconnectReason.BY_APPLICATION, description)

        try:
            await self._update(disconnect)
            # Another task (thread) may be writing: wait for it, so nothing queued is lost.
            async with self._write_lock:
                if self._outbox:
                    try:
                        await self.stream.write(await self._take_output())
                    except OSError:
                        await self._discard_output()
        finally:
            # Whatever failed above, the stream and the reader are released: a close that
            # raised before this left the socket open and its reader waiting for ever.
            await self.stream.close()
            self._alarm.cancel()
            await backend.join(self._reader, cancel=True)

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
