"""The agent side of one connection, sans-I/O.

Bytes in with :meth:`AgentServerCore.receive_data`, bytes out with
:meth:`~AgentServerCore.data_to_send`. A request that needs the user
(a key added with ``ssh-add -c``) pauses the connection with a
:class:`ConfirmationRequested` event until the driver calls
:meth:`~AgentServerCore.answer_confirmation`. Time is passed in (``now``) so key
lifetimes are enforced without a clock here.

Every malformed or refused request is answered with FAILURE and changes nothing;
only a message over the size limit (or EOF) ends the connection. Requests wait,
unprocessed, while more than ``max_output`` bytes of replies have not been taken,
so a client that pipelines requests without reading cannot grow our memory.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ssh_keys import (
    KeyFormatError,
    PublicKey,
    SignatureInvalid,
    SKPrivateKey,
    UnsupportedAlgorithm,
    parse_public_key_blob,
    read_private_entry,
)
from ssh_wire import DecodeError, Reader, SSHError

from .errors import AgentProtocolError
from .keystore import KeyStore, StoredKey
from .protocol import (
    MAX_MESSAGE,
    QUERY,
    SESSION_BIND,
    SSH_AGENT_RSA_SHA2_256,
    SSH_AGENT_RSA_SHA2_512,
    AddIdConstrained,
    AddIdentity,
    AgentMessage,
    Constraints,
    Extension,
    ExtensionResponse,
    Failure,
    FrameBuffer,
    Identity,
    Lock,
    RemoveIdentity,
    SessionBind,
    SignRequest,
    SignResponse,
    Success,
    Unlock,
    encode_identities,
    encode_string_sequence,
    frame,
    read_constraints,
)
from .restrictions import (
    MAX_BINDINGS,
    MAX_SESSION_ID,
    Binding,
    identity_permitted,
    parse_userauth_request,
    sign_refusal,
)

__all__ = ["AgentServerCore", "ConfirmationRequested", "ConnectionClosed", "AgentEvent"]

log = logging.getLogger("ssh_agent")

_FAILURE = Failure().encode()
_SUCCESS = Success().encode()


@dataclass(frozen=True)
class ConfirmationRequested:
    """A key added with ``confirm`` is about to sign: ask the user, then answer the core."""

    key: PublicKey
    comment: str
    fingerprint: str
    #: What the signature is for, for the prompt ("public key authentication for user x").
    purpose: str


@dataclass(frozen=True)
class ConnectionClosed:
    """The connection is over (EOF, or a message over the size limit)."""

    reason: str


AgentEvent = ConfirmationRequested | ConnectionClosed


class _Refused(Exception):
    """Internal: answer FAILURE (the reason goes to the debug log)."""


@dataclass
class _PendingSign:
    blob: bytes
    data: bytes
    algorithm: str | None


class AgentServerCore:
    """Serves the agent protocol for one client connection.

    ``forwarded`` marks a connection that arrived over SSH agent forwarding: it may
    list keys and sign (subject to destination restrictions), but add, remove, lock
    and unlock are refused, as SECURITY.md requires. A connection is also treated as
    forwarded once it is bound with ``session-bind@openssh.com``'s forwarding flag:
    that is how OpenSSH's ssh marks the agent connections it relays for ``ssh -A``,
    which otherwise look like any local client on the agent's socket.

    ``clock`` gives wall-clock seconds (``time.time``), for the validity of host
    certificates met in destination restrictions; without it a host certificate never
    matches a CA key in a restriction. ``now`` arguments are the driver's monotonic time.
    """

    def __init__(
        self,
        keystore: KeyStore,
        *,
        forwarded: bool = False,
        max_message: int = MAX_MESSAGE,
        max_output: int = 4 * MAX_MESSAGE,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.keystore = keystore
        self._clock = clock
        self.forwarded = forwarded
        self.bindings: list[Binding] = []
        self._bind_attempted = False
        # Set by any session-bind that decodes with is_forwarding, even one that then
        # fails to verify: claiming forwarding can only take rights away.
        self._forwarding_claimed = False
        self._frames = FrameBuffer(max_message)
        self._max_buffer = 2 * (max_message + 4)
        self._max_output = max_output
        self._out = bytearray()
        self._now = 0.0
        self._events: deque[AgentEvent] = deque()
        self._pending: _PendingSign | None = None
        self._closed = False
        #: Requests that hit an unexpected exception (a bug); tests assert it stays 0.
        self.internal_errors = 0
        self._handlers: dict[int, Callable[[bytes, float], bytes | None]] = {
            AgentMessage.REQUEST_IDENTITIES: self._request_identities,
            AgentMessage.SIGN_REQUEST: self._sign_request,
            AgentMessage.ADD_IDENTITY: self._add_identity,
            AgentMessage.ADD_ID_CONSTRAINED: self._add_identity,
            AgentMessage.REMOVE_IDENTITY: self._remove_identity,
            AgentMessage.REMOVE_ALL_IDENTITIES: self._remove_all,
            AgentMessage.LOCK: self._lock,
            AgentMessage.UNLOCK: self._unlock,
            AgentMessage.EXTENSION: self._extension,
        }

    # -- driver interface ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def via_forwarding(self) -> bool:
        """Whether this connection came through agent forwarding (flag or session-bind)."""
        return self.forwarded or self._forwarding_claimed

    @property
    def awaiting_confirmation(self) -> bool:
        return self._pending is not None

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the client; ``b""`` means EOF."""
        if self._closed:
            return
        if not data:
            self._close("end of input")
            return
        self._frames.feed(data)
        if self._frames.buffered > self._max_buffer and (
            self._pending is not None or self.output_blocked
        ):
            self._close("client sent too much while its requests had to wait")
            return
        self._process(now)

    @property
    def output_blocked(self) -> bool:
        """Whether requests wait until :meth:`data_to_send` takes the replies so far."""
        return len(self._out) >= self._max_output

    def data_to_send(self, now: float | None = None) -> bytes:
        """Replies so far. Taking them lets waiting requests run: call again for theirs.

        Pass ``now``: the waiting requests run at that time (key lifetimes); without it
        they run at the time of the last call that gave one."""
        out = bytes(self._out)
        self._out.clear()
        if out and self._frames.buffered:
            self._process(self._now if now is None else max(now, self._now))
        return out

    def next_event(self) -> AgentEvent | None:
        return self._events.popleft() if self._events else None

    def answer_confirmation(self, allowed: bool, now: float) -> None:
        """Answer the outstanding :class:`ConfirmationRequested`, then carry on."""
        pending, self._pending = self._pending, None
        if pending is None or self._closed:
            return
        reply = _FAILURE
        if allowed:
            try:
                reply = self._sign_now(pending, now)
            except _Refused as exc:
                log.debug("sign refused after confirmation: %s", exc)
        self._out += frame(reply)
        self._process(now)

    def get_timer(self) -> float | None:
        """When the next key expires (the driver may call :meth:`handle_timer` then)."""
        return self.keystore.next_expiry()

    def handle_timer(self, now: float) -> None:
        self.keystore.expire(now)

    # -- processing ---------------------------------------------------------------------

    def _close(self, reason: str) -> None:
        self._closed = True
        self._pending = None
        self._events.append(ConnectionClosed(reason))

    def _process(self, now: float) -> None:
        self._now = now
        while not self._closed and self._pending is None and not self.output_blocked:
            try:
                payload = self._frames.next_message()
            except AgentProtocolError as exc:
                self._close(str(exc))
                return
            if payload is None:
                return
            reply = self._dispatch(payload, now)
            if reply is not None:
                self._out += frame(reply)

    def _dispatch(self, payload: bytes, now: float) -> bytes | None:
        self.keystore.expire(now)
        if not payload:
            return _FAILURE
        kind = payload[0]
        if self.keystore.locked and kind != AgentMessage.UNLOCK:
            # A locked agent lists nothing and refuses everything else (as OpenSSH).
            if kind == AgentMessage.REQUEST_IDENTITIES and len(payload) == 1:
                return encode_identities([])
            return _FAILURE
        handler = self._handlers.get(kind)
        if handler is None:
            return _FAILURE
        try:
            return handler(payload, now)
        except _Refused as exc:
            log.debug("request %d refused: %s", kind, exc)
        except (SSHError, ValueError) as exc:
            log.debug("malformed request %d: %s", kind, exc)
        except Exception:
            self.internal_errors += 1
            log.exception("internal error handling agent request %d", kind)
        return _FAILURE

    def _wall_time(self) -> float | None:
        return None if self._clock is None else self._clock()

    def _visible(self, entry: StoredKey) -> bool:
        return identity_permitted(
            entry.destinations,
            self.bindings,
            bind_failed=self._bind_attempted,
            now=self._wall_time(),
        )

    # -- requests ------------------------------------------------------------------------

    def _request_identities(self, payload: bytes, now: float) -> bytes:
        if len(payload) != 1:
            raise _Refused("trailing bytes")
        idents = [
            Identity(e.blob, e.comment) for e in self.keystore.identities() if self._visible(e)
        ]
        return encode_identities(idents)

    def _sign_request(self, payload: bytes, now: float) -> bytes | None:
        req = SignRequest.decode(payload)
        entry = self.keystore.get(req.key_blob)
        if entry is None:
            raise _Refused("no such key")
        algorithm: str | None = None
        if entry.key.algorithm == "ssh-rsa":
            if req.flags & SSH_AGENT_RSA_SHA2_512:
                algorithm = "rsa-sha2-512"
            elif req.flags & SSH_AGENT_RSA_SHA2_256:
                algorithm = "rsa-sha2-256"
            else:
                # No flags: SHA-1, as the protocol defines it (ssh-add -T and old clients
                # ask this way). The client decided it wants it; we only sign.
                algorithm = "ssh-rsa"
        elif not entry.key.signature_algorithms:
            # A retired type (ssh-dss) has only its legacy algorithm: a client that added
            # the key and asks for a signature has chosen it, as with OpenSSH's agent.
            algorithm = next(iter(entry.key.legacy_algorithms), None)
        pending = _PendingSign(req.key_blob, req.data, algorithm)
        self._check_sign(entry, pending)
        if entry.confirm:
            self._pending = pending
            self._events.append(
                ConfirmationRequested(
                    entry.public_key,
                    entry.comment,
                    entry.key.public_key.fingerprint(),
                    _purpose(req.data),
                )
            )
            return None
        return self._sign_now(pending, now)

    def _check_sign(self, entry: StoredKey, pending: _PendingSign) -> None:
        why = sign_refusal(
            entry.destinations,
            self.bindings,
            entry.blob,
            pending.data,
            bind_failed=self._bind_attempted,
            now=self._wall_time(),
        )
        if why is not None:
            raise _Refused(why)

    def _sign_now(self, pending: _PendingSign, now: float) -> bytes:
        # Things may have changed while the user was asked: look again.
        self.keystore.expire(now)
        entry = self.keystore.get(pending.blob)
        if entry is None or self.keystore.locked:
            raise _Refused("key gone or agent locked")
        self._check_sign(entry, pending)
        try:
            signature = entry.key.sign(pending.data, pending.algorithm)
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise _Refused(f"cannot sign: {exc}") from None
        return SignResponse(signature).encode()

    def _add_identity(self, payload: bytes, now: float) -> bytes:
        if self.via_forwarding:
            raise _Refused("adding keys over a forwarded connection")
        constrained = payload[0] == AgentMessage.ADD_ID_CONSTRAINED
        body = (AddIdConstrained if constrained else AddIdentity).decode(payload).body
        r = Reader(body)
        entry = read_private_entry(r)
        comment = r.string("comment").decode("utf-8", "replace")
        constraints = read_constraints(r) if constrained else Constraints()
        r.expect_end("add identity")
        if constraints.unknown_extensions:
            raise _Refused(f"unsupported constraint {constraints.unknown_extensions[0]}")
        if constraints.maxsign is not None or constraints.associated_certs:
            raise _Refused("constraint not valid for this key")
        if isinstance(entry.key, SKPrivateKey):
            raise _Refused(f"this agent cannot sign with {entry.key.algorithm} keys")
        self.keystore.add(
            entry.key,
            comment,
            now=now,
            lifetime=constraints.lifetime,
            confirm=constraints.confirm,
            destinations=constraints.destinations,
            certificate=entry.certificate,
        )
        return _SUCCESS

    def _remove_identity(self, payload: bytes, now: float) -> bytes:
        if self.via_forwarding:
            raise _Refused("removing keys over a forwarded connection")
        req = RemoveIdentity.decode(payload)
        entry = self.keystore.get(req.key_blob)
        if entry is None or not self._visible(entry):
            raise _Refused("no such key")
        self.keystore.remove(req.key_blob)
        return _SUCCESS

    def _remove_all(self, payload: bytes, now: float) -> bytes:
        if self.via_forwarding:
            raise _Refused("removing keys over a forwarded connection")
        if len(payload) != 1:
            raise _Refused("trailing bytes")
        self.keystore.remove_all()
        return _SUCCESS

    def _lock(self, payload: bytes, now: float) -> bytes:
        if self.via_forwarding:
            raise _Refused("locking over a forwarded connection")
        if not self.keystore.lock(Lock.decode(payload).passphrase):
            raise _Refused("already locked")
        return _SUCCESS

    def _unlock(self, payload: bytes, now: float) -> bytes:
        if self.via_forwarding:
            raise _Refused("unlocking over a forwarded connection")
        if not self.keystore.unlock(Unlock.decode(payload).passphrase):
            raise _Refused("not locked, or wrong passphrase")
        return _SUCCESS

    def _extension(self, payload: bytes, now: float) -> bytes:
        ext = Extension.decode(payload)
        if ext.name == QUERY:
            if ext.contents:
                raise _Refused("query takes no arguments")
            names = [QUERY.encode(), SESSION_BIND.encode()]
            return ExtensionResponse(QUERY, encode_string_sequence(names)).encode()
        if ext.name == SESSION_BIND:
            self._session_bind(ext.contents)
            return _SUCCESS
        raise _Refused(f"unknown extension {ext.name!r}")

    def _session_bind(self, contents: bytes) -> None:
        self._bind_attempted = True
        sb = SessionBind.decode(contents)
        self._forwarding_claimed |= sb.is_forwarding
        if not sb.session_id or len(sb.session_id) > MAX_SESSION_ID:
            raise _Refused("bad session id length")
        try:
            hostkey = parse_public_key_blob(sb.hostkey)
            # ssh already accepted this signature in its key exchange, SHA-1 or not.
            hostkey.verify(sb.session_id, sb.signature, allow_sha1=True)
        except (KeyFormatError, SignatureInvalid, DecodeError) as exc:
            raise _Refused(f"session-bind does not verify: {exc}") from None
        for b in self.bindings:
            if not b.forwarded:
                raise _Refused("connection already bound for authentication")
            if b.session_id == sb.session_id:
                if b.hostkey == hostkey:
                    return  # the same binding again
                raise _Refused("session id bound to a different host key")
        if len(self.bindings) >= MAX_BINDINGS:
            raise _Refused("too many session bindings")
        self.bindings.append(Binding(hostkey, sb.session_id, sb.is_forwarding))


def _purpose(data: bytes) -> str:
    req = parse_userauth_request(data)
    if req is None:
        return "a signature"
    return f"public key authentication as user {req.user!r}"
