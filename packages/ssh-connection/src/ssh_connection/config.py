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

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ssh_transport import TransportConfig

from .config_match import Pass, RunExec, Source, State, token_values
from .config_tokens import (
    ALL_TOKENS,
    HOSTNAME_TOKENS,
    PROXY_TOKENS,
    ConfigError,
    Forward,
    LocalContext,
    ProxyHop,
    TokenError,
    _port_number,
    expand_tilde,
    expand_tokens,
)

__all__ = [
    "ConfigError",
    "SSHConfig",
    "HostConfig",
    "Forward",
    "ProxyHop",
    "LocalContext",
    "RunExec",
    "transport_config",
    "DEFAULT_IDENTITY_FILES",
    "DEFAULT_USER_KNOWN_HOSTS_FILES",
    "DEFAULT_GLOBAL_KNOWN_HOSTS_FILES",
]

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
    canonicalize_hostname: str = "no"  # parsed only: no DNS canonicalization is done
    # Read-only, and left out of the hash so that a HostConfig stays hashable.
    other: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )


# -- the public entry point --------------------------------------------------------------


class SSHConfig:
    """A set of ssh_config sources, evaluated per destination by :meth:`resolve`."""

    def __init__(self, sources: Iterable[Source] = (), *, context: LocalContext | None = None):
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
        return cls([Source(filename, text, user_config)], context=context)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        user_config: bool = True,
        context: LocalContext | None = None,
    ) -> SSHConfig:
        """One file, as ``ssh -F path`` reads it (a missing file is an error)."""
        return cls([Source(os.fspath(path), None, user_config)], context=context)

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
            sources.append(Source(path, None, True, check_perms=True, missing_ok=True))
        if system_config is not None:
            sources.append(Source(os.fspath(system_config), None, False, missing_ok=True))
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
        _check_command_line(original, user)
        state = State()
        if user is not None:
            state.values["user"] = user
        if port is not None:
            state.values["port"] = _port_number(str(port))
        first = Pass(state, ctx, original, original, False, run_exec)
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
        # ssh re-reads after canonicalization is enabled even when no name was changed
        # (we never resolve names, so none ever is).
        canonicalize = state.values.get("canonicalize_hostname", "no") != "no"
        if first.want_final or canonicalize:
            final = Pass(state, ctx, host, original, True, run_exec)
            for src in self._sources:
                final.read_source(src)
        return _finish(state, ctx, original)


def _check_command_line(host: str, user: str | None) -> None:
    """ssh's guard for names from its command line, which end up inside ProxyCommand and
    Match exec commands: no shell metacharacters, no leading ``-``."""
    if (
        not host
        or host.startswith("-")
        or any(c in "'`\"$\\;&<>|()," or c.isspace() or not c.isprintable() for c in host)
    ):
        raise ConfigError(f"hostname contains invalid characters: {host!r}")
    if user is not None and (
        user.startswith("-")
        or user.endswith("\\")
        or any(c in "'`\";&<>|(){}" for c in user)
        or any(c.isspace() and user[i + 1 : i + 2] == "-" for i, c in enumerate(user))
    ):
        raise ConfigError(f"remote username contains invalid characters: {user!r}")


def _finish(state: State, ctx: LocalContext, original: str) -> HostConfig:
    v, lists = state.values, state.lists
    hostname = str(v["hostname"])
    port = int(v.get("port", 22))
    user = str(v.get("user", ctx.user))
    alias = v.get("host_key_alias")
    jump_raw, hops = v.get("proxy_jump", ("", None))
    tokens = token_values(ctx, hostname, original, port, user, alias or original, jump_raw)

    def path(text: str, what: str) -> str:
        try:
            return expand_tokens(expand_tilde(text, ctx), tokens, ALL_TOKENS, ctx.env)
        except TokenError as exc:
            raise ConfigError(f"{what} {text!r}: {exc}") from None

    def tilde(text: str) -> str:
        try:
            return expand_tilde(text, ctx)
        except TokenError as exc:
            raise ConfigError(f"{text!r}: {exc}") from None

    def socket_path(text: str | None) -> str | None:
        return None if text is None else path(text, "forwarding path")

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

    control_persist = v.get("control_persist", "no")
    if update == "ask" and control_persist != "no":
        update = "no"  # ssh: asking is impossible from a backgrounded master

    def known(
        files: tuple[str, ...] | None, default: tuple[str, ...], expand: bool
    ) -> tuple[str, ...]:
        chosen = files if files is not None else default
        if tuple(chosen) == ("none",):
            return ()
        # Tokens and variables only in UserKnownHostsFile; the global files get ~ alone.
        if not expand:
            return tuple(tilde(f) for f in chosen)
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
        user_known_hosts_files=known(user_known, DEFAULT_USER_KNOWN_HOSTS_FILES, True),
        global_known_hosts_files=known(
            v.get("global_known_hosts_files"), DEFAULT_GLOBAL_KNOWN_HOSTS_FILES, False
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
        control_persist=control_persist,
        canonicalize_hostname=v.get("canonicalize_hostname", "no"),
        other=MappingProxyType(dict(state.other)),
    )


def transport_config(config: HostConfig, **overrides: Any) -> TransportConfig:
    """A TransportConfig with the algorithm lists (modifiers and all), compression and
    rekey limits of ``config``; ``overrides`` are TransportConfig fields set on top."""
    options: dict[str, Any] = {
        "kex_algorithms": config.kex_algorithms,
        "host_key_algorithms": config.host_key_algorithms,
        "ciphers": config.ciphers,
        "macs": config.macs,
    }
    if config.compression:
        options["compression"] = "zlib@openssh.com,zlib,none"  # ssh's order with Compression yes
    if config.rekey_limit_bytes:
        options["rekey_bytes"] = config.rekey_limit_bytes
    if config.rekey_limit_seconds:
        options["rekey_seconds"] = float(config.rekey_limit_seconds)
    options.update(overrides)
    return TransportConfig(**options)
