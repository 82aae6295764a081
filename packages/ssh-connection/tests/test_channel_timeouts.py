"""ChannelTimeout and UnusedConnectionTimeout, as sshd_config(5) describes them: a channel
with no data either way for its type's interval is closed; a connection without channels
for the unused timeout is ended. Times are passed in, as to every core."""

from __future__ import annotations

import pytest
from conn_pair import CLIENT, SERVER, ConnPair, auto_accept, open_session

from ssh_connection import ChannelClosed, ConnectionCore
from ssh_connection.channel_timeouts import ChannelTimeouts, timeout_type
from ssh_wire import DisconnectReason


def server_with(timeouts: list[tuple[str, float]], **kw: object) -> ConnPair:
    pair = ConnPair(server_kw={"channel_timeouts": timeouts, "now": 0.0, **kw})
    auto_accept(pair)
    return pair


def exec_session(pair: ConnPair) -> tuple[int, int]:
    client_id, server_id = open_session(pair)
    pair.client.request_exec(client_id, "sleep 5")
    pair.pump()
    return client_id, server_id


def closed_at_client(pair: ConnPair, channel_id: int) -> bool:
    return any(e.channel_id == channel_id for e in pair.of_type(CLIENT, ChannelClosed))


def test_an_idle_command_session_is_closed_after_its_timeout() -> None:
    pair = server_with([("session:command", 5.0)])
    client_id, _ = exec_session(pair)
    assert pair.server.get_timer() == 5.0
    pair.server.handle_timer(4.9)
    pair.pump()
    assert not closed_at_client(pair, client_id)
    pair.server.handle_timer(5.0)
    pair.pump()
    assert closed_at_client(pair, client_id)
    assert pair.alive()  # the channel goes, the connection stays


def test_data_from_the_client_moves_the_deadline() -> None:
    pair = server_with([("session:command", 5.0)])
    client_id, _ = exec_session(pair)
    pair.client.send(client_id, b"input")
    pair.server.receive_data(pair.client.data_to_send(), 3.0)
    pair.pump()
    assert pair.server.get_timer() == 8.0


def test_data_the_server_sends_keeps_the_channel_open() -> None:
    pair = server_with([("session:command", 5.0)])
    client_id, server_id = exec_session(pair)
    pair.server.send(server_id, b"output")
    pair.pump()
    pair.server.handle_timer(5.0)
    pair.pump()
    assert not closed_at_client(pair, client_id)
    assert pair.server.get_timer() == 10.0
    pair.server.handle_timer(10.0)  # then silence: closed
    pair.pump()
    assert closed_at_client(pair, client_id)


def test_a_timeout_for_another_session_type_does_not_apply() -> None:
    pair = server_with([("session:shell", 1.0)])
    exec_session(pair)
    timer = pair.server.get_timer()
    assert timer is None or timer > 1000  # only the transport's own (rekey) timers


def test_patterns_take_wildcards_and_the_first_match_wins() -> None:
    pair = server_with([("session:sub*", 2.0), ("session:*", 7.0)])
    client_id, _ = open_session(pair)
    pair.client.request_subsystem(client_id, "sftp")
    pair.pump()
    assert pair.server.get_timer() == 2.0
    other, _ = exec_session(pair)
    pair.server.handle_timer(2.0)
    pair.pump()
    assert closed_at_client(pair, client_id) and not closed_at_client(pair, other)


def test_zero_means_no_timeout() -> None:
    pair = server_with([("session:command", 0.0), ("session:*", 3.0)])
    exec_session(pair)
    timer = pair.server.get_timer()
    assert timer is None or timer > 1000


def test_global_times_all_channels_together() -> None:
    pair = server_with([("global", 5.0)])
    first, _ = exec_session(pair)
    second, _ = exec_session(pair)
    pair.client.send(second, b"x")  # traffic on one keeps both
    pair.server.receive_data(pair.client.data_to_send(), 4.0)
    pair.server.handle_timer(5.0)
    pair.pump()
    assert not closed_at_client(pair, first)
    pair.server.handle_timer(9.0)
    pair.pump()
    assert closed_at_client(pair, first) and closed_at_client(pair, second)


def test_an_unused_connection_is_ended() -> None:
    pair = server_with([], unused_connection_timeout=10.0)
    assert pair.server.get_timer() == 10.0
    pair.server.handle_timer(10.0)
    pair.pump()
    assert not pair.alive()
    ended = pair.terminated(CLIENT)
    assert ended.error is not None and ended.error.reason == DisconnectReason.BY_APPLICATION


def test_an_open_channel_holds_off_the_unused_timeout_until_it_closes() -> None:
    pair = server_with([], unused_connection_timeout=10.0)
    client_id, _ = open_session(pair)
    timer = pair.server.get_timer()
    assert timer is None or timer > 1000
    pair.client.close_channel(client_id)
    pair.server.receive_data(pair.client.data_to_send(), 20.0)
    pair.pump()
    assert pair.server.get_timer() == 30.0
    pair.server.handle_timer(29.0)
    assert pair.alive()
    pair.server.handle_timer(30.0)
    pair.pump()
    assert not pair.alive()


def test_type_names_follow_sshd_config() -> None:
    assert timeout_type("session", "exec") == "session:command"
    assert timeout_type("session", "shell") == "session:shell"
    assert timeout_type("session", "subsystem", "sftp") == "session:subsystem:sftp"
    assert timeout_type("x11") == "x11-connection"
    assert timeout_type("auth-agent@openssh.com") == "agent-connection"
    assert timeout_type("direct-tcpip") == "direct-tcpip"


def test_patterns_are_globs_not_regular_expressions() -> None:
    timeouts = ChannelTimeouts([("direct-?cpip", 1.0), ("[x]*", 2.0)])
    assert timeouts.lookup("direct-tcpip") == 1.0
    assert timeouts.lookup("[x]11") == 2.0
    assert timeouts.lookup("x11-connection") == 0.0


@pytest.mark.parametrize(
    "kw",
    [{"channel_timeouts": [("session:*", -1.0)]}, {"unused_connection_timeout": 0.0}],
)
def test_bad_timeouts_are_refused(kw: dict[str, object]) -> None:
    pair = ConnPair()
    with pytest.raises(ValueError, match="timeout"):
        ConnectionCore(pair.server.lower, SERVER, **kw)  # type: ignore[arg-type]
