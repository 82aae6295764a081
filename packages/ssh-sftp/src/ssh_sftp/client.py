"""The client side of SFTP, sans-I/O.

:meth:`SFTPClientCore.start` queues INIT; every request method queues one packet and
returns a :class:`PendingReply`. Feed the server's bytes to
:meth:`~SFTPClientCore.receive_data` (``b""`` at EOF) and replies complete by request id,
in whatever order the server answers; take :meth:`~SFTPClientCore.data_to_send` and
write it. Drivers (:mod:`ssh_sftp.aio`, :mod:`ssh_sftp.sync`) only move bytes and wait.

Version negotiation: the server's VERSION gives its extensions; when it offers
limits@openssh.com the core asks for them before :meth:`start`'s reply completes, and
sizes reads, writes and requests in flight from the answer.

A reply that breaks the protocol (undecodable, of the wrong type, for no request) ends
the session: every pending reply fails with that :class:`SFTPProtocolError` and further
input is ignored. A STATUS error fails only its own request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Generic, TypeVar

from ssh_wire import DecodeError

from . import messages as m
from .attrs import SFTPAttributes
from .errors import (
    OperationUnsupported,
    SFTPConnectionClosed,
    SFTPError,
    SFTPProtocolError,
    SFTPStatusError,
    SFTPUsageError,
    status_error,
)
from .framing import PacketBuffer
from .numbers import SFTP_VERSION, PacketType, StatusCode

__all__ = [
    "SFTPClientCore",
    "PendingReply",
    "ClientState",
    "TransferLimits",
    "encode_path",
    "decode_path",
]

T = TypeVar("T")
Parse = Callable[[bytes], T]

#: Bytes of a WRITE packet besides its data and handle (type, id, two lengths, offset).
_WRITE_OVERHEAD = 1 + 4 + 4 + 8 + 4
#: Longest handle we accept from a server (OpenSSH's are 4 bytes; the draft says 256).
MAX_HANDLE = 256


class PendingReply(Generic[T]):
    """The answer to one request, once it has arrived.

    The same shape as ssh_agent's ``PendingReply`` (``done``, ``result()``), kept local:
    SFTP replies arrive by request id, carry SFTP's errors, and ssh-sftp does not
    depend on ssh-agent.
    """

    __slots__ = ("_error", "_parse", "_value", "done", "path", "request_id")

    def __init__(self, request_id: int, parse: Parse[T], path: str | None = None) -> None:
        self.request_id = request_id
        self.path = path
        self._parse = parse
        self._value: T | None = None
        self._error: SFTPError | None = None
        self.done = False

    def _resolve(self, payload: bytes) -> None:
        """Parse the reply; a status error stays with this reply, a protocol error raises."""
        try:
            self._value = self._parse(payload)
        except SFTPStatusError as exc:
            if self.path is not None and exc.filename is None:
                exc.filename = self.path
            self._error = exc
        self.done = True

    def _fail(self, error: SFTPError) -> None:
        self.done = True
        self._error = error

    def result(self) -> T:
        """The parsed reply; raises the status error, or why the session ended."""
        if not self.done:
            raise SFTPUsageError("the reply has not arrived yet")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class ClientState(Enum):
    """What the core expects next."""

    IDLE = "idle"  # start() not called
    AWAIT_VERSION = "await-version"
    AWAIT_LIMITS = "await-limits"
    READY = "ready"
    CLOSED = "closed"  # EOF, a protocol error, or the driver's stream failed


class TransferLimits:
    """How large reads and writes may be and how many go out at once."""

    __slots__ = ("max_requests", "open_handles", "read_size", "write_size")

    def __init__(
        self, read_size: int, write_size: int, max_requests: int, open_handles: int = 0
    ) -> None:
        self.read_size = read_size
        self.write_size = write_size
        self.max_requests = max_requests
        self.open_handles = open_handles

    def __repr__(self) -> str:
        return (
            f"TransferLimits(read_size={self.read_size}, write_size={self.write_size}, "
            f"max_requests={self.max_requests}, open_handles={self.open_handles})"
        )


# -- reply parsers ---------------------------------------------------------------------------


def _kind(payload: bytes) -> int:
    return payload[0] if payload else -1


def _raise_status(payload: bytes) -> None:
    """Raise the error of a STATUS reply (which must not be OK)."""
    _, code, message, language = m.decode_status(payload)
    if code == StatusCode.OK:
        return
    raise status_error(code, message, language)


def _unexpected(payload: bytes, wanted: str) -> SFTPProtocolError:
    kind = _kind(payload)
    try:
        name = PacketType(kind).name
    except ValueError:
        name = str(kind)
    return SFTPProtocolError(f"expected {wanted}, got packet type {name}")


def _status_ok(payload: bytes) -> None:
    if _kind(payload) != PacketType.STATUS:
        raise _unexpected(payload, "STATUS")
    _raise_status(payload)


def _handle(payload: bytes) -> bytes:
    if _kind(payload) == PacketType.STATUS:
        _raise_status(payload)
        raise SFTPProtocolError("STATUS OK where a HANDLE was due")
    if _kind(payload) != PacketType.HANDLE:
        raise _unexpected(payload, "HANDLE")
    handle = m.Handle.decode(payload).handle
    if not 0 < len(handle) <= MAX_HANDLE:
        raise SFTPProtocolError(f"a handle of {len(handle)} bytes")
    return handle


def _data(payload: bytes) -> bytes:
    """DATA, or b"" at EOF."""
    if _kind(payload) == PacketType.DATA:
        return m.decode_data(payload)[1]
    if _kind(payload) == PacketType.STATUS:
        _, code, message, language = m.decode_status(payload)
        if code == StatusCode.EOF:
            return b""
        if code == StatusCode.OK:
            raise SFTPProtocolError("STATUS OK where DATA was due")
        raise status_error(code, message, language)
    raise _unexpected(payload, "DATA")


def _attrs(payload: bytes) -> SFTPAttributes:
    if _kind(payload) == PacketType.STATUS:
        _raise_status(payload)
        raise SFTPProtocolError("STATUS OK where ATTRS was due")
    if _kind(payload) != PacketType.ATTRS:
        raise _unexpected(payload, "ATTRS")
    return m.AttrsReply.decode(payload).attrs


def _names(payload: bytes) -> tuple[m.NameEntry, ...]:
    """NAME entries, or () at EOF (READDIR)."""
    if _kind(payload) == PacketType.STATUS:
        _, code, message, language = m.decode_status(payload)
        if code == StatusCode.EOF:
            return ()
        if code == StatusCode.OK:
            raise SFTPProtocolError("STATUS OK where NAME was due")
        raise status_error(code, message, language)
    if _kind(payload) != PacketType.NAME:
        raise _unexpected(payload, "NAME")
    return m.Name.decode(payload).entries


def _one_name(payload: bytes) -> bytes:
    entries = _names(payload)
    if len(entries) != 1:
        raise SFTPProtocolError(f"NAME with {len(entries)} entries where one was due")
    return entries[0].filename


def _extended(payload: bytes) -> bytes:
    if _kind(payload) == PacketType.STATUS:
        _raise_status(payload)
        raise SFTPProtocolError("STATUS OK where EXTENDED_REPLY was due")
    if _kind(payload) != PacketType.EXTENDED_REPLY:
        raise _unexpected(payload, "EXTENDED_REPLY")
    return m.ExtendedReply.decode(payload).data


def _extended_or_ok(payload: bytes) -> bytes | None:
    """A raw extension's answer: its EXTENDED_REPLY data, or None for STATUS OK."""
    if _kind(payload) == PacketType.STATUS:
        _raise_status(payload)
        return None
    return _extended(payload)


