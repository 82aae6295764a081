"""Shared OpenSSH fixtures for interop tests: host keys made by ssh-keygen and running sshds.

One sshd per module, started with ``-D`` on a free loopback port: a TCP connection to it
costs one fork+exec of sshd's per-connection child (a few ms), less than ``sshd -i`` per
connection and far less than the key exchanges being tested. Helpers live in
``openssh_tools`` (importable from test modules: this directory is put on sys.path).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from openssh_tools import (  # noqa: E402 - needs the sys.path entry above
    HostKeyFiles,
    Sshd,
    SshdFactory,
    common_algorithms,
    make_host_keys,
)


@pytest.fixture(scope="session")
def host_key_files(tmp_path_factory: pytest.TempPathFactory) -> HostKeyFiles:
    """Session-wide host keys and host certificates (RSA generation is the slow part)."""
    return make_host_keys(tmp_path_factory.mktemp("hostkeys"))


@pytest.fixture(scope="module")
def sshd_factory(
    tmp_path_factory: pytest.TempPathFactory, host_key_files: HostKeyFiles
) -> Iterator[SshdFactory]:
    """``sshd_factory.start(**options)`` runs an sshd with extra sshd_config options."""
    factory = SshdFactory(lambda: tmp_path_factory.mktemp("sshd"), host_key_files)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def sshd(sshd_factory: SshdFactory) -> Sshd:
    """An sshd offering every algorithm it implements that we do too, legacy ones included."""
    return sshd_factory.start(**common_algorithms().sshd_options())
