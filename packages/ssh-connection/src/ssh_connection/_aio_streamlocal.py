"""Unix-socket forwarding for the client (OpenSSH's direct-streamlocal and
streamlocal-forward@openssh.com): ``ssh -L /local.sock:/remote.sock`` and
``ssh -R /remote.sock:host:port`` (or ``:/local.sock``). The source of
:mod:`._sync_streamlocal`; :class:`~ssh_connection.aio.AsyncSSHConnection` offers them as
``forward_local_path`` and ``forward_remote_path``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING

from ssh_wire import ChannelOpenFailure

from . import _aio_net as net
from . import events as ev
from . import forwarding as fw
from ._aio_channels import pipe

if TYPE_CHECKING:
    from .aio import AsyncSSHConnection

__all__ = ["AsyncLocalPathForward", "AsyncRemotePathForward"]

log = logging.getLogger("ssh_connection")


class AsyncLocalPathForward:
    """A running ``ssh -L LISTEN_PATH:DEST``: a Unix socket here whose connections go,
    through the server, to its Unix socket ``dest_path`` (or to dest_host:dest_port).
    Closing it stops listening and removes the socket file."""

    listener: net.Listener

    def __init__(
        self,
        connection: AsyncSSHConnection,
        listen_path: str,
        dest_path: str | None,
        dest_host: str | None = None,
        dest_port: int | None = None,
    ) -> None:
        self.connection = connection
        self.listen_path, self.dest_path = listen_path, dest_path
        self.dest_host, self.dest_port = dest_host, dest_port
        self._closed = False

    async def _serve(self, stream: net.TcpStream, peer: tuple[str, int]) -> None:
        try:
            if self.dest_path is not None:
                channel = await self.connection.open_direct_streamlocal(self.dest_path)
            else:
                assert self.dest_host is not None and self.dest_port is not None
                channel = await self.connection.open_direct_tcpip(self.dest_host, self.dest_port)
        except Exception as exc:
            log.debug("local forward from %s: %s", self.listen_path, exc)
            await stream.close()
            return
        await pipe(channel, stream)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.listener.close()
            with contextlib.suppress(OSError):
                os.unlink(self.listen_path)

    async def __aenter__(self) -> AsyncLocalPathForward:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncRemotePathForward:
    """A running ``ssh -R REMOTE_PATH:DEST``: the server listens on its Unix socket
    ``path``; each connection comes back to ``dest_path`` here (or dest_host:dest_port)."""

    def __init__(
        self,
        connection: AsyncSSHConnection,
        path: str,
        dest_path: str | None,
        dest_host: str | None = None,
        dest_port: int | None = None,
    ) -> None:
        self.connection = connection
        self.path, self.dest_path = path, dest_path
        self.dest_host, self.dest_port = dest_host, dest_port

    async def _connect(self, event: ev.ChannelOpenRequested) -> None:
        try:
            if self.dest_path is not None:
                stream = await net.open_unix(self.dest_path)
            else:
                assert self.dest_host is not None and self.dest_port is not None
                stream = await net.open_tcp(self.dest_host, self.dest_port)
        except OSError as exc:
            reason = str(exc)
            await self.connection.transport.call(
                lambda: event.reject(ChannelOpenFailure.CONNECT_FAILED, reason)
            )
            return
        mux = self.connection.mux
        channel = await self.connection.transport.call(lambda: mux.accept(event))
        await pipe(channel, stream)

    async def close(self) -> None:
        """Ask the server to stop listening (cancel-streamlocal-forward@openssh.com)."""
        if self.connection._remote_path_forwards.pop(self.path, None) is None:
            return
        if self.connection.closed:
            return
        await self.connection.mux.global_request(
            lambda core: core.cancel_streamlocal_forward(self.path),
            fw.CANCEL_STREAMLOCAL_FORWARD,
        )

    async def __aenter__(self) -> AsyncRemotePathForward:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_local(forward: AsyncLocalPathForward) -> AsyncLocalPathForward:
    # 0600, as ssh's default StreamLocalBindMask (0177) leaves it.
    sock = net.bind_unix(forward.listen_path, 0o600)
    forward.listener = await net.listen_unix(sock, forward._serve)
    return forward
