"""Hostile peers (SECURITY.md "Above: channels"): windows, packet sizes, unknown and closed
channels, floods, and every connection message number in every channel state.

The hostile side is a real core whose transport sends raw messages past its own
connection core (``ConnPair.inject``); the core under test is the client's.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conn_pair import CLIENT, SERVER, ConnPair, open_session
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_connection import (
    ALLOWED,
    ChannelClosed,
    ChannelData,
    ChannelOpened,
    ChannelOpenFailed,
    ChannelOpenRequested,
    ChannelRequestFailed,
    ChannelRequestReceived,
    ChannelRequestSucceeded,
    ChannelState,
    ConnectionTerminated,
    GlobalRequestFailed,
    GlobalRequestReceived,
    GlobalRequestSucceeded,
    OpenFailureReason,
    Role,
)
from ssh_connection import messages as m
from ssh_connection import session as se
from ssh_wire import DisconnectError, DisconnectReason


def assert_cut_off(pair: ConnPair, match: str = "") -> DisconnectError:
    """The client sent DISCONNECT(PROTOCOL_ERROR) and reported exactly one termination."""
    pair.pump()
    ends = pair.of_type(CLIENT, ConnectionTerminated)
    assert len(ends) == 1, pair.events[CLIENT]
    error = ends[0].error
    assert error is not None and error.local
    assert error.reason == DisconnectReason.PROTOCOL_ERROR
    assert match in error.description, error.description
    # The hostile peer got the DISCONNECT.
    peer = pair.terminated(SERVER).error
    assert peer is not None and not peer.local and peer.reason == DisconnectReason.PROTOCOL_ERROR
    assert pair.client.closed and pair.client.terminated
    return error


def hostile(pair: ConnPair, *payloads: bytes, sender: Role = SERVER) -> None:
    """``sender``'s transport sends raw messages; only that direction moves, so the
    victim's answers do not reach the sender's core (which never sent these)."""
    victim = pair.peer(sender)
    for payload in payloads:
        pair.core(sender).lower.send_message(payload)
    victim.receive_data(pair.core(sender).data_to_send())
    pair.collect()


def assert_alive(pair: ConnPair) -> None:
    pair.pump()
    assert not pair.of_type(CLIENT, ConnectionTerminated), pair.events[CLIENT]
    assert pair.alive()


# -- windows and packet sizes -----------------------------------------------------------------


def test_data_beyond_our_window_disconnects() -> None:
    pair = ConnPair(client_kw={"window": 1_000, "max_packet": 1_000})
    c, _s = open_session(pair)
    pair.inject(SERVER, m.encode_data(c, b"a" * 800))
    pair.inject(SERVER, m.encode_data(c, b"b" * 201))
    assert_cut_off(pair, "window")
    # Nothing beyond the window was buffered or delivered.
    assert sum(len(e.data) for e in pair.of_type(CLIENT, ChannelData)) == 800


def test_extended_data_counts_against_the_same_window() -> None:
    pair = ConnPair(client_kw={"window": 1_000, "max_packet": 1_000})
    c, _ = open_session(pair)
    pair.inject(SERVER, m.encode_data(c, b"a" * 600))
    pair.inject(SERVER, m.encode_extended_data(c, 1, b"e" * 401))
    assert_cut_off(pair, "window")


def test_data_over_our_maximum_packet_disconnects() -> None:
    pair = ConnPair(client_kw={"max_packet": 1_000})
    c, _ = open_session(pair)
    pair.inject(SERVER, m.encode_data(c, b"x" * 1_001))
    assert_cut_off(pair, "maximum packet")
    assert not pair.of_type(CLIENT, ChannelData)


def test_window_is_not_exceeded_by_a_well_behaved_peer() -> None:
    pair = ConnPair(client_kw={"window": 3_000, "max_packet": 1_000})
    _c, s = open_session(pair)
    pair.server.send(s, b"y" * 10_000)
    pair.pump()
    assert sum(len(e.data) for e in pair.of_type(CLIENT, ChannelData)) == 3_000
    assert pair.server.channel(s).buffered == 7_000
    assert_alive(pair)


def test_window_adjust_past_two_to_the_32_disconnects() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.inject(SERVER, m.encode_window_adjust(c, 0xFFFF_FFFF))
    assert_cut_off(pair, "2^32")


# -- unknown and closed channels --------------------------------------------------------------


def test_data_for_an_unknown_channel_disconnects() -> None:
    pair = ConnPair()
    pair.inject(SERVER, m.encode_data(99, b"hello"))
    assert_cut_off(pair, "unknown channel 99")


def test_data_for_a_closed_channel_disconnects() -> None:
    pair = ConnPair()
    c, _s = open_session(pair)
    pair.client.close_channel(c)
    pair.pump()
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    pair.inject(SERVER, m.encode_data(c, b"late"))
    assert_cut_off(pair, "unknown channel")


def test_close_before_eof_is_answered_with_close() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.server.close_channel(s)  # no EOF first: RFC 4254 5.3 allows that
    pair.pump()
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert pair.last(SERVER, ChannelClosed).channel_id == s
    assert not pair.client.channels and not pair.server.channels
    assert_alive(pair)


def test_a_second_close_disconnects() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    hostile(pair, m.ChannelClose(c).encode(), m.ChannelClose(c).encode())
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert_cut_off(pair, "unknown channel")


def test_data_after_the_peers_eof_disconnects() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.inject(SERVER, m.ChannelEof(c).encode())
    pair.inject(SERVER, m.encode_data(c, b"x"))
    assert_cut_off(pair, "not allowed")


def test_replies_to_nothing_disconnect() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.inject(SERVER, m.ChannelSuccess(c).encode())
    assert_cut_off(pair, "reply to no request")
    pair = ConnPair()
    pair.inject(SERVER, m.RequestSuccess(b"").encode())
    assert_cut_off(pair, "no request outstanding")


def test_malformed_message_disconnects() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.inject(SERVER, m.encode_data(c, b"abc")[:-1])
    assert_cut_off(pair, "malformed message 94")


def test_messages_after_the_error_are_ignored() -> None:
    pair = ConnPair()
    _c, _ = open_session(pair)
    # Several bad messages arrive in one read: one DISCONNECT, one termination.
    for payload in (m.encode_data(77, b"x"), m.ChannelClose(78).encode(), bytes([120])):
        pair.server.lower.send_message(payload)
    assert_cut_off(pair, "unknown channel 77")


# -- floods -----------------------------------------------------------------------------------


def test_flood_of_channel_opens_is_refused_and_the_connection_survives() -> None:
    pair = ConnPair(client_kw={"max_channels": 2_000}, server_kw={"max_pending_opens": 8})
    for _ in range(1_000):
        pair.client.open_session()
    pair.pump()
    pending = pair.of_type(SERVER, ChannelOpenRequested)
    assert len(pending) == 8
    assert pair.server.pending_opens == 8 and len(pair.server.channels) == 8
    refused = pair.of_type(CLIENT, ChannelOpenFailed)
    assert len(refused) == 992
    assert {e.reason for e in refused} == {OpenFailureReason.RESOURCE_SHORTAGE}
    for request in pending:
        request.accept()
    pair.pump()
    assert pair.server.pending_opens == 0 and len(pair.server.channels) == 8
    assert len(pair.of_type(CLIENT, ChannelOpened)) == 8
    assert_alive(pair)


def test_open_flood_refusals_are_resource_shortage() -> None:
    pair = ConnPair(server_kw={"max_pending_opens": 2})
    for _ in range(5):
        pair.client.open_session()
    pair.pump()
    reasons = [e.reason for e in pair.of_type(CLIENT, ChannelOpenFailed)]
    assert reasons == [OpenFailureReason.RESOURCE_SHORTAGE] * 3
    for request in pair.of_type(SERVER, ChannelOpenRequested):
        request.accept()
    pair.pump()
    assert len(pair.of_type(CLIENT, ChannelOpened)) == 2
    assert_alive(pair)


def test_channel_limit_refuses_opens() -> None:
    pair = ConnPair(server_kw={"max_channels": 3})
    for _ in range(3):
        open_session(pair)
    pair.client.open_session()
    pair.pump()
    failed = pair.last(CLIENT, ChannelOpenFailed)
    assert (failed.reason, failed.description) == (
        OpenFailureReason.RESOURCE_SHORTAGE,
        "too many channels",
    )


def test_flood_of_global_requests_is_bounded() -> None:
    pair = ConnPair(
        client_kw={"max_outstanding_requests": 10_000},
        server_kw={"max_pending_global_requests": 16},
    )
    for _ in range(5_000):
        pair.client.request_tcpip_forward("", 0)
    pair.pump()
    held = pair.of_type(SERVER, GlobalRequestReceived)
    assert len(held) == 16
    # 4984 refusals wait behind the unanswered head as one counted run.
    assert len(pair.server._globals._replies._entries) <= 17
    assert not pair.of_type(CLIENT, GlobalRequestFailed)
    for request in held:
        request.answer(b"")
    pair.pump()
    ok = pair.of_type(CLIENT, GlobalRequestSucceeded)
    failed = pair.of_type(CLIENT, GlobalRequestFailed)
    assert (len(ok), len(failed)) == (16, 4_984)
    # In order: the sixteen answered first, then the refusals.
    names = [type(e) for e in pair.events[CLIENT]]
    assert names[:16] == [GlobalRequestSucceeded] * 16
    assert_alive(pair)


def test_flood_of_keepalives_behind_an_unanswered_request() -> None:
    pair = ConnPair(client_kw={"max_outstanding_requests": 10_000})
    pair.client.request_tcpip_forward("", 0)
    for _ in range(3_000):
        pair.client.send_keepalive()
    pair.pump()
    assert len(pair.server._globals._replies._entries) == 2
    (head,) = pair.of_type(SERVER, GlobalRequestReceived)
    assert not pair.of_type(CLIENT, GlobalRequestFailed)
    head.answer(None)
    pair.pump()
    assert len(pair.of_type(CLIENT, GlobalRequestFailed)) == 3_001
    assert_alive(pair)


def test_flood_of_channel_requests_is_bounded() -> None:
    pair = ConnPair(
        client_kw={"max_outstanding_requests": 10_000}, server_kw={"max_pending_requests": 4}
    )
    c, s = open_session(pair)
    for _ in range(2_000):
        pair.client.request_exec(c, "")
    pair.pump()
    held = pair.of_type(SERVER, ChannelRequestReceived)
    assert len(held) == 4
    assert len(pair.server.channel(s).replies._entries) <= 5
    for request in held:
        request.answer(True)
    assert pair.server.channel(s).replies.waiting == 0
    pair.pump()
    assert len(pair.of_type(CLIENT, ChannelRequestSucceeded)) == 4
    assert len(pair.of_type(CLIENT, ChannelRequestFailed)) == 1_996
    assert_alive(pair)


# -- every message number in every channel state ----------------------------------------------

HOLD = "x-hold@example.com"  # a request the peer's application never answers


def _payload(number: int, recipient: int) -> bytes:
    channel: dict[int, Callable[[int], bytes]] = {
        91: lambda r: m.ChannelOpenConfirmation(r, 77, 1_000, 1_000, b"").encode(),
        92: lambda r: m.ChannelOpenFailure(r, 2, "no", "").encode(),
        93: lambda r: m.encode_window_adjust(r, 10),
        94: lambda r: m.encode_data(r, b"d"),
        95: lambda r: m.encode_extended_data(r, 1, b"e"),
        96: lambda r: m.ChannelEof(r).encode(),
        97: lambda r: m.ChannelClose(r).encode(),
        98: lambda r: m.ChannelRequest(r, "x-nothing", False, b"").encode(),
        99: lambda r: m.ChannelSuccess(r).encode(),
        100: lambda r: m.ChannelFailure(r).encode(),
    }
    if number in channel:
        return channel[number](recipient)
    if number == 80:
        return m.GlobalRequest("x-nothing", False, b"").encode()
    if number == 81:
        return m.RequestSuccess(b"").encode()
    if number == 82:
        return m.RequestFailure().encode()
    if number == 90:
        return m.ChannelOpen("x-unknown", 5, 100, 100, b"").encode()
    return bytes([number]) + bytes(8)


def _into(state: ChannelState, victim: Role) -> tuple[ConnPair, int]:
    """A pair where ``victim`` has a channel in ``state``; the victim's id for it.

    Where the peer may send replies, one victim request is outstanding (the peer's
    application holds it). For CLOSE_SENT the victim's CLOSE stays unsent to the peer.
    """
    hold = {"channel_requests": [HOLD]}
    pair = ConnPair(server_kw=hold) if victim is CLIENT else ConnPair(client_kw=hold)
    us, them = pair.core(victim), pair.peer(victim)
    if state is ChannelState.OPENING:
        c = us.open_session() if victim is CLIENT else us.open_forwarded_tcpip("", 1, "", 2)
        pair.pump()  # the peer's application leaves the open unanswered
        return pair, c
    if state is ChannelState.ACCEPTING:
        if victim is CLIENT:
            them.open_forwarded_tcpip("", 1, "", 2)
        else:
            them.open_session()
        pair.pump()
        return pair, pair.last(victim, ChannelOpenRequested).channel_id
    c, s = open_session(pair, opener=CLIENT)
    if victim is SERVER:
        c, s = s, c
    if state is ChannelState.CLOSED:
        us.close_channel(c)
        pair.pump()
        return pair, c
    us.request(c, HOLD, want_reply=True)
    if state in (ChannelState.EOF_SENT, ChannelState.EOF_BOTH):
        us.send_eof(c)
    if state in (ChannelState.EOF_RECEIVED, ChannelState.EOF_BOTH):
        them.send_eof(s)
    pair.pump()
    if state is ChannelState.CLOSE_SENT:
        us.close_channel(c)
    assert us.channels.get(c) is None or us.channel(c).state is state
    return pair, c


def _expected_to_survive(state: ChannelState, number: int) -> bool:
    if 91 <= number <= 100:
        return number in ALLOWED[state]
    return number in (80, 90)  # 81/82 answer no request of ours; the rest are undefined


@pytest.mark.parametrize("number", range(80, 128))
@pytest.mark.parametrize("state", list(ChannelState), ids=lambda s: s.name)
@pytest.mark.parametrize("victim", [CLIENT, SERVER], ids=["client", "server"])
def test_every_message_in_every_state(victim: Role, state: ChannelState, number: int) -> None:
    pair, c = _into(state, victim)
    pair.clear()
    hostile(pair, _payload(number, c), sender=SERVER if victim is CLIENT else CLIENT)
    ended = pair.of_type(victim, ConnectionTerminated)
    core = pair.core(victim)
    if _expected_to_survive(state, number):
        assert not ended, (state, number, ended)
        assert not core.closed
    else:
        assert len(ended) == 1, (state, number, pair.events[victim])
        error = ended[0].error
        assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
        assert error.local and core.closed


def test_the_table_is_what_rfc_4254_allows() -> None:
    S = ChannelState
    assert ALLOWED[S.OPENING] == {91, 92}
    assert ALLOWED[S.ACCEPTING] == set() == ALLOWED[S.CLOSED]
    for state in (S.OPEN, S.EOF_SENT, S.CLOSE_SENT):
        assert ALLOWED[state] == set(range(93, 101))
    for state in (S.EOF_RECEIVED, S.EOF_BOTH):
        assert ALLOWED[state] == {93, 97, 98, 99, 100}


# -- random input -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(80, 127), st.binary(max_size=40))
def test_random_payloads_end_in_a_clean_disconnect_or_nothing(number: int, tail: bytes) -> None:
    pair = ConnPair()
    _c, _ = open_session(pair)
    payload = bytes([number]) + tail
    pair.client._handle_message(payload)  # straight in: no transport in between
    pair.collect()
    pair.pump()
    ends = pair.of_type(CLIENT, ConnectionTerminated)
    assert len(ends) <= 1
    if ends:
        error = ends[0].error
        assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_messages_read_with_the_peers_disconnect_are_handled_quietly() -> None:
    # The server closes a channel and the connection at once: the client handles the CLOSE
    # after its transport saw DISCONNECT, and its answer has nowhere to go.
    pair = ConnPair()
    _c, s = open_session(pair)
    pair.server.send(s, b"last words")
    pair.server.close_channel(s)
    pair.server.close()
    pair.client.receive_data(pair.server.data_to_send())
    pair.collect()
    kinds = [type(e) for e in pair.events[CLIENT]][-3:]
    assert kinds == [ChannelData, ChannelClosed, ConnectionTerminated]
    error = pair.terminated(CLIENT).error
    assert error is not None and error.reason == DisconnectReason.BY_APPLICATION


@settings(max_examples=150, deadline=None)
@given(st.integers(91, 100), st.binary(max_size=40), st.sampled_from([CLIENT, SERVER]))
def test_random_tails_for_a_live_channel(number: int, tail: bytes, victim: Role) -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    ours = c if victim is CLIENT else s
    core = pair.core(victim)
    core._handle_message(bytes([number]) + ours.to_bytes(4, "big") + tail)
    pair.pump()
    ends = pair.of_type(victim, ConnectionTerminated)
    assert len(ends) <= 1
    if ends:
        error = ends[0].error
        assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


KNOWN_REQUESTS = sorted({"keepalive@openssh.com", *se.SESSION_REQUESTS})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KNOWN_REQUESTS), st.booleans(), st.binary(max_size=48))
def test_known_requests_with_random_data(name: str, want_reply: bool, data: bytes) -> None:
    # Both sides receive it: the server as a session request, the client as exit-* etc.
    pair = ConnPair()
    c, s = open_session(pair)
    pair.server._handle_message(m.ChannelRequest(s, name, want_reply, data).encode())
    pair.client._handle_message(m.ChannelRequest(c, name, want_reply, data).encode())
    for role in (CLIENT, SERVER):
        pair.collect()
        for event in pair.events[role]:
            if isinstance(event, ChannelRequestReceived):
                event.answer(True)
    pair.pump()
    for role in (CLIENT, SERVER):
        ends = pair.of_type(role, ConnectionTerminated)
        assert len(ends) <= 1
        for end in ends:
            assert end.error is not None
            assert end.error.reason == DisconnectReason.PROTOCOL_ERROR
