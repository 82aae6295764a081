"""Our client as ``ssh host``: ~/.ssh/config-style files, ProxyJump and ProxyCommand,
against two private sshds on loopback (``hop`` and ``target``, same user key).

Going through a jump host shows in the hop's sshd log (its direct-tcpip line naming the
target's port), so the tests can tell a jumped connection from a direct one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openssh_tools import SSH, Sshd, SshdFactory, free_port, stop_process

from ssh_auth import AuthenticationFailed
from ssh_connection import aio, aio_multi, sync, sync_multi
from ssh_connection.config import SSHConfig
from ssh_connection.errors import ChannelOpenError
from ssh_connection.host_keys import HostKeyUnknown
from ssh_keys.keyfile import read_private_key_file
from ssh_transport import TransportConfig
from ssh_wire import SSHError

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]

RELAY = Path(__file__).with_name("tcp_relay.py")


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cfgkeys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    (d / "authorized_keys").write_text((d / "id.pub").read_text())
    return d


def _start(factory: SshdFactory, keydir: Path) -> Sshd:
    return factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(keydir / "authorized_keys"),
        AllowTcpForwarding="yes",
        AcceptEnv="LC_*",
        HostKeyAlgorithms="ssh-ed25519",
    )


@pytest.fixture(scope="module")
def hop(sshd_factory: SshdFactory, keydir: Path) -> Sshd:
    return _start(sshd_factory, keydir)


@pytest.fixture(scope="module")
def target(sshd_factory: SshdFactory, keydir: Path) -> Sshd:
    return _start(sshd_factory, keydir)


@pytest.fixture
def config_file(tmp_path: Path, keydir: Path, hop: Sshd, target: Sshd) -> Path:
    """An ssh_config OpenSSH's ssh reads too (the ProxyCommand test runs ssh -W with it)."""
    path = tmp_path / "config"
    path.write_text(
        f"""
Host target
    HostName 127.0.0.1
    Port {target.port}
    SetEnv LC_GREETING=hello
    ServerAliveInterval 7
    Ciphers aes128-gcm@openssh.com

Host behind
    HostName 127.0.0.1
    Port {target.port}
    ProxyJump hop

Host behind2
    HostName 127.0.0.1
    Port {target.port}
    ProxyJump hop,root@127.0.0.1:{target.port}

Host via-ssh-w
    HostName 127.0.0.1
    Port {target.port}
    ProxyCommand {SSH} -F {path} -W %h:%p hop

Host via-relay
    HostName 127.0.0.1
    Port {target.port}
    ProxyCommand {sys.executable} {RELAY} %h %p

Host hop
    HostName 127.0.0.1
    Port {hop.port}

Host nobody-knows
    HostName 127.0.0.1
    Port {target.port}
    StrictHostKeyChecking yes
    UserKnownHostsFile /dev/null

Host strict
    HostName 127.0.0.1
    Port {target.port}
    StrictHostKeyChecking yes

Host *
    User root
    IdentityFile {keydir}/id
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {tmp_path}/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking accept-new
    BatchMode yes
"""
    )
    return path


def _direct_tcpip_lines(server: Sshd, port: int) -> int:
    return server.log_text().count(f"target 127.0.0.1 port {port}")


def test_config_supplies_hostname_port_user_key_env_and_ciphers(
    config_file: Path, tmp_path: Path
) -> None:
    with sync.connect("target", ssh_config=config_file) as conn:
        assert conn.username == "root"
        assert conn.host_config is not None and conn.host_config.server_alive_interval == 7
        result = conn.run('echo "$LC_GREETING"; whoami')
        assert result.stdout == b"hello\nroot\n"
        algorithms = conn.transport.algorithms
        assert algorithms is not None
        assert algorithms.cipher_client_to_server == "aes128-gcm@openssh.com"
    # accept-new recorded the key under [127.0.0.1]:port; the next login trusts it.
    assert "ssh-ed25519" in (tmp_path / "known_hosts").read_text()
    with sync.connect("strict", ssh_config=config_file) as conn:
        assert conn.run("echo ok").stdout == b"ok\n"


def test_explicit_arguments_override_the_config(config_file: Path, hop: Sshd) -> None:
    with sync.connect(
        "target",
        port=hop.port,
        ssh_config=config_file,
        config=TransportConfig(ciphers="chacha20-poly1305@openssh.com"),
        keepalive_interval=0,
    ) as conn:
        assert conn.run("echo $SSH_CONNECTION").stdout.split()[3] == str(hop.port).encode()
        algorithms = conn.transport.algorithms
        assert algorithms is not None
        assert algorithms.cipher_client_to_server == "chacha20-poly1305@openssh.com"
    with pytest.raises(AuthenticationFailed):
        sync.connect("target", username="nobody", ssh_config=config_file)


