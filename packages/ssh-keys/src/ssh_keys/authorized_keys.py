"""authorized_keys files: sshd(8) "AUTHORIZED_KEYS FILE FORMAT".

Each line is ``[options] keytype base64 [comment]``. Options are comma-separated, end at the
first unquoted space or tab, and values are double-quoted with ``\\"`` for a literal quote
(other backslashes are kept as they are, as sshd does). Option names are case-insensitive;
unknown options, malformed values and repeated single-valued options are rejected, as sshd
rejects them. Parsed options are a frozen :class:`AuthorizedKeyOptions` the server enforces.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .errors import KeyFormatError, UnsupportedAlgorithm
from .patterns import (
    match_glob,
    match_host_and_address,
    split_field,
    split_lines,
    validate_address_list,
)
from .public import PublicKey, PublicKeyLine, _key_like, parse_public_key_line

__all__ = [
    "AuthorizedKeyOptions",
    "AuthorizedKey",
    "AuthorizedKeys",
    "AuthorizedKeysError",
    "AuthorizedKeysWarning",
    "PermitOpen",
    "PermitListen",
    "parse_options",
    "TUNNEL_ANY",
]

TUNNEL_ANY: Literal["any"] = "any"
_TUNNEL_MAX = 0x7FFFFFFF - 2  # sshd's largest tun device number

# Flags sshd accepts; the value is the field they set. The first five may be negated with
# "no-" and are the ones `restrict` turns off.
_RESTRICTABLE = {
    "agent-forwarding": "agent_forwarding",
    "port-forwarding": "port_forwarding",
    "pty": "pty",
    "user-rc": "user_rc",
    "x11-forwarding": "x11_forwarding",
}
_VALUE_OPTIONS = frozenset(
    {
        "command",
        "environment",
        "expiry-time",
        "from",
        "permitopen",
        "permitlisten",
        "principals",
        "tunnel",
    }
)
_FLAG_OPTIONS = frozenset(
    {
        *_RESTRICTABLE,
        *(f"no-{name}" for name in _RESTRICTABLE),
        "restrict",
        "cert-authority",
        "touch-required",
        "no-touch-required",
        "verify-required",
    }
)
_SINGLE_VALUED = {"command": "command", "from": "from_patterns", "principals": "principals"}


class AuthorizedKeysError(KeyFormatError):
    """A malformed authorized_keys line; ``line_number`` is 1-based (0 outside a file)."""

    def __init__(self, reason: str, line_number: int = 0) -> None:
        self.reason = reason
        self.line_number = line_number
        super().__init__(f"line {line_number}: {reason}" if line_number else reason)


@dataclass(frozen=True)
class PermitOpen:
    """A ``permitopen="host:port"`` destination; host ``*`` and port None match any."""

    host: str
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        # sshd compares the host literally: no patterns, no name lookup.
        return (self.host == "*" or self.host == host) and (self.port is None or self.port == port)


@dataclass(frozen=True)
class PermitListen:
    """A ``permitlisten="[host:]port"`` listener; host is a pattern, None and ``*`` any."""

    host: str | None
    port: int | None

    def matches(self, host: str | None, port: int) -> bool:
        # An empty listen address means localhost to sshd.
        listen_host = (host or "localhost").lower()
        host_ok = self.host is None or match_glob(listen_host, self.host.lower())
        return host_ok and (self.port is None or self.port == port)


@dataclass(frozen=True)
class AuthorizedKeyOptions:
    """The options of one authorized_keys line, with the restrictions already resolved."""

    agent_forwarding: bool = True
    port_forwarding: bool = True
    pty: bool = True
    user_rc: bool = True
    x11_forwarding: bool = True
    restricted: bool = False  # `restrict` was given (also turns off future features)
    cert_authority: bool = False
    command: str | None = None
    environment: tuple[tuple[str, str], ...] = ()  # first value of each name, in order
    expiry_time: datetime | None = None  # naive means the server's local time
    from_patterns: str | None = None
    permitopen: tuple[PermitOpen, ...] = ()
    permitlisten: tuple[PermitListen, ...] = ()
    principals: tuple[str, ...] | None = None
    tunnel: int | Literal["any"] | None = None
    no_touch_required: bool = False
    verify_required: bool = False

    @classmethod
    def parse(cls, text: str) -> AuthorizedKeyOptions:
        """Parse an options field by itself (``no-pty,command="x"``)."""
        options, end = parse_options(text)
        if end != len(text):
            raise AuthorizedKeysError("text after the options")
        return options

    @property
    def environment_dict(self) -> dict[str, str]:
        return dict(self.environment)

    def allows_from(self, client_address: str, client_hostname: str | None = None) -> bool:
        """sshd's ``from=`` check: address (CIDR, globs) or name matches, nothing negated."""
        if self.from_patterns is None:
            return True
        return match_host_and_address(client_hostname, client_address, self.from_patterns)

    def expired(self, now: datetime) -> bool:
        """True once ``now`` is past ``expiry-time`` (naive times are local time)."""
        if self.expiry_time is None:
            return False
        return _aware(now) > _aware(self.expiry_time)

    def permits_open(self, host: str, port: int) -> bool:
        """May the client open a direct-tcpip channel (``ssh -L``) to ``host:port``?"""
        if not self.port_forwarding:
            return False
        return not self.permitopen or any(p.matches(host, port) for p in self.permitopen)

    def permits_listen(self, host: str | None, port: int) -> bool:
        """May the client ask the server to listen (``ssh -R``) on ``host:port``?"""
        if not self.port_forwarding:
            return False
        return not self.permitlisten or any(p.matches(host, port) for p in self.permitlisten)


