"""Lexing and expansion for ssh_config(5): argument splitting, ``%`` tokens, ``${ENV}``, ``~``.

Pure functions: the local facts they need (user, home, host name, environment) come in a
:class:`LocalContext`, which :meth:`LocalContext.current` fills from the running process.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ssh_wire import SSHError

__all__ = [
    "ConfigError",
    "Forward",
    "ProxyHop",
    "LocalContext",
    "TokenError",
    "split_arguments",
    "split_keyword",
    "expand_tokens",
    "expand_tilde",
    "connection_hash",
    "ALL_TOKENS",
    "HOSTNAME_TOKENS",
    "PROXY_TOKENS",
]

#: Tokens accepted by the path-like keywords (IdentityFile, ControlPath, ...), Match exec and
#: the forwardings. ``j`` (the ProxyJump value) is newer than OpenSSH 9.2 and accepted too.
ALL_TOKENS = frozenset("%CdhijkLlnpru")
HOSTNAME_TOKENS = frozenset("%h")
PROXY_TOKENS = frozenset("%hnpr")

_WHITESPACE = " \t\r\n"


class TokenError(ValueError):
    """A bad token, quote, variable or value; the evaluator adds file and line."""


class ConfigError(SSHError, ValueError):
    """A configuration line ssh would refuse; ``file`` and ``line`` say where."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file} line {line}: " if file is not None and line is not None else ""
        where = where or (f"{file}: " if file is not None else "")
        super().__init__(f"{where}{message}")


def _home_of(user: str) -> str | None:
    try:
        import pwd  # POSIX only: no per-user home directories to look up elsewhere
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        return pwd.getpwnam(user).pw_dir
    except (KeyError, ValueError):  # no such user; a name with a NUL byte
        return None


@dataclass(frozen=True)
class LocalContext:
    """Facts about the local side that tokens and defaults depend on."""

    user: str
    home: str
    uid: int = -1
    hostname: str = "localhost"  # %l: full local host name
    env: Mapping[str, str] = field(default_factory=dict)
    #: Looks up another user's home for ``~user/``; None when unknown.
    home_of: Callable[[str], str | None] = _home_of

    @property
    def short_hostname(self) -> str:  # %L
        return self.hostname.split(".", 1)[0]

    @classmethod
    def current(cls) -> LocalContext:
        """The running process: passwd entry (as ssh uses, not $HOME), uname, environ."""
        uid = os.getuid() if hasattr(os, "getuid") else -1
        user = home = None
        try:
            import pwd

            entry = pwd.getpwuid(uid)
            user, home = entry.pw_name, entry.pw_dir
        except (ImportError, KeyError):  # pragma: no cover - no passwd entry
            pass
        user = user or os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
        home = home or os.path.expanduser("~")
        node = os.uname().nodename if hasattr(os, "uname") else "localhost"
        return cls(user=user, home=home, uid=uid, hostname=node, env=dict(os.environ))


def split_keyword(line: str) -> tuple[str, str] | None:
    """Split a config line into (keyword, rest) as ssh does: the keyword ends at whitespace
    or at one ``=`` (optionally surrounded by whitespace). None for blank and comment lines."""
    text = line.lstrip(_WHITESPACE)
    if not text or text.startswith("#"):
        return None
    if text.startswith('"'):
        # ssh lets the keyword itself be quoted.
        close = text.find('"', 1)
        if close < 0:
            raise TokenError("invalid quotes")
        keyword, rest = text[1:close], text[close + 1 :]
    else:
        end = 0
        while end < len(text) and text[end] not in _WHITESPACE and text[end] != "=":
            end += 1
        keyword, rest = text[:end], text[end:]
    rest = rest.lstrip(_WHITESPACE)
    if rest.startswith("="):
        rest = rest[1:].lstrip(_WHITESPACE)
    if not keyword:
        return None
    return keyword, rest.rstrip(_WHITESPACE + "\f")


