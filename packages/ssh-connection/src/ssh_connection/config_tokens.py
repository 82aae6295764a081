"""Lexing and expansion for ssh_config(5): argument splitting, ``%`` tokens, ``${ENV}``, ``~``.

Pure functions: the local facts they need (user, home, host name, environment) come in a
:class:`LocalContext`, which :meth:`LocalContext.current` fills from the running process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "LocalContext",
    "TokenError",
    "split_arguments",
    "split_keyword",
    "expand_tokens",
    "expand_env",
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
    """A bad token, quote or variable; the config layer adds file and line."""


def _home_of(user: str) -> str | None:
    try:
        import pwd  # POSIX only: no per-user home directories to look up elsewhere
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
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


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` only (unix socket paths of forwardings); an unset variable or an
    unclosed brace is an error (ssh then ignores the setting, we refuse it)."""
    return expand_tokens(text.replace("%", "%%"), {}, frozenset(), env)


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
