"""Lets the test modules share ``transport_pair`` under ``--import-mode=importlib``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_configure(config: object) -> None:
    # ssh_transport.kex.ffdh silences cryptography's FFDH deprecation for its own calls
    # when imported, but pytest resets warning filters around each test.
    config.addinivalue_line(  # type: ignore[attr-defined]
        "filterwarnings", "ignore::cryptography.utils.CryptographyDeprecationWarning"
    )
