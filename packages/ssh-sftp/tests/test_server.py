"""SFTPServerCore in memory: requests as the protocol modules encode them, replies decoded
by them, answered from a LocalFileSystem (escapes over the protocol) or by hand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_sftp import messages as m
from ssh_sftp.attrs import SFTPAttributes
from ssh_sftp.filesystem import OPEN_CREATE, OPEN_READ, OPEN_WRITE, LocalFileSystem
from ssh_sftp.numbers import StatusCode
from ssh_sftp.server import (
    MAX_REQUEST_LENGTH,
    REQUEST_NAMES,
    FileSystemCall,
    SessionEnded,
    SFTPServerCore,
    answer_inline,
)
from ssh_wire import LocalProtocolError, Message


class Client:
    """Drives one core: send a request, get the decoded replies."""

    def __init__(self, core: SFTPServerCore, fs: LocalFileSystem | None) -> None:
        self.core, self.fs = core, fs
        self.inbox = b""
        self.next_id = 0
        self.version = self.exchange(m.Init())[0]

    def send(self, message: Message) -> None:
        self.core.receive_data(m.frame(message.encode()))

    def replies(self) -> list[Message]:
        if self.fs is not None:
            answer_inline(self.core, self.fs)
        self.inbox += self.core.data_to_send()
        out: list[Message] = []
        while len(self.inbox) >= 4:
            length = int.from_bytes(self.inbox[:4], "big")
            payload, self.inbox = self.inbox[4 : 4 + length], self.inbox[4 + length :]
            kind = m.REPLIES.get(payload[0]) or m.Version
            out.append(kind.decode(payload))
        return out

    def exchange(self, message: Message) -> list[Message]:
        self.send(message)
        return self.replies()

    def call(self, kind: type[Message], **fields: object) -> Message:
        self.next_id += 1
        (reply,) = self.exchange(kind(request_id=self.next_id, **fields))
        return reply

    def extended(self, body: m.ExtensionRequest) -> Message:
        return self.call(m.Extended, request=body.NAME, data=body.encode())

    def open(self, path: bytes, flags: int = OPEN_READ) -> bytes:
        reply = self.call(m.Open, filename=path, pflags=flags, attrs=SFTPAttributes())
        assert isinstance(reply, m.Handle), reply
        return reply.handle


def status(reply: Message) -> int:
    assert isinstance(reply, m.Status), reply
    return reply.code


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"secret")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "file").write_bytes(b"0123456789")
    return tmp_path / "root"


@pytest.fixture
def client(root: Path) -> Iterator[Client]:
    fs = LocalFileSystem(root)
    yield Client(SFTPServerCore(), fs)
    fs.close_root()


def test_version_advertises_openssh_extensions(client: Client) -> None:
    assert isinstance(client.version, m.Version) and client.version.version == 3
    names = [name for name, _ in client.version.extensions]
    assert names == [name for name, _ in m.OPENSSH_EXTENSIONS]


def test_limits(client: Client) -> None:
    reply = client.extended(m.LimitsRequest())
    assert isinstance(reply, m.ExtendedReply)
    limits = m.LimitsReply.decode(reply.data)
    assert limits.max_packet_length == MAX_REQUEST_LENGTH
    assert limits.max_read_length == limits.max_write_length == MAX_REQUEST_LENGTH - 1024


def test_read_write_round_trip(client: Client, root: Path) -> None:
    handle = client.open(b"/new", OPEN_WRITE | OPEN_CREATE)
    assert status(client.call(m.Write, handle=handle, offset=3, data=b"abc")) == StatusCode.OK
    assert status(client.call(m.Close, handle=handle)) == StatusCode.OK
    handle = client.open(b"new")
    reply = client.call(m.Read, handle=handle, offset=0, length=100)
    assert isinstance(reply, m.Data) and reply.data == b"\0\0\0abc"
    assert status(client.call(m.Read, handle=handle, offset=6, length=1)) == StatusCode.EOF


def test_escapes_over_the_protocol(client: Client, root: Path) -> None:
    outside = os.fsencode(root.parent / "outside" / "secret")
    for path in (b"../outside/secret", b"/../outside/secret", outside):
        reply = client.call(m.Open, filename=path, pflags=OPEN_READ, attrs=SFTPAttributes())
        assert status(reply) == StatusCode.NO_SUCH_FILE
    # A link the client makes to the real path, then renames and follows.
    reply = client.call(m.Symlink, target=os.fsencode(root.parent / "outside"), link_path=b"l")
    assert status(reply) == StatusCode.OK
    assert status(client.extended(m.PosixRename(oldpath=b"l", newpath=b"m"))) == StatusCode.OK
    reply = client.call(m.Stat, path=b"m/secret")
    assert status(reply) == StatusCode.NO_SUCH_FILE
    reply = client.extended(m.Hardlink(oldpath=outside, newpath=b"h"))
    assert status(reply) == StatusCode.NO_SUCH_FILE
    realpath = client.call(m.Realpath, path=b"../../..")
    assert isinstance(realpath, m.Name) and realpath.entries[0].filename == b"/"


def test_symlink_takes_openssh_argument_order(client: Client, root: Path) -> None:
    assert status(client.call(m.Symlink, target=b"file", link_path=b"s")) == StatusCode.OK
    assert os.readlink(root / "s") == "file"


def test_readdir_lists_with_long_names(client: Client) -> None:
    reply = client.call(m.Opendir, path=b"/")
    assert isinstance(reply, m.Handle)
    listing = client.call(m.Readdir, handle=reply.handle)
    assert isinstance(listing, m.Name)
    names = {entry.filename: entry for entry in listing.entries}
    assert set(names) == {b".", b"..", b"file"}
    assert names[b"file"].longname.startswith(b"-rw") and names[b"file"].longname.endswith(b" file")
    assert status(client.call(m.Readdir, handle=reply.handle)) == StatusCode.EOF


def test_unknown_extension_is_unsupported(client: Client) -> None:
    reply = client.call(m.Extended, request="nothing@example.org", data=b"")
    assert status(reply) == StatusCode.OP_UNSUPPORTED


def test_bad_handle_is_a_failure(client: Client) -> None:
    reply = client.call(m.Read, handle=b"nope", offset=0, length=1)
    assert status(reply) == StatusCode.FAILURE


def test_read_only_and_deny_lists(root: Path) -> None:
    fs = LocalFileSystem(root)
    client = Client(SFTPServerCore(read_only=True, denied=["stat"]), fs)
    reply = client.call(m.Open, filename=b"x", pflags=OPEN_WRITE | OPEN_CREATE,
                        attrs=SFTPAttributes())  # fmt: skip
    assert status(reply) == StatusCode.PERMISSION_DENIED
    assert status(client.call(m.Remove, filename=b"file")) == StatusCode.PERMISSION_DENIED
    assert status(client.call(m.Stat, path=b"file")) == StatusCode.PERMISSION_DENIED
    assert isinstance(client.call(m.Lstat, path=b"file"), m.AttrsReply)
    assert (root / "file").exists() and not (root / "x").exists()
    fs.close_root()


def test_allow_list_refuses_the_rest(root: Path) -> None:
    fs = LocalFileSystem(root)
    client = Client(SFTPServerCore(allowed=["lstat"]), fs)
    assert isinstance(client.call(m.Lstat, path=b"file"), m.AttrsReply)
    assert status(client.call(m.Stat, path=b"file")) == StatusCode.PERMISSION_DENIED
    fs.close_root()


def test_unknown_request_names_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown SFTP request"):
        SFTPServerCore(denied=["frobnicate"])
    assert "copy-data" in REQUEST_NAMES


def test_handle_limit(root: Path) -> None:
    fs = LocalFileSystem(root)
    client = Client(SFTPServerCore(max_handles=2), fs)
    client.open(b"file")
    client.open(b"file")
    reply = client.call(m.Open, filename=b"file", pflags=OPEN_READ, attrs=SFTPAttributes())
    assert status(reply) == StatusCode.FAILURE
    fs.close_root()


def test_oversized_request_ends_the_session(client: Client) -> None:
    client.core.receive_data((MAX_REQUEST_LENGTH + 1).to_bytes(4, "big") + b"\x03")
    event = client.core.next_event()
    assert isinstance(event, SessionEnded) and event.error is not None
    assert "length" in str(event.error)


def test_request_before_init_ends_the_session() -> None:
    core = SFTPServerCore()
    core.receive_data(m.frame(m.Stat(request_id=1, path=b"x").encode()))
    event = core.next_event()
    assert isinstance(event, SessionEnded) and "before INIT" in str(event.error)


def test_in_flight_limit_holds_requests_back(root: Path) -> None:
    core = SFTPServerCore(max_in_flight=2)
    client = Client(core, None)
    for i in range(4):
        client.send(m.Stat(request_id=i, path=b"file"))
    calls = []
    while (event := core.next_event()) is not None:
        calls.append(event)
    assert len(calls) == 2 and not core.wants_data
    assert isinstance(calls[0], FileSystemCall) and calls[0].request == "stat"
    calls[0].answer(FileNotFoundError(2, "gone"))
    more = core.next_event()  # the answer made room for the next request
    assert isinstance(more, FileSystemCall) and more.request_id == 2
    for call in (calls[1], more):
        assert isinstance(call, FileSystemCall)
        call.answer(FileNotFoundError(2, "gone"))
    last = core.next_event()
    assert isinstance(last, FileSystemCall) and last.request_id == 3
    last.answer(FileNotFoundError(2, "gone"))
    assert core.wants_data and len(client.replies()) == 4
    with pytest.raises(LocalProtocolError, match="twice"):
        calls[0].answer(None)


def test_replies_wait_for_the_filesystem(root: Path) -> None:
    core = SFTPServerCore()
    client = Client(core, None)
    client.send(m.Stat(request_id=7, path=b"file"))
    event = core.next_event()
    assert isinstance(event, FileSystemCall) and event.args == (b"file",)
    assert core.data_to_send() == b""  # nothing said before the answer
    event.answer(os.stat(root / "file"))
    (reply,) = client.replies()
    assert isinstance(reply, m.AttrsReply) and reply.attrs.size == 10


def test_disconnect_mid_write_keeps_what_was_acknowledged(client: Client, root: Path) -> None:
    handle = client.open(b"up", OPEN_WRITE | OPEN_CREATE)
    acked = client.call(m.Write, handle=handle, offset=0, data=b"A" * 1000)
    assert status(acked) == StatusCode.OK
    cut = m.frame(m.Write(request_id=99, handle=handle, offset=1000, data=b"B" * 1000).encode())
    client.core.receive_data(cut[:-10])
    client.core.receive_data(b"")
    assert client.fs is not None
    assert answer_inline(client.core, client.fs)
    assert (root / "up").read_bytes() == b"A" * 1000
    assert client.core.data_to_send() == b""  # the cut write was never acknowledged


def test_eof_closes_open_handles(root: Path) -> None:
    core = SFTPServerCore()
    client = Client(core, None)
    client.send(m.Open(request_id=1, filename=b"file", pflags=OPEN_READ, attrs=SFTPAttributes()))
    event = core.next_event()
    assert isinstance(event, FileSystemCall)
    event.answer("backend-handle")
    core.receive_data(b"")
    close = core.next_event()
    assert isinstance(close, FileSystemCall) and close.method == "close"
    assert close.args == ("backend-handle",) and close.request_id is None
    assert isinstance(core.next_event(), SessionEnded)


def test_errno_maps_to_status(client: Client) -> None:
    assert status(client.call(m.Stat, path=b"missing")) == StatusCode.NO_SUCH_FILE
    assert status(client.call(m.Rmdir, path=b"file")) == StatusCode.NO_SUCH_FILE  # ENOTDIR
    assert status(client.call(m.Mkdir, path=b"file", attrs=SFTPAttributes())) == (
        StatusCode.FAILURE  # EEXIST
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_end_the_session_cleanly(data: bytes) -> None:
    core = SFTPServerCore()
    core.receive_data(m.frame(m.Init().encode()))
    core.receive_data(data)
    core.receive_data(b"")
    while (event := core.next_event()) is not None:
        if isinstance(event, FileSystemCall):
            event.answer(OSError(5, "no filesystem here"))
    assert core.ended


def test_offsets_the_os_cannot_take_are_bad_messages(client: Client) -> None:
    handle = client.open(b"file", OPEN_READ | OPEN_WRITE)
    reply = client.call(m.Write, handle=handle, offset=2**64 - 1, data=b"x")
    assert status(reply) == StatusCode.BAD_MESSAGE
    assert status(client.call(m.Stat, path=b"fi\0le")) == StatusCode.BAD_MESSAGE


def test_no_root_mode_refuses_nul_too(tmp_path: Path) -> None:
    client = Client(SFTPServerCore(), LocalFileSystem(None, start=str(tmp_path)))
    assert status(client.call(m.Stat, path=b"a\0b")) == StatusCode.BAD_MESSAGE


# -- streaming replies ------------------------------------------------------------------------


def test_answer_inline_with_an_output_limit_stops_once_a_reply_is_ready(
    client: Client, root: Path
) -> None:
    (root / "big").write_bytes(os.urandom(3 * 200_000))
    handle = client.open(b"/big")
    core = client.core
    # Three READs arrive in one go: the first DATA reply must not wait for the others.
    client.inbox = b""
    for i in range(3):
        client.send(m.Read(request_id=100 + i, handle=handle, offset=i * 200_000, length=200_000))
    assert core.pending_events == 3
    assert answer_inline(core, client.fs, 1 << 17) is False  # type: ignore[arg-type]
    assert core.pending_events == 2
    assert 200_000 < core.pending_output < 2 * 200_000
    first = core.data_to_send()
    assert core.pending_output == 0 and len(first) == 4 + 9 + 200_000
    assert answer_inline(core, client.fs, 1 << 17) is False  # type: ignore[arg-type]
    assert answer_inline(core, client.fs, 1 << 17) is False  # type: ignore[arg-type]
    assert core.pending_events == 0
    rest = core.data_to_send()
    data = first[13:] + rest[13 : 13 + 200_000] + rest[13 + 200_000 + 13 :]
    assert data == (root / "big").read_bytes()


def test_without_a_limit_answer_inline_answers_everything_queued(
    client: Client, root: Path
) -> None:
    (root / "f").write_bytes(b"x" * 1000)
    handle = client.open(b"/f")
    for i in range(5):
        client.send(m.Read(request_id=200 + i, handle=handle, offset=i * 100, length=100))
    assert answer_inline(client.core, client.fs) is False  # type: ignore[arg-type]
    assert client.core.pending_events == 0
    assert client.core.pending_output == 5 * (4 + 9 + 100)


def test_many_requests_in_one_read_are_all_decoded_and_the_input_cut_once(
    client: Client, root: Path
) -> None:
    (root / "f").write_bytes(b"")
    handle = client.open(b"/f", OPEN_WRITE)
    chunks = [os.urandom(1000 + i) for i in range(20)]
    wire, offset = b"", 0
    for i, chunk in enumerate(chunks):
        wire += m.frame(m.Write(request_id=300 + i, handle=handle, offset=offset,
                                data=chunk).encode())  # fmt: skip
        offset += len(chunk)
    tail = m.frame(m.Stat(request_id=999, path=b"/f").encode())
    client.core.receive_data(wire + tail[:7])  # and the start of one more request
    assert client.core.pending_events == 20
    replies = client.replies()
    assert [status(r) for r in replies] == [StatusCode.OK] * 20
    client.core.receive_data(tail[7:])
    (reply,) = client.replies()
    assert isinstance(reply, m.AttrsReply) and reply.attrs.size == sum(map(len, chunks))
