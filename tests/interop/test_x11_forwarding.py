"""X11 forwarding with real peers: OpenSSH's ``ssh -Y`` against our server, and our
client against OpenSSH's sshd (X11Forwarding yes). The display end is a fake X server:
a TCP listener on 127.0.0.1:6000+M that records each connection setup and answers
"X-OK". The X client on the server side is a small Python script that sends a setup with
the cookie ``xauth`` recorded for the session (the fake one); the real cookie must be the
one that reaches the display.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import SSH, Sshd, SshdFactory, close_listener

from ssh_auth import StandardPolicy, authorized_keys_file
from ssh_connection import sync
from ssh_connection.sync_process import ProcessHandler
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key
from ssh_keys.keyfile import read_private_key_file

XAUTH = shutil.which("xauth")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(XAUTH is None, reason="xauth not installed (Debian: xauth)"),
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]

REAL_COOKIE = bytes.fromhex("00112233445566778899aabbccddeeff")
XCLIENT = r"""
import os, socket, struct, sys
number = int(os.environ["DISPLAY"].rpartition(":")[2].split(".")[0])
cookie = bytes.fromhex(sys.argv[1])
name = b"MIT-MAGIC-COOKIE-1"
s = socket.create_connection(("127.0.0.1", 6000 + number), timeout=20)
s.sendall(struct.pack("<BxHHHH2x", 0x6C, 11, 0, len(name), len(cookie)) + name + b"\0\0" + cookie)
print(s.recv(100).decode() or "closed")
"""


class FakeXServer:
    """Records the authorization data of each X connection setup; answers X-OK."""

    def __init__(self) -> None:
        for number in range(60, 200):
            try:
                self.sock = socket.create_server(("127.0.0.1", 6000 + number))
                break
            except OSError:
                continue
        self.number = number
        self.cookies: list[bytes] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while len(data) < 12 and (chunk := conn.recv(4096)):
                    data += chunk
                if len(data) < 12:
                    continue  # closed before a setup (a refused X client)
                _, _, _, name_len, data_len = struct.unpack_from("<BxHHHH2x", data)
                start = 12 + name_len + (-name_len % 4)
                while len(data) < start + data_len and (chunk := conn.recv(4096)):
                    data += chunk
                self.cookies.append(data[start : start + data_len])
                conn.sendall(b"X-OK")

    def close(self) -> None:
        close_listener(self.sock, self._thread)


@pytest.fixture
def display(tmp_path: Path) -> Iterator[tuple[FakeXServer, dict[str, str]]]:
    """The fake display, and an environment naming it with the real cookie in xauth."""
    server = FakeXServer()
    xauthority = tmp_path / "client.xauth"
    name = f"127.0.0.1:{server.number}"
    assert XAUTH is not None
    subprocess.run([XAUTH, "-f", str(xauthority), "add", name, "MIT-MAGIC-COOKIE-1",
                    REAL_COOKIE.hex()], check=True, capture_output=True)  # fmt: skip
    yield server, {**os.environ, "DISPLAY": name, "XAUTHORITY": str(xauthority)}
    server.close()


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("x11")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    line = (d / "id.pub").read_text().strip()
    (d / "authorized_keys").write_text(line + "\n")
    (d / "nox11.keys").write_text(f"no-X11-forwarding {line}\n")
    (d / "xclient.py").write_text(XCLIENT)
    return d


def remote_command(keydir: Path, xauthority: Path, cookie: str | None = None) -> str:
    """Print DISPLAY, then run the X client with the session's cookie (or ``cookie``)."""
    take = cookie or f"$(XAUTHORITY={xauthority} xauth list | awk '{{print $3; exit}}')"
    return f'echo "[$DISPLAY]"; python3 {keydir / "xclient.py"} "{take}"'


# -- OpenSSH's ssh -Y against our server --------------------------------------------------------


def our_server(
    keydir: Path, xauthority: Path, keys: str = "authorized_keys", **kw: object
) -> SSHServer:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keydir / keys)))
    handler = ProcessHandler(env={"XAUTHORITY": str(xauthority)})
    options = {"allow_x11_forwarding": True, **kw}
    return SSHServer([generate_private_key("ed25519")], policy, session_handler=handler,
                     **options)  # type: ignore[arg-type]  # fmt: skip


