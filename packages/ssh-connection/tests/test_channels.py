"""Channels between two real cores: opening, data both ways, flow control, EOF and close."""

from __future__ import annotations

import pytest
from conn_pair import CLIENT, SERVER, ConnPair, auto_accept, open_session

from ssh_connection import (
    ChannelClosed,
    ChannelData,
    ChannelEOF,
    ChannelExtendedData,
    ChannelOpened,
    ChannelOpenFailed,
    ChannelOpenRequested,
    ChannelState,
    ChannelWritable,
    ConnectionCore,
    OpenFailureReason,
    Rejection,
    Role,
)
from ssh_connection import forwarding as fw
from ssh_connection import messages as m
from ssh_wire import LocalProtocolError


def received(pair: ConnPair, role: Role, channel_id: int) -> bytes:
    return b"".join(e.data for e in pair.of_type(role, ChannelData) if e.channel_id == channel_id)


def test_session_open_accept_and_ids() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    assert (c, s) == (0, 0)
    assert pair.client.channel(c).state is ChannelState.OPEN
    assert pair.server.channel(s).state is ChannelState.OPEN
    assert pair.client.channel(c).remote_id == s
    opened = pair.last(CLIENT, ChannelOpened)
    assert opened.kind == "session"
    c2, s2 = open_session(pair)
    assert (c2, s2) == (1, 1)


def test_open_rejected_with_reason_frees_the_id() -> None:
    pair = ConnPair()
    c = pair.client.open_direct_tcpip("example.com", 80, "10.1.2.3", 5555)
    pair.pump()
    request = pair.last(SERVER, ChannelOpenRequested)
    assert request.kind == fw.DIRECT_TCPIP
    assert request.payload == fw.DirectTcpip("example.com", 80, "10.1.2.3", 5555)
    assert pair.server.pending_opens == 1
    request.reject(OpenFailureReason.CONNECT_FAILED, "connection refused")
    pair.pump()
    failed = pair.last(CLIENT, ChannelOpenFailed)
    assert (failed.channel_id, failed.kind, failed.reason, failed.description) == (
        c,
        fw.DIRECT_TCPIP,
        OpenFailureReason.CONNECT_FAILED,
        "connection refused",
    )
    assert not pair.client.channels and not pair.server.channels
    assert pair.server.pending_opens == 0
    assert pair.client.open_session() == c  # the id is free again
    with pytest.raises(LocalProtocolError, match="already answered"):
        request.answer(True)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(False, OpenFailureReason.ADMINISTRATIVELY_PROHIBITED), (Rejection(4, "full"), 4)],
)
def test_open_answers(answer: bool | Rejection, reason: int) -> None:
    pair = ConnPair()
    pair.client.open_session()
    pair.pump()
    pair.last(SERVER, ChannelOpenRequested).answer(answer)
    pair.pump()
    assert pair.last(CLIENT, ChannelOpenFailed).reason == reason


def test_open_answer_type_checked() -> None:
    pair = ConnPair()
    pair.client.open_session()
    pair.pump()
    with pytest.raises(TypeError):
        pair.last(SERVER, ChannelOpenRequested).answer("yes")  # type: ignore[arg-type]
    pair.last(SERVER, ChannelOpenRequested).accept()  # a bad answer does not count


def test_role_decides_the_channel_types_accepted() -> None:
    pair = ConnPair()
    # A server may not open a session on the client, and a client gets no forwarded-tcpip
    # opens from... it does: that is ssh -R. Unknown types are refused at once.
    pair.server.open_session()
    pair.client.open_channel("tun@openssh.com", b"\x00\x00\x00\x01\x7f\xff\xff\xff")
    pair.pump()
    reasons = {
        (e.kind, e.reason) for r in (CLIENT, SERVER) for e in pair.of_type(r, ChannelOpenFailed)
    }
    assert reasons == {
        ("session", OpenFailureReason.UNKNOWN_CHANNEL_TYPE),
        ("tun@openssh.com", OpenFailureReason.UNKNOWN_CHANNEL_TYPE),
    }
    pair.server.open_forwarded_tcpip("0.0.0.0", 8080, "192.0.2.1", 4000)
    pair.server.open_x11("127.0.0.1", 6000)
    pair.server.open_agent()
    pair.server.open_forwarded_streamlocal("/tmp/s")
    pair.pump()
    kinds = [e.kind for e in pair.of_type(CLIENT, ChannelOpenRequested)]
    assert kinds == [fw.FORWARDED_TCPIP, fw.X11, fw.AUTH_AGENT, fw.FORWARDED_STREAMLOCAL]


