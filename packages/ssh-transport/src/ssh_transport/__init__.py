"""ssh-transport: the SSH transport layer (RFC 4253) as a sans-I/O core.

``Transport`` is the protocol state machine; ``ssh_transport.sync`` and
``ssh_transport.aio`` run it over sockets or any byte stream. Importing this
package never imports asyncio or socket.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time each name is imported on first use: __getattr__
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

__version__ = "0.3.0"

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

#: Where each public name lives, imported on first use so that importing the package
#: costs little (``sshd-py -i`` starts a process per connection).
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".config": ("TransportConfig",),
    ".errors": (
        "CompressionError",
        "ConnectionLost",
        "MACError",
        "PacketError",
        "ProtocolError",
        "TransportTimeout",
    ),
    ".events": (
        "ConnectionTerminated",
        "DebugReceived",
        "Event",
        "ExtInfoReceived",
        "HostKeyReceived",
        "KexComplete",
        "MessageReceived",
        "Pause",
        "PongReceived",
        "ServiceAccepted",
        "ServiceRequested",
    ),
    ".hostkeys": ("HostKey",),
    ".kex": ("KexFailed", "KexSpec", "register_kex"),
    ".negotiation": ("Algorithms",),
    ".stacking": ("StackedCore", "StreamCore"),
    ".transport": ("Role", "Transport"),
    ".version": ("ProtocolVersionError",),
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
