"""Events the authentication cores report: small immutable records.

Client events that pause the core (the driver must answer before it goes on):
:class:`PasswordRequested`, :class:`PasswordChangeRequested`,
:class:`KeyboardInteractivePrompt` and :class:`SignatureRequested`. A protocol
error ends in ``ssh_transport.ConnectionTerminated`` (re-exported here), after
the core has sent DISCONNECT through the transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssh_keys import PublicKey, Signer
from ssh_transport import ConnectionTerminated, Event, Pause

from .decisions import AuthContext, Challenge, Decision

__all__ = [
    "AuthEvent",
    # client
    "BannerReceived",
    "PasswordRequested",
    "PasswordChangeRequested",
    "KeyboardInteractivePrompt",
    "SignatureRequested",
    "AttemptFailed",
    "AuthenticationSucceeded",
    # server
    "AttemptRejected",
    "UserAuthenticated",
    "AuthCheck",
    "PasswordCheck",
    "PasswordChangeCheck",
    "PublicKeyCheck",
    "HostbasedCheck",
    "KeyboardInteractiveStart",
    "KeyboardInteractiveReply",
    # both
    "ConnectionTerminated",
]


class AuthEvent(Event):
    """Base of every ssh-auth event (an ``ssh_transport.Event``: it travels up the stack)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class BannerReceived(AuthEvent):
    """The server's pre-login banner. Untrusted text: strip control characters before
    showing it on a terminal."""

    message: str
    language: str


@dataclass(frozen=True, slots=True)
class PasswordRequested(AuthEvent):
    """Pause: answer with ``provide_password(pw)`` or ``cancel()``."""

    username: str


@dataclass(frozen=True, slots=True)
class PasswordChangeRequested(AuthEvent):
    """Pause: the server wants a new password. Answer ``change_password(old, new)`` or
    ``cancel()``."""

    prompt: str
    language: str


@dataclass(frozen=True, slots=True)
class KeyboardInteractivePrompt(AuthEvent):
    """Pause: answer with ``answer(responses)`` (one per prompt) or ``cancel()``.
    ``prompts`` are (text, echo) pairs; zero prompts still needs an (empty) answer."""

    name: str
    instruction: str
    prompts: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class SignatureRequested(AuthEvent):
    """Pause: sign ``data`` with ``signer`` using ``algorithm`` and hand the signature blob
    to ``provide_signature``, or ``cancel()``. Agents and hardware keys may take their time:
    the core waits."""

    signer: Signer
    algorithm: str
    data: bytes
    method: str


@dataclass(frozen=True, slots=True)
class AttemptFailed(AuthEvent):
    """The server refused one attempt (USERAUTH_FAILURE). ``methods`` can continue."""

    method: str
    methods: tuple[str, ...]
    partial_success: bool


@dataclass(frozen=True, slots=True)
class AuthenticationSucceeded(AuthEvent):
    """Client: the server said USERAUTH_SUCCESS. ``methods``: those that succeeded, in order
    (several in a multi-step login)."""

    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttemptRejected(AuthEvent):
    """Server: one attempt failed (for logs and fail2ban-style accounting)."""

    username: str
    method: str
    reason: str


@dataclass(frozen=True, slots=True)
class UserAuthenticated(AuthEvent):
    """Server: every step of a required method list succeeded with a verified credential.

    ``decisions`` are the accepted decisions, one per step: their options and certificates
    carry the restrictions (``restrict``, ``no-pty``, ``command=``, certificate
    ``force-command`` and ``permit-*``) the connection layer must enforce.
    """

    username: str
    service: str
    methods: tuple[str, ...]
    decisions: tuple[Decision, ...]


# -- server decisions: pause events ---------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class AuthCheck(Pause[Any], AuthEvent):
    """Server: a credential check the core waits on (a server built with ``pause=True``).
    Answer with ``answer(...)``: the :class:`Decision` (or, for keyboard-interactive, the
    next :class:`Challenge`). :class:`~ssh_auth.policies.PolicyAnswers` answers them all
    from a synchronous :class:`~ssh_auth.policy.AuthPolicy`."""

    username: str
    context: AuthContext


@dataclass(frozen=True, slots=True, eq=False)
class PasswordCheck(AuthCheck):
    """Is ``password`` right for ``username``? Answer a Decision."""

    password: str


@dataclass(frozen=True, slots=True, eq=False)
class PasswordChangeCheck(AuthCheck):
    """Check ``old_password`` and change it to ``new_password``. Answer a Decision."""

    old_password: str
    new_password: str


@dataclass(frozen=True, slots=True, eq=False)
class PublicKeyCheck(AuthCheck):
    """May ``key`` (a plain key or a user Certificate) log in? Answer a Decision. The core
    verifies the signature itself, whatever the answer."""

    key: PublicKey


@dataclass(frozen=True, slots=True, eq=False)
class HostbasedCheck(AuthCheck):
    """May ``client_user`` on ``client_host`` (proved with host ``key``) log in?"""

    key: PublicKey
    client_host: str
    client_user: str


@dataclass(frozen=True, slots=True, eq=False)
class KeyboardInteractiveStart(AuthCheck):
    """A keyboard-interactive attempt begins: answer the first :class:`Challenge`, a
    Decision, or None when the method is not available for this login."""

    submethods: str


@dataclass(frozen=True, slots=True, eq=False)
class KeyboardInteractiveReply(AuthCheck):
    """The client answered the last challenge: answer the next Challenge or a Decision."""

    responses: tuple[str, ...]


#: What each check may be answered with.
CheckAnswer = Decision | Challenge | None
