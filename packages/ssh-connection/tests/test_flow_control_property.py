"""Flow control under any interleaving: two real cores, random windows and packet sizes,
sends, consumption, partial delivery of the byte stream (messages in flight), EOF and
close in any order. The receiving core disconnects on data beyond its window or maximum
packet, so a single overrun fails the run; what arrives must be what was sent, in order,
exactly once, in both directions at once (stdout and stderr from the server too)."""

from __future__ import annotations

from dataclasses import dataclass, field

from conn_pair import CLIENT, SERVER, ConnPair, open_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_connection import (
    ChannelData,
    ChannelEOF,
    ChannelExtendedData,
    ChannelWritable,
    ConnectionTerminated,
    Role,
)
from ssh_transport import Event


@dataclass
class Side:
    """What one end sent and what it received, per stream (0 data, 1 stderr)."""

    sent: list[bytearray] = field(default_factory=lambda: [bytearray(), bytearray()])
    received: list[bytearray] = field(default_factory=lambda: [bytearray(), bytearray()])
    unconsumed: int = 0
    eof: bool = False
    writable: int = 0


class Harness:
    def __init__(self, client_window: int, client_packet: int, server_window: int,
                 server_packet: int, max_buffer: int) -> None:  # fmt: skip
        self.pair = ConnPair(
            client_kw={"window": client_window, "max_packet": client_packet,
                       "max_buffer": max_buffer},
            server_kw={"window": server_window, "max_packet": server_packet,
                       "max_buffer": max_buffer},
        )  # fmt: skip
        self.ids = dict(zip((CLIENT, SERVER), open_session(self.pair), strict=True))
        self.sides = {CLIENT: Side(), SERVER: Side()}
        self.wire: dict[Role, bytearray] = {CLIENT: bytearray(), SERVER: bytearray()}
        self.pair.on_event = self.on_event
        self.pair.events[CLIENT].clear()
        self.pair.events[SERVER].clear()

    def on_event(self, role: Role, event: Event) -> None:
        side = self.sides[role]
        assert not isinstance(event, ConnectionTerminated), (role, event)
        if isinstance(event, ChannelData):
            assert not side.eof, "data after EOF"
            side.received[0] += event.data
            side.unconsumed += len(event.data)
        elif isinstance(event, ChannelExtendedData):
            side.received[1] += event.data
            side.unconsumed += len(event.data)
        elif isinstance(event, ChannelEOF):
            side.eof = True
        elif isinstance(event, ChannelWritable):
            side.writable += 1

    def check_windows(self) -> None:
        """With nothing in flight, each sender's view of the window is the receiver's."""
        if any(self.wire.values()):
            return
        for sender, receiver in ((CLIENT, SERVER), (SERVER, CLIENT)):
            out = self.pair.core(sender).channels.get(self.ids[sender])
            into = self.pair.core(receiver).channels.get(self.ids[receiver])
            if out is not None and into is not None:
                assert out.remote_window == into.local_window, (out, into)

    # -- moves ---------------------------------------------------------------------------

    def send(self, role: Role, stream: int, data: bytes, mutable: bool) -> None:
        core, channel = self.pair.core(role), self.ids[role]
        ch = core.channels.get(channel)
        if ch is None or not ch.is_open or ch.eof_queued:
            return
        buffer: bytes | bytearray = bytearray(data) if mutable else data
        taken = core.send_extended(channel, buffer) if stream else core.send(channel, buffer)
        assert 0 <= taken <= len(data)
        self.sides[role].sent[stream] += data[:taken]
        if mutable:
            buffer[:] = b"\xee" * len(buffer)  # the caller reuses its buffer at once
        self.collect(role)

    def consume(self, role: Role, amount: int) -> None:
        side = self.sides[role]
        amount = min(amount, side.unconsumed)
        if amount:
            side.unconsumed -= amount
            self.pair.core(role).consumed(self.ids[role], amount)
            self.collect(role)

    def deliver(self, sender: Role, amount: int) -> None:
        """Move up to ``amount`` bytes of ``sender``'s output to its peer: packets may
        arrive in pieces, others stay in flight while more is sent both ways."""
        self.collect(sender)
        wire = self.wire[sender]
        piece, self.wire[sender] = bytes(wire[:amount]), wire[amount:]
        if piece:
            receiver = SERVER if sender is CLIENT else CLIENT
            self.pair.core(receiver).receive_data(piece)
            self.collect(receiver)

    def collect(self, role: Role) -> None:
        self.pair.collect()
        for r in (CLIENT, SERVER):
            self.wire[r] += self.pair.core(r).data_to_send()

    def eof(self, role: Role) -> None:
        core, channel = self.pair.core(role), self.ids[role]
        ch = core.channels.get(channel)
        if ch is not None and ch.is_open and not ch.eof_queued:
            core.send_eof(channel)
            self.collect(role)

    def drain(self) -> None:
        """Deliver everything and consume everything until nothing moves. Each round moves
        at least one byte while data is pending (a 1-byte window moves one per round), so
        rounds past the bytes in play plus a margin mean a livelock."""
        pending = sum(len(s) for side in self.sides.values() for s in side.sent)
        for _ in range(2 * pending + 1000):
            for role in (CLIENT, SERVER):
                self.consume(role, self.sides[role].unconsumed)
            moved = False
            for role in (CLIENT, SERVER):
                if self.wire[role]:
                    moved = True
                    self.deliver(role, len(self.wire[role]))
            if not moved:
                return
        raise AssertionError("did not settle")


