"""The soak benchmark's CI version: two minutes of connect / login / exec / disconnect
cycles (bench/soak.py, in a child process with MALLOC_ARENA_MAX=2) without a single
error, and no more file descriptors open at the end than after the first minute (plus a
small margin for the loop's own). Figures are printed, not asserted: memory is shown for
a reader to judge, and nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
MINUTES = 2
#: Descriptors the end may hold beyond the first minute's count (the event loop's
#: executor, a selector being replaced): a leak of one a connection is thousands.
FD_MARGIN = 8

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc"),
]


def test_soak_has_no_errors_and_flat_descriptors() -> None:
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", str(MINUTES), "--json"],
        env=env, capture_output=True, text=True, timeout=MINUTES * 60 + 180, check=False,
    )  # fmt: skip
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for report in reports:
        print(
            f"{report['minutes']:5.2f} min {report['connections']:7d} connections "
            f"{report['errors']} errors RSS {report['rss_kib']} KiB {report['fds']} fds"
        )
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(reports) >= 2 and reports[-1]["done"], done.stdout
    first, last = reports[0], reports[-1]
    assert all(r["errors"] == 0 for r in reports), done.stderr[-4000:]
    assert last["connections"] > first["connections"] > 0
    assert last["fds"] <= first["fds"] + FD_MARGIN
