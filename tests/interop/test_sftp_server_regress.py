"""OpenSSH's own regress scripts (Debian's openssh-tests) with sftp-server-py as
TEST_SSH_SFTPSERVER: the compatibility test of DESIGN.md.

The scripts that drive the SFTP server directly (``sftp -D``, ``scp -D``, and sshd's
``Subsystem``) run here; ``sftp.sh`` and ``sftp-perm.sh`` pass too but take a minute or
more each (they start a server per combination), so they run only with
``SFTP_REGRESS_ALL=1``. ``sftp-uri.sh`` and ``sftp-chroot.sh`` use sshd's internal-sftp,
not the server under test.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from openssh_tools import free_port

pytestmark = [pytest.mark.interop, pytest.mark.slow]

REGRESS = Path("/usr/lib/openssh/regress")
SCRIPTS = ["sftp-cmds", "sftp-badcmds", "sftp-batch", "sftp-glob", "scp3", "scp-uri"]
if os.environ.get("SFTP_REGRESS_ALL") == "1":
    SCRIPTS += ["sftp", "sftp-perm", "scp"]


@pytest.fixture(scope="module")
def regress(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy (the scripts write beside themselves) and the server wrapper."""
    work = tmp_path_factory.mktemp("regress") / "regress"
    shutil.copytree(REGRESS, work, symlinks=True)
    wrapper = work / "sftp-server-py"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ssh_sftp "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return work


@pytest.mark.parametrize("script", SCRIPTS)
def test_openssh_regress_script(regress: Path, script: str) -> None:
    env = {
        **os.environ,
        "PATH": f"/usr/bin:/usr/sbin:/bin:{os.environ.get('PATH', '')}:.",
        "TEST_SHELL": "/bin/sh",
        "TEST_SSH_SFTPSERVER": str(regress / "sftp-server-py"),
        "TEST_SSH_PORT": str(free_port()),
        "TEST_SSH_UNSAFE_PERMISSIONS": "1",  # the temporary directory is world-writable
    }
    done = subprocess.run(
        ["sh", "test-exec.sh", str(regress), f"{script}.sh"],
        cwd=regress, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "FAIL" not in output, output[-4000:]
