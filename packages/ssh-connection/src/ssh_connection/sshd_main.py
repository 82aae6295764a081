"""``sshd-py`` / ``python -m ssh_connection``: an sshd in Python, flag for flag with sshd.

    sshd-py                      # the default: 127.0.0.1:2222, host keys in a state dir
    sshd-py -D -e -f sshd_config # foreground, log to stderr
    sshd-py -i -f sshd_config    # one connection on stdin/stdout (inetd, ProxyCommand)
    sshd-py -t -f sshd_config    # check the configuration (and host keys), exit 0 or 1
    sshd-py -T -f sshd_config    # print the effective configuration (-C user=...,addr=...)

It runs as the user who starts it, with no privilege separation, and refuses logins as
anyone else. Imports are deferred to the mode that needs them: ``-i`` starts a process
per connection.
"""

from __future__ import annotations

import contextlib
import getopt
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ssh_transport import HostKey

    from .sshd_config import SshdConfig, SshdSettings

__all__ = ["main", "parse_connection_spec"]

_SHORT = "46C:DE:TVb:c:def:g:h:ik:o:p:qtu:"
_LONG = ["state-dir=", "help"]
_USAGE = """usage: sshd-py [-46DdeiqTtV] [-C connection_spec] [-E log_file] [-f config_file]
               [-g login_grace_time] [-h host_key_file] [-o option] [-p port]
               [--state-dir DIR]
"""


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"sshd-py {version('ssh-connection')}"
    except Exception:
        return "sshd-py"


def parse_connection_spec(spec: str) -> dict[str, str]:
    """``-C user=u,host=h,addr=a,laddr=l,lport=p`` as sshd reads it."""
    known = {"user", "host", "addr", "laddr", "lport", "rdomain"}
    out: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        if not eq or key not in known:
            raise ValueError(f"Invalid test mode specification {item}")
        out[key] = value
    if "lport" in out and not out["lport"].isdigit():
        raise ValueError(f"Invalid port {out['lport']}")
    return out


class _Options:
    def __init__(self) -> None:
        self.config: str | None = None
        self.lines: list[str] = []
        self.ports: list[int] = []
        self.inetd = False
        self.foreground = False
        self.debug = 0
        self.stderr = False
        self.quiet = False
        self.log_file: str | None = None
        self.test = 0  # 1: -t, 2: -T
        self.spec: str | None = None
        self.state_dir: str | None = None


def _parse(argv: list[str]) -> _Options:
    opts, rest = getopt.getopt(argv, _SHORT, _LONG)
    if rest:
        raise getopt.GetoptError(f"extra arguments: {' '.join(rest)}")
    o = _Options()
    for flag, value in opts:
        if flag == "-f":
            o.config = value
        elif flag == "-o":
            o.lines.append(value)
        elif flag == "-h":
            o.lines.append(f"HostKey {value}")
        elif flag == "-p":
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise getopt.GetoptError(f"Bad port number: {value}")
            o.ports.append(int(value))
        elif flag == "-g":
            o.lines.append(f"LoginGraceTime {value}")
        elif flag == "-4":
            o.lines.append("AddressFamily inet")
        elif flag == "-6":
            o.lines.append("AddressFamily inet6")
        elif flag == "-i":
            o.inetd = True
        elif flag == "-D":
            o.foreground = True
        elif flag == "-d":
            o.debug += 1
            o.foreground = True
        elif flag == "-e":
            o.stderr = True
        elif flag == "-q":
            o.quiet = True
        elif flag == "-E":
            o.log_file = value
        elif flag == "-t":
            o.test = max(o.test, 1)
        elif flag == "-T":
            o.test = 2
        elif flag == "-C":
            o.spec = value
        elif flag == "--state-dir":
            o.state_dir = value
        elif flag == "--help":
            raise getopt.GetoptError("")
        elif flag == "-V":
            print(_version(), file=sys.stderr)
            raise SystemExit(0)
        # -b -c -k -u: accepted for sshd's sake, nothing to do
    return o


