"""ssh-audit (from PyPI, a test dependency) against our servers and our client.

Defaults keep what interoperability needs: ssh-audit may warn of them (curve25519 and the
finite-field groups are not post-quantum) but fails nothing on the servers; our client's
defaults also offer ECDH and ECDSA on the NIST curves, as OpenSSH's ssh does, which
ssh-audit fails, and nothing else. The hardened preset (ssh_transport.presets.hardened,
with a per-source rate limit on the server) gets no failure and no warning, its DHEat
connection-rate test included.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openssh_tools import free_port, stop_process

from ssh_auth import StandardPolicy
from ssh_connection.sync import connect
from ssh_connection.sync_server import SSHServer
from ssh_keys import generate_private_key
from ssh_transport import TransportConfig, presets
from ssh_transport.presets import hardened

pytestmark = [pytest.mark.interop, pytest.mark.slow]

SSH_AUDIT = str(Path(sys.executable).with_name("ssh-audit"))
SSHD_PY = [sys.executable, "-m", "ssh_connection"]


# ssh-audit's exit status: 0 nothing to report, 2 warnings, 3 failures (1: it could not
# connect).
GOOD, WARNINGS = 0, 2


def audit(port: int, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [SSH_AUDIT, "-j", "-p", str(port), *extra, "127.0.0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.startswith("{"), (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    result: dict[str, Any] = json.loads(out.stdout)
    result["returncode"] = out.returncode
    return result


def findings(result: dict[str, Any], level: str) -> set[str]:
    """The algorithms ssh-audit gives a ``level`` ("fail" or "warn") note."""
    return {
        f"{section}:{entry['algorithm']}"
        for section in ("kex", "key", "enc", "mac")
        for entry in result.get(section, [])
        if entry.get("notes", {}).get(level)
    }


def dheat_notes(result: dict[str, Any]) -> list[str]:
    return [n for n in result.get("additional_notes", []) if "DHEat" in n]


def _wait_listening(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process is None or process.poll() is None, "the program exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        assert time.monotonic() < deadline, f"nothing listens on port {port}"
        time.sleep(0.05)


# -- our library server -------------------------------------------------------------------


def _host_keys() -> list[Any]:
    return [generate_private_key("ed25519"), generate_private_key("rsa", 3072)]


def _refuse_all() -> StandardPolicy:
    return StandardPolicy(password=lambda user, password: False)


@pytest.fixture(scope="module")
def host_keys() -> list[Any]:
    return _host_keys()


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[int]:
    server = SSHServer(options.pop("host_keys"), _refuse_all(), **options)
    server.listen("127.0.0.1", 0)
    try:
        yield server.port
    finally:
        server.close()


def test_our_server_defaults_fail_nothing(host_keys: list[Any]) -> None:
    with serving(host_keys=host_keys) as port:
        result = audit(port, "--skip-rate-test")
    assert findings(result, "fail") == set()
    assert result["returncode"] == WARNINGS  # curve25519 and FFDH are not post-quantum


def test_our_server_hardened_is_clean(host_keys: list[Any]) -> None:
    with serving(host_keys=host_keys, config=hardened(), per_source_rate=(5.0, 10)) as port:
        result = audit(port)
    assert findings(result, "fail") == set()
    assert findings(result, "warn") == set()
    assert dheat_notes(result) == []
    assert {e["algorithm"] for e in result["kex"]} >= {"mlkem768x25519-sha256"}
    assert result["returncode"] == GOOD


def test_without_a_rate_limit_the_dheat_test_fires(host_keys: list[Any]) -> None:
    """The rate test above can fail: the same server without the limit is reported."""
    with serving(host_keys=host_keys, config=hardened()) as port:
        result = audit(port)
    assert len(dheat_notes(result)) == 1


def test_hardened_server_still_serves_openssh(host_keys: list[Any], tmp_path: Path) -> None:
    """Debian 12's ssh (OpenSSH 9.2) gets in with the hardened lists (sntrup761)."""
    with serving(host_keys=host_keys, config=hardened(), per_source_rate=(5.0, 10)) as port:
        out = subprocess.run(
            ["ssh", "-F", "none", "-p", str(port), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={tmp_path}/kh",
             "-v", "nobody@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert "kex: algorithm: sntrup761x25519-sha512" in out.stderr, out.stderr[-3000:]
    assert "Permission denied" in out.stderr  # got as far as authentication


# -- sshd-py --------------------------------------------------------------------------------


HARDENED_SSHD_CONFIG = "".join(
    f"{keyword} {','.join(names)}\n"
    for keyword, names in (
        ("KexAlgorithms", presets.HARDENED_KEX_ALGORITHMS),
        ("HostKeyAlgorithms", presets.HARDENED_HOST_KEY_ALGORITHMS),
        ("Ciphers", presets.HARDENED_CIPHERS),
        ("MACs", presets.HARDENED_MACS),
    )
)


@contextlib.contextmanager
def sshd_py(tmp_path: Path, config: str) -> Iterator[int]:
    port = free_port()
    keys = []
    for kind, bits in (("ed25519", "256"), ("rsa", "3072")):
        keys.append(tmp_path / f"host_{kind}")
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-b", bits, "-N", "", "-f", str(keys[-1])],
                       check=True, timeout=60)  # fmt: skip
    conf = tmp_path / "sshd_config"
    host_keys = "".join(f"HostKey {key}\n" for key in keys)
    conf.write_text(f"Port {port}\nListenAddress 127.0.0.1\n{host_keys}{config}")
    with (tmp_path / "log").open("wb") as log:
        process = subprocess.Popen(
            [*SSHD_PY, "-D", "-e", "-f", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        _wait_listening(port, process)
        yield port
    finally:
        stop_process(process)


def test_sshd_py_defaults_fail_nothing(tmp_path: Path) -> None:
    with sshd_py(tmp_path, "") as port:
        result = audit(port, "--skip-rate-test")
    assert findings(result, "fail") == set()
    assert result["returncode"] == WARNINGS


def test_sshd_py_hardened_lists_are_clean(tmp_path: Path) -> None:
    """The hardened sshd_config of the README: no failure, no warning. (The DHEat rate test
    is skipped: ssh-audit opens its connections one after another, which
    PerSourceMaxStartups, a bound on concurrent ones, does not slow, and sshd-py has no
    PerSourcePenalties yet; the library's per_source_rate passes it, in the tests above.)"""
    with sshd_py(tmp_path, HARDENED_SSHD_CONFIG) as port:
        result = audit(port, "--skip-rate-test")
    assert findings(result, "fail") == set()
    assert findings(result, "warn") == set()
    assert result["returncode"] == GOOD


# -- our client -----------------------------------------------------------------------------


def audit_client(config: TransportConfig | None) -> dict[str, Any]:
    port = free_port()
    auditor = subprocess.Popen(
        [SSH_AUDIT, "-c", "-j", "-p", str(port), "-t", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_listening_for_client(port, auditor)
        # ssh-audit reads our KEXINIT and hangs up: the connection fails, as it should.
        with pytest.raises(Exception):  # noqa: B017, PT011 - any transport error will do
            connect("127.0.0.1", port, "nobody", host_key_check=lambda key, alg: True,
                    config=config, connect_timeout=30)  # fmt: skip
        out, err = auditor.communicate(timeout=60)
    finally:
        if auditor.poll() is None:
            auditor.kill()
            auditor.wait()
    assert out.startswith("{"), (out[-2000:], err[-2000:])
    return dict(json.loads(out))


def _wait_listening_for_client(port: int, process: subprocess.Popen[str]) -> None:
    # Probing the port would count as the client under audit: look at the socket table.
    deadline = time.monotonic() + 30
    needle = f":{port:04X} "
    while True:
        assert process.poll() is None, process.communicate()
        with open("/proc/net/tcp") as table:
            if any(needle in line and line.split()[3] == "0A" for line in table):
                return
        assert time.monotonic() < deadline, "ssh-audit -c did not start listening"
        time.sleep(0.05)


def test_our_client_defaults_fail_only_the_nist_curves() -> None:
    result = audit_client(None)
    failed = findings(result, "fail")
    assert failed, "ssh-audit must see the NIST curves our defaults offer"
    assert all("nistp" in name for name in failed), failed


def test_our_client_hardened_is_clean() -> None:
    result = audit_client(hardened())
    assert findings(result, "fail") == set()
    assert findings(result, "warn") == set()
