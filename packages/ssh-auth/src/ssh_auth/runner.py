"""Trying methods in order, like ssh's PreferredAuthentications: sans-I/O, shared by the
blocking and asyncio drivers.

:class:`MethodRunner` decides the next attempt after each USERAUTH_FAILURE (only methods
the server says can continue, each key once, each password source a bounded number of
times) and turns the client core's events into the few things a driver must do itself:
sign, ask for a password, answer prompts. When nothing is left it raises
:class:`~ssh_auth.errors.AuthenticationFailed` with what the server would accept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ssh_keys import Certificate, PublicKey, Signer, as_certificate
from ssh_transport import ConnectionTerminated
from ssh_wire import LocalProtocolError

from . import messages as m
from .client import AuthClient
from .errors import AuthenticationFailed
from .events import (
    AttemptFailed,
    AuthenticationSucceeded,
    BannerReceived,
    KeyboardInteractivePrompt,
    PasswordChangeRequested,
    PasswordRequested,
    SignatureRequested,
    UserAuthenticated,
)

if TYPE_CHECKING:
    from .server import AuthServer

__all__ = [
    "DEFAULT_METHODS",
    "MAX_BANNER_TEXT",
    "CertifiedSigner",
    "HostbasedCredentials",
    "MethodRunner",
    "Pause",
    "key_candidates",
    "password_responses",
    "runner_for",
    "server_outcome",
]

#: OpenSSH's default PreferredAuthentications, less GSSAPI.
DEFAULT_METHODS = (m.HOSTBASED, m.PUBLICKEY, m.KEYBOARD_INTERACTIVE, m.PASSWORD)
#: Banner text kept in ``MethodRunner.banners``: a server may send banners without end.
MAX_BANNER_TEXT = 64 * 1024

Pause = SignatureRequested | PasswordRequested | KeyboardInteractivePrompt | PasswordChangeRequested


class CertifiedSigner:
    """A :class:`~ssh_keys.Signer` that presents a certificate for its key (``id_x`` with
    ``id_x-cert.pub``): the server sees the certificate, the key signs."""

    def __init__(self, signer: Signer, certificate: Certificate) -> None:
        certificate = as_certificate(certificate, "CertifiedSigner's certificate")
        if certificate.key != signer.public_key:
            raise ValueError("the certificate is not for this key")
        self.signer = signer
        self.certificate = certificate

    @property
    def public_key(self) -> PublicKey:
        return self.certificate

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.signer.algorithms

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return self.signer.sign(data, algorithm)

    def __repr__(self) -> str:
        return f"<CertifiedSigner {self.certificate!r}>"


def key_candidates(signer: Signer, certificate: Certificate | None = None) -> list[Signer]:
    """What ssh offers for one identity: the certificate first (if any), then the plain key."""
    if certificate is None:
        return [signer]
    return [CertifiedSigner(signer, certificate), signer]


@dataclass(frozen=True)
class HostbasedCredentials:
    signer: Signer
    client_host: str
    client_user: str


def password_responses(password: str, prompt: KeyboardInteractivePrompt) -> list[str] | None:
    """Answer the usual keyboard-interactive round with a password: one hidden prompt gets
    the password, no prompts get no answers; anything else cannot be answered."""
    if not prompt.prompts:
        return []
    if len(prompt.prompts) == 1 and not prompt.prompts[0][1]:
        return [password]
    return None


class MethodRunner:
    """Chooses attempts for an :class:`AuthClient` in preference order."""

    def __init__(
        self,
        client: AuthClient,
        *,
        methods: Sequence[str] = DEFAULT_METHODS,
        signers: Sequence[Signer] = (),
        password_tries: int = 0,
        kbdint_tries: int = 0,
        hostbased: HostbasedCredentials | None = None,
        on_banner: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self._on_banner = on_banner
        self.methods = tuple(methods)
        self._keys = list(signers)
        self._offered: set[bytes] = set()
        self._password_tries = password_tries
        self._kbdint_tries = kbdint_tries
        self._hostbased = hostbased
        self.banners: list[str] = []
        self._banner_text = 0
        self.last_failure: AttemptFailed | None = None

    def start(self) -> None:
        """Send "none" first: it asks the server which methods it takes."""
        self.client.try_none()

    def step(self, event: object) -> Pause | AuthenticationSucceeded | None:
        """Digest one client event. Returns a pause the driver must answer with
        :meth:`resume`, the success event, or None. Raises AuthenticationFailed when no
        method is left, the DisconnectError when the connection ended."""
        if isinstance(event, AuthenticationSucceeded):
            return event
        if isinstance(event, BannerReceived):
            self._banner_text += len(event.message)
            if self._banner_text <= MAX_BANNER_TEXT:
                self.banners.append(event.message)
            if self._on_banner is not None:
                self._on_banner(event.message)
            return None
        if isinstance(event, AttemptFailed):
            self.last_failure = event
            self._advance()
            return None
        if isinstance(event, ConnectionTerminated):
            raise event.error or LocalProtocolError("the connection is closed")
        if isinstance(
            event,
            (SignatureRequested, PasswordRequested, KeyboardInteractivePrompt,
             PasswordChangeRequested),
        ):  # fmt: skip
            return event
        return None

    def resume(self, pause: Pause, answer: object) -> None:
        """The driver's answer to a pause; None declines it (the next method is tried)."""
        client = self.client
        if answer is None:
            client.cancel()
            self._advance()
        elif isinstance(pause, SignatureRequested):
            assert isinstance(answer, bytes)
            client.provide_signature(answer)
        elif isinstance(pause, PasswordRequested):
            assert isinstance(answer, str)
            client.provide_password(answer)
        elif isinstance(pause, KeyboardInteractivePrompt):
            assert isinstance(answer, (list, tuple))
            client.answer(list(answer))
        else:
            assert isinstance(answer, tuple)
            old, new = answer
            client.change_password(old, new)

    def _advance(self) -> None:
        if not self._try_next():
            failure = self.last_failure
            raise AuthenticationFailed(
                failure.methods if failure else (),
                failure.partial_success if failure else False,
                "no more authentication methods to try",
            )

    def _try_next(self) -> bool:
        client = self.client
        allowed = client.methods or ()
        for name in self.methods:
            if name not in allowed:
                continue
            if name == m.PUBLICKEY and self._next_key():
                return True
            if name == m.PASSWORD and self._password_tries > 0:
                self._password_tries -= 1
                client.try_password()
                return True
            if name == m.KEYBOARD_INTERACTIVE and self._kbdint_tries > 0:
                self._kbdint_tries -= 1
                client.try_keyboard_interactive()
                return True
            if name == m.HOSTBASED and self._hostbased is not None:
                creds, self._hostbased = self._hostbased, None
                if client.signature_algorithm(creds.signer) is not None:
                    client.try_hostbased(creds.signer, creds.client_host, creds.client_user)
                    return True
        return False

    def _next_key(self) -> bool:
        while self._keys:
            signer = self._keys.pop(0)
            blob = signer.public_key.blob
            if blob in self._offered or self.client.signature_algorithm(signer) is None:
                continue  # offered already, or no signature algorithm in common
            self._offered.add(blob)
            self.client.try_publickey(signer)
            return True
        return False


