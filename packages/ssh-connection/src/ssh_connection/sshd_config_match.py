"""sshd_config(5) lexing and ``Match`` criteria: how sshd splits a line into a keyword and
arguments, and how a Match line is checked against one connection.

Patterns reuse ssh-keys' OpenSSH pattern functions, so ``!`` negation, ``*``/``?`` and CIDR
behave as in authorized_keys and known_hosts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ssh_keys import (
    KeyFormatError,
    PatternMatch,
    match_address_list,
    match_hostname,
    match_pattern_list,
    validate_address_list,
)

__all__ = [
    "MatchConnection",
    "GroupsOf",
    "MatchCriteria",
    "split_keyword",
    "split_args",
    "parse_match",
    "system_groups",
]

#: ``groups_of(user)``: the user's group names (primary and supplementary), or None if
#: there is no such user (then ``Match Group`` never matches, as in sshd).
GroupsOf = Callable[[str], Iterable[str] | None]

_BLANKS = " \t"


def split_keyword(line: str) -> tuple[str, str] | None:
    """Split a line into its keyword and the rest, as sshd does: the keyword ends at blanks
    and/or one ``=``. None for blank and comment lines."""
    line = line.rstrip(" \t\r\n\f")
    text = line.lstrip(_BLANKS)
    if not text or text.startswith("#"):
        return None
    end = 0
    while end < len(text) and text[end] not in " \t=":
        end += 1
    keyword, rest = text[:end], text[end:]
    rest = rest.lstrip(_BLANKS)
    if rest.startswith("="):
        rest = rest[1:].lstrip(_BLANKS)
    return keyword, rest


def split_args(text: str) -> list[str]:
    """Split arguments at blanks with sshd's quoting: ``"..."`` or ``'...'`` group words,
    backslash escapes a quote, a backslash or (outside quotes) a space, and ``#`` at the
    start of a word ends the line. Raises ValueError on an unterminated quote."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in _BLANKS:
            i += 1
            continue
        if text[i] == "#":
            break
        word: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            nxt = text[i + 1] if i + 1 < n else ""
            if c == "\\" and (nxt in ("'", '"', "\\") or (not quote and nxt == " ")):
                word.append(nxt)
                i += 2
                continue
            if not quote and c in _BLANKS:
                break
            if not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                word.append(c)
            i += 1
        if quote:
            raise ValueError("invalid quotes")
        args.append("".join(word))
    return args


@dataclass(frozen=True)
class MatchConnection:
    """What Match sees of a connection (sshd -T's ``-C user=,host=,addr=,laddr=,lport=``).

    A field left None never satisfies a criterion that needs it.
    """

    user: str | None = None
    host: str | None = None
    address: str | None = None
    local_address: str | None = None
    local_port: int | None = None
    rdomain: str | None = None


_CRITERIA = ("user", "group", "host", "address", "localaddress", "localport", "rdomain")


@dataclass(frozen=True)
class MatchCriteria:
    """One Match line: ``all`` or (criterion, pattern list) pairs, all of which must hold."""

    terms: tuple[tuple[str, str], ...]
    all: bool = False

    def matches(self, conn: MatchConnection, groups_of: GroupsOf | None = None) -> bool:
        return self.all or all(_term(name, pat, conn, groups_of) for name, pat in self.terms)


def parse_match(args: list[str]) -> MatchCriteria:
    """Parse a Match line's arguments; ValueError with sshd's wording when it is bad."""
    if not args:
        raise ValueError("One or more attributes required for Match")
    if args[0].lower() == "all":
        if len(args) > 1:
            raise ValueError("'all' cannot be combined with other Match attributes")
        return MatchCriteria((), all=True)
    terms: list[tuple[str, str]] = []
    it = iter(args)
    for attr in it:
        name = attr.lower()
        if name == "all":
            raise ValueError("'all' cannot be combined with other Match attributes")
        if name not in _CRITERIA:
            raise ValueError(f"Unsupported Match attribute {attr}")
        pattern = next(it, None)
        if pattern is None:
            raise ValueError(f"Missing Match criteria for {attr}")
        if name in ("address", "localaddress"):
            try:
                validate_address_list(pattern)
            except KeyFormatError as exc:
                raise ValueError(str(exc)) from None
        if name == "localport" and _port(pattern) is None:
            raise ValueError(f"Invalid LocalPort '{pattern}' on Match line")
        terms.append((name, pattern))
    return MatchCriteria(tuple(terms))


def _port(text: str) -> int | None:
    if text.isascii() and text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def _address_matches(address: str | None, patterns: str) -> bool:
    if address is None:
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False  # sshd matches addresses numerically; a name never matches
    return match_address_list(address, patterns) is PatternMatch.POSITIVE


def _term(name: str, patterns: str, conn: MatchConnection, groups_of: GroupsOf | None) -> bool:
    if name == "user":
        # User names compare case-sensitively, host names do not (as in sshd).
        return conn.user is not None and bool(
            match_pattern_list(conn.user, patterns, ignore_case=False)
        )
    if name == "group":
        if conn.user is None or groups_of is None:
            return False
        groups = groups_of(conn.user)
        if groups is None:
            return False
        results = [match_pattern_list(g, patterns, ignore_case=False) for g in groups]
        if PatternMatch.NEGATED in results:
            return False
        return PatternMatch.POSITIVE in results
    if name == "host":
        return conn.host is not None and bool(match_hostname(conn.host, patterns))
    if name == "address":
        return _address_matches(conn.address, patterns)
    if name == "localaddress":
        return _address_matches(conn.local_address, patterns)
    if name == "localport":
        return conn.local_port is not None and conn.local_port == _port(patterns)
    # rdomain
    return conn.rdomain is not None and bool(
        match_pattern_list(conn.rdomain, patterns, ignore_case=False)
    )


def system_groups(user: str) -> list[str] | None:
    """The local user's groups from the system databases; inject it as ``groups_of`` to
    make ``Match Group`` behave as on this host."""
    import grp
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    names = [g.gr_name for g in grp.getgrall() if user in g.gr_mem]
    try:
        primary = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        return names
    return [primary, *(n for n in names if n != primary)]
