"""ssh-transport: the SSH transport layer (RFC 4253) as a sans-I/O core.

``Transport`` is the protocol state machine; ``ssh_transport.sync`` and
``ssh_transport.aio`` run it over sockets or any byte stream. Importing this
package never imports asyncio or socket.
"""

from __future__ import annotations

from .config import TransportConfig
from .errors import (
    CompressionError,
    ConnectionLost,
    MACError,
    PacketError,
    ProtocolError,
    TransportTimeout,
)
from .events import (
    ConnectionTerminated,
    DebugReceived,
    Event,
    ExtInfoReceived,
    HostKeyReceived,
    KexComplete,
    MessageReceived,
    Pause,
    PongReceived,
    ServiceAccepted,
    ServiceRequested,
)
from .hostkeys import HostKey
from .kex import KexFailed, KexSpec, register_kex
from .negotiation import Algorithms
from .stacking import StackedCore, StreamCore
from .transport import Role, Transport
from .version import ProtocolVersionError

__version__ = "0.2.1"

__all__ = [
    "Transport",
    "Role",
    "TransportConfig",
    "HostKey",
    "Algorithms",
    # stacking
    "StreamCore",
    "StackedCore",
    # events
    "Event",
    "Pause",
    "HostKeyReceived",
    "KexComplete",
    "ExtInfoReceived",
    "ServiceRequested",
    "ServiceAccepted",
    "MessageReceived",
    "DebugReceived",
    "PongReceived",
    "ConnectionTerminated",
    # errors
    "MACError",
    "PacketError",
    "CompressionError",
    "ProtocolError",
    "ConnectionLost",
    "TransportTimeout",
    "KexFailed",
    "ProtocolVersionError",
    # extension points
    "KexSpec",
    "register_kex",
]
