"""The numbers of SFTP version 3 (draft-ietf-secsh-filexfer-02) and OpenSSH's PROTOCOL."""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "SFTP_VERSION",
    "PacketType",
    "StatusCode",
    "OpenFlag",
    "AttrFlag",
    "StatVFSFlag",
]

#: The protocol version both sides speak (OpenSSH speaks only this one).
SFTP_VERSION = 3


class PacketType(IntEnum):
    """The type byte that starts every SFTP packet (filexfer-02 3)."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class StatusCode(IntEnum):
    """STATUS codes: 0-8 are version 3's; the rest come from later drafts (filexfer-13 9.1),
    which some servers send anyway."""

    OK = 0
    EOF = 1
    NO_SUCH_FILE = 2
    PERMISSION_DENIED = 3
    FAILURE = 4
    BAD_MESSAGE = 5
    NO_CONNECTION = 6
    CONNECTION_LOST = 7
    OP_UNSUPPORTED = 8
    INVALID_HANDLE = 9
    NO_SUCH_PATH = 10
    FILE_ALREADY_EXISTS = 11
    WRITE_PROTECT = 12
    NO_MEDIA = 13
    NO_SPACE_ON_FILESYSTEM = 14
    QUOTA_EXCEEDED = 15
    UNKNOWN_PRINCIPAL = 16
    LOCK_CONFLICT = 17
    DIR_NOT_EMPTY = 18
    NOT_A_DIRECTORY = 19
    INVALID_FILENAME = 20
    LINK_LOOP = 21
    CANNOT_DELETE = 22
    INVALID_PARAMETER = 23
    FILE_IS_A_DIRECTORY = 24


class OpenFlag(IntFlag):
    """``pflags`` of SSH_FXP_OPEN (filexfer-02 6.3)."""

    READ = 0x01
    WRITE = 0x02
    APPEND = 0x04
    CREAT = 0x08
    TRUNC = 0x10
    EXCL = 0x20


class AttrFlag(IntFlag):
    """Which fields an ATTRS structure carries (filexfer-02 5)."""

    SIZE = 0x00000001
    UIDGID = 0x00000002
    PERMISSIONS = 0x00000004
    ACMODTIME = 0x00000008
    EXTENDED = 0x80000000


class StatVFSFlag(IntFlag):
    """``f_flag`` bits of a statvfs@openssh.com reply (PROTOCOL 4.4)."""

    RDONLY = 0x1
    NOSUID = 0x2
