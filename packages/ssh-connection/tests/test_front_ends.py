"""The channel objects and front ends over a socketpair: our client against our server,
both in this process, blocking and asyncio. No OpenSSH needed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from ssh_auth import StandardPolicy
from ssh_auth.aio import authenticate as aauthenticate
from ssh_auth.sync import authenticate
from ssh_connection import aio, sync
from ssh_connection.aio_server import AsyncServerSession, AsyncSSHServer
from ssh_connection.errors import ChannelOpenError, RequestRefused
from ssh_connection.restrictions import ForwardRequest
from ssh_connection.sync_server import ServerSession, SSHServer
from ssh_keys import generate_private_key
from ssh_transport import Role
from ssh_transport.aio import MAX_OUTBOX, AsyncTransport
from ssh_transport.aio_backend import AsyncStream
from ssh_transport.sync import SocketStream, SyncTransport

HOST_KEY = generate_private_key("ed25519")
POLICY = StandardPolicy(password=lambda user, password: password == "pw")


def echo_handler(session: ServerSession) -> int:
    """exec "echo": copy stdin to stdout, its length to stderr; "sleep": block; else 9."""
    channel = session.channel
    if session.command == "sleep":
        while channel.read(1 << 16):
            pass
        return 0
    if session.command != "echo":
        channel.write_stderr(b"unknown\n")
        return 9
    total = 0
    while data := channel.read(1 << 16):
        total += len(data)
        channel.write(data)
    channel.write_stderr(f"{total}\n".encode())
    return 0


def serve_pair(server: SSHServer) -> SyncTransport:
    ours, theirs = socket.socketpair()
    threading.Thread(target=server.serve_stream, args=(SocketStream(theirs),), daemon=True).start()
    return SyncTransport(SocketStream(ours), Role.CLIENT, host_key_check=lambda k, a: True)


@pytest.fixture
def conn() -> Iterator[sync.SSHConnection]:
    server = SSHServer([HOST_KEY], POLICY, session_handler=echo_handler, max_sessions=4)
    transport = serve_pair(server)
    authenticate(transport, "alice", password="pw")
    with sync.start_connection(transport, "alice") as connection:
        yield connection
    server.close()


def test_run_round_trip(conn: sync.SSHConnection) -> None:
    result = conn.run("echo", input=b"hello")
    assert (result.stdout, result.stderr, result.exit_status) == (b"hello", b"5\n", 0)
    assert conn.run("nothing").exit_status == 9


def test_big_transfer_both_ways(conn: sync.SSHConnection) -> None:
    data = bytes(range(256)) * 40000  # 10 MB, several windows
    result = conn.run("echo", input=data)
    assert result.stdout == data and result.stderr == f"{len(data)}\n".encode()


def test_readline_readexactly(conn: sync.SSHConnection) -> None:
    stdin, stdout, stderr = conn.exec_command("echo")
    stdin.write(b"one\ntwo\nthree")
    assert stdout.readline() == b"one\n"
    assert stdout.readexactly(4) == b"two\n"
    stdin.close()
    assert stdout.readline() == b"three"
    assert stdout.readline() == b""
    assert stderr.read() == b"13\n"
    assert stdout.channel.wait() == 0


def test_readexactly_eof(conn: sync.SSHConnection) -> None:
    stdin, stdout, _ = conn.exec_command("echo")
    stdin.write(b"abc")
    stdin.close()
    with pytest.raises(EOFError):
        stdout.readexactly(10)


def test_slow_reader_pushes_back(conn: sync.SSHConnection) -> None:
    """Nothing read: the server's writes stop at our window; reading lets them go on."""
    channel = conn.open_session()
    channel.exec("echo")
    data = b"x" * (32 * 1024 * 1024)  # more than every window and buffer on the way
    writer = threading.Thread(target=lambda: (channel.write(data), channel.write_eof()))
    writer.start()
    time.sleep(0.5)
    core_channel = conn.core.channel(channel.id)
    # At most our window (2 MiB) sits unread here, whatever the server wants to send.
    assert len(channel._buffers[0]) <= core_channel.window_size
    assert writer.is_alive()  # and so our own writes wait too
    got = channel.read()
    writer.join(10)
    assert got == data


