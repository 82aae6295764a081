"""Load: 500 concurrent connections from our asyncio client to our asyncio server in this
process, each with an ed25519 publickey login and an exec; afterwards the process's file
descriptors and asyncio tasks are back where they were (the full-size run, thousands of
connections with figures, is bench/bench_many.py)."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from typing import Any

import pytest

from ssh_auth import StandardPolicy
from ssh_connection import aio
from ssh_connection.aio_server import AsyncServerSession, AsyncSSHServer
from ssh_keys import AuthorizedKeys, PrivateKey, generate_private_key

COUNT = 500


def raise_fd_limit(need: int) -> None:
    """Two descriptors a connection (both ends are in this process): lift the soft limit
    towards the hard one when the default (often 1024) is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        limit = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def hello(session: AsyncServerSession) -> int:
    await session.channel.write(f"hello {session.command}".encode())
    return 7


async def wait_until_back(baseline_fds: int, baseline_tasks: int) -> tuple[int, int]:
    """Closing ends with tasks finishing on their own: give them until the counts return
    (or 30 s, when the assertion below reports what was left)."""
    for _ in range(300):
        fds, tasks = open_fds(), len(asyncio.all_tasks())
        if (fds, tasks) == (baseline_fds, baseline_tasks):
            break
        await asyncio.sleep(0.1)
    return open_fds(), len(asyncio.all_tasks())


def load_server(user_key: PrivateKey, **options: Any) -> AsyncSSHServer:
    """An asyncio server taking ``user_key``'s logins and answering each exec with hello."""
    keys = AuthorizedKeys.from_text(user_key.public_key.to_line())
    return AsyncSSHServer(
        [generate_private_key("ed25519")],
        StandardPolicy(authorized_keys=lambda user: keys),
        session_handler=hello,
        **options,
    )


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.slow
def test_500_concurrent_clients_log_in_run_a_command_and_leave_nothing_behind() -> None:
    raise_fd_limit(4 * COUNT + 256)
    user_key = generate_private_key("ed25519")

    async def main() -> None:
        server = load_server(user_key, max_startups=None)  # all are unauthenticated at once
        port = await server.listen("127.0.0.1", 0)
        baseline_fds, baseline_tasks = open_fds(), len(asyncio.all_tasks())

        async def client(i: int) -> tuple[aio.AsyncSSHConnection, bytes, int | None]:
            conn = await aio.connect(
                "127.0.0.1", port, "load", signers=[user_key],
                host_key_check=aio.insecure_accept_any_host_key, timeout=120,
            )  # fmt: skip
            result = await conn.run(f"#{i}", timeout=120)
            return conn, result.stdout, result.exit_status

        rss_before = _rss_kib()
        started = time.perf_counter()
        results = await asyncio.gather(*(client(i) for i in range(COUNT)), return_exceptions=True)
        took = time.perf_counter() - started
        rss = _rss_kib()
        failures = [r for r in results if isinstance(r, BaseException)]
        assert not failures, failures[:3]
        done = [r for r in results if not isinstance(r, BaseException)]
        assert [(out, status) for _, out, status in done] == [
            (f"hello #{i}".encode(), 7) for i in range(COUNT)
        ]
        assert len(server._transports) == COUNT  # all still open, idle, at once
        # Figures for the issue note (printed with -s; never asserted: machines are noisy).
        print(
            f"\n{COUNT} logins + exec in {took:.1f} s ({COUNT / took:.0f}/s), "
            f"RSS {rss / 1024:.0f} MiB with all {COUNT} open, "
            f"{(rss - rss_before) / COUNT:.0f} KiB a connection (both ends in this process)"
        )
        await asyncio.gather(*(conn.close() for conn, _, _ in done))
        try:
            assert await wait_until_back(baseline_fds, baseline_tasks) == (
                baseline_fds,
                baseline_tasks,
            )
            assert not server._transports
        finally:
            await server.close()

    asyncio.run(main())


def test_per_source_max_startups_drops_a_source_past_its_limit() -> None:
    """Two silent connections from 127.0.0.1 hold the per-source limit: a third is closed
    before the version line (as past MaxStartups); once one leaves, a client logs in."""
    user_key = generate_private_key("ed25519")

    async def main() -> None:
        server = load_server(user_key, max_startups=None, per_source_max_startups=2)
        port = await server.listen("127.0.0.1", 0)
        try:
            silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            for reader, _ in silent:
                assert (await reader.readline()).startswith(b"SSH-2.0-")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(reader.read(), 30) == b""  # dropped
            writer.close()
            silent[0][1].close()
            await silent[0][1].wait_closed()
            for _ in range(100):  # until the server saw it go
                if server.source_startups is not None and (
                    server.source_startups.pending("127.0.0.1") < 2
                ):
                    break
                await asyncio.sleep(0.05)
            conn = await aio.connect(
                "127.0.0.1", port, "load", signers=[user_key],
                host_key_check=aio.insecure_accept_any_host_key, timeout=30,
            )  # fmt: skip
            async with conn:
                assert (await conn.run("#x", timeout=30)).stdout == b"hello #x"
            silent[1][1].close()
        finally:
            await server.close()

    asyncio.run(main())
