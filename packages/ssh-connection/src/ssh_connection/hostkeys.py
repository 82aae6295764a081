"""Ready-made host key checks for the client front ends: ``(host, port, key) -> bool``."""

from __future__ import annotations

import os
from collections.abc import Callable

from ssh_keys import PublicKey
from ssh_keys.known_hosts import HostKeyStatus, KnownHosts

__all__ = ["HostKeyCheck", "known_hosts", "insecure_accept_any_host_key"]

#: Decide whether ``key`` may be the key of ``host`` port ``port``.
HostKeyCheck = Callable[[str, int, PublicKey], bool]


def insecure_accept_any_host_key(host: str, port: int, key: PublicKey) -> bool:
    """Trust every server: anyone on the path can read and change the session. For tests
    and throwaway hosts only."""
    return True


def known_hosts(
    path: str | os.PathLike[str] = "~/.ssh/known_hosts", *, accept_new: bool = False
) -> HostKeyCheck:
    """Check keys against an OpenSSH known_hosts file, as ``StrictHostKeyChecking=yes``
    (or ``accept-new``, which records keys of hosts not in the file yet; a changed or
    revoked key is refused either way)."""
    file = os.path.expanduser(os.fspath(path))

    def check(host: str, port: int, key: PublicKey) -> bool:
        db = KnownHosts.load(file)
        status = db.check(host, port, key)
        if status is HostKeyStatus.TRUSTED:
            return True
        if status is HostKeyStatus.UNKNOWN and accept_new:
            db.add(host, port, key)
            db.save(file)
            return True
        return False

    return check
