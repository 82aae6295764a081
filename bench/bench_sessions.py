"""Bulk throughput of a session channel: ours (blocking and asyncio) vs OpenSSH's ssh,
against the same private sshd on loopback. Each case pushes SIZE bytes through
``cat`` (both directions at once) and reports MB/s per direction.

Run as root (sshd): ``hatch run test:python bench/bench_sessions.py [MiB]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))

from openssh_tools import SSH, Sshd, make_host_keys

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection import aio, sync
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key
from ssh_keys.keyfile import read_private_key_file


def main() -> None:
    size = int(sys.argv[1]) * 1024 * 1024 if len(sys.argv) > 1 else 256 * 1024 * 1024
    data = (hashlib.sha256(b"x").digest() * 32768) * (size // (32 * 32768))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")],
                       check=True)  # fmt: skip
        (d / "ak").write_text((d / "id.pub").read_text())
        sshd = Sshd(d / "sshd", make_host_keys(d / "keys"),
                    {"PermitRootLogin": "yes", "AuthorizedKeysFile": str(d / "ak"),
                     "LogLevel": "ERROR"}).start()  # fmt: skip
        try:
            key = read_private_key_file(d / "id")
            mb = len(data) / 1e6

            with sync.connect("127.0.0.1", sshd.port, "root", signers=[key],
                              host_key_check=sync.insecure_accept_any_host_key) as c:  # fmt: skip
                algorithms = c.transport.algorithms
                assert algorithms is not None
                cipher = algorithms.cipher_client_to_server
                start = time.perf_counter()
                out = c.run("cat", input=data).stdout
                took = time.perf_counter() - start
            assert out == data
            print(f"ours, blocking: {mb / took:7.1f} MB/s each way ({cipher})")

            async def amain() -> float:
                async with await aio.connect(
                    "127.0.0.1", sshd.port, "root", signers=[key],
                    host_key_check=aio.insecure_accept_any_host_key,
                ) as c:  # fmt: skip
                    start = time.perf_counter()
                    out = (await c.run("cat", input=data)).stdout
                    took = time.perf_counter() - start
                assert out == data
                return took

            print(f"ours, asyncio:  {mb / asyncio.run(amain()):7.1f} MB/s each way")
            argv = [SSH, "-F", "/dev/null", "-p", str(sshd.port), "-i", str(d / "id"),
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "BatchMode=yes", "root@127.0.0.1", "cat"]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(argv, input=data, capture_output=True, check=True)
            took = time.perf_counter() - start
            assert done.stdout == data
            print(f"OpenSSH ssh:    {mb / took:7.1f} MB/s each way")
            (d / "ours.keys").write_text((d / "id.pub").read_text())
            server = SSHServer(
                [generate_private_key("ed25519")],
                StandardPolicy(authorized_keys=authorized_keys_file(str(d / "ours.keys"))),
                session_handler=ProcessHandler(),
            )
            port = server.listen("127.0.0.1", 0)
            try:
                argv[argv.index(str(sshd.port))] = str(port)
                start = time.perf_counter()
                done = subprocess.run(argv, input=data, capture_output=True, check=True)
                took = time.perf_counter() - start
                assert done.stdout == data
                print(f"ssh -> our blocking server: {mb / took:7.1f} MB/s each way")
            finally:
                server.close()
        finally:
            sshd.stop()


if __name__ == "__main__":
    main()
