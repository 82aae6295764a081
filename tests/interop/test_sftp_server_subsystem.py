"""OpenSSH's ``sftp`` against our own SSH server's "sftp" subsystem (ssh_sftp's handler, as
the entry point offers it), with both front ends and with a confined root."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection import sync
from ssh_connection.aio_server import AsyncSSHServer
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key
from ssh_keys.keyfile import read_private_key_file
from ssh_sftp.aio_subsystem import sftp_handler as aio_sftp_handler
from ssh_sftp.aio_subsystem import sftp_subsystem
from ssh_sftp.filesystem import LocalFileSystem
from ssh_sftp.sync import SFTPClient
from ssh_sftp.sync_subsystem import sftp_handler

pytestmark = pytest.mark.interop

SFTP = shutil.which("sftp") or "/usr/bin/sftp"


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sftpkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")],
                   check=True)  # fmt: skip
    (d / "keys").write_text((d / "id.pub").read_text())
    return d


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("jail")
    (base / "outside").write_bytes(b"secret")
    (base / "root").mkdir()
    return base / "root"


@pytest.fixture(scope="module")
def server(keydir: Path, jail: Path) -> Iterator[SSHServer]:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keydir / "keys")))
    srv = SSHServer(
        [generate_private_key("ed25519")], policy,
        subsystems={"sftp": sftp_handler(lambda session: LocalFileSystem(jail))},
    )  # fmt: skip
    srv.listen("127.0.0.1", 0)
    yield srv
    srv.close()


def sftp(port: int, keydir: Path, commands: str) -> subprocess.CompletedProcess[str]:
    argv = [
        SFTP, "-q", "-F", "/dev/null", "-P", str(port), "-i", str(keydir / "id"),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
        "-b", "-", "user@127.0.0.1",
    ]  # fmt: skip
    return subprocess.run(argv, input=commands, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def test_entry_point_names_the_asyncio_handler() -> None:
    (entry,) = entry_points(group="ssh_connection.subsystems", name="sftp")
    assert entry.load() is sftp_subsystem


def test_put_get_ls_in_a_confined_root(server: SSHServer, keydir: Path, jail: Path,
                                       tmp_path: Path) -> None:  # fmt: skip
    data = os.urandom(2 * 1024 * 1024 + 5)
    (tmp_path / "up").write_bytes(data)
    commands = (
        f"put {tmp_path / 'up'} up\nget up {tmp_path / 'down'}\nmkdir d\nrename up d/up\n"
        f"symlink ../outside d/link\n-get d/link {tmp_path / 'leak'}\n-get ../outside "
        f"{tmp_path / 'leak2'}\nls -l d\npwd\n"
    )
    result = sftp(server.port, keydir, commands)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "down").read_bytes() == data
    assert (jail / "d" / "up").read_bytes() == data
    assert not (tmp_path / "leak").exists() and not (tmp_path / "leak2").exists()
    assert "Remote working directory: /" in result.stdout
    assert " up" in result.stdout


def test_asyncio_server_serves_sftp(keydir: Path, tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "hello").write_bytes(b"hello")

    async def run() -> subprocess.CompletedProcess[str]:
        policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keydir / "keys")))
        handler = aio_sftp_handler(lambda session: LocalFileSystem(tmp_path / "root"),
                                   read_only=True)  # fmt: skip
        srv = AsyncSSHServer([generate_private_key("ed25519")], policy,
                             subsystems={"sftp": handler})  # fmt: skip
        port = await srv.listen("127.0.0.1", 0)
        try:
            loop = asyncio.get_running_loop()
            commands = f"get hello {tmp_path / 'got'}\n-rm hello\n"
            return await loop.run_in_executor(None, sftp, port, keydir, commands)
        finally:
            await srv.close()

    result = asyncio.run(run())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "got").read_bytes() == b"hello"
    assert "Permission denied" in result.stderr
    assert (tmp_path / "root" / "hello").exists()


class RecordingFileSystem(LocalFileSystem):
    """Tells when a handle is closed."""

    def __init__(self, root: Path, closed: threading.Event) -> None:
        super().__init__(root)
        self.closed = closed

    def close(self, handle: object) -> None:
        super().close(handle)  # type: ignore[arg-type]
        self.closed.set()


def test_a_dropped_connection_closes_the_open_handles(keydir: Path, tmp_path: Path) -> None:
    closed = threading.Event()
    policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keydir / "keys")))
    handler = sftp_handler(lambda session: RecordingFileSystem(tmp_path, closed))
    srv = SSHServer([generate_private_key("ed25519")], policy, subsystems={"sftp": handler})
    port = srv.listen("127.0.0.1", 0)
    try:
        key = read_private_key_file(keydir / "id")
        conn = sync.connect("127.0.0.1", port, "user", signers=[key],
                            host_key_check=sync.insecure_accept_any_host_key)  # fmt: skip
        sftp = SFTPClient.from_connection(conn)
        f = sftp.open("upload", "wb")
        f.write(b"acknowledged")
        f.flush()
        assert not closed.is_set()
        conn.close()  # no SFTP close: the handle is still open on the server
        assert closed.wait(60)
        assert (tmp_path / "upload").read_bytes() == b"acknowledged"
    finally:
        srv.close()
