"""The sshd_config keywords: how each one's arguments parse, whether it may appear in a
Match block, how repeats combine, its default and how ``sshd -T`` prints it (OpenSSH 9.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ssh_keys import KeyFormatError, match_glob, validate_address_list

__all__ = [
    "Keyword",
    "KEYWORDS",
    "ALIASES",
    "UNSUPPORTED",
    "UNSUPPORTED_IN_MATCH",
    "DEFAULT_ALGORITHMS",
    "KNOWN_ALGORITHMS",
    "parse_time",
    "expand_algorithms",
]

Value = object
Parser = Callable[[list[str], str], Value]


@dataclass(frozen=True)
class Keyword:
    """``combine``: "first" (first line wins), "append" (arguments accumulate over lines)
    or "table" (Subsystem: one entry per line, duplicates refused)."""

    name: str
    parse: Parser
    default: Value
    in_match: bool = False
    combine: str = "first"
    dump: Callable[[Value], list[str]] | None = None


# -- argument parsers ------------------------------------------------------------------------


def _one(args: list[str], keyword: str) -> str:
    if len(args) > 1:
        raise ValueError(f"keyword {keyword} extra arguments at end of line")
    return args[0]


def _choice(table: dict[str, str], keyword: str) -> Parser:
    def parse(args: list[str], rest: str) -> Value:
        arg = _one(args, keyword)
        value = table.get(arg.lower())
        if value is None:
            raise ValueError(f'unsupported option "{arg}".')
        return value

    return parse


_YES_NO = {"yes": "yes", "no": "no"}


def _flag(keyword: str) -> Parser:
    choice = _choice(_YES_NO, keyword)
    return lambda args, rest: choice(args, rest) == "yes"


def _int(keyword: str) -> Parser:
    def parse(args: list[str], rest: str) -> Value:
        arg = _one(args, keyword)
        if not (arg.isascii() and arg.isdigit()) or int(arg) > 0x7FFF_FFFF:
            raise ValueError(f"{keyword} integer value {arg}.")
        return int(arg)

    return parse


_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_PART = re.compile(r"([0-9]+)([sSmMhHdDwW]?)")


def parse_time(text: str) -> int:
    """sshd's time format: seconds, or number+unit runs like ``1h30m`` (s m h d w)."""
    if not text:
        raise ValueError("empty time")
    total, pos = 0, 0
    while pos < len(text):
        m = _TIME_PART.match(text, pos)
        if m is None:
            raise ValueError(f"invalid time value {text!r}")
        total += int(m.group(1)) * _TIME_UNITS[m.group(2).lower()]
        pos = m.end()
    if total > 0x7FFF_FFFF:
        raise ValueError(f"time value {text!r} too large")
    return total


def _time(keyword: str) -> Parser:
    def parse(args: list[str], rest: str) -> Value:
        arg = _one(args, keyword)
        try:
            return parse_time(arg)
        except ValueError:
            raise ValueError(f"invalid time value {arg}.") from None

    return parse


def _time_or_none(keyword: str) -> Parser:
    time = _time(keyword)

    def parse(args: list[str], rest: str) -> Value:
        # 0 means "no timeout" as much as "none" does; sshd prints both as none.
        seconds = 0 if args == ["none"] else time(args, rest)
        return seconds or None

    return parse


def _string(keyword: str) -> Parser:
    def parse(args: list[str], rest: str) -> Value:
        arg = _one(args, keyword)
        if not arg:
            raise ValueError(f"{keyword} missing argument.")
        return arg

    return parse


def _path_item(keyword: str) -> Parser:
    string = _string(keyword)
    return lambda args, rest: (string(args, rest),)


def _rest(args: list[str], rest: str) -> Value:
    return rest  # ForceCommand: the rest of the line, quotes and all, as sshd keeps it


def _words(args: list[str], rest: str) -> Value:
    return tuple(args)


def _port(text: str) -> int | None:
    if text.isascii() and text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def _parse_port(args: list[str], rest: str) -> Value:
    port = _port(_one(args, "Port"))
    if port is None:
        raise ValueError("Badly formatted port number.")
    return (port,)


