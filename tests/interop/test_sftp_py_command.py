"""``sftp-py`` against a private sshd (OpenSSH's sftp-server as its "sftp" subsystem), the
host resolved through an ssh_config file as ``ssh -F FILE alias`` would."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from openssh_tools import Sshd, SshdFactory

from ssh_sftp import sftp_py_main

SFTP_SERVER = "/usr/lib/openssh/sftp-server"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,  # each case starts the command (python, a login) once or more
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]


@pytest.fixture(scope="module")
def user_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sftppykeys")
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
    path = user_key_path.parent / "ssh_config"
    path.write_text(
        "Host box\n"
        "  HostName 127.0.0.1\n"
        f"  Port {sshd.port}\n"
        "  User root\n"
        f"  IdentityFile {user_key_path}\n"
        "  IdentitiesOnly yes\n"
        "  IdentityAgent none\n"
        "  StrictHostKeyChecking no\n"
        "  UserKnownHostsFile /dev/null\n"
    )
    return path


def sftp_py(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "ssh_sftp.sftp_py_main", "-F", str(config), "box", *args]
    return subprocess.run(argv, capture_output=True, timeout=120, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_console_script_is_declared() -> None:
    (script,) = entry_points(group="console_scripts", name="sftp-py")
    assert script.value == "ssh_sftp.sftp_py_main:main"


def test_put_then_get_round_trips_and_draws_no_bar_when_not_a_tty(
    ssh_config: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    put = sftp_py(ssh_config, "put", str(src), str(tmp_path / "remote.bin"))
    assert put.returncode == 0, put.stderr
    # stderr has ssh's "Permanently added ... to the list of known hosts", and no bar.
    assert put.stdout == b"" and b"\r" not in put.stderr and b"%" not in put.stderr
    got = sftp_py(ssh_config, "get", str(tmp_path / "remote.bin"), str(tmp_path / "back.bin"))
    assert got.returncode == 0, got.stderr
    assert b"\r" not in got.stderr and b"%" not in got.stderr
    assert digest(tmp_path / "back.bin") == digest(src)


def test_ls_lists_names_hides_dot_files_and_l_prints_long_lines(
    ssh_config: Path, tmp_path: Path
) -> None:
    (tmp_path / "b.txt").write_bytes(b"12345")
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").write_bytes(b"")
    plain = sftp_py(ssh_config, "ls", str(tmp_path))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.decode().splitlines() == ["a", "b.txt"]
    every = sftp_py(ssh_config, "ls", "-a", str(tmp_path))
    assert every.stdout.decode().splitlines() == [".hidden", "a", "b.txt"]
    long = sftp_py(ssh_config, "ls", "-l", str(tmp_path)).stdout.decode().splitlines()
    assert long[0].startswith("drwx") and long[0].endswith(" a")
    assert long[1].startswith("-rw") and long[1].endswith(" b.txt")
    assert " 5 " in long[1]  # the size column


def test_mkdir_and_rm_change_the_server_side(ssh_config: Path, tmp_path: Path) -> None:
    (tmp_path / "gone").write_bytes(b"x")
    made = sftp_py(ssh_config, "mkdir", str(tmp_path / "d1"), str(tmp_path / "d2"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "d1").is_dir() and (tmp_path / "d2").is_dir()
    removed = sftp_py(ssh_config, "rm", str(tmp_path / "gone"))
    assert removed.returncode == 0, removed.stderr
    assert not (tmp_path / "gone").exists()


def test_a_missing_remote_file_fails_with_the_servers_message(
    ssh_config: Path, tmp_path: Path
) -> None:
    result = sftp_py(ssh_config, "get", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert result.returncode == 1
    assert b"No such file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_command_or_bad_arguments_are_usage_errors(ssh_config: Path) -> None:
    assert sftp_py(ssh_config, "chmod", "x").returncode == 2
    assert sftp_py(ssh_config, "get").returncode == 2


def test_an_unreachable_host_exits_255(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host box\n  HostName 127.0.0.1\n  Port 1\n  ConnectTimeout 5\n")
    result = sftp_py(config, "ls")
    assert result.returncode == 255
    assert result.stderr.startswith(b"sftp-py: 127.0.0.1") or b"box" in result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar_that_ends_at_100_percent(
    ssh_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024))
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sftp_py_main, "PROGRESS_DELAY", 0.0)  # every transfer is "long"
    status = sftp_py_main.main(["-F", str(ssh_config), "box", "get", str(src),
                                str(tmp_path / "copy.bin")])  # fmt: skip
    assert status == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\rbig.bin [")
    last = drawn.rstrip("\n").split("\r")[-1]
    assert " 100% " in last and "2.0 MiB" in last
    assert drawn.endswith("\n")
    assert digest(tmp_path / "copy.bin") == digest(src)
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert sftp_py_main.main(["-F", str(ssh_config), "-q", "box", "get", str(src),
                              str(tmp_path / "copy2.bin")]) == 0  # fmt: skip
    assert quiet.getvalue() == ""
