"""asyncio channel objects over the transport's pump (the source of ``_sync_channels``).

The pump's reader feeds the :class:`~ssh_connection.ConnectionCore` on top of the stack;
:class:`AsyncChannelMux` takes the connection events under the pump's lock
(:meth:`~ssh_transport.aio.AsyncTransport.route`) and files them with their channel:
data into the channel's buffers, outcomes into its reply slots. Readers wait with
``wait_until`` and report what they took with ``core.consumed()``, so the peer's window
grows only as the application reads (a slow reader pushes back); writers retry after
``ChannelWritable`` when ``send()`` takes less than all. Nothing here reads the socket.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ssh_transport.aio_backend as backend
from ssh_transport import Event
from ssh_transport.aio import AsyncTransport
from ssh_wire import ExtendedDataType, LocalProtocolError, Struct

from . import events as ev
from ._aio_net import TcpStream
from .errors import ChannelClosedError, ChannelOpenError, ExitSignal, RequestRefused

if TYPE_CHECKING:
    from .connection import ConnectionCore

__all__ = ["AsyncChannelMux", "AsyncSSHChannel", "AsyncChannelReader", "AsyncChannelWriter"]

log = logging.getLogger("ssh_connection")

#: Longest line readline() buffers before it returns what it has.
MAX_LINE = 64 * 1024
_READ_CHUNK = 256 * 1024

_CHANNEL_EVENTS = (
    ev.ChannelOpened,
    ev.ChannelOpenFailed,
    ev.ChannelData,
    ev.ChannelExtendedData,
    ev.ChannelEOF,
    ev.ChannelClosed,
    ev.ChannelWritable,
    ev.ExitStatusReceived,
    ev.ExitSignalReceived,
    ev.ChannelRequestSucceeded,
    ev.ChannelRequestFailed,
)


class _Slot:
    """A reply we wait for: filled under the pump's lock."""

    __slots__ = ("data", "done", "ok")

    def __init__(self) -> None:
        self.done = False
        self.ok = False
        self.data = b""

    def fill(self, ok: bool, data: bytes = b"") -> None:
        self.done, self.ok, self.data = True, ok, data


class AsyncChannelMux:
    """Routes one connection's events to its channel objects (all under the pump's lock).

    ``on_open``, ``on_request`` and ``on_global`` decide for the peer's opens and requests;
    they run under the lock, so they must answer at once or spawn a task that answers
    through ``transport.call``. By default everything the peer asks is refused.
    """

    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport
        self._core: ConnectionCore | None = None
        self.channels: dict[int, AsyncSSHChannel] = {}
        self._global_slots: deque[_Slot] = deque()
        self.on_open: Callable[[ev.ChannelOpenRequested], None] = _refuse_open
        self.on_request: Callable[[AsyncSSHChannel, ev.ChannelRequestReceived], None] = (
            _refuse_request
        )
        self.on_global: Callable[[ev.GlobalRequestReceived], None] = _refuse_global
        transport.route(self._route)

    @property
    def core(self) -> ConnectionCore:
        if self._core is None:
            raise LocalProtocolError("the connection layer is not running yet")
        return self._core

    async def start(self, make: Callable[[Any], ConnectionCore]) -> ConnectionCore:
        """Stack the connection core (built by ``make(lower)``) on the pump."""

        def build(lower: Any) -> ConnectionCore:
            self._core = make(lower)
            return self._core

        return await self.transport.stack(build)

    # -- routing (lock held) ----------------------------------------------------------------

    def _route(self, event: Event) -> bool:
        if isinstance(event, _CHANNEL_EVENTS):
            channel = self.channels.get(event.channel_id)
            if channel is not None:
                channel._on_event(event)
            elif isinstance(event, (ev.ChannelData, ev.ChannelExtendedData)):
                self.core.consumed(event.channel_id, len(event.data))
            return True
        if isinstance(event, (ev.GlobalRequestSucceeded, ev.GlobalRequestFailed)):
            if self._global_slots:
                slot = self._global_slots.popleft()
                slot.fill(isinstance(event, ev.GlobalRequestSucceeded), getattr(event, "data", b""))
            return True
        if isinstance(event, ev.ChannelOpenRequested):
            self.on_open(event)
            return True
        if isinstance(event, ev.ChannelRequestReceived):
            channel = self.channels.get(event.channel_id)
            if channel is None:
                _refuse_request(None, event)
            else:
                self.on_request(channel, event)
            return True
        if isinstance(event, ev.GlobalRequestReceived):
            self.on_global(event)
            return True
        return False

    def accept(self, event: ev.ChannelOpenRequested) -> AsyncSSHChannel:
        """Accept the peer's open (lock held) and return its channel object."""
        channel = AsyncSSHChannel(self, event.channel_id, event.kind)
        channel._opened = True
        self.channels[event.channel_id] = channel
        event.accept()
        return channel

    # -- our opens and global requests ------------------------------------------------------

    async def open_channel(
        self, kind: str, payload: bytes | Struct = b"", timeout: float | None = None
    ) -> AsyncSSHChannel:
        """Open a channel and wait for the peer's answer (ChannelOpenError on refusal)."""

        def start() -> AsyncSSHChannel:
            channel_id = self.core.open_channel(kind, payload)
            channel = AsyncSSHChannel(self, channel_id, kind)
            self.channels[channel_id] = channel
            return channel

        channel = await self.transport.call(start)
        await self.transport.wait_until(lambda: channel._opened, timeout)
        if channel._open_error is not None:
            raise channel._open_error
        return channel

    async def global_request(
        self, action: Callable[[ConnectionCore], None], name: str, timeout: float | None = 30.0
    ) -> bytes:
        """Send a global request that wants a reply (``action`` queues it on the core) and
        return the reply data; RequestRefused on failure."""
        slot = _Slot()

        def start() -> None:
            action(self.core)
            self._global_slots.append(slot)

        await self.transport.call(start)
        await self.transport.wait_until(lambda: slot.done or None, timeout)
        if not slot.ok:
            raise RequestRefused(name)
        return slot.data


