"""One channel: its state, what the peer may send in each state, and flow control.

The state names what the channel expects next. :data:`ALLOWED` is the whole truth about
which channel messages (numbers 91-100) the peer may send in each state; the core
disconnects on anything else, and the exhaustive state x message test is driven by it.

Flow control (RFC 4254 5.2), both directions:

- Receiving: the peer may send at most our window, in data messages of at most our maximum
  packet, or it is cut off. The window is given back (WINDOW_ADJUST) only as the application
  reports data consumed, once half of it is used up, so a slow reader pushes back.
- Sending: data queues here and leaves as the peer's window and maximum packet allow.
  The queue is bounded (``max_buffer``); :meth:`Channel.queue` accepts what fits and says
  how much, like a non-blocking socket. Once the queue drains to ``low_water`` after having
  been above it, the core reports the channel writable. EOF and CLOSE wait for the queue.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping

from ssh_wire import LocalProtocolError, MessageNumber, RemoteProtocolError

from .messages import encode_data, encode_extended_data
from .replies import ReplyQueue

__all__ = [
    "ChannelState",
    "ALLOWED",
    "Channel",
    "ProtocolViolation",
    "DEFAULT_WINDOW",
    "DEFAULT_MAX_PACKET",
    "DEFAULT_MAX_BUFFER",
    "MAX_WINDOW",
    "SEND_PACKET_CEILING",
]

#: Our receive window and maximum packet by default: OpenSSH's for session channels.
DEFAULT_WINDOW = 2 * 1024 * 1024
DEFAULT_MAX_PACKET = 32 * 1024
#: Unsent data a channel holds at most, whatever window the peer offers.
DEFAULT_MAX_BUFFER = 2 * 1024 * 1024
MAX_WINDOW = 0xFFFFFFFF
#: Largest data we put in one message even if the peer allows more: OpenSSH's transport
#: takes packets of up to 256 KiB, which must also hold the headers, padding and MAC.
SEND_PACKET_CEILING = 256 * 1024 - 1024


class ChannelState(enum.Enum):
    OPENING = "opening"  # we sent CHANNEL_OPEN; the peer's answer is due
    ACCEPTING = "accepting"  # the peer sent CHANNEL_OPEN; our application's answer is due
    OPEN = "open"
    EOF_SENT = "eof sent"  # we send no more data; the peer still may
    EOF_RECEIVED = "eof received"  # the peer sends no more data; we still may
    EOF_BOTH = "eof sent and received"
    CLOSE_SENT = "close sent"  # the peer's CLOSE is due; what it sends meanwhile is dropped
    CLOSED = "closed"  # both CLOSEs done: the id is free


_M = MessageNumber
_AFTER_OPEN = frozenset(
    {
        _M.CHANNEL_WINDOW_ADJUST,
        _M.CHANNEL_CLOSE,
        _M.CHANNEL_REQUEST,
        _M.CHANNEL_SUCCESS,
        _M.CHANNEL_FAILURE,
    }
)
_PEER_SENDING = frozenset({_M.CHANNEL_DATA, _M.CHANNEL_EXTENDED_DATA, _M.CHANNEL_EOF})

ALLOWED: Mapping[ChannelState, frozenset[int]] = {
    ChannelState.OPENING: frozenset({_M.CHANNEL_OPEN_CONFIRMATION, _M.CHANNEL_OPEN_FAILURE}),
    # The peer cannot know our id before we confirm.
    ChannelState.ACCEPTING: frozenset(),
    ChannelState.OPEN: _AFTER_OPEN | _PEER_SENDING,
    ChannelState.EOF_SENT: _AFTER_OPEN | _PEER_SENDING,
    # Data or a second EOF after the peer's EOF breaks RFC 4254 5.3.
    ChannelState.EOF_RECEIVED: _AFTER_OPEN,
    ChannelState.EOF_BOTH: _AFTER_OPEN,
    # The peer may not have seen our CLOSE yet: everything but open replies is tolerated.
    ChannelState.CLOSE_SENT: _AFTER_OPEN | _PEER_SENDING,
    # A closed channel leaves the table: its number is an unknown channel.
    ChannelState.CLOSED: frozenset(),
}

_EOF_SENT_STATES = frozenset({ChannelState.EOF_SENT, ChannelState.EOF_BOTH})
_EOF_RECEIVED_STATES = frozenset({ChannelState.EOF_RECEIVED, ChannelState.EOF_BOTH})


class ProtocolViolation(RemoteProtocolError):
    """The peer broke the connection protocol (the core turns this into a disconnect)."""


class Channel:
    """A channel's bookkeeping; the core does the messaging."""

    __slots__ = (
        "_queue",
        "buffered",
        "close_queued",
        "early_requests",
        "eof_queued",
        "kind",
        "local_id",
        "local_window",
        "low_water",
        "max_buffer",
        "max_packet",
        "outstanding",
        "remote_id",
        "remote_max_packet",
        "remote_window",
        "replies",
        "state",
        "to_advertise",
        "unconsumed",
        "window_size",
        "writable_armed",
    )

    def __init__(
        self,
        local_id: int,
        kind: str,
        state: ChannelState,
        *,
        window: int,
        max_packet: int,
        max_buffer: int,
        replies: ReplyQueue,
    ) -> None:
        self.local_id = local_id
        self.kind = kind
        self.state = state
        self.remote_id: int | None = None
        # receiving
        self.window_size = window
        self.max_packet = max_packet
        self.local_window = window  # what the peer may still send
        self.unconsumed = 0  # received, not yet reported consumed
        self.to_advertise = 0  # consumed, not yet given back by WINDOW_ADJUST
        # sending
        self.remote_window = 0
        self.remote_max_packet = 0
        self._queue: deque[tuple[int, memoryview]] = deque()  # (type code or 0, data)
        self.buffered = 0
        self.max_buffer = max_buffer
        self.low_water = max_buffer // 4
        self.writable_armed = False
        self.eof_queued = False
        self.close_queued = False
        # requests: ours awaiting replies (by name), ours held until the open is confirmed,
        # and the replies we owe the peer
        self.outstanding: deque[str] = deque()
        self.early_requests: list[tuple[str, bool, bytes]] = []
        self.replies = replies

    def __repr__(self) -> str:
        return (
            f"<Channel {self.local_id}->{self.remote_id} {self.kind} {self.state.value} "
            f"window {self.local_window}/{self.remote_window} queued {self.buffered}>"
        )

    # -- what the peer may send -------------------------------------------------------------

    def check(self, number: int) -> None:
        if number not in ALLOWED[self.state]:
            raise ProtocolViolation(
                f"message {number} not allowed on channel {self.local_id} ({self.state.value})"
            )

    @property
    def eof_sent(self) -> bool:
        return self.state in _EOF_SENT_STATES

    @property
    def eof_received(self) -> bool:
        return self.state in _EOF_RECEIVED_STATES

    @property
    def is_open(self) -> bool:
        """The application may still send (data, EOF, requests)."""
        return self.state not in (ChannelState.CLOSE_SENT, ChannelState.CLOSED) and not (
            self.close_queued
        )

    # -- receiving --------------------------------------------------------------------------

    def receive(self, size: int) -> bool:
        """Account for ``size`` bytes of peer data; False when they are to be dropped."""
        if size > self.max_packet:
            raise ProtocolViolation(
                f"channel {self.local_id}: {size} bytes of data, maximum packet {self.max_packet}"
            )
        if size > self.local_window:
            raise ProtocolViolation(
                f"channel {self.local_id}: {size} bytes of data, window {self.local_window}"
            )
        self.local_window -= size
        if self.state is ChannelState.CLOSE_SENT:
            return False
        self.unconsumed += size
        return True

    def consume(self, size: int) -> int:
        """The application used ``size`` bytes; returns the WINDOW_ADJUST to send, or 0."""
        if size < 0 or size > self.unconsumed:
            raise LocalProtocolError(
                f"channel {self.local_id}: consumed {size} bytes, {self.unconsumed} unconsumed"
            )
        self.unconsumed -= size
        self.to_advertise += size
        if self.eof_received or self.state in (ChannelState.CLOSE_SENT, ChannelState.CLOSED):
            return 0  # the peer sends no more: its window no longer matters
        if self.to_advertise < self.window_size // 2:
            # Batched, as OpenSSH does. A stalled peer has used the whole window, so this
            # is reached once the application consumes what it has.
            return 0
        increment, self.to_advertise = self.to_advertise, 0
        self.local_window += increment
        return increment

    def peer_eof(self) -> None:
        self.state = (
            ChannelState.EOF_BOTH
            if self.state is ChannelState.EOF_SENT
            else ChannelState.EOF_RECEIVED
        )

    # -- sending ----------------------------------------------------------------------------

    def opened(self, remote_id: int, window: int, max_packet: int) -> None:
        self.remote_id = remote_id
        self.remote_window = window
        self.remote_max_packet = min(max_packet, SEND_PACKET_CEILING)
        self.state = ChannelState.OPEN

    def add_window(self, increment: int) -> None:
        window = self.remote_window + increment
        if window > MAX_WINDOW:
            raise ProtocolViolation(f"channel {self.local_id}: window adjusted past 2^32 - 1")
        self.remote_window = window

    def queue(self, data: memoryview, data_type: int = 0) -> int:
        """Queue what fits of ``data``; returns how many bytes were taken. A view of
        ``bytes`` is kept as it is; anything mutable is copied."""
        room = self.max_buffer - self.buffered
        taken = min(len(data), room)
        if taken > 0:
            chunk = data[:taken]
            if not isinstance(data.obj, bytes):
                chunk = memoryview(chunk.tobytes())
            self._queue.append((data_type, chunk))
            self.buffered += taken
        if self.buffered > self.low_water or taken < len(data):
            self.writable_armed = True
        return taken

    def drop_queue(self) -> None:
        self._queue.clear()
        self.buffered = 0
        self.writable_armed = False

    def take_packets(self, max_count: int | None = None) -> list[bytes]:
        """Encoded DATA / EXTENDED_DATA messages the peer's window and packet size allow,
        at most ``max_count`` of them."""
        out: list[bytes] = []
        while max_count is None or len(out) < max_count:
            packet = self.next_packet()
            if packet is None:
                break
            out.append(packet)
        return out

    def next_packet(self) -> bytes | None:
        """The next DATA / EXTENDED_DATA message the peer's window and packet size allow
        (taken off the queue and the window), or None."""
        queue = self._queue
        limit = min(self.remote_window, self.remote_max_packet)
        if not queue or limit <= 0 or self.remote_id is None:
            return None
        data_type, chunk = queue[0]
        n = min(len(chunk), limit)
        if n == len(chunk):
            queue.popleft()
        else:
            queue[0] = (data_type, chunk[n:])
            chunk = chunk[:n]
        self.remote_window -= n
        self.buffered -= n
        if data_type:
            return encode_extended_data(self.remote_id, data_type, chunk)
        return encode_data(self.remote_id, chunk)

    def became_writable(self) -> bool:
        """True once after the queue drained to the low-water mark."""
        if self.writable_armed and self.buffered <= self.low_water:
            self.writable_armed = False
            return True
        return False

    def sent_eof(self) -> None:
        self.state = (
            ChannelState.EOF_BOTH
            if self.state is ChannelState.EOF_RECEIVED
            else ChannelState.EOF_SENT
        )
