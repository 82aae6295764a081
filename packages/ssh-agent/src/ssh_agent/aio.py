"""asyncio agent client: :class:`AsyncAgentClient` and :class:`AsyncAgentKey` (an
AsyncSigner).

This file is the source of the blocking client too: ``tools/unasync.py`` generates
:mod:`ssh_agent.sync_client` (``AgentClient``, ``AgentKey``) from it.
"""

from __future__ import annotations

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

from ._aio_backend import AsyncAgentStream, Lock, open_agent_stream
from .client import (
    AgentClientCore,
    AgentKeyBase,
    PendingReply,
    check_signature_algorithm,
    sign_flags,
)
from .errors import AgentConnectionClosed, AgentError
from .protocol import Constraints, DestinationConstraint, Identity

__all__ = ["AsyncAgentClient", "AsyncAgentKey", "AsyncAgentStream"]

log = logging.getLogger("ssh_agent")
T = TypeVar("T")


def _auth_sock(path: str | os.PathLike[str] | None) -> str:
    if path is None:
        path = os.environ.get("SSH_AUTH_SOCK")
        if not path:
            raise AgentError("SSH_AUTH_SOCK is not set: no agent to talk to")
    return os.fspath(path)


def _passphrase(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _blob(key: AgentKeyBase | PublicKey | PublicKeyLine | PrivateKey | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, PrivateKey):
        return key.public_key.blob
    if isinstance(key, AgentKeyBase):
        return key.blob
    return as_public_key(key).blob


class AsyncAgentKey(AgentKeyBase):
    """A key held by an agent; a :class:`ssh_keys.AsyncSigner`."""

    __slots__ = ()
    _client: AsyncAgentClient

    async def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return await self._client.sign(self, data, algorithm)


class AsyncAgentClient:
    """Talks to an agent over its Unix socket; use :meth:`connect`. One request at a time
    (a lock), so it may be shared by tasks (threads, for the blocking client)."""

    def __init__(self, stream: AsyncAgentStream) -> None:
        self._stream = stream
        self._core = AgentClientCore()
        self._lock = Lock()

    @classmethod
    async def connect(
        cls, path: str | os.PathLike[str] | None = None, *, timeout: float | None = 30.0
    ) -> AsyncAgentClient:
        """Connect to the agent at ``path`` (default ``$SSH_AUTH_SOCK``)."""
        return cls(await open_agent_stream(_auth_sock(path), timeout))

    async def close(self) -> None:
        await self._stream.close()

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
                    await self._stream.write(out)
                while not reply.done:
                    self._core.receive_data(await self._stream.read())
            except OSError as exc:
                raise AgentConnectionClosed(f"agent connection failed: {exc}") from exc
            return reply.result()

    # -- requests --------------------------------------------------------------------

    async def identities(self) -> list[Identity]:
        """Raw identities (key blob and comment), including key types we cannot parse."""
        return await self._call(lambda c: c.request_identities())

    async def list_identities(self) -> list[AsyncAgentKey]:
        """The agent's keys as signers (identities of unknown key types are left out)."""
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
        """Have the agent sign ``data``; RSA picks SHA-256/512 by ``algorithm``."""
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
        """Add a private key (``comment`` defaults to the key's own)."""
        constraints = Constraints(lifetime=lifetime, confirm=confirm, destinations=destinations)
        text = key.comment if comment is None else comment
        await self._call(lambda c: c.add_identity(key, text, constraints, certificate=certificate))

    async def remove(
        self, key: AsyncAgentKey | PublicKey | PublicKeyLine | PrivateKey | bytes
    ) -> None:
        blob = _blob(key)
        await self._call(lambda c: c.remove_identity(blob))

    async def remove_all(self) -> None:
        await self._call(lambda c: c.remove_all())

    async def lock(self, passphrase: str | bytes) -> None:
        await self._call(lambda c: c.lock(_passphrase(passphrase)))

    async def unlock(self, passphrase: str | bytes) -> None:
        await self._call(lambda c: c.unlock(_passphrase(passphrase)))

    async def extensions(self) -> tuple[str, ...]:
        """Extensions the agent supports (the ``query`` extension); AgentFailure if unknown."""
        return await self._call(lambda c: c.query_extensions())

    async def extension(self, name: str, contents: bytes = b"") -> bytes | None:
        return await self._call(lambda c: c.extension(name, contents))

    async def session_bind(
        self, hostkey: bytes, session_id: bytes, signature: bytes, *, forwarding: bool
    ) -> None:
        """Tell the agent which host this connection authenticated (session-bind@openssh.com):
        destination restrictions are checked against it."""
        await self._call(
            lambda c: c.session_bind(hostkey, session_id, signature, forwarding=forwarding)
        )
