"""Our client against sftp-server-py (``python -m ssh_sftp``) over pipes: both ends ours,
every operation the client has, checked against the local filesystem."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssh_sftp.sync import SFTPClient


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote"
    path.mkdir()
    return path


@pytest.fixture
def client(remote: Path) -> Iterator[SFTPClient]:
    with SFTPClient.from_command([sys.executable, "-m", "ssh_sftp", "-d", str(remote)]) as c:
        yield c


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 1])
def test_put_get_checksums(client: SFTPClient, tmp_path: Path, remote: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "up").write_bytes(data)
    client.put(tmp_path / "up", "file")
    client.get("file", tmp_path / "down")
    digest = hashlib.sha256(data).digest()
    assert hashlib.sha256((remote / "file").read_bytes()).digest() == digest
    assert hashlib.sha256((tmp_path / "down").read_bytes()).digest() == digest


def test_the_server_negotiates_openssh_limits(client: SFTPClient) -> None:
    assert "limits@openssh.com" in client.extensions
    assert client.limits.read_size == 256 * 1024 - 1024


def test_names_links_and_attributes(client: SFTPClient, remote: Path) -> None:
    assert client.realpath(".") == str(remote)
    client.makedirs("a/b/c")
    with client.open("a/f", "wb") as f:
        f.write(b"hello")
    client.rename("a/f", "a/g")
    client.symlink("g", "a/s")
    client.hardlink("a/g", "a/h")
    client.copy("a/g", "a/copy")
    client.chmod("a/g", 0o640)
    assert client.readlink("a/s") == "g"
    assert client.stat("a/s").st_size == 5 and client.lstat("a/s").is_symlink()
    assert sorted(client.listdir("a")) == ["b", "copy", "g", "h", "s"]
    assert (remote / "a" / "copy").read_bytes() == b"hello"
    assert (remote / "a" / "g").stat().st_mode & 0o777 == 0o640
    assert (remote / "a" / "h").stat().st_ino == (remote / "a" / "g").stat().st_ino
    client.remove("a/h")
    client.rmdir("a/b/c")
    assert not (remote / "a" / "h").exists() and not (remote / "a" / "b" / "c").exists()
    assert client.statvfs(".").namemax > 0
    users, groups = client.users_groups_by_id([os.getuid()], [os.getgid()])
    assert len(users) == 1 and len(groups) == 1


def test_errors_are_the_os_kinds(client: SFTPClient) -> None:
    with pytest.raises(FileNotFoundError):
        client.stat("missing")
    with pytest.raises(FileNotFoundError):
        client.open("missing/x", "wb")


def test_read_only_server_refuses_with_permission_denied(remote: Path) -> None:
    (remote / "keep").write_bytes(b"k")
    argv = [sys.executable, "-m", "ssh_sftp", "-R", "-d", str(remote)]
    with SFTPClient.from_command(argv) as client:
        with pytest.raises(PermissionError):
            client.remove("keep")
        with client.open("keep", "rb") as f:
            assert f.read() == b"k"