def split_arguments(text: str) -> list[str]:
    """Split arguments like OpenSSH: blanks separate, ``"`` and ``'`` quote, a backslash
    escapes a quote, a backslash or (outside quotes) a space, and ``#`` starting an argument
    begins a comment. Raises TokenError on an unterminated quote."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            break
        if text[i] == "#":
            break
        arg: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt in "'\"\\" or (not quote and nxt == " "):
                    arg.append(nxt)
                    i += 2
                    continue
                arg.append(c)
            elif quote:
                if c == quote:
                    quote = ""
                else:
                    arg.append(c)
            elif c in "'\"":
                quote = c
            elif c in _WHITESPACE:
                break
            else:
                arg.append(c)
            i += 1
        if quote:
            raise TokenError("invalid quotes")
        args.append("".join(arg))
    return args


def connection_hash(local_hostname: str, host: str, port: int, user: str) -> str:
    """``%C``: SHA-1 (hex) of %l%h%p%r, as ssh computes it for ControlPath."""
    data = f"{local_hostname}{host}{port}{user}".encode()
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def expand_tokens(
    text: str,
    values: Mapping[str, str],
    allowed: frozenset[str],
    env: Mapping[str, str] | None = None,
) -> str:
    """Replace ``%x`` tokens (and ``${NAME}`` when ``env`` is given) in one pass, so that a
    value substituted in is never expanded again. A token outside ``allowed``, a lone ``%``
    or an unset variable is an error: ssh refuses rather than passes it through."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if env is not None and text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise TokenError("unterminated ${ in environment variable")
            out.append(_env_value(text[i + 2 : end], env))
            i = end + 1
            continue
        if c != "%":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(text):
            raise TokenError("'%' at end of string")
        key = text[i + 1]
        if key == "%":
            out.append("%")
        elif key in allowed and key in values:
            out.append(values[key])
        else:
            raise TokenError(f"unknown token %{key}")
        i += 2
    return "".join(out)


def _env_value(name: str, env: Mapping[str, str]) -> str:
    if not name or name not in env:
        raise TokenError(f"environment variable {name!r} is not set")
    return env[name]


def expand_tilde(path: str, ctx: LocalContext) -> str:
    """``~`` and ``~/x`` to the local home, ``~user/x`` to that user's home."""
    if not path.startswith("~"):
        return path
    name, sep, rest = path[1:].partition("/")
    if not name:
        home: str | None = ctx.home
    else:
        home = ctx.home_of(name)
        if home is None:
            raise TokenError(f"no such user {name!r} for {path!r}")
    assert home is not None
    if not sep:
        return home
    return home.rstrip("/") + "/" + rest


# -- typed values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """One LocalForward, RemoteForward or DynamicForward.

    The listening side is a ``listen_port`` (with an optional ``listen_host`` bind address)
    or a unix socket ``listen_path``; the connecting side likewise, and absent (all None)
    for dynamic (SOCKS) forwards.
    """

    listen_host: str | None = None
    listen_port: int | None = None
    listen_path: str | None = None
    connect_host: str | None = None
    connect_port: int | None = None
    connect_path: str | None = None

    @property
    def dynamic(self) -> bool:
        return self.connect_host is None and self.connect_path is None

    def listen_spec(self) -> str:
        """The listening side as ``ssh -G`` prints it."""
        if self.listen_path is not None:
            return self.listen_path
        if self.listen_host is not None:
            return f"[{self.listen_host}]:{self.listen_port}"
        return str(self.listen_port)

    def connect_spec(self) -> str:
        if self.connect_path is not None:
            return self.connect_path
        if self.connect_host is None:
            return ""
        return f"[{self.connect_host}]:{self.connect_port}"


@dataclass(frozen=True)
class ProxyHop:
    """One ProxyJump hop: ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None


# -- argument parsers ----------------------------------------------------------------------

_TRUE = ("yes", "true")
_FALSE = ("no", "false")


def _one(args: list[str], what: str = "argument") -> str:
    if not args or args[0] == "":
        raise TokenError(f"missing {what}")
    if len(args) > 1:
        raise TokenError("extra arguments at end of line")
    return args[0]


def _choice(table: Mapping[str, str]) -> Callable[[list[str]], str]:
    def parse(args: list[str]) -> str:
        arg = _one(args).lower()
        if arg not in table:
            raise TokenError(f"unsupported option {args[0]!r}")
        return table[arg]

    return parse


def _flag(args: list[str]) -> bool:
    arg = _one(args).lower()
    if arg in _TRUE:
        return True
    if arg in _FALSE:
        return False
    raise TokenError(f"unsupported option {args[0]!r}")


def _int(args: list[str]) -> int:
    arg = _one(args)
    if not arg.isascii() or not arg.isdigit():
        raise TokenError(f"invalid number {arg!r}")
    return int(arg)


SERVICES_FILE = "/etc/services"


@functools.lru_cache(maxsize=1)
def _tcp_services() -> dict[str, int]:
    """Service names to TCP ports from /etc/services, as ssh's getservbyname() sees them
    (read once; the socket module, which has getservbyname, is off limits here)."""
    table: dict[str, int] = {}
    try:
        with open(SERVICES_FILE, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return table
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        number, _, proto = fields[1].partition("/")
        if proto == "tcp" and number.isdigit():
            for name in (fields[0], *fields[2:]):
                table.setdefault(name, int(number))
    return table


def _port_number(text: str) -> int:
    if text.isascii() and text.isdigit():
        if 0 < int(text) < 65536:
            return int(text)
    elif text in _tcp_services():
        return _tcp_services()[text]
    raise TokenError(f"Bad port {text!r}")


def _port(args: list[str]) -> int:
    return _port_number(_one(args))


_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _seconds(text: str) -> int:
    """sshd_config(5) TIME FORMATS: ``90``, ``1m30s``, ``2h``."""
    total, digits, seen = 0, "", False
    for c in text.lower() + "\0":
        if c.isascii() and c.isdigit():
            digits += c
            continue
        unit = "" if c == "\0" else c
        if unit not in _TIME_UNITS or (not digits and (unit or not seen)):
            raise TokenError(f"invalid time value {text!r}")
        if digits:
            total += int(digits) * _TIME_UNITS[unit]
            seen = True
        digits = ""
    return total


def _time(args: list[str]) -> int | None:
    arg = _one(args)
    return None if arg.lower() == "none" else _seconds(arg)


def _string(args: list[str]) -> str:
    return _one(args)


def _list(args: list[str]) -> tuple[str, ...]:
    if not args or any(a == "" for a in args):
        raise TokenError("missing argument")
    return tuple(args)


_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _rekey(args: list[str]) -> tuple[int, int]:
    if not args or len(args) > 2 or args[0] == "":
        raise TokenError("missing argument" if not args else "extra arguments at end of line")
    size_text = args[0].lower()
    if size_text == "default":
        size = 0
    else:
        number, unit = size_text, ""
        if number and number[-1] in _SCALE:
            number, unit = number[:-1], number[-1]
        try:
            size = int(float(number) * _SCALE[unit]) if number else -1
        except ValueError:
            size = -1
        if size < 0 or (0 < size < 16):
            raise TokenError(f"bad RekeyLimit {args[0]!r}")
    seconds = 0
    if len(args) == 2 and args[1].lower() not in ("none", "default"):
        seconds = _seconds(args[1])
    return size, seconds


def _log_level(args: list[str]) -> str:
    arg = _one(args).upper()
    levels = ("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2")
    if arg not in (*levels, "DEBUG3"):
        raise TokenError(f"unsupported log level {arg!r}")
    return "DEBUG" if arg == "DEBUG1" else arg  # one level, named as ssh -G names it


def _control_persist(args: list[str]) -> str:
    arg = _one(args).lower()
    if arg in _TRUE:
        return "yes"
    if arg in _FALSE:
        return "no"
    seconds = _seconds(arg)
    return str(seconds) if seconds else "yes"  # 0 seconds: persist forever, as "yes"


def _forward_agent(args: list[str]) -> tuple[bool, str | None]:
    arg = _one(args)
    if arg.lower() in _TRUE:
        return True, None
    if arg.lower() in _FALSE:
        return False, None
    if not arg.startswith(("/", "~", "$")):
        raise TokenError(f"invalid ForwardAgent socket path {arg!r}")
    return True, arg


def _agent_path(args: list[str]) -> str:
    arg = _one(args)
    if arg not in ("none", "SSH_AUTH_SOCK") and not arg.startswith(("/", "~", "$")):
        raise TokenError(f"invalid IdentityAgent path {arg!r}")
    return arg


def _pubkey_auth(args: list[str]) -> bool:
    arg = _one(args).lower()
    if arg in ("unbound", "host-bound"):
        return True
    return _flag(args)


def _split_host_port(text: str) -> tuple[str, str | None]:
    """``host:port``, ``[v6]:port``, ``host`` -> (host, port text or None)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise TokenError(f"unbalanced brackets in {text!r}")
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TokenError(f"garbage after address in {text!r}")
        return text[1:end], (rest[1:] if rest else None)
    host, sep, port = text.rpartition(":")
    return (host, port) if sep else (text, None)


def _listen(spec: str) -> tuple[str | None, int | None, str | None]:
    if "/" in spec:
        return None, None, spec
    host, port = _split_host_port(spec)
    if port is None:
        return None, _port_number(host), None  # a bare port
    # An empty bind address (":port") is kept: ssh reads it as "every address".
    return host, _port_number(port), None


def _target(spec: str) -> tuple[str | None, int | None, str | None]:
    if "/" in spec:
        return None, None, spec
    host, port = _split_host_port(spec)
    if not host or port is None:
        raise TokenError(f"bad forwarding target {spec!r}")
    return host, _port_number(port), None


def _forward(args: list[str], dynamic_ok: bool, static_ok: bool) -> Forward:
    if not args or len(args) > 2 or any(a == "" for a in args):
        raise TokenError("bad forwarding specification")
    lh, lp, lpath = _listen(args[0])
    if len(args) == 1:
        if not dynamic_ok:
            raise TokenError("missing forwarding target")
        return Forward(lh, lp, lpath)
    if not static_ok:
        raise TokenError("extra arguments at end of line")
    ch, cp, cpath = _target(args[1])
    return Forward(lh, lp, lpath, ch, cp, cpath)


def _parse_jump(args: list[str]) -> tuple[ProxyHop, ...] | None:
    arg = _one(args)
    if arg.lower() == "none":
        return None
    hops = []
    for item in arg.split(","):
        text = item[len("ssh://") :] if item.startswith("ssh://") else item
        user, at, rest = text.rpartition("@")
        if not at:
            user, rest = "", text
        host, port = _split_host_port(rest)
        if not host or (at and not user) or any(c.isspace() for c in item):
            raise TokenError(f"invalid ProxyJump {arg!r}")
        hops.append(ProxyHop(host, user or None, _port_number(port) if port else None))
    return tuple(hops)


# kind: "single" (first value wins), "list" (values accumulate), or a special name.
