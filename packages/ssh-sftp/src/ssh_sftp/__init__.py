"""ssh-sftp: SFTP version 3 with OpenSSH's extensions.

The protocol modules (:mod:`.messages`, :mod:`.attrs`, :mod:`.errors`, :mod:`.framing`,
:mod:`.numbers`) are I/O-free and shared by the client and the server; so is the client
core (:mod:`.client`). The client people use is :class:`ssh_sftp.sync.SFTPClient` (blocking)
or :class:`ssh_sftp.aio.AsyncSFTPClient`. Importing this package never imports a driver
(asyncio, threads, sockets), and the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attrs import SFTPAttributes, longname
    from .client import ClientState, PendingReply, SFTPClientCore, TransferLimits
    from .errors import (
        BadMessage,
        ConnectionLost,
        DirectoryNotEmpty,
        EndOfFile,
        FileAlreadyExists,
        FileIsADirectory,
        InvalidHandle,
        NoConnection,
        NoSuchFile,
        NoSuchPath,
        NotADirectory,
        OperationUnsupported,
        PermissionDenied,
        SFTPConnectionClosed,
        SFTPError,
        SFTPFailure,
        SFTPProtocolError,
        SFTPStatusError,
        SFTPUsageError,
        status_error,
        status_for_oserror,
    )
    from .framing import PacketBuffer
    from .messages import (
        DEFAULT_CHUNK_SIZE,
        DEFAULT_MAX_REQUESTS,
        MAX_DATA_LENGTH,
        MAX_PACKET_LENGTH,
        OPENSSH_EXTENSIONS,
    )
    from .numbers import SFTP_VERSION, AttrFlag, OpenFlag, PacketType, StatusCode, StatVFSFlag

# Names load on first use (PEP 562): sftp-server-py starts once per session and
# needs none of the client side, whose message schemas take most of an import.
_LAZY = {
    "SFTPAttributes": "attrs",
    "longname": "attrs",
    "ClientState": "client",
    "PendingReply": "client",
    "SFTPClientCore": "client",
    "TransferLimits": "client",
    "BadMessage": "errors",
    "ConnectionLost": "errors",
    "DirectoryNotEmpty": "errors",
    "EndOfFile": "errors",
    "FileAlreadyExists": "errors",
    "FileIsADirectory": "errors",
    "InvalidHandle": "errors",
    "NoConnection": "errors",
    "NoSuchFile": "errors",
    "NoSuchPath": "errors",
    "NotADirectory": "errors",
    "OperationUnsupported": "errors",
    "PermissionDenied": "errors",
    "SFTPConnectionClosed": "errors",
    "SFTPError": "errors",
    "SFTPFailure": "errors",
    "SFTPProtocolError": "errors",
    "SFTPStatusError": "errors",
    "SFTPUsageError": "errors",
    "status_error": "errors",
    "status_for_oserror": "errors",
    "PacketBuffer": "framing",
    "DEFAULT_CHUNK_SIZE": "messages",
    "DEFAULT_MAX_REQUESTS": "messages",
    "MAX_DATA_LENGTH": "messages",
    "MAX_PACKET_LENGTH": "messages",
    "OPENSSH_EXTENSIONS": "messages",
    "SFTP_VERSION": "numbers",
    "AttrFlag": "numbers",
    "OpenFlag": "numbers",
    "PacketType": "numbers",
    "StatusCode": "numbers",
    "StatVFSFlag": "numbers",
}

__version__ = "0.3.0"

__all__ = [
    # the sans-I/O client (front ends: ssh_sftp.sync.SFTPClient, ssh_sftp.aio.AsyncSFTPClient)
    "SFTPClientCore",
    "PendingReply",
    "ClientState",
    "TransferLimits",
    # attributes
    "SFTPAttributes",
    "longname",
    # numbers
    "SFTP_VERSION",
    "PacketType",
    "StatusCode",
    "OpenFlag",
    "AttrFlag",
    "StatVFSFlag",
    # limits and framing
    "MAX_PACKET_LENGTH",
    "MAX_DATA_LENGTH",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_REQUESTS",
    "OPENSSH_EXTENSIONS",
    "PacketBuffer",
    # errors
    "SFTPError",
    "SFTPProtocolError",
    "SFTPConnectionClosed",
    "SFTPUsageError",
    "SFTPStatusError",
    "EndOfFile",
    "NoSuchFile",
    "PermissionDenied",
    "SFTPFailure",
    "BadMessage",
    "NoConnection",
    "ConnectionLost",
    "OperationUnsupported",
    "InvalidHandle",
    "NoSuchPath",
    "FileAlreadyExists",
    "DirectoryNotEmpty",
    "NotADirectory",
    "FileIsADirectory",
    "status_error",
    "status_for_oserror",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
