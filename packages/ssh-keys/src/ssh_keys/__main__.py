"""``python -m ssh_keys``: the ``ssh-keys`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
