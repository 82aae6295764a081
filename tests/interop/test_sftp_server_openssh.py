"""OpenSSH's ``sftp`` against ``sftp-server-py`` (``sftp -D``: no sshd), and long names
compared with what OpenSSH's own sftp-server sends for the same directory."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SFTP = shutil.which("sftp") or "/usr/bin/sftp"
OPENSSH_SFTP_SERVER = "/usr/lib/openssh/sftp-server"
OURS = f"{sys.executable} -m ssh_sftp"


def sftp(cwd: Path, commands: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run ``sftp -b -`` with our server started in ``cwd``."""
    server = " ".join([OURS, *flags])
    return subprocess.run(
        [SFTP, "-q", "-b", "-", "-D", server],
        input=commands,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    root = tmp_path / "remote"
    root.mkdir()
    return root


@pytest.fixture
def local(tmp_path: Path) -> Path:
    path = tmp_path / "local"
    path.mkdir()
    return path


def test_put_get_round_trip(remote: Path, local: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several of sftp's 32 KiB requests in flight
    (local / "up").write_bytes(data)
    result = sftp(remote, f"put {local / 'up'} up\nget up {local / 'down'}\n")
    assert result.returncode == 0, result.stderr
    assert (remote / "up").read_bytes() == data
    assert (local / "down").read_bytes() == data


def test_reget_and_reput_resume(remote: Path, local: Path) -> None:
    data = os.urandom(1024 * 1024)
    (remote / "big").write_bytes(data)
    (local / "big").write_bytes(data[:1000])
    (local / "up").write_bytes(data)
    (remote / "up").write_bytes(data[:5000])
    result = sftp(remote, f"reget big {local / 'big'}\nreput {local / 'up'} up\n")
    assert result.returncode == 0, result.stderr
    assert (local / "big").read_bytes() == data
    assert (remote / "up").read_bytes() == data


def test_names_links_modes_and_copy(remote: Path) -> None:
    (remote / "f").write_bytes(b"hello")
    commands = (
        "rename f g\nmkdir d\nmkdir gone\nrmdir gone\nsymlink g s\nln g hard\n"
        "chmod 600 g\ncp g d/copy\nrm hard\ndf\n"
    )
    result = sftp(remote, commands)
    assert result.returncode == 0, result.stderr
    assert not (remote / "f").exists() and (remote / "g").read_bytes() == b"hello"
    assert (remote / "d").is_dir() and not (remote / "gone").exists()
    assert os.readlink(remote / "s") == "g"
    assert not (remote / "hard").exists()
    assert (remote / "g").stat().st_mode & 0o777 == 0o600
    assert (remote / "d" / "copy").read_bytes() == b"hello"
    assert "Avail" in result.stdout  # df's header: statvfs answered


def test_hardlink_is_a_link(remote: Path) -> None:
    (remote / "g").write_bytes(b"x")
    result = sftp(remote, "ln g hard\n")
    assert result.returncode == 0, result.stderr
    assert (remote / "hard").stat().st_ino == (remote / "g").stat().st_ino


def test_ls_lists_what_is_there(remote: Path) -> None:
    (remote / "a").write_bytes(b"1")
    (remote / "sub").mkdir()
    result = sftp(remote, "ls -la\n")
    assert result.returncode == 0, result.stderr
    names = [line.split()[-1] for line in result.stdout.splitlines() if line[:1] in "-dl"]
    assert sorted(names) == [".", "..", "a", "sub"]


def test_read_only_refuses_every_change(remote: Path, local: Path) -> None:
    (remote / "f").write_bytes(b"keep")
    (local / "up").write_bytes(b"new")
    commands = (
        f"-put {local / 'up'} up\n-rm f\n-mkdir d\n-rename f g\n-chmod 600 f\n"
        f"-symlink f s\nget f {local / 'got'}\n"
    )
    result = sftp(remote, commands, "-R")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Permission denied") >= 5, result.stderr
    assert sorted(p.name for p in remote.iterdir()) == ["f"]
    assert (remote / "f").read_bytes() == b"keep" and (local / "got").read_bytes() == b"keep"


def test_deny_list_refuses_the_named_requests(remote: Path) -> None:
    (remote / "f").write_bytes(b"x")
    result = sftp(remote, "-rm f\nmkdir d\n", "-P", "remove,rmdir")
    assert result.returncode == 0, result.stderr
    assert "Permission denied" in result.stderr
    assert (remote / "f").exists() and (remote / "d").is_dir()


def test_allow_list_refuses_everything_else(remote: Path, local: Path) -> None:
    (remote / "f").write_bytes(b"x")
    allowed = "open,close,read,stat,lstat,fstat,realpath,opendir,readdir,limits"
    result = sftp(remote, f"get f {local / 'f'}\n-mkdir d\n", "-p", allowed)
    assert result.returncode == 0, result.stderr
    assert (local / "f").read_bytes() == b"x"
    assert not (remote / "d").exists() and "Permission denied" in result.stderr


def test_start_directory_and_umask(remote: Path, local: Path) -> None:
    (local / "up").write_bytes(b"u")
    (remote / "start").mkdir()
    result = sftp(remote, f"pwd\nput {local / 'up'} made\nmkdir dd\n", "-d", "start",
                  "-u", "077")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert str(remote / "start") in result.stdout
    assert (remote / "start" / "dd").stat().st_mode & 0o777 == 0o700


def test_query_requests_matches_openssh() -> None:
    ours = subprocess.run([sys.executable, "-m", "ssh_sftp", "-Q", "requests"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    theirs = subprocess.run([OPENSSH_SFTP_SERVER, "-Q", "requests"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert ours.stdout == theirs.stdout


def test_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="sftp-server-py")
    assert script.value == "ssh_sftp.sftp_server_main:main"


# -- long names, straight from the protocol --------------------------------------------


def _packet(kind: int, body: bytes) -> bytes:
    return struct.pack(">IB", len(body) + 1, kind) + body


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_packet(stream: object) -> tuple[int, bytes]:
    read = stream.read  # type: ignore[attr-defined]
    (length,) = struct.unpack(">I", read(4))
    body = read(length)
    return body[0], body[1:]


def raw_longnames(server: list[str], directory: Path) -> dict[bytes, bytes]:
    """name -> long name from READDIR, as the server sends it."""
    process = subprocess.Popen(server, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(_packet(1, struct.pack(">I", 3)))
        process.stdin.write(_packet(11, struct.pack(">I", 1) + _string(os.fsencode(directory))))
        process.stdin.flush()
        assert _read_packet(process.stdout)[0] == 2
        kind, body = _read_packet(process.stdout)
        assert kind == 102, body
        handle = body[8 : 8 + struct.unpack(">I", body[4:8])[0]]
        names: dict[bytes, bytes] = {}
        while True:
            process.stdin.write(_packet(12, struct.pack(">I", 2) + _string(handle)))
            process.stdin.flush()
            kind, body = _read_packet(process.stdout)
            if kind == 101:
                break
            (count,) = struct.unpack(">I", body[4:8])
            offset = 8
            for _ in range(count):
                fields = []
                for _ in range(2):
                    (n,) = struct.unpack(">I", body[offset : offset + 4])
                    fields.append(body[offset + 4 : offset + 4 + n])
                    offset += 4 + n
                (flags,) = struct.unpack(">I", body[offset : offset + 4])
                assert flags == 0xF
                offset += 4 + 8 + 8 + 4 + 8  # flags, size, uid+gid, mode, times
                names[fields[0]] = fields[1]
        return names
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def test_long_names_match_openssh_sftp_server(remote: Path) -> None:
    (remote / "file").write_bytes(b"x" * 1234)
    (remote / "dir").mkdir()
    os.symlink("file", remote / "link")
    (remote / "old").write_bytes(b"")
    os.utime(remote / "old", (0, 86400 * 400))  # shows the year, not the time
    (remote / "setuid").write_bytes(b"")
    os.chmod(remote / "setuid", 0o4755)
    os.link(remote / "file", remote / "hard")
    os.mkfifo(remote / "fifo")
    (remote / "epoch").write_bytes(b"")
    os.utime(remote / "epoch", (0, 0))  # mtime 0 is a date like any other
    ours = raw_longnames([sys.executable, "-m", "ssh_sftp"], remote)
    theirs = raw_longnames([OPENSSH_SFTP_SERVER], remote)
    assert ours == theirs
    assert len(ours) == 10
    assert b" 1970 epoch" in ours[b"epoch"]


def test_a_broken_client_ends_the_server_with_a_logged_error() -> None:
    argv = [sys.executable, "-m", "ssh_sftp", "-e", "-l", "DEBUG"]
    done = subprocess.run(argv, input=b"\xff\xff\xff\xff", capture_output=True, timeout=30,
                          check=False)  # fmt: skip
    assert done.returncode == 1
    assert b"request length 4294967295" in done.stderr
    quiet = subprocess.run(argv[:3], input=b"\xff\xff\xff\xff", capture_output=True,
                           timeout=30, check=False)  # fmt: skip
    assert quiet.returncode == 1 and quiet.stderr == b""


def test_bad_flags_are_refused_as_sftp_server_does() -> None:
    for flags, status in ((["-u", "9"], 255), (["-l", "bogus"], 1), (["-x"], 1),
                          (["-Q", "foo"], 1), (["-h"], 1)):  # fmt: skip
        ours = subprocess.run([sys.executable, "-m", "ssh_sftp", *flags], input=b"",
                              capture_output=True, timeout=30, check=False)  # fmt: skip
        theirs = subprocess.run([OPENSSH_SFTP_SERVER, *flags], input=b"",
                                capture_output=True, timeout=30, check=False)  # fmt: skip
        assert ours.returncode == theirs.returncode == status, flags
