"""OpenSSH's ``sftp`` against sftp-server-py next to OpenSSH's own sftp-server.

Both servers run under ``sftp -D`` (pipes, no SSH in between, so the server's own cost
is what shows), in the same run, on the same files: a download and an upload of SIZE
MiB, best of REPEAT, and the start-up of each server (``-Q requests``: process start and
imports). Ratios are ours divided by OpenSSH's (below 1: ours is faster).

    hatch run bench:sftp-server                  # 256 MiB, best of 3
    hatch run bench:sftp-server --size 16 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

OPENSSH = "/usr/lib/openssh/sftp-server"
SFTP = shutil.which("sftp") or "/usr/bin/sftp"


def transfer(server: str, cwd: Path, commands: str) -> float:
    start = time.perf_counter()
    subprocess.run([SFTP, "-q", "-b", "-", "-D", server], input=commands.encode(),
                   cwd=cwd, check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def startup_cpu(argv: Sequence[str], runs: int = 10) -> float:
    """CPU seconds (user + system) of one start, averaged: wall time lies on a busy box."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        subprocess.run([*argv, "-Q", "requests"], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="MiB per transfer")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours = f"{sys.executable} -m ssh_sftp"
    servers = {"sftp-server-py": ours, "OpenSSH sftp-server": OPENSSH}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "remote").mkdir()
        (root / "local").mkdir()
        with open(root / "remote" / "big", "wb") as f:
            for _ in range(args.size):
                f.write(os.urandom(1 << 20))
        shutil.copy(root / "remote" / "big", root / "local" / "big")
        results: dict[str, tuple[float, float]] = {}
        for name, server in servers.items():
            down = min(
                transfer(server, root / "remote", f"get big {root / 'local' / 'got'}\n")
                for _ in range(args.repeat)
            )
            up = min(
                transfer(server, root / "remote", f"put {root / 'local' / 'big'} put\n")
                for _ in range(args.repeat)
            )
            results[name] = (down, up)
    mib = args.size
    print(f"sftp -D, {mib} MiB, best of {args.repeat}")
    for name, (down, up) in results.items():
        print(f"  {name:22} get {mib / down:8.1f} MiB/s   put {mib / up:8.1f} MiB/s")
    (od, ou), (td, tu) = results["sftp-server-py"], results["OpenSSH sftp-server"]
    print(f"  time ratio ours/OpenSSH: get {od / td:.2f}  put {ou / tu:.2f}")
    ours_cpu = startup_cpu([sys.executable, "-m", "ssh_sftp"])
    theirs_cpu = startup_cpu([OPENSSH])
    print(f"start-up CPU: sftp-server-py {ours_cpu * 1000:.1f} ms, "
          f"OpenSSH {theirs_cpu * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
