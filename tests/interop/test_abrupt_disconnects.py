"""An abrupt disconnect at any point leaves no thread, task or file descriptor behind and
gives exactly one error per connection at the API (SECURITY.md, "Above").

The connection runs through a relay in this process that cuts both sides with a reset
(SO_LINGER 0) at a chosen moment: during the key exchange, during authentication, in the
middle of an exec with data flowing, with a port forward carrying a connection, and in an
SFTP upload (put() must raise). Our client (blocking and asyncio) talks to OpenSSH's sshd;
OpenSSH's ssh talks to our server (blocking and asyncio). Afterwards /proc/self/fd,
threading.enumerate() and, for asyncio, the loop's tasks must be back where they were
before the connection; the client's call raised one error and close() none; the server
logged one end for the connection, no warning, and no thread or callback died with an
unhandled exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openssh_tools import SSH, Sshd, SshdFactory, free_port

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection import aio, sync
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import PrivateKey, generate_private_key
from ssh_keys.keyfile import read_private_key_file
from ssh_sftp.aio import AsyncSFTPClient
from ssh_sftp.sync import SFTPClient
from ssh_wire import SSHError

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]

POINTS = ["kex", "auth", "exec", "forward"]
#: How long leftovers may take to go once the peer is gone (threads see EOF, children
#: get SIGHUP); far more than they need, only so a leak fails instead of hanging.
SETTLE = 30.0


# -- the cutting relay --------------------------------------------------------------------------


class CutRelay:
    """Relays loopback TCP connections to ``target``; :meth:`cut` drops both sides of
    every connection at once (shut down, then closed with a reset, SO_LINGER 0), as a
    dead network or a killed peer would. ``cut_up_after`` / ``cut_down_after`` cut once
    that many bytes went towards the target / back from it."""

    def __init__(self, target: int, cut_up_after: int = 0, cut_down_after: int = 0) -> None:
        self.target = target
        self.limits = (cut_up_after, cut_down_after)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.was_cut = threading.Event()
        self._cutter: threading.Thread | None = None
        self._accepter = threading.Thread(target=self._accept, name="relay")
        self._accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._sockets += (down, up)
                for source, sink, limit in ((down, up, self.limits[0]), (up, down, self.limits[1])):
                    pump = threading.Thread(target=self._pump, args=(source, sink, limit))
                    self._pumps.append(pump)
                    pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int) -> None:
        moved = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if limit and moved + len(data) >= limit:
                    sink.sendall(data[: limit - moved])
                    self.cut()
                    return
                sink.sendall(data)
                moved += len(data)
            if not self.was_cut.is_set():
                sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Drop every relayed connection; returns once done (at once from a pump)."""
        with self._lock:
            if self._cutter is None:
                self.was_cut.set()
                self._cutter = threading.Thread(target=self._reset, name="relay-cut")
                self._cutter.start()
            cutter = self._cutter
        if threading.current_thread() not in self._pumps:
            cutter.join(10)

    def _reset(self) -> None:
        with self._lock:
            sockets, pumps = list(self._sockets), list(self._pumps)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pumps
        for pump in pumps:
            pump.join(10)
        for sock in sockets:  # closed only once no pump can still pass its number on
            sock.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._accepter.join(10)
        self.cut()
        with self._lock:
            late = [s for s in self._sockets if s.fileno() >= 0]
        for sock in late:  # accepted after the cut
            sock.close()

    def __enter__(self) -> CutRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- what a process holds -------------------------------------------------------------------------


def open_fds() -> set[int]:
    # The listing's own descriptor is in it, and closed by now: leave it out.
    return {fd for fd in map(int, os.listdir("/proc/self/fd")) if _is_open(fd)}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def live_threads() -> set[threading.Thread]:
    # asyncio's default executor and the asyncio server's spawner pool (_aio_spawn: at most
    # four) keep their worker threads for reuse: not leaks.
    pools = ("asyncio_", "ssh-spawn")
    return {t for t in threading.enumerate() if not t.name.startswith(pools)}


def settle(baseline_fds: set[int], baseline_threads: set[threading.Thread]) -> None:
    """Wait for the leftovers of a connection to go; fail with what stayed."""
    deadline = time.monotonic() + SETTLE
    while True:
        fds, threads = open_fds() - baseline_fds, live_threads() - baseline_threads
        if not fds and not threads:
            return
        if time.monotonic() > deadline:
            described = {fd: _describe(fd) for fd in fds}
            raise AssertionError(f"left behind: fds {described}, threads {threads}")
        time.sleep(0.05)


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


