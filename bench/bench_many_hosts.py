"""Many hosts at once: ``run_on_hosts`` running ``true`` over N connections to one private
sshd (each connection is a full TCP connect, key exchange, publickey login, exec, close),
asyncio (tasks) and blocking (threads), against a shell loop of OpenSSH's ``ssh`` run
``limit`` at a time with xargs -P for scale. Reports hosts per second and the process's
peak open file descriptors.

Run as root (sshd): ``hatch run test:python bench/bench_many_hosts.py [N] [LIMIT]``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))

from openssh_tools import SSH, Sshd, make_host_keys

from ssh_connection import aio, aio_multi, sync, sync_multi
from ssh_keys.keyfile import read_private_key_file


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class PeakFds:
    """Samples this process's open descriptors in a thread while a run goes on."""

    def __init__(self) -> None:
        self.peak = _fds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _fds())

    def __enter__(self) -> PeakFds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")],
                       check=True)  # fmt: skip
        (d / "ak").write_text((d / "id.pub").read_text())
        options = {
            "PermitRootLogin": "yes",
            "AuthorizedKeysFile": str(d / "ak"),
            "LogLevel": "ERROR",
            "MaxStartups": f"{limit * 2}:30:{limit * 4}",
        }
        sshd = Sshd(d / "sshd", make_host_keys(d / "keys"), options).start()
        try:
            key = read_private_key_file(d / "id")
            hosts: list[aio_multi.Host] = [("127.0.0.1", sshd.port)] * count
            args = {"signers": [key], "username": "root"}
            base = _fds()

            async def run_async() -> list[aio_multi.HostResult]:
                return await aio_multi.run_on_hosts(
                    hosts, "true", limit=limit,
                    host_key_check=aio.insecure_accept_any_host_key, **args,
                )  # fmt: skip

            with PeakFds() as fds:
                start = time.perf_counter()
                results = asyncio.run(run_async())
                took = time.perf_counter() - start
            ok = sum(r.ok for r in results)
            print(f"asyncio  {count} hosts, limit {limit}: {took:6.2f} s, "
                  f"{count / took:6.1f} hosts/s, {ok} ok, peak fds +{fds.peak - base}, "
                  f"after {_fds() - base:+d}")  # fmt: skip

            with PeakFds() as fds:
                start = time.perf_counter()
                sync_results = sync_multi.run_on_hosts(
                    hosts, "true", limit=limit,
                    host_key_check=sync.insecure_accept_any_host_key, **args,
                )  # fmt: skip
                took = time.perf_counter() - start
            ok = sum(r.ok for r in sync_results)
            print(f"blocking {count} hosts, limit {limit}: {took:6.2f} s, "
                  f"{count / took:6.1f} hosts/s, {ok} ok, peak fds +{fds.peak - base}, "
                  f"after {_fds() - base:+d}")  # fmt: skip

            ssh = (f"{SSH} -F /dev/null -i {d / 'id'} -o BatchMode=yes "
                   f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   f"-p {sshd.port} root@127.0.0.1 true")  # fmt: skip
            start = time.perf_counter()
            subprocess.run(f"seq {count} | xargs -P {limit} -I{{}} {ssh}", shell=True, check=True)
            took = time.perf_counter() - start
            print(f"ssh x{count} (xargs -P {limit}): {took:6.2f} s, {count / took:6.1f} hosts/s")
        finally:
            sshd.stop()


if __name__ == "__main__":
    main()