def test_extra_channel_types_arrive_raw() -> None:
    pair = ConnPair(server_kw={"channel_types": ["tun@openssh.com"]})
    pair.client.open_channel("tun@openssh.com", b"\x00\x00\x00\x01")
    pair.pump()
    assert pair.last(SERVER, ChannelOpenRequested).payload == b"\x00\x00\x00\x01"


def test_data_both_ways_and_extended() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    assert pair.client.send(c, b"to server") == 9
    assert pair.server.send(s, b"to client") == 9
    assert pair.server.send_stderr(s, b"err") == 3
    pair.pump()
    assert received(pair, SERVER, s) == b"to server"
    assert received(pair, CLIENT, c) == b"to client"
    ext = pair.last(CLIENT, ChannelExtendedData)
    assert (ext.channel_id, ext.data_type, ext.data) == (c, 1, b"err")


def test_large_send_is_split_by_the_peers_max_packet() -> None:
    pair = ConnPair(server_kw={"max_packet": 1000})
    c, _s = open_session(pair)
    blob = bytes(range(256)) * 20
    pair.client.send(c, blob)
    pair.pump()
    chunks = [e.data for e in pair.of_type(SERVER, ChannelData)]
    assert b"".join(chunks) == blob
    assert max(len(x) for x in chunks) == 1000


def test_window_given_back_only_as_the_application_consumes() -> None:
    pair = ConnPair(server_kw={"window": 10_000, "max_packet": 4_000})
    c, s = open_session(pair)
    blob = b"x" * 25_000
    pair.client.send(c, blob)
    pair.pump()
    assert len(received(pair, SERVER, s)) == 10_000
    assert pair.client.channel(c).remote_window == 0
    assert pair.client.channel(c).buffered == 15_000
    # Less than half the window consumed: no WINDOW_ADJUST yet.
    pair.server.consumed(s, 4_000)
    pair.pump()
    assert len(received(pair, SERVER, s)) == 10_000
    pair.server.consumed(s, 1_000)
    pair.pump()
    assert len(received(pair, SERVER, s)) == 15_000
    # Keep consuming whatever arrives until all of it is through.
    for _ in range(20):
        ch = pair.server.channel(s)
        pair.server.consumed(s, ch.unconsumed)
        pair.pump()
    assert received(pair, SERVER, s) == blob
    with pytest.raises(LocalProtocolError, match="unconsumed"):
        pair.server.consumed(s, 1)


def test_send_buffer_is_bounded_and_writable_fires_at_low_water() -> None:
    pair = ConnPair(
        client_kw={"max_buffer": 8_000}, server_kw={"window": 4_000, "max_packet": 4_000}
    )
    c, s = open_session(pair)
    # 4000 go out at once (the window), 8000 are buffered, the rest is refused.
    assert pair.client.send(c, b"a" * 20_000) == 12_000
    assert pair.client.send(c, b"b") == 0
    pair.pump()
    assert not pair.of_type(CLIENT, ChannelWritable)
    pair.server.consumed(s, 4_000)
    pair.pump()
    pair.server.consumed(s, 4_000)
    pair.pump()
    # 8000 left the buffer: 0 <= low water (2000); writable fires once.
    assert [e.channel_id for e in pair.of_type(CLIENT, ChannelWritable)] == [c]
    assert pair.client.channel(c).buffered == 0
    assert pair.client.send(c, b"more") == 4


