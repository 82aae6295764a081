"""sshd-py's asyncio driver: an :class:`~ssh_connection.aio_server.AsyncSSHServer` set up
from an effective sshd_config, serving listening sockets (``-D`` and daemon mode) or one
connection on stdin/stdout (``-i``), with sshd's connection log lines (the server counts
MaxStartups).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import socket
import stat
import sys
from collections.abc import Awaitable, Callable, Sequence

from ssh_auth import BasePolicy, UserAuthenticated
from ssh_transport import HostKey
from ssh_transport.aio_backend import AsyncStream

from . import _aio_net as net
from .aio_process import AsyncProcessHandler
from .aio_server import AsyncServerSession, AsyncSessionHandler, AsyncSSHServer
from .errors import ExitSignal
from .sshd_chroot import chroot_problem, start_directory
from .sshd_config import SshdConfig, SshdSettings
from .sshd_log import VERBOSE, log
from .sshd_policy import Peer, SshdPolicy, log_authenticated
from .sshd_settings import connection_settings, server_options, transport_config

__all__ = ["SshdServer", "SFTP_SERVER", "SUBSYSTEM_ENTRY_POINTS", "stdio_stream"]

#: OpenSSH's sftp-server: internal-sftp's fallback until ssh-sftp is installed.
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
#: Entry point group where packages offer subsystems (ssh-sftp registers "sftp"): each
#: entry point loads an AsyncSessionHandler, ``async (AsyncServerSession) -> exit status``.
SUBSYSTEM_ENTRY_POINTS = "ssh_connection.subsystems"


def _login_shell() -> str:
    shell = pwd.getpwuid(os.getuid()).pw_shell
    return shell if shell and os.path.isabs(shell) else "/bin/sh"


def _entry_point_subsystem(name: str) -> AsyncSessionHandler | None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=SUBSYSTEM_ENTRY_POINTS):
        if entry.name == name:
            try:
                handler: AsyncSessionHandler = entry.load()
            except Exception as exc:
                log.error("subsystem entry point %s failed to load: %s", entry.value, exc)
                return None
            return handler
    return None


class Chroots:
    """Each authenticated connection's effective settings, so that its sessions find
    their ChrootDirectory (Match blocks may set it per user, address or port)."""

    def __init__(self) -> None:
        self._settings: dict[int, SshdSettings] = {}

    def remember(self, auth: UserAuthenticated, settings: SshdSettings) -> None:
        self._settings[id(auth)] = settings

    def forget(self, auth: UserAuthenticated) -> None:
        self._settings.pop(id(auth), None)

    async def confine(self, session: AsyncServerSession, sftp: bool) -> bool:
        """Set ``session.chroot_directory`` from ChrootDirectory; False (and the client
        told why) when the session may not run: the directory fails sshd's checks, or the
        session is not internal-sftp (sshd-py confines only SFTP: see sshd_chroot)."""
        settings = self._settings.get(id(session.auth))
        if settings is None or settings.text("chrootdirectory") == "none":
            return True
        me = pwd.getpwuid(os.getuid())
        root = settings.chroot_directory(me.pw_name, me.pw_dir, me.pw_uid)
        if root is None:
            return True
        problem = chroot_problem(root)
        if problem is None and not sftp:
            problem = f"ChrootDirectory {root}: sshd-py confines internal-sftp sessions only"
        if problem is not None:
            log.error("%s (user %s)", problem, session.username)
            await session.channel.write_stderr(f"sshd-py: {problem}\n".encode())
            return False
        session.chroot_directory = os.path.realpath(root)
        session.chroot_start = start_directory(session.chroot_directory, me.pw_dir)
        return True


def _command_handler(
    processes: AsyncProcessHandler, command: str, chroots: Chroots | None = None
) -> AsyncSessionHandler:
    async def run(session: AsyncServerSession) -> int | ExitSignal | None:
        if chroots is not None and not await chroots.confine(session, False):
            return 1
        session.command = command  # as sshd: the subsystem's command line, run by the shell
        return await processes(session)

    return run


def _internal_sftp_handler(
    handler: AsyncSessionHandler, command: str, chroots: Chroots | None
) -> AsyncSessionHandler:
    async def run(session: AsyncServerSession) -> int | ExitSignal | None:
        if chroots is not None and not await chroots.confine(session, True):
            return 1
        session.command = command  # its flags (-d, -R, -P, -p, ...) for the SFTP server
        return await handler(session)

    return run


def subsystem_handlers(
    table: dict[str, str], processes: AsyncProcessHandler, chroots: Chroots | None = None
) -> dict[str, AsyncSessionHandler]:
    """Subsystem NAME COMMAND lines as handlers; internal-sftp through the entry point,
    else OpenSSH's sftp-server, else refused (and said once, here)."""
    out: dict[str, AsyncSessionHandler] = {}
    for name, command in table.items():
        if not _is_internal_sftp(command):
            out[name] = _command_handler(processes, command, chroots)
            continue
        handler = internal_sftp(processes)
        if handler is not None:
            out[name] = _internal_sftp_handler(handler, command, chroots)
        else:
            log.error(
                "Subsystem %s internal-sftp: no SFTP server (install ssh-sftp or OpenSSH's "
                "sftp-server); %s requests will be refused",
                name,
                name,
            )
    return out


