"""From an effective sshd_config to what sshd-py serves: the embedded default for a
newcomer (loopback, port 2222, host keys kept in a state directory), host keys loaded as
sshd loads them, the transport's algorithm lists, the server's options, and a warning
for each setting sshd-py accepts but cannot honour yet. No sockets or event loop here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import warnings
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ssh_keys import (
    Certificate,
    KeyFormatError,
    PrivateKey,
    generate_private_key,
    read_private_key_file,
    read_public_key_file,
    write_private_key_file,
)
from ssh_transport import HostKey, TransportConfig

from . import forwarding as fw
from .channel_timeouts import parse_channel_timeouts
from .restrictions import ForwardRequest
from .server_settings import ConnectionSettings
from .sshd_config import (
    SshdConfig,
    SshdSettings,
    load_sshd_config,
    parse_sshd_config,
    system_groups,
)
from .sshd_config_keywords import parse_time
from .sshd_config_match import split_keyword
from .sshd_log import log
from .startups import SourceStartups

__all__ = [
    "DEFAULT_PORT",
    "DEFAULTS_NAME",
    "STATE_DIR_ENV",
    "HostKeyError",
    "ListenError",
    "state_directory",
    "ensure_state_host_keys",
    "load_config",
    "load_host_keys",
    "listen_addresses",
    "transport_config",
    "server_options",
    "unhonoured",
]

DEFAULT_PORT = 2222
#: The name errors give the embedded default configuration.
DEFAULTS_NAME = "<sshd-py defaults>"
#: Overrides where the default mode keeps its host keys.
STATE_DIR_ENV = "SSHD_PY_STATE_DIR"
_DEFAULT_KEX = "-ecdh-sha2-nistp*"
# UsePAM gets its own warning; a security key provider is only ever used by a client;
# SshdPolicy reads PermitUserEnvironment itself.
_SILENTLY_ACCEPTED = frozenset({"usepam", "securitykeyprovider", "permituserenvironment"})
_STATE_KEYS = (("ed25519", None, "ssh_host_ed25519_key"), ("rsa", 3072, "ssh_host_rsa_key"))


class HostKeyError(Exception):
    """No usable host key (sshd: "no hostkeys available -- exiting.")."""


class ListenError(Exception):
    """A listen address sshd-py refuses to use without being told explicitly."""


def state_directory(explicit: str | None = None) -> str:
    """``--state-dir``, else $SSHD_PY_STATE_DIR, else $XDG_STATE_HOME/sshd-py, else
    ~/.local/state/sshd-py."""
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if os.environ.get(STATE_DIR_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[STATE_DIR_ENV]))
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "sshd-py")


def ensure_state_host_keys(directory: str) -> list[str]:
    """The default mode's host keys: made (0600) on first start, kept afterwards."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    paths = []
    for kind, bits, name in _STATE_KEYS:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            key = generate_private_key(kind, bits)
            write_private_key_file(path, key)
            with open(path + ".pub", "w", encoding="ascii") as f:
                f.write(key.public_key.to_line() + "\n")
            log.info("generated %s host key %s", kind, path)
        paths.append(path)
    return paths


def _default_text(state_dir: str, options: Sequence[str]) -> str:
    # List keywords accumulate: one given with -o (or -h) replaces the default's.
    given = set()
    for option in options:
        parts = split_keyword(option)
        if parts is not None:
            given.add(parts[0].lower())
    lines = [
        *([f"Port {DEFAULT_PORT}"] if "port" not in given else []),
        *(["ListenAddress 127.0.0.1"] if "listenaddress" not in given else []),
        *(
            f"HostKey {os.path.join(state_dir, name)}"
            for _, _, name in _STATE_KEYS
            if "hostkey" not in given
        ),
        "PidFile none",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
    ]
    return "\n".join(lines) + "\n"


