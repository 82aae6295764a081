"""OpenSSH's own regress suite run against our programs (see run_openssh_regress.py).

This directory is put on sys.path so the test module imports the runner by name.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
