"""Channel and global requests between two real cores: payloads, replies, their order."""

from __future__ import annotations

import pytest
from conn_pair import CLIENT, SERVER, ConnPair, open_session

from ssh_connection import (
    ChannelClosed,
    ChannelOpenFailed,
    ChannelOpenRequested,
    ChannelRequestFailed,
    ChannelRequestReceived,
    ChannelRequestSucceeded,
    ExitSignalReceived,
    ExitStatusReceived,
    GlobalRequestFailed,
    GlobalRequestReceived,
    GlobalRequestSucceeded,
    OpenFailureReason,
    TerminalMode,
    decode_terminal_modes,
)
from ssh_connection import forwarding as fw
from ssh_connection import messages as m
from ssh_connection import session as se
from ssh_wire import LocalProtocolError


def requests(pair: ConnPair) -> list[ChannelRequestReceived]:
    return pair.of_type(SERVER, ChannelRequestReceived)


def outcomes(pair: ConnPair) -> list[tuple[str, bool]]:
    return [
        (e.request, isinstance(e, ChannelRequestSucceeded))
        for e in pair.events[CLIENT]
        if isinstance(e, (ChannelRequestSucceeded, ChannelRequestFailed))
    ]


def test_every_session_request_arrives_typed() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    core = pair.client
    core.request_pty(c, "vt100", 100, 30, 800, 600, {TerminalMode.ECHO: 0})
    core.request_x11(c, "MIT-MAGIC-COOKIE-1", "abcd", 1, single_connection=True)
    core.request_env(c, "LANG", "C.UTF-8")
    core.request_agent_forwarding(c)
    core.request_exec(c, "uname -a")
    core.request_window_change(c, 120, 40)
    core.request_signal(c, "SIGINT")
    core.request_break(c, 250, want_reply=True)
    pair.pump()
    got = {e.request: e.payload for e in requests(pair)}
    pty = got[se.PTY_REQ]
    assert isinstance(pty, se.PtyRequest)
    assert (pty.term, pty.width_chars, pty.height_rows) == ("vt100", 100, 30)
    assert decode_terminal_modes(pty.modes) == {TerminalMode.ECHO: 0}
    assert got[se.X11_REQ] == se.X11Request(True, "MIT-MAGIC-COOKIE-1", "abcd", 1)
    assert got[se.ENV] == se.EnvRequest(b"LANG", b"C.UTF-8")
    assert got[se.AUTH_AGENT_REQ] == se.AgentForwardingRequest()
    assert got[se.EXEC] == se.ExecRequest(b"uname -a")
    assert got[se.WINDOW_CHANGE] == se.WindowChange(120, 40, 0, 0)
    assert got[se.SIGNAL] == se.SignalRequest("INT")
    assert got[se.BREAK] == se.BreakRequest(250)
    wants = {e.request: e.want_reply for e in requests(pair)}
    assert wants == {
        se.PTY_REQ: True,
        se.X11_REQ: True,
        se.ENV: False,
        se.AUTH_AGENT_REQ: True,
        se.EXEC: True,
        se.WINDOW_CHANGE: False,
        se.SIGNAL: False,
        se.BREAK: True,
    }
    for e in requests(pair):
        e.answer(e.request != se.X11_REQ)
    pair.pump()
    assert outcomes(pair) == [
        (se.PTY_REQ, True),
        (se.X11_REQ, False),
        (se.AUTH_AGENT_REQ, True),
        (se.EXEC, True),
        (se.BREAK, True),
    ]
    assert all(e.channel_id == s for e in requests(pair))


def test_shell_and_subsystem() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    c2, _ = open_session(pair)
    pair.client.request_shell(c)
    pair.client.request_subsystem(c2, "sftp")
    pair.pump()
    shell, sub = requests(pair)
    assert (shell.request, shell.payload) == (se.SHELL, se.ShellRequest())
    assert (sub.request, sub.payload) == (se.SUBSYSTEM, se.SubsystemRequest("sftp"))


