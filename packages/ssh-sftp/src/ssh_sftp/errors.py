"""Errors of ssh-sftp: status replies as OSError kinds, and protocol errors.

A server's STATUS reply with an error code becomes an :class:`SFTPStatusError` subclass that
is also the OSError kind a local call would raise (:class:`NoSuchFile` is a
``FileNotFoundError``, :class:`PermissionDenied` a ``PermissionError``), so code written
with ``except OSError`` or ``except FileNotFoundError`` keeps working against a remote
filesystem. The server's message is ``strerror``; the path, when known, ``filename``.
"""

from __future__ import annotations

import errno as _errno

from ssh_wire import LocalProtocolError, RemoteProtocolError, SSHError

from .numbers import StatusCode

__all__ = [
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


class SFTPError(SSHError):
    """Root of the errors raised by ssh-sftp."""


class SFTPProtocolError(SFTPError, RemoteProtocolError):
    """The peer sent bytes that break the SFTP protocol (a bad packet, a reply to no request,
    a packet over the size limit). The session cannot continue after one."""


class SFTPConnectionClosed(SFTPError, ConnectionError):
    """The byte stream under the SFTP session ended (or failed) before the reply arrived."""


class SFTPUsageError(SFTPError, LocalProtocolError, ValueError):
    """The caller asked for something the protocol cannot express (a request over the
    size limit, a file opened read-only being written, ...)."""


class SFTPStatusError(SFTPError, OSError):
    """A STATUS reply other than OK: ``status`` is the code, ``strerror`` the server's text.

    Each known code has its own subclass (see :func:`status_error`); this base class stands
    for codes it does not know.
    """

    #: The code of this class; an instance of the base class keeps the code it was given.
    STATUS: int = -1
    #: The errno a local call would have set, for ``e.errno``.
    ERRNO: int | None = None

    def __init__(
        self,
        message: str = "",
        filename: str | None = None,
        *,
        status: int | None = None,
        language: str = "",
    ) -> None:
        self.status = self.STATUS if status is None else status
        self.language = language
        text = message or f"SFTP status {self.status}"
        if filename is None:
            OSError.__init__(self, self.ERRNO, text)
        else:
            OSError.__init__(self, self.ERRNO, text, filename)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.strerror, self.filename, self.status, self.language))


def _rebuild(
    cls: type[SFTPStatusError], message: str, filename: str | None, status: int, language: str
) -> SFTPStatusError:
    return cls(message, filename, status=status, language=language)


class EndOfFile(SFTPStatusError):
    """SSH_FX_EOF: reading past the end of a file or directory listing. The client turns it
    into ``b""`` or the end of an iteration; it surfaces only from raw requests."""

    STATUS = StatusCode.EOF


class NoSuchFile(SFTPStatusError, FileNotFoundError):
    STATUS = StatusCode.NO_SUCH_FILE
    ERRNO = _errno.ENOENT


class PermissionDenied(SFTPStatusError, PermissionError):
    STATUS = StatusCode.PERMISSION_DENIED
    ERRNO = _errno.EACCES


class SFTPFailure(SFTPStatusError):
    """SSH_FX_FAILURE: the catch-all (OpenSSH sends it for EEXIST, ENOTEMPTY, EISDIR, ...)."""

    STATUS = StatusCode.FAILURE


class BadMessage(SFTPStatusError):
    """SSH_FX_BAD_MESSAGE: the server could not make sense of the request."""

    STATUS = StatusCode.BAD_MESSAGE
    ERRNO = _errno.EBADMSG


class NoConnection(SFTPStatusError, ConnectionError):
    STATUS = StatusCode.NO_CONNECTION
    ERRNO = _errno.ENOTCONN


class ConnectionLost(SFTPStatusError, ConnectionAbortedError):
    STATUS = StatusCode.CONNECTION_LOST
    ERRNO = _errno.ECONNABORTED


class OperationUnsupported(SFTPStatusError):
    """SSH_FX_OP_UNSUPPORTED: the server does not implement the request (or the server's
    configuration forbids it, as sftp-server's -P does)."""

    STATUS = StatusCode.OP_UNSUPPORTED
    ERRNO = _errno.EOPNOTSUPP


# Codes of later filexfer drafts: a version 3 server should not send them, but some
# servers do, and each has an obvious OSError kind.


class InvalidHandle(SFTPStatusError):
    STATUS = StatusCode.INVALID_HANDLE
    ERRNO = _errno.EBADF


class NoSuchPath(SFTPStatusError, FileNotFoundError):
    STATUS = StatusCode.NO_SUCH_PATH
    ERRNO = _errno.ENOENT


class FileAlreadyExists(SFTPStatusError, FileExistsError):
    STATUS = StatusCode.FILE_ALREADY_EXISTS
    ERRNO = _errno.EEXIST


class DirectoryNotEmpty(SFTPStatusError):
    STATUS = StatusCode.DIR_NOT_EMPTY
    ERRNO = _errno.ENOTEMPTY


class NotADirectory(SFTPStatusError, NotADirectoryError):
    STATUS = StatusCode.NOT_A_DIRECTORY
    ERRNO = _errno.ENOTDIR


class FileIsADirectory(SFTPStatusError, IsADirectoryError):
    STATUS = StatusCode.FILE_IS_A_DIRECTORY
    ERRNO = _errno.EISDIR


_BY_STATUS: dict[int, type[SFTPStatusError]] = {
    cls.STATUS: cls
    for cls in (
        EndOfFile,
        NoSuchFile,
        PermissionDenied,
        SFTPFailure,
        BadMessage,
        NoConnection,
        ConnectionLost,
        OperationUnsupported,
        InvalidHandle,
        NoSuchPath,
        FileAlreadyExists,
        DirectoryNotEmpty,
        NotADirectory,
        FileIsADirectory,
    )
}


def status_error(
    status: int, message: str = "", language: str = "", filename: str | None = None
) -> SFTPStatusError:
    """The exception for a STATUS reply (``status`` must not be OK)."""
    if status == StatusCode.OK:
        raise ValueError("status OK is not an error")
    cls = _BY_STATUS.get(status, SFTPStatusError)
    return cls(message, filename, status=status, language=language)


# OpenSSH's sftp-server maps errno to the version 3 codes this way; everything else is
# FAILURE. A server core answering a failed filesystem call uses it.
_ERRNO_STATUS: dict[int, int] = {
    _errno.ENOENT: StatusCode.NO_SUCH_FILE,
    _errno.ENOTDIR: StatusCode.NO_SUCH_FILE,
    _errno.EBADF: StatusCode.NO_SUCH_FILE,
    _errno.ELOOP: StatusCode.NO_SUCH_FILE,
    _errno.EPERM: StatusCode.PERMISSION_DENIED,
    _errno.EACCES: StatusCode.PERMISSION_DENIED,
    _errno.EFAULT: StatusCode.PERMISSION_DENIED,
    _errno.ENAMETOOLONG: StatusCode.BAD_MESSAGE,
    _errno.EINVAL: StatusCode.BAD_MESSAGE,
    _errno.ENOSYS: StatusCode.OP_UNSUPPORTED,
}


def status_for_oserror(error: OSError) -> int:
    """The version 3 status code for a failed local call, as OpenSSH's sftp-server picks it."""
    if isinstance(error, SFTPStatusError):
        return error.status
    if error.errno is None:
        return StatusCode.FAILURE
    return _ERRNO_STATUS.get(error.errno, StatusCode.FAILURE)
