"""Both front ends against OpenSSH's real sftp-server, run on pipes (no sshd needed).

Each test runs twice: with the blocking ``SFTPClient`` and with ``AsyncSFTPClient`` driven
through a small adapter that runs its coroutines on an event loop. The server starts in a
fresh temporary directory (``sftp-server -d``), so relative paths land there.
"""

from __future__ import annotations

import asyncio
import grp
import hashlib
import inspect
import io
import os
import pwd
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ssh_sftp import (
    BadMessage,
    NoSuchFile,
    OperationUnsupported,
    PermissionDenied,
    SFTPAttributes,
    SFTPFailure,
    longname,
)
from ssh_sftp.aio import AsyncSFTPClient, AsyncSFTPFile
from ssh_sftp.messages import OPENSSH_EXTENSIONS
from ssh_sftp.sync import SFTPClient

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not os.access(SFTP_SERVER, os.X_OK), reason="OpenSSH sftp-server not installed"
)


class Blocking:
    """Runs an asyncio object's coroutine methods to completion, so one test body serves
    both front ends."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def _wrap(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            value = self._loop.run_until_complete(value)
        if isinstance(value, (AsyncSFTPClient, AsyncSFTPFile)):
            return Blocking(value, self._loop)
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        if inspect.isasyncgenfunction(attr):
            return lambda *a, **k: self._drain(attr(*a, **k))
        return lambda *a, **k: self._wrap(attr(*a, **k))

    def _drain(self, agen: Any) -> Iterator[Any]:
        async def collect() -> list[Any]:
            return [x async for x in agen]

        return iter(self._loop.run_until_complete(collect()))

    def __enter__(self) -> Blocking:
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.run_until_complete(self._target.__aexit__(*exc))

    def __iter__(self) -> Iterator[bytes]:
        async def lines() -> list[bytes]:
            return [line async for line in self._target]

        return iter(self._loop.run_until_complete(lines()))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "remote"
    d.mkdir()
    return d


@pytest.fixture
def local(tmp_path: Path) -> Path:
    d = tmp_path / "local"
    d.mkdir()
    return d


_LOOPS: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def _close_loops() -> Iterator[None]:
    yield
    while _LOOPS:
        _LOOPS.pop().close()


def open_client(kind: str, argv: list[str], **options: Any) -> tuple[Any, Callable[[], None]]:
    if kind == "sync":
        client = SFTPClient.from_command(argv, **options)
        return client, client.close
    loop = asyncio.new_event_loop()
    _LOOPS.append(loop)
    aclient = loop.run_until_complete(AsyncSFTPClient.from_command(argv, **options))
    return Blocking(aclient, loop), lambda: loop.run_until_complete(aclient.close())


@pytest.fixture(params=["sync", "aio"])
def front(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(front: str, root: Path) -> Iterator[Callable[..., Any]]:
    closers: list[Callable[[], None]] = []

    def make(*flags: str) -> Any:
        client, close = open_client(front, [SFTP_SERVER, "-d", str(root), *flags])
        closers.append(close)
        return client

    yield make
    for close in closers:
        close()


@pytest.fixture
def sftp(make_client: Callable[..., Any]) -> Any:
    return make_client()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# -- negotiation -----------------------------------------------------------------------------


def test_the_server_offers_every_openssh_extension_and_its_limits(sftp: Any) -> None:
    assert sftp.extensions == dict(OPENSSH_EXTENSIONS)
    assert sftp.limits.read_size == 261120
    assert sftp.limits.write_size == 261120


# -- transfers -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3 * MIB + 12345])
def test_put_then_get_gives_the_same_bytes(sftp: Any, root: Path, local: Path, size: int) -> None:
    src = random_file(local / "src", size)
    sftp.put(src, "up")
    assert digest(root / "up") == digest(src)
    sftp.get("up", local / "down")
    assert digest(local / "down") == digest(src)


def test_small_chunks_keep_many_requests_in_flight(front: str, root: Path, local: Path) -> None:
    client, close = open_client(front, [SFTP_SERVER, "-d", str(root)], chunk_size=1000)
    try:
        assert client.limits.read_size == client.limits.write_size == 1000
        src = random_file(local / "src", 300_001)
        client.put(src, "up")
        client.get("up", local / "down")
        assert digest(local / "down") == digest(src)
    finally:
        close()


def test_progress_reports_every_chunk_up_to_the_total(sftp: Any, local: Path) -> None:
    src = random_file(local / "src", MIB + 7)
    seen: list[tuple[int, int]] = []
    sftp.put(src, "up", callback=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, MIB + 7) and seen[-1] == (MIB + 7, MIB + 7)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    sftp.get("up", local / "down", callback=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (MIB + 7, MIB + 7) and len(seen) >= 5


def test_reget_appends_only_what_the_local_file_lacks(sftp: Any, root: Path, local: Path) -> None:
    full = os.urandom(MIB + 99)
    (root / "f").write_bytes(full)
    (local / "f").write_bytes(full[:400_000])
    seen: list[int] = []
    sftp.get("f", local / "f", resume=True, callback=lambda d, t: seen.append(d))
    assert (local / "f").read_bytes() == full
    assert seen[0] == 400_000


def test_reput_sends_only_what_the_remote_file_lacks(sftp: Any, root: Path, local: Path) -> None:
    full = os.urandom(MIB + 99)
    (local / "f").write_bytes(full)
    (root / "f").write_bytes(full[:123_456])
    sftp.put(local / "f", "f", resume=True)
    assert (root / "f").read_bytes() == full
    sftp.put(local / "f", "new", resume=True)  # nothing there yet: a whole upload
    assert (root / "new").read_bytes() == full


def test_resume_refuses_a_target_larger_than_the_source(sftp: Any, root: Path, local: Path) -> None:
    (root / "f").write_bytes(b"short")
    (local / "f").write_bytes(b"much longer")
    with pytest.raises(ValueError, match="larger"):
        sftp.get("f", local / "f", resume=True)


def test_preserve_copies_times_and_modes_both_ways(sftp: Any, root: Path, local: Path) -> None:
    src = random_file(local / "src", 1000)
    os.chmod(src, 0o640)
    os.utime(src, (1_000_000_000, 1_100_000_000))
    sftp.put(src, "up", preserve=True)
    st = os.stat(root / "up")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime == 1_100_000_000
    os.chmod(root / "up", 0o604)
    os.utime(root / "up", (1_200_000_000, 1_300_000_000))
    sftp.get("up", local / "down", preserve=True)
    st = os.stat(local / "down")
    assert stat.S_IMODE(st.st_mode) == 0o604
    assert (st.st_atime, st.st_mtime) == (1_200_000_000, 1_300_000_000)


def make_tree(top: Path) -> None:
    (top / "a" / "b").mkdir(parents=True)
    random_file(top / "one", 10)
    random_file(top / "a" / "two", 70_000)
    random_file(top / "a" / "b" / "three", 0)
    (top / "empty").mkdir()
    os.symlink("one", top / "link")


def tree(top: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for d in dirs:
            out[os.path.join(rel, d)] = "dir"
        for f in files:
            p = Path(dirpath) / f
            out[os.path.join(rel, f)] = "link" if p.is_symlink() else digest(p)
    return out


def test_recursive_put_and_get_copy_a_tree_and_skip_symlinks(
    sftp: Any, root: Path, local: Path
) -> None:
    make_tree(local / "tree")
    sftp.put(local / "tree", "tree", recursive=True)
    expected = {k: v for k, v in tree(local / "tree").items() if v != "link"}
    assert tree(root / "tree") == expected
    sftp.get("tree", local / "back", recursive=True)
    assert tree(local / "back") == expected


def test_a_directory_needs_recursive(sftp: Any, root: Path, local: Path) -> None:
    (root / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        sftp.get("d", local / "d")
    with pytest.raises(IsADirectoryError):
        sftp.put(local, "x")


# -- directories and paths -------------------------------------------------------------------


def test_listdir_and_scandir_show_names_attributes_and_openssh_long_names(
    sftp: Any, root: Path
) -> None:
    random_file(root / "f", 5)
    (root / "d").mkdir()
    os.symlink("f", root / "l")
    random_file(root / "e", 0)
    os.utime(root / "e", (0, 0))  # OpenSSH prints mtime 0 as a date: ours must too
    assert sorted(sftp.listdir()) == ["d", "e", "f", "l"]
    entries = {e.filename: e for e in sftp.scandir(".")}
    assert entries["f"].attrs.size == 5 and entries["f"].attrs.is_file()
    assert entries["d"].attrs.is_dir()
    assert entries["l"].attrs.is_symlink()  # readdir attributes are lstat's
    for name, entry in entries.items():
        st = os.lstat(root / name)
        ours = longname(
            name,
            entry.attrs,
            now=time.time(),
            user=pwd.getpwuid(st.st_uid).pw_name,
            group=grp.getgrgid(st.st_gid).gr_name,
            nlink=st.st_nlink,
        )
        assert entry.longname == ours


def test_stat_lstat_symlink_and_readlink(sftp: Any, root: Path) -> None:
    random_file(root / "target", 3)
    sftp.symlink("target", "link")
    assert os.readlink(root / "link") == "target"  # OpenSSH's argument order
    assert sftp.readlink("link") == "target"
    assert sftp.stat("link").is_file()
    assert sftp.lstat("link").is_symlink()


def test_mkdir_makedirs_rmdir_remove(sftp: Any, root: Path) -> None:
    sftp.mkdir("d", 0o750)
    assert stat.S_IMODE(os.stat(root / "d").st_mode) == 0o750 & ~current_umask()
    sftp.makedirs("x/y/z")
    assert (root / "x" / "y" / "z").is_dir()
    sftp.makedirs("x/y/z", exist_ok=True)
    with pytest.raises(FileExistsError):
        sftp.makedirs("x/y")
    sftp.rmdir("d")
    assert not (root / "d").exists()
    random_file(root / "f", 1)
    sftp.remove("f")
    assert not (root / "f").exists()
    assert not sftp.exists("f") and sftp.isdir("x") and not sftp.isfile("x")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_rename_replaces_an_existing_target_with_posix_rename(sftp: Any, root: Path) -> None:
    (root / "a").write_bytes(b"new")
    (root / "b").write_bytes(b"old")
    sftp.rename("a", "b")
    assert (root / "b").read_bytes() == b"new" and not (root / "a").exists()


def test_chmod_chown_utime_truncate(sftp: Any, root: Path) -> None:
    (root / "f").write_bytes(b"0123456789")
    sftp.chmod("f", 0o600)
    assert stat.S_IMODE(os.stat(root / "f").st_mode) == 0o600
    st = os.stat(root / "f")
    sftp.chown("f", st.st_uid, st.st_gid)
    sftp.utime("f", (1_000_000_000, 1_000_000_100))
    assert os.stat(root / "f").st_mtime == 1_000_000_100
    sftp.utime("f")
    assert abs(os.stat(root / "f").st_mtime - time.time()) < 3600
    sftp.truncate("f", 4)
    assert (root / "f").read_bytes() == b"0123"
    sftp.setstat("f", SFTPAttributes(size=2))
    assert (root / "f").read_bytes() == b"01"


def test_lsetstat_changes_the_link_not_its_target(sftp: Any, root: Path) -> None:
    (root / "f").write_bytes(b"x")
    os.utime(root / "f", (1_000_000_000, 1_000_000_000))
    os.symlink("f", root / "l")
    sftp.lsetstat("l", SFTPAttributes(atime=1_500_000_000, mtime=1_500_000_000))
    assert os.lstat(root / "l").st_mtime == 1_500_000_000
    assert os.stat(root / "f").st_mtime == 1_000_000_000


def test_hardlink_copy_statvfs_realpath(sftp: Any, root: Path) -> None:
    random_file(root / "f", 100_000)
    os.chmod(root / "f", 0o640)
    sftp.hardlink("f", "h")
    assert os.stat(root / "h").st_ino == os.stat(root / "f").st_ino
    sftp.copy("f", "c")
    assert digest(root / "c") == digest(root / "f")
    assert stat.S_IMODE(os.stat(root / "c").st_mode) == 0o640
    vfs = sftp.statvfs(".")
    assert vfs.bsize == os.statvfs(root).f_bsize and vfs.namemax == os.statvfs(root).f_namemax
    assert sftp.realpath(".") == str(root)
    (root / "x").mkdir()
    assert sftp.realpath("x/../f") == str(root / "f")
    assert sftp.realpath("~") == str(root)  # sftp-server: ~ is the start directory
    assert (
        sftp.realpath(f"~{pwd.getpwuid(os.getuid()).pw_name}") == pwd.getpwuid(os.getuid()).pw_dir
    )


def test_users_groups_by_id_and_home_directory(sftp: Any) -> None:
    me = os.getuid()
    users, groups = sftp.users_groups_by_id([me], [os.getgid()])
    assert users == [pwd.getpwuid(me).pw_name]
    assert groups == [grp.getgrgid(os.getgid()).gr_name]
    name = pwd.getpwuid(me).pw_name
    assert sftp.home_directory(name) == pwd.getpwuid(me).pw_dir


def test_walk_and_glob(sftp: Any, root: Path) -> None:
    make_tree(root / "t")
    random_file(root / "t" / ".hidden", 1)
    walked = {d: (sorted(ds), sorted(fs)) for d, ds, fs in sftp.walk("t")}
    assert walked["t"] == (["a", "empty"], [".hidden", "link", "one"])
    assert walked["t/a/b"] == ([], ["three"])
    assert sftp.glob("t/*") == ["t/a", "t/empty", "t/link", "t/one"]
    assert sftp.glob("t/.*") == ["t/.hidden"]
    assert sftp.glob("t/*/t*") == ["t/a/two"]
    assert sftp.glob(f"{root}/t/a/b/*") == [f"{root}/t/a/b/three"]
    assert sftp.glob("t/a/nothing*") == []
    assert sftp.glob("t/one") == ["t/one"] and sftp.glob("t/none") == []


# -- file objects ----------------------------------------------------------------------------


def test_file_read_seek_readline_and_iteration(sftp: Any, root: Path) -> None:
    body = b"".join(b"line %d\n" % i for i in range(20_000)) + b"tail"
    (root / "f").write_bytes(body)
    with sftp.open("f", "rb") as f:
        assert f.read(5) == b"line "
        assert f.readline() == b"0\n"
        assert f.tell() == 7
        assert f.seek(-4, io.SEEK_END) == len(body) - 4
        assert f.read() == b"tail" and f.read() == b""
        f.seek(0)
        assert f.read() == body  # many requests in flight
        f.seek(0)
        lines = list(f)
    assert lines == body.splitlines(keepends=True)
    assert f.closed


def test_file_write_append_truncate_stat(sftp: Any, root: Path) -> None:
    big = os.urandom(2 * MIB + 3)
    with sftp.open("f", "w") as f:
        assert f.write(b"hello ") == 6
        f.write(big)
        assert f.tell() == 6 + len(big)
        assert f.stat().size == 6 + len(big)
    assert (root / "f").read_bytes() == b"hello " + big
    with sftp.open("f", "a") as f:
        f.write(b"!")
    assert (root / "f").read_bytes()[-1:] == b"!"
    with sftp.open("f", "r+") as f:
        f.seek(2)
        f.write(b"LL")
        f.truncate(6)
        f.fsync()
        f.chmod(0o600)
        assert f.statvfs().namemax == os.statvfs(root).f_namemax
    assert (root / "f").read_bytes() == b"heLLo "
    assert stat.S_IMODE(os.stat(root / "f").st_mode) == 0o600


def test_file_modes_are_enforced(sftp: Any, root: Path) -> None:
    (root / "f").write_bytes(b"x")
    with sftp.open("f", "r") as f, pytest.raises(io.UnsupportedOperation):
        f.write(b"y")
    with sftp.open("f", "a") as f, pytest.raises(io.UnsupportedOperation):
        f.read()
    with pytest.raises(SFTPFailure):  # OpenSSH answers EEXIST with FAILURE
        sftp.open("f", "x")
    with pytest.raises(ValueError, match="mode"):
        sftp.open("f", "rt")


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_file_is_no_such_file_and_file_not_found(sftp: Any) -> None:
    with pytest.raises(NoSuchFile) as info:
        sftp.stat("missing")
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.filename == "missing"
    assert info.value.strerror == "No such file"


def test_a_denied_request_is_permission_denied(make_client: Callable[..., Any], root: Path) -> None:
    (root / "f").write_bytes(b"x")
    sftp = make_client("-P", "remove")
    with pytest.raises(PermissionDenied) as info:
        sftp.remove("f")
    assert isinstance(info.value, PermissionError)
    assert (root / "f").exists()


def test_a_read_only_server_refuses_writes(make_client: Callable[..., Any]) -> None:
    sftp = make_client("-R")
    with pytest.raises(PermissionError):
        sftp.mkdir("d")


def test_existing_directory_is_failure_and_readlink_of_a_file_is_bad_message(
    sftp: Any, root: Path
) -> None:
    (root / "d").mkdir()
    (root / "f").write_bytes(b"")
    with pytest.raises(SFTPFailure):
        sftp.mkdir("d")
    with pytest.raises(BadMessage):  # EINVAL, mapped as sftp-server does
        sftp.readlink("f")


def test_an_unknown_extension_is_operation_unsupported(sftp: Any) -> None:
    with pytest.raises(OperationUnsupported):
        sftp.extended("nothing@pyssh.test", b"")


def test_errors_leave_the_session_usable(sftp: Any, root: Path) -> None:
    for _ in range(3):
        with pytest.raises(FileNotFoundError):
            sftp.open("missing")
    (root / "f").write_bytes(b"ok")
    with sftp.open("f") as f:
        assert f.read() == b"ok"


# -- sharing one client ----------------------------------------------------------------------


def test_threads_share_one_blocking_client(root: Path, local: Path) -> None:
    files = {f"f{i}": os.urandom(200_000 + i) for i in range(6)}
    for name, data in files.items():
        (root / name).write_bytes(data)
    errors: list[BaseException] = []
    with SFTPClient.from_command([SFTP_SERVER, "-d", str(root)]) as sftp:

        def fetch(name: str) -> None:
            try:
                sftp.get(name, local / name)
                assert sftp.stat(name).size == len(files[name])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=fetch, args=(n,)) for n in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for name, data in files.items():
        assert (local / name).read_bytes() == data


def test_tasks_share_one_asyncio_client(root: Path, local: Path) -> None:
    files = {f"f{i}": os.urandom(200_000 + i) for i in range(6)}
    for name, data in files.items():
        (root / name).write_bytes(data)

    async def main() -> None:
        async with await AsyncSFTPClient.from_command([SFTP_SERVER, "-d", str(root)]) as sftp:
            await asyncio.gather(*(sftp.get(n, local / n) for n in files))
            sizes = await asyncio.gather(*(sftp.stat(n) for n in files))
            assert [s.size for s in sizes] == [len(d) for d in files.values()]

    asyncio.run(main())
    for name, data in files.items():
        assert (local / name).read_bytes() == data


def test_closing_fails_later_calls_clearly(front: str, root: Path) -> None:
    client, close = open_client(front, [SFTP_SERVER, "-d", str(root)])
    close()
    with pytest.raises(ConnectionError):
        client.stat(".")


def test_the_server_exiting_gives_connection_closed(front: str, root: Path) -> None:
    client, close = open_client(
        front, [shutil.which("sh") or "/bin/sh", "-c", f"exec {SFTP_SERVER} -d {root}"]
    )
    try:
        client.stat(".")
        target = client._target if front == "aio" else client
        target._stream.process.kill()
        with pytest.raises(ConnectionError):
            client.stat(".")
    finally:
        close()


def test_bad_options_raise_before_any_request(front: str, root: Path) -> None:
    with pytest.raises(ValueError, match="max_requests"):
        open_client(front, [SFTP_SERVER, "-d", str(root)], max_requests=0)
