"""Helpers for tests (and benchmarks) that run OpenSSH: host keys made by ssh-keygen, a
running sshd, and OpenSSH's ``ssh`` run against a server of ours. Fixtures are in conftest.py.

The sshd runs with ``-D`` on a free loopback port, one per module (or per custom config):
a TCP connection to it costs one fork+exec of sshd's re-exec'd child (a few ms), less than
starting ``sshd -i`` per connection and far less than the key exchanges being tested.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"

#: Host key files made by ssh-keygen: name -> (ssh-keygen -t, -b).
HOST_KEY_FILES: dict[str, tuple[str, str | None]] = {
    "ed25519": ("ed25519", None),
    "ecdsa256": ("ecdsa", "256"),
    "ecdsa384": ("ecdsa", "384"),
    "ecdsa521": ("ecdsa", "521"),
    "rsa": ("rsa", "2048"),
}

#: Every host key algorithm both sides support -> the key file that serves it.
HOST_KEY_ALGORITHMS: dict[str, str] = {
    "ssh-ed25519": "ed25519",
    "ecdsa-sha2-nistp256": "ecdsa256",
    "ecdsa-sha2-nistp384": "ecdsa384",
    "ecdsa-sha2-nistp521": "ecdsa521",
    "rsa-sha2-512": "rsa",
    "rsa-sha2-256": "rsa",
    "ssh-rsa": "rsa",
    "ssh-ed25519-cert-v01@openssh.com": "ed25519",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com": "ecdsa256",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com": "ecdsa384",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com": "ecdsa521",
    "rsa-sha2-512-cert-v01@openssh.com": "rsa",
    "rsa-sha2-256-cert-v01@openssh.com": "rsa",
    "ssh-rsa-cert-v01@openssh.com": "rsa",
}

HAVE_OPENSSH = os.path.exists(SSHD) and os.path.exists(SSH)


@functools.cache
def openssh_query(kind: str) -> tuple[str, ...]:
    """What this OpenSSH build implements (``ssh -Q kex|cipher|mac|HostKeyAlgorithms``)."""
    if not HAVE_OPENSSH:
        return ()
    out = subprocess.run([SSH, "-Q", kind], capture_output=True, text=True, check=False)
    return tuple(out.stdout.split())


@dataclass(frozen=True)
class CommonAlgorithms:
    """Algorithms both OpenSSH and we implement, in our preference order (legacy included)."""

    kex: tuple[str, ...]
    host_key: tuple[str, ...]
    ciphers: tuple[str, ...]
    macs: tuple[str, ...]

    def sshd_options(self) -> dict[str, str]:
        """sshd_config lines offering all of them, the opt-in legacy ones too."""
        return {
            "KexAlgorithms": ",".join(self.kex),
            "HostKeyAlgorithms": ",".join(self.host_key),
            "Ciphers": ",".join(self.ciphers),
            "MACs": ",".join(self.macs),
        }

    def ssh_server_config(self) -> dict[str, list[str]]:
        """TransportConfig keyword arguments for a server of ours offering all of them."""
        return {
            "kex_algorithms": list(self.kex),
            "host_key_algorithms": list(self.host_key),
            "ciphers": list(self.ciphers),
            "macs": list(self.macs),
        }


@functools.cache
def common_algorithms() -> CommonAlgorithms:
    from ssh_transport import ciphers, kex, macs

    def both(ours: Iterable[str], kind: str) -> tuple[str, ...]:
        theirs = set(openssh_query(kind))
        return tuple(name for name in ours if name in theirs)

    return CommonAlgorithms(
        kex=both(kex.supported_kex(), "kex"),
        host_key=both(HOST_KEY_ALGORITHMS, "HostKeyAlgorithms"),
        ciphers=both(ciphers.supported_ciphers(), "cipher"),
        macs=both(macs.supported_macs(), "mac"),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def close_listener(sock: socket.socket, thread: threading.Thread | None = None) -> None:
    """Shut a test's listening socket down, close it and join its accept thread.

    ``close()`` alone is not enough: a thread blocked in ``accept()`` keeps the socket alive
    while its descriptor number is freed, a later listener gets that number, and a signal
    with an SA_RESTART handler (asyncio's) restarts the blocked ``accept4`` on the *new*
    socket, so the old helper steals the new server's clients (issue 11's wedge).
    ``shutdown()`` wakes the blocked call with EINVAL first.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    if thread is not None:
        thread.join(10)
        assert not thread.is_alive(), f"accept thread {thread.name} did not end"


