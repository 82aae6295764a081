"""SFTP version 3 packets (draft-ietf-secsh-filexfer-02) and OpenSSH's extensions, declared once.

A packet on the stream is ``uint32 length`` then ``length`` bytes: a type byte and the
fields. Every packet is a :class:`~ssh_wire.Message` schema whose NUMBER is its type byte;
every extension of OpenSSH's PROTOCOL is a request :class:`~ssh_wire.Struct` (the bytes
after the request name of SSH_FXP_EXTENDED) and, where it has one, a reply Struct (the bytes
of SSH_FXP_EXTENDED_REPLY after the request id).

Paths, handles and file data are ``bytes`` here: version 3 does not say how names are
encoded. The front ends encode ``str`` paths as UTF-8 (surrogateescape, as ``os`` does).

READ, WRITE, DATA and STATUS carry the bulk of a transfer, so they also have plain
``struct`` encoders and decoders beside their schemas; tests check both agree byte for byte
and reject the same malformed input.
"""

from __future__ import annotations

import struct
from typing import Annotated, ClassVar

from ssh_wire import (
    DecodeError,
    Message,
    MessageTable,
    Reader,
    Rest,
    String,
    Struct,
    Text,
    UInt32,
    UInt64,
    WireType,
    Writer,
)

from .attrs import Attrs
from .numbers import SFTP_VERSION, PacketType

__all__ = [
    # limits
    "MAX_PACKET_LENGTH",
    "MAX_DATA_LENGTH",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_REQUESTS",
    "MAX_EXTENSIONS",
    "MAX_NAME_ENTRIES",
    "frame",
    # version negotiation
    "Init",
    "Version",
    # requests
    "Open",
    "Close",
    "Read",
    "Write",
    "Lstat",
    "Fstat",
    "Setstat",
    "Fsetstat",
    "Opendir",
    "Readdir",
    "Remove",
    "Mkdir",
    "Rmdir",
    "Realpath",
    "Stat",
    "Rename",
    "Readlink",
    "Symlink",
    "Extended",
    # replies
    "Status",
    "Handle",
    "Data",
    "NameEntry",
    "Name",
    "AttrsReply",
    "ExtendedReply",
    # OpenSSH extensions
    "ExtensionRequest",
    "PosixRename",
    "StatVFS",
    "FStatVFS",
    "Hardlink",
    "Fsync",
    "LSetstat",
    "LimitsRequest",
    "ExpandPath",
    "CopyData",
    "HomeDirectory",
    "UsersGroupsById",
    "StatVFSReply",
    "LimitsReply",
    "UsersGroupsReply",
    "EXTENSION_REQUESTS",
    "OPENSSH_EXTENSIONS",
    "encode_id_list",
    "decode_id_list",
    "encode_name_list",
    "decode_name_list",
    # tables
    "REQUESTS",
    "REPLIES",
    "request_id_of",
    # fast paths
    "encode_read",
    "decode_read",
    "encode_write",
    "encode_write_header",
    "decode_write",
    "encode_data",
    "decode_data",
    "encode_status",
    "decode_status",
]

# -- limits ----------------------------------------------------------------------------------

#: Largest packet (the value of the length field) either side accepts: OpenSSH's 256 KiB
#: plus room for the header of a full 256 KiB READ answer or WRITE request.
MAX_PACKET_LENGTH = 256 * 1024 + 1024
#: Largest data of one READ or WRITE we ask for or send (OpenSSH's sftp-server advertises
#: 256 KiB - 1 KiB in limits@openssh.com; without that extension clients use 32 KiB).
MAX_DATA_LENGTH = 256 * 1024
#: Chunk size and requests in flight when the server sends no limits (OpenSSH's sftp
#: client defaults: ``-B 32768 -R 64``).
DEFAULT_CHUNK_SIZE = 32 * 1024
DEFAULT_MAX_REQUESTS = 64
#: Most extension pairs in INIT or VERSION, and entries in one NAME reply.
MAX_EXTENSIONS = 256
MAX_NAME_ENTRIES = 100_000

_U32 = struct.Struct(">I")


def frame(payload: bytes | bytearray | memoryview) -> bytes:
    """Prefix a packet with its uint32 length."""
    return _U32.pack(len(payload)) + bytes(payload)


# -- custom wire types -----------------------------------------------------------------------


