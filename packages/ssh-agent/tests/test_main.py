"""``python -m ssh_agent``: the runnable agent's socket, environment lines and -k."""

from __future__ import annotations

import argparse
import os
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
