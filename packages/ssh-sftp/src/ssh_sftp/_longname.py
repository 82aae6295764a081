"""``ls -l`` long names for READDIR, as OpenSSH's ``ls_file`` prints them."""

from __future__ import annotations

import stat
from datetime import datetime

from .filesystem import DirEntry

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HALF_YEAR = 365 * 24 * 60 * 60 // 2


def longname(entry: DirEntry, now: float) -> bytes:
    """``-rw-r--r--    1 alice    staff        1234 Mar  4 12:34 name``; files older than
    half a year (or in the future) show the year instead of the time, in local time."""
    info = entry.attrs
    user = entry.owner if entry.owner else str(info.st_uid).encode()
    group = entry.group if entry.group else str(info.st_gid).encode()
    mtime = int(info.st_mtime)
    try:
        when = datetime.fromtimestamp(mtime)
    except (OverflowError, OSError, ValueError):
        stamp = ""
    else:
        day = f"{_MONTHS[when.month - 1]} {when.day:2d}"
        if now - _HALF_YEAR < mtime <= now:
            stamp = f"{day} {when.hour:02d}:{when.minute:02d}"
        else:
            stamp = f"{day}  {when.year}"
    head = f"{stat.filemode(info.st_mode)}  {info.st_nlink:3d} ".encode()
    return b"%s%-8s %-8s %8d %s %s" % (
        head, user, group, max(info.st_size, 0), stamp.encode(), entry.name,
    )  # fmt: skip
