"""CI cannot hide a missing peer: under SSH_REQUIRE_PEERS=1 a skipped test fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SKIPPING = """
import pytest

@pytest.mark.skipif(True, reason="needs sshd")
def test_marked():
    pass

def test_at_runtime():
    pytest.skip("no puttygen")
"""


def run_pytest(tmp_path: Path, require: str) -> subprocess.CompletedProcess[str]:
    # The repository's own conftest.py, in a tree of its own with one skipping module.
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_skips.py").write_text(SKIPPING)
    env = {**os.environ, "SSH_REQUIRE_PEERS": require}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tests)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_skip_fails_when_peers_are_required(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "1")
    assert done.returncode == 1, done.stdout
    assert "skipped under SSH_REQUIRE_PEERS=1" in done.stdout


def test_a_skip_stays_a_skip_on_a_newcomers_machine(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "")
    assert done.returncode == 0, done.stdout
    assert "2 skipped" in done.stdout
