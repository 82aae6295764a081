"""asyncio SFTP client: :class:`AsyncSFTPClient`.

This file is the source of the blocking client too: ``tools/unasync.py`` generates
:mod:`ssh_sftp.sync` (``SFTPClient``) from it.

The client runs over any byte stream: an SSH session channel with the "sftp" subsystem
(:meth:`AsyncSFTPClient.from_connection`), a command's pipes
(:meth:`AsyncSFTPClient.from_command`, e.g. OpenSSH's ``sftp-server``), or a stream you
bring (:meth:`AsyncSFTPClient.from_stream`). There is no background reader: whichever
caller waits for a reply reads the stream (one at a time, under a lock) and hands the
bytes to the core, which completes every reply they answer, so many tasks (threads, for
the blocking client) can share one client and a transfer keeps many requests in flight.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ssh_connection.aio import AsyncSSHChannel, AsyncSSHConnection
from ssh_wire import SSHError

from . import aio_transfer as transfer
from ._aio_backend import (
    AsyncProcessStream,
    AsyncSFTPStream,
    Lock,
    StateLock,
    to_thread,
    wall_clock,
)
from .aio_file import AsyncSFTPFile, open_flags
from .attrs import SFTPAttributes
from .client import PendingReply, SFTPClientCore, TransferLimits, decode_path, encode_path
from .errors import (
    NoSuchFile,
    SFTPConnectionClosed,
    SFTPError,
    SFTPFailure,
    SFTPStatusError,
)
from .messages import StatVFSReply
from .numbers import OpenFlag

__all__ = [
    "AsyncSFTPClient",
    "AsyncSFTPFile",
    "AsyncChannelStream",
    "SFTPName",
    "Progress",
    "PathArg",
]

log = logging.getLogger("ssh_sftp")
T = TypeVar("T")

#: A remote path: str (sent as UTF-8), bytes (sent as is) or an os.PathLike.
PathArg = str | bytes | os.PathLike[str]
#: ``callback(bytes_done, bytes_total)`` during get and put.
Progress = Callable[[int, int], object]

_CHANNEL_READ = 512 * 1024


@dataclass(frozen=True)
class SFTPName:
    """One entry of :meth:`AsyncSFTPClient.scandir`: the name, the server's ``ls -l`` line
    and the attributes (of the entry itself: symlinks are not followed)."""

    filename: str
    longname: str
    attrs: SFTPAttributes


class AsyncChannelStream:
    """An SSH session channel as a byte stream."""

    def __init__(self, channel: AsyncSSHChannel) -> None:
        self.channel = channel

    async def read(self) -> bytes:
        return await self.channel.read(_CHANNEL_READ)

    async def write(self, data: bytes) -> None:
        await self.channel.write(data)

    async def close(self) -> None:
        await self.channel.close()


class AsyncSFTPClient:
    """An SFTP session. Use it as an async context manager, or call :meth:`close`.

    Paths are str (UTF-8 on the wire, undecodable bytes kept by surrogateescape, as
    ``os`` does), bytes, or path-like; relative paths are relative to the server's start
    directory (usually the home directory). Failed requests raise the
    :class:`~ssh_sftp.SFTPStatusError` subclass of their status, which is also the
    matching OSError (``NoSuchFile`` is a ``FileNotFoundError``).
    """

    def __init__(self, stream: AsyncSFTPStream, core: SFTPClientCore) -> None:
        self._stream = stream
        self._core = core
        self._state = StateLock()
        self._read_lock = Lock()
        self._write_lock = Lock()
        self._closed = False

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def from_stream(cls, stream: AsyncSFTPStream, **options: Any) -> AsyncSFTPClient:
        """Start SFTP over ``stream``; ``options`` go to :class:`~ssh_sftp.SFTPClientCore`
        (``max_requests``, ``chunk_size``, ``max_packet``, ``extensions``)."""
        try:
            client = cls(stream, SFTPClientCore(**options))
            await client._call(lambda core: core.start())
        except BaseException:
            await stream.close()
            raise
        return client

    @classmethod
    async def from_connection(
        cls,
        connection: AsyncSSHConnection,
        *,
        subsystem: str = "sftp",
        timeout: float | None = 30.0,
        **options: Any,
    ) -> AsyncSFTPClient:
        """Open a session channel on ``connection`` and start the "sftp" subsystem on it."""
        channel = await connection.open_session(timeout)
        try:
            await channel.subsystem(subsystem)
        except BaseException:
            await channel.close()
            raise
        return await cls.from_stream(AsyncChannelStream(channel), **options)

    @classmethod
    async def from_command(
        cls, argv: Sequence[str | os.PathLike[str]], *, stderr: int | None = None, **options: Any
    ) -> AsyncSFTPClient:
        """Run ``argv`` (an SFTP server speaking on its stdin and stdout, such as
        ``/usr/lib/openssh/sftp-server``) and start SFTP over its pipes."""
        stream = await AsyncProcessStream.spawn(argv, stderr=stderr)
        return await cls.from_stream(stream, **options)

    async def close(self) -> None:
        """End the session: pending requests fail, the stream closes."""
        if self._closed:
            return
        self._closed = True
        with self._state:
            self._core.fail(SFTPConnectionClosed("the SFTP client is closed"))
        try:
            await self._stream.close()
        except (OSError, SSHError) as exc:
            log.debug("closing the SFTP stream: %s", exc)

    async def __aenter__(self) -> AsyncSFTPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the server offers -------------------------------------------------------------

    @property
    def core(self) -> SFTPClientCore:
        return self._core

    @property
    def extensions(self) -> dict[str, bytes]:
        """The extensions the server's VERSION offered (name -> version data)."""
        return dict(self._core.extensions)

    @property
    def limits(self) -> TransferLimits:
        """Read and write sizes and requests in flight (from limits@openssh.com)."""
        return self._core.limits

    @property
    def closed(self) -> bool:
        return self._closed or self._core.error is not None

    # -- the pump ---------------------------------------------------------------------------

    def _begin(self, make: Callable[[SFTPClientCore], PendingReply[T]]) -> PendingReply[T]:
        with self._state:
            return make(self._core)

    def _lost(self, exc: BaseException) -> None:
        error = SFTPConnectionClosed(f"the SFTP stream failed: {exc}")
        error.__cause__ = exc
        with self._state:
            self._core.fail(error)

    async def _flush(self) -> None:
        """Write what the core has queued (in order: taken and written under one lock)."""
        async with self._write_lock:
            with self._state:
                out = self._core.data_to_send()
            if not out:
                return
            try:
                await self._stream.write(out)
            except (OSError, SSHError) as exc:
                self._lost(exc)

    async def _wait(self, reply: PendingReply[T]) -> T:
        """Read the stream until ``reply`` is complete; another waiter's read may do it."""
        while not reply.done:
            async with self._read_lock:
                if reply.done:
                    break
                try:
                    data = await self._stream.read()
                except (OSError, SSHError) as exc:
                    self._lost(exc)
                    break
                with self._state:
                    self._core.receive_data(data)
                    answer = self._core.has_output
            if answer:
                await self._flush()
        return reply.result()

    async def _call(self, make: Callable[[SFTPClientCore], PendingReply[T]]) -> T:
        reply = self._begin(make)
        await self._flush()
        return await self._wait(reply)

    async def _read_chunks(
        self,
        handle: bytes,
        offset: int,
        end: int | None = None,
        size_hint: int | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(offset, data) from ``offset`` to ``end`` (or EOF) in order, with up to
        ``limits.max_requests`` READs in flight. ``size_hint`` (the file's size, if
        known) keeps the pipeline from asking far past the end of a small file."""
        chunk = self._core.limits.read_size
        depth = self._core.limits.max_requests
        queue: deque[tuple[int, int, PendingReply[bytes]]] = deque()
        next_offset = offset
        eof = False
        hint = size_hint
        suspect = 0  # the length of a short read whose refill has not come back yet
        while True:
            issued = False
            with self._state:
                while len(queue) < depth and not eof:
                    if end is not None and next_offset >= end:
                        break
                    # One request past the hinted end confirms EOF (or finds growth).
                    if end is None and hint is not None and next_offset > hint:
                        break
                    size = chunk if end is None else min(chunk, end - next_offset)
                    queue.append((next_offset, size, self._core.read(handle, next_offset, size)))
                    next_offset += size
                    issued = True
            if issued:
                await self._flush()
            if not queue:
                return
            at, size, reply = queue.popleft()
            data = await self._wait(reply)
            if eof:
                continue  # answers past the end, drained
            if not data:
                eof = True
                continue
            yield at, data
            if suspect and len(data) >= suspect:
                # Short, then more: the server caps reads below what it advertised. Ask
                # for no more than it gives from now on, in this session.
                chunk = max(512, min(chunk, suspect))
                self._core.limits.read_size = chunk
            suspect = 0
            if len(data) < size:
                # A short read (or the end of the file): ask for the rest before anything
                # later.
                suspect = len(data)
                rest, missing = at + len(data), size - len(data)
                with self._state:
                    refill = self._core.read(handle, rest, missing)
                queue.appendleft((rest, missing, refill))
                await self._flush()
            elif hint is not None and at + size > hint:
                hint = None  # the file grew: read on to EOF

    async def _write_chunks(
        self,
        handle: bytes,
        offset: int,
        source: Callable[[int], bytes | memoryview],
        *,
        refill: Callable[[], bool] | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """WRITE what ``source(n)`` returns from ``offset``, with up to
        ``limits.max_requests`` in flight, until it returns nothing and ``refill()`` (a
        blocking local read, run off the event loop) gives it no more. Returns the offset
        after the last byte."""
        size = self._core.limits.write_size
        depth = self._core.limits.max_requests
        queue: deque[tuple[int, PendingReply[None]]] = deque()
        position = offset
        exhausted = False
        while True:
            while not exhausted and len(queue) < depth:
                data = source(size)
                if not data:
                    if refill is not None and await to_thread(refill):
                        continue
                    exhausted = True
                    break
                with self._state:
                    queue.append((len(data), self._core.write(handle, position, data)))
                position += len(data)
            await self._flush()
            if not queue:
                return position
            length, reply = queue.popleft()
            await self._wait(reply)
            if progress is not None:
                progress(length)

    # -- files ------------------------------------------------------------------------------

    async def open(
        self,
        path: PathArg,
        mode: str = "r",
        *,
        permissions: int | None = None,
        attrs: SFTPAttributes | None = None,
    ) -> AsyncSFTPFile:
        """Open a remote file in a binary mode like Python's (``r``, ``w``, ``a``, ``x``,
        each with an optional ``+``; ``b`` is allowed and implied). ``permissions`` are
        for a file the open creates (the server applies its umask)."""
        pflags = open_flags(mode)
        p = encode_path(path)
        if attrs is None:
            attrs = SFTPAttributes(permissions=permissions)
        handle = await self._call(lambda c: c.open(p, pflags, attrs))
        position = 0
        if pflags & OpenFlag.APPEND:
            try:
                position = (await self._call(lambda c: c.fstat(handle))).st_size
            except BaseException:
                await self._close_handle(handle, quiet=True)
                raise
        return AsyncSFTPFile(self, handle, decode_path(p), pflags, position)

    async def _close_handle(self, handle: bytes, *, quiet: bool = False) -> None:
        try:
            await self._call(lambda c: c.close(handle))
        except SFTPError:
            if not quiet:
                raise

    # -- directories ------------------------------------------------------------------------

    async def scandir(self, path: PathArg = ".") -> list[SFTPName]:
        """Every entry of a directory but ``.`` and ``..``, with its attributes."""
        p = encode_path(path)
        handle = await self._call(lambda c: c.opendir(p))
        names: list[SFTPName] = []
        try:
            while True:
                entries = await self._call(lambda c: c.readdir(handle))
                if not entries:
                    break
                for entry in entries:
                    if entry.filename in (b".", b".."):
                        continue
                    names.append(
                        SFTPName(
                            decode_path(entry.filename),
                            entry.longname.decode("utf-8", "replace"),
                            entry.attrs,
                        )
                    )
        except BaseException:
            await self._close_handle(handle, quiet=True)
            raise
        await self._close_handle(handle)
        return names

    async def listdir(self, path: PathArg = ".") -> list[str]:
        """The names in a directory (not ``.`` and ``..``), in the server's order."""
        return [name.filename for name in await self.scandir(path)]

    async def walk(self, top: PathArg = ".") -> AsyncIterator[tuple[str, list[str], list[str]]]:
        """(dirpath, dirnames, filenames) for ``top`` and every directory below it, top
        down, like ``os.walk``; symlinks to directories count as files (not followed)."""
        start = decode_path(encode_path(top))
        pending = [start]
        while pending:
            current = pending.pop()
            try:
                names = await self.scandir(current)
            except SFTPStatusError as exc:
                log.debug("walk: cannot list %s: %s", current, exc)
                continue
            dirs = [n.filename for n in names if n.attrs.is_dir()]
            files = [n.filename for n in names if not n.attrs.is_dir()]
            yield current, dirs, files
            pending.extend(posixpath.join(current, d) for d in reversed(dirs))

    async def mkdir(self, path: PathArg, mode: int = 0o777) -> None:
        p = encode_path(path)
        await self._call(lambda c: c.mkdir(p, SFTPAttributes(permissions=mode)))

    async def makedirs(self, path: PathArg, mode: int = 0o777, exist_ok: bool = False) -> None:
        """Make a directory and any missing parents (FileExistsError if it is there
        already, unless ``exist_ok``)."""
        target = decode_path(encode_path(path))
        if await self.isdir(target):
            if exist_ok:
                return
            raise FileExistsError(17, "directory exists", target)
        parent = posixpath.dirname(target.rstrip("/"))
        if parent and parent not in ("/", ".") and not await self.isdir(parent):
            await self.makedirs(parent, mode, exist_ok=True)
        try:
            await self.mkdir(target, mode)
        except SFTPStatusError:
            # Made meanwhile by someone else, or a real failure the stat tells apart.
            if not (exist_ok and await self.isdir(target)):
                raise

    async def rmdir(self, path: PathArg) -> None:
        p = encode_path(path)
        await self._call(lambda c: c.rmdir(p))

    # -- paths ------------------------------------------------------------------------------

    async def stat(self, path: PathArg) -> SFTPAttributes:
        """Attributes, following symlinks."""
        p = encode_path(path)
        return await self._call(lambda c: c.stat(p))

    async def lstat(self, path: PathArg) -> SFTPAttributes:
        """Attributes of the path itself (a symlink is not followed)."""
        p = encode_path(path)
        return await self._call(lambda c: c.lstat(p))

    async def setstat(self, path: PathArg, attrs: SFTPAttributes) -> None:
        p = encode_path(path)
        await self._call(lambda c: c.setstat(p, attrs))

    async def lsetstat(self, path: PathArg, attrs: SFTPAttributes) -> None:
        """SETSTAT without following a final symlink (lsetstat@openssh.com)."""
        p = encode_path(path)
        await self._call(lambda c: c.lsetstat(p, attrs))

    async def exists(self, path: PathArg) -> bool:
        try:
            await self.stat(path)
        except FileNotFoundError:
            return False
        return True

    async def isdir(self, path: PathArg) -> bool:
        try:
            return (await self.stat(path)).is_dir()
        except FileNotFoundError:
            return False

    async def isfile(self, path: PathArg) -> bool:
        try:
            return (await self.stat(path)).is_file()
        except FileNotFoundError:
            return False

    async def chmod(self, path: PathArg, mode: int) -> None:
        await self.setstat(path, SFTPAttributes(permissions=mode & 0o7777))

    async def chown(self, path: PathArg, uid: int, gid: int) -> None:
        await self.setstat(path, SFTPAttributes(uid=uid, gid=gid))

    async def utime(self, path: PathArg, times: tuple[float, float] | None = None) -> None:
        """Set (atime, mtime), whole seconds; now when ``times`` is None."""
        if times is None:
            now = int(wall_clock())
            times = (now, now)
        await self.setstat(path, SFTPAttributes(atime=int(times[0]), mtime=int(times[1])))

    async def truncate(self, path: PathArg, size: int) -> None:
        await self.setstat(path, SFTPAttributes(size=size))

    async def remove(self, path: PathArg) -> None:
        p = encode_path(path)
        await self._call(lambda c: c.remove(p))

    unlink = remove

    async def rename(self, oldpath: PathArg, newpath: PathArg) -> None:
        """Rename; replaces an existing ``newpath`` when the server offers
        posix-rename@openssh.com (as ``os.rename``), else plain RENAME (which OpenSSH
        refuses over an existing file)."""
        old, new = encode_path(oldpath), encode_path(newpath)
        if self._core.has_extension("posix-rename@openssh.com"):
            await self._call(lambda c: c.posix_rename(old, new))
        else:
            await self._call(lambda c: c.rename(old, new))

    async def symlink(self, target: PathArg, link_path: PathArg) -> None:
        """Make ``link_path`` a symlink pointing to ``target`` (as ``os.symlink``)."""
        t, link = encode_path(target), encode_path(link_path)
        await self._call(lambda c: c.symlink(t, link))

    async def hardlink(self, oldpath: PathArg, newpath: PathArg) -> None:
        """A hard link ``newpath`` to ``oldpath`` (hardlink@openssh.com)."""
        old, new = encode_path(oldpath), encode_path(newpath)
        await self._call(lambda c: c.hardlink(old, new))

    link = hardlink

    async def readlink(self, path: PathArg) -> str:
        p = encode_path(path)
        return decode_path(await self._call(lambda c: c.readlink(p)))

    async def realpath(self, path: PathArg = ".") -> str:
        """The absolute, canonical form of ``path``; a leading ``~`` is expanded when the
        server offers expand-path@openssh.com (else ``~`` alone means the start directory)."""
        p = encode_path(path)
        if p == b"~" and not self._core.has_extension("expand-path@openssh.com"):
            p = b"."
        if p[:1] == b"~" and self._core.has_extension("expand-path@openssh.com"):
            return decode_path(await self._call(lambda c: c.expand_path(p)))
        return decode_path(await self._call(lambda c: c.realpath(p)))

    normalize = realpath

    async def home_directory(self, username: str = "") -> str:
        """A user's home directory (home-directory extension); "" for the session's start
        directory (usually our home)."""
        if not username:
            return await self.realpath("~")
        u = username.encode("utf-8")
        return decode_path(await self._call(lambda c: c.home_directory(u)))

    async def statvfs(self, path: PathArg = ".") -> StatVFSReply:
        """Filesystem statistics, as ``os.statvfs`` (statvfs@openssh.com)."""
        p = encode_path(path)
        return await self._call(lambda c: c.statvfs(p))

    async def users_groups_by_id(
        self, uids: Sequence[int] = (), gids: Sequence[int] = ()
    ) -> tuple[list[str], list[str]]:
        """User and group names for ids ("" where the server has none)."""
        users, groups = await self._call(lambda c: c.users_groups_by_id(list(uids), list(gids)))
        return list(users), list(groups)

    async def copy(self, src: PathArg, dst: PathArg, *, overwrite: bool = True) -> None:
        """Copy a file on the server without moving its data over the network
        (copy-data); the copy gets the source's permissions."""
        s, d = encode_path(src), encode_path(dst)
        source = await self._call(lambda c: c.open(s, OpenFlag.READ, SFTPAttributes()))
        try:
            attrs = await self._call(lambda c: c.fstat(source))
            flags = (
                OpenFlag.WRITE | OpenFlag.CREAT | (OpenFlag.TRUNC if overwrite else OpenFlag.EXCL)
            )
            perms = SFTPAttributes(permissions=attrs.st_mode & 0o7777)
            target = await self._call(lambda c: c.open(d, flags, perms))
            try:
                await self._call(lambda c: c.copy_data(source, 0, 0, target, 0))
            finally:
                await self._close_handle(target, quiet=True)
        finally:
            await self._close_handle(source, quiet=True)

    async def extended(self, name: str, data: bytes = b"") -> bytes | None:
        """Send any extended request; its EXTENDED_REPLY data, or None for STATUS OK."""
        return await self._call(lambda c: c.extended(name, data))

    # -- transfers --------------------------------------------------------------------------

    async def get(
        self,
        remotepath: PathArg,
        localpath: str | os.PathLike[str] | None = None,
        *,
        callback: Progress | None = None,
        preserve: bool = False,
        resume: bool = False,
        recursive: bool = False,
    ) -> None:
        """Download a file (``recursive``: a directory tree) with many reads in flight.

        ``localpath`` defaults to the remote name in the current directory; ``preserve``
        copies times and modes; ``resume`` (reget) appends what is missing to a partial
        local file; ``callback(done, total)`` reports progress."""
        if recursive:
            await transfer.get_tree(self, remotepath, localpath, callback, preserve, resume)
        else:
            await transfer.get_file(self, remotepath, localpath, callback, preserve, resume)

    async def put(
        self,
        localpath: str | os.PathLike[str],
        remotepath: PathArg | None = None,
        *,
        callback: Progress | None = None,
        preserve: bool = False,
        resume: bool = False,
        recursive: bool = False,
    ) -> None:
        """Upload a file (``recursive``: a directory tree) with many writes in flight.

        ``remotepath`` defaults to the local name in the server's start directory;
        ``preserve`` copies times and modes; ``resume`` (reput) sends only what a
        partial remote file lacks; ``callback(done, total)`` reports progress."""
        if recursive:
            await transfer.put_tree(self, localpath, remotepath, callback, preserve, resume)
        else:
            await transfer.put_file(self, localpath, remotepath, callback, preserve, resume)

    async def glob(self, pattern: str) -> list[str]:
        """Remote paths matching a shell pattern (``*``, ``?``, ``[...]`` in any
        component), sorted; names starting with a dot match only a pattern that does."""
        return await transfer.glob(self, pattern)

    async def _exists_as(self, path: str) -> bool:
        try:
            await self.lstat(path)
        except (NoSuchFile, SFTPFailure):
            return False
        return True
