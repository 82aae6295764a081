"""``sftp-server-py``: a drop-in for OpenSSH's sftp-server, speaking SFTP on stdin/stdout.

Flags as sftp-server's: ``-e`` log to stderr, ``-l LEVEL``, ``-f FACILITY`` (accepted;
without ``-e`` nothing is logged), ``-R`` read-only, ``-p`` / ``-P`` comma-separated allow
and deny lists of request names, ``-Q requests`` lists them, ``-d START_DIR`` (``%d`` home
directory, ``%u`` user name, ``%%``), ``-u UMASK``, ``-h``.

This is a driver: it owns the file descriptors and the clock. Imports stay few (getopt,
not argparse) because sshd starts one of these per SFTP session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["main", "parse_flags", "ServerFlags", "FlagError"]

_USAGE = (
    "usage: sftp-server-py [-ehR] [-d start_directory] [-f log_facility] [-l log_level]\n"
    "\t[-P denied_requests] [-p allowed_requests] [-u umask]\n"
    "       sftp-server-py -Q protocol_feature\n"
)
_LEVELS = {
    "QUIET": 100, "FATAL": 50, "ERROR": 40, "INFO": 20, "VERBOSE": 15,
    "DEBUG": 10, "DEBUG1": 10, "DEBUG2": 5, "DEBUG3": 1,
}  # fmt: skip
_FACILITIES = {"DAEMON", "USER", "AUTH", "AUTHPRIV", *(f"LOCAL{i}" for i in range(8))}


def _fail(message: str, status: int = 1) -> int:
    sys.stderr.write(f"sftp-server-py: {message}\n")
    return status


def _expand(template: str, *, home: str | None = None, user: str | None = None) -> str:
    """sftp-server's -d tokens: %d home, %u user, %%; then ~ as the shell would (the
    running user's, unless ``home`` and ``user`` are given: a chrooted session's)."""
    if home is None or user is None:
        import pwd

        entry = pwd.getpwuid(os.getuid())
        home, user = entry.pw_dir, entry.pw_name
        expand_user = True
    else:
        expand_user = False
    out, i = [], 0
    while i < len(template):
        char = template[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        key = template[i + 1 : i + 2]
        if key == "%":
            out.append("%")
        elif key == "d":
            out.append(home)
        elif key == "u":
            out.append(user)
        else:
            raise ValueError(f"unknown token %{key} in {template!r}")
        i += 2
    text = "".join(out)
    return os.path.expanduser(text) if expand_user else text


class FlagError(Exception):
    """Bad sftp-server flags: the message, and the exit status sftp-server gives."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ServerFlags:
    """sftp-server's flags, parsed (``start`` is still the -d template)."""

    log_stderr: bool = False
    level: str = "ERROR"
    read_only: bool = False
    allowed: list[str] | None = None
    denied: list[str] = field(default_factory=list)
    start: str | None = None
    umask: int | None = None
    query: str | None = None
    help: bool = False


def parse_flags(argv: Sequence[str]) -> ServerFlags:
    """Parse sftp-server's flags (for sftp-server-py and sshd-py's ``internal-sftp``)."""
    import getopt

    from .server import REQUEST_NAMES

    try:
        opts, rest = getopt.getopt(list(argv), "d:f:l:P:p:Q:u:ehR")
    except getopt.GetoptError as exc:
        raise FlagError(f"{exc}\n{_USAGE}".rstrip()) from None
    del rest  # as sftp-server: words after the flags are ignored (scp -D passes some)
    flags = ServerFlags()
    for flag, value in opts:
        if flag == "-h":
            flags.help = True
        elif flag == "-Q":
            if value != "requests":
                raise FlagError("Invalid query type")
            flags.query = value
        elif flag == "-e":
            flags.log_stderr = True
        elif flag == "-l":
            if value.upper() not in _LEVELS:
                raise FlagError(f'Invalid log level "{value}"')
            flags.level = value.upper()
        elif flag == "-f":
            if value.upper() not in _FACILITIES:
                raise FlagError(f'Invalid log facility "{value}"')
        elif flag == "-R":
            flags.read_only = True
        elif flag == "-p":
            # Names that match no request simply never match, as sftp-server.
            flags.allowed = [name for name in value.split(",") if name in REQUEST_NAMES]
        elif flag == "-P":
            flags.denied = [name for name in value.split(",") if name in REQUEST_NAMES]
        elif flag == "-d":
            flags.start = value
        elif flag == "-u":
            try:
                umask = int(value, 8)
            except ValueError:
                umask = -1
            if not 0 <= umask <= 0o777:
                raise FlagError(f'Invalid umask "{value}"', 255)
            flags.umask = umask
    return flags


