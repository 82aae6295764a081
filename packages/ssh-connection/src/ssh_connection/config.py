"""OpenSSH client configuration (ssh_config(5)): read the files, evaluate them for one host.

Evaluation follows ssh(1): sources are read in order (command-line options, then the user
file, then the system file), the first value obtained for a keyword wins, list keywords
(IdentityFile, CertificateFile, the forwardings, SendEnv, SetEnv) accumulate, and ``Host``
and ``Match`` lines switch the following lines on or off. When a ``Match final`` line is
seen, the files are read a second time with the host name replaced by HostName, and only
then do ``Match final``/``Match canonical`` lines match.

Values are checked even inside blocks that do not apply, as ssh does, so a typo is reported
whichever host is being resolved. Nothing here touches the network; the only I/O is reading
the configuration files. ``Match exec`` commands run only through the ``run_exec`` callable
given to :meth:`SSHConfig.resolve`; without one, reaching a ``Match exec`` is a ConfigError
(pass ``run_exec=lambda command: False`` to treat every exec as false instead).
``CanonicalizeHostname`` needs DNS and is parsed but not applied.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssh_keys.patterns import PatternMatch, match_glob, match_hostname, match_pattern_list
from ssh_wire.errors import SSHError

from .config_tokens import (
    ALL_TOKENS,
    HOSTNAME_TOKENS,
    PROXY_TOKENS,
    LocalContext,
    TokenError,
    connection_hash,
    expand_env,
    expand_tilde,
    expand_tokens,
    split_arguments,
    split_keyword,
)

__all__ = [
    "ConfigError",
    "SSHConfig",
    "HostConfig",
    "Forward",
    "ProxyHop",
    "LocalContext",
    "RunExec",
    "DEFAULT_IDENTITY_FILES",
    "DEFAULT_USER_KNOWN_HOSTS_FILES",
    "DEFAULT_GLOBAL_KNOWN_HOSTS_FILES",
]

#: ``run_exec(command) -> bool``: run a ``Match exec`` command, True on exit status 0.
RunExec = Callable[[str], bool]

DEFAULT_IDENTITY_FILES = (
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
)
DEFAULT_USER_KNOWN_HOSTS_FILES = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_KNOWN_HOSTS_FILES = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
DEFAULT_USER_CONFIG = "~/.ssh/config"
DEFAULT_SYSTEM_CONFIG = "/etc/ssh/ssh_config"
SYSTEM_DIR = "/etc/ssh"
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
MAX_LIST_ITEMS = 100  # SSH_MAX_IDENTITY_FILES, also ssh's bound for certificate files


class ConfigError(SSHError, ValueError):
    """A configuration line ssh would refuse; ``file`` and ``line`` say where."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file} line {line}: " if file is not None and line is not None else ""
        where = where or (f"{file}: " if file is not None else "")
        super().__init__(f"{where}{message}")


