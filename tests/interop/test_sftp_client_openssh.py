"""ssh-sftp interop: our SFTP client (both front ends) over our SSH client, through OpenSSH's
sshd to its sftp-server subsystem. One sshd for the module; files are compared by checksum.

The 1 GiB case of issue 13 is ``test_one_gib_put_and_get_through_sshd``
(``SSH_SFTP_SSHD_BIG_MIB`` changes its size): 26 s here at load 5, writing the file and
three SHA-256 passes included.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import Sshd, SshdFactory

from ssh_connection import aio, sync
from ssh_keys import PrivateKey
from ssh_keys.keyfile import read_private_key_file
from ssh_sftp import NoSuchFile
from ssh_sftp.aio import AsyncSFTPClient
from ssh_sftp.messages import OPENSSH_EXTENSIONS
from ssh_sftp.sync import SFTPClient

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
MIB = 1024 * 1024
BIG = int(os.environ.get("SSH_SFTP_SSHD_BIG_MIB", "1024")) * MIB

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]


@pytest.fixture(scope="module")
def user_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sftpkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return d / "id"


@pytest.fixture(scope="module")
def user_key(user_key_path: Path) -> PrivateKey:
    return read_private_key_file(user_key_path)


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, user_key_path: Path) -> Sshd:
    auth = user_key_path.parent / "authorized_keys"
    auth.write_text(Path(f"{user_key_path}.pub").read_text())
    auth.chmod(0o644)
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(auth),
        Subsystem=f"sftp {SFTP_SERVER}",
    )


@pytest.fixture
def conn(sshd: Sshd, user_key: PrivateKey) -> Iterator[sync.SSHConnection]:
    with sync.connect(
        "127.0.0.1", sshd.port, "root", signers=[user_key],
        host_key_check=sync.insecure_accept_any_host_key,
    ) as c:  # fmt: skip
        yield c


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 4 * MIB + 5])
def test_blocking_client_put_and_get_through_sshd(
    conn: sync.SSHConnection, tmp_path: Path, size: int
) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(size))
    with SFTPClient.from_connection(conn) as sftp:
        assert sftp.extensions == dict(OPENSSH_EXTENSIONS)
        sftp.put(src, str(tmp_path / "up"))
        sftp.get(str(tmp_path / "up"), tmp_path / "down")
        assert sftp.stat(str(tmp_path / "up")).size == size
    assert digest(tmp_path / "up") == digest(src) == digest(tmp_path / "down")


def test_asyncio_client_put_and_get_through_sshd(
    sshd: Sshd, user_key: PrivateKey, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(4 * MIB + 5))

    async def main() -> None:
        async with await aio.connect(
            "127.0.0.1", sshd.port, "root", signers=[user_key],
            host_key_check=aio.insecure_accept_any_host_key,
        ) as c, await AsyncSFTPClient.from_connection(c) as sftp:  # fmt: skip
            await sftp.put(src, str(tmp_path / "up"))
            await sftp.get(str(tmp_path / "up"), tmp_path / "down")
            async with await sftp.open(str(tmp_path / "up")) as f:
                await f.seek(MIB)
                assert await f.read(10) == src.read_bytes()[MIB : MIB + 10]
            with pytest.raises(NoSuchFile):
                await sftp.stat(str(tmp_path / "missing"))

    asyncio.run(main())
    assert digest(tmp_path / "up") == digest(src) == digest(tmp_path / "down")


def test_two_sftp_sessions_share_one_connection(conn: sync.SSHConnection, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(os.urandom(MIB))
    with SFTPClient.from_connection(conn) as one, SFTPClient.from_connection(conn) as two:
        one.get(str(tmp_path / "a"), tmp_path / "a1")
        two.get(str(tmp_path / "a"), tmp_path / "a2")
        assert sorted(one.listdir(str(tmp_path))) == sorted(two.listdir(str(tmp_path)))
    assert digest(tmp_path / "a1") == digest(tmp_path / "a2") == digest(tmp_path / "a")
    assert conn.run("true").exit_status == 0  # the connection outlives its SFTP sessions


def test_recursive_transfer_and_listing_through_sshd(
    conn: sync.SSHConnection, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "x").write_bytes(os.urandom(70_000))
    (tree / "sub" / "y").write_bytes(os.urandom(3))
    with SFTPClient.from_connection(conn) as sftp:
        sftp.put(tree, str(tmp_path / "copy"), recursive=True, preserve=True)
        assert sorted(sftp.listdir(str(tmp_path / "copy"))) == ["sub", "x"]
        sftp.get(str(tmp_path / "copy"), tmp_path / "back", recursive=True)
    assert digest(tmp_path / "back" / "x") == digest(tree / "x")
    assert digest(tmp_path / "back" / "sub" / "y") == digest(tree / "sub" / "y")


def write_blocks(path: Path, size: int) -> str:
    """``size`` incompressible bytes written 1 MiB at a time (a counter makes each block
    distinct, so a block sent twice or out of place changes the digest); their SHA-256."""
    base = random.Random(5).randbytes(MIB)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for i in range(0, size, MIB):
            block = ((i // MIB).to_bytes(8, "big") + base[8:])[: size - i]
            f.write(block)
            digest.update(block)
    return digest.hexdigest()


def streamed_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
def test_one_gib_put_and_get_through_sshd(conn: sync.SSHConnection, tmp_path: Path) -> None:
    src = tmp_path / "src"
    sent = write_blocks(src, BIG)
    try:
        with SFTPClient.from_connection(conn) as sftp:
            sftp.put(src, str(tmp_path / "up"))
            assert sftp.stat(str(tmp_path / "up")).size == BIG
            sftp.get(str(tmp_path / "up"), tmp_path / "down")
        assert streamed_digest(tmp_path / "up") == sent  # what sftp-server wrote
        assert streamed_digest(tmp_path / "down") == sent  # what came back
    finally:  # 3 GiB of disk is not left to the end of the session
        for name in ("src", "up", "down"):
            (tmp_path / name).unlink(missing_ok=True)
