"""OpenSSH's regress scripts, run by its own test-exec.sh, with our programs in OpenSSH's place.

Which script runs against which of our programs, and what is expected today, is the
explicit table below (the full per-script picture, stock timings and sshd-py included, is
``SCRIPTS`` in run_openssh_regress.py). A known failure is ``xfail(strict=True)``: when a
fix makes it pass, the XPASS fails the run and says to update the table.

Not here on purpose: the stock baseline (OpenSSH against itself tests none of our code;
``python tests/regress/run_openssh_regress.py --sshd stock --agent stock``), and the
sshd-py rows until ``sshd-py`` is on this branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from run_openssh_regress import SCRIPTS, SUITE, Programs, resolve_programs, run_script

pytestmark = [pytest.mark.interop, pytest.mark.slow]


class KnownFailure(AssertionError):
    """The script failed the way the table expects (any other failure is a plain one)."""


@dataclass(frozen=True)
class Case:
    script: str
    leave_out: tuple[str, ...] = ()  # key types dropped from the script's SSH_KEYTYPES
    xfail: str | None = None  # why it cannot pass yet
    failure: str = ""  # with xfail: the script's FAIL message that shows it is that reason

    @property
    def id(self) -> str:
        return self.script + "".join(f"-without-{t}" for t in self.leave_out)


# ssh-agent-py as TEST_SSH_SSHAGENT, with OpenSSH's ssh, ssh-add and sshd (through -i).
# Every `ssh -Q key-plain` type, ssh-dss included (ssh-agent-py signs DSA since issue 12's
# legacy part).
AGENT_CASES = (
    Case("agent"),
    Case("agent-timeout"),  # sleeps 20 s: keys added with -t 10
)


def _param(case: Case) -> object:
    marks = []
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail, raises=KnownFailure))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def agent_programs(tmp_path_factory: pytest.TempPathFactory) -> Programs:
    if not (SUITE / "test-exec.sh").is_file():
        pytest.skip(f"OpenSSH's regress suite is not installed ({SUITE}: openssh-tests)")
    return resolve_programs("stock", "ssh-agent-py", tmp_path_factory.mktemp("bin"))


@pytest.mark.parametrize("case", [_param(c) for c in AGENT_CASES])
def test_agent_script_with_ssh_agent_py(case: Case, agent_programs: Programs, tmp_path: Path):
    result = run_script(
        case.script,
        agent_programs,
        tmp_path,
        timeout=300,
        leave_out=case.leave_out,
        fail_fatal=case.xfail is not None,
    )
    if not result.passed and case.xfail and case.failure in result.output:
        raise KnownFailure(result.report())
    assert result.passed, result.report()


def test_table_names_installed_scripts():
    # A renamed or dropped script in a new openssh-tests would otherwise vanish quietly.
    if not (SUITE / "test-exec.sh").is_file():
        pytest.skip(f"OpenSSH's regress suite is not installed ({SUITE}: openssh-tests)")
    missing = [row.name for row in SCRIPTS if not (SUITE / f"{row.name}.sh").is_file()]
    assert missing == []
    assert {case.script for case in AGENT_CASES} <= {r.name for r in SCRIPTS if r.ours == "agent"}
