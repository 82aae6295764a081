"""Blocking drivers: authenticate a :class:`~ssh_transport.sync.SyncTransport` as a client,
or run the server side on one. They own the read loop and the pauses (signing, prompts);
every protocol decision stays in :class:`AuthClient` / :class:`AuthServer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ssh_keys import Signer
from ssh_transport.sync import SyncTransport, TransportTimeout
from ssh_wire import LocalProtocolError

from .client import AuthClient
from .events import (
    AuthenticationSucceeded,
    KeyboardInteractivePrompt,
    PasswordChangeRequested,
    PasswordRequested,
    SignatureRequested,
    UserAuthenticated,
)
from .policy import AuthPolicy
from .runner import DEFAULT_METHODS, HostbasedCredentials, runner_for, server_outcome
from .server import DEFAULT_LOGIN_GRACE_TIME, DEFAULT_MAX_AUTH_TRIES, AuthServer

__all__ = ["authenticate", "serve", "PasswordSource", "KeyboardInteractiveHandler"]

#: A password, or a callable asked each time one is needed (None gives up the method).
PasswordSource = str | Callable[[], "str | None"] | None
KeyboardInteractiveHandler = Callable[[KeyboardInteractivePrompt], "Sequence[str] | None"]
PasswordChangeHandler = Callable[[PasswordChangeRequested], "tuple[str, str] | None"]


def authenticate(
    transport: SyncTransport,
    username: str,
    *,
    signers: Sequence[Signer] = (),
    password: PasswordSource = None,
    keyboard_interactive: KeyboardInteractiveHandler | None = None,
    change_password: PasswordChangeHandler | None = None,
    hostbased: HostbasedCredentials | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    service: str = "ssh-connection",
    password_tries: int = 3,
    on_banner: Callable[[str], None] | None = None,
    request_service: bool = True,
    timeout: float | None = 30.0,
) -> AuthenticationSucceeded:
    """Log in as ``username``, trying ``methods`` in order with what is given.

    ``signers`` are tried in order for publickey (local keys, agent keys, certificates via
    :func:`~ssh_auth.runner.key_candidates`). A ``password`` string is tried once, a
    callable up to ``password_tries`` times; keyboard-interactive uses
    ``keyboard_interactive`` or, failing that, answers a lone hidden prompt with the
    password string. Raises :class:`~ssh_auth.AuthenticationFailed` listing what the server
    would accept, or the transport's DisconnectError.
    """
    if request_service:
        transport.request_service("ssh-userauth", timeout)
    client = AuthClient(transport.core, username, service)
    runner, kbd = runner_for(
        client,
        password=password,
        keyboard_interactive=keyboard_interactive,
        methods=methods,
        signers=signers,
        password_tries=password_tries,
        hostbased=hostbased,
        on_banner=on_banner,
    )
    runner.start()
    transport.flush()
    while True:
        while (event := client.next_event()) is not None:
            try:
                outcome = runner.step(event)
            finally:
                transport.flush()
            if isinstance(outcome, AuthenticationSucceeded):
                return outcome
            if outcome is not None:
                runner.resume(outcome, _answer(outcome, password, kbd, change_password))
                transport.flush()
        client.handle_message(transport.receive_message(timeout))


def _answer(
    pause: object,
    password: PasswordSource,
    kbd: KeyboardInteractiveHandler | None,
    change: PasswordChangeHandler | None,
) -> object:
    if isinstance(pause, SignatureRequested):
        return pause.signer.sign(pause.data, pause.algorithm)
    if isinstance(pause, PasswordRequested):
        return password if isinstance(password, str) or password is None else password()
    if isinstance(pause, KeyboardInteractivePrompt):
        answers = kbd(pause) if kbd is not None else None
        return None if answers is None else list(answers)
    if isinstance(pause, PasswordChangeRequested):
        return change(pause) if change is not None else None
    raise LocalProtocolError(f"unexpected pause {pause!r}")


def serve(
    transport: SyncTransport,
    policy: AuthPolicy,
    *,
    client_address: str | None = None,
    services: Sequence[str] = ("ssh-connection",),
    max_auth_tries: int = DEFAULT_MAX_AUTH_TRIES,
    login_grace_time: float | None = DEFAULT_LOGIN_GRACE_TIME,
    wait_for_service: bool = True,
) -> UserAuthenticated:
    """Run server-side authentication until a user is in; raise the DisconnectError that
    ended it otherwise (too many failures, grace time, protocol error, peer gone)."""
    start = time.monotonic()
    if wait_for_service:
        transport.wait_for_service(login_grace_time)
    server = AuthServer(
        transport.core,
        policy,
        services=services,
        client_address=client_address,
        max_auth_tries=max_auth_tries,
        login_grace_time=login_grace_time,
        now=start,
    )
    while True:
        try:
            outcome = server_outcome(server)
        finally:
            transport.flush()
        if outcome is not None:
            return outcome
        deadline = server.get_timer()
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            payload = transport.receive_message(wait)
        except TransportTimeout:
            server.handle_timer(time.monotonic())
            continue
        server.handle_message(payload)
