"""Stacked cores: one byte-stream surface for every layer, so a driver pumps one core.

A connection is a stack: the transport at the bottom, authentication on it, the connection
layer on that. Each layer is a :class:`StreamCore` itself: a driver feeds the top core the
bytes it reads, writes what the top core has to send, runs the top core's timer and reads
its events. A :class:`StackedCore` delegates bytes and timers down, takes the messages whose
numbers it owns out of the lower core's events, and passes every other event up unchanged,
pause events included: their answers go straight to the core that asked.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol, runtime_checkable

from ssh_wire import DisconnectReason

from .events import Event, MessageReceived

__all__ = ["StreamCore", "StackedCore"]


@runtime_checkable
class StreamCore(Protocol):
    """The surface every core of a stack offers, and what a layer on top needs below it."""

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Bytes read from the peer; ``b""`` is end of stream."""
        ...

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer (b"" when there are none)."""
        ...

    def next_event(self) -> Event | None: ...

    def get_timer(self) -> float | None:
        """The earliest deadline at which :meth:`handle_timer` must be called."""
        ...

    def handle_timer(self, now: float) -> None: ...

    @property
    def closed(self) -> bool: ...

    def close(
        self, reason: int = DisconnectReason.BY_APPLICATION, description: str = ""
    ) -> None: ...

    def send_message(self, payload: bytes) -> None:
        """Send one upper-layer message (numbers 50-127) once the transport allows it."""
        ...


class StackedCore:
    """Base of a core that sits on a lower :class:`StreamCore` and owns some message numbers.

    Subclasses implement :meth:`_owns` and :meth:`_handle_message`, and may override
    :meth:`_on_lower_event`, :meth:`_own_timer` and :meth:`_handle_own_timer`. They queue
    their own events with :meth:`_emit`; lower events they do not consume pass up in order.
    """

    def __init__(self, lower: StreamCore) -> None:
        self.lower = lower
        self._events: deque[Event] = deque()
        self._now: float | None = None

    # -- the byte-stream surface ----------------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        if now is not None:
            self._now = now
        self.lower.receive_data(data, now)
        self._pump()

    def data_to_send(self) -> bytes:
        return self.lower.data_to_send()

    def next_event(self) -> Event | None:
        self._pump()
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        lower, own = self.lower.get_timer(), self._own_timer()
        if lower is None:
            return own
        return lower if own is None else min(lower, own)

    def handle_timer(self, now: float) -> None:
        self._now = now
        self.lower.handle_timer(now)
        self._pump()
        own = self._own_timer()
        if own is not None and now >= own:
            self._handle_own_timer(now)

    @property
    def closed(self) -> bool:
        return self.lower.closed

    def close(self, reason: int = DisconnectReason.BY_APPLICATION, description: str = "") -> None:
        self.lower.close(reason, description)
        self._pump()

    def send_message(self, payload: bytes) -> None:
        self.lower.send_message(payload)

    # -- for subclasses -------------------------------------------------------------------

    def feed_lower_event(self, event: Event) -> None:
        """Handle one event as if the lower core had just reported it: for a driver that
        stacks this core on a running connection and holds events that came before."""
        if type(event) is MessageReceived and event.payload and self._owns(event.payload[0]):
            self._handle_message(event.payload)
        else:
            self._on_lower_event(event)

    def _pump(self) -> None:
        """Take the lower core's events: ours are handled, the rest pass up in order."""
        lower = self.lower
        while (event := lower.next_event()) is not None:
            self.feed_lower_event(event)

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _owns(self, number: int) -> bool:
        """Whether messages with this number are this layer's."""
        raise NotImplementedError

    def _handle_message(self, payload: bytes) -> None:
        raise NotImplementedError

    def _on_lower_event(self, event: Event) -> None:
        """A lower event this layer does not consume: passed up by default."""
        self._events.append(event)

    def _own_timer(self) -> float | None:
        return None

    def _handle_own_timer(self, now: float) -> None:
        """Called once :meth:`_own_timer` has passed."""