def _dequote(text: str, pos: int) -> tuple[str, int]:
    """Read a double-quoted value at ``pos``; return it and the position after its quote."""
    if pos >= len(text) or text[pos] != '"':
        raise AuthorizedKeysError("option value must start with a double quote")
    pos += 1
    out = []
    while pos < len(text) and text[pos] != '"':
        if text[pos] == "\\" and text.startswith('"', pos + 1):
            pos += 1  # \" is a literal quote; any other backslash stays
        out.append(text[pos])
        pos += 1
    if pos >= len(text):
        raise AuthorizedKeysError("option value is missing its closing quote")
    return "".join(out), pos + 1


def _parse_port(text: str, what: str, *, allow_zero: bool = False) -> int | None:
    if text == "*":
        return None
    low = 0 if allow_zero else 1
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= 65535:
        raise AuthorizedKeysError(f"invalid {what} port {text!r}")
    return int(text)


def _split_host_port(value: str, what: str) -> tuple[str | None, str]:
    """Split ``host:port`` or ``[v6]:port``; host None when there is no host part."""
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise AuthorizedKeysError(f"invalid {what} address {value!r}")
    elif ":" in value:
        host, _, port = value.partition(":")
    else:
        return None, value
    if not host or any(c.isspace() for c in host):
        raise AuthorizedKeysError(f"invalid {what} host name in {value!r}")
    return host, port


def _parse_expiry(value: str) -> datetime:
    utc = value.endswith(("Z", "z"))
    digits = value[:-1] if utc else value
    if len(digits) not in (8, 12, 14) or not (digits.isascii() and digits.isdigit()):
        raise AuthorizedKeysError(f"invalid expiry-time {value!r}")
    fields = [int(digits[:4])] + [int(digits[i : i + 2]) for i in range(4, len(digits), 2)]
    try:
        when = datetime(*fields)  # type: ignore[arg-type]
    except ValueError:
        raise AuthorizedKeysError(f"invalid expiry-time {value!r}") from None
    return when.replace(tzinfo=timezone.utc) if utc else when


def _parse_environment(value: str) -> tuple[str, str]:
    name, eq, rest = value.partition("=")
    if not eq or not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        raise AuthorizedKeysError(f"invalid environment string {value!r}")
    return name, rest


def _parse_tunnel(value: str) -> int | Literal["any"]:
    if value.lower() == TUNNEL_ANY:
        return TUNNEL_ANY
    if not (value.isascii() and value.isdigit()) or int(value) > _TUNNEL_MAX:
        raise AuthorizedKeysError(f"invalid tunnel device {value!r}")
    return int(value)


def _aware(when: datetime) -> datetime:
    """Naive times are the server's local time, as sshd reads expiry-time."""
    if when.tzinfo is not None:
        return when
    try:
        return when.astimezone()
    except (OverflowError, ValueError, OSError):
        # Out of the platform's range (years 1 or 9999): an hour either way does not matter.
        return when.replace(tzinfo=timezone.utc)


