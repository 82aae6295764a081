"""SFTP packets: round trips, the fast paths agree with the schemas, strict decoding, framing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_sftp import messages as m
from ssh_sftp.attrs import SFTPAttributes
from ssh_sftp.errors import SFTPProtocolError
from ssh_sftp.framing import PacketBuffer
from ssh_sftp.numbers import PacketType
from ssh_wire import DecodeError, Message, decode_message

SETTINGS = settings(max_examples=200, deadline=None)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
blobs = st.binary(max_size=300)
texts = st.text(max_size=40)
FULL = SFTPAttributes(10, 1000, 1000, 0o100644, 1_700_000_000, 1_700_000_001, (("a@b", b"x"),))


def requests() -> list[Message]:
    return [
        m.Open(1, b"/tmp/a", 0x1A, FULL),
        m.Close(2, b"h1"),
        m.Read(3, b"h1", 1 << 40, 32768),
        m.Write(4, b"h1", 7, b"data"),
        m.Lstat(5, b"/l"),
        m.Fstat(6, b"h"),
        m.Setstat(7, b"/s", SFTPAttributes(permissions=0o600)),
        m.Fsetstat(8, b"h", SFTPAttributes(atime=1, mtime=2)),
        m.Opendir(9, b"/d"),
        m.Readdir(10, b"hd"),
        m.Remove(11, b"/r"),
        m.Mkdir(12, b"/m", SFTPAttributes()),
        m.Rmdir(13, b"/m"),
        m.Realpath(14, b"."),
        m.Stat(15, b"/s"),
        m.Rename(16, b"/a", b"/b"),
        m.Readlink(17, b"/l"),
        m.Symlink(18, b"target", b"/link"),
        m.Extended(19, "limits@openssh.com", b""),
    ]


def replies() -> list[Message]:
    return [
        m.Status(1, 2, "No such file", ""),
        m.Handle(2, b"\x00\x01"),
        m.Data(3, b"x" * 100),
        m.Name(
            4, (m.NameEntry(b"a", b"-rw-r--r-- a", FULL), m.NameEntry(b"b", b"", SFTPAttributes()))
        ),
        m.Name(5, ()),
        m.AttrsReply(6, FULL),
        m.ExtendedReply(7, m.LimitsReply(1, 2, 3, 4).encode()),
    ]


@pytest.mark.parametrize("msg", requests(), ids=lambda x: type(x).__name__)
def test_every_request_round_trips_through_the_table(msg: Message) -> None:
    encoded = msg.encode()
    assert encoded[0] == msg.NUMBER
    assert decode_message(encoded, m.REQUESTS) == msg
    assert m.request_id_of(encoded) == msg.request_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg", replies(), ids=lambda x: type(x).__name__)
def test_every_reply_round_trips_through_the_table(msg: Message) -> None:
    encoded = msg.encode()
    assert decode_message(encoded, m.REPLIES) == msg


def test_the_tables_cover_version_3() -> None:
    assert set(m.REQUESTS.numbers) == {*range(3, 21), 200}
    assert set(m.REPLIES.numbers) == {101, 102, 103, 104, 105, 201}


@pytest.mark.parametrize("msg", [*requests(), *replies()], ids=lambda x: type(x).__name__)
def test_truncated_packets_fail_cleanly(msg: Message) -> None:
    encoded = msg.encode()
    for cut in range(1, len(encoded)):
        try:
            decoded = type(msg).decode(encoded[:cut])
        except DecodeError:
            continue
        assert decoded != msg  # only a packet ending in Rest can decode from a prefix


def test_init_and_version_carry_extension_pairs() -> None:
    version = m.Version(3, m.OPENSSH_EXTENSIONS)
    assert m.Version.decode(version.encode()) == version
    assert m.Init().encode() == b"\x01\x00\x00\x00\x03"


def test_too_many_extension_pairs_are_refused() -> None:
    many = tuple((f"e{i}", b"") for i in range(m.MAX_EXTENSIONS + 1))
    with pytest.raises(DecodeError, match="extensions"):
        m.Version.decode(m.Version(3, many).encode())


def test_symlink_puts_the_target_first_as_openssh_does() -> None:
    encoded = m.Symlink(1, b"the-target", b"the-link").encode()
    assert encoded == b"\x14\x00\x00\x00\x01\x00\x00\x00\x0athe-target\x00\x00\x00\x08the-link"


def test_a_name_count_the_packet_cannot_hold_is_refused_at_once() -> None:
    packet = b"\x68\x00\x00\x00\x01\xff\xff\xff\xff"
    with pytest.raises(DecodeError, match="entries"):
        m.Name.decode(packet)


def test_status_without_message_and_language_is_refused_by_both_paths() -> None:
    short = b"\x65\x00\x00\x00\x01\x00\x00\x00\x00"
    with pytest.raises(DecodeError):
        m.Status.decode(short)
    with pytest.raises(DecodeError):
        m.decode_status(short)


# -- extensions ------------------------------------------------------------------------------


def test_every_openssh_extension_has_a_request_schema() -> None:
    assert set(m.EXTENSION_REQUESTS) == {name for name, _ in m.OPENSSH_EXTENSIONS}


@pytest.mark.parametrize(
    "body",
    [
        m.PosixRename(b"/a", b"/b"),
        m.StatVFS(b"/"),
        m.FStatVFS(b"h"),
        m.Hardlink(b"/a", b"/b"),
        m.Fsync(b"h"),
        m.LSetstat(b"/l", SFTPAttributes(permissions=0o700)),
        m.LimitsRequest(),
        m.ExpandPath(b"~/x"),
        m.CopyData(b"r", 1, 0, b"w", 2),
        m.HomeDirectory(b"alice"),
        m.UsersGroupsById(m.encode_id_list([0, 1000]), m.encode_id_list([])),
    ],
    ids=lambda x: type(x).__name__,
)
def test_extension_requests_round_trip(body: m.ExtensionRequest) -> None:
    assert type(body).decode(body.encode()) == body
    assert m.EXTENSION_REQUESTS[body.NAME] is type(body)


def test_extension_replies_round_trip() -> None:
    vfs = m.StatVFSReply(4096, 4096, 10, 5, 4, 100, 50, 50, 7, 1, 255)
    assert m.StatVFSReply.decode(vfs.encode()) == vfs
    reply = m.UsersGroupsReply(m.encode_name_list(["root", ""]), m.encode_name_list(["wheel"]))
    decoded = m.UsersGroupsReply.decode(reply.encode())
    assert m.decode_name_list(decoded.usernames) == ("root", "")
    assert m.decode_name_list(decoded.groupnames) == ("wheel",)


def test_id_lists_pack_uint32s_and_reject_ragged_lengths() -> None:
    assert m.encode_id_list([1, 2]) == b"\x00\x00\x00\x01\x00\x00\x00\x02"
    assert m.decode_id_list(b"\x00\x00\x00\x01\x00\x00\x00\x02") == (1, 2)
    with pytest.raises(DecodeError):
        m.decode_id_list(b"\x00\x00\x01")
    with pytest.raises(DecodeError):
        m.decode_name_list(b"\x00\x00\x00\x05ab")


# -- fast paths ------------------------------------------------------------------------------


@SETTINGS
@given(u32, blobs, u64, u32)
def test_read_fast_path_matches_schema(rid: int, handle: bytes, offset: int, length: int) -> None:
    slow = m.Read(rid, handle, offset, length).encode()
    assert m.encode_read(rid, handle, offset, length) == slow
    assert m.decode_read(slow) == (rid, handle, offset, length)


@SETTINGS
@given(u32, blobs, u64, st.binary(max_size=4096))
def test_write_fast_path_matches_schema(rid: int, handle: bytes, offset: int, data: bytes) -> None:
    slow = m.Write(rid, handle, offset, data).encode()
    assert m.encode_write(rid, handle, offset, data) == slow
    assert m.encode_write(rid, handle, offset, memoryview(data)) == slow
    assert m.decode_write(slow) == (rid, handle, offset, data)
    assert m.encode_write_header(rid, handle, offset, len(data)) + data == m.frame(slow)


@SETTINGS
@given(u32, st.binary(max_size=4096))
def test_data_fast_path_matches_schema(rid: int, data: bytes) -> None:
    slow = m.Data(rid, data).encode()
    assert m.encode_data(rid, data) == slow
    assert m.decode_data(slow) == (rid, data)
    assert m.decode_data(memoryview(slow)) == (rid, data)


@SETTINGS
@given(u32, u32, texts, texts)
def test_status_fast_path_matches_schema(rid: int, code: int, text: str, lang: str) -> None:
    slow = m.Status(rid, code, text, lang).encode()
    assert m.encode_status(rid, code, text, lang) == slow
    assert m.decode_status(slow) == (rid, code, text, lang)


FAST: list[tuple[type[Message], Callable[[bytes], Any], Callable[[Message], tuple[Any, ...]]]] = [
    (m.Read, m.decode_read, lambda x: (x.request_id, x.handle, x.offset, x.length)),  # type: ignore[attr-defined]
    (m.Write, m.decode_write, lambda x: (x.request_id, x.handle, x.offset, x.data)),  # type: ignore[attr-defined]
    (m.Data, m.decode_data, lambda x: (x.request_id, x.data)),  # type: ignore[attr-defined]
    (m.Status, m.decode_status, lambda x: (x.request_id, x.code, x.message, x.language)),  # type: ignore[attr-defined]
]
FAST_SAMPLES = {
    m.Read: m.Read(1, b"handle", 99, 4096).encode(),
    m.Write: m.Write(2, b"h", 5, b"payload").encode(),
    m.Data: m.Data(3, b"payload").encode(),
    m.Status: m.Status(4, 1, "End of file", "en").encode(),
}


def _agree(schema: type[Message], fast: Callable[[bytes], Any], fields: Any, data: bytes) -> None:
    try:
        slow = fields(schema.decode(data))
    except DecodeError:
        with pytest.raises(DecodeError):
            fast(data)
        return
    assert fast(data) == slow


@pytest.mark.parametrize(
    ("schema", "fast", "fields"), FAST, ids=lambda x: getattr(x, "__name__", "")
)
def test_fast_decoders_reject_what_the_schema_rejects(
    schema: type[Message], fast: Callable[[bytes], Any], fields: Any
) -> None:
    sample = FAST_SAMPLES[schema]
    for cut in range(len(sample) + 1):
        _agree(schema, fast, fields, sample[:cut])
    _agree(schema, fast, fields, sample + b"\x00")
    for i in range(len(sample)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(sample)
            mutated[i] ^= flip
            _agree(schema, fast, fields, bytes(mutated))


@SETTINGS
@given(st.binary(max_size=64))
def test_fast_decoders_on_random_bytes_only_raise_decode_error(data: bytes) -> None:
    for schema, fast, fields in FAST:
        _agree(schema, fast, fields, bytes([schema.NUMBER]) + data)


def test_fast_encoders_reject_out_of_range_numbers() -> None:
    with pytest.raises(ValueError, match="Read"):
        m.encode_read(1 << 32, b"h", 0, 1)
    with pytest.raises(ValueError, match="Write"):
        m.encode_write(1, b"h", -1, b"")
    with pytest.raises(ValueError, match="Data"):
        m.encode_data(-1, b"")
    with pytest.raises(ValueError, match="Status"):
        m.encode_status(1, 1 << 32)


# -- mutated bytes into every decoder ----------------------------------------------------------


@pytest.mark.parametrize("msg", [*requests(), *replies()], ids=lambda x: type(x).__name__)
def test_mutated_packets_give_a_value_or_a_decode_error(msg: Message) -> None:
    encoded = msg.encode()
    for i in range(len(encoded)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(encoded)
            mutated[i] ^= flip
            with contextlib.suppress(DecodeError):
                type(msg).decode(bytes(mutated))


@SETTINGS
@given(st.integers(0, 255), st.binary(max_size=200))
def test_random_packets_give_a_value_or_a_decode_error(kind: int, body: bytes) -> None:
    for table in (m.REQUESTS, m.REPLIES):
        with contextlib.suppress(DecodeError):
            decode_message(bytes([kind]) + body, table)


# -- framing ---------------------------------------------------------------------------------


def test_frame_prefixes_the_length() -> None:
    assert m.frame(b"\x01\x00\x00\x00\x03") == b"\x00\x00\x00\x05\x01\x00\x00\x00\x03"


def test_packet_buffer_yields_whole_packets_from_any_split() -> None:
    stream = b"".join(m.frame(p.encode()) for p in replies())
    for step in (1, 3, 7, 1000):
        buf = PacketBuffer()
        out = []
        for i in range(0, len(stream), step):
            buf.feed(stream[i : i + step])
            while (packet := buf.next_packet()) is not None:
                out.append(packet)
        assert out == [p.encode() for p in replies()]
        assert buf.buffered == 0


@pytest.mark.parametrize("length", [0, m.MAX_PACKET_LENGTH + 1, 0xFFFFFFFF])
def test_packet_buffer_refuses_a_bad_length_before_buffering_it(length: int) -> None:
    buf = PacketBuffer()
    buf.feed(length.to_bytes(4, "big") + b"\x65")
    with pytest.raises(SFTPProtocolError, match="length"):
        buf.next_packet()


def test_packet_buffer_takes_a_packet_of_the_maximum_length() -> None:
    buf = PacketBuffer(max_packet=100)
    buf.feed(m.frame(bytes([PacketType.DATA]) + b"x" * 99))
    assert buf.next_packet() == bytes([PacketType.DATA]) + b"x" * 99
    buf.feed((101).to_bytes(4, "big"))
    with pytest.raises(SFTPProtocolError):
        buf.next_packet()
