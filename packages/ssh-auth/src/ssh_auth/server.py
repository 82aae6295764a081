"""The server side of user authentication (RFC 4252, RFC 4256) as a sans-I/O stacked core.

:class:`AuthServer` sits on a server :class:`~ssh_transport.Transport` whose client has
requested ``ssh-userauth``. Feed it the payloads of the transport's ``MessageReceived``
events (``handle_message``), send what the transport then has to send, and read
``next_event`` until :class:`~ssh_auth.events.UserAuthenticated` (after which messages 80
and up belong to the connection layer) or ``ConnectionTerminated``.

The rules that keep it safe:
- an explicit state and a (state x message number) table: any message not in the table, a
  client sending SUCCESS/FAILURE/BANNER/PK_OK/INFO_REQUEST, or a connection-layer message
  before success, is a protocol error and disconnects;
- SUCCESS only after every method of one required list succeeded with a verified credential
  (a publickey signature over this session id, a password or keyboard-interactive answer the
  policy accepted); a publickey query (no signature) only ever earns PK_OK;
- the user and service are fixed by the first request: a change disconnects;
- MaxAuthTries failures disconnect, as does the login grace time (``handle_timer``);
- passwords and keyboard-interactive answers over 1024 bytes fail without being checked;
- signatures are verified whatever the policy said, so unknown users cost the same work.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ssh_keys import (
    Certificate,
    KeyFormatError,
    PublicKey,
    SignatureInvalid,
    UnsupportedAlgorithm,
    algorithm_spec,
    parse_public_key_blob,
    split_signature,
)
from ssh_transport import ConnectionTerminated, Event, StackedCore, Transport
from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    LocalProtocolError,
    MessageNumber,
    MessageTable,
    decode_message,
)

from . import messages as m
from .algorithms import key_type_for, signature_algorithm_for, with_certificate_variants
from .decisions import AuthContext, Challenge, Decision
from .events import (
    AttemptRejected,
    AuthCheck,
    HostbasedCheck,
    KeyboardInteractiveReply,
    KeyboardInteractiveStart,
    PasswordChangeCheck,
    PasswordCheck,
    PublicKeyCheck,
    UserAuthenticated,
)
from .policy import AuthPolicy, PolicyAnswers

__all__ = ["AuthServer", "ServerState", "ALLOWED_MESSAGES"]

log = logging.getLogger("ssh_auth")

DEFAULT_MAX_AUTH_TRIES = 6
DEFAULT_LOGIN_GRACE_TIME = 120.0
#: Longest password or keyboard-interactive answer ever checked (OpenSSH's limit).
MAX_PASSWORD_LENGTH = 1024
#: Keyboard-interactive rounds in one attempt before it counts as failed.
MAX_KBDINT_ROUNDS = 16
#: Messages held while a check waits for the application (a client should wait for our
#: answer; a few pipelined ones are kept, more is a protocol error).
MAX_HELD_MESSAGES = 8


def _is_sha1(algorithm: str) -> bool:
    """A request algorithm that signs with SHA-1 (ssh-rsa, ssh-dss and their certificates)."""
    try:
        return algorithm_spec(algorithm).legacy
    except UnsupportedAlgorithm:
        return False


class ServerState(enum.Enum):
    """What the server expects next."""

    WAITING_FOR_REQUEST = "waiting for a USERAUTH_REQUEST"
    WAITING_FOR_INFO_RESPONSE = "waiting for a keyboard-interactive INFO_RESPONSE"
    WAITING_FOR_DECISION = "waiting for the application to answer a check"
    AUTHENTICATED = "authenticated: later USERAUTH_REQUESTs are ignored"
    CLOSED = "closed"


#: The allowed-message table: anything else in a state is a protocol error.
ALLOWED_MESSAGES: dict[ServerState, MessageTable] = {
    ServerState.WAITING_FOR_REQUEST: m.SERVER_REQUEST,
    ServerState.WAITING_FOR_INFO_RESPONSE: m.SERVER_KBDINT,
    ServerState.WAITING_FOR_DECISION: MessageTable(),  # messages are held, not decoded
    ServerState.AUTHENTICATED: m.SERVER_REQUEST,
    ServerState.CLOSED: MessageTable(),
}

_PUBLICKEY_TAILS = (
    m.PublickeyQueryTail,
    m.PublickeySignedTail,
    m.HostboundQueryTail,
    m.HostboundSignedTail,
)


class _Refused(Exception):
    """An attempt fails (not a protocol error): answered with USERAUTH_FAILURE."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthServer(StackedCore):
    """Server-side user authentication, stacked on a server transport core.

    A byte-stream core itself (``receive_data`` / ``data_to_send`` / ``next_event`` /
    ``get_timer`` / ``handle_timer``): it takes messages 50-79 (and, before success, any
    higher number, which is a protocol error), passes everything else up. With ``pause``
    the credential checks are :class:`~ssh_auth.events.AuthCheck` pause events the core
    waits on; without it the ``policy`` answers them inline. The policy always gives the
    method lists and the banner.
    """

    def __init__(
        self,
        transport: Transport,
        policy: AuthPolicy,
        *,
        services: Sequence[str] = ("ssh-connection",),
        client_address: str | None = None,
        client_hostname: str | None = None,
        max_auth_tries: int = DEFAULT_MAX_AUTH_TRIES,
        login_grace_time: float | None = DEFAULT_LOGIN_GRACE_TIME,
        publickey_algorithms: Sequence[str] | None = None,
        max_password_length: int = MAX_PASSWORD_LENGTH,
        now: float = 0.0,
        pause: bool = False,
    ) -> None:
        if max_auth_tries < 1:
            raise ValueError("max_auth_tries must be at least 1")
        super().__init__(transport)
        self._transport = transport
        self._policy = policy
        self._services = tuple(services)
        self._client_address = client_address
        self._client_hostname = client_hostname
        self._max_auth_tries = max_auth_tries
        # Accepted PK_OK queries do not count as failures; bound them too.
        self._max_requests = max(32, 4 * max_auth_tries)
        self._max_password_length = max_password_length
        sig_algs = (
            publickey_algorithms
            if publickey_algorithms is not None
            else with_certificate_variants(transport.config.server_sig_algs)
        )
        self._pk_algorithms = frozenset(sig_algs)
        self._host_key_blob = self._kex_host_key_blob()
        self._deadline = None if login_grace_time is None else now + login_grace_time
        self._state = ServerState.WAITING_FOR_REQUEST
        self._events: deque[Event] = deque()
        self.username: str | None = None
        self.service: str | None = None
        self._remaining: list[list[str]] = []
        self._completed: list[str] = []
        self._decisions: list[Decision] = []
        self._used_keys: set[bytes] = set()
        self._failures = 0
        self._requests = 0
        self._banner_sent = False
        self._answers = PolicyAnswers(policy)
        self._pause = pause
        self._method = ""
        self._pending: tuple[object, str, ServerState, tuple[type, ...]] | None = None
        self._held: deque[bytes] = deque()
        self._terminated = False
        self._kbdint = False
        self._kbdint_prompts = 0
        self._kbdint_rounds = 0
        self.error: DisconnectError | None = None

    # -- public API ----------------------------------------------------------------------

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def authenticated(self) -> bool:
        return self._state is ServerState.AUTHENTICATED

    @property
    def failures(self) -> int:
        return self._failures

    def _own_timer(self) -> float | None:
        """The login grace deadline, until authentication succeeds."""
        if self._state in (ServerState.AUTHENTICATED, ServerState.CLOSED):
            return None
        return self._deadline

    def _handle_own_timer(self, now: float) -> None:
        if self._own_timer() is not None and self._deadline is not None and now >= self._deadline:
            self._fail(DisconnectReason.BY_APPLICATION, "login grace time exceeded")

    # -- stacking ------------------------------------------------------------------------

    def _owns(self, number: int) -> bool:
        return number < 80 or self._state is not ServerState.AUTHENTICATED

    def _handle_message(self, payload: bytes) -> None:
        self.handle_message(payload)

    def _on_lower_event(self, event: Event) -> None:
        if isinstance(event, ConnectionTerminated):
            if self._terminated:
                return  # we reported this end already, with our reason
            self._terminated = True
            self._state = ServerState.CLOSED
        self._events.append(event)

    def handle_message(self, payload: bytes) -> None:
        """A USERAUTH-range (or, wrongly, connection-range) message from the client.

        After authentication, pass only numbers below 80 here: 80-127 belong to the
        connection layer (a LocalProtocolError says the driver routed wrongly).
        """
        state = self._state
        if state is ServerState.CLOSED:
            return
        if state is ServerState.WAITING_FOR_DECISION:
            if len(self._held) >= MAX_HELD_MESSAGES:
                self._fail(DisconnectReason.PROTOCOL_ERROR, "too many messages during a check")
            else:
                self._held.append(payload)
            return
        number = payload[0] if payload else -1
        if state is ServerState.AUTHENTICATED:
            if number >= 80:
                raise LocalProtocolError("messages 80 and up go to the connection layer")
            if number == MessageNumber.USERAUTH_REQUEST:
                return  # RFC 4252 5.1: ignored after success
        if self._transport.closed:
            self._state = ServerState.CLOSED
            return
        try:
            message = decode_message(payload, ALLOWED_MESSAGES[state])
            if isinstance(message, m.UserauthRequest):
                self._on_request(message)
            elif isinstance(message, m.UserauthInfoResponse):
                self._on_info_response(payload)
        except DecodeError as exc:
            what = f"message {number}" if number >= 0 else "empty message"
            self._fail(DisconnectReason.PROTOCOL_ERROR, f"{what} not allowed {state.value}: {exc}")
        except DisconnectError as exc:
            self._fail(exc.reason, exc.description)

    # -- requests ------------------------------------------------------------------------

    def _context(self) -> AuthContext:
        return AuthContext(
            session_id=self._session_id(),
            client_address=self._client_address,
            client_hostname=self._client_hostname,
            completed=tuple(self._completed),
        )

    def _session_id(self) -> bytes:
        sid = self._transport.session_id
        if sid is None:  # the transport routes no auth message before its first kex
            raise DisconnectError(DisconnectReason.PROTOCOL_ERROR, "no session id yet")
        return sid

    def _heads(self) -> tuple[str, ...]:
        """Methods that can continue: the next method of every remaining list."""
        return tuple(dict.fromkeys(lst[0] for lst in self._remaining if lst))

    def _on_request(self, msg: m.UserauthRequest) -> None:
        self._requests += 1
        if self._requests > self._max_requests:
            raise DisconnectError(
                DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE, "too many requests"
            )
        if self.username is None:
            if msg.service not in self._services:
                raise DisconnectError(
                    DisconnectReason.SERVICE_NOT_AVAILABLE, f"no such service {msg.service!r}"
                )
            self.username, self.service = msg.username, msg.service
            lists = self._policy.method_lists(msg.username)
            self._remaining = [[str(n) for n in lst if n != m.NONE] for lst in lists]
        elif msg.username != self.username or msg.service != self.service:
            raise DisconnectError(
                DisconnectReason.PROTOCOL_ERROR, "change of user or service during authentication"
            )
        if self._state is ServerState.WAITING_FOR_INFO_RESPONSE:
            # A new request abandons keyboard-interactive (RFC 4256 3.4): that try failed.
            self._end_kbdint()
            self._failures += 1
            if self._failures >= self._max_auth_tries:
                raise DisconnectError(
                    DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                    "too many authentication failures",
                )
        if not self._banner_sent:
            self._banner_sent = True
            banner = self._policy.banner(msg.username)
            if banner:
                self._send(m.UserauthBanner(banner, "").encode())
        tail = m.decode_tail(msg.method, msg.method_data)
        self._method = msg.method
        try:
            self._dispatch(msg.method, tail)
        except _Refused as refused:
            self._refuse(msg.method, refused.reason, count=not self._free_try(msg.method))

    def _free_try(self, method: str) -> bool:
        # As sshd: the client's first "none" (asking for the method list) costs nothing.
        return method == m.NONE and self._requests == 1

    def _dispatch(self, method: str, tail: m.MethodTail | None) -> None:
        if tail is None:
            raise _Refused(f"unsupported method {method!r}")
        if isinstance(tail, m.NoneTail):
            if any(not lst for lst in self._remaining):
                self._succeed(m.NONE, Decision.accept())
                return
            raise _Refused("none")
        base = m.PUBLICKEY if method == m.PUBLICKEY_HOSTBOUND else method
        if base not in self._heads():
            raise _Refused(f"method {method!r} not allowed now")
        if isinstance(tail, _PUBLICKEY_TAILS):
            self._on_publickey(method, tail)
        elif isinstance(tail, (m.PasswordTail, m.PasswordChangeTail)):
            self._on_password(tail)
        elif isinstance(tail, m.KeyboardInteractiveTail):
            self._on_kbdint(tail)
        else:
            assert isinstance(tail, m.HostbasedTail)
            self._on_hostbased(tail)

    # -- publickey -----------------------------------------------------------------------

    def _kex_host_key_blob(self) -> bytes | None:
        # The first exchange's key, as sshd uses: a rekey may have used another one.
        host_key = self._transport.host_key
        return host_key.blob if host_key is not None else None

    def _parse_key(self, algorithm: str, blob: bytes) -> PublicKey:
        if algorithm not in self._pk_algorithms:
            raise _Refused(f"algorithm {algorithm} not accepted")
        try:
            key = parse_public_key_blob(blob)
        except KeyFormatError as exc:
            raise _Refused(f"unusable key: {exc}") from None
        if key.algorithm != key_type_for(algorithm):
            raise _Refused(f"a {key.algorithm} key sent as {algorithm}")
        return key

    def _verify(self, key: PublicKey, algorithm: str, data: bytes, signature: bytes) -> bool:
        expected = signature_algorithm_for(algorithm)
        try:
            name, _ = split_signature(signature)
            if name != expected:
                return False
            # SHA-1 (ssh-rsa, ssh-dss) only gets here when the accepted list names it.
            key.verify(data, signature, allow_sha1=_is_sha1(algorithm))
        except SignatureInvalid:
            return False
        return True

    # -- checks: inline, or pause events ---------------------------------------------------

    def _ask(self, check: type[AuthCheck], then: Callable[[Any], None], **fields: Any) -> None:
        """Get a check's answer and go on with ``then(answer)``: from the policy at once, or
        (``pause``) as a pause event the core waits on, holding later messages."""
        assert self.username is not None
        token = object()

        def answer(value: Any) -> None:
            self._resume(token, then, value)

        event = check(username=self.username, context=self._context(), answer_with=answer,
                      **fields)  # fmt: skip
        if not self._pause:
            then(self._answers(event))
            return
        expected: tuple[type, ...] = (Decision,)
        if check is KeyboardInteractiveStart:
            expected = (Challenge, Decision, type(None))
        elif check is KeyboardInteractiveReply:
            expected = (Challenge, Decision)
        self._pending = (token, self._method, self._state, expected)
        self._state = ServerState.WAITING_FOR_DECISION
        self._events.append(event)

    def _resume(self, token: object, then: Callable[[Any], None], value: Any) -> None:
        if self._state is ServerState.CLOSED:
            return  # the connection ended while the application thought: nothing to do
        pending = self._pending
        if pending is None or pending[0] is not token:
            raise LocalProtocolError("this check is not waiting for an answer")
        _, method, state, expected = pending
        if not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise LocalProtocolError(f"answer this check with {names}, not {value!r}")
        self._pending = None
        self._state = state
        try:
            then(value)
        except _Refused as refused:
            self._refuse(method, refused.reason, count=not self._free_try(method))
        except DisconnectError as exc:
            self._fail(exc.reason, exc.description)
        while self._held and self._state not in (
            ServerState.WAITING_FOR_DECISION,
            ServerState.CLOSED,
        ):
            self.handle_message(self._held.popleft())

    def _on_publickey(
        self,
        method: str,
        tail: m.PublickeyQueryTail
        | m.PublickeySignedTail
        | m.HostboundQueryTail
        | m.HostboundSignedTail,
    ) -> None:
        hostbound = isinstance(tail, (m.HostboundQueryTail, m.HostboundSignedTail))
        if hostbound:
            assert isinstance(tail, (m.HostboundQueryTail, m.HostboundSignedTail))
            if self._host_key_blob is None or tail.host_key != self._host_key_blob:
                raise _Refused("hostbound request names another host key")
        key = self._parse_key(tail.algorithm, tail.key)

        def decided(decision: Decision) -> None:
            self._publickey_decided(method, tail, key, hostbound, decision)

        self._ask(PublicKeyCheck, decided, key=key)

    def _publickey_decided(
        self,
        method: str,
        tail: m.PublickeyQueryTail
        | m.PublickeySignedTail
        | m.HostboundQueryTail
        | m.HostboundSignedTail,
        key: PublicKey,
        hostbound: bool,
        decision: Decision,
    ) -> None:
        if decision.allowed and _identity(key) in self._used_keys:
            decision = Decision.reject("key already used in this login")
        if isinstance(tail, (m.PublickeyQueryTail, m.HostboundQueryTail)):
            # A query proves nothing: at most PK_OK, never success.
            if not decision.allowed:
                raise _Refused(decision.reason or "key not authorized")
            self._send(m.UserauthPkOk(tail.algorithm, tail.key).encode())
            return
        assert self.username is not None and self.service is not None
        data = m.publickey_signed_data(
            self._session_id(),
            self.username,
            self.service,
            method,
            tail.algorithm,
            tail.key,
            self._host_key_blob if hostbound else None,
        )
        # Verify whatever the decision: refused and unknown users cost the same work.
        verified = self._verify(key, tail.algorithm, data, tail.signature)
        if not verified:
            raise _Refused("signature does not verify")
        if not decision.allowed:
            raise _Refused(decision.reason or "key not authorized")
        if _verify_required(decision, key) and not _user_verified(key, data, tail.signature):
            raise _Refused("verify-required: the signature lacks user verification")
        self._used_keys.add(_identity(key))
        self._succeed(m.PUBLICKEY, _with_key(decision, key))

    # -- hostbased -----------------------------------------------------------------------

    def _on_hostbased(self, tail: m.HostbasedTail) -> None:
        assert self.username is not None and self.service is not None
        key = self._parse_key(tail.algorithm, tail.key)
        data = m.hostbased_signed_data(
            self._session_id(),
            self.username,
            self.service,
            tail.algorithm,
            tail.key,
            tail.client_host,
            tail.client_user,
        )

        def decided(decision: Decision) -> None:
            self._hostbased_decided(tail, key, data, decision)

        self._ask(
            HostbasedCheck,
            decided,
            key=key,
            client_host=tail.client_host,
            client_user=tail.client_user,
        )

    def _hostbased_decided(
        self, tail: m.HostbasedTail, key: PublicKey, data: bytes, decision: Decision
    ) -> None:
        verified = self._verify(key, tail.algorithm, data, tail.signature)
        if not verified:
            raise _Refused("hostbased signature does not verify")
        if not decision.allowed:
            raise _Refused(decision.reason or "host not authorized")
        self._succeed(m.HOSTBASED, _with_key(decision, key))

    # -- password ------------------------------------------------------------------------

    def _text(self, secret: bytes) -> str:
        if len(secret) > self._max_password_length:
            raise _Refused("password too long")
        try:
            return secret.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("password is not UTF-8") from None

    def _on_password(self, tail: m.PasswordTail | m.PasswordChangeTail) -> None:
        assert self.username is not None
        if isinstance(tail, m.PasswordChangeTail):
            old, new = self._text(tail.old_password), self._text(tail.new_password)
            self._ask(PasswordChangeCheck, self._password_decided, old_password=old,
                      new_password=new)  # fmt: skip
        else:
            password = self._text(tail.password)
            self._ask(PasswordCheck, self._password_decided, password=password)

    def _password_decided(self, decision: Decision) -> None:
        if decision.change_prompt is not None and not decision.allowed:
            self._send(m.UserauthPasswdChangereq(decision.change_prompt, "").encode())
            return
        if not decision.allowed:
            raise _Refused(decision.reason or "wrong password")
        self._succeed(m.PASSWORD, decision)

    # -- keyboard-interactive ------------------------------------------------------------

    def _on_kbdint(self, tail: m.KeyboardInteractiveTail) -> None:
        self._ask(KeyboardInteractiveStart, self._kbdint_started, submethods=tail.submethods)

    def _kbdint_started(self, step: Challenge | Decision | None) -> None:
        if step is None:
            raise _Refused("keyboard-interactive not available")
        self._kbdint = True
        self._kbdint_rounds = 0
        self._kbdint_step(step)

    def _kbdint_step(self, step: Challenge | Decision) -> None:
        if isinstance(step, Decision):
            self._end_kbdint()
            if not step.allowed:
                raise _Refused(step.reason or "keyboard-interactive failed")
            self._succeed(m.KEYBOARD_INTERACTIVE, step)
            return
        self._kbdint_rounds += 1
        if self._kbdint_rounds > MAX_KBDINT_ROUNDS or len(step.prompts) > m.MAX_PROMPTS:
            self._end_kbdint()
            raise _Refused("keyboard-interactive went on too long")
        self._kbdint_prompts = len(step.prompts)
        self._state = ServerState.WAITING_FOR_INFO_RESPONSE
        self._send(m.encode_info_request(step.name, step.instruction, step.prompts))

    def _end_kbdint(self) -> None:
        self._kbdint = False
        self._kbdint_prompts = 0
        if self._state is ServerState.WAITING_FOR_INFO_RESPONSE:
            self._state = ServerState.WAITING_FOR_REQUEST

    def _on_info_response(self, payload: bytes) -> None:
        raw = m.decode_info_response(payload)
        assert self._kbdint
        self._method = m.KEYBOARD_INTERACTIVE
        if len(raw) != self._kbdint_prompts:
            raise DisconnectError(
                DisconnectReason.PROTOCOL_ERROR,
                f"{len(raw)} responses to {self._kbdint_prompts} prompts",
            )
        try:
            try:
                responses = tuple(self._text(r) for r in raw)
            except _Refused:
                self._end_kbdint()
                raise
            self._ask(KeyboardInteractiveReply, self._kbdint_step, responses=responses)
        except _Refused as refused:
            self._refuse(m.KEYBOARD_INTERACTIVE, refused.reason)

    # -- outcomes ------------------------------------------------------------------------

    def _succeed(self, method: str, decision: Decision) -> None:
        """One method of the required list(s) succeeded with a verified credential."""
        assert self.username is not None and self.service is not None
        if method != m.NONE:
            for lst in self._remaining:
                if lst and lst[0] == method:
                    lst.pop(0)
            self._completed.append(method)
            self._decisions.append(decision)
        if any(not lst for lst in self._remaining):
            self._state = ServerState.AUTHENTICATED
            self._send(m.UserauthSuccess().encode())
            log.info("user %r authenticated with %s", self.username, ",".join(self._completed))
            self._events.append(
                UserAuthenticated(
                    self.username, self.service, tuple(self._completed), tuple(self._decisions)
                )
            )
            return
        self._send(m.UserauthFailure(self._heads(), True).encode())

    def _refuse(self, method: str, reason: str, *, count: bool = True) -> None:
        log.debug("refused %s for %r: %s", method, self.username, reason)
        self._events.append(AttemptRejected(self.username or "", method, reason))
        if count:
            self._failures += 1
            if self._failures >= self._max_auth_tries:
                self._fail(
                    DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
                    "too many authentication failures",
                )
                return
        self._send(m.UserauthFailure(self._heads(), False).encode())

    def _send(self, payload: bytes) -> None:
        if self._state is ServerState.CLOSED or self._transport.closed:
            return
        self._transport.send_message(payload)

    def _fail(self, reason: int, description: str) -> None:
        if self._state is ServerState.CLOSED:
            return
        log.debug("disconnecting: %s", description)
        self._state = ServerState.CLOSED
        self._kbdint = False
        self._pending = None
        self._held.clear()
        error = DisconnectError(reason, description, local=True)
        self.error = error
        self._terminated = True
        self._events.append(ConnectionTerminated(error))
        self._transport.close(reason, description)


def _identity(key: PublicKey) -> bytes:
    """A certificate and its plain key are the same key for "already used" purposes."""
    return key.key.blob if isinstance(key, Certificate) else key.blob


def _verify_required(decision: Decision, key: PublicKey) -> bool:
    """sshd's verify-required: from the authorized_keys line or the certificate."""
    options = decision.options
    cert = key if isinstance(key, Certificate) else decision.certificate
    return bool(options is not None and options.verify_required) or (
        cert is not None and cert.verify_required
    )


def _user_verified(key: PublicKey, data: bytes, signature: bytes) -> bool:
    """Did a security key sign with the user-verified flag? Other keys cannot say so."""
    plain = key.key if isinstance(key, Certificate) else key
    verify_sk = getattr(plain, "verify_sk", None)
    if verify_sk is None:
        return False
    try:
        verify_sk(data, signature, require_verified=True)
    except SignatureInvalid:
        return False
    return True


def _with_key(decision: Decision, key: PublicKey) -> Decision:
    if decision.key is not None:
        return decision
    cert = key if isinstance(key, Certificate) else decision.certificate
    return Decision(True, decision.options, cert, key, decision.reason)
