"""ConnectionCore on top of another stacked core: lower events pass up in order, ours are
taken, and a rekey underneath does not disturb a transfer."""

from __future__ import annotations

from dataclasses import dataclass

from conn_pair import CLIENT, ConnPair, open_session, transports

from ssh_connection import ChannelData, ChannelOpened, ChannelOpenRequested, ConnectionCore, Role
from ssh_transport import Event, KexComplete, MessageReceived, StackedCore, StreamCore


@dataclass(frozen=True, slots=True)
class Marker(Event):
    """What a middle layer reports about the messages it owns (numbers 50-79)."""

    number: int


class Middle(StackedCore):
    """Stands in for the auth core: owns 50-79, passes the rest (80-127 included) up."""

    def __init__(self, lower: StreamCore) -> None:
        super().__init__(lower)

    def _owns(self, number: int) -> bool:
        return 50 <= number <= 79

    def _handle_message(self, payload: bytes) -> None:
        self._emit(Marker(payload[0]))


def test_connection_core_on_a_middle_layer() -> None:
    ct, st = transports()
    client = ConnectionCore(Middle(ct), Role.CLIENT)
    server = ConnectionCore(Middle(st), Role.SERVER)

    def pump() -> list[Event]:
        seen: list[Event] = []
        for _ in range(100):
            for event in iter(server.next_event, None):
                if isinstance(event, ChannelOpenRequested):
                    event.accept()
            seen.extend(iter(client.next_event, None))
            a, b = client.data_to_send(), server.data_to_send()
            if not a and not b:
                return seen
            if a:
                server.receive_data(a)
            if b:
                client.receive_data(b)
        raise AssertionError("did not settle")

    c = client.open_session()
    st.send_message(bytes([60]))  # a middle-layer message, between connection messages
    client.send(c, b"queued")
    seen = pump()
    assert [type(e) for e in seen] == [Marker, ChannelOpened]
    assert seen[0] == Marker(60)
    assert not any(isinstance(e, MessageReceived) for e in seen)


def test_rekey_in_the_middle_of_a_transfer() -> None:
    pair = ConnPair(client_kw={"window": 64 * 1024, "max_packet": 16 * 1024})
    c, s = open_session(pair)
    blob = bytes(range(256)) * 1024  # 256 KiB
    pair.server.send(s, blob)
    pair.server.lower.start_rekey()  # type: ignore[attr-defined]
    got = b""
    rekeyed = False
    for _ in range(100):
        pair.pump()
        rekeyed |= any(not e.first for e in pair.of_type(CLIENT, KexComplete))
        for event in pair.of_type(CLIENT, ChannelData):
            got += event.data
            pair.client.consumed(c, len(event.data))
        pair.clear()
        if len(got) == len(blob):
            break
    assert got == blob
    assert rekeyed  # the transport's event came up through the connection core
    assert pair.alive()


def _drain(pair: ConnPair, channel: int, want: int) -> bytes:
    """Pump until ``want`` bytes arrived on the client's ``channel``, consuming them."""
    got = bytearray()
    for _ in range(1000):
        pair.pump()
        for event in pair.of_type(CLIENT, ChannelData):
            got += event.data
            pair.client.consumed(channel, len(event.data))
        pair.clear()
        if len(got) >= want:
            break
    return bytes(got)


def test_many_small_packets_sent_during_a_rekey_are_kept_not_lost() -> None:
    # The client takes 4-byte packets: 24 KiB is 6144 messages, more than the transport
    # holds back during a key exchange (4096). The core used to take them all
    # off the channel, and the transport refused the 4097th: LocalProtocolError out of
    # send(), and what had been taken was gone.
    pair = ConnPair(client_kw={"max_packet": 4})
    c, s = open_session(pair)
    pair.server.lower.start_rekey()  # type: ignore[attr-defined]
    blob = bytes(range(256)) * 96  # 24 KiB
    assert pair.server.send(s, blob) == len(blob)
    assert pair.server.lower.queued_messages <= 1024  # type: ignore[attr-defined]
    assert _drain(pair, c, len(blob)) == blob
    assert pair.alive()


def test_window_adjust_read_during_a_rekey_does_not_overflow_the_hold_queue() -> None:
    # The peer's WINDOW_ADJUST arrives after our KEXINIT went out: the flush it causes
    # (6144 small packets) used to overflow the hold queue inside receive_data, which
    # ended the connection from the reader ("internal error") with the data lost.
    window = 24 * 1024
    pair = ConnPair(client_kw={"max_packet": 4, "window": window})
    c, s = open_session(pair)
    blob = bytes(range(256)) * 192  # 48 KiB: one window goes now, the rest waits
    assert pair.server.send(s, blob) == len(blob)
    pair.pump()
    first = b"".join(e.data for e in pair.of_type(CLIENT, ChannelData))
    assert len(first) == window
    pair.clear()
    pair.client.consumed(c, len(first))  # one WINDOW_ADJUST of a window, not delivered yet
    adjust = pair.client.data_to_send()
    pair.server.lower.start_rekey()  # type: ignore[attr-defined]
    pair.server.receive_data(adjust)
    assert pair.server.lower.queued_messages <= 1024  # type: ignore[attr-defined]
    assert first + _drain(pair, c, len(blob) - len(first)) == blob
    assert pair.alive()