def test_replies_leave_in_request_order_per_channel() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    c2, _ = open_session(pair)
    pair.client.request_env(c, "A", "1", want_reply=True)
    pair.client.request_pty(c)
    pair.client.request_exec(c2, "true")
    pair.client.request_shell(c)
    pair.pump()
    env, pty, exe, shell = requests(pair)
    # Answered out of order: the later ones wait for env on the same channel; the other
    # channel's reply does not.
    shell.answer(True)
    pty.answer(False)
    exe.answer(True)
    pair.pump()
    assert outcomes(pair) == [(se.EXEC, True)]
    env.answer(True)
    pair.pump()
    assert outcomes(pair) == [
        (se.EXEC, True),
        (se.ENV, True),
        (se.PTY_REQ, False),
        (se.SHELL, True),
    ]
    assert [e.channel_id for e in pair.of_type(CLIENT, ChannelRequestSucceeded)] == [c2, c, c]
    with pytest.raises(LocalProtocolError, match="already answered"):
        env.answer(False)
    with pytest.raises(TypeError):
        ChannelRequestReceived(0, "x", True, b"", answer_with=env.answer_with).answer(1)  # type: ignore[arg-type]


def test_no_reply_requests_answer_optional_but_once() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.client.request_window_change(c, 1, 2)
    pair.pump()
    (req,) = requests(pair)
    req.answer(True)
    with pytest.raises(LocalProtocolError):
        req.answer(True)
    pair.pump()
    assert outcomes(pair) == []


def test_unknown_channel_requests_are_refused_automatically() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    # OpenSSH's server sends keepalive@openssh.com on the session channel and wants a reply.
    pair.server.request(s, "keepalive@openssh.com", want_reply=True)
    pair.client.request(c, "x-custom@example.com", b"\x01", want_reply=True)
    pair.client.request(c, "x-silent@example.com")
    # exec is a server-side request: a client refuses it.
    pair.server.request_exec(s, "ls")
    pair.pump()
    assert requests(pair) == [] and pair.of_type(CLIENT, ChannelRequestReceived) == []
    assert [e.request for e in pair.of_type(SERVER, ChannelRequestFailed)] == [
        "keepalive@openssh.com",
        se.EXEC,
    ]
    assert outcomes(pair) == [("x-custom@example.com", False)]
    assert pair.alive()


def test_extra_channel_requests_arrive_raw() -> None:
    pair = ConnPair(server_kw={"channel_requests": ["x-custom@example.com"]})
    c, _ = open_session(pair)
    pair.client.request(c, "x-custom@example.com", b"raw", want_reply=True)
    pair.pump()
    (req,) = requests(pair)
    assert req.payload == b"raw"
    req.answer(True)
    pair.pump()
    assert outcomes(pair) == [("x-custom@example.com", True)]


def test_session_requests_only_on_session_channels() -> None:
    pair = ConnPair()
    c = pair.client.open_direct_tcpip("h", 1)
    pair.pump()
    pair.last(SERVER, ChannelOpenRequested).accept()
    pair.pump()
    pair.client.request_exec(c, "ls")
    pair.pump()
    assert requests(pair) == []
    assert outcomes(pair) == [(se.EXEC, False)]


def test_exit_status_and_exit_signal() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.server.send_exit_status(s, 2)
    pair.server.send_exit_signal(s, "SIGSEGV", True, "Segmentation fault", "en-US")
    pair.server.request_xon_xoff(s, True)
    pair.pump()
    assert pair.last(CLIENT, ExitStatusReceived) == ExitStatusReceived(c, 2)
    assert pair.last(CLIENT, ExitSignalReceived) == ExitSignalReceived(
        c, "SEGV", True, "Segmentation fault", "en-US"
    )
    xon = pair.last(CLIENT, ChannelRequestReceived)
    assert (xon.request, xon.payload) == (se.XON_XOFF, se.XonXoff(True))