def test_blocked_channel_does_not_stall_another(conn: sync.SSHConnection) -> None:
    blocked = conn.open_session()
    blocked.exec("sleep")
    reader = threading.Thread(target=blocked.read, daemon=True)
    reader.start()  # waits for data that never comes
    assert conn.run("echo", input=b"still works").stdout == b"still works"
    blocked.write_eof()
    reader.join(5)
    assert not reader.is_alive()


def test_max_sessions_and_refused_requests(conn: sync.SSHConnection) -> None:
    channels = [conn.open_session() for _ in range(4)]
    with pytest.raises(ChannelOpenError):
        conn.open_session()
    with pytest.raises(RequestRefused):
        channels[0].subsystem("sftp")  # no subsystems registered
    channels[1].get_pty()
    channels[1].exec("echo")
    with pytest.raises(RequestRefused):
        channels[1].shell()  # one command per session
    for channel in channels:
        channel.close()
    assert conn.run("echo", input=b"ok").stdout == b"ok"


def test_forwarding_refused_by_default(conn: sync.SSHConnection) -> None:
    with pytest.raises(ChannelOpenError):
        conn.open_direct_tcpip("127.0.0.1", 9)
    with pytest.raises(RequestRefused):
        conn.forward_remote("127.0.0.1", 9)


def test_connection_end_reaches_waiting_reader(conn: sync.SSHConnection) -> None:
    channel = conn.open_session()
    channel.exec("sleep")
    errors: list[BaseException] = []

    def read() -> None:
        try:
            channel.read()
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(0.1)
    conn.close()
    thread.join(5)
    assert len(errors) == 1


# -- asyncio ----------------------------------------------------------------------------------


async def aecho(session: AsyncServerSession) -> int:
    channel = session.channel
    while data := await channel.read(1 << 16):
        await channel.write(data.upper())
    return 3


async def aconnected(
    handler: Callable[[AsyncServerSession], Awaitable[int]] = aecho,
) -> tuple[aio.AsyncSSHConnection, AsyncSSHServer]:
    server = AsyncSSHServer([HOST_KEY], POLICY, session_handler=handler)
    ours, theirs = socket.socketpair()
    sreader, swriter = await asyncio.open_connection(sock=theirs)
    asyncio.get_running_loop().create_task(server.serve_stream(AsyncStream(sreader, swriter)))
    creader, cwriter = await asyncio.open_connection(sock=ours)
    transport = AsyncTransport(
        AsyncStream(creader, cwriter), Role.CLIENT, host_key_check=lambda k, a: True
    )
    await aauthenticate(transport, "bob", password="pw")
    return await aio.start_connection(transport, "bob"), server


def test_asyncio_concurrent_sessions() -> None:
    async def main() -> None:
        conn, server = await aconnected()
        async with conn:
            results = await asyncio.gather(
                *(conn.run("x", input=bytes([97 + i]) * 100000) for i in range(5))
            )
            for i, result in enumerate(results):
                assert result.stdout == bytes([65 + i]) * 100000 and result.exit_status == 3
            channel = await conn.open_session()
            await channel.exec("x")
            await channel.write(b"line\nrest")
            assert await channel.readline() == b"LINE\n"
            await channel.write_eof()
            assert await channel.read() == b"REST"
            assert await channel.wait() == 3
        await server.close()

    asyncio.run(main())


