"""Status codes become exceptions that are also the matching OSError kinds."""

from __future__ import annotations

import errno
import pickle

import pytest

from ssh_sftp import errors as e
from ssh_sftp.numbers import StatusCode
from ssh_wire import RemoteProtocolError, SSHError

KINDS = [
    (StatusCode.EOF, e.EndOfFile, OSError),
    (StatusCode.NO_SUCH_FILE, e.NoSuchFile, FileNotFoundError),
    (StatusCode.PERMISSION_DENIED, e.PermissionDenied, PermissionError),
    (StatusCode.FAILURE, e.SFTPFailure, OSError),
    (StatusCode.BAD_MESSAGE, e.BadMessage, OSError),
    (StatusCode.NO_CONNECTION, e.NoConnection, ConnectionError),
    (StatusCode.CONNECTION_LOST, e.ConnectionLost, ConnectionAbortedError),
    (StatusCode.OP_UNSUPPORTED, e.OperationUnsupported, OSError),
    (StatusCode.INVALID_HANDLE, e.InvalidHandle, OSError),
    (StatusCode.NO_SUCH_PATH, e.NoSuchPath, FileNotFoundError),
    (StatusCode.FILE_ALREADY_EXISTS, e.FileAlreadyExists, FileExistsError),
    (StatusCode.DIR_NOT_EMPTY, e.DirectoryNotEmpty, OSError),
    (StatusCode.NOT_A_DIRECTORY, e.NotADirectory, NotADirectoryError),
    (StatusCode.FILE_IS_A_DIRECTORY, e.FileIsADirectory, IsADirectoryError),
]


@pytest.mark.parametrize(
    ("code", "cls", "kind"), KINDS, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_each_status_maps_to_its_class_and_oserror_kind(
    code: int, cls: type[e.SFTPStatusError], kind: type[OSError]
) -> None:
    error = e.status_error(code, "server says no", "en", "/some/path")
    assert type(error) is cls
    assert isinstance(error, kind) and isinstance(error, SSHError)
    assert error.status == code
    assert error.strerror == "server says no"
    assert error.filename == "/some/path"
    assert error.language == "en"
    assert "server says no" in str(error)


def test_errno_is_what_a_local_call_would_set() -> None:
    assert e.status_error(StatusCode.NO_SUCH_FILE).errno == errno.ENOENT
    assert e.status_error(StatusCode.PERMISSION_DENIED).errno == errno.EACCES
    assert e.status_error(StatusCode.FAILURE).errno is None


def test_an_unknown_code_keeps_its_number() -> None:
    error = e.status_error(77, "odd")
    assert type(error) is e.SFTPStatusError
    assert error.status == 77
    assert isinstance(error, OSError)


def test_ok_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="OK"):
        e.status_error(StatusCode.OK)


def test_an_empty_message_still_says_what_happened() -> None:
    assert "status 4" in str(e.status_error(StatusCode.FAILURE))


def test_status_errors_pickle() -> None:
    error = e.status_error(StatusCode.NO_SUCH_FILE, "gone", "", "/x")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is e.NoSuchFile
    assert (back.status, back.strerror, back.filename) == (2, "gone", "/x")


def test_protocol_errors_are_remote_protocol_errors() -> None:
    assert issubclass(e.SFTPProtocolError, RemoteProtocolError)
    assert issubclass(e.SFTPConnectionClosed, ConnectionError)


@pytest.mark.parametrize(
    ("number", "status"),
    [
        (errno.ENOENT, StatusCode.NO_SUCH_FILE),
        (errno.ENOTDIR, StatusCode.NO_SUCH_FILE),
        (errno.EACCES, StatusCode.PERMISSION_DENIED),
        (errno.EPERM, StatusCode.PERMISSION_DENIED),
        (errno.EINVAL, StatusCode.BAD_MESSAGE),
        (errno.ENOSYS, StatusCode.OP_UNSUPPORTED),
        (errno.EEXIST, StatusCode.FAILURE),
        (errno.ENOTEMPTY, StatusCode.FAILURE),
    ],
)
def test_local_errors_map_to_status_codes_as_sftp_server_does(number: int, status: int) -> None:
    assert e.status_for_oserror(OSError(number, "x")) == status


def test_an_sftp_status_error_keeps_its_own_code() -> None:
    assert e.status_for_oserror(e.status_error(StatusCode.OP_UNSUPPORTED)) == 8
    assert e.status_for_oserror(OSError("no errno")) == StatusCode.FAILURE
