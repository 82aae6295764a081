"""The client side of user authentication (RFC 4252, RFC 4256) as a sans-I/O stacked core.

:class:`AuthClient` sits on a client :class:`~ssh_transport.Transport` whose server has
accepted ``ssh-userauth``. Call one ``try_*`` action, feed the payloads of the transport's
``MessageReceived`` events to ``handle_message`` and read ``next_event``: a pause event
(:class:`SignatureRequested`, :class:`PasswordRequested`, :class:`KeyboardInteractivePrompt`,
:class:`PasswordChangeRequested`) waits for its answer; :class:`AttemptFailed` says which
methods can continue; :class:`AuthenticationSucceeded` ends it (messages 80 and up then go
to the connection layer).

Publickey tries query first (no signature) and sign only after PK_OK, so agents and
hardware keys are asked only for keys the server would take. The method is
publickey-hostbound-v00@openssh.com when the server announced it in EXT_INFO.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence

from ssh_keys import Signer, signer_algorithms
from ssh_transport import ConnectionTerminated, StackedCore, Transport
from ssh_transport import Event as TransportEvent
from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    LocalProtocolError,
    MessageTable,
    Struct,
    decode_message,
)

from . import messages as m
from .algorithms import choose_signature_algorithm, request_algorithm
from .events import (
    AttemptFailed,
    AuthenticationSucceeded,
    AuthEvent,
    BannerReceived,
    KeyboardInteractivePrompt,
    PasswordChangeRequested,
    PasswordRequested,
    SignatureRequested,
)

__all__ = ["AuthClient", "ClientState", "ALLOWED_MESSAGES"]

log = logging.getLogger("ssh_auth")

Event = AuthEvent | ConnectionTerminated


class ClientState(enum.Enum):
    """What the client expects next. ``NEED_*`` states wait for the application."""

    READY = "ready for the next attempt"
    WAITING_FOR_RESULT = "waiting for USERAUTH_SUCCESS or FAILURE"
    WAITING_FOR_PK_OK = "waiting for PK_OK (publickey query)"
    WAITING_FOR_PASSWORD_RESULT = "waiting for the password result (or PASSWD_CHANGEREQ)"  # noqa: S105
    WAITING_FOR_INFO_REQUEST = "waiting for a keyboard-interactive INFO_REQUEST"
    NEED_SIGNATURE = "waiting for the application's signature"
    NEED_PASSWORD = "waiting for the application's password"  # noqa: S105
    NEED_NEW_PASSWORD = "waiting for the application's new password"  # noqa: S105
    NEED_RESPONSES = "waiting for the application's keyboard-interactive answers"
    AUTHENTICATED = "authenticated"
    CLOSED = "closed"


#: The allowed-message table: anything else in a state is a protocol error.
ALLOWED_MESSAGES: dict[ClientState, MessageTable] = {
    ClientState.READY: m.CLIENT_IDLE,
    ClientState.WAITING_FOR_RESULT: m.CLIENT_RESULT,
    ClientState.WAITING_FOR_PK_OK: m.CLIENT_PK_OK,
    ClientState.WAITING_FOR_PASSWORD_RESULT: m.CLIENT_PASSWORD,
    ClientState.WAITING_FOR_INFO_REQUEST: m.CLIENT_KBDINT,
    ClientState.NEED_SIGNATURE: m.CLIENT_IDLE,
    ClientState.NEED_PASSWORD: m.CLIENT_IDLE,
    ClientState.NEED_NEW_PASSWORD: m.CLIENT_IDLE,
    ClientState.NEED_RESPONSES: m.CLIENT_IDLE,
    ClientState.AUTHENTICATED: MessageTable(),
    ClientState.CLOSED: MessageTable(),
}

_NEEDS = (
    ClientState.NEED_SIGNATURE,
    ClientState.NEED_PASSWORD,
    ClientState.NEED_NEW_PASSWORD,
    ClientState.NEED_RESPONSES,
)


class _PendingKey:
    """A publickey or hostbased attempt between query and signature."""

    __slots__ = ("algorithm", "client_host", "client_user", "method", "signature_algorithm",
                 "signer")  # fmt: skip

    def __init__(
        self,
        method: str,
        signer: Signer,
        algorithm: str,
        signature_algorithm: str,
        client_host: str = "",
        client_user: str = "",
    ) -> None:
        self.method = method
        self.signer = signer
        self.algorithm = algorithm
        self.signature_algorithm = signature_algorithm
        self.client_host = client_host
        self.client_user = client_user


class AuthClient(StackedCore):
    """Client-side user authentication, stacked on a client transport core.

    A byte-stream core itself: it takes messages 50-79 (and, before success, any higher
    number, which the server may not send yet) and passes everything else up.
    ``publickey_algorithms``, when given, limits the signature algorithms (and their
    certificate forms) the client will use, as ssh's PubkeyAcceptedAlgorithms does.
    """

    def __init__(
        self,
        transport: Transport,
        username: str,
        service: str = "ssh-connection",
        *,
        publickey_algorithms: Sequence[str] | None = None,
    ) -> None:
        super().__init__(transport)
        self._transport = transport
        self._accepted = None if publickey_algorithms is None else frozenset(publickey_algorithms)
        self._terminated = False
        self.username = username
        self.service = service
        self._state = ClientState.READY
        self._method = ""
        self._pending: _PendingKey | None = None
        self._prompts = 0
        self._succeeded: list[str] = []
        #: The last USERAUTH_FAILURE's list, None before the first one.
        self.methods: tuple[str, ...] | None = None
        self.partial_success = False
        self.error: DisconnectError | None = None

    # -- public API: state and output ---------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def authenticated(self) -> bool:
        return self._state is ClientState.AUTHENTICATED

    @property
    def ready(self) -> bool:
        """True when a ``try_*`` action may be called."""
        return self._state is ClientState.READY

    # -- stacking ------------------------------------------------------------------------

    def _owns(self, number: int) -> bool:
        return number < 80 or self._state is not ClientState.AUTHENTICATED

    def _handle_message(self, payload: bytes) -> None:
        self.handle_message(payload)

    def _on_lower_event(self, event: TransportEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            if self._terminated:
                return  # we reported this end already, with our reason
            self._terminated = True
            self._state = ClientState.CLOSED
        self._events.append(event)

    # -- public API: input ---------------------------------------------------------------

    def handle_message(self, payload: bytes) -> None:
        """A message 50-127 from the server (after success, pass only numbers below 80)."""
        state = self._state
        if state is ClientState.CLOSED:
            return
        number = payload[0] if payload else -1
        if state is ClientState.AUTHENTICATED and number >= 80:
            raise LocalProtocolError("messages 80 and up go to the connection layer")
        try:
            message = decode_message(payload, ALLOWED_MESSAGES[state])
        except DecodeError as exc:
            what = f"message {number}" if number >= 0 else "empty message"
            self._fail(f"{what} not allowed {state.value}: {exc}")
            return
        try:
            self._dispatch(message)
        except DecodeError as exc:
            self._fail(f"malformed message {number}: {exc}")

    def _dispatch(self, message: object) -> None:
        if isinstance(message, m.UserauthBanner):
            self._events.append(BannerReceived(message.message, message.language))
        elif isinstance(message, m.UserauthSuccess):
            self._on_success()
        elif isinstance(message, m.UserauthFailure):
            self._on_failure(message)
        elif isinstance(message, m.UserauthPkOk):
            self._on_pk_ok(message)
        elif isinstance(message, m.UserauthPasswdChangereq):
            self._state = ClientState.NEED_NEW_PASSWORD
            self._events.append(PasswordChangeRequested(message.prompt, message.language))
        else:
            assert isinstance(message, m.UserauthInfoRequest)
            info = m.info_request(message)
            self._prompts = len(info.prompts)
            self._state = ClientState.NEED_RESPONSES
            self._events.append(
                KeyboardInteractivePrompt(info.name, info.instruction, info.prompts)
            )

    def _on_success(self) -> None:
        if self._method:
            self._succeeded.append(self._method)
        self._state = ClientState.AUTHENTICATED
        self._pending = None
        self._events.append(AuthenticationSucceeded(tuple(self._succeeded)))

    def _on_failure(self, message: m.UserauthFailure) -> None:
        method = self._method
        if message.partial_success and method:
            self._succeeded.append(method)
        self.methods = message.methods
        self.partial_success = message.partial_success
        self._state = ClientState.READY
        self._pending = None
        self._method = ""
        self._events.append(AttemptFailed(method, message.methods, message.partial_success))

    def _on_pk_ok(self, message: m.UserauthPkOk) -> None:
        pending = self._pending
        assert pending is not None
        if message.algorithm != pending.algorithm or message.key != _blob(pending.signer):
            self._fail("PK_OK for a key we did not offer")
            return
        self._state = ClientState.NEED_SIGNATURE
        self._events.append(
            SignatureRequested(
                pending.signer, pending.signature_algorithm, self._signed_data(pending),
                pending.method,
            )
        )  # fmt: skip

    # -- public API: actions -------------------------------------------------------------

    def _start(self, method: str) -> None:
        if self._state is not ClientState.READY:
            raise LocalProtocolError(f"cannot start {method}: {self._state.value}")
        # Servers list (and count) publickey-hostbound as "publickey"; so do our events.
        self._method = m.PUBLICKEY if method == m.PUBLICKEY_HOSTBOUND else method

    def try_none(self) -> None:
        """The "none" method: learns which methods the server takes (or gets in)."""
        self._start(m.NONE)
        self._state = ClientState.WAITING_FOR_RESULT
        self._send(m.request(self.username, self.service, m.NONE))

    def try_password(self, password: str | None = None) -> None:
        """Send ``password``, or without one emit :class:`PasswordRequested` and wait for
        :meth:`provide_password`."""
        self._start(m.PASSWORD)
        if password is None:
            self._state = ClientState.NEED_PASSWORD
            self._events.append(PasswordRequested(self.username))
            return
        self._send_password(password)

    def provide_password(self, password: str) -> None:
        self._expect(ClientState.NEED_PASSWORD)
        self._send_password(password)

    def _send_password(self, password: str) -> None:
        tail = m.PasswordTail(False, password.encode("utf-8"))
        self._state = ClientState.WAITING_FOR_PASSWORD_RESULT
        self._send(m.request(self.username, self.service, m.PASSWORD, tail))

    def change_password(self, old_password: str, new_password: str) -> None:
        """Answer :class:`PasswordChangeRequested`."""
        self._expect(ClientState.NEED_NEW_PASSWORD)
        tail = m.PasswordChangeTail(True, old_password.encode("utf-8"),
                                    new_password.encode("utf-8"))  # fmt: skip
        self._state = ClientState.WAITING_FOR_PASSWORD_RESULT
        self._send(m.request(self.username, self.service, m.PASSWORD, tail))

    def publickey_method(self) -> str:
        """publickey-hostbound-v00@openssh.com if the server announced it, else publickey."""
        value = self._transport.peer_extensions.get(m.HOSTBOUND_EXTENSION)
        if value == b"0" and self._transport.host_key is not None:
            return m.PUBLICKEY_HOSTBOUND
        return m.PUBLICKEY

    def signature_algorithm(self, signer: Signer) -> str | None:
        """What ``signer`` would sign with for this server (None: nothing in common)."""
        sig_algs = self._transport.peer_extensions.get("server-sig-algs")
        listed = None
        if sig_algs is not None:
            listed = tuple(n for n in sig_algs.decode("ascii", "replace").split(",") if n)
        accepted = self._accepted
        if accepted is None:
            return choose_signature_algorithm(signer, listed)
        # Our own list narrows the server's (or stands for it when the server sent none).
        # SHA-1 names in it are the caller's opt-in (ssh's +ssh-rsa, +ssh-dss); for a
        # certificate the list names its certificate algorithm, e.g. ssh-rsa-cert-v01.
        listed = tuple(accepted) if listed is None else tuple(n for n in listed if n in accepted)
        legacy = [
            a
            for a in signer_algorithms(signer, legacy=True)
            if a in accepted or request_algorithm(signer.public_key, a) in accepted
        ]
        chosen = choose_signature_algorithm(signer, listed, legacy)
        if chosen is None:
            return None
        name = request_algorithm(signer.public_key, chosen)
        return chosen if chosen in accepted or name in accepted else None

    def try_publickey(
        self, signer: Signer, *, algorithm: str | None = None, query: bool = True
    ) -> None:
        """Offer ``signer``'s key (a certificate if its public key is one).

        With ``query`` (the default) the key is offered without a signature first and
        :class:`SignatureRequested` follows only if the server answers PK_OK; without it,
        the signature is requested at once. Raises LocalProtocolError when the key and the
        server have no signature algorithm in common (see :meth:`signature_algorithm`).
        """
        sig_alg = algorithm or self.signature_algorithm(signer)
        if sig_alg is None:
            raise LocalProtocolError(
                f"no signature algorithm for a {signer.public_key.algorithm} key that the "
                "server accepts"
            )
        method = self.publickey_method()
        self._start(method)
        pk_alg = request_algorithm(signer.public_key, sig_alg)
        self._pending = _PendingKey(method, signer, pk_alg, sig_alg)
        if not query:
            self._request_signature(self._pending)
            return
        blob = _blob(signer)
        tail: m.HostboundQueryTail | m.PublickeyQueryTail
        if method == m.PUBLICKEY_HOSTBOUND:
            tail = m.HostboundQueryTail(False, pk_alg, blob, self._host_key_blob())
        else:
            tail = m.PublickeyQueryTail(False, pk_alg, blob)
        self._state = ClientState.WAITING_FOR_PK_OK
        self._send(m.request(self.username, self.service, method, tail))

    def try_hostbased(self, signer: Signer, client_host: str, client_user: str) -> None:
        """Hostbased authentication with the client host's key (``client_host`` is its
        fully qualified name, with a trailing dot as OpenSSH sends it)."""
        sig_alg = self.signature_algorithm(signer)
        if sig_alg is None:
            raise LocalProtocolError("no signature algorithm the server accepts")
        self._start(m.HOSTBASED)
        pk_alg = request_algorithm(signer.public_key, sig_alg)
        self._pending = _PendingKey(m.HOSTBASED, signer, pk_alg, sig_alg, client_host,
                                    client_user)  # fmt: skip
        self._request_signature(self._pending)

    def _request_signature(self, pending: _PendingKey) -> None:
        self._state = ClientState.NEED_SIGNATURE
        self._events.append(
            SignatureRequested(
                pending.signer, pending.signature_algorithm, self._signed_data(pending),
                pending.method,
            )
        )  # fmt: skip

    def provide_signature(self, signature: bytes) -> None:
        """Answer :class:`SignatureRequested` with the signature blob."""
        self._expect(ClientState.NEED_SIGNATURE)
        pending = self._pending
        assert pending is not None
        blob = _blob(pending.signer)
        tail: Struct
        if pending.method == m.HOSTBASED:
            tail = m.HostbasedTail(
                pending.algorithm, blob, pending.client_host, pending.client_user, signature
            )
        elif pending.method == m.PUBLICKEY_HOSTBOUND:
            tail = m.HostboundSignedTail(
                True, pending.algorithm, blob, self._host_key_blob(), signature
            )
        else:
            tail = m.PublickeySignedTail(True, pending.algorithm, blob, signature)
        self._state = ClientState.WAITING_FOR_RESULT
        self._send(m.request(self.username, self.service, pending.method, tail))

    def try_keyboard_interactive(self, submethods: str = "") -> None:
        self._start(m.KEYBOARD_INTERACTIVE)
        self._state = ClientState.WAITING_FOR_INFO_REQUEST
        tail = m.KeyboardInteractiveTail("", submethods)
        self._send(m.request(self.username, self.service, m.KEYBOARD_INTERACTIVE, tail))

    def answer(self, responses: Sequence[str]) -> None:
        """Answer :class:`KeyboardInteractivePrompt`, one response per prompt."""
        self._expect(ClientState.NEED_RESPONSES)
        if len(responses) != self._prompts:
            raise LocalProtocolError(f"{self._prompts} prompts need as many responses")
        self._state = ClientState.WAITING_FOR_INFO_REQUEST
        self._send(m.encode_info_response(list(responses)))

    def cancel(self) -> None:
        """Give up the attempt waiting for the application (no signature, no password, no
        answers): the client is ready for another method. The server learns of it from the
        next request (RFC 4256 3.4 for keyboard-interactive)."""
        if self._state not in _NEEDS:
            raise LocalProtocolError(f"nothing to cancel: {self._state.value}")
        self._state = ClientState.READY
        self._pending = None
        self._method = ""

    # -- internals -----------------------------------------------------------------------

    def _expect(self, state: ClientState) -> None:
        if self._state is not state:
            raise LocalProtocolError(f"not {state.value}: {self._state.value}")

    def _host_key_blob(self) -> bytes:
        host_key = self._transport.host_key
        if host_key is None:
            raise LocalProtocolError("no host key: the key exchange has not finished")
        return host_key.blob

    def _signed_data(self, pending: _PendingKey) -> bytes:
        session_id = self._transport.session_id
        if session_id is None:
            raise LocalProtocolError("no session id: the key exchange has not finished")
        blob = _blob(pending.signer)
        if pending.method == m.HOSTBASED:
            return m.hostbased_signed_data(
                session_id, self.username, self.service, pending.algorithm, blob,
                pending.client_host, pending.client_user,
            )  # fmt: skip
        host_key = self._host_key_blob() if pending.method == m.PUBLICKEY_HOSTBOUND else None
        return m.publickey_signed_data(
            session_id, self.username, self.service, pending.method, pending.algorithm, blob,
            host_key,
        )  # fmt: skip

    def _send(self, payload: bytes) -> None:
        if self._transport.closed:
            self._state = ClientState.CLOSED
            raise LocalProtocolError("the connection is closed")
        self._transport.send_message(payload)

    def _fail(self, description: str) -> None:
        if self._state is ClientState.CLOSED:
            return
        log.debug("disconnecting: %s", description)
        self._state = ClientState.CLOSED
        self._pending = None
        error = DisconnectError(DisconnectReason.PROTOCOL_ERROR, description, local=True)
        self.error = error
        self._terminated = True
        self._events.append(ConnectionTerminated(error))
        self._transport.close(DisconnectReason.PROTOCOL_ERROR, description)


def _blob(signer: Signer) -> bytes:
    return signer.public_key.blob
