"""The roles and the receive states the transport core and its handshake share."""

from __future__ import annotations

import enum

__all__ = ["Role", "State"]


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    """What the connection expects next from the peer; each has its own message table."""

    VERSION = "waiting for the peer's identification line"
    KEXINIT = "waiting for the peer's first KEXINIT"
    KEX = "in a key exchange, until the peer's NEWKEYS"
    HOST_KEY = "waiting for the application to accept the host key"
    OPEN = "with keys established"
    CLOSED = "after the connection closed"
