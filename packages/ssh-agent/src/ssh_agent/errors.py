"""Errors of ssh-agent. Every one derives from :class:`ssh_wire.SSHError`."""

from __future__ import annotations

from ssh_wire import RemoteProtocolError, SSHError

__all__ = ["AgentError", "AgentFailure", "AgentProtocolError", "AgentConnectionClosed"]


class AgentError(SSHError):
    """Root of the errors raised by ssh-agent."""


class AgentFailure(AgentError):
    """The agent answered FAILURE (or EXTENSION_FAILURE): it refused or could not do it."""


class AgentProtocolError(AgentError, RemoteProtocolError):
    """The agent (or client) sent bytes that break the agent protocol."""


class AgentConnectionClosed(AgentError):
    """The connection to the agent ended before the answer arrived."""