def _statvfs(payload: bytes) -> m.StatVFSReply:
    return m.StatVFSReply.decode(_extended(payload))


def _limits(payload: bytes) -> m.LimitsReply:
    return m.LimitsReply.decode(_extended(payload))


def _users_groups(payload: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    reply = m.UsersGroupsReply.decode(_extended(payload))
    return m.decode_name_list(reply.usernames), m.decode_name_list(reply.groupnames)


def encode_path(path: str | bytes | os.PathLike[str]) -> bytes:
    """A path for the wire: bytes as they are, text as UTF-8 (surrogateescape keeps
    undecodable names from ``os.listdir`` intact)."""
    if isinstance(path, bytes):
        return path
    return os.fsdecode(path).encode("utf-8", "surrogateescape")


def decode_path(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


_path_text = decode_path


# -- the core --------------------------------------------------------------------------------


class SFTPClientCore:
    """Builds SFTP requests and matches the server's replies to them.

    ``max_packet`` bounds what the server can make us buffer (one packet);
    ``max_requests`` is how many READ or WRITE requests a transfer keeps in flight,
    ``chunk_size`` (0: from the server's limits, else 32 KiB) how large each is.
    ``extensions`` are (name, data) pairs for our INIT.
    """

    def __init__(
        self,
        *,
        max_packet: int = m.MAX_PACKET_LENGTH,
        max_requests: int = m.DEFAULT_MAX_REQUESTS,
        chunk_size: int = 0,
        extensions: tuple[tuple[str, bytes], ...] = (),
    ) -> None:
        if max_packet < 1024:
            raise ValueError(f"max_packet must be at least 1024, not {max_packet}")
        if max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, not {max_requests}")
        if chunk_size < 0 or chunk_size > m.MAX_DATA_LENGTH:
            raise ValueError(f"chunk_size must be 0 to {m.MAX_DATA_LENGTH}, not {chunk_size}")
        self._packets = PacketBuffer(max_packet)
        self._max_packet = max_packet
        self._wanted_requests = max_requests
        self._wanted_chunk = chunk_size
        self._init_extensions = extensions
        self._out: list[bytes | memoryview] = []  # joined once, in data_to_send
        self._pending: dict[int, PendingReply[object]] = {}
        self._next_id = 0
        self._error: SFTPError | None = None
        self.state = ClientState.IDLE
        self._started: PendingReply[TransferLimits] | None = None
        #: The server's protocol version and extensions (name -> data), after VERSION.
        self.server_version = 0
        self.extensions: Mapping[str, bytes] = {}
        #: The server's limits@openssh.com answer, if it offered the extension.
        self.server_limits: m.LimitsReply | None = None
        #: Largest packet the server accepts (OpenSSH's 256 KiB until it says otherwise).
        self.peer_max_packet = 256 * 1024
        self.limits = self._default_limits()

    # -- byte stream ----------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    @property
    def has_output(self) -> bool:
        """Whether bytes are queued (the core queues requests of its own: limits)."""
        return bool(self._out)

    @property
    def waiting(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._pending)

    @property
    def error(self) -> SFTPError | None:
        """Why the session ended, once it has."""
        return self._error

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the server; ``b""`` means the stream ended."""
        if self._error is not None:
            return
        if not data:
            self.fail(SFTPConnectionClosed("the SFTP server closed the stream"))
            return
        self._packets.feed(data)
        try:
            while (payload := self._packets.next_packet()) is not None:
                self._dispatch(payload)
        except SFTPProtocolError as exc:
            self.fail(exc)
        except DecodeError as exc:
            error = SFTPProtocolError(f"bad packet from the SFTP server: {exc}")
            error.__cause__ = exc
            self.fail(error)

    def fail(self, error: SFTPError) -> None:
        """End the session (the driver's stream failed, or it is closing): every pending
        reply fails with ``error`` and new requests fail at once."""
        if self._error is not None:
            return
        self._error = error
        self.state = ClientState.CLOSED
        pending = list(self._pending.values())
        self._pending.clear()
        if self._started is not None and not self._started.done:
            pending.append(self._started)  # type: ignore[arg-type]
        for reply in pending:
            reply._fail(error)

    def _dispatch(self, payload: bytes) -> None:
        if self.state is ClientState.AWAIT_VERSION:
            self._on_version(payload)
            return
        if self.state is ClientState.IDLE:
            raise SFTPProtocolError("data from the SFTP server before INIT")
        request_id = m.request_id_of(payload)
        if request_id is None:
            raise SFTPProtocolError(f"SFTP packet of {len(payload)} bytes has no request id")
        reply = self._pending.pop(request_id, None)
        if reply is None:
            raise SFTPProtocolError(
                f"reply (type {payload[0]}) to request id {request_id}, which is not pending"
            )
        try:
            reply._resolve(payload)
        except (SFTPProtocolError, DecodeError):
            self._pending[request_id] = reply  # so that fail() reaches it too
            raise

    # -- version negotiation ----------------------------------------------------------------

    def start(self) -> PendingReply[TransferLimits]:
        """Queue INIT; the reply completes with the transfer limits once the server has
        answered VERSION (and limits@openssh.com, when offered)."""
        if self.state is not ClientState.IDLE:
            raise SFTPUsageError("start() was called already")
        self._started = PendingReply(-1, lambda _: self.limits)
        self._out.append(m.frame(m.Init(SFTP_VERSION, self._init_extensions).encode()))
        self.state = ClientState.AWAIT_VERSION
        return self._started

    def _on_version(self, payload: bytes) -> None:
        if payload[:1] != bytes([PacketType.VERSION]):
            raise SFTPProtocolError(f"expected VERSION, got packet type {payload[0]}")
        version = m.Version.decode(payload)
        if version.version < SFTP_VERSION:
            raise SFTPProtocolError(f"the server speaks SFTP version {version.version} only")
        self.server_version = version.version
        self.extensions = dict(version.extensions)
        if m.LimitsRequest.NAME in self.extensions:
            self.state = ClientState.READY
            reply = self.extension_request(m.LimitsRequest(), _limits)
            reply._parse = self._on_limits  # type: ignore[assignment]
            self.state = ClientState.AWAIT_LIMITS
        else:
            self._ready()

    def _on_limits(self, payload: bytes) -> None:
        try:
            self.server_limits = _limits(payload)
        except SFTPStatusError:
            self.server_limits = None  # refused: keep the defaults
        else:
            self._apply_limits(self.server_limits)
        self._ready()

    def _ready(self) -> None:
        self.state = ClientState.READY
        if self._started is not None:
            self._started._resolve(b"")

    def _default_limits(self) -> TransferLimits:
        chunk = self._wanted_chunk or m.DEFAULT_CHUNK_SIZE
        # A DATA packet of `chunk` bytes must fit our own receive limit.
        read = min(chunk, self._max_packet - 9)
        write = min(chunk, self.peer_max_packet - _WRITE_OVERHEAD - MAX_HANDLE)
        return TransferLimits(read, write, self._wanted_requests)

    def _apply_limits(self, limits: m.LimitsReply) -> None:
        if limits.max_packet_length:
            self.peer_max_packet = max(1024, min(limits.max_packet_length, 1 << 30))
        if self._wanted_chunk:
            read = write = self._wanted_chunk
        else:
            read = limits.max_read_length or m.DEFAULT_CHUNK_SIZE
            write = limits.max_write_length or m.DEFAULT_CHUNK_SIZE
        read = max(512, min(read, m.MAX_DATA_LENGTH, self._max_packet - 9))
        write = max(
            512, min(write, m.MAX_DATA_LENGTH, self.peer_max_packet - _WRITE_OVERHEAD - MAX_HANDLE)
        )
        requests = self._wanted_requests
        self.limits = TransferLimits(read, write, requests, limits.max_open_handles)

    # -- sending ----------------------------------------------------------------------------

    def _new_id(self) -> int:
        request_id = self._next_id
        while request_id in self._pending:
            request_id = (request_id + 1) & 0xFFFFFFFF
        self._next_id = (request_id + 1) & 0xFFFFFFFF
        return request_id

    def _queue(
        self, build: Callable[[int], bytes], parse: Parse[T], path: bytes | None = None
    ) -> PendingReply[T]:
        reply = self._reply(parse, path)
        if reply.done:
            return reply
        payload = build(reply.request_id)
        if len(payload) > self.peer_max_packet:
            raise SFTPUsageError(
                f"request of {len(payload)} bytes over the server's limit {self.peer_max_packet}"
            )
        self._out.append(len(payload).to_bytes(4, "big"))
        self._out.append(payload)
        self._pending[reply.request_id] = reply  # type: ignore[assignment]
        return reply

    def _reply(self, parse: Parse[T], path: bytes | None) -> PendingReply[T]:
        """A reply with a fresh request id; failed already if the session has ended."""
        reply: PendingReply[T] = PendingReply(
            self._new_id(), parse, None if path is None else _path_text(path)
        )
        if self._error is not None:
            reply._fail(self._error)
        elif self.state is not ClientState.READY:
            raise SFTPUsageError("the SFTP session is not ready (wait for start()'s reply)")
        return reply

    # -- files ------------------------------------------------------------------------------

    def open(
        self, path: bytes, pflags: int, attrs: SFTPAttributes | None = None
    ) -> PendingReply[bytes]:
        """OPEN: the reply is the handle."""
        a = attrs or SFTPAttributes()
        return self._queue(lambda i: m.Open(i, path, pflags, a).encode(), _handle, path)

    def close(self, handle: bytes) -> PendingReply[None]:
        return self._queue(lambda i: m.Close(i, handle).encode(), _status_ok)

    def read(self, handle: bytes, offset: int, length: int) -> PendingReply[bytes]:
        """READ: the reply is the data, ``b""`` at end of file (it may be shorter)."""
        if not 0 <= length <= self._max_packet - 9:
            raise SFTPUsageError(f"cannot read {length} bytes in one request")
        return self._queue(lambda i: m.encode_read(i, handle, offset, length), _data)

    def write(self, handle: bytes, offset: int, data: bytes | memoryview) -> PendingReply[None]:
        """WRITE; the data is queued as it is, not copied into a packet."""
        length = len(data)
        if length > self.peer_max_packet - _WRITE_OVERHEAD - len(handle):
            raise SFTPUsageError(f"cannot write {length} bytes in one request")
        reply = self._reply(_status_ok, None)
        if reply.done:
            return reply
        self._out.append(m.encode_write_header(reply.request_id, handle, offset, length))
        self._out.append(data)
        self._pending[reply.request_id] = reply  # type: ignore[assignment]
        return reply

    def fstat(self, handle: bytes) -> PendingReply[SFTPAttributes]:
        return self._queue(lambda i: m.Fstat(i, handle).encode(), _attrs)

    def fsetstat(self, handle: bytes, attrs: SFTPAttributes) -> PendingReply[None]:
        return self._queue(lambda i: m.Fsetstat(i, handle, attrs).encode(), _status_ok)

    # -- directories ------------------------------------------------------------------------

    def opendir(self, path: bytes) -> PendingReply[bytes]:
        return self._queue(lambda i: m.Opendir(i, path).encode(), _handle, path)

    def readdir(self, handle: bytes) -> PendingReply[tuple[m.NameEntry, ...]]:
        """READDIR: the next entries, ``()`` at the end."""
        return self._queue(lambda i: m.Readdir(i, handle).encode(), _names)

    def mkdir(self, path: bytes, attrs: SFTPAttributes | None = None) -> PendingReply[None]:
        a = attrs or SFTPAttributes()
        return self._queue(lambda i: m.Mkdir(i, path, a).encode(), _status_ok, path)

    def rmdir(self, path: bytes) -> PendingReply[None]:
        return self._queue(lambda i: m.Rmdir(i, path).encode(), _status_ok, path)

    # -- paths ------------------------------------------------------------------------------

    def stat(self, path: bytes) -> PendingReply[SFTPAttributes]:
        return self._queue(lambda i: m.Stat(i, path).encode(), _attrs, path)

    def lstat(self, path: bytes) -> PendingReply[SFTPAttributes]:
        return self._queue(lambda i: m.Lstat(i, path).encode(), _attrs, path)

    def setstat(self, path: bytes, attrs: SFTPAttributes) -> PendingReply[None]:
        return self._queue(lambda i: m.Setstat(i, path, attrs).encode(), _status_ok, path)

    def remove(self, path: bytes) -> PendingReply[None]:
        return self._queue(lambda i: m.Remove(i, path).encode(), _status_ok, path)

    def rename(self, oldpath: bytes, newpath: bytes) -> PendingReply[None]:
        """RENAME (fails when ``newpath`` exists on OpenSSH); see :meth:`posix_rename`."""
        return self._queue(lambda i: m.Rename(i, oldpath, newpath).encode(), _status_ok, oldpath)

    def realpath(self, path: bytes) -> PendingReply[bytes]:
        return self._queue(lambda i: m.Realpath(i, path).encode(), _one_name, path)

    def readlink(self, path: bytes) -> PendingReply[bytes]:
        return self._queue(lambda i: m.Readlink(i, path).encode(), _one_name, path)

    def symlink(self, target: bytes, link_path: bytes) -> PendingReply[None]:
        """A symlink at ``link_path`` pointing to ``target`` (sent in OpenSSH's order)."""
        return self._queue(
            lambda i: m.Symlink(i, target, link_path).encode(), _status_ok, link_path
        )

    # -- extensions -------------------------------------------------------------------------

    def has_extension(self, name: str) -> bool:
        return name in self.extensions

    def extension_request(
        self, body: m.ExtensionRequest, parse: Parse[T], path: bytes | None = None
    ) -> PendingReply[T]:
        """An OpenSSH extension; OperationUnsupported right away if the server lacks it."""
        if body.NAME not in self.extensions:
            reply: PendingReply[T] = PendingReply(-1, parse)
            reply._fail(OperationUnsupported(f"the server does not offer {body.NAME}"))
            return reply
        data = body.encode()
        return self._queue(lambda i: m.Extended(i, body.NAME, data).encode(), parse, path)

    def extended(self, name: str, data: bytes = b"") -> PendingReply[bytes | None]:
        """Any SSH_FXP_EXTENDED request: the reply is the EXTENDED_REPLY data, or None
        for STATUS OK. Sent even when the server did not advertise ``name``."""
        return self._queue(lambda i: m.Extended(i, name, data).encode(), _extended_or_ok)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> PendingReply[None]:
        return self.extension_request(m.PosixRename(oldpath, newpath), _status_ok, oldpath)

    def statvfs(self, path: bytes) -> PendingReply[m.StatVFSReply]:
        return self.extension_request(m.StatVFS(path), _statvfs, path)

    def fstatvfs(self, handle: bytes) -> PendingReply[m.StatVFSReply]:
        return self.extension_request(m.FStatVFS(handle), _statvfs)

    def hardlink(self, oldpath: bytes, newpath: bytes) -> PendingReply[None]:
        return self.extension_request(m.Hardlink(oldpath, newpath), _status_ok, newpath)

    def fsync(self, handle: bytes) -> PendingReply[None]:
        return self.extension_request(m.Fsync(handle), _status_ok)

    def lsetstat(self, path: bytes, attrs: SFTPAttributes) -> PendingReply[None]:
        return self.extension_request(m.LSetstat(path, attrs), _status_ok, path)

    def expand_path(self, path: bytes) -> PendingReply[bytes]:
        return self.extension_request(m.ExpandPath(path), _one_name, path)

    def copy_data(
        self,
        read_handle: bytes,
        read_offset: int,
        read_length: int,
        write_handle: bytes,
        write_offset: int,
    ) -> PendingReply[None]:
        """Copy ``read_length`` bytes (0: up to EOF) between two handles on the server."""
        body = m.CopyData(read_handle, read_offset, read_length, write_handle, write_offset)
        return self.extension_request(body, _status_ok)

    def home_directory(self, username: bytes) -> PendingReply[bytes]:
        return self.extension_request(m.HomeDirectory(username), _one_name)

    def users_groups_by_id(
        self, uids: list[int], gids: list[int]
    ) -> PendingReply[tuple[tuple[str, ...], tuple[str, ...]]]:
        body = m.UsersGroupsById(m.encode_id_list(uids), m.encode_id_list(gids))
        return self.extension_request(body, _users_groups)

    def request_limits(self) -> PendingReply[m.LimitsReply]:
        return self.extension_request(m.LimitsRequest(), _limits)
