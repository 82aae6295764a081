"""ssh-agent interop: OpenSSH's ssh-add against our agent, our client against OpenSSH's agent."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import stop_process

from ssh_agent import AgentFailure, destination
from ssh_agent.protocol import frame
from ssh_agent.sync import AgentClient
from ssh_keys import generate_private_key, parse_public_key_line

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-add") is None, reason="OpenSSH ssh-add not installed"),
]

KEY_TYPES = {"ed25519": [], "ecdsa": [], "rsa": ["-b", "2048"]}


@pytest.fixture(scope="module")
def keydir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    for name, extra in KEY_TYPES.items():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", name, *extra, "-N", "", "-C", f"{name}-key", "-f", d / name],
            check=True,
        )
    # User certificates, which ssh-add sends beside their keys.
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / "ca"], check=True)
    for name in KEY_TYPES:
        cert = d / f"cert-{name}"
        cert.write_bytes((d / name).read_bytes())
        cert.chmod(0o600)
        (d / f"cert-{name}.pub").write_bytes((d / f"{name}.pub").read_bytes())
        subprocess.run(
            ["ssh-keygen", "-q", "-s", d / "ca", "-I", "id", "-n", "alice", f"{cert}.pub"],
            check=True,
        )
    return d


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if path.exists():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.025)
    raise RuntimeError("agent socket never appeared")


class OurAgent:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.sock = d / "agent.sock"
        self.answer = d / "answer"
        self.answer.write_text("yes")
        # The agent's askpass says yes or no from a file the test flips.
        confirm = d / "confirm-askpass"
        confirm.write_text(f'#!/bin/sh\necho "$*" >> {d}/asked\n[ "$(cat {self.answer})" = yes ]\n')
        confirm.chmod(0o700)
        env = dict(os.environ, SSH_ASKPASS=str(confirm))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ssh_agent", "-D", "-a", str(self.sock)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        _wait_for(self.sock, self.proc)
        # ssh-add reads lock passphrases from its own askpass.
        self.pw = d / "pw-askpass"
        self.pw.write_text("#!/bin/sh\necho lockpass\n")
        self.pw.chmod(0o700)

    def ssh_add(self, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ,
            SSH_AUTH_SOCK=str(self.sock),
            SSH_ASKPASS=str(self.pw),
            SSH_ASKPASS_REQUIRE="force",
            DISPLAY=":0",
        )
        return subprocess.run(
            ["ssh-add", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            check=check,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no controlling tty: passphrases come from askpass
            timeout=30,
        )

    def stop(self) -> None:
        stop_process(self.proc)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def ours(tmp_path) -> Iterator[OurAgent]:
    a = OurAgent(tmp_path)
    yield a
    a.stop()
    assert not a.sock.exists()


def _fingerprint_line(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", path], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# -- OpenSSH ssh-add against our agent ---------------------------------------------------


def test_prints_env_lines(ours):
    assert ours.proc.stdout is not None
    first = ours.proc.stdout.readline().decode()
    assert first == f"SSH_AUTH_SOCK={ours.sock}; export SSH_AUTH_SOCK;\n"


def test_ssh_add_list(ours, keydir):
    for name in KEY_TYPES:
        ours.ssh_add(keydir / name)
    listed = ours.ssh_add("-l").stdout.splitlines()
    assert listed == [_fingerprint_line(keydir / f"{n}.pub") for n in KEY_TYPES]
    public = ours.ssh_add("-L").stdout.splitlines()
    assert public == [(keydir / f"{n}.pub").read_text().strip() for n in KEY_TYPES]
    # ssh-add signs and verifies; for RSA it asks without flags, i.e. for SHA-1 ssh-rsa.
    for name in ("ed25519", "ecdsa", "rsa"):
        ours.ssh_add("-T", keydir / f"{name}.pub")


@pytest.mark.parametrize(
    "name",
    [
        "ed25519",
        "ecdsa",
        "rsa",
    ],
)
def test_ssh_add_certificate(ours, keydir, name):
    out = ours.ssh_add(keydir / f"cert-{name}")
    assert "Certificate added" in out.stderr
    listed = ours.ssh_add("-L").stdout.splitlines()
    cert_line = (keydir / f"cert-{name}-cert.pub").read_text()
    assert [line.split()[:2] for line in listed][-1] == cert_line.split()[:2]
    assert len(listed) == 2
    ours.ssh_add("-T", keydir / f"cert-{name}-cert.pub", check=name != "rsa")
    with AgentClient.connect(ours.sock) as client:
        cert_key = client.list_identities()[-1]
        cert = parse_public_key_line(cert_line).key
        assert cert_key.public_key == cert
        plain = parse_public_key_line((keydir / f"{name}.pub").read_text()).key
        plain.verify(b"data", cert_key.sign(b"data"))


def test_ssh_add_delete(ours, keydir):
    ours.ssh_add(keydir / "ed25519")
    ours.ssh_add(keydir / "rsa")
    ours.ssh_add("-d", keydir / "ed25519")
    assert ours.ssh_add("-L").stdout.split()[0] == "ssh-rsa"
    ours.ssh_add("-D")
    listed = ours.ssh_add("-l", check=False)
    assert listed.returncode == 1
    assert "no identities" in listed.stdout


def test_ssh_add_lifetime(ours, keydir):
    out = ours.ssh_add("-t", "1", keydir / "ed25519")
    assert "Lifetime set to 1 seconds" in out.stderr
    ours.ssh_add(keydir / "rsa")
    time.sleep(1.2)  # let the lifetime pass (the agent's clock, not a timing assertion)
    assert ours.ssh_add("-L").stdout.split()[0] == "ssh-rsa"
    assert len(ours.ssh_add("-L").stdout.splitlines()) == 1


def test_ssh_add_confirm(ours, keydir):
    ours.ssh_add("-c", keydir / "ed25519")
    pub = keydir / "ed25519.pub"
    ours.ssh_add("-T", pub)
    assert "Allow use of key ed25519-key?" in (ours.dir / "asked").read_text()
    ours.answer.write_text("no")
    assert ours.ssh_add("-T", pub, check=False).returncode != 0


def test_ssh_add_lock_unlock(ours, keydir):
    ours.ssh_add(keydir / "ed25519")
    out = ours.ssh_add("-x")
    assert "Agent locked" in out.stdout + out.stderr
    assert ours.ssh_add("-l", check=False).returncode == 1
    assert ours.ssh_add("-T", keydir / "ed25519.pub", check=False).returncode != 0
    out = ours.ssh_add("-X")
    assert "Agent unlocked" in out.stdout + out.stderr
    assert len(ours.ssh_add("-l").stdout.splitlines()) == 1


def test_ssh_add_destination_constraint(ours, keydir, tmp_path):
    host = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host], check=True)
    known = tmp_path / "known_hosts"
    known.write_text("server.example " + (tmp_path / "hostkey.pub").read_text())
    ours.ssh_add("-H", known, "-h", "bob@server.example", keydir / "ed25519")
    # Listed locally (unbound connection); the constraint reached the agent intact.
    assert "ed25519-key" in ours.ssh_add("-l").stdout
    with AgentClient.connect(ours.sock) as client:
        [key] = client.list_identities()
        with pytest.raises(AgentFailure):
            key.sign(b"not a userauth request on an unbound connection")


def test_hostile_messages_answer_failure(ours, keydir):
    ours.ssh_add(keydir / "ed25519")
    rng = random.Random(1234)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(ours.sock))
        for _ in range(200):
            kind = rng.choice([0, 1, 5, 13, 17, 18, 20, 22, 25, 26, 27, 99, 255])
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
            s.sendall(frame(bytes([kind]) + body))
            assert s.recv(5) == b"\x00\x00\x00\x01\x05"
    assert len(ours.ssh_add("-l").stdout.splitlines()) == 1


# -- our client against OpenSSH's ssh-agent ----------------------------------------------------


@pytest.fixture
def openssh_agent(tmp_path) -> Iterator[Path]:
    sock = tmp_path / "openssh.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for(sock, proc)
        yield sock
    finally:
        stop_process(proc)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_client_against_openssh_agent(openssh_agent, keydir):
    keys = {
        "ed25519": generate_private_key("ed25519", comment="ed"),
        "ecdsa": generate_private_key("ecdsa", 384, comment="ec"),
        "rsa": generate_private_key("rsa", 2048, comment="rsa"),
    }
    with AgentClient.connect(openssh_agent) as client:
        for key in keys.values():
            client.add(key, lifetime=600)
        agent_keys = client.list_identities()
        assert [k.comment for k in agent_keys] == ["ed", "ec", "rsa"]
        for agent_key, key in zip(agent_keys, keys.values(), strict=False):
            assert agent_key.public_key == key.public_key
            for alg in agent_key.algorithms:
                key.public_key.verify(b"to sign", agent_key.sign(b"to sign", alg))
        client.remove(keys["ecdsa"].public_key)
        assert len(client.list_identities()) == 2
        client.lock("pw")
        assert client.list_identities() == []
        with pytest.raises(AgentFailure):
            agent_keys[0].sign(b"x")
        client.unlock("pw")
        client.remove_all()
        assert client.list_identities() == []


def test_openssh_agent_accepts_our_constraints_and_bind(openssh_agent, keydir):
    user = generate_private_key("ed25519", comment="restricted")
    host = generate_private_key("ed25519")
    with AgentClient.connect(openssh_agent) as client:
        client.add(user, confirm=False, destinations=(destination("h.example", [host.public_key]),))
        assert [k.comment for k in client.list_identities()] == ["restricted"]
        sid = os.urandom(32)
        client.session_bind(host.public_key.blob, sid, host.sign(sid), forwarding=False)
        # After binding to the permitted host the key stays visible...
        assert len(client.list_identities()) == 1
        # ...and a non-userauth signature is refused by OpenSSH's agent too.
        with pytest.raises(AgentFailure):
            client.list_identities()[0].sign(b"not userauth")
    with AgentClient.connect(openssh_agent) as other:
        other_host = generate_private_key("ed25519")
        sid = os.urandom(32)
        other.session_bind(other_host.public_key.blob, sid, other_host.sign(sid), forwarding=False)
        assert other.list_identities() == []  # bound elsewhere: hidden


def test_openssh_agent_lists_ssh_add_keys_to_us(openssh_agent, keydir):
    env = dict(os.environ, SSH_AUTH_SOCK=str(openssh_agent))
    subprocess.run(["ssh-add", "-q", keydir / "rsa"], env=env, check=True, capture_output=True)
    with AgentClient.connect(openssh_agent) as client:
        [key] = client.list_identities()
        expected = parse_public_key_line((keydir / "rsa.pub").read_text()).key
        assert key.public_key == expected
        expected.verify(b"abc", key.sign(b"abc", "rsa-sha2-256"))
