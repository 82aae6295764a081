"""What ``connect(host, ssh_config=...)`` takes from OpenSSH's client configuration.

:func:`plan_connection` resolves the destination as ``ssh host`` would (Host and Match
blocks, HostName, Port, User, ProxyJump / ProxyCommand, ...) and merges the arguments the
caller gave explicitly on top: an explicit argument always wins over the files, as ssh's
command line does. The result, a :class:`ConnectPlan`, is what the front ends dial. Nothing
here touches the network; it reads configuration and key files only, so both front ends
share it.

Not applied from the files (parsed, but ssh_connection has no use for them yet):
CanonicalizeHostname, ControlMaster / ControlPath, AddressFamily, BindAddress,
PubkeyAcceptedAlgorithms (its +/-/^ forms need the agent's and the files' keys first; pass
``publickey_algorithms=`` to connect instead), NumberOfPasswordPrompts, VerifyHostKeyDNS.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssh_auth import key_candidates
from ssh_keys import (
    Certificate,
    KeyFormatError,
    PassphraseRequired,
    PublicKey,
    Signer,
    match_glob,
    read_private_key_file,
    read_public_key_file,
)
from ssh_transport import TransportConfig

from .config import ConfigError, HostConfig, ProxyHop, SSHConfig, transport_config
from .config_tokens import PROXY_TOKENS, TokenError, _parse_jump, expand_tokens
from .host_keys import HostKeyCallable, policy_from_config
from .hostkey_update import HostKeyUpdater

__all__ = [
    "ConfigSource",
    "ConnectPlan",
    "load_ssh_config",
    "plan_connection",
    "parse_proxy_jump",
    "session_env",
    "load_identities",
    "shell_exec",
    "expand_proxy_command",
    "MAX_JUMP_DEPTH",
]

log = logging.getLogger("ssh_connection.client_config")

#: ``ssh_config=``: True for ~/.ssh/config then /etc/ssh/ssh_config (as plain ``ssh``),
#: a path for one file (as ``ssh -F path``), or an :class:`SSHConfig` already made.
ConfigSource = "bool | str | os.PathLike[str] | SSHConfig | None"
#: Hops a ProxyJump chain may take, counting the hops' own jumps (a loop ends here).
MAX_JUMP_DEPTH = 8
#: The timeout when neither the caller nor ConnectTimeout gives one.
DEFAULT_TIMEOUT = 30.0


def load_ssh_config(source: bool | str | os.PathLike[str] | SSHConfig | None) -> SSHConfig | None:
    """The :class:`SSHConfig` for a ``ssh_config=`` argument (None or False: none)."""
    if source is None or source is False:
        return None
    if source is True:
        return SSHConfig.default()
    if isinstance(source, SSHConfig):
        return source
    return SSHConfig.from_file(source)


def parse_proxy_jump(spec: str | Sequence[str | ProxyHop]) -> tuple[ProxyHop, ...]:
    """ProxyJump hops from ssh's ``-J`` syntax (``"a,user@b:2222"``; ``"none"``: no hops)
    or from a sequence of such strings and :class:`ProxyHop` values."""
    items: list[str | ProxyHop] = [spec] if isinstance(spec, str) else list(spec)
    hops: list[ProxyHop] = []
    for item in items:
        if isinstance(item, ProxyHop):
            hops.append(item)
            continue
        try:
            hops.extend(_parse_jump([item]) or ())
        except TokenError as exc:
            raise ConfigError(f"ProxyJump: {exc}") from None
    return tuple(hops)


def expand_proxy_command(command: str, original: str, host: str, port: int, user: str) -> str:
    """ProxyCommand's tokens: %h (host name), %p (port), %r (user), %n (as given), %%."""
    values = {"h": host, "p": str(port), "r": user, "n": original}
    try:
        return expand_tokens(command, values, PROXY_TOKENS)
    except TokenError as exc:
        raise ConfigError(f"ProxyCommand: {exc}") from None


def shell_exec(command: str) -> bool:
    """Run a ``Match exec`` command with ``/bin/sh -c`` as ssh does: True on status 0."""
    # The command comes from the user's own configuration, as in ssh.
    return subprocess.run(["/bin/sh", "-c", command], check=False).returncode == 0  # noqa: S603


