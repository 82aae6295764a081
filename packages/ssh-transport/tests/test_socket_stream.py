"""The blocking SocketStream closes its descriptor only when no thread is still using it.

Closing it under a thread that is about to write would free the number while that thread
may still hand it to the kernel; a connection accepted meanwhile gets the lowest free
number, and would receive the old connection's bytes. (A server under load once sent
``ssh`` a KEXINIT that OpenSSH could not parse; this is the one way we found for bytes of
one connection to reach another.)
"""

from __future__ import annotations

import socket
import threading

import pytest

from ssh_transport.sync_backend import SocketStream


class HeldSocket(socket.socket):
    """A real socket whose ``sendall`` waits, inside the call, until ``go`` is set."""

    def __init__(self, fileno: int) -> None:
        super().__init__(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno)
        self.inside = threading.Event()
        self.go = threading.Event()

    def sendall(self, data: object, flags: int = 0) -> None:  # type: ignore[override]
        self.inside.set()
        assert self.go.wait(10)
        super().sendall(data, flags)  # type: ignore[arg-type]


def test_close_during_a_write_leaves_the_descriptor_to_the_writer() -> None:
    ours, peer = socket.socketpair()
    held = HeldSocket(ours.detach())
    stream = SocketStream(held)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            stream.write(b"late bytes")
        except OSError as exc:
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    assert held.inside.wait(10)
    stream.close()
    assert held.fileno() != -1  # still open: the writer may be about to use the number
    held.go.set()
    writer.join(10)
    assert not writer.is_alive()
    assert held.fileno() == -1  # the writer closed it on its way out
    assert len(failures) == 1 and isinstance(failures[0], BrokenPipeError)
    assert peer.recv(100) == b""  # nothing after the shutdown
    peer.close()


def test_write_after_close_fails_cleanly() -> None:
    ours, peer = socket.socketpair()
    stream = SocketStream(ours)
    stream.close()
    assert ours.fileno() == -1
    with pytest.raises(BrokenPipeError):
        stream.write(b"x")
    peer.close()


def test_close_during_a_read_leaves_the_descriptor_to_the_reader() -> None:
    ours, peer = socket.socketpair()
    stream = SocketStream(ours)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stream.read(10.0)))
    reader.start()
    # The reader is (or soon will be) waiting in its selector; close wakes it with b"".
    for _ in range(100):
        if stream._in_read:
            break
        threading.Event().wait(0.01)
    stream.close()
    reader.join(10)
    assert got == [b""]
    assert ours.fileno() == -1
    peer.close()