# -- values ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class HostConfig:
    """The configuration ssh would use for one destination, defaults filled in.

    Paths (identity and certificate files, known_hosts files, IdentityAgent, ControlPath,
    unix socket forwards) have ``~``, ``%`` tokens and ``${ENV}`` expanded; ProxyCommand has
    its tokens expanded. Algorithm lists are kept as written, ``+``/``-``/``^`` modifiers
    included (None: the transport's defaults). ``other`` holds the raw arguments of the
    keywords that are recognised but not interpreted here (lowercase names).
    """

    host: str  # the destination as given (ssh's %n)
    hostname: str  # where to connect (%h)
    port: int = 22
    user: str = ""
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    identity_agent: str | None = None  # None: $SSH_AUTH_SOCK; "none": no agent
    certificate_files: tuple[str, ...] = ()
    proxy_jump: tuple[ProxyHop, ...] = ()
    proxy_command: str | None = None
    kex_algorithms: str | None = None
    ciphers: str | None = None
    macs: str | None = None
    host_key_algorithms: str | None = None
    pubkey_accepted_algorithms: str | None = None
    strict_host_key_checking: str = "ask"  # yes, no, ask, accept-new
    user_known_hosts_files: tuple[str, ...] = ()
    global_known_hosts_files: tuple[str, ...] = ()
    hash_known_hosts: bool = False
    host_key_alias: str | None = None
    connect_timeout: int | None = None  # seconds; None: the system's TCP timeout
    server_alive_interval: int = 0
    server_alive_count_max: int = 3
    forward_agent: bool = False
    forward_agent_path: str | None = None  # ForwardAgent given a socket path
    local_forwards: tuple[Forward, ...] = ()
    remote_forwards: tuple[Forward, ...] = ()
    dynamic_forwards: tuple[Forward, ...] = ()
    send_env: tuple[str, ...] = ()
    set_env: tuple[tuple[str, str], ...] = ()
    request_tty: str = "auto"  # no, yes, force, auto
    batch_mode: bool = False
    preferred_authentications: tuple[str, ...] | None = None
    password_authentication: bool = True
    pubkey_authentication: bool = True
    kbd_interactive_authentication: bool = True
    number_of_password_prompts: int = 3
    compression: bool = False
    rekey_limit_bytes: int = 0  # 0: the cipher's default
    rekey_limit_seconds: int = 0  # 0: no time limit
    address_family: str = "any"  # any, inet, inet6
    bind_address: str | None = None
    log_level: str = "INFO"
    update_host_keys: str = "no"  # yes, no, ask
    control_master: str = "no"  # yes, no, ask, auto, autoask
    control_path: str | None = None
    control_persist: str = "no"  # no, yes, or seconds
    other: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# -- keyword table ----------------------------------------------------------------------

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


def _port_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise TokenError(f"Bad port {text!r}")
    return int(text)


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
    return "DEBUG1" if arg == "DEBUG" else arg


