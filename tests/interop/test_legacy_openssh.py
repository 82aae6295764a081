"""Opt-in legacy signatures against OpenSSH: ssh-dss (DSA) and ssh-rsa (SHA-1).

Both directions, and the agent: our client against an sshd configured with
``HostKeyAlgorithms +ssh-dss`` and ``PubkeyAcceptedAlgorithms +ssh-dss,ssh-rsa`` (one sshd
for the module), OpenSSH's ssh against our server told the same, and OpenSSH's ssh-add and
ssh through ssh-agent-py. Keys are made by ssh-keygen (OpenSSH 9.2 still makes DSA keys).
The legacy MACs are in test_transport_openssh's cipher x MAC matrix, both ways.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import SSH, Sshd, SshdFactory, run_keygen, stop_process
from test_agent_openssh import OurAgent

from ssh_auth import (
    AuthenticationFailed,
    StandardPolicy,
    UserAuthenticated,
    authorized_keys_file,
    choose_signature_algorithm,
)
from ssh_auth.sync import authenticate, serve
from ssh_keys import PrivateKey, PublicKey, parse_public_key_line
from ssh_keys.keyfile import read_private_key_file
from ssh_transport import HostKey, Role, TransportConfig
from ssh_transport.config import DEFAULT_SERVER_SIG_ALGS
from ssh_transport.sync import SocketStream, SyncTransport

pytestmark = [pytest.mark.interop]

USER = getpass.getuser()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("legacy-keys")
    run_keygen("-t", "dsa", "-N", "", "-C", "user-dsa", "-f", d / "dsa")
    run_keygen("-t", "rsa", "-b", "2048", "-N", "", "-C", "user-rsa", "-f", d / "rsa")
    run_keygen("-t", "dsa", "-N", "", "-C", "host-dsa", "-f", d / "host_dsa")
    (d / "authorized_keys").write_text((d / "dsa.pub").read_text() + (d / "rsa.pub").read_text())
    return d


def public(keys: Path, name: str) -> PublicKey:
    return parse_public_key_line((keys / f"{name}.pub").read_text()).key


def private(keys: Path, name: str) -> PrivateKey:
    return read_private_key_file(keys / name)


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, keys: Path) -> Sshd:
    return sshd_factory.start(
        HostKey=str(keys / "host_dsa"),
        HostKeyAlgorithms="+ssh-dss",
        PubkeyAcceptedAlgorithms="+ssh-dss,ssh-rsa",
        AuthorizedKeysFile=str(keys / "authorized_keys"),
        PermitRootLogin="yes",
    )


class HostKeyLog:
    """host_key_check that trusts and records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[PublicKey, str]] = []

    def __call__(self, key: PublicKey, algorithm: str) -> bool:
        self.seen.append((key, algorithm))
        return True


def connect(sshd: Sshd, check: HostKeyLog | None = None, **config: object) -> SyncTransport:
    stream = SocketStream(sshd.connect_socket())
    cfg = TransportConfig(**config)  # type: ignore[arg-type]
    return SyncTransport(stream, Role.CLIENT, cfg, host_key_check=check or HostKeyLog())