def _refuse_open(event: ev.ChannelOpenRequested) -> None:
    event.reject(description="not available")


def _refuse_request(_: object, event: ev.ChannelRequestReceived) -> None:
    if event.want_reply:
        event.answer(False)


def _refuse_global(event: ev.GlobalRequestReceived) -> None:
    if event.want_reply:
        event.answer(None)


class AsyncSSHChannel:
    """One channel, either side's: a session (exec, shell, subsystem) or a forwarded
    connection. Stdout is the channel's data, stderr its extended data; on a server the
    same object reads the client's stdin and writes the command's output.

    Reading gives the window back as data is taken, writing waits while the core's send
    buffer is full. Use it as an async context manager to close it at the end."""

    def __init__(self, mux: AsyncChannelMux, channel_id: int, kind: str) -> None:
        self._mux = mux
        self._transport = mux.transport
        self.id = channel_id
        self.kind = kind
        self._opened: bool | None = None  # None until the peer answers our open
        self._open_error: ChannelOpenError | None = None
        self._buffers = (bytearray(), bytearray())
        self._replies: deque[_Slot] = deque()
        self._writable = False
        self.eof_received = False
        self.eof_sent = False
        self.closed = False
        self.exit_status: int | None = None
        self.exit_signal: ExitSignal | None = None
        #: Server: what handles this channel's requests; set by the server front end.
        self.handler: Any = None
        self.stdout = AsyncChannelReader(self, 0)
        self.stderr = AsyncChannelReader(self, 1)
        self.stdin = AsyncChannelWriter(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.id} {self.kind} {state}>"

    # -- events (lock held) -----------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ev.ChannelData):
            self._buffers[0].extend(event.data)
        elif isinstance(event, ev.ChannelExtendedData):
            if event.data_type == ExtendedDataType.STDERR:
                self._buffers[1].extend(event.data)
            else:
                self._mux.core.consumed(self.id, len(event.data))
        elif isinstance(event, ev.ChannelWritable):
            self._writable = True
        elif isinstance(event, ev.ChannelEOF):
            self.eof_received = True
        elif isinstance(event, ev.ExitStatusReceived):
            self.exit_status = event.status
        elif isinstance(event, ev.ExitSignalReceived):
            self.exit_signal = ExitSignal(event.signal, event.core_dumped, event.message)
        elif isinstance(event, (ev.ChannelRequestSucceeded, ev.ChannelRequestFailed)):
            if self._replies:
                self._replies.popleft().fill(isinstance(event, ev.ChannelRequestSucceeded))
        elif isinstance(event, ev.ChannelOpened):
            self._opened = True
        elif isinstance(event, ev.ChannelOpenFailed):
            self._open_error = ChannelOpenError(event.reason, event.description)
            self._opened = False
            self._gone()
        elif isinstance(event, ev.ChannelClosed):
            self._gone()

    def _gone(self) -> None:
        self.closed = True
        self._mux.channels.pop(self.id, None)
        while self._replies:
            self._replies.popleft().fill(False)

    # -- reading ----------------------------------------------------------------------------

    def _take(self, index: int, size: int) -> bytes:
        """Take up to ``size`` buffered bytes (lock held) and give the window back."""
        buffer = self._buffers[index]
        size = min(size, len(buffer))
        if size <= 0:
            return b""
        # One copy out of the buffer (a slice of a bytearray, then bytes(), was two).
        if size == len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            with memoryview(buffer) as view, view[:size] as head:
                data = head.tobytes()
            del buffer[:size]
        if not self.closed:
            self._mux.core.consumed(self.id, size)
        return data

    async def _read(
        self, index: int, want: Callable[[bytearray, bool], int | None], timeout: float | None
    ) -> bytes:
        """Wait until ``want(buffer, ended)`` gives how many bytes to take, then take them."""
        buffer = self._buffers[index]

        def ready() -> bool | None:
            ended = self.eof_received or self.closed
            return True if want(buffer, ended) is not None else None

        def take() -> bytes | None:
            size = want(buffer, self.eof_received or self.closed)
            return None if size is None else self._take(index, size)

        while True:
            await self._transport.wait_until(ready, timeout)
            data = await self._transport.call(take)
            if data is not None:
                return data

    async def read(self, size: int = -1, timeout: float | None = None) -> bytes:
        """Stdout: up to ``size`` bytes as soon as some are there (b"" at EOF); everything
        up to EOF when ``size`` is negative."""
        return await self.stdout.read(size, timeout)

    async def readexactly(self, size: int, timeout: float | None = None) -> bytes:
        return await self.stdout.readexactly(size, timeout)

    async def readline(self, timeout: float | None = None) -> bytes:
        return await self.stdout.readline(timeout)

    async def read_stderr(self, size: int = -1, timeout: float | None = None) -> bytes:
        return await self.stderr.read(size, timeout)

    # -- writing ----------------------------------------------------------------------------

    async def write(
        self, data: bytes | bytearray | memoryview, timeout: float | None = None
    ) -> None:
        """Send stdout data (the client's stdin, on a client); waits while the peer's window
        and our bounded buffer are full."""
        await self._write(data, 0, timeout)

    async def write_stderr(
        self, data: bytes | bytearray | memoryview, timeout: float | None = None
    ) -> None:
        """Server: send extended data (stderr)."""
        await self._write(data, ExtendedDataType.STDERR, timeout)

    async def _write(
        self, data: bytes | bytearray | memoryview, data_type: int, timeout: float | None
    ) -> None:
        view = memoryview(bytes(data) if not isinstance(data, bytes) else data)

        def send() -> int:
            if self.closed or self.eof_sent:
                raise ChannelClosedError(f"channel {self.id} takes no more data")
            self._writable = False
            core = self._mux.core
            if data_type:
                return core.send_extended(self.id, view, data_type)
            return core.send(self.id, view)

        def writable() -> bool | None:
            return True if self._writable or self.closed else None

        while view:
            taken = await self._transport.call(send)
            view = view[taken:]
            if view:
                await self._transport.wait_until(writable, timeout)

    async def write_eof(self) -> None:
        """No more data from us (the remote command sees the end of its stdin)."""

        def eof() -> None:
            if not self.closed and not self.eof_sent:
                self.eof_sent = True
                self._mux.core.send_eof(self.id)

        await self._transport.call(eof)

    # -- requests ---------------------------------------------------------------------------

    async def _request(
        self,
        name: str,
        action: Callable[[ConnectionCore], None],
        want_reply: bool,
        timeout: float | None = 30.0,
    ) -> None:
        slot = _Slot()

        def start() -> None:
            if self.closed:
                raise ChannelClosedError(f"channel {self.id} is closed")
            action(self._mux.core)
            if want_reply:
                self._replies.append(slot)

        await self._transport.call(start)
        if want_reply:
            await self._transport.wait_until(lambda: slot.done or None, timeout)
            if not slot.ok:
                raise RequestRefused(name)

    async def exec(self, command: str | bytes) -> None:
        """Run ``command`` (RequestRefused when the server will not)."""
        await self._request("exec", lambda core: core.request_exec(self.id, command), True)

    async def shell(self) -> None:
        await self._request("shell", lambda core: core.request_shell(self.id), True)

    async def subsystem(self, name: str) -> None:
        await self._request("subsystem", lambda core: core.request_subsystem(self.id, name), True)

    async def get_pty(
        self,
        term: str = "xterm",
        width: int = 80,
        height: int = 24,
        width_pixels: int = 0,
        height_pixels: int = 0,
        modes: Mapping[int, int] | None = None,
    ) -> None:
        """Ask for a pseudo-terminal (before shell or exec)."""

        def request(core: ConnectionCore) -> None:
            core.request_pty(self.id, term, width, height, width_pixels, height_pixels, modes)

        await self._request("pty-req", request, True)

    async def set_env(self, name: str, value: str, *, want_reply: bool = False) -> None:
        """An environment variable for the command (servers accept only some names)."""
        await self._request(
            "env", lambda core: core.request_env(self.id, name, value, want_reply=want_reply),
            want_reply,
        )  # fmt: skip

    async def resize(
        self, width: int, height: int, width_pixels: int = 0, height_pixels: int = 0
    ) -> None:
        """window-change: the terminal's new size."""

        def request(core: ConnectionCore) -> None:
            core.request_window_change(self.id, width, height, width_pixels, height_pixels)

        await self._request("window-change", request, False)

    async def send_signal(self, name: str) -> None:
        """Deliver a signal ("TERM", "INT", ...) to the remote command."""
        await self._request("signal", lambda core: core.request_signal(self.id, name), False)

    async def send_exit_status(self, status: int) -> None:
        """Server: report the command's exit status."""
        await self._request(
            "exit-status", lambda core: core.send_exit_status(self.id, status), False
        )

    async def send_exit_signal(
        self, signal: str, core_dumped: bool = False, message: str = ""
    ) -> None:
        """Server: report that a signal ended the command."""
        await self._request(
            "exit-signal",
            lambda core: core.send_exit_signal(self.id, signal, core_dumped, message),
            False,
        )

    # -- ending -----------------------------------------------------------------------------

    async def close(self, timeout: float | None = 10.0) -> None:
        """Close the channel after the queued data and wait for the peer's CLOSE."""

        def close() -> None:
            if not self.closed and not self._transport.closed:
                self._mux.core.close_channel(self.id)

        if self._opened is None:  # still opening: it can only be closed once confirmed
            try:
                await self._transport.wait_until(lambda: self._opened, timeout)
            except Exception:
                return
        if self.closed or not self._opened:
            return
        await self._transport.call(close)
        try:
            await self._transport.wait_until(lambda: self.closed or None, timeout)
        except Exception:  # the connection is gone or the peer never answers: done anyway
            log.debug("channel %d: no CLOSE from the peer", self.id)

    async def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the peer closed the channel; returns the exit status (None when a
        signal ended the command or none was sent). Unread data is discarded as it comes,
        so the peer never stalls on the window."""

        def discard() -> None:
            for index in (0, 1):
                self._take(index, len(self._buffers[index]))

        def changed() -> bool | None:
            return True if self.closed or self._buffers[0] or self._buffers[1] else None

        while not self.closed:
            await self._transport.wait_until(changed, timeout)
            await self._transport.call(discard)
        return self.exit_status

    async def read_all(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Everything on stdout and stderr until the peer closes the channel, read as it
        comes (both at once: they share one window)."""
        out: tuple[list[bytes], list[bytes]] = ([], [])

        def take() -> bool:
            # Whether the channel had closed is read under the lock, before taking: the
            # pump may run while call() returns (it waits for the outbox or a key
            # exchange), and data that came with a CLOSE then would be left behind.
            closed = self.closed
            for index in (0, 1):
                data = self._take(index, len(self._buffers[index]))
                if data:
                    out[index].append(data)
            return closed

        def changed() -> bool | None:
            return True if self.closed or self._buffers[0] or self._buffers[1] else None

        while True:
            await self._transport.wait_until(changed, timeout)
            if await self._transport.call(take):
                return b"".join(out[0]), b"".join(out[1])

    async def __aenter__(self) -> AsyncSSHChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncChannelReader:
    """One of a channel's input streams: ``stdout`` (data) or ``stderr`` (extended)."""

    def __init__(self, channel: AsyncSSHChannel, index: int) -> None:
        self.channel = channel
        self._index = index

    async def read(self, size: int = -1, timeout: float | None = None) -> bytes:
        """Up to ``size`` bytes as soon as some are there, b"" at EOF; all up to EOF when
        ``size`` is negative."""
        if size < 0:
            parts = []
            while chunk := await self.read(_READ_CHUNK, timeout):
                parts.append(chunk)
            return b"".join(parts)
        if size == 0:
            return b""

        def want(buffer: bytearray, ended: bool) -> int | None:
            if buffer:
                return min(size, len(buffer))
            return 0 if ended else None

        return await self.channel._read(self._index, want, timeout)

    async def readexactly(self, size: int, timeout: float | None = None) -> bytes:
        """Exactly ``size`` bytes; EOFError if the stream ends first."""
        parts, got = [], 0
        while got < size:
            chunk = await self.read(size - got, timeout)
            if not chunk:
                raise EOFError(f"{got} of {size} bytes before EOF")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    async def readline(self, timeout: float | None = None) -> bytes:
        """One line with its b"\\n" (without at EOF; b"" once nothing is left)."""

        def want(buffer: bytearray, ended: bool) -> int | None:
            end = buffer.find(b"\n", 0, MAX_LINE)
            if end >= 0:
                return end + 1
            if ended or len(buffer) >= MAX_LINE:
                return min(len(buffer), MAX_LINE)
            return None

        return await self.channel._read(self._index, want, timeout)

    async def readlines(self, timeout: float | None = None) -> list[bytes]:
        lines = []
        while line := await self.readline(timeout):
            lines.append(line)
        return lines


