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

__all__ = ["main"]

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


def _expand(template: str) -> str:
    """sftp-server's -d tokens: %d home, %u user, %%; then ~ as the shell would."""
    import pwd

    entry = pwd.getpwuid(os.getuid())
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
            out.append(entry.pw_dir)
        elif key == "u":
            out.append(entry.pw_name)
        else:
            raise ValueError(f"unknown token %{key} in {template!r}")
        i += 2
    return os.path.expanduser("".join(out))


def main(argv: Sequence[str] | None = None) -> int:
    import getopt

    from .server import REQUEST_NAMES

    try:
        opts, rest = getopt.getopt(list(sys.argv[1:] if argv is None else argv),
                                   "d:f:l:P:p:Q:u:ehR")  # fmt: skip
    except getopt.GetoptError as exc:
        return _fail(f"{exc}\n{_USAGE}".rstrip())
    del rest  # as sftp-server: words after the flags are ignored (scp -D passes some)
    log_stderr, level, read_only = False, "ERROR", False
    allowed: list[str] | None = None
    denied: list[str] = []
    start: str | None = None
    umask: int | None = None
    for flag, value in opts:
        if flag == "-h":
            sys.stderr.write(_USAGE)
            return 1
        if flag == "-Q":
            if value != "requests":
                return _fail("Invalid query type")
            sys.stdout.write("".join(f"{name}\n" for name in REQUEST_NAMES))
            return 0
        if flag == "-e":
            log_stderr = True
        elif flag == "-l":
            if value.upper() not in _LEVELS:
                return _fail(f'Invalid log level "{value}"')
            level = value.upper()
        elif flag == "-f":
            if value.upper() not in _FACILITIES:
                return _fail(f'Invalid log facility "{value}"')
        elif flag == "-R":
            read_only = True
        elif flag == "-p":
            # Names that match no request simply never match, as sftp-server.
            allowed = [name for name in value.split(",") if name in REQUEST_NAMES]
        elif flag == "-P":
            denied = [name for name in value.split(",") if name in REQUEST_NAMES]
        elif flag == "-d":
            try:
                start = _expand(value)
            except ValueError as exc:
                return _fail(str(exc), 255)
        elif flag == "-u":
            try:
                umask = int(value, 8)
            except ValueError:
                umask = -1
            if not 0 <= umask <= 0o777:
                return _fail(f'Invalid umask "{value}"', 255)
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
        read_only=read_only, allowed=allowed, denied=denied, start=start, umask=umask
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
