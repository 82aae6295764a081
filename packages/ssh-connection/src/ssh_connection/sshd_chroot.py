"""ChrootDirectory for sshd-py: the checks sshd makes of the directory, and where a
session starts in it.

sshd-py serves one user from one process, so it cannot chroot(2) itself per session.
It confines ``internal-sftp`` sessions to the directory instead (ssh-sftp's server walks
every path from a descriptor of the root and cannot leave it) and refuses the other
session kinds there, with the reason. sshd's checks carry over unchanged: the path must
be absolute and every component, the directory included, a root-owned directory no one
else may write, or the session is refused.
"""

from __future__ import annotations

import os
import stat

__all__ = ["chroot_problem", "start_directory"]


def chroot_problem(path: str) -> str | None:
    """Why sshd would refuse to chroot to ``path``, or None."""
    if not path.startswith("/"):
        return f'chroot path does not begin at root: "{path}"'
    parts = [p for p in path.split("/") if p]
    component = "/"
    for i in range(len(parts) + 1):
        if i:
            component = "/" + "/".join(parts[:i])
        try:
            st = os.stat(component)
        except OSError as exc:
            return f'stat("{component}"): {exc.strerror}'
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f'bad ownership or modes for chroot directory component "{component}"'
        if not stat.S_ISDIR(st.st_mode):
            return f'chroot path "{component}" is not a directory'
    return None


def start_directory(root: str, home: str) -> str:
    """Where a chrooted session starts, as a path inside ``root``: the user's home
    directory if it exists there, else ``/`` (as sshd after its chroot)."""
    if home.startswith("/") and os.path.isdir(os.path.join(root, home.lstrip("/"))):
        return home
    return "/"