def session_env(config: HostConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables ssh would send on each session: SetEnv's, then the local ones that
    SendEnv's patterns name (a SetEnv of the same name wins, as in ssh)."""
    env = dict(config.set_env)
    local = os.environ if environ is None else environ
    for name, value in local.items():
        if name not in env and any(match_glob(name, p) for p in config.send_env):
            env[name] = value
    return env


def load_identities(config: HostConfig) -> list[Signer]:
    """The IdentityFile keys that load without a passphrase, each preceded by its
    certificate (CertificateFile, or the ``-cert.pub`` beside it), in ssh's order.
    Missing files are skipped; a key needing a passphrase is skipped with a log line (use
    an agent for those, or pass ``signers=``)."""
    certificates = []
    for path in config.certificate_files:
        cert = _read_certificate(path)
        if cert is not None:
            certificates.append(cert)
    signers: list[Signer] = []
    for path in config.identity_files:
        if not os.path.exists(path):
            continue
        try:
            key = read_private_key_file(path)
        except PassphraseRequired:
            log.info("%s needs a passphrase: skipped (add it to an agent)", path)
            continue
        except (KeyFormatError, OSError) as exc:
            log.warning("cannot load identity %s: %s", path, exc)
            continue
        own = _read_certificate(f"{path}-cert.pub", quiet=True)
        matching = [c for c in (own, *certificates) if c is not None and c.key == key.public_key]
        if not matching:
            signers.append(key)
        for i, cert in enumerate(matching):
            candidates = key_candidates(key, cert)
            signers.extend(candidates if i == len(matching) - 1 else candidates[:1])
    return signers


def _read_certificate(path: str, quiet: bool = False) -> Certificate | None:
    if not os.path.exists(path):
        return None
    try:
        key = read_public_key_file(path).key
    except (KeyFormatError, OSError) as exc:
        if not quiet:
            log.warning("cannot load certificate %s: %s", path, exc)
        return None
    return key if isinstance(key, Certificate) else None


@dataclass(frozen=True)
class ConnectPlan:
    """Where and how to connect: the configuration merged with explicit arguments."""

    host: str  # the destination as given
    hostname: str  # where the TCP connection (or the last hop's channel) goes
    port: int
    username: str
    timeout: float | None  # authentication and requests
    connect_timeout: float | None  # the TCP connection (or proxy) and the key exchange
    transport_config: TransportConfig | None
    keepalive_interval: float | None
    keepalive_count_max: int
    forward_agent: bool | str
    proxy_jump: tuple[ProxyHop, ...] = ()
    proxy_command: str | None = None
    #: The configuration the destination resolved to (None without ssh_config).
    host_config: HostConfig | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    request_tty: str = "auto"
    #: ``auth`` overrides taken from the config (``methods`` from PreferredAuthentications).
    auth: Mapping[str, Any] = field(default_factory=dict)
    #: UpdateHostKeys: what rewrites known_hosts when the server announces its keys.
    host_key_updater: HostKeyUpdater | None = None

    def host_key_policy(self) -> HostKeyCallable:
        """The known_hosts check ssh would make for this destination (StrictHostKeyChecking
        ``ask`` is strict: there is no one to ask). A refusal raises the
        :class:`~ssh_connection.host_keys.HostKeyError` saying why."""
        if self.host_config is None:
            raise ValueError("connect() needs host_key_check= or ssh_config=")
        policy = policy_from_config(self.host_config)

        def check(host: str, port: int, key: PublicKey) -> bool:
            policy.verify(host, port, key)
            return True

        return check

    def agent_socket(self) -> str | None:
        """The agent whose keys to offer: IdentityAgent, else ``$SSH_AUTH_SOCK``."""
        agent = None if self.host_config is None else self.host_config.identity_agent
        if agent == "none":
            return None
        if agent is None or agent == "SSH_AUTH_SOCK":
            return os.environ.get("SSH_AUTH_SOCK") or None
        if agent.startswith("$"):
            return os.environ.get(agent[1:]) or None
        return agent

    def agent_keys_allowed(self, keys: Sequence[PublicKey]) -> list[int]:
        """Indexes of the agent keys ssh would offer: all, or with IdentitiesOnly only those
        whose public key (or ``.pub``) is one of the IdentityFiles or CertificateFiles."""
        config = self.host_config
        if config is None or not config.identities_only:
            return list(range(len(keys)))
        wanted: set[PublicKey] = set()
        for path in (*config.identity_files, *config.certificate_files):
            for candidate in (path, f"{path}.pub"):
                if os.path.exists(candidate):
                    try:
                        key = read_public_key_file(candidate).key
                    except (KeyFormatError, OSError):
                        continue
                    wanted.add(key.key if isinstance(key, Certificate) else key)
        plain = [key.key if isinstance(key, Certificate) else key for key in keys]
        return [i for i, key in enumerate(plain) if key in wanted]


def plan_connection(
    host: str,
    port: int | None = None,
    username: str | None = None,
    *,
    ssh_config: SSHConfig | None = None,
    config: TransportConfig | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    connect_timeout: float | None = None,
    keepalive_interval: float | None = None,
    keepalive_count_max: int | None = None,
    forward_agent: bool | str | None = None,
    proxy_jump: str | Sequence[str | ProxyHop] | None = None,
    proxy_command: str | None = None,
    update_host_keys: bool | str | os.PathLike[str] | None = None,
    local_user: str = "",
) -> ConnectPlan:
    """Merge ``ssh_config`` (resolved for ``host``, which may be ``user@host``) with the
    explicit arguments; None means "not given". ``connect_timeout`` (ssh's ConnectTimeout:
    the TCP connection and the key exchange) falls back to the config's, then ``timeout``."""
    hops = None if proxy_jump is None else parse_proxy_jump(proxy_jump)
    if ssh_config is None:
        user, _, name = host.rpartition("@")
        if update_host_keys is True:
            raise ValueError("update_host_keys=True needs ssh_config= (or a known_hosts path)")
        updater = None
        if update_host_keys:
            updater = HostKeyUpdater(update_host_keys, name, 22 if port is None else port)
        return ConnectPlan(
            host=host,
            hostname=name,
            port=22 if port is None else port,
            username=username or user or local_user,
            timeout=timeout,
            connect_timeout=timeout if connect_timeout is None else connect_timeout,
            transport_config=config,
            keepalive_interval=keepalive_interval or None,
            keepalive_count_max=3 if keepalive_count_max is None else keepalive_count_max,
            forward_agent=bool(forward_agent) if forward_agent is None else forward_agent,
            proxy_jump=hops or (),
            host_key_updater=updater,
            proxy_command=None
            if proxy_command is None
            else expand_proxy_command(
                proxy_command,
                host,
                name,
                22 if port is None else port,
                username or user or local_user,
            ),
        )
    options = []
    if hops is not None:  # as ssh -J: the command line's hops replace the files'
        options.append("ProxyJump " + (",".join(_hop_text(h) for h in hops) or "none"))
    if proxy_command is not None:
        options.append(f"ProxyCommand {proxy_command}")
    hc = ssh_config.resolve(host, user=username, port=port, options=options, run_exec=shell_exec)
    if connect_timeout is None:
        connect_timeout = float(hc.connect_timeout) if hc.connect_timeout else timeout
    if forward_agent is None:
        forward_agent = hc.forward_agent_path or hc.forward_agent
    auth: dict[str, Any] = {}
    if hc.preferred_authentications is not None:
        auth["methods"] = hc.preferred_authentications
    elif not hc.password_authentication or not hc.kbd_interactive_authentication:
        methods = ["publickey", "keyboard-interactive", "password"]
        if not hc.pubkey_authentication:
            methods.remove("publickey")
        if not hc.kbd_interactive_authentication:
            methods.remove("keyboard-interactive")
        if not hc.password_authentication:
            methods.remove("password")
        auth["methods"] = tuple(methods)
    return ConnectPlan(
        host=host,
        hostname=hc.hostname,
        port=hc.port,
        username=hc.user,
        timeout=timeout,
        connect_timeout=connect_timeout,
        transport_config=config if config is not None else transport_config(hc),
        keepalive_interval=(
            keepalive_interval if keepalive_interval is not None else hc.server_alive_interval
        )
        or None,  # 0 is off, as ServerAliveInterval 0
        keepalive_count_max=(
            keepalive_count_max if keepalive_count_max is not None else hc.server_alive_count_max
        ),
        forward_agent=forward_agent,
        proxy_jump=hc.proxy_jump,  # the files keep only the first of the two, as ssh
        proxy_command=hc.proxy_command,
        host_config=hc,
        env=session_env(hc),
        request_tty=hc.request_tty,
        auth=auth,
        host_key_updater=_updater(hc, update_host_keys),
    )


def _updater(hc: HostConfig, wanted: bool | str | os.PathLike[str] | None) -> HostKeyUpdater | None:
    """UpdateHostKeys (``ask`` counts as no: there is no one to ask) or the explicit
    argument: True for the first UserKnownHostsFile, a path for that file."""
    if wanted is None:
        wanted = hc.update_host_keys == "yes"
    if wanted is False:
        return None
    files = [*hc.user_known_hosts_files]
    if wanted is True:
        if not files:
            return None
        path = files.pop(0)
    else:
        path = os.fspath(wanted)
    host, port = (hc.host_key_alias, 22) if hc.host_key_alias else (hc.hostname, hc.port)
    return HostKeyUpdater(
        path,
        host,
        port,
        other_files=(*files, *hc.global_known_hosts_files),
        hash_new=hc.hash_known_hosts,
    )


def _hop_text(hop: ProxyHop) -> str:
    host = f"[{hop.host}]" if ":" in hop.host else hop.host
    text = host if hop.port is None else f"{host}:{hop.port}"
    return text if hop.user is None else f"{hop.user}@{text}"
