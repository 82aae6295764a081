"""ssh-sftp interop: our SFTP client (blocking and asyncio, over ssh_connection's connect)
against the SFTP servers of AsyncSSH and Paramiko. Files of 0 bytes, 1 byte and a large one
go up and come back, compared by SHA-256 at both ends; a small directory tree goes up and
back recursively and is listed.

AsyncSSH serves with ``listen(..., sftp_factory=True)`` (its stock local-filesystem server)
on a loop in its own thread. Paramiko ships only ``SFTPServerInterface``, so ``RootedSFTP``
below is a small real implementation over one temporary directory (every path is taken
relative to it). One server of each for the module.

The large file is ``SSH_SFTP_BIG_MIB`` MiB: 128 by default, ``SSH_SFTP_BIG_MIB=1024`` for
issue 13's 1 GiB. Measured on this 2-CPU machine, one test each (write the file, put, get,
three SHA-256 passes), blocking / asyncio client: at load 2, 1 GiB took 26 / 26 s against
AsyncSSH's server and 31 / 40 s against Paramiko's (2 min 5 s for the four); at load 5-9,
57 s and 70 s with the blocking client (sshd's sftp-server: 20-26 s). 128 MiB takes 3-7 s.
Both servers answer every request in Python (AsyncSSH's offers ``limits@openssh.com``, so
our client sends it the largest requests it sends anyone; Paramiko's does not, so 32 KiB
ones, from one thread per session). Two to four minutes more for every suite run is
more than the suite's budget (well under 10 minutes on 2 cores), so the default is smaller
for both; the 1 GiB case against OpenSSH's sftp-server runs by default, in
test_sftp_client_openssh.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import paramiko
import pytest
from openssh_tools import close_listener

from ssh_connection import aio, sync
from ssh_sftp.aio import AsyncSFTPClient
from ssh_sftp.sync import SFTPClient

pytestmark = [pytest.mark.interop, pytest.mark.slow]

USER, PASSWORD = "peer", "peer-secret"
MIB = 1 << 20
BIG = int(os.environ.get("SSH_SFTP_BIG_MIB", "128")) * MIB
T = TypeVar("T")


def write_file(path: Path, size: int, seed: int = 11) -> str:
    """Write ``size`` incompressible bytes (1 MiB blocks made distinct by a counter) and
    return their SHA-256, without holding the file in memory."""
    base = random.Random(seed).randbytes(MIB)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for i in range(0, size, MIB):
            block = ((i // MIB).to_bytes(8, "big") + base[8:])[: size - i]
            f.write(block)
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Server:
    """A running SFTP server: its port, the local directory it serves, and how our client
    names a path in it."""

    name: str
    port: int
    root: Path
    prefix: str  # the remote path of ``root``

    def remote(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"


# -- AsyncSSH's server -------------------------------------------------------------------------


class AsyncsshPassword(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)


@pytest.fixture(scope="module")
def asyncssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1", 0, server_factory=AsyncsshPassword, config=None,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=True, allow_scp=False,
        )  # fmt: skip

    acceptor = run(listen())
    root = tmp_path_factory.mktemp("asyncssh-root")
    try:
        # Its stock server serves the whole local filesystem: name files by absolute path.
        yield Server("asyncssh", acceptor.get_port(), root, str(root))
    finally:

        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
        loop.close()


# -- Paramiko's server, over a real local implementation of its interface ----------------------


class RootedHandle(paramiko.SFTPHandle):
    """An open file: Paramiko's handle reads and writes through ``readfile``/``writefile``
    (seeking when a request's offset is not where the last one ended)."""

    def __init__(self, fd: int, flags: int) -> None:
        super().__init__(flags)
        # Wrapping a descriptor never truncates: O_TRUNC, if asked for, already did.
        access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
        f = os.fdopen(fd, {os.O_RDWR: "r+b", os.O_WRONLY: "wb"}.get(access, "rb"))
        if access != os.O_WRONLY:
            self.readfile = f
        if access != os.O_RDONLY:
            self.writefile = f
        self.fd = fd

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.fd))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        return apply_attributes(self.fd, attr)


def apply_attributes(target: int | str, attr: paramiko.SFTPAttributes) -> int:
    """SETSTAT / FSETSTAT for a path or an open descriptor."""
    try:
        if attr.st_mode is not None:
            os.chmod(target, attr.st_mode & 0o7777)
        if attr.st_size is not None:
            os.truncate(target, attr.st_size)
        if attr.st_atime is not None and attr.st_mtime is not None:
            os.utime(target, (attr.st_atime, attr.st_mtime))
    except OSError as e:
        return paramiko.SFTPServer.convert_errno(e.errno)
    return paramiko.SFTP_OK