@pytest.fixture
def unhandled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Exceptions that killed a thread (threading.excepthook) during the test."""
    seen: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(repr(args.exc_value)))
    return seen


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def ends(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.msg.startswith("connection from")]

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]


@pytest.fixture
def server_log() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("ssh_connection")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- peers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("abruptkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    (d / "authorized_keys").write_text(Path(f"{d / 'id'}.pub").read_text())
    return d / "id"


@pytest.fixture(scope="module")
def user_key(key_path: Path) -> PrivateKey:
    return read_private_key_file(key_path)


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, key_path: Path) -> Sshd:
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(key_path.parent / "authorized_keys"),
        AllowTcpForwarding="yes",
        Subsystem="sftp /usr/lib/openssh/sftp-server",
    )


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    """A TCP echo server for the forwards (its threads end with their connections)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True, name="echo").start()

    thread = threading.Thread(target=accept, daemon=True, name="echo-accept")
    thread.start()
    yield listener.getsockname()[1]
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(10)


def echo_threads(threads: set[threading.Thread]) -> set[threading.Thread]:
    return {t for t in threads if t.name == "echo"}


class CuttingSigner:
    """The user's key, but the relay is cut when authentication asks for a signature."""

    def __init__(self, key: PrivateKey, relay: CutRelay) -> None:
        self._key, self._relay = key, relay

    @property
    def public_key(self) -> Any:
        return self._key.public_key

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self._key.algorithms  # type: ignore[no-any-return]

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        self._relay.cut()
        return self._key.sign(data, algorithm)  # type: ignore[no-any-return]


# -- our client against sshd --------------------------------------------------------------------


