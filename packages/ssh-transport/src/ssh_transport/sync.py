"""Blocking driver: runs a :class:`~ssh_transport.transport.Transport` over a socket or stream.

The driver owns the stream and the read loop and nothing else: every protocol
decision stays in the core. Any byte stream works (a TCP socket, a proxy
command's pipes, another SSH channel) through the small :class:`Stream` protocol.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

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

__all__ = [
    "Stream",
    "SocketStream",
    "ProcessStream",
    "SyncTransport",
    "HostKeyCallback",
    "TransportTimeout",
]

#: Client: decide whether to trust the server's host key (known_hosts plugs in here).
HostKeyCallback = Callable[[PublicKey, str], bool]

_READ_SIZE = 256 * 1024


class TransportTimeout(DisconnectError):
    """No answer from the peer in time."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.CONNECTION_LOST, description, local=True)


class Stream(Protocol):
    """A bidirectional byte stream. ``read`` returns b"" at EOF and raises
    TimeoutError when ``timeout`` (seconds) passes with nothing to read."""

    def read(self, timeout: float | None) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SocketStream:
    """A connected TCP (or Unix) socket, tuned for SSH's small interactive packets."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._quickack = sock.family in (socket.AF_INET, socket.AF_INET6) and hasattr(
            socket, "TCP_QUICKACK"
        )
        if self._quickack:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(cls, host: str, port: int = 22, timeout: float | None = 30.0) -> SocketStream:
        return cls(socket.create_connection((host, port), timeout=timeout))

    def read(self, timeout: float | None) -> bytes:
        if self._quickack:
            # Delayed ACKs stall request/response exchanges by ~40 ms; re-arm each read.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.sock.settimeout(timeout)  # a timeout raises TimeoutError, as Stream promises
        try:
            return self.sock.recv(_READ_SIZE)
        except ConnectionResetError:
            return b""

    def write(self, data: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class ProcessStream:
    """A child process's stdin/stdout as a stream (ProxyCommand, ``sshd -i``)."""

    def __init__(self, argv: Sequence[str]) -> None:
        # socketpair rather than pipes: one fd to poll with a timeout, both directions.
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(  # noqa: S603 - argv comes from the caller
            list(argv), stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.DEVNULL
        )
        theirs.close()
        self._stream = SocketStream(ours)

    def read(self, timeout: float | None) -> bytes:
        return self._stream.read(timeout)

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    def close(self) -> None:
        self._stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class SyncTransport:
    """A blocking SSH transport over a :class:`Stream`.

    Client use::

        t = SyncTransport.connect("example.org", host_key_check=my_known_hosts_check)
        t.request_service("ssh-userauth")
        t.send_message(payload); reply = t.receive_message()
    """

    def __init__(
        self,
        stream: Stream,
        role: Role,
        config: TransportConfig | None = None,
        *,
        host_key_check: HostKeyCallback | None = None,
    ) -> None:
        if role is Role.CLIENT and host_key_check is None:
            raise ValueError("a client needs host_key_check (pass lambda k, a: True to trust all)")
        self.stream = stream
        self.core = Transport(role, config, now=time.monotonic())
        self.host_key_check = host_key_check
        self._messages: deque[bytes] = deque()
        self._events: deque[Event] = deque()
        self.error: DisconnectError | None = None
        self._flush()

    # -- construction helpers ----------------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = 22,
        config: TransportConfig | None = None,
        *,
        host_key_check: HostKeyCallback,
        timeout: float | None = 30.0,
    ) -> SyncTransport:
        """Open a TCP connection and complete the first key exchange."""
        stream = SocketStream.connect(host, port, timeout)
        try:
            transport = cls(stream, Role.CLIENT, config, host_key_check=host_key_check)
            transport.wait_for(KexComplete, timeout)
        except BaseException:
            stream.close()
            raise
        return transport

    # -- the loop ----------------------------------------------------------

    def _flush(self) -> None:
        data = self.core.data_to_send()
        if data:
            try:
                self.stream.write(data)
            except OSError as exc:
                self._lost(f"write failed: {exc}")

    def _lost(self, why: str) -> None:
        if not self.core.closed:
            self.core.receive_data(b"")
        if self.error is None:
            self.error = DisconnectError(DisconnectReason.CONNECTION_LOST, why)

    def _drain_events(self) -> None:
        core = self.core
        while (event := core.next_event()) is not None:
            if isinstance(event, HostKeyReceived):
                assert self.host_key_check is not None
                if self.host_key_check(event.key, event.algorithm):
                    core.accept_host_key()
                else:
                    core.reject_host_key()
            elif isinstance(event, MessageReceived):
                self._messages.append(event.payload)
            elif isinstance(event, ConnectionTerminated):
                if event.error is not None and self.error is None:
                    self.error = event.error
                self._events.append(event)
            elif not isinstance(event, INFO_EVENTS) or len(self._events) < MAX_INFO_EVENTS:
                self._events.append(event)
        self._flush()

    def _step(self, deadline: float | None) -> None:
        """Read once (waiting at most until ``deadline`` or the core's timer)."""
        if self.core.closed:
            raise self.error or LocalProtocolError("the connection is closed")
        now = time.monotonic()
        timer = self.core.get_timer()
        limits = [t for t in (deadline, timer) if t is not None]
        wait = max(0.0, min(limits) - now) if limits else None
        try:
            data = self.stream.read(wait)
        except TimeoutError:
            now = time.monotonic()
            self.core.handle_timer(now)
            self._drain_events()
            if deadline is not None and now >= deadline and not self.core.closed:
                raise TransportTimeout("timed out waiting for the peer") from None
            return
        except OSError as exc:
            self._lost(f"read failed: {exc}")
            self._drain_events()
            return
        self.core.receive_data(data, time.monotonic())
        self._drain_events()

    def wait_for(self, kind: type[Event], timeout: float | None = None) -> Event:
        """Run until an event of ``kind`` arrives; other events stay queued."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for event in self._events:
                if isinstance(event, kind):
                    self._events.remove(event)
                    return event
            if self.core.closed:
                raise self.error or LocalProtocolError("the connection is closed")
            self._step(deadline)

    # -- public API --------------------------------------------------------

    def flush(self) -> None:
        """Write what the core has queued; for layers that drive ``core`` directly."""
        data = self.core.data_to_send()
        if data:
            try:
                self.stream.write(data)
            except OSError as exc:
                self._lost(f"write failed: {exc}")
                assert self.error is not None
                raise self.error from exc

    def request_service(self, service: str = "ssh-userauth", timeout: float | None = 30.0) -> None:
        self.core.request_service(service)
        self._flush()
        self.wait_for(ServiceAccepted, timeout)

    def wait_for_service(self, timeout: float | None = None) -> str:
        """Server: wait until the client's service request was accepted."""
        event = self.wait_for(ServiceRequested, timeout)
        assert isinstance(event, ServiceRequested)
        return event.service

    def send_message(self, payload: bytes) -> None:
        self.core.send_message(payload)
        self._flush()

    def receive_message(self, timeout: float | None = None) -> bytes:
        """The next upper-layer message; raises the disconnect error if the connection ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._messages:
            if self.core.closed:
                raise self.error or LocalProtocolError("the connection is closed")
            self._step(deadline)
        return self._messages.popleft()

    def next_event(self) -> Event | None:
        """Events other than upper-layer messages (KexComplete, ExtInfoReceived, ...)."""
        return self._events.popleft() if self._events else None

    def send_ignore(self, data: bytes = b"") -> None:
        """Send SSH_MSG_IGNORE (padding traffic, keepalives)."""
        self.core.send_ignore(data)
        self._flush()

    def rekey(self, timeout: float | None = 30.0) -> None:
        """Start a key exchange and wait for it to finish."""
        # Forget completed exchanges so we wait for this one, not an earlier one.
        self._events = deque(e for e in self._events if not isinstance(e, KexComplete))
        self.core.start_rekey()
        self._flush()
        self.wait_for(KexComplete, timeout)

    def close(self, description: str = "") -> None:
        if not self.core.closed:
            self.core.close(DisconnectReason.BY_APPLICATION, description)
            self._flush()
        self.stream.close()

    def __enter__(self) -> SyncTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
