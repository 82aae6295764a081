"""LocalFileSystem: a root that cannot be escaped, and the chroot-less mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssh_sftp.filesystem import (
    OPEN_CREATE,
    OPEN_READ,
    OPEN_TRUNCATE,
    OPEN_WRITE,
    Changes,
    FileSystem,
    LocalFileSystem,
)

SECRET = b"outside the root"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "dir").mkdir()
    (root / "dir" / "file").write_bytes(b"inside")
    return tmp_path


@pytest.fixture
def fs(tree: Path) -> Iterator[LocalFileSystem]:
    local = LocalFileSystem(tree / "root")
    yield local
    local.close_root()


def read_all(fs: LocalFileSystem, path: bytes) -> bytes:
    handle = fs.open(path, OPEN_READ, None)
    try:
        return fs.read(handle, 0, 1 << 16)
    finally:
        fs.close(handle)


def test_is_a_filesystem(fs: LocalFileSystem) -> None:
    assert isinstance(fs, FileSystem)


def test_reads_inside(fs: LocalFileSystem) -> None:
    assert read_all(fs, b"/dir/file") == b"inside"
    assert read_all(fs, b"dir/./file") == b"inside"


def test_dotdot_stops_at_the_root(fs: LocalFileSystem) -> None:
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"../outside/secret")
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"/dir/../../../outside/secret")
    assert read_all(fs, b"/../../dir/file") == b"inside"
    assert fs.realpath(b"/../..") == b"/"
    assert fs.realpath(b"dir/../dir/file") == b"/dir/file"


def test_absolute_paths_are_inside(fs: LocalFileSystem, tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_all(fs, os.fsencode(tree / "outside" / "secret"))


def test_symlink_pointing_out_absolute_is_read_in_the_root(fs: LocalFileSystem, tree: Path) -> None:
    os.symlink(tree / "outside" / "secret", tree / "root" / "abs")
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"abs")
    with pytest.raises(FileNotFoundError):
        fs.stat(b"abs")


def test_symlink_pointing_out_relative_stops_at_the_root(fs: LocalFileSystem, tree: Path) -> None:
    os.symlink("../outside/secret", tree / "root" / "rel")
    os.symlink("../../..", tree / "root" / "dir" / "up")
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"rel")
    assert fs.realpath(b"dir/up") == b"/"
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"dir/up/outside/secret")


def test_symlink_created_by_the_client_then_followed(fs: LocalFileSystem, tree: Path) -> None:
    fs.symlink(os.fsencode(tree / "outside"), b"/link")
    fs.symlink(b"../../outside/secret", b"/dir/link2")
    for path in (b"/link/secret", b"/dir/link2"):
        with pytest.raises(FileNotFoundError):
            read_all(fs, path)
    # Writing through them creates nothing outside either.
    fs.mkdir(b"/outside", None)
    handle = fs.open(b"/dir/link2", OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE, None)
    fs.write(handle, 0, b"x")
    fs.close(handle)
    assert (tree / "outside" / "secret").read_bytes() == SECRET
    assert (tree / "root" / "outside" / "secret").read_bytes() == b"x"


def test_symlink_then_renamed_stays_inside(fs: LocalFileSystem, tree: Path) -> None:
    fs.symlink(b"../outside", b"/dir/l")
    fs.rename(b"/dir/l", b"/moved", False)
    with pytest.raises(FileNotFoundError):
        read_all(fs, b"/moved/secret")


def test_setstat_through_a_link_stays_inside(fs: LocalFileSystem, tree: Path) -> None:
    secret = tree / "outside" / "secret"
    mode = secret.stat().st_mode
    os.symlink(secret, tree / "root" / "abs")
    with pytest.raises(FileNotFoundError):
        fs.setstat(b"abs", Changes(mode=0o777))
    with pytest.raises(FileNotFoundError):
        fs.setstat(b"abs", Changes(size=0))
    assert secret.stat().st_mode == mode and secret.read_bytes() == SECRET


def test_hardlink_cannot_reach_outside(fs: LocalFileSystem, tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fs.hardlink(os.fsencode(tree / "outside" / "secret"), b"/hl")
    os.symlink(tree / "outside" / "secret", tree / "root" / "abs")
    fs.hardlink(b"/abs", b"/hl")  # links the link itself, never its target
    assert os.path.islink(tree / "root" / "hl")


def test_symlink_loop_is_an_error(fs: LocalFileSystem, tree: Path) -> None:
    os.symlink("a", tree / "root" / "b")
    os.symlink("b", tree / "root" / "a")
    with pytest.raises(OSError, match="symbolic links"):
        fs.stat(b"a")


def test_symlink_swapped_in_after_resolution_is_not_followed(
    fs: LocalFileSystem, tree: Path
) -> None:
    # What a rename race leaves: the walk resolved "dir" as a directory, then someone
    # made it a link out. Every later step is relative to descriptors we hold, and the
    # last component is opened O_NOFOLLOW: simulate by resolving, swapping, then using.
    walk, name = fs._walk(b"/dir/file", follow_last=True)
    try:
        os.rename(tree / "root" / "dir", tree / "root" / "old")
        os.symlink(tree / "outside", tree / "root" / "dir")
        os.symlink(tree / "outside" / "secret", tree / "root" / "old" / "swap")
        assert name == b"file"
        with pytest.raises(OSError, match="symbolic links"):
            os.open(b"swap", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=walk.fd)
        # The held descriptor is the directory itself, moved or not.
        assert os.stat(b"file", dir_fd=walk.fd).st_size == len(b"inside")
    finally:
        walk.release(keep_last=False)


def test_read_only_refuses_changes(tree: Path) -> None:
    fs = LocalFileSystem(tree / "root", read_only=True)
    with pytest.raises(OSError, match="read-only"):
        fs.open(b"/new", OPEN_WRITE | OPEN_CREATE, None)
    with pytest.raises(OSError, match="read-only"):
        fs.remove(b"/dir/file")
    assert read_all(fs, b"/dir/file") == b"inside"
    fs.close_root()


def test_directory_listing_has_dots_and_entries(fs: LocalFileSystem) -> None:
    handle = fs.opendir(b"/dir")
    names = []
    while batch := fs.readdir(handle):
        names += [entry.name for entry in batch]
    fs.close(handle)
    assert sorted(names) == [b".", b"..", b"file"]


def test_rename_without_overwrite_refuses_an_existing_target(fs: LocalFileSystem) -> None:
    handle = fs.open(b"/other", OPEN_WRITE | OPEN_CREATE, None)
    fs.close(handle)
    with pytest.raises(FileExistsError):
        fs.rename(b"/other", b"/dir/file", False)
    fs.rename(b"/other", b"/dir/file", True)
    assert read_all(fs, b"/dir/file") == b""


def test_nul_in_a_path_is_refused(fs: LocalFileSystem) -> None:
    with pytest.raises(OSError, match="NUL"):
        fs.stat(b"dir\0/file")


def test_no_root_serves_the_filesystem_from_start(tree: Path) -> None:
    fs = LocalFileSystem(None, start=str(tree))
    assert read_all(fs, b"outside/secret") == SECRET
    assert fs.realpath(b".") == os.fsencode(os.path.realpath(tree))
    assert fs.expand_path(b"~") == os.fsencode(os.path.realpath(os.path.expanduser("~")))


def test_a_walk_deeper_than_any_path_is_refused(fs: LocalFileSystem, tree: Path) -> None:
    deep = tree / "root"
    # Build the tree with descriptors: a path string this deep is longer than PATH_MAX.
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(2100):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    try:
        with pytest.raises(OSError, match="too deep"):
            fs.stat(b"d/" * 2100)
    finally:
        remove_chain(deep, 2100)


def remove_chain(top: Path, depth: int) -> None:
    """Remove ``top/d/d/...`` bottom-up with two descriptors at a time: pytest's and
    shutil's recursive removal hit Python's recursion limit on a tree this deep, and a
    leftover one broke later pytest runs cleaning their old temporary directories."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    for _ in range(depth):
        parent = os.open("..", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        os.rmdir("d", dir_fd=parent)
        fd = parent
    os.close(fd)
