"""Transport benchmarks: bulk throughput per cipher and key exchange time per method.

    hatch run bench:python bench/bench_transport.py [--mb 32] [--kex-rounds 3] [--profile]
    (or hatch run test:python ...: without paramiko/AsyncSSH their rows are skipped)

(a) Throughput: our client and our server in two processes over loopback TCP. After a
    real ssh-userauth service request the client sends 32 KiB upper-layer payloads (number
    94, like CHANNEL_DATA) and the server echoes each one; MB/s in each direction.
(b) The ceiling: the same cipher (+MAC) in `cryptography` on 32 KiB buffers, encrypting and
    decrypting once (what each side of one direction does), and our share of it.
(c) Key exchange time per method: our client against our server in one process (memory
    pipe), and our client against OpenSSH's sshd over TCP (connect, kex, ssh-userauth).
(d) The same handshake by paramiko, AsyncSSH and OpenSSH's ssh against that sshd.
(e) Finite-field DH (group16, group18; curve25519 for scale): our client and AsyncSSH's,
    interleaved against the same private sshd in one run, both up to the server's answer
    to a "none" USERAUTH_REQUEST; medians, and ours in memory against ourselves.
    --dh-only runs just this section (--dh-rounds, default 9).
--profile: cProfile of the in-memory bulk path (seal, open, dispatch), top entries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests" / "interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ciphers import best_rates, ceiling  # noqa: E402
from openssh_tools import (  # noqa: E402
    HAVE_OPENSSH,
    SSH,
    SshdFactory,
    auth_none_request,
    common_algorithms,
    make_host_keys,
)

from ssh_keys import generate_private_key  # noqa: E402
from ssh_transport import HostKey, Role, Transport, TransportConfig  # noqa: E402
from ssh_transport.ciphers import cipher_spec  # noqa: E402
from ssh_transport.events import HostKeyReceived, ServiceAccepted, ServiceRequested  # noqa: E402
from ssh_transport.macs import mac_spec  # noqa: E402
from ssh_transport.sync import SocketStream, SyncTransport  # noqa: E402
from ssh_wire import SSHError  # noqa: E402

PAYLOAD = 32 * 1024
CIPHERS = (
    ("chacha20-poly1305@openssh.com", None),
    ("aes128-gcm@openssh.com", None),
    ("aes256-gcm@openssh.com", None),
    ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    ("aes256-ctr", "hmac-sha2-512-etm@openssh.com"),
    ("aes128-ctr", "hmac-sha2-256"),
    ("aes256-cbc", "hmac-sha1"),
    ("3des-cbc", "hmac-sha2-256-etm@openssh.com"),
)
_SERVER_KEY: HostKey | None = None


def server_key() -> HostKey:
    global _SERVER_KEY
    if _SERVER_KEY is None:
        _SERVER_KEY = HostKey(generate_private_key("ed25519"))
    return _SERVER_KEY


def trust(_key: object, _alg: str) -> bool:
    return True


# -- (a) throughput between two processes --------------------------------------------------


def _echo_server(listener: socket.socket, cipher: str, mac: str | None) -> None:
    """Child process: one connection, echo every upper-layer message until the end."""
    conn, _ = listener.accept()
    config = TransportConfig(
        host_keys=[server_key()], ciphers=[cipher], macs=[mac] if mac else None
    )
    t = SyncTransport(SocketStream(conn), Role.SERVER, config)
    t.wait_for_service(30)
    try:
        while True:
            t.send_message(t.receive_message())
    except (SSHError, OSError):  # the client hung up: done
        pass
    finally:
        t.close()


def throughput(cipher: str, mac: str | None, total_mb: int) -> float:
    """MB/s each way for one cipher (the echo carries the same bytes back concurrently)."""
    listener = socket.create_server(("127.0.0.1", 0))
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_echo_server, args=(listener, cipher, mac), daemon=True)
    child.start()
    config = TransportConfig(
        kex_algorithms=["curve25519-sha256"], ciphers=[cipher], macs=[mac] if mac else None
    )
    t = SyncTransport(
        SocketStream.connect("127.0.0.1", listener.getsockname()[1]),
        Role.CLIENT, config, host_key_check=trust,
    )  # fmt: skip
    listener.close()
    t.request_service("ssh-userauth")
    payload = bytes([94]) + os.urandom(PAYLOAD - 1)
    count = total_mb * 1024 * 1024 // PAYLOAD
    window = 8
    start = time.perf_counter()
    for _ in range(window):
        t.send_message(payload)
    for i in range(count):
        echoed = t.receive_message(30)
        assert len(echoed) == PAYLOAD
        if i + window < count:
            t.send_message(payload)
    elapsed = time.perf_counter() - start
    t.close()
    child.join(5)
    return count * PAYLOAD / elapsed / 1e6


def primitive_ceiling(cipher: str, mac: str | None) -> float:
    """MB/s of `cryptography` encrypting+decrypting (and MACing) 32 KiB buffers."""
    func = ceiling(cipher_spec(cipher), mac_spec(mac) if mac else None, PAYLOAD)
    rate, _ = best_rates(func, func, 0.6, 3)
    return rate * PAYLOAD / 1e6


# -- (c) key exchange time -------------------------------------------------------------------


def kex_in_memory(kex: str) -> float:
    client = Transport(Role.CLIENT, TransportConfig(kex_algorithms=[kex]))
    server = Transport(Role.SERVER, TransportConfig(kex_algorithms=[kex], host_keys=[server_key()]))
    start = time.perf_counter()
    client.request_service("ssh-userauth")
    done = False
    while not done:
        for a, b in ((client, server), (server, client)):
            if data := a.data_to_send():
                b.receive_data(data)
        while (event := client.next_event()) is not None:
            if isinstance(event, HostKeyReceived):
                client.accept_host_key()
        while (event := server.next_event()) is not None:
            done = done or isinstance(event, ServiceRequested)
    return time.perf_counter() - start


def kex_with_sshd(port: int, kex: str) -> float:
    start = time.perf_counter()
    t = SyncTransport(
        SocketStream.connect("127.0.0.1", port), Role.CLIENT,
        TransportConfig(kex_algorithms=[kex]), host_key_check=trust,
    )  # fmt: skip
    t.request_service("ssh-userauth")
    elapsed = time.perf_counter() - start
    t.close()
    return elapsed


def best(func: Callable[[], float], rounds: int) -> float:
    return min(func() for _ in range(rounds))


# -- (d) other clients -------------------------------------------------------------------------


def paramiko_handshake(port: int, kex: str) -> float | None:
    try:
        import paramiko
    except ImportError:
        return None
    disabled = [k for k in paramiko.Transport._preferred_kex if k != kex]
    if kex not in paramiko.Transport._preferred_kex:
        return None
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    t = paramiko.Transport(sock, disabled_algorithms={"kex": disabled})
    t.start_client(timeout=30)
    # Service request + "none": the point the others reach.
    with contextlib.suppress(paramiko.BadAuthenticationType):
        t.auth_none("nobody")
    elapsed = time.perf_counter() - start
    t.close()
    return elapsed


def asyncssh_handshake(port: int, kex: str) -> float | None:
    try:
        import asyncssh
    except ImportError:
        return None

    async def run() -> float:
        start = time.perf_counter()
        try:
            async with asyncssh.connect(
                "127.0.0.1", port, known_hosts=None, username="nobody", kex_algs=[kex],
                client_keys=None, password=None, agent_path=None,
                preferred_auth="none",
            ):  # fmt: skip
                pass
        except asyncssh.PermissionDenied:
            pass
        return time.perf_counter() - start

    try:
        return asyncio.run(run())
    except (asyncssh.Error, ValueError):
        return None


def ssh_handshake(port: int, kex: str) -> float:
    """OpenSSH's ssh to auth failure, process start included."""
    argv = [
        SSH, "-F", "/dev/null", "-p", str(port), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", f"KexAlgorithms={kex}", "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
        "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR", "nobody@127.0.0.1", "true",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return time.perf_counter() - start


# -- (e) finite-field DH, ours against AsyncSSH -----------------------------------------------

DH_KEX = ("diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "curve25519-sha256")


def ours_to_auth_none(port: int, kex: str) -> float:
    """Our client up to the USERAUTH_FAILURE for "none": where asyncssh_handshake stops."""
    start = time.perf_counter()
    t = SyncTransport(
        SocketStream.connect("127.0.0.1", port), Role.CLIENT,
        TransportConfig(kex_algorithms=[kex]), host_key_check=trust,
    )  # fmt: skip
    t.request_service("ssh-userauth")
    t.send_message(auth_none_request())
    t.receive_message(30)
    elapsed = time.perf_counter() - start
    t.close()
    return elapsed


def dh_section(port: int, rounds: int) -> None:
    print(f"\n(e) DH handshakes against one sshd, to the 'none' auth reply; ms, median of {rounds}")
    head = ["ours<->ours", "ours->sshd", "asyncssh", "ours/asyncssh"]
    print(f"{'kex':34}" + "".join(f"{h:>14}" for h in head))
    for kex in DH_KEX:
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):  # interleaved, so both clients see the same machine load
            ours.append(ours_to_auth_none(port, kex))
            other = asyncssh_handshake(port, kex)
            if other is not None:
                theirs.append(other)
        memory = statistics.median(kex_in_memory(kex) for _ in range(rounds))
        mine = statistics.median(ours)
        cells = [f"{memory * 1000:14.1f}", f"{mine * 1000:14.1f}"]
        if theirs:
            other_median = statistics.median(theirs)
            cells += [f"{other_median * 1000:14.1f}", f"{mine / other_median:14.2f}"]
        else:
            cells += [f"{'-':>14}", f"{'-':>14}"]
        print(f"{kex:34}" + "".join(cells))


# -- profile -------------------------------------------------------------------------------


def memory_pair(cipher: str, mac: str | None) -> tuple[Transport, Transport, Callable[[], None]]:
    """Our client and server in one process, wired back to back, service accepted.

    Returns both and a ``pump`` that moves bytes until both are quiet."""
    config = {"ciphers": [cipher], "macs": [mac] if mac else None}
    client = Transport(Role.CLIENT, TransportConfig(**config))  # type: ignore[arg-type]
    server = Transport(Role.SERVER, TransportConfig(host_keys=[server_key()], **config))  # type: ignore[arg-type]
    accepted = []

    def pump() -> None:
        moved = True
        while moved:
            moved = False
            for a, b in ((client, server), (server, client)):
                if data := a.data_to_send():
                    b.receive_data(data)
                    moved = True
            while (event := client.next_event()) is not None:
                if isinstance(event, HostKeyReceived):
                    client.accept_host_key()
                accepted.append(isinstance(event, ServiceAccepted))
            while server.next_event() is not None:
                pass

    client.request_service("ssh-userauth")
    pump()
    assert any(accepted)
    return client, server, pump


def memory_throughput(cipher: str, mac: str | None, total_mb: int) -> float:
    """MB/s of client seal + server open with no sockets: the same work as the ceiling."""
    client, server, _ = memory_pair(cipher, mac)
    payload = bytes([94]) + os.urandom(PAYLOAD - 1)
    count = total_mb * 1024 * 1024 // PAYLOAD
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(count):
            client.send_message(payload)
            server.receive_data(client.data_to_send())
            while server.next_event() is not None:
                pass
        best = max(best, count * PAYLOAD / (time.perf_counter() - start) / 1e6)
    return best


def profile_bulk(cipher: str, mac: str | None, count: int = 2000) -> None:
    client, _, pump = memory_pair(cipher, mac)
    payload = bytes([94]) + os.urandom(PAYLOAD - 1)

    def run() -> None:
        for _ in range(count):
            client.send_message(payload)
            pump()

    profiler = cProfile.Profile()
    profiler.runcall(run)
    print(f"\ncProfile: {count} x 32 KiB, {cipher} {mac or ''}, client seal + server open")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=32, help="MB sent per cipher")
    parser.add_argument("--kex-rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--dh-only", action="store_true", help="only section (e)")
    parser.add_argument("--dh-rounds", type=int, default=9)
    args = parser.parse_args()
    if args.dh_only:
        args.skip_throughput = True

    if not args.skip_throughput:
        print(f"(a)/(b) throughput, {args.mb} MB of 32 KiB messages; MB/s")
        print("  tcp: echoed over loopback TCP between two processes, each way")
        print("  memory: client seal + server open in one process, no sockets")
        print("  crypto: the same cipher (+MAC) in `cryptography`, encrypt + decrypt")
        head = f"{'cipher':30} {'MAC':30} {'tcp':>8} {'memory':>8} {'crypto':>8}"
        print(head + f" {'tcp/crypto':>10} {'mem/crypto':>10}")
        for cipher, mac in CIPHERS:
            ours = throughput(cipher, mac, args.mb)
            memory = memory_throughput(cipher, mac, args.mb)
            top = primitive_ceiling(cipher, mac)
            print(
                f"{cipher:30} {mac or '<implicit>':30} {ours:8.1f} {memory:8.1f} {top:8.1f}"
                f" {ours / top:10.2f} {memory / top:10.2f}"
            )

    kexes = common_algorithms().kex if HAVE_OPENSSH else ()
    with tempfile.TemporaryDirectory() as tmp:
        sshd = None
        if HAVE_OPENSSH:
            keys = make_host_keys(Path(tmp) / "keys")
            counter = iter(range(100))
            factory = SshdFactory(lambda: Path(tmp) / f"sshd{next(counter)}", keys)
            sshd = factory.start(**common_algorithms().sshd_options(), LogLevel="ERROR")
        try:
            if sshd is not None:
                dh_section(sshd.port, args.dh_rounds)
            if args.dh_only:
                kexes = ()
            else:
                print(f"\n(c)/(d) handshake to ssh-userauth, ms (best of {args.kex_rounds})")
                head = ["ours<->ours", "ours->sshd", "paramiko", "asyncssh", "ssh(1)"]
                print(f"{'kex':40}" + "".join(f"{h:>12}" for h in head) + f"{'ours/ssh':>10}")
            for kex in kexes:
                row = [best(lambda: kex_in_memory(kex), args.kex_rounds)]  # noqa: B023
                assert sshd is not None
                port = sshd.port
                row.append(best(lambda: kex_with_sshd(port, kex), args.kex_rounds))  # noqa: B023
                for other in (paramiko_handshake, asyncssh_handshake):
                    times = [other(port, kex) for _ in range(args.kex_rounds)]
                    row.append(min(times) if None not in times else None)  # type: ignore[arg-type]
                row.append(best(lambda: ssh_handshake(port, kex), args.kex_rounds))  # noqa: B023
                cells = "".join(f"{v * 1000:12.1f}" if v is not None else f"{'-':>12}" for v in row)
                ratio = row[1] / row[4] if row[1] and row[4] else 0
                print(f"{kex:40}{cells}{ratio:10.2f}")
        finally:
            if sshd is not None:
                factory.stop_all()

    if args.profile:
        profile_bulk("aes128-ctr", "hmac-sha2-256-etm@openssh.com")
        profile_bulk("chacha20-poly1305@openssh.com", None)


if __name__ == "__main__":
    if shutil.which("sshd") is None:
        print("note: OpenSSH not installed, only in-process numbers", file=sys.stderr)
    main()
