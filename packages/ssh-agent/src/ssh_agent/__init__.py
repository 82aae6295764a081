"""ssh-agent: the SSH agent protocol, sans-I/O cores, drivers and a runnable agent.

The cores here never touch sockets or clocks; the drivers are imported explicitly:

    from ssh_agent.sync import AgentClient      # blocking, over $SSH_AUTH_SOCK
    from ssh_agent.aio import AsyncAgentClient  # asyncio
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time each name is imported on first use: __getattr__
    from .client import AgentClientCore, PendingReply, destination
    from .errors import AgentConnectionClosed, AgentError, AgentFailure, AgentProtocolError
    from .forwarding import AUTH_AGENT_CHANNEL, AgentChannelRelay, ForwardedAgentBridge
    from .keystore import KeyStore, StoredKey
    from .protocol import (
        MAX_MESSAGE,
        SSH_AGENT_RSA_SHA2_256,
        SSH_AGENT_RSA_SHA2_512,
        AgentMessage,
        Constraints,
        DestinationConstraint,
        Hop,
        Identity,
        KeySpec,
    )
    from .restrictions import Binding
    from .server import AgentServerCore, ConfirmationRequested, ConnectionClosed

__version__ = "0.3.1"

__all__ = [
    # errors
    "AgentError",
    "AgentFailure",
    "AgentProtocolError",
    "AgentConnectionClosed",
    # protocol
    "AgentMessage",
    "MAX_MESSAGE",
    "SSH_AGENT_RSA_SHA2_256",
    "SSH_AGENT_RSA_SHA2_512",
    "Identity",
    "Constraints",
    "DestinationConstraint",
    "Hop",
    "KeySpec",
    "destination",
    # cores
    "AgentClientCore",
    "PendingReply",
    "AgentServerCore",
    "ConfirmationRequested",
    "ConnectionClosed",
    "KeyStore",
    "StoredKey",
    "Binding",
    # forwarding
    "AUTH_AGENT_CHANNEL",
    "AgentChannelRelay",
    "ForwardedAgentBridge",
]

#: Where each public name lives, imported on first use so that importing the package
#: costs little (``sshd-py -i`` starts a process per connection).
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".client": ("AgentClientCore", "PendingReply", "destination"),
    ".errors": ("AgentConnectionClosed", "AgentError", "AgentFailure", "AgentProtocolError"),
    ".forwarding": ("AUTH_AGENT_CHANNEL", "AgentChannelRelay", "ForwardedAgentBridge"),
    ".keystore": ("KeyStore", "StoredKey"),
    ".protocol": (
        "MAX_MESSAGE",
        "SSH_AGENT_RSA_SHA2_256",
        "SSH_AGENT_RSA_SHA2_512",
        "AgentMessage",
        "Constraints",
        "DestinationConstraint",
        "Hop",
        "Identity",
        "KeySpec",
    ),
    ".restrictions": ("Binding",),
    ".server": ("AgentServerCore", "ConfirmationRequested", "ConnectionClosed"),
}
_ALIASES: dict[str, tuple[str, str]] = {}
_SUBMODULES: frozenset[str] = frozenset()
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