def ssh_y(
    port: int, keydir: Path, env: dict[str, str], command: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SSH, "-F", "/dev/null", "-p", str(port), "-i", str(keydir / "id"), "-Y",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "u@127.0.0.1", command],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def test_ssh_Y_reaches_the_display_with_the_real_cookie(
    keydir: Path, tmp_path: Path, display: tuple[FakeXServer, dict[str, str]]
) -> None:
    xserver, env = display
    xauthority = tmp_path / "server.xauth"
    srv = our_server(keydir, xauthority)
    port = srv.listen("127.0.0.1", 0)
    try:
        done = ssh_y(port, keydir, env, remote_command(keydir, xauthority))
    finally:
        srv.close()
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rb"\[localhost:\d+\.0\]\nX-OK\n", done.stdout), done.stdout
    assert xserver.cookies == [REAL_COOKIE]  # ssh swapped our recorded fake cookie


def test_x11_refused_unless_allowed(
    keydir: Path, tmp_path: Path, display: tuple[FakeXServer, dict[str, str]]
) -> None:
    _, env = display
    for srv in (
        our_server(keydir, tmp_path / "a.xauth", allow_x11_forwarding=False),
        our_server(keydir, tmp_path / "b.xauth", keys="nox11.keys"),
    ):
        port = srv.listen("127.0.0.1", 0)
        try:
            done = ssh_y(port, keydir, env, 'echo "[$DISPLAY]"')
        finally:
            srv.close()
        assert done.stdout == b"[]\n", done


# -- our client against OpenSSH's sshd ------------------------------------------------------


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, keydir: Path) -> Sshd:
    # sshd runs XAuthLocation for the session: a wrapper keeps it off root's ~/.Xauthority.
    wrapper = keydir / "xauth-wrapper"
    wrapper.write_text(f'#!/bin/sh\nXAUTHORITY={keydir / "sshd.xauth"} exec {XAUTH} "$@"\n')
    wrapper.chmod(0o755)
    return sshd_factory.start(
        PermitRootLogin="yes", AuthorizedKeysFile=str(keydir / "authorized_keys"),
        X11Forwarding="yes", XAuthLocation=str(wrapper), X11DisplayOffset="50",
    )  # fmt: skip


def test_our_client_forwards_x11_from_sshd(
    sshd: Sshd, keydir: Path, display: tuple[FakeXServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    xserver, env = display
    monkeypatch.setenv("XAUTHORITY", env["XAUTHORITY"])
    key = read_private_key_file(keydir / "id")
    with sync.connect("127.0.0.1", sshd.port, "root", signers=[key],
                      host_key_check=sync.insecure_accept_any_host_key) as conn:  # fmt: skip
        conn.forward_x11(env["DISPLAY"])
        result = conn.run(remote_command(keydir, keydir / "sshd.xauth"), timeout=60)
        assert re.fullmatch(rb"\[localhost:\d+\.0\]\nX-OK\n", result.stdout), result
        assert xserver.cookies == [REAL_COOKIE]
        # An X client with another cookie never reaches the display.
        wrong = remote_command(keydir, keydir / "sshd.xauth", cookie="ab" * 16)
        result = conn.run(wrong, timeout=60)
        assert b"X-OK" not in result.stdout, result
        assert xserver.cookies == [REAL_COOKIE]


def test_ssh_Y_against_our_asyncio_server(
    keydir: Path, tmp_path: Path, display: tuple[FakeXServer, dict[str, str]]
) -> None:
    import asyncio

    from ssh_connection.aio_process import AsyncProcessHandler
    from ssh_connection.aio_server import AsyncSSHServer

    xserver, env = display
    xauthority = tmp_path / "server.xauth"
    policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keydir / "authorized_keys")))
    handler = AsyncProcessHandler(env={"XAUTHORITY": str(xauthority)})

    async def main() -> subprocess.CompletedProcess[bytes]:
        async with AsyncSSHServer(
            [generate_private_key("ed25519")], policy, session_handler=handler,
            allow_x11_forwarding=True,
        ) as srv:  # fmt: skip
            port = await srv.listen("127.0.0.1", 0)
            command = remote_command(keydir, xauthority)
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: ssh_y(port, keydir, env, command)
            )

    done = asyncio.run(main())
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rb"\[localhost:\d+\.0\]\nX-OK\n", done.stdout), done.stdout
    assert xserver.cookies == [REAL_COOKIE]
