"""The README's server examples (the "## Server" section) run and their assertions hold."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_TEXT = README.read_text(encoding="utf-8")
_START = _TEXT.index("\n## Server\n")
_END = _TEXT.find("\n## ", _START + 1)
_SECTION = _TEXT[_START : _END if _END != -1 else len(_TEXT)]
BLOCKS = [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```", _SECTION, re.M | re.S)]


def test_server_section_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_server_readme_block_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("ssh_sftp_server_readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, str(README), "exec"), module.__dict__)
