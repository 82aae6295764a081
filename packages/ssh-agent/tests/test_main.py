"""``python -m ssh_agent``: the runnable agent's socket, environment lines and -k."""

from __future__ import annotations

import argparse
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssh_agent.__main__ import parse_lifetime
from ssh_agent.sync import AgentClient


@pytest.mark.parametrize(
    ("text", "seconds"), [("600", 600), ("10m", 600), ("1h30m", 5400), ("2d", 172800)]
)
def test_parse_lifetime(text, seconds):
    assert parse_lifetime(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "1x", "m", "-5", "1h 2m", "99999999999"])
def test_parse_lifetime_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_lifetime(text)


def _env(lines: str) -> dict[str, str]:
    env = {}
    for part in lines.replace("\n", " ").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            env[name] = value
    return env


def _gone(path: Path) -> bool:
    for _ in range(400):
        if not path.exists():
            return True
        time.sleep(0.025)
    return False


def test_background_agent_private_socket_and_kill(ed_key):
    started = subprocess.run(
        [sys.executable, "-m", "ssh_agent", "-s", "-t", "1h"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    env = _env(started.stdout)
    sock, pid = Path(env["SSH_AUTH_SOCK"]), int(env["SSH_AGENT_PID"])
    try:
        # Owner-only: a 0700 directory made for it, the socket itself 0600.
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.getuid()
        with AgentClient.connect(sock) as client:
            client.add(ed_key)
            assert [k.comment for k in client.list_identities()] == [ed_key.comment]
        killed = subprocess.run(
            [sys.executable, "-m", "ssh_agent", "-k"],
            env=dict(os.environ, SSH_AGENT_PID=str(pid)),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert f"echo Agent pid {pid} killed;" in killed.stdout
        assert _gone(sock)
        assert _gone(sock.parent)
    finally:
        if sock.exists():
            os.kill(pid, signal.SIGTERM)


def test_command_runs_with_the_agent_and_the_agent_ends_with_it():
    # As `ssh-agent COMMAND`: COMMAND gets SSH_AUTH_SOCK / SSH_AGENT_PID, its exit status is
    # ours, and the agent stops (removing its socket) once COMMAND has gone. -E, -O and -P
    # are OpenSSH's flags for features we lack: accepted, as the regress scripts pass them.
    probe = (
        "import os; from ssh_agent.sync import AgentClient; "
        "c = AgentClient.connect(); print(os.environ['SSH_AUTH_SOCK'], "
        "os.environ['SSH_AGENT_PID'], len(c.list_identities())); c.close(); raise SystemExit(3)"
    )
    flags = ["-E", "sha256", "-O", "no-restrict-websafe", "-P", "/*"]
    done = subprocess.run(
        [sys.executable, "-m", "ssh_agent", *flags, sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3, done.stderr
    sock, pid, count = done.stdout.split()
    assert count == "0"
    assert int(pid) != os.getpid()
    assert _gone(Path(sock))


def test_command_that_cannot_run_fails():
    done = subprocess.run(
        [sys.executable, "-m", "ssh_agent", "/nonexistent/command"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "/nonexistent/command" in done.stderr


@pytest.mark.parametrize(
    "args", [["-s", "true"], ["-D", "true"], ["-E", "md4"], ["-O", "no-such-option"]]
)
def test_rejected_arguments(args):
    done = subprocess.run(
        [sys.executable, "-m", "ssh_agent", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr


@pytest.mark.parametrize(("shell", "first"), [("/bin/tcsh", "setenv"), ("/bin/bash", "SSH_")])
def test_syntax_follows_shell_without_s_or_c(tmp_path, shell, first):
    sock = tmp_path / "agent.sock"
    started = subprocess.run(
        [sys.executable, "-m", "ssh_agent", "-a", str(sock)],
        env=dict(os.environ, SHELL=shell),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(re.search(r"SSH_AGENT_PID[ =](\d+);", started.stdout).group(1))
    try:
        assert started.stdout.startswith(first)
        with AgentClient.connect(sock) as client:  # serving: its SIGTERM handler is set
            assert client.list_identities() == []
    finally:
        os.kill(pid, signal.SIGTERM)
    assert _gone(sock)
