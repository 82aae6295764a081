"""Messages and payloads: round trips, the fast paths agree with the schemas, strict decoding."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_connection import forwarding as fw
from ssh_connection import messages as m
from ssh_connection import session as se
from ssh_wire import DecodeError, Struct, decode_message

SETTINGS = settings(max_examples=200, deadline=None)
u32 = st.integers(0, 0xFFFF_FFFF)
names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
texts = st.text(max_size=64)


def samples() -> list[m.Message]:
    return [
        m.GlobalRequest("tcpip-forward", True, fw.TcpipForward("", 0).encode()),
        m.RequestSuccess(b"\x00\x00\x10\x00"),
        m.RequestSuccess(b""),
        m.RequestFailure(),
        m.ChannelOpen("session", 7, 2 << 20, 32768, b""),
        m.ChannelOpenConfirmation(7, 3, 1 << 20, 16384, b""),
        m.ChannelOpenFailure(7, 4, "too many channels", ""),
        m.ChannelWindowAdjust(3, 65536),
        m.ChannelData(3, b"hello"),
        m.ChannelExtendedData(3, 1, b"oops"),
        m.ChannelEof(3),
        m.ChannelClose(3),
        m.ChannelRequest(3, "exec", True, se.ExecRequest(b"ls -l").encode()),
        m.ChannelSuccess(3),
        m.ChannelFailure(3),
    ]


@pytest.mark.parametrize("msg", samples(), ids=lambda x: type(x).__name__)
def test_every_message_round_trips_through_the_table(msg: m.Message) -> None:
    encoded = msg.encode()
    assert encoded[0] == msg.NUMBER
    assert decode_message(encoded, m.CONNECTION_MESSAGES) == msg


def test_the_table_covers_rfc_4254() -> None:
    assert set(m.CONNECTION_MESSAGES.numbers) == {80, 81, 82, *range(90, 101)}
    assert frozenset(range(91, 101)) == m.CHANNEL_MESSAGES


@pytest.mark.parametrize("msg", samples(), ids=lambda x: type(x).__name__)
def test_truncated_messages_fail_cleanly(msg: m.Message) -> None:
    encoded = msg.encode()
    for cut in range(1, len(encoded)):
        prefix = encoded[:cut]
        try:
            decoded = type(msg).decode(prefix)
        except DecodeError:
            continue
        # Only a message ending in Rest can decode from a prefix.
        assert decoded != msg


# -- fast paths -------------------------------------------------------------------------------


@SETTINGS
@given(u32, st.binary(max_size=4096))
def test_data_fast_path_matches_schema(recipient: int, data: bytes) -> None:
    slow = m.ChannelData(recipient, data).encode()
    assert m.encode_data(recipient, data) == slow
    assert m.encode_data(recipient, memoryview(data)) == slow
    assert m.decode_data(slow) == (recipient, data)


@SETTINGS
@given(u32, u32, st.binary(max_size=4096))
def test_extended_fast_path_matches_schema(recipient: int, code: int, data: bytes) -> None:
    slow = m.ChannelExtendedData(recipient, code, data).encode()
    assert m.encode_extended_data(recipient, code, data) == slow
    assert m.decode_extended_data(slow) == (recipient, code, data)


@SETTINGS
@given(u32, u32)
def test_window_adjust_fast_path_matches_schema(recipient: int, increment: int) -> None:
    slow = m.ChannelWindowAdjust(recipient, increment).encode()
    assert m.encode_window_adjust(recipient, increment) == slow
    assert m.decode_window_adjust(slow) == (recipient, increment)


def _both(fast: Any, schema: type[Struct], payload: bytes) -> tuple[object, object]:
    """Outcome of the fast decoder and of the schema: a value or the error type."""
    outcomes: list[object] = []
    for fn in (fast, schema.decode):
        try:
            outcomes.append(fn(payload))
        except DecodeError:
            outcomes.append(DecodeError)
    return outcomes[0], outcomes[1]


@SETTINGS
@given(st.binary(max_size=40), st.integers(0, 2))
def test_fast_decoders_reject_what_the_schemas_reject(noise: bytes, which: int) -> None:
    fast, schema, number = [
        (m.decode_data, m.ChannelData, 94),
        (m.decode_extended_data, m.ChannelExtendedData, 95),
        (m.decode_window_adjust, m.ChannelWindowAdjust, 93),
    ][which]
    for payload in (noise, bytes([number]) + noise):
        fast_out, slow_out = _both(fast, schema, payload)
        if slow_out is DecodeError:
            assert fast_out is DecodeError
        else:
            assert fast_out is not DecodeError
            assert fast_out == tuple(getattr(slow_out, f) for f in schema.__dataclass_fields__)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x5e",
        b"\x5e\x00\x00\x00\x01",
        struct.pack(">BII", 94, 1, 5) + b"abcd",  # short
        struct.pack(">BII", 94, 1, 3) + b"abcd",  # trailing byte
        struct.pack(">BII", 95, 1, 0),  # wrong number
        struct.pack(">BII", 94, 1, 0xFFFFFFFF),
    ],
)
def test_malformed_data_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        m.decode_data(payload)


def test_malformed_window_adjust_and_extended() -> None:
    with pytest.raises(DecodeError):
        m.decode_window_adjust(struct.pack(">BII", 93, 1, 2) + b"x")
    with pytest.raises(DecodeError):
        m.decode_extended_data(struct.pack(">BIII", 95, 1, 1, 4) + b"abc")
    with pytest.raises(DecodeError):
        m.recipient_of(b"\x60\x00\x00")


# -- session payloads -------------------------------------------------------------------------

SESSION_SAMPLES: list[tuple[str, Struct]] = [
    (se.PTY_REQ, se.PtyRequest("xterm-256color", 80, 24, 640, 480, se.encode_terminal_modes())),
    (se.X11_REQ, se.X11Request(False, "MIT-MAGIC-COOKIE-1", "0123456789abcdef", 0)),
    (se.ENV, se.EnvRequest(b"LANG", b"C.UTF-8")),
    (se.SHELL, se.ShellRequest()),
    (se.EXEC, se.ExecRequest(b"echo hi")),
    (se.SUBSYSTEM, se.SubsystemRequest("sftp")),
    (se.WINDOW_CHANGE, se.WindowChange(132, 43, 0, 0)),
    (se.XON_XOFF, se.XonXoff(True)),
    (se.SIGNAL, se.SignalRequest("TERM")),
    (se.EXIT_STATUS, se.ExitStatus(3)),
    (se.EXIT_SIGNAL, se.ExitSignal("KILL", True, "killed", "en")),
    (se.BREAK, se.BreakRequest(500)),
    (se.AUTH_AGENT_REQ, se.AgentForwardingRequest()),
    (se.EOW, se.EndOfWrite()),
]


@pytest.mark.parametrize(("name", "payload"), SESSION_SAMPLES, ids=[s[0] for s in SESSION_SAMPLES])
def test_session_requests_round_trip(name: str, payload: Struct) -> None:
    assert se.decode_request(name, payload.encode()) == payload
    with pytest.raises(DecodeError, match=name):
        se.decode_request(name, payload.encode() + b"\x00")


def test_every_session_request_has_a_sample() -> None:
    assert {n for n, _ in SESSION_SAMPLES} == set(se.SESSION_REQUESTS)
    assert se.decode_request("x-unknown@example.com", b"\x01") is None


def test_request_wire_layout_as_in_the_rfc() -> None:
    # RFC 4254 6.10: string signal name, boolean core dumped, string message, string language
    assert se.ExitSignal("SEGV", False, "m", "").encode() == (
        b"\x00\x00\x00\x04SEGV" + b"\x00" + b"\x00\x00\x00\x01m" + b"\x00\x00\x00\x00"
    )
    # RFC 4335: uint32 break-length in milliseconds
    assert se.BreakRequest(1000).encode() == struct.pack(">I", 1000)


# -- terminal modes ---------------------------------------------------------------------------


def test_terminal_modes_encoding() -> None:
    TM = se.TerminalMode
    modes = {TM.VINTR: 3, TM.ECHO: 1, TM.TTY_OP_ISPEED: 38400, TM.TTY_OP_OSPEED: 38400}
    encoded = se.encode_terminal_modes(modes)
    assert encoded == (
        b"\x01\x00\x00\x00\x03" + b"\x35\x00\x00\x00\x01"
        b"\x80\x00\x00\x96\x00" + b"\x81\x00\x00\x96\x00" + b"\x00"
    )
    assert se.decode_terminal_modes(encoded) == modes
    assert se.encode_terminal_modes([(TM.ICRNL, 0)]) == b"\x24\x00\x00\x00\x00\x00"


@SETTINGS
@given(st.dictionaries(st.integers(1, 159), u32, max_size=40))
def test_terminal_modes_round_trip(modes: dict[int, int]) -> None:
    assert se.decode_terminal_modes(se.encode_terminal_modes(modes)) == modes


def test_terminal_modes_parsing_rules() -> None:
    # No TTY_OP_END at all: the end of the data ends the list.
    assert se.decode_terminal_modes(b"\x35\x00\x00\x00\x01") == {53: 1}
    # An opcode of 160 and up stops parsing (RFC 4254 8); what follows is ignored.
    assert se.decode_terminal_modes(b"\x35\x00\x00\x00\x01\xa0garbage") == {53: 1}
    # Bytes after TTY_OP_END are ignored.
    assert se.decode_terminal_modes(b"\x00\x35\x00") == {}
    assert se.decode_terminal_modes(b"") == {}
    with pytest.raises(DecodeError, match="truncated"):
        se.decode_terminal_modes(b"\x35\x00\x00")
    for bad in ({0: 1}, {160: 1}, {1: -1}, {1: 1 << 32}):
        with pytest.raises(ValueError, match="terminal mode"):
            se.encode_terminal_modes(bad)


# -- forwarding payloads ----------------------------------------------------------------------

OPEN_SAMPLES: list[tuple[str, Struct]] = [
    (fw.SESSION, fw.SessionOpen()),
    (fw.DIRECT_TCPIP, fw.DirectTcpip("example.com", 80, "10.0.0.1", 54321)),
    (fw.FORWARDED_TCPIP, fw.ForwardedTcpip("0.0.0.0", 8080, "192.0.2.7", 40000)),
    (fw.DIRECT_STREAMLOCAL, fw.DirectStreamlocal("/run/app.sock", b"", 0)),
    (fw.FORWARDED_STREAMLOCAL, fw.ForwardedStreamlocal("/tmp/fwd.sock", b"")),
    (fw.X11, fw.X11Open("127.0.0.1", 6010)),
    (fw.AUTH_AGENT, fw.AgentOpen()),
]


@pytest.mark.parametrize(("kind", "payload"), OPEN_SAMPLES, ids=[s[0] for s in OPEN_SAMPLES])
def test_open_payloads_round_trip(kind: str, payload: Struct) -> None:
    assert fw.decode_open(kind, payload.encode()) == payload
    with pytest.raises(DecodeError, match="channel open"):
        fw.decode_open(kind, payload.encode() + b"\x01")


def test_open_payload_layouts() -> None:
    assert set(fw.OPEN_PAYLOADS) == {k for k, _ in OPEN_SAMPLES}
    # OpenSSH PROTOCOL 2.4: string path, string reserved, uint32 reserved
    assert fw.DirectStreamlocal("/s", b"", 0).encode() == b"\x00\x00\x00\x02/s" + bytes(8)
    assert fw.decode_open("tun@openssh.com", b"") is None


GLOBAL_SAMPLES: list[tuple[str, Struct]] = [
    (fw.TCPIP_FORWARD, fw.TcpipForward("localhost", 0)),
    (fw.CANCEL_TCPIP_FORWARD, fw.CancelTcpipForward("localhost", 2222)),
    (fw.STREAMLOCAL_FORWARD, fw.StreamlocalForward("/tmp/a.sock")),
    (fw.CANCEL_STREAMLOCAL_FORWARD, fw.CancelStreamlocalForward("/tmp/a.sock")),
    (fw.KEEPALIVE, fw.Empty()),
    (fw.NO_MORE_SESSIONS, fw.Empty()),
]


@pytest.mark.parametrize(("name", "payload"), GLOBAL_SAMPLES, ids=[s[0] for s in GLOBAL_SAMPLES])
def test_global_payloads_round_trip(name: str, payload: Struct) -> None:
    assert fw.decode_global(name, payload.encode()) == payload


def test_forwarded_port_reply_and_string_lists() -> None:
    assert fw.forwarded_port_reply(40123) == struct.pack(">I", 40123)
    assert fw.TcpipForwardReply.decode(fw.forwarded_port_reply(7)).port == 7
    blobs = [b"key one", b"", b"key three"]
    encoded = fw.encode_strings(blobs)
    assert encoded == b"".join(struct.pack(">I", len(b)) + b for b in blobs)
    assert fw.decode_strings(encoded) == blobs
    with pytest.raises(DecodeError):
        fw.decode_strings(encoded[:-1])
    with pytest.raises(DecodeError, match="more than 2"):
        fw.decode_strings(encoded, limit=2)


@SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_string_lists_round_trip(blobs: list[bytes]) -> None:
    assert fw.decode_strings(fw.encode_strings(blobs)) == blobs


@SETTINGS
@given(names, st.booleans(), st.binary(max_size=64), u32)
def test_requests_round_trip(name: str, want: bool, data: bytes, recipient: int) -> None:
    assert m.GlobalRequest.decode(m.GlobalRequest(name, want, data).encode()).data == data
    req = m.ChannelRequest(recipient, name, want, data)
    assert m.ChannelRequest.decode(req.encode()) == req


@SETTINGS
@given(u32, u32, texts, texts)
def test_open_failure_round_trips(recipient: int, reason: int, desc: str, lang: str) -> None:
    msg = m.ChannelOpenFailure(recipient, reason, desc, lang)
    assert m.ChannelOpenFailure.decode(msg.encode()) == msg
