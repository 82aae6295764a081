"""Thousands of connections in one asyncio process: our asyncio client opens N connections
(default 2000) to our asyncio server (``ssh_connection.aio_server.AsyncSSHServer``, in a
child process of its own) and then to a private OpenSSH ``sshd``; each does a TCP connect,
key exchange, ed25519 publickey login and one exec, then all stay open, idle, together.

Printed per server: handshakes per second (the whole connect + login + exec), wall time,
failures, memory per idle authenticated connection on each side (PSS from
/proc/PID/smaps_rollup, which counts pages shared between sshd's processes once), open file
descriptors and, for our two processes, asyncio tasks and CPU used while everyone idles.
``--tracemalloc`` adds the top allocation sites per idle connection on both of our sides
(slow: a separate run).

Run as root (sshd) from the repository root:
``hatch run bench:many [-n 2000] [--servers ours,sshd]`` (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))

from openssh_tools import Sshd, make_host_keys  # noqa: E402

from ssh_connection import aio  # noqa: E402
from ssh_keys.keyfile import read_private_key_file  # noqa: E402
from ssh_transport import TransportConfig  # noqa: E402


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- /proc figures ---------------------------------------------------------------------------


def fd_count(pid: int | str = "self") -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def pss_kib(pid: int | str = "self") -> int:
    """Proportional set size: a page shared by k processes counts 1/k in each."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int | str = "self") -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (sshd forks two processes per connection)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_figures(root: int) -> dict[str, float]:
    pids = process_tree(root)
    return {
        "processes": len(pids),
        "pss_kib": sum(pss_kib(p) for p in pids),
        "fds": sum(fd_count(p) for p in pids),
        "cpu": sum(cpu_seconds(p) for p in pids),
    }


def top_allocations(snapshot: tracemalloc.Snapshot, base: tracemalloc.Snapshot, n: int) -> str:
    lines = []
    for stat in snapshot.compare_to(base, "lineno")[:15]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        lines.append(f"    {stat.size_diff / max(1, n):9.0f} B/conn  {where}")
    return "\n".join(lines)


# -- our server, in a child process ------------------------------------------------------------


def serve_main(args: argparse.Namespace) -> None:
    """Our asyncio server; prints its port, answers each line sent to the Unix socket
    ``--control`` with a JSON line of figures (``stats``; ``snapshot`` sets the tracemalloc
    baseline, ``top N`` compares with it) and stops at the end of its stdin."""
    from ssh_auth import StandardPolicy, authorized_keys_file
    from ssh_connection.aio_process import AsyncProcessHandler
    from ssh_connection.aio_server import AsyncSSHServer

    raise_fd_limit()
    if args.tracemalloc:
        tracemalloc.start()
    base: list[tracemalloc.Snapshot] = []

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        command = (await reader.readline()).decode().split() or [""]
        gc.collect()
        reply: dict[str, Any] = {"tasks": len(asyncio.all_tasks()) - 1}  # less this one
        if tracemalloc.is_tracing() and command[0] == "snapshot":
            base[:] = [tracemalloc.take_snapshot()]
        elif tracemalloc.is_tracing() and base and command[0] == "top":
            reply["top"] = top_allocations(tracemalloc.take_snapshot(), base[0], int(command[1]))
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()
        writer.close()

    async def run() -> None:
        server = AsyncSSHServer(
            [read_private_key_file(args.host_key)],
            StandardPolicy(authorized_keys=authorized_keys_file(args.authorized_keys)),
            session_handler=AsyncProcessHandler(),
            max_startups=None,
        )
        port = await server.listen("127.0.0.1", 0)
        controls = await asyncio.start_unix_server(control, args.control)
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        controls.close()
        await server.close()

    asyncio.run(run())


def ask_server(path: str, command: str) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        reply: dict[str, Any] = json.loads(sock.makefile().readline())
        return reply


class OurServer:
    def __init__(self, directory: Path, use_tracemalloc: bool) -> None:
        self.control = str(directory / "control")
        argv = [sys.executable, "-W", "ignore", __file__, "serve",
                "--host-key", str(directory / "host"),
                "--authorized-keys", str(directory / "ak"), "--control", self.control]  # fmt: skip
        if use_tracemalloc:
            argv.append("--tracemalloc")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the client side ---------------------------------------------------------------------------


