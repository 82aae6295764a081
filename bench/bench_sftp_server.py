"""OpenSSH's ``sftp`` against sftp-server-py next to OpenSSH's own sftp-server.

Both servers run under ``sftp -D`` (pipes, no SSH in between, so the server's own cost
is what shows), in the same run, on the same files: a download and an upload of SIZE
MiB, best of REPEAT, and the start-up of each server (``-Q requests``: process start and
imports). Ratios are ours divided by OpenSSH's (below 1: ours is faster).

    hatch run bench:sftp-server                  # 256 MiB, best of 3
    hatch run bench:sftp-server --size 16 --repeat 1
    hatch run bench:sftp-server --ssh            # through SSH servers instead (below)

With ``--ssh``, OpenSSH's ``sftp`` logs in over loopback instead: to a private sshd whose
"sftp" subsystem is OpenSSH's sftp-server, and to our blocking and our asyncio SSH servers
serving ssh_sftp's subsystem handler (internal-sftp) in this process, whose CPU is ours.
Servers run with a bytecode cache (as an installed package has), whatever
PYTHONDONTWRITEBYTECODE says.
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


def _cached_bytecode(work: Path) -> None:
    """Children compile each module once, as from an installed wheel, not per start."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(work / "pycache"))


def _sftp_ssh(port: int, key: Path, cwd: Path, commands: str) -> float:
    argv = [SFTP, "-q", "-F", "/dev/null", "-P", str(port), "-i", str(key),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", "-b", "-", "root@127.0.0.1"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, input=commands.encode(), cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main_ssh(args: argparse.Namespace) -> None:
    import asyncio
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))
    from openssh_tools import SshdFactory, make_host_keys

    from ssh_auth import StandardPolicy, authorized_keys_file
    from ssh_connection.aio_server import AsyncSSHServer
    from ssh_connection.sync_server import SSHServer
    from ssh_keys import generate_private_key
    from ssh_sftp.aio_subsystem import sftp_handler as aio_handler
    from ssh_sftp.filesystem import LocalFileSystem
    from ssh_sftp.sync_subsystem import sftp_handler

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _cached_bytecode(work)
        remote, local = work / "remote", work / "local"
        remote.mkdir()
        local.mkdir()
        with open(remote / "big", "wb") as f:
            for _ in range(args.size):
                f.write(os.urandom(1 << 20))
        shutil.copy(remote / "big", local / "big")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "id")],
                       check=True)  # fmt: skip
        auth = work / "authorized_keys"
        auth.write_text((work / "id.pub").read_text())
        factory = SshdFactory(lambda: work / "sshd", make_host_keys(work / "hostkeys"))
        policy = StandardPolicy(authorized_keys=authorized_keys_file(str(auth)))
        blocking = SSHServer([generate_private_key("ed25519")], policy,
                             subsystems={"sftp": sftp_handler(
                                 lambda session: LocalFileSystem(remote))})  # fmt: skip
        blocking.listen("127.0.0.1", 0)
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()
        aio = AsyncSSHServer([generate_private_key("ed25519")], policy,
                             subsystems={"sftp": aio_handler(
                                 lambda session: LocalFileSystem(remote))})  # fmt: skip
        aio_port = asyncio.run_coroutine_threadsafe(aio.listen("127.0.0.1", 0), loop).result()
        ours_cmd = f"{sys.executable} -m ssh_sftp -d {remote}"
        try:
            common = {"PermitRootLogin": "yes", "AuthorizedKeysFile": str(auth),
                      "LogLevel": "ERROR"}  # fmt: skip
            sshd = factory.start(Subsystem=f"sftp {OPENSSH} -d {remote}", **common)
            sshd_py = factory.start(Subsystem=f"sftp {ours_cmd}", **common)
            rows = {
                "sshd + OpenSSH sftp-server": (sshd.port, False),
                "sshd + sftp-server-py": (sshd_py.port, False),
                "our blocking server (internal)": (blocking.port, True),
                "our asyncio server (internal)": (aio_port, True),
            }
            key = work / "id"
            print(f"sftp over SSH, {args.size} MiB, best of {args.repeat}, MiB/s "
                  "(login subtracted); CPU: this process (our in-process servers)")  # fmt: skip
            for name, (port, in_process) in rows.items():
                _sftp_ssh(port, key, local, "pwd\n")  # warm: host keys, bytecode cache
                setup = min(_sftp_ssh(port, key, local, "pwd\n") for _ in range(3))
                out = []
                for batch in (f"get big {local / 'got'}\n", f"put {local / 'big'} put\n"):
                    best, cpu = float("inf"), float("nan")
                    for _ in range(args.repeat):
                        before = resource.getrusage(resource.RUSAGE_SELF)
                        took = max(_sftp_ssh(port, key, local, batch) - setup, 1e-3)
                        after = resource.getrusage(resource.RUSAGE_SELF)
                        if took < best:
                            best = took
                            cpu = (after.ru_utime - before.ru_utime + after.ru_stime
                                   - before.ru_stime)  # fmt: skip
                    out.append(
                        f"{args.size / best:8.1f}"
                        + (f" (cpu {cpu:.2f} s)" if in_process else " " * 13)
                    )
                print(f"  {name:32} get {out[0]}   put {out[1]}", flush=True)
        finally:
            factory.stop_all()
            blocking.close()
            asyncio.run_coroutine_threadsafe(aio.close(), loop).result()
            loop.call_soon_threadsafe(loop.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="MiB per transfer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ssh", action="store_true", help="through SSH servers, not sftp -D")
    args = parser.parse_args()
    if args.ssh:
        main_ssh(args)
        return
    ours = f"{sys.executable} -m ssh_sftp"
    servers = {"sftp-server-py": ours, "OpenSSH sftp-server": OPENSSH}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _cached_bytecode(root)
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
