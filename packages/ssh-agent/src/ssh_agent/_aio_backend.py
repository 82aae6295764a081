"""The asyncio side of the agent client's backend seam (see :mod:`ssh_agent._sync_backend`).

``aio.py`` is the source of the blocking client (``tools/unasync.py`` generates
``sync_client.py``, swapping this module for ``_sync_backend``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from .errors import AgentConnectionClosed

__all__ = ["Lock", "AsyncAgentStream", "open_agent_stream"]

_READ = 65536

Lock = asyncio.Lock


class AsyncAgentStream:
    """The agent connection: an asyncio (reader, writer) pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        return await self.reader.read(_READ)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_agent_stream(path: str, timeout: float | None) -> AsyncAgentStream:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(os.fspath(path)), timeout
        )
    except (OSError, asyncio.TimeoutError) as exc:
        raise AgentConnectionClosed(f"cannot connect to the agent: {exc}") from exc
    return AsyncAgentStream(reader, writer)
