"""The blocking side of ssh-connection's I/O seam: the names of
:mod:`ssh_connection._aio_net` with blocking sockets and a thread per connection."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from ssh_transport.sync_backend import SocketStream

from . import _pipes, _pty
from .guarded_fd import GuardedFd

__all__ = [
    "TcpStream",
    "open_tcp",
    "open_unix",
    "Listener",
    "listen",
    "bind_unix",
    "listen_unix",
    "bind_tcp",
    "listen_tcp",
    "Process",
    "start_process",
    "PtyProcess",
    "start_pty_process",
]

log = logging.getLogger("ssh_connection")

#: Called (in a thread of its own) with each accepted connection and the peer's address.
OnConnection = Callable[["TcpStream", tuple[str, int]], None]


class TcpStream(SocketStream):
    """A TCP stream that can also send EOF (forwarded connections are half-closed)."""

    def write_eof(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


def open_tcp(host: str, port: int, timeout: float | None = 30.0) -> TcpStream:
    return TcpStream(socket.create_connection((host, port), timeout=timeout))


def open_unix(path: str, timeout: float | None = 30.0) -> TcpStream:
    """A Unix socket (an agent's): the same stream as a TCP one."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return TcpStream(sock)


class Listener:
    """A listening TCP socket with an accept thread; each connection gets a thread."""

    def __init__(self, sock: socket.socket, on_connection: OnConnection) -> None:
        self._sock = sock
        name = sock.getsockname()
        self.port = int(name[1]) if isinstance(name, tuple) else 0  # 0: a Unix socket
        self._on_connection = on_connection
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return  # closed
            if self._closed:
                conn.close()
                return
            address = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)
            threading.Thread(target=self._serve, args=(conn, address), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        stream = TcpStream(conn)
        try:
            self._on_connection(stream, peer)
        except Exception:
            # The handler is meant to catch its own; if one escapes, the connection must
            # not stay open without anyone serving it (a client would wait for ever).
            log.exception("serving a connection from %s failed", peer[0] or "a socket")
            stream.close()

    def close(self) -> None:
        self._closed = True
        # shutdown wakes the accept() in the other thread; close alone may not.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self._thread is not threading.current_thread():
            self._thread.join(5)


def listen(host: str, port: int, on_connection: OnConnection) -> Listener:
    """Listen on host:port (port 0 picks a free one; ``""`` means every address)."""
    sock = socket.create_server((host, port), backlog=128)
    return Listener(sock, on_connection)


def bind_unix(path: str, mode: int = 0o600) -> socket.socket:
    """A listening Unix socket at ``path`` with ``mode``, bound at once, so connections
    made before :func:`listen_unix` wait in its backlog. Put it in a private directory:
    between bind and chmod the umask decides."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_unix(sock: socket.socket, on_connection: OnConnection) -> Listener:
    """Serve a socket from :func:`bind_unix`; peers are reported as ``("", 0)``."""
    return Listener(sock, on_connection)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket bound at once (OSError if the port is taken), for
    :func:`listen_tcp`: an X11 display must exist before the session's command starts."""
    return socket.create_server((host, port), backlog=128)


def listen_tcp(sock: socket.socket, on_connection: OnConnection) -> Listener:
    """Serve a socket from :func:`bind_tcp`."""
    return Listener(sock, on_connection)


class Process:
    """A child process with pipes for stdin, stdout and stderr (read in threads).

    The pipes are bare descriptors taken from Popen's file objects, each a
    :class:`~ssh_connection.guarded_fd.GuardedFd`: the stdin feeder thread may still be writing
    when the handler closes the process, and a plain close would free the number under
    that write, for the next accepted connection to receive the client's bytes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._stdin, self._stdout, self._stderr = (
            _take_fd(process.stdin, "stdin"),
            _take_fd(process.stdout, "stdout"),
            _take_fd(process.stderr, "stderr"),
        )
        process.stdin = process.stdout = process.stderr = None  # ours now, not Popen's

    @property
    def pid(self) -> int:
        return self._process.pid

    def read_stdout(self, size: int = 65536) -> bytes:
        return _read(self._stdout, size)

    def read_stderr(self, size: int = 65536) -> bytes:
        return _read(self._stderr, size)

    def write_stdin(self, data: bytes) -> None:
        # A blocking pipe write may take only part of the data (a signal while it waits
        # for the reader); what it did not take would be lost, so loop.
        view = memoryview(data)
        with contextlib.suppress(OSError), self._stdin.use() as fd:
            while view:
                view = view[os.write(fd, view) :]

    def close_stdin(self) -> None:
        self._stdin.close()

    def send_signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(number)

    def hang_up(self) -> None:
        """The client is gone: SIGHUP to the command's process group (it leads one), so a
        pipeline blocked writing output no one reads ends too."""
        if self._process.returncode is not None:
            return  # reaped: its pid may belong to someone else by now
        self._signal_group(signal.SIGHUP)

    def kill(self) -> None:
        """The server is closing and the command outlived its grace: SIGKILL, group-wide."""
        if self._process.returncode is not None:
            return
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, number)

    def resize(self, size: _pty.Size) -> None:
        """Pipes have no terminal size."""

    def wait(self) -> int:
        return self._process.wait()

    def close(self) -> None:
        """Release the pipes (each once the threads using it are done with it)."""
        for pipe in (self._stdin, self._stdout, self._stderr):
            pipe.close()


def _take_fd(pipe: IO[bytes] | None, name: str) -> GuardedFd:
    assert pipe is not None
    fd = os.dup(pipe.fileno())  # the file object closes its own number now, ours stays
    pipe.close()
    return GuardedFd(fd, f"command's {name}")


def _read(pipe: GuardedFd, size: int) -> bytes:
    try:
        with pipe.use() as fd:
            return os.read(fd, size)
    except OSError:  # closed (EBADF): the end
        return b""


def start_process(argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> Process:
    process = subprocess.Popen(  # noqa: S603 - the server's handler chose the command
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd if cwd and os.path.isdir(cwd) else None,
        start_new_session=True,  # signals from the client reach it, not us
        bufsize=0,
    )
    _pipes.widen(process.stdin)
    _pipes.widen(process.stdout)  # a bulk download: one read per 1 MiB, not per 64 KiB
    return Process(process)


class PtyProcess:
    """A child process on a pseudo-terminal: one stream for its input and output."""

    def __init__(self, process: subprocess.Popen[bytes], master: int) -> None:
        self._process = process
        self._master = _pty.MasterFd(master)

    @property
    def pid(self) -> int:
        return self._process.pid

    def read_stdout(self, size: int = 65536) -> bytes:
        try:
            with self._master.use() as fd:
                return os.read(fd, size)
        except OSError:  # EIO once the child side is gone (EBADF once closed): the end
            return b""

    def read_stderr(self, size: int = 65536) -> bytes:
        return b""  # a terminal has one output stream

    def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        with contextlib.suppress(OSError), self._master.use() as fd:
            while view:
                view = view[os.write(fd, view) :]

    def close_stdin(self) -> None:
        """The client's EOF: a terminal stays open (sshd does the same)."""

    def send_signal(self, number: int) -> None:
        if self._process.returncode is not None:
            return  # reaped: its pid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, number)

    def hang_up(self) -> None:
        """The client is gone: SIGHUP to the terminal's process group."""
        self.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """The server is closing and the command outlived its grace: SIGKILL, group-wide."""
        self.send_signal(signal.SIGKILL)

    def resize(self, size: _pty.Size) -> None:
        with contextlib.suppress(OSError), self._master.use() as fd:
            _pty.set_size(fd, size)

    def wait(self) -> int:
        return self._process.wait()

    def close(self) -> None:
        self._master.close()


def start_pty_process(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: _pty.Size | None
) -> PtyProcess:
    """Run ``argv`` on a new pseudo-terminal of ``size`` as its session leader."""
    master, slave = _pty.open_pty(size)
    try:
        process = subprocess.Popen(  # noqa: S603 - the server's handler chose the command
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            start_new_session=True,
            preexec_fn=_pty.take_controlling_terminal,  # after setsid: the slave becomes the ctty
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return PtyProcess(process, master)
