"""The clients and servers under test, each run in a child process of its own so that its
CPU time and peak memory are its own (``python bench/peers.py client|serve ...``).

A client child prints one JSON line: ``{"seconds": [...], "cpu": s, "rss": bytes}`` for
the measured part only (imports and key loading excluded). ``kind`` is ``handshake``
(``count`` times: connect, kex, publickey auth, exec ``true``, exit status, close), ``up``
(``size`` bytes into ``cat > /dev/null``) or ``down`` (``size`` bytes out of ``head -c``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import resource
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
BLOCK = bytes(range(256)) * (CHUNK // 256)  # 1 MiB, written again and again


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _command(kind: str, size: int) -> str:
    return {"handshake": "true", "up": "cat > /dev/null", "down": f"head -c {size} /dev/zero"}[kind]


def _chunks(size: int) -> list[int]:
    return [CHUNK] * (size // CHUNK) + ([size % CHUNK] if size % CHUNK else [])


class Args(argparse.Namespace):
    impl: str
    port: int
    key: str
    kind: str
    size: int
    count: int
    cipher: str
    mac: str
    kex: str


# -- ours ----------------------------------------------------------------------------------


def _our_config(a: Args) -> Any:
    from ssh_transport import TransportConfig

    return TransportConfig(
        ciphers=(a.cipher,),
        macs=(a.mac,) if a.mac else None,
        kex_algorithms=(a.kex,),
    )


def ours_sync(a: Args) -> list[float]:
    from ssh_connection import sync
    from ssh_keys.keyfile import read_private_key_file

    key = read_private_key_file(a.key)
    config = _our_config(a)
    times = []
    for _ in range(a.count if a.kind == "handshake" else 1):
        start = time.perf_counter()
        with sync.connect(
            "127.0.0.1",
            a.port,
            "root",
            signers=[key],
            host_key_check=sync.insecure_accept_any_host_key,
            config=config,
        ) as conn:
            channel = conn.open_session()
            channel.exec(_command(a.kind, a.size))
            if a.kind == "up":
                for n in _chunks(a.size):
                    channel.write(BLOCK[:n] if n != CHUNK else BLOCK)
                channel.write_eof()
            elif a.kind == "down":
                got = 0
                while data := channel.read(CHUNK):
                    got += len(data)
                assert got == a.size, got
            status = channel.wait()
            assert status == 0, status
            channel.close()
        times.append(time.perf_counter() - start)
    return times


def ours_aio(a: Args) -> list[float]:
    from ssh_connection import aio
    from ssh_keys.keyfile import read_private_key_file

    key = read_private_key_file(a.key)
    config = _our_config(a)

    async def run() -> list[float]:
        times = []
        for _ in range(a.count if a.kind == "handshake" else 1):
            start = time.perf_counter()
            async with await aio.connect(
                "127.0.0.1",
                a.port,
                "root",
                signers=[key],
                host_key_check=aio.insecure_accept_any_host_key,
                config=config,
            ) as conn:
                channel = await conn.open_session()
                await channel.exec(_command(a.kind, a.size))
                if a.kind == "up":
                    for n in _chunks(a.size):
                        await channel.write(BLOCK[:n] if n != CHUNK else BLOCK)
                    await channel.write_eof()
                elif a.kind == "down":
                    got = 0
                    while data := await channel.read(CHUNK):
                        got += len(data)
                    assert got == a.size, got
                status = await channel.wait()
                assert status == 0, status
                await channel.close()
            times.append(time.perf_counter() - start)
        return times

    return asyncio.run(run())


# -- AsyncSSH ------------------------------------------------------------------------------


def asyncssh_client(a: Args) -> list[float]:
    import asyncssh

    key = asyncssh.read_private_key(a.key)
    options: dict[str, Any] = {"encryption_algs": [a.cipher], "kex_algs": [a.kex]}
    if a.mac:
        options["mac_algs"] = [a.mac]

    async def run() -> list[float]:
        times = []
        for _ in range(a.count if a.kind == "handshake" else 1):
            start = time.perf_counter()
            async with asyncssh.connect(
                "127.0.0.1",
                a.port,
                username="root",
                client_keys=[key],
                known_hosts=None,
                agent_path=None,
                **options,
            ) as conn:
                process = await conn.create_process(_command(a.kind, a.size), encoding=None)
                if a.kind == "up":
                    for n in _chunks(a.size):
                        process.stdin.write(BLOCK[:n] if n != CHUNK else BLOCK)
                        await process.stdin.drain()
                    process.stdin.write_eof()
                elif a.kind == "down":
                    got = 0
                    while data := await process.stdout.read(CHUNK):
                        got += len(data)
                    assert got == a.size, got
                result = await process.wait()
                assert result.exit_status == 0, result.exit_status
            times.append(time.perf_counter() - start)
        return times

    return asyncio.run(run())


# -- Paramiko ------------------------------------------------------------------------------


def paramiko_client(a: Args) -> list[float]:
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(a.key)
    times = []
    for _ in range(a.count if a.kind == "handshake" else 1):
        start = time.perf_counter()
        sock = socket.create_connection(("127.0.0.1", a.port))
        transport = paramiko.Transport(sock)
        options = transport.get_security_options()
        options.ciphers = (a.cipher,)
        # Paramiko knows curve25519 by its libssh.org name only.
        options.kex = ("curve25519-sha256@libssh.org" if a.kex == "curve25519-sha256" else a.kex,)
        if a.mac:
            options.digests = (a.mac,)
        transport.connect()
        transport.auth_publickey("root", key)
        channel = transport.open_session()
        channel.exec_command(_command(a.kind, a.size))
        if a.kind == "up":
            for n in _chunks(a.size):
                channel.sendall(BLOCK[:n] if n != CHUNK else BLOCK)
            channel.shutdown_write()
        elif a.kind == "down":
            got = 0
            while data := channel.recv(CHUNK):
                got += len(data)
            assert got == a.size, got
        status = channel.recv_exit_status()
        assert status == 0, status
        channel.close()
        transport.close()
        times.append(time.perf_counter() - start)
    return times


# -- libssh2 (ssh2-python, the engine of parallel-ssh) -------------------------------------


def ssh2_client(a: Args) -> list[float]:
    from ssh2 import session as s2

    times = []
    for _ in range(a.count if a.kind == "handshake" else 1):
        start = time.perf_counter()
        sock = socket.create_connection(("127.0.0.1", a.port))
        session = s2.Session()
        session.method_pref(s2.LIBSSH2_METHOD_KEX, a.kex)
        for method in (s2.LIBSSH2_METHOD_CRYPT_CS, s2.LIBSSH2_METHOD_CRYPT_SC):
            session.method_pref(method, a.cipher)
        if a.mac:
            for method in (s2.LIBSSH2_METHOD_MAC_CS, s2.LIBSSH2_METHOD_MAC_SC):
                session.method_pref(method, a.mac)
        session.handshake(sock)
        if session.methods(s2.LIBSSH2_METHOD_CRYPT_CS) != a.cipher:
            raise RuntimeError(f"libssh2 negotiated {session.methods(s2.LIBSSH2_METHOD_CRYPT_CS)}")
        session.userauth_publickey_fromfile("root", a.key)
        channel = session.open_session()
        channel.execute(_command(a.kind, a.size))
        if a.kind == "up":
            for n in _chunks(a.size):
                view = memoryview(BLOCK)[:n]
                while view:
                    _, written = channel.write(bytes(view))
                    view = view[written:]
            channel.send_eof()
        elif a.kind == "down":
            got = 0
            while True:
                size, _ = channel.read(CHUNK)
                if size <= 0:
                    break
                got += size
            assert got == a.size, got
        channel.wait_eof()
        channel.close()
        channel.wait_closed()
        status = channel.get_exit_status()
        assert status == 0, status
        session.disconnect()
        sock.close()
        times.append(time.perf_counter() - start)
    return times


def pssh_client(a: Args) -> list[float]:
    """parallel-ssh's own client: handshake rows only (its output API is line-based)."""
    from pssh.clients import SSHClient

    if a.kind != "handshake":
        raise RuntimeError("parallel-ssh rows are handshakes only; bulk is its libssh2 row")
    times = []
    for _ in range(a.count):
        start = time.perf_counter()
        client = SSHClient("127.0.0.1", user="root", port=a.port, pkey=a.key, num_retries=1)
        output = client.run_command("true")
        client.wait_finished(output)
        assert output.exit_code == 0, output.exit_code
        client.disconnect()
        times.append(time.perf_counter() - start)
    return times


