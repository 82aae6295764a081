"""The client's TCP forwards and the agent relay: ``ssh -L`` (:class:`AsyncLocalForward`),
``ssh -D`` (:class:`AsyncDynamicForward`), ``ssh -R`` (:class:`AsyncRemoteForward`) and the
agent channel relay of ``ssh -A``. The source of :mod:`._sync_forwards`;
:class:`~ssh_connection.aio.AsyncSSHConnection` starts them.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import ssh_transport.aio_backend as backend
from ssh_agent import AgentChannelRelay
from ssh_wire import ChannelOpenFailure

from . import _aio_net as net
from . import events as ev
from . import forwarding as fw
from ._aio_channels import AsyncSSHChannel, pipe
from .errors import ChannelOpenError
from .socks import SocksError, SocksHandshake, reason_for_open_failure

if TYPE_CHECKING:
    from .aio import AsyncSSHConnection

__all__ = ["AsyncLocalForward", "AsyncDynamicForward", "AsyncRemoteForward", "relay_agent"]

#: Bytes read from an agent channel at a time.
_AGENT_READ = 65536
#: Seconds a SOCKS client may take to send its request (ssh -D).
SOCKS_TIMEOUT = 30.0
log = logging.getLogger("ssh_connection")


class AsyncLocalForward:
    """A running ``ssh -L``: close it (or leave the ``async with``) to stop listening."""

    listener: net.Listener
    port: int

    def __init__(self, connection: AsyncSSHConnection, dest_host: str, dest_port: int) -> None:
        self.connection = connection
        self.dest_host, self.dest_port = dest_host, dest_port
        self._closed = False

    async def _serve(self, stream: net.TcpStream, peer: tuple[str, int]) -> None:
        try:
            channel = await self.connection.open_direct_tcpip(
                self.dest_host, self.dest_port, peer[0], peer[1]
            )
        except Exception as exc:
            log.debug("local forward to %s:%d: %s", self.dest_host, self.dest_port, exc)
            await stream.close()
            return
        await pipe(channel, stream)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.listener.close()

    async def __aenter__(self) -> AsyncLocalForward:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def relay_agent(
    channel: AsyncSSHChannel, stream: net.TcpStream, relay: AgentChannelRelay
) -> None:
    """Pass whole agent messages between the server's agent channel and our agent."""
    lock = backend.Lock()  # the relay is shared by the two directions

    async def to_channel() -> None:
        try:
            while not relay.closed:
                data = await stream.read(None)
                async with lock:
                    relay.agent_data(data)
                    out = relay.data_for_channel()
                if out:
                    await channel.write(out)
        except Exception as exc:  # the channel or the agent went away
            log.debug("agent channel %d: %s", channel.id, exc)
        finally:
            await channel.close()

    task = backend.spawn(to_channel)
    try:
        if bind := relay.data_for_agent():
            await stream.write(bind)
        while not relay.closed:
            data = await channel.read(_AGENT_READ)
            async with lock:
                relay.channel_data(data)
                to_agent, to_channel_now = relay.data_for_agent(), relay.data_for_channel()
            if to_agent:
                await stream.write(to_agent)
            if to_channel_now:  # a refusal the relay answered itself
                await channel.write(to_channel_now)
    except Exception as exc:
        log.debug("agent channel %d: %s", channel.id, exc)
    finally:
        await stream.close()
        await backend.join(task)


class AsyncDynamicForward:
    """A running ``ssh -D`` (a SOCKS proxy): close it (or leave the ``async with``)."""

    listener: net.Listener
    port: int

    def __init__(self, connection: AsyncSSHConnection) -> None:
        self.connection = connection
        self._closed = False

    async def _serve(self, stream: net.TcpStream, peer: tuple[str, int]) -> None:
        handshake = SocksHandshake()
        try:
            while handshake.target is None:
                # A client that never finishes its request is dropped (slow-loris).
                data = await stream.read(SOCKS_TIMEOUT)
                if not data:
                    raise SocksError("the SOCKS client went away")
                try:
                    handshake.receive_data(data)
                finally:
                    if out := handshake.data_to_send():
                        await stream.write(out)
        except (SocksError, OSError) as exc:
            log.debug("SOCKS request from %s:%d refused: %s", peer[0], peer[1], exc)
            await stream.close()
            return
        target = handshake.target
        try:
            channel = await self.connection.open_direct_tcpip(
                target.host, target.port, peer[0], peer[1]
            )
        except Exception as exc:
            log.debug("SOCKS forward to %s:%d: %s", target.host, target.port, exc)
            reason = "unreachable"
            if isinstance(exc, ChannelOpenError):
                reason = reason_for_open_failure(exc.reason, exc.description)
            handshake.fail(reason)
            with contextlib.suppress(OSError):
                await stream.write(handshake.data_to_send())
            await stream.close()
            return
        handshake.succeed()
        await stream.write(handshake.data_to_send())
        if handshake.rest:
            await channel.write(handshake.rest)
        await pipe(channel, stream)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.listener.close()

    async def __aenter__(self) -> AsyncDynamicForward:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncRemoteForward:
    """A running ``ssh -R``; ``port`` is where the server listens."""

    def __init__(
        self,
        connection: AsyncSSHConnection,
        listen_host: str,
        port: int,
        dest_host: str,
        dest_port: int,
    ) -> None:
        self.connection = connection
        self.listen_host, self.port = listen_host, port
        self.dest_host, self.dest_port = dest_host, dest_port

    async def _connect(self, event: ev.ChannelOpenRequested) -> None:
        try:
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
        """Ask the server to stop listening (cancel-tcpip-forward)."""
        if self.connection._remote_forwards.pop(self.port, None) is None:
            return
        if self.connection.closed:
            return
        await self.connection.mux.global_request(
            lambda core: core.cancel_tcpip_forward(self.listen_host, self.port),
            fw.CANCEL_TCPIP_FORWARD,
        )

    async def __aenter__(self) -> AsyncRemoteForward:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
