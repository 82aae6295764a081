"""ssh-sftp's fsspec filesystem ("sftp-py://") against a private sshd whose "sftp" subsystem
is OpenSSH's sftp-server: the calls pandas and dask make, through fsspec's own entry points.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import fsspec
import pytest
from openssh_tools import Sshd, SshdFactory

from ssh_sftp.fsspec_filesystem import SFTPFileSystem

SFTP_SERVER = "/usr/lib/openssh/sftp-server"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]


@pytest.fixture(scope="module")
def user_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fsspeckeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return d / "id"


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, user_key_path: Path) -> Sshd:
    auth = user_key_path.parent / "authorized_keys"
    auth.write_text(Path(f"{user_key_path}.pub").read_text())
    auth.chmod(0o644)
    return sshd_factory.start(
        PermitRootLogin="yes", AuthorizedKeysFile=str(auth), Subsystem=f"sftp {SFTP_SERVER}"
    )


@pytest.fixture(scope="module")
def ssh_config(sshd: Sshd, user_key_path: Path) -> Path:
    """The alias "box" as ssh -F would resolve it: fsspec URLs name only the alias."""
    path = user_key_path.parent / "ssh_config"
    path.write_text(
        f"Host box\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {user_key_path}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    return path


@pytest.fixture(scope="module")
def fs(ssh_config: Path) -> Iterator[SFTPFileSystem]:
    filesystem = fsspec.filesystem("sftp-py", host="box", ssh_config=str(ssh_config))
    assert isinstance(filesystem, SFTPFileSystem)
    yield filesystem
    filesystem.close()
    SFTPFileSystem.clear_instance_cache()


def test_the_protocol_comes_from_the_fsspec_entry_point_and_leaves_sftp_alone() -> None:
    (entry,) = entry_points(group="fsspec.specs", name="sftp-py")
    assert entry.load() is SFTPFileSystem
    assert fsspec.get_filesystem_class("sftp-py") is SFTPFileSystem
    assert "sftp" not in SFTPFileSystem.protocol


def test_write_then_read_a_file_in_binary_and_text_modes(
    fs: SFTPFileSystem, tmp_path: Path
) -> None:
    path = str(tmp_path / "notes.txt")
    with fs.open(path, "wb") as f:
        f.write(b"first\nsecond\n")
    assert (tmp_path / "notes.txt").read_bytes() == b"first\nsecond\n"
    with fs.open(path, "rb") as f:
        assert f.read(5) == b"first"
        f.seek(6)
        assert f.read() == b"second\n"
    with fs.open(path, "r") as f:  # text: fsspec wraps our binary file
        assert f.readlines() == ["first\n", "second\n"]
    assert fs.cat_file(path) == b"first\nsecond\n"
    fs.pipe_file(path, b"replaced")
    assert (tmp_path / "notes.txt").read_bytes() == b"replaced"


def test_info_and_ls_describe_files_directories_and_links(
    fs: SFTPFileSystem, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"12345")
    os.symlink("f", tmp_path / "d" / "l")
    info = fs.info(str(tmp_path / "d" / "f"))
    assert info["type"] == "file" and info["size"] == 5 and info["name"] == str(tmp_path / "d/f")
    assert fs.info(str(tmp_path / "d"))["type"] == "directory"
    link = fs.info(str(tmp_path / "d" / "l"))
    assert link["islink"] and link["type"] == "file" and link["size"] == 5
    assert fs.ls(str(tmp_path / "d"), detail=False) == [str(tmp_path / "d/f"),
                                                        str(tmp_path / "d/l")]  # fmt: skip
    assert {e["name"]: e["type"] for e in fs.ls(str(tmp_path / "d"))} == {
        str(tmp_path / "d/f"): "file", str(tmp_path / "d/l"): "file"
    }  # fmt: skip
    assert fs.exists(str(tmp_path / "d" / "f")) and not fs.exists(str(tmp_path / "nope"))
    assert fs.isdir(str(tmp_path / "d")) and fs.isfile(str(tmp_path / "d" / "f"))
    with pytest.raises(FileNotFoundError):
        fs.info(str(tmp_path / "nope"))


def test_mkdir_rm_and_recursive_rm(fs: SFTPFileSystem, tmp_path: Path) -> None:
    fs.mkdir(str(tmp_path / "a" / "b" / "c"))  # parents too, as fsspec's default
    assert (tmp_path / "a" / "b" / "c").is_dir()
    fs.mkdir(str(tmp_path / "single"), create_parents=False)
    assert (tmp_path / "single").is_dir()
    fs.pipe_file(str(tmp_path / "a" / "b" / "file"), b"x")
    fs.rm(str(tmp_path / "a" / "b" / "file"))
    assert not (tmp_path / "a" / "b" / "file").exists()
    fs.pipe_file(str(tmp_path / "a" / "b" / "c" / "deep"), b"y")
    fs.rm(str(tmp_path / "a"), recursive=True)
    assert not (tmp_path / "a").exists()
    fs.rmdir(str(tmp_path / "single"))
    assert not (tmp_path / "single").exists()


def test_get_put_copy_and_move(fs: SFTPFileSystem, tmp_path: Path) -> None:
    data = os.urandom(1024 * 1024 + 3)
    (tmp_path / "local.bin").write_bytes(data)
    fs.put(str(tmp_path / "local.bin"), str(tmp_path / "remote.bin"))
    fs.get(str(tmp_path / "remote.bin"), str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    fs.cp_file(str(tmp_path / "remote.bin"), str(tmp_path / "copy.bin"))
    fs.mv(str(tmp_path / "copy.bin"), str(tmp_path / "moved.bin"))
    assert not (tmp_path / "copy.bin").exists()
    assert (
        hashlib.sha256((tmp_path / "moved.bin").read_bytes()).digest()
        == hashlib.sha256(data).digest()
    )


def test_pandas_style_fsspec_open_with_a_url(
    fs: SFTPFileSystem, ssh_config: Path, tmp_path: Path
) -> None:
    (tmp_path / "table.csv").write_text("a,b\n1,2\n3,4\n")
    url = f"sftp-py://box{tmp_path / 'table.csv'}"
    with fsspec.open(url, "rt", ssh_config=str(ssh_config)) as f:
        rows = [line.strip().split(",") for line in f]
    assert rows == [["a", "b"], ["1", "2"], ["3", "4"]]
    out = f"sftp-py://box{tmp_path / 'written.csv'}"
    with fsspec.open(out, "wt", ssh_config=str(ssh_config)) as f:
        f.write("x,y\n5,6\n")
    assert (tmp_path / "written.csv").read_text() == "x,y\n5,6\n"


def test_url_parts_become_connect_arguments() -> None:
    kwargs = SFTPFileSystem._get_kwargs_from_urls("sftp-py://alice@example.org:2222/srv/x")
    assert kwargs == {"host": "example.org", "port": 2222, "username": "alice"}
    assert SFTPFileSystem._strip_protocol("sftp-py://alice@example.org:2222/srv/x/") == "/srv/x"


def test_the_readme_example_runs_with_fsspecs_configured_options(
    ssh_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = Path(__file__).resolve().parents[2] / "packages/ssh-sftp/README.md"
    (block,) = [b for b in re.findall(r"^```python\n(.*?)^```", readme.read_text(), re.M | re.S)
                if "sftp-py" in b]  # fmt: skip
    # fsspec's per-protocol defaults stand in for the user's ~/.ssh/config.
    monkeypatch.setitem(fsspec.config.conf, "sftp-py", {"ssh_config": str(ssh_config)})
    namespace: dict[str, object] = {}
    exec(compile(block, str(readme), "exec"), namespace)
    try:
        run = namespace["publish_and_read"]
        lines = run("box", str(tmp_path / "reports"))  # type: ignore[operator]
    finally:
        SFTPFileSystem.clear_instance_cache()
    assert lines == ["day,visits\n", "mon,3\n"]
    assert (tmp_path / "reports" / "week.csv").read_bytes() == b"day,visits\nmon,3\n"
