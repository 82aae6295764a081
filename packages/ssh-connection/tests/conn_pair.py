"""Two real transports handshaken in memory, ``ssh-connection`` accepted, and a
ConnectionCore stacked on each; ``pump`` moves bytes until both sides are quiet."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ssh_connection import ConnectionCore
from ssh_keys import generate_private_key
from ssh_transport import (
    ConnectionTerminated,
    Event,
    HostKey,
    HostKeyReceived,
    Role,
    Transport,
    TransportConfig,
)

E = TypeVar("E", bound=Event)
CLIENT, SERVER = Role.CLIENT, Role.SERVER


@functools.cache
def host_key() -> HostKey:
    return HostKey(generate_private_key("ed25519"))


def transports() -> tuple[Transport, Transport]:
    """A client and a server transport, keys exchanged and ``ssh-connection`` accepted."""
    client = Transport(Role.CLIENT, TransportConfig())
    server = Transport(
        Role.SERVER, TransportConfig(host_keys=(host_key(),), services=("ssh-connection",))
    )
    requested = False
    for _ in range(100):
        for t in (client, server):
            while (event := t.next_event()) is not None:
                if isinstance(event, HostKeyReceived):
                    t.accept_host_key()
        if client.is_established and server.is_established and not requested:
            client.request_service("ssh-connection")
            requested = True
        a, b = client.data_to_send(), server.data_to_send()
        if a:
            server.receive_data(a)
        if b:
            client.receive_data(b)
        if not a and not b and requested:
            break
    for t in (client, server):
        while t.next_event() is not None:
            pass
    assert client.is_established and server.is_established
    return client, server


class ConnPair:
    """``events[role]`` collects each core's events; ``on_event`` (if set) sees each one as
    it is collected, so a test can answer pauses the moment they appear."""

    def __init__(
        self,
        client_kw: dict[str, Any] | None = None,
        server_kw: dict[str, Any] | None = None,
    ) -> None:
        ct, st = transports()
        self.client = ConnectionCore(ct, Role.CLIENT, **(client_kw or {}))
        self.server = ConnectionCore(st, Role.SERVER, **(server_kw or {}))
        self.events: dict[Role, list[Event]] = {CLIENT: [], SERVER: []}
        self.on_event: Callable[[Role, Event], None] | None = None

    def core(self, role: Role) -> ConnectionCore:
        return self.client if role is CLIENT else self.server

    def peer(self, role: Role) -> ConnectionCore:
        return self.server if role is CLIENT else self.client

    def collect(self) -> None:
        for role in (CLIENT, SERVER):
            core = self.core(role)
            while (event := core.next_event()) is not None:
                self.events[role].append(event)
                if self.on_event is not None:
                    self.on_event(role, event)

    def pump(self, max_rounds: int = 100_000) -> None:
        for _ in range(max_rounds):
            self.collect()
            moved = False
            for role in (CLIENT, SERVER):
                data = self.core(role).data_to_send()
                if data:
                    moved = True
                    self.peer(role).receive_data(data)
            self.collect()
            if not moved:
                return
        raise AssertionError("pump did not settle")

    def inject(self, sender: Role, payload: bytes) -> None:
        """Have ``sender``'s transport send a raw message, bypassing its connection core."""
        self.core(sender).lower.send_message(payload)
        self.pump()

    def of_type(self, role: Role, cls: type[E]) -> list[E]:
        return [e for e in self.events[role] if isinstance(e, cls)]

    def last(self, role: Role, cls: type[E]) -> E:
        found = self.of_type(role, cls)
        assert found, f"no {cls.__name__} at {role}: {self.events[role]}"
        return found[-1]

    def terminated(self, role: Role) -> ConnectionTerminated:
        return self.last(role, ConnectionTerminated)

    def alive(self) -> bool:
        return not self.client.closed and not self.server.closed

    def clear(self) -> None:
        for role in (CLIENT, SERVER):
            self.events[role].clear()


def auto_accept(pair: ConnPair) -> None:
    """Accept every open and grant every request, as they appear."""
    from ssh_connection import ChannelOpenRequested, ChannelRequestReceived, GlobalRequestReceived

    def handle(role: Role, event: Event) -> None:
        if isinstance(event, ChannelOpenRequested):
            event.accept()
        elif isinstance(event, ChannelRequestReceived):
            event.answer(True)
        elif isinstance(event, GlobalRequestReceived):
            event.answer(b"")

    pair.on_event = handle


def open_session(pair: ConnPair, opener: Role = CLIENT) -> tuple[int, int]:
    """Open a session from ``opener`` and accept it (unless ``on_event`` already does);
    returns (the opener's channel id, the acceptor's)."""
    from ssh_connection import ChannelOpened, ChannelOpenRequested

    other = SERVER if opener is CLIENT else CLIENT
    before = len(pair.of_type(other, ChannelOpenRequested))
    local = pair.core(opener).open_session()
    pair.pump()
    requests = pair.of_type(other, ChannelOpenRequested)
    assert len(requests) == before + 1, pair.events[other]
    if pair.on_event is None:
        requests[-1].accept()
        pair.pump()
    assert pair.last(opener, ChannelOpened).channel_id == local
    return local, requests[-1].channel_id