def split_host_port(text: str) -> tuple[str, str | None]:
    """``[host]:port``, ``host:port`` (one colon), or a bare host/IPv6 address."""
    if text.startswith("["):
        host, sep, tail = text[1:].partition("]")
        if not sep or (tail and not tail.startswith(":")):
            raise ValueError(f"invalid address {text!r}")
        return host, tail[1:] or None if tail else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def _listen(args: list[str], rest: str) -> Value:
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "rdomain"):
        raise ValueError("bad ListenAddress")
    host, port = split_host_port(args[0])
    if not host:
        raise ValueError("missing address")
    if port is not None and _port(port) is None:
        raise ValueError("bad port number")
    return ((host, None if port is None else int(port)),)


def _env_names(args: list[str], rest: str) -> Value:
    for arg in args:
        if not arg or "=" in arg:
            raise ValueError("Invalid environment name.")
    return tuple(args)


def _setenv(args: list[str], rest: str) -> Value:
    for arg in args:
        if "=" not in arg:
            raise ValueError("Invalid environment.")
    return tuple(args)


def _user_patterns(args: list[str], rest: str) -> Value:
    for arg in args:
        _, at, host = arg.rpartition("@")
        if at:
            try:
                validate_address_list(host)
            except KeyFormatError:
                raise ValueError(f"invalid user pattern {arg}") from None
    return tuple(args)


_AUTH_METHODS = {
    "none",
    "publickey",
    "password",
    "keyboard-interactive",
    "hostbased",
    "gssapi-with-mic",
}


def _auth_methods(args: list[str], rest: str) -> Value:
    if "any" in args:
        if len(args) > 1:
            raise ValueError('"any" must appear alone in AuthenticationMethods')
        return ("any",)
    for arg in args:
        for method in arg.split(","):
            if method.partition(":")[0] not in _AUTH_METHODS:
                raise ValueError(f'invalid authentication method list "{arg}"')
    return tuple(args)


def _permit_open(keyword: str, listen: bool) -> Parser:
    def parse(args: list[str], rest: str) -> Value:
        if args[0] in ("any", "none"):
            if len(args) > 1:
                raise ValueError(f'keyword {keyword} "{args[0]}" argument must appear alone.')
            return (args[0],)
        out = []
        for arg in args:
            if listen and ":" not in arg and "[" not in arg:
                arg = f"*:{arg}"  # a bare port listens on every address, printed so by sshd
            host, port = split_host_port(arg)
            if not host or port is None or (port != "*" and _port(port) is None):
                raise ValueError(f"{keyword} bad {'listen' if listen else 'permitopen'} spec")
            out.append(arg)
        return tuple(out)

    return parse


def _channel_timeout(args: list[str], rest: str) -> Value:
    if args == ["none"]:
        return ()
    for arg in args:
        kind, eq, time = arg.partition("=")
        if not eq or not kind:
            raise ValueError(f"invalid channel timeout {arg}")
        parse_time(time)
    return tuple(args)


def _max_startups(args: list[str], rest: str) -> Value:
    arg = _one(args, "MaxStartups")
    parts = arg.split(":")
    if not all(p.isascii() and p.isdigit() for p in parts) or len(parts) not in (1, 3):
        raise ValueError(f"Illegal MaxStartups spec {arg}.")
    if len(parts) == 1:
        return (int(parts[0]), 30, int(parts[0]))
    start, rate, full = map(int, parts)
    if start > full or not 0 < rate <= 100:
        raise ValueError(f"Illegal MaxStartups spec {arg}.")
    return (start, rate, full)


_SIZE = re.compile(r"([0-9]+)([kKmMgGtT]?)")


def _rekey_limit(args: list[str], rest: str) -> Value:
    if len(args) > 2:
        raise ValueError("keyword RekeyLimit extra arguments at end of line")
    if args[0] == "default":
        size = 0
    else:
        m = _SIZE.fullmatch(args[0])
        if m is None:
            raise ValueError(f"RekeyLimit invalid size {args[0]}")
        size = int(m.group(1)) << (10 * " kmgt".index(m.group(2).lower() or " "))
        if 0 < size < 16 or size > 0xFFFF_FFFF_FFFF_FFFF:
            raise ValueError("RekeyLimit too small" if size < 16 else "RekeyLimit too large")
    seconds = 0
    if len(args) == 2 and args[1] not in ("default", "none"):
        seconds = parse_time(args[1])
    return (size, seconds)


_LOG_LEVELS = {
    n.lower(): n
    for n in ("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG2", "DEBUG3")
}
_LOG_LEVELS["debug1"] = "DEBUG"  # same level, printed under its first name