def load_config(
    path: str | None,
    options: Sequence[str] = (),
    ports: Sequence[int] = (),
    state_dir: str | None = None,
) -> tuple[SshdConfig, bool]:
    """The configuration (``-f path``, or the embedded default when None, whose host keys
    live in the state directory) with ``-o`` options and ``-p`` ports; and whether it is
    the default. Raises :class:`~ssh_connection.sshd_config.ConfigError` or OSError."""
    if path is not None:
        config = load_sshd_config(path, groups_of=system_groups, options=options, ports=ports)
        return config, False
    text = _default_text(state_directory(state_dir), options)
    config = parse_sshd_config(
        text, filename=DEFAULTS_NAME, groups_of=system_groups, options=options, ports=ports
    )
    return config, True


def load_host_keys(settings: SshdSettings) -> list[HostKey]:
    """HostKey files (each HostCertificate joins its key), skipping unloadable ones with
    sshd's message; :class:`HostKeyError` when none is left."""
    keys: list[PrivateKey] = []
    for path in settings.words("hostkey"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # sshd refuses readable-by-others keys
                key = read_private_key_file(path)
        except (OSError, KeyFormatError, Warning) as exc:
            log.error("Unable to load host key %s: %s", path, exc)
            continue
        if not (key.signature_algorithms or key.legacy_algorithms):  # sk-*: needs a token
            log.error("Unable to load host key %s: %s keys cannot sign", path, key.algorithm)
            continue
        keys.append(key)
    if not keys:
        raise HostKeyError("no hostkeys available -- exiting.")
    certificates: dict[bytes, Certificate] = {}
    for path in settings.words("hostcertificate"):
        try:
            cert = read_public_key_file(path).key
        except (OSError, KeyFormatError) as exc:
            log.error("Could not load host certificate %s: %s", path, exc)
            continue
        if not isinstance(cert, Certificate):
            log.error("Certificate file is not a certificate: %s", path)
            continue
        certificates[cert.key.blob] = cert
    hostkeys = []
    for key in keys:
        hostkeys.append(HostKey(key))
        found = certificates.get(key.public_key.blob)
        if found is not None:
            hostkeys.append(HostKey(key, found))
    return hostkeys


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_addresses(settings: SshdSettings) -> list[tuple[str, int]]:
    """Where to listen. Without an explicit ListenAddress sshd-py listens on loopback only
    (sshd would take every address): a public address must be asked for."""
    family = settings.text("addressfamily")
    if "listenaddress" not in settings.explicit:
        host = "::1" if family == "inet6" else "127.0.0.1"
        addresses = [(host, int(port)) for port in settings.words("port")]
        log.info("ListenAddress not set: listening on loopback only (%s)", host)
        return addresses
    out = []
    for host, port in settings.listen_addresses():
        if (family == "inet" and ":" in host) or (family == "inet6" and ":" not in host):
            continue
        out.append((host, port))
    if not out:
        raise ListenError("no listen address left for AddressFamily " + family)
    return out


def _implemented(field_name: str, name: str) -> bool:
    # The transport's own check of a name, through its public configuration.
    try:
        fields: dict[str, Any] = {field_name: name}
        TransportConfig(**fields).algorithm_lists()
    except ValueError:
        return False
    return True


def _algorithms(settings: SshdSettings, keyword: str, field_name: str) -> str | None:
    """An explicitly configured list, with names we do not implement dropped (and said)."""
    if keyword not in settings.explicit:
        return None  # our own defaults: modern, and ssh-audit clean
    wanted = settings.algorithms(keyword)
    dropped = [name for name in wanted if not _implemented(field_name, name)]
    if dropped:
        log.warning("%s: not implemented, ignored: %s", keyword, ",".join(dropped))
    kept = [name for name in wanted if name not in dropped]
    if not kept:
        log.warning("%s: nothing implemented is left; using the defaults", keyword)
        return None
    return ",".join(kept)


def _servable(names: str | None, host_keys: Sequence[HostKey]) -> str | None:
    """As sshd: of the configured host key algorithms, offer those a loaded key can serve
    (``HostKeyAlgorithms *`` names sk-* and DSA too); None (the defaults) if none can."""
    if names is None or not host_keys:
        return names
    kept = []
    for name in names.split(","):
        try:
            TransportConfig(host_key_algorithms=name, host_keys=tuple(host_keys)).algorithm_lists()
        except ValueError:
            continue
        kept.append(name)
    return ",".join(kept) or None


def transport_config(settings: SshdSettings, host_keys: Sequence[HostKey] = ()) -> TransportConfig:
    """The transport's settings; with ``host_keys``, host key algorithms no key can serve
    are left out, as sshd offers only what it has keys for."""
    limit = settings["rekeylimit"]
    assert isinstance(limit, tuple)
    size, seconds = int(limit[0]), int(limit[1])
    options: dict[str, Any] = {
        # Unset, the NIST curves stay out: ssh-audit fails servers that offer them.
        "kex_algorithms": _algorithms(settings, "kexalgorithms", "kex_algorithms") or _DEFAULT_KEX,
        "ciphers": _algorithms(settings, "ciphers", "ciphers"),
        "macs": _algorithms(settings, "macs", "macs"),
        "host_key_algorithms": _servable(
            _algorithms(settings, "hostkeyalgorithms", "host_key_algorithms"), host_keys
        ),
        "services": ("ssh-userauth",),
    }
    if "pubkeyacceptedalgorithms" in settings.explicit:
        # server-sig-algs must name what PubkeyAcceptedAlgorithms adds (ssh offers ssh-dss
        # or ssh-rsa only when it is there); it never drops a default name, since a Match
        # block may accept more for some users (the policy decides per user).
        sig_algs = list(TransportConfig().server_sig_algs)
        for name in settings.algorithms("pubkeyacceptedalgorithms"):
            signature = name
            if name.endswith("-cert-v01@openssh.com"):
                signature = name.removesuffix("-cert-v01@openssh.com")
                if signature.startswith("sk-"):
                    signature += "@openssh.com"  # sk-ssh-ed25519@openssh.com
            if signature not in sig_algs:
                sig_algs.append(signature)
        options["server_sig_algs"] = tuple(sig_algs)
    if size:
        options["rekey_bytes"] = int(size)
    if seconds:
        options["rekey_seconds"] = float(seconds)
    grace = settings.integer("logingracetime")
    options["handshake_timeout"] = float(grace) if grace else None
    return TransportConfig(**options)


def _keepalives(settings: SshdSettings) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    interval = settings.integer("clientaliveinterval")
    if interval:
        limits["keepalive_interval"] = float(interval)
        limits["keepalive_count_max"] = max(1, settings.integer("clientalivecountmax"))
    return limits


def _channel_timeouts(settings: SshdSettings) -> list[tuple[str, float]]:
    timeouts = [f"{kind}={parse_time(value)}" for kind, _, value in _split_timeouts(settings)]
    return parse_channel_timeouts(timeouts)


def _unused_timeout(settings: SshdSettings) -> float | None:
    unused = settings["unusedconnectiontimeout"]
    return float(unused) if isinstance(unused, int) and unused else None


def _streamlocal_check(
    settings: SshdSettings,
) -> Callable[[ForwardRequest], Coroutine[Any, Any, bool]] | None:
    streamlocal = settings.text("allowstreamlocalforwarding")
    return streamlocal_direction(streamlocal) if streamlocal in ("local", "remote") else None


def connection_settings(settings: SshdSettings, base: ConnectionSettings) -> ConnectionSettings:
    """A connection's settings from its user's effective settings (Match blocks applied):
    AcceptEnv, AllowStreamLocalForwarding, GatewayPorts, MaxSessions, ChannelTimeout,
    UnusedConnectionTimeout and ClientAlive*."""
    return dataclasses.replace(
        base,
        accept_env=tuple(settings.words("acceptenv")),
        allow_streamlocal_forwarding=settings.text("allowstreamlocalforwarding") != "no",
        forwarding_check=_streamlocal_check(settings),
        gateway_ports=settings.text("gatewayports") != "no",
        max_sessions=settings.integer("maxsessions"),
        channel_timeouts=tuple(_channel_timeouts(settings)),
        unused_connection_timeout=_unused_timeout(settings),
        connection_limits=_keepalives(settings),
    )


def server_options(settings: SshdSettings) -> dict[str, Any]:
    """AsyncSSHServer keyword options from the global settings (per-user ones travel in
    the auth decisions, see :mod:`ssh_connection.sshd_policy`, and in
    :func:`connection_settings`)."""
    grace = settings.integer("logingracetime")
    options: dict[str, Any] = {
        "accept_env": settings.words("acceptenv"),
        # Per user, AllowTcpForwarding, AllowAgentForwarding and X11Forwarding travel in
        # the decisions (with the key's and certificate's options); these are master
        # switches.
        "allow_tcp_forwarding": True,
        "allow_agent_forwarding": True,
        "allow_x11_forwarding": True,
        "allow_streamlocal_forwarding": settings.text("allowstreamlocalforwarding") != "no",
        "gateway_ports": settings.text("gatewayports") != "no",
        "max_sessions": settings.integer("maxsessions"),
        "login_grace_time": float(grace) if grace else None,
        "max_startups": _max_startups(settings),
        "per_source_max_startups": _per_source_startups(settings),
        "max_auth_tries": settings.integer("maxauthtries"),
        "connection_limits": _keepalives(settings),
        "channel_timeouts": _channel_timeouts(settings),
        "unused_connection_timeout": _unused_timeout(settings),
        "forwarding_check": _streamlocal_check(settings),
    }
    return options


def _per_source_startups(settings: SshdSettings) -> SourceStartups | None:
    limit = settings["persourcemaxstartups"]
    if not isinstance(limit, int):
        return None  # "none"
    block = settings["persourcenetblocksize"]
    assert isinstance(block, tuple)
    return SourceStartups(limit, int(block[0]), int(block[1]))


def _split_timeouts(settings: SshdSettings) -> list[tuple[str, str, str]]:
    return [item.rpartition("=") for item in settings.words("channeltimeout")]


def streamlocal_direction(
    allowed: str,
) -> Callable[[ForwardRequest], Coroutine[Any, Any, bool]]:
    """AllowStreamLocalForwarding local (connect to sockets here) or remote (listen on
    them here) as a forwarding check; TCP forwardings pass (AllowTcpForwarding decides)."""
    refused = fw.STREAMLOCAL_FORWARD if allowed == "local" else fw.DIRECT_STREAMLOCAL

    async def check(request: ForwardRequest) -> bool:  # a coroutine: no worker thread
        return request.kind != refused

    return check


def _max_startups(settings: SshdSettings) -> tuple[int, int, int]:
    value = settings["maxstartups"]
    assert isinstance(value, tuple)
    start, rate, full = (int(v) for v in value)
    return (start, rate, full)


def unhonoured(config: SshdConfig, settings: SshdSettings) -> list[str]:
    """Warnings for settings sshd-py accepts but does not act on (yet)."""
    out = [
        f"{u.file} line {u.line}: {u.keyword} is not supported by sshd-py and is ignored"
        for u in config.unsupported
        if u.keyword not in _SILENTLY_ACCEPTED
    ]
    if settings.flag("usepam"):
        out.append("UsePAM yes: sshd-py has no PAM; ignored")
    checks = [
        (
            "gatewayports",
            settings.text("gatewayports") == "clientspecified",
            "clientspecified is served as yes",
        ),
        (
            "passwordauthentication",
            "passwordauthentication" in settings.explicit
            and settings.flag("passwordauthentication"),
            "sshd-py has no password checker (no PAM): passwords are refused",
        ),
    ]
    out += [f"{keyword}: {why}" for keyword, active, why in checks if active]
    return out