@dataclass
class _Builder:
    values: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    permitopen: list[PermitOpen] = field(default_factory=list)
    permitlisten: list[PermitListen] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name in _RESTRICTABLE:
            self.values[_RESTRICTABLE[name]] = True
        elif name.startswith("no-") and name[3:] in _RESTRICTABLE:
            self.values[_RESTRICTABLE[name[3:]]] = False
        elif name == "restrict":
            self.values.update(dict.fromkeys(_RESTRICTABLE.values(), False), restricted=True)
        elif name == "cert-authority":
            self.values["cert_authority"] = True
        elif name in ("touch-required", "no-touch-required"):
            self.values["no_touch_required"] = name == "no-touch-required"
        else:  # verify-required
            self.values["verify_required"] = True

    def value(self, name: str, value: str) -> None:
        if name in _SINGLE_VALUED:
            attr = _SINGLE_VALUED[name]
            if attr in self.values:
                raise AuthorizedKeysError(f'multiple "{name}" options')
            if name == "from":
                try:
                    validate_address_list(value)
                except KeyFormatError as exc:
                    raise AuthorizedKeysError(f"invalid from= pattern list: {exc}") from None
                self.values[attr] = value
            elif name == "principals":
                self.values[attr] = tuple(value.split(","))
            else:
                self.values[attr] = value
        elif name == "environment":
            env_name, env_value = _parse_environment(value)
            self.environment.setdefault(env_name, env_value)  # sshd: first one wins
        elif name == "expiry-time":
            when = _parse_expiry(value)
            old = self.values.get("expiry_time")
            # Several expiry-times: the earliest applies.
            if old is None or _aware(when) < _aware(old):
                self.values["expiry_time"] = when
        elif name == "permitopen":
            host, port = _split_host_port(value, "permitopen")
            if host is None:
                raise AuthorizedKeysError(f"permitopen needs host:port, got {value!r}")
            self.permitopen.append(PermitOpen(host, _parse_port(port, "permitopen")))
        elif name == "permitlisten":
            host, port = _split_host_port(value, "permitlisten")
            listen_port = _parse_port(port, "permitlisten", allow_zero=True)
            self.permitlisten.append(PermitListen(None if host == "*" else host, listen_port))
        else:  # tunnel
            if "tunnel" in self.values:
                raise AuthorizedKeysError('multiple "tunnel" options')
            self.values["tunnel"] = _parse_tunnel(value)

    def build(self) -> AuthorizedKeyOptions:
        return AuthorizedKeyOptions(
            **self.values,
            environment=tuple(self.environment.items()),
            permitopen=tuple(self.permitopen),
            permitlisten=tuple(self.permitlisten),
        )


def parse_options(text: str, pos: int = 0) -> tuple[AuthorizedKeyOptions, int]:
    """Parse options starting at ``pos``; return them and the position where they end
    (the first unquoted space or tab, or the end of ``text``)."""
    builder = _Builder()
    n = len(text)
    while True:
        start = pos
        while pos < n and text[pos] not in '=, \t"':
            pos += 1
        name = text[start:pos].lower()
        if not name:
            raise AuthorizedKeysError("empty option name")
        if pos < n and text[pos] == "=":
            if name not in _VALUE_OPTIONS:
                raise AuthorizedKeysError(f"unknown or valueless option {name!r} given a value")
            value, pos = _dequote(text, pos + 1)
            builder.value(name, value)
        elif name in _FLAG_OPTIONS:
            builder.flag(name)
        elif name in _VALUE_OPTIONS:
            raise AuthorizedKeysError(f"option {name!r} needs a value")
        else:
            raise AuthorizedKeysError(f"unknown option {name!r}")
        if pos >= n or text[pos] in " \t":
            return builder.build(), pos
        if text[pos] != ",":
            raise AuthorizedKeysError(f"unexpected {text[pos]!r} after option {name!r}")
        pos += 1


@dataclass(frozen=True)
class AuthorizedKey:
    """One authorized_keys line: the key, what it may do, and where it came from."""

    key: PublicKey
    options: AuthorizedKeyOptions
    comment: str
    line_number: int
    line: str

    def matches(self, key: PublicKey | PublicKeyLine) -> bool:
        """As sshd: a certificate matches only a cert-authority line for its CA; a plain
        key matches only a line with that key and no cert-authority."""
        key = _key_like(key)
        ca: PublicKey | None = getattr(key, "signature_key", None)
        if ca is not None:
            return self.options.cert_authority and self.key == ca
        return not self.options.cert_authority and self.key == key