def _log_level(args: list[str], rest: str) -> Value:
    arg = _one(args, "LogLevel")
    level = _LOG_LEVELS.get(arg.lower())
    if level is None:
        raise ValueError(f"unsupported log level '{arg}'")
    return level


# -- algorithms --------------------------------------------------------------------------

_HOST_KEY_TYPES = (
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
)
#: OpenSSH 9.2's defaults, what +/-/^ lists are applied to.
DEFAULT_ALGORITHMS = {
    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    "macs": "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    "kexalgorithms": "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    "casignaturealgorithms": "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
    "ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
    "rsa-sha2-512,rsa-sha2-256",
    "hostkeyalgorithms": _HOST_KEY_TYPES,
    "pubkeyacceptedalgorithms": _HOST_KEY_TYPES,
}
_KEY_TYPES = (
    "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,"
    "sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,"
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,"
    "ssh-dss,ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,"
    "rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com"
)
#: Every name OpenSSH 9.2 knows (``ssh -Q``), in its order, and OpenSSH 10's default kex
#: (which we speak): what ``+`` may add.
KNOWN_ALGORITHMS = {
    "ciphers": "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,"
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
    "macs": "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,"
    "umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,"
    "hmac-sha1-96-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,"
    "umac-64-etm@openssh.com,umac-128-etm@openssh.com",
    "kexalgorithms": "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,"
    "diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,"
    "diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,curve25519-sha256,curve25519-sha256@libssh.org,"
    "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,mlkem768x25519-sha256",
    "casignaturealgorithms": "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,"
    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,"
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512",
    "hostkeyalgorithms": _KEY_TYPES,
    "pubkeyacceptedalgorithms": _KEY_TYPES,
}


def _matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(match_glob(name, p) for p in patterns)


def expand_algorithms(keyword: str, value: str) -> str:
    """Apply a ``+``/``-``/``^`` list to OpenSSH's default (patterns allowed), as sshd -T
    prints it; a plain list is returned as given."""
    default = DEFAULT_ALGORITHMS[keyword].split(",")
    known = KNOWN_ALGORITHMS[keyword].split(",")
    if not value or value[0] not in "+-^":
        if not any(c in value for c in "*?"):
            return value
        # Key type lists may be patterns (HostKeyAlgorithms *): each one's matches in order.
        plain: list[str] = []
        for pattern in value.split(","):
            plain += [a for a in known if match_glob(a, pattern) and a not in plain]
        return ",".join(plain)
    patterns = value[1:].split(",")
    if value[0] == "-":
        out = [a for a in default if not _matches_any(a, patterns)]
    else:
        # Added names come in the order they are given, each pattern in OpenSSH's order.
        picked: list[str] = []
        for pattern in patterns:
            picked += [a for a in known if match_glob(a, pattern) and a not in picked]
        if value[0] == "+":
            out = default + [a for a in picked if a not in default]
        else:
            out = picked + [a for a in default if a not in picked]
    return ",".join(out)


# sshd checks these with sshkey_names_valid2(..., allow_wildcard=1): patterns may stand
# anywhere, not only after +, - or ^.
_KEY_TYPE_LISTS = frozenset(
    {"hostkeyalgorithms", "pubkeyacceptedalgorithms", "casignaturealgorithms"}
)


def _algorithms(keyword: str) -> Parser:
    known = set(KNOWN_ALGORITHMS[keyword.lower()].split(","))
    wildcards_anywhere = keyword.lower() in _KEY_TYPE_LISTS

    def parse(args: list[str], rest: str) -> Value:
        arg = _one(args, keyword)
        if arg[:1] != "-":
            patterns_ok = wildcards_anywhere or arg[:1] in "+^"
            for name in (arg[1:] if arg[:1] in "+^" else arg).split(","):
                if name not in known and not (patterns_ok and any(c in name for c in "*?")):
                    raise ValueError(f"Bad SSH2 {keyword} spec '{arg}'.")
        return arg

    return parse


# -- printers ----------------------------------------------------------------------------


def _yes_no(value: Value) -> list[str]:
    return ["yes" if value else "no"]


def _joined(value: Value) -> list[str]:
    assert isinstance(value, tuple)
    return [" ".join(value)] if value else []


def _each(value: Value) -> list[str]:
    assert isinstance(value, tuple)
    return list(value)


def _none_or(value: Value) -> list[str]:
    return ["none" if value is None else str(value)]