def test_read_all_keeps_data_that_came_with_the_close() -> None:
    """read_all() once returned what it had when the channel closed during its call():
    the pump runs while call() waits for the outbox (or a key exchange), and data that
    came just before the CLOSE was lost (1 run in ~300 of ``run("head -c 3000000 ...")``
    against sshd). Here the outbox is made to wait: the write lock is held and another
    channel has more than MAX_OUTBOX queued, so that wait is certain."""
    go = asyncio.Event()

    async def burst(session: AsyncServerSession) -> int:
        if session.command == "burst":
            await session.channel.write(b"a" * 1000)
            await go.wait()
            await session.channel.write(b"b" * 100000)
        else:
            while await session.channel.read(1 << 16):
                pass
        return 0

    async def main() -> None:
        conn, server = await aconnected(burst)
        async with conn:
            reader = await conn.open_session()
            await reader.exec("burst")
            sink = await conn.open_session()
            await sink.exec("sink")
            transport = conn.transport
            await transport._write_lock.acquire()  # private: to make the wait certain
            filler = asyncio.create_task(sink.write(b"x" * (MAX_OUTBOX + 500000)))
            result = asyncio.create_task(reader.read_all())
            await transport.wait_until(lambda: transport._outbox_bytes > MAX_OUTBOX or None)
            await asyncio.sleep(0.1)  # read_all takes the first 1000 bytes and waits
            go.set()
            await transport.wait_until(lambda: reader.closed or None, 10)
            transport._write_lock.release()
            stdout, stderr = await asyncio.wait_for(result, 10)
            assert stdout == b"a" * 1000 + b"b" * 100000 and stderr == b""
            await filler
        await server.close()

    asyncio.run(main())


def test_serve_forever_many_clients_then_close() -> None:
    server = SSHServer([HOST_KEY], POLICY, session_handler=echo_handler)
    runner = threading.Thread(target=server.serve_forever, args=("127.0.0.1", 0))
    runner.start()
    while not server.port:
        time.sleep(0.01)
    results: list[bytes] = []

    def client(i: int) -> None:
        with sync.connect(
            "127.0.0.1", server.port, f"user{i}", password="pw",
            host_key_check=sync.insecure_accept_any_host_key,
        ) as c:  # fmt: skip
            results.append(c.run("echo", input=b"%d" % i).stdout)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(30)
    assert sorted(results) == sorted(b"%d" % i for i in range(10))
    idle = sync.connect(
        "127.0.0.1", server.port, "idle", password="pw",
        host_key_check=sync.insecure_accept_any_host_key,
    )  # fmt: skip
    server.close()
    runner.join(10)
    assert not runner.is_alive()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the server disconnected it
        idle.run("echo", timeout=5)
    idle.close()


def test_asyncio_forwarding_check_sync_in_a_worker_thread() -> None:
    echo = socket.create_server(("127.0.0.1", 0))
    echo_port = echo.getsockname()[1]

    def serve_echo() -> None:
        conn, _ = echo.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data[::-1])

    threading.Thread(target=serve_echo, daemon=True).start()
    seen: list[tuple[str, int, bool]] = []

    def check(request: ForwardRequest) -> bool:  # blocking: must not run on the loop
        seen.append((request.host, request.port, threading.current_thread() is main))
        return request.port == echo_port

    main = threading.main_thread()

    async def main_coro() -> None:
        server = AsyncSSHServer(
            [HOST_KEY], POLICY, allow_tcp_forwarding=True, forwarding_check=check
        )
        port = await server.listen("127.0.0.1", 0)
        async with await aio.connect(
            "127.0.0.1", port, "eve", password="pw",
            host_key_check=aio.insecure_accept_any_host_key,
        ) as conn:  # fmt: skip
            with pytest.raises(ChannelOpenError):
                await conn.open_direct_tcpip("127.0.0.1", 1)
            async with await conn.open_direct_tcpip("127.0.0.1", echo_port) as channel:
                await channel.write(b"abc")
                await channel.write_eof()
                assert await channel.read() == b"cba"
        await server.close()

    asyncio.run(main_coro())
    with contextlib.suppress(OSError):  # wakes serve_echo if it never got its connection
        echo.shutdown(socket.SHUT_RDWR)
    echo.close()
    assert seen == [("127.0.0.1", 1, False), ("127.0.0.1", echo_port, False)]
