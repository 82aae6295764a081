"""ssh-agent: the SSH agent protocol, sans-I/O cores, drivers and a runnable agent.

The cores here never touch sockets or clocks; the drivers are imported explicitly:

    from ssh_agent.sync import AgentClient      # blocking, over $SSH_AUTH_SOCK
    from ssh_agent.aio import AsyncAgentClient  # asyncio
"""

from __future__ import annotations

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

__version__ = "0.2.1"

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