def _fail(message: str) -> int:
    print(f"sshd-py: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        o = _parse(sys.argv[1:] if argv is None else argv)
    except getopt.GetoptError as exc:
        if str(exc):
            print(f"sshd-py: {exc}", file=sys.stderr)
        sys.stderr.write(_USAGE)
        return 1

    from .sshd_config import ConfigError
    from .sshd_settings import load_config

    try:
        config, default_mode = load_config(o.config, o.lines, o.ports, o.state_dir)
    except ConfigError as exc:
        lines = (
            f"{exc.file}: line {exc.line}: {exc.message}\n"
            f"{exc.file}: terminating, 1 bad configuration options\n"
        )
        sys.stderr.write(lines)
        if o.log_file is not None:  # as sshd: with -E the error is in the log too
            with contextlib.suppress(OSError), open(o.log_file, "a", encoding="utf-8") as f:
                f.write(lines)
        return 255 if o.inetd else 1
    except OSError as exc:
        return _fail(f"{o.config}: {exc.strerror or exc}")

    if o.test == 2:
        return _print_settings(config, o.spec)
    settings = config.settings()
    stream = _log_stream(o)
    from .sshd_log import log, setup_logging

    level = "QUIET" if o.quiet else str(settings["loglevel"])
    if o.debug:
        level = ("DEBUG1", "DEBUG2", "DEBUG3")[min(o.debug, 3) - 1]
    setup_logging(level, stream)
    return _serve(o, config, default_mode, log, stream is sys.stderr)


def _print_settings(config: SshdConfig, spec: str | None) -> int:
    if spec is None:
        sys.stdout.write(config.dump())
        return 0
    try:
        c = parse_connection_spec(spec)
    except ValueError as exc:
        return _fail(str(exc))
    settings = config.for_connection(
        c.get("user"),
        c.get("host"),
        c.get("addr"),
        c.get("laddr"),
        int(c["lport"]) if "lport" in c else None,
        rdomain=c.get("rdomain"),
    )
    sys.stdout.write(settings.dump())
    return 0


def _log_stream(o: _Options) -> TextIO | None:
    if o.log_file is not None:
        try:
            return open(o.log_file, "a", buffering=1, encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"sshd-py: cannot open log file {o.log_file}: {exc}", file=sys.stderr)
            return sys.stderr
    if o.stderr or o.debug or o.test or (o.foreground and not o.inetd):
        return sys.stderr
    return None


def _serve(
    o: _Options, config: SshdConfig, default_mode: bool, log: logging.Logger, on_stderr: bool
) -> int:
    from .sshd_settings import (
        HostKeyError,
        ListenError,
        ensure_state_host_keys,
        listen_addresses,
        load_host_keys,
        state_directory,
        unhonoured,
    )

    settings = config.settings()
    try:
        state = state_directory(o.state_dir)
        if default_mode and any(p.startswith(state + os.sep) for p in settings.words("hostkey")):
            ensure_state_host_keys(state)
        host_keys = load_host_keys(settings)
    except (HostKeyError, OSError) as exc:
        log.critical("sshd-py: %s", exc)
        if not (on_stderr and log.isEnabledFor(logging.CRITICAL)):
            print(f"sshd-py: {exc}", file=sys.stderr)
        return 1
    for warning in unhonoured(config, settings):
        log.warning("%s", warning)
    if o.test:
        return 0
    if o.inetd:
        return _run(o, config, settings, host_keys, None)
    try:
        addresses = listen_addresses(settings)
    except ListenError as exc:
        return _fail(str(exc))
    return _run(o, config, settings, host_keys, addresses)


def _run(
    o: _Options,
    config: SshdConfig,
    settings: SshdSettings,
    host_keys: list[HostKey],
    addresses: list[tuple[str, int]] | None,
) -> int:
    import asyncio

    from .sshd_server import SshdServer, run_inetd

    if addresses is None:

        async def inetd() -> int:
            return await run_inetd(SshdServer(config, settings, host_keys))

        return asyncio.run(inetd())
    pid_file = "none" if o.debug else settings.text("pidfile")  # sshd -d writes none

    def listen(ready: int | None) -> int:
        once = bool(o.debug)  # as sshd -d: one connection, no fork
        return asyncio.run(_listen(config, settings, host_keys, addresses, pid_file, ready, once))

    return listen(None) if o.foreground else _daemonize(listen)


async def _listen(
    config: SshdConfig,
    settings: SshdSettings,
    host_keys: list[HostKey],
    addresses: list[tuple[str, int]],
    pid_file: str,
    ready: int | None,
    once: bool,
) -> int:
    from .sshd_log import log
    from .sshd_server import SshdServer, run_listening

    server = SshdServer(config, settings, host_keys)
    written: list[str] = []

    def on_ready(ports: list[int]) -> None:
        if pid_file != "none" and _write_pid_file(pid_file):
            written.append(pid_file)
        if ready is not None:
            os.write(ready, b"ok\n")
            os.close(ready)

    try:
        return await run_listening(server, addresses, on_ready, once=once)
    except OSError as exc:
        log.critical("%s", exc)
        if ready is not None:
            os.write(ready, f"{exc}\n".encode())
        else:
            print(f"sshd-py: {exc}", file=sys.stderr)
        return 1
    finally:
        for path in written:  # only our own: never another daemon's file
            with contextlib.suppress(OSError):
                os.unlink(path)


def _write_pid_file(path: str) -> bool:
    from .sshd_log import log

    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        log.error('Couldn\'t create pid file "%s": %s', path, exc.strerror or exc)
        return False
    return True


def _daemonize(serve: Callable[[int], int]) -> int:
    """Double fork; the first process returns once the daemon listens (0) or failed (1)."""
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        chunks = []
        while chunk := os.read(read_end, 4096):
            chunks.append(chunk)
        os.close(read_end)
        answer = b"".join(chunks).decode(errors="replace").strip()
        if answer == "ok":
            return 0
        return _fail(answer or "the daemon exited before listening")
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    code = 1
    try:
        code = serve(write_end)
    finally:
        os._exit(code)
