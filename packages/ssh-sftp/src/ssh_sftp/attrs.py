"""File attributes (filexfer-02 5) and the ``ls -l`` long name OpenSSH prints.

:class:`SFTPAttributes` holds what an ATTRS structure can carry; each field is None when
the structure leaves it out. uid/gid and atime/mtime travel in pairs on the wire, so one
without the other cannot be encoded.
"""

from __future__ import annotations

import datetime
import os
import stat as _stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated

from ssh_wire import DecodeError, Reader, WireType, Writer

from .numbers import AttrFlag

__all__ = [
    "SFTPAttributes",
    "Attrs",
    "ATTRS",
    "MAX_EXTENDED_ATTRS",
    "longname",
]

#: Most extended (name, data) pairs one ATTRS structure may carry.
MAX_EXTENDED_ATTRS = 1024

_KNOWN_FLAGS = (
    AttrFlag.SIZE | AttrFlag.UIDGID | AttrFlag.PERMISSIONS | AttrFlag.ACMODTIME | AttrFlag.EXTENDED
)
_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class SFTPAttributes:
    """What a server says about a file, or what a client asks to change."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    #: The whole ``st_mode``: file type bits and permission bits.
    permissions: int | None = None
    atime: int | None = None
    mtime: int | None = None
    extended: tuple[tuple[str, bytes], ...] = ()

    # -- what kind of file --------------------------------------------------------------

    @property
    def flags(self) -> AttrFlag:
        flags = AttrFlag(0)
        if self.size is not None:
            flags |= AttrFlag.SIZE
        if self.uid is not None or self.gid is not None:
            flags |= AttrFlag.UIDGID
        if self.permissions is not None:
            flags |= AttrFlag.PERMISSIONS
        if self.atime is not None or self.mtime is not None:
            flags |= AttrFlag.ACMODTIME
        if self.extended:
            flags |= AttrFlag.EXTENDED
        return flags

    def _type_is(self, test: Callable[[int], bool]) -> bool:
        return self.permissions is not None and test(self.permissions)

    def is_dir(self) -> bool:
        return self._type_is(_stat.S_ISDIR)

    def is_file(self) -> bool:
        return self._type_is(_stat.S_ISREG)

    def is_symlink(self) -> bool:
        return self._type_is(_stat.S_ISLNK)

    # -- as os.stat ---------------------------------------------------------------------

    @property
    def st_mode(self) -> int:
        return self.permissions or 0

    @property
    def st_size(self) -> int:
        return self.size or 0

    @property
    def st_uid(self) -> int:
        return self.uid or 0

    @property
    def st_gid(self) -> int:
        return self.gid or 0

    @property
    def st_atime(self) -> int:
        return self.atime or 0

    @property
    def st_mtime(self) -> int:
        return self.mtime or 0

    @classmethod
    def from_stat(cls, st: os.stat_result) -> SFTPAttributes:
        """All four groups from a local ``os.stat`` (times truncated to whole seconds)."""
        return cls(
            size=st.st_size,
            uid=st.st_uid,
            gid=st.st_gid,
            permissions=st.st_mode,
            atime=int(st.st_atime),
            mtime=int(st.st_mtime),
        )

    def to_stat(self) -> os.stat_result:
        """An ``os.stat_result`` (missing fields are 0; no inode, device or link count)."""
        return os.stat_result(
            (
                self.st_mode,
                0,
                0,
                0,
                self.st_uid,
                self.st_gid,
                self.st_size,
                self.st_atime,
                self.st_mtime,
                self.st_mtime,
            )
        )

    def without_type(self) -> SFTPAttributes:
        """The same with only permission bits in ``permissions`` (for SETSTAT/chmod)."""
        if self.permissions is None:
            return self
        return replace(self, permissions=_stat.S_IMODE(self.permissions))

    # -- wire ---------------------------------------------------------------------------

    def encode_into(self, w: Writer) -> None:
        if (self.uid is None) != (self.gid is None):
            raise ValueError("uid and gid must be given together")
        if (self.atime is None) != (self.mtime is None):
            raise ValueError("atime and mtime must be given together")
        if len(self.extended) > MAX_EXTENDED_ATTRS:
            raise ValueError(f"more than {MAX_EXTENDED_ATTRS} extended attributes")
        w.uint32(int(self.flags))
        if self.size is not None:
            w.uint64(self.size)
        if self.uid is not None and self.gid is not None:
            w.uint32(self.uid)
            w.uint32(self.gid)
        if self.permissions is not None:
            w.uint32(self.permissions)
        if self.atime is not None and self.mtime is not None:
            w.uint32(self.atime)
            w.uint32(self.mtime)
        if self.extended:
            w.uint32(len(self.extended))
            for name, data in self.extended:
                w.string(name.encode("utf-8"))
                w.string(data)

    def encode(self) -> bytes:
        w = Writer()
        self.encode_into(w)
        return w.getvalue()

    @classmethod
    def read_from(cls, r: Reader, field: str = "attrs") -> SFTPAttributes:
        start = r.offset
        flags = r.uint32(f"{field}.flags")
        if flags & ~_KNOWN_FLAGS:
            raise DecodeError(f"unknown attribute flags {flags:#x}", field=field, offset=start)
        size = uid = gid = permissions = atime = mtime = None
        if flags & AttrFlag.SIZE:
            size = r.uint64(f"{field}.size")
        if flags & AttrFlag.UIDGID:
            uid = r.uint32(f"{field}.uid")
            gid = r.uint32(f"{field}.gid")
        if flags & AttrFlag.PERMISSIONS:
            permissions = r.uint32(f"{field}.permissions")
        if flags & AttrFlag.ACMODTIME:
            atime = r.uint32(f"{field}.atime")
            mtime = r.uint32(f"{field}.mtime")
        extended: list[tuple[str, bytes]] = []
        if flags & AttrFlag.EXTENDED:
            count_at = r.offset
            count = r.uint32(f"{field}.extended_count")
            if count > MAX_EXTENDED_ATTRS:
                raise DecodeError(
                    f"{count} extended attributes, over {MAX_EXTENDED_ATTRS}",
                    field=field,
                    offset=count_at,
                )
            for _ in range(count):
                name = r.text(f"{field}.extended_type")
                extended.append((name, r.string(f"{field}.extended_data")))
        return cls(size, uid, gid, permissions, atime, mtime, tuple(extended))

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> SFTPAttributes:
        r = Reader(data)
        value = cls.read_from(r)
        r.expect_end("attrs")
        return value


def _write_attrs(w: Writer, value: SFTPAttributes) -> None:
    if not isinstance(value, SFTPAttributes):
        raise TypeError(f"expected SFTPAttributes, not {type(value).__name__}")
    value.encode_into(w)


#: The ATTRS wire type, for message schemas.
ATTRS = WireType("attrs", SFTPAttributes.read_from, _write_attrs)
Attrs = Annotated[SFTPAttributes, ATTRS]


# -- ls -l -----------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HALF_YEAR = 365 * 24 * 60 * 60 // 2


def _when(mtime: int, now: float, tz: datetime.tzinfo | None) -> str:
    # No special case for 0 (or no mtime at all, which OpenSSH reads as 0): its ls_file
    # formats the epoch like any date, "Jan  1  1970"; only a time localtime() cannot
    # convert leaves the date empty.
    try:
        if tz is None:
            t = datetime.datetime.fromtimestamp(mtime)
        else:
            t = datetime.datetime.fromtimestamp(mtime, tz)
    except (OverflowError, OSError, ValueError):
        return ""
    month = _MONTHS[t.month - 1]
    # As ls: the time of day for the last six months, else the year.
    if now - _HALF_YEAR < mtime <= now:
        return f"{month} {t.day:2d} {t.hour:02d}:{t.minute:02d}"
    return f"{month} {t.day:2d}  {t.year}"


def longname(
    filename: str,
    attrs: SFTPAttributes,
    *,
    now: float,
    user: str | None = None,
    group: str | None = None,
    nlink: int | None = None,
    tz: datetime.tzinfo | None = None,
) -> str:
    """The ``ls -l`` line OpenSSH's sftp-server sends in NAME replies (and ``sftp`` prints).

    ``now`` decides between the time of day and the year (files older than six months or
    in the future show the year); ``user``/``group`` default to the numeric ids, ``nlink``
    to ``?`` as OpenSSH's client shows remote files; ``tz`` defaults to local time.
    """
    mode = _stat.filemode(attrs.st_mode)
    owner = str(attrs.st_uid) if user is None else user
    grp = str(attrs.st_gid) if group is None else group
    links = "?" if nlink is None else str(nlink)
    when = _when(attrs.st_mtime, now, tz)
    # BSD strmode leaves a space after the ten mode characters (for an ACL marker).
    return f"{mode}  {links:>3} {owner:<8} {grp:<8} {attrs.st_size:>8} {when} {filename}"
