"""OpenSSH's ``ssh`` logging in to a private sshd with keys held by our agent.

Our agent runs as ``python -m ssh_agent -D -a SOCK``; keys go in with OpenSSH's
``ssh-add``; ``ssh -o IdentityAgent=SOCK`` logs in to an ``sshd -D`` on a loopback
port. Covers plain keys of each type, a user certificate (sshd TrustedUserCAKeys),
confirmation (``ssh-add -c`` with the agent's askpass saying yes or no), agent
forwarding (``ssh -A``: the remote ``ssh-add`` reaches our agent through a
connection real ssh bound with session-bind's forwarding flag) and destination
restrictions (``ssh-add -h``), one hop and two.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openssh_tools import stop_process

from ssh_agent.sync import AgentClient

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not all(shutil.which(p) or os.path.exists(f"/usr/sbin/{p}") for p in ("sshd", "ssh"))
        or shutil.which("ssh-add") is None,
        reason="OpenSSH sshd/ssh/ssh-add not installed",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd must run as root to log in"),
]

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
KEY_TYPES = {"ed25519": [], "ecdsa": [], "rsa": ["-b", "2048"]}
#: Options every ssh here runs with (the remote ssh of the two-hop test too).
SSH_OPTS = [
    "-F", "/dev/null",
    "-o", "IdentitiesOnly=no",
    "-o", "HostKeyAlgorithms=ssh-ed25519",  # the plain host key, unless a test asks otherwise
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=10",
]  # fmt: skip


def _keygen(*args: object) -> None:
    subprocess.run(["ssh-keygen", "-q", *map(str, args)], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    dir: Path
    port: int
    sock: Path
    answer: Path  # what the agent's askpass answers: "yes" or "no"
    sshd_log: Path
    host_pub: str  # "ssh-ed25519 AAAA..." of sshd's host key

    def key(self, name: str) -> Path:
        return self.dir / name

    def env(self) -> dict[str, str]:
        env = dict(os.environ, SSH_AUTH_SOCK=str(self.sock))
        env.pop("SSH_ASKPASS", None)
        return env

    def ssh_add(self, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh-add", *map(str, args)],
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )

    def ssh(
        self, *command: str, forward: bool = False, options: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        # ssh keeps the first value it sees for an option: ``options`` go first.
        argv = ["ssh", *options, *SSH_OPTS, "-o", f"IdentityAgent={self.sock}"]
        argv += ["-p", str(self.port)]
        argv += ["-A"] if forward else ["-a"]
        argv += ["root@127.0.0.1", *command]
        return subprocess.run(
            argv,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    def fingerprint(self, name: str) -> str:
        out = subprocess.run(
            ["ssh-keygen", "-lf", self.dir / f"{name}.pub"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def known_hosts(self, name: str, host: str, public: str) -> Path:
        path = self.dir / name
        path.write_text(f"{host} {public}\n")
        return path


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("sshd did not start listening")
        time.sleep(0.01)


def _wait_socket(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("our agent did not start")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    d = tmp_path_factory.mktemp("agent-login")
    for name, extra in KEY_TYPES.items():
        _keygen("-t", name, *extra, "-N", "", "-C", f"{name}-key", "-f", d / name)
    # A user CA sshd trusts, and a key that is authorised only through its certificate.
    _keygen("-t", "ed25519", "-N", "", "-C", "user-ca", "-f", d / "ca")
    _keygen("-t", "ed25519", "-N", "", "-C", "cert-key", "-f", d / "certkey")
    _keygen("-s", d / "ca", "-I", "agent-test", "-n", "root", d / "certkey.pub")
    (d / "authorized_keys").write_text("".join((d / f"{n}.pub").read_text() for n in KEY_TYPES))
    _keygen("-t", "ed25519", "-N", "", "-f", d / "host_ed25519")
    # sshd also offers a host certificate (used when ssh asks for the cert algorithm).
    _keygen("-t", "ed25519", "-N", "", "-C", "host-ca", "-f", d / "host_ca")
    _keygen("-s", d / "host_ca", "-h", "-I", "sshd", "-n", "127.0.0.1", d / "host_ed25519.pub")
    _keygen("-t", "ed25519", "-N", "", "-f", d / "other_host")

    # The agent's confirmation askpass answers from a file the tests flip.
    answer = d / "answer"
    answer.write_text("yes")
    askpass = d / "confirm-askpass"
    askpass.write_text(f'#!/bin/sh\necho "$*" >> {d}/asked\n[ "$(cat {answer})" = yes ]\n')
    askpass.chmod(0o700)

    port = _free_port()
    config = d / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"HostKey {d / 'host_ed25519'}",
                f"HostCertificate {d / 'host_ed25519-cert.pub'}",
                f"PidFile {d / 'sshd.pid'}",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin yes",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                f"AuthorizedKeysFile {d / 'authorized_keys'}",
                f"TrustedUserCAKeys {d / 'ca.pub'}",
                "AllowAgentForwarding yes",
                "LogLevel DEBUG3",
            ]
        )
        + "\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    subprocess.run([SSHD, "-t", "-f", config], check=True, capture_output=True)
    log = d / "sshd.log"
    sock = d / "agent.sock"
    agent = subprocess.Popen(
        [sys.executable, "-m", "ssh_agent", "-D", "-a", str(sock)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, SSH_ASKPASS=str(askpass)),
    )
    sshd: subprocess.Popen[bytes] | None = None
    try:
        _wait_socket(sock, agent)
        sshd = subprocess.Popen(
            [SSHD, "-D", "-f", str(config), "-p", str(port), "-E", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(port, sshd, log)
        host_pub = " ".join((d / "host_ed25519.pub").read_text().split()[:2])
        yield World(d, port, sock, answer, log, host_pub)
    finally:
        if sshd is not None:
            stop_process(sshd)
        stop_process(agent)
    assert not sock.exists()  # the agent removes its socket on SIGTERM


@pytest.fixture
def agent(world: World) -> World:
    """The module's agent, emptied, and its askpass saying yes."""
    world.ssh_add("-D")
    world.answer.write_text("yes")
    with contextlib.suppress(FileNotFoundError):
        (world.dir / "asked").unlink()
    return world


