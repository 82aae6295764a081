"""sshd-py's logging: sshd's LogLevel names (QUIET .. DEBUG3) on Python's logging, written
as sshd writes to stderr or an ``-E`` file (``debug1: ...``, ``error: ...``; INFO and
VERBOSE lines bare).
"""

from __future__ import annotations

import logging
from typing import TextIO

__all__ = ["LEVELS", "VERBOSE", "DEBUG2", "DEBUG3", "setup_logging", "log"]

VERBOSE = 15
DEBUG2 = 9
DEBUG3 = 8
#: sshd's LogLevel names as Python logging levels (QUIET prints nothing at all).
LEVELS = {
    "QUIET": logging.CRITICAL + 10,
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "INFO": logging.INFO,
    "VERBOSE": VERBOSE,
    "DEBUG": logging.DEBUG,
    "DEBUG1": logging.DEBUG,
    "DEBUG2": DEBUG2,
    "DEBUG3": DEBUG3,
}
_PREFIX = {
    logging.CRITICAL: "fatal: ",
    logging.ERROR: "error: ",
    logging.WARNING: "",
    logging.INFO: "",
    VERBOSE: "",
    logging.DEBUG: "debug1: ",
    DEBUG2: "debug2: ",
    DEBUG3: "debug3: ",
}
# The library's own loggers: their INFO lines would repeat ours, so they speak only at
# the debug levels (and their warnings always).
_LIBRARIES = ("ssh_wire", "ssh_keys", "ssh_agent", "ssh_transport", "ssh_auth", "ssh_connection")

#: The logger for sshd-py's own lines (connection summaries, warnings about the config).
log = logging.getLogger("ssh_connection.sshd")


class _SshdFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = _PREFIX.get(record.levelno)
        if prefix is None:
            prefix = "debug3: " if record.levelno < logging.DEBUG else ""
        text = prefix + record.getMessage()
        if record.exc_info and record.levelno <= logging.DEBUG:
            text += "\n" + self.formatException(record.exc_info)
        return text


for _name, _level in (("VERBOSE", VERBOSE), ("DEBUG2", DEBUG2), ("DEBUG3", DEBUG3)):
    logging.addLevelName(_level, _name)


def setup_logging(level: str, stream: TextIO | None) -> None:
    """Send sshd-py's log at sshd LogLevel ``level`` to ``stream`` (None: nowhere, as
    sshd without -e/-E writes to syslog, which sshd-py does not use)."""
    number = LEVELS.get(level.upper(), logging.INFO)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else logging.NullHandler()
    )
    handler.setFormatter(_SshdFormatter())
    root.addHandler(handler)
    root.setLevel(number)
    library_level = number if number <= logging.DEBUG else max(number, logging.WARNING)
    for name in _LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    log.setLevel(number)
    logging.captureWarnings(True)
