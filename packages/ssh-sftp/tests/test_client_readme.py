"""The package README's Python examples run and their assertions hold."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_TEXT = README.read_text(encoding="utf-8")
# Each block padded with blank lines so tracebacks show the README's own line numbers.
BLOCKS = [
    "\n" * _TEXT.count("\n", 0, m.start(1)) + m.group(1)
    for m in re.finditer(r"^```python\n(.*?)^```", _TEXT, re.M | re.S)
]

pytestmark = pytest.mark.skipif(
    not os.access("/usr/lib/openssh/sftp-server", os.X_OK),
    reason="the examples talk to OpenSSH's sftp-server",
)


def test_readme_has_client_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("ssh_sftp_readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, str(README), "exec"), module.__dict__)