def _ok(result: subprocess.CompletedProcess[str], expected: str = "ok") -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def _refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 255, result.stdout + result.stderr
    assert "Permission denied (publickey)" in result.stderr
    assert result.stdout == ""


# -- logins ----------------------------------------------------------------------------------


def test_no_keys_no_login(agent):
    _refused(agent.ssh("echo", "ok"))


@pytest.mark.parametrize("name", list(KEY_TYPES))
def test_login_with_agent_key(agent, name):
    agent.ssh_add(agent.key(name))
    _ok(agent.ssh("echo", "ok"))


def test_login_with_user_certificate(agent):
    # certkey.pub is not in authorized_keys: only the certificate can get in.
    out = agent.ssh_add(agent.key("certkey"))
    assert "Certificate added" in out.stderr
    _ok(agent.ssh("echo", "ok"))
    assert "Accepted publickey for root from 127.0.0.1" in agent.sshd_log.read_text()
    assert "ED25519-CERT" in agent.sshd_log.read_text()


def test_login_with_confirmed_key(agent):
    agent.ssh_add("-c", agent.key("ed25519"))
    _ok(agent.ssh("echo", "ok"))
    asked = (agent.dir / "asked").read_text()
    assert "Allow use of key ed25519-key?" in asked
    assert "public key authentication as user 'root'" in asked
    agent.answer.write_text("no")
    _refused(agent.ssh("echo", "ok"))


def test_login_after_lock_refused_then_unlock(agent):
    agent.ssh_add(agent.key("ecdsa"))
    # ssh-add -x wants a tty or askpass for the passphrase: lock with our client instead.
    with AgentClient.connect(agent.sock) as client:
        client.lock("pw")
        _refused(agent.ssh("echo", "ok"))
        client.unlock("pw")
    _ok(agent.ssh("echo", "ok"))


# -- forwarding ------------------------------------------------------------------------------


