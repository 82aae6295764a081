"""version_line and VersionReader (RFC 4253 4.2) as units."""

from __future__ import annotations

import pytest

from ssh_transport.version import (
    MAX_LINE,
    MAX_PRE_LINES,
    ProtocolVersionError,
    VersionReader,
    version_line,
)
from ssh_wire import DisconnectReason


def test_version_line() -> None:
    assert version_line("pyssh_0.1") == b"SSH-2.0-pyssh_0.1\r\n"
    assert version_line("x", "hello world") == b"SSH-2.0-x hello world\r\n"


@pytest.mark.parametrize("bad", ["", "a b", "a-b", "a\r", "caf\u00e9", "x" * 250])
def test_version_line_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid software version|too long"):
        version_line(bad)


def feed_all(reader: VersionReader, chunks: list[bytes]) -> tuple[str, int] | None:
    buf = bytearray()
    found = None
    for chunk in chunks:
        buf += chunk
        found = reader.feed(buf)
        if found is not None:
            return found
    return found


@pytest.mark.parametrize("allow", [True, False])
def test_reads_version_and_reports_consumed(allow: bool) -> None:
    reader = VersionReader(allow_pre_lines=allow)
    data = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x00\x0c"
    assert reader.feed(data) == ("SSH-2.0-OpenSSH_9.2p1 Debian-2", data.index(b"\n") + 1)


def test_bare_lf_and_1_99() -> None:
    assert VersionReader(allow_pre_lines=False).feed(b"SSH-1.99-old\n") == ("SSH-1.99-old", 13)


def test_byte_at_a_time() -> None:
    reader = VersionReader(allow_pre_lines=True)
    data = b"hello\r\nSSH-2.0-x\r\n"
    chunks = [data[i : i + 1] for i in range(len(data))]
    assert feed_all(reader, chunks) == ("SSH-2.0-x", len(data))
    assert reader.pre_lines == ["hello"]


def test_pre_lines_in_separate_chunks_counted_once() -> None:
    """Each feed sees the whole buffer; earlier lines must not be read again."""
    reader = VersionReader(allow_pre_lines=True)
    lines = [f"banner line {i}\r\n".encode() for i in range(MAX_PRE_LINES)]
    found = feed_all(reader, [*lines, b"SSH-2.0-server\r\n"])
    assert found is not None and found[0] == "SSH-2.0-server"
    assert reader.pre_lines == [f"banner line {i}" for i in range(MAX_PRE_LINES)]


def test_too_many_pre_lines() -> None:
    reader = VersionReader(allow_pre_lines=True)
    with pytest.raises(ProtocolVersionError, match="too many lines") as info:
        reader.feed(b"x\r\n" * (MAX_PRE_LINES + 1))
    assert info.value.reason == DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED


def test_server_refuses_pre_lines() -> None:
    with pytest.raises(ProtocolVersionError, match="not an SSH"):
        VersionReader(allow_pre_lines=False).feed(b"hello\r\nSSH-2.0-x\r\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SSH-1.5-old\r\n", "unsupported protocol version"),
        (b"SSH-3.0-new\r\n", "unsupported protocol version"),
        (b"SSH-2.0\r\n", "unsupported protocol version"),
        (b"SSH-2.0-a\x00b\r\n", "control characters"),
        (b"SSH-2.0-a\x07b\r\n", "control characters"),
        (b"SSH-2.0-a\x7fb\r\n", "control characters"),
        (b"SSH-2.0-caf\xc3\xa9\r\n", "non-ASCII"),
        (b"SSH-2.0-" + b"x" * 300 + b"\r\n", "too long"),
        (b"SSH-2.0-" + b"x" * 300, "too long"),
        (b"GET / HTTP/1.1\r\n", "HTTP"),
        (b"GET ", "HTTP"),
        (b"\x00\x00\x00\x00", "not an SSH"),
    ],
)
def test_bad_lines_server(data: bytes, message: str) -> None:
    reader = VersionReader(allow_pre_lines=False)
    with pytest.raises(ProtocolVersionError, match=message) as info:
        reader.feed(data)
    assert info.value.reason == DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello\x00\r\n", "NUL"),
        (b"x" * 10000, "not an SSH"),
        (b"x" * 10000 + b"\r\n", "over-long"),
        (b"SSH-1.5-old\r\n", "unsupported protocol version"),
    ],
)
def test_bad_lines_client(data: bytes, message: str) -> None:
    reader = VersionReader(allow_pre_lines=True)
    with pytest.raises(ProtocolVersionError, match=message):
        reader.feed(data)


def test_line_limit_is_rfc_255() -> None:
    line = b"SSH-2.0-" + b"x" * (MAX_LINE - 10) + b"\r\n"
    assert len(line) == MAX_LINE
    assert VersionReader(allow_pre_lines=False).feed(line) is not None
    with pytest.raises(ProtocolVersionError):
        VersionReader(allow_pre_lines=False).feed(line[:-2] + b"y\r\n")


def test_partial_waits() -> None:
    reader = VersionReader(allow_pre_lines=False)
    assert reader.feed(b"SS") is None
    assert reader.feed(b"SSH-2.0-abc") is None
