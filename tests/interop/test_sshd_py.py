"""sshd-py interop: OpenSSH's ssh, sftp and a ProxyCommand against ``sshd-py`` started the
way sshd is started (``-D -e -f cfg``, ``-i``, ``-t``, ``-T``, daemon mode, the default).

One ``sshd-py -D`` serves most tests: its config gives each behaviour its own port with a
``Match LocalPort`` block (forced command, DenyUsers, AllowUsers), since sshd-py only
serves the user running it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from openssh_tools import SSH, close_listener, free_port, run_keygen, stop_process

pytestmark = [pytest.mark.interop]

SSHD_PY = [sys.executable, "-m", "ssh_connection"]
ME = getpass.getuser()


def _wait_listening(port: int, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"sshd-py exited: {log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("sshd-py did not start listening")
        time.sleep(0.02)


def _wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + 60
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class SshdPy:
    directory: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def log(self) -> Path:
        return self.directory / "sshd.log"

    @property
    def identity(self) -> Path:
        return self.directory / "id"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def ssh(
        self,
        *command: str,
        port: str = "main",
        user: str = ME,
        extra: Sequence[str] = (),
        input: bytes | None = None,
        identity: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        # extra first: ssh takes the first value of an option
        argv = [SSH, "-F", "/dev/null", *extra, *client_options(identity or self.identity)]
        if port:
            argv += ["-p", str(self.ports[port])]
        argv += [f"{user}@127.0.0.1", *command]
        return subprocess.run(
            argv,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
            env=env,
        )


def client_options(identity: Path) -> list[str]:
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "no",
        "UserKnownHostsFile": "/dev/null",
        "GlobalKnownHostsFile": "/dev/null",
        "IdentitiesOnly": "yes",
        "IdentityFile": str(identity),
        "IdentityAgent": "none",
        "ConnectTimeout": "30",
        "LogLevel": "ERROR",
    }
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def write_config(directory: Path, ports: dict[str, int], **extra: str) -> Path:
    run_keygen("-t", "ed25519", "-N", "", "-f", directory / "host_ed25519")
    if not (directory / "id").exists():
        run_keygen("-t", "ed25519", "-N", "", "-f", directory / "id")
    (directory / "authorized_keys").write_text((directory / "id.pub").read_text())
    lines = [f"Port {port}" for port in ports.values()]
    if "restricted" in ports:  # the module's server: revoked keys, a user CA, env
        for name in ("id_revoked", "id_cert", "ca"):
            run_keygen("-t", "ed25519", "-N", "", "-f", directory / name)
        run_keygen("-s", directory / "ca", "-I", "test-cert", "-n", ME, directory / "id_cert.pub")
        keys = (directory / "id.pub").read_text() + (directory / "id_revoked.pub").read_text()
        (directory / "authorized_keys").write_text(keys)
        (directory / "revoked").write_text((directory / "id_revoked.pub").read_text())
        (directory / "banner").write_text("Welcome to the restricted port\n")
        lines += [
            f"RevokedKeys {directory / 'revoked'}",
            f"TrustedUserCAKeys {directory / 'ca.pub'}",
            "AcceptEnv LC_SSHD_PY_*",
        ]
    lines += [
        "ListenAddress 127.0.0.1",
        f"HostKey {directory / 'host_ed25519'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        "StrictModes no",
        f"PidFile {directory / 'sshd.pid'}",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        *(f"{key} {value}" for key, value in extra.items()),
    ]
    if "forced" in ports:
        lines += [
            f"Match LocalPort {ports['forced']}",
            '  ForceCommand echo "forced:$SSH_ORIGINAL_COMMAND"',
        ]
    if "restricted" in ports:
        lines += [
            f"Match LocalPort {ports['restricted']}",
            "  PermitTTY no",
            "  AllowTcpForwarding no",
            "  SetEnv FROM_CONFIG=set-by-sshd-py",
            "  AcceptEnv LC_MATCHED_*",
            f"  Banner {directory / 'banner'}",
        ]
    if "deny" in ports:
        lines += [f"Match LocalPort {ports['deny']}", f"  DenyUsers {ME}"]
    if "allow" in ports:
        lines += [f"Match LocalPort {ports['allow']}", "  AllowUsers someone-else"]
    config = directory / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.fixture(scope="module")
def sshd_py(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdPy]:
    directory = tmp_path_factory.mktemp("sshd-py")
    names = ("main", "forced", "restricted", "deny", "allow")
    ports = {name: free_port() for name in names}
    server = SshdPy(directory, ports)
    write_config(directory, ports)
    with server.log.open("wb") as log:
        server.process = subprocess.Popen(
            [*SSHD_PY, "-D", "-e", "-f", str(server.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        for port in ports.values():
            _wait_listening(port, server.process, server.log)
        yield server
    finally:
        stop_process(server.process)


def fingerprint(public_key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(public_key)], capture_output=True, check=True, text=True
    ).stdout
    return out.split()[1]


# -- the command is installed --------------------------------------------------------------


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "sshd-py"
    assert script.exists(), "pip install ssh-connection should install sshd-py"


# -- sessions through -D -------------------------------------------------------------------


def test_exec_returns_output_and_exit_status(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("echo hello; echo oops >&2; exit 3")
    assert (result.stdout, result.returncode) == (b"hello\n", 3), result.stderr
    assert b"oops\n" in result.stderr


def test_success_is_logged_as_sshd_logs_it(sshd_py: SshdPy) -> None:
    assert sshd_py.ssh("true").returncode == 0
    key = fingerprint(sshd_py.directory / "id.pub")
    pattern = (
        rf"Accepted publickey for {re.escape(ME)} from 127\.0\.0\.1 port \d+ "
        rf"ssh2: ED25519 {re.escape(key)}"
    )
    _wait_for(lambda: re.search(pattern, sshd_py.log_text()), "the Accepted line")


def test_pty_runs_a_login_shell(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh(input=b"tty; echo $((6*7)); exit 4\n", extra=["-tt"])
    assert result.returncode == 4, result.stderr
    assert b"/dev/pts/" in result.stdout and b"42" in result.stdout


def first_bytes_through_forward(sshd_py: SshdPy, port: str) -> bytes:
    """Start ``ssh -L`` on ``port`` to sshd-py's main port; what a connection reads."""
    local = free_port()
    forward = f"{local}:127.0.0.1:{sshd_py.ports['main']}"
    argv = [SSH, "-F", "/dev/null", *client_options(sshd_py.identity), "-N"]
    argv += ["-L", forward, "-p", str(sshd_py.ports[port])]
    process = subprocess.Popen([*argv, f"{ME}@127.0.0.1"], stdin=subprocess.DEVNULL)
    try:
        _wait_listening(local, process, sshd_py.log)
        with socket.create_connection(("127.0.0.1", local), timeout=30) as sock:
            try:
                return sock.recv(8)
            except ConnectionResetError:
                return b""  # ssh may reset a refused tunnel's connection
    finally:
        stop_process(process)


