"""The package imports without any event loop or socket module (logging brings threading),
and exports what ``__all__`` names."""

from __future__ import annotations

import subprocess
import sys

import ssh_connection


def test_import_pulls_in_no_driver_modules() -> None:
    code = (
        "import sys, ssh_connection\n"
        "bad = {'asyncio', 'socket', 'selectors', 'ssl'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_names_exist() -> None:
    for name in ssh_connection.__all__:
        assert hasattr(ssh_connection, name), name
    assert ssh_connection.__version__ == "0.4.0"