class UpperEcho:
    """A loopback echo server (TCP, or a Unix socket at ``path``) answering each connection
    with its bytes upper-cased, to show the data went through it and back."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.port = int(self.sock.getsockname()[1])
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(str(path))
            self.sock.listen()
            self.port = 0
        self._thread = threading.Thread(target=self._loop, daemon=True, name="upper-echo")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data.upper())

    def close(self) -> None:
        close_listener(self.sock, self._thread)


def run_keygen(*args: str | os.PathLike[str]) -> None:
    subprocess.run([SSH_KEYGEN, "-q", *map(str, args)], check=True, capture_output=True)


@dataclass
class HostKeyFiles:
    """Host keys of every type plus host certificates for each, signed by ``ca``."""

    directory: Path

    def key(self, name: str) -> Path:
        return self.directory / f"host_{name}"

    def cert(self, name: str) -> Path:
        return self.directory / f"host_{name}-cert.pub"

    @property
    def ca(self) -> Path:
        return self.directory / "ca"

    def public_line(self, name: str) -> str:
        return (self.directory / f"host_{name}.pub").read_text()

    def ca_known_hosts(self) -> Path:
        """A known_hosts file trusting the CA for the loopback names."""
        path = self.directory / "known_hosts_ca"
        if not path.exists():
            ca_line = (self.directory / "ca.pub").read_text().strip()
            path.write_text(f"@cert-authority 127.0.0.1,localhost {ca_line}\n")
        return path


def make_host_keys(directory: Path) -> HostKeyFiles:
    directory.mkdir(parents=True, exist_ok=True)
    run_keygen("-t", "ed25519", "-N", "", "-C", "test-ca", "-f", directory / "ca")
    files = HostKeyFiles(directory)
    for name, (kind, bits) in HOST_KEY_FILES.items():
        extra = ["-b", bits] if bits else []
        run_keygen("-t", kind, *extra, "-N", "", "-C", f"host-{name}", "-f", files.key(name))
        run_keygen(
            "-s", files.ca, "-h", "-I", f"host-{name}", "-n", "127.0.0.1,localhost",
            f"{files.key(name)}.pub",
        )  # fmt: skip
    return files


@dataclass
class Sshd:
    """A running ``sshd -D`` on a loopback port, logging at DEBUG3 to ``log``."""

    directory: Path
    keys: HostKeyFiles
    options: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def log(self) -> Path:
        return self.directory / "sshd.log"

    def write_config(self) -> None:
        lines = [f"HostKey {self.keys.key(name)}" for name in HOST_KEY_FILES]
        lines += [f"HostCertificate {self.keys.cert(name)}" for name in HOST_KEY_FILES]
        settings = {
            "ListenAddress": "127.0.0.1",
            "Port": str(self.port),
            "UsePAM": "no",
            "StrictModes": "no",
            "PidFile": "none",
            "LogLevel": "DEBUG3",
            "KbdInteractiveAuthentication": "no",
            "PasswordAuthentication": "yes",
            "PubkeyAuthentication": "yes",
            "AuthorizedKeysFile": "none",
            "MaxStartups": "100:30:200",
            **self.options,
        }
        lines += [f"{k} {v}" for k, v in settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> Sshd:
        with contextlib.suppress(OSError):
            os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.write_config()
        subprocess.run([SSHD, "-t", "-f", str(self.config_path)], check=True, capture_output=True)
        self.process = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.config_path), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("sshd did not start listening")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def connect_socket(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)


class SshdFactory:
    """Starts sshds with extra sshd_config options and stops them all at the end."""

    def __init__(self, make_dir: Callable[[], Path], keys: HostKeyFiles) -> None:
        self.make_dir = make_dir
        self.keys = keys
        self.started: list[Sshd] = []

    def start(self, **options: str) -> Sshd:
        server = Sshd(self.make_dir(), self.keys, dict(options))
        self.started.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


# -- running OpenSSH's client -------------------------------------------------------------


@dataclass
class SshResult:
    returncode: int
    log: str

    def debug_lines(self) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith("debug")]


def ssh_options(options: dict[str, str]) -> list[str]:
    base = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "no",
        "UserKnownHostsFile": "/dev/null",
        "GlobalKnownHostsFile": "/dev/null",
        "IdentitiesOnly": "yes",
        "IdentityFile": "/dev/null",
        "IdentityAgent": "none",
        "ConnectTimeout": "10",
        "LogLevel": "DEBUG3",
        **options,
    }
    args: list[str] = []
    for key, value in base.items():
        args += ["-o", f"{key}={value}"]
    return args


def run_ssh(
    port: int, options: dict[str, str], *, user: str = "nobody", extra: Sequence[str] = ()
) -> SshResult:
    """Run ``ssh -vvv -F /dev/null ... user@127.0.0.1 true`` and collect its debug log."""
    argv = [SSH, "-vvv", "-F", "/dev/null", "-p", str(port), *ssh_options(options), *extra]
    argv += [f"{user}@127.0.0.1", "true"]
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False
    )
    return SshResult(proc.returncode, proc.stderr.decode(errors="replace"))


def assert_lines(text: str, expected: Iterable[str]) -> None:
    missing = [line for line in expected if line not in text]
    assert not missing, f"missing {missing} in:\n{text[-4000:]}"


# -- our side -----------------------------------------------------------------------------

USERAUTH_REQUEST = 50
USERAUTH_FAILURE = 51


def auth_none_request(user: str = "nobody") -> bytes:
    """USERAUTH_REQUEST for method "none": any server answers it with its method list."""
    from ssh_wire import Writer

    return Writer().byte(USERAUTH_REQUEST).text(user).text("ssh-connection").text("none").getvalue()


def auth_failure(methods: Sequence[str] = ("publickey", "password")) -> bytes:
    from ssh_wire import Writer

    return Writer().byte(USERAUTH_FAILURE).name_list(list(methods)).boolean(False).getvalue()


def parse_auth_failure(payload: bytes) -> tuple[str, ...]:
    from ssh_wire import Reader

    r = Reader(payload)
    assert r.byte() == USERAUTH_FAILURE, payload[:1]
    methods = r.name_list()
    r.boolean()
    r.expect_end("USERAUTH_FAILURE")
    return methods


def our_host_keys(keys: HostKeyFiles, certified: bool = True) -> list[Any]:
    """HostKeys for a server of ours from ssh-keygen's files; certificates made by our code."""
    from ssh_keys.certificate import CertType, sign_certificate
    from ssh_keys.keyfile import read_private_key_file
    from ssh_transport import HostKey

    ca = read_private_key_file(keys.ca)
    result = []
    for name in HOST_KEY_FILES:
        signer = read_private_key_file(keys.key(name))
        result.append(HostKey(signer))
        if certified:
            cert = sign_certificate(
                ca, signer.public_key, cert_type=CertType.HOST, key_id=f"ours-{name}",
                principals=["127.0.0.1", "localhost"],
            )  # fmt: skip
            result.append(HostKey(signer, cert))
    return result