@pytest.mark.parametrize("fmt", ["openssh", "pem"])
def test_ssh_keys_generates_dsa_keys_ssh_keygen_reads(tmp_path: Path, fmt: str) -> None:
    key = tmp_path / "id_dsa"
    subprocess.run(
        [sys.executable, "-m", "ssh_keys", "generate", "-t", "dsa", "-q", "-N", "", "-f", str(key),
         "--format", fmt, "-C", "made-here"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    out = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[:2] == (tmp_path / "id_dsa.pub").read_text().split()[:2]
    assert out.stdout.startswith("ssh-dss ")
    assert (
        "1024"
        in subprocess.run(
            ["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True
        ).stdout
    )


# -- our client, OpenSSH's sshd -----------------------------------------------------------


def test_client_verifies_sshd_dss_host_key_only_when_named(sshd: Sshd, keys: Path) -> None:
    # Named but not first: the defaults win while the server offers them.
    with connect(sshd, host_key_algorithms="+ssh-dss") as t:
        t.request_service("ssh-userauth", 30)
        assert t.algorithms is not None and t.algorithms.host_key != "ssh-dss"
    check = HostKeyLog()
    with connect(sshd, check, host_key_algorithms=["ssh-dss"]) as t:
        t.request_service("ssh-userauth", 30)
        assert t.algorithms is not None and t.algorithms.host_key == "ssh-dss"
    assert check.seen == [(public(keys, "host_dsa"), "ssh-dss")]


@pytest.mark.parametrize(("name", "algorithm"), [("dsa", "ssh-dss"), ("rsa", "ssh-rsa")])
def test_client_logs_in_with_a_legacy_signature(
    sshd: Sshd, keys: Path, name: str, algorithm: str
) -> None:
    start = len(sshd.log_text())
    with connect(sshd) as t:
        done = authenticate(
            t, USER, signers=[private(keys, name)], methods=["publickey"],
            publickey_algorithms=[algorithm],
        )  # fmt: skip
        assert done.methods == ("publickey",)
    log = sshd.log_text()[start:]
    assert f"pkalg {algorithm} pkblob" in log
    assert f"Accepted publickey for {USER} from 127.0.0.1" in log
    assert public(keys, name).fingerprint() in log


def test_client_never_signs_sha1_unless_asked(sshd: Sshd, keys: Path) -> None:
    # sshd lists ssh-rsa and ssh-dss in server-sig-algs here; we still pick SHA-2 for RSA...
    start = len(sshd.log_text())
    signer = private(keys, "rsa")
    with connect(sshd) as t:
        authenticate(t, USER, signers=[signer], methods=["publickey"])
        listed = t.peer_extensions["server-sig-algs"].decode().split(",")
    assert "ssh-rsa" in listed and "ssh-dss" in listed
    assert choose_signature_algorithm(signer, listed) == "rsa-sha2-512"
    # (A check for no "pkalg ssh-rsa" would race with the log tail of the test before.)
    assert "pkalg rsa-sha2-512 pkblob" in sshd.log_text()[start:]
    # ...and a DSA key is not offered at all.
    with connect(sshd) as t, pytest.raises(AuthenticationFailed):
        authenticate(t, USER, signers=[private(keys, "dsa")], methods=["publickey"])


# -- OpenSSH's ssh, our server -----------------------------------------------------------


class OneConnectionServer:
    """Our transport and auth server for one ssh connection, in a thread."""

    def __init__(self, config: TransportConfig, policy: StandardPolicy) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.result: UserAuthenticated | BaseException | None = None
        self._config = config
        self._policy = policy
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.listener.settimeout(30)
        try:
            sock, _ = self.listener.accept()
        except OSError as exc:
            self.result = exc
            return
        finally:
            self.listener.close()
        transport = SyncTransport(SocketStream(sock), Role.SERVER, self._config)
        try:
            self.result = serve(transport, self._policy, client_address="127.0.0.1")
        except Exception as exc:
            self.result = exc
        finally:
            transport.close("no connection layer here")

    def join(self) -> UserAuthenticated | BaseException | None:
        self._thread.join(30)
        return self.result


def ssh(port: int, *options: str, env: dict[str, str] | None = None) -> str:
    args = [
        SSH, "-vvv", "-F", "/dev/null", "-p", str(port), "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10", *options, f"{USER}@127.0.0.1", "true",
    ]  # fmt: skip
    proc = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60, check=False)  # fmt: skip
    return proc.stderr.decode(errors="replace")


def serve_ssh(keys: Path, config: TransportConfig, *options: str) -> tuple[str, object]:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(str(keys / "authorized_keys")))
    server = OneConnectionServer(config, policy)
    log = ssh(server.port, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", *options)
    return log, server.join()


LEGACY_SERVER_SIG_ALGS = (*DEFAULT_SERVER_SIG_ALGS, "ssh-rsa", "ssh-dss")


def test_ssh_verifies_our_dss_host_key_and_logs_in_with_dsa(keys: Path, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"127.0.0.1 {(keys / 'host_dsa.pub').read_text()}")
    config = TransportConfig(
        host_keys=[HostKey(private(keys, "host_dsa"))],
        host_key_algorithms="+ssh-dss",
        server_sig_algs=LEGACY_SERVER_SIG_ALGS,
    )
    log, result = serve_ssh(
        keys, config, "-o", "HostKeyAlgorithms=ssh-dss", "-o", f"UserKnownHostsFile={known}",
        "-o", "StrictHostKeyChecking=yes", "-o", "PubkeyAcceptedAlgorithms=+ssh-dss",
        "-i", str(keys / "dsa"),
    )  # fmt: skip
    assert "kex: host key algorithm: ssh-dss" in log, log[-3000:]
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated), result
    decision = result.decisions[0]
    assert decision.key == public(keys, "dsa")


def test_ssh_logs_in_with_ssh_rsa_when_our_server_accepts_it(keys: Path) -> None:
    config = TransportConfig(
        host_keys=[HostKey(private(keys, "rsa"))], server_sig_algs=LEGACY_SERVER_SIG_ALGS
    )
    log, result = serve_ssh(
        keys, config, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "PubkeyAcceptedAlgorithms=ssh-rsa", "-i", str(keys / "rsa"),
    )  # fmt: skip
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated), result


