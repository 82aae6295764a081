"""Packages whose ``__init__`` imports its public names on first use (``sshd-py -i`` starts
a process per connection): the table of where each name lives says what the type
checkers' imports say, every ``__all__`` name resolves, and importing the package loads
none of its modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("ssh_keys", "ssh_agent", "ssh_transport", "ssh_auth", "ssh_connection")


def _init(package: str) -> Path:
    return next(ROOT.glob(f"packages/*/src/{package}/__init__.py"))


def _type_checking_imports(package: str) -> dict[str, tuple[str, str | None]]:
    """name -> (module, attribute) from the ``if TYPE_CHECKING:`` block (None: a module)."""
    tree = ast.parse(_init(package).read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    out: dict[str, tuple[str, str | None]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            name = alias.asname or alias.name
            out[name] = (f".{alias.name}", None) if node.module is None else (module, alias.name)
    return out


@pytest.mark.parametrize("package", LAZY)
def test_the_table_matches_the_type_checking_imports(package: str) -> None:
    module = importlib.import_module(package)
    table: dict[str, tuple[str, str | None]] = {
        name: (where, attribute) for name, (where, attribute) in module._WHERE.items()
    }
    table.update({name: (f".{name}", None) for name in module._SUBMODULES})
    assert table == _type_checking_imports(package)


@pytest.mark.parametrize("package", LAZY)
def test_no_lazy_name_is_also_a_module_name(package: str) -> None:
    # Importing ssh_keys.randomart sets ssh_keys.randomart to the module: such names
    # must be imported eagerly.
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert not set(module._WHERE) & submodules


@pytest.mark.parametrize("package", LAZY)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute"):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("package", LAZY)
def test_importing_the_package_loads_none_of_its_modules(package: str) -> None:
    code = f"import sys, {package}; print([m for m in sys.modules if m.startswith('{package}.')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    eager = {"ssh_keys": "['ssh_keys.randomart']"}  # see the test above
    assert out.stdout.strip() == eager.get(package, "[]")
