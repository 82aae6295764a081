"""The asyncio server's commands (``AsyncProcessHandler`` over ``_aio_spawn``): started in
spawner threads, reaped through a pidfd, their pipes and pty master read and written by
the loop itself. Our asyncio client against our asyncio server in this process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import threading
from collections.abc import AsyncIterator

import pytest

from ssh_auth import StandardPolicy
from ssh_connection import _aio_net, _aio_spawn, aio
from ssh_connection.aio_process import AsyncProcessHandler
from ssh_connection.aio_server import AsyncSSHServer
from ssh_keys import AuthorizedKeys, generate_private_key

USER_KEY = generate_private_key("ed25519")
HOST_KEY = generate_private_key("ed25519")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def alive(pid: int) -> bool:
    """Whether ``pid`` is still a process (a zombie not reaped counts: it is ours to reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.asynccontextmanager
async def serving(**options: object) -> AsyncIterator[tuple[AsyncSSHServer, int]]:
    keys = AuthorizedKeys.from_text(USER_KEY.public_key.to_line())
    server = AsyncSSHServer(
        [HOST_KEY],
        StandardPolicy(authorized_keys=lambda user: keys),
        session_handler=AsyncProcessHandler(),
        max_startups=None,
        **options,  # type: ignore[arg-type]
    )
    port = await server.listen("127.0.0.1", 0)
    try:
        yield server, port
    finally:
        await server.close()


async def connect(port: int) -> aio.AsyncSSHConnection:
    return await aio.connect(
        "127.0.0.1", port, "user", signers=[USER_KEY],
        host_key_check=aio.insecure_accept_any_host_key, timeout=120,
    )  # fmt: skip


async def read_until(channel: aio.AsyncSSHChannel, marker: bytes, limit: float = 30) -> bytes:
    seen = b""
    while marker not in seen:
        data = await channel.read(65536, timeout=limit)
        if not data:
            break
        seen += data
    return seen


def test_exit_status_stdout_and_stderr() -> None:
    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            result = await conn.run("echo out; echo err >&2; exit 3", timeout=60)
            assert (result.stdout, result.stderr, result.exit_status) == (b"out\n", b"err\n", 3)

    asyncio.run(main())


def test_stdin_reaches_the_command_and_eof_ends_it() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            result = await conn.run("sha256sum", input=data, timeout=120)
            assert result.exit_status == 0
            assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()

    asyncio.run(main())


def test_large_output_arrives_whole() -> None:
    size = 64 * 1024 * 1024

    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.open_session()
            await channel.exec(f"head -c {size} /dev/zero")
            got = 0
            while data := await channel.read(1 << 20, timeout=120):
                assert not data.strip(b"\0")
                got += len(data)
            assert got == size
            assert await channel.wait(timeout=60) == 0

    asyncio.run(main())


def test_a_signal_from_the_client_ends_the_command_and_is_reported() -> None:
    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.open_session()
            await channel.exec("echo ready; exec sleep 60")
            assert b"ready" in await read_until(channel, b"ready")
            await channel.send_signal("TERM")
            assert await channel.wait(timeout=30) is None
            assert channel.exit_signal is not None
            assert channel.exit_signal.signal == "TERM"

    asyncio.run(main())


def test_a_command_killed_from_outside_reports_its_signal() -> None:
    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.open_session()
            await channel.exec("echo $$; exec sleep 60")
            pid = int((await read_until(channel, b"\n")).split()[0])
            os.kill(pid, signal.SIGKILL)
            assert await channel.wait(timeout=30) is None
            assert channel.exit_signal is not None
            assert channel.exit_signal.signal == "KILL"
            assert not alive(pid)  # reaped by the server

    asyncio.run(main())


def test_pty_command_has_the_terminal_as_its_controlling_tty() -> None:
    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.open_session()
            await channel.get_pty("xterm", 91, 37)
            # ps: the shell leads its session and is the terminal's foreground group.
            await channel.exec("tty; stty size; ps -o sid=,tpgid= -p $$; echo $$; exit 4")
            output = b""
            while data := await channel.read(65536, timeout=30):
                output += data
            assert await channel.wait(timeout=30) == 4
            lines = output.decode().split()
            assert lines[0].startswith("/dev/pts/")
            assert lines[1:3] == ["37", "91"]
            sid, tpgid, pid = lines[3:6]
            assert sid == tpgid == pid

    asyncio.run(main())


def test_pty_shell_echoes_input_and_follows_window_changes() -> None:
    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.invoke_shell("xterm", 80, 24)
            await channel.write(b"stty size; echo mark-$((6*7))\n")
            assert b"mark-42" in await read_until(channel, b"mark-42")
            await channel.resize(120, 50)
            await channel.write(b"stty size; echo mark-$((7*7))\n")
            assert b"50 120" in await read_until(channel, b"mark-49")
            await channel.write(b"exit 5\n")
            assert await channel.wait(timeout=30) == 5

    asyncio.run(main())


def test_large_output_through_a_pty() -> None:
    size = 16 * 1024 * 1024

    async def main() -> None:
        async with serving() as (_, port), await connect(port) as conn:
            channel = await conn.open_session()
            await channel.get_pty()
            await channel.exec(f"stty raw -echo; head -c {size} /dev/zero; exit 0")
            got = 0
            while data := await channel.read(1 << 20, timeout=120):
                got += len(data.replace(b"\r", b"").replace(b"\n", b""))
            assert got == size
            assert await channel.wait(timeout=60) == 0

    asyncio.run(main())


def test_many_concurrent_commands_on_pipes_and_ptys() -> None:
    count = 60  # clients at once, a third of them on a pty

    async def main() -> None:
        async with serving() as (_, port):

            async def one(i: int) -> tuple[bytes, int | None]:
                async with await connect(port) as conn:
                    channel = await conn.open_session(timeout=120)
                    if i % 3 == 0:
                        await channel.get_pty()
                    await channel.exec(f"echo n{i}; exit {i % 7}")
                    output = b""
                    while data := await channel.read(65536, timeout=120):
                        output += data
                    return output.strip(), await channel.wait(timeout=120)

            results = await asyncio.gather(*(one(i) for i in range(count)))
            assert results == [(f"n{i}".encode(), i % 7) for i in range(count)]


def test_missing_program_is_an_error_for_pipes_and_ptys() -> None:
    async def main() -> None:
        for start in (
            _aio_net.start_process(["/no/such/program"], dict(os.environ)),
            _aio_net.start_pty_process(["/no/such/program"], dict(os.environ), None, None),
        ):
            with pytest.raises(FileNotFoundError):
                await start

    asyncio.run(main())


def own_threads() -> int:
    """Threads besides the pools (asyncio's default executor, which the login's policy
    uses, and the spawners): a command or an idle shell must not hold one."""
    return sum(not t.name.startswith(("asyncio_", "ssh-spawn")) for t in threading.enumerate())


def spawners() -> int:
    return sum(t.name.startswith("ssh-spawn") for t in threading.enumerate())


def test_no_descriptor_or_thread_is_left_behind() -> None:
    async def round_trip(port: int) -> None:
        async with await connect(port) as conn:
            assert (await conn.run("echo x", timeout=60)).stdout == b"x\n"
            channel = await conn.open_session()
            await channel.get_pty()
            await channel.exec("echo y")
            assert b"y" in await read_until(channel, b"y")
            assert await channel.wait(timeout=30) == 0

    async def main() -> None:
        async with serving() as (_, port):
            await round_trip(port)  # the pools start
            await asyncio.sleep(0.2)
            fds, threads = open_fds(), own_threads()
            for _ in range(5):
                await round_trip(port)
            for _ in range(100):  # connections end with tasks finishing on their own
                if (open_fds(), own_threads()) == (fds, threads):
                    break
                await asyncio.sleep(0.05)
            assert (open_fds(), own_threads()) == (fds, threads)
            assert spawners() <= _aio_spawn.SPAWNERS

    asyncio.run(main())


def test_idle_shells_hold_no_thread() -> None:
    # Before, each pty read waited in asyncio's default executor: 20 idle shells, 20
    # blocked threads (or, past the executor's few workers, shells that never got a read).
    count = 20

    def threads() -> int:
        return threading.active_count() - spawners()

    async def main() -> None:
        async with serving(max_sessions=count) as (_, port), await connect(port) as conn:
            before = threads()
            shells = []
            for i in range(count):
                shell = await conn.invoke_shell()
                mark = f"up-{i + 1000}".encode()
                await shell.write(f"echo up-$(({i}+1000))\n".encode())
                assert mark in await read_until(shell, mark)
                shells.append(shell)
            # All idle at a prompt, each waiting for input and output at once.
            await asyncio.sleep(0.2)
            print(f"{count} idle shells: {threads() - before} more threads, {spawners()} spawners")
            assert threads() == before
            assert spawners() <= _aio_spawn.SPAWNERS
            for shell in shells:
                await shell.write(b"exit 0\n")
            for shell in shells:
                assert await shell.wait(timeout=30) == 0

    asyncio.run(main())


def test_exit_is_reaped_without_a_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where os.pidfd_open is missing (or fails) a thread waits for the exit instead.
    monkeypatch.delattr(os, "pidfd_open", raising=False)

    async def main() -> None:
        process = await _aio_net.start_process(["/bin/sh", "-c", "exit 9"], dict(os.environ))
        assert await process.read_stdout() == b""
        assert await process.wait() == 9
        process.close()
        assert not alive(process.pid)

    asyncio.run(main())


def test_preexec_fallback_without_setsid(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without util-linux's setsid the child takes its controlling tty in a preexec_fn.
    monkeypatch.setattr(_aio_spawn, "_setsid", False)

    async def main() -> None:
        process = await _aio_net.start_pty_process(
            ["/bin/sh", "-c", "ps -o sid=,tpgid= -p $$; echo $$"], dict(os.environ), None, None
        )
        output = b""
        while data := await process.read_stdout():
            output += data
        assert await process.wait() == 0
        process.close()
        sid, tpgid, pid = output.decode().split()
        assert sid == tpgid == pid

    asyncio.run(main())
