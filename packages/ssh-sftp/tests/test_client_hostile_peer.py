"""Both front ends against a scripted peer that breaks the protocol: every case ends in a
clear SFTP error at the caller, never a hang or an untyped exception."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from ssh_sftp import SFTPAttributes, SFTPConnectionClosed, SFTPProtocolError
from ssh_sftp import messages as m
from ssh_sftp.aio import AsyncSFTPClient
from ssh_sftp.framing import PacketBuffer
from ssh_sftp.numbers import PacketType
from ssh_sftp.sync import SFTPClient

VERSION = m.frame(m.Version(3).encode())


class Script:
    """The peer's side: chunks to hand out, one per read, then EOF (or an error)."""

    def __init__(self, *chunks: bytes, fail: BaseException | None = None) -> None:
        self.chunks = list(chunks)
        self.fail = fail
        self.written = bytearray()
        self.closed = False

    def next(self) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.fail is not None:
            raise self.fail
        return b""


class SyncScript:
    def __init__(self, script: Script) -> None:
        self.script = script

    def read(self) -> bytes:
        return self.script.next()

    def write(self, data: bytes) -> None:
        self.script.written += data

    def close(self) -> None:
        self.script.closed = True


class AsyncScript(SyncScript):
    async def read(self) -> bytes:  # type: ignore[override]
        return self.script.next()

    async def write(self, data: bytes) -> None:  # type: ignore[override]
        self.script.written += data

    async def close(self) -> None:  # type: ignore[override]
        self.script.closed = True


def run(front: str, script: Script, action: Callable[[Any], Any]) -> Any:
    """Start a client on the script and apply ``action`` (a coroutine for asyncio)."""
    if front == "sync":
        with SFTPClient.from_stream(SyncScript(script)) as sftp:
            return action(sftp)

    async def main() -> Any:
        async with await AsyncSFTPClient.from_stream(AsyncScript(script)) as sftp:
            result = action(sftp)
            return await result if inspect.isawaitable(result) else result

    return asyncio.run(main())


FRONTS = ["sync", "aio"]


ATTRS_7 = m.frame(m.AttrsReply(0, SFTPAttributes(size=7)).encode())


@pytest.mark.parametrize("front", FRONTS)
def test_a_well_behaved_script_works(front: str) -> None:
    assert run(front, Script(VERSION, ATTRS_7), lambda s: s.stat("/x")).size == 7


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize(
    "reply",
    [
        b"\xff\xff\xff\xff",  # a length far over the limit
        b"\x00\x00\x00\x00",  # a packet with not even a type byte
        m.frame(m.encode_status(77, 0)),  # a reply to no request
        m.frame(m.Handle(0, b"h").encode()),  # the wrong type for STAT
        m.frame(bytes([PacketType.ATTRS]) + b"\x00\x00\x00\x00\x00\x00\x00\x10"),  # bad flags
    ],
    ids=["huge-length", "empty-packet", "unknown-id", "wrong-type", "bad-attrs"],
)
def test_a_broken_reply_raises_sftp_protocol_error(front: str, reply: bytes) -> None:
    with pytest.raises(SFTPProtocolError):
        run(front, Script(VERSION, reply), lambda s: s.stat("/x"))


@pytest.mark.parametrize("front", FRONTS)
def test_eof_in_the_middle_of_a_reply_is_connection_closed(front: str) -> None:
    partial = m.frame(m.encode_status(0, 0))[:7]
    with pytest.raises(SFTPConnectionClosed):
        run(front, Script(VERSION, partial), lambda s: s.stat("/x"))


@pytest.mark.parametrize("front", FRONTS)
def test_eof_before_the_version_fails_the_start(front: str) -> None:
    script = Script()
    with pytest.raises(SFTPConnectionClosed):
        run(front, script, lambda s: None)
    assert script.closed


@pytest.mark.parametrize("front", FRONTS)
def test_a_failing_stream_is_connection_closed_with_the_cause(front: str) -> None:
    script = Script(VERSION, fail=ConnectionResetError("reset by peer"))
    with pytest.raises(SFTPConnectionClosed, match="reset by peer") as info:
        run(front, script, lambda s: s.stat("/x"))
    assert isinstance(info.value.__cause__, ConnectionResetError)


@pytest.mark.parametrize("front", FRONTS)
def test_a_bad_version_fails_the_start(front: str) -> None:
    with pytest.raises(SFTPProtocolError, match="version 2"):
        run(front, Script(m.frame(m.Version(2).encode())), lambda s: None)


@pytest.mark.parametrize("front", FRONTS)
def test_a_reply_in_single_bytes_arrives(front: str) -> None:
    dribble = [ATTRS_7[i : i + 1] for i in range(len(ATTRS_7))]
    script = Script(VERSION, *dribble)
    assert run(front, script, lambda s: s.stat("/x")).size == 7
    # INIT went out first, then the STAT.
    assert bytes(script.written[:9]) == m.frame(m.Init().encode())
    assert m.Stat.decode(bytes(script.written[13:])).path == b"/x"


class ShortReadServer:
    """A tiny in-memory SFTP server stream that answers READ with at most ``cap`` bytes,
    as some servers do whatever they advertise."""

    def __init__(self, content: bytes, cap: int) -> None:
        self.content = content
        self.cap = cap
        self.inbox = PacketBuffer()
        self.outbox = bytearray(VERSION)
        self.reads: list[int] = []

    def read(self) -> bytes:
        out, self.outbox = bytes(self.outbox), bytearray()
        return out

    def write(self, data: bytes) -> None:
        self.inbox.feed(data)
        while (packet := self.inbox.next_packet()) is not None:
            if packet[0] != PacketType.INIT:
                self.outbox += m.frame(self.answer(packet))

    def answer(self, packet: bytes) -> bytes:
        rid = m.request_id_of(packet) or 0
        kind = packet[0]
        if kind == PacketType.OPEN:
            return m.Handle(rid, b"h").encode()
        if kind in (PacketType.STAT, PacketType.FSTAT):
            return m.AttrsReply(rid, SFTPAttributes(size=len(self.content))).encode()
        if kind == PacketType.READ:
            _, _, offset, length = m.decode_read(packet)
            self.reads.append(length)
            data = self.content[offset : offset + min(length, self.cap)]
            return m.encode_data(rid, data) if data else m.encode_status(rid, 1, "EOF")
        return m.encode_status(rid, 0)

    def close(self) -> None:
        pass


def test_short_reads_are_refilled_in_order_and_shrink_later_requests(tmp_path: Any) -> None:
    content = bytes(range(256)) * 800  # 204800 bytes
    server = ShortReadServer(content, cap=10_000)
    with SFTPClient.from_stream(server, chunk_size=65536, max_requests=4) as sftp:
        sftp.get("remote", tmp_path / "copy")
        first = len(server.reads)
        with sftp.open("remote") as f:
            assert f.read(150_000) == content[:150_000]
        assert sftp.limits.read_size == 10_000
    assert (tmp_path / "copy").read_bytes() == content
    # Short answers get refilled; once the cap is clear, requests ask for what it gives.
    assert server.reads[:4] == [65536] * 4
    assert max(server.reads[first:]) <= 10_000