def _colons(value: Value) -> list[str]:
    assert isinstance(value, tuple)
    return [":".join(map(str, value))]


def _spaced(value: Value) -> list[str]:
    assert isinstance(value, tuple)
    return [" ".join(map(str, value))]


def _subsystems(value: Value) -> list[str]:
    assert isinstance(value, tuple)
    return [f"{name} {command}" for name, command in value]


_FAMILIES = {"any": "any", "inet": "inet", "inet6": "inet6"}
_FORWARDING = {"yes": "yes", "all": "yes", "no": "no", "local": "local", "remote": "remote"}
_ROOT_LOGIN = {
    "yes": "yes",
    "no": "no",
    "prohibit-password": "without-password",
    "without-password": "without-password",
    "forced-commands-only": "forced-commands-only",
}


def _kw(
    name: str,
    parse: Parser,
    default: Value,
    *,
    in_match: bool = False,
    combine: str = "first",
    dump: Callable[[Value], list[str]] | None = None,
) -> Keyword:
    return Keyword(name.lower(), parse, default, in_match, combine, dump)


def _build() -> dict[str, Keyword]:
    flags_match = [
        ("PubkeyAuthentication", True),
        ("PasswordAuthentication", True),
        ("KbdInteractiveAuthentication", True),
        ("PermitTTY", True),
        ("AllowAgentForwarding", True),
        ("X11Forwarding", False),
    ]
    table = [
        _kw("Port", _parse_port, (22,), combine="append", dump=_each),
        _kw("ListenAddress", _listen, (), combine="append"),
        _kw("AddressFamily", _choice(_FAMILIES, "AddressFamily"), "any"),
        _kw("HostKey", _path_item("HostKey"), (), combine="append", dump=_each),
        _kw("HostCertificate", _path_item("HostCertificate"), (), combine="append", dump=_each),
        _kw("PidFile", _string("PidFile"), "/run/sshd.pid"),
        _kw("LogLevel", _log_level, "INFO", in_match=True),
        _kw("AuthorizedKeysFile", _words, (".ssh/authorized_keys", ".ssh/authorized_keys2"),
            in_match=True, dump=_joined),
        _kw("AuthorizedPrincipalsFile", _string("AuthorizedPrincipalsFile"), "none", in_match=True),
        _kw("TrustedUserCAKeys", _string("TrustedUserCAKeys"), "none", in_match=True),
        _kw("RevokedKeys", _string("RevokedKeys"), "none", in_match=True),
        _kw("AuthenticationMethods", _auth_methods, ("any",), in_match=True, dump=_joined),
        _kw("PermitRootLogin", _choice(_ROOT_LOGIN, "PermitRootLogin"), "without-password",
            in_match=True),
        _kw("AllowUsers", _user_patterns, (), in_match=True, combine="append", dump=_each),
        _kw("DenyUsers", _user_patterns, (), in_match=True, combine="append", dump=_each),
        _kw("AllowGroups", _words, (), in_match=True, combine="append", dump=_each),
        _kw("DenyGroups", _words, (), in_match=True, combine="append", dump=_each),
        _kw("MaxAuthTries", _int("MaxAuthTries"), 6, in_match=True),
        _kw("MaxSessions", _int("MaxSessions"), 10, in_match=True),
        _kw("MaxStartups", _max_startups, (10, 30, 100), dump=_colons),
        _kw("LoginGraceTime", _time("LoginGraceTime"), 120),
        _kw("ClientAliveInterval", _time("ClientAliveInterval"), 0, in_match=True),
        _kw("ClientAliveCountMax", _int("ClientAliveCountMax"), 3, in_match=True),
        _kw("Banner", _string("Banner"), "none", in_match=True),
        _kw("AcceptEnv", _env_names, (), in_match=True, combine="append", dump=_each),
        _kw("SetEnv", _setenv, (), in_match=True, dump=_each),
        _kw("ForceCommand", _rest, "none", in_match=True),
        _kw("ChrootDirectory", _string("ChrootDirectory"), "none", in_match=True),
        _kw("AllowTcpForwarding", _choice(_FORWARDING, "AllowTcpForwarding"), "yes",
            in_match=True),
        _kw("AllowStreamLocalForwarding", _choice(_FORWARDING, "AllowStreamLocalForwarding"),
            "yes", in_match=True),
        _kw("GatewayPorts", _choice(
            {"no": "no", "yes": "yes", "clientspecified": "clientspecified"}, "GatewayPorts"),
            "no", in_match=True),
        _kw("PermitOpen", _permit_open("PermitOpen", False), ("any",), in_match=True,
            dump=_joined),
        _kw("PermitListen", _permit_open("PermitListen", True), ("any",), in_match=True,
            dump=_joined),
        _kw("Subsystem", _words, (), combine="table", dump=_subsystems),
        _kw("ChannelTimeout", _channel_timeout, (), in_match=True, dump=_joined),
        _kw("UnusedConnectionTimeout", _time_or_none("UnusedConnectionTimeout"), None,
            in_match=True, dump=_none_or),
        _kw("RekeyLimit", _rekey_limit, (0, 0), in_match=True, dump=_spaced),
        _kw("StrictModes", _flag("StrictModes"), True, dump=_yes_no),
        _kw("UsePAM", _flag("UsePAM"), False, dump=_yes_no),
    ]  # fmt: skip
    for name, default in flags_match:
        table.append(_kw(name, _flag(name), default, in_match=True, dump=_yes_no))
    for name in ("KexAlgorithms", "Ciphers", "MACs", "HostKeyAlgorithms"):
        table.append(_kw(name, _algorithms(name), DEFAULT_ALGORITHMS[name.lower()]))
    for name in ("PubkeyAcceptedAlgorithms", "CASignatureAlgorithms"):
        table.append(_kw(name, _algorithms(name), DEFAULT_ALGORITHMS[name.lower()], in_match=True))
    return {k.name: k for k in table}


