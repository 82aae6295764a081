"""The main job, end to end: start ``sshd-py`` on a free loopback port with a throwaway
state directory, then, with this library's blocking client, run a command, open a pty
shell, forward a port and move a file over SFTP. Prints what it did; exits 0 on success.

    hatch run tour

Nothing outside a temporary directory is read or written: the client key and the
authorized_keys file sshd-py is told to use are made here, and the server's host key is
pinned from the state directory it generates (no known_hosts is touched).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ssh_connection import sync
from ssh_keys import PublicKey, generate_private_key, read_public_key_file
from ssh_sftp.sync import SFTPClient

LISTENING = re.compile(r"Server listening on 127\.0\.0\.1 port (\d+)\.")


def step(text: str) -> None:
    print(f"  {text}", flush=True)


@contextmanager
def sshd_py(work: Path) -> Iterator[tuple[int, list[str]]]:
    """sshd-py in the foreground, logging to stderr; yields its port and its log lines."""
    command = [
        sys.executable, "-m", "ssh_connection", "-D", "-e",
        "--state-dir", str(work / "state"),
        "-p", str(free_port()),
        "-o", f"AuthorizedKeysFile {work / 'authorized_keys'}",
        "-o", "AllowTcpForwarding yes",
        # The throwaway authorized_keys lives under /tmp, which is world-writable: sshd's
        # StrictModes check (on by default, in sshd-py too) rightly refuses to trust it.
        "-o", "StrictModes no",
    ]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    log: list[str] = []
    port: list[int] = []
    ready = threading.Event()

    def read_log() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            log.append(line.rstrip("\n"))
            if match := LISTENING.search(line):
                port.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    try:
        if not ready.wait(60) or not port:
            raise SystemExit("sshd-py did not start:\n" + "\n".join(log))
        try:
            yield port[0], log
        except BaseException:
            print("sshd-py's log:", *log, sep="\n  ", file=sys.stderr)
            raise
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def free_port() -> int:
    """A port nothing listens on now (sshd, like sshd-py, refuses -p 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def echo_server() -> int:
    """A one-connection TCP echo service on loopback, for the port forward."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


def tour(work: Path) -> None:
    user = getpass.getuser()
    key = generate_private_key("ed25519", comment="tour")
    (work / "authorized_keys").write_text(key.public_key.to_line() + "\n")
    started = time.monotonic()
    with sshd_py(work) as (port, log):
        host_key: PublicKey = read_public_key_file(work / "state" / "ssh_host_ed25519_key.pub").key

        def pinned(host: str, port: int, offered: PublicKey) -> bool:
            return offered == host_key

        print(f"sshd-py is serving 127.0.0.1 port {port} (state in {work / 'state'})")
        with sync.connect(
            "127.0.0.1", port, user, signers=[key], host_key_check=pinned,
        ) as conn:  # fmt: skip
            step(f"logged in as {user} with an ed25519 key; host key {host_key.fingerprint()}")

            result = conn.run("echo hello from $(whoami); exit 3")
            assert result.stdout == f"hello from {user}\n".encode(), result
            assert result.exit_status == 3, result
            step(f"run: {result.stdout.decode().strip()!r}, exit status {result.exit_status}")

            shell = conn.invoke_shell(term="xterm", width=100, height=30)
            shell.write(b"tty; stty size; exit\n")
            output, _ = shell.read_all(timeout=30)
            assert b"/dev/pts/" in output and b"30 100" in output, output
            tty = re.search(rb"/dev/pts/\d+", output)
            step(f"pty shell: {tty.group().decode() if tty else '?'}, 100x30 terminal")

            target = echo_server()
            forward = conn.forward_local("127.0.0.1", target)
            with forward, socket.create_connection(("127.0.0.1", forward.port), timeout=30) as s:
                s.sendall(b"ping through the tunnel")
                s.shutdown(socket.SHUT_WR)
                echoed = b""
                while chunk := s.recv(65536):
                    echoed += chunk
            assert echoed == b"ping through the tunnel", echoed
            step(f"port forward: 127.0.0.1:{forward.port} -> 127.0.0.1:{target}, echoed")

            payload = os.urandom(4 << 20)
            (work / "upload.bin").write_bytes(payload)
            with SFTPClient.from_connection(conn) as sftp:
                remote = str(work / "remote.bin")
                sftp.put(str(work / "upload.bin"), remote)
                sftp.get(remote, str(work / "download.bin"))
                size = sftp.stat(remote).size
            got = (work / "download.bin").read_bytes()
            assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
            step(f"sftp: put and got back {size} bytes, sha256 matches")
        accepted = [line for line in log if "Accepted publickey" in line]
        assert accepted, log
        step(f"server log: {accepted[0]}")
    print(f"done in {time.monotonic() - started:.1f} s")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="ssh-tour-"))
    try:
        tour(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
