"""The fuzz targets as regular tests: each one's seeds and every saved crash (files under
``fuzz/regressions/<target>/``) go through the same function the fuzzer calls, without
atheris, so a crash found once stays fixed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ))

import stack  # noqa: E402
import targets  # noqa: E402

from ssh_transport import Role  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _null_cipher_only_here() -> Iterator[None]:
    """The stack targets register the test-only "none" cipher and MAC; take them out
    again, or every later test in this process would see them as supported."""
    yield
    stack.remove_null_algorithms()


def saved(name: str) -> list[Path]:
    folder = FUZZ / "regressions" / name
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_seeds_pass(name: str) -> None:
    seeds = targets.SEEDS[name]()
    assert seeds, f"{name} has no seeds"
    for data in seeds:
        targets.TARGETS[name](data)


@pytest.mark.parametrize(
    ("name", "path"),
    [(n, p) for n in sorted(targets.TARGETS) for p in saved(n)],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_saved_crash_stays_fixed(name: str, path: Path) -> None:
    targets.TARGETS[name](path.read_bytes())


def test_regression_folders_name_targets() -> None:
    folders = [p.name for p in (FUZZ / "regressions").iterdir() if p.is_dir()]
    assert set(folders) <= set(targets.TARGETS)


def test_recorded_session_replays_exactly() -> None:
    """The stack targets start from a recorded session; a fresh side must accept the
    peer's recording all the way through, or the fuzzer would start from a dead end."""
    recorded = stack.record()
    for role in Role:
        peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
        core, events = stack.replay(role, recorded[peer])
        assert not core.closed, events[-3:]
        names = {type(e).__name__ for e in events}
        assert {"ChannelData", "ChannelEOF", "ChannelClosed"} <= names