KEYWORDS = _build()

#: Other spellings sshd accepts for the same keyword.
ALIASES = {
    "challengeresponseauthentication": "kbdinteractiveauthentication",
    "skeyauthentication": "kbdinteractiveauthentication",
    "dsaauthentication": "pubkeyauthentication",
    "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms",
    "hostdsakey": "hostkey",
}

# Keywords sshd knows that we accept without acting on them (reported as unsupported),
# split by whether sshd allows them in a Match block.
UNSUPPORTED_IN_MATCH = frozenset(
    [
        "authorizedkeyscommand",
        "authorizedkeyscommanduser",
        "authorizedprincipalscommand",
        "authorizedprincipalscommanduser",
        "disableforwarding",
        "exposeauthinfo",
        "gssapiauthentication",
        "hostbasedacceptedalgorithms",
        "hostbasedacceptedkeytypes",
        "hostbasedauthentication",
        "hostbasedusesnamefrompacketonly",
        "ignorerhosts",
        "ipqos",
        "kerberosauthentication",
        "permitemptypasswords",
        "permittunnel",
        "permituserrc",
        "pubkeyauthoptions",
        "streamlocalbindmask",
        "streamlocalbindunlink",
        "x11displayoffset",
        "x11uselocalhost",
        "rdomain",
        "logverbose",
    ]
)
UNSUPPORTED = UNSUPPORTED_IN_MATCH | frozenset(
    [
        "compression",
        "debianbanner",
        "fingerprinthash",
        "gssapicleanupcredentials",
        "gssapicleanupcreds",
        "gssapikexalgorithms",
        "gssapikeyexchange",
        "gssapistorecredentialsonrekey",
        "gssapistrictacceptorcheck",
        "gssapiusesessioncredcache",
        "gssusesessionccache",
        "hostkeyagent",
        "ignoreuserknownhosts",
        "kerberosgetafstoken",
        "kerberosorlocalpasswd",
        "kerberosticketcleanup",
        "kerberostgtpassing",
        "afstokenpassing",
        "modulifile",
        "persourcemaxstartups",
        "persourcenetblocksize",
        "permituserenvironment",
        "printlastlog",
        "printmotd",
        "requiredrsasize",
        "securitykeyprovider",
        "syslogfacility",
        "tcpkeepalive",
        "usedns",
        "versionaddendum",
        "xauthlocation",
        "authorizedkeysfile2",
        "checkmail",
        "keyregenerationinterval",
        "pamauthenticationviakbdint",
        "permitblacklistedkeys",
        "protocol",
        "reversemappingcheck",
        "rhostsauthentication",
        "rhostsrsaauthentication",
        "rsaauthentication",
        "serverkeybits",
        "uselogin",
        "useprivilegeseparation",
        "verifyreversemapping",
    ]
)