CLIENTS: dict[str, Callable[[Args], list[float]]] = {
    "ours-sync": ours_sync,
    "ours-aio": ours_aio,
    "asyncssh": asyncssh_client,
    "paramiko": paramiko_client,
    "ssh2-python": ssh2_client,
    "parallel-ssh": pssh_client,
}


#: Imported before the clock starts: a client's import time is not what is measured.
IMPORTS = {
    "ours-sync": ("ssh_connection.sync", "ssh_keys.keyfile", "ssh_transport"),
    "ours-aio": ("ssh_connection.aio", "ssh_keys.keyfile", "ssh_transport"),
    "asyncssh": ("asyncssh",),
    "paramiko": ("paramiko",),
    "ssh2-python": ("ssh2.session",),
    "parallel-ssh": ("pssh.clients",),
}


def client_main(a: Args) -> None:
    run = CLIENTS[a.impl]
    for name in IMPORTS[a.impl]:
        importlib.import_module(name)
    if a.impl == "ssh2-python" and a.kex not in ("curve25519-sha256",):
        raise RuntimeError(f"libssh2 has no {a.kex}")
    cpu = _cpu()
    if a.impl == "parallel-ssh" and a.kex != "curve25519-sha256":
        raise RuntimeError(f"parallel-ssh has no {a.kex}")
    seconds = run(a)
    cpu = _cpu() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss": rss}))


