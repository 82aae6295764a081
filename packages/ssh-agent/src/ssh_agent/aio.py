"""asyncio driver: :class:`AsyncAgentClient` and :class:`AsyncAgentKey` (an AsyncSigner)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from ssh_keys import (
    KeyFormatError,
    PrivateKey,
    PublicKey,
    PublicKeyLine,
    as_public_key,
    parse_public_key_blob,
)

from .client import (
    AgentClientCore,
    AgentKeyBase,
    PendingReply,
    check_signature_algorithm,
    sign_flags,
)
from .errors import AgentConnectionClosed, AgentError
from .protocol import Constraints, DestinationConstraint, Identity

__all__ = ["AsyncAgentClient", "AsyncAgentKey"]

log = logging.getLogger("ssh_agent")
T = TypeVar("T")


class AsyncAgentKey(AgentKeyBase):
    """A key held by an agent; a :class:`ssh_keys.AsyncSigner`."""

    __slots__ = ()
    _client: AsyncAgentClient

    async def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return await self._client.sign(self, data, algorithm)


class AsyncAgentClient:
    """Talks to an agent over its Unix socket; use :meth:`connect`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._core = AgentClientCore()
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str | os.PathLike[str] | None = None) -> AsyncAgentClient:
        if path is None:
            env = os.environ.get("SSH_AUTH_SOCK")
            if not env:
                raise AgentError("SSH_AUTH_SOCK is not set: no agent to talk to")
            path = env
        try:
            reader, writer = await asyncio.open_unix_connection(os.fspath(path))
        except OSError as exc:
            raise AgentConnectionClosed(f"cannot connect to the agent: {exc}") from exc
        return cls(reader, writer)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> AsyncAgentClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _call(self, make: Callable[[AgentClientCore], PendingReply[T]]) -> T:
        async with self._lock:
            reply = make(self._core)
            try:
                out = self._core.data_to_send()
                if out:
                    self._writer.write(out)
                    await self._writer.drain()
                while not reply.done:
                    self._core.receive_data(await self._reader.read(65536))
            except OSError as exc:
                raise AgentConnectionClosed(f"agent connection failed: {exc}") from exc
            return reply.result()

    async def identities(self) -> list[Identity]:
        return await self._call(lambda c: c.request_identities())

    async def list_identities(self) -> list[AsyncAgentKey]:
        keys = []
        for ident in await self.identities():
            try:
                keys.append(AsyncAgentKey(self, ident, parse_public_key_blob(ident.blob)))
            except KeyFormatError:
                log.debug("skipping an agent identity of an unknown key type")
        return keys

    async def sign(
        self,
        key: AsyncAgentKey | PublicKey | PublicKeyLine,
        data: bytes,
        algorithm: str | None = None,
    ) -> bytes:
        public = key.public_key if isinstance(key, AsyncAgentKey) else as_public_key(key)
        blob = key.blob if isinstance(key, AsyncAgentKey) else public.blob
        algorithm, flags = sign_flags(public, algorithm)
        signature = await self._call(lambda c: c.sign(blob, data, flags))
        check_signature_algorithm(signature, algorithm)
        return signature

    async def add(
        self,
        key: PrivateKey,
        comment: str | None = None,
        *,
        lifetime: int | None = None,
        confirm: bool = False,
        destinations: tuple[DestinationConstraint, ...] = (),
        certificate: bytes | None = None,
    ) -> None:
        constraints = Constraints(lifetime=lifetime, confirm=confirm, destinations=destinations)
        text = key.comment if comment is None else comment
        await self._call(lambda c: c.add_identity(key, text, constraints, certificate=certificate))

    async def remove(
        self, key: AsyncAgentKey | PublicKey | PublicKeyLine | PrivateKey | bytes
    ) -> None:
        if isinstance(key, AsyncAgentKey):
            blob = key.blob
        elif isinstance(key, PrivateKey):
            blob = key.public_key.blob
        elif isinstance(key, bytes):
            blob = key
        else:
            blob = as_public_key(key).blob
        await self._call(lambda c: c.remove_identity(blob))

    async def remove_all(self) -> None:
        await self._call(lambda c: c.remove_all())

    async def lock(self, passphrase: str | bytes) -> None:
        pw = passphrase.encode() if isinstance(passphrase, str) else passphrase
        await self._call(lambda c: c.lock(pw))

    async def unlock(self, passphrase: str | bytes) -> None:
        pw = passphrase.encode() if isinstance(passphrase, str) else passphrase
        await self._call(lambda c: c.unlock(pw))

    async def extensions(self) -> tuple[str, ...]:
        return await self._call(lambda c: c.query_extensions())

    async def extension(self, name: str, contents: bytes = b"") -> bytes | None:
        return await self._call(lambda c: c.extension(name, contents))
