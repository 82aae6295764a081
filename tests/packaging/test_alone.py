"""Every distribution builds into a wheel that installs and imports alone.

Each package goes into a fresh virtual environment together with only the
wheels of its declared sibling dependencies (and its third-party ones from the
index): proof that the layering holds for users who ``pip install`` one piece.
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
NAMES = [p.name for p in PACKAGES]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
        + [str(p) for p in PACKAGES],
        check=True,
    )
    found = {}
    for whl in out.glob("*.whl"):
        dist = whl.name.split("-")[0].replace("_", "-")
        found[dist] = whl
    assert sorted(found) == NAMES
    return found


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        msg = email.parser.Parser().parsestr(zf.read(meta).decode())
    return msg.get_all("Requires-Dist") or []


def requirement_name(req: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", req)
    assert match
    return match.group(0).lower().replace("_", "-")


def closure(name: str, wheels: dict[str, Path]) -> tuple[set[str], set[str]]:
    """Sibling distributions and third-party requirements ``name`` needs, transitively."""
    siblings, external, todo = set(), set(), [name]
    while todo:
        current = todo.pop()
        for req in requirements(wheels[current]):
            dep = requirement_name(req)
            if dep in wheels:
                if dep not in siblings:
                    siblings.add(dep)
                    todo.append(dep)
            else:
                external.add(req)
    return siblings, external


def test_ssh_wire_has_no_dependencies(wheels: dict[str, Path]) -> None:
    assert requirements(wheels["ssh-wire"]) == []


def test_siblings_depend_only_downward(wheels: dict[str, Path]) -> None:
    order = ["ssh-wire", "ssh-keys", "ssh-agent", "ssh-transport", "ssh-auth",
             "ssh-connection", "ssh-sftp"]  # fmt: skip
    rank = {name: i for i, name in enumerate(order)}
    for name, wheel in wheels.items():
        for req in requirements(wheel):
            dep = requirement_name(req)
            if dep in rank:
                assert rank[dep] < rank[name], f"{name} depends on {dep}"
                assert "<" in req, f"{name}: sibling requirement {req!r} needs an upper bound"
    assert all(requirement_name(r) != "ssh-agent" for r in requirements(wheels["ssh-auth"]))


@pytest.mark.parametrize("name", NAMES)
def test_installs_and_imports_alone(name: str, wheels: dict[str, Path], tmp_path: Path) -> None:
    siblings, _ = closure(name, wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(wheels[name]), *(str(wheels[s]) for s in sorted(siblings))],
        check=True,
        env=env,
    )  # fmt: skip
    module = name.replace("-", "_")
    probe = (
        "import sys, importlib.metadata as md\n"
        f"import {module}\n"
        "assert 'asyncio' not in sys.modules, 'importing the package must not import asyncio'\n"
        "names = sorted(d.metadata['Name'] for d in md.distributions())\n"
        "print(' '.join(n for n in names if n.startswith('ssh-')))\n"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, env=env
    )
    installed = set(result.stdout.split())
    assert installed == {name} | siblings
