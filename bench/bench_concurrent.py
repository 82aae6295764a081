"""Many clients at once against our asyncio server and AsyncSSH's (issue 11): ``-n``
OpenSSH ``ssh ... true`` started together, each a TCP connect, key exchange
(curve25519-sha256), ed25519 publickey login, exec ``true`` through the server's shell
and the exit status; the wall time until the last one exits, as a ratio to ours.

The servers are ``bench/peers.py serve NAME`` in child processes of their own, as in
``bench_all.py``: ``ours`` is ``AsyncSSHServer`` with ``AsyncProcessHandler`` (here
without MaxStartups, as AsyncSSH has none), ``asyncssh`` is ``asyncssh.listen`` running
the command with ``/bin/sh -c``; ``ours-sync`` and ``paramiko`` may be added. Rounds
alternate between the servers so that the machine's load drifts over all alike.
Printed per server: median wall s (min-max), failures, the server's CPU s per round (the
commands it ran included), and the ratio of its median to ours.

``hatch run bench:concurrent [-n 200] [--repeat 3] [--servers ours,asyncssh]``
(bench/README.md). Any user; needs OpenSSH's ssh and ssh-keygen.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))

from openssh_tools import SSH  # noqa: E402

SERVERS = ("ours", "ours-sync", "asyncssh", "paramiko")
KEX = "curve25519-sha256,curve25519-sha256@libssh.org"  # Paramiko's name for it too


def proc_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_server(name: str, directory: Path) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-W", "ignore", str(HERE / "peers.py"), "serve", name]
    argv += ["--authorized-keys", str(directory / "ak"), "--host-key", str(directory / "host")]
    if name.startswith("ours"):
        argv.append("--no-max-startups")
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def one_round(port: int, pid: int, key: Path, count: int) -> dict[str, Any]:
    argv = [SSH, "-F", "/dev/null", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes"]
    argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    argv += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=120", "-o", f"KexAlgorithms={KEX}"]
    argv += ["-o", "Ciphers=aes128-gcm@openssh.com", "root@127.0.0.1", "true"]
    before = proc_cpu(pid)
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(count)
    ]
    failed, why = 0, ""
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            failed += 1
            why = why or stderr.decode(errors="replace").strip()[-120:]
    wall = time.perf_counter() - start
    time.sleep(0.5)  # the server reaps the sessions' commands
    return {"wall": wall, "failed": failed, "why": why, "cpu": proc_cpu(pid) - before}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="clients at once")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per server")
    parser.add_argument("--servers", default="ours,asyncssh", help=f"of {','.join(SERVERS)}")
    parser.add_argument("--json", help="also write the rounds here")
    args = parser.parse_args(argv)
    names = [n for n in args.servers.split(",") if n]
    if not names or set(names) - set(SERVERS):
        parser.error(f"servers: some of {', '.join(SERVERS)}")
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as tmp:
        directory = Path(tmp)
        for name in ("id", "host"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / name)],
                check=True,
            )
        (directory / "ak").write_text((directory / "id.pub").read_text())
        servers = {name: start_server(name, directory) for name in names}
        try:
            for index in range(args.repeat):
                for name in names:
                    process, port = servers[name]
                    result = one_round(port, process.pid, directory / "id", args.n)
                    rounds[name].append(result)
                    loads.append(os.getloadavg()[0])
                    print(f"round {index + 1} {name}: {result['wall']:.2f} s, "
                          f"{result['failed']} failed {result['why']}".rstrip(),
                          flush=True)  # fmt: skip
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()
    print(f"\n{args.n} concurrent ssh ... true, {args.repeat} rounds, "
          f"load {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    print(f"{'server':<10} {'wall s':>8} {'min-max':>13} {'failed':>7} {'cpu s':>6} {'x ours':>7}")
    base = statistics.median(r["wall"] for r in rounds[names[0]])
    for name in names:
        walls = [r["wall"] for r in rounds[name]]
        median = statistics.median(walls)
        cpu = statistics.median(r["cpu"] for r in rounds[name])
        failed = sum(r["failed"] for r in rounds[name])
        print(f"{name:<10} {median:>8.2f} {min(walls):>6.2f}-{max(walls):<6.2f} "
              f"{failed:>7} {cpu:>6.2f} {median / base:>7.2f}")  # fmt: skip
    if args.json:
        data = {"n": args.n, "load": [min(loads), max(loads)], "rounds": rounds}
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