def _control_persist(args: list[str]) -> str:
    arg = _one(args).lower()
    if arg in _TRUE:
        return "yes"
    if arg in _FALSE:
        return "no"
    return str(_seconds(arg))


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
    host: str | None
    host, port = _split_host_port(spec)
    if port is None:
        host, port = None, host  # a bare port; "" (from ":port") means every address
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
        if lpath is not None:
            raise TokenError("dynamic forwarding cannot listen on a unix socket")
        return Forward(lh, lp)
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
_YESNO = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
_STRICT = {**_YESNO, "off": "no"}
_KEYWORDS: dict[str, tuple[str, str, Callable[[list[str]], Any] | None]] = {
    "hostname": ("single", "hostname", _string),
    "port": ("single", "port", _port),
    "user": ("single", "user", _string),
    "identityfile": ("list", "identity_files", _string),
    "identityfile2": ("list", "identity_files", _string),
    "identitiesonly": ("single", "identities_only", _flag),
    "identityagent": ("single", "identity_agent", _agent_path),
    "certificatefile": ("list", "certificate_files", _string),
    "proxyjump": ("proxy", "proxy_jump", _parse_jump),
    "proxycommand": ("proxy", "proxy_command", None),
    "kexalgorithms": ("single", "kex_algorithms", _string),
    "ciphers": ("single", "ciphers", _string),
    "macs": ("single", "macs", _string),
    "hostkeyalgorithms": ("single", "host_key_algorithms", _string),
    "pubkeyacceptedalgorithms": ("single", "pubkey_accepted_algorithms", _string),
    "pubkeyacceptedkeytypes": ("single", "pubkey_accepted_algorithms", _string),
    "stricthostkeychecking": (
        "single",
        "strict_host_key_checking",
        _choice({**_STRICT, "ask": "ask", "accept-new": "accept-new"}),
    ),
    "userknownhostsfile": ("single", "user_known_hosts_files", _list),
    "globalknownhostsfile": ("single", "global_known_hosts_files", _list),
    "hashknownhosts": ("single", "hash_known_hosts", _flag),
    "hostkeyalias": ("single", "host_key_alias", _string),
    "connecttimeout": ("single", "connect_timeout", _time),
    "serveraliveinterval": ("single", "server_alive_interval", _time),
    "serveralivecountmax": ("single", "server_alive_count_max", _int),
    "forwardagent": ("single", "forward_agent", _forward_agent),
    "localforward": ("list", "local_forwards", lambda a: _forward(a, False, True)),
    "remoteforward": ("list", "remote_forwards", lambda a: _forward(a, True, True)),
    "dynamicforward": ("list", "dynamic_forwards", lambda a: _forward(a, True, False)),
    "sendenv": ("sendenv", "send_env", None),
    "setenv": ("setenv", "set_env", None),
    "requesttty": (
        "single",
        "request_tty",
        _choice({**_YESNO, "force": "force", "auto": "auto"}),
    ),
    "batchmode": ("single", "batch_mode", _flag),
    "preferredauthentications": (
        "single",
        "preferred_authentications",
        lambda a: tuple(_one(a).split(",")),
    ),
    "passwordauthentication": ("single", "password_authentication", _flag),
    "pubkeyauthentication": ("single", "pubkey_authentication", _pubkey_auth),
    "kbdinteractiveauthentication": ("single", "kbd_interactive_authentication", _flag),
    "challengeresponseauthentication": ("single", "kbd_interactive_authentication", _flag),
    "skeyauthentication": ("single", "kbd_interactive_authentication", _flag),
    "tisauthentication": ("single", "kbd_interactive_authentication", _flag),
    "numberofpasswordprompts": ("single", "number_of_password_prompts", _int),
    "compression": ("single", "compression", _flag),
    "rekeylimit": ("single", "rekey_limit", _rekey),
    "addressfamily": (
        "single",
        "address_family",
        _choice({"any": "any", "inet": "inet", "inet6": "inet6"}),
    ),
    "bindaddress": ("single", "bind_address", _string),
    "loglevel": ("single", "log_level", _log_level),
    "updatehostkeys": (
        "single",
        "update_host_keys",
        _choice({**_YESNO, "ask": "ask"}),
    ),
    "controlmaster": (
        "single",
        "control_master",
        _choice({**_YESNO, "ask": "ask", "auto": "auto", "autoask": "autoask"}),
    ),
    "controlpath": ("single", "control_path", _string),
    "controlpersist": ("single", "control_persist", _control_persist),
    "ignoreunknown": ("single", "ignore_unknown", _string),
    "canonicalizehostname": (
        "single",
        "canonicalize_hostname",
        _choice({**_YESNO, "always": "always"}),
    ),
}

#: Keywords ssh knows that are kept raw in HostConfig.other (first value wins).
_OTHER = frozenset(
    """addkeystoagent bindinterface canonicaldomains canonicalizefallbacklocal
    canonicalizemaxdots canonicalizepermittedcnames casignaturealgorithms checkhostip
    clearallforwardings connectionattempts enablesshkeysign enableescapecommandline
    escapechar exitonforwardfailure fingerprinthash forkafterauthentication forwardx11
    forwardx11timeout forwardx11trusted gatewayports gssapiauthentication
    gssapiclientidentity gssapidelegatecredentials gssapikeyexchange gssapikexalgorithms
    gssapirenewalforcesrekey gssapiserveridentity gssapitrustdns hostbasedacceptedalgorithms
    hostbasedauthentication hostbasedkeytypes ipqos kbdinteractivedevices keepalive
    knownhostscommand localcommand logverbose nohostauthenticationforlocalhost
    permitlocalcommand permitremoteopen pkcs11provider proxyusefdpass remotecommand
    requiredrsasize revokedhostkeys securitykeyprovider sessiontype smartcarddevice
    stdinnull streamlocalbindmask streamlocalbindunlink syslogfacility tcpkeepalive tunnel
    tunneldevice verifyhostkeydns visualhostkey xauthlocation logfacility""".split()
)
#: Keywords ssh accepts and ignores (removed or never supported on this build).
_DEPRECATED = frozenset(
    """afstokenpassing cipher compressionlevel dsaauthentication fallbacktorsh
    globalknownhostsfile2 kerberosauthentication kerberostgtpassing protocol
    rhostsauthentication rhostsrsaauthentication rsaauthentication useprivilegedport
    useroaming usersh userknownhostsfile2 useblacklistedkeys""".split()
)


