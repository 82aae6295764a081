"""Blocking drivers: :class:`AgentClient` over a Unix socket, and :class:`AgentServer`.

The only module (with :mod:`ssh_agent.aio` and ``__main__``) that touches sockets,
threads and clocks; the protocol lives in the sans-I/O cores.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

from ssh_keys import (
    KeyFormatError,
    PrivateKey,
    PublicKey,
    PublicKeyLine,
    as_public_key,
    parse_public_key_blob,
)

from .client import (
    AgentClientCore,
    AgentKeyBase,
    PendingReply,
    check_signature_algorithm,
    sign_flags,
)
from .errors import AgentConnectionClosed, AgentError
from .keystore import KeyStore
from .protocol import Constraints, DestinationConstraint, Identity
from .server import AgentServerCore, ConfirmationRequested, ConnectionClosed

__all__ = [
    "AgentClient",
    "AgentKey",
    "AgentServer",
    "bind_unix_listener",
    "askpass_confirm",
    "connect_agent",
]

log = logging.getLogger("ssh_agent")
T = TypeVar("T")
_READ = 65536
#: Stop taking replies from the core, and reading requests, while this much is unsent.
_MAX_PENDING_OUT = 1024 * 1024


def _auth_sock(path: str | os.PathLike[str] | None) -> str:
    if path is None:
        path = os.environ.get("SSH_AUTH_SOCK")
        if not path:
            raise AgentError("SSH_AUTH_SOCK is not set: no agent to talk to")
    return os.fspath(path)


def connect_agent(
    path: str | os.PathLike[str] | None = None, timeout: float | None = 30.0
) -> socket.socket:
    """Connect to the agent at ``path`` (default ``$SSH_AUTH_SOCK``)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(_auth_sock(path))
    except OSError as exc:
        sock.close()
        raise AgentConnectionClosed(f"cannot connect to the agent: {exc}") from exc
    return sock