def _is_internal_sftp(command: str | None) -> bool:
    return bool(command) and command is not None and command.split()[0] == "internal-sftp"


def internal_sftp(processes: AsyncProcessHandler) -> AsyncSessionHandler | None:
    """ssh-sftp's server through the entry point, else OpenSSH's sftp-server, else None."""
    handler = _entry_point_subsystem("sftp")
    if handler is not None:
        return handler
    if os.access(SFTP_SERVER, os.X_OK):
        log.debug("internal-sftp: using %s (ssh-sftp is not installed)", SFTP_SERVER)
        return _command_handler(processes, SFTP_SERVER)
    return None


class _Sessions:
    """Commands and shells through the login shell; ``ForceCommand internal-sftp`` (or a
    command= of it) serves SFTP, as in sshd."""

    def __init__(self, processes: AsyncProcessHandler, chroots: Chroots) -> None:
        self.processes = processes
        self.chroots = chroots

    async def __call__(self, session: AsyncServerSession) -> int | ExitSignal | None:
        sftp = _is_internal_sftp(session.command)
        if not await self.chroots.confine(session, sftp):
            return 1
        if sftp:
            handler = internal_sftp(self.processes)
            if handler is None:
                await session.channel.write_stderr(b"internal-sftp is not available\n")
                return 1
            return await handler(session)
        return await self.processes(session)


class _Stdio(AsyncStream):
    """stdin/stdout as one stream (``sshd -i``)."""

    async def close(self) -> None:
        await super().close()
        with contextlib.suppress(Exception):
            self.reader.feed_eof()