def _read_extensions(r: Reader, field: str) -> tuple[tuple[str, bytes], ...]:
    pairs: list[tuple[str, bytes]] = []
    while not r.at_end():
        if len(pairs) >= MAX_EXTENSIONS:
            raise DecodeError(
                f"more than {MAX_EXTENSIONS} extensions", field=field, offset=r.offset
            )
        name = r.text(f"{field}.name")
        pairs.append((name, r.string(f"{field}.data")))
    return tuple(pairs)


def _write_extensions(w: Writer, pairs: tuple[tuple[str, bytes], ...]) -> None:
    for name, data in pairs:
        w.string(name.encode("utf-8"))
        w.string(data)


#: (name, data) pairs up to the end of the packet (INIT and VERSION).
Extensions = Annotated[
    tuple[tuple[str, bytes], ...], WireType("extensions", _read_extensions, _write_extensions)
]


class NameEntry(Struct):
    """One file of a NAME reply."""

    filename: String
    longname: String
    attrs: Attrs


def _read_entries(r: Reader, field: str) -> tuple[NameEntry, ...]:
    start = r.offset
    count = r.uint32(f"{field}.count")
    # Each entry takes at least 12 bytes: refuse a count the packet cannot hold at once.
    if count > MAX_NAME_ENTRIES or count * 12 > r.remaining:
        raise DecodeError(f"{count} entries do not fit", field=field, offset=start)
    entries = []
    for _ in range(count):
        try:
            entries.append(NameEntry.read_from(r))
        except DecodeError as exc:
            raise DecodeError(exc.reason, field=f"{field}.{exc.field}", offset=exc.offset) from None
    return tuple(entries)


def _write_entries(w: Writer, entries: tuple[NameEntry, ...]) -> None:
    w.uint32(len(entries))
    for entry in entries:
        entry.encode_into(w)


#: A count, then that many entries (NAME).
NameEntries = Annotated[
    tuple[NameEntry, ...], WireType("name-entries", _read_entries, _write_entries)
]


# -- version negotiation (filexfer-02 4) -----------------------------------------------------


class Init(Message):
    NUMBER = PacketType.INIT
    version: UInt32 = SFTP_VERSION
    extensions: Extensions = ()


class Version(Message):
    NUMBER = PacketType.VERSION
    version: UInt32 = SFTP_VERSION
    extensions: Extensions = ()


# -- requests (filexfer-02 6) ----------------------------------------------------------------


class Open(Message):
    NUMBER = PacketType.OPEN
    request_id: UInt32
    filename: String
    pflags: UInt32
    attrs: Attrs


class Close(Message):
    NUMBER = PacketType.CLOSE
    request_id: UInt32
    handle: String


class Read(Message):
    NUMBER = PacketType.READ
    request_id: UInt32
    handle: String
    offset: UInt64
    length: UInt32


class Write(Message):
    NUMBER = PacketType.WRITE
    request_id: UInt32
    handle: String
    offset: UInt64
    data: String


class Lstat(Message):
    NUMBER = PacketType.LSTAT
    request_id: UInt32
    path: String


class Fstat(Message):
    NUMBER = PacketType.FSTAT
    request_id: UInt32
    handle: String


class Setstat(Message):
    NUMBER = PacketType.SETSTAT
    request_id: UInt32
    path: String
    attrs: Attrs


class Fsetstat(Message):
    NUMBER = PacketType.FSETSTAT
    request_id: UInt32
    handle: String
    attrs: Attrs


class Opendir(Message):
    NUMBER = PacketType.OPENDIR
    request_id: UInt32
    path: String


class Readdir(Message):
    NUMBER = PacketType.READDIR
    request_id: UInt32
    handle: String


class Remove(Message):
    NUMBER = PacketType.REMOVE
    request_id: UInt32
    filename: String


class Mkdir(Message):
    NUMBER = PacketType.MKDIR
    request_id: UInt32
    path: String
    attrs: Attrs


class Rmdir(Message):
    NUMBER = PacketType.RMDIR
    request_id: UInt32
    path: String


class Realpath(Message):
    NUMBER = PacketType.REALPATH
    request_id: UInt32
    path: String


class Stat(Message):
    NUMBER = PacketType.STAT
    request_id: UInt32
    path: String


class Rename(Message):
    NUMBER = PacketType.RENAME
    request_id: UInt32
    oldpath: String
    newpath: String


class Readlink(Message):
    NUMBER = PacketType.READLINK
    request_id: UInt32
    path: String


