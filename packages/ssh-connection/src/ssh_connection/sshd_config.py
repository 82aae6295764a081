"""sshd_config(5), read as OpenSSH 9.2's sshd reads it.

Lines are ``Keyword value`` or ``Keyword=value``; keywords ignore case; ``#`` starts a
comment; arguments may be quoted. For most keywords the first value wins; ``Port``,
``ListenAddress``, ``HostKey``, ``HostCertificate``, ``AcceptEnv`` and Allow/Deny lists
accumulate, ``Subsystem`` collects one command per name. ``Include`` reads files (globs,
relative to ``/etc/ssh``) where it stands.

``Match`` blocks are kept and applied by :meth:`SshdConfig.for_connection`, as sshd does:
the first matching block to set a keyword wins over the global value, whatever the order
in the file; list keywords gather over every matching block and then replace the global
list. Keywords sshd knows but we do not implement are accepted and listed in
:attr:`SshdConfig.unsupported`; unknown ones are a :class:`ConfigError` naming file and
line. :meth:`SshdSettings.dump` prints ``sshd -T``'s format for the keywords we support.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ssh_keys import match_glob, match_host_and_address

from .config_tokens import ConfigError as BaseConfigError
from .sshd_config_keywords import (
    ALIASES,
    DEFAULT_ALGORITHMS,
    KEYWORDS,
    UNSUPPORTED,
    UNSUPPORTED_IN_MATCH,
    expand_algorithms,
)
from .sshd_config_match import (
    GroupsOf,
    MatchConnection,
    MatchCriteria,
    parse_match,
    split_args,
    split_keyword,
    system_groups,
)

__all__ = [
    "ConfigError",
    "UnsupportedOption",
    "SshdConfig",
    "SshdSettings",
    "parse_sshd_config",
    "load_sshd_config",
    "expand_tokens",
    "MatchConnection",
    "GroupsOf",
    "system_groups",
    "DEFAULT_CONFIG_DIR",
    "DEFAULT_CONFIG_FILE",
]

DEFAULT_CONFIG_DIR = "/etc/ssh"
DEFAULT_CONFIG_FILE = "/etc/ssh/sshd_config"
#: The file name sshd gives ``-o`` options in its messages.
COMMAND_LINE = "command-line"
_MAX_INCLUDE_DEPTH = 16  # sshd's SERVCONF_MAX_DEPTH
_MAX_FILE_SIZE = 1 << 20


class SshdConfigError(BaseConfigError):
    """A line sshd would refuse; ``file`` and ``line`` say where. One ``ConfigError`` for
    both configuration files: ``except ssh_connection.ConfigError`` catches this too."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(message, file, line)
        self.file: str = file
        self.line: int = line


#: The name this module's callers know.
ConfigError = SshdConfigError


@dataclass(frozen=True)
class UnsupportedOption:
    """A keyword sshd knows that this package accepts without acting on it."""

    keyword: str
    file: str
    line: int
    value: str


@dataclass(frozen=True)
class _Directive:
    keyword: str
    value: object
    file: str
    line: int
    #: The Match lines this directive is under (outermost first; Include nests them).
    chain: tuple[MatchCriteria, ...]


def _active_globally(chain: tuple[MatchCriteria, ...]) -> bool:
    # sshd's first pass has no connection: only "Match All" blocks are active in it.
    return all(c.all for c in chain)