def test_forwarded_agent_lists_keys(agent):
    for name in KEY_TYPES:
        agent.ssh_add(agent.key(name))
    expected = "\n".join(agent.fingerprint(n) for n in KEY_TYPES)
    _ok(agent.ssh("ssh-add", "-l", forward=True), expected)
    # Without -A there is no agent on the other side.
    result = agent.ssh("ssh-add", "-l")
    assert result.returncode == 2, result.stdout + result.stderr


def test_forwarded_agent_cannot_change_keys(agent):
    agent.ssh_add(agent.key("ed25519"))
    # Each attempt through the forwarded agent fails; the agent keeps its one key.
    script = (
        f"ssh-add -D; echo D=$?; ssh-add -d {agent.key('ed25519')}.pub; echo d=$?; "
        f"ssh-add {agent.key('rsa')}; echo add=$?"
    )
    result = agent.ssh(script, forward=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["D=1", "d=1", "add=1"], result.stdout + result.stderr
    assert agent.ssh_add("-l").stdout.strip() == agent.fingerprint("ed25519")


# -- destination restrictions ----------------------------------------------------------------


def test_restricted_to_this_host(agent):
    known = agent.known_hosts("kh_here", f"[127.0.0.1]:{agent.port}", agent.host_pub)
    agent.ssh_add("-H", known, "-h", f"root@[127.0.0.1]:{agent.port}", agent.key("ed25519"))
    _ok(agent.ssh("echo", "ok"))
    # Usable at that host, not beyond it: hidden from the forwarded agent there.
    agent.ssh_add(agent.key("ecdsa"))
    _ok(agent.ssh("ssh-add", "-l", forward=True), agent.fingerprint("ecdsa"))


def test_restricted_to_another_user_refused(agent):
    known = agent.known_hosts("kh_here", f"[127.0.0.1]:{agent.port}", agent.host_pub)
    agent.ssh_add("-H", known, "-h", f"alice@[127.0.0.1]:{agent.port}", agent.key("ed25519"))
    _refused(agent.ssh("echo", "ok"))


def test_restricted_to_another_host_refused(agent):
    other = " ".join(agent.key("other_host.pub").read_text().split()[:2])
    known = agent.known_hosts("kh_other", "other.example", other)
    agent.ssh_add("-H", known, "-h", "root@other.example", agent.key("ed25519"))
    assert agent.ssh_add("-l").stdout.strip() == agent.fingerprint("ed25519")  # local: listed
    _refused(agent.ssh("echo", "ok"))


def test_two_hop_restriction_through_forwarding(agent):
    # Allowed: here -> sshd, and from sshd -> sshd again (the remote ssh uses our
    # agent through forwarding: real ssh binds both hops, host-bound userauth).
    hop = f"[127.0.0.1]:{agent.port}"
    known = agent.known_hosts("kh_here", hop, agent.host_pub)
    agent.ssh_add("-H", known, "-h", hop, "-h", f"{hop}>root@{hop}", agent.key("ed25519"))
    inner = " ".join(["ssh", *SSH_OPTS, "-p", str(agent.port), "root@127.0.0.1", "echo", "ok"])
    _ok(agent.ssh(inner, forward=True))
    # With only the first hop allowed, the remote ssh finds no usable key.
    agent.ssh_add("-D")
    agent.ssh_add("-H", known, "-h", hop, agent.key("ed25519"))
    result = agent.ssh(inner, forward=True)
    assert result.returncode == 255, result.stdout + result.stderr
    assert "Permission denied (publickey)" in result.stderr


def test_restricted_by_host_certificate_authority(agent):
    # ssh-add -h with an @cert-authority line: any host whose certificate that CA
    # signed for 127.0.0.1 (checked by the agent against the session-bind host key).
    ca = " ".join(agent.key("host_ca.pub").read_text().split()[:2])
    known = agent.known_hosts("kh_ca", "@cert-authority 127.0.0.1", ca)
    agent.ssh_add("-H", known, "-h", "root@127.0.0.1", agent.key("ed25519"))
    cert_alg = ("-o", "HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com")
    _ok(agent.ssh("echo", "ok", options=cert_alg))
    # The plain host key is not what the constraint names: refused.
    _refused(agent.ssh("echo", "ok"))
