"""A channel as a byte stream: what a jump host's direct-tcpip channel carries (ssh -J),
and what ``ssh -W`` forwards to stdin/stdout. The source of :mod:`._sync_streams`.
"""

from __future__ import annotations

import contextlib

from ssh_wire import SSHError

from ._aio_channels import AsyncSSHChannel

__all__ = ["AsyncChannelStream"]

#: Bytes taken from the channel per read.
READ_SIZE = 256 * 1024


class AsyncChannelStream:
    """The stream surface the transport's pump expects (``read(timeout)``, ``write``,
    ``close``), plus ``write_eof``, over one channel's data. The end of the connection the
    channel runs on reads as the end of this stream, or as an OSError for a write."""

    def __init__(self, channel: AsyncSSHChannel) -> None:
        self.channel = channel

    async def read(self, timeout: float | None = None) -> bytes:
        """Up to 256 KiB as soon as some are there; b"" at EOF; TimeoutError after
        ``timeout``."""
        try:
            return await self.channel.read(READ_SIZE, timeout)
        except TimeoutError:
            raise
        except SSHError as exc:
            raise ConnectionError(f"the channel's connection ended: {exc}") from exc

    async def write(self, data: bytes) -> None:
        try:
            await self.channel.write(data)
        except SSHError as exc:
            raise ConnectionError(f"the channel's connection ended: {exc}") from exc

    async def write_eof(self) -> None:
        try:
            await self.channel.write_eof()
        except SSHError as exc:
            raise ConnectionError(f"the channel's connection ended: {exc}") from exc

    async def close(self) -> None:
        with contextlib.suppress(SSHError):  # the connection under it is gone: so is it
            await self.channel.close()

    async def __aenter__(self) -> AsyncChannelStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