def test_local_forwarding(sshd_py: SshdPy) -> None:
    # sshd-py's own banner, through the tunnel
    assert first_bytes_through_forward(sshd_py, "main") == b"SSH-2.0-"


def test_allow_tcp_forwarding_no_refuses_the_tunnel(sshd_py: SshdPy) -> None:
    assert first_bytes_through_forward(sshd_py, "restricted") == b""


def test_permit_tty_no_refuses_the_pty(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("tty", port="restricted", extra=["-tt"])
    # ssh -tt treats a refused pty as fatal (sshd does refuse it the same way).
    assert b"PTY allocation request failed" in result.stderr
    assert result.returncode == 255 and b"/dev/pts" not in result.stdout


def test_setenv_and_banner(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("echo $FROM_CONFIG", port="restricted", extra=["-o", "LogLevel=INFO"])
    assert (result.stdout, result.returncode) == (b"set-by-sshd-py\n", 0), result.stderr
    assert b"Welcome to the restricted port" in result.stderr


def test_accept_env_passes_listed_variables_only(sshd_py: SshdPy) -> None:
    env = {**os.environ, "LC_SSHD_PY_A": "passed", "LC_OTHER_B": "dropped"}
    result = sshd_py.ssh(
        'echo "$LC_SSHD_PY_A/$LC_OTHER_B"',
        extra=["-o", "SendEnv=LC_SSHD_PY_A LC_OTHER_B"],
        env=env,
    )
    assert result.stdout == b"passed/\n", result.stderr


def test_accept_env_in_a_match_block_applies_to_its_connections(sshd_py: SshdPy) -> None:
    env = {**os.environ, "LC_MATCHED_A": "matched"}
    options = ["-o", "SendEnv=LC_MATCHED_A"]
    matched = sshd_py.ssh('echo "$LC_MATCHED_A"', port="restricted", extra=options, env=env)
    assert matched.stdout == b"matched\n", matched.stderr
    unmatched = sshd_py.ssh('echo "$LC_MATCHED_A"', extra=options, env=env)
    assert unmatched.stdout == b"\n", unmatched.stderr


def test_revoked_key_is_refused(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("true", identity=sshd_py.directory / "id_revoked")
    assert result.returncode == 255
    _wait_for(lambda: "revoked by file" in sshd_py.log_text(), "the revocation line")


def test_user_certificate_from_trusted_ca(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("echo certified", identity=sshd_py.directory / "id_cert")
    assert (result.stdout, result.returncode) == (b"certified\n", 0), result.stderr
    _wait_for(lambda: "ED25519-CERT" in sshd_py.log_text(), "the certificate's Accepted line")


def test_sftp_through_internal_sftp(sshd_py: SshdPy, tmp_path: Path) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    source.write_bytes(os.urandom(100_000))
    argv = ["sftp", "-F", "/dev/null", *client_options(sshd_py.identity)]
    argv += ["-P", str(sshd_py.ports["main"]), "-b", "-", f"{ME}@127.0.0.1"]
    batch = f"put {source} {copy}\n".encode()
    result = subprocess.run(argv, input=batch, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert copy.read_bytes() == source.read_bytes()


def test_another_user_is_refused_and_logged(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("true", user="nobody-at-all")
    assert result.returncode == 255
    assert b"Permission denied" in result.stderr
    _wait_for(
        lambda: (
            "refusing login as 'nobody-at-all'" in sshd_py.log_text()
            and "cannot switch users" in sshd_py.log_text()
        ),
        "the refusal line",
    )


def test_forced_command_replaces_the_command(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("echo asked", port="forced")
    assert (result.stdout, result.returncode) == (b"forced:echo asked\n", 0), result.stderr


def test_deny_users_refuses(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("true", port="deny")
    assert result.returncode == 255
    _wait_for(lambda: "listed in DenyUsers" in sshd_py.log_text(), "the DenyUsers line")


def test_allow_users_refuses_the_unlisted(sshd_py: SshdPy) -> None:
    result = sshd_py.ssh("true", port="allow")
    assert result.returncode == 255
    _wait_for(lambda: "not listed in AllowUsers" in sshd_py.log_text(), "the AllowUsers line")


# -- -i through a ProxyCommand --------------------------------------------------------------


def test_inetd_mode_through_proxy_command(sshd_py: SshdPy) -> None:
    log = sshd_py.directory / "inetd.log"
    proxy = " ".join([*SSHD_PY, "-i", "-f", str(sshd_py.config), f"-E{log}"])
    result = sshd_py.ssh("echo via-i; exit 7", port="", extra=["-o", f"ProxyCommand={proxy}"])
    assert (result.stdout, result.returncode) == (b"via-i\n", 7), result.stderr
    assert f"Accepted publickey for {ME} from UNKNOWN port 65535" in log.read_text()


# -- -t, -T, -o ---------------------------------------------------------------------------


def run_sshd_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SSHD_PY, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_check_accepts_a_good_config(sshd_py: SshdPy) -> None:
    result = run_sshd_py("-t", "-f", str(sshd_py.config))
    assert result.returncode == 0, result.stderr


def test_check_names_file_and_line_of_a_bad_keyword(tmp_path: Path) -> None:
    config = tmp_path / "bad_config"
    config.write_text("Port 2222\nNoSuchKeyword yes\n")
    result = run_sshd_py("-t", "-f", str(config))
    assert result.returncode == 1
    assert f"{config}: line 2: Bad configuration option: NoSuchKeyword" in result.stderr


def test_check_refuses_a_bad_option(sshd_py: SshdPy) -> None:
    result = run_sshd_py("-t", "-f", str(sshd_py.config), "-o", "MaxAuthTries=many")
    assert result.returncode == 1
    assert "command-line: line 0:" in result.stderr


def test_check_fails_without_a_host_key(tmp_path: Path) -> None:
    config = tmp_path / "nokeys"
    config.write_text(f"HostKey {tmp_path}/missing\n")
    result = run_sshd_py("-t", "-f", str(config))
    assert result.returncode == 1
    assert "no hostkeys available" in result.stderr


def test_print_config_with_overrides(sshd_py: SshdPy) -> None:
    result = run_sshd_py(
        "-T", "-f", str(sshd_py.config), "-o", "MaxAuthTries=3", "-oLoginGraceTime=7"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "maxauthtries 3" in lines and "logingracetime 7" in lines
    assert f"port {sshd_py.ports['main']}" in lines


def test_print_config_for_a_connection(sshd_py: SshdPy) -> None:
    spec = f"user={ME},host=h,addr=127.0.0.1,laddr=127.0.0.1,lport={sshd_py.ports['forced']}"
    result = run_sshd_py("-T", "-f", str(sshd_py.config), "-C", spec)
    assert result.returncode == 0, result.stderr
    assert 'forcecommand echo "forced:$SSH_ORIGINAL_COMMAND"' in result.stdout.splitlines()


# -- daemon mode and the default mode ------------------------------------------------------


@pytest.mark.slow
def test_daemon_writes_pid_file_and_removes_it_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, {"main": port})
    # No ListenAddress: sshd-py listens on loopback only, and says so.
    config.write_text(config.read_text().replace("ListenAddress 127.0.0.1\n", ""))
    log = tmp_path / "daemon.log"
    result = run_sshd_py("-f", str(config), "-E", str(log))
    assert result.returncode == 0, result.stderr  # returns once the daemon listens
    pid_file = tmp_path / "sshd.pid"
    pid = int(pid_file.read_text())
    try:
        _wait_listening(port, None, log)
        text = log.read_text()
        assert f"Server listening on 127.0.0.1 port {port}." in text
        assert "0.0.0.0" not in text and "::" not in text
    finally:
        os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not pid_file.exists(), "the PidFile to go")

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    _wait_for(gone, "the daemon to exit")
    assert "Received signal 15; terminating." in log.read_text()


@pytest.mark.slow
def test_default_mode_generates_host_keys_once_and_serves_loopback(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_keygen("-t", "ed25519", "-N", "", "-f", tmp_path / "id")
    (tmp_path / "authorized_keys").write_text((tmp_path / "id.pub").read_text())
    port = free_port()
    log = tmp_path / "default.log"
    args = ["--state-dir", str(state), "-p", str(port), "-o", "StrictModes=no"]
    args += ["-o", f"AuthorizedKeysFile={tmp_path / 'authorized_keys'}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SSHD_PY, "-D", "-e", *args], stdin=subprocess.DEVNULL, stderr=out
        )
    try:
        _wait_listening(port, process, log)
        names = sorted(p.name for p in state.iterdir())
        assert names == [
            "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub",
            "ssh_host_rsa_key", "ssh_host_rsa_key.pub",
        ]  # fmt: skip
        for name in ("ssh_host_ed25519_key", "ssh_host_rsa_key"):
            assert (state / name).stat().st_mode & 0o777 == 0o600
        server = SshdPy(tmp_path, {"main": port})
        result = server.ssh("echo default")
        assert (result.stdout, result.returncode) == (b"default\n", 0), result.stderr
        assert f"Server listening on 127.0.0.1 port {port}." in log.read_text()
    finally:
        stop_process(process)
    keys = {p.name: p.read_bytes() for p in state.iterdir()}
    again = run_sshd_py("-t", *args)  # a second start keeps the keys
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in state.iterdir()} == keys
    rsa = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(state / "ssh_host_rsa_key.pub")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert rsa.stdout.startswith("3072 ")


@pytest.mark.slow
def test_default_mode_state_dir_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "SSHD_PY_STATE_DIR": str(tmp_path / "env-state")}
    result = run_sshd_py("-t", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-state" / "ssh_host_ed25519_key").exists()


# -- configured algorithms and limits, through -i -----------------------------------------


def proxy(sshd_py: SshdPy, *options: str) -> list[str]:
    command = " ".join([*SSHD_PY, "-i", "-f", str(sshd_py.config), *options])
    return ["-o", f"ProxyCommand={command}"]


def test_configured_cipher_list_is_what_is_offered(sshd_py: SshdPy) -> None:
    only_ctr = proxy(sshd_py, "-o", "Ciphers=aes128-ctr")
    ok = sshd_py.ssh("echo ctr", port="", extra=[*only_ctr, "-o", "Ciphers=aes128-ctr"])
    assert (ok.stdout, ok.returncode) == (b"ctr\n", 0), ok.stderr
    refused = sshd_py.ssh(
        "true",
        port="",
        extra=[*only_ctr, "-o", "Ciphers=chacha20-poly1305@openssh.com", "-o", "LogLevel=INFO"],
    )
    assert refused.returncode == 255
    assert b"cipher" in refused.stderr  # whichever side notices first says so


def test_login_grace_time_ends_a_silent_connection(sshd_py: SshdPy) -> None:
    log = sshd_py.directory / "grace.log"
    process = subprocess.Popen(
        [*SSHD_PY, "-i", "-f", str(sshd_py.config), "-g", "1", "-E", str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    # The client never sends its version line: sshd-py must give up by itself.
    assert process.stdout.readline().startswith(b"SSH-2.0-")
    assert process.wait(timeout=60) == 255  # no login: sshd -i fails too
    process.stdin.close()
    process.stdout.close()
    assert "[preauth]" in log.read_text()


@pytest.mark.parametrize("keyword", ["MaxStartups", "PerSourceMaxStartups"])
def test_max_startups_drops_connections_past_the_limit(tmp_path: Path, keyword: str) -> None:
    port = free_port()
    config = write_config(tmp_path, {"main": port}, **{keyword: "1"})
    log = tmp_path / "startups.log"
    process = subprocess.Popen(
        [*SSHD_PY, "-D", "-f", str(config), "-E", str(log)], stdin=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, process, log)  # that probe may count until it is gone
        _wait_for(lambda: "[preauth]" in log.read_text(), "the probe to be gone")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as first:
            assert first.recv(8) == b"SSH-2.0-"  # served, and never authenticates
            with socket.create_connection(("127.0.0.1", port), timeout=30) as second:
                assert second.recv(8) == b""  # dropped: one unauthenticated is the limit
        _wait_for(lambda: "past MaxStartups" in log.read_text(), "the drop line")
    finally:
        stop_process(process)


def test_nist_ecdh_is_offered_only_when_configured(sshd_py: SshdPy) -> None:
    nist = ["-o", "KexAlgorithms=ecdh-sha2-nistp256", "-o", "LogLevel=INFO"]
    refused = sshd_py.ssh("true", port="", extra=[*proxy(sshd_py), *nist])
    assert refused.returncode == 255 and b"key exchange" in refused.stderr
    configured = proxy(sshd_py, "-o", "KexAlgorithms=ecdh-sha2-nistp256")
    ok = sshd_py.ssh("echo nist", port="", extra=[*configured, *nist])
    assert (ok.stdout, ok.returncode) == (b"nist\n", 0), ok.stderr


def test_host_certificate_is_offered(sshd_py: SshdPy) -> None:
    d = sshd_py.directory
    run_keygen("-s", d / "ca", "-h", "-I", "host", "-n", "127.0.0.1", d / "host_ed25519.pub")
    known = d / "known_hosts_ca"
    known.write_text(f"@cert-authority * {(d / 'ca.pub').read_text().strip()}\n")
    server = proxy(sshd_py, "-o", f"HostCertificate={d / 'host_ed25519-cert.pub'}")
    client = ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
    client += ["-o", "HostKeyAlgorithms=ssh-ed25519-cert-v01@openssh.com"]
    result = sshd_py.ssh("echo cert-host", port="", extra=[*server, *client])
    assert (result.stdout, result.returncode) == (b"cert-host\n", 0), result.stderr


def test_authentication_methods_can_require_two_keys(sshd_py: SshdPy) -> None:
    log = sshd_py.directory / "two-keys.log"
    server = proxy(sshd_py, "-o", "AuthenticationMethods=publickey,publickey", f"-E{log}")
    one = sshd_py.ssh("true", port="", extra=server)
    assert one.returncode == 255
    second_key = ["-o", f"IdentityFile={sshd_py.directory / 'id_cert'}"]
    two = sshd_py.ssh("echo both", port="", extra=[*server, *second_key])
    assert (two.stdout, two.returncode) == (b"both\n", 0), two.stderr
    assert "Partial publickey for " in log.read_text()


def test_rsa_user_certificate_passes_the_default_accepted_algorithms(sshd_py: SshdPy) -> None:
    d = sshd_py.directory
    run_keygen("-t", "rsa", "-b", "2048", "-N", "", "-f", d / "id_rsa_cert")
    run_keygen("-s", d / "ca", "-I", "rsa-cert", "-n", ME, d / "id_rsa_cert.pub")
    result = sshd_py.ssh("echo rsa-cert", identity=d / "id_rsa_cert")
    assert (result.stdout, result.returncode) == (b"rsa-cert\n", 0), result.stderr


def test_debug_mode_serves_one_connection_then_exits(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, {"main": port})
    log = tmp_path / "debug.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SSHD_PY, "-d", "-f", str(config)], stdin=subprocess.DEVNULL, stderr=out
        )
    try:
        _wait_listening(port, process, log)  # the probe is the one connection...
        assert process.wait(timeout=60) == 0  # ...and then sshd-py -d is done
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "debug1: " in text and not (tmp_path / "sshd.pid").exists()


def test_client_alive_interval_sends_keepalives(sshd_py: SshdPy) -> None:
    server = proxy(sshd_py, "-o", "ClientAliveInterval=1")
    result = sshd_py.ssh("sleep 2.5; echo alive", port="", extra=[*server, "-vvv"])
    assert (result.stdout, result.returncode) == (b"alive\n", 0), result.stderr
    assert b"rtype keepalive@openssh.com want_reply 1" in result.stderr


def test_force_command_internal_sftp_serves_sftp(sshd_py: SshdPy, tmp_path: Path) -> None:
    (tmp_path / "remote").write_text("served by a forced internal-sftp\n")
    command = " ".join([*SSHD_PY, "-i", "-f", str(sshd_py.config)])
    argv = ["sftp", "-F", "/dev/null", *client_options(sshd_py.identity), "-b", "-"]
    argv += ["-o", f"ProxyCommand={command} -o ForceCommand=internal-sftp", f"{ME}@x"]
    batch = f"get {tmp_path / 'remote'} {tmp_path / 'local'}\n".encode()
    result = subprocess.run(argv, input=batch, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "local").read_text() == "served by a forced internal-sftp\n"
    # and a forced internal-sftp is all the session can do
    shell = sshd_py.ssh(
        "echo not-sftp",
        port="",
        extra=["-o", f"ProxyCommand={command} -o ForceCommand=internal-sftp"],
    )
    assert b"not-sftp" not in shell.stdout


def _sftp_through(sshd_py: SshdPy, options: str, batch: str) -> subprocess.CompletedProcess[bytes]:
    command = " ".join([*SSHD_PY, "-i", "-f", str(sshd_py.config), options])
    argv = ["sftp", "-F", "/dev/null", *client_options(sshd_py.identity), "-b", "-"]
    argv += ["-o", f"ProxyCommand={command}", f"{ME}@x"]
    return subprocess.run(argv, input=batch.encode(), capture_output=True, timeout=60,
                          check=False)  # fmt: skip


def test_internal_sftp_flags_apply(sshd_py: SshdPy, tmp_path: Path) -> None:
    (tmp_path / "kept").write_text("kept\n")
    read_only = "-o 'ForceCommand=internal-sftp -R'"
    got = _sftp_through(sshd_py, read_only, f"put {tmp_path / 'kept'} {tmp_path / 'new'}\n")
    assert got.returncode != 0 and not (tmp_path / "new").exists()
    no_remove = "-o 'ForceCommand=internal-sftp -P remove'"
    got = _sftp_through(sshd_py, no_remove, f"rm {tmp_path / 'kept'}\n")
    assert got.returncode != 0 and (tmp_path / "kept").exists()
    start = f"-o 'ForceCommand=internal-sftp -d {tmp_path}'"
    got = _sftp_through(sshd_py, start, f"get kept {tmp_path / 'copy'}\n")  # relative: -d
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "copy").read_text() == "kept\n"
    got = _sftp_through(sshd_py, "-o 'ForceCommand=internal-sftp -u 022'", "ls\n")
    assert got.returncode != 0 and b"umask would be the whole server's" in got.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a ChrootDirectory must be owned by root")
def test_chroot_directory_confines_internal_sftp(sshd_py: SshdPy, tmp_path: Path) -> None:
    jail = Path(tempfile.mkdtemp(dir="/run", prefix="sshd-py-chroot-"))  # root's, 0700
    try:
        (jail / "inside").write_text("in the jail\n")
        options = f"-o ChrootDirectory={jail} -o 'ForceCommand=internal-sftp -d /'"
        got = _sftp_through(sshd_py, options, f"get /inside {tmp_path / 'copy'}\n")
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "copy").read_text() == "in the jail\n"
        # "/" is the jail's: the real /etc is not there, nor reachable through ".."
        for path in ("/etc/hostname", "../../etc/hostname", f"{jail}/inside"):
            got = _sftp_through(sshd_py, options, f"get {path} {tmp_path / 'x'}\n")
            assert got.returncode != 0 and not (tmp_path / "x").exists(), path
    finally:
        shutil.rmtree(jail)


def test_chroot_directory_refuses_what_it_cannot_confine(sshd_py: SshdPy, tmp_path: Path) -> None:
    # A directory others may write to (tmp_path's /tmp), as sshd: refused.
    options = f"-o ChrootDirectory={tmp_path} -o ForceCommand=internal-sftp"
    got = _sftp_through(sshd_py, options, "ls /\n")
    assert got.returncode != 0
    assert b"bad ownership or modes for chroot directory component" in got.stderr
    # A command or a shell: sshd-py confines internal-sftp only, and says so.
    command = " ".join([*SSHD_PY, "-i", "-f", str(sshd_py.config), "-o ChrootDirectory=/"])
    shell = sshd_py.ssh("echo escaped", port="", extra=["-o", f"ProxyCommand={command}"])
    assert b"escaped" not in shell.stdout
    assert b"confines internal-sftp sessions only" in shell.stderr


# -- forwarding switches, host key rotation and timeouts, through -i ---------------------


def test_agent_forwarding_reaches_the_remote_command(sshd_py: SshdPy, tmp_path: Path) -> None:
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        _wait_for(socket_path.exists, "ssh-agent's socket")
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", str(sshd_py.identity)], env=env, check=True)
        forwarded = proxy(sshd_py, "-o", "AllowAgentForwarding=yes")
        extra = [*forwarded, "-A", "-o", f"IdentityAgent={socket_path}"]
        result = sshd_py.ssh("ssh-add -l", port="", extra=extra, env=env)
        assert result.returncode == 0, result.stderr
        assert fingerprint(sshd_py.identity.with_suffix(".pub")).encode() in result.stdout
        refused = proxy(sshd_py, "-o", "AllowAgentForwarding=no")
        result = sshd_py.ssh(
            "echo ${SSH_AUTH_SOCK:-none}", port="", extra=[*refused, "-A"], env=env
        )
        assert result.stdout == b"none\n", result.stderr
    finally:
        stop_process(agent)


def test_x11_forwarding_sets_display_only_when_allowed(sshd_py: SshdPy) -> None:
    env = {**os.environ, "DISPLAY": "127.0.0.1:97"}  # ssh -Y only needs one to forward
    command = "echo ${DISPLAY:-none}"
    allowed = sshd_py.ssh(
        command, port="", extra=[*proxy(sshd_py, "-o", "X11Forwarding=yes"), "-Y"], env=env
    )
    assert re.fullmatch(rb"localhost:\d+\.0\n|127\.0\.0\.1:\d+\.0\n", allowed.stdout), (
        allowed.stdout,
        allowed.stderr,
    )
    default = sshd_py.ssh(command, port="", extra=[*proxy(sshd_py), "-Y"], env=env)
    assert default.stdout == b"none\n", default.stderr  # X11Forwarding defaults to no


def _unix_server(path: Path, greeting: bytes) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)

    def serve() -> None:  # every connection: waiting for the port makes one too
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.sendall(greeting)

    import threading

    threading.Thread(target=serve, daemon=True).start()
    return server


def _through_socket_forward(sshd_py: SshdPy, tmp_path: Path, setting: str) -> bytes:
    remote = tmp_path / f"remote-{setting}.sock"
    server = _unix_server(remote, b"unix-ok")
    local = free_port()
    argv = [SSH, "-F", "/dev/null", *proxy(sshd_py, "-o", f"AllowStreamLocalForwarding={setting}")]
    argv += [*client_options(sshd_py.identity), "-N", "-L", f"{local}:{remote}"]
    process = subprocess.Popen([*argv, f"{ME}@127.0.0.1"], stdin=subprocess.DEVNULL)
    try:
        _wait_listening(local, process, sshd_py.log)
        with socket.create_connection(("127.0.0.1", local), timeout=120) as sock:
            try:
                return sock.recv(16)
            except ConnectionResetError:
                return b""
    finally:
        close_listener(server)
        stop_process(process)


@pytest.mark.parametrize(("setting", "expected"), [("yes", b"unix-ok"), ("remote", b"")])
def test_allow_streamlocal_forwarding(
    sshd_py: SshdPy, tmp_path: Path, setting: str, expected: bytes
) -> None:
    assert _through_socket_forward(sshd_py, tmp_path, setting) == expected


def test_update_host_keys_learns_every_host_key(sshd_py: SshdPy, tmp_path: Path) -> None:
    run_keygen("-t", "rsa", "-b", "2048", "-N", "", "-f", tmp_path / "host_rsa")
    run_keygen("-t", "ecdsa", "-N", "", "-f", tmp_path / "host_ecdsa")
    known = tmp_path / "known_hosts"
    line = (sshd_py.directory / "host_ed25519.pub").read_text().split()
    known.write_text(f"sshd-py {line[0]} {line[1]}\n")
    options = proxy(
        sshd_py, "-h", str(sshd_py.directory / "host_ed25519"), "-h", str(tmp_path / "host_rsa"),
        "-h", str(tmp_path / "host_ecdsa"),
    )  # fmt: skip
    options += [
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UpdateHostKeys=yes",
        "-o",
        "HostKeyAlias=sshd-py",
    ]  # fmt: skip (ssh prefers the algorithm known_hosts has: ed25519)
    result = sshd_py.ssh("true", port="", extra=options)
    assert result.returncode == 0, result.stderr
    learned = {entry.split()[1] for entry in known.read_text().splitlines() if entry.strip()}
    assert learned == {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"}


def test_channel_timeout_closes_an_idle_command(sshd_py: SshdPy) -> None:
    idle = proxy(sshd_py, "-o", "ChannelTimeout=session:command=1")
    # Long enough that only the timeout ends it in time (even under load).
    result = sshd_py.ssh("sleep 20; exit 23", port="", extra=idle)
    assert result.returncode == 255, result.stderr  # closed without an exit status
    other = proxy(sshd_py, "-o", "ChannelTimeout=session:shell=1")
    result = sshd_py.ssh("sleep 2; exit 23", port="", extra=other)
    assert result.returncode == 23, result.stderr


def test_unused_connection_timeout_ends_a_connection_without_channels(sshd_py: SshdPy) -> None:
    unused = proxy(sshd_py, "-o", "UnusedConnectionTimeout=1")
    result = sshd_py.ssh(port="", extra=[*unused, "-N"])  # would wait forever
    assert result.returncode == 255, result.stderr


# -- a protocol 1 client, config errors in -i mode ------------------------------------------


def test_inetd_mode_exits_255_for_a_protocol_1_client(sshd_py: SshdPy) -> None:
    result = subprocess.run(
        [*SSHD_PY, "-i", "-f", str(sshd_py.config)],
        input=b"SSH-1.5-HALLO\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 255, result.stderr
    assert result.stdout.startswith(b"SSH-2.0-")


def test_the_daemon_drops_a_protocol_1_client_and_serves_on(sshd_py: SshdPy) -> None:
    with socket.create_connection(("127.0.0.1", sshd_py.ports["main"]), timeout=60) as sock:
        sock.sendall(b"SSH-1.5-HALLO\r\n")
        received = b""
        while chunk := sock.recv(65536):  # until the server closes: no hang
            received += chunk
    assert received.startswith(b"SSH-2.0-")
    result = sshd_py.ssh("echo still-serving")
    assert result.stdout == b"still-serving\n", result.stderr


def test_inetd_mode_config_error_goes_to_the_log_file(tmp_path: Path) -> None:
    config = tmp_path / "bad_config"
    config.write_text("Port 2222\nNoSuchKeyword yes\n")
    log = tmp_path / "sshd.log"
    result = run_sshd_py("-i", "-f", str(config), "-E", str(log))
    assert result.returncode == 255
    assert f"{config}: line 2: Bad configuration option: NoSuchKeyword" in log.read_text()
