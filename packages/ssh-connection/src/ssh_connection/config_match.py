"""Evaluating ssh_config sources for one host: Host and Match blocks, Include, first value wins.

A :class:`Pass` reads every source once; :class:`State` holds what has been obtained so far,
shared by ssh's two passes (the second, for ``Match final``, only fills what is still unset).
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssh_keys import PatternMatch, match_glob, match_hostname, match_pattern_list

from .config_tokens import (
    ALL_TOKENS,
    HOSTNAME_TOKENS,
    ConfigError,
    LocalContext,
    TokenError,
    _agent_path,
    _choice,
    _control_persist,
    _flag,
    _forward,
    _forward_agent,
    _int,
    _list,
    _log_level,
    _one,
    _parse_jump,
    _port,
    _pubkey_auth,
    _rekey,
    _string,
    _time,
    connection_hash,
    expand_tilde,
    expand_tokens,
    split_arguments,
    split_keyword,
)

__all__ = ["RunExec", "Source", "State", "Pass", "token_values"]

#: ``run_exec(command) -> bool``: run a ``Match exec`` command, True on exit status 0.
RunExec = Callable[[str], bool]

SYSTEM_DIR = "/etc/ssh"
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
MAX_LIST_ITEMS = 100  # SSH_MAX_IDENTITY_FILES, also ssh's bound for certificate files

# -- keyword table ----------------------------------------------------------------------

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
    [
        "addkeystoagent",
        "bindinterface",
        "canonicaldomains",
        "canonicalizefallbacklocal",
        "canonicalizemaxdots",
        "canonicalizepermittedcnames",
        "casignaturealgorithms",
        "checkhostip",
        "clearallforwardings",
        "connectionattempts",
        "enablesshkeysign",
        "enableescapecommandline",
        "escapechar",
        "exitonforwardfailure",
        "fingerprinthash",
        "forkafterauthentication",
        "forwardx11",
        "forwardx11timeout",
        "forwardx11trusted",
        "gatewayports",
        "gssapiauthentication",
        "gssapiclientidentity",
        "gssapidelegatecredentials",
        "gssapikeyexchange",
        "gssapikexalgorithms",
        "gssapirenewalforcesrekey",
        "gssapiserveridentity",
        "gssapitrustdns",
        "hostbasedacceptedalgorithms",
        "hostbasedauthentication",
        "hostbasedkeytypes",
        "ipqos",
        "kbdinteractivedevices",
        "keepalive",
        "knownhostscommand",
        "localcommand",
        "logverbose",
        "nohostauthenticationforlocalhost",
        "permitlocalcommand",
        "permitremoteopen",
        "pkcs11provider",
        "proxyusefdpass",
        "remotecommand",
        "requiredrsasize",
        "revokedhostkeys",
        "securitykeyprovider",
        "sessiontype",
        "smartcarddevice",
        "stdinnull",
        "streamlocalbindmask",
        "streamlocalbindunlink",
        "syslogfacility",
        "tcpkeepalive",
        "tunnel",
        "tunneldevice",
        "verifyhostkeydns",
        "visualhostkey",
        "xauthlocation",
        "logfacility",
    ]
)
#: Keywords ssh accepts and ignores (removed or never supported on this build).
_DEPRECATED = frozenset(
    [
        "afstokenpassing",
        "cipher",
        "compressionlevel",
        "dsaauthentication",
        "fallbacktorsh",
        "globalknownhostsfile2",
        "kerberosauthentication",
        "kerberostgtpassing",
        "protocol",
        "rhostsauthentication",
        "rhostsrsaauthentication",
        "rsaauthentication",
        "useprivilegedport",
        "useroaming",
        "usersh",
        "userknownhostsfile2",
        "useblacklistedkeys",
    ]
)


# -- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One configuration file (or text) and how ssh treats it."""

    name: str
    text: str | None = None  # given text; else read from ``name``
    user_config: bool = True  # relative Include paths go under ~/.ssh, else /etc/ssh
    check_perms: bool = False
    missing_ok: bool = False


@dataclass
class State:
    """Values obtained so far: first one wins, lists accumulate."""

    values: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    send_env: list[str] = field(default_factory=list)
    set_env: list[tuple[str, str]] | None = None
    other: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Pass:
    """One reading of every source for one host name (ssh reads a second time for Match
    final and CanonicalizeHostname)."""

    def __init__(
        self,
        state: State,
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

    def read_source(self, src: Source) -> None:
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
            if "\0" in raw:
                # No path or name may hold one (the OS refuses them), so no line may.
                raise ConfigError("NUL byte in line", name, number)
            try:
                active = self._line(raw, name, user_config, active, never_match, depth)
            except TokenError as exc:
                raise ConfigError(str(exc), name, number) from None
            except ConfigError as exc:
                if exc.line is None and exc.file is None:
                    raise ConfigError(exc.message, name, number) from None
                raise

    def command_line(self, options: Sequence[str]) -> None:
        """``-o`` options: applied first; Host, Match and Include are not allowed."""
        for option in options:
            try:
                if "\0" in option:
                    raise TokenError("NUL byte in option")
                split = split_keyword(option)
                if split is None:
                    continue
                if split[0].lower() in ("host", "match", "include"):
                    raise TokenError(f"{split[0]} directive not supported as a command-line option")
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
                if name == "final":
                    self.want_final = True  # ssh 9.2 re-reads for "!final" too
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
        tokens = token_values(self.ctx, host, self.original_host, port, user, alias, "")
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


def token_values(
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