# -- the servers ----------------------------------------------------------------------------


def _announce(port: int) -> None:
    print(port, flush=True)


def serve_ours(
    authorized_keys: str, host_key: str, blocking: bool, unlimited: bool = False
) -> None:
    """Our server (asyncio, or ``blocking``) with the ready-made ProcessHandler; prints
    its port, serves on. ``unlimited``: no MaxStartups (as AsyncSSH's and Paramiko's)."""
    limits: dict[str, Any] = {"max_startups": None} if unlimited else {}
    from ssh_auth import StandardPolicy, authorized_keys_file
    from ssh_connection.aio_process import AsyncProcessHandler
    from ssh_connection.aio_server import AsyncSSHServer
    from ssh_connection.sync_process import ProcessHandler
    from ssh_connection.sync_server import SSHServer
    from ssh_keys.keyfile import read_private_key_file

    if blocking:
        server = SSHServer(
            [read_private_key_file(host_key)],
            StandardPolicy(authorized_keys=authorized_keys_file(authorized_keys)),
            session_handler=ProcessHandler(),
            **limits,
        )
        _announce(server.listen("127.0.0.1", 0))
        server.serve_forever()
        return

    async def run() -> None:
        server = AsyncSSHServer(
            [read_private_key_file(host_key)],
            StandardPolicy(authorized_keys=authorized_keys_file(authorized_keys)),
            session_handler=AsyncProcessHandler(),
            max_sessions=10,
            **limits,
        )
        _announce(await server.listen("127.0.0.1", 0))
        await server.serve_forever()

    asyncio.run(run())


def serve_asyncssh(authorized_keys: str, host_key: str) -> None:
    """AsyncSSH's server, each exec run through ``/bin/sh -c``, its pipes copied to and
    from the channel's streams 1 MiB at a time (as ours; AsyncSSH's ``redirect`` copies
    8 KiB at a time by default, and may drop output still in flight when the command
    exits)."""
    import asyncssh

    async def copy(reader: Any, writer: Any) -> None:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()

    async def feed(reader: Any, stdin: Any) -> None:
        with contextlib.suppress(OSError, asyncssh.Error):
            await copy(reader, stdin)
        stdin.close()

    async def handle(process: Any) -> None:
        command = process.command if process.command is not None else "exec /bin/sh"
        local = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        feeder = asyncio.ensure_future(feed(process.stdin, local.stdin))
        await asyncio.gather(copy(local.stdout, process.stdout), copy(local.stderr, process.stderr))
        status = await local.wait()
        feeder.cancel()
        process.exit(status)

    async def run() -> None:
        server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            authorized_client_keys=authorized_keys,
            process_factory=handle,
            encoding=None,
            allow_scp=False,
        )
        _announce(server.sockets[0].getsockname()[1])
        await server.wait_closed()

    asyncio.run(run())


