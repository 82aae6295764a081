"""Errors of the SSH transport layer, each a disconnect with its RFC 4253 reason code."""

from __future__ import annotations

from ssh_wire import DisconnectError, DisconnectReason

__all__ = [
    "MACError",
    "PacketError",
    "CompressionError",
    "ProtocolError",
    "ConnectionLost",
    "TransportTimeout",
]


class MACError(DisconnectError):
    """A packet's MAC or AEAD tag did not verify: corruption or tampering."""

    def __init__(self, description: str = "message authentication failed") -> None:
        super().__init__(DisconnectReason.MAC_ERROR, description, local=True)


class PacketError(DisconnectError):
    """A packet is malformed: bad length, bad padding, or a size over our limit."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.PROTOCOL_ERROR, description, local=True)


class CompressionError(DisconnectError):
    """Compressed data that does not inflate, or inflates past the per-packet limit."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.COMPRESSION_ERROR, description, local=True)


class ProtocolError(DisconnectError):
    """The peer sent a message the protocol does not allow in this state."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.PROTOCOL_ERROR, description, local=True)


class TransportTimeout(DisconnectError, TimeoutError):
    """No answer from the peer in time. The connection stays open: the caller may wait
    again or close it. Both front ends raise this one class (it is also a TimeoutError)."""

    def __init__(self, description: str = "timed out waiting for the peer") -> None:
        super().__init__(DisconnectReason.CONNECTION_LOST, description, local=True)


class ConnectionLost(DisconnectError):
    """The byte stream ended without a DISCONNECT from either side.

    ``local`` is False (we send nothing on a dead stream), and the text says the
    connection was lost, so it cannot be mistaken for a DISCONNECT we received."""

    def __init__(self, description: str = "connection closed by peer") -> None:
        super().__init__(DisconnectReason.CONNECTION_LOST, description, local=False)
        self.args = (f"connection lost: {description}",)