class Symlink(Message):
    """In OpenSSH's order (PROTOCOL 4.1): the link's target first, then the link's own path.
    The draft says the opposite; OpenSSH shipped this order first and every server that
    talks to OpenSSH's client follows it."""

    NUMBER = PacketType.SYMLINK
    request_id: UInt32
    target: String
    link_path: String


class Extended(Message):
    NUMBER = PacketType.EXTENDED
    request_id: UInt32
    request: Text
    data: Rest


# -- replies (filexfer-02 7) -----------------------------------------------------------------


class Status(Message):
    NUMBER = PacketType.STATUS
    request_id: UInt32
    code: UInt32
    message: Text = ""
    language: Text = ""


class Handle(Message):
    NUMBER = PacketType.HANDLE
    request_id: UInt32
    handle: String


class Data(Message):
    NUMBER = PacketType.DATA
    request_id: UInt32
    data: String


class Name(Message):
    NUMBER = PacketType.NAME
    request_id: UInt32
    entries: NameEntries


class AttrsReply(Message):
    NUMBER = PacketType.ATTRS
    request_id: UInt32
    attrs: Attrs


class ExtendedReply(Message):
    NUMBER = PacketType.EXTENDED_REPLY
    request_id: UInt32
    data: Rest


#: What a server decodes after INIT, and what a client decodes after VERSION.
REQUESTS = MessageTable(
    Open,
    Close,
    Read,
    Write,
    Lstat,
    Fstat,
    Setstat,
    Fsetstat,
    Opendir,
    Readdir,
    Remove,
    Mkdir,
    Rmdir,
    Realpath,
    Stat,
    Rename,
    Readlink,
    Symlink,
    Extended,
)
REPLIES = MessageTable(Status, Handle, Data, Name, AttrsReply, ExtendedReply)


def request_id_of(payload: bytes | bytearray | memoryview) -> int | None:
    """The request id of any packet but INIT/VERSION, or None if too short to have one."""
    if len(payload) < 5:
        return None
    return int(_U32.unpack_from(payload, 1)[0])


# -- OpenSSH extensions (PROTOCOL 4) ---------------------------------------------------------


class ExtensionRequest(Struct):
    """Base of the extension request bodies; ``NAME`` is the request name."""

    __slots__ = ()
    _abstract: ClassVar[bool] = True
    NAME: ClassVar[str]


class PosixRename(ExtensionRequest):
    """posix-rename@openssh.com: rename(2), replacing an existing target. Answer: STATUS."""

    NAME = "posix-rename@openssh.com"
    oldpath: String
    newpath: String


class StatVFS(ExtensionRequest):
    """statvfs@openssh.com. Answer: :class:`StatVFSReply`."""

    NAME = "statvfs@openssh.com"
    path: String


class FStatVFS(ExtensionRequest):
    NAME = "fstatvfs@openssh.com"
    handle: String


class Hardlink(ExtensionRequest):
    """hardlink@openssh.com: link(oldpath, newpath). Answer: STATUS."""

    NAME = "hardlink@openssh.com"
    oldpath: String
    newpath: String


class Fsync(ExtensionRequest):
    NAME = "fsync@openssh.com"
    handle: String


class LSetstat(ExtensionRequest):
    """lsetstat@openssh.com: SETSTAT that does not follow a final symlink."""

    NAME = "lsetstat@openssh.com"
    path: String
    attrs: Attrs


class LimitsRequest(ExtensionRequest):
    """limits@openssh.com. Answer: :class:`LimitsReply`."""

    NAME = "limits@openssh.com"


class ExpandPath(ExtensionRequest):
    """expand-path@openssh.com: REALPATH that also expands a leading ``~``. Answer: NAME."""

    NAME = "expand-path@openssh.com"
    path: String


class CopyData(ExtensionRequest):
    """copy-data: copy a byte range between two open handles on the server (a length of 0
    copies up to EOF). Answer: STATUS."""

    NAME = "copy-data"
    read_handle: String
    read_offset: UInt64
    read_length: UInt64
    write_handle: String
    write_offset: UInt64


class HomeDirectory(ExtensionRequest):
    """home-directory: a user's home directory. Answer: NAME with one entry."""

    NAME = "home-directory"
    username: String


class UsersGroupsById(ExtensionRequest):
    """users-groups-by-id@openssh.com: names for uids and gids, each list packed as
    uint32s inside a string (see :func:`encode_id_list`). Answer: :class:`UsersGroupsReply`."""

    NAME = "users-groups-by-id@openssh.com"
    uids: String
    gids: String