# -- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    name: str
    text: str | None = None  # given text; else read from ``name``
    user_config: bool = True  # relative Include paths go under ~/.ssh, else /etc/ssh
    check_perms: bool = False
    missing_ok: bool = False


@dataclass
class _State:
    """Values obtained so far: first one wins, lists accumulate."""

    values: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    send_env: list[str] = field(default_factory=list)
    set_env: list[tuple[str, str]] | None = None
    other: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Pass:
    """One reading of every source for one host name (ssh reads twice for Match final)."""

    def __init__(
        self,
        state: _State,
        ctx: LocalContext,
        host: str,
        original_host: str,
        final: bool,
        run_exec: RunExec | None,
    ) -> None:
        self.state = state
        self.ctx = ctx
        self.host = host
        self.original_host = original_host
        self.final = final
        self.run_exec = run_exec
        self.want_final = False

    # -- files ----------------------------------------------------------------------

    def read_source(self, src: _Source) -> None:
        if src.text is not None:
            self._read_text(src.text, src.name, src.user_config, False, 0)
        else:
            self._read_file(src.name, src.user_config, src.check_perms, False, 0, src.missing_ok)

    def _read_file(
        self,
        path: str,
        user_config: bool,
        check_perms: bool,
        never_match: bool,
        depth: int,
        missing_ok: bool = True,
    ) -> None:
        try:
            with open(path, "rb") as f:
                if check_perms:
                    st = os.fstat(f.fileno())
                    uid = self.ctx.uid
                    if (st.st_uid not in (0, uid) and uid >= 0) or st.st_mode & 0o022:
                        raise ConfigError("Bad owner or permissions", path)
                if stat.S_ISDIR(os.fstat(f.fileno()).st_mode):
                    return
                data = f.read()
        except FileNotFoundError:
            if missing_ok:
                return
            raise ConfigError("no such file", path) from None
        except IsADirectoryError:
            return
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", path) from None
        text = data.decode("utf-8", "surrogateescape")
        self._read_text(text, path, user_config, never_match, depth)

    def _read_text(
        self, text: str, name: str, user_config: bool, never_match: bool, depth: int
    ) -> None:
        active = not never_match
        for number, raw in enumerate(text.split("\n"), 1):
            try:
                active = self._line(raw, name, user_config, active, never_match, depth)
            except TokenError as exc:
                raise ConfigError(str(exc), name, number) from None
            except ConfigError as exc:
                if exc.line is None and exc.file is None:
                    raise ConfigError(exc.reason, name, number) from None
                raise

    def command_line(self, options: Sequence[str]) -> None:
        """``-o`` options: applied first; Host, Match and Include are not allowed."""
        for option in options:
            split = split_keyword(option)
            if split is None:
                continue
            if split[0].lower() in ("host", "match", "include"):
                raise ConfigError(f"{split[0]} directive not supported as a command-line option")
            try:
                self._line(option, "command line", True, True, False, 0)
            except TokenError as exc:
                raise ConfigError(f"{option!r}: {exc}") from None

    # -- lines ----------------------------------------------------------------------

    def _line(
        self, raw: str, name: str, user_config: bool, active: bool, never_match: bool, depth: int
    ) -> bool:
        split = split_keyword(raw)
        if split is None:
            return active
        keyword, rest = split[0].lower(), split[1]
        if keyword.startswith("#"):
            return active
        if not rest:
            raise TokenError(f'no argument after keyword "{keyword}"')
        if keyword == "match":
            result = self._match(split_arguments(rest), never_match)
            return result and not never_match
        args = split_arguments(rest)
        if keyword == "host":
            return self._host(args, never_match)
        if keyword == "include":
            self._include(args, name, user_config, active, depth)
            return active
        self._apply(keyword, args, rest, active)
        return active

    def _host(self, patterns: list[str], never_match: bool) -> bool:
        matched = False
        for pattern in patterns:
            if pattern == "":
                raise TokenError("keyword host empty argument")
            if never_match:
                return False
            negated = pattern.startswith("!")
            # ssh matches Host patterns case-sensitively, against the name as typed.
            if match_glob(self.host, pattern[1:] if negated else pattern):
                if negated:
                    return False
                matched = True
        return matched

    def _match(self, args: list[str], never_match: bool) -> bool:
        result = True
        attributes = 0
        values = list(args)
        while values:
            attrib = values.pop(0)
            negate = attrib.startswith("!")
            name = (attrib[1:] if negate else attrib).lower()
            if name == "all":
                if attributes > 1 or values:
                    raise TokenError(f"'{attrib}' cannot be combined with other Match attributes")
                return result and not negate
            attributes += 1
            if name in ("canonical", "final"):
                if name == "final" and not negate:
                    self.want_final = True
                if self.final == negate:
                    result = False
                continue
            if not values or values[0] == "":
                raise TokenError(f"Missing Match criteria for {attrib}")
            arg = values.pop(0)
            hit: bool
            if name == "host":
                hit = match_hostname(self._match_host(), arg) is PatternMatch.POSITIVE
            elif name == "originalhost":
                hit = match_hostname(self.original_host, arg) is PatternMatch.POSITIVE
            elif name == "user":
                user = self.state.values.get("user", self.ctx.user)
                hit = match_pattern_list(user, arg, ignore_case=False) is PatternMatch.POSITIVE
            elif name == "localuser":
                hit = (
                    match_pattern_list(self.ctx.user, arg, ignore_case=False)
                    is PatternMatch.POSITIVE
                )
            elif name == "exec":
                if not result or never_match:
                    continue  # as ssh: skipped once an earlier criterion failed
                hit = self._exec(arg)
            else:
                raise TokenError(f"Unsupported Match attribute {name}")
            if hit == negate:
                result = False
        if attributes == 0:
            raise TokenError("One or more attributes required for Match")
        return result

    def _match_host(self) -> str:
        if self.final:
            return str(self.state.values.get("hostname", self.host))
        hostname = self.state.values.get("hostname")
        if hostname is None:
            return self.host
        return expand_tokens(hostname, {"h": self.host}, HOSTNAME_TOKENS)

    def _exec(self, command: str) -> bool:
        if self.run_exec is None:
            raise TokenError(
                "Match exec needs a run_exec callable (refusing to run commands by default)"
            )
        values = self.state.values
        port = int(values.get("port", 22))
        user = str(values.get("user", self.ctx.user))
        host = self._match_host()
        alias = values.get("host_key_alias") or host
        tokens = _token_values(self.ctx, host, self.original_host, port, user, alias, "")
        return bool(self.run_exec(expand_tokens(command, tokens, ALL_TOKENS)))

    def _include(
        self, args: list[str], name: str, user_config: bool, active: bool, depth: int
    ) -> None:
        if depth + 1 > MAX_INCLUDE_DEPTH:
            raise TokenError("Too many recursive configuration includes")
        for arg in args:
            if arg == "":
                raise TokenError("empty Include argument")
            if arg.startswith("~") and not user_config:
                raise TokenError(f"bad include path {arg}")
            if not os.path.isabs(arg) and not arg.startswith("~"):
                arg = ("~/.ssh/" if user_config else SYSTEM_DIR + "/") + arg
            pattern = expand_tilde(arg, self.ctx)
            for path in sorted(glob.glob(pattern)):
                # Lines in an included file never switch on a block around the Include.
                self._read_file(path, user_config, True, not active, depth + 1)

    # -- keywords -------------------------------------------------------------------

    def _apply(self, keyword: str, args: list[str], rest: str, active: bool) -> None:
        st = self.state
        spec = _KEYWORDS.get(keyword)
        if spec is None:
            if keyword in _OTHER:
                if active and keyword not in st.other:
                    st.other[keyword] = tuple(args)
            elif keyword not in _DEPRECATED:
                ignored = st.values.get("ignore_unknown")
                if ignored is None or not match_pattern_list(keyword, ignored):
                    raise TokenError(f"Bad configuration option: {keyword}")
            return
        kind, name, parse = spec
        if kind == "single":
            assert parse is not None
            value = parse(args)
            if active and name not in st.values:
                st.values[name] = value
        elif kind == "list":
            assert parse is not None
            item = parse(args)
            items = st.lists.setdefault(name, [])
            if active and item not in items:
                if len(items) >= MAX_LIST_ITEMS:
                    raise TokenError(f"too many {keyword} entries (max {MAX_LIST_ITEMS})")
                items.append(item)
        elif kind == "proxy":
            self._proxy(keyword, args, rest, active)
        elif kind == "sendenv":
            for arg in args:
                if arg == "" or "=" in arg:
                    raise TokenError("Invalid environment name")
                if not active:
                    continue
                if arg.startswith("-"):
                    st.send_env = [p for p in st.send_env if not match_glob(p, arg[1:])]
                else:
                    st.send_env.append(arg)
        elif kind == "setenv":
            pairs = []
            for arg in args:
                var, eq, val = arg.partition("=")
                if not eq or not var:
                    raise TokenError("Invalid SetEnv")
                pairs.append((var, val))
            if active and st.set_env is None:
                # The first SetEnv line wins whole; within it, the first of a name wins.
                st.set_env = []
                for var, val in pairs:
                    if all(v != var for v, _ in st.set_env):
                        st.set_env.append((var, val))

    def _proxy(self, keyword: str, args: list[str], rest: str, active: bool) -> None:
        values = self.state.values
        if keyword == "proxyjump":
            hops = _parse_jump(args)
            if active and "proxy_jump" not in values and "proxy_command" not in values:
                values["proxy_jump"] = (args[0], hops)
        else:
            # ProxyCommand is the rest of the line exactly as written, quotes and all.
            jump = values.get("proxy_jump")
            if active and "proxy_command" not in values and (jump is None or jump[1] is None):
                values["proxy_command"] = rest


