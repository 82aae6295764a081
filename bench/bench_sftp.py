"""SFTP client throughput: get and put of one file against the same private sshd.

    hatch run bench:sftp [--mb 64] [--repeat 2] [--cipher NAME]
    (or hatch run test:python ...: without paramiko/AsyncSSH their rows are skipped)

Rows: our blocking client and our asyncio client (over our SSH client), OpenSSH's
``sftp -b``, and AsyncSSH's and Paramiko's clients when installed, all to one sshd whose
"sftp" subsystem is OpenSSH's sftp-server; then our client and ``sftp -D`` straight on
sftp-server's pipes (no SSH: the SFTP layer alone). MB/s (10^6 bytes/s), best of --repeat,
the file checked by SHA-256 after every run. Connecting and logging in are not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests" / "interop"))

from openssh_tools import SshdFactory, make_host_keys  # noqa: E402

from ssh_connection import aio as conn_aio  # noqa: E402
from ssh_connection import sync as conn_sync  # noqa: E402
from ssh_keys.keyfile import read_private_key_file  # noqa: E402
from ssh_sftp.aio import AsyncSFTPClient  # noqa: E402
from ssh_sftp.sync import SFTPClient  # noqa: E402

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
MB = 1_000_000


class Setup:
    def __init__(self, work: Path, port: int, key: Path, cipher: str | None) -> None:
        self.work = work
        self.port = port
        self.key = key
        self.cipher = cipher
        self.source = work / "source.bin"
        self.remote = work / "remote.bin"
        self.local = work / "local.bin"
        self.digest = ""

    def check(self, path: Path) -> None:
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != self.digest:
            raise SystemExit(f"{path}: checksum mismatch")
        path.unlink()


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# -- clients ---------------------------------------------------------------------------------


def ours_sync(s: Setup, direction: str, repeat: int) -> list[float]:
    config = None
    if s.cipher:
        from ssh_transport import TransportConfig

        config = TransportConfig(ciphers=(s.cipher,))
    key = read_private_key_file(s.key)
    times = []
    with conn_sync.connect(
        "127.0.0.1", s.port, "root", signers=[key], config=config,
        host_key_check=conn_sync.insecure_accept_any_host_key,
    ) as conn, SFTPClient.from_connection(conn) as sftp:  # fmt: skip
        for _ in range(repeat):
            if direction == "get":
                times.append(timed(lambda: sftp.get(str(s.source), s.local)))
                s.check(s.local)
            else:
                times.append(timed(lambda: sftp.put(s.source, str(s.remote))))
                s.check(s.remote)
    return times


def ours_aio(s: Setup, direction: str, repeat: int) -> list[float]:
    config = None
    if s.cipher:
        from ssh_transport import TransportConfig

        config = TransportConfig(ciphers=(s.cipher,))
    key = read_private_key_file(s.key)
    times: list[float] = []

    async def main() -> None:
        async with await conn_aio.connect(
            "127.0.0.1", s.port, "root", signers=[key], config=config,
            host_key_check=conn_aio.insecure_accept_any_host_key,
        ) as conn, await AsyncSFTPClient.from_connection(conn) as sftp:  # fmt: skip
            for _ in range(repeat):
                start = time.perf_counter()
                if direction == "get":
                    await sftp.get(str(s.source), s.local)
                else:
                    await sftp.put(s.source, str(s.remote))
                times.append(time.perf_counter() - start)
                s.check(s.local if direction == "get" else s.remote)

    asyncio.run(main())
    return times


def _sftp_batch(s: Setup, argv: list[str], batch: str) -> float:
    start = time.perf_counter()
    command = [argv[0], "-q", "-b", "-", *argv[1:]]
    subprocess.run(command, input=batch.encode(), check=True, capture_output=True)
    return time.perf_counter() - start


def _transfer_batch(s: Setup, direction: str) -> str:
    if direction == "get":
        return f"get {s.source} {s.local}\n"
    return f"put {s.source} {s.remote}\n"


def openssh_sftp(s: Setup, direction: str, repeat: int) -> list[float]:
    argv = [
        "sftp", "-i", str(s.key), "-P", str(s.port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        *(["-o", f"Ciphers={s.cipher}"] if s.cipher else []),
        "root@127.0.0.1",
    ]  # fmt: skip
    # Login and subsystem start are inside each run: time a session that only runs pwd
    # and take that off.
    setup = min(_sftp_batch(s, argv, "pwd\n") for _ in range(3))
    times = []
    for _ in range(repeat):
        times.append(max(1e-6, _sftp_batch(s, argv, _transfer_batch(s, direction)) - setup))
        s.check(s.local if direction == "get" else s.remote)
    return times


def asyncssh_client(s: Setup, direction: str, repeat: int) -> list[float] | None:
    try:
        import asyncssh
    except ImportError:
        return None
    times: list[float] = []

    async def main() -> None:
        kw = {"encryption_algs": [s.cipher]} if s.cipher else {}
        async with asyncssh.connect(
            "127.0.0.1", s.port, username="root", client_keys=[str(s.key)], known_hosts=None, **kw
        ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
            for _ in range(repeat):
                start = time.perf_counter()
                if direction == "get":
                    await sftp.get(str(s.source), str(s.local))
                else:
                    await sftp.put(str(s.source), str(s.remote))
                times.append(time.perf_counter() - start)
                s.check(s.local if direction == "get" else s.remote)

    asyncio.run(main())
    return times


def paramiko_client(s: Setup, direction: str, repeat: int) -> list[float] | None:
    try:
        import paramiko
    except ImportError:
        return None
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", s.port, "root", key_filename=str(s.key), look_for_keys=False)
    times = []
    try:
        sftp = client.open_sftp()
        for _ in range(repeat):
            if direction == "get":
                times.append(timed(lambda: sftp.get(str(s.source), str(s.local))))
                s.check(s.local)
            else:
                times.append(timed(lambda: sftp.put(str(s.source), str(s.remote))))
                s.check(s.remote)
    finally:
        client.close()
    return times


def ours_pipes(s: Setup, direction: str, repeat: int) -> list[float]:
    times = []
    with SFTPClient.from_command([SFTP_SERVER]) as sftp:
        for _ in range(repeat):
            if direction == "get":
                times.append(timed(lambda: sftp.get(str(s.source), s.local)))
                s.check(s.local)
            else:
                times.append(timed(lambda: sftp.put(s.source, str(s.remote))))
                s.check(s.remote)
    return times


def openssh_pipes(s: Setup, direction: str, repeat: int) -> list[float]:
    argv = ["sftp", "-D", SFTP_SERVER]
    setup = min(_sftp_batch(s, argv, "pwd\n") for _ in range(3))
    times = []
    for _ in range(repeat):
        times.append(max(1e-6, _sftp_batch(s, argv, _transfer_batch(s, direction)) - setup))
        s.check(s.local if direction == "get" else s.remote)
    return times


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="file size in MiB")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cipher", default=None, help="force one cipher on every client")
    args = parser.parse_args()
    if shutil.which("sshd") is None or not os.access(SFTP_SERVER, os.X_OK):
        raise SystemExit("needs OpenSSH's sshd and sftp-server")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keys = make_host_keys(work / "hostkeys")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "id")], check=True
        )
        auth = work / "authorized_keys"
        auth.write_text((work / "id.pub").read_text())
        factory = SshdFactory(lambda: work / "sshd", keys)
        sshd = factory.start(
            PermitRootLogin="yes",
            AuthorizedKeysFile=str(auth),
            Subsystem=f"sftp {SFTP_SERVER}",
            LogLevel="ERROR",
        )
        try:
            s = Setup(work, sshd.port, work / "id", args.cipher)
            data = os.urandom(args.mb * 1024 * 1024)
            s.source.write_bytes(data)
            s.digest = hashlib.sha256(data).hexdigest()
            size = len(data)
            rows: list[tuple[str, Callable[[Setup, str, int], list[float] | None]]] = [
                ("ours (blocking) via sshd", ours_sync),
                ("ours (asyncio) via sshd", ours_aio),
                ("OpenSSH sftp via sshd", openssh_sftp),
                ("AsyncSSH via sshd", asyncssh_client),
                ("Paramiko via sshd", paramiko_client),
                ("ours on sftp-server pipes", ours_pipes),
                ("OpenSSH sftp -D (pipes)", openssh_pipes),
            ]
            print(f"{args.mb} MiB, best of {args.repeat}, MB/s; cipher: {args.cipher or 'default'}")
            print(f"{'client':30} {'get':>8} {'put':>8}")
            results: dict[str, tuple[float, float]] = {}
            for name, run in rows:
                rates = []
                for direction in ("get", "put"):
                    times = run(s, direction, args.repeat)
                    rates.append(float("nan") if times is None else size / min(times) / MB)
                results[name] = (rates[0], rates[1])
                print(f"{name:30} {rates[0]:8.1f} {rates[1]:8.1f}", flush=True)
            ours = results["ours (blocking) via sshd"]
            base = results["OpenSSH sftp via sshd"]
            print(
                f"ours/OpenSSH via sshd: get {ours[0] / base[0]:.2f}x, put {ours[1] / base[1]:.2f}x"
            )
        finally:
            factory.stop_all()


if __name__ == "__main__":
    main()