def test_our_server_refuses_sha1_user_signatures_by_default(keys: Path) -> None:
    config = TransportConfig(host_keys=[HostKey(private(keys, "rsa"))])
    log, result = serve_ssh(
        keys, config, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "PubkeyAcceptedAlgorithms=ssh-rsa,ssh-dss", "-i", str(keys / "rsa"),
        "-i", str(keys / "dsa"),
    )  # fmt: skip
    assert "Authenticated to" not in log
    assert "Permission denied" in log
    assert not isinstance(result, UserAuthenticated)


# -- ssh-agent-py with OpenSSH's ssh-add and ssh ------------------------------------------


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[OurAgent]:
    a = OurAgent(tmp_path)
    yield a
    a.stop()


def test_agent_holds_and_signs_with_dsa_and_ssh_rsa(agent: OurAgent, keys: Path) -> None:
    agent.ssh_add(keys / "dsa")
    agent.ssh_add(keys / "rsa")
    listed = agent.ssh_add("-L").stdout.split("\n")
    assert [line.split()[0] for line in listed if line] == ["ssh-dss", "ssh-rsa"]
    # ssh-add -T asks for a signature without flags and verifies it: ssh-dss, and ssh-rsa
    # (SHA-1) for the RSA key, as OpenSSH's agent answers.
    agent.ssh_add("-T", keys / "dsa.pub")
    agent.ssh_add("-T", keys / "rsa.pub")


@pytest.mark.parametrize(("name", "algorithm"), [("dsa", "ssh-dss"), ("rsa", "ssh-rsa")])
def test_ssh_logs_in_to_sshd_through_our_agent(
    agent: OurAgent, sshd: Sshd, keys: Path, name: str, algorithm: str
) -> None:
    agent.ssh_add(keys / name)
    start = len(sshd.log_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    log = ssh(
        sshd.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", f"IdentityAgent={agent.sock}", "-o", f"PubkeyAcceptedAlgorithms={algorithm}",
        "-o", "IdentityFile=/dev/null", env=env,
    )  # fmt: skip
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert f"pkalg {algorithm} pkblob" in sshd.log_text()[start:]


@pytest.fixture
def openssh_agent(tmp_path: Path, keys: Path) -> Iterator[Path]:
    sock = tmp_path / "openssh-agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(1000):
            if sock.exists():
                break
            time.sleep(0.01)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        for name in ("dsa", "rsa"):
            subprocess.run(["ssh-add", "-q", str(keys / name)], env=env, check=True,
                           capture_output=True)  # fmt: skip
        yield sock
    finally:
        stop_process(proc)


@pytest.mark.parametrize(("index", "algorithm"), [(0, "ssh-dss"), (1, "ssh-rsa")])
def test_client_logs_in_with_openssh_agent_legacy_signatures(
    sshd: Sshd, openssh_agent: Path, index: int, algorithm: str
) -> None:
    """Agent keys sign SHA-1 only when the caller names it: the request goes without the
    SHA-2 flags, and sshd checks what comes back."""
    from ssh_agent.sync import AgentClient

    start = len(sshd.log_text())
    with AgentClient.connect(openssh_agent) as agent:
        signer = agent.list_identities()[index]
        assert algorithm not in signer.algorithms
        with connect(sshd) as t:
            done = authenticate(
                t, USER, signers=[signer], methods=["publickey"],
                publickey_algorithms=[algorithm],
            )  # fmt: skip
            assert done.methods == ("publickey",)
    assert f"pkalg {algorithm} pkblob" in sshd.log_text()[start:]
