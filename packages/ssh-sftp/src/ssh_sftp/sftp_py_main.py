"""``sftp-py``: one SFTP command over SSH, for people.

    sftp-py [-F ssh_config] [-P port] [-i identity_file] [-q] [user@]host COMMAND [ARGS]

Commands: ``get [-r] [-p] REMOTE [LOCAL]``, ``put [-r] [-p] LOCAL [REMOTE]``,
``ls [-l] [-a] [PATH]``, ``mkdir PATH...``, ``rm PATH...``. The host is resolved as
``ssh host`` would (``~/.ssh/config``, or ``-F FILE``: HostName, Port, User,
IdentityFile, known_hosts checking, ProxyJump, ...). Long transfers draw a progress bar
on stderr when it is a terminal (none otherwise, or with ``-q``).

Exit status: 0, 1 when a command failed on the server, 2 for bad usage, 255 when the
connection failed (as ssh).

This is a driver (the clock for the progress bar); the SSH client is ssh_connection's.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ssh_connection.sync import connect
from ssh_keys import read_private_key_file
from ssh_wire import SSHError

from .errors import SFTPError, SFTPStatusError
from .progress import ProgressBar
from .sync import SFTPClient

__all__ = ["main"]

_EPILOG = """commands:
  get [-r] [-p] REMOTE [LOCAL]   download (-r: a directory tree, -p: keep times and modes)
  put [-r] [-p] LOCAL [REMOTE]   upload
  ls [-l] [-a] [PATH]            list a directory (-l: long lines, -a: dot files too)
  mkdir PATH...                  make directories
  rm PATH...                     remove files
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftp-py",
        description="One SFTP command over SSH (hosts resolved as ssh does).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-F", dest="config", metavar="ssh_config",
                        help="read this file instead of ~/.ssh/config")  # fmt: skip
    parser.add_argument("-P", dest="port", type=int, help="port to connect to")
    parser.add_argument("-i", dest="identity", metavar="identity_file",
                        help="private key to log in with")  # fmt: skip
    parser.add_argument("-q", dest="quiet", action="store_true", help="no progress bar")
    parser.add_argument("destination", help="[user@]host")
    parser.add_argument("command", choices=["get", "put", "ls", "mkdir", "rm"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _command_args(name: str, args: Sequence[str]) -> argparse.Namespace:
    sub = argparse.ArgumentParser(prog=f"sftp-py HOST {name}")
    if name in ("get", "put"):
        sub.add_argument("-r", dest="recursive", action="store_true")
        sub.add_argument("-p", dest="preserve", action="store_true")
        sub.add_argument("source")
        sub.add_argument("target", nargs="?")
    elif name == "ls":
        sub.add_argument("-l", dest="long", action="store_true")
        sub.add_argument("-a", dest="all", action="store_true")
        sub.add_argument("path", nargs="?", default=".")
    else:
        sub.add_argument("paths", nargs="+")
    return sub.parse_args(list(args))


#: A transfer draws its bar once it has run this long (seconds): short ones draw nothing.
PROGRESS_DELAY = 0.5


class _Progress:
    """A progress callback that draws a :class:`ProgressBar` on ``stream``."""

    def __init__(self, name: str, stream: TextIO, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.stream = stream
        width = shutil.get_terminal_size((80, 24)).columns
        self.bar = ProgressBar(name, clock(), width=width, delay=PROGRESS_DELAY)

    def __call__(self, done: int, total: int) -> None:
        text = self.bar.update(done, total, self.clock())
        if text is not None:
            self.stream.write(text)
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(self.bar.finish(self.clock()))
        self.stream.flush()


def _transfer(sftp: SFTPClient, name: str, opts: argparse.Namespace, show: bool) -> None:
    label = posixpath.basename(opts.source.rstrip("/")) or opts.source
    progress = _Progress(label, sys.stderr, time.monotonic) if show else None
    kwargs = {"callback": progress, "preserve": opts.preserve, "recursive": opts.recursive}
    try:
        if name == "get":
            sftp.get(opts.source, opts.target, **kwargs)
        else:
            sftp.put(opts.source, opts.target, **kwargs)
    finally:
        if progress is not None:
            progress.finish()


def _ls(sftp: SFTPClient, opts: argparse.Namespace, out: TextIO) -> None:
    attrs = sftp.stat(opts.path)
    if not attrs.is_dir():
        out.write(f"{opts.path}\n")
        return
    entries = sorted(sftp.scandir(opts.path), key=lambda entry: entry.filename)
    for entry in entries:
        if entry.filename in (".", "..") or (entry.filename.startswith(".") and not opts.all):
            continue
        out.write(f"{entry.longname if opts.long else entry.filename}\n")


def run(sftp: SFTPClient, name: str, opts: argparse.Namespace, show_progress: bool) -> None:
    """Carry out one command on an open client."""
    if name in ("get", "put"):
        _transfer(sftp, name, opts, show_progress)
    elif name == "ls":
        _ls(sftp, opts, sys.stdout)
    elif name == "mkdir":
        for path in opts.paths:
            sftp.mkdir(path)
    else:
        for path in opts.paths:
            sftp.remove(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        opts = _command_args(args.command, args.args)
    except SystemExit as exc:
        return 2 if exc.code else 0
    import logging

    # What ssh says too ("Permanently added ... to the list of known hosts"), on stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    user, _, host = args.destination.rpartition("@")
    signers = None
    if args.identity:
        try:
            signers = [read_private_key_file(os.path.expanduser(args.identity))]
        except (OSError, SSHError) as exc:
            sys.stderr.write(f"sftp-py: {args.identity}: {exc}\n")
            return 255
    try:
        conn = connect(host, args.port, user or None, signers=signers,
                           ssh_config=args.config or True)  # fmt: skip
    except (OSError, SSHError, ValueError) as exc:
        sys.stderr.write(f"sftp-py: {host}: {exc}\n")
        return 255
    show = not args.quiet and sys.stderr.isatty()
    try:
        with conn, SFTPClient.from_connection(conn) as sftp:
            run(sftp, args.command, opts, show)
    except SFTPStatusError as exc:
        sys.stderr.write(f"sftp-py: {exc}\n")
        return 1
    except (SFTPError, SSHError, OSError) as exc:
        sys.stderr.write(f"sftp-py: {exc}\n")
        return 1 if isinstance(exc, OSError) and not isinstance(exc, SFTPError) else 255
    return 0


if __name__ == "__main__":
    sys.exit(main())
