"""Connection protocol messages (RFC 4254 4-5), declared once, plus hand-written fast paths.

Every message of numbers 80-100 is a :class:`~ssh_wire.Message` schema. The three that carry
bulk data (CHANNEL_DATA, CHANNEL_EXTENDED_DATA, CHANNEL_WINDOW_ADJUST) also have plain
``struct`` encoders and decoders: the generic schema path costs a few microseconds per
message, which adds up at one message per 32 KiB. Tests check both agree byte for byte and
reject the same malformed input.
"""

from __future__ import annotations

import struct

from ssh_wire import (
    Boolean,
    DecodeError,
    Message,
    MessageNumber,
    MessageTable,
    Name,
    Rest,
    String,
    Text,
    UInt32,
)

__all__ = [
    "GlobalRequest",
    "RequestSuccess",
    "RequestFailure",
    "ChannelOpen",
    "ChannelOpenConfirmation",
    "ChannelOpenFailure",
    "ChannelWindowAdjust",
    "ChannelData",
    "ChannelExtendedData",
    "ChannelEof",
    "ChannelClose",
    "ChannelRequest",
    "ChannelSuccess",
    "ChannelFailure",
    "CONNECTION_MESSAGES",
    "CHANNEL_MESSAGES",
    "encode_data",
    "decode_data",
    "encode_extended_data",
    "decode_extended_data",
    "encode_window_adjust",
    "decode_window_adjust",
    "recipient_of",
]


# -- global requests (RFC 4254 4) -------------------------------------------------------------


class GlobalRequest(Message):
    NUMBER = MessageNumber.GLOBAL_REQUEST
    name: Name
    want_reply: Boolean
    data: Rest


class RequestSuccess(Message):
    NUMBER = MessageNumber.REQUEST_SUCCESS
    data: Rest  # request-specific (tcpip-forward with port 0: the bound port)


class RequestFailure(Message):
    NUMBER = MessageNumber.REQUEST_FAILURE


# -- opening channels (RFC 4254 5.1) ----------------------------------------------------------


class ChannelOpen(Message):
    NUMBER = MessageNumber.CHANNEL_OPEN
    kind: Name
    sender: UInt32
    window: UInt32
    max_packet: UInt32
    data: Rest  # channel-type specific


class ChannelOpenConfirmation(Message):
    NUMBER = MessageNumber.CHANNEL_OPEN_CONFIRMATION
    recipient: UInt32
    sender: UInt32
    window: UInt32
    max_packet: UInt32
    data: Rest


class ChannelOpenFailure(Message):
    """Not to be confused with ``ssh_wire.ChannelOpenFailure``, the enum of reason codes."""

    NUMBER = MessageNumber.CHANNEL_OPEN_FAILURE
    recipient: UInt32
    reason: UInt32
    description: Text
    language: Text


# -- data transfer (RFC 4254 5.2) -------------------------------------------------------------


class ChannelWindowAdjust(Message):
    NUMBER = MessageNumber.CHANNEL_WINDOW_ADJUST
    recipient: UInt32
    increment: UInt32


class ChannelData(Message):
    NUMBER = MessageNumber.CHANNEL_DATA
    recipient: UInt32
    data: String


class ChannelExtendedData(Message):
    NUMBER = MessageNumber.CHANNEL_EXTENDED_DATA
    recipient: UInt32
    data_type: UInt32
    data: String


# -- closing (RFC 4254 5.3) and channel requests (5.4) ----------------------------------------


class ChannelEof(Message):
    NUMBER = MessageNumber.CHANNEL_EOF
    recipient: UInt32


class ChannelClose(Message):
    NUMBER = MessageNumber.CHANNEL_CLOSE
    recipient: UInt32


class ChannelRequest(Message):
    NUMBER = MessageNumber.CHANNEL_REQUEST
    recipient: UInt32
    request: Name
    want_reply: Boolean
    data: Rest  # request-specific: see ssh_connection.session


class ChannelSuccess(Message):
    NUMBER = MessageNumber.CHANNEL_SUCCESS
    recipient: UInt32