_Handler = TypeVar("_Handler", bound=Callable[..., object])
_FixedAnswers = Callable[[KeyboardInteractivePrompt], "Sequence[str] | None"]


def runner_for(
    client: AuthClient,
    *,
    password: object,
    keyboard_interactive: _Handler | None,
    methods: Sequence[str],
    signers: Sequence[Signer],
    password_tries: int,
    hostbased: HostbasedCredentials | None,
    on_banner: Callable[[str], None] | None,
) -> tuple[MethodRunner, _Handler | _FixedAnswers | None]:
    """The runner both drivers' ``authenticate`` use, and the keyboard-interactive handler.

    A password string is tried once, a password callable ``password_tries`` times; without
    a handler of its own, keyboard-interactive answers a lone hidden prompt with the
    password string, or (a callable) as many times as password would be tried; the
    front ends ask the callable then.
    """
    kbd: _Handler | _FixedAnswers | None = keyboard_interactive
    if kbd is None and isinstance(password, str):
        fixed = password

        def answer_with_password(prompt: KeyboardInteractivePrompt) -> Sequence[str] | None:
            return password_responses(fixed, prompt)

        kbd = answer_with_password

    tries = 0 if password is None else 1 if isinstance(password, str) else password_tries
    runner = MethodRunner(
        client,
        methods=methods,
        signers=signers,
        password_tries=tries,
        # A password callable answers a PAM server's password prompt as often as password.
        kbdint_tries=1 if kbd is not None else password_tries if callable(password) else 0,
        hostbased=hostbased,
        on_banner=on_banner,
    )
    return runner, kbd


def server_outcome(server: AuthServer) -> UserAuthenticated | None:
    """Drain an AuthServer's events: the user once authenticated, None to keep reading;
    raises the error that ended the connection."""
    while (event := server.next_event()) is not None:
        if isinstance(event, UserAuthenticated):
            return event
        if isinstance(event, ConnectionTerminated):
            raise event.error or LocalProtocolError("the connection is closed")
    return None
