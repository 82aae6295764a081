"""asyncio transfers: get and put with many requests in flight, resume, recursion, glob.

The source of ``sync_transfer``. Local file calls run through ``to_thread`` so a slow disk
never stalls the event loop; progress callbacks run in the caller's task or thread and
should return quickly.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import posixpath
import re
import stat as _stat
from typing import IO, TYPE_CHECKING

from ._aio_backend import to_thread
from .attrs import SFTPAttributes
from .client import encode_path
from .errors import SFTPStatusError, SFTPUsageError
from .numbers import OpenFlag

if TYPE_CHECKING:
    from .aio import AsyncSFTPClient, PathArg, Progress

__all__ = ["get_file", "put_file", "get_tree", "put_tree", "glob"]

log = logging.getLogger("ssh_sftp")
#: Bytes read from or written to a local file per call: each call is a trip to a worker
#: thread under asyncio, and a trip per request costs more than the request.
LOCAL_BLOCK = 4 * 1024 * 1024
_MAGIC = re.compile(r"[*?[]")


def _remote_text(path: PathArg) -> str:
    if isinstance(path, bytes):
        return path.decode("utf-8", "surrogateescape")
    return os.fsdecode(path)


def _report(callback: Progress | None, done: int, total: int) -> None:
    if callback is not None:
        callback(done, total)


def _set_local_times_and_mode(path: str, attrs: SFTPAttributes) -> None:
    if attrs.atime is not None and attrs.mtime is not None:
        os.utime(path, (attrs.atime, attrs.mtime))
    if attrs.permissions is not None:
        os.chmod(path, _stat.S_IMODE(attrs.permissions))


def _local_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _open_local(path: str, mode: str) -> IO[bytes]:
    return open(path, mode)


def _write_parts(out: IO[bytes], parts: list[bytes]) -> None:
    for part in parts:
        out.write(part)


class _ReadAhead:
    """Serves a local file in request-sized views of blocks read ``LOCAL_BLOCK`` at a time."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._view = memoryview(b"")
        self._at = 0

    def refill(self) -> bool:
        self._view = memoryview(self._source.read(LOCAL_BLOCK))
        self._at = 0
        return len(self._view) > 0

    def take(self, size: int) -> memoryview:
        piece = self._view[self._at : self._at + size]
        self._at += len(piece)
        return piece


async def get_file(
    client: AsyncSFTPClient,
    remotepath: PathArg,
    localpath: str | os.PathLike[str] | None,
    callback: Progress | None,
    preserve: bool,
    resume: bool,
) -> None:
    remote = _remote_text(remotepath)
    local = os.fspath(localpath) if localpath is not None else posixpath.basename(remote)
    attrs = await client.stat(remote)
    if attrs.is_dir():
        raise IsADirectoryError(21, "is a directory (use recursive=True)", remote)
    f = await client.open(remote, "r")
    try:
        total = attrs.st_size
        offset = await to_thread(_local_size, local) if resume else 0
        if offset > total:
            raise SFTPUsageError(f"{local}: local file is larger than {remote}: cannot resume")
        out = await to_thread(_open_local, local, "ab" if resume else "wb")
        try:
            done = offset
            _report(callback, done, total)
            parts: list[bytes] = []
            pending = 0
            async for _, data in client._read_chunks(f.handle, offset, size_hint=total):
                parts.append(data)
                pending += len(data)
                if pending >= LOCAL_BLOCK:
                    await to_thread(_write_parts, out, parts)
                    parts, pending = [], 0
                done += len(data)
                _report(callback, done, max(total, done))
            await to_thread(_write_parts, out, parts)
        finally:
            await to_thread(out.close)
    finally:
        await f.close()
    if preserve:
        await to_thread(_set_local_times_and_mode, local, attrs)


