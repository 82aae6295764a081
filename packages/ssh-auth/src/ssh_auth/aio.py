"""asyncio drivers: the twins of :mod:`ssh_auth.sync` over an
:class:`~ssh_transport.aio.AsyncTransport`. Signers may be async (agents), callbacks may be
coroutine functions."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence

from ssh_keys import AsyncSigner, Signer
from ssh_transport.aio import AsyncTransport
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

__all__ = ["authenticate", "serve"]

PasswordSource = str | Callable[[], "str | Awaitable[str | None] | None"] | None
KeyboardInteractiveHandler = Callable[
    [KeyboardInteractivePrompt], "Sequence[str] | Awaitable[Sequence[str] | None] | None"
]
PasswordChangeHandler = Callable[
    [PasswordChangeRequested], "tuple[str, str] | Awaitable[tuple[str, str] | None] | None"
]


async def _resolve(value: object) -> object:
    return await value if inspect.isawaitable(value) else value


async def authenticate(
    transport: AsyncTransport,
    username: str,
    *,
    signers: Sequence[Signer | AsyncSigner] = (),
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
    """The asyncio twin of :func:`ssh_auth.sync.authenticate`."""
    if request_service:
        await transport.request_service("ssh-userauth", timeout)
    client = AuthClient(transport.core, username, service)
    runner, kbd = runner_for(
        client,
        password=password,
        keyboard_interactive=keyboard_interactive,
        methods=methods,
        signers=signers,  # type: ignore[arg-type]  # AsyncSigner differs only in sign()
        password_tries=password_tries,
        hostbased=hostbased,
        on_banner=on_banner,
    )
    runner.start()
    await transport.flush()
    while True:
        while (event := client.next_event()) is not None:
            try:
                outcome = runner.step(event)
            finally:
                await transport.flush()
            if isinstance(outcome, AuthenticationSucceeded):
                return outcome
            if outcome is not None:
                answer = await _answer(outcome, password, kbd, change_password)
                runner.resume(outcome, answer)
                await transport.flush()
        client.handle_message(await transport.receive_message(timeout))


async def _answer(
    pause: object,
    password: PasswordSource,
    kbd: KeyboardInteractiveHandler | None,
    change: PasswordChangeHandler | None,
) -> object:
    if isinstance(pause, SignatureRequested):
        return await _resolve(pause.signer.sign(pause.data, pause.algorithm))
    if isinstance(pause, PasswordRequested):
        if isinstance(password, str) or password is None:
            return password
        return await _resolve(password())
    if isinstance(pause, KeyboardInteractivePrompt):
        answers = await _resolve(kbd(pause)) if kbd is not None else None
        return None if answers is None else list(answers)  # type: ignore[call-overload]
    if isinstance(pause, PasswordChangeRequested):
        return await _resolve(change(pause)) if change is not None else None
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
    """The asyncio twin of :func:`ssh_auth.sync.serve`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    if wait_for_service:
        await transport.wait_for_service(login_grace_time)
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
            await transport.flush()
        if outcome is not None:
            return outcome
        deadline = server.get_timer()
        wait = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            payload = await transport.receive_message(wait)
        except asyncio.TimeoutError:
            server.handle_timer(loop.time())
            continue
        server.handle_message(payload)
