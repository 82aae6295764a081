"""ssh-connection: the SSH connection protocol (RFC 4254) as a sans-I/O core.

:class:`ConnectionCore` stacks on the authentication core (or a transport whose service
was accepted): channels with flow control, session and forwarding requests, global
requests. Drivers and front ends come separately; importing this package imports no
event loop, socket or thread.
"""

from __future__ import annotations

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
from .connection import CLIENT_CHANNEL_TYPES, SERVER_CHANNEL_TYPES, ConnectionCore
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
from .session import TerminalMode, decode_terminal_modes, encode_terminal_modes
from .socks import SocksError, SocksHandshake, SocksTarget
from .sshd_config import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_CONFIG_FILE,
    ConfigError,
    GroupsOf,
    MatchConnection,
    SshdConfig,
    SshdSettings,
    UnsupportedOption,
    load_sshd_config,
    parse_sshd_config,
    system_groups,
)

__version__ = "0.1.0"

__all__ = [
    # sshd_config
    "parse_sshd_config",
    "load_sshd_config",
    "SshdConfig",
    "SshdSettings",
    "MatchConnection",
    "GroupsOf",
    "system_groups",
    "ConfigError",
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