def test_eof_then_close_in_order_both_ways() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.server.send(s, b"output")
    pair.server.send_eof(s)
    pair.pump()
    assert pair.server.channel(s).state is ChannelState.EOF_SENT
    assert pair.client.channel(c).state is ChannelState.EOF_RECEIVED
    with pytest.raises(LocalProtocolError):
        pair.server.send(s, b"after eof")
    # Half-close: the client still sends after the server's EOF.
    pair.client.send(c, b"input")
    pair.client.send_eof(c)
    pair.pump()
    assert received(pair, SERVER, s) == b"input"
    assert pair.client.channel(c).state is ChannelState.EOF_BOTH
    pair.client.close_channel(c)
    pair.pump()
    kinds = [type(e) for e in pair.events[CLIENT] if not isinstance(e, ChannelOpened)]
    assert kinds == [ChannelData, ChannelEOF, ChannelClosed]
    assert [type(e) for e in pair.events[SERVER]][-3:] == [ChannelData, ChannelEOF, ChannelClosed]
    assert not pair.client.channels and not pair.server.channels


def test_eof_and_close_wait_for_queued_data() -> None:
    pair = ConnPair(server_kw={"window": 1_000, "max_packet": 1_000})
    c, s = open_session(pair)
    pair.client.send(c, b"z" * 3_000)
    pair.client.send_eof(c)
    pair.client.close_channel(c)
    pair.pump()
    assert pair.client.channel(c).state is ChannelState.OPEN  # EOF and CLOSE still queued
    with pytest.raises(LocalProtocolError):
        pair.client.send(c, b"late")
    while pair.server.channels:
        pair.server.consumed(s, pair.server.channel(s).unconsumed)
        pair.pump()
    assert received(pair, SERVER, s) == b"z" * 3_000
    order = [type(e) for e in pair.events[SERVER] if not isinstance(e, ChannelData)]
    assert order[-2:] == [ChannelEOF, ChannelClosed]


def test_close_with_discard_drops_unsent_data() -> None:
    pair = ConnPair(server_kw={"window": 1_000, "max_packet": 1_000})
    c, s = open_session(pair)
    pair.client.send(c, b"z" * 3_000)
    pair.client.close_channel(c, discard=True)
    pair.pump()
    assert len(received(pair, SERVER, s)) == 1_000
    assert pair.last(SERVER, ChannelClosed).channel_id == s
    assert not pair.client.channels


def test_close_before_eof_is_allowed() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.server.close_channel(s)
    pair.pump()
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert not pair.of_type(CLIENT, ChannelEOF)
    assert pair.alive()


def test_simultaneous_close() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.client.close_channel(c)
    pair.server.close_channel(s)
    assert pair.client.channel(c).state is ChannelState.CLOSE_SENT
    pair.pump()
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert pair.last(SERVER, ChannelClosed).channel_id == s
    assert pair.alive() and not pair.client.channels and not pair.server.channels
    pair.client.close_channel(c)  # a second close is a no-op


def test_peer_data_after_our_close_is_dropped_but_counted() -> None:
    pair = ConnPair(client_kw={"window": 5_000, "max_packet": 5_000})
    c, s = open_session(pair)
    pair.client.close_channel(c)
    pair.server.send(s, b"q" * 5_000)  # crosses our CLOSE on the wire
    pair.pump()
    assert not pair.of_type(CLIENT, ChannelData)
    assert pair.alive()


def test_ids_reused_only_after_both_sides_closed() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.client.close_channel(c)
    # Our CLOSE is queued but the peer's is not in: the id stays taken.
    assert pair.client.open_session() == 1
    pair.pump()
    pair.last(SERVER, ChannelOpenRequested).accept()
    pair.pump()
    assert pair.client.open_session() == 0
    pair.pump()


def test_queued_before_confirmation() -> None:
    pair = ConnPair()
    auto_accept(pair)
    c = pair.client.open_session()
    pair.client.request_exec(c, "cat")
    pair.client.send(c, b"stdin")
    pair.client.send_eof(c)
    pair.pump()
    (s,) = pair.server.channels
    assert received(pair, SERVER, s) == b"stdin"
    assert pair.last(SERVER, ChannelEOF).channel_id == s