class StatVFSReply(Struct):
    bsize: UInt64
    frsize: UInt64
    blocks: UInt64
    bfree: UInt64
    bavail: UInt64
    files: UInt64
    ffree: UInt64
    favail: UInt64
    fsid: UInt64
    flag: UInt64
    namemax: UInt64


class LimitsReply(Struct):
    """0 in a field means no limit (or unknown)."""

    max_packet_length: UInt64
    max_read_length: UInt64
    max_write_length: UInt64
    max_open_handles: UInt64


class UsersGroupsReply(Struct):
    """Each list is strings packed inside a string (see :func:`encode_name_list`), in the
    order asked; an empty string for an id the server cannot name."""

    usernames: String
    groupnames: String


EXTENSION_REQUESTS: dict[str, type[ExtensionRequest]] = {
    cls.NAME: cls
    for cls in (
        PosixRename,
        StatVFS,
        FStatVFS,
        Hardlink,
        Fsync,
        LSetstat,
        LimitsRequest,
        ExpandPath,
        CopyData,
        HomeDirectory,
        UsersGroupsById,
    )
}

#: The extension pairs OpenSSH's sftp-server sends in VERSION (name, version data).
OPENSSH_EXTENSIONS: tuple[tuple[str, bytes], ...] = (
    ("posix-rename@openssh.com", b"1"),
    ("statvfs@openssh.com", b"2"),
    ("fstatvfs@openssh.com", b"2"),
    ("hardlink@openssh.com", b"1"),
    ("fsync@openssh.com", b"1"),
    ("lsetstat@openssh.com", b"1"),
    ("limits@openssh.com", b"1"),
    ("expand-path@openssh.com", b"1"),
    ("copy-data", b"1"),
    ("home-directory", b"1"),
    ("users-groups-by-id@openssh.com", b"1"),
)


def encode_id_list(ids: tuple[int, ...] | list[int]) -> bytes:
    w = Writer()
    for value in ids:
        w.uint32(value)
    return w.getvalue()


def decode_id_list(data: bytes) -> tuple[int, ...]:
    if len(data) % 4:
        raise DecodeError(f"id list of {len(data)} bytes is not a multiple of 4", field="ids")
    return tuple(v for (v,) in _U32.iter_unpack(data))


def encode_name_list(names: tuple[str, ...] | list[str]) -> bytes:
    w = Writer()
    for name in names:
        w.string(name.encode("utf-8"))
    return w.getvalue()


def decode_name_list(data: bytes) -> tuple[str, ...]:
    r = Reader(data)
    names = []
    while not r.at_end():
        names.append(r.text("name"))
    return tuple(names)


# -- fast paths ------------------------------------------------------------------------------
# Same bytes as the schemas' encode() (packets without the length prefix), same
# DecodeError for what they reject.

_HEAD = struct.Struct(">BII")  # type, request id, length of the first string
_READ_TAIL = struct.Struct(">QI")
_U64 = struct.Struct(">Q")
_STATUS_HEAD = struct.Struct(">BII")  # type, request id, code


def _bad(message: str, reason: str, offset: int) -> DecodeError:
    return DecodeError(reason, offset=offset, message=message)


def encode_read(request_id: int, handle: bytes, offset: int, length: int) -> bytes:
    try:
        return b"".join(
            (
                _HEAD.pack(PacketType.READ, request_id, len(handle)),
                handle,
                _READ_TAIL.pack(offset, length),
            )
        )
    except struct.error as exc:
        raise ValueError(f"Read: {exc}") from None


def decode_read(payload: bytes | bytearray | memoryview) -> tuple[int, bytes, int, int]:
    """(request id, handle, offset, length) of a READ packet."""
    size = len(payload)
    if size < 9:
        raise _bad("Read", "truncated", size)
    kind, request_id, n = _HEAD.unpack_from(payload, 0)
    if kind != PacketType.READ:
        raise _bad("Read", f"message number {kind}, expected {PacketType.READ}", 0)
    if size != 9 + n + 12:
        raise _bad("Read", f"length {size} does not fit a handle of {n} bytes", 5)
    offset, length = _READ_TAIL.unpack_from(payload, 9 + n)
    return request_id, bytes(payload[9 : 9 + n]), offset, length