def test_strict_host_key_checking_refuses_an_unknown_host(config_file: Path) -> None:
    with pytest.raises(HostKeyUnknown):
        sync.connect("strict", ssh_config=config_file)


def test_proxy_jump_from_config_goes_through_the_hop(
    config_file: Path, hop: Sshd, target: Sshd
) -> None:
    before = _direct_tcpip_lines(hop, target.port)
    with sync.connect("behind", ssh_config=config_file) as conn:
        assert conn.run("echo jumped").stdout == b"jumped\n"
    assert _direct_tcpip_lines(hop, target.port) > before


def test_proxy_jump_two_hops_user_at_host_port(config_file: Path, hop: Sshd, target: Sshd) -> None:
    hop_before = _direct_tcpip_lines(hop, target.port)
    target_before = _direct_tcpip_lines(target, target.port)
    with sync.connect("behind2", ssh_config=config_file) as conn:
        assert conn.run("echo two").stdout == b"two\n"
    # hop -> target (the second hop), then target -> itself (the destination).
    assert _direct_tcpip_lines(hop, target.port) > hop_before
    assert _direct_tcpip_lines(target, target.port) > target_before


def test_proxy_jump_argument_without_a_config_file(keydir: Path, hop: Sshd, target: Sshd) -> None:
    key = read_private_key_file(keydir / "id")
    before = _direct_tcpip_lines(hop, target.port)
    with sync.connect(
        "127.0.0.1",
        target.port,
        "root",
        signers=[key],
        host_key_check=sync.insecure_accept_any_host_key,
        proxy_jump=f"root@127.0.0.1:{hop.port}",
    ) as conn:
        assert conn.run("echo arg").stdout == b"arg\n"
    assert _direct_tcpip_lines(hop, target.port) > before


def test_proxy_jump_asyncio(config_file: Path, hop: Sshd, target: Sshd) -> None:
    async def main() -> bytes:
        async with await aio.connect("behind", ssh_config=config_file) as conn:
            return (await conn.run("echo async")).stdout

    before = _direct_tcpip_lines(hop, target.port)
    assert asyncio.run(main()) == b"async\n"
    assert _direct_tcpip_lines(hop, target.port) > before


def test_proxy_command_ssh_w(config_file: Path, hop: Sshd, target: Sshd) -> None:
    before = _direct_tcpip_lines(hop, target.port)
    with sync.connect("via-ssh-w", ssh_config=config_file) as conn:
        assert conn.run("echo w").stdout == b"w\n"
    assert _direct_tcpip_lines(hop, target.port) > before


def test_proxy_command_python_relay_and_argument(config_file: Path, keydir: Path) -> None:
    with sync.connect("via-relay", ssh_config=config_file) as conn:
        assert conn.run("echo relayed").stdout == b"relayed\n"
    key = read_private_key_file(keydir / "id")
    config = SSHConfig.from_file(config_file)
    with sync.connect(
        "target",
        ssh_config=config,
        signers=[key],
        proxy_command=f"{sys.executable} {RELAY} %h %p",
    ) as conn:
        assert conn.run("echo $LC_GREETING").stdout == b"hello\n"


def test_bad_proxy_command_is_a_clear_error(config_file: Path) -> None:
    with pytest.raises(SSHError):
        sync.connect("target", ssh_config=config_file, proxy_command="exit 3", connect_timeout=10)


# -- ssh -W and Unix-socket forwarding (direct-streamlocal, streamlocal-forward) ----------


@pytest.fixture
def echo_socket(tmp_path: Path) -> Iterator[Path]:
    """A Unix-socket echo server (each connection answers b"echo:" + what it read)."""
    path = tmp_path / "echo.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            conn.sendall(b"echo:" + data)

    def accept_loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield path
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(5)