@dataclass
class ServerResult:
    """What one connection to :class:`OurServer` did."""

    algorithms: Any = None
    error: BaseException | None = None
    kex_count: int = 0
    auth_requests: int = 0
    events: list[Any] = field(default_factory=list)


def answer_auth(transport: Any, result: ServerResult) -> None:
    """Default server behaviour: accept ssh-userauth, refuse every auth request."""
    transport.wait_for_service(30)
    while True:
        message = transport.receive_message(30)
        if message[0] == USERAUTH_REQUEST:
            result.auth_requests += 1
            transport.send_message(auth_failure())


class OurServer:
    """Our SyncTransport server on a loopback port, one thread per connection.

    Each finished connection puts a :class:`ServerResult` on ``results``.
    """

    def __init__(
        self,
        config: Callable[[], Any],
        handler: Callable[[Any, ServerResult], None] = answer_auth,
    ) -> None:
        self.config = config
        self.handler = handler
        self.results: queue.Queue[ServerResult] = queue.Queue()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        from ssh_transport import KexComplete, Role
        from ssh_transport.sync import SocketStream, SyncTransport

        conn.settimeout(None)
        result = ServerResult()
        transport = None
        try:
            transport = SyncTransport(SocketStream(conn), Role.SERVER, self.config())
            self.handler(transport, result)
        except BaseException as exc:
            result.error = exc
        finally:
            if transport is not None:
                result.algorithms = transport.algorithms
                while (event := transport.next_event()) is not None:
                    result.events.append(event)
                result.kex_count = sum(isinstance(e, KexComplete) for e in result.events)
                transport.close()
            else:
                conn.close()
            self.results.put(result)

    def next_result(self, timeout: float = 30) -> ServerResult:
        return self.results.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        close_listener(self.listener, self._thread)


USERAUTH_SUCCESS = 52
GLOBAL_REQUEST = 80
REQUEST_FAILURE = 82


def authenticate_publickey(transport: Any, user: str, key: Any) -> None:
    """RFC 4252 7 "publickey" by hand (no auth layer needed): OpenSSH only rekeys, and only
    accepts rekeying, once the user is authenticated."""
    from ssh_wire import Writer

    algorithm = key.public_key.algorithm
    if algorithm == "ssh-rsa":
        algorithm = "rsa-sha2-256"
    blob = key.public_key.blob
    body = (
        Writer().byte(USERAUTH_REQUEST).text(user).text("ssh-connection").text("publickey")
        .boolean(True).text(algorithm).string(blob).getvalue()
    )  # fmt: skip
    signed = Writer().string(transport.session_id).raw(body).getvalue()
    transport.send_message(body + Writer().string(key.sign(signed, algorithm)).getvalue())
    reply = transport.receive_message(30)
    if reply[0] != USERAUTH_SUCCESS:
        raise AssertionError(f"publickey authentication failed: {reply!r}")


def global_request(name: str = "nothing@pyssh.test") -> bytes:
    """A GLOBAL_REQUEST nobody implements, wanting a reply: a cheap post-auth round trip."""
    from ssh_wire import Writer

    return Writer().byte(GLOBAL_REQUEST).text(name).boolean(True).getvalue()