ROLES = st.sampled_from([CLIENT, SERVER])
MOVES = st.one_of(
    st.tuples(st.just("send"), ROLES, st.integers(0, 1), st.integers(0, 70_000), st.booleans()),
    st.tuples(st.just("consume"), ROLES, st.integers(0, 70_000)),
    st.tuples(st.just("deliver"), ROLES, st.integers(1, 50_000)),
    st.tuples(st.just("eof"), ROLES),
    st.tuples(st.just("check")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    client_window=st.integers(1, 100_000),
    client_packet=st.integers(1, 40_000),
    server_window=st.integers(1, 100_000),
    server_packet=st.integers(1, 40_000),
    max_buffer=st.integers(1, 200_000),
    moves=st.lists(MOVES, max_size=60),
)
def test_flow_control_never_overruns_and_delivers_everything_once(
    client_window: int,
    client_packet: int,
    server_window: int,
    server_packet: int,
    max_buffer: int,
    moves: list[tuple[object, ...]],
) -> None:
    h = Harness(client_window, client_packet, server_window, server_packet, max_buffer)
    counter = 0
    for move in moves:
        kind = move[0]
        if kind == "send":
            _, role, stream, size, mutable = move
            assert isinstance(role, Role) and isinstance(size, int)
            stream = 1 if stream and role is SERVER else 0  # only a server sends stderr
            # Position-dependent bytes: a lost, duplicated or reordered piece shows.
            data = bytes((counter + i) % 251 for i in range(size))
            counter += size
            h.send(role, stream, data, bool(mutable))
        elif kind == "consume":
            _, role, amount = move
            assert isinstance(role, Role) and isinstance(amount, int)
            h.consume(role, amount)
        elif kind == "deliver":
            _, role, amount = move
            assert isinstance(role, Role) and isinstance(amount, int)
            h.deliver(role, amount)
        elif kind == "eof":
            _, role = move
            assert isinstance(role, Role)
            h.eof(role)
        else:
            h.check_windows()
        for sender in (CLIENT, SERVER):
            receiver = SERVER if sender is CLIENT else CLIENT
            for stream in (0, 1):
                got, sent = h.sides[receiver].received[stream], h.sides[sender].sent[stream]
                assert sent.startswith(got), (sender, stream, len(got), len(sent))
    h.drain()
    # Everything accepted by send() arrives, and the writers that were refused hear so.
    for sender in (CLIENT, SERVER):
        receiver = SERVER if sender is CLIENT else CLIENT
        for stream in (0, 1):
            assert h.sides[receiver].received[stream] == h.sides[sender].sent[stream]
        ch = h.pair.core(sender).channel(h.ids[sender])
        assert ch.buffered == 0
        assert ch.eof_queued == h.sides[receiver].eof
    h.check_windows()
    assert h.pair.alive()