def _ask_unix(path: Path, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_open_stream_is_ssh_w(config_file: Path, hop: Sshd) -> None:
    with sync.connect("target", ssh_config=config_file) as conn:
        stream = conn.open_stream("127.0.0.1", hop.port)
        assert stream.read(timeout=10).startswith(b"SSH-2.0-")
        stream.close()
        with pytest.raises(ChannelOpenError):
            conn.open_stream(path="/nonexistent/socket")


def test_forward_local_path_to_a_remote_unix_socket(
    config_file: Path, tmp_path: Path, echo_socket: Path, target: Sshd
) -> None:
    local = tmp_path / "local.sock"
    with sync.connect("target", ssh_config=config_file) as conn:
        with conn.forward_local_path(str(local), str(echo_socket)):
            assert _ask_unix(local, b"one") == b"echo:one"
            assert _ask_unix(local, b"two") == b"echo:two"
            with conn.open_stream(path=str(echo_socket)) as stream:
                stream.write(b"direct")
                stream.write_eof()
                assert stream.read(timeout=10) == b"echo:direct"
        assert not local.exists()
    assert "direct-streamlocal" in target.log_text()


def test_forward_remote_path_back_to_a_local_unix_socket(
    config_file: Path, tmp_path: Path, echo_socket: Path
) -> None:
    remote = tmp_path / "remote.sock"
    with (
        sync.connect("target", ssh_config=config_file) as conn,
        conn.forward_remote_path(str(remote), str(echo_socket)),
    ):
        assert remote.exists()  # sshd made it
        assert _ask_unix(remote, b"back") == b"echo:back"


def test_unix_forwards_asyncio(config_file: Path, tmp_path: Path, echo_socket: Path) -> None:
    local, remote = tmp_path / "alocal.sock", tmp_path / "aremote.sock"

    async def main() -> tuple[bytes, bytes]:
        async with await aio.connect("target", ssh_config=config_file) as conn:
            async with await conn.forward_local_path(str(local), str(echo_socket)):
                there = await asyncio.to_thread(_ask_unix, local, b"a")
            async with await conn.forward_remote_path(str(remote), str(echo_socket)):
                back = await asyncio.to_thread(_ask_unix, remote, b"b")
            return there, back

    assert asyncio.run(main()) == (b"echo:a", b"echo:b")


def test_config_forwards_are_opt_in(
    config_file: Path, tmp_path: Path, echo_socket: Path, target: Sshd
) -> None:
    local = tmp_path / "cfg-local.sock"
    port = free_port()
    text = config_file.read_text().replace(
        "Host target\n",
        f"Host target\n    LocalForward {local} {echo_socket}\n"
        f"    LocalForward 127.0.0.1:{port} 127.0.0.1:{target.port}\n",
        1,
    )
    config_file.write_text(text)
    with sync.connect("target", ssh_config=config_file) as conn:
        assert not local.exists()  # nothing starts by itself
        forwards = conn.start_config_forwards()
        assert len(forwards) == 2
        assert _ask_unix(local, b"cfg") == b"echo:cfg"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            assert sock.recv(8) == b"SSH-2.0-"
    assert not local.exists()


# -- many hosts -------------------------------------------------------------------------------


def test_run_on_hosts_blocking_one_result_per_host(config_file: Path) -> None:
    dead = ("127.0.0.1", free_port())  # nothing listens there
    hosts: list[sync_multi.Host] = ["target", "hop", dead, "behind", "nobody-knows"]
    seen: list[sync_multi.HostResult] = []
    results = sync_multi.run_on_hosts(
        hosts,
        'test "$LC_GREETING" = hello',  # only "target" sets it: exit 0 there, 1 elsewhere
        limit=2,
        ssh_config=config_file,
        on_result=seen.append,
    )
    assert [r.host for r in results] == hosts
    target, hop_result, unreachable, behind, strict = results
    assert target.ok and target.exit_status == 0
    assert hop_result.error is None and hop_result.exit_status == 1 and not hop_result.ok
    assert behind.exit_status == 1  # through the jump host
    assert isinstance(unreachable.error, ConnectionRefusedError)
    assert isinstance(strict.error, HostKeyUnknown)  # StrictHostKeyChecking, nothing known
    assert sorted(map(str, (r.host for r in seen))) == sorted(map(str, hosts))


def test_run_on_hosts_asyncio(config_file: Path, target: Sshd) -> None:
    hosts: list[aio_multi.Host] = [("target", target.port)] * 6 + [("127.0.0.1", free_port())]
    results = asyncio.run(
        aio_multi.run_on_hosts(hosts, "echo $LC_GREETING", limit=3, ssh_config=config_file)
    )
    assert [r.result.stdout if r.result else None for r in results] == [b"hello\n"] * 6 + [None]
    assert isinstance(results[-1].error, OSError)


# -- agent keys, IdentitiesOnly, ForwardAgent and RequestTTY from the config ----------------


@pytest.fixture
def agent_socket(tmp_path: Path, keydir: Path) -> Iterator[Path]:
    """OpenSSH's ssh-agent holding the login key and an unrelated one."""
    from ssh_agent.sync import AgentClient
    from ssh_keys import generate_private_key

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not sock.exists():
            if agent.poll() is not None:
                raise RuntimeError("ssh-agent exited")
            time.sleep(0.02)
        with AgentClient.connect(sock) as client:
            client.add(generate_private_key("ed25519", comment="unrelated"))
            client.add(read_private_key_file(keydir / "id"))
        yield sock
    finally:
        stop_process(agent)


def _agent_config(config_file: Path, block: str) -> None:
    text = config_file.read_text()
    config_file.write_text(text.replace("Host *\n", block + "\nHost *\n", 1))


def test_agent_keys_from_identity_agent_and_forward_agent(
    config_file: Path, tmp_path: Path, agent_socket: Path, target: Sshd
) -> None:
    _agent_config(
        config_file,
        f"""Host agent-login
    HostName 127.0.0.1
    Port {target.port}
    IdentityFile {tmp_path}/no-such-key
    IdentitiesOnly no
    IdentityAgent {agent_socket}
    ForwardAgent {agent_socket}
""",
    )
    with sync.connect("agent-login", ssh_config=config_file) as conn:
        listed = conn.run("ssh-add -l")
        assert listed.exit_status == 0, listed.stderr
        assert b"unrelated" in listed.stdout  # the forwarded agent, seen from the server


def test_identities_only_filters_agent_keys(
    tmp_path: Path, keydir: Path, agent_socket: Path, target: Sshd
) -> None:
    only_pub = tmp_path / "only_pub"
    Path(f"{only_pub}.pub").write_text(Path(f"{keydir}/id.pub").read_text())
    config = tmp_path / "agent_config"
    config.write_text(
        f"""Host listed
    IdentityFile {only_pub}

Host *
    HostName 127.0.0.1
    Port {target.port}
    User root
    IdentityFile {tmp_path}/no-such-key
    IdentitiesOnly yes
    IdentityAgent {agent_socket}
    UserKnownHostsFile /dev/null
    StrictHostKeyChecking no
"""
    )
    with sync.connect("listed", ssh_config=config) as conn:  # the agent signs for id.pub
        assert conn.run("echo in").stdout == b"in\n"
    with pytest.raises(AuthenticationFailed):  # IdentitiesOnly: agent keys not named
        sync.connect("unlisted", ssh_config=config)
    everything = SSHConfig.from_text(
        config.read_text().replace("IdentitiesOnly yes", "IdentitiesOnly no")
    )
    with sync.connect("unlisted", ssh_config=everything) as conn:  # every agent key
        assert conn.run("echo all").stdout == b"all\n"


def test_request_tty_force_gives_exec_command_a_pty(config_file: Path, target: Sshd) -> None:
    _agent_config(
        config_file,
        f"""Host tty
    HostName 127.0.0.1
    Port {target.port}
    RequestTTY force
""",
    )
    with sync.connect("tty", ssh_config=config_file) as conn:
        _, stdout, _ = conn.exec_command("tty")
        assert stdout.read().startswith(b"/dev/pts/")
    with sync.connect("target", ssh_config=config_file) as conn:
        _, stdout, _ = conn.exec_command("tty")
        assert stdout.read() == b"not a tty\n"


def test_certificate_file_from_config(
    sshd_factory: SshdFactory, tmp_path: Path, keydir: Path
) -> None:
    """CertificateFile: an sshd that trusts only a user CA (no authorized_keys) lets the
    certified key in; the same key without its certificate is refused."""
    d = tmp_path / "cert"
    d.mkdir()
    for name in ("ca", "user"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
        )
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(d / "ca"), "-I", "test-user", "-n", "root",
         "-f", str(d / "user.pub"), str(d / "user.pub")],
        check=True,
    )  # fmt: skip
    (d / "user-cert.pub").rename(d / "elsewhere.cert")  # not beside the key: only CertificateFile
    server = sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile="none",
        TrustedUserCAKeys=str(d / "ca.pub"),
        HostKeyAlgorithms="ssh-ed25519",
    )
    base = f"""Host *
    HostName 127.0.0.1
    Port {server.port}
    User root
    IdentityFile {d / "user"}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile /dev/null
    StrictHostKeyChecking no
"""
    with_cert = SSHConfig.from_text(base + f"    CertificateFile {d / 'elsewhere.cert'}\n")
    with sync.connect("certified", ssh_config=with_cert) as conn:
        assert conn.run("echo cert").stdout == b"cert\n"
    with pytest.raises(AuthenticationFailed):
        sync.connect("plain", ssh_config=SSHConfig.from_text(base))