def test_exit_status_after_eof_is_fine() -> None:
    pair = ConnPair()
    _c, s = open_session(pair)
    pair.server.send_eof(s)
    pair.server.send_exit_status(s, 0)
    pair.server.close_channel(s)
    pair.pump()
    assert pair.last(CLIENT, ExitStatusReceived).status == 0
    assert pair.alive()


def test_request_on_a_closing_channel_raises() -> None:
    pair = ConnPair()
    c, _ = open_session(pair)
    pair.client.close_channel(c)
    with pytest.raises(LocalProtocolError):
        pair.client.request_shell(c)


def test_outstanding_request_limit_is_local_error() -> None:
    pair = ConnPair(client_kw={"max_outstanding_requests": 2})
    c, _ = open_session(pair)
    pair.client.request_shell(c)
    pair.client.request_shell(c)
    with pytest.raises(LocalProtocolError, match="too many"):
        pair.client.request_shell(c)
    pair.client.request_window_change(c, 1, 1)  # no reply wanted: no limit
    pair.client.global_request("a", want_reply=True)
    pair.client.global_request("b", want_reply=True)
    with pytest.raises(LocalProtocolError, match="too many"):
        pair.client.global_request("c", want_reply=True)


# -- global requests --------------------------------------------------------------------------


def globals_received(pair: ConnPair) -> list[GlobalRequestReceived]:
    return pair.of_type(SERVER, GlobalRequestReceived)


def global_outcomes(pair: ConnPair) -> list[tuple[str, bytes | None]]:
    out: list[tuple[str, bytes | None]] = []
    for e in pair.events[CLIENT]:
        if isinstance(e, GlobalRequestSucceeded):
            out.append((e.name, e.data))
        elif isinstance(e, GlobalRequestFailed):
            out.append((e.name, None))
    return out


def test_tcpip_forward_with_port_zero_gets_the_port() -> None:
    pair = ConnPair()
    pair.client.request_tcpip_forward("localhost", 0)
    pair.pump()
    (req,) = globals_received(pair)
    assert req.name == fw.TCPIP_FORWARD and req.want_reply
    assert req.payload == fw.TcpipForward("localhost", 0)
    req.answer(fw.forwarded_port_reply(40123))
    pair.pump()
    ((name, data),) = global_outcomes(pair)
    assert name == fw.TCPIP_FORWARD and data is not None
    assert fw.TcpipForwardReply.decode(data).port == 40123


def test_forwarding_requests_typed() -> None:
    pair = ConnPair()
    pair.client.cancel_tcpip_forward("0.0.0.0", 22)
    pair.client.request_streamlocal_forward("/tmp/x")
    pair.client.cancel_streamlocal_forward("/tmp/x")
    pair.client.request_hostkeys_prove([b"k1", b"k2"])
    pair.pump()
    got = [(e.name, e.payload) for e in globals_received(pair)]
    assert got == [
        (fw.CANCEL_TCPIP_FORWARD, fw.CancelTcpipForward("0.0.0.0", 22)),
        (fw.STREAMLOCAL_FORWARD, fw.StreamlocalForward("/tmp/x")),
        (fw.CANCEL_STREAMLOCAL_FORWARD, fw.CancelStreamlocalForward("/tmp/x")),
        (fw.HOSTKEYS_PROVE, fw.encode_strings([b"k1", b"k2"])),
    ]
    assert fw.decode_strings(globals_received(pair)[-1].data) == [b"k1", b"k2"]


def test_global_replies_in_order_with_automatic_ones_waiting() -> None:
    pair = ConnPair()
    pair.client.request_tcpip_forward("", 1)
    pair.client.send_keepalive()  # answered by the core, but after the first
    pair.client.global_request("x-unknown@example.com", want_reply=True)
    pair.client.request_tcpip_forward("", 2)
    pair.pump()
    first, second = globals_received(pair)
    second.answer(b"")
    pair.pump()
    assert global_outcomes(pair) == []
    first.answer(None)
    pair.pump()
    assert global_outcomes(pair) == [
        (fw.TCPIP_FORWARD, None),
        (fw.KEEPALIVE, None),
        ("x-unknown@example.com", None),
        (fw.TCPIP_FORWARD, b""),
    ]
    with pytest.raises(LocalProtocolError):
        first.answer(b"")
    with pytest.raises(TypeError):
        GlobalRequestReceived("n", True, b"", b"", answer_with=second.answer_with).answer(1)  # type: ignore[arg-type]


