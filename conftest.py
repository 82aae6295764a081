"""Repository-wide pytest settings.

On a newcomer's machine an interop test whose peer (sshd, puttygen, ...) is missing skips,
which is right. In CI it must not be possible: ``.ci/run`` sets SSH_REQUIRE_PEERS=1, under
which every skip is reported as a failure, so a broken install step shows up red.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRE_PEERS = os.environ.get("SSH_REQUIRE_PEERS", "") not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_PEERS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under SSH_REQUIRE_PEERS=1 (is a peer missing?): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_PEERS and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"module skipped under SSH_REQUIRE_PEERS=1: {report.longrepr}"
