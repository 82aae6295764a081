"""How long our asyncio server's event loop stalls while sessions start their commands
(issue 11): every connection it serves waits for the loop, so a stall is everyone's.

The server (``AsyncSSHServer`` with ``AsyncProcessHandler``) runs in this process with a
ticker task that sleeps 1 ms at a time and records each gap between its wakeups. A child
process (our asyncio client, so its CPU is not ours) first opens ``-n`` connections and
logs them all in, unmeasured; then, on a word from us, every connection starts its
command at once and we record the ticker's gaps until all have finished.

Rows: ``none`` (``-n`` clients exec, answered with status 0 by a handler that runs
nothing: the floor, the protocol's own work), ``pipes`` (``-n`` clients exec ``true``),
``pty`` (the same on a pty) and ``pty-bulk`` (one client reads ``--pty-mib`` through a
pty). Printed per row: the worst
gap (ms), the time spent in gaps over 10 ms (ms, "stalled"), the row's wall time, and
the server's threads at the end.

``hatch run bench:spawn [-n 200] [--rows pipes,pty,pty-bulk] [--pty-mib 400]``
(bench/README.md). Any user; no sshd.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TICK = 0.001
STALL = 0.010  # a gap this long counts as a stall

ROWS = ("none", "pipes", "pty", "pty-bulk")


class Ticker:
    """Sleeps TICK at a time in the loop and keeps the gaps between wakeups."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.stalled = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        self.worst = self.stalled = 0.0
        self.ticks = 0

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            gap, last = now - last, now
            self.ticks += 1
            self.worst = max(self.worst, gap)
            if gap >= STALL:
                self.stalled += gap

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


# -- the client child ------------------------------------------------------------------------


def client_main(port: int, key: str, count: int, row: str, size: int) -> None:
    """Open ``count`` logged-in connections, say ``ready``; on ``go`` start every command
    at once, say ``done`` with the failures once all have ended."""
    from ssh_connection import aio
    from ssh_keys.keyfile import read_private_key_file

    signer = read_private_key_file(key)

    async def run() -> None:
        opening = asyncio.Semaphore(50)  # handshakes in flight (unmeasured anyway)

        async def connect() -> aio.AsyncSSHConnection:
            async with opening:
                return await aio.connect(
                    "127.0.0.1", port, "bench", signers=[signer],
                    host_key_check=aio.insecure_accept_any_host_key, timeout=300,
                )  # fmt: skip

        connections = await asyncio.gather(*(connect() for _ in range(count)))
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)

        async def one(conn: aio.AsyncSSHConnection) -> int:
            channel = await conn.open_session(timeout=300)
            if row in ("pty", "pty-bulk"):
                await channel.get_pty()
            await channel.exec(f"head -c {size} /dev/zero" if row == "pty-bulk" else "true")
            got = 0
            while data := await channel.read(1 << 20, timeout=300):
                got += len(data)
            status = await channel.wait(timeout=300)
            await channel.close()
            if row == "pty-bulk" and got < size:
                return 1
            return 0 if status == 0 else 1

        results = await asyncio.gather(*(one(c) for c in connections), return_exceptions=True)
        failed = sum(r != 0 for r in results)
        print(f"done {failed}", flush=True)
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    asyncio.run(run())


# -- the server, measuring ---------------------------------------------------------------------


async def measure_row(directory: Path, row: str, count: int, size: int) -> dict[str, Any]:
    from ssh_auth import StandardPolicy
    from ssh_connection.aio_process import AsyncProcessHandler
    from ssh_connection.aio_server import AsyncSSHServer
    from ssh_keys import AuthorizedKeys, generate_private_key

    keys = AuthorizedKeys.from_text((directory / "id.pub").read_text())

    async def nothing(session: Any) -> int:
        return 0

    server = AsyncSSHServer(
        [generate_private_key("ed25519")],
        StandardPolicy(authorized_keys=lambda user: keys),
        session_handler=nothing if row == "none" else AsyncProcessHandler(),
        max_startups=None,
        max_sessions=2,
    )
    port = await server.listen("127.0.0.1", 0)
    clients = 1 if row == "pty-bulk" else count
    argv = [sys.executable, "-W", "ignore", __file__, "--client", str(port)]
    argv += ["--key", str(directory / "id"), "-n", str(clients), "--row", row]
    argv += ["--size", str(size)]
    child = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None
    ticker = Ticker()
    ticker.start()
    try:
        line = await child.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"client: {line!r}")
        await asyncio.sleep(0.5)  # the logins' last packets
        ticker.reset()
        start = time.perf_counter()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        line = await child.stdout.readline()
        wall = time.perf_counter() - start
        if not line.startswith(b"done"):
            raise RuntimeError(f"client: {line!r}")
        failed = int(line.split()[1])
        result = {
            "row": row,
            "clients": clients,
            "mib": size >> 20 if row == "pty-bulk" else 0,
            "worst_ms": round(ticker.worst * 1000, 1),
            "stalled_ms": round(ticker.stalled * 1000, 1),
            "wall_s": round(wall, 2),
            "failed": failed,
            "threads": threading.active_count(),
        }
        await child.wait()
    finally:
        ticker.stop()
        if child.returncode is None:
            child.kill()
            await child.wait()
        await server.close()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="clients starting a command at once")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"of {','.join(ROWS)}")
    parser.add_argument("--pty-mib", type=int, default=400, help="MiB through the pty-bulk row")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each row")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)  # the child: a port
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client is not None:
        client_main(args.client, args.key, args.n, args.row, args.size)
        return
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    load = os.getloadavg()[0]
    print(f"loop stall while sessions start (tick {TICK * 1000:g} ms, stall >= "
          f"{STALL * 1000:g} ms), load {load:.1f}")  # fmt: skip
    print(f"{'row':<9} {'clients':>7} {'worst ms':>9} {'stalled ms':>11} {'wall s':>7} "
          f"{'failed':>6} {'threads':>7}")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-spawn-") as tmp:
        directory = Path(tmp)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "id")],
            check=True,
        )
        for row in rows:
            for _ in range(args.repeat):
                size = args.pty_mib << 20
                result = asyncio.run(measure_row(directory, row, args.n, size))
                results.append(result)
                label = row if row != "pty-bulk" else f"pty {args.pty_mib}M"
                print(f"{label:<9} {result['clients']:>7} {result['worst_ms']:>9.1f} "
                      f"{result['stalled_ms']:>11.1f} {result['wall_s']:>7.2f} "
                      f"{result['failed']:>6} {result['threads']:>7}", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "rows": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