def _token_values(
    ctx: LocalContext,
    host: str,
    original_host: str,
    port: int,
    user: str,
    alias: str,
    jump: str,
) -> dict[str, str]:
    return {
        "C": connection_hash(ctx.hostname, host, port, user),
        "d": ctx.home,
        "h": host,
        "i": str(ctx.uid),
        "j": jump,
        "k": alias,
        "L": ctx.short_hostname,
        "l": ctx.hostname,
        "n": original_host,
        "p": str(port),
        "r": user,
        "u": ctx.user,
    }


# -- the public entry point --------------------------------------------------------------


class SSHConfig:
    """A set of ssh_config sources, evaluated per destination by :meth:`resolve`."""

    def __init__(self, sources: Iterable[_Source] = (), *, context: LocalContext | None = None):
        self._sources = tuple(sources)
        self._context = context

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        filename: str = "<config>",
        user_config: bool = True,
        context: LocalContext | None = None,
    ) -> SSHConfig:
        """Configuration text; ``filename`` names it in errors."""
        return cls([_Source(filename, text, user_config)], context=context)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        user_config: bool = True,
        context: LocalContext | None = None,
    ) -> SSHConfig:
        """One file, as ``ssh -F path`` reads it (a missing file is an error)."""
        return cls([_Source(os.fspath(path), None, user_config)], context=context)

    @classmethod
    def default(
        cls,
        *,
        user_config: str | os.PathLike[str] | None = DEFAULT_USER_CONFIG,
        system_config: str | os.PathLike[str] | None = DEFAULT_SYSTEM_CONFIG,
        context: LocalContext | None = None,
    ) -> SSHConfig:
        """``~/.ssh/config`` (permissions checked, as ssh does) then ``/etc/ssh/ssh_config``;
        missing files are skipped. Pass None to leave one out."""
        ctx = context or LocalContext.current()
        sources = []
        if user_config is not None:
            path = expand_tilde(os.fspath(user_config), ctx)
            sources.append(_Source(path, None, True, check_perms=True, missing_ok=True))
        if system_config is not None:
            sources.append(_Source(os.fspath(system_config), None, False, missing_ok=True))
        return cls(sources, context=ctx)

    def resolve(
        self,
        destination: str,
        *,
        user: str | None = None,
        port: int | None = None,
        options: Sequence[str] = (),
        run_exec: RunExec | None = None,
    ) -> HostConfig:
        """The configuration for ``destination`` (``host`` or ``user@host``).

        ``user`` and ``port`` act as ssh's ``-l`` and ``-p``, ``options`` as its ``-o``
        (``"Keyword value"`` strings): all of them win over the files.
        """
        ctx = self._context or LocalContext.current()
        original = destination
        at = destination.rfind("@")
        if at >= 0:
            user = user if user is not None else destination[:at]
            original = destination[at + 1 :]
        if not original:
            raise ConfigError("empty host name")
        state = _State()
        if user is not None:
            state.values["user"] = user
        if port is not None:
            state.values["port"] = _port_number(str(port))
        first = _Pass(state, ctx, original, original, False, run_exec)
        first.command_line(options)
        for src in self._sources:
            first.read_source(src)
        host = original
        if "hostname" in state.values:
            try:
                host = expand_tokens(state.values["hostname"], {"h": host}, HOSTNAME_TOKENS)
            except TokenError as exc:
                raise ConfigError(f"HostName: {exc}") from None
        host = host.lower()
        state.values["hostname"] = host
        if first.want_final:
            final = _Pass(state, ctx, host, original, True, run_exec)
            for src in self._sources:
                final.read_source(src)
        return _finish(state, ctx, original)


