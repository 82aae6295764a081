"""OpenSSH host patterns: ``*``/``?`` wildcards, ``!`` negation, comma lists, ``[host]:port``
names and CIDR address lists, as described in ssh_config(5) "PATTERNS" and sshd(8).

Matching is iterative (no regular expressions, no recursion), so a hostile pattern costs at
most ``len(subject) * len(pattern)`` steps.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable

from .errors import KeyFormatError

__all__ = [
    "PatternMatch",
    "match_glob",
    "match_pattern_list",
    "match_hostname",
    "match_address_list",
    "match_host_and_address",
    "validate_address_list",
    "host_port_name",
    "split_host_port",
    "split_lines",
    "split_field",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PatternMatch(enum.Enum):
    """Outcome of matching a pattern list: a negated match beats any positive one."""

    NONE = 0
    POSITIVE = 1
    NEGATED = -1

    def __bool__(self) -> bool:
        return self is PatternMatch.POSITIVE


def match_glob(subject: str, pattern: str) -> bool:
    """True if ``subject`` matches ``pattern`` entirely (``*`` any run, ``?`` one character)."""
    s = p = 0
    star_p = -1  # position after the last '*' seen in the pattern
    star_s = 0  # subject position that '*' is currently standing in for
    while s < len(subject):
        if p < len(pattern) and pattern[p] == "*":
            star_p, star_s = p + 1, s
            p += 1
        elif p < len(pattern) and (pattern[p] == "?" or pattern[p] == subject[s]):
            s += 1
            p += 1
        elif star_p >= 0:
            # Let the last '*' swallow one more character and retry from there.
            star_s += 1
            s, p = star_s, star_p
        else:
            return False
    return all(c == "*" for c in pattern[p:])


def _entries(patterns: str | Iterable[str]) -> Iterable[str]:
    return patterns.split(",") if isinstance(patterns, str) else patterns


def match_pattern_list(
    subject: str, patterns: str | Iterable[str], *, ignore_case: bool = True
) -> PatternMatch:
    """Match ``subject`` against a comma-separated list of (possibly ``!``-negated) globs.

    As OpenSSH's pattern lists: any matching negated entry gives NEGATED, whatever else
    matches; otherwise POSITIVE if some entry matches, else NONE.
    """
    if ignore_case:
        subject = subject.lower()
    result = PatternMatch.NONE
    for entry in _entries(patterns):
        negated = entry.startswith("!")
        glob = entry[1:] if negated else entry
        if ignore_case:
            glob = glob.lower()
        if match_glob(subject, glob):
            if negated:
                return PatternMatch.NEGATED
            result = PatternMatch.POSITIVE
    return result


def match_hostname(host: str, patterns: str | Iterable[str]) -> PatternMatch:
    """Match a host name (or ``[host]:port`` name) against a pattern list, ignoring case."""
    return match_pattern_list(host, patterns, ignore_case=True)


def _parse_address(text: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return _unmap(addr)


def _unmap(addr: IPAddress) -> IPAddress:
    # sshd sees IPv4 clients on a dual-stack socket as ::ffff:a.b.c.d; match them as IPv4.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What inet_aton (and so sshd's getaddrinfo(AI_NUMERICHOST) on glibc) reads as an IPv4
# address: one to four decimal, octal (0...) or hex (0x...) parts, e.g. 10.1 or 0x0a000001.
_INET_ATON = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")


def _parse_cidr(entry: str) -> _Network | IPAddress | None:
    """An address or address/prefix entry; None if it is not one (then it is a glob).

    An address with a bad prefix length, or with host bits set below the prefix, is an
    error rather than a silent non-match, so a typo cannot widen or narrow access unseen;
    so are the inet_aton forms (``10.1``, ``010.0.0.1``, ``0x0a000001``) sshd reads as
    addresses but :mod:`ipaddress` does not.
    """
    text, slash, prefix = entry.partition("/")
    addr = _parse_address(text) if text else None
    if addr is None:
        if _INET_ATON.fullmatch(text):
            # sshd would take it as an address, we as a glob that never matches: refuse
            # rather than let a negation written this way silently not apply.
            raise KeyFormatError(f"ambiguous IPv4 notation in address pattern {entry!r}")
        return None
    if not slash:
        return addr
    max_len = 32 if isinstance(addr, ipaddress.IPv4Address) else 128
    if not prefix.isdigit() or not prefix.isascii() or int(prefix) > max_len:
        raise KeyFormatError(f"invalid prefix length in address pattern {entry!r}")
    try:
        return ipaddress.ip_network(f"{addr}/{int(prefix)}", strict=True)
    except ValueError:
        raise KeyFormatError(f"address pattern {entry!r} has host bits set") from None


def validate_address_list(patterns: str | Iterable[str]) -> None:
    """Raise :class:`KeyFormatError` if an entry looks like an address but is not valid CIDR."""
    for entry in _entries(patterns):
        _parse_cidr(entry[1:] if entry.startswith("!") else entry)


def match_address_list(address: str | IPAddress, patterns: str | Iterable[str]) -> PatternMatch:
    """Match a client address against a list of addresses, CIDR blocks and globs.

    Entries that parse as an address or network are compared numerically; anything else is a
    glob matched against the address text (so ``192.168.1.*`` works). Bad CIDR raises
    :class:`KeyFormatError`.
    """
    if isinstance(address, str):
        parsed = _parse_address(address)
        text = str(parsed) if parsed is not None else address.lower()
    else:
        parsed = _unmap(address)
        text = str(parsed)
    result = PatternMatch.NONE
    for entry in _entries(patterns):
        negated = entry.startswith("!")
        body = entry[1:] if negated else entry
        spec = _parse_cidr(body)
        if spec is None:
            hit = match_glob(text, body.lower())
        elif parsed is None:
            hit = False
        elif isinstance(spec, ipaddress.IPv4Network | ipaddress.IPv6Network):
            hit = spec.version == parsed.version and parsed in spec
        else:
            hit = spec == parsed
        if hit:
            if negated:
                return PatternMatch.NEGATED
            result = PatternMatch.POSITIVE
    return result


def match_host_and_address(
    hostname: str | None, address: str | IPAddress, patterns: str | Iterable[str]
) -> bool:
    """sshd's rule for ``from=`` and similar lists: the client is allowed if its address or
    its host name matches positively and neither matches a negated entry.

    Without a resolved name (``UseDNS no``) sshd matches name patterns against the address
    text, and so do we when ``hostname`` is None.
    """
    entries = list(_entries(patterns))
    by_address = match_address_list(address, entries)
    if by_address is PatternMatch.NEGATED:
        return False
    if hostname is None:
        hostname = str(address)
    by_name = match_hostname(hostname, entries)
    if by_name is PatternMatch.NEGATED:
        return False
    return PatternMatch.POSITIVE in (by_name, by_address)


def host_port_name(host: str, port: int = 22) -> str:
    """The name OpenSSH uses for a host in known_hosts: ``host`` or ``[host]:port``."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return host if port == 22 else f"[{host}]:{port}"


def split_host_port(name: str) -> tuple[str, int]:
    """Inverse of :func:`host_port_name`: ``[host]:2222`` -> ("host", 2222), else port 22."""
    if name.startswith("["):
        host, sep, rest = name[1:].partition("]:")
        if sep and rest.isdigit() and rest.isascii() and 0 < int(rest) < 65536:
            return host, int(rest)
    return name, 22


def split_lines(text: str) -> list[str]:
    """Lines as OpenSSH reads host files: split on newline only (a final one ends the last
    line), so that other Unicode line breaks stay inside a line and files round-trip."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def split_field(text: str) -> tuple[str, str]:
    """Split off the first space/tab-separated field (host files separate fields by those two
    characters only); the rest has its leading blanks removed."""
    for i, c in enumerate(text):
        if c in " \t":
            return text[:i], text[i:].lstrip(" \t")
    return text, ""