@dataclass(frozen=True)
class AuthorizedKeysWarning:
    """A line skipped in non-strict mode (or for an unsupported key type), and why."""

    line_number: int
    line: str
    reason: str


def _looks_like_options(token: str) -> bool:
    if any(c in token for c in '=,"') or token.lower() in _FLAG_OPTIONS:
        return True
    return not (token.startswith(("ssh-", "ecdsa-", "sk-")) or "@" in token)


def parse_line(line: str, line_number: int = 0) -> AuthorizedKey | None:
    """Parse one line; None for blank and comment lines. Raises AuthorizedKeysError
    (UnsupportedAlgorithm for a well-formed line with a key type we do not know)."""
    body = line.strip(" \t\r\n\v\f")
    if not body or body.startswith("#"):
        return None
    try:
        try:
            parsed = parse_public_key_line(body)
            return AuthorizedKey(parsed.key, AuthorizedKeyOptions(), parsed.comment, 0, line)
        except KeyFormatError as exc:
            bare_key_error = exc
        first = split_field(body)[0]
        try:
            options, end = parse_options(body)
        except AuthorizedKeysError:
            if isinstance(bare_key_error, UnsupportedAlgorithm) or not _looks_like_options(first):
                raise bare_key_error from None
            raise
        rest = body[end:].strip(" \t")
        if not rest:
            raise AuthorizedKeysError("no key after the options")
        parsed = parse_public_key_line(rest)
        return AuthorizedKey(parsed.key, options, parsed.comment, 0, line)
    except UnsupportedAlgorithm:
        raise
    except AuthorizedKeysError as exc:
        raise AuthorizedKeysError(exc.reason, line_number) from None
    except KeyFormatError as exc:
        raise AuthorizedKeysError(str(exc), line_number) from None


class AuthorizedKeys:
    """A parsed authorized_keys file.

    ``strict`` (the default) raises :class:`AuthorizedKeysError` (a KeyFormatError naming the
    line) for the first bad line; ``strict=False`` skips bad lines and records them in
    :attr:`warnings`, which is what sshd does. Lines whose key type is not supported are
    always skipped with a warning: they are valid, just not usable here.
    """

    def __init__(
        self, text: str = "", *, strict: bool = True, path: str | os.PathLike[str] | None = None
    ) -> None:
        self.path = path
        entries: list[AuthorizedKey] = []
        warnings: list[AuthorizedKeysWarning] = []
        for number, line in enumerate(split_lines(text), 1):
            try:
                entry = parse_line(line, number)
            except UnsupportedAlgorithm as exc:
                warnings.append(AuthorizedKeysWarning(number, line, str(exc)))
                continue
            except AuthorizedKeysError as exc:
                if strict:
                    raise
                warnings.append(AuthorizedKeysWarning(number, line, exc.reason))
                continue
            if entry is not None:
                entries.append(AuthorizedKey(entry.key, entry.options, entry.comment, number, line))
        self._entries = tuple(entries)
        self._warnings = tuple(warnings)

    @classmethod
    def from_text(cls, text: str, *, strict: bool = True) -> AuthorizedKeys:
        return cls(text, strict=strict)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict: bool = True) -> AuthorizedKeys:
        """Read a file (``~`` expanded)."""
        path = os.path.expanduser(path)
        with open(path, "rb") as f:
            data = f.read()
        return cls(data.decode("utf-8", "surrogateescape"), strict=strict, path=path)

    @property
    def entries(self) -> tuple[AuthorizedKey, ...]:
        return self._entries

    @property
    def warnings(self) -> tuple[AuthorizedKeysWarning, ...]:
        return self._warnings

    def __iter__(self) -> Iterator[AuthorizedKey]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, key: PublicKey | PublicKeyLine) -> list[AuthorizedKey]:
        """Entries that authorize ``key``: its own lines, or for a certificate (anything with
        a ``signature_key``) the cert-authority lines of its CA. The caller still checks
        the options (from=, expiry-time, principals...) and the certificate itself."""
        key = _key_like(key)
        return [e for e in self._entries if e.matches(key)]