def _finish(state: _State, ctx: LocalContext, original: str) -> HostConfig:
    v, lists = state.values, state.lists
    hostname = str(v["hostname"])
    port = int(v.get("port", 22))
    user = str(v.get("user", ctx.user))
    alias = v.get("host_key_alias")
    jump_raw, hops = v.get("proxy_jump", ("", None))
    tokens = _token_values(ctx, hostname, original, port, user, alias or original, jump_raw)

    def path(text: str, what: str) -> str:
        try:
            return expand_tokens(expand_tilde(text, ctx), tokens, ALL_TOKENS, ctx.env)
        except TokenError as exc:
            raise ConfigError(f"{what} {text!r}: {exc}") from None

    def socket_path(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            return expand_env(path(text, "forwarding path"), ctx.env)
        except TokenError as exc:  # pragma: no cover - path() already expanded variables
            raise ConfigError(f"forwarding path {text!r}: {exc}") from None

    def forwards(name: str) -> tuple[Forward, ...]:
        return tuple(
            Forward(
                f.listen_host,
                f.listen_port,
                socket_path(f.listen_path),
                f.connect_host,
                f.connect_port,
                socket_path(f.connect_path),
            )
            for f in lists.get(name, [])
        )

    identity_files = lists.get("identity_files") or list(DEFAULT_IDENTITY_FILES)
    user_known = v.get("user_known_hosts_files")
    update = v.get("update_host_keys")
    if update is None:
        # ssh enables it only while the known_hosts setup is the default one.
        default_known = user_known is None or tuple(user_known) == ("~/.ssh/known_hosts",)
        verify_dns = state.other.get("verifyhostkeydns", ("no",))[0].lower()
        update = "yes" if default_known and verify_dns in ("no", "false") else "no"

    def known(files: tuple[str, ...] | None, default: tuple[str, ...]) -> tuple[str, ...]:
        chosen = files if files is not None else default
        if tuple(chosen) == ("none",):
            return ()
        return tuple(path(f, "known hosts file") for f in chosen)

    agent = v.get("identity_agent")
    if agent is not None and agent not in ("none", "SSH_AUTH_SOCK"):
        agent = path(agent, "IdentityAgent")
    control_path = v.get("control_path")
    if control_path is not None:
        control_path = None if control_path == "none" else path(control_path, "ControlPath")
    forward_agent, agent_path = v.get("forward_agent", (False, None))
    if agent_path is not None:
        agent_path = path(agent_path, "ForwardAgent")
    proxy_command = v.get("proxy_command")
    if proxy_command is not None:
        if proxy_command == "none":
            proxy_command = None
        else:
            try:
                proxy_command = expand_tokens(proxy_command, tokens, PROXY_TOKENS)
            except TokenError as exc:
                raise ConfigError(f"ProxyCommand: {exc}") from None
    rekey = v.get("rekey_limit", (0, 0))
    return HostConfig(
        host=original,
        hostname=hostname,
        port=port,
        user=user,
        identity_files=tuple(path(f, "IdentityFile") for f in identity_files),
        identities_only=v.get("identities_only", False),
        identity_agent=agent,
        certificate_files=tuple(
            path(f, "CertificateFile") for f in lists.get("certificate_files", [])
        ),
        proxy_jump=hops or (),
        proxy_command=proxy_command,
        kex_algorithms=v.get("kex_algorithms"),
        ciphers=v.get("ciphers"),
        macs=v.get("macs"),
        host_key_algorithms=v.get("host_key_algorithms"),
        pubkey_accepted_algorithms=v.get("pubkey_accepted_algorithms"),
        strict_host_key_checking=v.get("strict_host_key_checking", "ask"),
        user_known_hosts_files=known(user_known, DEFAULT_USER_KNOWN_HOSTS_FILES),
        global_known_hosts_files=known(
            v.get("global_known_hosts_files"), DEFAULT_GLOBAL_KNOWN_HOSTS_FILES
        ),
        hash_known_hosts=v.get("hash_known_hosts", False),
        host_key_alias=alias,
        connect_timeout=v.get("connect_timeout"),
        server_alive_interval=v.get("server_alive_interval") or 0,
        server_alive_count_max=v.get("server_alive_count_max", 3),
        forward_agent=forward_agent,
        forward_agent_path=agent_path,
        local_forwards=forwards("local_forwards"),
        remote_forwards=forwards("remote_forwards"),
        dynamic_forwards=forwards("dynamic_forwards"),
        send_env=tuple(state.send_env),
        set_env=tuple(state.set_env or ()),
        request_tty=v.get("request_tty", "auto"),
        batch_mode=v.get("batch_mode", False),
        preferred_authentications=v.get("preferred_authentications"),
        password_authentication=v.get("password_authentication", True),
        pubkey_authentication=v.get("pubkey_authentication", True),
        kbd_interactive_authentication=v.get("kbd_interactive_authentication", True),
        number_of_password_prompts=v.get("number_of_password_prompts", 3),
        compression=v.get("compression", False),
        rekey_limit_bytes=rekey[0],
        rekey_limit_seconds=rekey[1],
        address_family=v.get("address_family", "any"),
        bind_address=v.get("bind_address"),
        log_level=v.get("log_level", "INFO"),
        update_host_keys=update,
        control_master=v.get("control_master", "no"),
        control_path=control_path,
        control_persist=v.get("control_persist", "no"),
        other=dict(state.other),
    )