def main(argv: Sequence[str] | None = None) -> int:
    from .server import REQUEST_NAMES

    try:
        flags = parse_flags(sys.argv[1:] if argv is None else argv)
        start = None if flags.start is None else _expand(flags.start)
    except FlagError as exc:
        return _fail(str(exc), exc.status)
    except ValueError as exc:
        return _fail(str(exc), 255)
    if flags.help:
        sys.stderr.write(_USAGE)
        return 1
    if flags.query is not None:
        sys.stdout.write("".join(f"{name}\n" for name in REQUEST_NAMES))
        return 0
    log_stderr, level = flags.log_stderr, flags.level
    import logging

    if log_stderr:
        logging.basicConfig(
            stream=sys.stderr, level=_LEVELS[level], format="sftp-server-py: %(message)s"
        )
    else:
        # sftp-server logs to syslog without -e; we log nowhere rather than onto the
        # session's stderr (which sshd hands to the client).
        logging.getLogger("ssh_sftp").addHandler(logging.NullHandler())
    return serve_stdio(
        read_only=flags.read_only,
        allowed=flags.allowed,
        denied=flags.denied,
        start=start,
        umask=flags.umask,
    )


def serve_stdio(
    *,
    read_only: bool = False,
    allowed: Sequence[str] | None = None,
    denied: Sequence[str] = (),
    start: str | None = None,
    umask: int | None = None,
    fd_in: int = 0,
    fd_out: int = 1,
) -> int:
    """Serve one session on fd_in / fd_out until EOF; the exit status."""
    import time

    from .filesystem import LocalFileSystem
    from .server import SFTPServerCore, answer_inline

    if start is not None:
        try:
            os.chdir(start)
        except OSError as exc:
            # As sftp-server: say so and serve from where we are.
            sys.stderr.write(f'chdir to "{start}" failed: {exc.strerror}\n')
    _widen_pipes(fd_in, fd_out)
    fs = LocalFileSystem(None, umask=umask, read_only=read_only)
    core = SFTPServerCore(read_only=read_only, allowed=allowed, denied=denied,
                          clock=time.time)  # fmt: skip
    status = 0
    while True:
        # Read only when every request read so far is answered: what the client sent
        # meanwhile waits in the pipe, and one big read takes several WRITEs at once.
        if not core.pending_events:
            try:
                data = os.read(fd_in, _READ_SIZE)
            except OSError:
                data = b""
            core.receive_data(data)
        # Replies go out as they are made (a DATA reply at a time), not once a whole
        # window of READs is answered: the client reads and asks again while we read
        # the file, instead of both sides taking turns to wait.
        ended = answer_inline(core, fs, _FLUSH_AT)
        out = memoryview(core.data_to_send())
        try:
            while out:
                out = out[os.write(fd_out, out) :]
        except OSError:
            ended = True  # the client is gone: nothing more can be said
        if ended:
            break
    if core.error is not None:
        status = 1  # logged by the core (to stderr with -e)
    return status


#: One read of stdin: several full WRITE requests.
_READ_SIZE = 1 << 20
#: Send queued replies once this many bytes wait (one full DATA reply does it).
_FLUSH_AT = 1 << 17


def _widen_pipes(*fds: int) -> None:
    """Give pipes room for several full READ replies (Linux pipes hold 64 KiB), so one
    256 KiB reply does not block us in a write while the client's next requests wait."""
    try:
        import fcntl
    except ImportError:  # not on this platform
        return
    grow = getattr(fcntl, "F_SETPIPE_SZ", None)
    if grow is None:
        return
    import contextlib

    for fd in fds:
        # Not a pipe, or over the user's pipe limit: it keeps the size it has.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, grow, 1 << 20)
