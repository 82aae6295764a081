"""asyncio front end: authenticate as a client, or run the server side, on an
:class:`~ssh_transport.aio.AsyncTransport`.

This file is the source of both front ends: ``tools/unasync.py`` generates
:mod:`ssh_auth.sync` from it. Each function stacks its core on the transport's pump
(:meth:`~ssh_transport.aio.AsyncTransport.stack`) and only answers pauses: signing,
prompts, and on the server the policy's checks, which run in a worker thread under
asyncio so scrypt and file reads never block the event loop. Signers may be async
(agents), callbacks may be coroutine functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ssh_transport.aio_backend as backend
from ssh_keys import AsyncSigner, Signer
from ssh_transport import StreamCore, Transport
from ssh_transport.aio import AsyncTransport
from ssh_wire import LocalProtocolError

from .client import AuthClient
from .events import (
    AttemptFailed,
    AuthCheck,
    AuthenticationSucceeded,
    BannerReceived,
    KeyboardInteractivePrompt,
    PasswordChangeRequested,
    PasswordRequested,
    SignatureRequested,
    UserAuthenticated,
)
from .policy import AuthPolicy, PolicyAnswers
from .runner import (
    DEFAULT_METHODS,
    HostbasedCredentials,
    MethodRunner,
    Pause,
    password_responses,
    runner_for,
)
from .server import DEFAULT_LOGIN_GRACE_TIME, DEFAULT_MAX_AUTH_TRIES, AuthServer

# unasync: async-only
#: A password, or a callable (maybe a coroutine function) asked each time one is needed;
#: None from it gives up the method.
PasswordSource = str | Callable[[], "str | Awaitable[str | None] | None"] | None
KeyboardInteractiveHandler = Callable[
    [KeyboardInteractivePrompt], "Sequence[str] | Awaitable[Sequence[str] | None] | None"
]
PasswordChangeHandler = Callable[
    [PasswordChangeRequested], "tuple[str, str] | Awaitable[tuple[str, str] | None] | None"
]
AnySigner = Signer | AsyncSigner
# unasync: end
# unasync: sync-only
# #: A password, or a callable asked each time one is needed (None gives up the method).
# PasswordSource = str | Callable[[], "str | None"] | None
# KeyboardInteractiveHandler = Callable[[KeyboardInteractivePrompt], "Sequence[str] | None"]
# PasswordChangeHandler = Callable[[PasswordChangeRequested], "tuple[str, str] | None"]
# AnySigner = Signer
# unasync: end

__all__ = [
    "authenticate",
    "serve",
    "PasswordSource",
    "KeyboardInteractiveHandler",
    "PasswordChangeHandler",
    "AnySigner",
]

#: What the client front end waits for from its core.
_CLIENT_EVENTS = (
    AuthenticationSucceeded,
    AttemptFailed,
    BannerReceived,
    SignatureRequested,
    PasswordRequested,
    KeyboardInteractivePrompt,
    PasswordChangeRequested,
)


def _bottom(lower: StreamCore) -> Transport:
    """The transport an auth core stacks on. An earlier attempt that did not get in is
    replaced: a client may try again on the same connection."""
    if isinstance(lower, (AuthClient, AuthServer)):
        if lower.authenticated:
            raise LocalProtocolError("this connection is authenticated already")
        lower = lower.lower
    if not isinstance(lower, Transport):
        raise LocalProtocolError("authentication stacks directly on the transport")
    return lower


async def authenticate(
    transport: AsyncTransport,
    username: str,
    *,
    signers: Sequence[AnySigner] = (),
    password: PasswordSource = None,
    keyboard_interactive: KeyboardInteractiveHandler | None = None,
    change_password: PasswordChangeHandler | None = None,
    hostbased: HostbasedCredentials | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    service: str = "ssh-connection",
    password_tries: int = 3,
    publickey_algorithms: Sequence[str] | None = None,
    on_banner: Callable[[str], None] | None = None,
    request_service: bool = True,
    timeout: float | None = 30.0,
) -> AuthenticationSucceeded:
    """Log in as ``username``, trying ``methods`` in order with what is given.

    ``signers`` are tried in order for publickey (local keys, agent keys, certificates via
    :func:`~ssh_auth.runner.key_candidates`), limited to ``publickey_algorithms`` when
    given (ssh's PubkeyAcceptedAlgorithms). A ``password`` string is tried once, a
    callable up to ``password_tries`` times, for password and for keyboard-interactive's
    usual lone hidden prompt; ``keyboard_interactive`` answers any other prompts. Raises
    :class:`~ssh_auth.AuthenticationFailed` listing what the server would accept, the
    transport's DisconnectError, or TransportTimeout when the server stops answering.
    """
    if request_service:
        await transport.request_service("ssh-userauth", timeout)

    def make(lower: StreamCore) -> AuthClient:
        return AuthClient(
            _bottom(lower), username, service, publickey_algorithms=publickey_algorithms
        )

    client = await transport.stack(make)
    runner, kbd = runner_for(
        client,
        password=password,
        keyboard_interactive=keyboard_interactive,
        methods=methods,
        # An AsyncSigner differs only in sign(), which the front end calls.
        signers=signers,  # type: ignore[arg-type, unused-ignore]
        password_tries=password_tries,
        hostbased=hostbased,
        on_banner=on_banner,
    )
    await transport.call(runner.start)
    while True:
        event = await transport.wait_for(_CLIENT_EVENTS, timeout)
        outcome = await transport.call(_stepper(runner, event))
        if isinstance(outcome, AuthenticationSucceeded):
            return outcome
        if outcome is not None:
            answer = await _answer(outcome, password, kbd, change_password)
            await transport.call(_resumer(runner, outcome, answer))


def _stepper(
    runner: MethodRunner, event: object
) -> Callable[[], Pause | AuthenticationSucceeded | None]:
    return lambda: runner.step(event)


def _resumer(runner: MethodRunner, pause: Pause, answer: object) -> Callable[[], None]:
    return lambda: runner.resume(pause, answer)


async def _answer(
    pause: object,
    password: PasswordSource,
    kbd: Callable[[KeyboardInteractivePrompt], Any] | None,
    change: PasswordChangeHandler | None,
) -> object:
    if isinstance(pause, SignatureRequested):
        return await backend.resolve(pause.signer.sign(pause.data, pause.algorithm))
    if isinstance(pause, PasswordRequested):
        if isinstance(password, str) or password is None:
            return password
        return await backend.resolve(password())
    if isinstance(pause, KeyboardInteractivePrompt):
        if kbd is not None:
            answers = await backend.resolve(kbd(pause))
            return None if answers is None else list(answers)
        if callable(password):
            # A PAM server's password prompt: ask the callable, as for password auth.
            if not pause.prompts:
                return []
            if password_responses("", pause) is None:
                return None  # not a lone hidden prompt: nothing we can answer
            value = await backend.resolve(password())
            return None if value is None else [value]
        return None
    if isinstance(pause, PasswordChangeRequested):
        return await backend.resolve(change(pause)) if change is not None else None
    raise LocalProtocolError(f"unexpected pause {pause!r}")


async def serve(
    transport: AsyncTransport,
    policy: AuthPolicy,
    *,
    client_address: str | None = None,
    services: Sequence[str] = ("ssh-connection",),
    max_auth_tries: int = DEFAULT_MAX_AUTH_TRIES,
    login_grace_time: float | None = DEFAULT_LOGIN_GRACE_TIME,
    wait_for_service: bool = True,
) -> UserAuthenticated:
    """Run server-side authentication until a user is in; raise the DisconnectError that
    ended it otherwise (too many failures, grace time, protocol error, peer gone).

    The policy's checks are pause events answered in a worker thread (asyncio) or the
    pump's handler thread (blocking): the event loop never runs them."""
    start = backend.monotonic()
    if wait_for_service:
        await transport.wait_for_service(login_grace_time)
    transport.on(AuthCheck, PolicyAnswers(policy), blocking=True)

    def make(lower: StreamCore) -> AuthServer:
        return AuthServer(
            _bottom(lower),
            policy,
            services=services,
            client_address=client_address,
            max_auth_tries=max_auth_tries,
            login_grace_time=login_grace_time,
            now=start,
            pause=True,
        )

    await transport.stack(make)
    # The core's login grace timer ends the wait if the client never gets in.
    return await transport.wait_for(UserAuthenticated, None)
