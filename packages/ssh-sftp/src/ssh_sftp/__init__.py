"""ssh-sftp: SFTP version 3 with OpenSSH's extensions.

The protocol modules (:mod:`.messages`, :mod:`.attrs`, :mod:`.errors`, :mod:`.framing`,
:mod:`.numbers`) are I/O-free and shared by the client and the server; so is the client
core (:mod:`.client`). The client people use is :class:`ssh_sftp.sync.SFTPClient` (blocking)
or :class:`ssh_sftp.aio.AsyncSFTPClient`. Importing this package never imports a driver
(asyncio, threads, sockets).
"""

from __future__ import annotations

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

__version__ = "0.1.0"

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