def encode_write(request_id: int, handle: bytes, offset: int, data: bytes | memoryview) -> bytes:
    try:
        return b"".join(
            (
                _HEAD.pack(PacketType.WRITE, request_id, len(handle)),
                handle,
                _U64.pack(offset),
                _U32.pack(len(data)),
                data,
            )
        )
    except struct.error as exc:
        raise ValueError(f"Write: {exc}") from None


def encode_write_header(request_id: int, handle: bytes, offset: int, length: int) -> bytes:
    """A framed WRITE up to its data: ``encode_write_header(...) + data`` is the same as
    ``frame(encode_write(...))``, without copying the data into the packet."""
    try:
        return b"".join(
            (
                _U32.pack(_HEAD.size + len(handle) + 12 + length),
                _HEAD.pack(PacketType.WRITE, request_id, len(handle)),
                handle,
                _READ_TAIL.pack(offset, length),
            )
        )
    except struct.error as exc:
        raise ValueError(f"Write: {exc}") from None


def decode_write(payload: bytes | bytearray | memoryview) -> tuple[int, bytes, int, bytes]:
    """(request id, handle, offset, data) of a WRITE packet."""
    size = len(payload)
    if size < 9:
        raise _bad("Write", "truncated", size)
    kind, request_id, n = _HEAD.unpack_from(payload, 0)
    if kind != PacketType.WRITE:
        raise _bad("Write", f"message number {kind}, expected {PacketType.WRITE}", 0)
    at = 9 + n
    if size < at + 12:
        raise _bad("Write", f"truncated after a handle of {n} bytes", 5)
    (offset,) = _U64.unpack_from(payload, at)
    (length,) = _U32.unpack_from(payload, at + 8)
    if size != at + 12 + length:
        raise _bad("Write", f"data of {length} bytes in {size - at - 12}", at + 8)
    return request_id, bytes(payload[9:at]), offset, bytes(payload[at + 12 :])


def encode_data(request_id: int, data: bytes | memoryview) -> bytes:
    try:
        return _HEAD.pack(PacketType.DATA, request_id, len(data)) + data
    except struct.error as exc:
        raise ValueError(f"Data: {exc}") from None


def decode_data(payload: bytes | bytearray | memoryview) -> tuple[int, bytes]:
    """(request id, data) of a DATA packet."""
    size = len(payload)
    if size < 9:
        raise _bad("Data", "truncated", size)
    kind, request_id, n = _HEAD.unpack_from(payload, 0)
    if kind != PacketType.DATA:
        raise _bad("Data", f"message number {kind}, expected {PacketType.DATA}", 0)
    if size != 9 + n:
        raise _bad("Data", f"data of {n} bytes in {size - 9}", 5)
    return request_id, bytes(payload[9:])


def encode_status(request_id: int, code: int, message: str = "", language: str = "") -> bytes:
    text = message.encode("utf-8")
    lang = language.encode("utf-8")
    try:
        return b"".join(
            (
                _STATUS_HEAD.pack(PacketType.STATUS, request_id, code),
                _U32.pack(len(text)),
                text,
                _U32.pack(len(lang)),
                lang,
            )
        )
    except struct.error as exc:
        raise ValueError(f"Status: {exc}") from None


def _status_text(payload: bytes | bytearray | memoryview, at: int, field: str) -> tuple[str, int]:
    size = len(payload)
    if size < at + 4:
        raise DecodeError("truncated", field=field, offset=at, message="Status")
    (n,) = _U32.unpack_from(payload, at)
    end = at + 4 + n
    if end > size:
        raise DecodeError(f"truncated: length {n}", field=field, offset=at, message="Status")
    try:
        return str(payload[at + 4 : end], "utf-8"), end
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"invalid UTF-8: {exc.reason}", field=field, offset=at, message="Status"
        ) from None


def decode_status(payload: bytes | bytearray | memoryview) -> tuple[int, int, str, str]:
    """(request id, code, message, language) of a STATUS packet."""
    size = len(payload)
    if size < 9:
        raise _bad("Status", "truncated", size)
    kind, request_id, code = _STATUS_HEAD.unpack_from(payload, 0)
    if kind != PacketType.STATUS:
        raise _bad("Status", f"message number {kind}, expected {PacketType.STATUS}", 0)
    message, at = _status_text(payload, 9, "message")
    language, at = _status_text(payload, at, "language")
    if at != size:
        raise _bad("Status", f"{size - at} trailing bytes", at)
    return request_id, code, message, language
