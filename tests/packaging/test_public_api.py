"""What one package uses of another is that package's public API.

Every import across packages names something in the other package's ``__all__`` (its
``__init__``), or in the ``__all__`` of one of its driver modules (``sync``, ``aio``), which
``__init__`` must not import. A private module or a name left out of ``__all__`` would let a
sibling's refactoring break us within a compatible version range.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ssh_wire", "ssh_keys", "ssh_agent", "ssh_transport", "ssh_auth", "ssh_connection",
            "ssh_sftp")  # fmt: skip
#: Modules other packages may import from besides ``__init__``: the I/O drivers.
# Front ends, and the backend seam the upper layers' front ends are generated over.
DRIVER_MODULES = ("sync", "aio", "aio_backend", "sync_backend")


def _sources() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.glob("packages/*/src/*/**/*.py")):
        own = path.relative_to(ROOT).parts[3]
        found.append((own, path))
    return found


def _cross_imports() -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, module, names) for every import of another package of ours."""
    out = []
    for own, path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in PACKAGES and top != own:
                    out.append((f"{where}:{node.lineno}", node.module,
                                tuple(a.name for a in node.names)))  # fmt: skip
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    if top in PACKAGES and top != own:
                        out.append((f"{where}:{node.lineno}", alias.name, ()))
    return out


CROSS = _cross_imports()


def test_there_are_cross_package_imports_to_check() -> None:
    assert len(CROSS) > 50


@pytest.mark.parametrize(("where", "module", "names"), CROSS, ids=[c[0] for c in CROSS])
def test_cross_package_import_is_public(where: str, module: str, names: tuple[str, ...]) -> None:
    parts = module.split(".")
    assert len(parts) == 1 or (len(parts) == 2 and parts[1] in DRIVER_MODULES), (
        f"{where} imports from {module}: use {parts[0]}'s public names instead"
    )
    imported = importlib.import_module(module)
    public = set(getattr(imported, "__all__", ()))
    private = [n for n in names if n not in public]
    assert not private, f"{where}: {', '.join(private)} not in {module}.__all__"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_exist(package: str) -> None:
    module = importlib.import_module(package)
    missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not missing