class _FdStream:
    """Blocking descriptors (files, terminals, /dev/null) read and written in threads."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self._in, self._out = in_fd, out_fd

    async def read(self, timeout: float | None) -> bytes:
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, os.read, self._in, 256 * 1024)
        try:
            return await asyncio.wait_for(job, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError from None
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = await asyncio.get_running_loop().run_in_executor(
                None, os.write, self._out, view
            )
            view = view[written:]

    async def close(self) -> None:
        for fd in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(fd)


async def stdio_stream() -> tuple[AsyncStream | _FdStream, Peer]:
    """The connection on stdin/stdout (a socket from inetd, pipes from a ProxyCommand)."""
    loop = asyncio.get_running_loop()
    # Keep the connection on new descriptors and point 0/1 at /dev/null: nothing a
    # child inherits by accident can write into the SSH stream.
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    if stat.S_ISSOCK(os.fstat(in_fd).st_mode):
        os.close(out_fd)
        sock = socket.socket(fileno=in_fd)
        reader, writer = await asyncio.open_connection(sock=sock)
        peer, local = sock.getpeername(), sock.getsockname()
        if isinstance(peer, tuple) and isinstance(local, tuple):
            return AsyncStream(reader, writer), Peer(peer[0], peer[1], local[0], local[1])
        return AsyncStream(reader, writer), Peer()
    if not (stat.S_ISFIFO(os.fstat(in_fd).st_mode) and stat.S_ISFIFO(os.fstat(out_fd).st_mode)):
        return _FdStream(in_fd, out_fd), Peer()  # a file or a terminal: epoll cannot wait
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
        os.fdopen(out_fd, "wb", buffering=0),
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return _Stdio(reader, writer), Peer()


class SshdServer:
    """One sshd-py: the server, its connections and their accounting."""

    def __init__(self, config: SshdConfig, settings: SshdSettings, host_keys: Sequence[HostKey]):
        self.config = config
        self.settings = settings
        processes = AsyncProcessHandler(shell=_login_shell())
        self.chroots = Chroots()
        self.server = AsyncSSHServer(
            host_keys,
            BasePolicy(),  # never used: each connection gets its own SshdPolicy
            session_handler=_Sessions(processes, self.chroots),
            subsystems=subsystem_handlers(settings.subsystems, processes, self.chroots),
            config=transport_config(settings, host_keys),
            **server_options(settings),
        )
        self._count = 0
        self._listeners: list[net.Listener] = []
        #: Called after each connection ends (sshd -d stops after one).
        self.on_connection_end: Callable[[], None] | None = None

    # -- one connection ------------------------------------------------------------------

    async def serve_connection(self, stream: AsyncStream | _FdStream, peer: Peer) -> bool:
        """Serve one connection; whether its user authenticated (sshd -i exits 255
        otherwise: a bad version line, a failed kex or login, a client gone early)."""
        self._count += 1
        number = self._count - 1
        drops: list[int] = []

        def dropped() -> None:  # the server's max_startups (MaxStartups) said no
            drops.append(number)
            log.info(
                "Drop connection #%d from [%s]:%d on [%s]:%s past MaxStartups",
                number, peer.address, peer.port, peer.local_address, peer.local_port,
            )  # fmt: skip

        log.log(
            VERBOSE,
            "Connection from %s port %d on %s port %s",
            peer.address, peer.port, peer.local_address or "UNKNOWN", peer.local_port or 65535,
        )  # fmt: skip
        users: list[UserAuthenticated] = []
        policy = SshdPolicy(self.config, peer)

        def authenticated(auth: UserAuthenticated) -> None:
            users.append(auth)
            self.chroots.remember(auth, policy.settings_for(auth.username))
            log_authenticated(auth, peer)

        try:
            await self.server.serve_stream(
                stream,
                (peer.address, peer.port),
                policy=policy,
                on_authenticated=authenticated,
                connection_settings=lambda auth, base: connection_settings(
                    policy.settings_for(auth.username), base
                ),
                on_dropped=dropped,
            )
        finally:
            for auth in users:
                self.chroots.forget(auth)
            if users:
                log.info("Disconnected from user %s %s", users[0].username, peer)
            elif not drops:
                log.info("Connection closed by %s [preauth]", peer)
            if self.on_connection_end is not None:
                self.on_connection_end()
        return bool(users)

    # -- listening -----------------------------------------------------------------------

    async def listen(self, addresses: Sequence[tuple[str, int]]) -> list[int]:
        """Listen on each address (sshd's messages for those that fail); the ports bound.
        OSError when none could be bound."""
        ports = []
        for host, port in addresses:

            async def accepted(stream: net.TcpStream, peer: tuple[str, int]) -> None:
                local = stream.writer.get_extra_info("sockname") or ("", 0)
                await self.serve_connection(stream, Peer(peer[0], peer[1], local[0], local[1]))

            try:
                listener = await net.listen(host, port, accepted)
            except OSError as exc:
                log.error("Bind to port %d on %s failed: %s.", port, host, exc.strerror or exc)
                continue
            self._listeners.append(listener)
            ports.append(listener.port)
            log.info("Server listening on %s port %d.", host, listener.port)
        if not self._listeners:
            raise OSError("Cannot bind any address.")
        return ports

    async def close(self) -> None:
        for listener in self._listeners:
            await listener.close()
        self._listeners.clear()
        await self.server.close()


async def run_listening(
    server: SshdServer,
    addresses: Sequence[tuple[str, int]],
    on_ready: Callable[[list[int]], Awaitable[None] | None],
    *,
    once: bool = False,
) -> int:
    """Serve until SIGTERM, SIGINT or SIGQUIT (SIGHUP is logged and ignored); with
    ``once`` (sshd -d) until the first connection ends."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []
    if once:
        server.on_connection_end = stop.set

    def on_signal(number: int) -> None:
        received.append(number)
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        loop.add_signal_handler(number, on_signal, number)
    loop.add_signal_handler(
        signal.SIGHUP, lambda: log.info("Received SIGHUP; sshd-py does not restart, ignoring.")
    )
    ports = await server.listen(addresses)
    ready = on_ready(ports)
    if ready is not None:
        await ready
    await stop.wait()
    if received:
        log.info("Received signal %d; terminating.", received[0])
    await server.close()
    return 0


async def run_inetd(server: SshdServer) -> int:
    """One connection on stdin/stdout: 0 after a login, 255 otherwise, as sshd -i."""
    stream, peer = await stdio_stream()
    authenticated = await server.serve_connection(stream, peer)
    with contextlib.suppress(Exception):
        await stream.close()
    sys.stdout.flush()
    return 0 if authenticated else 255
