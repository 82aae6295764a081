"""``python -m ssh_agent`` / ``ssh-agent-py``: run an agent, like OpenSSH's ``ssh-agent``.

eval "$(python -m ssh_agent -s)"        # start in the background, set SSH_AUTH_SOCK
python -m ssh_agent -D -a /path/sock    # stay in the foreground
python -m ssh_agent -k                  # kill the agent named by SSH_AGENT_PID
python -m ssh_agent COMMAND [ARGS]      # run COMMAND with the agent; it ends with COMMAND
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
from types import FrameType

from .keystore import KeyStore
from .sync import AgentServer, bind_unix_listener

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ssh-agent's -O options; both concern features we do not have (FIDO web origins, PKCS#11
# providers), so they are accepted and change nothing.
_OPTIONS = ("no-restrict-websafe", "allow-remote-pkcs11")
# How often an agent started for a COMMAND checks that COMMAND still runs (ssh-agent: 10 s).
_PARENT_CHECK_SECONDS = 2.0


def parse_lifetime(text: str) -> int:
    """Seconds from ssh-agent's time format: ``600``, ``10m``, ``1h30m``."""
    parts = re.findall(r"(\d+)([smhdwSMHDW]?)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid lifetime {text!r}")
    total = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if total <= 0 or total > 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"lifetime out of range: {text!r}")
    return total


def _env_lines(sock: str, pid: int, csh: bool) -> str:
    if csh:
        return f"setenv SSH_AUTH_SOCK {sock};\nsetenv SSH_AGENT_PID {pid};\necho Agent pid {pid};\n"
    return (
        f"SSH_AUTH_SOCK={sock}; export SSH_AUTH_SOCK;\n"
        f"SSH_AGENT_PID={pid}; export SSH_AGENT_PID;\n"
        f"echo Agent pid {pid};\n"
    )


def _kill(csh: bool) -> int:
    pid_text = os.environ.get("SSH_AGENT_PID", "")
    if not pid_text.isdigit() or int(pid_text) <= 1:
        print("SSH_AGENT_PID not set, cannot kill agent", file=sys.stderr)
        return 1
    try:
        os.kill(int(pid_text), signal.SIGTERM)
    except OSError as exc:
        print(f"kill: {exc}", file=sys.stderr)
        return 1
    if csh:
        print("unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;")
    else:
        print("unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;")
    print(f"echo Agent pid {pid_text} killed;")
    return 0


def _agent_option(text: str) -> str:
    if text not in _OPTIONS:
        raise argparse.ArgumentTypeError(f"unknown -O option {text!r}")
    return text


def _csh_syntax(args: argparse.Namespace) -> bool:
    """-c or -s if given, else what ``$SHELL`` speaks, as ssh-agent decides."""
    if args.csh or args.sh:
        return bool(args.csh and not args.sh)
    return os.environ.get("SHELL", "").endswith("csh")


def _run_command(command: list[str], path: str, pid: int) -> int:
    """In the parent after the fork: become COMMAND with the agent's environment."""
    os.environ["SSH_AUTH_SOCK"] = path
    os.environ["SSH_AGENT_PID"] = str(pid)
    try:
        os.execvp(command[0], command)  # noqa: S606 - running the user's COMMAND is the job
    except OSError as exc:
        print(f"ssh-agent-py: {command[0]}: {exc}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ssh-agent-py", description="An SSH agent in Python.")
    parser.add_argument("-a", dest="socket", help="bind the agent to this Unix socket path")
    parser.add_argument("-D", dest="foreground", action="store_true", help="do not fork")
    parser.add_argument("-d", dest="debug", action="store_true", help="debug mode (implies -D)")
    parser.add_argument("-t", dest="life", type=parse_lifetime, help="default key lifetime")
    parser.add_argument("-s", dest="sh", action="store_true", help="Bourne shell output")
    parser.add_argument("-c", dest="csh", action="store_true", help="C shell output")
    parser.add_argument("-k", dest="kill", action="store_true", help="kill the current agent")
    parser.add_argument(
        "-E", dest="fingerprint_hash", choices=("md5", "sha256"), help="accepted (log format)"
    )
    parser.add_argument(
        "-O", dest="options", action="append", type=_agent_option, default=[], help="accepted"
    )
    parser.add_argument(
        "-P", dest="providers", help="accepted: no PKCS#11 or FIDO provider is ever loaded"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run it with the agent")
    args = parser.parse_args(argv)
    if args.command and (args.csh or args.sh or args.kill or args.debug or args.foreground):
        parser.error("a command does not go with -c, -s, -k, -d or -D")
    csh = _csh_syntax(args)
    if args.kill:
        return _kill(csh)

    tmpdir: str | None = None
    if args.socket:
        path = os.path.abspath(args.socket)
    else:
        tmpdir = tempfile.mkdtemp(prefix="ssh-")  # created 0700
        path = os.path.join(tmpdir, f"agent.{os.getpid()}")
    try:
        listener = bind_unix_listener(path)
    except OSError as exc:
        print(f"ssh-agent-py: cannot bind {path}: {exc}", file=sys.stderr)
        return 1

    foreground = args.foreground or args.debug
    parent = os.getpid()
    if not foreground:
        sys.stdout.flush()
        pid = os.fork()
        if pid and args.command:
            listener.close()
            return _run_command(args.command, path, pid)
        if pid:
            sys.stdout.write(_env_lines(path, pid, csh))
            sys.stdout.flush()
            os._exit(0)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    else:
        sys.stdout.write(_env_lines(path, os.getpid(), csh))
        sys.stdout.flush()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)

    server = AgentServer(path, KeyStore(default_lifetime=args.life), listener=listener)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.shutdown()

    def check_parent(signum: int, frame: FrameType | None) -> None:
        if os.getppid() != parent:  # COMMAND has ended: we were handed to init
            server.shutdown()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    if args.command:
        signal.signal(signal.SIGALRM, check_parent)
        signal.setitimer(signal.ITIMER_REAL, _PARENT_CHECK_SECONDS, _PARENT_CHECK_SECONDS)
    try:
        server.serve_forever()
    finally:
        if tmpdir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(tmpdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
