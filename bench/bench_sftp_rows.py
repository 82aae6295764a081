"""The harness's SFTP rows (the slot ``bench_all.sftp_rows`` loads): get and put of one
``--mib`` file against the harness's sshd (its ``sftp`` subsystem is OpenSSH's
sftp-server) by each SFTP client of ``bench_sftp.py``: ours blocking and asyncio,
OpenSSH's ``sftp -b``, AsyncSSH and Paramiko, with aes128-gcm where the client lets us
choose (Paramiko negotiates its own default). The file is checked by SHA-256 after every
run. The clients run inside the harness's process, so these rows have MB/s only (no CPU or
peak memory of their own); connecting is not timed (``sftp``'s login is measured apart and
taken off).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import bench_sftp

CIPHER = "aes128-gcm@openssh.com"
CLIENTS: tuple[tuple[str, Callable[[bench_sftp.Setup, str, int], list[float] | None]], ...] = (
    ("ours-sync", bench_sftp.ours_sync),
    ("ours-aio", bench_sftp.ours_aio),
    ("openssh", bench_sftp.openssh_sftp),
    ("asyncssh", bench_sftp.asyncssh_client),
    ("paramiko", bench_sftp.paramiko_client),
)


def rows(setup: Any, repeat: int) -> list[Any]:
    from bench_all import Row  # the harness imports this module: no cycle at import time

    work = setup.directory / "sftp"
    work.mkdir(exist_ok=True)
    s = bench_sftp.Setup(work, setup.sshd.port, setup.key, CIPHER)
    with s.source.open("wb") as f:
        digest = hashlib.sha256()
        block = os.urandom(1 << 20)
        for left in range(setup.size, 0, -len(block)):
            piece = block[:left]
            f.write(piece)
            digest.update(piece)
    s.digest = digest.hexdigest()
    out = []
    for direction in ("get", "put"):
        for client, run in CLIENTS:
            row = Row(f"sftp-{direction}", "aes128-gcm", client, "sshd")
            try:
                times = run(s, direction, repeat)
                if times is None:
                    row.error = "not installed"
                else:
                    row.values = [setup.size / t / 1e6 for t in times]
            except (Exception, SystemExit) as exc:  # a failed run: a row that says so
                row.error = " ".join((str(exc) or type(exc).__name__).split())[:200]
            for path in (s.local, s.remote):
                path.unlink(missing_ok=True)
            out.append(row)
    s.source.unlink()
    return out