def ping(port: int) -> socket.socket:
    """A connection through a forward, proven to work end to end."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"ping")
    got = b""
    while len(got) < 4:
        chunk = sock.recv(4 - len(got))
        assert chunk, "the forward ended early"
        got += chunk
    assert got == b"ping"
    return sock


def ended(sock: socket.socket) -> None:
    """The forwarded connection ends (EOF or reset) now that its SSH connection is gone."""
    with contextlib.suppress(ConnectionResetError):
        assert sock.recv(100) == b""
    sock.close()


@pytest.mark.parametrize("point", POINTS)
def test_our_blocking_client_cut_off(
    point: str, sshd: Sshd, user_key: PrivateKey, echo_port: int, unhandled: list[str]
) -> None:
    fds, threads = open_fds(), live_threads()
    errors: list[BaseException] = []
    with CutRelay(sshd.port) as relay:

        def connect(signer: Any = user_key, check: Any = None) -> sync.SSHConnection:
            return sync.connect(
                "127.0.0.1", relay.port, "root", signers=[signer],
                host_key_check=check or sync.insecure_accept_any_host_key, timeout=30,
            )  # fmt: skip

        def cut_in_kex(host: str, port: int, key: object) -> bool:
            relay.cut()  # the host key is checked in the middle of the key exchange
            return True

        try:
            if point == "kex":
                connect(check=cut_in_kex)
            elif point == "auth":
                connect(signer=CuttingSigner(user_key, relay))
            else:
                conn = connect()
                try:
                    if point == "exec":
                        channel = conn.open_session()
                        channel.exec("exec cat /dev/zero")
                        got = 0
                        while True:  # a read after the cut must fail, never look like EOF
                            data = channel.read(1 << 16, timeout=30)
                            assert data, "a lost connection read as a clean EOF"
                            got += len(data)
                            if got >= 1 << 20 and not relay.was_cut.is_set():
                                relay.cut()
                    else:
                        with conn.forward_local("127.0.0.1", echo_port) as forward:
                            sock = ping(forward.port)
                            relay.cut()
                            ended(sock)
                        conn.run("true", timeout=30)  # the connection is gone: this says so
                finally:
                    conn.close()  # raises nothing more
        except SSHError as exc:
            errors.append(exc)
    assert relay.was_cut.is_set()
    assert len(errors) == 1, errors
    settle(fds, threads)
    assert unhandled == []


@pytest.mark.parametrize("point", POINTS)
def test_our_asyncio_client_cut_off(
    point: str, sshd: Sshd, user_key: PrivateKey, echo_port: int, unhandled: list[str]
) -> None:
    fds, threads = open_fds(), live_threads()
    errors: list[BaseException] = []
    loop_errors: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: loop_errors.append(str(context.get("message")))
        )
        before = asyncio.all_tasks()
        with CutRelay(sshd.port) as relay:

            async def connect(signer: Any = user_key, check: Any = None) -> aio.AsyncSSHConnection:
                return await aio.connect(
                    "127.0.0.1", relay.port, "root", signers=[signer],
                    host_key_check=check or aio.insecure_accept_any_host_key, timeout=30,
                )  # fmt: skip

            def cut_in_kex(host: str, port: int, key: object) -> bool:
                relay.cut()
                return True

            try:
                if point == "kex":
                    await connect(check=cut_in_kex)
                elif point == "auth":
                    await connect(signer=CuttingSigner(user_key, relay))
                else:
                    conn = await connect()
                    try:
                        if point == "exec":
                            channel = await conn.open_session()
                            await channel.exec("exec cat /dev/zero")
                            got = 0
                            while True:
                                data = await channel.read(1 << 16, timeout=30)
                                assert data, "a lost connection read as a clean EOF"
                                got += len(data)
                                if got >= 1 << 20 and not relay.was_cut.is_set():
                                    relay.cut()
                        else:
                            async with await conn.forward_local("127.0.0.1", echo_port) as fwd:
                                sock = await asyncio.to_thread(ping, fwd.port)
                                relay.cut()
                                await asyncio.to_thread(ended, sock)
                            await conn.run("true", timeout=30)
                    finally:
                        await conn.close()
            except SSHError as exc:
                errors.append(exc)
        assert relay.was_cut.is_set()
        deadline = time.monotonic() + SETTLE
        while (left := asyncio.all_tasks() - before) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not left, f"tasks left behind: {left}"

    asyncio.run(main())
    assert len(errors) == 1, errors
    assert loop_errors == []
    settle(fds, threads)
    assert unhandled == []


# -- OpenSSH's ssh against our server ---------------------------------------------------------


def ssh_argv(port: int, key_path: Path, *extra: str) -> list[str]:
    return [
        SSH, "-F", "/dev/null", "-p", str(port), "-i", str(key_path),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR", *extra,
    ]  # fmt: skip


def drive_ssh(point: str, relay: CutRelay, key_path: Path, echo_port: int) -> None:
    """Run ssh through ``relay`` until the cut at ``point`` ended it."""
    if point == "forward":
        local = free_port()
        extra = ["-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:127.0.0.1:{echo_port}"]
        command: list[str] = []
    else:
        extra, command = [], ["exec cat /dev/zero" if point == "exec" else "true"]
    process = subprocess.Popen(
        [*ssh_argv(relay.port, key_path, *extra), "root@127.0.0.1", *command],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if point == "forward":
            for _ in range(3000):  # until ssh listens
                with contextlib.suppress(OSError):
                    sock = ping(local)
                    break
                assert process.poll() is None, "ssh ended before forwarding"
                time.sleep(0.01)
            else:
                raise AssertionError("ssh never forwarded")
            relay.cut()
            ended(sock)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert relay.was_cut.is_set()


def cut_limits(point: str) -> dict[str, int]:
    if point == "kex":
        return {"cut_up_after": 300}  # ssh's identification line and part of its KEXINIT
    if point == "exec":
        return {"cut_down_after": 2 << 20}  # 2 MiB of cat's output reached ssh
    return {}


def cutting_policy(key_path: Path, point: str, relay: list[CutRelay]) -> StandardPolicy:
    lookup = authorized_keys_file(str(key_path.parent / "authorized_keys"))

    def keys(user: str) -> Any:
        if point == "auth":
            relay[0].cut()  # in the middle of authentication
        return lookup(user)

    return StandardPolicy(authorized_keys=keys)


def check_server_side(server_log: Records, unhandled: list[str]) -> None:
    assert len(server_log.ends()) == 1, server_log.ends()  # one end, with its error
    assert server_log.warnings() == []
    assert unhandled == []


@pytest.mark.parametrize("point", POINTS)
def test_our_blocking_server_cut_off(
    point: str, key_path: Path, echo_port: int, unhandled: list[str], server_log: Records
) -> None:
    holder: list[CutRelay] = []
    server = SSHServer(
        [generate_private_key("ed25519")], cutting_policy(key_path, point, holder),
        session_handler=ProcessHandler(), allow_tcp_forwarding=True,
    )  # fmt: skip
    try:
        port = server.listen("127.0.0.1", 0)
        with CutRelay(port, **cut_limits(point)) as relay:
            holder.append(relay)
            fds, threads = open_fds(), live_threads()
            drive_ssh(point, relay, key_path, echo_port)
            settle(fds, threads)
    finally:
        server.close()
    check_server_side(server_log, unhandled)


@pytest.mark.parametrize("point", POINTS)
def test_our_asyncio_server_cut_off(
    point: str, key_path: Path, echo_port: int, unhandled: list[str], server_log: Records
) -> None:
    loop = asyncio.new_event_loop()
    loop_errors: list[str] = []
    loop.set_exception_handler(lambda _, context: loop_errors.append(str(context.get("message"))))
    runner = threading.Thread(target=loop.run_forever, name="loop")
    runner.start()

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    async def tasks() -> set[asyncio.Task[Any]]:
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    holder: list[CutRelay] = []
    server = AsyncSSHServer(
        [generate_private_key("ed25519")], cutting_policy(key_path, point, holder),
        session_handler=AsyncProcessHandler(), allow_tcp_forwarding=True,
    )  # fmt: skip
    try:
        port = on_loop(server.listen("127.0.0.1", 0))
        with CutRelay(port, **cut_limits(point)) as relay:
            holder.append(relay)
            fds, threads, before = open_fds(), live_threads(), on_loop(tasks())
            drive_ssh(point, relay, key_path, echo_port)
            deadline = time.monotonic() + SETTLE
            while (left := on_loop(tasks()) - before) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not left, f"tasks left behind: {left}"
            settle(fds, threads)
    finally:
        on_loop(server.close())
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
    check_server_side(server_log, unhandled)
    assert loop_errors == []


# -- an SFTP upload cut off -------------------------------------------------------------------

#: The upload, and where the relay cuts it (bytes towards sshd, the login's few KB
#: included): early, in the middle, and near its end with most writes answered.
UPLOAD = 8 << 20
UPLOAD_CUTS = [100_000, 3 << 20, 8_000_000]


@pytest.mark.parametrize("cut_after", UPLOAD_CUTS)
@pytest.mark.parametrize("front", ["blocking", "asyncio"])
def test_sftp_upload_cut_off_raises_and_leaves_nothing(
    front: str, cut_after: int, sshd: Sshd, user_key: PrivateKey, tmp_path: Path,
    unhandled: list[str],
) -> None:  # fmt: skip
    """put() raises, never returns as if the file were written, when the connection dies
    under it (what sftp-server wrote so far may stay: a partial file the caller was told
    of); the connection's threads, tasks and descriptors go."""
    source, remote = tmp_path / "source", tmp_path / "remote"
    source.write_bytes(os.urandom(UPLOAD))
    fds, threads = open_fds(), live_threads()
    errors: list[BaseException] = []
    with CutRelay(sshd.port, cut_up_after=cut_after) as relay:
        if front == "blocking":
            conn = sync.connect(
                "127.0.0.1", relay.port, "root", signers=[user_key],
                host_key_check=sync.insecure_accept_any_host_key, timeout=30,
            )  # fmt: skip
            try:
                with SFTPClient.from_connection(conn) as sftp:
                    sftp.put(source, str(remote))
            except (SSHError, OSError) as exc:
                errors.append(exc)
            finally:
                conn.close()
        else:

            async def upload() -> None:
                conn = await aio.connect(
                    "127.0.0.1", relay.port, "root", signers=[user_key],
                    host_key_check=aio.insecure_accept_any_host_key, timeout=30,
                )  # fmt: skip
                try:
                    async with await AsyncSFTPClient.from_connection(conn) as sftp:
                        await sftp.put(source, str(remote))
                except (SSHError, OSError) as exc:
                    errors.append(exc)
                finally:
                    await conn.close()

            asyncio.run(upload())
    assert relay.was_cut.is_set()
    assert len(errors) == 1, f"put() returned after the cut: {errors}"
    settle(fds, threads)
    assert unhandled == []
