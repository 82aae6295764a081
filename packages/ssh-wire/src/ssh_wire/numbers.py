"""Assigned numbers from RFC 4250 (and the OpenSSH additions in use today)."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "MessageNumber",
    "DisconnectReason",
    "ChannelOpenFailure",
    "ExtendedDataType",
    "TRANSPORT_GENERIC",
    "ALGORITHM_NEGOTIATION",
    "KEX_SPECIFIC",
    "USERAUTH_GENERIC",
    "USERAUTH_METHOD_SPECIFIC",
    "CONNECTION_GENERIC",
    "CHANNEL_RELATED",
    "layer_of",
]


class MessageNumber(IntEnum):
    """RFC 4250 4.1. Numbers 30-49 and 60-79 are reused by kex and auth methods."""

    DISCONNECT = 1
    IGNORE = 2
    UNIMPLEMENTED = 3
    DEBUG = 4
    SERVICE_REQUEST = 5
    SERVICE_ACCEPT = 6
    EXT_INFO = 7  # RFC 8308
    NEWCOMPRESS = 8  # RFC 8308
    KEXINIT = 20
    NEWKEYS = 21
    KEXDH_INIT = 30  # also KEX_ECDH_INIT, KEX_HYBRID_INIT
    KEXDH_REPLY = 31  # also KEX_ECDH_REPLY, KEX_HYBRID_REPLY, KEX_DH_GEX_GROUP
    KEX_DH_GEX_INIT = 32
    KEX_DH_GEX_REPLY = 33
    KEX_DH_GEX_REQUEST = 34
    USERAUTH_REQUEST = 50
    USERAUTH_FAILURE = 51
    USERAUTH_SUCCESS = 52
    USERAUTH_BANNER = 53
    USERAUTH_PK_OK = 60  # also PASSWD_CHANGEREQ, INFO_REQUEST
    USERAUTH_INFO_RESPONSE = 61
    GLOBAL_REQUEST = 80
    REQUEST_SUCCESS = 81
    REQUEST_FAILURE = 82
    CHANNEL_OPEN = 90
    CHANNEL_OPEN_CONFIRMATION = 91
    CHANNEL_OPEN_FAILURE = 92
    CHANNEL_WINDOW_ADJUST = 93
    CHANNEL_DATA = 94
    CHANNEL_EXTENDED_DATA = 95
    CHANNEL_EOF = 96
    CHANNEL_CLOSE = 97
    CHANNEL_REQUEST = 98
    CHANNEL_SUCCESS = 99
    CHANNEL_FAILURE = 100
    PING = 192  # OpenSSH ping@openssh.com transport extension
    PONG = 193


class DisconnectReason(IntEnum):
    """RFC 4250 4.2.2."""

    HOST_NOT_ALLOWED_TO_CONNECT = 1
    PROTOCOL_ERROR = 2
    KEY_EXCHANGE_FAILED = 3
    RESERVED = 4
    MAC_ERROR = 5
    COMPRESSION_ERROR = 6
    SERVICE_NOT_AVAILABLE = 7
    PROTOCOL_VERSION_NOT_SUPPORTED = 8
    HOST_KEY_NOT_VERIFIABLE = 9
    CONNECTION_LOST = 10
    BY_APPLICATION = 11
    TOO_MANY_CONNECTIONS = 12
    AUTH_CANCELLED_BY_USER = 13
    NO_MORE_AUTH_METHODS_AVAILABLE = 14
    ILLEGAL_USER_NAME = 15


class ChannelOpenFailure(IntEnum):
    """RFC 4250 4.3."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4


class ExtendedDataType(IntEnum):
    """RFC 4250 4.4."""

    STDERR = 1


# RFC 4250 4.1.1 / RFC 4251 7: ranges of message numbers and who owns them.
TRANSPORT_GENERIC = range(1, 20)
ALGORITHM_NEGOTIATION = range(20, 30)
KEX_SPECIFIC = range(30, 50)
USERAUTH_GENERIC = range(50, 60)
USERAUTH_METHOD_SPECIFIC = range(60, 80)
CONNECTION_GENERIC = range(80, 90)
CHANNEL_RELATED = range(90, 128)


def layer_of(number: int) -> str:
    """Which layer a message number belongs to: transport, userauth, connection, local."""
    if 1 <= number <= 49:
        return "transport"
    if 50 <= number <= 79:
        return "userauth"
    if 80 <= number <= 127:
        return "connection"
    if 192 <= number <= 255:
        return "local"
    return "reserved"
