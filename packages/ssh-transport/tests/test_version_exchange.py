"""The version exchange through the Transport: garbage peers end quickly with a clear error."""

from __future__ import annotations

import pytest
from transport_pair import Pair, server_config

from ssh_transport.config import TransportConfig
from ssh_transport.events import ConnectionTerminated, Event
from ssh_transport.transport import Role, Transport
from ssh_transport.version import MAX_PRE_LINES
from ssh_wire import DisconnectReason

VERSION_ERROR = DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED


def make(role: Role) -> Transport:
    if role is Role.CLIENT:
        return Transport(role, TransportConfig())
    return Transport(role, server_config())


def events(t: Transport) -> list[Event]:
    found = []
    while (e := t.next_event()) is not None:
        found.append(e)
    return found


def terminated_reason(t: Transport) -> int:
    evs = events(t)
    assert t.closed, evs
    term = [e for e in evs if isinstance(e, ConnectionTerminated)]
    assert len(term) == 1, evs
    assert term[0].error is not None
    return term[0].error.reason


def test_both_send_version_first() -> None:
    for role in Role:
        t = make(role)
        assert t.data_to_send().startswith(b"SSH-2.0-pyssh_0.1\r\n")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    "data",
    [
        b"SSH-1.5-OpenSSH_1\r\n",
        b"SSH-2.0-" + b"A" * 400 + b"\r\n",
        b"SSH-2.0-" + b"A" * 400,
        b"SSH-2.0-a\x00b\r\n",
        b"SSH-2.0-a\x1bb\r\n",
    ],
    ids=["ssh-1.5", "long", "long-unterminated", "nul", "control"],
)
def test_bad_version_line(role: Role, data: bytes) -> None:
    t = make(role)
    t.data_to_send()
    t.receive_data(data)
    assert terminated_reason(t) == VERSION_ERROR
    # A DISCONNECT goes out (plaintext before kex) so the peer learns why.
    assert t.data_to_send()[5] == 1


def test_http_request_to_server() -> None:
    t = make(Role.SERVER)
    t.receive_data(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    evs = events(t)
    (term,) = [e for e in evs if isinstance(e, ConnectionTerminated)]
    assert term.error is not None and term.error.reason == VERSION_ERROR
    assert "HTTP" in term.error.description


def test_http_request_detected_before_newline() -> None:
    t = make(Role.SERVER)
    t.receive_data(b"POST")
    assert terminated_reason(t) == VERSION_ERROR


def test_server_refuses_pre_banner_lines() -> None:
    t = make(Role.SERVER)
    t.receive_data(b"hello\r\n")
    assert terminated_reason(t) == VERSION_ERROR


def test_server_garbage_without_newline_is_bounded() -> None:
    t = make(Role.SERVER)
    t.receive_data(b"\x00" * 4)
    assert terminated_reason(t) == VERSION_ERROR


def test_client_accepts_bounded_pre_banner_lines() -> None:
    pair = Pair()
    # The server's output is replaced by banner lines, then its real version and kex.
    banner = b"".join(f"Welcome line {i}\r\n".encode() for i in range(50))
    for i in range(0, len(banner), 17):  # chunks that split lines
        pair.client.receive_data(banner[i : i + 17])
    pair.handshake()
    assert pair.client.peer_version == "SSH-2.0-pyssh_0.1"


@pytest.mark.parametrize("chunked", [False, True])
def test_client_endless_pre_banner_lines(chunked: bool) -> None:
    t = make(Role.CLIENT)
    line = b"spam spam spam\r\n"
    sent = 0
    while not t.closed and sent < 10 * MAX_PRE_LINES:
        t.receive_data(line * (1 if chunked else 64))
        sent += 1 if chunked else 64
    assert t.closed
    assert sent <= MAX_PRE_LINES + 64
    assert terminated_reason(t) == VERSION_ERROR


def test_client_endless_line_without_newline() -> None:
    t = make(Role.CLIENT)
    chunks = 0
    while not t.closed and chunks < 1000:
        t.receive_data(b"x" * 1024)
        chunks += 1
    assert chunks <= 9
    assert terminated_reason(t) == VERSION_ERROR


def test_client_nul_in_pre_banner_line() -> None:
    t = make(Role.CLIENT)
    t.receive_data(b"ok\r\nbad\x00line\r\n")
    assert terminated_reason(t) == VERSION_ERROR


@pytest.mark.parametrize("role", list(Role))
def test_eof_during_version(role: Role) -> None:
    t = make(role)
    t.receive_data(b"SSH-2.0-")
    t.receive_data(b"")
    assert terminated_reason(t) == DisconnectReason.CONNECTION_LOST


@pytest.mark.parametrize("role", list(Role))
def test_version_then_packets_in_one_chunk(role: Role) -> None:
    """The bytes after the version line in the same chunk are read as packets."""
    pair = Pair()
    src = pair.peer(role)
    dst = pair.side(role)
    dst.receive_data(src.data_to_send())
    pair.handshake()
