"""What an authenticated user may do on the connection: the auth decisions' restrictions
(authorized_keys options, certificate extensions) folded into one object the server front
ends enforce. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ssh_auth import Decision
from ssh_keys import PermitListen, PermitOpen

__all__ = ["Restrictions", "ForwardRequest"]


@dataclass(frozen=True)
class Restrictions:
    """Every step of a multi-step login must allow a feature for it to be allowed."""

    force_command: str | None = None
    pty_allowed: bool = True
    port_forwarding_allowed: bool = True
    agent_forwarding_allowed: bool = True
    x11_forwarding_allowed: bool = True
    #: Per step that restricts them: a destination must match one entry of each.
    permitopen: tuple[tuple[PermitOpen, ...], ...] = ()
    permitlisten: tuple[tuple[PermitListen, ...], ...] = ()
    environment: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def from_decisions(cls, decisions: Sequence[Decision]) -> Restrictions:
        forced = next((d.force_command for d in decisions if d.force_command), None)
        options = [d.options for d in decisions if d.options is not None]
        return cls(
            force_command=forced,
            pty_allowed=all(d.pty_allowed for d in decisions),
            port_forwarding_allowed=all(d.port_forwarding_allowed for d in decisions),
            agent_forwarding_allowed=all(d.agent_forwarding_allowed for d in decisions),
            x11_forwarding_allowed=all(d.x11_forwarding_allowed for d in decisions),
            permitopen=tuple(o.permitopen for o in options if o.permitopen),
            permitlisten=tuple(o.permitlisten for o in options if o.permitlisten),
            environment=tuple(pair for o in options for pair in o.environment),
        )

    def may_open(self, host: str, port: int) -> bool:
        """direct-tcpip to host:port (``permitopen``)."""
        if not self.port_forwarding_allowed:
            return False
        return all(any(p.matches(host, port) for p in step) for step in self.permitopen)

    def may_listen(self, host: str, port: int) -> bool:
        """tcpip-forward on host:port (``permitlisten``)."""
        if not self.port_forwarding_allowed:
            return False
        return all(any(p.matches(host, port) for p in step) for step in self.permitlisten)


@dataclass(frozen=True)
class ForwardRequest:
    """A forwarding the client asks for, as a server's ``forwarding_check`` sees it:
    ``kind`` is "direct-tcpip" (connect to host:port) or "tcpip-forward" (listen there),
    or for Unix sockets "direct-streamlocal@openssh.com" / "streamlocal-forward@openssh.com"
    with the socket's path as ``host`` and ``port`` 0."""

    kind: str
    username: str
    host: str
    port: int
    originator: tuple[str, int] = ("", 0)
