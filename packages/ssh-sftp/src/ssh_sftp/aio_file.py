"""asyncio remote file objects: :class:`AsyncSFTPFile` (the source of ``sync_file``).

A file keeps its own position, as a local file does; reads and writes larger than one
request go out as many requests in flight. ``readline`` and iteration read ahead into a
buffer, which any seek or write drops.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .attrs import SFTPAttributes
from .errors import SFTPUsageError
from .messages import StatVFSReply
from .numbers import OpenFlag

if TYPE_CHECKING:
    from .aio import AsyncSFTPClient

__all__ = ["AsyncSFTPFile", "open_flags", "MAX_LINE"]

#: Longest line readline() returns whole; a longer one comes back in pieces of this size.
MAX_LINE = 1 << 20

_MODES = {
    "r": OpenFlag.READ,
    "r+": OpenFlag.READ | OpenFlag.WRITE,
    "w": OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
    "w+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
    "a": OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.APPEND,
    "a+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.APPEND,
    "x": OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL,
    "x+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL,
}


def open_flags(mode: str) -> OpenFlag:
    """SFTP open flags for a Python binary file mode (``rb``, ``w``, ``a+``, ...)."""
    key = mode.replace("b", "", 1)
    if "t" in mode or key not in _MODES or mode.count("b") > 1:
        raise ValueError(f"invalid mode {mode!r}: use r, w, a or x, optionally with + and b")
    return _MODES[key]


class AsyncSFTPFile:
    """An open remote file. Use it as an async context manager, or call :meth:`close`."""

    def __init__(
        self, client: AsyncSFTPClient, handle: bytes, path: str, flags: int, position: int = 0
    ) -> None:
        self._client = client
        self.handle = handle
        self.name = path
        self.flags = flags
        self._position = position
        self._buffer = b""  # read ahead: the bytes at [_position, _position + len)
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    def _check(self, flag: OpenFlag) -> None:
        if self.closed:
            raise SFTPUsageError(f"{self.name}: I/O on a closed file")
        if not self.flags & flag:
            raise io.UnsupportedOperation(
                "not readable" if flag is OpenFlag.READ else "not writable"
            )

    def readable(self) -> bool:
        return bool(self.flags & OpenFlag.READ)

    def writable(self) -> bool:
        return bool(self.flags & OpenFlag.WRITE)

    def seekable(self) -> bool:
        return True

    # -- reading ----------------------------------------------------------------------------

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (fewer only at EOF); everything to EOF when negative."""
        self._check(OpenFlag.READ)
        if size == 0:
            return b""
        parts = []
        if self._buffer:
            take = self._buffer if size < 0 else self._buffer[:size]
            self._buffer = self._buffer[len(take) :]
            self._position += len(take)
            parts.append(take)
            if size >= 0:
                size -= len(take)
                if size == 0:
                    return b"".join(parts)
        end = None if size < 0 else self._position + size
        async for at, data in self._client._read_chunks(self.handle, self._position, end):
            parts.append(data)
            self._position = at + len(data)
        return b"".join(parts)

    async def _fill(self) -> bool:
        """Read one request's worth into the buffer; False at EOF."""
        size = self._client.limits.read_size
        at = self._position + len(self._buffer)
        data = await self._client._call(lambda c: c.read(self.handle, at, size))
        if not data:
            return False
        self._buffer += data
        return True

    async def readline(self, size: int = -1) -> bytes:
        """One line with its ``\\n`` (the last may lack it); b"" at EOF."""
        self._check(OpenFlag.READ)
        limit = MAX_LINE if size < 0 else min(size, MAX_LINE)
        while True:
            newline = self._buffer.find(b"\n", 0, limit)
            if newline >= 0:
                cut = newline + 1
                break
            if len(self._buffer) >= limit or not await self._fill():
                cut = min(limit, len(self._buffer))
                break
        line, self._buffer = self._buffer[:cut], self._buffer[cut:]
        self._position += len(line)
        return line

    async def readlines(self) -> list[bytes]:
        lines = []
        while line := await self.readline():
            lines.append(line)
        return lines

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- writing ----------------------------------------------------------------------------

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write all of ``data`` at the position (at the end, in append mode)."""
        self._check(OpenFlag.WRITE)
        self._buffer = b""
        view = memoryview(data).cast("B")
        total = len(view)
        taken = 0

        def source(n: int) -> bytes:
            nonlocal taken
            piece = bytes(view[taken : taken + n])
            taken += len(piece)
            return piece

        self._position = await self._client._write_chunks(self.handle, self._position, source)
        return total

    async def writelines(self, lines: list[bytes]) -> None:
        await self.write(b"".join(lines))

    async def flush(self) -> None:
        """Writes are acknowledged when write() returns: nothing to flush."""

    async def fsync(self) -> None:
        """Ask the server to sync the file to disk (fsync@openssh.com)."""
        await self._client._call(lambda c: c.fsync(self.handle))

    async def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        self._buffer = b""
        await self._client._call(lambda c: c.fsetstat(self.handle, SFTPAttributes(size=size)))
        return size

    # -- position ---------------------------------------------------------------------------

    def tell(self) -> int:
        return self._position

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = (await self.stat()).st_size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._buffer = b""
        self._position = position
        return position

    # -- attributes -------------------------------------------------------------------------

    async def stat(self) -> SFTPAttributes:
        return await self._client._call(lambda c: c.fstat(self.handle))

    async def setstat(self, attrs: SFTPAttributes) -> None:
        await self._client._call(lambda c: c.fsetstat(self.handle, attrs))

    async def chmod(self, mode: int) -> None:
        await self.setstat(SFTPAttributes(permissions=mode & 0o7777))

    async def statvfs(self) -> StatVFSReply:
        return await self._client._call(lambda c: c.fstatvfs(self.handle))

    # -- ending -----------------------------------------------------------------------------

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._buffer = b""
        await self._client._close_handle(self.handle)

    async def __aenter__(self) -> AsyncSFTPFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
