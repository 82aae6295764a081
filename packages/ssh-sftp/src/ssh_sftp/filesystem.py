"""What an SFTP server serves: the :class:`FileSystem` protocol and :class:`LocalFileSystem`.

A backend works on the paths exactly as the client sent them (bytes) and raises
:class:`OSError` with an errno; the server turns those into SFTP status codes. Handles are
opaque objects the backend returns from :meth:`FileSystem.open` / :meth:`FileSystem.opendir`.

:class:`LocalFileSystem` with a ``root`` serves that directory as ``/`` and cannot be
escaped. Every path is resolved by us, one component at a time, relative to a directory
file descriptor we already hold (``os.open(name, O_NOFOLLOW | O_DIRECTORY, dir_fd=parent)``):

- ``..`` pops our own stack of held descriptors and stops at the root; the kernel's ``..``
  is never used, so a directory moved elsewhere while we hold it cannot lead us out;
- a symbolic link is read (``readlink`` at the held parent) and its target is resolved by
  the same walk, absolute targets from the root, so a link to ``/etc`` means ``ROOT/etc``;
- the last component is acted on through the held parent with ``O_NOFOLLOW`` (or the
  ``*at`` call's no-follow flag, or an ``O_PATH`` descriptor), so a link swapped in after
  resolution fails with ELOOP instead of being followed;
- ``rename`` and ``link`` take both names through held parents; ``link`` never follows,
  so a client can only link files already inside.

Nothing is ever looked up by a full path string, which is what makes rename races
harmless: each step is relative to a descriptor that stays the same object whatever is
renamed around it. With ``root=None`` the backend serves the whole filesystem with the
process's own rights, as OpenSSH's sftp-server does, relative paths from ``start``.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "FileSystem",
    "LocalFileSystem",
    "Changes",
    "DirEntry",
    "StatResult",
    "VFSStat",
    "OPEN_READ",
    "OPEN_WRITE",
    "OPEN_APPEND",
    "OPEN_CREATE",
    "OPEN_TRUNCATE",
    "OPEN_EXCLUSIVE",
]

# SSH_FXF_* open flags (filexfer-02 section 6.3).
OPEN_READ = 0x01
OPEN_WRITE = 0x02
OPEN_APPEND = 0x04
OPEN_CREATE = 0x08
OPEN_TRUNCATE = 0x10
OPEN_EXCLUSIVE = 0x20

_MAX_SYMLINKS = 40  # as Linux's MAXSYMLINKS
_MAX_DEPTH = 2048  # directory descriptors one walk may hold (PATH_MAX allows no deeper)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_PATH = getattr(os, "O_PATH", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC


class StatResult(Protocol):
    """What a backend's stat returns (``os.stat_result`` is one)."""

    @property
    def st_mode(self) -> int: ...
    @property
    def st_uid(self) -> int: ...
    @property
    def st_gid(self) -> int: ...
    @property
    def st_size(self) -> int: ...
    @property
    def st_atime(self) -> float: ...
    @property
    def st_mtime(self) -> float: ...
    @property
    def st_nlink(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Changes:
    """What SETSTAT / FSETSTAT / lsetstat ask for; None means leave it."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    mode: int | None = None  # permission bits only
    atime: int | None = None
    mtime: int | None = None


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One READDIR name with its (not followed) attributes and, for ``ls -l`` long names,
    the owner's and group's names (None or b"": shown as numbers)."""

    name: bytes
    attrs: StatResult
    owner: bytes | None = None
    group: bytes | None = None


@dataclass(frozen=True, slots=True)
class VFSStat:
    """statvfs@openssh.com's fields, in its order."""

    bsize: int
    frsize: int
    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    favail: int
    fsid: int
    flag: int
    namemax: int


@runtime_checkable
class FileSystem(Protocol):
    """The operations of SFTP v3 and OpenSSH's extensions. Raise OSError on failure."""

    def open(self, path: bytes, flags: int, mode: int | None) -> Any: ...
    def read(self, handle: Any, offset: int, length: int) -> bytes: ...
    def write(self, handle: Any, offset: int, data: bytes) -> None: ...
    def close(self, handle: Any) -> None: ...
    def fstat(self, handle: Any) -> StatResult: ...
    def fsetstat(self, handle: Any, changes: Changes) -> None: ...
    def fsync(self, handle: Any) -> None: ...
    def fstatvfs(self, handle: Any) -> VFSStat: ...
    def opendir(self, path: bytes) -> Any: ...
    def readdir(self, handle: Any) -> Sequence[DirEntry]: ...
    def stat(self, path: bytes) -> StatResult: ...
    def lstat(self, path: bytes) -> StatResult: ...
    def setstat(self, path: bytes, changes: Changes) -> None: ...
    def lsetstat(self, path: bytes, changes: Changes) -> None: ...
    def remove(self, path: bytes) -> None: ...
    def mkdir(self, path: bytes, mode: int | None) -> None: ...
    def rmdir(self, path: bytes) -> None: ...
    def realpath(self, path: bytes) -> bytes: ...
    def rename(self, old: bytes, new: bytes, overwrite: bool) -> None: ...
    def readlink(self, path: bytes) -> bytes: ...
    def symlink(self, target: bytes, link: bytes) -> None: ...
    def hardlink(self, old: bytes, new: bytes) -> None: ...
    def statvfs(self, path: bytes) -> VFSStat: ...
    def copy_data(
        self, source: Any, offset: int, length: int, target: Any, target_offset: int
    ) -> None: ...
    def expand_path(self, path: bytes) -> bytes: ...
    def home_directory(self, username: bytes) -> bytes: ...
    def users_groups_by_id(
        self, uids: Sequence[int], gids: Sequence[int]
    ) -> tuple[list[bytes], list[bytes]]: ...


class _File:
    __slots__ = ("append", "fd")

    def __init__(self, fd: int, append: bool) -> None:
        self.fd = fd
        self.append = append


class _Dir:
    __slots__ = ("dots_sent", "entries", "fd")

    def __init__(self, fd: int, entries: Iterator[os.DirEntry[str]]) -> None:
        self.fd = fd
        self.entries = entries
        self.dots_sent = False


def _vfs(result: os.statvfs_result) -> VFSStat:
    return VFSStat(
        result.f_bsize, result.f_frsize, result.f_blocks, result.f_bfree, result.f_bavail,
        result.f_files, result.f_ffree, result.f_favail, getattr(result, "f_fsid", 0),
        result.f_flag, result.f_namemax,
    )  # fmt: skip


def _components(path: bytes) -> list[bytes]:
    if b"\0" in path:
        raise OSError(errno.EINVAL, "NUL in path")
    return [part for part in path.split(b"/") if part and part != b"."]


class _Walk:
    """A resolution in progress: held directory descriptors from the root down, with
    their names, so ``..`` pops and the virtual path is known."""

    def __init__(self, root_fd: int) -> None:
        self.fds = [root_fd]
        self.names: list[bytes] = []

    @property
    def fd(self) -> int:
        return self.fds[-1]

    def up(self) -> None:
        if len(self.fds) > 1:
            os.close(self.fds.pop())
            self.names.pop()

    def down(self, fd: int, name: bytes) -> None:
        self.fds.append(fd)
        self.names.append(name)

    def to_root(self) -> None:
        while len(self.fds) > 1:
            self.up()

    def release(self, keep_last: bool) -> None:
        """Close everything except the root (borrowed) and, if asked, the last one."""
        last = len(self.fds) - 1
        for i, fd in enumerate(self.fds):
            if i == 0 or (keep_last and i == last):
                continue
            os.close(fd)

    def virtual(self, name: bytes | None = None) -> bytes:
        parts = [*self.names, name] if name else self.names
        return b"/" + b"/".join(parts)


class LocalFileSystem:
    """The local filesystem, confined to ``root`` (served as ``/``) or, with
    ``root=None``, all of it with the process's rights, relative paths from ``start``
    (the current directory by default, as sftp-server). ``umask`` sets the process's
    umask (it applies to what is created), as sftp-server's ``-u``."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        *,
        start: str | bytes | None = None,
        umask: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.read_only = read_only
        self.umask = umask
        self._users: dict[int, bytes] = {}
        self._groups: dict[int, bytes] = {}
        self._root_fd: int | None = None
        if root is not None:
            self._root_fd = os.open(os.fspath(root), _DIR_FLAGS & ~_NOFOLLOW)
            self.start = b"/" if start is None else os.fsencode(start)
        else:
            # As sftp-server: relative paths from where the process stands (sshd puts
            # it in the home directory) unless told otherwise.
            self.start = os.fsencode(os.getcwd() if start is None else start)
        if umask is not None:
            os.umask(umask)

    def close_root(self) -> None:
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None

    # -- resolution ---------------------------------------------------------------------

    def _absolute(self, path: bytes) -> bytes:
        if b"\0" in path:
            raise OSError(errno.EINVAL, "NUL in path")
        if path.startswith(b"/"):
            return path
        return self.start.rstrip(b"/") + b"/" + path if path else self.start

    def _walk(self, path: bytes, *, follow_last: bool) -> tuple[_Walk, bytes | None]:
        """Resolve ``path`` in the root: the walk holds the parent of the last component
        (returned, None when the path is the root itself or ends in ``..``)."""
        assert self._root_fd is not None
        walk = _Walk(self._root_fd)
        pending = _components(self._absolute(path))
        links = 0
        try:
            while pending:
                name = pending.pop(0)
                if name == b"..":
                    walk.up()
                    continue
                last = not pending
                try:
                    info = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
                except FileNotFoundError:
                    if last:
                        return walk, name
                    raise
                if stat_module.S_ISLNK(info.st_mode) and (follow_last or not last):
                    links += 1
                    if links > _MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links")
                    target = os.readlink(name, dir_fd=walk.fd)
                    if target.startswith(b"/"):
                        walk.to_root()
                    pending[:0] = _components(target)
                    continue
                if last:
                    return walk, name
                if len(walk.fds) > _MAX_DEPTH:
                    raise OSError(errno.ENAMETOOLONG, "path too deep")
                fd = os.open(name, _DIR_FLAGS, dir_fd=walk.fd)
                walk.down(fd, name)
            return walk, None
        except BaseException:
            walk.release(keep_last=False)
            raise

    @contextmanager
    def _at(self, path: bytes, *, follow: bool = True) -> Iterator[tuple[int | None, bytes]]:
        """(dir_fd, name) naming ``path``'s last component; dir_fd None means a plain
        path (root=None). For the root itself, the name is ``.`` in the root."""
        if self._root_fd is None:
            yield None, self._absolute(path)
            return
        walk, name = self._walk(path, follow_last=follow)
        try:
            if name is None:
                name = b"."
            yield walk.fd, name
        finally:
            walk.release(keep_last=False)

    def _writable(self) -> None:
        if self.read_only:
            raise OSError(errno.EROFS, "read-only")

    @contextmanager
    def _object_fd(self, path: bytes, *, follow: bool) -> Iterator[int]:
        """A descriptor of the object itself (O_PATH where there is one), never
        following a link swapped in after resolution unless ``follow``."""
        with self._at(path, follow=follow) as (dir_fd, name):
            flags = (_PATH or os.O_RDONLY | _NONBLOCK) | _CLOEXEC
            if dir_fd is not None or not follow:
                flags |= _NOFOLLOW
            fd = os.open(name, flags, dir_fd=dir_fd)
            try:
                yield fd
            finally:
                os.close(fd)

    # -- files --------------------------------------------------------------------------

    def open(self, path: bytes, flags: int, mode: int | None) -> _File:
        writing = bool(flags & (OPEN_WRITE | OPEN_APPEND | OPEN_CREATE | OPEN_TRUNCATE))
        if writing:
            self._writable()
        if flags & OPEN_READ and flags & OPEN_WRITE:
            os_flags = os.O_RDWR
        elif flags & (OPEN_WRITE | OPEN_APPEND):
            os_flags = os.O_WRONLY
        else:
            os_flags = os.O_RDONLY
        if flags & OPEN_CREATE:
            os_flags |= os.O_CREAT
        if flags & OPEN_TRUNCATE:
            os_flags |= os.O_TRUNC
        if flags & OPEN_EXCLUSIVE:
            os_flags |= os.O_EXCL
        if flags & OPEN_APPEND:
            os_flags |= os.O_APPEND
        os_flags |= _CLOEXEC | _NONBLOCK  # no hang on a FIFO; cleared below
        with self._at(path) as (dir_fd, name):
            if dir_fd is not None:
                os_flags |= _NOFOLLOW
            fd = os.open(name, os_flags, 0o666 if mode is None else mode & 0o7777, dir_fd=dir_fd)
        try:
            os.set_blocking(fd, True)
            if stat_module.S_ISDIR(os.fstat(fd).st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory")
        except BaseException:
            os.close(fd)
            raise
        return _File(fd, bool(flags & OPEN_APPEND))

    def read(self, handle: _File, offset: int, length: int) -> bytes:
        return os.pread(handle.fd, length, offset)

    def write(self, handle: _File, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if handle.append:
                done = os.write(handle.fd, view)
            else:
                done = os.pwrite(handle.fd, view, offset)
            offset += done
            view = view[done:]

    def close(self, handle: _File | _Dir) -> None:
        if isinstance(handle, _Dir):
            close = getattr(handle.entries, "close", None)
            if close is not None:
                close()
        os.close(handle.fd)

    def fstat(self, handle: _File | _Dir) -> os.stat_result:
        return os.fstat(handle.fd)

    def fsetstat(self, handle: _File, changes: Changes) -> None:
        self._writable()
        _apply(handle.fd, changes)

    def fsync(self, handle: _File) -> None:
        os.fsync(handle.fd)

    def fstatvfs(self, handle: _File) -> VFSStat:
        return _vfs(os.fstatvfs(handle.fd))

    def copy_data(
        self, source: _File, offset: int, length: int, target: _File, target_offset: int
    ) -> None:
        self._writable()
        # length 0 means to the end of the source, as copy-data says.
        while length == 0 or length > 0:
            want = 65536 if length == 0 else min(length, 65536)
            data = os.pread(source.fd, want, offset)
            if not data:
                return
            self.write(target, target_offset, data)
            offset += len(data)
            target_offset += len(data)
            if length:
                length -= len(data)
                if length == 0:
                    return

    # -- directories --------------------------------------------------------------------

    def opendir(self, path: bytes) -> _Dir:
        with self._at(path) as (dir_fd, name):
            flags = _DIR_FLAGS if dir_fd is not None else _DIR_FLAGS & ~_NOFOLLOW
            fd = os.open(name, flags, dir_fd=dir_fd)
        try:
            entries = os.scandir(fd)
        except BaseException:
            os.close(fd)
            raise
        return _Dir(fd, entries)

    def readdir(self, handle: _Dir) -> list[DirEntry]:
        batch: list[DirEntry] = []
        if not handle.dots_sent:
            # scandir leaves out "." and ".."; OpenSSH's server lists them. (Stat of ".."
            # only reads attributes, it leads nowhere.)
            handle.dots_sent = True
            batch.append(self._entry(b".", os.fstat(handle.fd)))
            try:
                parent = os.stat(b"..", dir_fd=handle.fd, follow_symlinks=False)
            except OSError:
                parent = os.fstat(handle.fd)
            batch.append(self._entry(b"..", parent))
        for entry in handle.entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone since the directory was read
            batch.append(self._entry(os.fsencode(entry.name), info))
            if len(batch) >= 100:
                break
        return batch

    def _entry(self, name: bytes, info: os.stat_result) -> DirEntry:
        return DirEntry(name, info, self._user(info.st_uid), self._group(info.st_gid))

    # -- names --------------------------------------------------------------------------

    def stat(self, path: bytes) -> os.stat_result:
        with self._at(path) as (dir_fd, name):
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=dir_fd is None)

    def lstat(self, path: bytes) -> os.stat_result:
        with self._at(path, follow=False) as (dir_fd, name):
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)

    def setstat(self, path: bytes, changes: Changes) -> None:
        self._writable()
        if changes.size is not None:
            # Truncation needs a descriptor open for writing.
            with self._at(path) as (dir_fd, name):
                flags = os.O_WRONLY | _CLOEXEC | _NONBLOCK
                fd = os.open(name, flags | (_NOFOLLOW if dir_fd is not None else 0), dir_fd=dir_fd)
            try:
                os.ftruncate(fd, changes.size)
            finally:
                os.close(fd)
            changes = Changes(None, changes.uid, changes.gid, changes.mode, changes.atime,
                              changes.mtime)  # fmt: skip
        if changes == Changes():
            return
        with self._object_fd(path, follow=True) as fd:
            _apply(fd, changes, by_proc=bool(_PATH))

    def lsetstat(self, path: bytes, changes: Changes) -> None:
        self._writable()
        with self._at(path, follow=False) as (dir_fd, name):
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat_module.S_ISLNK(info.st_mode):
                pass
            elif changes.size is not None or changes.mode is not None:
                raise OSError(errno.EOPNOTSUPP, "cannot change the mode or size of a link")
            else:
                if changes.uid is not None or changes.gid is not None:
                    os.chown(name, _id(changes.uid), _id(changes.gid), dir_fd=dir_fd,
                             follow_symlinks=False)  # fmt: skip
                if changes.atime is not None and changes.mtime is not None:
                    os.utime(name, (changes.atime, changes.mtime), dir_fd=dir_fd,
                             follow_symlinks=False)  # fmt: skip
                return
        with self._object_fd(path, follow=False) as fd:
            _apply(fd, changes, by_proc=bool(_PATH))

    def remove(self, path: bytes) -> None:
        self._writable()
        with self._at(path, follow=False) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)

    def mkdir(self, path: bytes, mode: int | None) -> None:
        self._writable()
        with self._at(path, follow=False) as (dir_fd, name):
            os.mkdir(name, 0o777 if mode is None else mode & 0o7777, dir_fd=dir_fd)

    def rmdir(self, path: bytes) -> None:
        self._writable()
        with self._at(path, follow=False) as (dir_fd, name):
            os.rmdir(name, dir_fd=dir_fd)

    def realpath(self, path: bytes) -> bytes:
        if self._root_fd is None:
            return os.path.realpath(self._absolute(path))
        walk, name = self._walk(path, follow_last=True)
        try:
            return walk.virtual(name)
        finally:
            walk.release(keep_last=False)

    def rename(self, old: bytes, new: bytes, overwrite: bool) -> None:
        self._writable()
        with (
            self._at(old, follow=False) as (old_fd, old_name),
            self._at(new, follow=False) as (new_fd, new_name),
        ):
            if overwrite:
                os.rename(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)
                return
            # SFTP v3 rename never replaces: link then unlink for files (atomic refusal),
            # a checked rename for what cannot be linked (directories), as sftp-server.
            try:
                os.link(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd,
                        follow_symlinks=False)  # fmt: skip
            except FileExistsError:
                raise
            except OSError:
                try:
                    os.stat(new_name, dir_fd=new_fd, follow_symlinks=False)
                except FileNotFoundError:
                    os.rename(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)
                    return
                raise FileExistsError(errno.EEXIST, "target exists") from None
            os.unlink(old_name, dir_fd=old_fd)

    def readlink(self, path: bytes) -> bytes:
        with self._at(path, follow=False) as (dir_fd, name):
            return os.readlink(name, dir_fd=dir_fd)

    def symlink(self, target: bytes, link: bytes) -> None:
        self._writable()
        if b"\0" in target:
            raise OSError(errno.EINVAL, "NUL in link target")
        # The target is stored as given; inside a root it is only ever followed by our
        # walk, which reads absolute targets from the root.
        with self._at(link, follow=False) as (dir_fd, name):
            os.symlink(target, name, dir_fd=dir_fd)

    def hardlink(self, old: bytes, new: bytes) -> None:
        self._writable()
        with (
            self._at(old, follow=False) as (old_fd, old_name),
            self._at(new, follow=False) as (new_fd, new_name),
        ):
            os.link(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd,
                    follow_symlinks=False)  # fmt: skip

    def statvfs(self, path: bytes) -> VFSStat:
        fd_flags = (_PATH or os.O_RDONLY | _NONBLOCK) | _CLOEXEC
        with self._at(path) as (dir_fd, name):
            if dir_fd is None:
                return _vfs(os.statvfs(name))
            fd = os.open(name, fd_flags | _NOFOLLOW, dir_fd=dir_fd)
        try:
            return _vfs(os.fstatvfs(fd))
        finally:
            os.close(fd)

    def expand_path(self, path: bytes) -> bytes:
        if path == b"~" or path.startswith(b"~/"):
            home = b"/" if self._root_fd is not None else os.fsencode(os.path.expanduser("~"))
            path = home.rstrip(b"/") + path[1:] if len(path) > 1 else home
        elif path.startswith(b"~") and self._root_fd is None:
            path = os.fsencode(os.path.expanduser(path))
        return self.realpath(path)

    def home_directory(self, username: bytes) -> bytes:
        if self._root_fd is not None:
            return b"/"
        import pwd

        try:
            return os.fsencode(pwd.getpwnam(os.fsdecode(username)).pw_dir)
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, "no such user") from None

    def users_groups_by_id(
        self, uids: Sequence[int], gids: Sequence[int]
    ) -> tuple[list[bytes], list[bytes]]:
        return [self._user(uid) for uid in uids], [self._group(gid) for gid in gids]

    def _user(self, uid: int) -> bytes:
        """The user's name, b"" when unknown (cached: READDIR asks for every entry)."""
        name = self._users.get(uid)
        if name is None:
            import pwd

            try:
                name = os.fsencode(pwd.getpwuid(uid).pw_name)
            except KeyError:
                name = b""
            self._users[uid] = name
        return name

    def _group(self, gid: int) -> bytes:
        name = self._groups.get(gid)
        if name is None:
            import grp

            try:
                name = os.fsencode(grp.getgrgid(gid).gr_name)
            except KeyError:
                name = b""
            self._groups[gid] = name
        return name


def _id(value: int | None) -> int:
    return -1 if value is None else value


def _apply(fd: int, changes: Changes, *, by_proc: bool = False) -> None:
    """Apply changes to the object behind fd. An O_PATH descriptor cannot be fchmod'ed:
    /proc/self/fd/N names exactly that object, whatever happened to its name since."""
    target: int | str = f"/proc/self/fd/{fd}" if by_proc else fd
    if changes.size is not None:
        os.truncate(target, changes.size)
    if changes.uid is not None or changes.gid is not None:
        os.chown(target, _id(changes.uid), _id(changes.gid))
    if changes.mode is not None:
        os.chmod(target, changes.mode & 0o7777)
    if changes.atime is not None and changes.mtime is not None:
        os.utime(target, (changes.atime, changes.mtime))