async def open_all(
    port: int, user: str, key: Any, count: int, concurrency: int, config: TransportConfig
) -> tuple[list[aio.AsyncSSHConnection], list[str], float]:
    """N connections, at most ``concurrency`` handshakes in flight; each runs ``true``."""
    gate = asyncio.Semaphore(concurrency)
    connections: list[aio.AsyncSSHConnection] = []
    failures: list[str] = []

    async def one() -> None:
        async with gate:
            try:
                conn = await aio.connect(
                    "127.0.0.1", port, user, signers=[key], config=config,
                    host_key_check=aio.insecure_accept_any_host_key, timeout=120,
                )  # fmt: skip
            except Exception as exc:
                failures.append(f"connect: {type(exc).__name__}: {exc}")
                return
            try:
                result = await conn.run("true", timeout=120)
            except Exception as exc:
                failures.append(f"exec: {type(exc).__name__}: {exc}")
                await conn.close()
                return
            if result.exit_status != 0:
                failures.append(f"exit status {result.exit_status}")
            connections.append(conn)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return connections, failures, time.perf_counter() - start


def summarize_failures(failures: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for failure in failures:
        counts[failure[:100]] = counts.get(failure[:100], 0) + 1
    return "; ".join(f"{n} x {what}" for what, n in sorted(counts.items(), key=lambda i: -i[1]))


async def measure(
    name: str,
    port: int,
    user: str,
    key: Any,
    args: argparse.Namespace,
    server_figures: Any,
    ask: Any,
) -> None:
    config = TransportConfig(kex_algorithms=(args.kex,)) if args.kex else TransportConfig()
    gc.collect()
    client_base = {"pss_kib": pss_kib(), "fds": fd_count(), "tasks": len(asyncio.all_tasks())}
    server_base = server_figures()
    ask("snapshot")
    snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    connections, failures, took = await open_all(
        port, user, key, args.count, args.concurrency, config
    )
    ok = len(connections)
    await asyncio.sleep(1)  # the last channels close, their commands are reaped
    gc.collect()
    client = {"pss_kib": pss_kib(), "fds": fd_count(), "tasks": len(asyncio.all_tasks())}
    server = server_figures()
    server_tasks = ask("stats").get("tasks")
    # Idle: everyone connected, nothing said; what does keeping them cost?
    # The server's figures first: walking /proc over sshd's thousands of processes costs
    # this process a second of CPU, which must not count as the client's idle cost.
    cpu_server = server_figures()["cpu"]
    cpu_client = cpu_seconds()
    await asyncio.sleep(args.idle)
    idle_client = (cpu_seconds() - cpu_client) / args.idle
    idle_server = (server_figures()["cpu"] - cpu_server) / args.idle
    per = max(1, ok)
    print(f"\n== {name}: {args.count} connections, {args.concurrency} handshakes in flight"
          f"{', kex ' + args.kex if args.kex else ''}")  # fmt: skip
    print(f"  {ok} ok, {len(failures)} failed in {took:.1f} s: {ok / took:.1f} handshakes/s"
          " (connect + kex + login + exec true)")  # fmt: skip
    if failures:
        print(f"  failures: {summarize_failures(failures)}")
    print(
        f"  client (this process): {(client['pss_kib'] - client_base['pss_kib']) / per:.1f}"
        f" KiB per idle connection, fds {client_base['fds']} -> {client['fds']}, asyncio tasks"
        f" {client_base['tasks']} -> {client['tasks']}, idle CPU {idle_client * 100:.1f} %"
    )
    extra = f", {server['processes']:.0f} processes" if server["processes"] > 1 else ""
    tasks = f", asyncio tasks {server_tasks}" if server_tasks is not None else ""
    print(f"  server: {(server['pss_kib'] - server_base['pss_kib']) / per:.1f} KiB per idle"
          f" connection (PSS), fds {server_base['fds']:.0f} -> {server['fds']:.0f}{extra}"
          f"{tasks}, idle CPU {idle_server * 100:.1f} %")  # fmt: skip
    if snapshot is not None:
        print("  client allocations per idle connection (tracemalloc):")
        print(top_allocations(tracemalloc.take_snapshot(), snapshot, per))
        top = ask(f"top {per}").get("top")
        if top:
            print("  server allocations per idle connection (tracemalloc):")
            print(top)
    start = time.perf_counter()
    await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    await asyncio.sleep(1)
    gc.collect()
    after = server_figures()
    print(f"  closed in {time.perf_counter() - start:.1f} s: client fds {fd_count()}, tasks"
          f" {len(asyncio.all_tasks())}; server fds {after['fds']:.0f},"
          f" processes {after['processes']:.0f}")  # fmt: skip


def client_main(args: argparse.Namespace) -> None:
    """One measurement in a fresh process, so that its memory figures are its own."""
    raise_fd_limit()
    if args.tracemalloc:
        tracemalloc.start()
    key = read_private_key_file(args.key)
    pid, control = args.server_pid, args.control

    def ask(command: str) -> dict[str, Any]:
        return ask_server(control, command) if control else {}

    asyncio.run(measure(args.name, args.port, args.user, key, args,
                        lambda: tree_figures(pid), ask))  # fmt: skip


def run_client(args: argparse.Namespace, name: str, port: int, user: str, key: Path,
               pid: int, control: str = "") -> None:  # fmt: skip
    argv = [sys.executable, "-W", "ignore", __file__, "-n", str(args.count),
            "-c", str(args.concurrency), "--kex", args.kex, "--idle", str(args.idle)]  # fmt: skip
    if args.tracemalloc:
        argv.append("--tracemalloc")
    argv += ["client", "--name", name, "--port", str(port), "--user", user, "--key", str(key),
             "--server-pid", str(pid), "--control", control]  # fmt: skip
    subprocess.run(argv, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=100,
                        help="handshakes in flight at once (default 100)")  # fmt: skip
    parser.add_argument("--servers", default="ours,sshd", help="ours,sshd (default both)")
    parser.add_argument("--kex", default="curve25519-sha256",
                        help="the kex (default curve25519-sha256, which both have; '' for"
                        " our defaults)")  # fmt: skip
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle to measure CPU")
    parser.add_argument("--tracemalloc", action="store_true")
    sub = parser.add_subparsers(dest="mode")
    serve = sub.add_parser("serve")
    serve.add_argument("--host-key", required=True)
    serve.add_argument("--authorized-keys", required=True)
    serve.add_argument("--control", required=True)
    serve.add_argument("--tracemalloc", action="store_true")
    client = sub.add_parser("client")
    for option in ("--name", "--user", "--key", "--control"):
        client.add_argument(option, default="")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--server-pid", type=int, required=True)
    args = parser.parse_args()
    if args.mode == "serve":
        serve_main(args)
        return
    if args.mode == "client":
        client_main(args)
        return
    limit = raise_fd_limit()
    print(f"RLIMIT_NOFILE {limit}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name in ("id", "host"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                           check=True)  # fmt: skip
        (d / "ak").write_text((d / "id.pub").read_text())
        servers = args.servers.split(",")
        if "ours" in servers:
            ours = OurServer(d, args.tracemalloc)
            try:
                run_client(args, "ours (AsyncSSHServer)", ours.port, "bench", d / "id",
                           ours.process.pid, ours.control)  # fmt: skip
            finally:
                ours.stop()
        if "sshd" in servers:
            options = {
                "PermitRootLogin": "yes",
                "AuthorizedKeysFile": str(d / "ak"),
                "LogLevel": "ERROR",
                "MaxStartups": f"{args.count * 2}:30:{args.count * 4}",
                "MaxSessions": "100",
                "PasswordAuthentication": "no",
            }
            sshd = Sshd(d / "sshd", make_host_keys(d / "keys"), options).start()
            try:
                assert sshd.process is not None
                run_client(args, "OpenSSH sshd", sshd.port, "root", d / "id", sshd.process.pid)
            finally:
                sshd.stop()


if __name__ == "__main__":
    main()