def serve_paramiko(authorized_keys: str, host_key: str) -> None:
    """Paramiko's server: a Transport per connection in a thread of its own (Paramiko's
    model), each exec run through ``/bin/sh -c`` with a thread per pipe."""
    import logging
    import subprocess
    import threading

    import paramiko

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # refused kex/ciphers: rows say
    allowed = {line.split()[1] for line in Path(authorized_keys).read_text().splitlines() if line}
    key = paramiko.Ed25519Key.from_private_key_file(host_key)

    class Server(paramiko.ServerInterface):
        def __init__(self) -> None:
            self.command: bytes | None = None
            self.ready = threading.Event()

        def get_allowed_auths(self, username: str) -> str:
            return "publickey"

        def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
            if key.get_base64() in allowed:
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def check_channel_request(self, kind: str, chanid: int) -> int:
            if kind == "session":
                return paramiko.OPEN_SUCCEEDED
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

        def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
            self.command = command
            self.ready.set()
            return True

    def copy_in(channel: paramiko.Channel, stdin: Any) -> None:
        with contextlib.suppress(OSError):
            while data := channel.recv(CHUNK):
                stdin.write(data)
        with contextlib.suppress(OSError):
            stdin.close()

    def copy_out(source: Any, send: Callable[[bytes], None]) -> None:
        while data := source.read1(CHUNK):
            send(data)

    def session(sock: socket.socket) -> None:
        transport = paramiko.Transport(sock)
        transport.add_server_key(key)
        server = Server()
        try:
            transport.start_server(server=server)
            channel = transport.accept(30)
            if channel is None or not server.ready.wait(30) or server.command is None:
                return
            process = subprocess.Popen(
                ["/bin/sh", "-c", server.command.decode()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            feeder = threading.Thread(target=copy_in, args=(channel, process.stdin), daemon=True)
            feeder.start()
            errors = threading.Thread(
                target=copy_out, args=(process.stderr, channel.sendall_stderr), daemon=True
            )
            errors.start()
            copy_out(process.stdout, channel.sendall)
            errors.join()
            channel.send_exit_status(process.wait())
            channel.shutdown_write()
            channel.close()
            transport.join(30)  # until the client hangs up: closing first resets it
        except (paramiko.SSHException, OSError, EOFError):
            pass
        finally:
            transport.close()

    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    _announce(listener.getsockname()[1])
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=session, args=(sock,), daemon=True).start()


SERVERS = ("ours", "ours-sync", "asyncssh", "paramiko")


def serve_main(impl: str, authorized_keys: str, host_key: str, unlimited: bool = False) -> None:
    if impl == "asyncssh":
        serve_asyncssh(authorized_keys, host_key)
    elif impl == "paramiko":
        serve_paramiko(authorized_keys, host_key)
    else:
        serve_ours(authorized_keys, host_key, blocking=impl == "ours-sync", unlimited=unlimited)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    client = sub.add_parser("client")
    client.add_argument("impl", choices=sorted(CLIENTS))
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--key", required=True)
    client.add_argument("--kind", choices=("handshake", "up", "down"), required=True)
    client.add_argument("--size", type=int, default=0)
    client.add_argument("--count", type=int, default=1)
    client.add_argument("--cipher", default="aes128-gcm@openssh.com")
    client.add_argument("--mac", default="")
    client.add_argument("--kex", default="curve25519-sha256")
    serve = sub.add_parser("serve")
    serve.add_argument("--authorized-keys", required=True)
    serve.add_argument("--host-key", required=True)
    serve.add_argument("impl", choices=SERVERS, help="ours: asyncio; ours-sync: blocking")
    serve.add_argument("--no-max-startups", action="store_true", help="ours: no MaxStartups")
    args = parser.parse_args()
    if args.mode == "serve":
        serve_main(args.impl, args.authorized_keys, args.host_key, args.no_max_startups)
    else:
        client_main(parser.parse_args(namespace=Args()))


if __name__ == "__main__":
    main()
