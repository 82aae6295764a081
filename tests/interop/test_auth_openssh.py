"""ssh-auth interop: our client against OpenSSH's sshd, OpenSSH's ssh against our server.

The sshd runs as root (CI does) with UsePAM no; passwords are checked against a dedicated
``sshtest`` user created here with useradd/chpasswd. Our server has no connection layer
yet, so ``ssh`` fails right after authentication: success is read from its debug log.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openssh_tools import SSH, Sshd, SshdFactory, stop_process

from ssh_auth import (
    AuthenticationFailed,
    CertifiedSigner,
    PasswordDatabase,
    StandardPolicy,
    UserAuthenticated,
    authorized_keys_file,
    key_candidates,
)
from ssh_auth.sync import authenticate, serve
from ssh_keys import Certificate, PrivateKey, parse_public_key_line
from ssh_keys.keyfile import read_private_key_file
from ssh_transport import HostKey, Role, TransportConfig
from ssh_transport.sync import SocketStream, SyncTransport

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]

TEST_USER = "sshtest"
TEST_PASSWORD = "Interop-Pass-4252"
KEY_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "2048"],
}


def keygen(*args: str | os.PathLike[str]) -> None:
    subprocess.run(["ssh-keygen", "-q", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def test_user() -> str:
    """A local account with a known password (sshd checks /etc/shadow without PAM)."""
    if subprocess.run(["id", TEST_USER], capture_output=True, check=False).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", TEST_USER], check=True)
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n".encode(), check=True)
    return TEST_USER


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """User keys of every type, a user CA and certificates for root and the test user."""
    d = tmp_path_factory.mktemp("userkeys")
    for name, args in KEY_TYPES.items():
        keygen(*args, "-N", "", "-C", f"user-{name}", "-f", d / name)
    keygen("-t", "ed25519", "-N", "", "-f", d / "user_ca")
    for name in ("ed25519", "rsa", "ecdsa256"):
        cert_key = d / f"cert_{name}"
        shutil.copy(d / name, cert_key)
        shutil.copy(d / f"{name}.pub", f"{cert_key}.pub")
        keygen("-s", d / "user_ca", "-I", f"cert-{name}", "-n", f"root,{TEST_USER}",
               f"{cert_key}.pub")  # fmt: skip
    return d


@pytest.fixture(scope="module")
def authdir(keys: Path) -> Iterator[Path]:
    """Authorized keys per user (AuthorizedKeysFile <dir>/%u.keys), in a directory the test
    user can read: sshd opens a user's file with that user's privileges."""
    d = Path(tempfile.mkdtemp(prefix="ssh-auth-interop-"))
    d.chmod(0o755)
    lines = "".join((keys / f"{name}.pub").read_text() for name in KEY_TYPES)
    (d / "root.keys").write_text(lines)
    (d / f"{TEST_USER}.keys").write_text((keys / "ed25519.pub").read_text())
    for f in d.iterdir():
        f.chmod(0o644)
    yield d
    shutil.rmtree(d)


def private(keys: Path, name: str) -> PrivateKey:
    return read_private_key_file(keys / name)


def certificate(keys: Path, name: str) -> Certificate:
    cert = parse_public_key_line((keys / f"{name}-cert.pub").read_text()).key
    assert isinstance(cert, Certificate)
    return cert


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory, keys: Path, authdir: Path, test_user: str) -> Sshd:
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=f"{authdir}/%u.keys",
        TrustedUserCAKeys=str(keys / "user_ca.pub"),
        PasswordAuthentication="yes",
        KbdInteractiveAuthentication="yes",
        MaxAuthTries="10",
    )


@pytest.fixture(scope="module")
def multistep_sshd(sshd_factory: SshdFactory, authdir: Path, test_user: str) -> Sshd:
    return sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=f"{authdir}/%u.keys",
        AuthenticationMethods="publickey,password",
    )


def connect(server: Sshd) -> SyncTransport:
    return SyncTransport.connect(
        "127.0.0.1", server.port, host_key_check=lambda key, alg: True, timeout=30
    )


# -- our client, OpenSSH's sshd -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KEY_TYPES))
def test_publickey_every_key_type(sshd: Sshd, keys: Path, kind: str) -> None:
    with connect(sshd) as t:
        done = authenticate(t, "root", signers=[private(keys, kind)], methods=["publickey"])
        assert done.methods == ("publickey",)
    # sshd took it as publickey-hostbound (OpenSSH 8.9+ announces it; we use it).
    assert "publickey-hostbound-v00@openssh.com" in sshd.log_text()


def test_rsa_signature_algorithm_from_server_sig_algs(sshd: Sshd, keys: Path) -> None:
    with connect(sshd) as t:
        authenticate(t, "root", signers=[private(keys, "rsa")], methods=["publickey"])
    assert "rsa-sha2-512" in sshd.log_text()


def test_wrong_keys_then_right_key(sshd: Sshd, keys: Path) -> None:
    from ssh_keys import generate_private_key

    strangers = [generate_private_key("ed25519") for _ in range(3)]
    with connect(sshd) as t:
        done = authenticate(
            t, "root", signers=[*strangers, private(keys, "ed25519")], methods=["publickey"]
        )
        assert done.methods == ("publickey",)


def test_password(sshd: Sshd, test_user: str) -> None:
    with connect(sshd) as t:
        done = authenticate(t, test_user, password=TEST_PASSWORD, methods=["password"])
        assert done.methods == ("password",)


def test_wrong_password_lists_methods(sshd: Sshd, test_user: str) -> None:
    with connect(sshd) as t, pytest.raises(AuthenticationFailed) as info:
        authenticate(t, test_user, password="wrong", methods=["password"])
    assert "publickey" in info.value.methods and "password" in info.value.methods


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa256"])
def test_user_certificate(sshd: Sshd, keys: Path, kind: str) -> None:
    signer = CertifiedSigner(private(keys, f"cert_{kind}"), certificate(keys, f"cert_{kind}"))
    with connect(sshd) as t:
        # The test user has no authorized key of this type: only the CA lets it in.
        done = authenticate(t, TEST_USER, signers=[signer], methods=["publickey"])
        assert done.methods == ("publickey",)
    assert "cert-" + kind in sshd.log_text()


def test_certificate_then_plain_key_order(sshd: Sshd, keys: Path) -> None:
    candidates = key_candidates(private(keys, "cert_ed25519"), certificate(keys, "cert_ed25519"))
    assert isinstance(candidates[0], CertifiedSigner)
    with connect(sshd) as t:
        authenticate(t, TEST_USER, signers=candidates, methods=["publickey"])


def test_multistep_publickey_then_password(multistep_sshd: Sshd, keys: Path) -> None:
    with connect(multistep_sshd) as t:
        done = authenticate(
            t, TEST_USER, signers=[private(keys, "ed25519")], password=TEST_PASSWORD,
            methods=["publickey", "password"],
        )  # fmt: skip
        assert done.methods == ("publickey", "password")


def test_multistep_needs_both(multistep_sshd: Sshd, keys: Path) -> None:
    with connect(multistep_sshd) as t, pytest.raises(AuthenticationFailed) as info:
        authenticate(t, TEST_USER, signers=[private(keys, "ed25519")], methods=["publickey"])
    assert info.value.partial_success
    assert info.value.methods == ("password",)


@pytest.fixture
def openssh_agent(tmp_path: Path, keys: Path) -> Iterator[Path]:
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(400):
            if sock.exists():
                break
            time.sleep(0.01)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        for name in ("ecdsa384", "rsa"):
            subprocess.run(["ssh-add", "-q", str(keys / name)], env=env, check=True,
                           capture_output=True)  # fmt: skip
        yield sock
    finally:
        stop_process(proc)


def test_agent_keys(sshd: Sshd, openssh_agent: Path) -> None:
    from ssh_agent.sync import AgentClient

    with AgentClient.connect(openssh_agent) as agent:
        signers = agent.list_identities()
        assert len(signers) == 2
        for signer in signers:
            with connect(sshd) as t:
                done = authenticate(t, "root", signers=[signer], methods=["publickey"])
                assert done.methods == ("publickey",)


# -- OpenSSH's ssh, our server ------------------------------------------------------------------


class OurServer:
    """Serves one connection: SyncTransport + ssh_auth.sync.serve in a thread."""

    def __init__(self, policy: StandardPolicy, host_key: HostKey) -> None:
        self.policy = policy
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.config = TransportConfig(host_keys=(host_key,))
        self.results: list[UserAuthenticated | BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.listener.settimeout(30)
        try:
            sock, addr = self.listener.accept()
        except OSError as exc:
            self.results.append(exc)
            return
        finally:
            self.listener.close()
        transport = SyncTransport(SocketStream(sock), Role.SERVER, self.config)
        try:
            self.results.append(serve(transport, self.policy, client_address=addr[0]))
        except Exception as exc:
            self.results.append(exc)
        finally:
            transport.close("no connection layer yet")

    def close(self) -> None:
        self.thread.join(30)


@pytest.fixture(scope="module")
def server_host_key(keys: Path) -> HostKey:
    return HostKey(private(keys, "ecdsa256"))


def run_ssh(port: int, user: str, *options: str, password: str | None = None,
            tmp: Path | None = None) -> str:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    args = [
        SSH, "-vvv", "-F", "/dev/null", "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "ConnectTimeout=10",
        "-o", "NumberOfPasswordPrompts=1",
    ]  # fmt: skip
    if password is not None:
        assert tmp is not None
        askpass = tmp / "askpass.sh"
        askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
        askpass.chmod(0o700)
        env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    else:
        args += ["-o", "BatchMode=yes"]
    args += [*options, f"{user}@127.0.0.1", "true"]
    proc = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60, check=False)  # fmt: skip
    return proc.stderr.decode(errors="replace")


def serve_once(policy: StandardPolicy, host_key: HostKey, *args: str, **kw: Any) -> tuple[str, Any]:
    server = OurServer(policy, host_key)
    try:
        log = run_ssh(server.port, *args, **kw)
    finally:
        server.close()
    assert server.results, log[-3000:]
    return log, server.results[0]


def test_ssh_publickey_to_our_server(keys: Path, authdir: Path, server_host_key: HostKey) -> None:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(f"{authdir}/%u.keys"))
    for kind in ("ed25519", "rsa", "ecdsa521"):
        log, result = serve_once(policy, server_host_key, "root", "-i", str(keys / kind))
        assert "Authenticated to 127.0.0.1" in log, log[-3000:]
        assert isinstance(result, UserAuthenticated), result
        assert result.username == "root" and result.methods == ("publickey",)
        assert result.decisions[0].key is not None
        assert result.decisions[0].key.algorithm == parse_public_key_line(
            (keys / f"{kind}.pub").read_text()).key.algorithm  # fmt: skip


def test_ssh_publickey_refused(keys: Path, authdir: Path, server_host_key: HostKey) -> None:
    policy = StandardPolicy(authorized_keys=authorized_keys_file(f"{authdir}/%u.keys"))
    log, result = serve_once(policy, server_host_key, TEST_USER, "-i", str(keys / "rsa"))
    assert "Authenticated to" not in log
    assert "Permission denied" in log
    assert not isinstance(result, UserAuthenticated)


def test_ssh_password_to_our_server(tmp_path: Path, server_host_key: HostKey) -> None:
    db = PasswordDatabase(n=1 << 10)
    db.set_password("carol", "s3cret")
    policy = StandardPolicy(password=db, keyboard_interactive_password=False)
    log, result = serve_once(
        policy, server_host_key, "carol", "-o", "PreferredAuthentications=password",
        password="s3cret", tmp=tmp_path,
    )  # fmt: skip
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated) and result.methods == ("password",)


def test_ssh_keyboard_interactive_to_our_server(tmp_path: Path, server_host_key: HostKey) -> None:
    policy = StandardPolicy(password=lambda user, pw: (user, pw) == ("carol", "kbd-pass"))
    log, result = serve_once(
        policy, server_host_key, "carol", "-o", "PreferredAuthentications=keyboard-interactive",
        password="kbd-pass", tmp=tmp_path,
    )  # fmt: skip
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated) and result.methods == ("keyboard-interactive",)


def test_ssh_certificate_to_our_server(keys: Path, server_host_key: HostKey) -> None:
    ca = parse_public_key_line((keys / "user_ca.pub").read_text()).key
    policy = StandardPolicy(trusted_user_ca_keys=[ca])
    log, result = serve_once(
        policy, server_host_key, TEST_USER, "-i", str(keys / "cert_ed25519"),
        "-o", f"CertificateFile={keys / 'cert_ed25519-cert.pub'}",
    )  # fmt: skip
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated)
    assert result.decisions[0].certificate is not None
    assert result.decisions[0].certificate.key_id == "cert-ed25519"


def test_ssh_multistep_to_our_server(
    keys: Path, authdir: Path, tmp_path: Path, server_host_key: HostKey
) -> None:
    policy = StandardPolicy(
        authorized_keys=authorized_keys_file(f"{authdir}/%u.keys"),
        password=lambda user, pw: pw == "second-factor",
        authentication_methods="publickey,password",
    )
    log, result = serve_once(
        policy, server_host_key, TEST_USER, "-i", str(keys / "ed25519"),
        password="second-factor", tmp=tmp_path,
    )  # fmt: skip
    assert 'Authenticated using "publickey" with partial success' in log, log[-3000:]
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated)
    assert result.methods == ("publickey", "password")


def test_ssh_restrictions_reach_the_result(
    keys: Path, tmp_path: Path, server_host_key: HostKey
) -> None:
    line = (keys / "ed25519.pub").read_text().strip()
    (tmp_path / "alice.keys").write_text(
        f'restrict,pty,command="echo hi",from="127.0.0.1" {line}\n'
    )
    policy = StandardPolicy(authorized_keys=authorized_keys_file(f"{tmp_path}/%u.keys"))
    log, result = serve_once(policy, server_host_key, "alice", "-i", str(keys / "ed25519"))
    assert "Authenticated to 127.0.0.1" in log, log[-3000:]
    assert isinstance(result, UserAuthenticated)
    decision = result.decisions[0]
    assert decision.force_command == "echo hi"
    assert decision.pty_allowed and not decision.port_forwarding_allowed
    assert not decision.agent_forwarding_allowed and not decision.x11_forwarding_allowed
