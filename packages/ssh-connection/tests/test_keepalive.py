"""Keepalives, as ssh's ServerAliveInterval / ServerAliveCountMax: a quiet peer is asked,
any reply (or any other traffic) proves it alive, count_max unanswered ones end it."""

from __future__ import annotations

import pytest
from conn_pair import CLIENT, ConnPair

from ssh_connection import ConnectionCore, GlobalRequestFailed, GlobalRequestSucceeded
from ssh_wire import DisconnectReason


def test_a_quiet_peer_gets_a_keepalive_and_its_reply_stays_inside_the_core() -> None:
    pair = ConnPair(client_kw={"keepalive_interval": 10.0, "now": 0.0})
    assert pair.client.get_timer() == 10.0
    pair.client.handle_timer(10.0)
    pair.pump()  # the server answers (failure, as OpenSSH does)
    assert pair.alive()
    # The reply reached the client and reset the count; the application saw nothing.
    assert not pair.of_type(CLIENT, GlobalRequestFailed)
    assert not pair.of_type(CLIENT, GlobalRequestSucceeded)
    assert pair.client._keepalives_unanswered == 0


def test_unanswered_keepalives_end_the_connection_with_connection_lost() -> None:
    pair = ConnPair(client_kw={"keepalive_interval": 5.0, "keepalive_count_max": 3, "now": 0.0})
    for tick in (5.0, 10.0, 15.0):  # three keepalives, the server's answers never arrive
        pair.client.handle_timer(tick)
        pair.client.data_to_send()  # lost on the way
        assert not pair.client.closed
    pair.client.handle_timer(20.0)
    pair.collect()
    ended = pair.terminated(CLIENT)
    assert pair.client.closed and ended.error is not None
    assert ended.error.reason == DisconnectReason.CONNECTION_LOST
    assert "keepalive" in ended.error.description


def test_any_traffic_from_the_peer_resets_the_count_and_the_timer() -> None:
    pair = ConnPair(client_kw={"keepalive_interval": 5.0, "keepalive_count_max": 1, "now": 0.0})
    pair.client.handle_timer(5.0)
    pair.client.data_to_send()  # lost: one unanswered
    pair.server.send_keepalive()  # but the server speaks (its own keepalive)
    pair.client.receive_data(pair.server.data_to_send(), 7.0)
    assert pair.client.get_timer() == 12.0
    pair.client.handle_timer(12.0)  # a new keepalive, not the end
    assert not pair.client.closed


def test_the_application_still_sees_replies_to_its_own_keepalives() -> None:
    pair = ConnPair(client_kw={"keepalive_interval": 5.0, "now": 0.0})
    pair.client.send_keepalive()
    pair.pump()
    assert len(pair.of_type(CLIENT, GlobalRequestFailed)) == 1


def test_no_keepalive_timer_without_an_interval() -> None:
    pair = ConnPair()
    timer = pair.client.get_timer()
    assert timer is None or timer > 1000  # only the transport's own (rekey) timers


@pytest.mark.parametrize(("interval", "count"), [(0.0, 3), (-1.0, 3), (5.0, 0)])
def test_bad_keepalive_settings_are_refused(interval: float, count: int) -> None:
    pair = ConnPair()
    with pytest.raises(ValueError, match="keepalive"):
        ConnectionCore(
            pair.client.lower, CLIENT, keepalive_interval=interval, keepalive_count_max=count
        )