def test_close_queued_before_confirmation_goes_out_after_it() -> None:
    pair = ConnPair()
    auto_accept(pair)
    c = pair.client.open_session()
    pair.client.close_channel(c)
    pair.pump()
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert not pair.client.channels and not pair.server.channels


def test_channel_limit_for_local_opens() -> None:
    pair = ConnPair(client_kw={"max_channels": 2})
    pair.client.open_session()
    pair.client.open_session()
    with pytest.raises(LocalProtocolError, match="2 channels"):
        pair.client.open_session()


def test_actions_on_bad_channels_raise() -> None:
    pair = ConnPair()
    with pytest.raises(LocalProtocolError):
        pair.client.send(5, b"x")
    pair.client.open_session()
    pair.pump()
    (s,) = pair.server.channels
    with pytest.raises(LocalProtocolError, match="not accepted"):
        pair.server.send(s, b"x")
    with pytest.raises(LocalProtocolError):
        pair.server.close_channel(s)
    pair.client.consumed(42, 10)  # a channel already gone is ignored


def test_limits_validated() -> None:
    pair = ConnPair()
    with pytest.raises(ValueError, match="window"):
        ConnectionCore(pair.client.lower, Role.CLIENT, window=0)
    with pytest.raises(ValueError, match="max_channels"):
        ConnectionCore(pair.client.lower, Role.CLIENT, max_channels=0)


def test_actions_after_the_connection_ended_raise() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.client.close()
    pair.pump()
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.client.send(c, b"x")
    with pytest.raises(LocalProtocolError, match="closed"):
        pair.client.open_session()


def test_window_adjust_on_the_wire_matches_consumption() -> None:
    pair = ConnPair(server_kw={"window": 2_000, "max_packet": 2_000})
    c, s = open_session(pair)
    pair.client.send(c, b"w" * 2_000)
    pair.pump()
    pair.server.consumed(s, 2_000)
    assert pair.server.channel(s).local_window == 2_000
    assert pair.client.channel(c).remote_window == 0
    pair.pump()
    assert pair.client.channel(c).remote_window == 2_000
    _ = m  # the fast path encodes the adjustment (tested in test_messages)


def test_mutable_buffers_are_copied_when_queued() -> None:
    pair = ConnPair(server_kw={"window": 4, "max_packet": 4})
    c, s = open_session(pair)
    buf = bytearray(b"abcdefgh")
    assert pair.client.send(c, buf) == 8
    buf[:] = b"XXXXXXXX"  # changed after send: what was queued must not change
    pair.pump()
    pair.server.consumed(s, 4)
    pair.pump()
    assert received(pair, SERVER, s) == b"abcdefgh"
    assert pair.client.send(c, memoryview(b"view")) == 4


def test_writable_fires_at_the_low_water_mark_not_only_when_empty() -> None:
    pair = ConnPair(
        client_kw={"max_buffer": 8_000}, server_kw={"window": 7_000, "max_packet": 1_000}
    )
    c, s = open_session(pair)
    assert pair.client.send(c, b"a" * 20_000) == 15_000  # 7000 out, 8000 buffered
    pair.pump()
    pair.server.consumed(s, 7_000)  # 7000 more may go: 1000 stay, under low water (2000)
    pair.pump()
    assert pair.client.channel(c).buffered == 1_000
    assert [e.channel_id for e in pair.of_type(CLIENT, ChannelWritable)] == [c]


def test_no_writable_events_for_sends_that_fit() -> None:
    pair = ConnPair(client_kw={"max_buffer": 8_000})
    c, _ = open_session(pair)
    for _ in range(10):
        assert pair.client.send(c, b"b" * 20_000) == 20_000  # the 2 MiB window takes it all
    pair.pump()
    assert not pair.of_type(CLIENT, ChannelWritable)