def _passphrase(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _blob(key: PublicKey | PublicKeyLine | PrivateKey | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, PrivateKey):
        return key.public_key.blob
    return as_public_key(key).blob


class AgentKey(AgentKeyBase):
    """A key held by an agent; a :class:`ssh_keys.Signer`."""

    __slots__ = ()
    _client: AgentClient

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return self._client.sign(self, data, algorithm)


class AgentClient:
    """Talks to an agent over its Unix socket (``SSH_AUTH_SOCK``); thread-safe."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = 30.0,
        sock: socket.socket | None = None,
    ) -> None:
        self._sock = sock if sock is not None else connect_agent(path, timeout)
        self._core = AgentClientCore()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, make: Callable[[AgentClientCore], PendingReply[T]]) -> T:
        with self._lock:
            reply = make(self._core)
            try:
                out = self._core.data_to_send()
                if out:
                    self._sock.sendall(out)
                while not reply.done:
                    self._core.receive_data(self._sock.recv(_READ))
            except OSError as exc:
                raise AgentConnectionClosed(f"agent connection failed: {exc}") from exc
            return reply.result()

    # -- requests --------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        """Raw identities (key blob and comment), including key types we cannot parse."""
        return self._call(lambda c: c.request_identities())

    def list_identities(self) -> list[AgentKey]:
        """The agent's keys as signers (identities of unknown key types are left out)."""
        keys = []
        for ident in self.identities():
            try:
                keys.append(AgentKey(self, ident, parse_public_key_blob(ident.blob)))
            except KeyFormatError:
                log.debug("skipping an agent identity of an unknown key type")
        return keys

    def sign(
        self, key: AgentKey | PublicKey | PublicKeyLine, data: bytes, algorithm: str | None = None
    ) -> bytes:
        """Have the agent sign ``data``; RSA picks SHA-256/512 by ``algorithm`` (SHA-1
        ``ssh-rsa`` only when named)."""
        public = key.public_key if isinstance(key, AgentKey) else as_public_key(key)
        blob = key.blob if isinstance(key, AgentKey) else public.blob
        algorithm, flags = sign_flags(public, algorithm)
        signature = self._call(lambda c: c.sign(blob, data, flags))
        check_signature_algorithm(signature, algorithm)
        return signature

    def add(
        self,
        key: PrivateKey,
        comment: str | None = None,
        *,
        lifetime: int | None = None,
        confirm: bool = False,
        destinations: tuple[DestinationConstraint, ...] = (),
        certificate: bytes | None = None,
    ) -> None:
        """Add a private key (``comment`` defaults to the key's own)."""
        constraints = Constraints(lifetime=lifetime, confirm=confirm, destinations=destinations)
        text = key.comment if comment is None else comment
        self._call(lambda c: c.add_identity(key, text, constraints, certificate=certificate))

    def remove(self, key: AgentKey | PublicKey | PublicKeyLine | PrivateKey | bytes) -> None:
        blob = key.blob if isinstance(key, AgentKey) else _blob(key)
        self._call(lambda c: c.remove_identity(blob))

    def remove_all(self) -> None:
        self._call(lambda c: c.remove_all())

    def lock(self, passphrase: str | bytes) -> None:
        self._call(lambda c: c.lock(_passphrase(passphrase)))

    def unlock(self, passphrase: str | bytes) -> None:
        self._call(lambda c: c.unlock(_passphrase(passphrase)))

    def extensions(self) -> tuple[str, ...]:
        """Extensions the agent supports (the ``query`` extension); AgentFailure if unknown."""
        return self._call(lambda c: c.query_extensions())

    def extension(self, name: str, contents: bytes = b"") -> bytes | None:
        return self._call(lambda c: c.extension(name, contents))

    def session_bind(
        self, hostkey: bytes, session_id: bytes, signature: bytes, *, forwarding: bool
    ) -> None:
        self._call(lambda c: c.session_bind(hostkey, session_id, signature, forwarding=forwarding))


# -- the agent server --------------------------------------------------------------------------


def bind_unix_listener(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` that only its owner can use.

    The umask is set before bind so the socket never exists with wider permissions,
    and the directory must not be writable by others (it could be swapped otherwise).
    """
    parent = os.path.dirname(os.path.abspath(path))
    st = os.stat(parent)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise AgentError(f"{parent} is writable by others: refusing to create the socket there")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def _peer_uid(sock: socket.socket) -> int | None:
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def askpass_confirm(event: ConfirmationRequested) -> bool:
    """Ask the user with ``$SSH_ASKPASS``, as ssh-agent does.

    Allowed when the program exits 0 and prints nothing or "yes".
    """
    program = os.environ.get("SSH_ASKPASS") or "ssh-askpass"
    prompt = (
        f"Allow use of key {event.comment}?\nKey fingerprint {event.fingerprint}.\n"
        f"Request: {event.purpose}"
    )
    env = dict(os.environ, SSH_ASKPASS_PROMPT="confirm")
    try:
        done = subprocess.run(  # noqa: S603 - the user's own askpass program
            [program, prompt],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot ask for confirmation: %s", exc)
        return False
    answer = done.stdout.strip().lower()
    return done.returncode == 0 and answer in (b"", b"yes")


@dataclass
class _Conn:
    sock: socket.socket
    core: AgentServerCore
    out: bytearray = field(default_factory=bytearray)
    eof: bool = False


class AgentServer:
    """An agent serving ``keystore`` on a Unix socket, one thread, many connections.

    Confirmations run ``confirm`` (default :func:`askpass_confirm`) in a worker
    thread so other connections carry on meanwhile.
    """

    def __init__(
        self,
        path: str,
        keystore: KeyStore | None = None,
        *,
        confirm: Callable[[ConfirmationRequested], bool] = askpass_confirm,
        listener: socket.socket | None = None,
        check_peer_uid: bool = True,
    ) -> None:
        self.path = path
        self.keystore = keystore if keystore is not None else KeyStore()
        self._confirm = confirm
        self._check_uid = check_peer_uid
        self._listener = listener if listener is not None else bind_unix_listener(path)
        self._listener.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._answers: queue.SimpleQueue[tuple[_Conn, bool]] = queue.SimpleQueue()
        self._stop = False
        self._conns: dict[int, _Conn] = {}

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (callable from any thread or a signal handler)."""
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def close(self) -> None:
        for conn in list(self._conns.values()):
            self._drop(conn)
        self._sel.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def serve_forever(self) -> None:
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stop:
                self._step()
        finally:
            self.close()

    def _timeout(self) -> float | None:
        expiry = self.keystore.next_expiry()
        if expiry is None:
            return None
        return max(0.0, expiry - time.monotonic())

    def _step(self) -> None:
        for sk, mask in self._sel.select(self._timeout()):
            if sk.data == "listen":
                self._accept()
            elif sk.data == "wake":
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            else:
                conn = sk.data
                assert isinstance(conn, _Conn)
                if mask & selectors.EVENT_READ:
                    self._read(conn)
                if mask & selectors.EVENT_WRITE:
                    self._after(conn)
        while True:
            try:
                conn, allowed = self._answers.get_nowait()
            except queue.Empty:
                break
            if conn.sock.fileno() >= 0:
                conn.core.answer_confirmation(allowed, time.monotonic())
                self._after(conn)
        self.keystore.expire(time.monotonic())

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if self._check_uid:
            uid = _peer_uid(sock)
            if uid is not None and uid not in (0, os.getuid()):
                log.warning("refusing agent connection from uid %d", uid)
                sock.close()
                return
        sock.setblocking(False)
        conn = _Conn(sock, AgentServerCore(self.keystore, clock=time.time))
        self._conns[sock.fileno()] = conn
        self._sel.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Conn) -> None:
        if conn.sock.fileno() < 0:
            return
        try:
            data = conn.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.core.receive_data(data, time.monotonic())
        self._after(conn)

    def _after(self, conn: _Conn) -> None:
        if conn.sock.fileno() < 0:
            return
        # Each call may run requests that waited for earlier replies to be taken.
        now = time.monotonic()
        while len(conn.out) < _MAX_PENDING_OUT and (more := conn.core.data_to_send(now)):
            conn.out += more
        while (event := conn.core.next_event()) is not None:
            if isinstance(event, ConfirmationRequested):
                threading.Thread(
                    target=self._ask, args=(conn, event), daemon=True, name="agent-confirm"
                ).start()
            elif isinstance(event, ConnectionClosed):
                conn.eof = True
        self._flush(conn)

    def _ask(self, conn: _Conn, event: ConfirmationRequested) -> None:
        try:
            allowed = self._confirm(event)
        except Exception:
            log.exception("confirmation callback failed")
            allowed = False
        self._answers.put((conn, allowed))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"c")

    def _flush(self, conn: _Conn) -> None:
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
                del conn.out[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(conn)
                return
        if conn.eof and not conn.out:
            self._drop(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        if conn.eof or len(conn.out) >= _MAX_PENDING_OUT or conn.core.output_blocked:
            events = selectors.EVENT_WRITE
        self._sel.modify(conn.sock, events, conn)

    def _drop(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd < 0:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn.sock)
        self._conns.pop(fd, None)
        conn.sock.close()
