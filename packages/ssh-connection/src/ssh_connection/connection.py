"""The connection core (RFC 4254): channels and global requests over a lower stream core.

:class:`ConnectionCore` sits on the authentication core (or, in tests and custom stacks, a
``Transport`` whose service was accepted), owns message numbers 80-127 and passes every
other lower event up unchanged. It never does I/O: action methods queue messages in the
core below, decisions the peer asks for are pause events, and a peer's protocol error
queues DISCONNECT (PROTOCOL_ERROR) and ends in one ``ConnectionTerminated`` carrying the
error.

Floods are refused, not buffered: opens beyond ``max_pending_opens`` (or ``max_channels``)
get RESOURCE_SHORTAGE, and requests beyond ``max_pending_requests`` (per channel) or
``max_pending_global_requests`` get a failure reply, so the connection survives.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from ssh_transport import (
    ConnectionTerminated,
    Event,
    KexComplete,
    Role,
    StackedCore,
    StreamCore,
    Transport,
)
from ssh_wire import ChannelOpenFailure as Reason
from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    ExtendedDataType,
    LocalProtocolError,
    MessageNumber,
    Struct,
)

from . import events as ev
from . import forwarding as fw
from . import messages as m
from . import session as se
from .channel import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_PACKET,
    DEFAULT_WINDOW,
    MAX_WINDOW,
    Channel,
    ChannelState,
    ProtocolViolation,
)
from .channel_timeouts import ChannelTimeouts, timeout_type
from .global_requests import GlobalRequests, answer_once
from .helpers import RequestHelpers
from .replies import ReplyQueue, ReplySlot

__all__ = ["ConnectionCore", "SERVER_CHANNEL_TYPES", "CLIENT_CHANNEL_TYPES"]

log = logging.getLogger("ssh_connection")

#: Channel types each side accepts from its peer by default (others: UNKNOWN_CHANNEL_TYPE).
SERVER_CHANNEL_TYPES = frozenset({fw.SESSION, fw.DIRECT_TCPIP, fw.DIRECT_STREAMLOCAL})
CLIENT_CHANNEL_TYPES = frozenset(
    {fw.FORWARDED_TCPIP, fw.FORWARDED_STREAMLOCAL, fw.X11, fw.AUTH_AGENT}
)
# Session requests passed to the application, by the role receiving them; unknown ones with
# want_reply are refused at once (OpenSSH's keepalive@openssh.com channel request included).
_SERVER_REQUESTS = frozenset(
    {
        se.PTY_REQ,
        se.X11_REQ,
        se.ENV,
        se.SHELL,
        se.EXEC,
        se.SUBSYSTEM,
        se.WINDOW_CHANGE,
        se.SIGNAL,
        se.BREAK,
        se.AUTH_AGENT_REQ,
        se.EOW,
    }
)
_CLIENT_REQUESTS = frozenset({se.XON_XOFF, se.EOW})
_M = MessageNumber
_DATA = _M.CHANNEL_DATA
_CHANNEL_FIRST, _CHANNEL_LAST = _M.CHANNEL_OPEN_CONFIRMATION, _M.CHANNEL_FAILURE
#: Channel data stops going down while the transport holds this many messages (or bytes)
#: back for a key exchange; the rest stays in the channel (bounded by ``max_buffer``)
#: until the exchange ends. The transport refuses more than 4096 messages or 32 MiB held,
#: so this leaves room for the requests, replies and window adjusts that may follow.
HOLD_MESSAGES = 1024
HOLD_BYTES = 8 * 1024 * 1024
_BARE: Mapping[int, type[m.ChannelEof | m.ChannelClose | m.ChannelSuccess | m.ChannelFailure]] = {
    _M.CHANNEL_EOF: m.ChannelEof,
    _M.CHANNEL_CLOSE: m.ChannelClose,
    _M.CHANNEL_SUCCESS: m.ChannelSuccess,
    _M.CHANNEL_FAILURE: m.ChannelFailure,
}


def _encode(payload: bytes | Struct) -> bytes:
    return payload.encode() if isinstance(payload, Struct) else bytes(payload)


class ConnectionCore(RequestHelpers, StackedCore):
    """One end of the connection protocol. ``role`` decides which opens and requests the
    peer may make; limits are per connection unless named per channel.

    ``channel_timeouts`` are sshd's ChannelTimeout: (type pattern, seconds) pairs, the
    first match deciding, by the type names of sshd_config(5) (``session:command``,
    ``session:shell``, ``session:subsystem:sftp``, ``direct-tcpip``, ``forwarded-tcpip``,
    ``x11-connection``, ``agent-connection``, ...; ``global`` times all channels together);
    a channel with no data either way for that long is closed. ``unused_connection_timeout``
    ends a connection that has had no channel for that long (UnusedConnectionTimeout)."""

    def __init__(
        self,
        lower: StreamCore,
        role: Role,
        *,
        window: int = DEFAULT_WINDOW,
        max_packet: int = DEFAULT_MAX_PACKET,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_channels: int = 128,
        max_pending_opens: int = 32,
        max_pending_requests: int = 32,
        max_pending_global_requests: int = 64,
        max_outstanding_requests: int = 256,
        channel_types: Iterable[str] = (),
        channel_requests: Iterable[str] = (),
        global_requests: Iterable[str] = (),
        keepalive_interval: float | None = None,
        keepalive_count_max: int = 3,
        channel_timeouts: Sequence[tuple[str, float]] = (),
        unused_connection_timeout: float | None = None,
        now: float = 0.0,
    ) -> None:
        if keepalive_interval is not None and keepalive_interval <= 0:
            raise ValueError("keepalive_interval must be positive (or None for none)")
        if keepalive_count_max < 1:
            raise ValueError("keepalive_count_max must be at least 1")
        if not 0 < window <= MAX_WINDOW:
            raise ValueError(f"window must be 1 to 2^32 - 1, not {window}")
        if not 0 < max_packet <= MAX_WINDOW:
            raise ValueError(f"max_packet must be 1 to 2^32 - 1, not {max_packet}")
        for name, value in (
            ("max_buffer", max_buffer),
            ("max_channels", max_channels),
            ("max_pending_opens", max_pending_opens),
            ("max_pending_requests", max_pending_requests),
            ("max_pending_global_requests", max_pending_global_requests),
            ("max_outstanding_requests", max_outstanding_requests),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        super().__init__(lower)
        self.role = role
        self.window = window
        self.max_packet = max_packet
        self.max_buffer = max_buffer
        self.max_channels = max_channels
        self.max_pending_opens = max_pending_opens
        self.max_pending_requests = max_pending_requests
        self.max_outstanding_requests = max_outstanding_requests
        server = role is Role.SERVER
        self._accepted_types = (
            SERVER_CHANNEL_TYPES if server else CLIENT_CHANNEL_TYPES
        ) | frozenset(channel_types)
        self._session_requests = (_SERVER_REQUESTS if server else _CLIENT_REQUESTS) | frozenset(
            channel_requests
        )
        self._extra_requests = frozenset(channel_requests)
        self._channels: dict[int, Channel] = {}
        self._free_ids: list[int] = []  # a heap: the lowest free id is reused first
        self._next_id = 0
        self._pending_opens = 0
        self._globals = GlobalRequests(
            role,
            self._send,
            self._emit,
            max_pending=max_pending_global_requests,
            max_outstanding=max_outstanding_requests,
            extra_names=global_requests,
        )
        self._error: DisconnectError | None = None
        self._terminated = False
        # The transport at the bottom of the stack (None in a custom stack without one):
        # its hold queue during a key exchange is bounded, so channel data waits here.
        self._bottom = _bottom_transport(lower)
        self._held: set[int] = set()  # channels with data kept back until KexComplete
        # ssh's ServerAliveInterval / ServerAliveCountMax (ClientAlive* on a server): after
        # an interval with nothing from the peer, a keepalive@openssh.com; anything
        # received resets the count; count_max unanswered ones end the connection.
        self._keepalive_interval = keepalive_interval
        self._keepalive_count_max = keepalive_count_max
        self._keepalives_unanswered = 0
        self._next_keepalive = None if keepalive_interval is None else now + keepalive_interval
        # sshd's ChannelTimeout (type pattern, seconds) and UnusedConnectionTimeout.
        self._timeouts = ChannelTimeouts(channel_timeouts, unused_connection_timeout, now)
        if self._timeouts.active:
            self._now = now  # stamps before the driver's first read or timer

    # -- inspection -------------------------------------------------------------------------

    @property
    def channels(self) -> Mapping[int, Channel]:
        """The live channels by our id (read-only view)."""
        return MappingProxyType(self._channels)

    def channel(self, channel_id: int) -> Channel:
        ch = self._channels.get(channel_id)
        if ch is None:
            raise LocalProtocolError(f"no channel {channel_id}")
        return ch

    @property
    def pending_opens(self) -> int:
        return self._pending_opens

    @property
    def terminated(self) -> bool:
        return self._terminated

    @property
    def no_more_sessions(self) -> bool:
        """Server: the client sent no-more-sessions@openssh.com; later sessions are refused
        (ADMINISTRATIVELY_PROHIBITED; OpenSSH's sshd disconnects instead)."""
        return self._globals.no_more_sessions

    # -- actions: channels ------------------------------------------------------------------

    def open_channel(
        self,
        kind: str,
        payload: bytes | Struct = b"",
        *,
        window: int | None = None,
        max_packet: int | None = None,
    ) -> int:
        """Ask the peer for a channel of ``kind``; returns our id for it at once. Data,
        requests, EOF and close may be queued before the peer confirms."""
        self._check_alive()
        ch = self._new_channel(kind, ChannelState.OPENING, window, max_packet)
        self._send(
            m.ChannelOpen(kind, ch.local_id, ch.window_size, ch.max_packet, _encode(payload))
            .encode()
        )  # fmt: skip
        return ch.local_id

    def send(self, channel_id: int, data: bytes | bytearray | memoryview) -> int:
        """Queue data; returns how many bytes were taken (fewer once ``max_buffer`` bytes
        wait unsent: retry after :class:`ChannelWritable`)."""
        return self._queue(self._writable(channel_id), data, 0)

    def send_extended(
        self,
        channel_id: int,
        data: bytes | bytearray | memoryview,
        data_type: int = ExtendedDataType.STDERR,
    ) -> int:
        if not 0 < data_type <= MAX_WINDOW:
            raise ValueError(f"extended data type must be 1 to 2^32 - 1, not {data_type}")
        return self._queue(self._writable(channel_id), data, data_type)

    def _queue(self, ch: Channel, data: bytes | bytearray | memoryview, data_type: int) -> int:
        # What the peer's window takes at once does not count against the buffer.
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        taken = 0
        while True:
            n = ch.queue(view[taken:], data_type)
            taken += n
            self._flush(ch, notify=False)  # the caller learns from the return value
            if n == 0 or taken == len(view):
                break
        if ch.buffered <= ch.low_water:
            ch.writable_armed = False
        if taken:
            self._timeouts.sent(ch.local_id)
        return taken

    def send_eof(self, channel_id: int) -> None:
        """No more data from us; sent once the queued data is out."""
        ch = self._writable(channel_id)
        ch.eof_queued = True
        self._flush(ch)

    def close_channel(self, channel_id: int, *, discard: bool = False) -> None:
        """Close the channel once queued data is out (at once with ``discard``). The id is
        free after :class:`ChannelClosed`. A second call, or one for a channel already
        closed by the peer, does nothing."""
        self._check_alive()
        ch = self._channels.get(channel_id)
        if (
            ch is None
            or ch.close_queued
            or ch.state in (ChannelState.CLOSE_SENT, ChannelState.CLOSED)
        ):
            return
        if ch.state is ChannelState.ACCEPTING:
            raise LocalProtocolError("answer the pending ChannelOpenRequested instead")
        ch.close_queued = True
        if discard:
            ch.drop_queue()
        self._flush(ch)

    def consumed(self, channel_id: int, size: int) -> None:
        """The application used ``size`` bytes of this channel's data; the peer may send
        more once half the window is used up. A channel already gone is ignored."""
        ch = self._channels.get(channel_id)
        if ch is None or self._terminated:
            return
        increment = ch.consume(size)
        if increment and ch.remote_id is not None:
            self._send(m.encode_window_adjust(ch.remote_id, increment))

    def request(
        self, channel_id: int, name: str, data: bytes | Struct = b"", *, want_reply: bool = False
    ) -> None:
        """A channel request; with ``want_reply`` its outcome comes as
        :class:`ChannelRequestSucceeded` / :class:`ChannelRequestFailed`."""
        self._check_alive()
        ch = self.channel(channel_id)
        if not ch.is_open or ch.state is ChannelState.ACCEPTING:
            raise LocalProtocolError(f"channel {channel_id} takes no requests now")
        payload = _encode(data)
        if want_reply and (
            len(ch.outstanding) + len(ch.early_requests) >= self.max_outstanding_requests
        ):
            raise LocalProtocolError(f"channel {channel_id}: too many requests awaiting replies")
        if ch.state is ChannelState.OPENING:
            ch.early_requests.append((name, want_reply, payload))
            return
        self._send_request(ch, name, want_reply, payload)

    # -- actions: global requests -----------------------------------------------------------

    def global_request(
        self, name: str, data: bytes | Struct = b"", *, want_reply: bool = False
    ) -> None:
        """With ``want_reply`` the outcome comes as :class:`GlobalRequestSucceeded` (with the
        reply data) or :class:`GlobalRequestFailed`, in the order the requests went out."""
        self._check_alive()
        self._globals.request(name, _encode(data), want_reply)

    # -- the stacked-core hooks -------------------------------------------------------------

    def _owns(self, number: int) -> bool:
        return 80 <= number <= 127

    # -- keepalives ---------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        super().receive_data(data, now)
        if data and self._keepalive_interval is not None:
            self._keepalives_unanswered = 0  # the peer is alive, whatever it sent
            if now is not None:
                self._next_keepalive = now + self._keepalive_interval

    def _own_timer(self) -> float | None:
        if self._terminated or self.lower.closed:
            return None
        deadline = self._timeouts.deadline() if self._timeouts.active else None
        keepalive = self._next_keepalive
        if deadline is None or keepalive is None:
            return keepalive if deadline is None else deadline
        return min(keepalive, deadline)

    def _handle_own_timer(self, now: float) -> None:
        if self._timeouts.active:
            self._expire(now)
        if self._next_keepalive is not None and now >= self._next_keepalive:
            self._send_keepalive(now)

    def _expire(self, now: float) -> None:
        channels, unused = self._timeouts.expired(now)
        for channel_id in channels:
            ch = self._channels.get(channel_id)
            if ch is None or ch.state is ChannelState.ACCEPTING or self.lower.closed:
                continue
            log.info("channel %d (%s): closed after its inactivity timeout", channel_id, ch.kind)
            self.close_channel(channel_id, discard=True)
        if unused and not self.lower.closed:
            log.info("no channels for the unused connection timeout: disconnecting")
            self.lower.close(DisconnectReason.BY_APPLICATION, "unused connection timeout")
            self._pump()

    def _send_keepalive(self, now: float) -> None:
        assert self._keepalive_interval is not None
        if self._keepalives_unanswered >= self._keepalive_count_max:
            self._next_keepalive = None
            self.lower.close(
                DisconnectReason.CONNECTION_LOST,
                f"no answer to {self._keepalives_unanswered} keepalives",
            )
            self._pump()
            return
        self._keepalives_unanswered += 1
        self._globals.request(fw.KEEPALIVE, b"", True, internal=True)
        self._next_keepalive = now + self._keepalive_interval

    def _handle_message(self, payload: bytes) -> None:
        if self._terminated:
            return  # messages queued below after we gave up
        number = payload[0]
        try:
            if number == _DATA:
                self._on_data(payload)
            elif _CHANNEL_FIRST <= number <= _CHANNEL_LAST:
                self._on_channel_message(number, payload)
            elif number == _M.CHANNEL_OPEN:
                self._on_open(m.ChannelOpen.decode(payload))
            elif number == _M.GLOBAL_REQUEST:
                self._globals.on_request(m.GlobalRequest.decode(payload))
            elif number in (_M.REQUEST_SUCCESS, _M.REQUEST_FAILURE):
                self._globals.on_reply(number, payload)
            else:
                raise ProtocolViolation(f"message {number} is not defined by RFC 4254")
        except ProtocolViolation as exc:
            self._protocol_error(str(exc))
        except DecodeError as exc:
            self._protocol_error(f"malformed message {number}: {exc}")

    def _on_lower_event(self, event: Event) -> None:
        if isinstance(event, ConnectionTerminated):
            self._terminate()
            if event.error is None and self._error is not None:
                event = ConnectionTerminated(self._error)  # our own DISCONNECT, with its cause
        self._emit(event)
        if isinstance(event, KexComplete) and self._held and not self._terminated:
            # The transport has sent what it held: send what the channels kept back (a new
            # exchange may start on the way; then they wait for its end).
            held, self._held = sorted(self._held), set()
            for channel_id in held:
                ch = self._channels.get(channel_id)
                if ch is not None:
                    self._flush(ch)

    # -- incoming channel messages ----------------------------------------------------------

    def _channel_for(self, number: int, payload: bytes) -> Channel:
        recipient = m.recipient_of(payload)
        ch = self._channels.get(recipient)
        if ch is None:
            raise ProtocolViolation(f"message {number} for unknown channel {recipient}")
        ch.check(number)
        return ch

    def _on_data(self, payload: bytes) -> None:
        recipient, data = m.decode_data(payload)
        ch = self._channel_for(_DATA, payload)
        self._timeouts.received(recipient, self._now)
        if ch.receive(len(data)) and data:
            self._emit(ev.ChannelData(recipient, data))

    def _on_channel_message(self, number: int, payload: bytes) -> None:
        if number == _M.CHANNEL_EXTENDED_DATA:
            recipient, code, data = m.decode_extended_data(payload)
            ch = self._channel_for(number, payload)
            self._timeouts.received(recipient, self._now)
            if ch.receive(len(data)) and data:
                self._emit(ev.ChannelExtendedData(recipient, code, data))
        elif number == _M.CHANNEL_WINDOW_ADJUST:
            _, increment = m.decode_window_adjust(payload)
            ch = self._channel_for(number, payload)
            ch.add_window(increment)
            self._flush(ch)
        elif number == _M.CHANNEL_REQUEST:
            request = m.ChannelRequest.decode(payload)
            self._on_channel_request(self._channel_for(number, payload), request)
        elif number == _M.CHANNEL_OPEN_CONFIRMATION:
            confirmation = m.ChannelOpenConfirmation.decode(payload)
            self._on_confirmation(self._channel_for(number, payload), confirmation)
        elif number == _M.CHANNEL_OPEN_FAILURE:
            failure = m.ChannelOpenFailure.decode(payload)
            ch = self._channel_for(number, payload)
            self._release(ch)
            self._emit(
                ev.ChannelOpenFailed(
                    ch.local_id, ch.kind, failure.reason, failure.description, failure.language
                )
            )
        else:
            # EOF, CLOSE, SUCCESS and FAILURE are a bare recipient.
            _BARE[number].decode(payload)
            ch = self._channel_for(number, payload)
            if number == _M.CHANNEL_EOF:
                if ch.state is not ChannelState.CLOSE_SENT:
                    ch.peer_eof()
                    self._emit(ev.ChannelEOF(ch.local_id))
            elif number == _M.CHANNEL_CLOSE:
                self._on_close(ch)
            else:
                self._on_request_reply(ch, number == _M.CHANNEL_SUCCESS)

    def _on_confirmation(self, ch: Channel, msg: m.ChannelOpenConfirmation) -> None:
        ch.opened(msg.sender, msg.window, msg.max_packet)
        self._emit(ev.ChannelOpened(ch.local_id, ch.kind, msg.data))
        early, ch.early_requests = ch.early_requests, []
        for name, want_reply, data in early:
            self._send_request(ch, name, want_reply, data)
        self._flush(ch)

    def _on_close(self, ch: Channel) -> None:
        if ch.state is not ChannelState.CLOSE_SENT:
            # RFC 4254 5.3: answer a CLOSE with ours; unsent data can no longer be delivered.
            ch.drop_queue()
            assert ch.remote_id is not None
            self._send(m.ChannelClose(ch.remote_id).encode())
        self._release(ch)
        self._emit(ev.ChannelClosed(ch.local_id))

    def _on_request_reply(self, ch: Channel, success: bool) -> None:
        if not ch.outstanding:
            raise ProtocolViolation(f"channel {ch.local_id}: a reply to no request")
        name = ch.outstanding.popleft()
        if ch.state is ChannelState.CLOSE_SENT:
            return
        event = ev.ChannelRequestSucceeded if success else ev.ChannelRequestFailed
        self._emit(event(ch.local_id, name))

    def _on_channel_request(self, ch: Channel, msg: m.ChannelRequest) -> None:
        if ch.state is ChannelState.CLOSE_SENT:
            return  # we may send nothing more on this channel, replies included
        name, want_reply, channel_id = msg.request, msg.want_reply, ch.local_id
        session = ch.kind == se.SESSION
        if name == se.EXIT_STATUS and session:
            status = se.ExitStatus.decode(msg.data)
            self._emit(ev.ExitStatusReceived(channel_id, status.status))
            if want_reply:
                ch.replies.automatic(self._channel_reply(ch, True))
            return
        if name == se.EXIT_SIGNAL and session:
            sig = se.ExitSignal.decode(msg.data)
            self._emit(
                ev.ExitSignalReceived(
                    channel_id, sig.signal, sig.core_dumped, sig.message, sig.language
                )
            )
            if want_reply:
                ch.replies.automatic(self._channel_reply(ch, True))
            return
        payload: Struct | bytes
        if name in self._extra_requests:
            payload = msg.data
        elif session and name in self._session_requests:
            decoded = se.decode_request(name, msg.data)
            payload = msg.data if decoded is None else decoded
            if name in (se.EXEC, se.SHELL, se.SUBSYSTEM) and self.role is Role.SERVER:
                subsystem = decoded.name if isinstance(decoded, se.SubsystemRequest) else None
                kind = timeout_type(ch.kind, name, subsystem)
                self._timeouts.retype(channel_id, kind, self._now)
        else:
            if want_reply:
                ch.replies.automatic(self._channel_reply(ch, False))
            return
        if not want_reply:
            self._emit(ev.ChannelRequestReceived(
                channel_id, name, False, payload, answer_with=answer_once()
            ))  # fmt: skip
            return
        if ch.replies.full:
            ch.replies.automatic(self._channel_reply(ch, False))
            return
        slot = ch.replies.reserve()
        self._emit(
            ev.ChannelRequestReceived(
                channel_id, name, True, payload, answer_with=self._channel_answer(ch, slot)
            )
        )

    def _channel_reply(self, ch: Channel, success: bool) -> bytes:
        assert ch.remote_id is not None
        cls = m.ChannelSuccess if success else m.ChannelFailure
        return cls(ch.remote_id).encode()

    def _channel_answer(self, ch: Channel, slot: ReplySlot) -> Callable[[bool], None]:
        def answer(ok: bool) -> None:
            if not isinstance(ok, bool):
                raise TypeError(f"answer True or False, not {ok!r}")
            if slot.answered:
                raise LocalProtocolError("this request was already answered")
            if (
                self._terminated
                or self._channels.get(ch.local_id) is not ch
                or ch.state is ChannelState.CLOSE_SENT
            ):
                slot.answered = True  # the channel is gone or closing: nothing to send
                return
            ch.replies.fill(slot, self._channel_reply(ch, ok))

        return answer

    # -- incoming opens ---------------------------------------------------------------------

    def _on_open(self, msg: m.ChannelOpen) -> None:
        refusal: tuple[int, str] | None = None
        if len(self._channels) >= self.max_channels:
            refusal = (Reason.RESOURCE_SHORTAGE, "too many channels")
        elif self._pending_opens >= self.max_pending_opens:
            refusal = (Reason.RESOURCE_SHORTAGE, "too many channel opens pending")
        elif msg.kind not in self._accepted_types:
            refusal = (Reason.UNKNOWN_CHANNEL_TYPE, f"unknown channel type {msg.kind[:64]!r}")
        elif msg.kind == fw.SESSION and self.no_more_sessions:
            refusal = (Reason.ADMINISTRATIVELY_PROHIBITED, "no more sessions")
        if refusal is not None:
            self._send(m.ChannelOpenFailure(msg.sender, *refusal, "").encode())
            return
        decoded = fw.decode_open(msg.kind, msg.data)
        payload: Struct | bytes = msg.data if decoded is None else decoded
        ch = self._new_channel(msg.kind, ChannelState.ACCEPTING, None, None)
        ch.remote_id = msg.sender
        peer_window, peer_packet = msg.window, msg.max_packet
        self._pending_opens += 1
        answered: list[bool] = []

        def answer(value: ev.OpenAnswer) -> None:
            if not isinstance(value, (bool, ev.Rejection)):
                raise TypeError(f"answer True, False or a Rejection, not {value!r}")
            if answered:
                raise LocalProtocolError("this channel open was already answered")
            answered.append(True)
            if self._terminated:
                return
            self._pending_opens -= 1
            if value is True:
                self._send(
                    m.ChannelOpenConfirmation(
                        msg.sender, ch.local_id, ch.window_size, ch.max_packet, b""
                    ).encode()
                )
                ch.opened(msg.sender, peer_window, peer_packet)
                return
            rejection = value if isinstance(value, ev.Rejection) else ev.Rejection()
            self._send(
                m.ChannelOpenFailure(
                    msg.sender, rejection.reason, rejection.description[:256], ""
                ).encode()
            )
            self._release(ch)

        self._emit(ev.ChannelOpenRequested(ch.local_id, msg.kind, payload, answer_with=answer))

    # -- sending ----------------------------------------------------------------------------

    def _send(self, payload: bytes) -> None:
        # Messages read in the same batch as the peer's DISCONNECT are still handled after
        # the core below has closed; their answers have nowhere to go.
        if not self.lower.closed:
            self.lower.send_message(payload)

    def _send_request(self, ch: Channel, name: str, want_reply: bool, data: bytes) -> None:
        assert ch.remote_id is not None
        self._send(m.ChannelRequest(ch.remote_id, name, want_reply, data).encode())
        if want_reply:
            ch.outstanding.append(name)

    def _flush(self, ch: Channel, *, notify: bool = True) -> None:
        """Send what the windows allow, then EOF and CLOSE once nothing is queued."""
        state = ch.state
        if state in (ChannelState.OPENING, ChannelState.ACCEPTING, ChannelState.CLOSE_SENT):
            return
        send, bottom = self._send, self._bottom
        while True:
            if bottom is not None and (
                bottom.queued_messages >= HOLD_MESSAGES or bottom.queued_bytes >= HOLD_BYTES
            ):
                # A key exchange holds much back already (it may have started on the way,
                # after enough bytes): keep the rest, or the transport's bounded hold queue
                # would refuse a packet taken off the channel, and lose it.
                self._held.add(ch.local_id)
                break
            packet = ch.next_packet()
            if packet is None:
                break
            send(packet)
        if ch.buffered:
            if notify and ch.became_writable():
                self._emit(ev.ChannelWritable(ch.local_id))
            return
        assert ch.remote_id is not None
        if ch.eof_queued and not ch.eof_sent:
            send(m.ChannelEof(ch.remote_id).encode())
            ch.sent_eof()
        if ch.close_queued:
            send(m.ChannelClose(ch.remote_id).encode())
            ch.state = ChannelState.CLOSE_SENT
            ch.replies.clear()  # nothing may follow our CLOSE, replies owed included
        elif notify and ch.became_writable():
            self._emit(ev.ChannelWritable(ch.local_id))

    # -- channel table ----------------------------------------------------------------------

    def _new_channel(
        self, kind: str, state: ChannelState, window: int | None, max_packet: int | None
    ) -> Channel:
        if len(self._channels) >= self.max_channels:
            raise LocalProtocolError(f"already {self.max_channels} channels")
        window = self.window if window is None else window
        max_packet = self.max_packet if max_packet is None else max_packet
        if not 0 < window <= MAX_WINDOW or not 0 < max_packet <= MAX_WINDOW:
            raise ValueError("window and max_packet must be 1 to 2^32 - 1")
        if self._free_ids:
            local_id = heapq.heappop(self._free_ids)
        else:
            local_id, self._next_id = self._next_id, self._next_id + 1
        ch = Channel(
            local_id,
            kind,
            state,
            window=window,
            max_packet=max_packet,
            max_buffer=self.max_buffer,
            replies=ReplyQueue(self.max_pending_requests, self._send),
        )
        self._channels[local_id] = ch
        self._timeouts.opened(local_id, timeout_type(kind), self._now)
        return ch

    def _release(self, ch: Channel) -> None:
        """The channel is over on both sides: its id may be reused."""
        ch.state = ChannelState.CLOSED
        self._held.discard(ch.local_id)
        ch.drop_queue()
        ch.replies.clear()
        del self._channels[ch.local_id]
        heapq.heappush(self._free_ids, ch.local_id)
        self._timeouts.closed(ch.local_id, self._now)

    def _writable(self, channel_id: int) -> Channel:
        self._check_alive()
        ch = self.channel(channel_id)
        if ch.state is ChannelState.ACCEPTING:
            raise LocalProtocolError(f"channel {channel_id} is not accepted yet")
        if not ch.is_open or ch.eof_queued:
            raise LocalProtocolError(f"channel {channel_id} takes no more data")
        return ch

    def _check_alive(self) -> None:
        if self._terminated or self.lower.closed:
            raise LocalProtocolError("the connection is closed")

    # -- failure ----------------------------------------------------------------------------

    def _protocol_error(self, description: str) -> None:
        if self._terminated:
            return
        log.debug("disconnecting: %s", description)
        self._error = DisconnectError(DisconnectReason.PROTOCOL_ERROR, description, local=True)
        self._terminate()
        self.lower.close(DisconnectReason.PROTOCOL_ERROR, description[:200])

    def _terminate(self) -> None:
        self._terminated = True
        for ch in self._channels.values():
            ch.drop_queue()
            ch.replies.clear()
        self._globals.close()


def _bottom_transport(core: StreamCore) -> Transport | None:
    """The Transport under a stack of cores (each StackedCore's ``lower``), if any."""
    for _ in range(16):
        if isinstance(core, Transport):
            return core
        lower = getattr(core, "lower", None)
        if lower is None:
            return None
        core = lower
    return None
