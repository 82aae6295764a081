"""Events the transport core reports. Small immutable records, one per happening."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ssh_keys import PublicKey
from ssh_wire import DisconnectError

from .negotiation import Algorithms

__all__ = [
    "Event",
    "Pause",
    "HostKeyReceived",
    "KexComplete",
    "ExtInfoReceived",
    "ServiceRequested",
    "ServiceAccepted",
    "MessageReceived",
    "DebugReceived",
    "PongReceived",
    "ConnectionTerminated",
    "INFO_EVENTS",
    "MAX_INFO_EVENTS",
]


class Event:
    """Base of every event a core reports, at every layer."""

    __slots__ = ()


T = TypeVar("T")


@dataclass(frozen=True, slots=True, eq=False)
class Pause(Event, Generic[T]):
    """An event the core waits on: a decision that may need I/O (trust a host key, check a
    password, open a channel). Answer it once with :meth:`answer`; the answer goes to the
    core that asked, whichever layer of a stack it sits in, so a driver needs no knowledge
    of the layers. Until then that core holds back what depends on the decision."""

    answer_with: Callable[[T], None] = field(repr=False, compare=False, kw_only=True)

    def answer(self, value: T) -> None:
        """Give the decision; the core raises LocalProtocolError for a second answer."""
        self.answer_with(value)


@dataclass(frozen=True, slots=True, eq=False)
class HostKeyReceived(Pause[bool]):
    """Client: the server proved it holds this key. The core waits for ``answer(True)``
    (or ``accept_host_key()``) or ``answer(False)`` (``reject_host_key()``)."""

    key: PublicKey
    algorithm: str


@dataclass(frozen=True, slots=True)
class KexComplete(Event):
    algorithms: Algorithms
    session_id: bytes
    first: bool
    strict: bool


@dataclass(frozen=True, slots=True)
class ExtInfoReceived(Event):
    extensions: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class ServiceRequested(Event):
    """Server: the client asked for this service and it was accepted."""

    service: str


@dataclass(frozen=True, slots=True)
class ServiceAccepted(Event):
    """Client: the server accepted our service request."""

    service: str


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A message for an upper layer (numbers 50-127)."""

    payload: bytes

    @property
    def number(self) -> int:
        return self.payload[0]


@dataclass(frozen=True, slots=True)
class DebugReceived(Event):
    always_display: bool
    message: str


@dataclass(frozen=True, slots=True)
class PongReceived(Event):
    data: bytes


@dataclass(frozen=True, slots=True)
class ConnectionTerminated(Event):
    """The connection is over. ``error`` is None for an orderly local close."""

    error: DisconnectError | None


#: Events that only inform (a peer can send their messages without end, before
#: authentication too): drivers queue at most MAX_INFO_EVENTS events and drop these beyond.
INFO_EVENTS = (DebugReceived, PongReceived, ExtInfoReceived)
MAX_INFO_EVENTS = 256