class RootedSFTP(paramiko.SFTPServerInterface):
    """The local filesystem under one directory: "/" is the root, relative paths start
    there, and ``..`` cannot climb above it (paths are normalised before they are joined)."""

    def __init__(self, server: paramiko.ServerInterface, root: str) -> None:
        super().__init__(server)
        self.root = root

    def local(self, path: str) -> str:
        return os.path.join(self.root, os.path.normpath("/" + path).lstrip("/"))

    def canonicalize(self, path: str) -> str:
        return os.path.normpath("/" + path)

    def _errno(self, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return paramiko.SFTP_OK if result is None else result

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> Any:
        mode = attr.st_mode & 0o7777 if attr.st_mode is not None else 0o666
        return self._errno(lambda: RootedHandle(os.open(self.local(path), flags, mode), flags))

    def list_folder(self, path: str) -> Any:
        def listing() -> list[paramiko.SFTPAttributes]:
            folder = self.local(path)
            return [
                paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(folder, name)), name)
                for name in os.listdir(folder)
            ]

        return self._errno(listing)

    def stat(self, path: str) -> Any:
        return self._errno(lambda: paramiko.SFTPAttributes.from_stat(os.stat(self.local(path))))

    def lstat(self, path: str) -> Any:
        return self._errno(lambda: paramiko.SFTPAttributes.from_stat(os.lstat(self.local(path))))

    def remove(self, path: str) -> Any:
        return self._errno(lambda: os.remove(self.local(path)))

    def rename(self, oldpath: str, newpath: str) -> Any:
        return self._errno(lambda: os.rename(self.local(oldpath), self.local(newpath)))

    def posix_rename(self, oldpath: str, newpath: str) -> Any:
        return self._errno(lambda: os.replace(self.local(oldpath), self.local(newpath)))

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> Any:
        mode = attr.st_mode & 0o7777 if attr.st_mode is not None else 0o777
        return self._errno(lambda: os.mkdir(self.local(path), mode))

    def rmdir(self, path: str) -> Any:
        return self._errno(lambda: os.rmdir(self.local(path)))

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> Any:
        return apply_attributes(self.local(path), attr)


class ParamikoPassword(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = (username, password) == (USER, PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


@pytest.fixture(scope="module")
def paramiko_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("paramiko-root")
    host_key = paramiko.Ed25519Key.from_private_key_file(write_ed25519_key(root.parent))
    listener = socket.create_server(("127.0.0.1", 0))
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                transport = paramiko.Transport(conn)
                transport.add_server_key(host_key)
                transport.set_subsystem_handler("sftp", paramiko.SFTPServer, RootedSFTP, str(root))
                transports.append(transport)
                transport.start_server(server=ParamikoPassword())

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield Server("paramiko", listener.getsockname()[1], root, "")
    finally:
        close_listener(listener)
        for transport in transports:
            transport.close()


def write_ed25519_key(directory: Path) -> str:
    """A host key file for Paramiko (it cannot generate Ed25519 keys itself)."""
    path = directory / "paramiko_host_ed25519"
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
    return str(path)


@pytest.fixture(params=["asyncssh", "paramiko"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"{request.param}_server")  # type: ignore[no-any-return]


# -- the transfers -----------------------------------------------------------------------------


def blocking_round_trip(server: Server, src: Path, remote: str, back: Path) -> None:
    with (
        sync.connect(
            "127.0.0.1", server.port, USER, password=PASSWORD,
            host_key_check=sync.insecure_accept_any_host_key,
        ) as conn,
        SFTPClient.from_connection(conn) as sftp,
    ):  # fmt: skip
        sftp.put(src, remote)
        assert sftp.stat(remote).size == src.stat().st_size
        sftp.get(remote, back)


def asyncio_round_trip(server: Server, src: Path, remote: str, back: Path) -> None:
    async def main() -> None:
        async with (
            await aio.connect(
                "127.0.0.1", server.port, USER, password=PASSWORD,
                host_key_check=aio.insecure_accept_any_host_key,
            ) as conn,
            await AsyncSFTPClient.from_connection(conn) as sftp,
        ):  # fmt: skip
            await sftp.put(src, remote)
            assert (await sftp.stat(remote)).size == src.stat().st_size
            await sftp.get(remote, back)

    asyncio.run(main())


ROUND_TRIPS = {"blocking": blocking_round_trip, "asyncio": asyncio_round_trip}


@pytest.mark.parametrize("client", ROUND_TRIPS)
@pytest.mark.parametrize("size", [0, 1, BIG], ids=["0B", "1B", f"{BIG // MIB}MiB"])
def test_put_and_get_compare_sha256_at_both_ends(
    server: Server, client: str, size: int, tmp_path: Path
) -> None:
    name = f"{client}-{size}"
    src, stored, back = tmp_path / "src", server.root / name, tmp_path / "back"
    try:
        sent = write_file(src, size)
        ROUND_TRIPS[client](server, src, server.remote(name), back)
        assert sha256(stored) == sent  # what the server wrote
        assert sha256(back) == sent  # what came back
    finally:  # a large file's copies need not outlive their test
        for path in (src, stored, back):
            path.unlink(missing_ok=True)


def test_directory_put_get_and_listdir(server: Server, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    files = {"a.txt": 0, "b.bin": 1, "c.bin": 300_000, "sub/d.bin": 70_000}
    sums = {name: write_file(tree / name, size, seed=len(name)) for name, size in files.items()}
    remote = server.remote("tree-copy")
    with (
        sync.connect(
            "127.0.0.1", server.port, USER, password=PASSWORD,
            host_key_check=sync.insecure_accept_any_host_key,
        ) as conn,
        SFTPClient.from_connection(conn) as sftp,
    ):  # fmt: skip
        sftp.put(tree, remote, recursive=True)
        assert sorted(sftp.listdir(remote)) == ["a.txt", "b.bin", "c.bin", "sub"]
        assert sftp.listdir(f"{remote}/sub") == ["d.bin"]
        sftp.get(remote, tmp_path / "back", recursive=True)
    for name, digest in sums.items():
        assert sha256(server.root / "tree-copy" / name) == digest, name
        assert sha256(tmp_path / "back" / name) == digest, name
