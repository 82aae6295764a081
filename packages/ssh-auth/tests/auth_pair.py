"""A client and a server Transport wired back to back in memory, with AuthClient and
AuthServer stacked on them; cached test keys."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ssh_auth import (
    AuthClient,
    AuthServer,
    KeyboardInteractivePrompt,
    PasswordRequested,
    SignatureRequested,
)
from ssh_auth.policy import AuthPolicy
from ssh_keys import PrivateKey, generate_private_key
from ssh_transport import (
    ConnectionTerminated,
    HostKey,
    HostKeyReceived,
    MessageReceived,
    Role,
    Transport,
    TransportConfig,
)

E = TypeVar("E")

KEY_KINDS = {
    "ed25519": ("ed25519", None),
    "ecdsa256": ("ecdsa", 256),
    "ecdsa384": ("ecdsa", 384),
    "ecdsa521": ("ecdsa", 521),
    "rsa": ("rsa", 2048),
}


@functools.cache
def key(kind: str = "ed25519", n: int = 0) -> PrivateKey:
    """Keys by kind and index, made once per run (RSA generation is slow)."""
    name, bits = KEY_KINDS[kind]
    return generate_private_key(name, bits)


@functools.cache
def host_key() -> HostKey:
    return HostKey(generate_private_key("ed25519"))


class AuthPair:
    """Transports handshaken and ``ssh-userauth`` accepted; auth cores stacked on top.

    ``pump()`` moves bytes until both sides are quiet, routing upper-layer messages to the
    auth cores (and, after success, numbers 80+ to ``after_auth``). Auth events are kept
    in ``client_events`` / ``server_events``; ``auto`` answers pauses from ``signers``
    (SignatureRequested), ``password`` and ``responses``.
    """

    def __init__(
        self,
        policy: AuthPolicy,
        username: str = "alice",
        *,
        server_config: TransportConfig | None = None,
        client_config: TransportConfig | None = None,
        service_request: bool = True,
        **server_kw: Any,
    ) -> None:
        cfg = server_config or TransportConfig(host_keys=(host_key(),))
        self.client_t = Transport(Role.CLIENT, client_config or TransportConfig())
        self.server_t = Transport(Role.SERVER, cfg)
        self.client_events: list[object] = []
        self.server_events: list[object] = []
        self.transport_events: dict[str, list[object]] = {"client": [], "server": []}
        self.after_auth: list[bytes] = []
        self.replies: list[bytes] = []  # server messages once the client core is detached
        self.auto = True
        self.password: str | None = None
        self.responses: Callable[[KeyboardInteractivePrompt], Sequence[str]] | None = None
        self.client: AuthClient | None = None
        self.server: AuthServer | None = None
        self._pump_transports()
        assert self.client_t.is_established and self.server_t.is_established
        if service_request:
            self.client_t.request_service("ssh-userauth")
            self._pump_transports()
            self.server = AuthServer(self.server_t, policy, **server_kw)
            self.client = AuthClient(self.client_t, username)

    @property
    def c(self) -> AuthClient:
        assert self.client is not None
        return self.client

    @property
    def s(self) -> AuthServer:
        assert self.server is not None
        return self.server

    def _route(self, side: str, transport: Transport) -> None:
        while (event := transport.next_event()) is not None:
            if isinstance(event, HostKeyReceived):
                transport.accept_host_key()
            elif isinstance(event, MessageReceived):
                core = self.client if side == "client" else self.server
                if core is None and side == "client":
                    self.replies.append(event.payload)
                elif core is None or (core.authenticated and event.payload[0] >= 80):
                    self.after_auth.append(event.payload)
                else:
                    core.handle_message(event.payload)
            else:
                self.transport_events[side].append(event)

    def _collect(self) -> None:
        if self.client is not None:
            while (event := self.client.next_event()) is not None:
                self.client_events.append(event)
                if self.auto:
                    self._answer(event)
        if self.server is not None:
            while (event := self.server.next_event()) is not None:
                self.server_events.append(event)

    def _answer(self, event: object) -> None:
        client = self.c
        if isinstance(event, SignatureRequested):
            client.provide_signature(event.signer.sign(event.data, event.algorithm))
        elif isinstance(event, PasswordRequested) and self.password is not None:
            client.provide_password(self.password)
        elif isinstance(event, KeyboardInteractivePrompt) and self.responses is not None:
            client.answer(list(self.responses(event)))

    def _pump_transports(self) -> None:
        for _ in range(10_000):
            self._route("client", self.client_t)
            self._route("server", self.server_t)
            self._collect()
            moved = False
            for src, dst in ((self.client_t, self.server_t), (self.server_t, self.client_t)):
                data = src.data_to_send()
                if data:
                    moved = True
                    dst.receive_data(data)
            self._route("client", self.client_t)
            self._route("server", self.server_t)
            self._collect()
            if not moved:
                return
        raise AssertionError("pump did not settle")

    def pump(self) -> AuthPair:
        self._pump_transports()
        return self

    def inject(self, payload: bytes) -> AuthPair:
        """Send a raw upper-layer message from the client transport to the server. The
        client core is detached first (it would rightly object to unsolicited replies):
        the server's answers land in ``replies``."""
        if self.client is not None and not self.client.authenticated:
            self.client = None
        self.client_t.send_message(payload)
        return self.pump()

    def of(self, events: list[object], cls: type[E]) -> list[E]:
        return [e for e in events if isinstance(e, cls)]

    @property
    def server_terminated(self) -> bool:
        return self.server_t.closed

    def server_error(self) -> ConnectionTerminated:
        found = self.of(self.server_events, ConnectionTerminated)
        assert found, self.server_events
        return found[-1]
