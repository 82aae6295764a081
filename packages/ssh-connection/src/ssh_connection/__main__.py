"""``python -m ssh_connection``: sshd-py (see :mod:`ssh_connection.sshd_main`)."""

from .sshd_main import main

raise SystemExit(main())