class ChannelFailure(Message):
    NUMBER = MessageNumber.CHANNEL_FAILURE
    recipient: UInt32


CONNECTION_MESSAGES = MessageTable(
    GlobalRequest,
    RequestSuccess,
    RequestFailure,
    ChannelOpen,
    ChannelOpenConfirmation,
    ChannelOpenFailure,
    ChannelWindowAdjust,
    ChannelData,
    ChannelExtendedData,
    ChannelEof,
    ChannelClose,
    ChannelRequest,
    ChannelSuccess,
    ChannelFailure,
)

#: Messages addressed to a channel: each starts with the recipient channel's uint32.
CHANNEL_MESSAGES = frozenset(range(MessageNumber.CHANNEL_OPEN_CONFIRMATION, 101))


# -- fast paths -------------------------------------------------------------------------------

_HEAD_DATA = struct.Struct(">BII")  # number, recipient, data length
_HEAD_EXT = struct.Struct(">BIII")  # number, recipient, type code, data length
_ADJUST = struct.Struct(">BII")  # number, recipient, increment
_U32 = struct.Struct(">I")
_DATA = MessageNumber.CHANNEL_DATA
_EXT = MessageNumber.CHANNEL_EXTENDED_DATA
_WINDOW = MessageNumber.CHANNEL_WINDOW_ADJUST


def encode_data(recipient: int, data: bytes | bytearray | memoryview) -> bytes:
    """CHANNEL_DATA, as ``ChannelData(recipient, data).encode()`` would build it."""
    return _HEAD_DATA.pack(_DATA, recipient, len(data)) + data


def decode_data(payload: bytes) -> tuple[int, bytes]:
    """(recipient, data) of a CHANNEL_DATA payload; strict like the schema."""
    if len(payload) < 9 or payload[0] != _DATA:
        return _schema_data(payload)
    _, recipient, length = _HEAD_DATA.unpack_from(payload)
    if length != len(payload) - 9:
        return _schema_data(payload)
    return recipient, payload[9:]


def _schema_data(payload: bytes) -> tuple[int, bytes]:
    # The slow path exists to produce the schema's own error for malformed input.
    msg = ChannelData.decode(payload)
    return msg.recipient, msg.data


def encode_extended_data(
    recipient: int, data_type: int, data: bytes | bytearray | memoryview
) -> bytes:
    return _HEAD_EXT.pack(_EXT, recipient, data_type, len(data)) + data


def decode_extended_data(payload: bytes) -> tuple[int, int, bytes]:
    """(recipient, data type code, data) of a CHANNEL_EXTENDED_DATA payload."""
    if len(payload) < 13 or payload[0] != _EXT:
        return _schema_extended(payload)
    _, recipient, code, length = _HEAD_EXT.unpack_from(payload)
    if length != len(payload) - 13:
        return _schema_extended(payload)
    return recipient, code, payload[13:]


def _schema_extended(payload: bytes) -> tuple[int, int, bytes]:
    msg = ChannelExtendedData.decode(payload)
    return msg.recipient, msg.data_type, msg.data


def encode_window_adjust(recipient: int, increment: int) -> bytes:
    return _ADJUST.pack(_WINDOW, recipient, increment)


def decode_window_adjust(payload: bytes) -> tuple[int, int]:
    """(recipient, bytes to add) of a CHANNEL_WINDOW_ADJUST payload."""
    if len(payload) != 9 or payload[0] != _WINDOW:
        msg = ChannelWindowAdjust.decode(payload)
        return msg.recipient, msg.increment
    _, recipient, increment = _ADJUST.unpack(payload)
    return recipient, increment


def recipient_of(payload: bytes) -> int:
    """The recipient channel of a channel message (numbers 91-100), before full decoding."""
    if len(payload) < 5:
        raise DecodeError(
            f"truncated: need 4 bytes, {max(len(payload) - 1, 0)} left",
            field="recipient",
            offset=1,
            message=f"message {payload[0] if payload else '?'}",
        )
    return _U32.unpack_from(payload, 1)[0]  # type: ignore[no-any-return]
