"""Soak: connect / log in / exec / disconnect cycles for N minutes, to see memory and file
descriptors stay flat (SECURITY.md: "long soaks with flat memory and file descriptors").

A few concurrent asyncio clients (``--clients``, default 4) loop against our asyncio server
(``ssh_connection.aio_server.AsyncSSHServer``) in this same process: each cycle is a TCP
connect, key exchange, ed25519 publickey login, one exec answered by an in-process handler
(no child process, so the figures are the library's), and a disconnect. Every
``--interval`` seconds (default 60) one line is printed: minutes elapsed, connections so
far, errors, RSS (VmRSS from /proc/self/status) and open descriptors; ``--json`` prints
each as a JSON object instead (tests/soak/test_soak.py reads them).

glibc's malloc keeps one arena per thread that ever allocated (the executor threads
included), which makes RSS wander by tens of MiB for no leak; the script re-executes itself
with MALLOC_ARENA_MAX=2 unless that is set already, so runs compare.

``hatch run bench:soak --minutes N`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass

from ssh_auth import StandardPolicy
from ssh_connection import aio
from ssh_connection.aio_server import AsyncServerSession, AsyncSSHServer
from ssh_keys import AuthorizedKeys, generate_private_key


@dataclass
class Report:
    minutes: float
    connections: int
    errors: int
    rss_kib: int
    fds: int
    done: bool = False  # the last line: every client has stopped and disconnected


def rss_kib() -> int:
    """VmRSS of this process in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
    except OSError:
        return 0


async def answer(session: AsyncServerSession) -> int:
    """exec COMMAND: COMMAND comes back on stdout, status 0."""
    await session.channel.write((session.command or "").encode())
    return 0


class Soak:
    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.connections = 0
        self.errors = 0
        self.first_error: str | None = None
        self.user_key = generate_private_key("ed25519")
        keys = AuthorizedKeys.from_text(self.user_key.public_key.to_line() + "\n")
        self.server = AsyncSSHServer(
            [generate_private_key("ed25519")],
            StandardPolicy(authorized_keys=lambda user: keys if user == "soak" else None),
            session_handler=answer,
        )
        self.port = 0

    async def cycle(self, i: int) -> None:
        async with await aio.connect(
            "127.0.0.1", self.port, "soak", signers=[self.user_key],
            host_key_check=aio.insecure_accept_any_host_key, timeout=30,
        ) as conn:  # fmt: skip
            result = await conn.run(f"cycle {i}", timeout=30)
        if result.stdout != f"cycle {i}".encode() or result.exit_status != 0:
            raise RuntimeError(f"cycle {i}: {result!r}")

    async def client(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            n = self.connections
            self.connections += 1
            try:
                await self.cycle(n)
            except Exception:
                self.errors += 1
                if self.first_error is None:
                    self.first_error = traceback.format_exc()

    def report(self, start: float, done: bool) -> Report:
        return Report(
            round((time.monotonic() - start) / 60, 2),
            self.connections,
            self.errors,
            rss_kib(),
            fd_count(),
            done,
        )

    async def run(self, minutes: float, interval: float, as_json: bool) -> list[Report]:
        self.port = await self.server.listen("127.0.0.1", 0)
        start = time.monotonic()
        deadline = start + minutes * 60
        tasks = [asyncio.create_task(self.client(deadline)) for _ in range(self.clients)]
        reports: list[Report] = []
        try:
            next_report = start + interval
            while not all(t.done() for t in tasks):
                await asyncio.wait(tasks, timeout=max(0.0, next_report - time.monotonic()))
                done = all(t.done() for t in tasks)
                if time.monotonic() >= next_report or done:
                    gc.collect()
                    reports.append(self.report(start, done))
                    show(reports[-1], as_json)
                    next_report += interval
        finally:
            for task in tasks:
                task.cancel()
            await self.server.close()
        return reports


def show(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(report)), flush=True)
        return
    print(
        f"{report.minutes:7.2f} min  {report.connections:8d} connections  "
        f"{report.errors:4d} errors  RSS {report.rss_kib / 1024:7.1f} MiB  "
        f"{report.fds:4d} fds" + ("  (all clients gone)" if report.done else ""),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between lines")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    if "MALLOC_ARENA_MAX" not in os.environ and argv is None:
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    soak = Soak(args.clients)
    if not args.json:
        print(f"soak: {args.clients} clients for {args.minutes:g} min, pid {os.getpid()}")
    reports = asyncio.run(soak.run(args.minutes, args.interval, args.json))
    if soak.first_error is not None:
        print(f"first error:\n{soak.first_error}", file=sys.stderr)
    last = reports[-1] if reports else None
    if not args.json and last is not None and last.minutes > 0:
        rate = last.connections / (last.minutes * 60)
        print(f"soak: {last.connections} connections ({rate:.1f}/s), {last.errors} errors")
    return 1 if soak.errors else 0


if __name__ == "__main__":
    sys.exit(main())