class AsyncChannelWriter:
    """A channel's output stream (``stdin`` on a client): ``close()`` sends EOF."""

    def __init__(self, channel: AsyncSSHChannel) -> None:
        self.channel = channel

    async def write(
        self, data: bytes | bytearray | memoryview, timeout: float | None = None
    ) -> None:
        await self.channel.write(data, timeout)

    async def close(self) -> None:
        await self.channel.write_eof()


async def pipe(channel: AsyncSSHChannel, stream: TcpStream) -> None:
    """Copy a forwarded connection both ways until both sides are done, then close both.
    EOF is passed on in each direction (half-close)."""

    async def upstream() -> None:
        try:
            while data := await stream.read(None):
                await channel.write(data)
            await channel.write_eof()
        except Exception as exc:  # the channel or the connection went away
            log.debug("forwarding channel %d: %s", channel.id, exc)

    task = backend.spawn(upstream)
    try:
        while data := await channel.read(_READ_CHUNK):
            await stream.write(data)
        if channel.closed:
            await stream.close()  # nothing more can go either way: end the upstream copy
        else:
            await stream.write_eof()  # half-close: the local side may still send
    except Exception as exc:
        log.debug("forwarding channel %d: %s", channel.id, exc)
        await stream.close()
    finally:
        await backend.join(task)
        await stream.close()
        try:
            await channel.close()
        except Exception as exc:
            log.debug("forwarding channel %d: %s", channel.id, exc)
