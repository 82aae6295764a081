"""The SFTP server core: sans-I/O, a byte stream in and out, filesystem calls as pauses.

:class:`SFTPServerCore` takes the client's bytes (``receive_data``, ``b""`` for EOF),
decodes requests, checks them (limits, read-only, allow and deny lists of OpenSSH's request
names) and emits one :class:`FileSystemCall` per request that needs the filesystem. The
application answers each with the :class:`~ssh_sftp.filesystem.FileSystem` method's result
or the OSError it raised (``call.answer(call.run(fs))``, which is all
:func:`answer_inline` does); only then is the reply queued, so nothing is acknowledged
that was not done. Answers may come in any order; replies carry the request id.

Requests in flight are bounded: past ``max_in_flight`` unanswered calls the core stops
decoding and ``wants_data`` turns False, so a driver stops reading and the channel window
(or the pipe) pushes back on the client.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssh_wire import DecodeError, LocalProtocolError, Reader, RemoteProtocolError

from .attrs import SFTPAttributes, longname
from .filesystem import (
    OPEN_APPEND,
    OPEN_CREATE,
    OPEN_TRUNCATE,
    OPEN_WRITE,
    Changes,
    DirEntry,
    FileSystem,
    StatResult,
    VFSStat,
)

__all__ = [
    "SFTPServerCore",
    "FileSystemCall",
    "SessionEnded",
    "answer_inline",
    "REQUEST_NAMES",
    "MAX_REQUEST_LENGTH",
    "MAX_READ_LENGTH",
]

#: As OpenSSH's SFTP_MAX_MSG_LENGTH: a longer request ends the session.
MAX_REQUEST_LENGTH = 256 * 1024
#: Reads are clipped to this, as OpenSSH's server does.
MAX_READ_LENGTH = MAX_REQUEST_LENGTH - 1024

log = logging.getLogger("ssh_sftp")

_INIT, _VERSION = 1, 2
_STATUS, _HANDLE, _DATA, _NAME, _ATTRS = 101, 102, 103, 104, 105
_EXTENDED, _EXTENDED_REPLY = 200, 201

_OK, _EOF, _NO_SUCH_FILE, _PERMISSION_DENIED, _FAILURE, _BAD_MESSAGE = 0, 1, 2, 3, 4, 5
_OP_UNSUPPORTED = 8
_MESSAGES = {
    _OK: "Success",
    _EOF: "End of file",
    _NO_SUCH_FILE: "No such file",
    _PERMISSION_DENIED: "Permission denied",
    _FAILURE: "Failure",
    _BAD_MESSAGE: "Bad message",
    _OP_UNSUPPORTED: "Operation unsupported",
}
_ERRNO_STATUS = {
    errno.ENOENT: _NO_SUCH_FILE,
    errno.ENOTDIR: _NO_SUCH_FILE,
    errno.EBADF: _NO_SUCH_FILE,
    errno.ELOOP: _NO_SUCH_FILE,
    errno.EPERM: _PERMISSION_DENIED,
    errno.EACCES: _PERMISSION_DENIED,
    errno.EFAULT: _PERMISSION_DENIED,
    errno.EROFS: _PERMISSION_DENIED,
    errno.ENAMETOOLONG: _BAD_MESSAGE,
    errno.EINVAL: _BAD_MESSAGE,
    errno.ENOSYS: _OP_UNSUPPORTED,
    errno.EOPNOTSUPP: _OP_UNSUPPORTED,
}

_ATTR_SIZE, _ATTR_UIDGID, _ATTR_PERMISSIONS, _ATTR_ACMODTIME = 0x1, 0x2, 0x4, 0x8
_ATTR_EXTENDED = 0x80000000

# (message type or extension name) -> (request name, writes?) in OpenSSH's order, which is
# also what ``sftp-server -Q requests`` prints and what -p / -P take.
_REQUESTS: tuple[tuple[int | str, str, bool], ...] = (
    (3, "open", False),
    (4, "close", False),
    (5, "read", False),
    (6, "write", True),
    (7, "lstat", False),
    (8, "fstat", False),
    (9, "setstat", True),
    (10, "fsetstat", True),
    (11, "opendir", False),
    (12, "readdir", False),
    (13, "remove", True),
    (14, "mkdir", True),
    (15, "rmdir", True),
    (16, "realpath", False),
    (17, "stat", False),
    (18, "rename", True),
    (19, "readlink", False),
    (20, "symlink", True),
    ("posix-rename@openssh.com", "posix-rename", True),
    ("statvfs@openssh.com", "statvfs", False),
    ("fstatvfs@openssh.com", "fstatvfs", False),
    ("hardlink@openssh.com", "hardlink", True),
    ("fsync@openssh.com", "fsync", True),
    ("lsetstat@openssh.com", "lsetstat", True),
    ("limits@openssh.com", "limits", False),
    ("expand-path@openssh.com", "expand-path", False),
    ("copy-data", "copy-data", True),
    ("home-directory", "home-directory", False),
    ("users-groups-by-id@openssh.com", "users-groups-by-id", False),
)
REQUEST_NAMES: tuple[str, ...] = tuple(name for _, name, _ in _REQUESTS)
_BY_KEY = {key: (name, writes) for key, name, writes in _REQUESTS}
#: What VERSION advertises, as OpenSSH 9's sftp-server.
_ADVERTISED = (
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

_U32 = struct.Struct(">I")
_READ = struct.Struct(">QI")  # READ after the handle: offset, length
_DATA_HEAD = struct.Struct(">BII")

#: Builds a reply from (request id, the filesystem's answer): the packet body, or the
#: body in two pieces (a DATA header and the data, not copied together).
_Build = Callable[[int, object], "bytes | tuple[bytes, bytes]"]


@dataclass(frozen=True, slots=True, eq=False)
class FileSystemCall:
    """A request waiting for the filesystem: call ``method`` of a FileSystem with ``args``
    and :meth:`answer` with its result, or with the OSError it raised (the shape of
    ``ssh_transport.events.Pause``). ``request`` is OpenSSH's name for it ("open", ...);
    ``request_id`` is None for the closes the core issues itself at the end."""

    request_id: int | None
    request: str
    method: str
    args: tuple[Any, ...]
    answer_with: Callable[[object], None] = field(repr=False, compare=False, kw_only=True)

    def answer(self, value: object) -> None:
        """The method's return value, or an OSError; a second answer raises."""
        self.answer_with(value)

    def run(self, fs: FileSystem) -> object:
        """Call the filesystem: its result, or the OSError it raised (as a value)."""
        try:
            return getattr(fs, self.method)(*self.args)
        except OSError as exc:
            return exc
        except (ValueError, OverflowError) as exc:
            # What the os module says of input it cannot take (an offset past 2**63, a
            # NUL): the client's mistake, not a reason to end the session.
            return OSError(errno.EINVAL, str(exc))


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session is over: the client closed its side (``error`` None) or broke the
    protocol. Comes after the closes of the handles still open."""

    error: RemoteProtocolError | None = None


ServerEvent = FileSystemCall | SessionEnded


def answer_inline(core: SFTPServerCore, fs: FileSystem, output_limit: int | None = None) -> bool:
    """Answer pending calls from a synchronous filesystem, in order; True once the
    session has ended. The one code path for stdio and for blocking channels.

    With ``output_limit``, stop early once that many reply bytes wait in
    :meth:`~SFTPServerCore.data_to_send` (calls may remain: see ``pending_events``). A
    driver that sends them and comes back streams replies while later calls run, rather
    than answering a whole window of reads before the client gets the first byte."""
    while (event := core.next_event()) is not None:
        if isinstance(event, SessionEnded):
            return True
        event.answer(event.run(fs))
        if output_limit is not None and core.pending_output >= output_limit:
            return False
    return core.ended


class _Reply:
    """What to send once a call is answered."""

    __slots__ = ("build", "id")

    def __init__(self, request_id: int, build: _Build) -> None:
        self.id = request_id
        self.build = build


class SFTPServerCore:
    """One SFTP session, server side (protocol version 3 with OpenSSH's extensions).

    ``allowed`` / ``denied`` are OpenSSH request names (:data:`REQUEST_NAMES`); a request
    refused by them, or one that writes under ``read_only``, gets PERMISSION_DENIED, as
    sftp-server's ``-p``, ``-P`` and ``-R``. ``clock`` gives the time for ``ls -l`` long
    names (recent files show hours, older ones the year); drivers pass ``time.time``."""

    def __init__(
        self,
        *,
        max_request_length: int = MAX_REQUEST_LENGTH,
        max_handles: int = 1024,
        max_in_flight: int = 128,
        read_only: bool = False,
        allowed: Iterable[str] | None = None,
        denied: Iterable[str] = (),
        clock: Callable[[], float] | None = None,
    ) -> None:
        names = set(REQUEST_NAMES)
        for given in [*(allowed or ()), *denied]:
            if given not in names:
                raise ValueError(f"unknown SFTP request name: {given!r}")
        self.max_request_length = max_request_length
        self.max_handles = max_handles
        self.max_in_flight = max_in_flight
        self.read_only = read_only
        self.allowed = None if allowed is None else frozenset(allowed)
        self.denied = frozenset(denied)
        self._clock = clock or (lambda: 0.0)
        self._inbox = bytearray()
        # Replies as pieces, joined once in data_to_send: a DATA reply's payload is
        # copied once on its way out, not once per layer.
        self._outbox: list[bytes] = []
        self._outbox_size = 0
        self._events: deque[ServerEvent] = deque()
        self._handles: dict[bytes, tuple[str, Any]] = {}
        self._next_handle = 0
        self._opening = 0
        self._in_flight = 0
        self._initialized = False
        self._eof = False
        #: True once the client closed its side or broke the protocol: no more decoding.
        self.ended = False
        self._end_reported = False
        self._error: RemoteProtocolError | None = None
        #: The client's version from INIT, once received.
        self.client_version: int | None = None

    # -- the byte-stream surface --------------------------------------------------------

    @property
    def wants_data(self) -> bool:
        """False while the in-flight limit holds requests back (stop reading)."""
        return not self._eof and self._in_flight < self.max_in_flight

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            if data:
                raise LocalProtocolError("data after EOF")
            return
        if not data:
            self._eof = True
        else:
            self._inbox += data
        self._pump()

    def data_to_send(self) -> bytes:
        out = b"".join(self._outbox)
        self._outbox.clear()
        self._outbox_size = 0
        return out

    @property
    def pending_output(self) -> int:
        """How many bytes :meth:`data_to_send` would return now."""
        return self._outbox_size

    @property
    def pending_events(self) -> int:
        """How many events :meth:`next_event` has queued."""
        return len(self._events)

    def next_event(self) -> ServerEvent | None:
        return self._events.popleft() if self._events else None

    @property
    def error(self) -> RemoteProtocolError | None:
        """Why the session ended, when the client broke the protocol."""
        return self._error

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    # -- decoding -----------------------------------------------------------------------

    def _pump(self) -> None:
        inbox = self._inbox
        # Walk the buffer and cut what was used once at the end: deleting each request
        # as it was taken moved the rest of a 1 MiB read down once per WRITE in it.
        pos, size = 0, len(inbox)
        try:
            while not self.ended and self._in_flight < self.max_in_flight and size - pos >= 4:
                (length,) = _U32.unpack_from(inbox, pos)
                if length < 1 or length > self.max_request_length:
                    self._fail(f"request length {length} outside 1..{self.max_request_length}")
                    return
                if size - pos < 4 + length:
                    break
                packet = inbox[pos + 4 : pos + 4 + length]  # one copy, the request's own
                pos += 4 + length
                try:
                    self._dispatch(packet)
                except DecodeError as exc:
                    self._fail(f"malformed request: {exc}", exc)
                    return
        finally:
            del inbox[:pos]  # (already empty if the session ended)
        if self._eof and not self.ended and len(inbox) < 4 + _peek_length(inbox):
            self._finish(None)  # the rest, if any, is a request cut short

    def _fail(self, why: str, cause: Exception | None = None) -> None:
        error = RemoteProtocolError(why)
        error.__cause__ = cause
        self._finish(error)

    def _finish(self, error: RemoteProtocolError | None) -> None:
        if not self.ended:
            self.ended = True
            self._error = error
            if error is not None:
                log.error("session ended: %s", error)
            self._inbox.clear()
        self._maybe_end()

    def _maybe_end(self) -> None:
        """Once ended and nothing is in flight: close what is still open, then report."""
        if not self.ended or self._in_flight or self._end_reported:
            return
        self._end_reported = True
        for handle, (_, backend) in list(self._handles.items()):
            del self._handles[handle]
            self._events.append(
                FileSystemCall(None, "close", "close", (backend,), answer_with=_ignore)
            )
        self._events.append(SessionEnded(self._error))

    def _dispatch(self, packet: bytes | bytearray) -> None:
        kind = packet[0]
        reader = Reader(memoryview(packet)[1:])
        if not self._initialized:
            if kind != _INIT:
                raise DecodeError(f"request {kind} before INIT", field="type", offset=0)
            self.client_version = reader.uint32("version")
            self._initialized = True
            self._send_version()
            return
        if kind == _INIT:
            raise DecodeError("a second INIT", field="type", offset=0)
        request_id = reader.uint32("id")
        key: int | str = kind
        if kind == _EXTENDED:
            key = reader.text("extended-request", max_length=256)
        entry = _BY_KEY.get(key)
        if entry is None:
            self._status(request_id, _OP_UNSUPPORTED, f"unsupported request {key!r}")
            return
        name, writes = entry
        if not self._permitted(name, writes):
            log.info("refused %s request %d", name, request_id)
            self._status(request_id, _PERMISSION_DENIED)
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request %d: %s", request_id, name)
        getattr(self, "_r_" + name.replace("-", "_"))(request_id, reader)

    def _permitted(self, name: str, writes: bool) -> bool:
        if self.allowed is not None and name not in self.allowed:
            return False
        return name not in self.denied and not (writes and self.read_only)

    # -- replies ------------------------------------------------------------------------

    def _packet(self, body: bytes, tail: bytes = b"") -> None:
        size = len(body) + len(tail)
        self._outbox += (_U32.pack(size), body, tail)
        self._outbox_size += 4 + size

    def _send_version(self) -> None:
        body = bytearray(bytes([_VERSION]) + _U32.pack(3))
        for name, data in _ADVERTISED:
            body += _string(name.encode()) + _string(data)
        self._packet(bytes(body))

    def _status(self, request_id: int, code: int, message: str | None = None) -> None:
        text = (message or _MESSAGES.get(code, "Failure")).encode("utf-8", "replace")
        self._packet(bytes([_STATUS]) + _U32.pack(request_id) + _U32.pack(code)
                     + _string(text) + _string(b""))  # fmt: skip

    def _call(
        self,
        request_id: int,
        name: str,
        method: str,
        args: tuple[Any, ...],
        build: _Build | None = None,
    ) -> None:
        reply = _Reply(request_id, build or _ok_status)
        answered = False

        def answer(value: object) -> None:
            nonlocal answered
            if answered:
                raise LocalProtocolError(f"{name} request {request_id} answered twice")
            answered = True
            self._in_flight -= 1
            self._answered(reply, name, value)
            self._pump()
            self._maybe_end()

        self._in_flight += 1
        self._events.append(FileSystemCall(request_id, name, method, args, answer_with=answer))

    def _answered(self, reply: _Reply, name: str, value: object) -> None:
        if name == "open" or name == "opendir":
            self._opening -= 1
        if isinstance(value, BaseException):
            if isinstance(value, OSError):
                code = _ERRNO_STATUS.get(value.errno or 0, _FAILURE)
                self._status(reply.id, code, value.strerror or None)
            else:
                self._status(reply.id, _FAILURE)
            return
        try:
            body = reply.build(reply.id, value)
        except (TypeError, ValueError, struct.error) as exc:
            raise LocalProtocolError(f"bad answer to {name}: {value!r}") from exc
        if isinstance(body, tuple):
            self._packet(*body)
        elif body:
            self._packet(body)

    def _handle_reply(self, kind: str) -> _Build:
        def build(request_id: int, backend: object) -> bytes:
            self._next_handle += 1
            handle = _U32.pack(self._next_handle & 0xFFFFFFFF)
            self._handles[handle] = (kind, backend)
            return bytes([_HANDLE]) + _U32.pack(request_id) + _string(handle)

        return build

    def _readdir_reply(self, request_id: int, value: object) -> bytes:
        entries: Sequence[DirEntry] = value  # type: ignore[assignment]
        if not entries:
            return _status_body(request_id, _EOF)
        now = self._clock()
        out = bytearray(bytes([_NAME]) + _U32.pack(request_id) + _U32.pack(len(entries)))
        for entry in entries:
            out += _string(entry.name) + _string(_longname(entry, now)) + _attrs(entry.attrs)
        return bytes(out)

    # -- handles ------------------------------------------------------------------------

    def _handle(self, reader: Reader, kind: str) -> Any:
        handle = reader.string("handle", max_length=256)
        found = self._handles.get(handle)
        if found is None or found[0] != kind:
            return None
        return found[1]

    def _bad_handle(self, request_id: int) -> None:
        self._status(request_id, _FAILURE, "invalid handle")

    # -- requests (one method per OpenSSH request name) ----------------------------------

    def _r_open(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        flags = reader.uint32("pflags")
        changes = _read_attrs(reader)
        reader.expect_end()
        writes = OPEN_WRITE | OPEN_APPEND | OPEN_CREATE | OPEN_TRUNCATE
        if self.read_only and flags & writes:
            self._status(request_id, _PERMISSION_DENIED)
            return
        self._open(request_id, "open", "open", (path, flags, changes.mode), "file")

    def _open(
        self, request_id: int, name: str, method: str, args: tuple[Any, ...], kind: str
    ) -> None:
        if len(self._handles) + self._opening >= self.max_handles:
            self._status(request_id, _FAILURE, "too many open handles")
            return
        self._opening += 1
        self._call(request_id, name, method, args, self._handle_reply(kind))

    def _r_opendir(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        reader.expect_end()
        self._open(request_id, "opendir", "opendir", (path,), "dir")

    def _r_close(self, request_id: int, reader: Reader) -> None:
        handle = reader.string("handle", max_length=256)
        reader.expect_end()
        found = self._handles.pop(handle, None)
        if found is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, "close", "close", (found[1],))

    def _r_read(self, request_id: int, reader: Reader) -> None:
        backend = self._handle(reader, "file")
        offset, length = _READ.unpack(reader.raw(12, "offset/length"))
        reader.expect_end()
        if backend is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, "read", "read", (backend, offset, min(length, MAX_READ_LENGTH)),
                   _data_reply)  # fmt: skip

    def _r_write(self, request_id: int, reader: Reader) -> None:
        backend = self._handle(reader, "file")
        offset = reader.uint64("offset")
        data = reader.string("data")
        reader.expect_end()
        if backend is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, "write", "write", (backend, offset, data))

    def _path_call(self, request_id: int, reader: Reader, name: str, method: str,
                   build: _Build | None = None) -> None:  # fmt: skip
        path = _path(reader)
        reader.expect_end()
        self._call(request_id, name, method, (path,), build)

    def _r_lstat(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "lstat", "lstat", _attrs_reply)

    def _r_stat(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        if reader.remaining >= 4:  # later versions' flags: tolerated, as OpenSSH
            reader.uint32("flags")
        reader.expect_end()
        self._call(request_id, "stat", "stat", (path,), _attrs_reply)

    def _handle_call(self, request_id: int, reader: Reader, name: str,
                     build: _Build | None = None) -> None:  # fmt: skip
        backend = self._handle(reader, "file")
        reader.expect_end()
        if backend is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, name, name, (backend,), build)

    def _r_fstat(self, request_id: int, reader: Reader) -> None:
        self._handle_call(request_id, reader, "fstat", _attrs_reply)

    def _r_setstat(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        changes = _read_attrs(reader)
        reader.expect_end()
        self._call(request_id, "setstat", "setstat", (path, changes))

    def _r_lsetstat(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        changes = _read_attrs(reader)
        reader.expect_end()
        self._call(request_id, "lsetstat", "lsetstat", (path, changes))

    def _r_fsetstat(self, request_id: int, reader: Reader) -> None:
        backend = self._handle(reader, "file")
        changes = _read_attrs(reader)
        reader.expect_end()
        if backend is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, "fsetstat", "fsetstat", (backend, changes))

    def _r_readdir(self, request_id: int, reader: Reader) -> None:
        backend = self._handle(reader, "dir")
        reader.expect_end()
        if backend is None:
            self._bad_handle(request_id)
            return
        self._call(request_id, "readdir", "readdir", (backend,), self._readdir_reply)

    def _r_remove(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "remove", "remove")

    def _r_mkdir(self, request_id: int, reader: Reader) -> None:
        path = _path(reader)
        changes = _read_attrs(reader)
        reader.expect_end()
        mode = 0o777 if changes.mode is None else changes.mode
        self._call(request_id, "mkdir", "mkdir", (path, mode))

    def _r_rmdir(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "rmdir", "rmdir")

    def _r_realpath(self, request_id: int, reader: Reader) -> None:
        path = _path(reader) or b"."
        reader.expect_end()
        self._call(request_id, "realpath", "realpath", (path,), _name_reply)

    def _r_readlink(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "readlink", "readlink", _name_reply)

    def _two_paths(self, request_id: int, reader: Reader, name: str, method: str,
                   **options: Any) -> None:  # fmt: skip
        first, second = _path(reader), _path(reader)
        reader.expect_end()
        self._call(request_id, name, method, (first, second, *options.values()))

    def _r_rename(self, request_id: int, reader: Reader) -> None:
        self._two_paths(request_id, reader, "rename", "rename", overwrite=False)

    def _r_posix_rename(self, request_id: int, reader: Reader) -> None:
        self._two_paths(request_id, reader, "posix-rename", "rename", overwrite=True)

    def _r_symlink(self, request_id: int, reader: Reader) -> None:
        # OpenSSH's order (its PROTOCOL file): target first, then the link's path.
        self._two_paths(request_id, reader, "symlink", "symlink")

    def _r_hardlink(self, request_id: int, reader: Reader) -> None:
        self._two_paths(request_id, reader, "hardlink", "hardlink")

    def _r_statvfs(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "statvfs", "statvfs", _statvfs_reply)

    def _r_fstatvfs(self, request_id: int, reader: Reader) -> None:
        self._handle_call(request_id, reader, "fstatvfs", _statvfs_reply)

    def _r_fsync(self, request_id: int, reader: Reader) -> None:
        self._handle_call(request_id, reader, "fsync")

    def _r_limits(self, request_id: int, reader: Reader) -> None:
        reader.expect_end()
        body = (
            bytes([_EXTENDED_REPLY])
            + _U32.pack(request_id)
            + struct.pack(
                ">QQQQ", self.max_request_length, MAX_READ_LENGTH, MAX_READ_LENGTH, self.max_handles
            )
        )
        self._packet(body)

    def _r_expand_path(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "expand-path", "expand_path", _name_reply)

    def _r_home_directory(self, request_id: int, reader: Reader) -> None:
        self._path_call(request_id, reader, "home-directory", "home_directory", _name_reply)

    def _r_copy_data(self, request_id: int, reader: Reader) -> None:
        source = self._handle(reader, "file")
        offset, length = reader.uint64("read-offset"), reader.uint64("read-length")
        target = self._handle(reader, "file")
        target_offset = reader.uint64("write-offset")
        reader.expect_end()
        if source is None or target is None:
            self._bad_handle(request_id)
            return
        if source is target and (
            length == 0 or (offset < target_offset + length and target_offset < offset + length)
        ):
            self._status(request_id, _FAILURE, "overlapping copy")
            return
        self._call(request_id, "copy-data", "copy_data",
                   (source, offset, length, target, target_offset))  # fmt: skip

    def _r_users_groups_by_id(self, request_id: int, reader: Reader) -> None:
        uids, gids = _ids(reader.string("uids")), _ids(reader.string("gids"))
        reader.expect_end()
        self._call(request_id, "users-groups-by-id", "users_groups_by_id", (uids, gids),
                   _names_reply)  # fmt: skip


def _longname(entry: DirEntry, now: float) -> bytes:
    info = entry.attrs
    attrs = SFTPAttributes(size=info.st_size, uid=info.st_uid, gid=info.st_gid,
                           permissions=info.st_mode, mtime=int(info.st_mtime))  # fmt: skip
    line = longname(
        os.fsdecode(entry.name), attrs, now=now, nlink=info.st_nlink,
        user=os.fsdecode(entry.owner) if entry.owner else None,
        group=os.fsdecode(entry.group) if entry.group else None,
    )  # fmt: skip
    return os.fsencode(line)


def _ignore(value: object) -> None:
    pass


def _peek_length(inbox: bytearray) -> int:
    return _U32.unpack_from(inbox)[0] if len(inbox) >= 4 else 0


def _string(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def _path(reader: Reader) -> bytes:
    return reader.string("path", max_length=MAX_REQUEST_LENGTH)


def _ids(data: bytes) -> list[int]:
    if len(data) % 4:
        raise DecodeError("id list not a multiple of 4 bytes", field="ids")
    return [value for (value,) in struct.iter_unpack(">I", data)]


def _read_attrs(reader: Reader) -> Changes:
    flags = reader.uint32("attr-flags")
    size = uid = gid = mode = atime = mtime = None
    if flags & _ATTR_SIZE:
        size = reader.uint64("size")
    if flags & _ATTR_UIDGID:
        uid, gid = reader.uint32("uid"), reader.uint32("gid")
    if flags & _ATTR_PERMISSIONS:
        mode = reader.uint32("permissions") & 0o7777
    if flags & _ATTR_ACMODTIME:
        atime, mtime = reader.uint32("atime"), reader.uint32("mtime")
    if flags & _ATTR_EXTENDED:
        for _ in range(reader.uint32("extended-count")):
            reader.string("extended-type")
            reader.string("extended-data")
    return Changes(size, uid, gid, mode, atime, mtime)


def _attrs(info: StatResult) -> bytes:
    return struct.pack(
        ">IQIIIII",
        _ATTR_SIZE | _ATTR_UIDGID | _ATTR_PERMISSIONS | _ATTR_ACMODTIME,
        max(info.st_size, 0),
        info.st_uid & 0xFFFFFFFF,
        info.st_gid & 0xFFFFFFFF,
        info.st_mode & 0xFFFFFFFF,
        int(info.st_atime) & 0xFFFFFFFF,
        int(info.st_mtime) & 0xFFFFFFFF,
    )


def _status_body(request_id: int, code: int) -> bytes:
    text = _MESSAGES[code].encode()
    return bytes([_STATUS]) + _U32.pack(request_id) + _U32.pack(code) + _string(text) + _string(b"")


def _ok_status(request_id: int, value: object) -> bytes:
    return _status_body(request_id, _OK)


def _data_reply(request_id: int, value: object) -> tuple[bytes, bytes] | bytes:
    data: bytes = value  # type: ignore[assignment]
    if not data:
        return _status_body(request_id, _EOF)
    return _DATA_HEAD.pack(_DATA, request_id, len(data)), data


def _attrs_reply(request_id: int, value: object) -> bytes:
    return bytes([_ATTRS]) + _U32.pack(request_id) + _attrs(value)  # type: ignore[arg-type]


def _name_reply(request_id: int, value: object) -> bytes:
    path: bytes = value  # type: ignore[assignment]
    # As OpenSSH: one name, the path as its own long name, no attributes.
    return (bytes([_NAME]) + _U32.pack(request_id) + _U32.pack(1) + _string(path)
            + _string(path) + _U32.pack(0))  # fmt: skip


def _statvfs_reply(request_id: int, value: object) -> bytes:
    v: VFSStat = value  # type: ignore[assignment]
    fields = (v.bsize, v.frsize, v.blocks, v.bfree, v.bavail, v.files, v.ffree, v.favail,
              v.fsid, v.flag, v.namemax)  # fmt: skip
    return bytes([_EXTENDED_REPLY]) + _U32.pack(request_id) + struct.pack(">11Q", *fields)


def _names_reply(request_id: int, value: object) -> bytes:
    users: Sequence[bytes]
    groups: Sequence[bytes]
    users, groups = value  # type: ignore[misc]
    packed_users = b"".join(_string(name) for name in users)
    packed_groups = b"".join(_string(name) for name in groups)
    return (bytes([_EXTENDED_REPLY]) + _U32.pack(request_id) + _string(packed_users)
            + _string(packed_groups))  # fmt: skip