async def put_file(
    client: AsyncSFTPClient,
    localpath: str | os.PathLike[str],
    remotepath: PathArg | None,
    callback: Progress | None,
    preserve: bool,
    resume: bool,
) -> None:
    local = os.fspath(localpath)
    remote = _remote_text(remotepath) if remotepath is not None else os.path.basename(local)
    st = await to_thread(os.stat, local)
    if _stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory (use recursive=True)", local)
    total = st.st_size
    offset = 0
    if resume:
        try:
            offset = (await client.stat(remote)).st_size
        except FileNotFoundError:
            offset = 0
        if offset > total:
            raise SFTPUsageError(f"{remote}: remote file is larger than {local}: cannot resume")
    flags = OpenFlag.WRITE | OpenFlag.CREAT | (0 if resume else OpenFlag.TRUNC)
    mode = SFTPAttributes(permissions=_stat.S_IMODE(st.st_mode) & 0o777)
    p = encode_path(remote)
    handle = await client._call(lambda c: c.open(p, flags, mode))
    try:
        source = await to_thread(_open_local, local, "rb")
        try:
            if offset:
                await to_thread(source.seek, offset)
            done = offset
            _report(callback, done, total)

            def sent(n: int) -> None:
                nonlocal done
                done += n
                _report(callback, done, max(total, done))

            ahead = _ReadAhead(source)
            await client._write_chunks(
                handle, offset, ahead.take, refill=ahead.refill, progress=sent
            )
        finally:
            await to_thread(source.close)
        if preserve:
            times = SFTPAttributes(
                permissions=_stat.S_IMODE(st.st_mode),
                atime=int(st.st_atime),
                mtime=int(st.st_mtime),
            )
            await client._call(lambda c: c.fsetstat(handle, times))
    except BaseException:
        await client._close_handle(handle, quiet=True)
        raise
    # A failed CLOSE can mean the data did not make it: report it.
    await client._close_handle(handle)


async def get_tree(
    client: AsyncSFTPClient,
    remotepath: PathArg,
    localpath: str | os.PathLike[str] | None,
    callback: Progress | None,
    preserve: bool,
    resume: bool,
) -> None:
    """Download a directory tree; symlinks and special files are skipped (as sftp does
    without -L)."""
    remote = _remote_text(remotepath).rstrip("/") or "/"
    local = os.fspath(localpath) if localpath is not None else posixpath.basename(remote)
    top = await client.stat(remote)
    if not top.is_dir():
        await get_file(client, remote, local, callback, preserve, resume)
        return
    await to_thread(os.makedirs, local, 0o777, True)
    for entry in await client.scandir(remote):
        source = posixpath.join(remote, entry.filename)
        target = os.path.join(local, entry.filename)
        if entry.attrs.is_dir():
            await get_tree(client, source, target, callback, preserve, resume)
        elif entry.attrs.is_file():
            await get_file(client, source, target, callback, preserve, resume)
        else:
            log.info("get: skipping %s: not a regular file or directory", source)
    if preserve:
        await to_thread(_set_local_times_and_mode, local, top)


async def put_tree(
    client: AsyncSFTPClient,
    localpath: str | os.PathLike[str],
    remotepath: PathArg | None,
    callback: Progress | None,
    preserve: bool,
    resume: bool,
) -> None:
    """Upload a directory tree; symlinks and special files are skipped (as sftp does
    without -L)."""
    local = os.fspath(localpath)
    remote = _remote_text(remotepath) if remotepath is not None else os.path.basename(local)
    st = await to_thread(os.stat, local)
    if not _stat.S_ISDIR(st.st_mode):
        await put_file(client, local, remote, callback, preserve, resume)
        return
    if not await client.isdir(remote):
        await client.mkdir(remote, _stat.S_IMODE(st.st_mode) | 0o700)
    entries = await to_thread(_scan_local, local)
    for name, mode in entries:
        source = os.path.join(local, name)
        target = posixpath.join(remote, name)
        if _stat.S_ISDIR(mode):
            await put_tree(client, source, target, callback, preserve, resume)
        elif _stat.S_ISREG(mode):
            await put_file(client, source, target, callback, preserve, resume)
        else:
            log.info("put: skipping %s: not a regular file or directory", source)
    if preserve:
        await client.setstat(
            remote,
            SFTPAttributes(
                permissions=_stat.S_IMODE(st.st_mode),
                atime=int(st.st_atime),
                mtime=int(st.st_mtime),
            ),
        )


def _scan_local(path: str) -> list[tuple[str, int]]:
    with os.scandir(path) as it:
        return sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in it)


async def glob(client: AsyncSFTPClient, pattern: str) -> list[str]:
    if not pattern:
        return []
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    paths = ["/" if absolute else ""]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        found: list[str] = []
        for base in paths:
            if _MAGIC.search(part) is None:
                found.append(posixpath.join(base, part) if base else part)
                continue
            try:
                names = await client.scandir(base or ".")
            except SFTPStatusError:
                continue  # not a directory, gone, or not ours to list
            for name in names:
                if name.filename.startswith(".") and not part.startswith("."):
                    continue
                if not fnmatch.fnmatchcase(name.filename, part):
                    continue
                if not last and not name.attrs.is_dir() and not name.attrs.is_symlink():
                    continue
                found.append(posixpath.join(base, name.filename) if base else name.filename)
        paths = found
    if not parts:
        return ["/"] if absolute else []
    existing = [p for p in paths if await client._exists_as(p)]
    return sorted(existing)
