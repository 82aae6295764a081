"""``python -m ssh_sftp``: the same as ``sftp-server-py``."""

import sys

from .sftp_server_main import main

sys.exit(main())
