"""ssh-connection: the SSH connection protocol (RFC 4254) as a sans-I/O core.

:class:`ConnectionCore` stacks on the authentication core (or a transport whose service
was accepted): channels with flow control, session and forwarding requests, global
requests. The front ends are submodules: ``ssh_connection.sync`` / ``.aio`` (the
client), ``.sync_server`` / ``.aio_server`` and ``.sync_process`` / ``.aio_process``;
importing this package imports none of them, and no event loop, socket or thread.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time each name is imported on first use: __getattr__
    from ssh_transport import ConnectionTerminated, Role
    from ssh_wire import ChannelOpenFailure as OpenFailureReason
    from ssh_wire import ExtendedDataType

    from . import forwarding, messages, session
    from .channel import (
        ALLOWED,
        DEFAULT_MAX_BUFFER,
        DEFAULT_MAX_PACKET,
        DEFAULT_WINDOW,
        Channel,
        ChannelState,
    )
    from .config import (
        DEFAULT_GLOBAL_KNOWN_HOSTS_FILES,
        DEFAULT_IDENTITY_FILES,
        DEFAULT_USER_KNOWN_HOSTS_FILES,
        ConfigError,
        Forward,
        HostConfig,
        LocalContext,
        ProxyHop,
        RunExec,
        SSHConfig,
        transport_config,
    )
    from .connection import CLIENT_CHANNEL_TYPES, SERVER_CHANNEL_TYPES, ConnectionCore
    from .errors import ChannelClosedError, ChannelOpenError, ExitSignal, RequestRefused, RunResult
    from .events import (
        ChannelClosed,
        ChannelData,
        ChannelEOF,
        ChannelExtendedData,
        ChannelOpened,
        ChannelOpenFailed,
        ChannelOpenRequested,
        ChannelRequestFailed,
        ChannelRequestReceived,
        ChannelRequestSucceeded,
        ChannelWritable,
        ConnectionEvent,
        ExitSignalReceived,
        ExitStatusReceived,
        GlobalRequestFailed,
        GlobalRequestReceived,
        GlobalRequestSucceeded,
        OpenAnswer,
        Rejection,
    )
    from .guarded_fd import GuardedFd
    from .host_keys import (
        AskCallback,
        CallbackPolicy,
        HostCertificateInvalid,
        HostKeyCallable,
        HostKeyChanged,
        HostKeyCheck,
        HostKeyError,
        HostKeyOutcome,
        HostKeyPolicy,
        HostKeyRevoked,
        HostKeyUnknown,
        KnownHostsPolicy,
        insecure_accept_any_host_key,
        known_hosts,
        policy_from_config,
    )
    from .restrictions import ForwardRequest, Restrictions
    from .session import TerminalMode, decode_terminal_modes, encode_terminal_modes
    from .socks import SocksError, SocksHandshake, SocksTarget
    from .sshd_config import (
        DEFAULT_CONFIG_DIR,
        DEFAULT_CONFIG_FILE,
        GroupsOf,
        MatchConnection,
        SshdConfig,
        SshdConfigError,
        SshdSettings,
        UnsupportedOption,
        load_sshd_config,
        parse_sshd_config,
        system_groups,
    )

__version__ = "0.4.0"

__all__ = [
    # guarded_fd (a descriptor closed once, never while in use)
    "GuardedFd",
    # ssh_config (the client's configuration)
    "SSHConfig",
    "HostConfig",
    "ConfigError",
    "Forward",
    "ProxyHop",
    "LocalContext",
    "RunExec",
    "transport_config",
    "DEFAULT_IDENTITY_FILES",
    "DEFAULT_USER_KNOWN_HOSTS_FILES",
    "DEFAULT_GLOBAL_KNOWN_HOSTS_FILES",
    # host key policies (known_hosts)
    "KnownHostsPolicy",
    "CallbackPolicy",
    "HostKeyPolicy",
    "HostKeyOutcome",
    "HostKeyCallable",
    "AskCallback",
    "policy_from_config",
    "HostKeyError",
    "HostKeyUnknown",
    "HostKeyChanged",
    "HostKeyRevoked",
    "HostCertificateInvalid",
    # sshd_config
    "parse_sshd_config",
    "load_sshd_config",
    "SshdConfig",
    "SshdSettings",
    "MatchConnection",
    "GroupsOf",
    "system_groups",
    "SshdConfigError",
    "UnsupportedOption",
    "DEFAULT_CONFIG_DIR",
    "DEFAULT_CONFIG_FILE",
    # SOCKS (dynamic forwarding)
    "SocksHandshake",
    "SocksTarget",
    "SocksError",
    # the core
    "ConnectionCore",
    "Role",
    "Channel",
    "ChannelState",
    "ALLOWED",
    "SERVER_CHANNEL_TYPES",
    "CLIENT_CHANNEL_TYPES",
    "DEFAULT_WINDOW",
    "DEFAULT_MAX_PACKET",
    "DEFAULT_MAX_BUFFER",
    # events: pauses
    "ConnectionEvent",
    "ChannelOpenRequested",
    "ChannelRequestReceived",
    "GlobalRequestReceived",
    "OpenAnswer",
    "Rejection",
    # events: outcomes of our opens and requests
    "ChannelOpened",
    "ChannelOpenFailed",
    "ChannelRequestSucceeded",
    "ChannelRequestFailed",
    "GlobalRequestSucceeded",
    "GlobalRequestFailed",
    # events: channel life
    "ChannelData",
    "ChannelExtendedData",
    "ChannelEOF",
    "ChannelClosed",
    "ChannelWritable",
    "ExitStatusReceived",
    "ExitSignalReceived",
    "ConnectionTerminated",
    # what the front ends share (ssh_connection.sync / .aio / .sync_server / .aio_server)
    "ChannelOpenError",
    "ChannelClosedError",
    "RequestRefused",
    "RunResult",
    "ExitSignal",
    "HostKeyCheck",
    "known_hosts",
    "insecure_accept_any_host_key",
    "Restrictions",
    "ForwardRequest",
    # numbers and terminal modes
    "OpenFailureReason",
    "ExtendedDataType",
    "TerminalMode",
    "encode_terminal_modes",
    "decode_terminal_modes",
    # schemas by module
    "messages",
    "session",
    "forwarding",
]

#: Where each public name lives, imported on first use so that importing the package
#: costs little (``sshd-py -i`` starts a process per connection).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "ssh_transport": ("ConnectionTerminated", "Role"),
    "ssh_wire": ("ExtendedDataType",),
    ".channel": (
        "ALLOWED",
        "DEFAULT_MAX_BUFFER",
        "DEFAULT_MAX_PACKET",
        "DEFAULT_WINDOW",
        "Channel",
        "ChannelState",
    ),
    ".guarded_fd": ("GuardedFd",),
    ".config": (
        "DEFAULT_GLOBAL_KNOWN_HOSTS_FILES",
        "DEFAULT_IDENTITY_FILES",
        "DEFAULT_USER_KNOWN_HOSTS_FILES",
        "ConfigError",
        "Forward",
        "HostConfig",
        "LocalContext",
        "ProxyHop",
        "RunExec",
        "SSHConfig",
        "transport_config",
    ),
    ".connection": ("CLIENT_CHANNEL_TYPES", "SERVER_CHANNEL_TYPES", "ConnectionCore"),
    ".errors": (
        "ChannelClosedError",
        "ChannelOpenError",
        "ExitSignal",
        "RequestRefused",
        "RunResult",
    ),
    ".events": (
        "ChannelClosed",
        "ChannelData",
        "ChannelEOF",
        "ChannelExtendedData",
        "ChannelOpened",
        "ChannelOpenFailed",
        "ChannelOpenRequested",
        "ChannelRequestFailed",
        "ChannelRequestReceived",
        "ChannelRequestSucceeded",
        "ChannelWritable",
        "ConnectionEvent",
        "ExitSignalReceived",
        "ExitStatusReceived",
        "GlobalRequestFailed",
        "GlobalRequestReceived",
        "GlobalRequestSucceeded",
        "OpenAnswer",
        "Rejection",
    ),
    ".host_keys": (
        "AskCallback",
        "CallbackPolicy",
        "HostCertificateInvalid",
        "HostKeyCallable",
        "HostKeyChanged",
        "HostKeyCheck",
        "HostKeyError",
        "HostKeyOutcome",
        "HostKeyPolicy",
        "HostKeyRevoked",
        "HostKeyUnknown",
        "KnownHostsPolicy",
        "insecure_accept_any_host_key",
        "known_hosts",
        "policy_from_config",
    ),
    ".restrictions": ("ForwardRequest", "Restrictions"),
    ".session": ("TerminalMode", "decode_terminal_modes", "encode_terminal_modes"),
    ".socks": ("SocksError", "SocksHandshake", "SocksTarget"),
    ".sshd_config": (
        "DEFAULT_CONFIG_DIR",
        "DEFAULT_CONFIG_FILE",
        "GroupsOf",
        "MatchConnection",
        "SshdConfig",
        "SshdConfigError",
        "SshdSettings",
        "UnsupportedOption",
        "load_sshd_config",
        "parse_sshd_config",
        "system_groups",
    ),
}
_ALIASES: dict[str, tuple[str, str]] = {
    "OpenFailureReason": ("ssh_wire", "ChannelOpenFailure"),
}
_SUBMODULES = frozenset({"forwarding", "messages", "session"})
_WHERE = {name: (module, name) for module, names in _EXPORTS.items() for name in names}
_WHERE.update(_ALIASES)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        value: object = importlib.import_module(f".{name}", __name__)
    else:
        try:
            module, attribute = _WHERE[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
