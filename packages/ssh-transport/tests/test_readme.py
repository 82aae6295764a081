"""The README's Python examples run, in order, in one namespace, and their assertions hold."""

from __future__ import annotations

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


def test_readme_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(BLOCKS) >= 3
    module = types.ModuleType("ssh_transport_readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for code in BLOCKS:
        exec(compile(code, str(README), "exec"), module.__dict__)