def _default_read(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read(_MAX_FILE_SIZE + 1)
    if len(data) > _MAX_FILE_SIZE:
        raise OSError(f"{path}: larger than {_MAX_FILE_SIZE} bytes")
    return data.decode("utf-8", "surrogateescape")


def _default_glob(pattern: str) -> list[str]:
    return sorted(_glob.glob(pattern))


@dataclass
class _Reader:
    include_dir: str
    read_text: Callable[[str], str]
    glob: Callable[[str], list[str]]
    cwd: str
    directives: list[_Directive] = field(default_factory=list)
    unsupported: list[UnsupportedOption] = field(default_factory=list)

    def parse(
        self,
        text: str,
        file: str,
        chain: tuple[MatchCriteria, ...],
        depth: int,
        first_line: int = 1,
    ) -> None:
        current = chain
        for number, raw in enumerate(text.split("\n"), first_line):
            if "\0" in raw:
                # No path or name may hold one (the OS refuses them), so no line may.
                raise ConfigError(file, number, "NUL byte in line")
            current = self._line(raw, file, number, chain, current, depth)

    def _line(
        self,
        raw: str,
        file: str,
        number: int,
        parent: tuple[MatchCriteria, ...],
        current: tuple[MatchCriteria, ...],
        depth: int,
    ) -> tuple[MatchCriteria, ...]:
        parts = split_keyword(raw)
        if parts is None:
            return current
        keyword, rest = parts

        def error(message: str) -> ConfigError:
            return ConfigError(file, number, message)

        if not rest:
            raise error(f'no argument after keyword "{keyword}"')
        try:
            args = split_args(rest)
        except ValueError as exc:
            raise error(str(exc)) from None
        if not args:
            raise error(f'no argument after keyword "{keyword}"')
        name = keyword.lower()
        name = ALIASES.get(name, name)
        if name == "match":
            try:
                return (*parent, parse_match(args))
            except ValueError as exc:
                raise error(f"Bad Match condition: {exc}") from None
        if name == "include":
            self._include(args, file, number, current, depth)
            return current
        spec = KEYWORDS.get(name)
        if spec is None and name not in UNSUPPORTED:
            raise error(f"Bad configuration option: {keyword}")
        in_match = spec.in_match if spec is not None else name in UNSUPPORTED_IN_MATCH
        if not in_match and not _active_globally(current):
            raise error(f"Directive '{keyword}' is not allowed within a Match block")
        if spec is None:
            self.unsupported.append(UnsupportedOption(name, file, number, rest))
            return current
        value: object
        if name == "subsystem":
            if len(args) < 2:
                raise error("Missing subsystem command.")
            value = ((args[0], " ".join(args[1:])),)
        else:
            try:
                value = spec.parse(args, rest)
            except ValueError as exc:
                raise error(str(exc)) from None
        if name in _PATH_KEYWORDS:
            value = _derelativise(value, self.cwd)
        if name == "usepam" and value:
            self.unsupported.append(UnsupportedOption(name, file, number, rest))
        self.directives.append(_Directive(name, value, file, number, current))
        return current

    def _include(
        self, args: list[str], file: str, number: int, chain: tuple[MatchCriteria, ...], depth: int
    ) -> None:
        if depth >= _MAX_INCLUDE_DEPTH:
            raise ConfigError(file, number, "Too many recursive configuration includes")
        for arg in args:
            pattern = (
                arg
                if os.path.isabs(arg) or arg.startswith("~")
                else (os.path.join(self.include_dir, arg))
            )
            pattern = os.path.expanduser(pattern)
            # A pattern matching nothing is not an error (sshd: "no match for ...").
            for path in self.glob(pattern):
                try:
                    text = self.read_text(path)
                except OSError as exc:
                    raise ConfigError(file, number, f"cannot read {path}: {exc}") from None
                self.parse(text, path, chain, depth + 1)


# Paths sshd makes absolute (against its working directory, ~ expanded) as it reads them.
_PATH_KEYWORDS = frozenset(
    {"hostkey", "hostcertificate", "pidfile", "banner", "trustedusercakeys", "revokedkeys"}
)


def _derelativise(value: object, cwd: str) -> object:
    if isinstance(value, tuple):
        return tuple(_derelativise(v, cwd) for v in value)
    assert isinstance(value, str)
    if value == "none":
        return value
    path = os.path.expanduser(value)
    return path if os.path.isabs(path) else os.path.join(cwd, path)


def _combine(
    directives: list[_Directive], active: Callable[[_Directive], bool]
) -> dict[str, object]:
    out: dict[str, object] = {}
    for d in directives:
        if not active(d):
            continue
        spec = KEYWORDS[d.keyword]
        if spec.combine == "first":
            out.setdefault(d.keyword, d.value)
        else:  # append; also Subsystem's table, whose duplicates the first pass refuses
            previous = out.get(d.keyword, ())
            assert isinstance(previous, tuple) and isinstance(d.value, tuple)
            out[d.keyword] = previous + d.value
    return out


# sshd -T's order for the keywords we print.
_DUMP_ORDER = [
    "port",
    "addressfamily",
    "listenaddress",
    "usepam",
    "logingracetime",
    "maxauthtries",
    "maxsessions",
    "clientaliveinterval",
    "clientalivecountmax",
    "unusedconnectiontimeout",
    "permitrootlogin",
    "pubkeyauthentication",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "x11forwarding",
    "permittty",
    "strictmodes",
    "gatewayports",
    "allowtcpforwarding",
    "allowagentforwarding",
    "allowstreamlocalforwarding",
    "pidfile",
    "ciphers",
    "macs",
    "banner",
    "forcecommand",
    "chrootdirectory",
    "trustedusercakeys",
    "revokedkeys",
    "authorizedprincipalsfile",
    "kexalgorithms",
    "casignaturealgorithms",
    "hostkeyalgorithms",
    "pubkeyacceptedalgorithms",
    "loglevel",
    "authorizedkeysfile",
    "hostkey",
    "hostcertificate",
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "acceptenv",
    "setenv",
    "authenticationmethods",
    "channeltimeout",
    "subsystem",
    "maxstartups",
    "rekeylimit",
    "permitopen",
    "permitlisten",
]


class SshdSettings(Mapping[str, object]):
    """Effective settings (defaults filled in): ``settings["maxauthtries"]`` -> 6.

    Keys are lowercase keyword names; values are typed (bool flags, int counts and
    seconds, tuples for lists, str for the rest, None for ``none`` timeouts).
    """

    def __init__(self, values: dict[str, object], explicit: frozenset[str]) -> None:
        self._values = values
        #: Keywords set by the configuration rather than defaulted.
        self.explicit = explicit

    def __getitem__(self, keyword: str) -> object:
        name = keyword.lower()
        return self._values[ALIASES.get(name, name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def flag(self, keyword: str) -> bool:
        value = self[keyword]
        if not isinstance(value, bool):
            raise TypeError(f"{keyword} is not a flag setting")
        return value

    def integer(self, keyword: str) -> int:
        value = self[keyword]
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise TypeError(f"{keyword} is not an integer setting")
        return value

    def text(self, keyword: str) -> str:
        value = self[keyword]
        if not isinstance(value, str):
            raise TypeError(f"{keyword} is not a text setting")
        return value

    def words(self, keyword: str) -> tuple[str, ...]:
        value = self[keyword]
        if not isinstance(value, tuple):
            raise TypeError(f"{keyword} is not a list setting")
        return tuple(str(v) for v in value)

    @property
    def subsystems(self) -> dict[str, str]:
        value = self["subsystem"]
        assert isinstance(value, tuple)
        return {name: command for name, command in value}

    def algorithms(self, keyword: str) -> list[str]:
        """An algorithm list with ``+``/``-``/``^`` applied to OpenSSH 9.2's default."""
        return expand_algorithms(keyword.lower(), self.text(keyword)).split(",")

    def listen_addresses(self) -> list[tuple[str, int]]:
        """(address, port) pairs to listen on: ListenAddress entries without a port get
        every Port; none at all means the wildcard addresses of the AddressFamily."""
        ports = [int(p) for p in self.words("port")]
        listen = self["listenaddress"]
        assert isinstance(listen, tuple)
        if not listen:
            # sshd's default: the wildcard address of each family it listens on.
            wildcards = {"any": ["::", "0.0.0.0"], "inet": ["0.0.0.0"], "inet6": ["::"]}  # noqa: S104
            hosts = wildcards[str(self["addressfamily"])]
            return [(h, p) for p in ports for h in hosts]
        out: list[tuple[str, int]] = []
        for host, port in listen:
            out.extend([(host, port)] if port is not None else [(host, p) for p in ports])
        return out

    def authorized_keys_files(self, user: str, home: str, uid: int) -> list[str]:
        """AuthorizedKeysFile for a user, tokens expanded, relative paths under ``home``."""
        files = self.words("authorizedkeysfile")
        if files == ("none",):
            return []
        return [_under_home(expand_tokens(f, user=user, home=home, uid=uid), home) for f in files]

    def access_denied(
        self,
        user: str,
        *,
        host: str | None,
        address: str,
        groups: Iterable[str] = (),
    ) -> str | None:
        """Why sshd's Deny/Allow Users/Groups refuse ``user`` from this client, or None.

        ``user@host`` entries match the host part against the client's name (its address
        when ``host`` is None) and address, CIDR allowed, as sshd does.
        """
        for pattern in self.words("denyusers"):
            if _user_matches(user, host, address, pattern):
                return f"user {user} is listed in DenyUsers"
        allow = self.words("allowusers")
        if allow and not any(_user_matches(user, host, address, p) for p in allow):
            return f"user {user} is not listed in AllowUsers"
        names = list(groups)
        deny_groups, allow_groups = self.words("denygroups"), self.words("allowgroups")
        if any(match_glob(g, p) for g in names for p in deny_groups):
            return f"user {user} has a group listed in DenyGroups"
        if allow_groups and not any(match_glob(g, p) for g in names for p in allow_groups):
            return f"user {user} has no group listed in AllowGroups"
        return None

    def authorized_principals_file(self, user: str, home: str, uid: int) -> str | None:
        template = self.text("authorizedprincipalsfile")
        if template == "none":
            return None
        return _under_home(expand_tokens(template, user=user, home=home, uid=uid), home)

    def chroot_directory(self, user: str, home: str, uid: int) -> str | None:
        """ChrootDirectory for a user, tokens expanded (None for ``none``)."""
        template = self.text("chrootdirectory")
        if template == "none":
            return None
        return expand_tokens(template, user=user, home=home, uid=uid)

    def dump(self) -> str:
        """The settings as ``sshd -T`` prints them (lowercase keyword, one value a line)."""
        lines: list[str] = []
        for name in _DUMP_ORDER:
            value = self._values[name]
            for text in _dump_values(name, value, self):
                lines.append(f"{name} {text}")
        return "\n".join(lines) + "\n"


def _dump_values(name: str, value: object, settings: SshdSettings) -> list[str]:
    if name == "listenaddress":
        return [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in settings.listen_addresses()]
    if name in DEFAULT_ALGORITHMS:
        return [",".join(settings.algorithms(name))]
    spec = KEYWORDS[name]
    if spec.dump is not None:
        return spec.dump(value)
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return [str(value)]


def _user_matches(user: str, host: str | None, address: str, pattern: str) -> bool:
    # One pattern per word (no comma lists); user names compare case-sensitively.
    user_part, at, host_part = pattern.rpartition("@")
    if not at:
        return match_glob(user, pattern)
    return match_glob(user, user_part) and match_host_and_address(host, address, host_part)


def _under_home(path: str, home: str) -> str:
    return path if path.startswith("/") else os.path.join(home, path)


def expand_tokens(template: str, *, user: str, home: str, uid: int) -> str:
    """Expand sshd's %% %h %u %U in AuthorizedKeysFile-like paths; other tokens are errors
    (sshd refuses the login then)."""
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        token = template[i + 1 : i + 2]
        replacement = {"%": "%", "h": home, "u": user, "U": str(uid)}.get(token)
        if replacement is None:
            raise ValueError(f"unknown token %{token} in {template!r}")
        out.append(replacement)
        i += 2
    return "".join(out)


class SshdConfig:
    """A parsed sshd_config: global settings plus Match blocks for :meth:`for_connection`."""

    def __init__(
        self,
        directives: list[_Directive],
        unsupported: list[UnsupportedOption],
        groups_of: GroupsOf | None,
    ) -> None:
        self._directives = directives
        #: Keywords accepted but not acted on, in file order (UsePAM only when yes).
        self.unsupported = unsupported
        self.groups_of = groups_of
        self._global = _combine(directives, lambda d: _active_globally(d.chain))
        self._check_subsystems()

    def _check_subsystems(self) -> None:
        seen: set[str] = set()
        for d in self._directives:
            if d.keyword == "subsystem" and _active_globally(d.chain):
                assert isinstance(d.value, tuple)
                name = d.value[0][0]
                if name in seen:
                    raise ConfigError(d.file, d.line, f"Subsystem '{name}' already defined.")
                seen.add(name)

    def settings(self) -> SshdSettings:
        """The global settings (``sshd -T`` without ``-C``)."""
        return self._settings({})

    def for_connection(
        self,
        user: str | None = None,
        host: str | None = None,
        address: str | None = None,
        local_address: str | None = None,
        local_port: int | None = None,
        *,
        rdomain: str | None = None,
    ) -> SshdSettings:
        """The settings for one connection after Match (``sshd -T -C user=...``).

        ``host`` is the client's name as sshd would use it; None means its address, which
        is what sshd matches Host against with ``UseDNS no`` (the default).
        """
        if host is None:
            host = address
        conn = MatchConnection(user, host, address, local_address, local_port, rdomain)
        return self.match(conn)

    def match(self, conn: MatchConnection) -> SshdSettings:
        def active(d: _Directive) -> bool:
            return (
                bool(d.chain)
                and KEYWORDS[d.keyword].in_match
                and all(c.matches(conn, self.groups_of) for c in d.chain)
            )

        return self._settings(_combine(self._directives, active))

    def _settings(self, overrides: dict[str, object]) -> SshdSettings:
        values = {name: spec.default for name, spec in KEYWORDS.items()}
        values.update(self._global)
        values.update(overrides)
        return SshdSettings(values, frozenset(self._global) | frozenset(overrides))

    def dump(self) -> str:
        return self.settings().dump()


def parse_sshd_config(
    text: str,
    *,
    filename: str = "sshd_config",
    include_dir: str = DEFAULT_CONFIG_DIR,
    groups_of: GroupsOf | None = None,
    read_text: Callable[[str], str] = _default_read,
    glob: Callable[[str], list[str]] = _default_glob,
    cwd: str | None = None,
    options: Sequence[str] = (),
    ports: Sequence[int] = (),
) -> SshdConfig:
    """Parse sshd_config text. ``groups_of`` answers ``Match Group`` (without it, Group
    criteria never match); ``read_text`` and ``glob`` serve ``Include``; relative HostKey,
    PidFile, Banner and similar paths are taken from ``cwd`` (default: the current
    directory), as sshd does. ``options`` are ``sshd -o`` lines: read first (so they win),
    errors named ``command-line line 0`` as sshd names them. ``ports`` (``sshd -p``)
    replace every Port line."""
    reader = _Reader(include_dir, read_text, glob, os.getcwd() if cwd is None else cwd)
    for option in options:
        reader.parse(option, COMMAND_LINE, (), 0, first_line=0)
    reader.parse(text, filename, (), 0)
    if ports:
        kept = [d for d in reader.directives if d.keyword != "port"]
        reader.directives = [_Directive("port", tuple(ports), COMMAND_LINE, 0, ()), *kept]
    return SshdConfig(reader.directives, reader.unsupported, groups_of)


def load_sshd_config(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_FILE,
    *,
    include_dir: str = DEFAULT_CONFIG_DIR,
    groups_of: GroupsOf | None = None,
    cwd: str | None = None,
    options: Sequence[str] = (),
    ports: Sequence[int] = (),
) -> SshdConfig:
    """Read and parse an sshd_config file (Include paths relative to ``include_dir``);
    ``options`` as for :func:`parse_sshd_config`."""
    name = os.fspath(path)
    text = _default_read(name)
    return parse_sshd_config(
        text,
        filename=name,
        include_dir=include_dir,
        groups_of=groups_of,
        cwd=cwd,
        options=options,
        ports=ports,
    )
