"""Events the connection core reports: small immutable records, one per happening.

Pause events (the core waits for the application's answer, which may take I/O):
:class:`ChannelOpenRequested`, :class:`ChannelRequestReceived` and
:class:`GlobalRequestReceived`. Answer each once; a second answer raises
``LocalProtocolError``. An answer that arrives after the channel or connection ended is
ignored. Events of the layers below pass through the connection core unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ssh_transport import Event, Pause
from ssh_wire import ChannelOpenFailure, Struct

__all__ = [
    "ConnectionEvent",
    "Rejection",
    "OpenAnswer",
    # server side (or whichever side the peer asks)
    "ChannelOpenRequested",
    "ChannelRequestReceived",
    "GlobalRequestReceived",
    # about our own opens and requests
    "ChannelOpened",
    "ChannelOpenFailed",
    "ChannelRequestSucceeded",
    "ChannelRequestFailed",
    "GlobalRequestSucceeded",
    "GlobalRequestFailed",
    # channel life
    "ChannelData",
    "ChannelExtendedData",
    "ChannelEOF",
    "ChannelClosed",
    "ChannelWritable",
    "ExitStatusReceived",
    "ExitSignalReceived",
]


class ConnectionEvent(Event):
    """Base of the connection layer's own events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """The answer that refuses a channel open, with the RFC 4254 5.1 reason."""

    reason: int = ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED
    description: str = ""


#: ``True`` accepts, ``False`` refuses with ADMINISTRATIVELY_PROHIBITED.
OpenAnswer: TypeAlias = bool | Rejection


@dataclass(frozen=True, slots=True, eq=False)
class ChannelOpenRequested(Pause[OpenAnswer], ConnectionEvent):
    """The peer wants a channel. ``channel_id`` is ours for it once accepted; ``payload`` is
    the typed open data of a known ``kind`` (see ``ssh_connection.forwarding``) or the raw
    bytes of an extra kind the core was told to accept."""

    channel_id: int
    kind: str
    payload: Struct | bytes

    def accept(self) -> None:
        self.answer(True)

    def reject(
        self, reason: int = ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED, description: str = ""
    ) -> None:
        self.answer(Rejection(reason, description))


@dataclass(frozen=True, slots=True, eq=False)
class ChannelRequestReceived(Pause[bool], ConnectionEvent):
    """A channel request (pty-req, exec, ...). ``payload`` is the typed request data of a
    known request (``ssh_connection.session``) or the raw bytes of an extra one. Answer
    True or False; without ``want_reply`` nothing is sent, so answering is optional."""

    channel_id: int
    request: str
    want_reply: bool
    payload: Struct | bytes


@dataclass(frozen=True, slots=True, eq=False)
class GlobalRequestReceived(Pause[bytes | None], ConnectionEvent):
    """A global request. Answer with the REQUEST_SUCCESS data (``b""`` for none) or None
    for REQUEST_FAILURE. ``payload`` is typed for known names, else the raw ``data``."""

    name: str
    want_reply: bool
    data: bytes
    payload: Struct | bytes


@dataclass(frozen=True, slots=True)
class ChannelOpened(ConnectionEvent):
    """Our open was confirmed."""

    channel_id: int
    kind: str
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class ChannelOpenFailed(ConnectionEvent):
    """Our open was refused; the channel id is free again."""

    channel_id: int
    kind: str
    reason: int
    description: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class ChannelRequestSucceeded(ConnectionEvent):
    channel_id: int
    request: str


@dataclass(frozen=True, slots=True)
class ChannelRequestFailed(ConnectionEvent):
    channel_id: int
    request: str


@dataclass(frozen=True, slots=True)
class GlobalRequestSucceeded(ConnectionEvent):
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class GlobalRequestFailed(ConnectionEvent):
    name: str


@dataclass(frozen=True, slots=True)
class ChannelData(ConnectionEvent):
    """Data from the peer. Call ``core.consumed(channel_id, len(data))`` once it is used:
    the window is only given back to the peer then."""

    channel_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ChannelExtendedData(ConnectionEvent):
    """Extended data (``data_type`` 1 is stderr); it counts against the same window."""

    channel_id: int
    data_type: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ChannelEOF(ConnectionEvent):
    channel_id: int


@dataclass(frozen=True, slots=True)
class ChannelClosed(ConnectionEvent):
    """Both sides have closed; the id may be reused for a later channel."""

    channel_id: int


@dataclass(frozen=True, slots=True)
class ChannelWritable(ConnectionEvent):
    """The channel's unsent data dropped to the low-water mark: send more."""

    channel_id: int


@dataclass(frozen=True, slots=True)
class ExitStatusReceived(ConnectionEvent):
    channel_id: int
    status: int


@dataclass(frozen=True, slots=True)
class ExitSignalReceived(ConnectionEvent):
    channel_id: int
    signal: str
    core_dumped: bool
    message: str
    language: str