def test_keepalive_from_either_side_is_answered() -> None:
    pair = ConnPair()
    pair.server.send_keepalive()
    pair.client.send_keepalive()
    pair.pump()
    assert [e.name for e in pair.of_type(SERVER, GlobalRequestFailed)] == [fw.KEEPALIVE]
    assert [e.name for e in pair.of_type(CLIENT, GlobalRequestFailed)] == [fw.KEEPALIVE]
    assert not globals_received(pair)


def test_no_more_sessions() -> None:
    pair = ConnPair()
    pair.client.send_no_more_sessions()
    pair.pump()
    assert pair.server.no_more_sessions
    pair.client.open_session()
    pair.client.open_direct_tcpip("h", 1)
    pair.pump()
    failed = pair.last(CLIENT, ChannelOpenFailed)
    assert (failed.kind, failed.reason) == (
        "session",
        OpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
    )
    assert pair.last(SERVER, ChannelOpenRequested).kind == fw.DIRECT_TCPIP


def test_hostkeys_announcement_reaches_the_client() -> None:
    pair = ConnPair()
    pair.server.send_hostkeys([b"blob-a", b"blob-b"])
    pair.pump()
    ann = pair.last(CLIENT, GlobalRequestReceived)
    assert (ann.name, ann.want_reply) == (fw.HOSTKEYS, False)
    assert fw.decode_strings(ann.data) == [b"blob-a", b"blob-b"]
    # A server ignores an announcement from a client.
    pair.client.send_hostkeys([b"x"])
    pair.pump()
    assert not globals_received(pair)


def test_unknown_global_without_reply_is_ignored() -> None:
    pair = ConnPair()
    pair.client.global_request("x-whatever", b"\x00\x01")
    pair.pump()
    assert not globals_received(pair) and pair.alive()


def test_extra_global_requests_arrive_raw() -> None:
    pair = ConnPair(server_kw={"global_requests": ["x-mine@example.com"]})
    pair.client.global_request("x-mine@example.com", b"data", want_reply=True)
    pair.pump()
    (req,) = globals_received(pair)
    assert (req.payload, req.data) == (b"data", b"data")
    req.answer(b"ok")
    pair.pump()
    assert global_outcomes(pair) == [("x-mine@example.com", b"ok")]


def test_encoded_requests_match_the_schemas() -> None:
    # What the helpers put on the wire is exactly the schema's encoding.
    pair = ConnPair()
    c, s = open_session(pair)
    sent: list[bytes] = []
    original = pair.client.lower.send_message
    pair.client.lower.send_message = lambda p: (sent.append(p), original(p))[1]  # type: ignore[method-assign]
    pair.client.request_exec(c, b"\xffbinary")
    pair.client.request_tcpip_forward("", 0)
    assert m.ChannelRequest.decode(sent[0]) == m.ChannelRequest(
        s, se.EXEC, True, se.ExecRequest(b"\xffbinary").encode()
    )
    assert m.GlobalRequest.decode(sent[1]) == m.GlobalRequest(
        fw.TCPIP_FORWARD, True, fw.TcpipForward("", 0).encode()
    )


def test_an_answer_after_our_close_sends_nothing() -> None:
    pair = ConnPair()
    c, s = open_session(pair)
    pair.client.request_exec(c, "sleep 10")
    pair.pump()
    (req,) = requests(pair)
    pair.server.close_channel(s)
    req.answer(True)  # too late: nothing may follow our CLOSE
    pair.pump()
    assert outcomes(pair) == []
    assert pair.last(CLIENT, ChannelClosed).channel_id == c
    assert pair.alive() and not pair.client.channels and not pair.server.channels
