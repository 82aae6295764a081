"""The server's decisions, as a Protocol the application implements.

The policy's checks are synchronous calls (file lookups, hash checks). An
:class:`~ssh_auth.AuthServer` either calls them inline, or (``pause=True``) emits each
check as a pause event (:class:`~ssh_auth.events.AuthCheck`) and waits for its answer:
:class:`PolicyAnswers` answers those events from a policy, and the asyncio front end runs
it in a worker thread so scrypt, file reads and PAM never run on the event loop. An
application with asynchronous checks answers the events itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ssh_keys import Certificate, PublicKey

from .decisions import AuthContext, Challenge, Decision
from .events import (
    AuthCheck,
    CheckAnswer,
    HostbasedCheck,
    KeyboardInteractiveReply,
    KeyboardInteractiveStart,
    PasswordChangeCheck,
    PasswordCheck,
    PublicKeyCheck,
)

__all__ = ["AuthPolicy", "KeyboardInteractiveConversation", "BasePolicy", "PolicyAnswers"]


class KeyboardInteractiveConversation(Protocol):
    """One keyboard-interactive exchange (RFC 4256), driven round by round."""

    def start(self) -> Challenge | Decision:
        """The first round (or an immediate decision)."""
        ...

    def respond(self, responses: tuple[str, ...]) -> Challenge | Decision:
        """The client answered the last challenge (one response per prompt)."""
        ...


class AuthPolicy(Protocol):
    """Everything a server decides about user authentication.

    Unknown users must get the same answers as known ones (and cost the same work: run the
    password check against a dummy, answer keyboard-interactive with the same prompts).
    """

    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        """Method lists, any one of which completes authentication when all its methods
        succeed in order (sshd's AuthenticationMethods). ``[["publickey"], ["password"]]``
        takes either; ``[["publickey", "password"]]`` needs both; ``[[]]`` lets anyone in."""
        ...

    def banner(self, username: str) -> str | None:
        """Text sent as USERAUTH_BANNER before the first reply, or None."""
        ...

    def check_password(self, username: str, password: str, context: AuthContext) -> Decision: ...

    def change_password(
        self, username: str, old_password: str, new_password: str, context: AuthContext
    ) -> Decision:
        """Check ``old_password`` as :meth:`check_password` would before changing anything:
        a client may send a change request without having been asked for one."""
        ...

    def check_publickey(self, username: str, key: PublicKey, context: AuthContext) -> Decision:
        """May ``key`` (a plain key, never a certificate) log in as ``username``?"""
        ...

    def check_certificate(
        self, username: str, certificate: Certificate, context: AuthContext
    ) -> Decision:
        """May this user certificate log in as ``username``? The policy checks the CA,
        validity, principals and critical options (``Certificate.check``)."""
        ...

    def check_hostbased(
        self,
        username: str,
        key: PublicKey,
        client_host: str,
        client_user: str,
        context: AuthContext,
    ) -> Decision: ...

    def keyboard_interactive(
        self, username: str, submethods: str, context: AuthContext
    ) -> KeyboardInteractiveConversation | None:
        """A conversation for this login, or None when the method is not available."""
        ...


class BasePolicy:
    """An :class:`AuthPolicy` that refuses everything; override what you support."""

    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        return [["publickey"], ["password"], ["keyboard-interactive"]]

    def banner(self, username: str) -> str | None:
        return None

    def check_password(self, username: str, password: str, context: AuthContext) -> Decision:
        return Decision.reject("password authentication not supported")

    def change_password(
        self, username: str, old_password: str, new_password: str, context: AuthContext
    ) -> Decision:
        return Decision.reject("password change not supported")

    def check_publickey(self, username: str, key: PublicKey, context: AuthContext) -> Decision:
        return Decision.reject("public key authentication not supported")

    def check_certificate(
        self, username: str, certificate: Certificate, context: AuthContext
    ) -> Decision:
        return Decision.reject("certificates not supported")

    def check_hostbased(
        self,
        username: str,
        key: PublicKey,
        client_host: str,
        client_user: str,
        context: AuthContext,
    ) -> Decision:
        return Decision.reject("hostbased authentication not supported")

    def keyboard_interactive(
        self, username: str, submethods: str, context: AuthContext
    ) -> KeyboardInteractiveConversation | None:
        return None


class PolicyAnswers:
    """Answers one connection's :class:`~ssh_auth.events.AuthCheck` events from a
    synchronous :class:`AuthPolicy` (it keeps that login's keyboard-interactive
    conversation). Call it with the event; give the result to ``event.answer``."""

    def __init__(self, policy: AuthPolicy) -> None:
        self.policy = policy
        self._conversation: KeyboardInteractiveConversation | None = None

    def __call__(self, check: AuthCheck) -> CheckAnswer:
        policy, user, context = self.policy, check.username, check.context
        if isinstance(check, PasswordCheck):
            return policy.check_password(user, check.password, context)
        if isinstance(check, PasswordChangeCheck):
            return policy.change_password(user, check.old_password, check.new_password, context)
        if isinstance(check, PublicKeyCheck):
            if isinstance(check.key, Certificate):
                return policy.check_certificate(user, check.key, context)
            return policy.check_publickey(user, check.key, context)
        if isinstance(check, HostbasedCheck):
            return policy.check_hostbased(
                user, check.key, check.client_host, check.client_user, context
            )
        if isinstance(check, KeyboardInteractiveStart):
            self._conversation = policy.keyboard_interactive(user, check.submethods, context)
            return None if self._conversation is None else self._conversation.start()
        if isinstance(check, KeyboardInteractiveReply):
            if self._conversation is None:
                return Decision.reject("no keyboard-interactive conversation")
            return self._conversation.respond(check.responses)
        raise TypeError(f"not an authentication check: {check!r}")
