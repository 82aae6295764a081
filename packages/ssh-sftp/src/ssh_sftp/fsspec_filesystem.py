"""An fsspec filesystem over ssh-sftp (the ``ssh-sftp[fsspec]`` extra), so pandas, dask
and friends read and write remote files: ``fsspec.open("sftp-py://user@host/path")``.

The protocol is ``sftp-py``, registered through fsspec's ``fsspec.specs`` entry point;
fsspec's own ``sftp`` (Paramiko's) is left alone. The host is resolved as ``ssh host``
would (``ssh_config=True``: ``~/.ssh/config``, known_hosts, IdentityFile, ProxyJump,
...); other keyword arguments go to :func:`ssh_connection.sync.connect`. Files are
ssh-sftp's blocking :class:`~ssh_sftp.sync_file.SFTPFile`; ``get`` and ``put`` run the
client's pipelined transfers, ``cp_file`` copies on the server (copy-data) and ``mv``
renames (posix-rename where offered).
"""

from __future__ import annotations

import datetime
import posixpath
import stat as stat_module
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.utils import infer_storage_options

from ssh_connection.sync import connect

from .attrs import SFTPAttributes
from .sync import SFTPClient

__all__ = ["SFTPFileSystem", "PROTOCOL"]

#: The URL scheme (fsspec's "sftp" is Paramiko's).
PROTOCOL = "sftp-py"


def _kind(attrs: SFTPAttributes) -> str:
    mode = attrs.st_mode
    if stat_module.S_ISDIR(mode):
        return "directory"
    if stat_module.S_ISREG(mode):
        return "file"
    if stat_module.S_ISLNK(mode):
        return "link"
    return "other"


class SFTPFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec has no types
    """Remote files over one SSH connection and one SFTP session."""

    protocol = (PROTOCOL,)
    root_marker = "/"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        username: str | None = None,
        *,
        ssh_config: Any = True,
        **connect_options: Any,
    ) -> None:
        super().__init__(host=host, port=port, username=username, ssh_config=ssh_config,
                         **connect_options)  # fmt: skip
        options = {k: v for k, v in connect_options.items() if k not in _FSSPEC_OPTIONS}
        self.connection = connect(host, port, username, ssh_config=ssh_config, **options)
        try:
            self.sftp = SFTPClient.from_connection(self.connection)
        except BaseException:
            self.connection.close()
            raise

    # -- URLs ---------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        if "://" in path:
            path = str(infer_storage_options(path)["path"])
        return path.rstrip("/") or "/"

    @staticmethod
    def _get_kwargs_from_urls(urlpath: str) -> dict[str, Any]:
        found = infer_storage_options(urlpath)
        out: dict[str, Any] = {}
        for key in ("host", "port", "username"):
            if found.get(key):
                out[key] = int(found[key]) if key == "port" else found[key]
        return out

    # -- metadata -----------------------------------------------------------------------

    def _details(self, path: str, attrs: SFTPAttributes) -> dict[str, Any]:
        kind = _kind(attrs)
        islink = kind == "link"
        if islink:  # fsspec describes what a link points to
            try:
                attrs = self.sftp.stat(path)
                kind = _kind(attrs)
            except FileNotFoundError:
                pass  # a dangling link stays a link
        return {
            "name": path,
            "size": attrs.st_size,
            "type": kind,
            "islink": islink,
            "mode": attrs.st_mode,
            "uid": attrs.st_uid,
            "gid": attrs.st_gid,
            "mtime": attrs.st_mtime,
            "atime": attrs.st_atime,
        }

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        return self._details(path, self.sftp.lstat(path))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not self.sftp.isdir(path):
            found = self.info(path)  # a file lists as itself
            return [found] if detail else [found["name"]]
        entries = [e for e in self.sftp.scandir(path) if e.filename not in (".", "..")]
        entries.sort(key=lambda e: e.filename)
        names = [posixpath.join(path, e.filename) for e in entries]
        if not detail:
            return names
        return [self._details(n, e.attrs) for n, e in zip(names, entries, strict=True)]

    def modified(self, path: str) -> datetime.datetime:
        mtime = self.info(path)["mtime"]
        return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)

    # -- changes ------------------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        mode = kwargs.get("mode", 0o777)
        if create_parents:
            self.sftp.makedirs(path, mode, exist_ok=True)
        else:
            self.sftp.mkdir(path, mode)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.sftp.makedirs(self._strip_protocol(path), exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        self.sftp.rmdir(self._strip_protocol(path))

    def rm_file(self, path: str) -> None:
        self.sftp.remove(self._strip_protocol(path))

    def _rm(self, path: str) -> None:
        path = self._strip_protocol(path)
        if self.sftp.isdir(path):
            self.sftp.rmdir(path)
        else:
            self.sftp.remove(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        # Deepest first, so each directory is empty by the time it goes.
        for found in reversed(self.expand_path(path, recursive=recursive, maxdepth=maxdepth)):
            self._rm(found)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        self.sftp.rename(self._strip_protocol(path1), self._strip_protocol(path2))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self.sftp.copy(self._strip_protocol(path1), self._strip_protocol(path2))

    # -- data ---------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not autocommit:
            raise NotImplementedError("sftp-py writes in place: transactions are not offered")
        return self.sftp.open(self._strip_protocol(path), mode)

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        if self.isdir(rpath):
            import os

            os.makedirs(lpath, exist_ok=True)
            return
        self.sftp.get(self._strip_protocol(rpath), lpath)

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> None:
        import os

        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        self.sftp.put(lpath, rpath)

    def close(self) -> None:
        """End the SFTP session and the SSH connection."""
        try:
            self.sftp.close()
        finally:
            self.connection.close()


#: Options fsspec itself takes (instance caching, listings cache), not connect()'s.
_FSSPEC_OPTIONS = frozenset(
    {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths",
     "asynchronous", "loop"}
)  # fmt: skip
